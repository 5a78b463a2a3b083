//! The router: every path of API.md that exists so far.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::state::AppState;

pub mod audit;
pub mod auth;
pub mod cases;
pub mod checkins;
pub mod code;
pub mod declarations;
pub mod imports;
pub mod overrides;
pub mod persons;
pub mod quarantines;
pub mod regions;
pub mod scans;
pub mod staff;
pub mod status;
pub mod system;
pub mod venues;

/// (method, path) of every route, as the router and `openapi.json` spell them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/auth/otp"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/persons"),
    ("get", "/api/v1/persons/{subject_id}"),
    ("get", "/api/v1/persons/{subject_id}/declarations"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/me/dependents"),
    ("get", "/api/v1/me/dependents"),
    ("post", "/api/v1/me/declarations"),
    ("get", "/api/v1/me/declarations"),
    ("get", "/api/v1/me/access-log"),
    ("get", "/api/v1/me/code"),
    ("get", "/api/v1/me/code.png"),
    ("get", "/api/v1/me/code.svg"),
    ("get", "/api/v1/me/paper-code"),
    ("get", "/api/v1/me/paper-code.png"),
    ("post", "/api/v1/codes/lookup"),
    ("get", "/.well-known/healthcode/trust-list.json"),
    ("post", "/api/v1/imports/{kind}"),
    ("post", "/api/v1/cases"),
    ("post", "/api/v1/cases/{id}/trace"),
    ("get", "/api/v1/me/status"),
    ("get", "/api/v1/me/color-history"),
    ("get", "/api/v1/rules"),
    ("put", "/api/v1/regions/{code}/risk"),
    ("post", "/api/v1/staff"),
    ("get", "/api/v1/audit"),
    ("post", "/api/v1/venues"),
    ("get", "/api/v1/venues/{id}/code"),
    ("get", "/api/v1/venues/{id}/code.png"),
    ("post", "/api/v1/scans"),
    ("post", "/api/v1/scans/batch"),
    ("post", "/api/v1/checkins"),
    ("post", "/api/v1/codes/verify"),
    ("post", "/api/v1/overrides"),
    ("post", "/api/v1/overrides/{id}/approve"),
    ("get", "/api/v1/overrides/legal-bases"),
    ("post", "/api/v1/quarantines"),
    ("post", "/api/v1/quarantines/{id}/end"),
];

pub fn router(state: AppState) -> Router {
    let limit = state.settings.body_limit;
    Router::new()
        .route("/", get(system::index))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/auth/otp", post(auth::request_code))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/persons", post(persons::register))
        .route("/api/v1/persons/{subject_id}", get(staff::read_person))
        .route("/api/v1/persons/{subject_id}/declarations", get(staff::read_declarations))
        .route("/api/v1/me", get(persons::me))
        .route("/api/v1/me/dependents", post(persons::register_dependent).get(persons::list_dependents))
        .route("/api/v1/me/declarations", post(declarations::declare).get(declarations::history))
        .route("/api/v1/me/access-log", get(audit::access_log))
        .route("/api/v1/me/code", get(code::phone_code))
        .route("/api/v1/me/code.png", get(code::phone_code_png))
        .route("/api/v1/me/code.svg", get(code::phone_code_svg))
        .route("/api/v1/me/paper-code", get(code::paper_code))
        .route("/api/v1/me/paper-code.png", get(code::paper_code_png))
        .route("/api/v1/codes/lookup", post(code::lookup))
        .route("/.well-known/healthcode/trust-list.json", get(code::trust_list))
        .route("/api/v1/cases", post(cases::report))
        .route("/api/v1/cases/{id}/trace", post(cases::trace))
        .route(
            "/api/v1/imports/{kind}",
            post(imports::import_kind).layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT)),
        )
        .route("/api/v1/me/status", get(status::status))
        .route("/api/v1/me/color-history", get(status::history))
        .route("/api/v1/rules", get(status::rules))
        .route("/api/v1/regions/{code}/risk", put(regions::set_risk))
        .route("/api/v1/staff", post(staff::create))
        .route("/api/v1/audit", get(audit::audit_log))
        .route("/api/v1/venues", post(venues::create))
        .route("/api/v1/venues/{id}/code", get(venues::code))
        .route("/api/v1/venues/{id}/code.png", get(venues::code_png))
        .route("/api/v1/scans", post(scans::scan))
        .route("/api/v1/scans/batch", post(scans::batch).layer(DefaultBodyLimit::max(scans::BATCH_BODY_LIMIT)))
        .route("/api/v1/checkins", post(checkins::checkin))
        .route("/api/v1/codes/verify", post(scans::verify))
        .route("/api/v1/overrides", post(overrides::propose))
        .route("/api/v1/overrides/{id}/approve", post(overrides::approve))
        .route("/api/v1/overrides/legal-bases", get(overrides::legal_bases))
        .route("/api/v1/quarantines", post(quarantines::start))
        .route("/api/v1/quarantines/{id}/end", post(quarantines::end))
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::observe))
        .with_state(state)
}
