//! The system's enums. Each is stored as text in the seeds' spelling (`short-form`, `ACTIVE`) and
//! exposed in GraphQL as an enum; `as_str` and `FromStr` are the one mapping between the two.

use std::fmt;
use std::str::FromStr;

/// A stored enum value that is not one of the known spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Roles: the union of the five seeds' roles, least to most privileged (mostly).
    Role {
        Guest => "GUEST",
        User => "USER",
        Educator => "EDUCATOR",
        Staff => "STAFF",
        Moderator => "MODERATOR",
        Developer => "DEVELOPER",
        Admin => "ADMIN",
    }
}

text_enum! {
    /// Who wrote a message. PARTNER and COACH are 002's scenario voices.
    MessageRole {
        User => "USER",
        Assistant => "ASSISTANT",
        System => "SYSTEM",
        Partner => "PARTNER",
        Coach => "COACH",
    }
}

text_enum! {
    /// Where a message is in its life: AI messages start STREAMING and end in one of the others.
    MessageStatus {
        Complete => "COMPLETE",
        Streaming => "STREAMING",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
}

impl MessageStatus {
    /// Whether no more content will arrive.
    pub const fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Streaming)
    }
}

text_enum! {
    /// 002's SessionStatus, used for every conversation.
    ConversationStatus {
        Active => "ACTIVE",
        Paused => "PAUSED",
        Completed => "COMPLETED",
        Abandoned => "ABANDONED",
    }
}

impl ConversationStatus {
    /// The allowed status transitions: an active conversation can pause, complete or be
    /// abandoned; a paused one can resume or end; ended ones stay ended.
    pub fn can_become(self, next: ConversationStatus) -> bool {
        use ConversationStatus::*;
        matches!(
            (self, next),
            (Active, Paused | Completed | Abandoned) | (Paused, Active | Completed | Abandoned)
        )
    }
}

text_enum! {
    /// Numira's room prompt types.
    PromptType {
        Open => "open",
        Guided => "guided",
        ShortForm => "short-form",
        Targeted => "targeted",
    }
}

text_enum! {
    /// The AI providers a user can bring their own key for.
    KeyProvider {
        Anthropic => "anthropic",
        OpenAi => "openai",
    }
}

text_enum! {
    /// What kind of AI call a usage row accounts for.
    StreamType {
        Chat => "chat",
        Partner => "partner",
        Coach => "coach",
        Title => "title",
        Analysis => "analysis",
    }
}

text_enum! {
    /// What a stored token is for.
    TokenPurpose {
        PersonalAccess => "personal_access",
        EmailVerification => "email_verification",
        PasswordReset => "password_reset",
    }
}

text_enum! {
    /// How a contact method reaches its user (002 `ContactMethod.type`), stored lowercase.
    ContactKind {
        Email => "email",
        Phone => "phone",
        WhatsApp => "whatsapp",
        Sms => "sms",
        Telegram => "telegram",
    }
}

text_enum! {
    /// What a personal API token may do. `read` runs queries and subscriptions, `write` also runs
    /// mutations, `admin` lets the token use its owner's elevated role (without it, a token acts
    /// as a plain USER at most).
    TokenScope {
        Read => "read",
        Write => "write",
        Admin => "admin",
    }
}

impl TokenScope {
    /// Whether a token holding `scopes` may run a mutation.
    pub fn can_write(scopes: &[TokenScope]) -> bool {
        scopes
            .iter()
            .any(|s| matches!(s, TokenScope::Write | TokenScope::Admin))
    }

    /// The role a token holding `scopes` acts with, for an owner of `role`: elevated roles need
    /// the `admin` scope, so a leaked everyday token cannot administer.
    pub fn effective_role(scopes: &[TokenScope], role: Role) -> Role {
        if scopes.contains(&TokenScope::Admin) || matches!(role, Role::Guest | Role::User) {
            role
        } else {
            Role::User
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_spelling() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        for s in TokenScope::ALL {
            assert_eq!(s.as_str().parse::<TokenScope>(), Ok(*s));
        }
        for p in PromptType::ALL {
            assert_eq!(p.as_str().parse::<PromptType>(), Ok(*p));
        }
        for k in ContactKind::ALL {
            assert_eq!(k.as_str().parse::<ContactKind>(), Ok(*k));
        }
        assert_eq!(ContactKind::WhatsApp.as_str(), "whatsapp");
        assert!("EMAIL".parse::<ContactKind>().is_err());
        assert_eq!(PromptType::ShortForm.as_str(), "short-form");
        assert!("short_form".parse::<PromptType>().is_err());
    }

    #[test]
    fn token_scopes_gate_writes_and_elevated_roles() {
        use TokenScope::*;
        assert!(!TokenScope::can_write(&[Read]));
        assert!(TokenScope::can_write(&[Read, Write]));
        assert!(TokenScope::can_write(&[Admin]));
        assert_eq!(
            TokenScope::effective_role(&[Read, Write], Role::Admin),
            Role::User
        );
        assert_eq!(
            TokenScope::effective_role(&[Admin], Role::Admin),
            Role::Admin
        );
        assert_eq!(
            TokenScope::effective_role(&[Read], Role::Guest),
            Role::Guest
        );
        assert_eq!(TokenScope::effective_role(&[Read], Role::Staff), Role::User);
    }

    #[test]
    fn conversation_status_transitions() {
        use ConversationStatus::*;
        assert!(Active.can_become(Paused));
        assert!(Paused.can_become(Active));
        assert!(!Completed.can_become(Active));
        assert!(!Active.can_become(Active));
    }
}
