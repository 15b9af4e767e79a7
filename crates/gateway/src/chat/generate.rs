//! The generation task: calls the provider, saves the text in batches and publishes each batch
//! once it is saved, and writes the final message, its usage row and the budget settlement in one
//! transaction. Then, after a first exchange, it names the conversation.
//!
//! **Durable before visible.** A follower is only ever sent text that is already in the database:
//! the task keeps what the provider sent in memory, saves it (one UPDATE of the row) and only then
//! publishes the new text as one delta, and the in-memory text followers on this instance replay
//! from (`Live`) is the saved text too. So after a crash (kill -9) the row, which recovery keeps,
//! starts with everything any follower saw, and its length is at least any `seq` a follower holds:
//! a reconnect with `afterSeq` never goes backwards.
//!
//! **Batches.** A save happens at once when text arrives and the previous save is at least
//! `flush_interval` old (so the first delta of a reply, and the first after a pause, costs one
//! UPDATE, well under a millisecond on a local database, instead of waiting for a timer), and
//! otherwise at `flush_interval` after the previous save with everything that arrived meanwhile.
//! That bounds the statements to one per `flush_interval` (default 100 ms) per reply being
//! generated, plus the final write, and delays text by at most `flush_interval` plus one write.
//! Saving before the first delta adds one write to the time to first token (`just bench-stream`);
//! publishing it unsaved would be faster but is exactly what could be lost in a crash.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ai_providers::{
    CompletionRequest, ModelInfo, ProviderError, StreamEvent, Usage, estimate_prompt_tokens,
    estimate_tokens, title,
};
use core_domain::enums::{MessageStatus, StreamType};
use futures::StreamExt;
use persistence::budgets::{self, BudgetKey, Purpose, Reservation};
use persistence::messages::{self as store, FinishedReply};
use persistence::sea_orm::TransactionTrait as _;
use persistence::usage::{self, NewUsage};
use persistence::{StoreError, conversations, practice};
use tokio::sync::watch;

use super::service::{ChatService, ProviderHandle};
use crate::platform::events::ReplyEvent;
use crate::platform::metrics;

pub(super) struct Job {
    pub message_id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub provider: ProviderHandle,
    pub info: ModelInfo,
    pub request: CompletionRequest,
    pub prompt_tokens: u32,
    pub reservation: Reservation,
    pub budgets: Vec<BudgetKey>,
    /// The first user message, when the conversation should be named after this reply.
    pub title_from: Option<String>,
    /// `chat`, or in a practice session `partner` or `coach`.
    pub stream_type: StreamType,
    /// The invitation whose quota this call counts against (its `usage` is kept true).
    pub invitation_id: Option<String>,
}

enum Outcome {
    Complete(Usage),
    Failed(&'static str),
    Cancelled,
    /// Someone else set the final status (a cancellation handled by another instance).
    Superseded,
}

pub(super) async fn run(
    service: Arc<ChatService>,
    job: Job,
    text: Arc<Mutex<String>>,
    mut cancelled: watch::Receiver<Option<Canceller>>,
) {
    let started = Instant::now();
    let _in_flight = metrics::global().stream_started();
    let mut first_token = true;
    let mut produced = String::new();
    let mut chars = 0usize;
    // What is saved and published: the first `saved_chars` characters (`saved_bytes` bytes) of
    // `produced`.
    let mut saved_chars = 0usize;
    let mut saved_bytes = 0usize;
    let mut last_save: Option<tokio::time::Instant> = None;
    let interval = service.config.flush_interval;
    // Tell other instances' sweepers this reply is alive, even while the provider is silent.
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        service.db.clone(),
        job.message_id.clone(),
        service.config.stale_after / 4,
    )));

    let opened = tokio::select! {
        r = job.provider.stream(job.request.clone()) => Some(r),
        () = cancel_requested(&mut cancelled) => None,
    };
    let outcome = match opened {
        None => Outcome::Cancelled,
        Some(Err(e)) => {
            tracing::warn!(error = %e, message_id = %job.message_id, "the provider call failed");
            Outcome::Failed(e.reason())
        }
        Some(Ok(mut stream)) => loop {
            // When the unsaved text is due to be saved (None: nothing unsaved).
            let due = (chars > saved_chars)
                .then(|| last_save.map_or_else(tokio::time::Instant::now, |at| at + interval));
            let save_now = tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(StreamEvent::Delta(delta))) => {
                        if delta.is_empty() {
                            continue;
                        }
                        if std::mem::take(&mut first_token) {
                            metrics::global().first_token(&job.info.provider, started.elapsed());
                        }
                        chars += delta.chars().count();
                        produced.push_str(&delta);
                        last_save.is_none_or(|at| at.elapsed() >= interval)
                    }
                    Some(Ok(StreamEvent::Finished { usage, .. })) => break Outcome::Complete(usage),
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, message_id = %job.message_id, "the reply stream failed");
                        break Outcome::Failed(e.reason());
                    }
                    None => break Outcome::Failed(ProviderError::StreamInterrupted.reason()),
                },
                () = cancel_requested(&mut cancelled) => break Outcome::Cancelled,
                () = sleep_until(due) => true,
            };
            if !save_now || chars == saved_chars {
                continue;
            }
            last_save = Some(tokio::time::Instant::now());
            match store::save_partial(service.db.conn(), &job.message_id, &produced).await {
                Ok(true) => {
                    let batch = produced[saved_bytes..].to_owned();
                    text.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push_str(&batch);
                    service.bus.publish(ReplyEvent::Delta {
                        message_id: job.message_id.clone(),
                        start: saved_chars,
                        text: batch,
                    });
                    saved_chars = chars;
                    saved_bytes = produced.len();
                }
                // Cancelled or failed elsewhere: stop, and publish nothing more.
                Ok(false) => break Outcome::Superseded,
                // Kept unpublished, and tried again a `flush_interval` later.
                Err(error) => tracing::warn!(%error, "cannot save a partial reply"),
            }
        },
    };

    let latency = started.elapsed();
    let (status, error, billed) = match &outcome {
        Outcome::Complete(usage) => (MessageStatus::Complete, None, *usage),
        Outcome::Failed(reason) => (
            MessageStatus::Failed,
            Some((*reason).to_owned()),
            estimated_usage(job.prompt_tokens, &produced),
        ),
        Outcome::Cancelled | Outcome::Superseded => (
            MessageStatus::Cancelled,
            None,
            estimated_usage(job.prompt_tokens, &produced),
        ),
    };
    let reply = FinishedReply {
        content: produced.clone(),
        status,
        error,
        input_tokens: Some(to_i32(billed.input_tokens)),
        output_tokens: Some(to_i32(billed.output_tokens)),
    };
    metrics::global().provider_call(
        &job.info.provider,
        &job.info.id,
        metrics::CallUsage {
            ok: matches!(outcome, Outcome::Complete(_)),
            input_tokens: billed.input_tokens,
            output_tokens: billed.output_tokens,
            cost_micros: job.info.cost_micros(&billed),
        },
    );
    let write_message = !matches!(outcome, Outcome::Superseded);
    // The cancellation's audit event is written with the row it changed.
    let canceller = match outcome {
        Outcome::Cancelled => cancelled.borrow().clone(),
        _ => None,
    };
    let ending = Ending {
        reply: &reply,
        billed,
        latency,
        write_message,
        canceller: canceller.as_ref(),
    };
    if let Err(error) = finish(&service, &job, ending).await {
        tracing::error!(%error, message_id = %job.message_id, "cannot store the final reply");
    }
    service.live_map().remove(&job.message_id);
    service.bus.publish(ReplyEvent::Finished {
        message_id: job.message_id.clone(),
    });

    if let (Outcome::Complete(_), Some(first)) = (&outcome, &job.title_from) {
        name_conversation(&service, &job, first).await;
    }
}

/// Resolves at `at`, or never when there is nothing to wait for.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves once a cancellation is requested (or never, if nobody can request one any more).
async fn cancel_requested(cancelled: &mut watch::Receiver<Option<Canceller>>) {
    if cancelled.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a call that ended early probably cost: the prompt, and the text received. Providers
/// bill a broken stream for what they sent; they just do not say how much.
pub(super) fn estimated_usage(prompt_tokens: u32, produced: &str) -> Usage {
    if produced.is_empty() {
        return Usage::default();
    }
    Usage {
        input_tokens: prompt_tokens,
        output_tokens: estimate_tokens(produced),
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn cost(info: &ModelInfo, usage: &Usage) -> Option<i64> {
    let cost = info.cost_micros(usage);
    if cost.is_none() {
        tracing::warn!(model = %info.id, "model has no known price; its cost is recorded as unknown");
    }
    cost
}

/// Who asked for a reply to stop, for the audit event the generator writes with the final row.
#[derive(Debug, Clone)]
pub(super) struct Canceller {
    pub user_id: String,
    pub request_id: Option<String>,
}

/// How a generation ended, for [`finish`].
struct Ending<'a> {
    reply: &'a FinishedReply,
    billed: Usage,
    latency: std::time::Duration,
    /// False when another instance wrote the final status (a remote cancellation).
    write_message: bool,
    /// Set when a caller of `cancelMessage` on this instance stopped the reply.
    canceller: Option<&'a Canceller>,
}

async fn finish(service: &ChatService, job: &Job, ending: Ending<'_>) -> Result<(), StoreError> {
    let Ending {
        reply,
        billed,
        latency,
        write_message,
        canceller,
    } = ending;
    let txn = service.db.conn().begin().await?;
    if write_message {
        store::finish(&txn, &job.message_id, reply).await?;
    }
    if let Some(who) = canceller {
        persistence::audit::record(
            &txn,
            persistence::audit::NewEvent {
                action: "message.cancelled".into(),
                source: "message".into(),
                actor_id: Some(who.user_id.clone()),
                entity_type: Some("Message".into()),
                entity_id: Some(job.message_id.clone()),
                request_id: who.request_id.clone(),
                summary: serde_json::json!({ "status": MessageStatus::Cancelled.as_str() }),
            },
        )
        .await?;
    }
    // The reservation is the ticket: if recovery settled it (it took this instance for dead),
    // the call is billed already and nothing more is written.
    let used = i64::from(billed.input_tokens) + i64::from(billed.output_tokens);
    if !budgets::settle(&txn, &job.reservation, used).await? {
        txn.commit().await?;
        return Ok(());
    }
    usage::insert(
        &txn,
        NewUsage {
            user_id: Some(job.user_id.clone()),
            invitation_id: job.invitation_id.clone(),
            conversation_id: Some(job.conversation_id.clone()),
            message_id: Some(job.message_id.clone()),
            provider: job.info.provider.clone(),
            model: job.info.id.clone(),
            stream_type: job.stream_type,
            input_tokens: to_i32(billed.input_tokens),
            output_tokens: to_i32(billed.output_tokens),
            cost_micros: cost(&job.info, &billed),
            latency_ms: Some(i32::try_from(latency.as_millis()).unwrap_or(i32::MAX)),
        },
    )
    .await?;
    if let Some(invitation_id) = &job.invitation_id {
        practice::sync_invitation_usage(&txn, invitation_id).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Names the conversation after its first exchange, once: the first reply to finish claims the
/// title by setting the first words of the message (so parallel first sends name it once), then
/// asks the same model for a better title. The title call reserves against the same budgets as
/// every other call before it runs (no reservation, no call: the first words stay) and is settled
/// with its usage row in one transaction. Failures only cost the better title.
async fn name_conversation(service: &ChatService, job: &Job, first_message: &str) {
    let db = service.db.conn();
    let fallback = title::fallback_title(first_message);
    match conversations::claim_title(db, &job.conversation_id, &fallback).await {
        Ok(true) => {}
        Ok(false) => return, // named already, by the user or by a parallel first reply
        Err(error) => {
            tracing::warn!(%error, "cannot claim the conversation's title");
            return;
        }
    }
    let mut request = title::title_request(&job.info.id, first_message);
    request.api_key = job.request.api_key.clone();
    let prompt_tokens = estimate_prompt_tokens(request.system.as_deref(), &request.messages);
    let estimate = i64::from(prompt_tokens) + i64::from(request.max_tokens);
    let purpose = Purpose {
        message_id: None,
        user_id: Some(job.user_id.clone()),
        conversation_id: Some(job.conversation_id.clone()),
        prompt_tokens: to_i32(prompt_tokens),
        model: job.info.id.clone(),
        provider: job.info.provider.clone(),
        stream_type: StreamType::Title,
    };
    let reservation = match budgets::reserve(db, &job.budgets, estimate, purpose).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::info!(conversation_id = %job.conversation_id, "no budget left for a title; keeping the first words");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot reserve tokens for a title");
            return;
        }
    };
    let started = Instant::now();
    let (better, billed, ok) = match job.provider.complete(request).await {
        Ok(done) => (title::clean_title(&done.text), done.usage, true),
        Err(error) => {
            tracing::warn!(%error, "title generation failed; keeping the first words");
            (None, Usage::default(), false)
        }
    };
    metrics::global().provider_call(
        &job.info.provider,
        &job.info.id,
        metrics::CallUsage {
            ok,
            input_tokens: billed.input_tokens,
            output_tokens: billed.output_tokens,
            cost_micros: job.info.cost_micros(&billed),
        },
    );
    let result: Result<(), StoreError> = async {
        let txn = db.begin().await?;
        if let Some(better) = &better {
            conversations::set_generated_title(&txn, &job.conversation_id, better).await?;
        }
        let used = i64::from(billed.input_tokens) + i64::from(billed.output_tokens);
        if budgets::settle(&txn, &reservation, used).await? && used > 0 {
            usage::insert(
                &txn,
                NewUsage {
                    user_id: Some(job.user_id.clone()),
                    invitation_id: job.invitation_id.clone(),
                    conversation_id: Some(job.conversation_id.clone()),
                    message_id: None,
                    provider: job.info.provider.clone(),
                    model: job.info.id.clone(),
                    stream_type: StreamType::Title,
                    input_tokens: to_i32(billed.input_tokens),
                    output_tokens: to_i32(billed.output_tokens),
                    cost_micros: cost(&job.info, &billed),
                    latency_ms: Some(
                        i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
                    ),
                },
            )
            .await?;
            if let Some(invitation_id) = &job.invitation_id {
                practice::sync_invitation_usage(&txn, invitation_id).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "cannot store the generated title");
    }
}

/// Touches a STREAMING reply every `every` until it is no longer STREAMING.
async fn heartbeat(db: persistence::Db, message_id: String, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match store::touch_streaming(db.conn(), &message_id).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => tracing::warn!(%error, "cannot heartbeat a streaming reply"),
        }
    }
}

/// Aborts the task when dropped, so a heartbeat never outlives its generator.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
