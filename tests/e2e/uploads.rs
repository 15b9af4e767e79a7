//! Uploads end to end, over real HTTP: a PDF contract sent as a GraphQL multipart request is
//! stored, typed from its content (not the client's claim), hashed and its text extracted; an
//! oversized file is refused before anything is stored; signed download links work for the
//! owner's file and fail when expired or tampered with; uploads are their owner's alone; the
//! plan's monthly upload bytes are enforced. Each test runs on SQLite and PostgreSQL.

use std::path::{Path, PathBuf};

use colloquy_tests::{Kind, TestApp, TestUser, e2e, e2e_backend, gid, raw_id};
use persistence::entity::{events, projects, subscription_usage, uploads};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const UPLOAD: &str = "mutation($i: UploadFileInput!) { uploadFile(input: $i) { upload { id filename size mimeType status sha256 extractedText downloadUrl processedAt } } }";
const GET: &str = "query($id: ID!) { upload(id: $id) { id status extractedText downloadUrl } }";
const GET_FULL: &str = "query($id: ID!) { upload(id: $id) { id filename size mimeType status sha256 extractedText downloadUrl processedAt } }";
const UPDATED: &str = "subscription($id: ID!) { uploadUpdated(id: $id) { id status mimeType } }";

/// A one-page PDF whose page reads `text`, made with lopdf.
pub fn pdf(text: &str) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 700.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
    });
    let pages = dictionary! {
        "Type" => "Pages",
        "Kids" => vec![page_id.into()],
        "Count" => 1,
        "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    };
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// [`send_upload`], then (when it was accepted, PENDING) waits until the upload is processed:
/// the body with `data.uploadFile.upload` as the processed upload reads.
pub async fn upload(
    app: &TestApp,
    token: &str,
    name: &str,
    claimed: &str,
    bytes: &[u8],
    project_id: Option<&str>,
) -> Value {
    let mut body = send_upload(app, token, name, claimed, bytes, project_id).await;
    if body.get("errors").is_some() {
        return body;
    }
    let up = &body["data"]["uploadFile"]["upload"];
    assert_eq!(
        up["status"], "PENDING",
        "processed out of the request: {body:#}"
    );
    assert!(up["downloadUrl"].is_null(), "nothing to download yet");
    let id = up["id"].as_str().unwrap().to_owned();
    body["data"]["uploadFile"]["upload"] = processed(app, token, &id).await;
    body
}

/// Waits (up to a minute) until upload `id` leaves PENDING/PROCESSING and returns it (the
/// fields of `uploadFile`'s selection), re-reading it at each `uploadUpdated` event (or second of
/// silence), so no change is missed.
pub async fn processed(app: &TestApp, token: &str, id: &str) -> Value {
    let mut ws = app.ws(Some(token)).await;
    let sub = ws.subscribe(UPDATED, json!({ "id": id })).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let up = app.query(Some(token), GET_FULL, json!({ "id": id })).await["upload"].clone();
        if !matches!(up["status"].as_str(), Some("PENDING" | "PROCESSING")) {
            return up;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "upload {id} was not processed: {up}"
        );
        let _ = ws.next_for(&sub, std::time::Duration::from_secs(1)).await;
    }
}

/// Sends `uploadFile` as a GraphQL multipart request (operations, map, one file part) and
/// returns the response body. `claimed` is the Content-Type the client claims for the file.
pub async fn send_upload(
    app: &TestApp,
    token: &str,
    name: &str,
    claimed: &str,
    bytes: &[u8],
    project_id: Option<&str>,
) -> Value {
    let boundary = "colloquy-test-boundary-7d1f";
    let operations = json!({
        "query": UPLOAD,
        "variables": { "i": { "file": null, "projectId": project_id } },
    });
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n",
            json!({ "0": ["variables.i.file"] })
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\nContent-Type: {claimed}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

/// Every file under `dir`, recursively.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `url` (made with the configured public URL, which a test server's ephemeral port is not)
/// pointed at the test server.
fn local(app: &TestApp, url: &str) -> String {
    url.replacen(
        &app.state.services.config.auth.public_url,
        &format!("http://{}", app.addr),
        1,
    )
}

fn store_dir(app: &TestApp) -> PathBuf {
    app.state.services.config.uploads.dir.clone()
}

e2e!(
    a_pdf_contract_is_stored_typed_hashed_and_read,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let contract = pdf("MASTER SERVICES AGREEMENT between Acme and Ada");
        // The client claims plain text: the type comes from the content.
        let body = upload(
            &app,
            &ada.token,
            "contract.pdf",
            "text/plain",
            &contract,
            None,
        )
        .await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        assert_eq!(up["mimeType"], "application/pdf");
        assert_eq!(up["filename"], "contract.pdf");
        assert_eq!(up["size"], contract.len() as i64);
        let text = up["extractedText"].as_str().unwrap_or_default();
        assert!(
            text.contains("MASTER SERVICES AGREEMENT"),
            "extracted: {text:?}"
        );
        use sha2::Digest as _;
        assert_eq!(up["sha256"], hex::encode(sha2::Sha256::digest(&contract)));
        assert!(up["processedAt"].is_string());
        let id = up["id"].as_str().unwrap().to_owned();

        // Stored in the configured directory, exactly once.
        assert_eq!(files_in(&store_dir(&app)).len(), 1);
        // The mutation wrote its audit row.
        let audit = events::Entity::find()
            .filter(events::Column::Type.eq("upload.created"))
            .all(app.db().conn())
            .await
            .unwrap();
        assert_eq!(audit.len(), 1);

        // A Markdown file is read too; the owner finds both, newest first.
        let md = upload(
            &app,
            &ada.token,
            "notes.md",
            "application/pdf",
            b"# Terms\n\nPay in 30 days.",
            None,
        )
        .await;
        let md_up = &md["data"]["uploadFile"]["upload"];
        assert_eq!(md_up["mimeType"], "text/markdown", "{md:#}");
        assert_eq!(md_up["extractedText"], "# Terms\n\nPay in 30 days.");
        let list = app
            .query(
                Some(&ada.token),
                "{ uploads(first: 10) { totalCount nodes { filename } } }",
                json!({}),
            )
            .await;
        assert_eq!(list["uploads"]["totalCount"], 2);
        assert_eq!(list["uploads"]["nodes"][0]["filename"], "notes.md");

        // Nobody else sees or deletes it.
        let bob = app.register("bob@example.com").await;
        let other = app.query(Some(&bob.token), GET, json!({ "id": id })).await;
        assert!(other["upload"].is_null());
        let none = app
            .query(Some(&bob.token), "{ uploads { totalCount } }", json!({}))
            .await;
        assert_eq!(none["uploads"]["totalCount"], 0);
        let code = app
            .error_code(
                Some(&bob.token),
                "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND");

        // The owner deletes it: DELETED, the object is gone, the link stops working.
        let url = local(
            &app,
            app.query(Some(&ada.token), GET, json!({ "id": id })).await["upload"]["downloadUrl"]
                .as_str()
                .unwrap(),
        );
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
            json!({ "id": id }),
        )
        .await;
        let after = app.query(Some(&ada.token), GET, json!({ "id": id })).await;
        assert_eq!(after["upload"]["status"], "DELETED");
        assert!(after["upload"]["downloadUrl"].is_null());
        assert_eq!(
            files_in(&store_dir(&app)).len(),
            1,
            "only the Markdown file is left"
        );
        let gone = app.http.get(&url).send().await.unwrap();
        assert_eq!(gone.status(), 404);
    }
);

e2e_backend!(
    an_oversized_upload_is_refused_and_stores_nothing,
    |backend| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let path = store.clone();
        let Some(app) = TestApp::spawn_with(backend, move |c| {
            c.uploads.max_bytes = 1024;
            c.uploads.dir = path;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let body = upload(
            &app,
            &ada.token,
            "big.txt",
            "text/plain",
            &vec![b'a'; 4096],
            None,
        )
        .await;
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
        assert_eq!(err["extensions"]["field"], "file");
        assert!(
            err["message"].as_str().unwrap_or_default().contains("1024"),
            "the error names the limit: {body:#}"
        );
        assert!(files_in(&store).is_empty(), "nothing was stored");
        let rows = uploads::Entity::find().all(app.db().conn()).await.unwrap();
        assert!(rows.is_empty(), "no upload was recorded");
        // A file at the limit is accepted (the check is the limit, not something stricter).
        let ok = upload(
            &app,
            &ada.token,
            "fits.txt",
            "text/plain",
            &vec![b'a'; 1024],
            None,
        )
        .await;
        assert_eq!(
            ok["data"]["uploadFile"]["upload"]["status"], "COMPLETED",
            "{ok:#}"
        );
        assert_eq!(files_in(&store).len(), 1);
    }
);

e2e!(
    signed_download_links_work_for_the_owner_only_while_valid,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let body = upload(
            &app,
            &ada.token,
            "hello.txt",
            "application/pdf",
            b"hello, world",
            None,
        )
        .await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["mimeType"], "text/plain", "{body:#}");
        let url = local(&app, up["downloadUrl"].as_str().unwrap());
        let id = up["id"].as_str().unwrap().to_owned();

        // The link works without signing in, with the sniffed type.
        let res = app.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"hello, world");

        // Tampered: another expiry, another signature, another file's id.
        let tampered_expiry = {
            let (head, tail) = url.split_once("expires=").unwrap();
            let (exp, rest) = tail.split_once('&').unwrap();
            let later: i64 = exp.parse::<i64>().unwrap() + 3600;
            format!("{head}expires={later}&{rest}")
        };
        assert_eq!(
            app.http
                .get(&tampered_expiry)
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        let mut bad_sig = url.clone();
        let last = bad_sig.pop().unwrap();
        bad_sig.push(if last == '0' { '1' } else { '0' });
        assert_eq!(app.http.get(&bad_sig).send().await.unwrap().status(), 403);
        let unsigned = url.split('?').next().unwrap().to_owned();
        assert_eq!(app.http.get(&unsigned).send().await.unwrap().status(), 403);

        // Bob's own valid link does not open Ada's file under his file's signature.
        let bob = app.register("bob@example.com").await;
        let bobs = upload(&app, &bob.token, "b.txt", "text/plain", b"bob's", None).await;
        let bob_url = local(
            &app,
            bobs["data"]["uploadFile"]["upload"]["downloadUrl"]
                .as_str()
                .unwrap(),
        );
        let raw_ada = colloquy_tests::raw_id(&id);
        let (_, bob_query) = bob_url.split_once('?').unwrap();
        let crossed = format!(
            "{}/files/{raw_ada}?{bob_query}",
            url.split("/files/").next().unwrap()
        );
        assert_eq!(app.http.get(&crossed).send().await.unwrap().status(), 403);

        // Expired: a genuine signature whose time has passed.
        let row = uploads::Entity::find_by_id(raw_ada.clone())
            .one(app.db().conn())
            .await
            .unwrap()
            .unwrap();
        let past = chrono::Utc::now().timestamp() - 5;
        let expired = local(&app, &app.state.services.uploads.url_until(&row, past));
        assert_eq!(app.http.get(&expired).send().await.unwrap().status(), 403);
        // The same signer, a future time: works (so the 403 above is the expiry).
        let fresh = local(
            &app,
            &app.state.services.uploads.url_until(&row, past + 3600),
        );
        assert_eq!(app.http.get(&fresh).send().await.unwrap().status(), 200);
    }
);

e2e_backend!(the_plan_limits_monthly_upload_bytes, |backend| async move {
    use gateway::billing::plans::Plan;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        std::sync::Arc::make_mut(&mut c.billing.plans)
            .get_mut(Plan::Free)
            .upload_bytes_per_month = Some(100);
    })
    .await
    else {
        return;
    };
    let ada = app.register("ada@example.com").await;
    let first = upload(&app, &ada.token, "a.txt", "text/plain", &[b'a'; 60], None).await;
    assert_eq!(
        first["data"]["uploadFile"]["upload"]["status"], "COMPLETED",
        "{first:#}"
    );
    let second = upload(&app, &ada.token, "b.txt", "text/plain", &[b'b'; 60], None).await;
    let ext = &second["errors"][0]["extensions"];
    assert_eq!(ext["code"], "QUOTA_EXCEEDED", "{second:#}");
    assert_eq!(ext["plan"], "FREE");
    assert_eq!(ext["metric"], "upload_bytes");
    // Counted once, for the accepted file only; shown in mySubscription.
    let rows = subscription_usage::Entity::find()
        .filter(subscription_usage::Column::Metric.eq("upload_bytes"))
        .all(app.db().conn())
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.value).sum::<i64>(), 60);
    let mine = app
        .query(
            Some(&ada.token),
            "{ mySubscription { plan usage { metric value limit } } }",
            json!({}),
        )
        .await;
    let usage = mine["mySubscription"]["usage"].as_array().unwrap();
    let bytes = usage
        .iter()
        .find(|u| u["metric"] == "UPLOAD_BYTES")
        .unwrap();
    assert_eq!(bytes["value"], 60);
    assert_eq!(bytes["limit"], 100);
});

e2e!(
    an_unreadable_pdf_fails_and_leaves_no_object,
    |app: TestApp| async move {
        let ada: TestUser = app.register("ada@example.com").await;
        let body = upload(
            &app,
            &ada.token,
            "broken.pdf",
            "application/pdf",
            b"%PDF-1.7\nthis is not a pdf",
            None,
        )
        .await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "FAILED", "{body:#}");
        assert!(up["downloadUrl"].is_null());
        assert!(files_in(&store_dir(&app)).is_empty(), "no orphan object");
        // Its bytes were given back to the allowance.
        let rows = subscription_usage::Entity::find()
            .filter(subscription_usage::Column::Metric.eq("upload_bytes"))
            .all(app.db().conn())
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.value).sum::<i64>(), 0);
        // Another user's project is NOT_FOUND, exactly like a missing one; one's own is accepted.
        let bob = app.register("bob@example.com").await;
        for (id, owner) in [("bobs-project", &bob), ("adas-project", &ada)] {
            let now = chrono::Utc::now();
            projects::ActiveModel {
                id: Set(id.into()),
                user_id: Set(owner.db_id.clone()),
                name: Set("Contracts".into()),
                description: Set(None),
                status: Set("ACTIVE".into()),
                metadata: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
            }
            .insert(app.db().conn())
            .await
            .unwrap();
        }
        let missing = upload(
            &app,
            &ada.token,
            "x.txt",
            "text/plain",
            b"x",
            Some(&gid(Kind::Project, "nope")),
        )
        .await;
        assert_eq!(
            missing["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{missing:#}"
        );
        let others = upload(
            &app,
            &ada.token,
            "x.txt",
            "text/plain",
            b"x",
            Some(&gid(Kind::Project, "bobs-project")),
        )
        .await;
        assert_eq!(
            others["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{others:#}"
        );
        assert!(
            files_in(&store_dir(&app)).is_empty(),
            "refused before anything is stored"
        );
        let own = upload(
            &app,
            &ada.token,
            "x.txt",
            "text/plain",
            b"x",
            Some(&gid(Kind::Project, "adas-project")),
        )
        .await;
        assert_eq!(
            own["data"]["uploadFile"]["upload"]["status"], "COMPLETED",
            "{own:#}"
        );
        let filed = app
            .query(
                Some(&ada.token),
                "query($p: ID!) { uploads(filter: { projectId: $p }) { totalCount } }",
                json!({ "p": gid(Kind::Project, "adas-project") }),
            )
            .await;
        assert_eq!(filed["uploads"]["totalCount"], 1);
    }
);

e2e_backend!(
    a_stranded_upload_completes_once_after_a_restart_seen_live,
    |backend| async move {
        use persistence::entity::ai_jobs;
        use sea_orm::TransactionTrait;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let path = store.clone();
        let Some(app) = TestApp::spawn_with(backend, move |c| {
            c.uploads.dir = path;
            // Expired leases are found by polling: poll fast.
            c.jobs.poll_interval = std::time::Duration::from_millis(100);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        // What a server that died while processing leaves behind: the bytes stored, the upload
        // PROCESSING, its job RUNNING under that server's lease.
        let text = b"# Left behind\n\nStill here.";
        let id = core_domain::ids::new_id();
        let key = format!("{}/{id}", ada.db_id);
        std::fs::create_dir_all(store.join(&ada.db_id)).unwrap();
        std::fs::write(store.join(&key), text).unwrap();
        let job = {
            let txn = app.db().conn().begin().await.unwrap();
            persistence::uploads::create(
                &txn,
                persistence::uploads::NewUpload {
                    id: id.clone(),
                    user_id: ada.db_id.clone(),
                    project_id: None,
                    filename: id.clone(),
                    original_name: "notes.md".into(),
                    path: key.clone(),
                    size: text.len() as i64,
                    mime_type: "application/octet-stream".into(),
                    sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text)),
                    metadata: None,
                },
            )
            .await
            .unwrap();
            assert!(
                persistence::uploads::start_processing(&txn, &id)
                    .await
                    .unwrap()
            );
            let job = persistence::jobs::enqueue_held(
                &txn,
                "upload",
                &id,
                Some(&ada.db_id),
                3,
                "dead-instance",
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .await
            .unwrap();
            txn.commit().await.unwrap();
            job
        };
        let up_id = gid(Kind::FileUpload, &id);

        // Followed live from before the lease runs out.
        let events = app.state.services.conversations.events();
        let before = events.change_subscribers();
        let mut ws = app.ws(Some(&ada.token)).await;
        let sub = ws.subscribe(UPDATED, json!({ "id": up_id })).await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while events.change_subscribers() <= before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the subscription did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // While the dead server's lease holds, nobody takes the job.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let held = app
            .query(Some(&ada.token), GET, json!({ "id": up_id }))
            .await;
        assert_eq!(held["upload"]["status"], "PROCESSING", "{held}");

        // The lease runs out: a worker of this (restarted) server takes the job over.
        ai_jobs::ActiveModel {
            id: Set(job.id.clone()),
            lease_until: Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
            ..Default::default()
        }
        .update(app.db().conn())
        .await
        .unwrap();
        let completed = loop {
            let event = ws
                .next_for(&sub, std::time::Duration::from_secs(60))
                .await
                .expect("uploadUpdated reports the upload's end");
            let up = &event["data"]["uploadUpdated"];
            assert!(up.is_object(), "{event}");
            if up["status"] == "COMPLETED" {
                break up.clone();
            }
            assert_eq!(up["status"], "PROCESSING", "{event}");
        };
        assert_eq!(completed["mimeType"], "text/markdown");

        // Processed exactly once: one claim, one completion; the dead server can write nothing.
        let row = persistence::jobs::find(app.db().conn(), &job.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((row.status.as_str(), row.attempts), ("DONE", 1));
        let done = events::Entity::find()
            .filter(events::Column::Type.eq("upload.completed"))
            .all(app.db().conn())
            .await
            .unwrap();
        assert_eq!(done.len(), 1);
        let stale = persistence::jobs::Lease {
            job_id: job.id.clone(),
            owner: "dead-instance".into(),
            attempt: 0,
        };
        assert!(
            !persistence::jobs::finish(app.db().conn(), &stale, "FAILED", Some("late"))
                .await
                .unwrap()
        );
        // Polling reads the same.
        let polled = app
            .query(Some(&ada.token), GET, json!({ "id": up_id }))
            .await;
        assert_eq!(polled["upload"]["status"], "COMPLETED");
        assert_eq!(
            polled["upload"]["extractedText"],
            std::str::from_utf8(text).unwrap()
        );
        assert!(polled["upload"]["downloadUrl"].is_string());
        // Nobody else can follow it.
        let bob = app.register("bob@example.com").await;
        let mut bobs = app.ws(Some(&bob.token)).await;
        let denied = bobs.subscribe(UPDATED, json!({ "id": up_id })).await;
        let answer = bobs
            .next_for(&denied, std::time::Duration::from_secs(10))
            .await
            .expect("an answer");
        // Refused as an `error` message, or as a result holding only the error.
        let code = if answer["type"] == "error" {
            &answer["payload"][0]["extensions"]["code"]
        } else {
            assert!(answer["data"].is_null(), "{answer}");
            &answer["errors"][0]["extensions"]["code"]
        };
        assert_eq!(code, "NOT_FOUND", "{answer}");
    }
);

e2e_backend!(
    a_project_lists_its_uploads_in_one_statement_per_level,
    |backend| async move {
        // No workers: the only statements counted are the query's.
        let Some(app) = TestApp::spawn_with(backend, |c| c.jobs.workers = 0).await else {
            return;
        };
        const CREATE: &str =
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }";
        let small = app.register("small@example.com").await;
        let large = app.register("large@example.com").await;
        let mut first_project = None;
        for (user, projects, files) in [(&small, 1, 1), (&large, 5, 3)] {
            for p in 0..projects {
                let project = app
                    .query(
                        Some(&user.token),
                        CREATE,
                        json!({ "i": { "name": format!("p{p}") } }),
                    )
                    .await["createProject"]["project"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                for f in 0..files {
                    let body = send_upload(
                        &app,
                        &user.token,
                        &format!("f{f}.txt"),
                        "text/plain",
                        b"hello",
                        Some(&project),
                    )
                    .await;
                    assert!(body.get("errors").is_none(), "{body:#}");
                }
                first_project.get_or_insert(project);
            }
        }
        let project = first_project.unwrap();
        // An unfiled upload and a deleted one are not the project's list.
        send_upload(&app, &small.token, "loose.txt", "text/plain", b"x", None).await;
        let gone = send_upload(
            &app,
            &small.token,
            "gone.txt",
            "text/plain",
            b"x",
            Some(&project),
        )
        .await["data"]["uploadFile"]["upload"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.query(
            Some(&small.token),
            "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
            json!({ "id": gone }),
        )
        .await;
        let one = app
            .query(
                Some(&small.token),
                "query($id: ID!) { project(id: $id) { uploads(first: 10) { totalCount nodes { filename status project: projectId } } } }",
                json!({ "id": project }),
            )
            .await;
        let list = &one["project"]["uploads"];
        assert_eq!(list["totalCount"], 1, "{one}");
        assert_eq!(list["nodes"][0]["filename"], "f0.txt");
        assert_eq!(list["nodes"][0]["project"], project.as_str());

        const NESTED: &str = "{ projects(first: 50) { nodes { id uploads(first: 10) { totalCount nodes { id filename } } } } }";
        async fn cost(app: &TestApp, token: &str) -> u64 {
            let mut best = u64::MAX;
            for _ in 0..2 {
                let before = app.sql_statements();
                let data = app.query(Some(token), NESTED, json!({})).await;
                assert!(data["projects"]["nodes"].is_array(), "{data}");
                best = best.min(app.sql_statements() - before);
            }
            best
        }
        let few = cost(&app, &small.token).await;
        let many = cost(&app, &large.token).await;
        assert_eq!(
            few, many,
            "statements must not grow with rows: {few} for 1 project, {many} for 5"
        );
        let large_lists = app.query(Some(&large.token), NESTED, json!({})).await;
        for p in large_lists["projects"]["nodes"].as_array().unwrap() {
            assert_eq!(p["uploads"]["totalCount"], 3, "{p}");
        }
    }
);

/// 6 MiB and a bit of text that is not one repeated byte (so a misplaced part shows): more than
/// one 5 MiB part.
fn large_file() -> Vec<u8> {
    let mut out = Vec::with_capacity(6 * 1024 * 1024 + 64);
    let mut line = 0u64;
    while out.len() < 6 * 1024 * 1024 + 7 {
        out.extend_from_slice(format!("line {line:08}\n").as_bytes());
        line += 1;
    }
    out
}

e2e_backend!(
    a_file_larger_than_a_part_is_stored_in_parts_and_read_back_whole,
    |backend| async move {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.uploads.max_bytes = 8 * 1024 * 1024;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let large = large_file();
        let body = upload(&app, &ada.token, "large.txt", "text/plain", &large, None).await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        use sha2::Digest as _;
        assert_eq!(up["sha256"], hex::encode(sha2::Sha256::digest(&large)));
        assert_eq!(up["size"], large.len() as i64);
        let stored = files_in(&store_dir(&app));
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(std::fs::read(&stored[0]).unwrap() == large);
        let text = up["extractedText"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("line 00000000\nline 00000001\n"),
            "{}",
            &text[..40.min(text.len())]
        );
        let url = local(&app, up["downloadUrl"].as_str().unwrap());
        let got = app.http.get(&url).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(
            got.headers()["content-length"].to_str().unwrap(),
            large.len().to_string()
        );
        assert!(got.bytes().await.unwrap() == large, "downloaded whole");
    }
);

e2e_backend!(
    an_s3_compatible_store_holds_uploads_under_its_prefix,
    |backend| async move {
        let s3 = colloquy_tests::s3::FakeS3::start().await;
        let options = s3.options();
        let Some(app) = TestApp::spawn_with(backend, move |c| {
            c.uploads.store = Some("s3://colloquy-files/tenant-a".into());
            c.uploads.s3_options = gateway::platform::config::S3Options(options);
            c.uploads.max_bytes = 8 * 1024 * 1024;
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let contract = pdf("MASTER SERVICES AGREEMENT stored in S3");
        let body = upload(
            &app,
            &ada.token,
            "contract.pdf",
            "application/pdf",
            &contract,
            None,
        )
        .await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        // The worker read the bytes back from the store to extract the text.
        assert!(
            up["extractedText"]
                .as_str()
                .unwrap_or_default()
                .contains("stored in S3"),
            "{body:#}"
        );
        let id = up["id"].as_str().unwrap().to_owned();
        let keys = s3.keys();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let prefix = format!("colloquy-files/tenant-a/{}/", ada.db_id);
        assert!(keys[0].starts_with(&prefix), "{keys:?}");
        assert_eq!(s3.object(&keys[0]).unwrap(), contract);
        assert!(
            files_in(&store_dir(&app)).is_empty(),
            "nothing went to the local directory"
        );

        // The signed link serves the object from the store.
        let url = local(&app, up["downloadUrl"].as_str().unwrap());
        let got = app.http.get(&url).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap(), contract);

        // Over the limit: refused, and nothing reaches the store.
        let big = upload(
            &app,
            &ada.token,
            "big.txt",
            "text/plain",
            &vec![b'a'; 8 * 1024 * 1024 + 1],
            None,
        )
        .await;
        assert_eq!(
            big["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{big:#}"
        );
        assert_eq!(s3.keys().len(), 1);
        assert_eq!(s3.multipart_completed(), 0, "a small file is one PUT");

        // A file larger than a part goes up in parts (each signed with its own hash) and comes
        // back whole.
        let large = large_file();
        let body = upload(&app, &ada.token, "large.txt", "text/plain", &large, None).await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        assert_eq!(s3.multipart_completed(), 1);
        let key = s3
            .keys()
            .into_iter()
            .find(|k| k.ends_with(&raw_id(up["id"].as_str().unwrap())))
            .expect("stored");
        assert!(s3.object(&key).unwrap() == large, "the parts make the file");
        let url = local(&app, up["downloadUrl"].as_str().unwrap());
        let got = app.http.get(&url).send().await.unwrap();
        assert!(got.bytes().await.unwrap() == large, "downloaded whole");
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
            json!({ "id": up["id"] }),
        )
        .await;
        assert_eq!(s3.keys().len(), 1);

        // Deleting the upload removes the object.
        app.query(
            Some(&ada.token),
            "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
            json!({ "id": id }),
        )
        .await;
        assert!(s3.keys().is_empty(), "{:?}", s3.keys());
        // Every request the gateway made was signed with the configured credentials.
        assert_eq!(s3.refused(), 0);
    }
);

e2e_backend!(
    an_s3_store_that_refuses_the_credentials_fails_the_upload_and_keeps_nothing,
    |backend| async move {
        let s3 = colloquy_tests::s3::FakeS3::start().await;
        let mut options = s3.options();
        for (k, v) in &mut options {
            if k == "aws_secret_access_key" {
                *v = "not-the-secret".into();
            }
        }
        let Some(app) = TestApp::spawn_with(backend, move |c| {
            c.uploads.store = Some("s3://colloquy-files".into());
            c.uploads.s3_options = gateway::platform::config::S3Options(options);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let body = send_upload(&app, &ada.token, "a.txt", "text/plain", b"hello", None).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INTERNAL",
            "{body:#}"
        );
        assert!(s3.refused() > 0, "the store checked the signature");
        assert!(s3.keys().is_empty());
        // The row the request created is FAILED, not left PENDING.
        let rows = uploads::Entity::find().all(app.db().conn()).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "FAILED");
    }
);

e2e_backend!(
    a_store_slower_than_the_job_lease_does_not_lose_the_upload,
    |backend| async move {
        let s3 = colloquy_tests::s3::FakeS3::start().await;
        // Each PUT takes three leases: without the request renewing its hold, a worker would take
        // the job over, find no bytes yet and fail the upload.
        s3.set_put_delay(std::time::Duration::from_secs(3));
        let options = s3.options();
        let Some(app) = TestApp::spawn_with(backend, move |c| {
            c.uploads.store = Some("s3://colloquy-files".into());
            c.uploads.s3_options = gateway::platform::config::S3Options(options);
            c.jobs.lease = std::time::Duration::from_secs(1);
            c.jobs.poll_interval = std::time::Duration::from_millis(100);
        })
        .await
        else {
            return;
        };
        let ada = app.register("ada@example.com").await;
        let body = upload(&app, &ada.token, "slow.txt", "text/plain", b"slowly", None).await;
        let up = &body["data"]["uploadFile"]["upload"];
        assert_eq!(up["status"], "COMPLETED", "{body:#}");
        assert_eq!(up["extractedText"], "slowly");
        assert_eq!(s3.keys().len(), 1);
    }
);
