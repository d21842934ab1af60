//! Automatic fallback, end to end: real coturn servers die mid-call and calls move on by themselves.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A relay-only `natter headless` call in a child process, followed through its log.
struct RelayCall {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
    report_path: std::path::PathBuf,
}

impl RelayCall {
    fn start(dir: &TempDir, ice_config: &std::path::Path, participants: &str, duration: &str) -> RelayCall {
        let report_path = dir.path("report.json");
        let mut child = Command::new(NATTER)
            .args([
                "headless",
                "--participants",
                participants,
                "--duration",
                duration,
                "--relay-only",
                "--ice-config",
            ])
            .arg(ice_config)
            .arg("--report")
            .arg(&report_path)
            .env("RUST_LOG", "warn,natter_call=info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start natter headless");
        let (lines, reader) = follow_log(child.stderr.take().unwrap());
        RelayCall {
            child,
            lines,
            reader,
            report_path,
        }
    }

    /// Wait until the call is up; the TURN servers carrying it, as its log says.
    fn relays_in_use(&self) -> Vec<String> {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the call was established within 30 s");
            if let Some(rest) = line.split("relays in use: [").nth(1) {
                return rest
                    .trim_end_matches(']')
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
    }

    /// Wait for the end of the call; it must succeed. Its report.
    fn report(mut self) -> serde_json::Value {
        let status = self.child.wait().unwrap();
        let log = self.reader.join().unwrap();
        assert!(status.success(), "exit {status:?}; log:\n{log}");
        read_report(&self.report_path, &log)
    }
}

/// Two TURN servers, relay-only, three participants. The TURN server carrying the calls is killed
/// mid-call: every pair that used it restarts ICE onto the other one and decodes frames again,
/// in the same process, without anyone restarting anything.
#[test]
fn turn_server_killed_mid_call_every_pair_moves_to_the_other() {
    let mut servers = [Coturn::start(), Coturn::start()];
    let dir = TempDir::new("failover");
    let config = dir.path("ice.json");
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
    std::fs::write(&config, format!(r#"{{"iceServers":[{}]}}"#, entries.join(","))).unwrap();
    let call = RelayCall::start(&dir, &config, "3", "14");

    // Learn from the log when the call is up and which relays carry it.
    let in_use = call.relays_in_use();
    assert!(!in_use.is_empty(), "relay-only call without a relay?");
    // Kill the server the calls use (the first one listed if both are used).
    let victim = servers
        .iter()
        .position(|s| s.turn_url() == in_use[0])
        .expect("a relay we started");
    let dead_url = servers[victim].turn_url();
    servers[victim].kill();
    let survivor_url = servers[1 - victim].turn_url();

    let report = call.report();
    assert_all_streams_decoding(&report, 6, 100);
    let mut moved = 0;
    let mut recovered_pairs = Vec::new();
    for (receiver, peer) in streams(&report) {
        assert_eq!(
            peer["path"]["relay_server"],
            survivor_url.as_str(),
            "{receiver}: every pair ends on the survivor: {peer:#}"
        );
        let events = peer["events"].as_array().unwrap();
        if let Some(recovered) = events.iter().find(|e| e["kind"] == "recovered") {
            moved += 1;
            recovered_pairs.push((
                receiver.clone(),
                peer["remote"].as_str().unwrap_or_default().to_string(),
            ));
            assert!(
                events
                    .iter()
                    .any(|e| e["kind"] == "ice_restart" && e["detail"].as_str().unwrap().contains(&dead_url)),
                "{peer:#}"
            );
            // Noticed from the media stopping (a second), not from ICE consent (2.5 s + grace).
            assert!(
                events
                    .iter()
                    .any(|e| e["kind"] == "disconnected"
                        && e["detail"].as_str().unwrap().contains("stopped carrying media")),
                "{receiver}: the media watch should have noticed first: {peer:#}"
            );
            // In words: "moved the call with … to relay <survivor> over UDP in 3.5 s" (plus "(was
            // relay <dead>)" on the side whose own relay died; the other side kept its relay).
            let said = recovered["detail"].as_str().unwrap();
            assert!(
                said.starts_with("moved the call with") && said.contains(&format!("to relay {survivor_url}")),
                "{said}"
            );
            assert!(
                !said.contains("was relay") || said.contains(&format!("was relay {dead_url}")),
                "{said}"
            );
            let recovered_at = recovered["at_ms"].as_f64().unwrap();
            let last_frame = peer["last_frame_ms"].as_f64().unwrap();
            assert!(
                last_frame > recovered_at + 2000.0,
                "{receiver}: frames must keep decoding after recovery: {peer:#}"
            );
        }
    }
    assert!(
        moved >= 2,
        "the pairs on the killed server (at least one pair, both directions) moved: {report:#}"
    );
    // A dead relay silences both directions of its pair: the side whose restart came second
    // (it answered the other's) recovered too, it did not merely connect.
    for (receiver, remote) in &recovered_pairs {
        assert!(
            recovered_pairs.iter().any(|(r, p)| r == remote && p == receiver),
            "{receiver} recovered its call with {remote} but not the other way round: {report:#}"
        );
    }
    // The health monitor saw the server die.
    let events = report["health_events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["url"] == dead_url.as_str() && e["to"] != "ok"),
        "{events:#?}"
    );
}

/// The only TURN server, carrying a relay-only call, crashes and is started again on the same
/// port with none of its allocations: both sides notice the dead relay, make new allocations on
/// the restarted server and decode again, by themselves.
#[test]
fn turn_server_restarted_mid_call_allocations_are_remade() {
    let mut server = Coturn::start();
    let dir = TempDir::new("turn-restart");
    let config = dir.path("ice.json");
    std::fs::write(&config, server.ice_config_json()).unwrap();
    let call = RelayCall::start(&dir, &config, "2", "16");
    call.relays_in_use(); // the call is up
    let url = server.turn_url();
    server.kill();
    // Down long enough for both sides to notice (media watch: 1 s), then back, empty.
    std::thread::sleep(Duration::from_secs(2));
    server.restart();
    assert_eq!(server.turn_url(), url, "restarted on the same address");

    let report = call.report();
    assert_all_streams_decoding(&report, 2, 100);
    let mut recovered = 0;
    for (receiver, peer) in streams(&report) {
        assert_eq!(peer["path"]["relay_server"], url.as_str(), "{receiver}: {peer:#}");
        let events = peer["events"].as_array().unwrap();
        // Each side restarted ICE, or answered the other side's restart (then its connection
        // may never have looked broken: its event is `connected` again, not `recovered`).
        assert!(
            events.iter().any(|e| e["kind"] == "ice_restart"),
            "{receiver}: no new allocation was made: {peer:#}"
        );
        recovered += events.iter().filter(|e| e["kind"] == "recovered").count();
        let back_at = events
            .iter()
            .rev()
            .find(|e| e["kind"] == "recovered" || e["kind"] == "connected")
            .expect("connected at least once")["at_ms"]
            .as_f64()
            .unwrap();
        let restart_at = events.iter().find(|e| e["kind"] == "ice_restart").unwrap()["at_ms"]
            .as_f64()
            .unwrap();
        assert!(
            back_at > restart_at,
            "{receiver}: not connected again after the restart: {peer:#}"
        );
        let last_frame = peer["last_frame_ms"].as_f64().unwrap();
        assert!(
            last_frame > back_at + 2000.0,
            "{receiver}: frames must keep decoding after the new allocation: {peer:#}"
        );
    }
    assert!(
        recovered >= 1,
        "the side driving the restart reports `recovered`: {report:#}"
    );
}

/// `[dead STUN, TURN with a wrong password, good TURN]`, relay-only: every pair connects through
/// the good TURN at once, and the report names what is wrong with the other two.
#[test]
fn bad_servers_first_do_not_stop_the_call_and_are_named() {
    let good = Coturn::start();
    let wrong = Coturn::start();
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap(); // bound, never answers
    let dead_url = format!("stun:127.0.0.1:{}", dead.local_addr().unwrap().port());
    let dir = TempDir::new("badfirst");
    let config = dir.path("ice.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"iceServers":[{{"urls":["{dead_url}"]}},
                {{"urls":["{}"],"username":"{}","credential":"not-the-password"}},
                {{"urls":["{}"],"username":"{}","credential":"{}"}}]}}"#,
            wrong.turn_url(),
            wrong.user,
            good.turn_url(),
            good.user,
            good.password
        ),
    )
    .unwrap();
    let run = run_headless(
        &dir,
        "badfirst",
        &[
            "--participants",
            "3",
            "--duration",
            "4",
            "--relay-only",
            "--ice-config",
            config.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_all_streams_decoding(&run.report, 6, 40);
    for (receiver, peer) in streams(&run.report) {
        assert_eq!(
            peer["path"]["relay_server"],
            good.turn_url().as_str(),
            "{receiver}: {peer:#}"
        );
    }
    let servers = run.report["servers"].as_array().unwrap();
    let status_of = |url: &str| {
        servers
            .iter()
            .find(|s| s["url"] == url)
            .map(|s| (s["status"].clone(), s["error"].clone()))
            .unwrap()
    };
    let (status, error) = status_of(&dead_url);
    assert_eq!(status, "timeout", "{servers:#?}");
    assert!(error.as_str().unwrap().contains("no answer"), "{error}");
    let (status, error) = status_of(&wrong.turn_url());
    assert_eq!(status, "auth_failed", "{servers:#?}");
    assert!(error.as_str().unwrap().contains("wrong username/password"), "{error}");
    assert_eq!(status_of(&good.turn_url()).0, "ok");
    assert!(
        !run.stderr.contains("not-the-password") && !run.stderr.contains(&good.password),
        "credentials in the log"
    );
    drop(dead);
}

/// The user edits the ICE servers mid-call through the engine API the UI uses: the connections
/// restart ICE onto the new server and media keeps flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_ice_servers_mid_call_moves_the_call() {
    use natter_call::participant::{Participant, ParticipantConfig};
    let first = Coturn::start();
    let second = Coturn::start();
    let config_for = |turn: &Coturn| {
        natter_ice::IceConfig::from_json(&format!(
            r#"{{"iceServers":[{{"urls":["{}"],"username":"{}","credential":"{}"}}]}}"#,
            turn.turn_url(),
            turn.user,
            turn.password
        ))
        .unwrap()
    };
    let server = natter_signal::server::SignalServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let participant = |name: &str, ice: natter_ice::IceConfig| ParticipantConfig {
        name: name.into(),
        room: "edit".into(),
        room_secret: None,
        signal_url: server.url(),
        link: natter_call::peer::LinkSettings {
            ice,
            relay_only: true,
            bind: "127.0.0.1:0".parse().unwrap(),
            stack_defaults: false,
            offer_payload_types: Default::default(),
            bridges: Default::default(),
        },
        media: natter_call::media::MediaSettings {
            width: 320,
            height: 180,
            ..Default::default()
        },
        view: None,
        board: None,
        playout: None,
    };
    let alice = Participant::join(participant("alice", config_for(&first)))
        .await
        .unwrap();
    let bob = Participant::join(participant("bob", config_for(&first))).await.unwrap();

    let relay_of = |report: &natter_call::report::ParticipantReport| {
        report
            .peers
            .first()
            .and_then(|p| p.path.as_ref())
            .and_then(|p| p.relay_server.clone())
    };
    let wait_until =
        |what: &'static str, check: Box<dyn Fn(&natter_call::report::ParticipantReport) -> bool + Send + Sync>| {
            let alice = &alice;
            async move {
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                loop {
                    let report = alice.snapshot().await;
                    if check(&report) {
                        return report;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{what} did not happen within 15 s: {report:#?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
    let first_url = first.turn_url();
    let before = wait_until(
        "the call over the first server",
        Box::new(move |r| {
            r.peers
                .first()
                .is_some_and(|p| p.state == "connected" && p.video.frames_decoded > 10)
                && relay_of(r) == Some(first_url.clone())
        }),
    )
    .await;
    let decoded_before = before.peers[0].video.frames_decoded;

    // Alice's user switches to the second server.
    alice.set_ice_config(config_for(&second));
    let second_url = second.turn_url();
    let after = wait_until(
        "the move to the second server",
        Box::new(move |r| {
            r.peers.first().is_some_and(|p| p.state == "connected") && relay_of(r) == Some(second_url.clone())
        }),
    )
    .await;
    let restart = after.peers[0]
        .events
        .iter()
        .find(|e| e.kind == "ice_restart")
        .expect("an ice_restart event");
    assert!(
        restart.detail.contains("the ICE servers were changed") && restart.detail.contains(&second.turn_url()),
        "{restart:?}"
    );
    // Media continues: frames keep decoding after the move.
    let target = after.peers[0].video.frames_decoded + 30;
    let later = wait_until(
        "frames after the move",
        Box::new(move |r| r.peers[0].video.frames_decoded >= target),
    )
    .await;
    assert!(later.peers[0].video.frames_decoded > decoded_before);
    alice.leave().await;
    bob.leave().await;
}

/// UDP to the TURN server is not an option (blocked networks): a `turn:…?transport=tcp` server
/// alone carries the call, through Natter's local TCP bridge, and the path says so.
#[test]
fn turn_over_tcp_alone_carries_the_call() {
    let turn = Coturn::start();
    let dir = TempDir::new("turntcp");
    let url = format!("turn:127.0.0.1:{}?transport=tcp", turn.port);
    let config = dir.path("ice.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"iceServers":[{{"urls":["{url}"],"username":"{}","credential":"{}"}}]}}"#,
            turn.user, turn.password
        ),
    )
    .unwrap();
    let run = run_headless(
        &dir,
        "tcp",
        &[
            "--participants",
            "2",
            "--duration",
            "3",
            "--relay-only",
            "--ice-config",
            config.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_all_streams_decoding(&run.report, 2, 30);
    for (receiver, peer) in streams(&run.report) {
        assert_eq!(peer["path"]["local_candidate"], "relay", "{receiver}: {peer:#}");
        assert_eq!(peer["path"]["relay_server"], url.as_str(), "{receiver}: {peer:#}");
        assert_eq!(peer["path"]["relay_transport"], "tcp", "{receiver}: {peer:#}");
    }
    assert_eq!(run.report["servers"][0]["candidates"], "used");
}

/// The same over TLS (`turns:`), the certificate verified against a test CA given explicitly.
#[test]
fn turns_alone_carries_the_call() {
    let dir = TempDir::new("turns");
    let (ca, cert, key) = make_certificates(&dir);
    let turn = Coturn::start_with(CoturnOptions {
        tls: Some((cert, key)),
        ..Default::default()
    });
    let url = format!("turns:127.0.0.1:{}", turn.tls_port.unwrap());
    let config = dir.path("ice.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"iceServers":[{{"urls":["{url}"],"username":"{}","credential":"{}"}}]}}"#,
            turn.user, turn.password
        ),
    )
    .unwrap();
    let run = run_headless_env(
        &dir,
        "tls",
        &[
            "--participants",
            "2",
            "--duration",
            "3",
            "--relay-only",
            "--ice-config",
            config.to_str().unwrap(),
        ],
        &[("NATTER_EXTRA_CA_FILE", ca.to_str().unwrap())],
    );
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_all_streams_decoding(&run.report, 2, 30);
    for (receiver, peer) in streams(&run.report) {
        assert_eq!(peer["path"]["relay_server"], url.as_str(), "{receiver}: {peer:#}");
        assert_eq!(peer["path"]["relay_transport"], "tls", "{receiver}: {peer:#}");
    }
    // The prober trusts the same CA: the server is reported working over TLS.
    assert_eq!(run.report["servers"][0]["transport"], "tls");
    assert_eq!(run.report["servers"][0]["status"], "ok", "{:#}", run.report["servers"]);
}
