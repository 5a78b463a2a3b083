//! The risk engine's rules: parsing, predicates, the default rule set and its examples; and
//! contact tracing (`tracing/`), the other pure computation over facts.

#[path = "rules/decisions.rs"]
mod decisions;
#[path = "rules/default_set.rs"]
mod default_set;
#[path = "rules/parse_errors.rs"]
mod parse_errors;
#[path = "rules/predicates.rs"]
mod predicates;
#[path = "rules/robustness.rs"]
mod robustness;
#[path = "rules/support.rs"]
mod support;
mod tracing;
