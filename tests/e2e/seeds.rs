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

e2e!(
    azora_education_and_wallets_seed_through_the_ledger_once,
    |app: TestApp| async move {
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let counts = async || {
            let conn = app.db().conn();
            (
                persistence::entity::courses::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::course_modules::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::assessments::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::enrollments::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::transactions::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
                persistence::entity::mining_activities::Entity::find()
                    .count(conn)
                    .await
                    .unwrap(),
            )
        };
        let first = counts().await;
        assert_eq!(
            (first.0, first.1, first.2, first.3),
            (2, 5, 2, 2),
            "{first:?}"
        );
        assert_eq!(first.5, 1, "one mining activity");
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        assert_eq!(counts().await, first, "a second load adds nothing");

        let login = app
            .query(None, "mutation { login(input: { email: \"student@azora.local\", password: \"password123\" }) { token } }", json!({}))
            .await;
        let token = login["login"]["token"].as_str().unwrap();
        let data = app
            .query(
                Some(token),
                "{ courses { totalCount nodes { status modules { id } assessments { id } } }
                   myEnrollments { totalCount nodes { status progress course { slug } } }
                   myWallets { currency balance transactions(first: 50) { totalCount nodes { id type amount } } }
                   myMiningActivities { totalCount nodes { status transactionId rewardAmount } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["courses"]["totalCount"], 2, "{data}");
        for c in data["courses"]["nodes"].as_array().unwrap() {
            assert_eq!(c["status"], "PUBLISHED");
            assert!(!c["modules"].as_array().unwrap().is_empty());
            assert_eq!(c["assessments"].as_array().unwrap().len(), 1);
        }
        assert_eq!(data["myEnrollments"]["totalCount"], 2);
        let enrolments: Vec<(String, String)> = data["myEnrollments"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["course"]["slug"].as_str().unwrap().to_owned(),
                    e["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(enrolments.contains(&("javascript-foundations".into(), "COMPLETED".into())));
        assert!(enrolments.contains(&("sql-for-data".into(), "ACTIVE".into())));

        // Every wallet's balance is the sum of its ledger rows (amounts in cents, 2 decimals).
        let cents = |s: &str| -> i64 { s.replace('.', "").parse().unwrap() };
        let wallets = data["myWallets"].as_array().unwrap();
        let mut currencies: Vec<&str> = wallets
            .iter()
            .map(|w| w["currency"].as_str().unwrap())
            .collect();
        currencies.sort();
        assert_eq!(currencies, ["AZR", "ZAR"]);
        let mut reward_row = None;
        for w in wallets {
            let rows = w["transactions"]["nodes"].as_array().unwrap();
            let sum: i64 = rows
                .iter()
                .map(|t| cents(t["amount"].as_str().unwrap()))
                .sum();
            assert_eq!(sum, cents(w["balance"].as_str().unwrap()), "{w}");
            assert!(sum > 0, "{w}");
            for t in rows {
                if t["type"] == "MINING_REWARD" {
                    reward_row = Some(t["id"].clone());
                }
            }
        }
        let mining = &data["myMiningActivities"];
        assert_eq!(mining["totalCount"], 1);
        assert_eq!(mining["nodes"][0]["status"], "REWARDED");
        assert_eq!(
            Some(mining["nodes"][0]["transactionId"].clone()),
            reward_row,
            "the activity names its ledger row"
        );
    }
);
