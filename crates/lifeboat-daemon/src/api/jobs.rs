//! `GET /api/v1/jobs`, `GET /api/v1/jobs/{id}`, `DELETE /api/v1/jobs/{id}`.

use super::{authorize, ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use lifeboat_config::Role;
use lifeboat_ops::Context;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// The live counters of a running job.
pub fn progress(ctx: &Context) -> Value {
    let p = &ctx.progress;
    json!({
        "files": p.files.load(Ordering::Relaxed),
        "bytes": p.bytes.load(Ordering::Relaxed),
        "added_bytes": p.bytes_written.load(Ordering::Relaxed),
        "restored_bytes": ctx.restored_bytes.load(Ordering::Relaxed),
        "cancelling": ctx.cancel_token().is_cancelled(),
    })
}

fn with_progress(api: &Shared, run: crate::state::Run) -> Value {
    let mut v = serde_json::to_value(&run).unwrap_or(Value::Null);
    v["progress"] = match api.daemon.running_run(run.id) {
        Some(r) => progress(&r.ctx),
        None => Value::Null,
    };
    v
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
    state: Option<String>,
    job: Option<String>,
}

pub(super) async fn list(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    authorize(&api, &headers, &method, &uri, Role::Read)?;
    if let Some(s) = &q.state {
        if !crate::state::STATES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown state '{s}' (expected one of: {})",
                crate::state::STATES.join(", ")
            )));
        }
    }
    let runs = api.daemon.state.list(
        q.limit.unwrap_or(50).min(1000),
        q.state.as_deref(),
        q.job.as_deref(),
    )?;
    Ok(Json(
        runs.into_iter().map(|r| with_progress(&api, r)).collect(),
    ))
}

pub(super) async fn show(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    authorize(&api, &headers, &method, &uri, Role::Read)?;
    let run = api
        .daemon
        .state
        .get(id)?
        .ok_or_else(|| ApiError::not_found(format!("there is no job {id}")))?;
    Ok(Json(with_progress(&api, run)))
}

pub(super) async fn cancel(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Operator)?;
    let run = api
        .daemon
        .state
        .get(id)?
        .ok_or_else(|| ApiError::not_found(format!("there is no job {id}")))?;
    let Some(r) = api.daemon.running_run(id) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_running",
            format!("job {id} is not running (it is {})", run.state),
        ));
    };
    tracing::info!("job {id}: cancellation asked by token {}", caller.name);
    r.ctx.cancel_token().cancel();
    Ok((StatusCode::ACCEPTED, Json(with_progress(&api, run))))
}
