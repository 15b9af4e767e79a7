//! `usage_daily`: the daily rollup of `usage_logs`, one row per UTC day (`YYYY-MM-DD`) and
//! provider, model, stream type, user and invitation (`''` when the call had none), kept current
//! in the transaction that writes each usage row (`usage::insert`). Analytics answers day-bucket
//! usage queries in UTC from it when the dimensions asked for are all in its key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub model: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub invitation_key: String,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub unknown_cost_calls: i64,
    pub latency_ms_sum: i64,
    pub latency_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
