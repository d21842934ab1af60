//! The rig Natter's tests and benchmarks run on: real coturn servers on loopback or inside
//! network namespaces, scratch directories, free ports, and (`netns`) hosts behind real NATs and
//! firewalls with a "public" segment for the servers (`public`), and (`browser`) Debian's
//! Chromium as a room participant. Nothing here is a mock: the servers are the real programs,
//! the networks are real kernel namespaces, the browser is the real one.
//!
//! Everything stays on 127.0.0.0/8 or inside namespaces the rig creates itself, and is torn down
//! on drop. Setup failures panic with what to install or fix: this crate serves tests and the
//! bench, never the app.

pub mod browser;
pub mod coturn;
pub mod impair;
pub mod netns;
pub mod public;

pub use coturn::{Coturn, CoturnOptions, make_certificates, make_certificates_for};

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Child;

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("natter-test-{tag}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A UDP+TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/sbin"),
        ])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A child process killed on drop.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `natter signal-server` (the binary at `natter`) on a free loopback port, once it listens;
/// its URL (`ws://127.0.0.1:PORT`).
pub fn signal_server(natter: &std::path::Path) -> (Reaped, String) {
    use std::time::{Duration, Instant};
    let listen = format!("127.0.0.1:{}", free_port());
    let server = Reaped(
        std::process::Command::new(natter)
            .args(["signal-server", "--listen", &listen])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start natter signal-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            Instant::now() < deadline,
            "natter signal-server did not listen on {listen} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, format!("ws://{listen}"))
}

/// Every directed stream of a `natter headless` report: (receiver id, the peer entry); none
/// when the report has no participants.
pub fn streams(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    report["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            let id = p["id"].as_str().unwrap_or_default().to_string();
            p["peers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |peer| (id.clone(), peer))
        })
        .collect()
}
