//! H.264 via openh264 (Cisco's encoder/decoder, built from bundled source): constrained baseline,
//! Annex-B byte streams, set up for real-time calls: rate control by bitrate but **no frame
//! skipping** (openh264 drops frames under its rate control by default), one thread, keyframes
//! only when asked (the call engine asks when a receiver joins, and periodically).

use crate::frame::check_size;
use crate::{I420Frame, MediaError};
use openh264::OpenH264API;
use openh264::decoder::{DecodeOptions, Decoder, DecoderConfig, Flush};
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType};
use openh264::formats::YUVSource;

/// One encoded picture.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// Annex-B NAL units (keyframes carry SPS and PPS first).
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

pub struct VideoEncoder {
    inner: Encoder,
    width: u32,
    height: u32,
}

impl VideoEncoder {
    pub fn new(width: u32, height: u32, fps: f32, bitrate_bps: u32) -> Result<Self, MediaError> {
        check_size(width, height)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            .skip_frames(false)
            .scene_change_detect(false)
            .background_detection(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| MediaError::Encoder(e.to_string()))?;
        Ok(Self { inner, width, height })
    }

    pub fn encode(&mut self, frame: &I420Frame, force_keyframe: bool) -> Result<EncodedVideo, MediaError> {
        if frame.width != self.width || frame.height != self.height {
            return Err(MediaError::FrameSize { width: frame.width, height: frame.height, reason: "differs from the encoder's size" });
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        if frame.y.len() < w * h || frame.u.len() < w * h / 4 || frame.v.len() < w * h / 4 {
            return Err(MediaError::FrameSize { width: frame.width, height: frame.height, reason: "planes are too short" });
        }
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let bitstream = self.inner.encode(&FrameSource(frame)).map_err(|e| MediaError::Encoder(e.to_string()))?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
        Ok(EncodedVideo { data: bitstream.to_vec(), keyframe })
    }
}

pub struct VideoDecoder {
    inner: Decoder,
}

impl VideoDecoder {
    pub fn new() -> Result<Self, MediaError> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let inner = Decoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| MediaError::Decoder(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Decode one access unit. `Ok(None)`: no picture yet (e.g. only parameter sets).
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        if annex_b.len() < 4 {
            return Err(MediaError::Decoder("access unit is too short".into()));
        }
        let decoded = self
            .inner
            .decode_with_options(annex_b, DecodeOptions::default())
            .map_err(|e| MediaError::Decoder(e.to_string()))?;
        let Some(picture) = decoded else { return Ok(None) };
        let (w, h) = picture.dimensions();
        let (ys, us, vs) = picture.strides();
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
            return Err(MediaError::Decoder(format!("decoded an unusable picture size {w}x{h}")));
        }
        let mut frame = I420Frame { width: w as u32, height: h as u32, y: Vec::with_capacity(w * h), u: Vec::with_capacity(w * h / 4), v: Vec::with_capacity(w * h / 4) };
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
