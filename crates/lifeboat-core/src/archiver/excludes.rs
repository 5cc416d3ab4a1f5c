//! Exclude patterns (`--exclude`): a pattern without `/` matches names, else whole paths.

use crate::error::{Error, Result};
use std::path::Path;

/// Compiled exclude patterns.
pub(super) struct Excludes {
    names: globset::GlobSet,
    paths: globset::GlobSet,
}

impl Excludes {
    /// Compiles `patterns`.
    pub(super) fn new(patterns: &[String]) -> Result<Self> {
        let mut names = globset::GlobSetBuilder::new();
        let mut paths = globset::GlobSetBuilder::new();
        for p in patterns {
            let glob = globset::GlobBuilder::new(p)
                .literal_separator(p.contains('/'))
                .build()
                .map_err(|e| Error::Invalid(format!("bad exclude pattern '{p}': {e}")))?;
            if p.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(Excludes {
            names: names.build().map_err(|e| Error::Invalid(e.to_string()))?,
            paths: paths.build().map_err(|e| Error::Invalid(e.to_string()))?,
        })
    }

    /// True when `path` is excluded.
    pub(super) fn excluded(&self, path: &Path) -> bool {
        path.file_name().is_some_and(|n| self.names.is_match(n)) || self.paths.is_match(path)
    }
}
