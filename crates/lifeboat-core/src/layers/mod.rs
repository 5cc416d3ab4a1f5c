//! Storage layers the repository stacks on its backend when it opens, for rules of the
//! repository format (the generic ones, retries and limits, are `lifeboat_storage::layers`):
//! [`object_lock`] gives every immutable object its retention.

pub mod object_lock;
