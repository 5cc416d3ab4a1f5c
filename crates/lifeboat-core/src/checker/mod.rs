//! `check`: verifies the repository.
mod check;
pub mod governance;
pub mod retention;
pub use check::*;
