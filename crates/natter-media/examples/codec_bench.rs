//! Per-frame cost of the media pipeline: synthetic camera, H.264 and VP8 encode and decode, RGBA
//! scaling, Opus encode/decode. Not a test: it prints figures.
//!
//! `cargo run --release -p natter-media --example codec_bench [frames]`

use natter_media::*;
use std::time::{Duration, Instant};

fn ms(d: Duration, n: u32) -> f64 {
    d.as_secs_f64() * 1000.0 / f64::from(n)
}

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    H264,
    Vp8,
}

/// An encoder and a decoder of one codec, behind closures (the two codecs share their shape).
type Encode = Box<dyn FnMut(&I420Frame, bool) -> EncodedVideo>;
type Decode = Box<dyn FnMut(&[u8]) -> Option<I420Frame>>;

fn codec(codec: Codec, width: u32, height: u32, bitrate: u32) -> (Encode, Decode) {
    match codec {
        Codec::H264 => {
            let mut encoder = VideoEncoder::new(width, height, 30.0, bitrate).expect("encoder");
            let mut decoder = VideoDecoder::new().expect("decoder");
            (
                Box::new(move |f, key| encoder.encode(f, key).expect("encode")),
                Box::new(move |d| decoder.decode(d).expect("decode")),
            )
        }
        Codec::Vp8 => {
            let mut encoder = Vp8Encoder::new(width, height, 30.0, bitrate).expect("encoder");
            let mut decoder = Vp8Decoder::new().expect("decoder");
            (
                Box::new(move |f, key| encoder.encode(f, key).expect("encode")),
                Box::new(move |d| decoder.decode(d).expect("decode")),
            )
        }
    }
}

fn video(kind: Codec, width: u32, height: u32, bitrate: u32, frames: u32) {
    let mut camera = SyntheticCamera::new(width, height, 3);
    let (mut encode, mut decode) = codec(kind, width, height, bitrate);
    let name = match kind {
        Codec::H264 => "H.264",
        Codec::Vp8 => "VP8",
    };
    let (mut t_cam, mut t_enc, mut t_dec, mut t_tile) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut bytes, mut stamped, mut worst_enc, mut psnr_sum) = (0usize, 0u32, Duration::ZERO, 0.0);
    for counter in 1..=frames {
        let t = Instant::now();
        let frame = camera.frame(counter, now_ms());
        t_cam += t.elapsed();

        let t = Instant::now();
        let encoded = encode(&frame, counter == 1);
        let e = t.elapsed();
        t_enc += e;
        worst_enc = worst_enc.max(e);
        bytes += encoded.data.len();
        if counter == 1 && kind == Codec::Vp8 {
            println!("{width}x{height}: VP8 keyframe {} bytes", encoded.data.len());
        } else if counter == 1 {
            // SPS after the first start code: NAL header, profile_idc, constraint flags, level_idc.
            let d = &encoded.data;
            println!(
                "{width}x{height}: profile-level-id {:02x}{:02x}{:02x}, keyframe {} bytes",
                d[5],
                d[6],
                d[7],
                d.len()
            );
        }

        let t = Instant::now();
        let picture = decode(&encoded.data).expect("picture");
        t_dec += t.elapsed();
        stamped += u32::from(read_stamp(&picture).is_some());
        let mse = frame
            .y
            .iter()
            .zip(&picture.y)
            .map(|(&a, &b)| f64::from(a.abs_diff(b)).powi(2))
            .sum::<f64>()
            / frame.y.len() as f64;
        psnr_sum += 10.0 * (255.0f64 * 255.0 / mse.max(1e-3)).log10();

        let t = Instant::now();
        std::hint::black_box(scale_i420(&picture, 320, 180));
        t_tile += t.elapsed();
    }
    println!(
        "{name} {width}x{height} @ {} kbps: camera {:.2} ms, encode {:.2} ms (worst {:.1}), decode {:.2} ms, tile 320x180 {:.2} ms per frame; {:.0} kbps at 30 fps, luma PSNR {:.1} dB; stamps read {stamped}/{frames}",
        bitrate / 1000,
        ms(t_cam, frames),
        ms(t_enc, frames),
        worst_enc.as_secs_f64() * 1000.0,
        ms(t_dec, frames),
        ms(t_tile, frames),
        bytes as f64 * 8.0 * 30.0 / f64::from(frames) / 1000.0,
        psnr_sum / f64::from(frames),
    );
}

fn audio(frames: u32) {
    let mut mic = SyntheticMic::new(440.0);
    let mut encoder = AudioEncoder::new().expect("encoder");
    let mut decoder = AudioDecoder::new().expect("decoder");
    let (mut t_enc, mut t_dec) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..frames {
        let pcm = mic.next_frame();
        let t = Instant::now();
        let packet = encoder.encode(&pcm).expect("encode");
        t_enc += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(decoder.decode(&packet).expect("decode"));
        t_dec += t.elapsed();
    }
    println!(
        "opus 20 ms mono: encode {:.3} ms, decode {:.3} ms per frame",
        ms(t_enc, frames),
        ms(t_dec, frames)
    );
}

fn main() {
    let frames: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(150);
    for kind in [Codec::H264, Codec::Vp8] {
        video(kind, 320, 180, 150_000, frames);
        video(kind, 640, 360, 600_000, frames);
        video(kind, 1280, 720, 1_500_000, frames);
    }
    audio(frames);
}
