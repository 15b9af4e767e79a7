//! `batch::pages_by_parent` against the `ROW_NUMBER() OVER (PARTITION BY ...)` form it replaced:
//! the same pages for many parents, every ordering, both directions, cursors, filters, empty and
//! unknown parents, in exactly one statement, on SQLite always and on PostgreSQL when
//! `TEST_DATABASE_URL` is set (required with `COLLOQUY_REQUIRE_POSTGRES=1`).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration, TimeZone, Utc};
use core_domain::enums::{ConversationStatus, MessageRole};
use core_domain::pagination::{PageArgs, PageDirection};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, WindowStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, Database, EntityTrait, FromQueryResult,
    QueryFilter, QueryTrait, Select,
};

use super::{Cursor, Keyset, batch};
use crate::conversations::{self, ConversationFilter, ConversationOrder};
use crate::entity::{conversations as conv, messages as msg, users};
use crate::messages::{self, MessageFilter, MessageOrder};
use crate::{Db, DbConfig, Page, StoreError};

/// The implementation `pages_by_parent` replaced, kept as the oracle: every child of every
/// parent numbered by `ROW_NUMBER()`, the first `size + 1` of each kept.
async fn window_pages<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: C,
    parents: &[String],
    keyset: &Keyset<C>,
    args: &PageArgs,
    parent_of: impl Fn(&E::Model) -> &str,
) -> Result<HashMap<String, Page<E::Model>>, StoreError>
where
    E: EntityTrait<Column = C>,
    C: ColumnTrait,
    E::Model: FromQueryResult,
{
    let mut pages: HashMap<String, Page<E::Model>> = HashMap::new();
    if parents.is_empty() {
        return Ok(pages);
    }
    let ascending = keyset.reads_ascending(args.direction);
    let order = if ascending {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    let mut select = select.filter(parent.is_in(parents.iter().cloned()));
    if let Some(text) = &args.cursor {
        let cursor = Cursor::decode(text, keyset.name)?;
        select = select.filter(keyset.after(&cursor, ascending));
    }
    let mut inner = select.into_query();
    inner.expr_window_as(
        Expr::cust("ROW_NUMBER()"),
        WindowStatement::partition_by(parent)
            .order_by(keyset.at, order.clone())
            .order_by(keyset.id, order)
            .to_owned(),
        Alias::new("page_rank"),
    );
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("page_rank")).lte(args.size + 1))
        .order_by(Alias::new("page_rank"), sea_orm::Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&outer);
    let rows = E::find().from_raw_sql(statement).all(db).await?;
    let mut grouped: HashMap<String, Vec<E::Model>> = HashMap::new();
    for row in rows {
        grouped
            .entry(parent_of(&row).to_owned())
            .or_default()
            .push(row);
    }
    for id in parents {
        // (The original gave a repeated parent an empty page the second time round.)
        if let Some(rows) = grouped.remove(id) {
            pages.insert(id.clone(), Keyset::<C>::page(args, rows));
        } else {
            pages
                .entry(id.clone())
                .or_insert_with(|| Keyset::<C>::page(args, Vec::new()));
        }
    }
    Ok(pages)
}

/// A message as a listing needs it: what `pages_by_parent_columns` decodes into.
#[derive(Debug, FromQueryResult)]
struct LeanMessage {
    id: String,
    conversation_id: String,
    content: String,
    created_at: DateTime<Utc>,
}

/// A fresh migrated SQLite file, kept alive by the returned directory.
async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("batch.db").display()
    );
    let db = Db::connect(&DbConfig::new(url)).await.unwrap();
    db.migrate_up(None).await.unwrap();
    (dir, db)
}

/// A fresh migrated PostgreSQL database on the server of `TEST_DATABASE_URL`, and a closure
/// that drops it; None (after saying so) when the variable is unset, unless
/// `COLLOQUY_REQUIRE_POSTGRES=1`, which makes that a failure.
async fn postgres() -> Option<(Db, String, String)> {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("COLLOQUY_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "COLLOQUY_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set"
        );
        println!("TEST_DATABASE_URL is not set: skipping the PostgreSQL run");
        return None;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("batch_{}_{nanos}", std::process::id());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (base, rest) = admin_url.rsplit_once('/').unwrap();
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let db = Db::connect(&DbConfig::new(format!("{base}/{name}{query}")))
        .await
        .unwrap();
    db.migrate_up(None).await.unwrap();
    Some((db, admin_url, name))
}

async fn drop_postgres(db: Db, admin_url: &str, name: &str) {
    db.conn().clone().close().await.unwrap();
    let admin = Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Users `u00`..`u39`: user `i` has a varying number of conversations (none for some, more than
/// a page for others), some deleted, some archived, with repeated timestamps so that ids break
/// ties; each conversation has 0..30 messages, again with repeated timestamps.
async fn load(db: &Db) -> (Vec<String>, Vec<String>) {
    let conn = db.conn();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rng = Lcg(7);
    let user_ids: Vec<String> = (0..40).map(|i| format!("u{i:02}")).collect();
    users::Entity::insert_many(user_ids.iter().map(|id| users::ActiveModel {
        id: Set(id.clone()),
        email: Set(Some(format!("{id}@example.com"))),
        role: Set(core_domain::enums::Role::User.into()),
        is_active: Set(true),
        disclaimer_accepted: Set(false),
        created_at: Set(base),
        updated_at: Set(base),
        ..Default::default()
    }))
    .exec(conn)
    .await
    .unwrap();

    let mut conversation_ids = Vec::new();
    let mut conversations = Vec::new();
    for (u, user) in user_ids.iter().enumerate() {
        let n = if u % 7 == 3 { 0 } else { rng.below(16) };
        for c in 0..n {
            let id = format!("c{u:02}_{c:02}");
            let at = |rng: &mut Lcg| base + Duration::seconds(i64::try_from(rng.below(6)).unwrap());
            let created = at(&mut rng);
            let status = if rng.below(4) == 0 {
                ConversationStatus::Completed
            } else {
                ConversationStatus::Active
            };
            conversations.push(conv::ActiveModel {
                id: Set(id.clone()),
                user_id: Set(Some(user.clone())),
                invitation_id: Set(None),
                scenario_id: Set(None),
                persona_id: Set(None),
                room_id: Set(None),
                project_id: Set(None),
                title: Set(if c % 3 == 0 {
                    format!("Garden talk {c}")
                } else {
                    format!("Other {c}")
                }),
                title_is_custom: Set(false),
                model: Set(Some("local-echo".to_owned())),
                system_prompt: Set(None),
                status: Set(status.into()),
                started_at: Set(created),
                ended_at: Set(None),
                total_messages: Set(0),
                duration_seconds: Set(None),
                active_since: Set(None),
                metadata: Set(None),
                created_at: Set(created),
                updated_at: Set(created + Duration::seconds(i64::try_from(rng.below(4)).unwrap())),
                deleted_at: Set((rng.below(9) == 0).then_some(created)),
            });
            conversation_ids.push(id);
        }
    }
    conv::Entity::insert_many(conversations)
        .exec(conn)
        .await
        .unwrap();

    let mut batch = Vec::new();
    for (i, conversation) in conversation_ids.iter().enumerate() {
        let n = if i % 5 == 1 { 0 } else { rng.below(30) };
        for m in 0..n {
            let at = base + Duration::milliseconds(i64::try_from(rng.below(12)).unwrap());
            batch.push(msg::ActiveModel {
                id: Set(format!("{conversation}_m{m:02}")),
                conversation_id: Set(conversation.clone()),
                user_id: Set(None),
                parent_id: Set(None),
                role: Set(if rng.below(2) == 0 {
                    MessageRole::User
                } else {
                    MessageRole::Assistant
                }
                .into()),
                content: Set(format!("message {m}")),
                status: Set(core_domain::enums::MessageStatus::Complete.into()),
                error: Set(None),
                model: Set(None),
                provider: Set(None),
                input_tokens: Set(None),
                output_tokens: Set(None),
                audio_url: Set(None),
                metadata: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            });
            if batch.len() == 200 {
                msg::Entity::insert_many(std::mem::take(&mut batch))
                    .exec(conn)
                    .await
                    .unwrap();
            }
        }
    }
    if !batch.is_empty() {
        msg::Entity::insert_many(batch).exec(conn).await.unwrap();
    }
    (user_ids, conversation_ids)
}

/// Page arguments to try: sizes 0, 1, 3 and 12 forwards and backwards, without a cursor and
/// with cursors at the given positions.
fn arg_sets(ordering: &str, positions: &[(DateTime<Utc>, String)]) -> Vec<PageArgs> {
    let mut out = Vec::new();
    for size in [0, 1, 3, 12] {
        for direction in [PageDirection::Forward, PageDirection::Backward] {
            out.push(PageArgs {
                direction,
                size,
                cursor: None,
            });
            for (at, id) in positions {
                out.push(PageArgs {
                    direction,
                    size,
                    cursor: Some(
                        Cursor {
                            at: *at,
                            id: id.clone(),
                        }
                        .encode(ordering),
                    ),
                });
            }
        }
    }
    out
}

fn summary<T, K: std::fmt::Debug>(
    pages: &HashMap<String, Page<T>>,
    key: impl Fn(&T) -> K,
) -> Vec<(String, Vec<K>, bool, bool)> {
    let mut out: Vec<_> = pages
        .iter()
        .map(|(parent, p)| {
            (
                parent.clone(),
                p.items.iter().map(&key).collect(),
                p.has_next_page,
                p.has_previous_page,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Runs `pages_by_parent` (through the stores) and the window oracle on every combination and
/// compares the pages; counts the statements of the new form.
async fn same_pages_as_the_window_form(db: &Db) {
    let conn = db.conn();
    let (user_ids, conversation_ids) = load(db).await;
    let mut parents = user_ids.clone();
    parents.push("nobody".to_owned());
    parents.push(user_ids[5].clone()); // a repeat

    let all_conversations = conv::Entity::find().all(conn).await.unwrap();
    let mut checked = 0;
    let conversation_filters = [
        ConversationFilter::default(),
        ConversationFilter {
            status: Some(vec![ConversationStatus::Active]),
            ..Default::default()
        },
        ConversationFilter {
            title_contains: Some("garden".to_owned()),
            ..Default::default()
        },
    ];
    for order in [
        ConversationOrder::CreatedAsc,
        ConversationOrder::CreatedDesc,
        ConversationOrder::UpdatedAsc,
        ConversationOrder::UpdatedDesc,
    ] {
        let keyset = order.keyset();
        let positions: Vec<(DateTime<Utc>, String)> = [3usize, 40, 77]
            .iter()
            .filter_map(|&i| all_conversations.get(i % all_conversations.len()))
            .map(|c| (order.cursor_at(c), c.id.clone()))
            .collect();
        for filter in &conversation_filters {
            for args in arg_sets(keyset.name, &positions) {
                let before = db.stats().statements();
                let new = conversations::pages_for_users(conn, &parents, filter, order, &args)
                    .await
                    .unwrap();
                assert_eq!(
                    db.stats().statements() - before,
                    1,
                    "one statement for {} parents",
                    parents.len()
                );
                let old = window_pages(
                    conn,
                    conversations::filtered(filter),
                    conv::Column::UserId,
                    &parents,
                    &keyset,
                    &args,
                    |c: &conv::Model| c.user_id.as_deref().unwrap_or_default(),
                )
                .await
                .unwrap();
                let key = |c: &conv::Model| c.id.clone();
                assert_eq!(
                    summary(&new, key),
                    summary(&old, key),
                    "conversations {order:?} {filter:?} {args:?}"
                );
                assert_eq!(new.len(), user_ids.len() + 1, "every parent has a page");
                assert!(new["nobody"].items.is_empty());
                checked += 1;
            }
        }
    }

    let all_messages = msg::Entity::find().all(conn).await.unwrap();
    let mut parents = conversation_ids.clone();
    parents.push("no-such-conversation".to_owned());
    let message_filters = [
        MessageFilter::default(),
        MessageFilter {
            roles: Some(vec![MessageRole::Assistant]),
            statuses: None,
        },
    ];
    for order in [MessageOrder::CreatedAsc, MessageOrder::CreatedDesc] {
        let keyset = order.keyset();
        let positions: Vec<(DateTime<Utc>, String)> = [11usize, 200]
            .iter()
            .filter_map(|&i| all_messages.get(i % all_messages.len()))
            .map(|m| (m.created_at, m.id.clone()))
            .collect();
        for filter in &message_filters {
            for args in arg_sets(keyset.name, &positions) {
                let before = db.stats().statements();
                let new = messages::pages_for_conversations(conn, &parents, filter, order, &args)
                    .await
                    .unwrap();
                assert_eq!(db.stats().statements() - before, 1);
                let old = window_pages(
                    conn,
                    messages::filtered(filter),
                    msg::Column::ConversationId,
                    &parents,
                    &keyset,
                    &args,
                    |m: &msg::Model| m.conversation_id.as_str(),
                )
                .await
                .unwrap();
                let key = |m: &msg::Model| m.id.clone();
                assert_eq!(
                    summary(&new, key),
                    summary(&old, key),
                    "messages {order:?} {filter:?} {args:?}"
                );
                assert_eq!(new.len(), parents.len());
                checked += 1;
            }
        }
    }
    // Lean rows: the same pages with only the asked columns, and nothing else in the statement.
    for order in [MessageOrder::CreatedAsc, MessageOrder::CreatedDesc] {
        for args in arg_sets(order.keyset().name, &[]) {
            let lean = batch::pages_by_parent_columns(
                conn,
                messages::filtered(&MessageFilter::default()),
                &[msg::Column::Content],
                msg::Column::ConversationId,
                &parents,
                &order.keyset(),
                &args,
                |m: &LeanMessage| m.conversation_id.as_str(),
            )
            .await
            .unwrap();
            let full = messages::pages_for_conversations(
                conn,
                &parents,
                &MessageFilter::default(),
                order,
                &args,
            )
            .await
            .unwrap();
            assert_eq!(
                summary(&lean, |m| (m.id.clone(), m.content.clone(), m.created_at)),
                summary(&full, |m| (m.id.clone(), m.content.clone(), m.created_at)),
                "lean {order:?} {args:?}"
            );
        }
    }
    let lean_sql = batch::statement(
        conn.get_database_backend(),
        msg::Entity::find(),
        Some(&[msg::Column::Content, msg::Column::Id]),
        msg::Column::ConversationId,
        &parents,
        &MessageOrder::CreatedAsc.keyset(),
        &PageArgs::first(20),
    )
    .unwrap()
    .sql;
    assert!(
        lean_sql.contains("\"content\"")
            && !lean_sql.contains("metadata")
            && !lean_sql.contains("\"role\""),
        "{lean_sql}"
    );

    // The combinations above include non-empty pages with more to come, backward pages and
    // cursor pages; make sure the data set really produced them.
    let full = messages::pages_for_conversations(
        conn,
        &conversation_ids,
        &MessageFilter::default(),
        MessageOrder::CreatedAsc,
        &PageArgs::first(3),
    )
    .await
    .unwrap();
    assert!(full.values().any(|p| p.has_next_page));
    assert!(full.values().any(|p| p.items.is_empty()));
    assert!(checked > 300, "{checked} combinations");
}

/// One statement for one parent and for many, with the same text, and none for no parents.
async fn one_statement_whatever_the_parents(db: &Db) {
    let conn = db.conn();
    let (user_ids, _) = load(db).await;
    let args = PageArgs::first(10);
    let before = db.stats().statements();
    let empty = conversations::pages_for_users(
        conn,
        &[],
        &ConversationFilter::default(),
        ConversationOrder::default(),
        &args,
    )
    .await
    .unwrap();
    assert!(empty.is_empty());
    assert_eq!(db.stats().statements(), before, "no parents, no statement");

    let keyset = ConversationOrder::default().keyset();
    let text = |parents: &[String]| {
        batch::statement(
            conn.get_database_backend(),
            conv::Entity::find(),
            None,
            conv::Column::UserId,
            parents,
            &keyset,
            &args,
        )
        .unwrap()
        .sql
    };
    let sql = text(&user_ids);
    println!("{sql}");
    assert_eq!(
        text(&user_ids[..1]),
        sql,
        "the text does not depend on the parents"
    );
    match conn.get_database_backend() {
        sea_orm::DbBackend::Postgres => assert!(
            sql.starts_with("SELECT \"t\".* FROM unnest($") && sql.contains("CROSS JOIN LATERAL"),
            "{sql}"
        ),
        _ => assert!(
            sql.starts_with("SELECT \"t\".* FROM json_each(?)") && sql.contains(".rowid IN ("),
            "{sql}"
        ),
    }

    let many: Vec<String> = (0..5000).map(|i| format!("x{i}")).chain(user_ids).collect();
    let before = db.stats().statements();
    let pages = conversations::pages_for_users(
        conn,
        &many,
        &ConversationFilter::default(),
        ConversationOrder::default(),
        &args,
    )
    .await
    .unwrap();
    assert_eq!(db.stats().statements() - before, 1);
    assert_eq!(pages.len(), many.len());
}

#[tokio::test]
async fn pages_by_parent_matches_the_window_form_on_sqlite() {
    let (_dir, db) = sqlite().await;
    same_pages_as_the_window_form(&db).await;
}

#[tokio::test]
async fn pages_by_parent_matches_the_window_form_on_postgres() {
    let Some((db, admin_url, name)) = postgres().await else {
        return;
    };
    same_pages_as_the_window_form(&db).await;
    drop_postgres(db, &admin_url, &name).await;
}

#[tokio::test]
async fn pages_by_parent_is_one_statement_on_sqlite() {
    let (_dir, db) = sqlite().await;
    one_statement_whatever_the_parents(&db).await;
}

#[tokio::test]
async fn pages_by_parent_is_one_statement_on_postgres() {
    let Some((db, admin_url, name)) = postgres().await else {
        return;
    };
    one_statement_whatever_the_parents(&db).await;
    drop_postgres(db, &admin_url, &name).await;
}
