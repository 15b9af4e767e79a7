//! A stale, revoked or forged bearer token does not lock its holder out: signing in and the
//! public fields work with it present (it is ignored, and the response says so with
//! `x-colloquy-auth: invalid-token`), fields that need a caller answer UNAUTHENTICATED as GraphQL
//! errors, and the request counts against the address's rate limit.

use colloquy_tests::{Backend, TestApp, e2e, e2e_backend};
use serde_json::{Value, json};

const FORGED: &str = "cq_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// POSTs with `token` and returns the status, the `x-colloquy-auth` header and the body.
async fn post(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
) -> (u16, Option<String>, Value) {
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let warning = res
        .headers()
        .get("x-colloquy-auth")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, warning, res.json().await.expect("a JSON body"))
}

/// A signed-out session's token: valid once, revoked by `logout`.
async fn revoked_token(app: &TestApp, email: &str) -> (String, String) {
    let user = app.register(email).await;
    app.query(
        Some(&user.token),
        "mutation { logout { revokedSessionId } }",
        json!({}),
    )
    .await;
    let (_, _, body) = post(app, &user.token, "{ mySessions { id } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    (user.global_id, user.token)
}

e2e!(
    a_bad_token_is_ignored_where_no_caller_is_needed,
    |app: TestApp| async move {
        let (ada_id, revoked) = revoked_token(&app, "ada@example.com").await;
        for bad in [revoked.as_str(), FORGED] {
            // Public fields and introspection run anonymously, with the warning.
            let (status, warning, body) = post(
            &app,
            bad,
            "{ __typename personas { nodes { id } } rooms { nodes { id } } oauthProviders { id } disclaimer { requiredVersion } __schema { queryType { name } } }",
            json!({}),
        )
        .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(warning.as_deref(), Some("invalid-token"), "{body}");
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

            // Lookups by id run too (no such record: null, not UNAUTHENTICATED).
            for (lookup, field) in [
                ("{ persona(id: \"nope\") { id } }", "persona"),
                ("{ room(id: \"nope\") { id } }", "room"),
            ] {
                let (status, _, body) = post(&app, bad, lookup, json!({})).await;
                assert_eq!(status, 200);
                assert!(body["data"][field].is_null(), "{lookup}: {body}");
                assert_ne!(
                    body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                    "{lookup}: {body}"
                );
            }

            // A field that needs a caller is a GraphQL error, not a 401 for the whole request.
            let (status, warning, body) =
                post(&app, bad, "{ __typename mySessions { id } }", json!({})).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(warning.as_deref(), Some("invalid-token"));
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{body}"
            );
            assert_eq!(body["errors"][0]["path"][0], "mySessions", "{body}");
            // `me` is nullable: an anonymous caller reads null, without an error.
            let (_, _, body) = post(&app, bad, "{ me { id } }", json!({})).await;
            assert!(body["data"]["me"].is_null(), "{body}");

            // Signing in works, and the new token is good.
            let (status, warning, body) = post(
            &app,
            bad,
            "mutation($i: LoginInput!) { login(input: $i) { token user { id } } }",
            json!({ "i": { "email": "ada@example.com", "password": "correct horse battery staple" } }),
        )
        .await;
            assert_eq!(
                (status, warning.as_deref()),
                (200, Some("invalid-token")),
                "{body}"
            );
            assert_eq!(
                body["data"]["login"]["user"]["id"],
                ada_id.as_str(),
                "{body}"
            );
            let fresh = body["data"]["login"]["token"].as_str().expect("token");
            let me = app.query(Some(fresh), "{ me { id } }", json!({})).await;
            assert_eq!(me["me"]["id"], ada_id.as_str());

            // So does a guest session.
            let (status, _, body) = post(
                &app,
                bad,
                "mutation { startGuestSession { token user { id role } } }",
                json!({}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert!(
                body["data"]["startGuestSession"]["token"].is_string(),
                "{body}"
            );
        }

        // A good token, or none, carries no warning.
        let (status, warning, _) = post(&app, FORGED, "{ __typename }", json!({})).await;
        assert_eq!((status, warning.as_deref()), (200, Some("invalid-token")));
        let grace = app.register("grace@example.com").await;
        let (status, warning, _) = post(&app, &grace.token, "{ me { id } }", json!({})).await;
        assert_eq!((status, warning), (200, None));
        let res = app
            .http
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("x-colloquy-auth").is_none());
    }
);

e2e!(
    register_with_a_revoked_guest_token_creates_a_new_account,
    |app: TestApp| async move {
        let guest = app
            .query(
                None,
                "mutation { startGuestSession { token user { id } } }",
                json!({}),
            )
            .await;
        let guest_id = guest["startGuestSession"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let guest_token = guest["startGuestSession"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.query(
            Some(&guest_token),
            "mutation { logout { revokedSessionId } }",
            json!({}),
        )
        .await;

        let (status, warning, body) = post(
        &app,
        &guest_token,
        "mutation($i: RegisterInput!) { register(input: $i) { token user { id email role } } }",
        json!({ "i": { "email": "new@example.com", "password": "correct horse battery staple", "name": "New" } }),
    )
    .await;
        assert_eq!(
            (status, warning.as_deref()),
            (200, Some("invalid-token")),
            "{body}"
        );
        let user = &body["data"]["register"]["user"];
        assert_eq!(user["email"], "new@example.com", "{body}");
        assert_ne!(
            user["id"],
            guest_id.as_str(),
            "a revoked guest token must not be upgraded"
        );

        // With the live guest token, register still upgrades the guest.
        let guest = app
            .query(
                None,
                "mutation { startGuestSession { token user { id } } }",
                json!({}),
            )
            .await;
        let live_id = guest["startGuestSession"]["user"]["id"].as_str().unwrap();
        let live_token = guest["startGuestSession"]["token"].as_str().unwrap();
        let (_, warning, body) = post(
        &app,
        live_token,
        "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
        json!({ "i": { "email": "upgraded@example.com", "password": "correct horse battery staple", "name": "Up" } }),
    )
    .await;
        assert_eq!(warning, None);
        assert_eq!(body["data"]["register"]["user"]["id"], live_id, "{body}");
    }
);

e2e_backend!(
    requests_with_a_bad_token_are_limited_by_address,
    |backend: Backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| c.limits.requests_per_minute = 4).await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await; // the address's first request
        for _ in 0..3 {
            let (status, warning, _) = post(&app, FORGED, "{ __typename }", json!({})).await;
            assert_eq!((status, warning.as_deref()), (200, Some("invalid-token")));
        }
        // The address has used its four: with a bad token or none, it waits.
        let (status, warning, body) = post(&app, FORGED, "{ __typename }", json!({})).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(warning.as_deref(), Some("invalid-token"));
        let res = app
            .http
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
        // Ada's own bucket is untouched.
        let (status, _, body) = post(&app, &ada.token, "{ me { id } }", json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
);
