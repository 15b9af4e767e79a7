//! The plans and their entitlements, from `seeds/plans.json` (built in) or `COLLOQUY_PLANS_FILE`.
//! Every plan must be listed once; a limit left out (or null) means unlimited.

use async_graphql::Enum;
use serde::Deserialize;

use crate::platform::config::ConfigError;

/// The built-in entitlements.
const PLANS: &str = include_str!("../../../../seeds/plans.json");

/// A subscription plan.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Plan {
    Free,
    Basic,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Basic, Plan::Pro, Plan::Enterprise];

    /// The stored spelling (and the name errors use).
    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "FREE",
            Plan::Basic => "BASIC",
            Plan::Pro => "PRO",
            Plan::Enterprise => "ENTERPRISE",
        }
    }

    /// The plan a stored spelling names; an unknown one reads as FREE.
    pub fn parse(s: &str) -> Plan {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or(Plan::Free)
    }
}

/// What a plan allows per subscription period (a calendar month).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entitlements {
    pub plan: Plan,
    pub name: String,
    /// Tokens (prompt + reply) of every AI call: chat, practice streams, analyses.
    pub monthly_ai_tokens: Option<i64>,
    /// Analyses and solution runs started.
    pub analyses_per_month: Option<i64>,
    /// Bytes uploaded.
    pub upload_bytes_per_month: Option<i64>,
}

impl Entitlements {
    /// The limit on `metric` (a `subscription_usage.metric`: `ai_tokens`, `analyses`,
    /// `upload_bytes`); None for no limit, and for a metric plans do not meter.
    pub fn limit(&self, metric: &str) -> Option<i64> {
        match metric {
            persistence::subscriptions::TOKENS => self.monthly_ai_tokens,
            persistence::subscriptions::ANALYSES => self.analyses_per_month,
            persistence::subscriptions::UPLOAD_BYTES => self.upload_bytes_per_month,
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct PlansFile {
    plans: Vec<Entitlements>,
}

/// Every plan's entitlements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans(Vec<Entitlements>);

impl Plans {
    /// Parses a plans file: every plan exactly once, limits not negative.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: PlansFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for plan in Plan::ALL {
            let n = file.plans.iter().filter(|e| e.plan == plan).count();
            if n != 1 {
                return Err(format!("plan {} is listed {n} times", plan.as_str()));
            }
        }
        for e in &file.plans {
            for limit in [
                e.monthly_ai_tokens,
                e.analyses_per_month,
                e.upload_bytes_per_month,
            ]
            .into_iter()
            .flatten()
            {
                if limit < 0 {
                    return Err(format!("plan {} has a negative limit", e.plan.as_str()));
                }
            }
        }
        Ok(Plans(file.plans))
    }

    /// The built-in plans, or the file at `path`.
    pub fn from_env(path: Option<String>) -> Result<Self, ConfigError> {
        let invalid = |value: &str, reason: String| ConfigError {
            var: "COLLOQUY_PLANS_FILE",
            value: value.to_owned(),
            reason,
        };
        match path {
            None => Plans::parse(PLANS).map_err(|e| invalid("<built in>", e)),
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| invalid(&path, format!("cannot read it: {e}")))?;
                Plans::parse(&text).map_err(|e| invalid(&path, e))
            }
        }
    }

    /// `plan`'s entitlements.
    pub fn get(&self, plan: Plan) -> &Entitlements {
        // `parse` checked that every plan is listed.
        self.0.iter().find(|e| e.plan == plan).unwrap_or(&self.0[0])
    }

    /// `plan`'s entitlements, to change (tests shrink a limit).
    pub fn get_mut(&mut self, plan: Plan) -> &mut Entitlements {
        let i = self.0.iter().position(|e| e.plan == plan).unwrap_or(0);
        &mut self.0[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_plans_list_every_plan() {
        let plans = Plans::from_env(None).unwrap_or_else(|e| panic!("{e}"));
        for plan in Plan::ALL {
            assert_eq!(plans.get(plan).plan, plan);
        }
        assert!(plans.get(Plan::Free).monthly_ai_tokens < plans.get(Plan::Pro).monthly_ai_tokens);
    }

    #[test]
    fn a_missing_plan_is_refused() {
        let err = Plans::parse(r#"{"plans":[{"plan":"FREE","name":"Free"}]}"#);
        assert!(err.is_err());
    }
}
