//! `skills`: the skills catalogue (Azora `Skill`), with unique names.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "skills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub name: String,
    pub category: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user_skills::Entity")]
    UserSkills,
    #[sea_orm(has_many = "super::job_skills::Entity")]
    JobSkills,
}

impl Related<super::user_skills::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserSkills.def()
    }
}

impl Related<super::job_skills::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobSkills.def()
    }
}

impl Related<super::jobs::Entity> for Entity {
    fn to() -> RelationDef {
        super::job_skills::Relation::Jobs.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::job_skills::Relation::Skills.def().rev())
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
