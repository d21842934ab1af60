//! natter-app: the desktop app as a service. `App` owns what the window works with — the running
//! call (the demo, or a room), the settings, the ICE-server health watch, the devices and their
//! watch, the diagnostics export and the logs footer — and offers each as a plain async method.
//! No Tauri here: the shell (`src-tauri/`) forwards each command to one method and carries what
//! the methods send to the page (`CallView`, the watch callbacks) over its channels.
//!
//! Everything the page sees is a type here (exported to TypeScript by the shell's `bindings.rs`),
//! and every failure an `AppError` with an `ErrorCode` it can branch on.

mod call;
mod devices;
mod diagnostics;
mod error;
mod files;
mod painting;
mod settings;

pub use call::{CallInfo, CallKind, CallMessage, CallView, Closed, JoinRequest, MediaKind, PreviewSource, StatsSample};
pub use devices::{
    Device, Devices, SYNTHETIC_CAMERA, SYNTHETIC_MICROPHONE, SYSTEM_DEFAULT, device_lists, local_devices, source_choice,
};
pub use diagnostics::Diagnostics;
pub use error::{AppError, ErrorCode};
pub use files::ExportPlaces;
pub use natter_devices::DeviceKind;
pub use painting::TilePainting;
pub use settings::{ImportedServers, LogsInfo, SettingsView};

use call::{Flow, History, RunningCall};
use natter_call::demo::{DemoHandle, DemoOptions, RoomOptions};
use natter_call::health::{HealthMonitor, ProbeOptions, ServerHealth};
use natter_call::view::TileSize;
use natter_ice::monitor::HealthTransition;
use natter_settings::{ConfigDir, CredentialUpdate, ServerEntry, Settings};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};

/// Room name of the embedded demo call (as set by `natter_call::demo`).
const DEMO_ROOM: &str = "demo";

/// What the window's own call is when the page asks for no room (`natter demo` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSetup {
    /// Synthetic remote participants.
    pub remote_participants: usize,
    /// Size of the frames sent to the page per tile, fixed (`--tile`, for measurements); `None`:
    /// the size the page draws its tiles at.
    pub tile: Option<(u32, u32)>,
    /// Only the render path: synthetic frames, no codec, no network.
    pub render_test: bool,
}

impl Default for DemoSetup {
    fn default() -> Self {
        DemoSetup {
            remote_participants: 2,
            tile: None,
            render_test: false,
        }
    }
}

/// How the app is set up.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub demo: DemoSetup,
    /// Where settings live (`Err`: no config directory on this system, with the reason).
    pub config: Result<ConfigDir, String>,
    /// Local address for a room's ICE sockets (every interface unless told otherwise).
    pub bind: IpAddr,
    /// The version and commit, as `natter --version` says them (for the diagnostics).
    pub version: String,
    /// Where exported files (diagnostics, ICE servers) go.
    pub exports: ExportPlaces,
}

impl AppOptions {
    /// The platform's config directory (or `NATTER_CONFIG_DIR`), and `NATTER_BIND` to pin ICE
    /// sockets to one local address (the tests use 127.0.0.1).
    pub fn from_env(demo: DemoSetup, version: impl Into<String>) -> AppOptions {
        AppOptions {
            demo,
            config: ConfigDir::locate().map_err(|e| e.to_string()),
            bind: std::env::var("NATTER_BIND")
                .ok()
                .and_then(|b| b.parse().ok())
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
            version: version.into(),
            exports: ExportPlaces::from_env(),
        }
    }
}

/// The app: one per window. Every method can be called from any task of a tokio runtime.
pub struct App {
    options: AppOptions,
    call: Mutex<Option<RunningCall>>,
    flow: Arc<Flow>,
    /// The ICE-server health monitor the page watches (replaced by each `watch_ice_health`).
    health: Mutex<Option<HealthMonitor>>,
    /// The last call snapshots (one per second), for the diagnostics export.
    history: History,
    /// The size the page draws tiles at: every call's frames are scaled to it.
    tile_size: TileSize,
    /// What the page last said it painted, per tile.
    painting: std::sync::Mutex<Vec<TilePainting>>,
    /// The camera and microphone shown without a call (pre-join screen, Devices page).
    preview: Mutex<Option<call::RunningPreview>>,
    /// The user's microphone and camera buttons, kept across calls: a new call starts with them
    /// as the user left them (from its first frame).
    media_off: std::sync::Mutex<MediaOff>,
    /// The files this app wrote for the user: the only ones "Show in folder" opens.
    written: std::sync::Mutex<Vec<std::path::PathBuf>>,
}

/// What the user turned off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MediaOff {
    audio: bool,
    video: bool,
}

impl App {
    pub fn new(options: AppOptions) -> App {
        App {
            call: Mutex::new(None),
            flow: Arc::new(Flow::default()),
            health: Mutex::new(None),
            history: Arc::default(),
            tile_size: match options.demo.tile {
                Some((width, height)) => TileSize::pinned(width, height),
                None => TileSize::following(640, 360),
            },
            painting: std::sync::Mutex::default(),
            preview: Mutex::new(None),
            media_off: std::sync::Mutex::default(),
            written: std::sync::Mutex::default(),
            options,
        }
    }

    fn config_dir(&self) -> Result<&ConfigDir, AppError> {
        self.options
            .config
            .as_ref()
            .map_err(|e| AppError::new(ErrorCode::NoConfigDir, e))
    }

    /// The saved settings, or the defaults when there are none or they cannot be read (a call or
    /// a device list must not fail for that).
    fn settings_or_default(&self) -> Settings {
        self.config_dir()
            .ok()
            .and_then(|dir| dir.load().ok())
            .unwrap_or_default()
    }

    /// The ICE configuration saved in the settings (with credentials), for calls and the monitor.
    fn saved_ice_config(&self) -> Result<natter_ice::IceConfig, AppError> {
        let dir = self.config_dir()?;
        let settings = dir.load()?;
        Ok(dir.ice_config(&settings)?)
    }

    /// The call in progress, if any.
    async fn running_call(&self) -> Option<Arc<DemoHandle>> {
        self.call.lock().await.as_ref().map(|c| Arc::clone(&c.demo))
    }

    // --- the call ---------------------------------------------------------------------------

    /// Start the call the window shows (the demo, or the room in `join`) and show it on `view`.
    /// Replaces a running call, which is left only once the new one is known to be reachable:
    ///
    /// 1. the request is checked (`InvalidSignalUrl`, `MissingRoom`);
    /// 2. a room is joined on its signaling server while the current call goes on
    ///    (`SignalingUnreachable`, `RoomLocked`, `SignalingRefused`, `SignalingFailed`): on any
    ///    of these the current call is untouched and keeps being shown on its own view;
    /// 3. only then is the current call stopped and the new one started on `view`.
    ///
    /// Why not run both calls side by side until the new one has media: both would capture the
    /// same camera and microphone, which a real device often allows to only one user at a time.
    /// So the pre-flight covers what can go wrong on the way to the room (the server, the
    /// room's secret), and the devices are handed over. A failure after the hand-over (the
    /// local media cannot start) leaves no call running, and says why.
    ///
    /// The demo and the render test need no server: they replace the current call at once.
    /// The new call starts with the microphone and camera as the user left them.
    pub async fn start_call(&self, join: Option<JoinRequest>, view: Arc<dyn CallView>) -> Result<CallInfo, AppError> {
        let target = join.as_ref().map(JoinRequest::check).transpose()?;
        // The user's ICE servers; a broken settings file must not keep anyone out of a call.
        let (ice, ice_warning) = match self.saved_ice_config() {
            Ok(ice) => (ice, None),
            Err(e) => (
                natter_ice::IceConfig::default(),
                Some(format!("your ICE servers are not used: {}", e.message)),
            ),
        };
        let DemoSetup {
            remote_participants,
            tile: _,
            render_test,
        } = self.options.demo;
        let joined = match (join, target) {
            (Some(join), Some((signal_url, room, name))) => {
                let options = RoomOptions {
                    signal_url,
                    room: room.clone(),
                    room_secret: join.room_secret.filter(|s| !s.0.is_empty()),
                    name,
                    ice: ice.clone(),
                    tile_size: self.tile_size.clone(),
                    bind: self.options.bind,
                    devices: self.local_devices(),
                };
                let joined = natter_call::demo::connect_room(options).await.map_err(|e| {
                    tracing::warn!("could not join {room}; the current call goes on: {e}");
                    AppError::from(e)
                })?;
                Some((joined, room))
            }
            _ => None,
        };

        // The hand-over. The lock orders it with `set_muted`: the new call gets the latest choice.
        let mut call = self.call.lock().await;
        // The preview's camera and microphone are the call's now.
        self.stop_preview().await;
        if let Some(previous) = call.take() {
            previous.stop().await;
        }
        self.flow.reset();
        self.history.lock().unwrap().clear();
        let devices = self.local_devices();
        let off = *self.media_off.lock().unwrap();
        let (tx, rx) = mpsc::channel(64);
        let (started, room, mode) = match joined {
            Some((joined, room)) => (joined.start(devices, tx), room, CallKind::Room),
            None if render_test => {
                let handle = natter_call::demo::start_render_test(remote_participants, self.tile_size.clone(), 30, tx);
                (Ok(handle), "render test".to_string(), CallKind::RenderTest)
            }
            None => {
                let options = DemoOptions {
                    remote_participants,
                    tile_size: self.tile_size.clone(),
                    ice,
                    devices,
                };
                (
                    natter_call::demo::start_demo(options, tx).await,
                    DEMO_ROOM.to_string(),
                    CallKind::Demo,
                )
            }
        };
        let demo = started.map_err(|e| {
            tracing::error!("call failed to start: {e}");
            AppError::from(e)
        })?;
        *call = Some(RunningCall::show(
            demo,
            rx,
            view,
            Arc::clone(&self.flow),
            Arc::clone(&self.history),
        ));
        Ok(CallInfo {
            room,
            mode,
            ice_warning,
            audio_muted: off.audio,
            video_muted: off.video,
        })
    }

    /// The devices the settings pick, with the microphone and camera as the user left them.
    fn local_devices(&self) -> natter_call::demo::LocalDevices {
        let off = *self.media_off.lock().unwrap();
        natter_call::demo::LocalDevices {
            audio_off: off.audio,
            video_off: off.video,
            ..local_devices(&self.settings_or_default())
        }
    }

    /// Leave (stop) the call. Idempotent.
    pub async fn leave_call(&self) -> Result<(), AppError> {
        if let Some(call) = self.call.lock().await.take() {
            call.stop().await;
        }
        Ok(())
    }

    /// Turn the local microphone or camera off or on: in the running call (the others see it at
    /// once), in the preview, and for the calls that follow (another room, the demo, a rejoin).
    /// Without a call it is the choice the next one starts with (the pre-join screen's toggles).
    pub async fn set_muted(&self, kind: MediaKind, muted: bool) -> Result<(), AppError> {
        let call = self.call.lock().await;
        {
            let mut off = self.media_off.lock().unwrap();
            match kind {
                MediaKind::Audio => off.audio = muted,
                MediaKind::Video => off.video = muted,
            }
        }
        if let Some(call) = call.as_ref() {
            match kind {
                MediaKind::Audio => call.demo.set_audio_muted(muted),
                MediaKind::Video => call.demo.set_video_muted(muted),
            }
        }
        Ok(())
    }

    // --- the preview (pre-join screen, Devices page) -----------------------------------------

    /// Show the chosen camera and microphone without a call on `view`: the self view's frames
    /// (tile "local"), the microphone's level and device notices, until `stop_preview` or a call
    /// starts. While a call runs, its own self view and level are the preview: nothing more is
    /// opened (a camera can be busy with one user only), and the answer says so.
    pub async fn start_preview(&self, view: Arc<dyn CallView>) -> Result<PreviewSource, AppError> {
        let call = self.call.lock().await;
        let mut preview = self.preview.lock().await;
        if let Some(previous) = preview.take() {
            previous.stop().await;
        }
        if call.is_some() {
            return Ok(PreviewSource::Call);
        }
        let (tx, rx) = mpsc::channel(64);
        let sink = natter_call::media::ViewSink {
            events: tx,
            tile_size: self.tile_size.clone(),
        };
        let devices = natter_call::demo::LocalDevices {
            audio_off: false,
            video_off: false,
            ..self.local_devices()
        };
        let running = natter_call::preview::Preview::start(&devices, sink)?;
        self.flow.reset();
        *preview = Some(call::RunningPreview::show(running, rx, view, Arc::clone(&self.flow)));
        Ok(PreviewSource::Devices)
    }

    /// Stop the preview (the devices are released). Idempotent.
    pub async fn stop_preview(&self) {
        if let Some(preview) = self.preview.lock().await.take() {
            preview.stop().await;
        }
    }

    /// Play a short tone (about a second, 440 Hz, at a comfortable level) on the chosen speaker,
    /// so the user hears that it works; its name when played.
    pub async fn play_test_tone(&self) -> Result<String, AppError> {
        let speaker = local_devices(&self.settings_or_default()).speaker;
        tokio::task::spawn_blocking(move || devices::play_test_tone(speaker.as_deref()))
            .await
            .map_err(|e| AppError::new(ErrorCode::DeviceFailed, format!("the test tone stopped: {e}")))?
    }

    /// The page now draws its tiles at `width` × `height` device pixels: frames are scaled to
    /// that from the next one on (unless `--tile` fixed their size).
    pub fn set_tile_size(&self, width: u32, height: u32) {
        self.tile_size.set(width, height);
    }

    /// What the page painted per tile over its last measuring window (it says so every second).
    pub fn painted(&self, tiles: Vec<TilePainting>) {
        *self.painting.lock().unwrap() = tiles;
    }

    /// What the page last said it painted, per tile.
    pub fn painting(&self) -> Vec<TilePainting> {
        self.painting.lock().unwrap().clone()
    }

    /// The page drew (or discarded) `count` frame messages.
    pub fn frames_drawn(&self, count: usize) {
        self.flow.drawn(count);
    }

    /// The latest call snapshots, oldest first.
    pub fn stats_history(&self) -> Vec<StatsSample> {
        self.history.lock().unwrap().iter().cloned().collect()
    }

    // --- ICE servers ------------------------------------------------------------------------

    /// Probe every server of an ICE configuration (W3C `RTCConfiguration` JSON) once. An invalid
    /// configuration is `InvalidIceConfig` with the parser's message (the CLI's words).
    pub async fn probe_ice_servers(&self, ice_config: &str) -> Result<Vec<ServerHealth>, AppError> {
        let config = natter_ice::IceConfig::from_json(ice_config)?;
        Ok(natter_call::health::probe_all(&config, &ProbeOptions::from_env()).await)
    }

    /// A server's URL box read as the CLI reads URLs: the URLs, the parser's message for each bad
    /// one (the words `natter probe` prints), whether it needs credentials.
    pub fn check_ice_urls(&self, text: &str) -> natter_settings::UrlsCheck {
        natter_settings::check_urls(text)
    }

    /// Test one server entry (the page's "Test" button) over every transport its URLs name.
    /// `credential: None` (or empty) uses the stored one.
    pub async fn test_ice_server(
        &self,
        server: ServerEntry,
        credential: Option<String>,
    ) -> Result<Vec<ServerHealth>, AppError> {
        let dir = self.config_dir()?;
        let mut secrets = dir.secrets().load_for([server.id.as_str()])?;
        if let Some(credential) = credential.filter(|c| !c.is_empty()) {
            secrets.insert(server.id.clone(), credential);
        }
        let single = Settings {
            servers: vec![server],
            ..Settings::default()
        };
        let config = natter_settings::ice_config(&single, &secrets)?;
        Ok(natter_call::health::probe_all(&config, &ProbeOptions::from_env()).await)
    }

    /// Entries and credentials from a W3C `iceServers` JSON (fresh ids), to be saved.
    pub fn import_ice_servers(&self, json: &str) -> Result<ImportedServers, AppError> {
        let (servers, credentials) = natter_settings::import_w3c(json, settings::new_id)?;
        Ok(ImportedServers { servers, credentials })
    }

    /// The saved servers as W3C `iceServers` JSON; credentials only when asked for.
    pub fn export_ice_servers(&self, with_credentials: bool) -> Result<String, AppError> {
        let dir = self.config_dir()?;
        let settings = dir.load()?;
        let secrets = dir.secrets().load_for(settings.servers.iter().map(|s| s.id.as_str()))?;
        Ok(natter_settings::w3c_json(&settings.servers, &secrets, with_credentials))
    }

    /// The saved servers as a W3C `iceServers` JSON file in the Downloads (or Documents) folder,
    /// else the config folder, named by the local time; readable only by the user when it holds
    /// passwords. Its path.
    pub fn save_ice_servers_file(&self, with_credentials: bool) -> Result<String, AppError> {
        let text = self.export_ice_servers(with_credentials)?;
        let dir = self.options.exports.for_servers(&self.config_dir()?.path);
        let path = files::write_new(&dir, "natter-ice-servers", files::local_now(), &text, with_credentials)
            .map_err(|e| AppError::new(ErrorCode::ExportFailed, e))?;
        Ok(self.remember(path))
    }

    /// Start watching the saved servers: every status change goes to `on_event`;
    /// `ice_health_snapshot` gives the full table. Replaces the previous watch.
    pub async fn watch_ice_health(
        &self,
        on_event: impl Fn(&HealthTransition) + Send + 'static,
    ) -> Result<(), AppError> {
        let config = self.saved_ice_config()?;
        let monitor = HealthMonitor::start(
            &config,
            ProbeOptions::from_env(),
            natter_ice::monitor::MonitorTiming::default(),
            on_event,
        );
        *self.health.lock().await = Some(monitor);
        Ok(())
    }

    /// The latest result per server × transport of the running health watch.
    pub async fn ice_health_snapshot(&self) -> Result<Vec<ServerHealth>, AppError> {
        Ok(self
            .health
            .lock()
            .await
            .as_ref()
            .map(HealthMonitor::snapshot)
            .unwrap_or_default())
    }

    // --- settings ---------------------------------------------------------------------------

    pub fn settings(&self) -> Result<SettingsView, AppError> {
        let dir = self.config_dir()?;
        Ok(SettingsView {
            settings: dir.load()?,
            credential_storage: dir.secrets().describe(),
            config_dir: dir.path.display().to_string(),
        })
    }

    /// Save the settings (credentials go to the secret store, never to the settings file) and
    /// move the running call onto the new servers. Nothing is saved if a server is invalid.
    pub async fn save_settings(
        &self,
        settings: Settings,
        credentials: Vec<CredentialUpdate>,
    ) -> Result<Settings, AppError> {
        let dir = self.config_dir()?;
        if let Some(problem) = settings::first_url_problem(&settings) {
            return Err(AppError::new(ErrorCode::InvalidIceUrl, problem));
        }
        // Validate the whole configuration with the new credentials before writing anything.
        let mut secrets = dir.secrets().load_for(settings.servers.iter().map(|s| s.id.as_str()))?;
        for update in &credentials {
            if let Some(credential) = &update.credential {
                secrets.insert(update.id.clone(), credential.clone());
            }
        }
        let ice = natter_settings::ice_config(&settings, &secrets)?;
        let saved = dir.save(&settings, &credentials)?;
        if let Some(call) = self.call.lock().await.as_ref() {
            call.demo.set_ice_config(ice);
        }
        Ok(saved)
    }

    // --- devices ----------------------------------------------------------------------------

    /// The machine's devices, the system default and the synthetic sources, with the saved
    /// choice of each.
    pub async fn list_devices(&self) -> Result<Devices, AppError> {
        let found = tokio::task::spawn_blocking(natter_devices::enumerate)
            .await
            .unwrap_or_default();
        Ok(device_lists(&found, &self.settings_or_default()))
    }

    /// Hot-plug: the device lists to `on_change` now and whenever a device appears or disappears
    /// (listed again every few seconds; no platform notification API is used). Stops when
    /// `on_change` says the page is gone.
    pub async fn watch_devices(
        &self,
        on_change: impl Fn(Devices) -> Result<(), Closed> + Send + 'static,
    ) -> Result<(), AppError> {
        let dir = self.config_dir().ok().cloned();
        tokio::spawn(async move {
            let mut last: Option<natter_devices::Devices> = None;
            loop {
                let found = tokio::task::spawn_blocking(natter_devices::enumerate)
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
                    if on_change(device_lists(&found, &settings)).is_err() {
                        return;
                    }
                    last = Some(found);
                }
                tokio::time::sleep(devices::DEVICE_POLL).await;
            }
        });
        Ok(())
    }

    /// The user picked a camera, microphone or speaker (`id` from `list_devices`): saved, and
    /// used at once by the running call. If it cannot be opened the call goes on without it and
    /// says so (a notice).
    pub async fn choose_device(&self, kind: DeviceKind, id: String) -> Result<(), AppError> {
        let dir = self.config_dir()?;
        let mut settings = dir.load()?;
        devices::choose(&mut settings, kind, &id);
        dir.save(&settings, &[])?;
        if let Some(call) = self.running_call().await {
            match kind {
                DeviceKind::Camera => call.use_camera(source_choice(Some(&id), SYNTHETIC_CAMERA)),
                DeviceKind::Microphone => call.use_microphone(source_choice(Some(&id), SYNTHETIC_MICROPHONE)),
                DeviceKind::Speaker => {
                    let speaker = (id != SYSTEM_DEFAULT).then_some(id);
                    tokio::task::spawn_blocking(move || call.use_speaker(speaker.as_deref()))
                        .await
                        .ok();
                }
            }
        }
        Ok(())
    }

    // --- diagnostics and logs ---------------------------------------------------------------

    /// What the diagnostics file holds now.
    pub async fn diagnostics(&self) -> Result<Diagnostics, AppError> {
        let settings = self.config_dir()?.load()?;
        let (servers, health_events) = self
            .health
            .lock()
            .await
            .as_ref()
            .map(|m| (m.snapshot(), m.transitions()))
            .unwrap_or_default();
        Ok(Diagnostics {
            natter_version: self.options.version.clone(),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            written_unix: diagnostics::now_unix(),
            written_local: chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z").to_string(),
            settings,
            servers,
            health_events,
            stats_history: self.stats_history(),
        })
    }

    /// Write the diagnostics file (`natter-diagnostics-2026-12-08-0142.json`, local time) into
    /// the Downloads folder if there is one, else the log folder (else the config folder); its
    /// full path.
    pub async fn export_diagnostics(&self) -> Result<String, AppError> {
        let diagnostics = self.diagnostics().await?;
        let dir = match self.options.exports.for_diagnostics() {
            Some(dir) => dir,
            None => self.config_dir()?.path.clone(),
        };
        let path = diagnostics
            .write_into(&dir, files::local_now())
            .map_err(|e| AppError::new(ErrorCode::ExportFailed, e))?;
        Ok(self.remember(path))
    }

    /// Open the folder of a file this app wrote (an export) in the platform's file manager.
    /// Any other path is refused: the page names files, it does not browse.
    pub fn show_in_folder(&self, path: &str) -> Result<(), AppError> {
        let path = std::path::PathBuf::from(path);
        if !self.written.lock().unwrap().contains(&path) {
            return Err(AppError::new(
                ErrorCode::ExportFailed,
                format!("{} is not a file Natter wrote", path.display()),
            ));
        }
        files::show_in_folder(&path).map_err(|e| AppError::new(ErrorCode::ExportFailed, e))
    }

    /// Note a file written for the user (for `show_in_folder`); its path as text.
    fn remember(&self, path: std::path::PathBuf) -> String {
        let text = path.display().to_string();
        self.written.lock().unwrap().push(path);
        text
    }

    pub fn logs_info(&self) -> Result<LogsInfo, AppError> {
        let settings = self.config_dir()?.load()?;
        Ok(LogsInfo {
            directory: natter_settings::log_dir().map(|d| d.display().to_string()),
            detailed: settings.detailed_logs,
            overridden: std::env::var_os("NATTER_LOG").is_some() || std::env::var_os("RUST_LOG").is_some(),
        })
    }

    /// Turn detailed logs on or off (saved; from the next start).
    pub fn set_detailed_logs(&self, on: bool) -> Result<LogsInfo, AppError> {
        let dir = self.config_dir()?;
        let mut settings = dir.load()?;
        settings.detailed_logs = on;
        dir.save(&settings, &[])?;
        self.logs_info()
    }
}

/// TypeScript declarations of every type the page exchanges with the app, in dependency order
/// after natter-settings' and natter-call's own.
pub fn typescript_declarations(cfg: &ts_rs::Config) -> Vec<String> {
    use ts_rs::TS;
    vec![
        SettingsView::decl(cfg),
        ImportedServers::decl(cfg),
        DeviceKind::decl(cfg),
        Device::decl(cfg),
        Devices::decl(cfg),
        LogsInfo::decl(cfg),
        ErrorCode::decl(cfg),
        AppError::decl(cfg),
        CallKind::decl(cfg),
        CallInfo::decl(cfg),
        MediaKind::decl(cfg),
        JoinRequest::decl(cfg),
        StatsSample::decl(cfg),
        natter_call::view::TileState::decl(cfg),
        natter_call::view::NoticeAbout::decl(cfg),
        natter_call::view::Presence::decl(cfg),
        CallMessage::decl(cfg),
        TilePainting::decl(cfg),
        PreviewSource::decl(cfg),
    ]
}

#[cfg(test)]
mod tests;
