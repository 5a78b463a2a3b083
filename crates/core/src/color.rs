//! Code colors and region risk levels.

use serde::{Deserialize, Serialize};

/// The color of a health code. Ordered so that the highest color wins (`max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "green" => Some(Self::Green),
            "yellow" => Some(Self::Yellow),
            "red" => Some(Self::Red),
            _ => None,
        }
    }
}

/// Risk level of a region (低/中/高风险地区).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_color_wins() {
        assert_eq!([Color::Green, Color::Red, Color::Yellow].into_iter().max(), Some(Color::Red));
        assert_eq!(Color::parse(Color::Yellow.as_str()), Some(Color::Yellow));
    }
}
