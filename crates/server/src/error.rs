//! Errors at the API boundary: `application/problem+json` (RFC 9457) with a stable `code`.
//!
//! Every code is listed in `docs/errors.md`; clients switch on `code`, never on `title` or
//! `detail`. Validation errors carry one entry per field in `errors`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use healthcode_store::StoreError;
use serde::Serialize;

/// One problem with one field of the input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as a JSON path (`id_number`, `symptoms[2]`).
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// For 429: seconds until a retry can succeed.
    pub retry_after: Option<i64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// 422 with the given field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid fields: {}", fields.join(", "));
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail) }
    }

    /// One field error, with its own status and top-level code (400 for malformed requests).
    pub fn field(status: StatusCode, code: &'static str, field: FieldError) -> Self {
        Self { detail: field.message.clone(), errors: vec![field], ..Self::new(status, code, "") }
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
    }

    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:healthcode:error:{}", self.code),
            title: title(self.status),
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
            errors: &self.errors,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("record"),
            // Callers map the duplicates they expect; one reaching here is a bug, not a 500.
            StoreError::Duplicate(which) => {
                Self::new(StatusCode::CONFLICT, "conflict", format!("already exists ({which:?})"))
            }
            StoreError::Corrupt(msg) | StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "store error");
                Self::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
