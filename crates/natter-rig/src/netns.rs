//! A network test rig made of Linux network namespaces: participants as real hosts behind real
//! NATs and firewalls, and a "public" segment where the servers (coturn, signaling) live.
//!
//! ```text
//!                       public namespace: bridge 198.51.100.1/24 (servers listen here)
//!                         │                  │
//!            198.51.100.11│                  │198.51.100.12   … one router per host
//!                  router 1 (NAT)      router 2 (NAT)
//!                   10.0.1.1│                  │10.0.2.1
//!                   host 1 10.0.1.2    host 2 10.0.2.2
//! ```
//!
//! Routers are iptables NATs of a chosen kind ([`Nat`]). Hosts cannot reach each other's private
//! addresses, so a call between them needs server-reflexive or relayed candidates, exactly as on
//! the Internet. Addresses are private or documentation ranges that exist only inside these
//! namespaces; nothing here touches the machine's own network. Everything is torn down on drop.
//!
//! Needs root (or CAP_NET_ADMIN) and iptables; [`NetRig::new`] returns `Err(reason)` when the
//! machine cannot create namespaces, and tests skip with that reason.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::process::Command;

/// What sits between a host and the public segment.
#[derive(Debug, Clone)]
pub enum Nat {
    /// Endpoint-independent mapping and filtering: once a host sent from a port, anyone may
    /// send to its public port (MASQUERADE keeps the port; inbound UDP is forwarded to the host).
    FullCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering (Linux MASQUERADE):
    /// only peers the host has sent to can answer. Hole punching works.
    PortRestricted,
    /// A new public port for every destination (`MASQUERADE --random-fully`): the reflexive
    /// address a STUN server sees is useless to anyone else. Only a relay works between two.
    Symmetric,
    /// Port-restricted NAT that also drops every UDP packet from the host (corporate firewall).
    UdpBlocked,
    /// Port-restricted NAT that lets only TCP to these ports out (e.g. the TURNS port and the
    /// signaling server): no UDP, no other TCP.
    TcpOnlyTo(Vec<u16>),
}

/// A set of namespaces; removed (with every process in them) on drop.
pub struct NetRig {
    prefix: String,
    public: String,
    hosts: Vec<String>,
    routers: Vec<String>,
}

/// The address servers listen on, on the public segment.
pub const PUBLIC_SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

impl NetRig {
    /// Build the public segment and one NATed host per entry of `nats`. `Err` only when this
    /// machine cannot create network namespaces; any later failure is a bug and panics.
    pub fn new(nats: &[Nat]) -> Result<NetRig, String> {
        for tool in ["ip", "iptables"] {
            assert!(
                super::which(tool).is_some(),
                "`{tool}` is not installed (bash scripts/setup.sh installs it)"
            );
        }
        let prefix = format!(
            "nt{:x}",
            (std::process::id() % 0x10000) * 16 + (super::unique() % 16) as u32
        );
        let mut rig = NetRig {
            public: format!("{prefix}pub"),
            prefix,
            hosts: Vec::new(),
            routers: Vec::new(),
        };
        // The first step tells whether this machine lets us create namespaces at all.
        if let Err(e) = run(&["ip", "netns", "add", &rig.public]) {
            return Err(format!(
                "cannot create a network namespace here ({e}); the rig needs root or CAP_NET_ADMIN"
            ));
        }
        rig.build_public()
            .unwrap_or_else(|e| panic!("building the public segment: {e}"));
        for (index, nat) in nats.iter().enumerate() {
            rig.add_host(index + 1, nat)
                .unwrap_or_else(|e| panic!("building host {} ({nat:?}): {e}", index + 1));
        }
        Ok(rig)
    }

    fn build_public(&mut self) -> Result<(), String> {
        let public = self.public.clone();
        ns(&public, &["ip", "link", "set", "lo", "up"])?;
        ns(&public, &["ip", "link", "add", "name", "seg", "type", "bridge"])?;
        ns(&public, &["ip", "link", "set", "seg", "up"])?;
        ns(
            &public,
            &["ip", "addr", "add", &format!("{PUBLIC_SERVER_IP}/24"), "dev", "seg"],
        )?;
        // Servers on the Internet have a default route: a packet to an address nobody answers
        // (a peer's private host candidate, say) leaves and is lost. Without one, the kernel
        // refuses the send (ENETUNREACH), and coturn closes a TCP client's whole session over it.
        // The gateway does not exist, so such packets die on the segment, as they would upstream.
        ns(
            &public,
            &["ip", "route", "add", "default", "via", "198.51.100.254", "dev", "seg"],
        )?;
        Ok(())
    }

    fn add_host(&mut self, index: usize, nat: &Nat) -> Result<(), String> {
        let (router, host) = (format!("{}r{index}", self.prefix), format!("{}h{index}", self.prefix));
        run(&["ip", "netns", "add", &router])?;
        self.routers.push(router.clone());
        run(&["ip", "netns", "add", &host])?;
        self.hosts.push(host.clone());
        for name in [&router, &host] {
            ns(name, &["ip", "link", "set", "lo", "up"])?;
        }
        // router "wan" ↔ public bridge port "r{index}"
        let (wan_tmp, port_tmp) = (format!("{}w{index}", self.prefix), format!("{}p{index}", self.prefix));
        run(&["ip", "link", "add", &wan_tmp, "type", "veth", "peer", "name", &port_tmp])?;
        move_link(&wan_tmp, &router, "wan")?;
        move_link(&port_tmp, &self.public, &format!("r{index}"))?;
        ns(
            &self.public,
            &["ip", "link", "set", &format!("r{index}"), "master", "seg", "up"],
        )?;
        let wan_ip = self.router_public_ip(index);
        ns(&router, &["ip", "addr", "add", &format!("{wan_ip}/24"), "dev", "wan"])?;
        ns(&router, &["ip", "link", "set", "wan", "up"])?;
        // router "lan" ↔ host "eth0"
        let (lan_tmp, eth_tmp) = (format!("{}l{index}", self.prefix), format!("{}e{index}", self.prefix));
        run(&["ip", "link", "add", &lan_tmp, "type", "veth", "peer", "name", &eth_tmp])?;
        move_link(&lan_tmp, &router, "lan")?;
        move_link(&eth_tmp, &host, "eth0")?;
        ns(
            &router,
            &["ip", "addr", "add", &format!("10.0.{index}.1/24"), "dev", "lan"],
        )?;
        ns(&router, &["ip", "link", "set", "lan", "up"])?;
        ns(
            &host,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", self.host_ip(index)),
                "dev",
                "eth0",
            ],
        )?;
        ns(&host, &["ip", "link", "set", "eth0", "up"])?;
        ns(
            &host,
            &["ip", "route", "add", "default", "via", &format!("10.0.{index}.1")],
        )?;
        ns(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;

        let ipt = |args: &[&str]| -> Result<(), String> {
            let mut full = vec!["iptables"];
            full.extend_from_slice(args);
            ns(&router, &full)
        };
        // Unsolicited UDP to the router itself is dropped before conntrack confirms it. Without
        // this, a peer's early check creates a conntrack entry that clashes with the mapping our
        // host's own packet needs a moment later, and Linux silently picks another port: the NAT
        // would turn symmetric by accident (the well-known Linux hole-punching pitfall).
        ipt(&[
            "-A",
            "INPUT",
            "-i",
            "wan",
            "-p",
            "udp",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        ])?;
        match nat {
            Nat::Symmetric => ipt(&[
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "wan",
                "-j",
                "MASQUERADE",
                "--random-fully",
            ])?,
            _ => ipt(&["-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"])?,
        }
        match nat {
            Nat::FullCone => {
                let host_ip = self.host_ip(index).to_string();
                ipt(&[
                    "-t",
                    "nat",
                    "-A",
                    "PREROUTING",
                    "-i",
                    "wan",
                    "-p",
                    "udp",
                    "-j",
                    "DNAT",
                    "--to-destination",
                    &host_ip,
                ])?;
            }
            Nat::UdpBlocked => ipt(&["-A", "FORWARD", "-i", "lan", "-p", "udp", "-j", "DROP"])?,
            Nat::TcpOnlyTo(ports) => {
                let list = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
                ipt(&[
                    "-A",
                    "FORWARD",
                    "-i",
                    "lan",
                    "-p",
                    "tcp",
                    "-m",
                    "multiport",
                    "--dports",
                    &list,
                    "-j",
                    "ACCEPT",
                ])?;
                ipt(&["-A", "FORWARD", "-i", "lan", "-j", "DROP"])?;
            }
            Nat::PortRestricted | Nat::Symmetric => {}
        }
        Ok(())
    }

    /// The private address of host `index` (1-based).
    pub fn host_ip(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, index as u8, 2)
    }

    /// The public address of host `index`'s router: what a STUN server sees.
    pub fn router_public_ip(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 51, 100, 10 + index as u8)
    }

    /// The public namespace's name (for `CoturnOptions::netns`).
    pub fn public_namespace(&self) -> &str {
        &self.public
    }

    /// `program` run inside host `index` (1-based).
    pub fn on_host(&self, index: usize, program: &str) -> Command {
        in_namespace(&self.hosts[index - 1], program)
    }

    /// `program` run on the public segment.
    pub fn on_public(&self, program: &str) -> Command {
        in_namespace(&self.public, program)
    }
}

impl Drop for NetRig {
    fn drop(&mut self) {
        for name in self.hosts.iter().chain(&self.routers).chain([&self.public]) {
            // Processes still in the namespace would keep it alive (and hold its ports).
            if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// `ip netns exec NAME program`.
pub fn in_namespace(name: &str, program: &str) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", name, program]);
    command
}

/// Run `f` on a thread that has entered namespace `name`: sockets it creates live in that
/// namespace whichever thread uses them afterwards. (The one `unsafe` in the tests: `setns(2)`
/// has no safe wrapper in std.)
#[allow(unsafe_code)]
pub fn within<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    let path = format!("/var/run/netns/{name}");
    std::thread::spawn(move || -> std::io::Result<T> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        // SAFETY: setns on a valid namespace fd changes only this short-lived thread's network
        // namespace; the thread ends when `f` returns.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .expect("namespace thread panicked")
}

/// A UDP socket bound to `ip:0` inside namespace `name`.
pub fn udp_socket_in(name: &str, ip: IpAddr) -> std::io::Result<UdpSocket> {
    within(name, move || UdpSocket::bind((ip, 0)))?
}

fn move_link(link: &str, namespace: &str, new_name: &str) -> Result<(), String> {
    run(&["ip", "link", "set", link, "netns", namespace])?;
    ns(namespace, &["ip", "link", "set", link, "name", new_name])
}

fn ns(name: &str, args: &[&str]) -> Result<(), String> {
    let mut full = vec!["ip", "netns", "exec", name];
    full.extend_from_slice(args);
    run(&full)
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
