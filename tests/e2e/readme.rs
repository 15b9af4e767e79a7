//! The README's walkthrough is a test: its GraphQL blocks run in order against a server with the
//! demo data, as a new user would paste them (sign in, the nested read, `sendMessage` on a
//! seeded conversation, following the reply over the WebSocket). When the README and the server
//! disagree, this fails.

use std::time::Duration;

use colloquy_tests::{TestApp, WsClient, e2e};
use serde_json::{Value, json};

const README: &str = include_str!("../../README.md");

/// The README's ```graphql blocks, in order.
fn graphql_blocks() -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// The inline `subscription { messageStream(...) ... }` the README tells readers to run.
fn follow_subscription() -> String {
    let start = README
        .find("`subscription { messageStream")
        .expect("the README shows how to follow a reply");
    let rest = &README[start + 1..];
    rest[..rest.find('`').expect("closing backtick")].to_owned()
}

fn no_errors(body: &Value, step: &str) {
    assert!(body.get("errors").is_none(), "README step {step}: {body:#}");
}

e2e!(the_readme_walkthrough_works, |app: TestApp| async move {
    gateway::platform::seed::load(app.db(), None).await.unwrap();
    let blocks = graphql_blocks();
    assert!(
        blocks.len() >= 3,
        "login, the nested read, sendMessage: {blocks:#?}"
    );

    // 1. Sign in.
    let login = app.post(None, &blocks[0], json!({})).await;
    no_errors(&login, "login");
    let token = login["data"]["login"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    // 2. The nested read, with the token in the headers.
    let read = app.post(Some(&token), &blocks[1], json!({})).await;
    no_errors(&read, "nested read");
    let conversations = read["data"]["me"]["conversations"]["edges"]
        .as_array()
        .expect("conversations");
    assert!(
        !conversations.is_empty(),
        "the demo user has conversations: {read:#}"
    );
    let conversation = conversations[0]["node"]["id"]
        .as_str()
        .expect("the nested read selects the conversation ids sendMessage needs");

    // 3. sendMessage on a seeded conversation (its model answers without a key).
    let send = blocks
        .iter()
        .find(|b| b.contains("sendMessage"))
        .expect("the README shows sendMessage")
        .replace("<conversation id>", conversation);
    let sent = app.post(Some(&token), &send, json!({})).await;
    no_errors(&sent, "sendMessage");
    let reply = sent["data"]["sendMessage"]["reply"]["id"]
        .as_str()
        .expect("a reply id");

    // 4. Follow the reply over the WebSocket, as the README says, to its end.
    let mut ws = WsClient::connect(&format!("ws://{}/graphql/ws", app.addr), Some(&token)).await;
    let id = ws
        .subscribe(
            &follow_subscription().replace("<reply id>", reply),
            json!({}),
        )
        .await;
    let mut text = String::new();
    loop {
        let event = ws
            .next_for(&id, Duration::from_secs(20))
            .await
            .expect("a stream event");
        no_errors(&event, "messageStream");
        let e = &event["data"]["messageStream"];
        text.push_str(e["delta"].as_str().unwrap_or_default());
        if e["done"] == true {
            assert_eq!(e["status"], "COMPLETE", "{event}");
            break;
        }
    }
    assert!(!text.is_empty(), "the reply has text");
});
