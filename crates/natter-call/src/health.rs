//! ICE-server health: runs `natter_ice::probe::Probe` state machines over real sockets.
//! One tokio task per server × transport, all in parallel, so a dead server never delays the
//! verdict on a good one. UDP sockets are `connect`ed so an ICMP port-unreachable surfaces as
//! "connection refused"; TCP and TLS carry STUN messages back to back (RFC 8489 §6.2.2).

use natter_ice::IceConfig;
use natter_ice::probe::{Probe, ProbeResult, ProbeSpec, ProbeStatus, ProbeTiming, ProbeTransport, TransportFailure};
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The health of one server over one transport. Serialized for reports, `natter probe --json`
/// and the UI; never contains credentials.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct ServerHealth {
    pub url: String,
    pub transport: ProbeTransport,
    #[serde(flatten)]
    #[ts(flatten)]
    pub result: ProbeResult,
}

/// How to probe.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    pub timing: ProbeTiming,
    /// Extra CA certificates (PEM) trusted for `turns:`/`stuns:` besides the public roots, e.g.
    /// a company CA or a test CA. Verification is never switched off.
    pub extra_ca_file: Option<PathBuf>,
}

impl ProbeOptions {
    /// Defaults, plus the extra CA file named by `NATTER_EXTRA_CA_FILE` (PEM) if set: how the
    /// app and headless mode learn about a private CA for `turns:` servers.
    pub fn from_env() -> ProbeOptions {
        ProbeOptions {
            extra_ca_file: std::env::var_os("NATTER_EXTRA_CA_FILE").map(Into::into),
            ..Default::default()
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Probe every server × transport of `config` in parallel.
pub async fn probe_all(config: &IceConfig, options: &ProbeOptions) -> Vec<ServerHealth> {
    let tls = match tls_connector(options) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("TLS probes disabled: {e}");
            None
        }
    };
    let tasks: Vec<_> = config
        .probe_specs(now_unix())
        .into_iter()
        .map(|spec| {
            let (timing, tls) = (options.timing, tls.clone());
            tokio::spawn(async move {
                let url = spec.url.original.clone();
                let transport = spec.transport;
                let result = probe_one(spec, timing, tls).await;
                ServerHealth { url, transport, result }
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        if let Ok(health) = task.await {
            out.push(health);
        }
    }
    out
}

/// Run one probe to its result.
pub async fn probe_one(spec: ProbeSpec, timing: ProbeTiming, tls: Option<tokio_rustls::TlsConnector>) -> ProbeResult {
    let started = Instant::now();
    let mut probe = Probe::new(spec.clone(), timing, started);
    let deadline = started + timing.give_up_after;
    let addr = match tokio::time::timeout_at(
        deadline.into(),
        tokio::net::lookup_host((spec.url.host.as_str(), spec.url.port)),
    )
    .await
    {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => a,
            None => {
                probe.handle_transport_failure(
                    TransportFailure::Unreachable(format!("{} has no address", spec.url.host)),
                    Instant::now(),
                );
                return probe.result().cloned().expect("finished");
            }
        },
        Ok(Err(e)) => {
            probe.handle_transport_failure(
                TransportFailure::Unreachable(format!("name lookup failed: {e}")),
                Instant::now(),
            );
            return probe.result().cloned().expect("finished");
        }
        Err(_) => {
            probe.handle_timeout(deadline);
            return probe.result().cloned().expect("finished");
        }
    };
    match spec.transport {
        ProbeTransport::Udp => run_udp(&mut probe, addr).await,
        ProbeTransport::Tcp => {
            if let Some(stream) = connect_tcp(&mut probe, addr, deadline).await {
                run_stream(&mut probe, stream).await;
            }
        }
        ProbeTransport::Tls => {
            if let Some(stream) = connect_tcp(&mut probe, addr, deadline).await {
                run_tls(&mut probe, stream, &spec.url.host, tls, deadline).await;
            }
        }
    }
    probe.result().cloned().unwrap_or_else(|| {
        probe.handle_timeout(deadline);
        probe.result().cloned().expect("finished at the deadline")
    })
}

async fn run_tls(
    probe: &mut Probe,
    stream: TcpStream,
    host: &str,
    tls: Option<tokio_rustls::TlsConnector>,
    deadline: Instant,
) {
    let Some(connector) = tls else {
        return probe.handle_transport_failure(TransportFailure::Tls("no TLS configuration".into()), Instant::now());
    };
    let name = match rustls_pki_types::ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            return probe
                .handle_transport_failure(TransportFailure::Tls(format!("bad server name: {e}")), Instant::now());
        }
    };
    match tokio::time::timeout_at(deadline.into(), connector.connect(name, stream)).await {
        Ok(Ok(tls_stream)) => run_stream(probe, tls_stream).await,
        Ok(Err(e)) => probe.handle_transport_failure(TransportFailure::Tls(e.to_string()), Instant::now()),
        Err(_) => probe.handle_timeout(deadline),
    }
}

async fn run_udp(probe: &mut Probe, addr: SocketAddr) {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            return probe.handle_transport_failure(
                TransportFailure::Unreachable(format!("cannot open a UDP socket: {e}")),
                Instant::now(),
            );
        }
    };
    if let Err(e) = socket.connect(addr).await {
        return probe.handle_transport_failure(TransportFailure::Unreachable(e.to_string()), Instant::now());
    }
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(datagram) = probe.poll_transmit() {
            if let Err(e) = socket.send(&datagram).await {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    probe.handle_transport_failure(TransportFailure::Refused, Instant::now());
                } else {
                    probe.handle_transport_failure(TransportFailure::Unreachable(e.to_string()), Instant::now());
                }
            }
        }
        let Some(wake) = probe.poll_timeout() else { return };
        tokio::select! {
            received = socket.recv(&mut buf) => match received {
                Ok(n) => probe.handle_input(&buf[..n], Instant::now()),
                // ICMP port unreachable on a connected UDP socket.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => probe.handle_transport_failure(TransportFailure::Refused, Instant::now()),
                Err(e) => probe.handle_transport_failure(TransportFailure::Unreachable(e.to_string()), Instant::now()),
            },
            _ = tokio::time::sleep_until(wake.into()) => probe.handle_timeout(Instant::now()),
        }
        if probe.is_done() {
            // Send what the probe still has (the Refresh that releases an allocation).
            while let Some(datagram) = probe.poll_transmit() {
                let _ = socket.send(&datagram).await;
            }
            return;
        }
    }
}

async fn connect_tcp(probe: &mut Probe, addr: SocketAddr, deadline: Instant) -> Option<TcpStream> {
    match tokio::time::timeout_at(deadline.into(), TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            probe.handle_transport_failure(TransportFailure::Refused, Instant::now());
            None
        }
        Ok(Err(e)) => {
            probe.handle_transport_failure(TransportFailure::Unreachable(e.to_string()), Instant::now());
            None
        }
        Err(_) => {
            probe.handle_timeout(deadline);
            None
        }
    }
}

/// One STUN message from a TURN stream (see `natter_ice::framing`; a probe creates no channels,
/// so ChannelData never comes). Anything else is handed over as its first 20 bytes, for the probe
/// to call it what it is (an HTTP server, say) instead of waiting for a length it made up.
async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Vec<u8>> {
    use natter_ice::framing::{Framed, framed};
    let mut message = vec![0u8; 20];
    stream.read_exact(&mut message).await?;
    let has_cookie = message[4..8] == [0x21, 0x12, 0xA4, 0x42];
    let Framed::Stun { length } = framed([message[0], message[1], message[2], message[3]]) else {
        return Ok(message);
    };
    if !has_cookie {
        return Ok(message);
    }
    message.resize(length, 0);
    stream.read_exact(&mut message[20..]).await?;
    Ok(message)
}

async fn run_stream<S: AsyncRead + AsyncWrite + Unpin>(probe: &mut Probe, mut stream: S) {
    loop {
        while let Some(message) = probe.poll_transmit() {
            if stream.write_all(&message).await.is_err() {
                probe.handle_transport_failure(TransportFailure::Closed, Instant::now());
            }
        }
        if probe.is_done() {
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
            return;
        }
        let Some(wake) = probe.poll_timeout() else { return };
        tokio::select! {
            message = read_message(&mut stream) => match message {
                Ok(bytes) => probe.handle_input(&bytes, Instant::now()),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => probe.handle_transport_failure(TransportFailure::Closed, Instant::now()),
                Err(e) => probe.handle_transport_failure(TransportFailure::Unreachable(e.to_string()), Instant::now()),
            },
            _ = tokio::time::sleep_until(wake.into()) => probe.handle_timeout(Instant::now()),
        }
    }
}

/// TLS with the public web roots plus the optional extra CA file. Verification always on.
pub fn tls_connector(options: &ProbeOptions) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &options.extra_ca_file {
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CA file {} is not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// True when every kind of transport that is configured has at least one working server
/// (the exit status of `natter probe`).
pub fn every_transport_kind_works(results: &[ServerHealth]) -> bool {
    let kinds: std::collections::BTreeSet<_> = results.iter().map(|r| r.transport).collect();
    kinds.iter().all(|kind| {
        results
            .iter()
            .any(|r| r.transport == *kind && r.result.status == ProbeStatus::Ok)
    })
}

/// How long `probe_all` can take at most with these options.
pub fn worst_case(options: &ProbeOptions) -> Duration {
    options.timing.give_up_after + Duration::from_millis(100)
}

/// Read a W3C `RTCConfiguration` JSON file, with errors that name the file and the problem.
pub fn load_ice_config(path: &std::path::Path) -> Result<IceConfig, crate::CallError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::CallError::IceConfig(format!("cannot read {}: {e}", path.display())))?;
    IceConfig::from_json(&text).map_err(|e| crate::CallError::IceConfig(format!("{}: {e}", path.display())))
}

/// A table for people: server, transport, status, RTT, addresses, and what went wrong.
pub fn format_table(results: &[ServerHealth]) -> String {
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|r| {
            let status = r.result.status.as_str().to_owned();
            let rtt = r
                .result
                .rtt_ms
                .map(|ms| format!("{ms:.1} ms"))
                .unwrap_or_else(|| "-".into());
            let address = match (r.result.relayed_address, r.result.mapped_address) {
                (Some(relay), _) => format!("relay {relay}"),
                (None, Some(mapped)) => format!("mapped {mapped}"),
                (None, None) => "-".into(),
            };
            [
                r.url.clone(),
                r.transport.to_string(),
                status,
                rtt,
                address,
                r.result.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["SERVER", "TRANSPORT", "STATUS", "RTT", "ADDRESS", "ERROR"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (i, cell) in row.iter().enumerate() {
            if i < 5 {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

/// A running health monitor: re-probes every server × transport while a call runs.
pub struct HealthMonitor {
    /// Results probed elsewhere (e.g. by `ServerBoard` when a call restarts) enter here.
    external: tokio::sync::mpsc::UnboundedSender<ServerHealth>,
    latest: Arc<std::sync::Mutex<Vec<Option<ServerHealth>>>>,
    transitions: Arc<std::sync::Mutex<Vec<natter_ice::monitor::HealthTransition>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HealthMonitor {
    /// Start monitoring; `on_transition` is called for every status change (first results included).
    pub fn start(
        config: &IceConfig,
        options: ProbeOptions,
        timing: natter_ice::monitor::MonitorTiming,
        on_transition: impl Fn(&natter_ice::monitor::HealthTransition) + Send + 'static,
    ) -> HealthMonitor {
        let specs = config.probe_specs(now_unix());
        let latest = Arc::new(std::sync::Mutex::new(vec![None; specs.len()]));
        let transitions = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (latest_w, transitions_w) = (Arc::clone(&latest), Arc::clone(&transitions));
        let tls = tls_connector(&options).ok();
        let (external, mut external_rx) = tokio::sync::mpsc::unbounded_channel::<ServerHealth>();
        let task = tokio::spawn(async move {
            let mut monitor = natter_ice::monitor::Monitor::new(specs, timing, Instant::now());
            let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, ProbeResult)>();
            loop {
                for index in monitor.due(Instant::now()) {
                    let spec = monitor.spec(index).clone();
                    let (done_tx, tls, probe_timing) = (done_tx.clone(), tls.clone(), options.timing);
                    tokio::spawn(async move {
                        let result = probe_one(spec, probe_timing, tls).await;
                        let _ = done_tx.send((index, result));
                    });
                }
                let wake = monitor.poll_timeout();
                let sleep = async {
                    match wake {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    Some(health) = external_rx.recv() => {
                        let index = (0..monitor.len()).find(|&i| monitor.spec(i).url.original == health.url && monitor.spec(i).transport == health.transport);
                        if let Some(index) = index {
                            if let Some(transition) = monitor.on_result(index, &health.result, Instant::now(), SystemTime::now()) {
                                on_transition(&transition);
                                transitions_w.lock().unwrap().push(transition);
                            }
                            latest_w.lock().unwrap()[index] = Some(health);
                        }
                    }
                    Some((index, result)) = done_rx.recv() => {
                        let spec = monitor.spec(index).clone();
                        if let Some(transition) = monitor.on_result(index, &result, Instant::now(), SystemTime::now()) {
                            on_transition(&transition);
                            transitions_w.lock().unwrap().push(transition);
                        }
                        latest_w.lock().unwrap()[index] = Some(ServerHealth { url: spec.url.original.clone(), transport: spec.transport, result });
                    }
                    _ = sleep => {}
                }
            }
        });
        HealthMonitor {
            external,
            latest,
            transitions,
            task,
        }
    }

    /// Where to send results probed outside the monitor, so they count as its own.
    pub fn sink(&self) -> tokio::sync::mpsc::UnboundedSender<ServerHealth> {
        self.external.clone()
    }

    /// The latest result of every server × transport probed so far.
    pub fn snapshot(&self) -> Vec<ServerHealth> {
        self.latest.lock().unwrap().iter().flatten().cloned().collect()
    }

    /// Every status change so far, oldest first.
    pub fn transitions(&self) -> Vec<natter_ice::monitor::HealthTransition> {
        self.transitions.lock().unwrap().clone()
    }

    /// Wait (bounded) until every server × transport has a first result.
    pub async fn first_round(&self, limit: Duration) -> Vec<ServerHealth> {
        let deadline = Instant::now() + limit;
        loop {
            let complete = self.latest.lock().unwrap().iter().all(Option::is_some);
            if complete || Instant::now() >= deadline {
                return self.snapshot();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What this process knows about its ICE servers, shared by every connection. One circuit
/// breaker per URL (`natter_ice::breaker`) is fed by fresh probes and by connections that lost a
/// relay; when a connection (re)starts, the servers are probed once (single flight, cached
/// briefly) and it gets only the URLs whose breaker is not open. A call with six participants
/// thus pays a dead server's timeout once, not five times.
pub struct ServerBoard {
    base: std::sync::Mutex<IceConfig>,
    options: ProbeOptions,
    /// Fresh results also go to the health monitor (shared knowledge, one timeline of events).
    monitor: Option<tokio::sync::mpsc::UnboundedSender<ServerHealth>>,
    cache: tokio::sync::Mutex<Option<(Instant, Vec<ServerHealth>)>>,
    breakers: std::sync::Mutex<natter_ice::breaker::ServerBreakers>,
}

/// Probe results younger than this are reused by other restarting connections.
const BOARD_MAX_AGE: Duration = Duration::from_secs(3);

impl ServerBoard {
    pub fn new(
        base: IceConfig,
        options: ProbeOptions,
        monitor: Option<tokio::sync::mpsc::UnboundedSender<ServerHealth>>,
    ) -> Arc<ServerBoard> {
        Arc::new(ServerBoard {
            base: std::sync::Mutex::new(base),
            options,
            monitor,
            cache: tokio::sync::Mutex::new(None),
            breakers: std::sync::Mutex::new(natter_ice::breaker::ServerBreakers::new(Default::default())),
        })
    }

    pub fn base(&self) -> IceConfig {
        self.base.lock().unwrap().clone()
    }

    /// The user edited the ICE servers: forget what we knew about the old set.
    pub async fn set_base(&self, config: IceConfig) {
        *self.base.lock().unwrap() = config;
        *self.cache.lock().await = None;
        *self.breakers.lock().unwrap() = natter_ice::breaker::ServerBreakers::new(Default::default());
    }

    /// A connection that relied on `url` lost its path. Demotes the server for every connection
    /// (once: later reports of the same failure are not news). A fresh probe that finds the
    /// server fine restores it, so a connection that broke for another reason costs little.
    pub fn report_failure(&self, url: &str, cause: &str) {
        log_breaker_event(self.breakers.lock().unwrap().on_failure(url, cause, Instant::now()));
    }

    /// The configuration for a (re)starting connection, and the URLs left out with the reason.
    /// When no server is known to work, everything is kept (nothing better to try).
    pub async fn working_config(&self) -> (IceConfig, Vec<String>) {
        let base = self.base();
        if base.ice_servers.is_empty() {
            return (base, Vec::new());
        }
        {
            let mut cache = self.cache.lock().await;
            let fresh = !matches!(cache.as_ref(), Some((at, _)) if at.elapsed() < BOARD_MAX_AGE);
            if fresh {
                let health = probe_all(&base, &self.options).await;
                if let Some(monitor) = &self.monitor {
                    for h in &health {
                        let _ = monitor.send(h.clone());
                    }
                }
                self.feed(&health);
                *cache = Some((Instant::now(), health));
            }
        }
        self.breakers.lock().unwrap().filter(&base, Instant::now())
    }

    /// Fresh probe results into the breakers (any transport of a URL working counts as working).
    fn feed(&self, health: &[ServerHealth]) {
        let now = Instant::now();
        let mut breakers = self.breakers.lock().unwrap();
        let mut urls: Vec<&str> = health.iter().map(|h| h.url.as_str()).collect();
        urls.dedup();
        for url in urls {
            let results: Vec<&ServerHealth> = health.iter().filter(|h| h.url == url).collect();
            if results.iter().any(|h| h.result.status == ProbeStatus::Ok) {
                log_breaker_event(breakers.on_success(url));
            } else {
                let cause = results
                    .iter()
                    .find_map(|h| h.result.error.clone())
                    .unwrap_or_else(|| "not working".into());
                log_breaker_event(breakers.on_failure(url, &cause, now));
            }
        }
    }
}

/// A server demoted or restored for every connection, in the log.
fn log_breaker_event(event: Option<natter_ice::breaker::BreakerEvent>) {
    match event {
        Some(natter_ice::breaker::BreakerEvent::Demoted { url, cause }) => {
            tracing::info!("{url} left out of new and restarting connections: {cause}")
        }
        Some(natter_ice::breaker::BreakerEvent::Restored { url }) => {
            tracing::info!("{url} works again; offered to connections again")
        }
        None => {}
    }
}
