//! The posts area's use cases. Authors (any signed-in user but a guest) write drafts; a draft is
//! visible to its author and to moderators only (NOT_FOUND or null to everyone else, exactly like
//! a missing post); `publishPost` makes it public, to anonymous readers too. Authors and
//! moderators edit, publish, unpublish and delete; only moderators and admins feature.
//!
//! A post's slug comes from its title when it is created and never changes (links stay valid);
//! a slug already taken gets the next free suffix (`-2`, `-3`, ...), race-safe through the unique
//! index.

use core_domain::pagination::PageArgs;
use core_domain::policy::{self, Action, Resource};
use persistence::StoreError;
use persistence::posts::{self, NewPost, PostPatch, Visibility};
use persistence::{Db, Page};
use serde_json::json;

use crate::accounts::Caller;
use crate::billing::service::begin;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus};

pub use persistence::posts::{Post, PostFilter};

/// What `createPost` was given.
#[derive(Debug, Clone, Default)]
pub struct PostDraft {
    pub title: String,
    pub content: Option<String>,
    pub excerpt: Option<String>,
}

/// Changes to a post; `None` leaves a field alone, an empty content or excerpt clears it.
#[derive(Debug, Clone, Default)]
pub struct PostChanges {
    pub title: Option<String>,
    pub content: Option<String>,
    pub excerpt: Option<String>,
}

const MAX_TITLE: usize = 200;
const MAX_EXCERPT: usize = 1_000;
const MAX_CONTENT: usize = 100_000;
const MAX_SLUG: usize = 80;

pub struct PostService {
    db: Db,
    events: EventBus,
}

fn resource(post: &Post) -> Resource<'_> {
    Resource::Post {
        author_id: &post.author_id,
        published: post.published,
    }
}

impl PostService {
    pub fn new(db: Db, events: EventBus) -> Self {
        Self { db, events }
    }

    /// Creates a draft by the caller, with a slug from its title.
    pub async fn create(&self, caller: &Caller, draft: PostDraft) -> ApiResult<Post> {
        let actor = &caller.actor;
        let allowed = policy::can(
            Some(actor),
            Action::Create,
            &Resource::Post {
                author_id: &actor.user_id,
                published: false,
            },
        );
        if !allowed {
            return Err(ApiError::Forbidden("guests cannot write posts"));
        }
        let title = check_title(&draft.title)?;
        let content = check_text(draft.content, "content", MAX_CONTENT)?;
        let excerpt = check_text(draft.excerpt, "excerpt", MAX_EXCERPT)?;
        let base = slugify(&title);
        let taken = posts::taken_like(self.db.conn(), &base).await?;
        let txn = begin(&self.db).await?;
        let post = posts::create(
            &txn,
            NewPost {
                author_id: actor.user_id.clone(),
                title,
                content,
                excerpt,
                metadata: None,
            },
            &base,
            &taken,
        )
        .await?;
        audit::record(
            &txn,
            Some(&actor.user_id),
            "post.created",
            "Post",
            &post.id,
            json!({ "title": post.title, "slug": post.slug }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish_change(&post);
        Ok(post)
    }

    /// The live post `id` if the caller may do `action` to it: NOT_FOUND when they may not even
    /// read it (like a missing post), FORBIDDEN when they may read but not change it.
    async fn for_action(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        caller: &Caller,
        id: &str,
        action: Action,
    ) -> ApiResult<Post> {
        let post = posts::find(conn, id).await?.ok_or(ApiError::NotFound)?;
        let actor = Some(&caller.actor);
        if !policy::can(actor, Action::Read, &resource(&post)) {
            return Err(ApiError::NotFound);
        }
        if !policy::can(actor, action, &resource(&post)) {
            return Err(ApiError::Forbidden(
                "only its author or a moderator may change a post",
            ));
        }
        Ok(post)
    }

    /// Applies `patch` to post `id` after the access check for `action`, with its audit row.
    async fn change(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
        patch: PostPatch,
        verb: &str,
    ) -> ApiResult<Post> {
        // Checked before the transaction, whose first statement then writes (SQLite cannot
        // turn a reading transaction into a writing one while another writes); a post deleted
        // in between updates nothing and answers NOT_FOUND.
        self.for_action(self.db.conn(), caller, id, action).await?;
        let txn = begin(&self.db).await?;
        let post = posts::update(&txn, id, patch)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            verb,
            "Post",
            &post.id,
            json!({
                "title": post.title,
                "published": post.published,
                "featured": post.featured,
            }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish_change(&post);
        Ok(post)
    }

    /// Edits a post (its author or a moderator); the slug stays.
    pub async fn update(&self, caller: &Caller, id: &str, changes: PostChanges) -> ApiResult<Post> {
        let patch = PostPatch {
            title: changes.title.map(|t| check_title(&t)).transpose()?,
            content: changes
                .content
                .map(|c| check_text(Some(c), "content", MAX_CONTENT))
                .transpose()?,
            excerpt: changes
                .excerpt
                .map(|e| check_text(Some(e), "excerpt", MAX_EXCERPT))
                .transpose()?,
            ..PostPatch::default()
        };
        self.change(caller, id, Action::Update, patch, "post.updated")
            .await
    }

    /// Publishes (sets `publishedAt`) or unpublishes (clears it) a post.
    pub async fn set_published(
        &self,
        caller: &Caller,
        id: &str,
        published: bool,
    ) -> ApiResult<Post> {
        let verb = if published {
            "post.published"
        } else {
            "post.unpublished"
        };
        let patch = PostPatch {
            published: Some(published),
            ..PostPatch::default()
        };
        self.change(caller, id, Action::Update, patch, verb).await
    }

    /// Features or unfeatures a post (moderators and admins only).
    pub async fn set_featured(&self, caller: &Caller, id: &str, featured: bool) -> ApiResult<Post> {
        if !policy::can_moderate(Some(&caller.actor)) {
            // What a non-moderator may not even read stays NOT_FOUND.
            self.for_action(self.db.conn(), caller, id, Action::Read)
                .await?;
            return Err(ApiError::Forbidden("only moderators feature posts"));
        }
        let patch = PostPatch {
            featured: Some(featured),
            ..PostPatch::default()
        };
        self.change(caller, id, Action::Update, patch, "post.featured")
            .await
    }

    /// Deletes a post (its author or a moderator); its slug is not reused.
    pub async fn delete(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let post = self
            .for_action(self.db.conn(), caller, id, Action::Delete)
            .await?;
        let txn = begin(&self.db).await?;
        if !posts::delete(&txn, id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "post.deleted",
            "Post",
            &post.id,
            json!({ "title": post.title, "slug": post.slug }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish_change(&post);
        Ok(())
    }

    fn publish_change(&self, post: &Post) {
        self.events.publish_change(ChangeEvent {
            kind: "post".into(),
            id: post.id.clone(),
            owner_id: Some(post.author_id.clone()),
        });
    }

    /// The post with `slug` if the caller may read it; None otherwise, exactly as for a slug
    /// that does not exist.
    pub async fn by_slug(&self, caller: Option<&Caller>, slug: &str) -> ApiResult<Option<Post>> {
        let post = posts::by_slug(self.db.conn(), slug).await?;
        let actor = caller.map(|c| &c.actor);
        Ok(post.filter(|p| policy::can(actor, Action::Read, &resource(p))))
    }

    /// The posts among `ids` the caller may read, for `node`/`nodes`.
    pub async fn find_many(&self, caller: Option<&Caller>, ids: &[String]) -> ApiResult<Vec<Post>> {
        let actor = caller.map(|c| &c.actor);
        let rows = posts::by_ids(self.db.conn(), ids).await?;
        Ok(rows
            .into_iter()
            .filter(|p| policy::can(actor, Action::Read, &resource(p)))
            .collect())
    }

    fn visibility(caller: Option<&Caller>) -> Visibility {
        match caller {
            None => Visibility::Published,
            Some(c) if policy::can_moderate(Some(&c.actor)) => Visibility::All,
            Some(c) => Visibility::PublishedAndOwn(c.actor.user_id.clone()),
        }
    }

    /// A page of the posts the caller may read under `filter`, newest first: published posts,
    /// the caller's own drafts, and every draft for moderators.
    pub async fn posts(
        &self,
        caller: Option<&Caller>,
        filter: &PostFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<Post>> {
        let filter = check_filter(filter)?;
        Ok(posts::page(self.db.conn(), &Self::visibility(caller), &filter, args).await?)
    }

    pub async fn count(&self, caller: Option<&Caller>, filter: &PostFilter) -> ApiResult<u64> {
        let filter = check_filter(filter)?;
        Ok(posts::count(self.db.conn(), &Self::visibility(caller), &filter).await?)
    }

    /// The cursor name of the posts list.
    pub fn ordering() -> &'static str {
        posts::keyset().name
    }
}

/// The URL-friendly form of a title: lowercase ASCII letters and digits joined by single
/// hyphens, at most 80 characters; `post` when nothing is left.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= MAX_SLUG {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "post".into() } else { slug }
}

fn check_title(title: &str) -> ApiResult<String> {
    let title = title.trim();
    if title.is_empty() {
        return Err(ApiError::bad_input("title", "is required"));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(ApiError::bad_input(
            "title",
            format!("must be at most {MAX_TITLE} characters"),
        ));
    }
    Ok(title.to_owned())
}

/// Optional text: blank means none; at most `max` characters.
fn check_text(text: Option<String>, field: &'static str, max: usize) -> ApiResult<Option<String>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(text))
}

fn check_filter(filter: &PostFilter) -> ApiResult<PostFilter> {
    let search = match filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) if s.chars().count() > 200 => {
            return Err(ApiError::bad_input(
                "search",
                "must be at most 200 characters",
            ));
        }
        Some(s) => Some(s.to_owned()),
    };
    Ok(PostFilter {
        search,
        ..filter.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_url_friendly() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  --Rust & SQL--  "), "rust-sql");
        assert_eq!(slugify("日本語"), "post");
        assert!(slugify(&"a".repeat(500)).len() <= 80);
    }
}
