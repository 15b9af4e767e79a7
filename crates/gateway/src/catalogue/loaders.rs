//! The catalogue's loaders: personas and rooms by id, and the persona ↔ room links, each one
//! statement for all the keys of a level.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use persistence::catalogue::{self, Persona, PersonaRoom, Room};
use persistence::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonaId(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomId(pub String);
/// The compatibility links of a persona (`Persona.rooms`) or a room (`Room.personas`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinksOfPersona(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinksOfRoom(pub String);

/// Catalogue rows by key.
pub struct CatalogueRows(pub Db);

fn ids<K>(keys: &[K], f: impl Fn(&K) -> &String) -> Vec<String> {
    keys.iter().map(|k| f(k).clone()).collect()
}

impl Loader<PersonaId> for CatalogueRows {
    type Value = Arc<Persona>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[PersonaId],
    ) -> Result<HashMap<PersonaId, Self::Value>, Self::Error> {
        let rows = catalogue::personas_by_ids(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|p| (PersonaId(p.id.clone()), Arc::new(p)))
            .collect())
    }
}

impl Loader<RoomId> for CatalogueRows {
    type Value = Arc<Room>;
    type Error = Arc<StoreError>;
    async fn load(&self, keys: &[RoomId]) -> Result<HashMap<RoomId, Self::Value>, Self::Error> {
        let rows = catalogue::rooms_by_ids(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|r| (RoomId(r.id.clone()), Arc::new(r)))
            .collect())
    }
}

impl Loader<LinksOfPersona> for CatalogueRows {
    type Value = Vec<PersonaRoom>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[LinksOfPersona],
    ) -> Result<HashMap<LinksOfPersona, Self::Value>, Self::Error> {
        let links = catalogue::links_for_personas(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(links
            .into_iter()
            .map(|(k, v)| (LinksOfPersona(k), v))
            .collect())
    }
}

impl Loader<LinksOfRoom> for CatalogueRows {
    type Value = Vec<PersonaRoom>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[LinksOfRoom],
    ) -> Result<HashMap<LinksOfRoom, Self::Value>, Self::Error> {
        let links = catalogue::links_for_rooms(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(links
            .into_iter()
            .map(|(k, v)| (LinksOfRoom(k), v))
            .collect())
    }
}
