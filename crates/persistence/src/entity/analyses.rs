//! `analyses`: a generic AI analysis (OptiMind `Analysis`).
//!
//! `type` is TEXT_ANALYSIS, IMAGE_ANALYSIS, CODE_ANALYSIS, DATA_ANALYSIS, SENTIMENT_ANALYSIS,
//! CONTENT_OPTIMIZATION, SEO_ANALYSIS or MULTIMODAL_ANALYSIS; `status` is PENDING, PROCESSING,
//! COMPLETED or FAILED. `confidence` is in 0..1, `processing_time` in milliseconds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub r#type: String,
    #[sea_orm(column_type = "Text")]
    pub input: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub result: Option<Json>,
    pub confidence: Option<f64>,
    pub status: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub model: Option<String>,
    /// Milliseconds.
    pub processing_time: Option<i32>,
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
