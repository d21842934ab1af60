import { describe, expect, it } from "vitest";
import { fitInBox, i420ToRgba } from "./render";

function picture(width: number, height: number, y: number, u: number, v: number) {
  const luma = width * height;
  return { width, height, y: new Uint8Array(luma).fill(y), u: new Uint8Array(luma / 4).fill(u), v: new Uint8Array(luma / 4).fill(v) };
}

function rgbOf(p: ReturnType<typeof picture>): number[] {
  const out = new Uint8ClampedArray(p.width * p.height * 4);
  i420ToRgba(p, out);
  return [...out.slice(0, 4)];
}

describe("i420ToRgba (BT.601 limited range)", () => {
  it("turns limited-range white, black, red and grey into their colours", () => {
    expect(rgbOf(picture(2, 2, 235, 128, 128))).toEqual([255, 255, 255, 255]);
    expect(rgbOf(picture(2, 2, 16, 128, 128))).toEqual([0, 0, 0, 255]);
    const [r, g, b] = rgbOf(picture(2, 2, 81, 90, 240));
    expect(r).toBeGreaterThanOrEqual(245);
    expect(g).toBeLessThanOrEqual(10);
    expect(b).toBeLessThanOrEqual(10);
    const grey = rgbOf(picture(2, 2, 126, 128, 128));
    expect(grey.slice(0, 3).every((c) => Math.abs(c - 128) <= 3)).toBe(true);
  });

  it("uses each chroma sample for a 2×2 block", () => {
    const p = picture(4, 2, 126, 128, 128);
    p.v[1] = 240; // right half of the picture: reddish
    const out = new Uint8ClampedArray(4 * 2 * 4);
    i420ToRgba(p, out);
    const red = (x: number, y: number) => out[(y * 4 + x) * 4];
    expect([red(0, 0), red(1, 1)]).toEqual([red(0, 1), red(1, 0)]);
    expect(red(2, 0)).toBeGreaterThan(red(1, 0) + 100);
    expect(red(3, 1)).toBe(red(2, 0));
  });
});

describe("fitInBox", () => {
  it("fills the box with the picture's aspect, up or down", () => {
    expect(fitInBox(320, 180, 1280, 720)).toEqual([1280, 720]);
    expect(fitInBox(640, 480, 1280, 720)).toEqual([960, 720]);
    expect(fitInBox(1280, 720, 400, 400)).toEqual([400, 225]);
    expect(fitInBox(320, 180, 0, 0)).toEqual([320, 180]);
  });
});
