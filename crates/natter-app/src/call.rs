//! The call the window shows: what the page asks for (`JoinRequest`), what it is told
//! (`CallMessage`, frames), and the loop between the engine and the page with its flow control.
//!
//! The page gets, on one channel:
//! - the frames waiting at that moment, the newest per tile (`CallView::frames`; the shell
//!   encodes them, see `src-tauri/src/frame_wire.rs`), and
//! - a `CallMessage` for everything else (status, media, notices, stats, ended).
//!
//! Flow control: frames are big (a 640×360 tile is 920 kB) and a slow webview must not make memory
//! grow nor spend its time receiving pictures it will never paint, so at most
//! `MAX_FRAMES_IN_FLIGHT` frame messages are outstanding; the page acknowledges them
//! (`App::frames_drawn`) once painted (or replaced before painting), and frames arriving while the
//! window is behind are dropped here (the next one replaces them anyway).

use crate::error::{AppError, ErrorCode};
use natter_call::demo::DemoHandle;
use natter_call::report::ParticipantReport;
use natter_call::view::{TileFrame, ViewEvent};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use ts_rs::TS;

/// The page asks to join a room on a signaling server instead of the demo.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    /// `ws://host:port` (or `wss://`) of a `natter signal-server`.
    pub signal_url: String,
    pub room: String,
    pub name: String,
    /// The room's secret (optional): locks a room this join opens, opens a locked one.
    #[serde(default)]
    #[ts(as = "Option<String>", optional)]
    pub room_secret: Option<natter_signal::protocol::RoomSecret>,
}

/// The name others see when the join names nobody.
const DEFAULT_NAME: &str = "Natter user";

impl JoinRequest {
    /// The server, room and name to use (trimmed), or why the join cannot be tried.
    pub(crate) fn check(&self) -> Result<(String, String, String), AppError> {
        let url = self.signal_url.trim();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() < 8 {
            return Err(AppError::new(
                ErrorCode::InvalidSignalUrl,
                format!("the server address `{url}` must look like ws://host:port"),
            ));
        }
        let room = self.room.trim();
        if room.is_empty() {
            return Err(AppError::new(ErrorCode::MissingRoom, "enter a room name"));
        }
        let name = match self.name.trim() {
            "" => DEFAULT_NAME,
            name => name,
        };
        Ok((url.to_string(), room.to_string(), name.to_string()))
    }
}

/// What kind of call runs (on the wire: "demo" | "render-test" | "room").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    /// The embedded demo: synthetic participants in this process.
    Demo,
    /// The render path alone (`natter demo --render-test`).
    RenderTest,
    /// A room on a signaling server.
    Room,
}

/// What `start_call` tells the page.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CallInfo {
    pub room: String,
    pub mode: CallKind,
    /// Set when the saved ICE servers could not be used (the call runs without them).
    pub ice_warning: Option<String>,
    /// The microphone starts off (the user turned it off in an earlier call).
    pub audio_muted: bool,
    /// The camera starts off.
    pub video_muted: bool,
}

/// The local microphone or camera (on the wire: "audio" | "video").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

/// Where the preview's picture and level come from (on the wire: "devices" | "call").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum PreviewSource {
    /// The devices, opened for the preview (no call runs).
    Devices,
    /// The running call's own self view and level (the devices are the call's).
    Call,
}

/// One call snapshot as the page and the diagnostics export see it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatsSample {
    /// Milliseconds since the call started.
    pub at_ms: f64,
    pub report: ParticipantReport,
}

/// Every message of the call channel but frames: `{"type": "status", …}`.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CallMessage {
    /// A tile's connection state changed.
    #[serde(rename_all = "camelCase")]
    Status {
        /// `"local"` for the self view, otherwise the remote participant id.
        tile_id: String,
        label: String,
        state: natter_call::view::TileState,
        /// One plain sentence ("checking paths…", "relayed via turn:…").
        detail: String,
    },
    /// A remote participant turned its microphone or camera off or on.
    #[serde(rename_all = "camelCase")]
    Media {
        tile_id: String,
        audio_muted: bool,
        video_muted: bool,
    },
    /// A remote participant joined (after us), left, or was lost: the page announces it.
    #[serde(rename_all = "camelCase")]
    Presence {
        tile_id: String,
        label: String,
        change: natter_call::view::Presence,
    },
    /// Something about a local device, in a sentence.
    Notice {
        medium: natter_call::view::NoticeAbout,
        message: String,
    },
    /// A microphone's sound level (`"local"`: ours, heard even while muted), in dBFS (-100:
    /// silence), about 10 times a second.
    #[serde(rename_all = "camelCase")]
    Level { tile_id: String, dbfs: f32 },
    /// The call's snapshot, every second.
    Stats(Box<StatsSample>),
    /// The engine stopped sending: the call is over.
    Ended,
}

impl CallMessage {
    /// The message for a non-frame event of the engine (`None` for a frame).
    fn from_event(event: ViewEvent) -> Option<CallMessage> {
        Some(match event {
            ViewEvent::Frame(_) => return None,
            ViewEvent::Status {
                tile_id,
                label,
                state,
                detail,
            } => CallMessage::Status {
                tile_id,
                label,
                state,
                detail,
            },
            ViewEvent::Media {
                tile_id,
                audio_muted,
                video_muted,
            } => CallMessage::Media {
                tile_id,
                audio_muted,
                video_muted,
            },
            ViewEvent::Notice { medium, message } => CallMessage::Notice { medium, message },
            ViewEvent::Level { tile_id, dbfs } => CallMessage::Level { tile_id, dbfs },
            ViewEvent::Presence { tile_id, label, change } => CallMessage::Presence { tile_id, label, change },
        })
    }
}

/// The page went away (window closed or reloaded): nobody is watching any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the page stopped listening")
    }
}

/// Where a call is shown: the shell's channel to the page.
pub trait CallView: Send + Sync + 'static {
    /// The frames waiting now, the newest per tile, as one message.
    fn frames(&self, frames: &[TileFrame]) -> Result<(), Closed>;
    fn message(&self, message: &CallMessage) -> Result<(), Closed>;
}

pub(crate) const MAX_FRAMES_IN_FLIGHT: usize = 2;
/// If the page stops acknowledging (reloaded, hidden), forget the outstanding frames after this.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Call snapshots kept for the diagnostics export (one per `STATS_INTERVAL`).
pub(crate) const STATS_HISTORY: usize = 120;
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Frames sent but not yet drawn by the page.
#[derive(Default)]
pub(crate) struct Flow {
    in_flight: AtomicUsize,
    /// Milliseconds since `now_ms`'s epoch of the last acknowledgement (or of the call start).
    last_ack_ms: AtomicU64,
}

impl Flow {
    pub(crate) fn reset(&self) {
        self.in_flight.store(0, Ordering::Relaxed);
        self.last_ack_ms.store(now_ms(), Ordering::Relaxed);
    }
    /// May another frame message go out now? Counts it as in flight if so.
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
    pub(crate) fn drawn(&self, count: usize) {
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

/// The last call snapshots, oldest first (shared by the stats ticker and the export).
pub(crate) type History = Arc<Mutex<VecDeque<StatsSample>>>;

/// A call in progress with the two tasks that show it.
pub(crate) struct RunningCall {
    pub(crate) demo: Arc<DemoHandle>,
    forward: tokio::task::JoinHandle<()>,
    stats: tokio::task::JoinHandle<()>,
}

impl RunningCall {
    /// Show `demo` (whose events arrive on `events`) on `view`.
    pub(crate) fn show(
        demo: DemoHandle,
        events: mpsc::Receiver<ViewEvent>,
        view: Arc<dyn CallView>,
        flow: Arc<Flow>,
        history: History,
    ) -> RunningCall {
        let demo = Arc::new(demo);
        let stats = tokio::spawn(stats_ticker(Arc::clone(&demo), Arc::clone(&view), history));
        let forward = tokio::spawn(forward(events, view, flow));
        RunningCall { demo, forward, stats }
    }

    /// Stop the call. Its view hears nothing more from the moment this starts (not the hang-up
    /// of each connection): the page has moved on already, to a new call or the left screen.
    pub(crate) async fn stop(self) {
        self.forward.abort();
        self.stats.abort();
        let _ = self.stats.await;
        match Arc::try_unwrap(self.demo) {
            Ok(demo) => demo.stop().await,
            Err(_) => tracing::warn!("call still referenced while stopping; it ends when dropped"),
        }
    }
}

/// The camera and microphone shown without a call, with the task that shows them.
pub(crate) struct RunningPreview {
    preview: natter_call::preview::Preview,
    forward: tokio::task::JoinHandle<()>,
}

impl RunningPreview {
    /// Show `preview` (whose events arrive on `events`) on `view`, frames under `flow`'s control.
    pub(crate) fn show(
        preview: natter_call::preview::Preview,
        events: mpsc::Receiver<ViewEvent>,
        view: Arc<dyn CallView>,
        flow: Arc<Flow>,
    ) -> RunningPreview {
        let forward = tokio::spawn(forward(events, view, flow));
        RunningPreview { preview, forward }
    }

    /// Stop it: the devices are released when the capture threads see the stop (a frame).
    pub(crate) async fn stop(self) {
        self.forward.abort();
        let _ = self.forward.await;
        drop(self.preview);
    }
}

/// Every `STATS_INTERVAL`: the call snapshot to the page and into the history the diagnostics
/// export writes. Stops when the page's channel closes or the call has no snapshot any more.
async fn stats_ticker(demo: Arc<DemoHandle>, view: Arc<dyn CallView>, history: History) {
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
        if view.message(&CallMessage::Stats(Box::new(sample))).is_err() {
            return;
        }
    }
}

/// The engine's events to the page until either side stops, then `Ended`.
pub(crate) async fn forward(mut events: mpsc::Receiver<ViewEvent>, view: Arc<dyn CallView>, flow: Arc<Flow>) {
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
                if flow.admit() {
                    view.frames(&batch)
                } else {
                    dropped += batch.len() as u64;
                    Ok(())
                }
            }
            other => match CallMessage::from_event(other) {
                Some(message) => view.message(&message),
                None => Ok(()),
            },
        };
        if sent.is_err() {
            tracing::debug!("call view channel closed");
            return;
        }
        if next.is_none() {
            next = events.recv().await;
        }
    }
    tracing::debug!(dropped, "engine stopped sending view events");
    let _ = view.message(&CallMessage::Ended);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the page would receive: a real `CallView`, recording instead of drawing.
    #[derive(Default)]
    struct Page {
        received: Mutex<Vec<String>>,
    }

    impl CallView for Page {
        fn frames(&self, frames: &[TileFrame]) -> Result<(), Closed> {
            let tiles: Vec<String> = frames
                .iter()
                .map(|f| format!("{}#{}", f.tile_id, f.frame_counter))
                .collect();
            self.received
                .lock()
                .unwrap()
                .push(format!("frames {}", tiles.join(",")));
            Ok(())
        }
        fn message(&self, message: &CallMessage) -> Result<(), Closed> {
            self.received
                .lock()
                .unwrap()
                .push(serde_json::to_string(message).unwrap());
            Ok(())
        }
    }

    fn frame(tile: &str, counter: u32) -> ViewEvent {
        ViewEvent::Frame(TileFrame {
            tile_id: tile.into(),
            label: tile.to_uppercase(),
            picture: natter_media::I420Frame::black(2, 2).unwrap(),
            frame_counter: counter,
            capture_ms: None,
        })
    }

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
    fn messages_keep_their_json_shape() {
        let status = CallMessage::Status {
            tile_id: "p1".into(),
            label: "Ann".into(),
            state: natter_call::view::TileState::Connected,
            detail: "direct".into(),
        };
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"type":"status","tileId":"p1","label":"Ann","state":"connected","detail":"direct"}"#
        );
        let media = CallMessage::Media {
            tile_id: "p1".into(),
            audio_muted: true,
            video_muted: false,
        };
        assert_eq!(
            serde_json::to_string(&media).unwrap(),
            r#"{"type":"media","tileId":"p1","audioMuted":true,"videoMuted":false}"#
        );
        let notice = CallMessage::Notice {
            medium: natter_call::view::NoticeAbout::Camera,
            message: "no camera found".into(),
        };
        assert_eq!(
            serde_json::to_string(&notice).unwrap(),
            r#"{"type":"notice","medium":"camera","message":"no camera found"}"#
        );
        let presence = CallMessage::from_event(ViewEvent::Presence {
            tile_id: "p1".into(),
            label: "Bob".into(),
            change: natter_call::view::Presence::Lost,
        });
        assert_eq!(
            serde_json::to_string(&presence).unwrap(),
            r#"{"type":"presence","tileId":"p1","label":"Bob","change":"lost"}"#
        );
        assert_eq!(
            serde_json::to_string(&CallMessage::Ended).unwrap(),
            r#"{"type":"ended"}"#
        );
    }

    #[test]
    fn stats_message_is_flat() {
        let report = ParticipantReport {
            name: "Ann".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(CallMessage::Stats(Box::new(StatsSample { at_ms: 1000.0, report }))).unwrap();
        assert_eq!(json["type"], "stats");
        assert_eq!(json["atMs"], 1000.0);
        assert_eq!(json["report"]["name"], "Ann");
    }

    #[test]
    fn join_requests_are_checked_and_trimmed() {
        let join = |url: &str, room: &str, name: &str| JoinRequest {
            signal_url: url.into(),
            room: room.into(),
            name: name.into(),
            room_secret: None,
        };
        assert_eq!(
            join(" ws://127.0.0.1:8787 ", " standup ", "  ").check().unwrap(),
            ("ws://127.0.0.1:8787".into(), "standup".into(), DEFAULT_NAME.into())
        );
        assert_eq!(join("wss://x.example", "r", "Ann").check().unwrap().2, "Ann");
        for bad in ["http://x.example", "ws://", "", "x.example:8787"] {
            let e = join(bad, "r", "").check().unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidSignalUrl, "{bad}");
            assert!(e.message.contains("ws://host:port"), "{}", e.message);
        }
        assert_eq!(
            join("ws://127.0.0.1:1", "  ", "").check().unwrap_err().code,
            ErrorCode::MissingRoom
        );
    }

    #[tokio::test]
    async fn frames_batch_newest_per_tile_and_statuses_keep_their_order() {
        let (tx, rx) = mpsc::channel(64);
        // Queued before the loop runs: two frames of `a`, one of `b`, a status, one more of `a`.
        tx.send(frame("a", 1)).await.unwrap();
        tx.send(frame("b", 1)).await.unwrap();
        tx.send(frame("a", 2)).await.unwrap();
        tx.send(ViewEvent::Status {
            tile_id: "b".into(),
            label: "B".into(),
            state: natter_call::view::TileState::Connected,
            detail: "direct".into(),
        })
        .await
        .unwrap();
        tx.send(frame("a", 3)).await.unwrap();
        // The window is behind: the next batch finds no room and is dropped.
        tx.send(ViewEvent::Notice {
            medium: natter_call::view::NoticeAbout::Camera,
            message: "m".into(),
        })
        .await
        .unwrap();
        tx.send(frame("a", 4)).await.unwrap();
        drop(tx);
        let page = Arc::new(Page::default());
        let flow = Arc::new(Flow::default());
        flow.reset();
        forward(rx, page.clone(), Arc::clone(&flow)).await;
        assert_eq!(
            *page.received.lock().unwrap(),
            [
                "frames a#2,b#1",
                r#"{"type":"status","tileId":"b","label":"B","state":"connected","detail":"direct"}"#,
                "frames a#3",
                r#"{"type":"notice","medium":"camera","message":"m"}"#,
                r#"{"type":"ended"}"#,
            ]
        );
        assert_eq!(flow.in_flight.load(Ordering::Relaxed), MAX_FRAMES_IN_FLIGHT);
    }
}
