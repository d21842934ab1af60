//! The media pipeline around the peer connections: what a participant sends (`MediaSettings`,
//! captured and encoded in `capture`), and a decode thread per received video stream. Decoding
//! runs on plain threads so it never stalls the async runtime that drives the network.

use crate::receive::VideoStats;
use crate::report::PeerReport;
use crate::view::{TileFrame, ViewEvent};
use bytes::Bytes;
use natter_media::VideoDecoder;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::mpsc;

pub use crate::capture::{AUDIO_FRAME, EncodedStreams, start_capture};

/// What a participant sends: the synthetic pattern's size and rate (a camera sends at its own
/// size), the encoder's bitrate at that size, and which devices to capture from.
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
    /// (receive-only), tells the others and the user why, and looks for it again every few seconds.
    pub microphone: Option<String>,
    /// Send video from this camera (a name from `natter devices`, or "default") instead of the
    /// synthetic pattern; without one, receive-only video as for the microphone.
    pub camera: Option<String>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self { width: 640, height: 360, fps: 30, bitrate_bps: 800_000, seed: 1, microphone: None, camera: None }
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
    let mut pictures: u32 = 0;
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
        pictures = pictures.wrapping_add(1);
        // Synthetic senders stamp their frames (loss and latency are measured from the stamps);
        // a real camera's pictures carry none and are counted and shown all the same.
        let at_ms = joined_at.elapsed().as_secs_f64() * 1000.0;
        {
            let mut stats = stats.lock().unwrap();
            match natter_media::read_stamp(&picture) {
                Some(stamp) => stats.on_decoded(stamp.counter, stamp.capture_ms, natter_media::now_ms()),
                None => stats.on_unstamped(),
            }
            stats.on_shown(at_ms);
        }
        {
            let mut record = record.lock().unwrap();
            record.first_frame_ms.get_or_insert(at_ms);
            record.last_frame_ms = Some(at_ms);
        }
        if let Some(view) = view
            && pictures.is_multiple_of(view.every_nth.max(1))
        {
            let rgba = natter_media::i420_to_rgba_scaled(&picture, view.tile_width, view.tile_height);
            let _ = view.events.try_send(ViewEvent::Frame(TileFrame {
                tile_id: remote.to_string(),
                label: label.to_string(),
                width: view.tile_width,
                height: view.tile_height,
                rgba,
                frame_counter: pictures,
            }));
        }
    }
}
