//! The durable job runner: a pool of workers inside the gateway that runs queued AI work
//! (`ai_jobs`, see `persistence::jobs`) by kind.
//!
//! - **Claiming.** The pool claims due jobs (PENDING whose `run_at` came, or RUNNING whose
//!   lease expired because their server died) for this instance under a lease, as many as it
//!   has free workers (`COLLOQUY_JOB_WORKERS`). PostgreSQL instances share the queue through
//!   `FOR UPDATE SKIP LOCKED`; SQLite has one claimer. It claims when woken ([`JobQueue::wake`],
//!   called after a job is queued on this instance), when a worker frees up, and every poll
//!   interval (`COLLOQUY_JOB_POLL_MS`, for jobs queued by other instances, retries coming due
//!   and expired leases).
//! - **Leases.** A running job's lease (`COLLOQUY_JOB_LEASE_SECS`) is renewed every third of its
//!   length. Every write the handler makes to finish the job goes through
//!   `persistence::jobs::finish` under its [`Lease`] in the transaction of its result, so a job
//!   whose lease was lost (expired and claimed again) writes nothing: it finishes exactly once.
//! - **Retries.** A handler answers [`JobOutcome::Retry`] for a provider failure worth trying
//!   again; the job is put back with exponential backoff (`COLLOQUY_JOB_BACKOFF_MS` doubled per
//!   attempt, at most five minutes) until its `max_attempts` (`COLLOQUY_JOB_MAX_ATTEMPTS`), and
//!   the handler is told when an attempt is the last ([`JobContext::final_attempt`]) so it
//!   records the failure itself.
//! - **Shutdown.** When the server stops, the pool stops claiming at once and waits for the jobs
//!   it is running, up to the shutdown grace period (`COLLOQUY_SHUTDOWN_GRACE_SECS`). Jobs still
//!   running then are handed back (PENDING, due now, lease cleared), so another instance (or
//!   this one after a restart) takes them at once instead of waiting for their leases to expire;
//!   whatever their abandoned run still tries to write is refused, its lease being gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use persistence::Db;
use persistence::jobs::{self, Job, Lease};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

/// How the pool runs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `COLLOQUY_JOB_WORKERS`, default 4: jobs run at once on this instance (0: this instance
    /// runs none).
    pub workers: usize,
    /// `COLLOQUY_JOB_LEASE_SECS`, default 60.
    pub lease: Duration,
    /// `COLLOQUY_JOB_POLL_MS`, default 1000.
    pub poll_interval: Duration,
    /// `COLLOQUY_JOB_MAX_ATTEMPTS`, default 3.
    pub max_attempts: i32,
    /// `COLLOQUY_JOB_BACKOFF_MS`, default 2000: the wait before the second attempt, doubled for
    /// each later one.
    pub backoff: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            max_attempts: 3,
            backoff: Duration::from_secs(2),
        }
    }
}

impl JobsConfig {
    /// The wait before attempt `attempt + 1`.
    pub fn backoff_after(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 16)).unwrap_or(0);
        self.backoff
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(Duration::from_secs(300))
    }
}

/// What a handler knows about the claim it runs under.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub lease: Lease,
    /// No attempt follows this one: a failure must be recorded now.
    pub final_attempt: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The handler finished the job itself (done, failed or cancelled), under its lease.
    Finished,
    /// Try again later; the text says why (kept in `last_error`).
    Retry(String),
}

/// Runs jobs of one or more kinds.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: Job, context: JobContext) -> JobOutcome;
}

/// The queue's handle for services: queue a job and wake the pool.
pub struct JobQueue {
    db: Db,
    wake: Notify,
    config: JobsConfig,
}

impl JobQueue {
    pub fn new(db: Db, config: JobsConfig) -> Arc<Self> {
        Arc::new(Self {
            db,
            wake: Notify::new(),
            config,
        })
    }

    pub fn config(&self) -> &JobsConfig {
        &self.config
    }

    /// Wakes this instance's pool (call after the transaction that queued a job committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Queues a job on `db` (the caller's transaction) held by the caller until it calls
    /// [`JobQueue::release`] (see `persistence::jobs::enqueue_held`).
    pub async fn enqueue_held(
        &self,
        db: &impl persistence::sea_orm::ConnectionTrait,
        kind: &str,
        subject_id: &str,
        user_id: Option<&str>,
    ) -> Result<Lease, persistence::StoreError> {
        let owner = format!("request-{}", core_domain::ids::new_id());
        let job = jobs::enqueue_held(
            db,
            kind,
            subject_id,
            user_id,
            self.config.max_attempts,
            &owner,
            lease_until(&self.config),
        )
        .await?;
        Ok(Lease::of(&job))
    }

    /// Keeps a held job's lease alive (renewed like a running job's) until the returned guard is
    /// dropped: for a request whose work before [`JobQueue::release`] may outlast one lease (a
    /// large file going to a slow store), so no worker takes the job over meanwhile.
    pub fn keep_alive(&self, lease: &Lease) -> KeepAlive {
        KeepAlive(tokio::spawn(renew(
            self.db.clone(),
            lease.clone(),
            self.config.clone(),
        )))
    }

    /// Hands a job held since [`JobQueue::enqueue_held`] to the workers and wakes this instance's
    /// pool; false when its lease expired meanwhile (a worker has it already).
    pub async fn release(&self, lease: &Lease) -> Result<bool, persistence::StoreError> {
        let released = jobs::release(self.db.conn(), lease).await?;
        self.wake();
        Ok(released)
    }

    /// Queues a job on `db` (the caller's transaction), due now.
    pub async fn enqueue(
        &self,
        db: &impl persistence::sea_orm::ConnectionTrait,
        kind: &str,
        subject_id: &str,
        user_id: Option<&str>,
    ) -> Result<Job, persistence::StoreError> {
        jobs::enqueue(db, kind, subject_id, user_id, self.config.max_attempts).await
    }
}

/// The worker pool of one instance.
pub struct JobRunner {
    queue: Arc<JobQueue>,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    owner: String,
    /// The leases of the jobs running now, to hand back when shutdown runs out of time.
    running: Mutex<HashMap<String, Lease>>,
}

impl JobRunner {
    pub fn new(queue: Arc<JobQueue>) -> Self {
        Self {
            queue,
            handlers: HashMap::new(),
            owner: format!("gateway-{}", core_domain::ids::new_id()),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Runs jobs of `kind` with `handler`.
    pub fn handle(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Starts the pool; it stops claiming once `stop` turns true (or its sender is dropped),
    /// then ends when its running jobs have finished, or after `grace` with the unfinished ones
    /// handed back to the queue.
    pub fn spawn(self, stop: watch::Receiver<bool>, grace: Duration) -> JoinHandle<()> {
        tokio::spawn(self.run(stop, grace))
    }

    async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let workers = self.queue.config.workers;
        if workers == 0 {
            return;
        }
        let this = Arc::new(self);
        let free = Arc::new(Semaphore::new(workers));
        // The queue depths behind `/metrics` and `serverStatus`, refreshed while the pool runs.
        let gauges = tokio::spawn(refresh_depths(this.queue.db.clone()));
        loop {
            if *stop.borrow() {
                break;
            }
            let available = free.available_permits();
            if available > 0 {
                match this.claim(available).await {
                    Ok(claimed) => {
                        for job in claimed {
                            let Ok(permit) = Arc::clone(&free).acquire_owned().await else {
                                return;
                            };
                            let worker = Arc::clone(&this);
                            worker.track(&job, true);
                            tokio::spawn(async move {
                                worker.run_one(job.clone()).await;
                                worker.track(&job, false);
                                drop(permit);
                                worker.queue.wake();
                            });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot claim jobs"),
                }
            }
            tokio::select! {
                () = this.queue.wake.notified() => {}
                () = tokio::time::sleep(this.queue.config.poll_interval) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        gauges.abort();
        tracing::debug!(owner = %this.owner, "the job pool stopped claiming");
        // Every permit back means every running job has finished.
        let all = u32::try_from(workers).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, free.acquire_many(all))
            .await
            .is_err()
        {
            this.hand_back().await;
        }
    }

    /// Records (or forgets) a job this pool runs.
    fn track(&self, job: &Job, running: bool) {
        let mut map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running {
            map.insert(job.id.clone(), Lease::of(job));
        } else {
            map.remove(&job.id);
        }
    }

    /// Hands the jobs still running back to the queue (due now), for another instance.
    async fn hand_back(&self) {
        let leases: Vec<Lease> = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for lease in leases {
            match jobs::release(self.queue.db.conn(), &lease).await {
                Ok(true) => {
                    tracing::warn!(id = %lease.job_id, "a job still running at shutdown was handed back to the queue");
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, id = %lease.job_id, "cannot hand a job back; its lease will expire");
                }
            }
        }
    }

    async fn claim(&self, n: usize) -> Result<Vec<Job>, persistence::StoreError> {
        let until = lease_until(&self.queue.config);
        jobs::claim(self.queue.db.conn(), &self.owner, until, n as u64).await
    }

    async fn run_one(&self, job: Job) {
        let lease = Lease::of(&job);
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            tracing::error!(kind = %job.kind, id = %job.id, "no handler for this job kind");
            let _ = jobs::finish(
                self.queue.db.conn(),
                &lease,
                jobs::FAILED,
                Some("no handler for this kind of job"),
            )
            .await;
            return;
        };
        let context = JobContext {
            final_attempt: job.attempts >= job.max_attempts,
            lease: lease.clone(),
        };
        let renewer = tokio::spawn(renew(
            self.queue.db.clone(),
            lease.clone(),
            self.queue.config.clone(),
        ));
        let outcome = handler.run(job.clone(), context).await;
        renewer.abort();
        if let JobOutcome::Retry(reason) = outcome {
            let wait = self.queue.config.backoff_after(job.attempts);
            let run_at = core_domain::time::now()
                + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
            match jobs::retry_later(self.queue.db.conn(), &lease, run_at, &reason).await {
                Ok(true) => {
                    tracing::info!(id = %job.id, kind = %job.kind, attempt = job.attempts, ?wait, %reason, "job will be retried");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, id = %job.id, "cannot reschedule a job"),
            }
        }
    }
}

fn lease_until(config: &JobsConfig) -> chrono::DateTime<chrono::Utc> {
    core_domain::time::now()
        + chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::seconds(60))
}

/// Renews a held lease until dropped (see [`JobQueue::keep_alive`]).
pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps `lease` alive until aborted (or lost).
async fn renew(db: Db, lease: Lease, config: JobsConfig) {
    let every = (config.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        match jobs::renew(db.conn(), &lease, lease_until(&config)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => tracing::warn!(%error, id = %lease.job_id, "cannot renew a job lease"),
        }
    }
}

/// How often the queue depths are read for the metrics.
const DEPTHS_EVERY: Duration = Duration::from_secs(15);

/// Reads the queue depths every [`DEPTHS_EVERY`] into the process's metrics.
async fn refresh_depths(db: Db) {
    loop {
        match jobs::depths(db.conn()).await {
            Ok((queued, running, failed)) => {
                crate::platform::metrics::global().set_jobs(crate::platform::metrics::JobGauges {
                    queued,
                    running,
                    failed,
                });
            }
            Err(error) => tracing::warn!(%error, "cannot read the job queue's depths"),
        }
        tokio::time::sleep(DEPTHS_EVERY).await;
    }
}
