//! The binary message that carries one tile frame to the page (`ui/src/frames.ts` reads it).
//!
//! Layout, all integers little-endian:
//! ```text
//! 0   4  magic "NTF2"
//! 4   4  width (u32, even)
//! 8   4  height (u32, even)
//! 12  4  frame counter (u32)
//! 16  8  capture time, ms since the UNIX epoch (u64; 0: unknown)
//! 24  2  tile id length in bytes (u16)
//! 26  2  label length in bytes (u16)
//! 28  …  tile id (UTF-8), then label (UTF-8), then zero padding to a multiple of 4
//! …   …  the I420 planes, row-major, no padding: Y (width × height), then U and V
//!        (width/2 × height/2 each)
//! ```
//! I420 is 1.5 bytes a pixel where RGBA was 4: the page converts it when it paints (a WebGL
//! shader). The channel's cost grows with the bytes it carries (WebKitGTK hands a response to
//! the page in 8 kB pieces), so this is most of what a frame costs on its way to the screen.

use natter_call::view::TileFrame;

pub const MAGIC: &[u8; 4] = b"NTF2";
pub const FIXED_HEADER: usize = 28;
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

/// Encode a frame; `None` if the frame is inconsistent (odd or zero size, planes that do not
/// match it).
pub fn encode(frame: &TileFrame) -> Option<Vec<u8>> {
    let picture = &frame.picture;
    let (width, height) = (picture.width as usize, picture.height as usize);
    let luma = width.checked_mul(height)?;
    let chroma = luma / 4;
    let consistent = width > 0
        && height > 0
        && width % 2 == 0
        && height % 2 == 0
        && picture.y.len() == luma
        && picture.u.len() == chroma
        && picture.v.len() == chroma;
    if !consistent {
        return None;
    }
    let id = truncate(&frame.tile_id);
    let label = truncate(&frame.label);
    let header = (FIXED_HEADER + id.len() + label.len()).div_ceil(4) * 4;
    let mut out = Vec::with_capacity(header + luma + 2 * chroma);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&picture.width.to_le_bytes());
    out.extend_from_slice(&picture.height.to_le_bytes());
    out.extend_from_slice(&frame.frame_counter.to_le_bytes());
    out.extend_from_slice(&frame.capture_ms.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(&(label.len() as u16).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(label.as_bytes());
    out.resize(header, 0);
    out.extend_from_slice(&picture.y);
    out.extend_from_slice(&picture.u);
    out.extend_from_slice(&picture.v);
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
    use natter_media::I420Frame;

    fn frame(id: &str, label: &str, w: u32, h: u32) -> TileFrame {
        let luma = (w * h) as usize;
        TileFrame {
            tile_id: id.into(),
            label: label.into(),
            picture: I420Frame {
                width: w,
                height: h,
                y: (0..luma).map(|i| i as u8).collect(),
                u: vec![1; luma / 4],
                v: vec![2; luma / 4],
            },
            frame_counter: 42,
            capture_ms: Some(1_765_000_000_123),
        }
    }

    #[test]
    fn batch_layout() {
        let (a, b) = (
            encode(&frame("a", "A", 2, 2)).unwrap(),
            encode(&frame("b", "B", 4, 2)).unwrap(),
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
        assert_eq!(a.len() % 2, 0);
    }

    #[test]
    fn layout_round_trips() {
        let f = frame("p-1", "Zoë", 6, 4);
        let bytes = encode(&f).unwrap();
        assert_eq!(&bytes[0..4], MAGIC);
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
        assert_eq!((u32_at(4), u32_at(8), u32_at(12)), (6, 4, 42));
        assert_eq!(u64::from_le_bytes(bytes[16..24].try_into().unwrap()), 1_765_000_000_123);
        let (id_len, label_len) = (u16_at(24), u16_at(26));
        assert_eq!(&bytes[28..28 + id_len], b"p-1");
        assert_eq!(
            std::str::from_utf8(&bytes[28 + id_len..28 + id_len + label_len]).unwrap(),
            "Zoë"
        );
        let planes = (28 + id_len + label_len).div_ceil(4) * 4;
        let p = &f.picture;
        assert_eq!(&bytes[planes..planes + 24], &p.y[..]);
        assert_eq!(&bytes[planes + 24..planes + 30], &p.u[..]);
        assert_eq!(&bytes[planes + 30..], &p.v[..]);
    }

    #[test]
    fn rejects_inconsistent_frames() {
        let mut f = frame("local", "You", 4, 4);
        f.picture.v.pop();
        assert!(encode(&f).is_none());
        assert!(encode(&frame("local", "You", 0, 4)).is_none());
        assert!(encode(&frame("local", "You", 3, 4)).is_none(), "odd width");
        let unknown_time = TileFrame {
            capture_ms: None,
            ..frame("local", "You", 2, 2)
        };
        assert_eq!(&encode(&unknown_time).unwrap()[16..24], &[0; 8]);
    }

    #[test]
    fn long_labels_are_capped_on_a_char_boundary() {
        let label = "é".repeat(1000);
        let bytes = encode(&frame("x", &label, 2, 2)).unwrap();
        let label_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
        assert!(label_len <= 1024);
        assert!(std::str::from_utf8(&bytes[29..29 + label_len]).is_ok());
    }
}
