//! natter-devices: the machine's cameras (nokhwa), microphones and speakers (cpal), as the user
//! picks them: enumeration (here), capture (`camera`, `microphone`) and playback (`speaker`), each
//! behind `natter_media`'s `VideoSource` / `AudioSource` / `AudioSink` so the call pipeline
//! treats them like the synthetic ones.
//!
//! Enumeration never fails as a whole: a backend that cannot be asked (no V4L2, no sound server,
//! no permission) leaves its list empty and adds a sentence to `problems`, so `natter devices`
//! and the device pickers can say *why* a list is empty — "no camera" must never stop a call.

use serde::Serialize;

pub mod camera;
mod error;
pub mod microphone;
pub mod quiet;
pub mod speaker;
mod stream;
pub use camera::CameraCapture;
pub use error::{DeviceError, DeviceKind};
pub use microphone::Microphone;
pub use speaker::{MIX_RATE, Speaker};

/// A camera as nokhwa reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Camera {
    /// Stable handle to open it with (the platform index, e.g. V4L2 `/dev/video0` → "0").
    pub id: String,
    pub name: String,
    /// Driver / bus details, as the platform gives them.
    pub description: String,
}

/// A sound input or output as cpal reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioDevice {
    /// cpal's stable device id ("host:device").
    pub id: String,
    pub name: String,
    /// The system's default for its direction.
    pub default: bool,
    /// Sample rate and channels of its default configuration, e.g. "48000 Hz, 2 ch".
    pub default_format: Option<String>,
}

/// Everything the machine offers, and why a list may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Devices {
    pub cameras: Vec<Camera>,
    pub microphones: Vec<AudioDevice>,
    pub speakers: Vec<AudioDevice>,
    /// The audio system cpal uses (ALSA, CoreAudio, WASAPI…).
    pub audio_host: String,
    /// Why something could not be listed, one sentence each.
    pub problems: Vec<String>,
}

/// Ask the platform for every camera, microphone and speaker.
pub fn enumerate() -> Devices {
    let mut devices = Devices::default();
    match nokhwa::query(nokhwa::utils::ApiBackend::Auto) {
        Ok(cameras) => {
            devices.cameras = cameras
                .into_iter()
                .map(|c| Camera {
                    id: c.index().to_string(),
                    name: c.human_name(),
                    description: c.description().to_string(),
                })
                .collect();
        }
        Err(e) => devices.problems.push(format!("cameras could not be listed: {e}")),
    }
    enumerate_audio(&mut devices);
    devices
}

/// `enumerate` with the audio backends' chatter on fd 2 (alsa-lib, libjack: dozens of lines about
/// plugins that are not there) captured and logged at debug level (`NATTER_LOG=debug` shows
/// it). For a command whose only other stderr writer is its logger: see `quiet`. What cannot be
/// listed still says why in `problems`.
pub fn enumerate_quietly() -> Devices {
    let (devices, chatter) = quiet::capture_stderr(enumerate);
    for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
        tracing::debug!(target: "natter_devices::backend", "{line}");
    }
    devices
}

/// The camera whose id or name contains `wanted` (case-insensitive; "default": the first one).
pub fn find_camera(wanted: &str) -> Result<Camera, DeviceError> {
    let kind = DeviceKind::Camera;
    let cameras = nokhwa::query(nokhwa::utils::ApiBackend::Auto)
        .map_err(|e| DeviceError::classify(kind, "the camera list", &e.to_string()))?;
    let wanted = wanted.to_lowercase();
    cameras
        .into_iter()
        .map(|c| Camera {
            id: c.index().to_string(),
            name: c.human_name(),
            description: c.description().to_string(),
        })
        .find(|c| wanted == "default" || c.id.to_lowercase() == wanted || c.name.to_lowercase().contains(&wanted))
        .ok_or_else(|| {
            if wanted == "default" {
                DeviceError::NoneFound { kind }
            } else {
                DeviceError::NoMatch { kind, wanted }
            }
        })
}

fn enumerate_audio(devices: &mut Devices) {
    use cpal::traits::{DeviceTrait, HostTrait};
    let host = cpal::default_host();
    devices.audio_host = host.id().name().to_string();
    let id_of = |d: &cpal::Device| d.id().map(|id| id.to_string()).ok();
    let default_in = host.default_input_device().as_ref().and_then(id_of);
    let default_out = host.default_output_device().as_ref().and_then(id_of);
    let describe = |d: &cpal::Device, default: &Option<String>, input: bool| -> Option<AudioDevice> {
        let id = id_of(d)?;
        let name = d
            .description()
            .map(|desc| desc.name().to_string())
            .unwrap_or_else(|_| d.to_string());
        let config = if input {
            d.default_input_config()
        } else {
            d.default_output_config()
        };
        let default_format = config
            .ok()
            .map(|c| format!("{} Hz, {} ch", c.sample_rate(), c.channels()));
        Some(AudioDevice {
            default: default.as_deref() == Some(id.as_str()),
            id,
            name,
            default_format,
        })
    };
    match host.input_devices() {
        // ALSA lists every plugin; one without a usable default format cannot be opened anyway.
        Ok(list) => {
            devices.microphones = list
                .filter_map(|d| describe(&d, &default_in, true))
                .filter(|d| d.default_format.is_some())
                .collect()
        }
        Err(e) => devices.problems.push(format!("microphones could not be listed: {e}")),
    }
    match host.output_devices() {
        Ok(list) => {
            devices.speakers = list
                .filter_map(|d| describe(&d, &default_out, false))
                .filter(|d| d.default_format.is_some())
                .collect()
        }
        Err(e) => devices.problems.push(format!("speakers could not be listed: {e}")),
    }
}

impl Devices {
    /// The text `natter devices` prints: every list, and for an empty one what it means for a call.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str("Cameras\n");
        if self.cameras.is_empty() {
            out.push_str("  none found: calls send no video from this machine (receive-only video)\n");
        }
        for c in &self.cameras {
            out.push_str(&format!("  [{}] {}  ({})\n", c.id, c.name, c.description));
        }
        for (title, list, none) in [
            (
                "Microphones",
                &self.microphones,
                "none found: calls send no audio from this machine (receive-only audio)",
            ),
            (
                "Speakers",
                &self.speakers,
                "none found: received audio cannot be played here",
            ),
        ] {
            out.push_str(&format!("{title} ({})\n", self.audio_host));
            if list.is_empty() {
                out.push_str(&format!("  {none}\n"));
            }
            for d in list {
                let format = d
                    .default_format
                    .as_deref()
                    .map(|f| format!("  {f}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  {}{}{format}\n",
                    d.name,
                    if d.default { "  (default)" } else { "" }
                ));
            }
        }
        for problem in &self.problems {
            out.push_str(&format!("note: {problem}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_say_what_they_mean_for_a_call() {
        let devices = Devices {
            audio_host: "ALSA".into(),
            problems: vec!["cameras could not be listed: no V4L2".into()],
            ..Default::default()
        };
        let text = devices.to_text();
        assert!(
            text.contains("Cameras\n  none found: calls send no video from this machine (receive-only video)"),
            "{text}"
        );
        assert!(
            text.contains("Microphones (ALSA)\n  none found: calls send no audio"),
            "{text}"
        );
        assert!(text.contains("note: cameras could not be listed: no V4L2"), "{text}");
    }

    #[test]
    fn devices_are_listed_with_their_default_marked() {
        let devices = Devices {
            cameras: vec![Camera {
                id: "0".into(),
                name: "Integrated Camera".into(),
                description: "uvcvideo".into(),
            }],
            microphones: vec![AudioDevice {
                id: "alsa:default".into(),
                name: "Default".into(),
                default: true,
                default_format: Some("48000 Hz, 2 ch".into()),
            }],
            audio_host: "ALSA".into(),
            ..Default::default()
        };
        let text = devices.to_text();
        assert!(text.contains("[0] Integrated Camera  (uvcvideo)"), "{text}");
        assert!(text.contains("Default  (default)  48000 Hz, 2 ch"), "{text}");
    }
}
