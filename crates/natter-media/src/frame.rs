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

/// An encoder's input: of the size it was made for, with planes long enough for it.
pub(crate) fn check_input(frame: &I420Frame, width: u32, height: u32) -> Result<(), MediaError> {
    let refuse = |reason| Err(MediaError::FrameSize { width: frame.width, height: frame.height, reason });
    if frame.width != width || frame.height != height {
        return refuse("differs from the encoder's size");
    }
    let (w, h) = (width as usize, height as usize);
    if frame.y.len() < w * h || frame.u.len() < w * h / 4 || frame.v.len() < w * h / 4 {
        return refuse("planes are too short");
    }
    Ok(())
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
