//! The signaling server restarts mid-call (a real server on loopback, shut down and started
//! again on the same address, with none of its rooms): the call's media goes on throughout,
//! both participants rejoin by themselves with their old ids, and signaling works again — a
//! newcomer reaches both, and a microphone change reaches the other side — with no second call
//! between the two who were already talking.

use crate::common::*;
use natter_call::participant::Participant;
use natter_call::report::{ParticipantReport, PeerReport};
use natter_signal::server::{ServerHandle, SignalServer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const ROOM: &str = "restart";

fn peer<'a>(report: &'a ParticipantReport, name: &str) -> Option<&'a PeerReport> {
    report
        .peers
        .iter()
        .find(|p| p.remote_name == name && p.left_ms.is_none())
}

fn decoded_from(report: &ParticipantReport, name: &str) -> u64 {
    peer(report, name).map_or(0, |p| p.video.frames_decoded)
}

async fn start_at(addr: SocketAddr) -> ServerHandle {
    let deadline = Instant::now() + LIMIT;
    loop {
        match SignalServer::bind(addr).await {
            Ok(server) => return server.spawn(),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("address not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not bind {addr} again: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_keep_their_media_and_rejoin_signaling_after_a_server_restart() {
    let (server, url) = signal_server().await;
    let addr = server.local_addr();
    let ann = Participant::join(config("Ann", ROOM, &url, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", ROOM, &url, 2)).await.unwrap();
    wait_until(&bob, "Ann's video at Bob", |r| decoded_from(r, "Ann") > 10).await;
    wait_until(&ann, "Bob's video at Ann", |r| decoded_from(r, "Bob") > 10).await;
    let (ann_id, bob_id) = (ann.id.clone(), bob.id.clone());

    // The server goes away with every room it had.
    server.shutdown();
    drop(server);
    for p in [&ann, &bob] {
        let report = wait_until(p, "signaling to be noticed lost", |r| {
            r.signaling.state == "reconnecting"
        })
        .await;
        assert!(
            report.signaling.events.iter().any(|e| e.kind == "lost"),
            "{:#?}",
            report.signaling
        );
    }
    // Media goes on without signaling.
    let before = decoded_from(&bob.snapshot().await, "Ann");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = bob.snapshot().await;
    assert!(
        decoded_from(&during, "Ann") > before + 15,
        "video stopped while signaling was down: {before} → {:#?}",
        peer(&during, "Ann")
    );
    assert_eq!(peer(&during, "Ann").unwrap().state, "connected");

    // A new server on the same address: both come back by themselves, with their ids.
    let _server = start_at(addr).await;
    for p in [&ann, &bob] {
        let report = wait_until(p, "signaling to come back", |r| {
            r.signaling.state == "connected" && r.signaling.reconnects == 1
        })
        .await;
        assert!(
            report
                .signaling
                .events
                .iter()
                .any(|e| e.kind == "reconnected" && e.detail.contains("signaling is back")),
            "{:#?}",
            report.signaling
        );
    }
    assert_eq!((ann.id.as_str(), bob.id.as_str()), (ann_id.as_str(), bob_id.as_str()));

    // Signaling works again: a newcomer reaches both...
    let carol = Participant::join(config("Carol", ROOM, &url, 3)).await.unwrap();
    wait_until(&carol, "Ann's and Bob's video at Carol", |r| {
        decoded_from(r, "Ann") > 10 && decoded_from(r, "Bob") > 10
    })
    .await;
    wait_until(&ann, "Carol's video at Ann", |r| decoded_from(r, "Carol") > 10).await;
    // ...and a microphone change crosses it.
    ann.set_audio_muted(true);
    wait_until(&bob, "Bob to learn that Ann muted", |r| {
        peer(r, "Ann").is_some_and(|p| p.remote_audio_muted)
    })
    .await;

    // The call between Ann and Bob is the one they had: one connection, never broken.
    for (p, other) in [(&ann, "Bob"), (&bob, "Ann")] {
        let report = p.snapshot().await;
        let calls: Vec<&PeerReport> = report.peers.iter().filter(|x| x.remote_name == other).collect();
        assert_eq!(
            calls.len(),
            1,
            "{}: a second call with {other} was set up: {calls:#?}",
            p.name
        );
        let call = calls[0];
        assert_eq!(call.state, "connected", "{call:#?}");
        assert!(
            !call
                .events
                .iter()
                .any(|e| e.kind == "disconnected" || e.kind == "failed"),
            "{}: the call with {other} broke: {:#?}",
            p.name,
            call.events
        );
    }
    for p in [ann, bob, carol] {
        p.leave().await;
    }
}
