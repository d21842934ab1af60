import { describe, expect, it } from "vitest";
import { PaintMeter, WINDOW_MS, percentile } from "./paint-meter";

const webgl = () => "webgl";

describe("PaintMeter", () => {
  it("counts paints per second and the frames never painted", () => {
    const meter = new PaintMeter();
    // 3 s of a tile painting every other picture of a 30 fps source: 15 painted, 15 dropped a second.
    for (let i = 0; i < 45; i++) meter.onPaint("p1", 1 + 2 * i, i * (1000 / 15), 40);
    const [p1] = meter.figures(45 * (1000 / 15), webgl);
    expect(p1.tile_id).toBe("p1");
    expect(p1.painted_fps).toBeCloseTo(15, 0);
    expect(p1.dropped_fps).toBeCloseTo(15, 0);
    expect(p1.painted_total).toBe(45);
    expect(p1.dropped_total).toBe(44);
    expect([p1.capture_to_paint_p50_ms, p1.capture_to_paint_p95_ms]).toEqual([40, 40]);
    expect(p1.renderer).toBe("webgl");
  });

  it("forgets paints older than the window and says so when a tile stops", () => {
    const meter = new PaintMeter();
    for (let i = 0; i < 30; i++) meter.onPaint("a", i, i * 33, null);
    expect(meter.figures(1000, webgl)[0].painted_fps).toBeGreaterThan(25);
    // Nothing painted for longer than the window: 0 fps, not the old rate.
    expect(meter.figures(1000 + WINDOW_MS + 1, webgl)[0].painted_fps).toBe(0);
    expect(meter.figures(1000, webgl)[0].capture_to_paint_p95_ms).toBeNull();
  });

  it("treats a counter going back as a new source, and forgets removed tiles", () => {
    const meter = new PaintMeter();
    meter.onPaint("a", 100, 0, null);
    meter.onPaint("a", 1, 10, null);
    meter.onPaint("a", 2, 20, null);
    expect(meter.figures(20, webgl)[0].dropped_total).toBe(0);
    meter.forget("a");
    expect(meter.figures(20, webgl)).toEqual([]);
  });

  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.95)).toBe(95);
    expect(percentile([], 0.5)).toBeNull();
  });
});
