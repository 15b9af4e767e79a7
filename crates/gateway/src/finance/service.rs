//! The finance area's use cases. Wallets and payments are their owner's alone (an admin may also
//! read and refund a payment); anyone else gets NOT_FOUND from a mutation and null from a
//! look-up, exactly as for a record that does not exist.
//!
//! Every money mutation (`transfer`, `createPayment`, `refundPayment`) takes the caller's
//! idempotency key and claims it as its transaction's first write (`persistence::ledger::claim`):
//! a repeat, also a concurrent one, answers the first request's result and moves nothing; the
//! same key with other parameters is CONFLICT. A request that fails (insufficient funds, say)
//! rolls its key back with it, so it may be retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use core_domain::Role;
use core_domain::finance::{
    self, Difficulty, PaymentPurpose, PaymentStatus, TransactionType, request_fingerprint,
};
use core_domain::ids;
use core_domain::money::{self, AmountError, Currency};
use core_domain::pagination::PageArgs;
use futures::{Stream, StreamExt as _};
use persistence::ledger::{self, Claim, Entry};
use persistence::notifications::{self, NewNotification};
use persistence::payments::{self as pay, NewMining, NewPayment, PaymentMove};
use persistence::sea_orm::{ConnectionTrait, TransactionTrait};
use persistence::{Db, Page, users};
use serde_json::json;

use super::processor::{ChargeOutcome, ChargeRequest, DEFAULT_TOKEN, PaymentProcessor};
use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus, Wanted};

pub use persistence::ledger::{Transaction, TransactionFilter, Wallet};
pub use persistence::payments::{MiningActivity, Payment};

/// The kind of change event a balance change is published as (the wallet's id, its owner).
pub const WALLET_CHANGED: &str = "wallet";

/// Longest idempotency key.
const MAX_KEY: usize = 100;
/// Longest note or description.
const MAX_NOTE: usize = 500;

/// What `transfer` was given.
#[derive(Debug, Clone)]
pub struct TransferRequest {
    pub currency: Currency,
    pub to_user_id: Option<String>,
    pub to_wallet_id: Option<String>,
    pub amount: String,
    pub idempotency_key: String,
    pub note: Option<String>,
}

/// What a money mutation answered, and whether it is the answer to an earlier request with the
/// same key.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub value: T,
    pub replayed: bool,
}

/// What `createPayment` was given.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub amount: String,
    pub currency: Currency,
    pub purpose: PaymentPurpose,
    pub idempotency_key: String,
    pub description: Option<String>,
    pub payment_method: Option<String>,
}

pub struct FinanceService {
    db: Db,
    events: EventBus,
    processor: Arc<dyn PaymentProcessor>,
    /// Live `walletUpdated` subscriptions on this instance.
    live: Arc<AtomicUsize>,
}

/// Counts a live subscription while it exists.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Tells subscribers on every instance that `wallet`'s balance changed (after the change
/// committed). Every area that moves money calls it: transfers, payments, refunds, rewards.
pub fn publish_wallet_changed(events: &EventBus, wallet_id: &str, owner_id: &str) {
    events.publish_change(ChangeEvent {
        kind: WALLET_CHANGED.into(),
        id: wallet_id.to_owned(),
        owner_id: Some(owner_id.to_owned()),
    });
}

/// Parses an amount of `currency` for input field `field`.
pub fn parse_amount(currency: Currency, text: &str, field: &'static str) -> ApiResult<i64> {
    money::parse_amount(currency, text.trim()).map_err(|e| match e {
        AmountError::TooManyDecimals { .. }
        | AmountError::Malformed
        | AmountError::NotPositive
        | AmountError::TooLarge => ApiError::bad_input(field, e.to_string()),
    })
}

/// A stored currency (rows are written by this area only, so a bad one is corruption).
pub fn currency_of(text: &str) -> ApiResult<Currency> {
    text.parse::<Currency>()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))
}

fn check_key(key: &str) -> ApiResult<String> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > MAX_KEY {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            format!("must be 1 to {MAX_KEY} characters"),
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            "may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(key.to_owned())
}

fn check_note(note: Option<String>, field: &'static str) -> ApiResult<Option<String>> {
    let Some(note) = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_NOTE} characters"),
        ));
    }
    Ok(Some(note))
}

fn key_reused() -> ApiError {
    ApiError::Conflict("idempotencyKey was already used for a different request".into())
}

impl FinanceService {
    pub fn new(db: Db, events: EventBus, processor: Arc<dyn PaymentProcessor>) -> Self {
        Self {
            db,
            events,
            processor,
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The bus balance changes are published on.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// How many `walletUpdated` subscriptions are live on this instance.
    pub fn subscribers(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// The caller's wallets as their balances change, through any instance. The event names
    /// only the wallet; it is re-read here and kept only if it is the subscriber's, so nobody
    /// hears of another user's money.
    pub fn updated(&self, caller: &Caller) -> impl Stream<Item = ApiResult<Wallet>> + use<> {
        let me = caller.actor.user_id.clone();
        let changes =
            self.events
                .changes(WALLET_CHANGED, Wanted::OwnedBy(me.clone()), "walletUpdated");
        let db = self.db.clone();
        self.live.fetch_add(1, Ordering::SeqCst);
        let live = Live(Arc::clone(&self.live));
        async_stream::stream! {
            let _live = live;
            futures::pin_mut!(changes);
            while let Some(event) = changes.next().await {
                match ledger::wallets_by_ids(db.conn(), std::slice::from_ref(&event.id)).await {
                    Ok(rows) => {
                        for wallet in rows.into_iter().filter(|w| w.user_id == me) {
                            yield Ok(wallet);
                        }
                    }
                    Err(e) => yield Err(ApiError::from(e)),
                }
            }
        }
    }

    fn notified(&self, user_id: &str, notification_id: String) {
        self.events.publish_change(ChangeEvent {
            kind: "notification".into(),
            id: notification_id,
            owner_id: Some(user_id.to_owned()),
        });
    }

    fn wallet_changed(&self, wallet: &Wallet) {
        publish_wallet_changed(&self.events, &wallet.id, &wallet.user_id);
    }

    /// The caller's wallets, one per currency they have used.
    pub async fn my_wallets(&self, caller: &Caller) -> ApiResult<Vec<Wallet>> {
        Ok(ledger::wallets_of(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// The caller's wallets among `ids` (others' are left out).
    pub async fn wallets_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Wallet>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let rows = ledger::wallets_by_ids(self.db.conn(), ids).await?;
        Ok(rows
            .into_iter()
            .filter(|w| w.user_id == caller.actor.user_id)
            .collect())
    }

    /// The caller's ledger rows among `ids` (rows of others' wallets are left out), each with
    /// its wallet's currency.
    pub async fn transactions_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<(Transaction, String)>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let rows = ledger::transactions_by_ids(self.db.conn(), ids).await?;
        let wallet_ids: Vec<String> = rows.iter().map(|t| t.wallet_id.clone()).collect();
        let mine: std::collections::HashMap<String, String> = self
            .wallets_by_ids(Some(caller), &wallet_ids)
            .await?
            .into_iter()
            .map(|w| (w.id, w.currency))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|t| mine.get(&t.wallet_id).cloned().map(|c| (t, c)))
            .collect())
    }

    /// A page of the caller's payments, newest first.
    pub async fn my_payments(&self, caller: &Caller, args: &PageArgs) -> ApiResult<Page<Payment>> {
        Ok(pay::page_own(self.db.conn(), &caller.actor.user_id, args).await?)
    }

    pub async fn count_my_payments(&self, caller: &Caller) -> ApiResult<u64> {
        Ok(pay::count_own(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// A page of the caller's mining activities, newest first.
    pub async fn my_mining(
        &self,
        caller: &Caller,
        args: &PageArgs,
    ) -> ApiResult<Page<MiningActivity>> {
        Ok(pay::mining_page_own(self.db.conn(), &caller.actor.user_id, args).await?)
    }

    pub async fn count_my_mining(&self, caller: &Caller) -> ApiResult<u64> {
        Ok(pay::mining_count_own(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// The caller's mining activities among `ids`.
    pub async fn mining_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<MiningActivity>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(pay::mining_by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|m| m.user_id == caller.actor.user_id)
            .collect())
    }

    fn can_see_payment(caller: &Caller, p: &Payment) -> bool {
        p.user_id == caller.actor.user_id || caller.actor.role == Role::Admin
    }

    /// Payments among `ids` the caller may see (their own; an admin's: all).
    pub async fn payments_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Payment>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(pay::by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|p| Self::can_see_payment(caller, p))
            .collect())
    }

    /// The name of the transactions ordering (cursors).
    pub fn transaction_ordering() -> &'static str {
        ledger::TRANSACTIONS_NEWEST.name
    }

    pub fn payment_ordering() -> &'static str {
        pay::PAYMENTS_NEWEST.name
    }

    pub fn mining_ordering() -> &'static str {
        pay::MINING_NEWEST.name
    }

    /// Checks a transactions filter.
    pub fn transaction_filter(kinds: Option<Vec<TransactionType>>) -> TransactionFilter {
        TransactionFilter {
            kinds: kinds.map(|k| k.iter().map(|t| t.as_str().to_owned()).collect()),
        }
    }

    /// Moves money from the caller's wallet in `currency` to another user's (`toUserId`, whose
    /// wallet in that currency is created when missing) or to a wallet (`toWalletId`, which
    /// must hold the same currency). Answers the caller's ledger row (TRANSFER_OUT).
    pub async fn transfer(
        &self,
        caller: &Caller,
        req: TransferRequest,
    ) -> ApiResult<Outcome<Transaction>> {
        let key = check_key(&req.idempotency_key)?;
        let note = check_note(req.note, "note")?;
        let amount = parse_amount(req.currency, &req.amount, "amount")?;
        let db = self.db.conn();
        let me = &caller.actor.user_id;
        let to = match (req.to_user_id, req.to_wallet_id) {
            (Some(user_id), None) => {
                if users::find(db, &user_id).await?.is_none() {
                    return Err(ApiError::NotFound);
                }
                ledger::ensure_wallet(db, &user_id, req.currency).await?
            }
            (None, Some(wallet_id)) => {
                let wallet = ledger::wallets_by_ids(db, std::slice::from_ref(&wallet_id))
                    .await?
                    .pop()
                    .ok_or(ApiError::NotFound)?;
                if wallet.currency != req.currency.as_str() {
                    return Err(ApiError::bad_input(
                        "toWalletId",
                        format!(
                            "holds {}, not {}: transfers never convert currencies",
                            wallet.currency, req.currency
                        ),
                    ));
                }
                wallet
            }
            _ => {
                return Err(ApiError::bad_input(
                    "toUserId",
                    "give exactly one of toUserId and toWalletId",
                ));
            }
        };
        if &to.user_id == me {
            return Err(ApiError::bad_input(
                "toUserId",
                "is your own wallet: a transfer goes to someone else",
            ));
        }
        let from = ledger::ensure_wallet(db, me, req.currency).await?;
        let fingerprint = request_fingerprint(
            "transfer",
            &[
                req.currency.as_str(),
                &to.id,
                &amount.to_string(),
                note.as_deref().unwrap_or(""),
            ],
        );
        let out_id = ids::new_id();
        let txn = db.begin().await.map_err(persistence::StoreError::from)?;
        if let Claim::Used(used) =
            ledger::claim(&txn, me, &key, "transfer", &fingerprint, &out_id).await?
        {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            if used.operation != "transfer" || used.fingerprint != fingerprint {
                return Err(key_reused());
            }
            let first = used.result_id.unwrap_or_default();
            let row = ledger::transactions_by_ids(db, std::slice::from_ref(&first))
                .await?
                .pop()
                .ok_or(ApiError::NotFound)?;
            return Ok(Outcome {
                value: row,
                replayed: true,
            });
        }
        let Some((out, inn)) =
            ledger::transfer(&txn, &from, &to, amount, &out_id, &key, note.clone()).await?
        else {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            return Err(ApiError::InsufficientFunds);
        };
        audit::record(
            &txn,
            Some(me),
            "finance.transferred",
            "WalletTransaction",
            &out.id,
            json!({
                "currency": req.currency.as_str(),
                "amount": money::format_amount(req.currency, amount),
                "toWalletId": to.id,
                "toUserId": to.user_id,
            }),
        )
        .await?;
        let notice = notifications::create(
            &txn,
            NewNotification {
                user_id: to.user_id.clone(),
                kind: "PAYMENT".into(),
                title: "Money received".into(),
                body: format!(
                    "You received {} {}.",
                    money::format_amount(req.currency, amount),
                    req.currency
                ),
                data: Some(json!({ "transactionId": inn.id, "walletId": to.id })),
            },
        )
        .await?;
        txn.commit().await.map_err(persistence::StoreError::from)?;
        self.notified(&to.user_id, notice.id);
        self.wallet_changed(&from);
        self.wallet_changed(&to);
        Ok(Outcome {
            value: out,
            replayed: false,
        })
    }

    /// Charges (TOP_UP) or pays out to (WITHDRAWAL) the caller's payment method through the
    /// processor: a top-up credits the wallet once the processor accepts; a withdrawal debits
    /// the wallet first (so the money is held) and gives it back if the processor fails.
    pub async fn create_payment(
        &self,
        caller: &Caller,
        req: PaymentRequest,
    ) -> ApiResult<Outcome<Payment>> {
        let key = check_key(&req.idempotency_key)?;
        let description = check_note(req.description, "description")?;
        let amount = parse_amount(req.currency, &req.amount, "amount")?;
        let method = req
            .payment_method
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN.to_owned());
        if method.chars().count() > 100 {
            return Err(ApiError::bad_input(
                "paymentMethod",
                "must be at most 100 characters",
            ));
        }
        let db = self.db.conn();
        let me = &caller.actor.user_id;
        let wallet = ledger::ensure_wallet(db, me, req.currency).await?;
        let fingerprint = request_fingerprint(
            "payment",
            &[
                req.currency.as_str(),
                &amount.to_string(),
                req.purpose.as_str(),
                description.as_deref().unwrap_or(""),
                &method,
            ],
        );
        let payment_id = ids::new_id();
        let txn = db.begin().await.map_err(persistence::StoreError::from)?;
        if let Claim::Used(used) =
            ledger::claim(&txn, me, &key, "payment", &fingerprint, &payment_id).await?
        {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            if used.operation != "payment" || used.fingerprint != fingerprint {
                return Err(key_reused());
            }
            let first = pay::find(db, &used.result_id.unwrap_or_default())
                .await?
                .ok_or(ApiError::NotFound)?;
            return Ok(Outcome {
                value: first,
                replayed: true,
            });
        }
        let payment = pay::create(
            &txn,
            NewPayment {
                id: payment_id.clone(),
                user_id: me.clone(),
                amount,
                currency: req.currency.as_str().to_owned(),
                purpose: req.purpose.as_str().to_owned(),
                provider: self.processor.name().to_owned(),
                description,
                wallet_id: wallet.id.clone(),
                idempotency_key: key.clone(),
                metadata: None,
            },
        )
        .await?;
        if req.purpose == PaymentPurpose::Withdrawal {
            let held = ledger::debit(
                &txn,
                &wallet.id,
                amount,
                Entry::new(TransactionType::Withdrawal, format!("payment:{payment_id}")),
            )
            .await?;
            let Some(held) = held else {
                txn.rollback()
                    .await
                    .map_err(persistence::StoreError::from)?;
                return Err(ApiError::InsufficientFunds);
            };
            pay::set_transaction(&txn, &payment_id, &held.id).await?;
        }
        audit::record(
            &txn,
            Some(me),
            "finance.payment_created",
            "Payment",
            &payment.id,
            json!({
                "currency": req.currency.as_str(),
                "amount": money::format_amount(req.currency, amount),
                "purpose": req.purpose.as_str(),
            }),
        )
        .await?;
        txn.commit().await.map_err(persistence::StoreError::from)?;

        let outcome = self
            .processor
            .charge(&ChargeRequest {
                payment_id: payment_id.clone(),
                amount,
                currency: req.currency.as_str().to_owned(),
                purpose: req.purpose.as_str().to_owned(),
                payment_method: method,
            })
            .await;
        let notice = self
            .settle_payment(&payment, &wallet, req.currency, req.purpose, outcome)
            .await?;
        if let Some(id) = notice {
            self.notified(me, id);
        }
        self.wallet_changed(&wallet);
        let payment = pay::find(db, &payment_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Outcome {
            value: payment,
            replayed: false,
        })
    }

    /// Applies the processor's answer to a PENDING payment, once: the notification's id.
    async fn settle_payment(
        &self,
        payment: &Payment,
        wallet: &Wallet,
        currency: Currency,
        purpose: PaymentPurpose,
        outcome: ChargeOutcome,
    ) -> ApiResult<Option<String>> {
        let db = self.db.conn();
        let txn = db.begin().await.map_err(persistence::StoreError::from)?;
        let shown = money::format_amount(currency, payment.amount);
        let (moved, title, body) = match outcome {
            ChargeOutcome::Succeeded { reference } => {
                let moved = pay::move_status(
                    &txn,
                    &payment.id,
                    PaymentStatus::Pending,
                    PaymentStatus::Succeeded,
                    PaymentMove {
                        provider_reference: Some(reference),
                        completed: true,
                        ..PaymentMove::default()
                    },
                )
                .await?;
                if moved && purpose == PaymentPurpose::TopUp {
                    let row = ledger::credit(
                        &txn,
                        &wallet.id,
                        payment.amount,
                        Entry::new(TransactionType::Payment, format!("payment:{}", payment.id)),
                    )
                    .await?;
                    pay::set_transaction(&txn, &payment.id, &row.id).await?;
                }
                let body = match purpose {
                    PaymentPurpose::TopUp => {
                        format!("{shown} {currency} was added to your wallet.")
                    }
                    PaymentPurpose::Withdrawal => format!("{shown} {currency} was paid out."),
                };
                (moved, "Payment succeeded", body)
            }
            ChargeOutcome::Failed { reason } => {
                let moved = pay::move_status(
                    &txn,
                    &payment.id,
                    PaymentStatus::Pending,
                    PaymentStatus::Failed,
                    PaymentMove {
                        failure_reason: Some(reason.clone()),
                        ..PaymentMove::default()
                    },
                )
                .await?;
                if moved && purpose == PaymentPurpose::Withdrawal {
                    ledger::credit(
                        &txn,
                        &wallet.id,
                        payment.amount,
                        Entry::new(
                            TransactionType::Refund,
                            format!("payment-failed:{}", payment.id),
                        ),
                    )
                    .await?;
                }
                (
                    moved,
                    "Payment failed",
                    format!("Your payment of {shown} {currency} failed ({reason})."),
                )
            }
        };
        if !moved {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            return Ok(None);
        }
        let notice = notifications::create(
            &txn,
            NewNotification {
                user_id: payment.user_id.clone(),
                kind: "PAYMENT".into(),
                title: title.into(),
                body,
                data: Some(json!({ "paymentId": payment.id })),
            },
        )
        .await?;
        txn.commit().await.map_err(persistence::StoreError::from)?;
        Ok(Some(notice.id))
    }

    /// Refunds a SUCCEEDED payment of the caller's (an admin: anyone's), exactly once: the
    /// status moves SUCCEEDED → REFUNDED by one conditional update, with the reversing ledger
    /// row in the same transaction. A payment refunded already is CONFLICT (or, with the same
    /// key, the first refund's answer).
    pub async fn refund_payment(
        &self,
        caller: &Caller,
        payment_id: &str,
        idempotency_key: &str,
    ) -> ApiResult<Outcome<Payment>> {
        let key = check_key(idempotency_key)?;
        let db = self.db.conn();
        let me = &caller.actor.user_id;
        let payment = pay::find(db, payment_id)
            .await?
            .filter(|p| Self::can_see_payment(caller, p))
            .ok_or(ApiError::NotFound)?;
        let fingerprint = request_fingerprint("refund", &[payment_id]);
        let txn = db.begin().await.map_err(persistence::StoreError::from)?;
        if let Claim::Used(used) =
            ledger::claim(&txn, me, &key, "refund", &fingerprint, payment_id).await?
        {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            if used.operation != "refund" || used.fingerprint != fingerprint {
                return Err(key_reused());
            }
            let now = pay::find(db, payment_id).await?.ok_or(ApiError::NotFound)?;
            return Ok(Outcome {
                value: now,
                replayed: true,
            });
        }
        let moved = pay::move_status(
            &txn,
            payment_id,
            PaymentStatus::Succeeded,
            PaymentStatus::Refunded,
            PaymentMove::default(),
        )
        .await?;
        if !moved {
            txn.rollback()
                .await
                .map_err(persistence::StoreError::from)?;
            let now = pay::find(db, payment_id).await?.ok_or(ApiError::NotFound)?;
            return Err(ApiError::Conflict(format!(
                "the payment is {}: only a SUCCEEDED payment can be refunded, once",
                now.status
            )));
        }
        let currency = currency_of(&payment.currency)?;
        let wallet = ledger::ensure_wallet(&txn, &payment.user_id, currency).await?;
        let purpose = payment
            .purpose
            .parse::<PaymentPurpose>()
            .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        let entry = Entry {
            metadata: Some(json!({ "paymentId": payment.id })),
            ..Entry::new(TransactionType::Refund, format!("refund:{}", payment.id))
        };
        match purpose {
            PaymentPurpose::TopUp => {
                if ledger::debit(&txn, &wallet.id, payment.amount, entry)
                    .await?
                    .is_none()
                {
                    txn.rollback()
                        .await
                        .map_err(persistence::StoreError::from)?;
                    return Err(ApiError::InsufficientFunds);
                }
            }
            PaymentPurpose::Withdrawal => {
                ledger::credit(&txn, &wallet.id, payment.amount, entry).await?;
            }
        }
        audit::record(
            &txn,
            Some(me),
            "finance.payment_refunded",
            "Payment",
            &payment.id,
            json!({
                "currency": payment.currency,
                "amount": money::format_amount(currency, payment.amount),
            }),
        )
        .await?;
        let notice = notifications::create(
            &txn,
            NewNotification {
                user_id: payment.user_id.clone(),
                kind: "PAYMENT".into(),
                title: "Payment refunded".into(),
                body: format!(
                    "Your payment of {} {} was refunded.",
                    money::format_amount(currency, payment.amount),
                    currency
                ),
                data: Some(json!({ "paymentId": payment.id })),
            },
        )
        .await?;
        txn.commit().await.map_err(persistence::StoreError::from)?;
        if let Some(reference) = &payment.provider_reference
            && let Err(reason) = self.processor.refund(reference, payment.amount).await
        {
            tracing::warn!(payment_id = %payment.id, %reason, "the processor refused a refund the ledger made");
        }
        self.notified(&payment.user_id, notice.id);
        self.wallet_changed(&wallet);
        let now = pay::find(db, payment_id).await?.ok_or(ApiError::NotFound)?;
        Ok(Outcome {
            value: now,
            replayed: false,
        })
    }
}

/// Mints the proof-of-knowledge reward for passing `assessment_id` with `score_percent`, on
/// `conn` (the grading's transaction), unless the user was rewarded for it before: the mining
/// activity, its ledger row and the notification's id. Nothing when the table gives no reward.
pub async fn mint_reward(
    conn: &impl ConnectionTrait,
    user_id: &str,
    course_id: &str,
    assessment_id: &str,
    difficulty: Difficulty,
    score_percent: u32,
) -> ApiResult<Option<(MiningActivity, Transaction, String)>> {
    let reward = finance::mining_reward(difficulty, score_percent);
    if reward <= 0 {
        return Ok(None);
    }
    let Some(activity) = pay::record_mining(
        conn,
        NewMining {
            user_id: user_id.to_owned(),
            course_id: Some(course_id.to_owned()),
            assessment_id: assessment_id.to_owned(),
            reward_amount: reward,
            currency: Currency::Azr.as_str().to_owned(),
            proof: json!({ "assessmentId": assessment_id, "score": score_percent, "difficulty": difficulty.as_str() }),
        },
    )
    .await?
    else {
        return Ok(None);
    };
    let wallet = ledger::ensure_wallet(conn, user_id, Currency::Azr).await?;
    let row = ledger::credit(
        conn,
        &wallet.id,
        reward,
        Entry {
            description: Some("Proof-of-knowledge reward".into()),
            metadata: Some(json!({ "miningActivityId": activity.id })),
            ..Entry::new(
                TransactionType::MiningReward,
                format!("mining:{assessment_id}"),
            )
        },
    )
    .await?;
    pay::mining_rewarded(conn, &activity.id, &row.id).await?;
    let notice = notifications::create(
        conn,
        NewNotification {
            user_id: user_id.to_owned(),
            kind: "REWARD".into(),
            title: "Reward earned".into(),
            body: format!(
                "You earned {} AZR for passing an assessment.",
                money::format_amount(Currency::Azr, reward)
            ),
            data: Some(json!({ "miningActivityId": activity.id, "transactionId": row.id })),
        },
    )
    .await?;
    let activity = MiningActivity {
        transaction_id: Some(row.id.clone()),
        status: "REWARDED".into(),
        ..activity
    };
    Ok(Some((activity, row, notice.id)))
}
