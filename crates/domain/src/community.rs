//! Azora's marketplace and safety rules (no IO): job and application statuses and who may move
//! them, skill levels and how well a set of skills covers a job, and the moderators' triage of
//! safety incidents.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::enums::UnknownVariant;

macro_rules! community_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

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

community_enum! {
    /// A job listing's life: drafted, open for applications, closed.
    JobStatus { Draft => "DRAFT", Open => "OPEN", Closed => "CLOSED" }
}

community_enum! {
    /// Where an application stands.
    ApplicationStatus {
        Submitted => "SUBMITTED",
        Reviewing => "REVIEWING",
        Interview => "INTERVIEW",
        Offered => "OFFERED",
        Rejected => "REJECTED",
        Withdrawn => "WITHDRAWN",
    }
}

community_enum! {
    /// How well someone knows a skill, least to most.
    SkillLevel {
        Beginner => "BEGINNER",
        Intermediate => "INTERMEDIATE",
        Advanced => "ADVANCED",
        Expert => "EXPERT",
    }
}

community_enum! {
    /// A safety incident's triage.
    IncidentStatus {
        Open => "OPEN",
        Investigating => "INVESTIGATING",
        Resolved => "RESOLVED",
        Dismissed => "DISMISSED",
    }
}

community_enum! {
    /// What a safety incident is about.
    IncidentCategory {
        Harassment => "HARASSMENT",
        SelfHarm => "SELF_HARM",
        Abuse => "ABUSE",
        Spam => "SPAM",
        Fraud => "FRAUD",
        InappropriateContent => "INAPPROPRIATE_CONTENT",
        Other => "OTHER",
    }
}

community_enum! {
    /// How serious a safety incident is.
    IncidentSeverity { Low => "LOW", Medium => "MEDIUM", High => "HIGH", Critical => "CRITICAL" }
}

impl JobStatus {
    /// Draft → open → closed; a draft may also be closed without opening. Nothing reopens.
    pub fn can_move_to(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Draft, Open) | (Draft, Closed) | (Open, Closed)
        )
    }
}

/// Who moves an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The employer who posted the job.
    Employer,
    /// The person who applied.
    Applicant,
}

impl ApplicationStatus {
    /// Whether the application is still in play.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ApplicationStatus::Offered | ApplicationStatus::Rejected | ApplicationStatus::Withdrawn
        )
    }

    /// The employer moves an application forward one step at a time (SUBMITTED → REVIEWING →
    /// INTERVIEW → OFFERED) or rejects it at any open step; the applicant may only withdraw an
    /// open one. Final statuses never move.
    pub fn can_move_to(self, next: ApplicationStatus, by: Mover) -> bool {
        use ApplicationStatus::*;
        if self.is_final() {
            return false;
        }
        match by {
            Mover::Applicant => next == Withdrawn,
            Mover::Employer => matches!(
                (self, next),
                (Submitted, Reviewing)
                    | (Reviewing, Interview)
                    | (Interview, Offered)
                    | (Submitted | Reviewing | Interview, Rejected)
            ),
        }
    }
}

impl IncidentStatus {
    /// OPEN → INVESTIGATING → RESOLVED / DISMISSED; an open report may also be closed at once.
    pub fn can_move_to(self, next: IncidentStatus) -> bool {
        use IncidentStatus::*;
        matches!(
            (self, next),
            (Open, Investigating) | (Open | Investigating, Resolved | Dismissed)
        )
    }
}

/// How well `have` (skill → level) covers a job's `wants` (skill → minimum level, `None` for
/// any level): the share of wanted skills held at or above their level, 0.0 to 1.0. A skill
/// held below its level counts half. A job that wants nothing is fully covered.
pub fn coverage(wants: &[(String, Option<SkillLevel>)], have: &HashMap<String, SkillLevel>) -> f64 {
    if wants.is_empty() {
        return 1.0;
    }
    let score: f64 = wants
        .iter()
        .map(|(skill, min)| match (have.get(skill), min) {
            (None, _) => 0.0,
            (Some(_), None) => 1.0,
            (Some(level), Some(min)) if level >= min => 1.0,
            (Some(_), Some(_)) => 0.5,
        })
        .sum();
    score / wants.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationStatus::*;

    #[test]
    fn applications_move_forward_one_step_and_end() {
        assert!(Submitted.can_move_to(Reviewing, Mover::Employer));
        assert!(Reviewing.can_move_to(Interview, Mover::Employer));
        assert!(Interview.can_move_to(Offered, Mover::Employer));
        assert!(!Submitted.can_move_to(Offered, Mover::Employer));
        assert!(!Submitted.can_move_to(Withdrawn, Mover::Employer));
        assert!(Reviewing.can_move_to(Withdrawn, Mover::Applicant));
        assert!(!Reviewing.can_move_to(Interview, Mover::Applicant));
        assert!(!Offered.can_move_to(Withdrawn, Mover::Applicant));
        assert!(!Rejected.can_move_to(Reviewing, Mover::Employer));
    }

    #[test]
    fn jobs_never_reopen() {
        assert!(JobStatus::Draft.can_move_to(JobStatus::Open));
        assert!(JobStatus::Open.can_move_to(JobStatus::Closed));
        assert!(!JobStatus::Closed.can_move_to(JobStatus::Open));
        assert!(!JobStatus::Open.can_move_to(JobStatus::Draft));
    }

    #[test]
    fn coverage_counts_levels() {
        let wants = vec![
            ("js".to_owned(), Some(SkillLevel::Advanced)),
            ("sql".to_owned(), None),
        ];
        let mut have = HashMap::new();
        assert_eq!(coverage(&wants, &have), 0.0);
        have.insert("sql".to_owned(), SkillLevel::Beginner);
        assert_eq!(coverage(&wants, &have), 0.5);
        have.insert("js".to_owned(), SkillLevel::Intermediate);
        assert_eq!(coverage(&wants, &have), 0.75);
        have.insert("js".to_owned(), SkillLevel::Expert);
        assert_eq!(coverage(&wants, &have), 1.0);
        assert_eq!(coverage(&[], &have), 1.0);
    }
}
