//! Education end to end, on SQLite and PostgreSQL: educators write courses (drafts stay theirs),
//! learners enrol, complete modules and submit assessments; a pass mints the AZR reward exactly
//! once, a fail mints nothing; an educator grades only their own courses' learners.

use colloquy_tests::{TestApp, TestUser, e2e};
use core_domain::Role;
use serde_json::{Value, json};

const CREATE_COURSE: &str = "mutation($i: CreateCourseInput!) { createCourse(input: $i) { course { id slug status title } } }";
const SET_STATUS: &str = "mutation($i: SetCourseStatusInput!) { setCourseStatus(input: $i) { course { id status publishedAt } } }";
const ADD_MODULE: &str = "mutation($i: AddCourseModuleInput!) { addCourseModule(input: $i) { module { id position required } } }";
const CREATE_ASSESSMENT: &str = "mutation($i: CreateAssessmentInput!) { createAssessment(input: $i) { assessment { id type maxScore passMark questions } } }";
const ENROLL: &str =
    "mutation($i: EnrollInput!) { enroll(input: $i) { enrollment { id status progress } } }";
const COMPLETE: &str = "mutation($i: CompleteModuleInput!) { completeModule(input: $i) { enrollment { id status progress completedModuleIds completedAt } } }";
const SUBMIT: &str = "mutation($i: SubmitAssessmentInput!) { submitAssessment(input: $i) { submission { id status score maxScore passed } reward { id rewardAmount currency status transactionId assessmentId } } }";
const GRADE: &str = "mutation($i: GradeSubmissionInput!) { gradeSubmission(input: $i) { submission { id status score passed feedback } reward { id rewardAmount } } }";
const AZR: &str = "{ myWallets { currency balance transactions(first: 50) { totalCount nodes { type amount } } } myMiningActivities(first: 10) { totalCount nodes { id rewardAmount status transactionId } } }";

async fn educator(app: &TestApp, email: &str) -> TestUser {
    let user = app.register(email).await;
    app.promote(&user, Role::Educator).await;
    user
}

/// A published course by `teacher` with two required modules and a quiz of two questions
/// (3 points, pass mark 60%). Returns (course, [modules], quiz).
async fn course_with_quiz(
    app: &TestApp,
    teacher: &TestUser,
    title: &str,
) -> (String, Vec<String>, String) {
    let course = app
        .query(
            Some(&teacher.token),
            CREATE_COURSE,
            json!({ "i": { "title": title, "description": "Learn it.", "level": "INTERMEDIATE", "tags": ["azora"] } }),
        )
        .await["createCourse"]["course"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut modules = Vec::new();
    for t in ["Basics", "Practice"] {
        let m = app
            .query(
                Some(&teacher.token),
                ADD_MODULE,
                json!({ "i": { "courseId": course, "title": t, "content": "# Read me" } }),
            )
            .await;
        modules.push(
            m["addCourseModule"]["module"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let quiz = app
        .query(
            Some(&teacher.token),
            CREATE_ASSESSMENT,
            json!({ "i": {
                "courseId": course,
                "type": "QUIZ",
                "title": "Check",
                "difficulty": "INTERMEDIATE",
                "questions": [
                    { "prompt": "2+2?", "options": ["3", "4"], "answer": 1 },
                    { "prompt": "Capital of South Africa (executive)?", "options": ["Pretoria", "Durban"], "answer": 0, "points": 2 },
                ],
            } }),
        )
        .await;
    assert_eq!(quiz["createAssessment"]["assessment"]["maxScore"], 3);
    let quiz = quiz["createAssessment"]["assessment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (course, modules, quiz)
}

async fn publish(app: &TestApp, teacher: &TestUser, course: &str) {
    let data = app
        .query(
            Some(&teacher.token),
            SET_STATUS,
            json!({ "i": { "courseId": course, "status": "PUBLISHED" } }),
        )
        .await;
    assert_eq!(data["setCourseStatus"]["course"]["status"], "PUBLISHED");
}

fn code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

e2e!(
    learners_see_published_courses_only_and_complete_them,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let learner = app.register("learner@example.com").await;
        // Only educators write courses.
        let body = app
            .post(
                Some(&learner.token),
                CREATE_COURSE,
                json!({ "i": { "title": "Mine" } }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body:#}");

        let (course, modules, quiz) = course_with_quiz(&app, &teacher, "Draft course").await;
        // A draft is invisible to a learner: not listed, null by id, NOT_FOUND to enrol.
        let list = "{ courses(first: 10) { totalCount nodes { id status } } }";
        let seen = app.query(Some(&learner.token), list, json!({})).await;
        assert_eq!(seen["courses"]["totalCount"], 0, "{seen}");
        let one = "query($id: ID!) { course(id: $id) { id title } }";
        let seen = app
            .query(Some(&learner.token), one, json!({ "id": course }))
            .await;
        assert!(seen["course"].is_null());
        let node = app
            .query(
                Some(&learner.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": quiz }),
            )
            .await;
        assert!(node["node"].is_null(), "a draft's assessment is hidden too");
        let body = app
            .post(
                Some(&learner.token),
                ENROLL,
                json!({ "i": { "courseId": course } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
        // Its educator sees it.
        let mine = app.query(Some(&teacher.token), list, json!({})).await;
        assert_eq!(mine["courses"]["totalCount"], 1);
        // Archiving a draft is allowed, going back to DRAFT is not.
        publish(&app, &teacher, &course).await;
        let body = app
            .post(
                Some(&teacher.token),
                SET_STATUS,
                json!({ "i": { "courseId": course, "status": "DRAFT" } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");

        // Published: listed, with modules in order and questions without their answers.
        let full = "query($id: ID!) { course(id: $id) { id status modules { id title position } assessments { id questions } myEnrollment { id } } }";
        let seen = app
            .query(Some(&learner.token), full, json!({ "id": course }))
            .await;
        assert_eq!(seen["course"]["status"], "PUBLISHED");
        assert_eq!(seen["course"]["modules"][0]["title"], "Basics");
        assert_eq!(seen["course"]["modules"][1]["title"], "Practice");
        assert!(
            seen["course"]["assessments"][0]["questions"][0]
                .get("answer")
                .is_none()
        );
        assert!(seen["course"]["myEnrollment"].is_null());
        let taught = app
            .query(Some(&teacher.token), full, json!({ "id": course }))
            .await;
        assert_eq!(
            taught["course"]["assessments"][0]["questions"][0]["answer"],
            1
        );

        // Enrol (twice is the same enrolment), complete both modules: COMPLETED.
        let e1 = app
            .query(
                Some(&learner.token),
                ENROLL,
                json!({ "i": { "courseId": course } }),
            )
            .await;
        let e2 = app
            .query(
                Some(&learner.token),
                ENROLL,
                json!({ "i": { "courseId": course } }),
            )
            .await;
        assert_eq!(
            e1["enroll"]["enrollment"]["id"],
            e2["enroll"]["enrollment"]["id"]
        );
        let half = app
            .query(
                Some(&learner.token),
                COMPLETE,
                json!({ "i": { "moduleId": modules[0] } }),
            )
            .await;
        assert_eq!(half["completeModule"]["enrollment"]["progress"], 50);
        assert_eq!(half["completeModule"]["enrollment"]["status"], "ACTIVE");
        let done = app
            .query(
                Some(&learner.token),
                COMPLETE,
                json!({ "i": { "moduleId": modules[1] } }),
            )
            .await;
        let e = &done["completeModule"]["enrollment"];
        assert_eq!(e["progress"], 100);
        assert_eq!(e["status"], "COMPLETED");
        assert!(e["completedAt"].is_string());
        assert_eq!(e["completedModuleIds"].as_array().unwrap().len(), 2);
        let seen = app
            .query(Some(&learner.token), full, json!({ "id": course }))
            .await;
        assert_eq!(
            seen["course"]["myEnrollment"]["id"],
            e1["enroll"]["enrollment"]["id"]
        );
    }
);

e2e!(
    passing_twice_mints_once_and_failing_mints_nothing,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let learner = app.register("learner@example.com").await;
        let (course, _, quiz) = course_with_quiz(&app, &teacher, "Rewards").await;
        publish(&app, &teacher, &course).await;
        // Not enrolled: refused.
        let body = app
            .post(
                Some(&learner.token),
                SUBMIT,
                json!({ "i": { "assessmentId": quiz, "answers": [1, 0] } }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": course } }),
        )
        .await;

        // A fail (1 of 3): graded, no reward, no wallet.
        let failed = app
            .query(
                Some(&learner.token),
                SUBMIT,
                json!({ "i": { "assessmentId": quiz, "answers": [1, 1] } }),
            )
            .await;
        let s = &failed["submitAssessment"];
        assert_eq!(s["submission"]["status"], "GRADED");
        assert_eq!(s["submission"]["score"], 1);
        assert_eq!(s["submission"]["passed"], false);
        assert!(s["reward"].is_null());
        let w = app.query(Some(&learner.token), AZR, json!({})).await;
        assert_eq!(w["myWallets"], json!([]), "failing mints nothing");
        assert_eq!(w["myMiningActivities"]["totalCount"], 0);

        // A pass (3 of 3, INTERMEDIATE, 100%): 30.00 AZR.
        let passed = app
            .query(
                Some(&learner.token),
                SUBMIT,
                json!({ "i": { "assessmentId": quiz, "answers": [1, 0] } }),
            )
            .await;
        let s = &passed["submitAssessment"];
        assert_eq!(s["submission"]["passed"], true);
        assert_eq!(s["reward"]["rewardAmount"], "30.00");
        assert_eq!(s["reward"]["currency"], "AZR");
        assert_eq!(s["reward"]["status"], "REWARDED");
        assert_eq!(s["reward"]["assessmentId"], quiz.as_str());
        // Passing again, also twice at once: no second reward.
        let again = |_: usize| {
            let app = &app;
            let learner = &learner;
            let quiz = quiz.clone();
            async move {
                app.query(
                    Some(&learner.token),
                    SUBMIT,
                    json!({ "i": { "assessmentId": quiz, "answers": [1, 0] } }),
                )
                .await
            }
        };
        let answers = futures::future::join_all((0..3).map(again)).await;
        for a in &answers {
            assert_eq!(a["submitAssessment"]["submission"]["passed"], true);
            assert!(a["submitAssessment"]["reward"].is_null(), "{a}");
        }
        let w = app.query(Some(&learner.token), AZR, json!({})).await;
        assert_eq!(w["myWallets"][0]["currency"], "AZR");
        assert_eq!(w["myWallets"][0]["balance"], "30.00");
        assert_eq!(w["myWallets"][0]["transactions"]["totalCount"], 1);
        assert_eq!(
            w["myWallets"][0]["transactions"]["nodes"][0]["type"],
            "MINING_REWARD"
        );
        assert_eq!(w["myMiningActivities"]["totalCount"], 1);
        assert_eq!(
            w["myMiningActivities"]["nodes"][0]["transactionId"],
            s["reward"]["transactionId"]
        );
        let minted = persistence::payments::mining_for(
            app.db().conn(),
            &learner.db_id,
            &colloquy_tests::raw_id(&quiz),
        )
        .await
        .unwrap();
        assert_eq!(minted.len(), 1);
    }
);

e2e!(
    an_educator_grades_only_their_own_learners,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let other = educator(&app, "other@example.com").await;
        let learner = app.register("learner@example.com").await;
        let (course, _, _) = course_with_quiz(&app, &teacher, "Essays").await;
        let essay = app
            .query(
                Some(&teacher.token),
                CREATE_ASSESSMENT,
                json!({ "i": { "courseId": course, "type": "ASSIGNMENT", "title": "Essay", "questions": [{ "prompt": "Write about Ubuntu." }], "maxScore": 10, "passMark": 50 } }),
            )
            .await["createAssessment"]["assessment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        publish(&app, &teacher, &course).await;
        // Another educator cannot change the course.
        let body = app
            .post(
                Some(&other.token),
                ADD_MODULE,
                json!({ "i": { "courseId": course, "title": "Mine now" } }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": course } }),
        )
        .await;
        let submitted = app
            .query(Some(&learner.token), SUBMIT, json!({ "i": { "assessmentId": essay, "answers": { "text": "Ubuntu: I am because we are." } } }))
            .await;
        let sub = &submitted["submitAssessment"]["submission"];
        assert_eq!(sub["status"], "SUBMITTED");
        assert!(sub["passed"].is_null());
        let sub_id = sub["id"].as_str().unwrap().to_owned();

        // The other educator can neither grade it nor see it.
        let body = app
            .post(
                Some(&other.token),
                GRADE,
                json!({ "i": { "submissionId": sub_id, "score": 10 } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
        let seen = app
            .query(
                Some(&other.token),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": sub_id }),
            )
            .await;
        assert!(seen["node"].is_null());
        let list = "query($id: ID!) { node(id: $id) { ... on Assessment { submissions { totalCount nodes { id score } } } } }";
        let theirs = app
            .query(Some(&other.token), list, json!({ "id": essay }))
            .await;
        assert_eq!(theirs["node"]["submissions"]["totalCount"], 0);
        // Its own educator sees and grades it; the pass mints the reward.
        let mine = app
            .query(Some(&teacher.token), list, json!({ "id": essay }))
            .await;
        assert_eq!(mine["node"]["submissions"]["totalCount"], 1);
        let body = app
            .post(
                Some(&teacher.token),
                GRADE,
                json!({ "i": { "submissionId": sub_id, "score": 11 } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        let graded = app
            .query(
                Some(&teacher.token),
                GRADE,
                json!({ "i": { "submissionId": sub_id, "score": 8, "feedback": "Well argued." } }),
            )
            .await;
        let g = &graded["gradeSubmission"];
        assert_eq!(g["submission"]["status"], "GRADED");
        assert_eq!(g["submission"]["passed"], true);
        assert_eq!(g["reward"]["rewardAmount"], "10.00");
        let body = app
            .post(
                Some(&teacher.token),
                GRADE,
                json!({ "i": { "submissionId": sub_id, "score": 9 } }),
            )
            .await;
        assert_eq!(code(&body), "CONFLICT", "graded once: {body:#}");
        let own = app
            .query(Some(&learner.token), list, json!({ "id": essay }))
            .await;
        assert_eq!(own["node"]["submissions"]["nodes"][0]["score"], 8);
    }
);

e2e!(
    users_change_their_own_profile_name_and_avatar,
    |app: TestApp| async move {
        let ada = app.register("ada@example.com").await;
        let me = "{ me { name avatarUrl profile { bio headline location timezone locale preferences } } }";
        let before = app.query(Some(&ada.token), me, json!({})).await;
        assert!(
            before["me"]["profile"].is_null(),
            "no profile until written"
        );
        let update = "mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { user { id name avatarUrl } profile { bio headline timezone locale preferences } } }";
        let data = app
            .query(
                Some(&ada.token),
                update,
                json!({ "i": {
                "name": "Ada L.",
                "avatarUrl": "https://example.com/ada.png",
                "bio": "Learner.",
                "headline": "Student at Azora",
                "timezone": "Africa/Johannesburg",
                "locale": "en-ZA",
                "preferences": { "theme": "dark" },
            } }),
            )
            .await;
        let p = &data["updateMyProfile"];
        assert_eq!(p["user"]["id"], ada.global_id.as_str());
        assert_eq!(p["user"]["name"], "Ada L.");
        assert_eq!(p["user"]["avatarUrl"], "https://example.com/ada.png");
        assert_eq!(p["profile"]["preferences"]["theme"], "dark");
        // Fields left out stay; an empty one clears.
        app.query(Some(&ada.token), update, json!({ "i": { "bio": "" } }))
            .await;
        let after = app.query(Some(&ada.token), me, json!({})).await;
        assert!(after["me"]["profile"]["bio"].is_null());
        assert_eq!(after["me"]["profile"]["headline"], "Student at Azora");
        assert_eq!(after["me"]["name"], "Ada L.");
        for (field, value) in [
            ("avatarUrl", json!("javascript:alert(1)")),
            ("timezone", json!("Mars Standard; DROP")),
            ("preferences", json!([1, 2])),
        ] {
            let body = app
                .post(Some(&ada.token), update, json!({ "i": { field: value } }))
                .await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body:#}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body:#}");
        }
    }
);

e2e!(
    a_mining_reward_is_heard_on_wallet_updated,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let learner = app.register("learner@example.com").await;
        let (course, _, quiz) = course_with_quiz(&app, &teacher, "Live reward").await;
        publish(&app, &teacher, &course).await;
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": course } }),
        )
        .await;
        let mut ws = app.ws(Some(&learner.token)).await;
        let sub = ws
            .subscribe(
                "subscription { walletUpdated { currency balance } }",
                json!({}),
            )
            .await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while app.state.services.finance.subscribers() < 1 {
            assert!(tokio::time::Instant::now() < deadline, "no subscription");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let passed = app
            .query(
                Some(&learner.token),
                SUBMIT,
                json!({ "i": { "assessmentId": quiz, "answers": [1, 0] } }),
            )
            .await;
        assert_eq!(
            passed["submitAssessment"]["reward"]["rewardAmount"],
            "30.00"
        );
        let got = ws
            .next_for(&sub, std::time::Duration::from_secs(20))
            .await
            .expect("the reward is heard");
        assert_eq!(got["data"]["walletUpdated"]["currency"], "AZR", "{got}");
        assert_eq!(got["data"]["walletUpdated"]["balance"], "30.00", "{got}");
    }
);

const UPDATE_COURSE: &str = "mutation($i: UpdateCourseInput!) { updateCourse(input: $i) { course { id title description level category tags } } }";
const DELETE_COURSE: &str = "mutation($i: DeleteCourseInput!) { deleteCourse(input: $i) { deletedCourseId outcome course { id status } } }";
const UPDATE_MODULE: &str = "mutation($i: UpdateCourseModuleInput!) { updateCourseModule(input: $i) { module { id title content required position } } }";
const DELETE_MODULE: &str = "mutation($i: DeleteCourseModuleInput!) { deleteCourseModule(input: $i) { deletedModuleId course { id modules { id position } } } }";
const REORDER: &str = "mutation($i: ReorderCourseModulesInput!) { reorderCourseModules(input: $i) { modules { id title position } } }";
const MY_ENROLLMENTS: &str = "query($f: EnrollmentFilter, $first: Int, $after: String) { myEnrollments(first: $first, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor } nodes { id status progress course { id title status } } } }";

/// The titles of a course's modules in order, as its educator reads them.
async fn module_titles(app: &TestApp, teacher: &TestUser, course: &str) -> Vec<(String, i64)> {
    let data = app
        .query(
            Some(&teacher.token),
            "query($id: ID!) { course(id: $id) { modules { title position } } }",
            json!({ "id": course }),
        )
        .await;
    data["course"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["title"].as_str().unwrap().to_owned(),
                m["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

e2e!(
    authors_update_reorder_and_delete_courses_and_modules,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let other = educator(&app, "other@example.com").await;
        let learner = app.register("learner@example.com").await;
        let (course, modules, _) = course_with_quiz(&app, &teacher, "Managed").await;
        let (foreign, foreign_modules, _) = course_with_quiz(&app, &other, "Foreign").await;
        publish(&app, &teacher, &course).await;

        // Another educator and a learner: NOT_FOUND for every change, and nothing changes.
        for who in [&other, &learner] {
            let attempts = [
                (
                    UPDATE_COURSE,
                    json!({ "i": { "courseId": course, "title": "Hijacked" } }),
                ),
                (
                    UPDATE_MODULE,
                    json!({ "i": { "moduleId": modules[0], "title": "Hijacked" } }),
                ),
                (
                    REORDER,
                    json!({ "i": { "courseId": course, "moduleIds": [modules[1], modules[0]] } }),
                ),
                (DELETE_MODULE, json!({ "i": { "moduleId": modules[0] } })),
                (DELETE_COURSE, json!({ "i": { "courseId": course } })),
            ];
            for (query, vars) in attempts {
                let body = app.post(Some(&who.token), query, vars).await;
                assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
            }
        }
        assert_eq!(
            module_titles(&app, &teacher, &course).await,
            vec![("Basics".to_owned(), 0), ("Practice".to_owned(), 1)]
        );

        // The author updates the course and a module.
        let updated = app
            .query(
                Some(&teacher.token),
                UPDATE_COURSE,
                json!({ "i": { "courseId": course, "title": "Managed well", "level": "ADVANCED", "tags": ["rust"], "category": "Tech" } }),
            )
            .await;
        let c = &updated["updateCourse"]["course"];
        assert_eq!(c["title"], "Managed well");
        assert_eq!(c["description"], "Learn it.", "untouched fields stay");
        assert_eq!(c["level"], "ADVANCED");
        assert_eq!(c["tags"], json!(["rust"]));
        assert_eq!(c["category"], "Tech");
        let body = app
            .post(
                Some(&teacher.token),
                UPDATE_COURSE,
                json!({ "i": { "courseId": course, "title": "  " } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        let m = app
            .query(
                Some(&teacher.token),
                UPDATE_MODULE,
                json!({ "i": { "moduleId": modules[0], "title": "Intro", "content": "New text" } }),
            )
            .await;
        assert_eq!(m["updateCourseModule"]["module"]["title"], "Intro");
        assert_eq!(m["updateCourseModule"]["module"]["content"], "New text");
        assert_eq!(m["updateCourseModule"]["module"]["required"], true);

        // Reordering needs every module of the course exactly once.
        for bad in [
            json!([modules[0]]),
            json!([modules[0], modules[0]]),
            json!([modules[0], modules[1], foreign_modules[0]]),
            json!([modules[0], foreign_modules[0]]),
        ] {
            let body = app
                .post(
                    Some(&teacher.token),
                    REORDER,
                    json!({ "i": { "courseId": course, "moduleIds": bad } }),
                )
                .await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
            assert_eq!(body["errors"][0]["extensions"]["field"], "moduleIds");
        }
        assert_eq!(
            module_titles(&app, &teacher, &course).await,
            vec![("Intro".to_owned(), 0), ("Practice".to_owned(), 1)],
            "a refused reorder changes nothing"
        );
        let reordered = app
            .query(
                Some(&teacher.token),
                REORDER,
                json!({ "i": { "courseId": course, "moduleIds": [modules[1], modules[0]] } }),
            )
            .await;
        assert_eq!(
            reordered["reorderCourseModules"]["modules"][0]["title"],
            "Practice"
        );
        assert_eq!(
            module_titles(&app, &teacher, &course).await,
            vec![("Practice".to_owned(), 0), ("Intro".to_owned(), 1)]
        );

        // A learner completes one of two required modules (50%); deleting the other one leaves
        // them with every required module done.
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": course } }),
        )
        .await;
        let half = app
            .query(
                Some(&learner.token),
                COMPLETE,
                json!({ "i": { "moduleId": modules[1] } }),
            )
            .await;
        assert_eq!(half["completeModule"]["enrollment"]["progress"], 50);
        let deleted = app
            .query(
                Some(&teacher.token),
                DELETE_MODULE,
                json!({ "i": { "moduleId": modules[0] } }),
            )
            .await;
        let left = &deleted["deleteCourseModule"]["course"]["modules"];
        assert_eq!(left.as_array().unwrap().len(), 1);
        assert_eq!(left[0]["id"], modules[1].as_str());
        let mine = app
            .query(Some(&learner.token), MY_ENROLLMENTS, json!({}))
            .await;
        assert_eq!(mine["myEnrollments"]["nodes"][0]["progress"], 100);
        assert_eq!(mine["myEnrollments"]["nodes"][0]["status"], "COMPLETED");

        // Deleting a course with a learner archives it: the learner keeps their enrolment.
        let removed = app
            .query(
                Some(&teacher.token),
                DELETE_COURSE,
                json!({ "i": { "courseId": course } }),
            )
            .await;
        assert_eq!(removed["deleteCourse"]["outcome"], "ARCHIVED");
        assert_eq!(removed["deleteCourse"]["course"]["status"], "ARCHIVED");
        let mine = app
            .query(Some(&learner.token), MY_ENROLLMENTS, json!({}))
            .await;
        assert_eq!(mine["myEnrollments"]["totalCount"], 1);
        let e = &mine["myEnrollments"]["nodes"][0];
        assert_eq!(e["course"]["title"], "Managed well");
        assert_eq!(e["course"]["status"], "ARCHIVED");
        // Closed to newcomers.
        let late = app.register("late@example.com").await;
        let body = app
            .post(
                Some(&late.token),
                ENROLL,
                json!({ "i": { "courseId": course } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");

        // A course nobody enrolled in is deleted outright.
        let gone = app
            .query(
                Some(&other.token),
                DELETE_COURSE,
                json!({ "i": { "courseId": foreign } }),
            )
            .await;
        assert_eq!(gone["deleteCourse"]["outcome"], "DELETED");
        assert!(gone["deleteCourse"]["course"].is_null());
        let seen = app
            .query(
                Some(&other.token),
                "query($id: ID!) { course(id: $id) { id } }",
                json!({ "id": foreign }),
            )
            .await;
        assert!(seen["course"].is_null());
    }
);

e2e!(
    my_enrollments_pages_and_filters_by_status,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let learner = app.register("learner@example.com").await;
        let other = app.register("other@example.com").await;
        let mut courses = Vec::new();
        for title in ["One", "Two", "Three"] {
            let (course, modules, _) = course_with_quiz(&app, &teacher, title).await;
            publish(&app, &teacher, &course).await;
            app.query(
                Some(&learner.token),
                ENROLL,
                json!({ "i": { "courseId": course } }),
            )
            .await;
            courses.push((course, modules));
        }
        // Someone else's enrolment never shows in the learner's list.
        app.query(
            Some(&other.token),
            ENROLL,
            json!({ "i": { "courseId": courses[0].0 } }),
        )
        .await;
        // Complete course "One".
        for m in &courses[0].1 {
            app.query(
                Some(&learner.token),
                COMPLETE,
                json!({ "i": { "moduleId": m } }),
            )
            .await;
        }
        let first = app
            .query(Some(&learner.token), MY_ENROLLMENTS, json!({ "first": 2 }))
            .await;
        let page = &first["myEnrollments"];
        assert_eq!(page["totalCount"], 3);
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        assert_eq!(page["nodes"][0]["course"]["title"], "Three", "newest first");
        let rest = app
            .query(
                Some(&learner.token),
                MY_ENROLLMENTS,
                json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }),
            )
            .await;
        assert_eq!(rest["myEnrollments"]["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(rest["myEnrollments"]["nodes"][0]["course"]["title"], "One");
        assert_eq!(rest["myEnrollments"]["pageInfo"]["hasNextPage"], false);

        let done = app
            .query(
                Some(&learner.token),
                MY_ENROLLMENTS,
                json!({ "f": { "status": "COMPLETED" } }),
            )
            .await;
        assert_eq!(done["myEnrollments"]["totalCount"], 1);
        assert_eq!(done["myEnrollments"]["nodes"][0]["course"]["title"], "One");
        assert_eq!(done["myEnrollments"]["nodes"][0]["progress"], 100);
        let active = app
            .query(
                Some(&learner.token),
                MY_ENROLLMENTS,
                json!({ "f": { "status": "ACTIVE" } }),
            )
            .await;
        assert_eq!(active["myEnrollments"]["totalCount"], 2);
        assert_eq!(active["myEnrollments"]["nodes"][0]["progress"], 0);

        // Signed out: UNAUTHENTICATED.
        let body = app.post(None, MY_ENROLLMENTS, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body:#}");
    }
);

const CREATE_PATH: &str = "mutation($i: CreateLearningPathInput!) { createLearningPath(input: $i) { learningPath { id title published courses { id } } } }";
const UPDATE_PATH: &str = "mutation($i: UpdateLearningPathInput!) { updateLearningPath(input: $i) { learningPath { id published courses { id } } } }";
const PATH: &str = "query($id: ID!) { learningPath(id: $id) { id title authorId courses { id title } myProgress { completedCourses totalCourses percent } } }";
const PATHS: &str = "{ learningPaths(first: 10) { totalCount nodes { id title published } } }";

e2e!(
    curated_learning_paths_order_courses_and_track_progress,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let other = educator(&app, "other@example.com").await;
        let learner = app.register("learner@example.com").await;
        let (c1, c1_modules, _) = course_with_quiz(&app, &teacher, "Foundations").await;
        let (c2, _, _) = course_with_quiz(&app, &teacher, "Deeper").await;
        let (draft, _, _) = course_with_quiz(&app, &teacher, "Unfinished").await;
        publish(&app, &teacher, &c1).await;
        publish(&app, &teacher, &c2).await;

        // Only educators curate; only courses they can see, each once.
        let body = app
            .post(
                Some(&learner.token),
                CREATE_PATH,
                json!({ "i": { "title": "Mine", "courseIds": [c1] } }),
            )
            .await;
        assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
        let body = app
            .post(
                Some(&other.token),
                CREATE_PATH,
                json!({ "i": { "title": "Borrowed", "courseIds": [c1, draft] } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "another's draft: {body:#}");
        let body = app
            .post(
                Some(&teacher.token),
                CREATE_PATH,
                json!({ "i": { "title": "Twice", "courseIds": [c1, c1] } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");

        let created = app
            .query(
                Some(&teacher.token),
                CREATE_PATH,
                json!({ "i": { "title": "Become a developer", "description": "Start here.", "courseIds": [c2, c1] } }),
            )
            .await;
        let path = created["createLearningPath"]["learningPath"].clone();
        assert_eq!(path["published"], false);
        assert_eq!(path["courses"], json!([{ "id": c2 }, { "id": c1 }]));
        let path_id = path["id"].as_str().unwrap().to_owned();

        // A draft: the learner sees nothing of it, its author does.
        let seen = app.query(Some(&learner.token), PATHS, json!({})).await;
        assert_eq!(seen["learningPaths"]["totalCount"], 0, "{seen}");
        let one = app
            .query(Some(&learner.token), PATH, json!({ "id": path_id }))
            .await;
        assert!(one["learningPath"].is_null(), "{one}");
        let mine = app.query(Some(&teacher.token), PATHS, json!({})).await;
        assert_eq!(mine["learningPaths"]["totalCount"], 1);

        // Someone else cannot change it.
        let body = app
            .post(
                Some(&other.token),
                UPDATE_PATH,
                json!({ "i": { "learningPathId": path_id, "published": true } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body:#}");

        // Published: listed, courses in order, progress from the learner's enrolments.
        let published = app
            .query(
                Some(&teacher.token),
                UPDATE_PATH,
                json!({ "i": { "learningPathId": path_id, "published": true } }),
            )
            .await;
        assert_eq!(
            published["updateLearningPath"]["learningPath"]["published"],
            true
        );
        let seen = app.query(Some(&learner.token), PATHS, json!({})).await;
        assert_eq!(seen["learningPaths"]["totalCount"], 1);
        let one = app
            .query(Some(&learner.token), PATH, json!({ "id": path_id }))
            .await;
        let p = &one["learningPath"];
        assert_eq!(p["title"], "Become a developer");
        assert_eq!(p["authorId"], teacher.global_id.as_str());
        assert_eq!(p["courses"][0]["title"], "Deeper");
        assert_eq!(p["courses"][1]["title"], "Foundations");
        assert_eq!(
            p["myProgress"],
            json!({ "completedCourses": 0, "totalCourses": 2, "percent": 0 })
        );
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": c1 } }),
        )
        .await;
        app.query(
            Some(&learner.token),
            ENROLL,
            json!({ "i": { "courseId": c2 } }),
        )
        .await;
        for m in &c1_modules {
            app.query(
                Some(&learner.token),
                COMPLETE,
                json!({ "i": { "moduleId": m } }),
            )
            .await;
        }
        let one = app
            .query(Some(&learner.token), PATH, json!({ "id": path_id }))
            .await;
        assert_eq!(
            one["learningPath"]["myProgress"],
            json!({ "completedCourses": 1, "totalCourses": 2, "percent": 50 })
        );

        // Reordered by its author; node(id) finds it.
        let reordered = app
            .query(
                Some(&teacher.token),
                UPDATE_PATH,
                json!({ "i": { "learningPathId": path_id, "courseIds": [c1, c2] } }),
            )
            .await;
        assert_eq!(
            reordered["updateLearningPath"]["learningPath"]["courses"],
            json!([{ "id": c1 }, { "id": c2 }])
        );
        let node = app
            .query(
                Some(&learner.token),
                "query($id: ID!) { node(id: $id) { ... on LearningPath { courses { title } } } }",
                json!({ "id": path_id }),
            )
            .await;
        assert_eq!(node["node"]["courses"][0]["title"], "Foundations");

        // Taken back to a draft: gone for the learner again.
        app.query(
            Some(&teacher.token),
            UPDATE_PATH,
            json!({ "i": { "learningPathId": path_id, "published": false } }),
        )
        .await;
        let one = app
            .query(Some(&learner.token), PATH, json!({ "id": path_id }))
            .await;
        assert!(one["learningPath"].is_null(), "{one}");
    }
);

e2e!(
    a_course_deleted_while_learners_enrol_keeps_every_enrolment_it_confirmed,
    |app: TestApp| async move {
        let teacher = educator(&app, "teacher@example.com").await;
        let mut learners = Vec::new();
        for i in 0..8 {
            learners.push(app.register(&format!("learner{i}@example.com")).await);
        }
        // Several rounds: each deletes a course while every learner enrols in it at once.
        for round in 0..4 {
            let (course, _, _) = course_with_quiz(&app, &teacher, &format!("Race {round}")).await;
            publish(&app, &teacher, &course).await;
            let enrolments = learners.iter().map(|l| {
                app.post(
                    Some(&l.token),
                    ENROLL,
                    json!({ "i": { "courseId": course } }),
                )
            });
            let deletion = app.post(
                Some(&teacher.token),
                DELETE_COURSE,
                json!({ "i": { "courseId": course } }),
            );
            let (answers, deleted) =
                futures::join!(futures::future::join_all(enrolments), deletion);
            assert!(deleted.get("errors").is_none(), "{deleted:#}");
            let mut confirmed = Vec::new();
            for body in &answers {
                match body["data"]["enroll"]["enrollment"]["id"].as_str() {
                    Some(id) => confirmed.push(id.to_owned()),
                    // Too late: the course was closed or gone. Never anything else.
                    None => assert!(
                        matches!(code(body).as_str(), "BAD_USER_INPUT" | "NOT_FOUND"),
                        "{body:#}"
                    ),
                }
            }
            let outcome = deleted["data"]["deleteCourse"]["outcome"].as_str().unwrap();
            if outcome == "DELETED" {
                assert!(confirmed.is_empty(), "deleted with learners: {answers:#?}");
            }
            // Every confirmed enrolment exists, in the (archived) course.
            use persistence::entity::enrollments;
            use sea_orm::EntityTrait as _;
            for id in &confirmed {
                let row = enrollments::Entity::find_by_id(colloquy_tests::raw_id(id))
                    .one(app.db().conn())
                    .await
                    .unwrap();
                assert!(
                    row.is_some(),
                    "round {round}: enrolment {id} was confirmed and lost ({outcome})"
                );
            }
        }
    }
);
