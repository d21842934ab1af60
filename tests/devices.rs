//! `natter devices` on the machine at hand: it must answer (exit 0), list what exists, and where
//! a kind of device is missing say what that means for a call. On CI there is no camera and no
//! sound card; on a developer's laptop there may be: the test checks against what `/dev` shows.

mod support;

use std::process::Command;
use support::NATTER;

fn has_video_device() -> bool {
    std::fs::read_dir("/dev").map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("video"))).unwrap_or(false)
}

#[test]
fn devices_lists_what_the_machine_has_and_says_what_is_missing() {
    let output = Command::new(NATTER).arg("devices").output().expect("run natter devices");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "exit {:?}: {}{}", output.status, text, String::from_utf8_lossy(&output.stderr));
    assert!(text.starts_with("Cameras\n"), "{text}");
    assert!(text.contains("Microphones (") && text.contains("Speakers ("), "{text}");
    if !has_video_device() {
        assert!(text.contains("none found: calls send no video from this machine (receive-only video)"), "{text}");
    }
}

#[test]
fn devices_json_has_the_documented_fields() {
    let output = Command::new(NATTER).args(["devices", "--json"]).output().expect("run natter devices --json");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    for key in ["cameras", "microphones", "speakers", "problems"] {
        assert!(json[key].is_array(), "{key} missing: {json:#}");
    }
    assert!(json["audio_host"].is_string(), "{json:#}");
    assert_eq!(json["cameras"].as_array().unwrap().is_empty(), !has_video_device(), "{json:#}");
}
