//! The signaling client used by the call engine: join a room, send messages, receive the rest.
//!
//! - Everything the server sends after `welcome` arrives, in order, on the receiver returned by
//!   [`SignalClient::join`], including `error` answers to messages sent later (e.g. `unknown_peer`
//!   when the peer has just left).
//! - The receiver ends (`recv()` returns `None`) when the connection is gone: the server stopped,
//!   the network dropped, we left, or the server disconnected us for not reading our messages.
//!   Join again to come back: with a new id, or the same one when both joins carry the same
//!   rejoin key ([`JoinRequest::rejoin_key`]).
//! - Dropping every clone of the [`SignalClient`] closes the connection, which the server treats
//!   as leaving.

use crate::SignalError;
use crate::protocol::{ClientMessage, MAX_MESSAGE_BYTES, ServerMessage, Welcome};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `leave` waits for the leave message to be written.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages buffered in each direction inside the client.
const QUEUE: usize = 256;

struct Outgoing {
    text: String,
    /// For `leave`: the last message; signalled once written and the connection closed.
    done: Option<oneshot::Sender<()>>,
}

/// What to join, and how (see [`SignalClient::join_request`]).
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub room: String,
    pub name: String,
    /// Open the room if nobody is in it (else joining an empty room fails with `unknown_room`).
    pub create: bool,
    pub secret: Option<crate::protocol::RoomSecret>,
    pub rejoin_key: Option<crate::protocol::RejoinKey>,
}

impl JoinRequest {
    /// Join (or open) `room` as `name`, without a secret or rejoin key.
    pub fn new(room: &str, name: &str) -> JoinRequest {
        JoinRequest {
            room: room.to_string(),
            name: name.to_string(),
            create: true,
            secret: None,
            rejoin_key: None,
        }
    }
}

/// A joined client; cheap to clone (all clones share one connection).
#[derive(Clone)]
pub struct SignalClient {
    id: String,
    outbound: mpsc::Sender<Outgoing>,
}

impl std::fmt::Debug for SignalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SignalClient {
    /// Connect, join `room` as `name` (creating the room if needed), and wait for the welcome.
    /// Everything the server sends afterwards arrives on the returned receiver, which ends when
    /// the connection closes. A server `error` instead of `welcome` is [`SignalError::Rejected`].
    pub async fn join(
        url: &str,
        room: &str,
        name: &str,
    ) -> Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), SignalError> {
        Self::join_with(url, room, name, true).await
    }

    /// Like [`SignalClient::join`]; with `create: false` joining a room nobody is in fails with
    /// [`SignalError::Rejected`] and code `unknown_room`.
    pub async fn join_with(
        url: &str,
        room: &str,
        name: &str,
        create: bool,
    ) -> Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), SignalError> {
        Self::join_room(url, room, name, create, None).await
    }

    /// Like [`SignalClient::join_with`], with the room's secret: it locks a room this join opens;
    /// a room opened with a secret refuses a join without the same one ([`SignalError::Rejected`],
    /// code `room_locked`).
    pub async fn join_room(
        url: &str,
        room: &str,
        name: &str,
        create: bool,
        secret: Option<crate::protocol::RoomSecret>,
    ) -> Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), SignalError> {
        let request = JoinRequest {
            create,
            secret,
            ..JoinRequest::new(room, name)
        };
        Self::join_request(url, &request).await
    }

    /// Join as `request` says. With a `rejoin_key`, joining again with the same key after the
    /// connection ended (a network drop, a server restart) gives back the same id, so calls
    /// that went on without signaling can be picked up again.
    pub async fn join_request(
        url: &str,
        request: &JoinRequest,
    ) -> Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), SignalError> {
        let connect = tokio_tungstenite::connect_async(url);
        let (ws, _) = tokio::time::timeout(JOIN_TIMEOUT, connect)
            .await
            .map_err(|_| SignalError::Timeout(JOIN_TIMEOUT.as_secs()))?
            .map_err(|e| SignalError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let (mut sink, mut source) = ws.split();
        let join = ClientMessage::Join {
            room: request.room.clone(),
            name: request.name.clone(),
            create: request.create,
            secret: request.secret.clone(),
            rejoin_key: request.rejoin_key.clone(),
        };
        sink.send(Message::text(join.to_json()))
            .await
            .map_err(|_| SignalError::Closed)?;

        let welcome = tokio::time::timeout(JOIN_TIMEOUT, async {
            loop {
                match source.next().await {
                    Some(Ok(Message::Text(text))) => {
                        match serde_json::from_str::<ServerMessage>(text.as_str()) {
                            Ok(ServerMessage::Welcome(welcome)) => return Ok(welcome),
                            Ok(ServerMessage::Error { code, message }) => {
                                return Err(SignalError::Rejected { code, message });
                            }
                            // The server sends nothing else before the welcome; tolerate it anyway.
                            Ok(other) => tracing::debug!("ignoring {other:?} before the welcome"),
                            Err(e) => return Err(SignalError::Protocol(e.to_string())),
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        return Err(SignalError::Closed);
                    }
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await
        .map_err(|_| SignalError::Timeout(JOIN_TIMEOUT.as_secs()))??;
        tracing::debug!(id = %welcome.id, room = %welcome.room, peers = welcome.peers.len(), "joined");

        let (outbound, mut outbound_rx) = mpsc::channel::<Outgoing>(QUEUE);
        tokio::spawn(async move {
            while let Some(Outgoing { text, done }) = outbound_rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
                if let Some(done) = done {
                    let _ = sink.close().await;
                    let _ = done.send(());
                    return;
                }
            }
            let _ = sink.close().await;
        });
        let (inbound_tx, inbound) = mpsc::channel::<ServerMessage>(QUEUE);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = source.next().await {
                let text = match frame {
                    Message::Text(text) => text,
                    Message::Close(_) => break,
                    _ => continue,
                };
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
        Ok((
            SignalClient {
                id: welcome.id.clone(),
                outbound,
            },
            welcome,
            inbound,
        ))
    }

    /// The id the server gave us.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Queue `msg` for the server (waits only if 256 messages are already queued). Messages are
    /// sent in the order of `send` calls. [`SignalError::TooLarge`] if the server would reject it
    /// for size, [`SignalError::Closed`] if the connection is gone.
    pub async fn send(&self, msg: ClientMessage) -> Result<(), SignalError> {
        let text = msg.to_json();
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(SignalError::TooLarge {
                bytes: text.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        self.outbound
            .send(Outgoing { text, done: None })
            .await
            .map_err(|_| SignalError::Closed)
    }

    /// Leave the room and close the connection; returns once the leave is written (or the
    /// connection turned out to be gone already, which counts as having left). Later `send`s
    /// fail with [`SignalError::Closed`].
    pub async fn leave(&self) -> Result<(), SignalError> {
        let (done, written) = oneshot::channel();
        let text = ClientMessage::Leave {}.to_json();
        if self.outbound.send(Outgoing { text, done: Some(done) }).await.is_err() {
            return Ok(());
        }
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, written).await;
        Ok(())
    }
}
