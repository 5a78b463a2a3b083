//! Conformance with the EU DCC and SMART Health Cards test suites.
//!
//! `build.rs` writes one test per case file of `../shared/conformance` (see
//! `generated::CONFORMANCE_DIR`); the runners below read the case at run time and compare every
//! expected result it states with ours, step by step. Known upstream errors are not skipped:
//! `dcc_corrections.rs` says what the correct result is and why, and the test asserts that.

mod dcc_cases;
mod dcc_corrections;
mod dsc;
mod robustness;
mod schema_cases;
mod shc_cases;
mod support;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/foreign_conformance.rs"));
}

/// The schemas embedded in the binary (`crates/token/data/dcc-schema/`) are byte-for-byte the
/// releases in the conformance folder they were copied from.
#[test]
fn vendored_schemas_match_shared() {
    let vendored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/dcc-schema");
    let versions: Vec<&str> = healthcode_token::foreign::dcc::schema::versions().collect();
    assert_eq!(versions.len(), 9);
    for ver in versions {
        let release = support::path(&format!("dcc-schema/releases/{ver}"));
        let upstream = std::fs::read_dir(&release)
            .unwrap_or_else(|e| panic!("{}: {e}", release.display()))
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("combined-schema.json"))
            .unwrap_or_else(|| panic!("no combined schema in {}", release.display()));
        let ours = std::fs::read(vendored.join(format!("{ver}.json"))).expect("vendored schema");
        assert!(
            ours == std::fs::read(&upstream).expect("upstream schema"),
            "{ver} differs from {}",
            upstream.display()
        );
    }
}
