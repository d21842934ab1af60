//! Debian's Chromium as a participant of a Natter room: `tests/browser/participant.mjs` (Node +
//! `playwright-core`, no browser download) runs `/usr/bin/chromium` on a static page that speaks
//! docs/signaling.md, and writes a JSON report. Used by `tests/it/interop_browser.rs` and the
//! bench's `interop_browser` scenario. Everything stays on loopback.

use crate::{Reaped, which};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What it takes to run a browser participant here.
#[derive(Debug, Clone)]
pub struct Browser {
    pub node: PathBuf,
    pub chromium: PathBuf,
    /// `tests/browser/participant.mjs`.
    pub driver: PathBuf,
}

/// `NATTER_REQUIRE_BROWSER` is set (CI): a missing browser is a failure, not a skip.
pub fn required() -> bool {
    std::env::var("NATTER_REQUIRE_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0")
}

impl Browser {
    /// Chromium (`/usr/bin/chromium`, or `$NATTER_CHROMIUM`), Node and the driver with its
    /// `node_modules`; `Err` says what is missing and how to install it.
    pub fn find() -> Result<Browser, String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
        let dir = dir.canonicalize().unwrap_or(dir);
        let chromium = std::env::var_os("NATTER_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        let mut missing = Vec::new();
        if !chromium.is_file() {
            missing.push(format!(
                "no Chromium at {} (apt-get install chromium)",
                chromium.display()
            ));
        }
        let node = which("node");
        if node.is_none() {
            missing.push("no `node` on PATH (apt-get install nodejs npm)".to_string());
        }
        if !dir.join("node_modules/playwright-core/package.json").is_file() {
            missing.push(format!(
                "no {}/node_modules (npm ci --prefix tests/browser)",
                dir.display()
            ));
        }
        match node {
            Some(node) if missing.is_empty() => Ok(Browser {
                node,
                chromium,
                driver: dir.join("participant.mjs"),
            }),
            _ => Err(missing.join("; ")),
        }
    }

    /// Start one browser participant; it runs in the background until [`BrowserParticipant::finish`].
    pub fn spawn(&self, options: &BrowserOptions, report: &Path) -> BrowserParticipant {
        let mut command = Command::new(&self.node);
        command
            .arg(&self.driver)
            .args([
                "--signal",
                &options.signal,
                "--room",
                &options.room,
                "--name",
                &options.name,
            ])
            .args([
                "--expect",
                &options.expect.to_string(),
                "--duration",
                &options.duration_s.to_string(),
            ])
            .arg("--chromium")
            .arg(&self.chromium)
            .arg("--report")
            .arg(report);
        // The profile beside the report: if this process is killed, whoever removes the
        // report's directory removes the profile too.
        if let Some(dir) = report.parent().filter(|d| !d.as_os_str().is_empty()) {
            command.arg("--scratch").arg(dir);
        }
        if let Some(config) = &options.ice_config {
            command.arg("--ice-config").arg(config);
        }
        if options.relay_only {
            command.arg("--relay-only");
        }
        if let Some(codec) = &options.video_codec {
            command.args(["--video-codec", codec]);
        }
        if options.until_connected {
            command.arg("--until-connected");
        }
        if options.mdns_hide_ips {
            command.arg("--mdns-hide-ips");
        }
        let mut child = Reaped::new(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start node tests/browser/participant.mjs"),
        );
        let lines = follow(child.stderr.take().expect("piped stderr"));
        BrowserParticipant {
            child: Some(child),
            report: report.to_path_buf(),
            lines,
            seen: String::new(),
            name: options.name.clone(),
        }
    }
}

/// The driver's options (see `tests/browser/participant.mjs`).
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    pub signal: String,
    pub room: String,
    pub name: String,
    /// Participants expected in the room, this one included.
    pub expect: usize,
    /// How long the call lasts once everyone expected is in the room.
    pub duration_s: u64,
    /// W3C RTCConfiguration JSON file.
    pub ice_config: Option<PathBuf>,
    pub relay_only: bool,
    /// "vp8" | "h264": offer/accept only that video codec.
    pub video_codec: Option<String>,
    pub until_connected: bool,
    pub mdns_hide_ips: bool,
}

impl BrowserOptions {
    pub fn new(signal: &str, room: &str, name: &str, expect: usize, duration_s: u64) -> BrowserOptions {
        BrowserOptions {
            signal: signal.into(),
            room: room.into(),
            name: name.into(),
            expect,
            duration_s,
            ..Default::default()
        }
    }
}

/// A running browser participant; killed (with its Chromium) on drop.
pub struct BrowserParticipant {
    /// Killing node closes Chromium's debugging pipe, and Chromium exits with it.
    child: Option<Reaped>,
    report: PathBuf,
    lines: Receiver<String>,
    /// The log lines read so far.
    seen: String,
    name: String,
}

/// A finished browser participant.
pub struct BrowserRun {
    pub status: ExitStatus,
    pub log: String,
    /// The driver's JSON report (`{"ok": false, "reason": …}` when it wrote none).
    pub report: serde_json::Value,
}

impl BrowserParticipant {
    /// Wait until the page is in the room (the driver says `joined … id=ID`); its id, and when
    /// that line arrived (wall clock). `Err` (with the log) if it exits or `limit` passes first.
    pub fn wait_joined(&mut self, limit: Duration) -> Result<(String, SystemTime), String> {
        let deadline = Instant::now() + limit;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    let at = SystemTime::now();
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if let Some(id) = line.split(" id=").nth(1).filter(|_| line.contains(": joined room=")) {
                        return Ok((id.split_whitespace().next().unwrap_or_default().to_string(), at));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "browser {} did not join within {limit:?}; log:\n{}",
                        self.name, self.seen
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "browser {} exited before joining; log:\n{}",
                        self.name, self.seen
                    ));
                }
            }
        }
    }

    /// Wait (at most `limit`, then kill it) for the driver to end; its report and log.
    pub fn finish(mut self, limit: Duration) -> BrowserRun {
        let mut child = self.child.take().expect("not finished yet");
        let deadline = Instant::now() + limit;
        let status = loop {
            if !self.read_lines(Duration::from_millis(20)) {
                std::thread::sleep(Duration::from_millis(20)); // stderr closed: only the exit to wait for
            }
            if let Some(status) = child.try_wait().expect("wait for the browser driver") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                break child.wait().expect("reap the browser driver");
            }
        };
        // The rest of the log (the pipe closes with the process; bounded all the same).
        let drain_until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < drain_until && self.read_lines(Duration::from_millis(50)) {}
        let report = std::fs::read_to_string(&self.report)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| serde_json::json!({ "ok": false, "reason": format!("the driver wrote no report (exit {status:?})"), "peers": [] }));
        BrowserRun {
            status,
            log: std::mem::take(&mut self.seen),
            report,
        }
    }

    /// Read what the driver logged within `wait`; `false` once its stderr is closed.
    fn read_lines(&mut self, wait: Duration) -> bool {
        loop {
            match self.lines.recv_timeout(wait) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(RecvTimeoutError::Timeout) => return true,
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }
}

impl BrowserRun {
    /// The report's entry for the remote with this signaling id.
    pub fn peer(&self, id: &str) -> Option<&serde_json::Value> {
        self.report["peers"].as_array()?.iter().find(|p| p["id"] == id)
    }

    /// When the page joined (ms since the Unix epoch, on this machine's clock).
    pub fn joined_unix_ms(&self) -> Option<f64> {
        self.report["joined_unix_ms"].as_f64()
    }
}

/// Each stderr line of a child, as it is written.
pub fn follow(stderr: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}
