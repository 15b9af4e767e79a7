//! Chat: how a user's message becomes an AI reply (DESIGN.md §5).
//!
//! `start_reply` does everything that can refuse a request before anything is stored: the
//! disclaimer, the per-user send rate, the model and its key, the prompt, and the token
//! reservation against every budget that applies. It then stores the user's message (unless it
//! answers an existing one) and an ASSISTANT message with status STREAMING, and spawns the
//! generation task ([`generate`]), which belongs to the server, not to the request.
//!
//! Conventions: a reply's stream positions (`seq`) are character offsets (Unicode scalar values)
//! into the message content; the generating instance keeps the text produced so far in memory
//! (`Live`) for followers and saves it to the database every `flush_interval`, so a follower on
//! any instance, or after the task ended, can replay from the row ([`follow`]).

mod follow;
mod generate;
pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ai_providers::{
    ChatMessage, CompletionRequest, ModelInfo, Provider, ProviderError, Providers,
    estimate_prompt_tokens, fit_to_context,
};
use auth::KeyRing;
use core_domain::enums::{MessageRole, MessageStatus};
use persistence::budgets::{self, BudgetKey};
use persistence::messages::{self as store, Message, NewMessage};
use persistence::{Db, catalogue, conversations, users};
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::events::ReplyBus;
use crate::rate_limit::RateLimiter;

pub use follow::ReplyChunk;

/// A reply being generated on this instance.
struct Live {
    text: Arc<Mutex<String>>,
    cancel: watch::Sender<bool>,
}

/// The chat use cases, shared by every request.
pub struct ChatService {
    db: Db,
    providers: Arc<Providers>,
    keys: KeyRing,
    bus: ReplyBus,
    config: crate::config::ChatConfig,
    disclaimer_version: Option<String>,
    send_limiter: RateLimiter,
    live: Mutex<HashMap<String, Live>>,
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

/// The messages a reply request stored.
pub struct Started {
    pub user_message: Option<Message>,
    pub reply: Message,
}

impl ChatService {
    /// Builds the providers from configuration and opens the key ring.
    pub fn new(db: Db, config: &Config, bus: ReplyBus) -> anyhow::Result<Arc<Self>> {
        let providers = Providers::from_config(config.chat.providers.clone())?;
        Self::with_providers(db, config, bus, Arc::new(providers))
    }

    /// Like [`ChatService::new`] with a ready registry (tests swap in fakes this way).
    pub fn with_providers(
        db: Db,
        config: &Config,
        bus: ReplyBus,
        providers: Arc<Providers>,
    ) -> anyhow::Result<Arc<Self>> {
        let keys = keys::load_key_ring(&config.chat)?;
        Ok(Arc::new(Self {
            db,
            providers,
            keys,
            bus,
            send_limiter: RateLimiter::new(config.chat.send_rate_per_minute),
            config: config.chat.clone(),
            disclaimer_version: config.auth.disclaimer_version.clone(),
            live: Mutex::new(HashMap::new()),
        }))
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    pub fn bus(&self) -> &ReplyBus {
        &self.bus
    }

    /// Replies being generated on this instance.
    pub fn generating(&self) -> usize {
        self.live_map().len()
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The model a conversation's next reply uses when the request names none.
    pub fn model_for(&self, conversation: &conversations::Conversation) -> String {
        conversation
            .model
            .clone()
            .unwrap_or_else(|| self.providers.default_model().to_owned())
    }

    /// Checks that `model` can be used, for settings that name one.
    pub fn check_model(&self, model: &str) -> ApiResult<()> {
        self.providers
            .for_model(model)
            .map(|_| ())
            .map_err(Into::into)
    }

    /// AI calls need the current disclaimer accepted, when the server requires one.
    async fn check_disclaimer(&self, user_id: &str) -> ApiResult<()> {
        let Some(version) = &self.disclaimer_version else {
            return Ok(());
        };
        let user = users::find(self.db.conn(), user_id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if user.disclaimer_version.as_deref() == Some(version.as_str()) {
            Ok(())
        } else {
            Err(ApiError::DisclaimerRequired {
                version: version.clone(),
            })
        }
    }

    /// Checks, reserves, stores and starts a reply in `conversation` (whose access the caller
    /// checked) for `user_id`. The request's own ids are checked first, so a refused id answers
    /// the same whatever the caller's disclaimer, send rate or keys.
    pub async fn start_reply(
        self: &Arc<Self>,
        conversation: conversations::Conversation,
        user_id: &str,
        model: Option<String>,
        turn: UserTurn,
    ) -> ApiResult<Started> {
        if let UserTurn::New { content, .. } | UserTurn::Edit { content, .. } = &turn {
            core_domain::validation::check_message_content(content)?;
        }
        let all = store::all_in(self.db.conn(), &conversation.id).await?;
        // A new or edited user message goes under its parent; the branch sent to the provider is
        // the path to that parent plus the new text. A regeneration answers a stored message.
        let (parent_id, mut branch, first_exchange) = match &turn {
            UserTurn::New { content, parent_id } => {
                let parent = match parent_id {
                    Some(p) => Some(
                        all.iter()
                            .find(|m| &m.id == p)
                            .ok_or_else(|| {
                                ApiError::bad_input(
                                    "parentId",
                                    "is not a message of this conversation",
                                )
                            })?
                            .id
                            .clone(),
                    ),
                    None => all.last().map(|m| m.id.clone()),
                };
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
        self.check_disclaimer(user_id).await?;
        self.send_limiter
            .check(user_id)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;

        let model = match model {
            Some(m) => m,
            None => self.model_for(&conversation),
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

        let budgets = self.budgets_for(user_id);
        let estimate = i64::from(prompt_tokens) + i64::from(max_tokens);
        let reservation = budgets::reserve(self.db.conn(), &budgets, estimate)
            .await?
            .ok_or(ApiError::QuotaExceeded)?;

        let stored = self
            .store_turn(&conversation, user_id, &turn, parent_id, &info)
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
        });
        Ok(Started {
            user_message,
            reply,
        })
    }

    /// Every budget a call by `user_id` reserves against. Invitations and subscriptions add
    /// theirs here.
    fn budgets_for(&self, user_id: &str) -> Vec<BudgetKey> {
        vec![BudgetKey::user_daily(
            user_id,
            self.config.daily_token_limit,
        )]
    }

    async fn store_turn(
        &self,
        conversation: &conversations::Conversation,
        user_id: &str,
        turn: &UserTurn,
        parent_id: Option<String>,
        info: &ModelInfo,
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
            core_domain::ids::new_id(),
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
        let mut stored = store::append_with_ids(self.db.conn(), rows).await?;
        let reply = stored
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("append returned no row")))?;
        Ok((stored.pop(), reply))
    }

    /// The conversation's own system prompt, else its persona's.
    async fn system_prompt(
        &self,
        conversation: &conversations::Conversation,
    ) -> ApiResult<Option<String>> {
        if let Some(own) = conversation
            .system_prompt
            .as_ref()
            .filter(|p| !p.trim().is_empty())
        {
            return Ok(Some(own.clone()));
        }
        if let Some(persona_id) = &conversation.persona_id
            && let Some(persona) = catalogue::persona(self.db.conn(), persona_id).await?
            && !persona.system_prompt.trim().is_empty()
        {
            return Ok(Some(persona.system_prompt));
        }
        Ok(None)
    }

    fn spawn_generation(self: &Arc<Self>, job: generate::Job) {
        let (cancel, cancelled) = watch::channel(false);
        let text = Arc::new(Mutex::new(String::new()));
        self.live_map().insert(
            job.message_id.clone(),
            Live {
                text: Arc::clone(&text),
                cancel,
            },
        );
        let service = Arc::clone(self);
        tokio::spawn(async move {
            generate::run(service, job, text, cancelled).await;
        });
    }

    /// Stops a reply, keeping what was produced (status CANCELLED). A reply that already ended
    /// is returned as it is.
    pub async fn cancel(&self, message: Message) -> ApiResult<Message> {
        let mut follower = self.bus.follow(&message.id);
        let signalled = self
            .live_map()
            .get(&message.id)
            .map(|live| live.cancel.send(true).is_ok())
            .unwrap_or(false);
        if signalled {
            // The generator writes the final row, then announces it.
            let wait = async {
                while let Ok(event) = follower.recv().await {
                    if matches!(*event, crate::events::ReplyEvent::Finished { .. }) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), wait).await;
        } else if store::mark_cancelled(self.db.conn(), &message.id).await? {
            // Generated elsewhere: that instance sees the status at its next save and stops.
            self.bus.publish(crate::events::ReplyEvent::Finished {
                message_id: message.id.clone(),
            });
        }
        store::find(self.db.conn(), &message.id)
            .await?
            .ok_or(ApiError::NotFound)
    }
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
        .filter_map(|m| match m.role.as_str() {
            r if r == MessageRole::User.as_str() => Some(ChatMessage::user(m.content.clone())),
            r if r == MessageRole::Assistant.as_str() && !m.content.is_empty() => {
                Some(ChatMessage::assistant(m.content.clone()))
            }
            _ => None,
        })
        .collect()
}

/// `Arc<dyn Provider>` is what the registry hands out; named for the job's field.
type ProviderHandle = Arc<dyn Provider>;
