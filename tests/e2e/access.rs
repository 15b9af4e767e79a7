//! The access suite: nobody sees or changes what is not theirs.
//!
//! Two users and one user of each role create data of every kind that exists; then every field of
//! the schema that takes an id (found by introspection: arguments named `id`, `ids` or ending in
//! `Id`/`Ids`, also inside input objects, on every type) is called by every other non-admin user
//! with the victim's ids, and must answer NOT_FOUND or FORBIDDEN without the victim's data (or,
//! for look-ups of one record, null exactly as for a missing record). Afterwards the victims'
//! data must be intact.
//!
//! A field that takes an id and has no entry in [`PROBES`] fails the suite, so a new field cannot
//! ship without an access check. Adding one is one line: the field's coordinate, a request, and
//! the variables built from the victim's [`Fixture`].

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use colloquy_tests::{Kind, TestApp, TestUser, gid};
use core_domain::Role;
use serde_json::{Value, json};

/// A user's data, for others to try (global ids, as the API takes them).
#[derive(Debug, Clone)]
pub struct Fixture {
    pub user: TestUser,
    pub conversation: String,
    pub message: String,
    pub session: String,
    pub api_token: Option<String>,
    pub contact: String,
    pub identity: String,
    /// None for guests, who may hold no credentials (their `addApiKey` is refused).
    pub api_key: Option<String>,
    pub journal: String,
    /// Finance: a succeeded top-up payment and the wallet it credited.
    pub payment: String,
    pub wallet: String,
    /// Education, for educators: a draft course with a module and a quiz (hidden from
    /// everyone else), and a submission of theirs to another educator-free published course.
    pub education: Option<Education>,
    /// An uploaded file (its text is the secret content).
    pub upload: String,
    /// A draft post; None for guests, who write none.
    pub draft_post: Option<String>,
    /// Moderators may read and change anyone's posts by design: post probes skip them.
    pub moderates: bool,
    /// The workspace: a project, an analysis and a contract review in it.
    pub project: String,
    pub analysis: String,
    pub contract: String,
    /// Research data, for staff only (which staff may read by design, so only the staff
    /// member's is probed, by everyone else).
    pub research: Option<Research>,
}

/// An educator's education data (global ids).
#[derive(Debug, Clone)]
pub struct Education {
    pub course: String,
    /// A draft curated learning path holding the draft course.
    pub path: String,
    pub module: String,
    pub assessment: String,
    pub submission: String,
}

fn education<T>(f: &Fixture, pick: impl Fn(&Education) -> T) -> Option<T> {
    f.education.as_ref().map(pick)
}

/// A staff member's research data (global ids): an invitation, a session under it that nobody
/// owns, a message and a usage record of it, a note on it and a telemetry event.
#[derive(Debug, Clone)]
pub struct Research {
    pub invitation: String,
    pub session: String,
    pub message: String,
    pub usage: String,
    pub note: String,
    pub event: String,
}

fn research<T>(f: &Fixture, pick: impl Fn(&Research) -> T) -> Option<T> {
    f.research.as_ref().map(pick)
}

/// How a probe is made.
pub enum Probe {
    /// A GraphQL request over HTTP; `None` variables skip the victim (it has no such record).
    Http(&'static str, fn(&Fixture) -> Option<Value>),
    /// A look-up that answers null for what the caller may not see, exactly as for a missing
    /// record: no error, every selected root field null (or a list of nulls), no data. Tried
    /// with each set of variables.
    Hidden(&'static str, fn(&Fixture) -> Vec<Value>),
    /// A subscription over WebSocket.
    Ws(&'static str, fn(&Fixture) -> Option<Value>),
    /// Like `Http`, for records moderators may change by design (posts): tried by everyone
    /// but moderators.
    Unmoderated(&'static str, fn(&Fixture) -> Option<Value>),
    /// Must answer exactly what the same request answers for an id that does not exist (the
    /// field reports the id as invalid input), and never the data.
    LikeMissing(&'static str, fn(&Fixture, &str) -> Option<Value>),
    /// The id names a shared catalogue record everyone may read: nothing to probe. Say why.
    Public(&'static str),
}

fn id(v: &str) -> Option<Value> {
    Some(json!({ "id": v }))
}

/// Every id of the victim's, of every type.
fn every_id(f: &Fixture) -> Vec<String> {
    let mut ids = vec![
        f.user.global_id.clone(),
        f.conversation.clone(),
        f.message.clone(),
        f.session.clone(),
        f.contact.clone(),
        f.identity.clone(),
    ];
    ids.extend(f.api_token.clone());
    ids.extend(f.api_key.clone());
    if let Some(r) = &f.research {
        ids.extend([
            r.invitation.clone(),
            r.session.clone(),
            r.message.clone(),
            r.usage.clone(),
            r.note.clone(),
            r.event.clone(),
        ]);
    }
    ids.push(f.journal.clone());
    ids.extend([f.payment.clone(), f.wallet.clone()]);
    if let Some(e) = &f.education {
        ids.extend([
            e.course.clone(),
            e.path.clone(),
            e.module.clone(),
            e.assessment.clone(),
            e.submission.clone(),
        ]);
    }
    ids.push(f.upload.clone());
    ids.extend([f.project.clone(), f.analysis.clone(), f.contract.clone()]);
    ids
}

/// Every field coordinate (`Type.field(arg)` or `Type.field(arg.inputField)`) that takes an id.
/// Why analytics filters need no probe.
const ANALYTICS_FILTER: &str = "analytics aggregate over everyone by design: ADMIN sees all, STAFF \
     research data only, anyone else is FORBIDDEN (analytics.rs)";

pub const PROBES: &[(&str, Probe)] = &[
    (
        "Query.course(id)",
        Probe::Hidden("query($id: ID!) { course(id: $id) { id title } }", |f| {
            education(f, |e| json!({ "id": e.course }))
                .into_iter()
                .collect()
        }),
    ),
    (
        "Mutation.setCourseStatus(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { setCourseStatus(input: { courseId: $id, status: ARCHIVED }) { course { id } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.addCourseModule(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { addCourseModule(input: { courseId: $id, title: \"pwned\" }) { module { id } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.updateCourse(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { updateCourse(input: { courseId: $id, title: \"pwned\" }) { course { id title } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.deleteCourse(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { deleteCourse(input: { courseId: $id }) { outcome } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.updateCourseModule(input.moduleId)",
        Probe::Http(
            "mutation($id: ID!) { updateCourseModule(input: { moduleId: $id, title: \"pwned\" }) { module { id title } } }",
            |f| education(f, |e| json!({ "id": e.module })),
        ),
    ),
    (
        "Mutation.deleteCourseModule(input.moduleId)",
        Probe::Http(
            "mutation($id: ID!) { deleteCourseModule(input: { moduleId: $id }) { deletedModuleId } }",
            |f| education(f, |e| json!({ "id": e.module })),
        ),
    ),
    (
        "Mutation.reorderCourseModules(input.courseId)",
        Probe::Http(
            "mutation($id: ID!, $m: ID!) { reorderCourseModules(input: { courseId: $id, moduleIds: [$m] }) { modules { id } } }",
            |f| education(f, |e| json!({ "id": e.course, "m": e.module })),
        ),
    ),
    (
        "Mutation.reorderCourseModules(input.moduleIds)",
        Probe::Http(
            "mutation($id: ID!, $m: ID!) { reorderCourseModules(input: { courseId: $id, moduleIds: [$m] }) { modules { id } } }",
            |f| education(f, |e| json!({ "id": e.course, "m": e.module })),
        ),
    ),
    (
        "Query.learningPath(id)",
        Probe::Hidden(
            "query($id: ID!) { learningPath(id: $id) { id title } }",
            |f| {
                education(f, |e| json!({ "id": e.path }))
                    .into_iter()
                    .collect()
            },
        ),
    ),
    (
        "Mutation.createLearningPath(input.courseIds)",
        Probe::Http(
            "mutation($id: ID!) { createLearningPath(input: { title: \"pwned\", courseIds: [$id] }) { learningPath { id courses { title } } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.updateLearningPath(input.learningPathId)",
        Probe::Http(
            "mutation($id: ID!) { updateLearningPath(input: { learningPathId: $id, published: true }) { learningPath { id title } } }",
            |f| education(f, |e| json!({ "id": e.path })),
        ),
    ),
    (
        "Mutation.updateLearningPath(input.courseIds)",
        Probe::Http(
            "mutation($id: ID!, $c: ID!) { updateLearningPath(input: { learningPathId: $id, courseIds: [$c] }) { learningPath { id title } } }",
            |f| education(f, |e| json!({ "id": e.path, "c": e.course })),
        ),
    ),
    (
        "Mutation.createAssessment(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { createAssessment(input: { courseId: $id, type: ASSIGNMENT, title: \"pwned\", questions: [] }) { assessment { id } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.createAssessment(input.moduleId)",
        Probe::Http(
            "mutation($c: ID!, $id: ID!) { createAssessment(input: { courseId: $c, moduleId: $id, type: ASSIGNMENT, title: \"pwned\", questions: [] }) { assessment { id } } }",
            |f| education(f, |e| json!({ "c": e.course, "id": e.module })),
        ),
    ),
    (
        "Mutation.enroll(input.courseId)",
        Probe::Http(
            "mutation($id: ID!) { enroll(input: { courseId: $id }) { enrollment { id } } }",
            |f| education(f, |e| json!({ "id": e.course })),
        ),
    ),
    (
        "Mutation.completeModule(input.moduleId)",
        Probe::Http(
            "mutation($id: ID!) { completeModule(input: { moduleId: $id }) { enrollment { id } } }",
            |f| education(f, |e| json!({ "id": e.module })),
        ),
    ),
    (
        "Mutation.submitAssessment(input.assessmentId)",
        Probe::Http(
            "mutation($id: ID!) { submitAssessment(input: { assessmentId: $id, answers: [0] }) { submission { id } } }",
            |f| education(f, |e| json!({ "id": e.assessment })),
        ),
    ),
    (
        "Mutation.gradeSubmission(input.submissionId)",
        Probe::Http(
            "mutation($id: ID!) { gradeSubmission(input: { submissionId: $id, score: 0 }) { submission { id score } } }",
            |f| education(f, |e| json!({ "id": e.submission })),
        ),
    ),
    (
        "Query.payment(id)",
        Probe::Hidden(
            "query($id: ID!) { payment(id: $id) { id amount status } }",
            |f| vec![json!({ "id": f.payment })],
        ),
    ),
    (
        "Mutation.refundPayment(input.paymentId)",
        Probe::Http(
            "mutation($id: ID!) { refundPayment(input: { paymentId: $id, idempotencyKey: \"probe\" }) { payment { id status } } }",
            |f| id(&f.payment),
        ),
    ),
    (
        "Mutation.transfer(input.toUserId)",
        Probe::Public(
            "sending money to any user is what a transfer is for; it shows nothing of theirs",
        ),
    ),
    (
        "Mutation.transfer(input.toWalletId)",
        Probe::Public(
            "paying into any wallet is what a transfer is for; it shows nothing of the wallet",
        ),
    ),
    (
        "Query.project(id)",
        Probe::Hidden("query($id: ID!) { project(id: $id) { id name } }", |f| {
            vec![json!({ "id": f.project })]
        }),
    ),
    (
        "Query.analysis(id)",
        Probe::Hidden("query($id: ID!) { analysis(id: $id) { id input } }", |f| {
            vec![json!({ "id": f.analysis })]
        }),
    ),
    (
        "Query.contractAnalysis(id)",
        Probe::Hidden(
            "query($id: ID!) { contractAnalysis(id: $id) { id extractedText } }",
            |f| vec![json!({ "id": f.contract })],
        ),
    ),
    (
        "Query.localizationAnalysis(id)",
        Probe::Hidden(
            "query($id: ID!) { localizationAnalysis(id: $id) { id } }",
            |f| vec![json!({ "id": f.analysis })],
        ),
    ),
    (
        "Query.customerBehaviorAnalysis(id)",
        Probe::Hidden(
            "query($id: ID!) { customerBehaviorAnalysis(id: $id) { id } }",
            |f| vec![json!({ "id": f.analysis })],
        ),
    ),
    (
        "Query.complianceReview(id)",
        Probe::Hidden(
            "query($id: ID!) { complianceReview(id: $id) { id } }",
            |f| vec![json!({ "id": f.analysis })],
        ),
    ),
    (
        "Query.generatedLearningPath(id)",
        Probe::Hidden(
            "query($id: ID!) { generatedLearningPath(id: $id) { id } }",
            |f| vec![json!({ "id": f.analysis })],
        ),
    ),
    (
        "Query.analyses(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { analyses(filter: { projectId: $id }) { nodes { id input } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Query.contractAnalyses(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { contractAnalyses(filter: { projectId: $id }) { nodes { id extractedText } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Query.localizationAnalyses(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { localizationAnalyses(filter: { projectId: $id }) { nodes { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Query.customerBehaviorAnalyses(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { customerBehaviorAnalyses(filter: { projectId: $id }) { nodes { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Query.complianceReviews(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { complianceReviews(filter: { projectId: $id }) { nodes { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Query.generatedLearningPaths(filter.projectId)",
        Probe::Http(
            "query($id: ID!) { generatedLearningPaths(filter: { projectId: $id }) { nodes { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.updateProject(input.id)",
        Probe::Http(
            "mutation($id: ID!) { updateProject(input: { id: $id, name: \"pwned\" }) { project { id name } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.deleteProject(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteProject(input: { id: $id }) { deletedProjectId } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.createAnalysis(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { createAnalysis(input: { type: TEXT_ANALYSIS, input: \"pwned\", projectId: $id }) { analysis { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.analyzeContract(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { analyzeContract(input: { title: \"x\", contractType: NDA, text: \"pwned\", projectId: $id }) { contractAnalysis { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.analyzeContract(input.uploadId)",
        // No upload in the fixture yet (the uploads area adds them): probe with none.
        Probe::Http(
            "mutation($id: ID!) { analyzeContract(input: { title: \"x\", contractType: NDA, uploadId: $id }) { contractAnalysis { id extractedText } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.analyzeLocalization(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { analyzeLocalization(input: { productName: \"x\", targetMarket: \"y\", projectId: $id }) { localizationAnalysis { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.predictCustomerBehavior(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { predictCustomerBehavior(input: { dataSource: {}, projectId: $id }) { customerBehaviorAnalysis { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.monitorCompliance(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { monitorCompliance(input: { businessType: \"x\", jurisdiction: \"y\", projectId: $id }) { complianceReview { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.generateLearningPath(input.projectId)",
        Probe::Http(
            "mutation($id: ID!) { generateLearningPath(input: { userProfile: {}, projectId: $id }) { learningPath { id } } }",
            |f| id(&f.project),
        ),
    ),
    (
        "Mutation.rerunAiRun(input.id)",
        Probe::Http(
            "mutation($id: ID!) { rerunAiRun(input: { id: $id }) { run { __typename } } }",
            |f| id(&f.analysis),
        ),
    ),
    (
        "Mutation.cancelAiRun(input.id)",
        Probe::Http(
            "mutation($id: ID!) { cancelAiRun(input: { id: $id }) { run { __typename } } }",
            |f| id(&f.contract),
        ),
    ),
    (
        "Subscription.analysisUpdated(id)",
        Probe::Ws(
            "subscription($id: ID!) { analysisUpdated(id: $id) { id input } }",
            |f| id(&f.analysis),
        ),
    ),
    (
        "Subscription.aiRunUpdated(id)",
        Probe::Ws(
            "subscription($id: ID!) { aiRunUpdated(id: $id) { __typename } }",
            |f| id(&f.contract),
        ),
    ),
    (
        "Query.user(id)",
        Probe::Hidden("query($id: ID!) { user(id: $id) { id email } }", |f| {
            vec![json!({ "id": f.user.global_id })]
        }),
    ),
    (
        "Query.conversation(id)",
        Probe::Hidden(
            "query($id: ID!) { conversation(id: $id) { id title } }",
            |f| vec![json!({ "id": f.conversation })],
        ),
    ),
    (
        "Query.node(id)",
        Probe::Hidden(
            "query($id: ID!) { node(id: $id) { __typename id ... on Conversation { title } ... on Message { content } ... on ObservationNote { content } ... on TelemetryEvent { properties } ... on UsageRecord { model } } }",
            |f| {
                every_id(f)
                    .into_iter()
                    .map(|id| json!({ "id": id }))
                    .collect()
            },
        ),
    ),
    (
        "Query.nodes(ids)",
        Probe::Hidden(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Conversation { title } ... on Message { content } ... on ObservationNote { content } ... on TelemetryEvent { properties } ... on UsageRecord { model } } }",
            |f| vec![json!({ "ids": every_id(f) })],
        ),
    ),
    (
        "Query.persona(id)",
        Probe::Public("personas are the shared catalogue"),
    ),
    (
        "Query.room(id)",
        Probe::Public("rooms are the shared catalogue"),
    ),
    (
        "User.conversations(filter.personaId)",
        Probe::Public("filters the caller's own list by a catalogue persona"),
    ),
    (
        "User.conversations(filter.roomId)",
        Probe::Public("filters the caller's own list by a catalogue room"),
    ),
    (
        "Mutation.createConversation(input.personaId)",
        Probe::Public("a catalogue persona"),
    ),
    (
        "Mutation.createConversation(input.roomId)",
        Probe::Public("a catalogue room"),
    ),
    (
        "Mutation.renameConversation(input.id)",
        Probe::Http(
            "mutation($id: ID!) { renameConversation(input: { id: $id, title: \"pwned\" }) { conversation { id title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.deleteConversation(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteConversation(input: { id: $id }) { deletedConversationId } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.addMessage(input.conversationId)",
        Probe::Http(
            "mutation($c: ID!) { addMessage(input: { conversationId: $c, content: \"pwned\" }) { message { id } } }",
            |f| Some(json!({ "c": f.conversation })),
        ),
    ),
    (
        "Mutation.addMessage(input.parentId)",
        Probe::LikeMissing(
            "mutation($c: ID!, $p: ID!) { addMessage(input: { conversationId: $c, parentId: $p, content: \"pwned\" }) { message { id content } } }",
            |f, own| Some(json!({ "c": own, "p": f.message })),
        ),
    ),
    (
        "Mutation.sendMessage(input.conversationId)",
        Probe::Http(
            "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"pwned\" }) { reply { id } } }",
            |f| Some(json!({ "c": f.conversation })),
        ),
    ),
    (
        "Mutation.sendMessage(input.parentId)",
        Probe::LikeMissing(
            "mutation($c: ID!, $p: ID!) { sendMessage(input: { conversationId: $c, parentId: $p, content: \"pwned\" }) { reply { id content } } }",
            |f, own| Some(json!({ "c": own, "p": f.message })),
        ),
    ),
    (
        "Mutation.regenerateMessage(input.messageId)",
        Probe::Http(
            "mutation($id: ID!) { regenerateMessage(input: { messageId: $id }) { reply { id content } } }",
            |f| id(&f.message),
        ),
    ),
    (
        "Mutation.editMessage(input.messageId)",
        Probe::Http(
            "mutation($id: ID!) { editMessage(input: { messageId: $id, content: \"mine now\" }) { userMessage { id content } reply { id } } }",
            |f| id(&f.message),
        ),
    ),
    (
        "Mutation.cancelMessage(input.messageId)",
        Probe::Http(
            "mutation($id: ID!) { cancelMessage(input: { messageId: $id }) { message { id content } } }",
            |f| id(&f.message),
        ),
    ),
    (
        "Mutation.updateConversation(input.id)",
        Probe::Http(
            "mutation($id: ID!) { updateConversation(input: { id: $id, systemPrompt: \"pwned\" }) { conversation { id title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Query.journal(id)",
        Probe::Hidden(
            "query($id: ID!) { journal(id: $id) { id prompt response } }",
            |f| vec![json!({ "id": f.journal })],
        ),
    ),
    (
        "Query.journals(filter.personaId)",
        Probe::Public("filters the caller's own journal by a catalogue persona"),
    ),
    (
        "Query.journals(filter.roomId)",
        Probe::Public("filters the caller's own journal by a catalogue room"),
    ),
    (
        "Mutation.saveJournal(input.messageId)",
        Probe::Http(
            "mutation($id: ID!) { saveJournal(input: { messageId: $id }) { journal { id prompt response } } }",
            |f| id(&f.message),
        ),
    ),
    (
        "Mutation.saveJournal(input.personaId)",
        Probe::Public("a catalogue persona"),
    ),
    (
        "Mutation.saveJournal(input.roomId)",
        Probe::Public("a catalogue room"),
    ),
    (
        "Mutation.updateJournal(input.id)",
        Probe::Http(
            "mutation($id: ID!) { updateJournal(input: { id: $id, title: \"pwned\" }) { journal { id prompt } } }",
            |f| id(&f.journal),
        ),
    ),
    (
        "Mutation.deleteJournal(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteJournal(input: { id: $id }) { deletedJournalId } }",
            |f| id(&f.journal),
        ),
    ),
    (
        "Mutation.updatePersona(input.id)",
        Probe::Public("a catalogue persona (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.retirePersona(input.id)",
        Probe::Public("a catalogue persona (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.setPersonaRooms(input.personaId)",
        Probe::Public("a catalogue persona (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.setPersonaRooms(input.roomIds)",
        Probe::Public("catalogue rooms (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.setPersonaRooms(input.defaultRoomIds)",
        Probe::Public("catalogue rooms (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.updateRoom(input.id)",
        Probe::Public("a catalogue room (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.retireRoom(input.id)",
        Probe::Public("a catalogue room (admins only: FORBIDDEN for the rest)"),
    ),
    (
        "Mutation.deleteApiKey(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteApiKey(input: { id: $id }) { deletedApiKeyId } }",
            |f| f.api_key.as_deref().and_then(id),
        ),
    ),
    (
        "Subscription.messageStream(messageId)",
        Probe::Ws(
            "subscription($id: ID!) { messageStream(messageId: $id) { seq delta } }",
            |f| id(&f.message),
        ),
    ),
    (
        "Subscription.messageAdded(conversationId)",
        Probe::Ws(
            "subscription($c: ID) { messageAdded(conversationId: $c) { id content } }",
            |f| Some(json!({ "c": f.conversation })),
        ),
    ),
    (
        "Mutation.unlinkIdentity(input.id)",
        Probe::Http(
            "mutation($id: ID!) { unlinkIdentity(input: { id: $id }) { unlinkedIdentityId } }",
            |f| id(&f.identity),
        ),
    ),
    (
        "Mutation.revokeSession(input.id)",
        Probe::Http(
            "mutation($id: ID!) { revokeSession(input: { id: $id }) { revokedSessionId } }",
            |f| id(&f.session),
        ),
    ),
    (
        "Mutation.revokeApiToken(input.id)",
        Probe::Http(
            "mutation($id: ID!) { revokeApiToken(input: { id: $id }) { revokedApiTokenId } }",
            |f| f.api_token.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.resendContactVerification(input.id)",
        Probe::Http(
            "mutation($id: ID!) { resendContactVerification(input: { id: $id }) { contactMethod { id value } } }",
            |f| id(&f.contact),
        ),
    ),
    (
        "Mutation.setPrimaryContactMethod(input.id)",
        Probe::Http(
            "mutation($id: ID!) { setPrimaryContactMethod(input: { id: $id }) { contactMethod { id value } } }",
            |f| id(&f.contact),
        ),
    ),
    (
        "Mutation.removeContactMethod(input.id)",
        Probe::Http(
            "mutation($id: ID!) { removeContactMethod(input: { id: $id }) { removedContactMethodId } }",
            |f| id(&f.contact),
        ),
    ),
    (
        "Mutation.setUserRole(input.userId)",
        Probe::Http(
            "mutation($id: ID!) { setUserRole(input: { userId: $id, role: ADMIN, pin: \"123456\" }) { user { id role } } }",
            |f| id(&f.user.global_id),
        ),
    ),
    (
        "Mutation.setUserActive(input.userId)",
        Probe::Http(
            "mutation($id: ID!) { setUserActive(input: { userId: $id, active: false }) { user { id } } }",
            |f| id(&f.user.global_id),
        ),
    ),
    (
        "Query.researchSessions(filter.invitationId)",
        Probe::Http(
            "query($i: ID!) { researchSessions(filter: { invitationId: $i }) { edges { node { id title } } } }",
            |f| research(f, |r| json!({ "i": r.invitation })),
        ),
    ),
    (
        "Query.observationNotes(filter.invitationId)",
        Probe::Http(
            "query($i: ID!) { observationNotes(filter: { invitationId: $i }) { edges { node { content } } } }",
            |f| research(f, |r| json!({ "i": r.invitation })),
        ),
    ),
    (
        "Query.observationNotes(filter.sessionId)",
        Probe::Http(
            "query($s: ID!) { observationNotes(filter: { sessionId: $s }) { edges { node { content } } } }",
            |f| research(f, |r| json!({ "s": r.session })),
        ),
    ),
    (
        "Query.observationNotes(filter.researcherId)",
        Probe::Http(
            "query($u: ID!) { observationNotes(filter: { researcherId: $u }) { edges { node { content } } } }",
            |f| research(f, |_| json!({ "u": f.user.global_id })),
        ),
    ),
    (
        "Query.telemetryEvents(filter.userId)",
        Probe::Http(
            "query($u: ID!) { telemetryEvents(filter: { userId: $u }) { edges { node { name properties } } } }",
            |f| research(f, |_| json!({ "u": f.user.global_id })),
        ),
    ),
    (
        "Query.telemetryEvents(filter.sessionId)",
        Probe::Http(
            "query($s: ID!) { telemetryEvents(filter: { sessionId: $s }) { edges { node { name properties } } } }",
            |f| research(f, |r| json!({ "s": r.session })),
        ),
    ),
    (
        "Query.telemetryCounts(filter.userId)",
        Probe::Http(
            "query($u: ID!) { telemetryCounts(filter: { userId: $u }) { name count } }",
            |f| research(f, |_| json!({ "u": f.user.global_id })),
        ),
    ),
    (
        "Query.telemetryCounts(filter.sessionId)",
        Probe::Http(
            "query($s: ID!) { telemetryCounts(filter: { sessionId: $s }) { name count } }",
            |f| research(f, |r| json!({ "s": r.session })),
        ),
    ),
    (
        "Mutation.addObservationNote(input.invitationId)",
        Probe::Http(
            "mutation($i: ID!) { addObservationNote(input: { invitationId: $i, content: \"pwned\" }) { observationNote { id } } }",
            |f| research(f, |r| json!({ "i": r.invitation })),
        ),
    ),
    (
        "Mutation.addObservationNote(input.sessionId)",
        Probe::Http(
            "mutation($i: ID!, $s: ID!) { addObservationNote(input: { invitationId: $i, sessionId: $s, content: \"pwned\" }) { observationNote { id session { title } } } }",
            |f| research(f, |r| json!({ "i": r.invitation, "s": r.session })),
        ),
    ),
    (
        "Mutation.addObservationNote(input.messageId)",
        Probe::Http(
            "mutation($i: ID!, $m: ID!) { addObservationNote(input: { invitationId: $i, messageId: $m, content: \"pwned\" }) { observationNote { id message { content } } } }",
            |f| research(f, |r| json!({ "i": r.invitation, "m": r.message })),
        ),
    ),
    (
        "Mutation.updateObservationNote(input.id)",
        Probe::Http(
            "mutation($id: ID!) { updateObservationNote(input: { id: $id, content: \"pwned\" }) { observationNote { id content } } }",
            |f| research(f, |r| json!({ "id": r.note })),
        ),
    ),
    (
        "Mutation.deleteObservationNote(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteObservationNote(input: { id: $id }) { deletedObservationNoteId } }",
            |f| research(f, |r| json!({ "id": r.note })),
        ),
    ),
    (
        // Everyone's private conversation, and the staff member's research session: nobody
        // files telemetry under a session they may not read (staff included, for the former).
        "Mutation.recordTelemetry(input.events.sessionId)",
        Probe::Http(
            "mutation($s: ID!) { recordTelemetry(input: { events: [{ name: \"probe\", sessionId: $s }] }) { recorded } }",
            |f| Some(json!({ "s": f.research.as_ref().map_or(&f.conversation, |r| &r.session) })),
        ),
    ),
    (
        "Mutation.pauseSession(input.id)",
        Probe::Http(
            "mutation($id: ID!) { pauseSession(input: { id: $id }) { session { id status title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.resumeSession(input.id)",
        Probe::Http(
            "mutation($id: ID!) { resumeSession(input: { id: $id }) { session { id status title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.completeSession(input.id)",
        Probe::Http(
            "mutation($id: ID!) { completeSession(input: { id: $id }) { session { id status title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.abandonSession(input.id)",
        Probe::Http(
            "mutation($id: ID!) { abandonSession(input: { id: $id }) { session { id status title } } }",
            |f| id(&f.conversation),
        ),
    ),
    (
        "Mutation.updateScenario(input.id)",
        Probe::Public("scenarios are the shared practice catalogue; staff manage them"),
    ),
    (
        "Mutation.deactivateScenario(input.id)",
        Probe::Public("scenarios are the shared practice catalogue; staff manage them"),
    ),
    (
        "Mutation.updateQuotaPreset(input.id)",
        Probe::Public("quota presets are shared settings; admins manage them"),
    ),
    (
        "Mutation.deleteQuotaPreset(input.id)",
        Probe::Public("quota presets are shared settings; admins manage them"),
    ),
    (
        "Mutation.deleteUser(input.userId)",
        Probe::Http(
            "mutation($id: ID!) { deleteUser(input: { userId: $id, pin: \"123456\" }) { deletedUserId } }",
            |f| id(&f.user.global_id),
        ),
    ),
    (
        "Query.upload(id)",
        Probe::Hidden(
            "query($id: ID!) { upload(id: $id) { id extractedText } }",
            |f| vec![json!({ "id": f.upload })],
        ),
    ),
    (
        "Subscription.uploadUpdated(id)",
        Probe::Ws(
            "subscription($id: ID!) { uploadUpdated(id: $id) { id extractedText } }",
            |f| id(&f.upload),
        ),
    ),
    (
        "Query.uploads(filter.projectId)",
        Probe::Public(
            "filters the caller's own uploads: another user's project matches none of them",
        ),
    ),
    (
        "Mutation.uploadFile(input.projectId)",
        // A multipart request, which these JSON probes cannot send (and victims hold no
        // projects yet): uploads::an_unreadable_pdf_fails_and_leaves_no_object sends another
        // user's project id over multipart and gets NOT_FOUND.
        Probe::Http(
            "mutation($id: ID!) { uploadFile(input: { file: null, projectId: $id }) { upload { id } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.deleteUpload(input.id)",
        Probe::Http(
            "mutation($id: ID!) { deleteUpload(input: { id: $id }) { deletedUploadId } }",
            |f| id(&f.upload),
        ),
    ),
    (
        "Query.posts(filter.authorId)",
        Probe::Public("published posts are public; drafts are filtered by who may read them"),
    ),
    (
        "Mutation.updatePost(input.id)",
        Probe::Unmoderated(
            "mutation($id: ID!) { updatePost(input: { id: $id, title: \"pwned\" }) { post { id content } } }",
            |f| f.draft_post.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.publishPost(input.id)",
        Probe::Unmoderated(
            "mutation($id: ID!) { publishPost(input: { id: $id }) { post { id content } } }",
            |f| f.draft_post.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.unpublishPost(input.id)",
        Probe::Unmoderated(
            "mutation($id: ID!) { unpublishPost(input: { id: $id }) { post { id content } } }",
            |f| f.draft_post.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.featurePost(input.id)",
        Probe::Unmoderated(
            "mutation($id: ID!) { featurePost(input: { id: $id }) { post { id content } } }",
            |f| f.draft_post.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.deletePost(input.id)",
        Probe::Unmoderated(
            "mutation($id: ID!) { deletePost(input: { id: $id }) { deletedPostId } }",
            |f| f.draft_post.as_deref().and_then(id),
        ),
    ),
    (
        "Mutation.setSubscription(input.userId)",
        Probe::Http(
            "mutation($id: ID!) { setSubscription(input: { userId: $id, plan: ENTERPRISE }) { subscription { plan } } }",
            |f| id(&f.user.global_id),
        ),
    ),
    // Azora (community). The fixture holds no jobs, applications or incidents: their access
    // rules are proven in marketplace.rs (an employer cannot see another employer's applicants,
    // drafts) and safety.rs (only the reporter and moderators read a report).
    (
        "Query.job(id)",
        Probe::Hidden("query($id: ID!) { job(id: $id) { id title } }", |f| {
            vec![json!({ "id": f.conversation })]
        }),
    ),
    (
        "Query.jobApplication(id)",
        Probe::Hidden(
            "query($id: ID!) { jobApplication(id: $id) { id coverLetter } }",
            |f| vec![json!({ "id": f.message })],
        ),
    ),
    (
        "Query.jobApplications(jobId)",
        Probe::Http(
            "query($j: ID!) { jobApplications(jobId: $j) { nodes { id coverLetter } } }",
            |_| None,
        ),
    ),
    (
        "Query.safetyIncident(id)",
        Probe::Hidden(
            "query($id: ID!) { safetyIncident(id: $id) { id description } }",
            |f| vec![json!({ "id": f.conversation })],
        ),
    ),
    (
        "Query.auditEvents(filter.actorId)",
        Probe::Http(
            "query($a: ID!) { auditEvents(filter: { actorId: $a }) { nodes { id summary } } }",
            |f| Some(json!({ "a": f.user.global_id })),
        ),
    ),
    (
        "Query.auditEvents(filter.entityId)",
        Probe::Http(
            "query($e: ID!) { auditEvents(filter: { entityId: $e }) { nodes { id summary } } }",
            |f| Some(json!({ "e": f.conversation })),
        ),
    ),
    (
        "Mutation.markNotificationsRead(input.ids)",
        Probe::Http(
            "mutation($ids: [ID!]) { markNotificationsRead(input: { ids: $ids }) { marked } }",
            |f| Some(json!({ "ids": [f.conversation] })),
        ),
    ),
    (
        "Mutation.notifyUser(input.userId)",
        Probe::Public(
            "staff and admins notify any user by design; everyone else is FORBIDDEN (notifications.rs)",
        ),
    ),
    (
        "Analytics.activity(filter.userIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.activity(filter.invitationIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.activity(filter.scenarioIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.activity(filter.projectIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.usage(filter.userIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.usage(filter.invitationIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.usage(filter.scenarioIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Analytics.usage(filter.projectIds)",
        Probe::Public(ANALYTICS_FILTER),
    ),
    (
        "Mutation.setMySkill(input.skillId)",
        Probe::Public("skills are the shared marketplace catalogue"),
    ),
    (
        "Mutation.removeMySkill(input.skillId)",
        Probe::Public("skills are the shared marketplace catalogue"),
    ),
    (
        "Mutation.createJob(input.skills.skillId)",
        Probe::Public("skills are the shared marketplace catalogue"),
    ),
    (
        "Mutation.setJobStatus(input.id)",
        Probe::Http(
            "mutation($id: ID!) { setJobStatus(input: { id: $id, status: CLOSED }) { job { id } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.applyToJob(input.jobId)",
        Probe::Http(
            "mutation($id: ID!) { applyToJob(input: { jobId: $id }) { application { id } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.moveApplication(input.id)",
        Probe::Http(
            "mutation($id: ID!) { moveApplication(input: { id: $id, status: REJECTED }) { application { id } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.withdrawApplication(input.id)",
        Probe::Http(
            "mutation($id: ID!) { withdrawApplication(input: { id: $id }) { application { id } } }",
            |_| None,
        ),
    ),
    (
        // Only what the reporter can see may be reported: another user's message is NOT_FOUND.
        "Mutation.reportIncident(input.subjectId)",
        Probe::Http(
            "mutation($s: ID!) { reportIncident(input: { subjectId: $s, category: OTHER, description: \"probe\" }) { incident { id } } }",
            |f| Some(json!({ "s": f.message })),
        ),
    ),
    (
        "Mutation.triageIncident(input.id)",
        Probe::Http(
            "mutation($id: ID!) { triageIncident(input: { id: $id, status: DISMISSED }) { incident { id } } }",
            |_| None,
        ),
    ),
    (
        "Mutation.restoreRecord(input.id)",
        Probe::Http(
            "mutation($id: ID!) { restoreRecord(input: { id: $id }) { recordId } }",
            |f| id(&f.conversation),
        ),
    ),
];

const INTROSPECTION: &str = r#"{ __schema {
  queryType { name } mutationType { name } subscriptionType { name }
  types { kind name
    fields { name args { name type { ...T } } }
    inputFields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

fn named(t: &Value) -> (&str, &str) {
    let mut t = t;
    while t["ofType"].is_object() {
        t = &t["ofType"];
    }
    (
        t["kind"].as_str().unwrap_or(""),
        t["name"].as_str().unwrap_or(""),
    )
}

fn is_id_name(name: &str) -> bool {
    name == "id" || name == "ids" || name.ends_with("Id") || name.ends_with("Ids")
}

/// Id-taking paths under an input object (`filter.personaId`), depth-first.
fn input_paths(
    types: &[Value],
    type_name: &str,
    prefix: &str,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    if !seen.insert(type_name.to_owned()) {
        return;
    }
    let Some(t) = types.iter().find(|t| t["name"] == type_name) else {
        return;
    };
    for f in t["inputFields"].as_array().into_iter().flatten() {
        let name = f["name"].as_str().unwrap_or("");
        let (kind, inner) = named(&f["type"]);
        if kind == "INPUT_OBJECT" {
            input_paths(types, inner, &format!("{prefix}{name}."), seen, out);
        } else if is_id_name(name) {
            out.push(format!("{prefix}{name}"));
        }
    }
    seen.remove(type_name);
}

/// Every `Type.field(argPath)` of the served schema that takes an id.
pub async fn id_taking_fields(app: &TestApp) -> BTreeSet<String> {
    let schema = app.query(None, INTROSPECTION, json!({})).await;
    let schema = &schema["__schema"];
    let types = schema["types"].as_array().unwrap().clone();
    let mut found = BTreeSet::new();
    for t in &types {
        let type_name = t["name"].as_str().unwrap_or("");
        if t["kind"] != "OBJECT" || type_name.starts_with("__") {
            continue;
        }
        for field in t["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap_or("");
            for arg in field["args"].as_array().into_iter().flatten() {
                let arg_name = arg["name"].as_str().unwrap_or("");
                let (kind, inner) = named(&arg["type"]);
                let mut paths = Vec::new();
                if kind == "INPUT_OBJECT" {
                    input_paths(
                        &types,
                        inner,
                        &format!("{arg_name}."),
                        &mut HashSet::new(),
                        &mut paths,
                    );
                } else if is_id_name(arg_name) {
                    paths.push(arg_name.to_owned());
                }
                for p in paths {
                    found.insert(format!("{type_name}.{field_name}({p})"));
                }
            }
        }
    }
    found
}

async fn participant(app: &TestApp, email: &str, role: Option<Role>) -> TestUser {
    match role {
        Some(Role::Guest) => {
            let g = app
                .query(
                    None,
                    "mutation { startGuestSession { token user { id } } }",
                    json!({}),
                )
                .await;
            TestUser::new(
                g["startGuestSession"]["user"]["id"].as_str().unwrap(),
                "",
                g["startGuestSession"]["token"].as_str().unwrap(),
            )
        }
        role => {
            let u = app.register(email).await;
            if let Some(role) = role {
                app.promote(&u, role).await;
            }
            u
        }
    }
}

/// Gives `user` one record of every kind.
async fn fixture(app: &TestApp, user: TestUser, n: usize, role: Option<Role>) -> Fixture {
    let conversation = app
        .create_conversation(&user, &format!("secret-title-{n}"))
        .await;
    let message = app
        .add_message(&user, &conversation, &format!("secret-content-{n}"))
        .await;
    let session = app
        .query(Some(&user.token), "{ mySessions { id } }", json!({}))
        .await["mySessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = app
        .post(
            Some(&user.token),
            "mutation { createApiToken(input: { name: \"mine\", scopes: [READ] }) { apiToken { id } } }",
            json!({}),
        )
        .await;
    let api_token = token["data"]["createApiToken"]["apiToken"]["id"]
        .as_str()
        .map(str::to_owned);
    let contact = app
        .query(
            Some(&user.token),
            "mutation($v: String!) { addContactMethod(input: { type: EMAIL, value: $v }) { contactMethod { id } } }",
            json!({ "v": format!("contact-{n}@example.com") }),
        )
        .await["addContactMethod"]["contactMethod"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = persistence::identities::link(
        app.db().conn(),
        &user.db_id,
        "oidc",
        &format!("ext-{n}"),
        None,
    )
    .await
    .unwrap()
    .id;
    let identity = gid(Kind::ExternalIdentity, &identity);
    let key = app
        .post(
            Some(&user.token),
            "mutation($k: String!) { addApiKey(input: { provider: ANTHROPIC, key: $k }) { apiKey { id } } }",
            json!({ "k": format!("sk-ant-secret-key-{n}") }),
        )
        .await;
    let api_key = key["data"]["addApiKey"]["apiKey"]["id"]
        .as_str()
        .map(str::to_owned);
    if api_key.is_none() {
        // Only guests are refused: they hold no credentials.
        assert_eq!(user.email, "", "{key}");
        assert_eq!(key["errors"][0]["extensions"]["code"], "FORBIDDEN", "{key}");
    }
    let research = if role == Some(Role::Staff) {
        Some(research_fixture(app, &user, n).await)
    } else {
        None
    };
    let journal = app
        .query(
            Some(&user.token),
            "mutation($p: String!, $persona: ID!, $room: ID!) { saveJournal(input: { prompt: $p, response: \"noted\", personaId: $persona, roomId: $room }) { journal { id } } }",
            json!({
                "p": format!("secret-content-{n}"),
                "persona": gid(Kind::Persona, "probe-persona"),
                "room": gid(Kind::Room, "probe-room"),
            }),
        )
        .await["saveJournal"]["journal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload = crate::uploads::upload(
        app,
        &user.token,
        "secret.txt",
        "text/plain",
        format!("secret-content-{n}").as_bytes(),
        None,
    )
    .await["data"]["uploadFile"]["upload"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = app
        .post(
            Some(&user.token),
            "mutation($t: String!, $c: String!) { createPost(input: { title: $t, content: $c }) { post { id } } }",
            json!({ "t": format!("secret-title-{n}"), "c": format!("secret-content-{n}") }),
        )
        .await;
    let draft_post = post["data"]["createPost"]["post"]["id"]
        .as_str()
        .map(str::to_owned);
    if draft_post.is_none() {
        // Only guests are refused: they write no posts.
        assert_eq!(role, Some(Role::Guest), "{post}");
    }
    let project = app
        .query(
            Some(&user.token),
            "mutation($n: String!) { createProject(input: { name: $n }) { project { id } } }",
            json!({ "n": format!("secret-project-{n}") }),
        )
        .await["createProject"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let analysis = app
        .query(
            Some(&user.token),
            "mutation($p: ID!, $t: String!) { createAnalysis(input: { type: TEXT_ANALYSIS, input: $t, projectId: $p }) { analysis { id } } }",
            json!({ "p": project, "t": format!("secret-content-{n}") }),
        )
        .await["createAnalysis"]["analysis"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contract = app
        .query(
            Some(&user.token),
            "mutation($p: ID!, $t: String!) { analyzeContract(input: { title: \"NDA\", contractType: NDA, text: $t, projectId: $p }) { contractAnalysis { id } } }",
            json!({ "p": project, "t": format!("secret-content-{n}") }),
        )
        .await["analyzeContract"]["contractAnalysis"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = app
        .query(
            Some(&user.token),
            "mutation { createPayment(input: { amount: \"10.00\", currency: ZAR, purpose: TOP_UP, idempotencyKey: \"fixture\" }) { payment { id walletId } } }",
            json!({}),
        )
        .await;
    let payment = paid["createPayment"]["payment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wallet = paid["createPayment"]["payment"]["walletId"]
        .as_str()
        .unwrap()
        .to_owned();
    let education = if role == Some(Role::Educator) {
        Some(education_fixture(app, &user, n).await)
    } else {
        None
    };
    Fixture {
        payment,
        wallet,
        education,
        user,
        conversation,
        project,
        analysis,
        contract,
        message,
        session,
        api_token,
        contact,
        identity,
        api_key,
        journal,
        upload,
        draft_post,
        moderates: role == Some(Role::Moderator),
        research,
    }
}

/// An educator's draft course (module, quiz), and their own submission to an assignment of a
/// published course of theirs (which only they, teaching it, may grade).
async fn education_fixture(app: &TestApp, educator: &TestUser, n: usize) -> Education {
    let q = |query: &'static str, vars: Value| async move {
        app.query(Some(&educator.token), query, vars).await
    };
    let course = |d: &Value| {
        d["createCourse"]["course"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let create = "mutation($t: String!) { createCourse(input: { title: $t }) { course { id } } }";
    let draft = course(&q(create, json!({ "t": format!("secret-title-{n}") })).await);
    let module = q(
        "mutation($c: ID!) { addCourseModule(input: { courseId: $c, title: \"m\" }) { module { id } } }",
        json!({ "c": draft }),
    )
    .await["addCourseModule"]["module"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assess = "mutation($c: ID!, $t: AssessmentType!, $q: JSON!) { createAssessment(input: { courseId: $c, type: $t, title: \"a\", questions: $q }) { assessment { id } } }";
    let assessment = q(
        assess,
        json!({ "c": draft, "t": "QUIZ", "q": [{ "prompt": "p", "options": ["a", "b"], "answer": 0 }] }),
    )
    .await["createAssessment"]["assessment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let open = course(&q(create, json!({ "t": format!("open-{n}") })).await);
    let essay = q(
        assess,
        json!({ "c": open, "t": "ASSIGNMENT", "q": [{ "prompt": "essay" }] }),
    )
    .await["createAssessment"]["assessment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    q(
        "mutation($c: ID!) { setCourseStatus(input: { courseId: $c, status: PUBLISHED }) { course { id } } }",
        json!({ "c": open }),
    )
    .await;
    q(
        "mutation($c: ID!) { enroll(input: { courseId: $c }) { enrollment { id } } }",
        json!({ "c": open }),
    )
    .await;
    let submission = q(
        "mutation($a: ID!, $x: JSON!) { submitAssessment(input: { assessmentId: $a, answers: $x }) { submission { id } } }",
        json!({ "a": essay, "x": { "text": format!("secret-content-{n}") } }),
    )
    .await["submitAssessment"]["submission"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = q(
        "mutation($c: ID!, $t: String!) { createLearningPath(input: { title: $t, courseIds: [$c] }) { learningPath { id } } }",
        json!({ "c": draft, "t": format!("secret-title-{n}") }),
    )
    .await["createLearningPath"]["learningPath"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Education {
        course: draft,
        path,
        module,
        assessment,
        submission,
    }
}

/// A staff member's research data: an invitation, a session under it nobody owns (set up through
/// the stores, see `research::setup`), a note and a telemetry event through the API.
async fn research_fixture(app: &TestApp, staff: &TestUser, n: usize) -> Research {
    use crate::research::setup;
    let invitation = setup::invitation(app, staff).await;
    let session = setup::session(app, &invitation, None).await;
    let (_, reply) = setup::exchange(app, &session, None, &format!("secret-content-{n}")).await;
    let usage = persistence::usage::for_conversation(app.db().conn(), &session)
        .await
        .unwrap()[0]
        .id
        .clone();
    let (invitation, session) = (
        gid(Kind::Invitation, &invitation),
        gid(Kind::Conversation, &session),
    );
    let note = app
        .query(
            Some(&staff.token),
            "mutation($i: ID!, $s: ID!, $c: String!) { addObservationNote(input: { invitationId: $i, sessionId: $s, content: $c }) { observationNote { id } } }",
            json!({ "i": invitation, "s": session, "c": format!("secret-content-{n}") }),
        )
        .await["addObservationNote"]["observationNote"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = app
        .query(
            Some(&staff.token),
            "mutation($s: ID!, $p: JSON) { recordTelemetry(input: { events: [{ name: \"probe.fixture\", sessionId: $s, properties: $p }] }) { eventIds } }",
            json!({ "s": session, "p": { "note": format!("secret-content-{n}") } }),
        )
        .await["recordTelemetry"]["eventIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    Research {
        invitation,
        session,
        message: gid(Kind::Message, &reply),
        usage: gid(Kind::UsageRecord, &usage),
        note,
        event,
    }
}

/// A persona and a room for the fixtures' journal entries (journals name both).
async fn catalogue_for_journals(app: &TestApp) {
    use persistence::catalogue::{NewPersona, NewRoom, create_persona, create_room};
    let db = app.db().conn();
    create_persona(
        db,
        NewPersona {
            id: "probe-persona".into(),
            name: "Probe".into(),
            tone: String::new(),
            voice: String::new(),
            description: String::new(),
            system_prompt: "You are a probe.".into(),
            tags: Vec::new(),
            default_model: None,
            avatar_url: None,
        },
    )
    .await
    .unwrap();
    create_room(
        db,
        NewRoom {
            id: "probe-room".into(),
            name: "Probe room".into(),
            description: String::new(),
            purpose: "Probing.".into(),
            sample_prompt: String::new(),
            tags: Vec::new(),
            prompt_type: core_domain::enums::PromptType::Open,
            features: json!({}),
        },
    )
    .await
    .unwrap();
}

fn error_code(body: &Value) -> Option<String> {
    match body {
        Value::Array(errors) => errors[0]["extensions"]["code"].as_str().map(str::to_owned),
        _ => body["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_owned),
    }
}

fn assert_denied(coordinate: &str, attacker: &Fixture, victim: &Fixture, body: &Value, n: usize) {
    let code = error_code(body);
    assert!(
        matches!(code.as_deref(), Some("NOT_FOUND" | "FORBIDDEN")),
        "{coordinate}: {} got {code:?} for {}'s record: {body}",
        attacker.user.global_id,
        victim.user.global_id
    );
    let text = body.to_string();
    assert!(
        !text.contains(&format!("secret-title-{n}"))
            && !text.contains(&format!("secret-content-{n}")),
        "{coordinate} leaked data: {body}"
    );
}

/// A look-up answered exactly as for a missing record: no error, only nulls, no data.
fn assert_hidden(coordinate: &str, attacker: &Fixture, victim: &Fixture, body: &Value, n: usize) {
    let who = format!(
        "{coordinate}: {} looking up {}'s record",
        attacker.user.global_id, victim.user.global_id
    );
    assert!(body.get("errors").is_none(), "{who}: {body}");
    let fields = body["data"].as_object().expect("data");
    for value in fields.values() {
        let nothing = match value {
            Value::Null => true,
            Value::Array(items) => items.iter().all(Value::is_null),
            _ => false,
        };
        assert!(nothing, "{who} answered data: {body}");
    }
    let text = body.to_string();
    assert!(
        !text.contains(&format!("secret-title-{n}"))
            && !text.contains(&format!("secret-content-{n}")),
        "{coordinate} leaked data: {body}"
    );
}

colloquy_tests::e2e_backend!(
    nobody_reaches_what_is_not_theirs,
    |backend: colloquy_tests::Backend| async move {
        // Each user sends well over a minute's default allowance of requests (a probe per field
        // and victim): the limit is raised so every probe is answered by the access rules.
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.limits.requests_per_minute = 1_000_000;
        })
        .await
        else {
            return;
        };
        // The schema's id-taking fields, each with a probe.
        let fields = id_taking_fields(&app).await;
        let known: BTreeSet<String> = PROBES.iter().map(|(c, _)| (*c).to_owned()).collect();
        let missing: Vec<_> = fields.difference(&known).collect();
        assert!(
            missing.is_empty(),
            "these fields take an id but the access suite has no probe for them; add a line to PROBES: {missing:#?}"
        );
        let stale: Vec<_> = known.difference(&fields).collect();
        assert!(
            stale.is_empty(),
            "PROBES names fields the schema no longer has: {stale:#?}"
        );

        // Two users and one of each role, each with data of every kind.
        let people = [
            ("alice@example.com", None),
            ("bob@example.com", None),
            ("", Some(Role::Guest)),
            ("educator@example.com", Some(Role::Educator)),
            ("staff@example.com", Some(Role::Staff)),
            ("moderator@example.com", Some(Role::Moderator)),
            ("developer@example.com", Some(Role::Developer)),
            ("admin@example.com", Some(Role::Admin)),
        ];
        catalogue_for_journals(&app).await;
        let mut fixtures = Vec::new();
        for (n, (email, role)) in people.iter().enumerate() {
            let user = participant(&app, email, *role).await;
            fixtures.push((
                fixture(&app, user, n, *role).await,
                *role == Some(Role::Admin),
            ));
        }
        let admin = fixtures.iter().find(|(_, a)| *a).unwrap().0.clone();
        app.query(
            Some(&admin.user.token),
            "mutation { setAdminPin(input: { pin: \"123456\" }) { success } }",
            json!({}),
        )
        .await;

        for (vn, (victim, _)) in fixtures.iter().enumerate() {
            for (attacker, is_admin) in &fixtures {
                if *is_admin || attacker.user.global_id == victim.user.global_id {
                    continue; // admins may do everything; owners may touch their own
                }
                for (coordinate, probe) in PROBES {
                    match probe {
                        Probe::Public(why) => {
                            assert!(!why.is_empty(), "{coordinate}: say why it is public")
                        }
                        Probe::Unmoderated(query, vars) => {
                            let Some(vars) = vars(victim) else { continue };
                            if attacker.moderates {
                                continue;
                            }
                            let body = app.post(Some(&attacker.user.token), query, vars).await;
                            assert_denied(coordinate, attacker, victim, &body, vn);
                        }
                        Probe::Http(query, vars) => {
                            let Some(vars) = vars(victim) else { continue };
                            let body = app.post(Some(&attacker.user.token), query, vars).await;
                            assert_denied(coordinate, attacker, victim, &body, vn);
                        }
                        Probe::Hidden(query, vars) => {
                            for vars in vars(victim) {
                                let body = app.post(Some(&attacker.user.token), query, vars).await;
                                assert_hidden(coordinate, attacker, victim, &body, vn);
                            }
                        }
                        Probe::LikeMissing(query, make) => {
                            let Some(vars) = make(victim, &attacker.conversation) else {
                                continue;
                            };
                            let body = app.post(Some(&attacker.user.token), query, vars).await;
                            let mut missing = Fixture {
                                message: gid(Kind::Message, "no-such-id"),
                                ..victim.clone()
                            };
                            missing.user.global_id = gid(Kind::User, "no-such-id");
                            let baseline = app
                                .post(
                                    Some(&attacker.user.token),
                                    query,
                                    vars_of(&missing, &attacker.conversation, *make),
                                )
                                .await;
                            assert!(
                                error_code(&body).is_some(),
                                "{coordinate}: accepted another user's id: {body}"
                            );
                            assert_eq!(
                                error_code(&body),
                                error_code(&baseline),
                                "{coordinate}: answers differently from a missing id"
                            );
                            assert!(
                                !body.to_string().contains("secret-"),
                                "{coordinate} leaked data: {body}"
                            );
                        }
                        Probe::Ws(query, vars) => {
                            let Some(vars) = vars(victim) else { continue };
                            let mut ws = app.ws(Some(&attacker.user.token)).await;
                            let sub = ws.subscribe(query, vars).await;
                            let answer = ws
                                .next_for(&sub, Duration::from_secs(5))
                                .await
                                .expect("an answer to the subscription");
                            let body = if answer["type"] == "error" {
                                answer["payload"].clone()
                            } else {
                                answer
                            };
                            assert_denied(coordinate, attacker, victim, &body, vn);
                        }
                    }
                }
            }
        }

        // Every victim's data is intact.
        for (n, (f, is_admin)) in fixtures.iter().enumerate() {
            let data = app
            .query(
                Some(&f.user.token),
                "query($c: ID!, $j: ID!) { me { role isActive } conversation(id: $c) { title totalMessages }
                   myContactMethods { id } myIdentities { id } myApiTokens { id } mySessions { id }
                   myApiKeys { id } journal(id: $j) { prompt } }",
                json!({ "c": f.conversation, "j": f.journal }),
            )
            .await;
            assert_eq!(data["journal"]["prompt"], format!("secret-content-{n}"));
            let upload = app
                .query(
                    Some(&f.user.token),
                    "query($u: ID!) { upload(id: $u) { status extractedText } mySubscription { plan } }",
                    json!({ "u": f.upload }),
                )
                .await;
            assert_eq!(upload["upload"]["status"], "COMPLETED", "{upload}");
            assert_eq!(
                upload["upload"]["extractedText"],
                format!("secret-content-{n}")
            );
            assert_eq!(upload["mySubscription"]["plan"], "FREE", "{upload}");
            assert_eq!(data["conversation"]["title"], format!("secret-title-{n}"));
            assert_eq!(data["conversation"]["totalMessages"], 1);
            assert_eq!(data["me"]["isActive"], true);
            if !is_admin {
                assert_ne!(data["me"]["role"], "ADMIN");
            }
            assert_eq!(data["myContactMethods"].as_array().unwrap().len(), 1);
            assert_eq!(data["myIdentities"].as_array().unwrap().len(), 1);
            assert_eq!(
                data["myApiKeys"].as_array().unwrap().len(),
                usize::from(f.api_key.is_some())
            );
            assert_eq!(
                data["myApiTokens"].as_array().unwrap().len(),
                usize::from(f.api_token.is_some())
            );
            if let Some(r) = &f.research {
                let data = app
                    .query(
                        Some(&f.user.token),
                        "query($s: ID!) { researchSessions { totalCount } conversation(id: $s) { totalMessages
                           observationNotes { edges { node { content } } } } }",
                        json!({ "s": r.session }),
                    )
                    .await;
                assert_eq!(data["researchSessions"]["totalCount"], 1, "{data}");
                assert_eq!(data["conversation"]["totalMessages"], 2, "{data}");
                let notes = &data["conversation"]["observationNotes"]["edges"];
                assert_eq!(notes.as_array().unwrap().len(), 1, "{data}");
                assert_eq!(notes[0]["node"]["content"], format!("secret-content-{n}"));
            }
        }
    }
);

fn vars_of(f: &Fixture, own: &str, vars: fn(&Fixture, &str) -> Option<Value>) -> Value {
    vars(f, own).unwrap_or(Value::Null)
}
