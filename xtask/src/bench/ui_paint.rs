//! `ui_paint`: what the real window paints, under Xvfb without a GPU. `natter demo
//! --render-test` with 1, 4 and 9 remote tiles (stamped 640×360 synthetic pictures scaled to the
//! tiles, no codec, no network: the window's own path), and the embedded demo call with 4
//! remote participants (`--print-painting`: real encoding and decoding in the same process, so
//! the codecs compete with the painting for the two cores). The page measures per tile the
//! frames it painted, those it never showed and capture-to-paint (sender's stamp → the page's
//! paint call); the app prints that every 2 s as JSON; the figures are the means over the lines
//! after a warm-up, of the slowest tile for fps and the worst tile for latency.

use super::figures::{Goal, Metric, ScenarioResult};
use super::runner::{Binaries, tail};
use natter_rig::display::Xvfb;
use natter_rig::{Reaped, TempDir};
use serde_json::Value;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Window start, first frames, the page's first full measuring window.
const WARM_UP: Duration = Duration::from_secs(10);
const MEASURE: Duration = Duration::from_secs(10);

/// The cases: (label, remote tiles, render test?).
const CASES: &[(&str, usize, bool)] = &[
    ("render_1", 1, true),
    ("render_4", 4, true),
    ("render_9", 9, true),
    ("call_4", 4, false),
];

pub fn run(bin: &Binaries, runs: usize) -> ScenarioResult {
    let runs = runs.min(3);
    let mut metrics = Vec::new();
    for &(label, tiles, render_test) in CASES {
        // The goals are the window's: the demo call also runs every other participant's codecs
        // on the same two cores (5 encoders and 20 decoders for 4 tiles), which a real call does not.
        let goal = match (tiles, render_test) {
            (4, true) => Some(25.0),
            (9, true) => Some(15.0),
            _ => None,
        };
        let mut fps = Metric::new(&format!("{label}_painted_fps"), "fps");
        if let Some(goal) = goal {
            fps = fps.goal(Goal::MedianAtLeast(goal));
        }
        metrics.push(fps);
        metrics.push(Metric::new(&format!("{label}_dropped_fps"), "fps"));
        let latency = Metric::new(&format!("{label}_capture_to_paint_p95_ms"), "ms");
        metrics.push(if label.starts_with("render") {
            latency.goal(Goal::MedianBelow(100.0))
        } else {
            latency
        });
        metrics.push(Metric::new(&format!("{label}_cpu_cores"), "cores"));
    }
    let mut result = ScenarioResult {
        metrics,
        ..Default::default()
    };
    for _ in 0..runs {
        for &(label, tiles, render_test) in CASES {
            match measure(bin, tiles, render_test) {
                Ok(figures) => {
                    result
                        .metric(&format!("{label}_painted_fps"))
                        .samples
                        .push(figures.painted_fps);
                    result
                        .metric(&format!("{label}_dropped_fps"))
                        .samples
                        .push(figures.dropped_fps);
                    if let Some(p95) = figures.capture_to_paint_p95_ms {
                        result
                            .metric(&format!("{label}_capture_to_paint_p95_ms"))
                            .samples
                            .push(p95);
                    }
                    result
                        .metric(&format!("{label}_cpu_cores"))
                        .samples
                        .push(figures.cpu_cores);
                }
                Err(e) => result.failures.push(format!("{label}: {e}")),
            }
        }
    }
    result.notes.push(format!(
        "at most 3 runs; each case: the window (default size) on a private Xvfb 1280x800, {}s warm-up, then the page's own figures over {}s; painted fps of the slowest remote tile, capture→paint p95 of the worst (stamped frames only: the call's are stamped by the synthetic cameras); cpu = natter and WebKit's processes over the same {}s",
        WARM_UP.as_secs(),
        MEASURE.as_secs(),
        MEASURE.as_secs()
    ));
    result
}

struct Figures {
    painted_fps: f64,
    dropped_fps: f64,
    capture_to_paint_p95_ms: Option<f64>,
    cpu_cores: f64,
}

fn measure(bin: &Binaries, tiles: usize, render_test: bool) -> Result<Figures, String> {
    let work = TempDir::new("bench-ui-paint");
    let display = std::panic::catch_unwind(|| Xvfb::start(&work)).map_err(|_| "Xvfb did not start".to_string())?;
    let participants = tiles.to_string();
    let mut args = vec!["demo", "--participants", &participants, "--json"];
    args.push(if render_test {
        "--render-test"
    } else {
        "--print-painting"
    });
    let mut command = Command::new(&bin.natter);
    command
        .args(&args)
        .env("DISPLAY", display.name())
        .env("NATTER_CONFIG_DIR", work.path("config"))
        .env("NATTER_LOG_DIR", work.path("logs"))
        // No GPU, no DMA-BUF under Xvfb; no audio server to wait for.
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("NO_AT_BRIDGE", "1")
        .env("JACK_NO_START_SERVER", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(work.path("natter.log")).map_err(|e| e.to_string())?);
    let mut app = Reaped::spawn_group("natter demo", &mut command, "cargo build -p natter");
    let pid = app.id();
    let stdout = app.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let log = || tail(&std::fs::read_to_string(work.path("natter.log")).unwrap_or_default());
    // Warm-up: the window opens and the tiles fill.
    let mut measured_from = None;
    let mut cpu_before = 0.0;
    let mut samples: Vec<Vec<Value>> = Vec::new();
    while started.elapsed() < WARM_UP + MEASURE + Duration::from_secs(1) {
        if app.has_exited() {
            return Err(format!("natter demo exited; log:\n{}", log()));
        }
        if measured_from.is_none() && started.elapsed() >= WARM_UP {
            measured_from = Some(Instant::now());
            cpu_before = tree_cpu_s(pid);
        }
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok((at, line)) if measured_from.is_some_and(|from| at >= from) => {
                let value: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
                let remote: Vec<Value> = value["painted"]
                    .as_array()
                    .map(|tiles| tiles.iter().filter(|t| t["tile_id"] != "local").cloned().collect())
                    .unwrap_or_default();
                samples.push(remote);
            }
            _ => {}
        }
    }
    let cpu_s = tree_cpu_s(pid) - cpu_before;
    let window_s = measured_from.map(|from| from.elapsed().as_secs_f64()).unwrap_or(1.0);
    drop(app);
    let complete: Vec<&Vec<Value>> = samples.iter().filter(|s| s.len() == tiles).collect();
    if complete.is_empty() {
        return Err(format!(
            "the page reported no {tiles} painting tiles ({} lines); log:\n{}",
            samples.len(),
            log()
        ));
    }
    let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let per_line = |field: &str, pick: fn(f64, f64) -> f64| -> Vec<f64> {
        complete
            .iter()
            .filter_map(|tiles| tiles.iter().filter_map(|t| t[field].as_f64()).reduce(pick))
            .collect()
    };
    let latencies = per_line("capture_to_paint_p95_ms", f64::max);
    Ok(Figures {
        painted_fps: mean(per_line("painted_fps", f64::min)),
        dropped_fps: mean(per_line("dropped_fps", f64::max)),
        capture_to_paint_p95_ms: (!latencies.is_empty()).then(|| mean(latencies)),
        cpu_cores: cpu_s / window_s,
    })
}

/// CPU seconds (user + system) used so far by `root` and every process below it (WebKit's web,
/// network and GPU processes are the app's descendants).
fn tree_cpu_s(root: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut parents = std::collections::HashMap::new();
    let mut cpu = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, the fields follow the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(ppid), Some(utime), Some(stime)) = (fields.get(1), fields.get(11), fields.get(12)) else {
            continue;
        };
        parents.insert(pid, ppid.parse::<u32>().unwrap_or(0));
        cpu.insert(
            pid,
            (utime.parse::<f64>().unwrap_or(0.0) + stime.parse::<f64>().unwrap_or(0.0)) / ticks,
        );
    }
    let below_root = |mut pid: u32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parents.get(&pid) {
                Some(&parent) if parent != 0 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    cpu.iter().filter(|(pid, _)| below_root(**pid)).map(|(_, s)| s).sum()
}
