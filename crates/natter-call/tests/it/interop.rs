//! Talking to stacks that are not Natter, without a browser: real participants whose offers look
//! like other stacks' (payload types numbered otherwise, VP8 preferred or alone, a sha-384
//! fingerprint listed first). A call counts only when media flows *both* ways: each side decodes
//! the other's video and the other side's RTCP reports confirm it received ours.
//! (Chromium itself joins in `tests/it/interop_browser.rs` at the root of the repository.)

use crate::common::*;
use natter_call::participant::{Participant, ParticipantConfig};
use natter_call::report::PeerReport;
use natter_call::webrtc_setup::PayloadTypes;

/// Media both ways: we decode theirs, and their reports say they receive ours.
fn flowing_both_ways(peer: &PeerReport) -> bool {
    peer.video.frames_decoded >= 10
        && peer.audio.packets_received >= 10
        && peer.sent.video.remote_packets_received > 0
        && peer.sent.audio.remote_packets_received > 0
}

async fn call_both_ways(ann: &Participant, bob: &Participant) -> (PeerReport, PeerReport) {
    let at_ann = wait_for(ann, "Ann and Bob to exchange media both ways", flowing_both_ways).await;
    let at_bob = wait_for(bob, "Bob and Ann to exchange media both ways", flowing_both_ways).await;
    (at_ann, at_bob)
}

fn numbered(mut config: ParticipantConfig, numbers: PayloadTypes) -> ParticipantConfig {
    config.link.offer_payload_types = numbers;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_numbering_codecs_unlike_natter_gets_media_both_ways() {
    let (_server, url) = signal_server().await;
    // Ann answers with her own numbering in mind (H.264 102, Opus 111)…
    let ann = Participant::join(config("Ann", "numbers", &url, 1)).await.unwrap();
    // …Bob offers as another stack did: H.264 101, VP8 100, Opus 96.
    let foreign = PayloadTypes {
        h264: 101,
        vp8: 100,
        opus: 96,
    };
    let bob = Participant::join(numbered(config("Bob", "numbers", &url, 2), foreign))
        .await
        .unwrap();
    let (at_ann, at_bob) = call_both_ways(&ann, &bob).await;
    // Both send with the numbers of the offer, whoever wrote it.
    for (who, peer) in [("Ann", &at_ann), ("Bob", &at_bob)] {
        assert_eq!(
            peer.sent.video.codec.as_deref(),
            Some("H264/90000 as payload type 101"),
            "{who}: {peer:#?}"
        );
        assert_eq!(
            peer.sent.audio.codec.as_deref(),
            Some("opus/48000 as payload type 96"),
            "{who}: {peer:#?}"
        );
    }
    ann.leave().await;
    bob.leave().await;
}

/// The video payload types of `codec` in a description's video section.
fn video_payload_types_of(sdp: &str, codec: &str) -> Vec<String> {
    sdp.split("\r\n")
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, encoding)| encoding.starts_with(&format!("{codec}/")))
        .map(|(pt, _)| pt.to_string())
        .collect()
}

/// The offer as a browser that prefers VP8 writes it: VP8 first in the video section.
fn vp8_first(sdp: &str) -> String {
    let vp8 = video_payload_types_of(sdp, "VP8");
    assert!(!vp8.is_empty(), "the offer has no VP8: {sdp}");
    let lines: Vec<String> = sdp
        .split("\r\n")
        .map(|line| match line.strip_prefix("m=video ") {
            Some(rest) => {
                let mut parts: Vec<&str> = rest.split(' ').collect();
                let (head, pts) = parts.split_at_mut(2);
                let mut order: Vec<&str> = vp8.iter().map(String::as_str).collect();
                order.extend(pts.iter().filter(|pt| !vp8.iter().any(|v| v == *pt)));
                format!("m=video {} {}", head.join(" "), order.join(" "))
            }
            None => line.to_string(),
        })
        .collect();
    lines.join("\r\n")
}

/// The offer as a browser without H.264 writes it: no H.264 at all.
fn vp8_only(sdp: &str) -> String {
    let h264 = video_payload_types_of(sdp, "H264");
    assert!(!h264.is_empty(), "the offer has no H.264: {sdp}");
    let about_h264 = |line: &str| {
        ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|prefix| {
            line.strip_prefix(prefix)
                .and_then(|l| l.split([' ', ':']).next())
                .is_some_and(|pt| h264.iter().any(|h| h == pt))
        })
    };
    let lines: Vec<String> = sdp
        .split("\r\n")
        .filter(|line| !about_h264(line))
        .map(|line| match line.strip_prefix("m=video ") {
            Some(rest) => format!(
                "m=video {}",
                rest.split(' ')
                    .filter(|part| !h264.iter().any(|h| h == part))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            None => line.to_string(),
        })
        .collect();
    lines.join("\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_that_prefers_vp8_gets_vp8_and_sends_it() {
    let (_server, url) = signal_server().await;
    let proxy = tampering_proxy(url.clone(), vp8_first).await;
    // Ann sees Bob's offer with VP8 first: she answers in that order, so both send VP8.
    let ann = Participant::join(config("Ann", "vp8-first", &proxy, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", "vp8-first", &url, 2)).await.unwrap();
    let (at_ann, at_bob) = call_both_ways(&ann, &bob).await;
    for (who, peer) in [("Ann", &at_ann), ("Bob", &at_bob)] {
        let codec = peer.sent.video.codec.as_deref().unwrap_or_default();
        assert!(codec.starts_with("VP8/90000"), "{who} sends {codec}: {peer:#?}");
        assert_eq!(
            peer.video.frames_unreadable, 0,
            "{who}: VP8 pictures must carry their stamps intact: {peer:#?}"
        );
    }
    ann.leave().await;
    bob.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_without_h264_gets_video_in_vp8() {
    let (_server, url) = signal_server().await;
    let proxy = tampering_proxy(url.clone(), vp8_only).await;
    let ann = Participant::join(config("Ann", "vp8-only", &proxy, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", "vp8-only", &url, 2)).await.unwrap();
    let (at_ann, at_bob) = call_both_ways(&ann, &bob).await;
    for (who, peer) in [("Ann", &at_ann), ("Bob", &at_bob)] {
        let codec = peer.sent.video.codec.as_deref().unwrap_or_default();
        assert!(codec.starts_with("VP8/90000"), "{who} sends {codec}: {peer:#?}");
    }
    ann.leave().await;
    bob.leave().await;
}

/// Every SHA-256 fingerprint preceded by a SHA-384 one (RFC 8122 allows several, any order).
fn sha384_first(sdp: &str) -> String {
    let sha384 = format!("a=fingerprint:sha-384 {}", ["5A"; 48].join(":"));
    let lines: Vec<String> = sdp
        .split("\r\n")
        .flat_map(|line| {
            if line.starts_with("a=fingerprint:sha-256 ") {
                vec![sha384.clone(), line.to_string()]
            } else {
                vec![line.to_string()]
            }
        })
        .collect();
    let rewritten = lines.join("\r\n");
    assert!(
        rewritten.contains("sha-384"),
        "the description had no fingerprint: {sdp}"
    );
    rewritten
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_listing_sha384_before_sha256_connects() {
    let (_server, url) = signal_server().await;
    let proxy = tampering_proxy(url.clone(), sha384_first).await;
    // Ann receives Bob's offer with a sha-384 fingerprint first; Bob receives Ann's answer as is.
    let ann = Participant::join(config("Ann", "fingerprints", &proxy, 1))
        .await
        .unwrap();
    let bob = Participant::join(config("Bob", "fingerprints", &url, 2)).await.unwrap();
    let (at_ann, _) = call_both_ways(&ann, &bob).await;
    assert!(!at_ann.events.iter().any(|e| e.kind == "refused"), "{at_ann:#?}");
    ann.leave().await;
    bob.leave().await;
}
