//! The AVX-512 (F/VL/DQ/BW) ADM kernel set: scales 1..3, whose fixed point needs 64-bit lanes
//! (eight pixels per 512-bit vector of i64), and wider twins of the scale-0 kernels; scale 0's
//! masking row is the AVX2 one. Bit-exact with `scalar.rs` for valid input; the safe entry
//! points at the end are what the table holds.
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]
#![allow(clippy::too_many_arguments)]

use super::super::kernels::{
    cos_1deg_sq, CSF0_ADD, CSF0_SHIFT, DIV_LOOKUP, HI, LO, LO_SUM, ONE_BY_15_Q12, ONE_BY_30_Q12,
};
use super::super::{scalar, Kernels};
use super::avx2::{self, decouple0_avx2, dwt0_horz_avx2_from, dwt0_vert_avx2, load8_i32, pair};
use crate::cpu::CpuLevel;
use crate::frame::Sample;
use crate::simd::Load;
use std::arch::x86_64::*;

/// Loads 8 i32 sign-extended to 8 i64 lanes.
#[inline(always)]
unsafe fn ld8q(p: &[i32], j: usize) -> __m512i {
    debug_assert!(j + 8 <= p.len());
    _mm512_cvtepi32_epi64(_mm256_loadu_si256(p.as_ptr().add(j) as *const __m256i))
}

/// Truncates 8 i64 lanes to i32 (a C `(int32_t)` cast) and stores them.
#[inline(always)]
unsafe fn st8q(p: &mut [i32], j: usize, v: __m512i) {
    debug_assert!(j + 8 <= p.len());
    _mm256_storeu_si256(
        p.as_mut_ptr().add(j) as *mut __m256i,
        _mm512_cvtepi64_epi32(v),
    );
}

/// Sign-extends the low 32 bits of each i64 lane (wrapping i32 arithmetic).
#[inline(always)]
unsafe fn sext32(v: __m512i) -> __m512i {
    _mm512_srai_epi64::<32>(_mm512_slli_epi64::<32>(v))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn decouple_s_avx512(
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
    let zero = _mm512_setzero_si512();
    let one = _mm512_set1_epi64(1);
    let k32768 = _mm512_set1_epi64(32768);
    let cos1 = _mm512_set1_pd(cos_1deg_sq() as f64);
    let inv4096 = _mm512_set1_pd(1.0 / 4096.0);
    let g = _mm512_set1_pd(gain);
    let lut = DIV_LOOKUP.as_ptr();

    // libvmaf's division by lookup: |o| reduced to its top 15 bits (get_best15_from32).
    let gain_k = |ov: __m512i, tv: __m512i| {
        let ao = _mm512_abs_epi64(ov);
        let big = _mm512_cmpge_epi64_mask(ao, k32768);
        let mut y = ao;
        y = _mm512_or_si512(y, _mm512_srli_epi64::<1>(y));
        y = _mm512_or_si512(y, _mm512_srli_epi64::<2>(y));
        y = _mm512_or_si512(y, _mm512_srli_epi64::<4>(y));
        y = _mm512_or_si512(y, _mm512_srli_epi64::<8>(y));
        y = _mm512_or_si512(y, _mm512_srli_epi64::<16>(y));
        let msb = _mm512_xor_si512(y, _mm512_srli_epi64::<1>(y));
        // floor(log2) from the exact double of a power of two.
        let e = _mm512_sub_epi64(
            _mm512_srli_epi64::<52>(_mm512_castpd_si512(_mm512_cvtepi64_pd(msb))),
            _mm512_set1_epi64(1023 + 14),
        );
        let sh = _mm512_maskz_mov_epi64(big, e);
        let rounded = _mm512_srlv_epi64(
            _mm512_add_epi64(ao, _mm512_sllv_epi64(one, _mm512_sub_epi64(sh, one))),
            sh,
        );
        let m = _mm512_and_si512(
            _mm512_mask_blend_epi64(big, ao, rounded),
            _mm512_set1_epi64(0xFFFF),
        );
        let lk = _mm512_cvtepi32_epi64(_mm512_i64gather_epi32::<4>(
            _mm512_add_epi64(m, k32768),
            lut,
        ));
        let p = _mm512_mullo_epi64(lk, tv);
        let p = _mm512_mask_sub_epi64(p, _mm512_cmplt_epi64_mask(ov, zero), zero, p);
        let p = _mm512_add_epi64(
            p,
            _mm512_sllv_epi64(one, _mm512_add_epi64(sh, _mm512_set1_epi64(14))),
        );
        let k = _mm512_srav_epi64(p, _mm512_add_epi64(sh, _mm512_set1_epi64(15)));
        let k = _mm512_max_epi64(_mm512_min_epi64(k, k32768), zero);
        _mm512_mask_blend_epi64(_mm512_cmpeq_epi64_mask(ov, zero), k, k32768)
    };

    let mut j = start;
    while j + 8 <= end {
        let (oh, ov, od) = (ld8q(o[0], j), ld8q(o[1], j), ld8q(o[2], j));
        let (th, tv, td) = (ld8q(t[0], j), ld8q(t[1], j), ld8q(t[2], j));
        let ot = _mm512_add_epi64(_mm512_mullo_epi64(oh, th), _mm512_mullo_epi64(ov, tv));
        let om = _mm512_add_epi64(_mm512_mullo_epi64(oh, oh), _mm512_mullo_epi64(ov, ov));
        let tm = _mm512_add_epi64(_mm512_mullo_epi64(th, th), _mm512_mullo_epi64(tv, tv));
        let fd = |v: __m512i| _mm512_mul_pd(_mm512_cvtps_pd(_mm512_cvtepi64_ps(v)), inv4096);
        let a = fd(ot);
        let rhs = _mm512_mul_pd(_mm512_mul_pd(cos1, fd(om)), fd(tm));
        let angle = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(a, _mm512_setzero_pd())
            & _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_mul_pd(a, a), rhs);

        let restore = |ov: __m512i, tv: __m512i| {
            let k = gain_k(ov, tv);
            let rst = _mm512_srai_epi64::<15>(_mm512_add_epi64(
                _mm512_mullo_epi64(k, ov),
                _mm512_set1_epi64(16384),
            ));
            let rst = sext32(rst);
            let act = angle & _mm512_cmpgt_epi64_mask(k, zero);
            let pos = act & _mm512_cmpgt_epi64_mask(ov, zero);
            let neg = act & _mm512_cmplt_epi64_mask(ov, zero);
            let gp = _mm512_mul_pd(_mm512_cvtepi64_pd(rst), g);
            let tp = _mm512_cvtepi64_pd(tv);
            let rst = _mm512_mask_blend_epi64(pos, rst, _mm512_cvttpd_epi64(_mm512_min_pd(gp, tp)));
            _mm512_mask_blend_epi64(neg, rst, _mm512_cvttpd_epi64(_mm512_max_pd(gp, tp)))
        };
        let rs = [restore(oh, th), restore(ov, tv), restore(od, td)];
        let ts = [th, tv, td];
        st8q(rh, j, rs[0]);
        st8q(rv, j, rs[1]);
        st8q(rd, j, rs[2]);
        let mut fs = zero;
        let mut cs = zero;
        for q in 0..3 {
            let a = sext32(_mm512_sub_epi64(ts[q], rs[q]));
            let c = _mm512_add_epi64(
                _mm512_mullo_epi64(_mm512_set1_epi64(rf[q] as i64), a),
                _mm512_set1_epi64(1 << 27),
            );
            let c = sext32(_mm512_srai_epi64::<28>(c));
            let ac = _mm512_abs_epi64(c);
            let rq = _mm512_set1_epi64(Q32_ROUND);
            let f30 =
                _mm512_add_epi64(_mm512_mullo_epi64(_mm512_set1_epi64(ONE_BY_30_Q32), ac), rq);
            let f15 =
                _mm512_add_epi64(_mm512_mullo_epi64(_mm512_set1_epi64(ONE_BY_15_Q32), ac), rq);
            fs = _mm512_add_epi64(fs, _mm512_srai_epi64::<32>(f30));
            cs = _mm512_add_epi64(cs, _mm512_srai_epi64::<32>(f15));
        }
        st8q(f, j, fs);
        st8q(dc, j, _mm512_sub_epi64(cs, fs));
        j += 8;
    }
    if j < end {
        scalar::decouple_s(o, t, gain, rf, [rh, rv, rd], f, dc, j, end);
    }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn cm_s_row_avx512(
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
    if lo >= hi {
        return scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, start, end);
    }
    let mut acc = scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, start, lo);
    let zero = _mm512_setzero_si512();
    let mut vacc = [zero; 3];
    let csh = _mm_cvtsi32_si128(cub_shift as i32);
    let cadd = _mm512_set1_epi64(cub_add);
    let mut j = lo;
    while j + 8 <= hi {
        let thr = _mm256_add_epi32(
            _mm256_add_epi32(load8_i32(vs, j - 1), load8_i32(vs, j)),
            _mm256_add_epi32(load8_i32(vs, j + 1), load8_i32(dc, j)),
        );
        let thr = _mm512_cvtepi32_epi64(thr);
        for q in 0..3 {
            let x = _mm512_add_epi64(
                _mm512_mullo_epi64(ld8q(r[q], j), _mm512_set1_epi64(rf[q] as i64)),
                _mm512_set1_epi64(1 << 27),
            );
            let x = sext32(_mm512_srai_epi64::<28>(x));
            let x = sext32(_mm512_sub_epi64(_mm512_abs_epi64(x), thr));
            let x = _mm512_max_epi64(x, zero);
            let sq = _mm512_srai_epi64::<30>(_mm512_add_epi64(
                _mm512_mullo_epi64(x, x),
                _mm512_set1_epi64(1 << 29),
            ));
            let sq = sext32(sq);
            let v = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mullo_epi64(sq, x), cadd), csh);
            vacc[q] = _mm512_add_epi64(vacc[q], v);
        }
        j += 8;
    }
    let tail = scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, j, end);
    for q in 0..3 {
        acc[q] = acc[q]
            .wrapping_add(_mm512_reduce_add_epi64(vacc[q]))
            .wrapping_add(tail[q]);
    }
    acc
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn dwt_s_horz_avx512(
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
    let add = _mm512_set1_epi64(S_ADD_HP[scale - 1]);
    let sh = _mm_cvtsi32_si128(S_SHIFT_HP[scale - 1] as i32);
    let c = |x: i32| _mm512_set1_epi64(x as i64);
    let (l0, l1, l2, l3) = (c(LO[0]), c(LO[1]), c(LO[2]), c(LO[3]));
    let (h0, h1, h2, h3) = (c(HI[0]), c(HI[1]), c(HI[2]), c(HI[3]));
    scalar::dwt_s_horz_range(lo, hi, ix, scale, a, v, h, d, 0, 1.min(half));
    // Output j reads 2j-1..2j+2: each i64 lane of a load at 2j-1 holds the pair (2j-1, 2j), of a
    // load at 2j+1 the pair (2j+1, 2j+2); _mm512_mul_epi32 takes a lane's low (signed) dword.
    let mut j = 1;
    while 2 * j + 17 <= w {
        let filt = |src: &[i32], c0, c1, c2, c3| {
            let x = _mm512_loadu_si512(src.as_ptr().add(2 * j - 1) as *const _);
            let y = _mm512_loadu_si512(src.as_ptr().add(2 * j + 1) as *const _);
            let s = _mm512_add_epi64(
                _mm512_add_epi64(
                    _mm512_mul_epi32(x, c0),
                    _mm512_mul_epi32(_mm512_srli_epi64::<32>(x), c1),
                ),
                _mm512_add_epi64(
                    _mm512_mul_epi32(y, c2),
                    _mm512_mul_epi32(_mm512_srli_epi64::<32>(y), c3),
                ),
            );
            _mm512_sra_epi64(_mm512_add_epi64(s, add), sh)
        };
        st8q(a, j, filt(lo, l0, l1, l2, l3));
        st8q(v, j, filt(lo, h0, h1, h2, h3));
        st8q(h, j, filt(hi, l0, l1, l2, l3));
        st8q(d, j, filt(hi, h0, h1, h2, h3));
        j += 8;
    }
    if j < half {
        scalar::dwt_s_horz_range(lo, hi, ix, scale, a, v, h, d, j, half);
    }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn dwt_s_vert_avx512(
    rows: [&[i32]; 4],
    scale: usize,
    lo: &mut [i32],
    hi: &mut [i32],
) {
    use super::super::kernels::{S_ADD_VP, S_SHIFT_VP};
    let w = lo.len();
    assert!(hi.len() == w && rows.iter().all(|r| r.len() >= w));
    let add = _mm512_set1_epi64(S_ADD_VP[scale - 1]);
    let sh = _mm_cvtsi32_si128(S_SHIFT_VP[scale - 1] as i32);
    let c = |x: i32| _mm512_set1_epi64(x as i64);
    let l = [c(LO[0]), c(LO[1]), c(LO[2]), c(LO[3])];
    let hh = [c(HI[0]), c(HI[1]), c(HI[2]), c(HI[3])];
    let mut j = 0;
    while j + 8 <= w {
        let s = [
            ld8q(rows[0], j),
            ld8q(rows[1], j),
            ld8q(rows[2], j),
            ld8q(rows[3], j),
        ];
        let filt = |cf: &[__m512i; 4]| {
            let mut acc = add;
            for k in 0..4 {
                acc = _mm512_add_epi64(acc, _mm512_mul_epi32(s[k], cf[k]));
            }
            _mm512_sra_epi64(acc, sh)
        };
        st8q(lo, j, filt(&l));
        st8q(hi, j, filt(&hh));
        j += 8;
    }
    scalar::dwt_s_vert_range(rows, scale, lo, hi, j);
}

/// Σ|x|³ of one row of i16 band values (libvmaf `adm_csf_den_scale`'s inner sum).
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn cube_sum_i16_avx512(x: &[i16]) -> u64 {
    let mut acc = _mm512_setzero_si512();
    let mut j = 0;
    while j + 8 <= x.len() {
        let a = _mm512_cvtepu32_epi64(_mm256_abs_epi32(_mm256_cvtepi16_epi32(_mm_loadu_si128(
            x.as_ptr().add(j) as *const __m128i,
        ))));
        acc = _mm512_add_epi64(acc, _mm512_mullo_epi64(_mm512_mul_epu32(a, a), a));
        j += 8;
    }
    let mut s = _mm512_reduce_add_epi64(acc) as u64;
    for &v in &x[j..] {
        let a = (v as i32).unsigned_abs() as u64;
        s += a * a * a;
    }
    s
}

/// [`decouple0_avx2`] on 16 pixels per 512-bit vector.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn decouple0_avx512(
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
    assert!(end <= f.len() && end <= dc.len());
    assert!(o.iter().chain(t.iter()).all(|b| b.len() >= end));
    assert!(rh.len() >= end && rv.len() >= end && rd.len() >= end);
    if !(gain.fract() == 0.0 && (1.0..=32767.0).contains(&gain)) {
        return scalar::decouple0(o, t, gain, rf, [rh, rv, rd], f, dc, start, end);
    }
    let g = _mm512_set1_epi32(gain as i32);
    let zero = _mm512_setzero_si512();
    let cos1 = _mm512_set1_pd(cos_1deg_sq() as f64);
    let inv4096 = _mm512_set1_pd(1.0 / 4096.0);
    let k32768 = _mm512_set1_epi32(32768);
    let k32768_64 = _mm512_set1_epi64(32768);
    let r16384_64 = _mm512_set1_epi64(16384);
    let r16384 = _mm512_set1_epi32(16384);
    let r2048 = _mm512_set1_epi32(2048);
    let lut = DIV_LOOKUP.as_ptr();
    let ld = |b: &[i16], j: usize| {
        _mm512_cvtepi16_epi32(_mm256_loadu_si256(b.as_ptr().add(j) as *const __m256i))
    };
    let st = |b: &mut [i16], j: usize, v: __m512i| {
        _mm256_storeu_si256(
            b.as_mut_ptr().add(j) as *mut __m256i,
            _mm512_cvtepi32_epi16(v),
        )
    };
    let sx16 = |v: __m512i| _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(v));

    let gain_k = |ov: __m512i, tv: __m512i| {
        let lk = _mm512_i32gather_epi32::<4>(_mm512_add_epi32(ov, k32768), lut);
        let half = |l: __m512i, t: __m512i| {
            let p = _mm512_add_epi64(_mm512_mul_epi32(l, t), r16384_64);
            let q = _mm512_srai_epi64::<15>(p);
            _mm512_max_epi64(_mm512_min_epi64(q, k32768_64), zero)
        };
        let e = half(lk, tv);
        let od = half(_mm512_srli_epi64::<32>(lk), _mm512_srli_epi64::<32>(tv));
        let k = _mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64::<32>(od));
        _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(ov, zero), k, k32768)
    };

    let mut j = start;
    while j + 16 <= end {
        let (oh, ov, od) = (ld(o[0], j), ld(o[1], j), ld(o[2], j));
        let (th, tv, td) = (ld(t[0], j), ld(t[1], j), ld(t[2], j));
        let ot = _mm512_add_epi32(_mm512_mullo_epi32(oh, th), _mm512_mullo_epi32(ov, tv));
        let om = _mm512_add_epi32(_mm512_mullo_epi32(oh, oh), _mm512_mullo_epi32(ov, ov));
        let tm = _mm512_add_epi32(_mm512_mullo_epi32(th, th), _mm512_mullo_epi32(tv, tv));
        let (otf, omf, tmf) = (
            _mm512_cvtepi32_ps(ot),
            _mm512_cvtepi32_ps(om),
            _mm512_cvtepi32_ps(tm),
        );
        let cmp_half = |hi: bool| {
            let ext = |v: __m512| {
                let h = if hi {
                    _mm512_extractf32x8_ps::<1>(v)
                } else {
                    _mm512_castps512_ps256(v)
                };
                _mm512_mul_pd(_mm512_cvtps_pd(h), inv4096)
            };
            let a = ext(otf);
            let rhs = _mm512_mul_pd(_mm512_mul_pd(cos1, ext(omf)), ext(tmf));
            _mm512_cmp_pd_mask::<_CMP_GE_OQ>(a, _mm512_setzero_pd())
                & _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_mul_pd(a, a), rhs)
        };
        let angle: __mmask16 = cmp_half(false) as u16 | ((cmp_half(true) as u16) << 8);

        let restore = |ov: __m512i, tv: __m512i| {
            let k = gain_k(ov, tv);
            let rst = _mm512_srai_epi32::<15>(_mm512_add_epi32(_mm512_mullo_epi32(k, ov), r16384));
            let act = angle & _mm512_cmpgt_epi32_mask(k, zero);
            let pos = act & _mm512_cmpgt_epi32_mask(ov, zero);
            let neg = act & _mm512_cmplt_epi32_mask(ov, zero);
            let gr = _mm512_mullo_epi32(rst, g);
            let rst = _mm512_mask_blend_epi32(pos, rst, _mm512_min_epi32(gr, tv));
            _mm512_mask_blend_epi32(neg, rst, _mm512_max_epi32(gr, tv))
        };
        let rs = [restore(oh, th), restore(ov, tv), restore(od, td)];
        let ts = [th, tv, td];
        st(rh, j, rs[0]);
        st(rv, j, rs[1]);
        st(rd, j, rs[2]);
        let mut fs = zero;
        let mut cs = zero;
        for q in 0..3 {
            let a = sx16(_mm512_sub_epi32(ts[q], rs[q]));
            let c = _mm512_add_epi32(
                _mm512_mullo_epi32(_mm512_set1_epi32(rf[q]), a),
                _mm512_set1_epi32(CSF0_ADD[q]),
            );
            let c = sx16(_mm512_sra_epi32(c, _mm_cvtsi32_si128(CSF0_SHIFT[q] as i32)));
            let ac = _mm512_abs_epi32(c);
            let f30 = _mm512_mullo_epi32(_mm512_set1_epi32(ONE_BY_30_Q12), ac);
            let f15 = _mm512_mullo_epi32(_mm512_set1_epi32(ONE_BY_15_Q12), ac);
            fs = _mm512_add_epi32(
                fs,
                sx16(_mm512_srai_epi32::<12>(_mm512_add_epi32(f30, r2048))),
            );
            cs = _mm512_add_epi32(
                cs,
                sx16(_mm512_srai_epi32::<12>(_mm512_add_epi32(f15, r2048))),
            );
        }
        _mm512_storeu_si512(f.as_mut_ptr().add(j) as *mut _, fs);
        _mm512_storeu_si512(dc.as_mut_ptr().add(j) as *mut _, _mm512_sub_epi32(cs, fs));
        j += 16;
    }
    if j < end {
        decouple0_avx2(o, t, gain, rf, [rh, rv, rd], f, dc, j, end);
    }
}

/// [`dwt0_vert_avx2`] on 32 samples per 512-bit vector.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn dwt0_vert_avx512<S: Sample>(
    rows: [&[S]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: &mut [i16],
) {
    let w = lo.len();
    assert!(hi.len() == w && rows.iter().all(|r| r.len() >= w));
    let sh = _mm_cvtsi32_si128(bit_depth as i32);
    let add = 1i32 << (bit_depth - 1);
    let l01 = _mm512_set1_epi32(pair(LO[0], LO[1]));
    let l23 = _mm512_set1_epi32(pair(LO[2], LO[3]));
    let h01 = _mm512_set1_epi32(pair(HI[0], HI[1]));
    let h23 = _mm512_set1_epi32(pair(HI[2], HI[3]));
    let add_l = _mm512_set1_epi32(add - LO_SUM * add);
    let add_h = _mm512_set1_epi32(add);
    let mut j = 0;
    while j + 32 <= w {
        let ld = |r: &[S]| S::Simd::load32(r.as_ptr().add(j));
        let (s0, s1, s2, s3) = (ld(rows[0]), ld(rows[1]), ld(rows[2]), ld(rows[3]));
        let p01l = _mm512_unpacklo_epi16(s0, s1);
        let p01h = _mm512_unpackhi_epi16(s0, s1);
        let p23l = _mm512_unpacklo_epi16(s2, s3);
        let p23h = _mm512_unpackhi_epi16(s2, s3);
        let f = |c01: __m512i, c23: __m512i, a: __m512i| {
            let x = _mm512_add_epi32(_mm512_madd_epi16(p01l, c01), _mm512_madd_epi16(p23l, c23));
            let y = _mm512_add_epi32(_mm512_madd_epi16(p01h, c01), _mm512_madd_epi16(p23h, c23));
            let x = _mm512_sra_epi32(_mm512_add_epi32(x, a), sh);
            let y = _mm512_sra_epi32(_mm512_add_epi32(y, a), sh);
            _mm512_packs_epi32(x, y)
        };
        _mm512_storeu_si512(lo.as_mut_ptr().add(j) as *mut _, f(l01, l23, add_l));
        _mm512_storeu_si512(hi.as_mut_ptr().add(j) as *mut _, f(h01, h23, add_h));
        j += 32;
    }
    dwt0_vert_avx2(
        [&rows[0][j..], &rows[1][j..], &rows[2][j..], &rows[3][j..]],
        bit_depth,
        &mut lo[j..],
        &mut hi[j..],
    );
}

/// [`dwt0_horz_avx2`] on 16 outputs per 512-bit vector.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub(super) unsafe fn dwt0_horz_avx512(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    let w = lo.len();
    let half = ix.len();
    assert!(hi.len() == w && a.len() >= half && v.len() >= half && h.len() >= half);
    assert!(d.len() >= half && half == w.div_ceil(2));
    let l01 = _mm512_set1_epi32(pair(LO[0], LO[1]));
    let l23 = _mm512_set1_epi32(pair(LO[2], LO[3]));
    let h01 = _mm512_set1_epi32(pair(HI[0], HI[1]));
    let h23 = _mm512_set1_epi32(pair(HI[2], HI[3]));
    let rnd = _mm512_set1_epi32(32768);
    scalar::dwt0_horz_range(lo, hi, ix, a, v, h, d, 0, 1.min(half));
    let st = |b: &mut [i16], j: usize, x: __m512i| {
        _mm256_storeu_si256(
            b.as_mut_ptr().add(j) as *mut __m256i,
            _mm512_cvtepi32_epi16(x),
        )
    };
    let mut j = 1;
    while 2 * j + 33 <= w {
        let ld = |b: &[i16], k: usize| _mm512_loadu_si512(b.as_ptr().add(k) as *const _);
        let (x, y) = (ld(lo, 2 * j - 1), ld(lo, 2 * j + 1));
        let (xh, yh) = (ld(hi, 2 * j - 1), ld(hi, 2 * j + 1));
        let f = |x: __m512i, y: __m512i, c01: __m512i, c23: __m512i| {
            let s = _mm512_add_epi32(_mm512_madd_epi16(x, c01), _mm512_madd_epi16(y, c23));
            _mm512_srai_epi32::<16>(_mm512_add_epi32(s, rnd))
        };
        _mm512_storeu_si512(a.as_mut_ptr().add(j) as *mut _, f(x, y, l01, l23));
        st(v, j, f(x, y, h01, h23));
        st(h, j, f(xh, yh, l01, l23));
        st(d, j, f(xh, yh, h01, h23));
        j += 16;
    }
    dwt0_horz_avx2_from(lo, hi, ix, a, v, h, d, j);
}

// Safe entry points: only reachable through `KERNELS`, which `Kernels::for_level` hands out only
// when the CPU has AVX-512 F/VL/DQ/BW (and so AVX2, for the AVX2 entries).

fn dwt0_vert<S: Sample>(rows: [&[S]; 4], bit_depth: u8, lo: &mut [i16], hi: &mut [i16]) {
    // SAFETY: AVX-512 F/VL/DQ/BW are present (only reachable through the AVX-512 table, see
    // above); the kernel asserts the row and output lengths its loads and stores rely on.
    unsafe { dwt0_vert_avx512(rows, bit_depth, lo, hi) }
}

fn dwt0_horz(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { dwt0_horz_avx512(lo, hi, ix, a, v, h, d) }
}

fn dwt_s_vert(rows: [&[i32]; 4], scale: usize, lo: &mut [i32], hi: &mut [i32]) {
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { dwt_s_vert_avx512(rows, scale, lo, hi) }
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
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { dwt_s_horz_avx512(lo, hi, ix, scale, a, v, h, d) }
}

fn decouple0(
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
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { decouple0_avx512(o, t, gain, rf, r, f, dc, start, end) }
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
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { decouple_s_avx512(o, t, gain, rf, r, f, dc, start, end) }
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
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel asserts the lengths.
    unsafe { cm_s_row_avx512(r, vs, dc, rf, cub_shift, cub_add, start, end) }
}

fn cube_sum_i16(x: &[i16]) -> u64 {
    // SAFETY: AVX-512 is present (AVX-512 table only); the kernel reads within `x`.
    unsafe { cube_sum_i16_avx512(x) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx512,
    dwt0_vert: dwt0_vert::<u16>,
    dwt0_vert8: dwt0_vert::<u8>,
    dwt0_horz,
    dwt_s_vert,
    dwt_s_horz,
    decouple0,
    cm0_row: avx2::cm0_row,
    decouple_s,
    cm_s_row,
    cube_sum_i16,
};

#[cfg(test)]
mod tests512 {
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
        fn range(&mut self, lo: i64, hi: i64) -> i32 {
            (lo + (self.next() % (hi - lo + 1) as u64) as i64) as i32
        }
        /// Scale 1..3 band-like values: zeros, small, and large (past the 2^15 best15 switch).
        fn band(&mut self, n: usize) -> Vec<i32> {
            (0..n)
                .map(|_| match self.next() % 6 {
                    0 => 0,
                    1 => self.range(-(1 << 28), 1 << 28),
                    2 => self.range(-70000, 70000),
                    _ => self.range(-3000, 3000),
                })
                .collect()
        }
    }

    /// The Avx512 table, or `None` after reporting the test as skipped.
    fn table(test: &str) -> Option<Kernels> {
        crate::kernels::table_at(test, CpuLevel::Avx512, Kernels::for_level, |k| k.level)
    }

    /// The table under test (each test first checks with [`table`] that it is the Avx512 one).
    fn k() -> Kernels {
        Kernels::for_level(CpuLevel::Avx512)
    }

    macro_rules! widths_test {
        ($name:ident, |$rng:ident, $w:ident| $body:block) => {
            #[test]
            fn $name() {
                if table(stringify!($name)).is_none() {
                    return;
                }
                let mut $rng = Rng(0x0fed_cba9_8765_4321);
                for $w in [1usize, 2, 7, 8, 9, 17, 18, 33, 34, 100, 361] {
                    for _ in 0..4 $body
                }
            }
        };
    }

    widths_test!(dwt_s_horz_matches_scalar, |rng, w| {
        for scale in 1..=3 {
            let lo = rng.band(w);
            let hi = rng.band(w);
            let ix = super::super::super::mirror_indices(w);
            let n = ix.len();
            let mut o1 = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            let mut o2 = o1.clone();
            scalar::dwt_s_horz(
                &lo, &hi, &ix, scale, &mut o1.0, &mut o1.1, &mut o1.2, &mut o1.3,
            );
            (k().dwt_s_horz)(
                &lo, &hi, &ix, scale, &mut o2.0, &mut o2.1, &mut o2.2, &mut o2.3,
            );
            assert_eq!(o1, o2, "w {w} scale {scale}");
        }
    });

    widths_test!(dwt_s_vert_avx512_matches_scalar, |rng, w| {
        for scale in 1..=3 {
            let rows: Vec<Vec<i32>> = (0..4).map(|_| rng.band(w)).collect();
            let rr = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (mut l1, mut h1, mut l2, mut h2) = (vec![0; w], vec![0; w], vec![0; w], vec![0; w]);
            scalar::dwt_s_vert(rr, scale, &mut l1, &mut h1);
            (k().dwt_s_vert)(rr, scale, &mut l2, &mut h2);
            assert_eq!((l1, h1), (l2, h2), "w {w} scale {scale}");
        }
    });

    widths_test!(decouple0_avx512_matches_scalar, |rng, w| {
        for gain in [1.0, 100.0] {
            let small = |rng: &mut Rng| -> Vec<i16> {
                (0..w)
                    .map(|_| match rng.next() % 8 {
                        0 => 0,
                        1 => rng.range(-27000, 27000) as i16,
                        _ => rng.range(-300, 300) as i16,
                    })
                    .collect()
            };
            let o: Vec<Vec<i16>> = (0..3).map(|_| small(&mut rng)).collect();
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

    widths_test!(dwt0_avx512_matches_scalar, |rng, w| {
        for bd in [8u8, 10] {
            let max = (1i64 << bd) - 1;
            let w2 = 2 * w + 3;
            let rows: Vec<Vec<u16>> = (0..4)
                .map(|_| (0..w2).map(|_| rng.range(0, max) as u16).collect())
                .collect();
            let rr = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (mut l1, mut h1, mut l2, mut h2) =
                (vec![0; w2], vec![0; w2], vec![0; w2], vec![0; w2]);
            scalar::dwt0_vert(rr, bd, &mut l1, &mut h1);
            (k().dwt0_vert)(rr, bd, &mut l2, &mut h2);
            assert_eq!((&l1, &h1), (&l2, &h2), "vert w {w2} bd {bd}");
            if bd == 8 {
                let b: Vec<Vec<u8>> = rows
                    .iter()
                    .map(|r| r.iter().map(|&x| x as u8).collect())
                    .collect();
                let rb = [&b[0][..], &b[1][..], &b[2][..], &b[3][..]];
                (k().dwt0_vert8)(rb, bd, &mut l2, &mut h2);
                assert_eq!((&l1, &h1), (&l2, &h2), "bytes w {}", l1.len());
            }
            let ix = super::super::super::mirror_indices(w2);
            let n = ix.len();
            let mut o1 = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            let mut o2 = o1.clone();
            scalar::dwt0_horz(&l1, &h1, &ix, &mut o1.0, &mut o1.1, &mut o1.2, &mut o1.3);
            (k().dwt0_horz)(&l1, &h1, &ix, &mut o2.0, &mut o2.1, &mut o2.2, &mut o2.3);
            assert_eq!(o1, o2, "horz w {w2}");
        }
    });

    widths_test!(cube_sum_matches_scalar, |rng, w| {
        let x: Vec<i16> = (0..w).map(|_| rng.range(-32768, 32767) as i16).collect();
        let want: u64 = x
            .iter()
            .map(|&v| (v as i32).unsigned_abs() as u64)
            .map(|a| a * a * a)
            .sum();
        assert_eq!(want, (k().cube_sum_i16)(&x), "w {w}");
    });

    widths_test!(decouple_s_matches_scalar, |rng, w| {
        for gain in [1.0, 100.0, 1.7] {
            let o: Vec<Vec<i32>> = (0..3).map(|_| rng.band(w)).collect();
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
            let rf = [1_000_000_000u32, 1_000_000_000, 700_000_000];
            let run = |simd: bool| {
                let (mut rh, mut rv, mut rd) = (vec![0i32; w], vec![0i32; w], vec![0i32; w]);
                let (mut f, mut dc) = (vec![0i32; w], vec![0i32; w]);
                let oo = [&o[0][..], &o[1][..], &o[2][..]];
                let tt = [&t[0][..], &t[1][..], &t[2][..]];
                let start = w.min(1);
                if simd {
                    (k().decouple_s)(
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
                    scalar::decouple_s(
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

    widths_test!(cm_s_row_matches_scalar, |rng, w| {
        if w < 2 {
            continue;
        }
        let r: Vec<Vec<i32>> = (0..3).map(|_| rng.band(w)).collect();
        let vs: Vec<i32> = (0..w).map(|_| rng.range(0, 30000)).collect();
        let dc: Vec<i32> = (0..w).map(|_| rng.range(0, 10000)).collect();
        let rf = [1_000_000_000u32, 1_000_000_000, 700_000_000];
        let rr = [&r[0][..], &r[1][..], &r[2][..]];
        for (s, e) in [(0, w), (w / 10, w - w / 10), (1, w - 1)] {
            for (cs, ca) in [(9u32, 256i64), (0, 0)] {
                let a = scalar::cm_s_row(rr, &vs, &dc, &rf, cs, ca, s, e);
                let b = (k().cm_s_row)(rr, &vs, &dc, &rf, cs, ca, s, e);
                assert_eq!(a, b, "w {w} range {s}..{e}");
            }
        }
    });
}
