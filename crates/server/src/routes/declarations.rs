//! The daily health declaration (每日健康打卡, R3).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, NaiveDate};
use healthcode_core::declaration::parse_symptoms;
use healthcode_core::local_time::to_local;
use healthcode_core::{Declaration, RegionCode, Symptom, Temperature, local_day};
use healthcode_store::StoredDeclaration;
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Citizen};
use crate::routes::persons::RegionView;
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarationBody {
    temperature_c: f64,
    symptoms: Vec<String>,
    contact_with_suspected_case: bool,
    current_region: String,
    /// When a guardian declares for a dependent.
    subject_id: Option<String>,
}

#[derive(Serialize)]
pub struct Declared {
    declaration_id: i64,
    subject_id: String,
    day: NaiveDate,
    /// Whether it replaced an earlier declaration of the same day.
    replaced: bool,
}

#[derive(Serialize)]
pub struct DeclarationView {
    declaration_id: i64,
    subject_id: String,
    day: NaiveDate,
    temperature_c: f64,
    symptoms: Vec<Symptom>,
    contact_with_suspected_case: bool,
    current_region: RegionView,
    declared_by: String,
    declared_at: DateTime<FixedOffset>,
    /// Set when a later declaration of the same day replaced this one.
    superseded_at: Option<DateTime<FixedOffset>>,
}

impl From<&StoredDeclaration> for DeclarationView {
    fn from(s: &StoredDeclaration) -> Self {
        let d = &s.declaration;
        Self {
            declaration_id: s.id,
            subject_id: d.subject_id.to_string(),
            day: d.day,
            temperature_c: d.temperature.celsius(),
            symptoms: d.symptoms.clone(),
            contact_with_suspected_case: d.contact_with_suspected_case,
            current_region: d.current_region.into(),
            declared_by: d.declared_by.to_string(),
            declared_at: to_local(d.declared_at),
            superseded_at: s.superseded_at.map(to_local),
        }
    }
}

pub async fn declare(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiJson(body): ApiJson<DeclarationBody>,
) -> ApiResult<(StatusCode, Json<Declared>)> {
    let subject_id = citizen.acting_for(&app, body.subject_id.as_deref()).await?;
    let mut v = Validator::default();
    let temperature = v.check("temperature_c", Temperature::from_celsius(body.temperature_c));
    let symptoms = v.check("symptoms", parse_symptoms(&body.symptoms));
    let current_region = v.check("current_region", RegionCode::parse(&body.current_region));
    v.finish()?;
    let now = app.clock.now();
    let declaration = Declaration {
        subject_id,
        day: local_day(now),
        temperature: checked(temperature),
        symptoms: checked(symptoms),
        contact_with_suspected_case: body.contact_with_suspected_case,
        current_region: checked(current_region),
        declared_by: citizen.person.subject_id.clone(),
        declared_at: now,
    };
    let receipt = app.store.declaration_submit(&declaration).await?;
    app.metrics.declarations.inc();
    crate::recolor::recolor(&app, &declaration.subject_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Declared {
            declaration_id: receipt.id,
            subject_id: declaration.subject_id.to_string(),
            day: declaration.day,
            replaced: receipt.replaced,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    subject_id: Option<String>,
    limit: Option<u32>,
}

/// Declaration history, newest first, replaced ones included.
pub async fn history(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<DeclarationView>>> {
    let subject_id = citizen.acting_for(&app, q.subject_id.as_deref()).await?;
    let list = app.store.declarations(&subject_id, q.limit.unwrap_or(30).min(366)).await?;
    Ok(Json(list.iter().map(DeclarationView::from).collect()))
}
