//! The end-to-end tests' databases: through `test-db`, the workspace's one way to make a test
//! database. PostgreSQL test databases are created from a template migrated once per test process.

use persistence::{Db, DbConfig};

pub use test_db::{Backend, TestDb};

/// The template's name carries a digest of the migration list and of the checkout's path, so test
/// runs of other checkouts (worktrees sharing one PostgreSQL server) never drop or use each other's
/// template, whether or not their migrations differ.
fn template() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use migration::MigratorTrait;
        // FNV-1a: stable across builds and toolchains, unlike std's DefaultHasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let names = migration::Migrator::migrations();
        let names = names.iter().map(|m| m.name().to_owned());
        for name in names.chain(std::iter::once(env!("CARGO_MANIFEST_DIR").to_owned())) {
            for b in name.bytes().chain(std::iter::once(b'\n')) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("colloquy_test_template_{hash:016x}")
    })
}

/// A fresh database for one test: migrated on PostgreSQL (from the template); an empty SQLite
/// file, which the server migrates at start. None when PostgreSQL is not configured.
pub async fn create(backend: Backend) -> Option<TestDb> {
    TestDb::from_template(backend, template(), |url| async move {
        let mut config = DbConfig::new(url);
        config.max_connections = 2;
        let db = Db::connect(&config).await.expect("connect to the template");
        db.migrate_up(None).await.expect("migrate the template");
        db.conn().clone().close().await.expect("close the template");
    })
    .await
}
