//! End-to-end calls through the real `natter` binary: real WebRTC peers on loopback, real H.264 and
//! Opus, a real coturn for relayed calls, a real signaling server for multi-process calls.

use crate::support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn two_participants_on_host_candidates_decode_each_other() {
    let dir = TempDir::new("two");
    let run = run_headless(&dir, "two", &["--participants", "2", "--duration", "4"]);
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_eq!(run.report["ok"], true);
    assert_all_streams_decoding(&run.report, 2, 40);
    for (receiver, peer) in streams(&run.report) {
        let path = &peer["path"];
        assert_eq!(path["local_candidate"], "host", "{receiver}: {peer:#}");
        assert_eq!(path["relay_server"], serde_json::Value::Null);
    }
}

#[test]
fn three_participants_full_mesh_six_streams_decoding() {
    let dir = TempDir::new("mesh3");
    let run = run_headless(&dir, "mesh3", &["--participants", "3", "--duration", "5"]);
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_all_streams_decoding(&run.report, 6, 50);
    // Frame counters come back out of decoded pixels: a lost count far above zero would mean
    // the stamps are misread or the pipeline drops frames.
    for (receiver, peer) in streams(&run.report) {
        let decoded = peer["video"]["frames_decoded"].as_u64().unwrap();
        let lost = peer["video"]["frames_lost"].as_u64().unwrap();
        assert!(
            lost * 10 < decoded,
            "{receiver} ← {}: {lost} lost vs {decoded} decoded",
            peer["remote"]
        );
        assert_eq!(peer["video"]["frames_unreadable"], 0, "{receiver}: {peer:#}");
    }
}

#[test]
fn relay_only_through_coturn_uses_relay_paths() {
    let turn = Coturn::start();
    let dir = TempDir::new("relay");
    let config = dir.path("ice.json");
    std::fs::write(&config, turn.ice_config_json()).unwrap();
    let run = run_headless(
        &dir,
        "relay",
        &[
            "--participants",
            "2",
            "--duration",
            "4",
            "--relay-only",
            "--ice-config",
            config.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "exit {:?}; stderr:\n{}", run.status, run.stderr);
    assert_all_streams_decoding(&run.report, 2, 40);
    for (receiver, peer) in streams(&run.report) {
        assert_eq!(peer["path"]["local_candidate"], "relay", "{receiver}: {peer:#}");
        assert_eq!(peer["path"]["relay_server"], turn.turn_url(), "{receiver}: {peer:#}");
        assert_eq!(peer["path"]["relay_transport"], "udp", "{receiver}: {peer:#}");
    }
    let servers = run.report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "one URL, one transport: {servers:#?}");
    assert_eq!(servers[0]["status"], "ok", "{servers:#?}");
    assert_eq!(servers[0]["transport"], "udp");
    assert_eq!(servers[0]["candidates"], "used");
    assert!(servers[0]["rtt_ms"].as_f64().is_some());
    // The password must not leak into the report or the logs.
    let report_text = std::fs::read_to_string(dir.path("relay.json")).unwrap();
    assert!(!report_text.contains(&turn.password), "password in report");
    assert!(!run.stderr.contains(&turn.password), "password in logs");
}

#[test]
fn two_processes_meet_through_a_signal_server() {
    let server = signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("procs");
    let spawn = |name: &str| {
        let report = dir.path(&format!("{name}.json"));
        let child = Command::new(NATTER)
            .args([
                "headless",
                "--participants",
                "1",
                "--expect",
                "2",
                "--duration",
                "4",
                "--bind",
                "127.0.0.1",
            ])
            .args(["--signal", &url, "--room", "two-procs", "--report"])
            .arg(&report)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start natter headless");
        (child, report)
    };
    let (first, first_report) = spawn("first");
    let (second, second_report) = spawn("second");
    for (child, report) in [(first, first_report), (second, second_report)] {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "exit {:?}; stderr:\n{stderr}", output.status);
        let report = read_report(&report, &stderr);
        assert_all_streams_decoding(&report, 1, 40);
    }
    drop(server);
}

/// A room opened with a secret: a participant without it (or with another) is refused with a
/// clear message and never joins; one with it joins and the call works.
#[test]
fn a_room_with_a_secret_lets_in_only_those_who_know_it() {
    let server = signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("secret-room");
    let spawn = |name: &str, secret: Option<&str>, expect: &str| {
        let report = dir.path(&format!("{name}.json"));
        let mut command = Command::new(NATTER);
        command
            .args([
                "headless",
                "--participants",
                "1",
                "--expect",
                expect,
                "--duration",
                "3",
                "--bind",
                "127.0.0.1",
            ])
            .args(["--signal", &url, "--room", "locked", "--report"])
            .arg(&report)
            .env_remove("NATTER_ROOM_SECRET")
            .stderr(std::process::Stdio::piped());
        if let Some(secret) = secret {
            command.env("NATTER_ROOM_SECRET", secret);
        }
        (command.spawn().expect("start natter headless"), report)
    };
    let (mut owner, owner_report) = spawn("owner", Some("tea-at-five"), "2");
    // Wait until the owner has opened the room: its log says it joined.
    let (lines, owner_log) = follow_log(owner.stderr.take().unwrap());
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the owner joined the room within 30 s");
        if line.contains("joined") && line.contains("peers=0") {
            break;
        }
    }
    for (name, secret) in [("stranger", None), ("guesser", Some("coffee"))] {
        let (child, _) = spawn(name, secret, "2");
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{name} must not get in; stderr:\n{stderr}"
        );
        assert!(
            stderr.contains("room_locked"),
            "{name}: the reason must be named; stderr:\n{stderr}"
        );
        assert!(!stderr.contains("tea-at-five"), "{name}: the secret leaked into a log");
    }
    let (guest, guest_report) = spawn("guest", Some("tea-at-five"), "2");
    let owner_status = owner.wait().unwrap();
    let owner_output = std::process::Output {
        status: owner_status,
        stdout: Vec::new(),
        stderr: owner_log.join().unwrap().into_bytes(),
    };
    let guest_output = guest.wait_with_output().unwrap();
    for (output, report) in [(owner_output, owner_report), (guest_output, guest_report)] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "exit {:?}; stderr:\n{stderr}", output.status);
        assert!(!stderr.contains("tea-at-five"), "the secret leaked into a log");
        let report = read_report(&report, &stderr);
        assert_all_streams_decoding(&report, 1, 20);
    }
    drop(server);
}

#[test]
fn a_bad_ice_config_is_a_clear_error() {
    let dir = TempDir::new("badcfg");
    let config = dir.path("ice.json");
    std::fs::write(
        &config,
        r#"{"iceServers":[{"urls":["turn:127.0.0.1:70000"],"username":"u","credential":"c"}]}"#,
    )
    .unwrap();
    let output = Command::new(NATTER)
        .args([
            "headless",
            "--participants",
            "2",
            "--duration",
            "1",
            "--ice-config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("port 70000 is out of range"), "stderr:\n{stderr}");
}

/// A hostile client in the room sends garbage to the server and malformed SDP and candidates to a
/// participant: it gets errors, the participants ignore the garbage, and the real call works.
#[test]
fn garbage_on_signaling_does_not_disturb_a_call() {
    let server = signal_server();
    let url = server.url().to_string();
    // Mallory is in the room first, so the participants offer to her too and must later cope
    // with her leaving a call that never connected.
    let (mut socket, _) = tungstenite::connect(url.as_str()).expect("connect to signaling");
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap(); // a missing message fails, never hangs
    }
    send_text(
        &mut socket,
        r#"{"type":"join","room":"hostile","name":"mallory"}"#.into(),
    );
    let welcome = read_json(&mut socket);
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    let dir = TempDir::new("garbage");
    let report = dir.path("call.json");
    let call = Command::new(NATTER)
        .args([
            "headless",
            "--participants",
            "2",
            "--duration",
            "4",
            "--bind",
            "127.0.0.1",
        ])
        .args(["--signal", &url, "--room", "hostile", "--report"])
        .arg(&report)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start natter headless");

    // Wait for both participants, and for both to have offered to mallory (their calls with her
    // are being set up, so her garbage lands on a call in progress, not before one).
    let mut victims = Vec::new();
    let mut offered = std::collections::BTreeSet::new();
    while victims.len() < 2 || offered.len() < 2 {
        let msg = read_json(&mut socket);
        if msg["type"] == "peer_joined" {
            victims.push(msg["id"].as_str().unwrap().to_string());
        }
        if msg["type"] == "offer" {
            offered.insert(msg["from"].as_str().unwrap().to_string());
        }
    }
    // Garbage to the server: answered with an error, connection kept.
    send_text(&mut socket, "not json at all".into());
    let mut errors = 0;
    while errors == 0 {
        let msg = read_json(&mut socket);
        if msg["type"] == "error" {
            assert_eq!(msg["code"], "bad_message", "{msg}");
            errors += 1;
        }
    }
    assert!(!victims.is_empty(), "never saw the call's participants");
    for victim in &victims {
        send_text(
            &mut socket,
            format!(r#"{{"type":"offer","to":"{victim}","sdp":"this is not SDP"}}"#),
        );
        send_text(
            &mut socket,
            format!(r#"{{"type":"answer","to":"{victim}","sdp":"v=0\r\nnonsense"}}"#),
        );
        send_text(
            &mut socket,
            format!(r#"{{"type":"candidate","to":"{victim}","candidate":{{"candidate":"candidate:garbage"}}}}"#),
        );
    }
    send_text(&mut socket, r#"{"type":"leave"}"#.into());
    drop(socket);

    let output = call.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(errors > 0, "the server never answered garbage with an error");
    assert!(output.status.success(), "exit {:?}; stderr:\n{stderr}", output.status);
    assert!(
        stderr.contains("refused a session description: its session description could not be read"),
        "the malformed offer was not noticed:\n{stderr}"
    );
    let report = read_report(&report, &stderr);
    // mallory left without ever connecting: only the two real participants' streams count.
    let real: Vec<_> = streams(&report)
        .into_iter()
        .filter(|(_, peer)| peer["connect_ms"].is_number())
        .collect();
    assert_eq!(real.len(), 2, "{report:#}");
    for (receiver, peer) in real {
        assert!(
            peer["video"]["frames_decoded"].as_u64().unwrap() >= 40,
            "{receiver}: {peer:#}"
        );
    }
}

fn read_json(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> serde_json::Value {
    loop {
        match socket.read().expect("read from signaling") {
            tungstenite::Message::Text(text) => return serde_json::from_str(text.as_str()).expect("server sends JSON"),
            _ => continue,
        }
    }
}

fn send_text(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    text: String,
) {
    socket
        .send(tungstenite::Message::text(text))
        .expect("send to signaling");
}

/// A network namespace with only `lo` up and no multicast route, as in many containers: the
/// stack's mDNS socket cannot join its group there (ENODEV). That must mean "no mDNS", not a
/// failed call. Needs CAP_SYS_ADMIN for `unshare -n` (root in CI, where it must not skip).
#[test]
fn a_call_connects_in_a_namespace_without_multicast() {
    let probe = Command::new("unshare").args(["-n", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = match probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        assert_ne!(
            std::env::var("NATTER_REQUIRE_NETNS").as_deref(),
            Ok("1"),
            "network namespaces required (NATTER_REQUIRE_NETNS=1) but: {why}"
        );
        eprintln!("SKIPPED: cannot create a network namespace: {why}");
        return;
    }
    let dir = TempDir::new("sealed");
    let report_path = dir.path("sealed.json");
    let script = format!(
        "ip link set lo up && ! ip route show table all | grep -q 224.0.0.0 && exec {NATTER} headless --participants 2 --duration 3 --report {}",
        report_path.display()
    );
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run unshare");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "exit {:?}; stderr:\n{stderr}", output.status);
    let report = read_report(&report_path, &stderr);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_all_streams_decoding(&report, 2, 20);
    assert!(
        stderr.contains("mDNS unavailable"),
        "the missing mDNS is said once: {stderr}"
    );
    assert_eq!(
        stderr.matches("mDNS unavailable").count(),
        1,
        "said once, not per connection: {stderr}"
    );
}

/// A call that works one way only: everything of A's RTP is dropped on its way to the TURN
/// server (its connectivity checks, DTLS and RTCP get through, so the connection is up and A
/// receives B perfectly). What A received says nothing of that; B's reception reports do. A's
/// `natter headless` must fail, in words, and not report `ok`.
#[test]
fn a_one_way_call_fails_with_the_reason_in_words() {
    use natter_rig::impair::{Direction, UdpProxy, is_rtp, relayed_payload};
    let turn = Coturn::start();
    let upstream = std::net::SocketAddr::new(turn.ip, turn.port);
    let proxy = UdpProxy::start(upstream, |direction, datagram| {
        direction == Direction::Down || !relayed_payload(datagram).is_some_and(is_rtp)
    });
    let dir = TempDir::new("oneway");
    let direct = dir.path("direct.json");
    std::fs::write(&direct, turn.ice_config_json()).unwrap();
    let through_proxy = dir.path("proxy.json");
    let proxied = turn.ice_config_json_via(proxy.addr);
    std::fs::write(&through_proxy, proxied).unwrap();
    let signal = signal_server();
    let url = signal.url().to_string();
    let run = |name: &str, config: &std::path::Path| {
        let config = config.to_str().unwrap();
        let args = [
            "--participants",
            "1",
            "--expect",
            "2",
            "--signal",
            &url,
            "--room",
            "oneway",
            "--relay-only",
            "--ice-config",
            config,
            "--duration",
            "5",
        ];
        run_headless(&dir, name, &args)
    };
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| run("b", &direct));
        let a = s.spawn(|| run("a", &through_proxy));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(
        proxy.dropped() > 0,
        "the proxy dropped nothing: the call did not go through it"
    );
    // A received B's media: by what it received alone, A would say the call is fine.
    let (_, at_a) = streams(&a.report).into_iter().next().expect("A saw B");
    assert!(at_a["video"]["frames_decoded"].as_u64().unwrap() > 20, "{at_a:#}");
    assert!(at_a["audio"]["packets_received"].as_u64().unwrap() > 20, "{at_a:#}");
    // B got nothing of A; A must say so and fail.
    assert_eq!(a.status.code(), Some(1), "A must fail; stderr:\n{}", a.stderr);
    assert_eq!(a.report["ok"], false, "{:#}", a.report);
    let reason = a.report["reason"].as_str().unwrap();
    assert!(
        reason.contains("receives no video from us") || reason.contains("has not confirmed receiving our video"),
        "{reason}"
    );
    assert_eq!(at_a["sent"]["video"]["remote_packets_received"], 0, "{at_a:#}");
    assert!(
        at_a["sent"]["video"]["packets_sent"].as_u64().unwrap() > 100,
        "{at_a:#}"
    );
    assert_eq!(b.report["ok"], false, "B received nothing either: {:#}", b.report);
}
