//! The analytics area's loader: usage totals per message, user, invitation or conversation
//! (`Message.usage`, `me { usage }`, `Invitation.usageTotals`, `UsageRecordConnection.totals`),
//! one grouped statement per kind of key and range for a whole level.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use persistence::analytics::{self, TotalsBy, UsageTotals};
use persistence::{Db, StoreError};

/// Whose usage, and optionally within `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TotalsKey {
    pub by: TotalsBy,
    pub id: String,
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// A range of time, `[from, to)`.
type Span = Option<(DateTime<Utc>, DateTime<Utc>)>;

/// Usage totals by key; keys with no usage are absent.
pub struct UsageTotalsRows(pub Db);

impl Loader<TotalsKey> for UsageTotalsRows {
    type Value = Arc<UsageTotals>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[TotalsKey],
    ) -> Result<HashMap<TotalsKey, Self::Value>, Self::Error> {
        // One statement per (kind, range): a level normally has one of each.
        let mut groups: HashMap<(TotalsBy, Span), Vec<String>> = HashMap::new();
        for k in keys {
            groups
                .entry((k.by, k.range))
                .or_default()
                .push(k.id.clone());
        }
        let mut out = HashMap::new();
        for ((by, range), ids) in groups {
            let rows = analytics::totals(self.0.conn(), by, &ids, range).await?;
            for (id, totals) in rows {
                out.insert(TotalsKey { by, id, range }, Arc::new(totals));
            }
        }
        Ok(out)
    }
}
