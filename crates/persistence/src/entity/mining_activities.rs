//! `mining_activities`: Proof-of-Knowledge mining (Azora `MiningActivity`): learning that earns a
//! reward once verified.
//!
//! `activity_type` is e.g. MODULE_COMPLETED, COURSE_COMPLETED or ASSESSMENT_PASSED; `status` is
//! PENDING, VERIFIED, REWARDED or REJECTED. `reward_amount` is in the smallest unit of `currency`;
//! `transaction_id` is the ledger row that paid it. `proof` is the JSON evidence.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mining_activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub activity_type: String,
    pub course_id: Option<String>,
    pub assessment_id: Option<String>,
    /// Smallest unit of `currency`.
    pub reward_amount: i64,
    pub currency: String,
    pub status: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub proof: Option<Json>,
    pub transaction_id: Option<String>,
    pub verified_at: Option<DateTimeUtc>,
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
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_delete = "SetNull"
    )]
    Courses,
    #[sea_orm(
        belongs_to = "super::assessments::Entity",
        from = "Column::AssessmentId",
        to = "super::assessments::Column::Id",
        on_delete = "SetNull"
    )]
    Assessments,
    #[sea_orm(
        belongs_to = "super::transactions::Entity",
        from = "Column::TransactionId",
        to = "super::transactions::Column::Id",
        on_delete = "SetNull"
    )]
    Transactions,
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

impl Related<super::assessments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Assessments.def()
    }
}

impl Related<super::transactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transactions.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
