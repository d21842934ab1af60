//! A private X server (Xvfb) for the tests that open the app's window: 1280×800×24 (or another
//! size: `start_sized`), no TCP, on a
//! display number the server picks itself (`-displayfd`: it prints the number once it accepts
//! connections, so there is neither a race for a number with other servers nor a readiness
//! poll), no reset when its last client leaves. Its log is `xvfb.log` in the caller's scratch
//! directory, kept when the server does not start. Ended on drop (politely: it removes its
//! socket and lock file).

use crate::{Reaped, TempDir, which};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const INSTALL_HINT: &str = "apt-get install xvfb xauth (`bash scripts/setup.sh` installs it)";
/// How long the server may take to give its display number.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A running Xvfb; stopped on drop.
pub struct Xvfb {
    display: u32,
    _process: Reaped,
}

impl Xvfb {
    /// Start one, logging to `xvfb.log` in `work`; panics (keeping `work`) if it does not start.
    pub fn start(work: &TempDir) -> Xvfb {
        Xvfb::start_sized(work, 1280, 800)
    }

    /// `start` with a screen of `width`×`height` (e.g. 1920×1080 for a full-HD window).
    pub fn start_sized(work: &TempDir, width: u32, height: u32) -> Xvfb {
        let binary = which("Xvfb").unwrap_or_else(|| panic!("`Xvfb` is not installed: {INSTALL_HINT}"));
        let log = work.path("xvfb.log");
        let screen = format!("{width}x{height}x24");
        let mut command = Command::new(binary);
        command
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                screen.as_str(),
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("create xvfb.log"));
        let mut process = Reaped::spawn_group("Xvfb", &mut command, INSTALL_HINT);
        let stdout = process.stdout.take().expect("Xvfb stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let tail = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        match rx.recv_timeout(START_LIMIT) {
            Ok(line) => match line.trim().parse::<u32>() {
                Ok(display) => Xvfb {
                    display,
                    _process: process,
                },
                Err(_) => {
                    work.keep();
                    panic!(
                        "Xvfb did not start (printed {line:?}); see {}: {}",
                        log.display(),
                        tail()
                    )
                }
            },
            Err(_) => {
                work.keep();
                panic!(
                    "Xvfb gave no display number within {START_LIMIT:?}; see {}: {}",
                    log.display(),
                    tail()
                )
            }
        }
    }

    /// The display for `DISPLAY`: `:N`.
    pub fn name(&self) -> String {
        format!(":{}", self.display)
    }

    /// Its number N.
    pub fn number(&self) -> u32 {
        self.display
    }
}
