//! Calls between real hosts behind real NATs and firewalls (network namespaces, see
//! `support::netns`): each test builds the networks, puts coturn and a signaling server on the
//! "public" segment, runs one `natter headless` per host and checks the path every pair found.
//!
//! Needs root (CAP_NET_ADMIN). Where namespaces cannot be created the tests say so and skip,
//! unless `NATTER_REQUIRE_NETNS=1` (set by `.ci/run`), which turns that into a failure.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::netns::{Nat, NetRig, PUBLIC_SERVER_IP, within};
use support::{Coturn, CoturnOptions, NATTER, Reaped, TempDir, make_certificates_for, read_report, streams};

/// The rig, or `None` (after saying why) where this machine cannot create namespaces.
fn rig(nats: &[Nat]) -> Option<NetRig> {
    match NetRig::new(nats) {
        Ok(rig) => Some(rig),
        Err(reason) if std::env::var("NATTER_REQUIRE_NETNS").as_deref() == Ok("1") => {
            panic!("network rig required (NATTER_REQUIRE_NETNS=1) but: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED: {reason}");
            None
        }
    }
}

const SIGNAL_PORT: u16 = 8443;
const TURN_PORT: u16 = 3478;
const TURNS_PORT: u16 = 5349;

/// Servers on the public segment: coturn (UDP/TCP, and TLS when asked) and `natter signal-server`.
struct PublicServers {
    turn: Coturn,
    _signal: Reaped,
    ca: Option<PathBuf>,
    dir: TempDir,
}

impl PublicServers {
    fn start(rig: &NetRig, tls: bool) -> PublicServers {
        let dir = TempDir::new("rig");
        let ip = PUBLIC_SERVER_IP.to_string();
        let (ca, tls_files) = if tls {
            let (ca, cert, key) = make_certificates_for(&dir, &ip);
            (Some(ca), Some((cert, key)))
        } else {
            (None, None)
        };
        let turn = Coturn::start_with(CoturnOptions {
            tls: tls_files,
            netns: Some(rig.public_namespace().to_string()),
            ip: Some(PUBLIC_SERVER_IP.into()),
            port: Some(TURN_PORT),
            tls_port: Some(TURNS_PORT),
            ..Default::default()
        });
        let listen = format!("{ip}:{SIGNAL_PORT}");
        let signal = Reaped(
            rig.on_public(NATTER)
                .args(["signal-server", "--listen", &listen])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start natter signal-server"),
        );
        let address: SocketAddr = listen.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let public = rig.public_namespace().to_string();
        loop {
            let up = within(&public, move || TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()).unwrap();
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "natter signal-server did not listen on {listen} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        PublicServers { turn, _signal: signal, ca, dir }
    }

    fn stun(&self) -> String {
        format!("stun:{PUBLIC_SERVER_IP}:{TURN_PORT}")
    }

    /// A W3C `iceServers` JSON with a STUN entry and the TURN URLs given.
    fn ice_config(&self, turn_urls: &[String]) -> PathBuf {
        let mut servers = vec![format!(r#"{{"urls":["{}"]}}"#, self.stun())];
        if !turn_urls.is_empty() {
            let urls = turn_urls.iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(",");
            servers.push(format!(r#"{{"urls":[{urls}],"username":"{}","credential":"{}"}}"#, self.turn.user, self.turn.password));
        }
        let path = self.dir.path(&format!("ice-{}.json", turn_urls.len()));
        std::fs::write(&path, format!(r#"{{"iceServers":[{}]}}"#, servers.join(","))).unwrap();
        path
    }

    fn turn_udp(&self) -> String {
        format!("turn:{PUBLIC_SERVER_IP}:{TURN_PORT}?transport=udp")
    }
    fn turn_tcp(&self) -> String {
        format!("turn:{PUBLIC_SERVER_IP}:{TURN_PORT}?transport=tcp")
    }
    fn turns(&self) -> String {
        format!("turns:{PUBLIC_SERVER_IP}:{TURNS_PORT}?transport=tcp")
    }
}

/// One participant's run: exit status, its log and its report.
struct HostRun {
    host: usize,
    ok_exit: bool,
    log: String,
    report: serde_json::Value,
}

/// Run one `natter headless` per host, all in one room, and collect their reports.
fn call(rig: &NetRig, servers: &PublicServers, hosts: &[usize], ice_config: &PathBuf, duration_s: u32) -> Vec<HostRun> {
    let room = format!("rig-{}", std::process::id());
    let url = format!("ws://{PUBLIC_SERVER_IP}:{SIGNAL_PORT}");
    let expect = hosts.len().to_string();
    let duration = duration_s.to_string();
    let mut running: Vec<(usize, Child, PathBuf, PathBuf)> = Vec::new();
    for &host in hosts {
        let report = servers.dir.path(&format!("host{host}.json"));
        let log = servers.dir.path(&format!("host{host}.log"));
        let mut command = rig.on_host(host, NATTER);
        command
            .args(["headless", "--participants", "1", "--expect", &expect, "--duration", &duration])
            .args(["--signal", &url, "--room", &room, "--ice-config"])
            .arg(ice_config)
            .arg("--report")
            .arg(&report)
            .env("RUST_LOG", std::env::var("NATTER_TEST_LOG").unwrap_or_else(|_| "warn,natter=info,natter_call=info".into()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(ca) = &servers.ca {
            command.env("NATTER_EXTRA_CA_FILE", ca);
        }
        running.push((host, command.spawn().expect("start natter headless"), report, log));
    }
    // Joining, connecting and the call itself take well under this.
    let deadline = Instant::now() + Duration::from_secs(u64::from(duration_s) + 40);
    running
        .into_iter()
        .map(|(host, child, report, log)| {
            let mut child = Reaped(child);
            let status = loop {
                if let Some(status) = child.0.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    panic!("host {host}: natter headless still running after its deadline; log:\n{}", read(&log));
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let log = read(&log);
            let report = read_report(&report, &log);
            HostRun { host, ok_exit: status.success(), log, report }
        })
        .collect()
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The single remote stream in a two-host report, with the host number for messages.
fn only_stream(run: &HostRun) -> serde_json::Value {
    let streams = streams(&run.report);
    assert_eq!(streams.len(), 1, "host {}: {:#}", run.host, run.report);
    streams[0].1.clone()
}

fn assert_decoding(run: &HostRun) {
    assert!(run.ok_exit, "host {} failed: {:?}\n{}", run.host, run.report["reason"], run.log);
    let peer = only_stream(run);
    assert_eq!(peer["state"], "connected", "host {}: {peer:#}", run.host);
    assert!(peer["video"]["frames_decoded"].as_u64().unwrap_or(0) >= 20, "host {}: {peer:#}", run.host);
}

/// The candidate types of the path in use, as (local, remote).
fn path_types(run: &HostRun) -> (String, String) {
    let path = &only_stream(run)["path"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("none").to_string();
    (text(&path["local_candidate"]), text(&path["remote_candidate"]))
}

/// Host candidates cannot reach across two NATs, so a direct call must have punched through:
/// one end of the pair is server-reflexive (or peer-reflexive, learned from the punch) and
/// nothing is relayed.
fn assert_punched_through(run: &HostRun) {
    let (local, remote) = path_types(run);
    assert!(local != "relay" && remote != "relay", "host {}: relayed ({local} → {remote}) although STUN only", run.host);
    assert!(
        ["srflx", "prflx"].contains(&local.as_str()) || ["srflx", "prflx"].contains(&remote.as_str()),
        "host {}: path {local} → {remote} has no reflexive end",
        run.host
    );
}

/// Two hosts behind `nat`, STUN only: the call must punch through, media both ways.
fn direct_call_through_stun(nat: Nat) {
    let Some(rig) = rig(&[nat.clone(), nat]) else { return };
    let servers = PublicServers::start(&rig, false);
    let runs = call(&rig, &servers, &[1, 2], &servers.ice_config(&[]), 3);
    for run in &runs {
        assert_decoding(run);
        assert_punched_through(run);
    }
}

#[test]
fn port_restricted_nats_connect_directly_through_stun() {
    direct_call_through_stun(Nat::PortRestricted);
}

#[test]
fn full_cone_nats_connect_directly_through_stun() {
    direct_call_through_stun(Nat::FullCone);
}

#[test]
fn symmetric_nats_without_turn_fail_with_a_clear_reason() {
    let Some(rig) = rig(&[Nat::Symmetric, Nat::Symmetric]) else { return };
    let servers = PublicServers::start(&rig, false);
    let runs = call(&rig, &servers, &[1, 2], &servers.ice_config(&[]), 8);
    for run in &runs {
        assert!(!run.ok_exit, "host {}: a call between two symmetric NATs without TURN cannot work", run.host);
        let peer = only_stream(run);
        assert_ne!(peer["state"], "connected", "host {}: {peer:#}", run.host);
        let failed = peer["events"].as_array().unwrap().iter().find(|e| e["kind"] == "failed");
        let failed = failed.unwrap_or_else(|| panic!("host {}: no `failed` event: {peer:#}\n{}", run.host, run.log));
        let detail = failed["detail"].as_str().unwrap();
        eprintln!("host {}: named the failure at {:.0} ms after joining: {detail}", run.host, failed["at_ms"].as_f64().unwrap_or(-1.0));
        assert!(detail.contains("TURN"), "host {}: the reason should point at the missing relay: {detail}", run.host);
        let reason = run.report["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("TURN"), "host {}: report reason: {reason}", run.host);
    }
}

#[test]
fn symmetric_nats_with_turn_connect_through_the_relay() {
    let Some(rig) = rig(&[Nat::Symmetric, Nat::Symmetric]) else { return };
    let servers = PublicServers::start(&rig, false);
    let runs = call(&rig, &servers, &[1, 2], &servers.ice_config(&[servers.turn_udp()]), 3);
    for run in &runs {
        assert_decoding(run);
        let (local, remote) = path_types(run);
        assert!(local == "relay" || remote == "relay", "host {}: {local} → {remote} is not relayed", run.host);
    }
}

#[test]
fn a_host_whose_udp_is_blocked_connects_through_turn_over_tcp() {
    let Some(rig) = rig(&[Nat::UdpBlocked, Nat::PortRestricted]) else { return };
    let servers = PublicServers::start(&rig, false);
    let config = servers.ice_config(&[servers.turn_udp(), servers.turn_tcp()]);
    let runs = call(&rig, &servers, &[1, 2], &config, 3);
    for run in &runs {
        assert_decoding(run);
    }
    let blocked = &only_stream(&runs[0])["path"];
    assert_eq!(blocked["local_candidate"], "relay", "{blocked:#}");
    assert_eq!(blocked["relay_transport"], "tcp", "{blocked:#}");
    assert_eq!(blocked["relay_server"], servers.turn_tcp(), "{blocked:#}");
    // The UDP entries are named as unusable from there, not silently skipped.
    let udp_turn = runs[0].report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["url"] == servers.turn_udp())
        .cloned()
        .expect("the UDP TURN server is in the report");
    assert_ne!(udp_turn["status"], "ok", "{udp_turn:#}");
}

#[test]
fn a_host_that_may_only_speak_tls_connects_through_turns() {
    let Some(rig) = rig(&[Nat::TcpOnlyTo(vec![TURNS_PORT, SIGNAL_PORT]), Nat::PortRestricted]) else { return };
    let servers = PublicServers::start(&rig, true);
    let config = servers.ice_config(&[servers.turn_udp(), servers.turn_tcp(), servers.turns()]);
    let runs = call(&rig, &servers, &[1, 2], &config, 3);
    for run in &runs {
        assert_decoding(run);
    }
    let locked_down = &only_stream(&runs[0])["path"];
    assert_eq!(locked_down["local_candidate"], "relay", "{locked_down:#}");
    assert_eq!(locked_down["relay_transport"], "tls", "{locked_down:#}");
    assert_eq!(locked_down["relay_server"], servers.turns(), "{locked_down:#}");
}
