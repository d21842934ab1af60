//! A participant: one local user in one room. Owns the signaling client, one `PeerLink` per remote
//! participant (full mesh), the capture+encode thread and the receive/decode pipelines.
//!
//! Mesh convention (docs/signaling.md): the newcomer offers to everyone listed in `welcome`;
//! existing participants answer. So no two sides ever offer to each other (no glare).

use crate::CallError;
use crate::codecs::VideoCodec;
use crate::fallback::{Action, LinkState};
use crate::keyframe::PliPacer;
use crate::media::{self, MediaSettings, ViewSink};
use crate::peer::{self, LinkEvent, LinkSettings, PeerLink};
use crate::receive::{Assembled, VideoAssembler, VideoStats};
use crate::reorder::{Released, ReorderBuffer};
use crate::report::PeerEvent;
use crate::report::{ParticipantReport, PeerReport, SignalingReport, VideoReport};
use crate::send;
use crate::sync::Locked;
use crate::view::ViewEvent;
use crate::webrtc_setup;
use natter_signal::client::{JoinRequest, SignalClient};
use natter_signal::protocol::{ClientMessage, IceCandidate, RejoinKey, ServerMessage, Welcome};
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription};

/// How to join.
#[derive(Clone)]
pub struct ParticipantConfig {
    pub name: String,
    pub room: String,
    /// The room's secret: locks the room if this participant opens it, else must match.
    pub room_secret: Option<natter_signal::protocol::RoomSecret>,
    pub signal_url: String,
    pub link: LinkSettings,
    pub media: MediaSettings,
    /// Where decoded frames and state changes go for display (the desktop app); `None` headless.
    pub view: Option<ViewSink>,
    /// Shared knowledge about the ICE servers (see `health::ServerBoard`); restarts use it.
    pub board: Option<Arc<crate::health::ServerBoard>>,
    /// Where the others' audio is played (`None`: decoded nowhere, only counted).
    pub playout: Option<Arc<crate::playout::AudioPlayout>>,
}

/// What the report needs about one remote, shared between the loop and `snapshot`.
struct PeerShared {
    record: Arc<Mutex<PeerReport>>,
    video: Arc<Mutex<VideoStats>>,
    audio_packets: Arc<AtomicU64>,
    /// The connection, while the call lasts; `None` once the remote left (its connection is
    /// closed, the record is final, and nothing of the connection is kept).
    pc: Option<Arc<dyn PeerConnection>>,
    /// Our streams to it and its reports about them (while the call lasts, like `pc`).
    outgoing: Option<peer::Outgoing>,
}

#[derive(Default)]
struct Shared {
    peers: Mutex<HashMap<String, PeerShared>>,
    /// STUN/TURN URLs that produced at least one local candidate.
    gathered_from: Mutex<std::collections::BTreeSet<String>>,
    signaling: Mutex<SignalingReport>,
    /// Why the engine task stopped, if it panicked.
    crashed: Mutex<Option<String>>,
    /// Remotes that left, oldest first: their records stay in the report, up to
    /// [`DEPARTED_KEPT`] of them (a long-lived room with churn must not grow without bound).
    departed: Mutex<std::collections::VecDeque<String>>,
}

/// Said of a path whose remote end was learned from its checks because its candidates hid the
/// address behind an mDNS name this machine could not resolve.
const MDNS_NOTE: &str = "the remote hides its local addresses behind mDNS names (….local) that could not be resolved here; its address was learned from its connectivity checks (prflx)";

/// How many departed participants' records the report keeps.
const DEPARTED_KEPT: usize = 32;

impl Shared {
    /// `remote` left: drop its connection, keep its final record (the oldest beyond
    /// [`DEPARTED_KEPT`] are forgotten): what we sent it and why it was limited, as at the end
    /// (`encode_load`: see `EncodedStreams::encode_load`).
    fn mark_departed(&self, remote: &str, encode_load: f64) {
        let mut peers = self.peers.locked();
        if let Some(p) = peers.get_mut(remote) {
            p.pc = None;
            if let Some(outgoing) = p.outgoing.take() {
                outgoing.fill(&mut p.record.locked(), encode_load);
            }
        }
        let mut departed = self.departed.locked();
        departed.push_back(remote.to_string());
        while departed.len() > DEPARTED_KEPT {
            let oldest = departed.pop_front().expect("longer than the limit");
            // Unless it came back (same id after a rejoin) and has a call again.
            if peers.get(&oldest).is_some_and(|p| p.pc.is_none()) {
                peers.remove(&oldest);
            }
        }
    }
}

/// The signaling connection in use, shared by the participant (to leave) and its engine (to
/// send); replaced when signaling comes back after a drop.
#[derive(Clone)]
struct SignalLine(Arc<Mutex<SignalClient>>);

impl SignalLine {
    fn current(&self) -> SignalClient {
        self.0.locked().clone()
    }

    fn replace(&self, client: SignalClient) {
        *self.0.locked() = client;
    }
}

/// A fresh random rejoin key: with it the signaling server gives this participant the same id
/// when it joins again after a drop or a server restart.
fn new_rejoin_key() -> RejoinKey {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator works");
    RejoinKey(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Delays between attempts to reach signaling again (the last one repeats).
const REJOIN_BACKOFF: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What an attempt to rejoin signaling came to.
type Rejoined = Result<(SignalClient, Welcome, mpsc::Receiver<ServerMessage>), String>;

/// Requests from the application to a running participant.
enum Command {
    SetIceConfig(natter_ice::IceConfig),
    /// Microphone / camera off (`true`) or on.
    SetMuted {
        audio: Option<bool>,
        video: Option<bool>,
    },
    /// Panic in the engine while holding the shared peer table (tests of crash isolation).
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// A joined participant. Dropping it without `leave` aborts its tasks.
pub struct Participant {
    pub id: String,
    pub name: String,
    pub joined_at: Instant,
    shared: Arc<Shared>,
    frames_sent: Arc<AtomicU64>,
    stop_media: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    line: SignalLine,
    commands: mpsc::UnboundedSender<Command>,
    /// Where the others' audio is played, if anywhere (its jitter stats go into the report).
    playout: Option<Arc<crate::playout::AudioPlayout>>,
    /// This participant's camera and microphone (switching, their state for the report).
    encoded: media::EncodedStreams,
}

impl Participant {
    /// Join the room: connect to signaling, start capture/encode, offer to everyone already there.
    pub async fn join(config: ParticipantConfig) -> Result<Participant, CallError> {
        let joined_at = Instant::now();
        let request = JoinRequest {
            secret: config.room_secret.clone(),
            rejoin_key: Some(new_rejoin_key()),
            ..JoinRequest::new(&config.room, &config.name)
        };
        let (client, welcome, server_rx) = SignalClient::join_request(&config.signal_url, &request)
            .await
            .map_err(|e| CallError::Signaling(e.to_string()))?;
        let line = SignalLine(Arc::new(Mutex::new(client.clone())));
        let id = client.id().to_string();
        tracing::info!(participant = %id, room = %config.room, peers = welcome.peers.len(), "joined");

        let stop_media = Arc::new(AtomicBool::new(false));
        let frames_sent = Arc::new(AtomicU64::new(0));
        let (notice_tx, notice_rx) = mpsc::unbounded_channel();
        let encoded = media::start_capture(
            &config.media,
            config.view.clone(),
            Arc::clone(&stop_media),
            Arc::clone(&frames_sent),
            notice_tx,
        )?;

        let shared = Arc::new(Shared::default());
        shared.signaling.locked().state = "connected".into();
        let (link_tx, link_rx) = mpsc::unbounded_channel();
        let mut engine = Engine {
            id: id.clone(),
            config: config.clone(),
            line: line.clone(),
            join_request: request,
            signaling_lost_at: None,
            links: HashMap::new(),
            names: HashMap::new(),
            link_tx,
            shared: Arc::clone(&shared),
            encoded: encoded.clone(),
            joined_at,
        };
        for peer in welcome.peers {
            engine.names.insert(peer.id.clone(), peer.name.clone());
            if let Err(e) = engine.offer_to(&peer.id).await {
                tracing::warn!(participant = %id, remote = %peer.id, "could not start a call: {e}");
            }
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let engine_task = AbortOnDrop(tokio::spawn(engine.run(server_rx, link_rx, command_rx, notice_rx)));
        let task = tokio::spawn(supervise(
            engine_task,
            Arc::clone(&shared),
            line.clone(),
            Arc::clone(&stop_media),
            config.view.clone(),
            id.clone(),
        ));
        Ok(Participant {
            id,
            name: config.name,
            joined_at,
            shared,
            frames_sent,
            stop_media,
            task,
            line,
            commands,
            playout: config.playout.clone(),
            encoded,
        })
    }

    /// The report of this participant now (re-reads the selected path of each connection).
    pub async fn snapshot(&self) -> ParticipantReport {
        type Entry = (
            Arc<Mutex<PeerReport>>,
            Arc<Mutex<VideoStats>>,
            Arc<AtomicU64>,
            Option<Arc<dyn PeerConnection>>,
            Option<peer::Outgoing>,
        );
        let entries: Vec<Entry> = {
            let peers = self.shared.peers.locked();
            peers
                .values()
                .map(|p| {
                    let live_pc = p.pc.clone();
                    (
                        Arc::clone(&p.record),
                        Arc::clone(&p.video),
                        Arc::clone(&p.audio_packets),
                        live_pc,
                        p.outgoing.clone(),
                    )
                })
                .collect()
        };
        let mut reports = Vec::new();
        for (record, video, audio_packets, pc, outgoing) in entries {
            let stats = match pc {
                Some(pc) => peer::current_stats(&pc).await,
                None => None,
            };
            let mut report = record.locked().clone();
            if let Some((path, inbound)) = stats {
                if let Some((mut path, rtt)) = path {
                    if path.remote_candidate == "prflx" && report.remote_mdns_candidates {
                        path.note = Some(MDNS_NOTE.into());
                    }
                    report.path = Some(path);
                    report.rtt_ms = rtt.or(report.rtt_ms);
                }
                report.bytes_received = inbound.bytes_received;
                report.packets_received = inbound.packets_received;
                report.packets_lost = inbound.packets_lost;
                report.jitter_ms = inbound.jitter_ms;
            }
            let stats = video.locked().clone();
            let now_ms = self.joined_at.elapsed().as_secs_f64() * 1000.0;
            // Only a stall on a connection that is up and whose sender is sending counts now.
            let sending = report.state == "connected" && !report.remote_video_muted && report.left_ms.is_none();
            let (freeze_count, longest_freeze_ms, freezes) = if sending {
                stats.freezes_at(now_ms)
            } else {
                (stats.freeze_count, stats.longest_freeze_ms, stats.freezes.clone())
            };
            report.video = VideoReport {
                frames_received: stats.frames_received,
                frames_decoded: stats.frames_decoded,
                frames_lost: stats.frames_lost,
                frames_unreadable: stats.unreadable,
                latency_ms_p50: stats.latency_percentile(50.0),
                latency_ms_p95: stats.latency_percentile(95.0),
                freeze_count,
                longest_freeze_ms,
                freezes,
                packets_reordered: stats.reorder.reordered,
                packets_given_up: stats.reorder.given_up,
            };
            report.audio.packets_received = audio_packets.load(Ordering::Relaxed);
            if let Some(outgoing) = outgoing {
                outgoing.fill(&mut report, self.encoded.encode_load());
            }
            report.audio.playout = self.playout.as_ref().and_then(|p| p.report(&report.remote));
            reports.push(report);
        }
        reports.sort_by(|a, b| a.remote.cmp(&b.remote));
        ParticipantReport {
            id: self.id.clone(),
            name: self.name.clone(),
            peers: reports,
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            local_media: self.encoded.local_media(),
            signaling: self.shared.signaling.locked().clone(),
            crashed: self.shared.crashed.locked().clone(),
        }
    }

    /// Replace the ICE servers during the call (the settings page's "apply"): every connection
    /// restarts ICE onto the new servers; media continues on the old path until the new one works.
    pub fn set_ice_config(&self, ice: natter_ice::IceConfig) {
        let _ = self.commands.send(Command::SetIceConfig(ice));
    }

    /// Turn the microphone off (`true`) or on; the others see it on this participant's tile.
    pub fn set_audio_muted(&self, muted: bool) {
        let _ = self.commands.send(Command::SetMuted {
            audio: Some(muted),
            video: None,
        });
    }

    /// Turn the camera off (`true`) or on.
    pub fn set_video_muted(&self, muted: bool) {
        let _ = self.commands.send(Command::SetMuted {
            audio: None,
            video: Some(muted),
        });
    }

    /// Send from another camera: a device name or id, "default", or the synthetic pattern. The
    /// others and the user are told if it cannot be opened (the call goes on receive-only).
    pub fn use_camera(&self, choice: crate::capture::SourceChoice) {
        self.encoded.use_camera(choice);
    }

    /// Send from another microphone (as `use_camera`).
    pub fn use_microphone(&self, choice: crate::capture::SourceChoice) {
        self.encoded.use_microphone(choice);
    }

    /// Make the engine task panic (while holding a shared lock), to test that a crash stays
    /// this participant's own.
    #[cfg(feature = "fault-injection")]
    pub fn inject_engine_panic(&self) {
        let _ = self.commands.send(Command::Panic);
    }

    /// STUN/TURN URLs from which this participant gathered candidates so far.
    pub fn gathered_from(&self) -> Vec<String> {
        self.shared.gathered_from.locked().iter().cloned().collect()
    }

    /// Leave the room and close every connection.
    pub async fn leave(self) {
        self.stop_media.store(true, Ordering::Relaxed);
        self.task.abort();
        hang_up(&self.shared, &self.line).await;
        crate::memory::release_freed_memory_soon();
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        self.stop_media.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// A task aborted when this handle is dropped (the engine must not outlive its supervisor).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wait for the engine task. If it panicked (a bug), end this participant cleanly instead of
/// leaving it half-alive: stop capture, leave signaling (the others see it leave), close every
/// connection, and say what happened in the report and the window. Other participants in the
/// process are not affected; tokio catches the panic at the task boundary.
async fn supervise(
    mut engine: AbortOnDrop,
    shared: Arc<Shared>,
    line: SignalLine,
    stop_media: Arc<AtomicBool>,
    view: Option<ViewSink>,
    id: String,
) {
    let Err(error) = (&mut engine.0).await else { return };
    if !error.is_panic() {
        return;
    }
    let payload = error.into_panic();
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let message =
        format!("the call engine stopped on an internal error ({what}); this call was ended, join again to continue");
    tracing::error!(participant = %id, "{message}");
    stop_media.store(true, Ordering::Relaxed);
    *shared.crashed.locked() = Some(message.clone());
    if let Some(view) = &view {
        let _ = view.events.try_send(ViewEvent::Notice {
            medium: "call".into(),
            message,
        });
    }
    hang_up(&shared, &line).await;
}

/// Leave signaling (the others see us leave) and close every connection still open.
async fn hang_up(shared: &Shared, line: &SignalLine) {
    let _ = line.current().leave().await;
    let pcs: Vec<(String, Arc<dyn PeerConnection>)> = shared
        .peers
        .locked()
        .iter()
        .filter_map(|(remote, p)| Some((remote.clone(), Arc::clone(p.pc.as_ref()?))))
        .collect();
    for (remote, pc) in pcs {
        peer::close(&pc, &remote).await;
    }
}

/// Why a connection whose network path worked never connected, in the user's words, when the path
/// answers our connectivity checks without loss: the DTLS handshake did not complete, and on a
/// path that loses nothing that means the certificate the other side presented does not match the
/// fingerprint in its session description (the stack drops the handshake without telling us why;
/// someone may have rewritten the description on the signaling path) or the other side stopped.
/// No ICE restart can fix either, so the call is refused.
pub const DTLS_REFUSED: &str = "the network path works and loses none of our checks, but the secure handshake (DTLS) did not complete: the other side's certificate does not match the fingerprint in its session description (the call setup may have been altered on the way), or the other side stopped answering";

/// The same on a path that loses our checks: the handshake's packets were lost (a very lossy
/// network). Never an accusation of tampering.
pub const DTLS_INCOMPLETE: &str = "the network path works, but the secure handshake (DTLS) did not complete: its packets kept getting lost on the way (a very lossy network), or the other side stopped answering";

/// Unanswered connectivity checks above this share make a path lossy (a handshake may be lost).
const LOSSY_CHECKS: f64 = 0.05;

/// How long DTLS may take once ICE found a path that loses nothing (loopback: a few ms) …
const DTLS_HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);
/// … and one that loses checks: our DTLS resends a lost flight after 0.25, 0.5, 1, 2 … s.
/// Refusing is final, so err on the patient side.
const DTLS_HANDSHAKE_LIMIT_LOSSY: Duration = Duration::from_secs(12);

/// The participant's event loop state (owned by one task).
struct Engine {
    id: String,
    config: ParticipantConfig,
    line: SignalLine,
    /// How we joined (with our rejoin key), to join again the same way after a drop.
    join_request: JoinRequest,
    signaling_lost_at: Option<Instant>,
    links: HashMap<String, PeerLink>,
    names: HashMap<String, String>,
    link_tx: mpsc::UnboundedSender<LinkEvent>,
    shared: Arc<Shared>,
    encoded: media::EncodedStreams,
    joined_at: Instant,
}

impl Engine {
    async fn run(
        mut self,
        mut server_rx: mpsc::Receiver<ServerMessage>,
        mut link_rx: mpsc::UnboundedReceiver<LinkEvent>,
        mut command_rx: mpsc::UnboundedReceiver<Command>,
        mut notice_rx: mpsc::UnboundedReceiver<crate::capture::MediaNotice>,
    ) {
        // One steady tick for the setup and media checks (not a sleep re-armed on every turn of
        // the loop: a busy loop would postpone it again and again).
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut signaling_up = true;
        let (rejoined_tx, mut rejoined_rx) = mpsc::unbounded_channel::<Rejoined>();
        loop {
            // `--stack-defaults` measures the webrtc crate as it comes: none of our recovery.
            let stack_defaults = self.config.link.stack_defaults;
            let next_deadline = if stack_defaults {
                None
            } else {
                self.links.values().filter_map(|l| l.policy.poll_timeout()).min()
            };
            let policy_timer = async {
                match next_deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let watching_setup = self.links.values().any(|l| !l.setup_judged);
            let watching_media = !self.links.is_empty() && !stack_defaults;
            tokio::select! {
                _ = policy_timer => self.on_policy_timer().await,
                _ = ticks.tick(), if watching_setup || watching_media => {
                    if watching_setup {
                        self.on_setup_tick().await;
                    }
                    if watching_media {
                        self.on_media_tick().await;
                    }
                }
                Some(command) = command_rx.recv() => self.on_command(command).await,
                Some(notice) = notice_rx.recv() => self.on_media_notice(notice).await,
                msg = server_rx.recv(), if signaling_up => match msg {
                    Some(msg) => self.on_server(msg).await,
                    None => {
                        // Calls in progress go on (they need no signaling); join again meanwhile.
                        signaling_up = false;
                        self.on_signaling_lost(rejoined_tx.clone());
                    }
                },
                Some(rejoined) = rejoined_rx.recv() => match rejoined {
                    Ok((client, welcome, rx)) => {
                        server_rx = rx;
                        signaling_up = true;
                        self.on_signaling_back(client, welcome).await;
                    }
                    Err(reason) => self.signaling_event("refused", "refused", &reason),
                },
                Some(ev) = link_rx.recv() => self.on_link(ev).await,
            }
        }
    }

    /// The signaling connection ended without our `leave`: the server stopped or restarted, or
    /// the network dropped. Join again in the background (same rejoin key, so the same id) with
    /// backoff until it works, the server refuses us, or the participant is gone.
    fn on_signaling_lost(&mut self, rejoined: mpsc::UnboundedSender<Rejoined>) {
        self.signaling_lost_at = Some(Instant::now());
        self.signaling_event(
            "reconnecting",
            "lost",
            "lost the signaling connection; calls in progress continue; reconnecting…",
        );
        let url = self.config.signal_url.clone();
        let request = self.join_request.clone();
        let participant = self.id.clone();
        tokio::spawn(async move {
            for attempt in 0usize.. {
                tokio::time::sleep(REJOIN_BACKOFF[attempt.min(REJOIN_BACKOFF.len() - 1)]).await;
                if rejoined.is_closed() {
                    return; // the participant left
                }
                match SignalClient::join_request(&url, &request).await {
                    Ok(joined) => {
                        let _ = rejoined.send(Ok(joined));
                        return;
                    }
                    Err(natter_signal::SignalError::Rejected { code, message })
                        if code != natter_signal::protocol::ErrorCode::RateLimited =>
                    {
                        let _ = rejoined.send(Err(format!(
                            "the signaling server refused to let us back in ({code}): {message}"
                        )));
                        return;
                    }
                    Err(e) => tracing::debug!(participant, attempt, "signaling not back yet: {e}"),
                }
            }
        });
    }

    /// Signaling is back. Keep every call that still works (its peers know our id: the server
    /// gave it back); offer to anyone we have no working call with, as a newcomer would.
    async fn on_signaling_back(&mut self, client: SignalClient, welcome: Welcome) {
        if welcome.id != self.id {
            tracing::warn!(participant = %self.id, new_id = %welcome.id, "the signaling server gave us another id; calls in progress continue, but cannot be renegotiated");
        }
        self.line.replace(client);
        let took = self
            .signaling_lost_at
            .take()
            .map(|at| format!(" after {:.1} s", at.elapsed().as_secs_f64()))
            .unwrap_or_default();
        self.shared.signaling.locked().reconnects += 1;
        self.signaling_event(
            "connected",
            "reconnected",
            &format!("signaling is back{took}; {} other(s) in the room", welcome.peers.len()),
        );
        for peer in welcome.peers {
            self.names.insert(peer.id.clone(), peer.name.clone());
            self.drop_ended_link(&peer.id);
            if !self.links.contains_key(&peer.id)
                && let Err(e) = self.offer_to(&peer.id).await
            {
                tracing::warn!(participant = %self.id, remote = %peer.id, "could not start a call: {e}");
            }
        }
        // The others may have changed microphone/camera state meanwhile; ours may have too.
        let remotes: Vec<String> = self.links.keys().cloned().collect();
        for remote in remotes {
            self.send_media_state(&remote).await;
        }
    }

    /// Forget a link to `remote` whose call is over (it hung up, or was refused), so that a new
    /// call can start; a link whose call may still work is kept.
    fn drop_ended_link(&mut self, remote: &str) {
        let ended = self.links.get(remote).is_some_and(|l| {
            let record = l.record.locked();
            record.left_ms.is_some() || l.policy.gave_up()
        });
        if ended && let Some(mut link) = self.links.remove(remote) {
            self.shared.mark_departed(remote, self.encoded.encode_load());
            tokio::spawn(async move { link.close().await });
        }
    }

    /// Record a change of the signaling connection (report, log, and a notice in the window).
    fn signaling_event(&self, state: &str, kind: &str, detail: &str) {
        tracing::info!(participant = %self.id, kind, "{detail}");
        let at_ms = self.joined_at.elapsed().as_secs_f64() * 1000.0;
        {
            let mut signaling = self.shared.signaling.locked();
            signaling.state = state.to_string();
            signaling.events.push(PeerEvent {
                at_ms,
                kind: kind.into(),
                detail: detail.into(),
            });
        }
        if let Some(view) = &self.config.view {
            let _ = view.events.try_send(ViewEvent::Notice {
                medium: "signaling".into(),
                message: detail.to_string(),
            });
        }
    }

    fn name_of(&self, remote: &str) -> String {
        self.names.get(remote).cloned().unwrap_or_else(|| remote.to_string())
    }

    fn status(&self, remote: &str, state: &str, detail: &str) {
        if let Some(view) = &self.config.view {
            let _ = view.events.try_send(ViewEvent::Status {
                tile_id: remote.to_string(),
                label: self.name_of(remote),
                state: state.to_string(),
                detail: detail.to_string(),
            });
        }
    }

    /// Open the connection to `remote` if there is none. `video_preference`: the codecs to put
    /// first (the remote's order when it offered).
    async fn open_link(&mut self, remote: &str, video_preference: &[VideoCodec]) -> Result<(), CallError> {
        if self.links.contains_key(remote) {
            return Ok(());
        }
        let link = PeerLink::open(
            &self.config.link,
            &self.id,
            remote,
            &self.name_of(remote),
            self.link_tx.clone(),
            video_preference,
        )
        .await?;
        self.shared.peers.locked().insert(
            remote.to_string(),
            PeerShared {
                record: Arc::clone(&link.record),
                video: Arc::new(Mutex::new(VideoStats::default())),
                audio_packets: Arc::new(AtomicU64::new(0)),
                pc: Some(Arc::clone(&link.pc)),
                outgoing: Some(link.outgoing(self.joined_at)),
            },
        );
        self.links.insert(remote.to_string(), link);
        self.status(remote, "connecting", "gathering network paths…");
        Ok(())
    }

    async fn offer_to(&mut self, remote: &str) -> Result<(), CallError> {
        self.open_link(remote, &VideoCodec::OFFERED).await?;
        let link = self.links.get_mut(remote).expect("link just opened");
        // The side that offered first also drives ICE restarts for this pair (no glare).
        link.offerer = true;
        let offer = link.pc.create_offer(None).await.map_err(wrap)?;
        link.pc.set_local_description(offer.clone()).await.map_err(wrap)?;
        link.on_local_description(&offer.sdp);
        link.local_offer_pending = true;
        self.send(ClientMessage::Offer {
            to: remote.to_string(),
            sdp: offer.sdp,
        })
        .await;
        Ok(())
    }

    async fn send(&self, msg: ClientMessage) {
        if let Err(e) = self.line.current().send(msg).await {
            tracing::warn!(participant = %self.id, "signaling send failed: {e}");
        }
    }

    async fn on_server(&mut self, msg: ServerMessage) {
        let result = match msg {
            ServerMessage::PeerJoined { id, name } => {
                tracing::info!(participant = %self.id, remote = %id, "peer joined; waiting for its offer");
                // Someone we had a call with, back on signaling after a drop: keep a call that
                // still works, clear one that ended so its new offer starts afresh.
                self.drop_ended_link(&id);
                self.names.insert(id, name);
                Ok(())
            }
            ServerMessage::PeerLeft { id } => {
                if let Some(mut link) = self.links.remove(&id) {
                    // Keep what the call was like (state, path) and note when it ended.
                    let path = peer::current_path(&link.pc).await;
                    {
                        let mut record = link.record.locked();
                        record.left_ms = Some(self.joined_at.elapsed().as_secs_f64() * 1000.0);
                        if let Some((path, rtt)) = path {
                            record.path = Some(path);
                            record.rtt_ms = rtt.or(record.rtt_ms);
                        }
                    }
                    self.shared.mark_departed(&id, self.encoded.encode_load());
                    // Closing a connection that never completed can take the stack a while;
                    // the event loop must not wait for it (other calls need it).
                    tokio::spawn(async move {
                        link.close().await;
                        crate::memory::release_freed_memory_soon();
                    });
                }
                self.status(&id, "left", "left the call");
                // Its name lives on in its record; the engine's map must not grow with every
                // participant who ever came by.
                self.names.remove(&id);
                Ok(())
            }
            ServerMessage::Offer { from, sdp } => self.on_offer(&from, sdp).await,
            ServerMessage::Answer { from, sdp } => self.on_answer(&from, sdp).await,
            ServerMessage::Candidate { from, candidate } => self.on_remote_candidate(&from, candidate).await,
            ServerMessage::MediaState {
                from,
                audio_muted,
                video_muted,
            } => {
                if let Some(link) = self.links.get(&from) {
                    let mut record = link.record.locked();
                    record.remote_audio_muted = audio_muted;
                    record.remote_video_muted = video_muted;
                }
                if let Some(view) = &self.config.view {
                    let _ = view.events.try_send(ViewEvent::Media {
                        tile_id: from.clone(),
                        audio_muted,
                        video_muted,
                    });
                }
                Ok(())
            }
            ServerMessage::Error { code, message } => {
                tracing::warn!(participant = %self.id, ?code, "signaling server reported an error: {message}");
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(participant = %self.id, "signaling message could not be applied: {e}");
        }
    }

    async fn on_offer(&mut self, from: &str, sdp: String) -> Result<(), CallError> {
        // Check before the stack sees it: readable, encrypted media, a fingerprint to hold the
        // other side's DTLS certificate to. Signaling is not trusted.
        if let Err(problem) = natter_ice::sdp::check_remote_sdp(&sdp) {
            return self.refuse(from, &problem).await;
        }
        // Parsed (again, into the stack's type) before opening anything: a malformed offer must
        // not leave a half-made link.
        let offer = RTCSessionDescription::offer(natter_ice::sdp::for_the_stack(&sdp))
            .map_err(|e| CallError::Signaling(format!("offer from {from} is not valid SDP: {e}")))?;
        let is_restart = self.links.get(from).is_some_and(|l| l.has_remote_description);
        // Glare: both sides restarted ICE at once (both changed servers, say). The side that made
        // the first offer keeps its offer and ignores this one; the other side rolls its own
        // back and answers (the "perfect negotiation" roles of the W3C spec).
        if let Some(link) = self.links.get_mut(from)
            && link.local_offer_pending
        {
            if link.offerer {
                tracing::debug!(participant = %self.id, remote = from, "offer collision: keeping ours, the remote rolls back");
                return Ok(());
            }
            tracing::debug!(participant = %self.id, remote = from, "offer collision: rolling back ours and answering theirs");
            link.pc
                .set_local_description(RTCSessionDescription::rollback(None).map_err(wrap)?)
                .await
                .map_err(wrap)?;
            link.local_offer_pending = false;
        }
        self.open_link(from, &crate::codecs::offered_video_codecs(offer.sdp.as_str()))
            .await?;
        if is_restart {
            // The remote restarts ICE: gather our side with the servers that work now (without
            // the relay that just stopped carrying this call, if it did here too).
            self.on_remote_restart(from);
            let (config, dropped) = self.working_config().await;
            let link = self.links.get_mut(from).expect("link exists");
            link.pc
                .set_configuration(webrtc_setup::rtc_configuration(&config, self.config.link.relay_only))
                .await
                .map_err(wrap)?;
            let detail = restart_detail(&config, &dropped, "the remote restarted ICE");
            self.event(from, "ice_restart", &detail);
        }
        let link = self.links.get_mut(from).expect("link just opened");
        link.note_candidates_in(&sdp);
        link.pc.set_remote_description(offer).await.map_err(wrap)?;
        link.has_remote_description = true;
        let answer = link.pc.create_answer(None).await.map_err(wrap)?;
        link.pc.set_local_description(answer.clone()).await.map_err(wrap)?;
        link.on_local_description(&answer.sdp);
        self.send(ClientMessage::Answer {
            to: from.to_string(),
            sdp: answer.sdp,
        })
        .await;
        self.flush_candidates(from).await;
        self.after_negotiation(from).await;
        Ok(())
    }

    async fn on_answer(&mut self, from: &str, sdp: String) -> Result<(), CallError> {
        if !self.links.contains_key(from) {
            return Err(CallError::Signaling(format!(
                "answer from {from}, to whom we made no offer"
            )));
        }
        if let Err(problem) = natter_ice::sdp::check_remote_sdp(&sdp) {
            return self.refuse(from, &problem).await;
        }
        let answer = RTCSessionDescription::answer(natter_ice::sdp::for_the_stack(&sdp)).map_err(wrap)?;
        let link = self.links.get_mut(from).expect("checked above");
        link.note_candidates_in(&sdp);
        link.pc.set_remote_description(answer).await.map_err(wrap)?;
        link.has_remote_description = true;
        link.local_offer_pending = false;
        self.flush_candidates(from).await;
        self.after_negotiation(from).await;
        Ok(())
    }

    /// An offer/answer exchange with `remote` completed: send with what was agreed. A change of
    /// codec is an event of the call; no codec we can send is a refusal in words for that medium.
    async fn after_negotiation(&mut self, remote: &str) {
        let Some(link) = self.links.get(remote) else { return };
        let (video, audio) = (Arc::clone(&link.video), Arc::clone(&link.audio));
        for track in [video, audio] {
            match track.refresh_codec().await {
                Ok(Some(codec)) => {
                    let detail = format!("sending {} {}", track.kind, codec.describe());
                    tracing::info!(participant = %self.id, remote, "{detail}");
                    self.event(remote, "codec", &detail);
                }
                Ok(None) => {}
                Err(problem) => {
                    tracing::warn!(participant = %self.id, remote, "{problem}");
                    self.event(
                        remote,
                        "codec",
                        &format!(
                            "{}: {problem}; {} receives no {} from us",
                            self.name_of(remote),
                            self.name_of(remote),
                            track.kind
                        ),
                    );
                }
            }
        }
    }

    /// Make the call with `remote` final: failed, no ICE restarts, and why, in the report and on
    /// its tile.
    fn refuse_link(&mut self, remote: &str, why: &str) {
        let Some(link) = self.links.get_mut(remote) else { return };
        link.policy.give_up();
        link.setup_judged = true;
        link.local_offer_pending = false;
        link.record.locked().state = "failed".into();
        let reason = format!("refused the call with {}: {why}", self.name_of(remote));
        self.event(remote, "refused", &reason);
        self.status(remote, "failed", &reason);
    }

    /// A session description from `remote` failed our check. A call that never connected is
    /// refused (no restarts; the report and the tile say why); an established call keeps going
    /// on what was agreed before and the new description is ignored.
    async fn refuse(&mut self, remote: &str, problem: &natter_ice::sdp::SdpProblem) -> Result<(), CallError> {
        let name = self.name_of(remote);
        tracing::warn!(participant = %self.id, remote, "refused a session description: {problem}");
        if self
            .links
            .get(remote)
            .is_some_and(|l| l.record.locked().connect_ms.is_some())
        {
            self.event(
                remote,
                "ignored",
                &format!("ignored a new session description from {name}: {problem}"),
            );
            return Ok(());
        }
        self.open_link(remote, &VideoCodec::OFFERED).await?;
        self.refuse_link(remote, &problem.to_string());
        Ok(())
    }

    async fn on_remote_candidate(&mut self, from: &str, candidate: IceCandidate) -> Result<(), CallError> {
        tracing::debug!(participant = %self.id, remote = from, candidate = %candidate.candidate, "remote candidate");
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        // Signaling is one ordered WebSocket, so a candidate never overtakes its offer: a
        // candidate from someone we have no connection with is noise, not a reason to open one.
        let Some(link) = self.links.get_mut(from) else {
            return Err(CallError::Signaling(format!(
                "candidate from {from}, with whom no call is being set up"
            )));
        };
        if init.candidate.is_empty() {
            // End-of-candidates: nothing for the stack, but the setup watch need not wait.
            link.setup.on_remote_gathering_complete();
            return Ok(());
        }
        link.setup.on_remote_candidate(&init.candidate, Instant::now());
        if init
            .candidate
            .split_whitespace()
            .nth(4)
            .is_some_and(|address| address.ends_with(".local"))
        {
            link.record.locked().remote_mdns_candidates = true;
        }
        if link.has_remote_description {
            link.pc.add_ice_candidate(init).await.map_err(wrap)?;
        } else {
            link.pending_candidates.push(init);
        }
        Ok(())
    }

    async fn flush_candidates(&mut self, remote: &str) {
        let Some(link) = self.links.get_mut(remote) else { return };
        for candidate in std::mem::take(&mut link.pending_candidates) {
            if let Err(e) = link.pc.add_ice_candidate(candidate).await {
                tracing::warn!(remote, "remote candidate rejected: {e}");
            }
        }
    }

    async fn on_link(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::LocalCandidate { remote, candidate } => {
                tracing::debug!(participant = %self.id, remote, candidate = %candidate.candidate, "local candidate");
                if let Some(link) = self.links.get_mut(&remote) {
                    link.setup.on_local_candidate(&candidate.candidate);
                }
                if candidate.candidate.is_empty() {
                    return;
                }
                if let Some(url) = candidate.url.as_ref().filter(|u| !u.is_empty()) {
                    let url = crate::bridge::original_of(url)
                        .map(|(original, _)| original)
                        .unwrap_or_else(|| url.clone());
                    self.shared.gathered_from.locked().insert(url);
                }
                let Some(link) = self.links.get(&remote) else { return };
                let mut tagged = link.tagged(&candidate.candidate);
                // Keep what the stack filled in; the tag fills what it left empty.
                if let Some(mid) = candidate.sdp_mid.filter(|m| !m.is_empty()) {
                    tagged.sdp_mid = Some(mid);
                }
                if let Some(ufrag) = candidate.username_fragment.filter(|u| !u.is_empty()) {
                    tagged.username_fragment = Some(ufrag);
                }
                self.send(ClientMessage::Candidate {
                    to: remote,
                    candidate: tagged,
                })
                .await;
            }
            LinkEvent::State { remote, state } => self.on_state(&remote, state).await,
            LinkEvent::GatheringComplete { remote } => {
                let Some(link) = self.links.get_mut(&remote) else {
                    return;
                };
                link.setup.on_gathering_complete();
                // End-of-candidates (W3C: an empty candidate), so a peer that waits for it can
                // judge its pairs.
                let end = link.tagged("");
                self.send(ClientMessage::Candidate {
                    to: remote,
                    candidate: end,
                })
                .await;
            }
            LinkEvent::Track { remote, track } => self.on_track(&remote, track).await,
        }
    }

    async fn on_state(&mut self, remote: &str, state: RTCPeerConnectionState) {
        let elapsed_ms = self.joined_at.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(participant = %self.id, remote, %state, elapsed_ms, "connection state");
        let Some(link) = self.links.get_mut(remote) else { return };
        let policy_state = match state {
            RTCPeerConnectionState::Connected => Some(LinkState::Connected),
            RTCPeerConnectionState::Disconnected => Some(LinkState::Disconnected),
            RTCPeerConnectionState::Failed => Some(LinkState::Failed),
            RTCPeerConnectionState::Connecting => Some(LinkState::Connecting),
            _ => None,
        };
        let was_restarting = link.policy.attempts() > 0;
        if let Some(policy_state) = policy_state {
            link.policy.on_state(policy_state, Instant::now());
        }
        // ICE found a path but the connection failed before it ever connected: the DTLS
        // handshake failed (see `DTLS_REFUSED`).
        let never_connected = link.record.locked().connect_ms.is_none();
        if state == RTCPeerConnectionState::Failed
            && never_connected
            && link.ice_connected.get().is_some()
            && !link.policy.gave_up()
        {
            let pc = Arc::clone(&link.pc);
            let lossy = peer::check_loss(&pc).await.is_none_or(|loss| loss >= LOSSY_CHECKS);
            self.refuse_link(remote, if lossy { DTLS_INCOMPLETE } else { DTLS_REFUSED });
            return;
        }
        {
            let mut record = link.record.locked();
            if state == RTCPeerConnectionState::Closed {
                // We close only links we already removed, so this is the remote hanging up
                // (DTLS close_notify overtook its `leave`): keep the call's last state.
                record.left_ms.get_or_insert(elapsed_ms);
                return;
            }
            if link.policy.gave_up() {
                return; // final: keep "failed" and the reason
            }
            record.state = state.to_string();
            if state == RTCPeerConnectionState::Connected && record.connect_ms.is_none() {
                record.connect_ms = Some(elapsed_ms);
            }
            // `connected` / `recovered` are recorded below, once the new path is known.
            let kind = match state {
                RTCPeerConnectionState::Disconnected => Some("disconnected"),
                RTCPeerConnectionState::Failed => Some("failed"),
                _ => None,
            };
            // A connection that never worked: say why, as far as the candidates tell.
            let detail = match state {
                RTCPeerConnectionState::Failed if record.connect_ms.is_none() => link.setup.explain(),
                RTCPeerConnectionState::Failed => {
                    "the path in use stopped working and no other path answered".to_string()
                }
                _ => String::new(),
            };
            if let Some(kind) = kind {
                record.events.push(PeerEvent {
                    at_ms: elapsed_ms,
                    kind: kind.into(),
                    detail,
                });
            }
        }
        if state == RTCPeerConnectionState::Connected && was_restarting {
            // A new path: ask for a keyframe now rather than waiting for a PLI round trip.
            self.encoded.request_keyframe();
        }
        if state == RTCPeerConnectionState::Connected {
            link.setup_judged = true;
        }
        match state {
            RTCPeerConnectionState::Connected => {
                let first_connect = link.tasks.is_empty();
                if first_connect {
                    self.encoded.request_keyframe();
                    let video = send::spawn_video_writer(link, self.encoded.clone(), self.config.media.fps);
                    let audio = send::spawn_audio_writer(link, self.encoded.audio.subscribe());
                    let requests = send::spawn_keyframe_request_listener(link, self.encoded.clone());
                    link.tasks.extend([video, audio, requests]);
                }
                // The other side learns our microphone/camera state as the call starts.
                if first_connect && (self.encoded.audio_muted() || self.encoded.video_muted()) {
                    self.send_media_state(remote).await;
                }
                let name = self.name_of(remote);
                let link = self.links.get_mut(remote).expect("link exists");
                let path = peer::current_path(&link.pc).await;
                if let Some(rtt_ms) = path.as_ref().and_then(|(_, rtt)| *rtt) {
                    link.estimate
                        .seed_rtt(Duration::from_secs_f64(rtt_ms.max(0.0) / 1000.0));
                }
                let previous_relay = std::mem::replace(
                    &mut link.relay_in_use,
                    path.as_ref().and_then(|(p, _)| p.relay_server.clone()),
                );
                let detail = path
                    .as_ref()
                    .map(|(p, _)| describe_path(p))
                    .unwrap_or_else(|| "connected".into());
                {
                    let mut record = link.record.locked();
                    let (kind, event_detail) = if was_restarting {
                        // "Moved the call with Bob to relay turn:b:3478 over TCP in 2.8 s (was relay turn:a:3478)."
                        let broke_at = record
                            .events
                            .iter()
                            .rev()
                            .find(|e| e.kind == "disconnected" || e.kind == "failed")
                            .map(|e| e.at_ms);
                        let took = broke_at
                            .map(|at| format!(" in {:.1} s", (elapsed_ms - at) / 1000.0))
                            .unwrap_or_default();
                        let was = previous_relay
                            .filter(|url| Some(url) != link.relay_in_use.as_ref())
                            .map(|url| format!(" (was relay {url})"))
                            .unwrap_or_default();
                        (
                            "recovered",
                            format!("moved the call with {name} to {detail}{took}{was}"),
                        )
                    } else {
                        ("connected", detail.clone())
                    };
                    record.events.push(PeerEvent {
                        at_ms: elapsed_ms,
                        kind: kind.into(),
                        detail: event_detail,
                    });
                }
                self.status(remote, "connected", &detail);
            }
            RTCPeerConnectionState::Failed => {
                self.status(remote, "connecting", "no path works right now; trying other servers…")
            }
            RTCPeerConnectionState::Disconnected => {
                // Tell every other connection: if the relay died, none should restart onto it.
                if let (Some(url), Some(board)) = (&link.relay_in_use, &self.config.board) {
                    board.report_failure(
                        url,
                        &format!(
                            "stopped carrying the call with {}",
                            self.names.get(remote).map(String::as_str).unwrap_or(remote)
                        ),
                    );
                }
                self.status(remote, "connecting", "connection interrupted, checking paths…")
            }
            _ => {}
        }
    }

    fn event(&self, remote: &str, kind: &str, detail: &str) {
        let at_ms = self.joined_at.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(participant = %self.id, remote, kind, "{detail}");
        if let Some(link) = self.links.get(remote) {
            link.record.locked().events.push(PeerEvent {
                at_ms,
                kind: kind.into(),
                detail: detail.into(),
            });
        }
    }

    async fn working_config(&self) -> (natter_ice::IceConfig, Vec<String>) {
        match &self.config.board {
            Some(board) => board.working_config().await,
            None => (self.config.link.ice.clone(), Vec::new()),
        }
    }

    /// Tell `remote` whether our microphone and camera are off.
    async fn send_media_state(&self, remote: &str) {
        let (audio_muted, video_muted) = (self.encoded.audio_muted(), self.encoded.video_muted());
        self.send(ClientMessage::MediaState {
            to: remote.to_string(),
            audio_muted,
            video_muted,
        })
        .await;
    }

    /// A local device changed (none found, lost, back): the others learn whether we still send,
    /// the user learns what happened.
    async fn on_media_notice(&mut self, notice: crate::capture::MediaNotice) {
        if let Some(view) = &self.config.view {
            let _ = view.events.try_send(ViewEvent::Notice {
                medium: notice.medium.as_str().into(),
                message: notice.message,
            });
        }
        let remotes: Vec<String> = self.links.keys().cloned().collect();
        for remote in remotes {
            self.send_media_state(&remote).await;
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            #[cfg(feature = "fault-injection")]
            Command::Panic => {
                let _held = self.shared.peers.locked();
                panic!("injected fault: the engine of {} panics", self.config.name);
            }
            Command::SetMuted { audio, video } => {
                if let Some(muted) = audio {
                    self.encoded.set_audio_muted(muted);
                }
                if let Some(muted) = video {
                    self.encoded.set_video_muted(muted);
                }
                tracing::info!(participant = %self.id, audio_muted = self.encoded.audio_muted(), video_muted = self.encoded.video_muted(), "media state");
                let remotes: Vec<String> = self.links.keys().cloned().collect();
                for remote in remotes {
                    self.send_media_state(&remote).await;
                }
            }
            Command::SetIceConfig(ice) => {
                tracing::info!(participant = %self.id, servers = ice.urls().count(), "ICE servers changed; restarting every connection");
                self.config.link.ice = ice.clone();
                if let Some(board) = &self.config.board {
                    board.set_base(ice).await;
                }
                let remotes: Vec<String> = self.links.keys().cloned().collect();
                for remote in remotes {
                    if let Err(e) = self.restart_ice(&remote, "the ICE servers were changed").await {
                        tracing::warn!(participant = %self.id, remote, "ICE restart failed to start: {e}");
                    }
                }
            }
        }
    }

    /// Connections still on their first attempt: is any of them hopeless already? The stack
    /// would say `failed` only after 8.5 s, without a reason; `diagnosis` knows sooner and why.
    async fn on_setup_tick(&mut self) {
        let now = Instant::now();
        let handshake_stuck: Vec<String> = self
            .links
            .iter()
            .filter(|(_, l)| {
                !l.setup_judged
                    && l.ice_connected
                        .get()
                        .is_some_and(|at| now.duration_since(*at) >= DTLS_HANDSHAKE_LIMIT)
            })
            .map(|(remote, _)| remote.clone())
            .collect();
        for remote in handshake_stuck {
            // Stuck, not failed: the stack does not say why. A path that answers our checks
            // without loss does not lose handshakes; there the certificate is the likely cause.
            // A lossy path gets longer, its resends may still get through.
            let Some(link) = self.links.get(&remote) else { continue };
            let (pc, found) = (Arc::clone(&link.pc), link.ice_connected.get().copied());
            let lossy = peer::check_loss(&pc).await.is_none_or(|loss| loss >= LOSSY_CHECKS);
            if !lossy {
                self.refuse_link(&remote, DTLS_REFUSED);
            } else if found.is_some_and(|at| now.duration_since(at) >= DTLS_HANDSHAKE_LIMIT_LOSSY) {
                self.refuse_link(&remote, DTLS_INCOMPLETE);
            }
        }
        let candidates: Vec<(String, Arc<dyn PeerConnection>)> = self
            .links
            .iter()
            .filter(|(_, l)| !l.setup_judged && l.setup.ready_to_judge(now))
            .map(|(remote, l)| (remote.clone(), Arc::clone(&l.pc)))
            .collect();
        for (remote, pc) in candidates {
            let Some(pairs) = peer::pair_counts(&pc).await else {
                continue;
            };
            tracing::debug!(participant = %self.id, remote, ?pairs, "setup check");
            let Some(link) = self.links.get_mut(&remote) else {
                continue;
            };
            let Some(reason) = link.setup.verdict(pairs, Instant::now()) else {
                continue;
            };
            link.setup_judged = true;
            link.policy.on_state(LinkState::Failed, Instant::now());
            link.record.locked().state = "failed".into();
            self.event(&remote, "failed", &reason);
            self.status(
                &remote,
                "connecting",
                &format!("cannot connect yet: {reason}; still trying…"),
            );
        }
    }

    /// Connected links that stopped carrying media: the path died (e.g. its relay). Treat that
    /// as a failure now instead of waiting for ICE consent checks to notice (2.5 s + grace).
    async fn on_media_tick(&mut self) {
        let now = Instant::now();
        let mut stopped = Vec::new();
        let mut stalls = Vec::new();
        {
            let peers = self.shared.peers.locked();
            for (remote, link) in self.links.iter_mut() {
                let Some(shared) = peers.get(remote) else { continue };
                let (total, expecting) = media_progress(shared, link);
                if let Some(since) = link.media_watch.observe(now, total, expecting) {
                    stopped.push((remote.clone(), since));
                }
                let now_ms = now.duration_since(self.joined_at).as_secs_f64() * 1000.0;
                let stall = shared.video.locked().ongoing_freeze(now_ms);
                let video_expected = expecting && !link.record.locked().remote_video_muted;
                match (stall, link.video_stalled_since) {
                    (Some(freeze), None) if video_expected && freeze.duration_ms() >= VIDEO_STALL_MS => {
                        link.video_stalled_since = Some(freeze.from_ms);
                        stalls.push((remote.clone(), freeze, true));
                    }
                    (None, Some(from_ms)) => {
                        link.video_stalled_since = None;
                        stalls.push((remote.clone(), crate::report::Freeze { from_ms, to_ms: now_ms }, false));
                    }
                    _ => {}
                }
            }
        }
        // Video that stands still on a connection that is up: said in words, and when it is back.
        for (remote, freeze, began) in stalls {
            let name = self.name_of(&remote);
            let Some(link) = self.links.get(&remote) else { continue };
            let (kind, at_ms, detail) = if began {
                (
                    "video_stalled",
                    freeze.from_ms,
                    format!(
                        "{name}'s picture stopped: no new frame for {:.1} s although the connection is up (the path may be congested or losing packets)",
                        freeze.duration_ms() / 1000.0
                    ),
                )
            } else {
                (
                    "video_resumed",
                    freeze.to_ms,
                    format!(
                        "{name}'s picture is moving again after {:.1} s",
                        freeze.duration_ms() / 1000.0
                    ),
                )
            };
            tracing::info!(participant = %self.id, remote, kind, "{detail}");
            link.record.locked().events.push(PeerEvent {
                at_ms,
                kind: kind.into(),
                detail,
            });
        }
        for (remote, since) in stopped {
            self.note_media_stopped(&remote, since, now);
            if let Some(link) = self.links.get_mut(&remote) {
                link.policy.on_media_stopped(now);
            }
            self.status(&remote, "connecting", "connection interrupted, moving to another path…");
        }
    }

    /// The link with `remote` carried nothing since `since`: an event in words (dated when the
    /// outage began, with the last packet), and no other connection restarts onto its relay.
    fn note_media_stopped(&mut self, remote: &str, since: Instant, now: Instant) {
        let name = self.name_of(remote);
        let Some(link) = self.links.get_mut(remote) else { return };
        let silent_s = now.duration_since(since).as_secs_f64();
        tracing::info!(participant = %self.id, remote, silent_s, "no media on a connected link");
        let at_ms = since.duration_since(self.joined_at).as_secs_f64() * 1000.0;
        let detail = format!("no audio or video from {name} for {silent_s:.1} s: the path stopped carrying media");
        link.record.locked().events.push(PeerEvent {
            at_ms,
            kind: "disconnected".into(),
            detail,
        });
        if let (Some(url), Some(board)) = (&link.relay_in_use, &self.config.board) {
            board.report_failure(url, &format!("stopped carrying the call with {name}"));
        }
    }

    /// The remote restarted ICE. If our side of the link also went silent, the path broke here
    /// too (the remote merely noticed first): say so, and let the reconnection count as the
    /// recovery of this side's call, not as a fresh connection.
    fn on_remote_restart(&mut self, remote: &str) {
        let now = Instant::now();
        let since = {
            let peers = self.shared.peers.locked();
            let (Some(shared), Some(link)) = (peers.get(remote), self.links.get_mut(remote)) else {
                return;
            };
            let (total, expecting) = media_progress(shared, link);
            link.media_watch
                .observe_with_limit(now, total, expecting, REMOTE_RESTART_SILENCE)
        };
        if let Some(since) = since {
            self.note_media_stopped(remote, since, now);
            if let Some(link) = self.links.get_mut(remote) {
                link.policy.on_remote_restart(now);
            }
        }
    }

    /// A restart policy came due: restart ICE (if we drive this pair) or give up.
    async fn on_policy_timer(&mut self) {
        let now = Instant::now();
        let mut actions = Vec::new();
        for (remote, link) in self.links.iter_mut() {
            if let Some(action) = link.policy.handle_timeout(now) {
                actions.push((remote.clone(), action, link.offerer));
            }
        }
        for (remote, action, offerer) in actions {
            match action {
                Action::Restart { attempt } if offerer => {
                    if let Err(e) = self.restart_ice(&remote, &format!("attempt {attempt}")).await {
                        tracing::warn!(participant = %self.id, remote, "ICE restart failed to start: {e}");
                    }
                }
                Action::Restart { attempt } => {
                    tracing::info!(participant = %self.id, remote, attempt, "connection broken; the remote drives the ICE restart");
                }
                Action::GiveUp { reason } => {
                    self.event(&remote, "gave_up", &reason);
                    if let Some(link) = self.links.get(&remote) {
                        link.record.locked().state = "failed".into();
                    }
                    self.status(&remote, "failed", &format!("cannot reach this participant: {reason}"));
                }
            }
        }
    }

    /// Restart ICE with the servers that work now and send the new offer.
    async fn restart_ice(&mut self, remote: &str, why: &str) -> Result<(), CallError> {
        let (config, dropped) = self.working_config().await;
        let relay_only = self.config.link.relay_only;
        let link = self
            .links
            .get_mut(remote)
            .ok_or_else(|| CallError::WebRtc(format!("no connection to {remote}")))?;
        link.pc
            .set_configuration(webrtc_setup::rtc_configuration(&config, relay_only))
            .await
            .map_err(wrap)?;
        let offer = link
            .pc
            .create_offer(Some(RTCOfferOptions { ice_restart: true }))
            .await
            .map_err(wrap)?;
        link.pc.set_local_description(offer.clone()).await.map_err(wrap)?;
        link.on_local_description(&offer.sdp);
        link.local_offer_pending = true;
        let detail = restart_detail(&config, &dropped, why);
        self.event(remote, "ice_restart", &detail);
        self.status(remote, "connecting", "reconnecting through another path…");
        self.send(ClientMessage::Offer {
            to: remote.to_string(),
            sdp: offer.sdp,
        })
        .await;
        Ok(())
    }

    async fn on_track(&mut self, remote: &str, track: Arc<dyn TrackRemote>) {
        let Some(shared) = self.shared.peers.locked().get(remote).map(|p| {
            (
                Arc::clone(&p.record),
                Arc::clone(&p.video),
                Arc::clone(&p.audio_packets),
            )
        }) else {
            return;
        };
        let (record, video, audio_packets) = shared;
        let kind = track.kind().await;
        let joined_at = self.joined_at;
        let view = self.config.view.clone();
        let label = self.name_of(remote);
        let remote = remote.to_string();
        let task = match kind {
            RtpCodecKind::Video => {
                let types = self
                    .links
                    .get(&remote)
                    .map(|l| Arc::clone(&l.receive_video_types))
                    .unwrap_or_default();
                tokio::spawn(receive_video(
                    track,
                    remote.clone(),
                    label,
                    record,
                    video,
                    joined_at,
                    view,
                    types,
                ))
            }
            _ => {
                let playout = self.config.playout.clone();
                let remote = remote.clone();
                tokio::spawn(async move {
                    while let Some(event) = track.poll().await {
                        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                            audio_packets.fetch_add(1, Ordering::Relaxed);
                            if let Some(playout) = &playout {
                                playout.push(
                                    &remote,
                                    packet.header.sequence_number,
                                    packet.header.timestamp,
                                    packet.payload.to_vec(),
                                );
                            }
                        }
                    }
                })
            }
        };
        if let Some(link) = self.links.get_mut(&remote) {
            link.tasks.push(task);
        }
    }
}

/// "relay turn:b:3478?transport=tcp over TCP" or "direct path (host → srflx)".
fn describe_path(path: &crate::report::PathReport) -> String {
    match (&path.relay_server, &path.relay_transport) {
        (Some(server), transport) if path.local_candidate == "relay" => {
            format!(
                "relay {server} over {}",
                transport.as_deref().unwrap_or("udp").to_uppercase()
            )
        }
        _ if path.local_candidate == "relay" => "a TURN relay".to_string(),
        _ => format!("direct path ({} → {})", path.local_candidate, path.remote_candidate),
    }
}

/// "attempt 2: using turn:b:3478; left out turn:a:3478 (timeout …)".
fn restart_detail(config: &natter_ice::IceConfig, dropped: &[String], why: &str) -> String {
    let using: Vec<String> = config.urls().map(|(u, _)| u.original.clone()).collect();
    let mut detail = format!(
        "{why}: using {}",
        if using.is_empty() {
            "host candidates only".to_string()
        } else {
            using.join(", ")
        }
    );
    if !dropped.is_empty() {
        detail.push_str(&format!("; left out {}", dropped.join(", ")));
    }
    detail
}

fn wrap(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(e.to_string())
}

/// How often a connection being set up is checked for hopelessness (see `diagnosis`).
/// How often first attempts are judged (`diagnosis`) and connected links checked for media
/// (`fallback::MediaWatch`).
const CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Silence on our side that confirms the path broke when the remote restarts ICE (15 missing
/// Opus packets: not jitter).
const REMOTE_RESTART_SILENCE: Duration = Duration::from_millis(300);

/// Media received on a link so far, and whether any is expected (connected, not all muted).
fn media_progress(shared: &PeerShared, link: &PeerLink) -> (u64, bool) {
    let total = shared.audio_packets.load(Ordering::Relaxed) + shared.video.locked().frames_received;
    let record = link.record.locked();
    let expecting = record.state == "connected" && !(record.remote_audio_muted && record.remote_video_muted);
    (total, expecting)
}
/// A picture that stands still this long on a connection that is up is an event in words.
const VIDEO_STALL_MS: f64 = 2_000.0;

/// RTP → access units (here) → decode + stamp check (on a decoder thread, off the async runtime).
#[allow(clippy::too_many_arguments)]
async fn receive_video(
    track: Arc<dyn TrackRemote>,
    remote: String,
    label: String,
    record: Arc<Mutex<PeerReport>>,
    stats: Arc<Mutex<VideoStats>>,
    joined_at: Instant,
    view: Option<ViewSink>,
    payload_types: Arc<Mutex<HashMap<u8, VideoCodec>>>,
) {
    let (frame_tx, frame_rx) = std::sync::mpsc::sync_channel::<(VideoCodec, bytes::Bytes)>(30);
    let decoder_stats = Arc::clone(&stats);
    let decoder_remote = remote.clone();
    let needs_keyframe = Arc::new(AtomicBool::new(true));
    let decoder_needs_keyframe = Arc::clone(&needs_keyframe);
    let decoder_record = Arc::clone(&record);
    let decoder = std::thread::Builder::new()
        .name(format!("decode-{remote}"))
        .spawn(move || {
            let target = media::DecodeTarget {
                remote: &decoder_remote,
                label: &label,
                record: &decoder_record,
                stats: &decoder_stats,
                joined_at,
                view: view.as_ref(),
                needs_keyframe: &decoder_needs_keyframe,
            };
            media::decode_loop(frame_rx, target)
        });
    if let Err(e) = decoder {
        tracing::error!(remote, "could not start a decoder thread: {e}");
        return;
    }
    // The assembler follows the payload type of what arrives (a renegotiation may change it).
    let mut assembler: Option<(u8, VideoCodec, VideoAssembler)> = None;
    let mut pli = PliPacer::new(crate::keyframe::PLI_REPEAT_UNKNOWN_RTT);
    // Packets back in order, gaps waited for about a retransmission round trip (see `reorder`).
    let mut reorder: ReorderBuffer<rtc::rtp::Packet> = ReorderBuffer::new();
    let mut media_ssrc = None;
    let mut rtt_read_at = Instant::now();
    loop {
        // `None`: the reorder buffer's deadline passed with nothing new (a gap to give up on).
        let polled = match reorder.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), track.poll()).await.ok(),
            None => Some(track.poll().await),
        };
        let now = Instant::now();
        if let Some(event) = polled {
            let Some(event) = event else { break };
            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                media_ssrc = Some(packet.header.ssrc);
                reorder.push(packet.header.sequence_number, packet, now);
            }
        }
        if now.duration_since(rtt_read_at) > Duration::from_secs(1) {
            rtt_read_at = now;
            if let Some(rtt) = record.locked().rtt_ms {
                let rtt = Duration::from_secs_f64(rtt.max(0.0) / 1000.0);
                reorder.set_round_trip(rtt);
                pli.set_round_trip(rtt);
            }
        }
        stats.locked().reorder = reorder.stats();
        while let Some(released) = reorder.pop(now) {
            let Released::Packet(packet) = released else { continue };
            let pt = packet.header.payload_type;
            if assembler.as_ref().is_none_or(|(current, _, _)| *current != pt) {
                let known = payload_types.locked().get(&pt).copied();
                let Some((codec, frames)) = known.and_then(|c| Some((c, VideoAssembler::for_mime(c.mime())?))) else {
                    tracing::debug!(remote, pt, "video with a payload type we did not agree on; ignored");
                    continue;
                };
                tracing::info!(remote, pt, %codec, "receiving video");
                assembler = Some((pt, codec, frames));
                needs_keyframe.store(true, Ordering::Relaxed);
            }
            let (_, codec, frames) = assembler.as_mut().expect("set above");
            match frames.push(
                packet.header.sequence_number,
                packet.header.timestamp,
                packet.header.marker,
                &packet.payload,
            ) {
                Assembled::Frame(frame) => {
                    stats.locked().on_received();
                    if frame_tx.try_send((*codec, frame)).is_err() {
                        tracing::debug!(remote, "decoder is behind; dropping a frame");
                        // What follows depends on the dropped frame: wait for the next keyframe.
                        frames.skip_to_keyframe();
                        needs_keyframe.store(true, Ordering::Relaxed);
                    }
                }
                Assembled::Lost => needs_keyframe.store(true, Ordering::Relaxed),
                Assembled::Pending => {}
            }
        }
        if let Some(media_ssrc) = media_ssrc
            && pli.poll(needs_keyframe.load(Ordering::Relaxed), now)
        {
            let request = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            if let Err(e) = track.write_rtcp(vec![Box::new(request)]).await {
                tracing::debug!(remote, "could not send a keyframe request: {e}");
            }
        }
    }
}
