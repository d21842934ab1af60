//! What cameras deliver → what the encoder wants (I420). USB webcams speak YUYV (packed 4:2:2)
//! at low resolutions and MJPEG at high ones; this module holds the pure conversions, tested on
//! frames made in the tests (no camera needed). YUYV: one pass per plane, no intermediate RGB;
//! MJPEG: zune-jpeg to RGB, then to I420 (a YCbCr output path would save a conversion).

use crate::{I420Frame, MediaError};

/// YUYV (YUY2: `Y0 U Y1 V` per pair of pixels) → I420. `stride` is the bytes per row in `data`
/// (`width * 2` when rows are not padded). Chroma is averaged over each pair of rows.
pub fn yuyv_to_i420(data: &[u8], width: u32, height: u32, stride: usize) -> Result<I420Frame, MediaError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "YUYV frames need an even, non-zero width and height",
        });
    }
    if stride < w * 2 || data.len() < stride * (h - 1) + w * 2 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "the YUYV buffer is shorter than its size says",
        });
    }
    let mut y = vec![0u8; w * h];
    let mut u = vec![0u8; (w / 2) * (h / 2)];
    let mut v = vec![0u8; (w / 2) * (h / 2)];
    for row in 0..h {
        let line = &data[row * stride..row * stride + w * 2];
        for (x, px) in line.chunks_exact(4).enumerate() {
            y[row * w + 2 * x] = px[0];
            y[row * w + 2 * x + 1] = px[2];
        }
    }
    for crow in 0..h / 2 {
        let (top, bottom) = (&data[2 * crow * stride..], &data[(2 * crow + 1) * stride..]);
        for cx in 0..w / 2 {
            let at = cx * 4;
            u[crow * (w / 2) + cx] = (u16::from(top[at + 1]) + u16::from(bottom[at + 1])).div_ceil(2) as u8;
            v[crow * (w / 2) + cx] = (u16::from(top[at + 3]) + u16::from(bottom[at + 3])).div_ceil(2) as u8;
        }
    }
    Ok(I420Frame { width, height, y, u, v })
}

/// One MJPEG frame (a complete JPEG image, as UVC cameras send at high resolutions) → I420.
pub fn mjpeg_to_i420(jpeg: &[u8]) -> Result<I420Frame, MediaError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let rgb = decoder
        .decode()
        .map_err(|e| MediaError::Decoder(format!("MJPEG frame: {e}")))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| MediaError::Decoder("MJPEG frame without a size".into()))?;
    rgb_to_i420(&rgb, width as u32, height as u32)
}

/// NV12 (a luma plane, then one plane of interleaved `U V` at quarter resolution; what many
/// laptop cameras on macOS and Windows deliver) → I420: the luma is copied, the chroma split.
pub fn nv12_to_i420(data: &[u8], width: u32, height: u32) -> Result<I420Frame, MediaError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "NV12 frames need an even, non-zero width and height",
        });
    }
    if data.len() < w * h + w * h / 2 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "the NV12 buffer is shorter than its size says",
        });
    }
    let (luma, chroma) = data.split_at(w * h);
    let (u, v) = chroma[..w * h / 2].chunks_exact(2).map(|uv| (uv[0], uv[1])).unzip();
    Ok(I420Frame {
        width,
        height,
        y: luma.to_vec(),
        u,
        v,
    })
}

/// Packed RGB (3 bytes per pixel, what a JPEG decoder gives) → I420, BT.601 limited range.
pub fn rgb_to_i420(rgb: &[u8], width: u32, height: u32) -> Result<I420Frame, MediaError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "frames need an even, non-zero width and height",
        });
    }
    if rgb.len() < w * h * 3 {
        return Err(MediaError::FrameSize {
            width,
            height,
            reason: "the RGB buffer is shorter than its size says",
        });
    }
    let luma = |r: i32, g: i32, b: i32| ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let mut y = vec![0u8; w * h];
    for (i, px) in rgb[..w * h * 3].chunks_exact(3).enumerate() {
        y[i] = luma(i32::from(px[0]), i32::from(px[1]), i32::from(px[2])).clamp(0, 255) as u8;
    }
    let mut u = vec![0u8; (w / 2) * (h / 2)];
    let mut v = vec![0u8; (w / 2) * (h / 2)];
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            // Average the 2×2 block, then convert.
            let (mut r, mut g, mut b) = (0i32, 0i32, 0i32);
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let at = ((2 * cy + dy) * w + 2 * cx + dx) * 3;
                r += i32::from(rgb[at]);
                g += i32::from(rgb[at + 1]);
                b += i32::from(rgb[at + 2]);
            }
            let (r, g, b) = (r / 4, g / 4, b / 4);
            u[cy * (w / 2) + cx] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
            v[cy * (w / 2) + cx] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
        }
    }
    Ok(I420Frame { width, height, y, u, v })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A YUYV frame as a camera would send it: Y rises along x, U and V differ per row pair.
    fn yuyv_sample(width: usize, height: usize, padding: usize) -> (Vec<u8>, usize) {
        let stride = width * 2 + padding;
        let mut data = vec![0xEEu8; stride * height];
        for row in 0..height {
            for pair in 0..width / 2 {
                let at = row * stride + pair * 4;
                data[at] = (pair * 2) as u8; // Y0
                data[at + 1] = 100 + row as u8; // U
                data[at + 2] = (pair * 2 + 1) as u8; // Y1
                data[at + 3] = 200 - row as u8; // V
            }
        }
        (data, stride)
    }

    #[test]
    fn yuyv_planes_come_out_in_place() {
        let (data, stride) = yuyv_sample(8, 4, 0);
        let frame = yuyv_to_i420(&data, 8, 4, stride).unwrap();
        assert_eq!(&frame.y[0..8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&frame.y[24..32], &[0, 1, 2, 3, 4, 5, 6, 7]);
        // Rows 0 and 1 average to U = 100.5 → 101, V = 199.5 → 200 (rounded); rows 2 and 3: 103, 198.
        assert_eq!(frame.u, vec![101, 101, 101, 101, 103, 103, 103, 103]);
        assert_eq!(frame.v, vec![200, 200, 200, 200, 198, 198, 198, 198]);
    }

    #[test]
    fn padded_rows_are_skipped() {
        let (padded, stride) = yuyv_sample(8, 4, 16);
        let (tight, tight_stride) = yuyv_sample(8, 4, 0);
        assert_eq!(
            yuyv_to_i420(&padded, 8, 4, stride).unwrap(),
            yuyv_to_i420(&tight, 8, 4, tight_stride).unwrap()
        );
    }

    #[test]
    fn nv12_chroma_is_split_into_its_planes() {
        // 4x2: 8 luma bytes, then U V pairs for the two 2x2 blocks.
        let mut nv12: Vec<u8> = (10..18).collect();
        nv12.extend([100, 200, 101, 201]);
        let frame = nv12_to_i420(&nv12, 4, 2).unwrap();
        assert_eq!(frame.y, (10..18).collect::<Vec<u8>>());
        assert_eq!(frame.u, vec![100, 101]);
        assert_eq!(frame.v, vec![200, 201]);
        assert!(nv12_to_i420(&nv12[..10], 4, 2).is_err());
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        let (data, stride) = yuyv_sample(8, 4, 0);
        assert!(yuyv_to_i420(&data[..data.len() - 1], 8, 4, stride).is_err());
        assert!(yuyv_to_i420(&data, 7, 4, stride).is_err());
        assert!(yuyv_to_i420(&data, 8, 4, 8).is_err(), "stride shorter than a row");
        assert!(rgb_to_i420(&[0; 10], 4, 4).is_err());
    }

    #[test]
    fn an_mjpeg_frame_decodes_to_the_picture_it_holds() {
        // A 64×32 JPEG made here: left half red, right half blue (as a camera's MJPEG would be).
        let (w, h) = (64u16, 32u16);
        let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| {
                if i % usize::from(w) < usize::from(w) / 2 {
                    [255, 0, 0]
                } else {
                    [0, 0, 255]
                }
            })
            .collect();
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let frame = mjpeg_to_i420(&jpeg).unwrap();
        assert_eq!((frame.width, frame.height), (64, 32));
        let (left, right) = (frame.y[16 * 64 + 8], frame.y[16 * 64 + 56]);
        assert!((75..=90).contains(&left), "red's luma ≈ 82: {left}");
        assert!((35..=48).contains(&right), "blue's luma ≈ 41: {right}");
        let (left_v, right_u) = (frame.v[8 * 32 + 4], frame.u[8 * 32 + 28]);
        assert!(
            left_v > 220 && right_u > 220,
            "red has high V ({left_v}), blue high U ({right_u})"
        );
        assert!(
            mjpeg_to_i420(&jpeg[..jpeg.len() / 3]).is_err(),
            "a truncated frame is an error"
        );
    }

    #[test]
    fn rgb_primaries_land_on_their_bt601_values() {
        // 2×2 blocks of white, black, red: Y 235 / 16 / 82, red's V high and U low.
        let mut rgb = Vec::new();
        for row in 0..2 {
            let _ = row;
            rgb.extend_from_slice(&[255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0]);
        }
        let frame = rgb_to_i420(&rgb, 6, 2).unwrap();
        assert_eq!(&frame.y[0..6], &[235, 235, 16, 16, 82, 82]);
        assert_eq!(frame.u[0..2], [128, 128], "white and black have no chroma");
        assert!(
            frame.v[2] > 230 && frame.u[2] < 100,
            "red: U {} V {}",
            frame.u[2],
            frame.v[2]
        );
    }
}
