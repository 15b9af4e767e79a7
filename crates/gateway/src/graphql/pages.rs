//! The one per-parent page loader. A nested list (`User.conversations`, `Conversation.messages`)
//! is read for every parent on a level in one statement: the list says how to read pages and
//! counts for many parents ([`ChildList`]).
//!
//! Levels are read ahead, not batched by a timer: the resolver that produced a level's parents
//! (a connection, or a root field) looks at the query's selection and calls [`Pages::prefetch`]
//! for all of them at once, before any child resolver runs; the child resolvers then find their
//! page ready ([`page`], [`count`]). So a level is one statement whatever the load, where a
//! loader's collection window splits a level into several batches when the machine is busy.
//! What look-ahead cannot see falls back to the dataloader, which groups the keys of a level by
//! filter, order and page arguments. Rows are shared (`Arc`) between the loader and the response,
//! so a page is never copied.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::error::{ApiError, ApiResult};

/// A list of children read per parent.
pub trait ChildList: Send + Sync + 'static {
    type Filter: Clone + Eq + Hash + Send + Sync + 'static;
    type Order: Copy + Eq + Hash + Send + Sync + 'static;
    type Row: Send + Sync + 'static;

    /// One page per parent, in one statement.
    fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &Self::Filter,
        order: Self::Order,
        args: &PageArgs,
    ) -> impl Future<Output = Result<HashMap<String, Page<Self::Row>>, StoreError>> + Send;

    /// [`Self::pages`] reading only `columns` of each row (bits the list defines); lists that
    /// always read whole rows keep this default.
    fn pages_with(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &Self::Filter,
        order: Self::Order,
        args: &PageArgs,
        columns: Columns,
    ) -> impl Future<Output = Result<HashMap<String, Page<Self::Row>>, StoreError>> + Send {
        let _ = columns;
        Self::pages(db, parents, filter, order, args)
    }

    /// How many children each parent has under `filter`, in one statement.
    fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &Self::Filter,
    ) -> impl Future<Output = Result<HashMap<String, u64>, StoreError>> + Send;
}

/// What a page of one parent's children is read with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageQuery<F, O> {
    pub filter: F,
    pub order: O,
    pub args: PageArgs,
    /// The columns the query's selection needs ([`Columns::ALL`] for lists that read whole
    /// rows). Part of the key: a page read sparsely serves only the selection it was read for.
    pub columns: Columns,
}

/// Which columns of a row a page is read with, as bits the list defines ([`ChildList::pages_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Columns(pub u32);

impl Columns {
    pub const ALL: Self = Self(u32::MAX);
}

/// One parent's page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey<F, O> {
    pub parent: String,
    pub query: Arc<PageQuery<F, O>>,
}

/// How many children one parent has under a filter (`totalCount`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountKey<F> {
    pub parent: String,
    pub filter: Arc<F>,
}

/// A page whose rows are shared with the loader.
pub type SharedPage<R> = Page<Arc<R>>;

type PageMap<L> = HashMap<
    PageKey<<L as ChildList>::Filter, <L as ChildList>::Order>,
    SharedPage<<L as ChildList>::Row>,
>;
type CountMap<L> = HashMap<CountKey<<L as ChildList>::Filter>, u64>;

/// The loader of one [`ChildList`] for one request: pages and counts, read ahead or batched.
pub struct Pages<L: ChildList> {
    db: Db,
    pages: Mutex<PageMap<L>>,
    counts: Mutex<CountMap<L>>,
    list: PhantomData<fn() -> L>,
}

impl<L: ChildList> Pages<L> {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            pages: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            list: PhantomData,
        }
    }

    /// Reads the pages of every parent in `parents` under `query` now, in one statement, unless
    /// they were read already. Returns the rows read (to read the next level ahead from).
    pub async fn prefetch(
        &self,
        parents: &[String],
        query: &Arc<PageQuery<L::Filter, L::Order>>,
    ) -> Result<Vec<Arc<L::Row>>, StoreError> {
        let missing: Vec<String> = {
            let known = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
            parents
                .iter()
                .filter(|p| {
                    !known.contains_key(&PageKey {
                        parent: (*p).clone(),
                        query: Arc::clone(query),
                    })
                })
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let pages = L::pages_with(
            self.db.conn(),
            &missing,
            &query.filter,
            query.order,
            &query.args,
            query.columns,
        )
        .await?;
        let mut rows = Vec::new();
        let mut known = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        for (parent, page) in pages {
            let page = share(page);
            rows.extend(page.items.iter().cloned());
            let key = PageKey {
                parent,
                query: Arc::clone(query),
            };
            known.insert(key, page);
        }
        Ok(rows)
    }

    /// Counts the children of every parent in `parents` under `filter` now, in one statement,
    /// unless they were counted already.
    pub async fn prefetch_counts(
        &self,
        parents: &[String],
        filter: &Arc<L::Filter>,
    ) -> Result<(), StoreError> {
        let missing: Vec<String> = {
            let known = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            parents
                .iter()
                .filter(|p| {
                    !known.contains_key(&CountKey {
                        parent: (*p).clone(),
                        filter: Arc::clone(filter),
                    })
                })
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let counts = L::counts(self.db.conn(), &missing, filter).await?;
        let mut known = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for parent in missing {
            let n = counts.get(&parent).copied().unwrap_or(0);
            known.insert(
                CountKey {
                    parent,
                    filter: Arc::clone(filter),
                },
                n,
            );
        }
        Ok(())
    }

    fn ready_page(&self, key: &PageKey<L::Filter, L::Order>) -> Option<SharedPage<L::Row>> {
        let known = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(key).cloned()
    }

    fn ready_count(&self, key: &CountKey<L::Filter>) -> Option<u64> {
        let known = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(key).copied()
    }
}

fn share<R>(page: Page<R>) -> SharedPage<R> {
    Page {
        items: page.items.into_iter().map(Arc::new).collect(),
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    }
}

/// Argument `name` of a selected field, parsed as the resolver would (variables resolved).
pub fn argument<T: async_graphql::InputType>(
    field: &async_graphql::SelectionField<'_>,
    name: &str,
) -> ApiResult<Option<T>> {
    let arguments = field
        .arguments()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("cannot read arguments: {}", e.message)))?;
    let value = arguments
        .into_iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, v)| v);
    match value {
        None | Some(async_graphql::Value::Null) => Ok(None),
        // The query was validated already, so a value that does not parse is not the client's
        // mistake to report here; the field's own resolver reports it.
        Some(v) => Ok(T::parse(Some(v)).ok()),
    }
}

/// One parent's page: read ahead by the parent level, else through the dataloader.
pub async fn page<L: ChildList>(
    loader: &DataLoader<Pages<L>>,
    key: PageKey<L::Filter, L::Order>,
) -> ApiResult<SharedPage<L::Row>> {
    if let Some(page) = loader.loader().ready_page(&key) {
        return Ok(page);
    }
    Ok(loader
        .load_one(key)
        .await
        .map_err(ApiError::from)?
        .unwrap_or_else(Page::empty))
}

/// One parent's `totalCount`: counted ahead by the parent level, else through the dataloader.
pub async fn count<L: ChildList>(
    loader: &DataLoader<Pages<L>>,
    key: CountKey<L::Filter>,
) -> ApiResult<u64> {
    if let Some(n) = loader.loader().ready_count(&key) {
        return Ok(n);
    }
    Ok(loader
        .load_one(key)
        .await
        .map_err(ApiError::from)?
        .unwrap_or(0))
}

/// Groups keys by everything but their parent, so each group is one batched statement.
fn group<K, Q: Clone + Eq + Hash>(
    keys: &[K],
    split: impl Fn(&K) -> (&String, &Q),
) -> HashMap<Q, Vec<String>> {
    let mut groups: HashMap<Q, Vec<String>> = HashMap::new();
    for key in keys {
        let (parent, query) = split(key);
        groups
            .entry(query.clone())
            .or_default()
            .push(parent.clone());
    }
    groups
}

impl<L: ChildList> Loader<PageKey<L::Filter, L::Order>> for Pages<L> {
    type Value = SharedPage<L::Row>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[PageKey<L::Filter, L::Order>],
    ) -> Result<HashMap<PageKey<L::Filter, L::Order>, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (query, parents) in group(keys, |k| (&k.parent, &k.query)) {
            let pages = L::pages_with(
                self.db.conn(),
                &parents,
                &query.filter,
                query.order,
                &query.args,
                query.columns,
            )
            .await?;
            for (parent, page) in pages {
                let page = share(page);
                let key = PageKey {
                    parent,
                    query: Arc::clone(&query),
                };
                out.insert(key, page);
            }
        }
        Ok(out)
    }
}

impl<L: ChildList> Loader<CountKey<L::Filter>> for Pages<L> {
    type Value = u64;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[CountKey<L::Filter>],
    ) -> Result<HashMap<CountKey<L::Filter>, u64>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (filter, parents) in group(keys, |k| (&k.parent, &k.filter)) {
            let counts = L::counts(self.db.conn(), &parents, &filter).await?;
            for parent in parents {
                let n = counts.get(&parent).copied().unwrap_or(0);
                let key = CountKey {
                    parent,
                    filter: Arc::clone(&filter),
                };
                out.insert(key, n);
            }
        }
        Ok(out)
    }
}
