//! Request extractors: JSON bodies with field-level errors, and the two kinds of caller
//! (citizens with a phone session, staff with an account token).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use healthcode_core::otp::constant_time_eq;
use healthcode_core::{Role, SubjectId};
use healthcode_store::{Actor, PersonRecord, Session, Staff};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};
use crate::state::AppState;
use crate::validate::{Validator, checked};

/// Prefix of citizen session tokens.
pub const SESSION_PREFIX: &str = "hcs_";
/// Prefix of staff and device tokens.
pub const STAFF_PREFIX: &str = "hct_";

/// A JSON body. Malformed JSON, unknown fields, missing fields and wrong types each become a
/// problem naming the field; a body over the limit is a 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON into `T`, naming the field of the first problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, e.into_inner())
    })?;
    // Trailing characters after the value make the body malformed too.
    de.end().map_err(|e| json_error(".", e))?;
    Ok(value)
}

fn json_error(path: &str, inner: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed JSON at line {} column {}", inner.line(), inner.column()),
        ),
        Category::Data => data_error(path, &inner.to_string()),
    }
}

/// The name between the first pair of backticks in a serde message.
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

fn join(parent: &str, name: &str) -> String {
    if parent == "." || parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
}

fn data_error(path: &str, msg: &str) -> ApiError {
    // serde_json appends " at line L column C"; the field path says more.
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if msg.starts_with("unknown field") {
        // serde_path_to_error's path already ends with the unknown field's name.
        let field = if path == "." { quoted(msg).unwrap_or("?").to_string() } else { path.to_string() };
        let message = format!("unknown field {field:?}");
        return ApiError::field(
            StatusCode::BAD_REQUEST,
            "unknown_field",
            FieldError::new(field, "unknown_field", message),
        );
    }
    if msg.starts_with("missing field") {
        let field = join(path, quoted(msg).unwrap_or("?"));
        return ApiError::validation(vec![FieldError::new(field, "required", "this field is required")]);
    }
    let field = if path == "." { "body".to_string() } else { path.to_string() };
    ApiError::validation(vec![FieldError::new(field, "invalid_value", msg)])
}

/// Query parameters; a bad one is a problem+json 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri).map(|q| ApiQuery(q.0)).map_err(|rejection| {
            let text = rejection.body_text();
            let msg = text.trim_start_matches("Failed to deserialize query string: ");
            let field = quoted(msg).unwrap_or("query").to_string();
            ApiError::field(StatusCode::BAD_REQUEST, "invalid_query", FieldError::new(field, "invalid_query", msg))
        })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A logged-in phone (registered or not).
pub struct PhoneSession(pub Session);

impl FromRequestParts<AppState> for PhoneSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .filter(|t| t.starts_with(SESSION_PREFIX))
            .ok_or_else(|| ApiError::unauthorized("log in with a one-time password first (Authorization: Bearer …)"))?;
        let hash = healthcode_vault::token_hash(token);
        app.store
            .session_get(&hash, app.clock.now())
            .await?
            .map(PhoneSession)
            .ok_or_else(|| ApiError::unauthorized("the session has expired or was ended; log in again"))
    }
}

/// A logged-in, registered citizen.
pub struct Citizen {
    pub session: Session,
    pub person: PersonRecord,
}

impl FromRequestParts<AppState> for Citizen {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let PhoneSession(session) = PhoneSession::from_request_parts(parts, app).await?;
        let person = app.store.person_by_phone(&session.phone_index).await?.ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "registration_required", "register under your real name first")
        })?;
        Ok(Citizen { session, person })
    }
}

impl Citizen {
    pub fn actor(&self) -> Actor {
        Actor { kind: "citizen".into(), id: self.person.subject_id.to_string(), role: None }
    }

    /// The person the citizen acts for: themself, or (with `subject_id`) one of their
    /// dependents. Anyone else is refused.
    pub async fn acting_for(&self, app: &AppState, subject_id: Option<&str>) -> Result<SubjectId, ApiError> {
        let Some(raw) = subject_id else { return Ok(self.person.subject_id.clone()) };
        let mut v = Validator::default();
        let id = v.check("subject_id", SubjectId::parse(raw));
        v.finish()?;
        let id = checked(id);
        if id == self.person.subject_id {
            return Ok(id);
        }
        let dependents = app.store.dependents(&self.person.subject_id).await?;
        if dependents.iter().any(|d| d.subject_id == id) {
            Ok(id)
        } else {
            Err(ApiError::field(
                StatusCode::FORBIDDEN,
                "not_your_dependent",
                FieldError::new(
                    "subject_id",
                    "not_your_dependent",
                    "you can act only for yourself and your dependents",
                ),
            ))
        }
    }
}

/// A staff account or device, or the bootstrap admin.
pub struct StaffUser {
    /// `None` for the bootstrap admin.
    pub staff: Option<Staff>,
    pub role: Role,
}

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| ApiError::unauthorized("a staff token is required"))?;
        let hash = healthcode_vault::token_hash(token);
        if let Some(boot) = &app.bootstrap_admin_hash
            && constant_time_eq(boot, &hash)
        {
            return Ok(StaffUser::bootstrap_admin());
        }
        if !token.starts_with(STAFF_PREFIX) {
            return Err(ApiError::unauthorized("a staff token is required"));
        }
        let staff =
            app.store.staff_by_token(&hash).await?.ok_or_else(|| ApiError::unauthorized("unknown staff token"))?;
        Ok(StaffUser { role: staff.role, staff: Some(staff) })
    }
}

impl StaffUser {
    /// The bootstrap admin (`HEALTHCODE_BOOTSTRAP_ADMIN_TOKEN`), also used by `demo` to seed.
    pub fn bootstrap_admin() -> Self {
        StaffUser { staff: None, role: Role::Admin }
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(Role::as_str).collect();
            Err(ApiError::forbidden(&format!("this needs the role {}", names.join(" or "))))
        }
    }

    pub fn id(&self) -> &str {
        self.staff.as_ref().map_or("bootstrap_admin", |s| s.id.as_str())
    }

    pub fn actor(&self) -> Actor {
        match &self.staff {
            Some(s) => Actor { kind: "staff".into(), id: s.id.clone(), role: Some(s.role.as_str().into()) },
            None => Actor { kind: "bootstrap_admin".into(), id: "bootstrap_admin".into(), role: Some("admin".into()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn err(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn every_json_problem_names_its_field() {
        let e = err(r#"{"name": "a", "extra": 1}"#);
        assert_eq!((e.status, e.code, e.errors[0].field.as_str()), (StatusCode::BAD_REQUEST, "unknown_field", "extra"));
        let e = err(r#"{"name": "a", "inner": {"n": 1, "m": 2}}"#);
        assert_eq!(e.errors[0].field, "inner.m");
        let e = err(r#"{}"#);
        assert_eq!(
            (e.code, e.errors[0].field.as_str(), e.errors[0].code.as_str()),
            ("validation_failed", "name", "required")
        );
        let e = err(r#"{"name": 5}"#);
        assert_eq!((e.errors[0].field.as_str(), e.errors[0].code.as_str()), ("name", "invalid_value"));
        let e = err(r#"{"name": "a", "inner": {"n": 300}}"#);
        assert_eq!(e.errors[0].field, "inner.n");
        let e = err(r#"{"name": "a""#);
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "malformed_json"));
        let e = err(r#"{"name": "a"} trailing"#);
        assert_eq!(e.code, "malformed_json");
    }
}
