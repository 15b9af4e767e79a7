//! Start-up, in order: configuration (already read), database and migrations, seeds, app state,
//! router, then `axum::serve` with graceful shutdown on SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use persistence::Db;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accounts::AccountService;
use crate::analytics::AnalyticsService;
use crate::audit::AuditService;
use crate::catalogue::CatalogueService;
use crate::chat::{ChatService, recover};
use crate::conversations::ConversationService;
use crate::education::EducationService;
use crate::finance::FinanceService;
use crate::finance::processor::OfflineProcessor;
use crate::graphql::{self, context::Services};
use crate::http::{self, AppState, HttpMetrics};
use crate::journals::JournalService;
use crate::marketplace::MarketplaceService;
use crate::notifications::NotificationService;
use crate::platform::config::Config;
use crate::platform::events;
use crate::platform::heartbeat;
use crate::platform::rate_limit::{self, RateLimiter};
use crate::platform::seed;
use crate::practice::PracticeService;
use crate::research::ResearchService;
use crate::safety::SafetyService;
use crate::workspace::WorkspaceService;

/// Connects to the database and applies pending migrations.
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            redact(&config.database.url)
        )
    })?;
    let applied = db
        .migrate_up(None)
        .await
        .context("cannot apply migrations")?;
    if applied > 0 {
        tracing::info!(applied, "applied migrations");
    }
    // COLLOQUY_DISCLAIMER_VERSION names a disclaimer version to publish once (the first
    // deployment's); later versions are published with `publishDisclaimer`.
    let configured = config.auth.disclaimer_version.as_deref();
    if crate::accounts::publish_configured_disclaimer(&db, configured)
        .await
        .context("cannot publish the configured disclaimer version")?
    {
        tracing::info!(
            version = configured,
            "published the configured disclaimer version"
        );
    }
    // Replies a stopped server left STREAMING become FAILED (reason `interrupted`), keeping their
    // saved text, and their reservations are settled and billed (`chat::recover`). An SQLite file
    // has one server, so none can still be generating. PostgreSQL may have other instances
    // generating right now: only replies whose generator stopped heartbeating are recovered here,
    // and the sweeper in `run` catches the rest within COLLOQUY_STREAM_STALE_SECS.
    let cutoff = match db.backend() {
        sea_orm::DbBackend::Sqlite => None,
        _ => Some(stale_cutoff(config)),
    };
    // The catalogue prices what recovery bills; it makes no network call.
    let providers = ai_providers::Providers::from_config(config.chat.providers.clone())
        .context("cannot read the model catalogue")?;
    let recovered = recover::interrupted(&db, &providers, cutoff)
        .await
        .context("cannot recover interrupted replies")?;
    if recovered != recover::Recovered::default() {
        tracing::warn!(
            replies = recovered.replies,
            reservations = recovered.reservations,
            "replies interrupted by the last shutdown are marked FAILED and their tokens settled"
        );
    }
    Ok(db)
}

/// Everything `serve` needs, with the database migrated and (when configured) seeded.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let db = connect(&config).await?;
    if config.seed.on_serve {
        let report =
            seed::load_with_disclaimers(&db, config.seed.dir.as_deref(), &default_model(&config)?)
                .await
                .context("cannot load the seeds")?;
        tracing::info!(%report, "seeds loaded");
    }
    state(config, db)
}

/// The model replies use when nothing names one (what seeded scenarios get).
pub fn default_model(config: &Config) -> anyhow::Result<String> {
    let providers = ai_providers::Providers::from_config(config.chat.providers.clone())
        .context("cannot read the model catalogue")?;
    Ok(providers.default_model().to_owned())
}

/// App state over an open, migrated database: the event buses (across instances on
/// PostgreSQL), every area's service, the AI providers and the key ring (generated into the data
/// directory when none is configured). Must run inside a Tokio runtime.
pub fn state(config: Config, db: Db) -> anyhow::Result<AppState> {
    let config = Arc::new(config);
    if config.chat.master_key.is_none() && db.backend() == sea_orm::DbBackend::Postgres {
        tracing::warn!(
            data_dir = %config.chat.data_dir.display(),
            "COLLOQUY_MASTER_KEY is not set: the master key is read from (or generated into) this \
             instance's data directory; with PostgreSQL every instance must use the same key, so \
             set COLLOQUY_MASTER_KEY (see `colloquy keys rotate`)"
        );
    }
    let (events, replies) = events::buses_for(db.conn());
    let conversations = Arc::new(ConversationService::new(db.clone(), events.clone()));
    let education = Arc::new(EducationService::new(db.clone(), events.clone()));
    let finance = Arc::new(FinanceService::new(
        db.clone(),
        events.clone(),
        Arc::new(OfflineProcessor),
    ));
    let chat = ChatService::new(db.clone(), &config, replies, Arc::clone(&conversations))
        .context("cannot set up chat")?;
    tracing::info!(
        default_model = chat.providers().default_model(),
        "chat ready"
    );
    // One queue for every kind of job (workspace runs, upload processing).
    let queue = crate::platform::jobs::JobQueue::new(db.clone(), config.jobs.clone());
    let files = files_services(&config, &db, &events, &queue)?;
    let workspace = WorkspaceService::new(db.clone(), Arc::clone(&chat), events.clone(), queue);
    let accounts = Arc::new(
        AccountService::new(db.clone(), Arc::clone(&config), events)
            .context("cannot set up the mailer")?,
    );
    let practice = Arc::new(PracticeService::new(
        db.clone(),
        Arc::clone(&conversations),
        Arc::clone(&chat),
        Arc::clone(&accounts),
        config.chat.session_idle,
    ));
    persistence::set_request_id_source(crate::platform::audit::request_id);
    let analytics = Arc::new(AnalyticsService::new(
        db.clone(),
        Arc::clone(&config),
        Arc::clone(&chat),
    ));
    let notifications = Arc::new(NotificationService::new(
        db.clone(),
        conversations.events().clone(),
    ));
    let services = Services {
        analytics,
        marketplace: Arc::new(MarketplaceService::new(
            db.clone(),
            Arc::clone(&notifications),
        )),
        safety: Arc::new(SafetyService::new(
            db.clone(),
            Arc::clone(&conversations),
            Arc::clone(&notifications),
        )),
        audit: Arc::new(AuditService::new(db.clone())),
        notifications,
        limiter: Arc::new(RateLimiter::across_instances(
            "request",
            config.limits.requests_per_minute,
            &db,
            RateLimiter::request_block(config.limits.requests_per_minute),
        )),
        accounts,
        catalogue: Arc::new(CatalogueService::new(db.clone(), Arc::clone(&chat))),
        journals: Arc::new(JournalService::new(db.clone(), Arc::clone(&conversations))),
        research: Arc::new(ResearchService::new(
            db.clone(),
            Arc::clone(&conversations),
            config.limits.anonymous_telemetry_per_minute,
        )),
        conversations,
        chat,
        practice,
        uploads: files.0,
        posts: files.1,
        billing: files.2,
        workspace,
        finance,
        education,
        profiles: Arc::new(crate::profiles::ProfileService::new(db.clone())),
        config: Arc::clone(&config),
        db,
    };
    Ok(AppState {
        schema: graphql::build(&config.limits, Some(services.clone())),
        fast: graphql::build_fast(&config.limits, services.clone()),
        services,
        metrics: Arc::new(HttpMetrics::default()),
    })
}

/// The uploads, posts and billing services (OptiMind): the upload store, the download-link
/// signer (its key derived from the master key ring) and the plans.
#[allow(clippy::type_complexity)]
fn files_services(
    config: &Arc<Config>,
    db: &Db,
    events: &events::EventBus,
    queue: &Arc<crate::platform::jobs::JobQueue>,
) -> anyhow::Result<(
    Arc<crate::uploads::UploadService>,
    Arc<crate::posts::PostService>,
    Arc<crate::billing::BillingService>,
)> {
    let store = crate::uploads::files::store(&config.uploads)?;
    let ring = crate::chat::keys::load_key_ring(&config.chat)?;
    let signer = crate::uploads::files::UrlSigner::new(&ring.to_text());
    let plans = Arc::clone(&config.billing.plans);
    Ok((
        Arc::new(crate::uploads::UploadService::new(
            db.clone(),
            store,
            config.uploads.clone(),
            Arc::clone(&plans),
            signer,
            config.auth.public_url.clone(),
            events.clone(),
            Arc::clone(queue),
        )),
        Arc::new(crate::posts::PostService::new(db.clone(), events.clone())),
        Arc::new(crate::billing::BillingService::new(
            db.clone(),
            plans,
            events.clone(),
        )),
    ))
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sweeper = tokio::spawn(sweep_interrupted(
        state.services.db.clone(),
        Arc::clone(&state.services.config),
        Arc::clone(&state.services.chat),
    ));
    let idle = tokio::spawn(sweep_idle_sessions(Arc::clone(&state.services.practice)));
    heartbeat::beat(&state.services.db).await;
    let beats = tokio::spawn(heartbeat::run(
        state.services.db.clone(),
        state.services.config.ops.heartbeat,
    ));
    let rollups = state
        .services
        .config
        .ops
        .activity_rollup_every
        .map(|every| tokio::spawn(roll_activity(Arc::clone(&state.services.analytics), every)));
    let (stop_jobs, jobs_stopped) = watch::channel(false);
    let jobs = crate::workspace::service::job_runner(&state.services.workspace)
        .handle(
            crate::uploads::service::UPLOAD_JOB,
            Arc::clone(&state.services.uploads) as Arc<dyn crate::platform::jobs::JobHandler>,
        )
        .spawn(jobs_stopped, state.services.config.server.shutdown_grace);
    // The pool stops claiming as soon as the server starts stopping, while requests drain.
    let shutdown = async move {
        shutdown.await;
        let _ = stop_jobs.send(true);
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(accepting(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed");
    sweeper.abort();
    idle.abort();
    beats.abort();
    if let Some(rollups) = rollups {
        rollups.abort();
    }
    // Running jobs finish within the grace period, or are handed back to the queue.
    if let Err(error) = jobs.await {
        tracing::error!(%error, "the job pool failed");
    }
    served
}

/// Turns Nagle's algorithm off on an accepted connection, as HTTP servers do: a response written
/// in several pieces (a large planned answer is) otherwise has its last short segment held back
/// until the client acknowledges the ones before, which a client delaying its acknowledgements
/// (Linux waits up to 40 ms) turns into a stall. Without it, `just bench`'s large read had a p99
/// about 40 ms above its p50.
fn accepting(
    listener: TcpListener,
) -> axum::serve::TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}

fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
    }
}

fn stale_cutoff(config: &Config) -> chrono::DateTime<chrono::Utc> {
    let stale =
        chrono::Duration::from_std(config.chat.stale_after).unwrap_or(chrono::Duration::MAX);
    core_domain::time::now() - stale
}

/// Every half of COLLOQUY_STREAM_STALE_SECS: past rate-limit windows are deleted (PostgreSQL), and
/// replies whose generator stopped heartbeating (its
/// server died) become FAILED with reason `interrupted` and their tokens are settled, so none
/// stays STREAMING, or holds a reservation, for ever. Safe with several instances: each reply is
/// recovered by one conditional update, and billed by whoever deletes its reservation.
async fn sweep_interrupted(db: Db, config: Arc<Config>, chat: Arc<ChatService>) {
    let mut every = tokio::time::interval(config.chat.stale_after / 2);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(error) = rate_limit::purge_past_windows(&db).await {
            tracing::warn!(%error, "cannot delete past rate-limit windows");
        }
        match recover::interrupted(&db, chat.providers(), Some(stale_cutoff(&config))).await {
            Ok(r) if r == recover::Recovered::default() => {}
            Ok(r) => tracing::warn!(
                replies = r.replies,
                reservations = r.reservations,
                "replies whose server stopped are marked FAILED and their tokens settled"
            ),
            Err(error) => tracing::warn!(%error, "cannot sweep interrupted replies"),
        }
    }
}

/// Practice sessions idle for longer than COLLOQUY_SESSION_IDLE_MINUTES become ABANDONED. Safe
/// with several instances: each session moves by one conditional update.
async fn sweep_idle_sessions(practice: Arc<PracticeService>) {
    let mut every = tokio::time::interval(practice.sweep_interval());
    every.tick().await;
    loop {
        every.tick().await;
        match practice.sweep_idle().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "idle practice sessions abandoned"),
            Err(error) => tracing::warn!(?error, "cannot sweep idle practice sessions"),
        }
    }
}

/// The daily activity rollup, every COLLOQUY_ACTIVITY_ROLLUP_SECS from start-up: recomputes the
/// last few closed UTC days from the raw rows (see `persistence::analytics::roll_activity`). Safe
/// with several instances: on PostgreSQL one holds an advisory lock for the run and the others
/// skip it; a run is one transaction and idempotent.
async fn roll_activity(analytics: Arc<AnalyticsService>, every: std::time::Duration) {
    let mut interval = tokio::time::interval(every);
    // A roll that outlasts the interval is not followed by a burst of catch-up rolls.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match analytics.roll_activity().await {
            Ok(crate::analytics::service::Roll::Rolled { from, to }) => {
                tracing::debug!(?from, %to, "activity rollup recomputed");
            }
            Ok(crate::analytics::service::Roll::Busy) => {
                tracing::debug!("activity rollup: another instance is rolling");
            }
            Err(error) => tracing::warn!(%error, "cannot roll up activity"),
        }
    }
}

/// How long past the shutdown grace period `serve` waits for `run` before it exits anyway: room
/// for handing unfinished jobs back after the grace period ran out.
const HANG_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `colloquy serve`: the whole start-up, until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for signals before anything else: a SIGTERM that arrives while the server starts
    // must stop it gracefully, not hit the default handler.
    let stop = shutdown_signal()?;
    let addr = config.server.addr;
    let grace = config.server.shutdown_grace;
    let state = prepare(config).await?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (set COLLOQUY_ADDR)"))?;
    let local = listener.local_addr()?;
    tracing::info!("Colloquy is serving the GraphQL playground at http://{local}/graphql");
    let serving = run(state, listener, stopped(stop.clone()));
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => result,
        // `run` bounds its own waits by the grace period; this only guards against a hang.
        () = async { stopped(stop).await; tokio::time::sleep(grace + HANG_MARGIN).await } => {
            tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    }
}

/// Starts listening for SIGINT (Ctrl-C) and SIGTERM now, and flips the returned flag when one
/// arrives. Registering eagerly matters: a signal that arrives before a lazily created listener is
/// first polled would kill the process instead of stopping it.
pub fn shutdown_signal() -> anyhow::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            let _ = tx.send(true);
        }
    });
    Ok(rx)
}

/// Resolves once the flag from [`shutdown_signal`] is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// A database URL with any password replaced, fit for logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener as _;

    /// The listener `run` serves on turns Nagle's algorithm off for every connection it accepts.
    #[tokio::test]
    async fn accepted_connections_send_without_delay() {
        let listener = super::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepting = super::accepting(listener);
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, from) = accepting.accept().await;
        assert_eq!(from, client.local_addr().unwrap());
        assert!(accepted.nodelay().unwrap());
        // The client's side is left as it was: only the server's sockets are changed.
        assert!(!client.nodelay().unwrap());
    }
}
