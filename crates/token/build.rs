//! Generates one `#[test]` per public conformance case (EU DCC test data, DCC schema tests and
//! examples, SMART Health Cards examples) so that a failure names its file. The cases live in
//! `<repo>/../shared/conformance` (or `$HEALTHCODE_CONFORMANCE_DIR`) and are read when the
//! tests run; only their names are fixed here. The library itself does not use this output.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HEALTHCODE_CONFORMANCE_DIR");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = env::var_os("HEALTHCODE_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/conformance"));
    // Watching the folder (Cargo scans it) regenerates the list when cases are added. A
    // missing folder is not watched: Cargo would then rerun this script and rebuild the
    // library on every build. The failing test says how to regenerate the list instead.
    if root.is_dir() {
        println!("cargo:rerun-if-changed={}", root.display());
    }
    let root = root.canonicalize().unwrap_or(root);

    let mut code = format!("pub const CONFORMANCE_DIR: &str = {:?};\n", root.display().to_string());
    let mut names = Vec::new();
    if !root.is_dir() {
        missing(&mut code, "conformance_suites_present", &root);
    } else {
        suite(&mut code, &mut names, &root, "dgc-testdata", "dcc", dcc_cases, "dcc_cases::run");
        suite(&mut code, &mut names, &root, "dcc-schema", "dcc_schema", schema_cases, "schema_cases::run");
        suite(&mut code, &mut names, &root, "smart-health-cards", "shc", shc_cases, "shc_cases::run");
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("foreign_conformance.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}

/// Emits one test per case of one suite, or one failing test when the suite has no cases.
fn suite(
    code: &mut String,
    names: &mut Vec<String>,
    root: &Path,
    dir: &str,
    prefix: &str,
    list: fn(&Path) -> Vec<String>,
    runner: &str,
) {
    let cases = list(&root.join(dir));
    if cases.is_empty() {
        missing(code, &format!("{prefix}_suite_present"), &root.join(dir));
        return;
    }
    for case in cases {
        let mut name = format!("{prefix}_{}", ident(&case));
        while names.contains(&name) {
            name.push('_');
        }
        names.push(name.clone());
        let _ = writeln!(code, "#[test]\nfn {name}() {{\n    super::{runner}({case:?});\n}}");
    }
}

fn missing(code: &mut String, name: &str, looked: &Path) {
    let looked = looked.display().to_string().escape_default().to_string();
    let _ = writeln!(
        code,
        "#[test]\nfn {name}() {{\n    let looked = \"{looked}\";\n    \
         let now = if std::path::Path::new(looked).exists() {{ \" (it exists now: run `touch crates/token/build.rs` \
         to regenerate the case list)\" }} else {{ \"\" }};\n    \
         panic!(\"no conformance cases at {{looked}}{{now}}: put a copy of shared/ beside the repository \
         (or set HEALTHCODE_CONFORMANCE_DIR) and rebuild\");\n}}"
    );
}

/// `AT/2DCode/raw/1.json` → `at_1`; `PT/1.3.0/2DCode/raw/1.json` → `pt_1_3_0_1`.
fn ident(case: &str) -> String {
    let trimmed = case.trim_end_matches(".json");
    let mut out = String::new();
    for part in trimmed.split('/').filter(|p| !p.eq_ignore_ascii_case("2DCode") && !p.eq_ignore_ascii_case("raw")) {
        if !out.is_empty() {
            out.push('_');
        }
        for c in part.chars() {
            out.push(if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' });
        }
    }
    out
}

/// Files under `dir` (relative paths, sorted) accepted by `keep`.
fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if keep(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// `<CC>[/<ver>]/2DCode/raw/<name>.json` (the folder is `Raw` in IE).
fn dcc_cases(dir: &Path) -> Vec<String> {
    walk(dir, &|rel| rel.ends_with(".json") && rel.to_ascii_lowercase().contains("/2dcode/raw/"))
}

/// `test/valid/*.json`, `test/invalid/*.json` and `examples/**/*.json`.
fn schema_cases(dir: &Path) -> Vec<String> {
    walk(dir, &|rel| rel.ends_with(".json") && (rel.starts_with("test/") || rel.starts_with("examples/")))
}

/// One case per example number: `examples/example-NN-d-jws.txt` → `NN`.
fn shc_cases(dir: &Path) -> Vec<String> {
    walk(dir, &|rel| rel.starts_with("examples/example-") && rel.ends_with("-d-jws.txt"))
        .iter()
        .filter_map(|rel| rel.strip_prefix("examples/example-")?.split('-').next().map(str::to_string))
        .collect()
}
