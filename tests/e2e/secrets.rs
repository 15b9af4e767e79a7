//! The database never holds a usable secret: after every credential feature has been exercised,
//! every column of every table (listed from the database's own catalogue) is read back as text and
//! searched for each plaintext password, PIN, session token, API token, one-time token and OAuth
//! client secret the test used.

use colloquy_tests::{Backend, TestApp, e2e_backend};
use core_domain::Role;
use gateway::platform::outbox::Purpose;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::identity::{oauth_sign_in, with_fake_oauth};

const PASSWORD: &str = "correct horse battery staple";

/// Every (table, column) of the database, from its catalogue.
async fn columns(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db().conn();
    let backend = db.get_database_backend();
    let rows = match backend {
        DbBackend::Postgres => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name AS t, column_name AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            ))
            .await
            .unwrap(),
        _ => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' ORDER BY m.name, p.cid",
            ))
            .await
            .unwrap(),
    };
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "t").unwrap(),
                r.try_get::<String>("", "c").unwrap(),
            )
        })
        .collect()
}

/// Every value of every column, as text.
async fn everything(app: &TestApp) -> Vec<(String, String, String)> {
    let db = app.db().conn();
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for (table, column) in columns(app).await {
        let sql = format!(
            "SELECT CAST(\"{column}\" AS TEXT) AS v FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"
        );
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            if let Ok(v) = row.try_get::<String>("", "v") {
                out.push((table.clone(), column.clone(), v));
            }
        }
    }
    out
}

e2e_backend!(
    no_plaintext_secret_reaches_the_database,
    |backend: Backend| async move {
        let Some((app, fake)) = with_fake_oauth(backend).await else {
            return;
        };
        let mut secrets: Vec<(&str, String)> = vec![
            ("password", PASSWORD.to_owned()),
            (
                "OAuth client secret",
                auth::testing::FAKE_CLIENT_SECRET.to_owned(),
            ),
        ];

        // Passwords, sessions, logins.
        let ada = app.register("ada@example.com").await;
        secrets.push(("session token", ada.token.clone()));
        let login = app
            .query(
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                json!({ "i": { "email": "ada@example.com", "password": PASSWORD } }),
            )
            .await;
        secrets.push((
            "session token",
            login["login"]["token"].as_str().unwrap().to_owned(),
        ));

        // A guest.
        let guest = app
            .query(None, "mutation { startGuestSession { token } }", json!({}))
            .await;
        secrets.push((
            "guest session token",
            guest["startGuestSession"]["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));

        // API tokens, used once so their last use is recorded.
        let pat = app
        .query(
            Some(&ada.token),
            "mutation { createApiToken(input: { name: \"ci\", scopes: [READ, WRITE] }) { token } }",
            json!({}),
        )
        .await["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
        app.query(Some(&pat), "{ me { id } }", json!({})).await;
        secrets.push(("API token", pat));

        // Contact verification and password reset tokens.
        app.query(
        Some(&ada.token),
        "mutation { addContactMethod(input: { type: EMAIL, value: \"ada.alt@example.com\" }) { contactMethod { id } } }",
        json!({}),
    )
    .await;
        let verify = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("ada.alt@example.com", Purpose::VerifyContact)
            .unwrap();
        app.query(
            None,
            "mutation($t: String!) { verifyContactMethod(input: { token: $t }) { contactMethod { id } } }",
            json!({ "t": verify }),
        )
        .await;
        secrets.push(("verification token", verify));
        app.query(
            None,
            "mutation { requestPasswordReset(input: { email: \"ada@example.com\" }) { success } }",
            json!({}),
        )
        .await;
        let reset = app
            .state
            .services
            .accounts
            .outbox()
            .last_to("ada@example.com", Purpose::ResetPassword)
            .unwrap();
        let new_password = "a different passphrase here";
        app.query(
            None,
            "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { success } }",
            json!({ "i": { "token": reset, "newPassword": new_password } }),
        )
        .await;
        secrets.push(("reset token", reset));
        secrets.push(("new password", new_password.to_owned()));

        // The admin PIN.
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, Role::Admin).await;
        let pin = "90817263";
        app.query(
            Some(&admin.token),
            "mutation($p: String!) { setAdminPin(input: { pin: $p }) { success } }",
            json!({ "p": pin }),
        )
        .await;
        secrets.push(("admin PIN", pin.to_owned()));

        // OAuth sign-in, with a guest merged on the way.
        let signed = oauth_sign_in(&app, &fake, None).await;
        secrets.push((
            "OAuth session token",
            signed["token"].as_str().unwrap().to_owned(),
        ));
        let guest2 = app
            .query(None, "mutation { startGuestSession { token } }", json!({}))
            .await;
        let guest2 = guest2["startGuestSession"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let merged = oauth_sign_in(&app, &fake, Some(&guest2)).await;
        secrets.push((
            "merged session token",
            merged["token"].as_str().unwrap().to_owned(),
        ));
        secrets.push(("guest session token", guest2));

        // A provider key the user brings: stored sealed, only its last 4 characters shown.
        let provider_key = "sk-ant-api03-ThisIsAFakeProviderKeyForTheScan-0123456789";
        let keeper = app.register("keeper@example.com").await;
        secrets.push(("session token", keeper.token.clone()));
        let added = app
            .query(
                Some(&keeper.token),
                "mutation($k: String!) { addApiKey(input: { provider: ANTHROPIC, name: \"mine\", key: $k }) { apiKey { last4 } } }",
                serde_json::json!({ "k": provider_key }),
            )
            .await;
        assert_eq!(added["addApiKey"]["apiKey"]["last4"], "6789");
        secrets.push(("provider key", provider_key.to_owned()));

        let values = everything(&app).await;
        assert!(
            values.iter().any(|(t, _, _)| t == "tokens"),
            "the scan reads the tokens table"
        );
        assert!(
            values
                .iter()
                .any(|(t, c, _)| t == "users" && c == "password_hash"),
            "and password hashes"
        );
        for (what, secret) in &secrets {
            for (table, column, value) in &values {
                assert!(
                    !value.contains(secret.as_str()),
                    "{what} found in plaintext in {table}.{column}"
                );
            }
        }
        // The random part of a token is not stored either (only its hash and a 4-character prefix).
        for (what, secret) in secrets.iter().filter(|(_, s)| s.starts_with("cq_")) {
            let body = &secret[secret.len() - 20..];
            assert!(
                values.iter().all(|(_, _, v)| !v.contains(body)),
                "part of a {what} is stored"
            );
        }
    }
);
