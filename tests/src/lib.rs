//! The end-to-end test harness: a real Colloquy server on an ephemeral port over a database of its
//! own, a GraphQL-over-HTTP client and a graphql-transport-ws client, so tests speak to the server
//! exactly as clients do.
//!
//! Every test runs twice through [`e2e!`]: on a temporary SQLite file, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set (a fresh database per test, created from a migrated template). Without
//! PostgreSQL those runs are skipped with one printed line; with `COLLOQUY_REQUIRE_POSTGRES=1` they
//! fail instead.

pub mod db;
pub mod s3;
pub mod ws;

use std::net::SocketAddr;

use gateway::http::AppState;
use gateway::platform::config::Config;
use persistence::Db;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use db::{Backend, TestDb};
pub use test_db::backend_tests;
pub use ws::WsClient;

/// Runs a test body against SQLite and (when configured) PostgreSQL:
/// `e2e!(name, |app| async move { ... });`
#[macro_export]
macro_rules! e2e {
    ($name:ident, $body:expr) => {
        $crate::e2e_backend!($name, |backend| async move {
            let Some(app) = $crate::TestApp::spawn_with(backend, |_| {}).await else {
                return;
            };
            ($body)(app).await;
        });
    };
}

/// Like [`e2e!`] for tests that configure their server (`TestApp::spawn_with`): the body gets
/// the [`Backend`] and returns early when `spawn_with` answers None (PostgreSQL not configured).
/// The one backend macro of the workspace (`test_db::backend_tests!`), under the e2e name.
#[macro_export]
macro_rules! e2e_backend {
    ($name:ident, $body:expr) => {
        $crate::backend_tests!($name, $body);
    };
}

pub use gateway::graphql::ids::Kind;

/// A signed-in user of a test server.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The database id, for setting up rows directly through the stores.
    pub db_id: String,
    /// The global id (`User:<db_id>`, encoded), as the API shows and takes it.
    pub global_id: String,
    pub email: String,
    pub token: String,
}

impl TestUser {
    /// A user signed in with `token` whose API id is `global_id`.
    pub fn new(global_id: &str, email: &str, token: &str) -> Self {
        TestUser {
            db_id: raw_id(global_id),
            global_id: global_id.to_owned(),
            email: email.to_owned(),
            token: token.to_owned(),
        }
    }
}

/// The global id the API uses for the `kind` record whose database id is `raw`.
pub fn gid(kind: Kind, raw: &str) -> String {
    gateway::graphql::ids::encode(kind, raw).0
}

/// The database id inside a global id from the API (panics on anything else).
pub fn raw_id(global: &str) -> String {
    gateway::graphql::ids::parse(global, "id")
        .unwrap_or_else(|e| panic!("{global:?} is not a global id: {}", e.message()))
        .1
}

/// Waits (up to 10 s) for `n` live `messageAdded` subscriptions on the instance of `state`.
async fn wait_for_subscribers(state: &AppState, n: usize) {
    let events = state.services.conversations.events();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.message_subscribers() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} messageAdded subscriptions did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Another instance over a [`TestApp`]'s database; stops when dropped.
pub struct Peer {
    pub addr: SocketAddr,
    pub state: AppState,
    _shutdown: oneshot::Sender<()>,
}

impl Peer {
    /// See [`TestApp::wait_for_message_subscribers`].
    pub async fn wait_for_message_subscribers(&self, n: usize) {
        wait_for_subscribers(&self.state, n).await;
    }
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
        let test_db = db::create(backend).await?;
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
        // On PostgreSQL no caller is kept in memory until the event listener is subscribed (see
        // `gateway::accounts::callers`): tests that count statements start once it is.
        state.services.conversations.events().listening().await;
        Some(Self {
            addr,
            http: reqwest::Client::new(),
            state,
            backend,
            shutdown: Some(tx),
            _db: test_db,
        })
    }

    /// A second gateway instance over the same database, as a multi-instance deployment runs it.
    /// It skips `app::connect`'s start-up sweep: a peer starting must not be taken for a restart.
    pub async fn spawn_peer(&self) -> Peer {
        let config = (*self.state.services.config).clone();
        let db = Db::connect(&config.database)
            .await
            .expect("connect the peer");
        let state = gateway::app::state(config, db).expect("peer state");
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
        Peer {
            addr,
            state,
            _shutdown: tx,
        }
    }

    /// Waits (up to 10 s) until `n` `messageAdded` subscriptions are live on this instance, so a
    /// test publishes only once its subscribers can hear it.
    pub async fn wait_for_message_subscribers(&self, n: usize) {
        wait_for_subscribers(&self.state, n).await;
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
        let text = self.post_text(token, query, variables).await;
        serde_json::from_str(&text).expect("a JSON response")
    }

    /// POSTs a GraphQL request and returns the response body exactly as sent (key order and
    /// bytes, which a parsed `Value` does not keep).
    pub async fn post_text(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        res.text().await.expect("a response body")
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
        TestUser::new(
            data["register"]["user"]["id"].as_str().expect("id"),
            data["register"]["user"]["email"].as_str().expect("email"),
            data["register"]["token"].as_str().expect("token"),
        )
    }

    /// Makes `user` an admin directly in the database (there is no API to bootstrap the first one),
    /// and says so on the event bus as `setUserRole` does: without it the server would serve the
    /// user's token with its old role until the caller it keeps in memory ends (seconds).
    pub async fn promote(&self, user: &TestUser, role: core_domain::Role) {
        use sea_orm::{ActiveModelTrait, Set};
        let row = persistence::entity::users::ActiveModel {
            id: Set(user.db_id.clone()),
            role: Set(role.into()),
            ..Default::default()
        };
        row.update(self.db().conn()).await.expect("promote user");
        self.state.services.conversations.events().publish_auth(
            gateway::platform::events::AuthEvent::UserChanged {
                user_id: user.db_id.clone(),
            },
        );
    }

    /// Creates a conversation owned by `user`; returns its global id.
    pub async fn create_conversation(&self, user: &TestUser, title: &str) -> String {
        let data = self
            .query(
                Some(&user.token),
                "mutation($t: String) { createConversation(input: { title: $t }) { conversation { id } } }",
                json!({ "t": title }),
            )
            .await;
        data["createConversation"]["conversation"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Adds a user message to the conversation `conversation_id` (a global id); returns the
    /// message's global id.
    pub async fn add_message(
        &self,
        user: &TestUser,
        conversation_id: &str,
        content: &str,
    ) -> String {
        let data = self
            .query(
                Some(&user.token),
                "mutation($i: AddMessageInput!) { addMessage(input: $i) { message { id } } }",
                json!({ "i": { "conversationId": conversation_id, "content": content } }),
            )
            .await;
        data["addMessage"]["message"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
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
