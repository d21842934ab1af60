//! The prober's STUN/TURN response handling (`natter_ice::probe::Probe`, sans-IO), driven like
//! the socket code drives it, with the replies, timeouts and transport failures chosen by the
//! fuzzer. Must never panic; any outcome is fine. Also checks what the state machine promises:
//! everything it sends is a STUN request, it sends at most 4 transactions × 4 tries + 1 release,
//! and once it has a result the result never changes and it asks for no more timeouts.
//!
//! Input (see fuzz/README.md):
//!   byte 0            which server: 0 stun: UDP, 1 turn: UDP with credentials,
//!                     2 turn: TCP with credentials, 3 turns: TLS without credentials (mod 4)
//!   then frames       [op: u8][len: u16 big-endian][payload: len bytes, cut at end of input]
//!     op % 4 == 0     payload is a whole reply, given as is (`handle_input`)
//!     op % 4 == 1     payload is [message type: 2 bytes][attributes...]: sent behind a valid
//!                     STUN header carrying the transaction id of the prober's last request, so
//!                     the fuzzer gets past the transaction check and into the attribute handling
//!     op % 4 == 2     time: empty payload = jump to `poll_timeout()`, else advance by the first
//!                     payload byte(s) as milliseconds (u16 BE); then `handle_timeout`
//!     op % 4 == 3     transport failure, kind = payload[0] % 4, text = the rest of the payload
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_ice::probe::{
    Probe, ProbeResult, ProbeSpec, ProbeTiming, ProbeTransport, TransportFailure, TurnCredentials,
};
use natter_ice::{IceUrl, Secret};
use rtc_stun::message::{CLASS_REQUEST, MAGIC_COOKIE, Message};
use std::time::{Duration, Instant};

/// 4 transactions at most (challenge, authenticated, 2 stale-nonce retries) × 4 tries over UDP,
/// plus the Refresh that releases an allocation.
const MAX_SENT: usize = 4 * 4 + 1;

fn spec(which: u8) -> ProbeSpec {
    let credentials = Some(TurnCredentials {
        username: "alice".into(),
        password: Secret::new("pw"),
    });
    let (url, transport, credentials) = match which % 4 {
        0 => ("stun:192.0.2.1:3478", ProbeTransport::Udp, None),
        1 => ("turn:192.0.2.1:3478", ProbeTransport::Udp, credentials),
        2 => ("turn:192.0.2.1:3478?transport=tcp", ProbeTransport::Tcp, credentials),
        _ => ("turns:192.0.2.1:5349", ProbeTransport::Tls, None),
    };
    ProbeSpec {
        url: IceUrl::parse(url).unwrap(),
        transport,
        credentials,
    }
}

struct Driver {
    probe: Probe,
    now: Instant,
    /// Transaction id of the last request the prober sent.
    transaction: [u8; 12],
    sent: usize,
    result: Option<ProbeResult>,
}

impl Driver {
    /// What the socket code does after every call: send what the prober queued.
    fn drain(&mut self) {
        while let Some(bytes) = self.probe.poll_transmit() {
            let mut msg = Message::new();
            msg.unmarshal_binary(&bytes).expect("the prober sends STUN");
            assert_eq!(msg.typ.class, CLASS_REQUEST, "the prober sends requests only");
            self.transaction = msg.transaction_id.0;
            self.sent += 1;
        }
        assert!(self.sent <= MAX_SENT, "{} messages sent", self.sent);
        if let Some(result) = self.probe.result() {
            assert!(
                self.probe.poll_timeout().is_none(),
                "a finished probe asks for a timeout"
            );
            assert!(result.attempts as usize <= MAX_SENT - 1, "{} attempts", result.attempts);
            match &self.result {
                Some(first) => assert_eq!(first, result, "the result changed after it was final"),
                None => self.result = Some(result.clone()),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, mut rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let probe = Probe::new(spec(which), ProbeTiming::default(), now);
    let mut driver = Driver {
        probe,
        now,
        transaction: [0; 12],
        sent: 0,
        result: None,
    };
    driver.drain();

    while rest.len() >= 3 {
        let op = rest[0];
        let len = u16::from_be_bytes([rest[1], rest[2]]) as usize;
        let end = (3 + len).min(rest.len());
        let payload = &rest[3..end];
        rest = &rest[end..];
        match op % 4 {
            0 => driver.probe.handle_input(payload, driver.now),
            1 => {
                let (typ, attributes) = match payload {
                    [a, b, attributes @ ..] => ([*a, *b], attributes),
                    _ => ([0x01, 0x01], payload), // Binding success
                };
                let mut reply = Vec::with_capacity(20 + attributes.len());
                reply.extend_from_slice(&typ);
                reply.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
                reply.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
                reply.extend_from_slice(&driver.transaction);
                reply.extend_from_slice(attributes);
                driver.probe.handle_input(&reply, driver.now);
            }
            2 => {
                driver.now = match payload {
                    [] => driver.probe.poll_timeout().unwrap_or(driver.now),
                    [ms] => driver.now + Duration::from_millis(u64::from(*ms)),
                    [a, b, ..] => driver.now + Duration::from_millis(u64::from(u16::from_be_bytes([*a, *b]))),
                };
                driver.probe.handle_timeout(driver.now);
            }
            _ => {
                let words = String::from_utf8_lossy(payload.get(1..).unwrap_or_default()).into_owned();
                let failure = match payload.first().copied().unwrap_or(0) % 4 {
                    0 => TransportFailure::Refused,
                    1 => TransportFailure::Unreachable(words),
                    2 => TransportFailure::Tls(words),
                    _ => TransportFailure::Closed,
                };
                driver.probe.handle_transport_failure(failure, driver.now);
            }
        }
        driver.drain();
    }
});
