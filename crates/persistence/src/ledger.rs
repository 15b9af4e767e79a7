//! The ledger: wallets (one per user and currency, created on first use), their append-only
//! transactions, and the idempotency keys of money mutations.
//!
//! Every balance change is one conditional `UPDATE wallets ... RETURNING balance` and one
//! `transactions` row carrying that balance, on the caller's transaction. A debit only applies
//! `WHERE balance >= amount`, checked by whether a row came back, never read-then-write, so two
//! concurrent debits cannot both spend the same money. A transfer updates its two wallets in id
//! order, so two opposite transfers cannot deadlock on PostgreSQL.
//!
//! Idempotency: a money mutation first inserts its key (`claim`), which is the transaction's
//! first write. The unique (user, key) index makes a concurrent duplicate wait for the first
//! one's commit (PostgreSQL) or for the write lock (SQLite), then find its row: the duplicate
//! answers the first request's result instead of applying again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::finance::TransactionType;
use core_domain::money::Currency;
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select, TryInsertResult,
};

use crate::cursor::Keyset;
use crate::entity::{idempotency_keys, transactions, wallets};
use crate::{Page, StoreError};

pub use idempotency_keys::Model as IdempotencyKey;
pub use transactions::Model as Transaction;
pub use wallets::Model as Wallet;

/// The user's wallet in `currency`, created (empty) when they have none.
pub async fn ensure_wallet(
    db: &impl ConnectionTrait,
    user_id: &str,
    currency: Currency,
) -> Result<Wallet, StoreError> {
    let now = time::now();
    wallets::Entity::insert(wallets::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        currency: Set(currency.as_str().to_owned()),
        balance: Set(0),
        address: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([wallets::Column::UserId, wallets::Column::Currency])
    .exec_without_returning(db)
    .await?;
    wallets::Entity::find()
        .filter(wallets::Column::UserId.eq(user_id))
        .filter(wallets::Column::Currency.eq(currency.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("wallet".into())))
}

/// The user's wallet in `currency`, if they have one.
pub async fn wallet_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    currency: Currency,
) -> Result<Option<Wallet>, StoreError> {
    Ok(wallets::Entity::find()
        .filter(wallets::Column::UserId.eq(user_id))
        .filter(wallets::Column::Currency.eq(currency.as_str()))
        .one(db)
        .await?)
}

/// Every wallet of the user, by currency.
pub async fn wallets_of(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<Wallet>, StoreError> {
    Ok(wallets::Entity::find()
        .filter(wallets::Column::UserId.eq(user_id))
        .order_by_asc(wallets::Column::Currency)
        .all(db)
        .await?)
}

/// Wallets by id (any owner: the caller checks access).
pub async fn wallets_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Wallet>, StoreError> {
    crate::rows::by_ids::<wallets::Entity>(db, ids).await
}

/// Ledger rows by id (any owner: the caller checks access through the wallet).
pub async fn transactions_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Transaction>, StoreError> {
    crate::rows::by_ids::<transactions::Entity>(db, ids).await
}

/// What a claimed idempotency key found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// The key is new: this request applies (and the key is released if it rolls back).
    New,
    /// The key was used before (committed): its row, with the first request's result.
    Used(IdempotencyKey),
}

/// Claims `key` of `user_id` for `operation` with `fingerprint` (the request's parameters) and
/// the id of the record the request will produce. Must be the transaction's first write.
pub async fn claim(
    db: &impl ConnectionTrait,
    user_id: &str,
    key: &str,
    operation: &str,
    fingerprint: &str,
    result_id: &str,
) -> Result<Claim, StoreError> {
    let inserted = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        key: Set(key.to_owned()),
        operation: Set(operation.to_owned()),
        fingerprint: Set(fingerprint.to_owned()),
        result_id: Set(Some(result_id.to_owned())),
        created_at: Set(time::now()),
    })
    .on_conflict_do_nothing_on([
        idempotency_keys::Column::UserId,
        idempotency_keys::Column::Key,
    ])
    .exec_without_returning(db)
    .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(Claim::New);
    }
    let found = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(user_id))
        .filter(idempotency_keys::Column::Key.eq(key))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("idempotency key".into())))?;
    Ok(Claim::Used(found))
}

/// A ledger row to write with a balance change.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The row's id (chosen by the caller, so an idempotency key can name it beforehand).
    pub id: String,
    pub kind: TransactionType,
    pub counterparty_wallet_id: Option<String>,
    pub description: Option<String>,
    /// Unique per wallet.
    pub idempotency_key: String,
    pub metadata: Option<serde_json::Value>,
}

impl Entry {
    pub fn new(kind: TransactionType, idempotency_key: impl Into<String>) -> Self {
        Self {
            id: ids::new_id(),
            kind,
            counterparty_wallet_id: None,
            description: None,
            idempotency_key: idempotency_key.into(),
            metadata: None,
        }
    }
}

/// Adds `delta` to the wallet's balance, only if the result stays >= 0; the new balance, or
/// `None` when the wallet has too little (or does not exist).
async fn apply_delta(
    db: &impl ConnectionTrait,
    wallet_id: &str,
    delta: i64,
) -> Result<Option<i64>, StoreError> {
    let mut update = Query::update();
    update
        .table(wallets::Entity)
        .value(
            wallets::Column::Balance,
            Expr::col(wallets::Column::Balance).add(delta),
        )
        .value(wallets::Column::UpdatedAt, time::now())
        .and_where(Expr::col(wallets::Column::Id).eq(wallet_id));
    if delta < 0 {
        update.and_where(Expr::col(wallets::Column::Balance).gte(-delta));
    }
    update.returning_col(wallets::Column::Balance);
    let backend = db.get_database_backend();
    let Some(row) = db.query_one_raw(backend.build(&update)).await? else {
        return Ok(None);
    };
    Ok(Some(row.try_get_by_index::<i64>(0)?))
}

async fn write_entry(
    db: &impl ConnectionTrait,
    wallet_id: &str,
    amount: i64,
    balance_after: i64,
    entry: Entry,
) -> Result<Transaction, StoreError> {
    let row = Transaction {
        id: entry.id,
        wallet_id: wallet_id.to_owned(),
        r#type: entry.kind.as_str().to_owned(),
        amount,
        balance_after,
        counterparty_wallet_id: entry.counterparty_wallet_id,
        description: entry.description,
        idempotency_key: entry.idempotency_key,
        metadata: entry.metadata,
        created_at: time::now(),
    };
    transactions::Entity::insert(transactions::ActiveModel {
        id: Set(row.id.clone()),
        wallet_id: Set(row.wallet_id.clone()),
        r#type: Set(row.r#type.clone()),
        amount: Set(row.amount),
        balance_after: Set(row.balance_after),
        counterparty_wallet_id: Set(row.counterparty_wallet_id.clone()),
        description: Set(row.description.clone()),
        idempotency_key: Set(row.idempotency_key.clone()),
        metadata: Set(row.metadata.clone()),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "ledger entry"))?;
    Ok(row)
}

/// Credits `amount` (> 0) to the wallet with its ledger row.
pub async fn credit(
    db: &impl ConnectionTrait,
    wallet_id: &str,
    amount: i64,
    entry: Entry,
) -> Result<Transaction, StoreError> {
    let balance = apply_delta(db, wallet_id, amount)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("wallet".into())))?;
    write_entry(db, wallet_id, amount, balance, entry).await
}

/// Debits `amount` (> 0) from the wallet with its ledger row; `None` (nothing written) when the
/// balance is smaller than `amount`.
pub async fn debit(
    db: &impl ConnectionTrait,
    wallet_id: &str,
    amount: i64,
    entry: Entry,
) -> Result<Option<Transaction>, StoreError> {
    let Some(balance) = apply_delta(db, wallet_id, -amount).await? else {
        return Ok(None);
    };
    Ok(Some(
        write_entry(db, wallet_id, -amount, balance, entry).await?,
    ))
}

/// Moves `amount` from wallet `from` to wallet `to` (same currency, checked by the caller): a
/// TRANSFER_OUT row on `from` (id `out_id`, the caller's key) and a TRANSFER_IN row on `to`,
/// summing to zero. `None` when `from` has too little; the caller then rolls back (the credit of
/// `to` may have been applied first, to keep the lock order).
pub async fn transfer(
    db: &impl ConnectionTrait,
    from: &Wallet,
    to: &Wallet,
    amount: i64,
    out_id: &str,
    key: &str,
    note: Option<String>,
) -> Result<Option<(Transaction, Transaction)>, StoreError> {
    let out_entry = Entry {
        id: out_id.to_owned(),
        kind: TransactionType::TransferOut,
        counterparty_wallet_id: Some(to.id.clone()),
        description: note.clone(),
        idempotency_key: key.to_owned(),
        metadata: None,
    };
    let in_entry = Entry {
        id: ids::new_id(),
        kind: TransactionType::TransferIn,
        counterparty_wallet_id: Some(from.id.clone()),
        description: note,
        idempotency_key: format!("transfer:{out_id}"),
        metadata: None,
    };
    // Lock order: the smaller wallet id first.
    if from.id < to.id {
        let Some(out) = debit(db, &from.id, amount, out_entry).await? else {
            return Ok(None);
        };
        let inn = credit(db, &to.id, amount, in_entry).await?;
        Ok(Some((out, inn)))
    } else {
        let inn = credit(db, &to.id, amount, in_entry).await?;
        let Some(out) = debit(db, &from.id, amount, out_entry).await? else {
            return Ok(None);
        };
        Ok(Some((out, inn)))
    }
}

/// Narrows a wallet's transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TransactionFilter {
    pub kinds: Option<Vec<String>>,
}

fn filtered(filter: &TransactionFilter) -> Select<transactions::Entity> {
    let mut select = transactions::Entity::find();
    if let Some(kinds) = &filter.kinds {
        select = select.filter(transactions::Column::Type.is_in(kinds.iter().cloned()));
    }
    select
}

/// Newest first, by the `(wallet_id, created_at, id)` index.
pub const TRANSACTIONS_NEWEST: Keyset<transactions::Column> = Keyset {
    name: "transactions.created_at.desc",
    at: transactions::Column::CreatedAt,
    id: transactions::Column::Id,
    descending: true,
};

/// One page of transactions per wallet, in one statement.
pub async fn transactions_for_wallets(
    db: &impl ConnectionTrait,
    wallet_ids: &[String],
    filter: &TransactionFilter,
    args: &PageArgs,
) -> Result<HashMap<String, Page<Transaction>>, StoreError> {
    crate::cursor::batch::pages_by_parent(
        db,
        filtered(filter),
        transactions::Column::WalletId,
        wallet_ids,
        &TRANSACTIONS_NEWEST,
        args,
        |t: &Transaction| t.wallet_id.as_str(),
    )
    .await
}

/// How many transactions each wallet has under `filter`, in one statement.
pub async fn transaction_counts(
    db: &impl ConnectionTrait,
    wallet_ids: &[String],
    filter: &TransactionFilter,
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        filtered(filter),
        transactions::Column::WalletId,
        wallet_ids,
    )
    .await
}

/// The sum of a wallet's ledger amounts (equal to its balance when the ledger is whole).
pub async fn ledger_sum(db: &impl ConnectionTrait, wallet_id: &str) -> Result<i64, StoreError> {
    let rows = transactions::Entity::find()
        .filter(transactions::Column::WalletId.eq(wallet_id))
        .all(db)
        .await?;
    Ok(rows.iter().map(|t| t.amount).sum())
}

/// How many ledger rows carry `key` on the wallet.
pub async fn count_with_key(
    db: &impl ConnectionTrait,
    wallet_id: &str,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(transactions::Entity::find()
        .filter(transactions::Column::WalletId.eq(wallet_id))
        .filter(transactions::Column::IdempotencyKey.eq(key))
        .count(db)
        .await?)
}

/// The timestamp a cursor for `row` carries.
pub fn cursor_at(row: &Transaction) -> DateTime<Utc> {
    row.created_at
}
