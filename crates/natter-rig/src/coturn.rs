//! coturn (`turnserver`) started fresh per test or bench run, with long-term or TURN REST
//! credentials, optional TLS, inside a namespace or on loopback; and test certificates for it.

use crate::{Reaped, TempDir, free_port, netns, unique, which};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A coturn process on loopback with long-term credentials; killed on drop (its `Reaped`).
pub struct Coturn {
    /// Where it listens (127.0.0.1 unless started in a namespace).
    pub ip: std::net::IpAddr,
    pub port: u16,
    /// TLS listening port, when started with a certificate.
    pub tls_port: Option<u16>,
    pub user: String,
    pub password: String,
    child: Reaped,
    netns: Option<String>,
    /// How it was started (with its port and password fixed), to start it again.
    options: CoturnOptions,
    _dir: TempDir,
}

/// How to start a coturn.
#[derive(Default, Clone)]
pub struct CoturnOptions {
    /// (certificate chain PEM, private key PEM) to enable TLS on a second port.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// TURN REST API: accept credentials derived from this shared secret instead of user/password.
    pub shared_secret: Option<String>,
    /// `--user-quota`: allocations allowed at once per user.
    pub user_quota: Option<u32>,
    /// Run inside this network namespace (see `netns`), listening on `ip`.
    pub netns: Option<String>,
    /// Listening and relay address (default 127.0.0.1).
    pub ip: Option<std::net::IpAddr>,
    /// Listening ports (default: free ones on loopback; in a fresh namespace any port is free).
    pub port: Option<u16>,
    pub tls_port: Option<u16>,
    /// The long-term credential's password (default: a fresh one).
    pub password: Option<String>,
}

impl Coturn {
    /// Start `turnserver` (UDP and TCP listeners, no TLS) and wait until it answers a STUN binding.
    pub fn start() -> Coturn {
        Self::start_with(CoturnOptions::default())
    }

    pub fn start_with(options: CoturnOptions) -> Coturn {
        let dir = TempDir::new("coturn");
        let port = options.port.unwrap_or_else(free_port);
        let min_port = 40000 + (port % 200) * 100;
        let user = "natter".to_string();
        let password = options
            .password
            .clone()
            .unwrap_or_else(|| format!("pw-{}", unique() + u64::from(port)));
        let binary = which("turnserver").unwrap_or_else(|| {
            panic!("coturn's `turnserver` is not installed: run `sudo apt-get install -y coturn` (or bash scripts/setup.sh)")
        });
        let ip = options
            .ip
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let mut command = match &options.netns {
            Some(name) => netns::in_namespace(name, binary.to_str().expect("UTF-8 path")),
            None => Command::new(binary),
        };
        command
            .arg("-n")
            .arg(format!("--listening-ip={ip}"))
            .arg(format!("--relay-ip={ip}"))
            .arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={min_port}"))
            .arg(format!("--max-port={}", min_port + 99))
            .args(["--realm=natter.test", "--fingerprint", "--no-dtls"])
            .args([
                "--no-tcp-relay",
                "--allow-loopback-peers",
                "--no-cli",
                "--log-file=stdout",
                "--simple-log",
            ])
            .arg(format!("--pidfile={}", dir.path("turn.pid").display()))
            .arg(format!("--userdb={}", dir.path("turn.db").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &options.shared_secret {
            Some(secret) => command.args(["--use-auth-secret", &format!("--static-auth-secret={secret}")]),
            None => command.args(["--lt-cred-mech", &format!("--user={user}:{password}")]),
        };
        if let Some(quota) = options.user_quota {
            command.arg(format!("--user-quota={quota}"));
        }
        let tls_port = match &options.tls {
            Some((cert, key)) => {
                let tls_port = options.tls_port.unwrap_or_else(free_port);
                command.arg(format!("--tls-listening-port={tls_port}"));
                command
                    .arg(format!("--cert={}", cert.display()))
                    .arg(format!("--pkey={}", key.display()));
                Some(tls_port)
            }
            None => {
                command.arg("--no-tls");
                None
            }
        };
        let child = Reaped::new(command.spawn().expect("start turnserver"));
        let restart_options = CoturnOptions {
            port: Some(port),
            tls_port,
            password: Some(password.clone()),
            ..options.clone()
        };
        let coturn = Coturn {
            ip,
            port,
            tls_port,
            user,
            password,
            child,
            netns: options.netns,
            options: restart_options,
            _dir: dir,
        };
        coturn.wait_ready(Duration::from_secs(10));
        coturn
    }

    fn wait_ready(&self, limit: Duration) {
        let socket = match &self.netns {
            Some(name) => netns::udp_socket_in(name, self.ip).expect("socket in the coturn's namespace"),
            None => UdpSocket::bind((self.ip, 0)).unwrap(),
        };
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let deadline = Instant::now() + limit;
        // STUN Binding request: type 0x0001, length 0, magic cookie, 12-byte transaction id.
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        request.extend_from_slice(b"natter-ready");
        while Instant::now() < deadline {
            let _ = socket.send_to(&request, (self.ip, self.port));
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = socket.recv_from(&mut buf)
                && n >= 20
                && buf[0..2] == [0x01, 0x01]
            {
                return;
            }
        }
        panic!(
            "coturn on {}:{} did not answer a STUN binding within {limit:?}",
            self.ip, self.port
        );
    }

    pub fn turn_url(&self) -> String {
        format!("turn:{}:{}?transport=udp", self.ip, self.port)
    }

    /// A W3C RTCConfiguration JSON for this server as reached through `proxy` (e.g. an
    /// `impair::UdpProxy` in front of it): its credentials, the proxy's address, UDP.
    pub fn ice_config_json_via(&self, proxy: std::net::SocketAddr) -> String {
        format!(
            r#"{{"iceServers":[{{"urls":["turn:{proxy}?transport=udp"],"username":"{}","credential":"{}"}}]}}"#,
            self.user, self.password
        )
    }

    /// A W3C RTCConfiguration JSON for this server.
    pub fn ice_config_json(&self) -> String {
        format!(
            r#"{{"iceServers":[{{"urls":["{}"],"username":"{}","credential":"{}"}}]}}"#,
            self.turn_url(),
            self.user,
            self.password
        )
    }

    /// Start it again after `kill`: a new process on the same ports with the same credentials
    /// and none of the old one's allocations (as after a crash and a restart by its supervisor).
    pub fn restart(&mut self) {
        self.kill();
        let mut fresh = Coturn::start_with(self.options.clone());
        std::mem::swap(self, &mut fresh);
        // `fresh` now holds the killed process; dropping it kills nothing more.
    }

    /// Stop the server now (to simulate it dying).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (openssl, made fresh per test).
pub fn make_certificates(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    make_certificates_for(dir, "127.0.0.1")
}

/// A CA and a server certificate for `ip` signed by it: (CA, certificate, key).
pub fn make_certificates_for(dir: &TempDir, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca, key, csr, cert, ext) = (
        dir.path("ca.key"),
        dir.path("ca.pem"),
        dir.path("server.key"),
        dir.path("server.csr"),
        dir.path("server.pem"),
        dir.path("san.ext"),
    );
    std::fs::write(&ext, format!("subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Natter Test CA",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={ip}"),
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}
