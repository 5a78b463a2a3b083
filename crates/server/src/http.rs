//! Cross-cutting HTTP behaviour: request logging and metrics, problem+json for unknown routes.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::state::AppState;

/// Logs and counts each request by its route pattern. The raw path and query are never
/// logged: they could carry personal data a client put there by mistake.
pub async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    app.metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    app.metrics
        .latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(elapsed.as_secs_f64());
    tracing::info!(target: "healthcode::http", %method, %route, status, micros = elapsed.as_micros() as u64, "request");
    res
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such endpoint; see /api/v1/openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}
