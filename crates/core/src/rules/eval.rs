//! Compiled conditions and their evaluation.
//!
//! Every predicate is evaluated to a [`Truth`]: whether it holds now, since when (the start
//! of the uninterrupted stretch during which it has held), and the next instant its value
//! changes by time passing alone, given the same facts. Most predicates are a set of
//! half-open intervals `[start, end)` derived from facts ("a close contact at t makes
//! `contact(kind = close, within = 14d)` hold during `[t, t + 14d)`"); the truth is then
//! exact: it holds iff some interval contains now, `since` is the start of the connected
//! union around now and the change is its end (or the next start when it does not hold).
//!
//! Nothing here allocates: times are milliseconds since the epoch, sets are bit masks.

use chrono::{DateTime, NaiveDate, Utc};

use super::decision::Evidence;
use super::facts::{Facts, symptom_bit};
use super::risk::{OPEN, RegionRisk, Span};
use super::text::{DAY, HOUR, local_day};
use crate::{RiskLevel, Symptom};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truth {
    pub holds: bool,
    /// When it started to hold, if known (`not …` does not know).
    pub since: Option<i64>,
    /// The next instant after now at which the value may change; `None`: never, by time alone.
    /// Exact for predicates; a lower bound for `all`/`any`, so reviews are early, never late.
    pub change: Option<i64>,
}

const FALSE_FOREVER: Truth = Truth { holds: false, since: None, change: None };

pub(crate) struct Ctx<'a> {
    pub facts: &'a Facts,
    pub risk: &'a RegionRisk,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Pred(Pred),
}

/// Events after which `no_negative_test_since` looks for a negative test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Fever,
    Symptoms,
    SuspectedContact,
    Contact,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pred {
    Stay { level: RiskLevel, min: i64, within: i64 },
    Contact { kinds: u8, within: i64 },
    Case { statuses: u8, within: Option<i64> },
    Symptoms { bits: u16, within: i64 },
    SuspectedContact { within: i64 },
    NoNegativeTestSince(Event),
    Test { results: u8, within: i64 },
    MissedDeclarations { days: u32 },
    Quarantine { kinds: u8 },
    Override { colors: u8 },
    Vaccinated { doses: u32 },
}

/// What kind of evidence a predicate contributes, as a bit (templates check against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvidenceKind {
    Stay = 1,
    Contact = 2,
    Case = 4,
    Declaration = 8,
    Test = 16,
    Missed = 32,
    Quarantine = 64,
    Override = 128,
    Vaccination = 256,
}

impl EvidenceKind {
    pub(crate) fn predicate_hint(self) -> &'static str {
        match self {
            Self::Stay => "stay(…)",
            Self::Contact => "contact(…)",
            Self::Case => "case(…)",
            Self::Declaration => "symptoms(…), fever(…) or suspected_contact(…)",
            Self::Test => "test(…)",
            Self::Missed => "missed_declarations(…)",
            Self::Quarantine => "quarantine(…)",
            Self::Override => "override(…)",
            Self::Vaccination => "vaccinated(…)",
        }
    }
}

/// One interval during which a predicate holds, from the fact at `idx`.
#[derive(Debug, Clone, Copy)]
struct Iv {
    start: i64,
    end: i64,
    idx: usize,
    /// Stays: the part of the stay at the required level, and the time counted in it.
    piece: Span,
    counted: i64,
}

impl Iv {
    fn new(start: i64, end: i64, idx: usize) -> Self {
        Self { start, end, idx, piece: Span { start, end }, counted: 0 }
    }
}

#[inline]
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

/// Local midnight (UTC+8) starting a day, in milliseconds.
pub(crate) fn local_midnight(day: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (day - epoch).num_days() * DAY - i64::from(crate::LOCAL_OFFSET_HOURS) * HOUR
}

impl Node {
    pub(crate) fn eval(&self, ctx: &Ctx) -> Truth {
        match self {
            Node::Pred(p) => p.eval(ctx),
            Node::Not(inner) => {
                let t = inner.eval(ctx);
                Truth { holds: !t.holds, since: None, change: t.change }
            }
            Node::All(items) => {
                let mut holds = true;
                let mut since = None;
                let mut first_stop = None;
                let mut last_start = None;
                for item in items {
                    let t = item.eval(ctx);
                    if t.holds {
                        since = max_opt(since, t.since);
                        first_stop = min_opt(first_stop, t.change);
                    } else {
                        holds = false;
                        match t.change {
                            // False for ever: so is the conjunction.
                            None => return FALSE_FOREVER,
                            Some(c) => last_start = max_opt(last_start, Some(c)),
                        }
                    }
                }
                if holds {
                    Truth { holds, since, change: first_stop }
                } else {
                    Truth { holds, since: None, change: last_start }
                }
            }
            Node::Any(items) => {
                let mut holds = false;
                let mut since = None;
                let mut first_start = None;
                let mut last_stop = Some(i64::MIN);
                for item in items {
                    let t = item.eval(ctx);
                    if t.holds {
                        holds = true;
                        since = min_opt(since, t.since);
                        last_stop = match (last_stop, t.change) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    } else {
                        first_start = min_opt(first_start, t.change);
                    }
                }
                if holds {
                    Truth { holds, since, change: last_stop }
                } else {
                    Truth { holds, since: None, change: first_start }
                }
            }
        }
    }

    /// Evidence of the predicates that make this (holding) condition hold. Negated parts
    /// contribute nothing.
    pub(crate) fn evidence(&self, ctx: &Ctx, out: &mut Vec<Evidence>) {
        match self {
            Node::Pred(p) => p.evidence(ctx, out),
            Node::Not(_) => {}
            Node::All(items) => items.iter().for_each(|i| i.evidence(ctx, out)),
            Node::Any(items) => {
                for i in items {
                    if i.eval(ctx).holds {
                        i.evidence(ctx, out);
                    }
                }
            }
        }
    }

    /// The evidence kinds this condition can produce (bits of [`EvidenceKind`]).
    pub(crate) fn provides(&self) -> u16 {
        match self {
            Node::Pred(p) => p.provides().map_or(0, |k| k as u16),
            Node::Not(_) => 0,
            Node::All(items) | Node::Any(items) => items.iter().fold(0, |acc, i| acc | i.provides()),
        }
    }
}

/// Truth of a predicate given by intervals (see the module documentation).
fn run(now: i64, mut each: impl FnMut(&mut dyn FnMut(Iv))) -> Truth {
    let mut found = false;
    let (mut lo, mut hi) = (OPEN, i64::MIN);
    let mut next: Option<i64> = None;
    each(&mut |iv| {
        if iv.start >= iv.end {
            return;
        }
        if iv.start <= now && now < iv.end {
            found = true;
            lo = lo.min(iv.start);
            hi = hi.max(iv.end);
        } else if iv.start > now {
            next = min_opt(next, Some(iv.start));
        }
    });
    if !found {
        return Truth { holds: false, since: None, change: next };
    }
    // Grow the stretch around now through intervals that overlap or touch it.
    loop {
        let mut changed = false;
        each(&mut |iv| {
            if iv.start >= iv.end {
                return;
            }
            if iv.start < lo && iv.end >= lo {
                lo = iv.start;
                changed = true;
            }
            if iv.end > hi && iv.start <= hi {
                hi = iv.end;
                changed = true;
            }
        });
        if !changed {
            break;
        }
    }
    Truth { holds: true, since: Some(lo), change: (hi != OPEN).then_some(hi) }
}

impl Pred {
    pub(crate) fn provides(&self) -> Option<EvidenceKind> {
        Some(match self {
            Pred::Stay { .. } => EvidenceKind::Stay,
            Pred::Contact { .. } => EvidenceKind::Contact,
            Pred::Case { .. } => EvidenceKind::Case,
            Pred::Symptoms { .. } | Pred::SuspectedContact { .. } => EvidenceKind::Declaration,
            Pred::Test { .. } => EvidenceKind::Test,
            Pred::MissedDeclarations { .. } => EvidenceKind::Missed,
            Pred::Quarantine { .. } => EvidenceKind::Quarantine,
            Pred::Override { .. } => EvidenceKind::Override,
            Pred::Vaccinated { .. } => EvidenceKind::Vaccination,
            Pred::NoNegativeTestSince(_) => return None,
        })
    }

    pub(crate) fn eval(&self, ctx: &Ctx) -> Truth {
        match self {
            Pred::NoNegativeTestSince(event) => no_negative_test_since(*event, ctx),
            Pred::MissedDeclarations { days } => missed_declarations(*days, ctx).0,
            _ => run(ctx.now, |f| self.intervals(ctx, f)),
        }
    }

    fn intervals(&self, ctx: &Ctx, f: &mut dyn FnMut(Iv)) {
        let facts = ctx.facts;
        match *self {
            Pred::Stay { level, min, within } => stay_intervals(ctx, level, min, within, f),
            Pred::Contact { kinds, within } => {
                for (i, e) in facts.exposures.iter().enumerate() {
                    if kinds & kind_bit(e.kind as u8) != 0 {
                        let at = ms(e.at);
                        f(Iv::new(at, at.saturating_add(within), i));
                    }
                }
            }
            Pred::Case { statuses, within } => {
                for (i, r) in facts.cases.iter().enumerate() {
                    if statuses & kind_bit(r.status as u8) == 0 {
                        continue;
                    }
                    let at = ms(r.at);
                    // Until the next record (a later time, or the same time later in the list).
                    let mut end = OPEN;
                    for (j, other) in facts.cases.iter().enumerate() {
                        let t = ms(other.at);
                        if t > at || (t == at && j > i) {
                            end = end.min(t);
                        }
                    }
                    if let Some(w) = within {
                        end = end.min(at.saturating_add(w));
                    }
                    f(Iv::new(at, end, i));
                }
            }
            Pred::Symptoms { bits, within } => {
                for (i, d) in facts.declarations.iter().enumerate() {
                    if d.symptom_bits() & bits != 0 {
                        let at = ms(d.declared_at);
                        f(Iv::new(at, at.saturating_add(within), i));
                    }
                }
            }
            Pred::SuspectedContact { within } => {
                for (i, d) in facts.declarations.iter().enumerate() {
                    if d.suspected_contact {
                        let at = ms(d.declared_at);
                        f(Iv::new(at, at.saturating_add(within), i));
                    }
                }
            }
            Pred::Test { results, within } => {
                for (i, t) in facts.tests.iter().enumerate() {
                    if results & kind_bit(t.result as u8) != 0 {
                        f(Iv::new(ms(t.known_at()), ms(t.sampled_at).saturating_add(within), i));
                    }
                }
            }
            Pred::Quarantine { kinds } => {
                for (i, q) in facts.quarantines.iter().enumerate() {
                    if kinds & kind_bit(q.kind as u8) != 0 {
                        f(Iv::new(ms(q.start), q.end().map_or(OPEN, ms), i));
                    }
                }
            }
            Pred::Override { colors } => {
                for (i, o) in facts.overrides.iter().enumerate() {
                    if colors & super::facts::color_bit(o.color) != 0 {
                        f(Iv::new(ms(o.from), o.until.map_or(OPEN, ms), i));
                    }
                }
            }
            Pred::Vaccinated { doses } => {
                // From the time of the `doses`-th recorded dose on.
                let mut best: Option<(i64, usize)> = None;
                for (i, v) in facts.vaccinations.iter().enumerate() {
                    let at = ms(v.at);
                    let count = facts.vaccinations.iter().filter(|w| ms(w.at) <= at).count();
                    if count >= doses as usize && best.is_none_or(|(b, _)| at < b) {
                        best = Some((at, i));
                    }
                }
                if let Some((at, i)) = best {
                    f(Iv::new(at, OPEN, i));
                }
            }
            Pred::NoNegativeTestSince(_) | Pred::MissedDeclarations { .. } => {}
        }
    }

    fn evidence(&self, ctx: &Ctx, out: &mut Vec<Evidence>) {
        match self {
            Pred::NoNegativeTestSince(_) => {}
            Pred::MissedDeclarations { days } => {
                let (t, base, reg) = missed_declarations(*days, ctx);
                if t.holds {
                    let today = super::text::from_ms(ctx.now).and_then(local_day);
                    let missed = match (today, base) {
                        (Some(today), Some(b)) => (today - b).num_days().max(1) - 1,
                        _ => 0,
                    };
                    let last =
                        ctx.facts.declarations.iter().filter(|d| ms(d.declared_at) <= ctx.now).map(|d| d.day).max();
                    out.push(Evidence::MissedDeclarations {
                        last_declared_day: last,
                        registered_at: reg,
                        missed_days: u32::try_from(missed).unwrap_or(u32::MAX),
                    });
                }
            }
            _ => {
                // The facts whose intervals contain now; the one holding longest first.
                let now = ctx.now;
                let mut hits: Vec<Iv> = Vec::new();
                self.intervals(ctx, &mut |iv| {
                    if iv.start <= now && now < iv.end && iv.start < iv.end {
                        hits.push(iv)
                    }
                });
                hits.sort_by(|a, b| b.end.cmp(&a.end).then(b.start.cmp(&a.start)));
                let mut seen: Vec<usize> = Vec::new();
                for iv in hits {
                    if seen.contains(&iv.idx) {
                        continue;
                    }
                    seen.push(iv.idx);
                    out.push(self.evidence_of(ctx, iv));
                }
            }
        }
    }

    fn evidence_of(&self, ctx: &Ctx, iv: Iv) -> Evidence {
        let facts = ctx.facts;
        match *self {
            Pred::Stay { level, .. } => {
                let s = &facts.stays[iv.idx];
                let decl = ctx.risk.declaration_for(s.region, level, iv.piece.start, iv.piece.end);
                Evidence::Stay {
                    record_id: s.record_id.clone(),
                    region: s.region,
                    region_name: s.region.full_name(),
                    start: s.start,
                    end: s.end,
                    counted_minutes: if iv.counted == OPEN {
                        (ctx.now - iv.piece.start) / 60_000
                    } else {
                        iv.counted / 60_000
                    },
                    level: decl.map_or(level, |d| d.level),
                    risk_region: decl.map(|d| d.region),
                    risk_record_id: decl.map(|d| d.record_id.clone()),
                }
            }
            Pred::Contact { .. } => {
                let e = &facts.exposures[iv.idx];
                Evidence::Contact {
                    record_id: e.record_id.clone(),
                    contact_kind: e.kind,
                    at: e.at,
                    case_id: e.case_id.clone(),
                    source: e.source.clone(),
                }
            }
            Pred::Case { .. } => {
                let r = &facts.cases[iv.idx];
                Evidence::Case { record_id: r.record_id.clone(), status: r.status, at: r.at }
            }
            Pred::Symptoms { .. } | Pred::SuspectedContact { .. } => {
                let d = &facts.declarations[iv.idx];
                Evidence::Declaration {
                    record_id: d.record_id.clone(),
                    day: d.day,
                    declared_at: d.declared_at,
                    temperature: d.temperature.map(|t| t.celsius()),
                    symptoms: symptoms_of(d),
                    suspected_contact: d.suspected_contact,
                }
            }
            Pred::Test { .. } => {
                let t = &facts.tests[iv.idx];
                Evidence::Test {
                    record_id: t.record_id.clone(),
                    result: t.result,
                    sampled_at: t.sampled_at,
                    known_at: t.known_at(),
                }
            }
            Pred::Quarantine { .. } => {
                let q = &facts.quarantines[iv.idx];
                Evidence::Quarantine {
                    record_id: q.record_id.clone(),
                    quarantine_kind: q.kind,
                    start: q.start,
                    end: q.end(),
                }
            }
            Pred::Override { .. } => {
                let o = &facts.overrides[iv.idx];
                Evidence::Override {
                    record_id: o.record_id.clone(),
                    color: o.color,
                    from: o.from,
                    until: o.until,
                    legal_basis: o.legal_basis.clone(),
                    reason: o.reason.clone(),
                    approved_by: o.approved_by.clone(),
                }
            }
            Pred::Vaccinated { doses } => {
                let v = &facts.vaccinations[iv.idx];
                Evidence::Vaccination { record_id: v.record_id.clone(), at: v.at, doses }
            }
            Pred::NoNegativeTestSince(_) | Pred::MissedDeclarations { .. } => unreachable!("no interval evidence"),
        }
    }
}

/// Declared symptoms, with a measured fever shown as fever.
fn symptoms_of(d: &super::facts::DeclarationFact) -> Vec<Symptom> {
    let bits = d.symptom_bits();
    Symptom::ALL.into_iter().filter(|s| bits & symptom_bit(*s) != 0).collect()
}

pub(crate) fn kind_bit(discriminant: u8) -> u8 {
    1 << discriminant
}

/// `stay(level, for = min, within)`: each stay contributes, for each maximal part of it spent
/// in the region while the region (or one above it) was at `level` or above, the interval
/// from the moment that part reached `min` until `within` after the part ended.
fn stay_intervals(ctx: &Ctx, level: RiskLevel, min: i64, within: i64, f: &mut dyn FnMut(Iv)) {
    for (idx, s) in ctx.facts.stays.iter().enumerate() {
        let start = ms(s.start);
        let end = s.end.map_or(OPEN, ms);
        if end <= start {
            continue;
        }
        let window = end.saturating_sub(start);
        // A reported dwell shorter than the stay: only the time certainly spent in the part
        // counts, and it is known only when the stay is over.
        let dwell = match (end, s.dwell) {
            (OPEN, _) | (_, None) => None,
            (_, Some(d)) => Some(d.num_milliseconds().clamp(0, window)).filter(|d| *d < window),
        };
        let mut piece = |a: i64, b: i64| {
            let len = b.saturating_sub(a);
            let (counted, reached) = match dwell {
                Some(d) => (d - (window - len), b),
                None => (len, a.saturating_add(min)),
            };
            if counted < min || (b != OPEN && reached > b) {
                return;
            }
            let until = if b == OPEN { OPEN } else { b.saturating_add(within) };
            f(Iv { start: reached, end: until, idx, piece: Span { start: a, end: b }, counted });
        };
        match ctx.risk.spans(s.region, level) {
            None => piece(start, end),
            Some(spans) => {
                for sp in spans {
                    if sp.start >= end {
                        break;
                    }
                    let (a, b) = (sp.start.max(start), sp.end.min(end));
                    if a < b {
                        piece(a, b);
                    }
                }
            }
        }
    }
}

fn event_times(event: Event, ctx: &Ctx, f: &mut dyn FnMut(i64)) {
    let facts = ctx.facts;
    match event {
        Event::Fever => facts.declarations.iter().filter(|d| d.has_fever()).for_each(|d| f(ms(d.declared_at))),
        Event::Symptoms => {
            facts.declarations.iter().filter(|d| d.symptom_bits() != 0).for_each(|d| f(ms(d.declared_at)))
        }
        Event::SuspectedContact => {
            facts.declarations.iter().filter(|d| d.suspected_contact).for_each(|d| f(ms(d.declared_at)))
        }
        Event::Contact => facts.exposures.iter().for_each(|e| f(ms(e.at))),
    }
}

/// Holds when the latest event (up to now) has no negative test sampled at or after it whose
/// result is known by now. Since: the first event after the last earlier negative test.
fn no_negative_test_since(event: Event, ctx: &Ctx) -> Truth {
    let now = ctx.now;
    let (mut latest, mut next_event) = (None, None);
    event_times(event, ctx, &mut |t| {
        if t <= now {
            latest = max_opt(latest, Some(t));
        } else {
            next_event = min_opt(next_event, Some(t));
        }
    });
    let Some(latest) = latest else { return Truth { holds: false, since: None, change: next_event } };
    let (mut cleared, mut pending, mut last_before) = (false, None, None);
    for t in ctx.facts.tests.iter().filter(|t| t.result == super::facts::TestResult::Negative) {
        let (sampled, known) = (ms(t.sampled_at), ms(t.known_at()));
        if sampled >= latest {
            if known <= now {
                cleared = true;
            } else {
                pending = min_opt(pending, Some(known));
            }
        } else if known <= now {
            last_before = max_opt(last_before, Some(sampled));
        }
    }
    if cleared {
        return Truth { holds: false, since: None, change: next_event };
    }
    let mut since = latest;
    event_times(event, ctx, &mut |t| {
        if t <= now && last_before.is_none_or(|b| t > b) {
            since = since.min(t);
        }
    });
    Truth { holds: true, since: Some(since), change: pending }
}

/// Holds from the local midnight after `days` whole local days without a declaration,
/// counted from the last declared day (or the day of registration, if later). Without either
/// it does not hold: nothing is known to count from.
fn missed_declarations(days: u32, ctx: &Ctx) -> (Truth, Option<NaiveDate>, Option<DateTime<Utc>>) {
    let now = ctx.now;
    let mut last: Option<NaiveDate> = None;
    let mut next_declaration = None;
    for d in &ctx.facts.declarations {
        let at = ms(d.declared_at);
        if at <= now {
            last = last.max(Some(d.day));
        } else {
            next_declaration = min_opt(next_declaration, Some(at));
        }
    }
    let reg = ctx.facts.registered_at.filter(|r| ms(*r) <= now);
    // A declaration or a registration still to come moves the base: review then.
    let next_fact = min_opt(next_declaration, ctx.facts.registered_at.map(ms).filter(|r| *r > now));
    let base = last.max(reg.and_then(local_day));
    let Some(base) = base else {
        return (Truth { holds: false, since: None, change: next_fact }, None, reg);
    };
    let Some(first_day) = base.checked_add_days(chrono::Days::new(u64::from(days) + 1)) else {
        return (FALSE_FOREVER, Some(base), reg);
    };
    let start = local_midnight(first_day);
    let t = if start <= now {
        Truth { holds: true, since: Some(start), change: next_fact }
    } else {
        Truth { holds: false, since: None, change: min_opt(Some(start), next_fact) }
    };
    (t, Some(base), reg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_midnight_is_16_utc() {
        let d = NaiveDate::from_ymd_opt(2022, 4, 2).unwrap();
        let t = DateTime::parse_from_rfc3339("2022-04-01T16:00:00Z").unwrap().to_utc();
        assert_eq!(local_midnight(d), t.timestamp_millis());
    }

    #[test]
    fn runs_join_touching_intervals() {
        let ivs = [(0, 10), (10, 20), (25, 30), (40, 50)];
        let t = run(12, |f| ivs.iter().enumerate().for_each(|(i, (s, e))| f(Iv::new(*s, *e, i))));
        assert_eq!(t, Truth { holds: true, since: Some(0), change: Some(20) });
        let t = run(22, |f| ivs.iter().enumerate().for_each(|(i, (s, e))| f(Iv::new(*s, *e, i))));
        assert_eq!(t, Truth { holds: false, since: None, change: Some(25) });
        let t = run(60, |f| ivs.iter().enumerate().for_each(|(i, (s, e))| f(Iv::new(*s, *e, i))));
        assert_eq!(t, FALSE_FOREVER);
    }
}
