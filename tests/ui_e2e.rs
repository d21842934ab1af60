//! End-to-end tests of the real app window, driven through WebDriver (tauri-driver in front of
//! WebKitWebDriver) on a private Xvfb display. Needs `tauri-driver`, `WebKitWebDriver` and `Xvfb`:
//! `bash scripts/install-e2e.sh` installs them; a missing tool fails the test saying so.
//!
//! Run: `cargo test --test ui_e2e -- --nocapture` (screenshots go to `$NATTER_SCREENSHOT_DIR`,
//! else `<$CARGO_TARGET_DIR or target>/screenshots`).

// Only the WebDriver harness of tests/support (not the coturn/netns helpers of its mod.rs).
mod support {
    pub mod webdriver;
}

use serde_json::{Value, json};
use std::time::Duration;
use support::webdriver::{AppUnderTest, screenshot_dir};

/// The canvases of the remote participants' tiles. `.tile[data-remote] canvas` is the stable
/// selector of the UI being rewritten; `.tile:not(.local) canvas` matches the current UI (whose
/// self view is `.tile.local`) — drop that second half once the rewrite has landed.
const REMOTE_TILE_CANVAS: &str = ".tile[data-remote] canvas";

/// For every canvas matching the selector (argument 0): [width, height, FNV-1a hash of its
/// pixels, number of distinct sampled colours]. The colour count tells a drawn frame from a
/// blank or uniformly filled canvas.
const CANVAS_FINGERPRINTS: &str = r#"
const out = [];
for (const c of document.querySelectorAll(arguments[0])) {
  if (!c.width || !c.height) { out.push([c.width, c.height, 0, 0]); continue; }
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    h = Math.imul(h ^ d[i], 16777619); h = Math.imul(h ^ d[i + 1], 16777619); h = Math.imul(h ^ d[i + 2], 16777619);
    if (i % 64 === 0 && colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  }
  out.push([c.width, c.height, h >>> 0, colours.size]);
}
return out;
"#;

fn fingerprints(app: &AppUnderTest) -> Vec<Value> {
    app.execute(CANVAS_FINGERPRINTS, json!([REMOTE_TILE_CANVAS])).as_array().cloned().unwrap_or_default()
}

#[test]
fn demo_window_shows_remote_tiles_that_move() {
    let started = std::time::Instant::now();
    let app = AppUnderTest::start(&["demo"], &[]);
    let rect = app.set_window_size(1280, 800);
    eprintln!("session up after {:.1?}; window {rect}", started.elapsed());

    app.wait_for(REMOTE_TILE_CANVAS, Duration::from_secs(60));

    // The embedded call needs a few seconds to connect: poll (bounded) for two samples 1 s apart
    // in which every remote canvas shows a drawn picture and that picture changed.
    let mut last = String::new();
    let tiles = app.wait_until("every remote tile to show moving video", Duration::from_secs(60), || {
        let a = fingerprints(&app);
        std::thread::sleep(Duration::from_secs(1));
        let b = fingerprints(&app);
        last = format!("[w, h, hash, colours] before {}, after {}", json!(a), json!(b));
        let drawn = |v: &Value| v[3].as_u64().unwrap_or(0) >= 4;
        let ok = !a.is_empty()
            && a.len() == b.len()
            && a.iter().zip(&b).all(|(x, y)| drawn(x) && drawn(y) && x[2] != y[2]);
        ok.then(|| b.len())
    });
    eprintln!("{tiles} remote tile(s) moving after {:.1?}: {last}", started.elapsed());

    let shot = screenshot_dir().join("call-view.png");
    app.screenshot_png(&shot);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "screenshot {} is only {size} bytes", shot.display());
    eprintln!("screenshot: {} ({size} bytes); total {:.1?}", shot.display(), started.elapsed());
}
