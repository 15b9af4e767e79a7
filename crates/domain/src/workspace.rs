//! Workspace rules that need no IO: which project status changes a user may make, and what an
//! AI run's outcome means for its status.

use std::fmt;
use std::str::FromStr;

use crate::enums::UnknownVariant;

/// A project's status (OptiMind `ProjectStatus`), stored in this spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectStatus {
    Active,
    Completed,
    Archived,
    Suspended,
}

impl ProjectStatus {
    pub const ALL: &'static [ProjectStatus] = &[
        ProjectStatus::Active,
        ProjectStatus::Completed,
        ProjectStatus::Archived,
        ProjectStatus::Suspended,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "ACTIVE",
            ProjectStatus::Completed => "COMPLETED",
            ProjectStatus::Archived => "ARCHIVED",
            ProjectStatus::Suspended => "SUSPENDED",
        }
    }

    /// Whether a project may move from `self` to `to` (staying put is always allowed):
    /// an active project can be completed, suspended or archived; a suspended one resumed or
    /// archived; a completed one reopened or archived; an archived one only restored to active.
    pub fn can_become(self, to: ProjectStatus) -> bool {
        use ProjectStatus::{Active, Archived, Completed, Suspended};
        self == to
            || matches!(
                (self, to),
                (Active, Completed | Suspended | Archived)
                    | (Suspended, Active | Archived)
                    | (Completed, Active | Archived)
                    | (Archived, Active)
            )
    }
}

impl FromStr for ProjectStatus {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProjectStatus::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "ProjectStatus",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Below this confidence an AI result goes to a person before it is relied on
/// (REVIEW_REQUIRED).
pub const REVIEW_BELOW_CONFIDENCE: f64 = 0.5;

/// At or above this overall risk a compliance review needs immediate attention
/// (URGENT_ATTENTION).
pub const URGENT_FROM_RISK: f64 = 0.8;

/// Whether a result with this confidence must be reviewed by a person.
pub fn needs_review(confidence: Option<f64>) -> bool {
    confidence.is_some_and(|c| c < REVIEW_BELOW_CONFIDENCE)
}

#[cfg(test)]
mod tests {
    use super::ProjectStatus::*;
    use super::*;

    #[test]
    fn transitions() {
        assert!(Active.can_become(Completed));
        assert!(Active.can_become(Suspended));
        assert!(Suspended.can_become(Active));
        assert!(Completed.can_become(Active));
        assert!(Archived.can_become(Active));
        assert!(Archived.can_become(Archived));
        assert!(!Archived.can_become(Completed));
        assert!(!Archived.can_become(Suspended));
        assert!(!Suspended.can_become(Completed));
        assert!(!Completed.can_become(Suspended));
        for s in ProjectStatus::ALL {
            assert_eq!(s.as_str().parse::<ProjectStatus>().ok(), Some(*s));
        }
    }

    #[test]
    fn review_threshold() {
        assert!(needs_review(Some(0.2)));
        assert!(!needs_review(Some(0.9)));
        assert!(!needs_review(None));
    }
}
