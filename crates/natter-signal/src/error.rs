//! The one error type of the signaling crate.

use crate::protocol::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("cannot reach the signaling server at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the signaling server refused: {message} ({code:?})")]
    Rejected { code: ErrorCode, message: String },
    #[error("the signaling server did not answer within {0} s")]
    Timeout(u64),
    #[error("the signaling connection is closed")]
    Closed,
    #[error("the signaling server sent something unreadable: {0}")]
    Protocol(String),
}
