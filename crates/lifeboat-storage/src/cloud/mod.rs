//! Google Cloud Storage (`gs://BUCKET/PREFIX`) and Azure Blob Storage
//! (`azure://CONTAINER/PREFIX`), built on Apache OpenDAL's `gcs` and `azblob` services like
//! the S3 backend, behind the same storage contract and the same layers ([`crate::choose`]).
//!
//! - `backend`: [`CloudStorage`], the contract on an OpenDAL operator, shared by both; errors
//!   name the bucket or container and the provider's credential variables.
//! - `gcs`: [`GcsConfig`] (credentials `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_ACCESS_TOKEN`,
//!   else Google's application-default credentials; `STORAGE_EMULATOR_HOST` for emulators).
//! - `azure`: [`AzureConfig`] (`AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT` with
//!   `AZURE_STORAGE_KEY` / `AZURE_STORAGE_SAS_TOKEN`; restic's `AZURE_ACCOUNT_*` names too).
//!
//! Against the contract: `write` is one upload, acknowledged once stored, and the object is
//! visible only whole. `create_new` is atomic where the service refuses a create-if-absent
//! write (GCS `ifGenerationMatch=0`, Azure `If-None-Match: *`); GCS emulators that ignore the
//! precondition take `LIFEBOAT_GCS_CONDITIONAL_WRITES=0` (check first, racily, reported in the
//! capabilities). Object lock is S3-only: a write asking for retention is refused with
//! [`crate::ErrorKind::Unsupported`], and `init --object-lock` says so.

mod azure;
mod backend;
mod gcs;

pub use azure::{open as open_azure, AzureConfig};
pub use backend::CloudStorage;
pub use gcs::{open as open_gcs, GcsConfig};
