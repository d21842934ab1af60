// Words and numbers for the panels. Pure functions, tested in format.test.ts.
import type { EventKind, HealthTransition, PathReport, PlayoutReport, ProbeStatus, ProbeTransport, SentStreamReport } from "./bindings";

const STATUS_WORDS: Record<ProbeStatus, string> = {
  ok: "ok",
  auth_failed: "wrong username or password",
  forbidden: "forbidden by the server",
  allocation_mismatch: "allocation conflict",
  wrong_credentials: "credentials do not match",
  unsupported_transport: "server misconfigured (transport)",
  quota: "quota reached",
  capacity: "server full",
  unreachable: "unreachable",
  timeout: "no answer",
  tls_failed: "TLS failed",
  protocol_error: "not a STUN/TURN server",
  server_error: "server error",
};

export function statusWords(status: ProbeStatus): string {
  return STATUS_WORDS[status] ?? status.replace(/_/g, " ");
}

export function transportWords(t: ProbeTransport): string {
  return t.toUpperCase();
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value < 10) return `${value.toFixed(1)} ms`;
  return `${Math.round(value)} ms`;
}

export function bitrate(bitsPerSecond: number | null | undefined): string {
  if (bitsPerSecond === null || bitsPerSecond === undefined || !Number.isFinite(bitsPerSecond)) return "—";
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(2)} Mbit/s`;
  if (bitsPerSecond >= 1e3) return `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
  return `${Math.round(bitsPerSecond)} bit/s`;
}

export function percent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "—";
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)} %`;
}

/** How a connection travels, in words: "Direct (local network)", "Direct (through NAT)",
 *  "Relayed via TURN (TCP)", "—". The ICE terms are in `pathJargon`. */
export function pathWords(path: PathReport | null | undefined): string {
  if (!path) return "—";
  if (path.local_candidate === "relay" || path.remote_candidate === "relay") {
    const transport = path.local_candidate === "relay" ? (path.relay_transport ?? "udp") : path.protocol;
    return `Relayed via TURN (${transport.toUpperCase()})`;
  }
  const local = path.local_candidate === "host" && path.remote_candidate === "host";
  return local ? "Direct (local network)" : "Direct (through NAT)";
}

/** The same path in ICE terms, for a tooltip: "host → srflx, UDP · relay turn:b:3478 over TCP". */
export function pathJargon(path: PathReport | null | undefined): string {
  if (!path) return "";
  let text = `${path.local_candidate} → ${path.remote_candidate}, ${path.protocol.toUpperCase()}`;
  if (path.relay_server) text += ` · relay ${path.relay_server} over ${(path.relay_transport ?? "udp").toUpperCase()}`;
  if (path.note) text += ` · ${path.note}`;
  return text;
}

/** A short label for a tile badge: "direct", "relay TCP", … */
export function pathBadge(path: PathReport | null | undefined): string {
  if (!path) return "";
  if (path.local_candidate === "relay") return `relay ${(path.relay_transport ?? "udp").toUpperCase()}`;
  return "direct";
}

export type Quality = "good" | "fair" | "poor";

/** A call-quality verdict from the last second's loss and the round-trip time: what the tile
 *  badge shows. Thresholds: loss above 5 % or RTT above 400 ms make video and speech visibly
 *  suffer (poor); above 1 % or 150 ms it is noticeable (fair). Unknown values do not count. */
export function quality(loss: number | null, rttMs: number | null): Quality {
  if ((loss ?? 0) > 0.05 || (rttMs ?? 0) > 400) return "poor";
  if ((loss ?? 0) > 0.01 || (rttMs ?? 0) > 150) return "fair";
  return "good";
}

/** Packets of a stream after which the other side should have reported receiving it (RTCP
 * reports come every 1 s for video, up to 5 s for a browser's audio). */
const REPORT_EXPECTED_AFTER: Record<"video" | "audio", number> = { video: 300, audio: 400 };

/**
 * What the other side says of the media we send it (its RTCP reports), when something is wrong:
 * "They can't see you: …". `null` when all is well, when we do not send that medium, or when it
 * is too early to tell.
 */
export function remoteReception(
  sent: SentStreamReport | undefined,
  what: "video" | "audio",
  sending: boolean,
): string | null {
  if (!sent || !sending) return null;
  const cannot = what === "video" ? "They can't see you" : "They can't hear you";
  if (sent.codec === null) return `${cannot}: no ${what} format both sides support was agreed`;
  if (sent.packets_sent < REPORT_EXPECTED_AFTER[what]) return null;
  if (sent.reports === 0) {
    return `${cannot}? They have not confirmed receiving any of the ${sent.packets_sent} ${what} packets sent`;
  }
  if (sent.remote_packets_received === 0) {
    return `${cannot}: none of the ${sent.packets_sent} ${what} packets sent reached them`;
  }
  if (sent.remote_fraction_lost >= 0.1) {
    return `They receive your ${what} with ${percent(sent.remote_fraction_lost)} packet loss`;
  }
  return null;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The audio buffer's repairs in words ("5 audio gaps filled in, 1 packet arrived too late");
 *  the terms (concealed, late, duplicates) go in `playoutJargon`. */
export function playoutWords(playout: PlayoutReport): string {
  const parts = [
    plural(playout.concealed, "audio gap filled in", "audio gaps filled in"),
    plural(playout.late, "packet arrived too late", "packets arrived too late"),
  ];
  if (playout.recovered) parts.push(plural(playout.recovered, "lost packet rebuilt", "lost packets rebuilt"));
  if (playout.duplicates) parts.push(plural(playout.duplicates, "packet came twice", "packets came twice"));
  return `Audio delay ${playout.depth_ms.toFixed(0)} ms (aiming at ${playout.target_ms.toFixed(0)} ms) · ${parts.join(", ")}`;
}

export function playoutJargon(playout: PlayoutReport): string {
  return `Jitter buffer depth ${playout.depth_ms.toFixed(0)} ms, target ${playout.target_ms.toFixed(0)} ms; ` +
    `${playout.concealed} concealed (PLC), ${playout.recovered} recovered (FEC), ${playout.late} late, ` +
    `${playout.duplicates} duplicates, ${playout.dropped_for_drift} dropped for clock drift`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A timeline time in the local time zone: "14:03:41" today, "7 Dec 14:03:41" another day,
 *  "7 Dec 2025 14:03:41" another year. */
export function timelineTime(whenMs: number, nowMs: number): string {
  const when = new Date(whenMs);
  const now = new Date(nowMs);
  const clock = `${pad2(when.getHours())}:${pad2(when.getMinutes())}:${pad2(when.getSeconds())}`;
  const sameDay = when.getFullYear() === now.getFullYear() && when.getMonth() === now.getMonth() && when.getDate() === now.getDate();
  if (sameDay) return clock;
  const year = when.getFullYear() === now.getFullYear() ? "" : ` ${when.getFullYear()}`;
  return `${when.getDate()} ${MONTHS[when.getMonth()]}${year} ${clock}`;
}

/** What an entry of the "What happened" timeline is about; `timelineKindWords` names it. */
export type TimelineKind =
  | "joined" | "left" | "connected" | "interrupted" | "restart" | "recovered" | "failed"
  | "server-ok" | "server-bad" | "signaling" | "video" | "quality" | "info";

export type Tone = "ok" | "bad" | "warn" | "info";

const TIMELINE_KINDS: Record<TimelineKind, { label: string; tone: Tone }> = {
  joined: { label: "Joined", tone: "ok" },
  left: { label: "Left", tone: "info" },
  connected: { label: "Connected", tone: "ok" },
  interrupted: { label: "Interrupted", tone: "bad" },
  restart: { label: "New path", tone: "warn" },
  recovered: { label: "Back", tone: "ok" },
  failed: { label: "Failed", tone: "bad" },
  "server-ok": { label: "Server ok", tone: "ok" },
  "server-bad": { label: "Server problem", tone: "bad" },
  signaling: { label: "Signaling", tone: "warn" },
  video: { label: "Video", tone: "warn" },
  quality: { label: "Quality", tone: "warn" },
  info: { label: "Note", tone: "info" },
};

/** The label shown beside a timeline entry ("Joined", "Server problem") and its colour. */
export function timelineKindWords(kind: TimelineKind): { label: string; tone: Tone } {
  return TIMELINE_KINDS[kind] ?? TIMELINE_KINDS.info;
}

const PEER_EVENTS: Record<EventKind, { kind: TimelineKind; words: string }> = {
  connected: { kind: "connected", words: "connected" },
  recovered: { kind: "recovered", words: "connection back" },
  disconnected: { kind: "interrupted", words: "connection interrupted" },
  failed: { kind: "failed", words: "cannot connect" },
  ice_restart: { kind: "restart", words: "looking for another path" },
  refused: { kind: "failed", words: "connection refused" },
  gave_up: { kind: "failed", words: "gave up reconnecting" },
  codec: { kind: "info", words: "media format agreed" },
  ignored: { kind: "info", words: "a message was ignored" },
  video_stalled: { kind: "video", words: "video stalled" },
  video_resumed: { kind: "recovered", words: "video moving again" },
  lost: { kind: "signaling", words: "lost the signaling server" },
  reconnected: { kind: "recovered", words: "signaling server back" },
};

/** A participant's connection event as a timeline entry: "Bob: connection interrupted — …". */
export function peerEventWords(name: string, kind: EventKind, detail: string): { kind: TimelineKind; text: string } {
  const event = PEER_EVENTS[kind] ?? { kind: "info" as const, words: String(kind).replace(/_/g, " ") };
  return { kind: event.kind, text: `${name}: ${event.words}${detail ? ` — ${detail}` : ""}` };
}

/** A server's status change as a timeline entry, without the UTC clock the backend's sentence
 *  carries (the timeline shows local time): "turn:a:3478 (UDP) stopped working: no answer — …". */
export function serverTransitionWords(t: HealthTransition): { kind: TimelineKind; text: string } {
  const ok = t.to === "ok";
  const status = ok
    ? (t.from === null ? "works" : "works again")
    : `${t.from === null ? "does not work" : t.from === "ok" ? "stopped working" : "still does not work"}: ${statusWords(t.to)}`;
  const at = t.message.match(/ at \d{1,2}:\d{2}:\d{2} UTC(?:: (.*))?$/s);
  const detail = at ? (at[1] ?? "") : "";
  return {
    kind: ok ? "server-ok" : "server-bad",
    text: `${t.url} (${transportWords(t.transport)}) ${status}${detail ? ` — ${detail}` : ""}`,
  };
}
