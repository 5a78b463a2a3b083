//! The shipped default rule set and its examples.

use healthcode_core::rules::{DEFAULT_EXAMPLES, examples};

use crate::support::default_rules;

#[test]
fn every_default_example_passes() {
    let rules = default_rules();
    let report = examples::run(&rules, DEFAULT_EXAMPLES);
    let errors: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "examples file errors:\n{}", errors.join("\n"));
    let failures: Vec<String> =
        report.failures().map(|r| format!("line {}: {}: {}", r.line, r.name, r.problems.join("; "))).collect();
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
    assert!(report.results.len() >= 30, "{}", report.summary());
}
