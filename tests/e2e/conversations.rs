//! Conversations and messages: creating, reading back, paging, filtering, and isolation between
//! users.

use std::time::Duration;

use colloquy_tests::{Kind, TestApp, e2e, gid};
use serde_json::{Value, json};

const NESTED: &str = "query($n: Int, $m: Int) { me { email conversations(first: $n) { totalCount edges { node { id title messages(first: $m) { totalCount edges { node { role content } } } } } } } }";

e2e!(
    a_new_user_chats_and_reads_it_back_nested,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Trip plans").await;
        app.add_message(&ada, &conv, "Where should I go in May?")
            .await;
        app.add_message(&ada, &conv, "Somewhere warm, please.")
            .await;

        let data = app
            .query(Some(&ada.token), NESTED, json!({ "n": 10, "m": 20 }))
            .await;
        let convs = &data["me"]["conversations"];
        assert_eq!(convs["totalCount"], 1);
        let node = &convs["edges"][0]["node"];
        assert_eq!(node["title"], "Trip plans");
        assert_eq!(node["messages"]["totalCount"], 2);
        let contents: Vec<&str> = node["messages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(
            contents,
            ["Where should I go in May?", "Somewhere warm, please."]
        );
        assert_eq!(node["messages"]["edges"][0]["node"]["role"], "USER");
    }
);

e2e!(
    another_user_cannot_see_or_touch_it,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let eve = app.register("eve@example.com").await;
        let conv = app.create_conversation(&ada, "Private").await;
        let msg = app.add_message(&ada, &conv, "secret").await;

        let vars = json!({ "id": conv });
        // Look-ups answer null: Ada's conversation is to Eve what a missing one is.
        let lookup = "query($id: ID!) { conversation(id: $id) { title } }";
        assert_eq!(
            app.post(Some(&eve.token), lookup, vars.clone()).await,
            json!({ "data": { "conversation": null } })
        );
        assert_eq!(
            app.error_code(
                Some(&eve.token),
                "mutation($id: ID!) { renameConversation(input: { id: $id, title: \"mine\" }) { conversation { id } } }",
                vars.clone()
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(
            app.error_code(
                Some(&eve.token),
                "mutation($id: ID!) { deleteConversation(input: { id: $id }) { deletedConversationId } }",
                vars.clone()
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(
            app.error_code(
                Some(&eve.token),
                "mutation($i: AddMessageInput!) { addMessage(input: $i) { message { id } } }",
                json!({ "i": { "conversationId": conv, "content": "hi" } })
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(
            app.post(
                Some(&eve.token),
                "query($id: ID!) { user(id: $id) { email } }",
                json!({ "id": ada.global_id })
            )
            .await,
            json!({ "data": { "user": null } })
        );
        // A missing conversation answers exactly the same.
        assert_eq!(
            app.post(
                Some(&eve.token),
                lookup,
                json!({ "id": gid(Kind::Conversation, "nope") })
            )
            .await,
            json!({ "data": { "conversation": null } })
        );
        // Eve's own view is empty, and Ada's data is untouched.
        let eve_view = app
            .query(Some(&eve.token), NESTED, json!({ "n": 10, "m": 5 }))
            .await;
        assert_eq!(eve_view["me"]["conversations"]["totalCount"], 0);
        let ada_view = app.query(Some(&ada.token), "query($id: ID!) { conversation(id: $id) { title messages { edges { node { id } } } } }", vars).await;
        assert_eq!(ada_view["conversation"]["title"], "Private");
        assert_eq!(
            ada_view["conversation"]["messages"]["edges"][0]["node"]["id"],
            msg.as_str()
        );
        // Anonymous callers are asked to sign in.
        assert_eq!(
            app.error_code(
                None,
                "mutation { createConversation(input: {}) { conversation { id } } }",
                json!({})
            )
            .await,
            "UNAUTHENTICATED"
        );
    }
);

e2e!(rename_and_delete, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let conv = app.create_conversation(&ada, "Old").await;
    let renamed = app
        .query(
            Some(&ada.token),
            "mutation($id: ID!) { renameConversation(input: { id: $id, title: \"  New title \" }) { conversation { id title } } }",
            json!({ "id": conv }),
        )
        .await;
    let renamed = &renamed["renameConversation"]["conversation"];
    assert_eq!(renamed["title"], "New title");
    assert_eq!(renamed["id"], conv.as_str());
    let body = app
        .post(
            Some(&ada.token),
            "mutation($id: ID!) { renameConversation(input: { id: $id, title: \"   \" }) { conversation { title } } }",
            json!({ "id": conv }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "title");

    let deleted = app
        .query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteConversation(input: { id: $id }) { deletedConversationId } }",
            json!({ "id": conv }),
        )
        .await;
    assert_eq!(
        deleted["deleteConversation"]["deletedConversationId"],
        conv.as_str()
    );
    let gone = app
        .query(
            Some(&ada.token),
            "query($id: ID!) { conversation(id: $id) { id } }",
            json!({ "id": conv }),
        )
        .await;
    assert!(gone["conversation"].is_null(), "{gone}");
    let list = app
        .query(Some(&ada.token), NESTED, json!({ "n": 10, "m": 1 }))
        .await;
    assert_eq!(list["me"]["conversations"]["totalCount"], 0);
});

fn titles(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

e2e!(pages_filters_and_orders, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    for i in 0..7 {
        app.create_conversation(&ada, &format!("chat {i}")).await;
    }
    let page = "query($first: Int, $after: String, $last: Int, $before: String, $order: ConversationOrderBy, $filter: ConversationFilterInput) {
        me { conversations(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
            totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { title } } } } }";
    let asc = json!({ "field": "CREATED_AT", "direction": "ASC" });

    let p1 = app
        .query(Some(&ada.token), page, json!({ "first": 3, "order": asc }))
        .await;
    let c1 = &p1["me"]["conversations"];
    assert_eq!(titles(c1), ["chat 0", "chat 1", "chat 2"]);
    assert_eq!(c1["pageInfo"]["hasNextPage"], true);
    assert_eq!(c1["totalCount"], 7);
    let p2 = app
        .query(
            Some(&ada.token),
            page,
            json!({ "first": 3, "after": c1["pageInfo"]["endCursor"], "order": asc }),
        )
        .await;
    assert_eq!(
        titles(&p2["me"]["conversations"]),
        ["chat 3", "chat 4", "chat 5"]
    );
    let p3 = app.query(Some(&ada.token), page, json!({ "first": 3, "after": p2["me"]["conversations"]["pageInfo"]["endCursor"], "order": asc })).await;
    assert_eq!(titles(&p3["me"]["conversations"]), ["chat 6"]);
    assert_eq!(p3["me"]["conversations"]["pageInfo"]["hasNextPage"], false);

    // Backwards from the end of page two.
    let back = app.query(Some(&ada.token), page, json!({ "last": 2, "before": p2["me"]["conversations"]["pageInfo"]["endCursor"], "order": asc })).await;
    assert_eq!(titles(&back["me"]["conversations"]), ["chat 3", "chat 4"]);
    assert_eq!(
        back["me"]["conversations"]["pageInfo"]["hasPreviousPage"],
        true
    );

    // Newest activity first by default.
    let recent = app
        .query(Some(&ada.token), page, json!({ "first": 2 }))
        .await;
    assert_eq!(titles(&recent["me"]["conversations"]), ["chat 6", "chat 5"]);

    let filtered = app
        .query(
            Some(&ada.token),
            page,
            json!({ "first": 10, "filter": { "titleContains": "CHAT 4" } }),
        )
        .await;
    assert_eq!(titles(&filtered["me"]["conversations"]), ["chat 4"]);
    assert_eq!(filtered["me"]["conversations"]["totalCount"], 1);

    // A cursor from another ordering, a page over the cap, and first+last are refused.
    let wrong = app
        .post(
            Some(&ada.token),
            page,
            json!({ "first": 2, "after": c1["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(wrong["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let too_big = app
        .post(Some(&ada.token), page, json!({ "first": 101 }))
        .await;
    assert_eq!(too_big["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(too_big["errors"][0]["extensions"]["field"], "first");
    let both = app
        .post(Some(&ada.token), page, json!({ "first": 1, "last": 1 }))
        .await;
    assert_eq!(both["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
});

e2e!(message_pages_and_filters, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let conv = app.create_conversation(&ada, "Long").await;
    for i in 0..25 {
        app.add_message(&ada, &conv, &format!("m{i}")).await;
    }
    let q = "query($id: ID!, $after: String, $order: MessageOrderBy) { conversation(id: $id) { totalMessages messages(after: $after, orderBy: $order) { totalCount pageInfo { hasNextPage endCursor } edges { node { content parentId } } } } }";
    let first = app.query(Some(&ada.token), q, json!({ "id": conv })).await;
    let msgs = &first["conversation"]["messages"];
    assert_eq!(
        msgs["edges"].as_array().unwrap().len(),
        20,
        "default page is 20"
    );
    assert_eq!(msgs["totalCount"], 25);
    assert_eq!(first["conversation"]["totalMessages"], 25);
    assert_eq!(msgs["edges"][0]["node"]["content"], "m0");
    assert!(msgs["edges"][0]["node"]["parentId"].is_null());
    assert!(
        msgs["edges"][1]["node"]["parentId"].is_string(),
        "a message follows the previous one"
    );
    let rest = app
        .query(
            Some(&ada.token),
            q,
            json!({ "id": conv, "after": msgs["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        rest["conversation"]["messages"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let newest = app
        .query(
            Some(&ada.token),
            q,
            json!({ "id": conv, "order": { "direction": "DESC" } }),
        )
        .await;
    assert_eq!(
        newest["conversation"]["messages"]["edges"][0]["node"]["content"],
        "m24"
    );
    let none = app
        .query(Some(&ada.token), "query($id: ID!) { conversation(id: $id) { messages(filter: { role: [ASSISTANT] }) { totalCount } } }", json!({ "id": conv }))
        .await;
    assert_eq!(none["conversation"]["messages"]["totalCount"], 0);
});

e2e!(
    new_messages_arrive_over_websocket,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let eve = app.register("eve@example.com").await;
        let conv = app.create_conversation(&ada, "Live").await;

        let mut ws = app.ws(Some(&ada.token)).await;
        let sub = ws.subscribe("subscription($id: ID) { messageAdded(conversationId: $id) { content role conversationId } }", json!({ "id": conv })).await;
        let mut all = app.ws(Some(&ada.token)).await;
        let sub_all = all
            .subscribe("subscription { messageAdded { content } }", json!({}))
            .await;
        app.wait_for_message_subscribers(2).await;

        app.add_message(&ada, &conv, "hello live").await;
        let got = ws
            .next_for(&sub, Duration::from_secs(10))
            .await
            .expect("an event");
        assert_eq!(got["data"]["messageAdded"]["content"], "hello live");
        assert_eq!(got["data"]["messageAdded"]["conversationId"], conv.as_str());
        let got = all
            .next_for(&sub_all, Duration::from_secs(10))
            .await
            .expect("an event");
        assert_eq!(got["data"]["messageAdded"]["content"], "hello live");

        // Eve cannot follow Ada's conversation, and sees none of Ada's messages on her own feed.
        let mut eve_ws = app.ws(Some(&eve.token)).await;
        let denied = eve_ws
            .subscribe(
                "subscription($id: ID) { messageAdded(conversationId: $id) { content } }",
                json!({ "id": conv }),
            )
            .await;
        let answer = eve_ws
            .next_for(&denied, Duration::from_secs(10))
            .await
            .expect("an answer");
        let errors = if answer["type"] == "error" {
            answer["payload"].clone()
        } else {
            answer["errors"].clone()
        };
        assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{answer}");
        let eve_all = eve_ws
            .subscribe("subscription { messageAdded { content } }", json!({}))
            .await;
        app.wait_for_message_subscribers(3).await;
        // Ada's message is published before Eve's own: if Eve's feed let Ada's through, it would
        // be the first event Eve receives.
        app.add_message(&ada, &conv, "not for eve").await;
        let eves = app.create_conversation(&eve, "Eve's").await;
        app.add_message(&eve, &eves, "for eve").await;
        let first = eve_ws
            .next_for(&eve_all, Duration::from_secs(10))
            .await
            .expect("Eve's own message reaches her feed");
        assert_eq!(
            first["data"]["messageAdded"]["content"], "for eve",
            "Eve must not receive Ada's message: {first}"
        );

        // A bad token is refused at connection_init.
        let refused = colloquy_tests::WsClient::try_connect(
            &format!("ws://{}/graphql/ws", app.addr),
            Some("cq_s_bogus"),
        )
        .await;
        assert!(refused.is_err());
    }
);

e2e!(
    messages_reach_subscribers_on_another_instance,
    |app: TestApp| async move {
        if app.backend != colloquy_tests::Backend::Postgres {
            return; // one SQLite file has one server
        }
        // Instance B over the same database; a subscriber on B follows Ada's conversation.
        let peer = app.spawn_peer().await;
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Across").await;
        let mut ws = colloquy_tests::WsClient::connect(
            &format!("ws://{}/graphql/ws", peer.addr),
            Some(&ada.token),
        )
        .await;
        let sub = ws
            .subscribe(
                "subscription($id: ID) { messageAdded(conversationId: $id) { content } }",
                json!({ "id": conv }),
            )
            .await;
        peer.wait_for_message_subscribers(1).await;
        peer.state.services.conversations.events().listening().await;

        // Sent through instance A (without and with an AI reply): both arrive on B.
        app.add_message(&ada, &conv, "through A").await;
        let got = ws
            .next_for(&sub, Duration::from_secs(10))
            .await
            .expect("the message sent through A reaches B");
        assert_eq!(got["data"]["messageAdded"]["content"], "through A");
        let sent = app
            .query(
                Some(&ada.token),
                "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"and a reply\" }) { reply { id } } }",
                json!({ "c": conv }),
            )
            .await;
        assert!(sent["sendMessage"]["reply"]["id"].is_string());
        let got = ws
            .next_for(&sub, Duration::from_secs(10))
            .await
            .expect("sendMessage's message reaches B");
        assert_eq!(got["data"]["messageAdded"]["content"], "and a reply");
        let reply = ws
            .next_for(&sub, Duration::from_secs(10))
            .await
            .expect("the reply reaches B");
        assert!(reply["data"]["messageAdded"].is_object(), "{reply}");
    }
);
