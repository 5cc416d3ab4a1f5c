//! `check`: verifies the repository.
mod check;
pub use check::*;
