//! `events`: the system event log (Azora `Event`): something that happened in a service, such as
//! `user.registered` or `payment.completed`, with its JSON `payload`. `processed_at` is set once
//! the event has been handled.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub r#type: String,
    /// The service that emitted it.
    pub source: String,
    pub user_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub processed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// What the change was made to, e.g. `Journal` and its id (audit rows).
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// The `x-request-id` of the request that made the change.
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Users,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
