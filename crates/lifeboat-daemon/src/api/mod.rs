//! The HTTP API (axum, JSON, `/api/v1`): the router, authentication by bearer token and role,
//! and errors as `{error, hint, kind}` with the right status code. One file per route family.

mod backups;
mod drills;
mod jobs;
mod journal;
mod mode;
mod points;
mod restores;
mod snapshots;
mod status;

use crate::auth::{self, Caller};
use crate::probe::Probe;
use crate::runner::Daemon;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lifeboat_config::Role;
use lifeboat_core::error::Hint;
use lifeboat_ops::{ErrorKind, OpsError};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// What every handler shares.
pub struct Api {
    /// The daemon.
    pub daemon: Arc<Daemon>,
    /// The last probe.
    pub probe: RwLock<Probe>,
    /// The configuration file (for reload).
    pub config_path: PathBuf,
    /// Asks the server loop to reload the configuration; answers with the problems.
    pub reload: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// Shared handler state.
pub type Shared = Arc<Api>;

/// An API error: status, message, hint and kind.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: String,
    hint: Option<String>,
    kind: &'static str,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, kind: &'static str, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            hint: None,
            kind,
        }
    }

    /// With a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// 400.
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", error)
    }

    /// 404.
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", error)
    }

    /// 500.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "other",
            error.to_string(),
        )
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        let kind = e.kind();
        let status = match kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Locked | ErrorKind::ModeRefused => StatusCode::CONFLICT,
            ErrorKind::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotARepository | ErrorKind::WrongPassword | ErrorKind::Storage => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let kind_name = match kind {
            ErrorKind::NotARepository => "not_a_repository",
            ErrorKind::WrongPassword => "wrong_password",
            ErrorKind::Locked => "locked",
            ErrorKind::ModeRefused => "mode_refused",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::SourceFailed => "source_failed",
            ErrorKind::Storage => "storage",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Other => "other",
        };
        ApiError {
            status,
            error: e.to_string(),
            hint: e.hint().map(|h| hint_text(&h)),
            kind: kind_name,
        }
    }
}

impl From<crate::jobs::JobError> for ApiError {
    fn from(e: crate::jobs::JobError) -> Self {
        let status = if e.unreachable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError {
            status,
            error: e.message,
            hint: e.hint,
            kind: if e.unreachable {
                "repository_unreachable"
            } else {
                "job_failed"
            },
        }
    }
}

impl From<crate::state::StateError> for ApiError {
    fn from(e: crate::state::StateError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "hint": self.hint, "kind": self.kind})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"lifeboat\""),
            );
        }
        r
    }
}

/// What the user can do, in the API's words (the CLI renders the same hints as flags).
pub fn hint_text(h: &Hint) -> String {
    match h {
        Hint::SetOption { option, value } => match value {
            Some(v) => format!("set \"{option}\" to {v}"),
            None => format!("give \"{option}\""),
        },
        Hint::DropOption { option } => format!("leave out \"{option}\""),
        Hint::RunOperation { operation } => format!("run `lifeboat {operation}` first"),
        Hint::InitOrCheckLocation => {
            "check the repository's url in the configuration, or create it with `lifeboat init`".into()
        }
        Hint::CheckPassword => "check the repository's password source in the configuration".into(),
        Hint::WaitOrUnlock => "wait for the other process; if it is gone, `lifeboat unlock` removes its stale lock".into(),
        Hint::CheckReadData => "run a check with read_data to see what is affected".into(),
        Hint::Check => "run a check of the repository".into(),
        Hint::ListSnapshots => "list them with GET /api/v1/snapshots".into(),
        Hint::LongerPrefix => "give more characters of the id".into(),
        Hint::LeaveMode => "switch the repository back with PUT /api/v1/mode {\"mode\":\"normal\"} once the incident is over".into(),
        Hint::EmptyTargetOrOverwrite => "choose an empty target directory".into(),
        Hint::UseFullKey => "use a full key".into(),
        Hint::WaitForRetention => "it can be removed once its object-lock retention ends".into(),
        Hint::Retry => "try again".into(),
        Hint::GiveRepository => "name a configured repository".into(),
        Hint::GivePassword => "give the repository a password source in the configuration".into(),
        Hint::InstallPostgres => "install PostgreSQL's programs on the daemon's machine".into(),
        Hint::StopProcess { pid } => format!("stop process {pid}, which holds the file open"),
    }
}

/// The caller of a request, when it has at least `min` (401 without a known token, 403 for a
/// weaker role). Refusals of routes that change something are journaled.
pub fn authorize(
    api: &Shared,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    min: Role,
) -> Result<Caller, ApiError> {
    let config = api.daemon.config();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer);
    let caller = presented.and_then(|t| auth::verify(&config.daemon.tokens, t));
    let refuse = |status: StatusCode, who: &str| {
        if method != Method::GET {
            journal_denial(api, who, method, uri, status);
        }
        status
    };
    match caller {
        None => {
            let why = if presented.is_some() {
                "unknown token"
            } else {
                "no token: send Authorization: Bearer TOKEN"
            };
            let status = refuse(StatusCode::UNAUTHORIZED, "(unauthenticated)");
            Err(ApiError::new(status, "unauthorized", why).hint(
                "make a token with `lifeboat daemon token add NAME --role ROLE` and configure its hash",
            ))
        }
        Some(c) if c.role < min => {
            let status = refuse(StatusCode::FORBIDDEN, &c.name);
            Err(ApiError::new(
                status,
                "forbidden",
                format!("token '{}' has role {}; this needs {}", c.name, c.role, min),
            )
            .hint(format!("use a token with role {min} or higher")))
        }
        Some(c) => Ok(c),
    }
}

/// Journals a refused request that would have changed something, in every reachable
/// repository (in the background).
fn journal_denial(api: &Shared, who: &str, method: &Method, uri: &Uri, status: StatusCode) {
    let daemon = api.daemon.clone();
    let (who, route) = (who.to_string(), format!("{method} {}", uri.path()));
    tokio::task::spawn_blocking(move || {
        let config = daemon.config();
        let ctx = lifeboat_ops::Context::new(lifeboat_ops::Actor {
            user: who.clone(),
            front_end: lifeboat_ops::FrontEnd::Api,
        });
        for name in config.repositories.keys() {
            if let Ok((repo, _)) = crate::jobs::open(&config, name) {
                let mut rec = lifeboat_ops::record::Recorder::new(&ctx, "api-denied");
                rec.arg("route", Some(route.clone()))
                    .arg("status", Some(status.as_u16().to_string()))
                    .arg("token", Some(who.clone()));
                rec.add(&repo);
                rec.finish::<()>(&Err(OpsError::Conflict(format!(
                    "request refused ({status})"
                ))));
            }
        }
    });
}

/// The repository a request names (`?repository=`), else the only configured one, else the
/// first.
pub fn repository_name(api: &Shared, given: Option<&str>) -> Result<String, ApiError> {
    let config = api.daemon.config();
    match given {
        Some(r) if config.repositories.contains_key(r) => Ok(r.to_string()),
        Some(r) => Err(ApiError::not_found(format!(
            "there is no repository '{r}' (configured: {})",
            config
                .repositories
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => config
            .repositories
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("no repository is configured")),
    }
}

/// Runs blocking work (repository access) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Response, ApiError> {
    if !api.daemon.config().daemon.metrics_public {
        authorize(&api, &headers, &method, &uri, Role::Read)?;
    }
    crate::probe::update_rpo(
        &api.daemon,
        &api.probe.read().unwrap_or_else(|e| e.into_inner()),
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        api.daemon.metrics.render(),
    )
        .into_response())
}

async fn reload(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&api, &headers, &method, &uri, Role::Admin)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    api.reload
        .send(tx)
        .await
        .map_err(|_| ApiError::internal("the daemon is shutting down"))?;
    match rx.await.map_err(ApiError::internal)? {
        Ok(()) => Ok(Json(json!({"reloaded": true}))),
        Err(problems) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            format!("the new configuration is invalid; the old one stays in force: {problems}"),
        )
        .hint("fix the file (`lifeboat config check`) and reload again")),
    }
}

async fn fallback(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
}

/// The router.
pub fn router(api: Shared) -> Router {
    let max_body = api.daemon.config().daemon.max_body;
    let v1 = Router::new()
        .route("/status", get(status::status))
        .route("/snapshots", get(snapshots::list))
        .route("/snapshots/{id}", get(snapshots::show))
        .route(
            "/backups",
            post(backups::create).layer(DefaultBodyLimit::disable()),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::show).delete(jobs::cancel))
        .route("/restores", post(restores::create))
        .route("/drills", get(drills::list).post(drills::create))
        .route("/mode", get(mode::show).put(mode::set))
        .route("/journal", get(journal::list))
        .route("/reload", post(reload))
        .route("/restore-points", get(points::list).post(points::create))
        .route("/apps", get(points::apps))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(max_body));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", v1)
        .merge(crate::dashboard::routes())
        .fallback(fallback)
        .with_state(api)
}
