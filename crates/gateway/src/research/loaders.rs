//! The research area's loaders: each session's usage rows and observation notes, a page per
//! session for a whole level in one statement (through the generic [`Pages`] loader).

use std::collections::HashMap;

use async_graphql::dataloader::DataLoader;
use core_domain::pagination::PageArgs;
use persistence::research::{self, ObservationNote, UsageLog};
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, CountKey, PageKey, Pages};

/// A session's usage rows, oldest first.
pub struct SessionUsage;

impl ChildList for SessionUsage {
    type Filter = ();
    type Order = ();
    type Row = UsageLog;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<UsageLog>>, StoreError> {
        research::usage_pages(db, parents, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
    ) -> Result<HashMap<String, u64>, StoreError> {
        research::usage_counts(db, parents).await
    }
}

/// A session's observation notes, oldest first.
pub struct SessionNotes;

impl ChildList for SessionNotes {
    type Filter = ();
    type Order = ();
    type Row = ObservationNote;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<ObservationNote>>, StoreError> {
        research::note_pages(db, parents, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        _filter: &(),
    ) -> Result<HashMap<String, u64>, StoreError> {
        research::note_counts(db, parents).await
    }
}

pub type SessionPageKey = PageKey<(), ()>;
pub type SessionCountKey = CountKey<()>;

/// The research area's loaders of one request.
pub struct ResearchLoaders {
    pub usage_pages: DataLoader<Pages<SessionUsage>>,
    pub note_pages: DataLoader<Pages<SessionNotes>>,
}

impl ResearchLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            usage_pages: batching(Pages::new(db.clone())),
            note_pages: batching(Pages::new(db.clone())),
        }
    }
}
