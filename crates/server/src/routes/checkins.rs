//! Self check-in (R6): a citizen scans the venue code on the door; the answer shows their
//! color and the venue's name, for the guard to see, and the visit is recorded.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use healthcode_core::local_time::to_local;
use healthcode_core::{Color, VenueCategory};
use healthcode_store::{VisitRecord, VisitSource, VisitWrite};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, Citizen};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinBody {
    venue_code: String,
}

#[derive(Serialize)]
pub struct CheckinAnswer {
    venue_name: String,
    category: VenueCategory,
    color: Color,
    masked_name: String,
    at: DateTime<FixedOffset>,
    /// Whether the venue's policy admits this color (the guard decides; this is a hint).
    admitted: bool,
}

pub async fn checkin(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiJson(body): ApiJson<CheckinBody>,
) -> ApiResult<(StatusCode, Json<CheckinAnswer>)> {
    let now = app.clock.now();
    let trust = app.visits.trust(&app)?;
    let code = healthcode_token::check_venue_code(&body.venue_code, &trust, now).map_err(|report| {
        let e = report.error.expect("a refused code has an error");
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "venue_code_invalid",
            FieldError::new("venue_code", e.code, e.message),
        )
    })?;
    let venue = app.visits.venue(&app, &code.venue_id).await?.ok_or_else(|| ApiError::not_found("venue"))?;
    let person = &citizen.person;
    let color = crate::routes::code::current_color(&app, person).await?.color;
    let visit = VisitRecord {
        visit_key: format!("checkin:{}:{}:{}", person.subject_id, venue.venue_id, now.timestamp_micros()),
        subject_id: person.subject_id.clone(),
        venue_id: venue.venue_id.clone(),
        entered_at: now,
        left_at: now + venue.category.default_dwell(),
        closed: false,
        source: VisitSource::Checkin,
    };
    let write = VisitWrite { visit, closes_open: false };
    app.visits.write(vec![healthcode_store::CheckedWrite { write, unless_red_since: None }]).await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckinAnswer {
            venue_name: venue.name.clone(),
            category: venue.category,
            color,
            masked_name: person.masked_name.clone(),
            at: to_local(now),
            admitted: app.settings.scans.policy.admits(venue.category, color),
        }),
    ))
}
