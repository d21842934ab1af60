//! natter-media: media without networking. Synthetic sources (a camera that draws a moving test
//! pattern with a machine-readable stamp, a microphone that plays a tone), the frame stamp itself,
//! and real codecs: H.264 (openh264, constrained baseline, Annex-B), VP8 (the system libvpx; same
//! shape as the H.264 pair) and Opus (libopus).
//!
//! The stamp (frame counter + capture wall-clock time + CRC) is drawn as 16×16 black/white luma
//! blocks along the top of the picture: one macroblock per bit, so it survives lossy coding and the
//! receiver can count lost frames and measure glass-to-glass latency from decoded pixels alone.
//!
//! Cost per frame (release, this 2-core machine, `cargo run --release -p natter-media --example
//! codec_bench`): H.264 encode ≈ 2 ms at 640x360 and ≈ 6 ms at 1280x720, decode ≈ 0.7 / 2.1 ms;
//! VP8 encode ≈ 3.4 / 10 ms, decode ≈ 1.3 / 4 ms (speed 6, measured with the other core busy);
//! synthetic camera ≈ 0.1 ms, Opus encode ≈ 0.1 ms per 20 ms.

mod audio;
pub mod camera_formats;
mod convert;
mod frame;
pub mod jitter;
mod level;
pub mod source;
mod stamp;
mod synthetic;
mod video;
mod vp8;

pub use audio::{AudioDecoder, AudioEncoder};
pub use convert::{fit_within, scale_i420};
pub use frame::I420Frame;
pub use level::{LevelMeter, SILENCE_DBFS};
pub use source::{AudioSink, AudioSource, DeviceLost, DiscardSink, SyntheticVideo, VideoSource};
pub use stamp::{FrameStamp, STAMP_BAND_HEIGHT, fits as stamp_fits, read_stamp, stamp_frame};
pub use synthetic::{SyntheticCamera, SyntheticMic};
pub use video::{EncodedVideo, VideoDecoder, VideoEncoder};
pub use vp8::{Vp8Decoder, Vp8Encoder};

/// Audio is 48 kHz mono, 20 ms per frame.
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;
pub const AUDIO_FRAME_SAMPLES: usize = 960;

/// Wall-clock milliseconds since the UNIX epoch: comparable across processes on one machine.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What can go wrong with media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("invalid frame size {width}x{height}: {reason}")]
    FrameSize {
        width: u32,
        height: u32,
        reason: &'static str,
    },
    #[error("video encoder: {0}")]
    Encoder(String),
    #[error("video decoder: {0}")]
    Decoder(String),
    #[error("opus: {0}")]
    Opus(String),
}
