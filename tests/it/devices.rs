//! `natter devices` on the machine at hand: it must answer (exit 0), list what exists, and where
//! a kind of device is missing say what that means for a call. On CI there is no camera and no
//! sound card; on a developer's laptop there may be: the test checks against what `/dev` shows.

use crate::support::NATTER;
use std::process::Command;

fn has_video_device() -> bool {
    std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        })
        .unwrap_or(false)
}

#[test]
fn devices_lists_what_the_machine_has_and_says_what_is_missing() {
    let output = Command::new(NATTER)
        .arg("devices")
        .output()
        .expect("run natter devices");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status,
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("Cameras\n"), "{text}");
    assert!(text.contains("Microphones (") && text.contains("Speakers ("), "{text}");
    if !has_video_device() {
        assert!(
            text.contains("none found: calls send no video from this machine (receive-only video)"),
            "{text}"
        );
    }
}

#[test]
fn devices_json_has_the_documented_fields() {
    let output = Command::new(NATTER)
        .args(["devices", "--json"])
        .output()
        .expect("run natter devices --json");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    for key in ["cameras", "microphones", "speakers", "problems"] {
        assert!(json[key].is_array(), "{key} missing: {json:#}");
    }
    assert!(json["audio_host"].is_string(), "{json:#}");
    assert_eq!(
        json["cameras"].as_array().unwrap().is_empty(),
        !has_video_device(),
        "{json:#}"
    );
}

/// "No camera is not an error that stops a call": a participant whose camera does not exist joins
/// receive-only for video, tells the others, and the call is whole (everyone else's video and
/// everyone's audio flow; nobody waits for its video).
#[test]
fn a_participant_without_a_camera_joins_receive_only() {
    let dir = crate::support::TempDir::new("nocam");
    let run = crate::support::run_headless(
        &dir,
        "nocam",
        &[
            "--participants",
            "2",
            "--duration",
            "3",
            "--camera",
            "no-such-camera-on-any-machine",
        ],
    );
    assert!(
        run.status.success(),
        "the call must go on without the camera:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no camera matches `no-such-camera-on-any-machine`"),
        "{}",
        run.stderr
    );
    // The participant itself says why it sends no video, in the report the UI's self view reads.
    let camera_less = run.report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "headless-1")
        .expect("headless-1 in the report");
    let camera = &camera_less["local_media"]["camera"];
    assert_eq!(camera["problem"], "no device", "{camera:#}");
    assert_eq!(camera["sending"], false, "{camera:#}");
    assert!(
        camera["message"]
            .as_str()
            .unwrap_or("")
            .contains("you are not sending video"),
        "{camera:#}"
    );
    assert_eq!(
        camera_less["local_media"]["microphone"]["sending"], true,
        "the synthetic microphone still sends: {camera_less:#}"
    );
    let streams = crate::support::streams(&run.report);
    let (_, from_camera_less) = streams
        .iter()
        .find(|(_, peer)| peer["remote_name"] == "headless-1")
        .expect("headless-2's view of headless-1");
    assert_eq!(from_camera_less["state"], "connected", "{from_camera_less:#}");
    assert_eq!(from_camera_less["remote_video_muted"], true, "{from_camera_less:#}");
    assert_eq!(from_camera_less["video"]["frames_decoded"], 0, "{from_camera_less:#}");
    assert!(
        from_camera_less["audio"]["packets_received"].as_u64().unwrap_or(0) > 0,
        "{from_camera_less:#}"
    );
    let (_, to_camera_less) = streams
        .iter()
        .find(|(_, peer)| peer["remote_name"] == "headless-2")
        .expect("headless-1's view of headless-2");
    assert!(
        to_camera_less["video"]["frames_decoded"].as_u64().unwrap_or(0) > 20,
        "the camera-less participant still receives video: {to_camera_less:#}"
    );
}

/// The audio libraries' chatter (alsa-lib and libjack write straight to fd 2 while cpal lists
/// devices: "ALSA lib pcm.c:…: Unknown PCM …", "Cannot connect to server socket…") is captured:
/// `natter devices` prints only its answer, and the chatter is in the debug log for who asks.
#[test]
fn devices_prints_its_answer_without_the_audio_libraries_chatter() {
    let chatter = |line: &str| {
        let lower = line.to_lowercase();
        lower.contains("alsa lib") || lower.contains("jack") || lower.contains("cannot connect to server")
    };
    let output = Command::new(NATTER)
        .arg("devices")
        .env_remove("NATTER_LOG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run natter devices");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("Cameras\n"), "{stdout}");
    // (The answer itself may name a device "jack": only stderr is searched for all of it.)
    let noise: Vec<&str> = stderr
        .lines()
        .filter(|l| chatter(l))
        .chain(stdout.lines().filter(|l| l.contains("ALSA lib")))
        .collect();
    assert!(noise.is_empty(), "chatter printed:\n{}", noise.join("\n"));

    // Where the machine's audio libraries do chatter, it is kept in the debug log.
    let output = Command::new(NATTER)
        .arg("devices")
        .env("NATTER_LOG", "warn,natter_devices=debug")
        .output()
        .expect("run natter devices");
    let debug = String::from_utf8_lossy(&output.stderr);
    let captured: Vec<&str> = debug.lines().filter(|l| chatter(l)).collect();
    assert!(
        captured
            .iter()
            .all(|l| l.contains("DEBUG") && l.contains("natter_devices::backend")),
        "chatter outside the debug log:\n{debug}"
    );
    eprintln!(
        "{} line(s) of audio library chatter captured on this machine, e.g. {:?}",
        captured.len(),
        captured.first()
    );
}
