//! Real-name registration (R1, R2) and dependents (代领).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use healthcode_core::{IdNumber, PersonName, Phone, RegionCode, Relation, local_day};
use healthcode_store::{Guardian, PersonRecord, StoreError, Unique};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, Citizen, PhoneSession};
use crate::identity::{NewIdentity, open_person, phone_index, seal_person};
use crate::state::AppState;
use crate::validate::{Validator, checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterPerson {
    name: String,
    id_number: String,
    phone: String,
    household_region: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDependent {
    name: String,
    id_number: String,
    household_region: String,
    relation: Relation,
}

#[derive(Serialize)]
pub struct Registered {
    subject_id: String,
    masked_name: String,
}

#[derive(Serialize)]
pub struct RegionView {
    code: String,
    name: String,
}

impl From<RegionCode> for RegionView {
    fn from(r: RegionCode) -> Self {
        Self { code: r.to_string(), name: r.full_name() }
    }
}

#[derive(Serialize)]
pub struct DependentView {
    subject_id: String,
    masked_name: String,
    relation: Relation,
    household_region: RegionView,
}

impl From<&PersonRecord> for DependentView {
    fn from(p: &PersonRecord) -> Self {
        Self {
            subject_id: p.subject_id.to_string(),
            masked_name: p.masked_name.clone(),
            relation: p.guardian.as_ref().map_or(Relation::Other, |g| g.relation),
            household_region: p.household_region.into(),
        }
    }
}

/// The fields a person and a dependent share, parsed together so one answer lists all errors.
struct IdentityFields {
    name: PersonName,
    id_number: IdNumber,
    household_region: RegionCode,
}

fn parse_identity(
    v: &mut Validator,
    name: &str,
    id_number: &str,
    region: &str,
    today: chrono::NaiveDate,
) -> Option<IdentityFields> {
    let name = v.check("name", PersonName::parse(name));
    let id_number = v.check("id_number", IdNumber::parse(id_number, today));
    let household_region = v.check("household_region", RegionCode::parse(region));
    Some(IdentityFields { name: name?, id_number: id_number?, household_region: household_region? })
}

fn insert_error(e: StoreError) -> ApiError {
    match e {
        // Says that the number has a code, never whose: the holder's data stays private.
        StoreError::Duplicate(Unique::IdNumber) => ApiError::field(
            StatusCode::CONFLICT,
            "id_number_registered",
            FieldError::new(
                "id_number",
                "id_number_registered",
                "this ID number already has a health code; if it is yours and you did not register it, file an appeal",
            ),
        ),
        StoreError::Duplicate(Unique::Phone) => ApiError::field(
            StatusCode::CONFLICT,
            "phone_registered",
            FieldError::new("phone", "phone_registered", "this phone already registered a person"),
        ),
        other => other.into(),
    }
}

pub async fn register(
    State(app): State<AppState>,
    PhoneSession(session): PhoneSession,
    ApiJson(body): ApiJson<RegisterPerson>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let now = app.clock.now();
    let mut v = Validator::default();
    let identity = parse_identity(&mut v, &body.name, &body.id_number, &body.household_region, local_day(now));
    let phone = v.check("phone", Phone::parse(&body.phone));
    v.finish()?;
    let (identity, phone) = (checked(identity), checked(phone));
    // The phone being registered must be the one that proved itself with a code.
    if phone_index(&app.vault, &phone) != session.phone_index {
        return Err(ApiError::field(
            StatusCode::FORBIDDEN,
            "phone_mismatch",
            FieldError::new("phone", "phone_mismatch", "register with the phone number you logged in with"),
        ));
    }
    let record = seal_person(
        &app.vault,
        NewIdentity {
            name: &identity.name,
            id_number: &identity.id_number,
            phone: Some(&phone),
            household_region: identity.household_region,
            guardian: None,
        },
        now,
    );
    app.store.person_insert(&record).await.map_err(insert_error)?;
    app.metrics.registrations.inc();
    tracing::info!(subject_id = %record.subject_id, "person registered");
    crate::recolor::recolor(&app, &record.subject_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered { subject_id: record.subject_id.to_string(), masked_name: record.masked_name }),
    ))
}

pub async fn register_dependent(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiJson(body): ApiJson<RegisterDependent>,
) -> ApiResult<(StatusCode, Json<DependentView>)> {
    let now = app.clock.now();
    let mut v = Validator::default();
    let identity = parse_identity(&mut v, &body.name, &body.id_number, &body.household_region, local_day(now));
    v.finish()?;
    let identity = checked(identity);
    let existing = app.store.dependents(&citizen.person.subject_id).await?;
    if existing.len() >= app.settings.max_dependents {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_dependents",
            format!("a guardian may register at most {} dependents", app.settings.max_dependents),
        ));
    }
    let guardian = Guardian { subject_id: citizen.person.subject_id.clone(), relation: body.relation };
    let record = seal_person(
        &app.vault,
        NewIdentity {
            name: &identity.name,
            id_number: &identity.id_number,
            phone: None,
            household_region: identity.household_region,
            guardian: Some(guardian),
        },
        now,
    );
    app.store.person_insert(&record).await.map_err(insert_error)?;
    app.metrics.registrations.inc();
    tracing::info!(subject_id = %record.subject_id, guardian = %citizen.person.subject_id, "dependent registered");
    crate::recolor::recolor(&app, &record.subject_id).await?;
    Ok((StatusCode::CREATED, Json(DependentView::from(&record))))
}

pub async fn list_dependents(State(app): State<AppState>, citizen: Citizen) -> ApiResult<Json<Vec<DependentView>>> {
    let list = app.store.dependents(&citizen.person.subject_id).await?;
    Ok(Json(list.iter().map(DependentView::from).collect()))
}

#[derive(Serialize)]
pub struct Me {
    subject_id: String,
    name: String,
    masked_name: String,
    id_number_masked: String,
    phone_masked: Option<String>,
    household_region: RegionView,
    current_region: Option<RegionView>,
    dependents: Vec<DependentView>,
}

/// The caller's own record: their name in full, the ID number and phone masked.
pub async fn me(State(app): State<AppState>, citizen: Citizen) -> ApiResult<Json<Me>> {
    let p = &citizen.person;
    let opened = open_person(&app.vault, p).map_err(|e| {
        tracing::error!(subject_id = %p.subject_id, error = %e, "identity row does not open");
        ApiError::internal()
    })?;
    let dependents = app.store.dependents(&p.subject_id).await?;
    Ok(Json(Me {
        subject_id: p.subject_id.to_string(),
        name: opened.name.clone(),
        masked_name: p.masked_name.clone(),
        id_number_masked: opened.id_number_masked(),
        phone_masked: opened.phone_masked(),
        household_region: p.household_region.into(),
        current_region: p.current_region.map(Into::into),
        dependents: dependents.iter().map(DependentView::from).collect(),
    }))
}
