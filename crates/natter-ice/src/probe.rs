//! The ICE-server health prober, sans-IO: one `Probe` checks one server over one transport.
//! Feed it time (`handle_timeout`), what arrived (`handle_input`, one whole STUN message) and
//! transport failures (`handle_transport_failure`); it tells you what to send (`poll_transmit`),
//! when to wake it (`poll_timeout`) and, at the end, a `ProbeResult` whose status names the cause.
//!
//! STUN: a Binding request → RTT and mapped address. TURN: an Allocate, the 401 challenge, the
//! authenticated Allocate → relayed address (then a Refresh with lifetime 0 releases it), or the
//! exact failure (RFC 8656 §7.4). Retransmits over UDP follow RFC 8489's doubling RTO, with a
//! short budget: a user waits for this, and a dead server must be named within seconds.

use crate::secret::Secret;
use crate::url::{IceUrl, Scheme};
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{
    BINDING_REQUEST, CLASS_ERROR_RESPONSE, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter, METHOD_ALLOCATE,
    METHOD_BINDING, METHOD_REFRESH, Message, MessageType, Setter, TransactionId,
};
use rtc_stun::textattrs::{Nonce, Realm, Username};
use rtc_stun::xoraddr::XorMappedAddress;
use rtc_turn::proto::lifetime::Lifetime;
use rtc_turn::proto::relayaddr::RelayedAddress;
use rtc_turn::proto::reqtrans::RequestedTransport;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How the prober reaches a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ProbeTransport {
    Udp,
    Tcp,
    Tls,
}

impl std::fmt::Display for ProbeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProbeTransport::Udp => "UDP",
            ProbeTransport::Tcp => "TCP",
            ProbeTransport::Tls => "TLS",
        })
    }
}

impl ProbeTransport {
    pub fn is_reliable(self) -> bool {
        !matches!(self, ProbeTransport::Udp)
    }
}

/// Credentials for a TURN Allocate.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCredentials {
    pub username: String,
    pub password: Secret,
}

/// One thing to probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub url: IceUrl,
    pub transport: ProbeTransport,
    /// `Some` for turn:/turns: URLs.
    pub credentials: Option<TurnCredentials>,
}

/// What a probe found. Serialized names are a contract (report, `natter probe --json`, UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// The server answered correctly (STUN binding, or TURN allocation granted).
    Ok,
    /// 401 after sending credentials: wrong username/password, or an expired REST credential.
    AuthFailed,
    /// 403: the server's policy forbids this.
    Forbidden,
    /// 437: an allocation already exists for this 5-tuple.
    AllocationMismatch,
    /// 441: the credentials do not match the allocation.
    WrongCredentials,
    /// 442: the server does not support the requested transport.
    UnsupportedTransport,
    /// 486: allocation quota reached for this user.
    Quota,
    /// 508: the server is out of capacity.
    Capacity,
    /// Nothing could reach the server: connection refused, ICMP unreachable, DNS failure.
    Unreachable,
    /// Requests went out and nothing came back.
    Timeout,
    /// The TLS handshake failed (certificate invalid or untrusted, protocol mismatch).
    TlsFailed,
    /// Something answered, but not as a STUN/TURN server would.
    ProtocolError,
    /// Any other STUN error response (5xx etc.).
    ServerError,
}

impl ProbeStatus {
    pub fn is_ok(self) -> bool {
        self == ProbeStatus::Ok
    }

    /// The wire name (same as the serialized form): "ok", "auth_failed", …
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Ok => "ok",
            ProbeStatus::AuthFailed => "auth_failed",
            ProbeStatus::Forbidden => "forbidden",
            ProbeStatus::AllocationMismatch => "allocation_mismatch",
            ProbeStatus::WrongCredentials => "wrong_credentials",
            ProbeStatus::UnsupportedTransport => "unsupported_transport",
            ProbeStatus::Quota => "quota",
            ProbeStatus::Capacity => "capacity",
            ProbeStatus::Unreachable => "unreachable",
            ProbeStatus::Timeout => "timeout",
            ProbeStatus::TlsFailed => "tls_failed",
            ProbeStatus::ProtocolError => "protocol_error",
            ProbeStatus::ServerError => "server_error",
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
pub struct ProbeResult {
    pub status: ProbeStatus,
    /// Round trip of the request that got the final answer.
    pub rtt_ms: Option<f64>,
    /// Our address as the server saw it (XOR-MAPPED-ADDRESS).
    #[ts(type = "string | null")]
    pub mapped_address: Option<SocketAddr>,
    /// The relay address a TURN server allocated.
    #[ts(type = "string | null")]
    pub relayed_address: Option<SocketAddr>,
    /// Plain words: what failed and what to do. `None` when ok.
    pub error: Option<String>,
    /// Requests sent (including retransmits).
    pub attempts: u32,
    /// From the first request to the result.
    pub elapsed_ms: f64,
}

/// A failure of the transport below STUN, reported by the I/O driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportFailure {
    /// TCP connection refused / UDP port unreachable (ICMP).
    Refused,
    /// No route, DNS failure, network down — with the system's words.
    Unreachable(String),
    /// TLS handshake failed, with the library's words.
    Tls(String),
    /// The server closed the connection before answering.
    Closed,
}

/// Retransmission and give-up policy.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTiming {
    /// First retransmission timeout (UDP); doubles after each try.
    pub initial_rto: Duration,
    /// Requests sent at most per transaction over UDP.
    pub max_attempts: u32,
    /// A probe that has no answer after this long is a timeout, whatever the transport.
    pub give_up_after: Duration,
}

impl Default for ProbeTiming {
    /// 4 tries at 0, 200, 600, 1400 ms; timeout at 2.4 s.
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_millis(200),
            max_attempts: 4,
            give_up_after: Duration::from_millis(2400),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Binding,
    /// First Allocate, without credentials, to learn realm and nonce.
    AllocateChallenge,
    /// Allocate with credentials.
    AllocateAuthenticated {
        realm: String,
        nonce: String,
    },
    Done,
}

/// One probe of one server over one transport. See the module docs for the protocol.
pub struct Probe {
    spec: ProbeSpec,
    timing: ProbeTiming,
    crypto: std::sync::Arc<dyn rtc_crypto::RTCCryptoProvider>,
    phase: Phase,
    transaction: TransactionId,
    request: Vec<u8>,
    started: Instant,
    last_sent: Instant,
    next_retransmit: Option<Instant>,
    sent_in_transaction: u32,
    attempts: u32,
    stale_nonce_retries: u32,
    outbox: VecDeque<Vec<u8>>,
    result: Option<ProbeResult>,
}

const MAX_STALE_NONCE_RETRIES: u32 = 2;

impl Probe {
    /// Start a probe at `now`; the first request is ready in `poll_transmit`.
    pub fn new(spec: ProbeSpec, timing: ProbeTiming, now: Instant) -> Probe {
        let phase = match spec.url.scheme {
            Scheme::Stun | Scheme::Stuns => Phase::Binding,
            Scheme::Turn | Scheme::Turns => Phase::AllocateChallenge,
        };
        let crypto = rtc_crypto::default_provider().expect("the ring crypto provider is compiled in");
        let mut probe = Probe {
            spec,
            timing,
            crypto,
            phase,
            transaction: TransactionId::default(),
            request: Vec::new(),
            started: now,
            last_sent: now,
            next_retransmit: None,
            sent_in_transaction: 0,
            attempts: 0,
            stale_nonce_retries: 0,
            outbox: VecDeque::new(),
            result: None,
        };
        probe.start_transaction(now);
        probe
    }

    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    /// The next message to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// When `handle_timeout` must be called next; `None` once the probe is finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.result.is_some() {
            return None;
        }
        let give_up = self.started + self.timing.give_up_after;
        Some(self.next_retransmit.map_or(give_up, |t| t.min(give_up)))
    }

    /// The result, once known.
    pub fn result(&self) -> Option<&ProbeResult> {
        self.result.as_ref()
    }

    pub fn is_done(&self) -> bool {
        self.result.is_some()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.result.is_some() {
            return;
        }
        if now >= self.started + self.timing.give_up_after {
            let what = if self.attempts == 1 {
                "1 request".to_string()
            } else {
                format!("{} requests", self.attempts)
            };
            let message = format!(
                "no answer to {what} in {:.1} s: the server is down, or {} traffic to it is blocked",
                self.timing.give_up_after.as_secs_f64(),
                self.spec.transport
            );
            self.finish(ProbeStatus::Timeout, Some(message), None, now);
            return;
        }
        if let Some(at) = self.next_retransmit
            && now >= at
        {
            if self.sent_in_transaction < self.timing.max_attempts {
                self.send_current(now);
            } else {
                self.next_retransmit = None; // wait for the give-up deadline
            }
        }
    }

    pub fn handle_transport_failure(&mut self, failure: TransportFailure, now: Instant) {
        if self.result.is_some() {
            return;
        }
        let (status, message) = match failure {
            TransportFailure::Refused => (
                ProbeStatus::Unreachable,
                format!(
                    "connection refused: nothing listens on {}:{} over {}",
                    self.spec.url.host, self.spec.url.port, self.spec.transport
                ),
            ),
            TransportFailure::Unreachable(why) => (
                ProbeStatus::Unreachable,
                format!("cannot reach {}: {why}", self.spec.url.host),
            ),
            TransportFailure::Tls(why) => (ProbeStatus::TlsFailed, format!("TLS handshake failed: {why}")),
            TransportFailure::Closed => (
                ProbeStatus::ProtocolError,
                "the server closed the connection without answering".to_string(),
            ),
        };
        self.finish(status, Some(message), None, now);
    }

    /// One complete message from the server (a datagram, or one framed message on a stream).
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.result.is_some() {
            return;
        }
        let mut msg = Message::new();
        if msg.unmarshal_binary(data).is_err() {
            self.finish(
                ProbeStatus::ProtocolError,
                Some(format!(
                    "the reply ({} bytes) is not STUN: this is not a STUN/TURN server",
                    data.len()
                )),
                None,
                now,
            );
            return;
        }
        if msg.transaction_id != self.transaction {
            return; // a late answer to an earlier transaction, or to someone else
        }
        let rtt = now.duration_since(self.last_sent);
        let class = msg.typ.class;
        match (&self.phase, class) {
            (Phase::Binding, c) if c == CLASS_SUCCESS_RESPONSE => {
                let mut mapped = XorMappedAddress::default();
                let mapped = mapped
                    .get_from(&msg)
                    .ok()
                    .map(|_| SocketAddr::new(mapped.ip, mapped.port));
                self.finish_ok(rtt, mapped, None, now);
            }
            (Phase::AllocateChallenge, c) if c == CLASS_SUCCESS_RESPONSE => {
                // A TURN server that allocates without authentication.
                let (mapped, relayed) = addresses(&msg);
                self.finish_ok(rtt, mapped, relayed, now);
            }
            (Phase::AllocateAuthenticated { realm, nonce }, c) if c == CLASS_SUCCESS_RESPONSE => {
                let (mapped, relayed) = addresses(&msg);
                let (realm, nonce) = (realm.clone(), nonce.clone());
                self.queue_release(&realm, &nonce);
                self.finish_ok(rtt, mapped, relayed, now);
            }
            (phase, c) if c == CLASS_ERROR_RESPONSE => {
                let mut error = ErrorCodeAttribute::default();
                if error.get_from(&msg).is_err() {
                    self.finish(
                        ProbeStatus::ProtocolError,
                        Some("error response without an error code".into()),
                        Some(rtt),
                        now,
                    );
                    return;
                }
                let code = error.code.0;
                let reason = String::from_utf8_lossy(&error.reason).into_owned();
                match (phase, code) {
                    (Phase::AllocateChallenge, 401) => {
                        let realm = Realm::get_from_as(&msg, rtc_stun::attributes::ATTR_REALM).map(|r| r.text);
                        let nonce = Nonce::get_from_as(&msg, rtc_stun::attributes::ATTR_NONCE).map(|n| n.text);
                        match (realm, nonce) {
                            (Ok(realm), Ok(nonce)) => {
                                self.phase = Phase::AllocateAuthenticated { realm, nonce };
                                self.start_transaction(now);
                            }
                            _ => self.finish(
                                ProbeStatus::ProtocolError,
                                Some("401 challenge without REALM and NONCE".into()),
                                Some(rtt),
                                now,
                            ),
                        }
                    }
                    (Phase::AllocateAuthenticated { realm, .. }, 438)
                        if self.stale_nonce_retries < MAX_STALE_NONCE_RETRIES =>
                    {
                        // Stale nonce: retry with the new one (never shown to the user).
                        self.stale_nonce_retries += 1;
                        let realm = realm.clone();
                        match Nonce::get_from_as(&msg, rtc_stun::attributes::ATTR_NONCE) {
                            Ok(nonce) => {
                                self.phase = Phase::AllocateAuthenticated {
                                    realm,
                                    nonce: nonce.text,
                                };
                                self.start_transaction(now);
                            }
                            Err(_) => self.finish(
                                ProbeStatus::ProtocolError,
                                Some("438 stale nonce without a new NONCE".into()),
                                Some(rtt),
                                now,
                            ),
                        }
                    }
                    (_, code) => {
                        let (status, words) = explain(
                            code,
                            &reason,
                            self.spec.credentials.as_ref().map(|c| c.username.as_str()),
                        );
                        self.finish(status, Some(words), Some(rtt), now);
                    }
                }
            }
            _ => self.finish(
                ProbeStatus::ProtocolError,
                Some(format!("unexpected {} in answer to our request", msg.typ)),
                Some(rtt),
                now,
            ),
        }
    }

    fn start_transaction(&mut self, now: Instant) {
        let transaction = TransactionId::new();
        let built = match &self.phase {
            Phase::Binding => build(&[Box::new(transaction), Box::new(BINDING_REQUEST), Box::new(FINGERPRINT)]),
            Phase::AllocateChallenge => build(&[
                Box::new(transaction),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
                Box::new(RequestedTransport {
                    protocol: rtc_turn::proto::PROTO_UDP,
                }),
                Box::new(FINGERPRINT),
            ]),
            Phase::AllocateAuthenticated { realm, nonce } => {
                let Some(credentials) = self.spec.credentials.clone() else {
                    self.finish(
                        ProbeStatus::AuthFailed,
                        Some("the server asks for credentials and none are configured".into()),
                        None,
                        now,
                    );
                    return;
                };
                let integrity = match MessageIntegrity::new_long_term_integrity_with_provider(
                    credentials.username.clone(),
                    realm.clone(),
                    credentials.password.expose().to_string(),
                    self.crypto.crypto(),
                ) {
                    Ok(i) => i,
                    Err(e) => {
                        self.finish(
                            ProbeStatus::ProtocolError,
                            Some(format!("cannot sign the request: {e}")),
                            None,
                            now,
                        );
                        return;
                    }
                };
                build(&[
                    Box::new(transaction),
                    Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
                    Box::new(RequestedTransport {
                        protocol: rtc_turn::proto::PROTO_UDP,
                    }),
                    Box::new(Username::new(rtc_stun::attributes::ATTR_USERNAME, credentials.username)),
                    Box::new(Realm::new(rtc_stun::attributes::ATTR_REALM, realm.clone())),
                    Box::new(Nonce::new(rtc_stun::attributes::ATTR_NONCE, nonce.clone())),
                    Box::new(integrity),
                    Box::new(FINGERPRINT),
                ])
            }
            Phase::Done => return,
        };
        match built {
            Ok(bytes) => {
                self.transaction = transaction;
                self.request = bytes;
                self.sent_in_transaction = 0;
                self.send_current(now);
            }
            Err(e) => self.finish(
                ProbeStatus::ProtocolError,
                Some(format!("cannot build the request: {e}")),
                None,
                now,
            ),
        }
    }

    fn send_current(&mut self, now: Instant) {
        self.outbox.push_back(self.request.clone());
        self.attempts += 1;
        self.sent_in_transaction += 1;
        self.last_sent = now;
        self.next_retransmit = if self.spec.transport.is_reliable() {
            None // TCP/TLS retransmit themselves; only the give-up deadline applies
        } else {
            // RFC 8489 §6.2.1: RTO doubles after each transmission.
            Some(now + self.timing.initial_rto * 2u32.pow(self.sent_in_transaction - 1))
        };
    }

    /// Refresh with lifetime 0 releases the allocation we just proved we can get.
    fn queue_release(&mut self, realm: &str, nonce: &str) {
        let Some(credentials) = self.spec.credentials.clone() else {
            return;
        };
        let Ok(integrity) = MessageIntegrity::new_long_term_integrity_with_provider(
            credentials.username.clone(),
            realm.to_string(),
            credentials.password.expose().to_string(),
            self.crypto.crypto(),
        ) else {
            return;
        };
        if let Ok(bytes) = build(&[
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_REFRESH, CLASS_REQUEST)),
            Box::new(Lifetime(Duration::ZERO)),
            Box::new(Username::new(rtc_stun::attributes::ATTR_USERNAME, credentials.username)),
            Box::new(Realm::new(rtc_stun::attributes::ATTR_REALM, realm.to_string())),
            Box::new(Nonce::new(rtc_stun::attributes::ATTR_NONCE, nonce.to_string())),
            Box::new(integrity),
            Box::new(FINGERPRINT),
        ]) {
            self.outbox.push_back(bytes);
        }
    }

    fn finish_ok(&mut self, rtt: Duration, mapped: Option<SocketAddr>, relayed: Option<SocketAddr>, now: Instant) {
        self.finish(ProbeStatus::Ok, None, Some(rtt), now);
        if let Some(result) = &mut self.result {
            result.mapped_address = mapped;
            result.relayed_address = relayed;
        }
    }

    fn finish(&mut self, status: ProbeStatus, error: Option<String>, rtt: Option<Duration>, now: Instant) {
        self.phase = Phase::Done;
        self.next_retransmit = None;
        self.result = Some(ProbeResult {
            status,
            rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
            mapped_address: None,
            relayed_address: None,
            error,
            attempts: self.attempts,
            elapsed_ms: now.duration_since(self.started).as_secs_f64() * 1000.0,
        });
    }
}

fn build(setters: &[Box<dyn Setter + '_>]) -> Result<Vec<u8>, String> {
    let mut msg = Message::new();
    msg.build(setters).map_err(|e| e.to_string())?;
    Ok(msg.raw)
}

fn addresses(msg: &Message) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let mut mapped = XorMappedAddress::default();
    let mapped = mapped
        .get_from(msg)
        .ok()
        .map(|_| SocketAddr::new(mapped.ip, mapped.port));
    let mut relayed = RelayedAddress::default();
    let relayed = relayed
        .get_from(msg)
        .ok()
        .map(|_| SocketAddr::new(relayed.ip, relayed.port));
    (mapped, relayed)
}

/// The user-facing meaning of a STUN/TURN error code (RFC 8656 §7.4; table in NOTES.md).
fn explain(code: u16, reason: &str, username: Option<&str>) -> (ProbeStatus, String) {
    let user = username.map(|u| format!(" for user {u:?}")).unwrap_or_default();
    match code {
        401 => (
            ProbeStatus::AuthFailed,
            format!("401 Unauthorized: wrong username/password{user}, or an expired time-limited credential"),
        ),
        403 => (
            ProbeStatus::Forbidden,
            format!("403 Forbidden: the server's policy refuses this request ({reason})"),
        ),
        437 => (
            ProbeStatus::AllocationMismatch,
            "437 Allocation Mismatch: an allocation already exists from this address; retry from another port".into(),
        ),
        441 => (
            ProbeStatus::WrongCredentials,
            format!("441 Wrong Credentials{user}: they do not match the allocation"),
        ),
        442 => (
            ProbeStatus::UnsupportedTransport,
            "442 Unsupported Transport Protocol: the server is misconfigured for UDP relaying".into(),
        ),
        486 => (
            ProbeStatus::Quota,
            format!("486 Allocation Quota Reached{user}: too many allocations at once; wait a minute"),
        ),
        508 => (
            ProbeStatus::Capacity,
            "508 Insufficient Capacity: the server is full; try the next server".into(),
        ),
        _ => (ProbeStatus::ServerError, format!("error {code} {reason}")),
    }
}

/// Silence unused-import lints for constants used only in matches above.
const _: rtc_stun::message::Method = METHOD_BINDING;

#[cfg(test)]
mod tests {
    //! The state machine on virtual time: no sockets, no sleeps.
    use super::*;
    use rtc_stun::error_code::ErrorCode;

    fn spec(url: &str, transport: ProbeTransport) -> ProbeSpec {
        let url = IceUrl::parse(url).unwrap();
        let credentials = url.is_turn().then(|| TurnCredentials {
            username: "alice".into(),
            password: Secret::new("pw"),
        });
        ProbeSpec {
            url,
            transport,
            credentials,
        }
    }

    fn request_of(bytes: &[u8]) -> Message {
        let mut m = Message::new();
        m.unmarshal_binary(bytes).unwrap();
        m
    }

    fn reply(
        to: &Message,
        method: rtc_stun::message::Method,
        class: rtc_stun::message::MessageClass,
        extra: Vec<Box<dyn Setter>>,
    ) -> Vec<u8> {
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(to.transaction_id), Box::new(MessageType::new(method, class))];
        setters.extend(extra);
        setters.push(Box::new(FINGERPRINT));
        build(&setters).unwrap()
    }

    fn error_reply(to: &Message, code: u16, extra: Vec<Box<dyn Setter>>) -> Vec<u8> {
        let mut setters: Vec<Box<dyn Setter>> = vec![Box::new(ErrorCodeAttribute {
            code: ErrorCode(code),
            reason: b"x".to_vec(),
        })];
        setters.extend(extra);
        reply(to, to.typ.method, CLASS_ERROR_RESPONSE, setters)
    }

    fn challenge(realm: &str, nonce: &str) -> Vec<Box<dyn Setter>> {
        vec![
            Box::new(Realm::new(rtc_stun::attributes::ATTR_REALM, realm.into())),
            Box::new(Nonce::new(rtc_stun::attributes::ATTR_NONCE, nonce.into())),
        ]
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn udp_retransmits_with_doubling_rto_then_times_out() {
        let t0 = Instant::now();
        let mut probe = Probe::new(
            spec("stun:192.0.2.1:3478", ProbeTransport::Udp),
            ProbeTiming::default(),
            t0,
        );
        let mut sent_at = Vec::new();
        let mut now = t0;
        while !probe.is_done() {
            while probe.poll_transmit().is_some() {
                sent_at.push(now.duration_since(t0).as_millis());
            }
            now = probe.poll_timeout().unwrap();
            probe.handle_timeout(now);
        }
        assert_eq!(sent_at, vec![0, 200, 600, 1400]);
        let result = probe.result().unwrap();
        assert_eq!(result.status, ProbeStatus::Timeout);
        assert_eq!(result.attempts, 4);
        assert_eq!(now.duration_since(t0), 2400 * MS);
        assert!(
            result
                .error
                .as_deref()
                .unwrap()
                .contains("no answer to 4 requests in 2.4 s"),
            "{:?}",
            result.error
        );
    }

    #[test]
    fn tcp_sends_once_and_gives_up_at_the_deadline() {
        let t0 = Instant::now();
        let mut probe = Probe::new(
            spec("turn:192.0.2.1:3478?transport=tcp", ProbeTransport::Tcp),
            ProbeTiming::default(),
            t0,
        );
        assert!(probe.poll_transmit().is_some());
        assert_eq!(probe.poll_timeout(), Some(t0 + 2400 * MS));
        probe.handle_timeout(t0 + 2399 * MS);
        assert!(!probe.is_done());
        assert!(probe.poll_transmit().is_none());
        probe.handle_timeout(t0 + 2400 * MS);
        assert_eq!(probe.result().unwrap().status, ProbeStatus::Timeout);
        assert_eq!(probe.result().unwrap().attempts, 1);
    }

    #[test]
    fn stun_binding_success_gives_rtt_and_mapped_address() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("stun:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        let request = request_of(&probe.poll_transmit().unwrap());
        assert_eq!(request.typ, BINDING_REQUEST);
        // A stray answer to another transaction is ignored.
        let mut other = Message::new();
        other
            .build(&[Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)])
            .unwrap();
        probe.handle_input(
            &reply(&other, METHOD_BINDING, CLASS_SUCCESS_RESPONSE, vec![]),
            t0 + 5 * MS,
        );
        assert!(!probe.is_done());
        let mapped = XorMappedAddress {
            ip: "198.51.100.7".parse().unwrap(),
            port: 40000,
        };
        probe.handle_input(
            &reply(&request, METHOD_BINDING, CLASS_SUCCESS_RESPONSE, vec![Box::new(mapped)]),
            t0 + 12 * MS,
        );
        let result = probe.result().unwrap();
        assert_eq!(result.status, ProbeStatus::Ok);
        assert_eq!(result.rtt_ms, Some(12.0));
        assert_eq!(result.mapped_address, Some("198.51.100.7:40000".parse().unwrap()));
        assert_eq!(probe.poll_timeout(), None);
    }

    #[test]
    fn rtt_is_measured_from_the_last_retransmission() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("stun:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        let request = request_of(&probe.poll_transmit().unwrap());
        probe.handle_timeout(t0 + 200 * MS);
        assert!(probe.poll_transmit().is_some());
        probe.handle_input(
            &reply(&request, METHOD_BINDING, CLASS_SUCCESS_RESPONSE, vec![]),
            t0 + 230 * MS,
        );
        assert_eq!(probe.result().unwrap().rtt_ms, Some(30.0));
        assert_eq!(probe.result().unwrap().attempts, 2);
    }

    /// Drive a TURN probe through the 401 challenge; returns the authenticated request.
    fn through_challenge(probe: &mut Probe, now: Instant) -> Message {
        let first = request_of(&probe.poll_transmit().unwrap());
        assert_eq!(first.typ, MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST));
        assert!(
            first.get(rtc_stun::attributes::ATTR_USERNAME).is_err(),
            "first Allocate must be anonymous"
        );
        probe.handle_input(&error_reply(&first, 401, challenge("natter.test", "n1")), now);
        let second = request_of(&probe.poll_transmit().expect("authenticated Allocate"));
        let user = Username::get_from_as(&second, rtc_stun::attributes::ATTR_USERNAME).unwrap();
        assert_eq!(user.text, "alice");
        second
    }

    #[test]
    fn turn_allocation_succeeds_then_is_released() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("turn:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        let auth = through_challenge(&mut probe, t0 + 3 * MS);
        let relayed = RelayedAddress {
            ip: "192.0.2.1".parse().unwrap(),
            port: 49152,
        };
        probe.handle_input(
            &reply(&auth, METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE, vec![Box::new(relayed)]),
            t0 + 7 * MS,
        );
        let result = probe.result().unwrap().clone();
        assert_eq!(result.status, ProbeStatus::Ok);
        assert_eq!(result.relayed_address, Some("192.0.2.1:49152".parse().unwrap()));
        assert_eq!(result.rtt_ms, Some(4.0));
        let release = request_of(&probe.poll_transmit().expect("a Refresh releasing the allocation"));
        assert_eq!(release.typ, MessageType::new(METHOD_REFRESH, CLASS_REQUEST));
        let mut lifetime = Lifetime::default();
        lifetime.get_from(&release).unwrap();
        assert_eq!(lifetime.0, Duration::ZERO);
    }

    #[test]
    fn a_401_after_credentials_is_auth_failed() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("turn:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        let auth = through_challenge(&mut probe, t0);
        probe.handle_input(&error_reply(&auth, 401, challenge("natter.test", "n2")), t0 + MS);
        let result = probe.result().unwrap();
        assert_eq!(result.status, ProbeStatus::AuthFailed);
        assert!(
            result
                .error
                .as_deref()
                .unwrap()
                .contains("wrong username/password for user \"alice\""),
            "{:?}",
            result.error
        );
        assert!(
            !result.error.as_deref().unwrap().contains("pw"),
            "the password must not appear"
        );
    }

    #[test]
    fn a_stale_nonce_is_retried_silently() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("turn:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        let auth = through_challenge(&mut probe, t0);
        probe.handle_input(&error_reply(&auth, 438, challenge("natter.test", "n-fresh")), t0 + MS);
        assert!(!probe.is_done());
        let retry = request_of(&probe.poll_transmit().expect("retry with the new nonce"));
        assert_eq!(
            Nonce::get_from_as(&retry, rtc_stun::attributes::ATTR_NONCE)
                .unwrap()
                .text,
            "n-fresh"
        );
        probe.handle_input(
            &reply(&retry, METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE, vec![]),
            t0 + 2 * MS,
        );
        assert_eq!(probe.result().unwrap().status, ProbeStatus::Ok);
    }

    #[test]
    fn turn_error_codes_map_to_statuses() {
        for (code, status) in [
            (403, ProbeStatus::Forbidden),
            (437, ProbeStatus::AllocationMismatch),
            (441, ProbeStatus::WrongCredentials),
            (442, ProbeStatus::UnsupportedTransport),
            (486, ProbeStatus::Quota),
            (508, ProbeStatus::Capacity),
            (500, ProbeStatus::ServerError),
        ] {
            let t0 = Instant::now();
            let mut probe = Probe::new(spec("turn:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
            let auth = through_challenge(&mut probe, t0);
            probe.handle_input(&error_reply(&auth, code, vec![]), t0 + MS);
            assert_eq!(probe.result().unwrap().status, status, "code {code}");
        }
    }

    #[test]
    fn status_names_match_their_serialized_form() {
        for status in [
            ProbeStatus::Ok,
            ProbeStatus::AuthFailed,
            ProbeStatus::Forbidden,
            ProbeStatus::AllocationMismatch,
            ProbeStatus::WrongCredentials,
            ProbeStatus::UnsupportedTransport,
            ProbeStatus::Quota,
            ProbeStatus::Capacity,
            ProbeStatus::Unreachable,
            ProbeStatus::Timeout,
            ProbeStatus::TlsFailed,
            ProbeStatus::ProtocolError,
            ProbeStatus::ServerError,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn garbage_and_transport_failures_are_named() {
        let t0 = Instant::now();
        let mut probe = Probe::new(spec("stun:192.0.2.1", ProbeTransport::Udp), ProbeTiming::default(), t0);
        probe.poll_transmit();
        probe.handle_input(b"HTTP/1.1 400 Bad Request\r\n\r\n", t0 + MS);
        assert_eq!(probe.result().unwrap().status, ProbeStatus::ProtocolError);

        let mut refused = Probe::new(
            spec("turn:192.0.2.1?transport=tcp", ProbeTransport::Tcp),
            ProbeTiming::default(),
            t0,
        );
        refused.handle_transport_failure(TransportFailure::Refused, t0 + MS);
        assert_eq!(refused.result().unwrap().status, ProbeStatus::Unreachable);
        assert!(
            refused
                .result()
                .unwrap()
                .error
                .as_deref()
                .unwrap()
                .contains("connection refused")
        );

        let mut tls = Probe::new(spec("turns:192.0.2.1", ProbeTransport::Tls), ProbeTiming::default(), t0);
        tls.handle_transport_failure(
            TransportFailure::Tls("invalid peer certificate: UnknownIssuer".into()),
            t0 + MS,
        );
        assert_eq!(tls.result().unwrap().status, ProbeStatus::TlsFailed);
    }
}
