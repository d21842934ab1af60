import { describe, expect, it } from "vitest";
import { BATCH_MAGIC, FRAME_MAGIC, decodeFrame, decodeMessage } from "./frames";

/** Encode like src-tauri/src/frame_wire.rs does: luma filled with `fill`, chroma with fill+1 / fill+2. */
function encode(tileId: string, label: string, width: number, height: number, fill: number, captureMs = 0): ArrayBuffer {
  const id = new TextEncoder().encode(tileId);
  const name = new TextEncoder().encode(label);
  const header = Math.ceil((28 + id.length + name.length) / 4) * 4;
  const luma = width * height;
  const buffer = new ArrayBuffer(header + luma * 1.5);
  const view = new DataView(buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, width, true);
  view.setUint32(8, height, true);
  view.setUint32(12, 7, true);
  view.setBigUint64(16, BigInt(captureMs), true);
  view.setUint16(24, id.length, true);
  view.setUint16(26, name.length, true);
  new Uint8Array(buffer, 28, id.length).set(id);
  new Uint8Array(buffer, 28 + id.length, name.length).set(name);
  new Uint8Array(buffer, header, luma).fill(fill);
  new Uint8Array(buffer, header + luma, luma / 4).fill(fill + 1);
  new Uint8Array(buffer, header + luma * 1.25, luma / 4).fill(fill + 2);
  return buffer;
}

describe("decodeFrame", () => {
  it("reads id, label, size, counter, capture time and the three planes", () => {
    const frame = decodeFrame(encode("p2", "Zoë", 4, 2, 9, 1765000000123))!;
    expect(frame.tileId).toBe("p2");
    expect(frame.label).toBe("Zoë");
    expect([frame.width, frame.height, frame.counter]).toEqual([4, 2, 7]);
    expect(frame.captureMs).toBe(1765000000123);
    expect(frame.y.length).toBe(8);
    expect(frame.y.every((b) => b === 9)).toBe(true);
    expect([...frame.u]).toEqual([10, 10]);
    expect([...frame.v]).toEqual([11, 11]);
    expect(decodeFrame(encode("p2", "", 2, 2, 0))!.captureMs).toBeNull();
  });

  it("rejects other messages, odd sizes and truncated frames", () => {
    expect(decodeFrame(new ArrayBuffer(8))).toBeNull();
    const wrongMagic = encode("a", "b", 2, 2, 0);
    new DataView(wrongMagic).setUint32(0, 0x12345678, true);
    expect(decodeFrame(wrongMagic)).toBeNull();
    const whole = encode("a", "b", 2, 2, 0);
    expect(decodeFrame(whole.slice(0, whole.byteLength - 1))).toBeNull();
    const odd = encode("a", "b", 4, 4, 0);
    new DataView(odd).setUint32(4, 3, true);
    expect(decodeFrame(odd)).toBeNull();
  });
});

function batch(frames: ArrayBuffer[]): ArrayBuffer {
  const total = 8 + frames.reduce((n, f) => n + 4 + f.byteLength, 0);
  const out = new ArrayBuffer(total);
  const view = new DataView(out);
  view.setUint32(0, BATCH_MAGIC, true);
  view.setUint32(4, frames.length, true);
  let at = 8;
  for (const f of frames) {
    view.setUint32(at, f.byteLength, true);
    new Uint8Array(out, at + 4, f.byteLength).set(new Uint8Array(f));
    at += 4 + f.byteLength;
  }
  return out;
}

describe("decodeMessage", () => {
  it("reads every frame of a batch, and a single frame as a batch of one", () => {
    const frames = decodeMessage(batch([encode("a", "A", 2, 2, 1), encode("b", "B", 4, 2, 2)]));
    expect(frames.map((f) => [f.tileId, f.width, f.y[0]])).toEqual([["a", 2, 1], ["b", 4, 2]]);
    expect(decodeMessage(encode("c", "C", 2, 2, 3)).map((f) => f.tileId)).toEqual(["c"]);
  });

  it("keeps what it could read from a damaged batch", () => {
    const whole = batch([encode("a", "A", 2, 2, 1), encode("b", "B", 2, 2, 2)]);
    expect(decodeMessage(whole.slice(0, whole.byteLength - 5)).map((f) => f.tileId)).toEqual(["a"]);
    expect(decodeMessage(new ArrayBuffer(3))).toEqual([]);
  });
});
