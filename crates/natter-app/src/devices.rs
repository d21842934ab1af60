//! The device pickers: the machine's cameras, microphones and speakers as the page lists them,
//! and a picker id → what the call opens.

use crate::error::{AppError, ErrorCode};
use natter_devices::DeviceKind;
use natter_settings::Settings;
use serde::Serialize;
use ts_rs::TS;

/// Picker id of the synthetic sources, and of "whatever the system's default is".
pub const SYNTHETIC_CAMERA: &str = "synthetic-camera";
pub const SYNTHETIC_MICROPHONE: &str = "synthetic-mic";
pub const SYSTEM_DEFAULT: &str = "default";

/// How often the machine's devices are listed again while the page watches them.
pub(crate) const DEVICE_POLL: std::time::Duration = std::time::Duration::from_secs(4);

/// A camera, microphone or speaker the user can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub label: String,
    /// A generated source (test pattern, tone), not hardware.
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Devices {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub speakers: Vec<Device>,
    /// Why the lists are what they are, for the page to show.
    pub note: String,
    /// The saved choice per list (an `id` above; "default" for the system's).
    pub camera: String,
    pub microphone: String,
    pub speaker: String,
}

/// The pickers' lists: the system default first, then what the machine has, then the synthetic
/// source; the note says why a list is empty and what that means for a call.
pub fn device_lists(found: &natter_devices::Devices, settings: &Settings) -> Devices {
    let synthetic = |id: &str, label: &str| Device {
        id: id.into(),
        label: label.into(),
        synthetic: true,
    };
    let real = |id: &str, label: String| Device {
        id: id.into(),
        label,
        synthetic: false,
    };
    let system_default = |what: &str| real(SYSTEM_DEFAULT, format!("System default {what}"));
    let marked = |d: &natter_devices::AudioDevice| {
        real(
            &d.id,
            format!("{}{}", d.name, if d.default { " (default)" } else { "" }),
        )
    };
    let mut cameras = vec![system_default("camera")];
    cameras.extend(found.cameras.iter().map(|c| real(&c.id, c.name.clone())));
    cameras.push(synthetic(SYNTHETIC_CAMERA, "Test pattern (synthetic camera)"));
    let mut microphones = vec![system_default("microphone")];
    microphones.extend(found.microphones.iter().map(marked));
    microphones.push(synthetic(SYNTHETIC_MICROPHONE, "Tone (synthetic microphone)"));
    let mut speakers = vec![system_default("speaker")];
    speakers.extend(found.speakers.iter().map(marked));
    let mut note = String::new();
    if found.cameras.is_empty() {
        note.push_str("No camera found: you join calls without video (the others still see your name). ");
    }
    if found.microphones.is_empty() {
        note.push_str("No microphone found: you join calls without sound. ");
    }
    if found.speakers.is_empty() {
        note.push_str("No speaker found: you cannot hear the others. ");
    }
    for problem in &found.problems {
        note.push_str(&format!("{problem}. "));
    }
    let chosen = |setting: &Option<String>| setting.clone().unwrap_or_else(|| SYSTEM_DEFAULT.into());
    Devices {
        cameras,
        microphones,
        speakers,
        note: note.trim_end().to_string(),
        camera: chosen(&settings.camera),
        microphone: chosen(&settings.microphone),
        speaker: chosen(&settings.speaker),
    }
}

/// The local devices `settings` pick, for a call starting now.
pub fn local_devices(settings: &Settings) -> natter_call::demo::LocalDevices {
    natter_call::demo::LocalDevices {
        camera: source_choice(settings.camera.as_deref(), SYNTHETIC_CAMERA),
        microphone: source_choice(settings.microphone.as_deref(), SYNTHETIC_MICROPHONE),
        play_audio: true,
        speaker: settings.speaker.clone().filter(|s| s != SYSTEM_DEFAULT),
        ..Default::default()
    }
}

/// A picker id → what the capture pipeline opens: a device, "default", or `None` (synthetic).
pub fn source_choice(setting: Option<&str>, synthetic_id: &str) -> Option<String> {
    match setting {
        Some(id) if id == synthetic_id => None,
        Some(id) => Some(id.to_string()),
        None => Some(SYSTEM_DEFAULT.to_string()),
    }
}

/// Record the user's pick of `kind` in `settings` (the system default is stored as no choice).
pub(crate) fn choose(settings: &mut Settings, kind: DeviceKind, id: &str) {
    let value = (id != SYSTEM_DEFAULT).then(|| id.to_string());
    match kind {
        DeviceKind::Camera => settings.camera = value,
        DeviceKind::Microphone => settings.microphone = value,
        DeviceKind::Speaker => settings.speaker = value,
    }
}

/// The speaker test: about a second of a 440 Hz tone at -14 dBFS with soft edges on the speaker
/// `wanted` (`None`: the system default), played to its end; the speaker's name.
pub fn play_test_tone(wanted: Option<&str>) -> Result<String, AppError> {
    use std::time::{Duration, Instant};
    const RATE: f64 = natter_devices::MIX_RATE as f64;
    let speaker = natter_devices::Speaker::open(wanted)
        .map_err(|e| AppError::new(ErrorCode::DeviceFailed, format!("the speaker cannot be used: {e}")))?;
    let total = (RATE * 0.9) as usize;
    let edge = (RATE * 0.05) as usize;
    let amplitude = f64::from(i16::MAX) * 10f64.powf(-14.0 / 20.0);
    let tone: Vec<i16> = (0..total)
        .map(|i| {
            let fade = (i.min(total - 1 - i) as f64 / edge as f64).min(1.0);
            (amplitude * fade * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / RATE).sin()) as i16
        })
        .collect();
    // The speaker holds 200 ms at most: feed it 50 ms at a time as it plays.
    let deadline = Instant::now() + Duration::from_secs(5);
    for chunk in tone.chunks((RATE * 0.05) as usize) {
        while speaker.buffered() > Duration::from_millis(100) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        speaker.push(chunk);
    }
    while speaker.buffered() > Duration::ZERO && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(speaker.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    // What `natter_devices::enumerate` returns on a machine with one camera and a headset: plain
    // data (CI has no such hardware), not a stand-in for any code.
    fn machine_with_a_headset() -> natter_devices::Devices {
        natter_devices::Devices {
            cameras: vec![natter_devices::Camera {
                id: "0".into(),
                name: "Integrated Camera".into(),
                description: "uvcvideo".into(),
            }],
            microphones: vec![natter_devices::AudioDevice {
                id: "alsa:hw1".into(),
                name: "USB Headset".into(),
                default: true,
                default_format: Some("48000 Hz, 1 ch".into()),
            }],
            speakers: vec![natter_devices::AudioDevice {
                id: "alsa:hw1".into(),
                name: "USB Headset".into(),
                default: false,
                default_format: None,
            }],
            audio_host: "ALSA".into(),
            problems: vec![],
        }
    }

    fn ids(list: &[Device]) -> Vec<&str> {
        list.iter().map(|d| d.id.as_str()).collect()
    }

    #[test]
    fn lists_put_the_default_first_and_the_synthetic_source_last() {
        let lists = device_lists(&machine_with_a_headset(), &Settings::default());
        assert_eq!(ids(&lists.cameras), ["default", "0", SYNTHETIC_CAMERA]);
        assert_eq!(lists.cameras[0].label, "System default camera");
        assert_eq!(lists.cameras[1].label, "Integrated Camera");
        assert!(lists.cameras[2].synthetic && !lists.cameras[1].synthetic);
        assert_eq!(ids(&lists.microphones), ["default", "alsa:hw1", SYNTHETIC_MICROPHONE]);
        assert_eq!(lists.microphones[1].label, "USB Headset (default)");
        assert_eq!(ids(&lists.speakers), ["default", "alsa:hw1"]);
        assert_eq!(lists.speakers[1].label, "USB Headset");
        assert_eq!(lists.note, "");
        assert_eq!(
            (lists.camera.as_str(), lists.microphone.as_str()),
            ("default", "default")
        );
    }

    #[test]
    fn empty_lists_say_why_and_what_it_means() {
        let found = natter_devices::Devices {
            problems: vec!["cameras could not be listed: no V4L2".into()],
            ..Default::default()
        };
        let lists = device_lists(&found, &Settings::default());
        assert_eq!(ids(&lists.cameras), ["default", SYNTHETIC_CAMERA]);
        assert_eq!(
            lists.note,
            "No camera found: you join calls without video (the others still see your name). \
             No microphone found: you join calls without sound. \
             No speaker found: you cannot hear the others. \
             cameras could not be listed: no V4L2."
        );
    }

    #[test]
    fn a_choice_is_saved_and_opened_as_picked() {
        let mut settings = Settings::default();
        choose(&mut settings, DeviceKind::Camera, SYNTHETIC_CAMERA);
        choose(&mut settings, DeviceKind::Microphone, "alsa:hw1");
        choose(&mut settings, DeviceKind::Speaker, SYSTEM_DEFAULT);
        assert_eq!(settings.camera.as_deref(), Some(SYNTHETIC_CAMERA));
        assert_eq!(settings.microphone.as_deref(), Some("alsa:hw1"));
        assert_eq!(settings.speaker, None);
        let lists = device_lists(&machine_with_a_headset(), &settings);
        assert_eq!(
            (lists.camera.as_str(), lists.microphone.as_str(), lists.speaker.as_str()),
            (SYNTHETIC_CAMERA, "alsa:hw1", "default")
        );

        let local = local_devices(&settings);
        assert_eq!(local.camera, None, "the synthetic camera");
        assert_eq!(local.microphone.as_deref(), Some("alsa:hw1"));
        assert_eq!(local.speaker, None, "the system's speaker");
        assert!(local.play_audio);
        let nothing_chosen = local_devices(&Settings::default());
        assert_eq!(nothing_chosen.camera.as_deref(), Some(SYSTEM_DEFAULT));
        assert_eq!(nothing_chosen.microphone.as_deref(), Some(SYSTEM_DEFAULT));
    }

    #[test]
    fn device_kinds_keep_their_wire_words() {
        for (kind, word) in [
            (DeviceKind::Camera, "camera"),
            (DeviceKind::Microphone, "microphone"),
            (DeviceKind::Speaker, "speaker"),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{word}\""));
            assert_eq!(
                serde_json::from_str::<DeviceKind>(&format!("\"{word}\"")).unwrap(),
                kind
            );
        }
        assert!(serde_json::from_str::<DeviceKind>("\"webcam\"").is_err());
    }
}
