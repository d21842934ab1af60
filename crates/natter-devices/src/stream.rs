//! What `Microphone` and `Speaker` share: picking a cpal device by name, and keeping its stream
//! on a thread of its own (cpal streams are not `Send` everywhere) until told to stop.

use crate::{DeviceError, DeviceKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long opening a device may take (ALSA may probe slow plugins while listing).
const OPEN_LIMIT: Duration = Duration::from_secs(15);

/// An opened stream: the stream and the device's name, rate and channel count.
pub(crate) type Opened = (cpal::Stream, String, u32, u16);

/// Run `build` on a new thread named `thread`, keep the stream it returns alive there until
/// `stop` is set, and return the device's name, rate and channels (or why it did not open).
pub(crate) fn open_on_own_thread(
    thread: &str,
    kind: DeviceKind,
    stop: Arc<AtomicBool>,
    build: impl FnOnce() -> Result<Opened, DeviceError> + Send + 'static,
) -> Result<(String, u32, u16), DeviceError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            let stream = match build() {
                Ok((stream, name, rate, channels)) => {
                    let _ = tx.send(Ok((name, rate, channels)));
                    stream
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(stream);
        })
        .map_err(|e| DeviceError::Failed {
            kind,
            device: kind.to_string(),
            detail: format!("cannot start the {thread} thread: {e}"),
        })?;
    rx.recv_timeout(OPEN_LIMIT).map_err(|_| DeviceError::Failed {
        kind,
        device: kind.to_string(),
        detail: format!("the device did not open within {} s", OPEN_LIMIT.as_secs()),
    })?
}

/// `wanted` with "default" meaning the system default (`None`), lower-cased for matching.
pub(crate) fn wanted_name(wanted: Option<&str>) -> Option<String> {
    wanted
        .filter(|w| !w.eq_ignore_ascii_case("default"))
        .map(str::to_lowercase)
}

/// The device whose id or name contains `wanted`, or `default` when `wanted` is `None`. The
/// default is tried first: listing every device makes ALSA probe each of its plugins (JACK,
/// OSS…), which can take seconds.
pub(crate) fn pick_device(
    wanted: Option<&str>,
    default: Option<cpal::Device>,
    list: impl FnOnce() -> Result<Vec<cpal::Device>, cpal::Error>,
    kind: DeviceKind,
) -> Result<cpal::Device, DeviceError> {
    use cpal::traits::DeviceTrait;
    let matches = |d: &cpal::Device, wanted: &str| {
        let id = d.id().map(|i| i.to_string().to_lowercase()).unwrap_or_default();
        let name = d.description().map(|x| x.name().to_lowercase()).unwrap_or_default();
        id.contains(wanted) || name.contains(wanted)
    };
    match wanted {
        None => default.ok_or(DeviceError::NoneFound { kind }),
        Some(wanted) if default.as_ref().is_some_and(|d| matches(d, wanted)) => Ok(default.expect("checked")),
        Some(wanted) => list()
            .map_err(|e| DeviceError::Failed {
                kind,
                device: format!("the {kind} list"),
                detail: e.to_string(),
            })?
            .into_iter()
            .find(|d| matches(d, wanted))
            .ok_or_else(|| DeviceError::NoMatch {
                kind,
                wanted: wanted.to_string(),
            }),
    }
}

/// The name a picker shows for `device`.
pub(crate) fn device_name(device: &cpal::Device) -> String {
    use cpal::traits::DeviceTrait;
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// Where a stream's error callback leaves the news that its device is gone.
#[derive(Clone, Default)]
pub(crate) struct LostFlag(Arc<Mutex<Option<String>>>);

impl LostFlag {
    /// The callback cpal calls on a stream error: unplugged devices and vanished sound servers
    /// end the stream; anything else (an over- or underrun) is only logged.
    pub(crate) fn on_stream_error(&self, device: &str, error: &cpal::Error) {
        use cpal::ErrorKind;
        match error.kind() {
            ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable | ErrorKind::StreamInvalidated => {
                tracing::warn!(device, "audio device lost: {error}");
                self.0
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| format!("{device} stopped working ({error})"));
            }
            _ => tracing::debug!(device, "audio stream: {error}"),
        }
    }

    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
}
