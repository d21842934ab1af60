//! natter-ice: the ICE server model and what we accept from the network about connectivity.
//! Parses the W3C `RTCConfiguration` JSON users paste from their TURN provider, validates it, and
//! keeps credentials out of every printed or serialized form; TURN REST credentials; the sans-IO
//! STUN/TURN prober, its monitor and the per-server circuit breakers; the check of a remote
//! session description before it reaches the WebRTC stack (`sdp`).
//!
//! No I/O lives here: sockets and timers belong to the callers.

pub mod backoff;
pub mod breaker;
mod config;
pub mod framing;
pub mod monitor;
pub mod probe;
pub mod rest;
pub mod sdp;
mod secret;
mod url;
pub use rest::credentials as rest_credentials;

pub use config::{CredentialKind, IceConfig, IceServer, REST_CREDENTIAL_TTL_SECS, TransportPolicy};
pub use secret::Secret;
pub use url::{IceUrl, Scheme, Transport};

/// Why an ICE configuration was rejected, phrased so the user knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    #[error("ICE configuration is not valid JSON: {0}")]
    Json(String),
    #[error("ICE server URL {url:?}: {problem}")]
    BadUrl { url: String, problem: String },
    #[error("{url}: turn: and turns: URLs need a username and credential")]
    MissingCredentials { url: String },
    #[error("ICE server #{index} has no URLs")]
    NoUrls { index: usize },
}
