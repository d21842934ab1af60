//! The signaling server: accepts WebSocket connections, keeps rooms, relays offers, answers and
//! candidates between the members of a room. Bad input gets an `error` message and the connection
//! stays open; a slow or hostile client cannot block others (bounded queues, rate limit).

use crate::SignalError;
use crate::protocol::{ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PeerInfo, ServerMessage, Welcome};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Messages queued for one client before it counts as not reading (then messages to it are dropped).
const OUTBOUND_QUEUE: usize = 256;
/// Hard cap of the WebSocket layer (the connection closes above it); the protocol limit is lower.
const HARD_MESSAGE_LIMIT: usize = 1024 * 1024;
/// Token bucket per connection: sustained messages per second and burst.
const RATE_PER_SECOND: f64 = 200.0;
const RATE_BURST: f64 = 400.0;
/// Longest room or participant name accepted.
const MAX_NAME_LEN: usize = 128;

/// A bound, not yet running, signaling server.
pub struct SignalServer {
    listener: TcpListener,
    addr: SocketAddr,
}

/// A running server; dropping it (or `shutdown`) stops it and closes every connection.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl SignalServer {
    pub async fn bind(addr: SocketAddr) -> Result<SignalServer, SignalError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| SignalError::Listen { addr: addr.to_string(), reason: e.to_string() })?;
        let addr = listener.local_addr().map_err(|e| SignalError::Listen { addr: addr.to_string(), reason: e.to_string() })?;
        Ok(SignalServer { listener, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Run on the current tokio runtime until the handle is dropped.
    pub fn spawn(self) -> ServerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let addr = self.addr;
        tokio::spawn(self.serve_until(stop_rx));
        ServerHandle { addr, stop }
    }

    /// Run until the process ends.
    pub async fn run(self) -> Result<(), SignalError> {
        let (_stop, stop_rx) = watch::channel(false);
        self.serve_until(stop_rx).await;
        Ok(())
    }

    async fn serve_until(self, mut stop: watch::Receiver<bool>) {
        let rooms = Arc::new(Mutex::new(Rooms::default()));
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let rooms = Arc::clone(&rooms);
                        let stop = stop.clone();
                        tokio::spawn(async move {
                            if let Err(e) = handle_connection(stream, rooms, stop).await {
                                tracing::debug!(%peer, "signaling connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                _ = stop.changed() => return,
            }
        }
    }
}

/// Serve signaling on `listen` until the process ends.
pub async fn serve(listen: SocketAddr) -> Result<(), SignalError> {
    let server = SignalServer::bind(listen).await?;
    tracing::info!("signaling server listening on {}", server.url());
    server.run().await
}

struct Member {
    name: String,
    tx: mpsc::Sender<Message>,
}

/// Room membership: pure bookkeeping, no I/O (sending is a non-blocking queue push).
#[derive(Default)]
struct Rooms {
    rooms: HashMap<String, BTreeMap<String, Member>>,
    next_id: u64,
}

impl Rooms {
    fn send(member: &Member, msg: &ServerMessage) {
        if let Err(mpsc::error::TrySendError::Full(_)) = member.tx.try_send(Message::text(msg.to_json())) {
            tracing::warn!(name = %member.name, "a client is not reading its messages; dropping one");
        }
    }

    fn join(&mut self, room: &str, name: &str, create: bool, tx: mpsc::Sender<Message>) -> Result<Welcome, (ErrorCode, String)> {
        if room.is_empty() || room.len() > MAX_NAME_LEN || name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err((ErrorCode::BadMessage, format!("room and name must be 1 to {MAX_NAME_LEN} bytes")));
        }
        if !create && !self.rooms.contains_key(room) {
            return Err((ErrorCode::UnknownRoom, format!("room {room:?} does not exist (join with \"create\": true to open it)")));
        }
        self.next_id += 1;
        let id = format!("p{}", self.next_id);
        let members = self.rooms.entry(room.to_string()).or_default();
        let peers = members.iter().map(|(id, m)| PeerInfo { id: id.clone(), name: m.name.clone() }).collect();
        let joined = ServerMessage::PeerJoined { id: id.clone(), name: name.to_string() };
        for member in members.values() {
            Self::send(member, &joined);
        }
        members.insert(id.clone(), Member { name: name.to_string(), tx });
        Ok(Welcome { id, room: room.to_string(), peers })
    }

    fn leave(&mut self, room: &str, id: &str) {
        let Some(members) = self.rooms.get_mut(room) else { return };
        members.remove(id);
        let left = ServerMessage::PeerLeft { id: id.to_string() };
        for member in members.values() {
            Self::send(member, &left);
        }
        if members.is_empty() {
            self.rooms.remove(room);
        }
    }

    fn relay(&self, room: &str, to: &str, msg: ServerMessage) -> Result<(), (ErrorCode, String)> {
        match self.rooms.get(room).and_then(|m| m.get(to)) {
            Some(member) => {
                Self::send(member, &msg);
                Ok(())
            }
            None => Err((ErrorCode::UnknownPeer, format!("nobody with id {to:?} is in room {room:?}"))),
        }
    }
}

/// Per-connection state.
struct Session {
    joined: Option<(String, String)>, // (room, id)
    tokens: f64,
    last_refill: Instant,
}

impl Session {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last_refill).as_secs_f64() * RATE_PER_SECOND).min(RATE_BURST);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn handle_connection(stream: TcpStream, rooms: Arc<Mutex<Rooms>>, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default().max_message_size(Some(HARD_MESSAGE_LIMIT)).max_frame_size(Some(HARD_MESSAGE_LIMIT));
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await.map_err(|e| e.to_string())?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(OUTBOUND_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut session = Session { joined: None, tokens: RATE_BURST, last_refill: Instant::now() };
    let reply = |tx: &mpsc::Sender<Message>, msg: ServerMessage| {
        let _ = tx.try_send(Message::text(msg.to_json()));
    };
    let result = loop {
        let incoming = tokio::select! {
            incoming = source.next() => incoming,
            _ = stop.changed() => break Ok(()),
        };
        let text = match incoming {
            None | Some(Ok(Message::Close(_))) => break Ok(()),
            Some(Err(e)) => break Err(e.to_string()),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                reply(&tx, error(ErrorCode::BadMessage, "binary messages are not supported; send JSON text"));
                continue;
            }
            Some(Ok(_)) => continue, // ping/pong frames are answered by the WebSocket layer
        };
        if !session.allow() {
            reply(&tx, error(ErrorCode::RateLimited, "too many messages; this one was dropped"));
            continue;
        }
        if text.len() > MAX_MESSAGE_BYTES {
            reply(&tx, error(ErrorCode::TooLarge, &format!("message of {} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit", text.len())));
            continue;
        }
        let msg: ClientMessage = match serde_json::from_str(text.as_str()) {
            Ok(msg) => msg,
            Err(e) => {
                reply(&tx, error(ErrorCode::BadMessage, &format!("not a valid signaling message: {e}")));
                continue;
            }
        };
        if let Some(answer) = apply(&rooms, &mut session, &tx, msg) {
            reply(&tx, answer);
        }
    };
    if let Some((room, id)) = session.joined.take() {
        rooms.lock().expect("rooms lock").leave(&room, &id);
    }
    drop(tx);
    let _ = writer.await;
    result
}

fn error(code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error { code, message: message.to_string() }
}

/// Apply one well-formed client message; returns what to answer to the sender, if anything.
fn apply(rooms: &Mutex<Rooms>, session: &mut Session, tx: &mpsc::Sender<Message>, msg: ClientMessage) -> Option<ServerMessage> {
    let mut rooms = rooms.lock().expect("rooms lock");
    let not_joined = || error(ErrorCode::NotJoined, "join a room first");
    match msg {
        ClientMessage::Join { room, name, create } => {
            if session.joined.is_some() {
                return Some(error(ErrorCode::AlreadyJoined, "already in a room; send leave first"));
            }
            match rooms.join(&room, &name, create, tx.clone()) {
                Ok(welcome) => {
                    tracing::info!(room = %room, id = %welcome.id, "participant joined");
                    session.joined = Some((room, welcome.id.clone()));
                    Some(ServerMessage::Welcome(welcome))
                }
                Err((code, message)) => Some(error(code, &message)),
            }
        }
        ClientMessage::Leave {} => match session.joined.take() {
            Some((room, id)) => {
                rooms.leave(&room, &id);
                None
            }
            None => Some(not_joined()),
        },
        ClientMessage::Ping {} => Some(ServerMessage::Pong {}),
        ClientMessage::Offer { to, sdp } => {
            let Some((room, from)) = &session.joined else { return Some(not_joined()) };
            rooms.relay(room, &to, ServerMessage::Offer { from: from.clone(), sdp }).err().map(|(c, m)| error(c, &m))
        }
        ClientMessage::Answer { to, sdp } => {
            let Some((room, from)) = &session.joined else { return Some(not_joined()) };
            rooms.relay(room, &to, ServerMessage::Answer { from: from.clone(), sdp }).err().map(|(c, m)| error(c, &m))
        }
        ClientMessage::Candidate { to, candidate } => {
            let Some((room, from)) = &session.joined else { return Some(not_joined()) };
            rooms.relay(room, &to, ServerMessage::Candidate { from: from.clone(), candidate }).err().map(|(c, m)| error(c, &m))
        }
    }
}
