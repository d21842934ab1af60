//! Calls on bad links: two participants, relay-only through a real coturn, with the impairment
//! proxy (`natter_rig::impair`) between each client and the TURN server, so both legs of every
//! call cross an access link with a rate cap, loss or delay. The assertions are about outcomes
//! (video and audio keep arriving, the picture size follows the link, resends stay bounded, the
//! report names the limit), never about how fast; the figures are in the bench's `impaired_*`.

use crate::support::*;
use natter_rig::impair::{Direction, LinkConditions, UdpProxy};
use std::time::{Duration, Instant};

/// A call through a proxy in front of coturn: returns the report. `change` runs on its own
/// thread with the proxy once media flows (to change the link mid-call).
fn impaired_call(
    name: &str,
    seconds: u32,
    conditions: LinkConditions,
    change: impl FnOnce(&UdpProxy) + Send,
) -> serde_json::Value {
    let turn = Coturn::start();
    let upstream = std::net::SocketAddr::new(turn.ip, turn.port);
    // Each client's uplink misbehaves: every direction of the call crosses one bad link (as in
    // the bench's `impaired_*`), so "10 % loss" is 10 % end to end.
    let proxy = UdpProxy::builder(upstream)
        .conditions(Direction::Up, conditions)
        .seed(7)
        .start();
    let dir = TempDir::new(name);
    let config = dir.path("proxy.json");
    let proxied = turn.ice_config_json_via(proxy.addr);
    std::fs::write(&config, proxied).unwrap();
    let duration = seconds.to_string();
    let args = [
        "--participants",
        "2",
        "--relay-only",
        "--ice-config",
        config.to_str().unwrap(),
        "--duration",
        &duration,
    ];
    let run = std::thread::scope(|s| {
        let call = s.spawn(|| run_headless(&dir, name, &args));
        // Media flows once a few hundred kilobytes went up through the proxy (bounded wait).
        let started = Instant::now();
        while proxy.stats(Direction::Up).passed_bytes < 200_000
            && started.elapsed() < Duration::from_secs(30)
            && !call.is_finished()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        change(&proxy);
        call.join().unwrap()
    });
    assert!(
        proxy.stats(Direction::Up).passed_bytes > 0,
        "the call did not go through the proxy"
    );
    // To look at a run's figures: NATTER_IMPAIRED_REPORTS=DIR keeps each report there.
    if let Ok(keep) = std::env::var("NATTER_IMPAIRED_REPORTS") {
        let _ = std::fs::write(
            std::path::Path::new(&keep).join(format!("{name}.json")),
            run.report.to_string(),
        );
    }
    assert!(
        run.report["participants"].as_array().is_some_and(|p| p.len() == 2),
        "stderr:\n{}",
        run.stderr
    );
    run.report
}

fn peers(report: &serde_json::Value) -> Vec<serde_json::Value> {
    streams(report).into_iter().map(|(_, peer)| peer).collect()
}

/// How long `video` (a `sent.video` report) was sent at `size`, from its resolution changes, in a
/// call of `duration_ms`.
fn time_at(video: &serde_json::Value, size: (u64, u64), duration_ms: f64) -> f64 {
    let changes: Vec<(f64, (u64, u64))> = video["resolution_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["at_ms"].as_f64().unwrap(),
                (c["width"].as_u64().unwrap(), c["height"].as_u64().unwrap()),
            )
        })
        .collect();
    let ends = changes
        .iter()
        .skip(1)
        .map(|(at, _)| *at)
        .chain(std::iter::once(duration_ms));
    changes
        .iter()
        .zip(ends)
        .filter(|((_, s), _)| *s == size)
        .map(|((from, _), to)| (to - from).max(0.0))
        .sum()
}

fn frames_sent(report: &serde_json::Value) -> u64 {
    report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["frames_sent"].as_u64().unwrap())
        .min()
        .unwrap()
}

#[test]
fn under_a_300_kbit_cap_video_and_audio_keep_arriving_and_the_limit_is_named() {
    let report = impaired_call("cap300", 14, LinkConditions::perfect().rate(300_000), |_| {});
    let sent = frames_sent(&report);
    for peer in &peers(&report) {
        let decoded = peer["video"]["frames_decoded"].as_u64().unwrap();
        assert!(
            decoded * 2 > sent,
            "under the cap at least half the frames arrive (Natter before: none): {decoded} of {sent}: {peer:#}"
        );
        assert!(
            peer["audio"]["packets_received"].as_u64().unwrap() > 400,
            "audio keeps arriving: {peer:#}"
        );
        let video = &peer["sent"]["video"];
        let small_ms = time_at(video, (320, 180), 14_000.0);
        assert!(
            small_ms > 7_000.0,
            "mostly the small picture on a 300 kbit/s link ({small_ms} ms of it; the rest: set-up and probes for more): {video:#}"
        );
        let target = video["target_kbps"].as_f64().expect("an estimate");
        // It follows the cap, above it only while a step up probes for more (1.5 × what got
        // through + 100 kbit/s at most), never the 1–2 Mbit/s of a clear link.
        assert!(target < 600.0, "the estimate follows the cap: {target} kbit/s");
        assert_eq!(peer["quality_limitation"], "bandwidth", "{peer:#}");
        let note = peer["quality_note"].as_str().unwrap();
        // (At the very end a probe for the larger picture may be under way: then the picture is
        // full size at reduced quality.)
        assert!(
            note.contains("kbit/s") && (note.contains("320×180") || note.contains("reduced quality")),
            "{note}"
        );
    }
}

#[test]
fn when_the_cap_lifts_the_full_picture_comes_back() {
    let report = impaired_call("caplift", 18, LinkConditions::perfect().rate(300_000), |proxy| {
        // Six seconds of media under the cap, then the link is clear.
        std::thread::sleep(Duration::from_secs(6));
        proxy.set(Direction::Up, LinkConditions::perfect());
    });
    for peer in &peers(&report) {
        let video = &peer["sent"]["video"];
        let sizes: Vec<(u64, u64)> = video["resolution_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["width"].as_u64().unwrap(), c["height"].as_u64().unwrap()))
            .collect();
        assert!(sizes.contains(&(320, 180)), "small under the cap: {video:#}");
        assert_eq!(
            video["resolution"], "640x360",
            "full size once the link is clear: {video:#}"
        );
        assert_eq!(peer["quality_limitation"], "none", "{peer:#}");
        assert!(peer["video"]["frames_decoded"].as_u64().unwrap() > 200, "{peer:#}");
    }
}

#[test]
fn with_10_percent_loss_resends_go_out_within_their_bound_and_frames_keep_arriving() {
    let report = impaired_call("loss10", 12, LinkConditions::perfect().random_loss(0.10), |_| {});
    let sent = frames_sent(&report);
    for peer in &peers(&report) {
        let decoded = peer["video"]["frames_decoded"].as_u64().unwrap();
        assert!(
            decoded * 10 > sent * 7,
            "most frames arrive at 10 % loss (before: 12 %): {decoded} of {sent}: {peer:#}"
        );
        let video = &peer["sent"]["video"];
        let resent = video["retransmitted_packets"].as_u64().unwrap();
        let packets = video["packets_sent"].as_u64().unwrap();
        assert!(resent > 0, "lost packets are resent: {video:#}");
        // 10 % of the originals lost; the bound is 15 % of the estimate at that loss (a loss rate
        // and a half), so resends stay well below a quarter of what is sent.
        assert!(
            resent * 4 < packets,
            "resends are bounded: {resent} of {packets} packets: {video:#}"
        );
    }
}

#[test]
fn a_clear_link_sends_the_full_picture_and_names_no_limit() {
    let report = impaired_call("clear", 10, LinkConditions::perfect(), |_| {});
    assert_eq!(report["ok"], true, "{report:#}");
    for peer in &peers(&report) {
        assert_eq!(peer["sent"]["video"]["resolution"], "640x360", "{peer:#}");
        assert_eq!(peer["quality_limitation"], "none", "{peer:#}");
        assert!(peer["quality_note"].is_null(), "{peer:#}");
    }
}

/// Mesh with one encoder per participant: one participant of three has a 300 kbit/s uplink. It
/// sends both others the small layer, its limit named, and they still receive it; the two others
/// keep the full picture between themselves: one bad link does not drag the others down.
#[test]
fn in_a_mesh_one_capped_participant_does_not_drag_the_others_down() {
    let turn = Coturn::start();
    let upstream = std::net::SocketAddr::new(turn.ip, turn.port);
    let proxy = UdpProxy::builder(upstream)
        .conditions(Direction::Up, LinkConditions::perfect().rate(300_000))
        .seed(3)
        .start();
    let dir = TempDir::new("mesh3cap");
    let direct = dir.path("direct.json");
    std::fs::write(&direct, turn.ice_config_json()).unwrap();
    let capped = dir.path("capped.json");
    let proxied = turn.ice_config_json_via(proxy.addr);
    std::fs::write(&capped, proxied).unwrap();
    let signal = signal_server();
    let url = signal.url().to_string();
    let run = |name: &str, participants: &str, config: &std::path::Path| {
        let config = config.to_str().unwrap();
        let args = [
            "--participants",
            participants,
            "--expect",
            "3",
            "--signal",
            &url,
            "--room",
            "mesh3cap",
            "--relay-only",
            "--ice-config",
            config,
            "--duration",
            "14",
        ];
        run_headless(&dir, name, &args)
    };
    let (pair, lone) = std::thread::scope(|s| {
        let pair = s.spawn(|| run("pair", "2", &direct));
        let lone = s.spawn(|| run("lone", "1", &capped));
        (pair.join().unwrap(), lone.join().unwrap())
    });
    assert!(
        proxy.stats(Direction::Up).passed_bytes > 0,
        "the capped participant's call did not go through the proxy"
    );
    let lone_id = lone.report["participants"][0]["id"]
        .as_str()
        .expect("the capped participant's id")
        .to_string();
    let pair_ids: Vec<String> = pair.report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pair_ids.len(), 2, "stderr:\n{}", pair.stderr);
    for (sender, peer) in streams(&pair.report) {
        let video = &peer["sent"]["video"];
        if peer["remote"] == lone_id.as_str() {
            // What the capped one sends us arrives (its estimate holds it to its uplink)...
            assert!(
                peer["video"]["frames_decoded"].as_u64().unwrap() > 150,
                "{sender} ← capped: {peer:#}"
            );
        } else {
            assert_eq!(
                video["resolution"], "640x360",
                "{sender} → the other uncapped one keeps the full picture: {video:#}"
            );
            assert_eq!(peer["quality_limitation"], "none", "{peer:#}");
            assert!(peer["video"]["frames_decoded"].as_u64().unwrap() > 300, "{peer:#}");
        }
    }
    // ...and it sends the small picture, the limit named.
    for (_, peer) in streams(&lone.report) {
        let video = &peer["sent"]["video"];
        assert!(
            time_at(video, (320, 180), 14_000.0) > 7_000.0,
            "the capped uplink carries the small picture: {video:#}"
        );
        assert_eq!(peer["quality_limitation"], "bandwidth", "{peer:#}");
    }
}
