// Decoding of the binary frame messages the backend sends on the call channel
// (layout: src-tauri/src/frame_wire.rs). Pure: tested in frames.test.ts.

export const FRAME_MAGIC = 0x3246544e; // "NTF2" read as a little-endian u32
export const BATCH_MAGIC = 0x3142544e; // "NTB1": u32 count, then (u32 length, frame) × count
const FIXED_HEADER = 28;

export interface DecodedFrame {
  tileId: string;
  label: string;
  /** Even, non-zero. */
  width: number;
  height: number;
  /** Pictures decoded (or captured) so far for this tile: gaps are frames never painted. */
  counter: number;
  /** When the sender captured the picture (ms since the UNIX epoch), `null` if unknown. */
  captureMs: number | null;
  /** The I420 planes: luma `width × height`, chroma `width/2 × height/2` each (views into the
   *  message, not copies). */
  y: Uint8Array<ArrayBuffer>;
  u: Uint8Array<ArrayBuffer>;
  v: Uint8Array<ArrayBuffer>;
}

/** The frame at `base` (spanning `length` bytes) in `buffer`, or `null` if it is not a
 *  well-formed frame message. The planes are views into `buffer`, not copies. */
export function decodeFrame(buffer: ArrayBuffer, base = 0, length = buffer.byteLength - base): DecodedFrame | null {
  if (length < FIXED_HEADER || base + length > buffer.byteLength) return null;
  const view = new DataView(buffer, base, length);
  if (view.getUint32(0, true) !== FRAME_MAGIC) return null;
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const counter = view.getUint32(12, true);
  const captureMs = Number(view.getBigUint64(16, true));
  const idLen = view.getUint16(24, true);
  const labelLen = view.getUint16(26, true);
  if (FIXED_HEADER + idLen + labelLen > length) return null;
  const text = new TextDecoder();
  const tileId = text.decode(new Uint8Array(buffer, base + FIXED_HEADER, idLen));
  const label = text.decode(new Uint8Array(buffer, base + FIXED_HEADER + idLen, labelLen));
  const offset = Math.ceil((FIXED_HEADER + idLen + labelLen) / 4) * 4;
  const luma = width * height;
  const chroma = luma / 4;
  if (!width || !height || width % 2 || height % 2 || offset + luma + 2 * chroma > length) return null;
  const at = base + offset;
  return {
    tileId,
    label,
    width,
    height,
    counter,
    captureMs: captureMs > 0 ? captureMs : null,
    y: new Uint8Array(buffer, at, luma),
    u: new Uint8Array(buffer, at + luma, chroma),
    v: new Uint8Array(buffer, at + luma + chroma, chroma),
  };
}

/** The frames of one channel message: a batch ("NTB1") or a single frame ("NTF2"). Malformed
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
