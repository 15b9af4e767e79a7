//! What the process-level tests (`crash.rs`, `shutdown.rs`) share: a `colloquy serve` process of
//! the built binary on a free port, waiting for it, GraphQL over HTTP to it, and single-value
//! reads of its database. Each test binary uses part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use persistence::sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TryGetable};
use serde_json::{Value, json};

/// A free local port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `colloquy serve` on `db` and `port`, with nothing inherited from this process's environment
/// but `PATH`, no seed, quiet logs, and `env` on top.
pub fn serve(db: &str, port: u16, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_colloquy"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db)
        .env("COLLOQUY_ADDR", format!("127.0.0.1:{port}"))
        .env("COLLOQUY_SEED", "false")
        .env("COLLOQUY_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start colloquy")
}

/// Waits (up to a minute) until the server on `port` answers `/readyz`.
pub async fn wait_ready(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `data` of a GraphQL request that must succeed.
pub async fn gql(
    http: &reqwest::Client,
    port: u16,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// The first column of the one row `sql` reads.
pub async fn one<T: TryGetable>(db: &DatabaseConnection, sql: &str) -> T {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<T>(0).unwrap()
}
