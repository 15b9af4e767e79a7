//! Global ids. Every `id` the API shows, and every argument or field that holds one
//! (`Message.conversationId`, `parentId`, filter ids, ...), is the base64url (no padding) of
//! `Type:rawId`, so an id names its type and `node(id:)` can find any record. Resolvers decode
//! the ids they are given here (that is parsing) and hand the services raw database ids; the
//! services never see a global id.
//!
//! Decoding answers BAD_USER_INPUT (naming the field) for text that is not an id of this API,
//! and NOT_FOUND for a well-formed id of another type, exactly like a missing record; look-ups
//! of one record (`node`, `conversation(id:)`, ...) answer null for it instead
//! ([`decode_lookup`]).

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ApiError, ApiResult};

/// The types that have a global id: every implementation of `Node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Conversation,
    Message,
    Persona,
    Room,
    Session,
    ApiToken,
    ContactMethod,
    ExternalIdentity,
    ApiKey,
    /// An invitation into a practice programme (its type belongs to the practice area).
    Invitation,
    ObservationNote,
    TelemetryEvent,
    UsageRecord,
    Journal,
    Scenario,
    QuotaPreset,
    FileUpload,
    Post,
    Project,
    Analysis,
    ContractAnalysis,
    LocalizationAnalysis,
    CustomerBehaviorAnalysis,
    ComplianceReview,
    GeneratedLearningPath,
    Wallet,
    WalletTransaction,
    Payment,
    MiningActivity,
    Course,
    CourseModule,
    Assessment,
    AssessmentSubmission,
    Enrollment,
    LearningPath,
    Notification,
    Skill,
    Job,
    JobApplication,
    SafetyIncident,
    AuditEvent,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::User,
        Kind::Conversation,
        Kind::Message,
        Kind::Persona,
        Kind::Room,
        Kind::Session,
        Kind::ApiToken,
        Kind::ContactMethod,
        Kind::ExternalIdentity,
        Kind::ApiKey,
        Kind::Invitation,
        Kind::ObservationNote,
        Kind::TelemetryEvent,
        Kind::UsageRecord,
        Kind::Journal,
        Kind::Scenario,
        Kind::QuotaPreset,
        Kind::FileUpload,
        Kind::Post,
        Kind::Project,
        Kind::Analysis,
        Kind::ContractAnalysis,
        Kind::LocalizationAnalysis,
        Kind::CustomerBehaviorAnalysis,
        Kind::ComplianceReview,
        Kind::GeneratedLearningPath,
        Kind::Wallet,
        Kind::WalletTransaction,
        Kind::Payment,
        Kind::MiningActivity,
        Kind::Course,
        Kind::CourseModule,
        Kind::Assessment,
        Kind::AssessmentSubmission,
        Kind::Enrollment,
        Kind::LearningPath,
        Kind::Notification,
        Kind::Skill,
        Kind::Job,
        Kind::JobApplication,
        Kind::SafetyIncident,
        Kind::AuditEvent,
    ];

    /// The GraphQL type name, which is also the prefix inside the id.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Conversation => "Conversation",
            Kind::Message => "Message",
            Kind::Persona => "Persona",
            Kind::Room => "Room",
            Kind::Session => "Session",
            Kind::ApiToken => "ApiToken",
            Kind::ContactMethod => "ContactMethod",
            Kind::ExternalIdentity => "ExternalIdentity",
            Kind::ApiKey => "ApiKey",
            Kind::Invitation => "Invitation",
            Kind::ObservationNote => "ObservationNote",
            Kind::TelemetryEvent => "TelemetryEvent",
            Kind::UsageRecord => "UsageRecord",
            Kind::Journal => "Journal",
            Kind::Scenario => "Scenario",
            Kind::QuotaPreset => "QuotaPreset",
            Kind::FileUpload => "FileUpload",
            Kind::Post => "Post",
            Kind::Project => "Project",
            Kind::Analysis => "Analysis",
            Kind::ContractAnalysis => "ContractAnalysis",
            Kind::LocalizationAnalysis => "LocalizationAnalysis",
            Kind::CustomerBehaviorAnalysis => "CustomerBehaviorAnalysis",
            Kind::ComplianceReview => "ComplianceReview",
            Kind::GeneratedLearningPath => "GeneratedLearningPath",
            Kind::Wallet => "Wallet",
            Kind::WalletTransaction => "WalletTransaction",
            Kind::Payment => "Payment",
            Kind::MiningActivity => "MiningActivity",
            Kind::Course => "Course",
            Kind::CourseModule => "CourseModule",
            Kind::Assessment => "Assessment",
            Kind::AssessmentSubmission => "AssessmentSubmission",
            Kind::Enrollment => "Enrollment",
            Kind::LearningPath => "LearningPath",
            Kind::Notification => "Notification",
            Kind::Skill => "Skill",
            Kind::Job => "Job",
            Kind::JobApplication => "JobApplication",
            Kind::SafetyIncident => "SafetyIncident",
            Kind::AuditEvent => "AuditEvent",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// The global id of the `kind` record whose database id is `raw`.
pub fn encode(kind: Kind, raw: &str) -> ID {
    ID(encode_parts(&[
        kind.name().as_bytes(),
        b":",
        raw.as_bytes(),
    ]))
}

/// base64url (no padding) of `parts` joined, in one allocation: the text is joined on the stack
/// when it fits (every id and cursor does), so a list of 10,000 rows does not allocate the joined
/// text 10,000 times only to encode it.
pub(crate) fn encode_parts(parts: &[&[u8]]) -> String {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut stack = [0u8; 256];
    let mut heap;
    let joined: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap = vec![0u8; len];
        &mut heap
    };
    let mut at = 0;
    for part in parts {
        joined[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    let mut out = String::with_capacity(len.div_ceil(3) * 4);
    URL_SAFE_NO_PAD.encode_string(&*joined, &mut out);
    out
}

/// The type and database id inside `id`; BAD_USER_INPUT on `field` when `id` is not an id of
/// this API.
pub fn parse(id: &str, field: &'static str) -> ApiResult<(Kind, String)> {
    let malformed = || ApiError::bad_input(field, "is not a valid id");
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (name, raw) = text.split_once(':').ok_or_else(malformed)?;
    let kind = Kind::from_name(name).ok_or_else(malformed)?;
    if raw.is_empty() {
        return Err(malformed());
    }
    Ok((kind, raw.to_owned()))
}

/// The database id inside `id`, which must name a `kind` record: BAD_USER_INPUT on `field` when
/// it is not an id at all, NOT_FOUND when it names another type (like a missing record).
pub fn decode(id: &str, kind: Kind, field: &'static str) -> ApiResult<String> {
    decode_lookup(id, kind, field)?.ok_or(ApiError::NotFound)
}

/// [`decode`] for look-ups that answer null: an id of another type is `None`.
pub fn decode_lookup(id: &str, kind: Kind, field: &'static str) -> ApiResult<Option<String>> {
    let (found, raw) = parse(id, field)?;
    Ok((found == kind).then_some(raw))
}

/// [`decode`] for an optional argument.
pub fn decode_opt(id: Option<&ID>, kind: Kind, field: &'static str) -> ApiResult<Option<String>> {
    id.map(|id| decode(id, kind, field)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_base64url_of_type_and_raw_id() {
        // base64url("Persona:elara"), no padding.
        assert_eq!(encode(Kind::Persona, "elara").0, "UGVyc29uYTplbGFyYQ");
        for kind in Kind::ALL {
            let id = encode(*kind, "abc:def-1");
            assert_eq!(decode(&id, *kind, "id").unwrap(), "abc:def-1");
            assert!(!id.contains('='), "no padding: {}", id.0);
        }
    }

    #[test]
    fn malformed_ids_are_bad_input_and_other_types_are_not_found() {
        for bad in ["", "nope", "%%%", "VXNlcg", "VXNlcjo", "Rm9vOmJhcg"] {
            // "", "nope", not base64, "User", "User:", "Foo:bar"
            let e = decode(bad, Kind::User, "userId").unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT", "{bad:?}");
            let ApiError::BadInput(v) = e else {
                unreachable!()
            };
            assert_eq!(v.field, "userId");
        }
        let room = encode(Kind::Room, "mirror-room");
        assert_eq!(
            decode(&room, Kind::Persona, "id").unwrap_err().code(),
            "NOT_FOUND"
        );
        assert_eq!(decode_lookup(&room, Kind::Persona, "id").unwrap(), None);
        assert_eq!(
            decode_lookup(&room, Kind::Room, "id").unwrap().as_deref(),
            Some("mirror-room")
        );
    }
}
