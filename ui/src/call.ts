// The call view: one tile per participant (self view first), drawn from the frames the backend
// decodes; status badges; leave/rejoin. Frames arrive as binary channel messages (frames.ts),
// everything else as JSON: status, stats (also for the health panel), ended.
import { commands, type CallInfo, type CallMessage, type JoinRequest, type LocalMediaReport, type MediaKind, type ParticipantReport, type TilePainting } from "./bindings";
import { decodeMessage, type DecodedFrame } from "./frames";
import { createRenderer, type TileRenderer } from "./render";
import { PaintMeter } from "./paint-meter";
import { pathBadge, type Quality } from "./format";
import { channel, describeError, inApp } from "./tauri";
import { byId, clearError, cloneTemplate, showError } from "./dom";

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
  onPainting(tiles: TilePainting[]): void;
  /** A microphone's level (`"local"`: ours), about 10 times a second. */
  onLevel?(tileId: string, dbfs: number): void;
}

/** A level meter (an element holding one bar) showing `dbfs`: -60 dBFS and below is empty. */
export function showLevel(meter: HTMLElement | null, dbfs: number): void {
  if (!meter) return;
  meter.hidden = false;
  const fill = Math.max(0, Math.min(1, (dbfs + 60) / 60));
  (meter.firstElementChild as HTMLElement | null)?.style.setProperty("width", `${Math.round(fill * 100)}%`);
  meter.dataset.level = fill.toFixed(2);
}

export class CallView {
  private tiles = new Map<string, Tile>();
  private drawn = 0;
  private session = 0;
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
    (window as unknown as { natterDebug: unknown }).natterDebug = debug;
    byId("leave").addEventListener("click", () => void this.leave());
    byId("mute").addEventListener("click", () => void this.toggle("audio"));
    byId("camera").addEventListener("click", () => void this.toggle("video"));
    byId("rejoin").addEventListener("click", () => void this.start(this.join));
    const panel = byId<HTMLFormElement>("join-panel");
    byId("open-join").addEventListener("click", () => {
      panel.hidden = false;
      byId<HTMLInputElement>("join-server").focus();
    });
    byId("join-cancel").addEventListener("click", () => (panel.hidden = true));
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        panel.hidden = true;
        byId("open-join").focus();
      }
    });
    byId("join-demo").addEventListener("click", () => {
      panel.hidden = true;
      void this.start(null);
    });
    panel.addEventListener("submit", (e) => {
      e.preventDefault();
      panel.hidden = true;
      void this.start({
        signalUrl: byId<HTMLInputElement>("join-server").value.trim(),
        room: byId<HTMLInputElement>("join-room").value.trim(),
        name: byId<HTMLInputElement>("join-name").value.trim(),
        roomSecret: byId<HTMLInputElement>("join-secret").value || undefined,
      });
    });
    // Acknowledgements also go out on a timer, in case a paint never comes (hidden window).
    setInterval(() => this.acknowledge(), 250);
    setInterval(() => this.reportPainting(), 1000);
    this.watchTileSize();
  }

  private reportPainting(): void {
    this.painting = this.meter.figures(performance.now(), (id) => this.tiles.get(id)?.renderer?.kind ?? "none");
    this.hooks.onPainting(this.painting);
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
    const observer = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(tell, 150);
    });
    observer.observe(byId("grid"));
    // Tiles come and go without the grid's own size changing.
    new MutationObserver(() => {
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
  }

  private onMessage(mySession: number, message: CallMessage | ArrayBuffer): void {
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
    mute.disabled = camera.disabled = !this.inCall;
  }

  private endView(title: string, detail: string): void {
    this.inCall = false;
    this.session += 1;
    (byId("leave") as HTMLButtonElement).disabled = true;
    for (const t of this.tiles.values()) t.root.remove();
    this.tiles.clear();
    this.pending.clear();
    this.meter = new PaintMeter();
    byId("call-summary").textContent = "";
    byId("left-title").textContent = title;
    byId("left-detail").textContent = detail;
    byId("left").hidden = false;
    this.renderMuteButtons();
  }

  async start(join: JoinRequest | null = null): Promise<void> {
    if (!inApp()) {
      showError("This page must run inside the Natter app (the Tauri API is not available).");
      return;
    }
    clearError();
    byId("left").hidden = true;
    const rejoin = byId<HTMLButtonElement>("rejoin");
    rejoin.disabled = true;
    // A new call replaces the current one: clear its tiles first, and its frames not yet
    // painted (they would bring back a tile of someone from the previous call).
    for (const t of this.tiles.values()) t.root.remove();
    this.tiles.clear();
    this.pending.clear();
    this.meter = new PaintMeter();
    byId("device-notice").replaceChildren();
    byId("device-notice").hidden = true;
    this.join = join;
    const mySession = ++this.session;
    byId("call-summary").textContent = "joining…";
    try {
      const info = await commands.startCall(channel((message: CallMessage | ArrayBuffer) => this.onMessage(mySession, message)), join);
      if (mySession !== this.session) return;
      byId("room-name").textContent = info.room;
      this.inCall = true;
      byId<HTMLButtonElement>("leave").disabled = false;
      this.updateSummary();
      this.tile("local", "You");
      this.muted = { audio: false, video: false };
      this.renderMuteButtons();
      if (info.iceWarning) showError(info.iceWarning);
      this.hooks.onCallStarted(info);
    } catch (e) {
      showError(`Could not start the call: ${describeError(e)}`);
      this.endView("Not in a call", "The call could not start (see above).");
    } finally {
      rejoin.disabled = false;
    }
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
