//! Configuration: every setting comes from an environment variable (a `.env` file is read first
//! when present), and every one has a working default, so a bare `cargo run` serves. Each concern
//! has its own struct; `.env.example` documents every variable. Errors name the variable.

use std::net::SocketAddr;
use std::time::Duration;

use persistence::DbConfig;

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

/// How [`Env`] looks a variable up.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Reads variables; tests pass a closure over a map instead of the process environment.
pub struct Env<'a>(Lookup<'a>);

impl<'a> Env<'a> {
    /// The process environment.
    pub fn process() -> Env<'static> {
        Env(Box::new(|k| std::env::var(k).ok()))
    }

    pub fn from_fn(f: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Env(Box::new(f))
    }

    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn string(&self, var: &'static str, default: &str) -> String {
        self.get(var).unwrap_or_else(|| default.to_owned())
    }

    fn parse<T: std::str::FromStr>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError {
                var,
                value: v,
                reason: e.to_string(),
            }),
        }
    }

    fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError {
                var,
                value: v,
                reason: "expected true or false".into(),
            }),
        }
    }
}

/// Where and how the HTTP server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `COLLOQUY_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `COLLOQUY_SHUTDOWN_GRACE_SECS`, default 10: how long in-flight requests get on shutdown.
    pub shutdown_grace: Duration,
    /// `COLLOQUY_CORS_ORIGINS`, default empty: the origins (`scheme://host[:port]`, comma-separated)
    /// whose browser pages may call the API cross-origin; `*` allows any origin. Empty means no
    /// CORS headers at all, so browsers allow only same-origin pages.
    pub cors_origins: Vec<String>,
}

/// Parses `COLLOQUY_CORS_ORIGINS`: `*`, or origins such as `https://app.example.com`.
fn cors_origins(env: &Env<'_>) -> Result<Vec<String>, ConfigError> {
    const VAR: &str = "COLLOQUY_CORS_ORIGINS";
    let Some(list) = env.get(VAR) else {
        return Ok(Vec::new());
    };
    let mut origins = Vec::new();
    for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let invalid = |reason: &str| ConfigError {
            var: VAR,
            value: origin.to_owned(),
            reason: reason.to_owned(),
        };
        if origin == "*" {
            origins.push(origin.to_owned());
            continue;
        }
        let url = url::Url::parse(origin)
            .map_err(|e| invalid(&format!("not an origin like https://app.example.com: {e}")))?;
        // An origin is scheme, host and port only; a browser never sends a path or a slash.
        let serialized = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || serialized != origin.trim_end_matches('/') {
            return Err(invalid(
                "an origin is scheme://host[:port], without path, query or user",
            ));
        }
        origins.push(serialized);
    }
    Ok(origins)
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// `COLLOQUY_MAX_QUERY_DEPTH`, default 12.
    pub max_depth: usize,
    /// `COLLOQUY_MAX_QUERY_COMPLEXITY`, default 100000: a connection costs `first` × its
    /// children, so `me → conversations(first: 10) → messages(first: 20)` with a handful of
    /// fields costs about 2,000 and the 50 users → 10 conversations → 20 messages read of the
    /// benchmark about 62,000.
    pub max_complexity: usize,
    /// `COLLOQUY_MAX_BODY_BYTES`, default 1 MiB.
    pub max_body_bytes: usize,
    /// `COLLOQUY_RATE_LIMIT_PER_MINUTE`, default 600: GraphQL requests per caller (user, or IP
    /// address when anonymous) per minute; across instances on PostgreSQL (leased in blocks, see
    /// `platform::rate_limit`).
    pub requests_per_minute: u32,
    /// `COLLOQUY_TELEMETRY_ANONYMOUS_PER_MINUTE`, default 60: `recordTelemetry` calls per minute
    /// per address from callers who are not signed in (signed-in callers are limited per user by
    /// the request limit above); 0 = unlimited.
    pub anonymous_telemetry_per_minute: u32,
    /// `COLLOQUY_INTROSPECTION`, default true: answer `__schema` and `__type` (GraphiQL's docs and
    /// autocomplete, code generation). Introspection is exempt from the depth and complexity
    /// limits; set false in production to hide the schema (queries selecting them are refused).
    pub introspection: bool,
}

/// Sign-in settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `COLLOQUY_SESSION_TTL_HOURS`, default 720 (30 days).
    pub session_ttl: Duration,
    /// `COLLOQUY_DISCLAIMER_VERSION`, default unset: when set, start-up publishes this version
    /// (with a standard text) unless it was published before. Disclaimers live in the database
    /// (`publishDisclaimer`): AI calls from users who have not accepted the version published
    /// last answer FORBIDDEN with reason DISCLAIMER_REQUIRED.
    pub disclaimer_version: Option<String>,
    /// `COLLOQUY_AUTH_ATTEMPTS_PER_MINUTE`, default 10: sign-in and one-time-token attempts
    /// (login, password reset, contact verification, admin PIN) per account per minute; each
    /// address gets five times as many, across accounts. Across instances on PostgreSQL.
    pub attempts_per_minute: u32,
    /// `COLLOQUY_CALLER_CACHE_MS`, default 5000: a token sent again within this long is answered
    /// from memory instead of reading its session again, unless a sign-in event (logout,
    /// revocation, a user deactivated...) was published on any instance since; 0 reads it on
    /// every request. Only changes made in the database by hand wait this long to be seen.
    pub caller_cache: Duration,
    /// `COLLOQUY_PUBLIC_URL`, default `http://<COLLOQUY_ADDR>`: where browsers reach this server;
    /// OAuth redirect URLs are `<public url>/auth/<provider>/callback`.
    pub public_url: String,
    /// `COLLOQUY_OAUTH_SUCCESS_URL`, default unset: after an OAuth sign-in the browser is sent here
    /// with `#token=<session token>&expires_at=...` in the fragment. Unset (or a request with
    /// `Accept: application/json`), the callback answers JSON.
    pub oauth_success_url: Option<String>,
    /// The OAuth providers: Google (`GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`), GitHub
    /// (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`) and generic OIDC/OAuth servers: one named by
    /// `COLLOQUY_OAUTH_GENERIC_{ID,CLIENT_ID,CLIENT_SECRET,AUTH_URL,TOKEN_URL,USERINFO_URL,SCOPES}`
    /// (ID defaults to `oidc`) and any listed in `COLLOQUY_OAUTH_PROVIDERS=name,...` with the same
    /// variables under `COLLOQUY_OAUTH_<NAME>_`. A provider without a client id is off.
    pub oauth_providers: Vec<auth::OAuthProviderConfig>,
    /// How one-time tokens (email verification, password reset) reach their owners.
    pub mail: MailConfig,
}

/// Where one-time messages (email verification, password reset) go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailDelivery {
    /// Nowhere: the token is issued but delivered to nobody (and never logged).
    Off,
    /// An SMTP server: `smtp://[user:password@]host[:port][?tls=required|opportunistic]` or
    /// `smtps://...` (implicit TLS).
    Smtp(String),
    /// Development: appended to a file, one JSON object per line.
    File(std::path::PathBuf),
    /// Development: printed to standard output.
    Stdout,
}

/// `COLLOQUY_MAIL` (default off: tokens are never written to logs or files unless a
/// development outbox is chosen explicitly) and `COLLOQUY_MAIL_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `COLLOQUY_MAIL`: `smtp://...`, `smtps://...`, `file:<path>`, `stdout`, or `off`.
    pub delivery: MailDelivery,
    /// `COLLOQUY_MAIL_FROM`, default `Colloquy <no-reply@colloquy.local>`.
    pub from: String,
}

impl MailConfig {
    fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let raw = env.string("COLLOQUY_MAIL", "off");
        let bad = |reason: &str| ConfigError {
            var: "COLLOQUY_MAIL",
            // An SMTP URL may carry a password, and one that does not parse cannot be redacted
            // reliably: it is not echoed then.
            value: if raw.contains('@') {
                "(not shown: it may hold a password)".to_owned()
            } else {
                raw.clone()
            },
            reason: reason.to_owned(),
        };
        let delivery = match raw.as_str() {
            "" | "off" | "none" => MailDelivery::Off,
            "stdout" => MailDelivery::Stdout,
            other if other.starts_with("file:") => {
                let path = &other["file:".len()..];
                if path.is_empty() {
                    return Err(bad("file: needs a path, e.g. file:./outbox.jsonl"));
                }
                MailDelivery::File(path.into())
            }
            other if other.starts_with("smtp://") || other.starts_with("smtps://") => {
                let url = url::Url::parse(other).map_err(|e| bad(&e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad("an SMTP URL needs a host"));
                }
                MailDelivery::Smtp(other.to_owned())
            }
            _ => {
                return Err(bad(
                    "expected smtp://..., smtps://..., file:<path>, stdout or off",
                ));
            }
        };
        let from = env.string("COLLOQUY_MAIL_FROM", "Colloquy <no-reply@colloquy.local>");
        Ok(Self { delivery, from })
    }
}

impl AuthConfig {
    fn oauth_from(env: &Env<'_>) -> Result<Vec<auth::OAuthProviderConfig>, ConfigError> {
        let mut providers = Vec::new();
        if let (Some(id), Some(secret)) =
            (env.get("GOOGLE_CLIENT_ID"), env.get("GOOGLE_CLIENT_SECRET"))
        {
            providers.push(auth::OAuthProviderConfig::google(id, secret));
        }
        if let (Some(id), Some(secret)) =
            (env.get("GITHUB_CLIENT_ID"), env.get("GITHUB_CLIENT_SECRET"))
        {
            providers.push(auth::OAuthProviderConfig::github(id, secret));
        }
        let mut names = vec!["GENERIC".to_owned()];
        if let Some(list) = env.get("COLLOQUY_OAUTH_PROVIDERS") {
            names.extend(
                list.split(',')
                    .map(|n| n.trim().to_ascii_uppercase())
                    .filter(|n| !n.is_empty() && n != "GENERIC"),
            );
        }
        for name in names {
            let var = |suffix: &str| env.get(&format!("COLLOQUY_OAUTH_{name}_{suffix}"));
            let Some(client_id) = var("CLIENT_ID") else {
                continue;
            };
            let required = |suffix: &'static str, var_name: &'static str| {
                var(suffix).ok_or_else(|| ConfigError {
                    var: var_name,
                    value: String::new(),
                    reason: format!("required when COLLOQUY_OAUTH_{name}_CLIENT_ID is set"),
                })
            };
            let id = var("ID").unwrap_or_else(|| {
                if name == "GENERIC" {
                    "oidc".to_owned()
                } else {
                    name.to_ascii_lowercase()
                }
            });
            let mut config = auth::OAuthProviderConfig::generic(
                id,
                client_id,
                var("CLIENT_SECRET"),
                required("AUTH_URL", "COLLOQUY_OAUTH_<NAME>_AUTH_URL")?,
                required("TOKEN_URL", "COLLOQUY_OAUTH_<NAME>_TOKEN_URL")?,
                required("USERINFO_URL", "COLLOQUY_OAUTH_<NAME>_USERINFO_URL")?,
            );
            if let Some(scopes) = var("SCOPES") {
                config = config.with_scopes(
                    scopes
                        .split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
                );
            }
            providers.push(config);
        }
        Ok(providers)
    }
}

/// Logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `COLLOQUY_LOG_FORMAT`: `pretty` (default) or `json`.
    pub format: LogFormat,
    /// `RUST_LOG`, default `info,sqlx=warn`.
    pub filter: String,
}

/// Demo data.
#[derive(Debug, Clone)]
pub struct SeedConfig {
    /// `COLLOQUY_SEED`, default true: load the seeds on `serve`.
    pub on_serve: bool,
    /// `COLLOQUY_SEEDS_DIR`: read seed files from this directory instead of the copies built into
    /// the binary.
    pub dir: Option<std::path::PathBuf>,
}

/// AI chat: which providers are reachable and what a user may spend. `Debug` hides the keys.
#[derive(Clone)]
pub struct ChatConfig {
    /// The providers, filled from:
    /// `ANTHROPIC_API_KEY` (default unset: Anthropic only serves users who add their own key);
    /// `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`);
    /// `OPENAI_API_KEY` (default unset); `OPENAI_BASE_URL` (default `https://api.openai.com`);
    /// `COLLOQUY_OPENAI_COMPATIBLE_URL` (default unset: an OpenAI-compatible server such as
    /// Ollama at `http://localhost:11434/v1`), with `COLLOQUY_OPENAI_COMPATIBLE_KEY` (default
    /// unset), `COLLOQUY_OPENAI_COMPATIBLE_ID` (default `compatible`) and
    /// `COLLOQUY_OPENAI_COMPATIBLE_MODELS` (comma-separated model ids, e.g. `llama3.2,qwen2.5`;
    /// their price is unknown, context 8192 tokens);
    /// `COLLOQUY_DEFAULT_MODEL` (default: Claude Sonnet with an Anthropic key, else gpt-4o-mini
    /// with an OpenAI key, else the offline `local-echo`);
    /// `COLLOQUY_LOCAL_WORD_DELAY_MS` (default 40: how fast `local-echo` types);
    /// `COLLOQUY_UNKNOWN_PRICE` (`log`, the default: call unpriced models and record a NULL
    /// cost with a warning; `refuse`: answer PROVIDER_ERROR instead).
    pub providers: ai_providers::ProvidersConfig,
    /// `COLLOQUY_MAX_OUTPUT_TOKENS`, default 1024: the reply length asked for (and reserved),
    /// capped by the model's own maximum.
    pub max_output_tokens: u32,
    /// `COLLOQUY_DAILY_TOKEN_LIMIT`, default 1000000: tokens (prompt + reply) per user per UTC day.
    pub daily_token_limit: i64,
    /// `COLLOQUY_SEND_RATE_PER_MINUTE`, default 30: `sendMessage`/`regenerateMessage` calls per
    /// user per minute (0 disables the limit). Across instances on PostgreSQL.
    pub send_rate_per_minute: u32,
    /// `COLLOQUY_MASTER_KEY`, default unset: the key ring that encrypts users' provider keys
    /// (`KeyRing::to_text()` format, e.g. `k1:<base64 32 bytes>`). When unset, one is generated into
    /// `<COLLOQUY_DATA_DIR>/master.key` (mode 0600) on first start and reused after, with a warning.
    pub master_key: Option<String>,
    /// `COLLOQUY_DATA_DIR`, default `./data`: where a generated master key is kept.
    pub data_dir: std::path::PathBuf,
    /// `COLLOQUY_STREAM_FLUSH_MS`, default 100: at most how often a reply being generated is
    /// saved. Followers are sent only saved text (so a crash loses nothing a client saw), in
    /// batches: text reaches them at most this much (plus one write) after the provider sent it,
    /// for at most one UPDATE per reply per interval.
    pub flush_interval: Duration,
    /// `COLLOQUY_STREAM_STALE_SECS`, default 20: a STREAMING reply whose generator has not saved
    /// or heartbeated for this long belongs to a server that stopped, and becomes FAILED
    /// (`interrupted`) with its reservation settled. Generators heartbeat every quarter of it and
    /// the sweeper runs every half, so on PostgreSQL a crashed reply is recovered within 1.5× this
    /// (30 s by default); on SQLite at the next start. Lower it for faster recovery, at the cost
    /// of one heartbeat write per live reply every quarter of it.
    pub stale_after: Duration,
    /// `COLLOQUY_SESSION_IDLE_MINUTES`, default 30: a practice session (ACTIVE or PAUSED) with no
    /// activity for this long becomes ABANDONED; a sweep checks every minute (or every half of it,
    /// when shorter).
    pub session_idle: Duration,
}

impl std::fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConfig")
            .field("providers", &self.providers)
            .field("max_output_tokens", &self.max_output_tokens)
            .field("daily_token_limit", &self.daily_token_limit)
            .field("send_rate_per_minute", &self.send_rate_per_minute)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "<redacted>"),
            )
            .field("data_dir", &self.data_dir)
            .field("flush_interval", &self.flush_interval)
            .field("stale_after", &self.stale_after)
            .field("session_idle", &self.session_idle)
            .finish()
    }
}

impl ChatConfig {
    fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        use ai_providers::{
            HttpProviderConfig, ModelInfo, OpenAiCompatibleConfig, UnknownPricePolicy,
        };
        let http =
            |key_var: &'static str, url_var: &'static str, default_url: &str| HttpProviderConfig {
                base_url: env.string(url_var, default_url),
                api_key: env.get(key_var),
            };
        let mut providers = ai_providers::ProvidersConfig {
            anthropic: Some(http(
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_BASE_URL",
                ai_providers::ANTHROPIC_BASE_URL,
            )),
            openai: Some(http(
                "OPENAI_API_KEY",
                "OPENAI_BASE_URL",
                ai_providers::OPENAI_BASE_URL,
            )),
            default_model: env.get("COLLOQUY_DEFAULT_MODEL"),
            ..Default::default()
        };
        if let Some(url) = env.get("COLLOQUY_OPENAI_COMPATIBLE_URL") {
            let id = env.string("COLLOQUY_OPENAI_COMPATIBLE_ID", "compatible");
            let models = env
                .get("COLLOQUY_OPENAI_COMPATIBLE_MODELS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(|m| ModelInfo::new(id.clone(), m, 8192, 4096))
                .collect();
            providers.openai_compatible.push(OpenAiCompatibleConfig {
                id,
                http: HttpProviderConfig {
                    base_url: url,
                    api_key: env.get("COLLOQUY_OPENAI_COMPATIBLE_KEY"),
                },
                models,
            });
        }
        providers.local.word_delay =
            Duration::from_millis(env.parse("COLLOQUY_LOCAL_WORD_DELAY_MS", 40)?);
        providers.unknown_price = match env.string("COLLOQUY_UNKNOWN_PRICE", "log").as_str() {
            "log" => UnknownPricePolicy::LogUnknown,
            "refuse" => UnknownPricePolicy::Refuse,
            other => {
                return Err(ConfigError {
                    var: "COLLOQUY_UNKNOWN_PRICE",
                    value: other.to_owned(),
                    reason: "expected log or refuse".into(),
                });
            }
        };
        Ok(Self {
            providers,
            max_output_tokens: env.parse("COLLOQUY_MAX_OUTPUT_TOKENS", 1024)?,
            daily_token_limit: env.parse("COLLOQUY_DAILY_TOKEN_LIMIT", 1_000_000)?,
            send_rate_per_minute: env.parse("COLLOQUY_SEND_RATE_PER_MINUTE", 30)?,
            master_key: env.get("COLLOQUY_MASTER_KEY"),
            data_dir: env.string("COLLOQUY_DATA_DIR", "./data").into(),
            flush_interval: Duration::from_millis(env.parse("COLLOQUY_STREAM_FLUSH_MS", 100)?),
            stale_after: Duration::from_secs(env.parse("COLLOQUY_STREAM_STALE_SECS", 20)?.max(4)),
            session_idle: Duration::from_secs(
                env.parse::<u64>("COLLOQUY_SESSION_IDLE_MINUTES", 30)?
                    .max(1)
                    .saturating_mul(60),
            ),
        })
    }
}

/// Operations: traces, instance heartbeats and analytics rollups.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where traces go over OTLP; none (the default) exports none.
    pub otel_endpoint: Option<String>,
    /// `COLLOQUY_HEARTBEAT_SECS`: how often an instance records that it is alive (default 30);
    /// `serverStatus` lists the instances seen within three of these.
    pub heartbeat: Duration,
    /// `COLLOQUY_ANALYTICS_ROLLUPS`: whether day-bucket usage and activity queries may read the
    /// daily rollups (default true).
    pub analytics_rollups: bool,
    /// `COLLOQUY_ACTIVITY_ROLLUP_SECS`: how often each instance runs the activity rollup job
    /// (default 3600; `0` turns the job off). A run recomputes the last few closed UTC days
    /// (`persistence::analytics::SETTLE_DAYS`) and any day since the last run; a run while another
    /// instance's is under way does nothing.
    pub activity_rollup_every: Option<Duration>,
}

impl OpsConfig {
    fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            otel_endpoint: env
                .get("OTEL_EXPORTER_OTLP_ENDPOINT")
                .filter(|v| !v.trim().is_empty()),
            heartbeat: Duration::from_secs(env.parse::<u64>("COLLOQUY_HEARTBEAT_SECS", 30)?.max(1)),
            analytics_rollups: env.flag("COLLOQUY_ANALYTICS_ROLLUPS", true)?,
            activity_rollup_every: match env.parse::<u64>("COLLOQUY_ACTIVITY_ROLLUP_SECS", 3600)? {
                0 => None,
                secs => Some(Duration::from_secs(secs)),
            },
        })
    }
}

/// Everything the gateway needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DbConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub seed: SeedConfig,
    pub chat: ChatConfig,
    pub ops: OpsConfig,
    pub uploads: UploadsConfig,
    pub billing: BillingConfig,
    /// The durable job runner (workspace analyses): see `platform::jobs`.
    pub jobs: crate::platform::jobs::JobsConfig,
}

/// Uploaded files (OptiMind): where they are stored and how big they may be.
#[derive(Debug, Clone)]
pub struct UploadsConfig {
    /// `COLLOQUY_UPLOAD_DIR`, default `<COLLOQUY_DATA_DIR>/uploads`: the local directory files are
    /// stored in (created when missing), unless `COLLOQUY_UPLOAD_STORE` names another store.
    pub dir: std::path::PathBuf,
    /// `COLLOQUY_UPLOAD_STORE`, default unset (the local directory): `s3://bucket[/prefix]` stores
    /// files in any S3-compatible store, configured by the standard `AWS_*` variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` for
    /// S3-compatible servers, `AWS_ALLOW_HTTP`).
    pub store: Option<String>,
    /// Settings for the S3 store applied over the `AWS_*` environment, by `object_store`'s names
    /// (`aws_endpoint`, `aws_access_key_id`, ...): empty from the environment; tests and
    /// embedders set them.
    pub s3_options: S3Options,
    /// `COLLOQUY_MAX_UPLOAD_BYTES`, default 10485760 (10 MiB): the largest file `uploadFile`
    /// accepts. A multipart request may be this much larger than `COLLOQUY_MAX_BODY_BYTES`.
    pub max_bytes: u64,
    /// `COLLOQUY_UPLOAD_URL_TTL_SECS`, default 900: how long a signed download URL works.
    pub url_ttl: Duration,
}

/// S3 settings (`object_store`'s key names and values). Its `Debug` shows only the keys: the
/// values include the secret access key.
#[derive(Clone, Default)]
pub struct S3Options(pub Vec<(String, String)>);

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Plans and their entitlements (OptiMind subscriptions).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// `COLLOQUY_PLANS_FILE`, default unset (the `seeds/plans.json` built into the binary): the
    /// plans' entitlements (monthly AI tokens, analyses per month, upload bytes per month).
    pub plans: std::sync::Arc<crate::billing::plans::Plans>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://colloquy.db?mode=rwc";

impl Config {
    /// Reads `.env` (when present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth a warning but not a refusal.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            eprintln!("warning: ignoring .env: {e}");
        }
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let addr = env.parse("COLLOQUY_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let mut database = DbConfig::new(env.string("DATABASE_URL", DEFAULT_DATABASE_URL));
        if !(database.url.starts_with("sqlite:") || database.url.starts_with("postgres")) {
            return Err(ConfigError {
                var: "DATABASE_URL",
                value: database.url,
                reason: "expected a sqlite:// or postgres:// URL".into(),
            });
        }
        database.max_connections =
            env.parse("COLLOQUY_DB_MAX_CONNECTIONS", database.max_connections)?;
        database.slow_statement =
            Duration::from_millis(env.parse("COLLOQUY_SLOW_STATEMENT_MS", 500)?);
        database.ping_when_idle_for = Duration::from_millis(env.parse(
            "COLLOQUY_DB_PING_IDLE_MS",
            u64::try_from(database.ping_when_idle_for.as_millis()).unwrap_or(u64::MAX),
        )?);
        let format = match env.string("COLLOQUY_LOG_FORMAT", "pretty").as_str() {
            "pretty" | "text" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError {
                    var: "COLLOQUY_LOG_FORMAT",
                    value: other.to_owned(),
                    reason: "expected pretty or json".into(),
                });
            }
        };
        Ok(Self {
            server: ServerConfig {
                addr,
                shutdown_grace: Duration::from_secs(env.parse("COLLOQUY_SHUTDOWN_GRACE_SECS", 10)?),
                cors_origins: cors_origins(env)?,
            },
            database,
            limits: LimitsConfig {
                max_depth: env.parse("COLLOQUY_MAX_QUERY_DEPTH", 12)?,
                max_complexity: env.parse("COLLOQUY_MAX_QUERY_COMPLEXITY", 100_000)?,
                max_body_bytes: env.parse("COLLOQUY_MAX_BODY_BYTES", 1024 * 1024)?,
                requests_per_minute: env.parse("COLLOQUY_RATE_LIMIT_PER_MINUTE", 600)?,
                anonymous_telemetry_per_minute: env
                    .parse("COLLOQUY_TELEMETRY_ANONYMOUS_PER_MINUTE", 60)?,
                introspection: env.flag("COLLOQUY_INTROSPECTION", true)?,
            },
            auth: AuthConfig {
                session_ttl: Duration::from_secs(
                    3600 * env.parse::<u64>("COLLOQUY_SESSION_TTL_HOURS", 720)?,
                ),
                disclaimer_version: env.get("COLLOQUY_DISCLAIMER_VERSION"),
                attempts_per_minute: env.parse("COLLOQUY_AUTH_ATTEMPTS_PER_MINUTE", 10)?,
                caller_cache: Duration::from_millis(env.parse("COLLOQUY_CALLER_CACHE_MS", 5000)?),
                public_url: env
                    .get("COLLOQUY_PUBLIC_URL")
                    .unwrap_or_else(|| format!("http://{addr}"))
                    .trim_end_matches('/')
                    .to_owned(),
                oauth_success_url: env.get("COLLOQUY_OAUTH_SUCCESS_URL"),
                oauth_providers: AuthConfig::oauth_from(env)?,
                mail: MailConfig::from(env)?,
            },
            log: LogConfig {
                format,
                filter: env.string("RUST_LOG", "info,sqlx=warn,sea_orm=warn"),
            },
            seed: SeedConfig {
                on_serve: env.flag("COLLOQUY_SEED", true)?,
                dir: env.get("COLLOQUY_SEEDS_DIR").map(Into::into),
            },
            chat: ChatConfig::from_env(env)?,
            ops: OpsConfig::from_env(env)?,
            uploads: UploadsConfig {
                dir: env
                    .get("COLLOQUY_UPLOAD_DIR")
                    .map(Into::into)
                    .unwrap_or_else(|| {
                        std::path::PathBuf::from(env.string("COLLOQUY_DATA_DIR", "./data"))
                            .join("uploads")
                    }),
                store: env.get("COLLOQUY_UPLOAD_STORE"),
                s3_options: S3Options::default(),
                max_bytes: env.parse("COLLOQUY_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)?,
                url_ttl: Duration::from_secs(
                    env.parse("COLLOQUY_UPLOAD_URL_TTL_SECS", 900)?.max(1),
                ),
            },
            billing: BillingConfig {
                plans: std::sync::Arc::new(crate::billing::plans::Plans::from_env(
                    env.get("COLLOQUY_PLANS_FILE"),
                )?),
            },
            jobs: crate::platform::jobs::JobsConfig {
                workers: env.parse("COLLOQUY_JOB_WORKERS", 4)?,
                lease: Duration::from_secs(env.parse::<u64>("COLLOQUY_JOB_LEASE_SECS", 60)?.max(1)),
                poll_interval: Duration::from_millis(
                    env.parse::<u64>("COLLOQUY_JOB_POLL_MS", 1000)?.max(10),
                ),
                max_attempts: env.parse::<i32>("COLLOQUY_JOB_MAX_ATTEMPTS", 3)?.max(1),
                backoff: Duration::from_millis(env.parse("COLLOQUY_JOB_BACKOFF_MS", 2000)?),
            },
        })
    }

    /// A configuration for tests: the given database, an ephemeral port, no seeds, a master key
    /// made in memory, no provider keys and a `local-echo` that types without pauses.
    pub fn for_tests(database_url: &str) -> Self {
        let map = [
            ("DATABASE_URL", database_url),
            ("COLLOQUY_ADDR", "127.0.0.1:0"),
            ("COLLOQUY_SEED", "false"),
        ];
        let env = Env::from_fn(|k| {
            map.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        });
        // The fixed map above is valid by construction.
        let mut config = match Self::from(&env) {
            Ok(c) => c,
            Err(e) => unreachable!("test configuration is invalid: {e}"),
        };
        config.chat.providers.local.word_delay = Duration::ZERO;
        // Each test server stores uploads in a directory of its own.
        config.uploads.dir =
            std::env::temp_dir().join(format!("colloquy-uploads-{}", core_domain::ids::new_id()));
        // Jobs queued on a test server wake its pool at once; polling (for other instances' jobs,
        // expired leases and retries) is rare so tests that count a request's statements see
        // only the request's. Tests of the job runner poll fast (`tests/e2e/workspace.rs`).
        config.jobs.poll_interval = Duration::from_secs(30);
        config.jobs.backoff = Duration::from_millis(20);
        // Tests roll the activity rollup themselves (`AnalyticsService::roll_activity`), so no
        // background statement lands in a request's count.
        config.ops.activity_rollup_every = None;
        config.chat.master_key = auth::secrets::KeyRing::generate()
            .ok()
            .map(|ring| ring.to_text());
        config
    }
}

#[cfg(test)]
mod tests {

    /// One-time tokens go nowhere (and never into the log) unless a mailer is chosen.
    #[test]
    fn mail_is_off_by_default_and_checked_when_set() {
        let config = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let env =
                Env::from_fn(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
            Config::from(&env)
        };
        let default = config(&[]).unwrap();
        assert_eq!(default.auth.mail.delivery, MailDelivery::Off);
        let smtp = config(&[("COLLOQUY_MAIL", "smtp://mailer:pw@mail.example.com:587")]).unwrap();
        assert!(matches!(smtp.auth.mail.delivery, MailDelivery::Smtp(_)));
        let file = config(&[("COLLOQUY_MAIL", "file:./outbox.jsonl")]).unwrap();
        assert_eq!(
            file.auth.mail.delivery,
            MailDelivery::File("./outbox.jsonl".into())
        );
        let err = config(&[("COLLOQUY_MAIL", "smtp://user:secret@")]).unwrap_err();
        assert_eq!(err.var, "COLLOQUY_MAIL");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(config(&[("COLLOQUY_MAIL", "carrier-pigeon")]).is_err());
    }

    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<'static> {
        Env::from_fn(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_work_with_nothing_set() {
        let c = Config::from(&env(&[])).unwrap();
        assert_eq!(c.database.url, DEFAULT_DATABASE_URL);
        assert_eq!(c.server.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.log.format, LogFormat::Pretty);
        assert!(c.seed.on_serve);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Config::from(&env(&[("COLLOQUY_ADDR", "nowhere")])).unwrap_err();
        assert_eq!(err.var, "COLLOQUY_ADDR");
        let err = Config::from(&env(&[("COLLOQUY_LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(err.var, "COLLOQUY_LOG_FORMAT");
        let err = Config::from(&env(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        let err = Config::from(&env(&[("COLLOQUY_SEED", "perhaps")])).unwrap_err();
        assert_eq!(err.var, "COLLOQUY_SEED");
    }

    #[test]
    fn chat_settings_from_variables() {
        let c = Config::from(&env(&[
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("OPENAI_BASE_URL", "http://localhost:9/v1"),
            ("COLLOQUY_UNKNOWN_PRICE", "refuse"),
            (
                "COLLOQUY_OPENAI_COMPATIBLE_URL",
                "http://localhost:11434/v1",
            ),
            ("COLLOQUY_OPENAI_COMPATIBLE_MODELS", "llama3.2, qwen2.5"),
            ("COLLOQUY_DAILY_TOKEN_LIMIT", "500"),
        ]))
        .unwrap();
        let p = &c.chat.providers;
        assert_eq!(
            p.anthropic.as_ref().unwrap().api_key.as_deref(),
            Some("sk-ant")
        );
        assert_eq!(p.openai.as_ref().unwrap().base_url, "http://localhost:9/v1");
        assert_eq!(p.openai.as_ref().unwrap().api_key, None);
        assert_eq!(p.unknown_price, ai_providers::UnknownPricePolicy::Refuse);
        assert_eq!(p.openai_compatible[0].models.len(), 2);
        assert_eq!(c.chat.daily_token_limit, 500);
        let err = Config::from(&env(&[("COLLOQUY_UNKNOWN_PRICE", "free")])).unwrap_err();
        assert_eq!(err.var, "COLLOQUY_UNKNOWN_PRICE");
        let defaults = Config::from(&env(&[])).unwrap().chat;
        assert!(defaults.master_key.is_none());
        assert_eq!(defaults.data_dir, std::path::PathBuf::from("./data"));
    }

    #[test]
    fn oauth_providers_from_the_environment() {
        let c = Config::from(&env(&[
            ("GITHUB_CLIENT_ID", "gh-id"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("COLLOQUY_OAUTH_GENERIC_CLIENT_ID", "cid"),
            ("COLLOQUY_OAUTH_GENERIC_AUTH_URL", "http://idp/auth"),
            ("COLLOQUY_OAUTH_GENERIC_TOKEN_URL", "http://idp/token"),
            ("COLLOQUY_OAUTH_GENERIC_USERINFO_URL", "http://idp/me"),
            ("COLLOQUY_OAUTH_GENERIC_SCOPES", "openid email"),
        ]))
        .unwrap();
        let ids: Vec<_> = c
            .auth
            .oauth_providers
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["github", "oidc"]);
        assert_eq!(c.auth.oauth_providers[1].scopes, ["openid", "email"]);
        let err = Config::from(&env(&[("COLLOQUY_OAUTH_GENERIC_CLIENT_ID", "cid")])).unwrap_err();
        assert!(err.var.contains("AUTH_URL"), "{err}");
        assert_eq!(c.auth.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn cors_origins_from_the_environment() {
        assert!(
            Config::from(&env(&[]))
                .unwrap()
                .server
                .cors_origins
                .is_empty()
        );
        let c = Config::from(&env(&[(
            "COLLOQUY_CORS_ORIGINS",
            "https://app.example.com, http://localhost:3000/ ,",
        )]))
        .unwrap();
        assert_eq!(
            c.server.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let any = Config::from(&env(&[("COLLOQUY_CORS_ORIGINS", "*")])).unwrap();
        assert_eq!(any.server.cors_origins, ["*"]);
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "ftp://x.example",
        ] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(Box::new([("COLLOQUY_CORS_ORIGINS", bad)]));
            let err = Config::from(&env(pairs)).unwrap_err();
            assert_eq!(err.var, "COLLOQUY_CORS_ORIGINS", "{bad}");
        }
    }

    #[test]
    fn json_logs_by_variable() {
        assert_eq!(
            Config::from(&env(&[("COLLOQUY_LOG_FORMAT", "json")]))
                .unwrap()
                .log
                .format,
            LogFormat::Json
        );
    }
}
