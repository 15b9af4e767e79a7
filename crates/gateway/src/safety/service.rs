//! The safety area's use cases.

use std::sync::Arc;

use core_domain::Role;
use core_domain::community::{IncidentCategory, IncidentSeverity, IncidentStatus};
use core_domain::pagination::PageArgs;
use core_domain::policy::{Action, Actor, Resource, can};
use persistence::notifications::NewNotification;
use persistence::safety::{self as store, NewIncident, Triage};
use persistence::sea_orm::TransactionTrait;
use persistence::{Db, Page, posts, users};
use serde_json::json;

use crate::accounts::Caller;
use crate::accounts::service::can_read_user;
use crate::conversations::ConversationService;
use crate::error::{ApiError, ApiResult};
use crate::notifications::NotificationService;
use crate::platform::audit;

pub use persistence::safety::{Incident, IncidentScope};

/// What a report is about.
#[derive(Debug, Clone)]
pub enum Subject {
    Message(String),
    Conversation(String),
    User(String),
    Post(String),
}

/// A moderator's triage.
#[derive(Debug, Clone)]
pub struct TriageInput {
    pub status: IncidentStatus,
    pub severity: Option<IncidentSeverity>,
    pub notes: Option<String>,
}

pub struct SafetyService {
    db: Db,
    conversations: Arc<ConversationService>,
    notifications: Arc<NotificationService>,
}

/// Whether `actor` moderates (moderators and admins).
pub fn moderates(actor: &Actor) -> bool {
    actor.role == Role::Moderator || actor.is_admin()
}

fn can_read(actor: &Actor, incident: &Incident) -> bool {
    match &incident.reporter_id {
        Some(reporter) => can(
            Some(actor),
            Action::Read,
            &Resource::SafetyIncident {
                reporter_id: reporter,
            },
        ),
        None => moderates(actor),
    }
}

impl SafetyService {
    pub fn new(
        db: Db,
        conversations: Arc<ConversationService>,
        notifications: Arc<NotificationService>,
    ) -> Self {
        Self {
            db,
            conversations,
            notifications,
        }
    }

    /// Files a report about something the caller can see (NOT_FOUND otherwise, exactly as for
    /// something that does not exist).
    pub async fn report(
        &self,
        caller: &Caller,
        subject: Subject,
        category: IncidentCategory,
        description: String,
    ) -> ApiResult<Incident> {
        let description = description.trim().to_owned();
        if description.is_empty() || description.chars().count() > 5000 {
            return Err(ApiError::bad_input(
                "description",
                "must be 1 to 5000 characters",
            ));
        }
        let actor = &caller.actor;
        let mut new = NewIncident {
            reporter_id: actor.user_id.clone(),
            category: category.as_str().to_owned(),
            description,
            ..NewIncident::default()
        };
        match &subject {
            Subject::Message(id) => {
                let (message, conversation) = self
                    .conversations
                    .message_for(Some(actor), id, Action::Read)
                    .await?;
                new.message_id = Some(message.id.clone());
                new.conversation_id = Some(conversation.id.clone());
                new.subject_user_id = message.user_id.clone();
                new.metadata = json!({ "subject": "MESSAGE" });
            }
            Subject::Conversation(id) => {
                let conversation = self
                    .conversations
                    .authorized(Some(actor), id, Action::Read)
                    .await?;
                new.conversation_id = Some(conversation.id.clone());
                new.subject_user_id = conversation.user_id.clone();
                new.metadata = json!({ "subject": "CONVERSATION" });
            }
            Subject::User(id) => {
                if !can_read_user(Some(actor), id)
                    || users::find(self.db.conn(), id).await?.is_none()
                {
                    return Err(ApiError::NotFound);
                }
                new.subject_user_id = Some(id.clone());
                new.metadata = json!({ "subject": "USER" });
            }
            Subject::Post(id) => {
                // The posts area's read rule: published posts, your own drafts, every post for
                // moderators; anything else is as missing.
                let post = posts::find(self.db.conn(), id)
                    .await?
                    .filter(|p| {
                        can(
                            Some(actor),
                            Action::Read,
                            &Resource::Post {
                                author_id: &p.author_id,
                                published: p.published,
                            },
                        )
                    })
                    .ok_or(ApiError::NotFound)?;
                new.subject_user_id = Some(post.author_id.clone());
                new.metadata = json!({ "subject": "POST", "postId": post.id });
            }
        }
        let txn = self.db.conn().begin().await?;
        let incident = store::create(&txn, new).await?;
        audit::record(
            &txn,
            Some(&actor.user_id),
            "incident.reported",
            "SafetyIncident",
            &incident.id,
            json!({ "category": incident.category, "subject": incident.metadata }),
        )
        .await?;
        txn.commit().await?;
        Ok(incident)
    }

    /// The incident `id` when the caller may read it (its reporter, moderators, admins).
    pub async fn incident(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<Incident>> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        Ok(store::find(self.db.conn(), id)
            .await?
            .filter(|i| can_read(&caller.actor, i)))
    }

    pub async fn incidents_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Incident>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(store::by_ids(self.db.conn(), ids)
            .await?
            .into_iter()
            .filter(|i| can_read(&caller.actor, i))
            .collect())
    }

    /// A page of incidents: every one for moderators, the caller's own reports for others.
    pub async fn incidents(
        &self,
        caller: &Caller,
        status: Option<IncidentStatus>,
        args: &PageArgs,
    ) -> ApiResult<(Page<Incident>, IncidentScope)> {
        let scope = IncidentScope {
            reporter_id: (!moderates(&caller.actor)).then(|| caller.actor.user_id.clone()),
            status: status.map(|s| s.as_str().to_owned()),
        };
        Ok((store::page(self.db.conn(), &scope, args).await?, scope))
    }

    pub async fn count(&self, scope: &IncidentScope) -> ApiResult<u64> {
        Ok(store::count(self.db.conn(), scope).await?)
    }

    pub fn ordering() -> &'static str {
        store::keyset().name
    }

    /// A moderator moves an incident on, with notes and a severity; its reporter is notified.
    /// NOT_FOUND for whoever may not read it, FORBIDDEN for its reporter.
    pub async fn triage(&self, caller: &Caller, id: &str, t: TriageInput) -> ApiResult<Incident> {
        let incident = self
            .incident(Some(caller), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !moderates(&caller.actor) {
            return Err(ApiError::Forbidden("only moderators triage incidents"));
        }
        let from: IncidentStatus = incident
            .status
            .parse()
            .map_err(|e| ApiError::from(persistence::StoreError::from(e)))?;
        if !from.can_move_to(t.status) {
            return Err(ApiError::bad_input(
                "status",
                format!("an {from} incident cannot become {}", t.status),
            ));
        }
        if let Some(n) = &t.notes
            && n.chars().count() > 10_000
        {
            return Err(ApiError::bad_input(
                "notes",
                "must be at most 10000 characters",
            ));
        }
        let closes = matches!(
            t.status,
            IncidentStatus::Resolved | IncidentStatus::Dismissed
        );
        let txn = self.db.conn().begin().await?;
        let moved = store::triage(
            &txn,
            id,
            Triage {
                from: from.as_str().to_owned(),
                to: t.status.as_str().to_owned(),
                severity: t.severity.map(|s| s.as_str().to_owned()),
                notes: t.notes,
                moderator_id: caller.actor.user_id.clone(),
                closes,
            },
        )
        .await?;
        if !moved {
            return Err(ApiError::Conflict("the incident changed meanwhile".into()));
        }
        let told = match &incident.reporter_id {
            Some(reporter) if reporter != &caller.actor.user_id => Some(
                NotificationService::create_in(
                    &txn,
                    NewNotification {
                        user_id: reporter.clone(),
                        kind: "SAFETY".to_owned(),
                        title: format!("Your report is now {}", t.status),
                        body: "A moderator has looked at your report.".to_owned(),
                        data: Some(json!({ "incidentId": id, "status": t.status.as_str() })),
                    },
                )
                .await?,
            ),
            _ => None,
        };
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "incident.triaged",
            "SafetyIncident",
            id,
            json!({
                "from": from.as_str(),
                "to": t.status.as_str(),
                "severity": t.severity.map(|s| s.as_str()),
            }),
        )
        .await?;
        txn.commit().await?;
        if let Some(n) = told {
            self.notifications.published(&n);
        }
        store::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }
}
