//! Soft-deleted records, for administrators: users, conversations, projects and posts whose
//! `deleted_at` is set are invisible to every other query; here they are listed (most recently
//! deleted first) and restored.

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::cursor::Keyset;
use crate::entity::{conversations, posts, projects, users};
use crate::{Page, StoreError};

/// The tables with soft deletes that the API exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletedType {
    User,
    Conversation,
    Project,
    Post,
}

/// One soft-deleted record.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub kind: DeletedType,
    pub id: String,
    /// What an administrator recognises it by: an email, a title.
    pub label: Option<String>,
    /// Its owner: a conversation's or project's owner, a post's author.
    pub owner_id: Option<String>,
    pub deleted_at: DateTime<Utc>,
}

/// Most recently deleted first.
pub fn user_keyset() -> Keyset<users::Column> {
    Keyset {
        name: "users.deleted_at.desc",
        at: users::Column::DeletedAt,
        id: users::Column::Id,
        descending: true,
    }
}

pub fn conversation_keyset() -> Keyset<conversations::Column> {
    Keyset {
        name: "conversations.deleted_at.desc",
        at: conversations::Column::DeletedAt,
        id: conversations::Column::Id,
        descending: true,
    }
}

pub fn project_keyset() -> Keyset<projects::Column> {
    Keyset {
        name: "projects.deleted_at.desc",
        at: projects::Column::DeletedAt,
        id: projects::Column::Id,
        descending: true,
    }
}

pub fn post_keyset() -> Keyset<posts::Column> {
    Keyset {
        name: "posts.deleted_at.desc",
        at: posts::Column::DeletedAt,
        id: posts::Column::Id,
        descending: true,
    }
}

/// The name of `kind`'s ordering, for cursors.
pub fn ordering(kind: DeletedType) -> &'static str {
    match kind {
        DeletedType::User => user_keyset().name,
        DeletedType::Conversation => conversation_keyset().name,
        DeletedType::Project => project_keyset().name,
        DeletedType::Post => post_keyset().name,
    }
}

pub async fn page(
    db: &impl ConnectionTrait,
    kind: DeletedType,
    args: &PageArgs,
) -> Result<Page<Deleted>, StoreError> {
    match kind {
        DeletedType::User => {
            deleted_page::<users::Entity>(db, user_keyset(), args, |u| {
                Some(Deleted {
                    kind,
                    deleted_at: u.deleted_at?,
                    label: u.email,
                    owner_id: None,
                    id: u.id,
                })
            })
            .await
        }
        DeletedType::Conversation => {
            deleted_page::<conversations::Entity>(db, conversation_keyset(), args, |c| {
                Some(Deleted {
                    kind,
                    deleted_at: c.deleted_at?,
                    label: Some(c.title),
                    owner_id: c.user_id,
                    id: c.id,
                })
            })
            .await
        }
        DeletedType::Project => {
            deleted_page::<projects::Entity>(db, project_keyset(), args, |p| {
                Some(Deleted {
                    kind,
                    deleted_at: p.deleted_at?,
                    label: Some(p.name),
                    owner_id: Some(p.user_id),
                    id: p.id,
                })
            })
            .await
        }
        DeletedType::Post => {
            deleted_page::<posts::Entity>(db, post_keyset(), args, |p| {
                Some(Deleted {
                    kind,
                    deleted_at: p.deleted_at?,
                    label: Some(p.title),
                    owner_id: Some(p.author_id),
                    id: p.id,
                })
            })
            .await
        }
    }
}

/// One page of `E`'s soft-deleted rows in `keyset`'s order (its `at` is `deleted_at`), each
/// described by `describe`.
async fn deleted_page<E: EntityTrait>(
    db: &impl ConnectionTrait,
    keyset: Keyset<E::Column>,
    args: &PageArgs,
    describe: impl Fn(E::Model) -> Option<Deleted>,
) -> Result<Page<Deleted>, StoreError> {
    let rows = keyset
        .apply(E::find().filter(keyset.at.is_not_null()), args)?
        .all(db)
        .await?;
    let page = Keyset::<E::Column>::page(args, rows);
    Ok(Page {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        items: page.items.into_iter().filter_map(describe).collect(),
    })
}

pub async fn count(db: &impl ConnectionTrait, kind: DeletedType) -> Result<u64, StoreError> {
    Ok(match kind {
        DeletedType::User => {
            users::Entity::find()
                .filter(users::Column::DeletedAt.is_not_null())
                .count(db)
                .await?
        }
        DeletedType::Conversation => {
            conversations::Entity::find()
                .filter(conversations::Column::DeletedAt.is_not_null())
                .count(db)
                .await?
        }
        DeletedType::Project => {
            projects::Entity::find()
                .filter(projects::Column::DeletedAt.is_not_null())
                .count(db)
                .await?
        }
        DeletedType::Post => {
            posts::Entity::find()
                .filter(posts::Column::DeletedAt.is_not_null())
                .count(db)
                .await?
        }
    })
}

/// Clears `deleted_at` of the record; false when it is missing or not deleted.
pub async fn restore(
    db: &impl ConnectionTrait,
    kind: DeletedType,
    id: &str,
) -> Result<bool, StoreError> {
    let none: Option<DateTime<Utc>> = None;
    let n = match kind {
        DeletedType::User => {
            users::Entity::update_many()
                .col_expr(users::Column::DeletedAt, Expr::value(none))
                .filter(users::Column::Id.eq(id))
                .filter(users::Column::DeletedAt.is_not_null())
                .exec(db)
                .await?
                .rows_affected
        }
        DeletedType::Conversation => {
            conversations::Entity::update_many()
                .col_expr(conversations::Column::DeletedAt, Expr::value(none))
                .filter(conversations::Column::Id.eq(id))
                .filter(conversations::Column::DeletedAt.is_not_null())
                .exec(db)
                .await?
                .rows_affected
        }
        DeletedType::Project => {
            projects::Entity::update_many()
                .col_expr(projects::Column::DeletedAt, Expr::value(none))
                .filter(projects::Column::Id.eq(id))
                .filter(projects::Column::DeletedAt.is_not_null())
                .exec(db)
                .await?
                .rows_affected
        }
        // A deleted post kept its slug, so it comes back under the same address.
        DeletedType::Post => {
            posts::Entity::update_many()
                .col_expr(posts::Column::DeletedAt, Expr::value(none))
                .filter(posts::Column::Id.eq(id))
                .filter(posts::Column::DeletedAt.is_not_null())
                .exec(db)
                .await?
                .rows_affected
        }
    };
    Ok(n > 0)
}
