//! `POST /api/v1/imports/{kind}`: bulk facts from data partners and officers (R5).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use healthcode_core::Role;
use healthcode_store::AuditEntry;

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::StaffUser;
use crate::imports::{ImportContext, ImportReport, InputFormat, Kind, import};
use crate::state::AppState;

/// Largest import body over HTTP; bigger files go through `healthcode import`.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub async fn import_kind(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(kind_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let kind = Kind::parse(&kind_name).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "import_kind_unsupported", format!("no import kind {kind_name:?} here"))
    })?;
    // Partners import the kinds they were granted; officers set region risk and type in
    // venues' registers in their regions.
    let scope = match (&caller.staff, caller.role) {
        (Some(s), Role::Partner) if s.import_kinds.iter().any(|k| k == kind.as_str()) => None,
        (Some(s), Role::Officer) if kind == Kind::RegionRisk => Some(s.regions.clone()),
        // Paper registers of venues in their regions.
        (Some(s), Role::Officer) if kind == Kind::Visits => Some(s.regions.clone()),
        _ => return Err(ApiError::forbidden(&format!("this account may not import {}", kind.as_str()))),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = InputFormat::guess(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send text/csv or application/x-ndjson",
        )
    })?;
    let ctx = ImportContext {
        store: app.store.as_ref(),
        vault: &app.vault,
        regions: scope.as_deref(),
        now: app.clock.now(),
        visit_retention_days: app.settings.visit_retention_days,
    };
    let mut report = import(&ctx, kind, format, &body[..], |_| {}).await.map_err(|e| match e {
        crate::imports::FileError::Store(msg) => {
            tracing::error!(error = %msg, "import failed in the store");
            ApiError::internal()
        }
        other => ApiError::field(
            StatusCode::BAD_REQUEST,
            other.code(),
            FieldError::new("body", other.code(), other.to_string()),
        ),
    })?;
    app.store
        .audit_append(&AuditEntry {
            at: app.clock.now(),
            actor: caller.actor(),
            action: format!("import.{}", kind.as_str()),
            subject_id: None,
            purpose: None,
            detail: serde_json::json!({
                "accepted": report.accepted, "duplicates": report.duplicates, "rejected": report.rejected_total,
            }),
        })
        .await?;
    tracing::info!(
        kind = kind.as_str(),
        by = caller.id(),
        accepted = report.accepted,
        duplicates = report.duplicates,
        rejected = report.rejected_total,
        "import"
    );
    crate::recolor::spawn_recolor(&app, std::mem::take(&mut report.touched));
    Ok(Json(report))
}
