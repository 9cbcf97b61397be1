//! Remote read, both ends: the endpoint answering other servers'
//! `ReadRequest`s ([`server`]), and the client asking `remote_read:`
//! endpoints (`client`), whose answers queries see merged with local data
//! through a [`FanoutStorage`].

pub(crate) mod client;
mod fanout;
pub mod server;

pub use fanout::{Endpoints, FanoutStorage, FanoutView, RemoteReadError};
/// Both ends recognise a streamed answer by this content type.
pub use server::STREAMED_CONTENT_TYPE;
