//! Restore points and their pins (docs/design/restore-points.md).
//!
//! A restore point is one named, consistent set of snapshots across sources. Stored like
//! snapshots: a metadata envelope (data key) of zstd JSON under
//! `restore-points/<sha256 of stored bytes>`, associated data `lifeboat restore point`. A pin
//! (keep a point until a time, or forever) is a separate record under
//! `restore-point-pins/<sha256>` (associated data `lifeboat restore point pin`), so points
//! stay immutable; the newest pin of a point wins. The engine does not interpret the JSON (the
//! operations layer owns its schema).

/// Associated data of restore point envelopes.
pub const RESTORE_POINT_CONTEXT: &[u8] = b"lifeboat restore point";
/// The folder of restore points.
pub const RESTORE_POINTS_PREFIX: &str = "restore-points/";
/// Associated data of pin envelopes.
pub const PIN_CONTEXT: &[u8] = b"lifeboat restore point pin";
/// The folder of pins.
pub const PINS_PREFIX: &str = "restore-point-pins/";
