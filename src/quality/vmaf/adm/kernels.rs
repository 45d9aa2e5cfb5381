//! ADM constants shared by the kernel sets, and the per-scale drivers, which call through a
//! kernel table ([`Kernels`]) once per row.
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]

use super::{
    filter_region, pool, pool_region, rfactor_s123, rfactor_scale0, AdmParams, Bands, Region,
};
use super::{scalar, Kernels};

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
pub(super) fn num_scale0(k: &Kernels, rb: &Bands<i16>, db: &Bands<i16>, p: &AdmParams) -> f32 {
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
            (k.decouple0)(
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
        |r, vs, dc| (k.cm0_row)(r, vs, dc, &c, pr.left, pr.right),
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
    k: &Kernels,
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
            (k.decouple_s)(
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
        |r, vs, dc| (k.cm_s_row)(r, vs, dc, &rf, cub, cub_add, pr.left, pr.right),
    );
    let base = [45u32, 39, 36][scale - 1];
    let fs = 2f64.powf(base.wrapping_sub(cub).wrapping_sub(sia) as f64) as f32;
    let fa = [acc[0] as f32 / fs, acc[1] as f32 / fs, acc[2] as f32 / fs];
    sum_bands(fa, noise_floor(&pr, p.noise_weight))
}

/// Denominator of scale 0: the cube-pooled reference bands (libvmaf `adm_csf_den_scale`).
pub(super) fn den_scale0(
    k: &Kernels,
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
            let inner = (k.cube_sum_i16)(&band[o + pr.left..o + pr.right]);
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
