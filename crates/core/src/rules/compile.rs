//! From a parsed condition to a compiled one: predicates and arguments checked, parameters
//! resolved, sets turned into bit masks.

use std::collections::HashMap;

use super::eval::{Event, Node, Pred, kind_bit};
use super::expr::{Arg, Expr, Value};
use super::facts::{CaseStatus, ContactKind, QuarantineKind, TestResult, color_bit, symptom_bit};
use super::text::parse_duration;
use crate::{Color, RiskLevel, Symptom};

/// A parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamValue {
    Duration(i64),
    Count(u64),
    Word(String),
}

impl ParamValue {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ParamValue::Duration(_) => "duration",
            ParamValue::Count(_) => "count",
            ParamValue::Word(_) => "word",
        }
    }
}

/// One predicate: its name, its arguments, and the one a bare value stands for.
pub(crate) struct Spec {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub main: &'static str,
}

pub(crate) const SPECS: &[Spec] = &[
    Spec { name: "stay", args: &["level", "for", "within"], main: "level" },
    Spec { name: "contact", args: &["kind", "within"], main: "kind" },
    Spec { name: "case", args: &["status", "within"], main: "status" },
    Spec { name: "symptoms", args: &["of", "within"], main: "of" },
    Spec { name: "fever", args: &["within"], main: "within" },
    Spec { name: "suspected_contact", args: &["within"], main: "within" },
    Spec { name: "no_negative_test_since", args: &["event"], main: "event" },
    Spec { name: "test", args: &["result", "within"], main: "result" },
    Spec { name: "missed_declarations", args: &["days"], main: "days" },
    Spec { name: "quarantine", args: &["kind"], main: "kind" },
    Spec { name: "override", args: &["color"], main: "color" },
    Spec { name: "vaccinated", args: &["doses"], main: "doses" },
];

const LEVELS: &[&str] = &["low", "medium", "high"];
const EVENTS: &[&str] = &["fever", "symptoms", "suspected_contact", "contact"];
const COLORS: &[&str] = &["green", "yellow", "red"];

pub(crate) struct Env<'a> {
    pub params: &'a HashMap<String, ParamValue>,
    /// The rule's `holds`, the default `within`.
    pub holds: Option<i64>,
    pub used_holds: bool,
    pub errors: Vec<(usize, String)>,
}

impl Env<'_> {
    fn err(&mut self, pos: usize, msg: impl Into<String>) {
        self.errors.push((pos, msg.into()));
    }

    pub(crate) fn compile(&mut self, e: &Expr) -> Option<Node> {
        match e {
            Expr::All(items) => self.compile_all(items).map(Node::All),
            Expr::Any(items) => self.compile_all(items).map(Node::Any),
            Expr::Not(inner) => self.compile(inner).map(|n| Node::Not(Box::new(n))),
            Expr::Call { name, pos, args, end } => self.call(name, *pos, args, *end).map(Node::Pred),
        }
    }

    fn compile_all(&mut self, items: &[Expr]) -> Option<Vec<Node>> {
        let nodes: Vec<Option<Node>> = items.iter().map(|i| self.compile(i)).collect();
        nodes.into_iter().collect()
    }

    fn call(&mut self, name: &str, pos: usize, args: &[Arg], end: usize) -> Option<Pred> {
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            let known: Vec<_> = SPECS.iter().map(|s| s.name).collect();
            let hint = match name {
                "true" | "false" | "always" | "never" => "; a rule that always holds is not supported".to_string(),
                _ => String::new(),
            };
            self.err(pos, format!("unknown predicate `{name}`; known: {}{hint}", known.join(", ")));
            return None;
        };
        let mut given: Vec<(&'static str, &Value)> = Vec::new();
        let mut ok = true;
        for (k, arg) in args.iter().enumerate() {
            let (arg_name, at) = match &arg.name {
                Some((n, p)) => (n.as_str(), *p),
                None if k == 0 => (spec.main, arg.value.pos()),
                None => {
                    self.err(arg.value.pos(), format!("only the first argument of `{name}` may go without a name; write `name = value` (known: {})", spec.args.join(", ")));
                    ok = false;
                    continue;
                }
            };
            let Some(known) = spec.args.iter().find(|a| **a == arg_name) else {
                self.err(at, format!("unknown argument `{arg_name}` for `{name}`; known: {}", spec.args.join(", ")));
                ok = false;
                continue;
            };
            if given.iter().any(|(n, _)| n == known) {
                self.err(at, format!("argument `{arg_name}` given twice"));
                ok = false;
                continue;
            }
            given.push((known, &arg.value));
        }
        if !ok {
            return None;
        }
        let mut a = Args { given, pred: name, end };
        let pred = match name {
            "stay" => {
                let level = a
                    .word(self, "level", LEVELS, true)
                    .map(|i| [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][i]);
                let min = a.duration(self, "for", true);
                let within = a.within(self);
                Pred::Stay { level: level?, min: min?, within: within? }
            }
            "contact" => {
                let kinds = a.words(self, "kind", &ContactKind::ALL.map(|k| k.as_str()), true);
                let within = a.within(self);
                Pred::Contact { kinds: mask(kinds?), within: within? }
            }
            "case" => {
                let statuses = a.words(self, "status", &CaseStatus::ALL.map(|k| k.as_str()), true);
                // Without a window, a status holds until the next record.
                let within = if a.has("within") || self.holds.is_some() { Some(a.within(self)?) } else { None };
                Pred::Case { statuses: mask(statuses?), within }
            }
            "symptoms" => {
                let names = Symptom::ALL.map(|s| s.as_str());
                let of = if a.has("of") { a.words(self, "of", &names, true) } else { Some((0..names.len()).collect()) };
                let within = a.within(self);
                let bits = of?.into_iter().fold(0u16, |acc, i| acc | symptom_bit(Symptom::ALL[i]));
                Pred::Symptoms { bits, within: within? }
            }
            "fever" => Pred::Symptoms { bits: symptom_bit(Symptom::Fever), within: a.within(self)? },
            "suspected_contact" => Pred::SuspectedContact { within: a.within(self)? },
            "no_negative_test_since" => {
                let e = a.word(self, "event", EVENTS, true)?;
                Pred::NoNegativeTestSince([Event::Fever, Event::Symptoms, Event::SuspectedContact, Event::Contact][e])
            }
            "test" => {
                let results = a.words(self, "result", &TestResult::ALL.map(|r| r.as_str()), true);
                let within = a.within(self);
                Pred::Test { results: mask(results?), within: within? }
            }
            "missed_declarations" => {
                let days = a.count(self, "days", 1, 365)?;
                Pred::MissedDeclarations { days: days as u32 }
            }
            "quarantine" => {
                let names = QuarantineKind::ALL.map(|k| k.as_str());
                let kinds =
                    if a.has("kind") { a.words(self, "kind", &names, true)? } else { (0..names.len()).collect() };
                Pred::Quarantine { kinds: mask(kinds) }
            }
            "override" => {
                let colors = a.words(self, "color", COLORS, true)?;
                let colors = colors
                    .into_iter()
                    .fold(0u8, |acc, i| acc | color_bit([Color::Green, Color::Yellow, Color::Red][i]));
                Pred::Override { colors }
            }
            "vaccinated" => Pred::Vaccinated { doses: a.count(self, "doses", 1, 20)? as u32 },
            _ => unreachable!("every spec is handled"),
        };
        Some(pred)
    }

    fn param(&mut self, name: &str, pos: usize) -> Option<ParamValue> {
        match self.params.get(name) {
            Some(v) => Some(v.clone()),
            None => {
                let mut known: Vec<_> = self.params.keys().map(|k| format!("${k}")).collect();
                known.sort();
                let known = if known.is_empty() {
                    "none are declared".to_string()
                } else {
                    format!("declared: {}", known.join(", "))
                };
                self.err(pos, format!("unknown parameter `${name}`; {known}"));
                None
            }
        }
    }
}

fn mask(indexes: Vec<usize>) -> u8 {
    indexes.into_iter().fold(0u8, |acc, i| acc | kind_bit(i as u8))
}

struct Args<'v> {
    given: Vec<(&'static str, &'v Value)>,
    pred: &'v str,
    end: usize,
}

impl<'v> Args<'v> {
    fn get(&self, name: &str) -> Option<&'v Value> {
        self.given.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn missing(&self, env: &mut Env, name: &str, example: &str) {
        env.err(self.end.saturating_sub(1), format!("`{}` needs `{name} = …` (e.g. `{name} = {example}`)", self.pred));
    }

    fn within(&mut self, env: &mut Env) -> Option<i64> {
        if self.has("within") {
            return self.duration(env, "within", true);
        }
        match env.holds {
            Some(h) => {
                env.used_holds = true;
                Some(h)
            }
            None => {
                env.err(
                    self.end.saturating_sub(1),
                    format!("`{}` needs a window: `within = …` here or `holds = …` on the rule (e.g. 14d)", self.pred),
                );
                None
            }
        }
    }

    fn duration(&mut self, env: &mut Env, name: &str, required: bool) -> Option<i64> {
        let Some(v) = self.get(name) else {
            if required {
                self.missing(env, name, "4h");
            }
            return None;
        };
        match v {
            Value::Duration(text, pos) => match parse_duration(text) {
                Ok(d) => Some(d),
                Err((off, msg)) => {
                    env.err(pos + off, msg);
                    None
                }
            },
            Value::Param(p, pos) => match env.param(p, *pos)? {
                ParamValue::Duration(d) => Some(d),
                other => {
                    env.err(*pos, format!("`{name}` takes a duration, but `${p}` is a {}", other.kind()));
                    None
                }
            },
            Value::Number(n, pos) => {
                env.err(
                    *pos + n.to_string().len(),
                    format!("`{name}` takes a duration: add a unit, e.g. {n}h or {n}d"),
                );
                None
            }
            other => {
                env.err(other.pos(), format!("`{name}` takes a duration such as 14d, 4h or 30m"));
                None
            }
        }
    }

    fn count(&mut self, env: &mut Env, name: &str, min: u64, max: u64) -> Option<u64> {
        let Some(v) = self.get(name) else {
            self.missing(env, name, "3");
            return None;
        };
        let (n, pos) = match v {
            Value::Number(n, pos) => (*n, *pos),
            Value::Param(p, pos) => match env.param(p, *pos)? {
                ParamValue::Count(n) => (n, *pos),
                other => {
                    env.err(*pos, format!("`{name}` takes a whole number, but `${p}` is a {}", other.kind()));
                    return None;
                }
            },
            other => {
                env.err(other.pos(), format!("`{name}` takes a whole number"));
                return None;
            }
        };
        if n < min || n > max {
            env.err(pos, format!("`{name}` must be between {min} and {max}"));
            return None;
        }
        Some(n)
    }

    /// One word from `allowed`, as its index.
    fn word(&mut self, env: &mut Env, name: &str, allowed: &[&str], required: bool) -> Option<usize> {
        let Some(v) = self.get(name) else {
            if required {
                self.missing(env, name, allowed.last().copied().unwrap_or(""));
            }
            return None;
        };
        if let Value::List(_, pos) = v {
            env.err(*pos, format!("`{name}` takes one of {}, not a list", allowed.join(", ")));
            return None;
        }
        word_index(env, name, v, allowed)
    }

    /// One or more words from `allowed` (a word or a list), as indexes.
    fn words(&mut self, env: &mut Env, name: &str, allowed: &[&str], required: bool) -> Option<Vec<usize>> {
        let Some(v) = self.get(name) else {
            if required {
                self.missing(env, name, allowed.first().copied().unwrap_or(""));
            }
            return None;
        };
        match v {
            Value::List(items, _) => {
                let found: Vec<Option<usize>> = items.iter().map(|i| word_index(env, name, i, allowed)).collect();
                found.into_iter().collect()
            }
            v => word_index(env, name, v, allowed).map(|i| vec![i]),
        }
    }
}

fn word_index(env: &mut Env, name: &str, v: &Value, allowed: &[&str]) -> Option<usize> {
    let (word, pos) = match v {
        Value::Word(w, pos) => (w.clone(), *pos),
        Value::Param(p, pos) => match env.param(p, *pos)? {
            ParamValue::Word(w) => (w, *pos),
            other => {
                env.err(
                    *pos,
                    format!("`{name}` takes one of {}, but `${p}` is a {}", allowed.join(", "), other.kind()),
                );
                return None;
            }
        },
        other => {
            env.err(other.pos(), format!("`{name}` takes one of {}", allowed.join(", ")));
            return None;
        }
    };
    match allowed.iter().position(|a| *a == word) {
        Some(i) => Some(i),
        None => {
            env.err(pos, format!("unknown {name} `{word}`; known: {}", allowed.join(", ")));
            None
        }
    }
}
