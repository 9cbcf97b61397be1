//! Prometheus's remote storage protocols, server side: the remote-write
//! 1.0 receiver ([`write`]) and the remote-read endpoint ([`read`]), over
//! hand-declared protobuf messages ([`proto`]). Chunks for streamed reads
//! are encoded in Prometheus's XOR format ([`xor`]); metadata received by
//! writes is kept in a [`MetadataStore`].

mod metadata;
pub mod proto;
pub mod read;
pub mod send;
pub mod write;
pub mod xor;

pub use metadata::MetadataStore;
