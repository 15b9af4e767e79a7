//! The end-to-end test harness: a real Colloquy server on an ephemeral port over a database of its
//! own, a GraphQL-over-HTTP client and a graphql-transport-ws client, so tests speak to the server
//! exactly as clients do.
//!
//! Every test runs twice through [`e2e!`]: on a temporary SQLite file, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set (a fresh database per test, created from a migrated template). Without
//! PostgreSQL those runs are skipped with one printed line; with `COLLOQUY_REQUIRE_POSTGRES=1` they
//! fail instead.

pub mod db;
pub mod ws;

use std::net::SocketAddr;

use gateway::config::Config;
use gateway::server::AppState;
use persistence::Db;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use db::{Backend, TestDb};
pub use ws::WsClient;

/// Runs a test body against SQLite and (when configured) PostgreSQL:
/// `e2e!(name, |app| async move { ... });`
#[macro_export]
macro_rules! e2e {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await;
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::TestApp::spawn_postgres().await else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

/// Like [`e2e!`] for tests that configure their server (`TestApp::spawn_with`): the body gets
/// the [`Backend`] and returns early when `spawn_with` answers None (PostgreSQL not configured).
#[macro_export]
macro_rules! e2e_backend {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Backend::Postgres).await;
            }
        }
    };
}

/// A signed-in user of a test server.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    shutdown: Option<oneshot::Sender<()>>,
    // Dropped last: the database outlives the server.
    _db: TestDb,
}

impl TestApp {
    /// A server on a fresh database of `backend` with the default test configuration.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {})
            .await
            .expect("backend available")
    }

    /// A PostgreSQL server, or None (after saying so once) when PostgreSQL is not configured.
    pub async fn spawn_postgres() -> Option<Self> {
        Self::spawn_with(Backend::Postgres, |_| {}).await
    }

    /// A server whose configuration `tweak` adjusts first. None when the backend is unavailable
    /// and not required.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let test_db = TestDb::create(backend).await?;
        let mut config = Config::for_tests(&test_db.url);
        tweak(&mut config);
        let db = gateway::app::connect(&config)
            .await
            .expect("connect and migrate the test database");
        let state = gateway::app::state(config, db).expect("app state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            let _ = gateway::app::run(serving, listener, async move {
                let _ = rx.await;
            })
            .await;
        });
        Some(Self {
            addr,
            http: reqwest::Client::new(),
            state,
            backend,
            shutdown: Some(tx),
            _db: test_db,
        })
    }

    pub fn db(&self) -> &Db {
        &self.state.services.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SQL statements the server has issued so far.
    pub fn sql_statements(&self) -> u64 {
        self.db().stats().statements()
    }

    /// POSTs a GraphQL request and returns the whole response body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        res.json().await.expect("a JSON response")
    }

    /// A GraphQL request that must succeed; returns `data`.
    pub async fn query(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.post(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// A GraphQL request that must fail; returns the first error's `extensions.code`.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let body = self.post(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {body:#}"))
            .to_owned()
    }

    /// Registers a user with a strong password and returns it signed in.
    pub async fn register(&self, email: &str) -> TestUser {
        let data = self
            .query(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id email } } }",
                json!({ "i": { "email": email, "password": "correct horse battery staple", "name": "Test" } }),
            )
            .await;
        TestUser {
            id: data["register"]["user"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
            email: data["register"]["user"]["email"]
                .as_str()
                .expect("email")
                .to_owned(),
            token: data["register"]["token"]
                .as_str()
                .expect("token")
                .to_owned(),
        }
    }

    /// Makes `user` an admin directly in the database (there is no API to bootstrap the first one).
    pub async fn promote(&self, user: &TestUser, role: core_domain::Role) {
        use sea_orm::{ActiveModelTrait, Set};
        let row = persistence::entity::users::ActiveModel {
            id: Set(user.id.clone()),
            role: Set(role.as_str().to_owned()),
            ..Default::default()
        };
        row.update(self.db().conn()).await.expect("promote user");
    }

    /// Creates a conversation owned by `user`; returns its id.
    pub async fn create_conversation(&self, user: &TestUser, title: &str) -> String {
        let data = self
            .query(
                Some(&user.token),
                "mutation($t: String) { createConversation(input: { title: $t }) { id } }",
                json!({ "t": title }),
            )
            .await;
        data["createConversation"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Adds a user message; returns its id.
    pub async fn add_message(
        &self,
        user: &TestUser,
        conversation_id: &str,
        content: &str,
    ) -> String {
        let data = self
            .query(
                Some(&user.token),
                "mutation($i: AddMessageInput!) { addMessage(input: $i) { id } }",
                json!({ "i": { "conversationId": conversation_id, "content": content } }),
            )
            .await;
        data["addMessage"]["id"].as_str().expect("id").to_owned()
    }

    /// Opens a graphql-transport-ws connection, signed in as `token` when given.
    pub async fn ws(&self, token: Option<&str>) -> WsClient {
        WsClient::connect(&format!("ws://{}/graphql/ws", self.addr), token).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
