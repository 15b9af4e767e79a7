//! Chat: AI replies over GraphQL, against the offline `local-echo` model a fresh server uses and
//! against the fake provider server speaking Anthropic's and OpenAI's wire formats. Each test runs
//! on SQLite and PostgreSQL. Waits are on events (the reply stream's `done`), with generous
//! timeouts for a loaded 2-core machine.

use std::time::Duration;

use ai_providers::testing::{FakeProvider, FakeReply, RecordedRequest};
use ai_providers::{LOCAL_REPLY_PREFIX, RetryConfig, Usage};
use colloquy_tests::{Backend, Kind, TestApp, TestUser, gid, raw_id};
use gateway::platform::config::Config;
use gateway::platform::events::ReplyEvent;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id role status } reply { id role status model provider } } }";
const STREAM: &str = "subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSeq: $after) { messageId seq delta status error done } }";
const MESSAGES: &str = "query($id: ID!) { conversation(id: $id) { title model messages(first: 100) { edges { node { id parentId role content status error model provider inputTokens outputTokens siblings { nodes { id } } children { nodes { id } } } } } } }";

/// Runs a chat test body, given the backend, on SQLite and PostgreSQL.
use colloquy_tests::e2e_backend as chat_test;

/// Points both HTTP providers at `fake` (with `server_key` as the server's key) and makes
/// retries quick.
fn use_fake(config: &mut Config, fake: &FakeProvider, server_key: Option<&str>) {
    config.chat.providers.anthropic = Some(fake.http_config(server_key));
    config.chat.providers.openai = Some(fake.http_config(server_key));
    config.chat.providers.retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    };
    config.chat.flush_interval = Duration::from_millis(50);
}

async fn spawn_with_fake(
    backend: Backend,
    fake: &FakeProvider,
    server_key: Option<&str>,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        use_fake(c, fake, server_key);
        tweak(c);
    })
    .await
}

/// Sends a message; returns (user message id, reply id).
async fn send(app: &TestApp, user: &TestUser, input: Value) -> (String, String) {
    let data = app
        .query(Some(&user.token), SEND, json!({ "i": input }))
        .await;
    let payload = &data["sendMessage"];
    assert_eq!(payload["userMessage"]["role"], "USER");
    assert_eq!(payload["reply"]["role"], "ASSISTANT");
    assert_eq!(payload["reply"]["status"], "STREAMING");
    (
        payload["userMessage"]["id"].as_str().unwrap().to_owned(),
        payload["reply"]["id"].as_str().unwrap().to_owned(),
    )
}

/// A followed reply: its pieces, and the final event.
struct Followed {
    text: String,
    seqs: Vec<i64>,
    last: Value,
}

/// Follows a reply from `after` until its `done` event.
async fn follow(app: &TestApp, user: &TestUser, reply: &str, after: Option<i64>) -> Followed {
    let mut ws = app.ws(Some(&user.token)).await;
    let id = ws
        .subscribe(STREAM, json!({ "id": reply, "after": after }))
        .await;
    let mut out = Followed {
        text: String::new(),
        seqs: Vec::new(),
        last: Value::Null,
    };
    loop {
        let event = ws
            .next_for(&id, WAIT)
            .await
            .expect("a stream event in time");
        let e = &event["data"]["messageStream"];
        assert!(e.is_object(), "unexpected message: {event:#}");
        out.text.push_str(e["delta"].as_str().unwrap());
        out.seqs.push(e["seq"].as_i64().unwrap());
        if e["done"] == true {
            out.last = e.clone();
            return out;
        }
    }
}

async fn messages(app: &TestApp, user: &TestUser, conversation: &str) -> (Value, Vec<Value>) {
    let data = app
        .query(Some(&user.token), MESSAGES, json!({ "id": conversation }))
        .await;
    let list = data["conversation"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    (data["conversation"].clone(), list)
}

async fn message(app: &TestApp, user: &TestUser, conversation: &str, id: &str) -> Value {
    let (_, list) = messages(app, user, conversation).await;
    list.into_iter()
        .find(|m| m["id"] == id)
        .expect("the message is listed")
}

async fn new_conversation(app: &TestApp, user: &TestUser, model: Option<&str>) -> String {
    let data = app
        .query(
            Some(&user.token),
            "mutation($m: String) { createConversation(input: { title: \"Chat\", model: $m }) { conversation { id } } }",
            json!({ "m": model }),
        )
        .await;
    data["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn streamed(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests.iter().filter(|r| r.is_streaming()).collect()
}

/// The text turns of a recorded request, in either format, without the system prompt.
fn turns(request: &RecordedRequest) -> Vec<(String, String)> {
    request.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| m["content"][0]["text"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

/// The usage rows of `conversation` (a global id).
async fn usage_rows(app: &TestApp, conversation: &str) -> Vec<persistence::usage::UsageLog> {
    persistence::usage::for_conversation(app.db().conn(), &raw_id(conversation))
        .await
        .unwrap()
}

chat_test!(
    a_fresh_server_chats_offline_with_local_echo,
    |backend: Backend| async move {
        // The test configuration is a fresh `cargo run`'s, minus the typing pauses: no keys.
        let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = app
            .query(
                Some(&ada.token),
                "mutation { createConversation(input: {}) { conversation { id title } } }",
                json!({}),
            )
            .await["createConversation"]["conversation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let data = app
            .query(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "Tell me about tide pools" } }),
            )
            .await;
        let reply = data["sendMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(data["sendMessage"]["reply"]["model"], "local-echo");
        assert_eq!(data["sendMessage"]["reply"]["status"], "STREAMING");

        let followed = follow(&app, &ada, &reply, None).await;
        assert_eq!(followed.last["status"], "COMPLETE");
        assert!(
            followed.text.starts_with(LOCAL_REPLY_PREFIX),
            "{}",
            followed.text
        );
        assert!(followed.seqs.windows(2).all(|w| w[0] <= w[1]));

        let stored = message(&app, &ada, &conv, &reply).await;
        assert_eq!(stored["status"], "COMPLETE");
        assert_eq!(stored["content"], followed.text.as_str());
        assert!(stored["inputTokens"].as_i64().unwrap() > 0);
        assert!(stored["outputTokens"].as_i64().unwrap() > 0);
        assert_eq!(stored["provider"], "local");

        let rows = usage_rows(&app, &conv).await;
        let chat = rows
            .iter()
            .find(|r| *r.stream_type == core_domain::enums::StreamType::Chat)
            .expect("a chat usage row");
        assert_eq!(chat.message_id.as_deref(), Some(raw_id(&reply).as_str()));
        assert_eq!(chat.model, "local-echo");
        assert_eq!(chat.cost_micros, Some(0));
        assert_eq!(
            i64::from(chat.output_tokens),
            stored["outputTokens"].as_i64().unwrap()
        );

        // The first exchange names the conversation (the local model uses the first words).
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (c, _) = messages(&app, &ada, &conv).await;
            if c["title"] != "New Conversation" {
                assert!(c["title"].as_str().unwrap().contains("tide pools"), "{c:#}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no title was generated"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
);

chat_test!(
    both_wire_formats_stream_account_and_use_the_users_own_key,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        // No server keys: only users' own keys work.
        let Some(app) = spawn_with_fake(backend, &fake, None, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, Some("claude-sonnet-4-20250514")).await;

        // Without a key of her own there is nothing to call.
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hi" } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "PROVIDER_ERROR");
        assert_eq!(body["errors"][0]["extensions"]["reason"], "no_api_key");
        assert_eq!(fake.request_count(), 0);

        let anthropic_key = "sk-ant-ada-secret-0001";
        let openai_key = "sk-proj-ada-secret-0002";
        for (provider, key) in [("ANTHROPIC", anthropic_key), ("OPENAI", openai_key)] {
            let data = app
                .query(
                    Some(&ada.token),
                    "mutation($p: KeyProvider!, $k: String!) { addApiKey(input: { provider: $p, name: \"mine\", key: $k }) { apiKey { id provider name last4 } } }",
                    json!({ "p": provider, "k": key }),
                )
                .await;
            let added = &data["addApiKey"]["apiKey"];
            assert_eq!(added["last4"], &key[key.len() - 4..]);
            assert_eq!(added["provider"], provider);
        }
        let listed = app
            .query(
                Some(&ada.token),
                "{ myApiKeys { provider name last4 createdAt } }",
                json!({}),
            )
            .await;
        assert_eq!(listed["myApiKeys"].as_array().unwrap().len(), 2);
        assert!(!listed.to_string().contains("secret"));

        let cases = [
            (
                "claude-sonnet-4-20250514",
                "x-api-key",
                anthropic_key.to_owned(),
                "anthropic",
            ),
            (
                "gpt-4o-mini",
                "authorization",
                format!("Bearer {openai_key}"),
                "openai",
            ),
        ];
        for (model, header, expected, provider) in cases {
            let before = fake.request_count();
            fake.push_when(
                |r| r.is_streaming(),
                FakeReply::text(["Tide ", "pools ", "are ", "small ", "worlds."])
                    .with_usage(40, 9)
                    .chunked(7),
            );
            let (_, reply) = send(
                &app,
                &ada,
                json!({ "conversationId": conv, "content": "What are tide pools?", "model": model }),
            )
            .await;
            let followed = follow(&app, &ada, &reply, None).await;
            assert_eq!(followed.last["status"], "COMPLETE", "{model}");
            assert_eq!(followed.text, "Tide pools are small worlds.");
            let stored = message(&app, &ada, &conv, &reply).await;
            assert_eq!(stored["content"], followed.text.as_str());
            assert_eq!(stored["inputTokens"], 40);
            assert_eq!(stored["outputTokens"], 9);
            assert_eq!(stored["model"], model);
            assert_eq!(stored["provider"], provider);

            let requests = fake.requests();
            let sent = streamed(&requests[before..]);
            assert_eq!(sent.len(), 1, "{model}: one streamed call");
            assert_eq!(sent[0].header(header), Some(expected.as_str()), "{model}");
            assert_eq!(sent[0].body["model"], model);

            let row = usage_rows(&app, &conv)
                .await
                .into_iter()
                .find(|r| r.message_id.as_deref() == Some(raw_id(&reply).as_str()))
                .expect("a usage row for the reply");
            let catalogue = ai_providers::Catalogue::builtin();
            let info = catalogue.get(model).unwrap();
            let expected_cost = info.cost_micros(&Usage {
                input_tokens: 40,
                output_tokens: 9,
            });
            assert!(expected_cost.is_some());
            assert_eq!(row.cost_micros, expected_cost);
            assert_eq!((row.input_tokens, row.output_tokens), (40, 9));
            assert_eq!(row.provider, provider);
            assert_eq!(*row.stream_type, core_domain::enums::StreamType::Chat);
        }

        // At rest the keys are ciphertext only.
        use persistence::sea_orm::EntityTrait;
        let rows = persistence::entity::api_keys::Entity::find()
            .all(app.db().conn())
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        for row in &rows {
            let dump = format!("{row:?}");
            assert!(!dump.contains("ada-secret"), "plaintext key stored: {dump}");
        }

        // A deleted key is no longer used.
        let id = persistence::api_keys::newest_for(app.db().conn(), &ada.db_id, "anthropic")
            .await
            .unwrap()
            .unwrap()
            .id;
        let id = gid(Kind::ApiKey, &id);
        let deleted = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { deleteApiKey(input: { id: $id }) { deletedApiKeyId } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["deleteApiKey"]["deletedApiKeyId"], id.as_str());
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "again", "model": "claude-sonnet-4-20250514" } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["reason"], "no_api_key");
    }
);

chat_test!(
    retries_before_output_only_and_a_cut_keeps_the_partial_text,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;

        // 429 then Anthropic's 529, then a reply: retried, one reply.
        fake.push_when(|r| r.is_streaming(), FakeReply::error(429));
        fake.push_when(|r| r.is_streaming(), FakeReply::error(529));
        fake.push_when(|r| r.is_streaming(), FakeReply::text(["After ", "retries"]));
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "one" }),
        )
        .await;
        let followed = follow(&app, &ada, &reply, None).await;
        assert_eq!(followed.last["status"], "COMPLETE");
        assert_eq!(followed.text, "After retries");
        assert_eq!(streamed(&fake.requests()).len(), 3);
        assert_eq!(fake.requests()[0].header("x-api-key"), Some("sk-server"));

        // Cut after two deltas: no retry, FAILED with the partial text and a usage row.
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(["Half ", "a ", "reply ", "lost"]).cut_after(2),
        );
        let (user_msg, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "two" }),
        )
        .await;
        let followed = follow(&app, &ada, &reply, None).await;
        assert_eq!(followed.last["status"], "FAILED");
        assert_eq!(followed.last["error"], "stream_interrupted");
        assert_eq!(followed.text, "Half a ");
        assert_eq!(
            streamed(&fake.requests()).len(),
            4,
            "never retried after output"
        );
        let stored = message(&app, &ada, &conv, &reply).await;
        assert_eq!(stored["status"], "FAILED");
        assert_eq!(stored["content"], "Half a ");
        assert_eq!(stored["error"], "stream_interrupted");
        let user_stored = message(&app, &ada, &conv, &user_msg).await;
        assert_eq!(user_stored["content"], "two");
        let row = usage_rows(&app, &conv)
            .await
            .into_iter()
            .find(|r| r.message_id.as_deref() == Some(raw_id(&reply).as_str()))
            .expect("a usage row for what was billed");
        assert!(row.output_tokens > 0);

        // A failure before any output: FAILED, empty, with the reason.
        fake.push_times(FakeReply::error(401), 1);
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "three" }),
        )
        .await;
        let followed = follow(&app, &ada, &reply, None).await;
        assert_eq!(followed.last["status"], "FAILED");
        assert_eq!(followed.last["error"], "unauthorized");
        assert_eq!(followed.text, "");
    }
);

chat_test!(
    a_reconnecting_follower_gets_the_whole_reply_exactly_once,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, Some("gpt-4o-mini")).await;
        let words: Vec<String> = (0..40).map(|i| format!("w{i}é ")).collect();
        let expected: String = words.concat();
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(words.clone())
                .chunked(40)
                .chunk_delay(Duration::from_millis(5)),
        );
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "count" }),
        )
        .await;

        // Another tab follows the whole reply at the same time.
        let tab = {
            let app_url = app.url("");
            let token = ada.token.clone();
            let reply = reply.clone();
            tokio::spawn(async move {
                let ws_url = format!("{}/graphql/ws", app_url.replacen("http", "ws", 1));
                let mut ws = colloquy_tests::WsClient::connect(&ws_url, Some(&token)).await;
                let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
                let mut text = String::new();
                loop {
                    let e = ws.next_for(&id, WAIT).await.expect("event")["data"]["messageStream"]
                        .clone();
                    text.push_str(e["delta"].as_str().unwrap());
                    if e["done"] == true {
                        return text;
                    }
                }
            })
        };

        // First connection: read a few pieces, then drop the socket.
        let mut ws = app.ws(Some(&ada.token)).await;
        let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
        let mut first = String::new();
        let mut last_seq = 0;
        for _ in 0..3 {
            let e = ws.next_for(&id, WAIT).await.expect("event")["data"]["messageStream"].clone();
            first.push_str(e["delta"].as_str().unwrap());
            last_seq = e["seq"].as_i64().unwrap();
            assert_eq!(
                last_seq as usize,
                first.chars().count(),
                "seq is the character offset"
            );
            if e["done"] == true {
                break;
            }
        }
        drop(ws);

        // Reconnect from the last seq: the rest, nothing twice.
        let rest = follow(&app, &ada, &reply, Some(last_seq)).await;
        assert_eq!(rest.last["status"], "COMPLETE");
        assert_eq!(format!("{first}{}", rest.text), expected);
        assert_eq!(tab.await.unwrap(), expected);

        // A follower after the end replays it from the database.
        let late = follow(&app, &ada, &reply, None).await;
        assert_eq!(late.text, expected);
        let tail = follow(&app, &ada, &reply, Some(10)).await;
        assert_eq!(tail.text, expected.chars().skip(10).collect::<String>());
    }
);

chat_test!(
    regenerate_and_edit_make_siblings_and_send_the_right_branch,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        let ask = |text: &'static str| {
            fake.push_when(|r| r.is_streaming(), FakeReply::text([text]));
        };
        ask("R1");
        let (a, r1) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "A" }),
        )
        .await;
        follow(&app, &ada, &r1, None).await;
        ask("R2");
        let (b, r2) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "B" }),
        )
        .await;
        follow(&app, &ada, &r2, None).await;

        // Regenerate the first reply: an ASSISTANT sibling under A, prompted with A only.
        ask("R1 again");
        let data = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { regenerateMessage(input: { messageId: $id }) { reply { id parentId role status } } }",
                json!({ "id": r1 }),
            )
            .await;
        let r1b = data["regenerateMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(data["regenerateMessage"]["reply"]["parentId"], a.as_str());
        let done = follow(&app, &ada, &r1b, None).await;
        assert_eq!(done.text, "R1 again");
        let last = fake
            .requests()
            .into_iter()
            .filter(|r| r.is_streaming())
            .last()
            .unwrap();
        assert_eq!(turns(&last), [("user".to_owned(), "A".to_owned())]);

        // Edit B: a USER sibling under R1, then its reply; the branch is A, R1, B'.
        ask("R3");
        let (b2, r3) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "B edited", "parentId": r1 }),
        )
        .await;
        follow(&app, &ada, &r3, None).await;
        let last = fake
            .requests()
            .into_iter()
            .filter(|r| r.is_streaming())
            .last()
            .unwrap();
        let expected: Vec<(String, String)> =
            [("user", "A"), ("assistant", "R1"), ("user", "B edited")]
                .iter()
                .map(|(r, c)| ((*r).to_owned(), (*c).to_owned()))
                .collect();
        assert_eq!(turns(&last), expected);

        // Edit the very first message: a USER sibling with no parent, prompted with itself only.
        ask("R0");
        let data = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { editMessage(input: { messageId: $id, content: \"A edited\" }) { userMessage { id parentId } reply { id parentId } } }",
                json!({ "id": a }),
            )
            .await;
        let a2 = data["editMessage"]["userMessage"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(data["editMessage"]["userMessage"]["parentId"].is_null());
        assert_eq!(data["editMessage"]["reply"]["parentId"], a2.as_str());
        let r0 = data["editMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        follow(&app, &ada, &r0, None).await;
        let last = fake
            .requests()
            .into_iter()
            .filter(|r| r.is_streaming())
            .last()
            .unwrap();
        assert_eq!(turns(&last), [("user".to_owned(), "A edited".to_owned())]);
        let wrong = app
            .post(
                Some(&ada.token),
                "mutation($id: ID!) { editMessage(input: { messageId: $id, content: \"x\" }) { reply { id } } }",
                json!({ "id": r1 }),
            )
            .await;
        assert_eq!(
            wrong["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "only user messages can be edited"
        );

        let (_, list) = messages(&app, &ada, &conv).await;
        let find = |id: &str| list.iter().find(|m| m["id"] == id).unwrap().clone();
        let ids = |v: &Value| -> Vec<String> {
            v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&find(&r1)["siblings"]), [r1.clone(), r1b.clone()]);
        assert_eq!(ids(&find(&b)["siblings"]), [b.clone(), b2.clone()]);
        assert_eq!(ids(&find(&a)["children"]), [r1.clone(), r1b.clone()]);
        assert_eq!(ids(&find(&r1)["children"]), [b.clone(), b2.clone()]);
        assert_eq!(ids(&find(&a)["siblings"]), [a.clone(), a2.clone()]);

        // Siblings and children of a whole list cost the same statements however long it is.
        let before = app.sql_statements();
        messages(&app, &ada, &conv).await;
        let with_eight = app.sql_statements() - before;
        ask("R4");
        let (_, r4) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "C" }),
        )
        .await;
        follow(&app, &ada, &r4, None).await;
        let before = app.sql_statements();
        messages(&app, &ada, &conv).await;
        assert_eq!(app.sql_statements() - before, with_eight);
    }
);

chat_test!(
    twenty_parallel_sends_against_a_budget_for_five,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        // Replies stay open so no settlement frees budget while the sends race.
        fake.set_default(FakeReply::text(["held ", "open"]).stall_after(1));
        // Each send reserves its prompt estimate plus 100 reply tokens: 5 fit, a 6th does not.
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |c| {
            c.chat.max_output_tokens = 100;
            c.chat.daily_token_limit = 5 * 105 + 50;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let mut convs = Vec::new();
        for _ in 0..20 {
            convs.push(new_conversation(&app, &ada, None).await);
        }
        let sends = convs.iter().map(|conv| {
            app.post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hi" } }),
            )
        });
        let answers = futures::future::join_all(sends).await;
        let ok = answers.iter().filter(|b| b.get("errors").is_none()).count();
        let refused = answers
            .iter()
            .filter(|b| b["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED")
            .count();
        assert_eq!((ok, refused), (5, 15), "{answers:#?}");
        // Refused sends stored nothing and called nobody.
        let deadline = tokio::time::Instant::now() + WAIT;
        while fake.request_count() < 5 {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(fake.request_count(), 5);
        let mut stored = 0;
        for conv in &convs {
            stored += messages(&app, &ada, conv).await.1.len();
        }
        assert_eq!(stored, 10);
    }
);

chat_test!(
    cancel_keeps_what_was_produced,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(["Partial ", "answer ", "never ", "finished"]).stall_after(2),
        );
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "go" }),
        )
        .await;
        let mut ws = app.ws(Some(&ada.token)).await;
        let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
        let mut text = String::new();
        while text != "Partial answer " {
            let e = ws.next_for(&id, WAIT).await.expect("event")["data"]["messageStream"].clone();
            text.push_str(e["delta"].as_str().unwrap());
        }
        let data = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { cancelMessage(input: { messageId: $id }) { message { status content } } }",
                json!({ "id": reply }),
            )
            .await;
        let cancelled = &data["cancelMessage"]["message"];
        assert_eq!(cancelled["status"], "CANCELLED");
        assert_eq!(cancelled["content"], "Partial answer ");
        let e = ws.next_for(&id, WAIT).await.expect("final event")["data"]["messageStream"].clone();
        assert_eq!(e["done"], true);
        assert_eq!(e["status"], "CANCELLED");
        // The provider call was dropped.
        let deadline = tokio::time::Instant::now() + WAIT;
        while fake.open_responses() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the stream stayed open"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(usage_rows(&app, &conv).await.len(), 1);

        // The cancellation is on record once, by its caller, written by the generator with the
        // final row; cancelling again stops nothing, and says so.
        let cancelled = cancel_events(&app, &reply).await;
        assert_eq!(cancelled.len(), 1, "{cancelled:#?}");
        assert_eq!(cancelled[0].0, "message.cancelled");
        assert_eq!(cancelled[0].1.as_deref(), Some(ada.db_id.as_str()));
        assert!(cancelled[0].2.is_some(), "the request id links the event");
        let again = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { cancelMessage(input: { messageId: $id }) { message { status } } }",
                json!({ "id": reply }),
            )
            .await;
        assert_eq!(again["cancelMessage"]["message"]["status"], "CANCELLED");
        let actions: Vec<String> = cancel_events(&app, &reply)
            .await
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(actions, ["message.cancelled", "message.cancel_requested"]);
    }
);

/// The `message.cancel*` audit events of a reply, oldest first: action, actor, request id.
async fn cancel_events(
    app: &TestApp,
    reply: &str,
) -> Vec<(String, Option<String>, Option<String>)> {
    use persistence::entity::events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    events::Entity::find()
        .filter(events::Column::EntityId.eq(raw_id(reply)))
        .filter(events::Column::Type.starts_with("message.cancel"))
        .order_by_asc(events::Column::CreatedAt)
        .order_by_asc(events::Column::Id)
        .all(app.db().conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.r#type, e.user_id, e.request_id))
        .collect()
}

chat_test!(
    models_switch_per_message_and_per_conversation,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        let data = app
            .query(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "a" } }),
            )
            .await;
        assert_eq!(
            data["sendMessage"]["reply"]["model"],
            "claude-sonnet-4-20250514"
        );
        follow(
            &app,
            &ada,
            data["sendMessage"]["reply"]["id"].as_str().unwrap(),
            None,
        )
        .await;

        let data = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { updateConversation(input: { id: $id, model: \"gpt-4o-mini\" }) { conversation { model } } }",
                json!({ "id": conv }),
            )
            .await;
        assert_eq!(
            data["updateConversation"]["conversation"]["model"],
            "gpt-4o-mini"
        );
        let data = app
            .query(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "b" } }),
            )
            .await;
        assert_eq!(data["sendMessage"]["reply"]["model"], "gpt-4o-mini");
        follow(
            &app,
            &ada,
            data["sendMessage"]["reply"]["id"].as_str().unwrap(),
            None,
        )
        .await;
        let last = fake
            .requests()
            .into_iter()
            .filter(|r| r.is_streaming())
            .last()
            .unwrap();
        assert_eq!(last.path, "/v1/chat/completions");

        let data = app
            .query(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "c", "model": "claude-haiku-4-5-20251001" } }),
            )
            .await;
        assert_eq!(
            data["sendMessage"]["reply"]["model"],
            "claude-haiku-4-5-20251001"
        );
        follow(
            &app,
            &ada,
            data["sendMessage"]["reply"]["id"].as_str().unwrap(),
            None,
        )
        .await;

        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "d", "model": "gpt-17" } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "model");
        assert_eq!(
            app.error_code(
                Some(&ada.token),
                "mutation($id: ID!) { updateConversation(input: { id: $id, model: \"gpt-17\" }) { conversation { model } } }",
                json!({ "id": conv }),
            )
            .await,
            "BAD_USER_INPUT"
        );
    }
);

chat_test!(
    disclaimer_rate_limit_and_access_are_enforced,
    |backend: Backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.auth.disclaimer_version = Some("v2".into());
            c.chat.send_rate_per_minute = 2;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let eve = app.register("eve@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        let input = json!({ "i": { "conversationId": conv, "content": "hello" } });
        let body = app.post(Some(&ada.token), SEND, input.clone()).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(
            body["errors"][0]["extensions"]["reason"],
            "DISCLAIMER_REQUIRED"
        );

        {
            use persistence::sea_orm::{ActiveModelTrait, Set};
            persistence::entity::users::ActiveModel {
                id: Set(ada.db_id.clone()),
                disclaimer_version: Set(Some("v2".into())),
                disclaimer_accepted: Set(true),
                ..Default::default()
            }
            .update(app.db().conn())
            .await
            .unwrap();
        }
        let (_, r1) = send(&app, &ada, input["i"].clone()).await;
        follow(&app, &ada, &r1, None).await;
        let (_, r2) = send(&app, &ada, input["i"].clone()).await;
        follow(&app, &ada, &r2, None).await;
        let body = app.post(Some(&ada.token), SEND, input.clone()).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_i64()
                .unwrap()
                >= 1
        );

        // Someone else's conversation and reply do not exist for eve.
        assert_eq!(
            app.error_code(Some(&eve.token), SEND, input.clone()).await,
            "NOT_FOUND"
        );
        assert_eq!(
            app.error_code(
                Some(&eve.token),
                "mutation($id: ID!) { cancelMessage(input: { messageId: $id }) { message { id } } }",
                json!({ "id": r1 }),
            )
            .await,
            "NOT_FOUND"
        );
        let mut ws = app.ws(Some(&eve.token)).await;
        let id = ws.subscribe(STREAM, json!({ "id": r1 })).await;
        let answer = ws.next_for(&id, WAIT).await.expect("an answer");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{answer:#}"
        );
    }
);

/// Stores a reply in `conv` (a global id) as a generator would have left it, last touched `age`
/// ago; returns its global id.
async fn stuck_reply(app: &TestApp, conv: &str, age: chrono::Duration) -> String {
    use core_domain::enums::{MessageRole, MessageStatus};
    use persistence::messages::{self as store, NewMessage};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = store::append(
        app.db().conn(),
        vec![NewMessage {
            conversation_id: raw_id(conv),
            user_id: None,
            parent_id: None,
            role: MessageRole::Assistant,
            content: "half a tho".into(),
            status: MessageStatus::Streaming,
            model: Some("local-echo".into()),
            provider: Some("local".into()),
        }],
    )
    .await
    .unwrap();
    let id = rows[0].id.clone();
    // update_many, not an ActiveModel update: the latter stamps updated_at with now.
    use persistence::entity::messages::{Column, Entity};
    Entity::update_many()
        .col_expr(
            Column::UpdatedAt,
            Expr::value(core_domain::time::now() - age),
        )
        .filter(Column::Id.eq(id.clone()))
        .exec(app.db().conn())
        .await
        .unwrap();
    gid(Kind::Message, &id)
}

chat_test!(
    replies_left_streaming_fail_as_interrupted_at_start_up,
    |backend: Backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        let old = stuck_reply(&app, &conv, chrono::Duration::hours(1)).await;
        let recent = stuck_reply(&app, &conv, chrono::Duration::seconds(1)).await;
        // What a restarted server does before serving.
        gateway::app::connect(&app.state.services.config)
            .await
            .unwrap();
        let stored = message(&app, &ada, &conv, &old).await;
        assert_eq!(stored["status"], "FAILED");
        assert_eq!(stored["error"], "interrupted");
        assert_eq!(stored["content"], "half a tho");
        let followed = follow(&app, &ada, &old, None).await;
        assert_eq!(followed.last["status"], "FAILED");
        assert_eq!(followed.text, "half a tho");

        // A reply touched a second ago: on SQLite (one server per file) it cannot be alive, so it
        // is swept too; on PostgreSQL another instance may be generating it, so it is left alone.
        let recent_status = message(&app, &ada, &conv, &recent).await["status"].clone();
        match backend {
            Backend::Sqlite => assert_eq!(recent_status, "FAILED"),
            Backend::Postgres => assert_eq!(recent_status, "STREAMING"),
        }
    }
);

chat_test!(
    the_sweeper_fails_replies_whose_server_stopped_heartbeating,
    |backend: Backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.stale_after = std::time::Duration::from_secs(4);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        // Its generator "died" three seconds ago: stale one second from now.
        let orphan = stuck_reply(&app, &conv, chrono::Duration::seconds(3)).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let stored = message(&app, &ada, &conv, &orphan).await;
            if stored["status"] == "FAILED" {
                assert_eq!(stored["error"], "interrupted");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the sweeper never failed the orphan"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
);

chat_test!(
    a_follower_on_another_instance_sees_the_whole_reply,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = spawn_with_fake(backend, &fake, Some("sk-server"), |_| {}).await else {
            return;
        };
        // A second gateway over the same database (not `app::connect`: a peer starting up must
        // not be confused with a restart, so it skips the interrupted-reply sweep here).
        let config = (*app.state.services.config).clone();
        let db = persistence::Db::connect(&config.database).await.unwrap();
        let peer = gateway::app::state(config, db).unwrap();
        let peer_bus = peer.services.chat.bus().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer_addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gateway::app::run(peer, listener, async move {
            let _ = stopped.await;
        }));

        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, None).await;
        let words: Vec<String> = (0..30).map(|i| format!("part{i} ")).collect();
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(words.clone())
                .chunked(40)
                .chunk_delay(Duration::from_millis(5)),
        );
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "go" }),
        )
        .await;

        let mut ws = colloquy_tests::WsClient::connect(
            &format!("ws://{peer_addr}/graphql/ws"),
            Some(&ada.token),
        )
        .await;
        let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
        let mut text = String::new();
        let mut seq = 0;
        let mut events = 0;
        loop {
            let e = ws.next_for(&id, WAIT).await.expect("event")["data"]["messageStream"].clone();
            events += 1;
            text.push_str(e["delta"].as_str().unwrap());
            let next = e["seq"].as_i64().unwrap();
            assert!(next >= seq);
            seq = next;
            if e["done"] == true {
                assert_eq!(e["status"], "COMPLETE");
                break;
            }
        }
        assert_eq!(text, words.concat());
        assert!(events >= 2);

        // With PostgreSQL the peer hears deltas live through LISTEN/NOTIFY (the follower above
        // would also get everything by re-reading the saved text, which is how SQLite peers,
        // sharing no bus, manage). Checked on the buses themselves, so load cannot blur it.
        if backend == Backend::Postgres {
            let mut follower = peer_bus.follow("probe-message");
            let deadline = tokio::time::Instant::now() + WAIT;
            let heard = loop {
                app.state.services.chat.bus().publish(ReplyEvent::Delta {
                    message_id: "probe-message".into(),
                    start: 0,
                    text: "across".into(),
                });
                match tokio::time::timeout(Duration::from_millis(200), follower.recv()).await {
                    Ok(Ok(event)) => break event,
                    _ => assert!(
                        tokio::time::Instant::now() < deadline,
                        "no event crossed instances"
                    ),
                }
            };
            assert!(matches!(&*heard, ReplyEvent::Delta { text, .. } if text == "across"));
        }
        let _ = stop.send(());
    }
);

chat_test!(
    an_unpriced_model_is_logged_with_unknown_cost_or_refused,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let compatible = |c: &mut Config| {
            c.chat
                .providers
                .openai_compatible
                .push(ai_providers::OpenAiCompatibleConfig {
                    id: "ollama".into(),
                    http: fake.http_config(None),
                    models: vec![ai_providers::ModelInfo::new(
                        "ollama",
                        "llama-test",
                        8192,
                        1024,
                    )],
                });
        };
        let Some(app) = spawn_with_fake(backend, &fake, None, compatible).await else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, Some("llama-test")).await;
        let (_, reply) = send(
            &app,
            &ada,
            json!({ "conversationId": conv, "content": "hi" }),
        )
        .await;
        let followed = follow(&app, &ada, &reply, None).await;
        assert_eq!(followed.last["status"], "COMPLETE");
        let last = fake.last_request().unwrap();
        assert_eq!(last.path, "/v1/chat/completions");
        assert_eq!(last.header("authorization"), None, "a keyless local server");
        let row = usage_rows(&app, &conv).await.pop().unwrap();
        assert_eq!(row.provider, "ollama");
        assert_eq!(row.cost_micros, None, "unknown, never recorded as free");
        drop(app);

        let Some(app) = spawn_with_fake(backend, &fake, None, |c| {
            compatible(c);
            c.chat.providers.unknown_price = ai_providers::UnknownPricePolicy::Refuse;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = new_conversation(&app, &ada, Some("llama-test")).await;
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hi" } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "PROVIDER_ERROR");
        assert_eq!(body["errors"][0]["extensions"]["reason"], "unpriced_model");
    }
);
