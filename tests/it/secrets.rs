//! Secrets never leave their place: a relayed call (TURN over UDP and TCP with a password, and a
//! TURN REST server with a shared secret) and a probe of the same servers run with every log
//! at `trace`; not one log line, report or table may contain the password or the secret. The
//! window's diagnostics export and settings files are checked by `ui_e2e.rs`.

use crate::support::*;
use std::process::Command;

const SHARED_SECRET: &str = "natter-rest-secret-7a41c";

/// The servers, an ICE config naming all of them, and the secrets in it.
fn servers(dir: &TempDir) -> (Coturn, Coturn, std::path::PathBuf) {
    let password_turn = Coturn::start();
    let rest_turn = Coturn::start_with(CoturnOptions {
        shared_secret: Some(SHARED_SECRET.into()),
        ..Default::default()
    });
    let config = dir.path("ice.json");
    let p = &password_turn;
    std::fs::write(
        &config,
        format!(
            r#"{{"iceServers":[
                {{"urls":["turn:{ip}:{port}?transport=udp","turn:{ip}:{port}?transport=tcp"],"username":"{user}","credential":"{password}"}},
                {{"urls":["{rest}"],"username":"alice","credential":"{SHARED_SECRET}","credentialType":"shared-secret"}}
            ]}}"#,
            ip = p.ip,
            port = p.port,
            user = p.user,
            password = p.password,
            rest = rest_turn.turn_url(),
        ),
    )
    .unwrap();
    (password_turn, rest_turn, config)
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        let hits = text.matches(secret).count();
        assert_eq!(hits, 0, "{what} contains a secret {hits} time(s)");
    }
}

#[test]
fn no_secret_in_logs_reports_or_probe_output_even_at_trace_level() {
    let dir = TempDir::new("secrets");
    let (password_turn, _rest_turn, config) = servers(&dir);
    let secrets = [password_turn.password.as_str(), SHARED_SECRET];

    let run = run_headless_env(
        &dir,
        "call",
        &[
            "--participants",
            "2",
            "--duration",
            "2",
            "--relay-only",
            "--ice-config",
            config.to_str().unwrap(),
        ],
        &[("RUST_LOG", "trace")],
    );
    assert!(
        run.status.success(),
        "the relayed call must work for this test to mean anything; log tail:\n{}",
        tail(&run.stderr)
    );
    assert!(
        run.stderr.lines().count() > 1000,
        "trace logging was not on ({} lines)",
        run.stderr.lines().count()
    );
    assert_clean("the call's trace log", &run.stderr, &secrets);
    assert_clean("the report", &run.report.to_string(), &secrets);

    for json in [true, false] {
        let mut probe = Command::new(NATTER);
        probe
            .args(["probe", "--ice-config"])
            .arg(&config)
            .env("RUST_LOG", "trace");
        if json {
            probe.arg("--json");
        }
        let out = probe.output().expect("run natter probe");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            stdout.contains(&password_turn.turn_url()),
            "the probe must have probed the servers: {stdout}"
        );
        assert_clean("the probe's output", &stdout, &secrets);
        assert_clean("the probe's trace log", &stderr, &secrets);
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
