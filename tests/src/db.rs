//! One database per test. SQLite: a file in a temporary directory. PostgreSQL: a database
//! `CREATE`d from a template that is migrated once per test process, so each test pays for a file
//! copy, not for the migrations; it is dropped when the test ends.

use std::io::Write;
use std::sync::Once;

use persistence::{Db, DbConfig};
use sea_orm::ConnectionTrait;
use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// The template's name carries a digest of the migration list, so test runs of branches with
/// different migrations (sharing one PostgreSQL server) never drop or use each other's template.
fn template() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use migration::MigratorTrait;
        // FNV-1a: stable across builds and toolchains, unlike std's DefaultHasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for m in migration::Migrator::migrations() {
            for b in m.name().bytes().chain(std::iter::once(b'\n')) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("colloquy_test_template_{hash:016x}")
    })
}

static TEMPLATE_READY: OnceCell<()> = OnceCell::const_new();
static SKIP_NOTICE: Once = Once::new();

/// `TEST_DATABASE_URL`, or None after printing once that PostgreSQL runs are skipped. With
/// `COLLOQUY_REQUIRE_POSTGRES=1`, a missing URL fails the test instead.
fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Some(url),
        None => {
            if std::env::var("COLLOQUY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("COLLOQUY_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
            }
            SKIP_NOTICE.call_once(|| {
                // Written past libtest's capture on purpose: one visible line per run.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: PostgreSQL end-to-end runs skipped: TEST_DATABASE_URL is not set"
                );
            });
            None
        }
    }
}

/// The URL of database `name` on the server of `url`.
fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn admin(url: &str) -> Db {
    let mut config = DbConfig::new(url);
    config.max_connections = 2;
    Db::connect(&config)
        .await
        .expect("connect to TEST_DATABASE_URL")
}

/// (Re)creates and migrates the template once per process. A PostgreSQL advisory lock keeps two
/// test processes from rebuilding it at the same moment.
async fn ensure_template(admin_url: &str) {
    TEMPLATE_READY
        .get_or_init(|| async {
            let db = admin(admin_url).await;
            let conn = db.conn();
            conn.execute_unprepared("SELECT pg_advisory_lock(727274)")
                .await
                .expect("advisory lock");
            conn.execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                template()
            ))
            .await
            .expect("drop template");
            conn.execute_unprepared(&format!("CREATE DATABASE {}", template()))
                .await
                .expect("create template");
            {
                let template = admin(&with_database(admin_url, template())).await;
                template
                    .migrate_up(None)
                    .await
                    .expect("migrate the template");
                template
                    .conn()
                    .clone()
                    .close()
                    .await
                    .expect("close template pool");
            }
            conn.execute_unprepared("SELECT pg_advisory_unlock(727274)")
                .await
                .expect("advisory unlock");
        })
        .await;
}

impl TestDb {
    /// A fresh database, or None when `backend` is PostgreSQL and it is not configured.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    kind: Kind::Sqlite(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_url()?;
                ensure_template(&admin_url).await;
                let name = format!("colloquy_test_{}", cuid2::create_id());
                let db = admin(&admin_url).await;
                db.conn()
                    .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {}", template()))
                    .await
                    .expect("create the test database from the template");
                db.conn().clone().close().await.ok();
                Some(Self {
                    url: with_database(&admin_url, &name),
                    kind: Kind::Postgres { admin_url, name },
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a thread with its own runtime can block on it.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let db = admin(&admin_url).await;
                    let _ = db
                        .conn()
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                });
            })
            .join();
        }
    }
}
