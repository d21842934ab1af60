//! The one error type of the call engine.

use natter_signal::SignalError;
use natter_signal::protocol::ErrorCode;

/// What went wrong in a call, phrased so a user can act on it; a caller can tell the cases apart
/// (a locked room asks for a secret, an unreachable server for another address or a retry).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error("invalid ICE configuration: {0}")]
    IceConfig(String),
    /// The signaling server cannot be reached: wrong address, server down, network, no answer.
    #[error("cannot reach the signaling server at {url}: {reason}")]
    SignalingUnreachable { url: String, reason: String },
    /// The room was opened with a secret, and ours is missing or another one.
    #[error("the room is locked (room_locked): its secret is missing or wrong; ask whoever opened it for the secret")]
    RoomLocked,
    /// The signaling server said no for another reason (its words).
    #[error("the signaling server refused: {message} ({code})")]
    SignalingRefused { code: ErrorCode, message: String },
    /// Signaling failed otherwise (the server speaks another protocol, the connection closed).
    #[error("signaling failed: {0}")]
    Signaling(String),
    #[error("media pipeline failed: {0}")]
    Media(String),
    #[error("WebRTC failed: {0}")]
    WebRtc(String),
    #[error("could not write the report to {path}: {reason}")]
    Report { path: String, reason: String },
}

impl From<SignalError> for CallError {
    fn from(error: SignalError) -> Self {
        match error {
            SignalError::Connect { url, reason } => CallError::SignalingUnreachable { url, reason },
            SignalError::Rejected {
                code: ErrorCode::RoomLocked,
                ..
            } => CallError::RoomLocked,
            SignalError::Rejected { code, message } => CallError::SignalingRefused { code, message },
            other => CallError::Signaling(other.to_string()),
        }
    }
}
