//! Quarantine orders (隔离): `POST /api/v1/quarantines` and `POST /api/v1/quarantines/{id}/end`.
//!
//! A health officer in scope records that a person is in centralized or home quarantine; the
//! rule set decides what color that gives (the default: centralized red, home yellow) and it
//! ends at the planned end or at the release, whichever the officer records. Not in API.md's
//! fixed list: an addition next to the overrides, named like them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use healthcode_core::local_time::to_local;
use healthcode_core::rules::QuarantineKind;
use healthcode_core::{Role, SubjectId};
use healthcode_store::{AuditEntry, QuarantineRecord};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, StaffUser};
use crate::routes::overrides::officer_audit;
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    subject_id: String,
    kind: QuarantineKind,
    start: DateTime<FixedOffset>,
    planned_end: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// Default: now.
    ended_at: Option<DateTime<FixedOffset>>,
}

#[derive(Serialize)]
pub struct QuarantineView {
    quarantine_id: String,
    subject_id: String,
    kind: QuarantineKind,
    start: DateTime<FixedOffset>,
    planned_end: Option<DateTime<FixedOffset>>,
    ended_at: Option<DateTime<FixedOffset>>,
}

impl From<&QuarantineRecord> for QuarantineView {
    fn from(q: &QuarantineRecord) -> Self {
        Self {
            quarantine_id: q.quarantine_id.clone(),
            subject_id: q.subject_id.to_string(),
            kind: q.kind,
            start: to_local(q.start),
            planned_end: q.planned_end.map(to_local),
            ended_at: q.ended_at.map(to_local),
        }
    }
}

pub async fn start(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<QuarantineView>)> {
    caller.require(&[Role::Officer])?;
    let now = app.clock.now();
    let mut v = Validator::default();
    let subject = v.check("subject_id", SubjectId::parse(body.subject_id.trim()));
    let start = body.start.to_utc();
    let planned_end = body.planned_end.map(|t| t.to_utc());
    if planned_end.is_some_and(|e| e <= start) {
        v.push(FieldError::new("planned_end", "end_before_start", "the planned end must come after the start"));
    }
    v.finish()?;
    let subject = checked(subject);
    let record = QuarantineRecord {
        quarantine_id: format!("qu_{}", hex::encode(healthcode_vault::random::<10>())),
        subject_id: subject.clone(),
        kind: body.kind,
        start,
        planned_end,
        ended_at: None,
        created_by: caller.id().to_string(),
        created_at: now,
    };
    let audit = officer_audit(
        &caller,
        now,
        "quarantine.start",
        &subject,
        serde_json::json!({"quarantine_id": record.quarantine_id, "kind": body.kind, "start": start, "planned_end": planned_end}),
    );
    if !app.store.quarantine_insert(caller.id(), &record, &audit).await? {
        return Err(ApiError::not_found("person"));
    }
    crate::recolor::recolor(&app, &subject).await?;
    Ok((StatusCode::CREATED, Json(QuarantineView::from(&record))))
}

pub async fn end(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(quarantine_id): Path<String>,
    ApiJson(body): ApiJson<EndBody>,
) -> ApiResult<Json<QuarantineView>> {
    caller.require(&[Role::Officer])?;
    let now = app.clock.now();
    let at = body.ended_at.map_or(now, |t| t.to_utc());
    let audit = AuditEntry {
        at: now,
        actor: caller.actor(),
        action: "quarantine.end".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({"quarantine_id": quarantine_id, "ended_at": at}),
    };
    let q = app
        .store
        .quarantine_end(caller.id(), &quarantine_id, at, &audit)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "quarantine_not_found", "no such quarantine"))?;
    crate::recolor::recolor(&app, &q.subject_id).await?;
    Ok(Json(QuarantineView::from(&q)))
}
