//! Finance end to end, on SQLite and PostgreSQL: a ledger that cannot lose money. Concurrent
//! transfers with repeated idempotency keys keep the total and every wallet equal to its ledger;
//! insufficient funds move nothing; amounts are exact strings; payments succeed or fail by the
//! offline processor's token and are refunded exactly once, also when refunds race.

use std::collections::{HashMap, HashSet};

use colloquy_tests::{Kind, TestApp, TestUser, e2e, gid, raw_id};
use serde_json::{Value, json};

const TRANSFER: &str = "mutation($i: TransferInput!) { transfer(input: $i) { replayed transaction { id type amount balanceAfter currency walletId counterpartyWalletId description } } }";
const PAY: &str = "mutation($i: CreatePaymentInput!) { createPayment(input: $i) { replayed payment { id status amount currency purpose failureReason transactionId walletId } } }";
const REFUND: &str = "mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { replayed payment { id status amount } } }";
const WALLETS: &str = "{ myWallets { id currency balance transactions(first: 100) { totalCount nodes { id type amount balanceAfter } } } }";

/// An amount string with two decimals as cents (the tests use ZAR and AZR).
fn cents(text: &str) -> i64 {
    let negative = text.starts_with('-');
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (_, frac) = text.trim_start_matches('-').split_once('.').unwrap();
    assert_eq!(frac.len(), 2, "{text}");
    let n: i64 = digits.parse().unwrap();
    if negative { -n } else { n }
}

/// Tops `user` up with `amount` in `currency` through a payment; returns the payment.
pub async fn top_up(
    app: &TestApp,
    user: &TestUser,
    currency: &str,
    amount: &str,
    key: &str,
) -> Value {
    let data = app
        .query(
            Some(&user.token),
            PAY,
            json!({ "i": { "amount": amount, "currency": currency, "purpose": "TOP_UP", "idempotencyKey": key } }),
        )
        .await;
    assert_eq!(
        data["createPayment"]["payment"]["status"], "SUCCEEDED",
        "{data}"
    );
    data["createPayment"]["payment"].clone()
}

/// The user's wallets by currency.
async fn wallets(app: &TestApp, user: &TestUser) -> HashMap<String, Value> {
    let data = app.query(Some(&user.token), WALLETS, json!({})).await;
    data["myWallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["currency"].as_str().unwrap().to_owned(), w.clone()))
        .collect()
}

/// A wallet's balance equals the sum of its ledger rows, each row's `balanceAfter` chains, and
/// nothing is negative. Returns the balance in cents.
fn check_wallet(w: &Value) -> i64 {
    let balance = cents(w["balance"].as_str().unwrap());
    assert!(balance >= 0, "negative balance: {w}");
    let rows = w["transactions"]["nodes"].as_array().unwrap();
    assert_eq!(w["transactions"]["totalCount"], rows.len(), "{w}");
    let sum: i64 = rows
        .iter()
        .map(|t| cents(t["amount"].as_str().unwrap()))
        .sum();
    assert_eq!(sum, balance, "balance equals the sum of its ledger: {w}");
    // Newest first: each row's balanceAfter is the next older one's plus its amount.
    let mut running = 0;
    for t in rows.iter().rev() {
        running += cents(t["amount"].as_str().unwrap());
        assert_eq!(cents(t["balanceAfter"].as_str().unwrap()), running, "{w}");
        assert!(running >= 0, "{w}");
    }
    balance
}

fn error(body: &Value) -> (String, String) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or_default().to_owned(),
        ext["field"].as_str().unwrap_or_default().to_owned(),
    )
}

e2e!(
    concurrent_transfers_with_repeated_keys_never_lose_money,
    |app: TestApp| async move {
        let alice = app.register("alice@example.com").await;
        let bob = app.register("bob@example.com").await;
        top_up(&app, &alice, "ZAR", "100.00", "seed-a").await;
        top_up(&app, &bob, "ZAR", "100.00", "seed-b").await;

        // 40 distinct transfers, half each way, and 10 repeats of some of them (same key, same
        // request): 50 requests at once.
        let mut requests = Vec::new();
        for i in 0..40 {
            let (from, to) = if i % 2 == 0 {
                (&alice, &bob)
            } else {
                (&bob, &alice)
            };
            let amount = format!("{}.{:02}", 3 + i % 7, (i * 13) % 100);
            requests.push((from.clone(), to.global_id.clone(), amount, format!("t-{i}")));
        }
        for i in [0, 1, 2, 3, 10, 11, 20, 21, 30, 31] {
            requests.push(requests[i].clone());
        }
        let calls = requests.iter().map(|(from, to, amount, key)| {
            let app = &app;
            async move {
                app.post(
                    Some(&from.token),
                    TRANSFER,
                    json!({ "i": { "fromCurrency": "ZAR", "toUserId": to, "amount": amount, "idempotencyKey": key, "note": "lunch" } }),
                )
                .await
            }
        });
        let answers = futures::future::join_all(calls).await;

        // Every answer is a transfer or a clear INSUFFICIENT_FUNDS; repeats of a key answer the
        // same ledger row.
        let mut by_key: HashMap<(String, String), HashSet<String>> = HashMap::new();
        let mut moved = 0;
        for ((from, _, _, key), body) in requests.iter().zip(&answers) {
            if body.get("errors").is_some() {
                assert_eq!(error(body).0, "INSUFFICIENT_FUNDS", "{body:#}");
                continue;
            }
            let t = &body["data"]["transfer"]["transaction"];
            assert_eq!(t["type"], "TRANSFER_OUT");
            assert_eq!(t["currency"], "ZAR");
            assert!(cents(t["amount"].as_str().unwrap()) < 0);
            assert!(cents(t["balanceAfter"].as_str().unwrap()) >= 0);
            if body["data"]["transfer"]["replayed"] == false {
                moved += 1;
            }
            by_key
                .entry((from.db_id.clone(), key.clone()))
                .or_default()
                .insert(t["id"].as_str().unwrap().to_owned());
        }
        assert!(moved > 0, "some transfers went through");
        for (key, ids) in &by_key {
            assert_eq!(ids.len(), 1, "{key:?} answered one ledger row: {ids:?}");
        }

        // The money is all there, every wallet equals its ledger, and each key applied once.
        let a = wallets(&app, &alice).await;
        let b = wallets(&app, &bob).await;
        let total = check_wallet(&a["ZAR"]) + check_wallet(&b["ZAR"]);
        assert_eq!(total, 20_000, "the sum of balances is unchanged");
        let outs = |w: &Value| {
            w["transactions"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["type"] == "TRANSFER_OUT")
                .count()
        };
        assert_eq!(outs(&a["ZAR"]) + outs(&b["ZAR"]), moved);
        assert_eq!(by_key.len(), moved, "each applied key moved money once");
        let ins = |w: &Value| {
            w["transactions"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["type"] == "TRANSFER_IN")
                .count()
        };
        assert_eq!(ins(&a["ZAR"]), outs(&b["ZAR"]));
        assert_eq!(ins(&b["ZAR"]), outs(&a["ZAR"]));
        for (user, wallet) in [(&alice, &a["ZAR"]), (&bob, &b["ZAR"])] {
            let wallet_id = raw_id(wallet["id"].as_str().unwrap());
            for i in 0..40 {
                let n = persistence::ledger::count_with_key(
                    app.db().conn(),
                    &wallet_id,
                    &format!("t-{i}"),
                )
                .await
                .unwrap();
                assert!(n <= 1, "{} key t-{i} applied {n} times", user.email);
            }
        }
        // Each transfer left an audit row.
        let events = {
            use persistence::entity::events::{Column, Entity};
            use persistence::sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
            Entity::find()
                .filter(Column::Type.eq("finance.transferred"))
                .count(app.db().conn())
                .await
                .unwrap()
        };
        assert_eq!(events, moved as u64);
    }
);

e2e!(
    insufficient_funds_move_nothing_and_the_key_can_be_retried,
    |app: TestApp| async move {
        let carol = app.register("carol@example.com").await;
        let dan = app.register("dan@example.com").await;
        top_up(&app, &carol, "ZAR", "5.00", "p1").await;
        let send = json!({ "i": { "fromCurrency": "ZAR", "toUserId": dan.global_id, "amount": "10.00", "idempotencyKey": "rent" } });
        let body = app.post(Some(&carol.token), TRANSFER, send.clone()).await;
        assert_eq!(error(&body).0, "INSUFFICIENT_FUNDS", "{body:#}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("insufficient funds")
        );
        let c = wallets(&app, &carol).await;
        assert_eq!(c["ZAR"]["balance"], "5.00");
        assert_eq!(check_wallet(&c["ZAR"]), 500);
        assert_eq!(c["ZAR"]["transactions"]["totalCount"], 1);
        let d = wallets(&app, &dan).await;
        assert_eq!(d["ZAR"]["balance"], "0.00", "nothing arrived");
        assert_eq!(d["ZAR"]["transactions"]["totalCount"], 0);

        // The failed request did not use up its key: once funded, the same request goes through,
        // once.
        top_up(&app, &carol, "ZAR", "10.00", "p2").await;
        let first = app.query(Some(&carol.token), TRANSFER, send.clone()).await;
        assert_eq!(first["transfer"]["replayed"], false);
        assert_eq!(first["transfer"]["transaction"]["amount"], "-10.00");
        assert_eq!(first["transfer"]["transaction"]["balanceAfter"], "5.00");
        let again = app.query(Some(&carol.token), TRANSFER, send).await;
        assert_eq!(again["transfer"]["replayed"], true);
        assert_eq!(
            again["transfer"]["transaction"]["id"],
            first["transfer"]["transaction"]["id"]
        );
        let d = wallets(&app, &dan).await;
        assert_eq!(d["ZAR"]["balance"], "10.00");
        assert_eq!(check_wallet(&d["ZAR"]), 1000);

        // The same key for another request is a conflict, and moves nothing.
        let other = json!({ "i": { "fromCurrency": "ZAR", "toUserId": dan.global_id, "amount": "1.00", "idempotencyKey": "rent" } });
        let body = app.post(Some(&carol.token), TRANSFER, other).await;
        assert_eq!(error(&body).0, "CONFLICT", "{body:#}");
        assert_eq!(wallets(&app, &carol).await["ZAR"]["balance"], "5.00");
    }
);

e2e!(
    amounts_are_exact_strings_in_the_currency_decimals,
    |app: TestApp| async move {
        let erin = app.register("erin@example.com").await;
        let fay = app.register("fay@example.com").await;
        top_up(&app, &erin, "ZAR", "20.00", "p1").await;
        for (currency, amount) in [
            ("ZAR", "1.001"),
            ("ZAR", "1.5.0"),
            ("ZAR", "-1.00"),
            ("ZAR", "1e2"),
            ("ZAR", "0.00"),
            ("ZAR", ""),
            ("BTC", "0.000000001"),
        ] {
            let body = app
            .post(
                Some(&erin.token),
                TRANSFER,
                json!({ "i": { "fromCurrency": currency, "toUserId": fay.global_id, "amount": amount, "idempotencyKey": "x" } }),
            )
            .await;
            assert_eq!(
                error(&body),
                ("BAD_USER_INPUT".to_owned(), "amount".to_owned()),
                "{currency} {amount:?}: {body:#}"
            );
            let body = app
            .post(
                Some(&erin.token),
                PAY,
                json!({ "i": { "amount": amount, "currency": currency, "purpose": "TOP_UP", "idempotencyKey": "y" } }),
            )
            .await;
            assert_eq!(
                error(&body),
                ("BAD_USER_INPUT".to_owned(), "amount".to_owned()),
                "{currency} {amount:?}: {body:#}"
            );
        }
        // Trailing zeros are fine; the smallest unit of BTC is a satoshi.
        let sent = app
        .query(
            Some(&erin.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": fay.global_id, "amount": "2.500", "idempotencyKey": "ok" } }),
        )
        .await;
        assert_eq!(sent["transfer"]["transaction"]["amount"], "-2.50");
        let btc = top_up(&app, &erin, "BTC", "0.00000001", "sat").await;
        assert_eq!(btc["amount"], "0.00000001");
        assert_eq!(wallets(&app, &erin).await["BTC"]["balance"], "0.00000001");

        // No implicit conversion: a ZAR transfer into a BTC wallet is refused.
        let fay_btc = top_up(&app, &fay, "BTC", "1", "f-btc").await;
        let body = app
        .post(
            Some(&erin.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toWalletId": fay_btc["walletId"], "amount": "1.00", "idempotencyKey": "conv" } }),
        )
        .await;
        assert_eq!(
            error(&body),
            ("BAD_USER_INPUT".to_owned(), "toWalletId".to_owned()),
            "{body:#}"
        );
        // Into a wallet of the same currency, by its id.
        let fay_zar = wallets(&app, &fay).await["ZAR"]["id"].clone();
        let sent = app
        .query(
            Some(&erin.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toWalletId": fay_zar, "amount": "0.50", "idempotencyKey": "by-wallet" } }),
        )
        .await;
        assert_eq!(
            sent["transfer"]["transaction"]["counterpartyWalletId"],
            fay_zar
        );
        assert_eq!(wallets(&app, &fay).await["ZAR"]["balance"], "3.00");
        // Not to yourself.
        let body = app
        .post(
            Some(&erin.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": erin.global_id, "amount": "1.00", "idempotencyKey": "self" } }),
        )
        .await;
        assert_eq!(error(&body).0, "BAD_USER_INPUT", "{body:#}");
    }
);

e2e!(
    payments_succeed_or_fail_and_refund_exactly_once,
    |app: TestApp| async move {
        let gus = app.register("gus@example.com").await;
        let hal = app.register("hal@example.com").await;
        let paid = top_up(&app, &gus, "ZAR", "50.00", "pay-1").await;
        assert!(paid["transactionId"].is_string());
        // Repeating the key answers the same payment and charges nothing again.
        let again = app
            .query(
                Some(&gus.token),
                PAY,
                json!({ "i": { "amount": "50.00", "currency": "ZAR", "purpose": "TOP_UP", "idempotencyKey": "pay-1" } }),
            )
            .await;
        assert_eq!(again["createPayment"]["replayed"], true);
        assert_eq!(again["createPayment"]["payment"]["id"], paid["id"]);
        assert_eq!(wallets(&app, &gus).await["ZAR"]["balance"], "50.00");

        // A declined card: FAILED, nothing credited.
        let declined = app
            .query(
                Some(&gus.token),
                PAY,
                json!({ "i": { "amount": "9.00", "currency": "ZAR", "purpose": "TOP_UP", "idempotencyKey": "pay-2", "paymentMethod": "tok_declined" } }),
            )
            .await;
        let declined = &declined["createPayment"]["payment"];
        assert_eq!(declined["status"], "FAILED");
        assert_eq!(declined["failureReason"], "card_declined");
        assert_eq!(wallets(&app, &gus).await["ZAR"]["balance"], "50.00");
        let body = app
            .post(
                Some(&gus.token),
                REFUND,
                json!({ "i": { "paymentId": declined["id"], "idempotencyKey": "r-declined" } }),
            )
            .await;
        assert_eq!(error(&body).0, "CONFLICT", "{body:#}");

        // Someone else can neither see nor refund it.
        let body = app
            .post(
                Some(&hal.token),
                REFUND,
                json!({ "i": { "paymentId": paid["id"], "idempotencyKey": "steal" } }),
            )
            .await;
        assert_eq!(error(&body).0, "NOT_FOUND", "{body:#}");
        let seen = app
            .query(
                Some(&hal.token),
                "query($id: ID!) { payment(id: $id) { id } }",
                json!({ "id": paid["id"] }),
            )
            .await;
        assert!(seen["payment"].is_null());

        // Refunded twice: once. The same key replays; another key is a conflict.
        let refund = json!({ "i": { "paymentId": paid["id"], "idempotencyKey": "r-1" } });
        let first = app.query(Some(&gus.token), REFUND, refund.clone()).await;
        assert_eq!(first["refundPayment"]["payment"]["status"], "REFUNDED");
        assert_eq!(first["refundPayment"]["replayed"], false);
        let replay = app.query(Some(&gus.token), REFUND, refund).await;
        assert_eq!(replay["refundPayment"]["replayed"], true);
        let body = app
            .post(
                Some(&gus.token),
                REFUND,
                json!({ "i": { "paymentId": paid["id"], "idempotencyKey": "r-2" } }),
            )
            .await;
        assert_eq!(error(&body).0, "CONFLICT", "{body:#}");
        let w = wallets(&app, &gus).await;
        assert_eq!(w["ZAR"]["balance"], "0.00");
        check_wallet(&w["ZAR"]);

        // Refunds racing: exactly one wins.
        let racing = top_up(&app, &gus, "ZAR", "30.00", "pay-3").await;
        let calls = (0..8).map(|i| {
            let app = &app;
            let gus = &gus;
            let id = racing["id"].clone();
            async move {
                app.post(
                    Some(&gus.token),
                    REFUND,
                    json!({ "i": { "paymentId": id, "idempotencyKey": format!("race-{i}") } }),
                )
                .await
            }
        });
        let answers = futures::future::join_all(calls).await;
        let won = answers.iter().filter(|b| b.get("errors").is_none()).count();
        assert_eq!(won, 1, "{answers:#?}");
        for b in answers.iter().filter(|b| b.get("errors").is_some()) {
            assert_eq!(error(b).0, "CONFLICT", "{b:#}");
        }
        let w = wallets(&app, &gus).await;
        assert_eq!(w["ZAR"]["balance"], "0.00");
        check_wallet(&w["ZAR"]);
        let refunds = w["ZAR"]["transactions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["type"] == "REFUND")
            .count();
        assert_eq!(refunds, 2, "one refund per refunded payment");

        // A refund that would overdraw the wallet is refused and changes nothing.
        let spent = top_up(&app, &gus, "ZAR", "10.00", "pay-4").await;
        app.query(
            Some(&gus.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": hal.global_id, "amount": "10.00", "idempotencyKey": "spend" } }),
        )
        .await;
        let body = app
            .post(
                Some(&gus.token),
                REFUND,
                json!({ "i": { "paymentId": spent["id"], "idempotencyKey": "r-spent" } }),
            )
            .await;
        assert_eq!(error(&body).0, "INSUFFICIENT_FUNDS", "{body:#}");
        let still = app
            .query(
                Some(&gus.token),
                "query($id: ID!) { payment(id: $id) { status } }",
                json!({ "id": spent["id"] }),
            )
            .await;
        assert_eq!(still["payment"]["status"], "SUCCEEDED");

        // Withdrawals debit the wallet, and the node interface finds payments and wallets.
        top_up(&app, &hal, "USD", "5.00", "h-usd").await;
        let out = app
            .query(
                Some(&hal.token),
                PAY,
                json!({ "i": { "amount": "2.25", "currency": "USD", "purpose": "WITHDRAWAL", "idempotencyKey": "h-out" } }),
            )
            .await;
        assert_eq!(out["createPayment"]["payment"]["status"], "SUCCEEDED");
        let h = wallets(&app, &hal).await;
        assert_eq!(h["USD"]["balance"], "2.75");
        check_wallet(&h["USD"]);
        let node = "query($id: ID!) { node(id: $id) { __typename id } }";
        for id in [
            out["createPayment"]["payment"]["id"].clone(),
            h["USD"]["id"].clone(),
            h["USD"]["transactions"]["nodes"][0]["id"].clone(),
        ] {
            let mine = app.query(Some(&hal.token), node, json!({ "id": id })).await;
            assert_eq!(mine["node"]["id"], id);
            let theirs = app.query(Some(&gus.token), node, json!({ "id": id })).await;
            assert!(theirs["node"].is_null(), "{theirs}");
        }
        let _ = gid(Kind::Wallet, "missing");
        let payments = app
            .query(
                Some(&gus.token),
                "{ myPayments(first: 2) { totalCount pageInfo { hasNextPage } nodes { id status } } }",
                json!({}),
            )
            .await;
        assert_eq!(payments["myPayments"]["totalCount"], 4);
        assert_eq!(payments["myPayments"]["pageInfo"]["hasNextPage"], true);
    }
);

const WALLET_UPDATED: &str = "subscription { walletUpdated { id currency balance } }";

/// The next `walletUpdated` a subscription hears: (currency, balance).
async fn heard(ws: &mut colloquy_tests::WsClient, sub: &str) -> (String, String) {
    let got = ws
        .next_for(sub, std::time::Duration::from_secs(20))
        .await
        .expect("a walletUpdated event");
    let w = &got["data"]["walletUpdated"];
    assert!(w["id"].is_string(), "{got}");
    (
        w["currency"].as_str().unwrap_or_default().to_owned(),
        w["balance"].as_str().unwrap_or_default().to_owned(),
    )
}

e2e!(
    wallet_updates_are_heard_live_by_their_owner_only,
    |app: TestApp| async move {
        let alice = app.register("alice@example.com").await;
        let bob = app.register("bob@example.com").await;
        let carol = app.register("carol@example.com").await;
        top_up(&app, &alice, "ZAR", "50.00", "seed-a").await;

        // On PostgreSQL the subscribers sit on another instance than the one that moves the
        // money; SQLite has one server.
        let peer = match app.backend {
            colloquy_tests::Backend::Postgres => Some(app.spawn_peer().await),
            colloquy_tests::Backend::Sqlite => None,
        };
        let (addr, state) = match &peer {
            Some(p) => (p.addr, p.state.clone()),
            None => (app.addr, app.state.clone()),
        };
        let url = format!("ws://{addr}/graphql/ws");
        let mut alice_ws = colloquy_tests::WsClient::connect(&url, Some(&alice.token)).await;
        let alice_sub = alice_ws.subscribe(WALLET_UPDATED, json!({})).await;
        let mut bob_ws = colloquy_tests::WsClient::connect(&url, Some(&bob.token)).await;
        let bob_sub = bob_ws.subscribe(WALLET_UPDATED, json!({})).await;
        let mut carol_ws = colloquy_tests::WsClient::connect(&url, Some(&carol.token)).await;
        let carol_sub = carol_ws.subscribe(WALLET_UPDATED, json!({})).await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while state.services.finance.subscribers() < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "subscriptions did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        state.services.finance.events().listening().await;

        // A transfer from Alice: Bob hears his wallet credited, Alice hers debited.
        let sent = app
            .query(
                Some(&alice.token),
                TRANSFER,
                json!({ "i": { "fromCurrency": "ZAR", "toUserId": bob.global_id, "amount": "12.50", "idempotencyKey": "live-1" } }),
            )
            .await;
        assert_eq!(sent["transfer"]["replayed"], false, "{sent}");
        assert_eq!(
            heard(&mut bob_ws, &bob_sub).await,
            ("ZAR".to_owned(), "12.50".to_owned())
        );
        assert_eq!(
            heard(&mut alice_ws, &alice_sub).await,
            ("ZAR".to_owned(), "37.50".to_owned())
        );

        // Carol heard nothing of it: the first thing she hears is her own transfer in, then
        // her top-up and its refund.
        app.query(
            Some(&alice.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": carol.global_id, "amount": "1.00", "idempotencyKey": "live-2" } }),
        )
        .await;
        assert_eq!(
            heard(&mut carol_ws, &carol_sub).await,
            ("ZAR".to_owned(), "1.00".to_owned()),
            "Carol hears her own wallet, never Bob's or Alice's"
        );
        let payment = top_up(&app, &carol, "ZAR", "5.00", "live-top-up").await;
        assert_eq!(
            heard(&mut carol_ws, &carol_sub).await,
            ("ZAR".to_owned(), "6.00".to_owned())
        );
        let refunded = app
            .query(
                Some(&carol.token),
                REFUND,
                json!({ "i": { "paymentId": payment["id"], "idempotencyKey": "live-refund" } }),
            )
            .await;
        assert_eq!(refunded["refundPayment"]["payment"]["status"], "REFUNDED");
        assert_eq!(
            heard(&mut carol_ws, &carol_sub).await,
            ("ZAR".to_owned(), "1.00".to_owned())
        );
        // Alice's second transfer reached her subscription too. Bob heard none of Carol's or
        // Alice's changes since: the next thing he hears is his own wallet again.
        assert_eq!(
            heard(&mut alice_ws, &alice_sub).await,
            ("ZAR".to_owned(), "36.50".to_owned())
        );
        app.query(
            Some(&alice.token),
            TRANSFER,
            json!({ "i": { "fromCurrency": "ZAR", "toUserId": bob.global_id, "amount": "0.50", "idempotencyKey": "live-3" } }),
        )
        .await;
        assert_eq!(
            heard(&mut bob_ws, &bob_sub).await,
            ("ZAR".to_owned(), "13.00".to_owned())
        );
    }
);
