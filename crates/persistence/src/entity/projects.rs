//! `projects`: a user's unit of work in the workspace (OptiMind `Project`).
//!
//! `status` is ACTIVE, COMPLETED, ARCHIVED or SUSPENDED. Soft-deleted through `deleted_at`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub status: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
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
    #[sea_orm(has_many = "super::analyses::Entity")]
    Analyses,
    #[sea_orm(has_many = "super::uploads::Entity")]
    Uploads,
    #[sea_orm(has_many = "super::conversations::Entity")]
    Conversations,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::analyses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Analyses.def()
    }
}

impl Related<super::uploads::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Uploads.def()
    }
}

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
