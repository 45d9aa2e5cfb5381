//! The scalar ADM kernels, bit-exact with libvmaf's C: always compiled, the reference every SIMD
//! kernel is tested against, and the table entries of every level without a SIMD twin.
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]

use super::kernels::*;
use super::Kernels;
use crate::cpu::CpuLevel;
use crate::frame::Sample;

/// Scale 0 vertical pass for one output row: `rows` are the 4 source rows.
pub(crate) fn dwt0_vert<S: Sample>(rows: [&[S]; 4], bit_depth: u8, lo: &mut [i16], hi: &mut [i16]) {
    dwt0_vert_range(rows, bit_depth, lo, hi, 0);
}

pub(crate) fn dwt0_vert_range<S: Sample>(
    rows: [&[S]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: &mut [i16],
    start: usize,
) {
    let sh = bit_depth as u32;
    let add = 1i32 << (sh - 1);
    let off = LO_SUM * add;
    for j in start..lo.len() {
        let s: [i32; 4] = std::array::from_fn(|k| rows[k][j].into());
        let l = LO[0] * s[0] + LO[1] * s[1] + LO[2] * s[2] + LO[3] * s[3] - off;
        let h = HI[0] * s[0] + HI[1] * s[1] + HI[2] * s[2] + HI[3] * s[3];
        lo[j] = ((l + add) >> sh) as i16;
        hi[j] = ((h + add) >> sh) as i16;
    }
}

#[inline(always)]
fn f4_16(c: &[i32; 4], r: &[i16], ix: &[usize; 4]) -> i16 {
    let acc = c[0] * r[ix[0]] as i32
        + c[1] * r[ix[1]] as i32
        + c[2] * r[ix[2]] as i32
        + c[3] * r[ix[3]] as i32;
    ((acc + 32768) >> 16) as i16
}

/// Scale 0 horizontal pass: band_a (widened to i32), band_v, band_h, band_d.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dwt0_horz(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    dwt0_horz_range(lo, hi, ix, a, v, h, d, 0, ix.len());
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn dwt0_horz_range(
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
    start: usize,
    end: usize,
) {
    for j in start..end {
        let k = &ix[j];
        a[j] = f4_16(&LO, lo, k) as i32;
        v[j] = f4_16(&HI, lo, k);
        h[j] = f4_16(&LO, hi, k);
        d[j] = f4_16(&HI, hi, k);
    }
}

/// Scales 1..3 vertical pass.
pub(crate) fn dwt_s_vert(rows: [&[i32]; 4], scale: usize, lo: &mut [i32], hi: &mut [i32]) {
    dwt_s_vert_range(rows, scale, lo, hi, 0);
}

pub(crate) fn dwt_s_vert_range(
    rows: [&[i32]; 4],
    scale: usize,
    lo: &mut [i32],
    hi: &mut [i32],
    start: usize,
) {
    let add = S_ADD_VP[scale - 1];
    let sh = S_SHIFT_VP[scale - 1];
    for j in start..lo.len() {
        let s = [
            rows[0][j] as i64,
            rows[1][j] as i64,
            rows[2][j] as i64,
            rows[3][j] as i64,
        ];
        let l =
            LO[0] as i64 * s[0] + LO[1] as i64 * s[1] + LO[2] as i64 * s[2] + LO[3] as i64 * s[3];
        let h =
            HI[0] as i64 * s[0] + HI[1] as i64 * s[1] + HI[2] as i64 * s[2] + HI[3] as i64 * s[3];
        lo[j] = ((l + add) >> sh) as i32;
        hi[j] = ((h + add) >> sh) as i32;
    }
}

#[inline(always)]
fn f4_32(c: &[i32; 4], r: &[i32], ix: &[usize; 4], add: i64, sh: u32) -> i32 {
    let acc = c[0] as i64 * r[ix[0]] as i64
        + c[1] as i64 * r[ix[1]] as i64
        + c[2] as i64 * r[ix[2]] as i64
        + c[3] as i64 * r[ix[3]] as i64;
    ((acc + add) >> sh) as i32
}

/// Scales 1..3 horizontal pass.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dwt_s_horz(
    lo: &[i32],
    hi: &[i32],
    ix: &[[usize; 4]],
    scale: usize,
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
) {
    dwt_s_horz_range(lo, hi, ix, scale, a, v, h, d, 0, ix.len());
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn dwt_s_horz_range(
    lo: &[i32],
    hi: &[i32],
    ix: &[[usize; 4]],
    scale: usize,
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
    start: usize,
    end: usize,
) {
    let add = S_ADD_HP[scale - 1];
    let sh = S_SHIFT_HP[scale - 1];
    for j in start..end {
        let k = &ix[j];
        a[j] = f4_32(&LO, lo, k, add, sh);
        v[j] = f4_32(&HI, lo, k, add, sh);
        h[j] = f4_32(&LO, hi, k, add, sh);
        d[j] = f4_32(&HI, hi, k, add, sh);
    }
}

/// The "angle between (oh,ov) and (th,tv) below 1°" test, in libvmaf's float/double mix.
#[inline(always)]
pub(crate) fn angle_flag(ot_dp: i64, o_mag_sq: i64, t_mag_sq: i64, cos1: f32) -> bool {
    let a = (ot_dp as f32) as f64 / 4096.0;
    a >= 0.0
        && a * a
            >= cos1 as f64
                * ((o_mag_sq as f32) as f64 / 4096.0)
                * ((t_mag_sq as f32) as f64 / 4096.0)
}

/// Restored part of one scale-0 band sample given its gain k (Q15).
#[inline(always)]
fn restore16(k: i32, o: i16, t: i16, angle: bool, gain: f64) -> i16 {
    let mut rst = ((k * o as i32 + 16384) >> 15) as i16;
    if angle && k > 0 && o != 0 {
        let g = rst as f64 * gain;
        let tf = t as f64;
        rst = if o > 0 {
            (if g < tf { g } else { tf }) as i16
        } else {
            (if g > tf { g } else { tf }) as i16
        };
    }
    rst
}

#[inline(always)]
fn k16(o: i16, t: i16) -> i32 {
    if o == 0 {
        32768
    } else {
        let k = ((DIV_LOOKUP[(o as i32 + 32768) as usize] as i64 * t as i64 + 16384) >> 15) as i32;
        k.clamp(0, 32768)
    }
}

/// Scale 0 decoupling + CSF of one row range: writes the restored bands (`r*`), the
/// per-pixel sum over orientations of the masking filter |csf(a)|/30 (`f`), and the
/// centre correction |csf(a)|/15 − |csf(a)|/30 (`dc`), so the masking threshold is the 3×3
/// box sum of `f` plus `dc`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decouple0(
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
    let cos1 = cos_1deg_sq();
    let [rh, rv, rd] = r;
    for j in start..end {
        let (oh, ov, od) = (o[0][j], o[1][j], o[2][j]);
        let (th, tv, td) = (t[0][j], t[1][j], t[2][j]);
        let ot_dp = oh as i64 * th as i64 + ov as i64 * tv as i64;
        let o_mag = oh as i64 * oh as i64 + ov as i64 * ov as i64;
        let t_mag = th as i64 * th as i64 + tv as i64 * tv as i64;
        let angle = angle_flag(ot_dp, o_mag, t_mag, cos1);
        let r3 = [
            restore16(k16(oh, th), oh, th, angle, gain),
            restore16(k16(ov, tv), ov, tv, angle, gain),
            restore16(k16(od, td), od, td, angle, gain),
        ];
        rh[j] = r3[0];
        rv[j] = r3[1];
        rd[j] = r3[2];
        let a3 = [
            (th as i32 - r3[0] as i32) as i16,
            (tv as i32 - r3[1] as i32) as i16,
            (td as i32 - r3[2] as i32) as i16,
        ];
        let (mut fs, mut cs) = (0i32, 0i32);
        for q in 0..3 {
            let c = ((rf[q] * a3[q] as i32 + CSF0_ADD[q]) >> CSF0_SHIFT[q]) as i16;
            let ac = (c as i32).abs();
            fs += ((ONE_BY_30_Q12 * ac + 2048) >> 12) as i16 as i32;
            cs += ((ONE_BY_15_Q12 * ac + 2048) >> 12) as i16 as i32;
        }
        f[j] = fs;
        dc[j] = cs - fs;
    }
}

/// libvmaf's `get_best15_from32`: the top 15 significant bits and the shift dropped.
#[inline(always)]
fn best15(v: u32) -> (u32, u32) {
    let k = 17 - v.leading_zeros();
    (((v + (1 << (k - 1))) >> k) as u16 as u32, k)
}

#[inline(always)]
fn k32(o: i32, t: i32) -> i64 {
    if o == 0 {
        return 32768;
    }
    let ao = o.unsigned_abs();
    let (m, sh) = if ao < 32768 { (ao, 0) } else { best15(ao) };
    let sign: i64 = if o < 0 { -1 } else { 1 };
    let k = ((DIV_LOOKUP[(m + 32768) as usize] as i64 * t as i64) * sign + (1i64 << (14 + sh)))
        >> (15 + sh);
    k.clamp(0, 32768)
}

#[inline(always)]
fn restore32(k: i64, o: i32, t: i32, angle: bool, gain: f64) -> i32 {
    let mut rst = ((k * o as i64 + 16384) >> 15) as i32;
    if angle && k > 0 && o != 0 {
        let g = rst as f64 * gain;
        let tf = t as f64;
        rst = if o > 0 {
            (if g < tf { g } else { tf }) as i32
        } else {
            (if g > tf { g } else { tf }) as i32
        };
    }
    rst
}

/// Scales 1..3 decoupling + CSF (see [`decouple0`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decouple_s(
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
    let cos1 = cos_1deg_sq();
    let [rh, rv, rd] = r;
    for j in start..end {
        let (oh, ov, od) = (o[0][j], o[1][j], o[2][j]);
        let (th, tv, td) = (t[0][j], t[1][j], t[2][j]);
        let ot_dp = (oh as i64 * th as i64).wrapping_add(ov as i64 * tv as i64);
        let o_mag = (oh as i64 * oh as i64).wrapping_add(ov as i64 * ov as i64);
        let t_mag = (th as i64 * th as i64).wrapping_add(tv as i64 * tv as i64);
        let angle = angle_flag(ot_dp, o_mag, t_mag, cos1);
        let r3 = [
            restore32(k32(oh, th), oh, th, angle, gain),
            restore32(k32(ov, tv), ov, tv, angle, gain),
            restore32(k32(od, td), od, td, angle, gain),
        ];
        rh[j] = r3[0];
        rv[j] = r3[1];
        rd[j] = r3[2];
        let a3 = [
            th.wrapping_sub(r3[0]),
            tv.wrapping_sub(r3[1]),
            td.wrapping_sub(r3[2]),
        ];
        let (mut fs, mut cs) = (0i32, 0i32);
        for q in 0..3 {
            let c = ((rf[q] as i64 * a3[q] as i64 + (1 << 27)) >> 28) as i32;
            let ac = c.wrapping_abs() as i64;
            fs = fs.wrapping_add(((ONE_BY_30_Q32 * ac + Q32_ROUND) >> 32) as i32);
            cs = cs.wrapping_add(((ONE_BY_15_Q32 * ac + Q32_ROUND) >> 32) as i32);
        }
        f[j] = fs;
        dc[j] = cs.wrapping_sub(fs);
    }
}

/// Per-scale constants of the scale-0 masking accumulation (libvmaf `adm_cm`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cm0 {
    pub rf: [i32; 3],
    pub sub: [u32; 3],
    pub sq_shift: [u32; 3],
    pub sq_add: [i64; 3],
    pub cub_shift: [u32; 3],
    pub cub_add: [i64; 3],
}

/// One row of scale-0 masking: for each j in [start, end), the threshold is
/// `vs[j-1] + vs[j] + vs[j+1] + dc[j]` (columns reflected at 0 and w-1 as libvmaf does) and
/// the restored bands above it are cubed and summed. Returns the h, v, d row sums.
pub(crate) fn cm0_row(
    r: [&[i16]; 3],
    vs: &[i32],
    dc: &[i32],
    c: &Cm0,
    start: usize,
    end: usize,
) -> [i64; 3] {
    let w = vs.len();
    let mut acc = [0i64; 3];
    for j in start..end {
        let l = if j == 0 { 1 } else { j - 1 };
        let rr = if j + 1 == w { w - 1 } else { j + 1 };
        let thr = vs[l]
            .wrapping_add(vs[j])
            .wrapping_add(vs[rr])
            .wrapping_add(dc[j]);
        for q in 0..3 {
            let x = (r[q][j] as i32).wrapping_mul(c.rf[q]).wrapping_abs();
            let x = x.wrapping_sub(thr.wrapping_shl(c.sub[q])).max(0);
            let x_sq = ((x as i64 * x as i64 + c.sq_add[q]) >> c.sq_shift[q]) as i32;
            acc[q] += (x_sq as i64 * x as i64 + c.cub_add[q]) >> c.cub_shift[q];
        }
    }
    acc
}

/// One row of scales 1..3 masking (libvmaf `i4_adm_cm`); see [`cm0_row`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn cm_s_row(
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
    let mut acc = [0i64; 3];
    for j in start..end {
        let l = if j == 0 { 1 } else { j - 1 };
        let rr = if j + 1 == w { w - 1 } else { j + 1 };
        let thr = vs[l]
            .wrapping_add(vs[j])
            .wrapping_add(vs[rr])
            .wrapping_add(dc[j]);
        for q in 0..3 {
            let x = ((r[q][j] as i64 * rf[q] as i64 + (1 << 27)) >> 28) as i32;
            let x = x.wrapping_abs().wrapping_sub(thr).max(0);
            let x_sq = ((x as i64 * x as i64 + (1 << 29)) >> 30) as i32;
            acc[q] += (x_sq as i64 * x as i64 + cub_add) >> cub_shift;
        }
    }
    acc
}

/// Σ|x|³ over a row of i16 band values.
pub(crate) fn cube_sum_i16(x: &[i16]) -> u64 {
    x.iter()
        .map(|&v| (v as i32).unsigned_abs() as u64)
        .map(|a| a * a * a)
        .sum()
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
    dwt0_vert: dwt0_vert::<u16>,
    dwt0_vert8: dwt0_vert::<u8>,
    dwt0_horz,
    dwt_s_vert,
    dwt_s_horz,
    decouple0,
    cm0_row,
    decouple_s,
    cm_s_row,
    cube_sum_i16,
};
