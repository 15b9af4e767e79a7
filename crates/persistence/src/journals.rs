//! Journals: prompt and response pairs a user saved (Numira), each with the persona and room it
//! came from and, when saved from a conversation, the conversation and the two messages. Only
//! ever read for their owner: every query here is scoped by `user_id`.

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::journals::{self, Column, Entity};
use crate::{Page, StoreError};

pub use journals::Model as Journal;

/// What a new journal entry holds.
#[derive(Debug, Clone, Default)]
pub struct NewJournal {
    pub user_id: String,
    pub persona_id: String,
    pub room_id: String,
    pub prompt: String,
    pub response: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub conversation_id: Option<String>,
    pub prompt_message_id: Option<String>,
    pub response_message_id: Option<String>,
}

/// Changes to an entry: `Some` fields are written, `None` ones left alone; `Some(None)` clears
/// the title.
#[derive(Debug, Clone, Default)]
pub struct JournalPatch {
    pub title: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub prompt: Option<String>,
    pub response: Option<String>,
}

/// How a user's journal may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JournalFilter {
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
    /// Entries carrying exactly this tag.
    pub tag: Option<String>,
    /// Case-insensitive substring of the title, prompt or response.
    pub search: Option<String>,
}

/// Newest first, by the `(user_id, created_at, id)` index.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "journals.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

/// The timestamp a cursor for `row` carries.
pub fn cursor_at(row: &Journal) -> DateTime<Utc> {
    row.created_at
}

pub async fn create(db: &impl ConnectionTrait, new: NewJournal) -> Result<Journal, StoreError> {
    let now = time::now();
    Ok(journals::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(new.user_id),
        persona_id: Set(new.persona_id),
        room_id: Set(new.room_id),
        prompt: Set(new.prompt),
        response: Set(new.response),
        title: Set(new.title),
        tags: Set(serde_json::json!(new.tags)),
        conversation_id: Set(new.conversation_id),
        prompt_message_id: Set(new.prompt_message_id),
        response_message_id: Set(new.response_message_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The owner's entry `id`; `None` for a missing entry or someone else's.
pub async fn find_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Journal>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// The owner's entries among `ids`, in one statement.
pub async fn own_by_ids(
    db: &impl ConnectionTrait,
    user_id: &str,
    ids: &[String],
) -> Result<Vec<Journal>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Applies `patch` to the owner's entry; `None` when it is not theirs or missing.
pub async fn update_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
    patch: JournalPatch,
) -> Result<Option<Journal>, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id));
    if let Some(title) = patch.title {
        update = update.col_expr(Column::Title, Expr::value(title));
    }
    if let Some(tags) = patch.tags {
        update = update.col_expr(Column::Tags, Expr::value(serde_json::json!(tags)));
    }
    if let Some(prompt) = patch.prompt {
        update = update.col_expr(Column::Prompt, Expr::value(prompt));
    }
    if let Some(response) = patch.response {
        update = update.col_expr(Column::Response, Expr::value(response));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find_own(db, user_id, id).await
}

/// Deletes the owner's entry; false when it is not theirs or missing.
pub async fn delete_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The owner's entries under `filter`.
fn filtered(backend: DbBackend, user_id: &str, filter: &JournalFilter) -> Select<Entity> {
    let mut cond = Condition::all().add(Column::UserId.eq(user_id));
    if let Some(p) = &filter.persona_id {
        cond = cond.add(Column::PersonaId.eq(p.clone()));
    }
    if let Some(r) = &filter.room_id {
        cond = cond.add(Column::RoomId.eq(r.clone()));
    }
    if let Some(tag) = &filter.tag {
        // `tags` is a JSON array of strings: containment on PostgreSQL, json_each on SQLite.
        cond = cond.add(match backend {
            DbBackend::Postgres => Expr::cust_with_values(
                r#""journals"."tags" @> jsonb_build_array($1::text)"#,
                [tag.clone()],
            ),
            _ => Expr::cust_with_values(
                r#"EXISTS (SELECT 1 FROM json_each("journals"."tags") WHERE json_each.value = ?)"#,
                [tag.clone()],
            ),
        });
    }
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        // lower() on both sides so SQLite and PostgreSQL agree.
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let like = |col: Column| {
            Func::lower(Expr::col(col)).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(Column::Title))
                .add(like(Column::Prompt))
                .add(like(Column::Response)),
        );
    }
    Entity::find().filter(cond)
}

/// One page of the owner's entries under `filter`, newest first.
pub async fn page_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &JournalFilter,
    args: &PageArgs,
) -> Result<Page<Journal>, StoreError> {
    let keyset = keyset();
    let rows = keyset
        .apply(filtered(db.get_database_backend(), user_id, filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<Column>::page(args, rows))
}

/// How many entries the owner has under `filter`.
pub async fn count_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &JournalFilter,
) -> Result<u64, StoreError> {
    Ok(filtered(db.get_database_backend(), user_id, filter)
        .count(db)
        .await?)
}
