//! Path patterns (`--exclude`, `find`): a glob without `/` matches names, one with `/` whole
//! paths (`**` crosses directories, `*` does not).

use crate::error::{Error, Result};
use std::path::Path;

/// Compiled patterns; a path matches when any of them does.
pub struct PathPatterns {
    names: globset::GlobSet,
    paths: globset::GlobSet,
}

impl PathPatterns {
    /// Compiles `patterns`; a bad one is [`Error::Invalid`] naming it (`what`: `exclude
    /// pattern`, `pattern`).
    pub fn new(patterns: &[String], what: &str) -> Result<Self> {
        let mut names = globset::GlobSetBuilder::new();
        let mut paths = globset::GlobSetBuilder::new();
        for p in patterns {
            let glob = globset::GlobBuilder::new(p)
                .literal_separator(p.contains('/'))
                .build()
                .map_err(|e| Error::Invalid(format!("bad {what} '{p}': {e}")))?;
            if p.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(PathPatterns {
            names: names.build().map_err(|e| Error::Invalid(e.to_string()))?,
            paths: paths.build().map_err(|e| Error::Invalid(e.to_string()))?,
        })
    }

    /// True when `path` (or its name) matches.
    pub fn matches(&self, path: &Path) -> bool {
        path.file_name().is_some_and(|n| self.names.is_match(n)) || self.paths.is_match(path)
    }

    /// True when only name patterns were given (whether a subtree matches does not depend on
    /// where it sits).
    pub fn names_only(&self) -> bool {
        self.paths.is_empty()
    }
}
