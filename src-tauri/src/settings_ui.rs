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
    /// The saved choice per list (an `id` above; "default" for the system's).
    pub camera: String,
    pub microphone: String,
    pub speaker: String,
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
pub(crate) async fn save_settings(
    shell: State<'_, Shell>,
    settings: Settings,
    credentials: Vec<CredentialUpdate>,
) -> Result<Settings, UiError> {
    let dir = config_dir(&shell)?.clone();
    for server in &settings.servers {
        for url in &server.urls {
            if let Some(problem) = natter_settings::url_problem(url) {
                return Err(UiError::new("invalid_ice_url", problem));
            }
        }
    }
    // Validate the whole configuration with the new credentials before writing anything.
    let mut secrets = dir
        .secrets()
        .load_for(settings.servers.iter().map(|s| s.id.as_str()))
        .map_err(settings_error)?;
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
pub(crate) async fn test_ice_server(
    shell: State<'_, Shell>,
    server: ServerEntry,
    credential: Option<String>,
) -> Result<Vec<ServerHealth>, UiError> {
    let dir = config_dir(&shell)?;
    let mut secrets = dir.secrets().load_for([server.id.as_str()]).map_err(settings_error)?;
    if let Some(credential) = credential.filter(|c| !c.is_empty()) {
        secrets.insert(server.id.clone(), credential);
    }
    let single = Settings {
        servers: vec![server],
        ..Settings::default()
    };
    let config = natter_settings::ice_config(&single, &secrets).map_err(|e| UiError::new("invalid_ice_config", e))?;
    Ok(natter_call::health::probe_all(&config, &ProbeOptions::from_env()).await)
}

#[tauri::command]
pub(crate) fn import_ice_servers(json: String) -> Result<ImportedServers, UiError> {
    let (servers, credentials) =
        natter_settings::import_w3c(&json, new_id).map_err(|e| UiError::new("invalid_ice_config", e))?;
    Ok(ImportedServers { servers, credentials })
}

/// The saved servers as W3C `iceServers` JSON; credentials only when asked for.
#[tauri::command]
pub(crate) fn export_ice_servers(shell: State<'_, Shell>, with_credentials: bool) -> Result<String, UiError> {
    let dir = config_dir(&shell)?;
    let settings = dir.load().map_err(settings_error)?;
    let secrets = dir
        .secrets()
        .load_for(settings.servers.iter().map(|s| s.id.as_str()))
        .map_err(settings_error)?;
    Ok(natter_settings::w3c_json(&settings.servers, &secrets, with_credentials))
}

/// Start watching the saved servers: every status change arrives on `on_event`
/// (`HealthTransition`); `ice_health_snapshot` gives the full table. Replaces the previous watch.
#[tauri::command]
pub(crate) async fn watch_ice_health(
    shell: State<'_, Shell>,
    on_event: Channel<natter_ice::monitor::HealthTransition>,
) -> Result<(), UiError> {
    let config = saved_ice_config(&shell)?;
    let monitor = HealthMonitor::start(
        &config,
        ProbeOptions::from_env(),
        natter_ice::monitor::MonitorTiming::default(),
        move |transition| {
            let _ = on_event.send(transition.clone());
        },
    );
    *shell.health.lock().await = Some(monitor);
    Ok(())
}

/// The latest result per server × transport of the running health watch.
#[tauri::command]
pub(crate) async fn ice_health_snapshot(shell: State<'_, Shell>) -> Result<Vec<ServerHealth>, UiError> {
    Ok(shell
        .health
        .lock()
        .await
        .as_ref()
        .map(HealthMonitor::snapshot)
        .unwrap_or_default())
}

/// Picker id of the synthetic sources, and of "whatever the system's default is".
pub(crate) const SYNTHETIC_CAMERA: &str = "synthetic-camera";
pub(crate) const SYNTHETIC_MICROPHONE: &str = "synthetic-mic";
pub(crate) const SYSTEM_DEFAULT: &str = "default";

/// The machine's devices (nokhwa, cpal), the system default and the synthetic sources, with the
/// saved choice of each; the note says why a list is empty and what that means for a call.
#[tauri::command]
pub(crate) async fn list_devices(shell: State<'_, Shell>) -> Result<Devices, UiError> {
    let found = tauri::async_runtime::spawn_blocking(natter_devices::enumerate)
        .await
        .unwrap_or_default();
    let settings = config_dir(&shell)
        .ok()
        .and_then(|dir| dir.load().ok())
        .unwrap_or_default();
    Ok(device_lists(&found, &settings))
}

fn device_lists(found: &natter_devices::Devices, settings: &Settings) -> Devices {
    let synthetic = |id: &str, label: &str| Device {
        id: id.into(),
        label: label.into(),
        synthetic: true,
    };
    let real = |id: &str, label: String| Device {
        id: id.into(),
        label,
        synthetic: false,
    };
    let system_default = |what: &str| real(SYSTEM_DEFAULT, format!("System default {what}"));
    let marked = |d: &natter_devices::AudioDevice| {
        real(
            &d.id,
            format!("{}{}", d.name, if d.default { " (default)" } else { "" }),
        )
    };
    let mut cameras = vec![system_default("camera")];
    cameras.extend(found.cameras.iter().map(|c| real(&c.id, c.name.clone())));
    cameras.push(synthetic(SYNTHETIC_CAMERA, "Test pattern (synthetic camera)"));
    let mut microphones = vec![system_default("microphone")];
    microphones.extend(found.microphones.iter().map(marked));
    microphones.push(synthetic(SYNTHETIC_MICROPHONE, "Tone (synthetic microphone)"));
    let mut speakers = vec![system_default("speaker")];
    speakers.extend(found.speakers.iter().map(marked));
    let mut note = String::new();
    if found.cameras.is_empty() {
        note.push_str("No camera found: you join calls without video (the others still see your name). ");
    }
    if found.microphones.is_empty() {
        note.push_str("No microphone found: you join calls without sound. ");
    }
    if found.speakers.is_empty() {
        note.push_str("No speaker found: you cannot hear the others. ");
    }
    for problem in &found.problems {
        note.push_str(&format!("{problem}. "));
    }
    let chosen = |setting: &Option<String>| setting.clone().unwrap_or_else(|| SYSTEM_DEFAULT.into());
    Devices {
        cameras,
        microphones,
        speakers,
        note: note.trim_end().to_string(),
        camera: chosen(&settings.camera),
        microphone: chosen(&settings.microphone),
        speaker: chosen(&settings.speaker),
    }
}

/// How often the machine's devices are listed again while the page watches them.
const DEVICE_POLL: std::time::Duration = std::time::Duration::from_secs(4);

/// Hot-plug: send the device lists on `on_change` now and whenever a device appears or
/// disappears (listed every `DEVICE_POLL`; no platform notification API is used). Stops when the
/// page goes away.
#[tauri::command]
pub(crate) async fn watch_devices(shell: State<'_, Shell>, on_change: Channel<Devices>) -> Result<(), UiError> {
    let dir = config_dir(&shell).ok().cloned();
    tauri::async_runtime::spawn(async move {
        let mut last: Option<natter_devices::Devices> = None;
        loop {
            let found = tauri::async_runtime::spawn_blocking(natter_devices::enumerate)
                .await
                .unwrap_or_default();
            if last.as_ref() != Some(&found) {
                if last.is_some() {
                    tracing::info!(
                        cameras = found.cameras.len(),
                        microphones = found.microphones.len(),
                        speakers = found.speakers.len(),
                        "devices changed"
                    );
                }
                let settings = dir.as_ref().and_then(|d| d.load().ok()).unwrap_or_default();
                if on_change.send(device_lists(&found, &settings)).is_err() {
                    return;
                }
                last = Some(found);
            }
            tokio::time::sleep(DEVICE_POLL).await;
        }
    });
    Ok(())
}

/// The local devices the saved settings pick, for a call starting now.
pub(crate) fn saved_devices(shell: &Shell) -> natter_call::demo::LocalDevices {
    let settings = config_dir(shell)
        .ok()
        .and_then(|dir| dir.load().ok())
        .unwrap_or_default();
    natter_call::demo::LocalDevices {
        camera: source_choice(settings.camera.as_deref(), SYNTHETIC_CAMERA),
        microphone: source_choice(settings.microphone.as_deref(), SYNTHETIC_MICROPHONE),
        play_audio: true,
        speaker: settings.speaker.filter(|s| s != SYSTEM_DEFAULT),
    }
}

/// A picker id → what the capture pipeline opens: a device, "default", or `None` (synthetic).
fn source_choice(setting: Option<&str>, synthetic_id: &str) -> Option<String> {
    match setting {
        Some(id) if id == synthetic_id => None,
        Some(id) => Some(id.to_string()),
        None => Some(SYSTEM_DEFAULT.to_string()),
    }
}

/// The user picked a camera, microphone or speaker (`kind`: "camera" | "microphone" |
/// "speaker"; `id` from `list_devices`): saved, and used at once by the running call. If it
/// cannot be opened the call goes on without it and says so.
#[tauri::command]
pub(crate) async fn choose_device(shell: State<'_, Shell>, kind: String, id: String) -> Result<(), UiError> {
    let dir = config_dir(&shell)?;
    let mut settings = dir.load().map_err(settings_error)?;
    let value = (id != SYSTEM_DEFAULT).then(|| id.clone());
    match kind.as_str() {
        "camera" => settings.camera = value,
        "microphone" => settings.microphone = value,
        "speaker" => settings.speaker = value,
        other => {
            return Err(UiError::new(
                "bad_request",
                format!("unknown device kind `{other}` (camera, microphone or speaker)"),
            ));
        }
    }
    dir.save(&settings, &[]).map_err(settings_error)?;
    if let Some(call) = shell.running_call().await {
        match kind.as_str() {
            "camera" => call.use_camera(source_choice(Some(&id), SYNTHETIC_CAMERA)),
            "microphone" => call.use_microphone(source_choice(Some(&id), SYNTHETIC_MICROPHONE)),
            _ => {
                let speaker = (id != SYSTEM_DEFAULT).then_some(id);
                tauri::async_runtime::spawn_blocking(move || call.use_speaker(speaker.as_deref()))
                    .await
                    .ok();
            }
        }
    }
    Ok(())
}

/// Write a diagnostics file (settings without secrets, server health, events, stats history,
/// versions) into the config directory and return its path.
#[tauri::command]
pub(crate) async fn export_diagnostics(shell: State<'_, Shell>) -> Result<String, UiError> {
    let dir = config_dir(&shell)?.clone();
    let settings = dir.load().map_err(settings_error)?;
    let health = shell
        .health
        .lock()
        .await
        .as_ref()
        .map(|m| (m.snapshot(), m.transitions()))
        .unwrap_or_default();
    let stats = shell.stats_history();
    let secrets = dir
        .secrets()
        .load_for(settings.servers.iter().map(|s| s.id.as_str()))
        .unwrap_or_default();
    let document = serde_json::json!({
        "natter_version": crate::VERSION,
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
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = dir.path.join(format!("natter-diagnostics-{stamp}.json"));
    std::fs::create_dir_all(&dir.path)
        .map_err(|e| UiError::new("settings_io", format!("cannot create {}: {e}", dir.path.display())))?;
    std::fs::write(&path, text)
        .map_err(|e| UiError::new("settings_io", format!("cannot write {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

/// Where the app's log files are and whether detailed logs are on (the diagnostics footer).
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct LogsInfo {
    /// The log directory, if this platform has one.
    pub directory: Option<String>,
    /// "Detailed logs" is chosen (it takes effect at the next start).
    pub detailed: bool,
    /// `NATTER_LOG` / `RUST_LOG` is set and decides the level instead.
    pub overridden: bool,
}

#[tauri::command]
pub(crate) fn logs_info(shell: State<'_, Shell>) -> Result<LogsInfo, UiError> {
    let settings = config_dir(&shell)?.load().map_err(settings_error)?;
    Ok(LogsInfo {
        directory: natter_settings::log_dir().map(|d| d.display().to_string()),
        detailed: settings.detailed_logs,
        overridden: std::env::var_os("NATTER_LOG").is_some() || std::env::var_os("RUST_LOG").is_some(),
    })
}

/// Turn detailed logs on or off (saved; from the next start).
#[tauri::command]
pub(crate) fn set_detailed_logs(shell: State<'_, Shell>, on: bool) -> Result<LogsInfo, UiError> {
    let dir = config_dir(&shell)?.clone();
    let mut settings = dir.load().map_err(settings_error)?;
    settings.detailed_logs = on;
    dir.save(&settings, &[]).map_err(settings_error)?;
    logs_info(shell)
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
    vec![
        SettingsView::decl(cfg),
        ImportedServers::decl(cfg),
        Device::decl(cfg),
        Devices::decl(cfg),
        LogsInfo::decl(cfg),
    ]
}
