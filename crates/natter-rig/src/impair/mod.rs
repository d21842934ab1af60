//! A user-space UDP proxy to put in front of a TURN server, for links that misbehave in ways the
//! kernel cannot be asked to here (no `tc netem`): tests and the bench (`impaired_*` scenarios)
//! use it to see what a call does over a lossy, slow, jittery or suddenly narrower link. Clients
//! talk to the proxy as if it were the server (give them `turn:127.0.0.1:<proxy port>`); each
//! client address gets its own upstream socket, so the server sees one 5-tuple per client, as
//! without the proxy.
//!
//! Every client has two access links, like a home connection: its uplink (what it sends,
//! [`Direction::Up`]) and its downlink ([`Direction::Down`]), each with its own loss, queue and
//! delay ([`LinkConditions`], see [`link`] for the model) and its own counters. Conditions are set
//! per direction for every client ([`UdpProxy::set`], mid-call too) and start from
//! [`ProxyBuilder`]'s. STUN and TURN control traffic goes through the same links as media: a real
//! link does not spare it. Random parts are seeded ([`ProxyBuilder::seed`]): the same seed gives
//! each client's links the same loss pattern, in the order clients first sent.
//!
//! Before the link, every datagram passes a filter that may drop it ([`UdpProxy::start`]), for
//! tests that break one kind of traffic. Helpers for TURN framing let a filter look inside:
//! `relayed_payload` finds what a client relays (ChannelData or a Send indication), `is_rtp`
//! tells RTP from RTCP, STUN and DTLS.
//!
//! This is a test and bench tool: it lives in `natter-rig`, never in the app.

pub mod link;

pub use link::{LinkConditions, LinkStats, Loss, QueueLimit};

use link::{Counters, Link, Message};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// Decides per datagram: `true` passes it on, `false` drops it.
pub type Filter = dyn Fn(Direction, &[u8]) -> bool + Send + Sync;

/// How a proxy starts: its filter, each direction's conditions, the seed.
pub struct ProxyBuilder {
    upstream: SocketAddr,
    filter: Arc<Filter>,
    conditions: [LinkConditions; 2],
    seed: u64,
}

impl ProxyBuilder {
    /// Drop what `filter` says to (before the links).
    pub fn filter(mut self, filter: impl Fn(Direction, &[u8]) -> bool + Send + Sync + 'static) -> ProxyBuilder {
        self.filter = Arc::new(filter);
        self
    }

    /// Every client's link in `direction` starts with these conditions.
    pub fn conditions(mut self, direction: Direction, conditions: LinkConditions) -> ProxyBuilder {
        self.conditions[direction.index()] = conditions;
        self
    }

    /// Both directions start with these conditions.
    pub fn both(self, conditions: LinkConditions) -> ProxyBuilder {
        self.conditions(Direction::Up, conditions)
            .conditions(Direction::Down, conditions)
    }

    /// The seed of every random choice (loss, jitter); default 1.
    pub fn seed(mut self, seed: u64) -> ProxyBuilder {
        self.seed = seed;
        self
    }

    /// Listen on a free 127.0.0.1 port.
    pub fn start(self) -> UdpProxy {
        let listen = UdpSocket::bind("127.0.0.1:0").expect("bind the proxy");
        listen
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let addr = listen.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: self.upstream,
            filter: self.filter,
            seed: self.seed,
            stop: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            state: Mutex::new(State {
                conditions: self.conditions,
                clients: Vec::new(),
            }),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("udp-proxy".into())
            .spawn(move || forward_up(listen, &thread_shared))
            .expect("start the proxy thread");
        UdpProxy { addr, shared }
    }
}

/// The running proxy; stops (its threads end within 100 ms, what the links hold is dropped)
/// when dropped.
pub struct UdpProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    filter: Arc<Filter>,
    seed: u64,
    stop: AtomicBool,
    /// Datagrams the filter dropped, both directions.
    dropped: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// The conditions of every link in each direction (`Direction::index`).
    conditions: [LinkConditions; 2],
    clients: Vec<Client>,
}

/// Where a link takes datagrams, and its counters.
type LinkEnd = (Sender<Message>, Arc<Counters>);

/// One client's two links.
struct Client {
    addr: SocketAddr,
    links: [LinkEnd; 2],
}

impl UdpProxy {
    /// Forward to `upstream` through `filter`, over perfect links.
    pub fn start(upstream: SocketAddr, filter: impl Fn(Direction, &[u8]) -> bool + Send + Sync + 'static) -> UdpProxy {
        UdpProxy::builder(upstream).filter(filter).start()
    }

    /// A proxy to `upstream` to configure: perfect links and a filter that passes everything
    /// unless told otherwise.
    pub fn builder(upstream: SocketAddr) -> ProxyBuilder {
        ProxyBuilder {
            upstream,
            filter: Arc::new(|_, _| true),
            conditions: [LinkConditions::default(); 2],
            seed: 1,
        }
    }

    /// Datagrams the filter dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// From now on, every client's link in `direction` (and those of clients still to come)
    /// behaves so. Datagrams a link holds keep the times already given them, except that the
    /// bottleneck serialises each next datagram at the new rate.
    pub fn set(&self, direction: Direction, conditions: LinkConditions) {
        let mut state = self.shared.state.lock().unwrap();
        state.conditions[direction.index()] = conditions;
        for client in &state.clients {
            let _ = client.links[direction.index()].0.send(Message::Set(conditions));
        }
    }

    /// [`UdpProxy::set`] both directions.
    pub fn set_both(&self, conditions: LinkConditions) {
        self.set(Direction::Up, conditions);
        self.set(Direction::Down, conditions);
    }

    /// The conditions in force in `direction`.
    pub fn conditions(&self, direction: Direction) -> LinkConditions {
        self.shared.state.lock().unwrap().conditions[direction.index()]
    }

    /// One direction's counters, summed over every client.
    pub fn stats(&self, direction: Direction) -> LinkStats {
        let mut total = LinkStats::default();
        for (_, stats) in self.client_stats() {
            total.add(&stats[direction.index()]);
        }
        total
    }

    /// Each client's counters `[up, down]`, in the order clients first sent.
    pub fn client_stats(&self) -> Vec<(SocketAddr, [LinkStats; 2])> {
        let state = self.shared.state.lock().unwrap();
        state
            .clients
            .iter()
            .map(|c| (c.addr, [c.links[0].1.snapshot(), c.links[1].1.snapshot()]))
            .collect()
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// A client's two links and the sockets behind them: the uplink sends from the client's own
/// upstream socket to the server, the downlink from the proxy's socket to the client.
fn new_client(
    shared: &Arc<Shared>,
    listen: &Arc<UdpSocket>,
    client: SocketAddr,
    index: u64,
) -> (Arc<UdpSocket>, [LinkEnd; 2]) {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("bind an upstream socket"));
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let conditions = shared.state.lock().unwrap().conditions;
    let links = [Direction::Up, Direction::Down].map(|direction| {
        let (tx, rx) = std::sync::mpsc::channel();
        let counters = Arc::new(Counters::default());
        let seed = shared
            .seed
            .wrapping_mul(0x1000_0000_01b3)
            .wrapping_add(index * 2 + direction.index() as u64);
        let name = format!("udp-proxy-{index}-{direction:?}").to_lowercase();
        let upstream = shared.upstream;
        match direction {
            Direction::Up => {
                let out = Arc::clone(&socket);
                Link::spawn(name, conditions[0], seed, rx, Arc::clone(&counters), move |d| {
                    drop(out.send_to(d, upstream))
                });
            }
            Direction::Down => {
                let out = Arc::clone(listen);
                Link::spawn(name, conditions[1], seed, rx, Arc::clone(&counters), move |d| {
                    drop(out.send_to(d, client))
                });
            }
        }
        (tx, counters)
    });
    (socket, links)
}

/// Through `filter` into `link`, counting.
fn offer(shared: &Shared, direction: Direction, datagram: &[u8], link: &LinkEnd) {
    let at = Instant::now();
    link.1.arrived(datagram.len());
    if (shared.filter)(direction, datagram) {
        let _ = link.0.send(Message::Datagram(at, datagram.to_vec()));
    } else {
        link.1.filtered();
        shared.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

fn forward_up(listen: UdpSocket, shared: &Arc<Shared>) {
    let listen = Arc::new(listen);
    let mut uplinks: HashMap<SocketAddr, LinkEnd> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = listen.recv_from(&mut buf) else {
            continue;
        };
        let index = uplinks.len() as u64;
        let uplink = uplinks.entry(client).or_insert_with(|| {
            let (socket, links) = new_client(shared, &listen, client, index);
            let (up, down) = (links[0].clone(), links[1].clone());
            shared
                .state
                .lock()
                .unwrap()
                .clients
                .push(Client { addr: client, links });
            let thread_shared = Arc::clone(shared);
            std::thread::Builder::new()
                .name(format!("udp-proxy-{index}-recv"))
                .spawn(move || forward_down(&socket, &thread_shared, &down))
                .expect("start a proxy thread");
            up
        });
        offer(shared, Direction::Up, &buf[..n], uplink);
    }
}

fn forward_down(upstream: &UdpSocket, shared: &Shared, link: &LinkEnd) {
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok(n) = upstream.recv(&mut buf) else { continue };
        offer(shared, Direction::Down, &buf[..n], link);
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
        let binding = [
            0x00u8, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
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

    /// A proxy in front of a loopback "server" socket, and a client socket talking to it.
    struct Rig {
        proxy: UdpProxy,
        server: UdpSocket,
        client: UdpSocket,
    }

    fn rig(builder: impl FnOnce(SocketAddr) -> ProxyBuilder) -> Rig {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let proxy = builder(server.local_addr().unwrap()).start();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        client.connect(proxy.addr).unwrap();
        Rig { proxy, server, client }
    }

    /// Poll `done` every millisecond for at most 5 s.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A datagram of `len` bytes numbered `seq`.
    fn numbered(seq: u32, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[..4].copy_from_slice(&seq.to_be_bytes());
        d
    }

    fn seq_of(d: &[u8]) -> u32 {
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// Receive on `socket` until `limit` passes with nothing: (when, seq, length) of each.
    fn collect(socket: &UdpSocket, quiet: Duration) -> Vec<(Instant, u32, usize)> {
        socket.set_read_timeout(Some(quiet)).unwrap();
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        while let Ok(n) = socket.recv(&mut buf) {
            got.push((Instant::now(), seq_of(&buf), n));
        }
        got
    }

    /// Bits/s between the first and last arrival (the first one's bytes are not counted: it
    /// marks the start).
    fn arrival_rate(arrivals: &[(Instant, u32, usize)]) -> f64 {
        let (first, last) = (arrivals.first().unwrap().0, arrivals.last().unwrap().0);
        let bytes: usize = arrivals[1..].iter().map(|a| a.2).sum();
        bytes as f64 * 8.0 / (last - first).as_secs_f64()
    }

    #[test]
    fn a_perfect_proxy_passes_everything_and_the_filter_still_drops() {
        let rig =
            rig(|server| UdpProxy::builder(server).filter(|direction, d| direction == Direction::Down || d[0] != 0xff));
        for seq in 0..20 {
            rig.client.send(&numbered(seq, 100)).unwrap();
        }
        rig.client.send(&[0xff; 10]).unwrap();
        let got = collect(&rig.server, Duration::from_millis(300));
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        assert_eq!(rig.proxy.dropped(), 1);
        let up = rig.proxy.stats(Direction::Up);
        assert_eq!(
            (
                up.arrived,
                up.passed,
                up.passed_bytes,
                up.filtered,
                up.lost,
                up.overflowed
            ),
            (21, 20, 2000, 1, 0, 0)
        );
    }

    #[test]
    fn random_loss_stays_within_bounds_over_many_datagrams() {
        let rig = rig(|server| {
            UdpProxy::builder(server)
                .conditions(Direction::Up, LinkConditions::perfect().random_loss(0.10))
                .seed(42)
        });
        let mut received = 0;
        let mut buf = [0u8; 2048];
        // In batches the sockets' buffers hold, each one drained once the link has decided on all of it.
        for batch in 0..30 {
            for i in 0..100 {
                rig.client.send(&numbered(batch * 100 + i, 200)).unwrap();
            }
            let sent = u64::from(batch + 1) * 100;
            wait_until("the link decided every datagram", || {
                let s = rig.proxy.stats(Direction::Up);
                s.arrived == sent && s.in_flight() == 0
            });
            while received < rig.proxy.stats(Direction::Up).passed {
                rig.server.recv(&mut buf).expect("a datagram the link passed");
                received += 1;
            }
        }
        let up = rig.proxy.stats(Direction::Up);
        assert_eq!(up.passed + up.lost, 3000, "{up:?}");
        assert!((240..=360).contains(&up.lost), "lost {} of 3000 at 10 %", up.lost);
        assert_eq!(
            rig.proxy.stats(Direction::Down),
            LinkStats::default(),
            "nothing came back"
        );
    }

    #[test]
    fn a_rate_cap_holds_throughput_and_drops_what_overfills_its_queue() {
        let cap = 2_000_000;
        let rig = rig(|server| {
            UdpProxy::builder(server).conditions(
                Direction::Up,
                LinkConditions::perfect()
                    .rate(cap)
                    .queue(QueueLimit::Time(Duration::from_millis(100))),
            )
        });
        // Offer about twice the cap for 1.5 s: 1000-byte datagrams every 2 ms.
        let started = Instant::now();
        let sender = std::thread::spawn(move || {
            let mut seq = 0;
            while started.elapsed() < Duration::from_millis(1500) {
                rig.client.send(&numbered(seq, 1000)).unwrap();
                seq += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (seq, started.elapsed())
        });
        let got = collect(&rig.server, Duration::from_millis(500));
        let (sent, took) = sender.join().unwrap();
        let offered = f64::from(sent) * 8000.0 / took.as_secs_f64();
        assert!(
            offered > 1.3 * cap as f64,
            "the test must overfill the link: offered {offered:.0} bit/s"
        );
        let rate = arrival_rate(&got);
        assert!(
            (rate - cap as f64).abs() < 0.15 * cap as f64,
            "throughput {rate:.0} bit/s under a {cap} cap"
        );
        let up = rig.proxy.stats(Direction::Up);
        assert!(up.overflowed > 0, "{up:?}");
        assert_eq!(up.passed, got.len() as u64);
        assert_eq!(up.passed + up.overflowed, u64::from(sent), "{up:?}");
        // In order, as a FIFO serves.
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[test]
    fn a_full_queue_drops_at_its_tail() {
        let conditions = LinkConditions::perfect().rate(300_000).queue(QueueLimit::Bytes(10_000));
        let rig = rig(|server| UdpProxy::builder(server).conditions(Direction::Up, conditions));
        // 50 kB at once (what the proxy's socket buffer holds): ~1.3 s at the rate.
        for seq in 0..50 {
            rig.client.send(&numbered(seq, 1000)).unwrap();
        }
        let got = collect(&rig.server, Duration::from_millis(300));
        let up = rig.proxy.stats(Direction::Up);
        assert_eq!(up.arrived, 50, "the burst reached the proxy whole: {up:?}");
        assert_eq!(up.passed + up.overflowed, 50, "{up:?}");
        assert!(
            (10..=13).contains(&up.passed),
            "a 10 kB queue at 300 kbit/s passes ~10 of a 50 kB burst: {up:?}"
        );
        assert_eq!(up.overflowed_bytes, up.overflowed * 1000);
        // The first ones got in; what came later found the queue full.
        assert_eq!(
            got.iter().map(|g| g.1).take(10).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn delay_applies_to_its_direction_only() {
        let delay = Duration::from_millis(60);
        let rig = rig(|server| {
            UdpProxy::builder(server)
                .conditions(Direction::Down, LinkConditions::perfect().delay(delay, Duration::ZERO))
        });
        let mut buf = [0u8; 2048];
        for seq in 0..5 {
            let sent = Instant::now();
            rig.client.send(&numbered(seq, 100)).unwrap();
            let (_, via) = rig.server.recv_from(&mut buf).unwrap();
            let up = sent.elapsed();
            let echoed = Instant::now();
            rig.server.send_to(&numbered(seq, 100), via).unwrap();
            rig.client.recv(&mut buf).unwrap();
            let down = echoed.elapsed();
            assert!(up < Duration::from_millis(20), "the uplink is perfect: {up:?}");
            assert!(
                down >= delay && down < delay + Duration::from_millis(30),
                "the downlink delays by {delay:?}: {down:?}"
            );
        }
        let down = rig.proxy.stats(Direction::Down);
        assert_eq!((down.arrived, down.passed), (5, 5));
    }

    /// 200 numbered datagrams 1 ms apart through 40 ± 20 ms: (seq, one-way delay) as received.
    fn through_jitter(reorder: bool) -> Vec<(u32, Duration)> {
        let (delay, jitter) = (Duration::from_millis(40), Duration::from_millis(20));
        let conditions = if reorder {
            LinkConditions::perfect().delay(delay, jitter)
        } else {
            LinkConditions::perfect().delay_in_order(delay, jitter)
        };
        let Rig { proxy, server, client } =
            rig(|server| UdpProxy::builder(server).conditions(Direction::Up, conditions).seed(9));
        let sender = std::thread::spawn(move || {
            let mut sent_at = Vec::new();
            for seq in 0..200 {
                sent_at.push(Instant::now());
                client.send(&numbered(seq, 100)).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            sent_at
        });
        let got = collect(&server, Duration::from_millis(300));
        let sent_at = sender.join().unwrap();
        assert_eq!(got.len(), 200, "delay loses nothing: {:?}", proxy.stats(Direction::Up));
        got.iter()
            .map(|(at, seq, _)| (*seq, *at - sent_at[*seq as usize]))
            .collect()
    }

    #[test]
    fn jitter_reorders_unless_told_to_keep_order() {
        let reordered = through_jitter(true);
        let inversions = reordered.windows(2).filter(|w| w[0].0 > w[1].0).count();
        assert!(
            inversions > 20,
            "jitter of ±20 ms over 1 ms spacing reorders: {inversions} inversions"
        );
        for (seq, delay) in &reordered {
            assert!(
                *delay >= Duration::from_millis(20) && *delay < Duration::from_millis(80),
                "#{seq}: {delay:?}"
            );
        }
        let in_order = through_jitter(false);
        assert!(in_order.windows(2).all(|w| w[0].0 < w[1].0), "kept in order");
        let delays: Vec<Duration> = in_order.iter().map(|d| d.1).collect();
        let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(
            *min >= Duration::from_millis(20) && *max - *min > Duration::from_millis(10),
            "still jittered: {min:?}..{max:?}"
        );
    }

    #[test]
    fn a_rate_change_mid_run_takes_effect() {
        let queue = QueueLimit::Time(Duration::from_millis(100));
        let rig = rig(|server| UdpProxy::builder(server).both(LinkConditions::perfect().rate(2_000_000).queue(queue)));
        let Rig { proxy, server, client } = rig;
        let proxy = Arc::new(proxy);
        let changed = Arc::new(AtomicU64::new(u64::MAX));
        // 1 Mbit/s offered (1000 bytes every 8 ms): 0.8 s under the 2 Mbit/s cap, then 1.2 s under 300 kbit/s.
        let sender = {
            let (proxy, changed) = (Arc::clone(&proxy), Arc::clone(&changed));
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut seq = 0u32;
                while started.elapsed() < Duration::from_millis(2000) {
                    if changed.load(Ordering::Relaxed) == u64::MAX && started.elapsed() >= Duration::from_millis(800) {
                        let before = proxy.stats(Direction::Up);
                        assert_eq!(before.overflowed, 0, "2 Mbit/s carries 1 Mbit/s: {before:?}");
                        proxy.set(Direction::Up, LinkConditions::perfect().rate(300_000).queue(queue));
                        changed.store(u64::from(seq), Ordering::Relaxed);
                    }
                    client.send(&numbered(seq, 1000)).unwrap();
                    seq += 1;
                    std::thread::sleep(Duration::from_millis(8));
                }
            })
        };
        let got = collect(&server, Duration::from_millis(500));
        sender.join().unwrap();
        let first_after = changed.load(Ordering::Relaxed) as u32;
        let (before, after): (Vec<(Instant, u32, usize)>, Vec<_>) = got.iter().partition(|g| g.1 < first_after);
        assert!(
            before.windows(2).all(|w| w[1].1 == w[0].1 + 1),
            "nothing lost before the change"
        );
        let rate = arrival_rate(&after);
        assert!(
            (rate - 300_000.0).abs() < 0.15 * 300_000.0,
            "{rate:.0} bit/s after the change to 300 kbit/s"
        );
        let up = proxy.stats(Direction::Up);
        assert!(up.overflowed > 0, "{up:?}");
        assert_eq!(proxy.conditions(Direction::Up).rate_bps, Some(300_000));
        assert_eq!(
            proxy.conditions(Direction::Down).rate_bps,
            Some(2_000_000),
            "the other direction is untouched"
        );
    }

    #[test]
    fn each_client_has_its_own_links_and_counters() {
        let rig = rig(UdpProxy::builder);
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        rig.client.send(&numbered(0, 100)).unwrap();
        wait_until("the first client is known", || rig.proxy.client_stats().len() == 1);
        for seq in 0..3 {
            other.send_to(&numbered(seq, 50), rig.proxy.addr).unwrap();
        }
        let got = collect(&rig.server, Duration::from_millis(300));
        assert_eq!(got.len(), 4);
        let clients = rig.proxy.client_stats();
        assert_eq!(clients.len(), 2);
        assert_eq!(clients[0].0, rig.client.local_addr().unwrap());
        assert_eq!(
            (
                clients[0].1[0].passed,
                clients[1].1[0].passed,
                clients[1].1[0].passed_bytes
            ),
            (1, 3, 150)
        );
    }
}
