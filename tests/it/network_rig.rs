//! Calls between real hosts behind real NATs and firewalls (network namespaces, see
//! natter-rig's `netns`): each test builds the networks, puts coturn and a signaling server on the
//! "public" segment, runs one `natter headless` per host and checks the path every pair found.
//!
//! Needs root (CAP_NET_ADMIN). Where namespaces cannot be created the tests say so and skip,
//! unless `NATTER_REQUIRE_NETNS=1` (set by `.ci/run`), which turns that into a failure.

use crate::support::netns::{Nat, NetRig};
use crate::support::public::{HostRun, PublicServers, SIGNAL_PORT, TURNS_PORT};
use crate::support::{NATTER, streams};
use std::path::Path;

fn start_servers(rig: &NetRig, tls: bool) -> PublicServers {
    PublicServers::start(rig, Path::new(NATTER), tls)
}

fn call(rig: &NetRig, servers: &PublicServers, hosts: &[usize], ice_config: &Path, duration_s: u32) -> Vec<HostRun> {
    servers.call(rig, hosts, ice_config, duration_s)
}

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

/// The single remote stream in a two-host report, with the host number for messages.
fn only_stream(run: &HostRun) -> serde_json::Value {
    let streams = streams(&run.report);
    assert_eq!(streams.len(), 1, "host {}: {:#}", run.host, run.report);
    streams[0].1.clone()
}

fn assert_decoding(run: &HostRun) {
    assert!(
        run.ok_exit,
        "host {} failed: {:?}\n{}",
        run.host, run.report["reason"], run.log
    );
    let peer = only_stream(run);
    assert_eq!(peer["state"], "connected", "host {}: {peer:#}", run.host);
    assert!(
        peer["video"]["frames_decoded"].as_u64().unwrap_or(0) >= 20,
        "host {}: {peer:#}",
        run.host
    );
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
    assert!(
        local != "relay" && remote != "relay",
        "host {}: relayed ({local} → {remote}) although STUN only",
        run.host
    );
    assert!(
        ["srflx", "prflx"].contains(&local.as_str()) || ["srflx", "prflx"].contains(&remote.as_str()),
        "host {}: path {local} → {remote} has no reflexive end",
        run.host
    );
}

/// Two hosts behind `nat`, STUN only: the call must punch through, media both ways.
fn direct_call_through_stun(nat: Nat) {
    let Some(rig) = rig(&[nat.clone(), nat]) else { return };
    let servers = start_servers(&rig, false);
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
    let Some(rig) = rig(&[Nat::Symmetric, Nat::Symmetric]) else {
        return;
    };
    let servers = start_servers(&rig, false);
    let runs = call(&rig, &servers, &[1, 2], &servers.ice_config(&[]), 8);
    for run in &runs {
        assert!(
            !run.ok_exit,
            "host {}: a call between two symmetric NATs without TURN cannot work",
            run.host
        );
        let peer = only_stream(run);
        assert_ne!(peer["state"], "connected", "host {}: {peer:#}", run.host);
        let failed = peer["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "failed");
        let failed = failed.unwrap_or_else(|| panic!("host {}: no `failed` event: {peer:#}\n{}", run.host, run.log));
        let detail = failed["detail"].as_str().unwrap();
        eprintln!(
            "host {}: named the failure at {:.0} ms after joining: {detail}",
            run.host,
            failed["at_ms"].as_f64().unwrap_or(-1.0)
        );
        assert!(
            detail.contains("TURN"),
            "host {}: the reason should point at the missing relay: {detail}",
            run.host
        );
        let reason = run.report["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("TURN"), "host {}: report reason: {reason}", run.host);
    }
}

#[test]
fn symmetric_nats_with_turn_connect_through_the_relay() {
    let Some(rig) = rig(&[Nat::Symmetric, Nat::Symmetric]) else {
        return;
    };
    let servers = start_servers(&rig, false);
    let runs = call(&rig, &servers, &[1, 2], &servers.ice_config(&[servers.turn_udp()]), 3);
    for run in &runs {
        assert_decoding(run);
        let (local, remote) = path_types(run);
        assert!(
            local == "relay" || remote == "relay",
            "host {}: {local} → {remote} is not relayed",
            run.host
        );
    }
}

#[test]
fn a_host_whose_udp_is_blocked_connects_through_turn_over_tcp() {
    let Some(rig) = rig(&[Nat::UdpBlocked, Nat::PortRestricted]) else {
        return;
    };
    let servers = start_servers(&rig, false);
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
    let Some(rig) = rig(&[Nat::TcpOnlyTo(vec![TURNS_PORT, SIGNAL_PORT]), Nat::PortRestricted]) else {
        return;
    };
    let servers = start_servers(&rig, true);
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
