//! `cargo xtask bench`: how fast Natter connects, recovers and scales, side by side with the
//! `webrtc` crate's default settings, measured as figures (never asserted: timing goals are
//! judged in the output, not by a test).
//!
//! Builds `natter` and the measuring examples (`pc_memory`, `encode_cpu`), runs every scenario
//! (`scenarios::ALL`) `--runs` times on loopback with real coturn processes (and in network
//! namespaces for the UDP-blocked ones), and writes `<target>/bench/results.json` plus a table.

pub mod figures;
pub mod impaired;
pub mod runner;
pub mod scenarios;
pub mod ui_paint;

use figures::{ScenarioResult, Summary, round};
use runner::Binaries;
use serde_json::{Value, json};
use std::time::Instant;

pub struct Options {
    pub runs: usize,
    pub only: Vec<String>,
    pub release: bool,
}

pub fn run(options: Options) -> Result<(), String> {
    let names: Vec<&str> = if options.only.is_empty() {
        scenarios::ALL.to_vec()
    } else {
        for name in &options.only {
            if !scenarios::ALL.contains(&name.as_str()) {
                return Err(format!(
                    "no scenario `{name}`; there are: {}",
                    scenarios::ALL.join(", ")
                ));
            }
        }
        scenarios::ALL
            .iter()
            .copied()
            .filter(|s| options.only.iter().any(|o| o == s))
            .collect()
    };
    let target = crate::target_dir()?;
    let profile_dir = crate::build_for_bench(options.release)?;
    let bin = Binaries {
        natter: profile_dir.join("natter"),
        examples: profile_dir.join("examples"),
        scratch: natter_rig::TempDir::new("bench"),
    };
    let started = Instant::now();
    let mut results = serde_json::Map::new();
    let mut broken = Vec::new();
    for name in &names {
        eprintln!("bench: {name} ({} run(s))…", options.runs);
        let t = Instant::now();
        let mut result = scenarios::run(name, &bin, options.runs);
        result.seconds = t.elapsed().as_secs_f64();
        print_scenario(name, &result);
        // Missed goals are figures to read, not errors; a scenario that measured nothing is
        // broken (or could not run where it must: NATTER_REQUIRE_NETNS=1, as in CI).
        let measured = result.metrics.first().is_some_and(|m| !m.samples.is_empty());
        let skipped_where_allowed = result.skipped.is_some() && !scenarios::skip_breaks(name);
        if !measured && !skipped_where_allowed {
            broken.push(name.to_string());
        }
        results.insert(name.to_string(), result.to_json());
    }
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let document = json!({
        "runs": options.runs,
        "profile": if options.release { "release" } else { "dev" },
        "machine": machine(),
        "total_seconds": round(started.elapsed().as_secs_f64()),
        "scenarios": Value::Object(results),
    });
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!(
        "bench: {} scenario(s) in {:.0} s; figures in {}",
        names.len(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "no figures from: {} (see the failed runs above)",
            broken.join(", ")
        ))
    }
}

/// The table for one scenario: a line per metric (and its failures and notes below).
fn print_scenario(name: &str, result: &ScenarioResult) {
    if let Some(reason) = &result.skipped {
        println!("{name:<16} skipped: {reason}");
        return;
    }
    for metric in &result.metrics {
        let ours = Summary::of(&metric.samples);
        let cell = |s: Option<Summary>| match s {
            Some(s) => format!("{:>9.1} {:>9.1} {:>9.1}", s.median, s.p95, s.max),
            None => format!("{:>9} {:>9} {:>9}", "-", "-", "-"),
        };
        let defaults = metric
            .default_samples
            .as_ref()
            .and_then(|d| Summary::of(d))
            .map(|s| format!("{:>9.1}", s.median))
            .unwrap_or_else(|| format!("{:>9}", ""));
        let ratio = metric
            .ratio()
            .map(|r| format!("{r:>6.2}"))
            .unwrap_or_else(|| format!("{:>6}", ""));
        let verdict = match metric.goals_met() {
            Some(true) => format!("ok   ({})", metric.goal_text()),
            Some(false) => format!("MISS ({})", metric.goal_text()),
            None => String::new(),
        };
        println!(
            "{name:<16} {:<24} {:>5} {:>3} {} {defaults} {ratio}  {verdict}",
            metric.name,
            metric.unit,
            ours.map_or(0, |s| s.runs),
            cell(ours)
        );
    }
    for failure in &result.failures {
        println!("{name:<16} failed run: {}", failure.lines().next().unwrap_or(""));
    }
}

pub fn print_header() {
    println!(
        "{:<16} {:<24} {:>5} {:>3} {:>9} {:>9} {:>9} {:>9} {:>6}  goal",
        "scenario", "metric", "unit", "n", "median", "p95", "max", "default", "ratio"
    );
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines().find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
    });
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "os": std::env::consts::OS,
    })
}
