//! Real codecs end to end: stamps survive H.264, garbage does not crash the decoder, Opus keeps a tone.

use natter_media::*;

/// Encode `frames` synthetic frames, decode each one at once and read its stamp back exactly.
/// Keyframes come every `keyframe_every` frames, as the call engine asks for them.
fn stamps_survive(width: u32, height: u32, bitrate: u32, frames: u32, keyframe_every: u32) {
    let mut camera = SyntheticCamera::new(width, height, 5);
    let mut encoder = VideoEncoder::new(width, height, 30.0, bitrate).unwrap();
    let mut decoder = VideoDecoder::new().unwrap();
    let mut total_bytes = 0;
    for counter in 1..=frames {
        let capture_ms = 1_764_000_000_000 + u64::from(counter) * 33;
        let frame = camera.frame(counter, capture_ms);
        let force = (counter - 1) % keyframe_every == 0;
        let encoded = encoder.encode(&frame, force).unwrap();
        assert!(!encoded.data.is_empty(), "frame {counter} was skipped by the encoder");
        assert_eq!(encoded.keyframe, force, "frame {counter}");
        total_bytes += encoded.data.len();
        let decoded = decoder
            .decode(&encoded.data)
            .unwrap()
            .unwrap_or_else(|| panic!("frame {counter} gave no picture"));
        assert_eq!((decoded.width, decoded.height), (width, height));
        assert_eq!(
            read_stamp(&decoded),
            Some(FrameStamp { counter, capture_ms }),
            "{width}x{height} frame {counter}"
        );
    }
    let kbps = total_bytes as f64 * 8.0 * 30.0 / f64::from(frames) / 1000.0;
    eprintln!("{width}x{height}: {kbps:.0} kbps for a {} kbps target", bitrate / 1000);
    // Rate control works (without skipping frames): within 1.5x of the target on average.
    assert!(
        kbps < f64::from(bitrate) * 1.5 / 1000.0,
        "{kbps:.0} kbps for a {} kbps target",
        bitrate / 1000
    );
}

#[test]
fn stamps_survive_h264_at_360p() {
    stamps_survive(640, 360, 800_000, 120, 1000);
}

#[test]
fn stamps_survive_h264_at_360p_500_kbps_with_periodic_keyframes() {
    stamps_survive(640, 360, 500_000, 150, 60);
}

#[test]
fn stamps_survive_h264_at_180p_low_bitrate() {
    stamps_survive(320, 180, 150_000, 120, 1000);
}

/// Start offsets (after the start code), start-code lengths and types of the NAL units.
fn nal_units(data: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut units = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let code = if i > 0 && data[i - 1] == 0 { 4 } else { 3 };
            if i + 3 < data.len() {
                units.push((i + 3, code, data[i + 3] & 0x1F));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    units
}

#[test]
fn access_units_are_sps_pps_idr_or_one_slice() {
    let mut camera = SyntheticCamera::new(640, 360, 2);
    let mut encoder = VideoEncoder::new(640, 360, 30.0, 600_000).unwrap();
    for counter in 1..=40u32 {
        let encoded = encoder
            .encode(&camera.frame(counter, 0), counter == 1 || counter == 31)
            .unwrap();
        let units = nal_units(&encoded.data);
        assert_eq!(
            &encoded.data[..4],
            &[0, 0, 0, 1],
            "frame {counter} starts with a 4-byte start code"
        );
        assert!(
            units.iter().all(|&(_, code, _)| code == 4),
            "frame {counter}: {units:?}"
        );
        let types: Vec<u8> = units.iter().map(|&(_, _, t)| t).collect();
        if counter == 1 || counter == 31 {
            assert!(encoded.keyframe);
            assert_eq!(types, [7, 8, 5], "keyframe {counter}");
            let sps = &encoded.data[units[0].0..];
            // profile_idc 66 (baseline) with constraint_set1 (constrained baseline).
            assert_eq!(sps[1], 66, "profile_idc");
            assert_ne!(sps[2] & 0x40, 0, "constraint_set1_flag");
            eprintln!("profile-level-id {:02x}{:02x}{:02x}", sps[1], sps[2], sps[3]);
        } else {
            assert!(!encoded.keyframe);
            assert_eq!(types, [1], "frame {counter}");
        }
    }
}

#[test]
fn the_decoder_wants_a_keyframe_first_and_after_a_loss() {
    let mut camera = SyntheticCamera::new(320, 180, 4);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 300_000).unwrap();
    let frames: Vec<EncodedVideo> = (1..=40u32)
        .map(|counter| {
            encoder
                .encode(
                    &camera.frame(counter, u64::from(counter)),
                    counter == 1 || counter == 30,
                )
                .unwrap()
        })
        .collect();

    // Joining mid-stream: delta frames give errors (never a wrong picture) until a keyframe comes.
    let mut late = VideoDecoder::new().unwrap();
    for frame in &frames[5..10] {
        let err = late.decode(&frame.data).expect_err("a delta frame without a keyframe");
        assert!(err.to_string().contains("keyframe"), "{err}");
    }
    let picture = late
        .decode(&frames[29].data)
        .unwrap()
        .expect("picture from the keyframe");
    assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(30));

    // A lost delta frame: the following ones are errors until the next keyframe, then all is well.
    let mut decoder = VideoDecoder::new().unwrap();
    decoder.decode(&frames[0].data).unwrap().expect("first keyframe");
    for (i, frame) in frames.iter().enumerate().take(29).skip(2) {
        match decoder.decode(&frame.data) {
            Err(_) | Ok(None) => {}
            Ok(Some(picture)) => panic!("frame {} decoded after a loss: {:?}", i + 1, read_stamp(&picture)),
        }
    }
    for (i, frame) in frames.iter().enumerate().skip(29) {
        let picture = decoder.decode(&frame.data).unwrap().expect("picture");
        assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(i as u32 + 1));
    }
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
    assert_eq!(
        read_stamp(&picture),
        Some(FrameStamp {
            counter: 10,
            capture_ms: 42
        })
    );
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let mut decoder = VideoDecoder::new().unwrap();
    let mut camera = SyntheticCamera::new(320, 180, 1);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 300_000).unwrap();
    let key = encoder.encode(&camera.frame(1, 0), true).unwrap().data;
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0, 0, 1],
        vec![0xFF; 500],
        vec![0, 0, 0, 1, 0x67, 0xFF, 0xFF, 0xFF],
        key[..key.len() / 2].to_vec(),
        key[..20].to_vec(),
        key[key.len() / 2..].to_vec(),
        [&key[..key.len() / 2], &[0, 0, 0, 1, 0x65][..], &[0xAB; 64][..]].concat(),
        key.iter().map(|b| b ^ 0x5A).collect(),
    ];
    let mut seed = 0x1234_5678u32;
    for _ in 0..200 {
        // Random bytes behind a start code and a slice header byte.
        let len = 8 + (seed % 3000) as usize;
        let mut junk = vec![0, 0, 0, 1, [0x65u8, 0x41, 0x67, 0x68][(seed % 4) as usize]];
        junk.extend((0..len).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        }));
        inputs.push(junk);
    }
    for input in &inputs {
        if let Ok(Some(picture)) = decoder.decode(input) {
            // Whatever comes out is a well-formed frame.
            assert_eq!(picture.y.len(), (picture.width * picture.height) as usize);
            assert_eq!(picture.u.len(), picture.y.len() / 4);
        }
    }
    // And the decoder still works after the garbage.
    let mut fresh_key = encoder.encode(&camera.frame(2, 7), true).unwrap().data;
    let picture = decoder.decode(&fresh_key).unwrap();
    fresh_key.clear();
    assert!(picture.is_some());
}

#[test]
fn wrong_sizes_are_clear_errors() {
    assert!(
        VideoEncoder::new(641, 360, 30.0, 500_000)
            .err()
            .unwrap()
            .to_string()
            .contains("even")
    );
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

/// DFT power at an arbitrary frequency (Goertzel with a non-integer bin).
fn power_at(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * freq / 48_000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
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
    // The dominant frequency between 50 Hz and 4 kHz, in 1 Hz steps.
    let dominant = (50..4000)
        .map(f64::from)
        .max_by(|a, b| power_at(tail, *a).total_cmp(&power_at(tail, *b)))
        .unwrap();
    assert!((dominant - 440.0).abs() <= 10.0, "dominant frequency {dominant} Hz");
    let rms = (tail.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
    let expected = 0.3 * 32767.0 / 2f64.sqrt();
    assert!((rms / expected - 1.0).abs() < 0.25, "level {rms:.0} vs {expected:.0}");
}

#[test]
fn opus_conceals_a_lost_packet_with_one_frame_and_rejects_garbage() {
    let mut mic = SyntheticMic::new(440.0);
    let mut encoder = AudioEncoder::new().unwrap();
    let mut decoder = AudioDecoder::new().unwrap();
    for _ in 0..10 {
        decoder.decode(&encoder.encode(&mic.next_frame()).unwrap()).unwrap();
    }
    let concealed = decoder.decode(&[]).unwrap();
    assert_eq!(concealed.len(), AUDIO_FRAME_SAMPLES, "one 20 ms frame, not 120 ms");
    assert!(
        concealed.iter().any(|&x| x.unsigned_abs() > 1000),
        "concealment continues the tone"
    );
    assert_eq!(decoder.conceal().unwrap().len(), AUDIO_FRAME_SAMPLES);
    let _ = decoder.decode(&[0xFF; 3]); // Err or noise, never a panic
    assert_eq!(
        decoder
            .decode(&encoder.encode(&mic.next_frame()).unwrap())
            .unwrap()
            .len(),
        AUDIO_FRAME_SAMPLES
    );
}

#[test]
fn opus_rejects_a_wrong_frame_length() {
    let mut encoder = AudioEncoder::new().unwrap();
    assert!(encoder.encode(&[0; 100]).is_err());
}

/// The call engine follows the bandwidth estimate by changing the encoder's target in place.
#[test]
fn an_h264_bitrate_change_takes_effect_without_a_keyframe() {
    let mut camera = SyntheticCamera::new(320, 180, 7);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 1_500_000).unwrap();
    let mut bytes_of = |encoder: &mut VideoEncoder, from: u32| -> (usize, bool) {
        let (mut total, mut keyframes) = (0, false);
        for i in from..from + 30 {
            let out = encoder
                .encode(&camera.frame(i, 1_764_000_000_000 + u64::from(i) * 33), i == 0)
                .unwrap();
            if i > 0 {
                total += out.data.len();
                keyframes |= out.keyframe;
            }
        }
        (total, keyframes)
    };
    let (high, _) = bytes_of(&mut encoder, 0);
    encoder.set_bitrate(100_000).unwrap();
    let (low, keyframes) = bytes_of(&mut encoder, 30);
    assert!(!keyframes, "no keyframe for a rate change");
    assert!(
        low * 2 < high,
        "100 kbit/s: {low} bytes in 30 frames vs {high} at 1.5 Mbit/s"
    );
    assert!(encoder.set_bitrate(5).is_err(), "5 bit/s is refused");
}

/// A link that recovers raises the rate of an encoder made at a low one: openh264 refuses a
/// target above the ceiling it was made with unless the ceiling moves first (every raise in a
/// call failed that way once, so a picture started at 300 kbit/s never got better).
#[test]
fn an_h264_bitrate_can_rise_above_the_rate_the_encoder_was_made_with() {
    let mut camera = SyntheticCamera::new(320, 180, 7);
    let mut encoder = VideoEncoder::new(320, 180, 30.0, 100_000).unwrap();
    let mut bytes_of = |encoder: &mut VideoEncoder, from: u32| -> usize {
        (from..from + 30)
            .map(|i| {
                encoder
                    .encode(&camera.frame(i, 1_764_000_000_000 + u64::from(i) * 33), i == 0)
                    .unwrap()
            })
            .skip(1)
            .map(|out| out.data.len())
            .sum()
    };
    let low = bytes_of(&mut encoder, 0);
    encoder.set_bitrate(1_500_000).expect("a raise above the starting rate");
    assert_eq!(encoder.bitrate(), 1_500_000);
    let high = bytes_of(&mut encoder, 30);
    assert!(
        high > low * 2,
        "1.5 Mbit/s: {high} bytes in 29 frames vs {low} at 100 kbit/s"
    );
    encoder.set_bitrate(200_000).expect("and down again");
    encoder.set_bitrate(200_000).expect("the same rate again is no change");
}

/// Opus's in-band FEC follows the loss the links report: any figure is accepted (clamped to
/// 5–40 %) and the stream stays decodable at the same bitrate (Opus spends part of it on the
/// repeated copy instead of adding to it).
#[test]
fn opus_takes_the_expected_loss_and_stays_decodable() {
    let tone: Vec<i16> = (0..AUDIO_FRAME_SAMPLES)
        .map(|i| ((i as f64 * 0.0576).sin() * 8000.0) as i16)
        .collect();
    for loss in [-1.0, 0.0, 0.35, 1.0] {
        let mut encoder = AudioEncoder::new().unwrap();
        encoder.set_expected_loss(loss).unwrap();
        let mut decoder = AudioDecoder::new().unwrap();
        for _ in 0..10 {
            let packet = encoder.encode(&tone).unwrap();
            assert!(packet.len() < 200, "32 kbit/s is ≈ 80 bytes a packet: {}", packet.len());
            assert_eq!(decoder.decode(&packet).unwrap().len(), AUDIO_FRAME_SAMPLES);
        }
    }
}

/// A lost Opus frame is rebuilt from the redundant copy in the packet after it: where the sound
/// changes in the lost frame (a new pitch starts), the rebuilt frame follows the change, while
/// plain concealment can only continue what came before.
#[test]
fn a_lost_opus_frame_is_rebuilt_from_the_next_packet() {
    let pitch = |hz: f64, frame: usize| -> Vec<i16> {
        (0..AUDIO_FRAME_SAMPLES)
            .map(|i| {
                (((frame * AUDIO_FRAME_SAMPLES + i) as f64 * hz * std::f64::consts::TAU / 48_000.0).sin() * 8000.0)
                    as i16
            })
            .collect()
    };
    let frames: Vec<Vec<i16>> = (0..20)
        .map(|f| if f < 10 { pitch(220.0, f) } else { pitch(330.0, f) })
        .collect();
    let mut encoder = AudioEncoder::new().unwrap();
    encoder.set_expected_loss(0.10).unwrap();
    let packets: Vec<Vec<u8>> = frames.iter().map(|f| encoder.encode(f).unwrap()).collect();
    let correlation = |a: &[i16], b: &[i16]| -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let norm = |v: &[i16]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b)).max(1.0)
    };
    let mut decoder = AudioDecoder::new().unwrap();
    for p in &packets[..10] {
        decoder.decode(p).unwrap();
    }
    let mut concealer = AudioDecoder::new().unwrap();
    for p in &packets[..10] {
        concealer.decode(p).unwrap();
    }
    // Frame 10 (the change of pitch) is lost.
    let rebuilt = decoder.recover(&packets[11]).unwrap();
    let guessed = concealer.conceal().unwrap();
    assert_eq!(rebuilt.len(), AUDIO_FRAME_SAMPLES);
    // Frame 10 as decoded when nothing is lost (the decoded signal, not the raw one: Opus's
    // look-ahead shifts it a little).
    let truth = {
        let mut d = AudioDecoder::new().unwrap();
        packets[..11].iter().map(|p| d.decode(p).unwrap()).last().unwrap()
    };
    let (with_fec, without) = (correlation(&rebuilt, &truth), correlation(&guessed, &truth));
    assert!(
        with_fec > 0.8,
        "rebuilt frame vs the intact one: correlation {with_fec:.2}"
    );
    assert!(
        with_fec > without + 0.2,
        "FEC {with_fec:.2} vs concealment {without:.2}"
    );
    // The decoder carries on with the next packet as usual.
    assert_eq!(decoder.decode(&packets[11]).unwrap().len(), AUDIO_FRAME_SAMPLES);
}
