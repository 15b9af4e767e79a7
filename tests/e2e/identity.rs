//! Identity end to end: OAuth sign-in against a local fake provider (start, callback, replayed
//! and forged state, linking a second identity, merging a guest on conflict), guests and their
//! upgrade, API tokens and scopes, sessions, contact methods, the password lifecycle, roles,
//! deactivation, the admin PIN, the disclaimer and attempt limits.

use auth::ProfileMapping;
use auth::testing::{FakeOAuthServer, FakeUser};
use colloquy_tests::{Backend, TestApp, TestUser, e2e, e2e_backend};
use core_domain::Role;
use gateway::platform::outbox::Purpose;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// A server whose only OAuth provider is a fresh fake (`oidc`).
pub async fn with_fake_oauth(backend: Backend) -> Option<(TestApp, FakeOAuthServer)> {
    let fake = FakeOAuthServer::start().await.expect("fake OAuth server");
    let provider = fake.config(ProfileMapping::Generic);
    let app = TestApp::spawn_with(backend, |c| c.auth.oauth_providers = vec![provider]).await?;
    Some((app, fake))
}

/// GET a path of the app, as a browser-less client asking for JSON.
pub async fn get_json(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .get(app.url(path))
        .header("accept", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The redirect the provider sent, replayed against the app's callback.
pub fn callback_path(callback: &url::Url) -> String {
    format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap_or_default()
    )
}

/// start → approve at the fake provider → callback; returns the callback's JSON.
pub async fn oauth_sign_in(app: &TestApp, fake: &FakeOAuthServer, token: Option<&str>) -> Value {
    let (status, start) = get_json(app, "/auth/oidc/start", token).await;
    assert_eq!(status, 200, "{start}");
    let callback = fake
        .approve(start["url"].as_str().expect("url"))
        .await
        .expect("the fake provider approves");
    let (status, body) = get_json(app, &callback_path(&callback.url), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

e2e_backend!(
    oauth_sign_in_link_replay_and_forgery,
    |backend| async move {
        let Some((app, fake)) = with_fake_oauth(backend).await else {
            return;
        };
        let providers = app
            .query(None, "{ oauthProviders { id kind } }", json!({}))
            .await;
        assert_eq!(
            providers["oauthProviders"],
            json!([{ "id": "oidc", "kind": "OIDC" }])
        );

        // A browser without JSON is redirected to the provider.
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/auth/oidc/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303);
        assert!(
            res.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with(fake.base_url())
        );

        // start → callback → signed in as a new USER with the verified email.
        let (_, start) = get_json(&app, "/auth/oidc/start", None).await;
        let callback = fake.approve(start["url"].as_str().unwrap()).await.unwrap();
        let path = callback_path(&callback.url);
        let (status, signed) = get_json(&app, &path, None).await;
        assert_eq!(status, 200, "{signed}");
        assert_eq!(signed["linked"], true);
        let token = signed["token"].as_str().unwrap().to_owned();
        let me = app
            .query(
                Some(&token),
                "{ me { id email role name } myIdentities { provider externalId } }",
                json!({}),
            )
            .await;
        assert_eq!(me["me"]["email"], "ada@example.com");
        assert_eq!(me["me"]["role"], "USER");
        assert_eq!(me["me"]["name"], "Ada Lovelace");
        assert_eq!(
            me["myIdentities"],
            json!([{ "provider": "oidc", "externalId": "1815" }])
        );
        let user_id = me["me"]["id"].as_str().unwrap().to_owned();

        // The same redirect again: the state was used up.
        let (status, replay) = get_json(&app, &path, None).await;
        assert_eq!(status, 400, "{replay}");
        assert_eq!(code(&replay), "BAD_USER_INPUT");

        // A state the server never issued.
        let (_, start) = get_json(&app, "/auth/oidc/start", None).await;
        let callback = fake.approve(start["url"].as_str().unwrap()).await.unwrap();
        let forged = format!(
            "/auth/oidc/callback?code={}&state=forged-state",
            callback.code
        );
        let (status, body) = get_json(&app, &forged, None).await;
        assert_eq!(status, 400, "{body}");
        // ... nor does a real state work for another provider or with the provider's error.
        let (status, _) = get_json(&app, "/auth/elsewhere/start", None).await;
        assert_eq!(status, 404);
        let (status, _) = get_json(
            &app,
            "/auth/oidc/callback?error=access_denied&state=x",
            None,
        )
        .await;
        assert_eq!(status, 400);

        // Signing in again with the same identity signs in the same user, without linking.
        let again = oauth_sign_in(&app, &fake, None).await;
        assert_eq!(again["user"]["id"], user_id.as_str());
        assert_eq!(again["linked"], false);

        // A second identity (another account at the provider) linked while signed in.
        fake.set_user(FakeUser::new(4242, "ada-work").with_email("ada@work.example", true));
        let linked = oauth_sign_in(&app, &fake, Some(&token)).await;
        assert_eq!(
            linked["user"]["id"],
            user_id.as_str(),
            "linked to the caller"
        );
        assert_eq!(linked["linked"], true);
        let ids = app
            .query(
                Some(&token),
                "{ myIdentities { externalId } me { email } }",
                json!({}),
            )
            .await;
        assert_eq!(ids["myIdentities"].as_array().unwrap().len(), 2);
        assert_eq!(
            ids["me"]["email"], "ada@example.com",
            "linking keeps the email"
        );

        // Another full user cannot take over an identity that is someone else's.
        let bob = app.register("bob@example.com").await;
        let (_, start) = get_json(&app, "/auth/oidc/start", Some(&bob.token)).await;
        let callback = fake.approve(start["url"].as_str().unwrap()).await.unwrap();
        let (status, body) = get_json(&app, &callback_path(&callback.url), None).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(code(&body), "CONFLICT");

        // The GraphQL way to start gives a provider URL too.
        let started = app
            .query(
                None,
                "mutation { startOAuth(input: { provider: \"oidc\" }) { url } }",
                json!({}),
            )
            .await;
        assert!(
            started["startOAuth"]["url"]
                .as_str()
                .unwrap()
                .starts_with(fake.base_url())
        );
    }
);

/// Counts rows of `table` whose `column` is `id`.
async fn count_rows(app: &TestApp, table: &str, column: &str, id: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().conn();
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1")
        }
        _ => format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?"),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn add_verified_contact(app: &TestApp, token: &str, value: &str, primary: bool) -> String {
    let added = app
        .query(
            Some(token),
            "mutation($i: AddContactMethodInput!) { addContactMethod(input: $i) { contactMethod { id type verified primary } } }",
            json!({ "i": { "type": "EMAIL", "value": value } }),
        )
        .await;
    let added = &added["addContactMethod"]["contactMethod"];
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["verified"], false);
    assert_eq!(added["type"], "EMAIL");
    let sent = app
        .state
        .services
        .accounts
        .outbox()
        .last_to(value, Purpose::VerifyContact)
        .expect("a verification token was sent");
    let verified = app
        .query(
            None,
            "mutation($t: String!) { verifyContactMethod(input: { token: $t }) { contactMethod { id verified } } }",
            json!({ "t": sent }),
        )
        .await;
    let verified = &verified["verifyContactMethod"]["contactMethod"];
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["id"], id.as_str());
    if primary {
        app.query(
            Some(token),
            "mutation($id: ID!) { setPrimaryContactMethod(input: { id: $id }) { contactMethod { primary } } }",
            json!({ "id": id }),
        )
        .await;
    }
    id
}

e2e_backend!(
    guest_signing_in_with_a_linked_identity_is_merged,
    |backend| async move {
        let Some((app, fake)) = with_fake_oauth(backend).await else {
            return;
        };
        // The existing account, with data of its own.
        let first = oauth_sign_in(&app, &fake, None).await;
        let owner = TestUser::new(
            first["user"]["id"].as_str().unwrap(),
            "ada@example.com",
            first["token"].as_str().unwrap(),
        );
        let owners_chat = app.create_conversation(&owner, "Owner's").await;
        app.add_message(&owner, &owners_chat, "mine").await;
        add_verified_contact(&app, &owner.token, "ada.primary@example.com", true).await;

        // A guest on another device, with data of its own.
        let guest = app
            .query(
                None,
                "mutation { startGuestSession { token user { id role email } } }",
                json!({}),
            )
            .await;
        assert_eq!(guest["startGuestSession"]["user"]["role"], "GUEST");
        assert!(guest["startGuestSession"]["user"]["email"].is_null());
        let guest = TestUser::new(
            guest["startGuestSession"]["user"]["id"].as_str().unwrap(),
            "",
            guest["startGuestSession"]["token"].as_str().unwrap(),
        );
        let guests_chat = app.create_conversation(&guest, "Guest's").await;
        let guests_message = app
            .add_message(&guest, &guests_chat, "from the guest")
            .await;
        add_verified_contact(&app, &guest.token, "ada.guest@example.com", true).await;

        // The guest signs in with the identity the owner already holds.
        let merged = oauth_sign_in(&app, &fake, Some(&guest.token)).await;
        assert_eq!(merged["user"]["id"], owner.global_id.as_str());
        assert_eq!(merged["mergedGuestId"], guest.global_id.as_str());
        let token = merged["token"].as_str().unwrap();

        let data = app
        .query(
            Some(token),
            "{ me { conversations(first: 10) { edges { node { id title owner { id } messages { edges { node { id userId author { id } } } } } } } }
               myContactMethods { value primary } }",
            json!({}),
        )
        .await;
        let chats = data["me"]["conversations"]["edges"].as_array().unwrap();
        let titles: Vec<_> = chats
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(chats.len(), 2, "both sides' conversations: {titles:?}");
        let moved = chats
            .iter()
            .find(|e| e["node"]["id"] == guests_chat.as_str())
            .expect("the guest's conversation moved");
        assert_eq!(
            moved["node"]["messages"]["edges"][0]["node"]["id"],
            guests_message.as_str()
        );
        let moved_message = &moved["node"]["messages"]["edges"][0]["node"];
        assert_eq!(moved_message["userId"], owner.global_id.as_str());
        assert_eq!(moved_message["author"]["id"], owner.global_id.as_str());
        assert_eq!(moved["node"]["owner"]["id"], owner.global_id.as_str());
        let contacts = data["myContactMethods"].as_array().unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(
            contacts.iter().filter(|c| c["primary"] == true).count(),
            1,
            "one primary per type survives: {contacts:?}"
        );

        // The guest is gone, and nothing points at it any more.
        let body = app
            .post(Some(&guest.token), "{ mySessions { id } }", json!({}))
            .await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
        assert_eq!(count_rows(&app, "users", "id", &guest.db_id).await, 0);
        for (table, column, _) in persistence::identities::USER_REFERENCES {
            assert_eq!(
                count_rows(&app, table, column, &guest.db_id).await,
                0,
                "{table}.{column}"
            );
        }
        assert_eq!(
            count_rows(&app, "contact_methods", "user_id", &guest.db_id).await,
            0
        );

        // The merge's list of user references covers every foreign key to users in the
        // database (sessions excepted: a guest's sessions end with it; contact methods are
        // moved separately).
        let mut expected: std::collections::BTreeSet<(String, String)> =
            persistence::identities::USER_REFERENCES
                .iter()
                .map(|(t, c, _)| ((*t).to_owned(), (*c).to_owned()))
                .collect();
        expected.insert(("contact_methods".into(), "user_id".into()));
        expected.insert(("sessions".into(), "user_id".into()));
        assert_eq!(foreign_keys_to_users(&app).await, expected);
    }
);

/// Every (table, column) with a foreign key to `users`, from the database catalogue.
async fn foreign_keys_to_users(app: &TestApp) -> std::collections::BTreeSet<(String, String)> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().conn();
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT kcu.table_name AS t, kcu.column_name AS c \
             FROM information_schema.referential_constraints rc \
             JOIN information_schema.key_column_usage kcu \
               ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema \
             JOIN information_schema.constraint_column_usage ccu \
               ON ccu.constraint_name = rc.unique_constraint_name AND ccu.constraint_schema = rc.unique_constraint_schema \
             WHERE ccu.table_name = 'users' AND kcu.table_schema = current_schema()"
        }
        _ => {
            "SELECT m.name AS t, f.\"from\" AS c FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.\"table\" = 'users'"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "t").unwrap(),
                r.try_get::<String>("", "c").unwrap(),
            )
        })
        .collect()
}

e2e_backend!(
    a_guest_keeps_its_data_when_it_signs_in_with_a_new_identity,
    |backend| async move {
        let Some((app, fake)) = with_fake_oauth(backend).await else {
            return;
        };
        let guest = app
            .query(
                None,
                "mutation { startGuestSession { token user { id } } }",
                json!({}),
            )
            .await;
        let guest = TestUser::new(
            guest["startGuestSession"]["user"]["id"].as_str().unwrap(),
            "",
            guest["startGuestSession"]["token"].as_str().unwrap(),
        );
        let chat = app.create_conversation(&guest, "Kept").await;
        let signed = oauth_sign_in(&app, &fake, Some(&guest.token)).await;
        assert_eq!(
            signed["user"]["id"],
            guest.global_id.as_str(),
            "the same record"
        );
        assert_eq!(signed["user"]["role"], "USER");
        assert_eq!(signed["user"]["email"], "ada@example.com");
        let token = signed["token"].as_str().unwrap();
        let data = app
            .query(
                Some(token),
                "query($id: ID!) { conversation(id: $id) { title } }",
                json!({ "id": chat }),
            )
            .await;
        assert_eq!(data["conversation"]["title"], "Kept");
    }
);

e2e!(
    guests_upgrade_in_place_by_registering,
    |app: TestApp| async move {
        let guest = app
            .query(
                None,
                "mutation { startGuestSession { token user { id role } } }",
                json!({}),
            )
            .await;
        let token = guest["startGuestSession"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = guest["startGuestSession"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let guest_user = TestUser::new(&id, "", &token);
        let chat = app.create_conversation(&guest_user, "Before sign-up").await;

        // Guests may not mint long-lived credentials.
        let code = app
            .error_code(
                Some(&token),
                "mutation { createApiToken(input: { name: \"x\", scopes: [READ] }) { token } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");

        let reg = app
        .query(
            Some(&token),
            "mutation($i: RegisterInput!) { register(input: $i) { token user { id role email } } }",
            json!({ "i": { "email": "grace@example.com", "password": PASSWORD } }),
        )
        .await;
        assert_eq!(
            reg["register"]["user"]["id"],
            id.as_str(),
            "the guest row was upgraded"
        );
        assert_eq!(reg["register"]["user"]["role"], "USER");
        let new_token = reg["register"]["token"].as_str().unwrap();
        let data = app
            .query(
                Some(new_token),
                "query($id: ID!) { conversation(id: $id) { title } }",
                json!({ "id": chat }),
            )
            .await;
        assert_eq!(data["conversation"]["title"], "Before sign-up");
        app.query(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({ "i": { "email": "grace@example.com", "password": PASSWORD } }),
        )
        .await;
    }
);

e2e!(
    api_tokens_scopes_last_use_and_revocation,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let created = app
        .query(
            Some(&ada.token),
            "mutation { createApiToken(input: { name: \"ci\", scopes: [READ] }) { token apiToken { id prefix scopes lastUsedAt } } }",
            json!({}),
        )
        .await;
        let read_only = created["createApiToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let read_id = created["createApiToken"]["apiToken"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(read_only.starts_with("cq_pat_"));
        assert!(
            read_only.starts_with(
                created["createApiToken"]["apiToken"]["prefix"]
                    .as_str()
                    .unwrap()
            )
        );
        assert!(created["createApiToken"]["apiToken"]["lastUsedAt"].is_null());

        // Usable as a bearer token for reads...
        let me = app
            .query(Some(&read_only), "{ me { id } }", json!({}))
            .await;
        assert_eq!(me["me"]["id"], ada.global_id.as_str());
        // ...but not for mutations.
        let code = app
            .error_code(
                Some(&read_only),
                "mutation { createConversation(input: {}) { conversation { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");
        // A read token cannot mint a write token either (it cannot run mutations at all).
        let code = app
            .error_code(
                Some(&read_only),
                "mutation { createApiToken(input: { name: \"x\", scopes: [WRITE] }) { token } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");

        let writer = app
        .query(
            Some(&ada.token),
            "mutation { createApiToken(input: { name: \"bot\", scopes: [READ, WRITE] }) { token } }",
            json!({}),
        )
        .await["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
        app.query(
            Some(&writer),
            "mutation { createConversation(input: {}) { conversation { id } } }",
            json!({}),
        )
        .await;

        // Listed with last use; never with the token itself.
        let list = app
            .post(
                Some(&ada.token),
                "{ myApiTokens { id name scopes lastUsedAt } }",
                json!({}),
            )
            .await;
        let tokens = list["data"]["myApiTokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t["lastUsedAt"].is_string()), "{list}");
        assert!(!list.to_string().contains(&read_only));

        // An admin's token without the admin scope acts as a plain user.
        app.promote(&ada, Role::Admin).await;
        let code = app
            .error_code(
                Some(&writer),
                "{ users(first: 5) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");

        // Revoked: UNAUTHENTICATED at once.
        let revoked = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { revokeApiToken(input: { id: $id }) { revokedApiTokenId } }",
                json!({ "id": read_id }),
            )
            .await;
        assert_eq!(
            revoked["revokeApiToken"]["revokedApiTokenId"],
            read_id.as_str()
        );
        let body = app
            .post(Some(&read_only), "{ mySessions { id } }", json!({}))
            .await;
        assert_eq!(code_of(&body), "UNAUTHENTICATED");

        // Expired tokens too.
        let past = app
        .error_code(
            Some(&ada.token),
            "mutation { createApiToken(input: { name: \"old\", scopes: [READ], expiresAt: \"2000-01-01T00:00:00Z\" }) { token } }",
            json!({}),
        )
        .await;
        assert_eq!(past, "BAD_USER_INPUT");
    }
);

fn code_of(body: &Value) -> String {
    code(body).to_owned()
}

e2e!(
    sessions_list_revoke_and_revoke_others,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
        let creds = json!({ "i": { "email": "ada@example.com", "password": PASSWORD } });
        let second = app.query(None, login, creds.clone()).await["login"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let third = app.query(None, login, creds).await["login"]["token"]
            .as_str()
            .unwrap()
            .to_owned();

        let list = app
            .query(
                Some(&ada.token),
                "{ mySessions { id current ipAddress } }",
                json!({}),
            )
            .await;
        let sessions = list["mySessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 3);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].clone();

        let revoked = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { revokeSession(input: { id: $id }) { revokedSessionId } }",
                json!({ "id": other }),
            )
            .await;
        assert_eq!(revoked["revokeSession"]["revokedSessionId"], other);
        let remaining = app
            .query(Some(&ada.token), "{ mySessions { id } }", json!({}))
            .await;
        assert_eq!(remaining["mySessions"].as_array().unwrap().len(), 2);

        let ended = app
            .query(
                Some(&ada.token),
                "mutation { revokeOtherSessions { revokedSessionCount } }",
                json!({}),
            )
            .await;
        assert_eq!(ended["revokeOtherSessions"]["revokedSessionCount"], 1);
        for t in [&second, &third] {
            let body = app.post(Some(t), "{ mySessions { id } }", json!({})).await;
            assert_eq!(code_of(&body), "UNAUTHENTICATED");
        }
        app.query(Some(&ada.token), "{ me { id } }", json!({}))
            .await;
    }
);

e2e!(
    contact_methods_verify_primary_remove,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let first = add_verified_contact(&app, &ada.token, "a1@example.com", true).await;
        let second = add_verified_contact(&app, &ada.token, "a2@example.com", false).await;

        // A verification token works once.
        let resent = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { resendContactVerification(input: { id: $id }) { contactMethod { id value } } }",
                json!({ "id": second }),
            )
            .await;
        assert_eq!(
            resent["resendContactVerification"]["contactMethod"]["value"],
            "a2@example.com"
        );
        let token = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("a2@example.com", Purpose::VerifyContact)
            .unwrap();
        let verify = "mutation($t: String!) { verifyContactMethod(input: { token: $t }) { contactMethod { id } } }";
        app.query(None, verify, json!({ "t": token })).await;
        assert_eq!(
            app.error_code(None, verify, json!({ "t": token })).await,
            "BAD_USER_INPUT"
        );

        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { setPrimaryContactMethod(input: { id: $id }) { contactMethod { primary } } }",
            json!({ "id": second }),
        )
        .await;
        let list = app
            .query(
                Some(&ada.token),
                "{ myContactMethods { id primary } }",
                json!({}),
            )
            .await;
        let primaries: Vec<_> = list["myContactMethods"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["primary"] == true)
            .map(|c| c["id"].clone())
            .collect();
        assert_eq!(
            primaries,
            vec![json!(second)],
            "exactly one primary per type"
        );

        // Unverified methods cannot be primary; a registered value cannot be added twice.
        let add = "mutation($i: AddContactMethodInput!) { addContactMethod(input: $i) { contactMethod { id type } } }";
        let third = app
            .query(
                Some(&ada.token),
                add,
                json!({ "i": { "type": "PHONE", "value": "+15550100" } }),
            )
            .await["addContactMethod"]["contactMethod"]
            .clone();
        assert_eq!(third["type"], "PHONE");
        let code = app
            .error_code(
                Some(&ada.token),
                "mutation($id: ID!) { setPrimaryContactMethod(input: { id: $id }) { contactMethod { id } } }",
                json!({ "id": third["id"] }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
        let bob = app.register("bob@example.com").await;
        let code = app
            .error_code(
                Some(&bob.token),
                add,
                json!({ "i": { "type": "EMAIL", "value": "A1@example.com" } }),
            )
            .await;
        assert_eq!(code, "CONFLICT");
        // The type is a closed enum: anything else fails validation, before any resolver runs.
        let body = app
            .post(
                Some(&bob.token),
                add,
                json!({ "i": { "type": "PIGEON", "value": "roof" } }),
            )
            .await;
        assert!(body["data"].is_null(), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ContactMethodType"),
            "{body}"
        );

        let removed = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { removeContactMethod(input: { id: $id }) { removedContactMethodId } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(
            removed["removeContactMethod"]["removedContactMethodId"],
            first.as_str()
        );
        let list = app
            .query(Some(&ada.token), "{ myContactMethods { id } }", json!({}))
            .await;
        assert_eq!(list["myContactMethods"].as_array().unwrap().len(), 2);
    }
);

e2e!(
    password_change_and_single_use_reset,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
        let other = app
            .query(
                None,
                login,
                json!({ "i": { "email": "ada@example.com", "password": PASSWORD } }),
            )
            .await["login"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let change =
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { user { email } } }";
        let code = app
        .error_code(Some(&ada.token), change, json!({ "i": { "currentPassword": "wrong password!", "newPassword": "a brand new passphrase" } }))
        .await;
        assert_eq!(code, "BAD_USER_INPUT");
        let changed = app.query(Some(&ada.token), change, json!({ "i": { "currentPassword": PASSWORD, "newPassword": "a brand new passphrase" } }))
        .await;
        assert_eq!(
            changed["changePassword"]["user"]["email"],
            "ada@example.com"
        );
        assert_eq!(
            code_of(
                &app.post(Some(&other), "{ mySessions { id } }", json!({}))
                    .await
            ),
            "UNAUTHENTICATED",
            "other sessions end"
        );
        app.query(Some(&ada.token), "{ me { id } }", json!({}))
            .await;

        // Reset: the answer does not reveal whether the account exists.
        let request =
            "mutation($e: String!) { requestPasswordReset(input: { email: $e }) { success } }";
        let nobody = app
            .query(None, request, json!({ "e": "nobody@example.com" }))
            .await;
        let somebody = app
            .query(None, request, json!({ "e": "ada@example.com" }))
            .await;
        assert_eq!(nobody, somebody, "the same answer either way");
        let token = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("ada@example.com", Purpose::ResetPassword)
            .unwrap();
        assert!(
            app.state
                .services
                .accounts
                .outbox()
                .last_to("nobody@example.com", Purpose::ResetPassword)
                .is_none()
        );
        let reset = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { success } }";
        app.query(
            None,
            reset,
            json!({ "i": { "token": token, "newPassword": "reset to this phrase" } }),
        )
        .await;
        assert_eq!(
            app.error_code(
                None,
                reset,
                json!({ "i": { "token": token, "newPassword": "and again this phrase" } })
            )
            .await,
            "BAD_USER_INPUT",
            "a reset token works once"
        );
        assert_eq!(
            code_of(
                &app.post(Some(&ada.token), "{ mySessions { id } }", json!({}))
                    .await
            ),
            "UNAUTHENTICATED",
            "a reset ends every session"
        );
        app.query(
            None,
            login,
            json!({ "i": { "email": "ada@example.com", "password": "reset to this phrase" } }),
        )
        .await;
    }
);

e2e!(
    roles_deactivation_pin_and_deletion,
    |app: TestApp| async move {
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, Role::Admin).await;
        let bob = app.register("bob@example.com").await;
        let set_role = "mutation($u: ID!, $p: String!) { setUserRole(input: { userId: $u, role: STAFF, pin: $p }) { user { role } } }";

        // Not admins: FORBIDDEN.
        assert_eq!(
            app.error_code(
                Some(&bob.token),
                "mutation { setAdminPin(input: { pin: \"1234\" }) { success } }",
                json!({})
            )
            .await,
            "FORBIDDEN"
        );
        // No PIN yet: destructive actions refused.
        assert_eq!(
            app.error_code(
                Some(&admin.token),
                set_role,
                json!({ "u": bob.global_id, "p": "1234" })
            )
            .await,
            "FORBIDDEN"
        );
        app.query(
            Some(&admin.token),
            "mutation { setAdminPin(input: { pin: \"123456\" }) { success } }",
            json!({}),
        )
        .await;
        let pin_set = app
            .query(Some(&admin.token), "{ adminPinSet }", json!({}))
            .await;
        assert_eq!(pin_set["adminPinSet"], true);
        // Changing the PIN needs the current one.
        assert_eq!(
            app.error_code(
                Some(&admin.token),
                "mutation { setAdminPin(input: { pin: \"654321\" }) { success } }",
                json!({})
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.error_code(
                Some(&admin.token),
                "mutation { setAdminPin(input: { pin: \"654321\", currentPin: \"000000\" }) { success } }",
                json!({})
            )
            .await,
            "FORBIDDEN"
        );
        app.query(
            Some(&admin.token),
            "mutation { setAdminPin(input: { pin: \"654321\", currentPin: \"123456\" }) { success } }",
            json!({}),
        )
        .await;

        assert_eq!(
            app.error_code(
                Some(&admin.token),
                set_role,
                json!({ "u": bob.global_id, "p": "123456" })
            )
            .await,
            "FORBIDDEN"
        );
        let changed = app
            .query(
                Some(&admin.token),
                set_role,
                json!({ "u": bob.global_id, "p": "654321" }),
            )
            .await;
        assert_eq!(changed["setUserRole"]["user"]["role"], "STAFF");

        // Deactivation ends the sessions at once; reactivation lets the user sign in again.
        let deactivate = "mutation($u: ID!, $a: Boolean!) { setUserActive(input: { userId: $u, active: $a }) { user { isActive } } }";
        app.query(
            Some(&admin.token),
            deactivate,
            json!({ "u": bob.global_id, "a": false }),
        )
        .await;
        assert_eq!(
            code_of(
                &app.post(Some(&bob.token), "{ mySessions { id } }", json!({}))
                    .await
            ),
            "UNAUTHENTICATED"
        );
        let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
        let creds = json!({ "i": { "email": "bob@example.com", "password": PASSWORD } });
        assert_eq!(
            app.error_code(None, login, creds.clone()).await,
            "UNAUTHENTICATED"
        );
        app.query(
            Some(&admin.token),
            deactivate,
            json!({ "u": bob.global_id, "a": true }),
        )
        .await;
        app.query(None, login, creds.clone()).await;

        let delete = "mutation($u: ID!, $p: String!) { deleteUser(input: { userId: $u, pin: $p }) { deletedUserId } }";
        assert_eq!(
            app.error_code(
                Some(&admin.token),
                delete,
                json!({ "u": bob.global_id, "p": "111111" })
            )
            .await,
            "FORBIDDEN"
        );
        let deleted = app
            .query(
                Some(&admin.token),
                delete,
                json!({ "u": bob.global_id, "p": "654321" }),
            )
            .await;
        assert_eq!(
            deleted["deleteUser"]["deletedUserId"],
            bob.global_id.as_str()
        );
        assert_eq!(app.error_code(None, login, creds).await, "UNAUTHENTICATED");
        let gone = app
            .query(
                Some(&admin.token),
                "query($id: ID!) { user(id: $id) { id } }",
                json!({ "id": bob.global_id }),
            )
            .await;
        assert!(
            gone["user"].is_null(),
            "a deleted user is not found: {gone}"
        );
    }
);

e2e_backend!(disclaimer_acceptance, |backend| async move {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.auth.disclaimer_version = Some("2025-01".into())
    })
    .await
    else {
        return;
    };
    let ada = app.register("ada@example.com").await;
    let d = app
        .query(None, "{ disclaimer { requiredVersion } }", json!({}))
        .await;
    assert_eq!(d["disclaimer"]["requiredVersion"], "2025-01");
    // Every AI call is refused until the current version is accepted: a new message, an edit
    // and a regeneration (the message edited and regenerated is stored without AI).
    let conversation = app.create_conversation(&ada, "Hello").await;
    let stored = app.add_message(&ada, &conversation, "Hi there").await;
    let ai_calls = [
        (
            "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"Hi\" }) { reply { id } } }",
            json!({ "c": conversation }),
        ),
        (
            "mutation($m: ID!) { editMessage(input: { messageId: $m, content: \"Hi again\" }) { reply { id } } }",
            json!({ "m": stored }),
        ),
        (
            "mutation($m: ID!) { regenerateMessage(input: { messageId: $m }) { reply { id } } }",
            json!({ "m": stored }),
        ),
    ];
    for (query, vars) in &ai_calls {
        let body = app.post(Some(&ada.token), query, vars.clone()).await;
        let ext = &body["errors"][0]["extensions"];
        assert_eq!(ext["code"], "FORBIDDEN", "{query}: {body}");
        assert_eq!(ext["reason"], "DISCLAIMER_REQUIRED", "{query}: {body}");
        assert_eq!(ext["disclaimerVersion"], "2025-01", "{query}: {body}");
    }
    let accept = "mutation($v: String!) { acceptDisclaimer(input: { version: $v }) { user { disclaimerAccepted disclaimerVersion } } }";
    assert_eq!(
        app.error_code(Some(&ada.token), accept, json!({ "v": "2024-01" }))
            .await,
        "BAD_USER_INPUT"
    );
    let accepted = app
        .query(Some(&ada.token), accept, json!({ "v": "2025-01" }))
        .await;
    let user = &accepted["acceptDisclaimer"]["user"];
    assert_eq!(user["disclaimerAccepted"], true);
    assert_eq!(user["disclaimerVersion"], "2025-01");
    // Accepted: the same calls now go through.
    for (query, vars) in &ai_calls {
        let body = app.post(Some(&ada.token), query, vars.clone()).await;
        assert!(body["errors"].is_null(), "{query}: {body}");
    }
});

e2e_backend!(login_and_token_attempts_are_limited, |backend| async move {
    let Some(app) = TestApp::spawn_with(backend, |c| c.auth.attempts_per_minute = 3).await else {
        return;
    };
    app.register("ada@example.com").await;
    let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
    let wrong = json!({ "i": { "email": "ada@example.com", "password": "not the password" } });
    for _ in 0..3 {
        assert_eq!(
            app.error_code(None, login, wrong.clone()).await,
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        app.error_code(None, login, wrong).await,
        "RATE_LIMITED",
        "per account"
    );
    let right = json!({ "i": { "email": "ada@example.com", "password": PASSWORD } });
    assert_eq!(
        app.error_code(None, login, right).await,
        "RATE_LIMITED",
        "even with the right password"
    );

    let verify = "mutation($t: String!) { verifyContactMethod(input: { token: $t }) { contactMethod { id } } }";
    let mut codes = Vec::new();
    for n in 0..16 {
        codes.push(
            app.error_code(None, verify, json!({ "t": format!("cq_ev_guess{n}") }))
                .await,
        );
    }
    assert!(
        codes.iter().take(15).all(|c| c == "BAD_USER_INPUT"),
        "{codes:?}"
    );
    assert_eq!(codes[15], "RATE_LIMITED", "per address");
});

e2e_backend!(
    oauth_finishes_on_another_instance_and_expired_states_are_refused,
    |backend| async move {
        let Some((app, fake)) = with_fake_oauth(backend).await else {
            return;
        };
        // A second gateway over the same database: pending sign-ins live in the database, so the
        // provider's redirect may land on either instance.
        let config = (*app.state.services.config).clone();
        let db = persistence::Db::connect(&config.database).await.unwrap();
        let peer = gateway::app::state(config, db).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer_addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gateway::app::run(peer, listener, async move {
            let _ = stopped.await;
        }));

        let (_, start) = get_json(&app, "/auth/oidc/start", None).await;
        let callback = fake.approve(start["url"].as_str().unwrap()).await.unwrap();
        let res = app
            .http
            .get(format!(
                "http://{peer_addr}{}",
                callback_path(&callback.url)
            ))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let signed: Value = res.json().await.unwrap();
        assert!(signed["token"].as_str().unwrap().starts_with("cq_s_"));
        // ... once: the first instance refuses the same redirect now.
        let (status, _) = get_json(&app, &callback_path(&callback.url), None).await;
        assert_eq!(status, 400);

        // Only a hash of the state is stored.
        use sea_orm::EntityTrait;
        let (_, start) = get_json(&app, "/auth/oidc/start", None).await;
        let rows = persistence::entity::oauth_states::Entity::find()
            .all(app.db().conn())
            .await
            .unwrap();
        let url = url::Url::parse(start["url"].as_str().unwrap()).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        assert!(
            rows.iter()
                .all(|r| r.state_hash != state && r.state_hash.len() == 64)
        );

        // A sign-in that took longer than it may is refused.
        {
            use persistence::entity::oauth_states::{Column, Entity};
            use sea_orm::sea_query::Expr;
            use sea_orm::{ColumnTrait, QueryFilter};
            Entity::update_many()
                .col_expr(
                    Column::ExpiresAt,
                    Expr::value(core_domain::time::now() - chrono::Duration::seconds(1)),
                )
                .filter(Column::StateHash.eq(auth::tokens::hash_token(&state)))
                .exec(app.db().conn())
                .await
                .unwrap();
        }
        let callback = fake.approve(start["url"].as_str().unwrap()).await.unwrap();
        let (status, body) = get_json(&app, &callback_path(&callback.url), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "BAD_USER_INPUT");
        let _ = stop.send(());
    }
);
