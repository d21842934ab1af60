//! Scaling + colour conversion for display (BT.601 limited range, nearest neighbour).

use crate::I420Frame;

/// `out_width * out_height * 4` bytes of RGBA (alpha 255). A frame whose planes are too short for
/// its size gives an all-white picture rather than a panic.
pub fn i420_to_rgba_scaled(frame: &I420Frame, out_width: u32, out_height: u32) -> Vec<u8> {
    let (ow, oh) = (out_width as usize, out_height as usize);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut out = vec![255u8; ow * oh * 4];
    let cw = w / 2;
    if ow == 0
        || oh == 0
        || w < 2
        || h < 2
        || frame.y.len() < w * h
        || frame.u.len() < cw * (h / 2)
        || frame.v.len() < cw * (h / 2)
    {
        return out;
    }
    // Source column of each output column (luma, chroma), computed once.
    let xs: Vec<(usize, usize)> = (0..ow)
        .map(|x| x * w / ow)
        .map(|sx| (sx, (sx / 2).min(cw - 1)))
        .collect();
    for (oy, out_row) in out.chunks_exact_mut(ow * 4).enumerate() {
        let sy = oy * h / oh;
        let cy = (sy / 2).min(h / 2 - 1);
        let y_row = &frame.y[sy * w..(sy + 1) * w];
        let u_row = &frame.u[cy * cw..(cy + 1) * cw];
        let v_row = &frame.v[cy * cw..(cy + 1) * cw];
        for (px, &(sx, cx)) in out_row.chunks_exact_mut(4).zip(&xs) {
            let c = 298 * (i32::from(y_row[sx]) - 16);
            let u = i32::from(u_row[cx]) - 128;
            let v = i32::from(v_row[cx]) - 128;
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
        assert!(
            rgba[bottom..bottom + 3].iter().all(|&c| c <= 5),
            "{:?}",
            &rgba[bottom..bottom + 4]
        );
        assert_eq!(rgba[3], 255);
    }

    #[test]
    fn colours_follow_bt601_and_scaling_picks_the_right_region() {
        // Left half pure red (BT.601 limited: Y 81, U 90, V 240), right half mid grey.
        let mut frame = I420Frame::black(64, 64).unwrap();
        for row in 0..64 {
            frame.y[row * 64..row * 64 + 32].fill(81);
            frame.y[row * 64 + 32..row * 64 + 64].fill(126);
        }
        for row in 0..32 {
            frame.u[row * 32..row * 32 + 16].fill(90);
            frame.v[row * 32..row * 32 + 16].fill(240);
        }
        // Upscale to an odd size: every pixel left of the middle is red, right of it grey.
        let (ow, oh) = (101, 37);
        let rgba = i420_to_rgba_scaled(&frame, ow, oh);
        assert_eq!(rgba.len(), (ow * oh * 4) as usize);
        let at = |x: u32, y: u32| &rgba[((y * ow + x) * 4) as usize..((y * ow + x) * 4 + 4) as usize];
        let red = at(10, 20);
        assert!(red[0] >= 245 && red[1] <= 10 && red[2] <= 10, "{red:?}");
        let grey = at(90, 5);
        assert!(grey.iter().take(3).all(|&c| c.abs_diff(128) <= 3), "{grey:?}");
        // Degenerate inputs do not panic.
        assert_eq!(i420_to_rgba_scaled(&frame, 0, 0).len(), 0);
        let broken = I420Frame {
            width: 64,
            height: 64,
            y: vec![],
            u: vec![],
            v: vec![],
        };
        assert_eq!(i420_to_rgba_scaled(&broken, 8, 8).len(), 8 * 8 * 4);
    }
}
