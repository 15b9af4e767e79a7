//! `module_progress`: the modules an enrolment has completed, one row per (enrolment, module).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "module_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub enrollment_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub module_id: String,
    pub completed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::enrollments::Entity",
        from = "Column::EnrollmentId",
        to = "super::enrollments::Column::Id",
        on_delete = "Cascade"
    )]
    Enrollments,
    #[sea_orm(
        belongs_to = "super::course_modules::Entity",
        from = "Column::ModuleId",
        to = "super::course_modules::Column::Id",
        on_delete = "Cascade"
    )]
    CourseModules,
}

impl ActiveModelBehavior for ActiveModel {}
