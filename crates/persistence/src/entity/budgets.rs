//! `budgets`: token limits that AI calls reserve against before they run (see the `budgets`
//! store). One row per `scope` (`user_daily`, later invitations and subscriptions), subject and
//! period; `used + reserved <= limit_tokens` always holds for reservations.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "budgets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub scope: String,
    pub subject_id: String,
    pub period: String,
    pub limit_tokens: i64,
    pub used: i64,
    pub reserved: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::entity::stamp_timestamps!(created_at, updated_at);
