// What the window painted, per tile: frames put on screen, frames that never were (the counter
// the backend gives each picture has gaps), and capture-to-paint latency from the senders'
// stamps. Pure (clock passed in): tested in paint-meter.test.ts. Reported to the backend once a
// second (`commands.painted`) and shown in the health panel.
import type { TilePainting } from "./bindings";

interface Paint {
  /** `performance.now()` of the paint. */
  atMs: number;
  /** Frames skipped since the previous paint of the tile. */
  skipped: number;
  latencyMs: number | null;
}

interface TileRecord {
  paints: Paint[];
  lastCounter: number | null;
  paintedTotal: number;
  droppedTotal: number;
}

/** The measuring window: long enough to smooth a 30 fps count, short enough to follow changes. */
export const WINDOW_MS = 2000;

export class PaintMeter {
  private tiles = new Map<string, TileRecord>();

  /** Tile `tileId` painted the picture numbered `counter` at `atMs` (`performance.now()`);
   *  `latencyMs`: now minus its capture time, if it had a stamp. */
  onPaint(tileId: string, counter: number, atMs: number, latencyMs: number | null): void {
    let tile = this.tiles.get(tileId);
    if (!tile) {
      tile = { paints: [], lastCounter: null, paintedTotal: 0, droppedTotal: 0 };
      this.tiles.set(tileId, tile);
    }
    // A counter that goes back is a new source (a rejoin): nothing was skipped.
    const skipped = tile.lastCounter !== null && counter > tile.lastCounter ? counter - tile.lastCounter - 1 : 0;
    tile.lastCounter = counter;
    tile.paintedTotal += 1;
    tile.droppedTotal += skipped;
    tile.paints.push({ atMs, skipped, latencyMs: latencyMs !== null && latencyMs >= 0 ? latencyMs : null });
    while (tile.paints.length && tile.paints[0].atMs < atMs - WINDOW_MS) tile.paints.shift();
  }

  forget(tileId: string): void {
    this.tiles.delete(tileId);
  }

  /** Every tile's figures over the last `WINDOW_MS` before `nowMs`. */
  figures(nowMs: number, renderer: (tileId: string) => string): TilePainting[] {
    return [...this.tiles.entries()].map(([tileId, tile]) => {
      const recent = tile.paints.filter((p) => p.atMs >= nowMs - WINDOW_MS);
      // Over the window, or since the first paint when the tile is younger than that.
      const spanMs = Math.max(Math.min(WINDOW_MS, nowMs - (tile.paints[0]?.atMs ?? nowMs)), 250);
      const latencies = recent.flatMap((p) => (p.latencyMs === null ? [] : [p.latencyMs])).sort((a, b) => a - b);
      return {
        tile_id: tileId,
        painted_fps: round1((recent.length * 1000) / spanMs),
        dropped_fps: round1((recent.reduce((n, p) => n + p.skipped, 0) * 1000) / spanMs),
        capture_to_paint_p50_ms: percentile(latencies, 0.5),
        capture_to_paint_p95_ms: percentile(latencies, 0.95),
        painted_total: tile.paintedTotal,
        dropped_total: tile.droppedTotal,
        renderer: renderer(tileId),
      };
    });
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The `q` quantile of `sorted` (nearest rank), `null` when empty. */
export function percentile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
