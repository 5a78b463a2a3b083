//! Decisions: the highest color wins, explanations, the stored record, versions, publishing,
//! and colors returning to green on time.

use chrono::TimeDelta;
use healthcode_core::rules::{
    ContactKind, DEFAULT_EXAMPLES, DEFAULT_RULES, Decision, Evidence, Facts, RegionRisk, examples,
};
use healthcode_core::{Color, RiskLevel};
use sha2::{Digest, Sha256};

use crate::support::*;

const MS: TimeDelta = TimeDelta::milliseconds(1);

#[test]
fn the_highest_color_wins_and_reasons_are_ordered() {
    let n = now();
    let text = r#"
[[rule]]
id = "y1"
color = "yellow"
holds = "7d"
when = "contact(secondary)"
explain.zh = "次密接"
explain.en = "secondary"
to_green.zh = "等{until}"
to_green.en = "wait until {until}"

[[rule]]
id = "r1"
color = "red"
holds = "14d"
when = "contact(close)"
explain.zh = "密接"
explain.en = "close"
to_green.zh = "等{until}"
to_green.en = "wait until {until}"
"#;
    let rules = parse(text);
    let facts = Facts {
        exposures: vec![
            exposure("a", ContactKind::Secondary, n - days(1)),
            exposure("b", ContactKind::Close, n - days(10)),
        ],
        ..Facts::default()
    };
    let d = rules.evaluate(&facts, &RegionRisk::empty(), n);
    assert_eq!(d.color, Color::Red);
    let order: Vec<(&str, bool)> = d.reasons.iter().map(|r| (r.rule_id.as_str(), r.decisive)).collect();
    assert_eq!(order, vec![("r1", true), ("y1", false)]);
    assert_eq!(d.since, Some(n - days(10)));
    assert_eq!(d.next_review_at, Some(n + days(4)), "the red reason ends first");
    let to_green = d.to_green.clone().unwrap();
    assert_eq!(to_green.at, Some(n + days(6)), "green when the last reason ends");
    assert_eq!(to_green.en, "wait until 2022-04-19 12:00\nwait until 2022-04-21 12:00");
    // At the review the red reason is gone and yellow remains, then green.
    assert_eq!(rules.evaluate_color(&facts, &RegionRisk::empty(), n + days(4)).color, Color::Yellow);
    assert_eq!(rules.evaluate_color(&facts, &RegionRisk::empty(), n + days(6)).color, Color::Green);
}

#[test]
fn explanations_are_filled_from_evidence_in_local_time() {
    let n = now();
    let rules = default_rules();
    let facts = Facts { exposures: vec![exposure("trace-7", ContactKind::Close, n - days(13))], ..Facts::default() };
    let d = rules.evaluate(&facts, &RegionRisk::empty(), n);
    let r = &d.reasons[0];
    assert_eq!(r.rule_id, "close-contact");
    assert_eq!(r.text_zh, "您被流调判定为密切接触者，最近一次接触时间为2022-04-02 12:00。");
    assert_eq!(r.text_en, "Contact tracing found you to be a close contact; the last contact was on 2022-04-02 12:00.");
    let g = d.to_green.as_ref().unwrap();
    assert_eq!(g.zh, "最后一次接触满14天（2022-04-16 12:00）后，如无新的风险，自动转为绿码。");
    assert_eq!(g.en, "Turns green 14 days after the last contact (2022-04-16 12:00) if nothing new happens.");
    assert_eq!(g.at, Some(n + days(1)));
    assert_eq!(
        (r.text("en-GB"), r.text("zh-CN"), g.text("en")),
        (r.text_en.as_str(), r.text_zh.as_str(), g.en.as_str())
    );
    assert!(matches!(&r.evidence[..], [Evidence::Contact { record_id, .. }] if record_id == "trace-7"));

    let facts = Facts {
        stays: vec![stay("s", "420102", n - days(2), Some(n - days(2) + hours(5) + minutes(30)))],
        ..Facts::default()
    };
    let d = rules.evaluate(&facts, &jiang_an_high(), n);
    assert_eq!(d.reasons[0].text_zh, "您于2022-04-13 12:00起在湖北省 武汉市 江岸区（高风险地区）停留5.5小时。");
    assert_eq!(
        d.reasons[0].text_en,
        "You stayed 5.5 hours in 湖北省 武汉市 江岸区 (high-risk area) from 2022-04-13 12:00."
    );

    let facts = Facts {
        declarations: vec![declaration("d", n - hours(3), 38.1, &[healthcode_core::Symptom::Cough], false)],
        ..Facts::default()
    };
    let d = rules.evaluate(&facts, &RegionRisk::empty(), n);
    assert_eq!(d.reasons[0].text_zh, "您于2022-04-15 09:00申报了发热、咳嗽。");
    assert_eq!(d.reasons[0].text_en, "You declared fever, cough on 2022-04-15 09:00.");
    assert_eq!(d.to_green.unwrap().at, Some(n - hours(3) + days(14)), "without a test, when the window ends");
}

#[test]
fn green_has_no_reason_no_since_and_nothing_to_do() {
    let d = default_rules().evaluate(&Facts::default(), &RegionRisk::empty(), now());
    assert_eq!((d.color, d.since, d.next_review_at, d.to_green), (Color::Green, None, None, None));
    assert!(d.reasons.is_empty());
}

#[test]
fn a_final_override_decides_and_the_overridden_reasons_stay_visible() {
    let n = now();
    let facts = Facts {
        stays: vec![stay("s", "420102", n - days(2), Some(n - days(2) + hours(6)))],
        overrides: vec![override_("appeal-3", Color::Green, n - days(1), Some(n + days(2)))],
        ..Facts::default()
    };
    let d = default_rules().evaluate(&facts, &jiang_an_high(), n);
    assert_eq!(d.color, Color::Green);
    assert_eq!(d.since, Some(n - days(1)));
    let order: Vec<(&str, bool)> = d.reasons.iter().map(|r| (r.rule_id.as_str(), r.decisive)).collect();
    assert_eq!(order, vec![("override-green", true), ("high-risk-stay", false)]);
    assert_eq!(d.reasons[0].text_en, "Set to green by an approved appeal: 核实 / verified (until 2022-04-17 12:00).");
    assert!(d.to_green.is_none());
    // When it expires, the rules apply again.
    assert_eq!(default_rules().evaluate_color(&facts, &jiang_an_high(), n + days(2)).color, Color::Red);
}

#[test]
fn the_decision_serialises_with_stable_names_and_reads_back() {
    let n = now();
    let facts = Facts {
        stays: vec![stay("s-1", "420102", n - days(2), Some(n - days(2) + hours(6)))],
        exposures: vec![exposure("e-1", ContactKind::Secondary, n - days(1))],
        ..Facts::default()
    };
    let rules = default_rules();
    let d = rules.evaluate(&facts, &jiang_an_high(), n);
    let json = serde_json::to_value(&d).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["color", "evaluated_at", "next_review_at", "reasons", "rule_set_version", "since", "to_green"]);
    assert_eq!(json["color"], "red");
    assert_eq!(json["rule_set_version"], rules.version());
    let reason = &json["reasons"][0];
    let mut keys: Vec<&str> = reason.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["color", "decisive", "evidence", "rule_id", "since", "text_en", "text_zh", "until"]);
    assert_eq!(reason["evidence"][0]["kind"], "stay");
    assert_eq!(reason["evidence"][0]["region"], "420102");
    assert_eq!(reason["evidence"][0]["record_id"], "s-1");
    assert_eq!(json["reasons"][1]["evidence"][0]["contact_kind"], "secondary");
    assert_eq!(json["to_green"]["at"], serde_json::to_value(n - days(2) + hours(6) + days(14)).unwrap());
    let back: Decision = serde_json::from_value(json).unwrap();
    assert_eq!(back, d, "a stored decision is exactly the same record");
}

#[test]
fn a_decision_stored_without_texts_is_explained_back_exactly() {
    // Every example of the default set (every rule, its edges, several reasons at once):
    // the stored form, through JSON as a store keeps it, explained by the same rules, is the
    // decision the rules give with texts.
    let rules = default_rules();
    let all = examples::load(DEFAULT_EXAMPLES).unwrap();
    let (mut with_reasons, mut stored_bytes, mut live_bytes) = (0, 0, 0);
    for e in &all {
        let live = rules.evaluate(&e.facts, &e.regions, e.now);
        let stored = rules.evaluate_unexplained(&e.facts, &e.regions, e.now);
        let json = serde_json::to_string(&stored).unwrap();
        assert!(!json.contains("text_zh") && !json.contains("\"zh\""), "{}: no texts stored: {json}", e.name);
        let mut back: Decision = serde_json::from_str(&json).unwrap();
        rules.explain(&mut back).unwrap();
        assert_eq!(back, live, "{}", e.name);
        if !live.reasons.is_empty() {
            with_reasons += 1;
            assert!(live.reasons.iter().all(|r| !r.text_zh.is_empty() && !r.text_en.is_empty()), "{}", e.name);
            stored_bytes += json.len();
            live_bytes += serde_json::to_string(&live).unwrap().len();
        }
    }
    assert!(with_reasons >= 20, "{with_reasons} examples with reasons");
    assert!(stored_bytes * 3 < live_bytes * 2, "stored {stored_bytes} bytes against {live_bytes} with texts");

    // Another version's rules do not explain it: their texts could differ.
    let e = all.iter().find(|e| e.expect == Color::Red).unwrap();
    let mut stored = rules.evaluate_unexplained(&e.facts, &e.regions, e.now);
    let other = parse(&format!("{DEFAULT_RULES}\n# another version\n"));
    let refused = other.explain(&mut stored).unwrap_err();
    assert!(refused.contains(&rules.version()), "{refused}");
    assert!(stored.reasons.iter().all(|r| r.text_zh.is_empty()), "nothing filled in when refused");
}

#[test]
fn the_version_is_the_hash_of_the_exact_text() {
    let rules = default_rules();
    let digest = Sha256::digest(DEFAULT_RULES.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(rules.version(), hex);
    assert_eq!(rules.version_bytes8(), digest[..8]);
    let changed = parse(&format!("{DEFAULT_RULES}\n# a comment\n"));
    assert_ne!(changed.version(), rules.version(), "any byte changes the version");
    assert_eq!(changed.rules(), rules.rules(), "while the rules are the same");
}

#[test]
fn the_published_form() {
    let rules = default_rules();
    let json = serde_json::to_value(rules.published()).unwrap();
    assert_eq!(json["version"], rules.version());
    assert_eq!(json["source"], DEFAULT_RULES);
    assert_eq!(json["name"], "healthcode default");
    let ids: Vec<&str> = json["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "case",
            "recovered-monitoring",
            "close-contact",
            "secondary-contact",
            "high-risk-stay",
            "medium-risk-stay",
            "symptoms",
            "suspected-contact",
            "missed-declarations",
            "centralized-quarantine",
            "home-quarantine",
            "override-red",
            "override-yellow",
            "override-green"
        ]
    );
    let close = &json["rules"][2];
    assert_eq!(close["holds"], "14d");
    assert_eq!(close["when"], "contact(kind = close)");
    assert_eq!(close["final"], false);
    assert_eq!(close["color"], "red");
    assert!(close["explain"]["zh"].as_str().unwrap().contains("{contact_kind}"));
    assert_eq!(json["rules"][13]["final"], true);
    assert!(json["rules"][13]["to_green"].is_null());
    let params = json["parameters"].as_array().unwrap();
    assert_eq!(params[0], serde_json::json!({"name": "close_contact_window", "kind": "duration", "value": "14d"}));
    assert!(
        params
            .iter()
            .any(|p| p == &serde_json::json!({"name": "missed_declaration_days", "kind": "count", "value": "3"}))
    );
}

#[test]
fn every_default_rule_is_covered_by_an_example() {
    let rules = default_rules();
    let report = examples::run(&rules, DEFAULT_EXAMPLES);
    for rule in rules.rules() {
        assert!(
            report.results.iter().any(|r| r.got_rules.iter().any(|id| id == rule.id())),
            "no example makes `{}` hold",
            rule.id()
        );
    }
    for color in [Color::Green, Color::Yellow, Color::Red] {
        assert!(report.results.iter().any(|r| r.expected == color));
    }
}

/// Every reason of every non-green example stops exactly at its `until`, and following the
/// next reviews the color never changes between two reviews.
#[test]
fn colors_return_to_green_exactly_when_time_is_up() {
    let rules = default_rules();
    for e in examples::load(DEFAULT_EXAMPLES).unwrap() {
        let d = rules.evaluate(&e.facts, &e.regions, e.now);
        let holding = |at| -> Vec<String> {
            rules.evaluate(&e.facts, &e.regions, at).reasons.into_iter().map(|r| r.rule_id).collect()
        };
        for r in &d.reasons {
            if let Some(until) = r.until {
                assert!(
                    holding(until - MS).contains(&r.rule_id),
                    "{}: {} holds until just before {until}",
                    e.name,
                    r.rule_id
                );
                assert!(!holding(until).contains(&r.rule_id), "{}: {} stops at {until}", e.name, r.rule_id);
            }
        }
        if let Some(at) = d.to_green.as_ref().and_then(|g| g.at) {
            let before: Vec<String> =
                d.reasons.iter().filter(|r| r.color != Color::Green).map(|r| r.rule_id.clone()).collect();
            let after = holding(at);
            assert!(before.iter().all(|id| !after.contains(id)), "{}: all reasons gone at to_green.at", e.name);
        }
        // Follow the reviews for 60 days.
        let mut t = e.now;
        let mut v = rules.evaluate_color(&e.facts, &e.regions, t);
        for _ in 0..20 {
            let Some(next) = v.next_review_at else { break };
            assert!(next > t, "{}: reviews move forward", e.name);
            if next > e.now + days(60) {
                break;
            }
            assert_eq!(
                rules.evaluate_color(&e.facts, &e.regions, next - MS).color,
                v.color,
                "{}: stable until {next}",
                e.name
            );
            t = next;
            v = rules.evaluate_color(&e.facts, &e.regions, t);
        }
    }
}

#[test]
fn a_close_contact_turns_green_at_the_next_review() {
    let n = now();
    let rules = default_rules();
    let facts = Facts { exposures: vec![exposure("e", ContactKind::Close, n - days(3))], ..Facts::default() };
    let v = rules.evaluate_color(&facts, &RegionRisk::empty(), n);
    assert_eq!(v.color, Color::Red);
    let review = v.next_review_at.unwrap();
    assert_eq!(review, n + days(11));
    assert_eq!(rules.evaluate_color(&facts, &RegionRisk::empty(), review - MS).color, Color::Red);
    let after = rules.evaluate_color(&facts, &RegionRisk::empty(), review);
    assert_eq!((after.color, after.next_review_at), (Color::Green, None));
}

#[test]
fn a_new_high_risk_declaration_changes_the_color_at_once() {
    // R8: the same facts, a new region table, a new color.
    let n = now();
    let rules = default_rules();
    let facts =
        Facts { stays: vec![stay("s", "310115", n - days(3), Some(n - days(3) + hours(8)))], ..Facts::default() };
    assert_eq!(rules.evaluate_color(&facts, &RegionRisk::empty(), n).color, Color::Green);
    // Declared today, backdated to cover the week before (as announcements did).
    let risk = risk_table(vec![risk("310000", RiskLevel::High, n - days(7), None)]);
    assert_eq!(rules.evaluate_color(&facts, &risk, n).color, Color::Red);
}

#[test]
fn the_examples_runner_reports_failures_by_name_and_file_errors_by_position() {
    let rules = default_rules();
    let wrong = "now = 2022-04-15T12:00:00+08:00\n[[example]]\nname = \"wrong on purpose\"\nexpect = \"red\"\nexpect_rules = [\"case\"]\n";
    let report = examples::run(&rules, wrong);
    assert!(!report.passed());
    let f: Vec<_> = report.failures().collect();
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].name.as_str(), f[0].line, f[0].got), ("wrong on purpose", 2, Color::Green));
    assert_eq!(f[0].problems, ["expected red, got green", "expected rules [case], got []"]);
    assert_eq!(report.summary(), "1 examples: 0 passed, 1 failed");

    let bad = "now = 2022-04-15T12:00:00+08:00\n[[example]]\nname = \"x\"\nexpect = \"green\"\n[[example.stay]]\nregion = \"429999\"\nstart = \"now - 14x\"\n";
    let report = examples::run(&rules, bad);
    let at: Vec<(usize, usize)> = report.errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(6, 10), (7, 18)], "{:#?}", report.errors);
    assert!(report.errors[0].message.contains("429999"));
    assert!(report.errors[1].message.contains("unknown unit `x`"));
    let e = examples::run(&rules, "[[example]]\nname = \"x\"\nexpect = \"green\"\n").errors;
    assert_eq!((e[0].line, e[0].column), (1, 1));
    assert!(e[0].message.contains("has no `now`"), "{}", e[0]);
    let e = examples::run(&rules, "now = 2022-04-15T12:00:00\n[[example]]\nname = \"x\"\nexpect = \"green\"\n").errors;
    assert!(e[0].message.contains("offset"), "{}", e[0]);
}
