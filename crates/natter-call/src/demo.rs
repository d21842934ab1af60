//! The embedded demo call behind `natter demo`: an in-process signaling server, the local user and
//! two synthetic remote participants, all in this process.
//!
//! PROVISIONAL: until the engine lands this paints moving test frames so the shell can be built.

use crate::view::{TileFrame, ViewEvent};
use crate::CallError;
use std::time::Duration;
use tokio::sync::mpsc;

/// Options of the demo call.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many synthetic remote participants join (default 2).
    pub remote_participants: usize,
    /// Size of the frames handed to the UI.
    pub tile_width: u32,
    pub tile_height: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { remote_participants: 2, tile_width: 320, tile_height: 180 }
    }
}

/// A running demo; dropping it (or `stop`) ends the call.
pub struct DemoHandle {
    task: tokio::task::JoinHandle<()>,
}

impl DemoHandle {
    pub async fn stop(self) {
        self.task.abort();
    }
}

/// Start the demo call; events flow into `events` until the handle is stopped.
/// Must be called inside a tokio runtime.
pub async fn start_demo(options: DemoOptions, events: mpsc::Sender<ViewEvent>) -> Result<DemoHandle, CallError> {
    let task = tokio::spawn(async move {
        let mut tiles = vec![("local".to_string(), "You".to_string())];
        for i in 0..options.remote_participants {
            tiles.push((format!("synthetic-{}", i + 1), format!("Synthetic {}", i + 1)));
        }
        for (id, label) in &tiles {
            let _ = events
                .send(ViewEvent::Status { tile_id: id.clone(), label: label.clone(), state: "connected".into(), detail: "provisional demo".into() })
                .await;
        }
        let mut counter = 0u32;
        let mut tick = tokio::time::interval(Duration::from_millis(66));
        loop {
            tick.tick().await;
            counter = counter.wrapping_add(1);
            for (n, (id, label)) in tiles.iter().enumerate() {
                let (w, h) = (options.tile_width, options.tile_height);
                let mut rgba = vec![0u8; (w * h * 4) as usize];
                let bar = (counter * 4 + n as u32 * 50) % w;
                for y in 0..h {
                    for x in 0..w {
                        let i = ((y * w + x) * 4) as usize;
                        let on = x.abs_diff(bar) < 12;
                        rgba[i] = if on { 255 } else { (x * 255 / w) as u8 };
                        rgba[i + 1] = if on { 255 } else { (y * 255 / h) as u8 };
                        rgba[i + 2] = (n as u8).wrapping_mul(90);
                        rgba[i + 3] = 255;
                    }
                }
                let frame = TileFrame { tile_id: id.clone(), label: label.clone(), width: w, height: h, rgba, frame_counter: counter };
                if events.send(ViewEvent::Frame(frame)).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(DemoHandle { task })
}
