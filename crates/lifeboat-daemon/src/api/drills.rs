//! `POST /api/v1/drills` (run a configured drill, a job) and `GET /api/v1/drills` (reports).

use super::backups::accepted;
use super::{authorize, blocking, ApiError, Shared};
use crate::jobs::JobSpec;
use crate::runner::{RunOptions, Trigger};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use lifeboat_config::{Role, ScheduledJob};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DrillBody {
    drill: String,
}

pub(super) async fn create(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Json<DrillBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Operator)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let config = api.daemon.config();
    if !config.drills.contains_key(&b.drill) {
        return Err(ApiError::not_found(format!(
            "there is no drill '{}' (configured: {})",
            b.drill,
            config.drills.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let s = api.daemon.submit(
        JobSpec::Scheduled(ScheduledJob::Drill { drill: b.drill }),
        Trigger::Api,
        &caller.name,
        RunOptions::default(),
    )?;
    accepted(s)
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    drill: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let config = api.daemon.config();
    let out = blocking(move || {
        // Every repository that holds a drilled source.
        let mut repos: Vec<String> = config
            .drills
            .values()
            .filter(|d| q.drill.as_ref().is_none_or(|n| *n == d.name))
            .filter_map(|d| config.sources.get(&d.source).map(|s| s.repository.clone()))
            .collect();
        repos.sort();
        repos.dedup();
        let ctx = caller.context();
        let mut reports = Vec::new();
        for r in repos {
            let (repo, _) = crate::jobs::open(&config, &r)?;
            for rep in lifeboat_ops::drill::reports(&ctx, &repo, q.drill.as_deref())? {
                let mut v = serde_json::to_value(&rep).unwrap_or(Value::Null);
                v["repository"] = Value::String(r.clone());
                reports.push(v);
            }
        }
        reports.sort_by(|a, b| b["started"].as_str().cmp(&a["started"].as_str()));
        reports.truncate(q.limit.unwrap_or(50));
        Ok(reports)
    })
    .await?;
    Ok(Json(out))
}
