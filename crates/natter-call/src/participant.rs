//! A participant: one local user in one room. `Participant` is the handle the application holds
//! (join, report, mute, change servers, leave); behind it a task runs the participant's `driver`
//! around its `call_core::CallCore`, supervised: a panic ends this participant's call cleanly
//! and stays its own. The decisions are the core's; the I/O is in `driver` and `link_task`.
//!
//! Mesh convention (docs/signaling.md): the newcomer offers to everyone listed in `welcome`;
//! existing participants answer.

use crate::CallError;
use crate::call_core::{CallCore, Command, CoreSettings};
use crate::driver::{Driver, Request};
use crate::link_task::LinkContext;
use crate::media::{self, MediaSettings, ViewSink};
use crate::peer::LinkSettings;
use crate::records::Records;
use crate::report::ParticipantReport;
use crate::sync::Locked;
use crate::view::ViewEvent;
use natter_signal::client::{JoinRequest, SignalClient};
use natter_signal::protocol::RejoinKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

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

/// The signaling connection in use, shared by the participant (to leave) and its driver (to
/// send); replaced when signaling comes back after a drop.
#[derive(Clone)]
pub(crate) struct SignalLine(pub(crate) Arc<Mutex<SignalClient>>);

impl SignalLine {
    pub(crate) fn current(&self) -> SignalClient {
        self.0.locked().clone()
    }
}

/// A fresh random rejoin key: with it the signaling server gives this participant the same id
/// when it joins again after a drop or a server restart.
fn new_rejoin_key() -> RejoinKey {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator works");
    RejoinKey(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A joined participant. Dropping it without `leave` aborts its tasks.
pub struct Participant {
    pub id: String,
    pub name: String,
    pub joined_at: Instant,
    records: Arc<Records>,
    frames_sent: Arc<AtomicU64>,
    stop_media: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    line: SignalLine,
    requests: mpsc::UnboundedSender<Request>,
    /// Where the others' audio is played, if anywhere (its jitter stats go into the report).
    playout: Option<Arc<crate::playout::AudioPlayout>>,
    /// This participant's camera and microphone (switching, their state for the report).
    encoded: media::EncodedStreams,
    /// Its TURN-over-TCP/TLS bridges (the report names the servers behind them).
    bridges: crate::bridge::Bridges,
}

/// A room joined on its signaling server and nothing more: no camera or microphone open, no
/// connection offered. What the server sends meanwhile waits (in order) for [`Participant::start`].
/// Joining first lets an app learn that a room is reachable and lets it in (server up, secret
/// right) before it gives anything up for it; dropping this leaves the room.
pub struct SignalingJoined {
    client: SignalClient,
    welcome: natter_signal::protocol::Welcome,
    server_rx: mpsc::Receiver<natter_signal::protocol::ServerMessage>,
    request: JoinRequest,
}

impl SignalingJoined {
    /// Join `room` on the server at `signal_url` as `name` (with the room's secret, if any).
    pub async fn connect(
        signal_url: &str,
        room: &str,
        name: &str,
        room_secret: Option<natter_signal::protocol::RoomSecret>,
    ) -> Result<SignalingJoined, CallError> {
        let request = JoinRequest {
            secret: room_secret,
            rejoin_key: Some(new_rejoin_key()),
            ..JoinRequest::new(room, name)
        };
        let (client, welcome, server_rx) = SignalClient::join_request(signal_url, &request).await?;
        Ok(SignalingJoined {
            client,
            welcome,
            server_rx,
            request,
        })
    }

    /// Our id in the room.
    pub fn id(&self) -> &str {
        self.client.id()
    }
}

impl Participant {
    /// Join the room: connect to signaling, start capture/encode, offer to everyone already there.
    pub async fn join(config: ParticipantConfig) -> Result<Participant, CallError> {
        let joined = SignalingJoined::connect(
            &config.signal_url,
            &config.room,
            &config.name,
            config.room_secret.clone(),
        )
        .await?;
        Participant::start(joined, config)
    }

    /// Start the call in a room already joined on signaling (`joined`, made from the same
    /// `config`'s server, room, name and secret): capture/encode, offer to everyone there.
    pub fn start(joined: SignalingJoined, config: ParticipantConfig) -> Result<Participant, CallError> {
        let SignalingJoined {
            client,
            welcome,
            server_rx,
            request,
        } = joined;
        // The call starts now (the core's timers run from here), however long ago the room was
        // joined on signaling.
        let joined_at = Instant::now();
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
        let records = Arc::new(Records::default());
        let (to_driver, from_links) = mpsc::unbounded_channel();
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let sender = crate::driver::send_in_order(line.clone(), outbox_rx, id.clone());
        let core_settings = CoreSettings {
            id: id.clone(),
            recovery: !config.link.stack_defaults,
        };
        let driver = Driver {
            core: CallCore::new(core_settings, &welcome, joined_at)
                .with_local_media(encoded.audio_muted(), encoded.video_muted()),
            context: LinkContext {
                local_id: id.clone(),
                settings: config.link.clone(),
                joined_at,
                encoded: encoded.clone(),
                fps: config.media.fps,
                view: config.view.clone(),
                playout: config.playout.clone(),
                to_driver,
            },
            config: config.clone(),
            line: line.clone(),
            join_request: request,
            links: HashMap::new(),
            epochs: 0,
            records: Arc::clone(&records),
            encoded: encoded.clone(),
            outbox,
        };
        let (requests, request_rx) = mpsc::unbounded_channel();
        let driver_task = AbortOnDrop(tokio::spawn(async move {
            // The sender ends with the driver (a panic included): no message outlives it.
            let sender = AbortOnDrop(tokio::spawn(sender));
            driver.run(server_rx, from_links, request_rx, notice_rx).await;
            drop(sender);
        }));
        let task = tokio::spawn(supervise(
            driver_task,
            Arc::clone(&records),
            line.clone(),
            Arc::clone(&stop_media),
            config.view.clone(),
            id.clone(),
        ));
        Ok(Participant {
            id,
            name: config.name,
            joined_at,
            records,
            frames_sent,
            stop_media,
            task,
            line,
            requests,
            playout: config.playout.clone(),
            encoded,
            bridges: config.link.bridges.clone(),
        })
    }

    /// The report of this participant now (re-reads the selected path of each connection).
    pub async fn snapshot(&self) -> ParticipantReport {
        let peers = self
            .records
            .peer_reports(self.joined_at, &self.encoded, self.playout.as_deref(), &self.bridges)
            .await;
        ParticipantReport {
            id: self.id.clone(),
            name: self.name.clone(),
            peers,
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            local_media: self.encoded.local_media(),
            signaling: self.records.signaling.locked().clone(),
            crashed: self.records.crashed.locked().clone(),
        }
    }

    /// Replace the ICE servers during the call (the settings page's "apply"): every connection
    /// restarts ICE onto the new servers; media continues on the old path until the new one works.
    pub fn set_ice_config(&self, ice: natter_ice::IceConfig) {
        let _ = self.requests.send(Request::Core(Command::SetIceConfig(ice)));
    }

    /// Turn the microphone off (`true`) or on; the others see it on this participant's tile.
    pub fn set_audio_muted(&self, muted: bool) {
        let _ = self.requests.send(Request::SetMuted {
            audio: Some(muted),
            video: None,
        });
    }

    /// Turn the camera off (`true`) or on.
    pub fn set_video_muted(&self, muted: bool) {
        let _ = self.requests.send(Request::SetMuted {
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

    /// Make the driver task panic (while holding a shared lock), to test that a crash stays
    /// this participant's own.
    #[cfg(feature = "fault-injection")]
    pub fn inject_engine_panic(&self) {
        let _ = self.requests.send(Request::Panic);
    }

    /// STUN/TURN URLs from which this participant gathered candidates so far.
    pub fn gathered_from(&self) -> Vec<String> {
        self.records.gathered_from.locked().iter().cloned().collect()
    }

    /// Leave the room and close every connection.
    pub async fn leave(self) {
        self.stop_media.store(true, Ordering::Relaxed);
        self.task.abort();
        hang_up(&self.records, &self.line).await;
        crate::memory::release_freed_memory_soon();
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        self.stop_media.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// A task aborted when this handle is dropped (the driver must not outlive its supervisor).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wait for the driver task. If it panicked (a bug), end this participant cleanly instead of
/// leaving it half-alive: stop capture, leave signaling (the others see it leave), close every
/// connection, and say what happened in the report and the window. Other participants in the
/// process are not affected; tokio catches the panic at the task boundary.
async fn supervise(
    mut driver: AbortOnDrop,
    records: Arc<Records>,
    line: SignalLine,
    stop_media: Arc<AtomicBool>,
    view: Option<ViewSink>,
    id: String,
) {
    let Err(error) = (&mut driver.0).await else { return };
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
    *records.crashed.locked() = Some(message.clone());
    if let Some(view) = &view {
        view.tell(ViewEvent::Notice {
            medium: crate::view::NoticeAbout::Call,
            message,
        });
    }
    hang_up(&records, &line).await;
}

/// Leave signaling (the others see us leave) and close every connection still open.
async fn hang_up(records: &Records, line: &SignalLine) {
    let _ = line.current().leave().await;
    for (remote, pc) in records.open_connections() {
        crate::peer::close(&pc, &remote).await;
    }
}
