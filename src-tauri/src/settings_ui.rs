//! Commands behind the settings page, the connection-health panel, the device pickers and the
//! diagnostics export. Thin: validation, storage and probing live in `natter_settings`,
//! `natter_ice` and `natter_call::health`; this module maps them to `{ code, message }` errors.

use crate::desktop::{Shell, UiError};
use natter_call::health::{HealthMonitor, ProbeOptions, ServerHealth};
use natter_settings::{CredentialUpdate, ServerEntry, Settings};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

/// The settings page's view of the settings.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettingsView {
    pub settings: Settings,
    /// Where passwords go, in a sentence (keyring or the stated fallback).
    pub credential_storage: String,
    pub config_dir: String,
}

/// Servers read from a W3C `iceServers` JSON: entries plus their credentials, to be saved.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImportedServers {
    pub servers: Vec<ServerEntry>,
    pub credentials: Vec<CredentialUpdate>,
}

/// A camera, microphone or speaker the user can pick.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Device {
    pub id: String,
    pub label: String,
    /// A generated source (test pattern, tone), not hardware.
    pub synthetic: bool,
}

#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Devices {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub speakers: Vec<Device>,
    /// Why the lists are what they are, for the page to show.
    pub note: String,
}

fn config_dir(shell: &Shell) -> Result<&natter_settings::ConfigDir, UiError> {
    shell.config.as_ref().map_err(|e| UiError::new("no_config_dir", e))
}

fn settings_error(e: natter_settings::SettingsError) -> UiError {
    let code = match &e {
        natter_settings::SettingsError::Ice(_) => "invalid_ice_config",
        natter_settings::SettingsError::Corrupt { .. } => "settings_damaged",
        natter_settings::SettingsError::Keyring(_) => "keyring",
        _ => "settings_io",
    };
    UiError::new(code, e)
}

/// The ICE configuration saved in the settings (with credentials), for calls and the monitor.
pub(crate) fn saved_ice_config(shell: &Shell) -> Result<natter_ice::IceConfig, UiError> {
    let dir = config_dir(shell)?;
    let settings = dir.load().map_err(settings_error)?;
    dir.ice_config(&settings).map_err(settings_error)
}

#[tauri::command]
pub(crate) fn get_settings(shell: State<'_, Shell>) -> Result<SettingsView, UiError> {
    let dir = config_dir(&shell)?;
    Ok(SettingsView {
        settings: dir.load().map_err(settings_error)?,
        credential_storage: dir.secrets().describe(),
        config_dir: dir.path.display().to_string(),
    })
}

/// Save the settings (credentials go to the secret store, never to the settings file) and move
/// the running call onto the new servers. Nothing is saved if a server is invalid.
#[tauri::command]
pub(crate) async fn save_settings(shell: State<'_, Shell>, settings: Settings, credentials: Vec<CredentialUpdate>) -> Result<Settings, UiError> {
    let dir = config_dir(&shell)?.clone();
    for server in &settings.servers {
        for url in &server.urls {
            if let Some(problem) = natter_settings::url_problem(url) {
                return Err(UiError::new("invalid_ice_url", problem));
            }
        }
    }
    // Validate the whole configuration with the new credentials before writing anything.
    let mut secrets = dir.secrets().load_for(settings.servers.iter().map(|s| s.id.as_str())).map_err(settings_error)?;
    for update in &credentials {
        if let Some(credential) = &update.credential {
            secrets.insert(update.id.clone(), credential.clone());
        }
    }
    let ice = natter_settings::ice_config(&settings, &secrets).map_err(|e| UiError::new("invalid_ice_config", e))?;
    let saved = dir.save(&settings, &credentials).map_err(settings_error)?;
    shell.apply_ice_config(ice).await;
    Ok(saved)
}

/// `None` if `url` is a valid STUN/TURN URL, else the parser's message (as the CLI says it).
#[tauri::command]
pub(crate) fn check_ice_url(url: String) -> Option<String> {
    natter_settings::url_problem(&url)
}

/// Test one server entry (the page's "Test" button) over every transport its URLs name.
/// `credential: None` uses the stored one.
#[tauri::command]
pub(crate) async fn test_ice_server(shell: State<'_, Shell>, server: ServerEntry, credential: Option<String>) -> Result<Vec<ServerHealth>, UiError> {
    let dir = config_dir(&shell)?;
    let mut secrets = dir.secrets().load_for([server.id.as_str()]).map_err(settings_error)?;
    if let Some(credential) = credential.filter(|c| !c.is_empty()) {
        secrets.insert(server.id.clone(), credential);
    }
    let single = Settings { servers: vec![server], ..Settings::default() };
    let config = natter_settings::ice_config(&single, &secrets).map_err(|e| UiError::new("invalid_ice_config", e))?;
    Ok(natter_call::health::probe_all(&config, &ProbeOptions::from_env()).await)
}

#[tauri::command]
pub(crate) fn import_ice_servers(json: String) -> Result<ImportedServers, UiError> {
    let (servers, credentials) = natter_settings::import_w3c(&json, new_id).map_err(|e| UiError::new("invalid_ice_config", e))?;
    Ok(ImportedServers { servers, credentials })
}

/// The saved servers as W3C `iceServers` JSON; credentials only when asked for.
#[tauri::command]
pub(crate) fn export_ice_servers(shell: State<'_, Shell>, with_credentials: bool) -> Result<String, UiError> {
    let dir = config_dir(&shell)?;
    let settings = dir.load().map_err(settings_error)?;
    let secrets = dir.secrets().load_for(settings.servers.iter().map(|s| s.id.as_str())).map_err(settings_error)?;
    Ok(natter_settings::w3c_json(&settings.servers, &secrets, with_credentials))
}

/// Start watching the saved servers: every status change arrives on `on_event`
/// (`HealthTransition`); `ice_health_snapshot` gives the full table. Replaces the previous watch.
#[tauri::command]
pub(crate) async fn watch_ice_health(shell: State<'_, Shell>, on_event: Channel<natter_ice::monitor::HealthTransition>) -> Result<(), UiError> {
    let config = saved_ice_config(&shell)?;
    let monitor = HealthMonitor::start(&config, ProbeOptions::from_env(), natter_ice::monitor::MonitorTiming::default(), move |transition| {
        let _ = on_event.send(transition.clone());
    });
    *shell.health.lock().await = Some(monitor);
    Ok(())
}

/// The latest result per server × transport of the running health watch.
#[tauri::command]
pub(crate) async fn ice_health_snapshot(shell: State<'_, Shell>) -> Result<Vec<ServerHealth>, UiError> {
    Ok(shell.health.lock().await.as_ref().map(HealthMonitor::snapshot).unwrap_or_default())
}

/// The machine's devices (nokhwa, cpal) plus the synthetic sources calls use until capture from
/// real devices lands; the note says which is which and why a list is empty.
#[tauri::command]
pub(crate) async fn list_devices() -> Devices {
    let found = tauri::async_runtime::spawn_blocking(natter_devices::enumerate).await.unwrap_or_default();
    let synthetic = |id: &str, label: &str| Device { id: id.into(), label: label.into(), synthetic: true };
    let real = |id: &str, label: String| Device { id: id.into(), label, synthetic: false };
    let mut cameras = vec![synthetic("synthetic-camera", "Test pattern (synthetic camera)")];
    cameras.extend(found.cameras.iter().map(|c| real(&c.id, c.name.clone())));
    let mut microphones = vec![synthetic("synthetic-mic", "Tone (synthetic microphone)")];
    microphones.extend(found.microphones.iter().map(|m| real(&m.id, format!("{}{}", m.name, if m.default { " (default)" } else { "" }))));
    let speakers = found.speakers.iter().map(|s| real(&s.id, format!("{}{}", s.name, if s.default { " (default)" } else { "" }))).collect();
    let mut note = String::from("Calls send the synthetic test pattern and tone for now; capture from the devices listed here comes next.");
    if found.cameras.is_empty() {
        note.push_str(" No camera found on this machine.");
    }
    for problem in &found.problems {
        note.push_str(&format!(" {problem}."));
    }
    Devices { cameras, microphones, speakers, note }
}

/// Write a diagnostics file (settings without secrets, server health, events, stats history,
/// versions) into the config directory and return its path.
#[tauri::command]
pub(crate) async fn export_diagnostics(shell: State<'_, Shell>) -> Result<String, UiError> {
    let dir = config_dir(&shell)?.clone();
    let settings = dir.load().map_err(settings_error)?;
    let health = shell.health.lock().await.as_ref().map(|m| (m.snapshot(), m.transitions())).unwrap_or_default();
    let stats = shell.stats_history();
    let secrets = dir.secrets().load_for(settings.servers.iter().map(|s| s.id.as_str())).unwrap_or_default();
    let document = serde_json::json!({
        "natter_version": env!("CARGO_PKG_VERSION"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "written_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "settings": settings,
        "servers": health.0,
        "health_events": health.1,
        "stats_history": stats,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON");
    // Belt and braces: no stored credential may appear anywhere in the file.
    for secret in secrets.values().filter(|s| s.len() >= 3) {
        text = text.replace(secret.as_str(), "***");
    }
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let path = dir.path.join(format!("natter-diagnostics-{stamp}.json"));
    std::fs::create_dir_all(&dir.path).map_err(|e| UiError::new("settings_io", format!("cannot create {}: {e}", dir.path.display())))?;
    std::fs::write(&path, text).map_err(|e| UiError::new("settings_io", format!("cannot write {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

/// A fresh server id (random hex).
pub(crate) fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let b = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{:016x}{:08x}", a, b as u32)
}

/// TypeScript declarations of this module's command types.
#[cfg(test)]
pub(crate) fn typescript_declarations(cfg: &ts_rs::Config) -> Vec<String> {
    vec![SettingsView::decl(cfg), ImportedServers::decl(cfg), Device::decl(cfg), Devices::decl(cfg)]
}
