//! The embedded demo call behind `natter demo`: an in-process signaling server on loopback, the
//! local user and synthetic remote participants, all real WebRTC peers in this process. A new user
//! sees a working call within seconds without any server of ours.

use crate::media::{MediaSettings, ViewSink};
use crate::participant::{Participant, ParticipantConfig};
use crate::peer::LinkSettings;
use crate::view::ViewEvent;
use crate::CallError;
use natter_signal::server::{ServerHandle, SignalServer};
use tokio::sync::mpsc;

/// Options of the demo call.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many synthetic remote participants join (default 2).
    pub remote_participants: usize,
    /// Size of the frames handed to the UI.
    pub tile_width: u32,
    pub tile_height: u32,
    /// ICE servers the participants use (the user's settings); host candidates on loopback
    /// always work, so the demo connects whatever this holds.
    pub ice: natter_ice::IceConfig,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { remote_participants: 2, tile_width: 320, tile_height: 180, ice: natter_ice::IceConfig::default() }
    }
}

/// A running call shown in the window (the demo, or a room joined through a signaling server);
/// `stop` (or dropping it) ends it.
pub struct DemoHandle {
    local: Option<Participant>,
    remotes: Vec<Participant>,
    _server: Option<ServerHandle>,
}

/// Joining a real room: one local participant, an external signaling server.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// `ws://host:port` or `wss://…` of a `natter signal-server`.
    pub signal_url: String,
    pub room: String,
    /// The name others see.
    pub name: String,
    pub ice: natter_ice::IceConfig,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Local address for ICE sockets: every interface (`0.0.0.0`) unless told otherwise.
    pub bind: std::net::IpAddr,
}

/// Join `options.room` through its signaling server; events flow into `events` until stopped.
pub async fn join_room(options: RoomOptions, events: mpsc::Sender<ViewEvent>) -> Result<DemoHandle, CallError> {
    let bind = std::net::SocketAddr::new(options.bind, 0);
    let link = LinkSettings { ice: options.ice.clone(), relay_only: false, bind, stack_defaults: false };
    let view = ViewSink { events, tile_width: options.tile_width, tile_height: options.tile_height };
    // Restarts after a failure use only the servers that work (shared probes, breakers).
    let board = crate::health::ServerBoard::new(options.ice.clone(), crate::health::ProbeOptions::from_env(), None);
    let local = Participant::join(ParticipantConfig {
        name: options.name,
        room: options.room,
        signal_url: options.signal_url,
        link,
        media: MediaSettings { seed: 7, ..MediaSettings::default() },
        view: Some(view),
        board: Some(board),
    })
    .await?;
    Ok(DemoHandle { local: Some(local), remotes: Vec::new(), _server: None })
}

impl DemoHandle {
    /// The local user's view of the call: one entry per remote, with path, RTT, totals, events.
    pub async fn snapshot(&self) -> Option<crate::report::ParticipantReport> {
        Some(self.local.as_ref()?.snapshot().await)
    }

    /// The user changed the ICE servers: every participant restarts ICE onto them.
    pub fn set_ice_config(&self, ice: natter_ice::IceConfig) {
        for participant in self.local.iter().chain(&self.remotes) {
            participant.set_ice_config(ice.clone());
        }
    }

    pub async fn stop(mut self) {
        if let Some(local) = self.local.take() {
            local.leave().await;
        }
        for remote in self.remotes.drain(..) {
            remote.leave().await;
        }
    }
}

/// Start the demo call; events flow into `events` until the handle is stopped.
/// Must be called inside a tokio runtime.
pub async fn start_demo(options: DemoOptions, events: mpsc::Sender<ViewEvent>) -> Result<DemoHandle, CallError> {
    let server = SignalServer::bind("127.0.0.1:0".parse().expect("valid address"))
        .await
        .map_err(|e| CallError::Signaling(e.to_string()))?;
    let url = server.url();
    let server = server.spawn();
    let link = LinkSettings { ice: options.ice.clone(), relay_only: false, bind: "127.0.0.1:0".parse().expect("valid address"), stack_defaults: false };
    let room = "demo".to_string();
    let view = ViewSink { events, tile_width: options.tile_width, tile_height: options.tile_height };
    let local = Participant::join(ParticipantConfig {
        name: "You".into(),
        room: room.clone(),
        signal_url: url.clone(),
        link: link.clone(),
        media: MediaSettings { seed: 7, ..MediaSettings::default() },
        view: Some(view),
        board: None,
    })
    .await?;
    let mut remotes = Vec::new();
    for i in 0..options.remote_participants {
        remotes.push(
            Participant::join(ParticipantConfig {
                name: format!("Synthetic {}", i + 1),
                room: room.clone(),
                signal_url: url.clone(),
                link: link.clone(),
                media: MediaSettings { seed: i as u32 + 1, ..MediaSettings::default() },
                view: None,
                board: None,
            })
            .await?,
        );
    }
    Ok(DemoHandle { local: Some(local), remotes, _server: Some(server) })
}
