// Per-participant measurements over the last minute: rates from the cumulative counters the
// backend sends each second, kept in fixed-size series for the sparklines. Pure; see
// history.test.ts.
import type { PeerReport } from "./bindings";

export const HISTORY_SECONDS = 60;

/** A fixed-capacity series of numbers (oldest dropped first). */
export class Series {
  readonly values: (number | null)[] = [];
  constructor(readonly capacity = HISTORY_SECONDS) {}
  push(value: number | null): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
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
    this.series.rttMs.push(peer.rtt_ms);
    this.series.jitterMs.push(peer.jitter_ms);
    if (!before || atMs <= before.atMs) {
      this.series.bitrate.push(null);
      this.series.fps.push(null);
      this.series.loss.push(null);
      return;
    }
    const seconds = (atMs - before.atMs) / 1000;
    this.series.bitrate.push(Math.max(0, (now.bytes - before.bytes) * 8 / seconds));
    this.series.fps.push(Math.max(0, (now.frames - before.frames) / seconds));
    // RTP packet loss over the interval: lost / (received + lost).
    const expected = (now.received - before.received) + (now.lost - before.lost);
    this.series.loss.push(expected > 0 ? Math.max(0, now.lost - before.lost) / expected : 0);
  }
}

/** SVG path ("M x y L …") of `values` in a `width`×`height` box; gaps for nulls. */
export function sparklinePath(values: (number | null)[], width: number, height: number, capacity = HISTORY_SECONDS): string {
  const numbers = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!numbers.length) return "";
  const max = Math.max(...numbers) || 1;
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
