//! `natter signal-server` as a process of its own, as a deployment runs it: on a free loopback
//! port ([`SignalServerProcess::start`]) or on a fixed address inside a network namespace
//! ([`SignalServerProcess::start_in`], the rig's "public" segment). Returned once it accepts
//! connections; killed on drop. (The call engine's own tests run the server in-process instead,
//! through `natter_signal::server`.)

use crate::netns::{in_namespace, within};
use crate::{Reaped, free_port};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to listen.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// A running `natter signal-server`; killed on drop.
pub struct SignalServerProcess {
    addr: SocketAddr,
    url: String,
    _process: Reaped,
}

impl SignalServerProcess {
    /// `natter signal-server` (the binary at `natter`) on a free port of 127.0.0.1.
    pub fn start(natter: &Path) -> SignalServerProcess {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        Self::spawn(Command::new(natter), addr, move || listening(addr))
    }

    /// `natter signal-server` listening on `addr` inside network namespace `namespace` (see
    /// `netns`), where this process's own sockets cannot see it.
    pub fn start_in(namespace: &str, natter: &Path, addr: SocketAddr) -> SignalServerProcess {
        let command = in_namespace(namespace, natter.to_str().expect("UTF-8 path"));
        Self::spawn(command, addr, || {
            within(namespace, move || listening(addr)).expect("enter the server's namespace")
        })
    }

    fn spawn(mut command: Command, addr: SocketAddr, ready: impl Fn() -> bool) -> SignalServerProcess {
        let listen = addr.to_string();
        let process = Reaped::new(
            command
                .args(["signal-server", "--listen", &listen])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start natter signal-server"),
        );
        let deadline = Instant::now() + READY_LIMIT;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "natter signal-server did not listen on {listen} within {READY_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SignalServerProcess {
            addr,
            url: format!("ws://{addr}"),
            _process: process,
        }
    }

    /// Its URL, `ws://IP:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}
