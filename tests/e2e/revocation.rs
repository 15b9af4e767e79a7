//! An open WebSocket does not outlive its credential: logging out, revoking the session, changing
//! the password from another session, revoking an API token, or an admin deactivating the user
//! closes the sockets that signed in with it (4403), on this instance and on another one, while
//! the user's other sessions keep theirs.

use std::time::Duration;

use colloquy_tests::{TestApp, TestUser, WsClient, e2e};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const ADDED: &str = "subscription { messageAdded { content } }";
const PASSWORD: &str = "correct horse battery staple";

fn ws_url(addr: std::net::SocketAddr) -> String {
    format!("ws://{addr}/graphql/ws")
}

/// A second session of `user`.
async fn sign_in_again(app: &TestApp, user: &TestUser) -> String {
    let data = app
        .query(
            None,
            "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { token } }",
            json!({ "e": user.email, "p": PASSWORD }),
        )
        .await;
    data["login"]["token"].as_str().unwrap().to_owned()
}

/// Waits for the socket to be closed by the server; returns the close message.
async fn closed(ws: &mut WsClient) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the socket was not closed"
        );
        match ws.next_raw(WAIT).await {
            Some(m) if m["type"] == "close" => return m,
            Some(_) => continue,
            None => panic!("the socket ended without a close frame, or stayed open"),
        }
    }
}

/// The socket still serves: a message added by its user reaches its `messageAdded`.
async fn still_served(
    app: &TestApp,
    ws: &mut WsClient,
    sub: &str,
    user: &TestUser,
    token: &str,
    n: usize,
) {
    let created = app
        .query(
            Some(token),
            "mutation { createConversation(input: { title: \"alive\" }) { conversation { id } } }",
            json!({}),
        )
        .await;
    let conv = created["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap();
    let text = format!("still here {n} {}", user.email);
    app.query(
        Some(token),
        "mutation($c: ID!, $t: String!) { addMessage(input: { conversationId: $c, content: $t }) { message { id } } }",
        json!({ "c": conv, "t": text }),
    )
    .await;
    let got = ws
        .next_for(sub, WAIT)
        .await
        .expect("the other session's socket is served");
    assert_eq!(got["data"]["messageAdded"]["content"], text.as_str());
}

e2e!(
    sockets_close_when_their_credential_ends,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let other = sign_in_again(&app, &ada).await;
        let mut keeps = WsClient::connect(&ws_url(app.addr), Some(&other)).await;
        let kept = keeps.subscribe(ADDED, json!({})).await;

        // Logout over HTTP closes the socket of that session only.
        let mut ws = WsClient::connect(&ws_url(app.addr), Some(&ada.token)).await;
        ws.subscribe(ADDED, json!({})).await;
        app.wait_for_message_subscribers(2).await;
        app.query(
            Some(&ada.token),
            "mutation { logout { revokedSessionId } }",
            json!({}),
        )
        .await;
        assert_eq!(closed(&mut ws).await["code"], 4403);
        still_served(&app, &mut keeps, &kept, &ada, &other, 1).await;

        // Revoking a session from another one.
        let third = sign_in_again(&app, &ada).await;
        let mut ws = WsClient::connect(&ws_url(app.addr), Some(&third)).await;
        ws.subscribe(ADDED, json!({})).await;
        let sessions = app
            .query(Some(&other), "{ mySessions { id current } }", json!({}))
            .await;
        let victim = sessions["mySessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == false)
            .map(|s| s["id"].clone())
            .collect::<Vec<_>>();
        assert_eq!(victim.len(), 1, "{sessions}");
        app.query(
            Some(&other),
            "mutation($id: ID!) { revokeSession(input: { id: $id }) { revokedSessionId } }",
            json!({ "id": victim[0] }),
        )
        .await;
        assert_eq!(closed(&mut ws).await["code"], 4403);

        // Changing the password ends every other session's sockets.
        let fourth = sign_in_again(&app, &ada).await;
        let mut ws = WsClient::connect(&ws_url(app.addr), Some(&fourth)).await;
        ws.subscribe(ADDED, json!({})).await;
        app.query(
            Some(&other),
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { user { id } } }",
            json!({ "i": { "currentPassword": PASSWORD, "newPassword": "an entirely new passphrase" } }),
        )
        .await;
        assert_eq!(closed(&mut ws).await["code"], 4403);
        still_served(&app, &mut keeps, &kept, &ada, &other, 2).await;

        // An API token's socket closes when the token is revoked.
        let created = app
            .query(
                Some(&other),
                "mutation { createApiToken(input: { name: \"ws\", scopes: [READ, WRITE] }) { token apiToken { id } } }",
                json!({}),
            )
            .await;
        let pat = created["createApiToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let pat_id = created["createApiToken"]["apiToken"]["id"].clone();
        let mut ws = WsClient::connect(&ws_url(app.addr), Some(&pat)).await;
        ws.subscribe(ADDED, json!({})).await;
        app.query(
            Some(&other),
            "mutation($id: ID!) { revokeApiToken(input: { id: $id }) { revokedApiTokenId } }",
            json!({ "id": pat_id }),
        )
        .await;
        assert_eq!(closed(&mut ws).await["code"], 4403);

        // An admin deactivating the user closes every socket of theirs.
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        app.query(
            Some(&admin.token),
            "mutation($u: ID!) { setUserActive(input: { userId: $u, active: false }) { user { id } } }",
            json!({ "u": ada.global_id }),
        )
        .await;
        assert_eq!(closed(&mut keeps).await["code"], 4403);
    }
);

e2e!(
    a_logout_on_one_instance_closes_sockets_on_another,
    |app: TestApp| async move {
        if app.backend != colloquy_tests::Backend::Postgres {
            return; // one SQLite file has one server
        }
        let peer = app.spawn_peer().await;
        peer.state.services.conversations.events().listening().await;
        let ada = app.register("ada@example.com").await;
        let mut ws = WsClient::connect(&ws_url(peer.addr), Some(&ada.token)).await;
        ws.subscribe(ADDED, json!({})).await;
        peer.wait_for_message_subscribers(1).await;
        app.query(
            Some(&ada.token),
            "mutation { logout { revokedSessionId } }",
            json!({}),
        )
        .await;
        assert_eq!(closed(&mut ws).await["code"], 4403);
    }
);

/// A server that keeps callers in memory for a minute: whatever ends one sooner is an event.
async fn keeping_callers_a_minute(backend: colloquy_tests::Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.auth.caller_cache = Duration::from_secs(60)).await
}

/// The fewest statements `run` cost in three runs, `count` reading the server's total: a
/// background sweep may land in one of them.
async fn cheapest<F: std::future::Future<Output = ()>>(
    count: impl Fn() -> u64,
    run: impl Fn() -> F,
) -> u64 {
    let mut cost = u64::MAX;
    for _ in 0..3 {
        let before = count();
        run().await;
        cost = cost.min(count() - before);
    }
    cost
}

/// `{ me { id } }` sent to `addr` with `token`: the caller's id, or, when the token was refused
/// and the request ran anonymously, the `x-colloquy-auth` header that says so.
async fn me_at(app: &TestApp, addr: std::net::SocketAddr, token: &str) -> Result<String, String> {
    let response = app
        .http
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let warning = response
        .headers()
        .get("x-colloquy-auth")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    match (body["data"]["me"]["id"].as_str(), warning) {
        (Some(id), None) => Ok(id.to_owned()),
        (None, Some(warning)) => Err(warning),
        other => panic!("neither a caller nor a refused token: {other:?} {body}"),
    }
}

// A token sent again within seconds is answered from memory (no statement reads its session),
// and what ends or changes it through the API is seen by the very next request: the caller kept
// for it ends with the sign-in event, not when its lifetime runs out (a minute here).
colloquy_tests::e2e_backend!(
    a_caller_kept_in_memory_ends_with_its_credential,
    |backend| async move {
        let Some(app) = keeping_callers_a_minute(backend).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        me_at(&app, app.addr, &ada.token).await.unwrap();
        let cost = cheapest(
            || app.sql_statements(),
            || async {
                assert_eq!(
                    me_at(&app, app.addr, &ada.token).await,
                    Ok(ada.global_id.clone())
                );
            },
        )
        .await;
        assert_eq!(cost, 1, "`me` alone: the session is not read again");

        // A password change from another session ends this one at once.
        let other = sign_in_again(&app, &ada).await;
        app.query(
            Some(&other),
            "mutation($o: String!) { changePassword(input: { currentPassword: $o, newPassword: \"another horse battery staple\" }) { user { email } } }",
            json!({ "o": PASSWORD }),
        )
        .await;
        assert_eq!(
            me_at(&app, app.addr, &ada.token).await,
            Err("invalid-token".into())
        );

        // A user's role changed by an admin is seen by the next request of the same token.
        let bob = app.register("bob@example.com").await;
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        let users = "{ users(first: 1) { totalCount } }";
        assert_eq!(
            app.error_code(Some(&bob.token), users, json!({})).await,
            "FORBIDDEN"
        );
        app.query(
            Some(&admin.token),
            "mutation { setAdminPin(input: { pin: \"864209\" }) { success } }",
            json!({}),
        )
        .await;
        app.query(
            Some(&admin.token),
            "mutation($u: ID!) { setUserRole(input: { userId: $u, role: ADMIN, pin: \"864209\" }) { user { role } } }",
            json!({ "u": bob.global_id }),
        )
        .await;
        app.query(Some(&bob.token), users, json!({})).await;

        // A guest who registers keeps their token, which stands for a USER from the next request.
        let guest = app
            .query(None, "mutation { startGuestSession { token } }", json!({}))
            .await["startGuestSession"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        // Guests may not create API tokens; users may (the caller's role decides).
        let create = "mutation { createApiToken(input: { name: \"mine\", scopes: [READ] }) { apiToken { id } } }";
        assert_eq!(
            app.error_code(Some(&guest), create, json!({})).await,
            "FORBIDDEN"
        );
        app.query(
            Some(&guest),
            "mutation($p: String!) { register(input: { email: \"gus@example.com\", password: $p }) { token } }",
            json!({ "p": PASSWORD }),
        )
        .await;
        app.query(Some(&guest), create, json!({})).await;

        // Deactivated: the token stops working at once.
        let carl = app.register("carl@example.com").await;
        me_at(&app, app.addr, &carl.token).await.unwrap();
        app.query(
            Some(&admin.token),
            "mutation($u: ID!) { setUserActive(input: { userId: $u, active: false }) { user { isActive } } }",
            json!({ "u": carl.global_id }),
        )
        .await;
        assert_eq!(
            me_at(&app, app.addr, &carl.token).await,
            Err("invalid-token".into())
        );
    }
);

// With two instances, a logout on one is seen by the other as soon as its listener hears the
// event: the caller the other kept is not served for the rest of its lifetime (a minute here).
colloquy_tests::e2e_backend!(
    a_logout_on_one_instance_ends_the_caller_another_kept,
    |backend| async move {
        if backend != colloquy_tests::Backend::Postgres {
            return; // one SQLite file has one server
        }
        let Some(app) = keeping_callers_a_minute(backend).await else {
            return;
        };
        let peer = app.spawn_peer().await;
        peer.state.services.conversations.events().listening().await;
        let ada = app.register("ada@example.com").await;
        // The peer keeps ada's caller: a second request reads nothing of hers.
        me_at(&app, peer.addr, &ada.token).await.unwrap();
        let cost = cheapest(
            || peer.state.services.db.stats().statements(),
            || async {
                me_at(&app, peer.addr, &ada.token).await.unwrap();
            },
        )
        .await;
        assert_eq!(cost, 1);

        let mut heard = peer.state.services.accounts.auth_events();
        app.query(
            Some(&ada.token),
            "mutation { logout { revokedSessionId } }",
            json!({}),
        )
        .await;
        // Once the other instance has heard the logout, its next request reads the session.
        tokio::time::timeout(WAIT, heard.recv())
            .await
            .expect("the other instance hears the logout")
            .unwrap();
        assert_eq!(
            me_at(&app, peer.addr, &ada.token).await,
            Err("invalid-token".into()),
            "the other instance still serves a signed-out token"
        );
    }
);
