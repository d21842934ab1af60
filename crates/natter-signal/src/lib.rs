//! natter-signal: how Natter participants find each other.
//!
//! A small JSON-over-WebSocket protocol ([`protocol`]), a server that keeps rooms and relays
//! offers, answers and ICE candidates between their members ([`server`]), and the client the
//! call engine uses ([`client`]). The wire protocol is documented in `docs/signaling.md`.
//!
//! A room is a full mesh: on `welcome` the newcomer offers to every peer already present, and
//! existing peers only answer, so two participants never offer to each other at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), natter_signal::SignalError> {
//! use natter_signal::client::SignalClient;
//! use natter_signal::protocol::{ClientMessage, ServerMessage};
//! use natter_signal::server::SignalServer;
//!
//! let server = SignalServer::bind("127.0.0.1:0".parse().unwrap()).await?.spawn();
//! let (client, welcome, mut events) = SignalClient::join(&server.url(), "standup", "Ada").await?;
//! for peer in &welcome.peers {
//!     client.send(ClientMessage::Offer { to: peer.id.clone(), sdp: "v=0...".into() }).await?;
//! }
//! while let Some(event) = events.recv().await {
//!     if let ServerMessage::PeerLeft { id } = event {
//!         println!("{id} left");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Guarantees the engine can rely on:
//! - messages from one sender reach each recipient in the order they were sent;
//! - `welcome` is the first message a participant receives; a peer's `peer_joined` reaches you
//!   before anything that peer sends you, and its `peer_left` after it;
//! - the server never drops a message to a connected client: one that does not read (its queue
//!   is full) is disconnected instead, and its peers get `peer_left`.

#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod protocol;
pub mod server;

pub use error::SignalError;
