//! Real codecs end to end: stamps survive H.264, garbage does not crash the decoder, Opus keeps a tone.

use natter_media::*;

fn stamps_survive(width: u32, height: u32, bitrate: u32) {
    let mut camera = SyntheticCamera::new(width, height, 5);
    let mut encoder = VideoEncoder::new(width, height, 30.0, bitrate).unwrap();
    let mut decoder = VideoDecoder::new().unwrap();
    let mut total_bytes = 0;
    for counter in 1..=120u32 {
        let capture_ms = 1_764_000_000_000 + u64::from(counter) * 33;
        let frame = camera.frame(counter, capture_ms);
        let encoded = encoder.encode(&frame, counter == 1).unwrap();
        assert!(!encoded.data.is_empty(), "frame {counter} was skipped by the encoder");
        assert_eq!(encoded.keyframe, counter == 1, "frame {counter}");
        total_bytes += encoded.data.len();
        let decoded = decoder.decode(&encoded.data).unwrap().unwrap_or_else(|| panic!("frame {counter} gave no picture"));
        assert_eq!((decoded.width, decoded.height), (width, height));
        assert_eq!(read_stamp(&decoded), Some(FrameStamp { counter, capture_ms }), "{width}x{height} frame {counter}");
    }
    let kbps = total_bytes as f64 * 8.0 / 4.0 / 1000.0;
    eprintln!("{width}x{height}: {kbps:.0} kbps for a {} kbps target", bitrate / 1000);
}

#[test]
fn stamps_survive_h264_at_360p() {
    stamps_survive(640, 360, 800_000);
}

#[test]
fn stamps_survive_h264_at_180p_low_bitrate() {
    stamps_survive(320, 180, 150_000);
}

#[test]
fn a_forced_keyframe_mid_stream_is_a_keyframe_and_decodes_alone() {
    let mut camera = SyntheticCamera::new(320, 180, 1);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 300_000).unwrap();
    for counter in 1..10 {
        encoder.encode(&camera.frame(counter, 0), counter == 1).unwrap();
    }
    let key = encoder.encode(&camera.frame(10, 42), true).unwrap();
    assert!(key.keyframe);
    // A fresh decoder (a receiver that joined late) decodes from this keyframe on.
    let mut late = VideoDecoder::new().unwrap();
    let picture = late.decode(&key.data).unwrap().expect("picture");
    assert_eq!(read_stamp(&picture), Some(FrameStamp { counter: 10, capture_ms: 42 }));
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let mut decoder = VideoDecoder::new().unwrap();
    let mut camera = SyntheticCamera::new(320, 180, 1);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 300_000).unwrap();
    let key = encoder.encode(&camera.frame(1, 0), true).unwrap().data;
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0, 0, 1],
        vec![0xFF; 500],
        vec![0, 0, 0, 1, 0x67, 0xFF, 0xFF, 0xFF],
        key[..key.len() / 2].to_vec(),
        key.iter().map(|b| b ^ 0x5A).collect(),
    ];
    for input in inputs {
        let _ = decoder.decode(&input); // Err or Ok(None)/Some: anything but a panic
    }
    // And the decoder still works after the garbage.
    let mut fresh_key = encoder.encode(&camera.frame(2, 7), true).unwrap().data;
    let picture = decoder.decode(&fresh_key).unwrap();
    fresh_key.clear();
    assert!(picture.is_some());
}

#[test]
fn wrong_sizes_are_clear_errors() {
    assert!(VideoEncoder::new(641, 360, 30.0, 500_000).err().unwrap().to_string().contains("even"));
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 300_000).unwrap();
    let frame = I420Frame::black(640, 360).unwrap();
    assert!(encoder.encode(&frame, false).is_err());
}

/// Goertzel power of `freq` relative to total power.
fn tone_share(samples: &[i16], freq: f64) -> f64 {
    let n = samples.len() as f64;
    let k = (n * freq / 48_000.0).round();
    let w = std::f64::consts::TAU * k / n;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() * n / 2.0;
    power / total
}

#[test]
fn opus_keeps_a_440_hz_tone() {
    let mut mic = SyntheticMic::new(440.0);
    let mut encoder = AudioEncoder::new().unwrap();
    let mut decoder = AudioDecoder::new().unwrap();
    let mut decoded = Vec::new();
    for _ in 0..50 {
        let packet = encoder.encode(&mic.next_frame()).unwrap();
        assert!(!packet.is_empty() && packet.len() < 400);
        decoded.extend(decoder.decode(&packet).unwrap());
    }
    assert_eq!(decoded.len(), 48_000);
    let tail = &decoded[4800..]; // skip the codec's start-up
    let share_440 = tone_share(tail, 440.0);
    let share_1000 = tone_share(tail, 1000.0);
    assert!(share_440 > 0.8, "440 Hz holds only {share_440:.2} of the power");
    assert!(share_1000 < 0.01, "1 kHz holds {share_1000:.3}");
    let rms = (tail.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
    let expected = 0.3 * 32767.0 / 2f64.sqrt();
    assert!((rms / expected - 1.0).abs() < 0.25, "level {rms:.0} vs {expected:.0}");
}

#[test]
fn opus_rejects_a_wrong_frame_length() {
    let mut encoder = AudioEncoder::new().unwrap();
    assert!(encoder.encode(&[0; 100]).is_err());
}
