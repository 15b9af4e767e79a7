//! Finance over GraphQL: `myWallets` (each with its `transactions`), `myPayments`, `payment(id)`,
//! `myMiningActivities`, and the money mutations `transfer`, `createPayment`, `refundPayment`.
//! Amounts are strings with the currency's decimals (`"12.50"`), never floats.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use core_domain::money;

use super::service::{self, FinanceService, PaymentRequest, TransferRequest, currency_of};
use futures::{Stream, StreamExt};

use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{Columns, CountKey, PageKey, PageQuery, count, page};

fn finance<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a FinanceService> {
    Ok(&ctx.services()?.finance)
}

/// A currency a wallet can hold. Amounts of it are strings with its number of decimals: AZR,
/// USD and ZAR 2, BTC 8 (satoshi), ETH 9 (gwei).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Currency", remote = "core_domain::money::Currency")]
pub enum Currency {
    Azr,
    Btc,
    Eth,
    Usd,
    Zar,
}

/// What a ledger row records: credits are positive, debits negative.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "TransactionType",
    remote = "core_domain::finance::TransactionType"
)]
pub enum TransactionType {
    Deposit,
    Withdrawal,
    TransferIn,
    TransferOut,
    MiningReward,
    Payment,
    Refund,
    Fee,
}

/// Where a payment is: PENDING until the processor answers, then SUCCEEDED or FAILED; a
/// SUCCEEDED payment may be REFUNDED once.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PaymentStatus", remote = "core_domain::finance::PaymentStatus")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Refunded,
}

/// TOP_UP charges your card and credits your wallet; WITHDRAWAL debits your wallet and pays out
/// to your card.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "PaymentPurpose",
    remote = "core_domain::finance::PaymentPurpose"
)]
pub enum PaymentPurpose {
    TopUp,
    Withdrawal,
}

fn amount(currency: &str, units: i64) -> ApiResult<String> {
    Ok(money::format_amount(currency_of(currency)?, units))
}

/// Your balance in one currency, created the first time you use that currency.
#[derive(Clone)]
pub struct Wallet(pub Arc<service::Wallet>);

#[Object]
impl Wallet {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Wallet, &self.0.id)
    }
    async fn currency(&self) -> ApiResult<Currency> {
        Ok(currency_of(&self.0.currency)?.into())
    }
    /// The balance, with the currency's decimals (`"12.50"`). Never negative.
    async fn balance(&self) -> ApiResult<String> {
        amount(&self.0.currency, self.0.balance)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Every change of the balance, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<WalletTransactionFilter>,
    ) -> ApiResult<WalletTransactionConnection> {
        let args = page_args(first, after, last, before)?;
        let types = filter.and_then(|f| f.types).map(|t| {
            t.into_iter()
                .map(core_domain::finance::TransactionType::from)
                .collect()
        });
        let filter = Arc::new(FinanceService::transaction_filter(types));
        let loader = &ctx.loaders()?.finance.transaction_pages;
        let rows = page(
            loader,
            PageKey {
                parent: self.0.id.clone(),
                query: Arc::new(PageQuery {
                    filter: (*filter).clone(),
                    order: (),
                    args,
                    columns: Columns::ALL,
                }),
            },
        )
        .await?;
        let total = WalletTransactionTotal(CountKey {
            parent: self.0.id.clone(),
            filter,
        });
        let name = FinanceService::transaction_ordering();
        let currency = self.0.currency.clone();
        Ok(connection(
            rows,
            total,
            |t| cursor(name, t.created_at, &t.id),
            |t| WalletTransaction {
                row: t,
                currency: currency.clone(),
            },
        ))
    }
}

/// Narrows a wallet's transactions.
#[derive(InputObject, Default)]
pub struct WalletTransactionFilter {
    /// Only rows of these types.
    pub types: Option<Vec<TransactionType>>,
}

/// `totalCount` of a wallet's transactions under the list's filter.
pub struct WalletTransactionTotal(CountKey<service::TransactionFilter>);

#[Object]
impl WalletTransactionTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(&ctx.loaders()?.finance.transaction_pages, self.0.clone()).await
    }
}

pub type WalletTransactionConnection =
    Connection<String, WalletTransaction, WalletTransactionTotal, EmptyFields>;

/// One change of a wallet's balance: never edited; a correction is a new, opposite row.
#[derive(Clone)]
pub struct WalletTransaction {
    pub row: Arc<service::Transaction>,
    /// The wallet's currency.
    pub currency: String,
}

#[Object]
impl WalletTransaction {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::WalletTransaction, &self.row.id)
    }
    async fn wallet_id(&self) -> ID {
        ids::encode(Kind::Wallet, &self.row.wallet_id)
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> ApiResult<TransactionType> {
        let t: core_domain::finance::TransactionType = self
            .row
            .r#type
            .parse()
            .map_err(|e| crate::error::ApiError::internal(anyhow::anyhow!("{e}")))?;
        Ok(t.into())
    }
    async fn currency(&self) -> ApiResult<Currency> {
        Ok(currency_of(&self.currency)?.into())
    }
    /// Signed: positive for a credit, negative for a debit.
    async fn amount(&self) -> ApiResult<String> {
        amount(&self.currency, self.row.amount)
    }
    /// The wallet's balance once this row applied.
    async fn balance_after(&self) -> ApiResult<String> {
        amount(&self.currency, self.row.balance_after)
    }
    /// The other wallet of a transfer.
    async fn counterparty_wallet_id(&self) -> Option<ID> {
        self.row
            .counterparty_wallet_id
            .as_deref()
            .map(|id| ids::encode(Kind::Wallet, id))
    }
    /// The transfer's note, or what the row is for.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// Money moved through the payment processor: a top-up or a withdrawal.
#[derive(Clone)]
pub struct Payment(pub Arc<service::Payment>);

impl From<service::Payment> for Payment {
    fn from(p: service::Payment) -> Self {
        Payment(Arc::new(p))
    }
}

#[Object]
impl Payment {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Payment, &self.0.id)
    }
    async fn amount(&self) -> ApiResult<String> {
        amount(&self.0.currency, self.0.amount)
    }
    async fn currency(&self) -> ApiResult<Currency> {
        Ok(currency_of(&self.0.currency)?.into())
    }
    async fn purpose(&self) -> ApiResult<PaymentPurpose> {
        let p: core_domain::finance::PaymentPurpose = self
            .0
            .purpose
            .parse()
            .map_err(|e| crate::error::ApiError::internal(anyhow::anyhow!("{e}")))?;
        Ok(p.into())
    }
    async fn status(&self) -> ApiResult<PaymentStatus> {
        let s: core_domain::finance::PaymentStatus = self
            .0
            .status
            .parse()
            .map_err(|e| crate::error::ApiError::internal(anyhow::anyhow!("{e}")))?;
        Ok(s.into())
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The processor that handled it (`offline` for the built-in test processor).
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    /// The processor's reason, for a FAILED payment.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    async fn wallet_id(&self) -> Option<ID> {
        self.0
            .wallet_id
            .as_deref()
            .map(|id| ids::encode(Kind::Wallet, id))
    }
    /// The ledger row that moved the money.
    async fn transaction_id(&self) -> Option<ID> {
        self.0
            .transaction_id
            .as_deref()
            .map(|id| ids::encode(Kind::WalletTransaction, id))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A proof-of-knowledge reward: passing an assessment mints AZR, once per assessment.
#[derive(Clone)]
pub struct MiningActivity(pub Arc<service::MiningActivity>);

impl From<service::MiningActivity> for MiningActivity {
    fn from(m: service::MiningActivity) -> Self {
        MiningActivity(Arc::new(m))
    }
}

#[Object]
impl MiningActivity {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::MiningActivity, &self.0.id)
    }
    /// What earned it, e.g. ASSESSMENT_PASSED.
    async fn activity_type(&self) -> &str {
        &self.0.activity_type
    }
    async fn assessment_id(&self) -> Option<ID> {
        self.0
            .assessment_id
            .as_deref()
            .map(|id| ids::encode(Kind::Assessment, id))
    }
    async fn course_id(&self) -> Option<ID> {
        self.0
            .course_id
            .as_deref()
            .map(|id| ids::encode(Kind::Course, id))
    }
    async fn reward_amount(&self) -> ApiResult<String> {
        amount(&self.0.currency, self.0.reward_amount)
    }
    async fn currency(&self) -> ApiResult<Currency> {
        Ok(currency_of(&self.0.currency)?.into())
    }
    /// VERIFIED, then REWARDED once the reward is in the wallet.
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// The ledger row that paid the reward.
    async fn transaction_id(&self) -> Option<ID> {
        self.0
            .transaction_id
            .as_deref()
            .map(|id| ids::encode(Kind::WalletTransaction, id))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `totalCount` of the caller's payments.
pub struct PaymentTotal;

#[Object]
impl PaymentTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        finance(ctx)?.count_my_payments(caller).await
    }
}

pub type PaymentConnection = Connection<String, Payment, PaymentTotal, EmptyFields>;

/// `totalCount` of the caller's mining activities.
pub struct MiningTotal;

#[Object]
impl MiningTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        finance(ctx)?.count_my_mining(caller).await
    }
}

pub type MiningActivityConnection = Connection<String, MiningActivity, MiningTotal, EmptyFields>;

/// The caller's wallets among `ids`, for `node(id:)`.
pub async fn wallets_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Wallet>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = finance(ctx)?.wallets_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|w| (w.id.clone(), Wallet(Arc::new(w))))
        .collect())
}

/// The caller's ledger rows among `ids`, for `node(id:)`.
pub async fn transactions_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, WalletTransaction>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = finance(ctx)?.transactions_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|(t, currency)| {
            (
                t.id.clone(),
                WalletTransaction {
                    row: Arc::new(t),
                    currency,
                },
            )
        })
        .collect())
}

/// Payments among `ids` the caller may see, for `node(id:)`.
pub async fn payments_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Payment>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = finance(ctx)?.payments_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|p| (p.id.clone(), p.into())).collect())
}

/// The caller's mining activities among `ids`, for `node(id:)`.
pub async fn mining_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, MiningActivity>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = finance(ctx)?.mining_by_ids(caller, ids).await?;
    Ok(rows.into_iter().map(|m| (m.id.clone(), m.into())).collect())
}

#[derive(Default)]
pub struct FinanceQuery;

#[Object]
impl FinanceQuery {
    /// Your wallets, one per currency you have used, by currency.
    async fn my_wallets(&self, ctx: &Context<'_>) -> ApiResult<Vec<Wallet>> {
        let caller = ctx.request()?.require()?;
        let rows = finance(ctx)?.my_wallets(caller).await?;
        Ok(rows.into_iter().map(|w| Wallet(Arc::new(w))).collect())
    }

    /// Your payments, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn my_payments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<PaymentConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let page = finance(ctx)?.my_payments(caller, &args).await?;
        let name = FinanceService::payment_ordering();
        Ok(connection(
            page,
            PaymentTotal,
            |p| cursor(name, p.created_at, &p.id),
            Payment::from,
        ))
    }

    /// One of your payments (an admin: anyone's); null for anything else.
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Payment>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Payment, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        let mut rows = finance(ctx)?
            .payments_by_ids(caller, std::slice::from_ref(&id))
            .await?;
        Ok(rows.pop().map(Payment::from))
    }

    /// Your proof-of-knowledge rewards, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn my_mining_activities(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<MiningActivityConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let page = finance(ctx)?.my_mining(caller, &args).await?;
        let name = FinanceService::mining_ordering();
        Ok(connection(
            page,
            MiningTotal,
            |m| cursor(name, m.created_at, &m.id),
            MiningActivity::from,
        ))
    }
}

#[derive(InputObject)]
pub struct TransferInput {
    /// The currency sent, from your wallet in it.
    pub from_currency: Currency,
    /// The recipient (their wallet in the currency is created when missing); or give
    /// `toWalletId`.
    pub to_user_id: Option<ID>,
    /// The recipient's wallet, which must hold `fromCurrency`: transfers never convert.
    pub to_wallet_id: Option<ID>,
    /// With at most the currency's decimals, e.g. `"12.50"`.
    pub amount: String,
    /// Your key for this transfer (letters, digits, `-`, `_`, `.`; up to 100): repeating it
    /// returns the first result and moves nothing again.
    pub idempotency_key: String,
    /// Up to 500 characters, shown to both sides.
    pub note: Option<String>,
}

#[derive(SimpleObject)]
pub struct TransferPayload {
    /// Your ledger row (TRANSFER_OUT); the recipient's wallet has the opposite TRANSFER_IN.
    pub transaction: WalletTransaction,
    /// True when this answers an earlier request with the same key (nothing moved now).
    pub replayed: bool,
}

#[derive(InputObject)]
pub struct CreatePaymentInput {
    /// With at most the currency's decimals, e.g. `"25.00"`.
    pub amount: String,
    pub currency: Currency,
    pub purpose: PaymentPurpose,
    /// Your key for this payment: repeating it returns the first payment and charges nothing
    /// again.
    pub idempotency_key: String,
    pub description: Option<String>,
    /// The payment method token. With the built-in offline processor, `tok_declined` is
    /// declined and any other token (default `tok_visa`) succeeds.
    pub payment_method: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreatePaymentPayload {
    pub payment: Payment,
    /// True when this answers an earlier request with the same key.
    pub replayed: bool,
}

#[derive(InputObject)]
pub struct RefundPaymentInput {
    pub payment_id: ID,
    /// Your key for this refund: repeating it returns the first answer.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct RefundPaymentPayload {
    pub payment: Payment,
    /// True when this answers an earlier request with the same key.
    pub replayed: bool,
}

#[derive(Default)]
pub struct FinanceMutation;

#[Object]
impl FinanceMutation {
    /// Sends money from your wallet to another user's, atomically; INSUFFICIENT_FUNDS (nothing
    /// moved) when your balance is too small.
    async fn transfer(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> ApiResult<TransferPayload> {
        let currency: core_domain::money::Currency = input.from_currency.into();
        let req = TransferRequest {
            currency,
            to_user_id: ids::decode_opt(input.to_user_id.as_ref(), Kind::User, "toUserId")?,
            to_wallet_id: ids::decode_opt(input.to_wallet_id.as_ref(), Kind::Wallet, "toWalletId")?,
            amount: input.amount,
            idempotency_key: input.idempotency_key,
            note: input.note,
        };
        let caller = ctx.request()?.require()?;
        let out = finance(ctx)?.transfer(caller, req).await?;
        Ok(TransferPayload {
            transaction: WalletTransaction {
                row: Arc::new(out.value),
                currency: currency.as_str().to_owned(),
            },
            replayed: out.replayed,
        })
    }

    /// Tops up your wallet from your card, or withdraws to it, through the payment processor.
    async fn create_payment(
        &self,
        ctx: &Context<'_>,
        input: CreatePaymentInput,
    ) -> ApiResult<CreatePaymentPayload> {
        let req = PaymentRequest {
            amount: input.amount,
            currency: input.currency.into(),
            purpose: input.purpose.into(),
            idempotency_key: input.idempotency_key,
            description: input.description,
            payment_method: input.payment_method,
        };
        let caller = ctx.request()?.require()?;
        let out = finance(ctx)?.create_payment(caller, req).await?;
        Ok(CreatePaymentPayload {
            payment: out.value.into(),
            replayed: out.replayed,
        })
    }

    /// Refunds one of your succeeded payments, once: the ledger reverses it.
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        input: RefundPaymentInput,
    ) -> ApiResult<RefundPaymentPayload> {
        let id = ids::decode(&input.payment_id, Kind::Payment, "paymentId")?;
        let caller = ctx.request()?.require()?;
        let out = finance(ctx)?
            .refund_payment(caller, &id, &input.idempotency_key)
            .await?;
        Ok(RefundPaymentPayload {
            payment: out.value.into(),
            replayed: out.replayed,
        })
    }
}

#[derive(Default)]
pub struct FinanceSubscription;

#[Subscription]
impl FinanceSubscription {
    /// Your wallets, each time a balance changes (a transfer in or out, a payment, a refund, a
    /// mining reward), through any server instance. You hear of your own wallets only.
    async fn wallet_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ApiResult<Wallet>> + use<>, ApiError> {
        let caller = ctx.request()?.require()?;
        let stream = finance(ctx)?.updated(caller);
        Ok(stream.map(|w| w.map(|w| Wallet(Arc::new(w)))))
    }
}
