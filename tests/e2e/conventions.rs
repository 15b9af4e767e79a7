//! The schema's conventions, as a client generating code from it relies on them: one input and
//! one payload per mutation, global ids that `node(id:)` resolves, links to users through a
//! loader, nullable look-ups with the GraphQL spec's null propagation, response keys in selection
//! order, connections for lists that grow, and scalars that say what they hold.

use std::time::Duration;

use colloquy_tests::{Kind, TestApp, e2e, gid, raw_id};
use serde_json::{Value, json};

const INTROSPECTION: &str = r#"{ __schema { types { kind name interfaces { name }
  fields { name args { name type { ...T } } type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

/// `NON_NULL` wrappers off: the named type's (kind, name).
fn named(t: &Value) -> (String, String) {
    let mut t = t;
    while t["ofType"].is_object() {
        t = &t["ofType"];
    }
    (
        t["kind"].as_str().unwrap_or("").to_owned(),
        t["name"].as_str().unwrap_or("").to_owned(),
    )
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

e2e!(
    every_mutation_takes_one_input_and_returns_a_payload,
    |app: TestApp| async move {
        let schema = app.query(None, INTROSPECTION, json!({})).await;
        let types = schema["__schema"]["types"].as_array().unwrap();
        let mutation = types.iter().find(|t| t["name"] == "Mutation").unwrap();
        let sign_in = ["register", "login", "startGuestSession"];
        for field in mutation["fields"].as_array().unwrap() {
            let name = field["name"].as_str().unwrap();
            let args = field["args"].as_array().unwrap();
            if !args.is_empty() {
                assert_eq!(args.len(), 1, "{name} takes one argument");
                assert_eq!(args[0]["name"], "input", "{name}");
                assert_eq!(
                    args[0]["type"]["kind"], "NON_NULL",
                    "{name}: input is required"
                );
                assert_eq!(
                    named(&args[0]["type"]),
                    (
                        "INPUT_OBJECT".to_owned(),
                        format!("{}Input", upper_first(name))
                    ),
                    "{name}"
                );
            }
            assert_eq!(field["type"]["kind"], "NON_NULL", "{name}");
            let payload = if sign_in.contains(&name) {
                "AuthPayload".to_owned()
            } else {
                format!("{}Payload", upper_first(name))
            };
            assert_eq!(
                named(&field["type"]),
                ("OBJECT".to_owned(), payload),
                "{name} returns its payload"
            );
        }

        // Every type with an `id: ID!` is a Node, and nothing else is.
        for t in types.iter().filter(|t| t["kind"] == "OBJECT") {
            let name = t["name"].as_str().unwrap();
            if name.starts_with("__") {
                continue;
            }
            let has_id = t["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "id" && named(&f["type"]).1 == "ID");
            let is_node = t["interfaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == "Node");
            assert_eq!(has_id, is_node, "{name}: an id makes a Node");
        }
    }
);

e2e!(
    global_ids_name_their_type_and_node_finds_them,
    |app: TestApp| async move {
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Ids").await;
        let first = app.add_message(&ada, &conv, "first").await;
        let second = app.add_message(&ada, &conv, "second").await;

        // The id holds the record's type and database id; every id-valued field is global too.
        assert_eq!(gid(Kind::Conversation, &raw_id(&conv)), conv);
        assert!(
            persistence::conversations::find(app.db().conn(), &raw_id(&conv))
                .await
                .unwrap()
                .is_some()
        );
        let read = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { conversation(id: $id) { id userId owner { id } messages { nodes { id conversationId parentId userId author { id } } } } }",
                json!({ "id": conv }),
            )
            .await;
        let c = &read["conversation"];
        assert_eq!(c["id"], conv.as_str());
        assert_eq!(c["userId"], ada.global_id.as_str());
        assert_eq!(c["owner"]["id"], ada.global_id.as_str());
        let m = &c["messages"]["nodes"];
        assert_eq!(m[0]["id"], first.as_str());
        assert_eq!(m[1]["id"], second.as_str());
        assert_eq!(m[1]["conversationId"], conv.as_str());
        assert_eq!(m[1]["parentId"], first.as_str());
        assert_eq!(m[1]["userId"], ada.global_id.as_str());
        assert_eq!(m[1]["author"]["id"], ada.global_id.as_str());

        // node(id:) finds a record of every type the caller may see, under its own type.
        let session = app
            .query(Some(&ada.token), "{ mySessions { id } }", json!({}))
            .await["mySessions"][0]["id"]
            .clone();
        let contact = app
            .query(
                Some(&ada.token),
                "mutation { addContactMethod(input: { type: PHONE, value: \"+15550100\" }) { contactMethod { id } } }",
                json!({}),
            )
            .await["addContactMethod"]["contactMethod"]["id"]
            .clone();
        let token = app
            .query(
                Some(&ada.token),
                "mutation { createApiToken(input: { name: \"ci\", scopes: [READ] }) { apiToken { id } } }",
                json!({}),
            )
            .await["createApiToken"]["apiToken"]["id"]
            .clone();
        let key = app
            .query(
                Some(&ada.token),
                "mutation { addApiKey(input: { provider: OPENAI, key: \"sk-proj-0123456789\" }) { apiKey { id } } }",
                json!({}),
            )
            .await["addApiKey"]["apiKey"]["id"]
            .clone();
        let identity =
            persistence::identities::link(app.db().conn(), &ada.db_id, "oidc", "ext-1", None)
                .await
                .unwrap()
                .id;
        let cases = [
            (json!(ada.global_id), "User"),
            (json!(conv), "Conversation"),
            (json!(first), "Message"),
            (json!(gid(Kind::Persona, "elara")), "Persona"),
            (json!(gid(Kind::Room, "mirror-room")), "Room"),
            (session, "Session"),
            (contact, "ContactMethod"),
            (token, "ApiToken"),
            (key, "ApiKey"),
            (
                json!(gid(Kind::ExternalIdentity, &identity)),
                "ExternalIdentity",
            ),
        ];
        let node = "query($id: ID!) { node(id: $id) { __typename id } }";
        for (id, typename) in &cases {
            let found = app.query(Some(&ada.token), node, json!({ "id": id })).await;
            assert_eq!(found["node"]["__typename"], *typename, "{id}");
            assert_eq!(found["node"]["id"], *id);
        }
        // Fields of the concrete type through a fragment; the persona is public.
        let persona = app
            .query(
                None,
                "query($id: ID!) { node(id: $id) { ... on Persona { name rooms { id } } } }",
                json!({ "id": gid(Kind::Persona, "elara") }),
            )
            .await;
        assert!(persona["node"]["name"].is_string(), "{persona}");

        // nodes(ids:) answers in order, null where there is nothing to see, repeats included.
        let ids = json!([
            conv,
            gid(Kind::Conversation, "missing"),
            first,
            ada.global_id,
            conv
        ]);
        let many = app
            .query(
                Some(&ada.token),
                "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
                json!({ "ids": ids }),
            )
            .await;
        let got: Vec<Value> = many["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].clone())
            .collect();
        assert_eq!(
            got,
            [
                json!(conv),
                Value::Null,
                json!(first),
                json!(ada.global_id),
                json!(conv)
            ]
        );
        // Anonymous callers see only the public catalogue.
        let anonymous = app
            .query(
                None,
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [conv, gid(Kind::Persona, "elara")] }),
            )
            .await;
        assert!(anonymous["nodes"][0].is_null());
        assert!(anonymous["nodes"][1].is_object());

        // Not an id: BAD_USER_INPUT naming the field. An id of another type: NOT_FOUND, and
        // null in a look-up, exactly like a missing record.
        let body = app
            .post(Some(&ada.token), node, json!({ "id": "not-an-id" }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        let body = app
            .post(
                Some(&ada.token),
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [conv, "%%%"] }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "ids");
        let rename = "mutation($id: ID!) { renameConversation(input: { id: $id, title: \"x\" }) { conversation { id } } }";
        let body = app
            .post(Some(&ada.token), rename, json!({ "id": first }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
        let body = app
            .post(Some(&ada.token), rename, json!({ "id": raw_id(&conv) }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        let body = app
            .post(
                Some(&ada.token),
                "query($id: ID!) { conversation(id: $id) { id } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(body, json!({ "data": { "conversation": null } }));

        // A reply's stream names the reply by the same id.
        let sent = app
            .query(
                Some(&ada.token),
                "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"hi\" }) { reply { id author { id } } } }",
                json!({ "c": conv }),
            )
            .await;
        let reply = sent["sendMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            sent["sendMessage"]["reply"]["author"].is_null(),
            "AI messages have no author"
        );
        let mut ws = app.ws(Some(&ada.token)).await;
        let sub = ws
            .subscribe(
                "subscription($id: ID!) { messageStream(messageId: $id) { messageId } }",
                json!({ "id": reply }),
            )
            .await;
        let event = ws
            .next_for(&sub, Duration::from_secs(30))
            .await
            .expect("a stream event");
        assert_eq!(
            event["data"]["messageStream"]["messageId"],
            reply.as_str(),
            "{event}"
        );
    }
);

/// Runs `query` as `token`; returns the SQL statements it cost and its data.
async fn cost(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
    let before = app.sql_statements();
    let data = app.query(Some(token), query, json!({})).await;
    (app.sql_statements() - before, data)
}

e2e!(
    author_and_owner_links_cost_a_statement_per_level,
    |app: TestApp| async move {
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, core_domain::Role::Admin).await;
        for i in 0..6 {
            let u = app.register(&format!("u{i}@example.com")).await;
            for c in 0..3 {
                let conv = app.create_conversation(&u, &format!("c{c}")).await;
                app.add_message(&u, &conv, "one").await;
                app.add_message(&u, &conv, "two").await;
            }
        }
        let plain = "{ users(first: 20) { edges { node { id conversations(first: 5) { edges { node { id messages(first: 5) { edges { node { id } } } } } } } } } }";
        let linked = "{ users(first: 20) { edges { node { id conversations(first: 5) { edges { node { id owner { email } messages(first: 5) { edges { node { id author { email } } } } } } } } } } }";
        cost(&app, &admin.token, plain).await; // warm up (the session's use mark)
        let (without, _) = cost(&app, &admin.token, plain).await;
        let (with, data) = cost(&app, &admin.token, linked).await;
        assert!(
            with - without <= 2,
            "owner and author: one statement per level at most, took {} more",
            with - without
        );
        let users = data["users"]["edges"].as_array().unwrap();
        let someone = users
            .iter()
            .find(|u| {
                u["node"]["conversations"]["edges"]
                    .as_array()
                    .unwrap()
                    .len()
                    == 3
            })
            .unwrap();
        let conv = &someone["node"]["conversations"]["edges"][0]["node"];
        let email = conv["owner"]["email"].as_str().unwrap();
        assert!(email.starts_with('u'), "an admin sees the owner: {conv}");
        assert_eq!(
            conv["messages"]["edges"][0]["node"]["author"]["email"],
            email
        );
    }
);

e2e!(
    lookups_are_nullable_and_errors_null_the_nearest_nullable_parent,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;

        // A missing record is null; a malformed id is an error on that field only, which is
        // present as null, never missing, and its siblings resolve.
        let body = app
            .post(
                None,
                "{ persona(id: \"nope\") { id } oauthProviders { id } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"],
            json!({ "persona": null, "oauthProviders": [] }),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        assert_eq!(body["errors"][0]["path"], json!(["persona"]));
        let missing = gid(Kind::Persona, "nope");
        let body = app
            .post(
                None,
                "query($id: ID!) { persona(id: $id) { id } room(id: $id) { id } oauthProviders { id } }",
                json!({ "id": missing }),
            )
            .await;
        assert_eq!(
            body,
            json!({ "data": { "persona": null, "room": null, "oauthProviders": [] } })
        );

        // `me` is null for anonymous callers, not an error.
        assert_eq!(
            app.post(None, "{ me { id } }", json!({})).await,
            json!({ "data": { "me": null } })
        );

        // An error in a non-null field (`conversations`) nulls its nearest nullable parent
        // (`me`), which stays in `data`; the other root fields resolve.
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
        assert_eq!(body["errors"][0]["extensions"]["field"], "first");

        // With no nullable parent up to the root, `data` itself is null.
        let body = app
            .post(
                Some(&ada.token),
                "{ users { totalCount } disclaimer { requiredVersion } }",
                json!({}),
            )
            .await;
        assert!(body["data"].is_null(), "{body}");
        assert!(body.as_object().unwrap().contains_key("data"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");

        // In a list of nullable items, a missing item is null in place.
        let conv = app.create_conversation(&ada, "here").await;
        let body = app
            .post(
                Some(&ada.token),
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [gid(Kind::Conversation, "gone"), conv] }),
            )
            .await;
        assert_eq!(body, json!({ "data": { "nodes": [null, { "id": conv }] } }));
    }
);

e2e!(
    response_keys_follow_the_selection_order,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        // serde_json's maps sort keys, so the order is read from the raw text.
        let raw = |query: &'static str| app.post_text(Some(&ada.token), query, json!({}));
        let in_order = |text: &str, keys: &[&str]| {
            let at: Vec<usize> = keys
                .iter()
                .map(|k| {
                    text.find(&format!("\"{k}\":"))
                        .unwrap_or_else(|| panic!("{k} missing from {text}"))
                })
                .collect();
            assert!(
                at.windows(2).all(|w| w[0] < w[1]),
                "{keys:?} out of order in {text}"
            );
        };
        let text = raw(
            "{ zeta: disclaimer { requiredVersion } me { updatedAt role email id } alpha: __typename oauthProviders { id } }",
        )
        .await;
        in_order(
            &text,
            &[
                "zeta",
                "me",
                "updatedAt",
                "role",
                "email",
                "id",
                "alpha",
                "oauthProviders",
            ],
        );
        // A field that waits on the database keeps its place before fields that do not
        // (async-graphql alone inserts keys in the order their resolvers finish).
        for _ in 0..5 {
            let text = raw(
                "{ me { conversations { totalCount } } zz: __typename disclaimer { requiredVersion } }",
            )
            .await;
            in_order(
                &text,
                &["me", "conversations", "totalCount", "zz", "disclaimer"],
            );
        }
        // Fragments are expanded where they are spread; a field selected twice keeps its first
        // place.
        let text =
            raw("{ me { role ...F createdAt } } fragment F on User { name email role }").await;
        in_order(&text, &["role", "name", "email", "createdAt"]);
        assert_eq!(text.matches("\"role\":").count(), 1, "{text}");
        // On an interface, fragments of the concrete type apply in place too.
        let conv = app.create_conversation(&ada, "Ordered").await;
        let text = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&ada.token)
            .json(&json!({
                "query": "query($id: ID!) { node(id: $id) { ... on User { email } ... on Conversation { title owner { email } } id __typename } }",
                "variables": { "id": conv },
            }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        in_order(
            &text,
            &["node", "title", "owner", "email", "id", "__typename"],
        );
        assert_eq!(
            text.matches("\"email\":").count(),
            1,
            "only the Conversation fragment applies: {text}"
        );
        // `@skip` with a variable left to its default (true) skips.
        let body = app
            .post(
                Some(&ada.token),
                "query($s: Boolean = true, $i: Boolean = false) { me { id @skip(if: $s) name @include(if: $i) email } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body,
            json!({ "data": { "me": { "email": "ada@example.com" } } })
        );
        // ... and the skipped field does not run: a skipped mutation changes nothing.
        let body = app
            .post(
                Some(&ada.token),
                "mutation($s: Boolean = true) {
                   skipped: createConversation(input: { title: \"never\" }) @skip(if: $s) { conversation { id } }
                   kept: createConversation(input: { title: \"kept\" }) { conversation { title } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body,
            json!({ "data": { "kept": { "conversation": { "title": "kept" } } } })
        );
        let titles = app
            .query(
                Some(&ada.token),
                "{ me { conversations(filter: { titleContains: \"never\" }) { totalCount } } }",
                json!({}),
            )
            .await;
        assert_eq!(titles["me"]["conversations"]["totalCount"], 0);
    }
);

e2e!(
    growing_lists_are_connections_paged_like_the_rest,
    |app: TestApp| async move {
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "Versions").await;
        let root = app.add_message(&ada, &conv, "root").await;
        let add = "mutation($c: ID!, $p: ID!, $t: String!) { addMessage(input: { conversationId: $c, parentId: $p, content: $t }) { message { id } } }";
        let mut versions = Vec::new();
        for t in ["v1", "v2", "v3"] {
            let data = app
                .query(
                    Some(&ada.token),
                    add,
                    json!({ "c": conv, "p": root, "t": t }),
                )
                .await;
            versions.push(
                data["addMessage"]["message"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let page = "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
            node(id: $id) { ... on Message {
              siblings(first: $first, after: $after, last: $last, before: $before) {
                totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { content } }
              parent: conversation { id } } } }";
        let contents = |v: &Value| -> Vec<String> {
            v["node"]["siblings"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["content"].as_str().unwrap().to_owned())
                .collect()
        };
        let p1 = app
            .query(
                Some(&ada.token),
                page,
                json!({ "id": versions[1], "first": 2 }),
            )
            .await;
        assert_eq!(contents(&p1), ["v1", "v2"]);
        let info = &p1["node"]["siblings"]["pageInfo"];
        assert_eq!(p1["node"]["siblings"]["totalCount"], 3);
        assert_eq!(
            (info["hasNextPage"].clone(), info["hasPreviousPage"].clone()),
            (json!(true), json!(false))
        );
        let p2 = app
            .query(
                Some(&ada.token),
                page,
                json!({ "id": versions[1], "first": 2, "after": info["endCursor"] }),
            )
            .await;
        assert_eq!(contents(&p2), ["v3"]);
        assert_eq!(p2["node"]["siblings"]["pageInfo"]["hasNextPage"], false);
        let back = app
            .query(
                Some(&ada.token),
                page,
                json!({ "id": versions[1], "last": 1, "before": p2["node"]["siblings"]["pageInfo"]["startCursor"] }),
            )
            .await;
        assert_eq!(contents(&back), ["v2"]);

        let children = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { node(id: $id) { ... on Message { children(first: 1) { totalCount edges { cursor node { content } } } } } }",
                json!({ "id": root }),
            )
            .await;
        assert_eq!(children["node"]["children"]["totalCount"], 3);
        assert_eq!(
            children["node"]["children"]["edges"][0]["node"]["content"],
            "v1"
        );

        // The catalogue pages the same way, and a cursor of another list is refused.
        let personas = "query($after: String) { personas(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id name } } }";
        let first = app.query(None, personas, json!({})).await;
        let total = first["personas"]["totalCount"].as_u64().unwrap();
        assert!(total > 2, "the seeds have more than two personas");
        assert_eq!(first["personas"]["pageInfo"]["hasNextPage"], true);
        let next = app
            .query(
                None,
                personas,
                json!({ "after": first["personas"]["pageInfo"]["endCursor"] }),
            )
            .await;
        assert_ne!(
            next["personas"]["nodes"][0]["id"],
            first["personas"]["nodes"][0]["id"]
        );
        let rooms = app
            .query(
                None,
                "{ rooms(first: 1) { totalCount pageInfo { endCursor } nodes { features } } }",
                json!({}),
            )
            .await;
        assert!(
            rooms["rooms"]["nodes"][0]["features"].is_object(),
            "JSON is carried as itself: {rooms}"
        );
        let body = app
            .post(
                None,
                personas,
                json!({ "after": rooms["rooms"]["pageInfo"]["endCursor"] }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
);

e2e!(scalars_say_what_they_hold, |app: TestApp| async move {
    let data = app
        .query(
            None,
            "{ dateTime: __type(name: \"DateTime\") { description specifiedByURL } json: __type(name: \"JSON\") { description specifiedByURL } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["dateTime"]["specifiedByURL"],
        "https://datatracker.ietf.org/doc/html/rfc3339"
    );
    assert!(
        data["dateTime"]["description"]
            .as_str()
            .unwrap()
            .contains("RFC 3339")
    );
    assert_eq!(
        data["json"]["specifiedByURL"],
        "https://www.rfc-editor.org/rfc/rfc8259"
    );
    assert!(
        data["json"]["description"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    let sdl = gateway::graphql::sdl();
    assert!(sdl.contains(
        "scalar DateTime @specifiedBy(url: \"https://datatracker.ietf.org/doc/html/rfc3339\")"
    ));
    assert!(
        sdl.contains("scalar JSON @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc8259\")")
    );
});
