//! Human and JSON output, and progress display (only when stderr is a terminal).

use indicatif::{ProgressBar, ProgressStyle};
use lifeboat_core::backup::Progress;
use lifeboat_core::check::CheckReport;
use lifeboat_core::forget::Decision;
use lifeboat_core::snapshot::{Snapshot, SnapshotEntry};
use lifeboat_core::stats::Stats;
use lifeboat_core::tree::{Node, NodeKind};
use lifeboat_ops::backup::BackupReport;
use lifeboat_ops::prune::PruneOutcome;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

/// 1.5 MiB style sizes.
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", U[i])
    }
}

/// A progress bar refreshed from shared counters; removed on drop.
pub struct ProgressDisplay {
    bar: ProgressBar,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Backup progress: files, bytes processed, bytes written.
    pub fn backup(p: Arc<Progress>) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("template"),
        );
        Self::start(bar, move |bar| {
            bar.set_message(format!(
                "{} files, {} processed, {} written",
                p.files.load(Ordering::Relaxed),
                human_bytes(p.bytes.load(Ordering::Relaxed)),
                human_bytes(p.bytes_written.load(Ordering::Relaxed))
            ))
        })
    }

    /// A bar over a known byte total.
    pub fn bytes(label: &str, total: u64, done: Arc<AtomicU64>) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(&format!("{label} [{{elapsed_precise}}] {{wide_bar}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}}"))
                .expect("template"),
        );
        Self::start(bar, move |bar| {
            bar.set_position(done.load(Ordering::Relaxed))
        })
    }

    /// A spinner with a label.
    pub fn spinner(label: &str) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_message(label.to_string());
        Self::start(bar, |_| {})
    }

    fn start(bar: ProgressBar, update: impl Fn(&ProgressBar) + Send + 'static) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, s) = (bar.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                update(&b);
                b.tick();
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
        });
        ProgressDisplay {
            bar,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// What a snapshot holds, for one-line display.
pub fn snapshot_what(s: &Snapshot) -> String {
    match &s.stream {
        Some(st) => format!("{} {}", s.source, st.name),
        None => s.paths.join(", "),
    }
}

/// The `snapshots --json` form of a snapshot (shared with the daemon's API).
pub use lifeboat_ops::list::snapshot_json;

/// Human table of snapshots; `drills` marks those whose last drill passed or failed.
pub fn snapshot_table(
    snaps: &[SnapshotEntry],
    drills: &std::collections::BTreeMap<String, lifeboat_ops::drill::LastDrill>,
) {
    println!(
        "{:<9} {:<26} {:<16} {:<16} {:>11}  {:<8} source",
        "ID", "time", "host", "tags", "size", "drill"
    );
    println!("{}", "-".repeat(99));
    for e in snaps {
        let s = &e.snapshot;
        let time = s
            .timestamp()
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string();
        let drill = drills.get(&e.id).map_or("-", |d| d.result.name());
        println!(
            "{:<9} {:<26} {:<16} {:<16} {:>11}  {:<8} {}",
            e.short_id(),
            time,
            s.hostname,
            s.tags.join(","),
            human_bytes(s.summary.as_ref().map(|x| x.total_bytes).unwrap_or(0)),
            drill,
            snapshot_what(s)
        );
    }
    println!("{} snapshots", snaps.len());
}

/// A node as `ls --json` (and `find --json`) print it.
pub fn node_json(path: &Path, node: &Node) -> serde_json::Value {
    serde_json::json!({
            "path": path.to_string_lossy(),
            "type": node.kind().name(),
            "size": node.size,
            "mode": format!("{:o}", node.mode),
            "mtime_ns": node.mtime_ns,
            "uid": node.uid,
            "gid": node.gid,
            "link_target": node.link_target,
            "rdev": node.kind().is_special().then_some(node.rdev),
            "links": node.link_group().map(|_| node.links),
            "link_group": node.link_group().map(|(d, i)| format!("{d}:{i}")),
            "xattrs": (!node.xattrs.is_empty())
                .then(|| node.xattrs.iter().map(|x| x.name.as_str()).collect::<Vec<_>>()),
    })
}

/// One `ls` line (human or JSON).
pub fn ls_line(out: &mut dyn Write, path: &Path, node: &Node, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", node_json(path, node))
    } else {
        let mut line = path.to_string_lossy().into_owned();
        if node.kind() == NodeKind::Symlink {
            line.push_str(&format!(
                " -> {}",
                node.link_target.as_deref().unwrap_or("")
            ));
        }
        writeln!(out, "{line}")
    }
}

/// Result of a backup for people.
pub fn backup_summary(o: &BackupReport) {
    let s = o.summary.clone().unwrap_or_default();
    if let Some(st) = &o.snapshot.stream {
        println!(
            "stream {}: {} , sha256 {}",
            st.name,
            human_bytes(st.size),
            st.sha256
        );
    } else {
        println!(
            "Files: {} new, {} changed, {} unchanged, {} skipped; {} dirs",
            s.files_new, s.files_changed, s.files_unchanged, s.files_skipped, s.dirs
        );
    }
    println!(
        "Added to the repository: {} ({} of new data before compression, {} blobs)",
        human_bytes(s.bytes_added),
        human_bytes(s.bytes_added_raw),
        s.blobs_added
    );
    let holes = if s.sparse_bytes > 0 {
        format!(", {} of holes skipped", human_bytes(s.sparse_bytes))
    } else {
        String::new()
    };
    println!(
        "processed {} ({} read{holes}) in {:.2}s",
        human_bytes(s.total_bytes),
        human_bytes(s.bytes_read),
        s.duration_seconds
    );
    println!("snapshot {} saved", &o.snapshot_id[..8]);
}

/// Check result for people.
pub fn check_report(r: &CheckReport, read_data: bool) {
    println!(
        "checked {} snapshots, {} packs{}",
        r.snapshots,
        r.packs,
        if read_data {
            format!(", {} blobs decrypted and verified", r.blobs_verified)
        } else {
            String::new()
        }
    );
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for e in &r.errors {
        println!("error: {e}");
    }
    if !r.damaged_packs.is_empty() {
        println!("damaged or missing packs:");
        for p in &r.damaged_packs {
            println!("  {p}");
        }
    }
    if !r.affected.is_empty() {
        println!("affected snapshots and files:");
        for a in &r.affected {
            println!("  snapshot {} {}", &a.snapshot[..8], a.path);
        }
    }
    if r.errors.is_empty() {
        println!("no errors were found");
    } else {
        println!("the repository has {} errors", r.errors.len());
    }
}

/// Forget result for people.
pub fn forget_report(decisions: &[Decision], removed: &[String], dry_run: bool) {
    let mut group = "";
    for d in decisions {
        if d.group != group {
            group = &d.group;
            println!("{group}:");
        }
        println!(
            "  {} {}  {}",
            &d.id[..8],
            if d.keep { "keep  " } else { "remove" },
            d.reasons.join(", ")
        );
    }
    println!(
        "{} {} snapshots",
        if dry_run { "would remove" } else { "removed" },
        removed.len()
    );
}

/// Prune result (and the WAL expiry after it).
pub fn prune_report(out: &PruneOutcome) {
    let r = &out.prune;
    println!(
        "{}{} packs: {} deleted, {} repacked, {} unindexed removed; {} blobs removed, {} used; {} freed",
        if r.dry_run { "would prune: " } else { "" },
        r.packs_before,
        r.packs_deleted,
        r.packs_repacked,
        r.packs_unindexed,
        r.blobs_removed,
        r.blobs_used,
        human_bytes(r.bytes_freed)
    );
    if !r.retained.is_empty() {
        let last = r
            .retained
            .iter()
            .map(|o| o.until.as_str())
            .max()
            .unwrap_or("");
        println!(
            "{} objects are under object-lock retention and were kept (still indexed); a prune after {last} removes them:",
            r.retained.len()
        );
        for o in &r.retained {
            println!("  {} deletable after {}", o.object, o.until);
        }
    }
    if !out.wal_expiry.clusters.is_empty() {
        crate::cmd::wal::print_expire(&out.wal_expiry);
    }
}

/// Stats for people.
pub fn stats(s: &Stats) {
    println!("snapshots:            {}", s.snapshots);
    println!(
        "total restore size:   {}",
        human_bytes(s.total_restore_size)
    );
    println!(
        "unique data (raw):    {} in {} blobs",
        human_bytes(s.raw_data_size),
        s.blobs
    );
    println!(
        "packs:                {} in {} packs",
        human_bytes(s.packs_size),
        s.packs
    );
    println!("repository size:      {}", human_bytes(s.repository_size));
    println!("deduplication ratio:  {:.2}x", s.dedup_ratio);
    println!("compression ratio:    {:.2}x", s.compression_ratio);
}
