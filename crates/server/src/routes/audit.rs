//! Accountability reads: a person's own access log, and the auditor's view of the whole log.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset};
use healthcode_core::Role;
use healthcode_core::local_time::to_local;
use healthcode_store::AuditRecord;
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{ApiQuery, Citizen, StaffUser};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogQuery {
    subject_id: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct AccessEntry {
    at: DateTime<FixedOffset>,
    /// `staff` or `bootstrap_admin`; citizens' own actions are not listed.
    actor_kind: String,
    actor_id: String,
    actor_role: Option<String>,
    action: String,
    purpose: Option<String>,
}

/// Who read or changed my record (or my dependent's), when, and why; newest first.
pub async fn access_log(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> ApiResult<Json<Vec<AccessEntry>>> {
    let subject_id = citizen.acting_for(&app, q.subject_id.as_deref()).await?;
    let records = app.store.audit_for_subject(&subject_id, q.limit.unwrap_or(100).min(1000)).await?;
    Ok(Json(
        records
            .into_iter()
            .filter(|r| r.entry.actor.kind != "citizen")
            .map(|r| AccessEntry {
                at: to_local(r.entry.at),
                actor_kind: r.entry.actor.kind,
                actor_id: r.entry.actor.id,
                actor_role: r.entry.actor.role,
                action: r.entry.action,
                purpose: r.entry.purpose,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

/// The audit log for auditors, oldest first from `after`.
pub async fn audit_log(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    caller.require(&[Role::Auditor])?;
    Ok(Json(app.store.audit_since(q.after.unwrap_or(0), q.limit.unwrap_or(100).min(1000)).await?))
}
