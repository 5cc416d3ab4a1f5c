//! Opening and creating repositories: a location plus a password gives a [`Repository`].

use crate::error::{OpsError, Result};
use lifeboat_core::Repository;
use lifeboat_storage::choose::S3Overrides;
use lifeboat_storage::Storage;
use serde::Serialize;

/// Where a repository is: its URL (any form `lifeboat_storage::choose` accepts) and S3
/// settings from a configuration file that override the environment.
#[derive(Clone, Debug, Default)]
pub struct Location {
    /// The repository URL.
    pub url: String,
    /// S3 settings (ignored for other locations).
    pub s3: S3Overrides,
    /// The configured name (`-r @NAME`), when it came from a configuration file.
    pub name: Option<String>,
}

impl Location {
    /// A location given by URL alone.
    pub fn url(url: impl Into<String>) -> Self {
        Location {
            url: url.into(),
            ..Default::default()
        }
    }

    /// The location as shown in messages: the configured name and URL, or the URL.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) => format!("@{n} ({})", self.url),
            None => self.url.clone(),
        }
    }
}

/// The storage at `location`, with the standard layers.
pub fn storage(location: &Location) -> Result<Storage> {
    if location.url.trim().is_empty() {
        return Err(OpsError::NoRepository);
    }
    Ok(lifeboat_storage::choose::open_with(
        &location.url,
        &location.s3,
    )?)
}

/// Opens the repository at `location` with `password`.
pub fn open(location: &Location, password: &[u8]) -> Result<Repository> {
    Ok(Repository::open(storage(location)?, password)?)
}

/// Facts about an opened repository, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct RepositoryInfo {
    /// Repository id.
    pub id: String,
    /// Where it is.
    pub location: String,
}

impl RepositoryInfo {
    /// The facts of `repo`.
    pub fn of(repo: &Repository) -> Self {
        RepositoryInfo {
            id: repo.config().id.clone(),
            location: repo.storage().location(),
        }
    }
}
