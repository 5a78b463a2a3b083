//! Who may do what: the roles of API.md.

use serde::{Deserialize, Serialize};

/// A staff role (every account that is not a citizen). Citizens log in by phone and are not
/// staff; "guardian" is a relation between two persons, not an account type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A scanner bound to one venue.
    Checkpoint,
    VenueAdmin,
    /// A health officer, scoped to regions.
    Officer,
    /// Reviews appeals.
    Reviewer,
    /// Reads the audit log, nothing else.
    Auditor,
    /// Creates accounts; reads no personal data.
    Admin,
    /// A data partner (telecom, railway, lab) allowed some import kinds.
    Partner,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Checkpoint, Role::VenueAdmin, Role::Officer, Role::Reviewer, Role::Auditor, Role::Admin, Role::Partner];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Checkpoint => "checkpoint",
            Self::VenueAdmin => "venue_admin",
            Self::Officer => "officer",
            Self::Reviewer => "reviewer",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
            Self::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How a dependent relates to the guardian who registered them (代领).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Child,
    Elder,
    Other,
}

impl Relation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::Elder => "elder",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Child, Self::Elder, Self::Other].into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("citizen"), None);
        assert_eq!(Relation::parse("elder"), Some(Relation::Elder));
    }
}
