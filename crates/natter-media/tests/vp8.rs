//! VP8 (libvpx) end to end: stamps survive, keyframes come exactly when asked, a late or broken
//! decoder refuses inter frames until a keyframe, rate control holds, garbage never panics.

use natter_media::*;

/// Encode `frames` synthetic frames, decode each one at once and read its stamp back exactly.
/// Keyframes come every `keyframe_every` frames, as the call engine asks for them. Returns the
/// average bitrate in kbps at 30 fps.
fn stamps_survive(width: u32, height: u32, bitrate: u32, frames: u32, keyframe_every: u32) -> f64 {
    let mut camera = SyntheticCamera::new(width, height, 5);
    let mut encoder = Vp8Encoder::new(width, height, 30.0, bitrate).unwrap();
    assert_eq!((encoder.width(), encoder.height()), (width, height));
    let mut decoder = Vp8Decoder::new().unwrap();
    let mut total_bytes = 0;
    for counter in 1..=frames {
        let capture_ms = 1_764_000_000_000 + u64::from(counter) * 33;
        let frame = camera.frame(counter, capture_ms);
        let force = (counter - 1) % keyframe_every == 0;
        let encoded = encoder.encode(&frame, force).unwrap();
        assert!(!encoded.data.is_empty(), "frame {counter} was dropped by the encoder");
        assert_eq!(encoded.keyframe, force, "frame {counter}");
        // The frame tag agrees: bit 0 is 0 on a keyframe.
        assert_eq!(encoded.data[0] & 1 == 0, force, "frame {counter} tag");
        total_bytes += encoded.data.len();
        let decoded = decoder
            .decode(&encoded.data)
            .unwrap()
            .unwrap_or_else(|| panic!("frame {counter} gave no picture"));
        assert_eq!((decoded.width, decoded.height), (width, height));
        assert_eq!(decoded.y.len(), (width * height) as usize);
        assert_eq!(decoded.u.len(), (width * height / 4) as usize);
        assert_eq!(
            read_stamp(&decoded),
            Some(FrameStamp { counter, capture_ms }),
            "{width}x{height} frame {counter}"
        );
    }
    let kbps = total_bytes as f64 * 8.0 * 30.0 / f64::from(frames) / 1000.0;
    eprintln!(
        "VP8 {width}x{height}: {kbps:.0} kbps for a {} kbps target",
        bitrate / 1000
    );
    kbps
}

/// Within a generous factor of the target: rate control works, without dropping frames.
fn assert_near_target(kbps: f64, bitrate: u32) {
    let target = f64::from(bitrate) / 1000.0;
    assert!(
        (0.3 * target..=3.0 * target).contains(&kbps),
        "{kbps:.0} kbps for a {target:.0} kbps target"
    );
}

#[test]
fn stamps_survive_vp8_at_360p() {
    let kbps = stamps_survive(640, 360, 800_000, 120, 1000);
    assert_near_target(kbps, 800_000);
}

#[test]
fn stamps_survive_vp8_at_360p_500_kbps_with_periodic_keyframes() {
    stamps_survive(640, 360, 500_000, 150, 60);
}

#[test]
fn stamps_survive_vp8_at_180p_low_bitrate() {
    let kbps = stamps_survive(320, 180, 150_000, 120, 1000);
    assert_near_target(kbps, 150_000);
}

#[test]
fn the_bitrate_is_roughly_held_over_60_frames_and_can_change() {
    let mut camera = SyntheticCamera::new(640, 360, 3);
    let mut encoder = Vp8Encoder::new(640, 360, 30.0, 600_000).unwrap();
    let mut kbps_over = |encoder: &mut Vp8Encoder, from: u32| {
        let bytes: usize = (from..from + 60)
            .map(|counter| {
                encoder
                    .encode(&camera.frame(counter, 0), counter == 1)
                    .unwrap()
                    .data
                    .len()
            })
            .sum();
        bytes as f64 * 8.0 * 30.0 / 60.0 / 1000.0
    };
    let at_600 = kbps_over(&mut encoder, 1);
    assert_near_target(at_600, 600_000);
    encoder.set_bitrate(200_000).unwrap();
    kbps_over(&mut encoder, 61); // the rate-control buffer settles
    let at_200 = kbps_over(&mut encoder, 121);
    eprintln!("VP8 640x360: {at_600:.0} kbps at 600, then {at_200:.0} kbps at 200");
    assert_near_target(at_200, 200_000);
    assert!(at_200 < at_600, "{at_200:.0} kbps after lowering from {at_600:.0}");
    assert!(encoder.set_bitrate(5).is_err());
}

#[test]
fn the_decoder_wants_a_keyframe_first_and_after_an_error() {
    let mut camera = SyntheticCamera::new(320, 180, 4);
    let mut encoder = Vp8Encoder::new(320, 180, 30.0, 300_000).unwrap();
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
    assert!(frames[0].keyframe, "the first frame is a keyframe");
    assert!(frames[29].keyframe, "the forced frame is a keyframe");
    assert!(
        frames
            .iter()
            .enumerate()
            .all(|(i, f)| f.keyframe == (i == 0 || i == 29)),
        "keyframes only when asked"
    );

    // Joining mid-stream: inter frames give errors (never a wrong picture) until a keyframe.
    let mut late = Vp8Decoder::new().unwrap();
    for frame in &frames[5..29] {
        let err = late.decode(&frame.data).expect_err("an inter frame without a keyframe");
        assert!(err.to_string().contains("keyframe"), "{err}");
    }
    for (i, frame) in frames.iter().enumerate().skip(29) {
        let picture = late.decode(&frame.data).unwrap().expect("picture");
        assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(i as u32 + 1));
    }

    // A frame that fails to decode: the inter frames after it are refused until the next keyframe.
    let mut decoder = Vp8Decoder::new().unwrap();
    for frame in &frames[..3] {
        decoder.decode(&frame.data).unwrap().expect("picture");
    }
    let truncated = &frames[3].data[..frames[3].data.len() / 3];
    assert!(decoder.decode(truncated).is_err(), "a truncated frame");
    for frame in &frames[4..29] {
        let err = decoder.decode(&frame.data).expect_err("refused after an error");
        assert!(err.to_string().contains("keyframe"), "{err}");
    }
    for (i, frame) in frames.iter().enumerate().skip(29) {
        let picture = decoder.decode(&frame.data).unwrap().expect("picture");
        assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(i as u32 + 1));
    }
}

#[test]
fn a_forced_keyframe_mid_stream_is_a_keyframe_and_decodes_alone() {
    let mut camera = SyntheticCamera::new(320, 180, 1);
    let mut encoder = Vp8Encoder::new(320, 180, 30.0, 300_000).unwrap();
    for counter in 1..10 {
        let encoded = encoder.encode(&camera.frame(counter, 0), counter == 1).unwrap();
        assert_eq!(encoded.keyframe, counter == 1);
    }
    let key = encoder.encode(&camera.frame(10, 42), true).unwrap();
    assert!(key.keyframe);
    assert_eq!(&key.data[3..6], &[0x9d, 0x01, 0x2a], "VP8 start code");
    let mut late = Vp8Decoder::new().unwrap();
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
fn a_new_picture_size_arrives_with_a_keyframe() {
    let mut decoder = Vp8Decoder::new().unwrap();
    for (counter, (width, height)) in (1..).zip([(320, 180), (640, 360), (320, 180)]) {
        let mut encoder = Vp8Encoder::new(width, height, 30.0, 300_000).unwrap();
        let key = encoder
            .encode(&SyntheticCamera::new(width, height, 1).frame(counter, 0), true)
            .unwrap();
        let picture = decoder.decode(&key.data).unwrap().expect("picture");
        assert_eq!((picture.width, picture.height), (width, height));
        assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(counter));
    }
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let mut decoder = Vp8Decoder::new().unwrap();
    let mut camera = SyntheticCamera::new(320, 180, 1);
    let mut encoder = Vp8Encoder::new(320, 180, 30.0, 300_000).unwrap();
    let key = encoder.encode(&camera.frame(1, 0), true).unwrap().data;
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0, 0],
        vec![0xFF; 500],
        vec![0x00; 500],
        key[..key.len() / 2].to_vec(),
        key[..10].to_vec(),
        key[..20].to_vec(),
        key[key.len() / 2..].to_vec(),
        key.iter().map(|b| b ^ 0x5A).collect(),
        // A keyframe tag and start code with a huge picture size and nothing behind it.
        vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0xFF, 0x3F, 0xFF, 0x3F, 0],
    ];
    let mut seed = 0x1234_5678u32;
    for i in 0..200 {
        // Random bytes behind a real keyframe's header (every other one) or a random tag.
        let len = 8 + (seed % 3000) as usize;
        let mut junk = if i % 2 == 0 { key[..10].to_vec() } else { vec![] };
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
            assert_eq!(picture.v.len(), picture.y.len() / 4);
        }
    }
    // And the decoder still works after the garbage, from the next keyframe on.
    let fresh_key = encoder.encode(&camera.frame(2, 7), true).unwrap();
    let picture = decoder.decode(&fresh_key.data).unwrap().expect("picture");
    assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(2));
    let next = encoder.encode(&camera.frame(3, 8), false).unwrap();
    let picture = decoder.decode(&next.data).unwrap().expect("picture");
    assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(3));
}

#[test]
fn wrong_sizes_and_settings_are_clear_errors() {
    let odd = Vp8Encoder::new(641, 360, 30.0, 500_000).err().unwrap();
    assert!(odd.to_string().contains("even"), "{odd}");
    assert!(Vp8Encoder::new(0, 360, 30.0, 500_000).is_err());
    assert!(Vp8Encoder::new(8192, 360, 30.0, 500_000).is_err());
    assert!(Vp8Encoder::new(640, 360, 0.0, 500_000).is_err());
    assert!(Vp8Encoder::new(640, 360, 30.0, 1_000).is_err());
    let mut encoder = Vp8Encoder::new(320, 180, 30.0, 300_000).unwrap();
    let frame = I420Frame::black(640, 360).unwrap();
    let err = encoder.encode(&frame, false).err().unwrap();
    assert!(err.to_string().contains("640x360"), "{err}");
    let mut short = I420Frame::black(320, 180).unwrap();
    short.y.truncate(100);
    assert!(encoder.encode(&short, false).is_err());
    // The encoder still works after refusing those.
    assert!(encoder.encode(&I420Frame::black(320, 180).unwrap(), false).is_ok());
}

#[test]
fn codecs_move_to_another_thread() {
    let mut encoder = Vp8Encoder::new(320, 180, 30.0, 300_000).unwrap();
    let mut decoder = Vp8Decoder::new().unwrap();
    let key = encoder
        .encode(&SyntheticCamera::new(320, 180, 1).frame(1, 0), true)
        .unwrap();
    let picture = std::thread::spawn(move || decoder.decode(&key.data).unwrap())
        .join()
        .unwrap();
    assert!(picture.is_some());
    std::thread::spawn(move || drop(encoder)).join().unwrap();
}
