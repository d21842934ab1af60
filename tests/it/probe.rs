//! `natter probe` against real coturn processes on loopback: each server's exact status.

use crate::support::*;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

struct ProbeRun {
    code: Option<i32>,
    results: Vec<serde_json::Value>,
    elapsed: Duration,
}

fn probe(dir: &TempDir, config: &str, extra: &[&str]) -> ProbeRun {
    let path = dir.path(&format!("ice-{}.json", extra.len()));
    std::fs::write(&path, config).unwrap();
    let started = Instant::now();
    let output = Command::new(NATTER)
        .args(["probe", "--json", "--ice-config"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    ProbeRun {
        code: output.status.code(),
        results,
        elapsed,
    }
}

fn entry<'a>(run: &'a ProbeRun, url: &str, transport: &str) -> &'a serde_json::Value {
    run.results
        .iter()
        .find(|r| r["url"] == url && r["transport"] == transport)
        .unwrap_or_else(|| panic!("no result for {url} over {transport}: {:#?}", run.results))
}

#[test]
fn good_stun_turn_udp_tcp_and_turns_are_ok() {
    let dir = TempDir::new("probe-good");
    let (ca, cert, key) = make_certificates(&dir);
    let turn = Coturn::start_with(CoturnOptions {
        tls: Some((cert, key)),
        ..Default::default()
    });
    let tls_port = turn.tls_port.unwrap();
    let config = format!(
        r#"{{"iceServers":[{{"urls":["stun:127.0.0.1:{p}"]}},
            {{"urls":["turn:127.0.0.1:{p}","turn:127.0.0.1:{p}?transport=tcp","turns:127.0.0.1:{tls_port}"],"username":"{u}","credential":"{pw}"}}]}}"#,
        p = turn.port,
        u = turn.user,
        pw = turn.password
    );
    let run = probe(&dir, &config, &["--ca-file", ca.to_str().unwrap()]);
    assert_eq!(run.results.len(), 4, "{:#?}", run.results); // stun UDP, turn UDP, turn TCP, turns TLS
    for r in &run.results {
        assert_eq!(r["status"], "ok", "{r:#}");
        assert!(r["rtt_ms"].as_f64().is_some(), "{r:#}");
    }
    let stun = entry(&run, &format!("stun:127.0.0.1:{}", turn.port), "udp");
    assert!(stun["mapped_address"].as_str().unwrap().starts_with("127.0.0.1:"));
    for (url, transport) in [
        (format!("turn:127.0.0.1:{}", turn.port), "udp"),
        (format!("turn:127.0.0.1:{}?transport=tcp", turn.port), "tcp"),
    ] {
        let relay = entry(&run, &url, transport);
        assert!(
            relay["relayed_address"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{relay:#}"
        );
    }
    assert!(entry(&run, &format!("turns:127.0.0.1:{tls_port}"), "tls")["relayed_address"].is_string());
    assert_eq!(run.code, Some(0));

    // The same TLS server without trusting the test CA: named as a certificate problem.
    let untrusted = probe(&dir, &config, &[]);
    let tls = entry(&untrusted, &format!("turns:127.0.0.1:{tls_port}"), "tls");
    assert_eq!(tls["status"], "tls_failed", "{tls:#}");
    assert!(tls["error"].as_str().unwrap().contains("certificate"), "{tls:#}");
    assert_eq!(untrusted.code, Some(1), "TLS is configured and no TLS server works");
    // Credentials never appear in the output.
    assert!(
        !serde_json::to_string(&untrusted.results)
            .unwrap()
            .contains(&turn.password)
    );
}

#[test]
fn wrong_password_closed_port_silent_server_and_garbage_are_named() {
    let dir = TempDir::new("probe-bad");
    let turn = Coturn::start();
    // A UDP port nobody listens on (ICMP port unreachable on loopback → refused at once).
    let closed = free_port();
    // A server that swallows everything (a dead host or a firewall that drops).
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // A server that answers garbage.
    let garbage = UdpSocket::bind("127.0.0.1:0").unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((_, from)) = garbage.recv_from(&mut buf) {
            let _ = garbage.send_to(b"HTTP/1.1 400 Bad Request\r\n\r\n", from);
        }
    });
    let config = format!(
        r#"{{"iceServers":[
            {{"urls":["turn:127.0.0.1:{p}?transport=udp"],"username":"{u}","credential":"{pw}"}},
            {{"urls":["turn:127.0.0.1:{p}?transport=udp"],"username":"{u}","credential":"not-the-password"}},
            {{"urls":["stun:127.0.0.1:{closed}","stun:127.0.0.1:{silent_port}","stun:127.0.0.1:{garbage_port}"]}},
            {{"urls":["turn:127.0.0.1:{closed}?transport=tcp"],"username":"u","credential":"p"}}]}}"#,
        p = turn.port,
        u = turn.user,
        pw = turn.password
    );
    let run = probe(&dir, &config, &[]);
    let turn_url = format!("turn:127.0.0.1:{}?transport=udp", turn.port);
    let turn_results: Vec<_> = run.results.iter().filter(|r| r["url"] == turn_url).collect();
    assert_eq!(turn_results[0]["status"], "ok", "{:#?}", turn_results);
    assert_eq!(turn_results[1]["status"], "auth_failed", "{:#?}", turn_results);
    assert!(
        turn_results[1]["error"]
            .as_str()
            .unwrap()
            .contains("wrong username/password")
    );
    assert!(!turn_results[1]["error"].as_str().unwrap().contains("not-the-password"));

    let closed_udp = entry(&run, &format!("stun:127.0.0.1:{closed}"), "udp");
    assert_eq!(
        closed_udp["status"], "unreachable",
        "refused via ICMP port unreachable: {closed_udp:#}"
    );
    let closed_tcp = entry(&run, &format!("turn:127.0.0.1:{closed}?transport=tcp"), "tcp");
    assert_eq!(closed_tcp["status"], "unreachable", "{closed_tcp:#}");
    assert!(closed_tcp["error"].as_str().unwrap().contains("connection refused"));
    let silent_udp = entry(&run, &format!("stun:127.0.0.1:{silent_port}"), "udp");
    assert_eq!(silent_udp["status"], "timeout", "nothing ever answers: {silent_udp:#}");
    assert_eq!(
        silent_udp["attempts"], 4,
        "retransmitted by the RTO schedule: {silent_udp:#}"
    );
    assert_eq!(
        entry(&run, &format!("stun:127.0.0.1:{garbage_port}"), "udp")["status"],
        "protocol_error"
    );
    // The silent server does not hold the good ones back: they finish long before it gives up.
    let good_elapsed = turn_results[0]["elapsed_ms"].as_f64().unwrap();
    let silent_elapsed = silent_udp["elapsed_ms"].as_f64().unwrap();
    assert!(
        good_elapsed < silent_elapsed / 4.0,
        "good {good_elapsed} ms vs silent {silent_elapsed} ms"
    );
    eprintln!("natter probe over 6 server×transport pairs took {:?}", run.elapsed);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "probe must be bounded, took {:?}",
        run.elapsed
    );
    drop(silent);
}

#[test]
fn rest_credentials_fresh_are_ok_and_expired_are_auth_failed() {
    let dir = TempDir::new("probe-rest");
    let secret = "natter-shared-secret";
    let turn = Coturn::start_with(CoturnOptions {
        shared_secret: Some(secret.into()),
        ..Default::default()
    });
    let url = format!("turn:127.0.0.1:{}?transport=udp", turn.port);
    let fresh = format!(
        r#"{{"iceServers":[{{"urls":["{url}"],"username":"alice","credential":"{secret}","credentialType":"shared-secret"}}]}}"#
    );
    let run = probe(&dir, &fresh, &[]);
    assert_eq!(run.results[0]["status"], "ok", "{:#?}", run.results);
    assert_eq!(run.code, Some(0));

    let (user, password) = natter_ice::rest_credentials(&natter_ice::Secret::new(secret), "alice", 1_000_000_000);
    let expired = format!(
        r#"{{"iceServers":[{{"urls":["{url}"],"username":"{user}","credential":"{}"}}]}}"#,
        password.expose()
    );
    let run = probe(&dir, &expired, &[]);
    assert_eq!(run.results[0]["status"], "auth_failed", "{:#?}", run.results);
    assert_eq!(run.code, Some(1));
}

#[test]
fn a_user_over_quota_is_named() {
    let dir = TempDir::new("probe-quota");
    let turn = Coturn::start_with(CoturnOptions {
        user_quota: Some(1),
        ..Default::default()
    });
    let url = format!("turn:127.0.0.1:{}?transport=udp", turn.port);
    // Hold one allocation open (a probe driven by hand that never sends its release).
    let spec = natter_ice::probe::ProbeSpec {
        url: natter_ice::IceUrl::parse(&url).unwrap(),
        transport: natter_ice::probe::ProbeTransport::Udp,
        credentials: Some(natter_ice::probe::TurnCredentials {
            username: turn.user.clone(),
            password: natter_ice::Secret::new(&turn.password),
        }),
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", turn.port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut holder = natter_ice::probe::Probe::new(spec, Default::default(), Instant::now());
    let mut buf = [0u8; 1500];
    while !holder.is_done() {
        // Before the result, everything queued is a request; the release comes after and is never sent.
        while let Some(request) = holder.poll_transmit() {
            socket.send(&request).unwrap();
        }
        match socket.recv(&mut buf) {
            Ok(n) => holder.handle_input(&buf[..n], Instant::now()),
            Err(_) => holder.handle_timeout(Instant::now()),
        }
    }
    assert_eq!(holder.result().unwrap().status, natter_ice::probe::ProbeStatus::Ok);

    let config = format!(
        r#"{{"iceServers":[{{"urls":["{url}"],"username":"{}","credential":"{}"}}]}}"#,
        turn.user, turn.password
    );
    let run = probe(&dir, &config, &[]);
    assert_eq!(run.results[0]["status"], "quota", "{:#?}", run.results);
    assert!(run.results[0]["error"].as_str().unwrap().contains("486"));
}

/// The monitor re-probes during a call: a TURN server that dies becomes a transition event,
/// and the healthy one stays quiet.
#[tokio::test]
async fn the_monitor_reports_a_server_dying_mid_call() {
    let mut dying = Coturn::start();
    let healthy = Coturn::start();
    let config = natter_ice::IceConfig::from_json(&format!(
        r#"{{"iceServers":[{{"urls":["turn:127.0.0.1:{}?transport=udp"],"username":"{}","credential":"{}"}},
                          {{"urls":["turn:127.0.0.1:{}?transport=udp"],"username":"{}","credential":"{}"}}]}}"#,
        dying.port, dying.user, dying.password, healthy.port, healthy.user, healthy.password
    ))
    .unwrap();
    let timing = natter_ice::monitor::MonitorTiming {
        healthy_interval: Duration::from_millis(200),
        first_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(400),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let monitor = natter_call::health::HealthMonitor::start(&config, Default::default(), timing, move |t| {
        let _ = tx.send(t.clone());
    });
    let mut first = vec![next_transition(&mut rx).await, next_transition(&mut rx).await];
    first.sort_by_key(|t| t.url.clone());
    assert!(
        first
            .iter()
            .all(|t| t.from.is_none() && t.to == natter_ice::probe::ProbeStatus::Ok),
        "{first:#?}"
    );

    dying.kill();
    let change = next_transition(&mut rx).await;
    assert_eq!(
        change.url,
        format!("turn:127.0.0.1:{}?transport=udp", dying.port),
        "{change:#?}"
    );
    assert_eq!(change.from, Some(natter_ice::probe::ProbeStatus::Ok));
    assert!(
        matches!(
            change.to,
            natter_ice::probe::ProbeStatus::Unreachable | natter_ice::probe::ProbeStatus::Timeout
        ),
        "{change:#?}"
    );
    assert!(change.message.contains(" UDP became "), "{}", change.message);
    // The healthy server produced no transition, and its latest result is still ok.
    let snapshot = monitor.snapshot();
    let healthy_now = snapshot
        .iter()
        .find(|h| h.url.contains(&healthy.port.to_string()))
        .unwrap();
    assert_eq!(healthy_now.result.status, natter_ice::probe::ProbeStatus::Ok);
    assert_eq!(monitor.transitions().len(), 3);
}

async fn next_transition(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<natter_ice::monitor::HealthTransition>,
) -> natter_ice::monitor::HealthTransition {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a transition within 10 s")
        .expect("monitor running")
}

/// The issue's scenario: [good TURN, wrong-password TURN, dead STUN] gives three lines, each with
/// the right verdict, and the dead server costs only its own give-up time.
#[test]
fn probe_table_good_wrong_password_and_dead() {
    let dir = TempDir::new("probe-table");
    let turn = Coturn::start();
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap(); // bound, never answers
    let dead_port = dead.local_addr().unwrap().port();
    let path = dir.path("ice.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"iceServers":[{{"urls":"turn:127.0.0.1:{p}","username":"{u}","credential":"{pw}"}},
                              {{"urls":"turn:127.0.0.1:{p}","username":"{u}","credential":"wrong"}},
                              {{"urls":"stun:127.0.0.1:{dead_port}"}}]}}"#,
            p = turn.port,
            u = turn.user,
            pw = turn.password
        ),
    )
    .unwrap();
    let started = Instant::now();
    let output = Command::new(NATTER)
        .args(["probe", "--ice-config"])
        .arg(&path)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let table = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3 lines:\n{table}");
    assert!(
        lines[1].contains(" ok ") && lines[1].contains("relay 127.0.0.1:"),
        "{table}"
    );
    assert!(
        lines[2].contains("auth_failed") && lines[2].contains("wrong username/password"),
        "{table}"
    );
    assert!(
        lines[3].contains("timeout") && lines[3].contains("no answer to 4 requests"),
        "{table}"
    );
    assert!(!table.contains(&turn.password) && !table.contains("wrong\""));
    // Exit 0: the only transport kind configured (UDP) has a working server.
    assert_eq!(output.status.code(), Some(0), "{table}");
    eprintln!("natter probe [good TURN, wrong-password TURN, dead STUN]: {elapsed:?}\n{table}");
    drop(dead);
}

/// The settings page shows a bad URL in the words `natter probe` prints for it: the page's tests
/// answer from `ui/src/testdata/url-checks.json` (generated from the parser by
/// src-tauri/src/bindings.rs), and here the CLI says each of those messages for the same URL.
#[test]
fn the_cli_says_what_the_settings_page_says_about_a_bad_url() {
    let dir = TempDir::new("probe-words");
    let checks: serde_json::Value =
        serde_json::from_str(include_str!("../../ui/src/testdata/url-checks.json")).unwrap();
    let mut compared = 0;
    for (text, check) in checks.as_object().unwrap() {
        let (Some(url), Some(problem)) = (check["urls"].get(0), check["problems"].get(0)) else {
            continue;
        };
        let path = dir.path(&format!("words-{compared}.json"));
        std::fs::write(
            &path,
            serde_json::json!({ "iceServers": [{ "urls": url }] }).to_string(),
        )
        .unwrap();
        let output = Command::new(NATTER)
            .args(["probe", "--ice-config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {stderr}");
        let problem = problem.as_str().unwrap();
        assert!(
            stderr.contains(problem),
            "{text:?}: the page says\n  {problem}\nthe CLI says\n  {stderr}"
        );
        compared += 1;
    }
    assert!(compared >= 3, "{checks:#}");
    assert!(
        checks["stun:exa mple.org"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("host contains ' '"),
        "a space in a host is named as such, the URL is not split there: {checks:#}"
    );
}
