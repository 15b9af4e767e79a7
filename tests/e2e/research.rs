//! Research access: staff read the practice sessions that run under invitations (messages, usage,
//! notes) and never an ordinary user's private conversation; observation notes are staff-only and
//! belong to their author; telemetry is recorded in one statement per batch, validated, limited
//! per address when anonymous, and counted per name per day.
//!
//! Invitations and their sessions are set up through the stores ([`setup`]): small helpers that
//! the practice area's API (`createInvitation`, `claimInvitation`, `startScenarioSession`) can
//! replace.

use std::time::Duration;

use colloquy_tests::{Kind, TestApp, TestUser, e2e, e2e_backend, gid};
use core_domain::Role;
use serde_json::{Value, json};

/// Test set-up straight through the stores, for what has no API on this branch yet.
pub mod setup {
    use colloquy_tests::{TestApp, TestUser};
    use core_domain::enums::{MessageRole, MessageStatus, StreamType};
    use persistence::conversations::{self, NewConversation};
    use persistence::messages::{self, NewMessage};
    use persistence::usage::{self, NewUsage};
    use sea_orm::{ActiveModelTrait, Set};

    /// An invitation created by `staff`; returns its database id.
    pub async fn invitation(app: &TestApp, staff: &TestUser) -> String {
        let id = core_domain::ids::new_id();
        persistence::entity::invitations::ActiveModel {
            id: Set(id.clone()),
            token: Set(format!("test-token-hash-{id}")),
            label: Set(Some("Pilot cohort".into())),
            scenario_id: Set(None),
            quota: Set(serde_json::json!({ "tokens": 25_000 })),
            usage: Set(serde_json::json!({})),
            expires_at: Set(core_domain::time::now() + chrono::Duration::days(7)),
            claimed_at: Set(None),
            linked_user_id: Set(None),
            created_by_id: Set(staff.db_id.clone()),
            created_at: Set(core_domain::time::now()),
        }
        .insert(app.db().conn())
        .await
        .expect("insert invitation");
        id
    }

    /// A session under `invitation` played by `participant` (nobody's when None, as for an
    /// invitation nobody claimed an account for); returns its database id.
    pub async fn session(
        app: &TestApp,
        invitation: &str,
        participant: Option<&TestUser>,
    ) -> String {
        let db = app.db().conn();
        let c = conversations::create(
            db,
            NewConversation {
                user_id: participant.map(|p| p.db_id.clone()),
                title: Some("Practice: difficult conversation".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create session");
        persistence::entity::conversations::ActiveModel {
            id: Set(c.id.clone()),
            invitation_id: Set(Some(invitation.to_owned())),
            ..Default::default()
        }
        .update(db)
        .await
        .expect("bind the session to its invitation");
        c.id
    }

    /// A conversation of `user` bound to a scenario but to no invitation (practice on one's own).
    pub async fn solo_scenario_conversation(app: &TestApp, user: &TestUser) -> String {
        let db = app.db().conn();
        let now = core_domain::time::now();
        let scenario = core_domain::ids::new_id();
        persistence::entity::scenarios::ActiveModel {
            id: Set(scenario.clone()),
            name: Set("Solo".into()),
            description: Set("Practice alone".into()),
            slug: Set(format!("solo-{scenario}")),
            partner_persona: Set("A colleague".into()),
            partner_system_prompt: Set("You are a colleague.".into()),
            coach_system_prompt: Set("You are a coach.".into()),
            partner_model: Set("local-echo".into()),
            coach_model: Set("local-echo".into()),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .expect("insert scenario");
        let c = conversations::create(
            db,
            NewConversation {
                user_id: Some(user.db_id.clone()),
                title: Some("my-private-practice".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create conversation");
        persistence::entity::conversations::ActiveModel {
            id: Set(c.id.clone()),
            scenario_id: Set(Some(scenario)),
            ..Default::default()
        }
        .update(db)
        .await
        .expect("bind the scenario");
        c.id
    }

    /// A user turn and the partner's reply in `session`, each reply logged in `usage_logs` with
    /// a partner and a coach row; returns the (user message, reply) database ids.
    pub async fn exchange(
        app: &TestApp,
        session: &str,
        participant: Option<&TestUser>,
        text: &str,
    ) -> (String, String) {
        let participant_id = participant.map(|p| p.db_id.clone());
        let db = app.db().conn();
        let stored = messages::append(
            db,
            vec![
                NewMessage {
                    conversation_id: session.to_owned(),
                    user_id: participant_id.clone(),
                    parent_id: None,
                    role: MessageRole::User,
                    content: text.to_owned(),
                    status: MessageStatus::Complete,
                    model: None,
                    provider: None,
                },
                NewMessage {
                    conversation_id: session.to_owned(),
                    user_id: None,
                    parent_id: None,
                    role: MessageRole::Partner,
                    content: format!("partner answers: {text}"),
                    status: MessageStatus::Complete,
                    model: Some("local-echo".into()),
                    provider: Some("local".into()),
                },
            ],
        )
        .await
        .expect("append messages");
        for (stream_type, tokens) in [(StreamType::Partner, 40), (StreamType::Coach, 25)] {
            usage::insert(
                db,
                NewUsage {
                    user_id: participant_id.clone(),
                    invitation_id: None,
                    conversation_id: Some(session.to_owned()),
                    message_id: Some(stored[1].id.clone()),
                    provider: "local".into(),
                    model: "local-echo".into(),
                    stream_type,
                    input_tokens: tokens,
                    output_tokens: 10,
                    cost_micros: Some(123),
                    latency_ms: Some(5),
                },
            )
            .await
            .expect("usage row");
        }
        (stored[0].id.clone(), stored[1].id.clone())
    }
}

/// A registered user with `role`.
async fn with_role(app: &TestApp, email: &str, role: Role) -> TestUser {
    let u = app.register(email).await;
    app.promote(&u, role).await;
    u
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {body:#}"))
}

fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a field: {body:#}"))
}

const ADD_NOTE: &str = "mutation($i: AddObservationNoteInput!) { addObservationNote(input: $i) { observationNote { id content invitationId sessionId messageId researcherId session { id } message { content } } } }";

async fn add_note(app: &TestApp, staff: &TestUser, input: Value) -> Value {
    app.post(Some(&staff.token), ADD_NOTE, json!({ "i": input }))
        .await
}

const SESSIONS: &str = "query($f: ResearchSessionFilter) { researchSessions(filter: $f, first: 10) {
  totalCount
  edges { node { id title owner { id }
    messages(first: 10) { totalCount edges { node { role content } } }
    usage(first: 10) { totalCount edges { node { id streamType inputTokens outputTokens totalTokens costMicros latencyMs sessionId messageId } } }
    observationNotes(first: 10) { totalCount edges { node { content researcherId } } } } } } }";

e2e!(
    staff_read_invitation_sessions_messages_usage_and_notes,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let participant = app.register("participant@example.com").await;
        let other = app.register("other-participant@example.com").await;
        let invitation = setup::invitation(&app, &staff).await;
        let session = setup::session(&app, &invitation, Some(&participant)).await;
        let (_, reply) =
            setup::exchange(&app, &session, Some(&participant), "I need to talk").await;
        // Another invitation's session stays out of this invitation's list.
        let elsewhere = setup::invitation(&app, &staff).await;
        let other_session = setup::session(&app, &elsewhere, Some(&other)).await;

        let note = add_note(
            &app,
            &staff,
            json!({
                "invitationId": gid(Kind::Invitation, &invitation),
                "sessionId": gid(Kind::Conversation, &session),
                "messageId": gid(Kind::Message, &reply),
                "content": "Partner escalated too fast here",
            }),
        )
        .await;
        let note = &note["data"]["addObservationNote"]["observationNote"];
        assert_eq!(
            note["sessionId"],
            gid(Kind::Conversation, &session),
            "{note}"
        );
        assert_eq!(
            note["message"]["content"],
            "partner answers: I need to talk"
        );
        assert_eq!(note["researcherId"], staff.global_id);
        let note_id = note["id"].as_str().unwrap().to_owned();

        let data = app
            .query(
                Some(&staff.token),
                SESSIONS,
                json!({ "f": { "invitationId": gid(Kind::Invitation, &invitation) } }),
            )
            .await;
        let list = &data["researchSessions"];
        assert_eq!(list["totalCount"], 1, "{data:#}");
        let node = &list["edges"][0]["node"];
        assert_eq!(node["id"], gid(Kind::Conversation, &session));
        assert_eq!(
            node["owner"],
            Value::Null,
            "staff do not see the account itself"
        );
        assert_eq!(node["messages"]["totalCount"], 2);
        assert_eq!(
            node["messages"]["edges"][0]["node"]["content"],
            "I need to talk"
        );
        assert_eq!(node["messages"]["edges"][1]["node"]["role"], "PARTNER");
        assert_eq!(node["usage"]["totalCount"], 2);
        let usage = node["usage"]["edges"].as_array().unwrap();
        let streams: Vec<&str> = usage
            .iter()
            .map(|e| e["node"]["streamType"].as_str().unwrap())
            .collect();
        assert_eq!(streams, ["PARTNER", "COACH"]);
        assert_eq!(usage[0]["node"]["inputTokens"], 40);
        assert_eq!(usage[0]["node"]["totalTokens"], 50);
        assert_eq!(usage[0]["node"]["costMicros"], 123);
        assert_eq!(usage[0]["node"]["messageId"], gid(Kind::Message, &reply));
        assert_eq!(node["observationNotes"]["totalCount"], 1);
        assert_eq!(
            node["observationNotes"]["edges"][0]["node"]["content"],
            "Partner escalated too fast here"
        );

        // Without a filter: every invitation's sessions; the usage record is a Node.
        let all = app.query(Some(&staff.token), SESSIONS, json!({})).await;
        assert_eq!(all["researchSessions"]["totalCount"], 2);
        let usage_id = usage[0]["node"]["id"].as_str().unwrap();
        let by_node = app
            .query(
                Some(&staff.token),
                "query($a: ID!, $b: ID!, $c: ID!) { a: node(id: $a) { ... on UsageRecord { streamType } }
                   b: node(id: $b) { ... on ObservationNote { content } }
                   c: conversation(id: $c) { id title } }",
                json!({ "a": usage_id, "b": note_id, "c": gid(Kind::Conversation, &other_session) }),
            )
            .await;
        assert_eq!(by_node["a"]["streamType"], "PARTNER");
        assert_eq!(by_node["b"]["content"], "Partner escalated too fast here");
        assert_eq!(by_node["c"]["id"], gid(Kind::Conversation, &other_session));

        // Notes per invitation and per session.
        let notes = app
            .query(
                Some(&staff.token),
                "query($i: ID!, $s: ID!) { a: observationNotes(filter: { invitationId: $i }) { totalCount }
                   b: observationNotes(filter: { sessionId: $s }) { totalCount edges { node { id } } } }",
                json!({ "i": gid(Kind::Invitation, &invitation), "s": gid(Kind::Conversation, &session) }),
            )
            .await;
        assert_eq!(notes["a"]["totalCount"], 1);
        assert_eq!(notes["b"]["edges"][0]["node"]["id"], note_id.as_str());

        // Staff read; they never write into a participant's session.
        let session_gid = gid(Kind::Conversation, &session);
        for (query, vars) in [
            (
                "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"hi\" }) { reply { id } } }",
                json!({ "c": session_gid }),
            ),
            (
                "mutation($c: ID!) { addMessage(input: { conversationId: $c, content: \"hi\" }) { message { id } } }",
                json!({ "c": session_gid }),
            ),
            (
                "mutation($c: ID!) { renameConversation(input: { id: $c, title: \"mine\" }) { conversation { id } } }",
                json!({ "c": session_gid }),
            ),
            (
                "mutation($c: ID!) { deleteConversation(input: { id: $c }) { deletedConversationId } }",
                json!({ "c": session_gid }),
            ),
            (
                "mutation($m: ID!) { regenerateMessage(input: { messageId: $m }) { reply { id } } }",
                json!({ "m": gid(Kind::Message, &reply) }),
            ),
        ] {
            let body = app.post(Some(&staff.token), query, vars).await;
            assert_eq!(code(&body), "FORBIDDEN", "{query}: {body}");
        }
        let after = app
            .query(
                Some(&participant.token),
                "query($c: ID!) { conversation(id: $c) { title totalMessages } }",
                json!({ "c": session_gid }),
            )
            .await;
        assert_eq!(
            after["conversation"]["totalMessages"], 2,
            "nothing was written"
        );
        assert_eq!(
            after["conversation"]["title"],
            "Practice: difficult conversation"
        );
    }
);

e2e!(
    staff_never_read_a_private_conversation,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let user = app.register("user@example.com").await;
        let private = app.create_conversation(&user, "my-private-diary").await;
        let message = app.add_message(&user, &private, "private-words").await;
        let solo = gid(
            Kind::Conversation,
            &setup::solo_scenario_conversation(&app, &user).await,
        );

        for id in [&private, &solo] {
            let body = app
                .post(
                    Some(&staff.token),
                    "query($c: ID!) { conversation(id: $c) { title messages { edges { node { content } } } }
                       node(id: $c) { id ... on Conversation { title } } }",
                    json!({ "c": id }),
                )
                .await;
            assert_eq!(body["data"]["conversation"], Value::Null, "{body}");
            assert_eq!(body["data"]["node"], Value::Null, "{body}");
            assert!(body.get("errors").is_none(), "{body}");
        }
        let body = app
            .post(
                Some(&staff.token),
                "query($m: ID!) { node(id: $m) { ... on Message { content conversation { title } } } }",
                json!({ "m": message }),
            )
            .await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        assert!(!body.to_string().contains("private"), "{body}");

        // Not listed, not annotatable, not followable.
        let listed = app.query(Some(&staff.token), SESSIONS, json!({})).await;
        assert_eq!(listed["researchSessions"]["totalCount"], 0);
        let invitation = setup::invitation(&app, &staff).await;
        let body = add_note(
            &app,
            &staff,
            json!({ "invitationId": gid(Kind::Invitation, &invitation), "sessionId": private, "content": "peek" }),
        )
        .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let body = add_note(
            &app,
            &staff,
            json!({ "invitationId": gid(Kind::Invitation, &invitation), "messageId": message, "content": "peek" }),
        )
        .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let mut ws = app.ws(Some(&staff.token)).await;
        for (query, vars) in [
            (
                "subscription($m: ID!) { messageStream(messageId: $m) { delta } }",
                json!({ "m": message }),
            ),
            (
                "subscription($c: ID) { messageAdded(conversationId: $c) { content } }",
                json!({ "c": private }),
            ),
        ] {
            let sub = ws.subscribe(query, vars).await;
            let answer = ws
                .next_for(&sub, Duration::from_secs(5))
                .await
                .expect("an answer");
            // A subscription refused at once ("error"), or whose stream answers with the error.
            let errors = if answer["type"] == "error" {
                &answer["payload"]
            } else {
                &answer["errors"]
            };
            assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{answer}");
            assert!(!answer.to_string().contains("private"), "{answer}");
        }

        // The owner still reads it all (the negative checks above can fail).
        let own = app
            .query(
                Some(&user.token),
                "query($c: ID!, $s: ID!) { conversation(id: $c) { title } s: conversation(id: $s) { title } }",
                json!({ "c": private, "s": solo }),
            )
            .await;
        assert_eq!(own["conversation"]["title"], "my-private-diary");
        assert_eq!(own["s"]["title"], "my-private-practice");
    }
);

e2e!(
    participants_and_users_cannot_see_notes,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let participant = app.register("participant@example.com").await;
        let invitation = setup::invitation(&app, &staff).await;
        let session = setup::session(&app, &invitation, Some(&participant)).await;
        setup::exchange(&app, &session, Some(&participant), "hello").await;
        let note = add_note(
            &app,
            &staff,
            json!({ "invitationId": gid(Kind::Invitation, &invitation), "sessionId": gid(Kind::Conversation, &session), "content": "secret-observation" }),
        )
        .await["data"]["addObservationNote"]["observationNote"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let session_gid = gid(Kind::Conversation, &session);

        // The participant reads their session and its usage, never the notes on it.
        let own = app
            .query(
                Some(&participant.token),
                "query($c: ID!) { conversation(id: $c) { title usage { totalCount } } }",
                json!({ "c": session_gid }),
            )
            .await;
        assert_eq!(own["conversation"]["usage"]["totalCount"], 2);
        let body = app
            .post(
                Some(&participant.token),
                "query($c: ID!) { conversation(id: $c) { title observationNotes { edges { node { content } } } } }",
                json!({ "c": session_gid }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        assert!(!body.to_string().contains("secret-observation"), "{body}");

        let outsider = app.register("outsider@example.com").await;
        for who in [&participant, &outsider] {
            for (query, vars, expected) in [
                (
                    "query($i: ID!) { observationNotes(filter: { invitationId: $i }) { edges { node { content } } } }",
                    json!({ "i": gid(Kind::Invitation, &invitation) }),
                    "FORBIDDEN",
                ),
                (
                    "query { researchSessions { edges { node { id } } } }",
                    json!({}),
                    "FORBIDDEN",
                ),
                (
                    "mutation($n: ID!) { updateObservationNote(input: { id: $n, content: \"x\" }) { observationNote { content } } }",
                    json!({ "n": note }),
                    "NOT_FOUND",
                ),
                (
                    "mutation($n: ID!) { deleteObservationNote(input: { id: $n }) { deletedObservationNoteId } }",
                    json!({ "n": note }),
                    "NOT_FOUND",
                ),
                (
                    "mutation($i: ID!) { addObservationNote(input: { invitationId: $i, content: \"mine\" }) { observationNote { id } } }",
                    json!({ "i": gid(Kind::Invitation, &invitation) }),
                    "FORBIDDEN",
                ),
            ] {
                let body = app.post(Some(&who.token), query, vars).await;
                assert_eq!(code(&body), expected, "{query}: {body}");
                assert!(!body.to_string().contains("secret-observation"), "{body}");
            }
            let body = app
                .post(
                    Some(&who.token),
                    "query($n: ID!) { node(id: $n) { id ... on ObservationNote { content } } }",
                    json!({ "n": note }),
                )
                .await;
            assert_eq!(body["data"]["node"], Value::Null, "{body}");
        }
        // The outsider does not even read the participant's session.
        let body = app
            .post(
                Some(&outsider.token),
                "query($c: ID!) { conversation(id: $c) { title } }",
                json!({ "c": session_gid }),
            )
            .await;
        assert_eq!(body["data"]["conversation"], Value::Null);

        // The note is intact, and staff see it.
        let seen = app
            .query(
                Some(&staff.token),
                "query($n: ID!) { node(id: $n) { ... on ObservationNote { content } } }",
                json!({ "n": note }),
            )
            .await;
        assert_eq!(seen["node"]["content"], "secret-observation");
    }
);

e2e!(
    notes_are_validated_and_only_their_author_changes_them,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let colleague = with_role(&app, "colleague@example.com", Role::Staff).await;
        let participant = app.register("participant@example.com").await;
        let invitation = setup::invitation(&app, &staff).await;
        let session = setup::session(&app, &invitation, Some(&participant)).await;
        let (user_message, _) = setup::exchange(&app, &session, Some(&participant), "hello").await;
        let other_invitation = setup::invitation(&app, &staff).await;
        let other_session = setup::session(&app, &other_invitation, Some(&participant)).await;
        let (other_message, _) =
            setup::exchange(&app, &other_session, Some(&participant), "hey").await;
        let inv = gid(Kind::Invitation, &invitation);
        let ses = gid(Kind::Conversation, &session);

        for (input, expected, expected_field) in [
            (
                json!({ "invitationId": inv, "content": "   " }),
                "BAD_USER_INPUT",
                Some("content"),
            ),
            (
                json!({ "invitationId": inv, "content": "x".repeat(10_001) }),
                "BAD_USER_INPUT",
                Some("content"),
            ),
            (
                json!({ "invitationId": "not an id", "content": "x" }),
                "BAD_USER_INPUT",
                Some("invitationId"),
            ),
            (
                json!({ "invitationId": gid(Kind::Invitation, "missing"), "content": "x" }),
                "NOT_FOUND",
                None,
            ),
            (
                json!({ "invitationId": inv, "sessionId": gid(Kind::Conversation, "missing"), "content": "x" }),
                "NOT_FOUND",
                None,
            ),
            (
                json!({ "invitationId": inv, "messageId": gid(Kind::Message, "missing"), "content": "x" }),
                "NOT_FOUND",
                None,
            ),
            (
                json!({ "invitationId": inv, "sessionId": gid(Kind::Conversation, &other_session), "content": "x" }),
                "BAD_USER_INPUT",
                Some("sessionId"),
            ),
            (
                json!({ "invitationId": inv, "sessionId": ses, "messageId": gid(Kind::Message, &other_message), "content": "x" }),
                "BAD_USER_INPUT",
                Some("messageId"),
            ),
            (
                json!({ "invitationId": inv, "messageId": gid(Kind::Message, &other_message), "content": "x" }),
                "BAD_USER_INPUT",
                Some("messageId"),
            ),
        ] {
            let body = add_note(&app, &staff, input.clone()).await;
            assert_eq!(code(&body), expected, "{input}: {body}");
            if let Some(f) = expected_field {
                assert_eq!(field(&body), f, "{body}");
            }
        }

        // A note on a message alone takes the message's session.
        let body = add_note(
            &app,
            &staff,
            json!({ "invitationId": inv, "messageId": gid(Kind::Message, &user_message), "content": "first note" }),
        )
        .await;
        let note = &body["data"]["addObservationNote"]["observationNote"];
        assert_eq!(note["sessionId"], ses, "{body}");
        let id = note["id"].as_str().unwrap().to_owned();

        // A colleague reads it but may not change it.
        for query in [
            "mutation($n: ID!) { updateObservationNote(input: { id: $n, content: \"theirs now\" }) { observationNote { content } } }",
            "mutation($n: ID!) { deleteObservationNote(input: { id: $n }) { deletedObservationNoteId } }",
        ] {
            let body = app
                .post(Some(&colleague.token), query, json!({ "n": id }))
                .await;
            assert_eq!(code(&body), "FORBIDDEN", "{body}");
        }
        let body = app
            .post(
                Some(&staff.token),
                "mutation($n: ID!) { updateObservationNote(input: { id: $n, content: \"\" }) { observationNote { content } } }",
                json!({ "n": id }),
            )
            .await;
        assert_eq!(field(&body), "content", "{body}");
        let updated = app
            .query(
                Some(&staff.token),
                "mutation($n: ID!) { updateObservationNote(input: { id: $n, content: \"revised note\" }) { observationNote { content } } }",
                json!({ "n": id }),
            )
            .await;
        assert_eq!(
            updated["updateObservationNote"]["observationNote"]["content"],
            "revised note"
        );
        let seen = app
            .query(
                Some(&colleague.token),
                "query($i: ID!) { observationNotes(filter: { invitationId: $i }) { totalCount edges { node { content researcher { id } } } } }",
                json!({ "i": inv }),
            )
            .await;
        assert_eq!(seen["observationNotes"]["totalCount"], 1);
        assert_eq!(
            seen["observationNotes"]["edges"][0]["node"]["content"],
            "revised note"
        );
        let deleted = app
            .query(
                Some(&staff.token),
                "mutation($n: ID!) { deleteObservationNote(input: { id: $n }) { deletedObservationNoteId } }",
                json!({ "n": id }),
            )
            .await;
        assert_eq!(
            deleted["deleteObservationNote"]["deletedObservationNoteId"],
            id.as_str()
        );
        let body = app
            .post(
                Some(&staff.token),
                "mutation($n: ID!) { deleteObservationNote(input: { id: $n }) { deletedObservationNoteId } }",
                json!({ "n": id }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
);

const RECORD: &str =
    "mutation($i: RecordTelemetryInput!) { recordTelemetry(input: $i) { recorded eventIds } }";

fn events(n: usize, name: &str) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({ "name": name, "properties": { "i": i, "screen": "practice" } }))
        .collect();
    json!({ "i": { "events": list } })
}

async fn event_total(app: &TestApp, staff: &TestUser) -> u64 {
    app.query(
        Some(&staff.token),
        "{ telemetryEvents(first: 1) { totalCount } }",
        json!({}),
    )
    .await["telemetryEvents"]["totalCount"]
        .as_u64()
        .unwrap()
}

e2e!(
    a_telemetry_batch_of_100_is_stored_in_one_statement_and_101_is_refused,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        // Anonymous: the batch and its audit row are the request's only statements (a first call takes the address's
        // rate-limit lease, which on PostgreSQL is a statement per block of calls).
        app.query(None, RECORD, events(1, "app.opened")).await;
        // The cheapest of three batches: the server's background work (the sweep of interrupted
        // replies, the queue depths, the heartbeat) counts in the same total and may land in one
        // (CI once saw 3 against 2), as `queries.rs`'s `statements` explains.
        let mut cost = u64::MAX;
        for _ in 0..3 {
            let before = app.sql_statements();
            let data = app.query(None, RECORD, events(100, "message_sent")).await;
            cost = cost.min(app.sql_statements() - before);
            assert_eq!(data["recordTelemetry"]["recorded"], 100);
            assert_eq!(
                data["recordTelemetry"]["eventIds"]
                    .as_array()
                    .unwrap()
                    .len(),
                100
            );
        }
        // The batch is one statement, its audit row (same transaction) the other.
        assert_eq!(cost, 2, "100 events cost {cost} statements");
        assert_eq!(event_total(&app, &staff).await, 301);

        let body = app.post(None, RECORD, events(101, "message_sent")).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "events");
        let body = app.post(None, RECORD, events(0, "message_sent")).await;
        assert_eq!(field(&body), "events", "{body}");
        assert_eq!(
            event_total(&app, &staff).await,
            301,
            "nothing of 101 stored"
        );

        // Signed in: events carry the user and may name a session the caller reads.
        let participant = app.register("participant@example.com").await;
        let invitation = setup::invitation(&app, &staff).await;
        let session = gid(
            Kind::Conversation,
            &setup::session(&app, &invitation, Some(&participant)).await,
        );
        app.query(
            Some(&participant.token),
            RECORD,
            json!({ "i": { "events": [{ "name": "scenario.opened", "sessionId": session }] } }),
        )
        .await;
        let mine = app
            .query(
                Some(&staff.token),
                "query($u: ID!, $s: ID!) { telemetryEvents(filter: { userId: $u, sessionId: $s }) {
                   totalCount edges { node { id name properties userId sessionId user { id } occurredAt } } } }",
                json!({ "u": participant.global_id, "s": session }),
            )
            .await;
        let list = &mine["telemetryEvents"];
        assert_eq!(list["totalCount"], 1, "{mine}");
        assert_eq!(list["edges"][0]["node"]["name"], "scenario.opened");
        assert_eq!(list["edges"][0]["node"]["properties"], json!({}));
        assert_eq!(list["edges"][0]["node"]["userId"], participant.global_id);
        let event_id = list["edges"][0]["node"]["id"].as_str().unwrap();
        let found = app
            .query(
                Some(&staff.token),
                "query($e: ID!) { node(id: $e) { ... on TelemetryEvent { name } } }",
                json!({ "e": event_id }),
            )
            .await;
        assert_eq!(found["node"]["name"], "scenario.opened");
        // Another user may not attach events to that session, nor read telemetry.
        let outsider = app.register("outsider@example.com").await;
        let body = app
            .post(
                Some(&outsider.token),
                RECORD,
                json!({ "i": { "events": [{ "name": "scenario.opened", "sessionId": session }] } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        for query in [
            "{ telemetryEvents { totalCount } }",
            "{ telemetryCounts { name } }",
        ] {
            let body = app.post(Some(&participant.token), query, json!({})).await;
            assert_eq!(code(&body), "FORBIDDEN", "{body}");
        }
        let body = app
            .post(
                Some(&participant.token),
                "query($e: ID!) { node(id: $e) { id } }",
                json!({ "e": event_id }),
            )
            .await;
        assert_eq!(body["data"]["node"], Value::Null);
    }
);

e2e!(
    telemetry_refuses_bad_names_large_properties_and_future_times,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let ancient = (chrono::Utc::now() - chrono::Duration::days(90)).to_rfc3339();
        let big = "x".repeat(9 * 1024);
        for (event, expected_field) in [
            (json!({ "name": "Message Sent" }), "events.name"),
            (json!({ "name": "9lives" }), "events.name"),
            (json!({ "name": "" }), "events.name"),
            (
                json!({ "name": format!("a{}", "b".repeat(64)) }),
                "events.name",
            ),
            (
                json!({ "name": "ok", "properties": [1, 2] }),
                "events.properties",
            ),
            (
                json!({ "name": "ok", "properties": "text" }),
                "events.properties",
            ),
            (
                json!({ "name": "ok", "properties": { "blob": big } }),
                "events.properties",
            ),
            (
                json!({ "name": "ok", "occurredAt": future }),
                "events.occurredAt",
            ),
            (
                json!({ "name": "ok", "occurredAt": ancient }),
                "events.occurredAt",
            ),
            (
                json!({ "name": "ok", "sessionId": "nope" }),
                "events.sessionId",
            ),
        ] {
            // One bad event refuses the whole batch.
            let body = app
                .post(
                    None,
                    RECORD,
                    json!({ "i": { "events": [{ "name": "fine" }, event] } }),
                )
                .await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{event}: {body}");
            assert_eq!(field(&body), expected_field, "{body}");
        }
        assert_eq!(event_total(&app, &staff).await, 0);
        let ok = app
            .query(
                None,
                RECORD,
                json!({ "i": { "events": [{ "name": format!("a{}", "b".repeat(63)), "properties": { "blob": "x".repeat(7 * 1024) } }] } }),
            )
            .await;
        assert_eq!(ok["recordTelemetry"]["recorded"], 1);
    }
);

e2e_backend!(
    anonymous_telemetry_is_rate_limited_per_address,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.limits.anonymous_telemetry_per_minute = 3;
        })
        .await
        else {
            return;
        };
        for _ in 0..3 {
            app.query(None, RECORD, events(1, "page.viewed")).await;
        }
        let body = app.post(None, RECORD, events(1, "page.viewed")).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"].is_number(),
            "{body}"
        );

        // Another address is not affected, nor is a signed-in caller.
        let elsewhere = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        let res: Value = elsewhere
            .post(app.url("/graphql"))
            .json(&json!({ "query": RECORD, "variables": events(1, "page.viewed") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["data"]["recordTelemetry"]["recorded"], 1, "{res}");
        let user = app.register("user@example.com").await;
        for _ in 0..5 {
            app.query(Some(&user.token), RECORD, events(1, "page.viewed"))
                .await;
        }
    }
);

e2e!(
    telemetry_counts_per_name_per_day,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let today = chrono::Utc::now();
        let at = |days: i64, hour: u32| {
            use chrono::{Duration, TimeZone};
            let day = (today - Duration::days(days)).date_naive();
            chrono::Utc
                .from_utc_datetime(&day.and_hms_opt(hour, 30, 0).unwrap())
                .min(today)
                .to_rfc3339()
        };
        let mut list = Vec::new();
        for (name, days, n) in [
            ("message_sent", 2, 3),
            ("message_sent", 1, 2),
            ("session.completed", 1, 1),
            ("message_sent", 0, 4),
        ] {
            for i in 0..n {
                list.push(json!({ "name": name, "occurredAt": at(days, 1 + i) }));
            }
        }
        app.query(None, RECORD, json!({ "i": { "events": list } }))
            .await;
        let day = |days: i64| {
            (today - chrono::Duration::days(days))
                .format("%Y-%m-%d")
                .to_string()
        };
        let counts = app
            .query(
                Some(&staff.token),
                "{ telemetryCounts { name day count } }",
                json!({}),
            )
            .await;
        assert_eq!(
            counts["telemetryCounts"],
            json!([
                { "name": "message_sent", "day": day(2), "count": 3 },
                { "name": "message_sent", "day": day(1), "count": 2 },
                { "name": "session.completed", "day": day(1), "count": 1 },
                { "name": "message_sent", "day": day(0), "count": 4 },
            ]),
            "{counts:#}"
        );
        let from = format!("{}T00:00:00Z", day(1));
        let narrowed = app
            .query(
                Some(&staff.token),
                "query($f: TelemetryFilterInput) { telemetryCounts(filter: $f) { name day count } telemetryEvents(filter: $f, first: 2) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }",
                json!({ "f": { "name": "message_sent", "from": from } }),
            )
            .await;
        assert_eq!(
            narrowed["telemetryCounts"],
            json!([
                { "name": "message_sent", "day": day(1), "count": 2 },
                { "name": "message_sent", "day": day(0), "count": 4 },
            ])
        );
        assert_eq!(narrowed["telemetryEvents"]["totalCount"], 6);
        assert_eq!(narrowed["telemetryEvents"]["pageInfo"]["hasNextPage"], true);
        // The next page follows on, without repeats.
        let cursor = narrowed["telemetryEvents"]["pageInfo"]["endCursor"].clone();
        let next = app
            .query(
                Some(&staff.token),
                "query($f: TelemetryFilterInput, $a: String) { telemetryEvents(filter: $f, first: 10, after: $a) { edges { cursor } } }",
                json!({ "f": { "name": "message_sent", "from": from }, "a": cursor }),
            )
            .await;
        assert_eq!(
            next["telemetryEvents"]["edges"].as_array().unwrap().len(),
            4
        );
    }
);

e2e!(
    research_sessions_read_a_level_per_statement,
    |app: TestApp| async move {
        let staff = with_role(&app, "staff@example.com", Role::Staff).await;
        let participant = app.register("participant@example.com").await;
        let few = setup::invitation(&app, &staff).await;
        let many = setup::invitation(&app, &staff).await;
        for (invitation, sessions) in [(&few, 1), (&many, 6)] {
            for i in 0..sessions {
                let s = setup::session(&app, invitation, Some(&participant)).await;
                setup::exchange(&app, &s, Some(&participant), &format!("turn {i}")).await;
                add_note(
                    &app,
                    &staff,
                    json!({ "invitationId": gid(Kind::Invitation, invitation), "sessionId": gid(Kind::Conversation, &s), "content": "noted" }),
                )
                .await;
            }
        }
        let cost = |invitation: String| {
            let app = &app;
            let staff = &staff;
            async move {
                let vars = json!({ "f": { "invitationId": gid(Kind::Invitation, &invitation) } });
                app.query(Some(&staff.token), SESSIONS, vars.clone()).await;
                let before = app.sql_statements();
                let data = app.query(Some(&staff.token), SESSIONS, vars).await;
                (app.sql_statements() - before, data)
            }
        };
        let (one, small) = cost(few.clone()).await;
        let (six, large) = cost(many.clone()).await;
        assert_eq!(small["researchSessions"]["totalCount"], 1);
        let edges = large["researchSessions"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 6);
        assert!(edges.iter().all(|e| e["node"]["usage"]["totalCount"] == 2
            && e["node"]["observationNotes"]["totalCount"] == 1
            && e["node"]["messages"]["edges"].as_array().unwrap().len() == 2));
        assert_eq!(one, six, "statements grow with sessions: {one} vs {six}");
    }
);
