//! A rule file with an error is refused with the line and column of every problem, also
//! inside conditions and texts.

use healthcode_core::rules::{RuleError, RuleSet};

const TEXTS: &str = "explain.zh = \"理由\"\nexplain.en = \"reason\"\nto_green.zh = \"等待\"\nto_green.en = \"wait\"\n";

/// A one-rule file whose rule has `body` (id, color, when, …) followed by the texts.
fn rule(body: &str) -> String {
    format!("[[rule]]\n{body}{TEXTS}")
}

fn errors(text: &str) -> Vec<RuleError> {
    match RuleSet::parse(text) {
        Ok(_) => panic!("parsed, but should not have:\n{text}"),
        Err(e) => e,
    }
}

/// The single error: (line, column), and a fragment of its message.
#[track_caller]
fn one(text: &str, line: usize, column: usize, fragment: &str) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    assert_eq!((e[0].line, e[0].column), (line, column), "{}", e[0]);
    assert!(e[0].message.contains(fragment), "{:?} does not contain {fragment:?}", e[0].message);
}

#[test]
fn unknown_predicate_inside_a_multi_line_condition() {
    let text = rule(
        "id = \"a\"\ncolor = \"red\"\nholds = \"14d\"\nwhen = \"\"\"\ncontact(kind = close)\n  and feverish\n\"\"\"\n",
    );
    one(&text, 7, 7, "unknown predicate `feverish`");
}

#[test]
fn bad_duration_in_a_parameter_points_at_the_unit() {
    let text = format!(
        "[parameters]\nstay_min = \"14x\"\n{}",
        rule("id = \"a\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\n")
    );
    one(&text, 2, 15, "unknown unit `x`");
}

#[test]
fn bad_duration_inside_a_condition() {
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"contact(kind = close, within = 14days)\"\n");
    // `within = 14days`: after `14d` comes `a`.
    one(&text, 4, 43, "unexpected `a` in duration `14days`");
}

#[test]
fn unknown_parameter_inside_a_condition() {
    let text = format!(
        "[parameters]\nwindow = \"14d\"\n{}",
        rule("id = \"a\"\ncolor = \"red\"\nwhen = \"contact(kind = close, within = $windo)\"\n")
    );
    one(&text, 6, 40, "unknown parameter `$windo`; declared: $window");
}

#[test]
fn parameter_of_the_wrong_type() {
    let text = format!(
        "[parameters]\ndays = 3\n{}",
        rule("id = \"a\"\ncolor = \"red\"\nwhen = \"stay(level = high, for = $days, within = 14d)\"\n")
    );
    one(&text, 6, 34, "`for` takes a duration, but `$days` is a count");
}

#[test]
fn comparison_operators_get_a_hint() {
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"stay(level >= high, for = 4h, within = 14d)\"\n");
    one(&text, 4, 20, "`level = high` means high or above");
}

#[test]
fn unknown_argument_and_unknown_word() {
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"contact(kind = near, windw = 14d)\"\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:#?}");
    // The unknown argument is found first; the predicate is not compiled further.
    assert_eq!((e[0].line, e[0].column), (4, 30), "{}", e[0]);
    assert!(e[0].message.contains("unknown argument `windw` for `contact`; known: kind, within"));
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"contact(kind = [close, near], within = 14d)\"\n");
    one(&text, 4, 32, "unknown kind `near`; known: close, secondary, companion");
}

#[test]
fn a_window_is_needed_somewhere() {
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"contact(kind = close)\"\n");
    one(&text, 4, 29, "needs a window");
}

#[test]
fn unknown_color_and_green_rules() {
    one(&rule("id = \"a\"\ncolor = \"purple\"\nwhen = \"case(confirmed)\"\n"), 3, 9, "unknown color `purple`");
    one(&rule("id = \"a\"\ncolor = \"green\"\nwhen = \"case(confirmed)\"\n"), 3, 9, "unless it is `final = true`");
}

#[test]
fn duplicate_rule_ids() {
    let a = rule("id = \"same\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\n");
    let text = format!("{a}\n{a}");
    // The second rule starts on line 10.
    one(&text, 11, 6, "duplicate rule id `same`");
}

#[test]
fn unknown_keys_and_toml_syntax_come_from_toml_with_positions() {
    one(&rule("id = \"a\"\ncolour = \"red\"\nwhen = \"case(confirmed)\"\n"), 3, 1, "unknown field `colour`");
    let e = errors("[[rule]]\nid = \"a\nwhen = \"x\"\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 2, "{}", e[0]);
    let e = errors("[[rule]]\nid = \"a\"\ncolor = \"red\"\nexplain.zh = \"x\"\n");
    // The `explain` table (made by the dotted key) lacks `en`.
    assert_eq!((e[0].line, e[0].column), (4, 1), "{}", e[0]);
    assert!(e[0].message.contains("missing field `en`"), "{}", e[0]);
}

#[test]
fn placeholders_are_checked_with_exact_columns_after_escapes() {
    let text = "[[rule]]\nid = \"a\"\ncolor = \"red\"\nwhen = \"stay(high, for = 4h, within = 14d)\"\nexplain.zh = \"x\"\nexplain.en = \"caf\\u00e9 {regoin}\"\nto_green.zh = \"x\"\nto_green.en = \"x\"\n";
    one(text, 6, 26, "unknown placeholder `{regoin}`");
    let text = rule("id = \"a\"\ncolor = \"red\"\nholds = \"14d\"\nwhen = \"contact(close)\"\n")
        .replace("reason", "in {region}");
    one(&text, 7, 19, "placeholder `{region}` needs stay(…)");
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\n").replace("reason", "{holds}");
    one(&text, 6, 16, "needs `holds = …`");
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\n").replace("reason", "a } b");
    one(&text, 6, 17, "unmatched `}`");
}

#[test]
fn unused_holds_missing_hints_and_empty_files() {
    one(
        &rule("id = \"a\"\ncolor = \"red\"\nholds = \"14d\"\nwhen = \"quarantine(home)\"\n"),
        4,
        9,
        "`holds` is not used",
    );
    let text =
        "[[rule]]\nid = \"a\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\nexplain.zh = \"x\"\nexplain.en = \"x\"\n";
    one(text, 1, 1, "needs `to_green.zh` and `to_green.en`");
    one("# nothing\n", 2, 1, "no rules");
}

#[test]
fn every_error_is_reported_in_file_order() {
    let text = format!(
        "[parameters]\nbad = \"4hours\"\n{}\n{}",
        rule("id = \"A\"\ncolor = \"red\"\nwhen = \"case(confirmed)\"\n"),
        rule("id = \"b\"\ncolor = \"red\"\nwhen = \"case(confirmed) and nope\"\n")
    );
    let e = errors(&text);
    let at: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, vec![(2, 10), (4, 6), (15, 29)], "{e:#?}");
    assert_eq!(
        e[2].to_string(),
        "15:29: unknown predicate `nope`; known: stay, contact, case, symptoms, fever, suspected_contact, no_negative_test_since, test, missed_declarations, quarantine, override, vaccinated"
    );
}

#[test]
fn errors_in_literal_and_multi_line_literal_strings() {
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = '''\n  case(confirmed)\n  or\n  case(status = cured)'''\n");
    one(&text, 7, 17, "unknown status `cured`");
    let text = rule("id = \"a\"\ncolor = \"red\"\nwhen = 'case(confirmed) or'\n");
    one(&text, 4, 27, "ends too early");
}

#[test]
fn files_with_crlf_line_ends() {
    let text =
        rule("id = \"a\"\ncolor = \"red\"\nwhen = \"\"\"\ncase(confirmed)\n  or nope\n\"\"\"\n").replace('\n', "\r\n");
    one(&text, 6, 6, "unknown predicate `nope`");
}
