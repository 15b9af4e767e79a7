//! The practice coach end to end: scenarios managed by staff, quota presets by admins, an
//! invitation claimed by a guest, sessions whose messages stream two replies (partner and coach,
//! against the fake provider), the invitation's quota as a budget under concurrency, and the
//! session lifecycle. Each test runs on SQLite and PostgreSQL; time is made testable by moving
//! stored timestamps, never by sleeping.

use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::testing::{FakeProvider, FakeReply, RecordedRequest};
use colloquy_tests::{Backend, TestApp, TestUser, e2e, e2e_backend, raw_id};
use core_domain::Role;
use core_domain::enums::{MessageStatus, StreamType};
use gateway::platform::config::Config;
use persistence::entity::{budget_reservations, conversations, invitations, messages, usage_logs};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const PARTNER_PROMPT: &str = "You are Dana, the hiring manager. PARTNER-PROMPT";
const COACH_PROMPT: &str = "You are a negotiation coach. COACH-PROMPT";

const CREATE_SCENARIO: &str = "mutation($i: CreateScenarioInput!) { createScenario(input: $i) { scenario { id slug name isActive partnerModel coachModel } } }";
const CREATE_INVITATION: &str = "mutation($i: CreateInvitationInput!) { createInvitation(input: $i) { token invitation { id label quota { tokens label } used remaining claimed expiresAt scenario { slug } } } }";
const CLAIM: &str = "mutation($t: String!) { claimInvitation(input: { token: $t }) { auth { token user { id role } } invitation { id claimed linkedUserId } } }";
const START: &str = "mutation($i: StartScenarioSessionInput!) { startScenarioSession(input: $i) { session { id status title scenario { slug } durationSeconds totalMessages } } }";
const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id role } reply { id role status } coachReply { id role status } replies { id } } }";
const STREAM: &str =
    "subscription($id: ID!) { messageStream(messageId: $id) { seq delta status error done } }";
const SESSION: &str = "query($id: ID!) { conversation(id: $id) { status startedAt endedAt durationSeconds totalMessages messages(first: 100) { edges { node { id role content status error parentId } } } } }";

fn use_fake(config: &mut Config, fake: &FakeProvider) {
    config.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
    config.chat.providers.openai = Some(fake.http_config(Some("sk-server")));
    config.chat.providers.retry = RetryConfig {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
    config.chat.flush_interval = Duration::from_millis(50);
}

async fn user_with_role(app: &TestApp, email: &str, role: Role) -> TestUser {
    let user = app.register(email).await;
    app.promote(&user, role).await;
    user
}

/// A scenario created by `staff` with the fake provider's models; returns its slug.
async fn scenario(app: &TestApp, staff: &TestUser, slug: &str) -> String {
    let data = app
        .query(
            Some(&staff.token),
            CREATE_SCENARIO,
            json!({ "i": {
                "name": "Negotiating an offer",
                "slug": slug,
                "description": "Ask for more.",
                "partnerPersona": "Dana, the hiring manager",
                "partnerSystemPrompt": PARTNER_PROMPT,
                "coachSystemPrompt": COACH_PROMPT,
                "partnerModel": "claude-sonnet-4-20250514",
                "coachModel": "claude-haiku-4-5",
            } }),
        )
        .await;
    assert_eq!(data["createScenario"]["scenario"]["isActive"], true);
    slug.to_owned()
}

/// An invitation for `slug` with `tokens`; returns (invitation id, link token).
async fn invite(app: &TestApp, staff: &TestUser, slug: &str, tokens: i64) -> (String, String) {
    let expires = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let data = app
        .query(
            Some(&staff.token),
            CREATE_INVITATION,
            json!({ "i": { "scenario": slug, "quota": { "tokens": tokens }, "label": "Cohort A", "expiresAt": expires } }),
        )
        .await;
    let created = &data["createInvitation"];
    assert_eq!(created["invitation"]["quota"]["tokens"], tokens);
    assert_eq!(created["invitation"]["claimed"], false);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cq_inv_"));
    (
        created["invitation"]["id"].as_str().unwrap().to_owned(),
        token,
    )
}

/// Claims `token` anonymously: the new guest, signed in.
async fn claim_as_guest(app: &TestApp, token: &str) -> TestUser {
    let data = app.query(None, CLAIM, json!({ "t": token })).await;
    let auth = &data["claimInvitation"]["auth"];
    assert_eq!(auth["user"]["role"], "GUEST");
    assert_eq!(data["claimInvitation"]["invitation"]["claimed"], true);
    TestUser::new(
        auth["user"]["id"].as_str().unwrap(),
        "",
        auth["token"].as_str().unwrap(),
    )
}

async fn start(app: &TestApp, user: &TestUser, slug: &str, token: Option<&str>) -> String {
    let data = app
        .query(
            Some(&user.token),
            START,
            json!({ "i": { "scenario": slug, "invitationToken": token } }),
        )
        .await;
    let session = &data["startScenarioSession"]["session"];
    assert_eq!(session["status"], "ACTIVE");
    assert_eq!(session["scenario"]["slug"], slug);
    session["id"].as_str().unwrap().to_owned()
}

/// Sends `content`; returns (partner reply id, coach reply id).
async fn send(app: &TestApp, user: &TestUser, session: &str, content: &str) -> (String, String) {
    let data = app
        .query(
            Some(&user.token),
            SEND,
            json!({ "i": { "conversationId": session, "content": content } }),
        )
        .await;
    let p = &data["sendMessage"];
    assert_eq!(p["reply"]["role"], "PARTNER");
    assert_eq!(p["coachReply"]["role"], "COACH");
    assert_eq!(p["replies"].as_array().unwrap().len(), 2);
    (
        p["reply"]["id"].as_str().unwrap().to_owned(),
        p["coachReply"]["id"].as_str().unwrap().to_owned(),
    )
}

/// Follows a reply to its end: (text, final event).
async fn follow(app: &TestApp, user: &TestUser, reply: &str) -> (String, Value) {
    let mut ws = app.ws(Some(&user.token)).await;
    let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
    let mut text = String::new();
    loop {
        let event = ws
            .next_for(&id, WAIT)
            .await
            .expect("a stream event in time");
        let e = &event["data"]["messageStream"];
        assert!(e.is_object(), "unexpected message: {event:#}");
        text.push_str(e["delta"].as_str().unwrap());
        if e["done"] == true {
            return (text, e.clone());
        }
    }
}

/// Waits until no reply streams and no call holds a reservation.
async fn settled(app: &TestApp) {
    let db = app.db().conn();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let streaming = messages::Entity::find()
            .filter(messages::Column::Status.eq(MessageStatus::Streaming.as_str()))
            .count(db)
            .await
            .unwrap();
        let held = budget_reservations::Entity::find().count(db).await.unwrap();
        if streaming == 0 && held == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{streaming} replies still streaming, {held} reservations held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_partner(r: &RecordedRequest) -> bool {
    r.is_streaming()
        && r.system_prompt()
            .is_some_and(|s| s.contains("PARTNER-PROMPT"))
}

fn is_coach(r: &RecordedRequest) -> bool {
    r.is_streaming()
        && r.system_prompt()
            .is_some_and(|s| s.contains("COACH-PROMPT"))
}

fn body_text(r: &RecordedRequest) -> String {
    r.body["messages"].to_string()
}

async fn invitation_row(app: &TestApp, id: &str) -> invitations::Model {
    invitations::Entity::find_by_id(raw_id(id))
        .one(app.db().conn())
        .await
        .unwrap()
        .unwrap()
}

e2e!(
    staff_manage_scenarios_and_admins_presets,
    |app: TestApp| async move {
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let admin = user_with_role(&app, "admin@example.com", Role::Admin).await;
        let ada = app.register("ada@example.com").await;

        // Bad input is refused field by field; only staff create.
        let base = json!({
            "name": "Feedback", "slug": "giving-feedback", "partnerPersona": "Sam",
            "partnerSystemPrompt": "You are Sam.", "coachSystemPrompt": "Coach the learner.",
            "partnerModel": "local-echo", "coachModel": "local-echo",
        });
        let with = |k: &str, v: Value| {
            let mut i = base.clone();
            i[k] = v;
            json!({ "i": i })
        };
        for (field, value) in [
            ("slug", json!("Not A Slug")),
            ("name", json!("   ")),
            ("partnerSystemPrompt", json!("")),
            ("partnerModel", json!("gpt-9")),
        ] {
            let body = app
                .post(Some(&staff.token), CREATE_SCENARIO, with(field, value))
                .await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        let code = app
            .error_code(Some(&ada.token), CREATE_SCENARIO, json!({ "i": base }))
            .await;
        assert_eq!(code, "FORBIDDEN");
        let created = app
            .query(Some(&staff.token), CREATE_SCENARIO, json!({ "i": base }))
            .await;
        let id = created["createScenario"]["scenario"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let again = app
            .post(Some(&staff.token), CREATE_SCENARIO, json!({ "i": base }))
            .await;
        assert_eq!(again["errors"][0]["extensions"]["field"], "slug");

        let list = "{ scenarios { totalCount edges { node { slug isActive } } } }";
        let seen = app.query(Some(&ada.token), list, json!({})).await;
        assert_eq!(seen["scenarios"]["totalCount"], 1);
        let update = "mutation($i: UpdateScenarioInput!) { updateScenario(input: $i) { scenario { name coachSystemPrompt } } }";
        let updated = app
        .query(Some(&staff.token), update, json!({ "i": { "id": id, "name": "Hard feedback", "coachSystemPrompt": "Be brief." } }))
        .await;
        assert_eq!(
            updated["updateScenario"]["scenario"]["name"],
            "Hard feedback"
        );
        assert_eq!(
            app.error_code(
                Some(&ada.token),
                update,
                json!({ "i": { "id": id, "name": "x" } })
            )
            .await,
            "FORBIDDEN"
        );
        let deactivate = "mutation($id: ID!) { deactivateScenario(input: { id: $id }) { scenario { isActive } } }";
        let off = app
            .query(Some(&staff.token), deactivate, json!({ "id": id }))
            .await;
        assert_eq!(off["deactivateScenario"]["scenario"]["isActive"], false);
        // Participants no longer see it; staff still do.
        let seen = app.query(Some(&ada.token), list, json!({})).await;
        assert_eq!(seen["scenarios"]["totalCount"], 0);
        let one = "query { scenario(slug: \"giving-feedback\") { slug } }";
        assert!(app.query(Some(&ada.token), one, json!({})).await["scenario"].is_null());
        assert_eq!(
            app.query(Some(&staff.token), one, json!({})).await["scenario"]["slug"],
            "giving-feedback"
        );
        let staff_list = app.query(Some(&staff.token), list, json!({})).await;
        assert_eq!(staff_list["scenarios"]["totalCount"], 1);
        let start = app
            .post(
                Some(&ada.token),
                START,
                json!({ "i": { "scenario": "giving-feedback" } }),
            )
            .await;
        assert_eq!(
            start["errors"][0]["extensions"]["field"], "scenario",
            "{start}"
        );

        // Presets: admins manage them, one default at most.
        let create = "mutation($i: CreateQuotaPresetInput!) { createQuotaPreset(input: $i) { quotaPreset { id name quota { tokens label } isDefault } } }";
        let short = app
        .query(Some(&admin.token), create, json!({ "i": { "name": "short", "label": "Short", "tokens": 25000, "isDefault": true } }))
        .await;
        assert_eq!(
            short["createQuotaPreset"]["quotaPreset"]["quota"]["tokens"],
            25000
        );
        let long = app
        .query(Some(&admin.token), create, json!({ "i": { "name": "long", "label": "Long", "tokens": 250000, "isDefault": true } }))
        .await;
        let long_id = long["createQuotaPreset"]["quotaPreset"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            app.error_code(
                Some(&staff.token),
                create,
                json!({ "i": { "name": "x", "label": "X", "tokens": 1 } })
            )
            .await,
            "FORBIDDEN"
        );
        let bad = app
            .post(
                Some(&admin.token),
                create,
                json!({ "i": { "name": "zero", "label": "Zero", "tokens": 0 } }),
            )
            .await;
        assert_eq!(bad["errors"][0]["extensions"]["field"], "tokens");
        let presets = app
            .query(
                Some(&staff.token),
                "{ quotaPresets { edges { node { name isDefault } } } }",
                json!({}),
            )
            .await;
        let defaults: Vec<_> = presets["quotaPresets"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["isDefault"] == true)
            .map(|e| e["node"]["name"].clone())
            .collect();
        assert_eq!(defaults, [json!("long")]);
        let upd = "mutation($i: UpdateQuotaPresetInput!) { updateQuotaPreset(input: $i) { quotaPreset { quota { tokens } } } }";
        let changed = app
            .query(
                Some(&admin.token),
                upd,
                json!({ "i": { "id": long_id, "tokens": 200000 } }),
            )
            .await;
        assert_eq!(
            changed["updateQuotaPreset"]["quotaPreset"]["quota"]["tokens"],
            200000
        );
        // An invitation without a quota gets the default preset.
        let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let inv = app
            .query(
                Some(&staff.token),
                CREATE_INVITATION,
                json!({ "i": { "expiresAt": expires } }),
            )
            .await;
        assert_eq!(
            inv["createInvitation"]["invitation"]["quota"]["tokens"],
            200000
        );
        let del =
            "mutation($id: ID!) { deleteQuotaPreset(input: { id: $id }) { deletedQuotaPresetId } }";
        app.query(Some(&admin.token), del, json!({ "id": long_id }))
            .await;
        assert_eq!(
            app.error_code(Some(&admin.token), del, json!({ "id": long_id }))
                .await,
            "NOT_FOUND"
        );
    }
);

e2e_backend!(
    an_invited_guest_practises_with_a_partner_and_a_coach,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = TestApp::spawn_with(backend, |c| use_fake(c, &fake)).await else {
            return;
        };
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "offer").await;
        let (invitation, token) = invite(&app, &staff, &slug, 50_000).await;
        let guest = claim_as_guest(&app, &token).await;

        let mine = app
            .query(Some(&guest.token), "{ myInvitation { id label quota { tokens } used remaining expiresAt scenario { slug } } }", json!({}))
            .await;
        assert_eq!(mine["myInvitation"]["id"], invitation.as_str());
        assert_eq!(mine["myInvitation"]["used"], 0);
        assert_eq!(mine["myInvitation"]["remaining"], 50_000);
        assert_eq!(mine["myInvitation"]["scenario"]["slug"], "offer");

        let session = start(&app, &guest, &slug, Some(&token)).await;
        fake.push_when(is_partner, FakeReply::text(["That is ", "above our band."]));
        fake.push_when(
            is_coach,
            FakeReply::text(["Good anchor; ", "now give evidence."]),
        );
        let (partner, coach) = send(&app, &guest, &session, "I'd like 150,000.").await;
        let (partner_text, partner_end) = follow(&app, &guest, &partner).await;
        let (coach_text, coach_end) = follow(&app, &guest, &coach).await;
        assert_eq!(partner_text, "That is above our band.");
        assert_eq!(coach_text, "Good anchor; now give evidence.");
        assert_eq!(partner_end["status"], "COMPLETE");
        assert_eq!(coach_end["status"], "COMPLETE");
        settled(&app).await;

        // The invitation's usage grew by what both calls used.
        let used_after_one = invitation_row(&app, &invitation).await.usage["tokens"]
            .as_i64()
            .unwrap();
        assert!(used_after_one > 0);

        // Second turn: the partner sees the dialogue, never the coach's comments; the coach
        // sees the dialogue as a transcript ending with the learner's turn.
        fake.push_when(is_partner, FakeReply::text(["Maybe 135."]));
        fake.push_when(is_coach, FakeReply::text(["Nice evidence."]));
        let (partner2, coach2) = send(&app, &guest, &session, "Market data says 150.").await;
        follow(&app, &guest, &partner2).await;
        follow(&app, &guest, &coach2).await;
        settled(&app).await;
        let requests = fake.requests();
        let last_partner = requests.iter().rev().find(|r| is_partner(r)).unwrap();
        let text = body_text(last_partner);
        assert!(text.contains("That is above our band."), "{text}");
        assert!(text.contains("Market data says 150."), "{text}");
        assert!(
            !text.contains("Good anchor"),
            "the coach leaked into the partner: {text}"
        );
        assert_eq!(last_partner.body["model"], "claude-sonnet-4-20250514");
        let last_coach = requests.iter().rev().find(|r| is_coach(r)).unwrap();
        let text = body_text(last_coach);
        assert!(text.contains("Market data says 150."), "{text}");
        assert!(text.contains("That is above our band."), "{text}");
        assert!(!text.contains("Good anchor"), "{text}");
        assert!(
            last_coach.body["model"]
                .as_str()
                .unwrap()
                .starts_with("claude-haiku-4-5"),
            "the coach's model: {}",
            last_coach.body["model"]
        );

        // Stored with their roles; logged with their stream types under the invitation.
        let data = app
            .query(Some(&guest.token), SESSION, json!({ "id": session }))
            .await;
        let roles: Vec<_> = data["conversation"]["messages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["role"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            roles,
            ["USER", "PARTNER", "COACH", "USER", "PARTNER", "COACH"]
        );
        assert_eq!(data["conversation"]["totalMessages"], 6);
        let logs = usage_logs::Entity::find()
            .filter(usage_logs::Column::ConversationId.eq(raw_id(&session)))
            .all(app.db().conn())
            .await
            .unwrap();
        let kinds = |k: StreamType| logs.iter().filter(|l| *l.stream_type == k).count();
        assert_eq!(
            (kinds(StreamType::Partner), kinds(StreamType::Coach)),
            (2, 2)
        );
        assert!(
            logs.iter()
                .all(|l| l.invitation_id.as_deref() == Some(raw_id(&invitation).as_str()))
        );
        let billed: i64 = logs
            .iter()
            .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
            .sum();
        let row = invitation_row(&app, &invitation).await;
        assert_eq!(
            row.usage["tokens"].as_i64().unwrap(),
            billed,
            "usage is kept true"
        );
        assert!(billed > used_after_one);
        let mine = app
            .query(
                Some(&guest.token),
                "{ myInvitation { used remaining } }",
                json!({}),
            )
            .await;
        assert_eq!(mine["myInvitation"]["used"], billed);
        assert_eq!(mine["myInvitation"]["remaining"], 50_000 - billed);

        // Staff list the invitation with its claim, usage and sessions.
        let list = app
            .query(Some(&staff.token), "{ invitations(first: 10) { totalCount edges { node { id claimed used linkedUserId sessions { totalCount edges { node { id status } } } } } } }", json!({}))
            .await;
        let node = &list["invitations"]["edges"][0]["node"];
        assert_eq!(list["invitations"]["totalCount"], 1);
        assert_eq!(node["claimed"], true);
        assert_eq!(node["used"], billed);
        assert_eq!(node["linkedUserId"], guest.global_id.as_str());
        assert_eq!(node["sessions"]["totalCount"], 1);
        assert_eq!(node["sessions"]["edges"][0]["node"]["id"], session.as_str());
        // Participants cannot list invitations.
        assert_eq!(
            app.error_code(
                Some(&guest.token),
                "{ invitations { totalCount } }",
                json!({})
            )
            .await,
            "FORBIDDEN"
        );
    }
);

e2e_backend!(
    twenty_parallel_sends_against_an_invitation_quota_for_five,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        // Replies stay open so no settlement frees quota while the sends race.
        fake.set_default(FakeReply::text(["held ", "open"]).stall_after(1));
        let Some(app) = TestApp::spawn_with(backend, |c| {
            use_fake(c, &fake);
            c.chat.max_output_tokens = 100;
        })
        .await
        else {
            return;
        };
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "offer").await;
        // What one send reserves (partner + coach), measured on a probe invitation.
        let (probe, probe_token) = invite(&app, &staff, &slug, 1_000_000).await;
        let prober = claim_as_guest(&app, &probe_token).await;
        let probe_session = start(&app, &prober, &slug, Some(&probe_token)).await;
        send(&app, &prober, &probe_session, "hi").await;
        let per_send: i64 = budget_reservations::Entity::find()
            .all(app.db().conn())
            .await
            .unwrap()
            .iter()
            .map(|r| r.tokens)
            .sum();
        assert!(per_send > 200, "partner and coach each reserve: {per_send}");
        let _ = probe;

        let (invitation, token) = invite(&app, &staff, &slug, 5 * per_send + per_send / 2).await;
        let guest = claim_as_guest(&app, &token).await;
        let mut sessions = Vec::new();
        for _ in 0..20 {
            sessions.push(start(&app, &guest, &slug, Some(&token)).await);
        }
        let sends = sessions.iter().map(|s| {
            app.post(
                Some(&guest.token),
                SEND,
                json!({ "i": { "conversationId": s, "content": "hi" } }),
            )
        });
        let answers = futures::future::join_all(sends).await;
        let ok = answers.iter().filter(|b| b.get("errors").is_none()).count();
        let refused: Vec<_> = answers
            .iter()
            .filter(|b| b["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED")
            .collect();
        assert_eq!((ok, refused.len()), (5, 15), "{answers:#?}");
        assert!(
            refused
                .iter()
                .all(|b| b["errors"][0]["extensions"]["budget"] == "INVITATION"),
            "{refused:#?}"
        );
        // Refused sends stored nothing.
        let mut stored = 0;
        for s in &sessions {
            stored += messages::Entity::find()
                .filter(messages::Column::ConversationId.eq(raw_id(s)))
                .count(app.db().conn())
                .await
                .unwrap();
        }
        assert_eq!(stored, 15, "five exchanges of three messages");

        // Cancel the held replies: everything settles within the quota, usage kept true.
        let held: Vec<String> = budget_reservations::Entity::find()
            .all(app.db().conn())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.message_id)
            .collect();
        for id in held {
            let gid = colloquy_tests::gid(colloquy_tests::Kind::Message, &id);
            let owner = if messages::Entity::find_by_id(id.clone())
                .one(app.db().conn())
                .await
                .unwrap()
                .unwrap()
                .conversation_id
                == raw_id(&probe_session)
            {
                &prober
            } else {
                &guest
            };
            app.query(
                Some(&owner.token),
                "mutation($id: ID!) { cancelMessage(input: { messageId: $id }) { message { status } } }",
                json!({ "id": gid }),
            )
            .await;
        }
        settled(&app).await;
        let row = invitation_row(&app, &invitation).await;
        let logs = usage_logs::Entity::find()
            .filter(usage_logs::Column::InvitationId.eq(raw_id(&invitation)))
            .all(app.db().conn())
            .await
            .unwrap();
        let billed: i64 = logs
            .iter()
            .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
            .sum();
        assert_eq!(logs.len(), 10, "five partner and five coach calls");
        assert_eq!(row.usage["tokens"].as_i64().unwrap(), billed);
        assert!(billed <= 5 * per_send + per_send / 2);
    }
);

e2e!(
    expired_or_foreign_claimed_invitations_are_refused,
    |app: TestApp| async move {
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "offer").await;
        let (_, token) = invite(&app, &staff, &slug, 10_000).await;
        let guest = claim_as_guest(&app, &token).await;
        // Claiming one's own invitation again is fine; anyone else is refused, signed in or not.
        let again = app
            .query(Some(&guest.token), CLAIM, json!({ "t": token }))
            .await;
        assert!(again["claimInvitation"]["auth"].is_null());
        let bob = app.register("bob@example.com").await;
        for who in [Some(bob.token.as_str()), None] {
            let body = app.post(who, CLAIM, json!({ "t": token })).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], "token");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("claimed by someone else")
            );
        }
        let body = app
            .post(
                Some(&bob.token),
                START,
                json!({ "i": { "scenario": slug, "invitationToken": token } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "invitationToken",
            "{body}"
        );
        // No guest was created for the refused anonymous claim.
        let guests = persistence::entity::users::Entity::find()
            .filter(persistence::entity::users::Column::Role.eq("GUEST"))
            .count(app.db().conn())
            .await
            .unwrap();
        assert_eq!(guests, 1);

        // An expired invitation is refused with a clear error.
        let (expiring, expired_token) = invite(&app, &staff, &slug, 10_000).await;
        invitations::ActiveModel {
            id: Set(raw_id(&expiring)),
            expires_at: Set(core_domain::time::now() - chrono::Duration::minutes(1)),
            ..Default::default()
        }
        .update(app.db().conn())
        .await
        .unwrap();
        let body = app.post(None, CLAIM, json!({ "t": expired_token })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "token");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );
        // Not a token at all, and a past expiry on creation: field-level errors.
        let body = app.post(None, CLAIM, json!({ "t": "nope" })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "token");
        let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        let body = app
            .post(
                Some(&staff.token),
                CREATE_INVITATION,
                json!({ "i": { "quota": { "tokens": 5 }, "expiresAt": past } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "expiresAt");
        let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let body = app
            .post(
                Some(&staff.token),
                CREATE_INVITATION,
                json!({ "i": { "preset": "none", "expiresAt": future } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "preset");
        let body = app
            .post(
                Some(&bob.token),
                CREATE_INVITATION,
                json!({ "i": { "quota": { "tokens": 5 }, "expiresAt": future } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
);

/// Moves a session's clock back by `secs`, as if it had started (or resumed) that long ago.
async fn rewind(app: &TestApp, session: &str, secs: i64) {
    let row = conversations::Entity::find_by_id(raw_id(session))
        .one(app.db().conn())
        .await
        .unwrap()
        .unwrap();
    let back = chrono::Duration::seconds(secs);
    conversations::ActiveModel {
        id: Set(row.id),
        started_at: Set(row.started_at - back),
        active_since: Set(row.active_since.map(|t| t - back)),
        updated_at: Set(row.updated_at - back),
        ..Default::default()
    }
    .update(app.db().conn())
    .await
    .unwrap();
}

e2e!(
    pauses_do_not_count_and_ended_sessions_refuse_messages,
    |app: TestApp| async move {
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let create = json!({ "i": {
        "name": "Echo", "slug": "echo", "partnerPersona": "Echo",
        "partnerSystemPrompt": "Echo.", "coachSystemPrompt": "Coach.",
        "partnerModel": "local-echo", "coachModel": "local-echo",
    } });
        app.query(Some(&staff.token), CREATE_SCENARIO, create).await;
        let ada = app.register("ada@example.com").await;
        let session = start(&app, &ada, "echo", None).await;
        let lifecycle = |name: &str| {
            format!(
                "mutation($id: ID!) {{ {name}(input: {{ id: $id }}) {{ session {{ status durationSeconds endedAt }} }} }}"
            )
        };
        let run = async |name: &str| {
            app.query(Some(&ada.token), &lifecycle(name), json!({ "id": session }))
                .await[name]["session"]
                .clone()
        };
        let refused = async |name: &str| {
            app.error_code(Some(&ada.token), &lifecycle(name), json!({ "id": session }))
                .await
        };

        // 100 s active, then paused: the pause adds nothing, however long.
        rewind(&app, &session, 100).await;
        let paused = run("pauseSession").await;
        assert_eq!(paused["status"], "PAUSED");
        let d = paused["durationSeconds"].as_i64().unwrap();
        assert!((100..=102).contains(&d), "{d}");
        rewind(&app, &session, 1000).await;
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": session, "content": "hi" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "CONFLICT",
            "{body}"
        );
        assert_eq!(refused("pauseSession").await, "CONFLICT");
        let resumed = run("resumeSession").await;
        assert_eq!(resumed["status"], "ACTIVE");
        assert_eq!(resumed["durationSeconds"].as_i64().unwrap(), d);
        // 50 s more of activity, then complete.
        rewind(&app, &session, 50).await;
        let done = run("completeSession").await;
        assert_eq!(done["status"], "COMPLETED");
        let total = done["durationSeconds"].as_i64().unwrap();
        assert!((d + 50..=d + 52).contains(&total), "{total}");
        assert!(done["endedAt"].is_string());
        // Ended sessions refuse messages and further transitions.
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": session, "content": "hi" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "CONFLICT",
            "{body}"
        );
        for name in [
            "pauseSession",
            "resumeSession",
            "completeSession",
            "abandonSession",
        ] {
            assert_eq!(refused(name).await, "CONFLICT", "{name}");
        }
        // Someone else's session is not found; a bad id is a field error.
        let bob = app.register("bob@example.com").await;
        let code = app
            .error_code(
                Some(&bob.token),
                &lifecycle("abandonSession"),
                json!({ "id": session }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND");
        let body = app
            .post(
                Some(&ada.token),
                &lifecycle("pauseSession"),
                json!({ "id": "nope" }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");

        // A fresh session plays on local-echo and counts its messages.
        let other = start(&app, &ada, "echo", None).await;
        let (partner, coach) = send(&app, &ada, &other, "hello").await;
        assert_eq!(follow(&app, &ada, &partner).await.1["status"], "COMPLETE");
        assert_eq!(follow(&app, &ada, &coach).await.1["status"], "COMPLETE");
        let data = app
            .query(Some(&ada.token), SESSION, json!({ "id": other }))
            .await;
        assert_eq!(data["conversation"]["totalMessages"], 3);
        // Left idle longer than the configured time, the sweep abandons it, once.
        rewind(&app, &other, 31 * 60).await;
        let swept = app.state.services.practice.sweep_idle().await.unwrap();
        assert_eq!(swept, 1);
        assert_eq!(app.state.services.practice.sweep_idle().await.unwrap(), 0);
        let data = app
            .query(Some(&ada.token), SESSION, json!({ "id": other }))
            .await;
        assert_eq!(data["conversation"]["status"], "ABANDONED");
        assert!(data["conversation"]["endedAt"].is_string());
    }
);

e2e_backend!(
    a_failure_in_one_stream_leaves_the_other_intact,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = TestApp::spawn_with(backend, |c| use_fake(c, &fake)).await else {
            return;
        };
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "offer").await;
        let (invitation, token) = invite(&app, &staff, &slug, 50_000).await;
        let guest = claim_as_guest(&app, &token).await;
        let session = start(&app, &guest, &slug, Some(&token)).await;
        fake.push_when(is_partner, FakeReply::text(["Let me ", "think."]));
        fake.push_when(
            is_coach,
            FakeReply::text(["Half ", "a ", "comment ", "lost"]).cut_after(2),
        );
        let (partner, coach) = send(&app, &guest, &session, "150, please.").await;
        let (partner_text, partner_end) = follow(&app, &guest, &partner).await;
        let (coach_text, coach_end) = follow(&app, &guest, &coach).await;
        assert_eq!(
            (partner_text.as_str(), &partner_end["status"]),
            ("Let me think.", &json!("COMPLETE"))
        );
        assert_eq!(coach_end["status"], "FAILED");
        assert_eq!(coach_text, "Half a ");
        settled(&app).await;
        let data = app
            .query(Some(&guest.token), SESSION, json!({ "id": session }))
            .await;
        let edges = data["conversation"]["messages"]["edges"]
            .as_array()
            .unwrap();
        let coach_row = edges
            .iter()
            .find(|e| e["node"]["id"] == coach.as_str())
            .unwrap();
        assert_eq!(coach_row["node"]["content"], "Half a ");
        assert_eq!(coach_row["node"]["error"], "stream_interrupted");
        // Both calls settled (no reservation left) and billed against the invitation.
        let logs = usage_logs::Entity::find()
            .filter(usage_logs::Column::InvitationId.eq(raw_id(&invitation)))
            .all(app.db().conn())
            .await
            .unwrap();
        assert_eq!(logs.len(), 2);
        let billed: i64 = logs
            .iter()
            .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
            .sum();
        assert_eq!(
            invitation_row(&app, &invitation).await.usage["tokens"]
                .as_i64()
                .unwrap(),
            billed
        );
        // The session goes on: the next exchange works.
        fake.push_when(is_partner, FakeReply::text(["Fine."]));
        fake.push_when(is_coach, FakeReply::text(["Well held."]));
        let (p2, c2) = send(&app, &guest, &session, "Thanks.").await;
        assert_eq!(follow(&app, &guest, &p2).await.1["status"], "COMPLETE");
        assert_eq!(follow(&app, &guest, &c2).await.1["status"], "COMPLETE");
    }
);

// The README's practice blocks, in order, on the seeded data: with no provider key the seeded
// scenarios run on `local-echo`, so a fresh server plays a scenario.
e2e!(
    the_readme_practice_walkthrough_works,
    |app: TestApp| async move {
        // As `cargo run` seeds: with the disclaimer published, so the walkthrough's guest must
        // accept it before the first reply.
        gateway::platform::seed::load_with_disclaimers(app.db(), None, ai_providers::LOCAL_MODEL)
            .await
            .unwrap();
        let readme = include_str!("../../README.md");
        let block = |marker: &str| {
            let at = readme
                .find(marker)
                .unwrap_or_else(|| panic!("README shows {marker}"));
            let start = readme[..at].rfind("```graphql\n").unwrap() + "```graphql\n".len();
            let end = start + readme[start..].find("```").unwrap();
            readme[start..end].to_owned()
        };
        let claimed = app
            .post(None, &block("claimInvitation(input"), json!({}))
            .await;
        assert!(claimed.get("errors").is_none(), "{claimed:#}");
        let token = claimed["data"]["claimInvitation"]["auth"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            claimed["data"]["claimInvitation"]["invitation"]["quota"]["tokens"],
            25_000
        );
        let accepted = app
            .post(
                Some(&token),
                &block("acceptDisclaimer(input: { version: \"2026-01\" })"),
                json!({}),
            )
            .await;
        assert_eq!(
            accepted["data"]["acceptDisclaimer"]["user"]["disclaimerVersion"], "2026-01",
            "{accepted:#}"
        );
        let started = app
            .post(
                Some(&token),
                &block("startScenarioSession(input"),
                json!({}),
            )
            .await;
        assert!(started.get("errors").is_none(), "{started:#}");
        let session = started["data"]["startScenarioSession"]["session"]["id"]
            .as_str()
            .unwrap();
        let sent = app
            .post(
                Some(&token),
                &block("coachReply { id role }").replace("<session id>", session),
                json!({}),
            )
            .await;
        assert!(sent.get("errors").is_none(), "{sent:#}");
        let guest = TestUser::new("VXNlcjp4", "", &token);
        for key in ["reply", "coachReply"] {
            let id = sent["data"]["sendMessage"][key]["id"].as_str().unwrap();
            let (text, end) = follow(&app, &guest, id).await;
            assert_eq!(end["status"], "COMPLETE");
            assert!(!text.is_empty());
        }
    }
);

e2e_backend!(
    recovery_settles_both_streams_against_the_invitation,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        // Both replies produce a little, then hang, as if their server were about to die.
        fake.set_default(FakeReply::text(["held ", "open"]).stall_after(1));
        let Some(app) = TestApp::spawn_with(backend, |c| use_fake(c, &fake)).await else {
            return;
        };
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "offer").await;
        let (invitation, token) = invite(&app, &staff, &slug, 50_000).await;
        let guest = claim_as_guest(&app, &token).await;
        let session = start(&app, &guest, &slug, Some(&token)).await;
        let (partner, coach) = send(&app, &guest, &session, "150, please.").await;
        // Wait until both saved their partial text.
        let deadline = tokio::time::Instant::now() + WAIT;
        for id in [&partner, &coach] {
            loop {
                let row = messages::Entity::find_by_id(raw_id(id))
                    .one(app.db().conn())
                    .await
                    .unwrap()
                    .unwrap();
                if row.content == "held " {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no partial text saved"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Recovery (what a restart runs) takes both calls for dead: each FAILED with its text,
        // settled and billed once, under the invitation.
        let recovered = gateway::chat::recover::interrupted(
            app.db(),
            app.state.services.chat.providers(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(recovered.replies, 2);
        for id in [&partner, &coach] {
            let row = messages::Entity::find_by_id(raw_id(id))
                .one(app.db().conn())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(*row.status, MessageStatus::Failed);
            assert_eq!(row.error.as_deref(), Some("interrupted"));
            assert_eq!(row.content, "held ");
        }
        let held = budget_reservations::Entity::find()
            .count(app.db().conn())
            .await
            .unwrap();
        assert_eq!(held, 0);
        let logs = usage_logs::Entity::find()
            .filter(usage_logs::Column::InvitationId.eq(raw_id(&invitation)))
            .all(app.db().conn())
            .await
            .unwrap();
        let kinds: Vec<_> = logs.iter().map(|l| *l.stream_type).collect();
        assert!(
            kinds.contains(&StreamType::Partner) && kinds.contains(&StreamType::Coach),
            "{kinds:?}"
        );
        let billed: i64 = logs
            .iter()
            .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
            .sum();
        assert!(billed > 0);
        assert_eq!(
            invitation_row(&app, &invitation).await.usage["tokens"]
                .as_i64()
                .unwrap(),
            billed
        );
    }
);

/// Staff's nested read of invitations → sessions → messages.
const INVITATIONS_NESTED: &str = "{ invitations(first: 10) { edges { node { id label sessions(first: 5) { totalCount edges { node { id title messages(first: 5) { edges { node { id } } } } } } } } } }";

/// How many SQL statements `query` cost as `token`: the cheaper of two runs (the background
/// sweeps count in the same total and may land in one of them).
async fn statements(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
    let mut cost = u64::MAX;
    let mut data = Value::Null;
    for _ in 0..2 {
        let before = app.sql_statements();
        data = app.query(Some(token), query, json!({})).await;
        cost = cost.min(app.sql_statements() - before);
    }
    (cost, data)
}

e2e!(
    invitations_read_ahead_their_sessions_a_level_per_statement_under_load,
    |app: TestApp| async move {
        let staff = user_with_role(&app, "staff@example.com", Role::Staff).await;
        let slug = scenario(&app, &staff, "nested-read").await;
        for _ in 0..4 {
            let (_, token) = invite(&app, &staff, &slug, 10_000).await;
            let guest = claim_as_guest(&app, &token).await;
            start(&app, &guest, &slug, Some(&token)).await;
        }
        // Alone: a statement per level (invitations, their count-less page, sessions and their
        // count, messages), plus the caller.
        statements(&app, &staff.token, INVITATIONS_NESTED).await;
        let (alone, data) = statements(&app, &staff.token, INVITATIONS_NESTED).await;
        let edges = data["invitations"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 4, "{data}");
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["sessions"]["totalCount"] == 1),
            "{data}"
        );
        // 16 clients at once, 3 rounds each: a level is never split into several batches.
        const CLIENTS: usize = 16;
        const ROUNDS: usize = 3;
        let before = app.sql_statements();
        let runs = (0..CLIENTS).map(|_| async {
            for _ in 0..ROUNDS {
                let data = app
                    .query(Some(&staff.token), INVITATIONS_NESTED, json!({}))
                    .await;
                assert_eq!(data["invitations"]["edges"].as_array().unwrap().len(), 4);
            }
        });
        futures::future::join_all(runs).await;
        let total = app.sql_statements() - before;
        let requests = u64::try_from(CLIENTS * ROUNDS).unwrap();
        // Slack for the session's once-a-minute last-use write and the background sweeps.
        let slack = u64::try_from(CLIENTS).unwrap();
        assert!(
            total >= alone * requests && total <= alone * requests + slack,
            "{total} statements for {requests} concurrent requests that cost {alone} each alone"
        );
    }
);
