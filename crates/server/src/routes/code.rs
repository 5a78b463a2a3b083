//! The health code itself (R1, R6, R10): phone codes for citizens and their dependents,
//! printable paper codes, the signed trust list, and the online color lookup that paper
//! codes need.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use healthcode_core::local_time::to_local;
use healthcode_core::{Color, Role, SubjectId};
use healthcode_store::{AuditEntry, PersonRecord};
use healthcode_token::qr::Qr;
use healthcode_token::{CodeKind, HealthClaims, SignedTrustList, TrustList, VerifyOptions, sign_token};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, Citizen, StaffUser};
use crate::state::AppState;

/// Rule-set version carried on paper codes, which carry no color: all zeros ("unrated").
pub const UNRATED: [u8; 8] = [0; 8];

/// A person's color as of now, with since when and under which rule set.
pub struct CurrentColor {
    pub color: Color,
    pub since: DateTime<Utc>,
    pub rule_set_version: [u8; 8],
}

/// The color the code shows: the rule set in force over the person's facts, now. A green
/// without a reason counts from registration (the engine keeps no history yet).
pub async fn current_color(app: &AppState, person: &PersonRecord) -> ApiResult<CurrentColor> {
    let facts = crate::risk::facts_for(app, person).await?;
    let regions = crate::risk::region_risk(app).await?;
    // One version for the color and the version the token names.
    let rules = app.rules.current();
    let verdict = rules.evaluate_color(&facts, &regions, app.clock.now());
    Ok(CurrentColor {
        color: verdict.color,
        since: verdict.since.unwrap_or(person.created_at),
        rule_set_version: rules.version_bytes8(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// A dependent's subject id, when a guardian fetches their code.
    subject_id: Option<String>,
}

#[derive(Serialize)]
pub struct CodeAnswer {
    token: String,
    kind: CodeKind,
    color: Option<Color>,
    expires_at: DateTime<FixedOffset>,
    masked_name: String,
    /// QR version the token needs at error correction M.
    qr_version: i16,
}

async fn person_for(app: &AppState, citizen: &Citizen, q: &CodeQuery) -> ApiResult<PersonRecord> {
    let subject = citizen.acting_for(app, q.subject_id.as_deref()).await?;
    if subject == citizen.person.subject_id {
        return Ok(citizen.person.clone());
    }
    app.store.person_get(&subject).await?.ok_or_else(|| ApiError::not_found("person"))
}

async fn issue(app: &AppState, person: &PersonRecord, kind: CodeKind) -> ApiResult<(String, HealthClaims)> {
    let key = app.keys.active().ok_or_else(|| {
        tracing::error!("no active issuer key");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_signing_key", "the issuer has no active signing key")
    })?;
    let now = app.clock.now();
    let (color, ttl) = match kind {
        CodeKind::Phone => (Some(current_color(app, person).await?), app.settings.code_ttl),
        CodeKind::Paper => (None, app.settings.paper_ttl),
    };
    let claims = HealthClaims {
        issuer_region: key.region,
        issuer_node: key.node.clone(),
        subject: person.subject_id.to_string(),
        issued_at: now,
        expires_at: now + ttl,
        masked_name: person.masked_name.clone(),
        kind,
        color: color.as_ref().map(|c| c.color),
        color_since: color.as_ref().map(|c| c.since),
        rule_set_version: color.as_ref().map_or(UNRATED, |c| c.rule_set_version),
        summary: None,
    };
    Ok((sign_token(&claims, &key.secret), claims))
}

fn answer(token: String, claims: &HealthClaims) -> ApiResult<CodeAnswer> {
    let qr = Qr::new(&token).map_err(|e| {
        tracing::error!(error = %e, "token does not fit a QR code");
        ApiError::internal()
    })?;
    Ok(CodeAnswer {
        qr_version: qr.version(),
        token,
        kind: claims.kind,
        color: claims.color,
        expires_at: to_local(claims.expires_at),
        masked_name: claims.masked_name.clone(),
    })
}

fn image(token: &str, svg: bool) -> ApiResult<Response> {
    let qr = Qr::new(token).map_err(|_| ApiError::internal())?;
    // A code is valid for minutes: no cache may keep it.
    let no_store = (header::CACHE_CONTROL, "no-store");
    Ok(if svg {
        ([(header::CONTENT_TYPE, "image/svg+xml"), no_store], qr.svg()).into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/png"), no_store], qr.png()).into_response()
    })
}

pub async fn phone_code(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Json<CodeAnswer>> {
    let person = person_for(&app, &citizen, &q).await?;
    let (token, claims) = issue(&app, &person, CodeKind::Phone).await?;
    Ok(Json(answer(token, &claims)?))
}

pub async fn phone_code_png(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Response> {
    let person = person_for(&app, &citizen, &q).await?;
    image(&issue(&app, &person, CodeKind::Phone).await?.0, false)
}

pub async fn phone_code_svg(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Response> {
    let person = person_for(&app, &citizen, &q).await?;
    image(&issue(&app, &person, CodeKind::Phone).await?.0, true)
}

pub async fn paper_code(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Json<CodeAnswer>> {
    let person = person_for(&app, &citizen, &q).await?;
    let (token, claims) = issue(&app, &person, CodeKind::Paper).await?;
    Ok(Json(answer(token, &claims)?))
}

pub async fn paper_code_png(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Response> {
    let person = person_for(&app, &citizen, &q).await?;
    image(&issue(&app, &person, CodeKind::Paper).await?.0, false)
}

/// The signed list of our issuer keys, for verifiers (signed afresh on each request: it is
/// cheap, and the validity window moves with it).
pub async fn trust_list(State(app): State<AppState>) -> Response {
    let now = app.clock.now();
    let s = &app.settings;
    let payload = app.keys.trust_list(now, s.paper_ttl, s.trust_list_validity);
    let signed = SignedTrustList::sign(&payload, app.keys.root());
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")], signed.to_json())
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    token: String,
}

#[derive(Serialize)]
pub struct LookupAnswer {
    subject_id: String,
    masked_name: String,
    kind: CodeKind,
    color: Color,
    color_since: DateTime<FixedOffset>,
}

/// A checkpoint or officer presents a code (a paper code, whose color is not printed on it)
/// and gets the person's current color. The code is verified first; the lookup is audited.
pub async fn lookup(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<LookupBody>,
) -> ApiResult<Json<LookupAnswer>> {
    caller.require(&[Role::Checkpoint, Role::Officer])?;
    let now = app.clock.now();
    let s = &app.settings;
    let trust = TrustList::from_payload(app.keys.trust_list(now, s.paper_ttl, s.trust_list_validity))
        .map_err(|_| ApiError::internal())?;
    let verified = healthcode_token::check(&body.token, &trust, VerifyOptions::at(now));
    let verified = verified.map_err(|report| {
        let e = report.error.expect("an unverified report has an error");
        ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "code_invalid", FieldError::new("token", e.code, e.message))
    })?;
    let subject = SubjectId::parse(&verified.claims.subject).map_err(|_| ApiError::not_found("person"))?;
    let person = app.store.person_get(&subject).await?.ok_or_else(|| ApiError::not_found("person"))?;
    let color = current_color(&app, &person).await?;
    app.store
        .audit_append(&AuditEntry {
            at: now,
            actor: caller.actor(),
            action: "code.lookup".into(),
            subject_id: Some(subject.clone()),
            purpose: Some("code check".into()),
            detail: serde_json::json!({"kind": verified.claims.kind}),
        })
        .await?;
    Ok(Json(LookupAnswer {
        subject_id: subject.to_string(),
        masked_name: person.masked_name,
        kind: verified.claims.kind,
        color: color.color,
        color_since: to_local(color.since),
    }))
}
