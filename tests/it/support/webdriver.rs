//! End-to-end harness for the real app window: a private Xvfb display, `tauri-driver` in front of
//! `WebKitWebDriver`, and a small blocking W3C WebDriver client (HTTP + JSON over `ureq`).
//!
//! ```ignore
//! let app = AppUnderTest::start(&["demo"], &[]);
//! app.wait_for("canvas", Duration::from_secs(60));
//! let n = app.execute("return document.querySelectorAll('canvas').length", json!([]));
//! app.screenshot_png(&dir.join("call-view.png"));
//! ```
//!
//! How the pieces fit: tauri-driver (`cargo install tauri-driver --locked`) rewrites the
//! `tauri:options` capability of `POST /session` into `webkitgtk:browserOptions` and forwards
//! everything to WebKitWebDriver (Debian: `webkit2gtk-driver`), which launches the natter binary
//! with `TAURI_WEBVIEW_AUTOMATION=true` (so the webview accepts automation) and drives its webview.
//! tauri-driver has no way to pass environment variables to the app: the app inherits the
//! environment of tauri-driver → WebKitWebDriver, so DISPLAY, the WebKit variables and the
//! caller's `env` are set on tauri-driver. The app's stderr (its tracing log) is inherited the
//! same way and ends up in `tauri-driver.log` with the drivers' own messages; the app's stdout
//! is discarded by tauri-driver.
//!
//! Everything is bounded: HTTP requests time out after 60 s, waits take an explicit timeout
//! (≤ 60 s). Failures panic with the WebDriver error and the tail of that log. On drop: the
//! session is deleted (WebKitWebDriver closes the app), then every remaining process (app,
//! WebKit helpers, WebKitWebDriver, tauri-driver, Xvfb) is killed. The scratch directory with
//! the logs is kept, and its path printed, when the test is panicking.
#![allow(dead_code)]

use super::{NATTER, Reaped, TempDir, Xvfb, free_port};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment that makes WebKitGTK render under Xvfb (no GPU, no DMA-BUF, possibly root).
pub const WEBKIT_ENV: &[(&str, &str)] = &[
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("LIBGL_ALWAYS_SOFTWARE", "1"),
    ("NO_AT_BRIDGE", "1"),
];

/// Upper bound of any single wait of this harness.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
/// W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL_HINT: &str = "run `bash scripts/install-e2e.sh` (apt-get install webkit2gtk-driver xvfb; \
                            cargo install tauri-driver --locked)";

/// Where tests write screenshots: `$NATTER_SCREENSHOT_DIR`, else `<$CARGO_TARGET_DIR or target>/screenshots`
/// (relative paths are taken from the package root). Created if missing.
pub fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("NATTER_SCREENSHOT_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "target".into());
            root.join(target).join("screenshots")
        }
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create screenshot dir {}: {e}", dir.display()));
    dir
}

/// The natter app started through tauri-driver on a private Xvfb display, with one WebDriver
/// session. Everything it started is killed on drop.
pub struct AppUnderTest {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    session_id: String,
    /// The logs; kept if the test fails.
    work: TempDir,
    log: PathBuf,
    display: u32,
    // Ended in this order by `Drop::drop`: the drivers (and the app under them) first, the X
    // server last; the scratch directory goes after them.
    driver: Option<Reaped>,
    xvfb: Option<Xvfb>,
}

/// An element found in the page.
pub struct Element<'a> {
    app: &'a AppUnderTest,
    id: String,
    /// How it was found, for error messages.
    what: String,
}

/// A WebDriver error answer (or a transport failure, with `error == "http"`).
#[derive(Debug, Clone)]
pub struct WdError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.error, self.status, self.message)
    }
}

impl AppUnderTest {
    /// Starts Xvfb, tauri-driver + WebKitWebDriver and the natter binary with `args`; `env` is
    /// added to the app's environment (after DISPLAY, the WebKit variables and `RUST_LOG=info`,
    /// so it can override them). Panics, saying what to install, if a tool is missing.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> AppUnderTest {
        AppUnderTest::start_on_screen(args, env, (1280, 800))
    }

    /// `start` on an X screen of `screen` (width, height) pixels, for windows larger than the
    /// default 1280×800.
    pub fn start_on_screen(args: &[&str], env: &[(&str, &str)], screen: (u32, u32)) -> AppUnderTest {
        let tauri_driver = find_tool("tauri-driver", &[cargo_bin().join("tauri-driver")]);
        let native = find_tool("WebKitWebDriver", &[PathBuf::from("/usr/bin/WebKitWebDriver")]);

        let work = TempDir::new("e2e");
        let xvfb = Xvfb::start_sized(&work, screen.0, screen.1);
        let display = xvfb.number();

        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HTTP_TIMEOUT))
            .proxy(None)
            .build()
            .into();
        let log = work.path("tauri-driver.log");

        // tauri-driver needs two free ports; a lost race makes it exit, so retry a few times.
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let (port, native_port) = (free_port(), free_port());
            let mut command = Command::new(&tauri_driver);
            command
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                    "--native-driver",
                ])
                .arg(&native)
                .env("DISPLAY", format!(":{display}"))
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .envs(WEBKIT_ENV.iter().copied())
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(work.path("tauri-driver.out")).unwrap())
                .stderr(std::fs::File::create(&log).unwrap());
            let mut driver = Reaped::spawn_group("tauri-driver", &mut command, INSTALL_HINT);
            let base = format!("http://127.0.0.1:{port}");

            // Ready when WebKitWebDriver answers /status through tauri-driver.
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut ready = false;
            while Instant::now() < deadline {
                if driver.exited() {
                    break;
                }
                if let Ok(v) = request(&agent, "GET", &format!("{base}/status"), None)
                    && v.get("ready").and_then(Value::as_bool) == Some(true)
                {
                    ready = true;
                    break;
                }
                std::thread::sleep(POLL);
            }
            if !ready {
                last_failure = format!("tauri-driver on port {port} never became ready\n{}", log_tail(&log));
                drop(driver);
                continue;
            }

            let capabilities = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
                "application": NATTER, "args": args,
            }}}});
            match request(&agent, "POST", &format!("{base}/session"), Some(&capabilities)) {
                Ok(v) => {
                    let id = v["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no sessionId in {v}"))
                        .to_string();
                    return AppUnderTest {
                        agent,
                        session: format!("{base}/session/{id}"),
                        session_id: id,
                        work,
                        log,
                        display,
                        driver: Some(driver),
                        xvfb: Some(xvfb),
                    };
                }
                Err(e) => {
                    work.keep();
                    panic!(
                        "cannot start `{NATTER} {}` through tauri-driver: {e}\n{}",
                        args.join(" "),
                        log_tail(&log)
                    );
                }
            }
        }
        work.keep();
        panic!("{last_failure}");
    }

    /// The X display the app runs on (`:N`).
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    /// The tail of the combined log (app stderr, tauri-driver, WebKitWebDriver).
    pub fn log(&self) -> String {
        log_tail(&self.log)
    }

    /// Scratch directory holding the logs (kept if the test panics).
    pub fn work_dir(&self) -> &Path {
        &self.work.0
    }

    /// A raw WebDriver command on the session (`path` is relative to `/session/{id}`, e.g.
    /// "/title"); returns the answer's `value`.
    pub fn try_command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, WdError> {
        request(&self.agent, method, &format!("{}{path}", self.session), body)
    }

    /// Like `try_command`, panicking with the error and the app's log.
    pub fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        match self.try_command(method, path, body) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("WebDriver {method} {path} failed: {e}")),
        }
    }

    /// Panics with `what`, the state of the processes and the tail of the app's log.
    pub fn fail(&self, what: &str) -> ! {
        self.work.keep();
        panic!(
            "{what}\n--- logs in {} (tail of tauri-driver.log: app stderr + drivers)\n{}",
            self.work.0.display(),
            self.log()
        )
    }

    pub fn title(&self) -> String {
        self.command("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching a CSS selector (panics if there is none).
    pub fn find(&self, css: &str) -> Element<'_> {
        match self.try_find_all(css) {
            Ok(mut all) if !all.is_empty() => all.swap_remove(0),
            Ok(_) => self.fail(&format!("no element matches `{css}`")),
            Err(e) => self.fail(&format!("find `{css}` failed: {e}")),
        }
    }

    /// Every element matching a CSS selector (possibly none).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.try_find_all(css)
            .unwrap_or_else(|e| self.fail(&format!("find all `{css}` failed: {e}")))
    }

    fn try_find_all(&self, css: &str) -> Result<Vec<Element<'_>>, WdError> {
        let v = self.try_command(
            "POST",
            "/elements",
            Some(&json!({"using": "css selector", "value": css})),
        )?;
        Ok(self.elements(&v, css))
    }

    fn elements(&self, v: &Value, what: &str) -> Vec<Element<'_>> {
        v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT_KEY].as_str()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|id| Element {
                app: self,
                id: id.to_string(),
                what: what.to_string(),
            })
            .collect()
    }

    /// Polls (every 100 ms, at most `timeout`, capped at 60 s) until an element matches `css`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        self.wait_until(&format!("an element matching `{css}`"), timeout, || {
            self.try_find_all(css)
                .ok()
                .and_then(|mut all| (!all.is_empty()).then(|| all.swap_remove(0)))
        })
    }

    /// Polls `probe` (every 100 ms, at most `timeout`, capped at 60 s) until it returns `Some`;
    /// panics naming `what` with the app's log otherwise, or as soon as the drivers exit.
    pub fn wait_until<T>(&self, what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
        let timeout = timeout.min(MAX_WAIT);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if self.driver.as_ref().is_some_and(Reaped::has_exited) {
                self.fail(&format!("tauri-driver exited while waiting for {what}"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?} waiting for {what}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Runs a synchronous script in the page (`return …` gives the result); `args` is a JSON
    /// array (elements: `Element::to_json`).
    pub fn execute(&self, script: &str, args: Value) -> Value {
        let args = if args.is_null() { json!([]) } else { args };
        self.command("POST", "/execute/sync", Some(&json!({"script": script, "args": args})))
    }

    /// Like `execute`, returning WebDriver errors (e.g. a JavaScript exception) instead of panicking.
    pub fn try_execute(&self, script: &str, args: Value) -> Result<Value, WdError> {
        let args = if args.is_null() { json!([]) } else { args };
        self.try_command("POST", "/execute/sync", Some(&json!({"script": script, "args": args})))
    }

    /// Writes a PNG screenshot of the window's viewport to `path` (parent dirs created).
    pub fn screenshot_png(&self, path: &Path) {
        // WebKit answers a screenshot after the next presentation update; a page where nothing
        // changes (a static settings form under Xvfb, without compositing) never gets one and
        // the request hangs. A 1-pixel, nearly transparent element that changes every 50 ms
        // guarantees updates; it is invisible in the picture.
        self.execute(
            "if (!window.__natterRepaint) { const d = document.createElement('div'); \
             d.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;opacity:0.02;pointer-events:none'; \
             document.body.append(d); let n = 0; \
             window.__natterRepaint = setInterval(() => { d.style.background = (n++ % 2) ? '#000' : '#fff'; }, 50); }",
            json!([]),
        );
        let v = self.command("GET", "/screenshot", None);
        let png =
            base64_decode(v.as_str().unwrap_or_default()).unwrap_or_else(|e| self.fail(&format!("screenshot: {e}")));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Resizes the window (WebKitWebDriver supports it; the new rect is returned as JSON).
    pub fn set_window_size(&self, width: u32, height: u32) -> Value {
        self.command("POST", "/window/rect", Some(&json!({"width": width, "height": height})))
    }

    pub fn window_rect(&self) -> Value {
        self.command("GET", "/window/rect", None)
    }
}

impl Drop for AppUnderTest {
    fn drop(&mut self) {
        // Deleting the session makes WebKitWebDriver close the app; bounded by a short timeout.
        let quick: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .proxy(None)
            .build()
            .into();
        let _ = request(&quick, "DELETE", &self.session, None);
        self.driver.take(); // kills tauri-driver, WebKitWebDriver, the app and its helpers
        self.xvfb.take();
        if std::thread::panicking() {
            eprintln!(
                "e2e logs kept in {} (session {})",
                self.work.keep().display(),
                self.session_id
            );
        }
    }
}

impl<'a> Element<'a> {
    /// The W3C reference, to pass an element as a script argument.
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn cmd(&self, method: &str, rest: &str, body: Option<&Value>) -> Value {
        let path = format!("/element/{}{rest}", self.id);
        match self.app.try_command(method, &path, body) {
            Ok(v) => v,
            Err(e) => self
                .app
                .fail(&format!("WebDriver {method} {rest} on `{}` failed: {e}", self.what)),
        }
    }

    pub fn click(&self) {
        self.cmd("POST", "/click", Some(&json!({})));
    }

    pub fn send_keys(&self, text: &str) {
        self.cmd("POST", "/value", Some(&json!({"text": text})));
    }

    pub fn clear(&self) {
        self.cmd("POST", "/clear", Some(&json!({})));
    }

    /// Rendered text.
    pub fn text(&self) -> String {
        self.cmd("GET", "/text", None).as_str().unwrap_or_default().to_string()
    }

    /// An HTML attribute (None if absent).
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/attribute/{name}"), None)
            .as_str()
            .map(str::to_string)
    }

    /// A DOM property (e.g. "value", "checked", "disabled").
    pub fn property(&self, name: &str) -> Value {
        self.cmd("GET", &format!("/property/{name}"), None)
    }

    pub fn is_displayed(&self) -> bool {
        self.cmd("GET", "/displayed", None).as_bool().unwrap_or(false)
    }

    pub fn is_enabled(&self) -> bool {
        self.cmd("GET", "/enabled", None).as_bool().unwrap_or(false)
    }

    /// Descendants of this element matching `css`.
    pub fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(&json!({"using": "css selector", "value": css})),
        );
        self.app.elements(&v, css)
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn request(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Result<Value, WdError> {
    let http = |e: ureq::Error| WdError {
        status: 0,
        error: "http".into(),
        message: format!("{method} {url}: {e}"),
    };
    let mut response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("POST", Some(b)) => agent.post(url).send_json(b),
        ("POST", None) => agent.post(url).send_json(json!({})),
        _ => panic!("unsupported WebDriver method {method}"),
    }
    .map_err(http)?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .map_err(http)?;
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| WdError {
        status,
        error: "bad json".into(),
        message: format!("{e}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(500)])),
    })?;
    let value = parsed.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) && value.get("error").is_none() {
        return Ok(value);
    }
    Err(WdError {
        status,
        error: value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_string(),
        message: value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Tools

/// `name` on PATH, else the first of `fallbacks` that exists; panics with what to install.
fn find_tool(name: &str, fallbacks: &[PathBuf]) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(fallbacks.iter().cloned())
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found on PATH{}: {INSTALL_HINT}",
                if fallbacks.is_empty() {
                    String::new()
                } else {
                    format!(" nor at {fallbacks:?}")
                }
            )
        })
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
        .join("bin")
}

/// The last ~150 lines of a log, ANSI colour codes removed.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            clean.push(c);
        }
    }
    let lines: Vec<&str> = clean.lines().collect();
    let start = lines.len().saturating_sub(150);
    lines[start..].join("\n")
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, b) in text.bytes().enumerate() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return Err(format!("invalid base64 byte {b:#x} at {i}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if out.is_empty() {
        return Err("empty screenshot".into());
    }
    Ok(out)
}
