//! The real audio path, out loud: a user-space PulseAudio server with a null sink (started by the
//! test, in a private runtime directory), reached by cpal through ALSA's pulse plugin — the way a
//! Linux desktop plays sound. `natter headless --speaker pulse` plays what participant 1 hears
//! (participant 2's 380 Hz tone, sent as Opus over a real WebRTC call) through Natter's jitter
//! buffer, decoder, mixer and speaker; `parec` records the sink's monitor; the recording must
//! hold that tone, loud and clear. And the other way: a known 1 kHz signal played into a
//! PulseAudio source is captured by `--microphone`, sent, and comes out of the other participant's
//! speaker. Needs `pulseaudio`, `pulseaudio-utils` (parec, pacat) and `libasound2-plugins`
//! (`bash scripts/setup.sh` installs them).

use crate::support::{NATTER, Reaped, TempDir, which};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// A private PulseAudio server with null sinks; killed (with its files) on drop.
struct Pulse {
    dir: TempDir,
    server: String,
    _child: Reaped,
}

impl Pulse {
    fn start(sinks: &[&str]) -> Pulse {
        for tool in ["pulseaudio", "parec", "pacat"] {
            assert!(
                which(tool).is_some(),
                "`{tool}` is not installed: run `bash scripts/setup.sh` (pulseaudio, pulseaudio-utils, libasound2-plugins)"
            );
        }
        let dir = TempDir::new("pulse");
        let socket = dir.path("pulse.sock");
        let mut command = Command::new("pulseaudio");
        command.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--disable-shm=true",
        ]);
        for sink in sinks {
            command
                .arg("-L")
                .arg(format!("module-null-sink sink_name={sink} rate=48000"));
        }
        command.arg("-L").arg(format!(
            "module-native-protocol-unix auth-anonymous=1 socket={}",
            socket.display()
        ));
        let child = Reaped::new(
            command
                .env("XDG_RUNTIME_DIR", &dir.0)
                .env("HOME", &dir.0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start pulseaudio"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not open {} within 10 s",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        Pulse {
            server: format!("unix:{}", socket.display()),
            dir,
            _child: child,
        }
    }

    /// Record `sink`'s monitor (48 kHz mono s16le) until the returned recorder is stopped.
    fn record(&self, sink: &str) -> (Reaped, std::path::PathBuf) {
        let file = self.dir.path(&format!("{sink}.raw"));
        let child = Command::new("parec")
            .args([
                "-d",
                &format!("{sink}.monitor"),
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ])
            .env("PULSE_SERVER", &self.server)
            .stdout(std::fs::File::create(&file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start parec");
        std::thread::sleep(Duration::from_millis(300));
        (Reaped::new(child), file)
    }
}

/// Stop a recording and return its samples.
fn stop_recording((mut recorder, file): (Reaped, std::path::PathBuf)) -> Vec<i16> {
    std::thread::sleep(Duration::from_millis(300));
    let _ = recorder.kill();
    let _ = recorder.wait();
    let bytes = std::fs::read(file).unwrap();
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Assert that the loudest second of `samples` is loud and dominated by `frequency`; returns its RMS.
fn assert_tone(samples: &[i16], frequency: f64, min_rms: f64) -> f64 {
    let second = 48_000;
    assert!(
        samples.len() > second * 2,
        "only {} samples recorded (a sink records while something plays)",
        samples.len()
    );
    let loudest = (0..samples.len() - second)
        .step_by(second / 4)
        .max_by_key(|&at| {
            samples[at..at + second]
                .iter()
                .map(|&s| i64::from(s).abs())
                .sum::<i64>()
        })
        .unwrap();
    let window = &samples[loudest..loudest + second];
    let rms = (window.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / window.len() as f64).sqrt();
    assert!(rms > min_rms, "too quiet: RMS {rms:.0}");
    let tone = power(window, frequency);
    for other in [
        frequency * 0.79,
        frequency * 0.9,
        frequency * 1.1,
        frequency * 1.21,
        frequency * 2.63,
    ] {
        let p = power(window, other);
        assert!(
            tone > 1000.0 * p,
            "{frequency} Hz should dominate: {tone:.3e} vs {other:.0} Hz {p:.3e}"
        );
    }
    rms
}

#[test]
fn a_participants_tone_comes_out_of_the_speaker() {
    let pulse = Pulse::start(&["natter_null"]);
    let recording = pulse.record("natter_null");
    let dir = TempDir::new("playback");
    let output = Command::new(NATTER)
        .args([
            "headless",
            "--participants",
            "2",
            "--duration",
            "4",
            "--speaker",
            "pulse",
        ])
        .arg("--report")
        .arg(dir.path("report.json"))
        .env("PULSE_SERVER", &pulse.server)
        .env("JACK_NO_START_SERVER", "1")
        .env("RUST_LOG", "warn,natter_call=info")
        .output()
        .expect("run natter headless");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "natter headless failed:\n{log}");
    assert!(log.contains("playing the first participant's audio"), "{log}");
    // The report shows the jitter buffer of what was played.
    let report = crate::support::read_report(&dir.path("report.json"), &log);
    let heard = crate::support::streams(&report)
        .into_iter()
        .find(|(_, peer)| peer["remote_name"] == "headless-2")
        .expect("headless-1's view of headless-2")
        .1;
    let playout = &heard["audio"]["playout"];
    assert!(playout["played"].as_u64().unwrap_or(0) > 100, "{playout:#}");
    assert!(playout["target_ms"].as_f64().unwrap_or(0.0) >= 40.0, "{playout:#}");
    // Sent at 0.3 of full scale (RMS ≈ 6950); Opus and the mix keep it in that region.
    let rms = assert_tone(&stop_recording(recording), TONE_HZ, 3000.0);
    eprintln!("speaker: {TONE_HZ} Hz at RMS {rms:.0}");
}

#[test]
fn a_known_signal_at_the_microphone_reaches_the_other_side() {
    const SIGNAL_HZ: f64 = 1000.0;
    let pulse = Pulse::start(&["natter_null", "mic_feed"]);
    // 15 s of a 1 kHz tone at half scale into `mic_feed`; its monitor is the microphone.
    let feed_file = pulse.dir.path("feed.raw");
    let feed: Vec<u8> = (0..48_000 * 15)
        .flat_map(|i| {
            (((std::f64::consts::TAU * SIGNAL_HZ * f64::from(i) / RATE).sin() * 16_000.0) as i16).to_le_bytes()
        })
        .collect();
    std::fs::write(&feed_file, feed).unwrap();
    let _feeder = Reaped::new(
        Command::new("pacat")
            .args([
                "--playback",
                "-d",
                "mic_feed",
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ])
            .arg(&feed_file)
            .env("PULSE_SERVER", &pulse.server)
            .stderr(Stdio::null())
            .spawn()
            .expect("start pacat"),
    );
    let recording = pulse.record("natter_null");
    // Two processes, as two machines: the sender captures, the receiver plays.
    let signal = crate::support::signal_server();
    let url = signal.url().to_string();
    let dir = TempDir::new("capture");
    let spawn = |name: &str, device_args: [&str; 2], env: (&str, &str)| {
        Command::new(NATTER)
            .args([
                "headless",
                "--participants",
                "1",
                "--expect",
                "2",
                "--duration",
                "4",
                "--bind",
                "127.0.0.1",
                "--room",
                "mic",
            ])
            .args(["--signal", &url])
            .args(device_args)
            .arg("--report")
            .arg(dir.path(&format!("{name}.json")))
            .env("PULSE_SERVER", &pulse.server)
            .env("JACK_NO_START_SERVER", "1")
            .env(env.0, env.1)
            .env("RUST_LOG", "warn,natter_call=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run natter headless")
    };
    let sender = spawn(
        "sender",
        ["--microphone", "pulse"],
        ("PULSE_SOURCE", "mic_feed.monitor"),
    );
    let receiver = spawn("receiver", ["--speaker", "pulse"], ("PULSE_SINK", "natter_null"));
    // Both finish before anything is judged: a failure of one shows with the other's log.
    let outputs: Vec<(&str, std::process::Output)> = [("sender", sender), ("receiver", receiver)]
        .into_iter()
        .map(|(n, c)| (n, c.wait_with_output().unwrap()))
        .collect();
    let logs: String = outputs
        .iter()
        .map(|(n, o)| format!("--- {n} ({:?})\n{}", o.status, String::from_utf8_lossy(&o.stderr)))
        .collect();
    for (name, output) in &outputs {
        assert!(output.status.success(), "{name} failed:\n{logs}");
    }
    assert!(
        logs.contains("capturing audio"),
        "the sender did not open the microphone:\n{logs}"
    );
    let rms = assert_tone(&stop_recording(recording), SIGNAL_HZ, 2000.0);
    eprintln!("microphone → call → speaker: {SIGNAL_HZ} Hz at RMS {rms:.0}");
}

/// Hot-unplug, for real: the sound server behind the microphone dies mid-call. The participant
/// notices within seconds (no sound delivered, whatever the driver says), tells the others it
/// sends no audio and says why in its report; its video and the call itself go on.
#[test]
fn a_microphone_that_vanishes_mid_call_is_reported_and_the_call_goes_on() {
    use std::io::BufRead;
    let pulse = Pulse::start(&["mic_feed"]);
    let feed_file = pulse.dir.path("feed.raw");
    std::fs::write(&feed_file, vec![0x10u8; 48_000 * 2 * 20]).unwrap();
    let _feeder = Reaped::new(
        Command::new("pacat")
            .args([
                "--playback",
                "-d",
                "mic_feed",
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ])
            .arg(&feed_file)
            .env("PULSE_SERVER", &pulse.server)
            .stderr(Stdio::null())
            .spawn()
            .expect("start pacat"),
    );
    let dir = TempDir::new("unplug");
    let mut child = Command::new(NATTER)
        .args([
            "headless",
            "--participants",
            "2",
            "--duration",
            "8",
            "--microphone",
            "pulse",
            "--report",
        ])
        .arg(dir.path("report.json"))
        .env("PULSE_SERVER", &pulse.server)
        .env("PULSE_SOURCE", "mic_feed.monitor")
        .env("JACK_NO_START_SERVER", "1")
        .env("RUST_LOG", "warn,natter_call=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run natter headless");
    // The log, line by line as it comes, so the server is killed once capture has started.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.contains("capturing audio") {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("the microphone never opened:\n{log}"));
        log.push_str(&line);
        log.push('\n');
    }
    drop(pulse); // the server and the microphone with it
    let status = child.wait().unwrap();
    reader.join().unwrap();
    log.extend(lines.try_iter().map(|l| l + "\n"));
    assert!(status.success(), "the call must go on without the microphone:\n{log}");
    assert!(
        log.contains("stopped delivering sound") || log.contains("stopped working"),
        "the loss was not noticed:\n{log}"
    );
    let report = crate::support::read_report(&dir.path("report.json"), &log);
    let sender = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "headless-1")
        .expect("headless-1 in the report")
        .clone();
    let microphone = &sender["local_media"]["microphone"];
    assert_eq!(microphone["sending"], false, "{microphone:#}");
    assert!(microphone["problem"].is_string(), "the report says why: {microphone:#}");
    let (_, heard) = crate::support::streams(&report)
        .into_iter()
        .find(|(_, peer)| peer["remote_name"] == "headless-1")
        .expect("headless-2's view of headless-1");
    assert_eq!(heard["remote_audio_muted"], true, "the others were told: {heard:#}");
    assert_eq!(heard["state"], "connected", "{heard:#}");
    let duration_ms = report["duration_s"].as_f64().unwrap() * 1000.0;
    let last_frame = heard["last_frame_ms"].as_f64().unwrap_or(0.0);
    assert!(
        last_frame > duration_ms - 2000.0,
        "video kept flowing to the end ({last_frame} ms of {duration_ms} ms): {heard:#}"
    );
}
