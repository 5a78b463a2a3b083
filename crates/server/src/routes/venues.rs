//! Venues (场所): registered by venue admins (anywhere) or officers (in their regions); each
//! gets a venue code that rotates at local midnight (`healthcode_token::venue_code`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, FixedOffset};
use healthcode_core::local_time::{local_day, local_midnight, to_local};
use healthcode_core::{RegionCode, Role, VenueCategory, VenueId};
use healthcode_store::{AuditEntry, VenueRecord};
use healthcode_token::qr::Qr;
use healthcode_token::sign_venue_code;
use healthcode_token::venue_code::MIDNIGHT_GRACE;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, StaffUser};
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVenue {
    name: String,
    address: String,
    region: String,
    category: String,
}

#[derive(Serialize)]
pub struct CreatedVenue {
    venue_id: String,
}

fn text(v: &mut Validator, field: &str, value: &str, max: usize) -> String {
    let t = value.trim();
    if t.is_empty() || t.chars().count() > max {
        v.push(FieldError::new(field, "length", format!("1–{max} characters")));
    }
    t.to_string()
}

/// Officers act only in their regions; venue admins register venues anywhere.
fn in_scope(caller: &StaffUser, region: RegionCode) -> bool {
    match (&caller.staff, caller.role) {
        (Some(s), Role::Officer) => s.regions.iter().any(|r| r.covers(region)),
        (_, Role::VenueAdmin) => true,
        _ => false,
    }
}

pub async fn create(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<NewVenue>,
) -> ApiResult<(StatusCode, Json<CreatedVenue>)> {
    caller.require(&[Role::VenueAdmin, Role::Officer])?;
    let mut v = Validator::default();
    let name = text(&mut v, "name", &body.name, 100);
    let address = text(&mut v, "address", &body.address, 200);
    let region = v.check("region", RegionCode::parse(body.region.trim()));
    let category = v.check("category", VenueCategory::parse(body.category.trim()));
    v.finish()?;
    let (region, category) = (checked(region), checked(category));
    if !in_scope(&caller, region) {
        return Err(ApiError::field(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            FieldError::new("region", "out_of_scope", format!("{region} is outside your regions")),
        ));
    }
    let now = app.clock.now();
    let venue = VenueRecord {
        venue_id: VenueId::from_random(healthcode_vault::random::<10>()),
        name,
        address,
        region,
        category,
        created_at: now,
        created_by: caller.id().to_string(),
    };
    app.store.venue_insert(&venue).await?;
    app.store
        .audit_append(&AuditEntry {
            at: now,
            actor: caller.actor(),
            action: "venue.create".into(),
            subject_id: None,
            purpose: None,
            detail: serde_json::json!({"venue_id": venue.venue_id, "region": region.to_string(), "category": category.as_str()}),
        })
        .await?;
    tracing::info!(venue_id = %venue.venue_id, by = caller.id(), "venue registered");
    Ok((StatusCode::CREATED, Json(CreatedVenue { venue_id: venue.venue_id.to_string() })))
}

#[derive(Serialize)]
pub struct VenueCodeAnswer {
    venue_id: String,
    name: String,
    category: VenueCategory,
    /// The text of the QR code (`JKV1:…`).
    venue_code: String,
    /// Valid until the next local midnight plus the grace (`docs/token-format.md`).
    valid_until: DateTime<FixedOffset>,
}

async fn todays_code(app: &AppState, caller: &StaffUser, id: &str) -> ApiResult<VenueCodeAnswer> {
    caller.require(&[Role::VenueAdmin, Role::Officer])?;
    let id = VenueId::parse(id).map_err(|_| ApiError::not_found("venue"))?;
    let venue = app.visits.venue(app, &id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
    if !in_scope(caller, venue.region) {
        return Err(ApiError::not_found("venue"));
    }
    let key = app.keys.active().ok_or_else(|| {
        tracing::error!("no active issuer key");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_signing_key", "the issuer has no active signing key")
    })?;
    let now = app.clock.now();
    let code = sign_venue_code(&venue.venue_id, key.region, &key.node, now, &key.secret);
    let valid_until = local_midnight(local_day(now) + Duration::days(1)) + MIDNIGHT_GRACE;
    Ok(VenueCodeAnswer {
        venue_id: venue.venue_id.to_string(),
        name: venue.name.clone(),
        category: venue.category,
        venue_code: code,
        valid_until: to_local(valid_until),
    })
}

/// Today's venue code as JSON (for screens that render it themselves).
pub async fn code(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(id): Path<String>,
) -> ApiResult<Json<VenueCodeAnswer>> {
    Ok(Json(todays_code(&app, &caller, &id).await?))
}

/// Today's venue code as a PNG to print or display; it stops working after local midnight.
pub async fn code_png(State(app): State<AppState>, caller: StaffUser, Path(id): Path<String>) -> ApiResult<Response> {
    let answer = todays_code(&app, &caller, &id).await?;
    let qr = Qr::new(&answer.venue_code).map_err(|_| ApiError::internal())?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], qr.png()).into_response())
}
