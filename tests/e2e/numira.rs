//! Numira end to end: catalogue administration, a persona in a room (compatibility, the room's
//! purpose in the system prompt the provider receives, the persona's default model), journals
//! saved from a streamed reply (filters, owner only) and versioned disclaimers blocking AI calls
//! until accepted. Each test runs on SQLite and PostgreSQL; waits are on events (a reply's `done`).

use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::testing::{FakeProvider, FakeReply};
use colloquy_tests::{Backend, Kind, TestApp, TestUser, gid};
use core_domain::Role;
use gateway::platform::config::Config;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

const CREATE_PERSONA: &str = "mutation($i: CreatePersonaInput!) { createPersona(input: $i) { persona { id name systemPrompt defaultModel tags retiredAt } } }";
const CREATE_ROOM: &str = "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id name purpose promptType features retiredAt } } }";
const SET_ROOMS: &str = "mutation($i: SetPersonaRoomsInput!) { setPersonaRooms(input: $i) { persona { id rooms { id } defaultRooms { id } } } }";
const CREATE_CONVERSATION: &str = "mutation($i: CreateConversationInput!) { createConversation(input: $i) { conversation { id } } }";
const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id } reply { id model } } }";
const STREAM: &str =
    "subscription($id: ID!) { messageStream(messageId: $id) { delta status done } }";
const SAVE: &str = "mutation($i: SaveJournalInput!) { saveJournal(input: $i) { journal { id title tags prompt response persona { id name } room { id name purpose } conversationId responseMessageId } } }";
const JOURNALS: &str = "query($f: JournalFilterInput, $first: Int, $after: String) { journals(first: $first, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor } nodes { id title tags prompt } } }";

/// The body's first error: (code, field).
fn first_error(body: &Value) -> (String, String) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or_default().to_owned(),
        ext["field"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A request that must fail with BAD_USER_INPUT on `field`.
async fn assert_bad_input(app: &TestApp, user: &TestUser, query: &str, vars: Value, field: &str) {
    let body = app.post(Some(&user.token), query, vars).await;
    assert_eq!(
        first_error(&body),
        ("BAD_USER_INPUT".to_owned(), field.to_owned()),
        "{body:#}"
    );
}

async fn admin_and_user(app: &TestApp) -> (TestUser, TestUser) {
    let admin = app.register("admin@example.com").await;
    app.promote(&admin, Role::Admin).await;
    let ada = app.register("ada@example.com").await;
    (admin, ada)
}

/// Creates persona `slug` (through the API, as an admin).
async fn persona(app: &TestApp, admin: &TestUser, slug: &str, model: Option<&str>) -> String {
    let data = app
        .query(
            Some(&admin.token),
            CREATE_PERSONA,
            json!({ "i": {
                "slug": slug,
                "name": format!("Persona {slug}"),
                "tone": "warm",
                "voice": "calm",
                "description": "A gentle guide.",
                "systemPrompt": format!("You are {slug}, a gentle guide."),
                "tags": ["reflective"],
                "defaultModel": model,
            } }),
        )
        .await;
    data["createPersona"]["persona"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates room `slug` with `purpose` (through the API, as an admin).
async fn room(app: &TestApp, admin: &TestUser, slug: &str, purpose: &str) -> String {
    let data = app
        .query(
            Some(&admin.token),
            CREATE_ROOM,
            json!({ "i": {
                "slug": slug,
                "name": format!("Room {slug}"),
                "purpose": purpose,
                "samplePrompt": "What is on your mind?",
                "promptType": "GUIDED",
                "features": { "voice": false },
            } }),
        )
        .await;
    let room = &data["createRoom"]["room"];
    assert_eq!(room["promptType"], "GUIDED");
    assert_eq!(room["features"], json!({ "voice": false }));
    room["id"].as_str().unwrap().to_owned()
}

async fn link(app: &TestApp, admin: &TestUser, persona: &str, rooms: &[&str]) {
    let data = app
        .query(
            Some(&admin.token),
            SET_ROOMS,
            json!({ "i": { "personaId": persona, "roomIds": rooms, "defaultRoomIds": [rooms[0]] } }),
        )
        .await;
    let linked = &data["setPersonaRooms"]["persona"];
    assert_eq!(linked["rooms"].as_array().unwrap().len(), rooms.len());
    assert_eq!(linked["defaultRooms"][0]["id"], rooms[0]);
}

async fn conversation(app: &TestApp, user: &TestUser, persona: &str, room: &str) -> String {
    let data = app
        .query(
            Some(&user.token),
            CREATE_CONVERSATION,
            json!({ "i": { "personaId": persona, "roomId": room } }),
        )
        .await;
    data["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends `content`; returns (user message id, reply id, reply model).
async fn send(
    app: &TestApp,
    user: &TestUser,
    conv: &str,
    content: &str,
) -> (String, String, String) {
    let data = app
        .query(
            Some(&user.token),
            SEND,
            json!({ "i": { "conversationId": conv, "content": content } }),
        )
        .await;
    let s = &data["sendMessage"];
    (
        s["userMessage"]["id"].as_str().unwrap().to_owned(),
        s["reply"]["id"].as_str().unwrap().to_owned(),
        s["reply"]["model"].as_str().unwrap().to_owned(),
    )
}

/// Follows a reply until it is done; returns its text and final status.
async fn follow(app: &TestApp, user: &TestUser, reply: &str) -> (String, String) {
    let mut ws = app.ws(Some(&user.token)).await;
    let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
    let mut text = String::new();
    loop {
        let event = ws
            .next_for(&id, WAIT)
            .await
            .expect("a stream event in time");
        let e = &event["data"]["messageStream"];
        assert!(e.is_object(), "unexpected message: {event:#}");
        text.push_str(e["delta"].as_str().unwrap());
        if e["done"] == true {
            return (text, e["status"].as_str().unwrap().to_owned());
        }
    }
}

fn use_fake(config: &mut Config, fake: &FakeProvider) {
    config.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
    config.chat.providers.openai = Some(fake.http_config(Some("sk-server")));
    config.chat.providers.retry = RetryConfig {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
    };
    config.chat.flush_interval = Duration::from_millis(50);
}

colloquy_tests::e2e_backend!(
    a_persona_works_only_in_its_rooms_and_the_room_shapes_the_prompt,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = TestApp::spawn_with(backend, |c| use_fake(c, &fake)).await else {
            return;
        };
        let (admin, ada) = admin_and_user(&app).await;
        let sage = persona(&app, &admin, "sage", Some("claude-sonnet-4-20250514")).await;
        let quiet = room(&app, &admin, "quiet-room", "Untangle one worry at a time.").await;
        let loud = room(&app, &admin, "loud-room", "Celebrate out loud.").await;
        link(&app, &admin, &sage, &[&quiet]).await;

        // A room the persona does not work in is refused, on `roomId`.
        assert_bad_input(
            &app,
            &ada,
            CREATE_CONVERSATION,
            json!({ "i": { "personaId": sage, "roomId": loud } }),
            "roomId",
        )
        .await;

        // In a room it works in, with no model: the persona's default model, and the system
        // prompt is the persona's plus the room's purpose and prompt type.
        let conv = conversation(&app, &ada, &sage, &quiet).await;
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(["One ", "worry ", "at ", "a time."]).with_usage(30, 5),
        );
        let before = fake.request_count();
        let (_, reply, model) = send(&app, &ada, &conv, "I have too much on my plate").await;
        assert_eq!(model, "claude-sonnet-4-20250514");
        let (text, status) = follow(&app, &ada, &reply).await;
        assert_eq!(
            (text.as_str(), status.as_str()),
            ("One worry at a time.", "COMPLETE")
        );
        let requests = fake.requests();
        let sent: Vec<_> = requests[before..]
            .iter()
            .filter(|r| r.is_streaming())
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body["model"], "claude-sonnet-4-20250514");
        let system = sent[0].system_prompt().expect("a system prompt");
        assert!(
            system.starts_with("You are sage, a gentle guide."),
            "{system}"
        );
        assert!(system.contains("Untangle one worry at a time."), "{system}");
        assert!(system.contains("Room quiet-room"), "{system}");
        assert!(system.contains("guided"), "{system}");

        // An admin changes the room's purpose: the next reply's prompt carries the new one.
        app.query(
            Some(&admin.token),
            "mutation($i: UpdateRoomInput!) { updateRoom(input: $i) { room { purpose } } }",
            json!({ "i": { "id": quiet, "purpose": "Name the worry, then the next small step." } }),
        )
        .await;
        fake.push_when(|r| r.is_streaming(), FakeReply::text(["Noted."]));
        let before = fake.request_count();
        let (_, reply, _) = send(&app, &ada, &conv, "Work, mostly").await;
        follow(&app, &ada, &reply).await;
        let requests = fake.requests();
        let sent: Vec<_> = requests[before..]
            .iter()
            .filter(|r| r.is_streaming())
            .collect();
        let system = sent[0].system_prompt().unwrap();
        assert!(
            system.contains("Name the worry, then the next small step."),
            "{system}"
        );
        assert!(!system.contains("Untangle one worry"), "{system}");

        // Retired rooms and personas leave the public lists and start no conversation; admins
        // still list them with includeRetired, and existing conversations keep them.
        app.query(
            Some(&admin.token),
            "mutation($id: ID!) { retireRoom(input: { id: $id }) { room { retiredAt } } }",
            json!({ "id": loud }),
        )
        .await;
        let lists = "query($all: Boolean) { rooms(includeRetired: $all) { totalCount nodes { id } } personas(includeRetired: $all) { nodes { id } } }";
        let public = app
            .query(Some(&ada.token), lists, json!({ "all": true }))
            .await;
        let ids = |v: &Value| -> Vec<String> {
            v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            ids(&public["rooms"]),
            vec![quiet.clone()],
            "a user never sees retired rooms"
        );
        let all = app
            .query(Some(&admin.token), lists, json!({ "all": true }))
            .await;
        assert_eq!(ids(&all["rooms"]).len(), 2);
        let retired = persona(&app, &admin, "old-sage", None).await;
        link(&app, &admin, &retired, &[&quiet]).await;
        app.query(
            Some(&admin.token),
            "mutation($id: ID!) { retirePersona(input: { id: $id }) { persona { retiredAt } } }",
            json!({ "id": retired }),
        )
        .await;
        let public = app.query(None, lists, json!({})).await;
        assert_eq!(ids(&public["personas"]), vec![sage.clone()]);
        let room_personas = app
            .query(
                None,
                "query($id: ID!) { room(id: $id) { personas { id } } }",
                json!({ "id": quiet }),
            )
            .await;
        assert_eq!(room_personas["room"]["personas"], json!([{ "id": sage }]));
        assert_bad_input(
            &app,
            &ada,
            CREATE_CONVERSATION,
            json!({ "i": { "personaId": retired, "roomId": quiet } }),
            "personaId",
        )
        .await;
        let looked_up = app
            .query(
                None,
                "query($id: ID!) { persona(id: $id) { id retiredAt } }",
                json!({ "id": retired }),
            )
            .await;
        assert!(looked_up["persona"]["retiredAt"].is_string());
    }
);

// Admin-only mutations are FORBIDDEN for a USER (and UNAUTHENTICATED anonymously); bad input
// is refused field by field.
colloquy_tests::e2e!(
    catalogue_administration_is_for_admins_and_checks_its_input,
    |app: TestApp| async move {
        let (admin, ada) = admin_and_user(&app).await;
        let sage = persona(&app, &admin, "sage", None).await;
        let quiet = room(&app, &admin, "quiet-room", "Quiet.").await;
        let attempts = [
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "evil", "name": "Evil", "systemPrompt": "x" } }),
            ),
            (
                "mutation($i: UpdatePersonaInput!) { updatePersona(input: $i) { persona { id } } }",
                json!({ "i": { "id": sage, "name": "Pwned" } }),
            ),
            (
                "mutation($id: ID!) { retirePersona(input: { id: $id }) { persona { id } } }",
                json!({ "id": sage }),
            ),
            (
                CREATE_ROOM,
                json!({ "i": { "slug": "evil-room", "name": "Evil", "purpose": "x", "promptType": "OPEN" } }),
            ),
            (
                "mutation($i: UpdateRoomInput!) { updateRoom(input: $i) { room { id } } }",
                json!({ "i": { "id": quiet, "purpose": "Pwned" } }),
            ),
            (
                "mutation($id: ID!) { retireRoom(input: { id: $id }) { room { id } } }",
                json!({ "id": quiet }),
            ),
            (
                SET_ROOMS,
                json!({ "i": { "personaId": sage, "roomIds": [quiet] } }),
            ),
            (
                "mutation { publishDisclaimer(input: { version: \"evil\", text: \"x\" }) { disclaimer { version } } }",
                json!({}),
            ),
        ];
        for (query, vars) in &attempts {
            let body = app.post(Some(&ada.token), query, vars.clone()).await;
            assert_eq!(first_error(&body).0, "FORBIDDEN", "{query}: {body}");
            let body = app.post(None, query, vars.clone()).await;
            assert_eq!(first_error(&body).0, "UNAUTHENTICATED", "{query}: {body}");
        }
        // Nothing changed.
        let data = app
                    .query(
                        None,
                        "query($p: ID!, $r: ID!) { persona(id: $p) { name retiredAt rooms { id } } room(id: $r) { purpose retiredAt } currentDisclaimer { version } }",
                        json!({ "p": sage, "r": quiet }),
                    )
                    .await;
        assert_eq!(
            data,
            json!({
                "persona": { "name": "Persona sage", "retiredAt": null, "rooms": [] },
                "room": { "purpose": "Quiet.", "retiredAt": null },
                "currentDisclaimer": null,
            })
        );

        // Field-level bad input.
        let cases = [
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "Bad Slug", "name": "A", "systemPrompt": "x" } }),
                "slug",
            ),
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "sage", "name": "Again", "systemPrompt": "x" } }),
                "slug",
            ),
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "nameless", "name": "  ", "systemPrompt": "x" } }),
                "name",
            ),
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "modelled", "name": "M", "systemPrompt": "x", "defaultModel": "no-such-model" } }),
                "defaultModel",
            ),
            (
                CREATE_PERSONA,
                json!({ "i": { "slug": "tagged", "name": "T", "systemPrompt": "x", "tags": [""] } }),
                "tags",
            ),
            (
                CREATE_ROOM,
                json!({ "i": { "slug": "r1", "name": "R", "purpose": " ", "promptType": "OPEN" } }),
                "purpose",
            ),
            (
                CREATE_ROOM,
                json!({ "i": { "slug": "r2", "name": "R", "purpose": "p", "promptType": "OPEN", "features": [1] } }),
                "features",
            ),
            (
                SET_ROOMS,
                json!({ "i": { "personaId": sage, "roomIds": [quiet], "defaultRoomIds": [gid(Kind::Room, "elsewhere")] } }),
                "defaultRoomIds",
            ),
            (
                SET_ROOMS,
                json!({ "i": { "personaId": sage, "roomIds": [gid(Kind::Room, "no-such-room")] } }),
                "roomIds",
            ),
            (
                SET_ROOMS,
                json!({ "i": { "personaId": sage, "roomIds": ["not an id"] } }),
                "roomIds",
            ),
            (
                "mutation($i: UpdatePersonaInput!) { updatePersona(input: $i) { persona { id } } }",
                json!({ "i": { "id": sage, "systemPrompt": "" } }),
                "systemPrompt",
            ),
        ];
        for (query, vars, field) in cases {
            assert_bad_input(&app, &admin, query, vars, field).await;
        }
        // A persona that does not exist is NOT_FOUND.
        let body = app
            .post(
                Some(&admin.token),
                "mutation($id: ID!) { retirePersona(input: { id: $id }) { persona { id } } }",
                json!({ "id": gid(Kind::Persona, "nobody") }),
            )
            .await;
        assert_eq!(first_error(&body).0, "NOT_FOUND", "{body}");

        // An admin's update changes only what it names, and clears with "".
        let updated = app
                    .query(
                        Some(&admin.token),
                        "mutation($i: UpdatePersonaInput!) { updatePersona(input: $i) { persona { name tone defaultModel tags } } }",
                        json!({ "i": { "id": sage, "tone": "bright", "defaultModel": "local-echo", "tags": ["a", "b"] } }),
                    )
                    .await;
        assert_eq!(
            updated["updatePersona"]["persona"],
            json!({ "name": "Persona sage", "tone": "bright", "defaultModel": "local-echo", "tags": ["a", "b"] })
        );
        let cleared = app
                    .query(
                        Some(&admin.token),
                        "mutation($i: UpdatePersonaInput!) { updatePersona(input: $i) { persona { defaultModel } } }",
                        json!({ "i": { "id": sage, "defaultModel": "" } }),
                    )
                    .await;
        assert!(cleared["updatePersona"]["persona"]["defaultModel"].is_null());
    }
);

colloquy_tests::e2e!(
    a_journal_saved_from_a_streamed_reply_reads_back_and_stays_private,
    |app: TestApp| async move {
        let (admin, ada) = admin_and_user(&app).await;
        let bob = app.register("bob@example.com").await;
        // The persona's default model has no key on this server: replies fall back to the
        // server's default (the offline local-echo).
        let sage = persona(&app, &admin, "sage", Some("claude-sonnet-4-20250514")).await;
        let quiet = room(&app, &admin, "quiet-room", "Untangle one worry at a time.").await;
        let garden = room(&app, &admin, "garden", "Notice what went well.").await;
        link(&app, &admin, &sage, &[&quiet, &garden]).await;

        let conv = conversation(&app, &ada, &sage, &quiet).await;
        let (user_message, reply, model) =
            send(&app, &ada, &conv, "How do I stop overthinking?").await;
        assert_eq!(model, "local-echo");
        let (text, status) = follow(&app, &ada, &reply).await;
        assert_eq!(status, "COMPLETE");
        assert!(!text.is_empty());

        // Saved from the reply: its prompt, its text, the persona and the room.
        let saved = app
            .query(
                Some(&ada.token),
                SAVE,
                json!({ "i": { "messageId": reply, "title": "  Overthinking ", "tags": ["calm", "work", "calm"] } }),
            )
            .await;
        let journal = &saved["saveJournal"]["journal"];
        let first = journal["id"].as_str().unwrap().to_owned();
        assert_eq!(journal["title"], "Overthinking");
        assert_eq!(journal["tags"], json!(["calm", "work"]));
        assert_eq!(journal["prompt"], "How do I stop overthinking?");
        assert_eq!(journal["response"], text.as_str());
        assert_eq!(
            journal["persona"],
            json!({ "id": sage, "name": "Persona sage" })
        );
        assert_eq!(journal["room"]["id"], quiet.as_str());
        assert_eq!(journal["room"]["purpose"], "Untangle one worry at a time.");
        assert_eq!(journal["conversationId"], conv.as_str());
        assert_eq!(journal["responseMessageId"], reply.as_str());

        // It reads back by id, by node, and with its messages.
        let read = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { journal(id: $id) { userId owner { email } prompt response persona { name } room { name } conversation { id } promptMessage { content } responseMessage { id } createdAt updatedAt } node(id: $id) { __typename id } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(read["journal"]["userId"], ada.global_id.as_str());
        assert_eq!(read["journal"]["owner"]["email"], "ada@example.com");
        assert_eq!(read["journal"]["prompt"], "How do I stop overthinking?");
        assert_eq!(read["journal"]["response"], text.as_str());
        assert_eq!(read["journal"]["room"]["name"], "Room quiet-room");
        assert_eq!(read["journal"]["conversation"]["id"], conv.as_str());
        assert_eq!(
            read["journal"]["promptMessage"]["content"],
            "How do I stop overthinking?"
        );
        assert_eq!(read["node"]["__typename"], "Journal");

        // Written out by hand, with a persona and room.
        let second = app
            .query(
                Some(&ada.token),
                SAVE,
                json!({ "i": { "prompt": "Three good things today?", "response": "Sun, tea, a call with Mum.", "personaId": sage, "roomId": garden, "tags": ["gratitude"] } }),
            )
            .await["saveJournal"]["journal"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Filters: tag, search, persona and room; newest first; paged.
        let list = |f: Value| {
            let app = &app;
            let token = ada.token.clone();
            async move {
                app.query(Some(&token), JOURNALS, json!({ "f": f, "first": 10 }))
                    .await["journals"]
                    .clone()
            }
        };
        let all = list(json!({})).await;
        assert_eq!(all["totalCount"], 2);
        assert_eq!(all["nodes"][0]["id"], second.as_str(), "newest first");
        let only = |v: &Value| -> Vec<String> {
            v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            only(&list(json!({ "tag": "calm" })).await),
            vec![first.clone()]
        );
        assert_eq!(
            only(&list(json!({ "tag": "gratitude" })).await),
            vec![second.clone()]
        );
        assert!(
            only(&list(json!({ "tag": "cal" })).await).is_empty(),
            "tags match whole"
        );
        assert_eq!(
            only(&list(json!({ "search": "OVERTHINK" })).await),
            vec![first.clone()]
        );
        assert_eq!(
            only(&list(json!({ "search": "tea" })).await),
            vec![second.clone()]
        );
        assert_eq!(
            only(&list(json!({ "roomId": garden })).await),
            vec![second.clone()]
        );
        let filtered = list(json!({ "personaId": sage, "roomId": quiet, "tag": "work" })).await;
        assert_eq!(filtered["totalCount"], 1);
        assert_eq!(only(&filtered), vec![first.clone()]);
        let page = app
            .query(Some(&ada.token), JOURNALS, json!({ "first": 1 }))
            .await["journals"]
            .clone();
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        let next = app
            .query(
                Some(&ada.token),
                JOURNALS,
                json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
            )
            .await["journals"]
            .clone();
        assert_eq!(only(&next), vec![first.clone()]);

        // Owner only: bob finds nothing and changes nothing.
        let hidden = app
            .post(
                Some(&bob.token),
                "query($id: ID!) { journal(id: $id) { prompt } node(id: $id) { id } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(hidden, json!({ "data": { "journal": null, "node": null } }));
        let bobs = app.query(Some(&bob.token), JOURNALS, json!({})).await;
        assert_eq!(bobs["journals"]["totalCount"], 0);
        for (query, vars) in [
            (
                "mutation($id: ID!) { updateJournal(input: { id: $id, title: \"mine\" }) { journal { id } } }",
                json!({ "id": first }),
            ),
            (
                "mutation($id: ID!) { deleteJournal(input: { id: $id }) { deletedJournalId } }",
                json!({ "id": first }),
            ),
            (SAVE, json!({ "i": { "messageId": reply } })),
        ] {
            let body = app.post(Some(&bob.token), query, vars).await;
            assert_eq!(first_error(&body).0, "NOT_FOUND", "{query}: {body}");
            assert!(!body.to_string().contains("overthinking"), "{body}");
        }

        // Bad input, field by field.
        let cases = [
            (json!({ "messageId": user_message }), "messageId"),
            (json!({}), "messageId"),
            (
                json!({ "messageId": reply, "prompt": "p", "response": "r" }),
                "messageId",
            ),
            (json!({ "messageId": "not an id" }), "messageId"),
            (
                json!({ "messageId": reply, "title": "x".repeat(201) }),
                "title",
            ),
            (json!({ "messageId": reply, "tags": vec!["x"; 21] }), "tags"),
            (
                json!({ "prompt": "p", "response": "r", "roomId": quiet }),
                "personaId",
            ),
            (
                json!({ "prompt": "p", "response": "r", "personaId": sage }),
                "roomId",
            ),
            (
                json!({ "prompt": "p", "personaId": sage, "roomId": quiet }),
                "response",
            ),
            (
                json!({ "prompt": " ", "response": "r", "personaId": sage, "roomId": quiet }),
                "prompt",
            ),
            (
                json!({ "prompt": "p", "response": "r", "personaId": gid(Kind::Persona, "nobody"), "roomId": quiet }),
                "personaId",
            ),
        ];
        for (input, field) in cases {
            assert_bad_input(&app, &ada, SAVE, json!({ "i": input }), field).await;
        }
        // A conversation without a persona and room has nothing to file the entry under.
        let plain = app.create_conversation(&ada, "Plain").await;
        let (_, plain_reply, _) = send(&app, &ada, &plain, "hello").await;
        follow(&app, &ada, &plain_reply).await;
        assert_bad_input(
            &app,
            &ada,
            SAVE,
            json!({ "i": { "messageId": plain_reply } }),
            "messageId",
        )
        .await;

        // The owner edits and deletes.
        let edited = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { updateJournal(input: { id: $id, title: \"\", tags: [\"rest\"] }) { journal { title tags prompt } } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(
            edited["updateJournal"]["journal"],
            json!({ "title": null, "tags": ["rest"], "prompt": "How do I stop overthinking?" })
        );
        let deleted = app
            .query(
                Some(&ada.token),
                "mutation($id: ID!) { deleteJournal(input: { id: $id }) { deletedJournalId } }",
                json!({ "id": first }),
            )
            .await;
        assert_eq!(deleted["deleteJournal"]["deletedJournalId"], first.as_str());
        let gone = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { journal(id: $id) { id } }",
                json!({ "id": first }),
            )
            .await;
        assert!(gone["journal"].is_null());
        assert_eq!(list(json!({})).await["totalCount"], 1);
    }
);

colloquy_tests::e2e!(
    a_new_disclaimer_version_blocks_ai_calls_until_accepted,
    |app: TestApp| async move {
        let (admin, ada) = admin_and_user(&app).await;
        let conv = app.create_conversation(&ada, "Chat").await;
        let send_body = |token: String| {
            let app = &app;
            let conv = conv.clone();
            async move {
                app.post(
                    Some(&token),
                    SEND,
                    json!({ "i": { "conversationId": conv, "content": "hello" } }),
                )
                .await
            }
        };
        let current =
            "{ currentDisclaimer { version text publishedAt } disclaimer { requiredVersion } }";
        let none = app.query(None, current, json!({})).await;
        assert_eq!(
            none,
            json!({ "currentDisclaimer": null, "disclaimer": { "requiredVersion": null } })
        );
        // None published: AI calls go through.
        let body = send_body(ada.token.clone()).await;
        assert!(body["errors"].is_null(), "{body}");
        assert_bad_input(
            &app,
            &ada,
            "mutation { acceptDisclaimer(input: { version: \"v1\" }) { user { id } } }",
            json!({}),
            "version",
        )
        .await;

        let publish = "mutation($v: String!, $t: String!) { publishDisclaimer(input: { version: $v, text: $t }) { disclaimer { version text publishedAt } } }";
        let accept = "mutation($v: String!) { acceptDisclaimer(input: { version: $v }) { user { disclaimerAccepted disclaimerVersion } } }";
        let published = app
            .query(
                Some(&admin.token),
                publish,
                json!({ "v": "2026-01", "t": "Not medical advice." }),
            )
            .await;
        assert_eq!(
            published["publishDisclaimer"]["disclaimer"]["version"],
            "2026-01"
        );
        let now = app.query(None, current, json!({})).await;
        assert_eq!(now["currentDisclaimer"]["text"], "Not medical advice.");
        assert_eq!(now["disclaimer"]["requiredVersion"], "2026-01");

        // Blocked, naming the version needed, until that version is accepted.
        let blocked = |body: &Value, version: &str| {
            let ext = &body["errors"][0]["extensions"];
            assert_eq!(ext["code"], "FORBIDDEN", "{body}");
            assert_eq!(ext["reason"], "DISCLAIMER_REQUIRED", "{body}");
            assert_eq!(ext["disclaimerVersion"], version, "{body}");
        };
        blocked(&send_body(ada.token.clone()).await, "2026-01");
        blocked(&send_body(admin.token.clone()).await, "2026-01");
        let accepted = app
            .query(Some(&ada.token), accept, json!({ "v": "2026-01" }))
            .await;
        assert_eq!(
            accepted["acceptDisclaimer"]["user"],
            json!({ "disclaimerAccepted": true, "disclaimerVersion": "2026-01" })
        );
        let body = send_body(ada.token.clone()).await;
        assert!(body["errors"].is_null(), "{body}");

        // A newer version: blocked again; the older one is no longer accepted.
        app.query(
            Some(&admin.token),
            publish,
            json!({ "v": "2026-02", "t": "Updated terms." }),
        )
        .await;
        blocked(&send_body(ada.token.clone()).await, "2026-02");
        assert_bad_input(&app, &ada, accept, json!({ "v": "2026-01" }), "version").await;
        assert_bad_input(&app, &ada, accept, json!({ "v": "" }), "version").await;
        blocked(&send_body(ada.token.clone()).await, "2026-02");
        app.query(Some(&ada.token), accept, json!({ "v": "2026-02" }))
            .await;
        let body = send_body(ada.token.clone()).await;
        assert!(body["errors"].is_null(), "{body}");

        // Publishing checks its input.
        assert_bad_input(
            &app,
            &admin,
            publish,
            json!({ "v": "2026-02", "t": "Again." }),
            "version",
        )
        .await;
        assert_bad_input(
            &app,
            &admin,
            publish,
            json!({ "v": "2026-03", "t": "  " }),
            "text",
        )
        .await;
        assert_bad_input(
            &app,
            &admin,
            publish,
            json!({ "v": "x".repeat(51), "t": "t" }),
            "version",
        )
        .await;
        let still = app.query(None, current, json!({})).await;
        assert_eq!(still["currentDisclaimer"]["version"], "2026-02");
    }
);

colloquy_tests::e2e!(
    the_seeds_publish_a_disclaimer_the_demo_users_have_accepted,
    |app: TestApp| async move {
        // Demo data alone requires no disclaimer (tests of other areas load it and chat).
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let none = app
            .query(None, "{ currentDisclaimer { version } }", json!({}))
            .await;
        assert!(none["currentDisclaimer"].is_null());
        // `serve` and `colloquy seed` publish the seeded version too.
        let first = gateway::platform::seed::load_with_disclaimers(
            app.db(),
            None,
            ai_providers::LOCAL_MODEL,
        )
        .await
        .unwrap();
        assert_eq!(first.disclaimers_published, 1);
        let again = gateway::platform::seed::load_with_disclaimers(
            app.db(),
            None,
            ai_providers::LOCAL_MODEL,
        )
        .await
        .unwrap();
        assert_eq!(again.disclaimers_published, 0);
        let current = app
            .query(None, "{ currentDisclaimer { version text } }", json!({}))
            .await;
        let version = current["currentDisclaimer"]["version"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            !current["currentDisclaimer"]["text"]
                .as_str()
                .unwrap()
                .is_empty()
        );

        // The demo user has accepted it and chats at once (the README walkthrough relies on it).
        let login = app
            .query(
                None,
                "mutation { login(input: { email: \"user@vibebot.local\", password: \"password123\" }) { token user { disclaimerAccepted disclaimerVersion disclaimerAcceptedAt } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            login["login"]["user"]["disclaimerVersion"],
            version.as_str()
        );
        let demo = TestUser::new(
            "VXNlcjpkZW1v",
            "user@vibebot.local",
            login["login"]["token"].as_str().unwrap(),
        );
        let conv = app.create_conversation(&demo, "Seeded").await;
        let body = app
            .post(
                Some(&demo.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hello" } }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");

        // A new account accepts it first.
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "New").await;
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hello" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["reason"], "DISCLAIMER_REQUIRED",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["disclaimerVersion"],
            version.as_str()
        );
    }
);
