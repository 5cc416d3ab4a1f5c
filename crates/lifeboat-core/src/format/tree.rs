//! Trees: serialized directory listings, stored as tree blobs.
//!
//! A tree blob's plaintext is JSON `{"nodes": [Node, ...]}` with nodes sorted by name bytes.
//! Names that are not valid UTF-8 are kept losslessly in `name_b64` (and `name` holds a lossy
//! rendering for display); the same applies to symlink targets.

use crate::format::blob::BlobId;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Node type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// Regular file (or a stream).
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Named pipe (FIFO): stored as a node, never opened.
    Fifo,
    /// Unix domain socket: stored as a node.
    Socket,
    /// Character device (`rdev` holds its number).
    #[serde(rename = "chardev")]
    CharDevice,
    /// Block device (`rdev` holds its number).
    #[serde(rename = "blockdev")]
    BlockDevice,
}

impl NodeKind {
    /// True for FIFOs, sockets and devices: nodes without content that restore creates with
    /// `mknod`.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            NodeKind::Fifo | NodeKind::Socket | NodeKind::CharDevice | NodeKind::BlockDevice
        )
    }

    /// The name `ls --json`, `diff` and `find` print: `file`, `dir`, `symlink`, `fifo`,
    /// `socket`, `chardev`, `blockdev`.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::File => "file",
            NodeKind::Dir => "dir",
            NodeKind::Symlink => "symlink",
            NodeKind::Fifo => "fifo",
            NodeKind::Socket => "socket",
            NodeKind::CharDevice => "chardev",
            NodeKind::BlockDevice => "blockdev",
        }
    }
}

/// One directory entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Node {
    /// Name (lossy UTF-8 when `name_b64` is set).
    pub name: String,
    /// Exact name bytes when the name is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_b64: Option<String>,
    /// Type.
    #[serde(rename = "type")]
    pub kind: Option<NodeKind>,
    /// Permission bits (st_mode & 0o7777).
    pub mode: u32,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the Unix epoch (change detection only).
    pub ctime_ns: i64,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Inode number (change detection only).
    pub inode: u64,
    /// Device id (change detection, `--one-file-system`).
    pub device: u64,
    /// File size in bytes.
    pub size: u64,
    /// Symlink target (lossy UTF-8 when `link_target_b64` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// Exact symlink target bytes when not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target_b64: Option<String>,
    /// Content blobs of a file, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    /// Tree blob of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<BlobId>,
    /// Device number (`st_rdev`) of a character or block device.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdev: u64,
    /// Hard-link count (`st_nlink`) of a regular file linked more than once (absent: 1). Files
    /// of one snapshot with the same `device` and `inode` and `links` > 1 are one link group:
    /// restore writes the content once and links the others to it.
    #[serde(default, skip_serializing_if = "at_most_one")]
    pub links: u64,
    /// Extended attributes (including POSIX ACLs, `system.posix_acl_access`/`default`, and
    /// capabilities, `security.capability`), sorted by name. Absent in trees written before
    /// they were recorded and for entries without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
}

/// One extended attribute of a node.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Xattr {
    /// Name with its namespace (`user.mime_type`); lossy UTF-8 when `name_b64` is set.
    pub name: String,
    /// Exact name bytes when the name is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_b64: Option<String>,
    /// The value, base64 (standard alphabet, padded).
    pub value: String,
}

impl Xattr {
    /// An attribute from its raw name and value.
    pub fn new(name: &OsStr, value: &[u8]) -> Xattr {
        let (name, name_b64) = encode_os(name);
        Xattr {
            name,
            name_b64,
            value: base64::engine::general_purpose::STANDARD.encode(value),
        }
    }

    /// The exact name.
    pub fn os_name(&self) -> OsString {
        decode_os(&self.name, &self.name_b64)
    }

    /// The raw value; `None` when the stored base64 is damaged.
    pub fn raw_value(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.value)
            .ok()
    }
}

fn at_most_one(n: &u64) -> bool {
    *n <= 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn encode_os(s: &OsStr) -> (String, Option<String>) {
    match s.to_str() {
        Some(u) => (u.to_string(), None),
        None => (
            s.to_string_lossy().into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
        ),
    }
}

fn decode_os(s: &str, b64: &Option<String>) -> OsString {
    match b64 {
        Some(b) => match base64::engine::general_purpose::STANDARD.decode(b) {
            Ok(bytes) => OsString::from_vec(bytes),
            Err(_) => OsString::from(s),
        },
        None => OsString::from(s),
    }
}

impl Node {
    /// Sets the name from raw bytes.
    pub fn set_name(&mut self, name: &OsStr) {
        (self.name, self.name_b64) = encode_os(name);
    }

    /// The exact name.
    pub fn os_name(&self) -> OsString {
        decode_os(&self.name, &self.name_b64)
    }

    /// The exact name bytes, borrowed unless the name is not UTF-8.
    pub fn name_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.name_b64 {
            None => std::borrow::Cow::Borrowed(self.name.as_bytes()),
            Some(_) => std::borrow::Cow::Owned(self.os_name().into_vec()),
        }
    }

    /// Sets the symlink target.
    pub fn set_link_target(&mut self, target: &OsStr) {
        let (t, b) = encode_os(target);
        self.link_target = Some(t);
        self.link_target_b64 = b;
    }

    /// The exact symlink target.
    pub fn os_link_target(&self) -> OsString {
        decode_os(
            self.link_target.as_deref().unwrap_or(""),
            &self.link_target_b64,
        )
    }

    /// The link group of a regular file linked more than once: `(device, inode)`.
    pub fn link_group(&self) -> Option<(u64, u64)> {
        (self.kind() == NodeKind::File && self.links > 1).then_some((self.device, self.inode))
    }

    /// The node's kind, defaulting to file.
    pub fn kind(&self) -> NodeKind {
        self.kind.unwrap_or(NodeKind::File)
    }
}

/// A directory listing.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tree {
    /// Entries, sorted by name bytes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Serialized form (the tree blob's plaintext).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("tree serializes")
    }

    /// Looks up a child by exact name: a binary search, as nodes are sorted by name bytes (in
    /// a tree that is not, a lookup may miss: a parent's entry is then only not reused).
    pub fn find(&self, name: &OsStr) -> Option<&Node> {
        let want = name.as_bytes();
        self.nodes
            .binary_search_by(|n| n.name_bytes().as_ref().cmp(want))
            .ok()
            .map(|i| &self.nodes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the unchanged re-backup's parent lookups: `find` over a sorted tree finds every
    /// name (non-UTF-8 ones included) and nothing else.
    #[test]
    fn find_looks_up_sorted_names_exactly() {
        let mut names: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| format!("f{i:05}").into_bytes())
            .collect();
        names.push(vec![b'f', 0xff, b'x']);
        names.push(b"F-upper".to_vec());
        names.sort();
        let tree = Tree {
            nodes: names
                .iter()
                .map(|n| {
                    let mut node = Node::default();
                    node.set_name(OsStr::from_bytes(n));
                    node
                })
                .collect(),
        };
        for n in &names {
            let got = tree.find(OsStr::from_bytes(n)).expect("found");
            assert_eq!(got.os_name().as_bytes(), &n[..]);
        }
        assert!(tree.find(OsStr::new("f99999")).is_none());
        assert!(tree.find(OsStr::new("")).is_none());
    }
}
