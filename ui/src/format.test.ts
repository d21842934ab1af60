import { describe, expect, it } from "vitest";
import {
  bitrate, ms, pathBadge, pathJargon, pathWords, peerEventWords, percent, playoutJargon, playoutWords, quality,
  remoteReception, serverTransitionWords, statusWords, timelineKindWords, timelineTime,
} from "./format";
import type { PathReport, PlayoutReport, SentStreamReport } from "./bindings";

const relay: PathReport = { local_candidate: "relay", remote_candidate: "srflx", protocol: "udp", relay_server: "turn:b.example:3478?transport=tcp", relay_transport: "tcp" };
const direct: PathReport = { local_candidate: "host", remote_candidate: "srflx", protocol: "udp", relay_server: null, relay_transport: null };

describe("format", () => {
  it("names relayed and direct paths in words, the ICE terms apart", () => {
    expect(pathWords(relay)).toBe("Relayed via TURN (TCP)");
    expect(pathWords(direct)).toBe("Direct (through NAT)");
    expect(pathWords({ ...direct, remote_candidate: "host" })).toBe("Direct (local network)");
    expect(pathWords({ ...direct, local_candidate: "prflx" })).toBe("Direct (through NAT)");
    expect(pathWords({ ...relay, relay_transport: "tls" })).toBe("Relayed via TURN (TLS)");
    expect(pathWords({ ...relay, relay_transport: null })).toBe("Relayed via TURN (UDP)");
    // The other side relays: we reach its relay directly, over our own protocol.
    expect(pathWords({ ...direct, remote_candidate: "relay" })).toBe("Relayed via TURN (UDP)");
    expect(pathWords(null)).toBe("—");
    expect(pathJargon(direct)).toBe("host → srflx, UDP");
    expect(pathJargon(relay)).toBe("relay → srflx, UDP · relay turn:b.example:3478?transport=tcp over TCP");
    expect(pathJargon({ ...direct, local_candidate: "prflx", note: "mDNS names not resolved" })).toBe(
      "prflx → srflx, UDP · mDNS names not resolved");
    expect(pathJargon(null)).toBe("");
    expect(pathBadge(relay)).toBe("relay TCP");
    expect(pathBadge(direct)).toBe("direct");
  });

  it("formats numbers for people", () => {
    expect(ms(0.42)).toBe("0.4 ms");
    expect(ms(123.6)).toBe("124 ms");
    expect(ms(null)).toBe("—");
    expect(bitrate(1_500_000)).toBe("1.50 Mbit/s");
    expect(bitrate(64_000)).toBe("64 kbit/s");
    expect(percent(0.025)).toBe("2.5 %");
    expect(percent(0.5)).toBe("50 %");
  });

  it("says when the other side does not get our media", () => {
    const sent = (over: Partial<SentStreamReport>): SentStreamReport => ({
      codec: "H264/90000 as payload type 108", packets_sent: 1000, reports: 3, remote_packets_received: 990,
      remote_packets_lost: 10, remote_fraction_lost: 0.01, remote_jitter_ms: 2, rtt_ms: 12,
      resolution_changes: [], retransmitted_packets: 0, retransmissions_withheld: 0, ...over,
    });
    expect(remoteReception(sent({}), "video", true)).toBeNull();
    expect(remoteReception(sent({ remote_packets_received: 0 }), "video", true)).toBe(
      "They can't see you: none of the 1000 video packets sent reached them");
    expect(remoteReception(sent({ reports: 0, remote_packets_received: 0 }), "audio", true)).toContain("They can't hear you?");
    expect(remoteReception(sent({ codec: null }), "video", true)).toContain("no video format");
    expect(remoteReception(sent({ remote_fraction_lost: 0.25 }), "video", true)).toContain("25 % packet loss");
    // Too early to tell, or not sending at all: nothing to say.
    expect(remoteReception(sent({ packets_sent: 50, reports: 0, remote_packets_received: 0 }), "video", true)).toBeNull();
    expect(remoteReception(sent({ remote_packets_received: 0 }), "video", false)).toBeNull();
  });

  it("says what a probe status means", () => {
    expect(statusWords("auth_failed")).toBe("wrong username or password");
    expect(statusWords("timeout")).toBe("no answer");
  });
});

describe("quality", () => {
  it("grades loss and round-trip time", () => {
    expect(quality(0, 20)).toBe("good");
    expect(quality(null, null)).toBe("good");
    expect(quality(0.02, 20)).toBe("fair");
    expect(quality(0, 200)).toBe("fair");
    expect(quality(0.08, 20)).toBe("poor");
    expect(quality(0, 600)).toBe("poor");
  });
});

describe("words instead of jargon", () => {
  const playout: PlayoutReport = { played: 900, concealed: 5, recovered: 2, late: 1, duplicates: 0, dropped_for_drift: 0, depth_ms: 61.4, target_ms: 40 };

  it("says what the audio buffer repaired", () => {
    expect(playoutWords(playout)).toBe(
      "Audio delay 61 ms (aiming at 40 ms) · 5 audio gaps filled in, 1 packet arrived too late, 2 lost packets rebuilt");
    expect(playoutWords({ ...playout, concealed: 1, late: 0, recovered: 0, duplicates: 3 })).toBe(
      "Audio delay 61 ms (aiming at 40 ms) · 1 audio gap filled in, 0 packets arrived too late, 3 packets came twice");
    expect(playoutJargon(playout)).toContain("5 concealed (PLC)");
  });

  it("names connection events and their kinds", () => {
    expect(peerEventWords("Bob", "ice_restart", "")).toEqual({ kind: "restart", text: "Bob: looking for another path" });
    expect(peerEventWords("Bob", "disconnected", "no packets for 1 s")).toEqual({
      kind: "interrupted", text: "Bob: connection interrupted — no packets for 1 s" });
    expect(peerEventWords("Ann", "gave_up", "").kind).toBe("failed");
    expect(timelineKindWords("server-bad")).toEqual({ label: "Server problem", tone: "bad" });
    expect(timelineKindWords("joined").tone).toBe("ok");
  });

  it("takes the UTC clock out of a server's status change", () => {
    const t = { url: "turn:a.example:3478", transport: "udp" as const, from: "ok" as const, to: "timeout" as const, at_unix: 0,
      message: "turn:a.example:3478 UDP became timeout at 12:03:41 UTC: no answer to 4 requests in 2.4 s" };
    expect(serverTransitionWords(t)).toEqual({
      kind: "server-bad", text: "turn:a.example:3478 (UDP) stopped working: no answer — no answer to 4 requests in 2.4 s" });
    expect(serverTransitionWords({ ...t, from: null, to: "ok", message: "turn:a.example:3478 UDP is ok at 12:03:41 UTC" })).toEqual({
      kind: "server-ok", text: "turn:a.example:3478 (UDP) works" });
    expect(serverTransitionWords({ ...t, to: "ok", message: "x" }).text).toBe("turn:a.example:3478 (UDP) works again");
    expect(serverTransitionWords({ ...t, from: null, to: "auth_failed", message: "turn:a.example:3478 UDP is auth failed at 01:02:03 UTC" }).text)
      .toBe("turn:a.example:3478 (UDP) does not work: wrong username or password");
  });
});

describe("timelineTime", () => {
  // Local dates, so the test holds in any time zone.
  const now = new Date(2026, 11, 8, 15, 0, 0).getTime();
  it("shows local time, with the date when not today", () => {
    expect(timelineTime(new Date(2026, 11, 8, 9, 5, 7).getTime(), now)).toBe("09:05:07");
    expect(timelineTime(new Date(2026, 11, 7, 23, 59, 59).getTime(), now)).toBe("7 Dec 23:59:59");
    expect(timelineTime(new Date(2025, 0, 31, 8, 0, 0).getTime(), now)).toBe("31 Jan 2025 08:00:00");
  });
});
