//! The audit log end to end: every mutation of the served schema leaves an `events` row (the
//! walk below calls each one and fails when the schema has a mutation it does not call), no
//! event holds a password, token, key or PIN, administrators read the log with filters (everyone
//! else is FORBIDDEN), and soft-deleted records vanish for everyone but administrators, who can
//! restore them.
//!
//! Adding a mutation: add one `walk.step("yourMutation", who, QUERY, vars).await` below, in an
//! order where what it needs exists. SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::testing::{FakeProvider, FakeReply};
use auth::ProfileMapping;
use auth::testing::FakeOAuthServer;
use colloquy_tests::{Backend, Kind, TestApp, TestUser, gid};
use core_domain::Role;
use gateway::platform::outbox::Purpose;
use persistence::sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn events(app: &TestApp) -> u64 {
    persistence::entity::events::Entity::find()
        .count(app.db().conn())
        .await
        .unwrap()
}

/// Calls mutations one by one, checking each leaves at least one new event, and remembers which
/// were called and every secret that went through.
struct Walk<'a> {
    app: &'a TestApp,
    called: BTreeSet<String>,
    secrets: Vec<String>,
}

impl Walk<'_> {
    /// Calls `mutation` with `query` as `token`'s holder (None: anonymous); it must succeed and
    /// leave an event. Returns `data`.
    async fn step(
        &mut self,
        mutation: &str,
        token: Option<&str>,
        query: &str,
        vars: Value,
    ) -> Value {
        let before = events(self.app).await;
        let body = self.app.post(token, query, vars).await;
        assert!(body.get("errors").is_none(), "{mutation}: {body:#}");
        assert!(
            body["data"][mutation].is_object(),
            "{mutation}: the query must call it: {body}"
        );
        let after = events(self.app).await;
        assert!(after > before, "{mutation} left no event");
        self.called.insert(mutation.to_owned());
        body["data"][mutation].clone()
    }

    fn secret(&mut self, s: &str) {
        self.secrets.push(s.to_owned());
    }
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

async fn user(app: &TestApp, email: &str, role: Option<Role>) -> TestUser {
    let u = app.register(email).await;
    if let Some(role) = role {
        app.promote(&u, role).await;
    }
    u
}

const INTROSPECT: &str = "{ __schema { mutationType { fields { name } } } }";

colloquy_tests::e2e_backend!(
    every_mutation_leaves_an_event_and_no_event_holds_a_secret,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        fake.set_default(FakeReply::text(["A reply."]));
        let oauth = FakeOAuthServer::start().await.unwrap();
        let provider = oauth.config(ProfileMapping::Generic);
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
            c.chat.providers.openai = Some(fake.http_config(Some("sk-server")));
            c.chat.providers.retry = RetryConfig {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(1),
            };
            c.auth.oauth_providers = vec![provider];
            // Runs stay queued, so they can be cancelled and rerun.
            c.jobs.workers = 0;
        })
        .await
        else {
            return;
        };
        let schema = app.query(None, INTROSPECT, json!({})).await;
        let mutations: BTreeSet<String> = schema["__schema"]["mutationType"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| s(&f["name"]))
            .collect();

        let ada = user(&app, "ada@example.com", None).await;
        let admin = user(&app, "admin@example.com", Some(Role::Admin)).await;
        let staff = user(&app, "staff@example.com", Some(Role::Staff)).await;
        let moderator = user(&app, "mod@example.com", Some(Role::Moderator)).await;
        let victim = user(&app, "victim@example.com", None).await;
        let bob = user(&app, "bob@example.com", None).await;
        let (a, ad, st, md) = (
            Some(ada.token.as_str()),
            Some(admin.token.as_str()),
            Some(staff.token.as_str()),
            Some(moderator.token.as_str()),
        );
        let mut walk = Walk {
            app: &app,
            called: BTreeSet::new(),
            secrets: vec![
                PASSWORD.to_owned(),
                ada.token.clone(),
                admin.token.clone(),
                staff.token.clone(),
            ],
        };

        // --- accounts -------------------------------------------------------------------------
        let walker = walk
            .step(
                "register",
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }",
                json!({ "i": { "email": "walker@example.com", "password": PASSWORD } }),
            )
            .await;
        let walker_token = s(&walker["token"]);
        walk.secret(&walker_token);
        let login = walk
            .step(
                "login",
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                json!({ "i": { "email": "ada@example.com", "password": PASSWORD } }),
            )
            .await;
        walk.secret(&s(&login["token"]));
        let other_session = app
            .query(a, "{ mySessions { id current } }", json!({}))
            .await["mySessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["current"] == false)
            .map(|x| s(&x["id"]))
            .expect("the login's session");
        walk.step(
            "revokeSession",
            a,
            "mutation($i: RevokeSessionInput!) { revokeSession(input: $i) { __typename } }",
            json!({ "i": { "id": other_session } }),
        )
        .await;
        walk.step(
            "revokeOtherSessions",
            a,
            "mutation { revokeOtherSessions { __typename } }",
            json!({}),
        )
        .await;
        let guest = walk
            .step(
                "startGuestSession",
                None,
                "mutation { startGuestSession { token } }",
                json!({}),
            )
            .await;
        walk.secret(&s(&guest["token"]));
        walk.step(
            "logout",
            Some(&s(&guest["token"])),
            "mutation { logout { __typename } }",
            json!({}),
        )
        .await;
        let token = walk
            .step(
                "createApiToken",
                a,
                "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id } } }",
                json!({ "i": { "name": "walk", "scopes": ["READ"] } }),
            )
            .await;
        walk.secret(&s(&token["token"]));
        walk.step(
            "revokeApiToken",
            a,
            "mutation($i: RevokeApiTokenInput!) { revokeApiToken(input: $i) { __typename } }",
            json!({ "i": { "id": token["apiToken"]["id"] } }),
        )
        .await;
        let contact = walk
            .step(
                "addContactMethod",
                a,
                "mutation($i: AddContactMethodInput!) { addContactMethod(input: $i) { contactMethod { id } } }",
                json!({ "i": { "type": "EMAIL", "value": "ada.two@example.com" } }),
            )
            .await["contactMethod"]["id"]
            .clone();
        walk.step(
            "resendContactVerification",
            a,
            "mutation($i: ResendContactVerificationInput!) { resendContactVerification(input: $i) { __typename } }",
            json!({ "i": { "id": contact } }),
        )
        .await;
        let verify = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("ada.two@example.com", Purpose::VerifyContact)
            .expect("a verification token");
        walk.secret(&verify);
        walk.step(
            "verifyContactMethod",
            None,
            "mutation($i: VerifyContactMethodInput!) { verifyContactMethod(input: $i) { __typename } }",
            json!({ "i": { "token": verify } }),
        )
        .await;
        walk.step(
            "setPrimaryContactMethod",
            a,
            "mutation($i: SetPrimaryContactMethodInput!) { setPrimaryContactMethod(input: $i) { __typename } }",
            json!({ "i": { "id": contact } }),
        )
        .await;
        walk.step(
            "removeContactMethod",
            a,
            "mutation($i: RemoveContactMethodInput!) { removeContactMethod(input: $i) { __typename } }",
            json!({ "i": { "id": contact } }),
        )
        .await;
        walk.secret("a brand new passphrase 1");
        walk.step(
            "changePassword",
            Some(&walker_token),
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { __typename } }",
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "a brand new passphrase 1" } }),
        )
        .await;
        walk.step(
            "requestPasswordReset",
            None,
            "mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) { __typename } }",
            json!({ "i": { "email": "walker@example.com" } }),
        )
        .await;
        let reset = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("walker@example.com", Purpose::ResetPassword)
            .expect("a reset token");
        walk.secret(&reset);
        walk.secret("a brand new passphrase 2");
        walk.step(
            "resetPassword",
            None,
            "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { __typename } }",
            json!({ "i": { "token": reset, "newPassword": "a brand new passphrase 2" } }),
        )
        .await;
        walk.step(
            "startOAuth",
            a,
            "mutation($i: StartOAuthInput!) { startOAuth(input: $i) { url } }",
            json!({ "i": { "provider": "oidc" } }),
        )
        .await;
        let identity =
            persistence::identities::link(app.db().conn(), &ada.db_id, "oidc", "ext-walk", None)
                .await
                .unwrap()
                .id;
        walk.step(
            "unlinkIdentity",
            a,
            "mutation($i: UnlinkIdentityInput!) { unlinkIdentity(input: $i) { __typename } }",
            json!({ "i": { "id": gid(Kind::ExternalIdentity, &identity) } }),
        )
        .await;
        walk.step(
            "publishDisclaimer",
            ad,
            "mutation($i: PublishDisclaimerInput!) { publishDisclaimer(input: $i) { __typename } }",
            json!({ "i": { "version": "walk-1", "text": "AI can be wrong." } }),
        )
        .await;
        walk.step(
            "acceptDisclaimer",
            a,
            "mutation($i: AcceptDisclaimerInput!) { acceptDisclaimer(input: $i) { __typename } }",
            json!({ "i": { "version": "walk-1" } }),
        )
        .await;
        walk.secret("864209");
        walk.step(
            "setAdminPin",
            ad,
            "mutation($i: SetAdminPinInput!) { setAdminPin(input: $i) { __typename } }",
            json!({ "i": { "pin": "864209" } }),
        )
        .await;
        walk.step(
            "setUserRole",
            ad,
            "mutation($i: SetUserRoleInput!) { setUserRole(input: $i) { __typename } }",
            json!({ "i": { "userId": victim.global_id, "role": "EDUCATOR", "pin": "864209" } }),
        )
        .await;
        walk.step(
            "setUserActive",
            ad,
            "mutation($i: SetUserActiveInput!) { setUserActive(input: $i) { __typename } }",
            json!({ "i": { "userId": victim.global_id, "active": false } }),
        )
        .await;
        walk.step(
            "deleteUser",
            ad,
            "mutation($i: DeleteUserInput!) { deleteUser(input: $i) { __typename } }",
            json!({ "i": { "userId": victim.global_id, "pin": "864209" } }),
        )
        .await;
        walk.step(
            "restoreRecord",
            ad,
            "mutation($i: RestoreRecordInput!) { restoreRecord(input: $i) { recordId } }",
            json!({ "i": { "id": victim.global_id } }),
        )
        .await;

        // --- catalogue ------------------------------------------------------------------------
        walk.step(
            "createPersona",
            ad,
            "mutation($i: CreatePersonaInput!) { createPersona(input: $i) { persona { id } } }",
            json!({ "i": { "slug": "walk-persona", "name": "Walker", "systemPrompt": "Be kind." } }),
        )
        .await;
        let persona = gid(Kind::Persona, "walk-persona");
        walk.step(
            "updatePersona",
            ad,
            "mutation($i: UpdatePersonaInput!) { updatePersona(input: $i) { __typename } }",
            json!({ "i": { "id": persona, "tags": ["walk"] } }),
        )
        .await;
        walk.step(
            "createRoom",
            ad,
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({ "i": { "slug": "walk-room", "name": "Walk", "purpose": "Walking", "promptType": "OPEN" } }),
        )
        .await;
        let room = gid(Kind::Room, "walk-room");
        walk.step(
            "updateRoom",
            ad,
            "mutation($i: UpdateRoomInput!) { updateRoom(input: $i) { __typename } }",
            json!({ "i": { "id": room, "tags": ["walk"] } }),
        )
        .await;
        walk.step(
            "setPersonaRooms",
            ad,
            "mutation($i: SetPersonaRoomsInput!) { setPersonaRooms(input: $i) { __typename } }",
            json!({ "i": { "personaId": persona, "roomIds": [room] } }),
        )
        .await;

        // --- conversations and chat -----------------------------------------------------------
        let conv = walk
            .step(
                "createConversation",
                a,
                "mutation($i: CreateConversationInput!) { createConversation(input: $i) { conversation { id } } }",
                json!({ "i": { "title": "Walk", "personaId": persona, "roomId": room } }),
            )
            .await["conversation"]["id"]
            .clone();
        walk.step(
            "renameConversation",
            a,
            "mutation($i: RenameConversationInput!) { renameConversation(input: $i) { __typename } }",
            json!({ "i": { "id": conv, "title": "Walked" } }),
        )
        .await;
        walk.step(
            "updateConversation",
            a,
            "mutation($i: UpdateConversationInput!) { updateConversation(input: $i) { __typename } }",
            json!({ "i": { "id": conv, "systemPrompt": "Be brief." } }),
        )
        .await;
        walk.step(
            "addMessage",
            a,
            "mutation($i: AddMessageInput!) { addMessage(input: $i) { message { id } } }",
            json!({ "i": { "conversationId": conv, "content": "Hello" } }),
        )
        .await;
        let sent = walk
            .step(
                "sendMessage",
                a,
                "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id } reply { id } } }",
                json!({ "i": { "conversationId": conv, "content": "Talk to me" } }),
            )
            .await;
        walk.step(
            "editMessage",
            a,
            "mutation($i: EditMessageInput!) { editMessage(input: $i) { reply { id } } }",
            json!({ "i": { "messageId": sent["userMessage"]["id"], "content": "Talk to me, please" } }),
        )
        .await;
        let again = walk
            .step(
                "regenerateMessage",
                a,
                "mutation($i: RegenerateMessageInput!) { regenerateMessage(input: $i) { reply { id } } }",
                json!({ "i": { "messageId": sent["reply"]["id"] } }),
            )
            .await;
        walk.step(
            "cancelMessage",
            a,
            "mutation($i: CancelMessageInput!) { cancelMessage(input: $i) { message { status } } }",
            json!({ "i": { "messageId": again["reply"]["id"] } }),
        )
        .await;
        walk.secret("sk-ant-walk-secret-key-123");
        let key = walk
            .step(
                "addApiKey",
                a,
                "mutation($i: AddApiKeyInput!) { addApiKey(input: $i) { apiKey { id } } }",
                json!({ "i": { "provider": "ANTHROPIC", "key": "sk-ant-walk-secret-key-123" } }),
            )
            .await;
        walk.step(
            "deleteApiKey",
            a,
            "mutation($i: DeleteApiKeyInput!) { deleteApiKey(input: $i) { __typename } }",
            json!({ "i": { "id": key["apiKey"]["id"] } }),
        )
        .await;
        let journal = walk
            .step(
                "saveJournal",
                a,
                "mutation($i: SaveJournalInput!) { saveJournal(input: $i) { journal { id } } }",
                json!({ "i": { "prompt": "Why?", "response": "Because.", "personaId": persona, "roomId": room } }),
            )
            .await["journal"]["id"]
            .clone();
        walk.step(
            "updateJournal",
            a,
            "mutation($i: UpdateJournalInput!) { updateJournal(input: $i) { __typename } }",
            json!({ "i": { "id": journal, "title": "Kept" } }),
        )
        .await;
        walk.step(
            "deleteJournal",
            a,
            "mutation($i: DeleteJournalInput!) { deleteJournal(input: $i) { __typename } }",
            json!({ "i": { "id": journal } }),
        )
        .await;

        // --- practice and research ------------------------------------------------------------
        walk.step(
            "createScenario",
            st,
            "mutation($i: CreateScenarioInput!) { createScenario(input: $i) { scenario { id } } }",
            json!({ "i": { "name": "Walk", "slug": "walk", "partnerPersona": "A walker", "partnerSystemPrompt": "Walk.", "coachSystemPrompt": "Coach." } }),
        )
        .await;
        let scenario = app
            .query(st, "{ scenarios { nodes { id slug } } }", json!({}))
            .await["scenarios"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["slug"] == "walk")
            .map(|x| x["id"].clone())
            .unwrap();
        walk.step(
            "updateScenario",
            st,
            "mutation($i: UpdateScenarioInput!) { updateScenario(input: $i) { __typename } }",
            json!({ "i": { "id": scenario, "description": "A walk" } }),
        )
        .await;
        let preset = walk
            .step(
                "createQuotaPreset",
                ad,
                "mutation($i: CreateQuotaPresetInput!) { createQuotaPreset(input: $i) { quotaPreset { id } } }",
                json!({ "i": { "name": "walk", "label": "Walk", "tokens": 1000 } }),
            )
            .await["quotaPreset"]["id"]
            .clone();
        walk.step(
            "updateQuotaPreset",
            ad,
            "mutation($i: UpdateQuotaPresetInput!) { updateQuotaPreset(input: $i) { __typename } }",
            json!({ "i": { "id": preset, "label": "Walking" } }),
        )
        .await;
        walk.step(
            "deleteQuotaPreset",
            ad,
            "mutation($i: DeleteQuotaPresetInput!) { deleteQuotaPreset(input: $i) { __typename } }",
            json!({ "i": { "id": preset } }),
        )
        .await;
        let invitation = walk
            .step(
                "createInvitation",
                st,
                "mutation($i: CreateInvitationInput!) { createInvitation(input: $i) { token invitation { id } } }",
                json!({ "i": { "expiresAt": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(), "quota": { "tokens": 1000 } } }),
            )
            .await;
        walk.secret(&s(&invitation["token"]));
        let claimed = walk
            .step(
                "claimInvitation",
                None,
                "mutation($i: ClaimInvitationInput!) { claimInvitation(input: $i) { auth { token } } }",
                json!({ "i": { "token": invitation["token"] } }),
            )
            .await;
        walk.secret(&s(&claimed["auth"]["token"]));
        walk.step(
            "addObservationNote",
            st,
            "mutation($i: AddObservationNoteInput!) { addObservationNote(input: $i) { observationNote { id } } }",
            json!({ "i": { "invitationId": invitation["invitation"]["id"], "content": "Noted" } }),
        )
        .await;
        let note = app
            .query(st, "{ observationNotes { nodes { id } } }", json!({}))
            .await["observationNotes"]["nodes"][0]["id"]
            .clone();
        walk.step(
            "updateObservationNote",
            st,
            "mutation($i: UpdateObservationNoteInput!) { updateObservationNote(input: $i) { __typename } }",
            json!({ "i": { "id": note, "content": "Noted again" } }),
        )
        .await;
        walk.step(
            "deleteObservationNote",
            st,
            "mutation($i: DeleteObservationNoteInput!) { deleteObservationNote(input: $i) { __typename } }",
            json!({ "i": { "id": note } }),
        )
        .await;
        walk.step(
            "recordTelemetry",
            a,
            "mutation($i: RecordTelemetryInput!) { recordTelemetry(input: $i) { recorded } }",
            json!({ "i": { "events": [{ "name": "walk.step" }] } }),
        )
        .await;
        let start = "mutation($i: StartScenarioSessionInput!) { startScenarioSession(input: $i) { session { id } } }";
        let session = walk
            .step(
                "startScenarioSession",
                a,
                start,
                json!({ "i": { "scenario": "walk" } }),
            )
            .await["session"]["id"]
            .clone();
        for (mutation, input) in [
            ("pauseSession", "PauseSessionInput"),
            ("resumeSession", "ResumeSessionInput"),
            ("completeSession", "CompleteSessionInput"),
        ] {
            walk.step(
                mutation,
                a,
                &format!("mutation($i: {input}!) {{ {mutation}(input: $i) {{ __typename }} }}"),
                json!({ "i": { "id": session } }),
            )
            .await;
        }
        let second = app
            .query(a, start, json!({ "i": { "scenario": "walk" } }))
            .await["startScenarioSession"]["session"]["id"]
            .clone();
        walk.step(
            "abandonSession",
            a,
            "mutation($i: AbandonSessionInput!) { abandonSession(input: $i) { __typename } }",
            json!({ "i": { "id": second } }),
        )
        .await;
        walk.step(
            "deactivateScenario",
            st,
            "mutation($i: DeactivateScenarioInput!) { deactivateScenario(input: $i) { __typename } }",
            json!({ "i": { "id": scenario } }),
        )
        .await;

        // --- Azora: notifications, marketplace, safety ----------------------------------------
        walk.step(
            "notifyUser",
            st,
            "mutation($i: NotifyUserInput!) { notifyUser(input: $i) { notification { id } } }",
            json!({ "i": { "userId": ada.global_id, "title": "Hello", "body": "From staff" } }),
        )
        .await;
        walk.step(
            "markNotificationsRead",
            a,
            "mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) { marked } }",
            json!({ "i": { "all": true } }),
        )
        .await;
        let skills = crate::marketplace::skills(&app).await;
        walk.step(
            "setMySkill",
            a,
            "mutation($i: SetMySkillInput!) { setMySkill(input: $i) { __typename } }",
            json!({ "i": { "skillId": skills["SQL"], "level": "ADVANCED" } }),
        )
        .await;
        walk.step(
            "removeMySkill",
            a,
            "mutation($i: RemoveMySkillInput!) { removeMySkill(input: $i) { __typename } }",
            json!({ "i": { "skillId": skills["SQL"] } }),
        )
        .await;
        let job = walk
            .step(
                "createJob",
                Some(&bob.token),
                "mutation($i: CreateJobInput!) { createJob(input: $i) { job { id } } }",
                json!({ "i": { "title": "Walker", "description": "Walks", "company": "Acme" } }),
            )
            .await["job"]["id"]
            .clone();
        walk.step(
            "setJobStatus",
            Some(&bob.token),
            "mutation($i: SetJobStatusInput!) { setJobStatus(input: $i) { __typename } }",
            json!({ "i": { "id": job, "status": "OPEN" } }),
        )
        .await;
        let application = walk
            .step(
                "applyToJob",
                a,
                "mutation($i: ApplyToJobInput!) { applyToJob(input: $i) { application { id } } }",
                json!({ "i": { "jobId": job } }),
            )
            .await["application"]["id"]
            .clone();
        walk.step(
            "moveApplication",
            Some(&bob.token),
            "mutation($i: MoveApplicationInput!) { moveApplication(input: $i) { __typename } }",
            json!({ "i": { "id": application, "status": "REVIEWING" } }),
        )
        .await;
        walk.step(
            "withdrawApplication",
            a,
            "mutation($i: WithdrawApplicationInput!) { withdrawApplication(input: $i) { __typename } }",
            json!({ "i": { "id": application } }),
        )
        .await;
        let incident = walk
            .step(
                "reportIncident",
                a,
                "mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id } } }",
                json!({ "i": { "subjectId": conv, "category": "OTHER", "description": "Odd" } }),
            )
            .await["incident"]["id"]
            .clone();
        walk.step(
            "triageIncident",
            md,
            "mutation($i: TriageIncidentInput!) { triageIncident(input: $i) { __typename } }",
            json!({ "i": { "id": incident, "status": "DISMISSED" } }),
        )
        .await;
        walk.step(
            "deleteConversation",
            a,
            "mutation($i: DeleteConversationInput!) { deleteConversation(input: $i) { __typename } }",
            json!({ "i": { "id": conv } }),
        )
        .await;
        walk.step(
            "retirePersona",
            ad,
            "mutation($i: RetirePersonaInput!) { retirePersona(input: $i) { __typename } }",
            json!({ "i": { "id": persona } }),
        )
        .await;
        walk.step(
            "retireRoom",
            ad,
            "mutation($i: RetireRoomInput!) { retireRoom(input: $i) { __typename } }",
            json!({ "i": { "id": room } }),
        )
        .await;

        // --- workspace ------------------------------------------------------------------------
        let project = walk
            .step(
                "createProject",
                a,
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }",
                json!({ "i": { "name": "Walk" } }),
            )
            .await["project"]["id"]
            .clone();
        walk.step(
            "updateProject",
            a,
            "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { __typename } }",
            json!({ "i": { "id": project, "description": "walked" } }),
        )
        .await;
        let analysis = walk
            .step(
                "createAnalysis",
                a,
                "mutation($i: CreateAnalysisInput!) { createAnalysis(input: $i) { analysis { id } } }",
                json!({ "i": { "type": "TEXT_ANALYSIS", "input": "some text", "projectId": project } }),
            )
            .await["analysis"]["id"]
            .clone();
        walk.step(
            "cancelAiRun",
            a,
            "mutation($i: CancelAiRunInput!) { cancelAiRun(input: $i) { __typename } }",
            json!({ "i": { "id": analysis } }),
        )
        .await;
        walk.step(
            "rerunAiRun",
            a,
            "mutation($i: RerunAiRunInput!) { rerunAiRun(input: $i) { __typename } }",
            json!({ "i": { "id": analysis } }),
        )
        .await;
        walk.step(
            "analyzeContract",
            a,
            "mutation($i: AnalyzeContractInput!) { analyzeContract(input: $i) { __typename } }",
            json!({ "i": { "title": "NDA", "contractType": "NDA", "text": "The parties agree." } }),
        )
        .await;
        walk.step(
            "analyzeLocalization",
            a,
            "mutation($i: AnalyzeLocalizationInput!) { analyzeLocalization(input: $i) { __typename } }",
            json!({ "i": { "productName": "Kettle", "targetMarket": "Japan" } }),
        )
        .await;
        walk.step(
            "predictCustomerBehavior",
            a,
            "mutation($i: PredictCustomerBehaviorInput!) { predictCustomerBehavior(input: $i) { __typename } }",
            json!({ "i": { "customerSegment": "students", "dataSource": { "crm": [1, 2] } } }),
        )
        .await;
        walk.step(
            "monitorCompliance",
            a,
            "mutation($i: MonitorComplianceInput!) { monitorCompliance(input: $i) { __typename } }",
            json!({ "i": { "businessType": "shop", "jurisdiction": "ZA" } }),
        )
        .await;
        walk.step(
            "generateLearningPath",
            a,
            "mutation($i: GenerateLearningPathInput!) { generateLearningPath(input: $i) { __typename } }",
            json!({ "i": { "userProfile": { "goal": "SQL" } } }),
        )
        .await;
        walk.step(
            "deleteProject",
            a,
            "mutation($i: DeleteProjectInput!) { deleteProject(input: $i) { __typename } }",
            json!({ "i": { "id": project } }),
        )
        .await;

        // --- uploads (a multipart request), posts, plans --------------------------------------
        let before = events(&app).await;
        // Workers are off here: the upload stays PENDING, which is all the walk needs.
        let uploaded = crate::uploads::send_upload(
            &app,
            &ada.token,
            "notes.txt",
            "text/plain",
            b"walk notes",
            None,
        )
        .await;
        let upload = uploaded["data"]["uploadFile"]["upload"]["id"].clone();
        assert!(upload.is_string(), "{uploaded}");
        assert!(events(&app).await > before, "uploadFile left no event");
        walk.called.insert("uploadFile".to_owned());
        walk.step(
            "deleteUpload",
            a,
            "mutation($i: DeleteUploadInput!) { deleteUpload(input: $i) { __typename } }",
            json!({ "i": { "id": upload } }),
        )
        .await;
        let post = walk
            .step(
                "createPost",
                a,
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "title": "Walking", "content": "On foot." } }),
            )
            .await["post"]["id"]
            .clone();
        for (mutation, who, extra) in [
            ("updatePost", a, json!({ "excerpt": "Short" })),
            ("publishPost", a, json!({})),
            ("featurePost", md, json!({})),
            ("unpublishPost", a, json!({})),
            ("deletePost", a, json!({})),
        ] {
            let mut input = extra;
            input["id"] = post.clone();
            let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
            walk.step(
                mutation,
                who,
                &format!(
                    "mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ __typename }} }}"
                ),
                json!({ "i": input }),
            )
            .await;
        }
        walk.step(
            "setSubscription",
            ad,
            "mutation($i: SetSubscriptionInput!) { setSubscription(input: $i) { __typename } }",
            json!({ "i": { "userId": ada.global_id, "plan": "PRO" } }),
        )
        .await;
        walk.step(
            "cancelSubscription",
            a,
            "mutation { cancelSubscription { __typename } }",
            json!({}),
        )
        .await;

        // --- finance and education ------------------------------------------------------------
        walk.step(
            "updateMyProfile",
            a,
            "mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { __typename } }",
            json!({ "i": { "bio": "Walker", "locale": "en-ZA" } }),
        )
        .await;
        walk.step(
            "createPayment",
            a,
            "mutation($i: CreatePaymentInput!) { createPayment(input: $i) { __typename } }",
            json!({ "i": { "amount": "50.00", "currency": "ZAR", "purpose": "TOP_UP", "idempotencyKey": "walk-pay-1" } }),
        )
        .await;
        let second = app
            .query(
                a,
                "mutation($i: CreatePaymentInput!) { createPayment(input: $i) { payment { id } } }",
                json!({ "i": { "amount": "10.00", "currency": "ZAR", "purpose": "TOP_UP", "idempotencyKey": "walk-pay-2" } }),
            )
            .await["createPayment"]["payment"]["id"]
            .clone();
        walk.step(
            "refundPayment",
            a,
            "mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { __typename } }",
            json!({ "i": { "paymentId": second, "idempotencyKey": "walk-refund-1" } }),
        )
        .await;
        walk.step(
            "transfer",
            a,
            "mutation($i: TransferInput!) { transfer(input: $i) { __typename } }",
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": bob.global_id, "amount": "1.00", "idempotencyKey": "walk-transfer-1" } }),
        )
        .await;
        let educator = user(&app, "educator@example.com", Some(Role::Educator)).await;
        let ed = Some(educator.token.as_str());
        let course = walk
            .step(
                "createCourse",
                ed,
                "mutation($i: CreateCourseInput!) { createCourse(input: $i) { course { id } } }",
                json!({ "i": { "title": "Walking 101" } }),
            )
            .await["course"]["id"]
            .clone();
        let module = walk
            .step(
                "addCourseModule",
                ed,
                "mutation($i: AddCourseModuleInput!) { addCourseModule(input: $i) { module { id } } }",
                json!({ "i": { "courseId": course, "title": "Steps" } }),
            )
            .await["module"]["id"]
            .clone();
        let quiz = walk
            .step(
                "createAssessment",
                ed,
                "mutation($i: CreateAssessmentInput!) { createAssessment(input: $i) { assessment { id } } }",
                json!({ "i": { "courseId": course, "type": "QUIZ", "title": "Quiz",
                    "questions": [{ "prompt": "Left or right?", "options": ["left", "right"], "answer": 0 }] } }),
            )
            .await["assessment"]["id"]
            .clone();
        let assignment = app
            .query(
                ed,
                "mutation($i: CreateAssessmentInput!) { createAssessment(input: $i) { assessment { id } } }",
                json!({ "i": { "courseId": course, "type": "ASSIGNMENT", "title": "Essay", "questions": [] } }),
            )
            .await["createAssessment"]["assessment"]["id"]
            .clone();
        walk.step(
            "setCourseStatus",
            ed,
            "mutation($i: SetCourseStatusInput!) { setCourseStatus(input: $i) { __typename } }",
            json!({ "i": { "courseId": course, "status": "PUBLISHED" } }),
        )
        .await;
        walk.step(
            "enroll",
            a,
            "mutation($i: EnrollInput!) { enroll(input: $i) { __typename } }",
            json!({ "i": { "courseId": course } }),
        )
        .await;
        walk.step(
            "completeModule",
            a,
            "mutation($i: CompleteModuleInput!) { completeModule(input: $i) { __typename } }",
            json!({ "i": { "moduleId": module } }),
        )
        .await;
        walk.step(
            "submitAssessment",
            a,
            "mutation($i: SubmitAssessmentInput!) { submitAssessment(input: $i) { __typename } }",
            json!({ "i": { "assessmentId": quiz, "answers": [0] } }),
        )
        .await;
        let essay = app
            .query(
                a,
                "mutation($i: SubmitAssessmentInput!) { submitAssessment(input: $i) { submission { id } } }",
                json!({ "i": { "assessmentId": assignment, "answers": { "text": "Walking is good." } } }),
            )
            .await["submitAssessment"]["submission"]["id"]
            .clone();
        walk.step(
            "gradeSubmission",
            ed,
            "mutation($i: GradeSubmissionInput!) { gradeSubmission(input: $i) { __typename } }",
            json!({ "i": { "submissionId": essay, "score": 80 } }),
        )
        .await;
        walk.step(
            "updateCourse",
            ed,
            "mutation($i: UpdateCourseInput!) { updateCourse(input: $i) { __typename } }",
            json!({ "i": { "courseId": course, "title": "Walking 102" } }),
        )
        .await;
        walk.step(
            "updateCourseModule",
            ed,
            "mutation($i: UpdateCourseModuleInput!) { updateCourseModule(input: $i) { __typename } }",
            json!({ "i": { "moduleId": module, "title": "Strides" } }),
        )
        .await;
        walk.step(
            "reorderCourseModules",
            ed,
            "mutation($i: ReorderCourseModulesInput!) { reorderCourseModules(input: $i) { __typename } }",
            json!({ "i": { "courseId": course, "moduleIds": [module] } }),
        )
        .await;
        let path = walk
            .step(
                "createLearningPath",
                ed,
                "mutation($i: CreateLearningPathInput!) { createLearningPath(input: $i) { learningPath { id } } }",
                json!({ "i": { "title": "Walking path", "courseIds": [course] } }),
            )
            .await["learningPath"]["id"]
            .clone();
        walk.step(
            "updateLearningPath",
            ed,
            "mutation($i: UpdateLearningPathInput!) { updateLearningPath(input: $i) { __typename } }",
            json!({ "i": { "learningPathId": path, "published": true } }),
        )
        .await;
        walk.step(
            "deleteCourseModule",
            ed,
            "mutation($i: DeleteCourseModuleInput!) { deleteCourseModule(input: $i) { __typename } }",
            json!({ "i": { "moduleId": module } }),
        )
        .await;
        walk.step(
            "deleteCourse",
            ed,
            "mutation($i: DeleteCourseInput!) { deleteCourse(input: $i) { __typename } }",
            json!({ "i": { "courseId": course } }),
        )
        .await;

        // Every mutation the schema serves was called.
        let missing: Vec<_> = mutations.difference(&walk.called).collect();
        assert!(
            missing.is_empty(),
            "these mutations have no step proving they leave an event; add a walk.step for each: {missing:#?}"
        );

        // No event holds a secret that went through the walk.
        let rows = persistence::entity::events::Entity::find()
            .all(app.db().conn())
            .await
            .unwrap();
        assert!(rows.len() as u64 >= walk.called.len() as u64);
        for row in &rows {
            let text = format!(
                "{} {} {:?} {:?} {:?}",
                row.r#type, row.payload, row.entity_type, row.entity_id, row.request_id
            );
            for secret in &walk.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "event {} ({}) holds a secret: {text}",
                    row.id,
                    row.r#type
                );
            }
        }
        // The check can fail: the same secrets are found where they are expected.
        assert!(walk.secrets.iter().any(|s| s.starts_with("sk-ant-walk")));
    }
);

colloquy_tests::e2e!(
    admins_read_the_audit_log_with_filters_and_nobody_else_does,
    |app: TestApp| async move {
        let admin = user(&app, "admin@example.com", Some(Role::Admin)).await;
        let ada = user(&app, "ada@example.com", None).await;
        let bob = user(&app, "bob@example.com", None).await;
        let start = chrono::Utc::now() - chrono::Duration::seconds(1);
        let conv = app.create_conversation(&ada, "Audited").await;
        app.create_conversation(&bob, "Bob's").await;
        let q = "query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount nodes { id action area actorId entityType entityId summary requestId createdAt } } }";

        // Everyone but admins is refused.
        let body = app.post(Some(&ada.token), q, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");

        let by_actor = app
            .query(
                Some(&admin.token),
                q,
                json!({ "f": { "actorId": ada.global_id, "action": "conversation.created" } }),
            )
            .await;
        let nodes = by_actor["auditEvents"]["nodes"].as_array().unwrap();
        assert_eq!(by_actor["auditEvents"]["totalCount"], 1, "{by_actor}");
        assert_eq!(nodes[0]["entityType"], "Conversation");
        assert_eq!(nodes[0]["entityId"], conv.as_str());
        assert_eq!(nodes[0]["area"], "conversation");
        assert_eq!(nodes[0]["actorId"], ada.global_id.as_str());
        assert_eq!(nodes[0]["summary"]["title"], "Audited");
        assert!(nodes[0]["requestId"].is_string(), "{by_actor}");

        let by_entity = app
            .query(
                Some(&admin.token),
                q,
                json!({ "f": { "entityType": "Conversation", "entityId": conv } }),
            )
            .await;
        assert_eq!(by_entity["auditEvents"]["totalCount"], 1);
        let all = app
            .query(
                Some(&admin.token),
                q,
                json!({ "f": { "action": "conversation.created" } }),
            )
            .await;
        assert_eq!(all["auditEvents"]["totalCount"], 2);
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let none = app
            .query(Some(&admin.token), q, json!({ "f": { "from": later } }))
            .await;
        assert_eq!(none["auditEvents"]["totalCount"], 0);
        let window = app
            .query(
                Some(&admin.token),
                q,
                json!({ "f": { "from": start.to_rfc3339(), "to": later, "action": "conversation.created" } }),
            )
            .await;
        assert_eq!(window["auditEvents"]["totalCount"], 2);
        // An event is a Node for admins only.
        let id = nodes[0]["id"].clone();
        let node = "query($id: ID!) { node(id: $id) { id } }";
        let seen = app
            .query(Some(&admin.token), node, json!({ "id": id }))
            .await;
        assert_eq!(seen["node"]["id"], id);
        let hidden = app.query(Some(&ada.token), node, json!({ "id": id })).await;
        assert!(hidden["node"].is_null());
    }
);

colloquy_tests::e2e!(
    deleted_records_vanish_for_everyone_but_admins_who_restore_them,
    |app: TestApp| async move {
        let admin = user(&app, "admin@example.com", Some(Role::Admin)).await;
        let ada = user(&app, "ada@example.com", None).await;
        let conv = app.create_conversation(&ada, "Gone soon").await;
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteConversation(input: { id: $id }) { __typename } }",
            json!({ "id": conv }),
        )
        .await;
        let read = "query($id: ID!) { conversation(id: $id) { id title } me { conversations { totalCount } } }";
        let gone = app
            .query(Some(&ada.token), read, json!({ "id": conv }))
            .await;
        assert!(gone["conversation"].is_null(), "{gone}");
        assert_eq!(gone["me"]["conversations"]["totalCount"], 0);

        let list = "query($t: DeletedRecordType!) { deletedRecords(type: $t) { totalCount nodes { recordId type label ownerId deletedAt } } }";
        let body = app
            .post(Some(&ada.token), list, json!({ "t": "CONVERSATION" }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let deleted = app
            .query(Some(&admin.token), list, json!({ "t": "CONVERSATION" }))
            .await;
        assert_eq!(deleted["deletedRecords"]["totalCount"], 1);
        let row = &deleted["deletedRecords"]["nodes"][0];
        assert_eq!(row["recordId"], conv.as_str());
        assert_eq!(row["label"], "Gone soon");
        assert_eq!(row["ownerId"], ada.global_id.as_str());

        let restore = "mutation($id: ID!) { restoreRecord(input: { id: $id }) { recordId type } }";
        let body = app
            .post(Some(&ada.token), restore, json!({ "id": conv }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let restored = app
            .query(Some(&admin.token), restore, json!({ "id": conv }))
            .await;
        assert_eq!(restored["restoreRecord"]["type"], "CONVERSATION");
        let back = app
            .query(Some(&ada.token), read, json!({ "id": conv }))
            .await;
        assert_eq!(back["conversation"]["title"], "Gone soon");
        // Restoring what is not deleted answers as for nothing.
        let again = app
            .post(Some(&admin.token), restore, json!({ "id": conv }))
            .await;
        assert_eq!(code(&again), "NOT_FOUND", "{again}");
        let users = app
            .query(Some(&admin.token), list, json!({ "t": "USER" }))
            .await;
        assert_eq!(users["deletedRecords"]["totalCount"], 0);
    }
);

colloquy_tests::e2e!(
    deleted_projects_and_posts_are_listed_and_restored_by_admins,
    |app: TestApp| async move {
        let admin = user(&app, "admin@example.com", Some(Role::Admin)).await;
        let ada = user(&app, "ada@example.com", None).await;
        let project = app
            .query(
                Some(&ada.token),
                "mutation { createProject(input: { name: \"Old project\" }) { project { id } } }",
                json!({}),
            )
            .await["createProject"]["project"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let post = app
            .query(
                Some(&ada.token),
                "mutation { createPost(input: { title: \"Old post\", content: \"x\" }) { post { id slug } } }",
                json!({}),
            )
            .await["createPost"]["post"]
            .clone();
        let post_id = post["id"].as_str().unwrap().to_owned();
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteProject(input: { id: $id }) { deletedProjectId } }",
            json!({ "id": project }),
        )
        .await;
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deletePost(input: { id: $id }) { deletedPostId } }",
            json!({ "id": post_id }),
        )
        .await;
        let read = "query($p: ID!, $q: ID!) { project(id: $p) { id name } node(id: $q) { id } }";
        let gone = app
            .query(
                Some(&ada.token),
                read,
                json!({ "p": project, "q": post_id }),
            )
            .await;
        assert!(
            gone["project"].is_null() && gone["node"].is_null(),
            "{gone}"
        );

        let list = "query($t: DeletedRecordType!) { deletedRecords(type: $t) { totalCount nodes { recordId type label ownerId } } }";
        let body = app
            .post(Some(&ada.token), list, json!({ "t": "POST" }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        for (t, id, label) in [
            ("PROJECT", &project, "Old project"),
            ("POST", &post_id, "Old post"),
        ] {
            let deleted = app.query(Some(&admin.token), list, json!({ "t": t })).await;
            assert_eq!(deleted["deletedRecords"]["totalCount"], 1, "{deleted}");
            let row = &deleted["deletedRecords"]["nodes"][0];
            assert_eq!(row["recordId"], id.as_str());
            assert_eq!(row["type"], t);
            assert_eq!(row["label"], label);
            assert_eq!(row["ownerId"], ada.global_id.as_str());
        }

        let restore = "mutation($id: ID!) { restoreRecord(input: { id: $id }) { recordId type } }";
        let body = app
            .post(Some(&ada.token), restore, json!({ "id": post_id }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        for id in [&project, &post_id] {
            let restored = app
                .query(Some(&admin.token), restore, json!({ "id": id }))
                .await;
            assert_eq!(restored["restoreRecord"]["recordId"], id.as_str());
            let again = app
                .post(Some(&admin.token), restore, json!({ "id": id }))
                .await;
            assert_eq!(code(&again), "NOT_FOUND", "restored once: {again}");
        }
        let back = app
            .query(
                Some(&ada.token),
                read,
                json!({ "p": project, "q": post_id }),
            )
            .await;
        assert_eq!(back["project"]["name"], "Old project", "{back}");
        assert_eq!(back["node"]["id"], post_id.as_str());
        let slug = app
            .query(
                Some(&ada.token),
                "query($s: String!) { post(slug: $s) { id } }",
                json!({ "s": post["slug"] }),
            )
            .await;
        assert_eq!(slug["post"]["id"], post_id.as_str(), "same address");
        let none = app
            .query(Some(&admin.token), list, json!({ "t": "PROJECT" }))
            .await;
        assert_eq!(none["deletedRecords"]["totalCount"], 0);
    }
);

colloquy_tests::e2e!(
    registering_records_its_event_with_the_account_and_a_refused_one_records_nothing,
    |app: TestApp| async move {
        use persistence::entity::events;
        use persistence::sea_orm::{ColumnTrait, QueryFilter};
        let registered = async |id: &str| {
            events::Entity::find()
                .filter(events::Column::Type.eq("account.registered"))
                .filter(events::Column::EntityId.eq(id))
                .count(app.db().conn())
                .await
                .unwrap()
        };
        let ada = app.register("ada@example.com").await;
        assert_eq!(registered(&ada.db_id).await, 1);
        let all = async || {
            events::Entity::find()
                .filter(events::Column::Type.eq("account.registered"))
                .count(app.db().conn())
                .await
                .unwrap()
        };
        let before = all().await;
        // The same email again: refused with the user row, so no event either.
        let body = app
            .post(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token } }",
                json!({ "i": { "email": "ada@example.com", "password": "another good passphrase" } }),
            )
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        assert_eq!(
            all().await,
            before,
            "a refused registration leaves no event"
        );
    }
);
