//! The catalogue's use cases. Personas and rooms are public (no access check); the catalogue is
//! small and seeded, so its lists are read whole (and paged in memory by the API).

use persistence::{Db, catalogue};

use crate::error::{ApiError, ApiResult};

pub use persistence::catalogue::{Persona, Room};

pub struct CatalogueService {
    db: Db,
}

impl CatalogueService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Every persona, by name.
    pub async fn personas(&self) -> ApiResult<Vec<Persona>> {
        Ok(catalogue::personas(self.db.conn()).await?)
    }

    /// A persona by id (NOT_FOUND when there is none).
    pub async fn persona(&self, id: &str) -> ApiResult<Persona> {
        catalogue::persona(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// A persona by id, or `None` (look-ups answer null).
    pub async fn find_persona(&self, id: &str) -> ApiResult<Option<Persona>> {
        Ok(catalogue::persona(self.db.conn(), id).await?)
    }

    /// A room by id, or `None` (look-ups answer null).
    pub async fn find_room(&self, id: &str) -> ApiResult<Option<Room>> {
        Ok(catalogue::room(self.db.conn(), id).await?)
    }

    /// Every room, by name.
    pub async fn rooms(&self) -> ApiResult<Vec<Room>> {
        Ok(catalogue::rooms(self.db.conn()).await?)
    }

    /// A room by id (NOT_FOUND when there is none).
    pub async fn room(&self, id: &str) -> ApiResult<Room> {
        catalogue::room(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }
}
