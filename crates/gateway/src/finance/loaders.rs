//! The finance area's loaders: each wallet's transactions through the generic per-parent
//! [`Pages`] loader (one statement per level).

use std::collections::HashMap;

use async_graphql::dataloader::DataLoader;
use core_domain::pagination::PageArgs;
use persistence::ledger::{self, Transaction, TransactionFilter};
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, Pages};

/// A wallet's ledger rows, newest first.
pub struct WalletTransactions;

impl ChildList for WalletTransactions {
    type Filter = TransactionFilter;
    type Order = ();
    type Row = Transaction;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &TransactionFilter,
        _order: (),
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Transaction>>, StoreError> {
        ledger::transactions_for_wallets(db, parents, filter, args).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &TransactionFilter,
    ) -> Result<HashMap<String, u64>, StoreError> {
        ledger::transaction_counts(db, parents, filter).await
    }
}

/// The finance area's loaders of one request.
pub struct FinanceLoaders {
    pub transaction_pages: DataLoader<Pages<WalletTransactions>>,
}

impl FinanceLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            transaction_pages: batching(Pages::new(db.clone())),
        }
    }
}
