//! The media pipeline around the peer connections: what a participant sends (`MediaSettings`,
//! captured and encoded in `capture`), and a decode thread per received video stream. Decoding
//! runs on plain threads so it never stalls the async runtime that drives the network.

use crate::codecs::VideoCodec;
use crate::receive::VideoStats;
use crate::view::ViewEvent;
use bytes::Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Start with the microphone off (the user's choice, kept from an earlier call).
    pub audio_off: bool,
    /// Start with the camera off (as `audio_off`).
    pub video_off: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 30,
            bitrate_bps: 800_000,
            seed: 1,
            microphone: None,
            camera: None,
            audio_off: false,
            video_off: false,
        }
    }
}

/// Where frames go for display, scaled to a tile.
#[derive(Clone)]
pub struct ViewSink {
    pub events: mpsc::Sender<ViewEvent>,
    /// The size the window draws tiles at.
    pub tile_size: crate::view::TileSize,
}

/// Room kept in the view's queue for what must not be lost (a tile's state, who came and went,
/// device notices): pictures and levels, which the next one replaces anyway, are the first
/// dropped when the window falls behind.
pub const VIEW_ROOM_FOR_EVENTS: usize = 16;

impl ViewSink {
    /// A picture or a level: shown if the window keeps up, dropped otherwise (never taking the
    /// room kept for events).
    pub fn offer(&self, event: ViewEvent) {
        if self.events.capacity() > VIEW_ROOM_FOR_EVENTS {
            let _ = self.events.try_send(event);
        }
    }

    /// Something the window must be told (state, presence, notices): uses the kept room.
    pub fn tell(&self, event: ViewEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("the window's queue is full: an event for it was lost");
        }
    }
}

pub struct EncodedFrame {
    pub data: Bytes,
    pub keyframe: bool,
    /// When the picture was captured (RTP time follows it).
    pub captured_at: Instant,
    /// The picture's size (it differs between simulcast layers).
    pub width: u32,
    pub height: u32,
}

/// A video encoder of either codec, for the capture thread.
#[expect(
    clippy::large_enum_variant,
    reason = "one per encoded stream, kept in place on the capture thread"
)]
pub enum AnyEncoder {
    H264(natter_media::VideoEncoder),
    Vp8(natter_media::Vp8Encoder),
}

impl AnyEncoder {
    pub fn new(
        codec: VideoCodec,
        width: u32,
        height: u32,
        fps: f32,
        bitrate_bps: u32,
    ) -> Result<Self, natter_media::MediaError> {
        Ok(match codec {
            VideoCodec::H264 => AnyEncoder::H264(natter_media::VideoEncoder::new(width, height, fps, bitrate_bps)?),
            VideoCodec::Vp8 => AnyEncoder::Vp8(natter_media::Vp8Encoder::new(width, height, fps, bitrate_bps)?),
        })
    }

    pub fn size(&self) -> (u32, u32) {
        match self {
            AnyEncoder::H264(e) => (e.width(), e.height()),
            AnyEncoder::Vp8(e) => (e.width(), e.height()),
        }
    }

    /// Follow the bandwidth estimate: a new target from the next picture on, no keyframe.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), natter_media::MediaError> {
        match self {
            AnyEncoder::H264(e) => e.set_bitrate(bitrate_bps),
            AnyEncoder::Vp8(e) => e.set_bitrate(bitrate_bps),
        }
    }

    pub fn encode(
        &mut self,
        frame: &natter_media::I420Frame,
        force_keyframe: bool,
    ) -> Result<natter_media::EncodedVideo, natter_media::MediaError> {
        match self {
            AnyEncoder::H264(e) => e.encode(frame, force_keyframe),
            AnyEncoder::Vp8(e) => e.encode(frame, force_keyframe),
        }
    }
}

/// A video decoder of either codec.
enum AnyDecoder {
    H264(natter_media::VideoDecoder),
    Vp8(natter_media::Vp8Decoder),
}

impl AnyDecoder {
    fn new(codec: VideoCodec) -> Result<Self, natter_media::MediaError> {
        Ok(match codec {
            VideoCodec::H264 => AnyDecoder::H264(natter_media::VideoDecoder::new()?),
            VideoCodec::Vp8 => AnyDecoder::Vp8(natter_media::Vp8Decoder::new()?),
        })
    }

    fn decode(&mut self, frame: &[u8]) -> Result<Option<natter_media::I420Frame>, natter_media::MediaError> {
        match self {
            AnyDecoder::H264(d) => d.decode(frame),
            AnyDecoder::Vp8(d) => d.decode(frame),
        }
    }
}

pub struct EncodedAudio {
    pub data: Bytes,
}

/// Where one remote stream's decoded frames are accounted for and shown.
pub struct DecodeTarget<'a> {
    pub remote: &'a str,
    pub label: &'a str,
    pub stats: &'a Mutex<VideoStats>,
    pub joined_at: Instant,
    pub view: Option<&'a ViewSink>,
    /// Set while the decoder cannot produce pictures (the receive task then sends PLI).
    pub needs_keyframe: &'a AtomicBool,
}

/// Decode access units of one remote stream until the channel closes; read each frame's stamp.
/// The decoder follows the codec of what arrives (a new one when it changes).
pub fn decode_loop(frames: std::sync::mpsc::Receiver<(VideoCodec, Bytes)>, target: DecodeTarget<'_>) {
    let DecodeTarget {
        remote,
        label,
        stats,
        joined_at,
        view,
        needs_keyframe,
    } = target;
    let mut decoder: Option<(VideoCodec, AnyDecoder)> = None;
    let mut pictures: u32 = 0;
    while let Ok((codec, frame)) = frames.recv() {
        if decoder.as_ref().is_none_or(|(current, _)| *current != codec) {
            match AnyDecoder::new(codec) {
                Ok(d) => decoder = Some((codec, d)),
                Err(e) => {
                    tracing::error!(remote, %codec, "could not create a video decoder: {e}");
                    decoder = None;
                    continue;
                }
            }
        }
        let Some((_, decoder)) = decoder.as_mut() else { continue };
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
        let stamp = natter_media::read_stamp(&picture);
        {
            let mut stats = stats.lock().unwrap();
            match stamp {
                Some(stamp) => stats.on_decoded(stamp.counter, stamp.capture_ms, natter_media::now_ms()),
                None => stats.on_unstamped(),
            }
            stats.on_shown(at_ms);
        }
        let capture_ms = stamp.map(|stamp| stamp.capture_ms);
        if let Some(view) = view
            && let Some(frame) = view.tile_size.frame(remote, label, &picture, pictures, capture_ms)
        {
            view.offer(ViewEvent::Frame(frame));
        }
    }
}

#[cfg(test)]
mod view_sink_tests {
    use super::*;
    use crate::view::{NoticeAbout, TileSize};

    #[test]
    fn pictures_never_take_the_room_kept_for_events() {
        let (tx, mut rx) = mpsc::channel(64);
        let view = ViewSink {
            events: tx,
            tile_size: TileSize::following(64, 36),
        };
        let picture = natter_media::I420Frame::black(64, 36).unwrap();
        // A window that reads nothing: pictures fill the queue up to the kept room only.
        for counter in 0..200 {
            view.offer(ViewEvent::Frame(
                view.tile_size.frame("p1", "Ann", &picture, counter, None).unwrap(),
            ));
        }
        for i in 0..VIEW_ROOM_FOR_EVENTS {
            view.tell(ViewEvent::Notice {
                medium: NoticeAbout::Call,
                message: format!("notice {i}"),
            });
        }
        let mut frames = 0;
        let mut notices = Vec::new();
        while let Ok(event) = rx.try_recv() {
            match event {
                ViewEvent::Frame(_) => frames += 1,
                ViewEvent::Notice { message, .. } => notices.push(message),
                _ => {}
            }
        }
        assert_eq!(frames, 64 - VIEW_ROOM_FOR_EVENTS);
        assert_eq!(
            notices.len(),
            VIEW_ROOM_FOR_EVENTS,
            "every event arrived, in order: {notices:?}"
        );
        assert_eq!(notices[0], "notice 0");
    }
}
