// Per-participant measurements over the last minute: rates from the cumulative counters the
// backend sends each second, kept in fixed-size series for the sparklines. Pure; see
// history.test.ts.
import type { PeerReport } from "./bindings";

export const HISTORY_SECONDS = 60;

/** A fixed-capacity series of numbers (oldest dropped first), each with when it was taken. */
export class Series {
  readonly values: (number | null)[] = [];
  /** When each value was taken (the caller's clock, e.g. ms since the call started). */
  readonly times: (number | null)[] = [];
  constructor(readonly capacity = HISTORY_SECONDS) {}
  push(value: number | null, atMs: number | null = null): void {
    this.values.push(value);
    this.times.push(atMs);
    if (this.values.length > this.capacity) {
      this.values.shift();
      this.times.shift();
    }
  }
  last(): number | null {
    return this.values.length ? this.values[this.values.length - 1] : null;
  }
}

export interface PeerSeries {
  rttMs: Series;
  bitrate: Series;
  fps: Series;
  loss: Series;
  jitterMs: Series;
}

interface Previous { atMs: number; bytes: number; frames: number; received: number; lost: number }



/** Turns successive `PeerReport`s of one remote into series. */
export class PeerHistory {
  readonly series: PeerSeries = { rttMs: new Series(), bitrate: new Series(), fps: new Series(), loss: new Series(), jitterMs: new Series() };
  private previous: Previous | null = null;

  add(atMs: number, peer: PeerReport): void {
    const now: Previous = { atMs, bytes: peer.bytes_received, frames: peer.video.frames_decoded, received: peer.packets_received, lost: peer.packets_lost };
    const before = this.previous;
    this.previous = now;
    this.series.rttMs.push(peer.rtt_ms, atMs);
    this.series.jitterMs.push(peer.jitter_ms, atMs);
    if (!before || atMs <= before.atMs) {
      this.series.bitrate.push(null, atMs);
      this.series.fps.push(null, atMs);
      this.series.loss.push(null, atMs);
      return;
    }
    const seconds = (atMs - before.atMs) / 1000;
    this.series.bitrate.push(Math.max(0, (now.bytes - before.bytes) * 8 / seconds), atMs);
    this.series.fps.push(Math.max(0, (now.frames - before.frames) / seconds), atMs);
    // RTP packet loss over the interval: lost / (received + lost).
    const expected = (now.received - before.received) + (now.lost - before.lost);
    this.series.loss.push(expected > 0 ? Math.max(0, now.lost - before.lost) / expected : 0, atMs);
  }
}

/** The top of a graph's axis for these values: the largest, rounded up to a round number
 *  (1, 1.5, 2, 3, 5, 7.5 × a power of ten), so the axis reads "0 – 300 ms"; `floor` when all
 *  values are lower (e.g. 1 % for a loss graph of zeros). */
export function axisMax(values: (number | null)[], floor: number): number {
  const numbers = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const top = Math.max(floor, ...numbers);
  if (!(top > 0)) return floor;
  const power = 10 ** Math.floor(Math.log10(top));
  for (const step of [1, 1.5, 2, 3, 5, 7.5, 10]) {
    // A little tolerance for floating point (0.3 / 0.1 = 2.9999…).
    if (top <= step * power * (1 + 1e-9)) return step * power;
  }
  return 10 * power;
}

/** The sample under a pointer at `x` of a graph `width` wide (drawn right-aligned, as
 *  `sparklinePath` does): its index in the series, or `null` left of the first sample. */
export function sampleIndexAt(x: number, width: number, length: number, capacity = HISTORY_SECONDS): number | null {
  if (!length || width <= 0) return null;
  const slot = Math.round((Math.min(Math.max(x, 0), width) / width) * (capacity - 1));
  const index = slot - (capacity - length);
  return index >= 0 && index < length ? index : null;
}

/** SVG path ("M x y L …") of `values` in a `width`×`height` box; gaps for nulls. The vertical
 *  scale goes from 0 to `max` (default: the largest value). */
export function sparklinePath(values: (number | null)[], width: number, height: number, capacity = HISTORY_SECONDS, max?: number): string {
  const numbers = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!numbers.length) return "";
  max = (max ?? Math.max(...numbers)) || 1;
  const step = width / Math.max(1, capacity - 1);
  const offset = capacity - values.length;
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (offset + i) * step;
    const y = height - (v / max) * (height - 2) - 1;
    d += `${pen ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)} `;
    pen = true;
  });
  return d.trim();
}
