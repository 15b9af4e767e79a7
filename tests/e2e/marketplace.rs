//! The job marketplace end to end: skills, jobs and their match, an application moving through
//! its statuses with each move reaching the applicant live over `notificationAdded`, and an
//! employer who cannot see another employer's applicants. SQLite and PostgreSQL.

use std::time::Duration;

use colloquy_tests::{Kind, TestApp, TestUser, gid};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

const CREATE_JOB: &str = "mutation($i: CreateJobInput!) { createJob(input: $i) { job { id status title skills { skill { name } minLevel required } } } }";
const SET_SKILL: &str = "mutation($i: SetMySkillInput!) { setMySkill(input: $i) { userSkill { level skill { id name } } } }";
const APPLY: &str = "mutation($i: ApplyToJobInput!) { applyToJob(input: $i) { application { id status jobId applicantId } } }";
const MOVE: &str = "mutation($i: MoveApplicationInput!) { moveApplication(input: $i) { application { id status reviewedAt } } }";
const ADDED: &str = "subscription { notificationAdded { id type title read data } }";

/// The catalogue's five skills (as the seed makes them); name → global id.
pub async fn skills(app: &TestApp) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for name in ["JavaScript", "Python", "React", "Node.js", "SQL"] {
        let s = persistence::marketplace::ensure_skill(app.db().conn(), name, Some("tech"), None)
            .await
            .unwrap();
        out.insert(name.to_owned(), gid(Kind::Skill, &s.id));
    }
    out
}

/// An open job posted by `employer` asking for JavaScript (ADVANCED) and SQL; its global id.
pub async fn open_job(app: &TestApp, employer: &TestUser, title: &str) -> String {
    let skills = skills(app).await;
    let data = app
        .query(
            Some(&employer.token),
            CREATE_JOB,
            json!({ "i": {
                "title": title, "description": "Build things", "company": "Acme",
                "salaryMin": "5000000", "salaryMax": "7000000", "salaryCurrency": "ZAR",
                "skills": [
                    { "skillId": skills["JavaScript"], "minLevel": "ADVANCED" },
                    { "skillId": skills["SQL"] },
                ],
                "open": true,
            } }),
        )
        .await;
    assert_eq!(data["createJob"]["job"]["status"], "OPEN");
    data["createJob"]["job"]["id"].as_str().unwrap().to_owned()
}

async fn wait_for_notification_subscribers(app: &TestApp, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.state.services.notifications.subscribers() < n {
        assert!(tokio::time::Instant::now() < deadline, "no subscriber");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

colloquy_tests::e2e!(
    an_application_moves_through_its_statuses_and_each_move_reaches_the_applicant_live,
    |app: TestApp| async move {
        let employer = app.register("employer@example.com").await;
        let applicant = app.register("applicant@example.com").await;
        let job = open_job(&app, &employer, "Full-stack developer").await;
        let skills = skills(&app).await;

        // The applicant's skills: JavaScript below the level asked for, SQL held.
        app.query(
            Some(&applicant.token),
            SET_SKILL,
            json!({ "i": { "skillId": skills["JavaScript"], "level": "INTERMEDIATE" } }),
        )
        .await;
        let set = app
            .query(
                Some(&applicant.token),
                SET_SKILL,
                json!({ "i": { "skillId": skills["SQL"], "level": "EXPERT", "yearsExperience": 3 } }),
            )
            .await;
        assert_eq!(set["setMySkill"]["userSkill"]["level"], "EXPERT");

        // Ranked by match: half of JavaScript, all of SQL.
        let jobs = app
            .query(
                Some(&applicant.token),
                "{ jobs(filter: { matchingMySkills: true }) { totalCount nodes { id match } } }",
                json!({}),
            )
            .await;
        assert_eq!(jobs["jobs"]["totalCount"], 1, "{jobs}");
        assert_eq!(jobs["jobs"]["nodes"][0]["id"], job.as_str());
        assert_eq!(jobs["jobs"]["nodes"][0]["match"], 0.75);

        // The applicant follows their notifications.
        let mut ws = app.ws(Some(&applicant.token)).await;
        let sub = ws.subscribe(ADDED, json!({})).await;
        wait_for_notification_subscribers(&app, 1).await;

        let applied = app
            .query(
                Some(&applicant.token),
                APPLY,
                json!({ "i": { "jobId": job, "coverLetter": "Hire me" } }),
            )
            .await;
        let application = applied["applyToJob"]["application"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(applied["applyToJob"]["application"]["status"], "SUBMITTED");
        // Once per job.
        let again = app
            .post(
                Some(&applicant.token),
                APPLY,
                json!({ "i": { "jobId": job } }),
            )
            .await;
        assert_eq!(code(&again), "CONFLICT", "{again}");
        // The applicant cannot move their own application on.
        let own = app
            .post(
                Some(&applicant.token),
                MOVE,
                json!({ "i": { "id": application, "status": "REVIEWING" } }),
            )
            .await;
        assert_eq!(code(&own), "BAD_USER_INPUT", "{own}");
        // Nor may the employer skip a step.
        let skip = app
            .post(
                Some(&employer.token),
                MOVE,
                json!({ "i": { "id": application, "status": "OFFERED" } }),
            )
            .await;
        assert_eq!(code(&skip), "BAD_USER_INPUT", "{skip}");

        for status in ["REVIEWING", "INTERVIEW", "OFFERED"] {
            let moved = app
                .query(
                    Some(&employer.token),
                    MOVE,
                    json!({ "i": { "id": application, "status": status } }),
                )
                .await;
            assert_eq!(moved["moveApplication"]["application"]["status"], status);
            let heard = ws
                .next_for(&sub, WAIT)
                .await
                .unwrap_or_else(|| panic!("the move to {status} reached the applicant"));
            let n = &heard["data"]["notificationAdded"];
            assert_eq!(n["type"], "JOB", "{heard}");
            assert_eq!(n["data"]["status"], status, "{heard}");
            assert_eq!(n["data"]["applicationId"], gid_raw(&application), "{heard}");
            assert_eq!(n["read"], false);
        }
        // Offered is final: no withdrawing it.
        let withdraw = app
            .post(
                Some(&applicant.token),
                "mutation($i: WithdrawApplicationInput!) { withdrawApplication(input: $i) { application { status } } }",
                json!({ "i": { "id": application } }),
            )
            .await;
        assert_eq!(code(&withdraw), "BAD_USER_INPUT", "{withdraw}");

        let mine = app
            .query(
                Some(&applicant.token),
                "{ myApplications { totalCount nodes { id status job { title } } } unreadNotificationCount }",
                json!({}),
            )
            .await;
        assert_eq!(mine["myApplications"]["totalCount"], 1);
        assert_eq!(mine["myApplications"]["nodes"][0]["status"], "OFFERED");
        assert_eq!(
            mine["myApplications"]["nodes"][0]["job"]["title"],
            "Full-stack developer"
        );
        assert_eq!(mine["unreadNotificationCount"], 3);
        // The employer heard of the application.
        let told = app
            .query(
                Some(&employer.token),
                "{ unreadNotificationCount notifications { nodes { type data } } }",
                json!({}),
            )
            .await;
        assert_eq!(told["unreadNotificationCount"], 1, "{told}");
    }
);

fn gid_raw(global: &str) -> String {
    colloquy_tests::raw_id(global)
}

colloquy_tests::e2e!(
    an_employer_cannot_see_another_employers_applicants,
    |app: TestApp| async move {
        let employer = app.register("employer@example.com").await;
        let rival = app.register("rival@example.com").await;
        let applicant = app.register("applicant@example.com").await;
        let job = open_job(&app, &employer, "Data engineer").await;
        let _rival_job = open_job(&app, &rival, "Other job").await;
        let applied = app
            .query(
                Some(&applicant.token),
                APPLY,
                json!({ "i": { "jobId": job } }),
            )
            .await;
        let application = applied["applyToJob"]["application"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // The employer sees it.
        let list = "query($j: ID!) { jobApplications(jobId: $j) { totalCount nodes { id applicantId coverLetter } } }";
        let seen = app
            .query(Some(&employer.token), list, json!({ "j": job }))
            .await;
        assert_eq!(seen["jobApplications"]["totalCount"], 1);
        assert_eq!(
            seen["jobApplications"]["nodes"][0]["id"],
            application.as_str()
        );

        // The rival does not: the list, the look-up, node and a move all answer as for nothing.
        let body = app
            .post(Some(&rival.token), list, json!({ "j": job }))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        assert!(
            body["data"].is_null() || body["data"]["jobApplications"].is_null(),
            "{body}"
        );
        let look = app
            .query(
                Some(&rival.token),
                "query($id: ID!) { jobApplication(id: $id) { id } node(id: $id) { id } }",
                json!({ "id": application }),
            )
            .await;
        assert!(
            look["jobApplication"].is_null() && look["node"].is_null(),
            "{look}"
        );
        let moved = app
            .post(
                Some(&rival.token),
                MOVE,
                json!({ "i": { "id": application, "status": "REJECTED" } }),
            )
            .await;
        assert_eq!(code(&moved), "NOT_FOUND", "{moved}");
        // And nothing moved.
        let still = app
            .query(
                Some(&applicant.token),
                "query($id: ID!) { jobApplication(id: $id) { status } }",
                json!({ "id": application }),
            )
            .await;
        assert_eq!(still["jobApplication"]["status"], "SUBMITTED");

        // Drafts are their employer's alone.
        let draft = app
            .query(
                Some(&employer.token),
                CREATE_JOB,
                json!({ "i": { "title": "Secret", "description": "d", "company": "Acme" } }),
            )
            .await["createJob"]["job"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let hidden = app
            .query(
                Some(&rival.token),
                "query($id: ID!) { job(id: $id) { id } }",
                json!({ "id": draft }),
            )
            .await;
        assert!(hidden["job"].is_null(), "{hidden}");
        let mine = app
            .query(
                Some(&employer.token),
                "{ jobs(filter: { mine: true }) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(mine["jobs"]["totalCount"], 2);
        let listed = app
            .query(Some(&rival.token), "{ jobs { totalCount } }", json!({}))
            .await;
        assert_eq!(
            listed["jobs"]["totalCount"], 2,
            "two open jobs, no draft: {listed}"
        );
    }
);

colloquy_tests::e2e!(
    the_azora_seed_gives_the_student_skills_jobs_an_application_notifications_and_chats,
    |app: TestApp| async move {
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        // Idempotent: a second run adds nothing.
        gateway::platform::seed::load(app.db(), None).await.unwrap();
        let login = app
            .query(
                None,
                "mutation { login(input: { email: \"student@azora.local\", password: \"password123\" }) { token } }",
                json!({}),
            )
            .await;
        let token = login["login"]["token"].as_str().unwrap().to_owned();
        let data = app
            .query(
                Some(&token),
                "{ skills { totalCount } mySkills { totalCount } jobs { totalCount nodes { title skills { skill { name } } } }
                   myApplications { totalCount nodes { status job { title } } } unreadNotificationCount
                   me { conversations { totalCount nodes { title persona { name } totalMessages } } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["skills"]["totalCount"], 5, "{data}");
        assert_eq!(data["mySkills"]["totalCount"], 2);
        assert_eq!(data["jobs"]["totalCount"], 2);
        assert_eq!(data["myApplications"]["totalCount"], 1);
        assert_eq!(data["myApplications"]["nodes"][0]["status"], "REVIEWING");
        // The marketplace's two notices, and the reward the education seed minted.
        assert_eq!(data["unreadNotificationCount"], 3);
        let chats = &data["me"]["conversations"];
        assert_eq!(chats["totalCount"], 2, "{data}");
        let personas: Vec<&str> = chats["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["persona"]["name"].as_str().unwrap_or(""))
            .collect();
        assert!(
            personas.contains(&"Elara") && personas.contains(&"Themba"),
            "{data}"
        );
        // Elara, Sankofa and Themba are personas of the shared catalogue.
        let catalogue = app
            .query(
                None,
                "{ personas(first: 100) { nodes { id name } } }",
                json!({}),
            )
            .await;
        let names: Vec<&str> = catalogue["personas"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in ["Elara", "Sankofa", "Themba"] {
            assert!(names.contains(&name), "{name} missing: {names:?}");
        }
        for email in ["educator@azora.local", "admin@azora.local"] {
            let body = app
                .post(
                    None,
                    "mutation($e: String!) { login(input: { email: $e, password: \"password123\" }) { user { role } } }",
                    json!({ "e": email }),
                )
                .await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
);
