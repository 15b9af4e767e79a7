//! Operational metrics beyond the HTTP counters, in the Prometheus text format `/metrics` serves:
//! provider calls, tokens and cost by provider and model, time to first token, streams in
//! flight, jobs queued/running/failed, budget refusals by kind, and the SQL statement duration
//! histogram (from `persistence::SqlStats`).
//!
//! The registry is process-wide ([`global`]) so the places that observe (a generation task, a
//! budget check) need no handle. **Label values are bounded**: provider and model names come
//! from configuration and the catalogue, but an OpenAI-compatible server may name any model, so
//! each label set is capped at [`MAX_SERIES`] distinct values; later ones are counted under
//! `other`. No user, conversation or request id is ever a label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use persistence::SqlStats;

/// Most distinct values a label takes before the rest count as `other`.
pub const MAX_SERIES: usize = 64;

/// Upper bounds (seconds) of the time-to-first-token histogram (`+Inf` implied).
const TTFT_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0];

#[derive(Debug, Default, Clone)]
struct ProviderSeries {
    calls: u64,
    failed: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_micros: u64,
    unknown_cost: u64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative), the last for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1];
        }
        let i = bounds
            .iter()
            .position(|le| value <= *le)
            .unwrap_or(bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += value;
    }
}

/// Jobs by state, as the job system last reported them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobGauges {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
}

/// The process-wide registry.
#[derive(Debug, Default)]
pub struct OpsMetrics {
    providers: Mutex<BTreeMap<(String, String), ProviderSeries>>,
    ttft: Mutex<BTreeMap<String, Histogram>>,
    streams_in_flight: AtomicI64,
    budget_refusals: Mutex<BTreeMap<String, u64>>,
    jobs: Mutex<JobGauges>,
}

static GLOBAL: LazyLock<OpsMetrics> = LazyLock::new(OpsMetrics::default);

/// The registry every observation goes to.
pub fn global() -> &'static OpsMetrics {
    &GLOBAL
}

/// `value`, or `other` once `seen` holds [`MAX_SERIES`] distinct values and not this one.
fn bounded<'a, V>(seen: impl Iterator<Item = &'a str>, value: &str, existing: &V) -> String
where
    V: Fn(&str) -> bool,
{
    if existing(value) {
        return value.to_owned();
    }
    let distinct: std::collections::BTreeSet<&str> = seen.collect();
    if distinct.len() >= MAX_SERIES {
        "other".to_owned()
    } else {
        value.to_owned()
    }
}

/// What one finished provider call used.
#[derive(Debug, Clone, Copy)]
pub struct CallUsage {
    pub ok: bool,
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// None when the model's price is unknown.
    pub cost_micros: Option<i64>,
}

impl OpsMetrics {
    /// One provider call finished (completed, failed or cancelled).
    pub fn provider_call(&self, provider: &str, model: &str, usage: CallUsage) {
        let mut map = self
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let provider = bounded(map.keys().map(|(p, _)| p.as_str()), provider, &|p| {
            map.keys().any(|(k, _)| k == p)
        });
        let model = bounded(
            map.keys()
                .filter(|(p, _)| *p == provider)
                .map(|(_, m)| m.as_str()),
            model,
            &|m| map.contains_key(&(provider.clone(), m.to_owned())),
        );
        let series = map.entry((provider, model)).or_default();
        series.calls += 1;
        if !usage.ok {
            series.failed += 1;
        }
        series.input_tokens += u64::from(usage.input_tokens);
        series.output_tokens += u64::from(usage.output_tokens);
        match usage.cost_micros {
            Some(c) => series.cost_micros += u64::try_from(c).unwrap_or(0),
            None => series.unknown_cost += 1,
        }
    }

    /// A reply's first token arrived `elapsed` after its provider call started.
    pub fn first_token(&self, provider: &str, elapsed: Duration) {
        let mut map = self.ttft.lock().unwrap_or_else(PoisonError::into_inner);
        let provider = bounded(map.keys().map(String::as_str), provider, &|p| {
            map.contains_key(p)
        });
        map.entry(provider)
            .or_default()
            .observe(&TTFT_BUCKETS, elapsed.as_secs_f64());
    }

    /// A reply stream started; it counts as in flight until the guard drops.
    pub fn stream_started(&'static self) -> InFlight {
        self.streams_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// A reservation was refused by a budget of `kind` (its scope: `user_daily`, `invitation`,
    /// `plan`, ...).
    pub fn budget_refused(&self, kind: &str) {
        let mut map = self
            .budget_refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let kind = bounded(map.keys().map(String::as_str), kind, &|k| {
            map.contains_key(k)
        });
        *map.entry(kind).or_default() += 1;
    }

    /// The job system reports its queue (the lead wires the job worker to call this).
    pub fn set_jobs(&self, gauges: JobGauges) {
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = gauges;
    }

    pub fn jobs(&self) -> JobGauges {
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn streams_in_flight(&self) -> i64 {
        self.streams_in_flight.load(Ordering::Relaxed)
    }

    /// These metrics and the SQL histogram in the Prometheus text format.
    pub fn render(&self, sql: &SqlStats) -> String {
        let mut out = String::new();
        let providers = self
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        type Series = (&'static str, &'static str, fn(&ProviderSeries) -> u64);
        let series: [Series; 6] = [
            ("colloquy_provider_calls_total", "counter", |s| s.calls),
            ("colloquy_provider_failed_calls_total", "counter", |s| {
                s.failed
            }),
            ("colloquy_provider_input_tokens_total", "counter", |s| {
                s.input_tokens
            }),
            ("colloquy_provider_output_tokens_total", "counter", |s| {
                s.output_tokens
            }),
            (
                "colloquy_provider_cost_micro_dollars_total",
                "counter",
                |s| s.cost_micros,
            ),
            (
                "colloquy_provider_unknown_cost_calls_total",
                "counter",
                |s| s.unknown_cost,
            ),
        ];
        for (name, kind, value) in series {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for ((provider, model), s) in &providers {
                let _ = writeln!(
                    out,
                    "{name}{{provider=\"{}\",model=\"{}\"}} {}",
                    escape(provider),
                    escape(model),
                    value(s)
                );
            }
        }
        let ttft = self
            .ttft
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let name = "colloquy_provider_first_token_seconds";
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (provider, h) in &ttft {
            let label = format!("provider=\"{}\"", escape(provider));
            let mut total = 0;
            for (i, count) in h.counts.iter().enumerate() {
                total += count;
                let le = TTFT_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(out, "{name}_bucket{{{label},le=\"{le}\"}} {total}");
            }
            let _ = writeln!(out, "{name}_sum{{{label}}} {:.6}", h.sum);
            let _ = writeln!(out, "{name}_count{{{label}}} {total}");
        }
        let _ = writeln!(
            out,
            "# TYPE colloquy_streams_in_flight gauge\ncolloquy_streams_in_flight {}",
            self.streams_in_flight()
        );
        let jobs = self.jobs();
        let _ = writeln!(out, "# TYPE colloquy_jobs gauge");
        for (state, n) in [
            ("queued", jobs.queued),
            ("running", jobs.running),
            ("failed", jobs.failed),
        ] {
            let _ = writeln!(out, "colloquy_jobs{{state=\"{state}\"}} {n}");
        }
        let refusals = self
            .budget_refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let _ = writeln!(out, "# TYPE colloquy_budget_refusals_total counter");
        for (kind, n) in &refusals {
            let _ = writeln!(
                out,
                "colloquy_budget_refusals_total{{kind=\"{}\"}} {n}",
                escape(kind)
            );
        }
        let name = "colloquy_sql_statement_seconds";
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut count = 0;
        for (le, n) in sql.histogram() {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
            count = n;
        }
        let _ = writeln!(
            out,
            "{name}_sum {:.6}\n{name}_count {count}",
            sql.total_micros() as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# TYPE colloquy_sql_slow_statements_total counter\ncolloquy_sql_slow_statements_total {}",
            sql.slow()
        );
        out
    }
}

/// A stream in flight; dropping it ends it.
#[derive(Debug)]
pub struct InFlight(&'static OpsMetrics);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.streams_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format wants.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_labels_are_bounded() {
        let m = OpsMetrics::default();
        let usage = CallUsage {
            ok: true,
            input_tokens: 1,
            output_tokens: 2,
            cost_micros: Some(3),
        };
        for i in 0..(MAX_SERIES + 10) {
            m.provider_call("openai", &format!("model-{i}"), usage);
        }
        let map = m.providers.lock().unwrap();
        assert_eq!(map.len(), MAX_SERIES + 1);
        assert_eq!(map[&("openai".to_owned(), "other".to_owned())].calls, 10);
    }

    #[test]
    fn renders_prometheus_text() {
        let m = OpsMetrics::default();
        m.provider_call(
            "local",
            "echo",
            CallUsage {
                ok: true,
                input_tokens: 5,
                output_tokens: 7,
                cost_micros: None,
            },
        );
        m.first_token("local", Duration::from_millis(30));
        m.budget_refused("invitation");
        let text = m.render(&SqlStats::default());
        assert!(
            text.contains(
                "colloquy_provider_input_tokens_total{provider=\"local\",model=\"echo\"} 5"
            )
        );
        assert!(text.contains(
            "colloquy_provider_unknown_cost_calls_total{provider=\"local\",model=\"echo\"} 1"
        ));
        assert!(text.contains(
            "colloquy_provider_first_token_seconds_bucket{provider=\"local\",le=\"0.05\"} 1"
        ));
        assert!(text.contains("colloquy_budget_refusals_total{kind=\"invitation\"} 1"));
        assert!(text.contains("colloquy_sql_statement_seconds_bucket{le=\"+Inf\"} 0"));
    }
}
