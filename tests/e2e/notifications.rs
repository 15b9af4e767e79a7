//! Notifications end to end: staff notices, the unread count and marking read, and
//! `notificationAdded` across two instances on one PostgreSQL database.

use std::time::Duration;

use colloquy_tests::{TestApp, WsClient};
use core_domain::Role;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);
const NOTIFY: &str =
    "mutation($i: NotifyUserInput!) { notifyUser(input: $i) { notification { id type title } } }";
const MARK: &str = "mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) { marked unreadCount } }";

colloquy_tests::e2e!(
    mark_notifications_read_and_the_unread_count,
    |app: TestApp| async move {
        let staff = app.register("staff@example.com").await;
        app.promote(&staff, Role::Staff).await;
        let ada = app.register("ada@example.com").await;
        let bob = app.register("bob@example.com").await;

        // Only staff and admins send notices.
        let body = app
            .post(
                Some(&bob.token),
                NOTIFY,
                json!({ "i": { "userId": ada.global_id, "title": "hi", "body": "x" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );

        let mut ids = Vec::new();
        for n in 0..3 {
            let sent = app
                .query(
                    Some(&staff.token),
                    NOTIFY,
                    json!({ "i": { "userId": ada.global_id, "title": format!("Notice {n}"), "body": "Welcome" } }),
                )
                .await;
            assert_eq!(sent["notifyUser"]["notification"]["type"], "SYSTEM");
            ids.push(
                sent["notifyUser"]["notification"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let count = "{ unreadNotificationCount notifications(filter: { unread: true }) { totalCount nodes { id read } } }";
        let before = app.query(Some(&ada.token), count, json!({})).await;
        assert_eq!(before["unreadNotificationCount"], 3);
        assert_eq!(before["notifications"]["totalCount"], 3);
        assert_eq!(
            before["notifications"]["nodes"][0]["id"],
            ids[2].as_str(),
            "newest first"
        );

        // Bob marks Ada's: NOT_FOUND, and nothing changes.
        let theirs = app
            .post(Some(&bob.token), MARK, json!({ "i": { "ids": [ids[0]] } }))
            .await;
        assert_eq!(
            theirs["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{theirs}"
        );
        let hidden = app
            .query(
                Some(&bob.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": ids[0] }),
            )
            .await;
        assert!(hidden["node"].is_null());

        let one = app
            .query(Some(&ada.token), MARK, json!({ "i": { "ids": [ids[0]] } }))
            .await;
        assert_eq!(one["markNotificationsRead"]["marked"], 1);
        assert_eq!(one["markNotificationsRead"]["unreadCount"], 2);
        let all = app
            .query(Some(&ada.token), MARK, json!({ "i": { "all": true } }))
            .await;
        assert_eq!(all["markNotificationsRead"]["marked"], 2);
        assert_eq!(all["markNotificationsRead"]["unreadCount"], 0);
        let after = app
            .query(
                Some(&ada.token),
                "{ unreadNotificationCount notifications { totalCount nodes { read readAt } } }",
                json!({}),
            )
            .await;
        assert_eq!(after["unreadNotificationCount"], 0);
        assert_eq!(after["notifications"]["totalCount"], 3);
        assert_eq!(after["notifications"]["nodes"][0]["read"], true);

        // Neither ids nor all: the input names what is missing.
        let bad = app.post(Some(&ada.token), MARK, json!({ "i": {} })).await;
        assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(bad["errors"][0]["extensions"]["field"], "ids");
    }
);

colloquy_tests::e2e!(
    a_notification_created_on_one_instance_is_heard_on_another,
    |app: TestApp| async move {
        if app.backend != colloquy_tests::Backend::Postgres {
            return; // one SQLite file has one server
        }
        let peer = app.spawn_peer().await;
        let staff = app.register("staff@example.com").await;
        app.promote(&staff, Role::Staff).await;
        let ada = app.register("ada@example.com").await;
        let bob = app.register("bob@example.com").await;

        // Ada follows on instance B; Bob too (he must hear nothing of Ada's).
        let mut ws =
            WsClient::connect(&format!("ws://{}/graphql/ws", peer.addr), Some(&ada.token)).await;
        let sub = ws
            .subscribe(
                "subscription { notificationAdded { title body } }",
                json!({}),
            )
            .await;
        let mut bob_ws =
            WsClient::connect(&format!("ws://{}/graphql/ws", peer.addr), Some(&bob.token)).await;
        let bob_sub = bob_ws
            .subscribe("subscription { notificationAdded { title } }", json!({}))
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while peer.state.services.notifications.subscribers() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "subscriptions did not start"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        peer.state.services.notifications.events().listening().await;

        // Sent through instance A.
        app.query(
            Some(&staff.token),
            NOTIFY,
            json!({ "i": { "userId": ada.global_id, "title": "Across", "body": "From A" } }),
        )
        .await;
        let got = ws.next_for(&sub, WAIT).await.expect("heard on B");
        assert_eq!(got["data"]["notificationAdded"]["title"], "Across", "{got}");
        assert_eq!(got["data"]["notificationAdded"]["body"], "From A");

        // Then one for Bob: the first thing Bob hears is his own.
        app.query(
            Some(&staff.token),
            NOTIFY,
            json!({ "i": { "userId": bob.global_id, "title": "For Bob", "body": "x" } }),
        )
        .await;
        let bobs = bob_ws
            .next_for(&bob_sub, WAIT)
            .await
            .expect("Bob hears his");
        assert_eq!(
            bobs["data"]["notificationAdded"]["title"], "For Bob",
            "{bobs}"
        );
    }
);
