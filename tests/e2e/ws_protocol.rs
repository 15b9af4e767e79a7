//! graphql-transport-ws as its specification asks: the token in the upgrade request's
//! `Authorization` header or in `connection_init` (which wins), 4403 for a bad token, 4401 for a
//! subscribe before the handshake, `error` for a document that does not parse or validate, 4409
//! for a duplicate id, and messages over the body limit refused.

use std::time::Duration;

use colloquy_tests::{TestApp, WsClient, e2e};
use serde_json::{Value, json};

const FORGED: &str = "cq_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const WAIT: Duration = Duration::from_secs(10);

fn url(app: &TestApp) -> String {
    format!("ws://{}/graphql/ws", app.addr)
}

fn bearer(token: &str) -> Value {
    json!({ "authorization": format!("Bearer {token}") })
}

/// The caller's id as the socket sees it, through a query over the socket.
async fn me_over(ws: &mut WsClient, id: &str) -> Value {
    ws.subscribe_as(id, "{ me { id } }", json!({})).await;
    ws.next_for(id, WAIT).await.expect("an answer")
}

e2e!(
    the_upgrade_header_authenticates_and_the_payload_wins,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let grace = app.register("grace@example.com").await;

        // Header only.
        let mut ws = WsClient::open(&url(&app), Some(&ada.token)).await;
        ws.init(json!({})).await.expect("acknowledged");
        assert_eq!(
            me_over(&mut ws, "1").await["data"]["me"]["id"],
            ada.global_id.as_str()
        );
        // ... and it follows messageAdded as Ada.
        let conv = app.create_conversation(&ada, "Header").await;
        ws.subscribe_as(
            "2",
            "subscription($c: ID) { messageAdded(conversationId: $c) { content } }",
            json!({ "c": conv }),
        )
        .await;
        app.wait_for_message_subscribers(1).await;
        app.add_message(&ada, &conv, "hello").await;
        let event = ws.next_for("2", WAIT).await.expect("an event");
        assert_eq!(event["data"]["messageAdded"]["content"], "hello", "{event}");

        // Both: the payload wins, whether the header is good or bad.
        let mut ws = WsClient::open(&url(&app), Some(&ada.token)).await;
        ws.init(bearer(&grace.token)).await.expect("acknowledged");
        assert_eq!(
            me_over(&mut ws, "1").await["data"]["me"]["id"],
            grace.global_id.as_str()
        );
        let mut ws = WsClient::open(&url(&app), Some(FORGED)).await;
        ws.init(bearer(&grace.token))
            .await
            .expect("a good payload token wins over a bad header");
        assert_eq!(
            me_over(&mut ws, "1").await["data"]["me"]["id"],
            grace.global_id.as_str()
        );
        let mut ws = WsClient::open(&url(&app), Some(&grace.token)).await;
        let refused = ws
            .init(bearer(FORGED))
            .await
            .expect_err("a bad payload token wins too");
        assert_eq!(refused["code"], 4403, "{refused}");

        // Neither: anonymous.
        let mut ws = WsClient::open(&url(&app), None).await;
        ws.init(json!({})).await.expect("acknowledged");
        let me = me_over(&mut ws, "1").await;
        assert!(me["data"]["me"].is_null(), "anonymous: `me` is null: {me}");
        assert!(me.get("errors").is_none(), "{me}");
    }
);

e2e!(invalid_tokens_close_with_4403, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    app.query(
        Some(&ada.token),
        "mutation { logout { revokedSessionId } }",
        json!({}),
    )
    .await;
    for (header, payload) in [
        (None, bearer(FORGED)),
        (Some(FORGED), json!({})),
        (None, bearer(&ada.token)), // revoked
        (None, json!({ "token": FORGED })),
    ] {
        let mut ws = WsClient::open(&url(&app), header).await;
        let refused = ws.init(payload.clone()).await.expect_err("refused");
        assert_eq!(refused["type"], "close", "{refused}");
        assert_eq!(refused["code"], 4403, "{header:?} {payload}: {refused}");
        assert_eq!(refused["reason"], "Forbidden");
    }
});

e2e!(
    protocol_violations_close_the_socket,
    |app: TestApp| async move {
        // subscribe before connection_init: 4401.
        let mut ws = WsClient::open(&url(&app), None).await;
        ws.subscribe_as("1", "{ __typename }", json!({})).await;
        let closed = ws.next_raw(WAIT).await.expect("closed");
        assert_eq!(closed["code"], 4401, "{closed}");

        // A second connection_init: 4429.
        let mut ws = WsClient::open(&url(&app), None).await;
        ws.init(json!({})).await.expect("acknowledged");
        ws.send(json!({ "type": "connection_init" })).await;
        let closed = ws.next_raw(WAIT).await.expect("closed");
        assert_eq!(closed["code"], 4429, "{closed}");

        // Not a protocol message: 4400.
        let mut ws = WsClient::open(&url(&app), None).await;
        ws.init(json!({})).await.expect("acknowledged");
        ws.send(json!({ "hello": "there" })).await;
        let closed = ws.next_raw(WAIT).await.expect("closed");
        assert_eq!(closed["code"], 4400, "{closed}");
    }
);

e2e!(
    invalid_documents_answer_error_messages,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let mut ws = app.ws(Some(&ada.token)).await;
        for (id, document) in [
            ("parse", "subscription {"),
            ("validation", "subscription { noSuchField }"),
            (
                "limits",
                "subscription { messageAdded { conversation { messages(first: 100) { edges { node { conversation { messages(first: 100) { edges { node { conversation { messages(first: 100) { edges { node { id } } } } } } } } } } } } } }",
            ),
        ] {
            ws.subscribe_as(id, document, json!({})).await;
            let answer = ws.next_raw(WAIT).await.expect("an answer");
            assert_eq!(answer["type"], "error", "{id}: {answer}");
            assert_eq!(answer["id"], id);
            let errors = answer["payload"]
                .as_array()
                .expect("payload is a list of errors");
            assert!(
                !errors.is_empty() && errors[0]["message"].is_string(),
                "{answer}"
            );
        }
        // Nothing follows an error for its id (no `complete`): the next message on the socket is the
        // answer to a later query.
        ws.subscribe_as("after", "{ __typename }", json!({})).await;
        let next = ws.next_raw(WAIT).await.expect("an answer");
        assert_eq!(
            (next["type"].as_str(), next["id"].as_str()),
            (Some("next"), Some("after")),
            "{next}"
        );
        let done = ws.next_raw(WAIT).await.expect("complete");
        assert_eq!(
            (done["type"].as_str(), done["id"].as_str()),
            (Some("complete"), Some("after")),
            "{done}"
        );

        // An id that ended in an error is free again.
        ws.subscribe_as("validation", "{ me { id } }", json!({}))
            .await;
        let again = ws.next_for("validation", WAIT).await.expect("an answer");
        assert_eq!(again["data"]["me"]["id"], ada.global_id.as_str(), "{again}");

        // A field error inside a valid subscription is still a result (`next`), not a protocol error.
        let mut anonymous = app.ws(None).await;
        anonymous
            .subscribe_as("1", "subscription { messageAdded { id } }", json!({}))
            .await;
        let answer = anonymous.next_raw(WAIT).await.expect("an answer");
        assert_eq!(answer["type"], "next", "{answer}");
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{answer}"
        );
    }
);

e2e!(
    duplicate_subscription_ids_close_with_4409,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Twice").await;
        let mut ws = app.ws(Some(&ada.token)).await;
        let query = "subscription($c: ID) { messageAdded(conversationId: $c) { content } }";
        ws.subscribe_as("same", query, json!({ "c": conv })).await;
        app.wait_for_message_subscribers(1).await;
        // Completed by the client, the id may be used again.
        ws.complete("same").await;
        let events = app.state.services.conversations.events();
        let deadline = tokio::time::Instant::now() + WAIT;
        while events.message_subscribers() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the completed subscription ended"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ws.subscribe_as("same", query, json!({ "c": conv })).await;
        app.wait_for_message_subscribers(1).await;
        app.add_message(&ada, &conv, "once").await;
        let event = ws.next_for("same", WAIT).await.expect("an event");
        assert_eq!(event["data"]["messageAdded"]["content"], "once", "{event}");
        // While it runs, the same id again closes the socket.
        ws.subscribe_as("same", query, json!({ "c": conv })).await;
        let closed = loop {
            let message = ws.next_raw(WAIT).await.expect("closed");
            if message["type"] == "close" {
                break message;
            }
        };
        assert_eq!(closed["code"], 4409, "{closed}");
        assert_eq!(closed["reason"], "Subscriber for same already exists");
    }
);

e2e!(
    messages_over_the_body_limit_are_refused,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let mut ws = app.ws(Some(&ada.token)).await;
        // 8 MB in one message (the limit is COLLOQUY_MAX_BODY_BYTES, 1 MiB in tests).
        let pad = "x".repeat(8 * 1024 * 1024);
        let message = json!({ "id": "big", "type": "subscribe", "payload": { "query": "{ __typename }", "variables": { "pad": pad } } });
        let sent = ws.try_send_text(message.to_string()).await;
        // Refused: the socket closes with 1009 (or breaks while the client is still sending); it
        // never answers the operation.
        let answer = ws.next_raw(WAIT).await;
        match answer {
            Some(close) if close["type"] == "close" => assert_eq!(close["code"], 1009, "{close}"),
            None => {}
            Some(other) => panic!("an 8 MB message was accepted ({sent:?}): {other}"),
        }
        // Just under the limit is fine.
        let mut ws = app.ws(Some(&ada.token)).await;
        let pad = "x".repeat(512 * 1024);
        ws.subscribe_as("fits", "{ __typename }", json!({ "pad": pad }))
            .await;
        let answer = ws.next_for("fits", WAIT).await.expect("an answer");
        assert_eq!(answer["data"]["__typename"], "Query", "{answer}");
    }
);
