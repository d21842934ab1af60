//! A foreign WebRTC stack in Natter rooms: Debian's Chromium (`/usr/bin/chromium`, driven by
//! `tests/browser/participant.mjs` through playwright-core) on a page that speaks
//! docs/signaling.md, calling real `natter headless` processes through a real `natter
//! signal-server`, directly on 127.0.0.1 or relay-only through a real coturn. Each test checks
//! both sides' reports: the browser decoded video and received audio from every Natter, and every
//! Natter decoded video and received audio from the browser.
//!
//! Without Chromium, Node or `tests/browser/node_modules` the tests skip with a message, unless
//! `NATTER_REQUIRE_BROWSER` is set (`.ci/run` sets it): then that is a failure.

use crate::support::*;
use natter_rig::browser::{self, Browser, BrowserOptions, BrowserParticipant, BrowserRun};
use natter_rig::impair::{Direction, LinkConditions, UdpProxy};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Frames (and audio packets) each side must have from each other side: a call of
/// [`CALL_S`] seconds carries ≈ 20 fps × 4 s of video and 50 audio packets a second.
const MIN_FRAMES: u64 = 20;
const MIN_AUDIO_PACKETS: u64 = 20;
/// How long each call lasts once everyone expected is in the room.
const CALL_S: u64 = 4;
/// The longest a participant may take to start and join.
const JOIN_LIMIT: Duration = Duration::from_secs(20);
/// The longest a participant may run in all (joining, waiting for the others, the call, the report).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Set in the copy of a test that runs inside its own network namespace.
const SEALED: &str = "NATTER_BROWSER_TEST_SEALED";

/// Chromium also gathers this machine's other interface addresses and checks from them (its
/// cost model prefers them to loopback); to keep a test to loopback strictly, it runs again in
/// a fresh network namespace that has only `lo` (`unshare -n`, root or CAP_SYS_ADMIN), and
/// passes when that copy passes. `true`: run the test here (already sealed, or no namespaces
/// on this machine, said once). `false`: the sealed copy ran and passed.
fn run_here_or_sealed(test: &str) -> bool {
    if std::env::var_os(SEALED).is_some() {
        return true;
    }
    let can_seal = Command::new("unshare")
        .args(["-n", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !can_seal {
        eprintln!(
            "{test}: no network namespace on this machine; running unsealed (Chromium may also use this machine's other addresses)"
        );
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    // The test's full name in this binary: this module's path without the crate's name.
    let module = module_path!().split_once("::").map_or(module_path!(), |(_, m)| m);
    let full_name = format!("{module}::{test}");
    let script = r#"ip link set lo up && exec "$0" --exact "$1" --nocapture --test-threads=1"#;
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .arg(&exe)
        .arg(&full_name)
        .env(SEALED, "1")
        .output()
        .expect("run the sealed copy of the test");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} failed inside its network namespace:\n{stdout}\n{stderr}"
    );
    false
}

/// The browser rig, or `None` (and a message) when it is not installed and not required, or
/// when the test ran in its own namespace instead (see [`run_here_or_sealed`]).
fn browser_or_skip(test: &str) -> Option<Browser> {
    if !run_here_or_sealed(test) {
        return None;
    }
    match Browser::find() {
        Ok(browser) => Some(browser),
        Err(missing) if browser::required() => {
            panic!("browser tests required (NATTER_REQUIRE_BROWSER is set) but: {missing}")
        }
        Err(missing) => {
            eprintln!(
                "skipping {test}: {missing} (bash scripts/setup.sh installs it; NATTER_REQUIRE_BROWSER=1 makes this a failure)"
            );
            None
        }
    }
}

/// A signaling server, and what the participants of one test share.
struct Room {
    _server: SignalServerProcess,
    url: String,
    name: String,
    expect: usize,
    dir: TempDir,
    /// (ice-config file, relay only) for every participant.
    ice: Option<PathBuf>,
    relay_only: bool,
    /// Leave Chromium's default of hiding host addresses behind mDNS names on.
    mdns_hide_ips: bool,
    /// The only video codec the browser offers ("vp8" | "h264").
    video_codec: Option<String>,
    /// How long the call lasts once everyone is in the room.
    call_s: u64,
}

impl Room {
    fn new(name: &str, expect: usize) -> Room {
        let server = signal_server();
        Room {
            url: server.url().to_string(),
            _server: server,
            name: name.into(),
            expect,
            dir: TempDir::new(name),
            ice: None,
            relay_only: false,
            mdns_hide_ips: false,
            video_codec: None,
            call_s: CALL_S,
        }
    }

    /// Every participant relay-only through this coturn, reached through `proxy` (an impaired
    /// access link in front of it).
    fn relay_only_via(self, turn: &Coturn, proxy: std::net::SocketAddr) -> Room {
        self.relay_only_with(&turn.ice_config_json_via(proxy))
    }

    /// Every participant relay-only through this coturn.
    fn relay_only_through(self, turn: &Coturn) -> Room {
        self.relay_only_with(&turn.ice_config_json())
    }

    /// Every participant relay-only with this W3C RTCConfiguration.
    fn relay_only_with(mut self, ice_config: &str) -> Room {
        let config = self.dir.path("ice.json");
        std::fs::write(&config, ice_config).unwrap();
        self.ice = Some(config);
        self.relay_only = true;
        self
    }

    /// Start a `natter headless` participant and wait until it is in the room.
    fn natter(&self, name: &str) -> NatterParticipant {
        let report = self.dir.path(&format!("{name}.json"));
        let mut command = Command::new(NATTER);
        command
            .args(["headless", "--participants", "1", "--bind", "127.0.0.1"])
            .args([
                "--expect",
                &self.expect.to_string(),
                "--duration",
                &self.call_s.to_string(),
            ])
            .args(["--signal", &self.url, "--room", &self.name, "--report"])
            .arg(&report)
            .env("RUST_LOG", "natter=info,natter_call=info,warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(config) = &self.ice {
            command.arg("--ice-config").arg(config);
        }
        if self.relay_only {
            command.arg("--relay-only");
        }
        let mut child = Reaped::new(command.spawn().expect("start natter headless"));
        let lines = browser::follow(child.stderr.take().unwrap());
        let mut natter = NatterParticipant {
            name: name.into(),
            child: Some(child),
            lines,
            log: String::new(),
            report,
        };
        natter.wait_joined();
        natter
    }

    /// Start a browser participant and wait until it is in the room; it and its signaling id.
    fn browser(&self, browser: &Browser, name: &str) -> (BrowserParticipant, String) {
        let mut options = BrowserOptions::new(&self.url, &self.name, name, self.expect, self.call_s);
        options.ice_config = self.ice.clone();
        options.relay_only = self.relay_only;
        options.mdns_hide_ips = self.mdns_hide_ips;
        options.video_codec = self.video_codec.clone();
        let mut participant = browser.spawn(&options, &self.dir.path(&format!("{name}.json")));
        let (id, _) = participant.wait_joined(JOIN_LIMIT).unwrap_or_else(|e| panic!("{e}"));
        (participant, id)
    }
}

/// A running `natter headless --participants 1`; killed on drop.
struct NatterParticipant {
    name: String,
    child: Option<Reaped>,
    lines: std::sync::mpsc::Receiver<String>,
    log: String,
    report: PathBuf,
}

/// A finished one: its exit, log and report.
struct NatterRun {
    name: String,
    success: bool,
    log: String,
    report: Value,
}

impl NatterParticipant {
    /// Until its log says it joined (bounded).
    fn wait_joined(&mut self) {
        let deadline = Instant::now() + JOIN_LIMIT;
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!(
                        "natter {} did not join within {JOIN_LIMIT:?}; log:\n{}",
                        self.name, self.log
                    )
                });
            self.log.push_str(&line);
            self.log.push('\n');
            if line.contains("joined") && line.contains("peers=") {
                return;
            }
        }
    }

    fn finish(mut self) -> NatterRun {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + RUN_LIMIT;
        let status = loop {
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(20)) {
                self.log.push_str(&line);
                self.log.push('\n');
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!(
                    "natter {} still running after {RUN_LIMIT:?}; log:\n{}",
                    self.name, self.log
                );
            }
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.log.push_str(&line);
            self.log.push('\n');
        }
        let report = read_report(&self.report, &self.log);
        NatterRun {
            name: self.name.clone(),
            success: status.success(),
            log: std::mem::take(&mut self.log),
            report,
        }
    }
}

impl NatterRun {
    fn id(&self) -> &str {
        self.report["participants"][0]["id"].as_str().unwrap_or_default()
    }

    /// Its `peers[]` entry for the remote with this id.
    fn peer(&self, remote: &str) -> Option<&Value> {
        self.report["participants"][0]["peers"]
            .as_array()?
            .iter()
            .find(|p| p["remote"] == remote)
    }
}

/// Both sides of every browser ⇄ Natter pair got the other's video and audio. On failure the
/// message lists every missing direction, then the browser's report and log and each Natter's
/// report and the end of its log.
fn assert_media_both_ways(chromium: &BrowserRun, chromium_id: &str, natters: &[&NatterRun]) {
    let mut problems = Vec::new();
    for natter in natters {
        let (name, id) = (&natter.name, natter.id());
        // The browser's side: decoded video and received audio from this Natter.
        match chromium.peer(id) {
            None => problems.push(format!("the browser has no peer entry for natter {name} ({id:?})")),
            Some(seen) => {
                let decoded = seen["video_in"]["framesDecoded"].as_u64().unwrap_or(0);
                let audio = seen["audio_in"]["packetsReceived"].as_u64().unwrap_or(0);
                if decoded <= MIN_FRAMES {
                    problems.push(format!(
                        "the browser decoded {decoded} frames from natter {name} ({id}), want > {MIN_FRAMES}"
                    ));
                }
                if audio <= MIN_AUDIO_PACKETS {
                    problems.push(format!(
                        "the browser got {audio} audio packets from natter {name} ({id}), want > {MIN_AUDIO_PACKETS}"
                    ));
                }
            }
        }
        // Natter's side: decoded video and received audio from the browser.
        match natter.peer(chromium_id) {
            None => problems.push(format!(
                "natter {name} has no peer entry for the browser ({chromium_id})"
            )),
            Some(peer) => {
                let decoded = peer["video"]["frames_decoded"].as_u64().unwrap_or(0);
                let audio = peer["audio"]["packets_received"].as_u64().unwrap_or(0);
                if decoded <= MIN_FRAMES {
                    problems.push(format!(
                        "natter {name} decoded {decoded} frames from the browser, want > {MIN_FRAMES}"
                    ));
                }
                if audio <= MIN_AUDIO_PACKETS {
                    problems.push(format!(
                        "natter {name} got {audio} audio packets from the browser, want > {MIN_AUDIO_PACKETS}"
                    ));
                }
                if peer["state"] != "connected" {
                    problems.push(format!("natter {name}: connection to the browser is {}", peer["state"]));
                }
            }
        }
        if !natter.success {
            problems.push(format!(
                "natter {name} exited with failure: {}",
                natter.report["reason"]
            ));
        }
    }
    if chromium.report["ok"] != true || !chromium.status.success() {
        problems.push(format!(
            "the browser driver exited with {:?}: {}",
            chromium.status, chromium.report["reason"]
        ));
    }
    if problems.is_empty() {
        return;
    }
    let natter_side: Vec<String> = natters
        .iter()
        .map(|n| {
            format!(
                "--- natter {} report:\n{:#}\n--- the end of its log:\n{}",
                n.name,
                n.report,
                last_lines(&n.log, 60)
            )
        })
        .collect();
    panic!(
        "{}\n--- browser report:\n{:#}\n--- browser log:\n{}\n{}\n--- in short:\n{}",
        problems.join("\n"),
        chromium.report,
        chromium.log,
        natter_side.join("\n"),
        problems.join("\n")
    );
}

fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Both sides used the path the test asked for: TURN relays, or host candidates.
fn assert_path(chromium: &BrowserRun, natters: &[&NatterRun], chromium_id: &str, want: &str) {
    for natter in natters {
        let seen = chromium.peer(natter.id()).expect("checked above");
        assert_eq!(
            seen["path"]["local_candidate"], want,
            "browser → natter {}: {:#}",
            natter.name, seen["path"]
        );
        let peer = natter.peer(chromium_id).expect("checked above");
        assert_eq!(
            peer["path"]["local_candidate"], want,
            "natter {} → browser: {:#}",
            natter.name, peer["path"]
        );
    }
}

/// Natter is in the room first; Chromium joins and offers (the newcomer offers).
#[test]
fn chromium_offers_to_natter_on_host_candidates() {
    let Some(browser) = browser_or_skip("chromium_offers_to_natter_on_host_candidates") else {
        return;
    };
    let room = Room::new("chromium-offers", 2);
    let natter = room.natter("natter");
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let chromium = chromium.finish(RUN_LIMIT);
    let natter = natter.finish();
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    assert_path(&chromium, &[&natter], &chromium_id, "host");
}

/// Chromium offers H.264 alone (its payload types: 102, 104, 108, … per profile and
/// packetization mode, none of them Natter's own numbering): Natter must answer and send with
/// the numbers of Chromium's offer.
#[test]
fn chromium_offers_h264_only_to_natter() {
    let Some(browser) = browser_or_skip("chromium_offers_h264_only_to_natter") else {
        return;
    };
    let mut room = Room::new("chromium-offers-h264", 2);
    room.video_codec = Some("h264".into());
    let natter = room.natter("natter");
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let chromium = chromium.finish(RUN_LIMIT);
    let natter = natter.finish();
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    let seen = chromium.peer(natter.id()).expect("checked above");
    for direction in ["video_in", "video_out"] {
        assert_eq!(
            seen[direction]["codec"]["mimeType"], "video/H264",
            "{direction}: {:#}",
            seen[direction]
        );
    }
}

/// Chromium is in the room first; Natter joins and offers.
#[test]
fn natter_offers_to_chromium_on_host_candidates() {
    let Some(browser) = browser_or_skip("natter_offers_to_chromium_on_host_candidates") else {
        return;
    };
    let room = Room::new("natter-offers", 2);
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let natter = room.natter("natter").finish();
    let chromium = chromium.finish(RUN_LIMIT);
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    assert_path(&chromium, &[&natter], &chromium_id, "host");
}

/// As above with Chromium's default of hiding host addresses behind mDNS `.local` names left on
/// (what a browser as shipped does; the other tests turn it off). A page allowed to capture the
/// camera gets its real addresses all the same, so this mostly guards that assumption: it says
/// which kind of candidate Chromium trickled, and the call must work with either.
#[test]
fn natter_offers_to_chromium_with_mdns_hiding_on() {
    let Some(browser) = browser_or_skip("natter_offers_to_chromium_with_mdns_hiding_on") else {
        return;
    };
    let mut room = Room::new("natter-offers-mdns", 2);
    room.mdns_hide_ips = true;
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let natter = room.natter("natter").finish();
    let chromium = chromium.finish(RUN_LIMIT);
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    let trickled: Vec<&str> = chromium
        .peer(natter.id())
        .and_then(|p| p["local_candidates"].as_array())
        .into_iter()
        .flatten()
        .filter(|c| c["withheld"] != true)
        .filter_map(|c| c["candidate"].as_str())
        .filter(|c| !c.is_empty())
        .collect();
    let mdns = trickled.iter().any(|c| c.contains(".local "));
    eprintln!(
        "with mDNS hiding on, Chromium trickled {}: {trickled:?}",
        if mdns { "mDNS names" } else { "plain addresses" }
    );
}

/// Relay-only through one coturn on both sides (Natter `--relay-only`, Chromium
/// `iceTransportPolicy: "relay"` with the same servers); Chromium offers.
#[test]
fn chromium_offers_to_natter_relay_only() {
    let Some(browser) = browser_or_skip("chromium_offers_to_natter_relay_only") else {
        return;
    };
    let turn = Coturn::start();
    let room = Room::new("chromium-offers-relay", 2).relay_only_through(&turn);
    let natter = room.natter("natter");
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let chromium = chromium.finish(RUN_LIMIT);
    let natter = natter.finish();
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    assert_path(&chromium, &[&natter], &chromium_id, "relay");
}

/// Relay-only as above; Natter offers.
#[test]
fn natter_offers_to_chromium_relay_only() {
    let Some(browser) = browser_or_skip("natter_offers_to_chromium_relay_only") else {
        return;
    };
    let turn = Coturn::start();
    let room = Room::new("natter-offers-relay", 2).relay_only_through(&turn);
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let natter = room.natter("natter").finish();
    let chromium = chromium.finish(RUN_LIMIT);
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    assert_path(&chromium, &[&natter], &chromium_id, "relay");
}

/// Three in a room: Natter A first, then Chromium (it offers to A), then Natter B (it offers to
/// both). Chromium and each Natter get each other's media; so do the two Natters.
#[test]
fn two_natters_and_chromium_in_one_room() {
    let Some(browser) = browser_or_skip("two_natters_and_chromium_in_one_room") else {
        return;
    };
    let room = Room::new("three", 3);
    let first = room.natter("natter-a");
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let second = room.natter("natter-b");
    let (second, chromium) = (second.finish(), chromium.finish(RUN_LIMIT));
    let first = first.finish();
    assert_media_both_ways(&chromium, &chromium_id, &[&first, &second]);
    for (receiver, sender) in [(&first, &second), (&second, &first)] {
        let peer = receiver.peer(sender.id()).unwrap_or_else(|| {
            panic!(
                "{} has no entry for {}: {:#}",
                receiver.name, sender.name, receiver.report
            )
        });
        let decoded = peer["video"]["frames_decoded"].as_u64().unwrap_or(0);
        assert!(
            decoded > MIN_FRAMES,
            "{} decoded {decoded} frames from {}: {peer:#}",
            receiver.name,
            sender.name
        );
    }
}

/// A 12 s call, Chromium offering to Natter, both relay-only through coturn with the impairment
/// proxy in front of it applying `conditions` to every uplink (so each direction of the call
/// crosses one bad link). Both sides got media; returns Natter's entry for Chromium and
/// Chromium's for Natter.
fn impaired_call_with_chromium(test: &str, conditions: LinkConditions) -> Option<(Value, Value)> {
    let browser = browser_or_skip(test)?;
    let turn = Coturn::start();
    let upstream = std::net::SocketAddr::new(turn.ip, turn.port);
    let proxy = UdpProxy::builder(upstream)
        .conditions(Direction::Up, conditions)
        .seed(7)
        .start();
    let mut room = Room::new(test, 2).relay_only_via(&turn, proxy.addr);
    room.call_s = 12;
    let natter = room.natter("natter");
    let (chromium, chromium_id) = room.browser(&browser, "chromium");
    let chromium = chromium.finish(RUN_LIMIT);
    let natter = natter.finish();
    assert_media_both_ways(&chromium, &chromium_id, &[&natter]);
    assert!(
        proxy.stats(Direction::Up).passed_bytes > 0,
        "the call did not go through the proxy"
    );
    let ours = natter.peer(&chromium_id).expect("checked above").clone();
    let theirs = chromium.peer(natter.id()).expect("checked above").clone();
    let video = &ours["sent"]["video"];
    eprintln!(
        "{test}: natter → chromium: estimate {} kbit/s, sent {} kbit/s at {}, resent {} packets; Chromium decoded {} of {} frames, froze {} times ({} s in all)",
        video["target_kbps"],
        video["bitrate_kbps"],
        video["resolution"],
        video["retransmitted_packets"],
        theirs["video_in"]["framesDecoded"],
        video["frames_sent"],
        theirs["video_in"]["freezeCount"],
        theirs["video_in"]["totalFreezesDuration"]
    );
    Some((ours, theirs))
}

/// Frames Chromium decoded over those Natter's link to it carried (from its first frame on).
fn decoded_share(ours: &Value, theirs: &Value) -> f64 {
    let decoded = theirs["video_in"]["framesDecoded"].as_f64().unwrap_or(0.0);
    let sent = ours["sent"]["video"]["frames_sent"]
        .as_f64()
        .expect("frames sent on the link");
    decoded / sent
}

/// Through a 300 kbit/s access link Chromium's transport-wide feedback must drive Natter's
/// estimate: the picture shrinks to fit and keeps arriving, and Natter's report names the limit.
/// Judged by what Chromium decoded.
#[test]
fn natter_fits_its_video_to_a_capped_link_towards_chromium() {
    let test = "natter_fits_its_video_to_a_capped_link_towards_chromium";
    let Some((ours, theirs)) = impaired_call_with_chromium(test, LinkConditions::perfect().rate(300_000)) else {
        return;
    };
    let video = &ours["sent"]["video"];
    let target = video["target_kbps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no estimate from Chromium's feedback: {video:#}"));
    assert!(
        target < 600.0,
        "the estimate follows the 300 kbit/s cap (Chromium's feedback reached it): {target} kbit/s; {video:#}"
    );
    assert_eq!(ours["quality_limitation"], "bandwidth", "{ours:#}");
    let sizes: Vec<u64> = video["resolution_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["height"].as_u64())
        .collect();
    assert!(sizes.contains(&180), "the small picture went out: {video:#}");
    let share = decoded_share(&ours, &theirs);
    assert!(
        share > 0.8,
        "Chromium decoded {:.0} % of the frames sent to it: {theirs:#}",
        share * 100.0
    );
}

/// At 10 % loss on every uplink, Chromium's NACKs are answered with RTX on the stream it agreed
/// to, and the picture keeps arriving.
#[test]
fn natter_repairs_lost_packets_for_chromium() {
    let test = "natter_repairs_lost_packets_for_chromium";
    let Some((ours, theirs)) = impaired_call_with_chromium(test, LinkConditions::perfect().random_loss(0.10)) else {
        return;
    };
    let video = &ours["sent"]["video"];
    assert!(
        video["retransmitted_packets"].as_u64().unwrap_or(0) > 0,
        "Chromium's NACKs were answered: {video:#}"
    );
    let share = decoded_share(&ours, &theirs);
    assert!(
        share > 0.8,
        "Chromium decoded {:.0} % of the frames sent to it: {theirs:#}",
        share * 100.0
    );
}
