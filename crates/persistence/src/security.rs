//! Server-wide security settings: the single `main` row of `security_settings`, holding the
//! argon2id hash of the admin PIN.

use core_domain::time;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use crate::StoreError;
use crate::entity::security_settings::{self, Entity};

const MAIN: &str = "main";

/// The admin PIN's hash, when one is set.
pub async fn pin_hash(db: &impl ConnectionTrait) -> Result<Option<String>, StoreError> {
    Ok(Entity::find_by_id(MAIN.to_owned())
        .one(db)
        .await?
        .and_then(|s| s.pin_hash))
}

/// Stores a new PIN hash, creating the `main` row on first use.
pub async fn set_pin_hash(db: &impl ConnectionTrait, hash: String) -> Result<(), StoreError> {
    let now = time::now();
    match Entity::find_by_id(MAIN.to_owned()).one(db).await? {
        Some(row) => {
            let mut row: security_settings::ActiveModel = row.into();
            row.pin_hash = Set(Some(hash));
            row.updated_at = Set(now);
            row.update(db).await?;
        }
        None => {
            security_settings::ActiveModel {
                id: Set(MAIN.to_owned()),
                pin_hash: Set(Some(hash)),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}
