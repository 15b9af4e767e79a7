//! `persona_rooms`: which personas a room supports, replacing Numira's two arrays
//! (`Persona.defaultRooms`, `Room.supportedPersonas`) that could disagree. `is_default` marks the
//! rooms that were among the persona's `defaultRooms`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "persona_rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub persona_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    pub is_default: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::personas::Entity",
        from = "Column::PersonaId",
        to = "super::personas::Column::Id",
        on_delete = "Cascade"
    )]
    Personas,
    #[sea_orm(
        belongs_to = "super::rooms::Entity",
        from = "Column::RoomId",
        to = "super::rooms::Column::Id",
        on_delete = "Cascade"
    )]
    Rooms,
}

impl Related<super::personas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Personas.def()
    }
}

impl Related<super::rooms::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Rooms.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
