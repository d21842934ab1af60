//! Writes fuzz/seeds/probe_response/* and fuzz/seeds/signal_message/* (see fuzz/README.md for the
//! probe_response input format). Deterministic: fixed transaction ids, no clock.

use natter_signal::protocol::{ClientMessage, ErrorCode, IceCandidate, PeerInfo, ServerMessage, Welcome};
use rtc_stun::error_code::{ErrorCode as StunCode, ErrorCodeAttribute};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE, METHOD_BINDING, Message, MessageType, Setter,
    TransactionId,
};
use rtc_stun::textattrs::{Nonce, Realm, TextAttribute};
use rtc_stun::xoraddr::XorMappedAddress;
use rtc_turn::proto::lifetime::Lifetime;
use rtc_turn::proto::relayaddr::RelayedAddress;
use std::path::Path;
use std::time::Duration;

const TXID: TransactionId = TransactionId([7; 12]);

/// A whole reply as a server sends it.
fn message(typ: MessageType, attrs: Vec<Box<dyn Setter>>) -> Vec<u8> {
    let mut setters: Vec<Box<dyn Setter>> = vec![Box::new(TXID), Box::new(typ)];
    setters.extend(attrs);
    setters.push(Box::new(FINGERPRINT));
    let mut m = Message::new();
    m.build(&setters).expect("builds");
    m.raw
}

/// Frame: [op][len u16 BE][payload].
fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![op];
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// op 1: the reply's type and attributes, behind a header with the prober's transaction id.
fn reply(raw: &[u8]) -> Vec<u8> {
    let mut payload = raw[..2].to_vec();
    payload.extend_from_slice(&raw[20..]);
    frame(1, &payload)
}

fn text(kind: rtc_stun::attributes::AttrType, s: &str) -> Box<dyn Setter> {
    Box::new(TextAttribute::new(kind, s.to_string()))
}

fn challenge(code: u16, reason: &str, nonce: &str) -> Vec<u8> {
    message(
        MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE),
        vec![
            Box::new(ErrorCodeAttribute {
                code: StunCode(code),
                reason: reason.as_bytes().to_vec(),
            }),
            Box::new(Realm::new(rtc_stun::attributes::ATTR_REALM, "natter.test".into())),
            Box::new(Nonce::new(rtc_stun::attributes::ATTR_NONCE, nonce.into())),
        ],
    )
}

fn error(code: u16, reason: &str) -> Vec<u8> {
    message(
        MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE),
        vec![Box::new(ErrorCodeAttribute {
            code: StunCode(code),
            reason: reason.as_bytes().to_vec(),
        })],
    )
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };

    // probe_response: byte 0 = server (0 stun UDP, 1 turn UDP, 2 turn TCP, 3 turns TLS no creds).
    let mapped = || -> Box<dyn Setter> {
        Box::new(XorMappedAddress {
            ip: "198.51.100.7".parse().unwrap(),
            port: 40000,
        })
    };
    let binding_ok = message(MessageType::new(METHOD_BINDING, CLASS_SUCCESS_RESPONSE), vec![mapped()]);
    let binding_ok_v6 = message(
        MessageType::new(METHOD_BINDING, CLASS_SUCCESS_RESPONSE),
        vec![Box::new(XorMappedAddress {
            ip: "2001:db8::7".parse().unwrap(),
            port: 40000,
        })],
    );
    let allocate_ok = message(
        MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE),
        vec![
            Box::new(RelayedAddress {
                ip: "192.0.2.1".parse().unwrap(),
                port: 49152,
            }),
            mapped(),
            Box::new(Lifetime(Duration::from_secs(600))),
            text(rtc_stun::attributes::ATTR_SOFTWARE, "Coturn-4.6.2 'Gorst'"),
        ],
    );
    let unauthorized = challenge(401, "Unauthorized", "n1");
    let stale = challenge(438, "Stale Nonce", "n2");

    let cat = |parts: &[Vec<u8>]| parts.concat();
    write(
        "probe_response",
        "stun_binding_ok.bin",
        &cat(&[vec![0], reply(&binding_ok)]),
    );
    write(
        "probe_response",
        "stun_binding_ok_ipv6.bin",
        &cat(&[vec![0], reply(&binding_ok_v6)]),
    );
    write(
        "probe_response",
        "stun_stray_reply_raw.bin",
        &cat(&[vec![0], frame(0, &binding_ok)]),
    );
    write(
        "probe_response",
        "stun_retransmit_then_ok.bin",
        &cat(&[vec![0], frame(2, &[]), frame(2, &[]), reply(&binding_ok)]),
    );
    write(
        "probe_response",
        "stun_timeout.bin",
        &cat(&[
            vec![0],
            frame(2, &[]),
            frame(2, &[]),
            frame(2, &[]),
            frame(2, &[]),
            frame(2, &[]),
        ]),
    );
    write(
        "probe_response",
        "stun_not_stun.bin",
        &cat(&[vec![0], frame(0, b"HTTP/1.1 400 Bad Request\r\n\r\n")]),
    );
    write(
        "probe_response",
        "turn_udp_allocate_ok.bin",
        &cat(&[vec![1], reply(&unauthorized), reply(&allocate_ok)]),
    );
    write(
        "probe_response",
        "turn_tcp_allocate_ok.bin",
        &cat(&[vec![2], reply(&unauthorized), reply(&allocate_ok)]),
    );
    write(
        "probe_response",
        "turn_udp_stale_nonce_then_ok.bin",
        &cat(&[vec![1], reply(&unauthorized), reply(&stale), reply(&allocate_ok)]),
    );
    write(
        "probe_response",
        "turn_udp_auth_failed.bin",
        &cat(&[vec![1], reply(&unauthorized), reply(&unauthorized)]),
    );
    write(
        "probe_response",
        "turn_udp_quota.bin",
        &cat(&[
            vec![1],
            reply(&unauthorized),
            reply(&error(486, "Allocation Quota Reached")),
        ]),
    );
    write(
        "probe_response",
        "turn_udp_forbidden.bin",
        &cat(&[vec![1], reply(&unauthorized), reply(&error(403, "Forbidden"))]),
    );
    write(
        "probe_response",
        "turns_no_credentials.bin",
        &cat(&[vec![3], reply(&unauthorized)]),
    );
    write(
        "probe_response",
        "turn_tcp_refused.bin",
        &cat(&[vec![2], frame(3, &[0])]),
    );
    write(
        "probe_response",
        "turns_tls_failed.bin",
        &cat(&[vec![3], frame(3, b"\x02invalid peer certificate: UnknownIssuer")]),
    );

    // signal_message: each message type, as the peers and the server write them.
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: Some("abcd".into()),
    };
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_string();
    let client = [
        ("leave", ClientMessage::Leave {}),
        (
            "offer",
            ClientMessage::Offer {
                to: "p2".into(),
                sdp: sdp.clone(),
            },
        ),
        (
            "answer",
            ClientMessage::Answer {
                to: "p1".into(),
                sdp: sdp.clone(),
            },
        ),
        (
            "candidate",
            ClientMessage::Candidate {
                to: "p2".into(),
                candidate: candidate.clone(),
            },
        ),
        (
            "media_state",
            ClientMessage::MediaState {
                to: "p2".into(),
                audio_muted: true,
                video_muted: false,
            },
        ),
        ("ping", ClientMessage::Ping {}),
    ];
    for (name, msg) in client {
        write(
            "signal_message",
            &format!("client_{name}.json"),
            msg.to_json().as_bytes(),
        );
    }
    let server = [
        (
            "welcome",
            ServerMessage::Welcome(Welcome {
                id: "p2".into(),
                room: "standup".into(),
                peers: vec![PeerInfo {
                    id: "p1".into(),
                    name: "Ada".into(),
                }],
            }),
        ),
        (
            "peer_joined",
            ServerMessage::PeerJoined {
                id: "p3".into(),
                name: "Grace".into(),
            },
        ),
        ("peer_left", ServerMessage::PeerLeft { id: "p3".into() }),
        (
            "offer",
            ServerMessage::Offer {
                from: "p1".into(),
                sdp: sdp.clone(),
            },
        ),
        ("answer", ServerMessage::Answer { from: "p2".into(), sdp }),
        (
            "candidate",
            ServerMessage::Candidate {
                from: "p1".into(),
                candidate,
            },
        ),
        (
            "media_state",
            ServerMessage::MediaState {
                from: "p1".into(),
                audio_muted: false,
                video_muted: true,
            },
        ),
        ("pong", ServerMessage::Pong {}),
        (
            "error",
            ServerMessage::Error {
                code: ErrorCode::RoomLocked,
                message: "the room is locked".into(),
            },
        ),
    ];
    for (name, msg) in server {
        write(
            "signal_message",
            &format!("server_{name}.json"),
            msg.to_json().as_bytes(),
        );
    }
    // Joins are written out (their optional fields grow over time; these stay what a client sends).
    write(
        "signal_message",
        "client_join.json",
        br#"{"type":"join","room":"standup","name":"Ada"}"#,
    );
    write(
        "signal_message",
        "client_join_secret.json",
        br#"{"type":"join","room":"standup","name":"Ada","create":false,"secret":"s3cret","rejoin_key":"0123456789abcdef0123456789abcdef"}"#,
    );
    // The browser's shape of an end-of-candidates (nulls), as the protocol accepts it.
    write(
        "signal_message",
        "client_candidate_browser_nulls.json",
        br#"{"type":"candidate","to":"p1","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":"abcd"}}"#,
    );
    println!("seeds written under {}", root.display());
}
