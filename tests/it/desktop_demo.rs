//! `natter demo` under a real X server (Xvfb): the window opens, renders the call view, and the
//! tiles move from one screenshot to the next. Needs `xvfb`, `xdotool` and `imagemagick`
//! (`scripts/setup.sh` installs them); a missing tool fails the test with what to install.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NATTER: &str = env!("CARGO_BIN_EXE_natter");

/// Environment that makes WebKitGTK render under Xvfb (no GPU, no DMA-BUF, possibly root).
const WEBKIT_ENV: &[(&str, &str)] = &[
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("LIBGL_ALWAYS_SOFTWARE", "1"),
    ("NO_AT_BRIDGE", "1"),
];

#[test]
fn demo_window_renders_moving_tiles() {
    let work = Scratch::new();
    let display = Xvfb::start(&work.0);
    let log = work.0.join("natter.log");
    let mut app = Command::new(NATTER);
    app.arg("demo")
        .env("DISPLAY", display.name())
        .env("RUST_LOG", "info")
        .envs(WEBKIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(work.0.join("natter.err.log")).unwrap());
    let mut app = Guard::spawn("natter demo", &mut app);
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
        app.assert_running(&logs);
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
        app.assert_running(&logs);
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

/// A scratch directory, removed on drop unless kept for a failure report.
struct Scratch(PathBuf, std::cell::Cell<bool>);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("natter-desktop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir, std::cell::Cell::new(false))
    }
    fn keep(&self) -> PathBuf {
        self.1.set(true);
        self.0.clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.1.get() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process (in its own process group) killed with its whole group on drop.
struct Guard {
    what: &'static str,
    child: Child,
}

impl Guard {
    fn spawn(what: &'static str, command: &mut Command) -> Guard {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        match command.spawn() {
            Ok(child) => Guard { what, child },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("`{what}` not found: {}", install_hint(what))
            }
            Err(e) => panic!("cannot start {what}: {e}"),
        }
    }

    fn assert_running(&mut self, logs: &dyn Fn() -> String) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early with {status}\n{}", self.what, logs());
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // The whole group (WebKit's helper processes go with the app): politely first, so Xvfb
        // removes its socket and lock file, then for sure.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn install_hint(tool: &str) -> &'static str {
    match tool {
        "Xvfb" => "install xvfb (apt-get install xvfb xauth), or run `bash scripts/setup.sh`",
        "xdotool" => "install xdotool (apt-get install xdotool), or run `bash scripts/setup.sh`",
        "import" | "compare" | "convert" => {
            "install imagemagick (apt-get install imagemagick), or run `bash scripts/setup.sh`"
        }
        _ => "build the natter binary first",
    }
}

/// A private X server on a free display number.
struct Xvfb {
    display: u32,
    _process: Guard,
}

impl Xvfb {
    fn start(work: &Path) -> Xvfb {
        let base = 100 + std::process::id() % 700;
        for display in (base..base + 200).chain(100..base) {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
            if socket.exists() || Path::new(&format!("/tmp/.X{display}-lock")).exists() {
                continue;
            }
            let mut command = Command::new("Xvfb");
            command
                .args([
                    &format!(":{display}"),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(work.join(format!("xvfb-{display}.log"))).unwrap());
            let mut process = Guard::spawn("Xvfb", &mut command);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                // The socket appears before the server answers: wait until a client can talk to it
                // (GTK aborts the app if the display is not ready yet).
                if socket.exists()
                    && Command::new("xdotool")
                        .arg("getdisplaygeometry")
                        .env("DISPLAY", format!(":{display}"))
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                {
                    return Xvfb {
                        display,
                        _process: process,
                    };
                }
                if let Ok(Some(_)) = process.child.try_wait() {
                    break; // lost a race for this display number: try the next one
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("could not start Xvfb on any display number (see {})", work.display());
    }

    fn name(&self) -> String {
        format!(":{}", self.display)
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
