//! The DCC JSON schemas, embedded, and a validator for the part of JSON Schema 2020-12 they
//! use. A general validator (the `jsonschema` crate) would add minutes to a cold build for a
//! dozen keywords; a test checks that every keyword in every embedded schema is one this file
//! implements or one that is only an annotation, so a new schema cannot be half-checked.
//!
//! `format` is an annotation here, as in ajv and Python jsonschema by default: the DCC
//! schema's own valid tests use offsets like `+02` that strict RFC 3339 rejects.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex_lite::Regex;
use serde_json::Value;

macro_rules! schema {
    ($ver:literal) => {
        ($ver, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/dcc-schema/", $ver, ".json")))
    };
}

/// Every release of the combined schema (data/dcc-schema/SOURCE.md), oldest first.
const SCHEMAS: &[(&str, &str)] = &[
    schema!("1.0.0"),
    schema!("1.0.1"),
    schema!("1.1.0"),
    schema!("1.2.0"),
    schema!("1.2.1"),
    schema!("1.3.0"),
    schema!("1.3.1"),
    schema!("1.3.2"),
    schema!("1.3.3"),
];

/// Keywords this validator enforces.
pub const ASSERTIONS: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Keywords that carry no assertion (documentation, identifiers, the DCC's `valueset-uri`,
/// and `format`, see above).
pub const ANNOTATIONS: &[&str] =
    &["$schema", "$id", "$comment", "$defs", "title", "description", "examples", "format", "valueset-uri"];

/// `$ref` chains deeper than this are refused (the DCC schemas need 2).
const MAX_DEPTH: usize = 32;

struct Loaded {
    schemas: Vec<(&'static str, Value)>,
    patterns: HashMap<String, Regex>,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let schemas: Vec<(&'static str, Value)> = SCHEMAS
            .iter()
            .map(|(ver, text)| (*ver, serde_json::from_str(text).expect("embedded DCC schema is JSON (tested)")))
            .collect();
        let mut patterns = HashMap::new();
        for (_, schema) in &schemas {
            collect_patterns(schema, &mut patterns);
        }
        Loaded { schemas, patterns }
    })
}

fn collect_patterns(schema: &Value, out: &mut HashMap<String, Regex>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(p)) = map.get("pattern") {
                out.entry(p.clone())
                    .or_insert_with(|| Regex::new(p).expect("embedded schema pattern compiles (tested)"));
            }
            map.values().for_each(|v| collect_patterns(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

/// The versions embedded, oldest first.
pub fn versions() -> impl Iterator<Item = &'static str> {
    SCHEMAS.iter().map(|(v, _)| *v)
}

/// The schema for a payload's `ver`: that release, or the newest for an unknown version.
pub fn schema_for(ver: Option<&str>) -> (&'static str, &'static Value) {
    let all = &loaded().schemas;
    let (v, s) = all.iter().find(|(v, _)| Some(*v) == ver).unwrap_or_else(|| all.last().expect("schemas embedded"));
    (v, s)
}

/// Validates `instance` against the schema of `ver`; the error names the failing location.
pub fn validate(ver: Option<&str>, instance: &Value) -> Result<(), String> {
    let (_, schema) = schema_for(ver);
    Validator { root: schema, patterns: &loaded().patterns }.check(schema, instance, "", 0)
}

struct Validator<'s> {
    root: &'s Value,
    patterns: &'s HashMap<String, Regex>,
}

fn type_matches(name: &str, v: &Value) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        // JSON Schema counts 1.0 as an integer.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn as_count(v: Option<&Value>) -> Option<usize> {
    v.and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok())
}

impl Validator<'_> {
    fn check(&self, schema: &Value, inst: &Value, at: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{at}: schema nesting too deep"));
        }
        let s = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err(format!("{at}: not allowed")),
            Value::Object(s) => s,
            _ => return Ok(()),
        };
        let place = if at.is_empty() { "the payload" } else { at };
        if let Some(Value::String(r)) = s.get("$ref") {
            let target =
                r.strip_prefix('#').and_then(|p| self.root.pointer(p)).ok_or(format!("unresolvable $ref {r}"))?;
            self.check(target, inst, at, depth + 1)?;
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(name) => type_matches(name, inst),
                Value::Array(names) => names.iter().filter_map(Value::as_str).any(|n| type_matches(n, inst)),
                _ => true,
            };
            if !ok {
                return Err(format!("{place} is not of type {t}"));
            }
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.contains(inst)
        {
            return Err(format!("{place} is not one of the allowed values"));
        }
        if let Some(c) = s.get("const")
            && c != inst
        {
            return Err(format!("{place} is not the required constant"));
        }
        match inst {
            Value::String(text) => self.check_string(s, text, place)?,
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
                    return Err(format!("{place} is below the minimum {}", s["minimum"]));
                }
                if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
                    return Err(format!("{place} is above the maximum {}", s["maximum"]));
                }
            }
            Value::Array(items) => {
                if as_count(s.get("minItems")).is_some_and(|m| items.len() < m) {
                    return Err(format!("{place} has fewer than {} items", s["minItems"]));
                }
                if as_count(s.get("maxItems")).is_some_and(|m| items.len() > m) {
                    return Err(format!("{place} has more than {} items", s["maxItems"]));
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{at}/{i}"), depth + 1)?;
                    }
                }
            }
            Value::Object(fields) => {
                if let Some(Value::Array(required)) = s.get("required") {
                    for name in required.iter().filter_map(Value::as_str) {
                        if !fields.contains_key(name) {
                            return Err(format!("{place} lacks the required field {name:?}"));
                        }
                    }
                }
                if let Some(Value::Object(props)) = s.get("properties") {
                    for (name, sub) in props {
                        if let Some(v) = fields.get(name) {
                            self.check(sub, v, &format!("{at}/{name}"), depth + 1)?;
                        }
                    }
                }
            }
            _ => {}
        }
        self.check_combinators(s, inst, at, place, depth)
    }

    fn check_string(&self, s: &serde_json::Map<String, Value>, text: &str, place: &str) -> Result<(), String> {
        // JSON Schema lengths count code points, not bytes.
        let len = text.chars().count();
        if as_count(s.get("minLength")).is_some_and(|m| len < m) {
            return Err(format!("{place} is shorter than {} characters", s["minLength"]));
        }
        if as_count(s.get("maxLength")).is_some_and(|m| len > m) {
            return Err(format!("{place} is longer than {} characters", s["maxLength"]));
        }
        if let Some(Value::String(p)) = s.get("pattern") {
            let re = self.patterns.get(p).ok_or_else(|| format!("pattern {p} not compiled"))?;
            // ECMA-262 semantics: a search, not a full match; anchors are in the pattern.
            if !re.is_match(text) {
                return Err(format!("{place} does not match the pattern {p}"));
            }
        }
        Ok(())
    }

    fn check_combinators(
        &self,
        s: &serde_json::Map<String, Value>,
        inst: &Value,
        at: &str,
        place: &str,
        depth: usize,
    ) -> Result<(), String> {
        let subs = |k: &str| s.get(k).and_then(Value::as_array).map(Vec::as_slice);
        if let Some(all) = subs("allOf") {
            for sub in all {
                self.check(sub, inst, at, depth + 1)?;
            }
        }
        if let Some(any) = subs("anyOf")
            && !any.iter().any(|sub| self.check(sub, inst, at, depth + 1).is_ok())
        {
            return Err(format!("{place} matches none of the anyOf alternatives"));
        }
        if let Some(one) = subs("oneOf") {
            let n = one.iter().filter(|sub| self.check(sub, inst, at, depth + 1).is_ok()).count();
            if n != 1 {
                return Err(format!("{place} matches {n} of the oneOf alternatives, not exactly one"));
            }
        }
        if let Some(not) = s.get("not")
            && self.check(not, inst, at, depth + 1).is_ok()
        {
            return Err(format!("{place} matches a schema it must not"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keywords(schema: &Value, in_names: bool, out: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                for (k, v) in map {
                    if !in_names {
                        out.push(k.clone());
                    }
                    // Under properties/$defs the keys are names, not keywords.
                    keywords(v, !in_names && (k == "properties" || k == "$defs"), out);
                }
            }
            Value::Array(items) if !in_names => items.iter().for_each(|v| keywords(v, false, out)),
            _ => {}
        }
    }

    #[test]
    fn every_keyword_of_every_schema_is_handled() {
        for (ver, schema) in &loaded().schemas {
            let mut found = Vec::new();
            keywords(schema, false, &mut found);
            for k in found {
                assert!(ASSERTIONS.contains(&k.as_str()) || ANNOTATIONS.contains(&k.as_str()), "{ver}: keyword {k}");
            }
        }
        assert_eq!(loaded().schemas.len(), SCHEMAS.len());
        assert!(!loaded().patterns.is_empty());
    }

    #[test]
    fn unknown_versions_use_the_newest() {
        assert_eq!(schema_for(Some("9.9.9")).0, "1.3.3");
        assert_eq!(schema_for(None).0, "1.3.3");
        assert_eq!(schema_for(Some("1.0.0")).0, "1.0.0");
    }

    #[test]
    fn core_keywords() {
        let root = json!({
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"$ref": "#/$defs/n"}, "s": {"type": "string", "pattern": "^x+$", "maxLength": 2}},
            "oneOf": [{"required": ["b"]}, {"required": ["c"]}],
            "$defs": {"n": {"type": "integer", "minimum": 1}}
        });
        let mut patterns = HashMap::new();
        collect_patterns(&root, &mut patterns);
        let v = Validator { root: &root, patterns: &patterns };
        assert!(v.check(&root, &json!({"a": 1, "b": 0}), "", 0).is_ok());
        assert!(v.check(&root, &json!({"a": 1.0, "b": 0}), "", 0).is_ok());
        assert!(v.check(&root, &json!({"a": 0, "b": 0}), "", 0).unwrap_err().contains("/a"));
        assert!(v.check(&root, &json!({"a": 1}), "", 0).unwrap_err().contains("oneOf"));
        assert!(v.check(&root, &json!({"a": 1, "b": 0, "c": 0}), "", 0).is_err());
        assert!(v.check(&root, &json!({"b": 0}), "", 0).is_err());
        assert!(v.check(&root, &json!({"a": 1, "b": 0, "s": "xy"}), "", 0).is_err());
        assert!(v.check(&root, &json!({"a": 1, "b": 0, "s": "xxx"}), "", 0).is_err());
        assert!(v.check(&root, &json!({"a": 1, "b": 0, "s": "ää"}), "", 0).is_err());
        assert!(v.check(&root, &json!([]), "", 0).is_err());
    }

    #[test]
    fn ref_loops_end() {
        let root = json!({"$ref": "#"});
        let v = Validator { root: &root, patterns: &HashMap::new() };
        assert!(v.check(&root, &json!(1), "", 0).is_err());
    }
}
