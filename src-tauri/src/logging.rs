//! Where logs go. Always to stderr (stdout carries the headless report and JSON output); the
//! desktop app also writes them to a daily-rotated file in the platform's log directory
//! (`natter_settings::log_dir`), keeping the last 7 days, so a user can send them in.
//!
//! Level: `NATTER_LOG` (or `RUST_LOG`, as the tests use) in `tracing` filter syntax, e.g.
//! `NATTER_LOG=debug`; otherwise "detailed logs" from the settings (debug for Natter's crates);
//! otherwise info for Natter, warnings for the libraries. Secrets cannot reach a log: they live
//! in `natter_ice::Secret`, which prints `***`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const DEFAULT: &str =
    "warn,natter=info,natter_call=info,natter_signal=info,natter_media=info,natter_ice=info,natter_devices=info";
const DETAILED: &str = "info,natter=debug,natter_call=debug,natter_signal=debug,natter_media=debug,natter_ice=debug,natter_devices=debug,natter_settings=debug";

/// Keeps the file writer's thread alive; logs still buffered are written when it drops.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Start logging. `to_file`: also write to the log directory (the desktop app).
pub fn init(to_file: bool) -> LogGuard {
    // Decided once (the settings file is read at most once); each layer gets its own filter.
    let spec = std::env::var("NATTER_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|spec| EnvFilter::try_new(spec).is_ok())
        .unwrap_or_else(|| if detailed_logs_chosen() { DETAILED } else { DEFAULT }.to_string());
    let filter = || EnvFilter::new(&spec);
    // Colours only for a terminal: a log piped to a file or a test reads better without escapes.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(stderr_writer())
        .with_ansi(colours)
        .with_filter(filter());
    let (file, guard, problem) = match to_file.then(natter_settings::log_dir).flatten() {
        Some(dir) => match file_writer(&dir) {
            Ok((writer, guard)) => (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(writer)
                        .with_filter(filter()),
                ),
                Some(guard),
                None,
            ),
            Err(e) => (
                None,
                None,
                Some(format!(
                    "cannot write logs to {}: {e}; logging to the terminal only",
                    dir.display()
                )),
            ),
        },
        None => (None, None, None),
    };
    tracing_subscriber::registry().with(stderr).with(file).init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    LogGuard(guard)
}

/// Our own copy of stderr (a dup of fd 2), so that logs stay visible while fd 2 itself is
/// pointed elsewhere (`natter devices` captures the audio libraries' chatter there).
fn stderr_writer() -> tracing_subscriber::fmt::writer::BoxMakeWriter {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return BoxMakeWriter::new(std::sync::Arc::new(std::fs::File::from(fd)));
        }
    }
    BoxMakeWriter::new(std::io::stderr)
}

fn file_writer(
    dir: &std::path::Path,
) -> Result<
    (
        tracing_appender::non_blocking::NonBlocking,
        tracing_appender::non_blocking::WorkerGuard,
    ),
    String,
> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("natter")
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir)
        .map_err(|e| e.to_string())?;
    Ok(tracing_appender::non_blocking(appender))
}

/// The "detailed logs" setting (false when there are no settings yet or they cannot be read).
fn detailed_logs_chosen() -> bool {
    natter_settings::ConfigDir::locate()
        .ok()
        .and_then(|dir| dir.load().ok())
        .is_some_and(|s| s.detailed_logs)
}
