//! `assessments`: a quiz, exam or assignment in a course (Azora `Assessment`), as its educator
//! wrote it (`user_id` is the author); learners' attempts are `assessment_submissions`.
//!
//! `type` is QUIZ, EXAM or ASSIGNMENT; `status` is PENDING, SUBMITTED or GRADED. `questions` is a
//! JSON array, `answers` the user's JSON answers once submitted; `passed` is NULL until graded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assessments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub course_id: String,
    pub module_id: Option<String>,
    pub r#type: String,
    pub title: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub questions: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub answers: Option<Json>,
    pub score: Option<i32>,
    pub max_score: Option<i32>,
    pub passed: Option<bool>,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub feedback: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub graded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Percent of the maximum score needed to pass.
    pub pass_mark: i32,
    /// BEGINNER, INTERMEDIATE or ADVANCED: with the score, decides the mining reward.
    pub difficulty: String,
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
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_delete = "Cascade"
    )]
    Courses,
    #[sea_orm(
        belongs_to = "super::course_modules::Entity",
        from = "Column::ModuleId",
        to = "super::course_modules::Column::Id",
        on_delete = "SetNull"
    )]
    CourseModules,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::courses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Courses.def()
    }
}

impl Related<super::course_modules::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourseModules.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
