//! CPU one video stream costs to encode: the synthetic camera's moving pattern at WIDTHxHEIGHT,
//! encoded at 30 fps with the settings calls use, for SECONDS of video. Prints one JSON line with
//! the encoder's CPU time (this thread's, from `/proc/thread-self/schedstat`: the encoder runs on
//! one thread) and the share of one core a real-time stream needs.
//!
//! `cargo run --release -p natter-media --example encode_cpu [-- 1280x720 10]`
//! (`cargo xtask bench` runs it as the `encode_720p` scenario.)

use natter_media::{SyntheticCamera, VideoEncoder, now_ms};
use std::time::Instant;

const FPS: u32 = 30;

fn main() {
    let mut args = std::env::args().skip(1);
    let size = args.next().unwrap_or_else(|| "1280x720".into());
    let seconds: u32 = args.next().map(|s| s.parse().expect("SECONDS")).unwrap_or(10);
    let (width, height) = size
        .split_once('x')
        .map(|(w, h)| (w.parse().expect("WIDTH"), h.parse().expect("HEIGHT")))
        .expect("WIDTHxHEIGHT");
    // The bitrate calls give a picture of this size (800 kbps at 360p, in proportion to the area, at most 2.5 Mbps).
    let bitrate = ((800_000.0 * f64::from(width * height) / (640.0 * 360.0)) as u32).min(2_500_000);
    let mut camera = SyntheticCamera::new(width, height, 7);
    let mut encoder = VideoEncoder::new(width, height, FPS as f32, bitrate).expect("encoder");
    let frames = seconds * FPS;
    let (mut cpu_ns, mut bytes) = (0u64, 0usize);
    let wall = Instant::now();
    for counter in 1..=frames {
        let frame = camera.frame(counter, now_ms());
        let before = thread_cpu_ns();
        let encoded = encoder.encode(&frame, counter == 1).expect("encode");
        cpu_ns += thread_cpu_ns() - before;
        bytes += encoded.data.len();
    }
    let cpu_s = cpu_ns as f64 / 1e9;
    let video_s = f64::from(frames) / f64::from(FPS);
    println!(
        "{}",
        serde_json::json!({
            "width": width, "height": height, "fps": FPS, "frames": frames, "bitrate_bps": bitrate,
            "encode_cpu_s": cpu_s, "wall_s": wall.elapsed().as_secs_f64(),
            "core_fraction": cpu_s / video_s,
            "ms_per_frame": cpu_s * 1000.0 / f64::from(frames),
            "kbps": bytes as f64 * 8.0 / video_s / 1000.0,
        })
    );
}

/// Nanoseconds this thread has run on a CPU (Linux).
fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("/proc/thread-self/schedstat (Linux)");
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat run time")
}
