//! Running the built `natter` binary and the measuring examples as child processes, with what
//! they cost: wall time, CPU time (the kernel's accounting of reaped children) and peak RSS.

pub use natter_rig::streams;
use natter_rig::{Reaped, TempDir, unique};
use serde_json::Value;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The binaries the bench runs, and a scratch directory for reports and configs.
pub struct Binaries {
    pub natter: PathBuf,
    pub examples: PathBuf,
    pub scratch: TempDir,
}

/// One finished `natter headless`.
pub struct HeadlessRun {
    pub success: bool,
    pub report: Value,
    pub log: String,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_kb: u64,
}

impl Binaries {
    /// Start `natter headless ARGS --report FILE`, its log (info for Natter, warnings for the
    /// rest) on a pipe.
    fn start_headless(&self, args: &[&str], report: &std::path::Path) -> Result<std::process::Child, String> {
        Command::new(&self.natter)
            .arg("headless")
            .args(args)
            .arg("--report")
            .arg(report)
            // NATTER_BENCH_LOG: another filter for a closer look (e.g. natter_call::bwe=debug).
            .env(
                "RUST_LOG",
                std::env::var("NATTER_BENCH_LOG").unwrap_or_else(|_| "warn,natter=info,natter_call=info".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.natter.display()))
    }

    /// `natter headless ARGS --report FILE`: waits for it (at most `limit`), reads the report.
    pub fn headless(&self, args: &[&str], limit: Duration) -> Result<HeadlessRun, String> {
        self.headless_watching(args, limit, |_| {})
    }

    /// Like [`Binaries::headless`], calling `on_line` with each log line as it is written (a
    /// scenario acts on what the call says, e.g. which relay it uses).
    pub fn headless_watching(
        &self,
        args: &[&str],
        limit: Duration,
        mut on_line: impl FnMut(&str),
    ) -> Result<HeadlessRun, String> {
        let report_path = self.scratch.path(&format!("report-{}.json", unique()));
        let cpu_before = children_cpu_s();
        let started = Instant::now();
        let mut child = self.start_headless(args, &report_path)?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut log = String::new();
        let mut peak_rss_kb = 0;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            peak_rss_kb = peak_rss_kb.max(peak_rss_of(child.id()).unwrap_or(0));
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "natter headless {} still running after {limit:?}",
                    args.join(" ")
                ));
            }
            while let Ok(line) = lines.recv_timeout(Duration::from_millis(20)) {
                on_line(&line);
                log.push_str(&line);
                log.push('\n');
            }
        };
        let wall_s = started.elapsed().as_secs_f64();
        let cpu_s = children_cpu_s() - cpu_before;
        let _ = reader.join();
        for line in lines.try_iter() {
            on_line(&line);
            log.push_str(&line);
            log.push('\n');
        }
        let text =
            std::fs::read_to_string(&report_path).map_err(|e| format!("no report ({e}); log:\n{}", tail(&log)))?;
        let _ = std::fs::remove_file(&report_path);
        let report = serde_json::from_str(&text).map_err(|e| format!("report is not JSON: {e}"))?;
        Ok(HeadlessRun {
            success: status.success(),
            report,
            log,
            wall_s,
            cpu_s,
            peak_rss_kb,
        })
    }

    /// Start `natter headless ARGS --report FILE` in the background: each log line arrives with
    /// the wall-clock time it was written (to relate this process's times to another's).
    pub fn spawn_headless(&self, args: &[&str]) -> Result<Spawned, String> {
        let report = self.scratch.path(&format!("report-{}.json", unique()));
        let mut child = self.start_headless(args, &report)?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send((SystemTime::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Spawned {
            child: Reaped::new(child),
            report,
            lines,
            log: Vec::new(),
        })
    }

    /// Run an example that prints one JSON line; that line.
    pub fn example(&self, name: &str, args: &[&str]) -> Result<Value, String> {
        let program = self.examples.join(name);
        let out = Command::new(&program)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{name} {}: {}",
                args.join(" "),
                tail(&String::from_utf8_lossy(&out.stderr))
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| format!("{name} printed no JSON: {stdout}"))?;
        serde_json::from_str(line).map_err(|e| format!("{name}: {e}: {line}"))
    }

    /// A file in the scratch directory with these contents.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.scratch.path(name);
        std::fs::write(&path, contents).expect("write to the scratch directory");
        path
    }
}

/// A `natter headless` running in the background ([`Binaries::spawn_headless`]); killed on drop.
pub struct Spawned {
    child: Reaped,
    report: PathBuf,
    lines: std::sync::mpsc::Receiver<(SystemTime, String)>,
    /// Every line read so far, with when it was written.
    pub log: Vec<(SystemTime, String)>,
}

impl Spawned {
    /// Wait (at most `limit`) for a log line containing every one of `words`; when it was written.
    pub fn wait_for(&mut self, words: &[&str], limit: Duration) -> Result<SystemTime, String> {
        if let Some(at) = self.logged(words) {
            return Ok(at);
        }
        let deadline = Instant::now() + limit;
        loop {
            let (at, line) = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .map_err(|_| {
                    format!(
                        "natter never logged {words:?} within {limit:?}; log:\n{}",
                        tail(&self.text())
                    )
                })?;
            self.log.push((at, line));
            let line = &self.log.last().expect("just pushed").1;
            if words.iter().all(|w| line.contains(w)) {
                return Ok(at);
            }
        }
    }

    /// When a log line containing every one of `words` was written, among those read so far.
    pub fn logged(&self, words: &[&str]) -> Option<SystemTime> {
        self.log
            .iter()
            .find(|(_, l)| words.iter().all(|w| l.contains(w)))
            .map(|(at, _)| *at)
    }

    /// Wait (at most `limit`, then kill it) for the end, reading its whole log; whether it
    /// succeeded, and its report.
    pub fn finish(&mut self, limit: Duration) -> Result<(bool, Value), String> {
        let deadline = Instant::now() + limit;
        let status = loop {
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(20)) {
                self.log.push(line);
            }
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "natter headless still running after {limit:?}; log:\n{}",
                    tail(&self.text())
                ));
            }
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.log.push(line);
        }
        let text = std::fs::read_to_string(&self.report)
            .map_err(|e| format!("no report ({e}); log:\n{}", tail(&self.text())))?;
        let _ = std::fs::remove_file(&self.report);
        let report = serde_json::from_str(&text).map_err(|e| format!("report is not JSON: {e}"))?;
        Ok((status.success(), report))
    }

    /// The log so far, as text.
    pub fn text(&self) -> String {
        self.log.iter().map(|(_, l)| format!("{l}\n")).collect()
    }
}

/// CPU seconds (user + system) of every child this process has reaped so far (Linux: fields
/// `cutime` and `cstime` of `/proc/self/stat`, in clock ticks of 1/100 s).
fn children_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(16 - 3) + ticks(17 - 3)) / 100.0
}

/// Peak resident set size of a running process (`VmHWM`), in KiB.
fn peak_rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The last lines of a log, for error messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The largest value of `field` (a number) over every stream, if every stream has it.
pub fn slowest(report: &Value, field: &str) -> Option<f64> {
    let values: Vec<Option<f64>> = streams(report).iter().map(|(_, peer)| peer[field].as_f64()).collect();
    if values.is_empty() || values.iter().any(Option::is_none) {
        return None;
    }
    values.into_iter().flatten().reduce(f64::max)
}
