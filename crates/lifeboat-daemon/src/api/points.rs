//! `POST /api/v1/restore-points` (a job), `GET /api/v1/restore-points`, and
//! `GET /api/v1/apps` (application crash detection, `lifeboat app start|stop`).

use super::backups::accepted;
use super::{authorize, blocking, repository_name, ApiError, Shared};
use crate::jobs::JobSpec;
use crate::runner::{RunOptions, Trigger};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use lifeboat_config::Role;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PointBody {
    name: String,
    #[serde(default)]
    sources: Vec<String>,
}

pub(super) async fn create(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Json<PointBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Operator)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let s = api.daemon.submit(
        JobSpec::RestorePoint {
            name: b.name,
            sources: b.sources,
        },
        Trigger::Api,
        &caller.name,
        RunOptions::default(),
    )?;
    accepted(s)
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    repository: Option<String>,
}

pub(super) async fn list(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let name = repository_name(&api, q.repository.as_deref())?;
    let config = api.daemon.config();
    let out = blocking(move || {
        let (repo, _) = crate::jobs::open(&config, &name)?;
        let ctx = caller.context();
        let points = lifeboat_ops::restore_point::list(&ctx, &repo)?;
        Ok(serde_json::to_value(points).unwrap_or(Value::Null))
    })
    .await?;
    Ok(Json(out))
}

pub(super) async fn apps(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    authorize(&api, &headers, &method, &uri, Role::Read)?;
    let dir = api.daemon.state_dir.clone();
    let out = blocking(move || {
        Ok(serde_json::to_value(lifeboat_ops::app::list(&dir)?).unwrap_or(Value::Null))
    })
    .await?;
    Ok(Json(out))
}
