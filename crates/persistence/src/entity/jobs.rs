//! `jobs`: job listings (Azora `Job`).
//!
//! `employment_type` is FULL_TIME, PART_TIME, CONTRACT, INTERNSHIP or FREELANCE; `status` is
//! DRAFT, OPEN, CLOSED or FILLED. Salaries are in the smallest unit of `salary_currency`.
//! `posted_by_id` is NULL for seeded jobs and once the poster's account is deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub company: String,
    pub location: Option<String>,
    pub employment_type: String,
    pub is_remote: bool,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<String>,
    pub status: String,
    pub posted_by_id: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::PostedById",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    PostedBy,
    #[sea_orm(has_many = "super::job_applications::Entity")]
    JobApplications,
    #[sea_orm(has_many = "super::job_skills::Entity")]
    JobSkills,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PostedBy.def()
    }
}

impl Related<super::job_applications::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobApplications.def()
    }
}

impl Related<super::job_skills::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobSkills.def()
    }
}

impl Related<super::skills::Entity> for Entity {
    fn to() -> RelationDef {
        super::job_skills::Relation::Skills.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::job_skills::Relation::Jobs.def().rev())
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
