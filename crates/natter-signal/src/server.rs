//! The signaling server: accepts WebSocket connections, keeps rooms, relays offers, answers and
//! candidates between the members of a room.
//!
//! Robustness rules:
//! - bad input gets an `error` message and the connection stays open;
//! - nothing a client sends can block another client: every connection has a bounded outbound
//!   queue, and sending to it never waits. A client whose queue is full is **disconnected** (its
//!   peers get `peer_left`) rather than silently losing a message, so a connected client has
//!   received every message addressed to it, in order;
//! - a token bucket limits how fast one connection may send;
//! - SDP and candidates are relayed unread and never logged above `trace`.

use crate::SignalError;
use crate::protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PeerInfo, RejoinKey, RoomSecret, ServerMessage, Welcome,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Permit;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::Instrument;

/// Hard cap of the WebSocket layer: a message above it is answered with `too_large` and the
/// connection is closed (code 1009), because the rest of it cannot be skipped safely.
/// Between [`MAX_MESSAGE_BYTES`] and this, the message is rejected and the connection stays open.
pub const HARD_MESSAGE_BYTES: usize = 1024 * 1024;
/// Longest room or participant name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// How long a closing connection may take to flush what is queued for it.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(2);

/// Tunables of a server. `ServerConfig::default()` is what `bind` and `serve` use.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Messages queued for one client; a client that lets its queue fill up is disconnected.
    pub outbound_queue: usize,
    /// Token bucket per connection: sustained messages per second...
    pub rate_per_second: f64,
    /// ...and burst size. A message over the limit is dropped and answered with `rate_limited`.
    pub rate_burst: f64,
    /// Open connections at most; one more is closed as soon as it is accepted (memory stays
    /// bounded however many clients connect).
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            outbound_queue: 256,
            rate_per_second: 200.0,
            rate_burst: 400.0,
            max_connections: 4096,
        }
    }
}

/// A bound, not yet running, signaling server.
pub struct SignalServer {
    listener: TcpListener,
    addr: SocketAddr,
    config: ServerConfig,
}

/// A running server; dropping it (or calling `shutdown`) stops it and closes every connection.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
}

/// What a running server holds now (for operators, and for tests that check nothing piles up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// Open WebSocket connections (joined or not).
    pub connections: usize,
    pub rooms: usize,
    /// Participants in all rooms.
    pub members: usize,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        ws_url(self.addr)
    }

    pub fn stats(&self) -> ServerStats {
        let rooms = self.shared.rooms();
        ServerStats {
            connections: self.shared.connections.load(std::sync::atomic::Ordering::Relaxed),
            rooms: rooms.rooms.len(),
            members: rooms.rooms.values().map(BTreeMap::len).sum(),
        }
    }

    /// Stop accepting and close every connection (idempotent).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `ws://addr`, with a wildcard address (0.0.0.0, ::) replaced by loopback so the URL can be dialled.
fn ws_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("ws://{}", SocketAddr::new(ip, addr.port()))
}

impl SignalServer {
    /// Listen on `addr` (port 0 picks a free port) with the default [`ServerConfig`].
    pub async fn bind(addr: SocketAddr) -> Result<SignalServer, SignalError> {
        Self::bind_with(addr, ServerConfig::default()).await
    }

    /// Listen on `addr` with explicit limits.
    pub async fn bind_with(addr: SocketAddr, config: ServerConfig) -> Result<SignalServer, SignalError> {
        let listen_error = |e: std::io::Error| SignalError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        };
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let config = ServerConfig {
            outbound_queue: config.outbound_queue.max(1),
            ..config
        };
        Ok(SignalServer { listener, addr, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        ws_url(self.addr)
    }

    /// Run on the current tokio runtime until the returned handle is dropped or shut down.
    pub fn spawn(self) -> ServerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let addr = self.addr;
        let shared = Shared::new(self.config.clone());
        tokio::spawn(self.serve_until(Arc::clone(&shared), stop_rx));
        ServerHandle { addr, stop, shared }
    }

    /// Run until the task is dropped. Failing accepts (e.g. out of file descriptors) are logged
    /// and retried, so this only returns on shutdown.
    pub async fn run(self) -> Result<(), SignalError> {
        let (_stop, stop_rx) = watch::channel(false);
        let shared = Shared::new(self.config.clone());
        self.serve_until(shared, stop_rx).await;
        Ok(())
    }

    async fn serve_until(self, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Some(counted) = ConnectionSlot::take(&shared) else {
                            tracing::warn!(%peer, limit = shared.config.max_connections, "too many connections; closing this one");
                            drop(stream);
                            continue;
                        };
                        let shared = Arc::clone(&shared);
                        let stop = stop.clone();
                        let span = tracing::info_span!("signal", %peer);
                        tokio::spawn(async move {
                            let _counted = counted;
                            match handle_connection(stream, shared, stop).await {
                                Ok(()) => tracing::debug!("connection closed"),
                                Err(e) => tracing::debug!("connection ended: {e}"),
                            }
                        }.instrument(span));
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
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
    tracing::info!("signaling server listening on ws://{}", server.local_addr());
    server.run().await
}

struct Shared {
    rooms: Mutex<Rooms>,
    config: ServerConfig,
    connections: std::sync::atomic::AtomicUsize,
}

/// One counted open connection; the count drops with it.
struct ConnectionSlot(Arc<Shared>);

impl ConnectionSlot {
    /// A slot, unless `max_connections` are open already.
    fn take(shared: &Arc<Shared>) -> Option<ConnectionSlot> {
        use std::sync::atomic::Ordering;
        let limit = shared.config.max_connections;
        shared
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < limit).then_some(open + 1)
            })
            .ok()?;
        Some(ConnectionSlot(Arc::clone(shared)))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Shared {
    fn new(config: ServerConfig) -> Arc<Shared> {
        Arc::new(Shared {
            rooms: Mutex::new(Rooms::default()),
            config,
            connections: Default::default(),
        })
    }

    /// The room table. Nothing panics while holding it, but a poisoned lock is still usable:
    /// every operation leaves the table consistent before it can fail.
    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One connection's way out: its queue, and how to tell it to hang up.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Message>,
    kick: Arc<Notify>,
}

impl Outbox {
    /// Queue `msg` without waiting. A full queue means the client is not reading: it is told to
    /// disconnect, and `false` is returned. A closed queue (the connection is ending) is fine.
    fn push(&self, msg: Message) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kick.notify_one();
                false
            }
        }
    }
}

struct Member {
    name: String,
    out: Outbox,
}

/// Room membership: bookkeeping only, no I/O (sending is a non-blocking queue push).
#[derive(Default)]
struct Rooms {
    rooms: HashMap<String, BTreeMap<String, Member>>,
    /// Rooms opened with a secret (forgotten with the room when its last member leaves).
    secrets: HashMap<String, RoomSecret>,
    next_id: u64,
}

type Rejection = (ErrorCode, String);

impl Rooms {
    /// Add a member; everyone already there gets `peer_joined`. The caller queues the returned
    /// welcome before releasing the lock, so it precedes anything else sent to the newcomer.
    fn join(
        &mut self,
        room: &str,
        name: &str,
        create: bool,
        secret: Option<RoomSecret>,
        rejoin_key: Option<RejoinKey>,
        out: Outbox,
    ) -> Result<Welcome, Rejection> {
        for (what, value) in [("room", room), ("name", name)] {
            if value.is_empty() || value.len() > MAX_NAME_BYTES {
                return Err((
                    ErrorCode::BadMessage,
                    format!("{what} must be 1 to {MAX_NAME_BYTES} bytes, got {}", value.len()),
                ));
            }
        }
        let exists = self.rooms.contains_key(room);
        if !create && !exists {
            return Err((
                ErrorCode::UnknownRoom,
                format!("room {room:?} does not exist (join with \"create\": true to open it)"),
            ));
        }
        match (self.secrets.get(room), &secret) {
            (Some(_), None) => {
                return Err((
                    ErrorCode::RoomLocked,
                    format!("room {room:?} needs its secret: ask whoever opened it"),
                ));
            }
            (Some(expected), Some(given)) if !expected.matches(given) => {
                return Err((ErrorCode::RoomLocked, format!("wrong secret for room {room:?}")));
            }
            _ => {}
        }
        if let Some(key) = &rejoin_key
            && !key.is_valid()
        {
            return Err((
                ErrorCode::BadMessage,
                format!(
                    "rejoin_key must be {} to {} printable ASCII characters",
                    RejoinKey::MIN_BYTES,
                    RejoinKey::MAX_BYTES
                ),
            ));
        }
        if !exists && let Some(secret) = secret {
            self.secrets.insert(room.to_string(), secret);
        }
        let id = match &rejoin_key {
            Some(key) => keyed_id(room, key),
            None => {
                self.next_id += 1;
                format!("p{}", self.next_id)
            }
        };
        let members = self.rooms.entry(room.to_string()).or_default();
        let replaced = members.remove(&id);
        let peers: Vec<PeerInfo> = members
            .iter()
            .map(|(id, m)| PeerInfo {
                id: id.clone(),
                name: m.name.clone(),
            })
            .collect();
        let overflowed: Vec<String> = match replaced {
            // The same participant again (it holds the key): its old connection is replaced,
            // and the others keep their calls with it, so they are told nothing.
            Some(previous) => {
                tracing::info!(room, id, "participant rejoined; replacing its previous connection");
                previous.out.kick.notify_one();
                Vec::new()
            }
            None => {
                let joined = frame(&ServerMessage::PeerJoined {
                    id: id.clone(),
                    name: name.to_string(),
                });
                members
                    .iter()
                    .filter(|(_, m)| !m.out.push(joined.clone()))
                    .map(|(id, _)| id.clone())
                    .collect()
            }
        };
        members.insert(
            id.clone(),
            Member {
                name: name.to_string(),
                out,
            },
        );
        self.evict(room, overflowed);
        Ok(Welcome {
            id,
            room: room.to_string(),
            peers,
        })
    }

    /// Remove the member `id` if `out` is still its connection (a rejoin may have replaced it),
    /// and tell the others. Idempotent.
    fn leave(&mut self, room: &str, id: &str, out: &Outbox) {
        let Some(members) = self.rooms.get_mut(room) else {
            return;
        };
        if !members.get(id).is_some_and(|m| Arc::ptr_eq(&m.out.kick, &out.kick)) {
            return;
        }
        members.remove(id);
        let left = frame(&ServerMessage::PeerLeft { id: id.to_string() });
        let overflowed: Vec<String> = members
            .iter()
            .filter(|(_, m)| !m.out.push(left.clone()))
            .map(|(id, _)| id.clone())
            .collect();
        self.forget_if_empty(room);
        self.evict(room, overflowed);
    }

    /// A room exists while someone is in it; its secret goes with it.
    fn forget_if_empty(&mut self, room: &str) {
        if self.rooms.get(room).is_some_and(BTreeMap::is_empty) {
            self.rooms.remove(room);
            self.secrets.remove(room);
        }
    }

    /// Drop members whose queue overflowed (their connections were told to hang up), telling the
    /// rest, which may overflow further queues in turn.
    fn evict(&mut self, room: &str, mut overflowed: Vec<String>) {
        while let Some(id) = overflowed.pop() {
            let Some(members) = self.rooms.get_mut(room) else {
                return;
            };
            let Some(member) = members.remove(&id) else {
                continue;
            };
            tracing::warn!(room, id, name = %member.name, "participant is not reading its messages; disconnecting it");
            let left = frame(&ServerMessage::PeerLeft { id });
            overflowed.extend(
                members
                    .iter()
                    .filter(|(_, m)| !m.out.push(left.clone()))
                    .map(|(id, _)| id.clone()),
            );
            self.forget_if_empty(room);
        }
    }

    fn relay(&mut self, room: &str, to: &str, msg: &ServerMessage) -> Result<(), Rejection> {
        let Some(member) = self.rooms.get(room).and_then(|m| m.get(to)) else {
            return Err((
                ErrorCode::UnknownPeer,
                format!("nobody with id {to:?} is in room {room:?}"),
            ));
        };
        if !member.out.push(frame(msg)) {
            self.evict(room, vec![to.to_string()]);
        }
        Ok(())
    }
}

/// The id of whoever joins `room` with `key`: the same for the same key, unguessable without it.
fn keyed_id(room: &str, key: &RejoinKey) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"natter rejoin\0")
        .chain_update(room.as_bytes())
        .chain_update(b"\0")
        .chain_update(key.0.as_bytes())
        .finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("p{hex}")
}

fn frame(msg: &ServerMessage) -> Message {
    Message::text(msg.to_json())
}

fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.into(),
    }
}

/// Per-connection state.
struct Session {
    joined: Option<(String, String)>, // (room, id)
    tokens: f64,
    last_refill: Instant,
}

impl Session {
    fn allow(&mut self, config: &ServerConfig) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last_refill).as_secs_f64() * config.rate_per_second)
            .min(config.rate_burst);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a connection's read loop ended.
enum End {
    /// The client closed: flush what is queued, then close.
    Graceful,
    /// The server is shutting down: flush, close, and tell no one that this member left (they
    /// did not; calls between members go on and they rejoin the next server).
    ServerStopping,
    /// The client let its queue fill up: close at once without flushing.
    Kicked,
    /// A message above the hard limit: flush the error and a close frame, then drain what the
    /// client still sends, so that closing does not reset the connection before it reads them.
    TooLarge,
    /// A transport error.
    Failed(String),
}

async fn handle_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(HARD_MESSAGE_BYTES))
        .max_frame_size(Some(HARD_MESSAGE_BYTES));
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config))
        .await
        .map_err(|e| format!("websocket handshake failed: {e}"))?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(shared.config.outbound_queue);
    let out = Outbox {
        tx,
        kick: Arc::new(Notify::new()),
    };
    let mut writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink.send(msg).await.is_err() {
                return None;
            }
        }
        let _ = sink.close().await;
        Some(sink)
    });
    let mut session = Session {
        joined: None,
        tokens: shared.config.rate_burst,
        last_refill: Instant::now(),
    };
    let end = loop {
        let incoming = tokio::select! {
            incoming = source.next() => incoming,
            _ = out.kick.notified() => break End::Kicked,
            _ = stop.changed() => break End::ServerStopping,
        };
        let text = match incoming {
            None | Some(Ok(Message::Close(_))) => break End::Graceful,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                let too_large =
                    format!("message of {size} bytes exceeds the {max_size}-byte hard limit; closing the connection");
                out.push(frame(&error(ErrorCode::TooLarge, too_large)));
                out.push(Message::Close(Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: "message too large".into(),
                })));
                break End::TooLarge;
            }
            Some(Err(e)) => break End::Failed(e.to_string()),
            Some(Ok(Message::Text(text))) => Some(text),
            Some(Ok(Message::Binary(_))) => None,
            Some(Ok(_)) => continue, // ping/pong frames are answered by the WebSocket layer
        };
        // Every message gets at most one answer (welcome, pong or error), queued through this
        // slot. Waiting for it only slows down this client's own reading (backpressure on a
        // client that sends faster than it reads its answers); messages relayed from others
        // never wait, they disconnect a client whose queue is full.
        let slot = tokio::select! {
            slot = out.tx.reserve() => match slot {
                Ok(slot) => slot,
                Err(_) => break End::Failed("the connection's writer stopped".into()),
            },
            _ = out.kick.notified() => break End::Kicked,
            _ = stop.changed() => break End::ServerStopping,
        };
        let Some(text) = text else {
            slot.send(frame(&error(
                ErrorCode::BadMessage,
                "binary messages are not supported; send JSON text",
            )));
            continue;
        };
        if !session.allow(&shared.config) {
            slot.send(frame(&error(
                ErrorCode::RateLimited,
                "too many messages; this one was dropped",
            )));
            continue;
        }
        if text.len() > MAX_MESSAGE_BYTES {
            slot.send(frame(&error(
                ErrorCode::TooLarge,
                format!(
                    "message of {} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit",
                    text.len()
                ),
            )));
            continue;
        }
        match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(msg) => apply(&shared, &mut session, &out, slot, msg),
            Err(e) => {
                tracing::debug!("bad message: {e}");
                slot.send(frame(&error(
                    ErrorCode::BadMessage,
                    format!("not a valid signaling message: {e}"),
                )));
            }
        }
    };
    if let Some((room, id)) = session.joined.take()
        && !matches!(end, End::ServerStopping)
    {
        shared.rooms().leave(&room, &id, &out);
        tracing::info!(room, id, "participant disconnected");
    }
    // The rooms no longer hold a sender to this connection; dropping ours lets the writer finish.
    drop(out);
    match end {
        End::Kicked => writer.abort(),
        End::TooLarge => {
            if let Ok(Ok(Some(sink))) = tokio::time::timeout(FLUSH_ON_CLOSE, &mut writer).await
                && let Ok(mut ws) = sink.reunite(source)
            {
                let _ = tokio::time::timeout(FLUSH_ON_CLOSE, drain(ws.get_mut())).await;
            }
            writer.abort();
        }
        End::Graceful | End::ServerStopping | End::Failed(_) => {
            if tokio::time::timeout(FLUSH_ON_CLOSE, &mut writer).await.is_err() {
                writer.abort();
            }
        }
    }
    match end {
        End::Graceful | End::ServerStopping => Ok(()),
        End::TooLarge => Err("closed: message above the hard size limit".into()),
        End::Kicked => Err("disconnected: the client did not read its messages".into()),
        End::Failed(e) => Err(e),
    }
}

/// Read and discard until the peer closes.
async fn drain(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Apply one well-formed client message, answering the sender (if at all) through `slot`.
fn apply(shared: &Shared, session: &mut Session, out: &Outbox, slot: Permit<'_, Message>, msg: ClientMessage) {
    let answer = match msg {
        ClientMessage::Join {
            room,
            name,
            create,
            secret,
            rejoin_key,
        } => {
            if let Some((room, _)) = &session.joined {
                Some(error(
                    ErrorCode::AlreadyJoined,
                    format!("already in room {room:?}; send leave first"),
                ))
            } else {
                let mut rooms = shared.rooms();
                match rooms.join(&room, &name, create, secret, rejoin_key, out.clone()) {
                    Ok(welcome) => {
                        // Queued before the lock is released: nothing can reach the newcomer
                        // before its welcome.
                        slot.send(frame(&ServerMessage::Welcome(welcome.clone())));
                        drop(rooms);
                        tracing::info!(room, id = welcome.id, name, "participant joined");
                        session.joined = Some((room, welcome.id));
                        return;
                    }
                    Err((code, message)) => Some(error(code, message)),
                }
            }
        }
        ClientMessage::Leave {} => match session.joined.take() {
            Some((room, id)) => {
                shared.rooms().leave(&room, &id, out);
                tracing::info!(room, id, "participant left");
                None
            }
            None => Some(error(ErrorCode::NotJoined, "join a room first")),
        },
        ClientMessage::Ping {} => Some(ServerMessage::Pong {}),
        ClientMessage::Offer { to, sdp } => {
            relay(shared, session, "offer", &to, |from| ServerMessage::Offer { from, sdp })
        }
        ClientMessage::Answer { to, sdp } => relay(shared, session, "answer", &to, |from| ServerMessage::Answer {
            from,
            sdp,
        }),
        ClientMessage::Candidate { to, candidate } => relay(shared, session, "candidate", &to, |from| {
            ServerMessage::Candidate { from, candidate }
        }),
        ClientMessage::MediaState {
            to,
            audio_muted,
            video_muted,
        } => relay(shared, session, "media_state", &to, |from| ServerMessage::MediaState {
            from,
            audio_muted,
            video_muted,
        }),
    };
    if let Some(answer) = answer {
        slot.send(frame(&answer));
    }
}

/// Relay to `to` in the sender's room what `make` builds from the sender's id.
fn relay(
    shared: &Shared,
    session: &Session,
    kind: &str,
    to: &str,
    make: impl FnOnce(String) -> ServerMessage,
) -> Option<ServerMessage> {
    let Some((room, from)) = &session.joined else {
        return Some(error(ErrorCode::NotJoined, "join a room first"));
    };
    let msg = make(from.clone());
    tracing::debug!(room, from, to, kind, "relaying");
    tracing::trace!(?msg, "relayed body");
    shared
        .rooms()
        .relay(room, to, &msg)
        .err()
        .map(|(code, message)| error(code, message))
}
