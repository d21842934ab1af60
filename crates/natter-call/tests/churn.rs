//! Churn soak (bounded: 50 + 200 cycles, at most 5 minutes): one participant stays in the room
//! while another joins, gets its video decoded, and leaves, 250 times, all in this process with real
//! signaling and WebRTC on loopback. After a warm-up, nothing may pile up: tokio tasks, sockets
//! and threads come back to their warm-up count, and resident memory stays within 10 %.
//! Linux only (it reads /proc/self).
#![cfg(target_os = "linux")]

use natter_call::media::MediaSettings;
use natter_call::participant::{Participant, ParticipantConfig};
use natter_call::peer::LinkSettings;
use natter_call::report::ParticipantReport;
use natter_signal::server::SignalServer;
use std::time::{Duration, Instant};

/// Join+leave cycles after the warm-up, and the warm-up (threads get their malloc arenas, the
/// departed list of the resident participant fills up to its bound).
const CYCLES: usize = 200;
const WARM_UP: usize = 50;
/// The whole soak's bound (not a timing goal: a run that needs longer is stuck somewhere).
const SOAK_LIMIT: Duration = Duration::from_secs(300);
/// How long closed connections get to finish closing in the background before we count.
const SETTLE_LIMIT: Duration = Duration::from_secs(15);

fn config(name: &str, url: &str, seed: u32) -> ParticipantConfig {
    ParticipantConfig {
        name: name.into(),
        room: "churn".into(),
        room_secret: None,
        signal_url: url.to_string(),
        link: LinkSettings { ice: Default::default(), relay_only: false, bind: "127.0.0.1:0".parse().unwrap(), stack_defaults: false },
        media: MediaSettings { seed, ..MediaSettings::default() },
        view: None,
        board: None,
        playout: None,
    }
}

/// What could leak, counted.
#[derive(Debug, Clone, Copy)]
struct Counts {
    tasks: usize,
    sockets: usize,
    threads: usize,
    rss_kb: u64,
}

fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn count() -> Counts {
    let sockets = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count();
    Counts {
        tasks: tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        sockets,
        threads: status_field("Threads:") as usize,
        rss_kb: status_field("VmRSS:"),
    }
}

/// Wait (bounded) for background closing to finish, return freed memory to the system (as the
/// engine does 2 s after someone leaves; done here at a known moment), then count.
async fn settled(baseline: Option<Counts>) -> Counts {
    let deadline = Instant::now() + SETTLE_LIMIT;
    tokio::time::sleep(Duration::from_secs(3)).await;
    loop {
        natter_call::memory::release_freed_memory();
        let now = count();
        let done = baseline.is_none_or(|b| now.tasks <= b.tasks && now.sockets <= b.sockets && now.threads <= b.threads);
        if done || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_until(p: &Participant, what: &str, deadline: Instant, ok: impl Fn(&ParticipantReport) -> bool) {
    loop {
        let report = p.snapshot().await;
        if ok(&report) {
            return;
        }
        assert!(Instant::now() < deadline, "{}: {what} did not happen within the soak's bound: {report:#?}", p.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_joins_and_leaves_leak_nothing() {
    let started = Instant::now();
    let deadline = started + SOAK_LIMIT;
    let server = SignalServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let _server = server.spawn();
    let ann = Participant::join(config("Ann", &url, 1)).await.unwrap();

    let mut baseline = None;
    for cycle in 0..WARM_UP + CYCLES {
        let bob = Participant::join(config("Bob", &url, 2 + cycle as u32)).await.unwrap_or_else(|e| panic!("cycle {cycle}: join failed: {e}"));
        let bob_id = bob.id.clone();
        wait_until(&ann, &format!("cycle {cycle}: Bob's video at Ann"), deadline, |r| {
            r.peers.iter().any(|p| p.remote == bob_id && p.state == "connected" && p.video.frames_decoded > 0)
        })
        .await;
        bob.leave().await;
        wait_until(&ann, &format!("cycle {cycle}: Ann to see Bob leave"), deadline, |r| r.peers.iter().any(|p| p.remote == bob_id && p.left_ms.is_some())).await;
        if (cycle + 1) % 50 == 0 {
            let now = count();
            println!("cycle {:>3}: {:>5.1} s, tasks {}, sockets {}, threads {}, RSS {} KiB", cycle + 1, started.elapsed().as_secs_f64(), now.tasks, now.sockets, now.threads, now.rss_kb);
        }
        if cycle + 1 == WARM_UP {
            let counts = settled(None).await;
            println!("after {WARM_UP} warm-up cycles ({:.0} s): {counts:?}", started.elapsed().as_secs_f64());
            baseline = Some(counts);
        }
    }
    let baseline = baseline.unwrap();
    let end = settled(Some(baseline)).await;
    let took = started.elapsed().as_secs_f64();
    println!("after {} cycles ({took:.0} s, {:.0} ms per join+leave): {end:?}", WARM_UP + CYCLES, took * 1000.0 / (WARM_UP + CYCLES) as f64);
    let growth = (end.rss_kb as f64 - baseline.rss_kb as f64) / baseline.rss_kb as f64 * 100.0;
    println!("RSS {} → {} KiB ({growth:+.1} %)", baseline.rss_kb, end.rss_kb);

    assert!(end.tasks <= baseline.tasks, "tokio tasks leaked: {} after warm-up, {} after {CYCLES} cycles", baseline.tasks, end.tasks);
    assert!(end.sockets <= baseline.sockets, "sockets leaked: {} after warm-up, {} after {CYCLES} cycles", baseline.sockets, end.sockets);
    assert!(end.threads <= baseline.threads, "threads leaked: {} after warm-up, {} after {CYCLES} cycles", baseline.threads, end.threads);
    assert!(growth <= 10.0, "resident memory grew {growth:.1} % over {CYCLES} cycles after warm-up ({} → {} KiB)", baseline.rss_kb, end.rss_kb);
    // Ann's call is still fine: a last newcomer reaches her.
    let last = Participant::join(config("Last", &url, 9999)).await.unwrap();
    let last_id = last.id.clone();
    wait_until(&ann, "a last newcomer's video", Instant::now() + Duration::from_secs(20), |r| r.peers.iter().any(|p| p.remote == last_id && p.video.frames_decoded > 0)).await;
    last.leave().await;
    ann.leave().await;
}
