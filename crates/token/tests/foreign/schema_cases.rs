//! Runs the DCC schema project's own cases: `test/valid/*` must pass the `schema` step,
//! `test/invalid/*` must fail it, and every `examples/**` payload must pass. They are checked
//! with [`check_payload`], the whole `schema` step (JSON schema of the payload's `ver`, one of
//! v/t/r, value sets), so the examples also show the value sets reject nothing genuine.

use healthcode_token::foreign::dcc::check_payload;

use super::support::read_json;

pub fn run(rel: &str) {
    let payload = read_json(&format!("dcc-schema/{rel}"));
    let result = check_payload(&payload);
    if rel.starts_with("test/invalid/") {
        assert!(result.is_err(), "dcc-schema/{rel} is an invalid case, but the schema step passed it");
    } else {
        assert_eq!(result, Ok(()), "dcc-schema/{rel} is a valid case");
    }
}
