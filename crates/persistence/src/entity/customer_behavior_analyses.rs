//! `customer_behavior_analyses`: BehaviorPredict AI analyses (OptiMind
//! `CustomerBehaviorAnalysis`).
//!
//! `conversion_probability` and `churn_risk` are in 0..1; `status` is PENDING, PROCESSING,
//! COMPLETED, FAILED or INSUFFICIENT_DATA.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_behavior_analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub customer_segment: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub data_source: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub behavior_prediction: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub sentiment_analysis: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub journey_mapping: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub recommendations: Option<Json>,
    pub conversion_probability: Option<f64>,
    pub churn_risk: Option<f64>,
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
