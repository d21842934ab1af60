//! The diagnostics file a user can send in: settings, server health, its changes, the last call
//! snapshots and versions. Built from types that hold no credential (the settings file's
//! `Settings` keeps only *whether* a server has one; probes and reports carry URLs, never
//! passwords), so nothing is taken out of the text afterwards: a password that is also an
//! ordinary word leaves the rest of the file as it is.

use crate::call::StatsSample;
use natter_call::health::ServerHealth;
use natter_ice::monitor::HealthTransition;
use natter_settings::Settings;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The whole file. No field can hold a secret: do not add one whose type can.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostics {
    pub natter_version: String,
    pub os: &'static str,
    pub arch: &'static str,
    pub written_unix: u64,
    /// The same moment as the user's clock showed it ("2026-12-08 01:42:07 +01:00").
    pub written_local: String,
    pub settings: Settings,
    /// The health watch's latest result per server × transport.
    pub servers: Vec<ServerHealth>,
    /// Its status changes, oldest first.
    pub health_events: Vec<HealthTransition>,
    /// The last call snapshots (one per second), oldest first.
    pub stats_history: Vec<StatsSample>,
}

impl Diagnostics {
    /// The file's text: pretty JSON with every object's keys in alphabetical order (as the export
    /// always wrote them).
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("diagnostics serialize");
        serde_json::to_string_pretty(&value).expect("JSON")
    }

    /// Write it into `dir` as `natter-diagnostics-2026-12-08-0142.json` (`at`: the local time;
    /// `-2`, … when that name is taken); the path written.
    pub fn write_into(&self, dir: &Path, at: chrono::NaiveDateTime) -> Result<PathBuf, String> {
        crate::files::write_new(dir, "natter-diagnostics", at, &self.to_json(), false)
    }
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
