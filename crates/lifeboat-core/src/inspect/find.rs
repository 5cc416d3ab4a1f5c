//! `find`: which snapshots hold a file. A pattern without `/` matches names (`*.conf`), one
//! with `/` whole absolute paths (`/etc/**/*.conf`), as `--exclude` does.
//!
//! Snapshots share most of their trees; a subtree known to hold no match under a name
//! pattern is not read again in the next snapshot.

use crate::error::Result;
use crate::format::blob::BlobId;
use crate::format::index::Index;
use crate::format::tree::{Node, NodeKind};
pub use crate::patterns::PathPatterns as Patterns;
use crate::repo::Repository;
use std::collections::HashSet;
use std::path::Path;

/// Finds matches in many snapshots, remembering the subtrees that hold none.
pub struct Finder<'a> {
    repo: &'a Repository,
    index: &'a Index,
    patterns: Patterns,
    /// Subtrees without a match (valid only while no path pattern is given: a path pattern
    /// depends on where the subtree sits).
    barren: HashSet<BlobId>,
}

impl<'a> Finder<'a> {
    /// A finder over `repo`.
    pub fn new(repo: &'a Repository, index: &'a Index, patterns: Patterns) -> Self {
        Finder {
            repo,
            index,
            patterns,
            barren: HashSet::new(),
        }
    }

    /// Calls `found` for every matching node under the root tree `tree`, in tree order.
    pub fn find(
        &mut self,
        tree: &BlobId,
        found: &mut dyn FnMut(&Path, &Node) -> Result<()>,
    ) -> Result<()> {
        self.walk(tree, Path::new("/"), found).map(|_| ())
    }

    /// True when something matched under `tree`.
    fn walk(
        &mut self,
        tree: &BlobId,
        prefix: &Path,
        found: &mut dyn FnMut(&Path, &Node) -> Result<()>,
    ) -> Result<bool> {
        let by_name_only = self.patterns.names_only();
        if by_name_only && self.barren.contains(tree) {
            return Ok(false);
        }
        let t = self.repo.read_tree(self.index, tree)?;
        let mut any = false;
        for node in &t.nodes {
            let path = prefix.join(node.os_name());
            if self.patterns.matches(&path) {
                any = true;
                found(&path, node)?;
            }
            if node.kind() == NodeKind::Dir {
                if let Some(sub) = &node.subtree {
                    any |= self.walk(sub, &path, found)?;
                }
            }
        }
        if by_name_only && !any {
            self.barren.insert(*tree);
        }
        Ok(any)
    }
}
