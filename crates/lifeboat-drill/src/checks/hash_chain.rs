//! `hash_chain`: every row's `prev` is the previous row's `hash`, and `hash` is the digest of `input`.
use super::{Outcome, PgConn};
use lifeboat_config::CheckKind;
use lifeboat_core::cancel::CancelToken;
pub(crate) fn run(_pg: &PgConn, _db: &str, _kind: &CheckKind, _cancel: &CancelToken) -> Outcome {
    Err("hash_chain is not written yet".into())
}
