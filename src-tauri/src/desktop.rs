//! The desktop shell: a Tauri window showing the call view (`ui/static`). Thin by design: the call
//! itself is `natter_call`; this module only starts/stops it and forwards what it shows.
//!
//! The page calls `start_call` with a `Channel`; the shell then sends on that channel:
//! - one binary message per `ViewEvent::Frame` (layout in `frame_wire.rs`), and
//! - JSON messages for everything else: `{"type":"status",tileId,label,state,detail}`,
//!   `{"type":"ended"}` when the engine stops sending.
//!
//! Flow control: frames are big (a 320×180 tile is 230 kB) and a slow webview must not make memory
//! grow, so at most `MAX_FRAMES_IN_FLIGHT` frames are outstanding; the page reports drawn frames
//! with `frames_drawn`, and frames arriving while the window is behind are dropped (the next one
//! replaces them anyway).

use crate::frame_wire;
use natter_call::demo::{start_demo, DemoHandle, DemoOptions};
use natter_call::view::ViewEvent;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::State;
use tokio::sync::{mpsc, Mutex};

/// What the window runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The embedded demo call (`natter demo`, and for now also plain `natter`).
    Demo,
}

const MAX_FRAMES_IN_FLIGHT: usize = 8;
/// If the page stops acknowledging (reloaded, hidden), forget the outstanding frames after this.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Room name of the embedded demo call (as set by `natter_call::demo`).
const DEMO_ROOM: &str = "demo";

pub fn run(mode: Mode) -> ExitCode {
    // GTK aborts the process when there is no display; say what is wrong instead.
    if cfg!(target_os = "linux") && std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("natter: no display (DISPLAY and WAYLAND_DISPLAY are unset): run it in a desktop session, under Xvfb, or use `natter headless`");
        return ExitCode::from(2);
    }
    let result = tauri::Builder::default()
        .manage(Shell { mode, call: Mutex::new(None), flow: Arc::new(Flow::default()), health: Mutex::new(None) })
        .invoke_handler(tauri::generate_handler![start_call, leave_call, frames_drawn, probe_ice_servers, watch_ice_health])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: cannot open the window: {e}");
            ExitCode::from(2)
        }
    }
}

struct Shell {
    mode: Mode,
    call: Mutex<Option<RunningCall>>,
    flow: Arc<Flow>,
    /// The ICE-server health monitor the page watches (replaced by each `watch_ice_health`).
    health: Mutex<Option<natter_call::health::HealthMonitor>>,
}

struct RunningCall {
    demo: DemoHandle,
    forward: tauri::async_runtime::JoinHandle<()>,
}

impl RunningCall {
    async fn stop(self) {
        self.demo.stop().await;
        self.forward.abort();
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
        let _ = self.in_flight.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(count)));
        self.last_ack_ms.store(now_ms(), Ordering::Relaxed);
    }
}

fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// An error as the page sees it.
#[derive(Debug, Serialize)]
struct UiError {
    code: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallInfo {
    room: String,
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum UiMessage<'a> {
    #[serde(rename_all = "camelCase")]
    Status { tile_id: &'a str, label: &'a str, state: &'a str, detail: &'a str },
    Ended,
}

/// Start the call this window shows and stream it to `on_event`. Replaces a running call (page reload).
#[tauri::command]
async fn start_call(shell: State<'_, Shell>, on_event: Channel<InvokeResponseBody>) -> Result<CallInfo, UiError> {
    let mut call = shell.call.lock().await;
    if let Some(previous) = call.take() {
        previous.stop().await;
    }
    shell.flow.reset();
    match shell.mode {
        Mode::Demo => {
            let (tx, rx) = mpsc::channel(64);
            let demo = start_demo(DemoOptions::default(), tx).await.map_err(|e| {
                tracing::error!("demo call failed to start: {e}");
                UiError { code: "call_start_failed", message: e.to_string() }
            })?;
            let forward = tauri::async_runtime::spawn(forward(rx, on_event, shell.flow.clone()));
            *call = Some(RunningCall { demo, forward });
            Ok(CallInfo { room: DEMO_ROOM.into(), mode: "demo" })
        }
    }
}

/// Leave (stop) the call. Idempotent.
#[tauri::command]
async fn leave_call(shell: State<'_, Shell>) -> Result<(), UiError> {
    if let Some(call) = shell.call.lock().await.take() {
        call.stop().await;
    }
    Ok(())
}

/// Probe every server of an ICE configuration (W3C `RTCConfiguration` JSON) once: the settings
/// page's "Test"/"Test all". Invalid configurations come back as `invalid_ice_config` with the
/// parser's message (the same words the CLI prints).
#[tauri::command]
async fn probe_ice_servers(ice_config: String) -> Result<Vec<natter_call::health::ServerHealth>, UiError> {
    let config = natter_ice::IceConfig::from_json(&ice_config).map_err(|e| UiError { code: "invalid_ice_config", message: e.to_string() })?;
    Ok(natter_call::health::probe_all(&config, &natter_call::health::ProbeOptions::default()).await)
}

/// Start watching an ICE configuration: every status change of a server arrives on `on_event`
/// as JSON (`natter_ice::monitor::HealthTransition`). Replaces the previous watch.
#[tauri::command]
async fn watch_ice_health(shell: State<'_, Shell>, ice_config: String, on_event: Channel<serde_json::Value>) -> Result<(), UiError> {
    let config = natter_ice::IceConfig::from_json(&ice_config).map_err(|e| UiError { code: "invalid_ice_config", message: e.to_string() })?;
    let monitor = natter_call::health::HealthMonitor::start(
        &config,
        natter_call::health::ProbeOptions::default(),
        natter_ice::monitor::MonitorTiming::default(),
        move |transition| {
            if let Ok(json) = serde_json::to_value(transition) {
                let _ = on_event.send(json);
            }
        },
    );
    *shell.health.lock().await = Some(monitor);
    Ok(())
}

/// The page drew (or discarded) `count` frames.
#[tauri::command]
fn frames_drawn(shell: State<'_, Shell>, count: usize) {
    shell.flow.drawn(count);
}

async fn forward(mut events: mpsc::Receiver<ViewEvent>, channel: Channel<InvokeResponseBody>, flow: Arc<Flow>) {
    let mut dropped: u64 = 0;
    while let Some(event) = events.recv().await {
        let sent = match &event {
            ViewEvent::Frame(frame) => {
                if !flow.admit() {
                    dropped += 1;
                    continue;
                }
                match frame_wire::encode(frame) {
                    Some(bytes) => channel.send(InvokeResponseBody::Raw(bytes)),
                    None => {
                        tracing::warn!(tile = %frame.tile_id, "inconsistent frame from the engine, not shown");
                        flow.drawn(1);
                        continue;
                    }
                }
            }
            ViewEvent::Status { tile_id, label, state, detail } => {
                send_json(&channel, &UiMessage::Status { tile_id, label, state, detail })
            }
        };
        if let Err(e) = sent {
            // The webview is gone (window closed or reloaded): nobody is watching any more.
            tracing::debug!("call view channel closed: {e}");
            return;
        }
    }
    tracing::debug!(dropped, "engine stopped sending view events");
    let _ = send_json(&channel, &UiMessage::Ended);
}

fn send_json(channel: &Channel<InvokeResponseBody>, message: &UiMessage<'_>) -> tauri::Result<()> {
    channel.send(InvokeResponseBody::Json(serde_json::to_string(message).expect("message serializes")))
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
        let json = serde_json::to_string(&UiMessage::Status { tile_id: "p1", label: "Ann", state: "connected", detail: "direct" }).unwrap();
        assert_eq!(json, r#"{"type":"status","tileId":"p1","label":"Ann","state":"connected","detail":"direct"}"#);
        assert_eq!(serde_json::to_string(&UiMessage::Ended).unwrap(), r#"{"type":"ended"}"#);
    }
}
