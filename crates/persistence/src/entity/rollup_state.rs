//! `rollup_state`: how far each periodic rollup got, one row per rollup (`activity`): every UTC
//! day before `rolled_to` (`YYYY-MM-DD`, null until the first roll) is in the rollup, and when
//! that was last recomputed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rollup_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub rolled_to: Option<String>,
    pub rolled_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
