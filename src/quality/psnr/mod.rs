//! PSNR per plane, as libvmaf's `psnr` feature extractor (libvmaf `feature/integer_psnr.c`)
//! computes it: the sum of squared errors in integers, MSE = SSE / (w·h), PSNR = 10·log10(peak² /
//! max(MSE, 1e-16)), capped at `psnr_max = 6·bpc + 12` dB (60 dB for 8-bit, 72 dB for 10-bit),
//! which is what identical planes score. The peak is 255 for 8-bit and `2^bpc − 1` above
//! (libvmaf's default, `reduced_hbd_peak = false`).

use crate::cpu::CpuLevel;
use crate::error::{Error, Result};
use crate::frame::{Frame, Plane, SampleSlice};

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// libvmaf's PSNR cap for identical planes: `(6 * bpc) + 12` dB (integer_psnr.c, `init`, when
/// `min_sse` is 0, the default).
pub fn psnr_max(bit_depth: u8) -> f64 {
    6.0 * f64::from(bit_depth) + 12.0
}

/// libvmaf's peak value: 255 for 8-bit input (hard-coded in `psnr`), `2^bpc − 1` for deeper input
/// (`psnr_hbd`).
pub fn peak(bit_depth: u8) -> f64 {
    if bit_depth <= 8 {
        255.0
    } else {
        f64::from((1u32 << bit_depth) - 1)
    }
}

/// PSNR of Y, Cb and Cr. Both frames must have the same format; a gray frame gives the luma
/// PSNR first and NaN for the missing chroma planes.
///
/// For odd sizes libvmaf's pictures have chroma planes of `w >> ss_x` by `h >> ss_y` (floor,
/// libvmaf `picture.c`), and FFmpeg's libvmaf filter copies only that much; our frames round
/// chroma up as FFmpeg does, so chroma PSNR is taken over libvmaf's top-left floor region.
pub fn psnr(r: &Frame, d: &Frame) -> Result<[f64; 3]> {
    psnr_with_kernels(Kernels::get(), r, d)
}

/// [`psnr`] with a resolved kernel table (the engine's).
pub(crate) fn psnr_with_kernels(k: &Kernels, r: &Frame, d: &Frame) -> Result<[f64; 3]> {
    if r.format != d.format || r.planes.len() != d.planes.len() {
        return Err(Error::Mismatch(format!(
            "PSNR needs frames of the same format: reference {}x{} {:?} {}-bit vs distorted {}x{} {:?} {}-bit",
            r.format.width,
            r.format.height,
            r.format.chroma,
            r.format.bit_depth,
            d.format.width,
            d.format.height,
            d.format.chroma,
            d.format.bit_depth
        )));
    }
    let (sx, sy) = r.format.chroma.shift();
    let mut out = [f64::NAN; 3];
    for (i, (rp, dp)) in r.planes.iter().zip(&d.planes).enumerate().take(3) {
        let (w, h) = if i == 0 {
            (r.format.width, r.format.height)
        } else {
            (r.format.width >> sx, r.format.height >> sy)
        };
        out[i] = psnr_region(k, rp, dp, w, h, r.format.bit_depth)?;
    }
    Ok(out)
}

/// PSNR of one plane pair at `bit_depth`, with libvmaf's cap.
pub fn psnr_plane(r: &Plane, d: &Plane, bit_depth: u8) -> Result<f64> {
    psnr_region(Kernels::get(), r, d, r.width, r.height, bit_depth)
}

/// PSNR over the top-left `w`×`h` samples of two planes of the same size.
fn psnr_region(
    k: &Kernels,
    r: &Plane,
    d: &Plane,
    w: usize,
    h: usize,
    bit_depth: u8,
) -> Result<f64> {
    if r.width != d.width
        || r.height != d.height
        || r.samples.len() != r.width * r.height
        || d.samples.len() != d.width * d.height
        || w > r.width
        || h > r.height
    {
        return Err(Error::Mismatch(format!(
            "PSNR needs planes of the same size: reference {}x{} vs distorted {}x{}",
            r.width, r.height, d.width, d.height
        )));
    }
    if !(8..=16).contains(&bit_depth) {
        return Err(Error::Mismatch(format!(
            "PSNR: unsupported bit depth {bit_depth} (8 to 16)"
        )));
    }
    if w == 0 || h == 0 {
        return Ok(f64::NAN);
    }
    // Mixed storage (planes built by hand) is compared as u16.
    let (rw, dw);
    let (ra, da) = match (r.slice(), d.slice()) {
        (a @ SampleSlice::U8(_), b @ SampleSlice::U8(_))
        | (a @ SampleSlice::U16(_), b @ SampleSlice::U16(_)) => (a, b),
        _ => {
            (rw, dw) = (r.samples.wide(), d.samples.wide());
            (SampleSlice::U16(&rw), SampleSlice::U16(&dw))
        }
    };
    let span_sse = |s: std::ops::Range<usize>| match (ra, da) {
        (SampleSlice::U8(a), SampleSlice::U8(b)) => (k.sse8)(&a[s.clone()], &b[s]),
        (SampleSlice::U16(a), SampleSlice::U16(b)) => (k.sse)(&a[s.clone()], &b[s], bit_depth),
        _ => unreachable!("one storage"),
    };
    // Whole planes in one call, cropped ones row by row.
    let stride = r.width;
    let sse: u64 = if w == stride {
        span_sse(0..w * h)
    } else {
        (0..h).map(|y| span_sse(y * stride..y * stride + w)).sum()
    };
    Ok(psnr_from_sse(sse, w * h, bit_depth))
}

/// PSNR from an integer SSE over `n` samples, exactly as libvmaf turns one into the other.
pub fn psnr_from_sse(sse: u64, n: usize, bit_depth: u8) -> f64 {
    let mse = sse as f64 / n as f64;
    let p = peak(bit_depth);
    (10.0 * (p * p / mse.max(1e-16)).log10()).min(psnr_max(bit_depth))
}

/// One PSNR kernel set: the sum of squared differences of one instruction set. Called once per
/// plane (or per row of a cropped plane).
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    /// Σ (a − b)² over the common length of two rows of samples below 2^bit_depth.
    pub sse: fn(&[u16], &[u16], u8) -> u64,
    /// The same over byte samples.
    pub sse8: fn(&[u8], &[u8]) -> u64,
}

crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx2, x86::avx2::KERNELS)]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Chroma, FrameFormat};

    use crate::kernels::xorshift;

    /// The set at `level` against scalar on random rows (lengths around the 16-sample step, bit
    /// depths up to 16, where the AVX2 set falls back to scalar) and on the all-maximum error.
    fn sse_matches_scalar(test: &str, level: CpuLevel) {
        let table = crate::kernels::table_at(test, level, Kernels::for_level, |k| k.level);
        let Some(k) = table else { return };
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let cases = [
            (8u8, 1usize),
            (8, 16),
            (8, 17),
            (8, 4099),
            (10, 1280 * 7 + 3),
            (14, 333),
            (15, 100),
            (16, 50),
        ];
        for &(bits, len) in &cases {
            let max = (1u64 << bits) - 1;
            let a: Vec<u16> = (0..len)
                .map(|_| (xorshift(&mut s) % (max + 1)) as u16)
                .collect();
            let b: Vec<u16> = (0..len)
                .map(|_| (xorshift(&mut s) % (max + 1)) as u16)
                .collect();
            assert_eq!(
                (k.sse)(&a, &b, bits),
                scalar::sse(&a, &b, bits),
                "bits {bits} len {len}"
            );
            // The largest error everywhere: the accumulator flushes must keep it exact.
            let (z, m) = (vec![0u16; len], vec![max as u16; len]);
            assert_eq!(
                (k.sse)(&z, &m, bits),
                scalar::sse(&z, &m, bits),
                "max bits {bits}"
            );
        }
        // Byte samples: lengths around the 32-byte step, random and extreme errors.
        for len in [1usize, 31, 32, 33, 4099, 1920 * 9 + 17] {
            let a: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            let b: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            assert_eq!((k.sse8)(&a, &b), scalar::sse8(&a, &b), "bytes len {len}");
            let (z, m) = (vec![0u8; len], vec![255u8; len]);
            assert_eq!(
                (k.sse8)(&z, &m),
                scalar::sse8(&z, &m),
                "max bytes len {len}"
            );
            assert_eq!(
                (k.sse8)(&m, &z),
                scalar::sse8(&m, &z),
                "max bytes len {len}"
            );
        }
    }

    #[test]
    fn byte_and_word_storage_agree() {
        let mut s = 7u64;
        let fmt = FrameFormat::new(33, 17, Chroma::Yuv420, 8);
        let mut a = Frame::new(fmt, 0);
        let mut b = Frame::new(fmt, 0);
        for f in [&mut a, &mut b] {
            for p in &mut f.planes {
                for y in 0..p.height {
                    for x in 0..p.width {
                        p.set(x, y, (xorshift(&mut s) % 256) as u16);
                    }
                }
            }
        }
        let wide = |f: &Frame| Frame {
            planes: f.planes.iter().map(Plane::to_wide).collect(),
            ..f.clone()
        };
        let want = psnr(&a, &b).unwrap();
        assert_eq!(psnr(&wide(&a), &wide(&b)).unwrap(), want);
        assert_eq!(psnr(&wide(&a), &b).unwrap(), want);
    }

    crate::kernels::simd_tests!(sse_matches_scalar);

    #[test]
    fn identical_planes_hit_the_cap() {
        let f = Frame::new(FrameFormat::new(16, 8, Chroma::Yuv420, 8), 0);
        assert_eq!(psnr(&f, &f).unwrap(), [60.0; 3]);
        let f = Frame::new(FrameFormat::new(16, 8, Chroma::Yuv444, 10), 0);
        assert_eq!(psnr(&f, &f).unwrap(), [72.0; 3]);
    }

    #[test]
    fn hand_computed_value() {
        // One sample off by 10 in a 4x4 plane: MSE = 100/16, PSNR = 10 log10(65025·16/100).
        let r = Plane::new(4, 4);
        let mut d = Plane::new(4, 4);
        d.set(1, 1, 10);
        let want = 10.0 * (65025.0f64 * 16.0 / 100.0).log10();
        assert!((psnr_plane(&r, &d, 8).unwrap() - want).abs() < 1e-12);
        let want10 = 10.0 * (1023.0f64 * 1023.0 * 16.0 / 100.0).log10();
        assert!((psnr_plane(&r, &d, 10).unwrap() - want10).abs() < 1e-12);
    }

    #[test]
    fn mismatched_formats_are_named() {
        let a = Frame::new(FrameFormat::new(16, 8, Chroma::Yuv420, 8), 0);
        let b = Frame::new(FrameFormat::new(16, 8, Chroma::Yuv444, 8), 0);
        let e = psnr(&a, &b).unwrap_err().to_string();
        assert!(e.contains("Yuv420") && e.contains("Yuv444"), "{e}");
    }
}
