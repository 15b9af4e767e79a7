//! `courses`: the course catalogue (Azora `Course`), addressed by a unique `slug`.
//!
//! `level` is BEGINNER, INTERMEDIATE or ADVANCED; `status` is DRAFT, PUBLISHED or ARCHIVED.
//! `tags` is a JSON array of strings. `price` is in the smallest unit of `currency` (0 = free).
//! `instructor_id` is the educator who wrote it; the course stays when they go.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub level: String,
    pub category: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub language: String,
    pub instructor_id: Option<String>,
    pub thumbnail_url: Option<String>,
    pub duration_minutes: Option<i32>,
    /// Smallest unit of `currency`; 0 = free.
    pub price: i64,
    pub currency: String,
    pub status: String,
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::InstructorId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Instructor,
    #[sea_orm(has_many = "super::course_modules::Entity")]
    CourseModules,
    #[sea_orm(has_many = "super::enrollments::Entity")]
    Enrollments,
    #[sea_orm(has_many = "super::assessments::Entity")]
    Assessments,
    #[sea_orm(has_many = "super::learning_path_courses::Entity")]
    LearningPathCourses,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Instructor.def()
    }
}

impl Related<super::course_modules::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourseModules.def()
    }
}

impl Related<super::enrollments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Enrollments.def()
    }
}

impl Related<super::assessments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Assessments.def()
    }
}

impl Related<super::learning_path_courses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LearningPathCourses.def()
    }
}

impl Related<super::learning_paths::Entity> for Entity {
    fn to() -> RelationDef {
        super::learning_path_courses::Relation::LearningPaths.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::learning_path_courses::Relation::Courses.def().rev())
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
