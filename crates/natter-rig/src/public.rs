//! The servers of a [`NetRig`]'s "public" segment — coturn (UDP/TCP, TLS when asked) and
//! `natter signal-server` — and calls between the rig's hosts, one `natter headless` per host.

use crate::netns::{NetRig, PUBLIC_SERVER_IP};
use crate::{Coturn, CoturnOptions, Reaped, SignalServerProcess, TempDir, make_certificates_for};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub const SIGNAL_PORT: u16 = 8443;
pub const TURN_PORT: u16 = 3478;
pub const TURNS_PORT: u16 = 5349;

/// Servers on the public segment, stopped on drop.
pub struct PublicServers {
    pub turn: Coturn,
    _signal: SignalServerProcess,
    /// The CA that signed coturn's certificate (when started with TLS).
    pub ca: Option<PathBuf>,
    pub dir: TempDir,
    natter: PathBuf,
}

impl PublicServers {
    /// Start coturn (with TLS on [`TURNS_PORT`] when `tls`) and `natter signal-server` (the binary
    /// at `natter`) on the public segment, and wait until both answer.
    pub fn start(rig: &NetRig, natter: &Path, tls: bool) -> PublicServers {
        let dir = TempDir::new("rig");
        let ip = PUBLIC_SERVER_IP.to_string();
        let (ca, tls_files) = if tls {
            let (ca, cert, key) = make_certificates_for(&dir, &ip);
            (Some(ca), Some((cert, key)))
        } else {
            (None, None)
        };
        let turn = Coturn::start_with(CoturnOptions {
            tls: tls_files,
            netns: Some(rig.public_namespace().to_string()),
            ip: Some(PUBLIC_SERVER_IP.into()),
            port: Some(TURN_PORT),
            tls_port: Some(TURNS_PORT),
            ..Default::default()
        });
        let listen = SocketAddr::new(PUBLIC_SERVER_IP.into(), SIGNAL_PORT);
        let signal = SignalServerProcess::start_in(rig.public_namespace(), natter, listen);
        PublicServers {
            turn,
            _signal: signal,
            ca,
            dir,
            natter: natter.to_path_buf(),
        }
    }

    pub fn stun(&self) -> String {
        format!("stun:{PUBLIC_SERVER_IP}:{TURN_PORT}")
    }

    /// A W3C `iceServers` JSON file with a STUN entry and the TURN URLs given.
    pub fn ice_config(&self, turn_urls: &[String]) -> PathBuf {
        let mut servers = vec![format!(r#"{{"urls":["{}"]}}"#, self.stun())];
        if !turn_urls.is_empty() {
            let urls = turn_urls
                .iter()
                .map(|u| format!("\"{u}\""))
                .collect::<Vec<_>>()
                .join(",");
            servers.push(format!(
                r#"{{"urls":[{urls}],"username":"{}","credential":"{}"}}"#,
                self.turn.user, self.turn.password
            ));
        }
        let path = self.dir.path(&format!("ice-{}.json", turn_urls.len()));
        std::fs::write(&path, format!(r#"{{"iceServers":[{}]}}"#, servers.join(","))).unwrap();
        path
    }

    pub fn turn_udp(&self) -> String {
        format!("turn:{PUBLIC_SERVER_IP}:{TURN_PORT}?transport=udp")
    }
    pub fn turn_tcp(&self) -> String {
        format!("turn:{PUBLIC_SERVER_IP}:{TURN_PORT}?transport=tcp")
    }
    pub fn turns(&self) -> String {
        format!("turns:{PUBLIC_SERVER_IP}:{TURNS_PORT}?transport=tcp")
    }

    /// One `natter headless` per host in `hosts`, all in one room on the public signaling server,
    /// for `duration_s` once everyone is in; their exit, log and report.
    pub fn call(&self, rig: &NetRig, hosts: &[usize], ice_config: &Path, duration_s: u32) -> Vec<HostRun> {
        let room = format!("rig-{}-{}", std::process::id(), crate::unique());
        let url = format!("ws://{PUBLIC_SERVER_IP}:{SIGNAL_PORT}");
        let expect = hosts.len().to_string();
        let duration = duration_s.to_string();
        let mut running: Vec<(usize, Child, PathBuf, PathBuf)> = Vec::new();
        for &host in hosts {
            let report = self.dir.path(&format!("{room}-host{host}.json"));
            let log = self.dir.path(&format!("{room}-host{host}.log"));
            let mut command = rig.on_host(host, self.natter.to_str().expect("UTF-8 path"));
            command
                .args([
                    "headless",
                    "--participants",
                    "1",
                    "--expect",
                    &expect,
                    "--duration",
                    &duration,
                ])
                .args(["--signal", &url, "--room", &room, "--ice-config"])
                .arg(ice_config)
                .arg("--report")
                .arg(&report)
                .env(
                    "RUST_LOG",
                    std::env::var("NATTER_TEST_LOG").unwrap_or_else(|_| "warn,natter=info,natter_call=info".into()),
                )
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap());
            if let Some(ca) = &self.ca {
                command.env("NATTER_EXTRA_CA_FILE", ca);
            }
            running.push((host, command.spawn().expect("start natter headless"), report, log));
        }
        // Joining, connecting and the call itself take well under this.
        let deadline = Instant::now() + Duration::from_secs(u64::from(duration_s) + 40);
        running
            .into_iter()
            .map(|(host, child, report, log)| {
                let mut child = Reaped::new(child);
                let status = loop {
                    if let Some(status) = child.try_wait().unwrap() {
                        break status;
                    }
                    if Instant::now() > deadline {
                        panic!(
                            "host {host}: natter headless still running after its deadline; log:\n{}",
                            read(&log)
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                };
                let log = read(&log);
                let text = std::fs::read_to_string(&report)
                    .unwrap_or_else(|e| panic!("host {host}: no report ({e}); log:\n{log}"));
                let report = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("host {host}: report is not JSON ({e}):\n{text}"));
                HostRun {
                    host,
                    ok_exit: status.success(),
                    log,
                    report,
                }
            })
            .collect()
    }
}

/// One participant's run: exit status, its log and its report.
pub struct HostRun {
    pub host: usize,
    pub ok_exit: bool,
    pub log: String,
    pub report: serde_json::Value,
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
