//! `PUT /api/v1/regions/{code}/risk`: a health officer sets a region's risk level (R4, R8).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use healthcode_core::local_time::to_local;
use healthcode_core::{RegionCode, RiskLevel, Role};
use healthcode_store::{AuditEntry, RegionRiskRecord};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, StaffUser};
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskBody {
    level: RiskLevel,
    effective_from: DateTime<FixedOffset>,
}

#[derive(Serialize)]
pub struct RiskSet {
    record_id: String,
    region: String,
    level: RiskLevel,
    effective_from: DateTime<FixedOffset>,
}

pub async fn set_risk(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<RiskBody>,
) -> ApiResult<(StatusCode, Json<RiskSet>)> {
    caller.require(&[Role::Officer])?;
    let mut v = Validator::default();
    let region = v.check("region", RegionCode::parse(&code));
    v.finish()?;
    let region = checked(region);
    let scope = caller.staff.as_ref().map(|s| s.regions.as_slice()).unwrap_or_default();
    if !scope.iter().any(|s| s.covers(region)) {
        return Err(ApiError::field(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            FieldError::new("region", "out_of_scope", format!("{region} is outside your regions")),
        ));
    }
    let now = app.clock.now();
    let record = RegionRiskRecord {
        record_id: format!("officer:{}:{}", caller.id(), now.timestamp_micros()),
        region,
        level: body.level,
        effective_from: body.effective_from.to_utc(),
        effective_to: None,
    };
    app.store.region_risk_set(&record).await?;
    app.store
        .audit_append(&AuditEntry {
            at: now,
            actor: caller.actor(),
            action: "region.risk.set".into(),
            subject_id: None,
            purpose: None,
            detail: serde_json::json!({"region": region.to_string(), "level": body.level, "effective_from": record.effective_from}),
        })
        .await?;
    tracing::info!(region = %region, level = ?body.level, by = caller.id(), "region risk set");
    let touched =
        crate::recolor::Touched { regions: vec![(region, record.effective_from, None)], ..Default::default() };
    crate::recolor::spawn_recolor(&app, touched);
    Ok((
        StatusCode::CREATED,
        Json(RiskSet {
            record_id: record.record_id,
            region: region.to_string(),
            level: body.level,
            effective_from: to_local(record.effective_from),
        }),
    ))
}
