//! The window's flows without dead ends, end to end (the real window through WebDriver, a real
//! `natter signal-server`, other people as `natter headless` processes, all on loopback):
//! a join that fails keeps the call that runs and says why in the join dialog, then a corrected
//! join works; someone who joins, leaves or drops is announced (a notice that goes away by itself
//! and a line in "What happened"); the microphone and camera stay off across a room change.
//!
//! Run: `cargo test --test it ui_flows:: -- --test-threads=1 --nocapture` (needs
//! `bash scripts/install-e2e.sh`). Frames are counted with `window.natterDebug.framesDrawn`, never
//! read back from the canvases (their render path is not this module's business).

use crate::support::webdriver::{AppUnderTest, screenshot_dir};
use crate::support::{NATTER, Reaped, TempDir, free_port, read_report, streams};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const ROOM_WAIT: Duration = Duration::from_secs(60);

/// Text of every element matching `css`, read in one script.
fn texts(app: &AppUnderTest, css: &str) -> Vec<String> {
    app.execute(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
        json!([css]),
    )
    .as_array()
    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    .unwrap_or_default()
}

/// Frames drawn so far per remote tile shown now (tile id → count), read in one script.
fn remote_frames(app: &AppUnderTest) -> serde_json::Map<String, Value> {
    app.execute(
        "const drawn = window.natterDebug?.framesDrawn ?? {};
         return Object.fromEntries([...document.querySelectorAll('.tile[data-remote]')].map(t => [t.dataset.remote, drawn[t.dataset.remote] ?? 0]))",
        json!([]),
    )
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn total(frames: &serde_json::Map<String, Value>) -> u64 {
    frames.values().filter_map(Value::as_u64).sum()
}

/// Wait until `count` remote tiles are shown and each drew at least `at_least` frames more than
/// in `since` (tiles not in `since` count from zero); the counts then.
fn remote_tiles_drawing(
    app: &AppUnderTest,
    what: &str,
    count: usize,
    since: &serde_json::Map<String, Value>,
    at_least: u64,
) -> serde_json::Map<String, Value> {
    app.wait_until(what, ROOM_WAIT, || {
        let now = remote_frames(app);
        let grew = |(id, n): (&String, &Value)| {
            n.as_u64().unwrap_or(0) >= since.get(id).and_then(Value::as_u64).unwrap_or(0) + at_least
        };
        (now.len() == count && now.iter().all(grew)).then_some(now)
    })
}

/// The window, with its demo call, ICE on loopback.
fn window(config_dir: &str) -> AppUnderTest {
    let app = AppUnderTest::start(
        &["demo"],
        &[("NATTER_BIND", "127.0.0.1"), ("NATTER_CONFIG_DIR", config_dir)],
    );
    app.set_window_size(1280, 800);
    app
}

/// Another person in `room`: a `natter headless` participant ("headless-1") that stays
/// `duration` s once `expect` participants are in the room, then leaves and writes its report.
fn other(url: &str, room: &str, expect: usize, duration: u32, report: PathBuf) -> (Reaped, PathBuf) {
    let child = std::process::Command::new(NATTER)
        .args(["headless", "--participants", "1", "--bind", "127.0.0.1"])
        .args(["--expect", &expect.to_string(), "--duration", &duration.to_string()])
        .args(["--signal", url, "--room", room, "--report"])
        .arg(&report)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start natter headless");
    (Reaped::new(child), report)
}

/// "Join a room…", the fields filled as given (cleared first), Join.
fn join_from_dialog(app: &AppUnderTest, server: &str, room: &str) {
    if !app.find("#join-panel").is_displayed() {
        app.find("#open-join").click();
    }
    for (field, value) in [
        ("#join-server", server),
        ("#join-room", room),
        ("#join-name", "Window user"),
    ] {
        let input = app.wait_for(field, Duration::from_secs(10));
        input.clear();
        input.send_keys(value);
    }
    app.find("#join-submit").click();
}

fn wait_for_room(app: &AppUnderTest, room: &str) {
    app.wait_until(&format!("the room name `{room}` in the header"), ROOM_WAIT, || {
        (texts(app, "#room-name").concat() == room).then_some(())
    });
}

fn wait_for_exit(child: &mut Reaped, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "{what} still running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_failed_join_keeps_the_call_and_says_why_in_the_dialog_then_a_good_join_works() {
    let server = crate::support::signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("e2e-flows-join");
    let (_config, config_dir) = crate::support::synthetic_devices_config("e2e-flows-join-config");
    let app = window(&config_dir);

    // The demo call runs: its two remote tiles draw.
    let demo = remote_tiles_drawing(&app, "the demo's two remote tiles drawing", 2, &Default::default(), 20);

    // A server nobody runs: refused before the demo is touched.
    let closed = format!("ws://127.0.0.1:{}", free_port());
    join_from_dialog(&app, &closed, "flows-a");
    let error = app.wait_until("the reason in the join dialog", Duration::from_secs(30), || {
        let error = app.find("#join-error");
        (error.is_displayed() && !error.text().is_empty()).then(|| error.text())
    });
    eprintln!("the dialog says: {error}");
    assert!(
        error.contains("cannot reach the signaling server") && error.contains(&closed),
        "{error}"
    );
    let state = app.execute(
        "return [document.activeElement.id, document.getElementById('join-server').getAttribute('aria-invalid'),
                 document.getElementById('join-room').value, document.getElementById('join-panel').hidden,
                 document.getElementById('left').hidden, document.getElementById('room-name').textContent]",
        json!([]),
    );
    assert_eq!(
        state,
        json!(["join-server", "true", "flows-a", false, true, "demo"]),
        "[focus, server marked invalid, room kept, dialog hidden, left screen hidden, room shown]"
    );
    app.screenshot_png(&screenshot_dir().join("join-failed.png"));
    // The same tiles go on drawing: the call that ran was not left.
    let after = remote_tiles_drawing(
        &app,
        "the demo's tiles still drawing after the failed join",
        2,
        &demo,
        20,
    );
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        demo.keys().collect::<Vec<_>>(),
        "the same participants"
    );
    eprintln!(
        "demo tiles drew {} → {} frames across the failed join",
        total(&demo),
        total(&after)
    );

    // Corrected: the room, with Ann in it.
    let (_ann, _) = other(&url, "flows-a", 2, 40, dir.path("ann.json"));
    join_from_dialog(&app, &url, "flows-a");
    wait_for_room(&app, "flows-a");
    let room = remote_tiles_drawing(&app, "Ann's tile drawing", 1, &Default::default(), 20);
    assert!(!room.keys().any(|id| demo.contains_key(id)), "{room:?} {demo:?}");
    assert!(!app.find("#join-panel").is_displayed(), "the dialog closed");
    assert_eq!(texts(&app, ".tile[data-remote] .name"), ["headless-1"]);
}

#[test]
fn someone_who_joins_leaves_or_drops_is_announced_and_in_the_timeline() {
    let server = crate::support::signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("e2e-flows-presence");
    let (_config, config_dir) = crate::support::synthetic_devices_config("e2e-flows-presence-config");
    let app = window(&config_dir);
    app.wait_for("#open-join", Duration::from_secs(30));
    // Ann stays 10 s once the window is in, then leaves.
    let (mut ann, _) = other(&url, "flows-b", 2, 10, dir.path("ann.json"));
    // Every notice shown, as it appears (they go away by themselves after a few seconds).
    app.execute(
        "window.shownNotices = [];
         new MutationObserver((changes) => { for (const c of changes) for (const n of c.addedNodes) window.shownNotices.push(n.textContent); })
           .observe(document.getElementById('call-notices'), { childList: true });",
        json!([]),
    );
    join_from_dialog(&app, &url, "flows-b");
    wait_for_room(&app, "flows-b");
    remote_tiles_drawing(&app, "Ann's tile drawing", 1, &Default::default(), 10);
    let shown = |app: &AppUnderTest| -> Vec<String> {
        serde_json::from_value(app.execute("return window.shownNotices", json!([]))).unwrap_or_default()
    };
    assert!(
        !shown(&app).iter().any(|n| n == "headless-1 joined the call"),
        "Ann was there before us: {:?}",
        shown(&app)
    );

    // Bob comes in after us.
    let (mut bob, _) = other(&url, "flows-b", 3, 60, dir.path("bob.json"));
    app.wait_until("“headless-1 joined the call”", ROOM_WAIT, || {
        shown(&app)
            .iter()
            .any(|n| n == "headless-1 joined the call")
            .then_some(())
    });
    // Ann leaves when her time is up.
    wait_for_exit(&mut ann, "Ann");
    app.wait_until("“headless-1 left the call”", ROOM_WAIT, || {
        shown(&app)
            .iter()
            .any(|n| n == "headless-1 left the call")
            .then_some(())
    });
    app.screenshot_png(&screenshot_dir().join("participant-left.png"));
    // Bob drops (his process is killed): announced too.
    bob.kill().expect("kill Bob");
    app.wait_until("a second “left the call” for Bob's drop", ROOM_WAIT, || {
        (shown(&app).iter().filter(|n| *n == "headless-1 left the call").count() == 2).then_some(())
    });
    let notices = app.execute(
        "const box = document.getElementById('call-notices'); return [box.getAttribute('role'), box.getAttribute('aria-live')]",
        json!([]),
    );
    assert_eq!(notices, json!(["status", "polite"]));
    // Each notice goes away by itself.
    app.wait_until("the notices to go away", Duration::from_secs(20), || {
        texts(&app, "#call-notices .call-notice").is_empty().then_some(())
    });
    // "What happened" keeps them.
    app.find("#nav-health").click();
    let timeline = texts(&app, "#timeline li span");
    eprintln!("timeline: {timeline:?}");
    assert!(timeline.iter().any(|t| t == "You joined room flows-b"), "{timeline:?}");
    assert!(
        timeline.iter().any(|t| t == "headless-1 joined the call"),
        "{timeline:?}"
    );
    assert_eq!(
        timeline.iter().filter(|t| *t == "headless-1 left the call").count(),
        2,
        "{timeline:?}"
    );
}

#[test]
fn microphone_and_camera_stay_off_across_a_room_change() {
    let server = crate::support::signal_server();
    let url = server.url().to_string();
    let dir = TempDir::new("e2e-flows-mute");
    let (_config, config_dir) = crate::support::synthetic_devices_config("e2e-flows-mute-config");
    let app = window(&config_dir);
    app.wait_for("#open-join", Duration::from_secs(30));
    let (_ann, _) = other(&url, "flows-c1", 2, 40, dir.path("ann.json"));
    join_from_dialog(&app, &url, "flows-c1");
    wait_for_room(&app, "flows-c1");
    remote_tiles_drawing(&app, "Ann's tile drawing", 1, &Default::default(), 10);
    let controls = |app: &AppUnderTest| {
        app.execute(
            "const local = document.querySelector('.tile.local .camera-off');
             return [document.getElementById('mute').getAttribute('aria-pressed'), document.getElementById('camera').getAttribute('aria-pressed'),
                     document.getElementById('mute').textContent, !!local && !local.hidden]",
            json!([]),
        )
    };
    assert_eq!(controls(&app), json!(["false", "false", "Mute", false]));
    app.find("#mute").click();
    app.find("#camera").click();
    app.wait_until("mic and camera off in the first room", Duration::from_secs(10), || {
        (controls(&app) == json!(["true", "true", "Unmute", true])).then_some(())
    });

    // Another room, with Cy, who reports what he got from the window.
    let (mut cy, cy_report) = other(&url, "flows-c2", 2, 8, dir.path("cy.json"));
    join_from_dialog(&app, &url, "flows-c2");
    wait_for_room(&app, "flows-c2");
    assert_eq!(
        controls(&app),
        json!(["true", "true", "Unmute", true]),
        "[mute pressed, camera pressed, mute label, self view says camera off] right after the change"
    );
    remote_tiles_drawing(&app, "Cy's tile drawing", 1, &Default::default(), 10);
    assert_eq!(controls(&app), json!(["true", "true", "Unmute", true]));
    wait_for_exit(&mut cy, "Cy");
    let report = read_report(&cy_report, "");
    let peers = streams(&report);
    let window = peers
        .iter()
        .find(|(_, p)| p["remote_name"] == "Window user")
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("the window's user is not among Cy's peers: {report:#}"));
    assert_eq!(window["state"], "connected", "{window:#}");
    assert_eq!(window["remote_audio_muted"], true, "{window:#}");
    assert_eq!(window["remote_video_muted"], true, "{window:#}");
    assert_eq!(
        window["video"]["frames_decoded"].as_u64().unwrap_or(0),
        0,
        "the camera was off from the first frame: {window:#}"
    );
}
