//! `compliance_monitoring`: ComplianceGuard AI monitoring records (OptiMind
//! `ComplianceMonitoring`).
//!
//! `status` is PENDING, PROCESSING, COMPLETED, FAILED, REVIEW_REQUIRED or URGENT_ATTENTION.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "compliance_monitoring")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub business_type: String,
    pub jurisdiction: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub regulations: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub risk_assessment: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub document_reviews: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub action_plan: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub audit_preparation: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub training_materials: Option<Json>,
    pub next_review_date: Option<DateTimeUtc>,
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
