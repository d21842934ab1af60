// The call view: one tile per participant (self view first), drawn from the frames the backend
// decodes; status badges; leave/rejoin; the join dialog; who came and went. Frames arrive as
// binary channel messages (frames.ts), everything else as JSON: status, presence, stats (also for
// the health panel), ended.
//
// Joining another room never leaves the user stranded: the backend leaves the running call only
// once the new room let us in (App::start_call), so until `startCall` answers this view keeps
// showing the running call, and the new call's messages wait. A join that fails says why in the
// dialog, which stays open with what was typed; the running call goes on.
import { commands, type AppError, type CallInfo, type CallMessage, type ErrorCode, type JoinRequest, type LocalMediaReport, type MediaKind, type ParticipantReport, type Presence, type TilePainting } from "./bindings";
import { decodeMessage, type DecodedFrame } from "./frames";
import { createRenderer, type TileRenderer } from "./render";
import { PaintMeter } from "./paint-meter";
import { pathBadge, type Quality } from "./format";
import { channel, describeError, inApp } from "./tauri";
import { byId, clearError, cloneTemplate, el, showError } from "./dom";

const STATE_TEXT: Record<string, string> = { connecting: "connecting…", connected: "connected", failed: "can't connect", left: "left" };

interface Tile { root: HTMLElement; canvas: HTMLCanvasElement; renderer: TileRenderer | null; level: HTMLElement | null; name: HTMLElement; badge: HTMLButtonElement; waiting: HTMLElement; cameraOff: HTMLElement; micOff: HTMLElement; state: string | null; detail: string; path: string; quality: Quality | null }

export interface CallHooks {
  /** Called first with each stats message (the health panel keeps the history and rates). */
  onStats(atMs: number, report: ParticipantReport): void;
  /** The grade of `remote`'s connection from that history (`null`: not enough data yet). */
  qualityOf(remote: string): Quality | null;
  onOpenDetails(remote: string): void;
  onCallStarted(info: CallInfo): void;
  /** Every second: what each tile painted (frames on screen, dropped, capture-to-paint). */
  onPainting?(tiles: TilePainting[]): void;
  /** A microphone's level (`"local"`: ours), about 10 times a second. */
  onLevel?(tileId: string, dbfs: number): void;
  /** A self-view picture of the call (the device check shows it while the call owns the camera). */
  onLocalFrame?(frame: DecodedFrame): void;
  /** Someone came or went: `text` is what the notice said (for the health panel's timeline). */
  onPresence?(change: Presence, text: string): void;
}

/** A level meter (an element holding one bar) showing `dbfs`: -60 dBFS and below is empty. */
export function showLevel(meter: HTMLElement | null, dbfs: number): void {
  if (!meter) return;
  meter.hidden = false;
  const fill = Math.max(0, Math.min(1, (dbfs + 60) / 60));
  (meter.firstElementChild as HTMLElement | null)?.style.setProperty("width", `${Math.round(fill * 100)}%`);
  meter.dataset.level = fill.toFixed(2);
}

/** How long a "Bob left the call" notice stays. */
export const NOTICE_MS = 6000;

/** Errors of a join the backend refused before touching the running call (its pre-flight):
 *  that call goes on. Any other error of `startCall` came after the hand-over. */
const CALL_KEPT: readonly ErrorCode[] = ["invalidSignalUrl", "missingRoom", "signalingUnreachable", "roomLocked", "signalingRefused", "signalingFailed"];

/** The join dialog's field an error is about (focused, marked invalid), if one. */
export function fieldFor(code: ErrorCode): string | null {
  switch (code) {
    case "invalidSignalUrl":
    case "signalingUnreachable":
    case "signalingFailed":
      return "join-server";
    case "missingRoom":
    case "signalingRefused":
      return "join-room";
    case "roomLocked":
      return "join-secret";
    default:
      return null;
  }
}

/** The sentence a notice says about someone who came or went. */
export function presenceText(change: Presence, name: string): string {
  switch (change) {
    case "joined":
      return `${name} joined the call`;
    case "left":
      return `${name} left the call`;
    case "lost":
      return `Lost connection to ${name}`;
  }
}

const JOIN_FIELDS = ["join-server", "join-room", "join-name", "join-secret"];

function errorCode(e: unknown): ErrorCode | null {
  return e && typeof e === "object" && "code" in e ? (e as AppError).code : null;
}

export class CallView {
  private tiles = new Map<string, Tile>();
  private drawn = 0;
  private session = 0;
  /** The call being started (`startCall` not answered yet): its messages wait in `queued`. */
  private pendingSession: number | null = null;
  private queued: (CallMessage | ArrayBuffer)[] = [];
  private sessions = 0;
  private inCall = false;
  /** The room last joined (`null`: the demo call). */
  private join: JoinRequest | null = null;
  /** Frames drawn per tile since the page loaded (read by the tests and the render benchmark). */
  readonly framesDrawn: Record<string, number> = {};
  /** What each tile painted: reported every second to the backend and the health panel. */
  private meter = new PaintMeter();
  private painting: TilePainting[] = [];
  private preferredRenderer: "webgl" | "2d" = "webgl";

  constructor(private hooks: CallHooks) {
    const debug = {
      framesDrawn: this.framesDrawn,
      painting: () => this.painting,
      paintWork: () => ({ ...this.paintWork }),
      /** Paint with "webgl" or "2d" from now on (measurements compare the two). */
      useRenderer: (kind: "webgl" | "2d") => {
        this.preferredRenderer = kind;
        for (const t of this.tiles.values()) {
          const fresh = document.createElement("canvas");
          t.canvas.replaceWith(fresh);
          t.canvas = fresh;
          t.renderer = null;
        }
      },
    };
    const w = window as unknown as { natterDebug?: Record<string, unknown> };
    w.natterDebug = Object.assign(w.natterDebug ?? {}, debug);
    byId("leave").addEventListener("click", () => void this.leave());
    byId("mute").addEventListener("click", () => void this.toggle("audio"));
    byId("camera").addEventListener("click", () => void this.toggle("video"));
    document.getElementById("join-mute")?.addEventListener("click", () => void this.toggle("audio"));
    document.getElementById("join-camera")?.addEventListener("click", () => void this.toggle("video"));
    byId("rejoin").addEventListener("click", () => void this.start(this.join));
    const panel = byId<HTMLFormElement>("join-panel");
    byId("open-join").addEventListener("click", () => this.openJoin());
    byId("left-join").addEventListener("click", () => this.openJoin());
    byId("join-cancel").addEventListener("click", () => this.closeJoin());
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closeJoin();
    });
    byId("join-demo").addEventListener("click", () => void this.start(null, true));
    panel.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.start(
        {
          signalUrl: byId<HTMLInputElement>("join-server").value.trim(),
          room: byId<HTMLInputElement>("join-room").value.trim(),
          name: byId<HTMLInputElement>("join-name").value.trim(),
          roomSecret: byId<HTMLInputElement>("join-secret").value || undefined,
        },
        true,
      );
    });
    for (const id of JOIN_FIELDS) byId(id).addEventListener("input", () => byId(id).removeAttribute("aria-invalid"));
    // Acknowledgements also go out on a timer, in case a paint never comes (hidden window).
    setInterval(() => this.acknowledge(), 250);
    setInterval(() => this.reportPainting(), 1000);
    this.watchTileSize();
  }

  private reportPainting(): void {
    this.painting = this.meter.figures(performance.now(), (id) => this.tiles.get(id)?.renderer?.kind ?? "none");
    this.hooks.onPainting?.(this.painting);
    if (inApp() && this.inCall) commands.painted(this.painting).catch(() => {});
  }

  /** Frames are made at the size the tiles are drawn at (device pixels): told to the backend
   *  whenever the layout changes it, so a 400-pixel tile is not sent a 720p picture. */
  private watchTileSize(): void {
    let told = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tell = () => {
      const tile = [...this.tiles.values()].find((t) => !t.root.classList.contains("local")) ?? this.tiles.get("local");
      if (!tile || !inApp()) return;
      // The tile's box, not the canvas's: the canvas takes the size of the frames it shows.
      const box = tile.root.getBoundingClientRect();
      const scale = window.devicePixelRatio || 1;
      const [width, height] = [Math.round(box.width * scale), Math.round(box.height * scale)];
      if (width < 16 || height < 16 || `${width}x${height}` === told) return;
      told = `${width}x${height}`;
      commands.setTileSize(width, height).catch(() => {});
    };
    // The pictures follow their boxes at once (until frames of the new size arrive), once the
    // grid has laid the tiles out.
    const relayout = () => requestAnimationFrame(() => {
      for (const t of this.tiles.values()) t.renderer?.relayout();
    });
    const observer = new ResizeObserver(() => {
      relayout();
      clearTimeout(timer);
      timer = setTimeout(tell, 150);
    });
    observer.observe(byId("grid"));
    // Tiles come and go without the grid's own size changing.
    new MutationObserver(() => {
      relayout();
      clearTimeout(timer);
      timer = setTimeout(tell, 150);
    }).observe(byId("grid"), { childList: true });
  }

  private tile(tileId: string, label?: string): Tile {
    let t = this.tiles.get(tileId);
    if (!t) {
      const root = cloneTemplate("tile-template");
      const canvas = root.querySelector("canvas")!;
      t = {
        root,
        canvas,
        renderer: null,
        level: root.querySelector(".mic-level"),
        name: root.querySelector(".name")!,
        badge: root.querySelector(".badge")!,
        waiting: root.querySelector(".waiting")!,
        cameraOff: root.querySelector(".camera-off")!,
        micOff: root.querySelector(".mic-off")!,
        state: null,
        detail: "",
        path: "",
        quality: null,
      };
      const isLocal = tileId === "local";
      root.classList.toggle("local", isLocal);
      if (!isLocal) {
        root.dataset.remote = tileId;
        const remote = tileId;
        t.badge.addEventListener("click", () => this.hooks.onOpenDetails(remote));
      }
      const grid = byId("grid");
      if (isLocal) grid.prepend(root);
      else grid.append(root);
      this.tiles.set(tileId, t);
    }
    if (label !== undefined) t.name.textContent = tileId === "local" ? "You" : label;
    return t;
  }

  private setStatus(t: Tile, state: string, detail: string): void {
    t.state = state;
    t.detail = detail;
    if (t.root.classList.contains("local")) return;
    this.renderBadge(t);
    // While there is no picture, the tile says what is happening ("checking paths…").
    t.waiting.textContent = state === "connected" ? "Waiting for video…" : `${STATE_TEXT[state] ?? state} ${detail}`.trim();
    this.updateSummary();
  }

  private renderBadge(t: Tile): void {
    const state = t.state ?? "connecting";
    t.badge.hidden = false;
    const connected = state === "connected";
    t.badge.className = `badge ${state}${connected && t.quality ? ` quality-${t.quality}` : ""}`;
    t.badge.textContent = connected && t.path ? `${t.path}${t.quality ? ` · ${t.quality}` : ""}` : STATE_TEXT[state] ?? state;
    const label = `${t.name.textContent}: ${STATE_TEXT[state] ?? state}${connected && t.quality ? `, ${t.quality} quality` : ""}${t.detail ? ` — ${t.detail}` : ""}. Show connection details`;
    t.badge.title = label;
    t.badge.setAttribute("aria-label", label);
  }

  private updateSummary(): void {
    const remotes = [...this.tiles.entries()].filter(([id]) => id !== "local").map(([, t]) => t);
    const connected = remotes.filter((t) => t.state === "connected").length;
    const failed = remotes.filter((t) => t.state === "failed").length;
    let text = `${connected} of ${remotes.length} connected`;
    if (failed) text += ` · ${failed} can't connect`;
    byId("call-summary").textContent = remotes.length ? text : "waiting for others…";
  }

  /** The newest undrawn frame per tile; drawn together at the next animation frame. */
  private pending = new Map<string, DecodedFrame>();
  /** Frame messages received since the last paint (acknowledged when it happens). */
  private unpaintedMessages = 0;
  private drawScheduled = false;

  private draw(buffer: ArrayBuffer): void {
    this.unpaintedMessages += 1;
    const skipDraw = (window as unknown as { natterDebug: { skipDraw?: boolean } }).natterDebug.skipDraw;
    for (const frame of decodeMessage(buffer)) {
      if (skipDraw) {
        // Render benchmark: count the arrival, paint nothing (measures the channel alone).
        this.framesDrawn[frame.tileId] = (this.framesDrawn[frame.tileId] ?? 0) + 1;
        continue;
      }
      // A frame that arrives before the previous one of its tile was painted replaces it: the
      // screen only shows the latest, and painting both would cost twice for nothing.
      this.pending.set(frame.tileId, frame);
    }
    if (skipDraw || !this.pending.size) {
      this.drawn += this.unpaintedMessages;
      this.unpaintedMessages = 0;
      this.acknowledge();
      return;
    }
    if (!this.drawScheduled) {
      this.drawScheduled = true;
      requestAnimationFrame(() => this.paint());
    }
  }

  /** Tell the backend how many frame messages are done with (its flow control sends more). */
  private acknowledge(): void {
    if (this.drawn === 0 || !inApp()) return;
    const count = this.drawn;
    this.drawn = 0;
    commands.framesDrawn(count).catch(() => {});
  }

  private paint(): void {
    this.drawScheduled = false;
    this.drawn += this.unpaintedMessages;
    this.unpaintedMessages = 0;
    this.acknowledge();
    const frames = [...this.pending.values()];
    this.pending.clear();
    const started = performance.now();
    for (const frame of frames) this.paintFrame(frame);
    this.paintWork.ms += performance.now() - started;
    this.paintWork.rounds += 1;
  }

  /** Time spent in the page's own painting code, and the rounds of it (read by measurements:
   *  the rest of a frame's time on its way to the screen is the webview's). */
  private paintWork = { ms: 0, rounds: 0 };

  private paintFrame(frame: DecodedFrame): void {
    const t = this.tile(frame.tileId, frame.label);
    // The renderer is made at the first picture (WebGL if the webview has it, else 2D); it may
    // swap the canvas for another one when the WebGL context is lost.
    t.renderer ??= createRenderer(t.canvas, this.preferredRenderer);
    t.renderer.paint(frame);
    t.canvas = t.root.querySelector("canvas") ?? t.canvas;
    t.root.classList.add("has-video");
    this.framesDrawn[frame.tileId] = (this.framesDrawn[frame.tileId] ?? 0) + 1;
    const latency = frame.captureMs === null ? null : Date.now() - frame.captureMs;
    this.meter.onPaint(frame.tileId, frame.counter, performance.now(), latency);
    if (frame.tileId === "local") this.hooks.onLocalFrame?.(frame);
  }

  private onMessage(mySession: number, message: CallMessage | ArrayBuffer): void {
    if (mySession === this.pendingSession) {
      // The new call's first messages, before `startCall` answered: shown once it did.
      this.queued.push(message);
      return;
    }
    if (mySession !== this.session) return;
    // Frame messages are acknowledged once painted (or replaced unpainted), so the backend never
    // sends faster than this window can show: see `paint`.
    if (message instanceof ArrayBuffer) {
      this.draw(message);
      return;
    }
    // Some webviews hand binary messages over as bytes or a plain array of them.
    const bytes: unknown = message;
    if (bytes instanceof Uint8Array || Array.isArray(bytes)) {
      this.draw(new Uint8Array(bytes as ArrayLike<number>).buffer as ArrayBuffer);
      return;
    }
    switch (message.type) {
      case "status": {
        const t = this.tile(message.tileId, message.label);
        if (message.state === "left" && message.tileId !== "local") {
          t.root.remove();
          this.tiles.delete(message.tileId);
          this.meter.forget(message.tileId);
          this.updateSummary();
        } else {
          this.setStatus(t, message.state, message.detail);
        }
        break;
      }
      case "stats": {
        const report = message.report;
        this.hooks.onStats(message.atMs, report);
        this.showLocalMedia(report.local_media);
        for (const peer of report.peers) {
          const t = this.tiles.get(peer.remote);
          if (!t) continue;
          t.path = pathBadge(peer.path);
          t.quality = this.hooks.qualityOf(peer.remote);
          if (t.state) this.renderBadge(t);
        }
        break;
      }
      case "level": {
        // The microphone's level: a meter on the tile (ours also while muted: you see that it
        // hears you).
        const t = this.tiles.get(message.tileId);
        if (t) showLevel(t.level, message.dbfs);
        this.hooks.onLevel?.(message.tileId, message.dbfs);
        break;
      }
      case "presence": {
        const text = presenceText(message.change, message.label);
        this.announce(message.change, text);
        this.hooks.onPresence?.(message.change, text);
        break;
      }
      case "media": {
        const t = this.tiles.get(message.tileId);
        if (t) this.showMedia(t, message.audioMuted, message.videoMuted);
        break;
      }
      case "notice": {
        // A local device changed (none found, unplugged, back): said above the tiles, the
        // latest per device kind.
        const box = byId("device-notice");
        let line = [...box.children].find((c) => (c as HTMLElement).dataset.medium === message.medium) as HTMLElement | undefined;
        if (!line) {
          line = document.createElement("p");
          line.dataset.medium = message.medium;
          box.append(line);
        }
        line.textContent = message.message;
        box.hidden = false;
        break;
      }
      case "ended":
        if (this.inCall) this.endView("The call ended", "The call engine stopped.");
        break;
      default:
        console.warn("natter: unknown message", message);
    }
  }

  /** The self view says why it shows no picture or sends no sound ("No camera found…"). */
  private showLocalMedia(media: LocalMediaReport | undefined): void {
    const t = this.tiles.get("local");
    if (!t || !media) return;
    const camera = media.camera;
    const microphone = media.microphone;
    const noCamera = !camera.off && camera.problem !== null;
    t.cameraOff.textContent = noCamera ? `No video: ${camera.message ?? camera.problem}` : "Camera off";
    t.cameraOff.classList.toggle("problem", noCamera);
    t.micOff.textContent = !microphone.off && microphone.problem !== null ? "no microphone" : "mic off";
    t.micOff.title = microphone.message ?? "Microphone off";
    this.showMedia(t, microphone.off || microphone.problem !== null, camera.off || noCamera);
  }

  private showMedia(t: Tile, audioMuted: boolean, videoMuted: boolean): void {
    t.micOff.hidden = !audioMuted;
    t.cameraOff.hidden = !videoMuted;
    t.root.classList.toggle("video-muted", videoMuted);
  }

  private muted = { audio: false, video: false };

  /** Microphone or camera off/on for everyone in the call. */
  async toggle(kind: MediaKind): Promise<void> {
    const muted = !this.muted[kind];
    try {
      await commands.setMuted(kind, muted);
      this.muted[kind] = muted;
      this.renderMuteButtons();
      const local = this.tiles.get("local");
      if (local) this.showMedia(local, this.muted.audio, this.muted.video);
    } catch (e) {
      showError(`Could not turn the ${kind === "audio" ? "microphone" : "camera"} ${muted ? "off" : "on"}: ${describeError(e)}`);
    }
  }

  private renderMuteButtons(): void {
    const mute = byId<HTMLButtonElement>("mute");
    mute.setAttribute("aria-pressed", String(this.muted.audio));
    mute.textContent = this.muted.audio ? "Unmute" : "Mute";
    const camera = byId<HTMLButtonElement>("camera");
    camera.setAttribute("aria-pressed", String(this.muted.video));
    camera.textContent = this.muted.video ? "Start camera" : "Stop camera";
    // Without a call they choose how the next one starts (the pre-join screen shows the same).
    mute.disabled = camera.disabled = false;
    const joinMute = document.getElementById("join-mute");
    const joinCamera = document.getElementById("join-camera");
    joinMute?.setAttribute("aria-pressed", String(this.muted.audio));
    if (joinMute) joinMute.textContent = this.muted.audio ? "Microphone off" : "Microphone on";
    joinCamera?.setAttribute("aria-pressed", String(this.muted.video));
    if (joinCamera) joinCamera.textContent = this.muted.video ? "Camera off" : "Camera on";
  }

  /** A short line over the call ("Bob left the call") that goes away by itself; screen readers
   *  hear it (the box is a polite live region). */
  private announce(change: Presence, text: string): void {
    const line = el("p", `call-notice presence-${change}`, text);
    byId("call-notices").append(line);
    setTimeout(() => line.remove(), NOTICE_MS);
  }

  /** Forget the call shown: its tiles, its frames not yet painted (they would bring back a tile
   *  of someone from that call), its notices. */
  private clearCall(): void {
    for (const t of this.tiles.values()) t.root.remove();
    this.tiles.clear();
    this.pending.clear();
    this.meter = new PaintMeter();
    byId("call-notices").replaceChildren();
    byId("device-notice").replaceChildren();
    byId("device-notice").hidden = true;
  }

  private endView(title: string, detail: string): void {
    this.inCall = false;
    this.session = 0;
    (byId("leave") as HTMLButtonElement).disabled = true;
    this.clearCall();
    byId("call-summary").textContent = "";
    byId("left-title").textContent = title;
    byId("left-detail").textContent = detail;
    byId("left").hidden = false;
    this.renderMuteButtons();
  }

  // --- the join dialog ----------------------------------------------------------------------

  /** "Join a room…": the dialog, focus on the first field to fill. Works whatever the state. */
  openJoin(): void {
    byId("join-panel").hidden = false;
    const empty = JOIN_FIELDS.map((id) => byId<HTMLInputElement>(id)).find((f) => f.required && !f.value.trim());
    (empty ?? byId<HTMLInputElement>("join-server")).focus();
  }

  /** Back to the call (or the left screen) as it was. Not while a join is on its way: the backend
   *  answers it within its timeout, and the dialog says how it went. */
  private closeJoin(): void {
    if (this.pendingSession !== null) return;
    byId("join-panel").hidden = true;
    this.clearJoinError();
    byId(byId("left").hidden ? "open-join" : "left-join").focus();
  }

  private clearJoinError(): void {
    byId("join-error").hidden = true;
    byId("join-error").textContent = "";
    for (const id of JOIN_FIELDS) byId(id).removeAttribute("aria-invalid");
  }

  /** The dialog stays open with what was typed, says why, and puts the focus where to fix it. */
  private showJoinError(message: string, code: ErrorCode | null): void {
    byId("join-panel").hidden = false;
    const box = byId("join-error");
    box.textContent = message;
    box.hidden = false;
    const field = code ? fieldFor(code) : null;
    if (field) {
      const input = byId<HTMLInputElement>(field);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      input.select();
    } else {
      byId("join-submit").focus();
    }
  }

  private setJoining(busy: boolean, join: JoinRequest | null = null): void {
    const submit = byId<HTMLButtonElement>("join-submit");
    for (const id of ["join-submit", "join-demo", "join-cancel"]) byId<HTMLButtonElement>(id).disabled = busy;
    submit.textContent = busy ? "Joining…" : "Join";
    byId("join-panel").setAttribute("aria-busy", String(busy));
    byId("join-progress").textContent = !busy ? "" : join
      ? `Joining ${join.room}…${this.inCall ? " The current call goes on until the room lets you in." : ""}`
      : "Starting the demo call…";
  }

  // --- starting and leaving -----------------------------------------------------------------

  /** Start the demo (`join` null) or join a room. The call shown goes on until the new one
   *  started; `fromDialog`: a failure is said in the join dialog, which stays open. */
  async start(join: JoinRequest | null = null, fromDialog = false): Promise<void> {
    if (!inApp()) {
      showError("This page must run inside the Natter app (the Tauri API is not available).");
      return;
    }
    if (this.pendingSession !== null) return;
    clearError();
    this.clearJoinError();
    const rejoin = byId<HTMLButtonElement>("rejoin");
    rejoin.disabled = true;
    const mySession = ++this.sessions;
    this.pendingSession = mySession;
    this.queued = [];
    this.setJoining(true, join);
    if (!this.inCall) byId("call-summary").textContent = "joining…";
    let info: CallInfo;
    try {
      info = await commands.startCall(channel((message: CallMessage | ArrayBuffer) => this.onMessage(mySession, message)), join);
    } catch (e) {
      this.pendingSession = null;
      this.queued = [];
      this.setJoining(false);
      rejoin.disabled = false;
      this.failed(e, fromDialog);
      return;
    }
    this.pendingSession = null;
    this.setJoining(false);
    rejoin.disabled = false;
    this.show(mySession, info, join);
  }

  /** The new call runs: it replaces the one shown, then its waiting messages are shown. */
  private show(mySession: number, info: CallInfo, join: JoinRequest | null): void {
    this.clearCall();
    this.session = mySession;
    this.join = join;
    this.inCall = true;
    byId("left").hidden = true;
    byId("join-panel").hidden = true;
    byId("room-name").textContent = info.room;
    byId<HTMLButtonElement>("leave").disabled = false;
    this.updateSummary();
    const local = this.tile("local", "You");
    // The microphone and camera as the user left them in the last call (the backend kept them).
    this.muted = { audio: info.audioMuted, video: info.videoMuted };
    this.renderMuteButtons();
    this.showMedia(local, this.muted.audio, this.muted.video);
    if (info.iceWarning) showError(info.iceWarning);
    this.hooks.onCallStarted(info);
    const queued = this.queued;
    this.queued = [];
    for (const message of queued) this.onMessage(mySession, message);
  }

  /** A start failed. A join refused before the hand-over left the running call as it was;
   *  otherwise no call runs any more, and the left screen offers Rejoin and Join a room. */
  private failed(e: unknown, fromDialog: boolean): void {
    const message = describeError(e);
    const code = errorCode(e);
    const kept = this.inCall && code !== null && CALL_KEPT.includes(code);
    if (!kept) this.endView("Not in a call", `The call could not start: ${message}`);
    if (fromDialog) this.showJoinError(message, code);
    else if (kept) showError(`Could not join: ${message}`);
  }

  async leave(): Promise<void> {
    byId<HTMLButtonElement>("leave").disabled = true;
    this.endView("You left the call", "");
    try {
      await commands.leaveCall();
    } catch (e) {
      showError(`Leaving failed: ${describeError(e)}`);
    }
  }
}
