//! natter-signal: the signaling protocol (JSON over WebSocket), the server and a client.
//! (Being built.)

pub mod server {
    //! The signaling server.
    use std::net::SocketAddr;

    /// Serve signaling on `listen` until the process ends.
    pub async fn serve(_listen: SocketAddr) -> Result<(), crate::SignalError> {
        Err(crate::SignalError::Io("not built yet".into()))
    }
}

/// Errors of the signaling crate.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("i/o: {0}")]
    Io(String),
}
