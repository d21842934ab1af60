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

impl I420Frame {
    /// The picture at half its width and height (each output pixel the mean of a 2×2 block),
    /// rounded down to even sizes: a lower simulcast layer. `None` below 32×16.
    pub fn half_size(&self) -> Option<I420Frame> {
        let (width, height) = ((self.width / 2) & !1, (self.height / 2) & !1);
        if width < 32 || height < 16 {
            return None;
        }
        let plane = |src: &[u8], src_w: usize, w: usize, h: usize| -> Vec<u8> {
            let mut out = Vec::with_capacity(w * h);
            for row in 0..h {
                let (a, b) = (&src[2 * row * src_w..], &src[(2 * row + 1) * src_w..]);
                for col in 0..w {
                    let sum = u16::from(a[2 * col])
                        + u16::from(a[2 * col + 1])
                        + u16::from(b[2 * col])
                        + u16::from(b[2 * col + 1]);
                    out.push(((sum + 2) / 4) as u8);
                }
            }
            out
        };
        let (w, h, src_w) = (width as usize, height as usize, self.width as usize);
        if self.y.len() < src_w * self.height as usize
            || self.u.len() < (src_w / 2) * (self.height as usize / 2)
            || self.v.len() < self.u.len().min((src_w / 2) * (self.height as usize / 2))
        {
            return None;
        }
        Some(I420Frame {
            width,
            height,
            y: plane(&self.y, src_w, w, h),
            u: plane(&self.u, src_w / 2, w / 2, h / 2),
            v: plane(&self.v, src_w / 2, w / 2, h / 2),
        })
    }
}

/// An encoder's input: of the size it was made for, with planes long enough for it.
pub(crate) fn check_input(frame: &I420Frame, width: u32, height: u32) -> Result<(), MediaError> {
    let refuse = |reason| {
        Err(MediaError::FrameSize {
            width: frame.width,
            height: frame.height,
            reason,
        })
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_averages_2x2_blocks() {
        let mut frame = I420Frame::black(64, 36).unwrap();
        frame.y[0] = 100;
        frame.y[1] = 104;
        frame.y[64] = 96;
        frame.y[65] = 100;
        let half = frame.half_size().unwrap();
        assert_eq!((half.width, half.height), (32, 18));
        assert_eq!(half.y[0], 100);
        assert_eq!(half.y[1], 16);
        assert_eq!(half.u.len(), 16 * 9);
        assert!(
            I420Frame::black(62, 40).unwrap().half_size().is_none(),
            "31 px wide would be odd and too small"
        );
    }
}
