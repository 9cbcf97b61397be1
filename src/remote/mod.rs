//! Prometheus's remote storage protocols, one folder per role:
//!
//! - [`receive`]: the remote-write 1.0 receiver (its borrowing decoder, the
//!   series-ref cache and the metadata it keeps);
//! - [`read`]: the remote-read endpoint ([`read::server`]) and the
//!   remote-read client side, whose endpoints queries see merged with local
//!   data ([`FanoutStorage`]);
//! - [`send`]: the remote-write sender, one queue per `remote_write:`.
//!
//! What the roles share stays here: the hand-declared protobuf messages
//! ([`proto`]), Prometheus's XOR chunk format ([`xor`]), which streamed
//! reads carry in both directions, and the length check of snappy bodies
//! ([`snappy`]).

pub mod proto;
pub mod read;
pub mod receive;
pub mod send;
pub(crate) mod snappy;
pub mod xor;

pub use read::{Endpoints, FanoutStorage, FanoutView, RemoteReadError};
pub use receive::{MetadataStore, SeriesRefCache};
