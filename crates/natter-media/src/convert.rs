//! Scaling + colour conversion for display (BT.601 limited range, nearest neighbour).

use crate::I420Frame;

/// `out_width * out_height * 4` bytes of RGBA.
pub fn i420_to_rgba_scaled(frame: &I420Frame, out_width: u32, out_height: u32) -> Vec<u8> {
    let (ow, oh) = (out_width as usize, out_height as usize);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut out = vec![255u8; ow * oh * 4];
    if w == 0 || h == 0 || frame.y.len() < w * h || frame.u.len() < (w / 2) * (h / 2) || frame.v.len() < (w / 2) * (h / 2) {
        return out;
    }
    let cw = w / 2;
    let xs: Vec<usize> = (0..ow).map(|x| x * w / ow.max(1)).collect();
    for oy in 0..oh {
        let sy = oy * h / oh.max(1);
        let row = &mut out[oy * ow * 4..(oy + 1) * ow * 4];
        for (ox, px) in row.chunks_exact_mut(4).enumerate() {
            let sx = xs[ox];
            let y = i32::from(frame.y[sy * w + sx]) - 16;
            let ci = (sy / 2) * cw + sx / 2;
            let u = i32::from(frame.u[ci]) - 128;
            let v = i32::from(frame.v[ci]) - 128;
            let c = 298 * y;
            px[0] = ((c + 409 * v + 128) >> 8).clamp(0, 255) as u8;
            px[1] = ((c - 100 * u - 208 * v + 128) >> 8).clamp(0, 255) as u8;
            px[2] = ((c + 516 * u + 128) >> 8).clamp(0, 255) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_and_black_convert_and_size_is_right() {
        let mut frame = I420Frame::black(64, 32).unwrap();
        frame.y[..64 * 16].fill(235); // top half white
        let rgba = i420_to_rgba_scaled(&frame, 32, 16);
        assert_eq!(rgba.len(), 32 * 16 * 4);
        assert!(rgba[0..3].iter().all(|&c| c >= 250), "{:?}", &rgba[0..4]);
        let bottom = (15 * 32) * 4;
        assert!(rgba[bottom..bottom + 3].iter().all(|&c| c <= 5), "{:?}", &rgba[bottom..bottom + 4]);
        assert_eq!(rgba[3], 255);
    }
}
