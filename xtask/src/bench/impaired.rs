//! The `impaired_*` scenarios: relay-only calls whose TURN traffic crosses `natter_rig::impair`'s
//! proxy in front of a real coturn, with loss, bursts, jitter, a rate cap or a rate that drops
//! mid-call on each participant's uplink (its downlink stays perfect, so each direction of the
//! call crosses exactly one impaired link). Natter and `--stack-defaults` alternate run by run.
//!
//! Figures per call (worst stream unless said): frames delivered (a receiver's decoded frames
//! over its sender's `frames_sent`), freezes (gaps > 200 ms, plus a stall still going on at the
//! end), glass-to-glass p50/p95, what was sent (the report's `sent.video.bitrate_kbps` when it has
//! one, else the proxy's count of what each client sent), the bandwidth estimate, resolution
//! changes, retransmissions, audio concealment when the report has a playout, and the proxy's
//! drop counters. Report fields a build does not have yet print as "–".

use super::figures::{Goal, Metric, ScenarioResult};
use super::runner::{Binaries, HeadlessRun, streams, tail};
use natter_rig::Coturn;
use natter_rig::impair::{Direction, LinkConditions, LinkStats, UdpProxy};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long each call lasts once everyone is in the room.
const CALL_S: u64 = 15;
/// When the rate of `impaired_drop_2000_300` falls, after the call is established.
const DROP_AFTER: Duration = Duration::from_secs(8);
/// The proxy's count of what a client sent covers this window, from 1 s after the call is
/// established (set-up and its first keyframes left out, the call's end too).
const COUNT_FROM: Duration = Duration::from_secs(1);
const COUNT_FOR: Duration = Duration::from_secs(CALL_S - 4);
const LIMIT: Duration = Duration::from_secs(CALL_S + 45);

/// What one scenario does to each participant's uplink.
struct Spec {
    uplink: LinkConditions,
    /// New uplink conditions this long after the call is established.
    change: Option<(Duration, LinkConditions)>,
    note: &'static str,
}

fn kbps(k: u64) -> u64 {
    k * 1000
}

fn spec(name: &str) -> Spec {
    let perfect = LinkConditions::perfect();
    let (uplink, note) = match name {
        "impaired_loss_2" => (perfect.random_loss(0.02), "2 % random loss"),
        "impaired_loss_10" => (perfect.random_loss(0.10), "10 % random loss"),
        "impaired_burst_5" => (
            perfect.burst_loss(0.05, 4.0),
            "5 % loss in bursts of 4 datagrams on average (Gilbert–Elliott)",
        ),
        "impaired_reorder" => (
            perfect.delay(Duration::from_millis(100), Duration::from_millis(20)),
            "100 ± 20 ms delay (uniform), reordering",
        ),
        "impaired_cap_1500" => (
            perfect.rate(kbps(1500)),
            "1500 kbit/s cap, a home router's queue (32 KiB)",
        ),
        "impaired_cap_500" => (
            perfect.rate(kbps(500)),
            "500 kbit/s cap, a home router's queue (32 KiB)",
        ),
        "impaired_cap_250" => (
            perfect.rate(kbps(250)),
            "250 kbit/s cap, a home router's queue (32 KiB)",
        ),
        "impaired_drop_2000_300" => (
            perfect.rate(kbps(2000)),
            "2000 kbit/s falling to 300 kbit/s 8 s after the call is established, 32 KiB queue",
        ),
        "impaired_mesh3_one_capped" => (
            perfect.rate(kbps(300)),
            "one participant of 3 with a 300 kbit/s uplink (32 KiB queue)",
        ),
        other => panic!("unknown impaired scenario {other}"),
    };
    let change = (name == "impaired_drop_2000_300").then(|| (DROP_AFTER, perfect.rate(kbps(300))));
    Spec { uplink, change, note }
}

pub fn run(name: &str, bin: &Binaries, runs: usize) -> ScenarioResult {
    if name == "impaired_mesh3_one_capped" {
        return mesh3_one_capped(bin, runs);
    }
    let spec = spec(name);
    let mut metrics = vec![
        Metric::new("frames_delivered", "%").with_defaults(),
        Metric::new("longest_freeze_ms", "ms").with_defaults(),
    ];
    metrics.extend(common_metrics("", true));
    if spec.change.is_some() {
        metrics.push(
            Metric::new("longest_freeze_after_drop_ms", "ms")
                .with_defaults()
                .goal(Goal::MaxBelow(300.0)),
        );
        metrics.push(Metric::new("up_kbps_before_drop", "kbps").with_defaults());
        metrics.push(Metric::new("up_kbps_after_drop", "kbps").with_defaults());
    }
    let mut result = ScenarioResult {
        metrics,
        ..Default::default()
    };
    match name {
        "impaired_loss_10" | "impaired_cap_500" => goals(&mut result, 98.0, Some(200.0)),
        "impaired_cap_250" => goals(&mut result, 95.0, None),
        "impaired_reorder" => goals(&mut result, 99.0, None),
        _ => {}
    }
    let turn = Coturn::start();
    for run in 0..runs {
        for defaults in [false, true] {
            match two_party(bin, &turn, &spec, run as u64 + 1, defaults) {
                Ok(call) => call.record(&mut result, defaults, name),
                Err(e) => result.failures.push(format!("{}: {e}", who(defaults))),
            }
        }
    }
    result.notes.push(format!(
        "2 participants in one process, relay-only through one coturn behind the impairment proxy, {CALL_S} s; each uplink: {}; downlinks perfect",
        spec.note
    ));
    result.notes.push(figure_notes());
    result
}

fn goals(result: &mut ScenarioResult, frames: f64, freeze: Option<f64>) {
    let metric = result.metric("frames_delivered");
    *metric = metric.clone().goal(Goal::MedianAtLeast(frames));
    if let Some(freeze) = freeze {
        let metric = result.metric("longest_freeze_ms");
        *metric = metric.clone().goal(Goal::MaxBelow(freeze));
    }
}

/// The figures every impaired call has, named `<prefix><name>`; the proxy's only `with_proxy`.
fn common_metrics(prefix: &str, with_proxy: bool) -> Vec<Metric> {
    [
        ("frames_delivered_connected", "%", false),
        ("freeze_count", "", false),
        ("latency_p50_ms", "ms", false),
        ("latency_p95_ms", "ms", false),
        ("sent_kbps", "kbps", false),
        ("proxy_up_kbps", "kbps", true),
        ("target_kbps", "kbps", false),
        ("sent_height_px", "px", false),
        ("resolution_changes", "", false),
        ("retransmitted_packets", "", false),
        ("audio_concealed", "%", false),
        ("proxy_lost", "dgrams", true),
        ("proxy_overflowed", "dgrams", true),
    ]
    .into_iter()
    .filter(|(_, _, proxy)| with_proxy || !proxy)
    .map(|(name, unit, _)| Metric::new(&format!("{prefix}{name}"), unit).with_defaults())
    .collect()
}

fn figure_notes() -> String {
    "frames_delivered = the worst stream's decoded frames / its sender's frames_sent (set-up included); frames_delivered_connected = the same over what the sender's link was to carry from its first frame on (the report's sent.video.frames_sent: set-up left out, as browsers count framesSent); freezes: the worst stream's, a stall still going on at the end (the report's duration or the call's last decoded frame, whichever is later) counted as one; latency: median of the streams' p50, worst p95; sent_kbps = the report's sent.video.bitrate_kbps (mean over senders) when present, else proxy_up_kbps; proxy_up_kbps = what each client sent into the proxy (all of it: media, RTCP, TURN framing), mean over clients, over 11 s from 1 s after the call is established; target_kbps / sent_height_px / resolution_changes / retransmitted_packets: the report's sent.video fields, absent in builds without them; audio_concealed = frames the receivers' jitter buffers concealed / (played + concealed), all streams (headless plays into nothing on the playout clock; frames rebuilt from Opus in-band FEC count as played); proxy_lost / proxy_overflowed: datagrams dropped by the loss model / by the full queue, all uplinks".into()
}

/// One finished call: the reports (one per process), the proxy's counters, what happened when.
struct Call {
    reports: Vec<Value>,
    /// Ids of the participants whose uplinks went through the proxy (every one when empty).
    capped: Vec<String>,
    /// Each proxied client's kbit/s over the counting window.
    up_kbps: Vec<f64>,
    /// Up, summed over clients, at the end.
    up: LinkStats,
    /// The rate change: (ms since join, kbit/s before, after).
    drop: Option<(f64, f64, f64)>,
    /// Failed runs' reasons (the figures are still read: an impaired call may fail by headless's
    /// standards and still be worth measuring).
    not_ok: Vec<String>,
}

/// A 2-party relay-only call through a fresh proxy.
fn two_party(bin: &Binaries, turn: &Coturn, spec: &Spec, seed: u64, defaults: bool) -> Result<Call, String> {
    let proxy = UdpProxy::builder(std::net::SocketAddr::new(turn.ip, turn.port))
        .conditions(Direction::Up, spec.uplink)
        .seed(seed)
        .start();
    let config = proxied_config(bin, turn, &proxy);
    let duration = CALL_S.to_string();
    let mut args = vec![
        "--participants",
        "2",
        "--duration",
        &duration,
        "--relay-only",
        "--ice-config",
        path(&config),
    ];
    if defaults {
        args.push("--stack-defaults");
    }
    let (run, timeline) = watched(&proxy, spec.change, |on_line| {
        bin.headless_watching(&args, LIMIT, on_line)
    })?;
    let run = run?;
    keep(&run.report, &run.log);
    let mut not_ok = Vec::new();
    if !run.success {
        not_ok.push(format!(
            "call not ok: {}; log:\n{}",
            run.report["reason"].as_str().unwrap_or("?"),
            tail(&run.log)
        ));
    }
    Ok(Call {
        reports: vec![run.report],
        capped: Vec::new(),
        up_kbps: timeline.up_kbps,
        up: proxy.stats(Direction::Up),
        drop: timeline.drop,
        not_ok,
    })
}

/// The ICE config of a relay-only call through `proxy` (in front of `turn`).
fn proxied_config(bin: &Binaries, turn: &Coturn, proxy: &UdpProxy) -> std::path::PathBuf {
    let json = format!(
        r#"{{"iceServers":[{{"urls":["turn:127.0.0.1:{}?transport=udp"],"username":"{}","credential":"{}"}}]}}"#,
        proxy.addr.port(),
        turn.user,
        turn.password
    );
    bin.write(&format!("impaired-{}.json", proxy.addr.port()), &json)
}

/// What the watcher saw of a call's timeline.
#[derive(Default)]
struct Timeline {
    up_kbps: Vec<f64>,
    drop: Option<(f64, f64, f64)>,
}

/// Run `call` (given a log-line callback) while a watcher thread counts what each client sends
/// and applies `change` on time, both from the moment the call says it is established.
fn watched<T: Send>(
    proxy: &UdpProxy,
    change: Option<(Duration, LinkConditions)>,
    call: impl FnOnce(&mut dyn FnMut(&str)) -> T,
) -> Result<(T, Timeline), String> {
    let (events, seen) = mpsc::channel::<(&'static str, Instant)>();
    std::thread::scope(|s| {
        let watcher = s.spawn(move || watch(proxy, change, &seen));
        let mut on_line = |line: &str| {
            if line.contains("natter_call::participant: joined") {
                let _ = events.send(("joined", Instant::now()));
            }
            if line.contains("connection state") && line.contains("state=connected") {
                let _ = events.send(("connected", Instant::now()));
            }
            if line.contains("call established") {
                let _ = events.send(("established", Instant::now()));
            }
        };
        let out = call(&mut on_line);
        let _ = events.send(("ended", Instant::now()));
        let timeline = watcher.join().map_err(|_| "the watcher thread panicked".to_string())?;
        Ok((out, timeline))
    })
}

fn watch(
    proxy: &UdpProxy,
    change: Option<(Duration, LinkConditions)>,
    seen: &mpsc::Receiver<(&'static str, Instant)>,
) -> Timeline {
    let mut timeline = Timeline::default();
    let mut joined = None;
    // The call is established when headless says so, or (when it never says so: a pair that
    // does not decode) 3 s after the first connection.
    let mut connected: Option<Instant> = None;
    let established = loop {
        let next = match connected {
            Some(at) => seen.recv_timeout((at + Duration::from_secs(3)).saturating_duration_since(Instant::now())),
            None => seen.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(("joined", at)) => joined = joined.or(Some(at)),
            Ok(("connected", at)) => connected = connected.or(Some(at)),
            Ok(("established", at)) => break at,
            Err(mpsc::RecvTimeoutError::Timeout) => break connected.expect("waits only once connected"),
            _ => return timeline,
        }
    };
    // Sleep until `at` unless the call ends first; whether it is still running.
    let until = |at: Instant| loop {
        match seen.recv_timeout(at.saturating_duration_since(Instant::now())) {
            Ok(("ended", _)) | Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            Err(mpsc::RecvTimeoutError::Timeout) => return true,
            Ok(_) => continue,
        }
    };
    let sent = |stats: &[(std::net::SocketAddr, [LinkStats; 2])]| {
        stats
            .iter()
            .map(|(a, s)| (*a, s[0].arrived_bytes))
            .collect::<HashMap<_, _>>()
    };
    let total = |stats: &HashMap<std::net::SocketAddr, u64>| stats.values().sum::<u64>();
    let rate = |bytes: u64, over: Duration| bytes as f64 * 8.0 / over.as_secs_f64() / 1000.0;
    let mut events = vec![
        (established + COUNT_FROM, "count"),
        (established + COUNT_FROM + COUNT_FOR, "counted"),
    ];
    if let Some((after, _)) = change {
        events.push((established + after - Duration::from_secs(4), "before"));
        events.push((established + after, "change"));
        events.push((established + after + Duration::from_secs(1), "after"));
        events.push((established + after + Duration::from_secs(4), "after_end"));
    }
    events.sort();
    let mut marks: HashMap<&str, HashMap<std::net::SocketAddr, u64>> = HashMap::new();
    for (at, what) in events {
        if !until(at) {
            break;
        }
        if what == "change"
            && let Some((_, conditions)) = change
        {
            proxy.set(Direction::Up, conditions);
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "bench:     uplink conditions changed at unix {:.3} s (to match the kept logs)",
                unix.as_secs_f64()
            );
        }
        marks.insert(what, sent(&proxy.client_stats()));
    }
    if let (Some(from), Some(to)) = (marks.get("count"), marks.get("counted")) {
        timeline.up_kbps = to
            .iter()
            .map(|(addr, bytes)| rate(bytes - from.get(addr).copied().unwrap_or(0), COUNT_FOR))
            .collect();
    }
    if let (Some(before), Some(change_at), Some(after), Some(after_end)) = (
        marks.get("before"),
        marks.get("change"),
        marks.get("after"),
        marks.get("after_end"),
    ) {
        let clients = change_at.len().max(1) as f64;
        let drop_ms = joined.map_or(f64::NAN, |j: Instant| {
            (established + DROP_AFTER - j).as_secs_f64() * 1000.0
        });
        timeline.drop = Some((
            drop_ms,
            rate(total(change_at) - total(before), Duration::from_secs(4)) / clients,
            rate(total(after_end) - total(after), Duration::from_secs(3)) / clients,
        ));
    }
    timeline
}

/// What a report's streams say, as figures.
#[derive(Debug, Default)]
struct Figures {
    frames_delivered: Option<f64>,
    frames_delivered_connected: Option<f64>,
    freeze_count: Option<f64>,
    longest_freeze_ms: Option<f64>,
    latency_p50_ms: Option<f64>,
    latency_p95_ms: Option<f64>,
    sent_kbps: Option<f64>,
    target_kbps: Option<f64>,
    sent_height_px: Option<f64>,
    resolution_changes: Option<f64>,
    retransmitted_packets: Option<f64>,
    audio_concealed: Option<f64>,
    resolutions: Vec<String>,
    limitations: Vec<String>,
}

/// Figures over the streams `from` senders accepted by `from` to receivers accepted by `to`
/// (participant ids), across every report of a call.
fn figures(reports: &[Value], from: impl Fn(&str) -> bool, to: impl Fn(&str) -> bool) -> Figures {
    let participants: Vec<&Value> = reports
        .iter()
        .flat_map(|r| r["participants"].as_array().into_iter().flatten())
        .collect();
    let frames_sent: HashMap<&str, f64> = participants
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["frames_sent"].as_f64()?)))
        .collect();
    let all: Vec<(String, Value)> = reports.iter().flat_map(streams).collect();
    let end_ms = call_end_ms(reports, &all);
    let wanted: Vec<&(String, Value)> = all
        .iter()
        .filter(|(receiver, p)| to(receiver) && from(p["remote"].as_str().unwrap_or("")))
        .collect();
    let mut f = Figures::default();
    let worst = |values: Vec<f64>, pick: fn(f64, f64) -> f64| values.into_iter().reduce(pick);
    let mut delivered = Vec::new();
    let mut delivered_connected = Vec::new();
    // What each sender's link to each receiver was to carry since its first frame went out.
    let link_frames = |sender: &str, receiver: &str| -> Option<f64> {
        let sender = participants.iter().find(|p| p["id"].as_str() == Some(sender))?;
        let peers = sender["peers"].as_array()?;
        peers
            .iter()
            .filter(|peer| peer["remote"].as_str() == Some(receiver))
            .find_map(|peer| peer["sent"]["video"]["frames_sent"].as_f64())
    };
    let (mut freezes, mut longest, mut p50, mut p95) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (receiver, peer) in &wanted {
        let video = &peer["video"];
        if let (Some(decoded), Some(sent)) = (
            video["frames_decoded"].as_f64(),
            frames_sent.get(peer["remote"].as_str().unwrap_or("")),
        ) {
            delivered.push(if *sent > 0.0 { 100.0 * decoded / sent } else { 0.0 });
        }
        if let (Some(decoded), Some(sent)) = (
            video["frames_decoded"].as_f64(),
            link_frames(peer["remote"].as_str().unwrap_or(""), receiver),
        ) {
            delivered_connected.push(if sent > 0.0 {
                (100.0 * decoded / sent).min(100.0)
            } else {
                0.0
            });
        }
        let stall = stall_at_end(peer, end_ms);
        freezes.push(video["freeze_count"].as_f64().unwrap_or(0.0) + if stall.is_some() { 1.0 } else { 0.0 });
        longest.push(
            video["longest_freeze_ms"]
                .as_f64()
                .unwrap_or(0.0)
                .max(stall.unwrap_or(0.0)),
        );
        p50.extend(video["latency_ms_p50"].as_f64());
        p95.extend(video["latency_ms_p95"].as_f64());
    }
    f.frames_delivered = worst(delivered, f64::min);
    f.frames_delivered_connected = worst(delivered_connected, f64::min);
    f.freeze_count = worst(freezes, f64::max);
    f.longest_freeze_ms = worst(longest, f64::max);
    p50.sort_by(f64::total_cmp);
    f.latency_p50_ms = p50.get(p50.len() / 2).copied();
    f.latency_p95_ms = worst(p95, f64::max);
    // What the senders say they sent: their peer entries for the wanted receivers.
    let sending: Vec<&Value> = participants
        .iter()
        .filter(|p| from(p["id"].as_str().unwrap_or("")))
        .flat_map(|p| p["peers"].as_array().into_iter().flatten())
        .filter(|peer| to(peer["remote"].as_str().unwrap_or("")))
        .collect();
    let mean = |values: Vec<f64>| (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    let field = |name: &str| {
        sending
            .iter()
            .filter_map(|peer| peer["sent"]["video"][name].as_f64())
            .collect::<Vec<_>>()
    };
    f.sent_kbps = mean(field("bitrate_kbps"));
    f.target_kbps = mean(field("target_kbps"));
    f.retransmitted_packets = mean(field("retransmitted_packets"));
    let heights: Vec<f64> = sending
        .iter()
        .filter_map(|peer| parse_resolution(peer["sent"]["video"]["resolution"].as_str()?).map(|(_, h)| h))
        .collect();
    f.sent_height_px = worst(heights, f64::min);
    let changes: Vec<f64> = sending
        .iter()
        .filter_map(|peer| {
            peer["sent"]["video"]["resolution_changes"]
                .as_array()
                .map(|c| c.len() as f64)
        })
        .collect();
    f.resolution_changes = worst(changes, f64::max);
    for peer in &sending {
        if let Some(changes) = peer["sent"]["video"]["resolution_changes"].as_array() {
            let steps: Vec<String> = changes
                .iter()
                .map(|c| {
                    format!(
                        "{}x{} at {:.1} s",
                        c["width"],
                        c["height"],
                        c["at_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0
                    )
                })
                .collect();
            f.resolutions.push(format!(
                "→ {}: {}",
                peer["remote"].as_str().unwrap_or("?"),
                if steps.is_empty() {
                    "no change".into()
                } else {
                    steps.join(", ")
                }
            ));
        }
        if let Some(limit) = peer["quality_limitation"].as_str() {
            f.limitations.push(limit.to_string());
        }
    }
    let (mut played, mut concealed) = (0.0, 0.0);
    let mut any_playout = false;
    for (_, peer) in &wanted {
        let playout = &peer["audio"]["playout"];
        if let (Some(p), Some(c)) = (playout["played"].as_f64(), playout["concealed"].as_f64()) {
            any_playout = true;
            played += p;
            concealed += c;
        }
    }
    if any_playout && played + concealed > 0.0 {
        f.audio_concealed = Some(100.0 * concealed / (played + concealed));
    }
    f
}

/// When the call's video ended, in ms since joining: its last decoded frame, or its duration
/// when later (every stream may have stalled).
fn call_end_ms(reports: &[Value], all: &[(String, Value)]) -> Option<f64> {
    let last_frame = all.iter().filter_map(|(_, p)| p["last_frame_ms"].as_f64());
    let durations = reports
        .iter()
        .filter_map(|r| r["duration_s"].as_f64().map(|s| s * 1000.0));
    last_frame.chain(durations).reduce(f64::max)
}

/// A stall still going on when the call's video ended (`end_ms`, [`call_end_ms`]) has no
/// freeze entry yet: how long it had lasted, if > 200 ms.
fn stall_at_end(peer: &Value, end_ms: Option<f64>) -> Option<f64> {
    match (end_ms, peer["last_frame_ms"].as_f64()) {
        (Some(end), Some(last)) if end - last > 200.0 => Some(end - last),
        (Some(end), None) => Some(end),
        _ => None,
    }
}

fn parse_resolution(text: &str) -> Option<(f64, f64)> {
    let (w, h) = text.split_once('x')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

impl Call {
    /// Record the figures of the streams from `from` to `to` under `prefix` (metric names
    /// `<prefix>frames_delivered` etc.); the proxy's counters with the first prefix only.
    fn record_streams(
        &self,
        result: &mut ScenarioResult,
        defaults: bool,
        prefix: &str,
        from: impl Fn(&str) -> bool,
        to: impl Fn(&str) -> bool,
    ) -> Figures {
        let f = figures(&self.reports, from, to);
        let mut put = |name: &str, value: Option<f64>| {
            if let Some(v) = value {
                push(result.metric(&format!("{prefix}{name}")), defaults, v);
            }
        };
        put("frames_delivered", f.frames_delivered);
        put("frames_delivered_connected", f.frames_delivered_connected);
        put("longest_freeze_ms", f.longest_freeze_ms);
        put("freeze_count", f.freeze_count);
        put("latency_p50_ms", f.latency_p50_ms);
        put("latency_p95_ms", f.latency_p95_ms);
        put("target_kbps", f.target_kbps);
        put("sent_height_px", f.sent_height_px);
        put("resolution_changes", f.resolution_changes);
        put("retransmitted_packets", f.retransmitted_packets);
        put("audio_concealed", f.audio_concealed);
        f
    }

    fn record_proxy(&self, result: &mut ScenarioResult, defaults: bool, prefix: &str, f: &Figures) {
        let up_kbps = (!self.up_kbps.is_empty()).then(|| self.up_kbps.iter().sum::<f64>() / self.up_kbps.len() as f64);
        let mut put = |name: &str, value: Option<f64>| {
            if let Some(v) = value {
                push(result.metric(&format!("{prefix}{name}")), defaults, v);
            }
        };
        put("sent_kbps", f.sent_kbps.or(up_kbps));
        put("proxy_up_kbps", up_kbps);
        put("proxy_lost", Some(self.up.lost as f64));
        put("proxy_overflowed", Some(self.up.overflowed as f64));
    }

    fn record(&self, result: &mut ScenarioResult, defaults: bool, name: &str) {
        let f = self.record_streams(result, defaults, "", |_| true, |_| true);
        self.record_proxy(result, defaults, "", &f);
        let mut after_drop = None;
        if let Some((drop_ms, before, after)) = self.drop {
            // Freezes that ended after the drop, and stalls still going on at the end.
            let all = self.reports.iter().flat_map(streams).collect::<Vec<_>>();
            let end_ms = call_end_ms(&self.reports, &all);
            let longest = all
                .iter()
                .map(|(_, peer)| {
                    let freezes = peer["video"]["freezes"].as_array().into_iter().flatten();
                    let ended_after = freezes.filter(|fr| fr["to_ms"].as_f64().is_some_and(|t| t > drop_ms));
                    let longest = ended_after
                        .filter_map(|fr| Some(fr["to_ms"].as_f64()? - fr["from_ms"].as_f64()?))
                        .fold(0.0, f64::max);
                    longest.max(stall_at_end(peer, end_ms).unwrap_or(0.0))
                })
                .fold(0.0, f64::max);
            after_drop = Some(longest);
            push(result.metric("longest_freeze_after_drop_ms"), defaults, longest);
            push(result.metric("up_kbps_before_drop"), defaults, before);
            push(result.metric("up_kbps_after_drop"), defaults, after);
        }
        self.print(name, defaults, "", &f, after_drop);
        for reason in &self.not_ok {
            result.notes.push(format!("{}: {reason}", who(defaults)));
        }
    }

    fn print(&self, name: &str, defaults: bool, label: &str, f: &Figures, after_drop: Option<f64>) {
        let n = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        let up_kbps = (!self.up_kbps.is_empty()).then(|| self.up_kbps.iter().sum::<f64>() / self.up_kbps.len() as f64);
        let mut line = format!(
            "bench:   {name} {}{label}: frames {}% ({}% once connected), freezes {} (longest {} ms), g2g p50/p95 {}/{} ms, sent {} kbit/s (report) {} (proxy), target {} kbit/s, height {} px, retransmitted {}, limitation {}, audio concealed {}%, proxy up: lost {} overflowed {} of {}",
            who(defaults),
            f.frames_delivered.map_or("–".into(), |v| format!("{v:.1}")),
            f.frames_delivered_connected.map_or("–".into(), |v| format!("{v:.1}")),
            n(f.freeze_count),
            n(f.longest_freeze_ms),
            n(f.latency_p50_ms),
            n(f.latency_p95_ms),
            n(f.sent_kbps),
            n(up_kbps),
            n(f.target_kbps),
            n(f.sent_height_px),
            n(f.retransmitted_packets),
            if f.limitations.is_empty() {
                "–".into()
            } else {
                f.limitations.join("/")
            },
            f.audio_concealed.map_or("–".into(), |v| format!("{v:.1}")),
            self.up.lost,
            self.up.overflowed,
            self.up.arrived,
        );
        if let (Some((_, before, after)), Some(longest)) = (self.drop, after_drop) {
            line.push_str(&format!(
                "; uplink {before:.0} → {after:.0} kbit/s across the drop, longest freeze after it {longest:.0} ms"
            ));
        }
        eprintln!("{line}");
        if !f.resolutions.is_empty() {
            eprintln!("bench:     resolution {}", f.resolutions.join("; "));
        }
    }
}

/// 3 participants through one signaling server: one (in its own process) sends through the
/// proxy with a 300 kbit/s uplink; the other two (another process) go to coturn directly and
/// must keep full quality between themselves.
fn mesh3_one_capped(bin: &Binaries, runs: usize) -> ScenarioResult {
    let mut metrics = vec![
        Metric::new("frames_delivered", "%")
            .with_defaults()
            .goal(Goal::MedianAtLeast(98.0)),
        Metric::new("longest_freeze_ms", "ms")
            .with_defaults()
            .goal(Goal::MaxBelow(200.0)),
    ];
    metrics.extend(common_metrics("", false));
    metrics.push(Metric::new("capped_frames_delivered", "%").with_defaults());
    metrics.push(Metric::new("capped_longest_freeze_ms", "ms").with_defaults());
    metrics.extend(common_metrics("capped_", true));
    let mut result = ScenarioResult {
        metrics,
        ..Default::default()
    };
    let turn = Coturn::start();
    let direct = bin.write("mesh3-direct.json", &turn.ice_config_json());
    let server = natter_rig::SignalServerProcess::start(&bin.natter);
    let url = server.url().to_string();
    let spec = spec("impaired_mesh3_one_capped");
    for run in 0..runs {
        for defaults in [false, true] {
            match mesh3_call(
                bin,
                &turn,
                &direct,
                &url,
                &spec,
                &format!("mesh3-{run}-{defaults}"),
                run as u64 + 1,
                defaults,
            ) {
                Ok(call) => {
                    let capped = call.capped.clone();
                    let is_capped = |id: &str| capped.iter().any(|c| c == id);
                    let f = call.record_streams(&mut result, defaults, "", |id| !is_capped(id), |id| !is_capped(id));
                    // The uncapped two's sending is not counted by the proxy: the report's, or nothing.
                    if let Some(v) = f.sent_kbps {
                        push(result.metric("sent_kbps"), defaults, v);
                    }
                    call.print(
                        "impaired_mesh3_one_capped",
                        defaults,
                        " (uncapped ⇄ uncapped)",
                        &f,
                        None,
                    );
                    let g = call.record_streams(&mut result, defaults, "capped_", is_capped, |id| !is_capped(id));
                    call.record_proxy(&mut result, defaults, "capped_", &g);
                    call.print("impaired_mesh3_one_capped", defaults, " (capped → uncapped)", &g, None);
                    for reason in &call.not_ok {
                        result.notes.push(format!("{}: {reason}", who(defaults)));
                    }
                }
                Err(e) => result.failures.push(format!("{}: {e}", who(defaults))),
            }
        }
    }
    result.notes.push(format!(
        "3 participants, relay-only, one natter signal-server, {CALL_S} s: the capped one in its own process through the impairment proxy (uplink 300 kbit/s, 32 KiB queue; downlink perfect), the other two in another process straight to the same coturn. Unprefixed figures: the two uncapped ones between themselves (the goal: full quality); capped_*: from the capped one to them (its sent_kbps falls back to the proxy's count)"
    ));
    result.notes.push(figure_notes());
    result
}

#[allow(clippy::too_many_arguments)]
fn mesh3_call(
    bin: &Binaries,
    turn: &Coturn,
    direct: &std::path::Path,
    url: &str,
    spec: &Spec,
    room: &str,
    seed: u64,
    defaults: bool,
) -> Result<Call, String> {
    let proxy = UdpProxy::builder(std::net::SocketAddr::new(turn.ip, turn.port))
        .conditions(Direction::Up, spec.uplink)
        .seed(seed)
        .start();
    let proxied = proxied_config(bin, turn, &proxy);
    let duration = CALL_S.to_string();
    let args = |participants: &'static str, config: &std::path::Path| {
        let mut args: Vec<String> = [
            "--participants",
            participants,
            "--expect",
            "3",
            "--duration",
            &duration,
            "--relay-only",
            "--bind",
            "127.0.0.1",
            "--signal",
            url,
            "--room",
            room,
        ]
        .map(String::from)
        .to_vec();
        args.extend(["--ice-config".to_string(), path(config).to_string()]);
        if defaults {
            args.push("--stack-defaults".into());
        }
        args
    };
    let (capped_args, others_args) = (args("1", &proxied), args("2", direct));
    let ((capped, others), timeline) = watched(&proxy, None, |on_line| {
        std::thread::scope(|s| {
            let others = s.spawn(|| bin.headless(&others_args.iter().map(String::as_str).collect::<Vec<_>>(), LIMIT));
            let capped = bin.headless_watching(
                &capped_args.iter().map(String::as_str).collect::<Vec<_>>(),
                LIMIT,
                on_line,
            );
            (
                capped,
                others
                    .join()
                    .unwrap_or_else(|_| Err("the thread running the others panicked".into())),
            )
        })
    })?;
    let (capped, others): (HeadlessRun, HeadlessRun) = (capped?, others?);
    keep(&capped.report, &capped.log);
    keep(&others.report, &others.log);
    let mut not_ok = Vec::new();
    for (who, run) in [("capped", &capped), ("uncapped", &others)] {
        if !run.success {
            not_ok.push(format!(
                "{who} process not ok: {}; log:\n{}",
                run.report["reason"].as_str().unwrap_or("?"),
                tail(&run.log)
            ));
        }
    }
    let capped_ids: Vec<String> = capped.report["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    if capped_ids.is_empty() {
        return Err(format!(
            "the capped participant's report has no participant; log:\n{}",
            tail(&capped.log)
        ));
    }
    Ok(Call {
        reports: vec![capped.report, others.report],
        capped: capped_ids,
        up_kbps: timeline.up_kbps,
        up: proxy.stats(Direction::Up),
        drop: None,
        not_ok,
    })
}

/// With `NATTER_BENCH_REPORTS=DIR`, each call's reports are kept there (`impaired-N.json`), to
/// read what a figure came from.
fn keep(report: &Value, log: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = std::env::var_os("NATTER_BENCH_REPORTS") {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::path::Path::new(&dir).join(format!("impaired-{n}.json"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(&path, serde_json::to_string_pretty(report).unwrap_or_default());
        let _ = std::fs::write(path.with_extension("log"), log);
        eprintln!("bench:     report (and log) kept in {}", path.display());
    }
}

fn push(metric: &mut Metric, defaults: bool, value: f64) {
    if defaults {
        metric.default_samples.get_or_insert_with(Vec::new).push(value);
    } else {
        metric.samples.push(value);
    }
}

fn who(defaults: bool) -> &'static str {
    if defaults { "defaults" } else { "natter" }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_impaired_scenario_has_a_link() {
        let names: Vec<&str> = super::super::scenarios::ALL
            .iter()
            .copied()
            .filter(|n| n.starts_with("impaired_"))
            .collect();
        assert_eq!(names.len(), 9);
        for name in names {
            let spec = spec(name);
            assert_ne!(spec.uplink, LinkConditions::perfect(), "{name}");
        }
        assert_eq!(
            spec("impaired_drop_2000_300").change.map(|(_, c)| c.rate_bps),
            Some(Some(300_000))
        );
    }

    fn participant(id: &str, frames_sent: u64, peers: Value) -> Value {
        json!({ "id": id, "frames_sent": frames_sent, "peers": peers })
    }

    #[test]
    fn figures_take_the_worst_stream_and_count_a_stall_at_the_end() {
        let a = participant(
            "a",
            400,
            json!([{ "remote": "b", "last_frame_ms": 15000.0,
                     "video": { "frames_decoded": 390, "freeze_count": 1, "longest_freeze_ms": 250.0, "latency_ms_p50": 10.0, "latency_ms_p95": 40.0 },
                     "sent": { "video": { "bitrate_kbps": 500.0, "resolution": "640x360", "resolution_changes": [] } } }]),
        );
        // b's picture of a stopped at 12 s and never came back: a 3 s stall with no freeze entry.
        let b = participant(
            "b",
            400,
            json!([{ "remote": "a", "last_frame_ms": 12000.0,
                     "video": { "frames_decoded": 300, "freeze_count": 0, "latency_ms_p50": 20.0, "latency_ms_p95": 90.0 },
                     "sent": { "video": { "bitrate_kbps": 300.0, "resolution": "320x180", "resolution_changes": [{ "at_ms": 8000.0, "width": 320, "height": 180 }] } } }]),
        );
        let report = json!({ "duration_s": 14.9, "participants": [a, b] });
        let f = figures(&[report], |_| true, |_| true);
        assert_eq!(f.frames_delivered, Some(75.0), "b decoded 300 of a's 400");
        assert_eq!(f.longest_freeze_ms, Some(3000.0));
        assert_eq!(f.freeze_count, Some(1.0));
        assert_eq!((f.latency_p50_ms, f.latency_p95_ms), (Some(20.0), Some(90.0)));
        assert_eq!(f.sent_kbps, Some(400.0));
        assert_eq!(f.sent_height_px, Some(180.0));
        assert_eq!(f.resolution_changes, Some(1.0));
        assert_eq!(
            (f.target_kbps, f.retransmitted_packets, f.audio_concealed),
            (None, None, None),
            "fields this report lacks stay absent"
        );
        // Only the streams from a: b's reception of a.
        let only_a = figures(
            &[
                json!({ "participants": [participant("a", 400, json!([])), participant("b", 0, json!([{ "remote": "a", "last_frame_ms": 1.0, "video": { "frames_decoded": 200 } }]))] }),
            ],
            |id| id == "a",
            |id| id == "b",
        );
        assert_eq!(only_a.frames_delivered, Some(50.0));
    }
}
