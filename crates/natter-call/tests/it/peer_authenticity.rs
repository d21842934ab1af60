//! Peer authenticity against hostile signaling: a man in the middle of the signaling path (a
//! real WebSocket proxy in front of a real signaling server) rewrites the session descriptions
//! two real WebRTC participants exchange. A swapped DTLS fingerprint must make the call fail with
//! the reason in words, without a single media packet decoded; an offer of unencrypted media
//! must be refused before the stack sees it.

use crate::common::*;
use natter_call::participant::Participant;
use natter_call::report::PeerReport;
use std::time::Duration;

/// Another valid-looking certificate fingerprint: every hex digit of the real one changed.
fn swap_fingerprint(sdp: &str) -> String {
    let lines: Vec<String> = sdp
        .split("\r\n")
        .map(|line| match line.strip_prefix("a=fingerprint:") {
            Some(value) => {
                let (hash, hex) = value.split_once(' ').expect("fingerprint has a hash name");
                let flipped: String = hex
                    .chars()
                    .map(|c| {
                        if c == ':' {
                            c
                        } else if c == '0' {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect();
                assert_ne!(flipped, hex);
                format!("a=fingerprint:{hash} {flipped}")
            }
            None => line.to_string(),
        })
        .collect();
    let tampered = lines.join("\r\n");
    assert_ne!(tampered, sdp, "the SDP had no fingerprint to swap");
    tampered
}

fn strip_encryption(sdp: &str) -> String {
    sdp.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP")
}

fn refusal(peer: &PeerReport) -> Option<&str> {
    peer.events
        .iter()
        .find(|e| e.kind == "refused")
        .map(|e| e.detail.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_dtls_fingerprint_fails_the_call_with_the_reason_and_no_media() {
    let (_server, url) = signal_server().await;
    let proxy = tampering_proxy(url.clone(), swap_fingerprint).await;

    let ann = Participant::join(config("Ann", "mitm", &url, 1)).await.unwrap();
    // Bob's signaling goes through the man in the middle: Ann's answer reaches him with a
    // fingerprint that is not her certificate's.
    let bob = Participant::join(config("Bob", "mitm", &proxy, 2)).await.unwrap();

    let at_bob = wait_for(&bob, "Bob to refuse the call", |p| refusal(p).is_some()).await;
    let reason = refusal(&at_bob).unwrap();
    assert!(
        reason.contains("certificate does not match the fingerprint"),
        "the reason names the fingerprint: {reason}"
    );
    assert_eq!(at_bob.state, "failed", "{at_bob:#?}");
    assert!(
        at_bob.connect_ms.is_none(),
        "the call must never count as connected: {at_bob:#?}"
    );

    // Give anything that could slip through time to arrive, then check that nothing did.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let at_bob = peer_of(&bob).await.unwrap();
    let at_ann = peer_of(&ann).await.unwrap();
    for (who, peer) in [("Bob", &at_bob), ("Ann", &at_ann)] {
        assert_eq!(
            peer.video.frames_decoded, 0,
            "{who} decoded video over an unauthenticated link: {peer:#?}"
        );
        assert_eq!(
            peer.audio.packets_received, 0,
            "{who} received audio over an unauthenticated link: {peer:#?}"
        );
        assert_ne!(peer.state, "connected", "{who} connected to an impostor: {peer:#?}");
    }
    assert_eq!(
        at_bob.state, "failed",
        "refused is final (no ICE restart can fix a certificate): {at_bob:#?}"
    );
    ann.leave().await;
    bob.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_of_unencrypted_media_is_refused_before_the_stack_sees_it() {
    let (_server, url) = signal_server().await;
    let proxy = tampering_proxy(url.clone(), strip_encryption).await;

    // Ann is behind the proxy: Bob's offer reaches her as plain RTP.
    let ann = Participant::join(config("Ann", "plain", &proxy, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", "plain", &url, 2)).await.unwrap();

    let at_ann = wait_for(&ann, "Ann to refuse Bob's offer", |p| refusal(p).is_some()).await;
    let reason = refusal(&at_ann).unwrap();
    assert!(
        reason.contains("refused the call with Bob")
            && reason.contains("unencrypted media")
            && reason.contains("RTP/AVP"),
        "{reason}"
    );
    assert_eq!(at_ann.state, "failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_bob = peer_of(&bob).await.unwrap();
    assert_ne!(
        at_bob.state, "connected",
        "Bob cannot have a call Ann refused: {at_bob:#?}"
    );
    assert_eq!(peer_of(&ann).await.unwrap().video.frames_decoded, 0);
    ann.leave().await;
    bob.leave().await;
}
