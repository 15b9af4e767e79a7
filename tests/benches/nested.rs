//! `just bench`: the nested read of DESIGN.md §8 — 50 users → 10 conversations each → 20
//! messages each — through the GraphQL schema, against the same rows read with hand-written SQL
//! (three statements, the minimum) on the same database. Prints the median of each, their ratio
//! (the budget is 1.5×), and the statements the GraphQL read issued. Runs on SQLite, and on
//! PostgreSQL too when TEST_DATABASE_URL is set.

use std::time::{Duration, Instant};

use colloquy_tests::Backend;
use core_domain::Actor;
use core_domain::enums::{MessageRole, MessageStatus, Role};
use gateway::accounts::Caller;
use gateway::graphql::context::Loaders;
use gateway::graphql::context::RequestContext;
use gateway::platform::config::Config;
use persistence::conversations::{self, NewConversation};
use persistence::messages::{self, NewMessage};
use persistence::users::{self, NewUser};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

const USERS: usize = 50;
const CONVERSATIONS: usize = 10;
const MESSAGES: usize = 20;
const ROUNDS: usize = 30;

const QUERY: &str = "{ users(first: 50) { edges { node { id email name conversations(first: 10) { edges { node { id title model messages(first: 20) { edges { node { id role content status createdAt } } } } } } } } } }";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run(Backend::Sqlite).await;
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        run(Backend::Postgres).await;
    } else {
        println!("postgres: skipped (TEST_DATABASE_URL is not set)");
    }
}

async fn run(backend: Backend) {
    let Some(test_db) = colloquy_tests::db::create(backend).await else {
        return;
    };
    let config = Config::for_tests(&test_db.url);
    let db = gateway::app::connect(&config)
        .await
        .expect("migrated database");
    let label = format!("{backend:?}").to_lowercase();
    print!(
        "{label}: loading {USERS} users × {CONVERSATIONS} conversations × {MESSAGES} messages … "
    );
    let admin = users::create(
        db.conn(),
        NewUser {
            email: Some("bench-admin@example.com".into()),
            name: None,
            password_hash: None,
            role: Role::Admin,
        },
    )
    .await
    .expect("admin");
    for u in 0..USERS - 1 {
        let user = users::create(
            db.conn(),
            NewUser {
                email: Some(format!("u{u}@example.com")),
                name: Some(format!("User {u}")),
                password_hash: None,
                role: Role::User,
            },
        )
        .await
        .expect("user");
        for c in 0..CONVERSATIONS {
            let conv = conversations::create(
                db.conn(),
                NewConversation {
                    user_id: Some(user.id.clone()),
                    title: Some(format!("c{c}")),
                    model: Some("local-echo".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("conversation");
            let batch = (0..MESSAGES)
                .map(|m| NewMessage {
                    conversation_id: conv.id.clone(),
                    user_id: None,
                    parent_id: None,
                    role: if m % 2 == 0 {
                        MessageRole::User
                    } else {
                        MessageRole::Assistant
                    },
                    content: format!(
                        "message {m} of a benchmark conversation with some words in it"
                    ),
                    status: MessageStatus::Complete,
                    model: None,
                    provider: None,
                })
                .collect();
            messages::append(db.conn(), batch).await.expect("messages");
        }
    }
    println!("done");

    let state = gateway::app::state(config, db.clone()).expect("app state");
    let caller = Caller {
        actor: Actor::new(admin.id.clone(), Role::Admin),
        session_id: None,
        scopes: None,
        token_id: None,
    };
    let graphql_once = || {
        let request = async_graphql::Request::new(QUERY)
            .data(RequestContext {
                caller: Some(caller.clone()),
                origin: Default::default(),
            })
            .data(Loaders::new(&db));
        let schema = state.schema.clone();
        async move {
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            response
        }
    };
    // Warm up both paths and check they read the same number of messages.
    let before = db.stats().statements();
    let response = graphql_once().await;
    let statements = db.stats().statements() - before;
    let json = response.data.into_json().expect("json");
    let graphql_messages: usize = json["users"]["edges"]
        .as_array()
        .expect("users")
        .iter()
        .flat_map(|u| {
            u["node"]["conversations"]["edges"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            c["node"]["messages"]["edges"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    let sql_messages = hand_written(&db).await;
    assert_eq!(
        graphql_messages, sql_messages,
        "both paths read the same rows"
    );

    let graphql = median(ROUNDS, graphql_once).await;
    let stores = median(ROUNDS, || stores_only(&db)).await;
    let sql = median(ROUNDS, || hand_written(&db)).await;
    let ratio = graphql.as_secs_f64() / sql.as_secs_f64();
    println!(
        "{label}: nested read of {sql_messages} messages: GraphQL {:.2} ms ({statements} statements) vs hand-written SQL {:.2} ms (3 statements): {ratio:.2}× (budget 1.5×){}",
        graphql.as_secs_f64() * 1e3,
        sql.as_secs_f64() * 1e3,
        if ratio <= 1.5 { "" } else { "  OVER BUDGET" },
    );
    println!(
        "{label}:   of which the same three reads through the stores (SeaORM, full rows): {:.2} ms ({:.2}× the hand-written SQL); the rest is GraphQL execution",
        stores.as_secs_f64() * 1e3,
        stores.as_secs_f64() / sql.as_secs_f64(),
    );
}

/// The three batched reads the loaders issue, called directly: the persistence layer's share.
async fn stores_only(db: &persistence::Db) -> usize {
    use core_domain::pagination::PageArgs;
    let users = users::page(db.conn(), &PageArgs::first(50))
        .await
        .expect("users");
    let user_ids: Vec<String> = users.items.iter().map(|u| u.id.clone()).collect();
    let convs = conversations::pages_for_users(
        db.conn(),
        &user_ids,
        &Default::default(),
        Default::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("conversations");
    let conv_ids: Vec<String> = convs
        .values()
        .flat_map(|p| p.items.iter().map(|c| c.id.clone()))
        .collect();
    let msgs = messages::pages_for_conversations(
        db.conn(),
        &conv_ids,
        &Default::default(),
        Default::default(),
        &PageArgs::first(20),
    )
    .await
    .expect("messages");
    msgs.values().map(|p| p.items.len()).sum()
}

async fn median<F, Fut, T>(rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        std::hint::black_box(f().await);
        times.push(start.elapsed());
    }
    times.sort();
    times[rounds / 2]
}

fn placeholders(backend: DbBackend, from: usize, n: usize) -> String {
    (0..n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${}", from + i),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The same read as three hand-written statements, decoding the same columns. Returns the number
/// of messages read.
async fn hand_written(db: &persistence::Db) -> usize {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let users = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, email, name FROM users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 51",
        ))
        .await
        .expect("users");
    let user_ids: Vec<String> = users
        .iter()
        .map(|r| r.try_get::<String>("", "id").expect("id"))
        .collect();
    for r in &users {
        let _: (Option<String>, Option<String>) = (
            r.try_get("", "email").expect("email"),
            r.try_get("", "name").expect("name"),
        );
    }
    let sql = format!(
        "SELECT * FROM (SELECT id, user_id, title, model, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY updated_at DESC, id DESC) AS rn \
         FROM conversations WHERE deleted_at IS NULL AND user_id IN ({})) t WHERE rn <= 11",
        placeholders(backend, 1, user_ids.len())
    );
    let values: Vec<Value> = user_ids.iter().map(|s| s.clone().into()).collect();
    let convs = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("conversations");
    let conv_ids: Vec<String> = convs
        .iter()
        .map(|r| r.try_get::<String>("", "id").expect("id"))
        .collect();
    for r in &convs {
        let _: (String, Option<String>) = (
            r.try_get("", "title").expect("title"),
            r.try_get("", "model").expect("model"),
        );
    }
    let sql = format!(
        "SELECT * FROM (SELECT id, conversation_id, role, content, status, created_at, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY created_at, id) AS rn \
         FROM messages WHERE conversation_id IN ({})) t WHERE rn <= 21",
        placeholders(backend, 1, conv_ids.len())
    );
    let values: Vec<Value> = conv_ids.iter().map(|s| s.clone().into()).collect();
    let msgs = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("messages");
    let mut n = 0;
    for r in &msgs {
        let _: (String, String, String, chrono::DateTime<chrono::Utc>) = (
            r.try_get("", "role").expect("role"),
            r.try_get("", "content").expect("content"),
            r.try_get("", "status").expect("status"),
            r.try_get("", "created_at").expect("created_at"),
        );
        if r.try_get::<i64>("", "rn").expect("rn") <= 20 {
            n += 1;
        }
    }
    n
}
