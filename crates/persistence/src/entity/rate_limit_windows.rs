//! `rate_limit_windows`: how many permits of one rate limit were taken in one fixed window, shared
//! by every gateway instance on PostgreSQL (see the `limits` store). `key` names the limit and
//! its subject (`send:<user id>`, `request:ip:<address>`, ...); `window_start` is the window's
//! start in Unix seconds. Rows of past windows are deleted by the gateway's periodic sweep.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_windows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub window_start: i64,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
