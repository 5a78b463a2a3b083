//! Missing, odd and random facts never crash the engine; the fast and full paths agree; the
//! color never changes between now and the next review; mangled rule and example files are
//! refused with positions inside the file, never with a panic.

use chrono::{DateTime, TimeDelta, Utc};
use healthcode_core::rules::{
    CaseStatus, ContactKind, DEFAULT_EXAMPLES, DEFAULT_RULES, Evidence, Facts, QuarantineKind, RegionRisk, RuleSet,
    TestResult, examples,
};
use healthcode_core::{Color, RiskLevel, Symptom};

use crate::support::*;

/// xorshift64*: small, deterministic, good enough to shake the engine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// An instant around `base`: mostly within ±30 days, sometimes exactly on round
    /// boundaries, rarely absurd.
    fn time(&mut self, base: DateTime<Utc>) -> DateTime<Utc> {
        match self.below(20) {
            0 => DateTime::<Utc>::MIN_UTC,
            1 => DateTime::<Utc>::MAX_UTC,
            2..=5 => base + days(self.below(61) as i64 - 30),
            _ => base + TimeDelta::minutes(self.below(60 * 24 * 60) as i64 - 60 * 24 * 30),
        }
    }
    fn opt_time(&mut self, base: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.chance(25) { None } else { Some(self.time(base)) }
    }
}

const REGIONS: [&str; 8] = ["420102", "420100", "420000", "310115", "110112", "131082", "220102", "440106"];

fn any_region(rng: &mut Rng) -> &'static str {
    REGIONS[rng.below(REGIONS.len() as u64) as usize]
}

fn random_risk(rng: &mut Rng, base: DateTime<Utc>) -> RegionRisk {
    let n = rng.below(6);
    RegionRisk::new((0..n).map(|i| {
        let mut p = risk(
            any_region(rng),
            *rng.pick(&[RiskLevel::Low, RiskLevel::Medium, RiskLevel::High]),
            rng.time(base),
            rng.opt_time(base),
        );
        p.record_id = format!("risk-{i}");
        p
    }))
}

fn random_facts(rng: &mut Rng, base: DateTime<Utc>) -> Facts {
    let mut f = Facts { registered_at: rng.opt_time(base), ..Facts::default() };
    for i in 0..rng.below(5) {
        let mut s = stay(&format!("s{i}"), any_region(rng), rng.time(base), rng.opt_time(base));
        if let (false, Some(end)) = (rng.chance(60), s.end) {
            s.start = end.checked_sub_signed(TimeDelta::minutes(rng.below(60 * 12) as i64 - 30)).unwrap_or(end);
        }
        if rng.chance(20) {
            s.dwell = Some(TimeDelta::minutes(rng.below(60 * 20) as i64 - 60));
        }
        f.stays.push(s);
    }
    for i in 0..rng.below(4) {
        let symptoms: Vec<Symptom> = Symptom::ALL.into_iter().filter(|_| rng.chance(15)).collect();
        let celsius = 35.0 + rng.below(50) as f64 / 10.0;
        let mut d = declaration(&format!("d{i}"), rng.time(base), celsius, &symptoms, rng.chance(15));
        if rng.chance(20) {
            d.temperature = None;
        }
        f.declarations.push(d);
    }
    for i in 0..rng.below(3) {
        f.exposures.push(exposure(&format!("e{i}"), *rng.pick(&ContactKind::ALL), rng.time(base)));
    }
    for i in 0..rng.below(3) {
        f.cases.push(case(&format!("c{i}"), *rng.pick(&CaseStatus::ALL), rng.time(base)));
    }
    for i in 0..rng.below(3) {
        let sampled = rng.time(base);
        let reported =
            if rng.chance(50) { sampled.checked_add_signed(TimeDelta::hours(rng.below(48) as i64 - 4)) } else { None };
        f.tests.push(test(&format!("t{i}"), *rng.pick(&TestResult::ALL), sampled, reported));
    }
    for i in 0..rng.below(2) {
        let mut q = quarantine(&format!("q{i}"), *rng.pick(&QuarantineKind::ALL), rng.time(base), rng.opt_time(base));
        q.ended_at = if rng.chance(30) { Some(rng.time(base)) } else { None };
        f.quarantines.push(q);
    }
    for i in 0..rng.below(2) {
        f.overrides.push(override_(
            &format!("o{i}"),
            *rng.pick(&[Color::Green, Color::Yellow, Color::Red]),
            rng.time(base),
            rng.opt_time(base),
        ));
    }
    for i in 0..rng.below(3) {
        f.vaccinations.push(vaccination(&format!("v{i}"), rng.time(base), i as u8 + 1));
    }
    f
}

fn record_ids(f: &Facts) -> Vec<String> {
    let mut ids = Vec::new();
    ids.extend(f.stays.iter().map(|x| x.record_id.clone()));
    ids.extend(f.declarations.iter().map(|x| x.record_id.clone()));
    ids.extend(f.exposures.iter().map(|x| x.record_id.clone()));
    ids.extend(f.cases.iter().map(|x| x.record_id.clone()));
    ids.extend(f.tests.iter().map(|x| x.record_id.clone()));
    ids.extend(f.quarantines.iter().map(|x| x.record_id.clone()));
    ids.extend(f.overrides.iter().map(|x| x.record_id.clone()));
    ids.extend(f.vaccinations.iter().map(|x| x.record_id.clone()));
    ids
}

#[test]
fn random_facts_never_crash_and_reviews_are_never_late() {
    let rules = default_rules();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base = now();
    for round in 0..1500 {
        let facts = random_facts(&mut rng, base);
        let risk = random_risk(&mut rng, base);
        let at = if rng.chance(5) {
            rng.time(base)
        } else {
            base + TimeDelta::minutes(rng.below(60 * 24 * 20) as i64 - 60 * 24 * 10)
        };
        let d = rules.evaluate(&facts, &risk, at);
        let v = rules.evaluate_color(&facts, &risk, at);
        assert_eq!(v, d.verdict(), "round {round}: fast and full paths agree");
        assert_eq!(d.color == Color::Green, d.to_green.is_none(), "round {round}");
        let ids = record_ids(&facts);
        for r in &d.reasons {
            assert!(!r.text_zh.is_empty() && !r.text_en.is_empty());
            for e in &r.evidence {
                if let Some(id) = e.record_id() {
                    assert!(ids.iter().any(|x| x == id), "round {round}: evidence names a real record");
                }
                if let Evidence::Stay { counted_minutes, .. } = e {
                    assert!(*counted_minutes >= 0);
                }
            }
        }
        let holding: Vec<&str> = d.reasons.iter().map(|r| r.rule_id.as_str()).collect();
        if let Some(next) = d.next_review_at {
            assert!(next > at, "round {round}: the review is in the future");
            // Nothing changes before the review.
            let span = (next - at).num_milliseconds();
            for k in 1..=4 {
                let probe =
                    if k == 4 { next - TimeDelta::milliseconds(1) } else { at + TimeDelta::milliseconds(span / 4 * k) };
                if probe <= at {
                    continue;
                }
                let p = rules.evaluate(&facts, &risk, probe);
                let p_holding: Vec<&str> = p.reasons.iter().map(|r| r.rule_id.as_str()).collect();
                assert_eq!(
                    (p.color, &p_holding),
                    (d.color, &holding),
                    "round {round}: changed at {probe} before the review {next}"
                );
            }
        } else {
            // Nothing changes by time alone: a month later, the same.
            if let Some(later) = at.checked_add_signed(days(30)) {
                let p = rules.evaluate(&facts, &risk, later);
                let p_holding: Vec<&str> = p.reasons.iter().map(|r| r.rule_id.as_str()).collect();
                assert_eq!((p.color, &p_holding), (d.color, &holding), "round {round}: changed without a review");
            }
        }
    }
}

#[test]
fn extreme_instants_do_not_overflow() {
    let rules = default_rules();
    let mut facts = Facts { registered_at: Some(DateTime::<Utc>::MIN_UTC), ..Facts::default() };
    facts.stays.push(stay("s", "420102", DateTime::<Utc>::MIN_UTC, None));
    facts.stays.push(stay("s2", "420102", DateTime::<Utc>::MAX_UTC - days(1), Some(DateTime::<Utc>::MAX_UTC)));
    facts.exposures.push(exposure("e", ContactKind::Close, DateTime::<Utc>::MAX_UTC));
    facts.declarations.push(declaration("d", DateTime::<Utc>::MAX_UTC, 39.0, &[], true));
    facts.declarations.push(declaration("d2", DateTime::<Utc>::MIN_UTC, 39.0, &[], true));
    let risk = risk_table(vec![risk("420000", RiskLevel::High, DateTime::<Utc>::MIN_UTC, None)]);
    for at in [DateTime::<Utc>::MIN_UTC, now(), DateTime::<Utc>::MAX_UTC] {
        let d = rules.evaluate(&facts, &risk, at);
        assert_eq!(d.verdict(), rules.evaluate_color(&facts, &risk, at));
    }
}

/// A rule file with characters deleted, duplicated or replaced is refused (or, rarely, still
/// valid), never a panic, and every error points inside the file.
#[test]
fn mangled_rule_files_are_refused_with_positions() {
    let mut rng = Rng(42);
    let chars: Vec<char> = DEFAULT_RULES.chars().collect();
    let noise = ['"', '\'', '(', ')', '[', ']', '{', '}', '$', '=', ',', '\n', '\\', 'x', '9', ' ', '界'];
    let mut refused = 0;
    for _ in 0..400 {
        let mut c = chars.clone();
        for _ in 0..=rng.below(3) {
            let i = rng.below(c.len() as u64) as usize;
            match rng.below(3) {
                0 => {
                    c.remove(i);
                }
                1 => c.insert(i, *rng.pick(&noise)),
                _ => c[i] = *rng.pick(&noise),
            }
        }
        let text: String = c.into_iter().collect();
        let lines = text.lines().count() + 1;
        if let Err(errors) = RuleSet::parse(&text) {
            refused += 1;
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e} outside the file");
                assert!(!e.message.is_empty());
            }
        }
    }
    assert!(refused > 200, "most mangled files are refused ({refused})");
}

#[test]
fn mangled_example_files_never_panic() {
    let rules = default_rules();
    let mut rng = Rng(7);
    let chars: Vec<char> = DEFAULT_EXAMPLES.chars().collect();
    let noise = ['"', '-', '+', '9', 'd', 'x', '\n', '=', '[', ']', ' '];
    for _ in 0..60 {
        let mut c = chars.clone();
        for _ in 0..=rng.below(3) {
            let i = rng.below(c.len() as u64) as usize;
            if rng.chance(50) {
                c.remove(i);
            } else {
                c.insert(i, *rng.pick(&noise));
            }
        }
        let text: String = c.into_iter().collect();
        let report = examples::run(&rules, &text);
        for e in &report.errors {
            assert!(e.line >= 1 && e.column >= 1);
        }
    }
    // Times far out of range are errors, not panics.
    let far = "now = 2022-04-15T12:00:00+08:00\n[[example]]\nname = \"far\"\nexpect = \"green\"\n[[example.contact]]\nkind = \"close\"\nat = \"now + 999999999d999999999h\"\n";
    let report = examples::run(&rules, far);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(report.errors[0].message.contains("out of range"));
}

/// The shape `healthcode bench` measures (not timed here): one shared region table, many
/// people with a few stays and a declaration each, through the allocation-free path.
#[test]
fn bulk_evaluation_through_the_fast_path() {
    let rules = default_rules();
    let n = now();
    let risk = risk_table(vec![
        risk("420100", RiskLevel::High, n - days(20), None),
        risk("310115", RiskLevel::Medium, n - days(20), Some(n - days(2))),
    ]);
    let mut colors = [0usize; 3];
    for i in 0..3000i64 {
        let mut f = Facts { registered_at: Some(n - days(100)), ..Facts::default() };
        for k in 0..3 {
            let start = n - TimeDelta::hours((i * 7 + k * 37) % (24 * 20));
            f.stays.push(stay(
                &format!("s{i}-{k}"),
                REGIONS[((i + k) % 8) as usize],
                start,
                Some(start + TimeDelta::hours((i + k) % 9)),
            ));
        }
        f.declarations.push(declaration(
            &format!("d{i}"),
            n - TimeDelta::hours(i % 30),
            if i % 97 == 0 { 38.0 } else { 36.5 },
            &[],
            false,
        ));
        let v = rules.evaluate_color(&f, &risk, n);
        assert_eq!(v, rules.evaluate(&f, &risk, n).verdict());
        colors[v.color as usize] += 1;
    }
    assert!(colors.iter().all(|c| *c > 0), "every color occurs: {colors:?}");
}
