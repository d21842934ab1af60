import { describe, expect, it } from "vitest";
import { FRAME_MAGIC, decodeFrame } from "./frames";

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
