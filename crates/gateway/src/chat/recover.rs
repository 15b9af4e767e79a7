//! Recovery of AI calls whose server died mid-call (a crash, `kill -9`, a lost machine).
//!
//! Such a reply stays STREAMING and its tokens stay reserved on the caller's budgets, which
//! would refuse them for the rest of the period while nothing was billed. Recovery finds these
//! replies (on SQLite every STREAMING reply at start-up, since one server owns the file; on
//! PostgreSQL only replies whose generator stopped saving and heartbeating, at start-up and by a
//! periodic sweep) and, for each, in one transaction: marks it FAILED (`interrupted`) keeping its
//! saved text, settles its reservation to an estimate of what the provider billed (the prompt,
//! and the text that was produced), and writes its `usage_logs` row. The reservation row is the
//! ticket: whoever deletes it (the generator finishing, or recovery) bills the call, so it is
//! billed exactly once, whatever the race. Message-less calls (titles) whose reservation outlived
//! them are settled the same way.

use ai_providers::{Providers, Usage};
use chrono::{DateTime, Utc};
use persistence::budgets::{self, PendingReservation, Reservation};
use persistence::messages;
use persistence::sea_orm::{EntityTrait as _, TransactionTrait as _};
use persistence::usage::{self, NewUsage};
use persistence::{Db, StoreError};

/// Replies recovered per batch (each in its own transaction).
const BATCH: u64 = 100;

/// What recovery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub replies: u64,
    pub reservations: u64,
}

/// Fails the interrupted replies last touched before `cutoff` (all of them when `None`) and
/// settles and bills their calls; also settles message-less reservations older than `cutoff`
/// (all when `None`).
pub async fn interrupted(
    db: &Db,
    providers: &Providers,
    cutoff: Option<DateTime<Utc>>,
) -> Result<Recovered, StoreError> {
    let mut done = Recovered::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let batch = messages::streaming(db.conn(), cutoff, BATCH).await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|m| seen.insert(m.id.clone()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for reply in fresh {
            if recover_reply(db, providers, &reply, cutoff).await? {
                done.replies += 1;
            }
        }
    }
    let before = cutoff.unwrap_or_else(|| core_domain::time::now() + chrono::Duration::seconds(1));
    for (row, reservation) in budgets::stale_without_message(db.conn(), before).await? {
        let billed = Usage {
            input_tokens: u32::try_from(row.prompt_tokens).unwrap_or(0),
            output_tokens: 0,
        };
        let txn = db.conn().begin().await?;
        if settle_and_bill(&txn, providers, &row, &reservation, None, billed).await? {
            done.reservations += 1;
        }
        txn.commit().await?;
    }
    Ok(done)
}

async fn recover_reply(
    db: &Db,
    providers: &Providers,
    reply: &messages::Message,
    cutoff: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let txn = db.conn().begin().await?;
    let pending = budgets::pending_for_message(&txn, &reply.id).await?;
    let prompt_tokens = pending
        .as_ref()
        .map_or(0, |(row, _)| u32::try_from(row.prompt_tokens).unwrap_or(0));
    let billed = super::generate::estimated_usage(prompt_tokens, &reply.content);
    let failed = messages::fail_interrupted(
        &txn,
        &reply.id,
        cutoff,
        to_i32(billed.input_tokens),
        to_i32(billed.output_tokens),
    )
    .await?;
    if failed && let Some((row, reservation)) = pending {
        settle_and_bill(&txn, providers, &row, &reservation, Some(reply), billed).await?;
    }
    txn.commit().await?;
    Ok(failed)
}

/// Settles `reservation` to `billed` and writes its usage row, unless it was settled already.
async fn settle_and_bill(
    db: &impl persistence::sea_orm::ConnectionTrait,
    providers: &Providers,
    row: &PendingReservation,
    reservation: &Reservation,
    reply: Option<&messages::Message>,
    billed: Usage,
) -> Result<bool, StoreError> {
    let used = i64::from(billed.input_tokens) + i64::from(billed.output_tokens);
    if !budgets::settle(db, reservation, used).await? {
        return Ok(false);
    }
    let cost = providers
        .for_model(&row.model)
        .ok()
        .and_then(|(_, info)| info.cost_micros(&billed));
    // A practice session's calls count against its invitation: its usage is kept true too.
    let invitation_id = match &row.conversation_id {
        Some(id) => persistence::entity::conversations::Entity::find_by_id(id.clone())
            .one(db)
            .await?
            .and_then(|c| c.invitation_id),
        None => None,
    };
    usage::insert(
        db,
        NewUsage {
            user_id: row.user_id.clone(),
            invitation_id: invitation_id.clone(),
            conversation_id: row.conversation_id.clone(),
            message_id: reply.map(|m| m.id.clone()),
            provider: row.provider.clone(),
            model: row.model.clone(),
            stream_type: *row.stream_type,
            input_tokens: to_i32(billed.input_tokens),
            output_tokens: to_i32(billed.output_tokens),
            cost_micros: cost,
            latency_ms: None,
        },
    )
    .await?;
    if let Some(invitation_id) = &invitation_id {
        persistence::practice::sync_invitation_usage(db, invitation_id).await?;
    }
    tracing::warn!(
        reservation = %row.id,
        message_id = ?reply.map(|m| m.id.as_str()),
        tokens = used,
        "settled the reservation of an interrupted AI call"
    );
    Ok(true)
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
