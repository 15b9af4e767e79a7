//! Azora's marketplace seed (`seeds/azora_marketplace.json`): the five skills, two jobs with the
//! skills they ask for, the student's skills and application, and the student's notifications.
//! Idempotent: skills by name, jobs by title and company, applications by (job, user),
//! notifications by (user, title); users must exist (`seeds/azora_users.json`, loaded first).

use std::collections::HashMap;

use anyhow::Context as _;
use persistence::Db;
use persistence::entity::{job_applications, jobs, notifications};
use persistence::marketplace::{self as store, NewJob};
use persistence::notifications::NewNotification;
use persistence::sea_orm::sea_query::Expr;
use persistence::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

const SEED: &str = include_str!("../../../../seeds/azora_marketplace.json");

#[derive(Deserialize)]
struct Seed {
    skills: Vec<SkillSeed>,
    jobs: Vec<JobSeed>,
    user_skills: Vec<UserSkillSeed>,
    applications: Vec<ApplicationSeed>,
    notifications: Vec<NotificationSeed>,
}

#[derive(Deserialize)]
struct SkillSeed {
    name: String,
    category: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct JobSeed {
    title: String,
    company: String,
    description: String,
    location: Option<String>,
    remote: bool,
    employment_type: String,
    salary_min: Option<i64>,
    salary_max: Option<i64>,
    salary_currency: Option<String>,
    posted_by: Option<String>,
    skills: Vec<JobSkillSeed>,
}

#[derive(Deserialize)]
struct JobSkillSeed {
    skill: String,
    min_level: Option<String>,
}

#[derive(Deserialize)]
struct UserSkillSeed {
    user: String,
    skill: String,
    level: String,
}

#[derive(Deserialize)]
struct ApplicationSeed {
    user: String,
    job: String,
    cover_letter: Option<String>,
    status: String,
}

#[derive(Deserialize)]
struct NotificationSeed {
    user: String,
    r#type: String,
    title: String,
    body: String,
}

async fn user_id(db: &Db, email: &str) -> anyhow::Result<Option<String>> {
    Ok(persistence::users::find_by_email(db.conn(), email)
        .await?
        .map(|u| u.id))
}

/// Loads the marketplace seed.
pub async fn load(db: &Db) -> anyhow::Result<()> {
    let seed: Seed = serde_json::from_str(SEED).context("azora_marketplace.json")?;
    let conn = db.conn();
    let mut skills = HashMap::new();
    for s in &seed.skills {
        let row = store::ensure_skill(
            conn,
            &s.name,
            s.category.as_deref(),
            s.description.as_deref(),
        )
        .await?;
        skills.insert(s.name.clone(), row.id);
    }
    let skill = |name: &str| {
        skills
            .get(name)
            .cloned()
            .with_context(|| format!("seed skill {name} is not in the catalogue"))
    };
    let mut job_ids = HashMap::new();
    for j in &seed.jobs {
        let existing = jobs::Entity::find()
            .filter(jobs::Column::Title.eq(j.title.clone()))
            .filter(jobs::Column::Company.eq(j.company.clone()))
            .one(conn)
            .await?;
        let id = match existing {
            Some(job) => job.id,
            None => {
                let poster = match &j.posted_by {
                    Some(email) => user_id(db, email).await?,
                    None => None,
                };
                let job = store::create_job(
                    conn,
                    NewJob {
                        title: j.title.clone(),
                        description: j.description.clone(),
                        company: j.company.clone(),
                        location: j.location.clone(),
                        employment_type: j.employment_type.clone(),
                        is_remote: j.remote,
                        salary_min: j.salary_min,
                        salary_max: j.salary_max,
                        salary_currency: j.salary_currency.clone(),
                        status: "OPEN".to_owned(),
                        posted_by_id: poster,
                        expires_at: None,
                    },
                )
                .await?;
                let mut wanted = Vec::new();
                for s in &j.skills {
                    wanted.push((skill(&s.skill)?, s.min_level.clone(), true));
                }
                store::set_job_skills(conn, &job.id, &wanted).await?;
                job.id
            }
        };
        job_ids.insert(j.title.clone(), id);
    }
    for us in &seed.user_skills {
        let Some(user) = user_id(db, &us.user).await? else {
            continue;
        };
        let skill_id = skill(&us.skill)?;
        let held = store::user_skills(conn, std::slice::from_ref(&user))
            .await?
            .into_iter()
            .any(|s| s.skill_id == skill_id);
        if !held {
            store::set_user_skill(conn, &user, &skill_id, &us.level, None).await?;
        }
    }
    for a in &seed.applications {
        let (Some(user), Some(job)) = (user_id(db, &a.user).await?, job_ids.get(&a.job)) else {
            continue;
        };
        if let Some(app) = store::apply(conn, job, &user, a.cover_letter.clone(), None).await? {
            job_applications::Entity::update_many()
                .col_expr(
                    job_applications::Column::Status,
                    Expr::value(a.status.clone()),
                )
                .filter(job_applications::Column::Id.eq(app.id))
                .exec(conn)
                .await?;
        }
    }
    for n in &seed.notifications {
        let Some(user) = user_id(db, &n.user).await? else {
            continue;
        };
        let exists = notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.clone()))
            .filter(notifications::Column::Title.eq(n.title.clone()))
            .one(conn)
            .await?
            .is_some();
        if !exists {
            persistence::notifications::create(
                conn,
                NewNotification {
                    user_id: user,
                    kind: n.r#type.clone(),
                    title: n.title.clone(),
                    body: n.body.clone(),
                    data: None,
                },
            )
            .await?;
        }
    }
    Ok(())
}
