//! The one error type of the call engine.

/// What went wrong in a call, phrased so a user can act on it.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error("invalid ICE configuration: {0}")]
    IceConfig(String),
    #[error("signaling failed: {0}")]
    Signaling(String),
    #[error("media pipeline failed: {0}")]
    Media(String),
    #[error("WebRTC failed: {0}")]
    WebRtc(String),
    #[error("could not write the report to {path}: {reason}")]
    Report { path: String, reason: String },
}
