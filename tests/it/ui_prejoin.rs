//! The pre-join screen and the Devices page's device check, end to end (the real window through
//! WebDriver, the synthetic camera and microphone): with no call running, the join dialog shows a
//! moving camera preview and a level meter that follows the synthetic tone (the devices opened
//! for the preview alone, released when the dialog closes); in a call, the dialog shows the call's
//! own self view (the camera is the call's); the Devices page has the same check.
//!
//! Run: `cargo test --test it ui_prejoin:: -- --test-threads=1 --nocapture`.

use crate::support::webdriver::{AppUnderTest, screenshot_dir};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn preview(app: &AppUnderTest) -> Value {
    app.execute("return window.natterDebug.devicePreview()", json!([]))
}

/// Wait until check `index` (0: the join dialog's, 1: the Devices page's) painted `frames` more
/// pictures than `since` and its meter shows more than `level` (0–1); its state then.
fn check_moving(app: &AppUnderTest, what: &str, index: usize, since: u64, frames: u64, level: f64) -> Value {
    app.wait_until(what, WAIT, || {
        let state = preview(app);
        let painted = state["painted"][index].as_u64().unwrap_or(0);
        let shown = state["levels"][index].as_f64().unwrap_or(0.0);
        (state["running"] == true && painted >= since + frames && shown > level).then_some(state)
    })
}

#[test]
fn the_join_dialog_previews_the_devices_without_a_call_and_the_calls_own_in_one() {
    // A machine without camera or microphone: the test pattern and the tone, chosen in settings.
    let (_config, config_dir) = crate::support::synthetic_devices_config("e2e-prejoin-config");
    let app = AppUnderTest::start(
        &["demo", "--participants", "1"],
        &[("NATTER_CONFIG_DIR", &config_dir), ("JACK_NO_START_SERVER", "1")],
    );
    app.set_window_size(1280, 800);
    app.wait_for(".tile[data-remote]", WAIT);

    // In a call: the dialog's check shows the call's self view, no second capture.
    app.find("#open-join").click();
    let state = check_moving(&app, "the dialog to show the call's self view", 0, 0, 10, 0.3);
    assert_eq!(state["fromCall"], true, "{state}");
    app.find("#join-cancel").click();
    app.wait_until("the preview to stop with the dialog", WAIT, || {
        (preview(&app)["running"] == false).then_some(())
    });

    // No call: the devices are opened for the preview; a moving picture and the tone's level.
    app.find("#leave").click();
    app.wait_for("#left-join", WAIT).click();
    let before = preview(&app)["painted"][0].as_u64().unwrap_or(0);
    let state = check_moving(&app, "the pre-join preview to move with a level", 0, before, 15, 0.3);
    assert_eq!(state["fromCall"], false, "{state}");
    let shot = screenshot_dir().join("prejoin.png");
    app.screenshot_png(&shot);
    eprintln!("pre-join screen: {} ({state})", shot.display());
    // The toggles choose how the next call starts.
    app.find("#join-mute").click();
    app.wait_until("the microphone toggle to say off", WAIT, || {
        (app.find("#join-mute").attribute("aria-pressed").as_deref() == Some("true")).then_some(())
    });
    app.find("#join-cancel").click();

    // The Devices page: the same check.
    app.find("#nav-devices").click();
    let before = preview(&app)["painted"][1].as_u64().unwrap_or(0);
    check_moving(
        &app,
        "the Devices page's preview to move with a level",
        1,
        before,
        15,
        0.3,
    );
    app.find("#nav-call").click();
    app.wait_until("the preview to stop when the page is left", WAIT, || {
        (preview(&app)["running"] == false).then_some(())
    });
}
