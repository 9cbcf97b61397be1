//! Prometheus's remote storage protocols: the remote-write 1.0 receiver
//! ([`write`], with its own borrowing decoder in [`decode`]) and the
//! remote-read endpoint ([`read`]), over hand-declared protobuf messages
//! ([`proto`]); and the remote-read client side, whose endpoints queries see
//! merged with local data ([`FanoutStorage`]). Chunks for streamed reads are
//! encoded in Prometheus's XOR format ([`xor`]); metadata received by writes
//! is kept in a [`MetadataStore`]; the receiver remembers the storage refs of
//! series it has seen in a [`SeriesRefCache`].

pub mod decode;
mod fanout;
pub(crate) mod fetch;
mod metadata;
pub mod proto;
pub mod read;
mod ref_cache;
pub mod send;
pub mod write;
pub mod xor;

pub use fanout::{Endpoints, FanoutStorage, FanoutView, RemoteReadError};
pub use metadata::MetadataStore;
pub use ref_cache::SeriesRefCache;
