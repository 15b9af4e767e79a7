//! `usage_logs`: one row per provider call. Written in the transaction that stores the reply.

use core_domain::enums::StreamType;
use core_domain::{ids, time};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::StoreError;
use crate::entity::usage_logs::{self, Column, Entity};

pub use usage_logs::Model as UsageLog;

#[derive(Debug, Clone)]
pub struct NewUsage {
    pub user_id: Option<String>,
    /// The invitation whose quota the call counted against.
    pub invitation_id: Option<String>,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub stream_type: StreamType,
    pub input_tokens: i32,
    pub output_tokens: i32,
    /// `None` when the model's price is unknown: never recorded as free.
    pub cost_micros: Option<i64>,
    pub latency_ms: Option<i32>,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewUsage) -> Result<UsageLog, StoreError> {
    let row = usage_logs::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(new.user_id),
        invitation_id: Set(new.invitation_id),
        conversation_id: Set(new.conversation_id),
        message_id: Set(new.message_id),
        provider: Set(new.provider),
        model: Set(new.model),
        stream_type: Set(new.stream_type.into()),
        input_tokens: Set(new.input_tokens),
        output_tokens: Set(new.output_tokens),
        cost_micros: Set(new.cost_micros),
        latency_ms: Set(new.latency_ms),
        created_at: Set(time::now()),
    };
    let row = row.insert(db).await?;
    // The plan's token counter moves with the usage row, in its transaction, so the two agree.
    if let Some(user_id) = &row.user_id {
        let tokens = i64::from(row.input_tokens) + i64::from(row.output_tokens);
        crate::subscriptions::add_usage(db, user_id, crate::subscriptions::TOKENS, tokens).await?;
    }
    Ok(row)
}

/// The rows for one conversation, in no particular order.
pub async fn for_conversation(
    db: &impl ConnectionTrait,
    conversation_id: &str,
) -> Result<Vec<UsageLog>, StoreError> {
    Ok(Entity::find()
        .filter(Column::ConversationId.eq(conversation_id))
        .all(db)
        .await?)
}
