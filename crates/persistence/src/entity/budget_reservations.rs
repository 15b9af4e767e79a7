//! `budget_reservations`: the tokens an AI call in flight holds on its budgets, one row per call,
//! written with the reservation and deleted by the settlement (see the `budgets` store). A row
//! left behind belongs to a call whose server died; recovery settles it.
//!
//! `budget_ids` is a JSON array of `budgets.id`; `message_id` is the reply being generated, if
//! the call stores one. `stream_type` is `chat`, `partner`, `coach`, `title` or `analysis`.

use core_domain::enums::StreamType;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_reservations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub conversation_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub budget_ids: Json,
    pub tokens: i64,
    pub prompt_tokens: i32,
    pub model: String,
    pub provider: String,
    pub stream_type: Text<StreamType>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::entity::stamp_timestamps!(created_at);
