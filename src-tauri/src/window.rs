//! The window: a Tauri webview showing the web UI (`ui/dist`), with the `App` as its state and
//! the commands of `commands.rs` as its only door to it.

use std::process::ExitCode;

/// How `natter demo` prints what the window painted (every 2 s, on stdout).
#[derive(Debug, Clone, Copy)]
pub enum PaintingOutput {
    /// `painted: r1 29.8 fps painted, 0.2 dropped/s, capture→paint p50 21 ms p95 34 ms (webgl) | …`
    Text,
    /// `{"painted": [TilePainting, …]}`
    Json,
}

pub fn run(demo: natter_app::DemoSetup, painting: Option<PaintingOutput>) -> ExitCode {
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
        .setup(move |tauri_app| {
            if let Some(output) = painting {
                print_painting(tauri_app.handle().clone(), output);
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: cannot open the window: {e}");
            ExitCode::from(2)
        }
    }
}

/// `natter demo --render-test`: what the page painted, per tile, printed every two seconds.
fn print_painting(handle: tauri::AppHandle, output: PaintingOutput) {
    use tauri::Manager;
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(2));
            let tiles = handle.state::<natter_app::App>().painting();
            if tiles.is_empty() {
                continue;
            }
            match output {
                PaintingOutput::Text => {
                    let lines: Vec<String> = tiles.iter().map(|t| t.to_text()).collect();
                    println!("painted: {}", lines.join(" | "));
                }
                PaintingOutput::Json => println!("{}", serde_json::json!({ "painted": tiles })),
            }
        }
    });
}
