//! Developer tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! - `bench [--runs N] [--only a,b] [--dev]`: the benchmark (see `bench`); default 10 runs of
//!   every scenario with a release build; `--dev` uses the debug profile the tests build (CI runs
//!   `--runs 1 --dev` so the bench cannot rot without a second full build).

mod bench;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => parse_bench(&args[1..]).and_then(|options| {
            bench::print_header();
            bench::run(options)
        }),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: cargo xtask bench [--runs N] [--only SCENARIO,…] [--dev]";

fn parse_bench(args: &[String]) -> Result<bench::Options, String> {
    let mut options = bench::Options {
        runs: 10,
        only: Vec::new(),
        release: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--runs takes a number ≥ 1")?;
            }
            "--only" => {
                options.only = args
                    .next()
                    .ok_or("--only takes scenario names")?
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--dev" => options.release = false,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The workspace's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> Result<PathBuf, String> {
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".into())
}

/// Build `natter` and the bench's examples; the directory holding them.
pub fn build_for_bench(release: bool) -> Result<PathBuf, String> {
    let profile = if release { "release" } else { "dev" };
    // The whole workspace in one build: the same feature set as `cargo test --workspace`, so a
    // dev-profile bench reuses what the tests built instead of rebuilding dependencies.
    let args = [
        "build",
        "--locked",
        "--profile",
        profile,
        "--workspace",
        "--bins",
        "--examples",
    ];
    eprintln!("bench: cargo {}", args.join(" "));
    let status = Command::new(cargo())
        .args(args)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo {} failed", args.join(" ")));
    }
    Ok(target_dir()?.join(if release { "release" } else { "debug" }))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
