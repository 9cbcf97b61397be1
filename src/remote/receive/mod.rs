//! The remote-write 1.0 receiver: [`write`] decompresses, decodes (with its
//! own borrowing decoder in [`decode`]), validates and appends a request;
//! the storage refs of series it has seen are remembered in a
//! [`SeriesRefCache`], and metadata it receives is kept in a
//! [`MetadataStore`]. Series over the [`LabelLimits`] are refused. Bodies
//! are decompressed into buffers reused from a [`BodyPool`].

mod body_pool;
pub mod decode;
mod limits;
mod metadata;
mod ref_cache;
pub mod write;

pub use body_pool::{BodyPool, PooledBody};
pub use limits::LabelLimits;
pub use metadata::MetadataStore;
pub use ref_cache::SeriesRefCache;
