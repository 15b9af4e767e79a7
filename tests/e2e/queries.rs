//! Nested reads cost a number of SQL statements set by the query's depth, never by its rows.

use colloquy_tests::{Kind, TestApp, TestUser, e2e, gid};
use core_domain::enums::{MessageRole, MessageStatus};
use persistence::conversations::{self, NewConversation};
use persistence::messages::{self, NewMessage};
use serde_json::json;

/// Gives `user` `conversations` conversations of `per_conversation` messages each, straight
/// through the stores (fast, and the same code the API runs).
async fn fill(app: &TestApp, user: &TestUser, conversations: usize, per_conversation: usize) {
    for c in 0..conversations {
        let conv = conversations::create(
            app.db().conn(),
            NewConversation {
                user_id: Some(user.db_id.clone()),
                title: Some(format!("c{c}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let batch = (0..per_conversation)
            .map(|m| NewMessage {
                conversation_id: conv.id.clone(),
                user_id: (m % 2 == 0).then(|| user.db_id.clone()),
                parent_id: None,
                role: if m % 2 == 0 {
                    MessageRole::User
                } else {
                    MessageRole::Assistant
                },
                content: format!("message {m}"),
                status: MessageStatus::Complete,
                model: None,
                provider: None,
            })
            .collect();
        messages::append(app.db().conn(), batch).await.unwrap();
    }
}

/// Runs `query` as `token` and returns how many SQL statements it cost: the cheapest of three
/// runs, because the server's background work (the sweep of interrupted replies every 10 s, the
/// queue depths every 15 s, the heartbeat) counts in the same total and may land in a run; on a
/// loaded CI machine a debug request may take long enough for that to happen to two runs in a row
/// (CI once saw 5 statements against 4 in both; the likeliest cause).
async fn statements(app: &TestApp, token: &str, query: &str) -> (u64, serde_json::Value) {
    let mut cost = u64::MAX;
    let mut data = serde_json::Value::Null;
    for _ in 0..3 {
        let before = app.sql_statements();
        data = app.query(Some(token), query, json!({})).await;
        cost = cost.min(app.sql_statements() - before);
    }
    (cost, data)
}

const ME_NESTED: &str = "{ me { id conversations(first: 10) { totalCount edges { node { id title persona { id } messages(first: 20) { totalCount edges { node { id content role } } } } } } } }";

e2e!(
    me_nested_query_costs_the_same_for_2_or_200_conversations,
    |app: TestApp| async move {
        let small = app.register("small@example.com").await;
        let large = app.register("large@example.com").await;
        fill(&app, &small, 2, 3).await;
        fill(&app, &large, 200, 25).await;

        // A request before each measured one takes the session's once-a-minute last-use write.
        statements(&app, &small.token, ME_NESTED).await;
        let (few, small_data) = statements(&app, &small.token, ME_NESTED).await;
        statements(&app, &large.token, ME_NESTED).await;
        let (many, large_data) = statements(&app, &large.token, ME_NESTED).await;
        assert_eq!(
            small_data["me"]["conversations"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let edges = large_data["me"]["conversations"]["edges"]
            .as_array()
            .unwrap();
        assert_eq!(edges.len(), 10);
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["messages"]["edges"].as_array().unwrap().len() == 20)
        );
        assert_eq!(large_data["me"]["conversations"]["totalCount"], 200);
        assert_eq!(
            few, many,
            "statements must not grow with rows: {few} for 2 conversations, {many} for 200"
        );
        // me + conversation page + conversation count + message pages + message counts (the
        // session is kept in memory after the first request)
        assert!(
            many <= 5,
            "a depth-3 query should need a handful of statements, took {many}"
        );
    }
);

const USERS_NESTED: &str = "{ users(first: 50) { totalCount edges { node { id conversations(first: 10) { edges { node { id messages(first: 20) { edges { node { id } } } } } } } } } }";

e2e!(
    admin_users_nested_query_costs_the_same_for_3_or_30_users,
    |app: TestApp| async move {
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        for i in 0..2 {
            let u = app.register(&format!("u{i}@example.com")).await;
            fill(&app, &u, 3, 4).await;
        }
        // A session records its last use at most once a minute: a request just before each
        // measured one takes that write, so only the query's own statements are counted.
        statements(&app, &admin.token, USERS_NESTED).await;
        let (few, _) = statements(&app, &admin.token, USERS_NESTED).await;
        for i in 2..29 {
            let u = app.register(&format!("u{i}@example.com")).await;
            fill(&app, &u, 12, 22).await;
        }
        statements(&app, &admin.token, USERS_NESTED).await;
        let (many, data) = statements(&app, &admin.token, USERS_NESTED).await;
        assert_eq!(data["users"]["totalCount"], 30);
        assert_eq!(
            few, many,
            "statements must not grow with rows: {few} for 3 users, {many} for 30"
        );

        let plain = app.register("plain@example.com").await;
        assert_eq!(
            app.error_code(Some(&plain.token), "{ users { totalCount } }", json!({}))
                .await,
            "FORBIDDEN"
        );
    }
);

e2e!(catalogue_is_public_and_batched, |app: TestApp| async move {
    gateway::platform::seed::load(app.db(), None).await.unwrap();
    let anon_before = app.sql_statements();
    let data = app.query(None, "{ personas(first: 100) { totalCount nodes { id name rooms { id personas { id } } defaultRooms { id } } } rooms(first: 100) { nodes { id promptType features } } }", json!({})).await;
    let cost = app.sql_statements() - anon_before;
    let personas = data["personas"]["nodes"].as_array().unwrap();
    assert_eq!(data["personas"]["totalCount"], personas.len());
    assert!(
        personas
            .iter()
            .any(|p| p["id"] == gid(Kind::Persona, "elara")),
        "Azora's personalities are personas"
    );
    let ayla = personas
        .iter()
        .find(|p| p["id"] == gid(Kind::Persona, "ayla"))
        .unwrap();
    assert!(
        ayla["defaultRooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == gid(Kind::Room, "mirror-room"))
    );
    assert!(
        data["rooms"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["promptType"] == "SHORT_FORM")
    );
    assert!(cost <= 8, "catalogue query took {cost} statements");
});

/// The benchmark's shape: users → conversations → messages, three levels.
const BENCH_NESTED: &str = "{ users(first: 50) { edges { node { id email name conversations(first: 10) { edges { node { id title model messages(first: 20) { edges { node { id role content status createdAt } } } } } } } } } }";

e2e!(
    nested_query_statements_hold_with_16_concurrent_clients,
    |app: TestApp| async move {
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        for i in 0..20 {
            let u = app.register(&format!("u{i}@example.com")).await;
            fill(&app, &u, 5, 6).await;
        }
        // The benchmark's read as a plan answers it, and through the resolvers (a directive
        // keeps plans out), where each level is read ahead by the resolver above it.
        let resolved = BENCH_NESTED.replace("email name", "email name @include(if: true)");
        for (query, by_plan) in [(BENCH_NESTED, true), (resolved.as_str(), false)] {
            // Warm up once (a session records its use at most once a minute), then measure one
            // request alone: a statement per level, and none for the rows.
            statements(&app, &admin.token, query).await;
            let (alone, data) = statements(&app, &admin.token, query).await;
            let users = data["users"]["edges"].as_array().unwrap();
            assert_eq!(users.len(), 21);
            assert!(
                alone <= 3,
                "one level, one statement (the caller's session is kept in memory): took {alone}"
            );

            // 16 clients at once, 3 rounds each: every request still costs what it cost alone,
            // so a level is never split into several batches under load.
            const CLIENTS: usize = 16;
            const ROUNDS: usize = 3;
            let planned = counter(&app, "colloquy_graphql_planned_total").await;
            let before = app.sql_statements();
            let runs = (0..CLIENTS).map(|_| async {
                for _ in 0..ROUNDS {
                    let data = app.query(Some(&admin.token), query, json!({})).await;
                    assert_eq!(data["users"]["edges"].as_array().unwrap().len(), 21);
                }
            });
            futures::future::join_all(runs).await;
            let total = app.sql_statements() - before;
            let requests = u64::try_from(CLIENTS * ROUNDS).unwrap();
            // A session records its last use at most once a minute; when that minute turns
            // during the burst, the caller kept in memory ends and concurrent requests may each
            // read the session and record its use once. Nothing else may be added: a level split
            // into batches would cost one more statement per request and level.
            let touches = 2 * u64::try_from(CLIENTS).unwrap();
            assert!(
                total >= alone * requests && total <= alone * requests + touches,
                "{total} statements for {requests} concurrent requests that cost {alone} each alone"
            );
            let planned = counter(&app, "colloquy_graphql_planned_total").await - planned;
            assert_eq!(planned, if by_plan { requests } else { 0 }, "{query}");
        }
    }
);

/// A counter of `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from {text}"))
        .parse()
        .unwrap()
}

e2e!(
    reads_take_the_extension_free_path_and_errors_read_as_before,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        fill(&app, &ada, 3, 4).await;
        let fast = || counter(&app, "colloquy_graphql_fast_path_total");
        let retried = || counter(&app, "colloquy_graphql_fast_path_retried_total");

        // A nested read is answered by the fast path, keys in selection order.
        let (f0, r0) = (fast().await, retried().await);
        let body = app.query(Some(&ada.token), ME_NESTED, json!({})).await;
        assert_eq!(body["me"]["conversations"]["totalCount"], 3, "{body}");
        assert_eq!((fast().await, retried().await), (f0 + 1, r0));

        // An error: run again with the extensions, so the answer is the spec's (the errored
        // non-null field nulls `me`; the sibling root field stays).
        let body = app
            .post(
                Some(&ada.token),
                "{ me { id conversations(first: -1) { totalCount } } disclaimer { requiredVersion } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"],
            json!({ "me": null, "disclaimer": { "requiredVersion": null } }),
            "{body}"
        );
        assert_eq!(body["errors"][0]["path"], json!(["me", "conversations"]));
        assert_eq!((fast().await, retried().await), (f0 + 2, r0 + 1));

        // An object in an interface-typed place (`node`) goes the exact way too.
        let conv = app.create_conversation(&ada, "Typed").await;
        let body = app
            .post(
                Some(&ada.token),
                "query($id: ID!) { node(id: $id) { ... on Conversation { title } id } }",
                json!({ "id": conv }),
            )
            .await;
        assert_eq!(body["data"]["node"]["title"], "Typed", "{body}");
        assert_eq!((fast().await, retried().await), (f0 + 3, r0 + 2));

        // Mutations and introspection never take it.
        app.post(
            Some(&ada.token),
            "mutation { createConversation(input: { title: \"m\" }) { conversation { id } } }",
            json!({}),
        )
        .await;
        app.post(None, "{ __schema { queryType { name } } }", json!({}))
            .await;
        assert_eq!((fast().await, retried().await), (f0 + 3, r0 + 2));
    }
);

/// Every field of `Message` (the nested reads decode only the columns a selection needs).
const MESSAGE_FIELDS: &str = "id conversationId conversation { id } parentId userId author { id } role content status error model provider inputTokens outputTokens usage { inputTokens } createdAt updatedAt children { totalCount edges { node { id content } } } siblings { totalCount }";

e2e!(
    transcripts_read_sparsely_answer_every_field_as_the_whole_row_does,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let conversation = conversations::create(
            app.db().conn(),
            NewConversation {
                user_id: Some(ada.db_id.clone()),
                title: Some("sparse".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let rows = messages::append(
            app.db().conn(),
            (0..4)
                .map(|m| NewMessage {
                    conversation_id: conversation.id.clone(),
                    user_id: (m % 2 == 0).then(|| ada.db_id.clone()),
                    parent_id: None,
                    role: if m % 2 == 0 {
                        MessageRole::User
                    } else {
                        MessageRole::Assistant
                    },
                    content: format!("message {m}"),
                    status: MessageStatus::Complete,
                    model: None,
                    provider: None,
                })
                .collect(),
        )
        .await
        .unwrap();
        // Give the messages what a plain append leaves empty: a parent, a failure, a model and
        // tokens.
        let (first, second) = (&rows[0].id, &rows[1].id);
        for sql in [
            format!(
                "UPDATE messages SET parent_id = '{first}', status = 'FAILED', error = 'provider down', \
                 model = 'gpt-test', provider = 'openai', input_tokens = 12, output_tokens = 34 \
                 WHERE id = '{second}'"
            ),
            format!(
                "UPDATE messages SET parent_id = '{first}' WHERE id = '{}'",
                rows[2].id
            ),
        ] {
            use sea_orm::ConnectionTrait;
            app.db().conn().execute_unprepared(&sql).await.unwrap();
        }
        let id = gid(Kind::Conversation, &conversation.id);

        // The whole row, through `node(id:)`, for each message.
        let mut whole = Vec::new();
        for m in &rows {
            let data = app
                .query(
                    Some(&ada.token),
                    &format!("query($id: ID!) {{ node(id: $id) {{ ... on Message {{ {MESSAGE_FIELDS} }} }} }}"),
                    json!({ "id": gid(Kind::Message, &m.id) }),
                )
                .await;
            whole.push(data["node"].clone());
        }
        assert_eq!(whole[1]["error"], "provider down");
        assert_eq!(whole[1]["inputTokens"], 12);
        assert_eq!(whole[0]["children"]["totalCount"], 2);

        // Nested, every field at once, then each field alone (each a different column set).
        let nested = |selection: String| {
            format!(
                "query($id: ID!) {{ conversation(id: $id) {{ messages(first: 10) {{ edges {{ node {{ {selection} }} }} }} }} }}"
            )
        };
        let data = app
            .query(
                Some(&ada.token),
                &nested(MESSAGE_FIELDS.to_owned()),
                json!({ "id": id }),
            )
            .await;
        let listed: Vec<_> = data["conversation"]["messages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        assert_eq!(listed, whole);
        for field in [
            "parentId",
            "userId",
            "role",
            "content",
            "status",
            "error",
            "model",
            "provider",
            "inputTokens",
            "outputTokens",
            "updatedAt",
            "author { id }",
            "siblings { totalCount }",
        ] {
            let data = app
                .query(
                    Some(&ada.token),
                    &nested(format!("id {field}")),
                    json!({ "id": id }),
                )
                .await;
            let key = field.split(' ').next().unwrap();
            for (edge, row) in data["conversation"]["messages"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .zip(&whole)
            {
                assert_eq!(edge["node"][key], row[key], "{key} of {}", row["id"]);
            }
        }

        // The same through `nodes` (a shortcut past the edges).
        let data = app
            .query(
                Some(&ada.token),
                &format!("query($id: ID!) {{ conversation(id: $id) {{ messages(first: 10) {{ nodes {{ {MESSAGE_FIELDS} }} }} }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            data["conversation"]["messages"]["nodes"]
                .as_array()
                .unwrap(),
            &whole
        );

        // Two selections of the same page in one query read different columns: neither may be
        // answered from the other's rows.
        let data = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { conversation(id: $id) { a: messages(first: 10) { edges { node { id } } } b: messages(first: 10) { edges { node { id content role } } } } }",
                json!({ "id": id }),
            )
            .await;
        let b = data["conversation"]["b"]["edges"].as_array().unwrap();
        assert_eq!(b.len(), 4);
        for (edge, row) in b.iter().zip(&whole) {
            assert_eq!(edge["node"]["content"], row["content"]);
            assert_eq!(edge["node"]["role"], row["role"]);
        }
    }
);

/// Runs `query` planned and through the resolvers (with a directive at `%D%`), checks that a
/// plan answered the first and not the second and that both answers are the same bytes, and
/// returns the answer.
async fn compare(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let planned = || counter(app, "colloquy_graphql_planned_total");
    let before = planned().await;
    let by_plan = app
        .post_text(Some(token), &query.replace("%D%", ""), variables.clone())
        .await;
    assert_eq!(planned().await, before + 1, "not planned: {by_plan}");
    let directive = query.replace("%D%", "@include(if: true)");
    let by_resolvers = app.post_text(Some(token), &directive, variables).await;
    assert_eq!(
        planned().await,
        before + 1,
        "a directive must not be planned"
    );
    assert_eq!(by_plan, by_resolvers, "the plan and the resolvers differ");
    assert!(!by_plan.contains("\"errors\""), "{by_plan}");
    serde_json::from_str(&by_plan).unwrap()
}

/// Every field a plan writes, on both roots: fragments, aliases, `__typename` at every level,
/// cursors, page info, counts, `nodes`, filters, orders and backward pages. `%D%` marks where the
/// resolvers' run puts a directive (a document with one is never planned).
const PLANNED_ME: &str = "query Mine { me { __typename ...U conversations(first: 3, orderBy: { field: CREATED_AT, direction: ASC }) %D% { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } edges { __typename cursor node { __typename ...C latest: messages(last: 2) { totalCount pageInfo { hasPreviousPage startCursor } nodes { ...M } } messages(first: 4, filter: { role: [USER] }) { pageInfo { hasNextPage endCursor } edges { cursor node { ... on Message { id content } } } } } } } } }
fragment U on User { id email name avatarUrl role isActive disclaimerAccepted disclaimerVersion disclaimerAcceptedAt lastLoginAt createdAt updatedAt }
fragment C on Conversation { id title model systemPrompt status userId totalMessages startedAt endedAt durationSeconds createdAt updatedAt }
fragment M on Message { id conversationId parentId userId role content status error model provider inputTokens outputTokens createdAt updatedAt }";

const PLANNED_USERS: &str = "query Everyone($after: String, $n: Int!) { people: users(first: $n, after: $after) %D% { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name role conversations(first: 2) { totalCount edges { node { id title model systemPrompt status userId totalMessages startedAt endedAt createdAt updatedAt messages(first: 3, orderBy: { direction: DESC }) { edges { node { id role content status createdAt } } } } } } } } } }";

e2e!(
    planned_reads_answer_byte_for_byte_as_the_resolvers_do,
    |app: TestApp| async move {
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        let ada = app.register("ada@example.com").await;
        fill(&app, &ada, 4, 5).await;
        for i in 0..4 {
            let u = app.register(&format!("u{i}@example.com")).await;
            fill(&app, &u, i, 3).await;
        }
        // Values that need escaping, optional columns set, and a reply to a message.
        let conversation = conversations::create(
            app.db().conn(),
            NewConversation {
                user_id: Some(ada.db_id.clone()),
                title: Some("quote \" backslash \\ tab \t soh \u{1} </script> 🎉".into()),
                model: Some("gpt-4o".into()),
                system_prompt: Some("line\nbreak".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let first = messages::append(
            app.db().conn(),
            vec![NewMessage {
                conversation_id: conversation.id.clone(),
                user_id: Some(ada.db_id.clone()),
                parent_id: None,
                role: MessageRole::User,
                content: "\u{1f}control \u{2028} separator \"quoted\"".into(),
                status: MessageStatus::Complete,
                model: None,
                provider: None,
            }],
        )
        .await
        .unwrap();
        messages::append(
            app.db().conn(),
            vec![NewMessage {
                conversation_id: conversation.id.clone(),
                user_id: None,
                parent_id: Some(first[0].id.clone()),
                role: MessageRole::Assistant,
                content: "ünïcödé reply".into(),
                status: MessageStatus::Complete,
                model: Some("gpt-4o".into()),
                provider: Some("openai".into()),
            }],
        )
        .await
        .unwrap();

        let planned = || counter(&app, "colloquy_graphql_planned_total");

        let me = compare(&app, &ada.token, PLANNED_ME, json!({})).await;
        let conversations = &me["data"]["me"]["conversations"];
        assert_eq!(conversations["totalCount"], 5);
        assert_eq!(conversations["edges"].as_array().unwrap().len(), 3);
        assert_eq!(
            conversations["edges"][0]["node"]["latest"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        let everyone = compare(&app, &admin.token, PLANNED_USERS, json!({ "n": 3 })).await;
        let people = &everyone["data"]["people"];
        assert_eq!(people["totalCount"], 6);
        assert_eq!(people["pageInfo"]["hasNextPage"], true);
        let after = people["pageInfo"]["endCursor"].clone();
        let rest = compare(
            &app,
            &admin.token,
            PLANNED_USERS,
            json!({ "n": 10, "after": after }),
        )
        .await;
        assert_eq!(rest["data"]["people"]["edges"].as_array().unwrap().len(), 3);

        // What a plan does not answer is resolved as before: a field that loads something else,
        // and a response key selected twice (merged fields).
        let before = planned().await;
        for query in [
            "{ me { conversations(first: 1) { edges { node { id persona { id } } } } } }",
            "{ me { id id } }",
        ] {
            let body = app.post_text(Some(&ada.token), query, json!({})).await;
            assert!(body.starts_with("{\"data\":{\"me\":{"), "{body}");
        }
        assert_eq!(planned().await, before);

        // A caller the root refuses is refused as before, whatever a plan could have written.
        assert_eq!(
            app.error_code(
                Some(&ada.token),
                "{ users { edges { node { id } } } }",
                json!({})
            )
            .await,
            "FORBIDDEN"
        );
    }
);
