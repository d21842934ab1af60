//! natter-signal: how Natter participants find each other. A small JSON-over-WebSocket protocol
//! (`protocol`), a server that relays offers/answers/candidates inside rooms (`server`), and the
//! client the call engine uses (`client`). The protocol is documented in `docs/signaling.md`.

pub mod client;
mod error;
pub mod protocol;
pub mod server;

pub use error::SignalError;
