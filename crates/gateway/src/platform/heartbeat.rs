//! This instance's identity and heartbeat: each instance records that it is alive in the
//! `instances` table every `COLLOQUY_HEARTBEAT_SECS`, so `serverStatus` can list the instances
//! serving one PostgreSQL database (on SQLite there is one). One upsert per beat.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use persistence::Db;
use persistence::analytics;

/// This process as an instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub started_at: DateTime<Utc>,
}

static THIS: LazyLock<Instance> = LazyLock::new(|| Instance {
    id: core_domain::ids::new_id(),
    started_at: core_domain::time::now(),
});

/// This process's instance id and start.
pub fn this_instance() -> &'static Instance {
    &THIS
}

/// Records one beat.
pub async fn beat(db: &Db) {
    let me = this_instance();
    if let Err(error) =
        analytics::heartbeat(db.conn(), &me.id, env!("CARGO_PKG_VERSION"), me.started_at).await
    {
        tracing::warn!(%error, "cannot record this instance's heartbeat");
    }
}

/// Beats every `every`, for ever (the caller aborts it at shutdown).
pub async fn run(db: Db, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        beat(&db).await;
    }
}
