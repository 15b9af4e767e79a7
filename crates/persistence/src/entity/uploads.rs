//! `uploads`: an uploaded file (OptiMind `Upload`).
//!
//! `status` is PENDING, PROCESSING, COMPLETED, FAILED or DELETED; `size` is in bytes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Name as stored.
    pub filename: String,
    /// Name the user gave it.
    pub original_name: String,
    pub path: String,
    /// Bytes.
    pub size: i64,
    pub mime_type: String,
    pub status: String,
    pub user_id: String,
    pub project_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub processed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// Text extracted from a document (plain text, Markdown, PDF), for analyses that read it.
    #[sea_orm(column_type = "Text")]
    pub extracted_text: Option<String>,
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
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id",
        on_delete = "SetNull"
    )]
    Projects,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Projects.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
