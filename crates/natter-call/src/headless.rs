//! `natter headless`: N participants (in this process, or spread over processes through an external
//! signaling server) call each other with synthetic media and write a JSON report.

use crate::CallError;
use crate::media::MediaSettings;
use crate::participant::{Participant, ParticipantConfig};
use crate::peer::LinkSettings;
use crate::report::{EventKind, ParticipantReport, PeerState, Report, ServerReport};
use natter_ice::IceConfig;
use natter_signal::server::SignalServer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `natter headless` (one field per command-line option).
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// Participants run in this process (`--participants`).
    pub participants: usize,
    /// How long the call lasts once everyone expected is in the room (`--duration`).
    pub duration: Duration,
    /// W3C `RTCConfiguration` JSON file (`--ice-config`).
    pub ice_config: Option<PathBuf>,
    /// ICE transport policy relay (`--relay-only`).
    pub relay_only: bool,
    /// External signaling server (`--signal ws://…`); `None` = in-process server.
    pub signal_url: Option<String>,
    /// Room name (`--room`), default "natter".
    pub room: Option<String>,
    /// The room's secret (`--room-secret`): locks a room we open; needed to enter a locked one.
    pub room_secret: Option<natter_signal::protocol::RoomSecret>,
    /// Total participants expected in the room across all processes (`--expect`); default = `participants`.
    pub expect_total: Option<usize>,
    /// Where to write the JSON report (`--report`).
    pub report_path: Option<PathBuf>,
    /// Local address for ICE sockets (`--bind`). Default: 127.0.0.1 with the in-process signaling
    /// server (everything is on this machine), 0.0.0.0 (all interfaces) with `--signal`.
    pub bind: Option<std::net::IpAddr>,
    /// Run the `webrtc` crate with its default settings and none of Natter's recovery (no ICE
    /// restarts, no media watch) (`--stack-defaults`), to measure what our work changes. Media,
    /// signaling, the TURN TCP/TLS bridge and the driver patch stay the same.
    pub stack_defaults: bool,
    /// Play what the first participant hears on this output device (`--speaker NAME`, or
    /// "default"); `None`: audio is decoded and mixed on the playout clock into nothing.
    pub speaker: Option<String>,
    /// The first participant captures audio from this input device (`--microphone NAME`).
    pub microphone: Option<String>,
    /// The first participant sends video from this camera (`--camera NAME`).
    pub camera: Option<String>,
    /// End the call as soon as every pair is connected and decodes video (`--until-connected`),
    /// `duration` being then the longest it waits: for measuring how fast calls come up.
    pub until_connected: bool,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            participants: 2,
            duration: Duration::from_secs(8),
            ice_config: None,
            relay_only: false,
            signal_url: None,
            room: None,
            room_secret: None,
            expect_total: None,
            report_path: None,
            bind: None,
            stack_defaults: false,
            until_connected: false,
            speaker: None,
            microphone: None,
            camera: None,
        }
    }
}

/// How long we wait for the expected participants to show up in the room.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a call that ended with every pair connected waits, past `--duration`, for the
/// others' first reception reports (they come every 1 s, a browser's audio ones up to 5 s): a
/// short call must not fail only because no report was due yet.
const CONFIRM_GRACE: Duration = Duration::from_secs(6);

/// Run the headless call. `Ok(report)` even when the call failed: check `report.ok` / `report.reason`.
/// `Err` means the call could not even start (bad options, signaling unreachable, report unwritable).
pub async fn run(options: HeadlessOptions) -> Result<Report, CallError> {
    if options.participants == 0 {
        return Err(CallError::Options("--participants must be at least 1".into()));
    }
    let expect_total = options.expect_total.unwrap_or(options.participants);
    if expect_total < options.participants {
        return Err(CallError::Options(format!(
            "--expect {expect_total} is smaller than --participants {}",
            options.participants
        )));
    }
    let ice = match &options.ice_config {
        Some(path) => crate::health::load_ice_config(path)?,
        None => IceConfig::default(),
    };
    let relay_only = options.relay_only || ice.transport_policy == natter_ice::TransportPolicy::Relay;
    if relay_only && !ice.ice_servers.iter().any(|s| s.urls.iter().any(|u| u.is_turn())) {
        return Err(CallError::IceConfig(
            "--relay-only needs at least one turn: or turns: server in --ice-config".into(),
        ));
    }
    let room = options.room.clone().unwrap_or_else(|| "natter".into());

    // In-process signaling unless told otherwise; everything then stays on loopback.
    let (_server, signal_url, bind): (Option<_>, String, SocketAddr) = match &options.signal_url {
        Some(url) => (None, url.clone(), "0.0.0.0:0".parse().expect("valid")),
        None => {
            let server = SignalServer::bind("127.0.0.1:0".parse().expect("valid"))
                .await
                .map_err(|e| CallError::Signaling(e.to_string()))?;
            let url = server.url();
            (Some(server.spawn()), url, "127.0.0.1:0".parse().expect("valid"))
        }
    };
    let bind = options.bind.map(|ip| SocketAddr::new(ip, 0)).unwrap_or(bind);
    let link = LinkSettings {
        ice: ice.clone(),
        relay_only,
        bind,
        stack_defaults: options.stack_defaults,
        offer_payload_types: Default::default(),
        bridges: Default::default(),
    };

    let started = Instant::now();
    // Probe every ICE server while the call sets up: the report says which server works, over
    // which transport, and why one does not (the call itself does not wait for this).
    let probe_options = crate::health::ProbeOptions::from_env();
    let monitor = crate::health::HealthMonitor::start(
        &ice,
        probe_options.clone(),
        natter_ice::monitor::MonitorTiming::default(),
        |transition| tracing::info!("{}", transition.message),
    );
    let board = crate::health::ServerBoard::new(ice.clone(), probe_options.clone(), Some(monitor.sink()));
    // Every participant plays what it hears, as the app does: the first one through `--speaker`
    // when named, the others (and the first without a speaker) into nothing on the mixer's own
    // 20 ms clock, so the report's `audio.playout` (played / concealed) is measured in every call.
    let mut speaker: Option<Box<dyn natter_media::AudioSink>> = match &options.speaker {
        Some(name) => {
            let speaker = natter_devices::Speaker::open(Some(name))
                .map_err(|e| CallError::Media(format!("cannot play audio: {e}")))?;
            tracing::info!(device = %speaker.name, rate = speaker.device_rate, channels = speaker.channels, "playing the first participant's audio");
            Some(Box::new(speaker))
        }
        None => None,
    };

    let mut participants = Vec::new();
    for i in 0..options.participants {
        let config = ParticipantConfig {
            name: format!("headless-{}", i + 1),
            room: room.clone(),
            room_secret: options.room_secret.clone(),
            signal_url: signal_url.clone(),
            link: link.clone(),
            media: MediaSettings {
                seed: i as u32 + 1,
                microphone: if i == 0 { options.microphone.clone() } else { None },
                camera: if i == 0 { options.camera.clone() } else { None },
                ..MediaSettings::default()
            },
            view: None,
            board: Some(board.clone()),
            playout: Some(crate::playout::AudioPlayout::start(
                speaker
                    .take()
                    .unwrap_or_else(|| Box::new(natter_media::DiscardSink::default())),
            )),
        };
        participants.push(Participant::join(config).await?);
    }

    // Wait (bounded) until everyone expected is in the room, then hold the call for `duration`.
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        let mut min_peers = usize::MAX;
        for p in &participants {
            let present = p
                .snapshot()
                .await
                .peers
                .iter()
                .filter(|peer| peer.left_ms.is_none())
                .count();
            min_peers = min_peers.min(present);
        }
        if min_peers + 1 >= expect_total || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Hold the call for `duration`; say once (on stderr) when every pair is connected and which
    // relays carry it, so tools driving a test (e.g. killing a TURN server mid-call) know when.
    let call_end = Instant::now() + options.duration;
    let mut announced = false;
    while Instant::now() < call_end {
        if !announced || options.until_connected {
            let now = survey(&participants).await;
            if now.all_connected && !announced {
                announced = true;
                let relays: Vec<_> = now.relays.into_iter().collect();
                tracing::info!("call established; relays in use: [{}]", relays.join(" "));
            }
            // Set-up is over when the others confirm receiving us too (their first reports).
            if now.all_connected && now.all_confirmed && options.until_connected {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100).min(call_end.saturating_duration_since(Instant::now()))).await;
    }
    let grace_end = Instant::now() + CONFIRM_GRACE;
    while Instant::now() < grace_end {
        let now = survey(&participants).await;
        if now.present_not_connected || !now.awaiting_first_reports {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut reports = Vec::new();
    let mut gathered = std::collections::BTreeSet::new();
    for p in &participants {
        reports.push(p.snapshot().await);
        gathered.extend(p.gathered_from());
    }
    let health = monitor.first_round(crate::health::worst_case(&probe_options)).await;
    let health_events = monitor.transitions();
    let servers = server_reports(&ice, &health, &reports, &gathered);
    let reason = judge(&reports, expect_total);
    let report = Report {
        ok: reason.is_none(),
        reason,
        room,
        duration_s: started.elapsed().as_secs_f64(),
        relay_only,
        participants: reports,
        servers,
        health_events,
    };
    for p in participants {
        p.leave().await;
    }
    if let Some(path) = &options.report_path {
        let json = serde_json::to_string_pretty(&report).expect("report serializes");
        std::fs::write(path, json + "\n").map_err(|e| CallError::Report {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(report)
}

/// The call as this process sees it now, across all its participants.
struct CallSurvey {
    /// Every connection (departed ones included) connected and decoded a frame.
    all_connected: bool,
    /// The other side confirmed every medium we send it.
    all_confirmed: bool,
    /// TURN servers carrying a connection.
    relays: std::collections::BTreeSet<String>,
    /// A participant still in the call is not connected.
    present_not_connected: bool,
    /// A connection of a present participant has not had the remote's first report yet.
    awaiting_first_reports: bool,
}

async fn survey(participants: &[Participant]) -> CallSurvey {
    let mut now = CallSurvey {
        all_connected: true,
        all_confirmed: true,
        relays: Default::default(),
        present_not_connected: false,
        awaiting_first_reports: false,
    };
    for p in participants {
        let snapshot = p.snapshot().await;
        for peer in &snapshot.peers {
            let problem = unconfirmed(&snapshot, peer);
            now.all_connected &= peer.state == PeerState::Connected && peer.first_frame_ms.is_some();
            now.all_confirmed &= problem.is_none();
            now.relays
                .extend(peer.path.as_ref().and_then(|path| path.relay_server.clone()));
            if peer.left_ms.is_none() {
                now.present_not_connected |= peer.state != PeerState::Connected;
                now.awaiting_first_reports |=
                    problem.is_some() && (peer.sent.video.reports == 0 || peer.sent.audio.reports == 0);
            }
        }
    }
    now
}

/// `None` if every expected pair connected and received video and audio; else the first problem.
pub fn judge(participants: &[ParticipantReport], expect_total: usize) -> Option<String> {
    for p in participants {
        if let Some(crash) = &p.crashed {
            return Some(format!("{}: {crash}", p.id));
        }
        // Someone who came and went without ever connecting was not part of the call, unless we
        // know why the connection could not be made: then that is the call's problem. (Unless
        // we refused them: what they sent was not a call, and they are gone.)
        let refused_and_gone = |peer: &&crate::report::PeerReport| {
            peer.left_ms.is_some() && peer.events.iter().any(|e| e.kind == EventKind::Refused)
        };
        if let Some((peer, why)) = p
            .peers
            .iter()
            .filter(|peer| peer.connect_ms.is_none() && !refused_and_gone(peer))
            .find_map(|peer| Some((peer, failure_explanation(peer)?)))
        {
            return Some(format!("{} → {}: cannot connect: {why}", p.id, peer.remote));
        }
        let in_call: Vec<_> = p
            .peers
            .iter()
            .filter(|peer| !(peer.left_ms.is_some() && peer.connect_ms.is_none()))
            .collect();
        if in_call.len() + 1 < expect_total {
            return Some(format!(
                "{} saw {} of {} other participants",
                p.id,
                in_call.len(),
                expect_total - 1
            ));
        }
        for peer in in_call {
            if peer.state != PeerState::Connected {
                return Some(match failure_explanation(peer) {
                    Some(why) => format!("{} → {}: cannot connect: {why}", p.id, peer.remote),
                    None => format!(
                        "{} → {}: connection {} (never reached connected)",
                        p.id, peer.remote, peer.state
                    ),
                });
            }
            // A participant without camera or microphone is receive-only for that medium (it
            // told us so): no video or audio from it is expected.
            if peer.video.frames_decoded == 0 && !peer.remote_video_muted {
                return Some(format!(
                    "{} ← {}: connected but no video frame decoded",
                    p.id, peer.remote
                ));
            }
            if peer.audio.packets_received == 0 && !peer.remote_audio_muted {
                return Some(format!(
                    "{} ← {}: connected but no audio packet received",
                    p.id, peer.remote
                ));
            }
            if let Some(problem) = unconfirmed(p, peer) {
                return Some(format!("{} → {}: {problem}", p.id, peer.remote));
            }
        }
    }
    None
}

/// Why `peer` may not be receiving what `p` sends it, from its own RTCP reports about our
/// streams (`None`: every medium we send is confirmed). What we received says nothing of this:
/// a call can work one way only.
pub fn unconfirmed(p: &ParticipantReport, peer: &crate::report::PeerReport) -> Option<String> {
    let name = if peer.remote_name.is_empty() {
        &peer.remote
    } else {
        &peer.remote_name
    };
    let media = [
        ("video", &peer.sent.video, p.local_media.camera.sending),
        ("audio", &peer.sent.audio, p.local_media.microphone.sending),
    ];
    for (what, stream, sending) in media {
        if !sending {
            continue; // receive-only for this medium (the remote was told)
        }
        let problem = if stream.codec.is_none() {
            format!("{name} receives no {what} from us: no {what} codec we can send was agreed with it")
        } else if stream.packets_sent == 0 {
            format!("{name} receives no {what} from us: nothing was sent on the connection yet")
        } else if stream.reports == 0 {
            format!(
                "{name} has not confirmed receiving our {what}: no RTCP report about it arrived ({} packets sent, {})",
                stream.packets_sent,
                stream.codec.as_deref().unwrap_or("?")
            )
        } else if stream.remote_packets_received == 0 {
            format!(
                "{name} receives no {what} from us: its reports count 0 of the {} packets we sent ({})",
                stream.packets_sent,
                stream.codec.as_deref().unwrap_or("?")
            )
        } else {
            continue;
        };
        return Some(problem);
    }
    None
}

/// The latest explanation the engine gave for a connection not working (`failed`, `gave_up` or
/// `refused` event with a detail).
fn failure_explanation(peer: &crate::report::PeerReport) -> Option<&str> {
    peer.events
        .iter()
        .rev()
        .find(|e| !e.detail.is_empty() && matches!(e.kind, EventKind::Failed | EventKind::GaveUp | EventKind::Refused))
        .map(|e| e.detail.as_str())
}

fn server_reports(
    ice: &IceConfig,
    health: &[crate::health::ServerHealth],
    participants: &[ParticipantReport],
    gathered: &std::collections::BTreeSet<String>,
) -> Vec<ServerReport> {
    let used: std::collections::BTreeSet<&str> = participants
        .iter()
        .flat_map(|p| p.peers.iter())
        .filter_map(|peer| peer.path.as_ref()?.relay_server.as_deref())
        .collect();
    let mut out = Vec::new();
    for (url, _) in ice.urls() {
        let text = url.original.as_str();
        let candidates = if used.contains(text) {
            "used"
        } else if gathered.contains(text) {
            "gathered"
        } else {
            "none"
        };
        for h in health.iter().filter(|h| h.url == text) {
            out.push(ServerReport {
                url: h.url.clone(),
                transport: Some(h.transport),
                status: h.result.status.as_str().to_owned(),
                rtt_ms: h.result.rtt_ms,
                error: h.result.error.clone(),
                mapped_address: h.result.mapped_address,
                relayed_address: h.result.relayed_address,
                candidates: candidates.into(),
            });
        }
    }
    out
}
