//! Users: `me`, `user(id)`, the admin-only `users` list, and each user's conversations.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use core_domain::enums::ConversationStatus as DomainStatus;
use core_domain::policy::{Action, Resource, can};
use persistence::conversations::{ConversationFilter, ConversationOrder};
use persistence::users as store;

use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::conversations::{Conversation, ConversationTotal};
use crate::graphql::loaders::{ConversationCountKey, ConversationPageKey};
use crate::graphql::scalars::{self, ConversationStatus, Role, SortDirection};

/// An account. Only its owner and admins can see it at all.
pub struct User(pub store::User);

/// Narrows a list of conversations.
#[derive(InputObject, Default)]
pub struct ConversationFilterInput {
    /// Only conversations in one of these states.
    pub status: Option<Vec<ConversationStatus>>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    pub persona_id: Option<ID>,
    pub room_id: Option<ID>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl From<ConversationFilterInput> for ConversationFilter {
    fn from(f: ConversationFilterInput) -> Self {
        ConversationFilter {
            status: f
                .status
                .map(|s| s.into_iter().map(DomainStatus::from).collect()),
            title_contains: f.title_contains,
            persona_id: f.persona_id.map(|i| i.0),
            room_id: f.room_id.map(|i| i.0),
            created_after: f.created_after,
            created_before: f.created_before,
        }
    }
}

#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum ConversationOrderField {
    CreatedAt,
    /// Last activity (a new message moves a conversation to the top).
    #[default]
    UpdatedAt,
}

#[derive(InputObject, Default)]
pub struct ConversationOrderBy {
    #[graphql(default)]
    pub field: ConversationOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

impl From<ConversationOrderBy> for ConversationOrder {
    fn from(o: ConversationOrderBy) -> Self {
        match (o.field, o.direction) {
            (ConversationOrderField::CreatedAt, SortDirection::Asc) => {
                ConversationOrder::CreatedAsc
            }
            (ConversationOrderField::CreatedAt, SortDirection::Desc) => {
                ConversationOrder::CreatedDesc
            }
            (ConversationOrderField::UpdatedAt, SortDirection::Asc) => {
                ConversationOrder::UpdatedAsc
            }
            (ConversationOrderField::UpdatedAt, SortDirection::Desc) => {
                ConversationOrder::UpdatedDesc
            }
        }
    }
}

pub type ConversationConnection = Connection<String, Conversation, ConversationTotal, EmptyFields>;

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// None for guests.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    async fn role(&self) -> ApiResult<Role> {
        Ok(scalars::stored::<core_domain::Role>(&self.0.role)?.into())
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn disclaimer_accepted(&self) -> bool {
        self.0.disclaimer_accepted
    }
    async fn disclaimer_version(&self) -> Option<&str> {
        self.0.disclaimer_version.as_deref()
    }
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The user's conversations, most recently active first unless `orderBy` says otherwise.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ConversationFilterInput>,
        order_by: Option<ConversationOrderBy>,
    ) -> ApiResult<ConversationConnection> {
        let args = page_args(first, after, last, before)?;
        let filter: ConversationFilter = filter.unwrap_or_default().into();
        let order: ConversationOrder = order_by.unwrap_or_default().into();
        let loaders = ctx.loaders()?;
        let actor = ctx.request()?.actor().cloned();
        let key = ConversationPageKey {
            user_id: self.0.id.clone(),
            query: Arc::new((filter.clone(), order, args)),
        };
        let page = loaders
            .conversation_pages
            .load_one(key)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_else(persistence::Page::empty);
        let total = ConversationTotal(ConversationCountKey {
            user_id: self.0.id.clone(),
            filter: Arc::new(filter),
        });
        let keyset = order.keyset();
        // Defence in depth: the user was already checked, but each row is checked on its own too.
        let mut page = page;
        page.items.retain(|c| {
            can(
                actor.as_ref(),
                Action::Read,
                &Resource::Conversation {
                    owner_id: c.user_id.as_deref(),
                    research: c.invitation_id.is_some() || c.scenario_id.is_some(),
                },
            )
        });
        Ok(connection(
            page,
            total,
            |c| {
                persistence::cursor::Cursor {
                    at: order.cursor_at(c),
                    id: c.id.clone(),
                }
                .encode(keyset.name)
            },
            Conversation,
        ))
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<User> {
        let caller = ctx.request()?.require()?;
        let user = store::find(ctx.services()?.db.conn(), &caller.actor.user_id).await?;
        user.map(User).ok_or(ApiError::Unauthenticated)
    }

    /// A user by id: yourself, or anyone for admins. Anyone else answers NOT_FOUND.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> ApiResult<User> {
        let actor = ctx.request()?.actor();
        if !can(actor, Action::Read, &Resource::User { id: &id }) {
            return Err(ApiError::NotFound);
        }
        let user = store::find(ctx.services()?.db.conn(), &id).await?;
        user.map(User).ok_or(ApiError::NotFound)
    }

    /// Every user, oldest first. Admins only.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<Connection<String, User, UserTotal, EmptyFields>> {
        let caller = ctx.request()?.require()?;
        if !can(Some(&caller.actor), Action::Read, &Resource::Administration) {
            return Err(ApiError::Forbidden("only admins can list users"));
        }
        let args = page_args(first, after, last, before)?;
        let page = store::page(ctx.services()?.db.conn(), &args).await?;
        let name = store::keyset().name;
        Ok(connection(
            page,
            UserTotal,
            |u| {
                persistence::cursor::Cursor {
                    at: u.created_at,
                    id: u.id.clone(),
                }
                .encode(name)
            },
            User,
        ))
    }
}

/// `totalCount` of the user list, counted only when asked for.
pub struct UserTotal;

#[Object]
impl UserTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(store::count(ctx.services()?.db.conn()).await?)
    }
}
