//! The gateway's one error type. Every lower error converts into it through an explicit `From`,
//! and it maps once to a GraphQL error with a stable `extensions.code`. Unexpected failures are
//! logged (inside the request's span, which carries the request id) and reach the client as a bare
//! INTERNAL, never with database or provider details.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::ErrorExtensions;
use core_domain::ValidationError;
use persistence::StoreError;

#[derive(Debug, Clone)]
pub enum ApiError {
    Unauthenticated,
    Forbidden(&'static str),
    NotFound,
    BadInput(ValidationError),
    Conflict(String),
    /// A token budget has no room for the call; `budget` names which (`DAILY`, `INVITATION`).
    QuotaExceeded {
        budget: &'static str,
    },
    RateLimited {
        retry_after: Duration,
    },
    /// The caller's plan allows no more of `metric` (`ai_tokens`, `upload_bytes`, `analyses`)
    /// this period; `plan` names it (`FREE`, ...). QUOTA_EXCEEDED with `budget: PLAN`.
    PlanLimit {
        plan: &'static str,
        metric: &'static str,
    },
    /// An AI provider failed or is not configured; `reason` is a stable snake_case word
    /// (`no_api_key`, `rate_limited`, `overloaded`, ...) clients can switch on.
    Provider {
        reason: &'static str,
        message: String,
    },
    /// The caller must accept the current disclaimer (`acceptDisclaimer`) before AI calls.
    DisclaimerRequired {
        version: String,
    },
    /// A wallet holds less than a debit asks for; nothing was moved.
    InsufficientFunds,
    /// Shared so the error can be cloned (async-graphql requires it); never shown to clients.
    Internal(Arc<anyhow::Error>),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::QuotaExceeded { .. } | ApiError::PlanLimit { .. } => "QUOTA_EXCEEDED",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Provider { .. } => "PROVIDER_ERROR",
            ApiError::DisclaimerRequired { .. } => "FORBIDDEN",
            ApiError::InsufficientFunds => "INSUFFICIENT_FUNDS",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The text the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "authentication required".into(),
            ApiError::Forbidden(why) => (*why).into(),
            ApiError::NotFound => "not found".into(),
            ApiError::BadInput(v) => v.to_string(),
            ApiError::Conflict(what) => what.clone(),
            ApiError::QuotaExceeded { budget } => match *budget {
                "INVITATION" => "the invitation's token quota is used up".into(),
                "DAILY" => "your daily token budget is used up".into(),
                _ => "quota exceeded".into(),
            },
            ApiError::RateLimited { .. } => "too many requests".into(),
            ApiError::PlanLimit { plan, metric } => {
                let what = match *metric {
                    "ai_tokens" => "monthly AI token budget",
                    "upload_bytes" => "monthly upload allowance",
                    "analyses" => "monthly analyses",
                    _ => "monthly allowance",
                };
                format!(
                    "your {plan} plan's {what} is used up: upgrade the plan or wait for the next period"
                )
            }
            ApiError::Provider { message, .. } => message.clone(),
            ApiError::DisclaimerRequired { version } => {
                format!("accept the disclaimer (version {version}) before talking to the AI")
            }
            ApiError::InsufficientFunds => {
                "insufficient funds: the wallet holds less than that".into()
            }
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadInput(ValidationError::new(field, message))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(Arc::new(e.into()))
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadInput(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from(Arc::new(e))
    }
}

/// The one mapping of store errors. Dataloaders share one error between every key of a batch,
/// hence the `Arc`; a plain `StoreError` is wrapped and mapped here too.
/// A transaction's begin or commit failing is a database failure like any other.
impl From<persistence::sea_orm::DbErr> for ApiError {
    fn from(e: persistence::sea_orm::DbErr) -> Self {
        ApiError::from(StoreError::from(e))
    }
}

impl From<Arc<StoreError>> for ApiError {
    fn from(e: Arc<StoreError>) -> Self {
        match &*e {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::InvalidCursor => {
                ApiError::bad_input("after", "is not a cursor from this list")
            }
            _ => ApiError::Internal(Arc::new(anyhow::Error::new(ArcStoreError(e)))),
        }
    }
}

/// Lets a shared store error be an `anyhow` source.
#[derive(Debug)]
struct ArcStoreError(Arc<StoreError>);

impl std::fmt::Display for ArcStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ArcStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The one place provider failures become API errors: an unknown model is the caller's mistake
/// (BAD_USER_INPUT on `model`); everything else is PROVIDER_ERROR with the provider's stable
/// reason. Only a provider's own refusal of the request (`BadRequest`) passes its text on, since
/// it tells the user what to change; every other variant's details (upstream bodies, transport
/// errors, URLs) go to the log only.
impl From<ai_providers::ProviderError> for ApiError {
    fn from(e: ai_providers::ProviderError) -> Self {
        use ai_providers::ProviderError as P;
        let message = match &e {
            P::UnknownModel(_) => return ApiError::bad_input("model", "is not a known model"),
            P::BadRequest(_) => e.to_string(),
            P::NoApiKey => "no API key is configured for this provider: add your own key".into(),
            P::Unauthorized => "the AI provider rejected the API key".into(),
            P::RateLimited { .. } => "the AI provider is rate-limiting requests; try again".into(),
            P::Overloaded => "the AI provider is overloaded; try again".into(),
            P::Timeout(_) => "the AI provider did not answer in time".into(),
            _ => {
                tracing::warn!(error = %e, "AI provider call failed");
                "the AI provider failed".into()
            }
        };
        ApiError::Provider {
            reason: e.reason(),
            message,
        }
    }
}

impl From<auth::AuthError> for ApiError {
    fn from(e: auth::AuthError) -> Self {
        ApiError::internal(e)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        match &e {
            ApiError::Internal(source) => {
                tracing::error!(error = ?source, "internal error");
                async_graphql::Error::new("internal error")
                    .extend_with(|_, ext| ext.set("code", code))
            }
            ApiError::BadInput(v) => {
                let field = v.field;
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("field", field);
                })
            }
            ApiError::RateLimited { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("retryAfter", secs);
                })
            }
            ApiError::QuotaExceeded { budget } => {
                let budget = *budget;
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("budget", budget);
                })
            }
            ApiError::PlanLimit { plan, metric } => {
                let (plan, metric) = (*plan, *metric);
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("budget", "PLAN");
                    ext.set("plan", plan);
                    ext.set("metric", metric);
                })
            }
            ApiError::Provider { reason, .. } => {
                let reason = *reason;
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("reason", reason);
                })
            }
            ApiError::DisclaimerRequired { version } => {
                let version = version.clone();
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("reason", "DISCLAIMER_REQUIRED");
                    ext.set("disclaimerVersion", version);
                })
            }
            _ => async_graphql::Error::new(e.message()).extend_with(|_, ext| ext.set("code", code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Value;

    fn to_graphql(e: ApiError) -> (String, async_graphql::ErrorExtensionValues) {
        let g: async_graphql::Error = e.into();
        (g.message, g.extensions.unwrap_or_default())
    }

    /// Pins the mapping from each error to its code, and that internals never leak.
    #[test]
    fn every_error_maps_to_its_code() {
        let cases = [
            (ApiError::Unauthenticated, "UNAUTHENTICATED"),
            (ApiError::Forbidden("no"), "FORBIDDEN"),
            (ApiError::NotFound, "NOT_FOUND"),
            (ApiError::bad_input("email", "bad"), "BAD_USER_INPUT"),
            (
                ApiError::Conflict("email already exists".into()),
                "CONFLICT",
            ),
            (
                ApiError::QuotaExceeded { budget: "DAILY" },
                "QUOTA_EXCEEDED",
            ),
            (
                ApiError::PlanLimit {
                    plan: "FREE",
                    metric: "ai_tokens",
                },
                "QUOTA_EXCEEDED",
            ),
            (
                ApiError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                "RATE_LIMITED",
            ),
            (
                ApiError::internal(anyhow::anyhow!("password=hunter2 at db.example")),
                "INTERNAL",
            ),
        ];
        for (err, code) in cases {
            let (message, ext) = to_graphql(err);
            assert_eq!(ext.get("code"), Some(&Value::from(code)));
            assert!(!message.contains("hunter2"));
        }
    }

    #[test]
    fn bad_input_names_the_field_and_rate_limit_the_wait() {
        let (_, ext) = to_graphql(ApiError::bad_input("email", "bad"));
        assert_eq!(ext.get("field"), Some(&Value::from("email")));
        let (_, ext) = to_graphql(ApiError::RateLimited {
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(ext.get("retryAfter"), Some(&Value::from(1)));
    }

    #[test]
    fn provider_errors_map_once() {
        use ai_providers::ProviderError as P;
        let e = ApiError::from(P::UnknownModel("gpt-9".into()));
        assert_eq!(e.code(), "BAD_USER_INPUT");
        let (_, ext) = to_graphql(ApiError::from(P::NoApiKey));
        assert_eq!(ext.get("code"), Some(&Value::from("PROVIDER_ERROR")));
        assert_eq!(ext.get("reason"), Some(&Value::from("no_api_key")));
        let (_, ext) = to_graphql(ApiError::from(P::Overloaded));
        assert_eq!(ext.get("reason"), Some(&Value::from("overloaded")));
    }

    /// A provider's inner text (upstream bodies, URLs, transport errors) never reaches a client;
    /// only the reason of a refused request does, since the user can act on it.
    #[test]
    fn provider_details_stay_in_the_log() {
        use ai_providers::ProviderError as P;
        let secret = "upstream said: key sk-live-123 at https://internal.example";
        for e in [
            P::InvalidResponse(secret.into()),
            P::Upstream { status: 502 },
            P::StreamInterrupted,
            P::UnpricedModel(secret.into()),
        ] {
            let (message, ext) = to_graphql(ApiError::from(e));
            assert_eq!(ext.get("code"), Some(&Value::from("PROVIDER_ERROR")));
            assert!(!message.contains("sk-live"), "{message}");
            assert!(!message.contains("502"), "{message}");
            assert_eq!(message, "the AI provider failed");
        }
        let (message, _) = to_graphql(ApiError::from(P::BadRequest("prompt is too long".into())));
        assert!(message.contains("prompt is too long"));
    }

    #[test]
    fn store_errors_map_once() {
        assert_eq!(
            ApiError::from(StoreError::Conflict("email")).code(),
            "CONFLICT"
        );
        assert_eq!(
            ApiError::from(StoreError::InvalidCursor).code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            ApiError::from(StoreError::Db(sea_orm::DbErr::Custom("boom".into()))).code(),
            "INTERNAL"
        );
    }
}
