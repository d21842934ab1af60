//! The frame stamp: 32-bit counter, 48-bit capture time (ms since the UNIX epoch), CRC-16, drawn
//! as one 16×16 luma block per bit (white = 1), row-major from the top-left corner.

use crate::I420Frame;

const BLOCK: usize = 16;
const PAYLOAD_BYTES: usize = 10; // 4 counter + 6 time
const BITS: usize = (PAYLOAD_BYTES + 2) * 8;
/// Rows the stamp may occupy at the narrowest supported width (128 px → 8 blocks per row).
pub const STAMP_BAND_HEIGHT: u32 = ((BITS / 8) * BLOCK) as u32;

/// What the sender wrote into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStamp {
    pub counter: u32,
    pub capture_ms: u64,
}

fn crc16(data: &[u8]) -> u16 {
    // CRC-16/CCITT-FALSE
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn blocks_per_row(width: u32) -> usize {
    width as usize / BLOCK
}

fn encode_bits(stamp: FrameStamp) -> [bool; BITS] {
    let mut bytes = [0u8; PAYLOAD_BYTES + 2];
    bytes[0..4].copy_from_slice(&stamp.counter.to_be_bytes());
    bytes[4..10].copy_from_slice(&stamp.capture_ms.to_be_bytes()[2..8]);
    let crc = crc16(&bytes[0..PAYLOAD_BYTES]);
    bytes[10..12].copy_from_slice(&crc.to_be_bytes());
    let mut bits = [false; BITS];
    for (i, bit) in bits.iter_mut().enumerate() {
        *bit = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
    }
    bits
}

/// Can a frame of this size carry a stamp?
pub fn fits(width: u32, height: u32) -> bool {
    let per_row = blocks_per_row(width);
    per_row >= 1 && BITS.div_ceil(per_row) * BLOCK <= height as usize
}

/// Draw `stamp` into the top of `frame` (luma blocks, neutral chroma). No-op if the frame is too small.
pub fn stamp_frame(frame: &mut I420Frame, stamp: FrameStamp) {
    if !fits(frame.width, frame.height) {
        return;
    }
    let width = frame.width as usize;
    let per_row = blocks_per_row(frame.width);
    for (i, bit) in encode_bits(stamp).iter().enumerate() {
        let (bx, by) = ((i % per_row) * BLOCK, (i / per_row) * BLOCK);
        let value = if *bit { 235 } else { 16 };
        for y in by..by + BLOCK {
            frame.y[y * width + bx..y * width + bx + BLOCK].fill(value);
        }
        let cw = width / 2;
        for y in by / 2..(by + BLOCK) / 2 {
            frame.u[y * cw + bx / 2..y * cw + (bx + BLOCK) / 2].fill(128);
            frame.v[y * cw + bx / 2..y * cw + (bx + BLOCK) / 2].fill(128);
        }
    }
}

/// Read the stamp back (from the 8×8 centre of each block); `None` if it is absent or damaged.
pub fn read_stamp(frame: &I420Frame) -> Option<FrameStamp> {
    if !fits(frame.width, frame.height) || frame.y.len() < (frame.width * frame.height) as usize {
        return None;
    }
    let width = frame.width as usize;
    let per_row = blocks_per_row(frame.width);
    let mut bytes = [0u8; PAYLOAD_BYTES + 2];
    for i in 0..BITS {
        let (bx, by) = ((i % per_row) * BLOCK, (i / per_row) * BLOCK);
        let mut sum = 0u32;
        for y in by + 4..by + 12 {
            sum += frame.y[y * width + bx + 4..y * width + bx + 12]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        if sum / 64 >= 126 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let crc = u16::from_be_bytes([bytes[10], bytes[11]]);
    if crc16(&bytes[0..PAYLOAD_BYTES]) != crc {
        return None;
    }
    let counter = u32::from_be_bytes(bytes[0..4].try_into().ok()?);
    let mut time = [0u8; 8];
    time[2..8].copy_from_slice(&bytes[4..10]);
    Some(FrameStamp {
        counter,
        capture_ms: u64::from_be_bytes(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_on_raw_frames() {
        for (w, h) in [(640, 360), (320, 180), (1280, 720), (128, 192)] {
            let mut frame = I420Frame::black(w, h).unwrap();
            let stamp = FrameStamp {
                counter: 0xDEAD_BEEF,
                capture_ms: 1_764_000_000_123,
            };
            stamp_frame(&mut frame, stamp);
            assert_eq!(read_stamp(&frame), Some(stamp), "{w}x{h}");
        }
    }

    #[test]
    fn a_damaged_stamp_is_rejected() {
        let mut frame = I420Frame::black(320, 180).unwrap();
        stamp_frame(
            &mut frame,
            FrameStamp {
                counter: 7,
                capture_ms: 99,
            },
        );
        // Flip one block (bit 31 of the counter) and the CRC no longer matches.
        for y in 0..16 {
            for x in 31 % 20 * 16..31 % 20 * 16 + 16 {
                let row = y + 16;
                frame.y[row * 320 + x] = 255 - frame.y[row * 320 + x];
            }
        }
        assert_eq!(read_stamp(&frame), None);
        assert_eq!(
            read_stamp(&I420Frame::black(320, 180).unwrap()),
            None,
            "a black frame has no stamp"
        );
    }
}
