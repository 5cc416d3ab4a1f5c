//! The recovery settings a restore writes into the data directory: `restore_command` and the
//! `recovery_target*` lines appended to `postgresql.auto.conf`, and `recovery.signal`.

use crate::error::{PgError, Result};
use crate::plan::RecoveryTarget;
use crate::tools::conf_quote;
use std::path::Path;

/// The settings for recovering towards `target`, one `name = value` line each.
/// `restore_command` is left out only for a backup that includes its WAL (`wal_included`)
/// restored to consistency; `exclusive` stops just before the target, `archive_off` keeps the
/// restored server from archiving.
pub(super) fn recovery_settings(
    target: &RecoveryTarget,
    restore_command: &str,
    wal_included: bool,
    exclusive: bool,
    archive_off: bool,
) -> Vec<String> {
    let mut settings: Vec<String> = Vec::new();
    if !wal_included || !matches!(target, RecoveryTarget::Immediate) {
        settings.push(format!("restore_command = {}", conf_quote(restore_command)));
    }
    let target_settings = target.settings();
    for (k, v) in &target_settings {
        settings.push(format!("{k} = {}", conf_quote(v)));
    }
    if !target_settings.is_empty() {
        settings.push("recovery_target_action = 'promote'".into());
        if exclusive {
            settings.push("recovery_target_inclusive = off".into());
        }
    }
    settings.push("recovery_target_timeline = 'latest'".into());
    if archive_off {
        settings.push("archive_mode = 'off'".into());
    }
    settings
}

/// Appends `settings` to `dir/postgresql.auto.conf` under a comment naming the base backup
/// and the target, and creates `dir/recovery.signal`.
pub(super) fn write_recovery_settings(
    dir: &Path,
    settings: &[String],
    snapshot_id: &str,
    target: &RecoveryTarget,
) -> Result<()> {
    let auto = dir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "# Recovery settings written by lifeboat restore at {} (base backup {}, target: {})\n",
        jiff::Timestamp::now(),
        &snapshot_id[..12.min(snapshot_id.len())],
        target.describe()
    ));
    for s in settings {
        text.push_str(s);
        text.push('\n');
    }
    std::fs::write(&auto, text).map_err(|e| PgError::io("writing", &auto, e))?;
    std::fs::write(dir.join("recovery.signal"), b"")
        .map_err(|e| PgError::io("writing recovery.signal in", dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_for_targets() {
        let lsn = RecoveryTarget::Lsn("0/3000148".parse().unwrap());
        assert_eq!(
            recovery_settings(&lsn, "lifeboat wal-fetch %f %p", false, true, true),
            vec![
                "restore_command = 'lifeboat wal-fetch %f %p'",
                "recovery_target_lsn = '0/3000148'",
                "recovery_target_action = 'promote'",
                "recovery_target_inclusive = off",
                "recovery_target_timeline = 'latest'",
                "archive_mode = 'off'",
            ]
        );
        // A self-contained backup restored to consistency needs no restore_command.
        assert_eq!(
            recovery_settings(&RecoveryTarget::Immediate, "x", true, false, false),
            vec![
                "recovery_target = 'immediate'",
                "recovery_target_action = 'promote'",
                "recovery_target_timeline = 'latest'",
            ]
        );
        assert_eq!(
            recovery_settings(&RecoveryTarget::Latest, "it's", true, true, false),
            vec![
                "restore_command = 'it''s'",
                "recovery_target_timeline = 'latest'",
            ]
        );
    }

    #[test]
    fn settings_are_appended() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("postgresql.auto.conf"), "work_mem = '4MB'").unwrap();
        let s = vec!["recovery_target_timeline = 'latest'".to_string()];
        write_recovery_settings(d.path(), &s, "0123456789abcdef", &RecoveryTarget::Latest).unwrap();
        let text = std::fs::read_to_string(d.path().join("postgresql.auto.conf")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "work_mem = '4MB'");
        assert!(lines[1].starts_with("# Recovery settings written by lifeboat restore at "));
        assert!(
            lines[1].ends_with("(base backup 0123456789ab, target: the end of the archived WAL)")
        );
        assert_eq!(lines[2], "recovery_target_timeline = 'latest'");
        assert!(text.ends_with('\n'));
        assert!(d.path().join("recovery.signal").exists());
    }
}
