//! TURN over TCP and TLS for calls. The `webrtc` crate gathers relay candidates over UDP only, so
//! for every `turn:…?transport=tcp` and `turns:` server Natter runs a small local bridge: a UDP
//! socket on 127.0.0.1 that the crate's TURN client talks to as if it were the server, and one
//! TCP/TLS connection to the real server per client socket (an allocation belongs to its 5-tuple).
//!
//! What crosses the bridge is plain RFC 8656: STUN messages and ChannelData. Over a stream,
//! ChannelData is padded to 4 bytes (§12.5): the bridge adds the padding towards the server and
//! strips it towards the client. The allocation itself is a UDP relay on the server, made over
//! the TCP/TLS control connection — exactly what a UDP-blocked client needs.
//!
//! An allocation lives and dies with its connection. When an established connection ends (the
//! server closed it, the network dropped it), the bridge does not quietly open a new one for the
//! same client: the server would see a stranger asking about an allocation it never made (438,
//! 400…). It drops that client's datagrams instead, so its relay candidate fails like a dead
//! UDP server's would, and the fallback policy moves the call (an ICE restart gathers from fresh
//! sockets, which get fresh connections). Only a connection that never came up is retried on the
//! client's next datagram (the server may have been restarting).
//!
//! The bridges belong to whoever holds the `Bridges` value (a headless run, a desktop call: it
//! travels in `LinkSettings`): started on first use, shared by that engine's connections, and
//! stopped, with their server connections, when the last clone is dropped.

use crate::health::{ProbeOptions, tls_connector};
use natter_ice::{IceUrl, Scheme};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One running bridge; dropping it stops it (and its connections to the server).
struct Bridge {
    local: SocketAddr,
    transport: &'static str,
    original: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Its clients' senders go with the task, so each server connection ends too.
        self.task.abort();
    }
}

/// The running bridges of one engine, by the URL the `webrtc` crate is given for each.
#[derive(Clone, Default)]
pub struct Bridges(Arc<Mutex<HashMap<String, Bridge>>>);

impl std::fmt::Debug for Bridges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().map(|b| b.len()).unwrap_or_default();
        write!(f, "Bridges({count} running)")
    }
}

/// Does this URL need a bridge (TURN over TCP or TLS)?
pub fn needs_bridge(url: &IceUrl) -> bool {
    match url.scheme {
        Scheme::Turns => true,
        Scheme::Turn => url.transport == Some(natter_ice::Transport::Tcp),
        _ => false,
    }
}

impl Bridges {
    /// The URL to give the `webrtc` crate for `url`: a local UDP bridge for TURN over TCP/TLS
    /// (started on first use, shared afterwards), the URL itself otherwise. Must run inside tokio.
    pub fn agent_url(&self, url: &IceUrl) -> String {
        if !needs_bridge(url) {
            return url.original.clone();
        }
        let mut bridges = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bridge) = bridges.values().find(|b| b.original == url.original) {
            return format!("turn:{}?transport=udp", bridge.local);
        }
        match start(url) {
            Ok(bridge) => {
                let local = format!("turn:{}?transport=udp", bridge.local);
                tracing::info!(
                    "TURN over {} to {} goes through the local bridge {local}",
                    bridge.transport.to_uppercase(),
                    url.original
                );
                bridges.insert(local.clone(), bridge);
                local
            }
            Err(e) => {
                tracing::warn!("cannot bridge {}: {e}; the agent will skip it", url.original);
                url.original.clone()
            }
        }
    }

    /// For a relay URL seen in the stack's stats: the URL the user configured and how it is reached.
    pub fn original_of(&self, agent_url: &str) -> Option<(String, &'static str)> {
        let bridges = self.0.lock().unwrap_or_else(|p| p.into_inner());
        bridges.get(agent_url).map(|b| (b.original.clone(), b.transport))
    }
}

fn start(url: &IceUrl) -> std::io::Result<Bridge> {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    std_socket.set_nonblocking(true)?;
    let socket = Arc::new(UdpSocket::from_std(std_socket)?);
    let local = socket.local_addr()?;
    let tls = url.scheme == Scheme::Turns;
    let transport = if tls { "tls" } else { "tcp" };
    let target = (url.host.clone(), url.port);
    let connector = if tls {
        Some(tls_connector(&ProbeOptions::from_env()).map_err(std::io::Error::other)?)
    } else {
        None
    };
    let task = tokio::spawn(serve(socket, target, connector));
    Ok(Bridge {
        local,
        transport,
        original: url.original.clone(),
        task,
    })
}

/// The bridge's side of one client socket.
struct Client {
    to_server: mpsc::Sender<Vec<u8>>,
    /// Set once the TCP (and TLS) connection is up: from then on its end is final.
    established: Arc<AtomicBool>,
}

async fn serve(socket: Arc<UdpSocket>, target: (String, u16), tls: Option<tokio_rustls::TlsConnector>) {
    let mut clients: HashMap<SocketAddr, Client> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let datagram = buf[..n].to_vec();
        if let Some(client) = clients.get(&from) {
            match client.to_server.try_send(datagram.clone()) {
                Ok(()) => continue,
                // A burst larger than the queue: drop, as a congested UDP path would.
                Err(mpsc::error::TrySendError::Full(_)) => continue,
                // The connection ended after it was up: its allocation is gone with it.
                Err(mpsc::error::TrySendError::Closed(_)) if client.established.load(Ordering::Relaxed) => continue,
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        tracing::debug!(client = %from, retry = clients.contains_key(&from), "bridge: connecting to {}:{}", target.0, target.1);
        let (to_server, rx) = mpsc::channel(256);
        let _ = to_server.try_send(datagram);
        let established = Arc::new(AtomicBool::new(false));
        clients.insert(
            from,
            Client {
                to_server,
                established: Arc::clone(&established),
            },
        );
        tokio::spawn(connection(
            Arc::clone(&socket),
            from,
            target.clone(),
            tls.clone(),
            rx,
            established,
        ));
    }
}

async fn connection(
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    target: (String, u16),
    tls: Option<tokio_rustls::TlsConnector>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    established: Arc<AtomicBool>,
) {
    let tcp = match TcpStream::connect((target.0.as_str(), target.1)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("bridge to {}:{}: {e}", target.0, target.1);
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(tcp),
        Some(connector) => {
            let Ok(name) = rustls_pki_types::ServerName::try_from(target.0.clone()) else {
                return;
            };
            match connector.connect(name, tcp).await {
                Ok(s) => Box::new(s),
                Err(e) => {
                    tracing::warn!("TLS to {}:{} failed: {e}", target.0, target.1);
                    return;
                }
            }
        }
    };
    established.store(true, Ordering::Relaxed);
    let (mut reader, mut writer) = tokio::io::split(stream);
    let to_server = async move {
        while let Some(datagram) = rx.recv().await {
            if writer.write_all(&datagram).await.is_err() {
                return;
            }
            // ChannelData is padded to a multiple of 4 on streams.
            let padding = natter_ice::framing::stream_padding(&datagram);
            if padding > 0 && writer.write_all(&[0u8; 3][..padding]).await.is_err() {
                return;
            }
        }
    };
    let to_client = async move {
        loop {
            let mut header = [0u8; 4];
            if reader.read_exact(&mut header).await.is_err() {
                return;
            }
            let (length, padding) = match natter_ice::framing::framed(header) {
                natter_ice::framing::Framed::Stun { length } => (length, 0),
                natter_ice::framing::Framed::ChannelData { length, padding } => (length, padding),
                natter_ice::framing::Framed::NotTurn => return, // drop the connection
            };
            let mut frame = vec![0u8; length + padding];
            frame[..4].copy_from_slice(&header);
            if reader.read_exact(&mut frame[4..]).await.is_err() {
                return;
            }
            frame.truncate(length);
            if socket.send_to(&frame, client).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = to_server => {}
        _ = to_client => tracing::info!(
            %client,
            "TURN server {}:{} closed the connection; the relay candidate made over it is gone",
            target.0, target.1
        ),
    }
}
