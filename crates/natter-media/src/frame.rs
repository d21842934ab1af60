//! `I420Frame`: planar YUV 4:2:0 with tightly packed planes.

use crate::MediaError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    pub width: u32,
    pub height: u32,
    /// `width * height` bytes.
    pub y: Vec<u8>,
    /// `(width / 2) * (height / 2)` bytes each.
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl I420Frame {
    /// A black frame. Width and height must be even and non-zero.
    pub fn black(width: u32, height: u32) -> Result<I420Frame, MediaError> {
        check_size(width, height)?;
        let (w, h) = (width as usize, height as usize);
        Ok(I420Frame {
            width,
            height,
            y: vec![16; w * h],
            u: vec![128; w * h / 4],
            v: vec![128; w * h / 4],
        })
    }
}

pub(crate) fn check_size(width: u32, height: u32) -> Result<(), MediaError> {
    if width == 0 || height == 0 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "must not be zero",
        });
    }
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "must be even",
        });
    }
    if width > 4096 || height > 4096 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "larger than 4096",
        });
    }
    Ok(())
}
