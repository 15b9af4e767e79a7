//! Demo workspace data (`seeds/workspace.json`): for a demo user, a project with a COMPLETED run
//! of two analysis types and of each of the five solutions, answered with the offline model's
//! labelled sample output, so a fresh `cargo run` shows the workspace filled in. Loaded once: a
//! user who already has a live project of that name is left alone.

use std::path::Path;

use ai_providers::structured::sample;
use anyhow::Context as _;
use persistence::sea_orm::TransactionTrait;
use persistence::workspace::{self, NewProject, NewRun, ProjectFilter, ProjectOrder};
use persistence::{Db, users};
use serde::Deserialize;
use serde_json::{Value, json};

use super::kinds::{self, RunKind};
use super::runner::{Ending, write_result};

const WORKSPACE: &str = include_str!("../../../../seeds/workspace.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceSeed {
    email: String,
    project: String,
    description: Option<String>,
    analyses: Vec<AnalysisSeed>,
    contract: ContractSeed,
    localization: LocalizationSeed,
    behavior: BehaviorSeed,
    compliance: ComplianceSeed,
    learning_path: LearningPathSeed,
}

#[derive(Deserialize)]
struct AnalysisSeed {
    #[serde(rename = "type")]
    kind: String,
    input: String,
}

#[derive(Deserialize)]
struct ContractSeed {
    title: String,
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocalizationSeed {
    product_name: String,
    target_market: String,
    product_desc: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BehaviorSeed {
    customer_segment: Option<String>,
    data_source: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComplianceSeed {
    business_type: String,
    jurisdiction: String,
    regulations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LearningPathSeed {
    title: Option<String>,
    user_profile: Value,
}

/// Loads the demo projects; returns how many were created.
pub async fn load(db: &Db, dir: Option<&Path>) -> anyhow::Result<usize> {
    let text = match dir.map(|d| d.join("workspace.json")) {
        Some(path) if path.exists() => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read seed file {}", path.display()))?,
        _ => WORKSPACE.to_owned(),
    };
    let seeds: Vec<WorkspaceSeed> =
        serde_json::from_str(&text).context("seed file workspace.json is malformed")?;
    let mut created = 0;
    for seed in seeds {
        let email = core_domain::validation::normalize_email(&seed.email)?;
        let Some(user) = users::find_by_email(db.conn(), &email).await? else {
            continue;
        };
        let filter = ProjectFilter {
            status: None,
            search: Some(seed.project.clone()),
        };
        let args = core_domain::pagination::PageArgs::new(Some(100), None, None, None)?;
        let existing = workspace::page_projects_own(
            db.conn(),
            &user.id,
            &filter,
            ProjectOrder::default(),
            &args,
        )
        .await?;
        if existing.items.iter().any(|p| p.name == seed.project) {
            continue;
        }
        load_one(db, &user.id, seed).await?;
        created += 1;
    }
    Ok(created)
}

async fn load_one(db: &Db, user: &str, seed: WorkspaceSeed) -> anyhow::Result<()> {
    let txn = db.conn().begin().await?;
    let project = workspace::create_project(
        &txn,
        NewProject {
            user_id: user.to_owned(),
            name: seed.project,
            description: seed.description,
            status: "ACTIVE".into(),
            metadata: None,
        },
    )
    .await?;
    let model = ai_providers::LOCAL_MODEL;
    let run = || NewRun {
        user_id: user.to_owned(),
        project_id: Some(project.id.clone()),
        metadata: Some(json!({ "model": model })),
    };
    let mut done: Vec<(RunKind, String, &str)> = Vec::new();
    for a in &seed.analyses {
        let Some((schema, _)) = kinds::analysis_type(&a.kind) else {
            anyhow::bail!("seed analysis type {} is unknown", a.kind);
        };
        let row =
            workspace::create_analysis(&txn, run(), &a.kind, a.input.clone(), Some(model.into()))
                .await?;
        done.push((RunKind::Analysis, row.id, schema));
    }
    let c = seed.contract;
    let row = workspace::create_contract(&txn, run(), c.title, &c.kind, None, c.text).await?;
    done.push((RunKind::Contract, row.id, kinds::CONTRACT_SCHEMA));
    let l = seed.localization;
    let row = workspace::create_localization(
        &txn,
        run(),
        l.product_name,
        l.target_market,
        l.product_desc,
        Vec::new(),
    )
    .await?;
    done.push((RunKind::Localization, row.id, kinds::LOCALIZATION_SCHEMA));
    let b = seed.behavior;
    let row = workspace::create_behavior(&txn, run(), b.customer_segment, b.data_source).await?;
    done.push((RunKind::Behavior, row.id, kinds::BEHAVIOR_SCHEMA));
    let m = seed.compliance;
    let row =
        workspace::create_compliance(&txn, run(), m.business_type, m.jurisdiction, m.regulations)
            .await?;
    done.push((RunKind::Compliance, row.id, kinds::COMPLIANCE_SCHEMA));
    let p = seed.learning_path;
    let row = workspace::create_learning_path(&txn, run(), p.title, p.user_profile).await?;
    done.push((RunKind::LearningPath, row.id, kinds::LEARNING_PATH_SCHEMA));
    for (kind, id, schema) in done {
        let answer = sample(&kinds::parse_schema(schema));
        let ending = Ending {
            status: "COMPLETED".into(),
            confidence: kinds::confidence(&answer),
            answer: Some(answer),
            error: None,
        };
        let metadata =
            json!({ "model": model, "provider": ai_providers::LOCAL_PROVIDER_ID, "seeded": true });
        write_result(&txn, kind, &id, &ending, metadata, 0, model)
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
    }
    txn.commit().await?;
    Ok(())
}
