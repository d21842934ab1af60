//! The sending side of the media pipeline: one video thread and one audio thread per participant
//! read its sources (synthetic or real devices, behind `natter_media::source`), encode, and fan
//! the packets out to every connection (`EncodedStreams`).
//!
//! The threads also own each device's life: a camera turned off is closed (its light goes out)
//! and reopened when turned on; a switch opens the new device; a device that vanishes is replaced
//! by the system default, or by nothing, and retried every few seconds so a camera plugged back
//! in is picked up. No device is never an error that stops a call: the medium goes receive-only.
//! Every such change is announced as a [`MediaNotice`] so the participant tells the others and
//! the user. Plain threads, so encoding never stalls the async runtime that drives the network.

use crate::adapt::LAYERS;
use crate::codecs::VideoCodec;
use crate::media::{AnyEncoder, EncodedAudio, EncodedFrame, MediaSettings, ViewSink};
use crate::report::{LocalMediaReport, LocalSourceReport};
use crate::view::ViewEvent;
use bytes::Bytes;
use natter_devices::DeviceError;
use natter_media::{AudioEncoder, AudioSource, I420Frame, SyntheticMic, SyntheticVideo, VideoSource};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Opus frames are 20 ms.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// A keyframe at least this often, so a receiver that lost one recovers without asking.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// At most one keyframe per stream this often, however many receivers ask.
const KEYFRAME_SPACING: Duration = Duration::from_millis(250);
/// How often a missing device is looked for again.
const REOPEN_EVERY: Duration = Duration::from_secs(3);
/// The most a real camera's encoder is given, whatever its size.
const MAX_CAMERA_BITRATE: u32 = 2_500_000;

/// Which camera or microphone a participant sends from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// The moving test pattern / the tone (headless mode, tests, the demo's participants).
    Synthetic,
    /// A device by id or name (as `natter devices` lists it); "default": the system's.
    Device(String),
}

impl SourceChoice {
    /// `None` (nothing configured) means the synthetic source, as in headless mode.
    pub fn from_setting(setting: Option<&str>) -> SourceChoice {
        match setting {
            None => SourceChoice::Synthetic,
            Some(name) => SourceChoice::Device(name.to_string()),
        }
    }
}

/// Which local medium a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    Camera,
    Microphone,
    Speaker,
}

impl Medium {
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Camera => "camera",
            Medium::Microphone => "microphone",
            Medium::Speaker => "speaker",
        }
    }
}

/// A local device changed in a way the user should hear about.
#[derive(Debug, Clone)]
pub struct MediaNotice {
    pub medium: Medium,
    /// One sentence: what happened and what it means for the call.
    pub message: String,
}

/// One medium's state, shared between its capture thread and the participant.
#[derive(Default)]
struct LocalSource {
    /// The user's camera/microphone button.
    user_off: AtomicBool,
    report: Mutex<LocalSourceReport>,
    /// A switch the user asked for, taken by the capture thread (the latest wins).
    switch_to: Mutex<Option<SourceChoice>>,
}

impl LocalSource {
    /// Off for the others: turned off, or no device to send from.
    fn muted(&self) -> bool {
        self.user_off.load(Ordering::Relaxed) || self.report.lock().unwrap().problem.is_some()
    }
}

/// One stream per video codec (`VideoCodec::index`) and simulcast layer (`adapt::LAYERS`).
type PerStream<T> = [[T; LAYERS]; 2];

/// What one connection's writer asks of a layer's encoder: the bitrate its link carries.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Want {
    codec: VideoCodec,
    layer: usize,
    budget_bps: f64,
}

/// The encoded output of one participant, fanned out to every connection, and the controls of
/// its camera and microphone. Clones share all of it.
#[derive(Clone)]
pub struct EncodedStreams {
    /// A stream is encoded only while some connection sends it (H.264 at full size when nobody
    /// does, for the frame count and the first connection).
    videos: PerStream<broadcast::Sender<Arc<EncodedFrame>>>,
    pub audio: broadcast::Sender<Arc<EncodedAudio>>,
    /// A keyframe is wanted, per stream.
    keyframe_requested: Arc<PerStream<AtomicBool>>,
    /// Each writer's wish, by writer (see [`EncodedStreams::want`]).
    wants: Arc<Mutex<std::collections::HashMap<(u64, usize), Want>>>,
    /// The loss each connection reports, by writer: Opus protects against the worst.
    link_loss: Arc<Mutex<std::collections::HashMap<u64, f64>>>,
    /// How much of each frame interval the video encoders take (smoothed, in thousandths).
    encode_load: Arc<AtomicU64>,
    camera: Arc<LocalSource>,
    microphone: Arc<LocalSource>,
}

impl EncodedStreams {
    /// Microphone off: nothing is captured or sent until it is back on.
    pub fn set_audio_muted(&self, muted: bool) {
        self.microphone.user_off.store(muted, Ordering::Relaxed);
    }

    /// Camera off: the camera is closed and nothing is sent; back on starts with a keyframe.
    pub fn set_video_muted(&self, muted: bool) {
        if !muted {
            self.request_keyframe();
        }
        self.camera.user_off.store(muted, Ordering::Relaxed);
    }

    /// Off for the others: turned off by the user, or no microphone to send from.
    pub fn audio_muted(&self) -> bool {
        self.microphone.muted()
    }

    pub fn video_muted(&self) -> bool {
        self.camera.muted()
    }

    /// Send from another camera (the old one is closed once the new one is asked for).
    pub fn use_camera(&self, choice: SourceChoice) {
        *self.camera.switch_to.lock().unwrap() = Some(choice);
    }

    pub fn use_microphone(&self, choice: SourceChoice) {
        *self.microphone.switch_to.lock().unwrap() = Some(choice);
    }

    /// What is being sent from, for reports and the self-view tile.
    pub fn local_media(&self) -> LocalMediaReport {
        let read = |source: &LocalSource| {
            let mut report = source.report.lock().unwrap().clone();
            report.off = source.user_off.load(Ordering::Relaxed);
            report.sending = report.device.is_some() && !report.off && report.problem.is_none();
            report
        };
        LocalMediaReport {
            camera: read(&self.camera),
            microphone: read(&self.microphone),
        }
    }

    /// The next picture of every stream is a keyframe.
    pub fn request_keyframe(&self) {
        for flag in self.keyframe_requested.iter().flatten() {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// The next picture of every layer of `codec` is a keyframe.
    pub fn request_keyframe_for(&self, codec: VideoCodec) {
        for flag in &self.keyframe_requested[codec.index()] {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// The next picture of one layer of `codec` is a keyframe (a receiver of it asked, or a
    /// writer switches to it). Requests are coalesced: at most one keyframe per stream every
    /// `KEYFRAME_SPACING`.
    pub fn request_keyframe_for_layer(&self, codec: VideoCodec, layer: usize) {
        self.keyframe_requested[codec.index()][layer.min(LAYERS - 1)].store(true, Ordering::Relaxed);
    }

    /// The encoded pictures of one codec and layer.
    pub fn video(&self, codec: VideoCodec, layer: usize) -> &broadcast::Sender<Arc<EncodedFrame>> {
        &self.videos[codec.index()][layer.min(LAYERS - 1)]
    }

    /// Writer `writer` sends `codec` at `layer` (or is switching to it) and its link carries
    /// `budget_bps` of video: the layer's encoder runs at the lowest such budget (within the
    /// layer's range).
    pub fn want(&self, writer: u64, codec: VideoCodec, layer: usize, budget_bps: f64) {
        self.wants.lock().unwrap().insert(
            (writer, layer),
            Want {
                codec,
                layer,
                budget_bps,
            },
        );
    }

    /// The connection of writer `writer` loses `loss` (0–1) of what we send; `None`: it ended.
    pub fn report_loss(&self, writer: u64, loss: Option<f64>) {
        let mut losses = self.link_loss.lock().unwrap();
        match loss {
            Some(loss) => losses.insert(writer, loss),
            None => losses.remove(&writer),
        };
    }

    /// How much of the frame interval encoding takes (0–1, smoothed): near 1 the computer cannot
    /// keep up and frames are skipped (`quality_limitation: cpu`).
    pub fn encode_load(&self) -> f64 {
        self.encode_load.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Writer `writer` no longer sends `layer`.
    pub fn forget(&self, writer: u64, layer: usize) {
        self.wants.lock().unwrap().remove(&(writer, layer));
    }

    /// The budget a stream's encoder should run at, if any writer said.
    fn lowest_budget(&self, codec: VideoCodec, layer: usize) -> Option<f64> {
        let wants = self.wants.lock().unwrap();
        wants
            .values()
            .filter(|w| w.codec == codec && w.layer == layer)
            .map(|w| w.budget_bps)
            .reduce(f64::min)
    }
}

/// What both capture threads need.
struct ThreadContext {
    settings: MediaSettings,
    stop: Arc<AtomicBool>,
    notices: mpsc::UnboundedSender<MediaNotice>,
}

/// Start the camera and microphone threads of one participant.
pub fn start_capture(
    settings: &MediaSettings,
    view: Option<ViewSink>,
    stop: Arc<AtomicBool>,
    frames_sent: Arc<AtomicU64>,
    notices: mpsc::UnboundedSender<MediaNotice>,
) -> Result<EncodedStreams, crate::CallError> {
    let videos: PerStream<broadcast::Sender<Arc<EncodedFrame>>> =
        std::array::from_fn(|_| std::array::from_fn(|_| broadcast::channel(16).0));
    let (audio_tx, _) = broadcast::channel(32);
    let keyframe_requested: Arc<PerStream<AtomicBool>> =
        Arc::new(std::array::from_fn(|_| std::array::from_fn(|_| AtomicBool::new(true))));
    let wants = Arc::default();
    let link_loss: Arc<Mutex<std::collections::HashMap<u64, f64>>> = Arc::default();
    let encode_load: Arc<AtomicU64> = Arc::default();
    let (camera, microphone) = (Arc::new(LocalSource::default()), Arc::new(LocalSource::default()));
    // Off from the first frame if the user turned them off before (no frame goes out meanwhile).
    camera.user_off.store(settings.video_off, Ordering::Relaxed);
    microphone.user_off.store(settings.audio_off, Ordering::Relaxed);
    // Fail now, not in a thread, if the codecs cannot start at all.
    let audio_encoder = AudioEncoder::new().map_err(|e| crate::CallError::Media(e.to_string()))?;
    let audio_view = view.clone();
    let video = VideoThread {
        ctx: ThreadContext {
            settings: settings.clone(),
            stop: Arc::clone(&stop),
            notices: notices.clone(),
        },
        choice: SourceChoice::from_setting(settings.camera.as_deref()),
        state: Arc::clone(&camera),
        streams: EncodedStreams {
            videos: videos.clone(),
            audio: audio_tx.clone(),
            keyframe_requested: Arc::clone(&keyframe_requested),
            wants: Arc::clone(&wants),
            link_loss: Arc::clone(&link_loss),
            encode_load: Arc::clone(&encode_load),
            camera: Arc::clone(&camera),
            microphone: Arc::clone(&microphone),
        },
        frames_sent,
        view,
    };
    let audio = AudioThread {
        ctx: ThreadContext {
            settings: settings.clone(),
            stop,
            notices,
        },
        choice: SourceChoice::from_setting(settings.microphone.as_deref()),
        state: Arc::clone(&microphone),
        out: audio_tx.clone(),
        encoder: audio_encoder,
        link_loss: Arc::clone(&link_loss),
        expected_loss: None,
        view: audio_view,
        level: natter_media::LevelMeter::default(),
    };
    let spawn_error = |e: std::io::Error| crate::CallError::Media(format!("could not start a capture thread: {e}"));
    std::thread::Builder::new()
        .name("video-capture".into())
        .spawn(move || video.run())
        .map_err(spawn_error)?;
    std::thread::Builder::new()
        .name("audio-capture".into())
        .spawn(move || audio.run())
        .map_err(spawn_error)?;
    Ok(EncodedStreams {
        videos,
        audio: audio_tx,
        keyframe_requested,
        wants,
        link_loss,
        encode_load,
        camera,
        microphone,
    })
}

/// Opening sources and reporting what happened, the same for both media.
struct SourceKeeper<'a, S: ?Sized> {
    medium: Medium,
    state: &'a LocalSource,
    notices: &'a mpsc::UnboundedSender<MediaNotice>,
    source: Option<Box<S>>,
    /// When to try opening again (`None`: nothing to open).
    open_at: Option<Instant>,
}

impl<S: ?Sized> SourceKeeper<'_, S> {
    fn tell(&self, message: String) {
        tracing::info!(medium = self.medium.as_str(), "{message}");
        self.state.report.lock().unwrap().message = Some(message.clone());
        let _ = self.notices.send(MediaNotice {
            medium: self.medium,
            message,
        });
    }

    fn what(&self) -> &'static str {
        if self.medium == Medium::Camera {
            "video"
        } else {
            "audio"
        }
    }

    /// Try `open` if it is time; record and announce the outcome.
    fn open_if_due(&mut self, open: impl FnOnce() -> Result<(Box<S>, String), DeviceError>) -> bool {
        if self.source.is_some() || self.open_at.is_none_or(|at| Instant::now() < at) {
            return false;
        }
        match open() {
            Ok((source, label)) => {
                let had_problem = {
                    let mut report = self.state.report.lock().unwrap();
                    report.device = Some(label.clone());
                    report.problem.take().is_some()
                };
                if had_problem {
                    self.tell(format!("{label} works again: sending {}", self.what()));
                }
                self.source = Some(source);
                self.open_at = None;
                true
            }
            Err(e) => {
                let first = {
                    let mut report = self.state.report.lock().unwrap();
                    report.device = None;
                    report.problem.replace(e.reason().to_string()).as_deref() != Some(e.reason())
                };
                if first {
                    self.tell(format!(
                        "{e}: you are not sending {} (you still see and hear the others)",
                        self.what()
                    ));
                }
                self.open_at = Some(Instant::now() + REOPEN_EVERY);
                false
            }
        }
    }

    /// The open device stopped working: say so and look for another (the default) at once.
    fn lost(&mut self, why: &natter_media::DeviceLost) {
        self.source = None;
        {
            let mut report = self.state.report.lock().unwrap();
            report.device = None;
            report.problem = Some("lost".into());
        }
        self.tell(format!("{why}: looking for another {}", self.medium.as_str()));
        self.open_at = Some(Instant::now());
    }

    /// The user picked another device, or turned the medium off: close the current one.
    fn close(&mut self) {
        self.source = None;
    }
}

/// One stream's encoder: when it last made a keyframe, the bitrate it runs at.
struct StreamEncoder {
    encoder: AnyEncoder,
    last_keyframe: Instant,
    bitrate_bps: u32,
    /// Keyframes made so far (saturating).
    keyframes_made: u8,
}

/// The capture thread's encoders, per stream.
#[derive(Default)]
struct CodecEncoders(PerStream<Option<StreamEncoder>>);

struct VideoThread {
    ctx: ThreadContext,
    choice: SourceChoice,
    state: Arc<LocalSource>,
    /// Its own handle on what it feeds (the streams, the keyframe flags, the writers' wants).
    streams: EncodedStreams,
    frames_sent: Arc<AtomicU64>,
    view: Option<ViewSink>,
}

impl VideoThread {
    fn open(choice: &SourceChoice, settings: &MediaSettings) -> Result<(Box<dyn VideoSource>, String), DeviceError> {
        let source: Box<dyn VideoSource> = match choice {
            SourceChoice::Synthetic => Box::new(SyntheticVideo::new(
                settings.width,
                settings.height,
                settings.fps,
                settings.seed,
            )),
            SourceChoice::Device(name) => Box::new(natter_devices::CameraCapture::open(name)?),
        };
        let label = source.label();
        Ok((source, label))
    }

    fn run(mut self) {
        let state = Arc::clone(&self.state);
        let notices = self.ctx.notices.clone();
        let mut keeper: SourceKeeper<'_, dyn VideoSource> = SourceKeeper {
            medium: Medium::Camera,
            state: &state,
            notices: &notices,
            source: None,
            open_at: Some(Instant::now()),
        };
        let mut encoders = CodecEncoders::default();
        let mut shown: u32 = 0;
        while !self.ctx.stop.load(Ordering::Relaxed) {
            if let Some(choice) = state.switch_to.lock().unwrap().take() {
                self.choice = choice;
                keeper.close();
                keeper.open_at = Some(Instant::now());
            }
            if state.user_off.load(Ordering::Relaxed) {
                // Camera off: a real camera is closed so its light goes out; reopened when on.
                if keeper.source.as_ref().is_some_and(|s| s.is_device()) {
                    keeper.close();
                    keeper.open_at = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let choice = self.choice.clone();
            if keeper.open_if_due(|| Self::open(&choice, &self.ctx.settings)) {
                self.request_keyframes();
            }
            let Some(source) = keeper.source.as_mut() else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            // Until the source's next frame is due (a synthetic camera keeps a fixed schedule).
            let poll = source
                .poll_interval()
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            match source.next_frame() {
                Ok(Some(frame)) => {
                    shown = shown.wrapping_add(1);
                    self.send(&frame, &mut encoders, shown);
                    self.show(&frame, shown);
                }
                Ok(None) => {}
                Err(lost) => {
                    keeper.lost(&lost);
                    // The default camera stands in for a vanished one, if there is another.
                    if matches!(self.choice, SourceChoice::Device(_)) {
                        self.choice = SourceChoice::Device("default".into());
                    }
                    continue;
                }
            }
            std::thread::sleep(poll);
        }
    }

    fn request_keyframes(&self) {
        self.streams.request_keyframe();
    }

    /// Encode `frame` once per stream (codec × layer) someone sends (H.264 at full size when
    /// nobody does); a new encoder when the picture size changes (another camera, another mode).
    /// Each encoder runs at the lowest budget of the connections that receive it.
    fn send(&self, frame: &I420Frame, encoders: &mut CodecEncoders, counter: u32) {
        let captured_at = Instant::now();
        let anyone = self.streams.videos.iter().flatten().any(|out| out.receiver_count() > 0);
        let mut half: Option<Option<I420Frame>> = None;
        let mut sent = false;
        for codec in VideoCodec::OFFERED {
            for layer in 0..LAYERS {
                let out = &self.streams.videos[codec.index()][layer];
                let slot = &mut encoders.0[codec.index()][layer];
                let fallback = !anyone && codec == VideoCodec::H264 && layer == 0;
                if out.receiver_count() == 0 && !fallback {
                    // Nobody sends this stream: no encoder (its next subscriber starts at a keyframe).
                    *slot = None;
                    continue;
                }
                let budget = self.streams.lowest_budget(codec, layer);
                if budget.is_some_and(|b| !counter.is_multiple_of(crate::adapt::frame_divisor(layer, b))) {
                    continue;
                }
                let picture = if layer == 0 {
                    frame
                } else {
                    match half.get_or_insert_with(|| half_size_stamped(frame)) {
                        Some(picture) => picture,
                        None => continue,
                    }
                };
                let (min, max) = crate::adapt::layer_range(layer, self.full_size_bitrate(frame));
                let wanted = budget.map_or(max, |b| (b as u32).clamp(min, max));
                if slot
                    .as_ref()
                    .is_none_or(|e| e.encoder.size() != (picture.width, picture.height))
                {
                    *slot = self.new_encoder(codec, picture, wanted).map(|encoder| StreamEncoder {
                        encoder,
                        last_keyframe: captured_at - KEYFRAME_INTERVAL,
                        bitrate_bps: wanted,
                        keyframes_made: 0,
                    });
                    self.streams.request_keyframe_for_layer(codec, layer);
                }
                let Some(stream) = slot.as_mut() else { continue };
                // Follow the budget within a frame; small wobbles are not worth a call.
                if stream.bitrate_bps.abs_diff(wanted) > stream.bitrate_bps / 20 {
                    match stream.encoder.set_bitrate(wanted) {
                        Ok(()) => stream.bitrate_bps = wanted,
                        Err(e) => tracing::debug!(%codec, layer, "bitrate change refused: {e}"),
                    }
                }
                let flag = &self.streams.keyframe_requested[codec.index()][layer];
                let since_keyframe = captured_at.duration_since(stream.last_keyframe);
                // Requests within `KEYFRAME_SPACING` of the last keyframe wait (they stay set):
                // several receivers asking at once get one keyframe, not a storm of them. The
                // first keyframe of a new encoder is repeated at once when asked: it goes out the
                // moment a call connects, and a remote whose DTLS finished a moment later drops
                // it (relay-only calls showed their first frame 250 ms late, waiting here).
                let may_repeat_first = stream.keyframes_made == 1;
                let force = ((since_keyframe >= KEYFRAME_SPACING || may_repeat_first)
                    && flag.swap(false, Ordering::Relaxed))
                    || since_keyframe >= KEYFRAME_INTERVAL;
                match stream.encoder.encode(picture, force) {
                    Ok(encoded) => {
                        if encoded.keyframe {
                            stream.last_keyframe = captured_at;
                            stream.keyframes_made = stream.keyframes_made.saturating_add(1);
                        }
                        if !encoded.data.is_empty() {
                            sent = true;
                            let _ = out.send(Arc::new(EncodedFrame {
                                data: Bytes::from(encoded.data),
                                keyframe: encoded.keyframe,
                                captured_at,
                                width: picture.width,
                                height: picture.height,
                            }));
                        }
                    }
                    Err(e) => tracing::warn!(%codec, layer, "video encode failed: {e}"),
                }
            }
        }
        if sent {
            self.frames_sent.fetch_add(1, Ordering::Relaxed);
        }
        let interval = 1.0 / f64::from(self.ctx.settings.fps.max(1));
        let load = captured_at.elapsed().as_secs_f64() / interval;
        let smoothed = 0.9 * self.streams.encode_load() + 0.1 * load.min(4.0);
        self.streams
            .encode_load
            .store((smoothed * 1000.0) as u64, Ordering::Relaxed);
    }

    /// The full-size layer's top bitrate: the configured one, in proportion to the picture's
    /// area (a 720p camera gets more than 360p).
    fn full_size_bitrate(&self, frame: &I420Frame) -> u32 {
        let settings = &self.ctx.settings;
        let area = f64::from(frame.width * frame.height) / f64::from((settings.width * settings.height).max(1));
        ((f64::from(settings.bitrate_bps) * area) as u32)
            .clamp(settings.bitrate_bps / 2, MAX_CAMERA_BITRATE.max(settings.bitrate_bps))
    }

    fn new_encoder(&self, codec: VideoCodec, frame: &I420Frame, bitrate: u32) -> Option<AnyEncoder> {
        match AnyEncoder::new(codec, frame.width, frame.height, self.ctx.settings.fps as f32, bitrate) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(%codec, "cannot encode {}x{} video: {e}", frame.width, frame.height);
                None
            }
        }
    }

    /// The self view.
    fn show(&self, frame: &I420Frame, counter: u32) {
        let Some(view) = &self.view else { return };
        let capture_ms = natter_media::read_stamp(frame).map(|stamp| stamp.capture_ms);
        if let Some(frame) = view.tile_size.frame("local", "You", frame, counter, capture_ms) {
            view.offer(ViewEvent::Frame(frame));
        }
    }
}

struct AudioThread {
    ctx: ThreadContext,
    choice: SourceChoice,
    state: Arc<LocalSource>,
    out: broadcast::Sender<Arc<EncodedAudio>>,
    encoder: AudioEncoder,
    /// What the connections report losing (shared with `EncodedStreams`), and what Opus was last
    /// told to expect.
    link_loss: Arc<Mutex<std::collections::HashMap<u64, f64>>>,
    expected_loss: Option<f64>,
    /// Where the microphone's level goes (the self view's meter), every `LEVEL_EVERY` frames.
    view: Option<ViewSink>,
    level: natter_media::LevelMeter,
}

/// The microphone's level is told to the view 10 times a second.
const LEVEL_EVERY: usize = 5;

impl AudioThread {
    /// Measure what the source gave (muted or not: the meter shows a muted microphone that
    /// hears you) and tell the view now and then.
    fn measure_level(&mut self, frames: &[Vec<i16>]) {
        let Some(view) = &self.view else { return };
        for pcm in frames {
            if let Some(dbfs) = self.level.push(pcm, LEVEL_EVERY) {
                view.offer(ViewEvent::Level {
                    tile_id: "local".into(),
                    dbfs,
                });
            }
        }
    }

    /// Opus's in-band FEC follows the worst link's loss (told again only when it moved).
    fn follow_loss(&mut self) {
        let worst = self.link_loss.lock().unwrap().values().copied().fold(0.0, f64::max);
        if self.expected_loss.is_none_or(|told| (told - worst).abs() > 0.02) {
            match self.encoder.set_expected_loss(worst) {
                Ok(()) => self.expected_loss = Some(worst),
                Err(e) => tracing::debug!("Opus refused a loss figure: {e}"),
            }
        }
    }

    fn open(choice: &SourceChoice, settings: &MediaSettings) -> Result<(Box<dyn AudioSource>, String), DeviceError> {
        let source: Box<dyn AudioSource> = match choice {
            SourceChoice::Synthetic => Box::new(SyntheticMic::new(300.0 + 40.0 * (settings.seed % 10) as f32)),
            SourceChoice::Device(name) => {
                let mic = natter_devices::Microphone::open(Some(name))?;
                tracing::info!(device = %mic.name, rate = mic.device_rate, channels = mic.channels, "capturing audio");
                Box::new(mic)
            }
        };
        let label = source.label();
        Ok((source, label))
    }

    fn run(mut self) {
        let state = Arc::clone(&self.state);
        let notices = self.ctx.notices.clone();
        let mut keeper: SourceKeeper<'_, dyn AudioSource> = SourceKeeper {
            medium: Medium::Microphone,
            state: &state,
            notices: &notices,
            source: None,
            open_at: Some(Instant::now()),
        };
        let mut next = Instant::now();
        while !self.ctx.stop.load(Ordering::Relaxed) {
            next += AUDIO_FRAME;
            if let Some(choice) = state.switch_to.lock().unwrap().take() {
                self.choice = choice;
                keeper.close();
                keeper.open_at = Some(Instant::now());
            }
            let choice = self.choice.clone();
            keeper.open_if_due(|| Self::open(&choice, &self.ctx.settings));
            if let Some(source) = keeper.source.as_mut() {
                // Muted: the source keeps running (the tone its phase, the device its buffer
                // fresh); nothing is encoded or sent.
                let read = source.read_frames();
                if let Ok(frames) = &read {
                    self.measure_level(frames);
                }
                match read {
                    Ok(frames) if !state.user_off.load(Ordering::Relaxed) => {
                        self.follow_loss();
                        for pcm in frames {
                            match self.encoder.encode(&pcm) {
                                Ok(packet) => {
                                    let _ = self.out.send(Arc::new(EncodedAudio {
                                        data: Bytes::from(packet),
                                    }));
                                }
                                Err(e) => tracing::warn!("audio encode failed: {e}"),
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(lost) => {
                        keeper.lost(&lost);
                        if matches!(self.choice, SourceChoice::Device(_)) {
                            self.choice = SourceChoice::Device("default".into());
                        }
                    }
                }
            }
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else if now - next > AUDIO_FRAME * 5 {
                next = now; // stalled (a slow device open): do not burst to catch up
            }
        }
    }
}

/// The half-size layer of a frame, carrying the same stamp (counter and capture time) when the
/// frame has one, so receivers of either layer measure the same way. Real cameras' frames have no
/// stamp and are only scaled.
fn half_size_stamped(frame: &I420Frame) -> Option<I420Frame> {
    let mut half = frame.half_size()?;
    if let Some(stamp) = natter_media::read_stamp(frame)
        && natter_media::stamp_fits(half.width, half.height)
    {
        natter_media::stamp_frame(&mut half, stamp);
    }
    Some(half)
}
