//! Liveness, readiness, metrics, the API description and the front page.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(json!({"status": "ready", "database": app.store.backend()})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "the database does not answer")
                .into_response()
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render())
}

/// The OpenAPI document, written by hand next to the code (`openapi.json`) and checked
/// against the router by a test, so every route is described.
pub static OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(serde::Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// English when asked for with `?lang=en` or when `Accept-Language` prefers English;
/// Chinese otherwise.
pub fn wants_english(lang: Option<&str>, headers: &HeaderMap) -> bool {
    if let Some(l) = lang {
        return l.to_ascii_lowercase().starts_with("en");
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = accept.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
    first.starts_with("en")
}

pub async fn index(ApiQuery(q): ApiQuery<LangQuery>, headers: HeaderMap) -> Html<String> {
    let en = wants_english(q.lang.as_deref(), &headers);
    let (lang, title, body, switch) = if en {
        (
            "en",
            "healthcode",
            "An open, self-hostable health code platform. The citizen app, checkpoint scanner and officials' console come here; the API is live.",
            "<a href=\"/?lang=zh-CN\">中文</a>",
        )
    } else {
        (
            "zh-CN",
            "健康码",
            "开放、可自行部署的健康码平台。居民端、核验端和管理端将在此提供；接口已可使用。",
            "<a href=\"/?lang=en\">English</a>",
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body><h1>{title}</h1><p>{body}</p>\
         <ul><li><a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a></li><li><a href=\"/readyz\">/readyz</a></li>\
         <li><a href=\"/metrics\">/metrics</a></li></ul><p>{switch}</p></body></html>"
    ))
}
