//! `learning_paths`: SkillPath AI generated paths (OptiMind `LearningPath`) and Azora's curated
//! paths, which have a `title` and `description`, usually no owner, and their ordered courses in
//! `learning_path_courses`.
//!
//! `status` is PENDING, PROCESSING, COMPLETED, FAILED, IN_PROGRESS or ON_HOLD.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_paths")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub title: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub user_profile: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub skill_assessment: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub learning_style: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub generated_path: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub progress_tracking: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub certifications: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub recommendations: Option<Json>,
    pub estimated_completion: Option<DateTimeUtc>,
    /// In 0..1.
    pub confidence: Option<f64>,
    /// Milliseconds.
    pub processing_time: Option<i32>,
    pub status: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Azora's curated paths (true), as opposed to SkillPath runs.
    pub curated: bool,
    /// The educator or admin who curated the path (curated paths only).
    pub author_id: Option<String>,
    /// When a curated path was published; learners see published ones only.
    pub published_at: Option<DateTimeUtc>,
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
