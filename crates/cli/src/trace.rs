//! `healthcode trace CASE_ID`: contact tracing for a reported case, straight on the database
//! named by the configuration (as `serve` and `import` read it). It runs the same job as
//! `POST /api/v1/cases/{id}/trace` and writes the same exposures, audited as the operator.
//!
//! It does not recolor itself (there is no server here): it puts the people found on the
//! review queue in the database, which a running server's scheduler takes within seconds
//! (their stored decision, color history and color-change event); without a running server,
//! the next one to start does. Codes and status pages evaluate the facts live meanwhile.
//! `docs/tracing.md`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use healthcode_core::local_time::to_local;
use healthcode_core::tracing::Evidence;
use healthcode_server::trace_job::{ContactView, TraceReport, trace_and_record};
use healthcode_store::{Actor, AuditEntry};

use crate::config::Config;

#[derive(Args)]
pub struct TraceArgs {
    /// The case id that `POST /api/v1/cases` answered.
    case_id: String,
    /// A TOML config file, as for `serve`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the result as JSON (the API's answer).
    #[arg(long)]
    json: bool,
}

/// Traces the case; `false` when there is no such case.
pub async fn run(args: TraceArgs) -> Result<bool> {
    let cfg = Config::load(args.config.as_deref())?;
    let store = crate::store::open(&cfg.database_url).await?;
    let Some(case) = store.trace_case_get(None, &args.case_id).await? else {
        eprintln!("no case {:?} in this database", args.case_id);
        return Ok(false);
    };
    let now = chrono::Utc::now();
    let audit = AuditEntry {
        at: now,
        actor: Actor { kind: "operator".into(), id: "cli".into(), role: None },
        action: "case.trace".into(),
        subject_id: Some(case.subject_id.clone()),
        purpose: None,
        detail: serde_json::json!({}),
    };
    let traced = trace_and_record(store.as_ref(), std::slice::from_ref(&case), now, &cfg.settings.tracing, audit)
        .await
        .context("tracing")?;
    // A running server's review scheduler recolors them (and the case) within seconds.
    let mut found: Vec<_> = traced.iter().flat_map(|t| t.subjects().cloned()).collect();
    found.push(case.subject_id.clone());
    store.reviews_request(&found, now).await.context("asking for the people found to be recolored")?;
    let report = TraceReport::from(&traced[0]);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(true)
}

fn print_report(r: &TraceReport) {
    println!(
        "case {}: {} close contacts, {} secondary contacts (exposures written)",
        r.case_id,
        r.close_contacts.len(),
        r.secondary_contacts.len()
    );
    for (label, list) in [("close", &r.close_contacts), ("secondary", &r.secondary_contacts)] {
        for c in list {
            print_contact(label, c);
        }
    }
}

fn print_contact(label: &str, c: &ContactView) {
    let via = c.via.as_ref().map(|v| format!(" via {v}")).unwrap_or_default();
    println!("{label:<9} {}{via}  last contact {}", c.subject_id, c.last_contact_at.format("%Y-%m-%d %H:%M"));
    for e in &c.evidence {
        let line = match e {
            Evidence::Venue { venue_id, venue_name, from, to, minutes, .. } => format!(
                "venue {venue_id} {} {}–{} ({minutes} min)",
                venue_name.as_deref().unwrap_or(""),
                to_local(*from).format("%m-%d %H:%M"),
                to_local(*to).format("%H:%M"),
            ),
            Evidence::Trip { carrier, number, date, coach, row, contact_row, rows_apart, .. } => format!(
                "{carrier:?} {number} on {date}, coach {}, rows {row} and {contact_row} ({rows_apart} apart)",
                coach.as_deref().unwrap_or("-")
            ),
            Evidence::Household { relation } => format!("household ({relation:?})"),
        };
        println!("            {line}");
    }
}
