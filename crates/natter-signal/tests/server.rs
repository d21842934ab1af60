//! The signaling server over real WebSockets on loopback: relaying, membership, and bad input
//! that gets a clear error while the server and everyone else keep working.

use futures_util::{SinkExt, StreamExt};
use natter_signal::SignalError;
use natter_signal::client::{JoinRequest, SignalClient};
use natter_signal::protocol::{ClientMessage, ErrorCode, IceCandidate, RejoinKey, RoomSecret, ServerMessage};
use natter_signal::server::{ServerConfig, ServerHandle, SignalServer};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(5);

async fn start() -> ServerHandle {
    SignalServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn()
}

async fn next(rx: &mut mpsc::Receiver<ServerMessage>) -> ServerMessage {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a message within 5 s")
        .expect("connection open")
}

/// A raw WebSocket client, to send what our own client never would.
struct Raw(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Raw {
    async fn connect(url: &str) -> Raw {
        Raw(tokio_tungstenite::connect_async(url).await.unwrap().0)
    }
    async fn send_text(&mut self, text: &str) {
        self.0.send(Message::text(text.to_string())).await.unwrap();
    }
    async fn recv(&mut self) -> ServerMessage {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("reply within 5 s")
                .expect("open")
                .unwrap();
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }
    async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error { code: got, message } => {
                assert_eq!(got, code, "{message}");
                message
            }
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn two_clients_meet_and_relay_offer_answer_and_candidates() {
    let server = start().await;
    let (alice, welcome_a, mut rx_a) = SignalClient::join(&server.url(), "room", "alice").await.unwrap();
    assert!(welcome_a.peers.is_empty());
    let (bob, welcome_b, mut rx_b) = SignalClient::join(&server.url(), "room", "bob").await.unwrap();
    assert_eq!(welcome_b.peers.len(), 1);
    assert_eq!(welcome_b.peers[0].id, alice.id());
    assert_eq!(welcome_b.peers[0].name, "alice");
    assert_ne!(alice.id(), bob.id());
    assert_eq!(
        next(&mut rx_a).await,
        ServerMessage::PeerJoined {
            id: bob.id().into(),
            name: "bob".into()
        }
    );

    bob.send(ClientMessage::Offer {
        to: alice.id().into(),
        sdp: "v=0 offer".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut rx_a).await,
        ServerMessage::Offer {
            from: bob.id().into(),
            sdp: "v=0 offer".into()
        }
    );
    alice
        .send(ClientMessage::Answer {
            to: bob.id().into(),
            sdp: "v=0 answer".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        next(&mut rx_b).await,
        ServerMessage::Answer {
            from: alice.id().into(),
            sdp: "v=0 answer".into()
        }
    );
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: None,
    };
    alice
        .send(ClientMessage::Candidate {
            to: bob.id().into(),
            candidate: candidate.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        next(&mut rx_b).await,
        ServerMessage::Candidate {
            from: alice.id().into(),
            candidate
        }
    );

    bob.leave().await.unwrap();
    assert_eq!(next(&mut rx_a).await, ServerMessage::PeerLeft { id: bob.id().into() });
}

#[tokio::test]
async fn a_dropped_connection_counts_as_leaving() {
    let server = start().await;
    let (_alice, _, mut rx_a) = SignalClient::join(&server.url(), "r", "alice").await.unwrap();
    let mut raw = Raw::connect(&server.url()).await;
    raw.send_text(r#"{"type":"join","room":"r","name":"raw"}"#).await;
    let ServerMessage::Welcome(welcome) = raw.recv().await else {
        panic!("no welcome")
    };
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));
    drop(raw);
    assert_eq!(next(&mut rx_a).await, ServerMessage::PeerLeft { id: welcome.id });
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_everyone_keeps_working() {
    let server = start().await;
    let (alice, _, mut rx_a) = SignalClient::join(&server.url(), "room", "alice").await.unwrap();
    let mut raw = Raw::connect(&server.url()).await;

    // Before joining.
    raw.send_text(r#"{"type":"offer","to":"p1","sdp":"x"}"#).await;
    raw.expect_error(ErrorCode::NotJoined).await;
    raw.send_text(r#"{"type":"join","room":"nowhere","name":"raw","create":false}"#)
        .await;
    let message = raw.expect_error(ErrorCode::UnknownRoom).await;
    assert!(message.contains("nowhere"), "{message}");

    // Join, then misbehave in every way; the same connection stays usable.
    raw.send_text(r#"{"type":"join","room":"room","name":"raw"}"#).await;
    let ServerMessage::Welcome(welcome) = raw.recv().await else {
        panic!("no welcome")
    };
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));
    let cases: &[(&str, ErrorCode)] = &[
        ("this is not json", ErrorCode::BadMessage),
        (r#"{"type":"offer","to":"p1","sd"#, ErrorCode::BadMessage), // truncated
        (
            r#"{"type":"join","room":"r","name":"n","rejoin_key":42}"#,
            ErrorCode::BadMessage,
        ),
        (r#"{"type":"teleport"}"#, ErrorCode::BadMessage),
        (r#"{"type":"offer","to":"p1"}"#, ErrorCode::BadMessage),
        (r#"{"type":"offer","to":5,"sdp":"x"}"#, ErrorCode::BadMessage),
        (r#"[1,2,3]"#, ErrorCode::BadMessage),
        (r#"{"type":"offer","to":"p999","sdp":"x"}"#, ErrorCode::UnknownPeer),
        (
            r#"{"type":"join","room":"room","name":"again"}"#,
            ErrorCode::AlreadyJoined,
        ),
    ];
    for (text, code) in cases {
        raw.send_text(text).await;
        let message = raw.expect_error(*code).await;
        assert!(!message.is_empty());
    }
    raw.send_text(&format!(
        r#"{{"type":"offer","to":"p1","sdp":"{}"}}"#,
        "a".repeat(70_000)
    ))
    .await;
    let message = raw.expect_error(ErrorCode::TooLarge).await;
    assert!(message.contains("70"), "{message}");
    raw.0.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    raw.expect_error(ErrorCode::BadMessage).await;

    // The misbehaving connection still relays, and alice never saw any of the garbage.
    raw.send_text(&format!(
        r#"{{"type":"offer","to":"{}","sdp":"still here"}}"#,
        alice.id()
    ))
    .await;
    assert_eq!(
        next(&mut rx_a).await,
        ServerMessage::Offer {
            from: welcome.id.clone(),
            sdp: "still here".into()
        }
    );
    raw.send_text(r#"{"type":"ping"}"#).await;
    assert_eq!(raw.recv().await, ServerMessage::Pong {});
    alice
        .send(ClientMessage::Answer {
            to: welcome.id.clone(),
            sdp: "fine".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        raw.recv().await,
        ServerMessage::Answer {
            from: alice.id().into(),
            sdp: "fine".into()
        }
    );
}

#[tokio::test]
async fn rooms_are_isolated() {
    let server = start().await;
    let (red, _, mut rx_red) = SignalClient::join(&server.url(), "red", "r").await.unwrap();
    let (blue, welcome, mut rx_blue) = SignalClient::join(&server.url(), "blue", "b").await.unwrap();
    assert!(welcome.peers.is_empty(), "blue room must not list red's member");
    // Red's second member neither sees blue nor is seen by it, and cannot address it.
    let mut raw = Raw::connect(&server.url()).await;
    raw.send_text(r#"{"type":"join","room":"red","name":"x"}"#).await;
    let ServerMessage::Welcome(raw_welcome) = raw.recv().await else {
        panic!("no welcome")
    };
    assert_eq!(
        raw_welcome.peers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec![red.id()]
    );
    assert!(matches!(next(&mut rx_red).await, ServerMessage::PeerJoined { .. }));
    raw.send_text(&format!(r#"{{"type":"offer","to":"{}","sdp":"x"}}"#, blue.id()))
        .await;
    raw.expect_error(ErrorCode::UnknownPeer).await;
    red.leave().await.unwrap();
    assert_eq!(raw.recv().await, ServerMessage::PeerLeft { id: red.id().into() });
    // Everything above has been processed; if any of it had reached blue, it would be queued
    // before this newcomer's peer_joined.
    let (green, _, _rx_green) = SignalClient::join(&server.url(), "blue", "g").await.unwrap();
    assert_eq!(
        next(&mut rx_blue).await,
        ServerMessage::PeerJoined {
            id: green.id().into(),
            name: "g".into()
        }
    );
}

#[tokio::test]
async fn the_client_reports_rejections_and_unreachable_servers() {
    let server = start().await;
    // An unreachable server: a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = SignalClient::join(&format!("ws://127.0.0.1:{port}"), "r", "n")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("cannot reach the signaling server"), "{err}");
    // A rejected join (empty name) is an error, not a hang.
    let err = SignalClient::join(&server.url(), "r", "").await.err().unwrap();
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn a_flood_is_rate_limited_without_hurting_others() {
    let server = start().await;
    let (alice, _, mut rx_a) = SignalClient::join(&server.url(), "room", "alice").await.unwrap();
    let mut raw = Raw::connect(&server.url()).await;
    raw.send_text(r#"{"type":"join","room":"room","name":"flood"}"#).await;
    let _ = raw.recv().await;
    let _ = next(&mut rx_a).await; // peer_joined
    for _ in 0..1000 {
        raw.send_text(r#"{"type":"ping"}"#).await;
    }
    let mut limited = false;
    for _ in 0..1000 {
        if let ServerMessage::Error {
            code: ErrorCode::RateLimited,
            ..
        } = raw.recv().await
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "1000 pings at once were never rate limited");
    // Alice is unaffected.
    let (bob, _, mut rx_b) = SignalClient::join(&server.url(), "room", "bob").await.unwrap();
    alice
        .send(ClientMessage::Offer {
            to: bob.id().into(),
            sdp: "ok".into(),
        })
        .await
        .unwrap();
    loop {
        if let ServerMessage::Offer { sdp, .. } = next(&mut rx_b).await {
            assert_eq!(sdp, "ok");
            break;
        }
    }
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected_and_the_room_keeps_working() {
    let mut config = ServerConfig::default();
    config.outbound_queue = 4;
    config.rate_per_second = 1e6;
    config.rate_burst = 1e6;
    let server = SignalServer::bind_with("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .spawn();
    let (alice, _, mut rx_a) = SignalClient::join(&server.url(), "room", "alice").await.unwrap();
    let (bob, _, mut rx_b) = SignalClient::join(&server.url(), "room", "bob").await.unwrap();
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));
    let mut slow = Raw::connect(&server.url()).await;
    slow.send_text(r#"{"type":"join","room":"room","name":"slow"}"#).await;
    let ServerMessage::Welcome(welcome) = slow.recv().await else {
        panic!("no welcome")
    };
    let slow_id = welcome.id;
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));
    assert!(matches!(next(&mut rx_b).await, ServerMessage::PeerJoined { .. }));

    // Alice floods the slow client (which never reads) until the server gives up on it. Socket
    // buffers absorb some megabytes first; 3000 offers of 60 KB are far more than that.
    let sdp = "a".repeat(60_000);
    let mut sent = 0;
    let left = tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..3000 {
            alice
                .send(ClientMessage::Offer {
                    to: slow_id.clone(),
                    sdp: sdp.clone(),
                })
                .await
                .unwrap();
            sent += 1;
            if let Ok(msg) = rx_a.try_recv() {
                return msg;
            }
            tokio::task::yield_now().await;
        }
        next(&mut rx_a).await
    })
    .await
    .expect("the slow client was never disconnected");
    assert_eq!(
        left,
        ServerMessage::PeerLeft { id: slow_id.clone() },
        "after {sent} offers"
    );

    // Bob saw it leave, and the room still relays.
    assert_eq!(next(&mut rx_b).await, ServerMessage::PeerLeft { id: slow_id.clone() });
    bob.send(ClientMessage::Offer {
        to: alice.id().into(),
        sdp: "still works".into(),
    })
    .await
    .unwrap();
    loop {
        // Offers alice queued after the eviction come back as unknown_peer.
        match next(&mut rx_a).await {
            ServerMessage::Error {
                code: ErrorCode::UnknownPeer,
                ..
            } => continue,
            other => {
                assert_eq!(
                    other,
                    ServerMessage::Offer {
                        from: bob.id().into(),
                        sdp: "still works".into()
                    }
                );
                break;
            }
        }
    }
    // The slow client's connection was closed: reading it to the end terminates.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        let mut frames = 0usize;
        while let Some(Ok(_)) = slow.0.next().await {
            frames += 1;
        }
        frames
    })
    .await
    .expect("the slow client's connection was not closed");
    assert!(ended < sent, "it got {ended} of {sent} messages");
}

#[tokio::test]
async fn a_message_above_the_hard_limit_is_explained_before_the_connection_closes() {
    let server = start().await;
    let (alice, _, mut rx_a) = SignalClient::join(&server.url(), "room", "alice").await.unwrap();
    let mut raw = Raw::connect(&server.url()).await;
    raw.send_text(r#"{"type":"join","room":"room","name":"huge"}"#).await;
    let ServerMessage::Welcome(welcome) = raw.recv().await else {
        panic!("no welcome")
    };
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));

    raw.send_text(&format!(
        r#"{{"type":"offer","to":"{}","sdp":"{}"}}"#,
        alice.id(),
        "a".repeat(16_000_000)
    ))
    .await;
    let message = raw.expect_error(ErrorCode::TooLarge).await;
    assert!(message.contains("closing"), "{message}");
    let close = match tokio::time::timeout(WAIT, raw.0.next())
        .await
        .expect("close within 5 s")
    {
        Some(Ok(Message::Close(frame))) => frame,
        Some(Ok(other)) => panic!("unexpected {other:?}"),
        Some(Err(e)) => panic!("connection reset instead of closed: {e}"),
        None => panic!("connection ended without a close frame"),
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1009));
    assert_eq!(next(&mut rx_a).await, ServerMessage::PeerLeft { id: welcome.id });
    alice.send(ClientMessage::Ping {}).await.unwrap();
    assert_eq!(next(&mut rx_a).await, ServerMessage::Pong {});
}

#[tokio::test]
async fn the_client_joins_existing_rooms_only_when_asked_and_checks_sizes() {
    let server = start().await;
    let err = SignalClient::join_with(&server.url(), "later", "n", false)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SignalError::Rejected {
                code: ErrorCode::UnknownRoom,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("unknown_room"), "{err}");
    let (alice, _, _rx_a) = SignalClient::join(&server.url(), "later", "alice").await.unwrap();
    let (bob, welcome, _rx_b) = SignalClient::join_with(&server.url(), "later", "bob", false)
        .await
        .unwrap();
    assert_eq!(welcome.peers[0].id, alice.id());
    let err = bob
        .send(ClientMessage::Offer {
            to: alice.id().into(),
            sdp: "a".repeat(70_000),
        })
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SignalError::TooLarge { limit: 65536, .. }), "{err}");
    bob.leave().await.unwrap();
    assert!(matches!(
        bob.send(ClientMessage::Ping {}).await,
        Err(SignalError::Closed)
    ));
}

#[tokio::test]
async fn leave_is_written_before_it_returns_and_ends_the_receiver() {
    let server = start().await;
    let (_alice, _, mut rx_a) = SignalClient::join(&server.url(), "r", "alice").await.unwrap();
    let (bob, _, mut rx_b) = SignalClient::join(&server.url(), "r", "bob").await.unwrap();
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerJoined { .. }));
    bob.leave().await.unwrap();
    drop(bob); // even with the client gone at once, the leave was sent
    assert!(matches!(next(&mut rx_a).await, ServerMessage::PeerLeft { .. }));
    let end = tokio::time::timeout(WAIT, rx_b.recv())
        .await
        .expect("bob's receiver ends");
    assert_eq!(end, None);
}

#[tokio::test]
async fn shutting_the_server_down_closes_every_connection() {
    let server = start().await;
    let (alice, _, mut rx_a) = SignalClient::join(&server.url(), "r", "alice").await.unwrap();
    server.shutdown();
    let end = tokio::time::timeout(WAIT, rx_a.recv())
        .await
        .expect("the receiver ends after shutdown");
    assert_eq!(end, None);
    assert!(
        SignalClient::join(&server.url(), "r", "late").await.is_err(),
        "a stopped server accepted a join"
    );
    drop(alice);
}

#[tokio::test]
async fn a_room_opened_with_a_secret_refuses_anyone_without_it() {
    let server = start().await;
    let secret = |s: &str| Some(RoomSecret(s.to_string()));
    let (alice, _, mut rx_alice) =
        SignalClient::join_room(&server.url(), "private", "alice", true, secret("open sesame"))
            .await
            .unwrap();
    for (name, given, expected_words) in [
        ("mallory", None, "needs its secret"),
        ("eve", secret("guess"), "wrong secret"),
    ] {
        let Err(err) = SignalClient::join_room(&server.url(), "private", name, true, given).await else {
            panic!("{name} got into a locked room")
        };
        match &err {
            SignalError::Rejected {
                code: ErrorCode::RoomLocked,
                message,
            } => {
                assert!(message.contains(expected_words), "{message}");
                assert!(
                    !message.contains("open sesame"),
                    "the secret must not be echoed: {message}"
                );
            }
            other => panic!("{name}: expected room_locked, got {other}"),
        }
    }
    // The refused never appeared in the room: alice heard of nobody.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), rx_alice.recv())
            .await
            .is_err(),
        "a refused join reached the room"
    );

    let (_bob, welcome, _rx_bob) =
        SignalClient::join_room(&server.url(), "private", "bob", true, secret("open sesame"))
            .await
            .unwrap();
    assert_eq!(
        welcome.peers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec![alice.id()]
    );
    // Rooms without a secret stay open, and the secret's `Debug` never shows it.
    SignalClient::join(&server.url(), "open", "carol").await.unwrap();
    assert_eq!(format!("{:?}", RoomSecret("open sesame".into())), "RoomSecret(***)");
}

#[tokio::test]
async fn a_room_forgets_its_secret_when_the_last_member_leaves() {
    let server = start().await;
    let secret = Some(RoomSecret("first".into()));
    let (alice, _, _rx) = SignalClient::join_room(&server.url(), "reused", "alice", true, secret)
        .await
        .unwrap();
    alice.leave().await.unwrap();
    drop(alice);
    // Whoever opens it next decides again (here: no secret at all).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match SignalClient::join(&server.url(), "reused", "bob").await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!("room not empty yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the empty room kept its secret: {e}"),
        }
    }
}

fn keyed(room: &str, name: &str, key: &str) -> JoinRequest {
    JoinRequest {
        rejoin_key: Some(RejoinKey(key.to_string())),
        ..JoinRequest::new(room, name)
    }
}

/// The next message, after checking that nothing else was queued before a ping's pong.
async fn nothing_but_pong(client: &SignalClient, rx: &mut mpsc::Receiver<ServerMessage>) {
    client.send(ClientMessage::Ping {}).await.unwrap();
    let msg = next(rx).await;
    assert_eq!(msg, ServerMessage::Pong {}, "expected nothing queued before the pong");
}

#[tokio::test]
async fn a_rejoin_key_gives_back_the_same_id_and_replaces_the_old_connection() {
    let server = start().await;
    let key = "0123456789abcdef-alice";
    let (alice_1, welcome_1, mut rx_alice_1) = SignalClient::join_request(&server.url(), &keyed("r", "alice", key))
        .await
        .unwrap();
    let (bob, _, mut rx_bob) = SignalClient::join(&server.url(), "r", "bob").await.unwrap();
    assert!(matches!(next(&mut rx_alice_1).await, ServerMessage::PeerJoined { .. }));

    // Alice comes back on a new connection (her old one looks alive to the server).
    let (alice_2, welcome_2, mut rx_alice_2) = SignalClient::join_request(&server.url(), &keyed("r", "alice", key))
        .await
        .unwrap();
    assert_eq!(welcome_2.id, welcome_1.id, "the same key gives the same id");
    assert_eq!(
        welcome_2.peers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["bob"]
    );
    // The old connection is closed; Bob is told nothing (his call with Alice goes on).
    let end = tokio::time::timeout(WAIT, async {
        loop {
            if rx_alice_1.recv().await.is_none() {
                return;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the replaced connection was not closed");
    nothing_but_pong(&bob, &mut rx_bob).await;
    // Messages to Alice's id reach her new connection, and hers reach Bob.
    bob.send(ClientMessage::Offer {
        to: welcome_1.id.clone(),
        sdp: "v=0 from bob".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut rx_alice_2).await,
        ServerMessage::Offer {
            from: bob.id().to_string(),
            sdp: "v=0 from bob".into()
        }
    );
    alice_2
        .send(ClientMessage::Answer {
            to: bob.id().to_string(),
            sdp: "v=0 from alice".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        next(&mut rx_bob).await,
        ServerMessage::Answer {
            from: welcome_1.id.clone(),
            sdp: "v=0 from alice".into()
        }
    );
    // The old connection's end did not take the new one out of the room.
    nothing_but_pong(&bob, &mut rx_bob).await;
    drop(alice_1);
}

#[tokio::test]
async fn after_a_server_restart_the_same_key_gets_the_same_id_and_no_one_else_can_take_it() {
    let first = start().await;
    let addr = first.local_addr();
    let key = "a-random-key-of-alice-0001";
    let (_alice, before, mut rx) = SignalClient::join_request(&first.url(), &keyed("r", "alice", key))
        .await
        .unwrap();
    first.shutdown();
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv()).await.expect("closed on shutdown"),
        None
    );
    drop(first);

    // A new server process on the same address knows nothing of the old one.
    let deadline = std::time::Instant::now() + WAIT;
    let second = loop {
        match SignalServer::bind(addr).await {
            Ok(server) => break server.spawn(),
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!("port not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not bind {addr} again: {e}"),
        }
    };
    let (_alice, after, _rx) = SignalClient::join_request(&second.url(), &keyed("r", "alice", key))
        .await
        .unwrap();
    assert_eq!(
        after.id, before.id,
        "the same key gives the same id on a restarted server"
    );
    let (_mallory, other, _rx) =
        SignalClient::join_request(&second.url(), &keyed("r", "mallory", "another-key-entirely"))
            .await
            .unwrap();
    assert_ne!(other.id, before.id);
    let (_elsewhere, other_room, _rx) = SignalClient::join_request(&second.url(), &keyed("s", "alice", key))
        .await
        .unwrap();
    assert_ne!(
        other_room.id, before.id,
        "ids are per room: the key does not link rooms"
    );
    for bad in ["short", &"x".repeat(129), "has a space in it ....."] {
        let Err(SignalError::Rejected { code, message }) =
            SignalClient::join_request(&second.url(), &keyed("r", "eve", bad)).await
        else {
            panic!("rejoin key {bad:?} was accepted")
        };
        assert_eq!(code, ErrorCode::BadMessage, "{message}");
        assert!(message.contains("rejoin_key must be 16 to 128"), "{message}");
    }
    assert_eq!(format!("{:?}", RejoinKey(key.into())), "RejoinKey(***)");
}

/// Wait (bounded) until the server holds exactly `expected`.
async fn server_settles_at(server: &ServerHandle, expected: natter_signal::server::ServerStats) {
    let deadline = std::time::Instant::now() + WAIT;
    while server.stats() != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still holds {:?}, expected {expected:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_joining_and_leaving_leave_nothing_behind_and_other_rooms_work() {
    use natter_signal::server::ServerStats;
    let server = start().await;
    let url = server.url();
    let (alice, _, mut rx_alice) = SignalClient::join(&url, "quiet", "alice").await.unwrap();
    let (bob, _, mut rx_bob) = SignalClient::join(&url, "quiet", "bob").await.unwrap();
    assert!(matches!(next(&mut rx_alice).await, ServerMessage::PeerJoined { .. }));

    // 10 waves of 20 clients at once: join the busy room, offer to someone there, then half
    // leave politely and half just drop the connection.
    for wave in 0..10 {
        let clients = (0..20).map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let (client, welcome, _rx) = SignalClient::join(&url, "busy", &format!("c{wave}-{i}"))
                    .await
                    .expect("join the busy room");
                if let Some(peer) = welcome.peers.first() {
                    client
                        .send(ClientMessage::Offer {
                            to: peer.id.clone(),
                            sdp: "v=0".into(),
                        })
                        .await
                        .unwrap();
                }
                if i % 2 == 0 {
                    client.leave().await.unwrap();
                }
            })
        });
        for client in clients.collect::<Vec<_>>() {
            client.await.unwrap();
        }
        // The quiet room works throughout, and hears nothing of the busy one.
        alice
            .send(ClientMessage::Offer {
                to: bob.id().to_string(),
                sdp: format!("wave {wave}"),
            })
            .await
            .unwrap();
        assert_eq!(
            next(&mut rx_bob).await,
            ServerMessage::Offer {
                from: alice.id().to_string(),
                sdp: format!("wave {wave}")
            }
        );
    }
    // Nothing of the 200 is left: no connection, no member, no room.
    server_settles_at(
        &server,
        ServerStats {
            connections: 2,
            rooms: 1,
            members: 2,
        },
    )
    .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), rx_alice.recv())
            .await
            .is_err(),
        "the busy room leaked into the quiet one"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_and_the_rest_keep_working() {
    use natter_signal::server::ServerStats;
    let mut config = ServerConfig::default();
    config.max_connections = 3;
    let server = SignalServer::bind_with("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .spawn();
    let url = server.url();
    let (alice, _, _rx_a) = SignalClient::join(&url, "r", "alice").await.unwrap();
    let (bob, _, mut rx_b) = SignalClient::join(&url, "r", "bob").await.unwrap();
    let (carol, _, _rx_c) = SignalClient::join(&url, "r", "carol").await.unwrap();
    assert!(
        SignalClient::join(&url, "r", "dave").await.is_err(),
        "a fourth connection got in"
    );
    assert_eq!(
        server.stats(),
        ServerStats {
            connections: 3,
            rooms: 1,
            members: 3
        }
    );
    // Those in keep working.
    alice
        .send(ClientMessage::Offer {
            to: bob.id().to_string(),
            sdp: "v=0".into(),
        })
        .await
        .unwrap();
    loop {
        if let ServerMessage::Offer { from, .. } = next(&mut rx_b).await {
            assert_eq!(from, alice.id());
            break;
        }
    }
    // A freed slot can be used again.
    carol.leave().await.unwrap();
    drop(carol);
    server_settles_at(
        &server,
        ServerStats {
            connections: 2,
            rooms: 1,
            members: 2,
        },
    )
    .await;
    SignalClient::join(&url, "r", "dave")
        .await
        .expect("a slot freed by carol");
}
