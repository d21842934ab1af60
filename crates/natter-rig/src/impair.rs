//! A user-space UDP proxy to put in front of a TURN server, for links that misbehave in ways the
//! kernel cannot be asked to here (no `tc netem`): every datagram passes a filter that may drop
//! it, per direction. Clients talk to the proxy as if it were the server (give them
//! `turn:127.0.0.1:<proxy port>`); each client address gets its own upstream socket, so the
//! server sees one 5-tuple per client, as without the proxy.
//!
//! Helpers for TURN framing let a filter look inside: `relayed_payload` finds what a client
//! relays (ChannelData or a Send indication), `is_rtp` tells RTP from RTCP, STUN and DTLS.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

/// Decides per datagram: `true` passes it on, `false` drops it.
pub type Filter = dyn Fn(Direction, &[u8]) -> bool + Send + Sync;

/// The running proxy; stops (its threads end within 100 ms) when dropped.
pub struct UdpProxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
}

impl UdpProxy {
    /// Listen on a free 127.0.0.1 port and forward to `upstream` through `filter`.
    pub fn start(upstream: SocketAddr, filter: impl Fn(Direction, &[u8]) -> bool + Send + Sync + 'static) -> UdpProxy {
        let listen = UdpSocket::bind("127.0.0.1:0").expect("bind the proxy");
        listen.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
        let addr = listen.local_addr().expect("proxy address");
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let filter: Arc<Filter> = Arc::new(filter);
        let (thread_stop, thread_dropped) = (Arc::clone(&stop), Arc::clone(&dropped));
        std::thread::Builder::new()
            .name("udp-proxy".into())
            .spawn(move || forward_up(listen, upstream, filter, thread_stop, thread_dropped))
            .expect("start the proxy thread");
        UdpProxy { addr, stop, dropped }
    }

    /// Datagrams the filter dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn forward_up(listen: UdpSocket, upstream: SocketAddr, filter: Arc<Filter>, stop: Arc<AtomicBool>, dropped: Arc<AtomicU64>) {
    let listen = Arc::new(listen);
    let clients: Mutex<HashMap<SocketAddr, Arc<UdpSocket>>> = Mutex::new(HashMap::new());
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = listen.recv_from(&mut buf) else { continue };
        let socket = {
            let mut clients = clients.lock().unwrap();
            Arc::clone(clients.entry(client).or_insert_with(|| {
                let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("bind an upstream socket"));
                socket.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
                let (down, listen, filter, stop, dropped) = (Arc::clone(&socket), Arc::clone(&listen), Arc::clone(&filter), Arc::clone(&stop), Arc::clone(&dropped));
                std::thread::spawn(move || forward_down(&down, &listen, client, &*filter, &stop, &dropped));
                socket
            }))
        };
        if filter(Direction::Up, &buf[..n]) {
            let _ = socket.send_to(&buf[..n], upstream);
        } else {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn forward_down(upstream: &UdpSocket, listen: &UdpSocket, client: SocketAddr, filter: &Filter, stop: &AtomicBool, dropped: &AtomicU64) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = upstream.recv(&mut buf) else { continue };
        if filter(Direction::Down, &buf[..n]) {
            let _ = listen.send_to(&buf[..n], client);
        } else {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a TURN client datagram relays to its peer: the data of a ChannelData message
/// (RFC 8656 §12) or the DATA attribute of a Send/Data indication. `None` for anything else
/// (STUN requests and responses: allocations, permissions, bindings).
pub fn relayed_payload(datagram: &[u8]) -> Option<&[u8]> {
    match datagram.first()? {
        0x40..=0x7f => {
            let len = u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]) as usize;
            datagram.get(4..4 + len)
        }
        0x00 | 0x01 => {
            // STUN: Send (0x0016) or Data (0x0017) indication, attributes after the 20-byte header.
            let kind = u16::from_be_bytes([datagram[0], *datagram.get(1)?]);
            if kind != 0x0016 && kind != 0x0017 {
                return None;
            }
            let mut at = 20;
            while at + 4 <= datagram.len() {
                let attr = u16::from_be_bytes([datagram[at], datagram[at + 1]]);
                let len = u16::from_be_bytes([datagram[at + 2], datagram[at + 3]]) as usize;
                if attr == 0x0013 {
                    return datagram.get(at + 4..at + 4 + len);
                }
                at += 4 + len.div_ceil(4) * 4;
            }
            None
        }
        _ => None,
    }
}

/// An RTP packet (not RTCP, STUN or DTLS), by RFC 7983 / RFC 5761 demultiplexing.
pub fn is_rtp(packet: &[u8]) -> bool {
    matches!(packet, [128..=191, second, ..] if !(192..=223).contains(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_payloads_are_found_in_channel_data_and_send_indications() {
        let rtp = [0x80u8, 102, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        let mut channel = vec![0x40, 0x00, 0x00, rtp.len() as u8];
        channel.extend_from_slice(&rtp);
        assert_eq!(relayed_payload(&channel), Some(&rtp[..]));
        let mut send = vec![0x00, 0x16, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        send.extend_from_slice(&[0u8; 12]);
        send.extend_from_slice(&[0x00, 0x12, 0x00, 0x08, 0, 1, 2, 3, 4, 5, 6, 7]); // XOR-PEER-ADDRESS
        send.extend_from_slice(&[0x00, 0x13, 0x00, rtp.len() as u8]);
        send.extend_from_slice(&rtp);
        assert_eq!(relayed_payload(&send), Some(&rtp[..]));
        let binding = [0x00u8, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(relayed_payload(&binding), None);
    }

    #[test]
    fn rtp_is_told_from_rtcp_dtls_and_stun() {
        assert!(is_rtp(&[0x80, 102, 0, 0]));
        assert!(is_rtp(&[0x80, 102 | 0x80, 0, 0]), "marker bit set");
        assert!(!is_rtp(&[0x81, 200, 0, 0]), "RTCP sender report");
        assert!(!is_rtp(&[22, 254, 253]), "DTLS");
        assert!(!is_rtp(&[0x00, 0x01]), "STUN");
    }
}
