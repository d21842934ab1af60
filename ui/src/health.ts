// The connection-health panel: every ICE server × transport with its live status, and per
// participant the path in use with RTT, loss, jitter, bitrate and fps over the last minute, plus
// a timeline of what happened (server status changes, who joined and left, disconnects, restarts,
// recoveries).
// Data arrives pushed: server transitions on their own channel, call stats once a second.
import { commands, type HealthTransition, type LogsInfo, type ParticipantReport, type PeerEvent, type ServerHealth, type TilePainting } from "./bindings";
import {
  bitrate, ms, pathJargon, pathWords, peerEventWords, percent, playoutJargon, playoutWords, quality, remoteReception,
  serverTransitionWords, statusWords, timelineKindWords, timelineTime, transportWords, type Quality, type TimelineKind,
} from "./format";
import { PeerHistory, Series, axisMax, sampleIndexAt, sparklinePath } from "./history";
import { channel, describeError, inApp } from "./tauri";
import { byId, el } from "./dom";

export type { TimelineKind } from "./format";

interface TimelineEntry { key: string; whenMs: number; text: string; kind: TimelineKind }

/** The panel the page shows (the one `addTimelineEntry` writes to). */
let current: HealthPanel | null = null;

/**
 * Adds a line to the "What happened" timeline: `atMs` a wall-clock time (`Date.now()`), `kind`
 * what it is about (shown as a label: "Joined", "Left", "Server problem"…), `text` one plain
 * sentence ("Ann joined"). `key` makes it idempotent (the same key is added once).
 */
export function addTimelineEntry(atMs: number, kind: TimelineKind, text: string, key?: string): void {
  current?.addTimelineEntry(atMs, kind, text, key);
}

/** What the pointer is over: a graph of a participant, and where along it (0…1). */
interface Hover { remote: string; metric: string; fraction: number }

export class HealthPanel {
  private servers = new Map<string, ServerHealth>();
  /** How many servers the settings hold (shown as "Checking…" until their first result). */
  private savedServers = 0;
  private histories = new Map<string, PeerHistory>();
  private timeline = new Map<string, TimelineEntry>();
  private lastReport: ParticipantReport | null = null;
  /** What the window painted per tile (the call view measures it). */
  private painting = new Map<string, TilePainting>();
  private callStartedWallMs = Date.now();
  focused: string | null = null;
  private hover: Hover | null = null;
  private entriesAdded = 0;

  constructor() {
    current = this;
    byId("recheck-servers").addEventListener("click", () => void this.watch());
    byId("export-diagnostics").addEventListener("click", () => void this.exportDiagnostics());
    byId("show-diagnostics").addEventListener("click", () => void this.showDiagnostics());
    const detailed = byId<HTMLInputElement>("detailed-logs");
    detailed.addEventListener("change", () => void this.showLogs(commands.setDetailedLogs(detailed.checked)));
    if (inApp()) void this.showLogs(commands.logsInfo());
  }

  /** The logs line of the footer: where the files are, and the detailed-logs choice. */
  private async showLogs(info: Promise<LogsInfo>): Promise<void> {
    const where = byId("logs-where");
    try {
      const logs = await info;
      byId<HTMLInputElement>("detailed-logs").checked = logs.detailed;
      where.textContent = (logs.directory ? `Logs: ${logs.directory}` : "") + (logs.overridden ? " (NATTER_LOG decides the level)" : "");
    } catch (e) {
      where.textContent = `Logs: ${describeError(e)}`;
    }
  }

  /** (Re)start watching the saved servers; called at start and after settings are saved. */
  async watch(): Promise<void> {
    if (!inApp()) return;
    this.servers.clear();
    // Until the first probe answers, say that the saved servers are being checked (not that
    // there are none).
    this.savedServers = await commands.getSettings().then((v) => v.settings.servers.length, () => 0);
    this.renderServers();
    try {
      await commands.watchIceHealth(channel<HealthTransition>((t) => this.onTransition(t)));
    } catch (e) {
      byId("server-health-empty").hidden = false;
      byId("server-health-empty").textContent = `Cannot watch the ICE servers: ${describeError(e)}`;
    }
  }

  private async onTransition(t: HealthTransition): Promise<void> {
    const entry = serverTransitionWords(t);
    this.addTimelineEntry(t.at_unix * 1000, entry.kind, entry.text, `srv:${t.url}:${t.transport}:${t.at_unix}:${t.to}`);
    // The transition says what changed; the snapshot has RTT and the error text.
    try {
      for (const h of await commands.iceHealthSnapshot()) this.servers.set(`${h.url}|${h.transport}`, h);
    } catch {
      /* the next transition will try again */
    }
    this.renderServers();
  }

  private renderServers(): void {
    const body = byId("server-health").querySelector("tbody")!;
    body.replaceChildren();
    for (const h of this.servers.values()) {
      const row = el("tr", `server-row ${h.status === "ok" ? "ok" : "bad"}`);
      row.dataset.url = h.url;
      row.dataset.transport = h.transport;
      row.append(
        el("td", "url", h.url),
        el("td", "", transportWords(h.transport)),
        el("td", `status ${h.status}`, statusWords(h.status)),
        el("td", "rtt", h.status === "ok" ? ms(h.rtt_ms) : "—"),
        el("td", "detail", h.error ?? (h.relayed_address ? `relay address ${h.relayed_address}` : h.mapped_address ? `your public address ${h.mapped_address}` : "")),
      );
      body.append(row);
    }
    byId("server-health-empty").hidden = this.servers.size > 0;
    if (!this.servers.size) {
      byId("server-health-empty").textContent = this.savedServers
        ? `Checking ${this.savedServers} ICE server${this.savedServers === 1 ? "" : "s"}…`
        : "No ICE servers configured: calls use direct paths only. Add STUN/TURN servers under “ICE servers”.";
    }
  }

  callStarted(): void {
    this.histories.clear();
    this.callStartedWallMs = Date.now();
    for (const key of [...this.timeline.keys()]) if (key.startsWith("peer:")) this.timeline.delete(key);
    this.renderTimeline();
  }

  onStats(atMs: number, report: ParticipantReport): void {
    this.lastReport = report;
    for (const peer of report.peers) {
      let history = this.histories.get(peer.remote);
      if (!history) {
        history = new PeerHistory();
        this.histories.set(peer.remote, history);
      }
      history.add(atMs, peer);
      for (const event of peer.events) this.addPeerEvent(peer.remote_name, peer.remote, event);
    }
    this.renderPeers();
  }

  private addPeerEvent(name: string, remote: string, event: PeerEvent): void {
    const { kind, text } = peerEventWords(name, event.kind, event.detail);
    this.addTimelineEntry(this.callStartedWallMs + event.at_ms, kind, text, `peer:${remote}:${event.at_ms}:${event.kind}`);
  }

  /** See the module's `addTimelineEntry`. */
  addTimelineEntry(atMs: number, kind: TimelineKind, text: string, key?: string): void {
    const id = key ?? `entry:${++this.entriesAdded}`;
    if (this.timeline.has(id)) return;
    this.timeline.set(id, { key: id, whenMs: atMs, text, kind });
    this.renderTimeline();
  }

  /** Newest first, local time (with the date when not today), the kind as a word. */
  private renderTimeline(): void {
    const list = byId("timeline");
    const now = Date.now();
    const entries = [...this.timeline.values()].sort((a, b) => b.whenMs - a.whenMs).slice(0, 500);
    list.replaceChildren(
      ...entries.map((e) => {
        const { label, tone } = timelineKindWords(e.kind);
        const item = el("li", `event ${tone}`);
        item.dataset.kind = e.kind;
        const time = el("time", "", timelineTime(e.whenMs, now));
        time.dateTime = new Date(e.whenMs).toISOString();
        time.title = new Date(e.whenMs).toLocaleString();
        item.append(time, el("span", `kind ${tone}`, label), el("span", "text", e.text));
        return item;
      }),
    );
    byId("timeline-empty").hidden = entries.length > 0;
    // A date before a time (not today) needs a wider column.
    list.classList.toggle("with-dates", entries.some((e) => !/^\d\d:/.test(timelineTime(e.whenMs, now))));
  }

  /** The grade of `remote`'s connection from its last second (`null` before any stats). */
  quality(remote: string): Quality | null {
    const series = this.histories.get(remote)?.series;
    return series ? quality(series.loss.last(), series.rttMs.last()) : null;
  }

  /** The call view's paint figures, every second: shown in the participants' cards. */
  onPainting(tiles: TilePainting[]): void {
    this.painting = new Map(tiles.map((t) => [t.tile_id, t]));
  }

  focus(remote: string): void {
    this.focused = remote;
    this.renderPeers();
    document.querySelector<HTMLElement>(`.peer-card[data-remote="${CSS.escape(remote)}"]`)?.focus();
  }

  private renderPeers(): void {
    const box = byId("peer-health");
    const report = this.lastReport;
    const peers = report?.peers.filter((p) => p.left_ms === undefined || p.left_ms === null) ?? [];
    byId("peer-health-empty").hidden = peers.length > 0;
    box.replaceChildren(
      ...peers.map((peer) => {
        const series = this.histories.get(peer.remote)?.series;
        const card = el("article", `peer-card ${peer.state}`);
        card.dataset.remote = peer.remote;
        card.tabIndex = -1;
        if (this.focused === peer.remote) card.classList.add("focused");
        const head = el("header");
        head.append(el("h3", "", peer.remote_name), el("span", `state ${peer.state}`, peer.state));
        const path = el("p", "path", pathWords(peer.path));
        const jargon = pathJargon(peer.path);
        if (jargon) {
          path.title = jargon;
          path.classList.add("has-jargon");
        }
        const metrics = el("div", "metrics");
        if (series) {
          for (const m of METRICS) metrics.append(this.metric(peer.remote, m, m.series(series)));
        }
        card.append(head, path, metrics);
        const painted = this.painting.get(peer.remote);
        if (painted) card.append(el("p", "painted", paintedWords(painted)));
        // What they say they receive of us (their RTCP reports): "They can't see you: …".
        const local = report?.local_media;
        for (const warning of [
          remoteReception(peer.sent?.video, "video", local?.camera.sending ?? false),
          remoteReception(peer.sent?.audio, "audio", local?.microphone.sending ?? false),
        ]) {
          if (warning) card.append(el("p", "reception warning", warning));
        }
        // What we send them: the estimate of their path, and why the picture is smaller.
        const out = peer.sent?.video;
        if (out?.resolution) {
          card.append(el("p", "sending",
            `Sending ${out.resolution.replace("x", "×")} at ${bitrate((out.bitrate_kbps ?? 0) * 1000)}` +
            (out.target_kbps == null ? "" : ` · the path carries about ${bitrate(out.target_kbps * 1000)}`)));
        }
        if (peer.quality_note) card.append(el("p", "quality-limit warning", peer.quality_note));
        if (peer.video.freeze_count > 0) {
          // Stalled video (gaps over 200 ms between pictures), e.g. while a call moved paths.
          const longest = peer.video.longest_freeze_ms ?? 0;
          card.append(el("p", "freezes",
            `Video froze ${peer.video.freeze_count} time${peer.video.freeze_count === 1 ? "" : "s"}` +
            ` (longest ${(longest / 1000).toFixed(1)} s)`));
        }
        const playout = peer.audio.playout;
        if (playout) {
          // The jitter buffer in front of the speaker: how much it holds, and what it had to patch.
          const line = el("p", "playout has-jargon", playoutWords(playout));
          line.title = playoutJargon(playout);
          card.append(line);
        }
        return card;
      }),
    );
  }

  /** The diagnostics file last written (for "Show in folder"). */
  private diagnosticsFile: string | null = null;

  /** A metric: its name (the term in a tooltip), its last value, and a graph of the last minute
   *  with its axis (0 to a round maximum, the unit's words) and the value under the pointer. */
  private metric(remote: string, spec: MetricSpec, series: Series): HTMLElement {
    const box = el("div", "metric");
    box.dataset.metric = spec.id;
    const label = el("span", "label", spec.label);
    label.title = spec.jargon;
    const top = axisMax(series.values, spec.floor);
    const chart = el("div", "chart");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${GRAPH_W} ${GRAPH_H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "spark");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    line.setAttribute("d", sparklinePath(series.values, GRAPH_W, GRAPH_H, series.capacity, top));
    const cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
    cursor.setAttribute("class", "cursor");
    cursor.setAttribute("y1", "0");
    cursor.setAttribute("y2", String(GRAPH_H));
    cursor.setAttribute("visibility", "hidden");
    svg.append(line, cursor);
    chart.append(svg, el("span", "axis y-max", spec.format(top)), el("span", "axis y-min", "0"));
    const axis = el("div", "axis x");
    const readout = el("span", "readout");
    axis.append(el("span", "", `${series.capacity} s ago`), readout, el("span", "", "now"));
    box.append(label, el("span", "value", spec.format(series.last())), chart, axis);

    const show = (fraction: number | null) => {
      const index = fraction === null ? null : sampleIndexAt(fraction * GRAPH_W, GRAPH_W, series.values.length, series.capacity);
      if (index === null) {
        cursor.setAttribute("visibility", "hidden");
        readout.textContent = "";
        box.classList.remove("hovered");
        return;
      }
      const x = ((series.capacity - series.values.length + index) * GRAPH_W) / (series.capacity - 1);
      cursor.setAttribute("x1", x.toFixed(1));
      cursor.setAttribute("x2", x.toFixed(1));
      cursor.setAttribute("visibility", "visible");
      const at = series.times[index];
      const when = at === null ? "" : `${timelineTime(this.callStartedWallMs + at, Date.now())} · `;
      readout.textContent = `${when}${spec.format(series.values[index])}`;
      box.classList.add("hovered");
    };
    chart.addEventListener("pointermove", (e) => {
      const rect = chart.getBoundingClientRect();
      const fraction = rect.width > 0 ? (e.clientX - rect.left) / rect.width : 0;
      this.hover = { remote, metric: spec.id, fraction };
      show(fraction);
    });
    chart.addEventListener("pointerleave", () => {
      this.hover = null;
      show(null);
    });
    // The panel is redrawn every second: keep showing the value under a pointer that stays put.
    const hover = this.hover;
    if (hover && hover.remote === remote && hover.metric === spec.id) show(hover.fraction);
    return box;
  }

  private async exportDiagnostics(): Promise<void> {
    const result = byId("diagnostics-result");
    const show = byId("show-diagnostics");
    result.textContent = "writing…";
    show.hidden = true;
    try {
      this.diagnosticsFile = await commands.exportDiagnostics();
      result.textContent = `Saved to ${this.diagnosticsFile} (passwords removed)`;
      show.hidden = false;
    } catch (e) {
      result.textContent = `Could not export: ${describeError(e)}`;
    }
  }

  private async showDiagnostics(): Promise<void> {
    if (!this.diagnosticsFile) return;
    try {
      await commands.showInFolder(this.diagnosticsFile);
    } catch (e) {
      byId("diagnostics-result").textContent = describeError(e);
    }
  }
}

/** "On screen: 29 fps · 1 frame/s not shown · 38 ms from their camera" (decoded ≠ shown when the
 *  window cannot keep up). */
export function paintedWords(p: TilePainting): string {
  let text = `On screen: ${p.painted_fps.toFixed(0)} fps`;
  if (p.dropped_fps >= 0.5) text += ` · ${p.dropped_fps.toFixed(0)} frame${p.dropped_fps >= 1.5 ? "s" : ""}/s not shown`;
  if (p.capture_to_paint_p95_ms !== null) text += ` · ${p.capture_to_paint_p95_ms.toFixed(0)} ms from their camera`;
  return text;
}

/** A graph of the health panel: what it shows, in words and in the usual term (tooltip). */
interface MetricSpec {
  id: string;
  label: string;
  jargon: string;
  series(s: PeerHistory["series"]): Series;
  format(v: number | null): string;
  /** The axis goes at least this high (a flat line of zeros sits at the bottom of a real scale). */
  floor: number;
}

const fps = (v: number | null) => (v === null ? "—" : `${v.toFixed(0)} fps`);

const METRICS: MetricSpec[] = [
  { id: "rtt", label: "Round trip", jargon: "RTT: round-trip time", series: (s) => s.rttMs, format: ms, floor: 10 },
  { id: "loss", label: "Packet loss", jargon: "RTP packet loss", series: (s) => s.loss, format: percent, floor: 0.01 },
  { id: "jitter", label: "Jitter", jargon: "Interarrival jitter: how much packet delays vary", series: (s) => s.jitterMs, format: ms, floor: 10 },
  { id: "bitrate", label: "Receiving", jargon: "Bitrate received (audio + video)", series: (s) => s.bitrate, format: bitrate, floor: 100_000 },
  { id: "fps", label: "Video", jargon: "Frames decoded per second", series: (s) => s.fps, format: fps, floor: 5 },
];

/** The graphs' drawing box (SVG user units; stretched to the element). */
const GRAPH_W = 120;
const GRAPH_H = 36;
