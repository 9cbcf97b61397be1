//! Compaction planning and retention: which blocks to merge next and which
//! to delete. Pure decision logic over block metadata; executing a plan
//! (reading the parents, writing the merged block) lives with the block
//! reader/writer.

pub mod plan;
pub mod retention;

pub use plan::{exponential_ranges, plan, DEFAULT_BLOCK_RANGE_MS};
pub use retention::{blocks_to_delete, parse_duration_ms, parse_size_bytes, RetentionReason};
