//! Posts (OptiMind): articles with a unique slug, drafts until published. Deleted posts keep
//! their row (`deleted_at`) and their slug, and are never read again. Who may read which post is
//! the service's rule; the list query takes it as a [`Visibility`].

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::posts::{self, Column, Entity};
use crate::{Page, StoreError};

pub use posts::Model as Post;

/// What a new post holds.
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    pub author_id: String,
    pub title: String,
    pub content: Option<String>,
    pub excerpt: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Changes to a post: `Some` fields are written; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    pub title: Option<String>,
    pub content: Option<Option<String>>,
    pub excerpt: Option<Option<String>>,
    pub published: Option<bool>,
    pub featured: Option<bool>,
}

/// Which posts a list may show.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Published posts only (anonymous callers).
    Published,
    /// Published posts and this author's drafts.
    PublishedAndOwn(String),
    /// Every post, drafts included (moderators and admins).
    All,
}

/// How the list of posts may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PostFilter {
    pub featured: Option<bool>,
    pub author_id: Option<String>,
    pub published: Option<bool>,
    /// Case-insensitive substring of the title, excerpt or content.
    pub search: Option<String>,
}

/// Newest first by creation.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "posts.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

/// The timestamp a cursor for `row` carries.
pub fn cursor_at(row: &Post) -> DateTime<Utc> {
    row.created_at
}

/// Slugs taken that start with `base` (deleted posts' included: a slug is never reused). Read
/// it before the creating transaction (on SQLite a transaction that reads first cannot then
/// write while another one writes).
pub async fn taken_like(db: &impl ConnectionTrait, base: &str) -> Result<Vec<String>, StoreError> {
    let pattern = format!("{}%", escape_like(base));
    Ok(Entity::find()
        .select_only()
        .column(Column::Slug)
        .filter(Expr::col(Column::Slug).like(LikeExpr::new(pattern).escape('\\')))
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Creates a draft with the slug `base`, or `base-2`, `base-3`, ... skipping those in `taken`
/// ([`taken_like`]). Race-safe: each attempt is an insert-or-nothing on the unique slug, so two
/// posts never share one and a lost race only moves on to the next suffix (no statement fails,
/// so a transaction stays usable).
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewPost,
    base: &str,
    taken: &[String],
) -> Result<Post, StoreError> {
    let id = ids::new_id();
    let mut attempts = 0;
    for n in 1_u32.. {
        let slug = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        if taken.contains(&slug) {
            continue;
        }
        // Each failed attempt lost a race for that slug; give up after many.
        attempts += 1;
        if attempts > 50 {
            break;
        }
        let now = time::now();
        let row = posts::ActiveModel {
            id: Set(id.clone()),
            title: Set(new.title.clone()),
            content: Set(new.content.clone()),
            excerpt: Set(new.excerpt.clone()),
            slug: Set(slug),
            published: Set(false),
            author_id: Set(new.author_id.clone()),
            featured: Set(false),
            metadata: Set(new.metadata.clone()),
            published_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        };
        let inserted = Entity::insert(row)
            .on_conflict_do_nothing_on([Column::Slug])
            .exec_without_returning(db)
            .await?;
        if matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
            return find(db, &id)
                .await?
                .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("post".into())));
        }
    }
    Err(StoreError::Conflict("slug"))
}

/// A live (not deleted) post by id.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Post>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// A live post by slug.
pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Post>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Slug.eq(slug))
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Live posts among `ids`, in one statement.
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Post>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// Applies `patch` to the live post `id`; publishing stamps `published_at`, unpublishing
/// clears it. `None` when the post is missing or deleted.
pub async fn update(
    db: &impl ConnectionTrait,
    id: &str,
    patch: PostPatch,
) -> Result<Option<Post>, StoreError> {
    let now = time::now();
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null());
    if let Some(title) = patch.title {
        update = update.col_expr(Column::Title, Expr::value(title));
    }
    if let Some(content) = patch.content {
        update = update.col_expr(Column::Content, Expr::value(content));
    }
    if let Some(excerpt) = patch.excerpt {
        update = update.col_expr(Column::Excerpt, Expr::value(excerpt));
    }
    if let Some(published) = patch.published {
        update = update.col_expr(Column::Published, Expr::value(published));
        let at: Option<DateTime<Utc>> = published.then_some(now);
        update = update.col_expr(Column::PublishedAt, Expr::value(at));
    }
    if let Some(featured) = patch.featured {
        update = update.col_expr(Column::Featured, Expr::value(featured));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find(db, id).await
}

/// Soft-deletes the live post `id`; false when it is missing or deleted already.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let now = time::now();
    let res = Entity::update_many()
        .col_expr(Column::DeletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn filtered(visibility: &Visibility, filter: &PostFilter) -> Select<Entity> {
    let mut cond = Condition::all().add(Column::DeletedAt.is_null());
    match visibility {
        Visibility::Published => cond = cond.add(Column::Published.eq(true)),
        Visibility::PublishedAndOwn(me) => {
            cond = cond.add(
                Condition::any()
                    .add(Column::Published.eq(true))
                    .add(Column::AuthorId.eq(me.clone())),
            );
        }
        Visibility::All => {}
    }
    if let Some(f) = filter.featured {
        cond = cond.add(Column::Featured.eq(f));
    }
    if let Some(p) = filter.published {
        cond = cond.add(Column::Published.eq(p));
    }
    if let Some(a) = &filter.author_id {
        cond = cond.add(Column::AuthorId.eq(a.clone()));
    }
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let like = |col: Column| {
            Func::lower(Expr::col(col)).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(Column::Title))
                .add(like(Column::Excerpt))
                .add(like(Column::Content)),
        );
    }
    Entity::find().filter(cond)
}

/// One page of the posts `visibility` allows under `filter`, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    visibility: &Visibility,
    filter: &PostFilter,
    args: &PageArgs,
) -> Result<Page<Post>, StoreError> {
    let rows = keyset()
        .apply(filtered(visibility, filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<Column>::page(args, rows))
}

/// How many posts `visibility` allows under `filter`.
pub async fn count(
    db: &impl ConnectionTrait,
    visibility: &Visibility,
    filter: &PostFilter,
) -> Result<u64, StoreError> {
    Ok(filtered(visibility, filter).count(db).await?)
}
