//! The local camera and microphone without a call: what the pre-join screen and the Devices page
//! show. The capture threads of a call run as they would in one (the chosen devices, or the
//! synthetic pattern and tone; lost devices reopened and reported), but no connection asks for
//! video, so nothing is encoded for sending: the self view's frames, the microphone's level and
//! device notices go to a `ViewSink`, and nowhere else. Stopping (or dropping) the preview
//! releases the devices, so that a call can open them next.

use crate::CallError;
use crate::capture::{EncodedStreams, start_capture};
use crate::demo::LocalDevices;
use crate::media::ViewSink;
use crate::view::ViewEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A running preview; stops when dropped.
pub struct Preview {
    stop: Arc<AtomicBool>,
    streams: EncodedStreams,
    notices: tokio::task::JoinHandle<()>,
}

impl Preview {
    /// Start showing `devices` on `view` (must be called inside a tokio runtime).
    pub fn start(devices: &LocalDevices, view: ViewSink) -> Result<Preview, CallError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (notice_tx, mut notice_rx) = mpsc::unbounded_channel();
        let events = view.events.clone();
        let streams = start_capture(
            &devices.media(),
            Some(view),
            Arc::clone(&stop),
            Arc::new(AtomicU64::new(0)),
            notice_tx,
        )?;
        let notices = tokio::spawn(async move {
            while let Some(notice) = notice_rx.recv().await {
                let event = ViewEvent::Notice {
                    medium: notice.medium.into(),
                    message: notice.message,
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Preview { stop, streams, notices })
    }

    /// What the camera and microphone are doing (device names, problems), as a call reports it.
    pub fn local_media(&self) -> crate::report::LocalMediaReport {
        self.streams.local_media()
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        // The capture threads see it within a frame and close their devices.
        self.stop.store(true, Ordering::Relaxed);
        self.notices.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::TileSize;
    use std::time::Duration;

    #[tokio::test]
    async fn the_synthetic_devices_give_a_moving_self_view_and_a_level_and_stop_when_dropped() {
        let (tx, mut rx) = mpsc::channel(256);
        let view = ViewSink {
            events: tx,
            tile_size: TileSize::following(320, 180),
        };
        let preview = Preview::start(&LocalDevices::default(), view).unwrap();
        let (mut counters, mut levels) = (Vec::new(), Vec::new());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while counters.len() < 3 || levels.len() < 3 {
            let event = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("frames and levels within 20 s")
                .expect("preview running");
            match event {
                ViewEvent::Frame(frame) => {
                    assert_eq!(frame.tile_id, "local");
                    assert!(frame.picture.width <= 320);
                    counters.push(frame.frame_counter);
                }
                ViewEvent::Level { tile_id, dbfs } => {
                    assert_eq!(tile_id, "local");
                    levels.push(dbfs);
                }
                _ => {}
            }
        }
        assert!(
            counters.windows(2).all(|w| w[1] > w[0]),
            "a moving picture: {counters:?}"
        );
        // The synthetic microphone plays a tone: well above silence.
        assert!(levels.iter().all(|&l| l > -40.0), "{levels:?}");
        drop(preview);
        // Within a few frames the threads stop and the channel goes quiet (then closes).
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        let quiet = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        assert!(
            matches!(quiet, Err(_) | Ok(None)),
            "still sending after the stop: {:?}",
            quiet.map(|e| e.map(|_| ()))
        );
    }
}
