//! Capture from a real camera (nokhwa). The camera is opened on a thread of its own at the mode
//! `choose_mode` picks (720p at 25+ fps when it can, a format we convert without an RGB detour
//! when two are equal), each raw frame is converted straight from the driver's buffer to I420
//! (`natter_media::camera_formats`), and only the newest picture is kept for the encoder.
//! Dropping the capture stops the stream and closes the device (the camera light goes out).
//!
//! Without a physical camera (CI) only `choose_mode` and the conversions can be tested; opening,
//! streaming and unplugging are exercised on a developer's machine (`natter headless --camera`).

use crate::{DeviceError, DeviceKind};
use natter_media::{DeviceLost, I420Frame, camera_formats};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::Duration;

/// What we ask for: 1280x720 at 30 frames per second.
pub const PREFERRED: (u32, u32, u32) = (1280, 720, 30);
/// Below this rate motion looks jerky; a smaller picture at a good rate is better.
const MIN_SMOOTH_FPS: u32 = 25;
/// Read errors in a row after which the camera counts as gone.
const LOST_AFTER_ERRORS: u32 = 5;

/// How the camera packs its pixels (the ones we can convert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Mjpeg,
    Yuyv,
    Nv12,
}

impl PixelFormat {
    /// Relative conversion cost: the planar/packed YUV formats are a copy; MJPEG is a decode.
    fn cost(self) -> u8 {
        match self {
            PixelFormat::Nv12 => 0,
            PixelFormat::Yuyv => 1,
            PixelFormat::Mjpeg => 2,
        }
    }

    fn from_nokhwa(format: nokhwa::utils::FrameFormat) -> Option<PixelFormat> {
        use nokhwa::utils::FrameFormat;
        match format {
            FrameFormat::MJPEG => Some(PixelFormat::Mjpeg),
            FrameFormat::YUYV => Some(PixelFormat::Yuyv),
            FrameFormat::NV12 => Some(PixelFormat::Nv12),
            _ => None,
        }
    }

    fn to_nokhwa(self) -> nokhwa::utils::FrameFormat {
        use nokhwa::utils::FrameFormat;
        match self {
            PixelFormat::Mjpeg => FrameFormat::MJPEG,
            PixelFormat::Yuyv => FrameFormat::YUYV,
            PixelFormat::Nv12 => FrameFormat::NV12,
        }
    }
}

/// One mode a camera offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraMode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub format: PixelFormat,
}

impl std::fmt::Display for CameraMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} at {} fps ({:?})",
            self.width, self.height, self.fps, self.format
        )
    }
}

/// The mode to open: a smooth rate first (≥ 25 fps), then the size nearest 720p, then the
/// cheaper conversion, then the higher rate. `None` if no mode is in a format we convert.
pub fn choose_mode(offered: &[CameraMode]) -> Option<CameraMode> {
    let (want_w, want_h, want_fps) = PREFERRED;
    let want_pixels = f64::from(want_w * want_h);
    // How far from 720p, in octaves of pixel count; a step down costs a little less than a step up.
    let size_distance = |m: &CameraMode| {
        let octaves = (f64::from(m.width * m.height) / want_pixels).log2();
        if octaves > 0.0 { octaves * 1.2 } else { -octaves }
    };
    offered
        .iter()
        .filter(|m| m.width >= 2 && m.height >= 2 && m.width % 2 == 0 && m.height % 2 == 0 && m.fps > 0)
        .min_by(|a, b| {
            let smooth = |m: &CameraMode| m.fps < MIN_SMOOTH_FPS; // false sorts first
            smooth(a)
                .cmp(&smooth(b))
                .then(size_distance(a).total_cmp(&size_distance(b)))
                .then(a.format.cost().cmp(&b.format.cost()))
                .then(a.fps.abs_diff(want_fps).cmp(&b.fps.abs_diff(want_fps)))
        })
        .copied()
}

/// One raw frame of `mode` → I420, straight from the driver's buffer.
pub fn convert_frame(raw: &[u8], mode: &CameraMode) -> Result<I420Frame, natter_media::MediaError> {
    match mode.format {
        PixelFormat::Mjpeg => camera_formats::mjpeg_to_i420(raw),
        PixelFormat::Yuyv => {
            // Drivers may pad rows: the stride is what the buffer holds per row.
            let stride = (raw.len() / mode.height.max(1) as usize).max(mode.width as usize * 2);
            camera_formats::yuyv_to_i420(raw, mode.width, mode.height, stride)
        }
        PixelFormat::Nv12 => camera_formats::nv12_to_i420(raw, mode.width, mode.height),
    }
}

/// An open camera delivering pictures; dropping it closes the device.
pub struct CameraCapture {
    frames: Receiver<Result<I420Frame, String>>,
    stop: Arc<AtomicBool>,
    pub name: String,
    pub mode: CameraMode,
}

impl CameraCapture {
    /// Open the camera whose id or name matches `wanted` ("default": the first one).
    pub fn open(wanted: &str) -> Result<CameraCapture, DeviceError> {
        let camera = crate::find_camera(wanted)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let (frames_tx, frames) = std::sync::mpsc::sync_channel(2);
        let stop_for_thread = Arc::clone(&stop);
        let name = camera.name.clone();
        std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || capture_thread(camera, opened_tx, frames_tx, stop_for_thread))
            .map_err(|e| DeviceError::Failed {
                kind: DeviceKind::Camera,
                device: name.clone(),
                detail: format!("cannot start the camera thread: {e}"),
            })?;
        let mode = opened_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| DeviceError::Failed {
                kind: DeviceKind::Camera,
                device: name.clone(),
                detail: "the camera did not start within 10 s".into(),
            })??;
        tracing::info!(camera = %name, %mode, "camera open");
        Ok(CameraCapture {
            frames,
            stop,
            name,
            mode,
        })
    }
}

impl natter_media::VideoSource for CameraCapture {
    fn label(&self) -> String {
        self.name.clone()
    }

    fn is_device(&self) -> bool {
        true
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(5)
    }

    fn next_frame(&mut self) -> Result<Option<I420Frame>, DeviceLost> {
        let mut newest = None;
        loop {
            match self.frames.try_recv() {
                Ok(Ok(frame)) => newest = Some(frame),
                Ok(Err(why)) => return Err(DeviceLost(why)),
                Err(TryRecvError::Empty) => return Ok(newest),
                Err(TryRecvError::Disconnected) => {
                    return Err(DeviceLost(format!("{} stopped delivering pictures", self.name)));
                }
            }
        }
    }
}

impl Drop for CameraCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn capture_thread(
    found: crate::Camera,
    opened: std::sync::mpsc::Sender<Result<CameraMode, DeviceError>>,
    frames: SyncSender<Result<I420Frame, String>>,
    stop: Arc<AtomicBool>,
) {
    use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};
    let fail = |detail: String| DeviceError::classify(DeviceKind::Camera, &found.name, &detail);
    let index = found
        .id
        .parse::<u32>()
        .map(CameraIndex::Index)
        .unwrap_or_else(|_| CameraIndex::String(found.id.clone()));
    let formats = [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12].map(PixelFormat::to_nokhwa);
    let setup = (|| {
        let mut camera = nokhwa::Camera::new(
            index,
            RequestedFormat::with_formats(RequestedFormatType::None, &formats),
        )
        .map_err(|e| fail(e.to_string()))?;
        let offered: Vec<CameraMode> = camera
            .compatible_camera_formats()
            .map_err(|e| fail(e.to_string()))?
            .into_iter()
            .filter_map(|f| {
                let format = PixelFormat::from_nokhwa(f.format())?;
                Some(CameraMode {
                    width: f.resolution().width(),
                    height: f.resolution().height(),
                    fps: f.frame_rate(),
                    format,
                })
            })
            .collect();
        let mode = choose_mode(&offered)
            .ok_or_else(|| fail("it offers no picture format Natter can read (MJPEG, YUYV or NV12)".into()))?;
        let exact = nokhwa::utils::CameraFormat::new(
            nokhwa::utils::Resolution::new(mode.width, mode.height),
            mode.format.to_nokhwa(),
            mode.fps,
        );
        camera
            .set_camera_requset(RequestedFormat::with_formats(
                RequestedFormatType::Exact(exact),
                &formats,
            ))
            .map_err(|e| fail(e.to_string()))?;
        camera.open_stream().map_err(|e| fail(e.to_string()))?;
        Ok::<_, DeviceError>((camera, mode))
    })();
    let (mut camera, mode) = match setup {
        Ok(ok) => ok,
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    let _ = opened.send(Ok(mode));
    let mut errors_in_a_row = 0;
    while !stop.load(Ordering::Relaxed) {
        let converted = match camera.frame_raw() {
            Ok(raw) => {
                errors_in_a_row = 0;
                convert_frame(&raw, &mode).map_err(|e| e.to_string())
            }
            Err(e) => {
                errors_in_a_row += 1;
                if errors_in_a_row >= LOST_AFTER_ERRORS {
                    let _ = frames.send(Err(format!("{} stopped delivering pictures ({e})", found.name)));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        match converted {
            // Full: the pipeline has not taken the last two yet; this one is dropped, not queued.
            Ok(frame) => {
                if let Err(std::sync::mpsc::TrySendError::Disconnected(_)) = frames.try_send(Ok(frame)) {
                    break;
                }
            }
            Err(e) => tracing::debug!(camera = %found.name, "unreadable frame skipped: {e}"),
        }
    }
    let _ = camera.stop_stream();
    tracing::info!(camera = %found.name, "camera closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(width: u32, height: u32, fps: u32, format: PixelFormat) -> CameraMode {
        CameraMode {
            width,
            height,
            fps,
            format,
        }
    }

    #[test]
    fn a_typical_usb_webcam_gets_720p30_over_mjpeg() {
        // YUYV is limited by USB 2 bandwidth at 720p; MJPEG is not.
        let offered = [
            mode(640, 480, 30, PixelFormat::Yuyv),
            mode(1280, 720, 10, PixelFormat::Yuyv),
            mode(1280, 720, 30, PixelFormat::Mjpeg),
            mode(1920, 1080, 30, PixelFormat::Mjpeg),
        ];
        assert_eq!(choose_mode(&offered), Some(mode(1280, 720, 30, PixelFormat::Mjpeg)));
    }

    #[test]
    fn a_smooth_smaller_picture_beats_a_jerky_720p() {
        let offered = [
            mode(1280, 720, 10, PixelFormat::Yuyv),
            mode(640, 480, 30, PixelFormat::Yuyv),
            mode(320, 240, 30, PixelFormat::Yuyv),
        ];
        assert_eq!(choose_mode(&offered), Some(mode(640, 480, 30, PixelFormat::Yuyv)));
    }

    #[test]
    fn equal_modes_take_the_cheaper_conversion_and_the_rate_nearest_30() {
        let offered = [
            mode(1280, 720, 30, PixelFormat::Mjpeg),
            mode(1280, 720, 30, PixelFormat::Yuyv),
        ];
        assert_eq!(choose_mode(&offered).unwrap().format, PixelFormat::Yuyv);
        let offered = [
            mode(1280, 720, 60, PixelFormat::Mjpeg),
            mode(1280, 720, 30, PixelFormat::Mjpeg),
        ];
        assert_eq!(choose_mode(&offered).unwrap().fps, 30);
    }

    #[test]
    fn a_4k_camera_is_opened_at_1080p_rather_than_4k() {
        let offered = [
            mode(3840, 2160, 30, PixelFormat::Mjpeg),
            mode(1920, 1080, 30, PixelFormat::Mjpeg),
        ];
        assert_eq!(choose_mode(&offered).unwrap().width, 1920);
    }

    #[test]
    fn nothing_usable_is_none() {
        assert_eq!(choose_mode(&[]), None);
        assert_eq!(
            choose_mode(&[mode(1279, 719, 30, PixelFormat::Yuyv)]),
            None,
            "odd sizes cannot be subsampled"
        );
    }

    #[test]
    fn a_padded_yuyv_frame_converts_at_its_real_size() {
        let m = mode(4, 2, 30, PixelFormat::Yuyv);
        // Rows of 8 bytes padded to 12.
        let mut raw = Vec::new();
        for row in 0..2u8 {
            raw.extend([10 + row, 128, 20 + row, 128, 30 + row, 128, 40 + row, 128, 0, 0, 0, 0]);
        }
        let frame = convert_frame(&raw, &m).unwrap();
        assert_eq!((frame.width, frame.height), (4, 2));
        assert_eq!(frame.y, vec![10, 20, 30, 40, 11, 21, 31, 41]);
    }
}
