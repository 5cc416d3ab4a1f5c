//! `GET /api/v1/status`: everything at a glance (see `docs/design/daemon.md`).

use super::{authorize, ApiError, Shared};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use lifeboat_config::Role;
use serde_json::{json, Value};

/// `ok` up to 80 % of the target, `warn` up to the target, `exceeded` beyond, `unknown`
/// without a point or a target.
pub fn rpo_state(rpo: Option<f64>, target: Option<f64>) -> &'static str {
    match (rpo, target) {
        (Some(r), Some(t)) if r <= 0.8 * t => "ok",
        (Some(r), Some(t)) if r <= t => "warn",
        (Some(_), Some(_)) => "exceeded",
        _ => "unknown",
    }
}

pub(super) async fn status(
    State(api): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&api, &headers, &method, &uri, Role::Read)?;
    let d = &api.daemon;
    let probe = api.probe.read().unwrap_or_else(|e| e.into_inner()).clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let sources: Vec<Value> = probe
        .sources
        .iter()
        .map(|s| {
            let rpo = s.newest_point_ms.map(|t| (now - t) as f64 / 1000.0);
            let last = d
                .state
                .last_of(
                    "backup",
                    &s.name,
                    &["succeeded", "failed", "cancelled", "interrupted"],
                )
                .ok()
                .flatten();
            json!({
                "name": s.name,
                "kind": s.kind,
                "repository": s.repository,
                "snapshots": s.snapshots,
                "last_backup": s.last_backup,
                "last_result": last.as_ref().map(|r| r.state.clone()),
                "last_error": last.as_ref().and_then(|r| r.error.clone()),
                "newest_point": s.newest_point,
                "rpo_seconds": rpo,
                "rpo_target_seconds": s.rpo_target_seconds,
                "rto_target_seconds": s.rto_target_seconds,
                "rpo_state": rpo_state(rpo, s.rpo_target_seconds),
            })
        })
        .collect();
    let drills: Vec<Value> = probe
        .drills
        .iter()
        .map(|dr| {
            let target = d.config().targets.get(&dr.source).map(|t| {
                (
                    t.rto.map(|x| x.as_secs_f64()),
                    t.rpo.map(|x| x.as_secs_f64()),
                )
            });
            json!({
                "name": dr.name,
                "source": dr.source,
                "last": dr.last,
                "rto_target_seconds": target.and_then(|t| t.0),
                "rpo_target_seconds": target.and_then(|t| t.1),
            })
        })
        .collect();
    let running: Vec<Value> = d
        .running()
        .iter()
        .filter_map(|r| {
            let mut v = serde_json::to_value(d.state.get(r.id).ok().flatten()?).ok()?;
            v["progress"] = super::jobs::progress(&r.ctx);
            Some(v)
        })
        .collect();
    let failures = d.state.list(10, Some("failed"), None).unwrap_or_default();
    let mode = probe
        .repositories
        .iter()
        .filter_map(|r| r.mode.as_deref())
        .max_by_key(|m| match *m {
            "normal" => 0,
            "degraded" => 1,
            _ => 2,
        })
        .unwrap_or("normal")
        .to_string();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_at": d.started_at,
        "role": caller.role.name(),
        "token": caller.name,
        "mode": mode,
        "last_shutdown": d.last_shutdown.0,
        "last_shutdown_at": d.last_shutdown.1,
        "probed_at": probe.at,
        "repositories": probe.repositories,
        "sources": sources,
        "drills": drills,
        "running": running,
        "recent_failures": failures,
        "schedules": crate::scheduler::next_runs(d),
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rpo_states_follow_the_target() {
        use super::rpo_state;
        assert_eq!(rpo_state(Some(10.0), Some(100.0)), "ok");
        assert_eq!(rpo_state(Some(90.0), Some(100.0)), "warn");
        assert_eq!(rpo_state(Some(101.0), Some(100.0)), "exceeded");
        assert_eq!(rpo_state(None, Some(100.0)), "unknown");
        assert_eq!(rpo_state(Some(1.0), None), "unknown");
    }
}
