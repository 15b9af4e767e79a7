//! The job marketplace (Azora): the skills catalogue, the skills users hold, job listings with
//! the skills they ask for, and applications. Access rules live in the gateway's marketplace
//! service; this layer reads and writes rows, scoping by the ids it is given.

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::{job_applications, job_skills, jobs, skills, user_skills};
use crate::{Page, StoreError};

pub use job_applications::Model as Application;
pub use job_skills::Model as JobSkill;
pub use jobs::Model as Job;
pub use skills::Model as Skill;
pub use user_skills::Model as UserSkill;

// --- skills -----------------------------------------------------------------------------------

/// The whole catalogue, by name (it is small).
pub async fn skills(db: &impl ConnectionTrait) -> Result<Vec<Skill>, StoreError> {
    Ok(skills::Entity::find()
        .order_by_asc(skills::Column::Name)
        .all(db)
        .await?)
}

/// Creates the skill `name` unless one of that name exists; returns it either way.
pub async fn ensure_skill(
    db: &impl ConnectionTrait,
    name: &str,
    category: Option<&str>,
    description: Option<&str>,
) -> Result<Skill, StoreError> {
    if let Some(s) = skills::Entity::find()
        .filter(skills::Column::Name.eq(name))
        .one(db)
        .await?
    {
        return Ok(s);
    }
    let now = time::now();
    Ok(skills::ActiveModel {
        id: Set(ids::new_id()),
        name: Set(name.to_owned()),
        category: Set(category.map(str::to_owned)),
        description: Set(description.map(str::to_owned)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The skills among `ids`.
pub async fn skills_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Skill>, StoreError> {
    crate::rows::by_ids::<skills::Entity>(db, ids).await
}

/// The skills `user_ids` hold, in one statement.
pub async fn user_skills(
    db: &impl ConnectionTrait,
    user_ids: &[String],
) -> Result<Vec<UserSkill>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user_skills::Entity::find()
        .filter(user_skills::Column::UserId.is_in(user_ids.iter().cloned()))
        .order_by_asc(user_skills::Column::CreatedAt)
        .order_by_asc(user_skills::Column::SkillId)
        .all(db)
        .await?)
}

/// Sets the user's level of a skill (adding the skill when they do not hold it yet).
pub async fn set_user_skill(
    db: &impl ConnectionTrait,
    user_id: &str,
    skill_id: &str,
    level: &str,
    years_experience: Option<i32>,
) -> Result<UserSkill, StoreError> {
    let now = time::now();
    user_skills::Entity::insert(user_skills::ActiveModel {
        user_id: Set(user_id.to_owned()),
        skill_id: Set(skill_id.to_owned()),
        level: Set(level.to_owned()),
        years_experience: Set(years_experience),
        verified: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([user_skills::Column::UserId, user_skills::Column::SkillId])
            .update_columns([
                user_skills::Column::Level,
                user_skills::Column::YearsExperience,
                user_skills::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    user_skills::Entity::find_by_id((user_id.to_owned(), skill_id.to_owned()))
        .one(db)
        .await?
        .ok_or(StoreError::Db(sea_orm::DbErr::RecordNotFound(
            "a user skill just written".into(),
        )))
}

/// Removes a skill from the user; false when they did not hold it.
pub async fn remove_user_skill(
    db: &impl ConnectionTrait,
    user_id: &str,
    skill_id: &str,
) -> Result<bool, StoreError> {
    let res = user_skills::Entity::delete_many()
        .filter(user_skills::Column::UserId.eq(user_id))
        .filter(user_skills::Column::SkillId.eq(skill_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

// --- jobs -------------------------------------------------------------------------------------

/// What a new job holds.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    pub title: String,
    pub description: String,
    pub company: String,
    pub location: Option<String>,
    pub employment_type: String,
    pub is_remote: bool,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<String>,
    pub status: String,
    pub posted_by_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn create_job(db: &impl ConnectionTrait, new: NewJob) -> Result<Job, StoreError> {
    let now = time::now();
    Ok(jobs::ActiveModel {
        id: Set(ids::new_id()),
        title: Set(new.title),
        description: Set(new.description),
        company: Set(new.company),
        location: Set(new.location),
        employment_type: Set(new.employment_type),
        is_remote: Set(new.is_remote),
        salary_min: Set(new.salary_min),
        salary_max: Set(new.salary_max),
        salary_currency: Set(new.salary_currency),
        status: Set(new.status),
        posted_by_id: Set(new.posted_by_id),
        expires_at: Set(new.expires_at),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Moves job `id` from status `from` to `to`; false when it is no longer in `from` (someone
/// moved it first).
pub async fn move_job(
    db: &impl ConnectionTrait,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    let res = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(to))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(time::now()))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub async fn find_job(db: &impl ConnectionTrait, id: &str) -> Result<Option<Job>, StoreError> {
    Ok(jobs::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn jobs_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Job>, StoreError> {
    crate::rows::by_ids::<jobs::Entity>(db, ids).await
}

/// Newest first.
pub fn job_keyset() -> Keyset<jobs::Column> {
    Keyset {
        name: "jobs.created_at.desc",
        at: jobs::Column::CreatedAt,
        id: jobs::Column::Id,
        descending: true,
    }
}

/// Which jobs a list shows: open ones, plus (when given) every job of `poster_id`'s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JobScope {
    /// Jobs in these statuses (any when empty) ...
    pub statuses: Vec<String>,
    /// ... posted by this user only.
    pub posted_by: Option<String>,
    /// Or, when set, OPEN jobs of anyone as well as every job of this user.
    pub open_or_own: Option<String>,
}

fn scoped(scope: &JobScope) -> Select<jobs::Entity> {
    let mut cond = Condition::all();
    if !scope.statuses.is_empty() {
        cond = cond.add(jobs::Column::Status.is_in(scope.statuses.iter().cloned()));
    }
    if let Some(p) = &scope.posted_by {
        cond = cond.add(jobs::Column::PostedById.eq(p.clone()));
    }
    if let Some(me) = &scope.open_or_own {
        cond = cond.add(
            Condition::any()
                .add(jobs::Column::Status.eq("OPEN"))
                .add(jobs::Column::PostedById.eq(me.clone())),
        );
    }
    jobs::Entity::find().filter(cond)
}

pub async fn page_jobs(
    db: &impl ConnectionTrait,
    scope: &JobScope,
    args: &PageArgs,
) -> Result<Page<Job>, StoreError> {
    let rows = job_keyset().apply(scoped(scope), args)?.all(db).await?;
    Ok(Keyset::<jobs::Column>::page(args, rows))
}

pub async fn count_jobs(db: &impl ConnectionTrait, scope: &JobScope) -> Result<u64, StoreError> {
    Ok(scoped(scope).count(db).await?)
}

/// OPEN jobs that ask for at least one of `skill_ids`, newest first (the candidates a skill
/// match ranks), in one statement.
pub async fn open_jobs_wanting(
    db: &impl ConnectionTrait,
    skill_ids: &[String],
) -> Result<Vec<Job>, StoreError> {
    if skill_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(jobs::Entity::find()
        .filter(jobs::Column::Status.eq("OPEN"))
        .filter(
            jobs::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(job_skills::Column::JobId)
                    .from(job_skills::Entity)
                    .and_where(job_skills::Column::SkillId.is_in(skill_ids.iter().cloned()))
                    .to_owned(),
            ),
        )
        .order_by_desc(jobs::Column::CreatedAt)
        .order_by_desc(jobs::Column::Id)
        .all(db)
        .await?)
}

/// Replaces the skills job `job_id` asks for: (skill id, minimum level, required).
pub async fn set_job_skills(
    db: &impl ConnectionTrait,
    job_id: &str,
    wanted: &[(String, Option<String>, bool)],
) -> Result<(), StoreError> {
    job_skills::Entity::delete_many()
        .filter(job_skills::Column::JobId.eq(job_id))
        .exec(db)
        .await?;
    if wanted.is_empty() {
        return Ok(());
    }
    let now = time::now();
    job_skills::Entity::insert_many(wanted.iter().map(|(skill, level, required)| {
        job_skills::ActiveModel {
            job_id: Set(job_id.to_owned()),
            skill_id: Set(skill.clone()),
            is_required: Set(*required),
            min_level: Set(level.clone()),
            created_at: Set(now),
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The skills `job_ids` ask for, in one statement.
pub async fn job_skills(
    db: &impl ConnectionTrait,
    job_ids: &[String],
) -> Result<Vec<JobSkill>, StoreError> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(job_skills::Entity::find()
        .filter(job_skills::Column::JobId.is_in(job_ids.iter().cloned()))
        .order_by_asc(job_skills::Column::JobId)
        .order_by_asc(job_skills::Column::SkillId)
        .all(db)
        .await?)
}

// --- applications -----------------------------------------------------------------------------

/// Creates `user_id`'s application to `job_id`; `None` when they already applied.
pub async fn apply(
    db: &impl ConnectionTrait,
    job_id: &str,
    user_id: &str,
    cover_letter: Option<String>,
    resume_url: Option<String>,
) -> Result<Option<Application>, StoreError> {
    let now = time::now();
    let id = ids::new_id();
    let res = job_applications::Entity::insert(job_applications::ActiveModel {
        id: Set(id.clone()),
        job_id: Set(job_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        cover_letter: Set(cover_letter),
        resume_url: Set(resume_url),
        status: Set("SUBMITTED".to_owned()),
        reviewed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            job_applications::Column::JobId,
            job_applications::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if res == 0 {
        return Ok(None);
    }
    find_application(db, &id).await
}

pub async fn find_application(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Application>, StoreError> {
    Ok(job_applications::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn applications_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Application>, StoreError> {
    crate::rows::by_ids::<job_applications::Entity>(db, ids).await
}

/// Moves application `id` from `from` to `to`; false when it is no longer in `from`.
pub async fn move_application(
    db: &impl ConnectionTrait,
    id: &str,
    from: &str,
    to: &str,
    reviewed: bool,
) -> Result<bool, StoreError> {
    let now = time::now();
    let mut update = job_applications::Entity::update_many()
        .col_expr(job_applications::Column::Status, Expr::value(to))
        .col_expr(job_applications::Column::UpdatedAt, Expr::value(now))
        .filter(job_applications::Column::Id.eq(id))
        .filter(job_applications::Column::Status.eq(from));
    if reviewed {
        update = update.col_expr(job_applications::Column::ReviewedAt, Expr::value(now));
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// Newest first.
pub fn application_keyset() -> Keyset<job_applications::Column> {
    Keyset {
        name: "job_applications.created_at.desc",
        at: job_applications::Column::CreatedAt,
        id: job_applications::Column::Id,
        descending: true,
    }
}

/// Whose applications a list shows: to one job, or by one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApplicationScope {
    Job(String),
    Applicant(String),
}

fn applications_of(scope: &ApplicationScope) -> Select<job_applications::Entity> {
    match scope {
        ApplicationScope::Job(j) => {
            job_applications::Entity::find().filter(job_applications::Column::JobId.eq(j.clone()))
        }
        ApplicationScope::Applicant(u) => {
            job_applications::Entity::find().filter(job_applications::Column::UserId.eq(u.clone()))
        }
    }
}

pub async fn page_applications(
    db: &impl ConnectionTrait,
    scope: &ApplicationScope,
    args: &PageArgs,
) -> Result<Page<Application>, StoreError> {
    let rows = application_keyset()
        .apply(applications_of(scope), args)?
        .all(db)
        .await?;
    Ok(Keyset::<job_applications::Column>::page(args, rows))
}

pub async fn count_applications(
    db: &impl ConnectionTrait,
    scope: &ApplicationScope,
) -> Result<u64, StoreError> {
    Ok(applications_of(scope).count(db).await?)
}
