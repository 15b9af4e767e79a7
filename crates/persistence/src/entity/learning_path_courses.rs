//! `learning_path_courses`: the ordered courses of a curated learning path (Azora `LearningPath`),
//! ordered by `position` (ascending).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_path_courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learning_path_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub course_id: String,
    pub position: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::learning_paths::Entity",
        from = "Column::LearningPathId",
        to = "super::learning_paths::Column::Id",
        on_delete = "Cascade"
    )]
    LearningPaths,
    #[sea_orm(
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_delete = "Cascade"
    )]
    Courses,
}

impl Related<super::learning_paths::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LearningPaths.def()
    }
}

impl Related<super::courses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Courses.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
