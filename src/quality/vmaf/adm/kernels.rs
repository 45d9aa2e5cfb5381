//! ADM kernels: the always-compiled scalar reference (`scalar`), the per-scale drivers, and the
//! dispatch to the x86 SIMD twins by [`CpuLevel`].
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]

use super::{
    filter_region, pool, pool_region, rfactor_s123, rfactor_scale0, AdmParams, Bands, Region,
};
use crate::cpu::CpuLevel;

/// db2 analysis filters in Q15 (libvmaf `dwt2_db2_coeffs_lo/hi`) and the low-pass sum used to
/// centre unsigned input.
pub const LO: [i32; 4] = [15826, 27411, 7345, -4240];
pub const HI: [i32; 4] = [-4240, -7345, 27411, -15826];
pub const LO_SUM: i32 = 46342;

/// Vertical/horizontal rounding and shifts of scales 1..3 (libvmaf `adm_dwt2_s123_combined`).
pub const S_ADD_VP: [i64; 3] = [0, 32768, 32768];
pub const S_SHIFT_VP: [u32; 3] = [0, 16, 16];
pub const S_ADD_HP: [i64; 3] = [16384, 32768, 16384];
pub const S_SHIFT_HP: [u32; 3] = [15, 16, 15];

/// Masking constants: 1/30 and 1/15 in Q12 (scale 0, `FIX_ONE_BY_30`, `ONE_BY_15`) and Q32
/// (scales 1..3, `I4_ONE_BY_15`).
pub const ONE_BY_30_Q12: i32 = 4369;
pub const ONE_BY_15_Q12: i32 = 8738;
pub const ONE_BY_30_Q32: i64 = 143165577;
pub const ONE_BY_15_Q32: i64 = 286331153;
/// libvmaf stores its Q32 rounding constant `1u << 31` in an `int32_t`, so it adds −2³¹.
pub const Q32_ROUND: i64 = i32::MIN as i64;

/// Scale 0 CSF output shifts/rounding per orientation (h, v, d).
pub const CSF0_SHIFT: [u32; 3] = [15, 15, 17];
pub const CSF0_ADD: [i32; 3] = [16384, 16384, 65535];

/// Reciprocal table for the decoupling division: 2³⁰/|i| with sign, index i + 32768
/// (libvmaf `div_lookup_generator`).
pub static DIV_LOOKUP: [i32; 65537] = {
    let mut t = [0i32; 65537];
    let mut i = 1;
    while i <= 32768 {
        let r = (1i32 << 30) / i;
        t[(32768 + i) as usize] = r;
        t[(32768 - i) as usize] = -r;
        i += 1;
    }
    t
};

/// cos²(1°) as libvmaf keeps it (double product stored in a float).
pub fn cos_1deg_sq() -> f32 {
    let c = (std::f64::consts::PI / 180.0).cos();
    (c * c) as f32
}

/// libvmaf's `(uint32_t)pow(2, s - 1)` rounding constant (0 when s is 0).
pub fn half_of(shift: u32) -> i64 {
    if shift == 0 {
        0
    } else {
        1i64 << (shift - 1)
    }
}

/// `(uint32_t)ceil(x)` as x86 C code evaluates it (negative values wrap).
fn ceil_u32(x: f64) -> u32 {
    (x.ceil() as i64) as u32
}

pub mod scalar {
    //! Scalar reference kernels, bit-exact with libvmaf's C.
    use super::*;

    /// Scale 0 vertical pass for one output row: `rows` are the 4 source rows.
    pub fn dwt0_vert(rows: [&[u16]; 4], bit_depth: u8, lo: &mut [i16], hi: &mut [i16]) {
        dwt0_vert_range(rows, bit_depth, lo, hi, 0);
    }

    pub(crate) fn dwt0_vert_range(
        rows: [&[u16]; 4],
        bit_depth: u8,
        lo: &mut [i16],
        hi: &mut [i16],
        start: usize,
    ) {
        let sh = bit_depth as u32;
        let add = 1i32 << (sh - 1);
        let off = LO_SUM * add;
        for j in start..lo.len() {
            let s = [
                rows[0][j] as i32,
                rows[1][j] as i32,
                rows[2][j] as i32,
                rows[3][j] as i32,
            ];
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
    pub fn dwt0_horz(
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
    pub fn dwt_s_vert(rows: [&[i32]; 4], scale: usize, lo: &mut [i32], hi: &mut [i32]) {
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
            let l = LO[0] as i64 * s[0]
                + LO[1] as i64 * s[1]
                + LO[2] as i64 * s[2]
                + LO[3] as i64 * s[3];
            let h = HI[0] as i64 * s[0]
                + HI[1] as i64 * s[1]
                + HI[2] as i64 * s[2]
                + HI[3] as i64 * s[3];
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
    pub fn dwt_s_horz(
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
    pub fn angle_flag(ot_dp: i64, o_mag_sq: i64, t_mag_sq: i64, cos1: f32) -> bool {
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
            let k =
                ((DIV_LOOKUP[(o as i32 + 32768) as usize] as i64 * t as i64 + 16384) >> 15) as i32;
            k.clamp(0, 32768)
        }
    }

    /// Scale 0 decoupling + CSF of one row range: writes the restored bands (`r*`), the
    /// per-pixel sum over orientations of the masking filter |csf(a)|/30 (`f`), and the
    /// centre correction |csf(a)|/15 − |csf(a)|/30 (`dc`), so the masking threshold is the 3×3
    /// box sum of `f` plus `dc`.
    #[allow(clippy::too_many_arguments)]
    pub fn decouple0(
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
    pub fn decouple_s(
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
    pub struct Cm0 {
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
    pub fn cm0_row(
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
    pub fn cm_s_row(
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
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

#[inline]
fn simd(level: CpuLevel) -> bool {
    cfg!(target_arch = "x86_64") && level >= CpuLevel::Avx2
}

pub(super) fn dwt0_vert(
    level: CpuLevel,
    rows: [&[u16]; 4],
    bit_depth: u8,
    lo: &mut [i16],
    hi: &mut [i16],
) {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::dwt0_vert_avx512(rows, bit_depth, lo, hi) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd(level) {
        // SAFETY: AVX2 availability is what CpuLevel::Avx2 and above guarantee.
        unsafe { super::x86::dwt0_vert_avx2(rows, bit_depth, lo, hi) };
        return;
    }
    let _ = level;
    scalar::dwt0_vert(rows, bit_depth, lo, hi)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn dwt0_horz(
    level: CpuLevel,
    lo: &[i16],
    hi: &[i16],
    ix: &[[usize; 4]],
    a: &mut [i32],
    v: &mut [i16],
    h: &mut [i16],
    d: &mut [i16],
) {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::dwt0_horz_avx512(lo, hi, ix, a, v, h, d) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd(level) {
        // SAFETY: AVX2 checked by the level.
        unsafe { super::x86::dwt0_horz_avx2(lo, hi, ix, a, v, h, d) };
        return;
    }
    let _ = level;
    scalar::dwt0_horz(lo, hi, ix, a, v, h, d)
}

pub(super) fn dwt_s_vert(
    level: CpuLevel,
    rows: [&[i32]; 4],
    scale: usize,
    lo: &mut [i32],
    hi: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::dwt_s_vert_avx512(rows, scale, lo, hi) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd(level) {
        // SAFETY: AVX2 checked by the level.
        unsafe { super::x86::dwt_s_vert_avx2(rows, scale, lo, hi) };
        return;
    }
    let _ = level;
    scalar::dwt_s_vert(rows, scale, lo, hi)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn dwt_s_horz(
    level: CpuLevel,
    lo: &[i32],
    hi: &[i32],
    ix: &[[usize; 4]],
    scale: usize,
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::dwt_s_horz_avx512(lo, hi, ix, scale, a, v, h, d) };
        return;
    }
    let _ = level;
    scalar::dwt_s_horz(lo, hi, ix, scale, a, v, h, d)
}

#[allow(clippy::too_many_arguments)]
fn decouple0_dispatch(
    level: CpuLevel,
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
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::decouple0_avx512(o, t, gain, rf, r, f, dc, start, end) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd(level) {
        // SAFETY: AVX2 checked by the level.
        unsafe { super::x86::decouple0_avx2(o, t, gain, rf, r, f, dc, start, end) };
        return;
    }
    let _ = level;
    scalar::decouple0(o, t, gain, rf, r, f, dc, start, end)
}

fn cm0_dispatch(
    level: CpuLevel,
    r: [&[i16]; 3],
    vs: &[i32],
    dc: &[i32],
    c: &scalar::Cm0,
    start: usize,
    end: usize,
) -> [i64; 3] {
    #[cfg(target_arch = "x86_64")]
    if simd(level) {
        // SAFETY: AVX2 checked by the level.
        return unsafe { super::x86::cm0_row_avx2(r, vs, dc, c, start, end) };
    }
    let _ = level;
    scalar::cm0_row(r, vs, dc, c, start, end)
}

#[allow(clippy::too_many_arguments)]
fn decouple_s_dispatch(
    level: CpuLevel,
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
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        unsafe { super::x86::decouple_s_avx512(o, t, gain, rf, r, f, dc, start, end) };
        return;
    }
    let _ = level;
    scalar::decouple_s(o, t, gain, rf, r, f, dc, start, end)
}

#[allow(clippy::too_many_arguments)]
fn cm_s_dispatch(
    level: CpuLevel,
    r: [&[i32]; 3],
    vs: &[i32],
    dc: &[i32],
    rf: &[u32; 3],
    cub_shift: u32,
    cub_add: i64,
    start: usize,
    end: usize,
) -> [i64; 3] {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        return unsafe {
            super::x86::cm_s_row_avx512(r, vs, dc, rf, cub_shift, cub_add, start, end)
        };
    }
    let _ = level;
    scalar::cm_s_row(r, vs, dc, rf, cub_shift, cub_add, start, end)
}

// ---------------------------------------------------------------------------------------------
// Per-scale drivers.

/// Element types of the restored bands (i16 at scale 0, i32 above) and their scratch pool.
pub(super) trait Sample: Copy + Default {
    fn take(n: usize) -> Vec<Self>;
    fn give(v: Vec<Self>);
}

impl Sample for i16 {
    fn take(n: usize) -> Vec<Self> {
        pool::i16s(n)
    }
    fn give(v: Vec<Self>) {
        pool::give_i16(v)
    }
}

impl Sample for i32 {
    fn take(n: usize) -> Vec<Self> {
        pool::i32s(n)
    }
    fn give(v: Vec<Self>) {
        pool::give_i32(v)
    }
}

/// Rows kept live: masking row i reads decoupled rows i-1, i, i+1 (reflected at the edges).
const RING: usize = 4;

/// The masking/pooling loop shared by all scales, streaming over rows so that the decoupled
/// bands, filter sums and centre corrections of only [`RING`] rows are ever held (cache
/// resident) instead of whole bands. `decouple(i, r, f, dc)` fills one row of the filter region;
/// `cm(r, vs, dc)` returns one pooling row's h, v, d sums given the vertical 3-sums `vs` of the
/// filter values. Returns libvmaf's per-band accumulators (each row rounded by `>> sia`).
fn pool_rows<T: Sample>(
    w: usize,
    h: usize,
    fr: &Region,
    pr: &Region,
    sia: u32,
    mut decouple: impl FnMut(usize, [&mut [T]; 3], &mut [i32], &mut [i32]),
    mut cm: impl FnMut([&[T]; 3], &[i32], &[i32]) -> [i64; 3],
) -> [i64; 3] {
    let mut r = [T::take(RING * w), T::take(RING * w), T::take(RING * w)];
    let mut f = pool::i32s(RING * w);
    let mut dc = pool::i32s(RING * w);
    let mut vs = pool::i32s(w);
    let add_ia = half_of(sia);
    let (c0, c1) = (pr.left.saturating_sub(1), (pr.right + 1).min(w));
    let mut next = fr.top;
    let mut acc = [0i64; 3];
    for i in pr.top..pr.bottom {
        let up = if i == 0 { 1 } else { i - 1 };
        let dn = if i + 1 == h { h - 1 } else { i + 1 };
        while next <= up.max(dn) {
            let o = (next % RING) * w;
            let [rh, rv, rd] = &mut r;
            decouple(
                next,
                [&mut rh[o..o + w], &mut rv[o..o + w], &mut rd[o..o + w]],
                &mut f[o..o + w],
                &mut dc[o..o + w],
            );
            next += 1;
        }
        let (a, b, c) = ((up % RING) * w, (i % RING) * w, (dn % RING) * w);
        for j in c0..c1 {
            vs[j] = f[a + j].wrapping_add(f[b + j]).wrapping_add(f[c + j]);
        }
        let row = cm(
            [&r[0][b..b + w], &r[1][b..b + w], &r[2][b..b + w]],
            &vs[..w],
            &dc[b..b + w],
        );
        for q in 0..3 {
            acc[q] += (row[q] + add_ia) >> sia;
        }
    }
    let [r0, r1, r2] = r;
    for v in [r0, r1, r2] {
        T::give(v);
    }
    for v in [f, dc, vs] {
        pool::give_i32(v);
    }
    acc
}

/// Row `i` of the h, v, d bands.
fn band_rows<T>(b: &Bands<T>, i: usize) -> [&[T]; 3] {
    let o = i * b.w;
    [&b.hb[o..o + b.w], &b.vb[o..o + b.w], &b.db[o..o + b.w]]
}

/// The noise floor term `powf(area * noise_weight, 1/3)` added to each band's pooled value.
fn noise_floor(p: &Region, noise_weight: f64) -> f32 {
    let area = ((p.bottom - p.top) * (p.right - p.left)) as f64;
    ((area * noise_weight) as f32).powf(1.0f32 / 3.0)
}

/// Numerator of scale 0 (libvmaf `adm_decouple`, `adm_csf`, `adm_cm`).
pub(super) fn num_scale0(level: CpuLevel, rb: &Bands<i16>, db: &Bands<i16>, p: &AdmParams) -> f32 {
    let (w, h) = (rb.w, rb.h);
    let fr = filter_region(w, h);
    let pr = pool_region(w, h);
    let rf = rfactor_scale0(p);
    let lw = (w as f64).log2();
    let cub_h = ceil_u32(lw - 4.0);
    let cub_d = ceil_u32(lw - 3.0);
    let c = scalar::Cm0 {
        rf,
        sub: [10, 10, 12],
        sq_shift: [29, 29, 30],
        sq_add: [1 << 28, 1 << 28, 1 << 29],
        cub_shift: [cub_h, cub_h, cub_d],
        cub_add: [half_of(cub_h), half_of(cub_h), half_of(cub_d)],
    };
    let sia = ceil_u32((h as f64).log2());
    let acc = pool_rows::<i16>(
        w,
        h,
        &fr,
        &pr,
        sia,
        |i, r, f, dc| {
            decouple0_dispatch(
                level,
                band_rows(rb, i),
                band_rows(db, i),
                p.enhn_gain_limit,
                &rf,
                r,
                f,
                dc,
                fr.left,
                fr.right,
            );
        },
        |r, vs, dc| cm0_dispatch(level, r, vs, dc, &c, pr.left, pr.right),
    );
    let e_hv = 52u32.wrapping_sub(cub_h).wrapping_sub(sia);
    let e_d = 57u32.wrapping_sub(cub_d).wrapping_sub(sia);
    let fa = [
        (acc[0] as f64 / 2f64.powf(e_hv as f64)) as f32,
        (acc[1] as f64 / 2f64.powf(e_hv as f64)) as f32,
        (acc[2] as f64 / 2f64.powf(e_d as f64)) as f32,
    ];
    sum_bands(fa, noise_floor(&pr, p.noise_weight))
}

/// `Σ_bands powf(x, 1/3) + floor`, summed in float in libvmaf's order.
fn sum_bands(fa: [f32; 3], floor: f32) -> f32 {
    let third = 1.0f32 / 3.0;
    let nh = fa[0].powf(third) + floor;
    let nv = fa[1].powf(third) + floor;
    let nd = fa[2].powf(third) + floor;
    nh + nv + nd
}

/// Numerator of scale 1..3 (libvmaf `adm_decouple_s123`, `i4_adm_csf`, `i4_adm_cm`).
pub(super) fn num_s123(
    level: CpuLevel,
    rb: &Bands<i32>,
    db: &Bands<i32>,
    scale: usize,
    p: &AdmParams,
) -> f32 {
    let (w, h) = (rb.w, rb.h);
    let fr = filter_region(w, h);
    let pr = pool_region(w, h);
    let rf = rfactor_s123(p, scale);
    let cub = ceil_u32((w as f64).log2());
    let cub_add = half_of(cub);
    let sia = ceil_u32((h as f64).log2());
    let acc = pool_rows::<i32>(
        w,
        h,
        &fr,
        &pr,
        sia,
        |i, r, f, dc| {
            decouple_s_dispatch(
                level,
                band_rows(rb, i),
                band_rows(db, i),
                p.enhn_gain_limit,
                &rf,
                r,
                f,
                dc,
                fr.left,
                fr.right,
            );
        },
        |r, vs, dc| cm_s_dispatch(level, r, vs, dc, &rf, cub, cub_add, pr.left, pr.right),
    );
    let base = [45u32, 39, 36][scale - 1];
    let fs = 2f64.powf(base.wrapping_sub(cub).wrapping_sub(sia) as f64) as f32;
    let fa = [acc[0] as f32 / fs, acc[1] as f32 / fs, acc[2] as f32 / fs];
    sum_bands(fa, noise_floor(&pr, p.noise_weight))
}

/// Denominator of scale 0: the cube-pooled reference bands (libvmaf `adm_csf_den_scale`).
/// Σ|x|³ over a row of i16 band values.
fn cube_sum_i16(level: CpuLevel, x: &[i16]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx512 {
        // SAFETY: CpuLevel::Avx512 guarantees AVX-512 F/VL/DQ/BW.
        return unsafe { super::x86::cube_sum_i16_avx512(x) };
    }
    let _ = level;
    x.iter()
        .map(|&v| (v as i32).unsigned_abs() as u64)
        .map(|a| a * a * a)
        .sum()
}

pub(super) fn den_scale0(
    level: CpuLevel,
    rb: &Bands<i16>,
    rfactor: &[f32; 3],
    noise_weight: f64,
) -> f32 {
    let (w, h) = (rb.w, rb.h);
    let pr = pool_region(w, h);
    let area = ((pr.bottom - pr.top) * (pr.right - pr.left)) as f64;
    let sa = ((area.log2() - 20.0).ceil() as i32).max(0) as u32;
    let add = half_of(sa) as u64;
    let mut acc = [0u64; 3];
    for i in pr.top..pr.bottom {
        let o = i * w;
        for (q, band) in [&rb.hb, &rb.vb, &rb.db].into_iter().enumerate() {
            let inner = cube_sum_i16(level, &band[o + pr.left..o + pr.right]);
            acc[q] += (inner + add) >> sa;
        }
    }
    let shift = 2f64.powf((18 - sa as i32) as f64);
    let fa = [0, 1, 2].map(|q| ((acc[q] as f64 / shift) * (rfactor[q] as f64).powf(3.0)) as f32);
    sum_bands(fa, noise_floor(&pr, noise_weight))
}

/// Denominator of scales 1..3 (libvmaf `adm_csf_den_s123`).
pub(super) fn den_s123(
    rb: &Bands<i32>,
    scale: usize,
    rfactor: &[f32; 3],
    noise_weight: f64,
) -> f32 {
    let (w, h) = (rb.w, rb.h);
    let pr = pool_region(w, h);
    let sq_shift = [31u32, 30, 31][scale - 1];
    let sq_add = 1u64 << sq_shift;
    let conv = [32u32, 27, 23][scale - 1];
    let cub = ceil_u32(((pr.right - pr.left) as f64).log2());
    let cub_add = half_of(cub) as u64;
    let sa = ceil_u32(((pr.bottom - pr.top) as f64).log2());
    let add = half_of(sa) as u64;
    let mut acc = [0u64; 3];
    for i in pr.top..pr.bottom {
        let o = i * w;
        let mut inner = [0u64; 3];
        for (q, band) in [&rb.hb, &rb.vb, &rb.db].into_iter().enumerate() {
            for &x in &band[o + pr.left..o + pr.right] {
                let a = x.unsigned_abs() as u64;
                inner[q] += ((((a * a) + sq_add) >> sq_shift) * a + cub_add) >> cub;
            }
        }
        for q in 0..3 {
            acc[q] += (inner[q] + add) >> sa;
        }
    }
    let shift = 2f64.powf(conv.wrapping_sub(sa).wrapping_sub(cub) as f64);
    let fa = [0, 1, 2].map(|q| ((acc[q] as f64 / shift) * (rfactor[q] as f64).powf(3.0)) as f32);
    sum_bands(fa, noise_floor(&pr, noise_weight))
}
