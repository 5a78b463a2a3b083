//! Phone one-time-password login (R1): request a code, exchange it for a session.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use healthcode_core::Phone;
use healthcode_core::otp::{OtpOutcome, OtpRefusal};
use healthcode_store::{OtpResult, OtpTransition, Session};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, PhoneSession, SESSION_PREFIX};
use crate::identity::{OTP_DOMAIN, phone_index};
use crate::settings::OtpSenderKind;
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    phone: String,
}

#[derive(Serialize)]
pub struct OtpSent {
    sent: bool,
    expires_in_seconds: i64,
    resend_after_seconds: i64,
}

fn parse_phone(raw: &str) -> ApiResult<Phone> {
    let mut v = Validator::default();
    let phone = v.check("phone", Phone::parse(raw));
    v.finish()?;
    Ok(checked(phone))
}

fn code_hash(app: &AppState, phone: &Phone, code: &str) -> Vec<u8> {
    app.vault.blind_index(OTP_DOMAIN, &format!("{}:{code}", phone.expose()))
}

/// Six random digits, drawn without modulo bias.
fn new_code() -> String {
    loop {
        let n = u32::from_be_bytes(healthcode_vault::random());
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn locked(until: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> ApiError {
    ApiError::field(
        StatusCode::TOO_MANY_REQUESTS,
        "otp_locked",
        FieldError::new("phone", "otp_locked", "too many wrong codes: this phone is locked for a while"),
    )
    .with_retry_after((until - now).num_seconds())
}

pub async fn request_code(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OtpRequest>,
) -> ApiResult<(StatusCode, Json<OtpSent>)> {
    let phone = parse_phone(&body.phone)?;
    if app.settings.otp_sender == OtpSenderKind::Disabled {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "otp_unavailable",
            "no one-time-password sender is configured on this server",
        ));
    }
    let now = app.clock.now();
    let code = new_code();
    let transition = OtpTransition::Issue { code_hash: code_hash(&app, &phone, &code) };
    let policy = &app.settings.otp_policy;
    match app.store.otp_apply(&phone_index(&app.vault, &phone), transition, now, policy).await? {
        OtpResult::Issued => {}
        OtpResult::Refused(OtpRefusal::Locked { until }) => return Err(locked(until, now)),
        OtpResult::Refused(OtpRefusal::TooSoon { retry_at }) => {
            return Err(ApiError::field(
                StatusCode::TOO_MANY_REQUESTS,
                "otp_too_soon",
                FieldError::new("phone", "otp_too_soon", "a code was sent a moment ago; wait before asking again"),
            )
            .with_retry_after((retry_at - now).num_seconds()));
        }
        OtpResult::Checked(_) => unreachable!("an issue transition is never a check"),
    }
    app.otp_sender.send(&phone, &code).await.map_err(|e| {
        tracing::error!(error = %e, "otp delivery failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "otp_unavailable", "the code could not be delivered; try again")
    })?;
    app.metrics.otp_sent.inc();
    Ok((
        StatusCode::ACCEPTED,
        Json(OtpSent {
            sent: true,
            expires_in_seconds: policy.ttl.num_seconds(),
            resend_after_seconds: policy.resend_after.num_seconds(),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    phone: String,
    code: String,
}

#[derive(Serialize)]
pub struct LoginAnswer {
    token: String,
    expires_at: chrono::DateTime<chrono::FixedOffset>,
    /// Whether this phone has registered a person yet.
    registered: bool,
}

fn code_error(code: &'static str, message: &str) -> ApiError {
    ApiError::field(StatusCode::UNAUTHORIZED, code, FieldError::new("code", code, message))
}

pub async fn login(State(app): State<AppState>, ApiJson(body): ApiJson<LoginRequest>) -> ApiResult<Json<LoginAnswer>> {
    let mut v = Validator::default();
    let phone = v.check("phone", Phone::parse(&body.phone));
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        v.push(FieldError::new("code", "otp_format", "the code has six digits"));
    }
    v.finish()?;
    let phone = checked(phone);
    let now = app.clock.now();
    let index = phone_index(&app.vault, &phone);
    let transition = OtpTransition::Verify { code_hash: code_hash(&app, &phone, code) };
    let outcome = match app.store.otp_apply(&index, transition, now, &app.settings.otp_policy).await? {
        OtpResult::Checked(o) => o,
        other => unreachable!("a verify transition is always a check, got {other:?}"),
    };
    match outcome {
        OtpOutcome::Accepted => {}
        OtpOutcome::Wrong { remaining } => {
            return Err(code_error(
                "otp_invalid",
                &format!("wrong code; {remaining} tries left before the phone is locked"),
            ));
        }
        OtpOutcome::LockedNow { until } | OtpOutcome::Locked { until } => return Err(locked(until, now)),
        OtpOutcome::Expired => return Err(code_error("otp_expired", "the code has expired; ask for a new one")),
        OtpOutcome::NoCode => {
            return Err(code_error("otp_not_requested", "no code is waiting for this phone; ask for one"));
        }
    }
    let token = healthcode_vault::new_token(SESSION_PREFIX);
    let session = Session {
        token_hash: healthcode_vault::token_hash(&token),
        phone_index: index.clone(),
        created_at: now,
        expires_at: now + app.settings.session_ttl,
    };
    app.store.session_create(&session).await?;
    let registered = app.store.person_by_phone(&index).await?.is_some();
    app.metrics.logins.inc();
    Ok(Json(LoginAnswer { token, expires_at: healthcode_core::local_time::to_local(session.expires_at), registered }))
}

pub async fn logout(State(app): State<AppState>, PhoneSession(session): PhoneSession) -> ApiResult<StatusCode> {
    app.store.session_delete(&session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
