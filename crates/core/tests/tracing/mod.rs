//! Contact tracing in core: the infectious window, venue overlaps with per-category minimums,
//! seat proximity on trains and flights, households, secondary contacts, and the sweep
//! agreeing with a brute-force comparison on random visits.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use healthcode_core::SubjectId;
use healthcode_core::rules::{Carrier, ContactKind};
use healthcode_core::tracing::{
    CaseTimes, Contact, Evidence, HouseholdRelation, Seat, TraceData, TracingParams, VenueInfo, Visit, Window,
    close_contacts, infectious_window, row_number, secondary_contacts,
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// 2022-04-15 at a local (UTC+8) time like "10:30".
fn at(hm: &str) -> DateTime<Utc> {
    t(&format!("2022-04-15T{hm}:00+08:00"))
}

fn person(n: u8) -> SubjectId {
    let mut b = [0u8; 16];
    b[15] = n;
    SubjectId::from_random(b)
}

fn visit(key: &str, who: u8, venue: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Visit {
    Visit { key: key.into(), subject: person(who), venue_id: venue.into(), entered_at: from, left_at: to }
}

fn venue(id: &str, category: &str) -> VenueInfo {
    VenueInfo { venue_id: id.into(), name: format!("{id} name"), category: category.into() }
}

fn day_window() -> Window {
    Window::new(at("00:00"), at("23:59"))
}

fn subjects(list: &[Contact]) -> Vec<SubjectId> {
    list.iter().map(|c| c.subject.clone()).collect()
}

fn ids(list: &[u8]) -> Vec<SubjectId> {
    let mut v: Vec<_> = list.iter().map(|n| person(*n)).collect();
    v.sort();
    v
}

#[test]
fn the_window_runs_from_two_days_before_onset_to_isolation() {
    let p = TracingParams::default();
    let now = at("12:00");
    let onset = CaseTimes {
        onset_date: Some(NaiveDate::from_ymd_opt(2022, 4, 12).unwrap()),
        sampled_at: Some(t("2022-04-13T09:00:00+08:00")),
        isolated_at: Some(t("2022-04-14T18:00:00+08:00")),
        reported_at: now,
    };
    let w = infectious_window(&onset, now, &p);
    assert_eq!(w.from, t("2022-04-10T00:00:00+08:00"), "local midnight of the onset day, minus 2 days");
    assert_eq!(w.to, t("2022-04-14T18:00:00+08:00"));

    let sampled = CaseTimes { onset_date: None, isolated_at: None, ..onset };
    let w = infectious_window(&sampled, now, &p);
    assert_eq!(w.from, t("2022-04-11T09:00:00+08:00"), "no onset: the sample, minus 2 days");
    assert_eq!(w.to, now, "not isolated: until now");

    let reported = CaseTimes { onset_date: None, sampled_at: None, isolated_at: None, reported_at: now };
    assert_eq!(infectious_window(&reported, now, &p).from, now - TimeDelta::days(2));

    let longer = TracingParams { before_onset: TimeDelta::days(4), ..p.clone() };
    assert_eq!(infectious_window(&onset, now, &longer).from, t("2022-04-08T00:00:00+08:00"));

    let inverted = CaseTimes { isolated_at: Some(t("2022-04-01T00:00:00+08:00")), ..onset };
    assert!(infectious_window(&inverted, now, &p).is_empty(), "isolated before the window: nothing to trace");
}

#[test]
fn rows_are_read_from_their_leading_digits() {
    assert_eq!(row_number("12"), Some(12));
    assert_eq!(row_number("12F"), Some(12));
    assert_eq!(row_number(" 012A "), Some(12));
    assert_eq!(row_number("3"), Some(3));
    assert_eq!(row_number("F12"), None);
    assert_eq!(row_number(""), None);
    assert_eq!(row_number("A"), None);
}

/// The case (1) is at the café 10:00–11:00.
fn cafe_day() -> TraceData {
    let mut d = TraceData::new();
    d.add_venues([venue("cafe", "restaurant"), venue("clinic", "hospital")]);
    d.add_visits([
        visit("v1", 1, "cafe", at("10:00"), at("11:00")),
        // 30 minutes together: close.
        visit("v2", 2, "cafe", at("10:30"), at("11:30")),
        // Exactly 15 minutes: close.
        visit("v3", 3, "cafe", at("09:00"), at("10:15")),
        // 14 minutes: not.
        visit("v4", 4, "cafe", at("10:46"), at("12:00")),
        // After the case left: not.
        visit("v5", 5, "cafe", at("11:00"), at("12:00")),
        // Another venue at the same time: not.
        visit("v6", 6, "clinic", at("10:00"), at("11:00")),
        // A long stay that began the day before and covers the case's visit: close.
        visit("v7", 7, "cafe", t("2022-04-14T20:00:00+08:00"), at("10:20")),
    ]);
    d
}

#[test]
fn a_venue_contact_needs_the_minimum_overlap_inside_the_window() {
    let d = cafe_day();
    let p = TracingParams::default();
    let close = close_contacts(&person(1), day_window(), &d, &p);
    assert_eq!(subjects(&close), ids(&[2, 3, 7]));
    let two = close.iter().find(|c| c.subject == person(2)).unwrap();
    assert_eq!(two.kind, ContactKind::Close);
    assert_eq!((two.first, two.last), (at("10:30"), at("11:00")));
    assert_eq!(
        two.evidence,
        vec![Evidence::Venue {
            venue_id: "cafe".into(),
            venue_name: Some("cafe name".into()),
            category: Some("restaurant".into()),
            from: at("10:30"),
            to: at("11:00"),
            minutes: 30,
        }]
    );

    // The window cuts the overlap: isolated at 10:40, person 2 had only 10 minutes.
    let isolated = Window::new(at("00:00"), at("10:40"));
    assert_eq!(subjects(&close_contacts(&person(1), isolated, &d, &p)), ids(&[3, 7]));
    // A window that ends before the visit finds nobody.
    assert!(close_contacts(&person(1), Window::new(at("00:00"), at("09:00")), &d, &p).is_empty());
}

#[test]
fn the_minimum_is_set_per_category() {
    let d = cafe_day();
    let mut p = TracingParams::default();
    p.min_overlap_by_category.insert("restaurant".into(), TimeDelta::minutes(10));
    assert_eq!(subjects(&close_contacts(&person(1), day_window(), &d, &p)), ids(&[2, 3, 4, 7]));
    p.min_overlap_by_category.insert("restaurant".into(), TimeDelta::minutes(20));
    assert_eq!(subjects(&close_contacts(&person(1), day_window(), &d, &p)), ids(&[2, 7]));
    // The default applies to other categories.
    p.min_overlap = TimeDelta::minutes(1);
    assert_eq!(p.min_overlap_for("hospital"), TimeDelta::minutes(1));
}

#[test]
fn visits_added_twice_count_once() {
    let mut d = cafe_day();
    d.add_visits([visit("v2", 2, "cafe", at("10:30"), at("11:30"))]);
    let close = close_contacts(&person(1), day_window(), &d, &TracingParams::default());
    assert_eq!(close.iter().find(|c| c.subject == person(2)).unwrap().evidence.len(), 1);
}

fn seat(record: &str, who: u8, carrier: Carrier, number: &str, coach: Option<&str>, row: &str) -> Seat {
    Seat {
        record_id: record.into(),
        subject: person(who),
        carrier,
        number: number.into(),
        date: NaiveDate::from_ymd_opt(2022, 4, 15).unwrap(),
        coach: coach.map(Into::into),
        row: row.into(),
        seat: "F".into(),
    }
}

#[test]
fn train_neighbours_share_the_coach_within_three_rows() {
    let mut d = TraceData::new();
    d.add_seats([
        seat("s1", 1, Carrier::Train, "G1234", Some("05"), "10F"),
        seat("s2", 2, Carrier::Train, "G1234", Some("5"), "13A"),
        seat("s3", 3, Carrier::Train, "G1234", Some("05"), "14"),
        seat("s4", 4, Carrier::Train, "G1234", Some("06"), "10"),
        seat("s5", 5, Carrier::Train, "g1234", Some("05"), "7C"),
        seat("s6", 6, Carrier::Train, "G1235", Some("05"), "10"),
        seat("s7", 7, Carrier::Train, "G1234", None, "10"),
        seat("s8", 8, Carrier::Train, "G1234", Some("05"), "XX"),
    ]);
    let close = close_contacts(&person(1), day_window(), &d, &TracingParams::default());
    assert_eq!(subjects(&close), ids(&[2, 5]), "3 rows away in the same coach: close; 4 rows or another coach: not");
    let two = close.iter().find(|c| c.subject == person(2)).unwrap();
    assert_eq!(
        two.evidence,
        vec![Evidence::Trip {
            carrier: Carrier::Train,
            number: "G1234".into(),
            date: NaiveDate::from_ymd_opt(2022, 4, 15).unwrap(),
            coach: Some("05".into()),
            row: "10F".into(),
            seat: "F".into(),
            contact_row: "13A".into(),
            contact_seat: "F".into(),
            rows_apart: 3,
        }]
    );
    // A trip on a day outside the window is not traced.
    let later = Window::new(t("2022-04-16T00:00:00+08:00"), t("2022-04-17T00:00:00+08:00"));
    assert!(close_contacts(&person(1), later, &d, &TracingParams::default()).is_empty());
}

#[test]
fn flight_neighbours_are_within_three_rows() {
    let mut d = TraceData::new();
    d.add_seats([
        seat("f1", 1, Carrier::Flight, "CA1501", None, "30C"),
        seat("f2", 2, Carrier::Flight, "CA1501", None, "27A"),
        seat("f3", 3, Carrier::Flight, "CA1501", None, "34A"),
        seat("f4", 4, Carrier::Flight, "CA1501", Some("cabin"), "33K"),
        // A train with the same number is another vehicle.
        seat("f5", 5, Carrier::Train, "CA1501", None, "30"),
    ]);
    let close = close_contacts(&person(1), day_window(), &d, &TracingParams::default());
    assert_eq!(subjects(&close), ids(&[2, 4]));
    let p = TracingParams { max_row_distance: 4, ..TracingParams::default() };
    assert_eq!(subjects(&close_contacts(&person(1), day_window(), &d, &p)), ids(&[2, 3, 4]));
}

#[test]
fn the_household_is_the_guardian_their_dependents_and_ones_own() {
    let mut d = TraceData::new();
    // 10 is a guardian of 1 and 2; 1 is guardian of 3; 20 is unrelated with dependent 21.
    d.add_person(person(10), None);
    d.add_person(person(1), Some(person(10)));
    d.add_person(person(2), Some(person(10)));
    d.add_person(person(3), Some(person(1)));
    d.add_person(person(20), None);
    d.add_person(person(21), Some(person(20)));
    let w = day_window();
    let close = close_contacts(&person(1), w, &d, &TracingParams::default());
    assert_eq!(subjects(&close), ids(&[2, 3, 10]));
    let relation = |n: u8| close.iter().find(|c| c.subject == person(n)).unwrap().evidence.clone();
    assert_eq!(relation(10), vec![Evidence::Household { relation: HouseholdRelation::Guardian }]);
    assert_eq!(relation(2), vec![Evidence::Household { relation: HouseholdRelation::SameGuardian }]);
    assert_eq!(relation(3), vec![Evidence::Household { relation: HouseholdRelation::Dependent }]);
    assert!(close.iter().all(|c| c.first == w.from && c.last == w.to), "the whole window");
    // The guardian's household: their two dependents.
    assert_eq!(subjects(&close_contacts(&person(10), w, &d, &TracingParams::default())), ids(&[1, 2]));
}

#[test]
fn secondary_contacts_met_a_close_contact_after_their_exposure() {
    let mut d = cafe_day();
    d.add_venues([venue("gym", "other")]);
    d.add_visits([
        // Close contact 2 (exposed 10:30–11:00) goes to the gym: 8 meets them there.
        visit("g2", 2, "gym", at("14:00"), at("15:00")),
        visit("g8", 8, "gym", at("14:10"), at("15:30")),
        // 9 met 2 at the gym in the morning, before the exposure: not secondary.
        visit("g2a", 2, "gym", at("07:00"), at("08:00")),
        visit("g9", 9, "gym", at("07:00"), at("08:00")),
        // 3 (close) also at the gym with 2: already close, not secondary.
        visit("g3", 3, "gym", at("14:00"), at("15:00")),
        // The case met 2 again later, alone: the case is never its own secondary.
        visit("g1", 1, "gym", at("16:00"), at("17:00")),
        visit("g2b", 2, "gym", at("16:00"), at("17:00")),
        // 11 met 2 for 5 minutes only.
        visit("g11", 11, "gym", at("14:55"), at("15:30")),
    ]);
    let p = TracingParams::default();
    let close = close_contacts(&person(1), day_window(), &d, &p);
    let secondary = secondary_contacts(&person(1), &close, at("20:00"), &d, &p);
    // 4 (14 minutes with the case) and 5 (came after the case left) met 2 at the café after
    // 2's exposure began; 8 met 2 at the gym.
    assert_eq!(subjects(&secondary), ids(&[4, 5, 8]));
    let eight = &secondary[2];
    assert_eq!(eight.kind, ContactKind::Secondary);
    assert_eq!(eight.via, Some(person(2)));
    assert_eq!((eight.first, eight.last), (at("14:10"), at("15:00")));
    assert!(matches!(&eight.evidence[..], [Evidence::Venue { venue_id, minutes: 50, .. }] if venue_id == "gym"));
    // Until the close contacts' isolation: nothing after 10:40 counts.
    assert!(secondary_contacts(&person(1), &close, at("10:40"), &d, &p).is_empty());
}

#[test]
fn secondary_contacts_through_several_close_contacts_are_listed_once() {
    let mut d = cafe_day();
    d.add_visits([
        visit("a2", 2, "clinic", at("13:00"), at("14:00")),
        visit("a3", 3, "clinic", at("16:00"), at("17:00")),
        visit("a8", 8, "clinic", at("13:00"), at("17:00")),
    ]);
    let p = TracingParams::default();
    let close = close_contacts(&person(1), day_window(), &d, &p);
    let secondary = secondary_contacts(&person(1), &close, at("20:00"), &d, &p);
    // 6 was at the clinic before any close contact; 8 met two of them there.
    assert_eq!(subjects(&secondary), ids(&[4, 5, 8]));
    let eight = secondary.iter().find(|c| c.subject == person(8)).unwrap();
    assert_eq!(eight.via, Some(person(3)), "through the latest contact");
    assert_eq!(eight.last, at("17:00"));
}

/// xorshift64*, deterministic.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn the_sweep_finds_exactly_what_comparing_every_pair_finds() {
    let base = at("00:00");
    for seed in 1..=40u64 {
        let mut rng = Rng(seed * 7919);
        let venues = ["a", "b", "c"];
        let mut visits = Vec::new();
        for k in 0..200 {
            let from = base + TimeDelta::minutes(rng.below(24 * 60) as i64);
            // Mostly short visits, a few very long ones that reach back over the window.
            let len = if rng.below(10) == 0 { rng.below(20 * 60) } else { rng.below(120) } as i64 + 1;
            let who = rng.below(30) as u8;
            let at_venue = venues[rng.below(3) as usize];
            visits.push(visit(&format!("k{k}"), who, at_venue, from, from + TimeDelta::minutes(len)));
        }
        let mut d = TraceData::new();
        d.add_venues([venue("a", "restaurant"), venue("b", "retail"), venue("c", "hospital")]);
        d.add_visits(visits.clone());
        let mut p = TracingParams::default();
        p.min_overlap_by_category.insert("hospital".into(), TimeDelta::minutes(5));
        let window = Window::new(base + TimeDelta::hours(6), base + TimeDelta::hours(18));
        let case = person(rng.below(30) as u8);

        let mut expected: Vec<SubjectId> = Vec::new();
        for v in visits.iter().filter(|v| v.subject == case) {
            for o in visits.iter().filter(|o| o.venue_id == v.venue_id && o.subject != case) {
                let from = v.entered_at.max(o.entered_at).max(window.from);
                let to = v.left_at.min(o.left_at).min(window.to);
                let min = if v.venue_id == "c" { 5 } else { 15 };
                if to > from && (to - from) >= TimeDelta::minutes(min) {
                    expected.push(o.subject.clone());
                }
            }
        }
        expected.sort();
        expected.dedup();
        assert_eq!(subjects(&close_contacts(&case, window, &d, &p)), expected, "seed {seed}");
    }
}
