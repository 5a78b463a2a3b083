//! Every predicate, its edges, and how it treats missing data; the combinators.

use chrono::{DateTime, TimeDelta, Utc};
use healthcode_core::rules::{
    CaseStatus, ContactKind, Evidence, Facts, QuarantineKind, RegionRisk, RuleSet, TestResult, Verdict,
};
use healthcode_core::{Color, RiskLevel, Symptom};

use crate::support::*;

fn at(rules: &RuleSet, facts: &Facts, risk: &RegionRisk, when: DateTime<Utc>) -> Verdict {
    let v = rules.evaluate_color(facts, risk, when);
    assert_eq!(v, rules.evaluate(facts, risk, when).verdict(), "fast and full paths agree");
    v
}

fn holds(rules: &RuleSet, facts: &Facts, risk: &RegionRisk, when: DateTime<Utc>) -> bool {
    at(rules, facts, risk, when).color == Color::Red
}

fn none() -> RegionRisk {
    RegionRisk::empty()
}

// ── stay ────────────────────────────────────────────────────────────────────────────────

#[test]
fn stay_counts_only_the_part_spent_while_the_level_applied() {
    let n = now();
    let declared = n - days(2);
    let risk = risk_table(vec![risk("420102", RiskLevel::High, declared, None)]);
    let rules = one_rule("", None, "stay(level = high, for = 4h, within = 14d)");
    // 3 h before the declaration and 5 h after it.
    let facts =
        Facts { stays: vec![stay("s1", "420102", declared - hours(3), Some(declared + hours(5)))], ..Facts::default() };
    let v = at(&rules, &facts, &risk, n);
    assert_eq!(v.color, Color::Red);
    assert_eq!(v.since, Some(declared + hours(4)));
    assert_eq!(v.next_review_at, Some(declared + hours(5) + days(14)));
    let rules6 = one_rule("", None, "stay(level = high, for = 6h, within = 14d)");
    assert!(!holds(&rules6, &facts, &risk, n), "only 5 h were spent while it was high-risk");
    // Before the fourth hour was reached it did not hold yet.
    assert!(!holds(&rules, &facts, &risk, declared + hours(4) - TimeDelta::milliseconds(1)));
    assert!(holds(&rules, &facts, &risk, declared + hours(4)));
}

#[test]
fn stay_declarations_cover_the_regions_below_them_only() {
    let n = now();
    let facts_in = |code: &str| Facts {
        stays: vec![stay("s", code, n - days(1), Some(n - days(1) + hours(6)))],
        ..Facts::default()
    };
    let rules = one_rule("", None, "stay(high, for = 4h, within = 14d)");
    let province = risk_table(vec![risk("420000", RiskLevel::High, n - days(10), None)]);
    assert!(holds(&rules, &facts_in("420102"), &province, n), "a county of a high-risk province");
    assert!(holds(&rules, &facts_in("420100"), &province, n), "a city of a high-risk province");
    let county = jiang_an_high();
    assert!(holds(&rules, &facts_in("420102"), &county, n));
    assert!(!holds(&rules, &facts_in("420100"), &county, n), "a stay known by city is not placed in the county");
    assert!(!holds(&rules, &facts_in("420103"), &county, n), "a neighbouring county");
    assert!(!holds(&rules, &facts_in("420102"), &none(), n), "no risk table: nothing is at risk");
}

#[test]
fn stay_level_means_at_or_above() {
    let n = now();
    let facts =
        Facts { stays: vec![stay("s", "420102", n - days(1), Some(n - days(1) + hours(6)))], ..Facts::default() };
    let medium = one_rule("", None, "stay(level = medium, for = 4h, within = 14d)");
    let low = one_rule("", None, "stay(level = low, for = 4h, within = 14d)");
    assert!(holds(&medium, &facts, &jiang_an_high(), n), "high is at or above medium");
    assert!(holds(&low, &facts, &none(), n), "low: any stay of that length");
    let medium_risk = risk_table(vec![risk("420102", RiskLevel::Medium, n - days(10), None)]);
    let high = one_rule("", None, "stay(level = high, for = 4h, within = 14d)");
    assert!(!holds(&high, &facts, &medium_risk, n));
}

#[test]
fn stay_ongoing_and_a_region_lowered_while_there() {
    let n = now();
    let lowered = n + hours(2);
    let risk = risk_table(vec![risk("420102", RiskLevel::High, n - days(10), Some(lowered))]);
    let rules = one_rule("", None, "stay(high, for = 4h, within = 14d)");
    let facts = Facts { stays: vec![stay("s", "420102", n - hours(5), None)], ..Facts::default() };
    let v = at(&rules, &facts, &risk, n);
    assert_eq!(v.color, Color::Red);
    assert_eq!(v.next_review_at, Some(lowered + days(14)), "the part at high risk ends when the region is lowered");
    // Open-ended at an open-ended level: no end while there.
    let v = at(&rules, &facts, &jiang_an_high(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Red, None));
}

#[test]
fn stay_dwell_counts_only_time_certainly_spent_at_the_level() {
    let n = now();
    let declared = n - days(3);
    let risk = risk_table(vec![risk("420102", RiskLevel::High, declared, None)]);
    let rules = one_rule("", None, "stay(high, for = 4h, within = 14d)");
    // A 10 h window, 6 h of it after the declaration; with a dwell of d, at least d - 4 h
    // were spent after it.
    let with_dwell = |d: i64| {
        let mut s = stay("s", "420102", declared - hours(4), Some(declared + hours(6)));
        s.dwell = Some(hours(d));
        Facts { stays: vec![s], ..Facts::default() }
    };
    assert!(holds(&rules, &with_dwell(8), &risk, n));
    assert!(!holds(&rules, &with_dwell(7), &risk, n));
    assert!(holds(&rules, &with_dwell(30), &risk, n), "a dwell longer than the window is the window");
}

#[test]
fn stay_with_bad_times_is_ignored() {
    let n = now();
    let rules = one_rule("", None, "stay(high, for = 0m, within = 14d)");
    let facts = Facts { stays: vec![stay("s", "420102", n - days(1), Some(n - days(2)))], ..Facts::default() };
    assert!(!holds(&rules, &facts, &jiang_an_high(), n));
    let zero = Facts { stays: vec![stay("s", "420102", n - days(1), Some(n - days(1)))], ..Facts::default() };
    assert!(!holds(&rules, &zero, &jiang_an_high(), n));
}

#[test]
fn stay_evidence_names_the_stay_and_the_declaration() {
    let n = now();
    let rules = default_rules();
    let risk = risk_table(vec![risk("420100", RiskLevel::High, n - days(20), None)]);
    let facts = Facts {
        stays: vec![stay("telecom-9", "420102", n - days(2), Some(n - days(2) + hours(5)))],
        ..Facts::default()
    };
    let d = rules.evaluate(&facts, &risk, n);
    let Evidence::Stay { record_id, region_name, counted_minutes, level, risk_region, risk_record_id, .. } =
        &d.reasons[0].evidence[0]
    else {
        panic!("{:?}", d.reasons)
    };
    assert_eq!(record_id, "telecom-9");
    assert_eq!(region_name, "湖北省 武汉市 江岸区");
    assert_eq!(*counted_minutes, 300);
    assert_eq!(*level, RiskLevel::High);
    assert_eq!(*risk_region, Some(region("420100")));
    assert_eq!(risk_record_id.as_deref(), Some("risk-420100"));
}

// ── contact ─────────────────────────────────────────────────────────────────────────────

#[test]
fn contact_kinds_windows_and_holds() {
    let n = now();
    let facts = Facts {
        exposures: vec![
            exposure("e1", ContactKind::Secondary, n - days(3)),
            exposure("e2", ContactKind::Companion, n - days(1)),
        ],
        ..Facts::default()
    };
    assert!(!holds(&one_rule("", Some("14d"), "contact(close)"), &facts, &none(), n));
    assert!(holds(&one_rule("", Some("14d"), "contact(secondary)"), &facts, &none(), n));
    assert!(!holds(&one_rule("", None, "contact(secondary, within = 3d)"), &facts, &none(), n), "exactly 3 days: over");
    let both = one_rule("w = \"2d\"", None, "contact(kind = [secondary, companion], within = $w)");
    let v = at(&both, &facts, &none(), n);
    // The secondary window (n-3d .. n-1d) touches the companion one (n-1d .. n+1d): one stretch.
    assert_eq!((v.color, v.since, v.next_review_at), (Color::Red, Some(n - days(3)), Some(n + days(1))));
}

#[test]
fn a_fact_from_the_future_is_not_yet_in_force_but_is_reviewed() {
    let n = now();
    let facts = Facts { exposures: vec![exposure("e", ContactKind::Close, n + hours(3))], ..Facts::default() };
    let rules = one_rule("", Some("14d"), "contact(close)");
    let v = at(&rules, &facts, &none(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Green, Some(n + hours(3))));
    assert_eq!(at(&rules, &facts, &none(), n + hours(3)).color, Color::Red);
}

// ── case ────────────────────────────────────────────────────────────────────────────────

#[test]
fn case_status_holds_until_the_next_record() {
    let n = now();
    let rules = one_rule("", None, "case([confirmed, asymptomatic])");
    let mut facts = Facts { cases: vec![case("c1", CaseStatus::Asymptomatic, n - days(9))], ..Facts::default() };
    let v = at(&rules, &facts, &none(), n);
    assert_eq!((v.color, v.since, v.next_review_at), (Color::Red, Some(n - days(9)), None));
    facts.cases.push(case("c2", CaseStatus::Confirmed, n - days(5)));
    assert_eq!(at(&rules, &facts, &none(), n).since, Some(n - days(9)), "asymptomatic then confirmed: one stretch");
    facts.cases.push(case("c3", CaseStatus::Recovered, n - days(1)));
    assert_eq!(at(&rules, &facts, &none(), n).color, Color::Green);
    // Two records at the same instant: the later one in the list wins.
    let tie = Facts {
        cases: vec![case("c1", CaseStatus::Suspected, n - days(1)), case("c2", CaseStatus::Excluded, n - days(1))],
        ..Facts::default()
    };
    assert_eq!(at(&one_rule("", None, "case(suspected)"), &tie, &none(), n).color, Color::Green);
}

#[test]
fn case_with_a_window() {
    let n = now();
    let rules = one_rule("", None, "case(recovered, within = 14d)");
    let facts = Facts { cases: vec![case("c", CaseStatus::Recovered, n - days(10))], ..Facts::default() };
    assert_eq!(at(&rules, &facts, &none(), n).next_review_at, Some(n + days(4)));
    assert_eq!(at(&rules, &facts, &none(), n + days(4)).color, Color::Green);
}

// ── symptoms, fever, suspected_contact ──────────────────────────────────────────────────

#[test]
fn symptoms_and_fever() {
    let n = now();
    let hot = Facts { declarations: vec![declaration("d", n - days(1), 37.8, &[], false)], ..Facts::default() };
    let cough =
        Facts { declarations: vec![declaration("d", n - days(1), 36.5, &[Symptom::Cough], false)], ..Facts::default() };
    let fever = one_rule("", None, "fever(within = 7d)");
    let any = one_rule("", Some("7d"), "symptoms");
    let only_cough = one_rule("", Some("7d"), "symptoms(of = [cough, sore_throat])");
    assert!(holds(&fever, &hot, &none(), n), "a measured fever is a fever");
    assert!(holds(&any, &hot, &none(), n));
    assert!(!holds(&only_cough, &hot, &none(), n));
    assert!(!holds(&fever, &cough, &none(), n));
    assert!(holds(&any, &cough, &none(), n));
    assert!(holds(&only_cough, &cough, &none(), n));
    let v = at(&fever, &hot, &none(), n);
    assert_eq!(v.next_review_at, Some(n + days(6)));
    // No temperature given: only declared symptoms count.
    let mut unknown = declaration("d", n - days(1), 36.5, &[], false);
    unknown.temperature = None;
    assert!(!holds(&any, &Facts { declarations: vec![unknown], ..Facts::default() }, &none(), n));
}

#[test]
fn suspected_contact_declared() {
    let n = now();
    let facts = Facts { declarations: vec![declaration("d", n - days(2), 36.5, &[], true)], ..Facts::default() };
    assert!(holds(&one_rule("", Some("14d"), "suspected_contact"), &facts, &none(), n));
    assert!(!holds(&one_rule("", None, "suspected_contact(within = 2d)"), &facts, &none(), n));
}

// ── no_negative_test_since and test ─────────────────────────────────────────────────────

#[test]
fn no_negative_test_since_each_event() {
    let n = now();
    let neg_after = test("t", TestResult::Negative, n - days(1), None);
    for (event, facts) in [
        ("fever", Facts { declarations: vec![declaration("d", n - days(2), 38.0, &[], false)], ..Facts::default() }),
        (
            "symptoms",
            Facts {
                declarations: vec![declaration("d", n - days(2), 36.5, &[Symptom::Cough], false)],
                ..Facts::default()
            },
        ),
        (
            "suspected_contact",
            Facts { declarations: vec![declaration("d", n - days(2), 36.5, &[], true)], ..Facts::default() },
        ),
        ("contact", Facts { exposures: vec![exposure("e", ContactKind::Close, n - days(2))], ..Facts::default() }),
    ] {
        let rules = one_rule("", None, &format!("no_negative_test_since({event})"));
        let v = at(&rules, &facts, &none(), n);
        assert_eq!((v.color, v.since, v.next_review_at), (Color::Red, Some(n - days(2)), None), "{event}");
        let mut tested = facts.clone();
        tested.tests.push(neg_after.clone());
        assert!(!holds(&rules, &tested, &none(), n), "{event}: a negative test after it clears it");
        let mut positive = facts.clone();
        positive.tests.push(test("t", TestResult::Positive, n - days(1), None));
        assert!(holds(&rules, &positive, &none(), n), "{event}: a positive test does not clear it");
        assert!(!holds(&rules, &Facts::default(), &none(), n), "{event}: no event, nothing to clear");
    }
}

#[test]
fn a_negative_result_reported_later_clears_when_it_is_known() {
    let n = now();
    let facts = Facts {
        declarations: vec![declaration("d", n - days(1), 38.0, &[], false)],
        tests: vec![test("t", TestResult::Negative, n - hours(10), Some(n + hours(2)))],
        ..Facts::default()
    };
    let rules = one_rule("", Some("14d"), "fever and no_negative_test_since(fever)");
    let v = at(&rules, &facts, &none(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Red, Some(n + hours(2))));
    assert_eq!(at(&rules, &facts, &none(), n + hours(2)).color, Color::Green);
}

#[test]
fn test_results_within_a_window() {
    let n = now();
    // "No negative test within 72 h" (the 2022 practice of some cities), written with `not`.
    let rules = one_rule("", None, "not test(negative, within = 72h)");
    let facts =
        Facts { tests: vec![test("t", TestResult::Negative, n - hours(30), Some(n - hours(20)))], ..Facts::default() };
    let v = at(&rules, &facts, &none(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Green, Some(n + hours(42))));
    assert_eq!(at(&rules, &facts, &none(), n + hours(42)).color, Color::Red);
    // Before its result was known the test did not count.
    assert_eq!(at(&rules, &facts, &none(), n - hours(21)).color, Color::Red);
    assert_eq!(at(&rules, &Facts::default(), &none(), n).color, Color::Red, "no test at all");
}

// ── missed_declarations ─────────────────────────────────────────────────────────────────

#[test]
fn missed_declarations_count_whole_local_days() {
    let rules = one_rule("", None, "missed_declarations(days = 1)");
    // Declared on the 14th (local); the 15th is missed once it is over: yellow from 16th 00:00.
    let declared = t("2022-04-14T23:59:00+08:00");
    let facts = Facts { declarations: vec![declaration("d", declared, 36.5, &[], false)], ..Facts::default() };
    let v = at(&rules, &facts, &none(), t("2022-04-15T23:59:59+08:00"));
    assert_eq!((v.color, v.next_review_at), (Color::Green, Some(t("2022-04-16T00:00:00+08:00"))));
    let v = at(&rules, &facts, &none(), t("2022-04-16T00:00:00+08:00"));
    assert_eq!((v.color, v.since, v.next_review_at), (Color::Red, Some(t("2022-04-16T00:00:00+08:00")), None));
    // A registration later than the last declaration counts from the registration.
    let late = Facts { registered_at: Some(t("2022-04-15T08:00:00+08:00")), ..facts.clone() };
    assert_eq!(at(&rules, &late, &none(), t("2022-04-16T12:00:00+08:00")).color, Color::Green);
    // Nothing known: nothing to count from.
    assert_eq!(at(&rules, &Facts::default(), &none(), now()).color, Color::Green);
    let d = rules.evaluate(&facts, &none(), t("2022-04-18T12:00:00+08:00"));
    assert_eq!(
        d.reasons[0].evidence,
        vec![Evidence::MissedDeclarations {
            last_declared_day: Some(day("2022-04-14")),
            registered_at: None,
            missed_days: 3
        }]
    );
}

// ── quarantine, override, vaccinated ────────────────────────────────────────────────────

#[test]
fn quarantine_kinds_and_ends() {
    let n = now();
    let mut q = quarantine("q", QuarantineKind::Home, n - days(2), Some(n + days(5)));
    let facts = Facts { quarantines: vec![q.clone()], ..Facts::default() };
    assert!(holds(&one_rule("", None, "quarantine"), &facts, &none(), n), "no kind: any kind");
    assert!(!holds(&one_rule("", None, "quarantine(centralized)"), &facts, &none(), n));
    assert_eq!(at(&one_rule("", None, "quarantine(home)"), &facts, &none(), n).next_review_at, Some(n + days(5)));
    q.ended_at = Some(n - hours(1));
    assert!(!holds(
        &one_rule("", None, "quarantine"),
        &Facts { quarantines: vec![q.clone()], ..Facts::default() },
        &none(),
        n
    ));
    q.ended_at = None;
    q.planned_end = None;
    let open = at(&one_rule("", None, "quarantine"), &Facts { quarantines: vec![q], ..Facts::default() }, &none(), n);
    assert_eq!((open.color, open.next_review_at), (Color::Red, None));
}

#[test]
fn overrides_by_color() {
    let n = now();
    let facts =
        Facts { overrides: vec![override_("o", Color::Yellow, n - days(1), Some(n + days(1)))], ..Facts::default() };
    assert!(holds(&one_rule("", None, "override([red, yellow])"), &facts, &none(), n));
    assert!(!holds(&one_rule("", None, "override(green)"), &facts, &none(), n));
}

#[test]
fn vaccinated_from_the_nth_dose() {
    let n = now();
    let facts = Facts {
        vaccinations: vec![
            vaccination("v2", n - days(100), 2),
            vaccination("v1", n - days(130), 1),
            vaccination("v3", n + days(1), 3),
        ],
        ..Facts::default()
    };
    let v = at(&one_rule("", None, "vaccinated(doses = 2)"), &facts, &none(), n);
    assert_eq!((v.color, v.since), (Color::Red, Some(n - days(100))));
    let v = at(&one_rule("", None, "vaccinated(3)"), &facts, &none(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Green, Some(n + days(1))));
}

// ── combinators ─────────────────────────────────────────────────────────────────────────

#[test]
fn all_any_not_since_and_reviews() {
    let n = now();
    let facts = Facts {
        exposures: vec![
            exposure("a", ContactKind::Close, n - days(3)),
            exposure("b", ContactKind::Secondary, n - days(1)),
        ],
        ..Facts::default()
    };
    let close = "contact(close, within = 5d)"; // holds n-3d .. n+2d
    let second = "contact(secondary, within = 7d)"; // holds n-1d .. n+6d
    let v = at(&one_rule("", None, &format!("{close} and {second}")), &facts, &none(), n);
    assert_eq!((v.since, v.next_review_at), (Some(n - days(1)), Some(n + days(2))), "all: latest start, first end");
    let v = at(&one_rule("", None, &format!("any({close}, {second})")), &facts, &none(), n);
    assert_eq!((v.since, v.next_review_at), (Some(n - days(3)), Some(n + days(6))), "any: earliest start, last end");
    let v = at(&one_rule("", None, &format!("not {close}")), &facts, &none(), n);
    assert_eq!((v.color, v.since, v.next_review_at), (Color::Green, None, Some(n + days(2))));
    let v = at(&one_rule("", None, &format!("not ({close} or {second})")), &facts, &none(), n + days(6));
    assert_eq!((v.color, v.since), (Color::Red, None), "`not` does not know since when");
    // A conjunct false for ever makes the conjunction false for ever: no review.
    let v = at(&one_rule("", None, &format!("{close} and case(confirmed)")), &facts, &none(), n);
    assert_eq!((v.color, v.next_review_at), (Color::Green, None));
    // Nested forms parse and agree.
    let a = at(&one_rule("", None, &format!("all(any({close}, {second}), not case(confirmed))")), &facts, &none(), n);
    let b = at(&one_rule("", None, &format!("({close} or {second}) and not case(confirmed)")), &facts, &none(), n);
    assert_eq!(a, b);
}

#[test]
fn parameters_feed_every_argument_kind() {
    let n = now();
    let rules = one_rule(
        "lvl = \"high\"\nmin = \"4h\"\nwin = \"14d\"\nn = 2",
        None,
        "stay(level = $lvl, for = $min, within = $win) or vaccinated(doses = $n)",
    );
    let facts =
        Facts { stays: vec![stay("s", "420102", n - days(1), Some(n - days(1) + hours(4)))], ..Facts::default() };
    assert!(holds(&rules, &facts, &jiang_an_high(), n));
    let names: Vec<(&str, &str, &str)> =
        rules.parameters().iter().map(|p| (p.name(), p.kind(), p.value_text())).collect();
    assert_eq!(
        names,
        vec![("lvl", "word", "high"), ("min", "duration", "4h"), ("win", "duration", "14d"), ("n", "count", "2")]
    );
}

#[test]
fn a_medium_reason_names_the_medium_declaration() {
    let mut high =
        risk("440106", RiskLevel::High, t("2022-04-01T00:00:00+08:00"), Some(t("2022-04-08T00:00:00+08:00")));
    high.record_id = "tianhe-high".into();
    let mut medium = risk("440106", RiskLevel::Medium, t("2022-04-08T00:00:00+08:00"), None);
    medium.record_id = "tianhe-medium".into();
    let risk = risk_table(vec![high, medium]);
    // 2 h while high, 8 h while medium: yellow, and the reason cites the medium declaration.
    let facts = Facts {
        stays: vec![stay("s", "440106", t("2022-04-07T22:00:00+08:00"), Some(t("2022-04-08T08:00:00+08:00")))],
        ..Facts::default()
    };
    let d = default_rules().evaluate(&facts, &risk, now());
    assert_eq!(d.color, Color::Yellow);
    let Evidence::Stay { level, risk_record_id, counted_minutes, .. } = &d.reasons[0].evidence[0] else { panic!() };
    assert_eq!((*level, risk_record_id.as_deref(), *counted_minutes), (RiskLevel::Medium, Some("tianhe-medium"), 600));
    assert_eq!(
        d.reasons[0].text_en,
        "You stayed 10 hours in 广东省 广州市 天河区 (medium-risk area) from 2022-04-07 22:00."
    );
}
