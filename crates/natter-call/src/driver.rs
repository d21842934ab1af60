//! The participant's driver: the I/O around its `CallCore` (see the run-loop contract in
//! `call_core`). One `select!` waits for signaling, the links' news, rejoin attempts, the
//! application's requests, device notices and the core's deadline; each becomes one input; the
//! core's outputs are then performed in order, none of them waiting: what is slow (a stack call,
//! a probe of the ICE servers, a rejoin) runs in a task and comes back as an input.

use crate::call_core::{CallCore, Command, ConfigFor, Input, LinkOp, OpResult, Output};
use crate::link_task::{self, FromLink, LinkContext, LinkHandle, Received, Tagged};
use crate::media;
use crate::participant::{ParticipantConfig, SignalLine};
use crate::records::Records;
use crate::sync::Locked;
use crate::view::ViewEvent;
use natter_signal::client::{JoinRequest, SignalClient};
use natter_signal::protocol::{ServerMessage, Welcome};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Requests from the application to a running participant.
pub(crate) enum Request {
    Core(Command),
    /// Microphone / camera off (`true`) or on.
    SetMuted {
        audio: Option<bool>,
        video: Option<bool>,
    },
    /// Panic in the driver while holding the shared records (tests of crash isolation).
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// What a rejoin attempt came to.
enum Rejoined {
    Back(SignalClient, Welcome, mpsc::Receiver<ServerMessage>),
    Failed { refused: Option<String> },
}

/// The driver: I/O around the core (see `call_core`'s run-loop contract).
pub(crate) struct Driver {
    pub core: CallCore,
    pub context: LinkContext,
    pub config: ParticipantConfig,
    pub line: SignalLine,
    /// How we joined (with our rejoin key), to join again the same way after a drop.
    pub join_request: JoinRequest,
    pub links: HashMap<String, LinkHandle>,
    /// Numbers link tasks, so that a late event of a closed link is not taken for a new one's.
    pub epochs: u64,
    pub records: Arc<Records>,
    pub encoded: media::EncodedStreams,
    /// Messages to the signaling server, sent in order by one task (`send_in_order`).
    pub outbox: mpsc::UnboundedSender<natter_signal::protocol::ClientMessage>,
}

/// Send what the core says on signaling, in the order it says it (an offer before its
/// candidates, mute states in the order they changed), on whichever connection is current.
pub(crate) async fn send_in_order(
    line: SignalLine,
    mut outbox: mpsc::UnboundedReceiver<natter_signal::protocol::ClientMessage>,
    participant: String,
) {
    while let Some(message) = outbox.recv().await {
        if let Err(e) = line.current().send(message).await {
            tracing::warn!(participant, "signaling send failed: {e}");
        }
    }
}

impl Driver {
    pub async fn run(
        mut self,
        mut server_rx: mpsc::Receiver<ServerMessage>,
        mut from_links: mpsc::UnboundedReceiver<Tagged>,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut notices: mpsc::UnboundedReceiver<crate::capture::MediaNotice>,
    ) {
        let (inputs_tx, mut inputs) = mpsc::unbounded_channel::<Input>();
        let (rejoined_tx, mut rejoined) = mpsc::unbounded_channel::<Rejoined>();
        let mut signaling_up = true;
        self.perform_outputs(&inputs_tx, &rejoined_tx);
        loop {
            let deadline = self.core.poll_timeout().map(|(at, _)| at);
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let input = tokio::select! {
                _ = timer => Input::Timeout,
                message = server_rx.recv(), if signaling_up => match message {
                    Some(message) => Input::Server(message),
                    None => {
                        // Calls in progress go on (they need no signaling); join again meanwhile.
                        signaling_up = false;
                        Input::SignalingLost
                    }
                },
                Some(tagged) = from_links.recv() => match self.on_link_news(tagged) {
                    Some(input) => input,
                    None => continue,
                },
                Some(input) = inputs.recv() => input,
                Some(attempt) = rejoined.recv() => match attempt {
                    Rejoined::Back(client, welcome, rx) => {
                        *self.line.0.locked() = client;
                        server_rx = rx;
                        signaling_up = true;
                        Input::SignalingBack(welcome)
                    }
                    Rejoined::Failed { refused } => Input::RejoinFailed { refused },
                },
                Some(request) = requests.recv() => match self.on_request(request) {
                    Some(input) => input,
                    None => continue,
                },
                Some(notice) = notices.recv() => {
                    // A local device changed (none found, lost, back): the user learns what
                    // happened, the others whether we still send.
                    self.show(ViewEvent::Notice { medium: notice.medium.into(), message: notice.message });
                    self.local_media()
                }
            };
            self.core.handle_input(input, Instant::now());
            self.perform_outputs(&inputs_tx, &rejoined_tx);
        }
    }

    /// A link task's news, unless it comes from a link that was replaced since.
    fn on_link_news(&mut self, tagged: Tagged) -> Option<Input> {
        let current = self.links.get(&tagged.remote).map(|l| l.epoch);
        let is_current = current == Some(tagged.epoch);
        // News from a link a newer one replaced is stale. A link that is closing (no current
        // one) still reports what was asked of it before its close (the path at leaving).
        if current.is_some() && !is_current {
            return None;
        }
        match tagged.what {
            FromLink::Opened { pc, outgoing } => {
                if is_current {
                    self.records.opened(&tagged.remote, pc, outgoing);
                }
                None
            }
            FromLink::Input(input) => {
                if is_current
                    && let Input::Done {
                        result: OpResult::OpenFailed(_),
                        ..
                    } = &input
                {
                    self.links.remove(&tagged.remote);
                }
                Some(input)
            }
        }
    }

    fn on_request(&mut self, request: Request) -> Option<Input> {
        match request {
            Request::Core(command) => Some(Input::Command(command)),
            Request::SetMuted { audio, video } => {
                if let Some(muted) = audio {
                    self.encoded.set_audio_muted(muted);
                }
                if let Some(muted) = video {
                    self.encoded.set_video_muted(muted);
                }
                Some(self.local_media())
            }
            #[cfg(feature = "fault-injection")]
            Request::Panic => {
                let _held = self.records.signaling.locked();
                panic!("injected fault: the engine of {} panics", self.config.name);
            }
        }
    }

    fn local_media(&self) -> Input {
        let (audio_muted, video_muted) = (self.encoded.audio_muted(), self.encoded.video_muted());
        tracing::info!(participant = %self.core.id(), audio_muted, video_muted, "media state");
        Input::LocalMedia {
            audio_muted,
            video_muted,
        }
    }

    /// Perform every output of the core, in order. Nothing here waits: what is slow runs in a
    /// task and comes back as an input.
    fn perform_outputs(&mut self, inputs: &mpsc::UnboundedSender<Input>, rejoined: &mpsc::UnboundedSender<Rejoined>) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Signal(message) => {
                    let _ = self.outbox.send(message);
                }
                Output::Link { remote, op } => self.link_op(&remote, op),
                Output::FetchWorkingConfig { remote, purpose } => self.fetch_working_config(remote, purpose, inputs),
                Output::UseIceServers(ice) => {
                    // The servers every later connection and working configuration start from.
                    self.context.settings.ice = ice.clone();
                    let (board, inputs) = (self.config.board.clone(), inputs.clone());
                    tokio::spawn(async move {
                        if let Some(board) = board {
                            board.set_base(ice).await;
                        }
                        let _ = inputs.send(Input::IceServersApplied);
                    });
                }
                Output::Rejoin => self.rejoin(rejoined),
                Output::SampleMedia(remotes) => {
                    let samples = self.records.media_samples(&remotes, self.context.joined_at);
                    let _ = inputs.send(Input::MediaSamples(samples));
                }
                Output::RequestKeyframe => self.encoded.request_keyframe(),
                Output::ServerFailed { url, cause } => {
                    if let Some(board) = &self.config.board {
                        board.report_failure(&url, &cause);
                    }
                }
                Output::View(event) => self.show(event),
                Output::Record(record) => self.records.set_call(record),
                Output::Signaling(report) => *self.records.signaling.locked() = report,
                Output::Departed { remote } => self.records.departed(&remote, self.encoded.encode_load()),
                Output::Forget { remote } => self.records.forget(&remote),
                Output::GatheredFrom(url) => {
                    self.records.gathered_from.locked().insert(url);
                }
            }
        }
    }

    fn link_op(&mut self, remote: &str, op: LinkOp) {
        match op {
            LinkOp::Open { video_preference } => {
                self.epochs += 1;
                let received = Arc::new(Received::default());
                self.records.opening(remote, Arc::clone(&received));
                let name = self
                    .core
                    .record(remote)
                    .map(|r| r.remote_name.clone())
                    .unwrap_or_default();
                let handle = link_task::spawn(&self.context, remote, &name, self.epochs, video_preference, received);
                self.links.insert(remote.to_string(), handle);
            }
            LinkOp::Close => {
                if let Some(link) = self.links.remove(remote) {
                    link.perform(LinkOp::Close);
                }
            }
            op => {
                if let Some(link) = self.links.get(remote) {
                    link.perform(op);
                }
            }
        }
    }

    /// The servers that work now (a probe of up to a few seconds, off the loop).
    fn fetch_working_config(&self, remote: String, purpose: ConfigFor, inputs: &mpsc::UnboundedSender<Input>) {
        let (board, base, inputs) = (
            self.config.board.clone(),
            self.context.settings.ice.clone(),
            inputs.clone(),
        );
        tokio::spawn(async move {
            let (config, dropped) = match board {
                Some(board) => board.working_config().await,
                None => (base, Vec::new()),
            };
            let result = OpResult::WorkingConfig {
                purpose,
                config,
                dropped,
            };
            let _ = inputs.send(Input::Done { remote, result });
        });
    }

    /// One attempt to join signaling again (same rejoin key, so the same id).
    fn rejoin(&self, rejoined: &mpsc::UnboundedSender<Rejoined>) {
        let (url, request, rejoined) = (
            self.config.signal_url.clone(),
            self.join_request.clone(),
            rejoined.clone(),
        );
        let participant = self.core.id().to_string();
        tokio::spawn(async move {
            let attempt = match SignalClient::join_request(&url, &request).await {
                Ok((client, welcome, rx)) => Rejoined::Back(client, welcome, rx),
                Err(natter_signal::SignalError::Rejected { code, message })
                    if code != natter_signal::protocol::ErrorCode::RateLimited =>
                {
                    Rejoined::Failed {
                        refused: Some(format!(
                            "the signaling server refused to let us back in ({code}): {message}"
                        )),
                    }
                }
                Err(e) => {
                    tracing::debug!(participant, "signaling not back yet: {e}");
                    Rejoined::Failed { refused: None }
                }
            };
            let _ = rejoined.send(attempt);
        });
    }

    fn show(&self, event: ViewEvent) {
        if let Some(view) = &self.config.view {
            view.tell(event);
        }
    }
}
