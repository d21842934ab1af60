//! The bench scenarios. Each runs real `natter headless` calls (or a measuring example) on
//! loopback against real coturn processes (or in network namespaces), `runs` times, and where
//! it makes sense the same call with the `webrtc` crate's default settings (`--stack-defaults`)
//! interleaved run by run, so that both see the same machine load.

use super::figures::{Goal, Metric, ScenarioResult};
use super::runner::{Binaries, HeadlessRun, slowest, streams, tail};
use natter_rig::Coturn;
use natter_rig::browser::unix_ms;
use natter_rig::netns::{Nat, NetRig};
use natter_rig::public::PublicServers;
use std::time::Duration;

/// Every scenario, in the order they run.
pub const ALL: &[&str] = &[
    "host_connect",
    "relay_connect",
    "dead_stun_first",
    "turn_failover",
    "udp_blocked_tcp",
    "udp_blocked_tls",
    "mesh_6",
    "pc_memory",
    "encode_720p",
    "interop_browser",
    "ui_paint",
    "impaired_loss_2",
    "impaired_loss_10",
    "impaired_burst_5",
    "impaired_reorder",
    "impaired_cap_1500",
    "impaired_cap_500",
    "impaired_cap_250",
    "impaired_drop_2000_300",
    "impaired_mesh3_one_capped",
];

/// Scenarios that are long per run are capped at this many runs unless `--runs` asks for fewer
/// (they would take the whole 10-minute budget alone); the cap is written in the notes.
const LONG_RUNS: usize = 3;

pub fn run(name: &str, bin: &Binaries, runs: usize) -> ScenarioResult {
    match name {
        "host_connect" => host_connect(bin, runs),
        "relay_connect" => relay_connect(bin, runs),
        "dead_stun_first" => dead_stun_first(bin, runs),
        "turn_failover" => turn_failover(bin, runs),
        "udp_blocked_tcp" => udp_blocked(bin, runs, false),
        "udp_blocked_tls" => udp_blocked(bin, runs, true),
        "mesh_6" => mesh_6(bin, runs),
        "pc_memory" => pc_memory(bin, runs),
        "encode_720p" => encode_720p(bin, runs),
        "interop_browser" => interop_browser(bin, runs),
        "ui_paint" => super::ui_paint::run(bin, runs),
        impaired if impaired.starts_with("impaired_") => super::impaired::run(impaired, bin, runs),
        other => panic!("unknown scenario {other}"),
    }
}

/// Whether a scenario that could not run here at all (`skipped`) breaks the bench: the
/// namespace scenarios must run where `NATTER_REQUIRE_NETNS=1` (CI); a missing browser is only
/// noted (the browser tests are what fail then, with `NATTER_REQUIRE_BROWSER`).
pub fn skip_breaks(name: &str) -> bool {
    name != "interop_browser" && std::env::var("NATTER_REQUIRE_NETNS").as_deref() == Ok("1")
}

const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Join → connected and join → first decoded frame of a 2-party call (the slower of the two
/// directions), Natter and defaults alternating.
fn connect_figures(bin: &Binaries, runs: usize, args: &[&str], result: &mut ScenarioResult) {
    for _ in 0..runs {
        for defaults in [false, true] {
            let mut all: Vec<&str> = vec!["--participants", "2", "--duration", "20", "--until-connected"];
            all.extend_from_slice(args);
            if defaults {
                all.push("--stack-defaults");
            }
            match bin.headless(&all, CALL_LIMIT) {
                Ok(run) if run.success => {
                    for (metric, field) in [("first_frame_ms", "first_frame_ms"), ("connect_ms", "connect_ms")] {
                        if let Some(v) = slowest(&run.report, field) {
                            push(result.metric(metric), defaults, v);
                        }
                    }
                }
                Ok(run) => result.failures.push(failure(defaults, &run)),
                Err(e) => result.failures.push(format!("{}: {e}", who(defaults))),
            }
        }
    }
}

fn host_connect(bin: &Binaries, runs: usize) -> ScenarioResult {
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("first_frame_ms", "ms")
                .with_defaults()
                .goal(Goal::P95Below(300.0)),
            Metric::new("connect_ms", "ms").with_defaults(),
        ],
        ..Default::default()
    };
    connect_figures(bin, runs, &[], &mut result);
    result
        .notes
        .push("2 participants in one process, host candidates on 127.0.0.1; the slower direction of the pair".into());
    result
}

fn relay_connect(bin: &Binaries, runs: usize) -> ScenarioResult {
    let turn = Coturn::start();
    let config = bin.write("relay.json", &turn.ice_config_json());
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("first_frame_ms", "ms")
                .with_defaults()
                .goal(Goal::P95Below(500.0))
                .goal(Goal::RatioAtMost(0.25)),
            Metric::new("connect_ms", "ms").with_defaults(),
        ],
        ..Default::default()
    };
    connect_figures(bin, runs, &["--relay-only", "--ice-config", path(&config)], &mut result);
    result
        .notes
        .push("relay-only through one coturn (UDP) on loopback".into());
    result
}

/// `[dead STUN, good TURN]` against `[good TURN]` alone, relay-only, alternating: what the dead
/// server adds. The dead server is a UDP socket that never answers (a dropped host).
fn dead_stun_first(bin: &Binaries, runs: usize) -> ScenarioResult {
    let turn = Coturn::start();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a silent socket");
    let dead = format!("stun:{}", silent.local_addr().unwrap());
    let good = format!(
        r#"{{"urls":["{}"],"username":"{}","credential":"{}"}}"#,
        turn.turn_url(),
        turn.user,
        turn.password
    );
    let with_dead = bin.write(
        "dead-stun.json",
        &format!(r#"{{"iceServers":[{{"urls":["{dead}"]}},{good}]}}"#),
    );
    let alone = bin.write("good-only.json", &format!(r#"{{"iceServers":[{good}]}}"#));
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("first_frame_ms", "ms").with_defaults(),
            Metric::new("added_ms", "ms").goal(Goal::MedianBelow(50.0)),
            Metric::new("baseline_first_frame_ms", "ms"),
        ],
        ..Default::default()
    };
    let mut defaults_failed = 0;
    for _ in 0..runs {
        let mut figures = [None, None];
        for (i, config) in [&with_dead, &alone].into_iter().enumerate() {
            let args = [
                "--participants",
                "2",
                "--duration",
                "20",
                "--until-connected",
                "--relay-only",
                "--ice-config",
                path(config),
            ];
            match bin.headless(&args, CALL_LIMIT) {
                Ok(run) if run.success => figures[i] = slowest(&run.report, "first_frame_ms"),
                Ok(run) => result.failures.push(failure(false, &run)),
                Err(e) => result.failures.push(e),
            }
        }
        if let [Some(dead), Some(good)] = figures {
            result.metric("first_frame_ms").samples.push(dead);
            result.metric("baseline_first_frame_ms").samples.push(good);
            result.metric("added_ms").samples.push(dead - good);
        }
        // Defaults that do not connect wait out the whole 20 s: two such runs say enough.
        if defaults_failed >= 2 {
            continue;
        }
        let args = [
            "--participants",
            "2",
            "--duration",
            "20",
            "--until-connected",
            "--relay-only",
            "--stack-defaults",
            "--ice-config",
            path(&with_dead),
        ];
        match bin.headless(&args, CALL_LIMIT) {
            Ok(run) if run.success => {
                if let Some(v) = slowest(&run.report, "first_frame_ms") {
                    push(result.metric("first_frame_ms"), true, v);
                }
            }
            Ok(run) => {
                defaults_failed += 1;
                result.failures.push(failure(true, &run));
            }
            Err(e) => {
                defaults_failed += 1;
                result.failures.push(format!("defaults: {e}"));
            }
        }
    }
    result.notes.push(format!(
        "dead server: {dead} (bound, never answers); added_ms = with it − without it, per run"
    ));
    if defaults_failed > 0 {
        result.notes.push(format!("webrtc defaults with the dead server first: {defaults_failed} run(s) did not connect within 20 s (then no more were tried)"));
    }
    drop(silent);
    result
}

/// 3 participants, relay-only, two TURN servers: kill the one the calls use once every pair
/// decodes; per pair that had to move, how long its video stood still (last picture before the
/// kill → first picture after: the freeze in the report).
fn turn_failover(bin: &Binaries, runs: usize) -> ScenarioResult {
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("recovery_ms", "ms").goal(Goal::MaxBelow(5000.0)),
            Metric::new("per_pair_recovery_ms", "ms"),
            Metric::new("pairs_recovered", "%"),
        ],
        ..Default::default()
    };
    for _ in 0..runs {
        match failover_once(bin, false) {
            Ok(Failover {
                recovered,
                affected,
                freezes_ms,
            }) => {
                if let Some(worst) = freezes_ms.iter().copied().reduce(f64::max) {
                    result.metric("recovery_ms").samples.push(worst);
                }
                result.metric("per_pair_recovery_ms").samples.extend(&freezes_ms);
                if affected > 0 {
                    result
                        .metric("pairs_recovered")
                        .samples
                        .push(100.0 * recovered as f64 / affected as f64);
                }
            }
            Err(e) => result.failures.push(e),
        }
    }
    // The crate alone never restarts ICE, so it never moves a call: one run shows it.
    match failover_once(bin, true) {
        Ok(Failover {
            recovered, affected, ..
        }) => result.notes.push(format!(
            "webrtc defaults: {recovered} of {affected} affected pairs decoded video again after the kill (one run)"
        )),
        Err(e) => result.failures.push(format!("defaults: {e}")),
    }
    result.notes.push("recovery = the freeze of each pair whose relay died (a pair that never recovers has no freeze end and counts in pairs_recovered)".into());
    result
}

struct Failover {
    /// Pairs (directed streams) whose relay died and that decoded video again.
    recovered: usize,
    /// Directed streams that lost their path (the connection said so, or video froze > 0.5 s).
    affected: usize,
    freezes_ms: Vec<f64>,
}

fn failover_once(bin: &Binaries, defaults: bool) -> Result<Failover, String> {
    let mut servers = [Coturn::start(), Coturn::start()];
    let entries: Vec<String> = servers
        .iter()
        .map(|s| {
            format!(
                r#"{{"urls":["{}"],"username":"{}","credential":"{}"}}"#,
                s.turn_url(),
                s.user,
                s.password
            )
        })
        .collect();
    let config = bin.write("failover.json", &format!(r#"{{"iceServers":[{}]}}"#, entries.join(",")));
    let mut args = vec![
        "--participants",
        "3",
        "--duration",
        "9",
        "--relay-only",
        "--ice-config",
        path(&config),
    ];
    if defaults {
        args.push("--stack-defaults");
    }
    let urls: Vec<String> = servers.iter().map(Coturn::turn_url).collect();
    let mut victim = None;
    let run = bin.headless_watching(&args, CALL_LIMIT, |line| {
        if victim.is_none()
            && let Some(rest) = line.split("relays in use: [").nth(1)
            && let Some(first) = rest.trim_end_matches(']').split(' ').find(|s| !s.is_empty())
            && let Some(i) = urls.iter().position(|u| u == first)
        {
            // The call has just connected: let video flow for a second, then kill.
            std::thread::sleep(Duration::from_secs(1));
            servers[i].kill();
            victim = Some(i);
        }
    })?;
    let Some(victim) = victim else {
        return Err(format!(
            "the call never said which relays it uses; log:\n{}",
            tail(&run.log)
        ));
    };
    let dead = &urls[victim];
    let mut outcome = Failover {
        recovered: 0,
        affected: 0,
        freezes_ms: Vec::new(),
    };
    for (_, peer) in streams(&run.report) {
        let broke = peer["events"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| ["disconnected", "failed", "ice_restart"].contains(&e["kind"].as_str().unwrap_or("")));
        // A freeze is recorded when pictures come back: an outage that never ended has none.
        let longest = peer["video"]["longest_freeze_ms"].as_f64().filter(|f| *f > 500.0);
        if broke || longest.is_some() {
            outcome.affected += 1;
            if let Some(freeze) = longest {
                outcome.recovered += 1;
                outcome.freezes_ms.push(freeze);
            }
        }
    }
    if outcome.affected == 0 {
        return Err(format!(
            "no pair lost its path when {dead} died; report:\n{}",
            run.report
        ));
    }
    Ok(outcome)
}

/// The namespace rig with one UDP-blocked (or TLS-only) host and one behind a plain NAT:
/// join → first frame at the locked-down host, through TURN/TCP or TURNS.
fn udp_blocked(bin: &Binaries, runs: usize, tls: bool) -> ScenarioResult {
    use natter_rig::public::{SIGNAL_PORT, TURNS_PORT};
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("first_frame_ms", "ms").goal(Goal::P95Below(if tls { 3500.0 } else { 3000.0 })),
            Metric::new("connect_ms", "ms"),
        ],
        ..Default::default()
    };
    let locked = if tls {
        Nat::TcpOnlyTo(vec![TURNS_PORT, SIGNAL_PORT])
    } else {
        Nat::UdpBlocked
    };
    let rig = match NetRig::new(&[locked, Nat::PortRestricted]) {
        Ok(rig) => rig,
        Err(reason) => {
            result.skipped = Some(reason);
            return result;
        }
    };
    let servers = PublicServers::start(&rig, &bin.natter, tls);
    let urls = if tls {
        vec![servers.turn_udp(), servers.turn_tcp(), servers.turns()]
    } else {
        vec![servers.turn_udp(), servers.turn_tcp()]
    };
    let config = servers.ice_config(&urls);
    let want = if tls { "tls" } else { "tcp" };
    for _ in 0..runs {
        let hosts = servers.call(&rig, &[1, 2], &config, 1);
        let locked_down = &hosts[0];
        let stream = streams(&locked_down.report).into_iter().next().map(|(_, s)| s);
        match stream {
            Some(s) if locked_down.ok_exit && s["path"]["relay_transport"] == want => {
                for field in ["first_frame_ms", "connect_ms"] {
                    if let Some(v) = s[field].as_f64() {
                        result.metric(field).samples.push(v);
                    }
                }
            }
            other => result.failures.push(format!(
                "host 1: exit ok {}, path {:?}; log:\n{}",
                locked_down.ok_exit,
                other.map(|s| s["path"].clone()),
                tail(&locked_down.log)
            )),
        }
    }
    result.notes.push(format!(
        "host 1 behind a firewall that {}; host 2 behind a port-restricted NAT; servers on the rig's public segment. The webrtc crate alone cannot relay over TCP or TLS at all, so there is no default figure",
        if tls { "lets only TLS to the TURNS port (and signaling) out" } else { "drops all UDP" }
    ));
    result
}

/// 6 participants in one process, full mesh (30 directed streams), 360p30, 30 s.
fn mesh_6(bin: &Binaries, runs: usize) -> ScenarioResult {
    let runs = runs.min(LONG_RUNS);
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("frames_delivered", "%").goal(Goal::MedianAtLeast(95.0)),
            Metric::new("cpu_cores", "cores").goal(Goal::MedianBelow(1.5)),
            Metric::new("latency_p95_ms", "ms").goal(Goal::MedianBelow(60.0)),
            Metric::new("latency_p50_ms", "ms"),
            Metric::new("peak_rss_mb", "MB"),
        ],
        ..Default::default()
    };
    for _ in 0..runs {
        match bin.headless(&["--participants", "6", "--duration", "30"], Duration::from_secs(120)) {
            Ok(run) if run.success => {
                let all = streams(&run.report);
                let decoded: f64 = all
                    .iter()
                    .map(|(_, p)| p["video"]["frames_decoded"].as_f64().unwrap_or(0.0))
                    .sum();
                let lost: f64 = all
                    .iter()
                    .map(|(_, p)| p["video"]["frames_lost"].as_f64().unwrap_or(0.0))
                    .sum();
                let mut p50: Vec<f64> = all
                    .iter()
                    .filter_map(|(_, p)| p["video"]["latency_ms_p50"].as_f64())
                    .collect();
                p50.sort_by(f64::total_cmp);
                let p95 = all
                    .iter()
                    .filter_map(|(_, p)| p["video"]["latency_ms_p95"].as_f64())
                    .reduce(f64::max);
                if decoded + lost > 0.0 {
                    result
                        .metric("frames_delivered")
                        .samples
                        .push(100.0 * decoded / (decoded + lost));
                }
                result.metric("cpu_cores").samples.push(run.cpu_s / run.wall_s);
                if let Some(p95) = p95 {
                    result.metric("latency_p95_ms").samples.push(p95);
                }
                if !p50.is_empty() {
                    result.metric("latency_p50_ms").samples.push(p50[p50.len() / 2]);
                }
                result
                    .metric("peak_rss_mb")
                    .samples
                    .push(run.peak_rss_kb as f64 / 1024.0);
            }
            Ok(run) => result.failures.push(failure(false, &run)),
            Err(e) => result.failures.push(e),
        }
    }
    result.notes.push(format!(
        "at most {LONG_RUNS} runs of 30 s; frames_delivered = decoded / (decoded + lost by the stamped counters) over all 30 streams; cpu = the process's CPU time / its wall time (start-up included); latency: median of the streams' p50, worst stream's p95 (capture → decoded, same clock)"
    ));
    result
}

/// 100 connections opened between two engines in one process, then closed (example `pc_memory`).
fn pc_memory(bin: &Binaries, runs: usize) -> ScenarioResult {
    let runs = runs.min(LONG_RUNS);
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("per_connection_mb", "MB")
                .with_defaults()
                .goal(Goal::MedianBelow(5.0)),
            Metric::new("after_close_vs_before", "%")
                .with_defaults()
                .goal(Goal::MedianBelow(10.0)),
            Metric::new("connect_100_s", "s").with_defaults(),
            Metric::new("still_allocated_after_close_kb", "KiB").goal(Goal::MaxBelow(1024.0)),
        ],
        ..Default::default()
    };
    for _ in 0..runs {
        for defaults in [false, true] {
            let args: &[&str] = if defaults {
                &["--connections", "100", "--stack-defaults"]
            } else {
                &["--connections", "100"]
            };
            match bin.example("pc_memory", args) {
                Ok(v) if v["connected"] == 100 => {
                    let growth = 100.0 * (v["closed_vs_before"].as_f64().unwrap_or(f64::NAN) - 1.0);
                    push(
                        result.metric("per_connection_mb"),
                        defaults,
                        v["per_connection_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                    );
                    push(result.metric("after_close_vs_before"), defaults, growth);
                    push(
                        result.metric("connect_100_s"),
                        defaults,
                        v["connect_all_s"].as_f64().unwrap_or(f64::NAN),
                    );
                    if !defaults {
                        let leaked = v["live_closed_kb"].as_f64().unwrap_or(f64::NAN)
                            - v["live_before_kb"].as_f64().unwrap_or(f64::NAN);
                        result.metric("still_allocated_after_close_kb").samples.push(leaked);
                    }
                }
                Ok(v) => result.failures.push(format!(
                    "{}: only {} of 100 connected: {v}",
                    who(defaults),
                    v["connected"]
                )),
                Err(e) => result.failures.push(format!("{}: {e}", who(defaults))),
            }
        }
    }
    result.notes.push(format!(
        "at most {LONG_RUNS} runs; per connection = (RSS with 100 open − RSS before) / 100, both sides of each connection in the process (2 peer connections, 1 video + 1 audio track each); after_close_vs_before = RSS after closing all and returning freed memory to the system as the app does after a call (malloc_trim), relative to before, in % (negative = less); still_allocated_after_close = bytes the program still holds (counting allocator): a leak shows there"
    ));
    result
}

/// Encoder CPU for one 720p30 stream (example `encode_cpu`, 5 s of video per run).
fn encode_720p(bin: &Binaries, runs: usize) -> ScenarioResult {
    let mut result = ScenarioResult {
        metrics: vec![
            Metric::new("core_share", "%").goal(Goal::MedianBelow(30.0)),
            Metric::new("ms_per_frame", "ms"),
            Metric::new("kbps", "kbps"),
        ],
        ..Default::default()
    };
    for _ in 0..runs {
        match bin.example("encode_cpu", &["1280x720", "5"]) {
            Ok(v) => {
                result
                    .metric("core_share")
                    .samples
                    .push(100.0 * v["core_fraction"].as_f64().unwrap_or(f64::NAN));
                result
                    .metric("ms_per_frame")
                    .samples
                    .push(v["ms_per_frame"].as_f64().unwrap_or(f64::NAN));
                result
                    .metric("kbps")
                    .samples
                    .push(v["kbps"].as_f64().unwrap_or(f64::NAN));
            }
            Err(e) => result.failures.push(e),
        }
    }
    result.notes.push("openh264 as calls use it (one thread, low complexity, 2.5 Mbps at 720p), the synthetic camera's moving pattern; the encoder thread's CPU time / the video's duration".into());
    result
}

/// At most this many runs of `interop_browser` (4 calls of ≈ 4 s each per run).
const BROWSER_RUNS: usize = 5;
/// How long each call of `interop_browser` lasts once both are in the room: the bound within
/// which both sides must show their first frame.
const BROWSER_CALL_S: u64 = 3;

/// Who takes part in an `interop_browser` call.
#[derive(Clone, Copy, PartialEq)]
enum Stack {
    Natter,
    Chromium,
}

/// The four calls of a run: (metric prefix, first in the room (answers), newcomer (offers)).
const PAIRINGS: [(&str, Stack, Stack); 4] = [
    ("nat_offers", Stack::Chromium, Stack::Natter),
    ("chr_offers", Stack::Natter, Stack::Chromium),
    ("nat_nat", Stack::Natter, Stack::Natter),
    ("chr_chr", Stack::Chromium, Stack::Chromium),
];

/// Debian's Chromium ⇄ Natter, first frame each way, beside Natter ⇄ Natter and Chromium ⇄
/// Chromium on the same machine in the same runs. One participant is in the room; the newcomer
/// joins and offers (docs/signaling.md). At the newcomer: its join → its first frame; at the
/// one already there: the newcomer's arrival (its `peer_joined`) → its first frame. A call's
/// figure is the slower of the two.
fn interop_browser(bin: &Binaries, runs: usize) -> ScenarioResult {
    let runs = runs.min(BROWSER_RUNS);
    let mut metrics = Vec::new();
    for (prefix, _, _) in PAIRINGS {
        metrics.push(Metric::new(&format!("{prefix}_ms"), "ms"));
    }
    metrics.push(Metric::new("nat_offers_vs_chr_chr", "×").goal(Goal::MedianAtMost(1.0)));
    metrics.push(Metric::new("chr_offers_vs_chr_chr", "×").goal(Goal::MedianAtMost(1.0)));
    for (prefix, first, newcomer) in PAIRINGS {
        let (at_newcomer, at_first) = side_metrics(prefix, first, newcomer);
        metrics.push(Metric::new(&at_newcomer, "ms"));
        metrics.push(Metric::new(&at_first, "ms"));
    }
    let mut result = ScenarioResult {
        metrics,
        ..Default::default()
    };
    let browser = match natter_rig::browser::Browser::find() {
        Ok(browser) => browser,
        Err(missing) => {
            result.skipped = Some(format!("no browser here: {missing}"));
            return result;
        }
    };
    let server = natter_rig::SignalServerProcess::start(&bin.natter);
    let url = server.url().to_string();
    for run in 0..runs {
        let mut slower = std::collections::HashMap::new();
        for (prefix, first, newcomer) in PAIRINGS {
            let room = format!("interop-{run}-{prefix}");
            match browser_call(bin, &browser, &url, &room, first, newcomer) {
                Ok((at_newcomer, at_first)) => {
                    let worst = at_newcomer.max(at_first);
                    slower.insert(prefix, worst);
                    result.metric(&format!("{prefix}_ms")).samples.push(worst);
                    let (newcomer_metric, first_metric) = side_metrics(prefix, first, newcomer);
                    result.metric(&newcomer_metric).samples.push(at_newcomer);
                    result.metric(&first_metric).samples.push(at_first);
                }
                Err(e) => result.failures.push(format!("{prefix} (run {}): {e}", run + 1)),
            }
        }
        if let Some(base) = slower.get("chr_chr").filter(|b| **b > 0.0) {
            for prefix in ["nat_offers", "chr_offers"] {
                if let Some(v) = slower.get(prefix) {
                    result.metric(&format!("{prefix}_vs_chr_chr")).samples.push(v / base);
                }
            }
        }
    }
    result.notes.push(format!(
        "at most {BROWSER_RUNS} runs; {} on 127.0.0.1, host candidates, one natter signal-server; nat_offers: Chromium in the room, Natter joins and offers; chr_offers: the reverse; nat_nat / chr_chr: the same stack both sides. *_ms = the slower direction; at_X = first frame at X (the newcomer: from its join; the one already there: from the newcomer's peer_joined). Chromium's first frame = first painted (requestVideoFrameCallback), Natter's = first decoded. *_vs_chr_chr = per run, over Chromium ⇄ Chromium's (goal: no slower)",
        browser.chromium.display()
    ));
    result.notes.push(
        "a Natter already in the room: from its `peer joined` log line, stamped on arrival (its `joined` line stands in for its join, a few ms late)".into(),
    );
    result
}

/// The names of a pairing's per-side metrics: (at the newcomer, at the one already there).
fn side_metrics(prefix: &str, first: Stack, newcomer: Stack) -> (String, String) {
    let short = |stack| match stack {
        Stack::Natter => "nat",
        Stack::Chromium => "chr",
    };
    if first == newcomer {
        (format!("{prefix}_at_offerer_ms"), format!("{prefix}_at_answerer_ms"))
    } else {
        (
            format!("{prefix}_at_{}_ms", short(newcomer)),
            format!("{prefix}_at_{}_ms", short(first)),
        )
    }
}

/// One participant of an `interop_browser` call, running.
enum Running {
    Natter(super::runner::Spawned),
    Chromium(natter_rig::browser::BrowserParticipant),
}

/// One call: `first` joins, then `newcomer` (which offers); (first frame at the newcomer from its
/// join, first frame at `first` from the newcomer's arrival), in ms.
fn browser_call(
    bin: &Binaries,
    browser: &natter_rig::browser::Browser,
    url: &str,
    room: &str,
    first: Stack,
    newcomer: Stack,
) -> Result<(f64, f64), String> {
    let join_limit = Duration::from_secs(20);
    let start = |stack: Stack, name: &str| -> Result<Running, String> {
        match stack {
            Stack::Natter => {
                let duration = BROWSER_CALL_S.to_string();
                let args = [
                    "--participants",
                    "1",
                    "--expect",
                    "2",
                    "--duration",
                    &duration,
                    "--bind",
                    "127.0.0.1",
                    "--signal",
                    url,
                    "--room",
                    room,
                ];
                let mut natter = bin.spawn_headless(&args)?;
                natter.wait_for(&["joined", "peers="], join_limit)?;
                Ok(Running::Natter(natter))
            }
            Stack::Chromium => {
                let options = natter_rig::browser::BrowserOptions::new(url, room, name, 2, BROWSER_CALL_S);
                let mut page = browser.spawn(&options, &bin.scratch.path(&format!("{room}-{name}.json")));
                page.wait_joined(join_limit)?;
                Ok(Running::Chromium(page))
            }
        }
    };
    let answerer = start(first, "first")?;
    let offerer = start(newcomer, "newcomer")?;
    let call_limit = Duration::from_secs(BROWSER_CALL_S + 30);
    // Its first frame from its own join, and the time the other arrived (ms since the epoch).
    let at_offerer = match offerer {
        Running::Natter(mut natter) => {
            let (ok, report) = natter.finish(call_limit)?;
            let peer = streams(&report).into_iter().next().map(|(_, p)| p);
            match peer.as_ref().and_then(|p| p["first_frame_ms"].as_f64()) {
                Some(v) if ok => v,
                _ => {
                    return Err(format!(
                        "the natter newcomer: {}",
                        report["reason"].as_str().unwrap_or("no first frame")
                    ));
                }
            }
        }
        Running::Chromium(page) => {
            let run = page.finish(call_limit);
            match run.report["peers"][0]["first_frame_ms"].as_f64() {
                Some(v) if run.report["ok"] == true => v,
                _ => {
                    return Err(format!(
                        "the browser newcomer: {}; log:\n{}",
                        run.report["reason"],
                        tail(&run.log)
                    ));
                }
            }
        }
    };
    let at_first = match answerer {
        Running::Natter(mut natter) => {
            let (ok, report) = natter.finish(call_limit)?;
            let first_frame = streams(&report)
                .into_iter()
                .next()
                .and_then(|(_, p)| p["first_frame_ms"].as_f64());
            let (Some(joined), Some(arrived)) = (natter.logged(&["joined", "peers="]), natter.logged(&["peer joined"]))
            else {
                return Err(format!(
                    "the natter already there never logged the newcomer's arrival; log:\n{}",
                    tail(&natter.text())
                ));
            };
            match first_frame {
                Some(ms) if ok => unix_ms(joined) + ms - unix_ms(arrived),
                _ => {
                    return Err(format!(
                        "the natter already there: {}",
                        report["reason"].as_str().unwrap_or("no first frame")
                    ));
                }
            }
        }
        Running::Chromium(page) => {
            let run = page.finish(call_limit);
            let peer = &run.report["peers"][0];
            match (peer["first_frame_ms"].as_f64(), peer["peer_joined_ms"].as_f64()) {
                (Some(frame), Some(arrived)) if run.report["ok"] == true => frame - arrived,
                _ => {
                    return Err(format!(
                        "the browser already there: {}; log:\n{}",
                        run.report["reason"],
                        tail(&run.log)
                    ));
                }
            }
        }
    };
    Ok((at_offerer, at_first))
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

fn failure(defaults: bool, run: &HeadlessRun) -> String {
    format!(
        "{}: call failed: {}; log:\n{}",
        who(defaults),
        run.report["reason"].as_str().unwrap_or("?"),
        tail(&run.log)
    )
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
