//! The AVX-512 (F/BW/VL/DQ) SSIM kernel set: the Gaussian with masked row tails and the interior
//! of a decimated row; the per-pixel terms are the AVX2 ones.

use super::super::{tap_value, valid_size, Kernels, GAUSSIAN};
use super::avx2;
use crate::cpu::CpuLevel;

/// The interior outputs `x_lo..` of one decimated row, 8 at a time: the box's `f` rows (`rows`,
/// `f·w` samples from the box's top) become taps once — `(sample / div) · kv` in float, widened,
/// the table's values — then each output's taps are gathered and added in double in libvmaf's
/// order (row by row, left to right), as the scalar loop does. Returns where it stopped (the
/// scalar loop does the last `< 8`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/DQ; every tap of outputs `x_lo..x_hi` (`x·f − c + u`,
/// `u < f`) must lie inside a row of `w` samples.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
#[allow(clippy::too_many_arguments)]
unsafe fn decimate_row_avx512(
    rows: &[u16],
    w: usize,
    f: usize,
    c: usize,
    div: f32,
    kv: f32,
    x_lo: usize,
    x_hi: usize,
    taps: &mut Vec<f64>,
    out: &mut [f32],
) -> usize {
    use std::arch::x86_64::*;
    assert!(rows.len() == f * w && out.len() >= x_hi && x_lo * f >= c && x_hi * f - c <= w);
    taps.resize(f * w, 0.0);
    let (vdiv, vkv) = (_mm512_set1_ps(div), _mm512_set1_ps(kv));
    let mut i = 0;
    while i + 16 <= rows.len() {
        let v = _mm256_loadu_si256(rows.as_ptr().add(i).cast());
        let s = _mm512_mul_ps(
            _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(v)), vdiv),
            vkv,
        );
        _mm512_storeu_pd(
            taps.as_mut_ptr().add(i),
            _mm512_cvtps_pd(_mm512_castps512_ps256(s)),
        );
        _mm512_storeu_pd(
            taps.as_mut_ptr().add(i + 8),
            _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(s)),
        );
        i += 16;
    }
    for (t, &v) in taps[i..].iter_mut().zip(&rows[i..]) {
        *t = tap_value(v, div, kv);
    }
    // Lane k of a block starting at x reads tap (x + k)·f − c + u of each row.
    let step = _mm256_mullo_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_set1_epi32(f as i32),
    );
    let mut x = x_lo;
    while x + 8 <= x_hi {
        let mut sum = _mm512_setzero_pd();
        for v in 0..f {
            let base = taps.as_ptr().add(v * w + x * f - c);
            for u in 0..f {
                let t = _mm512_i32gather_pd::<8>(step, base.add(u).cast());
                sum = _mm512_add_pd(sum, t);
            }
        }
        _mm256_storeu_ps(out.as_mut_ptr().add(x), _mm512_cvtpd_ps(sum));
        x += 8;
    }
    x
}

/// AVX-512 Gaussian: the AVX2 kernel's arithmetic on 16 floats per vector, 32 outputs per step
/// (four double chains), and a masked step for the rest of a row instead of a scalar tail, so the
/// results stay bit-identical to the scalar one.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/DQ; `img.len() >= w * h`.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
unsafe fn gaussian_avx512(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
    use std::arch::x86_64::*;
    let Some((dw, dh)) = valid_size(img, w, h, out) else {
        return;
    };

    /// Outputs `dst[i] = Σ_k src[k·step + i] · g[k]` for the lanes of `masks` (16 per mask), the
    /// products in float, their sum in double in tap order. Masked-off lanes are neither read
    /// nor written.
    #[inline(always)]
    unsafe fn dot<const N: usize>(
        src: *const f32,
        step: usize,
        dst: *mut f32,
        masks: [__mmask16; N],
    ) {
        let mut lo = [_mm512_setzero_pd(); N];
        let mut hi = [_mm512_setzero_pd(); N];
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let g = _mm512_set1_ps(g);
            for j in 0..N {
                let v = _mm512_maskz_loadu_ps(masks[j], src.add(k * step + 16 * j));
                let p = _mm512_mul_ps(v, g);
                lo[j] = _mm512_add_pd(lo[j], _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
                hi[j] = _mm512_add_pd(hi[j], _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(p)));
            }
        }
        for j in 0..N {
            let out = _mm512_insertf32x8::<1>(
                _mm512_castps256_ps512(_mm512_cvtpd_ps(lo[j])),
                _mm512_cvtpd_ps(hi[j]),
            );
            _mm512_mask_storeu_ps(dst.add(16 * j), masks[j], out);
        }
    }

    /// One pass over `rows` output rows of `dw` samples, tap `k` of output `i` of row `y` at
    /// `src[y·stride + k·step + i]`.
    #[inline(always)]
    unsafe fn pass(
        src: *const f32,
        stride: usize,
        step: usize,
        dst: *mut f32,
        dw: usize,
        rows: usize,
    ) {
        for y in 0..rows {
            let (s, d) = (src.add(y * stride), dst.add(y * dw));
            let mut x = 0;
            while x + 32 <= dw {
                dot(s.add(x), step, d.add(x), [u16::MAX; 2]);
                x += 32;
            }
            while x < dw {
                let n = (dw - x).min(16);
                dot(
                    s.add(x),
                    step,
                    d.add(x),
                    [(1u32 << n).wrapping_sub(1) as u16],
                );
                x += n;
            }
        }
    }

    tmp.resize(dw * h, 0.0);
    pass(img.as_ptr(), w, 1, tmp.as_mut_ptr(), dw, h);
    out.resize(dw * dh, 0.0);
    pass(tmp.as_ptr(), dw, dw, out.as_mut_ptr(), dw, dh);
}

// Safe entry points: only reachable through `KERNELS`, which `Kernels::for_level` hands out only
// when the CPU has AVX-512 F/BW/VL/DQ (and so AVX2).

fn gaussian(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
    // SAFETY: AVX-512 is present (only reachable through the AVX-512 table); the kernel checks
    // `img` holds the `w`×`h` image (`valid_size`) and sizes `tmp` and `out` itself.
    unsafe { gaussian_avx512(img, w, h, tmp, out) }
}

#[allow(clippy::too_many_arguments)]
fn decimate_row(
    rows: &[u16],
    w: usize,
    f: usize,
    c: usize,
    div: f32,
    kv: f32,
    x_lo: usize,
    x_hi: usize,
    taps: &mut Vec<f64>,
    out: &mut [f32],
) -> usize {
    if x_hi < x_lo + 8 {
        return x_lo;
    }
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts that `rows` holds the
    // box's `f` rows of `w` samples and that every tap of outputs `x_lo..x_hi` lies inside them.
    unsafe { decimate_row_avx512(rows, w, f, c, div, kv, x_lo, x_hi, taps, out) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx512,
    gaussian,
    terms: avx2::terms,
    decimate_row,
};
