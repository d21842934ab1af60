//! VP8 via libvpx (the system library: Debian bookworm's libvpx 1.12, found by pkg-config; the
//! Rust declarations are `env-libvpx-sys`'s pre-generated bindings for that version, no bindgen).
//! Same shape as the H.264 codec in `video.rs`, so the engine can use either: one frame in, one
//! frame out, keyframes when asked, an `Err` (never a garbled picture) until the next keyframe.
//!
//! Why our own FFI: `vpx-encode` (the safe wrapper) cannot force a keyframe, hard-codes 8 threads,
//! VBR and libvpx's automatic keyframes, and has no decoder; no maintained safe VP8 decoder crate
//! exists. This module is the only place in Natter that calls libvpx, so it allows `unsafe`: every
//! block says why it is sound, and each codec context is destroyed in `Drop`.
//!
//! Encoder settings for real-time calls (the ones libwebrtc uses for a single VP8 stream, where
//! they apply): `VPX_DL_REALTIME` deadline at fixed speed 6 (cpu-used -6: a negative value pins the
//! speed, a positive one lets libvpx change it with the measured encode time), no lag
//! (`g_lag_in_frames = 0`: a frame comes out of the call that took it in), error resilient (each
//! frame's entropy coding is independent of the previous frame's), CBR with a 1 s buffer (0.5 s
//! initial, 0.6 s optimal), quantizer 2..=56, **frame dropping off** (`rc_dropframe_thresh = 0`:
//! every input gives a frame, rate control moves the quantizer instead), no spatial resizing,
//! **no automatic keyframes** (`VPX_KF_DISABLED`: the first frame and forced ones only; the call
//! engine asks when a receiver joins or reports loss, and periodically), a keyframe at most 9×
//! the size of an average frame at 30 fps (`VP8E_SET_MAX_INTRA_BITRATE_PCT`), one thread, one
//! token partition, no denoiser. Timestamps are on the 90 kHz RTP clock.
//!
//! The decoder runs without error concealment and without post-processing. VP8 frames carry no
//! frame number, so a decoder cannot notice that a whole frame went missing: it refuses inter
//! frames before its first keyframe and after any error of its own, and the RTP side
//! (`natter-call`'s `Vp8FrameAssembler`) withholds inter frames after a packet loss.

#![allow(unsafe_code)]

use crate::frame::check_size;
use crate::video::EncodedVideo;
use crate::{I420Frame, MediaError};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint, c_ulong};
use vpx_sys::{
    VPX_DECODER_ABI_VERSION, VPX_DL_REALTIME, VPX_EFLAG_FORCE_KF, VPX_ENCODER_ABI_VERSION, VPX_ERROR_RESILIENT_DEFAULT,
    VPX_FRAME_IS_KEY, vp8_dec_control_id, vp8e_enc_control_id, vpx_codec_control_, vpx_codec_ctx_t,
    vpx_codec_cx_pkt_kind, vpx_codec_dec_cfg_t, vpx_codec_dec_init_ver, vpx_codec_decode, vpx_codec_destroy,
    vpx_codec_enc_cfg_t, vpx_codec_enc_config_default, vpx_codec_enc_config_set, vpx_codec_enc_init_ver,
    vpx_codec_encode, vpx_codec_err_t, vpx_codec_err_to_string, vpx_codec_error_detail, vpx_codec_get_cx_data,
    vpx_codec_get_frame, vpx_codec_vp8_cx, vpx_codec_vp8_dx, vpx_enc_pass, vpx_image_t, vpx_img_fmt, vpx_kf_mode,
    vpx_rc_mode,
};

/// The RTP clock of video (RFC 7741): libvpx's timebase, so its rate control sees real durations.
const TIMEBASE_HZ: i32 = 90_000;

/// A fresh, all-zero codec context. Boxed: libvpx's private state stays attached to it, so its
/// address must not change while it lives.
fn zeroed_context() -> Box<vpx_codec_ctx_t> {
    // SAFETY: `vpx_codec_ctx_t` is a C struct of raw pointers, integers, a union of pointers and
    // an error enum whose 0 is `VPX_CODEC_OK`: all-zero is a valid value, and it is what libvpx's
    // own examples pass to `vpx_codec_*_init`.
    Box::new(unsafe { MaybeUninit::<vpx_codec_ctx_t>::zeroed().assume_init() })
}

/// libvpx's words for a failed call on `ctx`: the error's name plus the codec's detail, if any.
fn describe(ctx: &mut vpx_codec_ctx_t, err: vpx_codec_err_t) -> String {
    // SAFETY: both functions return null or a NUL-terminated string that libvpx owns and keeps
    // alive at least until the next call on `ctx` (the name is static); we copy it at once.
    let (name, detail) = unsafe {
        let name = vpx_codec_err_to_string(err);
        let detail = vpx_codec_error_detail(ctx);
        (
            (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned()),
            (!detail.is_null()).then(|| CStr::from_ptr(detail).to_string_lossy().into_owned()),
        )
    };
    let name = name.unwrap_or_else(|| format!("error {}", err as u32));
    match detail {
        Some(detail) if !detail.is_empty() => format!("{name}: {detail}"),
        _ => name,
    }
}

/// VP8 encoder (libvpx) for real-time: every input frame gives one frame (dropping off), one
/// thread, CBR, keyframes when asked. Feed it frames of the size it was made for.
pub struct Vp8Encoder {
    ctx: Box<vpx_codec_ctx_t>,
    /// The configuration the encoder runs with (changed and handed back by `set_bitrate`).
    config: vpx_codec_enc_cfg_t,
    width: u32,
    height: u32,
    /// Presentation time of the next frame and the duration of one, in 90 kHz ticks.
    next_pts: i64,
    frame_ticks: c_ulong,
}

// SAFETY: a libvpx encoder context has no thread affinity (no thread-local state, one thread of
// its own: none); it is only touched through `&mut self`, so moving it to another thread is sound.
unsafe impl Send for Vp8Encoder {}

fn check_bitrate(bitrate_bps: u32) -> Result<(), MediaError> {
    if !(10_000..=50_000_000).contains(&bitrate_bps) {
        return Err(MediaError::Encoder(format!(
            "bitrate {bitrate_bps} bps is outside 10 kbps..=50 Mbps"
        )));
    }
    Ok(())
}

impl Vp8Encoder {
    /// `fps` is the rate the caller feeds frames at (frame durations for rate control come from
    /// it); `bitrate_bps` is a target, not a cap: with dropping off the encoder raises the
    /// quantizer instead of dropping frames, so short overshoots (keyframes) happen.
    pub fn new(width: u32, height: u32, fps: f32, bitrate_bps: u32) -> Result<Self, MediaError> {
        check_size(width, height)?;
        if !(fps.is_finite() && (1.0..=120.0).contains(&fps)) {
            return Err(MediaError::Encoder(format!("frame rate {fps} is outside 1..=120")));
        }
        check_bitrate(bitrate_bps)?;

        // SAFETY: `vpx_codec_vp8_cx` returns libvpx's static VP8 encoder interface. The
        // configuration is a plain C struct (integers, enums whose 0 is a variant, null-able
        // pointers): all-zero is valid, and `vpx_codec_enc_config_default` overwrites it.
        let iface = unsafe { vpx_codec_vp8_cx() };
        let mut config = unsafe { MaybeUninit::<vpx_codec_enc_cfg_t>::zeroed().assume_init() };
        // SAFETY: `iface` is the VP8 interface and `config` a valid, writable configuration;
        // usage 0 is the only one VP8 has.
        let result = unsafe { vpx_codec_enc_config_default(iface, &mut config, 0) };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Encoder(format!(
                "no default VP8 configuration (error {})",
                result as u32
            )));
        }
        config.g_w = width;
        config.g_h = height;
        config.g_timebase.num = 1;
        config.g_timebase.den = TIMEBASE_HZ;
        config.g_threads = 1;
        config.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
        config.g_pass = vpx_enc_pass::VPX_RC_ONE_PASS;
        config.g_lag_in_frames = 0;
        config.rc_dropframe_thresh = 0;
        config.rc_resize_allowed = 0;
        config.rc_end_usage = vpx_rc_mode::VPX_CBR;
        config.rc_target_bitrate = bitrate_bps.div_ceil(1000);
        config.rc_min_quantizer = 2;
        config.rc_max_quantizer = 56;
        config.rc_undershoot_pct = 100;
        config.rc_overshoot_pct = 15;
        config.rc_buf_initial_sz = 500;
        config.rc_buf_optimal_sz = 600;
        config.rc_buf_sz = 1000;
        config.kf_mode = vpx_kf_mode::VPX_KF_DISABLED;
        config.kf_min_dist = 0;
        config.kf_max_dist = 3000;

        let mut ctx = zeroed_context();
        // SAFETY: `ctx` is a zeroed context at a stable (boxed) address, `config` a complete
        // configuration (libvpx copies it), the ABI version the one our bindings were made for
        // (libvpx refuses a mismatch instead of misreading the struct).
        let result = unsafe { vpx_codec_enc_init_ver(&mut *ctx, iface, &config, 0, VPX_ENCODER_ABI_VERSION as c_int) };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            // A failed init leaves nothing to destroy (libvpx frees what it allocated).
            return Err(MediaError::Encoder(format!(
                "could not create the encoder ({})",
                describe(&mut ctx, result)
            )));
        }
        let mut encoder = Self {
            ctx,
            config,
            width,
            height,
            next_pts: 0,
            frame_ticks: (f64::from(TIMEBASE_HZ) / f64::from(fps)).round() as c_ulong,
        };
        let max_intra_pct = ((30.0 * fps) as c_uint).max(300);
        encoder.control(vp8e_enc_control_id::VP8E_SET_CPUUSED, -6)?;
        encoder.control(vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1)?;
        encoder.control(vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0)?;
        encoder.control(vp8e_enc_control_id::VP8E_SET_TOKEN_PARTITIONS, 0)?;
        encoder.control(
            vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
            max_intra_pct as c_int,
        )?;
        Ok(encoder)
    }

    /// One `vpx_codec_control` call with an `int`-sized argument (every control used here takes an
    /// `int` or an `unsigned int`, passed alike through C varargs).
    fn control(&mut self, id: vp8e_enc_control_id, value: c_int) -> Result<(), MediaError> {
        // SAFETY: `self.ctx` is an initialised VP8 encoder; each id used takes one int-sized
        // value, which is what we pass.
        let result = unsafe { vpx_codec_control_(&mut *self.ctx, id as c_int, value) };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Encoder(format!(
                "setting {id:?} to {value} failed ({})",
                describe(&mut self.ctx, result)
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

    /// A new bitrate target from the next frame on (no keyframe, nothing reset): for congestion
    /// control. Same bounds as `new`.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        check_bitrate(bitrate_bps)?;
        let mut config = self.config;
        config.rc_target_bitrate = bitrate_bps.div_ceil(1000);
        // SAFETY: `self.ctx` is an initialised encoder and `config` the configuration it was made
        // with, only the target changed (libvpx copies it).
        let result = unsafe { vpx_codec_enc_config_set(&mut *self.ctx, &config) };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Encoder(format!(
                "changing the bitrate to {bitrate_bps} bps failed ({})",
                describe(&mut self.ctx, result)
            )));
        }
        self.config = config;
        Ok(())
    }

    /// Encode one frame; the result is never empty. `force_keyframe` makes this frame a keyframe
    /// (the first frame always is one).
    pub fn encode(&mut self, frame: &I420Frame, force_keyframe: bool) -> Result<EncodedVideo, MediaError> {
        crate::frame::check_input(frame, self.width, self.height)?;
        let w = frame.width as usize;
        // SAFETY: all-zero is a valid `vpx_image_t` (null pointers, zero sizes, enums whose 0 is
        // a variant); every field libvpx reads is set below.
        let mut image = unsafe { MaybeUninit::<vpx_image_t>::zeroed().assume_init() };
        image.fmt = vpx_img_fmt::VPX_IMG_FMT_I420;
        image.bit_depth = 8;
        image.w = frame.width;
        image.h = frame.height;
        image.d_w = frame.width;
        image.d_h = frame.height;
        image.x_chroma_shift = 1;
        image.y_chroma_shift = 1;
        image.bps = 12;
        // libvpx takes `*mut` planes but only reads the input picture (it copies it into its
        // own look-ahead buffer before `vpx_codec_encode` returns).
        image.planes = [
            frame.y.as_ptr().cast_mut(),
            frame.u.as_ptr().cast_mut(),
            frame.v.as_ptr().cast_mut(),
            std::ptr::null_mut(),
        ];
        image.stride = [w as c_int, (w / 2) as c_int, (w / 2) as c_int, 0];
        let flags = if force_keyframe {
            VPX_EFLAG_FORCE_KF as vpx_sys::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: `self.ctx` is an initialised encoder; `image` describes three planes that are at
        // least `stride × rows` bytes long (checked above) and outlive the call, and libvpx does
        // not keep the pointers after it returns.
        let result = unsafe {
            vpx_codec_encode(
                &mut *self.ctx,
                &image,
                self.next_pts,
                self.frame_ticks,
                flags,
                VPX_DL_REALTIME as c_ulong,
            )
        };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Encoder(format!(
                "encoding failed ({})",
                describe(&mut self.ctx, result)
            )));
        }
        self.next_pts += self.frame_ticks as i64;

        let mut encoded: Option<EncodedVideo> = None;
        let mut iter: vpx_sys::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: `self.ctx` is an initialised encoder and `iter` starts null, as libvpx asks;
            // the packet it returns stays valid until the next call on the context.
            let packet = unsafe { vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if packet.is_null() {
                break;
            }
            // SAFETY: a non-null packet points to a live `vpx_codec_cx_pkt_t`; for a frame packet
            // the `frame` member of the union is the one libvpx filled, and `buf` holds `sz` bytes.
            let (data, keyframe) = unsafe {
                if (*packet).kind != vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let frame = &(*packet).data.frame;
                let bytes = if frame.buf.is_null() || frame.sz == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize).to_vec()
                };
                (bytes, frame.flags & VPX_FRAME_IS_KEY != 0)
            };
            if encoded.is_some() {
                return Err(MediaError::Encoder(
                    "encoder gave more than one frame for one picture".into(),
                ));
            }
            encoded = Some(EncodedVideo { data, keyframe });
        }
        match encoded {
            Some(encoded) if !encoded.data.is_empty() => Ok(encoded),
            _ => Err(MediaError::Encoder("encoder gave no frame".into())),
        }
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: `self.ctx` was initialised by `vpx_codec_enc_init_ver` (a `Vp8Encoder` exists
        // only then) and is destroyed exactly once, here.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// Whether a VP8 frame is a keyframe, from its first bytes (RFC 6386 §9.1); an `Err` for a frame
/// too short to tell, or a keyframe without its start code.
fn is_keyframe(frame: &[u8]) -> Result<bool, MediaError> {
    if frame.len() < 3 {
        return Err(MediaError::Decoder("frame is too short".into()));
    }
    // Frame tag bit 0: 0 = keyframe, 1 = inter frame.
    let keyframe = frame[0] & 1 == 0;
    if keyframe && (frame.len() < 10 || frame[3..6] != [0x9d, 0x01, 0x2a]) {
        return Err(MediaError::Decoder(
            "keyframe without the VP8 start code (needs a keyframe)".into(),
        ));
    }
    Ok(keyframe)
}

/// VP8 decoder (libvpx, no error concealment, no post-processing, one thread). Feed one frame per
/// call, starting with a keyframe: inter frames before the first keyframe, and after any `Err`,
/// are refused with an `Err` until the next keyframe (ask the sender for one).
pub struct Vp8Decoder {
    ctx: Box<vpx_codec_ctx_t>,
    /// No keyframe yet, or the last frame failed: inter frames would decode against a wrong
    /// reference.
    needs_keyframe: bool,
}

// SAFETY: as for the encoder: no thread affinity, only touched through `&mut self`.
unsafe impl Send for Vp8Decoder {}

impl Vp8Decoder {
    pub fn new() -> Result<Self, MediaError> {
        let config = vpx_codec_dec_cfg_t { threads: 1, w: 0, h: 0 };
        let mut ctx = zeroed_context();
        // SAFETY: `ctx` is a zeroed context at a stable address, the interface libvpx's static VP8
        // decoder, `config` complete (libvpx copies it), the ABI version our bindings were made for.
        let result = unsafe {
            vpx_codec_dec_init_ver(
                &mut *ctx,
                vpx_codec_vp8_dx(),
                &config,
                0,
                VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Decoder(format!(
                "could not create the decoder ({})",
                describe(&mut ctx, result)
            )));
        }
        Ok(Self {
            ctx,
            needs_keyframe: true,
        })
    }

    /// Decode one VP8 frame. `Ok(None)`: the frame is not for display (libvpx showed nothing).
    pub fn decode(&mut self, frame: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        let keyframe = match is_keyframe(frame) {
            Ok(keyframe) => keyframe,
            Err(e) => {
                self.needs_keyframe = true;
                return Err(e);
            }
        };
        if !keyframe && self.needs_keyframe {
            return Err(MediaError::Decoder(
                "inter frame without a decoded reference (needs a keyframe)".into(),
            ));
        }
        let Ok(len) = c_uint::try_from(frame.len()) else {
            self.needs_keyframe = true;
            return Err(MediaError::Decoder("frame is too large".into()));
        };
        // SAFETY: `self.ctx` is an initialised decoder; `frame` is `len` readable bytes that
        // libvpx reads only during the call (no frame threading, no input fragments).
        let result = unsafe { vpx_codec_decode(&mut *self.ctx, frame.as_ptr(), len, std::ptr::null_mut(), 0) };
        if result != vpx_codec_err_t::VPX_CODEC_OK {
            self.needs_keyframe = true;
            return Err(MediaError::Decoder(format!(
                "{} (needs a keyframe)",
                describe(&mut self.ctx, result)
            )));
        }
        let mut corrupted: c_int = 0;
        // SAFETY: VP8D_GET_FRAME_CORRUPTED takes one `int *`, which stays valid for the call.
        let result = unsafe {
            vpx_codec_control_(
                &mut *self.ctx,
                vp8_dec_control_id::VP8D_GET_FRAME_CORRUPTED as c_int,
                &mut corrupted as *mut c_int,
            )
        };
        if result != vpx_codec_err_t::VPX_CODEC_OK || corrupted != 0 {
            self.needs_keyframe = true;
            return Err(MediaError::Decoder(
                "the decoded frame is corrupt (needs a keyframe)".into(),
            ));
        }
        self.needs_keyframe = false;

        let mut iter: vpx_sys::vpx_codec_iter_t = std::ptr::null();
        // SAFETY: `self.ctx` is an initialised decoder and `iter` starts null; the image returned
        // stays valid until the next decode call, and we copy out of it before returning.
        let image = unsafe { vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
        if image.is_null() {
            return Ok(None);
        }
        // SAFETY: a non-null image from `vpx_codec_get_frame` is a live `vpx_image_t`. Its format
        // is read as the raw integer so that no unexpected value is ever made into the Rust enum.
        let (format, w, h, planes, strides) = unsafe {
            let image = &*image;
            (
                std::ptr::addr_of!(image.fmt).cast::<u32>().read(),
                image.d_w as usize,
                image.d_h as usize,
                image.planes,
                image.stride,
            )
        };
        if format != vpx_img_fmt::VPX_IMG_FMT_I420 as u32 {
            self.needs_keyframe = true;
            return Err(MediaError::Decoder(format!(
                "decoded an unexpected picture format {format:#x}"
            )));
        }
        // Another sender may scale to an odd size (a browser under low bandwidth): show it one
        // column / row smaller rather than not at all (I420 frames here have even sizes).
        let (w, h) = (w & !1, h & !1);
        if w == 0 || h == 0 || w > 4096 || h > 4096 {
            return Err(MediaError::Decoder(format!("decoded an unusable picture size {w}x{h}")));
        }
        if planes[..3].iter().any(|p| p.is_null())
            || strides[..3]
                .iter()
                .zip([w, w / 2, w / 2])
                .any(|(&s, min)| s < 0 || (s as usize) < min)
        {
            self.needs_keyframe = true;
            return Err(MediaError::Decoder("decoded picture has no usable planes".into()));
        }
        let copy_plane = |index: usize, width: usize, rows: usize| -> Vec<u8> {
            let stride = strides[index] as usize;
            let mut out = Vec::with_capacity(width * rows);
            for row in 0..rows {
                // SAFETY: libvpx's plane `index` holds `rows` rows of `stride >= width` bytes
                // (chroma planes half the luma size, I420 checked above); the image is alive
                // until the next call on the decoder.
                let line = unsafe { std::slice::from_raw_parts(planes[index].add(row * stride), width) };
                out.extend_from_slice(line);
            }
            out
        };
        Ok(Some(I420Frame {
            width: w as u32,
            height: h as u32,
            y: copy_plane(0, w, h),
            u: copy_plane(1, w / 2, h / 2),
            v: copy_plane(2, w / 2, h / 2),
        }))
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: `self.ctx` was initialised by `vpx_codec_dec_init_ver` and is destroyed exactly
        // once, here.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}
