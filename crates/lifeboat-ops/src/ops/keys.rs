//! Keys (passwords) of a repository: add (full or write-only), list, remove, change.

use crate::modes::{self, Operation};
use crate::record::Recorder;
use crate::{journaled, Context, OpsError, Result};
use lifeboat_core::repo::KeyDescription;
use lifeboat_core::Repository;
use serde::Serialize;

/// A key that was added.
#[derive(Clone, Debug, Serialize)]
pub struct AddedKey {
    /// Its id.
    pub id: String,
    /// True for a write-only key.
    pub write_only: bool,
    /// For write-only keys: the recipient data is sealed to.
    pub recipient: Option<String>,
}

fn non_empty(password: &[u8]) -> Result<()> {
    if password.is_empty() {
        return Err(OpsError::invalid(
            "new password",
            "refusing an empty password",
        ));
    }
    Ok(())
}

/// Adds a key for `password`: a full key, or a write-only key (it can back up but not read).
pub fn add(
    ctx: &Context,
    repo: &Repository,
    password: &[u8],
    write_only: bool,
) -> Result<AddedKey> {
    let mut rec = Recorder::new(ctx, "key add");
    rec.flag("write_only", write_only);
    rec.add(repo);
    journaled(ctx, rec, |_| {
        non_empty(password)?;
        modes::require(repo, Operation::KeyAdd)?;
        if write_only {
            let (id, recipient) = lifeboat_core::writeonly::add_write_only_key(repo, password)?;
            Ok(AddedKey {
                id,
                write_only,
                recipient: Some(recipient),
            })
        } else {
            Ok(AddedKey {
                id: repo.add_key(password)?,
                write_only,
                recipient: None,
            })
        }
    })
}

/// Every key.
pub fn list(_ctx: &Context, repo: &Repository) -> Result<Vec<KeyDescription>> {
    modes::require(repo, Operation::KeyList)?;
    Ok(repo.list_keys()?)
}

/// Removes the key with this id or unique prefix; returns its full id.
pub fn remove(ctx: &Context, repo: &Repository, id: &str) -> Result<String> {
    let mut rec = Recorder::new(ctx, "key remove");
    rec.arg("id", Some(id.to_string()));
    rec.add(repo);
    journaled(ctx, rec, |_| {
        modes::require(repo, Operation::KeyRemove)?;
        Ok(repo.remove_key(id)?)
    })
}

/// Changes the password of the key in use; returns the new key's id.
pub fn passwd(ctx: &Context, repo: &mut Repository, new_password: &[u8]) -> Result<String> {
    let mut rec = Recorder::new(ctx, "key passwd");
    rec.add(repo);
    journaled(ctx, rec, |_| {
        non_empty(new_password)?;
        modes::require(repo, Operation::KeyPasswd)?;
        Ok(repo.change_password(new_password)?)
    })
}
