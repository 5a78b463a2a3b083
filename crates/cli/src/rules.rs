//! `healthcode rules check FILE` and `healthcode rules test FILE`: a rule set's syntax, and
//! its shipped examples (facts → expected color).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use healthcode_core::rules::{RuleSet, examples};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Parse a rule set; print its version, or each error with line and column.
    Check { file: PathBuf },
    /// Run the examples that ship with a rule set (default: FILE with `.examples.toml`).
    Test {
        file: PathBuf,
        #[arg(long)]
        examples: Option<PathBuf>,
    },
}

fn load(file: &Path) -> Result<Option<RuleSet>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    match RuleSet::parse(&text) {
        Ok(rules) => Ok(Some(rules)),
        Err(errors) => {
            for e in errors {
                println!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message);
            }
            Ok(None)
        }
    }
}

/// Runs the command; returns whether everything passed.
pub fn run(cmd: RulesCommand) -> Result<bool> {
    match cmd {
        RulesCommand::Check { file } => {
            let Some(rules) = load(&file)? else { return Ok(false) };
            println!("{}: {} rules, version {}", file.display(), rules.rules().len(), rules.version());
            Ok(true)
        }
        RulesCommand::Test { file, examples: examples_file } => {
            let Some(rules) = load(&file)? else { return Ok(false) };
            let examples_file = examples_file.unwrap_or_else(|| {
                let stem = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                file.with_file_name(format!("{stem}.examples.toml"))
            });
            let text = std::fs::read_to_string(&examples_file)
                .with_context(|| format!("reading the examples {}", examples_file.display()))?;
            let report = examples::run(&rules, &text);
            for e in &report.errors {
                println!("{}:{}:{}: {}", examples_file.display(), e.line, e.column, e.message);
            }
            let mut failed = 0;
            for r in &report.results {
                if r.pass {
                    println!("ok    {} ({})", r.name, r.expected.as_str());
                } else {
                    failed += 1;
                    println!(
                        "FAIL  {}:{} {}: expected {}, got {} (rules holding: {})",
                        examples_file.display(),
                        r.line,
                        r.name,
                        r.expected.as_str(),
                        r.got.as_str(),
                        r.got_rules.join(", ")
                    );
                }
            }
            println!("{} passed, {} failed", report.results.len() - failed, failed);
            Ok(report.errors.is_empty() && failed == 0)
        }
    }
}
