//! Every command the page can invoke, each a one-line forward to `natter_app::App`. The
//! `commands!` list is also what `bindings.rs` turns into the page's typed functions
//! (`commands.startCall(…)` in `ui/src/bindings.ts`) and what the window registers, so a command
//! cannot be callable without being typed, nor typed without being registered.

use natter_app::{
    App, AppError, CallInfo, CallMessage, CallView, Closed, DeviceKind, Devices, ImportedServers, JoinRequest,
    LogsInfo, MediaKind, PreviewSource, SettingsView, TilePainting,
};
use natter_call::health::ServerHealth;
use natter_call::view::TileFrame;
use natter_ice::monitor::HealthTransition;
use natter_settings::{CredentialUpdate, ServerEntry, Settings, UrlsCheck};
use std::sync::Arc;
use tauri::ipc::{Channel, CommandArg, CommandItem, InvokeError, InvokeResponseBody};

/// Declares the commands: `async fn` runs on the async runtime, `sync fn` on the main thread
/// (as Tauri runs a plain `fn` command). The first parameter names the `App`.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $mode:ident fn $name:ident($app:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty $body:block
    )*) => {
        $(commands!(@one $mode $(#[doc = $doc])* fn $name($app $(, $arg: $ty)*) -> $ret $body);)*

        /// The window's invoke handler: every command above.
        pub(crate) fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Name, documentation, parameters and result of every command, for `bindings.rs`.
        #[cfg(test)]
        pub(crate) fn signatures(cfg: &ts_rs::Config) -> Vec<crate::bindings::Signature> {
            vec![$(crate::bindings::Signature {
                name: stringify!($name),
                doc: vec![$($doc),*],
                params: vec![$((stringify!($arg), <$ty as crate::bindings::TsParam>::typescript(cfg))),*],
                result: <$ret as crate::bindings::TsResult>::typescript(cfg),
            }),*]
        }
    };
    (@one async $(#[doc = $doc:literal])* fn $name:ident($app:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty $body:block) => {
        $(#[doc = $doc])*
        #[tauri::command]
        async fn $name($app: tauri::State<'_, App> $(, $arg: $ty)*) -> $ret $body
    };
    (@one sync $(#[doc = $doc:literal])* fn $name:ident($app:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty $body:block) => {
        $(#[doc = $doc])*
        #[tauri::command]
        fn $name($app: tauri::State<'_, App> $(, $arg: $ty)*) -> $ret $body
    };
}

commands! {
    /// Start the call this window shows (the demo, or the room joined), streamed on the channel.
    /// Replaces a running call.
    async fn start_call(app, on_event: CallChannel, join: Option<JoinRequest>) -> Result<CallInfo, AppError> {
        app.start_call(join, Arc::new(on_event)).await
    }
    /// Leave (stop) the call. Idempotent.
    async fn leave_call(app) -> Result<(), AppError> {
        app.leave_call().await
    }
    /// Turn the local microphone or camera off or on in the running call.
    async fn set_muted(app, kind: MediaKind, muted: bool) -> Result<(), AppError> {
        app.set_muted(kind, muted).await
    }
    /// The page drew (or discarded) `count` frame messages.
    sync fn frames_drawn(app, count: usize) -> () {
        app.frames_drawn(count)
    }
    /// Show the chosen camera and microphone without a call (the pre-join screen, the Devices
    /// page) on the channel: self-view frames, level, notices. In a call, the call's own.
    async fn start_preview(app, on_event: CallChannel) -> Result<PreviewSource, AppError> {
        app.start_preview(Arc::new(on_event)).await
    }
    /// Stop the preview (the devices are released). Idempotent.
    async fn stop_preview(app) -> Result<(), AppError> {
        app.stop_preview().await;
        Ok(())
    }
    /// Play a short test tone on the chosen speaker; its name.
    async fn play_test_tone(app) -> Result<String, AppError> {
        app.play_test_tone().await
    }
    /// The page draws its tiles at `width` × `height` device pixels: frames are scaled to it.
    sync fn set_tile_size(app, width: u32, height: u32) -> () {
        app.set_tile_size(width, height)
    }
    /// What the page painted per tile over its last measuring window.
    sync fn painted(app, tiles: Vec<TilePainting>) -> () {
        app.painted(tiles)
    }
    /// Probe every server of an ICE configuration (W3C `RTCConfiguration` JSON) once.
    async fn probe_ice_servers(app, ice_config: String) -> Result<Vec<ServerHealth>, AppError> {
        app.probe_ice_servers(&ice_config).await
    }
    /// Watch the saved servers: every status change arrives on the channel. Replaces the previous watch.
    async fn watch_ice_health(app, on_event: Channel<HealthTransition>) -> Result<(), AppError> {
        app.watch_ice_health(move |transition| {
            let _ = on_event.send(transition.clone());
        })
        .await
    }
    /// The latest result per server × transport of the running health watch.
    async fn ice_health_snapshot(app) -> Result<Vec<ServerHealth>, AppError> {
        app.ice_health_snapshot().await
    }
    /// The settings, where credentials are kept and the config directory.
    sync fn get_settings(app) -> Result<SettingsView, AppError> {
        app.settings()
    }
    /// Save the settings and their credentials (apart); the running call moves onto the new servers.
    async fn save_settings(app, settings: Settings, credentials: Vec<CredentialUpdate>) -> Result<Settings, AppError> {
        app.save_settings(settings, credentials).await
    }
    /// A server's URL box as the CLI reads it: its URLs, the parser's message for each bad one.
    sync fn check_ice_urls(app, text: String) -> UrlsCheck {
        app.check_ice_urls(&text)
    }
    /// Test one server entry over every transport its URLs name; no credential: the stored one.
    async fn test_ice_server(app, server: ServerEntry, credential: Option<String>) -> Result<Vec<ServerHealth>, AppError> {
        app.test_ice_server(server, credential).await
    }
    /// Servers and their credentials from a W3C `iceServers` JSON (fresh ids), to be saved.
    sync fn import_ice_servers(app, json: String) -> Result<ImportedServers, AppError> {
        app.import_ice_servers(&json)
    }
    /// The saved servers as W3C `iceServers` JSON; credentials only when asked for.
    sync fn export_ice_servers(app, with_credentials: bool) -> Result<String, AppError> {
        app.export_ice_servers(with_credentials)
    }
    /// The same JSON as a file in Downloads (or Documents, else the config folder); its path.
    sync fn save_ice_servers_file(app, with_credentials: bool) -> Result<String, AppError> {
        app.save_ice_servers_file(with_credentials)
    }
    /// The machine's devices with the system default, the synthetic sources and the saved choices.
    async fn list_devices(app) -> Result<Devices, AppError> {
        app.list_devices().await
    }
    /// The device lists on the channel now and whenever a device comes or goes.
    async fn watch_devices(app, on_change: Channel<Devices>) -> Result<(), AppError> {
        app.watch_devices(move |devices| on_change.send(devices).map_err(|_| Closed)).await
    }
    /// Save the pick of a camera, microphone or speaker (an id from the device lists) and use it now.
    async fn choose_device(app, kind: DeviceKind, id: String) -> Result<(), AppError> {
        app.choose_device(kind, id).await
    }
    /// Write a diagnostics file into Downloads (else the log folder); its full path.
    async fn export_diagnostics(app) -> Result<String, AppError> {
        app.export_diagnostics().await
    }
    /// Open the folder of a file the app wrote (an export) in the file manager.
    sync fn show_in_folder(app, path: String) -> Result<(), AppError> {
        app.show_in_folder(&path)
    }
    /// Where the log files are and whether detailed logs are on.
    sync fn logs_info(app) -> Result<LogsInfo, AppError> {
        app.logs_info()
    }
    /// Detailed logs on or off (saved; from the next start).
    sync fn set_detailed_logs(app, on: bool) -> Result<LogsInfo, AppError> {
        app.set_detailed_logs(on)
    }
}

/// The call view's channel: frames as binary messages (`frame_wire`), the rest as JSON
/// `CallMessage`s.
pub(crate) struct CallChannel(Channel<InvokeResponseBody>);

impl<'de, R: tauri::Runtime> CommandArg<'de, R> for CallChannel {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        Channel::from_command(command).map(CallChannel)
    }
}

impl CallView for CallChannel {
    fn frames(&self, frames: &[TileFrame]) -> Result<(), Closed> {
        let encoded: Vec<Vec<u8>> = frames
            .iter()
            .filter_map(|frame| {
                let bytes = crate::frame_wire::encode(frame);
                if bytes.is_none() {
                    tracing::warn!(tile = %frame.tile_id, "inconsistent frame from the engine, not shown");
                }
                bytes
            })
            .collect();
        send(
            &self.0,
            InvokeResponseBody::Raw(crate::frame_wire::encode_batch(&encoded)),
        )
    }

    fn message(&self, message: &CallMessage) -> Result<(), Closed> {
        let json = serde_json::to_string(message).expect("message serializes");
        send(&self.0, InvokeResponseBody::Json(json))
    }
}

fn send(channel: &Channel<InvokeResponseBody>, body: InvokeResponseBody) -> Result<(), Closed> {
    channel.send(body).map_err(|e| {
        // The webview is gone (window closed or reloaded).
        tracing::debug!("call view channel closed: {e}");
        Closed
    })
}
