//! The analytics area's use cases: aggregates for staff and administrators (usage, activity,
//! quotas, telemetry, top-N), usage where users look for it (a message's, their own, an
//! invitation's), and the operator's view (`serverStatus`).
//!
//! **Who sees what.** ADMIN sees everything. STAFF see research data only: usage of calls made
//! under an invitation, activity of invitation sessions, invitations' quotas and telemetry
//! (which is research data already). Anyone else gets FORBIDDEN; no caller, UNAUTHENTICATED.
//!
//! **Ranges** are `[from, to)`, bucketed in an IANA time zone: the zone becomes fixed-offset
//! segments over the range here (with `chrono-tz`), and the database buckets rows with them (see
//! `persistence::analytics`). A range is capped by its bucket (BAD_USER_INPUT beyond): at most
//! 93 days of hours, 400 days of days, 5 years of weeks, 10 years of months; and an answer at
//! most [`MAX_ROWS`] rows.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use core_domain::enums::Role;
use core_domain::validation::ValidationError;
use core_domain::{Actor, time};
use persistence::Db;
use persistence::analytics::{self as store, TzSegments, Window};
use persistence::subscriptions;
pub use persistence::subscriptions::PlanQuota;

use crate::error::{ApiError, ApiResult};
use crate::platform::config::Config;
use crate::platform::heartbeat;
use crate::platform::metrics::{self, JobGauges};

pub use persistence::analytics::{
    ActivityCount, ActivityDim, ActivityScope, Bucket, EventCount, QuotaRow, Roll, SessionMedian,
    TopConversation, TopUsage, TopUsageBy, TotalsBy, UsageDim, UsageFilter, UsageRow, UsageTotals,
};

/// Most rows one analytics answer holds.
pub const MAX_ROWS: u64 = 5_000;
/// Most steps of a funnel.
pub const MAX_FUNNEL_STEPS: usize = 10;
/// Most rows of a top-N list.
pub const MAX_TOP: u64 = 100;

/// Who is asking, as analytics sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everything.
    Admin,
    /// Research data only.
    Staff,
}

impl Audience {
    pub fn research_only(self) -> bool {
        self == Self::Staff
    }
}

/// The range of a query, as given.
#[derive(Debug, Clone)]
pub struct RangeSpec {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub time_zone: String,
}

/// A checked range: its window for the store and the zone to label buckets in.
#[derive(Debug, Clone)]
pub struct Range {
    pub window: Window,
    pub tz: Tz,
}

impl Range {
    /// The instant a bucket key starts at, and its label in the zone (`2026-03-29`,
    /// `2026-03-29T02:00`, `2026-03`).
    pub fn bucket_start(&self, key: i64) -> (DateTime<Utc>, String) {
        bucket_start(self.window.bucket, &self.tz, key)
    }
}

fn local_midnight(tz: &Tz, date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A zone that skips midnight (a DST gap) starts the day at the first instant that exists.
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(naive + Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

fn epoch_day(days: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap_or_default()
        .checked_add_signed(Duration::days(days))
        .unwrap_or_default()
}

/// See [`Range::bucket_start`].
pub fn bucket_start(bucket: Bucket, tz: &Tz, key: i64) -> (DateTime<Utc>, String) {
    match bucket {
        Bucket::Hour => {
            let at = DateTime::from_timestamp(key, 0).unwrap_or_default();
            (
                at,
                at.with_timezone(tz).format("%Y-%m-%dT%H:%M").to_string(),
            )
        }
        Bucket::Day => {
            let day = epoch_day(key);
            (local_midnight(tz, day), day.format("%Y-%m-%d").to_string())
        }
        Bucket::Week => {
            let monday = epoch_day(key * 7 - 3);
            (
                local_midnight(tz, monday),
                monday.format("%Y-%m-%d").to_string(),
            )
        }
        Bucket::Month => {
            let year = i32::try_from(key.div_euclid(12)).unwrap_or(1970);
            let month = u32::try_from(key.rem_euclid(12) + 1).unwrap_or(1);
            let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
            (local_midnight(tz, first), first.format("%Y-%m").to_string())
        }
    }
}

/// The longest range each bucket allows.
pub fn max_range(bucket: Bucket) -> Duration {
    match bucket {
        Bucket::Hour => Duration::days(93),
        Bucket::Day => Duration::days(400),
        Bucket::Week => Duration::days(5 * 366),
        Bucket::Month => Duration::days(10 * 366),
    }
}

/// UTC offset (seconds east) of `tz` at Unix second `t`.
fn offset_at(tz: &Tz, t: i64) -> i64 {
    use chrono::Offset;
    let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
    i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// `tz` over `[from, to)` as fixed-offset segments: the offset is sampled every 6 hours (no zone
/// changes offset twice within 6 hours) and each change is bisected to the second.
pub fn segments(tz: &Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> TzSegments {
    const STEP: i64 = 6 * 3600;
    let (start, end) = (from.timestamp(), to.timestamp());
    let mut offsets = vec![offset_at(tz, start)];
    let mut transitions = Vec::new();
    let mut t = start;
    while t < end {
        let next = (t + STEP).min(end);
        let before = offsets.last().copied().unwrap_or(0);
        if offset_at(tz, next) != before {
            // The first second in (t, next] with a new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            transitions.push(hi);
            offsets.push(offset_at(tz, hi));
        }
        t = next;
    }
    TzSegments {
        offsets,
        transitions,
    }
}

/// Checks a range and builds its window.
pub fn range(spec: &RangeSpec) -> ApiResult<Range> {
    if spec.from >= spec.to {
        return Err(ApiError::BadInput(ValidationError::new(
            "range",
            "`from` must be before `to`",
        )));
    }
    if spec.to - spec.from > max_range(spec.bucket) {
        return Err(ApiError::BadInput(ValidationError::new(
            "range",
            format!(
                "the range is too long for this bucket: at most {} days",
                max_range(spec.bucket).num_days()
            ),
        )));
    }
    let tz = Tz::from_str(spec.time_zone.trim()).map_err(|_| {
        ApiError::BadInput(ValidationError::new(
            "timeZone",
            "not an IANA time zone (e.g. `Europe/Paris`, `UTC`)",
        ))
    })?;
    Ok(Range {
        window: Window {
            from: spec.from,
            to: spec.to,
            bucket: spec.bucket,
            zone: segments(&tz, spec.from, spec.to),
        },
        tz,
    })
}

fn too_many_rows() -> ApiError {
    ApiError::BadInput(ValidationError::new(
        "groupBy",
        format!(
            "the answer would exceed {MAX_ROWS} rows: narrow the range, the buckets or groupBy"
        ),
    ))
}

/// The activity of one bucket and group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityBucket {
    pub bucket: i64,
    /// In the order of `group_by`.
    pub dims: Vec<Option<String>>,
    pub active_users: i64,
    /// None for staff (not research data), and when the filter or a grouped dimension is not
    /// one accounts have.
    pub new_users: Option<i64>,
    pub conversations_started: i64,
    /// `(role, count)`, stored spellings.
    pub messages_by_role: Vec<(String, i64)>,
    pub sessions_completed: i64,
    pub sessions_abandoned: i64,
    pub median_session_seconds: Option<f64>,
    /// None for staff (not research data), and when the filter or a grouped dimension is not
    /// one journals have.
    pub journals_saved: Option<i64>,
    /// `(status, count)`; empty for staff, and when the filter or a grouped dimension is not one
    /// analyses have.
    pub analyses_by_status: Vec<(String, i64)>,
}

/// One row per bucket and group from the grouped counts and medians (no sums: each count is one
/// row of the database's answer). Too many groups are BAD_USER_INPUT.
fn assemble_activity(
    query: &store::ActivityQuery,
    counts: Vec<ActivityCount>,
    medians: Vec<SessionMedian>,
) -> ApiResult<Vec<ActivityBucket>> {
    type Key = (i64, Vec<Option<String>>);
    let mut rows: std::collections::BTreeMap<Key, ActivityBucket> = Default::default();
    let (users, journals) = (
        query.counts(store::Counted::Users),
        query.counts(store::Counted::Journals),
    );
    let empty = |(bucket, dims): &Key| ActivityBucket {
        bucket: *bucket,
        dims: dims.clone(),
        new_users: users.then_some(0),
        journals_saved: journals.then_some(0),
        ..Default::default()
    };
    for c in counts {
        let key = (c.bucket, c.dims);
        let b = rows.entry(key.clone()).or_insert_with(|| empty(&key));
        match c.metric.as_str() {
            "active_users" => b.active_users = c.value,
            "new_users" => b.new_users = Some(c.value),
            "conversations_started" => b.conversations_started = c.value,
            "messages" => b.messages_by_role.push((c.label, c.value)),
            "sessions_ended" if c.label == "COMPLETED" => b.sessions_completed = c.value,
            "sessions_ended" => b.sessions_abandoned = c.value,
            "journals_saved" => b.journals_saved = Some(c.value),
            "analyses" => b.analyses_by_status.push((c.label, c.value)),
            _ => {}
        }
    }
    for m in medians {
        let key = (m.bucket, m.dims);
        rows.entry(key.clone())
            .or_insert_with(|| empty(&key))
            .median_session_seconds = m.seconds;
    }
    if rows.len() as u64 > MAX_ROWS {
        return Err(too_many_rows());
    }
    let mut out: Vec<ActivityBucket> = rows.into_values().collect();
    for b in &mut out {
        b.messages_by_role.sort();
        b.analyses_by_status.sort();
    }
    Ok(out)
}

/// One step of a funnel and how many users reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelStep {
    pub name: String,
    pub users: i64,
}

/// A provider the server can call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStatus {
    pub id: String,
    /// Whether the server holds a key of its own for it (never the key).
    pub server_key: bool,
}

/// What `serverStatus` shows.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    pub version: &'static str,
    pub database: &'static str,
    pub migrations_applied: usize,
    pub migrations_known: usize,
    pub last_migration: Option<String>,
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub instances: Vec<store::Instance>,
    pub streaming_replies: i64,
    pub streams_in_flight: i64,
    pub jobs: JobGauges,
    pub providers: Vec<ProviderStatus>,
}

/// A `nearLimit` ratio: between 0 and 10.
fn check_ratio(near_ratio: Option<f64>) -> ApiResult<()> {
    match near_ratio {
        Some(r) if !(0.0..=10.0).contains(&r) => Err(ApiError::BadInput(ValidationError::new(
            "nearLimit",
            "a ratio between 0 and 10",
        ))),
        _ => Ok(()),
    }
}

/// Analytics, usage summaries and the server's status.
pub struct AnalyticsService {
    db: Db,
    config: Arc<Config>,
    chat: Arc<crate::chat::ChatService>,
}

impl AnalyticsService {
    pub fn new(db: Db, config: Arc<Config>, chat: Arc<crate::chat::ChatService>) -> Self {
        Self { db, config, chat }
    }

    /// Who may read analytics: ADMIN (everything) and STAFF (research data); FORBIDDEN else.
    pub fn audience(&self, actor: Option<&Actor>) -> ApiResult<Audience> {
        match actor.map(|a| a.role) {
            None => Err(ApiError::Unauthenticated),
            Some(Role::Admin) => Ok(Audience::Admin),
            Some(Role::Staff) => Ok(Audience::Staff),
            Some(_) => Err(ApiError::Forbidden(
                "analytics are for staff and administrators",
            )),
        }
    }

    /// Usage per bucket and group: one statement (from the daily rollup when it can answer).
    pub async fn usage(
        &self,
        audience: Audience,
        range: &Range,
        group_by: Vec<UsageDim>,
        mut filter: UsageFilter,
        percentiles: bool,
    ) -> ApiResult<Vec<UsageRow>> {
        filter.research_only |= audience.research_only();
        let query = store::UsageQuery {
            window: range.window.clone(),
            group_by,
            filter,
            percentiles,
            max_rows: MAX_ROWS,
        };
        let rows = store::usage(self.db.conn(), &query, self.config.ops.analytics_rollups).await?;
        if rows.len() as u64 > MAX_ROWS {
            return Err(too_many_rows());
        }
        // One order on both databases (they sort NULLs and text differently).
        let mut rows = rows;
        rows.sort_by(|a, b| (a.bucket, &a.dims).cmp(&(b.bucket, &b.dims)));
        Ok(rows)
    }

    /// Activity per bucket and group: two statements (the counts, and the median session
    /// durations), each grouped in the database; the rows are assembled here. A UTC day query
    /// with no group or filter reads the days the daily rollup holds from it (one more
    /// statement: how far it got). `filter` narrows it (its `research_only` is the audience's);
    /// measures it or `group_by` leaves nothing to count of (accounts under a filter or group by
    /// invitation, say) are None / empty.
    pub async fn activity(
        &self,
        audience: Audience,
        range: &Range,
        group_by: Vec<ActivityDim>,
        filter: ActivityScope,
    ) -> ApiResult<Vec<ActivityBucket>> {
        let query = store::ActivityQuery {
            window: range.window.clone(),
            scope: ActivityScope {
                research_only: audience.research_only(),
                ..filter
            },
            group_by,
            max_rows: MAX_ROWS,
        };
        let (counts, medians) =
            store::activity(self.db.conn(), &query, self.config.ops.analytics_rollups).await?;
        if counts.len() as u64 > MAX_ROWS * store::COUNT_ROWS_PER_GROUP {
            return Err(too_many_rows());
        }
        if medians.len() as u64 > MAX_ROWS {
            return Err(too_many_rows());
        }
        assemble_activity(&query, counts, medians)
    }

    /// Recomputes the daily activity rollup up to yesterday (UTC): see
    /// `persistence::analytics::roll_activity`. Safe with several instances.
    pub async fn roll_activity(&self) -> Result<store::Roll, persistence::StoreError> {
        store::roll_activity(self.db.conn(), time::now().date_naive()).await
    }

    /// Invitations' quotas, the fullest first (all, or those at or over `near_ratio`).
    pub async fn quotas(
        &self,
        _audience: Audience,
        near_ratio: Option<f64>,
        limit: u64,
    ) -> ApiResult<Vec<QuotaRow>> {
        check_ratio(near_ratio)?;
        Ok(store::invitation_quotas(self.db.conn(), near_ratio, limit.min(MAX_ROWS)).await?)
    }

    /// Subscribers' use of a plan metric this calendar month (UTC) against their plan's limit,
    /// the fullest first (all, or those at or over `near_ratio`). For administrators: plans are
    /// not research data (staff get FORBIDDEN).
    pub async fn plan_quotas(
        &self,
        audience: Audience,
        metric: &str,
        near_ratio: Option<f64>,
        limit: u64,
    ) -> ApiResult<(String, Vec<PlanQuota>)> {
        if audience.research_only() {
            return Err(ApiError::Forbidden(
                "plan quotas are for administrators (staff see research data)",
            ));
        }
        check_ratio(near_ratio)?;
        let plans = &self.config.billing.plans;
        let limits: Vec<(String, Option<i64>)> = crate::billing::plans::Plan::ALL
            .into_iter()
            .map(|p| (p.as_str().to_owned(), plans.get(p).limit(metric)))
            .collect();
        let period = subscriptions::period_key(subscriptions::month_of(time::now()).0);
        let rows = subscriptions::quotas(
            self.db.conn(),
            metric,
            &period,
            &limits,
            near_ratio,
            limit.min(MAX_ROWS),
        )
        .await?;
        Ok((period, rows))
    }

    /// Telemetry events per bucket and name.
    pub async fn events(&self, range: &Range, names: &[String]) -> ApiResult<Vec<EventCount>> {
        let mut rows = store::event_counts(self.db.conn(), &range.window, names, MAX_ROWS).await?;
        if rows.len() as u64 > MAX_ROWS {
            return Err(too_many_rows());
        }
        rows.sort_by(|a, b| (a.bucket, &a.name).cmp(&(b.bucket, &b.name)));
        Ok(rows)
    }

    /// How many users reached each step, in order.
    pub async fn funnel(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        steps: Vec<String>,
    ) -> ApiResult<Vec<FunnelStep>> {
        if steps.is_empty() || steps.len() > MAX_FUNNEL_STEPS {
            return Err(ApiError::BadInput(ValidationError::new(
                "steps",
                format!("between 1 and {MAX_FUNNEL_STEPS} event names"),
            )));
        }
        if from >= to || to - from > max_range(Bucket::Day) {
            return Err(ApiError::BadInput(ValidationError::new(
                "range",
                "`from` must be before `to`, at most 400 days apart",
            )));
        }
        let counts = store::funnel(self.db.conn(), from, to, &steps).await?;
        Ok(steps
            .into_iter()
            .zip(counts)
            .map(|(name, users)| FunnelStep { name, users })
            .collect())
    }

    fn top_range(from: DateTime<Utc>, to: DateTime<Utc>, limit: u64) -> ApiResult<u64> {
        if from >= to || to - from > max_range(Bucket::Month) {
            return Err(ApiError::BadInput(ValidationError::new(
                "range",
                "`from` must be before `to`, at most 10 years apart",
            )));
        }
        if limit == 0 || limit > MAX_TOP {
            return Err(ApiError::BadInput(ValidationError::new(
                "limit",
                format!("between 1 and {MAX_TOP}"),
            )));
        }
        Ok(limit)
    }

    /// The heaviest users (tokens) or costliest models (known cost) of a range.
    pub async fn top_usage(
        &self,
        audience: Audience,
        by: TopUsageBy,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u64,
    ) -> ApiResult<Vec<TopUsage>> {
        let limit = Self::top_range(from, to, limit)?;
        Ok(store::top_usage(
            self.db.conn(),
            by,
            from,
            to,
            audience.research_only(),
            limit,
        )
        .await?)
    }

    /// The conversations with the most messages in a range.
    pub async fn longest_conversations(
        &self,
        audience: Audience,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u64,
    ) -> ApiResult<Vec<TopConversation>> {
        let limit = Self::top_range(from, to, limit)?;
        Ok(
            store::longest_conversations(self.db.conn(), from, to, audience.research_only(), limit)
                .await?,
        )
    }

    // -- usage where users look for it ----------------------------------------------------------

    /// Usage totals per key (loaders call this with a whole level's keys: one statement).
    /// Access is the caller's to check: the parent (a message, a user, an invitation) was
    /// already resolved under its own rules.
    pub async fn totals(
        &self,
        by: TotalsBy,
        keys: &[String],
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<std::collections::HashMap<String, UsageTotals>, persistence::StoreError> {
        store::totals(self.db.conn(), by, keys, range).await
    }

    /// Whether `actor` may read `user_id`'s usage: their own, or an administrator.
    pub fn may_read_user_usage(actor: Option<&Actor>, user_id: &str) -> bool {
        actor.is_some_and(|a| a.user_id == user_id || a.role == Role::Admin)
    }

    /// Checks a `usage(range)` argument of a user or invitation: `from` before `to`, at most
    /// ten years apart.
    pub fn totals_range(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> ApiResult<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        match (from, to) {
            (None, None) => Ok(None),
            (from, to) => {
                let from = from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                let to = to.unwrap_or_else(|| time::now() + Duration::seconds(1));
                if from >= to {
                    return Err(ApiError::BadInput(ValidationError::new(
                        "range",
                        "`from` must be before `to`",
                    )));
                }
                Ok(Some((from, to)))
            }
        }
    }

    // -- operations -----------------------------------------------------------------------------

    /// The server's status, for administrators only.
    pub async fn server_status(&self, actor: Option<&Actor>) -> ApiResult<ServerStatus> {
        match actor.map(|a| a.role) {
            None => return Err(ApiError::Unauthenticated),
            Some(Role::Admin) => {}
            Some(_) => {
                return Err(ApiError::Forbidden(
                    "the server's status is for administrators",
                ));
            }
        }
        let migrations = self.db.migration_status().await?;
        let applied: Vec<_> = migrations.iter().filter(|m| m.applied).collect();
        let me = heartbeat::this_instance();
        let since = time::now()
            - Duration::from_std(self.config.ops.heartbeat * 3).unwrap_or(Duration::minutes(2));
        let instances = store::instances_since(self.db.conn(), since).await?;
        let providers = self.chat.providers();
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION"),
            database: match self.db.backend() {
                sea_orm::DbBackend::Postgres => "postgresql",
                _ => "sqlite",
            },
            migrations_applied: applied.len(),
            migrations_known: migrations.len(),
            last_migration: applied.last().map(|m| m.name.clone()),
            instance_id: me.id.clone(),
            started_at: me.started_at,
            instances,
            streaming_replies: store::streaming_replies(self.db.conn()).await?,
            streams_in_flight: metrics::global().streams_in_flight(),
            jobs: metrics::global().jobs(),
            providers: providers
                .ids()
                .into_iter()
                .map(|id| ProviderStatus {
                    id: id.to_owned(),
                    server_key: providers.has_server_key(id),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn segments_find_dst_transitions_to_the_second() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let s = segments(&tz, at("2026-03-01T00:00:00Z"), at("2026-11-30T00:00:00Z"));
        assert_eq!(s.offsets, vec![3600, 7200, 3600]);
        assert_eq!(
            s.transitions,
            vec![
                at("2026-03-29T01:00:00Z").timestamp(),
                at("2026-10-25T01:00:00Z").timestamp()
            ]
        );
        let utc = segments(
            &Tz::UTC,
            at("2026-03-01T00:00:00Z"),
            at("2026-11-30T00:00:00Z"),
        );
        assert!(utc.is_utc());
    }

    #[test]
    fn bucket_keys_map_back_to_local_starts() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-03-09 is day 20521 since 1970-01-01; midnight in New York is 04:00 UTC (EDT).
        let day = (at("2026-03-09T00:00:00Z").timestamp()) / 86_400;
        let (start, label) = bucket_start(Bucket::Day, &tz, day);
        assert_eq!(label, "2026-03-09");
        assert_eq!(start, at("2026-03-09T04:00:00Z"));
        // Week keys count Mondays: 2026-03-09 is a Monday.
        let (start, label) = bucket_start(Bucket::Week, &tz, (day + 3) / 7);
        assert_eq!(label, "2026-03-09");
        assert_eq!(start, at("2026-03-09T04:00:00Z"));
        let (start, label) = bucket_start(Bucket::Month, &tz, 2026 * 12 + 2);
        assert_eq!(label, "2026-03");
        assert_eq!(start, at("2026-03-01T05:00:00Z"));
    }

    #[test]
    fn ranges_are_capped_by_bucket() {
        let spec = |from: &str, to: &str, bucket| RangeSpec {
            from: at(from),
            to: at(to),
            bucket,
            time_zone: "UTC".into(),
        };
        assert!(
            range(&spec(
                "2026-01-01T00:00:00Z",
                "2026-03-01T00:00:00Z",
                Bucket::Hour
            ))
            .is_ok()
        );
        assert!(matches!(
            range(&spec("2025-01-01T00:00:00Z", "2026-03-01T00:00:00Z", Bucket::Hour)),
            Err(ApiError::BadInput(e)) if e.field == "range"
        ));
        assert!(matches!(
            range(&RangeSpec { time_zone: "Mars/Olympus".into(), ..spec("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", Bucket::Day) }),
            Err(ApiError::BadInput(e)) if e.field == "timeZone"
        ));
    }
}
