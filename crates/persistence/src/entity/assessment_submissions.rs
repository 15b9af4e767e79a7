//! `assessment_submissions`: a learner's attempt at an assessment.
//!
//! `status` is SUBMITTED (an assignment awaiting its educator) or GRADED. `answers` is the
//! learner's JSON (for quizzes and exams, an array of chosen option indexes); `score` out of
//! `max_score`, and `passed` against the assessment's pass mark, once graded. `graded_by` is the
//! educator who graded an assignment.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assessment_submissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub assessment_id: String,
    pub user_id: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub answers: Option<Json>,
    pub score: Option<i32>,
    pub max_score: Option<i32>,
    pub passed: Option<bool>,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub feedback: Option<String>,
    pub graded_by: Option<String>,
    pub submitted_at: DateTimeUtc,
    pub graded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::assessments::Entity",
        from = "Column::AssessmentId",
        to = "super::assessments::Column::Id",
        on_delete = "Cascade"
    )]
    Assessments,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    Users,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::GradedBy",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Grader,
}

impl Related<super::assessments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Assessments.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
