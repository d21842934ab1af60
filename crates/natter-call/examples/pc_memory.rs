//! Memory of peer connections: two "engines" (side A and side B, each with Natter's peer
//! connection setup: codecs, interceptors, timers, one video and one audio track) open N
//! connections to each other over loopback host candidates, wait until all are connected, then
//! close them all. Prints one JSON line: RSS before, with N open, and after closing.
//!
//! `cargo run --release -p natter-call --example pc_memory [-- --connections N] [--stack-defaults]`
//! (`cargo xtask bench` runs it as the `pc_memory` scenario.)
//!
//! "Before" is measured after a warm-up of a few connections opened and closed, so that what
//! is allocated once per process (thread pools, TLS state, allocator arenas) is not counted
//! per connection. After closing, the example does what the app does when a call ends: it
//! returns freed memory to the system (`natter_call::memory`). A counting allocator tells how
//! many bytes are still allocated: a leak shows there even when RSS hides it.

use natter_call::peer::{LinkEvent, LinkSettings, PeerLink};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::peer_connection::RTCPeerConnectionState;

const WARM_UP: usize = 4;

/// Counts the bytes the program holds (allocated and not yet freed), to tell a leak (they stay)
/// from the allocator keeping freed memory for reuse (RSS stays, these go back down).
struct Counting;

static LIVE_BYTES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_kb() -> i64 {
    LIVE_BYTES.load(std::sync::atomic::Ordering::Relaxed) / 1024
}

#[tokio::main]
async fn main() {
    let mut connections = 100usize;
    let mut stack_defaults = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connections" => connections = args.next().and_then(|n| n.parse().ok()).expect("--connections N"),
            "--stack-defaults" => stack_defaults = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let settings = LinkSettings {
        ice: natter_ice::IceConfig::default(),
        relay_only: false,
        bind: "127.0.0.1:0".parse().unwrap(),
        stack_defaults,
        offer_payload_types: Default::default(),
        bridges: Default::default(),
    };

    let (links, _) = open_pairs(&settings, WARM_UP).await;
    close_and_settle(links).await;
    let before = Reading::now();

    let started = Instant::now();
    let (links, connected) = open_pairs(&settings, connections).await;
    let connect_s = started.elapsed().as_secs_f64();
    settle().await;
    let open = Reading::now();
    close_and_settle(links).await;
    let closed = Reading::now();

    // A second round: memory the first one left that the second reuses was the allocator's
    // (kept for reuse); memory that grows again by as much was leaked.
    let (links, _) = open_pairs(&settings, connections).await;
    close_and_settle(links).await;
    let second_round = Reading::now();

    let per_connection_kb = (open.rss_kb as f64 - before.rss_kb as f64) / connections as f64;
    println!(
        "{}",
        serde_json::json!({
            "connections": connections,
            "connected": connected,
            "stack_defaults": stack_defaults,
            "connect_all_s": connect_s,
            "rss_before_kb": before.rss_kb,
            "rss_open_kb": open.rss_kb,
            "rss_closed_kb": closed.rss_kb,
            "per_connection_kb": per_connection_kb,
            "closed_vs_before": closed.rss_kb as f64 / before.rss_kb as f64,
            "rss_second_round_kb": second_round.rss_kb,
            "live_before_kb": before.live_kb,
            "live_open_kb": open.live_kb,
            "live_closed_kb": closed.live_kb,
            "live_second_round_kb": second_round.live_kb,
            "threads_before": before.threads,
            "threads_closed": closed.threads,
            "tasks_before": before.tasks,
            "tasks_closed": closed.tasks,
        })
    );
}

/// Open `n` connections between side A and side B and wait (bounded) until they are connected;
/// returns every link (both sides) and how many connections both sides call connected.
async fn open_pairs(settings: &LinkSettings, n: usize) -> (Vec<PeerLink>, usize) {
    let (a_events, mut a_rx) = mpsc::unbounded_channel();
    let (b_events, mut b_rx) = mpsc::unbounded_channel();
    let mut a_links = HashMap::new();
    let mut b_links = HashMap::new();
    for i in 0..n {
        // Side A knows its remote as "b{i}", side B as "a{i}".
        let a = PeerLink::open(
            settings,
            "a",
            &format!("b{i}"),
            "B",
            a_events.clone(),
            &natter_call::codecs::VideoCodec::OFFERED,
        )
        .await
        .expect("open A");
        let b = PeerLink::open(
            settings,
            "b",
            &format!("a{i}"),
            "A",
            b_events.clone(),
            &natter_call::codecs::VideoCodec::OFFERED,
        )
        .await
        .expect("open B");
        let offer = a.pc.create_offer(None).await.expect("offer");
        a.pc.set_local_description(offer.clone()).await.expect("A local");
        b.pc.set_remote_description(offer).await.expect("B remote");
        let answer = b.pc.create_answer(None).await.expect("answer");
        b.pc.set_local_description(answer.clone()).await.expect("B local");
        a.pc.set_remote_description(answer).await.expect("A remote");
        a_links.insert(i, a);
        b_links.insert(i, b);
    }
    let index = |name: &str| name[1..].parse::<usize>().expect("link name");
    let mut connected = (vec![false; n], vec![false; n]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 + n as u64 / 2);
    loop {
        let both = connected.0.iter().zip(&connected.1).filter(|(a, b)| **a && **b).count();
        if both == n {
            break;
        }
        let event = tokio::select! {
            e = a_rx.recv() => e.map(|e| (true, e)),
            e = b_rx.recv() => e.map(|e| (false, e)),
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let Some((from_a, event)) = event else { break };
        match event {
            LinkEvent::LocalCandidate { remote, candidate } => {
                let to = if from_a {
                    &b_links[&index(&remote)]
                } else {
                    &a_links[&index(&remote)]
                };
                let _ = to.pc.add_ice_candidate(candidate).await;
            }
            LinkEvent::State { remote, state } => {
                let side = if from_a { &mut connected.0 } else { &mut connected.1 };
                side[index(&remote)] = state == RTCPeerConnectionState::Connected;
            }
            _ => {}
        }
    }
    let both = connected.0.iter().zip(&connected.1).filter(|(a, b)| **a && **b).count();
    (a_links.into_values().chain(b_links.into_values()).collect(), both)
}

/// Close every link, let the background shutdown finish, and return freed memory to the system
/// — what the app does once a call has ended (`Participant::leave`).
async fn close_and_settle(links: Vec<PeerLink>) {
    for mut link in links {
        link.close().await;
    }
    settle().await;
    natter_call::memory::release_freed_memory();
}

/// What the process holds at one moment.
struct Reading {
    rss_kb: u64,
    live_kb: i64,
    threads: u64,
    tasks: usize,
}

impl Reading {
    fn now() -> Reading {
        Reading {
            rss_kb: rss_kb(),
            live_kb: live_kb(),
            threads: threads(),
            tasks: tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        }
    }
}

/// Let background tasks finish and freed memory return before a reading.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Resident set size of this process, in KiB.
fn rss_kb() -> u64 {
    proc_status("VmRSS")
}

/// Threads of this process.
fn threads() -> u64 {
    proc_status("Threads")
}

/// A number from `/proc/self/status` (Linux).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|rest| rest.strip_prefix(':')))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}
