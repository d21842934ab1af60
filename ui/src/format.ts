// Words and numbers for the panels. Pure functions, tested in format.test.ts.
import type { PathReport, ProbeStatus, ProbeTransport, SentStreamReport } from "./bindings";

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

/** "Relay via turn:a:3478 over TCP", "Direct (host → srflx)", "—". */
export function pathWords(path: PathReport | null | undefined): string {
  if (!path) return "—";
  if (path.local_candidate === "relay") {
    const transport = (path.relay_transport ?? "udp").toUpperCase();
    return `Relay via ${path.relay_server ?? "TURN"} over ${transport}`;
  }
  const kind: Record<string, string> = { host: "local network", srflx: "through NAT (STUN)", prflx: "through NAT" };
  const label = kind[path.local_candidate] ?? kind[path.remote_candidate] ?? path.local_candidate;
  return `Direct, ${label} (${path.local_candidate} → ${path.remote_candidate}, ${path.protocol.toUpperCase()})`;
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
