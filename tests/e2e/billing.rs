//! Plans and metering end to end: every user has a FREE subscription; the plan's monthly token
//! budget joins every AI call's reservation, so the call that would pass it is refused with
//! QUOTA_EXCEEDED naming the plan, and 20 parallel calls never overspend it; the subscription's
//! token counter equals the sum of the usage log; administrators set plans (the budget follows
//! at once), users cancel at period end, and periods roll over. Both databases.

use std::sync::Arc;
use std::time::Duration;

use colloquy_tests::{TestApp, e2e, e2e_backend};
use core_domain::Role;
use core_domain::enums::MessageStatus;
use gateway::billing::plans::Plan;
use persistence::entity::{
    budget_reservations, budgets, messages, subscription_usage, subscriptions, usage_logs,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }";
const MINE: &str = "{ mySubscription { plan status cancelAtPeriodEnd currentPeriodStart currentPeriodEnd usage { metric period value limit } } }";

/// Waits until no reply streams and no call holds a reservation.
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
        if streaming == 0 && held == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {streaming} streaming, {held} held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Tokens billed in the usage log, and counted on the subscriptions' token counters.
async fn billed_and_counted(app: &TestApp) -> (i64, i64) {
    let db = app.db().conn();
    let billed: i64 = usage_logs::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|l| i64::from(l.input_tokens) + i64::from(l.output_tokens))
        .sum();
    let counted: i64 = subscription_usage::Entity::find()
        .filter(subscription_usage::Column::Metric.eq("ai_tokens"))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|u| u.value)
        .sum();
    (billed, counted)
}

async fn plan_budget(app: &TestApp) -> budgets::Model {
    budgets::Entity::find()
        .filter(budgets::Column::Scope.eq("plan_monthly"))
        .one(app.db().conn())
        .await
        .unwrap()
        .expect("the plan budget")
}

fn usage_of<'a>(mine: &'a Value, metric: &str) -> &'a Value {
    mine["mySubscription"]["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["metric"] == metric)
        .unwrap()
}

e2e_backend!(
    the_free_plan_budget_refuses_the_call_that_would_pass_it,
    |backend| async move {
        const LIMIT: i64 = 600;
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.max_output_tokens = 60;
            Arc::make_mut(&mut c.billing.plans)
                .get_mut(Plan::Free)
                .monthly_ai_tokens = Some(LIMIT);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let fresh = app.query(Some(&ada.token), MINE, json!({})).await;
        assert_eq!(fresh["mySubscription"]["plan"], "FREE");
        assert_eq!(fresh["mySubscription"]["status"], "ACTIVE");
        assert_eq!(usage_of(&fresh, "AI_TOKENS")["limit"], LIMIT);
        assert_eq!(usage_of(&fresh, "AI_TOKENS")["value"], 0);

        let conv = app.create_conversation(&ada, "budget").await;
        let mut refusal = None;
        for i in 0..40 {
            let body = app
                .post(
                    Some(&ada.token),
                    SEND,
                    json!({ "i": { "conversationId": conv, "content": format!("question {i}") } }),
                )
                .await;
            settled(&app).await;
            if body.get("errors").is_some() {
                refusal = Some(body);
                break;
            }
        }
        let refusal = refusal.expect("the plan's budget refused a call");
        let err = &refusal["errors"][0];
        assert_eq!(err["extensions"]["code"], "QUOTA_EXCEEDED", "{refusal:#}");
        assert_eq!(err["extensions"]["budget"], "PLAN");
        assert_eq!(err["extensions"]["plan"], "FREE");
        assert!(
            err["message"].as_str().unwrap().contains("FREE"),
            "{refusal:#}"
        );

        let (billed, counted) = billed_and_counted(&app).await;
        assert!(billed > 0);
        assert_eq!(counted, billed, "the token counter is the usage log's sum");
        let budget = plan_budget(&app).await;
        assert_eq!(budget.used, billed);
        assert!(
            budget.used <= LIMIT,
            "overspent: {} of {LIMIT}",
            budget.used
        );
        let mine = app.query(Some(&ada.token), MINE, json!({})).await;
        assert_eq!(usage_of(&mine, "AI_TOKENS")["value"], billed);

        // An administrator moves Ada to PRO: the same period's budget grows at once.
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, Role::Admin).await;
        let set = "mutation($i: SetSubscriptionInput!) { setSubscription(input: $i) { subscription { plan } } }";
        let vars = json!({ "i": { "userId": ada.global_id, "plan": "PRO" } });
        assert_eq!(
            app.error_code(Some(&ada.token), set, vars.clone()).await,
            "FORBIDDEN"
        );
        let done = app.query(Some(&admin.token), set, vars).await;
        assert_eq!(done["setSubscription"]["subscription"]["plan"], "PRO");
        let body = app
            .post(
                Some(&ada.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "more" } }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body:#}");
        settled(&app).await;
        let (billed, counted) = billed_and_counted(&app).await;
        assert_eq!(counted, billed);
        assert_eq!(plan_budget(&app).await.used, billed);
    }
);

e2e_backend!(
    twenty_parallel_calls_never_overspend_the_plan,
    |backend| async move {
        const LIMIT: i64 = 1_000;
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.max_output_tokens = 100;
            c.chat.send_rate_per_minute = 0;
            Arc::make_mut(&mut c.billing.plans)
                .get_mut(Plan::Free)
                .monthly_ai_tokens = Some(LIMIT);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let conv = app.create_conversation(&ada, "parallel").await;
        let sends = (0..20).map(|i| {
            app.post(
            Some(&ada.token),
            SEND,
            json!({ "i": { "conversationId": conv, "content": format!("parallel question {i}") } }),
        )
        });
        let answers = futures::future::join_all(sends).await;
        let ok = answers.iter().filter(|b| b.get("errors").is_none()).count();
        assert!(ok >= 1, "{answers:#?}");
        let refused: Vec<&Value> = answers
            .iter()
            .filter(|b| b.get("errors").is_some())
            .collect();
        assert!(
            !refused.is_empty(),
            "20 calls cannot all fit in {LIMIT} tokens"
        );
        for b in &refused {
            assert_eq!(
                b["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED",
                "{b:#}"
            );
            assert_eq!(b["errors"][0]["extensions"]["plan"], "FREE", "{b:#}");
        }
        settled(&app).await;
        let budget = plan_budget(&app).await;
        assert_eq!(budget.reserved, 0);
        assert!(
            budget.used <= LIMIT,
            "overspent: {} of {LIMIT}",
            budget.used
        );
        let (billed, counted) = billed_and_counted(&app).await;
        assert_eq!(billed, budget.used);
        assert_eq!(counted, billed);
    }
);

e2e!(cancelling_and_period_rollover, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let cancel = "mutation { cancelSubscription { subscription { plan cancelAtPeriodEnd } } }";
    // FREE cannot be cancelled.
    assert_eq!(
        app.error_code(Some(&ada.token), cancel, json!({})).await,
        "CONFLICT"
    );
    let admin = app.register("admin@example.com").await;
    app.promote(&admin, Role::Admin).await;
    app.query(
        Some(&admin.token),
        "mutation($i: SetSubscriptionInput!) { setSubscription(input: $i) { subscription { plan } } }",
        json!({ "i": { "userId": ada.global_id, "plan": "BASIC" } }),
    )
    .await;
    let done = app.query(Some(&ada.token), cancel, json!({})).await;
    assert_eq!(done["cancelSubscription"]["subscription"]["plan"], "BASIC");
    assert_eq!(
        done["cancelSubscription"]["subscription"]["cancelAtPeriodEnd"],
        true
    );

    // Move the subscription's period into the past (two months ago) and count usage in it.
    let db = app.db().conn();
    let sub = subscriptions::Entity::find()
        .filter(subscriptions::Column::UserId.eq(ada.db_id.as_str()))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let (this_start, _) = persistence::subscriptions::month_of(chrono::Utc::now());
    let (old_start, old_end) =
        persistence::subscriptions::month_of(this_start - chrono::Duration::days(40));
    let mut old: subscriptions::ActiveModel = sub.into();
    old.current_period_start = Set(old_start);
    old.current_period_end = Set(old_end);
    old.update(db).await.unwrap();
    let old_sub = subscriptions::Entity::find()
        .filter(subscriptions::Column::UserId.eq(ada.db_id.as_str()))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    // (what a counter of that period looks like; `add_usage` itself would roll over first)
    subscription_usage::ActiveModel {
        id: Set("old-counter".into()),
        subscription_id: Set(old_sub.id.clone()),
        metric: Set("analyses".into()),
        value: Set(3),
        period: Set(persistence::subscriptions::period_key(old_start)),
        created_at: Set(old_start),
        updated_at: Set(old_start),
    }
    .insert(db)
    .await
    .unwrap();

    // The next read starts the current period: the cancelled plan became FREE, and the
    // counters start again (the old one is kept as history).
    let rolled = app.query(Some(&ada.token), MINE, json!({})).await;
    assert_eq!(rolled["mySubscription"]["plan"], "FREE");
    assert_eq!(rolled["mySubscription"]["cancelAtPeriodEnd"], false);
    assert_eq!(usage_of(&rolled, "ANALYSES")["value"], 0);
    assert_eq!(
        usage_of(&rolled, "ANALYSES")["period"],
        persistence::subscriptions::period_key(this_start)
    );
    let end: chrono::DateTime<chrono::Utc> = rolled["mySubscription"]["currentPeriodEnd"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(end > chrono::Utc::now());
    persistence::subscriptions::add_usage(db, &ada.db_id, "analyses", 2)
        .await
        .unwrap();
    let now = app.query(Some(&ada.token), MINE, json!({})).await;
    assert_eq!(usage_of(&now, "ANALYSES")["value"], 2);
    let old_row = subscription_usage::Entity::find_by_id("old-counter".to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old_row.value, 3);
});

e2e_backend!(
    administrators_see_who_is_near_their_plan_limit,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            let plans = Arc::make_mut(&mut c.billing.plans);
            plans.get_mut(Plan::Free).monthly_ai_tokens = Some(1_000);
            plans.get_mut(Plan::Basic).monthly_ai_tokens = Some(10_000);
            plans.get_mut(Plan::Pro).monthly_ai_tokens = None;
        })
        .await
        else {
            return;
        };
        let admin = app.register("admin@example.com").await;
        app.promote(&admin, Role::Admin).await;
        let set = "mutation($i: SetSubscriptionInput!) { setSubscription(input: $i) { subscription { plan } } }";
        let mut users = Vec::new();
        for (email, plan, used) in [
            ("ada@example.com", None, 900),
            ("bob@example.com", None, 100),
            ("cy@example.com", Some("BASIC"), 8_500),
            ("dee@example.com", Some("PRO"), 50_000),
        ] {
            let u = app.register(email).await;
            if let Some(plan) = plan {
                app.query(
                    Some(&admin.token),
                    set,
                    json!({ "i": { "userId": u.global_id, "plan": plan } }),
                )
                .await;
            }
            persistence::subscriptions::add_usage(
                app.db().conn(),
                &u.db_id,
                persistence::subscriptions::TOKENS,
                used,
            )
            .await
            .unwrap();
            users.push(u);
        }
        let query = "query($n: Float, $m: UsageMetric) { analytics { planQuotas(nearLimit: $n, metric: $m) { userId user { email } plan period used limit ratio nearLimit } } }";
        let near = app
            .query(Some(&admin.token), query, json!({ "n": 0.8 }))
            .await;
        let rows = near["analytics"]["planQuotas"].as_array().unwrap().clone();
        let seen: Vec<(&str, &str, i64, Option<i64>, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r["user"]["email"].as_str().unwrap(),
                    r["plan"].as_str().unwrap(),
                    r["used"].as_i64().unwrap(),
                    r["limit"].as_i64(),
                    r["nearLimit"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("ada@example.com", "FREE", 900, Some(1_000), true),
                ("cy@example.com", "BASIC", 8_500, Some(10_000), true),
            ]
        );
        assert_eq!(rows[0]["ratio"], 0.9);
        assert_eq!(rows[0]["userId"], users[0].global_id.as_str());
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        assert_eq!(rows[0]["period"], month.as_str());

        // Everyone counted this month, fullest first; a plan without a limit is never near it.
        let all = app.query(Some(&admin.token), query, json!({})).await;
        let order: Vec<(&str, bool)> = all["analytics"]["planQuotas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["user"]["email"].as_str().unwrap(),
                    r["nearLimit"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("ada@example.com", true),
                ("cy@example.com", true),
                ("bob@example.com", false),
                ("dee@example.com", false),
            ]
        );
        let dee = &all["analytics"]["planQuotas"][3];
        assert!(dee["limit"].is_null());
        assert_eq!(dee["ratio"], 0.0);
        // Another metric counts its own counters (no analyses ran).
        let analyses = app
            .query(Some(&admin.token), query, json!({ "m": "ANALYSES" }))
            .await;
        assert_eq!(analyses["analytics"]["planQuotas"], json!([]));

        // Plans are not research data: staff and users are refused.
        let staff = app.register("staff@example.com").await;
        app.promote(&staff, Role::Staff).await;
        assert_eq!(
            app.error_code(Some(&staff.token), query, json!({})).await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.error_code(Some(&users[0].token), query, json!({}))
                .await,
            "FORBIDDEN"
        );
        let bad = app
            .error_code(Some(&admin.token), query, json!({ "n": 11.0 }))
            .await;
        assert_eq!(bad, "BAD_USER_INPUT");
    }
);
