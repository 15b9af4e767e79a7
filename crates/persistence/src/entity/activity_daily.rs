//! `activity_daily`: the daily rollup of activity, one row per UTC day (`YYYY-MM-DD`), scope
//! (`all`, or `research`: invitation sessions only), metric and label (a role, a status or `''`),
//! written by the periodic roll (`analytics::roll_activity`). Analytics answers UTC day-bucket
//! activity queries without groups or filters from it for the days it holds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub label: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
