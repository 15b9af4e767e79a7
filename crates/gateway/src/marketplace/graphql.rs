//! The marketplace over GraphQL: `skills`, `mySkills`, `setMySkill`, `removeMySkill`, `jobs`,
//! `job`, `createJob`, `setJobStatus`, `applyToJob`, `moveApplication`, `withdrawApplication`,
//! `jobApplications(jobId)`, `myApplications`, `jobApplication(id)`, and `Job.match`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::{SkillId, SkillsOfJob, SkillsOfUser};
use super::service::{self, JobDraft, JobFilter, JobPage, MarketplaceService};
use crate::accounts::graphql::{User, user_link};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{
    KnownTotal, connection, cursor, list_connection, list_cursor, page_args, page_in_memory,
};

/// The in-memory list name of jobs ranked by match.
const RANKED: &str = "jobs.match";
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};

fn market<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a MarketplaceService> {
    Ok(&ctx.services()?.marketplace)
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "JobStatus", remote = "core_domain::community::JobStatus")]
pub enum JobStatus {
    /// Being written: only its employer sees it.
    Draft,
    /// Listed and taking applications.
    Open,
    /// No longer taking applications.
    Closed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "ApplicationStatus",
    remote = "core_domain::community::ApplicationStatus"
)]
pub enum ApplicationStatus {
    Submitted,
    Reviewing,
    Interview,
    Offered,
    Rejected,
    /// Withdrawn by the applicant.
    Withdrawn,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "SkillLevel", remote = "core_domain::community::SkillLevel")]
pub enum SkillLevel {
    Beginner,
    Intermediate,
    Advanced,
    Expert,
}

/// How a job is held.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Contract,
    Internship,
    Freelance,
}

impl EmploymentType {
    fn as_str(self) -> &'static str {
        match self {
            EmploymentType::FullTime => "FULL_TIME",
            EmploymentType::PartTime => "PART_TIME",
            EmploymentType::Contract => "CONTRACT",
            EmploymentType::Internship => "INTERNSHIP",
            EmploymentType::Freelance => "FREELANCE",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            EmploymentType::FullTime,
            EmploymentType::PartTime,
            EmploymentType::Contract,
            EmploymentType::Internship,
            EmploymentType::Freelance,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

fn parse_stored<T: std::str::FromStr<Err = core_domain::enums::UnknownVariant>>(
    s: &str,
) -> ApiResult<T> {
    s.parse()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("corrupt row: {e}")))
}

/// A skill of the catalogue.
#[derive(Clone)]
pub struct Skill(pub Arc<service::Skill>);

#[Object]
impl Skill {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Skill, &self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

async fn skill(ctx: &Context<'_>, id: &str) -> ApiResult<Skill> {
    load_one(&ctx.loaders()?.marketplace, SkillId(id.to_owned()))
        .await?
        .map(Skill)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a skill is missing")))
}

/// The catalogue's skills among `ids` (database ids), for `node(id:)`.
pub async fn skills_by_ids(ctx: &Context<'_>, ids: &[String]) -> ApiResult<HashMap<String, Skill>> {
    let rows = market(ctx)?.skills_by_ids(ids).await?;
    Ok(rows
        .into_iter()
        .map(|s| (s.id.clone(), Skill(Arc::new(s))))
        .collect())
}

/// A skill you hold, at a level.
pub struct UserSkill(service::UserSkill);

#[Object]
impl UserSkill {
    async fn skill(&self, ctx: &Context<'_>) -> ApiResult<Skill> {
        skill(ctx, &self.0.skill_id).await
    }
    async fn level(&self) -> ApiResult<SkillLevel> {
        Ok(parse_stored::<core_domain::community::SkillLevel>(&self.0.level)?.into())
    }
    async fn years_experience(&self) -> Option<i32> {
        self.0.years_experience
    }
    /// Whether an assessment or an educator confirmed it.
    async fn verified(&self) -> bool {
        self.0.verified
    }
}

/// A skill a job asks for.
pub struct JobSkill(service::JobSkill);

#[Object]
impl JobSkill {
    async fn skill(&self, ctx: &Context<'_>) -> ApiResult<Skill> {
        skill(ctx, &self.0.skill_id).await
    }
    /// The least level that fully counts; null for any level.
    async fn min_level(&self) -> ApiResult<Option<SkillLevel>> {
        self.0
            .min_level
            .as_deref()
            .map(|l| Ok(parse_stored::<core_domain::community::SkillLevel>(l)?.into()))
            .transpose()
    }
    async fn required(&self) -> bool {
        self.0.is_required
    }
}

/// A job listing.
#[derive(Clone)]
pub struct Job(pub Arc<service::Job>);

impl From<service::Job> for Job {
    fn from(j: service::Job) -> Self {
        Job(Arc::new(j))
    }
}

#[Object]
impl Job {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Job, &self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn company(&self) -> &str {
        &self.0.company
    }
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    async fn employment_type(&self) -> Option<EmploymentType> {
        EmploymentType::parse(&self.0.employment_type)
    }
    async fn remote(&self) -> bool {
        self.0.is_remote
    }
    /// The lowest salary, in the smallest unit of `salaryCurrency`, as an integer string.
    async fn salary_min(&self) -> Option<String> {
        self.0.salary_min.map(|v| v.to_string())
    }
    /// The highest salary, in the smallest unit of `salaryCurrency`, as an integer string.
    async fn salary_max(&self) -> Option<String> {
        self.0.salary_max.map(|v| v.to_string())
    }
    async fn salary_currency(&self) -> Option<&str> {
        self.0.salary_currency.as_deref()
    }
    async fn status(&self) -> ApiResult<JobStatus> {
        Ok(parse_stored::<core_domain::community::JobStatus>(&self.0.status)?.into())
    }
    /// The employer who posted it; null for seeded listings.
    async fn posted_by_id(&self) -> Option<ID> {
        self.0
            .posted_by_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The skills it asks for (at most 20).
    async fn skills(&self, ctx: &Context<'_>) -> ApiResult<Vec<JobSkill>> {
        let rows = load_one(&ctx.loaders()?.marketplace, SkillsOfJob(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        Ok(rows.iter().cloned().map(JobSkill).collect())
    }
    /// How well your skills cover what it asks for, from 0 (none) to 1 (every skill at its
    /// level; a skill below its level counts half). Null when you are not signed in.
    #[graphql(name = "match")]
    async fn match_(&self, ctx: &Context<'_>) -> ApiResult<Option<f64>> {
        let Some(caller) = ctx.request()?.caller.as_ref() else {
            return Ok(None);
        };
        let loader = &ctx.loaders()?.marketplace;
        let (wants, have) = futures::try_join!(
            load_one(loader, SkillsOfJob(self.0.id.clone())),
            load_one(loader, SkillsOfUser(caller.actor.user_id.clone())),
        )?;
        let have = MarketplaceService::levels(&have.unwrap_or_default())?;
        Ok(Some(MarketplaceService::coverage(
            &wants.unwrap_or_default(),
            &have,
        )?))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The jobs among `ids` the caller may see, for `node(id:)`.
pub async fn jobs_by_ids(ctx: &Context<'_>, ids: &[String]) -> ApiResult<HashMap<String, Job>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = market(ctx)?.jobs_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|j| (j.id.clone(), Job::from(j)))
        .collect())
}

/// An application to a job, seen by its applicant and the job's employer.
#[derive(Clone)]
pub struct JobApplication(pub Arc<service::Application>);

impl From<service::Application> for JobApplication {
    fn from(a: service::Application) -> Self {
        JobApplication(Arc::new(a))
    }
}

#[Object]
impl JobApplication {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::JobApplication, &self.0.id)
    }
    async fn job_id(&self) -> ID {
        ids::encode(Kind::Job, &self.0.job_id)
    }
    async fn job(&self, ctx: &Context<'_>) -> ApiResult<Option<Job>> {
        Ok(jobs_by_ids(ctx, std::slice::from_ref(&self.0.job_id))
            .await?
            .remove(&self.0.job_id))
    }
    async fn applicant_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.user_id)
    }
    /// The applicant, when you may see their account (yourself, or as an admin).
    async fn applicant(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.user_id)).await
    }
    async fn cover_letter(&self) -> Option<&str> {
        self.0.cover_letter.as_deref()
    }
    async fn resume_url(&self) -> Option<&str> {
        self.0.resume_url.as_deref()
    }
    async fn status(&self) -> ApiResult<ApplicationStatus> {
        Ok(parse_stored::<core_domain::community::ApplicationStatus>(&self.0.status)?.into())
    }
    /// When the employer last moved it.
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The applications among `ids` the caller may see, for `node(id:)`.
pub async fn applications_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, JobApplication>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = market(ctx)?.applications_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|a| (a.id.clone(), JobApplication::from(a)))
        .collect())
}

/// `totalCount` of a job list: counted when asked for, or known for a ranked list.
pub enum JobTotal {
    Scope(service::JobScope),
    Known(usize),
}

#[Object]
impl JobTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            JobTotal::Scope(scope) => market(ctx)?.count_jobs(scope).await,
            JobTotal::Known(n) => Ok(*n as u64),
        }
    }
}

pub type JobConnection = Connection<String, Job, JobTotal, EmptyFields>;

pub struct ApplicationTotal(service::ApplicationScope);

#[Object]
impl ApplicationTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        market(ctx)?.count_applications(&self.0).await
    }
}

pub type JobApplicationConnection =
    Connection<String, JobApplication, ApplicationTotal, EmptyFields>;

#[derive(InputObject, Default)]
pub struct JobFilterInput {
    pub status: Option<JobStatus>,
    /// Only jobs you posted (drafts included).
    pub mine: Option<bool>,
    /// Only OPEN jobs asking for at least one of your skills, best match first.
    pub matching_my_skills: Option<bool>,
}

#[derive(Default)]
pub struct MarketplaceQuery;

#[Object]
impl MarketplaceQuery {
    /// The skills catalogue, by name.
    async fn skills(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<Connection<String, Skill, KnownTotal, EmptyFields>> {
        let args = page_args(first, after, last, before)?;
        let rows = market(ctx)?.skills().await?;
        list_connection(
            rows,
            &args,
            "skills",
            |s| &s.id,
            KnownTotal,
            |s| Skill(Arc::new(s)),
        )
    }

    /// The skills you hold.
    async fn my_skills(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<Connection<String, UserSkill, KnownTotal, EmptyFields>> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let rows = market(ctx)?.my_skills(caller).await?;
        list_connection(
            rows,
            &args,
            "mySkills",
            |s| &s.skill_id,
            KnownTotal,
            UserSkill,
        )
    }

    /// Job listings: OPEN and CLOSED ones newest first, your own (`mine`), or OPEN ones ranked by
    /// how well your skills cover them (`matchingMySkills`).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<JobFilterInput>,
    ) -> ApiResult<JobConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = JobFilter {
            status: f.status.map(Into::into),
            mine: f.mine.unwrap_or(false),
            matching_my_skills: f.matching_my_skills.unwrap_or(false),
        };
        let caller = ctx.request()?.caller.as_ref();
        let name = MarketplaceService::job_ordering();
        Ok(match market(ctx)?.jobs(caller, &filter, &args).await? {
            JobPage::Keyset(page, scope) => connection(
                page,
                JobTotal::Scope(scope),
                |j| cursor(name, j.created_at, &j.id),
                Job::from,
            ),
            JobPage::Ranked(rows) => {
                let jobs: Vec<service::Job> = rows.into_iter().map(|(j, _)| j).collect();
                let (page, total) = page_in_memory(jobs, &args, RANKED, |j| &j.id)?;
                connection(
                    page,
                    JobTotal::Known(total),
                    |j| list_cursor(RANKED, &j.id),
                    Job::from,
                )
            }
        })
    }

    /// A job listing; null when missing or a draft that is not yours.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Job>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Job, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(market(ctx)?.job(caller, &id).await?.map(Job::from))
    }

    /// The applications to one of your jobs, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn job_applications(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<JobApplicationConnection> {
        let args = page_args(first, after, last, before)?;
        let job_id = ids::decode(&job_id, Kind::Job, "jobId")?;
        let caller = ctx.request()?.require()?;
        let (page, scope) = market(ctx)?
            .job_applications(caller, &job_id, &args)
            .await?;
        let name = MarketplaceService::application_ordering();
        Ok(connection(
            page,
            ApplicationTotal(scope),
            |a| cursor(name, a.created_at, &a.id),
            JobApplication::from,
        ))
    }

    /// Your applications, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn my_applications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<JobApplicationConnection> {
        let args = page_args(first, after, last, before)?;
        let caller = ctx.request()?.require()?;
        let (page, scope) = market(ctx)?.my_applications(caller, &args).await?;
        let name = MarketplaceService::application_ordering();
        Ok(connection(
            page,
            ApplicationTotal(scope),
            |a| cursor(name, a.created_at, &a.id),
            JobApplication::from,
        ))
    }

    /// An application: yours, or one to a job you posted; null otherwise.
    async fn job_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<JobApplication>> {
        let Some(id) = ids::decode_lookup(&id, Kind::JobApplication, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(market(ctx)?
            .application(caller, &id)
            .await?
            .map(JobApplication::from))
    }
}

#[derive(InputObject)]
pub struct SetMySkillInput {
    pub skill_id: ID,
    pub level: SkillLevel,
    /// 0 to 80.
    pub years_experience: Option<i32>,
}

#[derive(SimpleObject)]
pub struct SetMySkillPayload {
    pub user_skill: UserSkill,
}

#[derive(InputObject)]
pub struct RemoveMySkillInput {
    pub skill_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveMySkillPayload {
    pub removed_skill_id: ID,
}

#[derive(InputObject)]
pub struct JobSkillInput {
    pub skill_id: ID,
    /// The least level that fully counts; leave out for any level.
    pub min_level: Option<SkillLevel>,
    /// Defaults to true.
    pub required: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateJobInput {
    /// Up to 200 characters.
    pub title: String,
    pub description: String,
    pub company: String,
    pub location: Option<String>,
    /// Defaults to FULL_TIME.
    pub employment_type: Option<EmploymentType>,
    pub remote: Option<bool>,
    /// In the smallest unit of `salaryCurrency`, as an integer string.
    pub salary_min: Option<String>,
    pub salary_max: Option<String>,
    pub salary_currency: Option<String>,
    /// Up to 20 skills it asks for.
    pub skills: Option<Vec<JobSkillInput>>,
    /// Opens it at once (true) or saves a draft (false, the default).
    pub open: Option<bool>,
}

#[derive(SimpleObject)]
pub struct CreateJobPayload {
    pub job: Job,
}

#[derive(InputObject)]
pub struct SetJobStatusInput {
    pub id: ID,
    /// DRAFT → OPEN → CLOSED (a draft may also close); a job never reopens.
    pub status: JobStatus,
}

#[derive(SimpleObject)]
pub struct SetJobStatusPayload {
    pub job: Job,
}

#[derive(InputObject)]
pub struct ApplyToJobInput {
    pub job_id: ID,
    pub cover_letter: Option<String>,
    pub resume_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct ApplyToJobPayload {
    pub application: JobApplication,
}

#[derive(InputObject)]
pub struct MoveApplicationInput {
    pub id: ID,
    /// One step on (SUBMITTED → REVIEWING → INTERVIEW → OFFERED) or REJECTED.
    pub status: ApplicationStatus,
}

#[derive(SimpleObject)]
pub struct MoveApplicationPayload {
    pub application: JobApplication,
}

#[derive(InputObject)]
pub struct WithdrawApplicationInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct WithdrawApplicationPayload {
    pub application: JobApplication,
}

fn amount(v: Option<String>, field: &'static str) -> ApiResult<Option<i64>> {
    v.map(|s| {
        s.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_input(field, "must be an integer amount in the smallest unit")
        })
    })
    .transpose()
}

#[derive(Default)]
pub struct MarketplaceMutation;

#[Object]
impl MarketplaceMutation {
    /// Adds a skill to your profile at a level, or changes its level.
    async fn set_my_skill(
        &self,
        ctx: &Context<'_>,
        input: SetMySkillInput,
    ) -> ApiResult<SetMySkillPayload> {
        let skill_id = ids::decode(&input.skill_id, Kind::Skill, "skillId")?;
        let caller = ctx.request()?.require()?;
        let row = market(ctx)?
            .set_my_skill(
                caller,
                &skill_id,
                input.level.into(),
                input.years_experience,
            )
            .await?;
        Ok(SetMySkillPayload {
            user_skill: UserSkill(row),
        })
    }

    /// Removes a skill from your profile.
    async fn remove_my_skill(
        &self,
        ctx: &Context<'_>,
        input: RemoveMySkillInput,
    ) -> ApiResult<RemoveMySkillPayload> {
        let skill_id = ids::decode(&input.skill_id, Kind::Skill, "skillId")?;
        let caller = ctx.request()?.require()?;
        market(ctx)?.remove_my_skill(caller, &skill_id).await?;
        Ok(RemoveMySkillPayload {
            removed_skill_id: ids::encode(Kind::Skill, &skill_id),
        })
    }

    /// Posts a job: you become its employer. A draft until you open it.
    async fn create_job(
        &self,
        ctx: &Context<'_>,
        input: CreateJobInput,
    ) -> ApiResult<CreateJobPayload> {
        let mut skills = Vec::new();
        for s in input.skills.unwrap_or_default() {
            skills.push((
                ids::decode(&s.skill_id, Kind::Skill, "skills")?,
                s.min_level.map(Into::into),
                s.required.unwrap_or(true),
            ));
        }
        let draft = JobDraft {
            title: input.title,
            description: input.description,
            company: input.company,
            location: input.location,
            employment_type: input
                .employment_type
                .unwrap_or(EmploymentType::FullTime)
                .as_str()
                .to_owned(),
            remote: input.remote.unwrap_or(false),
            salary_min: amount(input.salary_min, "salaryMin")?,
            salary_max: amount(input.salary_max, "salaryMax")?,
            salary_currency: input.salary_currency,
            skills,
            open: input.open.unwrap_or(false),
        };
        let caller = ctx.request()?.require()?;
        let job = market(ctx)?.create_job(caller, draft).await?;
        Ok(CreateJobPayload { job: job.into() })
    }

    /// Opens or closes one of your jobs.
    async fn set_job_status(
        &self,
        ctx: &Context<'_>,
        input: SetJobStatusInput,
    ) -> ApiResult<SetJobStatusPayload> {
        let id = ids::decode(&input.id, Kind::Job, "id")?;
        let caller = ctx.request()?.require()?;
        let job = market(ctx)?
            .set_job_status(caller, &id, input.status.into())
            .await?;
        Ok(SetJobStatusPayload { job: job.into() })
    }

    /// Applies to an open job, once; its employer is notified.
    async fn apply_to_job(
        &self,
        ctx: &Context<'_>,
        input: ApplyToJobInput,
    ) -> ApiResult<ApplyToJobPayload> {
        let job_id = ids::decode(&input.job_id, Kind::Job, "jobId")?;
        let caller = ctx.request()?.require()?;
        let app = market(ctx)?
            .apply(caller, &job_id, input.cover_letter, input.resume_url)
            .await?;
        Ok(ApplyToJobPayload {
            application: app.into(),
        })
    }

    /// Moves an application to one of your jobs; the applicant is notified.
    async fn move_application(
        &self,
        ctx: &Context<'_>,
        input: MoveApplicationInput,
    ) -> ApiResult<MoveApplicationPayload> {
        let id = ids::decode(&input.id, Kind::JobApplication, "id")?;
        let caller = ctx.request()?.require()?;
        let app = market(ctx)?
            .move_application(caller, &id, input.status.into())
            .await?;
        Ok(MoveApplicationPayload {
            application: app.into(),
        })
    }

    /// Withdraws one of your applications; the employer is notified.
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        input: WithdrawApplicationInput,
    ) -> ApiResult<WithdrawApplicationPayload> {
        let id = ids::decode(&input.id, Kind::JobApplication, "id")?;
        let caller = ctx.request()?.require()?;
        let app = market(ctx)?
            .move_application(
                caller,
                &id,
                core_domain::community::ApplicationStatus::Withdrawn,
            )
            .await?;
        Ok(WithdrawApplicationPayload {
            application: app.into(),
        })
    }
}
