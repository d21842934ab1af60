//! The rig Natter's tests and benchmarks run on: real coturn servers on loopback or inside
//! network namespaces (`coturn`), `natter signal-server` processes (`signal`), a private X
//! display (`display`), scratch directories (`scratch`), free ports, child processes killed on
//! drop (`process`), and (`netns`) hosts behind real NATs and firewalls with a "public" segment
//! for the servers (`public`), and (`browser`) Debian's Chromium as a room participant. Nothing
//! here is a mock: the servers are the real programs, the networks are real kernel namespaces,
//! the browser is the real one. Each of these exists once, here: the tests and the bench use
//! these and start no such process of their own.
//!
//! Everything stays on 127.0.0.0/8 or inside namespaces the rig creates itself, and is torn down
//! on drop. Setup failures panic with what to install or fix: this crate serves tests and the
//! bench, never the app.

pub mod browser;
pub mod coturn;
pub mod display;
pub mod impair;
pub mod netns;
pub mod process;
pub mod public;
pub mod scratch;
pub mod signal;

pub use coturn::{Coturn, CoturnOptions, make_certificates, make_certificates_for};
pub use display::Xvfb;
pub use process::Reaped;
pub use scratch::TempDir;
pub use signal::SignalServerProcess;

use std::net::UdpSocket;
use std::path::PathBuf;

/// A number not given before in this process (for unique names).
pub fn unique() -> u64 {
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

/// `program` on PATH, else in /usr/sbin, /usr/bin or /sbin.
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
