//! What the settings page, the ICE-server forms and the logs footer see.

use natter_settings::{CredentialUpdate, ServerEntry, Settings};
use serde::Serialize;
use ts_rs::TS;

/// The settings page's view of the settings.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub settings: Settings,
    /// Where passwords go, in a sentence (keyring or the stated fallback).
    pub credential_storage: String,
    pub config_dir: String,
}

/// Servers read from a W3C `iceServers` JSON: entries plus their credentials, to be saved.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportedServers {
    pub servers: Vec<ServerEntry>,
    pub credentials: Vec<CredentialUpdate>,
}

/// Where the app's log files are and whether detailed logs are on (the diagnostics footer).
#[derive(Debug, Clone, Serialize, TS)]
pub struct LogsInfo {
    /// The log directory, if this platform has one.
    pub directory: Option<String>,
    /// "Detailed logs" is chosen (it takes effect at the next start).
    pub detailed: bool,
    /// `NATTER_LOG` / `RUST_LOG` is set and decides the level instead.
    pub overridden: bool,
}

/// The first URL of `settings` that is not a valid STUN/TURN URL, with the parser's message.
pub(crate) fn first_url_problem(settings: &Settings) -> Option<String> {
    settings
        .servers
        .iter()
        .flat_map(|s| &s.urls)
        .find_map(|url| natter_settings::url_problem(url))
}

/// A fresh server id (random hex).
pub(crate) fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let b = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{:016x}{:08x}", a, b as u32)
}
