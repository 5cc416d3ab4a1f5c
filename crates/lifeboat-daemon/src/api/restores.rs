//! `POST /api/v1/restores`: restore a snapshot (or paths of it) under a `restore_roots` entry.

use super::backups::accepted;
use super::{authorize, repository_name, ApiError, Shared};
use crate::jobs::JobSpec;
use crate::runner::{RunOptions, Trigger};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use lifeboat_config::Role;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Component, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RestoreBody {
    snapshot: String,
    target: PathBuf,
    #[serde(default)]
    include: Vec<String>,
    repository: Option<String>,
}

/// True when `target` lies under `root` without `..` tricks (compared lexically, then with
/// what exists of both resolved).
fn under(target: &std::path::Path, root: &std::path::Path) -> bool {
    if !target.is_absolute() || target.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    lifeboat_drill::points::is_within(target, root)
}

pub(super) async fn create(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Result<Json<RestoreBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Admin)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let config = api.daemon.config();
    let roots = &config.daemon.restore_roots;
    if roots.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no_restore_roots",
            "restores through the API are off: [daemon] restore_roots names no directory",
        )
        .hint("add restore_roots = [\"/srv/restore\"] to [daemon] and reload"));
    }
    if !roots.iter().any(|r| under(&b.target, r)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "target_outside_roots",
            format!(
                "target {} is not under a restore root ({})",
                b.target.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let repository = repository_name(&api, b.repository.as_deref())?;
    let s = api.daemon.submit(
        JobSpec::Restore {
            repository,
            snapshot: b.snapshot,
            target: b.target,
            include: b.include,
        },
        Trigger::Api,
        &caller.name,
        RunOptions::default(),
    )?;
    accepted(s)
}
