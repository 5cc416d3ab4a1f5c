//! The one table of which repository mode allows which operation.
//!
//! | effect | operations | normal | degraded | read-only |
//! |---|---|---|---|---|
//! | read | listing, restore, dump, check, journal, WAL fetch/verify/show, dry runs, copy (as source), drill reports | yes | yes | yes |
//! | add | init, backups of every kind, WAL push, copy into the repository, key add, drills (their reports), rewrite | yes | yes | no |
//! | destroy | forget, prune, WAL expiry, key removal, password change, tag, rewrite --forget-original | yes | no | no |
//! | govern | mode changes, unlock of stale locks | yes | yes | yes |
//!
//! `docs/design/modes.md` prints the same table for every [`Operation`]; a test checks both
//! agree. Every operation calls [`require`] before it writes anything; the engine checks again
//! where it writes (`Repository::require_writable` / `require_may_destroy`), so a front end that
//! forgot could still not destroy data.

use crate::error::{OpsError, Result};
use lifeboat_core::mode::{self, Mode};
use lifeboat_core::Repository;
use serde::Serialize;

/// Every operation of the operations layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// Create a repository.
    Init,
    /// Back up files and directories.
    BackupFiles,
    /// Back up a stream (standard input or a command's output).
    BackupStream,
    /// Logical PostgreSQL backup.
    BackupPostgres,
    /// Physical PostgreSQL base backup.
    BackupPostgresPhysical,
    /// Backup of SQLite databases (online backup API).
    BackupSqlite,
    /// Archive one WAL file.
    WalPush,
    /// Fetch one archived WAL file.
    WalFetch,
    /// Verify the WAL archive's continuity.
    WalVerify,
    /// Show the WAL archive's state.
    WalShow,
    /// Show what WAL expiry would delete.
    WalExpireDryRun,
    /// Delete WAL no kept base backup needs.
    WalExpire,
    /// List snapshots, files, statistics.
    List,
    /// Restore a snapshot into a directory.
    Restore,
    /// Restore PostgreSQL (logical or physical).
    RestorePostgres,
    /// Restore a SQLite database to a file.
    RestoreSqlite,
    /// Write a file or stream to a writer.
    Dump,
    /// Verify the repository.
    Check,
    /// Show what a retention policy would remove.
    ForgetDryRun,
    /// Remove snapshots.
    Forget,
    /// Show what prune would remove.
    PruneDryRun,
    /// Remove unreferenced data.
    Prune,
    /// Read snapshots to copy them elsewhere.
    CopyFrom,
    /// Store copied snapshots.
    CopyInto,
    /// Add a key.
    KeyAdd,
    /// List keys.
    KeyList,
    /// Remove a key.
    KeyRemove,
    /// Change the password of the key in use.
    KeyPasswd,
    /// Show the mode.
    ModeShow,
    /// Change the mode.
    ModeSet,
    /// Read or verify the journal.
    Journal,
    /// Remove stale locks.
    Unlock,
    /// Run a restore drill (stores its report).
    Drill,
    /// List or show drill reports.
    DrillReports,
    /// Create a restore point (backs up its members, stores the point).
    RestorePointCreate,
    /// List or show restore points.
    RestorePointList,
    /// Pin or unpin a restore point.
    RestorePointPin,
    /// Restore a restore point's members.
    RestorePointRestore,
    /// Change snapshots' tags (writes copies, removes the originals).
    Tag,
    /// Remove files from snapshots, keeping the originals.
    Rewrite,
    /// Remove files from snapshots and remove the originals.
    RewriteForgetOriginal,
}

/// What an operation does to the repository's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Reads only (journal records may be appended).
    Read,
    /// Adds data, removes nothing.
    Add,
    /// Removes data.
    Destroy,
    /// Changes how the repository is governed (its mode, stale locks).
    Govern,
}

impl Operation {
    /// Every operation, in table order.
    pub const ALL: [Operation; 41] = [
        Operation::Init,
        Operation::BackupFiles,
        Operation::BackupStream,
        Operation::BackupPostgres,
        Operation::BackupPostgresPhysical,
        Operation::BackupSqlite,
        Operation::WalPush,
        Operation::WalFetch,
        Operation::WalVerify,
        Operation::WalShow,
        Operation::WalExpireDryRun,
        Operation::WalExpire,
        Operation::List,
        Operation::Restore,
        Operation::RestorePostgres,
        Operation::RestoreSqlite,
        Operation::Dump,
        Operation::Check,
        Operation::ForgetDryRun,
        Operation::Forget,
        Operation::PruneDryRun,
        Operation::Prune,
        Operation::CopyFrom,
        Operation::CopyInto,
        Operation::KeyAdd,
        Operation::KeyList,
        Operation::KeyRemove,
        Operation::KeyPasswd,
        Operation::ModeShow,
        Operation::ModeSet,
        Operation::Journal,
        Operation::Unlock,
        Operation::Drill,
        Operation::DrillReports,
        Operation::RestorePointCreate,
        Operation::RestorePointList,
        Operation::RestorePointPin,
        Operation::RestorePointRestore,
        Operation::Tag,
        Operation::Rewrite,
        Operation::RewriteForgetOriginal,
    ];

    /// The name used in messages and journal records.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Init => "init",
            Operation::BackupFiles => "backup",
            Operation::BackupStream => "backup of a stream",
            Operation::BackupPostgres => "backup postgres",
            Operation::BackupPostgresPhysical => "backup postgres --physical",
            Operation::BackupSqlite => "backup sqlite",
            Operation::WalPush => "wal-push",
            Operation::WalFetch => "wal-fetch",
            Operation::WalVerify => "wal verify",
            Operation::WalShow => "wal show",
            Operation::WalExpireDryRun => "wal expire (dry run)",
            Operation::WalExpire => "wal expire",
            Operation::List => "listing",
            Operation::Restore => "restore",
            Operation::RestorePostgres => "restore postgres",
            Operation::RestoreSqlite => "restore sqlite",
            Operation::Dump => "dump",
            Operation::Check => "check",
            Operation::ForgetDryRun => "forget (dry run)",
            Operation::Forget => "forget",
            Operation::PruneDryRun => "prune (dry run)",
            Operation::Prune => "prune",
            Operation::CopyFrom => "copy (from this repository)",
            Operation::CopyInto => "copy into this repository",
            Operation::KeyAdd => "key add",
            Operation::KeyList => "key list",
            Operation::KeyRemove => "key remove",
            Operation::KeyPasswd => "key passwd",
            Operation::ModeShow => "mode",
            Operation::ModeSet => "mode change",
            Operation::Journal => "journal",
            Operation::Unlock => "unlock",
            Operation::Drill => "drill run",
            Operation::DrillReports => "drill list, drill show",
            Operation::RestorePointCreate => "restore-point create",
            Operation::RestorePointList => "restore-point list, show",
            Operation::RestorePointPin => "restore-point pin",
            Operation::RestorePointRestore => "restore-point restore",
            Operation::Tag => "tag",
            Operation::Rewrite => "rewrite",
            Operation::RewriteForgetOriginal => "rewrite --forget-original",
        }
    }

    /// What the operation does to the repository's data.
    pub fn effect(self) -> Effect {
        use Operation::*;
        match self {
            WalFetch | WalVerify | WalShow | WalExpireDryRun | List | Restore | RestorePostgres
            | RestoreSqlite | Dump | Check | ForgetDryRun | PruneDryRun | CopyFrom | KeyList
            | ModeShow | Journal | DrillReports | RestorePointList | RestorePointRestore => {
                Effect::Read
            }
            Init
            | BackupFiles
            | BackupStream
            | BackupPostgres
            | BackupPostgresPhysical
            | BackupSqlite
            | WalPush
            | CopyInto
            | KeyAdd
            | Drill
            | RestorePointCreate
            | RestorePointPin
            | Rewrite => Effect::Add,
            WalExpire | Forget | Prune | KeyRemove | KeyPasswd | Tag | RewriteForgetOriginal => {
                Effect::Destroy
            }
            ModeSet | Unlock => Effect::Govern,
        }
    }

    /// True when `mode` allows the operation.
    pub fn allowed_in(self, mode: Mode) -> bool {
        match self.effect() {
            Effect::Read | Effect::Govern => true,
            Effect::Add => mode != Mode::ReadOnly,
            Effect::Destroy => mode == Mode::Normal,
        }
    }
}

/// Every mode, in the table's column order.
pub const MODES: [Mode; 3] = [Mode::Normal, Mode::Degraded, Mode::ReadOnly];

/// Refuses `operation` with [`OpsError::Refused`] when the repository's mode does not allow
/// it. An unreadable mode record refuses everything but reads and governance (fail closed).
pub fn require(repo: &Repository, operation: Operation) -> Result<()> {
    let effect = operation.effect();
    if matches!(effect, Effect::Read | Effect::Govern) {
        return Ok(());
    }
    let mode = mode::current(repo)?;
    if operation.allowed_in(mode) {
        Ok(())
    } else {
        Err(OpsError::Refused { operation, mode })
    }
}

/// The table as Markdown (printed in `docs/design/modes.md`).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| operation | effect | normal | degraded | read-only |\n|---|---|---|---|---|\n",
    );
    for op in Operation::ALL {
        let cells: Vec<&str> = MODES
            .iter()
            .map(|m| {
                if op.allowed_in(*m) {
                    "allowed"
                } else {
                    "refused"
                }
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            op.name(),
            match op.effect() {
                Effect::Read => "read",
                Effect::Add => "add",
                Effect::Destroy => "destroy",
                Effect::Govern => "govern",
            },
            cells.join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_listed_once() {
        let set: std::collections::HashSet<_> = Operation::ALL.iter().collect();
        assert_eq!(set.len(), Operation::ALL.len());
    }

    #[test]
    fn degraded_adds_but_never_destroys() {
        for op in Operation::ALL {
            if op.effect() == Effect::Destroy {
                assert!(!op.allowed_in(Mode::Degraded), "{op:?}");
                assert!(!op.allowed_in(Mode::ReadOnly), "{op:?}");
            }
            if op.effect() == Effect::Add {
                assert!(op.allowed_in(Mode::Degraded), "{op:?}");
                assert!(!op.allowed_in(Mode::ReadOnly), "{op:?}");
            }
            assert!(op.allowed_in(Mode::Normal), "{op:?}");
        }
    }

    #[test]
    fn design_doc_prints_the_table() {
        let doc = include_str!("../../../docs/design/modes.md");
        assert!(
            doc.contains(&markdown_table()),
            "docs/design/modes.md must contain the table printed by markdown_table():\n{}",
            markdown_table()
        );
    }
}
