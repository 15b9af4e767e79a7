//! The workspace end to end (OptiMind): projects, analyses of every type and the five business
//! solutions as durable jobs with structured output (fake provider scripting valid, invalid and
//! failing JSON answers), the statuses an answer leads to, the contract risk filter, the job
//! runner's leases (an expired lease taken over, two instances sharing one queue), budgets, owner
//! only access and nested reads. Each test runs on SQLite and PostgreSQL; waits follow
//! `aiRunUpdated` events (re-reading the run between them, so none can be missed).

use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::structured::{SAMPLE_LABEL, sample};
use ai_providers::testing::{FakeProvider, FakeReply, RecordedRequest};
use colloquy_tests::{Backend, Kind, TestApp, TestUser, e2e, e2e_backend, gid, raw_id};
use gateway::platform::config::Config;
use gateway::workspace::kinds;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

const CREATE_ANALYSIS: &str = "mutation($i: CreateAnalysisInput!) { createAnalysis(input: $i) { analysis { id status type } } }";
const RUN: &str = "query($id: ID!) { node(id: $id) { ... on Analysis { status confidence result error processingTime model } ... on ContractAnalysis { status confidence riskAssessment overallRisk clauses plainLanguage recommendations error } ... on LocalizationAnalysis { status confidence culturalAnalysis marketStrategy error } ... on CustomerBehaviorAnalysis { status confidence behaviorPrediction churnRisk conversionProbability error } ... on ComplianceReview { status confidence riskAssessment nextReviewDate error } ... on GeneratedLearningPath { status confidence generatedPath estimatedCompletion error } } }";
const UPDATED: &str = "subscription($id: ID!) { aiRunUpdated(id: $id) { __typename ... on Analysis { status } ... on ContractAnalysis { status } ... on LocalizationAnalysis { status } ... on CustomerBehaviorAnalysis { status } ... on ComplianceReview { status } ... on GeneratedLearningPath { status } } }";

fn use_fake(config: &mut Config, fake: &FakeProvider) {
    config.chat.providers.anthropic = Some(fake.http_config(Some("sk-ant-test")));
    config.chat.providers.retry = RetryConfig {
        max_attempts: 1,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
}

async fn spawn_with_fake(
    backend: Backend,
    fake: &FakeProvider,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        use_fake(c, fake);
        // These tests follow retries, expired leases and other instances' jobs: poll fast.
        c.jobs.poll_interval = std::time::Duration::from_millis(100);
        tweak(c);
    })
    .await
}

fn is_terminal(status: &str) -> bool {
    !matches!(status, "PENDING" | "PROCESSING" | "")
}

/// Waits until run `id` (a global id) leaves PENDING/PROCESSING; returns its fields.
async fn wait_done(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let mut ws = app.ws(Some(&user.token)).await;
    let sub = ws.subscribe(UPDATED, json!({ "id": id })).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let run = app.query(Some(&user.token), RUN, json!({ "id": id })).await["node"].clone();
        if is_terminal(run["status"].as_str().unwrap_or_default()) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} did not finish: {run}"
        );
        // An event, or a second's silence, is the cue to look again.
        let _ = ws.next_for(&sub, Duration::from_secs(1)).await;
    }
}

async fn create_analysis(app: &TestApp, user: &TestUser, kind: &str, input: &str) -> String {
    let data = app
        .query(
            Some(&user.token),
            CREATE_ANALYSIS,
            json!({ "i": { "type": kind, "input": input } }),
        )
        .await;
    assert_eq!(data["createAnalysis"]["analysis"]["status"], "PENDING");
    data["createAnalysis"]["analysis"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The schema a structured request carries (Anthropic: the one tool's input schema).
fn schema_of(r: &RecordedRequest) -> &Value {
    &r.body["tools"][0]["input_schema"]
}

/// Scripts `answer` for the next request asking for `schema`.
fn answer_for(fake: &FakeProvider, schema: &Value, answer: Value) {
    let schema = schema.clone();
    fake.push_when(
        move |r| *schema_of(r) == schema,
        FakeReply::json(answer).with_usage(100, 50),
    );
}

fn solution_schema(text: &str) -> Value {
    kinds::parse_schema(text)
}

const SOLUTIONS: [(&str, &str, &str); 5] = [
    (
        "mutation($i: AnalyzeContractInput!) { analyzeContract(input: $i) { contractAnalysis { id status } } }",
        "analyzeContract",
        "contractAnalysis",
    ),
    (
        "mutation($i: AnalyzeLocalizationInput!) { analyzeLocalization(input: $i) { localizationAnalysis { id status } } }",
        "analyzeLocalization",
        "localizationAnalysis",
    ),
    (
        "mutation($i: PredictCustomerBehaviorInput!) { predictCustomerBehavior(input: $i) { customerBehaviorAnalysis { id status } } }",
        "predictCustomerBehavior",
        "customerBehaviorAnalysis",
    ),
    (
        "mutation($i: MonitorComplianceInput!) { monitorCompliance(input: $i) { complianceReview { id status } } }",
        "monitorCompliance",
        "complianceReview",
    ),
    (
        "mutation($i: GenerateLearningPathInput!) { generateLearningPath(input: $i) { learningPath { id status } } }",
        "generateLearningPath",
        "learningPath",
    ),
];

fn solution_inputs() -> [Value; 5] {
    [
        json!({ "title": "Supplier NDA", "contractType": "NDA", "text": "The parties agree to keep secrets." }),
        json!({ "productName": "Tea kettle", "targetMarket": "Japan", "productDesc": "A kettle" }),
        json!({ "customerSegment": "Students", "dataSource": { "crm": "120 accounts", "email": "30% open rate" } }),
        json!({ "businessType": "Fintech", "jurisdiction": "EU", "regulations": ["GDPR"] }),
        json!({ "title": "Become a data engineer", "userProfile": { "skills": ["SQL"], "goal": "data engineering" } }),
    ]
}

const SOLUTION_SCHEMAS: [&str; 5] = [
    kinds::CONTRACT_SCHEMA,
    kinds::LOCALIZATION_SCHEMA,
    kinds::BEHAVIOR_SCHEMA,
    kinds::COMPLIANCE_SCHEMA,
    kinds::LEARNING_PATH_SCHEMA,
];

async fn start_solution(app: &TestApp, user: &TestUser, n: usize, input: Value) -> String {
    let (query, field, object) = SOLUTIONS[n];
    let data = app
        .query(Some(&user.token), query, json!({ "i": input }))
        .await;
    assert_eq!(data[field][object]["status"], "PENDING", "{data}");
    data[field][object]["id"].as_str().unwrap().to_owned()
}

e2e_backend!(
    every_analysis_type_and_solution_completes_with_schema_valid_json,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let mut runs = Vec::new();
        for (kind, schema, _) in kinds::ANALYSIS_TYPES {
            let schema = kinds::parse_schema(schema);
            let answer = sample(&schema);
            answer_for(&fake, &schema, answer.clone());
            let id =
                create_analysis(&app, &ada, kind, &format!("Something to analyse: {kind}")).await;
            runs.push((id, answer));
        }
        for (n, input) in solution_inputs().into_iter().enumerate() {
            let schema = solution_schema(SOLUTION_SCHEMAS[n]);
            let answer = sample(&schema);
            answer_for(&fake, &schema, answer.clone());
            runs.push((start_solution(&app, &ada, n, input).await, answer));
        }
        for (n, (id, answer)) in runs.iter().enumerate() {
            let run = wait_done(&app, &ada, id).await;
            assert_eq!(run["status"], "COMPLETED", "{run}");
            assert_eq!(run["confidence"], json!(0.9), "{run}");
            assert_eq!(run["error"], Value::Null);
            if n < kinds::ANALYSIS_TYPES.len() {
                assert_eq!(&run["result"], answer, "{run}");
                assert!(run["processingTime"].as_i64().is_some(), "{run}");
            }
        }
        let contract = wait_done(&app, &ada, &runs[8].0).await;
        assert_eq!(contract["riskAssessment"], runs[8].1["riskAssessment"]);
        // Every call asked for structured output with the kind's schema, and was charged.
        assert_eq!(fake.request_count(), runs.len());
        for r in fake.requests() {
            assert_eq!(r.body["tool_choice"]["type"], "tool");
            assert!(schema_of(&r).is_object());
        }
        assert_eq!(analysis_usage_rows(&app, &ada).await, runs.len() as u64);
    }
);

/// The user's `usage_logs` rows of stream type `analysis`.
async fn analysis_usage_rows(app: &TestApp, user: &TestUser) -> u64 {
    use persistence::entity::usage_logs::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    Entity::find()
        .filter(Column::UserId.eq(user.db_id.as_str()))
        .filter(Column::StreamType.eq("analysis"))
        .count(app.db().conn())
        .await
        .unwrap()
}

e2e_backend!(
    an_invalid_answer_is_retried_once_with_the_errors_then_fails,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        // Invalid twice: FAILED with the reason.
        fake.push(FakeReply::json(json!({ "summary": 42 })));
        fake.push(FakeReply::json(json!({ "summary": "ok" })));
        let failed = create_analysis(&app, &ada, "TEXT_ANALYSIS", "Hello").await;
        let run = wait_done(&app, &ada, &failed).await;
        assert_eq!(run["status"], "FAILED", "{run}");
        let error = run["error"].as_str().unwrap();
        assert!(error.contains("did not match the schema"), "{error}");
        assert_eq!(fake.request_count(), 2);
        let retry = &fake.requests()[1];
        let turns = retry.body["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3, "{turns:?}");
        assert!(
            turns[2]["content"]
                .as_str()
                .unwrap()
                .contains("not valid against the schema"),
            "{turns:?}"
        );
        // Invalid once, then valid: COMPLETED, one usage row for both calls.
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        fake.push(FakeReply::text(["not json at all"]));
        fake.push(FakeReply::json(sample(&schema)));
        let fixed = create_analysis(&app, &ada, "TEXT_ANALYSIS", "Hello again").await;
        let run = wait_done(&app, &ada, &fixed).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert_eq!(fake.request_count(), 4);
        assert_eq!(analysis_usage_rows(&app, &ada).await, 2);
    }
);

e2e_backend!(
    provider_failures_are_retried_with_backoff_then_fail,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |c| c.jobs.max_attempts = 2).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        // Fails once, then answers: the job's second attempt completes.
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[1].1);
        fake.push(FakeReply::error(500));
        fake.push(FakeReply::json(sample(&schema)));
        let id = create_analysis(&app, &ada, "IMAGE_ANALYSIS", "a photo of a cat").await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        let job = &persistence::jobs::for_subject(app.db().conn(), &raw_id(&id))
            .await
            .unwrap()[0];
        assert_eq!((job.status.as_str(), job.attempts), ("DONE", 2));
        // Failing every attempt: FAILED with the provider's reason, nothing charged.
        fake.push_times(FakeReply::error(500), 2);
        let id = create_analysis(&app, &ada, "IMAGE_ANALYSIS", "a photo of a dog").await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "FAILED", "{run}");
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .contains("AI provider failed"),
            "{run}"
        );
        assert_eq!(fake.request_count(), 4);
        assert_eq!(analysis_usage_rows(&app, &ada).await, 1);
    }
);

e2e_backend!(
    answers_lead_to_review_insufficient_data_and_urgent_attention,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        // Low confidence: a person should look (analysis and contract).
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        let mut unsure = sample(&schema);
        unsure["confidence"] = json!(0.2);
        answer_for(&fake, &schema, unsure);
        let id = create_analysis(&app, &ada, "TEXT_ANALYSIS", "ambiguous").await;
        assert_eq!(
            wait_done(&app, &ada, &id).await["status"],
            "REVIEW_REQUIRED"
        );

        let schema = solution_schema(kinds::CONTRACT_SCHEMA);
        let mut unsure = sample(&schema);
        unsure["confidence"] = json!(0.3);
        answer_for(&fake, &schema, unsure);
        let id = start_solution(&app, &ada, 0, solution_inputs()[0].clone()).await;
        assert_eq!(
            wait_done(&app, &ada, &id).await["status"],
            "REVIEW_REQUIRED"
        );

        // Too little customer data: no call at all.
        let before = fake.request_count();
        let id = start_solution(
            &app,
            &ada,
            2,
            json!({ "dataSource": { "crm": "3 accounts" } }),
        )
        .await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "INSUFFICIENT_DATA", "{run}");
        assert!(
            run["error"].as_str().unwrap().contains("not enough"),
            "{run}"
        );
        assert_eq!(fake.request_count(), before);
        // Or the model says so.
        let schema = solution_schema(kinds::BEHAVIOR_SCHEMA);
        let mut thin = sample(&schema);
        thin["dataSufficient"] = json!(false);
        answer_for(&fake, &schema, thin);
        let id = start_solution(&app, &ada, 2, solution_inputs()[2].clone()).await;
        assert_eq!(
            wait_done(&app, &ada, &id).await["status"],
            "INSUFFICIENT_DATA"
        );

        // High compliance risk needs immediate attention, with a next review date.
        let schema = solution_schema(kinds::COMPLIANCE_SCHEMA);
        let mut risky = sample(&schema);
        risky["riskAssessment"]["overallRisk"] = json!(0.92);
        risky["nextReviewInDays"] = json!(7);
        answer_for(&fake, &schema, risky);
        let id = start_solution(&app, &ada, 3, solution_inputs()[3].clone()).await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "URGENT_ATTENTION", "{run}");
        let next: chrono::DateTime<chrono::Utc> =
            run["nextReviewDate"].as_str().unwrap().parse().unwrap();
        let days = (next - chrono::Utc::now()).num_days();
        assert!((6..=7).contains(&days), "{run}");
    }
);

e2e_backend!(
    min_overall_risk_returns_the_risky_contracts,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let bob = app.register("bob@example.com").await;
        let schema = solution_schema(kinds::CONTRACT_SCHEMA);
        let mut ids = Vec::new();
        for (user, risk) in [(&ada, 0.2), (&ada, 0.75), (&ada, 0.9), (&bob, 0.95)] {
            let mut answer = sample(&schema);
            answer["riskAssessment"]["overallRisk"] = json!(risk);
            fake.push(FakeReply::json(answer));
            let id = start_solution(&app, user, 0, solution_inputs()[0].clone()).await;
            wait_done(&app, user, &id).await;
            ids.push(id);
        }
        let list = |min: f64| {
            let app = &app;
            let ada = &ada;
            async move {
                app.query(
                Some(&ada.token),
                "query($m: Float) { contractAnalyses(filter: { minOverallRisk: $m }) { totalCount nodes { id overallRisk } } }",
                json!({ "m": min }),
            )
            .await["contractAnalyses"]
                .clone()
            }
        };
        let risky = list(0.7).await;
        assert_eq!(risky["totalCount"], 2, "{risky}");
        let found: Vec<&str> = risky["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, [ids[2].as_str(), ids[1].as_str()]);
        assert_eq!(list(0.95).await["totalCount"], 0);
        assert_eq!(list(0.0).await["totalCount"], 3);
        let body = app
            .post(
                Some(&ada.token),
                "{ contractAnalyses(filter: { minOverallRisk: 2 }) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
);

e2e_backend!(
    a_job_whose_lease_expired_completes_exactly_once,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        fake.set_default(FakeReply::json(sample(&schema)));
        // A run whose job a dead instance claimed: RUNNING, with a lease that ran out.
        let (analysis, job) = {
            use persistence::entity::ai_jobs;
            use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
            let txn = app.db().conn().begin().await.unwrap();
            let run = persistence::workspace::create_analysis(
                &txn,
                persistence::workspace::NewRun {
                    user_id: ada.db_id.clone(),
                    ..Default::default()
                },
                "TEXT_ANALYSIS",
                "left behind".into(),
                None,
            )
            .await
            .unwrap();
            let job = persistence::jobs::enqueue(&txn, "analysis", &run.id, Some(&ada.db_id), 3)
                .await
                .unwrap();
            let past = core_domain::time::now() - chrono::Duration::seconds(30);
            ai_jobs::ActiveModel {
                id: Set(job.id.clone()),
                status: Set("RUNNING".into()),
                attempts: Set(1),
                lease_owner: Set(Some("dead-instance".into())),
                lease_until: Set(Some(past)),
                ..Default::default()
            }
            .update(&txn)
            .await
            .unwrap();
            persistence::workspace::analyses::set_status(&txn, &run.id, "PROCESSING")
                .await
                .unwrap();
            txn.commit().await.unwrap();
            (run.id, job.id)
        };
        let id = gid(Kind::Analysis, &analysis);
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert_eq!(fake.request_count(), 1);
        let job_row = persistence::jobs::find(app.db().conn(), &job)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job_row.status.as_str(), job_row.attempts), ("DONE", 2));
        // The dead instance, coming back, can write nothing.
        let stale = persistence::jobs::Lease {
            job_id: job.clone(),
            owner: "dead-instance".into(),
            attempt: 1,
        };
        assert!(
            !persistence::jobs::finish(app.db().conn(), &stale, "FAILED", Some("late"))
                .await
                .unwrap()
        );
        assert_eq!(analysis_usage_rows(&app, &ada).await, 1);
    }
);

e2e_backend!(
    two_instances_never_run_one_job_twice,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |c| c.jobs.workers = 3).await else {
            return;
        };
        let peer = app.spawn_peer().await;
        let ada = app.register("ada@example.com").await;
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        fake.set_default(FakeReply::json(sample(&schema)).chunk_delay(Duration::from_millis(5)));
        let mut ids = Vec::new();
        for n in 0..16 {
            ids.push(create_analysis(&app, &ada, "TEXT_ANALYSIS", &format!("text {n}")).await);
        }
        // Both instances' pools look at the queue.
        peer.state.services.workspace.queue().wake();
        for id in &ids {
            assert_eq!(wait_done(&app, &ada, id).await["status"], "COMPLETED");
        }
        assert_eq!(fake.request_count(), ids.len());
        assert_eq!(analysis_usage_rows(&app, &ada).await, ids.len() as u64);
    }
);

e2e_backend!(
    a_budget_with_no_room_answers_quota_exceeded,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| c.chat.daily_token_limit = 1_000).await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let body = app
            .post(
                Some(&ada.token),
                CREATE_ANALYSIS,
                json!({ "i": { "type": "TEXT_ANALYSIS", "input": "hello" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED",
            "{body}"
        );
        let code = app
            .error_code(
                Some(&ada.token),
                SOLUTIONS[0].0,
                json!({ "i": solution_inputs()[0] }),
            )
            .await;
        assert_eq!(code, "QUOTA_EXCEEDED");
    }
);

e2e!(
    offline_runs_end_completed_with_labelled_samples,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let id = create_analysis(&app, &ada, "SEO_ANALYSIS", "<h1>Shop</h1>").await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert_eq!(run["model"], "local-echo");
        assert!(run["result"].to_string().contains(SAMPLE_LABEL), "{run}");
        let id = start_solution(&app, &ada, 4, solution_inputs()[4].clone()).await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert!(run["estimatedCompletion"].is_string(), "{run}");
    }
);

const PROJECT: &str =
    "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id name status } } }";
const UPDATE_PROJECT: &str = "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { project { id name status description } } }";

async fn create_project(app: &TestApp, user: &TestUser, name: &str) -> String {
    app.query(Some(&user.token), PROJECT, json!({ "i": { "name": name } }))
        .await["createProject"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

e2e_backend!(
    projects_follow_their_status_rules_and_deleting_keeps_their_runs,
    |backend| async move {
        // No workers: runs stay queued, which is what cancel and rerun need.
        let Some(app) = TestApp::spawn_with(backend, |c| c.jobs.workers = 0).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let launch = create_project(&app, &ada, "Product launch").await;
        let other = create_project(&app, &ada, "Hiring").await;
        let update = |id: &str, changes: Value| {
            let mut input = changes;
            input["id"] = json!(id);
            app.post(Some(&ada.token), UPDATE_PROJECT, json!({ "i": input }))
        };
        let body = update(
            &launch,
            json!({ "status": "ARCHIVED", "description": "Q3" }),
        )
        .await;
        assert_eq!(
            body["data"]["updateProject"]["project"]["status"], "ARCHIVED",
            "{body}"
        );
        let body = update(&launch, json!({ "status": "COMPLETED" })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "status", "{body}");
        let body = update(&launch, json!({ "status": "ACTIVE" })).await;
        assert_eq!(
            body["data"]["updateProject"]["project"]["status"], "ACTIVE",
            "{body}"
        );

        let list = app
            .query(
                Some(&ada.token),
                "{ projects(filter: { search: \"LAUNCH\" }) { totalCount nodes { id name } } all: projects(orderBy: CREATED_AT_ASC) { nodes { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(list["projects"]["totalCount"], 1);
        assert_eq!(list["all"]["nodes"][0]["id"], launch.as_str());

        // A run filed under the project; cancel it while queued, then run it again.
        let created = app
            .query(
                Some(&ada.token),
                CREATE_ANALYSIS,
                json!({ "i": { "type": "CODE_ANALYSIS", "input": "fn main() {}", "projectId": launch } }),
            )
            .await;
        let analysis = created["createAnalysis"]["analysis"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let cancel = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { cancelAiRun(input: { id: $id }) { run { ... on Analysis { id status } } } }",
                json!({ "id": analysis }),
            )
            .await;
        assert_eq!(cancel["cancelAiRun"]["run"]["status"], "CANCELLED");
        let jobs = persistence::jobs::for_subject(app.db().conn(), &raw_id(&analysis))
            .await
            .unwrap();
        assert_eq!(jobs[0].status, "CANCELLED");
        let code = app
            .error_code(
                Some(&ada.token),
                "mutation($id: ID!) { cancelAiRun(input: { id: $id }) { run { __typename } } }",
                json!({ "id": analysis }),
            )
            .await;
        assert_eq!(code, "CONFLICT");
        let rerun = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { rerunAiRun(input: { id: $id }) { run { ... on Analysis { status } } } }",
                json!({ "id": analysis }),
            )
            .await;
        assert_eq!(rerun["rerunAiRun"]["run"]["status"], "PENDING");
        // Nothing was charged for a run that never ran.
        assert_eq!(analysis_usage_rows(&app, &ada).await, 0);

        let nested = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { project(id: $id) { analyses { totalCount nodes { id project { id } } } } }",
                json!({ "id": launch }),
            )
            .await;
        assert_eq!(nested["project"]["analyses"]["totalCount"], 1);
        assert_eq!(
            nested["project"]["analyses"]["nodes"][0]["project"]["id"],
            launch.as_str()
        );

        let deleted = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { deleteProject(input: { id: $id }) { deletedProjectId } }",
                json!({ "id": launch }),
            )
            .await;
        assert_eq!(
            deleted["deleteProject"]["deletedProjectId"],
            launch.as_str()
        );
        let after = app
            .query(
                Some(&ada.token),
                "query($p: ID!, $a: ID!) { project(id: $p) { id } analysis(id: $a) { id projectId } projects { totalCount } }",
                json!({ "p": launch, "a": analysis }),
            )
            .await;
        assert_eq!(after["project"], Value::Null);
        assert_eq!(after["analysis"]["id"], analysis.as_str());
        assert_eq!(after["analysis"]["projectId"], Value::Null);
        assert_eq!(after["projects"]["totalCount"], 1);
        let _ = other;
        // Every mutation left an audit row.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let actions: Vec<String> = persistence::entity::events::Entity::find()
            .filter(persistence::entity::events::Column::UserId.eq(ada.db_id.as_str()))
            .all(app.db().conn())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.r#type)
            .collect();
        for action in [
            "project.created",
            "project.updated",
            "project.deleted",
            "analysis.created",
            "analysis.cancelled",
            "analysis.rerun",
        ] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} missing from {actions:?}"
            );
        }
    }
);

e2e_backend!(
    others_projects_and_runs_are_not_found,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| c.jobs.workers = 0).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let bob = app.register("bob@example.com").await;
        let project = create_project(&app, &ada, "Secret plans").await;
        let analysis = create_analysis(&app, &ada, "TEXT_ANALYSIS", "secret text").await;
        let seen = app
        .query(
            Some(&bob.token),
            "query($p: ID!, $a: ID!) { project(id: $p) { id } analysis(id: $a) { id } node(id: $a) { id } projects { totalCount } analyses { totalCount } }",
            json!({ "p": project, "a": analysis }),
        )
        .await;
        assert_eq!(seen["project"], Value::Null);
        assert_eq!(seen["analysis"], Value::Null);
        assert_eq!(seen["node"], Value::Null);
        assert_eq!(seen["projects"]["totalCount"], 0);
        assert_eq!(seen["analyses"]["totalCount"], 0);
        for (query, vars) in [
            (
                UPDATE_PROJECT,
                json!({ "i": { "id": project, "name": "mine" } }),
            ),
            (
                "mutation($i: DeleteProjectInput!) { deleteProject(input: $i) { deletedProjectId } }",
                json!({ "i": { "id": project } }),
            ),
            (
                CREATE_ANALYSIS,
                json!({ "i": { "type": "TEXT_ANALYSIS", "input": "x", "projectId": project } }),
            ),
            (
                "mutation($i: CancelAiRunInput!) { cancelAiRun(input: $i) { run { __typename } } }",
                json!({ "i": { "id": analysis } }),
            ),
            (
                "query($p: ID!) { analyses(filter: { projectId: $p }) { totalCount } }",
                json!({ "p": project }),
            ),
        ] {
            assert_eq!(
                app.error_code(Some(&bob.token), query, vars).await,
                "NOT_FOUND",
                "{query}"
            );
        }
        let mut ws = app.ws(Some(&bob.token)).await;
        let sub = ws
            .subscribe(
                "subscription($id: ID!) { analysisUpdated(id: $id) { id } }",
                json!({ "id": analysis }),
            )
            .await;
        let answer = ws.next_for(&sub, Duration::from_secs(10)).await.unwrap();
        // An `error` message, or a `next` whose payload holds the error.
        let errors = if answer["type"] == "error" {
            answer["payload"].clone()
        } else {
            answer["errors"].clone()
        };
        assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{answer}");
        assert!(!answer.to_string().contains("secret"), "{answer}");
    }
);

/// Runs `query` as `token` twice and returns the cheaper statement count.
async fn statements(app: &TestApp, token: &str, query: &str) -> u64 {
    let mut cost = u64::MAX;
    for _ in 0..2 {
        let before = app.sql_statements();
        app.query(Some(token), query, json!({})).await;
        cost = cost.min(app.sql_statements() - before);
    }
    cost
}

e2e_backend!(
    nested_project_reads_cost_the_same_whatever_the_rows,
    |backend| async move {
        // No workers, so the only statements are the query's; more runs than a FREE plan's
        // month holds, so the plan allows any number.
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.jobs.workers = 0;
            std::sync::Arc::make_mut(&mut c.billing.plans)
                .get_mut(gateway::billing::plans::Plan::Free)
                .analyses_per_month = None;
        })
        .await
        else {
            return;
        };
        let small = app.register("small@example.com").await;
        let large = app.register("large@example.com").await;
        for (user, projects, runs) in [(&small, 1, 1), (&large, 6, 3)] {
            for p in 0..projects {
                let project = create_project(&app, user, &format!("p{p}")).await;
                for r in 0..runs {
                    app.query(
                    Some(&user.token),
                    CREATE_ANALYSIS,
                    json!({ "i": { "type": "TEXT_ANALYSIS", "input": format!("r{r}"), "projectId": project } }),
                )
                .await;
                    app.query(
                    Some(&user.token),
                    SOLUTIONS[3].0,
                    json!({ "i": { "businessType": "x", "jurisdiction": "y", "projectId": project } }),
                )
                .await;
                }
            }
        }
        const NESTED: &str = "{ projects(first: 50) { totalCount nodes { id name analyses(first: 10) { totalCount nodes { id status project { id } } } complianceReviews { totalCount nodes { id } } } } }";
        let few = statements(&app, &small.token, NESTED).await;
        let many = statements(&app, &large.token, NESTED).await;
        assert_eq!(
            few, many,
            "statements must not grow with rows: {few} for 1 project, {many} for 6"
        );
    }
);

e2e!(
    the_demo_workspace_is_seeded_once_with_completed_runs,
    |app: TestApp| async move {
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let login = app
        .query(
            None,
            "mutation { login(input: { email: \"admin@vibebot.local\", password: \"password123\" }) { token } }",
            json!({}),
        )
        .await;
        let token = login["login"]["token"].as_str().unwrap();
        let data = app
        .query(
            Some(token),
            "{ projects { totalCount nodes { name analyses { nodes { status result } } contractAnalyses { nodes { status overallRisk } } localizationAnalyses { nodes { status } } customerBehaviorAnalyses { nodes { status } } complianceReviews { nodes { status nextReviewDate } } generatedLearningPaths { nodes { status } } } } }",
            json!({}),
        )
        .await;
        assert_eq!(data["projects"]["totalCount"], 1, "{data}");
        let project = &data["projects"]["nodes"][0];
        assert_eq!(
            project["analyses"]["nodes"].as_array().unwrap().len(),
            2,
            "{data}"
        );
        for list in [
            "analyses",
            "contractAnalyses",
            "localizationAnalyses",
            "customerBehaviorAnalyses",
            "complianceReviews",
            "generatedLearningPaths",
        ] {
            for run in project[list]["nodes"].as_array().unwrap() {
                assert_eq!(run["status"], "COMPLETED", "{list}: {run}");
            }
        }
        assert!(
            project["analyses"]["nodes"][0]["result"]
                .to_string()
                .contains(SAMPLE_LABEL)
        );
        assert!(project["complianceReviews"]["nodes"][0]["nextReviewDate"].is_string());
    }
);

e2e_backend!(
    a_run_cancelled_while_running_keeps_its_status_and_is_charged_what_it_used,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        // A slow answer: the body arrives in pieces.
        fake.push(
            FakeReply::json(sample(&schema))
                .with_usage(70, 30)
                .chunked(40)
                .chunk_delay(Duration::from_millis(150)),
        );
        let id = create_analysis(&app, &ada, "TEXT_ANALYSIS", "slow").await;
        let mut ws = app.ws(Some(&ada.token)).await;
        let sub = ws.subscribe(UPDATED, json!({ "id": id })).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let run = app.query(Some(&ada.token), RUN, json!({ "id": id })).await["node"].clone();
            if run["status"] == "PROCESSING" && fake.request_count() == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never started: {run}"
            );
            let _ = ws.next_for(&sub, Duration::from_millis(200)).await;
        }
        let cancelled = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { cancelAiRun(input: { id: $id }) { run { ... on Analysis { status } } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(cancelled["cancelAiRun"]["run"]["status"], "CANCELLED");
        // The call finishes; its answer is dropped but its tokens are charged, once.
        let deadline = tokio::time::Instant::now() + WAIT;
        while analysis_usage_rows(&app, &ada).await == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the call was never charged"
            );
            let _ = ws.next_for(&sub, Duration::from_millis(100)).await;
        }
        let run = app.query(Some(&ada.token), RUN, json!({ "id": id })).await["node"].clone();
        assert_eq!(run["status"], "CANCELLED", "{run}");
        assert_eq!(run["result"], Value::Null, "{run}");
        assert_eq!(analysis_usage_rows(&app, &ada).await, 1);
        let budget = persistence::budgets::find(
            app.db().conn(),
            &persistence::budgets::BudgetKey::user_daily(&ada.db_id, 0),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!((budget.used, budget.reserved), (100, 0));
    }
);

const AUDIT: &str = "query($f: AuditEventFilter) { auditEvents(first: 50, filter: $f) { nodes { action actorId entityType entityId summary } } }";

e2e_backend!(
    a_run_ending_is_audited_with_its_status,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let root = app.register("root@example.com").await;
        app.promote(&root, core_domain::Role::Admin).await;
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        fake.push(FakeReply::json(sample(&schema)).with_usage(100, 50));
        let ok = create_analysis(&app, &ada, "TEXT_ANALYSIS", "fine").await;
        assert_eq!(wait_done(&app, &ada, &ok).await["status"], "COMPLETED");
        // A refusal no retry can mend.
        fake.push(FakeReply::error(400));
        let bad = create_analysis(&app, &ada, "TEXT_ANALYSIS", "refused").await;
        assert_eq!(wait_done(&app, &ada, &bad).await["status"], "FAILED");

        for (id, action, status) in [
            (&ok, "analysis.completed", "COMPLETED"),
            (&bad, "analysis.failed", "FAILED"),
        ] {
            let data = app
                .query(Some(&root.token), AUDIT, json!({ "f": { "entityId": id } }))
                .await;
            let nodes = data["auditEvents"]["nodes"].as_array().unwrap();
            let ends: Vec<&Value> = nodes.iter().filter(|n| n["action"] == action).collect();
            assert_eq!(ends.len(), 1, "one {action} event: {data:#}");
            let end = ends[0];
            assert_eq!(end["actorId"], ada.global_id.as_str(), "{end}");
            assert_eq!(end["entityType"], "Analysis");
            assert_eq!(end["summary"]["status"], status, "{end}");
            // Created, then ended: nothing else.
            assert_eq!(nodes.len(), 2, "{data:#}");
        }
    }
);

e2e_backend!(
    a_contract_uploaded_as_a_pdf_is_read_and_analysed,
    |backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let contract =
            crate::uploads::pdf("MASTER SERVICES AGREEMENT: Acme pays Ada within 30 days");
        let body = crate::uploads::upload(
            &app,
            &ada.token,
            "msa.pdf",
            "application/octet-stream",
            &contract,
            None,
        )
        .await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        assert_eq!(up["mimeType"], "application/pdf");

        let schema = solution_schema(kinds::CONTRACT_SCHEMA);
        answer_for(&fake, &schema, sample(&schema));
        let id = start_solution(
            &app,
            &ada,
            0,
            json!({ "title": "MSA", "contractType": "NDA", "uploadId": up["id"] }),
        )
        .await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert!(run["riskAssessment"].is_object(), "{run}");
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        let prompt = requests[0].body["messages"].to_string();
        assert!(
            prompt.contains("MASTER SERVICES AGREEMENT: Acme pays Ada within 30 days"),
            "the model reads the PDF's text: {prompt}"
        );
    }
);

e2e_backend!(
    a_run_is_refused_exactly_when_its_job_would_be,
    |backend| async move {
        use gateway::billing::plans::Plan;
        use persistence::entity::budgets;
        use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
        const LIMIT: i64 = 1_000_000;
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, |c| {
            c.chat.daily_token_limit = 10 * LIMIT;
            let free = std::sync::Arc::make_mut(&mut c.billing.plans).get_mut(Plan::Free);
            free.monthly_ai_tokens = Some(LIMIT);
            free.analyses_per_month = None;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let schema = kinds::parse_schema(kinds::ANALYSIS_TYPES[0].1);
        fake.set_default(FakeReply::json(sample(&schema)).with_usage(100, 50));
        let input = "an input at the boundary";
        // What the job of such a run reserves.
        let reservation = {
            let txn = app.db().conn().begin().await.unwrap();
            let row = persistence::workspace::create_analysis(
                &txn,
                persistence::workspace::NewRun {
                    user_id: ada.db_id.clone(),
                    ..Default::default()
                },
                "TEXT_ANALYSIS",
                input.into(),
                None,
            )
            .await
            .unwrap();
            txn.rollback().await.unwrap();
            app.state
                .services
                .workspace
                .reservation_for(&gateway::workspace::service::RunRow::Analysis(row))
        };
        assert!(reservation > 2 * 2048, "{reservation}");
        let key = gateway::billing::service::plan_budget(
            app.db().conn(),
            &app.state.services.config.billing.plans,
            &ada.db_id,
        )
        .await
        .unwrap()
        .expect("a plan budget");
        // Leaves `room` tokens in the plan's budget.
        let leave = |room: i64| {
            let app = &app;
            let key = key.clone();
            async move {
                let conn = app.db().conn();
                match persistence::budgets::find(conn, &key).await.unwrap() {
                    Some(b) => {
                        let mut row: budgets::ActiveModel = b.into();
                        row.used = Set(LIMIT - room);
                        row.reserved = Set(0);
                        row.update(conn).await.unwrap();
                    }
                    None => {
                        let now = chrono::Utc::now();
                        budgets::ActiveModel {
                            id: Set(core_domain::ids::new_id()),
                            scope: Set(key.scope.to_owned()),
                            subject_id: Set(key.subject_id.clone()),
                            period: Set(key.period.clone()),
                            limit_tokens: Set(LIMIT),
                            used: Set(LIMIT - room),
                            reserved: Set(0),
                            created_at: Set(now),
                            updated_at: Set(now),
                        }
                        .insert(conn)
                        .await
                        .unwrap();
                    }
                }
            }
        };

        // Room for exactly the reservation: accepted, and the job reserves it and completes.
        leave(reservation).await;
        let id = create_analysis(&app, &ada, "TEXT_ANALYSIS", input).await;
        let run = wait_done(&app, &ada, &id).await;
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert_eq!(fake.request_count(), 1);

        // One token less: refused at once, naming the plan; no run is created.
        leave(reservation - 1).await;
        let body = app
            .post(
                Some(&ada.token),
                CREATE_ANALYSIS,
                json!({ "i": { "type": "TEXT_ANALYSIS", "input": input } }),
            )
            .await;
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "QUOTA_EXCEEDED", "{body:#}");
        assert_eq!(err["extensions"]["plan"], "FREE", "{body:#}");
        let count = app
            .query(Some(&ada.token), "{ analyses { totalCount } }", json!({}))
            .await;
        assert_eq!(count["analyses"]["totalCount"], 1, "{count}");
        assert_eq!(fake.request_count(), 1);
    }
);
