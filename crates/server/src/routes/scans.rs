//! Checkpoint scans (R6): a device bound to one venue scans a person's code; the server makes
//! the decision a device could make offline — the token verified with the verifier library,
//! the venue's policy applied to the color *in the token* — and records the visit before it
//! answers. Also the verify-only endpoint the benchmark compares scans with.
//!
//! One server-side addition to the offline decision: when the person's stored decision turned
//! red after the token was issued, the scan is denied (`color_changed`), since the server
//! knows better than a three-minute-old token (checked for a whole group of scans at once by
//! `Store::visits_write_checked`, on SQLite in the group's write transaction). A paper code
//! carries no color, so the server evaluates the person's current one (as `POST /codes/lookup`
//! does).
//!
//! Answers: `200` with `decision: deny` and a `reason` for a code that does not verify
//! (forged, expired, unknown issuer…: recorded as a scan attempt without personal data) or a
//! color the venue does not admit; `422` for a malformed request; `403 venue_not_bound` when
//! the device scans for another venue.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use healthcode_core::{Color, Role, SubjectId, VenueId};
use healthcode_store::{CheckedWrite, ScanAttempt, VenueRecord, VisitRecord, VisitSource, VisitWrite, Written};
use healthcode_token::{CodeKind, Report, Verified, VerifyOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, StaffUser};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    token: String,
    venue_id: String,
    at: String,
    idempotency_key: String,
    direction: Option<String>,
}

/// A scan whose fields parsed and whose time is within bounds.
struct Scan {
    token: String,
    venue_id: VenueId,
    at: DateTime<Utc>,
    key: String,
    exit: bool,
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Pass,
    Deny,
}

#[derive(Serialize)]
pub struct ScanAnswer {
    decision: Decision,
    color: Option<Color>,
    masked_name: Option<String>,
    /// Why it was denied (a verifier error code, `color_not_admitted`, `color_changed`,
    /// `person_unknown`); `null` on pass.
    reason: Option<&'static str>,
}

/// The decision and what to record for it: the visit to write, or the reason of the attempt
/// to record (with a visit: if the writer refuses it). The attempt itself is built only when
/// it is recorded (`settle`): most scans pass and never need one.
struct Outcome {
    answer: ScanAnswer,
    write: Option<CheckedWrite>,
    attempt: Option<&'static str>,
}

/// The scan attempt to record for a scan by `device`, with its reason.
fn attempt(device: &str, venue: &VenueId, scan: &Scan, reason: &'static str) -> ScanAttempt {
    ScanAttempt {
        attempt_key: Some(visit_key(device, scan)),
        venue_id: venue.clone(),
        device_id: device.to_string(),
        at: scan.at,
        reason: reason.to_string(),
    }
}

/// Visits and attempts of a device's scan share its key, so a replay is recognised.
fn visit_key(device: &str, scan: &Scan) -> String {
    format!("scan:{device}:{}", scan.key)
}

fn field(name: &str, code: &str, message: &str) -> FieldError {
    FieldError::new(name, code, message)
}

/// Parses one scan; every bad field is reported.
fn parse(app: &AppState, body: ScanBody, now: DateTime<Utc>) -> Result<Scan, Vec<FieldError>> {
    let mut errors = Vec::new();
    let venue_id = VenueId::parse(body.venue_id.trim())
        .map_err(|e| errors.push(field("venue_id", healthcode_core::Coded::code(&e), &e.to_string())))
        .ok();
    let key = body.idempotency_key.trim().to_string();
    if key.is_empty() || key.len() > 100 || key.chars().any(char::is_control) {
        errors.push(field("idempotency_key", "idempotency_key_format", "1–100 printable characters"));
    }
    if body.token.trim().is_empty() || body.token.len() > 2000 {
        errors.push(field("token", "token_format", "the scanned code's text, at most 2000 characters"));
    }
    let exit = match body.direction.as_deref() {
        None | Some("in") => false,
        Some("out") => true,
        Some(_) => {
            errors.push(field("direction", "direction_unknown", "direction is in or out"));
            false
        }
    };
    let s = &app.settings.scans;
    let at = match DateTime::parse_from_rfc3339(body.at.trim()) {
        Err(_) => {
            errors.push(field("at", "time_format", "an RFC 3339 time with offset, e.g. 2027-01-15T10:00:00+08:00"));
            None
        }
        Ok(t) if t.to_utc() > now + s.max_future => {
            errors.push(field("at", "at_in_future", "the scan time is ahead of the server's clock"));
            None
        }
        Ok(t) if t.to_utc() < now - s.max_past => {
            let msg = format!("scans older than {} days are not accepted", s.max_past.num_days());
            errors.push(field("at", "at_too_old", &msg));
            None
        }
        Ok(t) => Some(t.to_utc()),
    };
    match (venue_id, at, errors.is_empty()) {
        (Some(venue_id), Some(at), true) => Ok(Scan { token: body.token, venue_id, at, key, exit }),
        _ => Err(errors),
    }
}

fn deny(reason: &'static str, color: Option<Color>, masked_name: Option<String>) -> ScanAnswer {
    ScanAnswer { decision: Decision::Deny, color, masked_name, reason: Some(reason) }
}

/// The decision for one parsed scan at its venue, given its code's verification (at the
/// scan's time: an offline device's stored scan is judged as it was made); nothing is
/// written here.
async fn decide(
    app: &AppState,
    device: &str,
    venue: &VenueRecord,
    scan: &Scan,
    verified: Result<Verified, Report>,
) -> ApiResult<Outcome> {
    let verified = match verified {
        Ok(v) => v,
        Err(report) => {
            let code = report.error.map_or("code_invalid", |e| e.code);
            return Ok(Outcome { answer: deny(code, None, None), write: None, attempt: Some(code) });
        }
    };
    let claims = verified.claims;
    let Ok(subject) = SubjectId::parse(&claims.subject) else {
        return Ok(Outcome {
            answer: deny("claims_invalid", None, None),
            write: None,
            attempt: Some("claims_invalid"),
        });
    };
    let masked = Some(claims.masked_name);
    let visit = |left_at, closed| VisitRecord {
        visit_key: visit_key(device, scan),
        subject_id: subject.clone(),
        venue_id: venue.venue_id.clone(),
        entered_at: scan.at,
        left_at,
        closed,
        source: VisitSource::Scan,
    };
    if scan.exit {
        // Leaving is never refused; the exit closes the visit it ends.
        let answer = ScanAnswer { decision: Decision::Pass, color: claims.color, masked_name: masked, reason: None };
        let write = VisitWrite { visit: visit(scan.at, true), closes_open: true };
        return Ok(Outcome { answer, write: Some(CheckedWrite { write, unless_red_since: None }), attempt: None });
    }
    // A phone code carries its color; the writer checks, for the whole group at once, that
    // the stored decision did not turn red since the code was issued. A paper code carries
    // none: the person's color is evaluated now.
    let (color, unless_red_since) = match (claims.kind, claims.color) {
        (CodeKind::Phone, Some(color)) => (color, Some(claims.issued_at)),
        _ => match app.store.person_get(&subject).await? {
            Some(person) => (crate::routes::code::current_color(app, &person).await?.color, None),
            None => {
                let answer = deny("person_unknown", None, masked);
                return Ok(Outcome { answer, write: None, attempt: Some("person_unknown") });
            }
        },
    };
    if app.settings.scans.policy.admits(venue.category, color) {
        let answer = ScanAnswer { decision: Decision::Pass, color: Some(color), masked_name: masked, reason: None };
        let write = VisitWrite { visit: visit(scan.at + venue.category.default_dwell(), false), closes_open: false };
        Ok(Outcome { answer, write: Some(CheckedWrite { write, unless_red_since }), attempt: Some(COLOR_CHANGED) })
    } else {
        let reason = "color_not_admitted";
        Ok(Outcome { answer: deny(reason, Some(color), masked), write: None, attempt: Some(reason) })
    }
}

const COLOR_CHANGED: &str = "color_changed";

/// Writes the outcome's visit (or records its attempt) and gives the final answer: a pass
/// becomes a deny when the writer finds the person turned red after the code was issued.
/// `written` is `None` when there was no visit to write; the flag says "a replay".
async fn settle(
    app: &AppState,
    (device, venue, scan): (&str, &VenueId, &Scan),
    outcome: Outcome,
    written: Option<Written>,
) -> ApiResult<(ScanAnswer, bool)> {
    let Outcome { answer, attempt, .. } = outcome;
    match written {
        Some(Written::New) => Ok((answer, false)),
        Some(Written::Duplicate) => Ok((answer, true)),
        refused => {
            if let Some(reason) = attempt {
                app.store.scan_attempt_record(&self::attempt(device, venue, scan, reason)).await?;
            }
            match refused {
                Some(_) => Ok((deny(COLOR_CHANGED, Some(Color::Red), answer.masked_name), false)),
                None => Ok((answer, false)),
            }
        }
    }
}

/// A checkpoint device and the venue it is bound to, from its bearer token. Its account is
/// cached for a few seconds (`visits_writer::DEVICE_TTL`) instead of read on every scan.
pub struct Device {
    id: String,
    venue: VenueId,
}

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let now = app.clock.now();
        let hash = token.map(healthcode_vault::token_hash);
        let cached = hash.as_deref().and_then(|h| app.visits.device(h, now));
        let staff = match cached {
            Some(s) => s,
            None => {
                let caller = StaffUser::from_request_parts(parts, app).await?;
                caller.require(&[Role::Checkpoint])?;
                let staff =
                    Arc::new(caller.staff.ok_or_else(|| ApiError::forbidden("a checkpoint device is required"))?);
                if let Some(h) = hash {
                    app.visits.remember_device(h, staff.clone(), now);
                }
                staff
            }
        };
        let venue = staff.venue_id.as_deref().and_then(|v| VenueId::parse(v).ok());
        let venue = venue.ok_or_else(|| ApiError::forbidden("this device is not bound to a venue"))?;
        Ok(Device { id: staff.id.clone(), venue })
    }
}

fn not_bound() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "venue_not_bound", "this device is bound to another venue")
}

async fn bound_venue(app: &AppState, venue: &VenueId) -> ApiResult<Arc<VenueRecord>> {
    app.visits.venue(app, venue).await?.ok_or_else(|| ApiError::not_found("venue"))
}

pub async fn scan(
    State(app): State<AppState>,
    Device { id: device_id, venue: bound }: Device,
    ApiJson(body): ApiJson<ScanBody>,
) -> ApiResult<Json<ScanAnswer>> {
    let scan = parse(&app, body, app.clock.now()).map_err(ApiError::validation)?;
    if scan.venue_id != bound {
        return Err(not_bound());
    }
    let venue = bound_venue(&app, &bound).await?;
    let trust = app.visits.trust(&app)?;
    let verified = app.visits.codes.check(&scan.token, &trust, VerifyOptions::at(scan.at)).await;
    let mut outcome = decide(&app, &device_id, &venue, &scan, verified).await?;
    let written = match outcome.write.take() {
        Some(w) => app.visits.write(vec![w]).await?.pop(),
        None => None,
    };
    Ok(Json(settle(&app, (&device_id, &venue.venue_id, &scan), outcome, written).await?.0))
}

/// A batch of 1000 scans with ~260-character tokens is ~350 KB.
pub const BATCH_BODY_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    scans: Vec<Value>,
}

#[derive(Serialize)]
pub struct ItemResult {
    idempotency_key: Option<String>,
    /// `accepted` (recorded now), `duplicate` (recorded before: nothing written), `rejected`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<Color>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// Scanned more than `flag_after` before the upload: accepted, but worth a look.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    late: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FieldError>,
}

#[derive(Serialize)]
pub struct BatchAnswer {
    results: Vec<ItemResult>,
}

fn rejected(key: Option<String>, error: FieldError) -> ItemResult {
    ItemResult {
        idempotency_key: key,
        status: "rejected",
        decision: None,
        color: None,
        reason: None,
        late: false,
        error: Some(error),
    }
}

/// An offline device uploads what it scanned. Each item is judged like a single scan and gets
/// its own result; malformed items are rejected without stopping the others, and all the
/// batch's visits are written in one group commit. Replays answer `duplicate`.
pub async fn batch(
    State(app): State<AppState>,
    Device { id: device_id, venue: bound }: Device,
    ApiJson(body): ApiJson<BatchBody>,
) -> ApiResult<Json<BatchAnswer>> {
    let max = app.settings.scans.batch_max;
    if body.scans.len() > max {
        let msg = format!("at most {max} scans per batch; split the upload");
        return Err(ApiError::field(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            field("scans", "batch_too_large", &msg),
        ));
    }
    let venue = bound_venue(&app, &bound).await?;
    let now = app.clock.now();
    let flag_after = app.settings.scans.flag_after;
    let mut results = Vec::with_capacity(body.scans.len());
    // The items that parsed (their place in `results`, the scan); their codes are verified
    // together below.
    let mut parsed_scans = Vec::new();
    for (i, item) in body.scans.into_iter().enumerate() {
        let key = item.get("idempotency_key").and_then(Value::as_str).map(str::to_string);
        let path = |f: &str| format!("scans[{i}].{f}");
        let parsed: ScanBody = match serde_json::from_value(item) {
            Ok(b) => b,
            Err(e) => {
                results.push(rejected(key, field(&format!("scans[{i}]"), "item_malformed", &e.to_string())));
                continue;
            }
        };
        let scan = match parse(&app, parsed, now) {
            Ok(s) => s,
            Err(mut errors) => {
                let mut first = errors.remove(0);
                first.field = path(&first.field);
                results.push(rejected(key, first));
                continue;
            }
        };
        if scan.venue_id != bound {
            let e = field(&path("venue_id"), "venue_not_bound", "this device is bound to another venue");
            results.push(rejected(key, e));
            continue;
        }
        parsed_scans.push((results.len(), scan));
        // Filled in once the batch's visits are written.
        results.push(ItemResult {
            idempotency_key: key,
            status: "accepted",
            decision: None,
            color: None,
            reason: None,
            late: false,
            error: None,
        });
    }
    let trust = app.visits.trust(&app)?;
    let codes: Vec<_> = parsed_scans.iter().map(|(_, s)| (s.token.as_str(), VerifyOptions::at(s.at))).collect();
    let verified = healthcode_token::check_many(&codes, &trust);
    // The items judged (their place in `results`, whether late, the outcome), and the
    // visits they would write (their place in `decided`, the visit).
    let mut decided = Vec::new();
    let mut writes = Vec::new();
    for ((slot, scan), verified) in parsed_scans.into_iter().zip(verified) {
        let mut outcome = decide(&app, &device_id, &venue, &scan, verified).await?;
        if let Some(w) = outcome.write.take() {
            writes.push((decided.len(), w));
        }
        decided.push((slot, now - scan.at > flag_after, scan, outcome));
    }
    // One group commit for the batch's visits, then each item's final answer.
    let (slots, writes): (Vec<usize>, Vec<CheckedWrite>) = writes.into_iter().unzip();
    let mut written: Vec<Option<Written>> = vec![None; decided.len()];
    for (slot, w) in slots.into_iter().zip(app.visits.write(writes).await?) {
        written[slot] = Some(w);
    }
    for ((slot, late, scan, outcome), w) in decided.into_iter().zip(written) {
        let (a, duplicate) = settle(&app, (&device_id, &venue.venue_id, &scan), outcome, w).await?;
        let r = &mut results[slot];
        *r = ItemResult {
            idempotency_key: r.idempotency_key.take(),
            status: if duplicate { "duplicate" } else { "accepted" },
            decision: Some(a.decision),
            color: a.color,
            reason: a.reason,
            late,
            error: None,
        };
    }
    Ok(Json(BatchAnswer { results }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: String,
}

#[derive(Serialize)]
pub struct VerifyAnswer {
    valid: bool,
    color: Option<Color>,
    kind: Option<CodeKind>,
    error: Option<healthcode_token::ReportError>,
}

/// Verify only (anyone): is this a valid code of ours now, and which color does it carry. No
/// personal data in the answer, no database access: the checkpoint's offline decision, served.
pub async fn verify(State(app): State<AppState>, ApiJson(body): ApiJson<VerifyBody>) -> ApiResult<Json<VerifyAnswer>> {
    let trust = app.visits.trust(&app)?;
    Ok(Json(match app.visits.codes.check(&body.token, &trust, VerifyOptions::at(app.clock.now())).await {
        Ok(v) => VerifyAnswer { valid: true, color: v.claims.color, kind: Some(v.claims.kind), error: None },
        Err(r) => VerifyAnswer { valid: false, color: None, kind: None, error: r.error },
    }))
}
