//! Property tests: the chunker, the formats, and backup → restore round trips of random trees.

use lifeboat_core::backup::{backup_paths, backup_stream, BackupOptions, Chunking, Progress};
use lifeboat_core::chunker::boundaries;
use lifeboat_core::config::{ChunkerParams, Config};
use lifeboat_core::restore::{dump, restore, RestoreOptions};
use lifeboat_core::Repository;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

fn small_params() -> ChunkerParams {
    ChunkerParams {
        algorithm: "fastcdc-2020".into(),
        min_size: 256,
        avg_size: 1024,
        max_size: 4096,
    }
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 251) as u8
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chunker_is_deterministic_and_respects_bounds(len in 0usize..60_000, seed in any::<u64>(), gear in any::<u64>()) {
        let p = small_params();
        let d = data(len, seed);
        let a = boundaries(&d, &p, gear);
        prop_assert_eq!(&a, &boundaries(&d, &p, gear));
        let mut prev = 0;
        for (i, end) in a.iter().enumerate() {
            let size = end - prev;
            prop_assert!(size <= p.max_size as usize);
            if i + 1 < a.len() {
                prop_assert!(size >= p.min_size as usize);
            }
            prev = *end;
        }
        prop_assert_eq!(prev, len);
    }

    #[test]
    fn chunk_boundaries_resynchronise_after_an_insertion(seed in any::<u64>(), at in 0usize..40_000, ins in proptest::collection::vec(any::<u8>(), 1..300)) {
        let p = small_params();
        let d = data(80_000, seed);
        let mut e = d.clone();
        e.splice(at..at, ins.iter().copied());
        let a = boundaries(&d, &p, 7);
        let b = boundaries(&e, &p, 7);
        // Boundaries well after the edit are the same, shifted by the insertion length.
        let tail_a: Vec<usize> = a.iter().copied().filter(|x| *x > at + 3 * p.max_size as usize).collect();
        let tail_b: Vec<usize> = b.iter().copied().filter(|x| *x > at + ins.len() + 3 * p.max_size as usize).map(|x| x - ins.len()).collect();
        let common = tail_a.iter().filter(|x| tail_b.contains(x)).count();
        prop_assert!(common + 2 >= tail_a.len(), "only {} of {} boundaries resynchronised", common, tail_a.len());
    }
}

fn repo(dir: &Path) -> Repository {
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    let storage = lifeboat_storage::choose::open(dir.to_str().unwrap()).unwrap();
    let mut config = Config::new();
    config.chunker = small_params();
    config.pack_size = 64 * 1024;
    Repository::init(storage, b"pw", config).unwrap()
}

#[derive(Debug, Clone)]
enum Entry {
    File(Vec<u8>, u32),
    Dir(Vec<(String, Entry)>),
    Link(String),
}

fn entry() -> impl Strategy<Value = Entry> {
    let leaf = prop_oneof![
        (
            proptest::collection::vec(any::<u8>(), 0..20_000),
            prop_oneof![Just(0o644u32), Just(0o600), Just(0o755)]
        )
            .prop_map(|(d, m)| Entry::File(d, m)),
        "[a-z]{1,8}".prop_map(Entry::Link),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        proptest::collection::vec(("[a-zA-Z0-9é ._-]{1,12}", inner), 0..5).prop_map(|mut v| {
            v.retain(|(n, _)| n != "." && n != "..");
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.dedup_by(|a, b| a.0 == b.0);
            Entry::Dir(v)
        })
    })
}

fn materialize(path: &Path, e: &Entry) {
    use std::os::unix::fs::PermissionsExt;
    match e {
        Entry::File(d, m) => {
            std::fs::write(path, d).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*m)).unwrap();
        }
        Entry::Dir(children) => {
            std::fs::create_dir(path).unwrap();
            for (n, c) in children {
                materialize(&path.join(n), c);
            }
        }
        Entry::Link(t) => std::os::unix::fs::symlink(t, path).unwrap(),
    }
}

fn same(a: &Path, b: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let ma = std::fs::symlink_metadata(a).map_err(|e| e.to_string())?;
    let mb = std::fs::symlink_metadata(b).map_err(|e| format!("{}: {e}", b.display()))?;
    if ma.file_type() != mb.file_type() {
        return Err(format!("type differs at {}", a.display()));
    }
    if ma.file_type().is_symlink() {
        return (std::fs::read_link(a).unwrap() == std::fs::read_link(b).unwrap())
            .then_some(())
            .ok_or("link".into());
    }
    if ma.mode() != mb.mode() || ma.mtime() != mb.mtime() || ma.mtime_nsec() != mb.mtime_nsec() {
        return Err(format!("metadata differs at {}", a.display()));
    }
    if ma.is_dir() {
        let mut na: Vec<_> = std::fs::read_dir(a)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let mut nb: Vec<_> = std::fs::read_dir(b)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        na.sort();
        nb.sort();
        if na != nb {
            return Err(format!("entries differ at {}", a.display()));
        }
        for n in na {
            same(&a.join(&n), &b.join(&n))?;
        }
        Ok(())
    } else if std::fs::read(a).unwrap() != std::fs::read(b).unwrap() {
        Err(format!("content differs at {}", a.display()))
    } else {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn backup_restore_round_trip_of_random_trees(tree in entry()) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let tree = match tree { Entry::Dir(_) => tree, other => Entry::Dir(vec![("x".into(), other)]) };
        materialize(&src, &tree);
        let r = repo(&tmp.path().join("repo"));
        let out = backup_paths(&r, std::slice::from_ref(&src), &BackupOptions::default(), Arc::new(Progress::default())).unwrap();
        // Twice: the second run reads nothing and adds no data (only ancestor trees such as
        // /tmp, whose metadata other processes change, may be new).
        let again = backup_paths(&r, std::slice::from_ref(&src), &BackupOptions::default(), Arc::new(Progress::default())).unwrap();
        let s = again.snapshot.summary.as_ref().unwrap();
        prop_assert_eq!(s.bytes_read, 0);
        prop_assert_eq!(s.files_new + s.files_changed, 0);
        prop_assert!(s.blobs_added <= 3);
        let target = tmp.path().join("t");
        let snap = r.find_snapshot(&out.snapshot_id).unwrap();
        restore(&r, &snap, &RestoreOptions { target: target.clone(), ..Default::default() }, Default::default()).unwrap();
        let restored = target.join(src.strip_prefix("/").unwrap());
        prop_assert!(same(&src, &restored).is_ok(), "{:?}", same(&src, &restored));
    }

    #[test]
    fn stream_round_trip(len in 0usize..100_000, seed in any::<u64>()) {
        let tmp = tempfile::tempdir().unwrap();
        let r = repo(&tmp.path().join("repo"));
        let d = data(len, seed);
        let out = backup_stream(&r, "s.bin", &d[..], &BackupOptions::default(), Arc::new(Progress::default()), |_| Ok(Default::default())).unwrap();
        let snap = r.find_snapshot(&out.snapshot_id).unwrap();
        let mut back = Vec::new();
        dump(&r, &snap, None, &mut back).unwrap();
        prop_assert_eq!(back, d);
    }

    #[test]
    fn fixed_chunking_round_trips_and_cuts_aligned_blocks(len in 0usize..100_000, seed in any::<u64>(), block in 1u32..20_000) {
        let tmp = tempfile::tempdir().unwrap();
        let r = repo(&tmp.path().join("repo"));
        let d = data(len, seed);
        let opts = BackupOptions { chunking: Chunking::Fixed(block), ..Default::default() };
        let out = backup_stream(&r, "s.db", &d[..], &opts, Arc::new(Progress::default()), |_| Ok(Default::default())).unwrap();
        let snap = r.find_snapshot(&out.snapshot_id).unwrap();
        let mut back = Vec::new();
        dump(&r, &snap, None, &mut back).unwrap();
        prop_assert_eq!(&back, &d);
        let sizes: Vec<usize> = lifeboat_core::chunker::fixed(&d[..], block as usize).map(|c| c.unwrap().len()).collect();
        prop_assert_eq!(sizes.len(), len.div_ceil(block as usize));
        prop_assert!(sizes.iter().rev().skip(1).all(|n| *n == block as usize));
    }
}

#[test]
fn fixed_chunking_ignores_short_reads_and_re_stores_only_changed_blocks() {
    // A reader returning odd-sized pieces must not move block boundaries; a changed byte in
    // block 3 of 8 re-stores that block only.
    struct Jerky<'a>(&'a [u8], usize);
    impl std::io::Read for Jerky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 = (self.1 * 7 + 13) % 5_001 + 1;
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let d = data(8 * 16384, 5);
    let ends: Vec<usize> = lifeboat_core::chunker::fixed(Jerky(&d, 1), 16384)
        .scan(0, |pos, c| {
            *pos += c.unwrap().len();
            Some(*pos)
        })
        .collect();
    assert_eq!(ends, (1..=8).map(|i| i * 16384).collect::<Vec<_>>());

    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&tmp.path().join("repo"));
    let opts = BackupOptions {
        chunking: Chunking::Fixed(16384),
        ..Default::default()
    };
    let first = backup_stream(
        &r,
        "p.db",
        &d[..],
        &opts,
        Arc::new(Progress::default()),
        |_| Ok(Default::default()),
    )
    .unwrap();
    assert_eq!(first.snapshot.summary.unwrap().blobs_added, 8 + 1);
    let mut e = d.clone();
    e[3 * 16384 + 100] ^= 0xff;
    let second = backup_stream(
        &r,
        "p.db",
        &e[..],
        &opts,
        Arc::new(Progress::default()),
        |_| Ok(Default::default()),
    )
    .unwrap();
    // The changed block and the new tree.
    assert_eq!(second.snapshot.summary.unwrap().blobs_added, 2);
    let bad = BackupOptions {
        chunking: Chunking::Fixed(0),
        ..Default::default()
    };
    assert!(
        backup_stream(&r, "p.db", &e[..], &bad, Default::default(), |_| Ok(
            Default::default()
        ))
        .is_err()
    );
}

#[test]
fn streaming_chunker_matches_in_memory_boundaries_across_window_refills() {
    // 20 MB spans several 8 MiB windows of the streaming chunker; boundaries must not depend on
    // where a window ends.
    for p in [small_params(), ChunkerParams::default()] {
        let d = data(20_000_000, 99);
        let expected = boundaries(&d, &p, 42);
        let mut ends = Vec::new();
        let mut pos = 0;
        // A reader that returns odd-sized pieces, as pipes do.
        struct Jerky<'a>(&'a [u8], usize);
        impl std::io::Read for Jerky<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1 = (self.1 * 7 + 13) % 70_001 + 1;
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for c in lifeboat_core::chunker::stream(Jerky(&d, 1), &p, 42) {
            pos += c.unwrap().len();
            ends.push(pos);
        }
        assert_eq!(ends, expected);
    }
}

#[test]
fn size_hinted_chunker_matches_in_memory_boundaries_even_when_the_hint_is_wrong() {
    // A file may grow or shrink between stat and read: a short hint must grow the window
    // (never cut early or stop), a long one must change nothing.
    let p = ChunkerParams::default();
    for len in [0usize, 1, 5_000, 600_000, 3_000_000, 20_000_000] {
        let d = data(len, 7);
        let expected = boundaries(&d, &p, 42);
        for hint in [0u64, 100, len as u64 / 2, len as u64, len as u64 * 2 + 10] {
            let mut ends = Vec::new();
            let mut pos = 0;
            for c in lifeboat_core::chunker::stream_sized(&d[..], &p, 42, Some(hint)) {
                pos += c.unwrap().len();
                ends.push(pos);
            }
            assert_eq!(ends, expected, "len {len}, hint {hint}");
        }
    }
}
