//! The Relay `Node` interface: every type with an id implements it, and `node(id:)` /
//! `nodes(ids:)` find any record by its global id (`graphql::ids`) under the same access rules as
//! the type's own look-up or list. A record the caller may not see answers null, exactly like a
//! missing one (or an id of a type that does not exist); text that is not an id at all is
//! BAD_USER_INPUT.
//!
//! Users, conversations, messages, personas, rooms and journals are read through the request's loaders, so
//! `nodes(ids:)` costs one statement per type whatever the number of ids. Sessions, API tokens,
//! contact methods, identities and provider keys are only ever the caller's own: they are found
//! among the caller's own list (one read per type asked for).
//!
//! Observation notes and telemetry events are found for staff only; a usage record goes with its
//! session (whoever may read the session reads it). Invitation ids decode here, but the
//! `Invitation` type belongs to the practice area.

use std::collections::HashMap;

use async_graphql::{Context, ID, Interface, Object};

use crate::accounts::graphql::{
    ApiToken, ContactMethod, ExternalIdentity, Session, User, visible_users,
};
use crate::audit::graphql::{AuditEvent, events_by_ids as audit_events_by_ids};
use crate::catalogue::graphql::{Persona, Room, personas_by_ids, rooms_by_ids};
use crate::chat::graphql::ApiKey;
use crate::conversations::graphql::{
    Conversation, Message, visible_conversations, visible_messages,
};
use crate::education::graphql::{
    Assessment, AssessmentSubmission, Course, CourseModule, Enrollment, LearningPath,
    assessments_by_ids, courses_by_ids, enrollments_by_ids, learning_paths_by_ids, modules_by_ids,
    submissions_by_ids,
};
use crate::error::{ApiError, ApiResult};
use crate::finance::graphql::{
    MiningActivity, Payment, Wallet, WalletTransaction, mining_by_ids, payments_by_ids,
    transactions_by_ids, wallets_by_ids,
};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::journals::graphql::{Journal, journals_by_ids};
use crate::marketplace::graphql::{
    Job, JobApplication, Skill, applications_by_ids, jobs_by_ids, skills_by_ids,
};
use crate::notifications::graphql::{Notification, notifications_by_ids};
use crate::posts::graphql::{Post, posts_by_ids};
use crate::practice::graphql::{
    Invitation, QuotaPreset, Scenario, invitations_by_ids, presets_by_ids, scenarios_by_ids,
};
use crate::research::graphql::{
    ObservationNote, TelemetryEvent, UsageRecord, visible_events, visible_notes, visible_usage,
};
use crate::safety::graphql::{SafetyIncident, incidents_by_ids};
use crate::uploads::graphql::{FileUpload, uploads_by_ids};
use crate::workspace::graphql::{
    AiRun, Analysis, ComplianceReview, ContractAnalysis, CustomerBehaviorAnalysis,
    GeneratedLearningPath, LocalizationAnalysis, Project, projects_by_ids, runs_by_ids,
};

/// A record with a global id, which `node(id:)` finds again.
#[derive(Interface, Clone)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The record's global id: opaque, stable, and unique across every type."
))]
pub enum Node {
    User(User),
    Conversation(Conversation),
    Message(Message),
    Persona(Persona),
    Room(Room),
    Session(Session),
    ApiToken(ApiToken),
    ContactMethod(ContactMethod),
    ExternalIdentity(ExternalIdentity),
    ApiKey(ApiKey),
    ObservationNote(ObservationNote),
    TelemetryEvent(TelemetryEvent),
    UsageRecord(UsageRecord),
    Journal(Journal),
    Scenario(Scenario),
    QuotaPreset(QuotaPreset),
    Invitation(Invitation),
    FileUpload(FileUpload),
    Post(Post),
    Project(Project),
    Analysis(Analysis),
    ContractAnalysis(ContractAnalysis),
    LocalizationAnalysis(LocalizationAnalysis),
    CustomerBehaviorAnalysis(CustomerBehaviorAnalysis),
    ComplianceReview(ComplianceReview),
    GeneratedLearningPath(GeneratedLearningPath),
    Wallet(Wallet),
    WalletTransaction(WalletTransaction),
    Payment(Payment),
    MiningActivity(MiningActivity),
    Course(Course),
    CourseModule(CourseModule),
    Assessment(Assessment),
    AssessmentSubmission(AssessmentSubmission),
    Enrollment(Enrollment),
    LearningPath(LearningPath),
    Notification(Notification),
    Skill(Skill),
    Job(Job),
    JobApplication(JobApplication),
    SafetyIncident(SafetyIncident),
    AuditEvent(AuditEvent),
}

/// The records of one `kind` among `raw_ids` that the caller may see, by database id.
async fn of_kind(
    ctx: &Context<'_>,
    kind: Kind,
    raw_ids: &[String],
) -> ApiResult<HashMap<String, Node>> {
    fn wrap<T>(rows: HashMap<String, T>, f: fn(T) -> Node) -> HashMap<String, Node> {
        rows.into_iter().map(|(id, row)| (id, f(row))).collect()
    }
    /// The caller's own rows whose id is asked for.
    fn own<R>(
        rows: Vec<R>,
        raw_ids: &[String],
        id: fn(&R) -> &String,
        f: impl Fn(R) -> Node,
    ) -> HashMap<String, Node> {
        rows.into_iter()
            .filter(|r| raw_ids.contains(id(r)))
            .map(|r| (id(&r).clone(), f(r)))
            .collect()
    }
    match kind {
        Kind::User => return Ok(wrap(visible_users(ctx, raw_ids).await?, Node::User)),
        Kind::Conversation => {
            let rows = visible_conversations(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::Conversation));
        }
        Kind::Message => return Ok(wrap(visible_messages(ctx, raw_ids).await?, Node::Message)),
        Kind::Persona => return Ok(wrap(personas_by_ids(ctx, raw_ids).await?, Node::Persona)),
        Kind::Room => return Ok(wrap(rooms_by_ids(ctx, raw_ids).await?, Node::Room)),
        // Research data: staff see notes and telemetry; usage goes with its session.
        Kind::ObservationNote => {
            let rows = visible_notes(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::ObservationNote));
        }
        Kind::TelemetryEvent => {
            let rows = visible_events(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::TelemetryEvent));
        }
        Kind::UsageRecord => {
            let rows = visible_usage(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::UsageRecord));
        }
        // Only ever the caller's own (none for anonymous callers).
        Kind::Journal => return Ok(wrap(journals_by_ids(ctx, raw_ids).await?, Node::Journal)),
        Kind::Scenario => {
            return Ok(wrap(scenarios_by_ids(ctx, raw_ids).await?, Node::Scenario));
        }
        Kind::QuotaPreset => {
            return Ok(wrap(presets_by_ids(ctx, raw_ids).await?, Node::QuotaPreset));
        }
        Kind::Invitation => {
            return Ok(wrap(
                invitations_by_ids(ctx, raw_ids).await?,
                Node::Invitation,
            ));
        }
        Kind::FileUpload => {
            return Ok(wrap(uploads_by_ids(ctx, raw_ids).await?, Node::FileUpload));
        }
        Kind::Post => return Ok(wrap(posts_by_ids(ctx, raw_ids).await?, Node::Post)),
        // The workspace: only ever the caller's own.
        Kind::Project => return Ok(wrap(projects_by_ids(ctx, raw_ids).await?, Node::Project)),
        Kind::Analysis
        | Kind::ContractAnalysis
        | Kind::LocalizationAnalysis
        | Kind::CustomerBehaviorAnalysis
        | Kind::ComplianceReview
        | Kind::GeneratedLearningPath => {
            let rows = runs_by_ids(ctx, kind, raw_ids).await?;
            return Ok(rows
                .into_iter()
                .map(|(id, run)| {
                    let node = match run {
                        AiRun::Analysis(r) => Node::Analysis(r),
                        AiRun::ContractAnalysis(r) => Node::ContractAnalysis(r),
                        AiRun::LocalizationAnalysis(r) => Node::LocalizationAnalysis(r),
                        AiRun::CustomerBehaviorAnalysis(r) => Node::CustomerBehaviorAnalysis(r),
                        AiRun::ComplianceReview(r) => Node::ComplianceReview(r),
                        AiRun::GeneratedLearningPath(r) => Node::GeneratedLearningPath(r),
                    };
                    (id, node)
                })
                .collect());
        }
        Kind::Wallet => return Ok(wrap(wallets_by_ids(ctx, raw_ids).await?, Node::Wallet)),
        Kind::WalletTransaction => {
            let rows = transactions_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::WalletTransaction));
        }
        Kind::Payment => return Ok(wrap(payments_by_ids(ctx, raw_ids).await?, Node::Payment)),
        Kind::MiningActivity => {
            return Ok(wrap(
                mining_by_ids(ctx, raw_ids).await?,
                Node::MiningActivity,
            ));
        }
        Kind::Course => return Ok(wrap(courses_by_ids(ctx, raw_ids).await?, Node::Course)),
        Kind::CourseModule => {
            let rows = modules_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::CourseModule));
        }
        Kind::Assessment => {
            let rows = assessments_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::Assessment));
        }
        Kind::AssessmentSubmission => {
            let rows = submissions_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::AssessmentSubmission));
        }
        Kind::Enrollment => {
            let rows = enrollments_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::Enrollment));
        }
        Kind::LearningPath => {
            let rows = learning_paths_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::LearningPath));
        }
        Kind::Notification => {
            let rows = notifications_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::Notification));
        }
        Kind::Skill => return Ok(wrap(skills_by_ids(ctx, raw_ids).await?, Node::Skill)),
        Kind::Job => return Ok(wrap(jobs_by_ids(ctx, raw_ids).await?, Node::Job)),
        Kind::JobApplication => {
            let rows = applications_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::JobApplication));
        }
        Kind::SafetyIncident => {
            let rows = incidents_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::SafetyIncident));
        }
        Kind::AuditEvent => {
            let rows = audit_events_by_ids(ctx, raw_ids).await?;
            return Ok(wrap(rows, Node::AuditEvent));
        }
        _ => {}
    }
    // The rest is only ever the caller's own: nothing for anonymous callers.
    let Some(caller) = ctx.request()?.caller.as_ref() else {
        return Ok(HashMap::new());
    };
    let (accounts, chat) = (&ctx.services()?.accounts, &ctx.services()?.chat);
    Ok(match kind {
        Kind::Session => own(
            accounts.sessions(caller).await?,
            raw_ids,
            |s| &s.id,
            |s| Node::Session(Session::of(s, caller)),
        ),
        Kind::ApiToken => own(
            accounts.api_tokens(caller).await?,
            raw_ids,
            |t| &t.id,
            |t| Node::ApiToken(t.into()),
        ),
        Kind::ContactMethod => {
            let rows = accounts.contact_methods(caller).await?;
            own(rows, raw_ids, |c| &c.id, |c| Node::ContactMethod(c.into()))
        }
        Kind::ExternalIdentity => {
            let rows = accounts.identities(caller).await?;
            own(
                rows,
                raw_ids,
                |i| &i.id,
                |i| Node::ExternalIdentity(i.into()),
            )
        }
        Kind::ApiKey => own(
            chat.api_keys(caller).await?,
            raw_ids,
            |k| &k.id,
            |k| Node::ApiKey(k.into()),
        ),
        Kind::User
        | Kind::Conversation
        | Kind::Message
        | Kind::Persona
        | Kind::Room
        | Kind::ObservationNote
        | Kind::TelemetryEvent
        | Kind::UsageRecord
        | Kind::Journal
        | Kind::Scenario
        | Kind::QuotaPreset
        | Kind::Invitation
        | Kind::FileUpload
        | Kind::Post
        | Kind::Project
        | Kind::Analysis
        | Kind::ContractAnalysis
        | Kind::LocalizationAnalysis
        | Kind::CustomerBehaviorAnalysis
        | Kind::ComplianceReview
        | Kind::GeneratedLearningPath
        | Kind::Wallet
        | Kind::WalletTransaction
        | Kind::Payment
        | Kind::MiningActivity
        | Kind::Course
        | Kind::CourseModule
        | Kind::Assessment
        | Kind::AssessmentSubmission
        | Kind::Enrollment
        | Kind::LearningPath
        | Kind::Notification
        | Kind::Skill
        | Kind::Job
        | Kind::JobApplication
        | Kind::SafetyIncident
        | Kind::AuditEvent => HashMap::new(),
    })
}

/// The records `ids` name, in order, null where the caller may see none.
async fn resolve(
    ctx: &Context<'_>,
    ids: &[ID],
    field: &'static str,
) -> ApiResult<Vec<Option<Node>>> {
    let parsed = ids
        .iter()
        .map(|id| ids::parse(id, field))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut wanted: HashMap<Kind, Vec<String>> = HashMap::new();
    for (kind, raw) in &parsed {
        let list = wanted.entry(*kind).or_default();
        if !list.contains(raw) {
            list.push(raw.clone());
        }
    }
    let lookups = wanted.iter().map(|(kind, raws)| async move {
        Ok::<_, ApiError>((*kind, of_kind(ctx, *kind, raws).await?))
    });
    let found: HashMap<Kind, HashMap<String, Node>> = futures::future::try_join_all(lookups)
        .await?
        .into_iter()
        .collect();
    Ok(parsed
        .iter()
        .map(|(kind, raw)| found.get(kind).and_then(|rows| rows.get(raw)).cloned())
        .collect())
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any record by its global id: null when it does not exist or the caller may not see it
    /// (the same rules as the type's own look-up or list).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let mut found = resolve(ctx, std::slice::from_ref(&id), "id").await?;
        Ok(found.pop().flatten())
    }

    /// Records by global id, in the order asked, null for each the caller may not see. At most
    /// 100 ids.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> ApiResult<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ApiError::bad_input("ids", "at most 100 ids at once"));
        }
        resolve(ctx, &ids, "ids").await
    }
}
