//! `subscriptions`: a user's plan (OptiMind `Subscription`), at most one per user.
//!
//! `plan` is FREE, BASIC, PRO or ENTERPRISE; `status` is ACTIVE, CANCELLED, EXPIRED or PENDING.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub user_id: String,
    pub plan: String,
    pub status: String,
    pub current_period_start: DateTimeUtc,
    pub current_period_end: DateTimeUtc,
    pub cancel_at_period_end: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    Users,
    #[sea_orm(has_many = "super::subscription_usage::Entity")]
    SubscriptionUsage,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::subscription_usage::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SubscriptionUsage.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
