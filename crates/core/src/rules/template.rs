//! Explanation templates: text with `{placeholder}`s filled from a reason's evidence.
//!
//! `{{` and `}}` are literal braces. `{$name}` is the value of a parameter, in words.
//! A placeholder whose evidence is missing at run time (possible under `any(…)`) renders `—`.

use super::decision::Evidence;
use super::eval::EvidenceKind;
use super::text::{
    Lang, case_word, color_word, contact_word, day_text, duration_words, hours_text, level_word, local_text,
    quarantine_word, symptom_word, test_word,
};
use crate::Color;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    Since,
    Until,
    Holds,
    Color,
    Region,
    RegionCode,
    RiskRegion,
    Level,
    StayStart,
    StayEnd,
    StayHours,
    ContactKind,
    ContactAt,
    CaseStatus,
    CaseAt,
    Symptoms,
    Temperature,
    DeclaredAt,
    LastDeclaredDay,
    MissedDays,
    TestResult,
    TestSampledAt,
    QuarantineKind,
    QuarantineEnd,
    OverrideReason,
    OverrideBasis,
    OverrideUntil,
    Doses,
}

use Placeholder as P;

/// Every placeholder, its name and the evidence it needs.
pub(crate) const PLACEHOLDERS: &[(&str, Placeholder, Option<EvidenceKind>)] = &[
    ("since", P::Since, None),
    ("until", P::Until, None),
    ("holds", P::Holds, None),
    ("color", P::Color, None),
    ("region", P::Region, Some(EvidenceKind::Stay)),
    ("region_code", P::RegionCode, Some(EvidenceKind::Stay)),
    ("risk_region", P::RiskRegion, Some(EvidenceKind::Stay)),
    ("level", P::Level, Some(EvidenceKind::Stay)),
    ("stay_start", P::StayStart, Some(EvidenceKind::Stay)),
    ("stay_end", P::StayEnd, Some(EvidenceKind::Stay)),
    ("stay_hours", P::StayHours, Some(EvidenceKind::Stay)),
    ("contact_kind", P::ContactKind, Some(EvidenceKind::Contact)),
    ("contact_at", P::ContactAt, Some(EvidenceKind::Contact)),
    ("case_status", P::CaseStatus, Some(EvidenceKind::Case)),
    ("case_at", P::CaseAt, Some(EvidenceKind::Case)),
    ("symptoms", P::Symptoms, Some(EvidenceKind::Declaration)),
    ("temperature", P::Temperature, Some(EvidenceKind::Declaration)),
    ("declared_at", P::DeclaredAt, Some(EvidenceKind::Declaration)),
    ("last_declared_day", P::LastDeclaredDay, Some(EvidenceKind::Missed)),
    ("missed_days", P::MissedDays, Some(EvidenceKind::Missed)),
    ("test_result", P::TestResult, Some(EvidenceKind::Test)),
    ("test_sampled_at", P::TestSampledAt, Some(EvidenceKind::Test)),
    ("quarantine_kind", P::QuarantineKind, Some(EvidenceKind::Quarantine)),
    ("quarantine_end", P::QuarantineEnd, Some(EvidenceKind::Quarantine)),
    ("override_reason", P::OverrideReason, Some(EvidenceKind::Override)),
    ("override_basis", P::OverrideBasis, Some(EvidenceKind::Override)),
    ("override_until", P::OverrideUntil, Some(EvidenceKind::Override)),
    ("doses", P::Doses, Some(EvidenceKind::Vaccination)),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Lit(String),
    Ph(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Template(pub Vec<Piece>);

/// What parameters look like to a template: their value in words, per language.
pub(crate) trait ParamWords {
    fn words(&self, name: &str, lang: Lang) -> Option<String>;
}

/// Parses a template. `provides`: the evidence kinds the rule's condition yields. Errors are
/// `(byte offset in text, message)`.
pub(crate) fn parse(
    text: &str,
    lang: Lang,
    params: &dyn ParamWords,
    provides: u16,
    has_holds: bool,
    errors: &mut Vec<(usize, String)>,
) -> Template {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = text.char_indices().peekable();
    while let Some((i, c)) = rest.next() {
        match c {
            '{' if rest.peek().map(|x| x.1) == Some('{') => {
                rest.next();
                lit.push('{');
            }
            '}' if rest.peek().map(|x| x.1) == Some('}') => {
                rest.next();
                lit.push('}');
            }
            '}' => errors.push((i, "unmatched `}` in text; write `}}` for a literal brace".into())),
            '{' => {
                let Some(close) = text[i..].find('}') else {
                    errors.push((i, "unclosed `{` in text; write `{{` for a literal brace".into()));
                    break;
                };
                let name = &text[i + 1..i + close];
                while rest.peek().is_some_and(|(j, _)| *j <= i + close) {
                    rest.next();
                }
                if let Some(param) = name.strip_prefix('$') {
                    match params.words(param, lang) {
                        Some(w) => lit.push_str(&w),
                        None => errors.push((i + 1, format!("unknown parameter `${param}` in text"))),
                    }
                    continue;
                }
                match PLACEHOLDERS.iter().find(|(n, _, _)| *n == name) {
                    None => errors.push((
                        i + 1,
                        format!(
                            "unknown placeholder `{{{name}}}`; known: {}",
                            PLACEHOLDERS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                    Some((_, ph, need)) => {
                        if let Some(kind) = need
                            && provides & (*kind as u16) == 0
                        {
                            errors.push((
                                i + 1,
                                format!(
                                    "placeholder `{{{name}}}` needs {} in this rule's condition",
                                    kind.predicate_hint()
                                ),
                            ));
                        } else if *ph == P::Holds && !has_holds {
                            errors.push((i + 1, "placeholder `{holds}` needs `holds = …` on this rule".into()));
                        }
                        if !lit.is_empty() {
                            out.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        out.push(Piece::Ph(*ph));
                    }
                }
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Template(out)
}

/// What a rendering can draw on.
pub(crate) struct Fill<'a> {
    pub lang: Lang,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub holds: Option<i64>,
    pub color: Color,
    pub evidence: &'a [Evidence],
}

const MISSING: &str = "—";

impl Template {
    pub(crate) fn render(&self, fill: &Fill) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Ph(p) => out.push_str(&value(*p, fill).unwrap_or_else(|| MISSING.to_string())),
            }
        }
        out
    }
}

fn value(p: Placeholder, f: &Fill) -> Option<String> {
    let lang = f.lang;
    let time = |ms: Option<i64>| ms.and_then(super::text::from_ms).map(local_text);
    let stay = f.evidence.iter().find(|e| matches!(e, Evidence::Stay { .. }));
    let contact = f.evidence.iter().find(|e| matches!(e, Evidence::Contact { .. }));
    let case = f.evidence.iter().find(|e| matches!(e, Evidence::Case { .. }));
    let decl = f.evidence.iter().find(|e| matches!(e, Evidence::Declaration { .. }));
    let missed = f.evidence.iter().find(|e| matches!(e, Evidence::MissedDeclarations { .. }));
    let test = f.evidence.iter().find(|e| matches!(e, Evidence::Test { .. }));
    let quarantine = f.evidence.iter().find(|e| matches!(e, Evidence::Quarantine { .. }));
    let over = f.evidence.iter().find(|e| matches!(e, Evidence::Override { .. }));
    let vacc = f.evidence.iter().find(|e| matches!(e, Evidence::Vaccination { .. }));
    Some(match p {
        P::Since => time(f.since)?,
        P::Until => time(f.until)?,
        P::Holds => duration_words(f.holds?, lang),
        P::Color => color_word(f.color, lang).to_string(),
        P::Region | P::RegionCode | P::RiskRegion | P::Level | P::StayStart | P::StayEnd | P::StayHours => {
            let Some(Evidence::Stay { region, region_name, start, end, counted_minutes, level, risk_region, .. }) =
                stay
            else {
                return None;
            };
            match p {
                P::Region => region_name.clone(),
                P::RegionCode => region.to_string(),
                P::RiskRegion => risk_region.map(|r| r.full_name())?,
                P::Level => level_word(*level, lang).to_string(),
                P::StayStart => local_text(*start),
                P::StayEnd => end.map(local_text)?,
                _ => hours_text(counted_minutes * 60_000),
            }
        }
        P::ContactKind | P::ContactAt => {
            let Some(Evidence::Contact { contact_kind, at, .. }) = contact else { return None };
            if p == P::ContactKind { contact_word(*contact_kind, lang).to_string() } else { local_text(*at) }
        }
        P::CaseStatus | P::CaseAt => {
            let Some(Evidence::Case { status, at, .. }) = case else { return None };
            if p == P::CaseStatus { case_word(*status, lang).to_string() } else { local_text(*at) }
        }
        P::Symptoms | P::Temperature | P::DeclaredAt => {
            let Some(Evidence::Declaration { symptoms, temperature, declared_at, .. }) = decl else { return None };
            match p {
                P::Symptoms => {
                    let words: Vec<_> = symptoms.iter().map(|s| symptom_word(*s, lang)).collect();
                    if words.is_empty() {
                        return None;
                    }
                    words.join(if lang == Lang::Zh { "、" } else { ", " })
                }
                P::Temperature => format!("{:.1}", (*temperature)?),
                _ => local_text(*declared_at),
            }
        }
        P::LastDeclaredDay | P::MissedDays => {
            let Some(Evidence::MissedDeclarations { last_declared_day, missed_days, .. }) = missed else { return None };
            if p == P::MissedDays { missed_days.to_string() } else { day_text((*last_declared_day)?) }
        }
        P::TestResult | P::TestSampledAt => {
            let Some(Evidence::Test { result, sampled_at, .. }) = test else { return None };
            if p == P::TestResult { test_word(*result, lang).to_string() } else { local_text(*sampled_at) }
        }
        P::QuarantineKind | P::QuarantineEnd => {
            let Some(Evidence::Quarantine { quarantine_kind, end, .. }) = quarantine else { return None };
            if p == P::QuarantineKind {
                quarantine_word(*quarantine_kind, lang).to_string()
            } else {
                end.map(local_text)?
            }
        }
        P::OverrideReason | P::OverrideBasis | P::OverrideUntil => {
            let Some(Evidence::Override { reason, legal_basis, until, .. }) = over else { return None };
            match p {
                P::OverrideReason => reason.clone(),
                P::OverrideBasis => legal_basis.clone(),
                _ => until.map(local_text)?,
            }
        }
        P::Doses => {
            let Some(Evidence::Vaccination { doses, .. }) = vacc else { return None };
            doses.to_string()
        }
    })
}
