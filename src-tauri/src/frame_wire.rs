//! The binary message that carries one tile frame to the page (`ui/src/frames.ts` reads it).
//!
//! Layout, all integers little-endian:
//! ```text
//! 0   4  magic "NTF1"
//! 4   4  width (u32)
//! 8   4  height (u32)
//! 12  4  frame counter (u32)
//! 16  2  tile id length in bytes (u16)
//! 18  2  label length in bytes (u16)
//! 20  …  tile id (UTF-8), then label (UTF-8), then zero padding to a multiple of 4
//! …   …  width * height * 4 bytes RGBA, row-major, no padding
//! ```

use natter_call::view::TileFrame;

pub const MAGIC: &[u8; 4] = b"NTF1";
pub const FIXED_HEADER: usize = 20;
/// Several frames in one message (one per tile, the newest): "NTB1", u32 count, then for each
/// frame a u32 byte length and the frame as `encode` lays it out. One message per batch instead
/// of one per frame: the per-message cost of the channel dominates at 4 tiles × 30 fps.
pub const BATCH_MAGIC: &[u8; 4] = b"NTB1";

/// A batch of already encoded frames (see `BATCH_MAGIC`).
pub fn encode_batch(frames: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = frames.iter().map(|f| 4 + f.len()).sum();
    let mut out = Vec::with_capacity(8 + total);
    out.extend_from_slice(BATCH_MAGIC);
    out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for frame in frames {
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// Encode a frame; `None` if the frame is inconsistent (pixel count does not match its size).
pub fn encode(frame: &TileFrame) -> Option<Vec<u8>> {
    let expected = (frame.width as usize)
        .checked_mul(frame.height as usize)?
        .checked_mul(4)?;
    if frame.rgba.len() != expected || frame.width == 0 || frame.height == 0 {
        return None;
    }
    let id = truncate(&frame.tile_id);
    let label = truncate(&frame.label);
    let text = id.len() + label.len();
    let header = (FIXED_HEADER + text).div_ceil(4) * 4;
    let mut out = Vec::with_capacity(header + expected);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&frame.width.to_le_bytes());
    out.extend_from_slice(&frame.height.to_le_bytes());
    out.extend_from_slice(&frame.frame_counter.to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(&(label.len() as u16).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(label.as_bytes());
    out.resize(header, 0);
    out.extend_from_slice(&frame.rgba);
    Some(out)
}

/// Ids and labels are short; cap them (on a char boundary) so they always fit a u16.
fn truncate(text: &str) -> &str {
    const MAX: usize = 1024;
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: &str, label: &str, w: u32, h: u32) -> TileFrame {
        TileFrame {
            tile_id: id.into(),
            label: label.into(),
            width: w,
            height: h,
            rgba: (0..w * h * 4).map(|i| i as u8).collect(),
            frame_counter: 42,
        }
    }

    #[test]
    fn batch_layout() {
        let (a, b) = (
            encode(&frame("a", "A", 2, 2)).unwrap(),
            encode(&frame("b", "B", 1, 1)).unwrap(),
        );
        let batch = encode_batch(&[a.clone(), b.clone()]);
        assert_eq!(&batch[0..4], BATCH_MAGIC);
        assert_eq!(u32::from_le_bytes(batch[4..8].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(batch[8..12].try_into().unwrap()) as usize, a.len());
        assert_eq!(&batch[12..12 + a.len()], &a[..]);
        let at = 12 + a.len();
        assert_eq!(
            u32::from_le_bytes(batch[at..at + 4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&batch[at + 4..], &b[..]);
        assert_eq!(a.len() % 4, 0, "frames stay 4-byte aligned inside a batch");
    }

    #[test]
    fn layout_round_trips() {
        let f = frame("p-1", "Zoë", 3, 2);
        let bytes = encode(&f).unwrap();
        assert_eq!(&bytes[0..4], MAGIC);
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
        assert_eq!((u32_at(4), u32_at(8), u32_at(12)), (3, 2, 42));
        let (id_len, label_len) = (u16_at(16), u16_at(18));
        assert_eq!(&bytes[20..20 + id_len], b"p-1");
        assert_eq!(
            std::str::from_utf8(&bytes[20 + id_len..20 + id_len + label_len]).unwrap(),
            "Zoë"
        );
        let pixels = (20 + id_len + label_len).div_ceil(4) * 4;
        assert_eq!(pixels % 4, 0);
        assert_eq!(&bytes[pixels..], &f.rgba[..]);
    }

    #[test]
    fn rejects_inconsistent_frames() {
        let mut f = frame("local", "You", 4, 4);
        f.rgba.pop();
        assert!(encode(&f).is_none());
        assert!(encode(&frame("local", "You", 0, 4)).is_none());
    }

    #[test]
    fn long_labels_are_capped_on_a_char_boundary() {
        let label = "é".repeat(1000);
        let bytes = encode(&frame("x", &label, 1, 1)).unwrap();
        let label_len = u16::from_le_bytes([bytes[18], bytes[19]]) as usize;
        assert!(label_len <= 1024);
        assert!(std::str::from_utf8(&bytes[21..21 + label_len]).is_ok());
    }
}
