//! Reading a rule file: TOML for the structure, our condition language inside `when`, and
//! explanation templates; every error with the line and column of the file.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use super::compile::{Env, ParamValue};
use super::template::{self, ParamWords, Template};
use super::text::{Lang, StrMap, duration_text, duration_words, level_word, line_col, parse_duration};
use super::{Parameter, Rule, RuleError, RuleSet, expr};
use crate::{Color, RiskLevel};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule_set: Option<RawMeta>,
    #[serde(default)]
    parameters: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    color: Spanned<String>,
    when: Spanned<String>,
    holds: Option<Spanned<String>>,
    #[serde(rename = "final")]
    is_final: Option<bool>,
    explain: RawTexts,
    to_green: Option<RawTexts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTexts {
    zh: Spanned<String>,
    en: Spanned<String>,
}

/// Errors as `(file byte offset, message)`, turned into lines and columns at the end.
struct Errors<'a> {
    file: &'a str,
    list: Vec<(usize, String)>,
}

impl Errors<'_> {
    fn at(&mut self, offset: usize, msg: impl Into<String>) {
        self.list.push((offset, msg.into()));
    }

    /// Errors found inside a string value, at offsets of its decoded text.
    fn inside(&mut self, value: &Spanned<String>, errors: Vec<(usize, String)>) {
        let map = StrMap::new(self.file, value.span(), value.get_ref());
        for (off, msg) in errors {
            self.list.push((map.file_offset(off), msg));
        }
    }

    fn finish(self) -> Vec<RuleError> {
        let mut list = self.list;
        list.sort_by_key(|(o, _)| *o);
        list.dedup();
        list.into_iter().map(|(o, message)| error_at(self.file, o, message)).collect()
    }
}

pub(crate) fn error_at(file: &str, offset: usize, message: String) -> RuleError {
    let (line, column) = line_col(file, offset);
    RuleError { line, column, message }
}

/// A TOML syntax or shape error.
pub(crate) fn toml_error(file: &str, e: &toml::de::Error) -> RuleError {
    error_at(file, e.span().map_or(0, |s| s.start), e.message().trim().to_string())
}

pub(crate) fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn is_rule_id(s: &str) -> bool {
    let mut b = s.bytes();
    s.len() <= 64
        && b.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

struct Words<'a>(&'a HashMap<String, ParamValue>);

impl ParamWords for Words<'_> {
    fn words(&self, name: &str, lang: Lang) -> Option<String> {
        Some(match self.0.get(name)? {
            ParamValue::Duration(d) => duration_words(*d, lang),
            ParamValue::Count(n) => n.to_string(),
            ParamValue::Word(w) => match w.as_str() {
                "low" => level_word(RiskLevel::Low, lang).to_string(),
                "medium" => level_word(RiskLevel::Medium, lang).to_string(),
                "high" => level_word(RiskLevel::High, lang).to_string(),
                w => w.to_string(),
            },
        })
    }
}

pub(crate) fn load(text: &str) -> Result<RuleSet, Vec<RuleError>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![toml_error(text, &e)])?;
    let mut errors = Errors { file: text, list: Vec::new() };

    // Parameters, in file order.
    let mut entries: Vec<_> = raw.parameters.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut params: HashMap<String, ParamValue> = HashMap::new();
    let mut parameters = Vec::new();
    for (key, value) in entries {
        let name = key.get_ref();
        if !is_name(name) {
            errors.at(key.span().start, format!("parameter name `{name}`: use lower-case letters, digits and `_`"));
            continue;
        }
        let parsed = match value.get_ref() {
            toml::Value::Integer(n) if *n >= 0 => Some(ParamValue::Count(*n as u64)),
            toml::Value::String(s) if s.starts_with(|c: char| c.is_ascii_digit()) => match parse_duration(s) {
                Ok(d) => Some(ParamValue::Duration(d)),
                Err((off, msg)) => {
                    let map = StrMap::new(text, value.span(), s);
                    errors.at(map.file_offset(off), msg);
                    None
                }
            },
            toml::Value::String(s) if is_name(s) => Some(ParamValue::Word(s.clone())),
            _ => {
                errors.at(
                    value.span().start,
                    "a parameter is a duration (\"14d\", \"4h\", \"3h59m\"), a whole number (3) or a word (\"high\")",
                );
                None
            }
        };
        if let Some(v) = parsed {
            let shown = match &v {
                ParamValue::Duration(d) => duration_text(*d),
                ParamValue::Count(n) => n.to_string(),
                ParamValue::Word(w) => w.clone(),
            };
            parameters.push(Parameter { name: name.clone(), value: v.clone(), text: shown });
            params.insert(name.clone(), v);
        }
    }
    let words = Words(&params);

    if raw.rule.is_empty() {
        errors.at(text.len(), "no rules: a rule set needs at least one `[[rule]]`");
    }
    let mut rules: Vec<Rule> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for spanned in &raw.rule {
        let r = spanned.get_ref();
        let rule_start = spanned.span().start;
        let mut ok = true;

        let id = r.id.get_ref().clone();
        if !is_rule_id(&id) {
            errors.at(
                r.id.span().start,
                format!("rule id `{id}`: use lower-case letters, digits, `-` and `_` (at most 64)"),
            );
            ok = false;
        } else if ids.contains(&id) {
            errors.at(r.id.span().start, format!("duplicate rule id `{id}`"));
            ok = false;
        }
        ids.push(id.clone());

        let color = Color::parse(r.color.get_ref());
        let is_final = r.is_final.unwrap_or(false);
        match color {
            None => {
                errors.at(
                    r.color.span().start,
                    format!("unknown color `{}`; colors are green, yellow, red", r.color.get_ref()),
                );
                ok = false;
            }
            Some(Color::Green) if !is_final => {
                errors.at(
                    r.color.span().start,
                    "a green rule can never change a color (the highest color wins) unless it is `final = true`",
                );
                ok = false;
            }
            _ => {}
        }

        let holds = match &r.holds {
            None => None,
            Some(h) => match holds_value(h, &params) {
                Ok(d) => Some(d),
                Err(errs) => {
                    errors.inside(h, errs);
                    ok = false;
                    None
                }
            },
        };

        let mut env = Env { params: &params, holds, used_holds: false, errors: Vec::new() };
        let node = match expr::parse(r.when.get_ref()) {
            Ok(e) => env.compile(&e),
            Err(e) => {
                env.errors.push(e);
                None
            }
        };
        let expr_errors = std::mem::take(&mut env.errors);
        let failed = !expr_errors.is_empty() || node.is_none();
        errors.inside(&r.when, expr_errors);
        if failed {
            ok = false;
        }
        if let (Some(h), Some(_)) = (&r.holds, &node)
            && !env.used_holds
        {
            errors.at(
                h.span().start,
                "`holds` is not used: no predicate of this rule takes a window (`within`) without giving one",
            );
            ok = false;
        }
        let provides = node.as_ref().map_or(u16::MAX, |n| n.provides());

        let mut texts = |t: &RawTexts, errors: &mut Errors| -> [Template; 2] {
            [(&t.zh, Lang::Zh), (&t.en, Lang::En)].map(|(s, lang)| {
                let mut errs = Vec::new();
                let tpl = template::parse(s.get_ref(), lang, &words, provides, holds.is_some(), &mut errs);
                if !errs.is_empty() {
                    ok = false;
                }
                errors.inside(s, errs);
                tpl
            })
        };
        let explain = texts(&r.explain, &mut errors);
        let to_green = r.to_green.as_ref().map(|t| texts(t, &mut errors));
        if to_green.is_none() && color.is_some_and(|c| c != Color::Green) {
            errors.at(
                rule_start,
                format!("rule `{id}` needs `to_green.zh` and `to_green.en`: what turns the person green"),
            );
            ok = false;
        }

        if let (true, Some(color), Some(node)) = (ok, color, node) {
            rules.push(Rule {
                id,
                color,
                is_final,
                holds,
                when: r.when.get_ref().clone(),
                node,
                explain,
                to_green,
                explain_text: [r.explain.zh.get_ref().clone(), r.explain.en.get_ref().clone()],
                to_green_text: r.to_green.as_ref().map(|t| [t.zh.get_ref().clone(), t.en.get_ref().clone()]),
            });
        }
    }

    let errors = errors.finish();
    if !errors.is_empty() {
        return Err(errors);
    }
    let meta = raw.rule_set.unwrap_or(RawMeta { name: None, description: None });
    Ok(RuleSet::new(text, meta.name, meta.description, parameters, rules))
}

fn holds_value(h: &Spanned<String>, params: &HashMap<String, ParamValue>) -> Result<i64, Vec<(usize, String)>> {
    let s = h.get_ref();
    if let Some(name) = s.strip_prefix('$') {
        return match params.get(name) {
            Some(ParamValue::Duration(d)) => Ok(*d),
            Some(other) => Err(vec![(0, format!("`holds` takes a duration, but `${name}` is a {}", other.kind()))]),
            None => Err(vec![(0, format!("unknown parameter `${name}`"))]),
        };
    }
    parse_duration(s).map_err(|e| vec![e])
}
