//! "Why am I yellow, and when do I turn green?" (R12), and the published rules.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, FixedOffset};
use healthcode_core::Color;
use healthcode_core::local_time::to_local;
use healthcode_core::rules::{Evidence, PublishedRuleSet};
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{ApiQuery, Citizen};
use crate::routes::system::wants_english;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    subject_id: Option<String>,
    lang: Option<String>,
}

#[derive(Serialize)]
pub struct ReasonView {
    rule_id: String,
    color: Color,
    /// Whether this reason sets the color.
    decisive: bool,
    text: String,
    since: Option<DateTime<FixedOffset>>,
    until: Option<DateTime<FixedOffset>>,
    evidence: Vec<Evidence>,
}

#[derive(Serialize)]
pub struct ToGreenView {
    text: String,
    at: Option<DateTime<FixedOffset>>,
}

#[derive(Serialize)]
pub struct Status {
    subject_id: String,
    color: Color,
    since: Option<DateTime<FixedOffset>>,
    reasons: Vec<ReasonView>,
    rule_set_version: String,
    next_review_at: Option<DateTime<FixedOffset>>,
    to_green: Option<ToGreenView>,
    evaluated_at: DateTime<FixedOffset>,
    lang: &'static str,
}

/// My (or my dependent's) color with every reason, its evidence, and the way back to green,
/// in Chinese unless English is asked for.
pub async fn status(
    State(app): State<AppState>,
    citizen: Citizen,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult<Json<Status>> {
    let subject = citizen.acting_for(&app, q.subject_id.as_deref()).await?;
    let person = if subject == citizen.person.subject_id {
        citizen.person.clone()
    } else {
        app.store.person_get(&subject).await?.ok_or_else(|| crate::error::ApiError::not_found("person"))?
    };
    let d = crate::risk::decide(&app, &person).await?;
    let en = wants_english(q.lang.as_deref(), &headers);
    Ok(Json(Status {
        subject_id: subject.to_string(),
        color: d.color,
        since: d.since.map(to_local),
        reasons: d
            .reasons
            .into_iter()
            .map(|r| ReasonView {
                rule_id: r.rule_id,
                color: r.color,
                decisive: r.decisive,
                text: if en { r.text_en } else { r.text_zh },
                since: r.since.map(to_local),
                until: r.until.map(to_local),
                evidence: r.evidence,
            })
            .collect(),
        rule_set_version: d.rule_set_version,
        next_review_at: d.next_review_at.map(to_local),
        to_green: d.to_green.map(|t| ToGreenView { text: if en { t.en } else { t.zh }, at: t.at.map(to_local) }),
        evaluated_at: to_local(d.evaluated_at),
        lang: if en { "en" } else { "zh-CN" },
    }))
}

/// The rule set in force: `{version, rules, source, …}`.
pub async fn rules(State(app): State<AppState>) -> Json<PublishedRuleSet> {
    Json(app.rules.published())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    subject_id: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct ChangeView {
    at: DateTime<FixedOffset>,
    from: Option<Color>,
    to: Color,
    rule_set_version: String,
}

/// My (or my dependent's) color changes, newest first.
pub async fn history(
    State(app): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<ChangeView>>> {
    let subject = citizen.acting_for(&app, q.subject_id.as_deref()).await?;
    let changes = app.store.color_history(&subject, q.limit.unwrap_or(100).min(1000)).await?;
    Ok(Json(
        changes
            .into_iter()
            .map(|c| ChangeView { at: to_local(c.at), from: c.from, to: c.to, rule_set_version: c.rule_set_version })
            .collect(),
    ))
}
