//! Azora's education and wallet seed (`seeds/azora_education.json`): two published courses with
//! their modules and a quiz each, the student's enrolments (with modules completed), wallets
//! funded THROUGH THE LEDGER (a DEPOSIT row per seeded amount, so every balance equals the sum of
//! its rows), and a mining reward for the quiz the student passed, linked to its ledger row.
//! Idempotent: courses by slug (their modules and quiz are written with them), enrolments and
//! completions by (enrolment, module), deposits by their ledger key, rewards by (user,
//! assessment). Users must exist (`seeds/azora_users.json`, loaded first).

use std::collections::HashMap;

use anyhow::Context as _;
use core_domain::education as rules;
use core_domain::finance::{Difficulty, TransactionType};
use core_domain::money::{self, Currency};
use persistence::Db;
use persistence::education::{self as store, NewAssessment, NewCourse, NewModule};
use persistence::ledger::{self, Entry};
use persistence::sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::finance::service::mint_reward;

const SEED: &str = include_str!("../../../../seeds/azora_education.json");

#[derive(Deserialize)]
struct Seed {
    courses: Vec<CourseSeed>,
    enrollments: Vec<EnrollmentSeed>,
    deposits: Vec<DepositSeed>,
    mining: Vec<MiningSeed>,
}

#[derive(Deserialize)]
struct CourseSeed {
    slug: String,
    title: String,
    description: String,
    level: String,
    category: Option<String>,
    tags: Vec<String>,
    instructor: String,
    modules: Vec<ModuleSeed>,
    assessment: AssessmentSeed,
}

#[derive(Deserialize)]
struct ModuleSeed {
    title: String,
    content: String,
    duration_minutes: Option<i32>,
}

#[derive(Deserialize)]
struct AssessmentSeed {
    r#type: String,
    title: String,
    difficulty: String,
    pass_mark: i32,
    questions: serde_json::Value,
}

#[derive(Deserialize)]
struct EnrollmentSeed {
    user: String,
    course: String,
    completed_modules: usize,
}

#[derive(Deserialize)]
struct DepositSeed {
    user: String,
    currency: String,
    amount: String,
    description: String,
}

#[derive(Deserialize)]
struct MiningSeed {
    user: String,
    course: String,
    score_percent: u32,
}

async fn user_id(db: &Db, email: &str) -> anyhow::Result<String> {
    Ok(persistence::users::find_by_email(db.conn(), email)
        .await?
        .with_context(|| format!("seed user {email} does not exist"))?
        .id)
}

/// Loads the education and wallet seed.
pub async fn load(db: &Db) -> anyhow::Result<()> {
    let seed: Seed = serde_json::from_str(SEED).context("azora_education.json")?;
    let conn = db.conn();
    let mut courses = HashMap::new();
    for c in &seed.courses {
        let course = match store::course_by_slug(conn, &c.slug).await? {
            Some(course) => course,
            None => {
                let author = user_id(db, &c.instructor).await?;
                // One transaction per course: a course is there whole, with its modules and
                // quiz, or not at all (and is then written whole by the next run).
                let txn = conn.begin().await?;
                let course = store::create_course(
                    &txn,
                    NewCourse {
                        slug: c.slug.clone(),
                        title: c.title.clone(),
                        description: c.description.clone(),
                        level: c.level.clone(),
                        category: c.category.clone(),
                        tags: c.tags.clone(),
                        instructor_id: author.clone(),
                    },
                )
                .await?;
                for (position, m) in c.modules.iter().enumerate() {
                    store::add_module(
                        &txn,
                        NewModule {
                            course_id: course.id.clone(),
                            title: m.title.clone(),
                            description: None,
                            content: Some(m.content.clone()),
                            position: i32::try_from(position)?,
                            required: true,
                            duration_minutes: m.duration_minutes,
                        },
                    )
                    .await?;
                }
                store::create_assessment(
                    &txn,
                    NewAssessment {
                        author_id: author,
                        course_id: course.id.clone(),
                        module_id: None,
                        kind: c.assessment.r#type.clone(),
                        title: c.assessment.title.clone(),
                        questions: c.assessment.questions.clone(),
                        max_score: i32::try_from(rules::max_score(&c.assessment.questions))?,
                        pass_mark: c.assessment.pass_mark,
                        difficulty: c.assessment.difficulty.clone(),
                    },
                )
                .await?;
                store::move_course(&txn, &course.id, "DRAFT", "PUBLISHED").await?;
                txn.commit().await?;
                course
            }
        };
        courses.insert(c.slug.clone(), course);
    }
    let course = |slug: &str| {
        courses
            .get(slug)
            .cloned()
            .with_context(|| format!("seed course {slug} is not in the seed"))
    };

    for e in &seed.enrollments {
        let user = user_id(db, &e.user).await?;
        let course = course(&e.course)?;
        let txn = conn.begin().await?;
        let (enrollment, _) = store::enroll(&txn, &user, &course.id).await?;
        let modules = store::modules_of(&txn, std::slice::from_ref(&course.id))
            .await?
            .remove(&course.id)
            .unwrap_or_default();
        for m in modules.iter().take(e.completed_modules) {
            store::complete_module(&txn, &enrollment.id, &m.id).await?;
        }
        let required = modules.iter().filter(|m| m.required).count();
        let done = modules
            .iter()
            .take(e.completed_modules)
            .filter(|m| m.required)
            .count();
        store::set_progress(
            &txn,
            &enrollment.id,
            rules::progress_percent(done, required),
        )
        .await?;
        txn.commit().await?;
    }

    for d in &seed.deposits {
        let user = user_id(db, &d.user).await?;
        let currency: Currency = d
            .currency
            .parse()
            .map_err(|e| anyhow::anyhow!("seed deposit currency: {e}"))?;
        let amount = money::parse_amount(currency, &d.amount)
            .map_err(|e| anyhow::anyhow!("seed deposit amount {}: {e}", d.amount))?;
        let key = format!("seed:deposit:{}", currency.as_str());
        let txn = conn.begin().await?;
        let wallet = ledger::ensure_wallet(&txn, &user, currency).await?;
        if ledger::count_with_key(&txn, &wallet.id, &key).await? == 0 {
            ledger::credit(
                &txn,
                &wallet.id,
                amount,
                Entry {
                    description: Some(d.description.clone()),
                    ..Entry::new(TransactionType::Deposit, key)
                },
            )
            .await?;
        }
        txn.commit().await?;
    }

    for m in &seed.mining {
        let user = user_id(db, &m.user).await?;
        let course = course(&m.course)?;
        let assessment = store::assessments_of(conn, std::slice::from_ref(&course.id))
            .await?
            .remove(&course.id)
            .unwrap_or_default()
            .into_iter()
            .next()
            .with_context(|| format!("seed course {} has no assessment", m.course))?;
        let difficulty: Difficulty = assessment
            .difficulty
            .parse()
            .map_err(|e| anyhow::anyhow!("seed assessment difficulty: {e}"))?;
        let txn = conn.begin().await?;
        // Mints once: a second run finds the (user, assessment) activity and writes nothing.
        mint_reward(
            &txn,
            &user,
            &course.id,
            &assessment.id,
            difficulty,
            m.score_percent,
        )
        .await
        .map_err(|e| anyhow::anyhow!("seed mining reward: {e:?}"))?;
        txn.commit().await?;
    }
    Ok(())
}
