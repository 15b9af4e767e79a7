//! The send rate, the GraphQL request rate and sign-in attempts hold across instances: two
//! gateways on one PostgreSQL database, a caller's traffic split between them, and the limit is
//! what one instance alone would allow (before, each instance allowed the whole limit). On SQLite
//! one server owns the file and its in-memory limits are the whole story (tested elsewhere), so
//! these run on PostgreSQL only.
//!
//! The shared limits count per fixed minute window: each test starts early enough in a minute to
//! run within one window.

use std::net::SocketAddr;
use std::time::Duration;

use colloquy_tests::{Backend, TestApp, e2e_backend};
use serde_json::{Value, json};

/// Waits for the next minute when fewer than 15 s of this one are left, so a test's requests
/// fall into one window of the shared counters.
async fn start_of_a_window() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(u64::try_from(61 - second).unwrap())).await;
    }
}

/// POSTs a GraphQL request to one instance; the status and the body.
async fn post(
    http: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut req = http
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

e2e_backend!(the_send_rate_holds_across_instances, |backend| async move {
    if backend != Backend::Postgres {
        return;
    }
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.chat.send_rate_per_minute = 10;
        c.limits.requests_per_minute = 0;
    })
    .await
    else {
        return;
    };
    let peer = app.spawn_peer().await;
    let ada = app.register("ada@example.com").await;
    let conv = app.create_conversation(&ada, "limits").await;
    start_of_a_window().await;
    let send = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }";
    let (mut accepted, mut limited) = (0, 0);
    for n in 0..20 {
        let addr = if n % 2 == 0 { app.addr } else { peer.addr };
        let input = json!({ "i": { "conversationId": conv, "content": format!("hello {n}") } });
        let (_, body) = post(&app.http, addr, Some(&ada.token), send, input).await;
        match code(&body) {
            "" => accepted += 1,
            "RATE_LIMITED" => limited += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        (accepted, limited),
        (10, 10),
        "a limit of 10 sends a minute, over two instances"
    );
});

e2e_backend!(
    the_request_rate_holds_across_instances,
    |backend| async move {
        if backend != Backend::Postgres {
            return;
        }
        let Some(app) = TestApp::spawn_with(backend, |c| c.limits.requests_per_minute = 60).await
        else {
            return;
        };
        let peer = app.spawn_peer().await;
        let ada = app.register("ada@example.com").await;
        start_of_a_window().await;
        let (mut accepted, mut limited) = (0, 0);
        for n in 0..120 {
            let addr = if n % 2 == 0 { app.addr } else { peer.addr };
            let (status, body) = post(
                &app.http,
                addr,
                Some(&ada.token),
                "{ me { id } }",
                json!({}),
            )
            .await;
            match status {
                200 => {
                    assert!(body["errors"].is_null(), "{body}");
                    accepted += 1;
                }
                429 => {
                    assert_eq!(code(&body), "RATE_LIMITED");
                    limited += 1;
                }
                other => panic!("{other}: {body}"),
            }
        }
        // Each instance takes its permits from the database in blocks of 3 (a twentieth of the
        // limit): the total never exceeds the limit, and each instance strands at most 2.
        assert!(
            (58..=60).contains(&accepted),
            "{accepted} of 120 requests accepted ({limited} limited) for a limit of 60 a minute"
        );
    }
);

e2e_backend!(
    sign_in_attempts_are_limited_across_instances,
    |backend| async move {
        if backend != Backend::Postgres {
            return;
        }
        let Some(app) = TestApp::spawn_with(backend, |c| c.auth.attempts_per_minute = 5).await
        else {
            return;
        };
        let peer = app.spawn_peer().await;
        app.register("ada@example.com").await;
        start_of_a_window().await;
        let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
        let wrong = json!({ "i": { "email": "ada@example.com", "password": "not the password" } });
        let mut codes = Vec::new();
        for n in 0..10 {
            let addr = if n % 2 == 0 { app.addr } else { peer.addr };
            let (_, body) = post(&app.http, addr, None, login, wrong.clone()).await;
            codes.push(code(&body).to_owned());
        }
        let checked = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
        let limited = codes.iter().filter(|c| *c == "RATE_LIMITED").count();
        assert_eq!(
            (checked, limited),
            (5, 5),
            "5 attempts a minute per account, over two instances: {codes:?}"
        );
        // The right password is refused too, on either instance, until the window ends.
        let right = json!({ "i": { "email": "ada@example.com", "password": "correct horse battery staple" } });
        for addr in [app.addr, peer.addr] {
            let (_, body) = post(&app.http, addr, None, login, right.clone()).await;
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        }
    }
);
