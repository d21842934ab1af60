//! The window: a Tauri webview showing the web UI (`ui/dist`), with the `App` as its state and
//! the commands of `commands.rs` as its only door to it.

use std::process::ExitCode;

pub fn run(demo: natter_app::DemoSetup) -> ExitCode {
    // GTK aborts the process when there is no display; say what is wrong instead.
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        eprintln!(
            "natter: no display (DISPLAY and WAYLAND_DISPLAY are unset): run it in a desktop session, under Xvfb, or use `natter headless`"
        );
        return ExitCode::from(2);
    }
    let app = natter_app::App::new(natter_app::AppOptions::from_env(demo, crate::VERSION));
    let result = tauri::Builder::default()
        .manage(app)
        .invoke_handler(crate::commands::handler())
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: cannot open the window: {e}");
            ExitCode::from(2)
        }
    }
}
