//! The AVX2 ADM kernel set: twins of the scale-0 kernels (16-bit fixed point) and of the scales
//! 1–3 vertical DWT, bit-exact with `scalar.rs` for valid input (samples below 2^bit_depth, so
//! every DWT band value stays within ±2^15 as libvmaf's 16-bit pipeline assumes). Edges and tails
//! fall back to the scalar kernels; the other table entries are scalar. The safe entry points at
//! the end are what the table holds.
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]
#![allow(clippy::too_many_arguments)]
// The AVX-512 intrinsics are stable since Rust 1.89; the project builds with 1.95 (COMMON.md) but
// Cargo.toml still says rust-version 1.80 — the lead is asked to raise it.
#![allow(clippy::incompatible_msrv)]

use super::super::kernels::{
    cos_1deg_sq, CSF0_ADD, CSF0_SHIFT, DIV_LOOKUP, HI, LO, LO_SUM, ONE_BY_15_Q12, ONE_BY_30_Q12,
};
use super::super::{scalar, Kernels};
use crate::cpu::CpuLevel;
use crate::frame::Sample;
use crate::simd::Load;
use std::arch::x86_64::*;

/// Two i16 filter taps packed for `_mm256_madd_epi16` (low tap first).
pub(super) fn pair(a: i32, b: i32) -> i32 {
    ((a as u16 as u32) | ((b as u16 as u32) << 16)) as i32
}

#[inline(always)]
pub(super) unsafe fn load8_i16(p: &[i16], j: usize) -> __m256i {
    debug_assert!(j + 8 <= p.len());
    _mm256_cvtepi16_epi32(_mm_loadu_si128(p.as_ptr().add(j) as *const __m128i))
}

#[inline(always)]
pub(super) unsafe fn load8_i32(p: &[i32], j: usize) -> __m256i {
    debug_assert!(j + 8 <= p.len());
    _mm256_loadu_si256(p.as_ptr().add(j) as *const __m256i)
}

/// 8 × i32 (each within i16 range) → 8 × i16 stored at p[j..j+8].
#[inline(always)]
pub(super) unsafe fn store8_i16(p: &mut [i16], j: usize, v: __m256i) {
    debug_assert!(j + 8 <= p.len());
    let packed = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128(p.as_mut_ptr().add(j) as *mut __m128i, packed);
}

/// Sign-extends the low 16 bits of each i32 lane (a C `(int16_t)` cast).
#[inline(always)]
pub(super) unsafe fn sext16(v: __m256i) -> __m256i {
    _mm256_srai_epi32(_mm256_slli_epi32(v, 16), 16)
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt0_vert_avx2<S: Sample>(
    rows: [&[S]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: &mut [i16],
) {
    let w = lo.len();
    assert!(hi.len() == w && rows.iter().all(|r| r.len() >= w));
    let sh = _mm_cvtsi32_si128(bit_depth as i32);
    let add = 1i32 << (bit_depth - 1);
    let l01 = _mm256_set1_epi32(pair(LO[0], LO[1]));
    let l23 = _mm256_set1_epi32(pair(LO[2], LO[3]));
    let h01 = _mm256_set1_epi32(pair(HI[0], HI[1]));
    let h23 = _mm256_set1_epi32(pair(HI[2], HI[3]));
    let add_l = _mm256_set1_epi32(add - LO_SUM * add);
    let add_h = _mm256_set1_epi32(add);
    let mut j = 0;
    while j + 16 <= w {
        let ld = |r: &[S]| S::Simd::load16(r.as_ptr().add(j));
        let (s0, s1, s2, s3) = (ld(rows[0]), ld(rows[1]), ld(rows[2]), ld(rows[3]));
        let p01l = _mm256_unpacklo_epi16(s0, s1);
        let p01h = _mm256_unpackhi_epi16(s0, s1);
        let p23l = _mm256_unpacklo_epi16(s2, s3);
        let p23h = _mm256_unpackhi_epi16(s2, s3);
        let f = |c01: __m256i, c23: __m256i, a: __m256i| {
            let x = _mm256_add_epi32(_mm256_madd_epi16(p01l, c01), _mm256_madd_epi16(p23l, c23));
            let y = _mm256_add_epi32(_mm256_madd_epi16(p01h, c01), _mm256_madd_epi16(p23h, c23));
            let x = _mm256_sra_epi32(_mm256_add_epi32(x, a), sh);
            let y = _mm256_sra_epi32(_mm256_add_epi32(y, a), sh);
            // unpack lo/hi and packs are lane-wise inverses: the result is in source order.
            _mm256_packs_epi32(x, y)
        };
        _mm256_storeu_si256(lo.as_mut_ptr().add(j) as *mut __m256i, f(l01, l23, add_l));
        _mm256_storeu_si256(hi.as_mut_ptr().add(j) as *mut __m256i, f(h01, h23, add_h));
        j += 16;
    }
    scalar::dwt0_vert_range(rows, bit_depth, lo, hi, j);
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt0_horz_avx2(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    let half = ix.len();
    assert!(a.len() >= half && v.len() >= half && h.len() >= half && d.len() >= half);
    scalar::dwt0_horz_range(lo, hi, ix, a, v, h, d, 0, 1.min(half));
    dwt0_horz_avx2_from(lo, hi, ix, a, v, h, d, 1);
}

/// Outputs `j0..` (j0 ≥ 1) of the scale-0 horizontal pass.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt0_horz_avx2_from(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
    j0: usize,
) {
    let w = lo.len();
    let half = ix.len();
    assert!(j0 >= 1 && hi.len() == w && a.len() >= half && v.len() >= half && h.len() >= half);
    assert!(d.len() >= half && half == w.div_ceil(2));
    let l01 = _mm256_set1_epi32(pair(LO[0], LO[1]));
    let l23 = _mm256_set1_epi32(pair(LO[2], LO[3]));
    let h01 = _mm256_set1_epi32(pair(HI[0], HI[1]));
    let h23 = _mm256_set1_epi32(pair(HI[2], HI[3]));
    let rnd = _mm256_set1_epi32(32768);
    // Output j reads 2j-1..2j+2: pairs (2j-1, 2j) and (2j+1, 2j+2) are adjacent i16s, so one
    // madd over each of two shifted loads filters 8 outputs.
    let mut j = j0;
    while 2 * j + 17 <= w {
        let x = _mm256_loadu_si256(lo.as_ptr().add(2 * j - 1) as *const __m256i);
        let y = _mm256_loadu_si256(lo.as_ptr().add(2 * j + 1) as *const __m256i);
        let xh = _mm256_loadu_si256(hi.as_ptr().add(2 * j - 1) as *const __m256i);
        let yh = _mm256_loadu_si256(hi.as_ptr().add(2 * j + 1) as *const __m256i);
        let f = |x: __m256i, y: __m256i, c01: __m256i, c23: __m256i| {
            let s = _mm256_add_epi32(_mm256_madd_epi16(x, c01), _mm256_madd_epi16(y, c23));
            _mm256_srai_epi32(_mm256_add_epi32(s, rnd), 16)
        };
        _mm256_storeu_si256(a.as_mut_ptr().add(j) as *mut __m256i, f(x, y, l01, l23));
        store8_i16(v, j, f(x, y, h01, h23));
        store8_i16(h, j, f(xh, yh, l01, l23));
        store8_i16(d, j, f(xh, yh, h01, h23));
        j += 8;
    }
    if j < half {
        scalar::dwt0_horz_range(lo, hi, ix, a, v, h, d, j, half);
    }
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt_s_vert_avx2(
    rows: [&[i32]; 4],
    scale: usize,
    lo: &mut [i32],
    hi: &mut [i32],
) {
    use super::super::kernels::{S_ADD_VP, S_SHIFT_VP};
    let w = lo.len();
    assert!(hi.len() == w && rows.iter().all(|r| r.len() >= w));
    let add = _mm256_set1_epi64x(S_ADD_VP[scale - 1]);
    let sh = S_SHIFT_VP[scale - 1] as i32;
    let shv = _mm_cvtsi32_si128(sh);
    let inv = _mm_cvtsi32_si128(64 - sh);
    let zero = _mm256_setzero_si256();
    let c = |k: usize, t: &[i32; 4]| _mm256_set1_epi64x(t[k] as i64);
    let (l, hh) = (
        [c(0, &LO), c(1, &LO), c(2, &LO), c(3, &LO)],
        [c(0, &HI), c(1, &HI), c(2, &HI), c(3, &HI)],
    );
    // Arithmetic 64-bit shift (AVX2 has none): logical shift plus the sign bits shifted in.
    let sra = |v: __m256i| {
        let s = _mm256_cmpgt_epi64(zero, v);
        _mm256_or_si256(_mm256_srl_epi64(v, shv), _mm256_sll_epi64(s, inv))
    };
    let mut j = 0;
    while j + 8 <= w {
        let s = [
            load8_i32(rows[0], j),
            load8_i32(rows[1], j),
            load8_i32(rows[2], j),
            load8_i32(rows[3], j),
        ];
        let so = s.map(|x| _mm256_srli_epi64(x, 32));
        let filt = |cf: &[__m256i; 4], s: &[__m256i; 4]| {
            let mut acc = add;
            for k in 0..4 {
                acc = _mm256_add_epi64(acc, _mm256_mul_epi32(s[k], cf[k]));
            }
            sra(acc)
        };
        let join =
            |e: __m256i, o: __m256i| _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0b1010_1010);
        let lo_v = join(filt(&l, &s), filt(&l, &so));
        let hi_v = join(filt(&hh, &s), filt(&hh, &so));
        _mm256_storeu_si256(lo.as_mut_ptr().add(j) as *mut __m256i, lo_v);
        _mm256_storeu_si256(hi.as_mut_ptr().add(j) as *mut __m256i, hi_v);
        j += 8;
    }
    scalar::dwt_s_vert_range(rows, scale, lo, hi, j);
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn decouple0_avx2(
    o: [&[i16]; 3],
    t: [&[i16]; 3],
    gain: f64,
    rf: &[i32; 3],
    r: [&mut [i16]; 3],
    f: &mut [i32],
    dc: &mut [i32],
    start: usize,
    end: usize,
) {
    let [rh, rv, rd] = r;
    let n = f.len().min(dc.len());
    assert!(end <= n && o.iter().chain(t.iter()).all(|b| b.len() >= end));
    assert!(rh.len() >= end && rv.len() >= end && rd.len() >= end);
    // Integer gains (the models use 1 and 100) make rst·gain exact in i32; others go scalar.
    if !(gain.fract() == 0.0 && (1.0..=32767.0).contains(&gain)) {
        return scalar::decouple0(o, t, gain, rf, [rh, rv, rd], f, dc, start, end);
    }
    let g = _mm256_set1_epi32(gain as i32);
    let zero = _mm256_setzero_si256();
    let cos1 = _mm256_set1_pd(cos_1deg_sq() as f64);
    let inv4096 = _mm256_set1_pd(1.0 / 4096.0);
    let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let k32768 = _mm256_set1_epi32(32768);
    let k32768_64 = _mm256_set1_epi64x(32768);
    let r16384_64 = _mm256_set1_epi64x(16384);
    let r16384 = _mm256_set1_epi32(16384);
    let lut = DIV_LOOKUP.as_ptr();

    // k = clamp((lookup[o] · t + 2^14) >> 15, 0, 2^15), or 2^15 where o == 0.
    let gain_k = |ov: __m256i, tv: __m256i| {
        let lk = _mm256_i32gather_epi32::<4>(lut, _mm256_add_epi32(ov, k32768));
        let half = |l: __m256i, t: __m256i| {
            let p = _mm256_add_epi64(_mm256_mul_epi32(l, t), r16384_64);
            let neg = _mm256_cmpgt_epi64(zero, p);
            let q = _mm256_srli_epi64(p, 15);
            let q = _mm256_blendv_epi8(q, k32768_64, _mm256_cmpgt_epi64(q, k32768_64));
            _mm256_andnot_si256(neg, q)
        };
        let e = half(lk, tv);
        let od = half(_mm256_srli_epi64(lk, 32), _mm256_srli_epi64(tv, 32));
        let k = _mm256_blend_epi32(e, _mm256_slli_epi64(od, 32), 0b1010_1010);
        _mm256_blendv_epi8(k, k32768, _mm256_cmpeq_epi32(ov, zero))
    };

    let mut j = start;
    while j + 8 <= end {
        let oh = load8_i16(o[0], j);
        let ov = load8_i16(o[1], j);
        let od = load8_i16(o[2], j);
        let th = load8_i16(t[0], j);
        let tv = load8_i16(t[1], j);
        let td = load8_i16(t[2], j);

        // Angle test in the scalar's float-then-double arithmetic (products fit i32 for bands
        // within ±2^15 except the all −32768 corner).
        let ot = _mm256_add_epi32(_mm256_mullo_epi32(oh, th), _mm256_mullo_epi32(ov, tv));
        let om = _mm256_add_epi32(_mm256_mullo_epi32(oh, oh), _mm256_mullo_epi32(ov, ov));
        let tm = _mm256_add_epi32(_mm256_mullo_epi32(th, th), _mm256_mullo_epi32(tv, tv));
        let (otf, omf, tmf) = (
            _mm256_cvtepi32_ps(ot),
            _mm256_cvtepi32_ps(om),
            _mm256_cvtepi32_ps(tm),
        );
        let cmp_half = |lane: i32| {
            let ext = |v: __m256| {
                let h = if lane == 0 {
                    _mm256_castps256_ps128(v)
                } else {
                    _mm256_extractf128_ps(v, 1)
                };
                _mm256_mul_pd(_mm256_cvtps_pd(h), inv4096)
            };
            let a = ext(otf);
            let rhs = _mm256_mul_pd(_mm256_mul_pd(cos1, ext(omf)), ext(tmf));
            let ok = _mm256_and_pd(
                _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GE_OQ),
                _mm256_cmp_pd(_mm256_mul_pd(a, a), rhs, _CMP_GE_OQ),
            );
            _mm256_movemask_pd(ok)
        };
        let m = cmp_half(0) | (cmp_half(1) << 4);
        let angle = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(m), bits), bits);

        let restore = |ov: __m256i, tv: __m256i| {
            let k = gain_k(ov, tv);
            let rst = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(k, ov), r16384), 15);
            let act = _mm256_and_si256(angle, _mm256_cmpgt_epi32(k, zero));
            let pos = _mm256_and_si256(act, _mm256_cmpgt_epi32(ov, zero));
            let neg = _mm256_and_si256(act, _mm256_cmpgt_epi32(zero, ov));
            let gr = _mm256_mullo_epi32(rst, g);
            let rst = _mm256_blendv_epi8(rst, _mm256_min_epi32(gr, tv), pos);
            _mm256_blendv_epi8(rst, _mm256_max_epi32(gr, tv), neg)
        };
        let rs = [restore(oh, th), restore(ov, tv), restore(od, td)];
        let ts = [th, tv, td];
        store8_i16(rh, j, rs[0]);
        store8_i16(rv, j, rs[1]);
        store8_i16(rd, j, rs[2]);

        let mut fs = zero;
        let mut cs = zero;
        for q in 0..3 {
            let a = sext16(_mm256_sub_epi32(ts[q], rs[q]));
            let c = _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_set1_epi32(rf[q]), a),
                _mm256_set1_epi32(CSF0_ADD[q]),
            );
            let c = sext16(_mm256_sra_epi32(c, _mm_cvtsi32_si128(CSF0_SHIFT[q] as i32)));
            let ac = _mm256_abs_epi32(c);
            let r2048 = _mm256_set1_epi32(2048);
            let f30 = _mm256_mullo_epi32(_mm256_set1_epi32(ONE_BY_30_Q12), ac);
            let f15 = _mm256_mullo_epi32(_mm256_set1_epi32(ONE_BY_15_Q12), ac);
            fs = _mm256_add_epi32(
                fs,
                sext16(_mm256_srai_epi32(_mm256_add_epi32(f30, r2048), 12)),
            );
            cs = _mm256_add_epi32(
                cs,
                sext16(_mm256_srai_epi32(_mm256_add_epi32(f15, r2048), 12)),
            );
        }
        _mm256_storeu_si256(f.as_mut_ptr().add(j) as *mut __m256i, fs);
        _mm256_storeu_si256(
            dc.as_mut_ptr().add(j) as *mut __m256i,
            _mm256_sub_epi32(cs, fs),
        );
        j += 8;
    }
    if j < end {
        scalar::decouple0(o, t, gain, rf, [rh, rv, rd], f, dc, j, end);
    }
}

/// Sum of the four i64 lanes.
#[inline(always)]
pub(super) unsafe fn hsum64(v: __m256i) -> i64 {
    let s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_cvtsi128_si64(s).wrapping_add(_mm_extract_epi64(s, 1))
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn cm0_row_avx2(
    r: [&[i16]; 3],
    vs: &[i32],
    dc: &[i32],
    c: &scalar::Cm0,
    start: usize,
    end: usize,
) -> [i64; 3] {
    let w = vs.len();
    assert!(end <= w && dc.len() >= end && r.iter().all(|b| b.len() >= end));
    // Columns 0 and w-1 reflect; the SIMD body covers 1..w-1.
    let lo = start.max(1);
    let hi = end.min(w.saturating_sub(1));
    if lo >= hi {
        return scalar::cm0_row(r, vs, dc, c, start, end);
    }
    let mut acc = scalar::cm0_row(r, vs, dc, c, start, lo);
    let zero = _mm256_setzero_si256();
    let mut vacc = [zero; 3];
    let mut j = lo;
    while j + 8 <= hi {
        let thr = _mm256_add_epi32(
            _mm256_add_epi32(load8_i32(vs, j - 1), load8_i32(vs, j)),
            _mm256_add_epi32(load8_i32(vs, j + 1), load8_i32(dc, j)),
        );
        for q in 0..3 {
            let x = _mm256_abs_epi32(_mm256_mullo_epi32(
                load8_i16(r[q], j),
                _mm256_set1_epi32(c.rf[q]),
            ));
            let sub = _mm_cvtsi32_si128(c.sub[q] as i32);
            let x = _mm256_max_epi32(_mm256_sub_epi32(x, _mm256_sll_epi32(thr, sub)), zero);
            let sq_add = _mm256_set1_epi64x(c.sq_add[q]);
            let sq_sh = _mm_cvtsi32_si128(c.sq_shift[q] as i32);
            let cub_add = _mm256_set1_epi64x(c.cub_add[q]);
            let cub_sh = _mm_cvtsi32_si128(c.cub_shift[q] as i32);
            let cub_inv = _mm_cvtsi32_si128(64 - c.cub_shift[q] as i32);
            let lane = |x: __m256i| {
                // x ≥ 0: x² unsigned; (x² + add) >> s keeps its low dword as C's (int32_t) cast.
                let sq = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(x, x), sq_add), sq_sh);
                let v = _mm256_add_epi64(_mm256_mul_epi32(sq, x), cub_add);
                let s = _mm256_cmpgt_epi64(zero, v);
                _mm256_or_si256(_mm256_srl_epi64(v, cub_sh), _mm256_sll_epi64(s, cub_inv))
            };
            let sum = _mm256_add_epi64(lane(x), lane(_mm256_srli_epi64(x, 32)));
            vacc[q] = _mm256_add_epi64(vacc[q], sum);
        }
        j += 8;
    }
    let tail = scalar::cm0_row(r, vs, dc, c, j, end);
    for q in 0..3 {
        acc[q] = acc[q].wrapping_add(hsum64(vacc[q])).wrapping_add(tail[q]);
    }
    acc
}

/// Low 32 bits of each i64 lane of `v` (a C `(int32_t)` cast), as 4 × i32.
#[inline(always)]
unsafe fn lo32(v: __m256i) -> __m128i {
    let idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, idx))
}

/// High 32 bits of each i64 lane of `v` (`v >> 32` as i32), as 4 × i32.
#[inline(always)]
unsafe fn hi32(v: __m256i) -> __m128i {
    let idx = _mm256_setr_epi32(1, 3, 5, 7, 0, 2, 4, 6);
    _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, idx))
}

/// i64 lanes below 2^53 in magnitude as `(x as f32) as f64`: exact in f64 as hi·2^32 + lo
/// (the low half through the 2^52 exponent trick), then one rounding to f32.
#[inline(always)]
unsafe fn f32_of_i64(x: __m256i) -> __m256d {
    let magic = _mm256_set1_epi64x(0x4330_0000_0000_0000);
    let lo = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi64x(0xFFFF_FFFF)), magic);
    let lo = _mm256_sub_pd(
        _mm256_castsi256_pd(lo),
        _mm256_set1_pd(4_503_599_627_370_496.0),
    );
    let hi = _mm256_mul_pd(_mm256_cvtepi32_pd(hi32(x)), _mm256_set1_pd(4_294_967_296.0));
    _mm256_cvtps_pd(_mm256_cvtpd_ps(_mm256_add_pd(hi, lo)))
}

/// Arithmetic right shift of i64 lanes by per-lane counts (AVX2 has only the logical one).
#[inline(always)]
unsafe fn srav64(x: __m256i, n: __m256i) -> __m256i {
    let m = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
    _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, m), n), m)
}

/// Scales 1–3 horizontal DWT pass, four outputs per step in i64 lanes (as the AVX-512 kernel,
/// at half the width). Output j reads 2j−1..2j+2: each i64 lane of a load at 2j−1 holds the pair
/// (2j−1, 2j), of a load at 2j+1 the pair (2j+1, 2j+2); `_mm256_mul_epi32` takes a lane's low
/// (signed) dword. The outputs are the low dwords of (Σ + add) >> shift, the same for a logical
/// shift (AVX2 has no arithmetic one on i64). The first output and the tail are scalar.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dwt_s_horz_avx2(
    lo: &[i32],
    hi: &[i32],
    ix: &[[usize; 4]],
    scale: usize,
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
) {
    use super::super::kernels::{S_ADD_HP, S_SHIFT_HP};
    let w = lo.len();
    let half = ix.len();
    assert!(hi.len() == w && half == w.div_ceil(2));
    assert!(a.len() >= half && v.len() >= half && h.len() >= half && d.len() >= half);
    let add = _mm256_set1_epi64x(S_ADD_HP[scale - 1]);
    let sh = _mm_cvtsi32_si128(S_SHIFT_HP[scale - 1] as i32);
    let c = |x: i32| _mm256_set1_epi64x(x as i64);
    let (l0, l1, l2, l3) = (c(LO[0]), c(LO[1]), c(LO[2]), c(LO[3]));
    let (h0, h1, h2, h3) = (c(HI[0]), c(HI[1]), c(HI[2]), c(HI[3]));
    scalar::dwt_s_horz_range(lo, hi, ix, scale, a, v, h, d, 0, 1.min(half));
    let store = |out: &mut [i32], j: usize, x: __m256i| {
        _mm_storeu_si128(out.as_mut_ptr().add(j) as *mut __m128i, lo32(x));
    };
    let mut j = 1;
    while 2 * j + 9 <= w {
        let filt = |src: &[i32], c0, c1, c2, c3| {
            let x = _mm256_loadu_si256(src.as_ptr().add(2 * j - 1) as *const __m256i);
            let y = _mm256_loadu_si256(src.as_ptr().add(2 * j + 1) as *const __m256i);
            let s = _mm256_add_epi64(
                _mm256_add_epi64(
                    _mm256_mul_epi32(x, c0),
                    _mm256_mul_epi32(_mm256_srli_epi64::<32>(x), c1),
                ),
                _mm256_add_epi64(
                    _mm256_mul_epi32(y, c2),
                    _mm256_mul_epi32(_mm256_srli_epi64::<32>(y), c3),
                ),
            );
            _mm256_srl_epi64(_mm256_add_epi64(s, add), sh)
        };
        store(a, j, filt(lo, l0, l1, l2, l3));
        store(v, j, filt(lo, h0, h1, h2, h3));
        store(h, j, filt(hi, l0, l1, l2, l3));
        store(d, j, filt(hi, h0, h1, h2, h3));
        j += 4;
    }
    if j < half {
        scalar::dwt_s_horz_range(lo, hi, ix, scale, a, v, h, d, j, half);
    }
}

/// Scales 1–3 contrast masking and cube pooling of one row, four pixels per step in i64 lanes:
/// [`scalar::cm_s_row`]'s arithmetic (each `as i32` a low dword, the cube's arithmetic shift
/// through [`srav64`]). The edge columns, the tail, and rows whose CSF factors do not fit an
/// i32 are scalar.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn cm_s_row_avx2(
    r: [&[i32]; 3],
    vs: &[i32],
    dc: &[i32],
    rf: &[u32; 3],
    cub_shift: u32,
    cub_add: i64,
    start: usize,
    end: usize,
) -> [i64; 3] {
    let w = vs.len();
    assert!(end <= w && dc.len() >= end && r.iter().all(|b| b.len() >= end));
    let lo = start.max(1);
    let hi = end.min(w.saturating_sub(1));
    if lo >= hi || rf.iter().any(|&x| x > i32::MAX as u32) {
        return scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, start, end);
    }
    let mut acc = scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, start, lo);
    let mut vacc = [_mm256_setzero_si256(); 3];
    let csh = _mm256_set1_epi64x(cub_shift as i64);
    let cadd = _mm256_set1_epi64x(cub_add);
    let ld = |b: &[i32], j: usize| _mm_loadu_si128(b.as_ptr().add(j) as *const __m128i);
    let mut j = lo;
    // Reads vs[j − 1..j + 5]: j + 4 ≤ hi ≤ w − 1.
    while j + 4 <= hi {
        let thr = _mm_add_epi32(
            _mm_add_epi32(ld(vs, j - 1), ld(vs, j)),
            _mm_add_epi32(ld(vs, j + 1), ld(dc, j)),
        );
        for q in 0..3 {
            let p = _mm256_mul_epi32(
                _mm256_cvtepi32_epi64(ld(r[q], j)),
                _mm256_set1_epi64x(rf[q] as i64),
            );
            let x = lo32(_mm256_srli_epi64::<28>(_mm256_add_epi64(
                p,
                _mm256_set1_epi64x(1 << 27),
            )));
            let x = _mm_max_epi32(_mm_sub_epi32(_mm_abs_epi32(x), thr), _mm_setzero_si128());
            let x64 = _mm256_cvtepi32_epi64(x);
            let x_sq = lo32(_mm256_srli_epi64::<30>(_mm256_add_epi64(
                _mm256_mul_epi32(x64, x64),
                _mm256_set1_epi64x(1 << 29),
            )));
            let cube = _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(x_sq), x64), cadd);
            vacc[q] = _mm256_add_epi64(vacc[q], srav64(cube, csh));
        }
        j += 4;
    }
    let tail = scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, j, end);
    for q in 0..3 {
        let mut lanes = [0i64; 4];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, vacc[q]);
        acc[q] = lanes
            .iter()
            .fold(acc[q], |a, &l| a.wrapping_add(l))
            .wrapping_add(tail[q]);
    }
    acc
}

/// Scales 1–3 decoupling + CSF, four pixels per step in i64 lanes (`_mm256_mul_epi32` gives the
/// exact products of the i32 band values): [`scalar::decouple_s`]'s arithmetic step by step.
/// Steps with a dot product or magnitude of 2^53 or more (whose f32 rounding this kernel does
/// not reproduce) and the tail go through the scalar kernel, as does everything when a CSF
/// factor does not fit an i32.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn decouple_s_avx2(
    o: [&[i32]; 3],
    t: [&[i32]; 3],
    gain: f64,
    rf: &[u32; 3],
    r: [&mut [i32]; 3],
    f: &mut [i32],
    dc: &mut [i32],
    start: usize,
    end: usize,
) {
    use super::super::kernels::{ONE_BY_15_Q32, ONE_BY_30_Q32, Q32_ROUND};
    let [rh, rv, rd] = r;
    assert!(end <= f.len() && end <= dc.len());
    assert!(o.iter().chain(t.iter()).all(|b| b.len() >= end));
    assert!(rh.len() >= end && rv.len() >= end && rd.len() >= end);
    if rf.iter().any(|&x| x > i32::MAX as u32) {
        scalar::decouple_s(o, t, gain, rf, [rh, rv, rd], f, dc, start, end);
        return;
    }
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi64x(1);
    let k32768 = _mm256_set1_epi64x(32768);
    let cos1 = _mm256_set1_pd(cos_1deg_sq() as f64);
    let inv4096 = _mm256_set1_pd(1.0 / 4096.0);
    let g = _mm256_set1_pd(gain);
    let lut = DIV_LOOKUP.as_ptr();
    let ld4 = |b: &[i32], j: usize| {
        _mm256_cvtepi32_epi64(_mm_loadu_si128(b.as_ptr().add(j) as *const __m128i))
    };
    // |x| < 2^53 on every lane.
    let exact = |x: __m256i| {
        let lim = _mm256_set1_epi64x(1 << 53);
        let m = _mm256_cmpgt_epi64(zero, x);
        let ax = _mm256_sub_epi64(_mm256_xor_si256(x, m), m);
        _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(lim, ax))) == 0xF
    };
    // libvmaf's gain by division lookup (`k32`): |o| reduced to its top 15 bits.
    let gain_k = |ov: __m256i, tv: __m256i| {
        let neg = _mm256_cmpgt_epi64(zero, ov);
        let ao = _mm256_sub_epi64(_mm256_xor_si256(ov, neg), neg);
        let big = _mm256_cmpgt_epi64(ao, _mm256_set1_epi64x(32767));
        // floor(log2 |o|) from the exponent of its exact double (|o| ≤ 2^31).
        let magic = _mm256_set1_epi64x(0x4330_0000_0000_0000);
        let d = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(ao, magic)),
            _mm256_set1_pd(4_503_599_627_370_496.0),
        );
        let e = _mm256_sub_epi64(
            _mm256_srli_epi64::<52>(_mm256_castpd_si256(d)),
            _mm256_set1_epi64x(1023 + 14),
        );
        let sh = _mm256_and_si256(big, e);
        let rounded = _mm256_srlv_epi64(
            _mm256_add_epi64(ao, _mm256_sllv_epi64(one, _mm256_sub_epi64(sh, one))),
            sh,
        );
        let m = _mm256_and_si256(
            _mm256_blendv_epi8(ao, rounded, big),
            _mm256_set1_epi64x(0xFFFF),
        );
        let lk = _mm256_cvtepi32_epi64(_mm256_i64gather_epi32::<4>(
            lut,
            _mm256_add_epi64(m, k32768),
        ));
        let p = _mm256_mul_epi32(lk, tv);
        let p = _mm256_sub_epi64(_mm256_xor_si256(p, neg), neg);
        let p = _mm256_add_epi64(
            p,
            _mm256_sllv_epi64(one, _mm256_add_epi64(sh, _mm256_set1_epi64x(14))),
        );
        let k = srav64(p, _mm256_add_epi64(sh, _mm256_set1_epi64x(15)));
        let k = _mm256_blendv_epi8(k, k32768, _mm256_cmpgt_epi64(k, k32768));
        let k = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, k), k);
        _mm256_blendv_epi8(k, k32768, _mm256_cmpeq_epi64(ov, zero))
    };
    let mut j = start;
    while j + 4 <= end {
        let (oh, ov, od) = (ld4(o[0], j), ld4(o[1], j), ld4(o[2], j));
        let (th, tv, td) = (ld4(t[0], j), ld4(t[1], j), ld4(t[2], j));
        let ot = _mm256_add_epi64(_mm256_mul_epi32(oh, th), _mm256_mul_epi32(ov, tv));
        let om = _mm256_add_epi64(_mm256_mul_epi32(oh, oh), _mm256_mul_epi32(ov, ov));
        let tm = _mm256_add_epi64(_mm256_mul_epi32(th, th), _mm256_mul_epi32(tv, tv));
        if !(exact(ot) && exact(om) && exact(tm)) {
            scalar::decouple_s(o, t, gain, rf, [rh, rv, rd], f, dc, j, j + 4);
            j += 4;
            continue;
        }
        let fd = |v: __m256i| _mm256_mul_pd(f32_of_i64(v), inv4096);
        let a = fd(ot);
        let rhs = _mm256_mul_pd(_mm256_mul_pd(cos1, fd(om)), fd(tm));
        let angle = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_GE_OQ>(a, _mm256_setzero_pd()),
            _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_mul_pd(a, a), rhs),
        );
        let restore = |ov: __m256i, tv: __m256i| {
            let k = gain_k(ov, tv);
            // (k·o + 2^14) >> 15 as i32: its low 32 bits are the same for both shifts.
            let rst = lo32(_mm256_srli_epi64::<15>(_mm256_add_epi64(
                _mm256_mul_epi32(k, ov),
                _mm256_set1_epi64x(16384),
            )));
            let act = _mm256_and_pd(angle, _mm256_castsi256_pd(_mm256_cmpgt_epi64(k, zero)));
            let pos = _mm256_and_pd(act, _mm256_castsi256_pd(_mm256_cmpgt_epi64(ov, zero)));
            let neg = _mm256_and_pd(act, _mm256_castsi256_pd(_mm256_cmpgt_epi64(zero, ov)));
            let gp = _mm256_mul_pd(_mm256_cvtepi32_pd(rst), g);
            let tp = _mm256_cvtepi32_pd(lo32(tv));
            let v = _mm256_blendv_pd(
                _mm256_blendv_pd(_mm256_cvtepi32_pd(rst), _mm256_min_pd(gp, tp), pos),
                _mm256_max_pd(gp, tp),
                neg,
            );
            // Every lane is an i32 value (rst, or between t and 0), so the conversion is exact.
            _mm256_cvttpd_epi32(v)
        };
        let rs = [restore(oh, th), restore(ov, tv), restore(od, td)];
        let ts = [lo32(th), lo32(tv), lo32(td)];
        for (b, v) in [&mut *rh, &mut *rv, &mut *rd].into_iter().zip(&rs) {
            _mm_storeu_si128(b.as_mut_ptr().add(j) as *mut __m128i, *v);
        }
        let (mut fs, mut cs) = (_mm_setzero_si128(), _mm_setzero_si128());
        for q in 0..3 {
            let a = _mm256_cvtepi32_epi64(_mm_sub_epi32(ts[q], rs[q]));
            let c = _mm256_add_epi64(
                _mm256_mul_epi32(_mm256_set1_epi64x(rf[q] as i64), a),
                _mm256_set1_epi64x(1 << 27),
            );
            // (…) >> 28 as i32, then `wrapping_abs() as i64` (i32::MIN stays negative).
            let ac = _mm256_cvtepi32_epi64(_mm_abs_epi32(lo32(_mm256_srli_epi64::<28>(c))));
            let rq = _mm256_set1_epi64x(Q32_ROUND);
            let f30 = _mm256_add_epi64(_mm256_mul_epi32(_mm256_set1_epi64x(ONE_BY_30_Q32), ac), rq);
            let f15 = _mm256_add_epi64(_mm256_mul_epi32(_mm256_set1_epi64x(ONE_BY_15_Q32), ac), rq);
            fs = _mm_add_epi32(fs, hi32(f30));
            cs = _mm_add_epi32(cs, hi32(f15));
        }
        _mm_storeu_si128(f.as_mut_ptr().add(j) as *mut __m128i, fs);
        _mm_storeu_si128(
            dc.as_mut_ptr().add(j) as *mut __m128i,
            _mm_sub_epi32(cs, fs),
        );
        j += 4;
    }
    if j < end {
        scalar::decouple_s(o, t, gain, rf, [rh, rv, rd], f, dc, j, end);
    }
}

// Safe entry points: only reachable through `KERNELS` (and the AVX-512 table, a superset of its
// features), which `Kernels::for_level` hands out only when the CPU has AVX2.

pub(super) fn dwt0_vert<S: Sample>(rows: [&[S]; 4], bit_depth: u8, lo: &mut [i16], hi: &mut [i16]) {
    // SAFETY: AVX2 is present (only reachable through a table for AVX2 or above, see above);
    // the kernel asserts the row and output lengths its loads and stores rely on.
    unsafe { dwt0_vert_avx2(rows, bit_depth, lo, hi) }
}

pub(super) fn dwt0_horz(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths.
    unsafe { dwt0_horz_avx2(lo, hi, ix, a, v, h, d) }
}

fn dwt_s_vert(rows: [&[i32]; 4], scale: usize, lo: &mut [i32], hi: &mut [i32]) {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths.
    unsafe { dwt_s_vert_avx2(rows, scale, lo, hi) }
}

pub(super) fn decouple0(
    o: [&[i16]; 3],
    t: [&[i16]; 3],
    gain: f64,
    rf: &[i32; 3],
    r: [&mut [i16]; 3],
    f: &mut [i32],
    dc: &mut [i32],
    start: usize,
    end: usize,
) {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths.
    unsafe { decouple0_avx2(o, t, gain, rf, r, f, dc, start, end) }
}

fn dwt_s_horz(
    lo: &[i32],
    hi: &[i32],
    ix: &[[usize; 4]],
    scale: usize,
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
) {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths and
    // loads 8 samples at 2j − 1 and 2j + 1 only while 2j + 9 ≤ the row's length.
    unsafe { dwt_s_horz_avx2(lo, hi, ix, scale, a, v, h, d) }
}

fn cm_s_row(
    r: [&[i32]; 3],
    vs: &[i32],
    dc: &[i32],
    rf: &[u32; 3],
    cub_shift: u32,
    cub_add: i64,
    start: usize,
    end: usize,
) -> [i64; 3] {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths and
    // reads columns j − 1..j + 5 only while j + 4 ≤ the row's last column.
    unsafe { cm_s_row_avx2(r, vs, dc, rf, cub_shift, cub_add, start, end) }
}

fn decouple_s(
    o: [&[i32]; 3],
    t: [&[i32]; 3],
    gain: f64,
    rf: &[u32; 3],
    r: [&mut [i32]; 3],
    f: &mut [i32],
    dc: &mut [i32],
    start: usize,
    end: usize,
) {
    // SAFETY: AVX2 and FMA are present (table for AVX2 or above); the kernel asserts the
    // lengths its loads and stores rely on.
    unsafe { decouple_s_avx2(o, t, gain, rf, r, f, dc, start, end) }
}

pub(super) fn cm0_row(
    r: [&[i16]; 3],
    vs: &[i32],
    dc: &[i32],
    c: &scalar::Cm0,
    start: usize,
    end: usize,
) -> [i64; 3] {
    // SAFETY: AVX2 is present (table for AVX2 or above); the kernel asserts the lengths.
    unsafe { cm0_row_avx2(r, vs, dc, c, start, end) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx2,
    dwt0_vert: dwt0_vert::<u16>,
    dwt0_vert8: dwt0_vert::<u8>,
    dwt0_horz,
    dwt_s_vert,
    dwt_s_horz,
    decouple0,
    cm0_row,
    decouple_s,
    cm_s_row,
    cube_sum_i16: scalar::cube_sum_i16,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuLevel;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn range(&mut self, lo: i32, hi: i32) -> i32 {
            lo + (self.next() % (hi - lo + 1) as u64) as i32
        }
    }

    /// The Avx2 table, or `None` after reporting the test as skipped.
    fn table(test: &str) -> Option<Kernels> {
        crate::kernels::table_at(test, CpuLevel::Avx2, Kernels::for_level, |k| k.level)
    }

    /// The table under test (each test first checks with [`table`] that it is the Avx2 one).
    fn k() -> Kernels {
        Kernels::for_level(CpuLevel::Avx2)
    }

    /// Band-like values: mostly small, sometimes near the ±27k DWT extremes, some zeros.
    fn band(rng: &mut Rng, n: usize) -> Vec<i16> {
        (0..n)
            .map(|_| match rng.next() % 8 {
                0 => 0,
                1 => rng.range(-27000, 27000) as i16,
                _ => rng.range(-300, 300) as i16,
            })
            .collect()
    }

    macro_rules! widths_test {
        ($name:ident, |$rng:ident, $w:ident| $body:block) => {
            #[test]
            fn $name() {
                if table(stringify!($name)).is_none() {
                    return;
                }
                let mut $rng = Rng(0x1234_5678_9abc_def1);
                for $w in [1usize, 5, 8, 15, 16, 17, 31, 33, 64, 100, 721] {
                    for _ in 0..4 $body
                }
            }
        };
    }

    widths_test!(dwt0_vert_matches_scalar, |rng, w| {
        for bd in [8u8, 10] {
            let max = (1i32 << bd) - 1;
            let rows: Vec<Vec<u16>> = (0..4)
                .map(|_| (0..w).map(|_| rng.range(0, max) as u16).collect())
                .collect();
            let rr = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (mut l1, mut h1, mut l2, mut h2) = (vec![0; w], vec![0; w], vec![0; w], vec![0; w]);
            scalar::dwt0_vert(rr, bd, &mut l1, &mut h1);
            (k().dwt0_vert)(rr, bd, &mut l2, &mut h2);
            assert_eq!((&l1, &h1), (&l2, &h2), "w {w} bd {bd}");
            if bd == 8 {
                let b: Vec<Vec<u8>> = rows
                    .iter()
                    .map(|r| r.iter().map(|&x| x as u8).collect())
                    .collect();
                let rb = [&b[0][..], &b[1][..], &b[2][..], &b[3][..]];
                (k().dwt0_vert8)(rb, bd, &mut l2, &mut h2);
                assert_eq!((&l1, &h1), (&l2, &h2), "bytes w {}", l1.len());
            }
        }
    });

    widths_test!(dwt0_horz_matches_scalar, |rng, w| {
        if w < 2 {
            continue;
        }
        let lo = band(&mut rng, w);
        let hi = band(&mut rng, w);
        let ix = super::super::super::mirror_indices(w);
        let n = ix.len();
        let mut o1 = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
        let mut o2 = o1.clone();
        scalar::dwt0_horz(&lo, &hi, &ix, &mut o1.0, &mut o1.1, &mut o1.2, &mut o1.3);
        (k().dwt0_horz)(&lo, &hi, &ix, &mut o2.0, &mut o2.1, &mut o2.2, &mut o2.3);
        assert_eq!(o1, o2, "w {w}");
    });

    widths_test!(dwt_s_vert_matches_scalar, |rng, w| {
        for scale in 1..=3 {
            let rows: Vec<Vec<i32>> = (0..4)
                .map(|_| (0..w).map(|_| rng.range(-1 << 24, 1 << 24)).collect())
                .collect();
            let rr = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (mut l1, mut h1, mut l2, mut h2) = (vec![0; w], vec![0; w], vec![0; w], vec![0; w]);
            scalar::dwt_s_vert(rr, scale, &mut l1, &mut h1);
            (k().dwt_s_vert)(rr, scale, &mut l2, &mut h2);
            assert_eq!((l1, h1), (l2, h2), "w {w} scale {scale}");
        }
    });

    /// Scale 1..3 band-like values: zeros, small, large (past the 2^15 `best15` switch) and
    /// some whose products pass 2^53 (the kernel's scalar fallback).
    fn band32(rng: &mut Rng, n: usize) -> Vec<i32> {
        (0..n)
            .map(|_| match rng.next() % 7 {
                0 => 0,
                1 => rng.range(-(1 << 28), 1 << 28),
                2 => rng.range(-70000, 70000),
                3 => rng.range(-(1 << 20), 1 << 20),
                _ => rng.range(-3000, 3000),
            })
            .collect()
    }

    widths_test!(dwt_s_horz_matches_scalar, |rng, w| {
        for scale in 1..=3 {
            let lo = band32(&mut rng, w);
            let hi = band32(&mut rng, w);
            let ix = super::super::super::mirror_indices(w);
            let n = ix.len();
            let mut o1 = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            let mut o2 = o1.clone();
            let (a, b) = (&mut o1, &mut o2);
            scalar::dwt_s_horz(&lo, &hi, &ix, scale, &mut a.0, &mut a.1, &mut a.2, &mut a.3);
            (k().dwt_s_horz)(&lo, &hi, &ix, scale, &mut b.0, &mut b.1, &mut b.2, &mut b.3);
            assert_eq!(o1, o2, "w {w} scale {scale}");
        }
    });

    widths_test!(cm_s_row_matches_scalar, |rng, w| {
        if w < 2 {
            continue;
        }
        // Band-like rows, and any i32 (whose products wrap and whose cubes go negative).
        let r: Vec<Vec<i32>> = (0..3)
            .map(|q| match q {
                2 => (0..w).map(|_| rng.next() as i32).collect(),
                _ => band32(&mut rng, w),
            })
            .collect();
        let vs: Vec<i32> = (0..w).map(|_| rng.range(0, 30000)).collect();
        let dc: Vec<i32> = (0..w).map(|_| rng.range(0, 10000)).collect();
        let rr = [&r[0][..], &r[1][..], &r[2][..]];
        for rf in [
            [1_000_000_000u32, 1_000_000_000, 700_000_000],
            [36453, 36453, 49417],
        ] {
            for (s, e) in [(0, w), (w / 10, w - w / 10), (1, w - 1)] {
                for (cs, ca) in [(9u32, 256i64), (0, 0)] {
                    let a = scalar::cm_s_row(rr, &vs, &dc, &rf, cs, ca, s, e);
                    let b = (k().cm_s_row)(rr, &vs, &dc, &rf, cs, ca, s, e);
                    assert_eq!(a, b, "w {w} range {s}..{e} rf {rf:?}");
                }
            }
        }
    });

    widths_test!(decouple_s_matches_scalar, |rng, w| {
        for gain in [1.0, 100.0, 1.7] {
            let o: Vec<Vec<i32>> = (0..3).map(|_| band32(&mut rng, w)).collect();
            let t: Vec<Vec<i32>> = o
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|&x| match rng.next() % 4 {
                            0 => x,
                            1 => (x as i64 * 5 / 4) as i32,
                            2 => x.wrapping_add(rng.range(-50, 50)),
                            _ => rng.range(-3000, 3000),
                        })
                        .collect()
                })
                .collect();
            for rf in [
                [1_000_000_000u32, 1_000_000_000, 700_000_000],
                [36453, 36453, 49417],
            ] {
                let run = |simd: bool| {
                    let (mut rh, mut rv, mut rd) = (vec![0i32; w], vec![0i32; w], vec![0i32; w]);
                    let (mut f, mut dc) = (vec![0i32; w], vec![0i32; w]);
                    let oo = [&o[0][..], &o[1][..], &o[2][..]];
                    let tt = [&t[0][..], &t[1][..], &t[2][..]];
                    let r = [&mut rh[..], &mut rv[..], &mut rd[..]];
                    let start = w.min(1);
                    if simd {
                        (k().decouple_s)(oo, tt, gain, &rf, r, &mut f, &mut dc, start, w);
                    } else {
                        scalar::decouple_s(oo, tt, gain, &rf, r, &mut f, &mut dc, start, w);
                    }
                    (rh, rv, rd, f, dc)
                };
                assert_eq!(run(false), run(true), "w {w} gain {gain} rf {rf:?}");
            }
        }
    });

    widths_test!(decouple0_matches_scalar, |rng, w| {
        for gain in [1.0, 100.0, 1.5] {
            let o: Vec<Vec<i16>> = (0..3).map(|_| band(&mut rng, w)).collect();
            // Distorted = reference scaled/perturbed so angles near 0 and gains occur.
            let t: Vec<Vec<i16>> = o
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|&x| match rng.next() % 4 {
                            0 => x,
                            1 => (x as i32 * 5 / 4).clamp(-27000, 27000) as i16,
                            2 => (x as i32 + rng.range(-20, 20)) as i16,
                            _ => rng.range(-300, 300) as i16,
                        })
                        .collect()
                })
                .collect();
            let rf = [36453, 36453, 49417];
            let run = |simd: bool| {
                let (mut rh, mut rv, mut rd) = (vec![0i16; w], vec![0i16; w], vec![0i16; w]);
                let (mut f, mut dc) = (vec![0i32; w], vec![0i32; w]);
                let oo = [&o[0][..], &o[1][..], &o[2][..]];
                let tt = [&t[0][..], &t[1][..], &t[2][..]];
                let start = w.min(1);
                if simd {
                    (k().decouple0)(
                        oo,
                        tt,
                        gain,
                        &rf,
                        [&mut rh, &mut rv, &mut rd],
                        &mut f,
                        &mut dc,
                        start,
                        w,
                    );
                } else {
                    scalar::decouple0(
                        oo,
                        tt,
                        gain,
                        &rf,
                        [&mut rh, &mut rv, &mut rd],
                        &mut f,
                        &mut dc,
                        start,
                        w,
                    );
                }
                (rh, rv, rd, f, dc)
            };
            assert_eq!(run(false), run(true), "w {w} gain {gain}");
        }
    });

    widths_test!(cm0_row_matches_scalar, |rng, w| {
        if w < 2 {
            continue;
        }
        let r: Vec<Vec<i16>> = (0..3).map(|_| band(&mut rng, w)).collect();
        let vs: Vec<i32> = (0..w).map(|_| rng.range(0, 3000)).collect();
        let dc: Vec<i32> = (0..w).map(|_| rng.range(0, 1000)).collect();
        let c = scalar::Cm0 {
            rf: [36453, 36453, 49417],
            sub: [10, 10, 12],
            sq_shift: [29, 29, 30],
            sq_add: [1 << 28, 1 << 28, 1 << 29],
            cub_shift: [6, 6, 7],
            cub_add: [32, 32, 64],
        };
        let rr = [&r[0][..], &r[1][..], &r[2][..]];
        for (s, e) in [(0, w), (w / 10, w - w / 10), (1, w - 1)] {
            let a = scalar::cm0_row(rr, &vs, &dc, &c, s, e);
            let b = (k().cm0_row)(rr, &vs, &dc, &c, s, e);
            assert_eq!(a, b, "w {w} range {s}..{e}");
        }
    });
}
