//! `GET /api/v1/journal?limit=&repository=`: the newest journal records, newest first.

use super::{authorize, blocking, repository_name, ApiError, Shared};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use lifeboat_config::Role;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct JournalQuery {
    limit: Option<usize>,
    repository: Option<String>,
}

pub(super) async fn list(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<JournalQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let name = repository_name(&api, q.repository.as_deref())?;
    let config = api.daemon.config();
    let out = blocking(move || {
        let (repo, _) = crate::jobs::open(&config, &name)?;
        let ctx = caller.context();
        let records = lifeboat_ops::journal::list(&ctx, &repo)?;
        Ok(records
            .iter()
            .rev()
            .take(q.limit.unwrap_or(50).min(10_000))
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                v["repository"] = Value::String(name.clone());
                v
            })
            .collect())
    })
    .await?;
    Ok(Json(out))
}
