// Decoding of the binary frame messages the backend sends on the call channel
// (layout: src-tauri/src/frame_wire.rs). Pure: tested in frames.test.ts.

export const FRAME_MAGIC = 0x3146544e; // "NTF1" read as a little-endian u32

export interface DecodedFrame {
  tileId: string;
  label: string;
  width: number;
  height: number;
  /** RGBA pixels, `width * height * 4` bytes (a view into the message, not a copy). */
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

/** The frame in `buffer`, or `null` if it is not a well-formed frame message. */
export function decodeFrame(buffer: ArrayBuffer): DecodedFrame | null {
  if (buffer.byteLength < 20) return null;
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== FRAME_MAGIC) return null;
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  const idLen = view.getUint16(16, true);
  const labelLen = view.getUint16(18, true);
  if (20 + idLen + labelLen > buffer.byteLength) return null;
  const text = new TextDecoder();
  const tileId = text.decode(new Uint8Array(buffer, 20, idLen));
  const label = text.decode(new Uint8Array(buffer, 20 + idLen, labelLen));
  const offset = Math.ceil((20 + idLen + labelLen) / 4) * 4;
  const size = width * height * 4;
  if (!width || !height || offset + size > buffer.byteLength) return null;
  return { tileId, label, width, height, rgba: new Uint8ClampedArray(buffer, offset, size) };
}
