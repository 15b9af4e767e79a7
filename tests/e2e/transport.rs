//! The HTTP surface: GraphQL over GET and POST, the playground, health and metrics, and the limits
//! that protect the server.

use colloquy_tests::{Backend, TestApp, e2e};
use serde_json::{Value, json};

e2e!(health_readiness_and_metrics, |app: TestApp| async move {
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.query(None, "{ personas { nodes { id } } }", json!({}))
        .await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("colloquy_graphql_requests_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("colloquy_sql_statements_total"),
        "{metrics}"
    );
});

e2e!(
    graphql_over_get_and_the_playground,
    |app: TestApp| async move {
        let html = app
            .http
            .get(app.url("/graphql"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(html.status(), 200);
        let page = html.text().await.unwrap();
        assert!(
            page.contains("graphiql"),
            "the playground is served to browsers"
        );

        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[("query", "{ personas { nodes { id } } }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert!(body["data"]["personas"]["nodes"].is_array(), "{body}");

        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[("query", "mutation { logout { revokedSessionId } }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "mutations are refused over GET");
        assert_eq!(res.headers()["allow"], "POST");

        let res = app
            .http
            .get(app.url("/graphql"))
            .query(&[
                ("query", "query A { personas { nodes { id } } } mutation B { logout { revokedSessionId } }"),
                ("operationName", "A"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "a query chosen from a document with a mutation is fine"
        );
    }
);

e2e!(depth_and_complexity_limits, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let deep = "{ me { conversations(first: 1) { edges { node { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { conversation { messages(first: 1) { edges { node { id } } } } } } } } } } } } } } } }";
    let body = app.post(Some(&ada.token), deep, json!({})).await;
    let msg = body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        msg.contains("nested too deep") || msg.contains("depth"),
        "{body}"
    );

    let expensive = "{ me { conversations(first: 100) { edges { node { messages(first: 100) { edges { node { conversation { messages(first: 100) { edges { node { id } } } } } } } } } } } }";
    let body = app.post(Some(&ada.token), expensive, json!({})).await;
    let msg = body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(msg.contains("complex"), "{body}");
});

e2e!(request_body_limit, |app: TestApp| async move {
    let huge = "x".repeat(2 * 1024 * 1024);
    let sent = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ personas { nodes { id } } }", "variables": { "pad": huge } }))
        .send()
        .await;
    match sent {
        // It says the connection closes, so the client does not send its next request on it.
        Ok(res) => {
            assert_eq!(res.status(), 413);
            assert_eq!(
                res.headers().get("connection").map(|v| v.as_bytes()),
                Some(&b"close"[..]),
                "{:?}",
                res.headers()
            );
        }
        // The server may answer 413 and close before the client has written the whole body; the
        // client then sees its upload cut off (broken pipe) rather than the answer. Either way the
        // body was refused.
        Err(e) => assert!(e.is_request(), "{e:?}"),
    }
    // The server still serves after refusing it.
    let ok = app
        .post(None, "{ personas { nodes { id } } }", json!({}))
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
});

e2e!(automatic_persisted_queries, |app: TestApp| async move {
    let query = "{ personas { nodes { id } } }";
    let hash = "5c5fa53c2cd9b9cbd6d5fdbdbcc6d0cae9e77ded2f3cf6bc1f37b6a4ae37a431";
    // Unknown hash first: the server asks for the query.
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let res: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "extensions": ext }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["errors"][0]["message"], "PersistedQueryNotFound",
        "{res}"
    );
    let _ = query;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_caller() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.limits.requests_per_minute = 3)
        .await
        .unwrap();
    for _ in 0..3 {
        app.query(None, "{ personas { nodes { id } } }", json!({}))
            .await;
    }
    let res = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ personas { nodes { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
}
