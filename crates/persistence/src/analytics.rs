//! Internal analytics: aggregates over usage, activity, telemetry and quotas, each one or a few
//! statements with `GROUP BY` in the database (never rows summed here).
//!
//! **Buckets in a time zone, in SQL, on both databases.** The caller (the gateway's analytics
//! service, which knows the IANA zone) passes the zone as a list of fixed-offset segments that
//! cover the range: the UTC offset before the first transition, and each transition's instant
//! and new offset (`TzSegments`). Every statement computes each row's Unix time `e` (SQLite
//! `strftime('%s', ..)`, PostgreSQL `EXTRACT(EPOCH ..)`), its local time `le = e + CASE WHEN e <
//! t1 THEN o0 WHEN e < t2 THEN o1 .. END`, and then an integer bucket key with the same integer
//! arithmetic on both databases:
//!
//! - HOUR: the UTC instant of the local hour's start, `e - (le % 3600)` (so the repeated hour of a
//!   DST fall-back stays two buckets);
//! - DAY: the local day's number since 1970-01-01, `le / 86400`;
//! - WEEK: the ISO (Monday) week's number, `(le / 86400 + 3) / 7` (1970-01-01 was a Thursday);
//! - MONTH: `year * 12 + month - 1` of the local date (`strftime` / `EXTRACT` on `le`).
//!
//! The gateway turns keys back into the bucket's start instant in the zone. A CASE of a few
//! offsets is cheap, where a CASE per bucket (thousands of hours) or a time-zone database in
//! SQLite would not be.
//!
//! **Percentiles** (latency p50/p95, median session duration) are continuous (linear
//! interpolation between the two nearest ranks): PostgreSQL's `percentile_cont`, and on SQLite
//! the same arithmetic over `ROW_NUMBER()`/`COUNT()` windows, so both give the same numbers.
//!
//! **Rollups**: `usage_daily` holds per-UTC-day sums of `usage_logs`, upserted in the transaction
//! that writes each usage row. A DAY query in UTC whose range is whole days, whose dimensions and
//! filters are in the rollup's key, and which asks for no percentile, reads the rollup instead of
//! the raw rows ([`UsageQuery::rollup_eligible`]).
//!
//! `activity_daily` holds per-UTC-day activity (each measure's count per label, distinct active
//! users, and the median session duration in whole milliseconds, all exact for a day), for all
//! activity (`all`) and for research activity (`research`, what staff see). It is not written
//! with the rows it counts but recomputed by a periodic job ([`roll_activity`]): each run, in one
//! transaction, deletes and re-inserts with `INSERT … SELECT … GROUP BY` the closed UTC days since
//! the last run and the [`SETTLE_DAYS`] before it, using the raw query's own statements, and moves
//! `rollup_state` on. Days older than that are frozen: a later change to them (a conversation or
//! account deleted, an analysis's status) is not in the rollup. On PostgreSQL a
//! transaction-scoped advisory lock keeps two instances from rolling at once (the second skips);
//! a run is idempotent anyway. A DAY query in UTC over whole days without groups or filters
//! ([`ActivityQuery::rollup_eligible`]) reads the days before `rollup_state.rolled_to` from the
//! rollup and the rest (today at least) from the raw rows, in one `UNION ALL`: a day comes from
//! one source only ([`activity`]).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TransactionTrait, Value};

use crate::StoreError;

/// How rows are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Hour,
    Day,
    Week,
    Month,
}

/// A time zone as fixed-offset segments over a range: `offsets[0]` applies before
/// `transitions[0]`, `offsets[i + 1]` from `transitions[i]` on. Seconds east of UTC; transitions
/// in Unix seconds, ascending. `offsets.len() == transitions.len() + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TzSegments {
    pub offsets: Vec<i64>,
    pub transitions: Vec<i64>,
}

impl TzSegments {
    pub fn utc() -> Self {
        Self {
            offsets: vec![0],
            transitions: Vec::new(),
        }
    }

    pub fn is_utc(&self) -> bool {
        self.transitions.is_empty() && self.offsets.iter().all(|o| *o == 0)
    }

    /// `e + offset(e)` as SQL, `e` being a column of integer Unix seconds.
    fn local(&self, e: &str) -> String {
        if self.is_utc() {
            return e.to_owned();
        }
        if self.transitions.is_empty() {
            return format!("({e} + {})", self.offsets.first().copied().unwrap_or(0));
        }
        let mut sql = format!("({e} + CASE");
        for (t, o) in self.transitions.iter().zip(&self.offsets) {
            sql.push_str(&format!(" WHEN {e} < {t} THEN {o}"));
        }
        sql.push_str(&format!(
            " ELSE {} END)",
            self.offsets.last().copied().unwrap_or(0)
        ));
        sql
    }
}

/// A time range (start included, end excluded), its buckets and their zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub zone: TzSegments,
}

impl Window {
    /// Whether the range is whole UTC days in UTC day buckets (what the rollup holds).
    fn whole_utc_days(&self) -> bool {
        self.bucket == Bucket::Day
            && self.zone.is_utc()
            && self.from.timestamp() % 86_400 == 0
            && self.to.timestamp() % 86_400 == 0
            && self.from.timestamp_subsec_micros() == 0
            && self.to.timestamp_subsec_micros() == 0
    }
}

/// Integer Unix seconds of a timestamp column.
fn epoch(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {col})) AS BIGINT)"),
        _ => format!("CAST(strftime('%s', {col}) AS INTEGER)"),
    }
}

/// The bucket key of a row with Unix seconds `e` and local seconds `le` (see the module docs).
fn bucket_key(backend: DbBackend, bucket: Bucket, e: &str, le: &str) -> String {
    match bucket {
        Bucket::Hour => format!("({e} - ({le} % 3600))"),
        Bucket::Day => format!("({le} / 86400)"),
        Bucket::Week => format!("(({le} / 86400 + 3) / 7)"),
        Bucket::Month => match backend {
            DbBackend::Postgres => format!(
                "(CAST(EXTRACT(YEAR FROM to_timestamp({le}) AT TIME ZONE 'UTC') AS BIGINT) * 12 \
                 + CAST(EXTRACT(MONTH FROM to_timestamp({le}) AT TIME ZONE 'UTC') AS BIGINT) - 1)"
            ),
            _ => format!(
                "(CAST(strftime('%Y', {le}, 'unixepoch') AS INTEGER) * 12 \
                 + CAST(strftime('%m', {le}, 'unixepoch') AS INTEGER) - 1)"
            ),
        },
    }
}

/// A statement being written, with its bound values in order.
struct Sql {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds `v` and returns its placeholder.
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// `col IN (?, ?, ..)` for `items` (never empty: callers skip empty filters).
    fn in_list<T: Into<Value> + Clone>(&mut self, col: &str, items: &[T]) -> String {
        let marks: Vec<String> = items.iter().map(|i| self.bind(i.clone())).collect();
        format!("{col} IN ({})", marks.join(", "))
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// Wraps `inner` (a select with an integer column `e`) so it gains `bucket`.
fn bucketed(backend: DbBackend, window: &Window, inner: &str) -> String {
    let le = window.zone.local("r0.e");
    let key = bucket_key(backend, window.bucket, "r0.e", &le);
    format!("SELECT {key} AS bucket, r0.* FROM ({inner}) r0")
}

/// A continuous percentile of `col` over each group, as a select expression named `alias`. On
/// SQLite the source must carry `rn_{rank}` (the row's rank by `col`, nulls last) and `n_{rank}`
/// (the group's count of non-null values) from [`rank_columns`].
fn percentile(backend: DbBackend, p: f64, col: &str, rank: &str, alias: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("percentile_cont({p}) WITHIN GROUP (ORDER BY {col}) AS {alias}")
        }
        _ => {
            let pos = format!("((n_{rank} - 1) * {p})");
            let lo = format!("CAST({pos} AS INTEGER)");
            let hi = format!("({lo} + ({lo} < {pos}))");
            format!(
                "(MAX(CASE WHEN rn_{rank} = {lo} + 1 THEN 1.0 * {col} END) + \
                 (MAX(CASE WHEN rn_{rank} = {hi} + 1 THEN 1.0 * {col} END) - \
                  MAX(CASE WHEN rn_{rank} = {lo} + 1 THEN 1.0 * {col} END)) * \
                 MAX({pos} - {lo})) AS {alias}"
            )
        }
    }
}

/// SQLite's rank and count columns for [`percentile`] over `col`, partitioned by `groups`.
fn rank_columns(col: &str, tag: &str, groups: &str) -> String {
    format!(
        "ROW_NUMBER() OVER (PARTITION BY {groups} ORDER BY ({col} IS NULL), {col}) AS rn_{tag}, \
         COUNT({col}) OVER (PARTITION BY {groups}) AS n_{tag}"
    )
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, col: &str) -> Result<T, StoreError> {
    Ok(row.try_get::<T>("", col)?)
}

// ---------------------------------------------------------------------------------------------
// Usage.

/// What usage rows can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageDim {
    Provider,
    Model,
    StreamType,
    /// chat, scenario (partner and coach), title, analysis.
    AppArea,
    User,
    Invitation,
    /// The conversation's scenario.
    Scenario,
    /// The conversation's project.
    Project,
    /// The plan the call's user is on now (FREE without a subscription row; none for calls
    /// without a user). Calls do not record the plan they ran under.
    Plan,
}

impl UsageDim {
    /// The expression over `usage_logs u` (and `conversations c` when [`Self::joins`]).
    fn expr(self) -> &'static str {
        match self {
            Self::Provider => "u.provider",
            Self::Model => "u.model",
            Self::StreamType => "u.stream_type",
            Self::AppArea => APP_AREA,
            Self::User => "u.user_id",
            Self::Invitation => "u.invitation_id",
            Self::Scenario => "c.scenario_id",
            Self::Project => "c.project_id",
            Self::Plan => PLAN,
        }
    }

    /// The same over the rollup `usage_daily d`, or None when the rollup does not hold it.
    fn rollup_expr(self) -> Option<&'static str> {
        match self {
            Self::Provider => Some("d.provider"),
            Self::Model => Some("d.model"),
            Self::StreamType => Some("d.stream_type"),
            Self::AppArea => Some(APP_AREA_ROLLUP),
            Self::User => Some("NULLIF(d.user_key, '')"),
            Self::Invitation => Some("NULLIF(d.invitation_key, '')"),
            Self::Scenario | Self::Project | Self::Plan => None,
        }
    }

    fn joins(self) -> bool {
        matches!(self, Self::Scenario | Self::Project)
    }
}

/// The plan of a usage row's user, over `usage_logs u` and `subscriptions s`.
const PLAN: &str = "CASE WHEN u.user_id IS NULL THEN NULL ELSE COALESCE(s.plan, 'FREE') END";

const APP_AREA: &str = "CASE u.stream_type WHEN 'chat' THEN 'chat' WHEN 'partner' THEN 'scenario' \
     WHEN 'coach' THEN 'scenario' WHEN 'title' THEN 'title' WHEN 'analysis' THEN 'analysis' \
     ELSE 'other' END";
const APP_AREA_ROLLUP: &str = "CASE d.stream_type WHEN 'chat' THEN 'chat' WHEN 'partner' THEN \
     'scenario' WHEN 'coach' THEN 'scenario' WHEN 'title' THEN 'title' WHEN 'analysis' THEN \
     'analysis' ELSE 'other' END";

/// The app area a stream type counts under (the spelling `APP_AREA` gives in SQL).
pub fn app_area_of(stream_type: &str) -> &'static str {
    match stream_type {
        "chat" => "chat",
        "partner" | "coach" => "scenario",
        "title" => "title",
        "analysis" => "analysis",
        _ => "other",
    }
}

/// Which usage rows count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub providers: Vec<String>,
    pub models: Vec<String>,
    /// Stored spellings (`chat`, `partner`, ...).
    pub stream_types: Vec<String>,
    /// `chat`, `scenario`, `title`, `analysis`.
    pub app_areas: Vec<String>,
    /// Only calls made under an invitation (research data): what staff see.
    pub research_only: bool,
    /// Only this user's calls.
    pub user_id: Option<String>,
    /// Only calls of these users / under these invitations / in conversations of these
    /// scenarios or projects / of users on these plans (each: empty for all).
    pub user_ids: Vec<String>,
    pub invitation_ids: Vec<String>,
    pub scenario_ids: Vec<String>,
    pub project_ids: Vec<String>,
    /// Stored spellings (`FREE`, `PRO`, ...).
    pub plans: Vec<String>,
}

impl UsageFilter {
    /// Whether the filter needs the call's conversation.
    fn joins_conversation(&self) -> bool {
        !self.scenario_ids.is_empty() || !self.project_ids.is_empty()
    }
}

/// A usage aggregate request.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    pub window: Window,
    pub group_by: Vec<UsageDim>,
    pub filter: UsageFilter,
    /// Whether latency percentiles are wanted (the rollup cannot give them).
    pub percentiles: bool,
    /// At most this many rows; one more is read to tell the caller it was cut.
    pub max_rows: u64,
}

impl UsageQuery {
    /// Whether the rollup can answer exactly what the raw rows would.
    pub fn rollup_eligible(&self) -> bool {
        self.window.whole_utc_days()
            && !self.percentiles
            && self.group_by.iter().all(|d| d.rollup_expr().is_some())
            && self.filter.user_id.is_none()
            && !self.filter.joins_conversation()
            && self.filter.plans.is_empty()
    }
}

/// One group of usage rows in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub bucket: i64,
    /// In the order of `group_by`.
    pub dims: Vec<Option<String>>,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// The known costs' sum, in micro-dollars.
    pub cost_micros: i64,
    /// Calls whose cost is unknown (never counted as free).
    pub unknown_cost_calls: i64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

fn usage_where(sql: &mut Sql, filter: &UsageFilter, p: &str) -> Vec<String> {
    let mut cond = Vec::new();
    if !filter.providers.is_empty() {
        cond.push(sql.in_list(&format!("{p}.provider"), &filter.providers));
    }
    if !filter.models.is_empty() {
        cond.push(sql.in_list(&format!("{p}.model"), &filter.models));
    }
    if !filter.stream_types.is_empty() {
        cond.push(sql.in_list(&format!("{p}.stream_type"), &filter.stream_types));
    }
    if !filter.app_areas.is_empty() {
        let area = if p == "d" { APP_AREA_ROLLUP } else { APP_AREA };
        cond.push(sql.in_list(&format!("({area})"), &filter.app_areas));
    }
    if !filter.user_ids.is_empty() {
        let col = if p == "d" { "d.user_key" } else { "u.user_id" };
        cond.push(sql.in_list(col, &filter.user_ids));
    }
    if !filter.invitation_ids.is_empty() {
        let col = if p == "d" {
            "d.invitation_key"
        } else {
            "u.invitation_id"
        };
        cond.push(sql.in_list(col, &filter.invitation_ids));
    }
    // Only the raw rows can answer these (see `UsageQuery::rollup_eligible`).
    if p != "d" {
        if !filter.scenario_ids.is_empty() {
            cond.push(sql.in_list("c.scenario_id", &filter.scenario_ids));
        }
        if !filter.project_ids.is_empty() {
            cond.push(sql.in_list("c.project_id", &filter.project_ids));
        }
        if !filter.plans.is_empty() {
            cond.push(sql.in_list(&format!("({PLAN})"), &filter.plans));
        }
    }
    if filter.research_only {
        cond.push(if p == "d" {
            "d.invitation_key <> ''".to_owned()
        } else {
            "u.invitation_id IS NOT NULL".to_owned()
        });
    }
    cond
}

fn usage_row(row: &QueryResult, dims: usize) -> Result<UsageRow, StoreError> {
    Ok(UsageRow {
        bucket: get(row, "bucket")?,
        dims: (0..dims)
            .map(|i| get::<Option<String>>(row, &format!("d{i}")))
            .collect::<Result<_, _>>()?,
        calls: get(row, "calls")?,
        input_tokens: get::<Option<i64>>(row, "input_tokens")?.unwrap_or(0),
        output_tokens: get::<Option<i64>>(row, "output_tokens")?.unwrap_or(0),
        cost_micros: get::<Option<i64>>(row, "cost_micros")?.unwrap_or(0),
        unknown_cost_calls: get::<Option<i64>>(row, "unknown_cost_calls")?.unwrap_or(0),
        latency_p50_ms: get(row, "p50")?,
        latency_p95_ms: get(row, "p95")?,
    })
}

/// Usage per bucket and group, in one statement: from the raw rows, or from the daily rollup
/// when `rollup` is allowed and the query is [`UsageQuery::rollup_eligible`].
pub async fn usage(
    db: &impl ConnectionTrait,
    q: &UsageQuery,
    rollup: bool,
) -> Result<Vec<UsageRow>, StoreError> {
    let backend = db.get_database_backend();
    let stmt = if rollup && q.rollup_eligible() {
        usage_rollup_sql(backend, q)
    } else {
        usage_raw_sql(backend, q)
    };
    let rows = db.query_all_raw(stmt).await?;
    rows.iter()
        .map(|r| usage_row(r, q.group_by.len()))
        .collect()
}

const SUMS: &str = "COUNT(*) AS calls, CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
     CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
     CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, \
     CAST(SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unknown_cost_calls";

fn usage_raw_sql(backend: DbBackend, q: &UsageQuery) -> Statement {
    let mut sql = Sql::new(backend);
    let dims: Vec<String> = q
        .group_by
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{} AS d{i}", d.expr()))
        .collect();
    let mut join = String::new();
    if q.group_by.iter().any(|d| d.joins()) || q.filter.joins_conversation() {
        join.push_str(" LEFT JOIN conversations c ON c.id = u.conversation_id");
    }
    if q.group_by.contains(&UsageDim::Plan) || !q.filter.plans.is_empty() {
        join.push_str(" LEFT JOIN subscriptions s ON s.user_id = u.user_id");
    }
    let from = sql.bind(q.window.from);
    let to = sql.bind(q.window.to);
    let mut cond = vec![
        format!("u.created_at >= {from}"),
        format!("u.created_at < {to}"),
    ];
    cond.extend(usage_where(&mut sql, &q.filter, "u"));
    if let Some(user) = &q.filter.user_id {
        cond.push(format!("u.user_id = {}", sql.bind(user.clone())));
    }
    let mut cols = vec![format!("{} AS e", epoch(backend, "u.created_at"))];
    cols.extend(dims);
    cols.push("u.input_tokens, u.output_tokens, u.cost_micros, u.latency_ms AS latency".to_owned());
    let inner = format!(
        "SELECT {} FROM usage_logs u{join} WHERE {}",
        cols.join(", "),
        cond.join(" AND ")
    );
    let source = bucketed(backend, &q.window, &inner);
    let mut groups = vec!["bucket".to_owned()];
    groups.extend((0..q.group_by.len()).map(|i| format!("d{i}")));
    let groups = groups.join(", ");
    let limit = q.max_rows + 1;
    let text = match backend {
        DbBackend::Postgres => {
            let (p50, p95) = if q.percentiles {
                (
                    percentile(backend, 0.5, "latency", "lat", "p50"),
                    percentile(backend, 0.95, "latency", "lat", "p95"),
                )
            } else {
                (
                    "CAST(NULL AS DOUBLE PRECISION) AS p50".to_owned(),
                    "CAST(NULL AS DOUBLE PRECISION) AS p95".to_owned(),
                )
            };
            format!(
                "SELECT {groups}, {SUMS}, {p50}, {p95} FROM ({source}) b \
                 GROUP BY {groups} ORDER BY {groups} LIMIT {limit}"
            )
        }
        _ => {
            if q.percentiles {
                format!(
                    "SELECT {groups}, {SUMS}, {}, {} FROM (SELECT b.*, {} FROM ({source}) b) w \
                     GROUP BY {groups} ORDER BY {groups} LIMIT {limit}",
                    percentile(backend, 0.5, "latency", "lat", "p50"),
                    percentile(backend, 0.95, "latency", "lat", "p95"),
                    rank_columns("latency", "lat", &groups),
                )
            } else {
                format!(
                    "SELECT {groups}, {SUMS}, NULL AS p50, NULL AS p95 FROM ({source}) b \
                     GROUP BY {groups} ORDER BY {groups} LIMIT {limit}"
                )
            }
        }
    };
    sql.statement(text)
}

/// Day number (since 1970-01-01) of a `YYYY-MM-DD` column.
fn day_number(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST((CAST({col} AS DATE) - DATE '1970-01-01') AS BIGINT)"),
        _ => format!("CAST(julianday({col}) - 2440587.5 AS INTEGER)"),
    }
}

fn usage_rollup_sql(backend: DbBackend, q: &UsageQuery) -> Statement {
    let mut sql = Sql::new(backend);
    let mut cols = vec![format!("{} AS bucket", day_number(backend, "d.day"))];
    for (i, d) in q.group_by.iter().enumerate() {
        cols.push(format!("{} AS d{i}", d.rollup_expr().unwrap_or("NULL")));
    }
    let from = sql.bind(q.window.from.format("%Y-%m-%d").to_string());
    let to = sql.bind(q.window.to.format("%Y-%m-%d").to_string());
    let mut cond = vec![format!("d.day >= {from}"), format!("d.day < {to}")];
    cond.extend(usage_where(&mut sql, &q.filter, "d"));
    let mut groups = vec!["bucket".to_owned()];
    groups.extend((0..q.group_by.len()).map(|i| format!("d{i}")));
    let groups = groups.join(", ");
    let text = format!(
        "SELECT {groups}, CAST(SUM(calls) AS BIGINT) AS calls, \
         CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
         CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
         CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, \
         CAST(SUM(unknown_cost_calls) AS BIGINT) AS unknown_cost_calls, \
         {null} AS p50, {null} AS p95 \
         FROM (SELECT {cols}, d.calls, d.input_tokens, d.output_tokens, d.cost_micros, \
         d.unknown_cost_calls FROM usage_daily d WHERE {cond}) r \
         GROUP BY {groups} ORDER BY {groups} LIMIT {limit}",
        null = match backend {
            DbBackend::Postgres => "CAST(NULL AS DOUBLE PRECISION)",
            _ => "NULL",
        },
        cols = cols.join(", "),
        cond = cond.join(" AND "),
        limit = q.max_rows + 1,
    );
    sql.statement(text)
}

// ---------------------------------------------------------------------------------------------
// Usage totals per key (loaders: a message's usage, a user's, an invitation's).

/// Usage summed for one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageTotals {
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub unknown_cost_calls: i64,
    /// The latest call's model and provider (a message has one call, usually).
    pub model: Option<String>,
    pub provider: Option<String>,
    /// Summed latency of the calls, when any reported one.
    pub latency_ms: Option<i64>,
}

/// The column of `usage_logs` totals are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotalsBy {
    Message,
    User,
    Invitation,
    Conversation,
}

impl TotalsBy {
    fn column(self) -> &'static str {
        match self {
            Self::Message => "u.message_id",
            Self::User => "u.user_id",
            Self::Invitation => "u.invitation_id",
            Self::Conversation => "u.conversation_id",
        }
    }
}

/// Usage totals for every key in `keys` (those with no usage are absent), in one statement,
/// optionally within `[from, to)`.
pub async fn totals(
    db: &impl ConnectionTrait,
    by: TotalsBy,
    keys: &[String],
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<HashMap<String, UsageTotals>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let col = by.column();
    let mut cond = vec![sql.in_list(col, keys)];
    if let Some((from, to)) = range {
        cond.push(format!("u.created_at >= {}", sql.bind(from)));
        cond.push(format!("u.created_at < {}", sql.bind(to)));
    }
    // The latest call's model: the greatest `created_at || model` (text on SQLite, cast on
    // PostgreSQL) would work, but calls of one message share a model; MAX is enough.
    let text = format!(
        "SELECT {col} AS k, {SUMS}, MAX(u.model) AS model, MAX(u.provider) AS provider, \
         CAST(SUM(u.latency_ms) AS BIGINT) AS latency_ms \
         FROM usage_logs u WHERE {} GROUP BY {col}",
        cond.join(" AND ")
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    let mut out = HashMap::new();
    for row in &rows {
        let key: String = get(row, "k")?;
        out.insert(
            key,
            UsageTotals {
                calls: get(row, "calls")?,
                input_tokens: get::<Option<i64>>(row, "input_tokens")?.unwrap_or(0),
                output_tokens: get::<Option<i64>>(row, "output_tokens")?.unwrap_or(0),
                cost_micros: get::<Option<i64>>(row, "cost_micros")?.unwrap_or(0),
                unknown_cost_calls: get::<Option<i64>>(row, "unknown_cost_calls")?.unwrap_or(0),
                model: get(row, "model")?,
                provider: get(row, "provider")?,
                latency_ms: get(row, "latency_ms")?,
            },
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Activity.

/// Which activity counts (staff: research data only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityScope {
    /// Only conversations under an invitation, and what happens in them.
    pub research_only: bool,
    /// Only the activity of these users (their conversations, accounts, journals, analyses) /
    /// of users now on these plans (stored spellings) / in conversations under these
    /// invitations, of these scenarios or of these projects (then no accounts or journals are
    /// counted, and analyses only for a project filter). Each: empty for all.
    pub user_ids: Vec<String>,
    pub plans: Vec<String>,
    pub invitation_ids: Vec<String>,
    pub scenario_ids: Vec<String>,
    pub project_ids: Vec<String>,
}

/// What an activity measure counts, for its filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Conversations and their messages (`conversations c`).
    Conversations,
    /// Accounts (`users x`).
    Users,
    /// Journals (`journals x`).
    Journals,
    /// Analyses (`analyses x`).
    Analyses,
}

impl ActivityScope {
    /// Whether the measure of `counted` things means anything under this filter (accounts and
    /// journals have no conversation, invitation or scenario; analyses no invitation or
    /// scenario).
    pub fn counts(&self, counted: Counted) -> bool {
        let conversational = !self.invitation_ids.is_empty() || !self.scenario_ids.is_empty();
        match counted {
            Counted::Conversations => true,
            Counted::Users | Counted::Journals => {
                !conversational && self.project_ids.is_empty() && !self.research_only
            }
            Counted::Analyses => !conversational && !self.research_only,
        }
    }

    /// The filter's conditions (` AND ...`) over the table of `counted`.
    fn conditions(&self, sql: &mut Sql, counted: Counted) -> String {
        let mut cond = String::new();
        let user = counted.user_column();
        if !self.user_ids.is_empty() {
            cond.push_str(&format!(" AND {}", sql.in_list(user, &self.user_ids)));
        }
        if !self.plans.is_empty() {
            let plan = format!(
                "(SELECT COALESCE(MAX(s.plan), 'FREE') FROM subscriptions s WHERE s.user_id = {user})"
            );
            cond.push_str(&format!(
                " AND {user} IS NOT NULL AND {}",
                sql.in_list(&plan, &self.plans)
            ));
        }
        let (invitation, scenario, project) = match counted {
            Counted::Conversations => (
                Some("c.invitation_id"),
                Some("c.scenario_id"),
                Some("c.project_id"),
            ),
            Counted::Analyses => (None, None, Some("x.project_id")),
            Counted::Users | Counted::Journals => (None, None, None),
        };
        for (col, ids) in [
            (invitation, &self.invitation_ids),
            (scenario, &self.scenario_ids),
            (project, &self.project_ids),
        ] {
            if let Some(col) = col
                && !ids.is_empty()
            {
                cond.push_str(&format!(" AND {}", sql.in_list(col, ids)));
            }
        }
        cond
    }
}

/// What activity can be grouped by. Each measure takes the dimension from the rows it counts:
/// conversations, their messages and sessions from the conversation (its user, invitation,
/// scenario, project, persona); new users from the account; journals from their author (and
/// persona); analyses from their user and project. A measure whose rows do not carry a grouped
/// dimension is not counted ([`ActivityQuery::counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityDim {
    User,
    /// The plan the user is on now (FREE without a subscription row).
    Plan,
    Invitation,
    Scenario,
    Project,
    Persona,
}

impl ActivityDim {
    /// The dimension's expression over the table of `counted`, or None when those rows do not
    /// carry it.
    fn expr(self, counted: Counted) -> Option<String> {
        let col = |c: &str| Some(c.to_owned());
        match (self, counted) {
            (Self::User, _) => col(counted.user_column()),
            (Self::Plan, _) => Some(plan_of(counted.user_column())),
            (Self::Invitation, Counted::Conversations) => col("c.invitation_id"),
            (Self::Scenario, Counted::Conversations) => col("c.scenario_id"),
            (Self::Project, Counted::Conversations) => col("c.project_id"),
            (Self::Project, Counted::Analyses) => col("x.project_id"),
            (Self::Persona, Counted::Conversations) => col("c.persona_id"),
            (Self::Persona, Counted::Journals) => col("x.persona_id"),
            _ => None,
        }
    }
}

/// The plan the user of column `user` is on now, as the activity filter reads it (null without
/// a user).
fn plan_of(user: &str) -> String {
    format!(
        "CASE WHEN {user} IS NULL THEN NULL ELSE (SELECT COALESCE(MAX(s.plan), 'FREE') \
         FROM subscriptions s WHERE s.user_id = {user}) END"
    )
}

/// An activity aggregate request.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityQuery {
    pub window: Window,
    pub scope: ActivityScope,
    /// Dimensions to group by within each bucket (in order; no repeats).
    pub group_by: Vec<ActivityDim>,
    /// At most this many groups (bucket and dimensions) are wanted: the counts statement reads
    /// at most `max_rows` × [`COUNT_ROWS_PER_GROUP`] + 1 rows, the medians one `max_rows` + 1.
    pub max_rows: u64,
}

/// How many count rows one group is allowed for the counts statement's cap (a group has one per
/// measure, role and status: 16 for the roles and statuses there are, and a day read from the
/// rollup one more for its median).
pub const COUNT_ROWS_PER_GROUP: u64 = 20;

impl ActivityQuery {
    /// Whether the measure of `counted` things is counted: its filter means something for them
    /// ([`ActivityScope::counts`]) and its rows carry every grouped dimension.
    pub fn counts(&self, counted: Counted) -> bool {
        self.scope.counts(counted) && self.group_by.iter().all(|d| d.expr(counted).is_some())
    }

    /// `, <dim> AS d0, <dim> AS d1 ..` over the table of `counted`.
    fn dim_columns(&self, counted: Counted) -> String {
        self.group_by
            .iter()
            .enumerate()
            .map(|(i, d)| {
                format!(
                    ", {} AS d{i}",
                    d.expr(counted).unwrap_or_else(|| "NULL".into())
                )
            })
            .collect()
    }

    /// `, d0, d1 ..`.
    fn dim_names(&self) -> String {
        (0..self.group_by.len())
            .map(|i| format!(", d{i}"))
            .collect()
    }
}

impl Counted {
    /// The column of the user the counted rows belong to.
    fn user_column(self) -> &'static str {
        match self {
            Self::Conversations => "c.user_id",
            Self::Users => "x.id",
            Self::Journals | Self::Analyses => "x.user_id",
        }
    }
}

/// One measure of activity in one bucket and group. `label` is the role (messages), the status
/// (sessions ended, analyses) or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    pub metric: String,
    pub label: String,
    pub bucket: i64,
    /// In the order of `group_by`.
    pub dims: Vec<Option<String>>,
    pub value: i64,
}

/// The median duration of the sessions that ended in one bucket and group.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMedian {
    pub bucket: i64,
    /// In the order of `group_by`.
    pub dims: Vec<Option<String>>,
    pub seconds: Option<f64>,
}

fn dims_of(row: &QueryResult, n: usize) -> Result<Vec<Option<String>>, StoreError> {
    (0..n)
        .map(|i| get::<Option<String>>(row, &format!("d{i}")))
        .collect()
}

/// Activity counts per bucket and group: active users (distinct authors of user messages), new
/// users, conversations started, messages by role, practice sessions ended by status, journals
/// saved and analyses by status; one `UNION ALL` of grouped counts, one branch per measure that
/// [`ActivityQuery::counts`]. Staff (`research_only`) get the measures of invitation sessions
/// only (no new users, journals or analyses).
pub async fn activity_counts(
    db: &impl ConnectionTrait,
    q: &ActivityQuery,
) -> Result<Vec<ActivityCount>, StoreError> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let text = activity_count_branches(&mut sql, q, &q.window).join(" UNION ALL ");
    let text = format!(
        "{text} LIMIT {}",
        q.max_rows.saturating_mul(COUNT_ROWS_PER_GROUP) + 1
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(ActivityCount {
                metric: get(r, "metric")?,
                label: get(r, "label")?,
                bucket: get(r, "bucket")?,
                dims: dims_of(r, q.group_by.len())?,
                value: get(r, "value")?,
            })
        })
        .collect()
}

/// The grouped selects of [`activity_counts`] over `window` (each with the columns `metric`,
/// `label`, `bucket`, `d0..` and `value`), binding into `sql`.
fn activity_count_branches(sql: &mut Sql, q: &ActivityQuery, window: &Window) -> Vec<String> {
    let backend = sql.backend;
    let scope = &q.scope;
    let research = if scope.research_only {
        " AND c.invitation_id IS NOT NULL"
    } else {
        ""
    };
    let groups = q.dim_names();
    #[allow(clippy::too_many_arguments)]
    let branch = |sql: &mut Sql,
                  metric: &str,
                  label: &str,
                  value: &str,
                  table: &str,
                  time: &str,
                  extra: &str,
                  counted: Counted| {
        let from = sql.bind(window.from);
        let to = sql.bind(window.to);
        // Bound after the range: SQLite numbers `?` in the order they appear.
        let filter = scope.conditions(sql, counted);
        let inner = format!(
            "SELECT {e} AS e, {label} AS label, {value} AS v{dims} FROM {table} \
             WHERE {time} >= {from} AND {time} < {to}{extra}{filter}",
            e = epoch(backend, time),
            dims = q.dim_columns(counted),
        );
        let source = bucketed(backend, window, &inner);
        let agg = if value == "1" {
            "COUNT(*)".to_owned()
        } else {
            "COUNT(DISTINCT v)".to_owned()
        };
        format!(
            "SELECT '{metric}' AS metric, label, bucket{groups}, CAST({agg} AS BIGINT) AS value \
             FROM ({source}) b GROUP BY label, bucket{groups}"
        )
    };
    let mut parts = Vec::new();
    if q.counts(Counted::Conversations) {
        parts.push(branch(
            sql,
            "active_users",
            "''",
            "m.user_id",
            "messages m JOIN conversations c ON c.id = m.conversation_id",
            "m.created_at",
            &format!(" AND m.role = 'USER' AND m.user_id IS NOT NULL{research}"),
            Counted::Conversations,
        ));
        parts.push(branch(
            sql,
            "conversations_started",
            "''",
            "1",
            "conversations c",
            "c.started_at",
            &format!(" AND c.deleted_at IS NULL{research}"),
            Counted::Conversations,
        ));
        parts.push(branch(
            sql,
            "messages",
            "m.role",
            "1",
            "messages m JOIN conversations c ON c.id = m.conversation_id",
            "m.created_at",
            research,
            Counted::Conversations,
        ));
        parts.push(branch(
            sql,
            "sessions_ended",
            "c.status",
            "1",
            "conversations c",
            "c.ended_at",
            &format!(
                " AND c.scenario_id IS NOT NULL AND c.status IN ('COMPLETED', 'ABANDONED'){research}"
            ),
            Counted::Conversations,
        ));
    }
    if q.counts(Counted::Users) {
        parts.push(branch(
            sql,
            "new_users",
            "''",
            "1",
            "users x",
            "x.created_at",
            " AND x.deleted_at IS NULL",
            Counted::Users,
        ));
    }
    if q.counts(Counted::Journals) {
        parts.push(branch(
            sql,
            "journals_saved",
            "''",
            "1",
            "journals x",
            "x.created_at",
            "",
            Counted::Journals,
        ));
    }
    if q.counts(Counted::Analyses) {
        parts.push(branch(
            sql,
            "analyses",
            "x.status",
            "1",
            "analyses x",
            "x.created_at",
            "",
            Counted::Analyses,
        ));
    }
    parts
}

/// The median duration (seconds) of the practice sessions that ended (COMPLETED or ABANDONED)
/// in each bucket and group, in one statement (none when conversations are not counted).
pub async fn session_medians(
    db: &impl ConnectionTrait,
    q: &ActivityQuery,
) -> Result<Vec<SessionMedian>, StoreError> {
    if !q.counts(Counted::Conversations) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let text = session_median_select(&mut sql, q, &q.window);
    let text = format!("{text} LIMIT {}", q.max_rows + 1);
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(SessionMedian {
                bucket: get(r, "bucket")?,
                dims: dims_of(r, q.group_by.len())?,
                seconds: get(r, "med")?,
            })
        })
        .collect()
}

/// The grouped select of [`session_medians`] over `window`: columns `bucket`, `d0..`, `med`.
fn session_median_select(sql: &mut Sql, q: &ActivityQuery, window: &Window) -> String {
    let backend = sql.backend;
    let from = sql.bind(window.from);
    let to = sql.bind(window.to);
    let research = if q.scope.research_only {
        " AND c.invitation_id IS NOT NULL"
    } else {
        ""
    };
    let filter = q.scope.conditions(sql, Counted::Conversations);
    let inner = format!(
        "SELECT {e} AS e, c.duration_seconds AS d{dims} FROM conversations c \
         WHERE c.ended_at >= {from} AND c.ended_at < {to} AND c.scenario_id IS NOT NULL \
         AND c.status IN ('COMPLETED', 'ABANDONED') AND c.duration_seconds IS NOT NULL\
         {research}{filter}",
        e = epoch(backend, "c.ended_at"),
        dims = q.dim_columns(Counted::Conversations),
    );
    let source = bucketed(backend, window, &inner);
    let groups = format!("bucket{}", q.dim_names());
    match backend {
        DbBackend::Postgres => format!(
            "SELECT {groups}, {} FROM ({source}) b GROUP BY {groups}",
            percentile(backend, 0.5, "d", "med", "med")
        ),
        _ => format!(
            "SELECT {groups}, {} FROM (SELECT b.*, {} FROM ({source}) b) w GROUP BY {groups}",
            percentile(backend, 0.5, "d", "med", "med"),
            rank_columns("d", "med", &groups),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The activity rollup.

/// The `rollup_state` row of the activity rollup.
pub const ACTIVITY_ROLLUP: &str = "activity";

/// How many closed days before the last rolled one each roll recomputes, so writes that land
/// late (a session's status, an analysis finishing, a conversation or account deleted) settle.
/// Older days are frozen: a change to them after that is not in the rollup.
pub const SETTLE_DAYS: i64 = 3;

/// The key of the PostgreSQL advisory lock one roll holds for its transaction, so two instances
/// never roll at once ("colloqac" in ASCII).
const ROLL_LOCK: i64 = 0x636f_6c6c_6f71_6163;

/// The metric under which the rollup keeps each day's median session duration, in milliseconds
/// (durations are whole seconds, so a median is a whole or half second: exact).
const MEDIAN_MS: &str = "session_median_ms";

/// What one roll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roll {
    /// Recomputed the UTC days `[from, to)` (from the first day there is, for `None`); every day
    /// before `to` is now rolled.
    Rolled {
        from: Option<NaiveDate>,
        to: NaiveDate,
    },
    /// Another instance is rolling right now (PostgreSQL): nothing was written.
    Busy,
}

impl ActivityQuery {
    /// Whether the activity rollup can answer exactly what the raw rows would: DAY buckets in
    /// UTC over whole days, no groups, no filter (staff's research-only scope is in the rollup).
    pub fn rollup_eligible(&self) -> bool {
        let s = &self.scope;
        self.window.whole_utc_days()
            && self.group_by.is_empty()
            && s.user_ids.is_empty()
            && s.plans.is_empty()
            && s.invitation_ids.is_empty()
            && s.scenario_ids.is_empty()
            && s.project_ids.is_empty()
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The `YYYY-MM-DD` text of a day number expression (days since 1970-01-01).
fn day_number_text(backend: DbBackend, n: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("to_char(DATE '1970-01-01' + CAST({n} AS INTEGER), 'YYYY-MM-DD')")
        }
        _ => format!("date({n} * 86400, 'unixepoch')"),
    }
}

/// The day before which every day is in the activity rollup (None before the first roll).
pub async fn activity_rolled_to(
    db: &impl ConnectionTrait,
) -> Result<Option<NaiveDate>, StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    let name = sql.bind(ACTIVITY_ROLLUP);
    let text = format!("SELECT rolled_to FROM rollup_state WHERE name = {name}");
    let Some(row) = db.query_one_raw(sql.statement(text)).await? else {
        return Ok(None);
    };
    let day: Option<String> = get(&row, "rolled_to")?;
    Ok(day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
}

/// Recomputes the activity rollup for the closed UTC days before `today`: the last
/// [`SETTLE_DAYS`] days rolled before, and every day since (all of them at the first roll), in
/// one transaction: the days' rows are deleted and inserted again with `INSERT … SELECT …
/// GROUP BY` over the raw rows (the same statements the raw query runs, in UTC days, for all
/// activity and for research activity), then `rollup_state` moves on. On PostgreSQL a
/// transaction-scoped advisory lock keeps a second instance out (it returns [`Roll::Busy`]); on
/// SQLite the transaction's first statement takes the write lock. Idempotent either way.
pub async fn roll_activity(
    db: &sea_orm::DatabaseConnection,
    today: NaiveDate,
) -> Result<Roll, StoreError> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    if backend == DbBackend::Postgres {
        let row = txn
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT pg_try_advisory_xact_lock({ROLL_LOCK}) AS locked"),
            ))
            .await?;
        if !row
            .map(|r| get::<bool>(&r, "locked"))
            .transpose()?
            .unwrap_or(false)
        {
            txn.rollback().await?;
            return Ok(Roll::Busy);
        }
    }
    // Ensures the state row (and, being a write, takes SQLite's write lock first thing).
    let mut sql = Sql::new(backend);
    let name = sql.bind(ACTIVITY_ROLLUP);
    let now = sql.bind(core_domain::time::now());
    txn.execute_raw(sql.statement(format!(
        "INSERT INTO rollup_state (name, rolled_to, rolled_at) VALUES ({name}, NULL, {now}) \
         ON CONFLICT (name) DO NOTHING"
    )))
    .await?;
    let rolled_to = activity_rolled_to(&txn).await?;
    let from = rolled_to.map(|d| d.min(today) - chrono::Days::new(SETTLE_DAYS as u64));
    let window = Window {
        from: from.map_or(DateTime::<Utc>::UNIX_EPOCH, midnight),
        to: midnight(today),
        bucket: Bucket::Day,
        zone: TzSegments::utc(),
    };

    let mut sql = Sql::new(backend);
    let mut cond = vec![format!("day < {}", sql.bind(day_text(today)))];
    if let Some(from) = from {
        cond.push(format!("day >= {}", sql.bind(day_text(from))));
    }
    txn.execute_raw(sql.statement(format!(
        "DELETE FROM activity_daily WHERE {}",
        cond.join(" AND ")
    )))
    .await?;
    for (scope, research_only) in [("all", false), ("research", true)] {
        let q = ActivityQuery {
            window: window.clone(),
            scope: ActivityScope {
                research_only,
                ..Default::default()
            },
            group_by: Vec::new(),
            max_rows: 0,
        };
        let day = day_number_text(backend, "u.bucket");
        let mut sql = Sql::new(backend);
        let counts = activity_count_branches(&mut sql, &q, &window).join(" UNION ALL ");
        txn.execute_raw(sql.statement(format!(
            "INSERT INTO activity_daily (day, scope, metric, label, value) \
             SELECT {day}, '{scope}', u.metric, u.label, u.value FROM ({counts}) u"
        )))
        .await?;
        let mut sql = Sql::new(backend);
        let medians = session_median_select(&mut sql, &q, &window);
        txn.execute_raw(sql.statement(format!(
            "INSERT INTO activity_daily (day, scope, metric, label, value) \
             SELECT {day}, '{scope}', '{MEDIAN_MS}', '', CAST(ROUND(u.med * 1000) AS BIGINT) \
             FROM ({medians}) u WHERE u.med IS NOT NULL"
        )))
        .await?;
    }
    let mut sql = Sql::new(backend);
    let to = sql.bind(day_text(today));
    let now = sql.bind(core_domain::time::now());
    let name = sql.bind(ACTIVITY_ROLLUP);
    txn.execute_raw(sql.statement(format!(
        "UPDATE rollup_state SET rolled_to = {to}, rolled_at = {now} WHERE name = {name}"
    )))
    .await?;
    txn.commit().await?;
    Ok(Roll::Rolled { from, to: today })
}

/// Activity counts and medians per bucket and group: [`activity_counts`] and
/// [`session_medians`] over the raw rows; or, when `rollup` is allowed and the query is
/// [`ActivityQuery::rollup_eligible`], the days the rollup holds from it and the rest (today,
/// and any day not rolled yet) from the raw rows, in one statement (plus one reading how far the
/// rollup got and, when some days are raw, one for their medians). A day comes from one source
/// or the other, never both, so nothing is added up here.
pub async fn activity(
    db: &impl ConnectionTrait,
    q: &ActivityQuery,
    rollup: bool,
) -> Result<(Vec<ActivityCount>, Vec<SessionMedian>), StoreError> {
    if !(rollup && q.rollup_eligible()) {
        let counts = activity_counts(db, q).await?;
        let medians = session_medians(db, q).await?;
        return Ok((counts, medians));
    }
    let backend = db.get_database_backend();
    let split = activity_rolled_to(db)
        .await?
        .map_or(q.window.from, midnight)
        .max(q.window.from)
        .min(q.window.to);
    let raw = Window {
        from: split,
        ..q.window.clone()
    };
    let mut sql = Sql::new(backend);
    let mut parts = Vec::new();
    if split > q.window.from {
        let scope = sql.bind(if q.scope.research_only {
            "research"
        } else {
            "all"
        });
        let from = sql.bind(q.window.from.format("%Y-%m-%d").to_string());
        let to = sql.bind(split.format("%Y-%m-%d").to_string());
        parts.push(format!(
            "SELECT d.metric AS metric, d.label AS label, {} AS bucket, d.value AS value \
             FROM activity_daily d WHERE d.scope = {scope} AND d.day >= {from} AND d.day < {to}",
            day_number(backend, "d.day")
        ));
    }
    if split < q.window.to {
        parts.extend(activity_count_branches(&mut sql, q, &raw));
    }
    let text = format!(
        "{} LIMIT {}",
        parts.join(" UNION ALL "),
        q.max_rows.saturating_mul(COUNT_ROWS_PER_GROUP) + 1
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    let mut counts = Vec::with_capacity(rows.len());
    let mut medians = Vec::new();
    for r in &rows {
        let (metric, bucket, value): (String, i64, i64) =
            (get(r, "metric")?, get(r, "bucket")?, get(r, "value")?);
        if metric == MEDIAN_MS {
            medians.push(SessionMedian {
                bucket,
                dims: Vec::new(),
                seconds: Some(value as f64 / 1000.0),
            });
        } else {
            counts.push(ActivityCount {
                metric,
                label: get(r, "label")?,
                bucket,
                dims: Vec::new(),
                value,
            });
        }
    }
    if split < q.window.to {
        let raw_query = ActivityQuery {
            window: raw,
            ..q.clone()
        };
        medians.extend(session_medians(db, &raw_query).await?);
    }
    Ok((counts, medians))
}

// ---------------------------------------------------------------------------------------------
// Telemetry.

/// Events of one name in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub bucket: i64,
    pub name: String,
    pub count: i64,
}

/// Events per bucket and name (only `names` when not empty), in one statement.
pub async fn event_counts(
    db: &impl ConnectionTrait,
    window: &Window,
    names: &[String],
    max_rows: u64,
) -> Result<Vec<EventCount>, StoreError> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let from = sql.bind(window.from);
    let to = sql.bind(window.to);
    let mut cond = vec![
        format!("t.created_at >= {from}"),
        format!("t.created_at < {to}"),
    ];
    if !names.is_empty() {
        cond.push(sql.in_list("t.name", names));
    }
    let inner = format!(
        "SELECT {e} AS e, t.name AS name FROM telemetry_events t WHERE {}",
        cond.join(" AND "),
        e = epoch(backend, "t.created_at"),
    );
    let source = bucketed(backend, window, &inner);
    let text = format!(
        "SELECT bucket, name, COUNT(*) AS n FROM ({source}) b GROUP BY bucket, name \
         ORDER BY bucket, name LIMIT {}",
        max_rows + 1
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(EventCount {
                bucket: get(r, "bucket")?,
                name: get(r, "name")?,
                count: get(r, "n")?,
            })
        })
        .collect()
}

/// How many users reached each step of a funnel within `[from, to)`: step 1 counts the users
/// with an event named `steps[0]`; step k+1 those of step k with an event named `steps[k]` at or
/// after their first event of step k. Events without a user are not counted. One statement.
pub async fn funnel(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    steps: &[String],
) -> Result<Vec<i64>, StoreError> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend());
    let mut ctes = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let name = sql.bind(step.clone());
        let f = sql.bind(from);
        let t = sql.bind(to);
        let base = format!(
            "t.name = {name} AND t.user_id IS NOT NULL AND t.created_at >= {f} AND t.created_at < {t}"
        );
        ctes.push(if i == 0 {
            format!(
                "s0 AS (SELECT t.user_id AS user_id, MIN(t.created_at) AS at \
                 FROM telemetry_events t WHERE {base} GROUP BY t.user_id)"
            )
        } else {
            format!(
                "s{i} AS (SELECT t.user_id AS user_id, MIN(t.created_at) AS at \
                 FROM telemetry_events t JOIN s{p} ON s{p}.user_id = t.user_id \
                 AND t.created_at >= s{p}.at WHERE {base} GROUP BY t.user_id)",
                p = i - 1
            )
        });
    }
    let counts: Vec<String> = (0..steps.len())
        .map(|i| format!("(SELECT COUNT(*) FROM s{i}) AS c{i}"))
        .collect();
    let text = format!("WITH {} SELECT {}", ctes.join(", "), counts.join(", "));
    let Some(row) = db.query_one_raw(sql.statement(text)).await? else {
        return Ok(vec![0; steps.len()]);
    };
    (0..steps.len())
        .map(|i| get::<i64>(&row, &format!("c{i}")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Quotas.

/// An invitation's token quota and what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaRow {
    pub invitation_id: String,
    pub label: Option<String>,
    /// None while the invitation has no budget yet (no call was made under it).
    pub limit_tokens: Option<i64>,
    pub used_tokens: i64,
    pub reserved_tokens: i64,
}

/// Invitations' quotas (limit, used, reserved), the fullest first, in one statement; only those
/// at or over `min_ratio` of their limit when given.
pub async fn invitation_quotas(
    db: &impl ConnectionTrait,
    min_ratio: Option<f64>,
    limit: u64,
) -> Result<Vec<QuotaRow>, StoreError> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let ratio = "(CASE WHEN b.limit_tokens > 0 THEN (1.0 * b.used) / b.limit_tokens ELSE 0 END)";
    let near = match min_ratio {
        Some(r) => format!(" WHERE {ratio} >= {}", sql.bind(r)),
        None => String::new(),
    };
    let text = format!(
        "SELECT i.id AS id, i.label AS label, b.limit_tokens AS lim, \
         COALESCE(b.used, 0) AS used, COALESCE(b.reserved, 0) AS reserved \
         FROM invitations i LEFT JOIN budgets b ON b.scope = 'invitation' AND b.subject_id = i.id\
         {near} ORDER BY {ratio} DESC, i.id LIMIT {limit}"
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(QuotaRow {
                invitation_id: get(r, "id")?,
                label: get(r, "label")?,
                limit_tokens: get(r, "lim")?,
                used_tokens: get(r, "used")?,
                reserved_tokens: get(r, "reserved")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Top-N.

/// A ranked group of usage: a user, or a provider's model.
#[derive(Debug, Clone, PartialEq)]
pub struct TopUsage {
    pub key: Option<String>,
    pub provider: Option<String>,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub unknown_cost_calls: i64,
}

/// What to rank usage by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopUsageBy {
    /// Users by tokens (input + output).
    UsersByTokens,
    /// Models by known cost.
    ModelsByCost,
}

/// The top `limit` users or models of `[from, to)`, in one statement.
pub async fn top_usage(
    db: &impl ConnectionTrait,
    by: TopUsageBy,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    research_only: bool,
    limit: u64,
) -> Result<Vec<TopUsage>, StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    let f = sql.bind(from);
    let t = sql.bind(to);
    let research = if research_only {
        " AND u.invitation_id IS NOT NULL"
    } else {
        ""
    };
    let (key, provider, group, order) = match by {
        TopUsageBy::UsersByTokens => (
            "u.user_id",
            "CAST(NULL AS TEXT)",
            "u.user_id",
            "SUM(u.input_tokens) + SUM(u.output_tokens) DESC, u.user_id",
        ),
        TopUsageBy::ModelsByCost => (
            "u.model",
            "u.provider",
            "u.provider, u.model",
            "COALESCE(SUM(u.cost_micros), 0) DESC, u.provider, u.model",
        ),
    };
    let extra = if by == TopUsageBy::UsersByTokens {
        " AND u.user_id IS NOT NULL"
    } else {
        ""
    };
    let text = format!(
        "SELECT {key} AS k, {provider} AS p, {SUMS} FROM usage_logs u \
         WHERE u.created_at >= {f} AND u.created_at < {t}{research}{extra} \
         GROUP BY {group} ORDER BY {order} LIMIT {limit}"
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(TopUsage {
                key: get(r, "k")?,
                provider: get(r, "p")?,
                calls: get(r, "calls")?,
                input_tokens: get::<Option<i64>>(r, "input_tokens")?.unwrap_or(0),
                output_tokens: get::<Option<i64>>(r, "output_tokens")?.unwrap_or(0),
                cost_micros: get::<Option<i64>>(r, "cost_micros")?.unwrap_or(0),
                unknown_cost_calls: get::<Option<i64>>(r, "unknown_cost_calls")?.unwrap_or(0),
            })
        })
        .collect()
}

/// A conversation ranked by its number of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopConversation {
    pub conversation_id: String,
    pub user_id: Option<String>,
    pub messages: i64,
}

/// The conversations with the most messages written in `[from, to)`, in one statement.
pub async fn longest_conversations(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    research_only: bool,
    limit: u64,
) -> Result<Vec<TopConversation>, StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    let f = sql.bind(from);
    let t = sql.bind(to);
    let research = if research_only {
        " AND c.invitation_id IS NOT NULL"
    } else {
        ""
    };
    let text = format!(
        "SELECT c.id AS id, MAX(c.user_id) AS user_id, COUNT(*) AS n \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.created_at >= {f} AND m.created_at < {t} AND c.deleted_at IS NULL{research} \
         GROUP BY c.id ORDER BY COUNT(*) DESC, c.id LIMIT {limit}"
    );
    let rows = db.query_all_raw(sql.statement(text)).await?;
    rows.iter()
        .map(|r| {
            Ok(TopConversation {
                conversation_id: get(r, "id")?,
                user_id: get(r, "user_id")?,
                messages: get(r, "n")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Operations: instances' heartbeats and the state of the database.

/// An instance and when it was last seen.
pub use crate::entity::instances::Model as Instance;

/// Records that instance `id` is alive now (insert or refresh), in one statement.
pub async fn heartbeat(
    db: &impl ConnectionTrait,
    id: &str,
    version: &str,
    started_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::entity::instances::{ActiveModel, Column, Entity};
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{EntityTrait, Set};
    let row = ActiveModel {
        id: Set(id.to_owned()),
        version: Set(version.to_owned()),
        started_at: Set(started_at),
        seen_at: Set(core_domain::time::now()),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([Column::SeenAt, Column::Version])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Instances seen since `since`, most recent first.
pub async fn instances_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<Instance>, StoreError> {
    use crate::entity::instances::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(Entity::find()
        .filter(Column::SeenAt.gte(since))
        .order_by_desc(Column::SeenAt)
        .all(db)
        .await?)
}

/// Replies being generated right now (STREAMING messages), for the queue depths.
pub async fn streaming_replies(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM messages WHERE status = 'STREAMING'",
    );
    match db.query_one_raw(stmt).await? {
        Some(row) => get(&row, "n"),
        None => Ok(0),
    }
}
