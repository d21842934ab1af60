//! The desktop shell: a Tauri window showing the call view (`ui/static`). Thin by design: the call
//! itself is `natter_call`; this module only starts/stops it and forwards what it shows.
//!
//! The page calls `start_call` with a `Channel`; the shell then sends on that channel:
//! - binary messages holding the frames waiting at that moment, the newest per tile (layout in
//!   `frame_wire.rs`), and
//! - JSON messages for everything else: `{"type":"status",tileId,label,state,detail}`,
//!   `{"type":"ended"}` when the engine stops sending.
//!
//! Flow control: frames are big (a 640×360 tile is 920 kB) and a slow webview must not make memory
//! grow nor spend its time receiving pictures it will never paint, so at most
//! `MAX_FRAMES_IN_FLIGHT` frame messages are outstanding; the page acknowledges them with
//! `frames_drawn` once painted (or replaced before painting), and frames arriving while the
//! window is behind are dropped here (the next one replaces them anyway).

use crate::frame_wire;
use natter_call::demo::{DemoHandle, DemoOptions, start_demo};
use natter_call::view::ViewEvent;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio::sync::{Mutex, mpsc};

/// What the window runs when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The embedded demo call (`natter demo`, and plain `natter`): synthetic remote participants,
    /// frames of `tile` size sent to the page.
    Demo {
        remote_participants: usize,
        tile: (u32, u32),
        render_test: bool,
    },
}

/// The page asks to join a room on a signaling server instead of the demo.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JoinRequest {
    /// `ws://host:port` (or `wss://`) of a `natter signal-server`.
    pub signal_url: String,
    pub room: String,
    pub name: String,
    /// The room's secret (optional): locks a room this join opens, opens a locked one.
    #[serde(default)]
    #[ts(as = "Option<String>", optional)]
    pub room_secret: Option<natter_signal::protocol::RoomSecret>,
}

const MAX_FRAMES_IN_FLIGHT: usize = 2;
/// If the page stops acknowledging (reloaded, hidden), forget the outstanding frames after this.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Room name of the embedded demo call (as set by `natter_call::demo`).
const DEMO_ROOM: &str = "demo";

pub fn run(mode: Mode) -> ExitCode {
    // GTK aborts the process when there is no display; say what is wrong instead.
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        eprintln!(
            "natter: no display (DISPLAY and WAYLAND_DISPLAY are unset): run it in a desktop session, under Xvfb, or use `natter headless`"
        );
        return ExitCode::from(2);
    }
    let config = natter_settings::ConfigDir::locate().map_err(|e| e.to_string());
    let result = tauri::Builder::default()
        .manage(Shell {
            mode,
            call: Mutex::new(None),
            flow: Arc::new(Flow::default()),
            health: Mutex::new(None),
            config,
            history: Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new())),
        })
        .invoke_handler(tauri::generate_handler![
            start_call,
            leave_call,
            set_muted,
            frames_drawn,
            probe_ice_servers,
            crate::settings_ui::watch_ice_health,
            crate::settings_ui::ice_health_snapshot,
            crate::settings_ui::get_settings,
            crate::settings_ui::save_settings,
            crate::settings_ui::check_ice_url,
            crate::settings_ui::test_ice_server,
            crate::settings_ui::import_ice_servers,
            crate::settings_ui::choose_device,
            crate::settings_ui::watch_devices,
            crate::settings_ui::export_ice_servers,
            crate::settings_ui::list_devices,
            crate::settings_ui::export_diagnostics,
            crate::settings_ui::logs_info,
            crate::settings_ui::set_detailed_logs,
        ])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: cannot open the window: {e}");
            ExitCode::from(2)
        }
    }
}

pub(crate) struct Shell {
    mode: Mode,
    call: Mutex<Option<RunningCall>>,
    flow: Arc<Flow>,
    /// The ICE-server health monitor the page watches (replaced by each `watch_ice_health`).
    pub(crate) health: Mutex<Option<natter_call::health::HealthMonitor>>,
    /// Where settings live (`Err`: no config directory on this system, with the reason).
    pub(crate) config: Result<natter_settings::ConfigDir, String>,
    /// The last `STATS_HISTORY` call snapshots (one per second), for the diagnostics export.
    pub(crate) history: Arc<std::sync::Mutex<std::collections::VecDeque<StatsSample>>>,
}

/// One call snapshot as the page and the diagnostics export see it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatsSample {
    /// Milliseconds since the call started.
    pub at_ms: f64,
    pub report: natter_call::report::ParticipantReport,
}

const STATS_HISTORY: usize = 120;
const STATS_INTERVAL: Duration = Duration::from_secs(1);

struct RunningCall {
    demo: Arc<DemoHandle>,
    forward: tauri::async_runtime::JoinHandle<()>,
    stats: tauri::async_runtime::JoinHandle<()>,
}

impl Shell {
    /// The call in progress, if any.
    pub(crate) async fn running_call(&self) -> Option<Arc<DemoHandle>> {
        self.call.lock().await.as_ref().map(|c| Arc::clone(&c.demo))
    }
}

impl RunningCall {
    async fn stop(self) {
        self.stats.abort();
        let _ = self.stats.await;
        match Arc::try_unwrap(self.demo) {
            Ok(demo) => demo.stop().await,
            Err(_) => tracing::warn!("call still referenced while stopping; it ends when dropped"),
        }
        self.forward.abort();
    }
}

impl Shell {
    /// Apply new ICE servers to the running call (settings saved mid-call).
    pub(crate) async fn apply_ice_config(&self, ice: natter_ice::IceConfig) {
        if let Some(call) = self.call.lock().await.as_ref() {
            call.demo.set_ice_config(ice);
        }
    }

    /// The latest call snapshots, oldest first.
    pub(crate) fn stats_history(&self) -> Vec<StatsSample> {
        self.history.lock().unwrap().iter().cloned().collect()
    }
}

/// Frames sent but not yet drawn by the page.
#[derive(Default)]
struct Flow {
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch()` of the last acknowledgement (or of the call start).
    last_ack_ms: AtomicU64,
}

impl Flow {
    fn reset(&self) {
        self.in_flight.store(0, Ordering::Relaxed);
        self.last_ack_ms.store(now_ms(), Ordering::Relaxed);
    }
    /// May another frame go out now? Counts it as in flight if so.
    fn admit(&self) -> bool {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        if in_flight < MAX_FRAMES_IN_FLIGHT {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        if now_ms().saturating_sub(self.last_ack_ms.load(Ordering::Relaxed)) > ACK_TIMEOUT.as_millis() as u64 {
            self.reset();
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }
    fn drawn(&self, count: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(count)));
        self.last_ack_ms.store(now_ms(), Ordering::Relaxed);
    }
}

fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// An error as the page sees it: a stable `code` to branch on and a sentence for the user.
#[derive(Debug, Serialize, ts_rs::TS)]
pub(crate) struct UiError {
    pub code: String,
    pub message: String,
}

impl UiError {
    pub(crate) fn new(code: &str, message: impl std::fmt::Display) -> UiError {
        UiError {
            code: code.to_string(),
            message: message.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallInfo {
    pub room: String,
    pub mode: String,
    /// Set when the saved ICE servers could not be used (the call runs without them).
    pub ice_warning: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum UiMessage<'a> {
    #[serde(rename_all = "camelCase")]
    Status {
        tile_id: &'a str,
        label: &'a str,
        state: &'a str,
        detail: &'a str,
    },
    #[serde(rename_all = "camelCase")]
    Media {
        tile_id: &'a str,
        audio_muted: bool,
        video_muted: bool,
    },
    /// Something about a local device: "camera" | "microphone" | "speaker", and a sentence.
    Notice {
        medium: &'a str,
        message: &'a str,
    },
    Ended,
}

/// Start the call this window shows (the demo, or the room in `join`) and stream it to
/// `on_event`. Replaces a running call.
#[tauri::command]
async fn start_call(
    shell: State<'_, Shell>,
    on_event: Channel<InvokeResponseBody>,
    join: Option<JoinRequest>,
) -> Result<CallInfo, UiError> {
    if let Some(join) = &join {
        let url = join.signal_url.trim();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() < 8 {
            return Err(UiError::new(
                "invalid_join",
                format!("the server address `{url}` must look like ws://host:port"),
            ));
        }
        if join.room.trim().is_empty() {
            return Err(UiError::new("invalid_join", "enter a room name"));
        }
    }
    let mut call = shell.call.lock().await;
    if let Some(previous) = call.take() {
        previous.stop().await;
    }
    shell.flow.reset();
    // The user's ICE servers; a broken settings file must not keep anyone out of a call.
    let (ice, ice_warning) = match crate::settings_ui::saved_ice_config(&shell) {
        Ok(ice) => (ice, None),
        Err(e) => (
            natter_ice::IceConfig::default(),
            Some(format!("your ICE servers are not used: {}", e.message)),
        ),
    };
    shell.history.lock().unwrap().clear();
    let Mode::Demo {
        remote_participants,
        tile: (tile_width, tile_height),
        render_test,
    } = shell.mode;
    let (tx, rx) = mpsc::channel(64);
    let (started, room, mode) = match join {
        None if render_test => {
            let handle = natter_call::demo::start_render_test(remote_participants, tile_width, tile_height, 30, tx);
            (Ok(handle), "render test".to_string(), "render-test")
        }
        None => {
            let devices = crate::settings_ui::saved_devices(&shell);
            let options = DemoOptions {
                remote_participants,
                tile_width,
                tile_height,
                ice,
                devices,
            };
            (start_demo(options, tx).await, DEMO_ROOM.to_string(), "demo")
        }
        Some(join) => {
            let room = join.room.trim().to_string();
            let name = if join.name.trim().is_empty() {
                "Natter user".to_string()
            } else {
                join.name.trim().to_string()
            };
            // NATTER_BIND pins ICE sockets to one local address (tests use 127.0.0.1).
            let bind = std::env::var("NATTER_BIND")
                .ok()
                .and_then(|b| b.parse().ok())
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
            let devices = crate::settings_ui::saved_devices(&shell);
            let options = natter_call::demo::RoomOptions {
                signal_url: join.signal_url.trim().to_string(),
                room: room.clone(),
                room_secret: join.room_secret.clone().filter(|s| !s.0.is_empty()),
                name,
                ice,
                tile_width,
                tile_height,
                bind,
                devices,
            };
            (natter_call::demo::join_room(options, tx).await, room, "room")
        }
    };
    let demo = started.map_err(|e| {
        tracing::error!("call failed to start: {e}");
        UiError::new("call_start_failed", e)
    })?;
    let demo = Arc::new(demo);
    let stats = tauri::async_runtime::spawn(stats_ticker(
        Arc::clone(&demo),
        on_event.clone(),
        Arc::clone(&shell.history),
    ));
    let forward = tauri::async_runtime::spawn(forward(rx, on_event, shell.flow.clone()));
    *call = Some(RunningCall { demo, forward, stats });
    Ok(CallInfo {
        room,
        mode: mode.into(),
        ice_warning,
    })
}

/// Turn the local microphone (`kind: "audio"`) or camera (`"video"`) off or on in the running call.
#[tauri::command]
async fn set_muted(shell: State<'_, Shell>, kind: String, muted: bool) -> Result<(), UiError> {
    let call = shell.call.lock().await;
    let call = call
        .as_ref()
        .ok_or_else(|| UiError::new("not_in_call", "there is no call to mute"))?;
    match kind.as_str() {
        "audio" => call.demo.set_audio_muted(muted),
        "video" => call.demo.set_video_muted(muted),
        other => {
            return Err(UiError::new(
                "bad_request",
                format!("unknown media kind `{other}` (audio or video)"),
            ));
        }
    }
    Ok(())
}

/// Leave (stop) the call. Idempotent.
#[tauri::command]
async fn leave_call(shell: State<'_, Shell>) -> Result<(), UiError> {
    if let Some(call) = shell.call.lock().await.take() {
        call.stop().await;
    }
    Ok(())
}

/// Probe every server of an ICE configuration (W3C `RTCConfiguration` JSON) once. Invalid
/// configurations come back as `invalid_ice_config` with the parser's message (the same words
/// the CLI prints).
#[tauri::command]
async fn probe_ice_servers(ice_config: String) -> Result<Vec<natter_call::health::ServerHealth>, UiError> {
    let config = natter_ice::IceConfig::from_json(&ice_config).map_err(|e| UiError::new("invalid_ice_config", e))?;
    Ok(natter_call::health::probe_all(&config, &natter_call::health::ProbeOptions::from_env()).await)
}

/// The page drew (or discarded) `count` frames.
#[tauri::command]
fn frames_drawn(shell: State<'_, Shell>, count: usize) {
    shell.flow.drawn(count);
}

/// Every `STATS_INTERVAL`: the call snapshot to the page (`{"type":"stats", atMs, report}`) and
/// into the history the diagnostics export writes. Stops when the page's channel closes.
async fn stats_ticker(
    demo: Arc<DemoHandle>,
    channel: Channel<InvokeResponseBody>,
    history: Arc<std::sync::Mutex<std::collections::VecDeque<StatsSample>>>,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(STATS_INTERVAL);
    loop {
        tick.tick().await;
        let Some(report) = demo.snapshot().await else { return };
        let sample = StatsSample {
            at_ms: started.elapsed().as_secs_f64() * 1000.0,
            report,
        };
        {
            let mut history = history.lock().unwrap();
            if history.len() == STATS_HISTORY {
                history.pop_front();
            }
            history.push_back(sample.clone());
        }
        let message = serde_json::json!({ "type": "stats", "atMs": sample.at_ms, "report": sample.report });
        if channel.send(InvokeResponseBody::Json(message.to_string())).is_err() {
            return;
        }
    }
}

async fn forward(mut events: mpsc::Receiver<ViewEvent>, channel: Channel<InvokeResponseBody>, flow: Arc<Flow>) {
    let mut dropped: u64 = 0;
    let mut next = events.recv().await;
    while let Some(event) = next.take() {
        let sent = match event {
            ViewEvent::Frame(first) => {
                // Frames waiting right now travel in one message, the newest per tile; a status
                // change that arrives in between goes right after them, in order.
                let mut batch = vec![first];
                while let Ok(event) = events.try_recv() {
                    match event {
                        ViewEvent::Frame(frame) => match batch.iter_mut().find(|f| f.tile_id == frame.tile_id) {
                            Some(older) => {
                                *older = frame;
                                dropped += 1;
                            }
                            None => batch.push(frame),
                        },
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                if !flow.admit() {
                    dropped += batch.len() as u64;
                    Ok(())
                } else {
                    let encoded: Vec<Vec<u8>> = batch
                        .iter()
                        .filter_map(|frame| {
                            let bytes = frame_wire::encode(frame);
                            if bytes.is_none() {
                                tracing::warn!(tile = %frame.tile_id, "inconsistent frame from the engine, not shown");
                            }
                            bytes
                        })
                        .collect();
                    channel.send(InvokeResponseBody::Raw(frame_wire::encode_batch(&encoded)))
                }
            }
            ViewEvent::Status {
                tile_id,
                label,
                state,
                detail,
            } => send_json(
                &channel,
                &UiMessage::Status {
                    tile_id: &tile_id,
                    label: &label,
                    state: &state,
                    detail: &detail,
                },
            ),
            ViewEvent::Media {
                tile_id,
                audio_muted,
                video_muted,
            } => send_json(
                &channel,
                &UiMessage::Media {
                    tile_id: &tile_id,
                    audio_muted,
                    video_muted,
                },
            ),
            ViewEvent::Notice { medium, message } => send_json(
                &channel,
                &UiMessage::Notice {
                    medium: &medium,
                    message: &message,
                },
            ),
        };
        if let Err(e) = sent {
            // The webview is gone (window closed or reloaded): nobody is watching any more.
            tracing::debug!("call view channel closed: {e}");
            return;
        }
        if next.is_none() {
            next = events.recv().await;
        }
    }
    tracing::debug!(dropped, "engine stopped sending view events");
    let _ = send_json(&channel, &UiMessage::Ended);
}

fn send_json(channel: &Channel<InvokeResponseBody>, message: &UiMessage<'_>) -> tauri::Result<()> {
    channel.send(InvokeResponseBody::Json(
        serde_json::to_string(message).expect("message serializes"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_control_bounds_frames_in_flight() {
        let flow = Flow::default();
        flow.reset();
        for _ in 0..MAX_FRAMES_IN_FLIGHT {
            assert!(flow.admit());
        }
        assert!(!flow.admit(), "window behind: frame dropped");
        flow.drawn(3);
        assert!(flow.admit());
        flow.drawn(100);
        assert_eq!(flow.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn status_message_shape() {
        let json = serde_json::to_string(&UiMessage::Status {
            tile_id: "p1",
            label: "Ann",
            state: "connected",
            detail: "direct",
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"type":"status","tileId":"p1","label":"Ann","state":"connected","detail":"direct"}"#
        );
        assert_eq!(serde_json::to_string(&UiMessage::Ended).unwrap(), r#"{"type":"ended"}"#);
    }
}
