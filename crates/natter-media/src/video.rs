//! H.264 via openh264 (Cisco's encoder/decoder, built from bundled source with its x86 assembly,
//! nasm), constrained baseline, Annex-B byte streams. openh264 picks the level from the size:
//! profile-level-id `42c00d` at 320x180, `42c01e` at 640x360, `42c01f` at 1280x720.
//!
//! Encoder settings for real-time calls: camera real-time usage, bitrate rate control with **frame
//! skipping off** (openh264 drops frames under its rate control by default; off, every input gives
//! one access unit and rate control moves QP instead), constant frame rate (openh264 derives
//! timestamps from `fps`), no periodic intra refresh (keyframes only when asked: the call engine asks
//! when a receiver joins or reports loss, and periodically), no scene-change keyframes, one slice
//! per picture, one thread, low complexity (≈ 20 % less CPU than medium, quality alike on our
//! pattern). openh264 prints one warning line to stderr per encoder about skipping being off:
//! harmless.
//!
//! The decoder runs without error concealment: a broken reference is an `Err` (never a garbled
//! picture) until the next keyframe.

use crate::frame::check_size;
use crate::{I420Frame, MediaError};
use openh264::OpenH264API;
use openh264::decoder::{DecodeOptions, Decoder, DecoderConfig, Flush};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;

/// One encoded picture: one access unit.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// Annex-B NAL units, each after a 4-byte start code `00 00 00 01`. A keyframe is
    /// `SPS (7), PPS (8), IDR slice (5)` — every keyframe repeats SPS and PPS, so a receiver can
    /// start at any keyframe; any other picture is a single non-IDR slice (1). One slice per picture
    /// (no size limit: an RTP packetizer must fragment with FU-A).
    pub data: Vec<u8>,
    pub keyframe: bool,
}

struct FrameSource<'a>(&'a I420Frame);

impl YUVSource for FrameSource<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }
    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width as usize;
        (w, w / 2, w / 2)
    }
    fn y(&self) -> &[u8] {
        &self.0.y
    }
    fn u(&self) -> &[u8] {
        &self.0.u
    }
    fn v(&self) -> &[u8] {
        &self.0.v
    }
}

fn encoder_err(e: openh264::Error) -> MediaError {
    MediaError::Encoder(format!("encoding failed (code {})", e.native_code()))
}

/// H.264 encoder (openh264), constrained baseline, for real-time: every input frame gives one
/// access unit (frame skipping off), one slice, one thread, keyframes when asked. Feed it frames of
/// the size it was made for.
pub struct VideoEncoder {
    inner: Encoder,
    width: u32,
    height: u32,
    /// Size of the previous access unit, to size the next output buffer in one allocation.
    last_size: usize,
    /// The target (and ceiling) the encoder runs at now, bits per second.
    bitrate_bps: u32,
}

impl VideoEncoder {
    /// `fps` is the rate the caller feeds frames at (openh264's rate control budgets bits per
    /// frame from it); `bitrate_bps` is a target, not a cap: with frame skipping off the encoder
    /// raises QP instead of dropping pictures, so short overshoots (keyframes) happen.
    pub fn new(width: u32, height: u32, fps: f32, bitrate_bps: u32) -> Result<Self, MediaError> {
        check_size(width, height)?;
        if !(fps.is_finite() && (1.0..=120.0).contains(&fps)) {
            return Err(MediaError::Encoder(format!("frame rate {fps} is outside 1..=120")));
        }
        if !(10_000..=50_000_000).contains(&bitrate_bps) {
            return Err(MediaError::Encoder(format!(
                "bitrate {bitrate_bps} bps is outside 10 kbps..=50 Mbps"
            )));
        }
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            .skip_frames(false)
            .scene_change_detect(false)
            .background_detection(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1)
            .complexity(Complexity::Low);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(encoder_err)?;
        Ok(Self {
            inner,
            width,
            height,
            last_size: 0,
            bitrate_bps,
        })
    }

    /// Change the target bitrate from the next picture on, without a new encoder (and so
    /// without a keyframe): openh264's `SetOption(ENCODER_OPTION_BITRATE)`, which the safe API of
    /// the `openh264` crate does not offer.
    ///
    /// openh264 refuses a target above the layer's maximum bitrate, which the `openh264` crate
    /// sets to the starting target: a raise moves the maximum first, a cut lowers it after the
    /// target (the two stay equal, as the encoder was made; the maximum is what keeps its
    /// output near the target over a window).
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        use openh264_sys2::{ENCODER_OPTION_BITRATE, ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0, SPATIAL_LAYER_ALL};
        if !(10_000..=50_000_000).contains(&bitrate_bps) {
            return Err(MediaError::Encoder(format!(
                "bitrate {bitrate_bps} bps is outside 10 kbps..=50 Mbps"
            )));
        }
        if bitrate_bps > self.bitrate_bps {
            self.set_option_bitrate(ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0, bitrate_bps)?;
            self.set_option_bitrate(ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL, bitrate_bps)?;
        } else if bitrate_bps < self.bitrate_bps {
            self.set_option_bitrate(ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL, bitrate_bps)?;
            self.set_option_bitrate(ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0, bitrate_bps)?;
        }
        self.bitrate_bps = bitrate_bps;
        Ok(())
    }

    /// The target this encoder runs at, bits per second.
    pub fn bitrate(&self) -> u32 {
        self.bitrate_bps
    }

    #[allow(unsafe_code)] // one call into openh264's C API; see SAFETY below
    fn set_option_bitrate(
        &mut self,
        option: openh264_sys2::ENCODER_OPTION,
        layer: openh264_sys2::LAYER_NUM,
        bitrate_bps: u32,
    ) -> Result<(), MediaError> {
        let mut info = openh264_sys2::SBitrateInfo {
            iLayer: layer,
            iBitrate: bitrate_bps as i32,
        };
        // SAFETY: the encoder is initialised (made in `new`); ENCODER_OPTION_BITRATE and
        // ENCODER_OPTION_MAX_BITRATE take a pointer to an `SBitrateInfo`, which openh264 reads
        // during the call and does not keep. Changing the rate is what the options exist for:
        // no parameter the wrapper relies on (size, frame rate, threads) changes.
        let code = unsafe { self.inner.raw_api().set_option(option, (&raw mut info).cast()) };
        if code != 0 {
            return Err(MediaError::Encoder(format!(
                "changing the bitrate to {bitrate_bps} bps failed (code {code})"
            )));
        }
        Ok(())
    }

    /// The picture size this encoder takes.
    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Encode one frame; the result is never empty. `force_keyframe` makes this picture an IDR
    /// with SPS and PPS in front (the first picture always is one).
    pub fn encode(&mut self, frame: &I420Frame, force_keyframe: bool) -> Result<EncodedVideo, MediaError> {
        crate::frame::check_input(frame, self.width, self.height)?;
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let bitstream = self.inner.encode(&FrameSource(frame)).map_err(encoder_err)?;
        let frame_type = bitstream.frame_type();
        if matches!(frame_type, FrameType::Skip | FrameType::Invalid) {
            return Err(MediaError::Encoder(format!("encoder gave no picture ({frame_type:?})")));
        }
        let keyframe = matches!(frame_type, FrameType::IDR | FrameType::I);
        let mut data = Vec::with_capacity(self.last_size + self.last_size / 2);
        bitstream.write_vec(&mut data);
        self.last_size = data.len();
        Ok(EncodedVideo { data, keyframe })
    }
}

const DS_FRAME_PENDING: i64 = 0x01;

/// openh264's `DECODING_STATE` bit flags, in words. Every one of them means the decoder wants a
/// keyframe before it can show correct pictures again (error concealment is off).
fn describe_decoding_state(code: i64) -> String {
    const FLAGS: [(i64, &str); 11] = [
        (0x02, "reference lost"),
        (0x04, "bitstream error"),
        (0x08, "dependency layer lost"),
        (0x10, "no parameter sets"),
        (0x20, "data error concealed"),
        (0x40, "reference list broken"),
        (0x1000, "invalid argument"),
        (0x2000, "not initialised"),
        (0x4000, "out of memory"),
        (0x8000, "output buffer too small"),
        (0x01, "frame pending"),
    ];
    let words: Vec<&str> = FLAGS
        .iter()
        .filter(|(bit, _)| code & bit != 0)
        .map(|(_, word)| *word)
        .collect();
    if words.is_empty() {
        format!("decoding failed (state {code:#x})")
    } else {
        format!("{} (needs a keyframe)", words.join(", "))
    }
}

/// H.264 decoder (openh264, error concealment off). Feed one access unit per call, starting with
/// a keyframe; after any `Err` the stream is broken until the next keyframe (ask the sender for one).
pub struct VideoDecoder {
    inner: Decoder,
}

impl VideoDecoder {
    pub fn new() -> Result<Self, MediaError> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let inner = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Decoder(format!("could not create the decoder (code {})", e.native_code())))?;
        Ok(Self { inner })
    }

    /// Decode one access unit. `Ok(None)`: no picture yet (e.g. only parameter sets).
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        if annex_b.len() < 4 {
            return Err(MediaError::Decoder("access unit is too short".into()));
        }
        let decoded = match self.inner.decode_with_options(annex_b, DecodeOptions::default()) {
            Ok(decoded) => decoded,
            // "Frame pending": the picture comes with a later access unit.
            Err(e) if e.native_code() == DS_FRAME_PENDING => return Ok(None),
            Err(e) => {
                return Err(MediaError::Decoder(describe_decoding_state(e.native_code())));
            }
        };
        let Some(picture) = decoded else {
            return Ok(None);
        };
        let (w, h) = picture.dimensions();
        let (ys, us, vs) = picture.strides();
        // An odd size (another stack's scaled stream) is shown one column / row smaller.
        let (w, h) = (w & !1, h & !1);
        if w == 0 || h == 0 {
            return Err(MediaError::Decoder(format!("decoded an unusable picture size {w}x{h}")));
        }
        let mut frame = I420Frame {
            width: w as u32,
            height: h as u32,
            y: Vec::with_capacity(w * h),
            u: Vec::with_capacity(w * h / 4),
            v: Vec::with_capacity(w * h / 4),
        };
        for row in 0..h {
            frame.y.extend_from_slice(&picture.y()[row * ys..row * ys + w]);
        }
        for row in 0..h / 2 {
            frame.u.extend_from_slice(&picture.u()[row * us..row * us + w / 2]);
            frame.v.extend_from_slice(&picture.v()[row * vs..row * vs + w / 2]);
        }
        Ok(Some(frame))
    }
}
