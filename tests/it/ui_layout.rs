//! The window's layout at the sizes people use, in the real window (WebDriver, Xvfb): the call
//! grid fits (tiles keep 16:9, never overlap each other or the control bar, stay inside the
//! viewport) with 1 to 9 tiles from 800×600 to 1920×1080; the join dialog is a modal over the
//! call that leaves the grid as it was; no page scrolls sideways at 800×600. Element rectangles
//! (`getBoundingClientRect`), never canvas pixels.
//!
//! Run: `cargo test --test it ui_layout:: -- --test-threads=1 --nocapture`; screenshots go to
//! `$NATTER_SCREENSHOT_DIR`, else `<$CARGO_TARGET_DIR or target>/screenshots` (`layout-*.png`).

use crate::support::TempDir;
use crate::support::webdriver::{AppUnderTest, screenshot_dir};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The X screen of these tests: room for a full-HD window.
const SCREEN: (u32, u32) = (1920, 1080);
/// Sub-pixel rounding allowed between rectangles that touch.
const EPSILON: f64 = 0.5;

/// What the checks need, read in one script: the viewport, every tile, the control bar, and how
/// wide the document and the visible page are against their boxes.
const MEASURE: &str = r#"
const rect = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const page = document.querySelector('.page:not([hidden])');
return {
  viewport: [window.innerWidth, window.innerHeight],
  tiles: [...document.querySelectorAll('#grid > .tile')].map(rect),
  canvases: [...document.querySelectorAll('#grid > .tile')].filter((t) => t.querySelector('canvas')).length,
  controls: rect(document.querySelector('.controls')),
  document: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  page: page ? [page.id, page.scrollWidth, page.clientWidth] : null,
  columns: document.getElementById('grid').dataset.columns ?? null,
  stage: (() => {
    const s = document.getElementById('stage'); const r = s.getBoundingClientRect(); const c = getComputedStyle(s);
    const p = (k) => parseFloat(c[k]) || 0;
    return [r.left + p('paddingLeft'), r.top + p('paddingTop'), r.right - p('paddingRight'), r.bottom - p('paddingBottom')];
  })(),
};
"#;

type Rect = [f64; 4];

fn rect(v: &Value) -> Rect {
    let n = |i: usize| v[i].as_f64().unwrap_or(f64::NAN);
    [n(0), n(1), n(2), n(3)]
}

fn overlap(a: &Rect, b: &Rect) -> bool {
    a[0] < b[2] - EPSILON && b[0] < a[2] - EPSILON && a[1] < b[3] - EPSILON && b[1] < a[3] - EPSILON
}

fn inside(r: &Rect, width: f64, height: f64) -> bool {
    r[0] >= -EPSILON && r[1] >= -EPSILON && r[2] <= width + EPSILON && r[3] <= height + EPSILON
}

/// Everything wrong with a measured call view holding `tiles` tiles (empty: it fits).
fn layout_problems(m: &Value, tiles: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let (width, height) = (
        m["viewport"][0].as_f64().unwrap_or(0.0),
        m["viewport"][1].as_f64().unwrap_or(0.0),
    );
    let all: Vec<Rect> = m["tiles"]
        .as_array()
        .map(|a| a.iter().map(rect).collect())
        .unwrap_or_default();
    if all.len() != tiles {
        problems.push(format!("{} tiles, expected {tiles}", all.len()));
    }
    if m["canvases"].as_u64() != Some(all.len() as u64) {
        problems.push(format!("only {} of {} tiles hold a canvas", m["canvases"], all.len()));
    }
    let controls = rect(&m["controls"]);
    if !inside(&controls, width, height) || controls[3] - controls[1] < 20.0 {
        problems.push(format!(
            "the control bar {controls:?} is not fully visible in {width}×{height}"
        ));
    }
    for (i, t) in all.iter().enumerate() {
        let (w, h) = (t[2] - t[0], t[3] - t[1]);
        if w < 50.0 || h < 28.0 {
            problems.push(format!("tile {i} {t:?} is too small"));
            continue;
        }
        if ((w / h) - 16.0 / 9.0).abs() > 0.03 {
            problems.push(format!("tile {i} {t:?} is not 16:9 ({:.3})", w / h));
        }
        if !inside(t, width, height) {
            problems.push(format!("tile {i} {t:?} leaves the {width}×{height} viewport"));
        }
        if overlap(t, &controls) {
            problems.push(format!("tile {i} {t:?} runs under the control bar {controls:?}"));
        }
        for (j, u) in all.iter().enumerate().skip(i + 1) {
            if overlap(t, u) {
                problems.push(format!("tiles {i} {t:?} and {j} {u:?} overlap"));
            }
        }
    }
    // As large as they fit: the tiles together span (nearly) the stage's width or its height.
    // A lone tile is capped (960 px) and exempt.
    if all.len() > 1 && problems.is_empty() {
        let stage = rect(&m["stage"]);
        let span = |lo: usize, hi: usize| {
            all.iter().map(|t| t[hi]).fold(f64::MIN, f64::max) - all.iter().map(|t| t[lo]).fold(f64::MAX, f64::min)
        };
        let (wide, high) = (span(0, 2) / (stage[2] - stage[0]), span(1, 3) / (stage[3] - stage[1]));
        if wide < 0.9 && high < 0.9 {
            problems.push(format!(
                "the tiles use only {:.0} % of the stage's width and {:.0} % of its height {stage:?}",
                wide * 100.0,
                high * 100.0
            ));
        }
    }
    problems.extend(sideways_problems(m));
    problems
}

/// The document and the visible page are no wider than their boxes.
fn sideways_problems(m: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let (scroll, client) = (
        m["document"][0].as_f64().unwrap_or(0.0),
        m["document"][1].as_f64().unwrap_or(0.0),
    );
    if scroll > client {
        problems.push(format!(
            "the document scrolls sideways: scrollWidth {scroll} > clientWidth {client}"
        ));
    }
    if let Some(page) = m["page"].as_array() {
        let (scroll, client) = (page[1].as_f64().unwrap_or(0.0), page[2].as_f64().unwrap_or(0.0));
        if scroll > client {
            problems.push(format!(
                "#{} scrolls sideways: scrollWidth {scroll} > clientWidth {client}",
                page[0]
            ));
        }
    }
    problems
}

/// Polls (at most `timeout`) until `check` finds nothing wrong with the page as measured;
/// returns that measurement, or fails with the last problems.
fn wait_for_layout(app: &AppUnderTest, what: &str, timeout: Duration, check: impl Fn(&Value) -> Vec<String>) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let m = app.execute(MEASURE, json!([]));
        let problems = check(&m);
        if problems.is_empty() {
            return m;
        }
        if Instant::now() >= deadline {
            app.fail(&format!(
                "{what}: still wrong after {timeout:?}:\n  {}\nmeasured: {m}",
                problems.join("\n  ")
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Resizes the window and waits until the page has the new size (a window frame, if the display
/// draws one, may take a little of the height: the checks use the viewport as measured).
fn resize(app: &AppUnderTest, width: u32, height: u32) {
    app.set_window_size(width, height);
    let viewport = app.wait_until(
        &format!("a {width}×{height} viewport"),
        Duration::from_secs(10),
        || {
            let v = app.execute("return [window.innerWidth, window.innerHeight]", json!([]));
            let (w, h) = (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0));
            (w == u64::from(width) && h <= u64::from(height) && h + 80 >= u64::from(height)).then_some(v)
        },
    );
    if viewport != json!([width, height]) {
        eprintln!("window {width}×{height}: viewport {viewport}");
    }
}

/// Waits (bounded) for every tile to show a picture, so a screenshot shows what a user sees; a
/// slow machine only makes the picture less telling, so this reports and goes on.
fn wait_for_pictures(app: &AppUnderTest, tiles: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let script = "return document.querySelectorAll('#grid > .tile.has-video, #grid > .tile.video-muted').length";
    while app.execute(script, json!([])).as_u64().unwrap_or(0) < tiles as u64 {
        if Instant::now() >= deadline {
            eprintln!("(not every tile shows a picture yet for the screenshot)");
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn shoot(app: &AppUnderTest, name: &str) {
    let path = screenshot_dir().join(name);
    app.screenshot_png(&path);
    eprintln!("screenshot: {}", path.display());
}

const TAB: &str = "\u{E004}";
const ESCAPE: &str = "\u{E00C}";

/// Presses a key where the focus is (WebDriver key actions; else typed into the focused element).
fn press(app: &AppUnderTest, key: &str) {
    let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
        {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
    if app.try_command("POST", "/actions", Some(&actions)).is_ok() {
        return;
    }
    let active = app.command("GET", "/element/active", None);
    let id = active
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| app.fail(&format!("no focused element to press {key:?} in: {active}")))
        .to_string();
    app.command("POST", &format!("/element/{id}/value"), Some(&json!({ "text": key })));
}

/// A tile's width and height.
fn size(r: &Value) -> (f64, f64) {
    let r = rect(r);
    (r[2] - r[0], r[3] - r[1])
}

#[test]
fn the_layout_check_sees_overlap_overflow_and_a_hidden_control_bar() {
    // The checks this module relies on, on made-up measurements: each can fail.
    let good = json!({
        "viewport": [800, 600], "canvases": 2, "controls": [0, 540, 800, 600], "document": [800, 800],
        "page": ["page-call", 800, 800],
        "tiles": [[16, 80, 336, 260], [348, 80, 668, 260]], "stage": [16, 70, 670, 520],
    });
    assert!(layout_problems(&good, 2).is_empty(), "{:?}", layout_problems(&good, 2));
    let mut bad = good.clone();
    bad["tiles"][1] = json!([300, 80, 620, 260]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("overlap")));
    let mut bad = good.clone();
    bad["tiles"][1] = json!([348, 400, 668, 580]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("control bar")));
    let mut bad = good.clone();
    bad["tiles"][1] = json!([600, 80, 920, 260]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("viewport")));
    let mut bad = good.clone();
    bad["controls"] = json!([0, 600, 800, 660]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("control bar")));
    let mut bad = good.clone();
    bad["tiles"][1] = json!([348, 80, 668, 300]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("16:9")));
    let mut bad = good.clone();
    bad["tiles"] = json!([[16, 80, 176, 170], [188, 80, 348, 170]]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("use only")));
    let mut bad = good;
    bad["page"] = json!(["page-settings", 912, 800]);
    assert!(layout_problems(&bad, 2).iter().any(|p| p.contains("sideways")));
}

/// The issue's case: the demo with 4 others at 800×600. Then the join dialog: a modal over the
/// call (the tiles do not move, the rest of the page is inert, Tab stays inside, Esc closes it).
#[test]
fn five_tiles_fit_800x600_and_the_join_dialog_is_a_modal_over_them() {
    let config = TempDir::new("layout-config");
    let config_dir = config.0.to_str().unwrap().to_string();
    let app = AppUnderTest::start_on_screen(
        &["demo", "--participants", "4"],
        &[("NATTER_CONFIG_DIR", config_dir.as_str())],
        SCREEN,
    );
    resize(&app, 800, 600);
    let before = wait_for_layout(&app, "5 tiles at 800×600", Duration::from_secs(60), |m| {
        layout_problems(m, 5)
    });
    eprintln!(
        "800×600, 5 tiles: {} columns, tiles {}",
        before["columns"], before["tiles"]
    );
    wait_for_pictures(&app, 5);
    shoot(&app, "layout-800x600-5-tiles.png");

    app.find("#open-join").click();
    let state = app.wait_until("the join dialog to open", Duration::from_secs(10), || {
        let s = app.execute(
            "const p = document.getElementById('join-panel'); const r = p.getBoundingClientRect();
             return { open: !p.hidden, inside: p.contains(document.activeElement),
                      rect: [r.left, r.top, r.right, r.bottom],
                      inert: ['header.bar', '#stage', '.controls'].map((s) => document.querySelector(s).inert) }",
            json!([]),
        );
        (s["open"] == json!(true) && s["inside"] == json!(true)).then_some(s)
    });
    assert_eq!(
        state["inert"],
        json!([true, true, true]),
        "header, tiles and controls inert: {state}"
    );
    assert!(
        inside(&rect(&state["rect"]), 800.0, 600.0),
        "the dialog fits the window: {state}"
    );
    // The call behind keeps its layout: not squashed, controls still on screen.
    let during = wait_for_layout(&app, "the grid behind the dialog", Duration::from_secs(5), |m| {
        layout_problems(m, 5)
    });
    assert_eq!(
        during["tiles"], before["tiles"],
        "the dialog moved or resized the tiles"
    );
    shoot(&app, "layout-800x600-join-dialog.png");

    // Tab through more than every control: the focus never leaves the dialog.
    let controls = app
        .execute(
            "return [...document.querySelectorAll('#join-panel :is(input, button, select, textarea)')].filter((e) => !e.disabled && e.offsetParent !== null).length",
            json!([]),
        )
        .as_u64()
        .unwrap_or(0);
    assert!(controls >= 5, "{controls} controls in the dialog");
    let mut visited = std::collections::BTreeSet::new();
    for step in 0..controls + 2 {
        press(&app, TAB);
        let focus = app.execute(
            "const a = document.activeElement; return [document.getElementById('join-panel').contains(a), a.id || a.name || a.textContent]",
            json!([]),
        );
        assert_eq!(
            focus[0],
            json!(true),
            "Tab {step} moved the focus out of the dialog to {focus}"
        );
        visited.insert(focus[1].as_str().unwrap_or_default().to_string());
    }
    // …and went round every control of it (Tab works, and wraps from the last to the first).
    assert_eq!(visited.len() as u64, controls, "Tab visited {visited:?}");
    // Esc closes it and the page works again.
    press(&app, ESCAPE);
    app.wait_until("Esc to close the dialog", Duration::from_secs(5), || {
        let s = app.execute(
            "return [document.getElementById('join-panel').hidden, document.querySelectorAll('[inert]').length]",
            json!([]),
        );
        (s == json!([true, 0])).then_some(())
    });
}

/// Nine tiles (the demo's most) at 1280×800: more columns, nothing overlaps or leaves the window.
#[test]
fn nine_tiles_fit_1280x800() {
    let app = AppUnderTest::start_on_screen(&["demo", "--participants", "8"], &[], SCREEN);
    resize(&app, 1280, 800);
    let m = wait_for_layout(&app, "9 tiles at 1280×800", Duration::from_secs(60), |m| {
        layout_problems(m, 9)
    });
    let columns: u32 = m["columns"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
    let (w, _) = size(&m["tiles"][0]);
    eprintln!("1280×800, 9 tiles: {columns} columns of {w} px");
    assert!(
        (3..=4).contains(&columns),
        "9 tiles in 1280×800 want 3 or 4 columns: {m}"
    );
}

/// No page scrolls sideways at 800×600: the ICE servers page with servers listed (long URLs and
/// all their fields), the health panel and the devices page.
#[test]
fn no_page_scrolls_sideways_at_800x600() {
    let config = TempDir::new("layout-sideways-config");
    std::fs::write(
        config.path("settings.json"),
        r#"{"servers":[
            {"id":"a","urls":["stun:192.0.2.10:3478","stun:192.0.2.12:3478","stun:192.0.2.13:3478"],"credentialType":"password"},
            {"id":"b","urls":["stun:192.0.2.11:3478"],"credentialType":"password"}]}"#,
    )
    .expect("write settings.json");
    let config_dir = config.0.to_str().unwrap().to_string();
    let app = AppUnderTest::start_on_screen(
        &["demo", "--participants", "2"],
        &[("NATTER_CONFIG_DIR", config_dir.as_str())],
        SCREEN,
    );
    resize(&app, 800, 600);
    app.wait_for("#nav-settings", Duration::from_secs(30)).click();
    app.wait_until("the saved servers listed", Duration::from_secs(20), || {
        (app.find_all("#server-list .server").len() == 2).then_some(())
    });
    app.find("#add-server").click();
    let m = wait_for_layout(&app, "the ICE servers page at 800×600", Duration::from_secs(10), |m| {
        let mut problems = sideways_problems(m);
        if m["page"][0] != json!("page-settings") {
            problems.push(format!("page {} shown", m["page"][0]));
        }
        problems
    });
    eprintln!("ICE servers page: {}", m["page"]);
    shoot(&app, "layout-800x600-ice-servers.png");

    for page in ["health", "devices"] {
        app.find(&format!("#nav-{page}")).click();
        wait_for_layout(
            &app,
            &format!("the {page} page at 800×600"),
            Duration::from_secs(10),
            |m| {
                let mut problems = sideways_problems(m);
                if m["page"][0] != json!(format!("page-{page}")) {
                    problems.push(format!("page {} shown", m["page"][0]));
                }
                problems
            },
        );
    }
    // The health panel once both participants have their graphs.
    app.find("#nav-health").click();
    app.wait_until("graphs for both participants", Duration::from_secs(30), || {
        let n = app.execute(
            "return [...document.querySelectorAll('.spark path')].filter(p => p.getAttribute('d')).length",
            json!([]),
        );
        (n.as_u64() == Some(10)).then_some(())
    });
    wait_for_layout(
        &app,
        "the health page with graphs",
        Duration::from_secs(5),
        sideways_problems,
    );
    shoot(&app, "layout-800x600-health.png");
}

/// Screenshots to judge as a user would: 1, 4, 6 and 9 tiles at 800×600 and at 1920×1080, each
/// checked like the others. The lone tile is the window's user alone in a room (joined through
/// the dialog); it stays a sensible size.
#[test]
fn grids_of_1_4_6_9_tiles_at_800x600_and_full_hd() {
    let sizes = [(800, 600), (1920, 1080)];
    // Alone in a room of a real signaling server.
    {
        let server = crate::support::signal_server();
        let (_config, config_dir) = crate::support::synthetic_devices_config("layout-alone-config");
        let app = AppUnderTest::start_on_screen(
            &["demo"],
            &[("NATTER_BIND", "127.0.0.1"), ("NATTER_CONFIG_DIR", config_dir.as_str())],
            SCREEN,
        );
        resize(&app, 800, 600);
        app.wait_for("#open-join", Duration::from_secs(30)).click();
        app.find("#join-server").send_keys(server.url());
        app.find("#join-room").send_keys("alone");
        app.find("#join-name").send_keys("Lone user");
        app.find("#join-submit").click();
        app.wait_until("the room name in the header", Duration::from_secs(20), || {
            (app.execute("return document.getElementById('room-name').textContent", json!([])) == json!("alone"))
                .then_some(())
        });
        for (width, height) in sizes {
            resize(&app, width, height);
            let m = wait_for_layout(
                &app,
                &format!("1 tile at {width}×{height}"),
                Duration::from_secs(30),
                |m| layout_problems(m, 1),
            );
            let (w, _) = size(&m["tiles"][0]);
            eprintln!("{width}×{height}, 1 tile: {w} px wide");
            assert!(
                w >= 0.4 * width as f64 && w <= 1000.0,
                "a lone tile of {w} px in a {width} px window: {m}"
            );
            wait_for_pictures(&app, 1);
            shoot(&app, &format!("layout-{width}x{height}-1-tile.png"));
        }
    }
    for remotes in [3, 5, 8] {
        let tiles = remotes + 1;
        let app = AppUnderTest::start_on_screen(&["demo", "--participants", &remotes.to_string()], &[], SCREEN);
        for (width, height) in sizes {
            resize(&app, width, height);
            let m = wait_for_layout(
                &app,
                &format!("{tiles} tiles at {width}×{height}"),
                Duration::from_secs(60),
                |m| layout_problems(m, tiles),
            );
            eprintln!(
                "{width}×{height}, {tiles} tiles: {} columns of {} px",
                m["columns"],
                size(&m["tiles"][0]).0
            );
            wait_for_pictures(&app, tiles);
            shoot(&app, &format!("layout-{width}x{height}-{tiles}-tiles.png"));
        }
    }
}
