//! The media pipeline around the peer connections: a capture+encode thread per participant whose
//! output is shared by all its connections, and a decode thread per received video stream.
//! Encoding and decoding run on plain threads so they never stall the async runtime that drives
//! the network.

use crate::receive::VideoStats;
use crate::report::PeerReport;
use crate::view::{TileFrame, ViewEvent};
use crate::CallError;
use bytes::Bytes;
use natter_media::{AudioEncoder, SyntheticCamera, SyntheticMic, VideoDecoder, VideoEncoder};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Opus frames are 20 ms.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// A keyframe at least this often, so a receiver that lost one recovers without asking.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);

/// What the synthetic camera sends.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
    /// Varies the test pattern (and tone) per participant.
    pub seed: u32,
    /// Capture audio from this input device (a name from `natter devices`, or "default") instead
    /// of the synthetic tone. If it cannot be opened, this participant sends no audio
    /// (receive-only) and says why in the log.
    pub microphone: Option<String>,
    /// Send video from this camera (a name from `natter devices`, or "default") instead of the
    /// synthetic pattern. If there is no such camera, this participant sends no video
    /// (receive-only) and tells the others, as if its camera were off.
    pub camera: Option<String>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self { width: 640, height: 360, fps: 30, bitrate_bps: 800_000, seed: 1, microphone: None, camera: None }
    }
}

/// Where this participant's audio comes from.
enum AudioSource {
    Synthetic(SyntheticMic),
    Device(natter_devices::Microphone),
    /// No usable microphone: receive-only audio.
    Nothing,
}

impl AudioSource {
    fn open(settings: &MediaSettings) -> AudioSource {
        match &settings.microphone {
            None => AudioSource::Synthetic(SyntheticMic::new(300.0 + 40.0 * (settings.seed % 10) as f32)),
            Some(name) => match natter_devices::Microphone::open(Some(name)) {
                Ok(mic) => {
                    tracing::info!(device = %mic.name, rate = mic.device_rate, channels = mic.channels, "capturing audio");
                    AudioSource::Device(mic)
                }
                Err(e) => {
                    tracing::warn!("no microphone ({e}): this participant sends no audio (receive-only)");
                    AudioSource::Nothing
                }
            },
        }
    }

    /// The 20 ms frames available now (a device may deliver in bursts).
    fn frames(&mut self) -> Vec<Vec<i16>> {
        match self {
            AudioSource::Synthetic(mic) => vec![mic.next_frame()],
            AudioSource::Device(mic) => std::iter::from_fn(|| mic.read_frame()).take(3).collect(),
            AudioSource::Nothing => Vec::new(),
        }
    }
}

/// Where frames go for display, scaled to a tile.
#[derive(Clone)]
pub struct ViewSink {
    pub events: mpsc::Sender<ViewEvent>,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Show every n-th frame (1: all of them; 2: half the frame rate, half the conversion work).
    pub every_nth: u32,
}

pub struct EncodedFrame {
    pub data: Bytes,
    pub keyframe: bool,
}

pub struct EncodedAudio {
    pub data: Bytes,
}

/// The encoded output of one participant, fanned out to every connection.
pub struct EncodedStreams {
    pub video: broadcast::Sender<Arc<EncodedFrame>>,
    pub audio: broadcast::Sender<Arc<EncodedAudio>>,
    keyframe_requested: Arc<AtomicBool>,
    audio_muted: Arc<AtomicBool>,
    video_muted: Arc<AtomicBool>,
    /// No device for this medium: it stays off (receive-only) whatever the user asks.
    no_microphone: bool,
    no_camera: bool,
}

impl EncodedStreams {
    /// Microphone off: nothing is captured or sent until it is back on.
    pub fn set_audio_muted(&self, muted: bool) {
        self.audio_muted.store(muted || self.no_microphone, Ordering::Relaxed);
    }

    /// Camera off: no video is encoded or sent; turning it back on starts with a keyframe.
    pub fn set_video_muted(&self, muted: bool) {
        if !muted {
            self.request_keyframe();
        }
        self.video_muted.store(muted || self.no_camera, Ordering::Relaxed);
    }

    pub fn audio_muted(&self) -> bool {
        self.audio_muted.load(Ordering::Relaxed)
    }

    pub fn video_muted(&self) -> bool {
        self.video_muted.load(Ordering::Relaxed)
    }

    pub fn request_keyframe(&self) {
        self.keyframe_requested.store(true, Ordering::Relaxed);
    }

    /// The flag a keyframe request sets (shared with tasks that watch RTCP).
    pub fn keyframe_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.keyframe_requested)
    }
}

/// Start the synthetic camera + microphone and their encoders on a thread.
pub fn start_capture(
    settings: &MediaSettings,
    view: Option<ViewSink>,
    stop: Arc<AtomicBool>,
    frames_sent: Arc<AtomicU64>,
) -> Result<EncodedStreams, CallError> {
    let (video_tx, _) = broadcast::channel(16);
    let (audio_tx, _) = broadcast::channel(32);
    let keyframe_requested = Arc::new(AtomicBool::new(true));
    let mut encoder = VideoEncoder::new(settings.width, settings.height, settings.fps as f32, settings.bitrate_bps)
        .map_err(|e| CallError::Media(e.to_string()))?;
    let mut audio_encoder = AudioEncoder::new().map_err(|e| CallError::Media(e.to_string()))?;
    let mut camera = SyntheticCamera::new(settings.width, settings.height, settings.seed);
    let mut mic = AudioSource::open(settings);
    // A requested camera that does not exist: receive-only video, announced like a camera off.
    let no_camera = match &settings.camera {
        None => None,
        Some(name) => match natter_devices::find_camera(name) {
            Err(why) => {
                tracing::warn!("{why}: this participant sends no video (receive-only)");
                Some(why)
            }
            Ok(found) => {
                // Capture from cameras lands next; until then the pattern stands in for it.
                tracing::warn!(camera = %found.name, "camera capture is not built yet; sending the synthetic pattern");
                None
            }
        },
    };
    let no_microphone = matches!(mic, AudioSource::Nothing);
    let frame_interval = Duration::from_secs_f64(1.0 / f64::from(settings.fps.max(1)));
    let (video, audio, keyframe) = (video_tx.clone(), audio_tx.clone(), Arc::clone(&keyframe_requested));
    let (audio_muted, video_muted) = (Arc::new(AtomicBool::new(no_microphone)), Arc::new(AtomicBool::new(no_camera.is_some())));
    let (audio_off, video_off) = (Arc::clone(&audio_muted), Arc::clone(&video_muted));
    std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            let start = Instant::now();
            let mut next_video = start;
            let mut next_audio = start;
            let mut last_keyframe = start - KEYFRAME_INTERVAL;
            let mut counter: u32 = 0;
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= next_audio {
                    next_audio += AUDIO_FRAME;
                    // Muted: the source keeps running (the tone its phase, the device its
                    // buffer fresh); nothing is encoded or sent.
                    for pcm in mic.frames() {
                        if audio_off.load(Ordering::Relaxed) {
                            continue;
                        }
                        match audio_encoder.encode(&pcm) {
                            Ok(packet) => {
                                let _ = audio.send(Arc::new(EncodedAudio { data: Bytes::from(packet) }));
                            }
                            Err(e) => tracing::warn!("audio encode failed: {e}"),
                        }
                    }
                }
                if now >= next_video && video_off.load(Ordering::Relaxed) {
                    next_video = now + frame_interval; // camera off: nothing to capture or send
                } else if now >= next_video {
                    next_video += frame_interval;
                    if next_video < now {
                        next_video = now + frame_interval; // we fell behind: skip, do not burst
                    }
                    counter = counter.wrapping_add(1);
                    let frame = camera.frame(counter, natter_media::now_ms());
                    let force = keyframe.swap(false, Ordering::Relaxed) || now.duration_since(last_keyframe) >= KEYFRAME_INTERVAL;
                    match encoder.encode(&frame, force) {
                        Ok(encoded) => {
                            if encoded.keyframe {
                                last_keyframe = now;
                            }
                            if !encoded.data.is_empty() {
                                frames_sent.fetch_add(1, Ordering::Relaxed);
                                let _ = video.send(Arc::new(EncodedFrame { data: Bytes::from(encoded.data), keyframe: encoded.keyframe }));
                            }
                        }
                        Err(e) => tracing::warn!("video encode failed: {e}"),
                    }
                    if let Some(view) = &view
                        && counter.is_multiple_of(view.every_nth.max(1))
                    {
                        let rgba = natter_media::i420_to_rgba_scaled(&frame, view.tile_width, view.tile_height);
                        let _ = view.events.try_send(ViewEvent::Frame(TileFrame {
                            tile_id: "local".into(),
                            label: "You".into(),
                            width: view.tile_width,
                            height: view.tile_height,
                            rgba,
                            frame_counter: counter,
                        }));
                    }
                }
                let wake = next_video.min(next_audio);
                let now = Instant::now();
                if wake > now {
                    std::thread::sleep(wake - now);
                }
            }
        })
        .map_err(|e| CallError::Media(format!("could not start the capture thread: {e}")))?;
    Ok(EncodedStreams { video: video_tx, audio: audio_tx, keyframe_requested, audio_muted, video_muted, no_microphone, no_camera: no_camera.is_some() })
}

/// Where one remote stream's decoded frames are accounted for and shown.
pub struct DecodeTarget<'a> {
    pub remote: &'a str,
    pub label: &'a str,
    pub record: &'a Mutex<PeerReport>,
    pub stats: &'a Mutex<VideoStats>,
    pub joined_at: Instant,
    pub view: Option<&'a ViewSink>,
    /// Set while the decoder cannot produce pictures (the receive task then sends PLI).
    pub needs_keyframe: &'a AtomicBool,
}

/// Decode access units of one remote stream until the channel closes; read each frame's stamp.
pub fn decode_loop(frames: std::sync::mpsc::Receiver<Bytes>, target: DecodeTarget<'_>) {
    let DecodeTarget { remote, label, record, stats, joined_at, view, needs_keyframe } = target;
    let mut decoder = match VideoDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(remote, "could not create a video decoder: {e}");
            return;
        }
    };
    while let Ok(frame) = frames.recv() {
        let picture = match decoder.decode(&frame) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(remote, "decode error (asking for a keyframe): {e}");
                needs_keyframe.store(true, Ordering::Relaxed);
                continue;
            }
        };
        needs_keyframe.store(false, Ordering::Relaxed);
        match natter_media::read_stamp(&picture) {
            Some(stamp) => {
                stats.lock().unwrap().on_decoded(stamp.counter, stamp.capture_ms, natter_media::now_ms());
                let mut record = record.lock().unwrap();
                let at_ms = joined_at.elapsed().as_secs_f64() * 1000.0;
                record.first_frame_ms.get_or_insert(at_ms);
                record.last_frame_ms = Some(at_ms);
                drop(record);
                if let Some(view) = view
                    && stamp.counter.is_multiple_of(view.every_nth.max(1))
                {
                    let rgba = natter_media::i420_to_rgba_scaled(&picture, view.tile_width, view.tile_height);
                    let _ = view.events.try_send(ViewEvent::Frame(TileFrame {
                        tile_id: remote.to_string(),
                        label: label.to_string(),
                        width: view.tile_width,
                        height: view.tile_height,
                        rgba,
                        frame_counter: stamp.counter,
                    }));
                }
            }
            None => stats.lock().unwrap().on_unreadable(),
        }
    }
}
