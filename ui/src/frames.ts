// Decoding of the binary frame messages the backend sends on the call channel
// (layout: src-tauri/src/frame_wire.rs). Pure: tested in frames.test.ts.

export const FRAME_MAGIC = 0x3146544e; // "NTF1" read as a little-endian u32
export const BATCH_MAGIC = 0x3142544e; // "NTB1": u32 count, then (u32 length, frame) × count

export interface DecodedFrame {
  tileId: string;
  label: string;
  width: number;
  height: number;
  /** RGBA pixels, `width * height * 4` bytes (a view into the message, not a copy). */
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

/** The frame at `base` (spanning `length` bytes) in `buffer`, or `null` if it is not a
 *  well-formed frame message. The pixels are a view into `buffer`, not a copy. */
export function decodeFrame(buffer: ArrayBuffer, base = 0, length = buffer.byteLength - base): DecodedFrame | null {
  if (length < 20 || base + length > buffer.byteLength) return null;
  const view = new DataView(buffer, base, length);
  if (view.getUint32(0, true) !== FRAME_MAGIC) return null;
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const idLen = view.getUint16(16, true);
  const labelLen = view.getUint16(18, true);
  if (20 + idLen + labelLen > length) return null;
  const text = new TextDecoder();
  const tileId = text.decode(new Uint8Array(buffer, base + 20, idLen));
  const label = text.decode(new Uint8Array(buffer, base + 20 + idLen, labelLen));
  const offset = Math.ceil((20 + idLen + labelLen) / 4) * 4;
  const size = width * height * 4;
  if (!width || !height || offset + size > length) return null;
  return { tileId, label, width, height, rgba: new Uint8ClampedArray(buffer, base + offset, size) };
}

/** The frames of one channel message: a batch ("NTB1") or a single frame ("NTF1"). Malformed
 *  entries are skipped; a malformed batch yields what was readable before the damage. */
export function decodeMessage(buffer: ArrayBuffer): DecodedFrame[] {
  if (buffer.byteLength < 8) return [];
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== BATCH_MAGIC) {
    const single = decodeFrame(buffer);
    return single ? [single] : [];
  }
  const count = view.getUint32(4, true);
  const frames: DecodedFrame[] = [];
  let at = 8;
  for (let i = 0; i < count && at + 4 <= buffer.byteLength; i++) {
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > buffer.byteLength) break;
    const frame = decodeFrame(buffer, at, length);
    if (frame) frames.push(frame);
    at += length;
  }
  return frames;
}
