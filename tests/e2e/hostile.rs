//! Hostile input is refused at the edge with a clear BAD_USER_INPUT, on both databases: NUL
//! characters in variables or literals (PostgreSQL would answer an INTERNAL error for them), and
//! several sign-ups or sign-ins in one request (aliases or fragments), which would slip past the
//! per-request limits.

use colloquy_tests::{TestApp, e2e};
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

e2e!(
    nul_characters_are_refused_as_bad_input,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "NUL").await;
        // In a variable, signed in.
        let body = app
            .post(
                Some(&ada.token),
                "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }",
                json!({ "i": { "conversationId": conv, "content": "nul\u{0}byte" } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("$i"),
            "{body}"
        );
        // In a variable, anonymously.
        let body = app
            .post(
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                json!({ "i": { "email": "ada\u{0}@example.com", "password": "x" } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        // In a literal of the document.
        let body = app
        .post(
            None,
            "mutation { login(input: { email: \"ada\\u0000@example.com\", password: \"x\" }) { token } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        // In a filter.
        let body = app
        .post(
            Some(&ada.token),
            "query($t: String) { me { conversations(filter: { titleContains: $t }) { totalCount } } }",
            json!({ "t": "\u{0}" }),
        )
        .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        // Nothing was stored.
        let messages = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { conversation(id: $id) { messages { totalCount } } }",
                json!({ "id": conv }),
            )
            .await;
        assert_eq!(messages["conversation"]["messages"]["totalCount"], 0);
    }
);

e2e!(one_sign_up_per_request, |app: TestApp| async move {
    let register = |email: &str| {
        format!(
            "register(input: {{ email: \"{email}\", password: \"correct horse battery staple\" }}) {{ token }}"
        )
    };
    let aliased = format!(
        "mutation {{ a: {} b: {} }}",
        register("a1@example.com"),
        register("a2@example.com")
    );
    let body = app.post(None, &aliased, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let fragments = format!(
        "mutation {{ ...A ...B }} fragment A on Mutation {{ a: {} }} fragment B on Mutation {{ b: {} }}",
        register("f1@example.com"),
        register("f2@example.com")
    );
    let body = app.post(None, &fragments, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // No account was created by either.
    for email in [
        "a1@example.com",
        "a2@example.com",
        "f1@example.com",
        "f2@example.com",
    ] {
        let login = app
            .post(
                None,
                "mutation($e: String!) { login(input: { email: $e, password: \"correct horse battery staple\" }) { token } }",
                json!({ "e": email }),
            )
            .await;
        assert_eq!(code(&login), "UNAUTHENTICATED", "{email}: {login}");
    }
    // One per request still works.
    let one = app
        .post(
            None,
            &format!("mutation {{ {} }}", register("one@example.com")),
            json!({}),
        )
        .await;
    assert!(one["data"]["register"]["token"].is_string(), "{one}");
});

// A filter string is capped (200 characters, the longest title) with BAD_USER_INPUT naming the
// field: SQLite answered INTERNAL ("LIKE pattern too complex") from 49,999 characters on. LIKE's
// wildcards in the text match themselves.
e2e!(filter_strings_are_capped, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    app.create_conversation(&ada, "100% sure").await;
    app.create_conversation(&ada, "1000 sure").await;
    app.create_conversation(&ada, "snake_case").await;
    app.create_conversation(&ada, "snakeXcase").await;
    let search = "query($t: String) { me { conversations(filter: { titleContains: $t }) { totalCount nodes { title } } } }";
    for len in [201, 50_000, 100_000] {
        let body = app
            .post(Some(&ada.token), search, json!({ "t": "a".repeat(len) }))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{len}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "titleContains",
            "{len}: {body}"
        );
    }
    // The same cap on another user's list (`user(id:)` goes through the same conversion).
    let body = app
        .post(
            Some(&ada.token),
            "query($id: ID!, $t: String) { user(id: $id) { conversations(filter: { titleContains: $t }) { totalCount } } }",
            json!({ "id": ada.global_id, "t": "a".repeat(201) }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // 200 characters are accepted (and find nothing).
    let data = app
        .query(Some(&ada.token), search, json!({ "t": "a".repeat(200) }))
        .await;
    assert_eq!(data["me"]["conversations"]["totalCount"], 0, "{data}");
    // Wildcards match themselves.
    let titles = |data: &Value| -> Vec<String> {
        data["me"]["conversations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let data = app
        .query(Some(&ada.token), search, json!({ "t": "0%" }))
        .await;
    assert_eq!(titles(&data), ["100% sure"], "{data}");
    let data = app
        .query(Some(&ada.token), search, json!({ "t": "e_c" }))
        .await;
    assert_eq!(titles(&data), ["snake_case"], "{data}");
});
