//! A panic in one participant's engine task (injected with the `fault-injection` feature, while
//! it holds a shared lock) stays that participant's own: the process and the other participants
//! in it go on calling each other, the crashed one's report says what happened, the others see
//! it leave, and a newcomer can still join. Real participants, signaling and WebRTC on loopback.

use crate::common::*;
use natter_call::participant::Participant;
use natter_call::report::ParticipantReport;

const ROOM: &str = "crash";

fn decoded_from(report: &ParticipantReport, name: &str) -> u64 {
    report
        .peers
        .iter()
        .filter(|p| p.remote_name == name)
        .map(|p| p.video.frames_decoded)
        .sum()
}

fn has_left(report: &ParticipantReport, name: &str) -> bool {
    report
        .peers
        .iter()
        .any(|p| p.remote_name == name && p.left_ms.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_participant_ends_only_its_own_calls() {
    let (_server, url) = signal_server().await;
    let ann = Participant::join(config("Ann", ROOM, &url, 1)).await.unwrap();
    let bob = Participant::join(config("Bob", ROOM, &url, 2)).await.unwrap();
    let carol = Participant::join(config("Carol", ROOM, &url, 3)).await.unwrap();
    wait_until(&ann, "video from Bob and Carol", |r| {
        decoded_from(r, "Bob") > 10 && decoded_from(r, "Carol") > 10
    })
    .await;
    wait_until(&carol, "video from Ann", |r| decoded_from(r, "Ann") > 10).await;

    bob.inject_engine_panic();
    // Bob's report is still readable (the lock his engine held is poisoned) and says why.
    let crashed = wait_until(&bob, "Bob's crash to be reported", |r| r.crashed.is_some()).await;
    let message = crashed.crashed.unwrap();
    assert!(
        message.contains("internal error") && message.contains("injected fault"),
        "{message}"
    );
    // The others see him leave, and go on with each other.
    wait_until(&ann, "Bob to leave Ann's call", |r| has_left(r, "Bob")).await;
    wait_until(&carol, "Bob to leave Carol's call", |r| has_left(r, "Bob")).await;
    let before = decoded_from(&carol.snapshot().await, "Ann");
    wait_until(&carol, "more video from Ann after Bob's crash", |r| {
        decoded_from(r, "Ann") > before + 30
    })
    .await;
    let ann_report = ann.snapshot().await;
    assert!(ann_report.crashed.is_none() && carol.snapshot().await.crashed.is_none());

    // The process still takes newcomers.
    let dave = Participant::join(config("Dave", ROOM, &url, 4)).await.unwrap();
    wait_until(&dave, "video from Ann and Carol", |r| {
        decoded_from(r, "Ann") > 10 && decoded_from(r, "Carol") > 10
    })
    .await;
    for p in [ann, bob, carol, dave] {
        p.leave().await;
    }
}
