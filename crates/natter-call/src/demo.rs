//! The embedded demo call behind `natter demo`: an in-process signaling server on loopback, the
//! local user and synthetic remote participants, all real WebRTC peers in this process. A new user
//! sees a working call within seconds without any server of ours.

use crate::CallError;
use crate::media::{MediaSettings, ViewSink};
use crate::participant::{Participant, ParticipantConfig, SignalingJoined};
use crate::peer::LinkSettings;
use crate::playout::AudioPlayout;
use crate::view::{TileSize, ViewEvent};
use natter_signal::server::{ServerHandle, SignalServer};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The local user's devices, as picked in the settings.
#[derive(Debug, Clone, Default)]
pub struct LocalDevices {
    /// A camera name or id, "default", or `None` for the synthetic test pattern.
    pub camera: Option<String>,
    /// A microphone name or id, "default", or `None` for the synthetic tone.
    pub microphone: Option<String>,
    /// Play the others' audio (through `speaker`, or the system default when `None`).
    pub play_audio: bool,
    pub speaker: Option<String>,
    /// Start with the microphone off (the user's choice, kept across calls).
    pub audio_off: bool,
    /// Start with the camera off.
    pub video_off: bool,
}

impl LocalDevices {
    pub(crate) fn media(&self) -> MediaSettings {
        MediaSettings {
            seed: 7,
            camera: self.camera.clone(),
            microphone: self.microphone.clone(),
            audio_off: self.audio_off,
            video_off: self.video_off,
            ..MediaSettings::default()
        }
    }

    /// The mixer for the local user, if it plays audio (the speaker opens in the background).
    fn playout(&self, events: &mpsc::Sender<ViewEvent>) -> Option<Arc<AudioPlayout>> {
        self.play_audio
            .then(|| AudioPlayout::open(self.speaker.clone(), Some(events.clone())))
    }
}

/// Options of the demo call.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many synthetic remote participants join (default 2).
    pub remote_participants: usize,
    /// The size the window draws tiles at (frames are scaled to it).
    pub tile_size: TileSize,
    /// ICE servers the participants use (the user's settings); host candidates on loopback
    /// always work, so the demo connects whatever this holds.
    pub ice: natter_ice::IceConfig,
    /// The local user's camera, microphone and speaker (the others are synthetic).
    pub devices: LocalDevices,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            remote_participants: 2,
            tile_size: TileSize::following(320, 180),
            ice: natter_ice::IceConfig::default(),
            devices: LocalDevices::default(),
        }
    }
}

/// A running call shown in the window (the demo, or a room joined through a signaling server);
/// `stop` (or dropping it) ends it.
pub struct DemoHandle {
    local: Option<Participant>,
    /// Where the local user hears the others.
    playout: Option<Arc<AudioPlayout>>,
    remotes: Vec<Participant>,
    _server: Option<ServerHandle>,
    /// The frame generator of a render test.
    generator: Option<tokio::task::JoinHandle<()>>,
}

/// Joining a real room: one local participant, an external signaling server.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// `ws://host:port` or `wss://…` of a `natter signal-server`.
    pub signal_url: String,
    pub room: String,
    /// The room's secret: locks a room we open, opens a locked one.
    pub room_secret: Option<natter_signal::protocol::RoomSecret>,
    /// The name others see.
    pub name: String,
    pub ice: natter_ice::IceConfig,
    /// The size the window draws tiles at (frames are scaled to it).
    pub tile_size: TileSize,
    /// Local address for ICE sockets: every interface (`0.0.0.0`) unless told otherwise.
    pub bind: std::net::IpAddr,
    pub devices: LocalDevices,
}

/// Join `options.room` through its signaling server; events flow into `events` until stopped.
pub async fn join_room(options: RoomOptions, events: mpsc::Sender<ViewEvent>) -> Result<DemoHandle, CallError> {
    let devices = options.devices.clone();
    connect_room(options).await?.start(devices, events)
}

/// The first half of [`join_room`]: the room joined on its signaling server (reachable, the
/// secret accepted), nothing else opened yet. An app that already shows a call tries this
/// before leaving it, and leaves it only once this worked.
pub async fn connect_room(options: RoomOptions) -> Result<RoomJoined, CallError> {
    let signaling = SignalingJoined::connect(
        &options.signal_url,
        &options.room,
        &options.name,
        options.room_secret.clone(),
    )
    .await?;
    tracing::info!(room = %options.room, id = %signaling.id(), "room joined on signaling; call not started yet");
    Ok(RoomJoined { signaling, options })
}

/// A room joined on signaling whose call is not started (see [`connect_room`]); dropping it
/// leaves the room.
pub struct RoomJoined {
    signaling: SignalingJoined,
    options: RoomOptions,
}

impl RoomJoined {
    /// Our id in the room.
    pub fn id(&self) -> &str {
        self.signaling.id()
    }

    /// Start the call: open the camera, microphone and speaker of `devices` (as they are now:
    /// the user may have changed them while the room was being joined), offer to everyone in
    /// the room; events flow into `events` until the handle is stopped.
    pub fn start(self, devices: LocalDevices, events: mpsc::Sender<ViewEvent>) -> Result<DemoHandle, CallError> {
        let RoomJoined { signaling, options } = self;
        let options = RoomOptions { devices, ..options };
        start_room(signaling, options, events)
    }
}

fn start_room(
    signaling: SignalingJoined,
    options: RoomOptions,
    events: mpsc::Sender<ViewEvent>,
) -> Result<DemoHandle, CallError> {
    let bind = std::net::SocketAddr::new(options.bind, 0);
    let link = LinkSettings {
        ice: options.ice.clone(),
        relay_only: false,
        bind,
        stack_defaults: false,
        offer_payload_types: Default::default(),
        bridges: Default::default(),
    };
    let view = ViewSink {
        events,
        tile_size: options.tile_size.clone(),
    };
    // Restarts after a failure use only the servers that work (shared probes, breakers).
    let board = crate::health::ServerBoard::new(options.ice.clone(), crate::health::ProbeOptions::from_env(), None);
    let playout = options.devices.playout(&view.events);
    let local = Participant::start(
        signaling,
        ParticipantConfig {
            name: options.name,
            room: options.room,
            room_secret: options.room_secret,
            signal_url: options.signal_url,
            link,
            media: options.devices.media(),
            view: Some(view),
            board: Some(board),
            playout: playout.clone(),
        },
    )?;
    Ok(DemoHandle {
        local: Some(local),
        playout,
        remotes: Vec::new(),
        _server: None,
        generator: None,
    })
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

    /// The local user's microphone off (`true`) or on.
    pub fn set_audio_muted(&self, muted: bool) {
        if let Some(local) = &self.local {
            local.set_audio_muted(muted);
        }
    }

    /// The local user's camera off (`true`) or on.
    pub fn set_video_muted(&self, muted: bool) {
        if let Some(local) = &self.local {
            local.set_video_muted(muted);
        }
    }

    /// Send from another camera (`None`: the synthetic pattern).
    pub fn use_camera(&self, camera: Option<String>) {
        if let Some(local) = &self.local {
            local.use_camera(crate::capture::SourceChoice::from_setting(camera.as_deref()));
        }
    }

    /// Send from another microphone (`None`: the synthetic tone).
    pub fn use_microphone(&self, microphone: Option<String>) {
        if let Some(local) = &self.local {
            local.use_microphone(crate::capture::SourceChoice::from_setting(microphone.as_deref()));
        }
    }

    /// Play through another speaker (`None`: the system default). Blocks while it opens.
    pub fn use_speaker(&self, speaker: Option<&str>) {
        if let Some(playout) = &self.playout {
            playout.use_speaker(speaker);
        }
    }

    pub async fn stop(mut self) {
        if let Some(generator) = self.generator.take() {
            generator.abort();
        }
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
    let link = LinkSettings {
        ice: options.ice.clone(),
        relay_only: false,
        bind: "127.0.0.1:0".parse().expect("valid address"),
        stack_defaults: false,
        offer_payload_types: Default::default(),
        bridges: Default::default(),
    };
    let room = "demo".to_string();
    let view = ViewSink {
        events,
        tile_size: options.tile_size.clone(),
    };
    let playout = options.devices.playout(&view.events);
    let local = Participant::join(ParticipantConfig {
        name: "You".into(),
        room: room.clone(),
        room_secret: None,
        signal_url: url.clone(),
        link: link.clone(),
        media: options.devices.media(),
        view: Some(view),
        board: None,
        playout: playout.clone(),
    })
    .await?;
    let mut remotes = Vec::new();
    for i in 0..options.remote_participants {
        remotes.push(
            Participant::join(ParticipantConfig {
                name: format!("Synthetic {}", i + 1),
                room: room.clone(),
                room_secret: None,
                signal_url: url.clone(),
                link: link.clone(),
                media: MediaSettings {
                    seed: i as u32 + 1,
                    ..MediaSettings::default()
                },
                view: None,
                board: None,
                playout: None,
            })
            .await?,
        );
    }
    Ok(DemoHandle {
        local: Some(local),
        playout,
        remotes,
        _server: Some(server),
        generator: None,
    })
}

/// The window's render path alone, for measuring it: `tiles` remote tiles of moving 640×360
/// pictures at `fps`, stamped with their capture time, made without any codec or network
/// (`natter demo --render-test`), and scaled to the window's tiles like a call's. Frames that
/// cannot be queued are dropped, as the call view drops them when the window is behind.
pub fn start_render_test(tiles: usize, tile_size: TileSize, fps: u32, events: mpsc::Sender<ViewEvent>) -> DemoHandle {
    // Its pictures reach the window as a call's do (`ViewSink::offer`).
    let view = ViewSink { events, tile_size };
    let generator = tokio::spawn(async move {
        for tile in 0..tiles {
            let _ = view
                .events
                .send(ViewEvent::Status {
                    tile_id: format!("r{}", tile + 1),
                    label: format!("Render test {}", tile + 1),
                    state: crate::view::TileState::Connected,
                    detail: "synthetic frames, no network".into(),
                })
                .await;
        }
        // Pictures are made once and cycled (only their stamp is redrawn), so that what is
        // measured is the way to the screen, not the drawing of test patterns.
        const CYCLE: u32 = 30;
        let (width, height) = (640, 360);
        let pictures: Vec<Vec<natter_media::I420Frame>> = (0..tiles)
            .map(|tile| {
                (0..CYCLE)
                    .map(|step| {
                        let shade = (step * 8 + tile as u32 * 40) as u8;
                        let mut picture = natter_media::I420Frame::black(width, height).expect("even size");
                        for (i, px) in picture.y.iter_mut().enumerate() {
                            *px = ((i as u32 % width) as u8).wrapping_add(shade).clamp(16, 235);
                        }
                        picture.u.fill(shade);
                        picture.v.fill(255 - shade);
                        picture
                    })
                    .collect()
            })
            .collect();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / f64::from(fps.max(1))));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut counter: u32 = 0;
        loop {
            tick.tick().await;
            counter = counter.wrapping_add(1);
            for (tile, cycle) in pictures.iter().enumerate() {
                let mut picture = cycle[(counter % CYCLE) as usize].clone();
                let stamp = natter_media::FrameStamp {
                    counter,
                    capture_ms: natter_media::now_ms(),
                };
                natter_media::stamp_frame(&mut picture, stamp);
                let (id, label) = (format!("r{}", tile + 1), format!("Render test {}", tile + 1));
                if let Some(frame) = view
                    .tile_size
                    .frame(&id, &label, &picture, counter, Some(stamp.capture_ms))
                {
                    view.offer(ViewEvent::Frame(frame));
                }
            }
        }
    });
    DemoHandle {
        local: None,
        playout: None,
        remotes: Vec::new(),
        _server: None,
        generator: Some(generator),
    }
}
