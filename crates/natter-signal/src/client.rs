//! The signaling client used by the call engine: join a room, send messages, receive the rest.

use crate::SignalError;
use crate::protocol::{ClientMessage, ServerMessage, Welcome};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A joined client; cheap to clone (all clones share one connection).
#[derive(Clone)]
pub struct SignalClient {
    id: String,
    outbound: mpsc::Sender<ClientMessage>,
}

impl SignalClient {
    /// Connect, join `room` as `name`, and wait for the welcome. Everything the server sends
    /// afterwards arrives on the returned receiver (which ends when the connection closes).
    pub async fn join(url: &str, room: &str, name: &str) -> Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), SignalError> {
        let connect = tokio_tungstenite::connect_async(url);
        let (ws, _) = tokio::time::timeout(JOIN_TIMEOUT, connect)
            .await
            .map_err(|_| SignalError::Timeout(JOIN_TIMEOUT.as_secs()))?
            .map_err(|e| SignalError::Connect { url: url.to_string(), reason: e.to_string() })?;
        let (mut sink, mut source) = ws.split();
        let join = ClientMessage::Join { room: room.to_string(), name: name.to_string(), create: true };
        sink.send(Message::text(join.to_json())).await.map_err(|_| SignalError::Closed)?;

        let welcome = tokio::time::timeout(JOIN_TIMEOUT, async {
            loop {
                match source.next().await {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(text.as_str()) {
                        Ok(ServerMessage::Welcome(welcome)) => return Ok(welcome),
                        Ok(ServerMessage::Error { code, message }) => return Err(SignalError::Rejected { code, message }),
                        Ok(_) => continue,
                        Err(e) => return Err(SignalError::Protocol(e.to_string())),
                    },
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Err(SignalError::Closed),
                }
            }
        })
        .await
        .map_err(|_| SignalError::Timeout(JOIN_TIMEOUT.as_secs()))??;

        let (outbound, mut outbound_rx) = mpsc::channel::<ClientMessage>(256);
        tokio::spawn(async move {
            while let Some(msg) = outbound_rx.recv().await {
                let leaving = matches!(msg, ClientMessage::Leave {});
                if sink.send(Message::text(msg.to_json())).await.is_err() {
                    break;
                }
                if leaving {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (inbound_tx, inbound) = mpsc::channel::<ServerMessage>(256);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = source.next().await {
                let Message::Text(text) = frame else { continue };
                match serde_json::from_str::<ServerMessage>(text.as_str()) {
                    Ok(msg) => {
                        if inbound_tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!("ignoring an unreadable signaling message: {e}"),
                }
            }
        });
        Ok((SignalClient { id: welcome.id.clone(), outbound }, welcome, inbound))
    }

    /// The id the server gave us.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub async fn send(&self, msg: ClientMessage) -> Result<(), SignalError> {
        self.outbound.send(msg).await.map_err(|_| SignalError::Closed)
    }

    /// Leave the room and close the connection.
    pub async fn leave(&self) -> Result<(), SignalError> {
        self.send(ClientMessage::Leave {}).await
    }
}
