//! AVX-512 kernels (F/BW/VL/DQ/CD with VNNI's `vpdpwssd`): 32 columns per step in the vertical
//! passes, 16 in the horizontal ones, tails by masked loads and stores (no scalar tail, no
//! allocation).
//!
//! Same fixed-point tricks as the AVX2 `madd` kernels (products and 16-bit halves biased by
//! −2^15 so `vpdpwssd` with (c, c) sums a symmetric pair of taps), with one change: every row a
//! vertical kernel of this set stores is already xored with [`BIAS`], so the horizontal
//! kernels blend the 16-bit halves straight into biased words (no xor per tap pair). The bias is
//! internal to the set: the horizontal outputs are plain values.

use super::{log2_table32, VShift, EPS, SIGMA_NSQ};
use std::arch::x86_64::*;

/// What this set's vertical kernels xor into every stored u32 (each 16-bit half biased by
/// −2^15); its horizontal kernels expect it.
pub const BIAS: u32 = 0x8000_8000;

/// Column mask of the first `n` (≤ 32) 16-bit lanes.
#[inline(always)]
fn mask32(n: usize) -> __mmask32 {
    if n >= 32 {
        !0
    } else {
        (1u32 << n) - 1
    }
}

#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    if n >= 16 {
        !0
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

#[inline(always)]
unsafe fn ld16(r: &[u16], j: usize, m: __mmask32) -> __m512i {
    debug_assert!(j + (m.count_ones() as usize) <= r.len());
    _mm512_maskz_loadu_epi16(m, r.as_ptr().add(j) as *const i16)
}

/// Stores 32 u32 accumulated in unpack order (each 128-bit lane of `lo` holds columns 8L..8L+3,
/// of `hi` 8L+4..8L+7) in column order, the first `n` only.
#[inline(always)]
unsafe fn store_unpacked(out: &mut [u32], j: usize, n: usize, lo: __m512i, hi: __m512i) {
    let a = _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi);
    let b = _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), hi);
    debug_assert!(j + n <= out.len());
    let p = out.as_mut_ptr().add(j) as *mut i32;
    if n >= 32 {
        _mm512_storeu_si512(p as *mut _, a);
        _mm512_storeu_si512(p.add(16) as *mut _, b);
    } else {
        _mm512_mask_storeu_epi32(p, mask16(n), a);
        if n > 16 {
            _mm512_mask_storeu_epi32(p.add(16), mask16(n - 16), b);
        }
    }
}

/// (x + round) >> shift, biased.
#[inline(always)]
unsafe fn round_bias(x: __m512i, round: u32, shift: u32) -> __m512i {
    let x = _mm512_srl_epi32(
        _mm512_add_epi32(x, _mm512_set1_epi32(round as i32)),
        _mm_cvtsi32_si128(shift as i32),
    );
    _mm512_xor_si512(x, _mm512_set1_epi32(BIAS as i32))
}

/// Σ of biased second moments + 2^31, biased: (x + 2^31) ^ 0x8000_8000 == x ^ 0x8000.
#[inline(always)]
unsafe fn fix_bias(x: __m512i) -> __m512i {
    _mm512_xor_si512(x, _mm512_set1_epi32(0x8000))
}

#[inline(always)]
unsafe fn pair(c: u16) -> __m512i {
    let c = c as i32;
    _mm512_set1_epi32(c | (c << 16))
}

/// Runs a kernel generic over the filter length with the length of `f`.
macro_rules! by_taps {
    ($t:expr, $k:ident($($a:expr),*)) => {
        match $t {
            17 => $k::<17>($($a),*),
            9 => $k::<9>($($a),*),
            5 => $k::<5>($($a),*),
            3 => $k::<3>($($a),*),
            _ => unreachable!("VIF filters have 17, 9, 5 or 3 taps"),
        }
    };
}

/// A filter's coefficient vectors, made once per row: `p[k]` = (c_k, c_k) for k ≤ T/2 and
/// `c` the split centre (see `centre_pair`). With T a constant the tap loops unroll and the
/// vectors stay in registers.
struct Coeffs {
    p: [__m512i; 9],
    c: __m512i,
}

#[inline(always)]
unsafe fn coeffs<const T: usize>(f: &[u16]) -> Coeffs {
    debug_assert_eq!(f.len(), T);
    let mut p = [_mm512_setzero_si512(); 9];
    for (k, v) in p.iter_mut().enumerate().take(T / 2 + 1) {
        *v = pair(f[k]);
    }
    Coeffs {
        p,
        c: centre_pair(f[T / 2]),
    }
}

/// 8-bit scale-0 vertical pass of the reference: mean and Σf·x² (see `madd_ok`).
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn vert_ref32(rows: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
    by_taps!(f.len(), vert_ref32_t(rows, f, s, mu, sq))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert_ref32_t<const T: usize>(
    rows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    sq: &mut [u32],
) {
    let co = coeffs::<T>(f);
    let w = mu.len();
    let t = T;
    let half = t / 2;
    let bias = _mm512_set1_epi16(i16::MIN);
    let zero = _mm512_setzero_si512();
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let (mut ml, mut mh, mut ql, mut qh) = (zero, zero, zero, zero);
        for k in 0..=half {
            let cc = co.p[k];
            let a = ld16(rows[k], j, m);
            let b = if k == half {
                zero
            } else {
                ld16(rows[t - 1 - k], j, m)
            };
            ml = _mm512_dpwssd_epi32(ml, _mm512_unpacklo_epi16(a, b), cc);
            mh = _mm512_dpwssd_epi32(mh, _mm512_unpackhi_epi16(a, b), cc);
            let pa = _mm512_xor_si512(_mm512_mullo_epi16(a, a), bias);
            let pb = if k == half {
                zero
            } else {
                _mm512_xor_si512(_mm512_mullo_epi16(b, b), bias)
            };
            ql = _mm512_dpwssd_epi32(ql, _mm512_unpacklo_epi16(pa, pb), cc);
            qh = _mm512_dpwssd_epi32(qh, _mm512_unpackhi_epi16(pa, pb), cc);
        }
        store_unpacked(
            mu,
            j,
            n,
            round_bias(ml, s.mu_round, s.mu_shift),
            round_bias(mh, s.mu_round, s.mu_shift),
        );
        store_unpacked(sq, j, n, fix_bias(ql), fix_bias(qh));
        j += n;
    }
}

/// 8-bit scale-0 vertical pass of the distorted image: mean, Σf·d², Σf·r·d (see `madd_ok`).
#[allow(clippy::too_many_arguments)]
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn vert_dist32(
    rrows: &[&[u16]],
    drows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    by_taps!(f.len(), vert_dist32_t(rrows, drows, f, s, mu, yy, xy))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert_dist32_t<const T: usize>(
    rrows: &[&[u16]],
    drows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    let co = coeffs::<T>(f);
    let w = mu.len();
    let t = T;
    let half = t / 2;
    let bias = _mm512_set1_epi16(i16::MIN);
    let zero = _mm512_setzero_si512();
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let (mut ml, mut mh) = (zero, zero);
        let (mut yl, mut yh) = (zero, zero);
        let (mut xl, mut xh) = (zero, zero);
        for k in 0..=half {
            let cc = co.p[k];
            let d0 = ld16(drows[k], j, m);
            let r0 = ld16(rrows[k], j, m);
            let p0 = _mm512_xor_si512(_mm512_mullo_epi16(d0, d0), bias);
            let q0 = _mm512_xor_si512(_mm512_mullo_epi16(r0, d0), bias);
            let (d1, p1, q1) = if k == half {
                (zero, zero, zero)
            } else {
                let d1 = ld16(drows[t - 1 - k], j, m);
                let r1 = ld16(rrows[t - 1 - k], j, m);
                (
                    d1,
                    _mm512_xor_si512(_mm512_mullo_epi16(d1, d1), bias),
                    _mm512_xor_si512(_mm512_mullo_epi16(r1, d1), bias),
                )
            };
            ml = _mm512_dpwssd_epi32(ml, _mm512_unpacklo_epi16(d0, d1), cc);
            mh = _mm512_dpwssd_epi32(mh, _mm512_unpackhi_epi16(d0, d1), cc);
            yl = _mm512_dpwssd_epi32(yl, _mm512_unpacklo_epi16(p0, p1), cc);
            yh = _mm512_dpwssd_epi32(yh, _mm512_unpackhi_epi16(p0, p1), cc);
            xl = _mm512_dpwssd_epi32(xl, _mm512_unpacklo_epi16(q0, q1), cc);
            xh = _mm512_dpwssd_epi32(xh, _mm512_unpackhi_epi16(q0, q1), cc);
        }
        store_unpacked(
            mu,
            j,
            n,
            round_bias(ml, s.mu_round, s.mu_shift),
            round_bias(mh, s.mu_round, s.mu_shift),
        );
        store_unpacked(yy, j, n, fix_bias(yl), fix_bias(yh));
        store_unpacked(xy, j, n, fix_bias(xl), fix_bias(xh));
        j += n;
    }
}

/// The symmetric-pair setup of the horizontal passes: (c, c) per pair of taps and the centre
/// tap split in two halves (c₁ + c₂ = c, each < 2^15) so it is a pair of the same sample.
#[inline(always)]
unsafe fn centre_pair(c: u16) -> __m512i {
    let c1 = (c / 2) as i32;
    let c2 = (c - c / 2) as i32;
    _mm512_set1_epi32(c1 | (c2 << 16))
}

/// Words (lo(a), lo(b)) per lane.
#[inline(always)]
unsafe fn lo_pair(a: __m512i, b: __m512i) -> __m512i {
    _mm512_mask_blend_epi16(0xAAAA_AAAA, a, _mm512_slli_epi32(b, 16))
}

/// Words (hi(a), hi(b)) per lane.
#[inline(always)]
unsafe fn hi_pair(a: __m512i, b: __m512i) -> __m512i {
    _mm512_mask_blend_epi16(0xAAAA_AAAA, _mm512_srli_epi32(a, 16), b)
}

/// Horizontal Q16 pass, (Σf·x + 2^15) >> 16 over a padded biased row, 16 outputs per step.
/// Σc·(x − 2^15) over all taps is Σc·x − 2^31 (the filters sum to 2^16): the accumulators start
/// at 2^31. Needs a symmetric filter with pair coefficients < 2^15.
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
    by_taps!(f.len(), horiz_q16_t(src, f, out))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn horiz_q16_t<const T: usize>(src: &[u32], f: &[u16], out: &mut [u32]) {
    let co = coeffs::<T>(f);
    let w = out.len();
    let t = T;
    let half = t / 2;
    debug_assert!(src.len() >= w + t - 1);
    let fix = _mm512_set1_epi32(i32::MIN);
    let round = _mm512_set1_epi32(32768);
    let cc_centre = co.c;
    let mut j = 0;
    while j < w {
        let n = (w - j).min(16);
        let m = mask16(n);
        let p = src.as_ptr().add(j) as *const i32;
        let (mut hi, mut lo) = (fix, fix);
        for k in 0..half {
            let cc = co.p[k];
            let a = _mm512_maskz_loadu_epi32(m, p.add(k));
            let b = _mm512_maskz_loadu_epi32(m, p.add(t - 1 - k));
            hi = _mm512_dpwssd_epi32(hi, hi_pair(a, b), cc);
            lo = _mm512_dpwssd_epi32(lo, lo_pair(a, b), cc);
        }
        let a = _mm512_maskz_loadu_epi32(m, p.add(half));
        hi = _mm512_dpwssd_epi32(hi, hi_pair(a, a), cc_centre);
        lo = _mm512_dpwssd_epi32(lo, lo_pair(a, a), cc_centre);
        let r = _mm512_add_epi32(hi, _mm512_srli_epi32(_mm512_add_epi32(lo, round), 16));
        _mm512_mask_storeu_epi32(out.as_mut_ptr().add(j) as *mut i32, m, r);
        j += n;
    }
}

/// Horizontal Σf·x of a padded biased row whose values fit 16 bits (every mean row: see
/// `Kernels::horiz_u32`), 16 outputs per step; only the low halves are summed.
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn horiz_u16(src: &[u32], f: &[u16], out: &mut [u32]) {
    by_taps!(f.len(), horiz_u16_t(src, f, out))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn horiz_u16_t<const T: usize>(src: &[u32], f: &[u16], out: &mut [u32]) {
    let co = coeffs::<T>(f);
    let w = out.len();
    let t = T;
    let half = t / 2;
    debug_assert!(src.len() >= w + t - 1);
    let fix = _mm512_set1_epi32(i32::MIN);
    let cc_centre = co.c;
    let mut j = 0;
    while j < w {
        let n = (w - j).min(16);
        let m = mask16(n);
        let p = src.as_ptr().add(j) as *const i32;
        let (mut lo, mut lo2) = (fix, _mm512_setzero_si512());
        for k in 0..half {
            let cc = co.p[k];
            let a = _mm512_maskz_loadu_epi32(m, p.add(k));
            let b = _mm512_maskz_loadu_epi32(m, p.add(t - 1 - k));
            // Two accumulators: a shorter dependency chain.
            if k % 2 == 0 {
                lo = _mm512_dpwssd_epi32(lo, lo_pair(a, b), cc);
            } else {
                lo2 = _mm512_dpwssd_epi32(lo2, lo_pair(a, b), cc);
            }
        }
        let a = _mm512_maskz_loadu_epi32(m, p.add(half));
        lo = _mm512_dpwssd_epi32(lo, lo_pair(a, a), cc_centre);
        let r = _mm512_add_epi32(lo, lo2);
        _mm512_mask_storeu_epi32(out.as_mut_ptr().add(j) as *mut i32, m, r);
        j += n;
    }
}

/// ((a·b + 2^31) >> 32) per u32 lane: products in u64 on even and odd lanes.
#[inline(always)]
unsafe fn mulhi_round(a: __m512i, b: __m512i) -> __m512i {
    let half_round = _mm512_set1_epi64(1 << 31);
    let even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epu32(a, b), half_round), 32);
    let odd = _mm512_add_epi64(
        _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32)),
        half_round,
    );
    _mm512_mask_blend_epi32(0xAAAA, even, odd)
}

/// The reference row's σ₁² (stored) and denominator terms, 16 pixels per step (see
/// `Kernels::ref_terms`); the log2 table through a masked gather.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn ref_terms(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
    let w = mu.len();
    debug_assert!(xx.len() >= w && s1.len() >= w);
    let table = log2_table32();
    let nsq = _mm512_set1_epi32(SIGMA_NSQ);
    let mut log_acc = _mm512_setzero_si512();
    let mut non_log = 0i64;
    let mut j = 0;
    while j < w {
        let n = (w - j).min(16);
        let m = mask16(n);
        let mv = _mm512_maskz_loadu_epi32(m, mu.as_ptr().add(j) as *const i32);
        let xv = _mm512_maskz_loadu_epi32(m, xx.as_ptr().add(j) as *const i32);
        let v = _mm512_sub_epi32(xv, mulhi_round(mv, mv));
        _mm512_mask_storeu_epi32(s1.as_mut_ptr().add(j), m, v);
        let ge = _mm512_mask_cmpge_epi32_mask(m, v, nsq);
        non_log += (m & !ge).count_ones() as i64;
        // log2(σ²ₙ + σ₁²)·2048 − 17·2048, σ²ₙ + σ₁² ≥ 2^18: k = bits above the leading 16.
        let y = _mm512_add_epi32(v, nsq);
        let k = _mm512_sub_epi32(_mm512_set1_epi32(16), _mm512_lzcnt_epi32(y));
        let idx = _mm512_srlv_epi32(y, k);
        let t = _mm512_mask_i32gather_epi32::<4>(
            _mm512_setzero_si512(),
            ge,
            idx,
            table.as_ptr() as *const i32,
        );
        let term = _mm512_add_epi32(
            t,
            _mm512_slli_epi32(_mm512_sub_epi32(k, _mm512_set1_epi32(17)), 11),
        );
        // Per-lane sums stay far below 2^31 (each term < 2^16, w / 16 terms per lane).
        log_acc = _mm512_mask_add_epi32(log_acc, ge, log_acc, term);
        j += n;
    }
    let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(log_acc));
    let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(log_acc, 1));
    (_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi)), non_log)
}

/// Pass 1 and the log terms of a distorted row in one sweep, 16 pixels per step: σ₂² and σ₁₂
/// from the horizontal sums and the means, the non-log sum (σ₂² where σ₁² < σ²ₙ), and the
/// numerator's log terms in f64 with the scalar kernel's operations in the same order (no FMA).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn dist_terms(
    mu1: &[u32],
    s1: &[i32],
    mu2: &[u32],
    yy: &[u32],
    xy: &[u32],
    egl: f64,
) -> (i64, i64) {
    let w = mu1.len();
    debug_assert!(s1.len() >= w && mu2.len() >= w && yy.len() >= w && xy.len() >= w);
    let table = log2_table32();
    let zero = _mm512_setzero_si512();
    let nsq = _mm512_set1_epi32(SIGMA_NSQ);
    let eps = _mm512_set1_pd(EPS);
    let eglv = _mm512_set1_pd(egl);
    let nsq64 = _mm512_set1_epi64(SIGMA_NSQ as i64);
    let mut non_log = zero;
    let mut log_acc = zero;
    // log2(x)·2048 of u64 lanes, 2^17 ≤ x < 2^63: the 16 leading bits through the table.
    let log2v = |x: __m512i| -> __m512i {
        let k = _mm512_sub_epi64(_mm512_set1_epi64(48), _mm512_lzcnt_epi64(x));
        let idx = _mm512_srlv_epi64(x, k);
        let t = _mm512_i64gather_epi32::<4>(idx, table.as_ptr() as *const i32);
        _mm512_add_epi64(_mm512_cvtepu32_epi64(t), _mm512_slli_epi64(k, 11))
    };
    let mut j = 0;
    while j < w {
        let n = (w - j).min(16);
        let m = mask16(n);
        let ld = |s: *const u32| _mm512_maskz_loadu_epi32(m, s.add(j) as *const i32);
        let m1 = ld(mu1.as_ptr());
        let a = ld(s1.as_ptr() as *const u32);
        let m2 = ld(mu2.as_ptr());
        let yv = ld(yy.as_ptr());
        let xv = ld(xy.as_ptr());
        let mu2_sq = mulhi_round(m2, m2);
        let mu1_mu2 = mulhi_round(m1, m2);
        let b = _mm512_max_epi32(_mm512_sub_epi32(yv, mu2_sq), zero);
        let c = _mm512_sub_epi32(xv, mu1_mu2);
        let low = _mm512_mask_cmplt_epi32_mask(m, a, nsq);
        let bl = _mm512_maskz_mov_epi32(low, b);
        non_log = _mm512_add_epi64(non_log, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(bl)));
        non_log = _mm512_add_epi64(
            non_log,
            _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(bl, 1)),
        );
        let lm = _mm512_mask_cmpgt_epi32_mask(m, c, zero) & _mm512_cmpgt_epi32_mask(b, zero) & !low;
        if lm != 0 {
            for h in 0..2 {
                let m8 = (lm >> (8 * h)) as u8;
                if m8 == 0 {
                    continue;
                }
                let (a8, b8, c8) = if h == 0 {
                    (
                        _mm512_castsi512_si256(a),
                        _mm512_castsi512_si256(b),
                        _mm512_castsi512_si256(c),
                    )
                } else {
                    (
                        _mm512_extracti64x4_epi64(a, 1),
                        _mm512_extracti64x4_epi64(b, 1),
                        _mm512_extracti64x4_epi64(c, 1),
                    )
                };
                let ad = _mm512_cvtepi32_pd(a8);
                let bd = _mm512_cvtepi32_pd(b8);
                let cd = _mm512_cvtepi32_pd(c8);
                let g = _mm512_div_pd(cd, _mm512_add_pd(ad, eps));
                let sv = _mm512_sub_pd(bd, _mm512_mul_pd(g, cd));
                let sv = _mm256_max_epi32(_mm512_cvttpd_epi32(sv), _mm256_setzero_si256());
                let g = _mm512_min_pd(g, eglv);
                let n1 = _mm512_add_epi64(_mm512_cvtepu32_epi64(sv), nsq64);
                let gg = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_mul_pd(g, g), ad));
                let safe = _mm512_set1_epi64(1 << 17);
                let x = _mm512_mask_mov_epi64(safe, m8, _mm512_add_epi64(gg, n1));
                let y = _mm512_mask_mov_epi64(safe, m8, n1);
                let term = _mm512_sub_epi64(log2v(x), log2v(y));
                log_acc = _mm512_mask_add_epi64(log_acc, m8, log_acc, term);
            }
        }
        j += n;
    }
    (
        _mm512_reduce_add_epi64(log_acc),
        _mm512_reduce_add_epi64(non_log),
    )
}

/// (word of a, word of b) pairs of two rows of 32 columns, in unpack order.
#[inline(always)]
unsafe fn unpack(a: __m512i, b: __m512i) -> (__m512i, __m512i) {
    (_mm512_unpacklo_epi16(a, b), _mm512_unpackhi_epi16(a, b))
}

/// Accumulates both unpack halves of (a, b) with coefficient pair `cc`.
#[inline(always)]
unsafe fn acc2(acc: &mut [__m512i; 2], a: __m512i, b: __m512i, cc: __m512i) {
    let (l, h) = unpack(a, b);
    acc[0] = _mm512_dpwssd_epi32(acc[0], l, cc);
    acc[1] = _mm512_dpwssd_epi32(acc[1], h, cc);
}

/// 32-bit products x·y of 16-bit samples as biased (high, low) 16-bit halves.
#[inline(always)]
unsafe fn product_halves(x: __m512i, y: __m512i) -> (__m512i, __m512i) {
    let bias = _mm512_set1_epi16(i16::MIN);
    (
        _mm512_xor_si512(_mm512_mulhi_epu16(x, y), bias),
        _mm512_xor_si512(_mm512_mullo_epi16(x, y), bias),
    )
}

/// (Σc·P + round) >> shift of 32-bit products P from the sums of their halves (each started at
/// 2^31 to undo the bias): 2^(16−shift)·Σc·hi + ((Σc·lo + round) >> shift), exact for
/// shift ≤ 16, truncated to u32 as the scalar kernel does; biased.
#[inline(always)]
unsafe fn combine_halves(hi: __m512i, lo: __m512i, round: u32, shift: u32) -> __m512i {
    let h = _mm512_sll_epi32(hi, _mm_cvtsi32_si128(16 - shift as i32));
    let l = _mm512_srl_epi32(
        _mm512_add_epi32(lo, _mm512_set1_epi32(round as i32)),
        _mm_cvtsi32_si128(shift as i32),
    );
    _mm512_xor_si512(_mm512_add_epi32(h, l), _mm512_set1_epi32(BIAS as i32))
}

/// Vertical pass of the pyramid over 16-bit samples: (Σf·x + round) >> shift, kept to 16 bits.
/// Biased samples, Σc·(x − 2^15) = Σc·x − 2^31; the centre tap split (see `centre_pair`).
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn vert_mu(rows: &[&[u16]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
    by_taps!(f.len(), vert_mu_t(rows, f, round, shift, mu))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert_mu_t<const T: usize>(
    rows: &[&[u16]],
    f: &[u16],
    round: u32,
    shift: u32,
    mu: &mut [u32],
) {
    let co = coeffs::<T>(f);
    let w = mu.len();
    let t = T;
    let half = t / 2;
    let bias = _mm512_set1_epi16(i16::MIN);
    let fix = _mm512_set1_epi32(i32::MIN);
    let low16 = _mm512_set1_epi32(0xffff);
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let mut acc = [fix; 2];
        for k in 0..half {
            let a = _mm512_xor_si512(ld16(rows[k], j, m), bias);
            let b = _mm512_xor_si512(ld16(rows[t - 1 - k], j, m), bias);
            acc2(&mut acc, a, b, co.p[k]);
        }
        let a = _mm512_xor_si512(ld16(rows[half], j, m), bias);
        acc2(&mut acc, a, a, co.c);
        let out = |x: __m512i| -> __m512i {
            let x = _mm512_srl_epi32(
                _mm512_add_epi32(x, _mm512_set1_epi32(round as i32)),
                _mm_cvtsi32_si128(shift as i32),
            );
            _mm512_xor_si512(_mm512_and_si512(x, low16), _mm512_set1_epi32(BIAS as i32))
        };
        store_unpacked(mu, j, n, out(acc[0]), out(acc[1]));
        j += n;
    }
}

/// Vertical pass of the reference over 16-bit samples: mean and (Σf·x² + round) >> shift, the
/// 32-bit squares summed as two 16-bit halves (see `combine_halves`).
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn vert_ref64(rows: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
    by_taps!(f.len(), vert_ref64_t(rows, f, s, mu, sq))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert_ref64_t<const T: usize>(
    rows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    sq: &mut [u32],
) {
    let co = coeffs::<T>(f);
    let w = mu.len();
    let t = T;
    let half = t / 2;
    let bias = _mm512_set1_epi16(i16::MIN);
    let fix = _mm512_set1_epi32(i32::MIN);
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let (mut am, mut ah, mut al) = ([fix; 2], [fix; 2], [fix; 2]);
        for k in 0..=half {
            let cc = if k == half { co.c } else { co.p[k] };
            let a = ld16(rows[k], j, m);
            let b = if k == half {
                a
            } else {
                ld16(rows[t - 1 - k], j, m)
            };
            let (ah0, al0) = product_halves(a, a);
            let (ah1, al1) = product_halves(b, b);
            acc2(
                &mut am,
                _mm512_xor_si512(a, bias),
                _mm512_xor_si512(b, bias),
                cc,
            );
            acc2(&mut ah, ah0, ah1, cc);
            acc2(&mut al, al0, al1, cc);
        }
        store_unpacked(
            mu,
            j,
            n,
            round_bias(am[0], s.mu_round, s.mu_shift),
            round_bias(am[1], s.mu_round, s.mu_shift),
        );
        let sr = s.sq_round as u32;
        store_unpacked(
            sq,
            j,
            n,
            combine_halves(ah[0], al[0], sr, s.sq_shift),
            combine_halves(ah[1], al[1], sr, s.sq_shift),
        );
        j += n;
    }
}

/// Vertical pass of the distorted image over 16-bit samples: mean, (Σf·d² + round) >> shift
/// and (Σf·r·d + round) >> shift (see `combine_halves`).
#[allow(clippy::too_many_arguments)]
/// Dispatches on the filter length (one of the VIF filters': 17, 9, 5, 3 taps).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub unsafe fn vert_dist64(
    rrows: &[&[u16]],
    drows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    by_taps!(f.len(), vert_dist64_t(rrows, drows, f, s, mu, yy, xy))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert_dist64_t<const T: usize>(
    rrows: &[&[u16]],
    drows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    let co = coeffs::<T>(f);
    let w = mu.len();
    let t = T;
    let half = t / 2;
    let bias = _mm512_set1_epi16(i16::MIN);
    let fix = _mm512_set1_epi32(i32::MIN);
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let mut am = [fix; 2];
        let (mut yh, mut yl) = ([fix; 2], [fix; 2]);
        let (mut xh, mut xl) = ([fix; 2], [fix; 2]);
        for k in 0..=half {
            let (cc, k1) = if k == half {
                (co.c, k)
            } else {
                (co.p[k], t - 1 - k)
            };
            let d0 = ld16(drows[k], j, m);
            let d1 = ld16(drows[k1], j, m);
            let r0 = ld16(rrows[k], j, m);
            let r1 = ld16(rrows[k1], j, m);
            acc2(
                &mut am,
                _mm512_xor_si512(d0, bias),
                _mm512_xor_si512(d1, bias),
                cc,
            );
            let (h0, l0) = product_halves(d0, d0);
            let (h1, l1) = product_halves(d1, d1);
            acc2(&mut yh, h0, h1, cc);
            acc2(&mut yl, l0, l1, cc);
            let (h0, l0) = product_halves(r0, d0);
            let (h1, l1) = product_halves(r1, d1);
            acc2(&mut xh, h0, h1, cc);
            acc2(&mut xl, l0, l1, cc);
        }
        store_unpacked(
            mu,
            j,
            n,
            round_bias(am[0], s.mu_round, s.mu_shift),
            round_bias(am[1], s.mu_round, s.mu_shift),
        );
        let sr = s.sq_round as u32;
        for (out, hs, ls) in [(&mut *yy, yh, yl), (&mut *xy, xh, xl)] {
            store_unpacked(
                out,
                j,
                n,
                combine_halves(hs[0], ls[0], sr, s.sq_shift),
                combine_halves(hs[1], ls[1], sr, s.sq_shift),
            );
        }
        j += n;
    }
}
