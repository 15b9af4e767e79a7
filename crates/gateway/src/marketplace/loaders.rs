//! The marketplace's loaders: the skills of many jobs, of many users, and skills by id, one
//! statement per level.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use persistence::marketplace::{self, JobSkill, Skill, UserSkill};
use persistence::{Db, StoreError};

use crate::graphql::context::batching;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkillId(pub String);
/// The skills a job asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkillsOfJob(pub String);
/// The skills a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkillsOfUser(pub String);

pub struct MarketRows(pub Db);

pub type MarketplaceLoaders = DataLoader<MarketRows>;

pub fn loaders(db: &Db) -> MarketplaceLoaders {
    batching(MarketRows(db.clone()))
}

impl Loader<SkillId> for MarketRows {
    type Value = Arc<Skill>;
    type Error = Arc<StoreError>;
    async fn load(&self, keys: &[SkillId]) -> Result<HashMap<SkillId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = marketplace::skills_by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|s| (SkillId(s.id.clone()), Arc::new(s)))
            .collect())
    }
}

impl Loader<SkillsOfJob> for MarketRows {
    type Value = Arc<Vec<JobSkill>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[SkillsOfJob],
    ) -> Result<HashMap<SkillsOfJob, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut by: HashMap<SkillsOfJob, Vec<JobSkill>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for row in marketplace::job_skills(self.0.conn(), &ids).await? {
            by.entry(SkillsOfJob(row.job_id.clone()))
                .or_default()
                .push(row);
        }
        Ok(by.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<SkillsOfUser> for MarketRows {
    type Value = Arc<Vec<UserSkill>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[SkillsOfUser],
    ) -> Result<HashMap<SkillsOfUser, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut by: HashMap<SkillsOfUser, Vec<UserSkill>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for row in marketplace::user_skills(self.0.conn(), &ids).await? {
            by.entry(SkillsOfUser(row.user_id.clone()))
                .or_default()
                .push(row);
        }
        Ok(by.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}
