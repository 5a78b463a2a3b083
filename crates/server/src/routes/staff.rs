//! Staff accounts and devices (created by an admin), and officers' scoped reads of personal
//! data. Scope and audit are enforced by the store in the same transaction as the read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use healthcode_core::local_time::to_local;
use healthcode_core::{RegionCode, Role, SubjectId};
use healthcode_store::{AuditEntry, Staff, StaffRead};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ApiJson, ApiQuery, STAFF_PREFIX, StaffUser};
use crate::identity::open_person;
use crate::routes::declarations::DeclarationView;
use crate::routes::persons::RegionView;
use crate::state::AppState;
use crate::validate::{Validator, checked};

/// The import kinds of API.md; partners are granted some of them.
pub const IMPORT_KINDS: [&str; 7] =
    ["telecom-stays", "trips", "lab-tests", "vaccinations", "cases", "region-risk", "visits"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    role: String,
    name: String,
    #[serde(default)]
    regions: Vec<String>,
    venue_id: Option<String>,
    #[serde(default)]
    import_kinds: Vec<String>,
}

#[derive(Serialize)]
pub struct CreatedStaff {
    id: String,
    /// The bearer token. Shown once; only its hash is stored.
    token: String,
    role: Role,
}

fn field(v: &mut Validator, field: &str, code: &str, message: &str) {
    v.push(FieldError::new(field, code, message));
}

pub async fn create(
    State(app): State<AppState>,
    caller: StaffUser,
    ApiJson(body): ApiJson<NewStaff>,
) -> ApiResult<(StatusCode, Json<CreatedStaff>)> {
    caller.require(&[Role::Admin])?;
    let mut v = Validator::default();
    let role = Role::parse(&body.role);
    if role.is_none() {
        let names: Vec<_> = Role::ALL.iter().map(Role::as_str).collect();
        field(&mut v, "role", "role_unknown", &format!("role must be one of: {}", names.join(", ")));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        field(&mut v, "name", "name_length", "a name of 1–100 characters is required");
    }
    let mut regions = Vec::new();
    for (i, r) in body.regions.iter().enumerate() {
        if let Some(code) = v.check(&format!("regions[{i}]"), RegionCode::parse(r)) {
            regions.push(code);
        }
    }
    regions.sort();
    regions.dedup();
    for (i, k) in body.import_kinds.iter().enumerate() {
        if !IMPORT_KINDS.contains(&k.as_str()) {
            let msg = format!("unknown import kind; known: {}", IMPORT_KINDS.join(", "));
            field(&mut v, &format!("import_kinds[{i}]"), "import_kind_unknown", &msg);
        }
    }
    let venue_id = body.venue_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    match role {
        Some(Role::Officer) if body.regions.is_empty() => {
            field(&mut v, "regions", "required", "an officer needs at least one region")
        }
        Some(Role::Checkpoint) if venue_id.is_none() => {
            field(&mut v, "venue_id", "required", "a checkpoint device is bound to one venue")
        }
        Some(Role::Partner) if body.import_kinds.is_empty() => {
            field(&mut v, "import_kinds", "required", "a partner needs at least one import kind")
        }
        _ => {}
    }
    if role.is_some_and(|r| r != Role::Officer) && !body.regions.is_empty() {
        field(&mut v, "regions", "not_allowed", "only officers have regions");
    }
    if role.is_some_and(|r| r != Role::Checkpoint && r != Role::VenueAdmin) && venue_id.is_some() {
        field(&mut v, "venue_id", "not_allowed", "only checkpoint devices and venue admins have a venue");
    }
    if role.is_some_and(|r| r != Role::Partner) && !body.import_kinds.is_empty() {
        field(&mut v, "import_kinds", "not_allowed", "only partners have import kinds");
    }
    v.finish()?;
    let role = checked(role);
    if let Some(id) = &venue_id {
        let known = match healthcode_core::VenueId::parse(id) {
            Ok(id) => app.visits.venue(&app, &id).await?.is_some(),
            Err(_) => false,
        };
        if !known {
            let e = FieldError::new("venue_id", "venue_unknown", "no venue with this id is registered");
            return Err(ApiError::validation(vec![e]));
        }
    }
    let account = NewAccount { role, name, regions, venue_id, import_kinds: body.import_kinds };
    let (id, token) = create_account(&app, &caller, account).await?;
    Ok((StatusCode::CREATED, Json(CreatedStaff { id, token, role })))
}

/// A validated staff account to create.
pub struct NewAccount {
    pub role: Role,
    pub name: String,
    pub regions: Vec<RegionCode>,
    pub venue_id: Option<String>,
    pub import_kinds: Vec<String>,
}

/// Creates the account with a fresh token and audits it; returns its id and token.
pub async fn create_account(app: &AppState, caller: &StaffUser, new: NewAccount) -> ApiResult<(String, String)> {
    let now = app.clock.now();
    let token = healthcode_vault::new_token(STAFF_PREFIX);
    let staff = Staff {
        id: format!("st_{}", hex::encode(healthcode_vault::random::<10>())),
        role: new.role,
        name: new.name,
        regions: new.regions,
        venue_id: new.venue_id,
        import_kinds: new.import_kinds,
        token_hash: healthcode_vault::token_hash(&token),
        created_at: now,
        created_by: caller.id().to_string(),
    };
    let audit = AuditEntry {
        at: now,
        actor: caller.actor(),
        action: "staff.create".into(),
        subject_id: None,
        purpose: None,
        detail: serde_json::json!({
            "staff_id": staff.id,
            "role": staff.role.as_str(),
            "regions": staff.regions.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "venue_id": staff.venue_id,
            "import_kinds": staff.import_kinds,
        }),
    };
    app.store.staff_insert(&staff, &audit).await?;
    tracing::info!(staff_id = %staff.id, role = staff.role.as_str(), by = caller.id(), "staff account created");
    Ok((staff.id, token))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Why the officer reads this record; shown to the person in their access log.
    purpose: Option<String>,
    limit: Option<u32>,
}

fn parse_read(caller: &StaffUser, subject: &str, q: &ReadQuery) -> ApiResult<(SubjectId, String)> {
    caller.require(&[Role::Officer])?;
    let mut v = Validator::default();
    let subject = v.check("subject_id", SubjectId::parse(subject));
    let purpose = q.purpose.as_deref().map(str::trim).unwrap_or("");
    if purpose.chars().count() < 2 || purpose.chars().count() > 200 {
        field(&mut v, "purpose", "purpose_required", "state why you read this record (2–200 characters)");
    }
    v.finish()?;
    Ok((checked(subject), purpose.to_string()))
}

#[derive(Serialize)]
pub struct PersonForOfficer {
    subject_id: String,
    name: String,
    masked_name: String,
    id_number_masked: String,
    phone: Option<String>,
    household_region: RegionView,
    current_region: Option<RegionView>,
    guardian_subject_id: Option<String>,
    registered_at: DateTime<FixedOffset>,
}

/// An officer reads a person in their regions: full name and phone (to reach them), the ID
/// number masked. Out of scope answers 404, as if the person did not exist.
pub async fn read_person(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(subject): Path<String>,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Json<PersonForOfficer>> {
    let (subject_id, purpose) = parse_read(&caller, &subject, &q)?;
    let read = StaffRead { staff_id: caller.id(), purpose: &purpose, at: app.clock.now() };
    let p = app.store.person_for_officer(&read, &subject_id).await?.ok_or_else(|| ApiError::not_found("person"))?;
    let opened = open_person(&app.vault, &p).map_err(|e| {
        tracing::error!(subject_id = %p.subject_id, error = %e, "identity row does not open");
        ApiError::internal()
    })?;
    Ok(Json(PersonForOfficer {
        subject_id: p.subject_id.to_string(),
        name: opened.name.clone(),
        masked_name: p.masked_name,
        id_number_masked: opened.id_number_masked(),
        phone: opened.phone,
        household_region: p.household_region.into(),
        current_region: p.current_region.map(Into::into),
        guardian_subject_id: p.guardian.map(|g| g.subject_id.to_string()),
        registered_at: to_local(p.created_at),
    }))
}

pub async fn read_declarations(
    State(app): State<AppState>,
    caller: StaffUser,
    Path(subject): Path<String>,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Json<Vec<DeclarationView>>> {
    let (subject_id, purpose) = parse_read(&caller, &subject, &q)?;
    let read = StaffRead { staff_id: caller.id(), purpose: &purpose, at: app.clock.now() };
    let limit = q.limit.unwrap_or(30).min(366);
    let list = app
        .store
        .declarations_for_officer(&read, &subject_id, limit)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    Ok(Json(list.iter().map(DeclarationView::from).collect()))
}
