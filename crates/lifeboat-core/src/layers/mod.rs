//! Storage layers the repository stacks on its backend.
pub mod object_lock;
