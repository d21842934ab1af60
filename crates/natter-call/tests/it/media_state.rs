//! Microphone and camera off/on in a real two-party call (in-process signaling server, real
//! WebRTC peers on loopback): nothing is sent while off, the other side is told and shows it,
//! and media resumes (video from a keyframe) when turned back on.

use crate::common::*;
use natter_call::participant::Participant;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_stops_media_tells_the_other_side_and_unmuting_resumes_it() {
    let (_server, url) = signal_server().await;
    let ann = Participant::join(config("Ann", "mute", &url, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", "mute", &url, 2)).await.unwrap();
    wait_for(&bob, "Ann's video and audio at Bob", |p| {
        p.video.frames_decoded > 10 && p.audio.packets_received > 10
    })
    .await;

    ann.set_audio_muted(true);
    ann.set_video_muted(true);
    let told = wait_for(&bob, "Bob to learn that Ann muted", |p| {
        p.remote_audio_muted && p.remote_video_muted
    })
    .await;
    // What was already in flight arrives; after that, nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = peer_of(&bob).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = peer_of(&bob).await.unwrap();
    assert_eq!(
        after.audio.packets_received, before.audio.packets_received,
        "audio kept flowing while muted"
    );
    assert_eq!(
        after.video.frames_decoded, before.video.frames_decoded,
        "video kept flowing with the camera off"
    );
    assert!(told.state == "connected", "the call stays up while muted: {told:#?}");

    ann.set_audio_muted(false);
    ann.set_video_muted(false);
    let resumed = wait_for(&bob, "Ann's media to resume", |p| {
        !p.remote_audio_muted
            && !p.remote_video_muted
            && p.video.frames_decoded > after.video.frames_decoded + 10
            && p.audio.packets_received > after.audio.packets_received + 10
    })
    .await;
    assert_eq!(
        resumed.video.frames_unreadable, 0,
        "video resumed from a keyframe, no undecodable frames: {resumed:#?}"
    );
    ann.leave().await;
    bob.leave().await;
}
