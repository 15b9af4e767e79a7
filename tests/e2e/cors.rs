//! CORS: off by default (no CORS headers, so browsers allow only same-origin pages); with
//! `COLLOQUY_CORS_ORIGINS`, the listed origins get answers to their preflights and readable
//! responses, and other origins get no CORS headers.

use colloquy_tests::{Backend, TestApp, e2e, e2e_backend};
use serde_json::json;

const ALLOWED: &str = "https://app.example.com";
const REFUSED: &str = "https://evil.example.net";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight sent")
}

async fn cross_origin_post(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .post(app.url("/graphql"))
        .header("origin", origin)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("request sent")
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
}

e2e_backend!(allowed_and_refused_origins, |backend: Backend| async move {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.server.cors_origins = vec![ALLOWED.to_owned()];
    })
    .await
    else {
        return;
    };

    let res = preflight(&app, ALLOWED).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    let methods = header(&res, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("post") && methods.contains("get"),
        "{methods}"
    );
    let headers = header(&res, "access-control-allow-headers").unwrap_or_default();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let res = cross_origin_post(&app, ALLOWED).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    let exposed = header(&res, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-colloquy-auth"), "{exposed}");

    // Another origin: no CORS headers, so its browser page cannot read anything.
    let res = preflight(&app, REFUSED).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = cross_origin_post(&app, REFUSED).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
});

e2e!(no_cors_headers_by_default, |app: TestApp| async move {
    let res = cross_origin_post(&app, ALLOWED).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = preflight(&app, ALLOWED).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_eq!(header(&res, "access-control-allow-methods"), None);
});
