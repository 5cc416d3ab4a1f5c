//! `POST /api/v1/backups`: back up a configured source (`{"source": NAME}`, a job), or store
//! the request body as a stream snapshot (`?stream=NAME&type=TYPE&tag=T&repository=R`): the
//! body streams into the repository as it arrives, never held whole in memory, and the
//! answer comes once it is stored, with its SHA-256.

use super::{authorize, repository_name, ApiError, Shared};
use crate::jobs::{JobError, JobSpec};
use crate::runner::{RunOptions, Submitted, Trigger};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use futures_util::TryStreamExt;
use lifeboat_config::{Role, ScheduledJob};
use lifeboat_ops::backup::{SnapshotLabels, StreamRequest};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
pub(super) struct UploadQuery {
    stream: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    tag: Option<String>,
    repository: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBody {
    source: String,
}

/// The 202 answer for a submitted job (or 409 when the same job runs).
pub(super) fn accepted(s: Submitted) -> Result<(StatusCode, Json<Value>), ApiError> {
    match s {
        Submitted::Started(id) => Ok((StatusCode::ACCEPTED, Json(json!({"job": id})))),
        Submitted::Skipped { id, running } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_running",
            format!("the same job is running as job {running}; this request was recorded as skipped job {id}"),
        )
        .hint(format!("watch GET /api/v1/jobs/{running}"))),
    }
}

/// Bodies over the limit are read on (and dropped) up to this many bytes before the 413 goes
/// out, so a client still sending gets the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 64 << 20;

/// The body when it is at most `max` bytes; past that, the rest is drained (up to
/// [`DRAIN_LIMIT`]) and `Err` returned.
async fn read_limited(body: Body, max: usize) -> Result<Vec<u8>, ()> {
    let mut data = body.into_data_stream();
    let (mut kept, mut seen) = (Vec::new(), 0usize);
    while let Some(chunk) = data.try_next().await.map_err(|_| ())? {
        seen += chunk.len();
        if seen <= max {
            kept.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > max {
        return Err(());
    }
    Ok(kept)
}

pub(super) async fn create(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Operator)?;
    if let Some(name) = q.stream.clone() {
        return upload(api, caller, q, name, body).await;
    }
    let max = api.daemon.config().daemon.max_body;
    let bytes = read_limited(body, max).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than max_body ({max} bytes)"),
        )
        .hint("to upload a stream, give ?stream=NAME; its body is not limited")
    })?;
    let req: SourceBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("the body is not {{\"source\": NAME}}: {e}"))
            .hint("POST {\"source\": NAME} for a configured source, or ?stream=NAME with the bytes as the body")
    })?;
    let config = api.daemon.config();
    config
        .source(&req.source)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let s = api.daemon.submit(
        JobSpec::Scheduled(ScheduledJob::Backup { source: req.source }),
        Trigger::Api,
        &caller.name,
        RunOptions::default(),
    )?;
    accepted(s)
}

async fn upload(
    api: Shared,
    caller: crate::auth::Caller,
    q: UploadQuery,
    name: String,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::bad_request(format!(
            "stream name '{name}' must be a non-empty file name without '/'"
        )));
    }
    let repo_name = repository_name(&api, q.repository.as_deref())?;
    let config = api.daemon.config();
    let reader = tokio_util::io::StreamReader::new(
        body.into_data_stream()
            .map_err(|e| std::io::Error::other(format!("reading the request body: {e}"))),
    );
    let mut reader = tokio_util::io::SyncIoBridge::new(reader);
    let daemon = api.daemon.clone();
    let req = StreamRequest {
        name: name.clone(),
        command: Vec::new(),
        content_type: q.content_type.clone(),
        labels: SnapshotLabels {
            tags: q.tag.iter().cloned().collect(),
            host: None,
        },
    };
    let who = caller.name.clone();
    let (id, result) = tokio::task::spawn_blocking(move || {
        daemon.run_inline("upload", &name, &who, |ctx| {
            let (repo, _) = crate::jobs::open(&config, &repo_name)?;
            let report = lifeboat_ops::backup::stream(ctx, &repo, &req, &mut reader)
                .map_err(JobError::from)?;
            Ok(serde_json::to_value(report).unwrap_or(Value::Null))
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let report = result?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "job": id,
            "snapshot_id": report.get("snapshot_id"),
            "stream": report.get("stream"),
        })),
    ))
}
