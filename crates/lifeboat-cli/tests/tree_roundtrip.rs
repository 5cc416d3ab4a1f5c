//! Property test: random trees holding every node kind (files, empty and sparse files, hard
//! links, directories, symlinks, FIFOs, sockets, device nodes as root, extended attributes,
//! odd names and modes) back up, back up again unchanged against the first snapshot, and
//! restore from the second to the same tree: kinds, contents, modes, mtimes, link targets,
//! device numbers, `user.*` attributes and hard-link groups.

mod common;

use common::Env;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One entry to create.
#[derive(Clone, Debug)]
enum Kind {
    /// A regular file of this many pseudo-random bytes (seeded).
    File(usize, u64),
    /// A sparse file: this many MiB, a few bytes written at the middle.
    Sparse(u64),
    /// Another link to the n-th file created so far (if there is one).
    HardLink(usize),
    Dir,
    Symlink(String),
    Fifo,
    Socket,
    /// A character device with this minor number (root only; a FIFO otherwise).
    CharDev(u32),
}

#[derive(Clone, Debug)]
struct Entry {
    /// Index of the directory to create it in (0 is the root; modulo the directories so far).
    dir: usize,
    name: Vec<u8>,
    kind: Kind,
    mode: u32,
    /// Seconds since the epoch and nanoseconds.
    mtime: (i64, u32),
    /// A `user.*` attribute value, when the entry takes one.
    xattr: Option<Vec<u8>>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => (0usize..3000, any::<u64>()).prop_map(|(n, s)| Kind::File(n, s)),
        1 => (100_000usize..700_000, any::<u64>()).prop_map(|(n, s)| Kind::File(n, s)),
        1 => (2u64..12).prop_map(Kind::Sparse),
        2 => (0usize..8).prop_map(Kind::HardLink),
        3 => Just(Kind::Dir),
        2 => "[a-z./]{1,20}".prop_map(Kind::Symlink),
        1 => Just(Kind::Fifo),
        1 => Just(Kind::Socket),
        1 => (0u32..8).prop_map(Kind::CharDev),
    ]
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9_.-]{1,12}".prop_map(|s| s.into_bytes()),
        1 => Just(b"with space".to_vec()),
        1 => Just(b"new\nline".to_vec()),
        1 => Just(vec![b'l', 0xe9, b't', 0xff]),
        1 => Just("ünïcødé-名前".as_bytes().to_vec()),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        0usize..6,
        name(),
        kind(),
        prop_oneof![
            Just(0o644u32),
            Just(0o600),
            Just(0o755),
            Just(0o4755),
            Just(0o1777),
            Just(0o400)
        ],
        (0i64..2_000_000_000, 0u32..1_000_000_000),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(dir, name, kind, mode, mtime, xattr)| Entry {
            dir,
            name,
            kind,
            mode,
            mtime,
            xattr,
        })
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mknod(path: &Path, kind: libc::mode_t, mode: u32, dev: libc::dev_t) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), kind | mode, dev) };
    assert_eq!(r, 0, "mknod {}", path.display());
}

/// Creates the tree under `src`; returns nothing, the tree itself is the expectation.
fn build(src: &Path, entries: &[Entry]) {
    std::fs::create_dir_all(src).unwrap();
    let mut dirs: Vec<PathBuf> = vec![src.to_path_buf()];
    let mut files: Vec<PathBuf> = Vec::new();
    // Modes and mtimes are set last, deepest first, so creating entries disturbs none.
    let mut finish: Vec<(PathBuf, u32, (i64, u32), bool)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let dir = dirs[e.dir % dirs.len()].clone();
        let mut name = format!("{i}-").into_bytes();
        name.extend(&e.name);
        let path = dir.join(OsString::from_vec(name));
        let mut xattr_ok = false;
        match &e.kind {
            Kind::File(n, seed) => {
                std::fs::write(&path, common::pseudo_random(*n, *seed)).unwrap();
                files.push(path.clone());
                xattr_ok = true;
            }
            Kind::Sparse(mib) => {
                let f = std::fs::File::create(&path).unwrap();
                f.set_len(mib << 20).unwrap();
                f.write_all_at(b"sparse middle", (mib << 20) / 2).unwrap();
                files.push(path.clone());
            }
            Kind::HardLink(n) if !files.is_empty() => {
                let target = &files[n % files.len()];
                std::fs::hard_link(target, &path).unwrap();
                // The link shares the target's inode: its mode and mtime are the target's.
                continue;
            }
            Kind::HardLink(_) => {
                std::fs::write(&path, b"no file to link to yet").unwrap();
                files.push(path.clone());
            }
            Kind::Dir => {
                std::fs::create_dir(&path).unwrap();
                dirs.push(path.clone());
                xattr_ok = true;
            }
            Kind::Symlink(t) => {
                std::os::unix::fs::symlink(t, &path).unwrap();
                continue;
            }
            Kind::Fifo => mknod(&path, libc::S_IFIFO, 0o644, 0),
            Kind::Socket => {
                drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            }
            Kind::CharDev(minor) if root() => {
                mknod(&path, libc::S_IFCHR, 0o600, libc::makedev(240, *minor))
            }
            Kind::CharDev(_) => mknod(&path, libc::S_IFIFO, 0o600, 0),
        }
        if let (Some(v), true) = (&e.xattr, xattr_ok) {
            xattr::set(&path, "user.lifeboat.prop", v).unwrap();
        }
        finish.push((path, e.mode, e.mtime, e.kind.is_dir()));
    }
    // Directories last (creating their entries changed their mtimes), deepest first.
    finish.sort_by_key(|(p, _, _, is_dir)| (*is_dir, std::cmp::Reverse(p.components().count())));
    for (path, mode, (s, ns), is_dir) in finish {
        // A directory must stay writable and searchable while its entries get their times.
        let mode = if is_dir { mode | 0o700 } else { mode };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let t = filetime::FileTime::from_unix_time(s, ns);
        filetime::set_symlink_file_times(&path, t, t).unwrap();
    }
}

impl Kind {
    fn is_dir(&self) -> bool {
        matches!(self, Kind::Dir)
    }
}

/// What is compared of one path.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    kind: &'static str,
    mode: u32,
    mtime: Option<(i64, i64)>,
    content: Option<Vec<u8>>,
    target: Option<PathBuf>,
    rdev: Option<u64>,
    xattr: Option<Vec<u8>>,
}

/// Relative paths (bytes) with what each holds.
type Paths = BTreeMap<Vec<u8>, Seen>;
/// Hard-link groups: the sorted relative paths of each inode with several links.
type LinkGroups = BTreeSet<Vec<Vec<u8>>>;

/// Every path under `root` (relative) with what it holds, and the hard-link groups.
fn scan(root: &Path) -> (Paths, LinkGroups) {
    let mut seen = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                stack.push(p.clone());
                "dir"
            } else if ft.is_file() {
                "file"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_fifo() {
                "fifo"
            } else if ft.is_socket() {
                "socket"
            } else if ft.is_char_device() {
                "chardev"
            } else {
                "other"
            };
            if ft.is_file() {
                inodes.entry(m.ino()).or_default().push(rel.clone());
            }
            seen.insert(
                rel,
                Seen {
                    kind,
                    mode: if ft.is_symlink() {
                        0
                    } else {
                        m.mode() & 0o7777
                    },
                    mtime: (!ft.is_symlink()).then(|| (m.mtime(), m.mtime_nsec())),
                    content: ft.is_file().then(|| std::fs::read(&p).unwrap()),
                    target: ft.is_symlink().then(|| std::fs::read_link(&p).unwrap()),
                    rdev: ft.is_char_device().then(|| m.rdev()),
                    xattr: if ft.is_file() || ft.is_dir() {
                        xattr::get(&p, "user.lifeboat.prop").unwrap()
                    } else {
                        None
                    },
                },
            );
        }
    }
    let groups = inodes
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    (seen, groups)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_with_every_node_kind_round_trip(entries in prop::collection::vec(entry(), 1..28)) {
        let env = Env::new();
        let src = env.path("src");
        build(&src, &entries);
        let first = env.json(&["backup", src.to_str().unwrap()]);
        prop_assert_eq!(first["skipped"].as_array().unwrap().len(), 0, "{}", first);
        // Again, unchanged: every entry comes from the parent snapshot.
        let second = env.json(&["backup", src.to_str().unwrap()]);
        prop_assert_eq!(second["summary"]["bytes_read"].as_u64(), Some(0), "{}", second);
        env.json(&["check", "--read-data"]);

        let target = env.path("target");
        env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
        let back = common::restored(&target, &src);
        let (want, want_links) = scan(&src);
        let (got, got_links) = scan(&back);
        prop_assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
        for (path, w) in &want {
            prop_assert_eq!(&got[path], w, "{}", String::from_utf8_lossy(path));
        }
        prop_assert_eq!(got_links, want_links);
        // Sparse files stay sparse.
        for (path, w) in &want {
            if w.kind == "file" && w.content.as_ref().is_some_and(|c| c.len() >= 2 << 20) {
                let rel = std::ffi::OsStr::from_bytes(path);
                let a = std::fs::metadata(src.join(rel)).unwrap().blocks();
                let b = std::fs::metadata(back.join(rel)).unwrap().blocks();
                prop_assert!(b <= a + 2048, "{} blocks restored, {} in the source", b, a);
            }
        }
    }
}
