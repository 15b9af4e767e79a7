//! `invitations`: an invitation link into a practice programme (002 `Invitation`).
//!
//! `quota` is a JSON object such as `{"tokens": 25000, "label": "Short conversation"}`; `usage`
//! holds what has been consumed, in the same shape (`{}` at first). Anyone holding `token` may use
//! the invitation until `expires_at`; `linked_user_id` is the user who claimed it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub token: String,
    pub label: Option<String>,
    pub scenario_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub quota: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub usage: Json,
    pub expires_at: DateTimeUtc,
    pub claimed_at: Option<DateTimeUtc>,
    pub linked_user_id: Option<String>,
    pub created_by_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::scenarios::Entity",
        from = "Column::ScenarioId",
        to = "super::scenarios::Column::Id",
        on_delete = "SetNull"
    )]
    Scenarios,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::LinkedUserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    LinkedUser,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::CreatedById",
        to = "super::users::Column::Id",
        on_delete = "Restrict"
    )]
    CreatedBy,
    #[sea_orm(has_many = "super::conversations::Entity")]
    Conversations,
}

impl Related<super::scenarios::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scenarios.def()
    }
}

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
