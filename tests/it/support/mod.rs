//! Test harness shared by the integration tests: running the `natter` binary and reading its
//! report, on the rig of `natter-rig` (real coturn servers, `natter signal-server` processes,
//! Xvfb, scratch directories, child processes killed on drop, network namespaces), re-exported
//! here. Everything stays on 127.0.0.1, or inside network namespaces the tests create
//! themselves (`netns`).
#![allow(dead_code)]

pub mod webdriver;

pub use natter_rig::{
    Coturn, CoturnOptions, Reaped, SignalServerProcess, TempDir, Xvfb, free_port, make_certificates, netns, public,
    streams, which,
};

use std::path::Path;
use std::process::Command;

pub const NATTER: &str = env!("CARGO_BIN_EXE_natter");

/// `natter signal-server` (the binary under test) on a free loopback port, until it drops.
pub fn signal_server() -> SignalServerProcess {
    SignalServerProcess::start(Path::new(NATTER))
}

/// A config directory (`NATTER_CONFIG_DIR`) whose settings pick the synthetic camera and
/// microphone (the test pattern and the tone), as a user of a machine without them can: the
/// window then has a self view and a level, and the others something to decode. The directory
/// and its path as text.
pub fn synthetic_devices_config(tag: &str) -> (TempDir, String) {
    let config = TempDir::new(tag);
    std::fs::write(
        config.path("settings.json"),
        r#"{"camera":"synthetic-camera","microphone":"synthetic-mic"}"#,
    )
    .expect("write settings.json");
    let dir = config.0.to_str().expect("a UTF-8 temp path").to_string();
    (config, dir)
}

/// Result of one `natter headless` run.
pub struct HeadlessRun {
    pub status: std::process::ExitStatus,
    pub stderr: String,
    pub report: serde_json::Value,
}

/// Run `natter headless ARGS --report FILE` and parse the report (panics with stderr if it is missing).
pub fn run_headless(dir: &TempDir, name: &str, args: &[&str]) -> HeadlessRun {
    run_headless_env(dir, name, args, &[])
}

/// `run_headless` with extra environment variables.
pub fn run_headless_env(dir: &TempDir, name: &str, args: &[&str], env: &[(&str, &str)]) -> HeadlessRun {
    let report_path = dir.path(&format!("{name}.json"));
    let output = Command::new(NATTER)
        .arg("headless")
        .args(args)
        .arg("--report")
        .arg(&report_path)
        .env("RUST_LOG", "natter=info,natter_call=info,warn")
        .envs(env.iter().copied())
        .output()
        .expect("run natter headless");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = read_report(&report_path, &stderr);
    HeadlessRun {
        status: output.status,
        stderr,
        report,
    }
}

pub fn read_report(path: &Path, stderr: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {} ({e}); stderr:\n{stderr}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{text}"))
}

/// Assert that every directed stream connected and decoded at least `min_frames` frames.
pub fn assert_all_streams_decoding(report: &serde_json::Value, expected_streams: usize, min_frames: u64) {
    let streams = streams(report);
    assert_eq!(
        streams.len(),
        expected_streams,
        "directed streams in report: {report:#}"
    );
    for (receiver, peer) in &streams {
        assert_eq!(peer["state"], "connected", "{receiver} ← {}: {peer:#}", peer["remote"]);
        let decoded = peer["video"]["frames_decoded"].as_u64().unwrap_or(0);
        assert!(
            decoded >= min_frames,
            "{receiver} ← {}: only {decoded} frames decoded: {peer:#}",
            peer["remote"]
        );
        assert!(
            peer["audio"]["packets_received"].as_u64().unwrap_or(0) > 0,
            "{receiver} ← {}: no audio: {peer:#}",
            peer["remote"]
        );
        assert!(peer["connect_ms"].as_f64().is_some(), "connect_ms missing: {peer:#}");
        assert!(
            peer["first_frame_ms"].as_f64().is_some(),
            "first_frame_ms missing: {peer:#}"
        );
        assert!(
            peer["video"]["latency_ms_p50"].as_f64().is_some(),
            "latency missing: {peer:#}"
        );
    }
}

/// Follow a child's stderr as it is written: each line arrives on the receiver (to wait for a
/// moment in the log); joining the handle gives the whole log once the child closed it.
pub fn follow_log(
    stderr: std::process::ChildStderr,
) -> (std::sync::mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (rx, reader)
}
