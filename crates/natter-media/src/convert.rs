//! Pictures for display: an I420 picture scaled to the size a tile is drawn at. The page turns
//! I420 into RGB when it paints (a WebGL shader, BT.601 limited range: `ui/src/render.ts`), so
//! what crosses to the window is 1.5 bytes a pixel instead of RGBA's 4.

use crate::I420Frame;

/// The size to show a `picture` (width, height) at inside `bounds`: its aspect ratio kept, never
/// larger than the picture itself (the window scales up for free), even sides (I420's chroma is
/// half size), at least 2×2. `None` for an empty picture or bounds.
pub fn fit_within(picture: (u32, u32), bounds: (u32, u32)) -> Option<(u32, u32)> {
    let (pw, ph) = picture;
    let (bw, bh) = (bounds.0.min(pw), bounds.1.min(ph));
    if pw == 0 || ph == 0 || bw == 0 || bh == 0 {
        return None;
    }
    // The larger of the two scale factors that fit: width-bound or height-bound.
    let (w, h) = if u64::from(bw) * u64::from(ph) <= u64::from(bh) * u64::from(pw) {
        (bw, (u64::from(bw) * u64::from(ph) / u64::from(pw)) as u32)
    } else {
        ((u64::from(bh) * u64::from(pw) / u64::from(ph)) as u32, bh)
    };
    let even = |n: u32| (n & !1).max(2);
    Some((even(w), even(h)))
}

/// `frame` scaled to `width` × `height` (even, non-zero): each output pixel takes the average
/// of the source pixels it covers when shrinking by 2 or more (no shimmer on fine detail), the
/// nearest one otherwise. A picture of the right size is returned as is; one whose planes are
/// too short for its size gives a black picture rather than a panic.
pub fn scale_i420(frame: &I420Frame, width: u32, height: u32) -> I420Frame {
    let (width, height) = (width.max(2) & !1, height.max(2) & !1);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = (w / 2, h / 2);
    let broken = w < 2 || h < 2 || frame.y.len() < w * h || frame.u.len() < cw * ch || frame.v.len() < cw * ch;
    if broken {
        return I420Frame::black(width, height).expect("even, non-zero size");
    }
    if (frame.width, frame.height) == (width, height) {
        return frame.clone();
    }
    let (ow, oh) = (width as usize, height as usize);
    I420Frame {
        width,
        height,
        y: scale_plane(&frame.y, w, h, ow, oh),
        u: scale_plane(&frame.u, cw, ch, ow / 2, oh / 2),
        v: scale_plane(&frame.v, cw, ch, ow / 2, oh / 2),
    }
}

/// One plane from `w`×`h` to `ow`×`oh` (see `scale_i420`).
fn scale_plane(src: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    let mut out = vec![0u8; ow * oh];
    if w >= 2 * ow && h >= 2 * oh {
        // Shrinking by 2 or more: the mean of the 2×2 block at each output pixel's source spot.
        // (A full box filter would read every source pixel; 2×2 removes the worst aliasing at a
        // quarter of that cost, and tiles rarely shrink by more than 4.)
        let xs: Vec<usize> = (0..ow).map(|x| (x * w / ow).min(w - 2)).collect();
        for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
            let sy = (oy * h / oh).min(h - 2);
            let (top, bottom) = (&src[sy * w..(sy + 1) * w], &src[(sy + 1) * w..(sy + 2) * w]);
            for (px, &sx) in row.iter_mut().zip(&xs) {
                let sum =
                    u16::from(top[sx]) + u16::from(top[sx + 1]) + u16::from(bottom[sx]) + u16::from(bottom[sx + 1]);
                *px = ((sum + 2) / 4) as u8;
            }
        }
    } else {
        let xs: Vec<usize> = (0..ow).map(|x| x * w / ow).collect();
        for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
            let sy = oy * h / oh;
            let line = &src[sy * w..(sy + 1) * w];
            for (px, &sx) in row.iter_mut().zip(&xs) {
                *px = line[sx];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_never_grows_and_stays_even() {
        assert_eq!(fit_within((1280, 720), (640, 360)), Some((640, 360)));
        // A 4:3 camera in a 16:9 tile: height-bound.
        assert_eq!(fit_within((640, 480), (640, 360)), Some((480, 360)));
        // A tall tile: width-bound.
        assert_eq!(fit_within((1280, 720), (301, 999)), Some((300, 168)));
        // Never larger than the picture: the window scales up.
        assert_eq!(fit_within((320, 180), (1920, 1080)), Some((320, 180)));
        assert_eq!(fit_within((320, 180), (0, 100)), None);
        assert_eq!(fit_within((0, 0), (100, 100)), None);
        assert_eq!(fit_within((1000, 2), (3, 3)), Some((2, 2)));
    }

    #[test]
    fn scaling_picks_the_right_region_and_averages_when_shrinking() {
        // Left half luma 200 / chroma (90, 240), right half luma 50 / chroma 128.
        let mut frame = I420Frame::black(64, 64).unwrap();
        for row in 0..64 {
            frame.y[row * 64..row * 64 + 32].fill(200);
            frame.y[row * 64 + 32..row * 64 + 64].fill(50);
        }
        for row in 0..32 {
            frame.u[row * 32..row * 32 + 16].fill(90);
            frame.v[row * 32..row * 32 + 16].fill(240);
        }
        for (ow, oh) in [(16, 8), (100, 36)] {
            let out = scale_i420(&frame, ow, oh);
            assert_eq!((out.width, out.height), (ow, oh));
            assert_eq!(out.y.len(), (ow * oh) as usize);
            assert_eq!(out.u.len(), (ow * oh / 4) as usize);
            let ow = ow as usize;
            assert_eq!(out.y[2], 200, "left is bright");
            assert_eq!(out.y[ow - 2], 50, "right is dark");
            assert_eq!((out.u[0], out.v[0]), (90, 240));
            assert_eq!((out.u[ow / 2 - 1], out.v[ow / 2 - 1]), (128, 128));
        }
        // A fine checkerboard shrunk by 4 becomes its mean grey, not one of its two colours.
        let mut checker = I420Frame::black(64, 64).unwrap();
        for (i, px) in checker.y.iter_mut().enumerate() {
            *px = if (i % 64 + i / 64) % 2 == 0 { 16 } else { 235 };
        }
        let grey = scale_i420(&checker, 16, 16);
        assert!(grey.y.iter().all(|&p| p.abs_diff(126) <= 1), "{:?}", &grey.y[..4]);
        // The right size comes back unchanged; broken input gives black, not a panic.
        assert_eq!(scale_i420(&frame, 64, 64), frame);
        let broken = I420Frame {
            width: 64,
            height: 64,
            y: vec![],
            u: vec![],
            v: vec![],
        };
        assert_eq!(scale_i420(&broken, 8, 8), I420Frame::black(8, 8).unwrap());
    }
}
