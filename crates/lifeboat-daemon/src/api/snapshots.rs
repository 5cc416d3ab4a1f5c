//! `GET /api/v1/snapshots?source=&tag=&repository=` and `GET /api/v1/snapshots/{id}`.

use super::{authorize, blocking, repository_name, ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use lifeboat_config::Role;
use lifeboat_ops::list::snapshot_json;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    source: Option<String>,
    tag: Option<String>,
    repository: Option<String>,
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
    let source = match &q.source {
        Some(s) => Some(
            config
                .source(s)
                .map_err(|e| ApiError::not_found(e.to_string()))?
                .clone(),
        ),
        None => None,
    };
    let repo_name = match (&q.repository, &source) {
        (Some(r), _) => repository_name(&api, Some(r))?,
        (None, Some(s)) => s.repository.clone(),
        (None, None) => repository_name(&api, None)?,
    };
    let out = blocking(move || {
        let (repo, _) = crate::jobs::open(&config, &repo_name)?;
        let filter = lifeboat_ops::filter::SnapshotFilter {
            host: None,
            tags: q.tag.iter().cloned().collect(),
        };
        let mut all = lifeboat_ops::list::snapshots(&caller.context(), &repo, &filter)?;
        if let Some(s) = &source {
            all = lifeboat_drill::points::snapshots_of(&all, s, None);
        }
        Ok(all
            .iter()
            .map(|e| {
                let mut v = snapshot_json(e);
                v["repository"] = Value::String(repo_name.clone());
                v
            })
            .collect())
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    repository: Option<String>,
}

pub(super) async fn show(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let config = api.daemon.config();
    let repo_name = repository_name(&api, q.repository.as_deref())?;
    let out = blocking(move || {
        let (repo, _) = crate::jobs::open(&config, &repo_name)?;
        let e = lifeboat_ops::list::snapshot(&caller.context(), &repo, &id)?;
        let mut v = snapshot_json(&e);
        v["repository"] = Value::String(repo_name);
        Ok(v)
    })
    .await?;
    Ok(Json(out))
}
