//! Budgets hold under concurrency: every AI call, titles included, reserves before it runs, so 20
//! parallel first messages can never spend more than the daily limit, and a conversation is
//! named once however many first replies finish together.

use std::time::Duration;

use colloquy_tests::{TestApp, e2e_backend};
use core_domain::enums::{MessageRole, MessageStatus, StreamType};
use persistence::entity::{budget_reservations, budgets, conversations, messages, usage_logs};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait};
use serde_json::json;

const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }";
const LIMIT: i64 = 1_000;

/// Waits until no reply streams, no call holds a reservation and every finished first reply has
/// claimed its conversation's title: everything is settled.
async fn settled(app: &TestApp) {
    let db = app.db().conn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let streaming = messages::Entity::find()
            .filter(messages::Column::Status.eq(MessageStatus::Streaming.as_str()))
            .count(db)
            .await
            .unwrap();
        let held = budget_reservations::Entity::find().count(db).await.unwrap();
        // A conversation's title call starts after its first reply has finished: wait until
        // every conversation with a finished reply has claimed its title (the call reserves
        // right after the claim).
        let untitled = conversations::Entity::find()
            .select_only()
            .column(conversations::Column::Id)
            .filter(conversations::Column::Title.eq(persistence::conversations::DEFAULT_TITLE))
            .into_query();
        let unnamed = messages::Entity::find()
            .filter(messages::Column::Role.eq(MessageRole::Assistant.as_str()))
            .filter(messages::Column::Status.eq(MessageStatus::Complete.as_str()))
            .filter(messages::Column::ConversationId.in_subquery(untitled))
            .count(db)
            .await
            .unwrap();
        if streaming == 0 && held == 0 && unnamed == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{streaming} replies still streaming, {held} reservations held, {unnamed} conversations not named yet"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

e2e_backend!(
    twenty_parallel_first_sends_stay_within_the_budget_and_name_once,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.max_output_tokens = 100;
            c.chat.daily_token_limit = LIMIT;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        // No title of the user's: the first reply names it.
        let created = app
            .query(
                Some(&ada.token),
                "mutation { createConversation(input: {}) { conversation { id } } }",
                json!({}),
            )
            .await;
        let conv = created["createConversation"]["conversation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let sends = (0..20).map(|i| {
            app.post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": format!("first words {i} of a long question") } }),
            )
        });
        let answers = futures::future::join_all(sends).await;
        let ok = answers.iter().filter(|b| b.get("errors").is_none()).count();
        assert!(ok >= 1, "{answers:#?}");
        assert!(
            answers.iter().all(|b| b.get("errors").is_none()
                || b["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED"),
            "{answers:#?}"
        );
        settled(&app).await;

        let db = app.db().conn();
        // The daily budget (the call also reserves against the plan's month).
        let budget = budgets::Entity::find()
            .filter(budgets::Column::Scope.eq(persistence::budgets::USER_DAILY))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(budget.reserved, 0);
        assert!(
            budget.used <= LIMIT,
            "the daily budget was overspent: {} of {LIMIT}",
            budget.used
        );
        let logs = usage_logs::Entity::find().all(db).await.unwrap();
        let billed: i64 = logs
            .iter()
            .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
            .sum();
        assert_eq!(billed, budget.used, "every billed token is charged, once");
        let titles = logs
            .iter()
            .filter(|l| *l.stream_type == StreamType::Title)
            .count();
        // At most one: the first reply to finish claims the naming (its title call may itself
        // find no budget left, and then the first words stay).
        assert!(
            titles <= 1,
            "one title per conversation, not one per first reply: {titles}"
        );
        let title = app
            .query(
                Some(&ada.token),
                "query($id: ID!) { conversation(id: $id) { title } }",
                json!({ "id": conv }),
            )
            .await;
        assert_ne!(title["conversation"]["title"], "New Conversation");
    }
);
