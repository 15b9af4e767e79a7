//! `localization_analyses`: GlobalFit AI market-adaptation analyses (OptiMind
//! `LocalizationAnalysis`).
//!
//! `product_images` is a JSON array of image URLs; `status` is PENDING, PROCESSING, COMPLETED,
//! FAILED or REVIEW_REQUIRED.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "localization_analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub product_name: String,
    pub target_market: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub product_images: Option<Json>,
    #[sea_orm(column_type = "Text")]
    pub product_desc: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub cultural_analysis: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub visual_adaptation: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub market_strategy: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub compliance_check: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub competitor_analysis: Option<Json>,
    /// In 0..1.
    pub confidence: Option<f64>,
    /// Milliseconds.
    pub processing_time: Option<i32>,
    pub status: String,
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
