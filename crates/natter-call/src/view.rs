//! What the engine tells a user interface: frames to draw per tile and status changes.
//! The desktop shell turns these into Tauri channel messages / events; nothing here knows Tauri.

/// One picture for one tile, already scaled down and converted to RGBA for display.
#[derive(Debug, Clone)]
pub struct TileFrame {
    /// `"local"` for the self view, otherwise the remote participant id.
    pub tile_id: String,
    /// Human-readable name shown on the tile.
    pub label: String,
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes, RGBA, row-major, no padding.
    pub rgba: Vec<u8>,
    /// Frame counter read back from the decoded picture (or the local capture counter).
    pub frame_counter: u32,
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
