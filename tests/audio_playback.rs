//! The real audio path, out loud: a user-space PulseAudio server with a null sink (started by the
//! test, in a private runtime directory), reached by cpal through ALSA's pulse plugin — the way a
//! Linux desktop plays sound. `natter headless --speaker pulse` plays what participant 1 hears
//! (participant 2's 380 Hz tone, sent as Opus over a real WebRTC call) through Natter's jitter
//! buffer, decoder, mixer and speaker; `parec` records the sink's monitor; the recording must
//! hold that tone, loud and clear. Needs `pulseaudio`, `pulseaudio-utils` (parec) and
//! `libasound2-plugins` (`bash scripts/setup.sh` installs them).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{NATTER, Reaped, TempDir, which};

/// Participant 2's synthetic microphone: 300 + 40 × (seed 2 % 10) Hz (`natter_media::SyntheticMic`).
const TONE_HZ: f64 = 380.0;
const RATE: f64 = 48_000.0;

/// Power of `frequency` in `samples` (Goertzel).
fn power(samples: &[i16], frequency: f64) -> f64 {
    let k = 2.0 * (std::f64::consts::TAU * frequency / RATE).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

#[test]
fn a_participants_tone_comes_out_of_the_speaker() {
    for tool in ["pulseaudio", "parec"] {
        assert!(which(tool).is_some(), "`{tool}` is not installed: run `bash scripts/setup.sh` (pulseaudio, pulseaudio-utils, libasound2-plugins)");
    }
    let dir = TempDir::new("pulse");
    let socket = dir.path("pulse.sock");
    let server = format!("unix:{}", socket.display());
    let _pulse = Reaped(
        Command::new("pulseaudio")
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--disable-shm=true"])
            .arg("-L")
            .arg("module-null-sink sink_name=natter_null rate=48000")
            .arg("-L")
            .arg(format!("module-native-protocol-unix auth-anonymous=1 socket={}", socket.display()))
            .env("XDG_RUNTIME_DIR", &dir.0)
            .env("HOME", &dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseaudio"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "pulseaudio did not open {} within 10 s", socket.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));

    let recording = dir.path("monitor.raw");
    let mut recorder = Reaped(
        Command::new("parec")
            .args(["-d", "natter_null.monitor", "--raw", "--format=s16le", "--rate=48000", "--channels=1"])
            .env("PULSE_SERVER", &server)
            .stdout(std::fs::File::create(&recording).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start parec"),
    );
    std::thread::sleep(Duration::from_millis(300));

    let output = Command::new(NATTER)
        .args(["headless", "--participants", "2", "--duration", "4", "--speaker", "pulse"])
        .arg("--report")
        .arg(dir.path("report.json"))
        .env("PULSE_SERVER", &server)
        .env("RUST_LOG", "warn,natter_call=info")
        .output()
        .expect("run natter headless");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "natter headless failed:\n{log}");
    assert!(log.contains("playing the first participant's audio"), "{log}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = recorder.0.kill();
    let _ = recorder.0.wait();

    let bytes = std::fs::read(&recording).unwrap();
    let samples: Vec<i16> = bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    assert!(samples.len() > 48_000 * 2, "only {} samples recorded (the sink records while something plays)", samples.len());
    // The loudest second of the recording (the call lasts 4 s of a longer recording).
    let second = 48_000;
    let loudest = (0..samples.len() - second)
        .step_by(second / 4)
        .max_by_key(|&at| samples[at..at + second].iter().map(|&s| i64::from(s).abs()).sum::<i64>())
        .unwrap();
    let window = &samples[loudest..loudest + second];
    let rms = (window.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / window.len() as f64).sqrt();
    // Sent at 0.3 of full scale (RMS ≈ 6950); Opus and the mix keep it in that region.
    assert!(rms > 3000.0, "too quiet: RMS {rms:.0}");
    let tone = power(window, TONE_HZ);
    for other in [300.0, 340.0, 420.0, 460.0, 1000.0] {
        let p = power(window, other);
        assert!(tone > 1000.0 * p, "{TONE_HZ} Hz should dominate: {tone:.3e} vs {other} Hz {p:.3e}");
    }
    eprintln!("recorded {} samples; loudest second RMS {rms:.0}; {TONE_HZ} Hz power {tone:.3e}", samples.len());
}
