//! The practice area's loaders: scenarios and invitations by id (for `Conversation.scenario`,
//! `Conversation.invitation`, `Invitation.scenario`), and each invitation's sessions through the
//! generic per-parent [`Pages`] loader (one statement per level).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::practice::{self, Invitation, Scenario, Session};
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, CountKey, PageKey, Pages};

/// An invitation's sessions, newest first.
pub struct InvitationSessions;

impl ChildList for InvitationSessions {
    type Filter = ();
    type Order = ();
    type Row = Session;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Session>>, StoreError> {
        practice::sessions_for_invitations(db, parents, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
    ) -> Result<HashMap<String, u64>, StoreError> {
        practice::session_counts_for_invitations(db, parents).await
    }
}

pub type SessionPageKey = PageKey<(), ()>;
pub type SessionCountKey = CountKey<()>;

/// The ordering name of an invitation's session cursors.
pub fn session_ordering() -> &'static str {
    practice::SESSIONS_NEWEST.name
}

/// A scenario by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScenarioId(pub String);

/// An invitation by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvitationId(pub String);

/// Scenarios and invitations by id; access is the caller's to check on what it gets.
pub struct PracticeRows(Db);

impl Loader<ScenarioId> for PracticeRows {
    type Value = Arc<Scenario>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ScenarioId],
    ) -> Result<HashMap<ScenarioId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = practice::scenarios_by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|s| (ScenarioId(s.id.clone()), Arc::new(s)))
            .collect())
    }
}

impl Loader<InvitationId> for PracticeRows {
    type Value = Arc<Invitation>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[InvitationId],
    ) -> Result<HashMap<InvitationId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = practice::invitations_by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|i| (InvitationId(i.id.clone()), Arc::new(i)))
            .collect())
    }
}

/// The practice area's loaders of one request.
pub struct PracticeLoaders {
    pub rows: DataLoader<PracticeRows>,
    pub session_pages: DataLoader<Pages<InvitationSessions>>,
}

impl PracticeLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            rows: batching(PracticeRows(db.clone())),
            session_pages: batching(Pages::new(db.clone())),
        }
    }
}
