import { describe, expect, it } from "vitest";
import { gridColumns, gridLayout } from "./layout";

/** Every tile of `layout` fits the box, gaps included. */
function fits(count: number, width: number, height: number, gap = 12): boolean {
  const l = gridLayout(count, width, height, { gap });
  return (
    l.columns * l.rows >= count &&
    l.columns * l.tileWidth + (l.columns - 1) * gap <= width &&
    l.rows * l.tileHeight + (l.rows - 1) * gap <= height
  );
}

describe("gridColumns", () => {
  it("puts one tile alone and two side by side on a wide screen", () => {
    expect(gridColumns(1, 1600, 800)).toBe(1);
    expect(gridColumns(2, 1600, 800)).toBe(2);
  });

  it("stacks two tiles in a tall box", () => {
    expect(gridColumns(2, 400, 900)).toBe(1);
  });

  it("uses more columns for more tiles", () => {
    // 800×600 window: about 768×440 between the header and the control bar.
    expect(gridColumns(4, 768, 440)).toBe(2);
    expect(gridColumns(5, 768, 440)).toBe(3);
    expect(gridColumns(9, 768, 440)).toBe(3);
    // Full HD: about 1888×950.
    expect(gridColumns(6, 1888, 950)).toBe(3);
    expect(gridColumns(9, 1888, 950)).toBe(3);
    expect(gridColumns(12, 1888, 950)).toBe(4);
    expect(gridColumns(16, 1888, 950)).toBe(4);
  });

  it("follows the box's aspect ratio", () => {
    // Very wide and short: one row; narrow and tall: one column.
    expect(gridColumns(4, 2400, 300)).toBe(4);
    expect(gridColumns(4, 300, 1200)).toBe(1);
  });

  it("never wastes a whole row", () => {
    for (let n = 1; n <= 16; n++) {
      const l = gridLayout(n, 1280, 700);
      expect((l.rows - 1) * l.columns).toBeLessThan(n);
    }
  });
});

describe("gridLayout", () => {
  it("always fits the box, from 1 to 16 tiles, 800×600 to 1920×1080", () => {
    for (const [w, h] of [[768, 440], [1248, 640], [1888, 950], [500, 300]]) {
      for (let n = 1; n <= 16; n++) expect(fits(n, w, h), `${n} tiles in ${w}×${h}`).toBe(true);
    }
  });

  it("keeps 16:9 and whole pixels", () => {
    const l = gridLayout(4, 768, 440);
    expect(l).toEqual({ columns: 2, rows: 2, tileWidth: 378, tileHeight: 212 });
  });

  it("caps a lone tile at the given width", () => {
    expect(gridLayout(1, 1888, 950, { maxTileWidth: 960 }).tileWidth).toBe(960);
    expect(gridLayout(1, 768, 440, { maxTileWidth: 960 }).tileWidth).toBe(768);
  });

  it("gives nothing to a box with no room", () => {
    expect(gridLayout(3, 0, 0).tileWidth).toBe(0);
    expect(gridLayout(0, 800, 600).columns).toBe(1);
  });
});
