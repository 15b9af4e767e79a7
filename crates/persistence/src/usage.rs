//! `usage_logs`: one row per provider call. Written in the transaction that stores the reply,
//! together with its share of the daily rollup (`usage_daily`, see `analytics`).

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
    insert_at(db, new, time::now()).await
}

/// [`insert`] with the call's time given (imports, fixtures and benchmarks).
pub async fn insert_at(
    db: &impl ConnectionTrait,
    new: NewUsage,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<UsageLog, StoreError> {
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
        created_at: Set(at),
    };
    let row = row.insert(db).await?;
    roll_up(db, &row).await?;
    // The plan's token counter moves with the usage row, in its transaction, so the two agree.
    if let Some(user_id) = &row.user_id {
        let tokens = i64::from(row.input_tokens) + i64::from(row.output_tokens);
        crate::subscriptions::add_usage(db, user_id, crate::subscriptions::TOKENS, tokens).await?;
    }
    Ok(row)
}

/// Adds `row` to its day's rollup row (insert, or add to the sums), in one statement on the
/// caller's connection, so the rollup is exactly as committed as the usage row.
async fn roll_up(db: &impl ConnectionTrait, row: &UsageLog) -> Result<(), StoreError> {
    use crate::entity::usage_daily::{ActiveModel, Column, Entity as Daily};
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
    let latency = row.latency_ms.map_or(0, i64::from);
    let daily = ActiveModel {
        day: Set(row.created_at.format("%Y-%m-%d").to_string()),
        provider: Set(row.provider.clone()),
        model: Set(row.model.clone()),
        stream_type: Set(row.stream_type.as_str().to_owned()),
        user_key: Set(row.user_id.clone().unwrap_or_default()),
        invitation_key: Set(row.invitation_id.clone().unwrap_or_default()),
        calls: Set(1),
        input_tokens: Set(i64::from(row.input_tokens)),
        output_tokens: Set(i64::from(row.output_tokens)),
        cost_micros: Set(row.cost_micros.unwrap_or(0)),
        unknown_cost_calls: Set(i64::from(row.cost_micros.is_none())),
        latency_ms_sum: Set(latency),
        latency_count: Set(i64::from(row.latency_ms.is_some())),
    };
    let sums = [
        Column::Calls,
        Column::InputTokens,
        Column::OutputTokens,
        Column::CostMicros,
        Column::UnknownCostCalls,
        Column::LatencyMsSum,
        Column::LatencyCount,
    ];
    let mut conflict = OnConflict::columns([
        Column::Day,
        Column::Provider,
        Column::Model,
        Column::StreamType,
        Column::UserKey,
        Column::InvitationKey,
    ]);
    for col in sums {
        conflict.value(
            col,
            Expr::col((Daily, col)).add(Expr::col((Alias::new("excluded"), col))),
        );
    }
    Daily::insert(daily)
        .on_conflict(conflict.to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
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
