//! `natter demo` under a real X server (Xvfb): the window opens, renders the call view, and the
//! tiles move from one screenshot to the next. Needs `xvfb`, `xdotool` and `imagemagick`
//! (`scripts/setup.sh` installs them); a missing tool fails the test with what to install.

use crate::support::{NATTER, Reaped, TempDir, Xvfb};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment that makes WebKitGTK render under Xvfb (no GPU, no DMA-BUF, possibly root).
const WEBKIT_ENV: &[(&str, &str)] = &[
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("LIBGL_ALWAYS_SOFTWARE", "1"),
    ("NO_AT_BRIDGE", "1"),
];

#[test]
fn demo_window_renders_moving_tiles() {
    let work = TempDir::new("desktop");
    let display = Xvfb::start(&work);
    let log = work.0.join("natter.log");
    let mut app = Command::new(NATTER);
    app.arg("demo")
        .env("DISPLAY", display.name())
        .env("RUST_LOG", "info")
        .envs(WEBKIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(work.0.join("natter.err.log")).unwrap());
    let mut app = Reaped::spawn_group("natter demo", &mut app, "build the natter binary first");
    let logs = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- stdout\n{}--- stderr\n{}",
            read(&log),
            read(&work.0.join("natter.err.log"))
        )
    };

    // 1. A window named Natter appears.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = tool("xdotool", &["search", "--name", "^Natter$"], &display, "xdotool");
        if found.status.success() && !found.stdout.is_empty() {
            break;
        }
        assert_running(&mut app, &logs);
        assert!(Instant::now() < deadline, "no Natter window after 60 s\n{}", logs());
        std::thread::sleep(Duration::from_millis(200));
    }

    // 2. It renders something, and what it renders changes (the tiles move). The call needs a few
    //    seconds to connect, so poll (bounded) for two screenshots 1 s apart that differ.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (a, b) = (work.0.join("shot-a.png"), work.0.join("shot-b.png"));
    let mut last;
    loop {
        screenshot(&display, &a);
        std::thread::sleep(Duration::from_secs(1));
        screenshot(&display, &b);
        // Both shots must show a rendered window (not a blank screen or a blank page), so the
        // change between them is the view updating, not the window appearing.
        let spread = std_deviation(&display, &a).min(std_deviation(&display, &b));
        let changed = differing_pixels(&display, &a, &b);
        last = format!("grey standard deviation {spread:.4}, {changed} pixels changed in 1 s");
        if spread > 0.02 && changed > 500 {
            break;
        }
        assert_running(&mut app, &logs);
        if Instant::now() >= deadline {
            let kept = work.keep();
            panic!(
                "window never showed moving tiles: {last}; screenshots kept in {}\n{}",
                kept.display(),
                logs()
            );
        }
    }
    eprintln!("desktop demo: {last}");
}

/// The app must still be running (it exits only when its window is closed).
fn assert_running(app: &mut Reaped, logs: &dyn Fn() -> String) {
    if let Ok(Some(status)) = app.try_wait() {
        panic!("natter demo exited early with {status}\n{}", logs());
    }
}

fn install_hint(tool: &str) -> &'static str {
    match tool {
        "xdotool" => "install xdotool (apt-get install xdotool), or run `bash scripts/setup.sh`",
        "import" | "compare" | "convert" => {
            "install imagemagick (apt-get install imagemagick), or run `bash scripts/setup.sh`"
        }
        _ => "see the test's documentation",
    }
}

fn tool(program: &'static str, args: &[&str], display: &Xvfb, what: &'static str) -> Output {
    match Command::new(program).args(args).env("DISPLAY", display.name()).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("`{program}` not found: {}", install_hint(what)),
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

fn screenshot(display: &Xvfb, path: &Path) {
    let out = tool(
        "import",
        &["-window", "root", path.to_str().unwrap()],
        display,
        "import",
    );
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Standard deviation of the grey levels (0 = uniform picture, nothing rendered).
fn std_deviation(display: &Xvfb, path: &Path) -> f64 {
    let out = tool(
        "convert",
        &[
            path.to_str().unwrap(),
            "-colorspace",
            "Gray",
            "-format",
            "%[fx:standard_deviation]",
            "info:",
        ],
        display,
        "convert",
    );
    assert!(
        out.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0.0)
}

/// How many pixels differ between two screenshots (ImageMagick's AE metric).
fn differing_pixels(display: &Xvfb, a: &Path, b: &Path) -> u64 {
    let out = tool(
        "compare",
        &["-metric", "AE", a.to_str().unwrap(), b.to_str().unwrap(), "null:"],
        display,
        "compare",
    );
    // compare exits 0 (same) or 1 (different) and prints the metric on stderr; 2 is an error.
    assert!(
        out.status.code() != Some(2),
        "compare failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let number = text.split_whitespace().next().unwrap_or("0");
    number.parse::<f64>().map(|n| n as u64).unwrap_or(0)
}
