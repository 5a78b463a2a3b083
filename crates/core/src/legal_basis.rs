//! The legal bases a manual color change (an override) may cite (R12, R13).
//!
//! In 2022 officials turned bank depositors' codes red to stop them travelling to protest,
//! citing nothing. Here an override must name one of these bases, and each basis allows only
//! the colors it can justify: the epidemic-control articles can make a code red or yellow
//! (isolation, medical observation), the correction bases can only lower a color. A basis
//! that allows red cannot be cited to turn a code green, and nothing here allows red "for
//! public order". The list is published at `GET /api/v1/overrides/legal-bases` and counted
//! in the transparency report.

use serde::Serialize;

use crate::Color;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LegalBasis {
    /// Stable id, cited in an override and in the transparency report.
    pub id: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    /// The colors an override citing this basis may set.
    pub colors: &'static [Color],
}

impl LegalBasis {
    pub fn title(&self, english: bool) -> &'static str {
        if english { self.title_en } else { self.title_zh }
    }

    pub fn allows(&self, color: Color) -> bool {
        self.colors.contains(&color)
    }
}

/// The bases in force. Adding one is a code change, reviewed like any rule change.
pub const LEGAL_BASES: &[LegalBasis] = &[
    LegalBasis {
        id: "prc-idl-art-39",
        title_zh: "《中华人民共和国传染病防治法》第三十九条：对病人、病原携带者、疑似病人及其密切接触者采取隔离、医学观察措施",
        title_en: "PRC Law on the Prevention and Control of Infectious Diseases, art. 39: isolation and medical observation of patients, carriers, suspected patients and their close contacts",
        colors: &[Color::Red, Color::Yellow],
    },
    LegalBasis {
        id: "prc-idl-art-41",
        title_zh: "《中华人民共和国传染病防治法》第四十一条：对已经发生甲类传染病病例的场所或者特定区域的人员实施隔离措施",
        title_en: "PRC Law on the Prevention and Control of Infectious Diseases, art. 41: isolation of the people in a place or area where a class A case occurred",
        colors: &[Color::Red, Color::Yellow],
    },
    LegalBasis {
        id: "appeal-granted",
        title_zh: "申诉核实：经复核，原赋码依据的数据有误",
        title_en: "Appeal granted: on review, the data behind the color was wrong",
        colors: &[Color::Green, Color::Yellow],
    },
    LegalBasis {
        id: "data-correction",
        title_zh: "数据更正：数据提供方确认原始记录错误",
        title_en: "Data correction: the data provider confirmed the source record was wrong",
        colors: &[Color::Green, Color::Yellow],
    },
];

/// The basis with this id, if it is in force.
pub fn legal_basis(id: &str) -> Option<&'static LegalBasis> {
    LEGAL_BASES.iter().find(|b| b.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_no_basis_both_raises_to_red_and_lowers_to_green() {
        let mut ids: Vec<_> = LEGAL_BASES.iter().map(|b| b.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), LEGAL_BASES.len());
        for b in LEGAL_BASES {
            assert!(!(b.allows(Color::Red) && b.allows(Color::Green)), "{}", b.id);
        }
        assert!(legal_basis("public-order").is_none());
    }
}
