//! The risk engine, pure part: published rules over facts → a color with its reasons (R4,
//! R5, R8, R9, R11, R12). The format, every predicate and the default rules are documented
//! in `docs/rules.md`.
//!
//! ```
//! use healthcode_core::rules::{Facts, RegionRisk, RuleSet, DEFAULT_RULES};
//! use healthcode_core::Color;
//!
//! let rules = RuleSet::parse(DEFAULT_RULES).expect("the default rules parse");
//! let now = chrono::DateTime::parse_from_rfc3339("2022-04-15T12:00:00+08:00").unwrap().to_utc();
//! let verdict = rules.evaluate_color(&Facts::default(), &RegionRisk::empty(), now);
//! assert_eq!(verdict.color, Color::Green);
//! ```
//!
//! # The fast path
//!
//! A rule set is compiled once ([`RuleSet::parse`]): conditions become trees of predicates
//! with parameters resolved, durations in milliseconds and sets as bit masks. Then
//! [`RuleSet::evaluate_color`] walks each rule over the facts without allocating or
//! formatting anything and returns a [`Verdict`] (color, since, next review): this is what
//! a scheduler or a bulk re-evaluation calls for millions of people. Region risk lookups go
//! through [`RegionRisk`], built once and shared, which keeps per region the merged spans of
//! medium and high risk (enclosing regions included), behind a cheap hash.
//! [`RuleSet::evaluate`] gives the full [`Decision`] with texts and evidence, for the person
//! who asks and for the stored record; call it when the verdict changed or an explanation is
//! wanted.

mod compile;
mod decision;
mod eval;
pub mod examples;
mod expr;
pub mod facts;
mod load;
mod risk;
mod template;
mod text;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Color;
pub use decision::{Decision, Evidence, Reason, ToGreen, Verdict};
use eval::{Ctx, Node, Truth};
pub use examples::{Example, ExampleResult, ExamplesReport};
pub use facts::{
    Carrier, CaseRecord, CaseStatus, ContactKind, DeclarationFact, Exposure, Facts, LabTest, Override, Quarantine,
    QuarantineKind, Stay, StaySource, TestKind, TestResult, Trip, Vaccination,
};
pub use risk::{RegionRisk, RiskPeriod};
use template::{Fill, Template};
use text::Lang;

/// The default rule set, following 2020–2022 practice.
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");
/// Its examples: facts → expected color, checked by [`examples::run`].
pub const DEFAULT_EXAMPLES: &str = include_str!("../../rules/default.examples.toml");

/// An error in a rule file (or an examples file), at a 1-based line and column; the column
/// counts characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for RuleError {}

/// A parameter declared in the rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    name: String,
    value: compile::ParamValue,
    text: String,
}

impl Parameter {
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Canonical text of the value: `14d`, `3`, `high`.
    pub fn value_text(&self) -> &str {
        &self.text
    }
    /// `duration`, `count` or `word`.
    pub fn kind(&self) -> &'static str {
        self.value.kind()
    }
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    id: String,
    color: Color,
    is_final: bool,
    holds: Option<i64>,
    when: String,
    node: Node,
    explain: [Template; 2],
    to_green: Option<[Template; 2]>,
    explain_text: [String; 2],
    to_green_text: Option<[String; 2]>,
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn color(&self) -> Color {
        self.color
    }
    /// A final rule that holds decides the color alone (approved overrides).
    pub fn is_final(&self) -> bool {
        self.is_final
    }
    /// The default window of the rule's predicates.
    pub fn holds(&self) -> Option<chrono::TimeDelta> {
        self.holds.map(chrono::TimeDelta::milliseconds)
    }
    /// The condition as written.
    pub fn when(&self) -> &str {
        &self.when
    }
}

/// A parsed, compiled rule set. Its version is the SHA-256 of its exact text.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    source: String,
    version: [u8; 32],
    /// `version` in lower-case hex, made once: every decision carries it (a million in a
    /// recoloring), and formatting 32 bytes per decision was a fiftieth of a recoloring's CPU.
    version_hex: String,
    name: Option<String>,
    description: Option<String>,
    parameters: Vec<Parameter>,
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Parses and checks a rule file. On error, every problem found, with its position.
    pub fn parse(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        load::load(text)
    }

    /// The shipped default rule set.
    pub fn default_rules() -> RuleSet {
        Self::parse(DEFAULT_RULES).expect("the default rule set parses (tested)")
    }

    fn new(
        source: &str,
        name: Option<String>,
        description: Option<String>,
        parameters: Vec<Parameter>,
        rules: Vec<Rule>,
    ) -> Self {
        let version: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        let version_hex = version.iter().map(|b| format!("{b:02x}")).collect();
        Self { source: source.to_string(), version, version_hex, name, description, parameters, rules }
    }

    /// Lower-case hex of the SHA-256 of the file's exact bytes.
    pub fn version(&self) -> String {
        self.version_hex.clone()
    }

    /// The first 8 bytes of the version, as carried in signed tokens.
    pub fn version_bytes8(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&self.version[..8]);
        out
    }

    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
    pub fn parameters(&self) -> &[Parameter] {
        &self.parameters
    }

    /// What `GET /api/v1/rules` serves.
    pub fn published(&self) -> PublishedRuleSet {
        PublishedRuleSet {
            version: self.version(),
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self
                .parameters
                .iter()
                .map(|p| PublishedParameter { name: p.name.clone(), kind: p.kind().into(), value: p.text.clone() })
                .collect(),
            rules: self
                .rules
                .iter()
                .map(|r| PublishedRule {
                    id: r.id.clone(),
                    color: r.color,
                    is_final: r.is_final,
                    holds: r.holds.map(text::duration_text),
                    when: r.when.clone(),
                    explain: Texts { zh: r.explain_text[0].clone(), en: r.explain_text[1].clone() },
                    to_green: r.to_green_text.as_ref().map(|[zh, en]| Texts { zh: zh.clone(), en: en.clone() }),
                })
                .collect(),
            source: self.source.clone(),
        }
    }

    /// The color, since when, and the next review, without allocating (see the module
    /// documentation). Same answer as [`RuleSet::evaluate`].
    pub fn evaluate_color(&self, facts: &Facts, regions: &RegionRisk, now: DateTime<Utc>) -> Verdict {
        let ctx = Ctx { facts, risk: regions, now: now.timestamp_millis() };
        let mut acc = Acc::default();
        for rule in &self.rules {
            acc.add(rule, rule.node.eval(&ctx));
        }
        acc.verdict()
    }

    /// The full decision: color, reasons with texts in both languages and evidence, the
    /// rule-set version, the next review, and what turns the person green.
    pub fn evaluate(&self, facts: &Facts, regions: &RegionRisk, now: DateTime<Utc>) -> Decision {
        let mut decision = self.evaluate_unexplained(facts, regions, now);
        self.fill_texts(&mut decision);
        decision
    }

    /// The decision as stored: everything [`RuleSet::evaluate`] gives except the texts (the
    /// reasons' explanations and the hint of what turns the person green are empty). The
    /// texts follow from the rule ids, the reasons' times and evidence, and the rule set of
    /// the decision's version, so [`RuleSet::explain`] gives them back exactly; a stored
    /// decision is then less than half the bytes, and a recoloring of a million people does
    /// not render two million texts nobody reads yet (DESIGN §6: a decision stores the rule
    /// ids, the evidence and the rule-set version).
    pub fn evaluate_unexplained(&self, facts: &Facts, regions: &RegionRisk, now: DateTime<Utc>) -> Decision {
        let ctx = Ctx { facts, risk: regions, now: now.timestamp_millis() };
        let mut acc = Acc::default();
        let truths: Vec<Truth> = self
            .rules
            .iter()
            .map(|rule| {
                let t = rule.node.eval(&ctx);
                acc.add(rule, t);
                t
            })
            .collect();
        let verdict = acc.verdict();
        let final_holds = acc.final_color.is_some();

        let mut reasons: Vec<(usize, Reason)> = Vec::new();
        let mut green_at: Option<Option<i64>> = Some(None);
        for (i, (rule, t)) in self.rules.iter().zip(&truths).enumerate() {
            if !t.holds {
                continue;
            }
            let mut evidence = Vec::new();
            rule.node.evidence(&ctx, &mut evidence);
            let decisive = rule.color == verdict.color
                && (rule.is_final || !final_holds)
                && (rule.color != Color::Green || rule.is_final);
            if rule.color != Color::Green {
                green_at = match (green_at, t.change) {
                    (Some(a), Some(c)) => Some(Some(a.map_or(c, |a: i64| a.max(c)))),
                    _ => None,
                };
            }
            let reason = Reason {
                rule_id: rule.id.clone(),
                color: rule.color,
                decisive,
                since: t.since.and_then(text::from_ms),
                until: t.change.and_then(text::from_ms),
                text_zh: String::new(),
                text_en: String::new(),
                evidence,
            };
            reasons.push((i, reason));
        }
        reasons.sort_by(|(ia, a), (ib, b)| b.decisive.cmp(&a.decisive).then(b.color.cmp(&a.color)).then(ia.cmp(ib)));
        let to_green = (verdict.color != Color::Green).then(|| ToGreen {
            zh: String::new(),
            en: String::new(),
            at: green_at.flatten().and_then(text::from_ms),
        });
        Decision {
            color: verdict.color,
            since: verdict.since,
            evaluated_at: now,
            reasons: reasons.into_iter().map(|(_, r)| r).collect(),
            rule_set_version: self.version(),
            next_review_at: verdict.next_review_at,
            to_green,
        }
    }

    /// Fills in the texts of a decision this rule set made, stored without them
    /// ([`RuleSet::evaluate_unexplained`]): the result equals what [`RuleSet::evaluate`] gave
    /// then. Refused when the decision names another rule-set version (explain it with that
    /// version's rules) or, which that check makes impossible short of a corrupt record, a
    /// rule this set does not have.
    pub fn explain(&self, decision: &mut Decision) -> Result<(), String> {
        if decision.rule_set_version != self.version_hex {
            return Err(format!(
                "the decision was made by rule set {}, not {}",
                decision.rule_set_version,
                self.version()
            ));
        }
        if let Some(r) = decision.reasons.iter().find(|r| self.rule(&r.rule_id).is_none()) {
            return Err(format!("rule {} is not in rule set {}", r.rule_id, self.version()));
        }
        self.fill_texts(decision);
        Ok(())
    }

    fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The texts of a decision's reasons and its hint to green, from the rules it names: one
    /// piece of code for a decision just made and one read back from the store.
    fn fill_texts(&self, decision: &mut Decision) {
        // Hints in the reasons' order (decisive first), each once.
        let mut hints: [Vec<String>; 2] = Default::default();
        for reason in &mut decision.reasons {
            let Some(rule) = self.rule(&reason.rule_id) else { continue };
            let fill = |lang| Fill {
                lang,
                since: reason.since.map(|t| t.timestamp_millis()),
                until: reason.until.map(|t| t.timestamp_millis()),
                holds: rule.holds,
                color: rule.color,
                evidence: &reason.evidence,
            };
            let (zh, en) = (fill(Lang::Zh), fill(Lang::En));
            if rule.color != Color::Green
                && let Some([hz, he]) = &rule.to_green
            {
                for (list, text) in hints.iter_mut().zip([hz.render(&zh), he.render(&en)]) {
                    if !list.contains(&text) {
                        list.push(text);
                    }
                }
            }
            let (text_zh, text_en) = (rule.explain[0].render(&zh), rule.explain[1].render(&en));
            reason.text_zh = text_zh;
            reason.text_en = text_en;
        }
        if let Some(to_green) = &mut decision.to_green {
            let [zh, en] = hints;
            to_green.zh = zh.join("\n");
            to_green.en = en.join("\n");
        }
    }
}

/// Folds rule truths into a verdict: the highest color wins, unless a `final` rule holds,
/// in which case the highest color among the final rules that hold wins.
#[derive(Default)]
struct Acc {
    final_color: Option<Color>,
    color: Option<Color>,
    since_final: [Option<i64>; 3],
    since: [Option<i64>; 3],
    next: Option<i64>,
}

impl Acc {
    #[inline]
    fn add(&mut self, rule: &Rule, t: Truth) {
        if let Some(c) = t.change {
            self.next = Some(self.next.map_or(c, |n| n.min(c)));
        }
        if !t.holds {
            return;
        }
        let (color, since) = if rule.is_final {
            (&mut self.final_color, &mut self.since_final)
        } else {
            (&mut self.color, &mut self.since)
        };
        *color = (*color).max(Some(rule.color));
        let slot = &mut since[rule.color as usize];
        if let Some(s) = t.since {
            *slot = Some(slot.map_or(s, |x| x.min(s)));
        }
    }

    fn verdict(&self) -> Verdict {
        let (color, since) = match self.final_color {
            Some(c) => (c, self.since_final[c as usize]),
            None => {
                let c = self.color.unwrap_or(Color::Green);
                (c, if c == Color::Green { None } else { self.since[c as usize] })
            }
        };
        Verdict { color, since: since.and_then(text::from_ms), next_review_at: self.next.and_then(text::from_ms) }
    }
}

/// The published form of a rule set (`GET /api/v1/rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedRuleSet {
    pub version: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Vec<PublishedParameter>,
    pub rules: Vec<PublishedRule>,
    /// The exact file; its SHA-256 is `version`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedParameter {
    pub name: String,
    /// `duration`, `count` or `word`.
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedRule {
    pub id: String,
    pub color: Color,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The default window, canonical (`14d`).
    pub holds: Option<String>,
    pub when: String,
    /// Explanation templates.
    pub explain: Texts,
    pub to_green: Option<Texts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Texts {
    pub zh: String,
    pub en: String,
}
