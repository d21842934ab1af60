//! What the call engine's integration tests share: a participant on loopback with synthetic
//! media, and bounded waiting on its report.
#![allow(dead_code)] // each test file uses part of it

use futures_util::{SinkExt, StreamExt};
use natter_call::media::MediaSettings;
use natter_call::participant::{Participant, ParticipantConfig};
use natter_call::peer::LinkSettings;
use natter_call::report::{ParticipantReport, PeerReport};
use natter_signal::protocol::ServerMessage;
use natter_signal::server::{ServerHandle, SignalServer};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for something that takes well under a second when all is well.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A signaling server on a free loopback port, running until the handle drops; and its URL.
pub async fn signal_server() -> (ServerHandle, String) {
    let server = SignalServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let url = server.url();
    (server, url)
}

/// `name` in `room` through the signaling server at `url`, ICE on 127.0.0.1 without servers,
/// synthetic camera and microphone (`seed` tells the participants' pictures apart).
pub fn config(name: &str, room: &str, url: &str, seed: u32) -> ParticipantConfig {
    ParticipantConfig {
        name: name.into(),
        room: room.into(),
        room_secret: None,
        signal_url: url.to_string(),
        link: LinkSettings {
            ice: Default::default(),
            relay_only: false,
            bind: "127.0.0.1:0".parse().unwrap(),
            stack_defaults: false,
            offer_payload_types: Default::default(),
            bridges: Default::default(),
        },
        media: MediaSettings {
            seed,
            ..MediaSettings::default()
        },
        view: None,
        board: None,
        playout: None,
    }
}

/// Poll `p`'s report until `ok` holds; fail after [`LIMIT`], showing the report.
pub async fn wait_until(p: &Participant, what: &str, ok: impl Fn(&ParticipantReport) -> bool) -> ParticipantReport {
    wait_until_by(p, what, Instant::now() + LIMIT, ok).await
}

/// [`wait_until`] with a deadline of the caller's.
pub async fn wait_until_by(
    p: &Participant,
    what: &str,
    deadline: Instant,
    ok: impl Fn(&ParticipantReport) -> bool,
) -> ParticipantReport {
    loop {
        let report = p.snapshot().await;
        if ok(&report) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "{}: timed out waiting for {what}: {report:#?}",
            p.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `p`'s only (first) peer, if any.
pub async fn peer_of(p: &Participant) -> Option<PeerReport> {
    p.snapshot().await.peers.into_iter().next()
}

/// Poll until `ok` holds for `p`'s only peer; fail after [`LIMIT`].
pub async fn wait_for(p: &Participant, what: &str, ok: impl Fn(&PeerReport) -> bool) -> PeerReport {
    let report = wait_until(p, what, |r| r.peers.first().is_some_and(&ok)).await;
    report.peers.into_iter().next().expect("checked above")
}

/// A signaling proxy that passes everything through, except that `tamper` rewrites the SDP of
/// every offer and answer on its way to the client behind the proxy. Returns the proxy's URL.
pub async fn tampering_proxy(upstream: String, tamper: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(client) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let Ok((server, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await else {
                    return;
                };
                let (mut to_client, mut from_client) = client.split();
                let (mut to_server, mut from_server) = server.split();
                let up = async {
                    while let Some(Ok(msg)) = from_client.next().await {
                        if to_server.send(msg).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    while let Some(Ok(msg)) = from_server.next().await {
                        let msg = match msg {
                            Message::Text(text) => Message::Text(rewrite(&text, tamper).into()),
                            other => other,
                        };
                        if to_client.send(msg).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    format!("ws://{addr}")
}

fn rewrite(text: &str, tamper: fn(&str) -> String) -> String {
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Offer { from, sdp }) => ServerMessage::Offer {
            from,
            sdp: tamper(&sdp),
        }
        .to_json(),
        Ok(ServerMessage::Answer { from, sdp }) => ServerMessage::Answer {
            from,
            sdp: tamper(&sdp),
        }
        .to_json(),
        _ => text.to_string(),
    }
}
