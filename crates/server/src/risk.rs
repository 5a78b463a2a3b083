//! The person's color, from the published rule set over their facts (R4, R8, R9, R12).
//!
//! Decisions are made when asked (a code, a status page): the facts are read from the store,
//! the rule set is evaluated at the clock's now. So a color returns to green exactly when
//! its time is up, with nothing to schedule; stored decisions, colour-change events and the
//! review scheduler come with the recoloring work (see ARCHITECTURE.md).

use chrono::{DateTime, Duration, Utc};
use healthcode_core::rules::{
    CaseRecord, Decision, DeclarationFact, Exposure, Facts, LabTest, Override, Quarantine, RegionRisk, RiskPeriod,
    RuleSet, Stay, StaySource, TestKind, Trip, Vaccination,
};
use healthcode_store::{FactRecords, OverrideRecord, PersonKeys, PersonRecord};

use crate::error::ApiResult;
use crate::state::AppState;

/// How far back facts are read: longer than any window of a sane rule set (the default's
/// longest is 14 days after a stay ends).
/// Declarations are kept at least this long (`retention.rs`), so deleting them changes no color.
pub const LOOK_BACK_DAYS: i64 = 60;

/// Region risk levels, shared by everyone.
pub async fn region_risk(app: &AppState) -> ApiResult<RegionRisk> {
    let periods = app.store.region_risk_all().await?;
    Ok(RegionRisk::new(periods.into_iter().map(|p| RiskPeriod {
        record_id: p.record_id,
        region: p.region,
        level: p.level,
        from: p.effective_from,
        to: p.effective_to,
    })))
}

/// Where reading facts starts.
pub fn look_back_from(app: &AppState) -> DateTime<Utc> {
    app.clock.now() - Duration::days(LOOK_BACK_DAYS)
}

/// Everything the store knows about a person that the rules read: declarations, telecom
/// stays (by phone); lab tests, case statuses, trips and vaccinations (by ID number);
/// overrides and quarantines (by subject id).
pub async fn facts_for(app: &AppState, person: &PersonRecord) -> ApiResult<Facts> {
    let keys = person.keys();
    let records = fact_records(app, &keys).await?;
    facts_from(app, &keys, records)
}

/// One person's fact records, read one table at a time (`facts_for_many` reads the same
/// for many people at once).
async fn fact_records(app: &AppState, person: &PersonKeys) -> ApiResult<FactRecords> {
    let since = look_back_from(app);
    let declarations = app.store.declarations(&person.subject_id, LOOK_BACK_DAYS as u32 * 2).await?;
    Ok(FactRecords {
        declarations: declarations
            .into_iter()
            .filter(|d| d.superseded_at.is_none() && d.declaration.declared_at >= since)
            .collect(),
        stays: match &person.phone_index {
            Some(index) => app.store.stays_for(index, since).await?,
            None => Vec::new(),
        },
        tests: app.store.lab_tests_for(&person.id_index, since).await?,
        cases: app.store.cases_for(&person.id_index).await?,
        trips: app.store.trips_for(&person.id_index).await?,
        vaccinations: app.store.vaccinations_for(&person.id_index).await?,
        overrides: app.store.overrides_for(&person.subject_id).await?,
        quarantines: app.store.quarantines_for(&person.subject_id).await?,
        exposures: app.store.exposures_for(&person.subject_id).await?,
    })
}

/// The engine's facts from a person's records: the one mapping from what is stored to what
/// the rules read, whichever way the records were fetched.
pub fn facts_from(app: &AppState, person: &PersonKeys, r: FactRecords) -> ApiResult<Facts> {
    Ok(Facts {
        registered_at: Some(person.created_at),
        declarations: r
            .declarations
            .iter()
            .filter(|d| d.superseded_at.is_none())
            .map(|d| DeclarationFact::from_declaration(format!("declaration-{}", d.id), &d.declaration))
            .collect(),
        stays: r
            .stays
            .into_iter()
            .map(|s| Stay {
                record_id: s.record_id,
                region: s.region,
                start: s.start,
                end: Some(s.end),
                dwell: None,
                source: StaySource::Telecom,
            })
            .collect(),
        tests: r
            .tests
            .into_iter()
            .map(|t| LabTest {
                record_id: t.record_id,
                kind: TestKind::Pcr,
                sampled_at: t.sampled_at,
                reported_at: None,
                result: t.result,
            })
            .collect(),
        cases: r.cases.into_iter().map(|c| CaseRecord { record_id: c.record_id, status: c.status, at: c.at }).collect(),
        trips: r
            .trips
            .into_iter()
            .map(|t| Trip {
                record_id: t.record_id,
                carrier: t.carrier,
                number: t.number,
                date: t.date,
                coach: t.coach,
                row: Some(t.row),
                seat: Some(t.seat),
                from: None,
                to: None,
            })
            .collect(),
        vaccinations: r
            .vaccinations
            .into_iter()
            .map(|v| Vaccination {
                record_id: v.record_id,
                // The day is known, not the hour: local midnight.
                at: healthcode_core::local_time::local_midnight(v.date),
                dose: v.dose,
                product: Some(v.product),
            })
            .collect(),
        quarantines: r
            .quarantines
            .into_iter()
            .map(|q| Quarantine {
                record_id: q.quarantine_id,
                kind: q.kind,
                start: q.start,
                planned_end: q.planned_end,
                ended_at: q.ended_at,
            })
            .collect(),
        overrides: r.overrides.into_iter().map(|o| override_fact(app, o)).collect::<ApiResult<_>>()?,
        exposures: r
            .exposures
            .into_iter()
            .map(|e| Exposure {
                source: e.source(),
                record_id: e.record_id,
                kind: e.kind,
                at: e.at,
                case_id: Some(e.case_id),
            })
            .collect(),
    })
}

/// An approved override, in force from its approval; the reason is opened for the person's
/// explanation (it was sealed at rest).
fn override_fact(app: &AppState, o: OverrideRecord) -> ApiResult<Override> {
    let reason = app
        .vault
        .open_string(&crate::routes::overrides::reason_context(&o.override_id), &o.reason_sealed)
        .map_err(|e| {
            tracing::error!(override_id = o.override_id, error = %e, "an override's reason does not open");
            crate::error::ApiError::internal()
        })?;
    Ok(Override {
        record_id: o.override_id,
        color: o.color,
        from: o.approved_at.unwrap_or(o.proposed_at),
        until: Some(o.expires_at),
        legal_basis: o.legal_basis,
        reason,
        approved_by: o.approved_by.unwrap_or_default(),
    })
}

/// The full decision for a person now, by the rules in force (codes, status pages).
pub async fn decide(app: &AppState, person: &PersonRecord) -> ApiResult<Decision> {
    let facts = facts_for(app, person).await?;
    let regions = region_risk(app).await?;
    Ok(app.rules.evaluate(&facts, &regions, app.clock.now()))
}

/// The decision for a person now as it is stored, without texts, by `rules` (which the
/// caller has kept in the store: `RulesInForce::current_kept`).
pub async fn decide_unexplained(app: &AppState, person: &PersonRecord, rules: &RuleSet) -> ApiResult<Decision> {
    let facts = facts_for(app, person).await?;
    let regions = region_risk(app).await?;
    Ok(rules.evaluate_unexplained(&facts, &regions, app.clock.now()))
}
