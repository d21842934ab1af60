import { describe, expect, it } from "vitest";
import { BATCH_MAGIC, FRAME_MAGIC, decodeFrame, decodeMessage } from "./frames";

/** Encode like src-tauri/src/frame_wire.rs does. */
function encode(tileId: string, label: string, width: number, height: number, fill: number): ArrayBuffer {
  const id = new TextEncoder().encode(tileId);
  const name = new TextEncoder().encode(label);
  const header = Math.ceil((20 + id.length + name.length) / 4) * 4;
  const buffer = new ArrayBuffer(header + width * height * 4);
  const view = new DataView(buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, width, true);
  view.setUint32(8, height, true);
  view.setUint32(12, 7, true);
  view.setUint16(16, id.length, true);
  view.setUint16(18, name.length, true);
  new Uint8Array(buffer, 20, id.length).set(id);
  new Uint8Array(buffer, 20 + id.length, name.length).set(name);
  new Uint8Array(buffer, header).fill(fill);
  return buffer;
}

describe("decodeFrame", () => {
  it("reads id, label, size and pixels", () => {
    const frame = decodeFrame(encode("p2", "Zoë", 4, 2, 9))!;
    expect(frame.tileId).toBe("p2");
    expect(frame.label).toBe("Zoë");
    expect([frame.width, frame.height]).toEqual([4, 2]);
    expect(frame.rgba.length).toBe(32);
    expect(frame.rgba.every((b) => b === 9)).toBe(true);
  });

  it("rejects other messages and truncated frames", () => {
    expect(decodeFrame(new ArrayBuffer(8))).toBeNull();
    const wrongMagic = encode("a", "b", 2, 2, 0);
    new DataView(wrongMagic).setUint32(0, 0x12345678, true);
    expect(decodeFrame(wrongMagic)).toBeNull();
    const whole = encode("a", "b", 2, 2, 0);
    expect(decodeFrame(whole.slice(0, whole.byteLength - 1))).toBeNull();
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
    expect(frames.map((f) => [f.tileId, f.width, f.rgba[0]])).toEqual([["a", 2, 1], ["b", 4, 2]]);
    expect(decodeMessage(encode("c", "C", 1, 1, 3)).map((f) => f.tileId)).toEqual(["c"]);
  });

  it("keeps what it could read from a damaged batch", () => {
    const whole = batch([encode("a", "A", 2, 2, 1), encode("b", "B", 2, 2, 2)]);
    expect(decodeMessage(whole.slice(0, whole.byteLength - 5)).map((f) => f.tileId)).toEqual(["a"]);
    expect(decodeMessage(new ArrayBuffer(3))).toEqual([]);
  });
});
