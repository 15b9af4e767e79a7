//! The access policy: who may do what to which record. Every resolver asks [`can`] before it
//! returns or changes a record, and a record the caller may not read is answered exactly like a
//! missing one (NOT_FOUND), so ids cannot be probed.
//!
//! The rules, from the seeds: a user sees and changes their own data; STAFF read research data
//! (practice-programme conversations, invitations, observation notes, telemetry, usage);
//! MODERATORs read and moderate posts and safety incidents; EDUCATORs manage the courses they
//! teach; ADMINs may do everything. GUESTs own their data like users but cannot mint credentials
//! that outlive the guest session (API tokens, stored provider keys). Deactivated accounts are
//! stopped before the policy (they cannot authenticate).

use crate::enums::Role;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
}

impl Actor {
    pub fn new(user_id: impl Into<String>, role: Role) -> Self {
        Self {
            user_id: user_id.into(),
            role,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    fn owns(&self, owner_id: Option<&str>) -> bool {
        owner_id == Some(self.user_id.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

/// A record as the policy sees it: its kind and the facts that decide access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A user account (profile, email, role).
    User { id: &'a str },
    /// A conversation and everything in it (messages, streams, usage, notes). `research` is true
    /// for practice-programme sessions that run under an invitation, which staff may read (and
    /// never change); a user's other conversations are private to them.
    Conversation {
        owner_id: Option<&'a str>,
        research: bool,
    },
    /// Personas, rooms, scenarios, quota presets, skills, published courses, open jobs: the
    /// shared catalogue everyone reads and only admins change.
    Catalogue,
    /// Records that belong to one user and nobody else reads: journals, sessions, API tokens,
    /// contact methods, external identities, provider keys, wallets, notifications, projects,
    /// uploads, analyses, enrollments, applications, subscriptions.
    Owned { owner_id: &'a str },
    /// Credentials that outlive a session (personal API tokens, stored provider keys).
    Credential { owner_id: &'a str },
    /// 002's research records: invitations, observation notes, telemetry, usage logs.
    /// `subject_id` is the user the record is about (an invitation's linked user), who may read it.
    Research { subject_id: Option<&'a str> },
    /// OptiMind posts: public once published; moderators see and moderate all.
    Post { author_id: &'a str, published: bool },
    /// Azora safety incidents: the reporter and moderators.
    SafetyIncident { reporter_id: &'a str },
    /// A course: everyone reads published ones; its educator manages it.
    Course {
        instructor_id: Option<&'a str>,
        published: bool,
    },
    /// Server-wide settings (admin PIN, roles of others, deactivation).
    Administration,
}

/// Whether `actor` may moderate content (feature posts, later handle safety incidents):
/// MODERATORs and ADMINs. DEVELOPERs are users with programmatic access (API tokens, their own
/// provider keys): they own their data exactly like USERs and moderate nothing.
pub fn can_moderate(actor: Option<&Actor>) -> bool {
    actor.is_some_and(|a| matches!(a.role, Role::Moderator | Role::Admin))
}

/// Whether `actor` (None = anonymous) may do `action` to `resource`.
pub fn can(actor: Option<&Actor>, action: Action, resource: &Resource<'_>) -> bool {
    use Action::*;
    use Resource::*;
    let Some(actor) = actor else {
        // Anonymous callers only browse the catalogue and published content.
        return action == Read
            && matches!(
                resource,
                Catalogue
                    | Post {
                        published: true,
                        ..
                    }
                    | Course {
                        published: true,
                        ..
                    }
            );
    };
    if actor.is_admin() {
        return true;
    }
    let role = actor.role;
    match *resource {
        User { id } => actor.user_id == id && action != Create,
        Conversation { owner_id, research } => {
            actor.owns(owner_id) || (research && role == Role::Staff && action == Read)
        }
        Catalogue => action == Read,
        Owned { owner_id } => actor.user_id == owner_id,
        Credential { owner_id } => actor.user_id == owner_id && role != Role::Guest,
        Research { subject_id } => match role {
            Role::Staff => true,
            _ => action == Read && actor.owns(subject_id),
        },
        Post {
            author_id,
            published,
        } => {
            let own = actor.user_id == author_id;
            match action {
                Read => published || own || role == Role::Moderator,
                Create => role != Role::Guest,
                Update | Delete => own || role == Role::Moderator,
            }
        }
        SafetyIncident { reporter_id } => match action {
            Create => true,
            Read => actor.user_id == reporter_id || role == Role::Moderator,
            Update | Delete => role == Role::Moderator,
        },
        Course {
            instructor_id,
            published,
        } => {
            let teaches = role == Role::Educator && actor.owns(instructor_id);
            match action {
                Read => published || teaches,
                Create => role == Role::Educator,
                Update | Delete => teaches,
            }
        }
        Administration => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    /// Moderation (featuring posts) is for moderators and admins; developers are plain users.
    #[test]
    fn moderators_and_admins_moderate() {
        assert!(!can_moderate(None));
        for role in Role::ALL {
            let expected = matches!(role, Role::Moderator | Role::Admin);
            assert_eq!(
                can_moderate(Some(&Actor::new(ME, *role))),
                expected,
                "{role:?}"
            );
        }
        let dev = Actor::new(ME, Role::Developer);
        let others_draft = Resource::Post {
            author_id: OTHER,
            published: false,
        };
        assert!(!can(Some(&dev), Read, &others_draft));
        assert!(can(
            Some(&dev),
            Create,
            &Resource::Post {
                author_id: ME,
                published: false
            }
        ));
        assert!(can(
            Some(&dev),
            Create,
            &Resource::Credential { owner_id: ME }
        ));
    }

    const ME: &str = "me";
    const OTHER: &str = "other";

    fn actor(role: Role) -> Actor {
        Actor::new(ME, role)
    }

    fn allowed(role: Option<Role>, action: Action, r: Resource<'_>) -> bool {
        can(role.map(actor).as_ref(), action, &r)
    }

    /// Every role against every kind of resource, for reads of own and others' records.
    #[test]
    fn role_by_resource_matrix() {
        use Resource::*;
        let roles: Vec<Option<Role>> = std::iter::once(None)
            .chain(Role::ALL.iter().copied().map(Some))
            .collect();
        for role in roles {
            let is = |r: Role| role == Some(r);
            let admin = is(Role::Admin);
            let signed_in = role.is_some();
            let label = format!("{role:?}");

            assert_eq!(
                allowed(role, Read, User { id: ME }),
                signed_in,
                "{label} own user"
            );
            assert_eq!(
                allowed(role, Read, User { id: OTHER }),
                admin,
                "{label} other user"
            );

            let own_chat = Conversation {
                owner_id: Some(ME),
                research: false,
            };
            let other_chat = Conversation {
                owner_id: Some(OTHER),
                research: false,
            };
            let other_research = Conversation {
                owner_id: Some(OTHER),
                research: true,
            };
            assert_eq!(allowed(role, Read, own_chat), signed_in, "{label} own chat");
            assert_eq!(allowed(role, Read, other_chat), admin, "{label} other chat");
            assert_eq!(
                allowed(role, Delete, other_chat),
                admin,
                "{label} delete other chat"
            );
            assert_eq!(
                allowed(role, Read, other_research),
                admin || is(Role::Staff),
                "{label} research chat"
            );
            assert_eq!(
                allowed(role, Update, other_research),
                admin,
                "{label} write research chat"
            );

            assert!(allowed(role, Read, Catalogue), "{label} catalogue");
            assert_eq!(
                allowed(role, Update, Catalogue),
                admin,
                "{label} catalogue write"
            );

            assert_eq!(
                allowed(role, Read, Owned { owner_id: ME }),
                signed_in,
                "{label} own record"
            );
            assert_eq!(
                allowed(role, Read, Owned { owner_id: OTHER }),
                admin,
                "{label} other record"
            );

            assert_eq!(
                allowed(role, Create, Credential { owner_id: ME }),
                signed_in && !is(Role::Guest),
                "{label} credential"
            );
            assert_eq!(
                allowed(role, Read, Credential { owner_id: OTHER }),
                admin,
                "{label} other credential"
            );

            assert_eq!(
                allowed(
                    role,
                    Read,
                    Research {
                        subject_id: Some(OTHER)
                    }
                ),
                admin || is(Role::Staff),
                "{label} research"
            );
            assert_eq!(
                allowed(
                    role,
                    Read,
                    Research {
                        subject_id: Some(ME)
                    }
                ),
                signed_in,
                "{label} research about me"
            );
            assert_eq!(
                allowed(role, Create, Research { subject_id: None }),
                admin || is(Role::Staff),
                "{label} research write"
            );

            let draft = Post {
                author_id: OTHER,
                published: false,
            };
            let public = Post {
                author_id: OTHER,
                published: true,
            };
            assert!(allowed(role, Read, public), "{label} public post");
            assert_eq!(
                allowed(role, Read, draft),
                admin || is(Role::Moderator),
                "{label} draft post"
            );
            assert_eq!(
                allowed(role, Delete, public),
                admin || is(Role::Moderator),
                "{label} moderate post"
            );

            let incident = SafetyIncident { reporter_id: OTHER };
            assert_eq!(
                allowed(role, Read, incident),
                admin || is(Role::Moderator),
                "{label} incident"
            );
            assert_eq!(
                allowed(role, Read, SafetyIncident { reporter_id: ME }),
                signed_in,
                "{label} own incident"
            );

            let my_course = Course {
                instructor_id: Some(ME),
                published: false,
            };
            assert_eq!(
                allowed(role, Update, my_course),
                admin || is(Role::Educator),
                "{label} own course"
            );
            assert_eq!(
                allowed(
                    role,
                    Update,
                    Course {
                        instructor_id: Some(OTHER),
                        published: true
                    }
                ),
                admin,
                "{label} other course"
            );
            assert!(
                allowed(
                    role,
                    Read,
                    Course {
                        instructor_id: Some(OTHER),
                        published: true
                    }
                ),
                "{label} published course"
            );

            for action in [Read, Create, Update, Delete] {
                assert_eq!(
                    allowed(role, action, Administration),
                    admin,
                    "{label} administration {action:?}"
                );
                // Own account: read, rename, close; never another's, except for admins.
                assert_eq!(
                    allowed(role, action, User { id: ME }),
                    signed_in && (action != Create || admin),
                    "{label} own account {action:?}"
                );
                assert_eq!(
                    allowed(role, action, User { id: OTHER }),
                    admin,
                    "{label} other account {action:?}"
                );
                // Sessions, contact methods, identities: only the owner (and admins).
                assert_eq!(
                    allowed(role, action, Owned { owner_id: ME }),
                    signed_in,
                    "{label} own record {action:?}"
                );
                assert_eq!(
                    allowed(role, action, Owned { owner_id: OTHER }),
                    admin,
                    "{label} other record {action:?}"
                );
                // API tokens and provider keys: owners who are not guests.
                assert_eq!(
                    allowed(role, action, Credential { owner_id: ME }),
                    signed_in && !is(Role::Guest),
                    "{label} own credential {action:?}"
                );
                assert_eq!(
                    allowed(role, action, Credential { owner_id: OTHER }),
                    admin,
                    "{label} other credential {action:?}"
                );
            }
        }
    }

    #[test]
    fn nobody_but_admins_creates_users_through_the_policy() {
        assert!(!allowed(
            Some(Role::User),
            Create,
            Resource::User { id: ME }
        ));
        assert!(allowed(
            Some(Role::Admin),
            Create,
            Resource::User { id: OTHER }
        ));
    }

    #[test]
    fn ownerless_conversations_belong_to_nobody() {
        let invitation_only = Resource::Conversation {
            owner_id: None,
            research: true,
        };
        assert!(!allowed(Some(Role::User), Read, invitation_only));
        assert!(allowed(Some(Role::Staff), Read, invitation_only));
    }
}
