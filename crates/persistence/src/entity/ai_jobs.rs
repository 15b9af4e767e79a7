//! `ai_jobs`: durable AI work of the workspace (analyses and business-solution runs), claimed
//! by the gateway's workers under a lease (see the `jobs` store).
//!
//! `status` is PENDING, RUNNING, DONE, FAILED or CANCELLED; `kind` names the handler and
//! `subject_id` the row it fills.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub user_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::entity::stamp_timestamps!(created_at, updated_at);
