//! Cases and contact tracing (R7): `POST /api/v1/cases` (a health officer reports a case for a
//! person in their regions) and `POST /api/v1/cases/{id}/trace` (close and secondary contacts
//! with evidence, written as exposures that recolor the people found). `docs/tracing.md`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use healthcode_core::rules::CaseStatus;
use healthcode_core::{Role, SubjectId, local_day};
use healthcode_store::{AuditEntry, TraceCaseRecord};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, StaffUser};
use crate::state::AppState;
use crate::trace_job::{TraceReport, trace_and_record};
use crate::validate::{Validator, checked};

/// How far back a case's onset or sample may lie: tracing further back finds no visits that
/// are still kept, and a typo (2012 for 2022) would ask the store for years of data.
const OLDEST_CASE_DAYS: i64 = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    subject_id: String,
    status: String,
    onset_date: Option<NaiveDate>,
    sampled_at: Option<DateTime<FixedOffset>>,
    isolated_at: Option<DateTime<FixedOffset>>,
}

#[derive(Serialize)]
pub struct CaseCreated {
    case_id: String,
}

fn push(v: &mut Validator, field: &str, code: &str, message: &str) {
    v.push(FieldError::new(field, code, message));
}

pub async fn report(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<NewCase>,
) -> ApiResult<(StatusCode, Json<CaseCreated>)> {
    caller.require(&[Role::Officer])?;
    let now = app.clock.now();
    let oldest = now - Duration::days(OLDEST_CASE_DAYS);
    let mut v = Validator::default();
    let subject = v.check("subject_id", SubjectId::parse(&body.subject_id));
    let status = match body.status.as_str() {
        "confirmed" => Some(CaseStatus::Confirmed),
        "suspected" => Some(CaseStatus::Suspected),
        _ => {
            push(&mut v, "status", "invalid_value", "status must be confirmed or suspected");
            None
        }
    };
    if let Some(day) = body.onset_date {
        if day > local_day(now) {
            push(&mut v, "onset_date", "date_in_future", "the onset date is after today (local time)");
        } else if day < local_day(oldest) {
            push(&mut v, "onset_date", "date_too_early", "the onset date is more than 60 days ago");
        }
    }
    for (field, t) in [("sampled_at", body.sampled_at), ("isolated_at", body.isolated_at)] {
        match t.map(|t| t.to_utc()) {
            Some(t) if t > now => push(&mut v, field, "time_in_future", "this time is in the future"),
            Some(t) if t < oldest => push(&mut v, field, "time_too_early", "this time is more than 60 days ago"),
            _ => {}
        }
    }
    v.finish()?;
    let case = TraceCaseRecord {
        case_id: format!("case_{}", hex::encode(healthcode_vault::random::<10>())),
        subject_id: checked(subject),
        status: checked(status),
        onset_date: body.onset_date,
        sampled_at: body.sampled_at.map(|t| t.to_utc()),
        isolated_at: body.isolated_at.map(|t| t.to_utc()),
        created_at: now,
        created_by: caller.id().to_string(),
    };
    let audit = AuditEntry {
        at: now,
        actor: caller.actor(),
        action: "case.report".into(),
        subject_id: Some(case.subject_id.clone()),
        purpose: None,
        detail: serde_json::json!({"case_id": case.case_id, "status": case.status}),
    };
    // Out of the officer's regions looks exactly like an unknown person.
    if !app.store.trace_case_insert(Some(caller.id()), &case, &audit).await? {
        return Err(ApiError::not_found("person"));
    }
    tracing::info!(case_id = case.case_id, subject_id = %case.subject_id, by = caller.id(), "case reported");
    // The case's own color follows from the case status written with it.
    crate::recolor::recolor(&app, &case.subject_id).await?;
    Ok((StatusCode::CREATED, Json(CaseCreated { case_id: case.case_id })))
}

pub async fn trace(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(case_id): Path<String>,
) -> ApiResult<Json<TraceReport>> {
    caller.require(&[Role::Officer])?;
    let case = app
        .store
        .trace_case_get(Some(caller.id()), &case_id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "case_not_found", "no such case in your regions"))?;
    let now = app.clock.now();
    let audit = AuditEntry {
        at: now,
        actor: caller.actor(),
        action: "case.trace".into(),
        subject_id: Some(case.subject_id.clone()),
        purpose: None,
        detail: serde_json::json!({}),
    };
    let traced = trace_and_record(&*app.store, std::slice::from_ref(&case), now, &app.settings.tracing, audit).await?;
    let t = &traced[0];
    tracing::info!(case_id = case.case_id, close = t.close.len(), secondary = t.secondary.len(), "case traced");
    // Recolor exactly the people found (and the case), in the background: the answer does
    // not wait for a thousand decisions.
    let subjects: Vec<SubjectId> = t.subjects().cloned().chain([case.subject_id.clone()]).collect();
    let background = app.clone();
    tokio::spawn(async move {
        let n = subjects.len();
        let changed = crate::recolor::recolor_all(&background, subjects).await;
        tracing::info!(people = n, changed, "recolored after tracing");
    });
    Ok(Json(TraceReport::from(t)))
}
