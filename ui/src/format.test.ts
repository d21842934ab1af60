import { describe, expect, it } from "vitest";
import { bitrate, ms, pathBadge, pathWords, percent, quality, remoteReception, statusWords } from "./format";
import type { PathReport, SentStreamReport } from "./bindings";

const relay: PathReport = { local_candidate: "relay", remote_candidate: "srflx", protocol: "udp", relay_server: "turn:b.example:3478?transport=tcp", relay_transport: "tcp" };
const direct: PathReport = { local_candidate: "host", remote_candidate: "srflx", protocol: "udp", relay_server: null, relay_transport: null };

describe("format", () => {
  it("names relayed and direct paths in words", () => {
    expect(pathWords(relay)).toBe("Relay via turn:b.example:3478?transport=tcp over TCP");
    expect(pathWords(direct)).toContain("host → srflx");
    expect(pathWords(null)).toBe("—");
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
