//! The marketplace's use cases and rules.
//!
//! Who sees what: the skills catalogue is public; a user's skills are theirs (and feed the
//! match). OPEN and CLOSED jobs are listed for everyone signed in; a DRAFT only for its poster
//! (and admins). An application is seen by its applicant, the poster of its job and admins;
//! anyone else gets NOT_FOUND (null from a look-up), exactly as for one that does not exist, so
//! an employer cannot see another employer's applicants.

use std::collections::HashMap;
use std::sync::Arc;

use core_domain::Role;
use core_domain::community::{self, ApplicationStatus, JobStatus, Mover, SkillLevel};
use core_domain::pagination::PageArgs;
use persistence::marketplace::{self as store, NewJob};
use persistence::notifications::NewNotification;
use persistence::sea_orm::TransactionTrait;
use persistence::{Db, Page};
use serde_json::json;

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::notifications::NotificationService;
use crate::platform::audit;

pub use persistence::marketplace::{
    Application, ApplicationScope, Job, JobScope, JobSkill, Skill, UserSkill,
};

/// What `createJob` was given.
#[derive(Debug, Clone, Default)]
pub struct JobDraft {
    pub title: String,
    pub description: String,
    pub company: String,
    pub location: Option<String>,
    pub employment_type: String,
    pub remote: bool,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<String>,
    /// (skill id, minimum level, required)
    pub skills: Vec<(String, Option<SkillLevel>, bool)>,
    /// Open it at once instead of saving a draft.
    pub open: bool,
}

/// Which jobs a list shows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    /// Only the caller's own postings.
    pub mine: bool,
    /// OPEN jobs asking for at least one of the caller's skills, best match first.
    pub matching_my_skills: bool,
}

/// A page of jobs: by recency, or ranked by match (then read whole and paged in memory).
pub enum JobPage {
    Keyset(Page<Job>, JobScope),
    Ranked(Vec<(Job, f64)>),
}

const MAX_SKILLS: usize = 20;

pub struct MarketplaceService {
    db: Db,
    notifications: Arc<NotificationService>,
}

fn text(value: String, field: &'static str, max: usize) -> ApiResult<String> {
    let v = value.trim().to_owned();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(v)
}

fn level(row: &str) -> ApiResult<SkillLevel> {
    row.parse()
        .map_err(|e| ApiError::from(persistence::StoreError::from(e)))
}

impl MarketplaceService {
    pub fn new(db: Db, notifications: Arc<NotificationService>) -> Self {
        Self { db, notifications }
    }

    // --- skills -------------------------------------------------------------------------------

    pub async fn skills(&self) -> ApiResult<Vec<Skill>> {
        Ok(store::skills(self.db.conn()).await?)
    }

    pub async fn skills_by_ids(&self, ids: &[String]) -> ApiResult<Vec<Skill>> {
        Ok(store::skills_by_ids(self.db.conn(), ids).await?)
    }

    pub async fn my_skills(&self, caller: &Caller) -> ApiResult<Vec<UserSkill>> {
        Ok(store::user_skills(self.db.conn(), std::slice::from_ref(&caller.actor.user_id)).await?)
    }

    /// Sets the caller's level of a catalogue skill.
    pub async fn set_my_skill(
        &self,
        caller: &Caller,
        skill_id: &str,
        level: SkillLevel,
        years: Option<i32>,
    ) -> ApiResult<UserSkill> {
        if let Some(y) = years
            && !(0..=80).contains(&y)
        {
            return Err(ApiError::bad_input("yearsExperience", "must be 0 to 80"));
        }
        if store::skills_by_ids(self.db.conn(), &[skill_id.to_owned()])
            .await?
            .is_empty()
        {
            return Err(ApiError::NotFound);
        }
        let me = &caller.actor.user_id;
        let txn = self.db.conn().begin().await?;
        let row = store::set_user_skill(&txn, me, skill_id, level.as_str(), years).await?;
        audit::record(
            &txn,
            Some(me),
            "skill.set",
            "Skill",
            skill_id,
            json!({ "level": level.as_str(), "yearsExperience": years }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Removes a skill from the caller (NOT_FOUND when they do not hold it).
    pub async fn remove_my_skill(&self, caller: &Caller, skill_id: &str) -> ApiResult<()> {
        let me = &caller.actor.user_id;
        let txn = self.db.conn().begin().await?;
        if !store::remove_user_skill(&txn, me, skill_id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            Some(me),
            "skill.removed",
            "Skill",
            skill_id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // --- jobs ---------------------------------------------------------------------------------

    fn can_see_job(caller: Option<&Caller>, job: &Job) -> bool {
        if job.status != JobStatus::Draft.as_str() {
            return true;
        }
        caller.is_some_and(|c| {
            c.actor.is_admin() || job.posted_by_id.as_deref() == Some(c.actor.user_id.as_str())
        })
    }

    fn is_poster(caller: &Caller, job: &Job) -> bool {
        job.posted_by_id.as_deref() == Some(caller.actor.user_id.as_str())
    }

    pub async fn job(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<Job>> {
        Ok(store::find_job(self.db.conn(), id)
            .await?
            .filter(|j| Self::can_see_job(caller, j)))
    }

    pub async fn jobs_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Job>> {
        Ok(store::jobs_by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|j| Self::can_see_job(caller, j))
            .collect())
    }

    /// Posts a job (any signed-in user but guests: they become its employer), as a draft or
    /// open at once.
    pub async fn create_job(&self, caller: &Caller, d: JobDraft) -> ApiResult<Job> {
        if caller.actor.role == Role::Guest {
            return Err(ApiError::Forbidden("guests cannot post jobs"));
        }
        let title = text(d.title, "title", 200)?;
        let description = text(d.description, "description", 20_000)?;
        let company = text(d.company, "company", 200)?;
        let location = d.location.map(|l| text(l, "location", 200)).transpose()?;
        if let (Some(a), Some(b)) = (d.salary_min, d.salary_max)
            && a > b
        {
            return Err(ApiError::bad_input(
                "salaryMax",
                "must not be below salaryMin",
            ));
        }
        if d.salary_min.is_some_and(|v| v < 0) {
            return Err(ApiError::bad_input("salaryMin", "must not be negative"));
        }
        if d.skills.len() > MAX_SKILLS {
            return Err(ApiError::bad_input("skills", "at most 20 skills"));
        }
        let mut wanted: Vec<(String, Option<String>, bool)> = Vec::new();
        for (skill, level, required) in &d.skills {
            if wanted.iter().any(|w| &w.0 == skill) {
                return Err(ApiError::bad_input("skills", "lists a skill twice"));
            }
            wanted.push((
                skill.clone(),
                level.map(|l| l.as_str().to_owned()),
                *required,
            ));
        }
        let ids: Vec<String> = wanted.iter().map(|w| w.0.clone()).collect();
        if store::skills_by_ids(self.db.conn(), &ids).await?.len() != ids.len() {
            return Err(ApiError::bad_input(
                "skills",
                "names a skill that does not exist",
            ));
        }
        let status = if d.open {
            JobStatus::Open
        } else {
            JobStatus::Draft
        };
        let txn = self.db.conn().begin().await?;
        let job = store::create_job(
            &txn,
            NewJob {
                title,
                description,
                company,
                location,
                employment_type: d.employment_type,
                is_remote: d.remote,
                salary_min: d.salary_min,
                salary_max: d.salary_max,
                salary_currency: d.salary_currency,
                status: status.as_str().to_owned(),
                posted_by_id: Some(caller.actor.user_id.clone()),
                expires_at: None,
            },
        )
        .await?;
        store::set_job_skills(&txn, &job.id, &wanted).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "job.created",
            "Job",
            &job.id,
            json!({ "title": job.title, "status": job.status, "skills": wanted.len() }),
        )
        .await?;
        txn.commit().await?;
        Ok(job)
    }

    /// Moves one of the caller's jobs (admins: any) by the job status rule.
    pub async fn set_job_status(&self, caller: &Caller, id: &str, to: JobStatus) -> ApiResult<Job> {
        let job = store::find_job(self.db.conn(), id)
            .await?
            .filter(|j| Self::can_see_job(Some(caller), j))
            .ok_or(ApiError::NotFound)?;
        if !(Self::is_poster(caller, &job) || caller.actor.is_admin()) {
            return Err(ApiError::NotFound);
        }
        let from: JobStatus = job
            .status
            .parse()
            .map_err(|e| ApiError::from(persistence::StoreError::from(e)))?;
        if !from.can_move_to(to) {
            return Err(ApiError::bad_input(
                "status",
                format!("a {from} job cannot become {to}"),
            ));
        }
        let txn = self.db.conn().begin().await?;
        if !store::move_job(&txn, id, from.as_str(), to.as_str()).await? {
            return Err(ApiError::Conflict("the job changed meanwhile".into()));
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "job.status_changed",
            "Job",
            id,
            json!({ "from": from.as_str(), "to": to.as_str() }),
        )
        .await?;
        txn.commit().await?;
        store::find_job(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// A page of jobs under `filter`.
    pub async fn jobs(
        &self,
        caller: Option<&Caller>,
        filter: &JobFilter,
        args: &PageArgs,
    ) -> ApiResult<JobPage> {
        if filter.matching_my_skills {
            let caller = caller.ok_or(ApiError::Unauthenticated)?;
            return Ok(JobPage::Ranked(self.ranked(caller).await?));
        }
        let mut scope = JobScope::default();
        let me = caller.map(|c| c.actor.user_id.clone());
        if filter.mine {
            scope.posted_by = Some(me.clone().ok_or(ApiError::Unauthenticated)?);
        }
        match filter.status {
            Some(s) => scope.statuses = vec![s.as_str().to_owned()],
            None if !filter.mine => {
                scope.statuses = vec!["OPEN".to_owned(), "CLOSED".to_owned()];
            }
            None => {}
        }
        if filter.status == Some(JobStatus::Draft) && !filter.mine {
            // Drafts are their poster's alone (admins see all).
            if !caller.is_some_and(|c| c.actor.is_admin()) {
                scope.posted_by = Some(me.ok_or(ApiError::Unauthenticated)?);
            }
        }
        let page = store::page_jobs(self.db.conn(), &scope, args).await?;
        Ok(JobPage::Keyset(page, scope))
    }

    pub async fn count_jobs(&self, scope: &JobScope) -> ApiResult<u64> {
        Ok(store::count_jobs(self.db.conn(), scope).await?)
    }

    pub fn job_ordering() -> &'static str {
        store::job_keyset().name
    }

    /// OPEN jobs that ask for any of the caller's skills, best covered first (then newest):
    /// three statements whatever the number of jobs.
    async fn ranked(&self, caller: &Caller) -> ApiResult<Vec<(Job, f64)>> {
        let db = self.db.conn();
        let mine = store::user_skills(db, std::slice::from_ref(&caller.actor.user_id)).await?;
        let have = Self::levels(&mine)?;
        let skill_ids: Vec<String> = have.keys().cloned().collect();
        let jobs = store::open_jobs_wanting(db, &skill_ids).await?;
        let job_ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let mut wants: HashMap<String, Vec<JobSkill>> = HashMap::new();
        for row in store::job_skills(db, &job_ids).await? {
            wants.entry(row.job_id.clone()).or_default().push(row);
        }
        let mut ranked = Vec::with_capacity(jobs.len());
        for job in jobs {
            let score = Self::coverage(wants.get(&job.id).map_or(&[][..], |v| v), &have)?;
            ranked.push((job, score));
        }
        // Stable: equal scores keep the newest-first order of the read.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(ranked)
    }

    /// A user's skills as skill id → level.
    pub fn levels(skills: &[UserSkill]) -> ApiResult<HashMap<String, SkillLevel>> {
        skills
            .iter()
            .map(|s| Ok((s.skill_id.clone(), level(&s.level)?)))
            .collect()
    }

    /// How well `have` covers a job asking for `wants` (0.0 to 1.0).
    pub fn coverage(wants: &[JobSkill], have: &HashMap<String, SkillLevel>) -> ApiResult<f64> {
        let wants = wants
            .iter()
            .map(|w| {
                Ok((
                    w.skill_id.clone(),
                    w.min_level.as_deref().map(level).transpose()?,
                ))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(community::coverage(&wants, have))
    }

    // --- applications -------------------------------------------------------------------------

    fn can_see_application(caller: &Caller, app: &Application, job: &Job) -> bool {
        caller.actor.is_admin()
            || app.user_id == caller.actor.user_id
            || Self::is_poster(caller, job)
    }

    /// The application `id` with its job, when the caller may see it.
    async fn visible_application(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ApiResult<Option<(Application, Job)>> {
        let db = self.db.conn();
        let Some(app) = store::find_application(db, id).await? else {
            return Ok(None);
        };
        let Some(job) = store::find_job(db, &app.job_id).await? else {
            return Ok(None);
        };
        Ok(Self::can_see_application(caller, &app, &job).then_some((app, job)))
    }

    pub async fn application(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> ApiResult<Option<Application>> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        Ok(self.visible_application(caller, id).await?.map(|(a, _)| a))
    }

    pub async fn applications_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Application>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let db = self.db.conn();
        let apps = store::applications_by_ids(db, ids).await?;
        let job_ids: Vec<String> = apps.iter().map(|a| a.job_id.clone()).collect();
        let jobs: HashMap<String, Job> = store::jobs_by_ids(db, &job_ids)
            .await?
            .into_iter()
            .map(|j| (j.id.clone(), j))
            .collect();
        Ok(apps
            .into_iter()
            .filter(|a| {
                jobs.get(&a.job_id)
                    .is_some_and(|j| Self::can_see_application(caller, a, j))
            })
            .collect())
    }

    /// Applies to an OPEN job, once (CONFLICT the second time); the poster is notified.
    pub async fn apply(
        &self,
        caller: &Caller,
        job_id: &str,
        cover_letter: Option<String>,
        resume_url: Option<String>,
    ) -> ApiResult<Application> {
        let job = self
            .job(Some(caller), job_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if job.status != JobStatus::Open.as_str() {
            return Err(ApiError::bad_input(
                "jobId",
                "the job is not open for applications",
            ));
        }
        if Self::is_poster(caller, &job) {
            return Err(ApiError::bad_input("jobId", "you posted this job"));
        }
        let cover_letter = cover_letter
            .map(|c| text(c, "coverLetter", 10_000))
            .transpose()?;
        let resume_url = resume_url
            .map(|r| text(r, "resumeUrl", 2_000))
            .transpose()?;
        let me = &caller.actor.user_id;
        let txn = self.db.conn().begin().await?;
        let app = store::apply(&txn, job_id, me, cover_letter, resume_url)
            .await?
            .ok_or_else(|| ApiError::Conflict("you already applied to this job".into()))?;
        let told = match &job.posted_by_id {
            Some(poster) => Some(
                NotificationService::create_in(
                    &txn,
                    NewNotification {
                        user_id: poster.clone(),
                        kind: "JOB".to_owned(),
                        title: format!("New application for {}", job.title),
                        body: "Someone applied to your job.".to_owned(),
                        data: Some(json!({ "jobId": job.id, "applicationId": app.id })),
                    },
                )
                .await?,
            ),
            None => None,
        };
        audit::record(
            &txn,
            Some(me),
            "application.submitted",
            "JobApplication",
            &app.id,
            json!({ "jobId": job.id }),
        )
        .await?;
        txn.commit().await?;
        if let Some(n) = told {
            self.notifications.published(&n);
        }
        Ok(app)
    }

    /// Moves an application: the employer along the pipeline, the applicant to WITHDRAWN. The
    /// applicant is notified of every move the employer makes, live.
    pub async fn move_application(
        &self,
        caller: &Caller,
        id: &str,
        to: ApplicationStatus,
    ) -> ApiResult<Application> {
        let (app, job) = self
            .visible_application(caller, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let by = if app.user_id == caller.actor.user_id {
            Mover::Applicant
        } else {
            Mover::Employer
        };
        let from: ApplicationStatus = app
            .status
            .parse()
            .map_err(|e| ApiError::from(persistence::StoreError::from(e)))?;
        if !from.can_move_to(to, by) {
            return Err(ApiError::bad_input(
                "status",
                format!("a {from} application cannot become {to} by you"),
            ));
        }
        let txn = self.db.conn().begin().await?;
        if !store::move_application(&txn, id, from.as_str(), to.as_str(), by == Mover::Employer)
            .await?
        {
            return Err(ApiError::Conflict(
                "the application changed meanwhile".into(),
            ));
        }
        let (recipient, title) = match by {
            Mover::Employer => (
                Some(app.user_id.clone()),
                format!("Your application for {} is now {to}", job.title),
            ),
            Mover::Applicant => (
                job.posted_by_id.clone(),
                format!("An application for {} was withdrawn", job.title),
            ),
        };
        let told = match recipient {
            Some(user_id) => Some(
                NotificationService::create_in(
                    &txn,
                    NewNotification {
                        user_id,
                        kind: "JOB".to_owned(),
                        title,
                        body: format!("Status: {from} → {to}"),
                        data: Some(json!({
                            "jobId": job.id,
                            "applicationId": app.id,
                            "status": to.as_str(),
                        })),
                    },
                )
                .await?,
            ),
            None => None,
        };
        let action = if by == Mover::Applicant {
            "application.withdrawn"
        } else {
            "application.moved"
        };
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            action,
            "JobApplication",
            id,
            json!({ "from": from.as_str(), "to": to.as_str() }),
        )
        .await?;
        txn.commit().await?;
        if let Some(n) = told {
            self.notifications.published(&n);
        }
        store::find_application(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// A page of a job's applications, for its poster (and admins); NOT_FOUND for anyone else.
    pub async fn job_applications(
        &self,
        caller: &Caller,
        job_id: &str,
        args: &PageArgs,
    ) -> ApiResult<(Page<Application>, ApplicationScope)> {
        let job = store::find_job(self.db.conn(), job_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !(Self::is_poster(caller, &job) || caller.actor.is_admin()) {
            return Err(ApiError::NotFound);
        }
        let scope = ApplicationScope::Job(job_id.to_owned());
        Ok((
            store::page_applications(self.db.conn(), &scope, args).await?,
            scope,
        ))
    }

    /// A page of the caller's own applications.
    pub async fn my_applications(
        &self,
        caller: &Caller,
        args: &PageArgs,
    ) -> ApiResult<(Page<Application>, ApplicationScope)> {
        let scope = ApplicationScope::Applicant(caller.actor.user_id.clone());
        Ok((
            store::page_applications(self.db.conn(), &scope, args).await?,
            scope,
        ))
    }

    pub async fn count_applications(&self, scope: &ApplicationScope) -> ApiResult<u64> {
        Ok(store::count_applications(self.db.conn(), scope).await?)
    }

    pub fn application_ordering() -> &'static str {
        store::application_keyset().name
    }
}
