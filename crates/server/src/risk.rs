//! The person's color, from the published rule set over their facts (R4, R8, R9, R12).
//!
//! Decisions are made when asked (a code, a status page): the facts are read from the store,
//! the rule set is evaluated at the clock's now. So a color returns to green exactly when
//! its time is up, with nothing to schedule; stored decisions, colour-change events and the
//! review scheduler come with the recoloring work (see ARCHITECTURE.md).

use chrono::Duration;
use healthcode_core::rules::{
    CaseRecord, Decision, DeclarationFact, Exposure, Facts, LabTest, RegionRisk, RiskPeriod, Stay, StaySource, TestKind, Trip,
    Vaccination,
};
use healthcode_store::PersonRecord;

use crate::error::ApiResult;
use crate::state::AppState;

/// How far back facts are read: longer than any window of a sane rule set (the default's
/// longest is 14 days after a stay ends).
const LOOK_BACK_DAYS: i64 = 60;

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

/// Everything the store knows about a person that the rules read: declarations, telecom
/// stays (by phone); lab tests, case statuses, trips and vaccinations (by ID number).
pub async fn facts_for(app: &AppState, person: &PersonRecord) -> ApiResult<Facts> {
    let since = app.clock.now() - Duration::days(LOOK_BACK_DAYS);
    let declarations = app.store.declarations(&person.subject_id, LOOK_BACK_DAYS as u32 * 2).await?;
    let stays = match &person.phone_index {
        Some(index) => app.store.stays_for(index, since).await?,
        None => Vec::new(),
    };
    let tests = app.store.lab_tests_for(&person.id_index, since).await?;
    let cases = app.store.cases_for(&person.id_index).await?;
    let trips = app.store.trips_for(&person.id_index).await?;
    let vaccinations = app.store.vaccinations_for(&person.id_index).await?;
    let exposures = app.store.exposures_for(&person.subject_id).await?;
    Ok(Facts {
        registered_at: Some(person.created_at),
        declarations: declarations
            .iter()
            .filter(|d| d.superseded_at.is_none())
            .map(|d| DeclarationFact::from_declaration(format!("declaration-{}", d.id), &d.declaration))
            .collect(),
        stays: stays
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
        tests: tests
            .into_iter()
            .map(|t| LabTest {
                record_id: t.record_id,
                kind: TestKind::Pcr,
                sampled_at: t.sampled_at,
                reported_at: None,
                result: t.result,
            })
            .collect(),
        cases: cases.into_iter().map(|c| CaseRecord { record_id: c.record_id, status: c.status, at: c.at }).collect(),
        trips: trips
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
        vaccinations: vaccinations
            .into_iter()
            .map(|v| Vaccination {
                record_id: v.record_id,
                // The day is known, not the hour: local midnight.
                at: healthcode_core::local_time::local_midnight(v.date),
                dose: v.dose,
                product: Some(v.product),
            })
            .collect(),
        exposures: exposures
            .into_iter()
            .map(|e| Exposure {
                source: e.source(),
                record_id: e.record_id,
                kind: e.kind,
                at: e.at,
                case_id: Some(e.case_id),
            })
            .collect(),
        ..Facts::default()
    })
}

/// The full decision for a person now.
pub async fn decide(app: &AppState, person: &PersonRecord) -> ApiResult<Decision> {
    let facts = facts_for(app, person).await?;
    let regions = region_risk(app).await?;
    Ok(app.rules.evaluate(&facts, &regions, app.clock.now()))
}
