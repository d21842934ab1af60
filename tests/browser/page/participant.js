// A Natter participant in a browser, written only from docs/signaling.md: one WebSocket to the
// signaling server, `join`, and one RTCPeerConnection per remote (mesh convention: the newcomer
// offers to every peer listed in `welcome`, existing peers answer). Candidates trickle both
// ways in the W3C RTCIceCandidateInit shape; an empty `candidate` string is end-of-candidates.
//
// The driver (participant.mjs) calls `window.natter.start(config)`, polls `status()` and at the
// end awaits `report()` then `leave()`. Every time is in ms from `join` (the moment the page
// opened its signaling connection), on the page's monotonic clock (performance.now()).

const pageStart = performance.now();
const STATS_EVERY_MS = 100;
const MAX_LIST = 200; // bound every list that a remote can grow

let config = null;
let ws = null;
let local = null; // MediaStream from getUserMedia (fake camera + fake mic)
let joinAt = null; // performance.now() when join started
let myId = null;
let welcomeMs = null;
let fatal = null;
let mediaStateSeen = 0;
let statsTimer = null;
const names = new Map(); // id → name, from welcome and peer_joined
const present = new Set(); // ids in the room now
const links = new Map(); // id → Link
const errors = []; // things that went wrong, in words (bounded)
const signalingErrors = []; // `error` messages from the server

const since = () => (joinAt == null ? null : round(performance.now() - joinAt));
const round = (v) => Math.round(v * 10) / 10;

function note(list, item) {
  if (list.length < MAX_LIST) list.push(item);
}

function problem(context, e) {
  note(errors, { at_ms: since(), context, error: String(e && e.message ? e.message : e) });
}

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

/// One remote participant: its peer connection and everything measured about it.
class Link {
  constructor(id, role) {
    this.id = id;
    this.role = role; // "offerer" (we offered) | "answerer" (we answered)
    this.createdMs = since();
    this.peerJoinedMs = null;
    this.leftMs = null;
    this.connectMs = null;
    this.iceConnectedMs = null;
    this.firstFrameMs = null; // first remote frame painted (requestVideoFrameCallback)
    this.firstDecodedMs = null; // first framesDecoded > 0 seen by the 100 ms stats poll
    this.firstAudioMs = null; // first audio packetsReceived > 0 seen by the stats poll
    this.framesPainted = 0;
    this.states = []; // { at_ms, kind: "connection"|"ice"|"gathering"|"signaling", state }
    this.localCandidates = [];
    this.remoteCandidates = [];
    this.candidateErrors = [];
    this.pendingRemote = []; // remote candidates that came before the remote description
    this.pendingLocal = []; // local candidates gathered before our offer/answer went out
    this.descriptionSent = false;
    this.endOfCandidatesSent = false;
    this.endOfCandidatesReceived = false;
    this.tracksAdded = false;
    this.last = null; // last parsed stats snapshot
    this.polling = null;
    this.videoElement = null;
    this.pc = new RTCPeerConnection(rtcConfiguration());
    this.watch();
  }

  watch() {
    const pc = this.pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        const init = e.candidate.toJSON();
        // Tests stay on loopback: a host candidate on another interface of this machine is
        // kept to ourselves (config.loopbackOnly), so the remote never checks it.
        const withheld = config.loopbackOnly && e.candidate.type === "host" && !isLoopback(e.candidate.address);
        note(this.localCandidates, { at_ms: since(), candidate: init.candidate, address: e.candidate.address, ...(withheld ? { withheld: true } : {}) });
        if (!withheld) this.sendCandidate(init);
      } else if (!this.endOfCandidatesSent) {
        // Gathering is complete (a null candidate, or an empty one): end-of-candidates.
        this.endOfCandidatesSent = true;
        note(this.localCandidates, { at_ms: since(), candidate: "" });
        const first = pc.getTransceivers().find((t) => t.mid != null);
        this.sendCandidate({
          candidate: "",
          sdpMid: first ? first.mid : null,
          sdpMLineIndex: 0,
          usernameFragment: ufragOf(pc.localDescription && pc.localDescription.sdp),
        });
      }
    };
    pc.onicecandidateerror = (e) => {
      note(this.candidateErrors, { at_ms: since(), url: e.url, code: e.errorCode, text: e.errorText, address: e.address, port: e.port });
    };
    pc.onconnectionstatechange = () => {
      this.state("connection", pc.connectionState);
      if (pc.connectionState === "connected" && this.connectMs == null) this.connectMs = since();
    };
    pc.oniceconnectionstatechange = () => {
      this.state("ice", pc.iceConnectionState);
      if ((pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") && this.iceConnectedMs == null) {
        this.iceConnectedMs = since();
      }
    };
    pc.onicegatheringstatechange = () => {
      this.state("gathering", pc.iceGatheringState);
      if (pc.iceGatheringState === "gathering") this.endOfCandidatesSent = false; // an ICE restart gathers anew
    };
    pc.onsignalingstatechange = () => this.state("signaling", pc.signalingState);
    pc.ontrack = (e) => this.onTrack(e.track);
  }

  state(kind, state) {
    note(this.states, { at_ms: since(), kind, state });
  }

  sendCandidate(init) {
    if (this.descriptionSent) send({ type: "candidate", to: this.id, candidate: init });
    else this.pendingLocal.push(init);
  }

  /// Our offer or answer went out: the candidates gathered meanwhile may follow it.
  descriptionWentOut() {
    this.descriptionSent = true;
    for (const init of this.pendingLocal.splice(0)) send({ type: "candidate", to: this.id, candidate: init });
  }

  addTracks() {
    if (this.tracksAdded) return;
    this.tracksAdded = true;
    for (const track of local.getTracks()) this.pc.addTrack(track, local);
  }

  /// Restrict the video codecs we offer or accept (--video-codec), keeping RTX for them.
  preferCodecs() {
    const wanted = config.videoCodec;
    if (!wanted) return;
    const mime = { vp8: "video/vp8", h264: "video/h264" }[wanted];
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs.filter((c) => {
      const m = c.mimeType.toLowerCase();
      return m === mime || m === "video/rtx";
    });
    for (const t of this.pc.getTransceivers()) {
      const kind = t.receiver.track && t.receiver.track.kind;
      if (kind === "video" && !t.stopped) t.setCodecPreferences(codecs);
    }
  }

  async addRemoteCandidate(c) {
    const init = {
      candidate: typeof c.candidate === "string" ? c.candidate : "",
      sdpMid: c.sdpMid ?? null,
      sdpMLineIndex: c.sdpMLineIndex ?? null,
      usernameFragment: c.usernameFragment ?? null,
    };
    const entry = { at_ms: since(), candidate: init.candidate, sdpMid: init.sdpMid, sdpMLineIndex: init.sdpMLineIndex };
    if (init.candidate === "") this.endOfCandidatesReceived = true;
    if (init.candidate !== "" && init.sdpMid == null && init.sdpMLineIndex == null) {
      // Allowed by docs/signaling.md; everything is bundled, so the first m-line's transport.
      init.sdpMLineIndex = 0;
      entry.defaulted_mline = true;
    }
    try {
      await this.pc.addIceCandidate(init);
      entry.accepted = true;
    } catch (e) {
      entry.accepted = false;
      entry.error = String(e.message || e);
    }
    note(this.remoteCandidates, entry);
  }

  async flushRemoteCandidates() {
    for (const c of this.pendingRemote.splice(0)) await this.addRemoteCandidate(c);
  }

  onTrack(track) {
    const element = document.createElement(track.kind === "video" ? "video" : "audio");
    element.autoplay = true;
    element.muted = track.kind === "video"; // audio plays (into whatever sink Chromium has)
    element.playsInline = true;
    element.srcObject = new MediaStream([track]);
    element.dataset.remote = this.id;
    document.getElementById("remotes").appendChild(element);
    element.play().catch((e) => problem(`${track.kind} play() for ${this.id}`, e));
    if (track.kind === "video") {
      this.videoElement = element;
      const painted = (_now, metadata) => {
        if (this.firstFrameMs == null) this.firstFrameMs = since();
        this.framesPainted = metadata.presentedFrames;
        element.requestVideoFrameCallback(painted);
      };
      element.requestVideoFrameCallback(painted);
    }
  }

  /// `remoteLeft`: the remote left the room (peer_left), as opposed to us hanging up.
  close(remoteLeft) {
    if (remoteLeft && this.leftMs == null) this.leftMs = since();
    try {
      this.pc.close();
    } catch (e) {
      problem(`close ${this.id}`, e);
    }
    if (this.videoElement) this.videoElement.srcObject = null;
  }

  /// One getStats() at a time per connection; a caller during one waits for that one.
  poll() {
    if (this.pc.connectionState === "closed") return Promise.resolve();
    if (!this.polling) this.polling = this.pollOnce().finally(() => (this.polling = null));
    return this.polling;
  }

  async pollOnce() {
    let report;
    try {
      report = await this.pc.getStats();
    } catch (e) {
      problem(`getStats ${this.id}`, e);
      return;
    }
    this.last = parseStats(report);
    this.last.at_ms = since();
    const v = this.last.video_in;
    if (v && v.framesDecoded > 0 && this.firstDecodedMs == null) this.firstDecodedMs = since();
    const a = this.last.audio_in;
    if (a && a.packetsReceived > 0 && this.firstAudioMs == null) this.firstAudioMs = since();
  }

  summary() {
    const s = this.last || {};
    return {
      id: this.id,
      name: names.get(this.id) ?? null,
      role: this.role,
      connectionState: this.pc.connectionState,
      iceConnectionState: this.pc.iceConnectionState,
      ever_connected: this.connectMs != null,
      created_ms: this.createdMs,
      peer_joined_ms: this.peerJoinedMs,
      left_ms: this.leftMs,
      connect_ms: this.connectMs,
      ice_connected_ms: this.iceConnectedMs,
      first_frame_ms: this.firstFrameMs,
      first_decoded_ms: this.firstDecodedMs,
      first_audio_ms: this.firstAudioMs,
      frames_painted: this.framesPainted,
      path: s.path ?? null,
      transport: s.transport ?? null,
      video_in: s.video_in ?? null,
      audio_in: s.audio_in ?? null,
      video_out: s.video_out ?? null,
      audio_out: s.audio_out ?? null,
      stats_at_ms: s.at_ms ?? null,
      sdp: {
        local: describeSdp(this.localSdp),
        remote: describeSdp(this.remoteSdp),
        local_text: this.localSdp ?? null,
        remote_text: this.remoteSdp ?? null,
      },
      local_candidates: this.localCandidates,
      remote_candidates: this.remoteCandidates,
      candidate_errors: this.candidateErrors,
      end_of_candidates_received: this.endOfCandidatesReceived,
      states: this.states,
    };
  }
}

function rtcConfiguration() {
  const base = config.rtcConfiguration ? { ...config.rtcConfiguration } : {};
  if (config.relayOnly) base.iceTransportPolicy = "relay";
  return base;
}

function isLoopback(address) {
  return typeof address === "string" && (address.startsWith("127.") || address === "::1");
}

function ufragOf(sdp) {
  const m = sdp && /^a=ice-ufrag:(.*)$/m.exec(sdp);
  return m ? m[1].trim() : null;
}

/// Per m-line: kind, mid, direction, and its codecs (payload type, rtpmap, fmtp).
function describeSdp(sdp) {
  if (!sdp) return null;
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  return sections.map((section) => {
    const lines = section.split(/\r?\n/);
    const [kind, , , ...pts] = lines[0].slice(2).split(" ");
    const attr = (name) => lines.filter((l) => l.startsWith(`a=${name}:`)).map((l) => l.slice(name.length + 3));
    const direction = lines.map((l) => l.slice(2)).find((l) => ["sendrecv", "sendonly", "recvonly", "inactive"].includes(l));
    const rtpmap = new Map(attr("rtpmap").map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ")]));
    const fmtp = new Map(attr("fmtp").map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ")]));
    return {
      kind,
      mid: attr("mid")[0] ?? null,
      direction: direction ?? null,
      codecs: pts.filter((pt) => pt !== "").map((pt) => ({ pt: Number(pt), rtpmap: rtpmap.get(pt) ?? null, fmtp: fmtp.get(pt) ?? null })),
      setup: attr("setup")[0] ?? null,
    };
  });
}

/// The figures the driver reports, from one getStats().
function parseStats(report) {
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const codecOf = (s) => {
    const c = s && s.codecId ? byId.get(s.codecId) : null;
    return c ? { mimeType: c.mimeType, payloadType: c.payloadType, clockRate: c.clockRate, channels: c.channels ?? null, sdpFmtpLine: c.sdpFmtpLine ?? null } : null;
  };
  const pick = (s, keys) => {
    if (!s) return null;
    const out = {};
    for (const k of keys) if (s[k] !== undefined) out[k] = s[k];
    return out;
  };
  const remoteInbound = (s) => {
    const r = s && s.remoteId ? byId.get(s.remoteId) : null;
    return r ? pick(r, ["packetsLost", "roundTripTime", "fractionLost", "jitter", "totalRoundTripTime", "roundTripTimeMeasurements"]) : null;
  };
  let videoIn = null, audioIn = null, videoOut = null, audioOut = null, transport = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video" && !videoIn) videoIn = s;
    if (s.type === "inbound-rtp" && s.kind === "audio" && !audioIn) audioIn = s;
    if (s.type === "outbound-rtp" && s.kind === "video" && !videoOut) videoOut = s;
    if (s.type === "outbound-rtp" && s.kind === "audio" && !audioOut) audioOut = s;
    if (s.type === "transport" && !transport) transport = s;
  });
  let path = null;
  const pair = transport && transport.selectedCandidatePairId ? byId.get(transport.selectedCandidatePairId) : null;
  if (pair) {
    const cand = (id) => pick(byId.get(id), ["candidateType", "protocol", "address", "port", "relayProtocol", "url", "networkType"]);
    path = {
      local: cand(pair.localCandidateId),
      remote: cand(pair.remoteCandidateId),
      local_candidate: byId.get(pair.localCandidateId)?.candidateType ?? null,
      remote_candidate: byId.get(pair.remoteCandidateId)?.candidateType ?? null,
      state: pair.state,
      nominated: pair.nominated ?? null,
      currentRoundTripTime: pair.currentRoundTripTime ?? null,
    };
  }
  const withCodec = (s, keys) => (s ? { ...pick(s, keys), codec: codecOf(s) } : null);
  return {
    path,
    transport: pick(transport, ["dtlsState", "iceState", "tlsVersion", "dtlsCipher", "srtpCipher", "dtlsRole", "iceRole", "selectedCandidatePairChanges"]),
    video_in: withCodec(videoIn, [
      "framesDecoded", "framesReceived", "framesDropped", "keyFramesDecoded", "packetsReceived", "packetsLost", "bytesReceived",
      "frameWidth", "frameHeight", "framesPerSecond", "jitter", "nackCount", "pliCount", "firCount", "freezeCount",
      "totalFreezesDuration", "decoderImplementation", "powerEfficientDecoder",
    ]),
    audio_in: withCodec(audioIn, [
      "packetsReceived", "packetsLost", "bytesReceived", "jitter", "totalSamplesReceived", "concealedSamples",
      "silentConcealedSamples", "concealmentEvents", "audioLevel", "jitterBufferDelay", "jitterBufferEmittedCount",
    ]),
    video_out: videoOut
      ? { ...withCodec(videoOut, ["framesEncoded", "framesSent", "keyFramesEncoded", "packetsSent", "bytesSent", "frameWidth", "frameHeight", "framesPerSecond", "encoderImplementation", "qualityLimitationReason", "nackCount", "pliCount", "firCount", "retransmittedPacketsSent"]), remote_inbound: remoteInbound(videoOut) }
      : null,
    audio_out: audioOut ? { ...withCodec(audioOut, ["packetsSent", "bytesSent"]), remote_inbound: remoteInbound(audioOut) } : null,
  };
}

function linkFor(id, role) {
  let link = links.get(id);
  if (!link) {
    link = new Link(id, role);
    links.set(id, link);
  }
  return link;
}

/// The newcomer's side: offer to someone already in the room.
async function offerTo(id) {
  const link = linkFor(id, "offerer");
  try {
    link.addTracks();
    link.preferCodecs();
    await link.pc.setLocalDescription();
    link.localSdp = link.pc.localDescription.sdp;
    send({ type: "offer", to: id, sdp: link.localSdp });
    link.descriptionWentOut();
  } catch (e) {
    problem(`offer to ${id}`, e);
  }
}

async function onOffer(from, sdp) {
  const link = linkFor(from, "answerer");
  try {
    await link.pc.setRemoteDescription({ type: "offer", sdp });
    link.remoteSdp = sdp;
    await link.flushRemoteCandidates();
    link.addTracks(); // reuses the transceivers the offer created
    link.preferCodecs();
    await link.pc.setLocalDescription();
    link.localSdp = link.pc.localDescription.sdp;
    send({ type: "answer", to: from, sdp: link.localSdp });
    link.descriptionWentOut();
  } catch (e) {
    problem(`answer to ${from}`, e);
  }
}

async function onAnswer(from, sdp) {
  const link = links.get(from);
  if (!link) return problem("answer", `answer from ${from}, to whom we never offered`);
  try {
    await link.pc.setRemoteDescription({ type: "answer", sdp });
    link.remoteSdp = sdp;
    await link.flushRemoteCandidates();
  } catch (e) {
    problem(`answer from ${from}`, e);
  }
}

async function onCandidate(from, candidate) {
  const link = links.get(from);
  if (!link) return problem("candidate", `candidate from ${from}, with whom no call is being set up`);
  if (!candidate || typeof candidate !== "object") return problem("candidate", `malformed candidate from ${from}`);
  if (!link.pc.remoteDescription) link.pendingRemote.push(candidate);
  else await link.addRemoteCandidate(candidate);
}

// Messages from one sender are handled in order: each waits for the one before it.
let queue = Promise.resolve();

function onMessage(event) {
  let msg;
  try {
    msg = JSON.parse(event.data);
  } catch (e) {
    return problem("signaling", `not JSON: ${e}`);
  }
  queue = queue.then(() => handle(msg)).catch((e) => problem(`handling ${msg.type}`, e));
}

async function handle(msg) {
  switch (msg.type) {
    case "welcome":
      myId = msg.id;
      welcomeMs = since();
      for (const p of msg.peers) {
        names.set(p.id, p.name);
        present.add(p.id);
      }
      welcomed();
      for (const p of msg.peers) await offerTo(p.id);
      break;
    case "peer_joined":
      names.set(msg.id, msg.name);
      present.add(msg.id);
      linkFor(msg.id, "answerer").peerJoinedMs = since();
      break;
    case "peer_left": {
      present.delete(msg.id);
      const link = links.get(msg.id);
      if (link) {
        await link.poll(); // the last figures before the connection closes
        link.close(true);
      }
      break;
    }
    case "offer":
      await onOffer(msg.from, msg.sdp);
      break;
    case "answer":
      await onAnswer(msg.from, msg.sdp);
      break;
    case "candidate":
      await onCandidate(msg.from, msg.candidate);
      break;
    case "media_state":
      mediaStateSeen += 1; // muting is not this page's business
      break;
    case "error":
      note(signalingErrors, { at_ms: since(), code: msg.code, message: msg.message });
      if (!myId) fatal = `signaling refused the join: ${msg.code}: ${msg.message}`;
      break;
    case "pong":
      break;
    default:
      problem("signaling", `unknown message type ${msg.type}`);
  }
}

let welcomed = () => {};

async function start(cfg) {
  config = cfg;
  local = await navigator.mediaDevices.getUserMedia({
    video: { width: cfg.width, height: cfg.height, frameRate: 30 },
    audio: true,
  });
  const welcome = new Promise((resolve, reject) => {
    welcomed = resolve;
    setTimeout(() => reject(new Error("no welcome from the signaling server within 10 s")), 10000);
  });
  joinAt = performance.now();
  ws = new WebSocket(cfg.signal);
  ws.onmessage = onMessage;
  ws.onopen = () => send({ type: "join", room: cfg.room, name: cfg.name });
  ws.onerror = () => problem("signaling", "WebSocket error");
  ws.onclose = (e) => {
    if (!leaving) fatal = fatal ?? `signaling connection closed (code ${e.code})`;
  };
  statsTimer = setInterval(() => {
    for (const link of links.values()) link.poll();
  }, STATS_EVERY_MS);
  await welcome;
  return { id: myId, welcome_ms: welcomeMs, page_start_to_join_ms: round(joinAt - pageStart) };
}

/// Cheap, synchronous: what the driver needs to decide when the call is done.
function status() {
  return {
    id: myId,
    fatal,
    present: [...present],
    peers: [...links.values()].map((l) => ({
      id: l.id,
      name: names.get(l.id) ?? null,
      connected: l.pc.connectionState === "connected",
      left: l.leftMs != null,
      first_frame: l.firstFrameMs != null || l.firstDecodedMs != null,
      audio: l.firstAudioMs != null,
    })),
  };
}

async function report() {
  await Promise.all([...links.values()].map((l) => l.poll()));
  const track = (kind) => {
    const t = local && local.getTracks().find((x) => x.kind === kind);
    return t ? { label: t.label, readyState: t.readyState, settings: t.getSettings() } : null;
  };
  return {
    id: myId,
    name: config && config.name,
    room: config && config.room,
    user_agent: navigator.userAgent,
    page_start_to_join_ms: joinAt == null ? null : round(joinAt - pageStart),
    joined_unix_ms: joinAt == null ? null : round(performance.timeOrigin + joinAt),
    welcome_ms: welcomeMs,
    ended_ms: since(),
    rtc_configuration: config ? redact(rtcConfiguration()) : null,
    video_codec_preference: (config && config.videoCodec) || null,
    local_media: { video: track("video"), audio: track("audio") },
    offered_video_codecs: RTCRtpReceiver.getCapabilities("video").codecs.map((c) => `${c.mimeType} ${c.sdpFmtpLine ?? ""}`.trim()),
    media_state_messages: mediaStateSeen,
    signaling_errors: signalingErrors,
    errors,
    fatal,
    peers: [...links.values()].map((l) => l.summary()),
  };
}

function redact(rtcConfig) {
  const copy = JSON.parse(JSON.stringify(rtcConfig));
  for (const s of copy.iceServers ?? []) if (s.credential) s.credential = "***";
  return copy;
}

let leaving = false;

function leave() {
  leaving = true;
  clearInterval(statsTimer);
  send({ type: "leave" });
  for (const link of links.values()) link.close(false);
  if (local) for (const t of local.getTracks()) t.stop();
  if (ws) ws.close();
}

window.natter = { start, status, report, leave };
