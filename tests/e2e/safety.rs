//! Safety incidents end to end: a user reports a reply in their conversation, a moderator
//! triages it to RESOLVED with notes and a severity, the reporter sees the status (never the
//! notes), and nobody else can read the report.

use colloquy_tests::TestApp;
use core_domain::Role;
use serde_json::{Value, json};

const REPORT: &str = "mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id status category subject messageId } } }";
const TRIAGE: &str = "mutation($i: TriageIncidentInput!) { triageIncident(input: $i) { incident { id status severity notes resolvedAt assignedToId } } }";
const READ: &str = "query($id: ID!) { safetyIncident(id: $id) { id status severity notes description } node(id: $id) { id } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

colloquy_tests::e2e!(
    a_moderator_resolves_an_incident_and_only_its_reporter_sees_it,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let eve = app.register("eve@example.com").await;
        let moderator = app.register("mod@example.com").await;
        app.promote(&moderator, Role::Moderator).await;
        let conv = app.create_conversation(&ada, "Chat").await;
        let message = app.add_message(&ada, &conv, "something unsafe").await;

        // Eve cannot report what she cannot see.
        let body = app
            .post(
                Some(&eve.token),
                REPORT,
                json!({ "i": { "subjectId": message, "category": "ABUSE", "description": "x" } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");

        let reported = app
            .query(
                Some(&ada.token),
                REPORT,
                json!({ "i": { "subjectId": message, "category": "HARASSMENT", "description": "This reply is abusive" } }),
            )
            .await;
        let incident = &reported["reportIncident"]["incident"];
        assert_eq!(incident["status"], "OPEN");
        assert_eq!(incident["subject"], "MESSAGE");
        assert_eq!(incident["messageId"], message.as_str());
        let id = incident["id"].as_str().unwrap().to_owned();

        // Eve cannot read it, list it, or triage it.
        let read = app.query(Some(&eve.token), READ, json!({ "id": id })).await;
        assert!(
            read["safetyIncident"].is_null() && read["node"].is_null(),
            "{read}"
        );
        let listed = app
            .query(
                Some(&eve.token),
                "{ safetyIncidents { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(listed["safetyIncidents"]["totalCount"], 0);
        let body = app
            .post(
                Some(&eve.token),
                TRIAGE,
                json!({ "i": { "id": id, "status": "DISMISSED" } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        // The reporter may not triage their own report.
        let body = app
            .post(
                Some(&ada.token),
                TRIAGE,
                json!({ "i": { "id": id, "status": "DISMISSED" } }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");

        // The moderator sees every report and moves it on.
        let queue = app
            .query(
                Some(&moderator.token),
                "{ safetyIncidents(filter: { status: OPEN }) { totalCount nodes { id description } } }",
                json!({}),
            )
            .await;
        assert_eq!(queue["safetyIncidents"]["totalCount"], 1);
        let investigating = app
            .query(
                Some(&moderator.token),
                TRIAGE,
                json!({ "i": { "id": id, "status": "INVESTIGATING", "severity": "HIGH" } }),
            )
            .await;
        assert_eq!(
            investigating["triageIncident"]["incident"]["status"],
            "INVESTIGATING"
        );
        assert_eq!(
            investigating["triageIncident"]["incident"]["severity"],
            "HIGH"
        );
        // A closed step cannot be skipped back.
        let resolved = app
            .query(
                Some(&moderator.token),
                TRIAGE,
                json!({ "i": { "id": id, "status": "RESOLVED", "notes": "Warned the persona's owner" } }),
            )
            .await;
        let r = &resolved["triageIncident"]["incident"];
        assert_eq!(r["status"], "RESOLVED");
        assert_eq!(r["notes"], "Warned the persona's owner");
        assert!(r["resolvedAt"].is_string());
        assert_eq!(r["assignedToId"], moderator.global_id.as_str());
        let reopen = app
            .post(
                Some(&moderator.token),
                TRIAGE,
                json!({ "i": { "id": id, "status": "OPEN" } }),
            )
            .await;
        assert_eq!(code(&reopen), "BAD_USER_INPUT", "{reopen}");

        // The reporter sees the status, not the moderators' notes or severity.
        let mine = app.query(Some(&ada.token), READ, json!({ "id": id })).await;
        assert_eq!(mine["safetyIncident"]["status"], "RESOLVED");
        assert!(mine["safetyIncident"]["notes"].is_null(), "{mine}");
        assert!(mine["safetyIncident"]["severity"].is_null(), "{mine}");
        let told = app
            .query(
                Some(&ada.token),
                "{ notifications { totalCount nodes { type title } } }",
                json!({}),
            )
            .await;
        assert_eq!(told["notifications"]["totalCount"], 2, "{told}");
        assert_eq!(told["notifications"]["nodes"][0]["type"], "SAFETY");
    }
);

colloquy_tests::e2e!(
    a_post_is_reported_only_when_the_reporter_can_read_it,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let eve = app.register("eve@example.com").await;
        let moderator = app.register("mod@example.com").await;
        app.promote(&moderator, Role::Moderator).await;
        let create = "mutation($t: String!) { createPost(input: { title: $t, content: \"text\" }) { post { id } } }";
        let draft = app
            .query(Some(&ada.token), create, json!({ "t": "Ada's draft" }))
            .await["createPost"]["post"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let public = app
            .query(Some(&ada.token), create, json!({ "t": "Ada's article" }))
            .await["createPost"]["post"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { publishPost(input: { id: $id }) { post { id } } }",
            json!({ "id": public }),
        )
        .await;
        let with_post = "mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id subject postId } } }";

        // Another user's draft is as missing to Eve.
        let body = app
            .post(
                Some(&eve.token),
                with_post,
                json!({ "i": { "subjectId": draft, "category": "SPAM", "description": "spam" } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");

        // The published post: reported, with the post named.
        let reported = app
            .query(
                Some(&eve.token),
                with_post,
                json!({ "i": { "subjectId": public, "category": "SPAM", "description": "spam" } }),
            )
            .await;
        let incident = &reported["reportIncident"]["incident"];
        assert_eq!(incident["subject"], "POST", "{reported}");
        assert_eq!(incident["postId"], public.as_str());
        // Her own draft Ada can report; the moderator sees the post's author.
        let own = app
            .query(
                Some(&ada.token),
                with_post,
                json!({ "i": { "subjectId": draft, "category": "OTHER", "description": "mine" } }),
            )
            .await;
        assert_eq!(own["reportIncident"]["incident"]["postId"], draft.as_str());
        let seen = app
            .query(
                Some(&moderator.token),
                "query($id: ID!) { safetyIncident(id: $id) { subject postId subjectUserId } }",
                json!({ "id": incident["id"] }),
            )
            .await;
        assert_eq!(seen["safetyIncident"]["subject"], "POST");
        assert_eq!(
            seen["safetyIncident"]["subjectUserId"],
            ada.global_id.as_str()
        );
        // A deleted post is as missing.
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deletePost(input: { id: $id }) { deletedPostId } }",
            json!({ "id": public }),
        )
        .await;
        let body = app
            .post(
                Some(&eve.token),
                with_post,
                json!({ "i": { "subjectId": public, "category": "SPAM", "description": "again" } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
);
