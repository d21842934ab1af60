//! The one error type of the signaling crate.

use crate::protocol::ErrorCode;

/// Everything that can go wrong when serving or using signaling. Each variant says what to fix:
/// the listen address, the server URL or network, the join request, or the connection.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The server could not listen (address in use, no permission, bad address).
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    /// The client could not connect (wrong URL, server down, not a WebSocket server).
    #[error("cannot reach the signaling server at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server answered our request with an `error` (e.g. `unknown_room` on join).
    #[error("the signaling server refused: {message} ({code})")]
    Rejected { code: ErrorCode, message: String },
    /// No answer in time (e.g. no `welcome` after `join`).
    #[error("the signaling server did not answer within {0} s")]
    Timeout(u64),
    /// The connection is gone (server stopped, network dropped, or we left); join again.
    #[error("the signaling connection is closed")]
    Closed,
    /// The server sent something that is not this protocol (wrong server or version).
    #[error("the signaling server sent something unreadable: {0}")]
    Protocol(String),
    /// A message too large for the server; it was not sent.
    #[error("message of {bytes} bytes exceeds the {limit}-byte limit; not sent")]
    TooLarge { bytes: usize, limit: usize },
}
