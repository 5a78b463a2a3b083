//! Manual color changes (R12, R13): `POST /api/v1/overrides` proposes, a second officer's
//! `POST /api/v1/overrides/{id}/approve` puts it in force, and `GET
//! /api/v1/overrides/legal-bases` publishes what may be cited.
//!
//! Why so much ceremony: in 2022 officials turned depositors' codes red to stop a protest.
//! Here a change needs a legal basis that allows that color, a reason, an expiry no further
//! than `override_max_days`, and two different officers who both have the person in their
//! regions (checked in the store's SQL). Every step is audited and the person sees it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, FixedOffset};
use healthcode_core::local_time::to_local;
use healthcode_core::{Color, LEGAL_BASES, SubjectId, legal_basis};
use healthcode_store::{Approval, AuditEntry, OverrideRecord, OverrideStatus};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, StaffUser};
use crate::routes::system::{LangQuery, wants_english};
use crate::state::AppState;
use crate::validate::{Validator, checked};

/// Longest reason kept; a reason is a sentence or two, not a dossier.
const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    subject_id: String,
    color: String,
    legal_basis: String,
    reason: String,
    expires_at: DateTime<FixedOffset>,
}

#[derive(Serialize)]
pub struct OverrideView {
    override_id: String,
    status: &'static str,
    subject_id: String,
    color: Color,
    legal_basis: String,
    expires_at: DateTime<FixedOffset>,
    proposed_by: String,
    approved_by: Option<String>,
    approved_at: Option<DateTime<FixedOffset>>,
}

impl From<&OverrideRecord> for OverrideView {
    fn from(o: &OverrideRecord) -> Self {
        Self {
            override_id: o.override_id.clone(),
            status: o.status.as_str(),
            subject_id: o.subject_id.to_string(),
            color: o.color,
            legal_basis: o.legal_basis.clone(),
            expires_at: to_local(o.expires_at),
            proposed_by: o.proposed_by.clone(),
            approved_by: o.approved_by.clone(),
            approved_at: o.approved_at.map(to_local),
        }
    }
}

/// The vault context of a reason: binds the sealed text to its override.
pub fn reason_context(override_id: &str) -> String {
    format!("overrides.reason:{override_id}")
}

/// An officer's action on a person, for the audit log (the person sees it in their access log).
pub fn officer_audit(
    caller: &StaffUser,
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    subject: &SubjectId,
    detail: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: caller.actor(),
        action: action.into(),
        subject_id: Some(subject.clone()),
        purpose: None,
        detail,
    }
}

pub async fn propose(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<ProposeBody>,
) -> ApiResult<(StatusCode, Json<OverrideView>)> {
    caller.require(&[healthcode_core::Role::Officer])?;
    let now = app.clock.now();
    let mut v = Validator::default();
    let subject = v.check("subject_id", SubjectId::parse(body.subject_id.trim()));
    let color = Color::parse(&body.color);
    if color.is_none() {
        v.push(FieldError::new("color", "invalid_value", "color is green, yellow or red"));
    }
    let basis = legal_basis(body.legal_basis.trim());
    match (basis, color) {
        (None, _) => v.push(FieldError::new(
            "legal_basis",
            "unknown_legal_basis",
            "not a basis in force; see GET /api/v1/overrides/legal-bases",
        )),
        (Some(b), Some(c)) if !b.allows(c) => {
            v.push(FieldError::new("color", "not_allowed_by_basis", format!("{} does not allow {}", b.id, c.as_str())))
        }
        _ => {}
    }
    let reason = body.reason.trim();
    if reason.is_empty() {
        v.push(FieldError::new("reason", "required", "state why, for the person and the auditors"));
    } else if reason.chars().count() > MAX_REASON_CHARS {
        v.push(FieldError::new("reason", "too_long", format!("at most {MAX_REASON_CHARS} characters")));
    }
    let expires_at = body.expires_at.to_utc();
    let longest = app.settings.override_max;
    if expires_at <= now {
        v.push(FieldError::new("expires_at", "in_past", "an override must expire in the future"));
    } else if expires_at > now + longest {
        v.push(FieldError::new(
            "expires_at",
            "too_far",
            format!("an override lasts at most {} days; renew it if it must go on", longest.num_days()),
        ));
    }
    v.finish()?;
    let (subject, color, basis) = (checked(subject), checked(color), checked(basis));

    let override_id = format!("ov_{}", hex::encode(healthcode_vault::random::<10>()));
    let record = OverrideRecord {
        reason_sealed: app.vault.seal(&reason_context(&override_id), reason.as_bytes()),
        override_id,
        subject_id: subject.clone(),
        color,
        legal_basis: basis.id.to_string(),
        expires_at,
        status: OverrideStatus::Pending,
        proposed_by: caller.id().to_string(),
        proposed_at: now,
        approved_by: None,
        approved_at: None,
    };
    let audit = officer_audit(
        &caller,
        now,
        "override.propose",
        &subject,
        serde_json::json!({"override_id": record.override_id, "color": color, "legal_basis": basis.id, "expires_at": expires_at}),
    );
    // Out of scope and unknown look the same, so an officer cannot probe other regions.
    if !app.store.override_propose(caller.id(), &record, &audit).await? {
        return Err(ApiError::not_found("person"));
    }
    tracing::info!(override_id = record.override_id, by = caller.id(), color = color.as_str(), "override proposed");
    Ok((StatusCode::CREATED, Json(OverrideView::from(&record))))
}

pub async fn approve(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(override_id): Path<String>,
) -> ApiResult<Json<OverrideView>> {
    caller.require(&[healthcode_core::Role::Officer])?;
    let now = app.clock.now();
    let audit = AuditEntry {
        at: now,
        actor: caller.actor(),
        action: "override.approve".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({"override_id": override_id}),
    };
    match app.store.override_approve(caller.id(), &override_id, now, &audit).await? {
        Approval::Approved(o) => {
            tracing::info!(override_id = o.override_id, by = caller.id(), "override approved");
            // In force now: recolor before answering, so the approver sees its effect at once.
            crate::recolor::recolor(&app, &o.subject_id).await?;
            Ok(Json(OverrideView::from(&o)))
        }
        Approval::NotFound => Err(ApiError::new(StatusCode::NOT_FOUND, "override_not_found", "no such override")),
        Approval::SameOfficer => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "same_officer",
            "the officer who proposed an override cannot approve it: a second officer must",
        )),
        Approval::NotPending => {
            Err(ApiError::new(StatusCode::CONFLICT, "override_not_pending", "this override is already approved"))
        }
        Approval::Expired => Err(ApiError::new(
            StatusCode::CONFLICT,
            "override_expired",
            "this override expired before it was approved; propose a new one",
        )),
    }
}

#[derive(Serialize)]
pub struct BasisView {
    id: &'static str,
    title: &'static str,
    colors: &'static [Color],
}

#[derive(Serialize)]
pub struct LegalBases {
    bases: Vec<BasisView>,
    lang: &'static str,
}

/// The bases an override may cite, and the colors each allows.
pub async fn legal_bases(ApiQuery(q): ApiQuery<LangQuery>, headers: HeaderMap) -> Json<LegalBases> {
    let en = wants_english(q.lang.as_deref(), &headers);
    Json(LegalBases {
        bases: LEGAL_BASES.iter().map(|b| BasisView { id: b.id, title: b.title(en), colors: b.colors }).collect(),
        lang: if en { "en" } else { "zh-CN" },
    })
}
