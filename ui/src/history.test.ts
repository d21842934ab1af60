import { describe, expect, it } from "vitest";
import { PeerHistory, Series, axisMax, sampleIndexAt, sparklinePath } from "./history";
import type { PeerReport } from "./bindings";

const unsent = {
  codec: null, packets_sent: 0, reports: 0, remote_packets_received: 0, remote_packets_lost: 0,
  remote_fraction_lost: 0, remote_jitter_ms: 0, rtt_ms: null, resolution_changes: [], retransmitted_packets: 0, retransmissions_withheld: 0,
};

function peer(bytes: number, decoded: number, received: number, lost: number, rtt: number | null): PeerReport {
  return {
    remote: "p2", remote_name: "Bob", state: "connected", connect_ms: 100, first_frame_ms: 150, path: null,
    video: { frames_received: decoded, frames_decoded: decoded, frames_lost: 0, frames_unreadable: 0, latency_ms_p50: null, latency_ms_p95: null, freeze_count: 0, freezes: [], packets_reordered: 0, packets_given_up: 0 },
    audio: { packets_received: 10 }, rtt_ms: rtt, last_frame_ms: null, events: [],
    bytes_received: bytes, packets_received: received, packets_lost: lost, jitter_ms: 1.5,
    remote_audio_muted: false, remote_video_muted: false,
    sent: { video: unsent, audio: unsent }, quality_limitation: "none",
  } satisfies PeerReport;
}

describe("PeerHistory", () => {
  it("turns cumulative counters into per-second rates", () => {
    const h = new PeerHistory();
    h.add(1000, peer(0, 0, 0, 0, 2));
    h.add(2000, peer(125_000, 30, 30, 0, 3));
    h.add(4000, peer(375_000, 90, 57, 3, 4));
    expect(h.series.bitrate.values).toEqual([null, 1_000_000, 1_000_000]);
    expect(h.series.fps.values).toEqual([null, 30, 30]);
    expect(h.series.loss.values[2]).toBeCloseTo(3 / 30);
    expect(h.series.rttMs.last()).toBe(4);
    expect(h.series.fps.times).toEqual([1000, 2000, 4000]);
  });

  it("keeps only the last minute", () => {
    const s = new Series(60);
    for (let i = 0; i < 75; i++) s.push(i);
    expect(s.values.length).toBe(60);
    expect(s.values[0]).toBe(15);
    expect(s.times.length).toBe(60);
  });
});

describe("sparklinePath", () => {
  it("draws right-aligned and leaves gaps for missing samples", () => {
    const d = sparklinePath([1, null, 2, 2], 120, 28, 4);
    expect(d.startsWith("M0.0")).toBe(true);
    expect(d.match(/M/g)!.length).toBe(2);
    expect(sparklinePath([], 120, 28)).toBe("");
  });
});

describe("graph axes", () => {
  it("round the top of the axis up", () => {
    expect(axisMax([12, 87, null], 10)).toBe(100);
    expect(axisMax([120], 10)).toBe(150);
    expect(axisMax([27], 1)).toBe(30);
    expect(axisMax([1_234_567], 1000)).toBe(1_500_000);
    expect(axisMax([0.3], 0.01)).toBeCloseTo(0.3);
    expect(axisMax([0, 0], 0.01)).toBe(0.01);
    expect(axisMax([], 10)).toBe(10);
  });

  it("scale the line to the axis", () => {
    // 5 on an axis of 10 sits half-way up (28 high, 1 px margins).
    expect(sparklinePath([5], 120, 28, 1, 10)).toBe("M0.0 14.0");
  });

  it("find the sample under the pointer", () => {
    // 60 slots over 118 px; 30 samples fill the right half.
    expect(sampleIndexAt(118, 118, 30)).toBe(29);
    expect(sampleIndexAt(0, 118, 30)).toBeNull();
    expect(sampleIndexAt(60, 118, 30)).toBe(0);
    expect(sampleIndexAt(500, 118, 30)).toBe(29);
    expect(sampleIndexAt(10, 118, 0)).toBeNull();
  });
});
