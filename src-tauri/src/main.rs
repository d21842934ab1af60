//! `natter`: the one binary. A thin command line over the library crates; every branch forwards to
//! `natter-call`, `natter-signal` or the window (`window.rs`, whose commands forward to
//! `natter_app::App`). No call logic lives here.

#[cfg(test)]
mod bindings;
mod commands;
mod frame_wire;
mod logging;
mod window;

use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `natter --version`: the version and the commit it was built from (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("NATTER_COMMIT"), ")");

/// Natter: video calls with connectivity you can see and trust.
#[derive(Debug, Parser)]
#[command(
    name = "natter",
    version = VERSION,
    about,
    propagate_version = true,
    after_help = "Without a command, natter opens the window with the embedded demo call (as `natter demo`); \
                  join a room from there, or run `natter headless` for a call without a window."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the window with an embedded call: in-process signaling and synthetic participants.
    Demo(DemoArgs),
    /// No window: N participants call each other with synthetic media and report what happened (JSON).
    Headless(Box<HeadlessArgs>),
    /// Run a standalone signaling server (WebSocket + JSON) for app instances to meet in rooms.
    SignalServer {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
    },
    /// List the cameras, microphones and speakers this machine has (and why a list is empty).
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Test every STUN/TURN server of an ICE configuration over each of its transports.
    Probe {
        /// ICE servers as W3C RTCConfiguration JSON.
        #[arg(long, value_name = "FILE")]
        ice_config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Extra CA certificates (PEM) to trust for turns:/stuns: servers.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
    },
}

/// `natter demo` options.
#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Synthetic remote participants in the embedded call.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=12))]
    participants: u16,
    /// Fix the size of the video frames sent to the window per tile (WIDTHxHEIGHT; for
    /// measurements). Without it, frames are scaled to the size the window draws its tiles at.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    tile: Option<(u32, u32)>,
    /// Measure the window's render path alone: tiles of synthetic frames at 30 fps, no codec, no
    /// network (the page counts frames drawn per tile in `window.natterDebug`).
    #[arg(long)]
    render_test: bool,
    /// Print every 2 s what the window painted per tile (fps, frames not shown, capture→paint);
    /// on with --render-test.
    #[arg(long)]
    print_painting: bool,
    /// Print those lines as JSON (one object per line: {"painted": [TilePainting…]}).
    #[arg(long)]
    json: bool,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}` is not WIDTHxHEIGHT (e.g. 640x360)"))?;
    let w: u32 = w.parse().map_err(|_| format!("`{w}` is not a width"))?;
    let h: u32 = h.parse().map_err(|_| format!("`{h}` is not a height"))?;
    if !(16..=1920).contains(&w) || !(16..=1080).contains(&h) || w % 2 == 1 || h % 2 == 1 {
        return Err(format!("{w}x{h}: width and height must be even, 16–1920 × 16–1080"));
    }
    Ok((w, h))
}

#[derive(Debug, clap::Args)]
struct HeadlessArgs {
    /// Participants run in this process (full mesh).
    #[arg(long, value_name = "N", default_value_t = 2)]
    participants: usize,
    /// How long the call lasts once everyone expected is in the room, in seconds.
    #[arg(long, value_name = "SECS", default_value = "8", value_parser = parse_seconds)]
    duration: Duration,
    /// ICE servers as W3C RTCConfiguration JSON (`{"iceServers":[{"urls":[…],"username":…,"credential":…}]}`).
    #[arg(long, value_name = "FILE")]
    ice_config: Option<PathBuf>,
    /// Use relayed (TURN) paths only (ICE transport policy "relay").
    #[arg(long)]
    relay_only: bool,
    /// External signaling server (ws://host:port) instead of the in-process one.
    #[arg(long, value_name = "URL")]
    signal: Option<String>,
    /// Room to join (default "natter").
    #[arg(long, value_name = "NAME")]
    room: Option<String>,
    /// The room's secret: a room opened with one refuses anyone without it (`NATTER_ROOM_SECRET`
    /// keeps it off the command line, where other users of the machine could see it).
    #[arg(long, value_name = "SECRET", env = "NATTER_ROOM_SECRET", hide_env_values = true, value_parser = parse_room_secret)]
    room_secret: Option<natter_signal::protocol::RoomSecret>,
    /// Participants expected in the room across all processes (default: --participants).
    #[arg(long, value_name = "N")]
    expect: Option<usize>,
    /// Write the JSON report to FILE (default: print it to stdout).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Local IP address for ICE sockets (default 127.0.0.1, or all interfaces with --signal).
    #[arg(long, value_name = "IP")]
    bind: Option<IpAddr>,
    /// Run the WebRTC stack as the `webrtc` crate comes: its default timers, no ICE restarts
    /// or media watch of ours (for comparisons).
    #[arg(long)]
    stack_defaults: bool,
    /// Play what the first participant hears on this output device (a name from `natter
    /// devices`, or "default"). Without it, audio is received and counted, not played.
    #[arg(long, value_name = "DEVICE")]
    speaker: Option<String>,
    /// The first participant captures audio from this input device instead of the synthetic
    /// tone. If it cannot be opened, that participant sends no audio and says why.
    #[arg(long, value_name = "DEVICE")]
    microphone: Option<String>,
    /// The first participant sends video from this camera ("default": the first one). Without
    /// a camera it joins receive-only for video and tells the others.
    #[arg(long, value_name = "DEVICE")]
    camera: Option<String>,
    /// End the call as soon as every pair is connected and decodes video, waiting at most
    /// --duration (to measure how fast calls come up).
    #[arg(long)]
    until_connected: bool,
}

/// The secret goes straight into its redacting type (`Debug` prints `***`).
fn parse_room_secret(text: &str) -> Result<natter_signal::protocol::RoomSecret, String> {
    if text.is_empty() {
        return Err("a room secret cannot be empty".into());
    }
    Ok(natter_signal::protocol::RoomSecret(text.to_string()))
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a valid duration"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The window writes a log file users can send in; command-line tools log to stderr only.
    let windowed = matches!(cli.command, None | Some(Command::Demo(_)));
    let _logs = logging::init(windowed);
    match cli.command {
        // For now the bare app runs the same embedded demo call as `natter demo`; joining a real
        // room from the window comes with the full UI.
        None => window::run(natter_app::DemoSetup::default(), None),
        Some(Command::Demo(args)) => {
            let print = (args.render_test || args.print_painting).then_some(if args.json {
                window::PaintingOutput::Json
            } else {
                window::PaintingOutput::Text
            });
            let setup = natter_app::DemoSetup {
                remote_participants: args.participants.into(),
                tile: args.tile,
                render_test: args.render_test,
            };
            window::run(setup, print)
        }
        Some(Command::Headless(args)) => headless(*args),
        Some(Command::SignalServer { listen }) => signal_server(listen),
        Some(Command::Probe {
            ice_config,
            json,
            ca_file,
        }) => probe(&ice_config, json, ca_file),
        Some(Command::Devices { json }) => {
            // alsa-lib and libjack print their chatter to fd 2: captured, logged at debug level.
            let devices = natter_devices::enumerate_quietly();
            if json {
                println!("{}", serde_json::to_string_pretty(&devices).expect("devices serialize"));
            } else {
                print!("{}", devices.to_text());
            }
            ExitCode::SUCCESS
        }
    }
}

/// A tokio runtime for the windowless commands (no GTK, no Tauri).
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("natter: cannot start the async runtime: {e}");
        ExitCode::from(2)
    })
}

fn headless(args: HeadlessArgs) -> ExitCode {
    use natter_call::headless::{HeadlessOptions, run};
    let options = HeadlessOptions {
        participants: args.participants,
        duration: args.duration,
        ice_config: args.ice_config,
        relay_only: args.relay_only,
        signal_url: args.signal,
        room: args.room,
        room_secret: args.room_secret,
        expect_total: args.expect,
        report_path: args.report.clone(),
        bind: args.bind,
        stack_defaults: args.stack_defaults,
        speaker: args.speaker,
        microphone: args.microphone,
        camera: args.camera,
        until_connected: args.until_connected,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(run(options)) {
        Ok(report) => {
            if args.report.is_none() {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!("natter: {}", report.reason.as_deref().unwrap_or("the call failed"));
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("natter: {e}");
            ExitCode::from(2)
        }
    }
}

/// `natter probe`: exit 0 if every configured transport kind has a working server, 1 if not,
/// 2 if the configuration cannot be used.
fn probe(ice_config: &std::path::Path, json: bool, ca_file: Option<PathBuf>) -> ExitCode {
    use natter_call::health;
    let config = match health::load_ice_config(ice_config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("natter: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut options = health::ProbeOptions::from_env();
    if ca_file.is_some() {
        options.extra_ca_file = ca_file;
    }
    let results = rt.block_on(health::probe_all(&config, &options));
    if json {
        println!("{}", serde_json::to_string_pretty(&results).expect("results serialize"));
    } else {
        print!("{}", health::format_table(&results));
    }
    if !results.is_empty() && health::every_transport_kind_works(&results) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn signal_server(listen: SocketAddr) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(natter_signal::server::serve(listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_says_that_plain_natter_opens_the_window() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Without a command, natter opens the window"), "{help}");
        assert!(Cli::try_parse_from(["natter"]).unwrap().command.is_none());
    }

    #[test]
    fn headless_defaults_and_options() {
        let cli = Cli::try_parse_from(["natter", "headless"]).unwrap();
        let Some(Command::Headless(args)) = cli.command else {
            panic!("headless expected")
        };
        assert_eq!(args.participants, 2);
        assert_eq!(args.duration, Duration::from_secs(8));
        assert!(!args.relay_only && args.report.is_none());

        let cli = Cli::try_parse_from([
            "natter",
            "headless",
            "--participants",
            "3",
            "--duration",
            "2.5",
            "--relay-only",
            "--ice-config",
            "ice.json",
            "--signal",
            "ws://127.0.0.1:1",
            "--room",
            "r",
            "--expect",
            "4",
            "--report",
            "r.json",
        ])
        .unwrap();
        let Some(Command::Headless(args)) = cli.command else {
            panic!("headless expected")
        };
        assert_eq!(args.participants, 3);
        assert_eq!(args.duration, Duration::from_millis(2500));
        assert!(args.relay_only);
        assert_eq!(args.expect, Some(4));
        assert!(Cli::try_parse_from(["natter", "headless", "--duration", "-1"]).is_err());
    }

    #[test]
    fn signal_server_listen_default() {
        let cli = Cli::try_parse_from(["natter", "signal-server"]).unwrap();
        let Some(Command::SignalServer { listen }) = cli.command else {
            panic!()
        };
        assert_eq!(listen, "127.0.0.1:8787".parse::<std::net::SocketAddr>().unwrap());
        assert!(Cli::try_parse_from(["natter"]).unwrap().command.is_none());
    }
}
