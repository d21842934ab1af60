//! `natter headless`: N participants (in this process, or spread over processes through an external
//! signaling server) call each other with synthetic media and write a JSON report.

use crate::CallError;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `natter headless` (one field per command-line option).
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// Participants run in this process (`--participants`).
    pub participants: usize,
    /// How long the call lasts once everyone joined (`--duration`).
    pub duration: Duration,
    /// W3C `RTCConfiguration` JSON file (`--ice-config`).
    pub ice_config: Option<PathBuf>,
    /// ICE transport policy relay (`--relay-only`).
    pub relay_only: bool,
    /// External signaling server (`--signal ws://…`); `None` = in-process server.
    pub signal_url: Option<String>,
    /// Room name (`--room`), default "natter".
    pub room: Option<String>,
    /// Total participants expected in the room across all processes (`--expect`); default = `participants`.
    pub expect_total: Option<usize>,
    /// Where to write the JSON report (`--report`).
    pub report_path: Option<PathBuf>,
}

/// Run the headless call. `Ok(report)` even when the call failed: check `report.ok` / `report.reason`.
pub async fn run(_options: HeadlessOptions) -> Result<Report, CallError> {
    Err(CallError::WebRtc("headless mode is not built yet".into()))
}

/// The JSON report (field names are a contract: see the skeleton issue / README).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    /// One line: why `ok` is false.
    pub reason: Option<String>,
}
