//! Value-set checks: the coded fields of a DCC whose code lists are closed and small.
//!
//! The JSON schema only says these fields are strings (`valueset-uri` is an annotation).
//! Checked here: disease (`tg`), vaccine type (`vp`) and test result (`tr`), with the lists of
//! `ehn-dcc-development/eu-dcc-valuesets` (`vp` as of its last change, 2023-01-25).
//!
//! Not checked: the test type (`tt`). The EU test data has valid certificates (IE/2, IE/3,
//! expected to pass schema validation and not listed as upstream errors) whose test type is
//! the free text "COVID-19 test"; we follow the suite rather than reject what issuers issued.
//!
//! Not checked: the country (`co`) is "ISO 3166 alpha-2 where possible" — the schema's own
//! valid tests use `UNHCR` — so its schema pattern is the rule. Vaccine product (`mp`),
//! marketing-authorisation holder (`ma`) and rapid-test device (`ma` of a test) were managed
//! on the EU gateway, changed weekly and were never complete in any published snapshot, so
//! checking them offline would reject genuine certificates.

use serde_json::Value;

/// `tg`: disease or agent targeted — COVID-19 (SNOMED CT).
const DISEASE: &[&str] = &["840539006"];

/// `vp`: vaccine or prophylaxis (SNOMED CT, plus the deprecated ATC code J07BX03).
const VACCINE_TYPE: &[&str] = &[
    "1119305005",
    "1119349007",
    "J07BX03",
    "1162643001",
    "1157024006",
    "29061000087103",
    "28531000087107",
    "30141000087107",
    "1187593009",
];

/// `tr`: not detected, detected (SNOMED CT).
const TEST_RESULT: &[&str] = &["260415000", "260373001"];

/// Checks every coded field present in the `v`, `t` and `r` entries; the error names the
/// field, not its value.
pub fn check(dcc: &Value) -> Result<(), String> {
    for (group, fields) in [
        ("v", &[("tg", DISEASE), ("vp", VACCINE_TYPE)][..]),
        ("t", &[("tg", DISEASE), ("tr", TEST_RESULT)][..]),
        ("r", &[("tg", DISEASE)][..]),
    ] {
        let Some(entries) = dcc.get(group).and_then(Value::as_array) else { continue };
        for (i, entry) in entries.iter().enumerate() {
            for (field, allowed) in fields {
                if let Some(code) = entry.get(*field)
                    && !code.as_str().is_some_and(|c| allowed.contains(&c))
                {
                    return Err(format!("/{group}/{i}/{field} is not in its value set"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_offending_field() {
        let ok = json!({"t": [{"tg": "840539006", "tt": "LP217198-3", "tr": "260415000", "co": "AT"}]});
        assert!(check(&ok).is_ok());
        let free_text_type = json!({"t": [{"tg": "840539006", "tt": "COVID-19 test", "tr": "260415000", "co": "IE"}]});
        assert!(check(&free_text_type).is_ok(), "the EU test data accepts it (IE/2, IE/3)");
        let bad = json!({"t": [{"tg": "840539006", "tt": "LP6464-4", "tr": "positive", "co": "AT"}]});
        assert_eq!(check(&bad).unwrap_err(), "/t/0/tr is not in its value set");
        assert!(check(&json!({"v": [{"vp": "", "co": "NL"}]})).is_err());
        assert!(check(&json!({"r": [{"co": "UNHCR"}]})).is_ok());
        assert!(check(&json!({"r": [{"tg": 840539006}]})).is_err());
        assert!(check(&json!({"r": "not an array"})).is_ok());
    }
}
