// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs). Do not edit:
// run `NATTER_UPDATE_BINDINGS=1 cargo test -p natter --bin natter bindings` after changing a Rust type or command.

import { invoke, type Channel } from "./tauri";

export type CredentialType = "password" | "shared-secret";

export type ServerEntry = { 
/**
 * Stable identifier: the key of its credential in the `SecretStore`.
 */
id: string, 
/**
 * `stun:`, `turn:` or `turns:` URLs, as typed.
 */
urls: Array<string>, username: string | null, credentialType: CredentialType, 
/**
 * A credential for this entry is in the secret store.
 */
hasCredential: boolean, };

export type Settings = { 
/**
 * The name others see.
 */
displayName: string, 
/**
 * ICE servers in the order they are offered to connections.
 */
servers: Array<ServerEntry>, 
/**
 * Chosen devices by id (`None`: the system default / the synthetic source).
 */
camera: string | null, microphone: string | null, speaker: string | null, 
/**
 * Write detailed (debug) logs from the next start (`NATTER_LOG` still wins).
 */
detailedLogs: boolean, };

export type CredentialUpdate = { id: string, credential: string | null, };

export type UrlsCheck = { 
/**
 * The URLs, as `split_urls` reads the box.
 */
urls: Array<string>, 
/**
 * One sentence per URL that is not a valid STUN/TURN URL: the parser's message, the very
 * words `natter probe` prints for it. Empty when every URL is fine (and there is one).
 */
problems: Array<string>, 
/**
 * Some URL is `turn:` or `turns:`: the server needs a username and a credential.
 */
relay: boolean, };

export type ParticipantReport = { id: string, name: string, peers: Array<PeerReport>, 
/**
 * Frames this participant encoded and sent.
 */
frames_sent: number, 
/**
 * What this participant sends from: its camera and microphone, and why one is missing.
 */
local_media: LocalMediaReport, 
/**
 * Its connection to the signaling server: drops and returns (calls go on without it).
 */
signaling: SignalingReport, 
/**
 * Set if this participant's call engine stopped on an internal error (a bug): what it was.
 * Its calls were ended and the others saw it leave; other participants went on.
 */
crashed: string | null, };

export type LocalMediaReport = { camera: LocalSourceReport, microphone: LocalSourceReport, };

export type LocalSourceReport = { 
/**
 * What is captured from ("Integrated Camera", "test pattern (synthetic camera)"); absent
 * when no device is open.
 */
device: string | null, 
/**
 * Is this medium going out right now (a device is open and the user has not turned it off)?
 */
sending: boolean, 
/**
 * The user turned it off.
 */
off: boolean, 
/**
 * Why there is no device: "no device" | "busy" | "permission denied" | "failed" | "lost".
 */
problem: string | null, 
/**
 * The last thing the user was told about it, in a sentence.
 */
message: string | null, };

export type SignalingReport = { 
/**
 * "connected" | "reconnecting" | "refused" (the server refused the rejoin: see `events`).
 */
state: SignalingState, 
/**
 * Times the connection came back after a drop.
 */
reconnects: number, 
/**
 * `lost` / `reconnected` / `refused`, in words, with the time since joining.
 */
events: Array<PeerEvent>, };

export type PeerReport = { remote: string, remote_name: string, 
/**
 * W3C RTCPeerConnectionState: "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed".
 */
state: PeerState, 
/**
 * join → ICE + DTLS connected.
 */
connect_ms: number | null, 
/**
 * join → first decoded remote frame.
 */
first_frame_ms: number | null, path: PathReport | null, video: VideoReport, audio: AudioReport, rtt_ms: number | null, 
/**
 * join → the remote left the room (its connection is then closed; `state` is the last
 * state before it left). Absent while the remote is in the call.
 */
left_ms?: number, 
/**
 * join → the most recent decoded frame from this remote.
 */
last_frame_ms: number | null, 
/**
 * What happened to this connection, in order (connected, disconnected, ice_restart, …).
 */
events: Array<PeerEvent>, 
/**
 * RTP bytes received from this remote (audio + video), from the stack's stats.
 */
bytes_received: number, 
/**
 * RTP packets received from this remote (audio + video).
 */
packets_received: number, 
/**
 * RTP packets the stack counts as lost (RFC 3550 cumulative loss; may go negative with duplicates).
 */
packets_lost: number, 
/**
 * Interarrival jitter (largest of the remote's streams), milliseconds.
 */
jitter_ms: number | null, 
/**
 * The remote turned its microphone / camera off (as it told us through signaling).
 */
remote_audio_muted: boolean, remote_video_muted: boolean, 
/**
 * What we sent this remote and what it says it received (its RTCP reports).
 */
sent: SentReport, 
/**
 * Why our video to this remote is below its best (W3C `qualityLimitationReason`):
 * "bandwidth" (the path carries less: a smaller picture or fewer bits) | "cpu" (encoding takes
 * most of each frame interval: frames are skipped) | "none".
 */
quality_limitation: string, 
/**
 * The same for the user, e.g. "Your connection to Bob carries about 300 kbit/s: video
 * reduced to 320×180". Absent when nothing is limited.
 */
quality_note?: string, };

export type PeerEvent = { 
/**
 * join → the event.
 */
at_ms: number, kind: EventKind, 
/**
 * Plain words for the user.
 */
detail: string, };

export type PeerState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

export type EventKind = "connected" | "recovered" | "disconnected" | "failed" | "ice_restart" | "refused" | "gave_up" | "codec" | "ignored" | "video_stalled" | "video_resumed" | "lost" | "reconnected";

export type SignalingState = "connected" | "reconnecting" | "refused";

export type Freeze = { from_ms: number, to_ms: number, };

export type PathReport = { 
/**
 * "host" | "srflx" | "prflx" | "relay"
 */
local_candidate: CandidateType, remote_candidate: CandidateType, 
/**
 * "udp" | "tcp" (between us and the next hop)
 */
protocol: string, 
/**
 * The TURN URL of the relay in use, if any.
 */
relay_server: string | null, 
/**
 * "udp" | "tcp" | "tls": how we reach that TURN server.
 */
relay_transport: string | null, 
/**
 * Why the path looks as it does, when that is not obvious: e.g. the remote hid its host
 * addresses behind mDNS names we could not resolve, so its address was learned from its
 * connectivity checks (`prflx`).
 */
note?: string, };

export type CandidateType = "host" | "srflx" | "prflx" | "relay" | "unknown";

export type VideoReport = { frames_received: number, frames_decoded: number, frames_lost: number, 
/**
 * Decoded frames without a readable stamp: 0 from a synthetic sender (else damage), every
 * frame from a real camera (which is not stamped).
 */
frames_unreadable: number, latency_ms_p50: number | null, latency_ms_p95: number | null, 
/**
 * Gaps of more than 200 ms between new pictures (stalled video, or a sender that turned its
 * camera off), counted since joining, with the one going on when the report was taken (on a
 * connection that is up, from a sender whose camera is on).
 */
freeze_count: number, longest_freeze_ms?: number, 
/**
 * The most recent freezes (at most 32), oldest first.
 */
freezes: Array<Freeze>, 
/**
 * Packets the jitter buffer put back in order (they arrived after a later one), and packets
 * it stopped waiting for (lost even after resends; the frame they belonged to was lost).
 */
packets_reordered: number, packets_given_up: number, };

export type SentReport = { video: SentStreamReport, audio: SentStreamReport, };

export type SentStreamReport = { 
/**
 * Codec and payload type negotiated for it ("H264/90000 as payload type 108"); absent
 * until negotiated, or when nothing we can send was agreed.
 */
codec: string | null, 
/**
 * RTP packets we sent.
 */
packets_sent: number, 
/**
 * Reception reports the remote sent about this stream.
 */
reports: number, 
/**
 * What the remote's last report says it received, lost (cumulative) and the fraction lost
 * since its previous report (0–1).
 */
remote_packets_received: number, remote_packets_lost: number, remote_fraction_lost: number, remote_jitter_ms: number, 
/**
 * Round-trip time from the report's LSR/DLSR.
 */
rtt_ms: number | null, 
/**
 * Video only: what the path carries by our bandwidth estimate (absent without congestion
 * control, e.g. `--stack-defaults`), kbit/s.
 */
target_kbps?: number, 
/**
 * Video only: what we sent over the last second, kbit/s (media, no retransmissions).
 */
bitrate_kbps?: number, 
/**
 * Video only: the picture size sent now ("640x360"; a lower simulcast layer when the path
 * carries less).
 */
resolution?: string, 
/**
 * Video only: every change of the size sent (the first picture included), oldest first.
 */
resolution_changes: Array<ResolutionChange>, 
/**
 * Video only: pictures this link was to carry since its first frame went out (written, or
 * skipped while the writer waited for a keyframe); the remote's decoded frames over this is
 * what the link delivered, set-up left out.
 */
frames_sent?: number, 
/**
 * Video only: NACKed packets we resent (RTX), and requests our bound on resends declined
 * (repeats within a round trip, or beyond 10 % of the estimate).
 */
retransmitted_packets: number, retransmissions_withheld: number, };

export type ResolutionChange = { at_ms: number, width: number, height: number, };

export type AudioReport = { packets_received: number, 
/**
 * When this participant plays the remote's audio (`--speaker`): its jitter buffer.
 */
playout?: PlayoutReport, };

export type PlayoutReport = { 
/**
 * Frames played as received.
 */
played: number, 
/**
 * Frames filled by packet-loss concealment (missing or not yet arrived).
 */
concealed: number, 
/**
 * Frames lost in transit and rebuilt from the next packet's redundant copy (Opus in-band
 * FEC): heard as received, so not counted in `concealed`.
 */
recovered: number, 
/**
 * Packets that arrived after their turn (dropped).
 */
late: number, duplicates: number, 
/**
 * Frames dropped to keep the delay down (sender clock faster than ours).
 */
dropped_for_drift: number, 
/**
 * Audio buffered when the report was taken, and the delay the buffer aims for.
 */
depth_ms: number, target_ms: number, };

export type ServerHealth = { url: string, transport: ProbeTransport, status: ProbeStatus, 
/**
 * Round trip of the request that got the final answer.
 */
rtt_ms: number | null, 
/**
 * Our address as the server saw it (XOR-MAPPED-ADDRESS).
 */
mapped_address: string | null, 
/**
 * The relay address a TURN server allocated.
 */
relayed_address: string | null, 
/**
 * Plain words: what failed and what to do. `None` when ok.
 */
error: string | null, 
/**
 * Requests sent (including retransmits).
 */
attempts: number, 
/**
 * From the first request to the result.
 */
elapsed_ms: number, };

export type ProbeResult = { status: ProbeStatus, 
/**
 * Round trip of the request that got the final answer.
 */
rtt_ms: number | null, 
/**
 * Our address as the server saw it (XOR-MAPPED-ADDRESS).
 */
mapped_address: string | null, 
/**
 * The relay address a TURN server allocated.
 */
relayed_address: string | null, 
/**
 * Plain words: what failed and what to do. `None` when ok.
 */
error: string | null, 
/**
 * Requests sent (including retransmits).
 */
attempts: number, 
/**
 * From the first request to the result.
 */
elapsed_ms: number, };

export type ProbeStatus = "ok" | "auth_failed" | "forbidden" | "allocation_mismatch" | "wrong_credentials" | "unsupported_transport" | "quota" | "capacity" | "unreachable" | "timeout" | "tls_failed" | "protocol_error" | "server_error";

export type ProbeTransport = "udp" | "tcp" | "tls";

export type HealthTransition = { url: string, transport: ProbeTransport, 
/**
 * `None` for the first result.
 */
from: ProbeStatus | null, to: ProbeStatus, 
/**
 * Seconds since the UNIX epoch when the new status was observed.
 */
at_unix: number, 
/**
 * E.g. "turn:a.example:3478 UDP became unreachable at 12:03:41 UTC: timeout after 4 tries".
 */
message: string, };

export type SettingsView = { settings: Settings, 
/**
 * Where passwords go, in a sentence (keyring or the stated fallback).
 */
credentialStorage: string, configDir: string, };

export type ImportedServers = { servers: Array<ServerEntry>, credentials: Array<CredentialUpdate>, };

export type DeviceKind = "camera" | "microphone" | "speaker";

export type Device = { id: string, label: string, 
/**
 * A generated source (test pattern, tone), not hardware.
 */
synthetic: boolean, };

export type Devices = { cameras: Array<Device>, microphones: Array<Device>, speakers: Array<Device>, 
/**
 * Why the lists are what they are, for the page to show.
 */
note: string, 
/**
 * The saved choice per list (an `id` above; "default" for the system's).
 */
camera: string, microphone: string, speaker: string, };

export type LogsInfo = { 
/**
 * The log directory, if this platform has one.
 */
directory: string | null, 
/**
 * "Detailed logs" is chosen (it takes effect at the next start).
 */
detailed: boolean, 
/**
 * `NATTER_LOG` / `RUST_LOG` is set and decides the level instead.
 */
overridden: boolean, };

export type ErrorCode = "noBackend" | "noConfigDir" | "settingsUnreadable" | "settingsUnwritable" | "settingsDamaged" | "keyringRefused" | "invalidIceConfig" | "invalidIceUrl" | "invalidSignalUrl" | "missingRoom" | "signalingUnreachable" | "roomLocked" | "signalingRefused" | "signalingFailed" | "mediaFailed" | "callFailed" | "exportFailed" | "deviceFailed";

export type AppError = { code: ErrorCode, 
/**
 * One sentence for the user (the crates' own words).
 */
message: string, };

export type CallKind = "demo" | "render-test" | "room";

export type CallInfo = { room: string, mode: CallKind, 
/**
 * Set when the saved ICE servers could not be used (the call runs without them).
 */
iceWarning: string | null, 
/**
 * The microphone starts off (the user turned it off in an earlier call).
 */
audioMuted: boolean, 
/**
 * The camera starts off.
 */
videoMuted: boolean, };

export type MediaKind = "audio" | "video";

export type JoinRequest = { 
/**
 * `ws://host:port` (or `wss://`) of a `natter signal-server`.
 */
signalUrl: string, room: string, name: string, 
/**
 * The room's secret (optional): locks a room this join opens, opens a locked one.
 */
roomSecret?: string, };

export type StatsSample = { 
/**
 * Milliseconds since the call started.
 */
atMs: number, report: ParticipantReport, };

export type TileState = "connecting" | "connected" | "failed" | "left";

export type NoticeAbout = "call" | "camera" | "microphone" | "speaker" | "signaling";

export type Presence = "joined" | "left" | "lost";

export type CallMessage = { "type": "status", 
/**
 * `"local"` for the self view, otherwise the remote participant id.
 */
tileId: string, label: string, state: TileState, 
/**
 * One plain sentence ("checking paths…", "relayed via turn:…").
 */
detail: string, } | { "type": "media", tileId: string, audioMuted: boolean, videoMuted: boolean, } | { "type": "presence", tileId: string, label: string, change: Presence, } | { "type": "notice", medium: NoticeAbout, message: string, } | { "type": "level", tileId: string, dbfs: number, } | { "type": "stats" } & StatsSample | { "type": "ended" };

export type TilePainting = { 
/**
 * `"local"` for the self view, otherwise the remote participant id.
 */
tile_id: string, 
/**
 * Frames painted per second.
 */
painted_fps: number, 
/**
 * Frames per second that reached the tile's pipeline but were never painted (a newer one
 * replaced them first).
 */
dropped_fps: number, 
/**
 * Capture-to-paint latency (the sender's stamp to the page's paint call), when the pictures
 * carry stamps: synthetic sources do, cameras do not.
 */
capture_to_paint_p50_ms: number | null, capture_to_paint_p95_ms: number | null, 
/**
 * Since the tile appeared.
 */
painted_total: number, dropped_total: number, 
/**
 * "webgl" or "2d": which way the page paints.
 */
renderer: string, };

export type PreviewSource = "devices" | "call";

/** The backend's commands (src-tauri/src/commands.rs), typed. Failures reject with an `AppError`. */
export const commands = {
  /**
   * Start the call this window shows (the demo, or the room joined), streamed on the channel.
   * Replaces a running call.
   */
  startCall: (onEvent: Channel<CallMessage | ArrayBuffer>, join: JoinRequest | null): Promise<CallInfo> => invoke<CallInfo>("start_call", { onEvent, join }),
  /**
   * Leave (stop) the call. Idempotent.
   */
  leaveCall: (): Promise<void> => invoke<void>("leave_call"),
  /**
   * Turn the local microphone or camera off or on in the running call.
   */
  setMuted: (kind: MediaKind, muted: boolean): Promise<void> => invoke<void>("set_muted", { kind, muted }),
  /**
   * The page drew (or discarded) `count` frame messages.
   */
  framesDrawn: (count: number): Promise<void> => invoke<void>("frames_drawn", { count }),
  /**
   * Show the chosen camera and microphone without a call (the pre-join screen, the Devices
   * page) on the channel: self-view frames, level, notices. In a call, the call's own.
   */
  startPreview: (onEvent: Channel<CallMessage | ArrayBuffer>): Promise<PreviewSource> => invoke<PreviewSource>("start_preview", { onEvent }),
  /**
   * Stop the preview (the devices are released). Idempotent.
   */
  stopPreview: (): Promise<void> => invoke<void>("stop_preview"),
  /**
   * Play a short test tone on the chosen speaker; its name.
   */
  playTestTone: (): Promise<string> => invoke<string>("play_test_tone"),
  /**
   * The page draws its tiles at `width` × `height` device pixels: frames are scaled to it.
   */
  setTileSize: (width: number, height: number): Promise<void> => invoke<void>("set_tile_size", { width, height }),
  /**
   * What the page painted per tile over its last measuring window.
   */
  painted: (tiles: Array<TilePainting>): Promise<void> => invoke<void>("painted", { tiles }),
  /**
   * Probe every server of an ICE configuration (W3C `RTCConfiguration` JSON) once.
   */
  probeIceServers: (iceConfig: string): Promise<Array<ServerHealth>> => invoke<Array<ServerHealth>>("probe_ice_servers", { iceConfig }),
  /**
   * Watch the saved servers: every status change arrives on the channel. Replaces the previous watch.
   */
  watchIceHealth: (onEvent: Channel<HealthTransition>): Promise<void> => invoke<void>("watch_ice_health", { onEvent }),
  /**
   * The latest result per server × transport of the running health watch.
   */
  iceHealthSnapshot: (): Promise<Array<ServerHealth>> => invoke<Array<ServerHealth>>("ice_health_snapshot"),
  /**
   * The settings, where credentials are kept and the config directory.
   */
  getSettings: (): Promise<SettingsView> => invoke<SettingsView>("get_settings"),
  /**
   * Save the settings and their credentials (apart); the running call moves onto the new servers.
   */
  saveSettings: (settings: Settings, credentials: Array<CredentialUpdate>): Promise<Settings> => invoke<Settings>("save_settings", { settings, credentials }),
  /**
   * A server's URL box as the CLI reads it: its URLs, the parser's message for each bad one.
   */
  checkIceUrls: (text: string): Promise<UrlsCheck> => invoke<UrlsCheck>("check_ice_urls", { text }),
  /**
   * Test one server entry over every transport its URLs name; no credential: the stored one.
   */
  testIceServer: (server: ServerEntry, credential: string | null): Promise<Array<ServerHealth>> => invoke<Array<ServerHealth>>("test_ice_server", { server, credential }),
  /**
   * Servers and their credentials from a W3C `iceServers` JSON (fresh ids), to be saved.
   */
  importIceServers: (json: string): Promise<ImportedServers> => invoke<ImportedServers>("import_ice_servers", { json }),
  /**
   * The saved servers as W3C `iceServers` JSON; credentials only when asked for.
   */
  exportIceServers: (withCredentials: boolean): Promise<string> => invoke<string>("export_ice_servers", { withCredentials }),
  /**
   * The same JSON as a file in Downloads (or Documents, else the config folder); its path.
   */
  saveIceServersFile: (withCredentials: boolean): Promise<string> => invoke<string>("save_ice_servers_file", { withCredentials }),
  /**
   * The machine's devices with the system default, the synthetic sources and the saved choices.
   */
  listDevices: (): Promise<Devices> => invoke<Devices>("list_devices"),
  /**
   * The device lists on the channel now and whenever a device comes or goes.
   */
  watchDevices: (onChange: Channel<Devices>): Promise<void> => invoke<void>("watch_devices", { onChange }),
  /**
   * Save the pick of a camera, microphone or speaker (an id from the device lists) and use it now.
   */
  chooseDevice: (kind: DeviceKind, id: string): Promise<void> => invoke<void>("choose_device", { kind, id }),
  /**
   * Write a diagnostics file into Downloads (else the log folder); its full path.
   */
  exportDiagnostics: (): Promise<string> => invoke<string>("export_diagnostics"),
  /**
   * Open the folder of a file the app wrote (an export) in the file manager.
   */
  showInFolder: (path: string): Promise<void> => invoke<void>("show_in_folder", { path }),
  /**
   * Where the log files are and whether detailed logs are on.
   */
  logsInfo: (): Promise<LogsInfo> => invoke<LogsInfo>("logs_info"),
  /**
   * Detailed logs on or off (saved; from the next start).
   */
  setDetailedLogs: (on: boolean): Promise<LogsInfo> => invoke<LogsInfo>("set_detailed_logs", { on }),
};
