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

/// A running demo; `stop` (or dropping it) ends the call.
pub struct DemoHandle {
    local: Option<Participant>,
    remotes: Vec<Participant>,
    _server: ServerHandle,
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
    Ok(DemoHandle { local: Some(local), remotes, _server: server })
}
