//! Reading data back out: listing, restore and dump.
mod restore;
pub use restore::*;
