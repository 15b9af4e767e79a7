//! Posts over GraphQL: `posts(filter)`, `post(slug)`, and `createPost`, `updatePost`,
//! `publishPost`, `unpublishPost`, `featurePost`, `deletePost`. Published posts are public
//! (signed in or not); drafts are their author's and the moderators'.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::service::{self, PostChanges, PostDraft, PostFilter, PostService};
use crate::accounts::graphql::{User, user_link};
use crate::error::ApiResult;
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};

fn posts<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a PostService> {
    Ok(&ctx.services()?.posts)
}

/// An article: a draft until its author publishes it, then readable by everyone.
#[derive(Clone)]
pub struct Post(pub Arc<service::Post>);

impl From<service::Post> for Post {
    fn from(p: service::Post) -> Self {
        Post(Arc::new(p))
    }
}

#[Object]
impl Post {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Post, &self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The post's address (`post(slug:)`), made from its first title; it never changes.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn content(&self) -> Option<&str> {
        self.0.content.as_deref()
    }
    /// A short description.
    async fn excerpt(&self) -> Option<&str> {
        self.0.excerpt.as_deref()
    }
    /// False for a draft.
    async fn published(&self) -> bool {
        self.0.published
    }
    /// Chosen by a moderator.
    async fn featured(&self) -> bool {
        self.0.featured
    }
    /// When it was last published; null for a draft.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    async fn author_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.author_id)
    }
    /// The author, when you may see their account (yourself; administrators see everyone).
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.author_id)).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The posts among `ids` (database ids) the caller may read, for `node(id:)`.
pub async fn posts_by_ids(ctx: &Context<'_>, ids: &[String]) -> ApiResult<HashMap<String, Post>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = posts(ctx)?.find_many(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|p| (p.id.clone(), Post::from(p)))
        .collect())
}

/// Narrows the posts; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct PostFilterInput {
    pub featured: Option<bool>,
    pub author_id: Option<ID>,
    /// True: published posts only; false: drafts only (yours, or every one for moderators).
    pub published: Option<bool>,
    /// Text found in the title, excerpt or content (case-insensitive).
    pub search: Option<String>,
}

/// `totalCount` of the posts under the list's filter.
pub struct PostTotal(PostFilter);

#[Object]
impl PostTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.caller.as_ref();
        posts(ctx)?.count(caller, &self.0).await
    }
}

pub type PostConnection = Connection<String, Post, PostTotal, EmptyFields>;

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// Posts, newest first: every published post, and your own drafts (every draft for
    /// moderators). No sign-in needed.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<PostFilterInput>,
    ) -> ApiResult<PostConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = PostFilter {
            featured: f.featured,
            author_id: ids::decode_opt(f.author_id.as_ref(), Kind::User, "authorId")?,
            published: f.published,
            search: f.search,
        };
        let caller = ctx.request()?.caller.as_ref();
        let page = posts(ctx)?.posts(caller, &filter, &args).await?;
        let name = PostService::ordering();
        Ok(connection(
            page,
            PostTotal(filter),
            |p| cursor(name, p.created_at, &p.id),
            Post::from,
        ))
    }

    /// The post at `slug`; null when there is none you may read (a draft of someone else's
    /// reads exactly like a missing post).
    async fn post(&self, ctx: &Context<'_>, slug: String) -> ApiResult<Option<Post>> {
        let caller = ctx.request()?.caller.as_ref();
        Ok(posts(ctx)?.by_slug(caller, &slug).await?.map(Post::from))
    }
}

#[derive(InputObject)]
pub struct CreatePostInput {
    /// 1 to 200 characters; the slug is made from it.
    pub title: String,
    pub content: Option<String>,
    /// Up to 1,000 characters.
    pub excerpt: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreatePostPayload {
    pub post: Post,
}

#[derive(InputObject)]
pub struct UpdatePostInput {
    pub id: ID,
    pub title: Option<String>,
    /// Empty text clears it.
    pub content: Option<String>,
    /// Empty text clears it.
    pub excerpt: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdatePostPayload {
    pub post: Post,
}

#[derive(InputObject)]
pub struct PublishPostInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct PublishPostPayload {
    pub post: Post,
}

#[derive(InputObject)]
pub struct UnpublishPostInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct UnpublishPostPayload {
    pub post: Post,
}

#[derive(InputObject)]
pub struct FeaturePostInput {
    pub id: ID,
    /// False removes the feature. Default true.
    #[graphql(default = true)]
    pub featured: bool,
}

#[derive(SimpleObject)]
pub struct FeaturePostPayload {
    pub post: Post,
}

#[derive(InputObject)]
pub struct DeletePostInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeletePostPayload {
    pub deleted_post_id: ID,
}

#[derive(Default)]
pub struct PostMutation;

#[Object]
impl PostMutation {
    /// Writes a draft (not for guests); publish it with `publishPost`.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> ApiResult<CreatePostPayload> {
        let caller = ctx.request()?.require()?;
        let draft = PostDraft {
            title: input.title,
            content: input.content,
            excerpt: input.excerpt,
        };
        let post = posts(ctx)?.create(caller, draft).await?;
        Ok(CreatePostPayload { post: post.into() })
    }

    /// Edits a post of yours (moderators: any post); fields left out stay; the slug stays.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        input: UpdatePostInput,
    ) -> ApiResult<UpdatePostPayload> {
        let id = ids::decode(&input.id, Kind::Post, "id")?;
        let caller = ctx.request()?.require()?;
        let changes = PostChanges {
            title: input.title,
            content: input.content,
            excerpt: input.excerpt,
        };
        let post = posts(ctx)?.update(caller, &id, changes).await?;
        Ok(UpdatePostPayload { post: post.into() })
    }

    /// Publishes a post of yours (moderators: any post): everyone can read it from now on.
    async fn publish_post(
        &self,
        ctx: &Context<'_>,
        input: PublishPostInput,
    ) -> ApiResult<PublishPostPayload> {
        let id = ids::decode(&input.id, Kind::Post, "id")?;
        let caller = ctx.request()?.require()?;
        let post = posts(ctx)?.set_published(caller, &id, true).await?;
        Ok(PublishPostPayload { post: post.into() })
    }

    /// Takes a post back to draft.
    async fn unpublish_post(
        &self,
        ctx: &Context<'_>,
        input: UnpublishPostInput,
    ) -> ApiResult<UnpublishPostPayload> {
        let id = ids::decode(&input.id, Kind::Post, "id")?;
        let caller = ctx.request()?.require()?;
        let post = posts(ctx)?.set_published(caller, &id, false).await?;
        Ok(UnpublishPostPayload { post: post.into() })
    }

    /// Features (or unfeatures) a post: moderators and administrators only.
    async fn feature_post(
        &self,
        ctx: &Context<'_>,
        input: FeaturePostInput,
    ) -> ApiResult<FeaturePostPayload> {
        let id = ids::decode(&input.id, Kind::Post, "id")?;
        let caller = ctx.request()?.require()?;
        let post = posts(ctx)?
            .set_featured(caller, &id, input.featured)
            .await?;
        Ok(FeaturePostPayload { post: post.into() })
    }

    /// Deletes a post of yours (moderators: any post).
    async fn delete_post(
        &self,
        ctx: &Context<'_>,
        input: DeletePostInput,
    ) -> ApiResult<DeletePostPayload> {
        let id = ids::decode(&input.id, Kind::Post, "id")?;
        let caller = ctx.request()?.require()?;
        posts(ctx)?.delete(caller, &id).await?;
        Ok(DeletePostPayload {
            deleted_post_id: ids::encode(Kind::Post, &id),
        })
    }
}
