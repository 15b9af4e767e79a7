//! Dataloaders for the User → Conversation → Message graph and the catalogue. Each `load` issues
//! one statement for all the keys it is given, so a nested query costs a number of statements set
//! by its depth, never by its row counts. Page loaders are keyed by parent and page arguments;
//! keys that share arguments (the usual case: every parent asked for `first: 10`) are read
//! together with a window function.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::catalogue::{self, Persona, Room};
use persistence::conversations::{self, Conversation, ConversationFilter, ConversationOrder};
use persistence::entity::persona_rooms;
pub use persistence::messages::ParentKey;
use persistence::messages::{self, Message, MessageFilter, MessageOrder};
use persistence::{Db, Page, StoreError};

type LoadError = Arc<StoreError>;

/// Groups keys by everything but their parent, so each group is one batched statement.
fn group_by_query<K: Clone, Q: Clone + Eq + std::hash::Hash>(
    keys: &[K],
    split: impl Fn(&K) -> (String, Q),
) -> HashMap<Q, Vec<String>> {
    let mut groups: HashMap<Q, Vec<String>> = HashMap::new();
    for key in keys {
        let (parent, query) = split(key);
        groups.entry(query).or_default().push(parent);
    }
    groups
}

/// One user's page of conversations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationPageKey {
    pub user_id: String,
    pub query: Arc<(ConversationFilter, ConversationOrder, PageArgs)>,
}

pub struct ConversationPages(pub Db);

impl Loader<ConversationPageKey> for ConversationPages {
    type Value = Page<Conversation>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ConversationPageKey],
    ) -> Result<HashMap<ConversationPageKey, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (query, parents) in group_by_query(keys, |k| (k.user_id.clone(), Arc::clone(&k.query)))
        {
            let (filter, order, args) = &*query;
            let pages =
                conversations::pages_for_users(self.0.conn(), &parents, filter, *order, args)
                    .await?;
            for (user_id, page) in pages {
                out.insert(
                    ConversationPageKey {
                        user_id,
                        query: Arc::clone(&query),
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}

/// How many conversations a user has under a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationCountKey {
    pub user_id: String,
    pub filter: Arc<ConversationFilter>,
}

pub struct ConversationCounts(pub Db);

impl Loader<ConversationCountKey> for ConversationCounts {
    type Value = u64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ConversationCountKey],
    ) -> Result<HashMap<ConversationCountKey, u64>, Self::Error> {
        let mut out = HashMap::new();
        for (filter, parents) in
            group_by_query(keys, |k| (k.user_id.clone(), Arc::clone(&k.filter)))
        {
            let counts = conversations::counts_for_users(self.0.conn(), &parents, &filter).await?;
            for user_id in parents {
                let n = counts.get(&user_id).copied().unwrap_or(0);
                out.insert(
                    ConversationCountKey {
                        user_id,
                        filter: Arc::clone(&filter),
                    },
                    n,
                );
            }
        }
        Ok(out)
    }
}

/// One conversation's page of messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessagePageKey {
    pub conversation_id: String,
    pub query: Arc<(MessageFilter, MessageOrder, PageArgs)>,
}

pub struct MessagePages(pub Db);

impl Loader<MessagePageKey> for MessagePages {
    type Value = Page<Message>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MessagePageKey],
    ) -> Result<HashMap<MessagePageKey, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (query, parents) in
            group_by_query(keys, |k| (k.conversation_id.clone(), Arc::clone(&k.query)))
        {
            let (filter, order, args) = &*query;
            let pages =
                messages::pages_for_conversations(self.0.conn(), &parents, filter, *order, args)
                    .await?;
            for (conversation_id, page) in pages {
                out.insert(
                    MessagePageKey {
                        conversation_id,
                        query: Arc::clone(&query),
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageCountKey {
    pub conversation_id: String,
    pub filter: Arc<MessageFilter>,
}

pub struct MessageCounts(pub Db);

impl Loader<MessageCountKey> for MessageCounts {
    type Value = u64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MessageCountKey],
    ) -> Result<HashMap<MessageCountKey, u64>, Self::Error> {
        let mut out = HashMap::new();
        for (filter, parents) in
            group_by_query(keys, |k| (k.conversation_id.clone(), Arc::clone(&k.filter)))
        {
            let counts =
                messages::counts_for_conversations(self.0.conn(), &parents, &filter).await?;
            for conversation_id in parents {
                let n = counts.get(&conversation_id).copied().unwrap_or(0);
                out.insert(
                    MessageCountKey {
                        conversation_id,
                        filter: Arc::clone(&filter),
                    },
                    n,
                );
            }
        }
        Ok(out)
    }
}

/// Rows by primary key: conversations, personas, rooms.
pub struct ById(pub Db);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationId(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonaId(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomId(pub String);
/// The compatibility links of a persona (`Persona.rooms`) or a room (`Room.personas`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinksOfPersona(pub String);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinksOfRoom(pub String);

fn ids<K>(keys: &[K], f: impl Fn(&K) -> &String) -> Vec<String> {
    keys.iter().map(|k| f(k).clone()).collect()
}

impl Loader<ConversationId> for ById {
    type Value = Conversation;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Conversation>, Self::Error> {
        let rows = conversations::by_ids(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|c| (ConversationId(c.id.clone()), c))
            .collect())
    }
}

impl Loader<PersonaId> for ById {
    type Value = Persona;
    type Error = LoadError;
    async fn load(&self, keys: &[PersonaId]) -> Result<HashMap<PersonaId, Persona>, Self::Error> {
        let rows = catalogue::personas_by_ids(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|p| (PersonaId(p.id.clone()), p))
            .collect())
    }
}

impl Loader<RoomId> for ById {
    type Value = Room;
    type Error = LoadError;
    async fn load(&self, keys: &[RoomId]) -> Result<HashMap<RoomId, Room>, Self::Error> {
        let rows = catalogue::rooms_by_ids(self.0.conn(), &ids(keys, |k| &k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|r| (RoomId(r.id.clone()), r))
            .collect())
    }
}

impl Loader<LinksOfPersona> for ById {
    type Value = Vec<persona_rooms::Model>;
    type Error = LoadError;
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

impl Loader<LinksOfRoom> for ById {
    type Value = Vec<persona_rooms::Model>;
    type Error = LoadError;
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

/// A message's children (`Message.children`) or its siblings' parent (`Message.siblings`), in
/// one statement for a whole list.
impl Loader<ParentKey> for ById {
    type Value = Vec<persistence::messages::Message>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[ParentKey],
    ) -> Result<HashMap<ParentKey, Self::Value>, Self::Error> {
        Ok(persistence::messages::children_of(self.0.conn(), keys).await?)
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub conversation_pages: DataLoader<ConversationPages>,
    pub conversation_counts: DataLoader<ConversationCounts>,
    pub message_pages: DataLoader<MessagePages>,
    pub message_counts: DataLoader<MessageCounts>,
    pub by_id: DataLoader<ById>,
}

/// How long a loader waits for more keys before it loads. async-graphql resolves the items of a
/// list concurrently, but registering hundreds of them can take longer than the library's 1 ms
/// default on a busy machine, which splits one level into several statements; 5 ms keeps a level
/// in one batch at the cost of a few milliseconds per nested level.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// Enough keys for the largest nested page (100 parents × 100 children), so the page cap, not the
/// batch size, bounds a level; both SQLite and PostgreSQL take that many bound parameters.
const MAX_BATCH: usize = 10_000;

fn loader<L: Send + Sync + 'static>(inner: L) -> DataLoader<L> {
    DataLoader::new(inner, tokio::spawn)
        .delay(BATCH_WINDOW)
        .max_batch_size(MAX_BATCH)
}

impl Loaders {
    pub fn new(db: &Db) -> Self {
        Self {
            conversation_pages: loader(ConversationPages(db.clone())),
            conversation_counts: loader(ConversationCounts(db.clone())),
            message_pages: loader(MessagePages(db.clone())),
            message_counts: loader(MessageCounts(db.clone())),
            by_id: loader(ById(db.clone())),
        }
    }
}
