//! Chat: how a user's message becomes an AI reply.
//!
//! `start_reply` does everything that can refuse a request before anything is stored: the
//! disclaimer, the per-user send rate, the model and its key, the prompt, and the token
//! reservation against every budget that applies. It then stores the user's message (unless it
//! answers an existing one) and an ASSISTANT message with status STREAMING, and spawns the
//! generation task ([`generate`]), which belongs to the server, not to the request.
//!
//! Conventions: a reply's stream positions (`seq`) are character offsets (Unicode scalar values)
//! into the message content; the generating instance saves the text in batches (at most one
//! write per `flush_interval`) and publishes each batch once saved, keeping the saved text in
//! memory (`Live`) for followers, so a follower on any instance, or after the task ended or its
//! server crashed, can replay from the row ([`follow`]) and never holds text the row lacks.

use persistence::sea_orm::TransactionTrait as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ai_providers::{
    ChatMessage, CompletionRequest, ModelInfo, Provider, ProviderError, Providers,
    estimate_prompt_tokens, fit_to_context,
};
use auth::KeyRing;
use core_domain::enums::{ConversationStatus, KeyProvider, MessageRole, MessageStatus, StreamType};
use core_domain::policy::{Action, Resource, can};
use futures::Stream;
use persistence::budgets::{self, BudgetKey, Purpose, Reservation};
use persistence::messages::{self as store, Message, NewMessage};
use persistence::practice::{self, Invitation, Scenario};
use persistence::{Db, api_keys, catalogue, conversations};

use tokio::sync::watch;

use super::{generate, keys};
use crate::accounts::{Caller, require_disclaimer};
use crate::conversations::ConversationService;
use crate::error::{ApiError, ApiResult};
use crate::platform::config::Config;
use crate::platform::events::ReplyBus;
use crate::platform::rate_limit::RateLimiter;

pub use super::follow::ReplyChunk;
pub use persistence::api_keys::ApiKey;
pub use persistence::conversations::Conversation;
pub use persistence::messages::Message as MessageRow;

/// A reply being generated on this instance.
pub(super) struct Live {
    pub(super) text: Arc<Mutex<String>>,
    cancel: watch::Sender<Option<generate::Canceller>>,
}

/// The chat use cases, shared by every request.
pub struct ChatService {
    pub(super) db: Db,
    providers: Arc<Providers>,
    keys: KeyRing,
    pub(super) bus: ReplyBus,
    pub(super) config: crate::platform::config::ChatConfig,
    conversations: Arc<ConversationService>,
    disclaimer_version: Option<String>,
    send_limiter: RateLimiter,
    live: Mutex<HashMap<String, Live>>,
    /// The plans' entitlements: each call also reserves against the caller's plan budget.
    plans: Arc<crate::billing::plans::Plans>,
}

/// What the user's side of an exchange is.
pub enum UserTurn {
    /// A new message, under `parent_id` (default: the conversation's latest message).
    New {
        content: String,
        parent_id: Option<String>,
    },
    /// A new version of a stored user message (edit): a USER sibling under the same parent, which
    /// for the first message of a conversation is no parent at all.
    Edit {
        content: String,
        original: Box<Message>,
    },
    /// Another reply to a stored user message (regenerate).
    Existing(Box<Message>),
}

/// The messages a reply request stored. In a practice session `reply` is the PARTNER's reply
/// and `coach_reply` the COACH's comment, generated side by side.
pub struct Started {
    pub user_message: Option<Message>,
    pub reply: Message,
    pub coach_reply: Option<Message>,
}

/// One AI call checked and ready to reserve for, then to stream into its reply.
struct PreparedCall {
    reply_id: String,
    provider: ProviderHandle,
    info: ModelInfo,
    request: CompletionRequest,
    prompt_tokens: u32,
    estimate: i64,
    purpose: Purpose,
}

impl ChatService {
    /// Builds the providers from configuration and opens the key ring.
    pub fn new(
        db: Db,
        config: &Config,
        bus: ReplyBus,
        conversations: Arc<ConversationService>,
    ) -> anyhow::Result<Arc<Self>> {
        let providers = Providers::from_config(config.chat.providers.clone())?;
        let keys = keys::load_key_ring(&config.chat)?;
        Ok(Arc::new(Self {
            send_limiter: RateLimiter::across_instances(
                "send",
                config.chat.send_rate_per_minute,
                &db,
                1,
            ),
            db,
            providers: Arc::new(providers),
            keys,
            bus,
            conversations,
            config: config.chat.clone(),
            disclaimer_version: config.auth.disclaimer_version.clone(),
            live: Mutex::new(HashMap::new()),
            plans: Arc::clone(&config.billing.plans),
        }))
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn bus(&self) -> &ReplyBus {
        &self.bus
    }

    /// Replies being generated on this instance.
    pub fn generating(&self) -> usize {
        self.live_map().len()
    }

    pub(super) fn live_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The model a conversation's next reply uses when the request names none: the
    /// conversation's own, else its persona's default model when this server can call it (a
    /// server key for its provider, or a key of the conversation's owner), else the server's
    /// default model.
    pub async fn model_for(&self, conversation: &conversations::Conversation) -> ApiResult<String> {
        if let Some(own) = &conversation.model {
            return Ok(own.clone());
        }
        if let Some(persona_id) = &conversation.persona_id
            && let Some(persona) = catalogue::persona(self.db.conn(), persona_id).await?
            && let Some(model) = persona.default_model.filter(|m| !m.trim().is_empty())
            && let Ok((_, info)) = self.providers.for_model(&model)
        {
            let callable = self.providers.has_server_key(&info.provider)
                || match &conversation.user_id {
                    Some(owner) => api_keys::newest_for(self.db.conn(), owner, &info.provider)
                        .await?
                        .is_some(),
                    None => false,
                };
            if callable {
                return Ok(model);
            }
        }
        Ok(self.providers.default_model().to_owned())
    }

    /// Checks that `model` can be used, for settings that name one.
    pub fn check_model(&self, model: &str) -> ApiResult<()> {
        self.providers
            .for_model(model)
            .map(|_| ())
            .map_err(Into::into)
    }

    /// Stores the caller's message and a STREAMING reply in one of their conversations and starts
    /// generating the reply. `parent_id` defaults to the conversation's latest message; the parent
    /// of an earlier user message makes this an edit of it.
    pub async fn send(
        self: &Arc<Self>,
        caller: &Caller,
        conversation_id: &str,
        content: String,
        model: Option<String>,
        parent_id: Option<String>,
    ) -> ApiResult<Started> {
        core_domain::validation::check_message_content(&content)?;
        let conversation = self
            .conversations
            .authorized(Some(&caller.actor), conversation_id, Action::Update)
            .await?;
        let turn = UserTurn::New { content, parent_id };
        self.start_announced(conversation, caller, model, turn)
            .await
    }

    /// A new version of one of the caller's messages: a USER sibling under the same parent (so
    /// the first message can be edited too) and its reply. The original stays, as a sibling.
    pub async fn edit(
        self: &Arc<Self>,
        caller: &Caller,
        message_id: &str,
        content: String,
        model: Option<String>,
    ) -> ApiResult<Started> {
        core_domain::validation::check_message_content(&content)?;
        let (original, conversation) = self
            .conversations
            .message_for(Some(&caller.actor), message_id, Action::Update)
            .await?;
        if *original.role != MessageRole::User {
            return Err(ApiError::bad_input("messageId", "is not a user message"));
        }
        let turn = UserTurn::Edit {
            content,
            original: Box::new(original),
        };
        self.start_announced(conversation, caller, model, turn)
            .await
    }

    /// Another reply to the same user message (an ASSISTANT sibling of `message_id`), or a reply
    /// to `message_id` when it is a user message.
    pub async fn regenerate(
        self: &Arc<Self>,
        caller: &Caller,
        message_id: &str,
        model: Option<String>,
    ) -> ApiResult<Message> {
        let (message, conversation) = self
            .conversations
            .message_for(Some(&caller.actor), message_id, Action::Update)
            .await?;
        let user_message = if *message.role == MessageRole::User {
            message
        } else {
            let parent = match &message.parent_id {
                Some(p) => store::find(self.db.conn(), p).await?,
                None => None,
            };
            parent
                .filter(|p| *p.role == MessageRole::User)
                .ok_or_else(|| ApiError::bad_input("messageId", "does not answer a user message"))?
        };
        let turn = UserTurn::Existing(Box::new(user_message));
        let started = self
            .start_announced(conversation, caller, model, turn)
            .await?;
        Ok(started.reply)
    }

    /// [`ChatService::start_reply`], then tells `messageAdded` subscribers about what it stored.
    async fn start_announced(
        self: &Arc<Self>,
        conversation: conversations::Conversation,
        caller: &Caller,
        model: Option<String>,
        turn: UserTurn,
    ) -> ApiResult<Started> {
        let started = self
            .start_reply(conversation.clone(), &caller.actor.user_id, model, turn)
            .await?;
        let mut stored: Vec<&str> = started.user_message.iter().map(|m| m.id.as_str()).collect();
        stored.push(&started.reply.id);
        stored.extend(started.coach_reply.iter().map(|m| m.id.as_str()));
        self.conversations.announce(&conversation, &stored);
        Ok(started)
    }

    /// Stops a reply of the caller's being generated; what was produced stays (CANCELLED).
    pub async fn cancel_for(&self, caller: &Caller, message_id: &str) -> ApiResult<Message> {
        let (message, _) = self
            .conversations
            .message_for(Some(&caller.actor), message_id, Action::Update)
            .await?;
        let (message, recorded) = self.cancel(message, &caller.actor.user_id).await?;
        if !recorded {
            // Nothing was stopped (the reply had ended, or its generator did not answer in
            // time): the request is still on record, alone, with the status it found.
            crate::platform::audit::record(
                self.db.conn(),
                Some(&caller.actor.user_id),
                "message.cancel_requested",
                "Message",
                &message.id,
                serde_json::json!({ "status": (*message.status).as_str() }),
            )
            .await?;
        }
        Ok(message)
    }

    /// Follows a reply the caller may read: what exists after `after_seq` first, then live.
    pub async fn follow_for(
        self: &Arc<Self>,
        caller: &Caller,
        message_id: &str,
        after_seq: Option<i32>,
    ) -> ApiResult<impl Stream<Item = ApiResult<ReplyChunk>> + Send + use<>> {
        let after = match after_seq {
            None => None,
            Some(n) => Some(
                usize::try_from(n)
                    .map_err(|_| ApiError::bad_input("afterSeq", "must not be negative"))?,
            ),
        };
        let (message, _) = self
            .conversations
            .message_for(Some(&caller.actor), message_id, Action::Read)
            .await?;
        Ok(self.follow(message.id, after))
    }

    /// Changes a conversation's model or system prompt for the replies that follow.
    pub async fn update_conversation(
        &self,
        caller: &Caller,
        id: &str,
        model: Option<String>,
        system_prompt: Option<String>,
    ) -> ApiResult<Conversation> {
        if let Some(model) = &model {
            self.check_model(model)?;
        }
        self.conversations
            .update_settings(Some(&caller.actor), id, model, system_prompt)
            .await
    }

    /// The caller's own provider keys, newest first.
    pub async fn api_keys(&self, caller: &Caller) -> ApiResult<Vec<ApiKey>> {
        Ok(api_keys::for_user(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// Stores the caller's own key for a provider, encrypted under the master key ring.
    pub async fn add_api_key(
        &self,
        caller: &Caller,
        provider: KeyProvider,
        name: Option<String>,
        key: &str,
    ) -> ApiResult<ApiKey> {
        let me = &caller.actor.user_id;
        if !can(
            Some(&caller.actor),
            Action::Create,
            &Resource::Credential { owner_id: me },
        ) {
            return Err(ApiError::Forbidden("guests cannot store provider keys"));
        }
        let txn = self.db.conn().begin().await?;
        let added = keys::add(&txn, &self.keys, me, provider, name, key).await?;
        crate::platform::audit::record(
            &txn,
            Some(me),
            "api_key.added",
            "ApiKey",
            &added.id,
            serde_json::json!({ "provider": provider.as_str(), "name": added.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(added)
    }

    /// Deletes one of the caller's keys (NOT_FOUND for anyone else's).
    pub async fn delete_api_key(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let txn = self.db.conn().begin().await?;
        if !api_keys::delete(&txn, &caller.actor.user_id, id).await? {
            return Err(ApiError::NotFound);
        }
        crate::platform::audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "api_key.deleted",
            "ApiKey",
            id,
            serde_json::json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Checks, reserves, stores and starts a reply in `conversation` (whose access the caller
    /// checked) for `user_id`. The request's own ids are checked first, so a refused id answers
    /// the same whatever the caller's disclaimer, send rate or keys.
    async fn start_reply(
        self: &Arc<Self>,
        conversation: conversations::Conversation,
        user_id: &str,
        model: Option<String>,
        turn: UserTurn,
    ) -> ApiResult<Started> {
        if let UserTurn::New { content, .. } | UserTurn::Edit { content, .. } = &turn {
            core_domain::validation::check_message_content(content)?;
        }
        if let Some(scenario_id) = conversation.scenario_id.clone() {
            return self
                .start_practice_reply(conversation, &scenario_id, user_id, model, turn)
                .await;
        }
        // A new or edited user message goes under its parent; the branch sent to the provider is
        // the path to that parent plus the new text. A regeneration answers a stored message.
        let new_parent = match &turn {
            UserTurn::New { parent_id, .. } => Some(
                self.conversations
                    .parent_for(&conversation, parent_id.as_deref())
                    .await?,
            ),
            _ => None,
        };
        let all = store::all_in(self.db.conn(), &conversation.id).await?;
        let (parent_id, mut branch, first_exchange) = match &turn {
            UserTurn::New { content, .. } => {
                let parent = new_parent.flatten();
                let branch = branch_with(&all, parent.as_deref(), content);
                (parent, branch, all.is_empty())
            }
            UserTurn::Edit { content, original } => {
                let parent = original.parent_id.clone();
                let branch = branch_with(&all, parent.as_deref(), content);
                (parent, branch, false)
            }
            UserTurn::Existing(user_message) => (
                Some(user_message.id.clone()),
                branch_to(&all, &user_message.id),
                false,
            ),
        };
        require_open(&conversation)?;
        require_disclaimer(&self.db, user_id, self.disclaimer_version.as_deref()).await?;
        self.send_limiter
            .check(user_id)
            .await
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;

        let model = match model {
            Some(m) => m,
            None => self.model_for(&conversation).await?,
        };
        let (provider, info) = self.providers.for_model(&model)?;
        let info = info.clone();
        let api_key = keys::user_key(self.db.conn(), &self.keys, user_id, &info.provider).await?;
        if api_key.is_none() && !self.providers.has_server_key(&info.provider) {
            return Err(ProviderError::NoApiKey.into());
        }

        let system = self.system_prompt(&conversation).await?;
        let max_tokens = self
            .config
            .max_output_tokens
            .min(info.max_output_tokens)
            .max(1);
        branch = fit_to_context(system.as_deref(), branch, info.context_window, max_tokens);
        let prompt_tokens = estimate_prompt_tokens(system.as_deref(), &branch);

        let invitation = self.invitation_of(&conversation).await?;
        let budgets = self.budgets_for(user_id, invitation.as_ref()).await?;
        let estimate = i64::from(prompt_tokens) + i64::from(max_tokens);
        // The reply's id is chosen now so the reservation names it: if this server dies before
        // the reply is settled, recovery finds the reservation from the reply.
        let reply_id = core_domain::ids::new_id();
        let purpose = Purpose {
            message_id: Some(reply_id.clone()),
            user_id: Some(user_id.to_owned()),
            conversation_id: Some(conversation.id.clone()),
            prompt_tokens: i32::try_from(prompt_tokens).unwrap_or(i32::MAX),
            model: info.id.clone(),
            provider: info.provider.clone(),
            stream_type: StreamType::Chat,
        };
        let reservation =
            match budgets::reserve_or_exhausted(self.db.conn(), &budgets, estimate, purpose).await?
            {
                Ok(r) => r,
                Err(scope) => return Err(self.refusal(user_id, scope).await),
            };

        let stored = self
            .store_turn(&conversation, user_id, &turn, parent_id, &info, reply_id)
            .await;
        let (user_message, reply) = match stored {
            Ok(s) => s,
            Err(e) => {
                if let Err(error) = budgets::settle(self.db.conn(), &reservation, 0).await {
                    tracing::error!(%error, "cannot release a token reservation");
                }
                return Err(e);
            }
        };

        let request = CompletionRequest {
            system,
            api_key: api_key.clone(),
            ..CompletionRequest::new(info.id.clone(), branch, max_tokens)
        };
        let title_from = match (&turn, first_exchange && !conversation.title_is_custom) {
            (UserTurn::New { content, .. }, true) => Some(content.clone()),
            _ => None,
        };
        self.spawn_generation(generate::Job {
            message_id: reply.id.clone(),
            conversation_id: conversation.id.clone(),
            user_id: user_id.to_owned(),
            provider,
            info,
            request,
            prompt_tokens,
            reservation,
            budgets,
            title_from,
            stream_type: StreamType::Chat,
            invitation_id: invitation.map(|i| i.id),
        });
        Ok(Started {
            user_message,
            reply,
            coach_reply: None,
        })
    }

    /// Every budget an AI call by `user_id` reserves against: their daily budget, and the quota
    /// of the invitation the conversation runs under. Every kind of AI work (chat, practice
    /// streams, analyses) takes its budgets from here, so a budget added here (a plan's monthly
    /// tokens) applies to all of them.
    pub async fn budgets_for(
        &self,
        user_id: &str,
        invitation: Option<&Invitation>,
    ) -> ApiResult<Vec<BudgetKey>> {
        let mut keys = vec![BudgetKey::user_daily(
            user_id,
            self.config.daily_token_limit,
        )];
        keys.extend(invitation.map(practice::invitation_budget));
        keys.extend(
            crate::billing::service::plan_budget(self.db.conn(), &self.plans, user_id).await?,
        );
        Ok(keys)
    }

    /// The error for a reservation of `user_id`'s that the budget `scope` refused: the plan's
    /// budget names the plan (QUOTA_EXCEEDED, `budget: PLAN`, `plan: FREE`), the others their
    /// scope.
    /// The plans and their entitlements, for other AI work that counts against them.
    pub fn plans(&self) -> &crate::billing::plans::Plans {
        &self.plans
    }

    pub async fn refusal(&self, user_id: &str, scope: &'static str) -> ApiError {
        if scope != budgets::PLAN_MONTHLY {
            return quota_exceeded(scope);
        }
        match crate::billing::service::plan_of(self.db.conn(), user_id).await {
            Ok(plan) => ApiError::PlanLimit {
                plan: plan.as_str(),
                metric: persistence::subscriptions::TOKENS,
            },
            Err(e) => e,
        }
    }

    /// The invitation a conversation runs under, if any.
    async fn invitation_of(
        &self,
        conversation: &conversations::Conversation,
    ) -> ApiResult<Option<Invitation>> {
        match &conversation.invitation_id {
            Some(id) => Ok(practice::invitation(self.db.conn(), id).await?),
            None => Ok(None),
        }
    }

    /// A practice session's exchange: the user's message, then two replies streamed side by
    /// side, the PARTNER answering in character (partner prompt and model, the dialogue only)
    /// and the COACH commenting on the user's last turn (coach prompt and model, the dialogue as
    /// a transcript; its comments never enter the partner's context). Both calls are checked
    /// and reserved before anything is stored, against every budget (the invitation's too): all
    /// or nothing.
    async fn start_practice_reply(
        self: &Arc<Self>,
        conversation: conversations::Conversation,
        scenario_id: &str,
        user_id: &str,
        model: Option<String>,
        turn: UserTurn,
    ) -> ApiResult<Started> {
        let UserTurn::New { content, parent_id } = turn else {
            return Err(ApiError::bad_input(
                "messageId",
                "practice sessions cannot be edited or regenerated",
            ));
        };
        if model.is_some() {
            return Err(ApiError::bad_input(
                "model",
                "a practice session uses its scenario's models",
            ));
        }
        let all = store::all_in(self.db.conn(), &conversation.id).await?;
        // The user's turn follows the dialogue (the partner's last reply), never a coach comment.
        let parent = match parent_id {
            Some(p) => {
                self.conversations
                    .parent_for(&conversation, Some(&p))
                    .await?
            }
            None => all
                .iter()
                .rev()
                .find(|m| *m.role != MessageRole::Coach)
                .map(|m| m.id.clone()),
        };
        require_open(&conversation)?;
        let scenario = practice::scenario(self.db.conn(), scenario_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("session without its scenario")))?;
        require_disclaimer(&self.db, user_id, self.disclaimer_version.as_deref()).await?;
        self.send_limiter
            .check(user_id)
            .await
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;

        let dialogue = branch_with(&all, parent.as_deref(), &content);
        let coach_view = vec![ChatMessage::user(transcript(&scenario, &dialogue))];
        let invitation = self.invitation_of(&conversation).await?;
        let budgets = self.budgets_for(user_id, invitation.as_ref()).await?;
        let partner = self
            .prepare_call(
                &conversation,
                user_id,
                &scenario.partner_model,
                &scenario.partner_system_prompt,
                dialogue,
                StreamType::Partner,
            )
            .await?;
        let coach = self
            .prepare_call(
                &conversation,
                user_id,
                &scenario.coach_model,
                &scenario.coach_system_prompt,
                coach_view,
                StreamType::Coach,
            )
            .await?;
        // Both calls or neither: one transaction reserves their sum on every budget.
        let calls = vec![
            (partner.estimate, partner.purpose.clone()),
            (coach.estimate, coach.purpose.clone()),
        ];
        let mut reservations = match budgets::reserve_all(self.db.conn(), &budgets, calls).await? {
            Ok(r) => r.into_iter(),
            Err(scope) => return Err(self.refusal(user_id, scope).await),
        };
        let missing = || ApiError::internal(anyhow::anyhow!("fewer reservations than calls"));
        let partner_reservation = reservations.next().ok_or_else(missing)?;
        let coach_reservation = reservations.next().ok_or_else(missing)?;

        let user_message_id = core_domain::ids::new_id();
        let reply = |id: &str, role: MessageRole, info: &ModelInfo| {
            (
                id.to_owned(),
                NewMessage {
                    conversation_id: conversation.id.clone(),
                    user_id: None,
                    parent_id: Some(user_message_id.clone()),
                    role,
                    content: String::new(),
                    status: MessageStatus::Streaming,
                    model: Some(info.id.clone()),
                    provider: Some(info.provider.clone()),
                },
            )
        };
        let rows = vec![
            (
                user_message_id.clone(),
                NewMessage {
                    conversation_id: conversation.id.clone(),
                    user_id: Some(user_id.to_owned()),
                    parent_id: parent,
                    role: MessageRole::User,
                    content,
                    status: MessageStatus::Complete,
                    model: None,
                    provider: None,
                },
            ),
            reply(&partner.reply_id, MessageRole::Partner, &partner.info),
            reply(&coach.reply_id, MessageRole::Coach, &coach.info),
        ];
        let stored = async {
            let txn = self.db.conn().begin().await?;
            let stored = store::append_with_ids(&txn, rows).await?;
            crate::platform::audit::record(
                &txn,
                Some(user_id),
                "message.sent",
                "Message",
                &user_message_id,
                serde_json::json!({ "conversationId": conversation.id, "practice": true }),
            )
            .await?;
            txn.commit().await?;
            Ok::<_, ApiError>(stored)
        }
        .await;
        let mut stored = match stored {
            Ok(s) => s.into_iter(),
            Err(e) => {
                self.release(&partner_reservation).await;
                self.release(&coach_reservation).await;
                return Err(e);
            }
        };
        let missing = || ApiError::internal(anyhow::anyhow!("append returned fewer rows"));
        let user_message = stored.next().ok_or_else(missing)?;
        let partner_reply = stored.next().ok_or_else(missing)?;
        let coach_reply = stored.next().ok_or_else(missing)?;
        let invitation_id = invitation.map(|i| i.id);
        for (call, reservation, stream_type) in [
            (partner, partner_reservation, StreamType::Partner),
            (coach, coach_reservation, StreamType::Coach),
        ] {
            self.spawn_generation(generate::Job {
                message_id: call.reply_id,
                conversation_id: conversation.id.clone(),
                user_id: user_id.to_owned(),
                provider: call.provider,
                info: call.info,
                request: call.request,
                prompt_tokens: call.prompt_tokens,
                reservation,
                budgets: budgets.clone(),
                title_from: None,
                stream_type,
                invitation_id: invitation_id.clone(),
            });
        }
        Ok(Started {
            user_message: Some(user_message),
            reply: partner_reply,
            coach_reply: Some(coach_reply),
        })
    }

    /// Checks the model and its key and fits the prompt to the model's context, for a reply of
    /// `stream_type`; says what to reserve for it.
    async fn prepare_call(
        &self,
        conversation: &conversations::Conversation,
        user_id: &str,
        model: &str,
        system: &str,
        messages: Vec<ChatMessage>,
        stream_type: StreamType,
    ) -> ApiResult<PreparedCall> {
        let (provider, info) = self.providers.for_model(model)?;
        let info = info.clone();
        let api_key = keys::user_key(self.db.conn(), &self.keys, user_id, &info.provider).await?;
        if api_key.is_none() && !self.providers.has_server_key(&info.provider) {
            return Err(ProviderError::NoApiKey.into());
        }
        let system = Some(system.to_owned()).filter(|s| !s.trim().is_empty());
        let max_tokens = self
            .config
            .max_output_tokens
            .min(info.max_output_tokens)
            .max(1);
        let messages = fit_to_context(system.as_deref(), messages, info.context_window, max_tokens);
        let prompt_tokens = estimate_prompt_tokens(system.as_deref(), &messages);
        let estimate = i64::from(prompt_tokens) + i64::from(max_tokens);
        let reply_id = core_domain::ids::new_id();
        let purpose = Purpose {
            message_id: Some(reply_id.clone()),
            user_id: Some(user_id.to_owned()),
            conversation_id: Some(conversation.id.clone()),
            prompt_tokens: i32::try_from(prompt_tokens).unwrap_or(i32::MAX),
            model: info.id.clone(),
            provider: info.provider.clone(),
            stream_type,
        };
        let request = CompletionRequest {
            system,
            api_key,
            ..CompletionRequest::new(info.id.clone(), messages, max_tokens)
        };
        Ok(PreparedCall {
            reply_id,
            provider,
            info,
            request,
            prompt_tokens,
            estimate,
            purpose,
        })
    }

    /// Gives back a reservation whose call never ran.
    async fn release(&self, reservation: &Reservation) {
        if let Err(error) = budgets::settle(self.db.conn(), reservation, 0).await {
            tracing::error!(%error, "cannot release a token reservation");
        }
    }

    async fn store_turn(
        &self,
        conversation: &conversations::Conversation,
        user_id: &str,
        turn: &UserTurn,
        parent_id: Option<String>,
        info: &ModelInfo,
        reply_id: String,
    ) -> ApiResult<(Option<Message>, Message)> {
        let mut rows = Vec::with_capacity(2);
        let user_message_id = match turn {
            UserTurn::New { content, .. } | UserTurn::Edit { content, .. } => {
                let id = core_domain::ids::new_id();
                rows.push((
                    id.clone(),
                    NewMessage {
                        conversation_id: conversation.id.clone(),
                        user_id: Some(user_id.to_owned()),
                        parent_id,
                        role: MessageRole::User,
                        content: content.clone(),
                        status: MessageStatus::Complete,
                        model: None,
                        provider: None,
                    },
                ));
                id
            }
            UserTurn::Existing(m) => m.id.clone(),
        };
        rows.push((
            reply_id,
            NewMessage {
                conversation_id: conversation.id.clone(),
                user_id: None,
                parent_id: Some(user_message_id),
                role: MessageRole::Assistant,
                content: String::new(),
                status: MessageStatus::Streaming,
                model: Some(info.id.clone()),
                provider: Some(info.provider.clone()),
            },
        ));
        let action = match turn {
            UserTurn::New { .. } => "message.sent",
            UserTurn::Edit { .. } => "message.edited",
            UserTurn::Existing(_) => "message.regenerated",
        };
        let txn = self.db.conn().begin().await?;
        let mut stored = store::append_with_ids(&txn, rows).await?;
        let reply = stored
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("append returned no row")))?;
        crate::platform::audit::record(
            &txn,
            Some(user_id),
            action,
            "Message",
            &reply.id,
            serde_json::json!({ "conversationId": conversation.id, "model": info.id }),
        )
        .await?;
        txn.commit().await?;
        Ok((stored.pop(), reply))
    }

    /// The conversation's own system prompt, else its persona's; then, in a room, the room's
    /// name, purpose and prompt type (with what that type asks of the replies).
    async fn system_prompt(
        &self,
        conversation: &conversations::Conversation,
    ) -> ApiResult<Option<String>> {
        /// What a room adds to the system prompt: where the conversation takes place, its purpose, and
        /// how its prompt type shapes the replies.
        fn room_context(room: &catalogue::Room) -> String {
            use core_domain::enums::PromptType;
            let prompt_type = *room.prompt_type;
            let guidance = match prompt_type {
                PromptType::Open => "let the conversation range freely and follow the user's lead",
                PromptType::Guided => "guide the user step by step, one question at a time",
                PromptType::ShortForm => "keep each reply brief: a few sentences at most",
                PromptType::Targeted => {
                    "stay on the room's purpose and the user's specific question"
                }
            };
            format!(
                "This conversation takes place in the room \"{}\".\nThe room's purpose: {}\nPrompt type: {} ({guidance}).",
                room.name,
                room.purpose.trim(),
                prompt_type.as_str(),
            )
        }

        let db = self.db.conn();
        let mut prompt = conversation
            .system_prompt
            .clone()
            .filter(|p| !p.trim().is_empty());
        if prompt.is_none()
            && let Some(persona_id) = &conversation.persona_id
            && let Some(persona) = catalogue::persona(db, persona_id).await?
            && !persona.system_prompt.trim().is_empty()
        {
            prompt = Some(persona.system_prompt);
        }
        if let Some(room_id) = &conversation.room_id
            && let Some(room) = catalogue::room(db, room_id).await?
        {
            let context = room_context(&room);
            prompt = Some(match prompt {
                Some(base) => format!("{base}\n\n{context}"),
                None => context,
            });
        }
        Ok(prompt)
    }

    fn spawn_generation(self: &Arc<Self>, job: generate::Job) {
        let (cancel, cancelled) = watch::channel(None);
        let text = Arc::new(Mutex::new(String::new()));
        self.live_map().insert(
            job.message_id.clone(),
            Live {
                text: Arc::clone(&text),
                cancel,
            },
        );
        let service = Arc::clone(self);
        // A span per provider call (exported as a trace when OpenTelemetry is on).
        let span = tracing::info_span!(
            "provider_call",
            provider = %job.info.provider,
            model = %job.info.id,
            message_id = %job.message_id,
        );
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                generate::run(service, job, text, cancelled).await;
            },
            span,
        ));
    }

    /// Stops a reply, keeping what was produced (status CANCELLED). A reply that already ended
    /// is returned as it is.
    /// Also says whether the cancellation's audit event was written with the change (by the
    /// generator on this instance, or here with the status on another's behalf).
    async fn cancel(&self, message: Message, user_id: &str) -> ApiResult<(Message, bool)> {
        let mut follower = self.bus.follow(&message.id);
        let canceller = generate::Canceller {
            user_id: user_id.to_owned(),
            request_id: crate::platform::audit::request_id(),
        };
        let signalled = self
            .live_map()
            .get(&message.id)
            .map(|live| {
                // The first cancellation wins: a second must not rewrite who stopped the reply.
                live.cancel.send_if_modified(|c| {
                    let first = c.is_none();
                    if first {
                        *c = Some(canceller);
                    }
                    first
                });
                !live.cancel.is_closed()
            })
            .unwrap_or(false);
        let mut recorded = false;
        if signalled {
            // The generator writes the final row and the event, then announces it.
            let wait = async {
                while let Ok(event) = follower.recv().await {
                    if matches!(*event, crate::platform::events::ReplyEvent::Finished { .. }) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), wait).await;
        } else {
            // Generated elsewhere (or ended): that instance sees the status at its next save and
            // stops; the event is written with the status.
            let txn = self.db.conn().begin().await?;
            if store::mark_cancelled(&txn, &message.id).await? {
                crate::platform::audit::record(
                    &txn,
                    Some(user_id),
                    "message.cancelled",
                    "Message",
                    &message.id,
                    serde_json::json!({ "status": MessageStatus::Cancelled.as_str() }),
                )
                .await?;
                txn.commit().await?;
                recorded = true;
                self.bus
                    .publish(crate::platform::events::ReplyEvent::Finished {
                        message_id: message.id.clone(),
                    });
            }
        }
        let now = store::find(self.db.conn(), &message.id)
            .await?
            .ok_or(ApiError::NotFound)?;
        // Stopped by this instance's generator: it wrote the event with the final row.
        recorded |= signalled && *now.status == MessageStatus::Cancelled;
        Ok((now, recorded))
    }
}

/// Replies go only to open conversations: a paused or ended practice session answers CONFLICT.
fn require_open(conversation: &conversations::Conversation) -> ApiResult<()> {
    let status = *conversation.status;
    if status == ConversationStatus::Active {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "the session is {}: resume it to send messages",
            status.as_str()
        )))
    }
}

/// The budget scope a refused reservation names, as the API spells it (`extensions.budget`).
fn quota_exceeded(scope: &'static str) -> ApiError {
    crate::platform::metrics::global().budget_refused(scope);
    ApiError::QuotaExceeded {
        budget: match scope {
            budgets::INVITATION => "INVITATION",
            _ => "DAILY",
        },
    }
}

/// What the coach reads: the dialogue so far as a transcript, ending with the user's turn.
fn transcript(scenario: &Scenario, dialogue: &[ChatMessage]) -> String {
    let mut text = format!(
        "Transcript of a practice conversation. The learner is talking to {}.\n\n",
        scenario.partner_persona
    );
    for turn in dialogue {
        let speaker = if turn.role == ai_providers::Role::User {
            "Learner"
        } else {
            scenario.partner_persona.as_str()
        };
        text.push_str(&format!("{speaker}: {}\n\n", turn.content));
    }
    text.push_str("Comment on the learner's last turn.");
    text
}

/// The path from the root to `parent` (none: a new root), then a new user turn.
fn branch_with(all: &[Message], parent: Option<&str>, content: &str) -> Vec<ChatMessage> {
    let mut branch = parent.map(|p| branch_to(all, p)).unwrap_or_default();
    branch.push(ChatMessage::user(content.to_owned()));
    branch
}

/// The conversation turns from the root to `last` (included), following `parent_id`. Only user
/// and assistant text is sent; empty replies (failed before any output) are skipped.
fn branch_to(all: &[Message], last: &str) -> Vec<ChatMessage> {
    let by_id: HashMap<&str, &Message> = all.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut chain = Vec::new();
    let mut next = Some(last);
    while let Some(id) = next {
        let Some(m) = by_id.get(id) else { break };
        chain.push(*m);
        if chain.len() > all.len() {
            break; // a cycle cannot be stored, but never loop on one
        }
        next = m.parent_id.as_deref();
    }
    chain
        .into_iter()
        .rev()
        .filter_map(|m| match *m.role {
            MessageRole::User => Some(ChatMessage::user(m.content.clone())),
            // A practice partner's replies are the other side of the dialogue; coach comments
            // are never part of it.
            MessageRole::Assistant | MessageRole::Partner if !m.content.is_empty() => {
                Some(ChatMessage::assistant(m.content.clone()))
            }
            _ => None,
        })
        .collect()
}

/// `Arc<dyn Provider>` is what the registry hands out; named for the job's field.
pub(super) type ProviderHandle = Arc<dyn Provider>;
