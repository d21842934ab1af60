//! What the engine tells a user interface: frames to draw per tile and status changes.
//! The desktop shell turns these into Tauri channel messages / events; nothing here knows Tauri.

use natter_media::I420Frame;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One picture for one tile, already scaled to the size the tile is drawn at.
#[derive(Debug, Clone)]
pub struct TileFrame {
    /// `"local"` for the self view, otherwise the remote participant id.
    pub tile_id: String,
    /// Human-readable name shown on the tile.
    pub label: String,
    /// The picture in I420 (the page converts it to RGB when it paints).
    pub picture: I420Frame,
    /// Frame counter: the pictures decoded (or captured, for the self view) so far, so the page
    /// can tell how many it never painted.
    pub frame_counter: u32,
    /// When the sender captured the picture (ms since the UNIX epoch), if it carries a stamp:
    /// the page measures capture-to-paint from it.
    pub capture_ms: Option<u64>,
}

/// The size the window draws a tile at (device pixels), shared by the page, which sets it when
/// its layout changes, and the pipelines, which scale each picture for it: what crosses to the
/// window is what it shows, not a 720p picture for a 400-pixel tile.
#[derive(Debug, Clone)]
pub struct TileSize {
    packed: Arc<AtomicU64>,
    /// Set from the command line (`--tile`): the page's sizes are ignored (for measurements).
    pinned: bool,
}

impl TileSize {
    /// Frames follow the page's tiles; until it says, `width` × `height`.
    pub fn following(width: u32, height: u32) -> TileSize {
        TileSize {
            packed: Arc::new(AtomicU64::new(pack(width, height))),
            pinned: false,
        }
    }
    /// Frames of this size whatever the page's tiles are.
    pub fn pinned(width: u32, height: u32) -> TileSize {
        TileSize {
            pinned: true,
            ..TileSize::following(width, height)
        }
    }
    /// The page's tiles are now `width` × `height` device pixels (ignored when pinned).
    pub fn set(&self, width: u32, height: u32) {
        if !self.pinned {
            self.packed.store(pack(width, height), Ordering::Relaxed);
        }
    }
    pub fn get(&self) -> (u32, u32) {
        let packed = self.packed.load(Ordering::Relaxed);
        ((packed >> 32) as u32, packed as u32)
    }
    /// `picture` as the tile `tile_id` shows it: fitted into the tile's size (aspect kept, never
    /// larger than the picture), with the capture time its stamp said (read by the caller, who
    /// reads it for its own statistics too).
    pub fn frame(
        &self,
        tile_id: &str,
        label: &str,
        picture: &I420Frame,
        frame_counter: u32,
        capture_ms: Option<u64>,
    ) -> Option<TileFrame> {
        let (width, height) = natter_media::fit_within((picture.width, picture.height), self.get())?;
        Some(TileFrame {
            tile_id: tile_id.to_string(),
            label: label.to_string(),
            picture: natter_media::scale_i420(picture, width, height),
            frame_counter,
            capture_ms,
        })
    }
}

fn pack(width: u32, height: u32) -> u64 {
    (u64::from(width.clamp(2, 8192)) << 32) | u64::from(height.clamp(2, 8192))
}

use crate::report::report_words;
use serde::Serialize;
use ts_rs::TS;

report_words! {
    /// What a notice is about.
    NoticeAbout {
        #[default]
        Call = "call",
        Camera = "camera",
        Microphone = "microphone",
        Speaker = "speaker",
        Signaling = "signaling",
    }
}

impl From<crate::capture::Medium> for NoticeAbout {
    fn from(medium: crate::capture::Medium) -> Self {
        match medium {
            crate::capture::Medium::Camera => NoticeAbout::Camera,
            crate::capture::Medium::Microphone => NoticeAbout::Microphone,
            crate::capture::Medium::Speaker => NoticeAbout::Speaker,
        }
    }
}

report_words! {
    /// A tile's connection, as the call view shows it.
    TileState {
        #[default]
        Connecting = "connecting",
        Connected = "connected",
        Failed = "failed",
        Left = "left",
    }
}

report_words! {
    /// Someone came into the call or went out of it, as the call view announces it: `joined`
    /// the room after us (those already there when we came are not announced), `left` it (hung
    /// up, or its signaling connection closed), or `lost`: still in the room, but the connection
    /// to it broke for good (its restarts gave up).
    Presence {
        #[default]
        Joined = "joined",
        Left = "left",
        Lost = "lost",
    }
}

/// Everything the UI is told about.
#[derive(Debug, Clone)]
pub enum ViewEvent {
    Frame(TileFrame),
    /// A remote participant turned its microphone or camera off or on.
    Media {
        tile_id: String,
        audio_muted: bool,
        video_muted: bool,
    },
    /// Something about a local device the user should know ("no camera found: you are not
    /// sending video…", "USB Mic stopped working: looking for another microphone").
    Notice {
        medium: NoticeAbout,
        message: String,
    },
    /// The sound level of a tile's microphone (`"local"`: ours, before muting), in dBFS
    /// (-100 for silence), about 10 times a second.
    Level {
        tile_id: String,
        dbfs: f32,
    },
    /// A remote participant came or went (the tile's own state arrives as `Status`).
    Presence {
        tile_id: String,
        label: String,
        change: Presence,
    },
    /// A tile's connection state changed.
    Status {
        tile_id: String,
        label: String,
        state: TileState,
        /// One plain sentence for the user ("checking paths…", "relayed via turn:…").
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(width: u32, height: u32) -> I420Frame {
        let mut picture = I420Frame::black(width, height).unwrap();
        let stamp = natter_media::FrameStamp {
            counter: 7,
            capture_ms: 1_765_000_000_000,
        };
        natter_media::stamp_frame(&mut picture, stamp);
        picture
    }

    fn stamp_time(picture: &I420Frame) -> Option<u64> {
        natter_media::read_stamp(picture).map(|stamp| stamp.capture_ms)
    }

    #[test]
    fn frames_follow_the_page_unless_pinned_and_keep_the_stamp_time() {
        let following = TileSize::following(640, 360);
        let picture = stamped(1280, 720);
        let frame = following.frame("p1", "Ann", &picture, 3, stamp_time(&picture)).unwrap();
        assert_eq!((frame.picture.width, frame.picture.height), (640, 360));
        assert_eq!(
            frame.capture_ms,
            Some(1_765_000_000_000),
            "the picture's own stamp, read before scaling"
        );
        assert_eq!(frame.frame_counter, 3);
        following.set(401, 300);
        let frame = following.frame("p1", "Ann", &picture, 4, None).unwrap();
        assert_eq!(
            (frame.picture.width, frame.picture.height),
            (400, 224),
            "aspect kept, even sides"
        );

        let pinned = TileSize::pinned(320, 180);
        pinned.set(1920, 1080);
        assert_eq!(pinned.get(), (320, 180), "--tile wins over the page");
        let unstamped = I420Frame::black(64, 36).unwrap();
        let frame = pinned
            .frame("local", "You", &unstamped, 1, stamp_time(&unstamped))
            .unwrap();
        assert_eq!(
            (frame.picture.width, frame.picture.height),
            (64, 36),
            "never larger than the picture"
        );
        assert_eq!(frame.capture_ms, None);
    }
}
