//! End-to-end tests of the real app window, driven through WebDriver (tauri-driver in front of
//! WebKitWebDriver) on a private Xvfb display. Needs `tauri-driver`, `WebKitWebDriver` and `Xvfb`:
//! `bash scripts/install-e2e.sh` installs them; a missing tool fails the test saying so.
//!
//! Run: `cargo test --test it ui_e2e:: -- --nocapture` (screenshots go to `$NATTER_SCREENSHOT_DIR`,
//! else `<$CARGO_TARGET_DIR or target>/screenshots`).

use crate::support::webdriver::{AppUnderTest, screenshot_dir};
use crate::support::{Coturn, NATTER, Reaped, TempDir, read_report, streams};
use serde_json::{Value, json};
use std::time::Duration;

/// The canvases of the remote participants' tiles (the self view is `.tile.local`).
const REMOTE_TILE_CANVAS: &str = ".tile[data-remote] canvas";

/// For every canvas matching the selector (argument 0): [width, height, FNV-1a hash of its
/// pixels, number of distinct sampled colours]. The colour count tells a drawn frame from a
/// blank or uniformly filled canvas. The pixels are read through a 2D copy, whatever paints the
/// tile (WebGL, or 2D where WebGL is missing).
const CANVAS_FINGERPRINTS: &str = r#"
const out = [];
for (const c of document.querySelectorAll(arguments[0])) {
  if (!c.width || !c.height) { out.push([c.width, c.height, 0, 0]); continue; }
  const copy = document.createElement("canvas");
  copy.width = c.width; copy.height = c.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(c, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
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

/// Text of every element matching `css`, read in one script (no stale references while the page
/// re-renders between a find and a read).
fn texts(app: &AppUnderTest, css: &str) -> Vec<String> {
    let found = app.execute(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
        json!([css]),
    );
    found
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn fingerprints(app: &AppUnderTest) -> Vec<Value> {
    app.execute(CANVAS_FINGERPRINTS, json!([REMOTE_TILE_CANVAS]))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn demo_window_shows_remote_tiles_that_move() {
    let started = std::time::Instant::now();
    // Fresh settings: the user's own devices, the system defaults.
    let config = TempDir::new("e2e-demo-config");
    let config_dir = config.0.to_str().unwrap().to_string();
    let app = AppUnderTest::start(&["demo"], &[("NATTER_CONFIG_DIR", config_dir.as_str())]);
    let rect = app.set_window_size(1280, 800);
    eprintln!("session up after {:.1?}; window {rect}", started.elapsed());

    app.wait_for(REMOTE_TILE_CANVAS, Duration::from_secs(60));

    // The embedded call needs a few seconds to connect: poll (bounded) for two samples 1 s apart
    // in which every remote canvas shows a drawn picture and that picture changed.
    let mut last = String::new();
    let tiles = app.wait_until(
        "every remote tile to show moving video",
        Duration::from_secs(60),
        || {
            let a = fingerprints(&app);
            std::thread::sleep(Duration::from_secs(1));
            let b = fingerprints(&app);
            last = format!("[w, h, hash, colours] before {}, after {}", json!(a), json!(b));
            let drawn = |v: &Value| v[3].as_u64().unwrap_or(0) >= 4;
            let ok = !a.is_empty()
                && a.len() == b.len()
                && a.iter().zip(&b).all(|(x, y)| drawn(x) && drawn(y) && x[2] != y[2]);
            ok.then_some(b.len())
        },
    );
    eprintln!("{tiles} remote tile(s) moving after {:.1?}: {last}", started.elapsed());

    // Without a camera (a CI machine) the user is in the call all the same, and told why the
    // self view is dark: above the tiles, and on the self view itself.
    let has_camera = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        })
        .unwrap_or(false);
    if !has_camera {
        let said = app.wait_until("the window to say there is no camera", Duration::from_secs(15), || {
            let state = app.execute(
                "const off = document.querySelector('.tile.local .camera-off'); const notice = document.getElementById('device-notice');
                 return [off && !off.hidden ? off.textContent : '', notice.hidden ? '' : notice.textContent]",
                json!([]),
            );
            let (tile, notice) = (state[0].as_str().unwrap_or("").to_string(), state[1].as_str().unwrap_or("").to_string());
            (tile.contains("no camera found") && notice.to_lowercase().contains("camera")).then_some((tile, notice))
        });
        eprintln!("without a camera: self view {:?}, notice {:?}", said.0, said.1);
    }

    // Keyboard: arrow keys move between the tabs (and the focus follows), Enter activates.
    app.execute("document.getElementById('nav-call').focus()", json!([]));
    app.find("#nav-call").send_keys("\u{E014}"); // ArrowRight
    let state = app.execute(
        "return [document.activeElement.id, document.getElementById('page-health').hidden, document.getElementById('nav-health').getAttribute('aria-selected')]",
        json!([]),
    );
    assert_eq!(
        state,
        json!(["nav-health", false, "true"]),
        "ArrowRight on the Call tab should select Connection health"
    );
    app.find("#nav-health").send_keys("\u{E012}"); // ArrowLeft
    assert_eq!(
        app.execute("return document.activeElement.id", json!([])),
        json!("nav-call")
    );

    let shot = screenshot_dir().join("call-view.png");
    app.screenshot_png(&shot);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "screenshot {} is only {size} bytes", shot.display());
    eprintln!(
        "screenshot: {} ({size} bytes); total {:.1?}",
        shot.display(),
        started.elapsed()
    );
}

/// The settings page end to end, against a real coturn: the parser's message for a bad URL, a
/// TURN server added and tested ("ok" with an RTT), saved, visible in the health panel with the
/// call's paths, a redacted diagnostics export; after a restart the server is still listed and
/// its password is in the credentials file, not in the settings file.
#[test]
fn settings_validate_test_save_and_survive_a_restart() {
    let coturn = Coturn::start();
    let config = TempDir::new("e2e-config");
    let config_dir = config.0.to_str().unwrap().to_string();
    // The file fallback for credentials, whatever keyring this machine has (the keyring path is
    // tested in crates/natter-settings/tests/keyring.rs against a real Secret Service).
    // Logs (and the diagnostics file, without a Downloads folder) go to the scratch dir too.
    let env = [
        ("NATTER_CONFIG_DIR", config_dir.as_str()),
        ("NATTER_CREDENTIALS", "file"),
        ("NATTER_LOG_DIR", config_dir.as_str()),
    ];
    let turn_url = coturn.turn_url();
    let seconds = Duration::from_secs;

    let app = AppUnderTest::start(&["demo"], &env);
    app.set_window_size(1280, 800);
    app.wait_for("#nav-settings", seconds(30)).click();
    app.find("#add-server").click();
    let last = "#server-list .server:last-child";
    let url = app.wait_for(&format!("{last} .server-url"), seconds(10));

    // 1. A bad URL: the Rust parser's own words, and Save stays disabled.
    url.send_keys("turn:127.0.0.1:70000");
    let message = app.wait_until("the parser's message under the URL", seconds(10), || {
        let error = app.find(&format!("{last} .url-error"));
        let text = error.text();
        (error.is_displayed() && text.contains("port 70000 is out of range")).then_some(text)
    });
    eprintln!("shown: {message}");
    assert!(
        !app.find("#save-settings").is_enabled(),
        "Save must be disabled while a URL is invalid"
    );

    // 2. The real server: Test says ok with a round-trip time.
    url.clear();
    url.send_keys(&turn_url);
    app.find(&format!("{last} .server-username")).send_keys(&coturn.user);
    app.find(&format!("{last} .server-credential"))
        .send_keys(&coturn.password);
    app.wait_until("the URL to be accepted", seconds(10), || {
        (!app.find(&format!("{last} .url-error")).is_displayed()).then_some(())
    });
    app.find(&format!("{last} .test-server")).click();
    let result = app.wait_until("Test to report ok with an RTT", seconds(20), || {
        let texts = texts(&app, &format!("{last} .test-result li"));
        assert!(
            !texts.iter().any(|t| t.contains("wrong username")),
            "test failed: {texts:?}"
        );
        texts
            .into_iter()
            .find(|t| t.starts_with("UDP: ok") && t.ends_with("ms"))
    });
    eprintln!("test result: {result}");

    // 3. Save.
    app.find("#save-settings").click();
    app.wait_until("the save to be confirmed", seconds(10), || {
        texts(&app, "#save-result").concat().starts_with("Saved").then_some(())
    });
    app.screenshot_png(&screenshot_dir().join("settings.png"));

    // 4. The health panel shows the server (ok, with RTT) and the path of every participant.
    app.find("#nav-health").click();
    let row = app.wait_until("the saved server in the health panel", seconds(20), || {
        texts(&app, &format!(".server-row[data-url=\"{turn_url}\"]"))
            .into_iter()
            .next()
    });
    assert!(row.contains("ok") && row.contains("ms"), "server row: {row}");
    let paths = app.wait_until("a path for each remote participant", seconds(20), || {
        let paths = texts(&app, ".peer-card .path");
        (paths.len() == 2 && paths.iter().all(|p| p.starts_with("Direct") || p.starts_with("Relay"))).then_some(paths)
    });
    eprintln!("paths: {paths:?}");
    // Every metric of both participants has a value and a line once two samples arrived.
    let metrics = app.wait_until("every live metric to have a value and a graph", seconds(20), || {
        let values = texts(&app, ".peer-card .metric .value");
        let lines = app.execute(
            "return [...document.querySelectorAll('.spark path')].filter(p => p.getAttribute('d')).length",
            json!([]),
        );
        (values.len() == 10 && values.iter().all(|v| v != "—") && lines.as_u64() == Some(10)).then_some(values)
    });
    eprintln!("metrics: {metrics:?}");
    app.screenshot_png(&screenshot_dir().join("health.png"));

    // 5. Diagnostics: written, useful, and without the password.
    app.find("#export-diagnostics").click();
    let saved = app.wait_until("the diagnostics file", seconds(10), || {
        texts(&app, "#diagnostics-result")
            .concat()
            .strip_prefix("Saved to ")
            .map(|rest| rest.trim_end_matches(" (passwords removed)").to_string())
    });
    // A readable name (local time), and the folder one click away.
    let name = std::path::Path::new(&saved)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        name.starts_with("natter-diagnostics-2")
            && name.ends_with(".json")
            && name.len() == "natter-diagnostics-2026-12-08-0142.json".len(),
        "{saved}"
    );
    assert!(
        app.find("#show-diagnostics").is_displayed(),
        "no 'Show in folder' button"
    );
    let diagnostics = std::fs::read_to_string(&saved).expect("diagnostics file");
    assert!(
        diagnostics.contains(&turn_url) && diagnostics.contains("stats_history"),
        "{diagnostics}"
    );
    assert!(
        !diagnostics.contains(&coturn.password),
        "password in the diagnostics export"
    );
    drop(app);

    // 6. On disk: the password is kept apart from the settings.
    let settings = std::fs::read_to_string(config.path("settings.json")).expect("settings.json");
    assert!(
        settings.contains(&turn_url) && settings.contains(&coturn.user),
        "{settings}"
    );
    assert!(
        !settings.contains(&coturn.password),
        "password in settings.json:\n{settings}"
    );
    let credentials = std::fs::read_to_string(config.path("credentials.json")).expect("credentials.json");
    assert!(credentials.contains(&coturn.password));

    // 7. After a restart the server is still there, its password saved (not shown).
    let app = AppUnderTest::start(&["demo"], &env);
    app.wait_for("#nav-settings", seconds(30)).click();
    let value = app.wait_until("the saved server after a restart", seconds(20), || {
        app.find_all("#server-list .server .server-url")
            .into_iter()
            .map(|u| u.property("value"))
            .find(|v| v == &json!(turn_url))
    });
    assert_eq!(value, json!(turn_url));
    let password = app.find("#server-list .server .server-credential");
    assert_eq!(
        password.property("value"),
        json!(""),
        "the password is never sent back to the page"
    );
    assert_eq!(
        password.attribute("placeholder").as_deref(),
        Some("saved (type to replace)")
    );
}

/// "Join a room…" from the window: two other participants (headless processes, as other people's
/// machines would be) meet the window's user through a real `natter signal-server`. They stay
/// 15 s once all three are in: room for a slow (shared CI) machine to show moving tiles first.
#[test]
fn joining_a_room_from_the_window_reaches_everyone_in_it() {
    let seconds = Duration::from_secs;
    let server = crate::support::signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("e2e-join");
    let others: Vec<(Reaped, std::path::PathBuf)> = ["ann", "bob"]
        .iter()
        .map(|name| {
            let report = dir.path(&format!("{name}.json"));
            let child = std::process::Command::new(NATTER)
                .args([
                    "headless",
                    "--participants",
                    "1",
                    "--expect",
                    "3",
                    "--duration",
                    "15",
                    "--bind",
                    "127.0.0.1",
                ])
                .args(["--signal", &url, "--room", "e2e-room", "--report"])
                .arg(&report)
                // The room is locked: the window gets in only with the secret typed in its form.
                .env("NATTER_ROOM_SECRET", "e2e-secret")
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start natter headless");
            (Reaped::new(child), report)
        })
        .collect();

    // This machine may have no camera or microphone: the window's user picked the test pattern
    // and the tone in the settings, as a user can, so the others have something to decode.
    let (_config, config_dir) = crate::support::synthetic_devices_config("e2e-join-config");
    let app = AppUnderTest::start(
        &["demo"],
        &[("NATTER_BIND", "127.0.0.1"), ("NATTER_CONFIG_DIR", config_dir.as_str())],
    );
    app.set_window_size(1280, 800);
    app.wait_for("#open-join", seconds(30)).click();
    app.find("#join-server").send_keys(&url);
    app.find("#join-room").send_keys("e2e-room");
    app.find("#join-name").send_keys("Window user");
    app.find("#join-secret").send_keys("e2e-secret");
    app.find("#join-submit").click();
    app.wait_until("the room name in the header", seconds(20), || {
        (texts(&app, "#room-name").concat() == "e2e-room").then_some(())
    });
    app.wait_until("two remote tiles with moving video", seconds(60), || {
        let a = fingerprints(&app);
        std::thread::sleep(Duration::from_secs(1));
        let b = fingerprints(&app);
        let drawn = |v: &Value| v[3].as_u64().unwrap_or(0) >= 4;
        (a.len() == 2 && b.len() == 2 && a.iter().zip(&b).all(|(x, y)| drawn(x) && drawn(y) && x[2] != y[2]))
            .then_some(())
    });
    // Microphone and camera off: the buttons say so, the self view shows it, the others are told.
    app.find("#mute").click();
    app.find("#camera").click();
    app.wait_until("the controls and the self view to show mic and camera off", seconds(10), || {
        let state = app.execute(
            "return [document.querySelector('#mute').getAttribute('aria-pressed'), document.querySelector('#camera').getAttribute('aria-pressed'), !document.querySelector('.tile.local .camera-off').hidden]",
            json!([]),
        );
        (state == json!(["true", "true", true])).then_some(())
    });
    app.screenshot_png(&screenshot_dir().join("call-muted.png"));
    for (mut child, report) in others {
        let deadline = std::time::Instant::now() + seconds(60);
        while child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "headless participant still running"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let report = read_report(&report, "");
        let peers = streams(&report);
        assert_eq!(peers.len(), 2, "{report:#}");
        let window = peers
            .iter()
            .find(|(_, p)| p["remote_name"] == "Window user")
            .map(|(_, p)| p.clone());
        let window = window.unwrap_or_else(|| panic!("the window's user is not among the peers: {report:#}"));
        assert_eq!(window["state"], "connected", "{window:#}");
        assert!(
            window["video"]["frames_decoded"].as_u64().unwrap_or(0) > 20,
            "{window:#}"
        );
        assert_eq!(
            window["remote_audio_muted"], true,
            "the window's mute reached the others: {window:#}"
        );
        assert_eq!(window["remote_video_muted"], true, "{window:#}");
    }
}

/// The render path at its target load: 4 remote 640×360 tiles at 30 fps into the webview: with
/// synthetic frames (`--render-test`: channel + painting, no codec), the same counting frames on
/// arrival without painting them (the channel's share), and from the real demo call (5
/// participants encoding and decoding in this process, on this machine's cores). Prints
/// frames drawn per second per tile and writes them to `<screenshot dir>/../bench/ui-render.json`:
/// figures, not a pass/fail threshold (timing goals live in benchmarks); it asserts only that
/// every tile keeps drawing.
#[test]
fn four_360p_tiles_render_figures() {
    let mut figures = serde_json::Map::new();
    for (name, args) in [
        (
            "render_test",
            &["demo", "--participants", "4", "--tile", "640x360", "--render-test"][..],
        ),
        (
            "render_test_2d",
            &["demo", "--participants", "4", "--tile", "640x360", "--render-test"][..],
        ),
        (
            "render_test_transport_only",
            &["demo", "--participants", "4", "--tile", "640x360", "--render-test"][..],
        ),
        ("demo_call", &["demo", "--participants", "4", "--tile", "640x360"][..]),
    ] {
        let app = AppUnderTest::start(args, &[]);
        app.set_window_size(1280, 800);
        app.wait_until("four remote tiles drawing", Duration::from_secs(60), || {
            let counts = app.execute("return Object.entries(window.natterDebug?.framesDrawn ?? {}).filter(([id, n]) => id !== 'local' && n > 30).length", json!([]));
            (counts.as_u64() == Some(4)).then_some(())
        });
        if name.ends_with("_2d") {
            // The 2D canvas path (the page converts I420 itself), to compare with WebGL's.
            app.execute("window.natterDebug.useRenderer('2d')", json!([]));
        }
        if name.ends_with("transport_only") {
            // Count frames as they arrive and do not paint them: the channel's share of the cost.
            app.execute("window.natterDebug.skipDraw = true", json!([]));
        }
        let read = || app.execute("return window.natterDebug?.framesDrawn ?? {}", json!([]));
        let work = || app.execute("return window.natterDebug.paintWork()", json!([]));
        let (before, work_before) = (read(), work());
        let started = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(5));
        let (after, work_after) = (read(), work());
        let delta = |k: &str| work_after[k].as_f64().unwrap_or(0.0) - work_before[k].as_f64().unwrap_or(0.0);
        eprintln!(
            "{name}: {:.0} paint rounds, {:.1} ms of the page's painting code each",
            delta("rounds"),
            delta("ms") / delta("rounds").max(1.0)
        );
        let elapsed = started.elapsed().as_secs_f64();
        let mut fps = serde_json::Map::new();
        for (tile, count) in after.as_object().unwrap() {
            let drawn = count.as_f64().unwrap_or(0.0) - before[tile].as_f64().unwrap_or(0.0);
            fps.insert(tile.clone(), json!((drawn / elapsed * 10.0).round() / 10.0));
        }
        let remote: Vec<f64> = fps
            .iter()
            .filter(|(t, _)| t.as_str() != "local")
            .map(|(_, v)| v.as_f64().unwrap())
            .collect();
        eprintln!("{name}: frames drawn per second per tile (640x360): {}", json!(fps));
        let painting = app.execute("return window.natterDebug.painting()", json!([]));
        eprintln!("{name}: the page's paint figures: {painting}");
        assert_eq!(remote.len(), 4, "{name}: {fps:?}");
        assert!(
            remote.iter().all(|f| *f > 0.0),
            "{name}: a tile stopped drawing: {fps:?}"
        );
        let min = remote.iter().cloned().fold(f64::INFINITY, f64::min);
        figures.insert(
            name.into(),
            json!({ "fps_per_tile": fps, "min_remote_fps": min, "window_s": elapsed }),
        );
    }
    let bench = screenshot_dir().join("../bench");
    std::fs::create_dir_all(&bench).unwrap();
    let figures = json!({ "tile": "640x360", "remote_tiles": 4, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "runs": figures });
    std::fs::write(
        bench.join("ui-render.json"),
        serde_json::to_string_pretty(&figures).unwrap(),
    )
    .unwrap();
}
