//! The AVX2 SSIM kernel set: the Gaussian and the per-pixel terms, bit-identical to scalar.

use super::super::{constants, scalar, valid_size, Kernels, GAUSSIAN};
use crate::cpu::CpuLevel;

/// AVX2 Gaussian: 8 outputs at a time, float products (same rounding as the scalar code) widened
/// to two double vectors and summed in the same tap order, so results are bit-identical.
///
/// # Safety
/// The CPU must support AVX2; `img.len() >= w * h`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gaussian_avx2(
    img: &[f32],
    w: usize,
    h: usize,
    tmp: &mut Vec<f32>,
    out: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;
    let Some((dw, dh)) = valid_size(img, w, h, out) else {
        return;
    };
    let blocks = dw / 8;

    /// 8 outputs: Σ_k src[k·step + i] · g[k], i = 0..8, in double.
    #[inline(always)]
    unsafe fn dot8(src: *const f32, step: usize) -> __m256 {
        let mut lo = _mm256_setzero_pd();
        let mut hi = _mm256_setzero_pd();
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let p = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step)), _mm256_set1_ps(g));
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
        }
        _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))
    }

    /// 16 outputs as two interleaved `dot8`s: four independent double chains hide the add
    /// latency; each output's sum keeps the same tap order.
    #[inline(always)]
    unsafe fn dot16(src: *const f32, step: usize) -> (__m256, __m256) {
        let mut a_lo = _mm256_setzero_pd();
        let mut a_hi = _mm256_setzero_pd();
        let mut b_lo = _mm256_setzero_pd();
        let mut b_hi = _mm256_setzero_pd();
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let g = _mm256_set1_ps(g);
            let pa = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step)), g);
            let pb = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step + 8)), g);
            a_lo = _mm256_add_pd(a_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(pa)));
            a_hi = _mm256_add_pd(a_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(pa, 1)));
            b_lo = _mm256_add_pd(b_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(pb)));
            b_hi = _mm256_add_pd(b_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(pb, 1)));
        }
        (
            _mm256_set_m128(_mm256_cvtpd_ps(a_hi), _mm256_cvtpd_ps(a_lo)),
            _mm256_set_m128(_mm256_cvtpd_ps(b_hi), _mm256_cvtpd_ps(b_lo)),
        )
    }

    tmp.resize(dw * h, 0.0);
    for y in 0..h {
        let row = img.as_ptr().add(y * w);
        let dst = tmp.as_mut_ptr().add(y * dw);
        for b in (0..blocks / 2).map(|b| b * 2) {
            let (p, q) = dot16(row.add(b * 8), 1);
            _mm256_storeu_ps(dst.add(b * 8), p);
            _mm256_storeu_ps(dst.add(b * 8 + 8), q);
        }
        if blocks % 2 == 1 {
            let b = blocks - 1;
            _mm256_storeu_ps(dst.add(b * 8), dot8(row.add(b * 8), 1));
        }
        for x in blocks * 8..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(*row.add(x + k) * g);
            }
            *dst.add(x) = sum as f32;
        }
    }
    out.resize(dw * dh, 0.0);
    for y in 0..dh {
        let src = tmp.as_ptr().add(y * dw);
        let dst = out.as_mut_ptr().add(y * dw);
        for b in (0..blocks / 2).map(|b| b * 2) {
            let (p, q) = dot16(src.add(b * 8), dw);
            _mm256_storeu_ps(dst.add(b * 8), p);
            _mm256_storeu_ps(dst.add(b * 8 + 8), q);
        }
        if blocks % 2 == 1 {
            let b = blocks - 1;
            _mm256_storeu_ps(dst.add(b * 8), dot8(src.add(b * 8), dw));
        }
        for x in blocks * 8..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(*src.add(k * dw + x) * g);
            }
            *dst.add(x) = sum as f32;
        }
    }
}

/// AVX2 twin of the scalar `terms`: 4 pixels per step, the same IEEE operations in the same
/// precision and order (no FMA), so every term is bit-identical.
///
/// # Safety
/// The CPU must support AVX2; all slices at least `out.len()` long.
#[target_feature(enable = "avx2")]
unsafe fn ssim_terms_avx2(
    rm: &[f32],
    rs: &[f32],
    cm: &[f32],
    csq: &[f32],
    cross: &[f32],
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    let n = out.len();
    assert!(rm.len() >= n && rs.len() >= n && cm.len() >= n && csq.len() >= n && cross.len() >= n);
    let (c1, c2, c3) = constants();
    let (c1s, c2s, c3s) = (_mm_set1_ps(c1), _mm_set1_ps(c2), _mm_set1_ps(c3));
    let (c1d, c2d) = (_mm256_set1_pd(f64::from(c1)), _mm256_set1_pd(f64::from(c2)));
    let two = _mm256_set1_pd(2.0);
    let zero = _mm_setzero_ps();
    let blocks = n / 4;
    for b in 0..blocks {
        let i = b * 4;
        let vrm = _mm_loadu_ps(rm.as_ptr().add(i));
        let vcm = _mm_loadu_ps(cm.as_ptr().add(i));
        let vrs = _mm_loadu_ps(rs.as_ptr().add(i));
        // maxps(0, x) = 0 > x ? 0 : x, C's MAX(0.0, x).
        let vcs = _mm_max_ps(
            zero,
            _mm_sub_ps(_mm_loadu_ps(csq.as_ptr().add(i)), _mm_mul_ps(vcm, vcm)),
        );
        let both = _mm_sub_ps(_mm_loadu_ps(cross.as_ptr().add(i)), _mm_mul_ps(vrm, vcm));
        let sigma_rc = _mm_sqrt_ps(_mm_mul_ps(vrs, vcs));
        let l_num = _mm256_add_pd(
            _mm256_mul_pd(
                _mm256_mul_pd(two, _mm256_cvtps_pd(vrm)),
                _mm256_cvtps_pd(vcm),
            ),
            c1d,
        );
        let l_den = _mm_add_ps(_mm_add_ps(_mm_mul_ps(vrm, vrm), _mm_mul_ps(vcm, vcm)), c1s);
        let l = _mm256_div_pd(l_num, _mm256_cvtps_pd(l_den));
        let c_num = _mm256_add_pd(_mm256_mul_pd(two, _mm256_cvtps_pd(sigma_rc)), c2d);
        let c_den = _mm_add_ps(_mm_add_ps(vrs, vcs), c2s);
        let c = _mm256_div_pd(c_num, _mm256_cvtps_pd(c_den));
        let flat = _mm_and_ps(_mm_cmplt_ps(both, zero), _mm_cmple_ps(sigma_rc, zero));
        let both = _mm_andnot_ps(flat, both);
        let s = _mm_div_ps(_mm_add_ps(both, c3s), _mm_add_ps(sigma_rc, c3s));
        let t = _mm256_mul_pd(_mm256_mul_pd(l, c), _mm256_cvtps_pd(s));
        _mm256_storeu_pd(out.as_mut_ptr().add(i), t);
    }
    let tail = blocks * 4;
    scalar::terms(
        &rm[tail..n],
        &rs[tail..n],
        &cm[tail..n],
        &csq[tail..n],
        &cross[tail..n],
        &mut out[tail..],
    );
}

// Safe entry points: only reachable through `KERNELS` (and the AVX-512 table, a superset of its
// features), which `Kernels::for_level` hands out only when the CPU has AVX2.

pub(super) fn gaussian(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
    // SAFETY: AVX2 is present (only reachable through a table for AVX2 or above); the kernel
    // checks `img` holds the `w`×`h` image (`valid_size`) and sizes `tmp` and `out` itself.
    unsafe { gaussian_avx2(img, w, h, tmp, out) }
}

pub(super) fn terms(
    rm: &[f32],
    rs: &[f32],
    cm: &[f32],
    csq: &[f32],
    cross: &[f32],
    out: &mut [f64],
) {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts every input is at
    // least `out.len()` long.
    unsafe { ssim_terms_avx2(rm, rs, cm, csq, cross, out) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx2,
    gaussian,
    terms,
    decimate_row: scalar::KERNELS.decimate_row,
};
