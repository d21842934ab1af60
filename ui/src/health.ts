// The connection-health panel: every ICE server × transport with its live status, and per
// participant the path in use with RTT, loss, jitter, bitrate and fps over the last minute, plus
// a timeline of what happened (server status changes, who joined and left, disconnects, restarts,
// recoveries).
// Data arrives pushed: server transitions on their own channel, call stats once a second.
import { commands, type HealthTransition, type LogsInfo, type ParticipantReport, type PeerEvent, type ServerHealth, type TilePainting } from "./bindings";
import { bitrate, ms, pathWords, percent, quality, remoteReception, statusWords, transportWords, type Quality } from "./format";
import { PeerHistory, Series, sparklinePath } from "./history";
import { channel, describeError, inApp } from "./tauri";
import { byId, el } from "./dom";

interface TimelineEntry { key: string; whenMs: number; text: string; kind: string }

export class HealthPanel {
  private servers = new Map<string, ServerHealth>();
  private histories = new Map<string, PeerHistory>();
  private timeline = new Map<string, TimelineEntry>();
  private lastReport: ParticipantReport | null = null;
  /** What the window painted per tile (the call view measures it). */
  private painting = new Map<string, TilePainting>();
  private callStartedWallMs = Date.now();
  private notes = 0;
  focused: string | null = null;

  constructor() {
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
    this.renderServers();
    try {
      await commands.watchIceHealth(channel<HealthTransition>((t) => this.onTransition(t)));
    } catch (e) {
      byId("server-health-empty").hidden = false;
      byId("server-health-empty").textContent = `Cannot watch the ICE servers: ${describeError(e)}`;
    }
  }

  private async onTransition(t: HealthTransition): Promise<void> {
    this.addTimeline(`srv:${t.url}:${t.transport}:${t.at_unix}:${t.to}`, t.at_unix * 1000, t.message, t.to === "ok" ? "ok" : "bad");
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
    if (!this.servers.size) byId("server-health-empty").textContent = "No ICE servers configured: calls use direct paths only. Add STUN/TURN servers under “ICE servers”.";
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

  /** Something that happened now, for the timeline ("Bob left the call"): `kind` ok | bad | info. */
  note(text: string, kind: string): void {
    this.notes += 1;
    this.addTimeline(`note:${this.notes}`, Date.now(), text, kind);
  }

  private addPeerEvent(name: string, remote: string, event: PeerEvent): void {
    const key = `peer:${remote}:${event.at_ms}:${event.kind}`;
    if (this.timeline.has(key)) return;
    const words: Record<string, string> = {
      connected: "connected", disconnected: "connection interrupted", failed: "cannot connect",
      ice_restart: "looking for another path", recovered: "back", gave_up: "gave up",
    };
    const text = `${name}: ${words[event.kind] ?? event.kind}${event.detail ? ` — ${event.detail}` : ""}`;
    const kind = event.kind === "connected" || event.kind === "recovered" ? "ok" : event.kind === "ice_restart" ? "info" : "bad";
    this.addTimeline(key, this.callStartedWallMs + event.at_ms, text, kind);
  }

  private addTimeline(key: string, whenMs: number, text: string, kind: string): void {
    if (this.timeline.has(key)) return;
    this.timeline.set(key, { key, whenMs, text, kind });
    this.renderTimeline();
  }

  private renderTimeline(): void {
    const list = byId("timeline");
    const entries = [...this.timeline.values()].sort((a, b) => b.whenMs - a.whenMs).slice(0, 100);
    list.replaceChildren(
      ...entries.map((e) => {
        const item = el("li", `event ${e.kind}`);
        item.append(el("time", "", new Date(e.whenMs).toLocaleTimeString()), el("span", "", e.text));
        return item;
      }),
    );
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
        const metrics = el("div", "metrics");
        if (series) {
          metrics.append(
            metric("RTT", ms(series.rttMs.last()), series.rttMs),
            metric("Loss", percent(series.loss.last()), series.loss),
            metric("Jitter", ms(series.jitterMs.last()), series.jitterMs),
            metric("Bitrate", bitrate(series.bitrate.last()), series.bitrate),
            metric("Video", series.fps.last() === null ? "—" : `${series.fps.last()!.toFixed(0)} fps`, series.fps),
          );
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
          card.append(el("p", "playout",
            `Audio buffer ${playout.depth_ms.toFixed(0)} ms (aiming at ${playout.target_ms.toFixed(0)} ms) · ` +
            `${playout.concealed} concealed, ${playout.late} late, ${playout.duplicates} duplicate packets`));
        }
        return card;
      }),
    );
  }

  /** The diagnostics file last written (for "Show in folder"). */
  private diagnosticsFile: string | null = null;

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

function metric(label: string, value: string, series: Series): HTMLElement {
  const box = el("div", "metric");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("class", "spark");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", sparklinePath(series.values, 120, 28));
  svg.append(path);
  box.append(el("span", "label", label), el("span", "value", value), svg);
  return box;
}
