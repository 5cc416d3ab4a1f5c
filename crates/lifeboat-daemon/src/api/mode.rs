//! `GET /api/v1/mode` and `PUT /api/v1/mode` (`{"mode": "degraded", "repository": NAME}`;
//! without a repository, every configured one).

use super::{authorize, blocking, ApiError, Shared};
use crate::notify::Event;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use lifeboat_config::Role;
use lifeboat_core::mode::Mode;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub(super) struct ModeQuery {
    repository: Option<String>,
}

fn names(api: &Shared, one: Option<&str>) -> Result<Vec<String>, ApiError> {
    match one {
        Some(r) => Ok(vec![super::repository_name(api, Some(r))?]),
        None => Ok(api.daemon.config().repositories.keys().cloned().collect()),
    }
}

pub(super) async fn show(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<ModeQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let repos = names(&api, q.repository.as_deref())?;
    let config = api.daemon.config();
    let out = blocking(move || {
        let mut list = Vec::new();
        for r in repos {
            let (repo, _) = crate::jobs::open(&config, &r)?;
            let m = lifeboat_ops::mode::show(&caller.context(), &repo)?;
            list.push(json!({"repository": r, "mode": m.mode.name(), "since": m.since}));
        }
        Ok(list)
    })
    .await?;
    let mode = out
        .iter()
        .filter_map(|v| v["mode"].as_str())
        .max_by_key(|m| match *m {
            "normal" => 0,
            "degraded" => 1,
            _ => 2,
        })
        .unwrap_or("normal")
        .to_string();
    Ok(Json(json!({"mode": mode, "repositories": out})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModeBody {
    mode: String,
    repository: Option<String>,
    reason: Option<String>,
}

pub(super) async fn set(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Json<ModeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Admin)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let to: Mode = b.mode.parse().map_err(|e: lifeboat_core::Error| {
        ApiError::bad_request(e.to_string()).hint("mode is normal, degraded or read-only")
    })?;
    let repos = names(&api, b.repository.as_deref())?;
    let config = api.daemon.config();
    let daemon = api.daemon.clone();
    let who = caller.name.clone();
    let ctx = caller.context();
    let out = blocking(move || {
        let mut list = Vec::new();
        for r in repos {
            let (repo, _) = crate::jobs::open(&config, &r)?;
            let rec = lifeboat_ops::mode::set(&ctx, &repo, to)?;
            let mut ev = Event::new(
                "mode_changed",
                Some(&r),
                format!(
                    "repository {r} is now {} (set by token {who}{})",
                    to.name(),
                    b.reason.as_ref().map(|x| format!(": {x}")).unwrap_or_default()
                ),
            );
            ev.hint = (to != Mode::Normal).then(|| {
                "backups still run in degraded mode; forget and prune are refused until it is normal again".to_string()
            });
            daemon.notify(ev);
            list.push(json!({"repository": r, "mode": to.name(), "record": rec}));
        }
        Ok(list)
    })
    .await?;
    api.daemon.probe_now.notify_one();
    Ok(Json(json!({"mode": to.name(), "repositories": out})))
}
