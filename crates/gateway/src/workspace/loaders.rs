//! The workspace's loaders: projects by id (for a run's `project`), and each project's runs of
//! every kind and its uploads through the generic per-parent [`Pages`] loader (one statement per
//! level). The filter of a project's list is its owner's id, so a page never holds anyone else's
//! run or file.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::sea_orm::ConnectionTrait;
use persistence::workspace::{self, Project};
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, Pages};

macro_rules! project_runs {
    ($name:ident, $store:ident) => {
        /// A project's runs of one kind, newest first.
        pub struct $name;

        impl ChildList for $name {
            type Filter = String;
            type Order = ();
            type Row = workspace::$store::Row;

            async fn pages(
                db: &impl ConnectionTrait,
                parents: &[String],
                owner: &String,
                _order: (),
                args: &PageArgs,
            ) -> Result<HashMap<String, Page<Self::Row>>, StoreError> {
                workspace::$store::pages_for_projects(db, owner, parents, args).await
            }

            async fn counts(
                db: &impl ConnectionTrait,
                parents: &[String],
                owner: &String,
            ) -> Result<HashMap<String, u64>, StoreError> {
                workspace::$store::counts_for_projects(db, owner, parents).await
            }
        }
    };
}

project_runs!(ProjectAnalyses, analyses);
project_runs!(ProjectContracts, contracts);
project_runs!(ProjectLocalizations, localizations);
project_runs!(ProjectBehaviors, behaviors);
project_runs!(ProjectCompliance, compliance);
project_runs!(ProjectLearningPaths, learning_paths);

/// A project's live uploads, newest first.
pub struct ProjectUploads;

impl ChildList for ProjectUploads {
    type Filter = String;
    type Order = ();
    type Row = persistence::uploads::Upload;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        owner: &String,
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Self::Row>>, StoreError> {
        persistence::uploads::pages_for_projects(db, owner, parents, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        owner: &String,
    ) -> Result<HashMap<String, u64>, StoreError> {
        persistence::uploads::counts_for_projects(db, owner, parents).await
    }
}

/// A project by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectId(pub String);

/// Projects by id, deleted ones included; the caller checks ownership on what it gets.
pub struct ProjectRows(Db);

impl Loader<ProjectId> for ProjectRows {
    type Value = Arc<Project>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ProjectId],
    ) -> Result<HashMap<ProjectId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows =
            persistence::rows::by_ids::<persistence::entity::projects::Entity>(self.0.conn(), &ids)
                .await?;
        Ok(rows
            .into_iter()
            .map(|p| (ProjectId(p.id.clone()), Arc::new(p)))
            .collect())
    }
}

/// The workspace's loaders of one request.
pub struct WorkspaceLoaders {
    pub projects: DataLoader<ProjectRows>,
    pub analyses: DataLoader<Pages<ProjectAnalyses>>,
    pub contracts: DataLoader<Pages<ProjectContracts>>,
    pub localizations: DataLoader<Pages<ProjectLocalizations>>,
    pub behaviors: DataLoader<Pages<ProjectBehaviors>>,
    pub compliance: DataLoader<Pages<ProjectCompliance>>,
    pub learning_paths: DataLoader<Pages<ProjectLearningPaths>>,
    pub uploads: DataLoader<Pages<ProjectUploads>>,
}

impl WorkspaceLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            projects: batching(ProjectRows(db.clone())),
            analyses: batching(Pages::new(db.clone())),
            contracts: batching(Pages::new(db.clone())),
            localizations: batching(Pages::new(db.clone())),
            behaviors: batching(Pages::new(db.clone())),
            compliance: batching(Pages::new(db.clone())),
            learning_paths: batching(Pages::new(db.clone())),
            uploads: batching(Pages::new(db.clone())),
        }
    }
}
