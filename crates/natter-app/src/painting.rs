//! What the window painted: the page measures, per tile, the frames it put on screen, those it
//! never showed and how long a picture took from capture to paint, and tells the app once a
//! second (`App::painted`). The health panel shows it; `natter demo --render-test` prints it.
//! "Decoded" (the call's report) and "painted" (this) differ when the window cannot keep up.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One tile's painting over the page's last measuring window (about two seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TilePainting {
    /// `"local"` for the self view, otherwise the remote participant id.
    pub tile_id: String,
    /// Frames painted per second.
    pub painted_fps: f64,
    /// Frames per second that reached the tile's pipeline but were never painted (a newer one
    /// replaced them first).
    pub dropped_fps: f64,
    /// Capture-to-paint latency (the sender's stamp to the page's paint call), when the pictures
    /// carry stamps: synthetic sources do, cameras do not.
    pub capture_to_paint_p50_ms: Option<f64>,
    pub capture_to_paint_p95_ms: Option<f64>,
    /// Since the tile appeared.
    pub painted_total: u32,
    pub dropped_total: u32,
    /// "webgl" or "2d": which way the page paints.
    pub renderer: String,
}

impl TilePainting {
    /// One line for people: `r1 29.8 fps painted, 0.2 dropped/s, capture→paint p95 34 ms (webgl)`.
    pub fn to_text(&self) -> String {
        let latency = match (self.capture_to_paint_p50_ms, self.capture_to_paint_p95_ms) {
            (Some(p50), Some(p95)) => format!(", capture→paint p50 {p50:.0} ms p95 {p95:.0} ms"),
            _ => String::new(),
        };
        format!(
            "{} {:.1} fps painted, {:.1} dropped/s{latency} ({})",
            self.tile_id, self.painted_fps, self.dropped_fps, self.renderer
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_page_shape_and_says_it_in_words() {
        let page = r#"{"tile_id":"r1","painted_fps":29.84,"dropped_fps":0.2,"capture_to_paint_p50_ms":21.0,
            "capture_to_paint_p95_ms":34.4,"painted_total":300,"dropped_total":2,"renderer":"webgl"}"#;
        let tile: TilePainting = serde_json::from_str(page).unwrap();
        assert_eq!(
            tile.to_text(),
            "r1 29.8 fps painted, 0.2 dropped/s, capture→paint p50 21 ms p95 34 ms (webgl)"
        );
        let camera = TilePainting {
            capture_to_paint_p50_ms: None,
            capture_to_paint_p95_ms: None,
            ..tile
        };
        assert!(!camera.to_text().contains("capture"));
    }
}
