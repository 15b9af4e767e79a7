//! Seeds load idempotently and give the demo users their conversations.

use colloquy_tests::{TestApp, e2e};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

e2e!(
    seeds_load_twice_without_duplicates,
    |app: TestApp| async move {
        let first = gateway::platform::seed::load(app.db(), None).await.unwrap();
        assert_eq!(first.users_created, 3);
        assert_eq!(
            (
                first.scenarios,
                first.presets_created,
                first.invitations_created
            ),
            (3, 3, 1)
        );
        let counts = async || {
            let conn = app.db().conn();
            (
                persistence::entity::users::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::conversations::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::messages::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::personas::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::persona_rooms::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
            )
        };
        let after_first = counts().await;
        let second = gateway::platform::seed::load(app.db(), None).await.unwrap();
        assert_eq!((second.users_created, second.conversations_created), (0, 0));
        assert_eq!((second.presets_created, second.invitations_created), (0, 0));
        assert_eq!(counts().await, after_first);

        // The demo user signs in with the documented password and sees two conversations.
        let login = app
        .query(None, "mutation { login(input: { email: \"user@vibebot.local\", password: \"password123\" }) { token user { role } } }", json!({}))
        .await;
        assert_eq!(login["login"]["user"]["role"], "USER");
        let token = login["login"]["token"].as_str().unwrap();
        let me = app.query(Some(token), "{ me { conversations { totalCount edges { node { messages { totalCount } } } } } }", json!({})).await;
        assert_eq!(me["me"]["conversations"]["totalCount"], 2);
        let admin = app
        .query(None, "mutation { login(input: { email: \"admin@vibebot.local\", password: \"password123\" }) { user { role } } }", json!({}))
        .await;
        assert_eq!(admin["login"]["user"]["role"], "ADMIN");
    }
);
