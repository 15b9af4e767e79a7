//! Internal analytics: a fixture of usage, conversations, practice sessions and telemetry with
//! fixed ids and times gives known totals per bucket and dimension (in UTC and in a time zone),
//! the same answers on SQLite and PostgreSQL (one test runs the fixture on both and compares);
//! USER is FORBIDDEN, STAFF see research data only, ranges are capped; activity grouped by user,
//! plan, invitation, scenario, project and persona gives known rows per group; day queries in UTC
//! answer from the usage rollup, and from the activity rollup once rolled (the days it holds,
//! today from the raw rows), and rolls racing on two instances count once; usage shown on
//! messages, users and invitations is loaded a level per statement.

use chrono::{DateTime, Utc};
use colloquy_tests::{Backend, Kind, TestApp, TestUser, e2e, gid};
use core_domain::Role;
use core_domain::enums::{ConversationStatus, MessageRole, MessageStatus, StreamType};
use gateway::analytics::service::Roll;
use persistence::entity::{
    analyses, budgets, conversations, invitations, journals, messages, personas, projects, rooms,
    scenarios, subscriptions, telemetry_events, users,
};
use persistence::usage::{self, NewUsage};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a time")
        .with_timezone(&Utc)
}

async fn user(db: &impl ConnectionTrait, id: &str, created: &str) {
    users::ActiveModel {
        id: Set(id.to_owned()),
        email: Set(Some(format!("{id}@example.com"))),
        name: Set(Some(id.to_owned())),
        role: Set(Role::User.into()),
        is_active: Set(true),
        disclaimer_accepted: Set(false),
        created_at: Set(at(created)),
        updated_at: Set(at(created)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("user");
}

#[allow(clippy::too_many_arguments)]
async fn conversation(
    db: &impl ConnectionTrait,
    id: &str,
    user_id: &str,
    invitation: bool,
    started: &str,
    ended: Option<(&str, i32)>,
    status: ConversationStatus,
) {
    conversations::ActiveModel {
        id: Set(id.to_owned()),
        user_id: Set(Some(user_id.to_owned())),
        invitation_id: Set(invitation.then(|| "fx-inv".to_owned())),
        scenario_id: Set(invitation.then(|| "fx-scn".to_owned())),
        title: Set(id.to_owned()),
        title_is_custom: Set(true),
        status: Set(status.into()),
        started_at: Set(at(started)),
        ended_at: Set(ended.map(|(t, _)| at(t))),
        duration_seconds: Set(ended.map(|(_, d)| d)),
        total_messages: Set(0),
        created_at: Set(at(started)),
        updated_at: Set(at(started)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("conversation");
}

async fn message(
    db: &impl ConnectionTrait,
    id: &str,
    conversation: &str,
    role: MessageRole,
    user_id: Option<&str>,
    time: &str,
) {
    messages::ActiveModel {
        id: Set(id.to_owned()),
        conversation_id: Set(conversation.to_owned()),
        user_id: Set(user_id.map(str::to_owned)),
        role: Set(role.into()),
        content: Set(format!("text of {id}")),
        status: Set(MessageStatus::Complete.into()),
        created_at: Set(at(time)),
        updated_at: Set(at(time)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("message");
}

#[allow(clippy::too_many_arguments)]
async fn call(
    db: &impl ConnectionTrait,
    time: &str,
    user_id: &str,
    invitation: bool,
    conversation: &str,
    message: Option<&str>,
    (provider, model, stream_type): (&str, &str, StreamType),
    (input, output): (i32, i32),
    cost: Option<i64>,
    latency: Option<i32>,
) {
    usage::insert_at(
        db,
        NewUsage {
            user_id: Some(user_id.to_owned()),
            invitation_id: invitation.then(|| "fx-inv".to_owned()),
            conversation_id: Some(conversation.to_owned()),
            message_id: message.map(str::to_owned),
            provider: provider.to_owned(),
            model: model.to_owned(),
            stream_type,
            input_tokens: input,
            output_tokens: output,
            cost_micros: cost,
            latency_ms: latency,
        },
        at(time),
    )
    .await
    .expect("usage row");
}

async fn event(db: &impl ConnectionTrait, id: &str, name: &str, user_id: Option<&str>, time: &str) {
    telemetry_events::ActiveModel {
        id: Set(id.to_owned()),
        name: Set(name.to_owned()),
        properties: Set(json!({})),
        user_id: Set(user_id.map(str::to_owned)),
        conversation_id: Set(None),
        created_at: Set(at(time)),
    }
    .insert(db)
    .await
    .expect("event");
}

/// The fixture: two users (ada chats, bob practises under an invitation), four conversations
/// (three of them practice sessions, ended on 2 March), seven messages, five AI calls (one of
/// unknown price, one without latency) and seven telemetry events, on 1–2 March 2026.
pub async fn fixture(app: &TestApp) {
    let db = app.db().conn();
    user(db, "fx-ada", "2026-03-01T09:00:00Z").await;
    user(db, "fx-bob", "2026-03-02T09:00:00Z").await;
    scenarios::ActiveModel {
        id: Set("fx-scn".into()),
        name: Set("Fixture".into()),
        description: Set("A fixture scenario".into()),
        slug: Set("fx-scenario".into()),
        partner_persona: Set("partner".into()),
        partner_system_prompt: Set("be a partner".into()),
        coach_system_prompt: Set("be a coach".into()),
        partner_model: Set("claude-y".into()),
        coach_model: Set("claude-y".into()),
        is_active: Set(true),
        created_at: Set(at("2026-02-01T00:00:00Z")),
        updated_at: Set(at("2026-02-01T00:00:00Z")),
    }
    .insert(db)
    .await
    .expect("scenario");
    invitations::ActiveModel {
        id: Set("fx-inv".into()),
        token: Set("fx-invitation-token".into()),
        label: Set(Some("Fixture cohort".into())),
        scenario_id: Set(Some("fx-scn".into())),
        quota: Set(json!({ "tokens": 1000 })),
        usage: Set(json!({ "tokens": 900 })),
        expires_at: Set(at("2027-01-01T00:00:00Z")),
        claimed_at: Set(Some(at("2026-03-01T22:00:00Z"))),
        linked_user_id: Set(Some("fx-bob".into())),
        created_by_id: Set("fx-ada".into()),
        created_at: Set(at("2026-02-01T00:00:00Z")),
    }
    .insert(db)
    .await
    .expect("invitation");
    budgets::ActiveModel {
        id: Set("fx-budget".into()),
        scope: Set("invitation".into()),
        subject_id: Set("fx-inv".into()),
        period: Set("all".into()),
        limit_tokens: Set(1000),
        used: Set(900),
        reserved: Set(0),
        created_at: Set(at("2026-02-01T00:00:00Z")),
        updated_at: Set(at("2026-02-01T00:00:00Z")),
    }
    .insert(db)
    .await
    .expect("budget");

    use ConversationStatus::{Abandoned, Active, Completed};
    let t = |s: &'static str| s;
    conversation(
        db,
        "fx-c1",
        "fx-ada",
        false,
        t("2026-03-01T10:00:00Z"),
        None,
        Active,
    )
    .await;
    conversation(
        db,
        "fx-c2",
        "fx-bob",
        true,
        "2026-03-01T23:00:00Z",
        Some(("2026-03-02T01:00:00Z", 7200)),
        Completed,
    )
    .await;
    conversation(
        db,
        "fx-c3",
        "fx-bob",
        true,
        "2026-03-02T10:00:00Z",
        Some(("2026-03-02T10:30:00Z", 1800)),
        Abandoned,
    )
    .await;
    conversation(
        db,
        "fx-c4",
        "fx-bob",
        true,
        "2026-03-02T10:50:00Z",
        Some(("2026-03-02T11:00:00Z", 600)),
        Completed,
    )
    .await;

    // Ada's chat is in her project, and she is on PRO (bob has no subscription row: FREE).
    projects::ActiveModel {
        id: Set("fx-prj".into()),
        user_id: Set("fx-ada".into()),
        name: Set("Fixture project".into()),
        status: Set("ACTIVE".into()),
        created_at: Set(at("2026-02-01T00:00:00Z")),
        updated_at: Set(at("2026-02-01T00:00:00Z")),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("project");
    conversations::ActiveModel {
        id: Set("fx-c1".into()),
        project_id: Set(Some("fx-prj".into())),
        ..Default::default()
    }
    .update(db)
    .await
    .expect("fx-c1 in the project");
    subscriptions::ActiveModel {
        id: Set("fx-sub".into()),
        user_id: Set("fx-ada".into()),
        plan: Set("PRO".into()),
        status: Set("ACTIVE".into()),
        current_period_start: Set(at("2026-03-01T00:00:00Z")),
        current_period_end: Set(at("2026-04-01T00:00:00Z")),
        cancel_at_period_end: Set(false),
        created_at: Set(at("2026-02-01T00:00:00Z")),
        updated_at: Set(at("2026-02-01T00:00:00Z")),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("subscription");

    use MessageRole::{Assistant, Coach, Partner, User};
    message(
        db,
        "fx-m1",
        "fx-c1",
        User,
        Some("fx-ada"),
        "2026-03-01T10:00:00Z",
    )
    .await;
    message(
        db,
        "fx-m2",
        "fx-c1",
        Assistant,
        None,
        "2026-03-01T10:00:05Z",
    )
    .await;
    message(
        db,
        "fx-m3",
        "fx-c1",
        User,
        Some("fx-ada"),
        "2026-03-01T11:30:00Z",
    )
    .await;
    message(
        db,
        "fx-m4",
        "fx-c1",
        Assistant,
        None,
        "2026-03-01T11:30:05Z",
    )
    .await;
    message(
        db,
        "fx-m5",
        "fx-c2",
        User,
        Some("fx-bob"),
        "2026-03-01T23:30:00Z",
    )
    .await;
    message(db, "fx-m6", "fx-c2", Partner, None, "2026-03-01T23:30:05Z").await;
    message(db, "fx-m7", "fx-c2", Coach, None, "2026-03-02T00:30:00Z").await;

    let gpt = ("openai", "gpt-x", StreamType::Chat);
    call(
        db,
        "2026-03-01T10:00:05Z",
        "fx-ada",
        false,
        "fx-c1",
        Some("fx-m2"),
        gpt,
        (100, 50),
        Some(1000),
        Some(100),
    )
    .await;
    call(
        db,
        "2026-03-01T11:30:05Z",
        "fx-ada",
        false,
        "fx-c1",
        Some("fx-m4"),
        gpt,
        (200, 100),
        Some(2000),
        Some(300),
    )
    .await;
    call(
        db,
        "2026-03-01T23:30:05Z",
        "fx-bob",
        true,
        "fx-c2",
        Some("fx-m6"),
        ("anthropic", "claude-y", StreamType::Partner),
        (10, 20),
        None,
        Some(200),
    )
    .await;
    call(
        db,
        "2026-03-02T00:30:00Z",
        "fx-bob",
        true,
        "fx-c2",
        Some("fx-m7"),
        ("anthropic", "claude-y", StreamType::Coach),
        (30, 40),
        Some(500),
        Some(400),
    )
    .await;
    call(
        db,
        "2026-03-02T12:00:00Z",
        "fx-ada",
        false,
        "fx-c1",
        None,
        ("openai", "gpt-x", StreamType::Title),
        (5, 5),
        Some(10),
        None,
    )
    .await;

    event(
        db,
        "fx-t1",
        "conversation_started",
        Some("fx-ada"),
        "2026-03-01T10:00:00Z",
    )
    .await;
    event(
        db,
        "fx-t2",
        "message_sent",
        Some("fx-ada"),
        "2026-03-01T10:01:00Z",
    )
    .await;
    event(
        db,
        "fx-t3",
        "conversation_started",
        Some("fx-bob"),
        "2026-03-01T23:00:00Z",
    )
    .await;
    event(
        db,
        "fx-t4",
        "message_sent",
        Some("fx-bob"),
        "2026-03-01T23:30:00Z",
    )
    .await;
    event(
        db,
        "fx-t5",
        "session_completed",
        Some("fx-bob"),
        "2026-03-02T01:00:00Z",
    )
    .await;
    event(
        db,
        "fx-t6",
        "session_completed",
        Some("fx-ada"),
        "2026-03-01T09:00:00Z",
    )
    .await;
    event(
        db,
        "fx-t7",
        "conversation_started",
        None,
        "2026-03-02T05:00:00Z",
    )
    .await;
}

/// Activity beyond [`fixture`]'s conversations: ada's chat is with a persona, and she saved a
/// journal with it (1 March); analyses by ada in her project (COMPLETED, 1 March) and by bob
/// outside one (FAILED, 2 March).
pub async fn activity_extras(app: &TestApp) {
    let db = app.db().conn();
    personas::ActiveModel {
        id: Set("fx-per".into()),
        name: Set("Fixture persona".into()),
        tone: Set("warm".into()),
        voice: Set("calm".into()),
        description: Set("A fixture persona".into()),
        system_prompt: Set("be kind".into()),
        tags: Set(json!([])),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("persona");
    rooms::ActiveModel {
        id: Set("fx-room".into()),
        name: Set("Fixture room".into()),
        description: Set(String::new()),
        purpose: Set(String::new()),
        sample_prompt: Set(String::new()),
        tags: Set(json!([])),
        prompt_type: Set(core_domain::enums::PromptType::ShortForm.into()),
        features: Set(json!({})),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("room");
    conversations::ActiveModel {
        id: Set("fx-c1".into()),
        persona_id: Set(Some("fx-per".into())),
        ..Default::default()
    }
    .update(db)
    .await
    .expect("fx-c1 with the persona");
    journals::ActiveModel {
        id: Set("fx-j1".into()),
        user_id: Set("fx-ada".into()),
        persona_id: Set("fx-per".into()),
        room_id: Set("fx-room".into()),
        prompt: Set("a prompt".into()),
        response: Set("a response".into()),
        tags: Set(json!([])),
        created_at: Set(at("2026-03-01T12:00:00Z")),
        updated_at: Set(at("2026-03-01T12:00:00Z")),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("journal");
    for (id, user, project, status, time) in [
        (
            "fx-a1",
            "fx-ada",
            Some("fx-prj"),
            "COMPLETED",
            "2026-03-01T13:00:00Z",
        ),
        ("fx-a2", "fx-bob", None, "FAILED", "2026-03-02T14:00:00Z"),
    ] {
        analyses::ActiveModel {
            id: Set(id.into()),
            r#type: Set("contract".into()),
            input: Set("some text".into()),
            status: Set(status.into()),
            user_id: Set(user.into()),
            project_id: Set(project.map(Into::into)),
            created_at: Set(at(time)),
            updated_at: Set(at(time)),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("analysis");
    }
}

const USAGE: &str = "query($r: AnalyticsRangeInput!, $g: [UsageDimension!], $f: UsageFilterInput) {
  analytics { usage(range: $r, groupBy: $g, filter: $f) {
    bucket bucketLabel
    dimensions { provider model streamType appArea userId invitationId scenarioId projectId plan }
    values { calls inputTokens outputTokens totalTokens costMicros cost unknownCostCalls latencyP50Ms latencyP95Ms } } } }";

const USAGE_SUMS: &str = "query($r: AnalyticsRangeInput!, $g: [UsageDimension!]) {
  analytics { usage(range: $r, groupBy: $g) {
    bucketLabel dimensions { provider } values { calls inputTokens outputTokens costMicros unknownCostCalls } } } }";

const ACTIVITY: &str = "query($r: AnalyticsRangeInput!) { analytics { activity(range: $r) {
  bucket bucketLabel values { activeUsers newUsers conversationsStarted messagesByRole { role count }
  sessionsCompleted sessionsAbandoned medianSessionSeconds journalsSaved analysesByStatus { status count } } } } }";

const ACTIVITY_FILTERED: &str = "query($r: AnalyticsRangeInput!, $f: ActivityFilterInput) {
  analytics { activity(range: $r, filter: $f) {
  bucketLabel values { activeUsers newUsers conversationsStarted messagesByRole { role count }
  sessionsCompleted sessionsAbandoned medianSessionSeconds journalsSaved analysesByStatus { status count } } } } }";

const ACTIVITY_GROUPED: &str = "query($r: AnalyticsRangeInput!, $g: [ActivityDimension!], $f: ActivityFilterInput) {
  analytics { activity(range: $r, groupBy: $g, filter: $f) {
  bucketLabel dimensions { userId plan invitationId scenarioId projectId personaId }
  values { activeUsers newUsers conversationsStarted messagesByRole { role count }
  sessionsCompleted sessionsAbandoned medianSessionSeconds journalsSaved analysesByStatus { status count } } } } }";

const TELEMETRY: &str = "query($r: AnalyticsRangeInput!, $from: DateTime!, $to: DateTime!) { analytics {
  telemetry(range: $r) { bucketLabel name count }
  funnel(from: $from, to: $to, steps: [\"conversation_started\", \"message_sent\", \"session_completed\"]) { name users conversion } } }";

const TOP: &str = "query($from: DateTime!, $to: DateTime!) { analytics {
  heaviestUsers(from: $from, to: $to) { userId values { totalTokens costMicros } }
  costliestModels(from: $from, to: $to) { provider model values { calls cost unknownCostCalls } }
  longestConversations(from: $from, to: $to) { conversationId messages }
  quotas(nearLimit: 0.8) { invitationId label limitTokens usedTokens ratio nearLimit } } }";

fn day_range() -> Value {
    json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "bucket": "DAY", "timeZone": "UTC" })
}

/// An admin and a staff member, signed in.
async fn readers(app: &TestApp) -> (TestUser, TestUser) {
    let admin = app.register("admin@example.com").await;
    app.promote(&admin, Role::Admin).await;
    let staff = app.register("staff@example.com").await;
    app.promote(&staff, Role::Staff).await;
    (admin, staff)
}

fn rows(data: &Value, field: &str) -> Vec<Value> {
    data["analytics"][field].as_array().expect("rows").clone()
}

e2e!(
    usage_totals_per_bucket_and_dimension_are_known,
    |app: TestApp| async move {
        fixture(&app).await;
        let (admin, _) = readers(&app).await;
        let data = app
            .query(
                Some(&admin.token),
                USAGE,
                json!({ "r": day_range(), "g": ["PROVIDER"] }),
            )
            .await;
        let got: Vec<Value> = rows(&data, "usage")
            .iter()
            .map(|r| {
                json!([
                    r["bucketLabel"],
                    r["dimensions"]["provider"],
                    r["values"]["calls"],
                    r["values"]["inputTokens"],
                    r["values"]["outputTokens"],
                    r["values"]["costMicros"],
                    r["values"]["cost"],
                    r["values"]["unknownCostCalls"],
                    r["values"]["latencyP50Ms"],
                    r["values"]["latencyP95Ms"]
                ])
            })
            .collect();
        assert_eq!(
            got,
            vec![
                json!([
                    "2026-03-01",
                    "anthropic",
                    1,
                    10,
                    20,
                    0,
                    "0.000000",
                    1,
                    200.0,
                    200.0
                ]),
                json!([
                    "2026-03-01",
                    "openai",
                    2,
                    300,
                    150,
                    3000,
                    "0.003000",
                    0,
                    200.0,
                    290.0
                ]),
                json!([
                    "2026-03-02",
                    "anthropic",
                    1,
                    30,
                    40,
                    500,
                    "0.000500",
                    0,
                    400.0,
                    400.0
                ]),
                json!([
                    "2026-03-02",
                    "openai",
                    1,
                    5,
                    5,
                    10,
                    "0.000010",
                    0,
                    null,
                    null
                ]),
            ]
        );
        let first = &rows(&data, "usage")[0];
        assert_eq!(first["bucket"], "2026-03-01T00:00:00+00:00");
        // Only the dimensions asked for are set.
        assert_eq!(first["dimensions"]["model"], Value::Null);

        // By app area and user, filtered to scenarios.
        let data = app
            .query(
                Some(&admin.token),
                USAGE,
                json!({ "r": day_range(), "g": ["APP_AREA", "USER", "SCENARIO", "STREAM_TYPE"],
                        "f": { "appAreas": ["SCENARIO"] } }),
            )
            .await;
        let got: Vec<Value> = rows(&data, "usage")
            .iter()
            .map(|r| {
                json!([
                    r["bucketLabel"],
                    r["dimensions"]["appArea"],
                    r["dimensions"]["streamType"],
                    r["dimensions"]["userId"],
                    r["dimensions"]["scenarioId"],
                    r["values"]["calls"]
                ])
            })
            .collect();
        let bob = gid(Kind::User, "fx-bob");
        let scn = gid(Kind::Scenario, "fx-scn");
        assert_eq!(
            got,
            vec![
                json!(["2026-03-01", "SCENARIO", "PARTNER", bob, scn, 1]),
                json!(["2026-03-02", "SCENARIO", "COACH", bob, scn, 1]),
            ]
        );

        // Week and month buckets hold everything; hours split it.
        for (bucket, labels) in [
            ("WEEK", vec!["2026-02-23", "2026-03-02"]),
            ("MONTH", vec!["2026-03"]),
        ] {
            let data = app
                .query(
                    Some(&admin.token),
                    USAGE_SUMS,
                    json!({ "r": { "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "bucket": bucket } }),
                )
                .await;
            let got: Vec<String> = rows(&data, "usage")
                .iter()
                .map(|r| r["bucketLabel"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, labels, "{bucket}");
            let calls: i64 = rows(&data, "usage")
                .iter()
                .map(|r| r["values"]["calls"].as_i64().unwrap())
                .sum();
            assert_eq!(calls, 5, "{bucket}");
        }
        let data = app
            .query(
                Some(&admin.token),
                USAGE_SUMS,
                json!({ "r": { "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "bucket": "HOUR" } }),
            )
            .await;
        let got: Vec<String> = rows(&data, "usage")
            .iter()
            .map(|r| r["bucketLabel"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            got,
            vec!["2026-03-01T10:00", "2026-03-01T11:00", "2026-03-01T23:00"]
        );
    }
);

e2e!(
    usage_filters_and_plan_and_project_groups_are_known,
    |app: TestApp| async move {
        fixture(&app).await;
        let (admin, _) = readers(&app).await;
        let ada = gid(Kind::User, "fx-ada");
        let prj = gid(Kind::Project, "fx-prj");
        // (filter, groupBy, expected [plan, projectId, calls, totalTokens] over 1–2 March)
        let cases = [
            (
                json!({}),
                json!(["PLAN", "PROJECT"]),
                vec![json!(["FREE", null, 2, 100]), json!(["PRO", prj, 3, 460])],
            ),
            (
                json!({ "plans": ["PRO"] }),
                json!(["PLAN"]),
                vec![json!(["PRO", null, 3, 460])],
            ),
            (
                json!({ "plans": ["FREE"] }),
                json!(["PLAN"]),
                vec![json!(["FREE", null, 2, 100])],
            ),
            (json!({ "plans": ["ENTERPRISE"] }), json!([]), vec![]),
            (
                json!({ "projectIds": [prj] }),
                json!(["PROJECT"]),
                vec![json!([null, prj, 3, 460])],
            ),
            (
                json!({ "userIds": [ada] }),
                json!([]),
                vec![json!([null, null, 3, 460])],
            ),
            (
                json!({ "invitationIds": [gid(Kind::Invitation, "fx-inv")] }),
                json!([]),
                vec![json!([null, null, 2, 100])],
            ),
            (
                json!({ "scenarioIds": [gid(Kind::Scenario, "fx-scn")], "userIds": [ada] }),
                json!([]),
                vec![],
            ),
        ];
        // One bucket for the two days, so each case is one row per group.
        let r = json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "bucket": "MONTH" });
        for (f, g, want) in cases {
            let data = app
                .query(Some(&admin.token), USAGE, json!({ "r": r, "g": g, "f": f }))
                .await;
            let mut got: Vec<Value> = rows(&data, "usage")
                .iter()
                .map(|r| {
                    json!([
                        r["dimensions"]["plan"],
                        r["dimensions"]["projectId"],
                        r["values"]["calls"],
                        r["values"]["totalTokens"]
                    ])
                })
                .collect();
            got.sort_by_key(|v| v.to_string());
            assert_eq!(got, want, "filter {f}, groupBy {g}");
        }
        // An id of another kind is refused as every id argument refuses it (NOT_FOUND).
        let body = app
            .post(
                Some(&admin.token),
                USAGE,
                json!({ "r": r, "f": { "projectIds": [ada] } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
    }
);

e2e!(activity_filters_are_known, |app: TestApp| async move {
    fixture(&app).await;
    let (admin, _) = readers(&app).await;
    let summary = |data: &Value| -> Vec<Value> {
        rows(data, "activity")
            .iter()
            .map(|r| {
                let v = &r["values"];
                json!([
                    r["bucketLabel"],
                    v["activeUsers"],
                    v["newUsers"],
                    v["conversationsStarted"],
                    v["messagesByRole"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["count"].as_i64().unwrap())
                        .sum::<i64>(),
                    v["sessionsCompleted"],
                    v["sessionsAbandoned"],
                    v["medianSessionSeconds"],
                    v["journalsSaved"]
                ])
            })
            .collect()
    };
    let bob = gid(Kind::User, "fx-bob");
    // [day, active users, new users, conversations started, messages, sessions completed,
    //  abandoned, median seconds, journals]
    let cases = [
        (
            json!({ "userIds": [bob] }),
            vec![
                json!(["2026-03-01", 1, 0, 1, 2, 0, 0, null, 0]),
                json!(["2026-03-02", 0, 1, 2, 1, 2, 1, 1800.0, 0]),
            ],
        ),
        (
            json!({ "plans": ["PRO"] }),
            vec![json!(["2026-03-01", 1, 1, 1, 4, 0, 0, null, 0])],
        ),
        (
            json!({ "projectIds": [gid(Kind::Project, "fx-prj")] }),
            vec![json!(["2026-03-01", 1, null, 1, 4, 0, 0, null, null])],
        ),
        (
            json!({ "scenarioIds": [gid(Kind::Scenario, "fx-scn")] }),
            vec![
                json!(["2026-03-01", 1, null, 1, 2, 0, 0, null, null]),
                json!(["2026-03-02", 0, null, 2, 1, 2, 1, 1800.0, null]),
            ],
        ),
        (
            json!({ "invitationIds": [gid(Kind::Invitation, "fx-inv")], "userIds": [gid(Kind::User, "fx-ada")] }),
            vec![],
        ),
    ];
    for (f, want) in cases {
        let data = app
            .query(
                Some(&admin.token),
                ACTIVITY_FILTERED,
                json!({ "r": day_range(), "f": f }),
            )
            .await;
        assert_eq!(summary(&data), want, "filter {f}");
    }
});

/// A grouped activity row as `[day, dims.., activeUsers, newUsers, conversationsStarted,
/// messages (all roles), sessionsCompleted, sessionsAbandoned, medianSessionSeconds,
/// journalsSaved, "STATUS:n" analyses]`, the dims being the fields named in `dims`.
fn grouped_summary(data: &Value, dims: &[&str]) -> Vec<Value> {
    rows(data, "activity")
        .iter()
        .map(|r| {
            let v = &r["values"];
            let mut row = vec![r["bucketLabel"].clone()];
            row.extend(dims.iter().map(|d| r["dimensions"][*d].clone()));
            row.extend([
                v["activeUsers"].clone(),
                v["newUsers"].clone(),
                v["conversationsStarted"].clone(),
                json!(
                    v["messagesByRole"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["count"].as_i64().unwrap())
                        .sum::<i64>()
                ),
                v["sessionsCompleted"].clone(),
                v["sessionsAbandoned"].clone(),
                v["medianSessionSeconds"].clone(),
                v["journalsSaved"].clone(),
                json!(
                    v["analysesByStatus"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| format!("{}:{}", a["status"].as_str().unwrap(), a["count"]))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ]);
            Value::Array(row)
        })
        .collect()
}

e2e!(activity_groups_are_known, |app: TestApp| async move {
    fixture(&app).await;
    activity_extras(&app).await;
    let (admin, staff) = readers(&app).await;
    let (ada, bob) = (gid(Kind::User, "fx-ada"), gid(Kind::User, "fx-bob"));
    let inv = gid(Kind::Invitation, "fx-inv");
    let scn = gid(Kind::Scenario, "fx-scn");
    let prj = gid(Kind::Project, "fx-prj");
    let per = gid(Kind::Persona, "fx-per");
    // [day, dims.., active users, new users, conversations started, messages, sessions
    //  completed, abandoned, median seconds, journals, analyses]
    let cases: Vec<(Value, Vec<&str>, Vec<Value>)> = vec![
        (
            json!(["USER"]),
            vec!["userId"],
            vec![
                json!(["2026-03-01", ada, 1, 1, 1, 4, 0, 0, null, 1, "COMPLETED:1"]),
                json!(["2026-03-01", bob, 1, 0, 1, 2, 0, 0, null, 0, ""]),
                json!(["2026-03-02", bob, 0, 1, 2, 1, 2, 1, 1800.0, 0, "FAILED:1"]),
            ],
        ),
        (
            json!(["PLAN"]),
            vec!["plan"],
            vec![
                json!(["2026-03-01", "FREE", 1, 0, 1, 2, 0, 0, null, 0, ""]),
                json!([
                    "2026-03-01",
                    "PRO",
                    1,
                    1,
                    1,
                    4,
                    0,
                    0,
                    null,
                    1,
                    "COMPLETED:1"
                ]),
                json!([
                    "2026-03-02",
                    "FREE",
                    0,
                    1,
                    2,
                    1,
                    2,
                    1,
                    1800.0,
                    0,
                    "FAILED:1"
                ]),
            ],
        ),
        (
            json!(["INVITATION"]),
            vec!["invitationId"],
            vec![
                json!(["2026-03-01", null, 1, null, 1, 4, 0, 0, null, null, ""]),
                json!(["2026-03-01", inv, 1, null, 1, 2, 0, 0, null, null, ""]),
                json!(["2026-03-02", inv, 0, null, 2, 1, 2, 1, 1800.0, null, ""]),
            ],
        ),
        (
            json!(["PROJECT"]),
            vec!["projectId"],
            vec![
                json!(["2026-03-01", null, 1, null, 1, 2, 0, 0, null, null, ""]),
                json!([
                    "2026-03-01",
                    prj,
                    1,
                    null,
                    1,
                    4,
                    0,
                    0,
                    null,
                    null,
                    "COMPLETED:1"
                ]),
                json!([
                    "2026-03-02",
                    null,
                    0,
                    null,
                    2,
                    1,
                    2,
                    1,
                    1800.0,
                    null,
                    "FAILED:1"
                ]),
            ],
        ),
        (
            json!(["PERSONA"]),
            vec!["personaId"],
            vec![
                json!(["2026-03-01", null, 1, null, 1, 2, 0, 0, null, 0, ""]),
                json!(["2026-03-01", per, 1, null, 1, 4, 0, 0, null, 1, ""]),
                json!(["2026-03-02", null, 0, null, 2, 1, 2, 1, 1800.0, 0, ""]),
            ],
        ),
        (
            json!(["SCENARIO", "PLAN", "SCENARIO"]),
            vec!["scenarioId", "plan"],
            vec![
                json!([
                    "2026-03-01",
                    null,
                    "PRO",
                    1,
                    null,
                    1,
                    4,
                    0,
                    0,
                    null,
                    null,
                    ""
                ]),
                json!([
                    "2026-03-01",
                    scn,
                    "FREE",
                    1,
                    null,
                    1,
                    2,
                    0,
                    0,
                    null,
                    null,
                    ""
                ]),
                json!([
                    "2026-03-02",
                    scn,
                    "FREE",
                    0,
                    null,
                    2,
                    1,
                    2,
                    1,
                    1800.0,
                    null,
                    ""
                ]),
            ],
        ),
    ];
    for (g, dims, want) in cases {
        let data = app
            .query(
                Some(&admin.token),
                ACTIVITY_GROUPED,
                json!({ "r": day_range(), "g": g }),
            )
            .await;
        assert_eq!(grouped_summary(&data, &dims), want, "groupBy {g}");
        // Only the dimensions asked for are set.
        for r in rows(&data, "activity") {
            let set = r["dimensions"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| !v.is_null() && !dims.contains(&k.as_str()))
                .count();
            assert_eq!(set, 0, "{r}");
        }
    }
    // Groups and filters together; one bucket for both days.
    let month =
        json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "bucket": "MONTH" });
    let data = app
        .query(
            Some(&admin.token),
            ACTIVITY_GROUPED,
            json!({ "r": month, "g": ["USER"], "f": { "plans": ["FREE"] } }),
        )
        .await;
    assert_eq!(
        grouped_summary(&data, &["userId"]),
        vec![json!([
            "2026-03", bob, 1, 1, 3, 3, 2, 1, 1800.0, 0, "FAILED:1"
        ])]
    );
    // Staff: invitation sessions only, whatever the groups.
    let data = app
        .query(
            Some(&staff.token),
            ACTIVITY_GROUPED,
            json!({ "r": day_range(), "g": ["USER"] }),
        )
        .await;
    assert_eq!(
        grouped_summary(&data, &["userId"]),
        vec![
            json!(["2026-03-01", bob, 1, null, 1, 2, 0, 0, null, null, ""]),
            json!(["2026-03-02", bob, 0, null, 2, 1, 2, 1, 1800.0, null, ""]),
        ]
    );

    // The users are linked in one look-up, and the statements do not grow with the rows.
    let linked =
        "query($r: AnalyticsRangeInput!) { analytics { activity(range: $r, groupBy: [USER]) {
        dimensions { userId user { id email } } values { activeUsers medianSessionSeconds } } } }";
    let statements = |r: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let before = app.sql_statements();
            let data = app
                .query(Some(&admin.token), linked, json!({ "r": r }))
                .await;
            (app.sql_statements() - before, data)
        }
    };
    let one_day = json!({ "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z" });
    statements(one_day.clone()).await;
    let (few, data) = statements(one_day).await;
    assert_eq!(rows(&data, "activity").len(), 1);
    let (more, data) = statements(day_range()).await;
    let got = rows(&data, "activity");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["dimensions"]["user"]["id"], ada);
    assert_eq!(got[1]["dimensions"]["user"]["email"], "fx-bob@example.com");
    assert_eq!(few, more, "statements grow with the number of rows");
    // Signing the caller in, the two grouped statements and the users' look-up.
    assert!(more <= 6, "{more} statements");
});

e2e!(buckets_follow_the_time_zone, |app: TestApp| async move {
    fixture(&app).await;
    let (admin, _) = readers(&app).await;
    // New York is UTC-5 in early March: bob's calls at 23:30 and 00:30 UTC fall on 1 March.
    let data = app
        .query(
            Some(&admin.token),
            USAGE_SUMS,
            json!({ "r": { "from": "2026-03-01T05:00:00Z", "to": "2026-03-03T05:00:00Z",
                               "bucket": "DAY", "timeZone": "America/New_York" },
                        "g": ["PROVIDER"] }),
        )
        .await;
    let got: Vec<Value> = rows(&data, "usage")
        .iter()
        .map(|r| {
            json!([
                r["bucketLabel"],
                r["dimensions"]["provider"],
                r["values"]["calls"]
            ])
        })
        .collect();
    assert_eq!(
        got,
        vec![
            json!(["2026-03-01", "anthropic", 2]),
            json!(["2026-03-01", "openai", 2]),
            json!(["2026-03-02", "openai", 1]),
        ]
    );
    let data = app
            .query(
                Some(&admin.token),
                "query($r: AnalyticsRangeInput!) { analytics { usage(range: $r) { bucket bucketLabel } } }",
                json!({ "r": { "from": "2026-03-01T05:00:00Z", "to": "2026-03-03T05:00:00Z",
                               "bucket": "DAY", "timeZone": "America/New_York" } }),
            )
            .await;
    assert_eq!(
        rows(&data, "usage")[0]["bucket"],
        "2026-03-01T05:00:00+00:00"
    );
});

e2e!(
    activity_telemetry_funnels_and_top_lists_are_known,
    |app: TestApp| async move {
        fixture(&app).await;
        let (admin, staff) = readers(&app).await;
        let data = app
            .query(Some(&admin.token), ACTIVITY, json!({ "r": day_range() }))
            .await;
        let got = rows(&data, "activity");
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(
            got[0]["values"],
            json!({ "activeUsers": 2, "newUsers": 1, "conversationsStarted": 2,
                    "messagesByRole": [{ "role": "ASSISTANT", "count": 2 }, { "role": "PARTNER", "count": 1 }, { "role": "USER", "count": 3 }],
                    "sessionsCompleted": 0, "sessionsAbandoned": 0, "medianSessionSeconds": null,
                    "journalsSaved": 0, "analysesByStatus": [] })
        );
        assert_eq!(
            got[1]["values"],
            json!({ "activeUsers": 0, "newUsers": 1, "conversationsStarted": 2,
                    "messagesByRole": [{ "role": "COACH", "count": 1 }],
                    "sessionsCompleted": 2, "sessionsAbandoned": 1, "medianSessionSeconds": 1800.0,
                    "journalsSaved": 0, "analysesByStatus": [] })
        );
        // Staff: invitation sessions only, and nothing that is not research data.
        let data = app
            .query(Some(&staff.token), ACTIVITY, json!({ "r": day_range() }))
            .await;
        let got = rows(&data, "activity");
        assert_eq!(
            got[0]["values"],
            json!({ "activeUsers": 1, "newUsers": null, "conversationsStarted": 1,
                    "messagesByRole": [{ "role": "PARTNER", "count": 1 }, { "role": "USER", "count": 1 }],
                    "sessionsCompleted": 0, "sessionsAbandoned": 0, "medianSessionSeconds": null,
                    "journalsSaved": null, "analysesByStatus": [] })
        );

        let vars = json!({ "r": day_range(), "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z" });
        let data = app.query(Some(&staff.token), TELEMETRY, vars).await;
        let got: Vec<Value> = rows(&data, "telemetry")
            .iter()
            .map(|r| json!([r["bucketLabel"], r["name"], r["count"]]))
            .collect();
        assert_eq!(
            got,
            vec![
                json!(["2026-03-01", "conversation_started", 2]),
                json!(["2026-03-01", "message_sent", 2]),
                json!(["2026-03-01", "session_completed", 1]),
                json!(["2026-03-02", "conversation_started", 1]),
                json!(["2026-03-02", "session_completed", 1]),
            ]
        );
        assert_eq!(
            data["analytics"]["funnel"],
            json!([
                { "name": "conversation_started", "users": 2, "conversion": 1.0 },
                { "name": "message_sent", "users": 2, "conversion": 1.0 },
                { "name": "session_completed", "users": 1, "conversion": 0.5 },
            ])
        );

        let vars = json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z" });
        let data = app.query(Some(&admin.token), TOP, vars.clone()).await;
        let a = &data["analytics"];
        assert_eq!(
            a["heaviestUsers"],
            json!([
                { "userId": gid(Kind::User, "fx-ada"), "values": { "totalTokens": 460, "costMicros": 3010 } },
                { "userId": gid(Kind::User, "fx-bob"), "values": { "totalTokens": 100, "costMicros": 500 } },
            ])
        );
        assert_eq!(
            a["costliestModels"],
            json!([
                { "provider": "openai", "model": "gpt-x", "values": { "calls": 3, "cost": "0.003010", "unknownCostCalls": 0 } },
                { "provider": "anthropic", "model": "claude-y", "values": { "calls": 2, "cost": "0.000500", "unknownCostCalls": 1 } },
            ])
        );
        assert_eq!(
            a["longestConversations"],
            json!([
                { "conversationId": gid(Kind::Conversation, "fx-c1"), "messages": 4 },
                { "conversationId": gid(Kind::Conversation, "fx-c2"), "messages": 3 },
            ])
        );
        assert_eq!(
            a["quotas"],
            json!([{ "invitationId": gid(Kind::Invitation, "fx-inv"), "label": "Fixture cohort",
                     "limitTokens": 1000, "usedTokens": 900, "ratio": 0.9, "nearLimit": true }])
        );
        // Staff rank research usage only.
        let data = app.query(Some(&staff.token), TOP, vars).await;
        assert_eq!(
            data["analytics"]["heaviestUsers"],
            json!([{ "userId": gid(Kind::User, "fx-bob"), "values": { "totalTokens": 100, "costMicros": 500 } }])
        );
        assert_eq!(
            data["analytics"]["longestConversations"],
            json!([{ "conversationId": gid(Kind::Conversation, "fx-c2"), "messages": 3 }])
        );
    }
);

e2e!(
    users_are_forbidden_staff_see_research_usage_only,
    |app: TestApp| async move {
        fixture(&app).await;
        let (admin, staff) = readers(&app).await;
        let user = app.register("user@example.com").await;
        let q = "query($r: AnalyticsRangeInput!) { analytics { usage(range: $r) { values { calls } } } }";
        assert_eq!(
            app.error_code(Some(&user.token), q, json!({ "r": day_range() }))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.error_code(None, q, json!({ "r": day_range() })).await,
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.error_code(Some(&user.token), "{ serverStatus { version } }", json!({}))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.error_code(
                Some(&staff.token),
                "{ serverStatus { version } }",
                json!({})
            )
            .await,
            "FORBIDDEN"
        );
        let calls = |data: &Value| -> Vec<i64> {
            rows(data, "usage")
                .iter()
                .map(|r| r["values"]["calls"].as_i64().unwrap())
                .collect()
        };
        let all = app
            .query(Some(&admin.token), q, json!({ "r": day_range() }))
            .await;
        assert_eq!(calls(&all), vec![3, 2]);
        let research = app
            .query(Some(&staff.token), q, json!({ "r": day_range() }))
            .await;
        assert_eq!(calls(&research), vec![1, 1]);
    }
);

e2e!(ranges_and_inputs_are_checked, |app: TestApp| async move {
    let (admin, _) = readers(&app).await;
    let q =
        "query($r: AnalyticsRangeInput!) { analytics { usage(range: $r) { values { calls } } } }";
    let field = |body: &Value| {
        (
            body["errors"][0]["extensions"]["code"].clone(),
            body["errors"][0]["extensions"]["field"].clone(),
        )
    };
    // 401 days of hours is far too many buckets.
    let body = app
            .post(
                Some(&admin.token),
                q,
                json!({ "r": { "from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:00Z", "bucket": "HOUR" } }),
            )
            .await;
    assert_eq!(field(&body), (json!("BAD_USER_INPUT"), json!("range")));
    // The same range in days is fine.
    let body = app
            .post(
                Some(&admin.token),
                q,
                json!({ "r": { "from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:00Z", "bucket": "DAY" } }),
            )
            .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .post(
            Some(&admin.token),
            q,
            json!({ "r": { "from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(field(&body), (json!("BAD_USER_INPUT"), json!("range")));
    let body = app
            .post(
                Some(&admin.token),
                q,
                json!({ "r": { "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "timeZone": "Mars/Olympus" } }),
            )
            .await;
    assert_eq!(field(&body), (json!("BAD_USER_INPUT"), json!("timeZone")));
    let body = app
            .post(
                Some(&admin.token),
                "{ analytics { funnel(from: \"2026-03-01T00:00:00Z\", to: \"2026-03-02T00:00:00Z\", steps: []) { users } } }",
                json!({}),
            )
            .await;
    assert_eq!(field(&body), (json!("BAD_USER_INPUT"), json!("steps")));
});

e2e!(
    utc_day_queries_answer_from_the_rollup,
    |app: TestApp| async move {
        fixture(&app).await;
        let (admin, _) = readers(&app).await;
        let sums = json!({ "r": day_range(), "g": ["PROVIDER"] });
        let before = app
            .query(Some(&admin.token), USAGE_SUMS, sums.clone())
            .await;
        // With the raw rows gone, sums still come from the rollup; percentiles (raw only) do not.
        app.db()
            .conn()
            .execute_unprepared("DELETE FROM usage_logs")
            .await
            .unwrap();
        let after = app.query(Some(&admin.token), USAGE_SUMS, sums).await;
        assert_eq!(before, after);
        assert_eq!(rows(&after, "usage").len(), 4);
        let raw = app
            .query(
                Some(&admin.token),
                USAGE,
                json!({ "r": day_range(), "g": ["PROVIDER"] }),
            )
            .await;
        assert_eq!(rows(&raw, "usage").len(), 0);
    }
);

/// Runs one activity roll on `state`'s instance.
async fn roll(state: &gateway::http::AppState) -> Roll {
    state
        .services
        .analytics
        .roll_activity()
        .await
        .expect("an activity roll")
}

/// The raw rows of the fixture's activity, gone (accounts moved out of the range).
async fn delete_raw_activity(app: &TestApp) {
    let db = app.db().conn();
    for table in [
        "usage_logs",
        "journals",
        "analyses",
        "messages",
        "conversations",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    for id in ["fx-ada", "fx-bob"] {
        users::ActiveModel {
            id: Set(id.into()),
            created_at: Set(at("2020-01-01T00:00:00Z")),
            ..Default::default()
        }
        .update(db)
        .await
        .expect("account moved out of the range");
    }
}

e2e!(
    utc_day_activity_answers_from_the_rollup,
    |app: TestApp| async move {
        fixture(&app).await;
        activity_extras(&app).await;
        let (admin, staff) = readers(&app).await;
        let vars = json!({ "r": day_range() });
        let raw_admin = app.query(Some(&admin.token), ACTIVITY, vars.clone()).await;
        let raw_staff = app.query(Some(&staff.token), ACTIVITY, vars.clone()).await;
        assert_eq!(rows(&raw_admin, "activity").len(), 2);

        let today = core_domain::time::now().date_naive();
        let yesterday = today - chrono::Days::new(1);
        assert_eq!(
            roll(&app.state).await,
            Roll::Rolled {
                from: None,
                to: today
            }
        );
        // The rollup gives what the raw rows gave, for administrators and for staff.
        assert_eq!(
            app.query(Some(&admin.token), ACTIVITY, vars.clone()).await,
            raw_admin
        );
        assert_eq!(
            app.query(Some(&staff.token), ACTIVITY, vars.clone()).await,
            raw_staff
        );
        // A conversation of yesterday written late is picked up by the next roll, which
        // recomputes the last settling days only.
        conversation(
            app.db().conn(),
            "fx-late",
            "fx-ada",
            false,
            &format!("{yesterday}T12:00:00Z"),
            None,
            ConversationStatus::Active,
        )
        .await;
        assert_eq!(
            roll(&app.state).await,
            Roll::Rolled {
                from: Some(today - chrono::Days::new(3)),
                to: today
            }
        );

        // With the raw rows gone the numbers stay: they come from the rollup. A grouped query
        // (which the rollup cannot answer) reads the raw rows and finds nothing.
        delete_raw_activity(&app).await;
        let before = app.sql_statements();
        assert_eq!(
            app.query(Some(&admin.token), ACTIVITY, vars.clone()).await,
            raw_admin
        );
        let statements = app.sql_statements() - before;
        // Signing in, how far the rollup got and the counts (no raw day: no medians statement).
        assert!(statements <= 5, "{statements} statements");
        assert_eq!(
            app.query(Some(&staff.token), ACTIVITY, vars.clone()).await,
            raw_staff
        );
        let grouped = app
            .query(
                Some(&admin.token),
                ACTIVITY_GROUPED,
                json!({ "r": day_range(), "g": ["USER"] }),
            )
            .await;
        assert_eq!(rows(&grouped, "activity").len(), 0);

        // Days not rolled yet (today) come from the raw rows, in the same answer.
        conversation(
            app.db().conn(),
            "fx-today",
            "fx-ada",
            false,
            &core_domain::time::now().to_rfc3339(),
            None,
            ConversationStatus::Active,
        )
        .await;
        let r = json!({ "from": format!("{yesterday}T00:00:00Z"),
                        "to": format!("{}T00:00:00Z", today + chrono::Days::new(1)) });
        let data = app
            .query(Some(&admin.token), ACTIVITY, json!({ "r": r }))
            .await;
        let got: Vec<Value> = rows(&data, "activity")
            .iter()
            .map(|r| json!([r["bucketLabel"], r["values"]["conversationsStarted"]]))
            .collect();
        assert_eq!(
            got,
            vec![
                json!([yesterday.to_string(), 1]),
                json!([today.to_string(), 1])
            ]
        );
    }
);

e2e!(
    racing_activity_rolls_count_once,
    |app: TestApp| async move {
        fixture(&app).await;
        activity_extras(&app).await;
        let (admin, _) = readers(&app).await;
        let vars = json!({ "r": day_range() });
        let raw = app.query(Some(&admin.token), ACTIVITY, vars.clone()).await;
        // Two instances on one database roll at once, three times over.
        let peer = app.spawn_peer().await;
        let mut rolled = 0;
        for _ in 0..3 {
            let (a, b) = tokio::join!(roll(&app.state), roll(&peer.state));
            rolled += [a, b]
                .iter()
                .filter(|r| matches!(r, Roll::Rolled { .. }))
                .count();
        }
        assert!(rolled >= 3, "at least one roll of each pair ran");
        let messages = app
            .db()
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                app.db().backend(),
                "SELECT CAST(SUM(value) AS BIGINT) AS n FROM activity_daily \
                 WHERE scope = 'all' AND metric = 'messages'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(messages, 7, "each message rolled once");
        delete_raw_activity(&app).await;
        assert_eq!(app.query(Some(&admin.token), ACTIVITY, vars).await, raw);
    }
);

e2e!(
    usage_on_messages_users_and_invitations_is_batched,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Costs").await;
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(app.add_message(&ada, &conv, &format!("m{i}")).await);
        }
        let db = app.db().conn();
        let raw_conv = colloquy_tests::raw_id(&conv);
        for (i, id) in ids.iter().enumerate() {
            call(
                db,
                &format!("2026-03-01T10:0{i}:00Z"),
                &ada.db_id,
                false,
                &raw_conv,
                Some(&colloquy_tests::raw_id(id)),
                ("openai", "gpt-x", StreamType::Chat),
                (10, 20),
                if i == 0 { None } else { Some(100) },
                Some(50),
            )
            .await;
        }
        let q = "query($id: ID!, $n: Int) { me { usage { calls inputTokens outputTokens cost unknownCostCalls }
            march: usage(from: \"2026-03-01T10:03:00Z\", to: \"2026-03-02T00:00:00Z\") { calls } }
          conversation(id: $id) { messages(first: $n) { nodes { id usage { inputTokens outputTokens costMicros cost model provider latencyMs } } }
            usage { totals { calls costMicros } } } }";
        let statements = |n: i64| {
            let app = &app;
            let ada = &ada;
            let conv = conv.clone();
            async move {
                let before = app.sql_statements();
                let data = app
                    .query(Some(&ada.token), q, json!({ "id": conv, "n": n }))
                    .await;
                (app.sql_statements() - before, data)
            }
        };
        statements(2).await;
        let (two, _) = statements(2).await;
        let (six, data) = statements(6).await;
        assert_eq!(two, six, "statements grow with the number of messages");
        assert_eq!(
            data["me"]["usage"],
            json!({ "calls": 6, "inputTokens": 60, "outputTokens": 120, "cost": "0.000500", "unknownCostCalls": 1 })
        );
        assert_eq!(data["me"]["march"]["calls"], 3);
        let nodes = data["conversation"]["messages"]["nodes"]
            .as_array()
            .unwrap();
        assert_eq!(
            nodes[0]["usage"],
            json!({ "inputTokens": 10, "outputTokens": 20, "costMicros": null, "cost": null, "model": "gpt-x", "provider": "openai", "latencyMs": 50 })
        );
        assert_eq!(nodes[1]["usage"]["cost"], "0.000100");
        assert_eq!(
            data["conversation"]["usage"]["totals"],
            json!({ "calls": 6, "costMicros": 500 })
        );
        // Someone else's usage is not theirs to read.
        let bob = app.register("bob@example.com").await;
        let other = app
            .query(
                Some(&bob.token),
                "query($id: ID!) { user(id: $id) { usage { calls } } }",
                json!({ "id": ada.global_id }),
            )
            .await;
        assert!(
            other["user"].is_null() || other["user"]["usage"].is_null(),
            "{other}"
        );
    }
);

e2e!(
    server_status_shows_the_database_and_instances,
    |app: TestApp| async move {
        let (admin, _) = readers(&app).await;
        let data = app
            .query(
                Some(&admin.token),
                "{ serverStatus { version database migrationsApplied migrationsKnown migrationLevel instanceId
                   instances { instanceId seenAt } queues { streamingReplies jobsQueued } providers { name serverKey } } }",
                json!({}),
            )
            .await;
        let s = &data["serverStatus"];
        let expected = match app.backend {
            Backend::Postgres => "postgresql",
            _ => "sqlite",
        };
        assert_eq!(s["database"], expected);
        assert_eq!(s["migrationsApplied"], s["migrationsKnown"]);
        assert_eq!(s["migrationLevel"], "m20261202_000026_deferred_set_null");
        let me = s["instanceId"].clone();
        assert!(
            s["instances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["instanceId"] == me),
            "{s}"
        );
        assert!(
            s["providers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "local")
        );
        assert!(!data.to_string().contains("sk-"));
    }
);

/// The same fixture and queries on SQLite and PostgreSQL give the same answers.
#[tokio::test]
async fn the_same_fixture_gives_the_same_numbers_on_both_databases() {
    let Some(pg) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let lite = TestApp::spawn(Backend::Sqlite).await;
    let mut answers = Vec::new();
    for app in [&lite, &pg] {
        fixture(app).await;
        activity_extras(app).await;
        let (admin, _) = readers(app).await;
        let mut out = Vec::new();
        let dims = json!([
            "PROVIDER",
            "MODEL",
            "STREAM_TYPE",
            "APP_AREA",
            "USER",
            "INVITATION",
            "SCENARIO",
            "PROJECT",
            "PLAN"
        ]);
        let filters = [
            json!({ "userIds": [gid(Kind::User, "fx-bob")] }),
            json!({ "invitationIds": [gid(Kind::Invitation, "fx-inv")] }),
            json!({ "scenarioIds": [gid(Kind::Scenario, "fx-scn")] }),
            json!({ "projectIds": [gid(Kind::Project, "fx-prj")] }),
            json!({ "plans": ["PRO", "BASIC"] }),
        ];
        for (bucket, tz) in [
            ("HOUR", "UTC"),
            ("DAY", "UTC"),
            ("DAY", "Asia/Kolkata"),
            ("WEEK", "America/New_York"),
            ("MONTH", "Europe/Paris"),
        ] {
            let r = json!({ "from": "2026-02-27T00:00:00Z", "to": "2026-03-04T00:00:00Z", "bucket": bucket, "timeZone": tz });
            for g in [json!([]), dims.clone()] {
                out.push(
                    app.query(Some(&admin.token), USAGE, json!({ "r": r, "g": g }))
                        .await,
                );
            }
            for f in &filters {
                out.push(
                    app.query(
                        Some(&admin.token),
                        USAGE,
                        json!({ "r": r, "g": ["PLAN", "PROJECT"], "f": f }),
                    )
                    .await,
                );
                out.push(
                    app.query(
                        Some(&admin.token),
                        ACTIVITY_FILTERED,
                        json!({ "r": r, "f": f }),
                    )
                    .await,
                );
            }
            out.push(
                app.query(Some(&admin.token), ACTIVITY, json!({ "r": r }))
                    .await,
            );
            for g in [
                json!([
                    "USER",
                    "PLAN",
                    "INVITATION",
                    "SCENARIO",
                    "PROJECT",
                    "PERSONA"
                ]),
                json!(["PROJECT"]),
                json!(["PERSONA", "PLAN"]),
            ] {
                out.push(
                    app.query(
                        Some(&admin.token),
                        ACTIVITY_GROUPED,
                        json!({ "r": r, "g": g, "f": { "plans": ["PRO", "FREE"] } }),
                    )
                    .await,
                );
            }
            out.push(
                app.query(
                    Some(&admin.token),
                    TELEMETRY,
                    json!({ "r": r, "from": "2026-02-27T00:00:00Z", "to": "2026-03-04T00:00:00Z" }),
                )
                .await,
            );
        }
        out.push(
            app.query(
                Some(&admin.token),
                TOP,
                json!({ "from": "2026-02-27T00:00:00Z", "to": "2026-03-04T00:00:00Z" }),
            )
            .await,
        );
        // The activity rollup answers as the raw rows did.
        let r = json!({ "from": "2026-02-27T00:00:00Z", "to": "2026-03-04T00:00:00Z" });
        let raw = app
            .query(Some(&admin.token), ACTIVITY, json!({ "r": r }))
            .await;
        roll(&app.state).await;
        let rolled = app
            .query(Some(&admin.token), ACTIVITY, json!({ "r": r }))
            .await;
        assert_eq!(raw, rolled);
        out.push(rolled);
        answers.push(out);
    }
    assert!(!answers[0].is_empty());
    for (i, (a, b)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(a, b, "answer {i} differs between SQLite and PostgreSQL");
    }
}
