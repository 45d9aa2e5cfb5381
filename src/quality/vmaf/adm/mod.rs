//! ADM (the "adm2" VMAF feature) exactly as libvmaf 3.2's default integer extractor computes it
//! (libvmaf `feature/integer_adm.c`, `integer_adm.h`, `adm_options.h`).
//!
//! Per scale (4 of them): an integer db2 DWT of reference and distorted luma; the distorted
//! detail bands are decoupled into a part restored from the reference and an additive impairment;
//! the impairment, CSF-weighted, sets a contrast-masking threshold (a 3×3 neighbourhood sum) that
//! is subtracted from the CSF-weighted restored part; what is left is cube-pooled over the frame
//! minus a 10% border. The denominator is the same pooling of the reference bands alone. Every
//! fixed-point shift, rounding and truncation is libvmaf's, so the numbers are bit-exact with it.
//!
//! All reference-only work (its four DWT levels and the per-scale denominators) is done once in
//! [`AdmRef::new`] and shared by every distorted frame scored against it.
//!
//! Kernels come in sets, one table (`Kernels`) per [`CpuLevel`], resolved once: AVX2
//! (`x86/avx2.rs`) for scale 0 (16-bit fixed point), AVX-512 F/VL/DQ/BW (`x86/avx512.rs`) for
//! everything (scales 1–3 need 64-bit lanes); the scalar twins (`scalar.rs`) are always
//! compiled, are what every SIMD kernel is tested against, and serve the rest. Scratch memory is
//! recycled per thread, and masking streams over a 4-row ring, so scoring allocates nothing per
//! frame once warm.
//!
//! Not supported (none of the v0.6.1 family models use them): the Barten CSF modes,
//! `adm_skip_scale0`, and the AIM/adm3 outputs.
// Index loops mirror the sample/band layout of the fixed-point algorithm.
#![allow(clippy::needless_range_loop)]

mod kernels;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::cpu::CpuLevel;
use crate::frame::{Plane, SampleSlice};

/// One ADM kernel set: a table of row kernels of one instruction set, with scalar entries where
/// the set has no SIMD twin. The drivers call through it once per row, never per pixel.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    pub dwt0_vert: Dwt0VertFn<u16>,
    pub dwt0_vert8: Dwt0VertFn<u8>,
    pub dwt0_horz: Dwt0HorzFn,
    pub dwt_s_vert: DwtSVertFn,
    pub dwt_s_horz: DwtSHorzFn,
    pub decouple0: Decouple0Fn,
    pub cm0_row: Cm0RowFn,
    pub decouple_s: DecoupleSFn,
    pub cm_s_row: CmSRowFn,
    /// Σ|x|³ over a row of i16 band values.
    pub cube_sum_i16: fn(&[i16]) -> u64,
}

/// Scale 0 vertical DWT pass of one output row: (4 source rows, bit depth) → lo, hi.
pub(crate) type Dwt0VertFn<S> = fn([&[S]; 4], u8, &mut [i16], &mut [i16]);
/// Scales 1–3 vertical DWT pass of one output row (the scale picks the roundings).
pub(crate) type DwtSVertFn = fn([&[i32]; 4], usize, &mut [i32], &mut [i32]);
/// Scale 0 contrast masking and cube pooling of one row: (restored bands, vertical 3-sums,
/// centre corrections, constants, columns) → per-band sums.
pub(crate) type Cm0RowFn = fn([&[i16]; 3], &[i32], &[i32], &scalar::Cm0, usize, usize) -> [i64; 3];
/// Scale 0 horizontal DWT pass: (lo, hi, source indices) → band_a, band_v, band_h, band_d.
pub(crate) type Dwt0HorzFn =
    fn(&[i16], &[i16], &[[usize; 4]], &mut [i32], &mut [i16], &mut [i16], &mut [i16]);
/// Scales 1–3 horizontal DWT pass (the scale picks the roundings).
pub(crate) type DwtSHorzFn =
    fn(&[i32], &[i32], &[[usize; 4]], usize, &mut [i32], &mut [i32], &mut [i32], &mut [i32]);
/// Scale 0 decoupling of one row over `start..end`: (ref bands, dist bands, gain limit, CSF
/// factors) → restored bands, CSF-weighted filter values and centre corrections.
pub(crate) type Decouple0Fn = fn(
    [&[i16]; 3],
    [&[i16]; 3],
    f64,
    &[i32; 3],
    [&mut [i16]; 3],
    &mut [i32],
    &mut [i32],
    usize,
    usize,
);
/// Scales 1–3 decoupling of one row, as [`Decouple0Fn`] in 32-bit bands.
pub(crate) type DecoupleSFn = fn(
    [&[i32]; 3],
    [&[i32]; 3],
    f64,
    &[u32; 3],
    [&mut [i32]; 3],
    &mut [i32],
    &mut [i32],
    usize,
    usize,
);
/// Scales 1–3 contrast masking and cube pooling of one row: (restored bands, vertical 3-sums,
/// centre corrections, CSF factors, cube shift and rounding, columns) → per-band sums.
pub(crate) type CmSRowFn =
    fn([&[i32]; 3], &[i32], &[i32], &[u32; 3], u32, i64, usize, usize) -> [i64; 3];

crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx512, x86::avx512::KERNELS), (Avx2, x86::avx2::KERNELS)]);

/// libvmaf's ADM options that the v0.6.1 model family may set (defaults from `adm_options.h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmParams {
    /// `adm_enhn_gain_limit`: how much a distorted detail band may exceed the reference and still
    /// count as restored (1.0 disables enhancement gain, as `vmaf_v0.6.1neg` asks). Default 100.
    /// Fractional values follow libvmaf's C (truncation); libvmaf's AVX-512 path rounds instead
    /// and differs from its own C by ~1e-6 there. The models only use 1 and 100.
    pub enhn_gain_limit: f64,
    /// `adm_norm_view_dist`: viewing distance / display height. Default 3.0.
    pub norm_view_dist: f64,
    /// `adm_ref_display_height` in pixels. Default 1080.
    pub ref_display_height: u32,
    /// `adm_noise_weight`: the noise floor added to every pooled band. Default 0.03125.
    pub noise_weight: f64,
}

impl Default for AdmParams {
    fn default() -> Self {
        AdmParams {
            enhn_gain_limit: 100.0,
            norm_view_dist: 3.0,
            ref_display_height: 1080,
            noise_weight: 0.03125,
        }
    }
}

impl AdmParams {
    /// The CSF depends only on these; the reference's denominators are cached for them.
    fn csf_key(&self) -> (u64, u32, u64) {
        (
            self.norm_view_dist.to_bits(),
            self.ref_display_height,
            self.noise_weight.to_bits(),
        )
    }
}

/// The ADM result of one frame: libvmaf's `integer_adm2` and `integer_adm_scale0..3`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmScore {
    pub adm2: f64,
    pub scales: [f64; 4],
}

/// Per-thread recycled scratch buffers: scoring allocates no fresh (zeroed, page-faulting) memory
/// per frame once warmed up. Buffers come back longer than asked for; callers index within `n`.
pub(crate) mod pool {
    use std::cell::RefCell;

    type Buffers = (Vec<Vec<i16>>, Vec<Vec<i32>>);

    thread_local! {
        static POOL: RefCell<Buffers> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    fn best<T: Copy + Default>(list: &mut Vec<Vec<T>>, n: usize) -> Vec<T> {
        // The smallest buffer that fits, else the largest (grown once).
        let pick = list
            .iter()
            .enumerate()
            .filter(|(_, v)| v.len() >= n)
            .min_by_key(|(_, v)| v.len())
            .map(|(i, _)| i)
            .or_else(|| (0..list.len()).max_by_key(|&i| list[i].len()));
        let mut v = match pick {
            Some(i) => list.swap_remove(i),
            None => Vec::new(),
        };
        if v.len() < n {
            v.resize(n, T::default());
        }
        v
    }

    pub fn i16s(n: usize) -> Vec<i16> {
        POOL.with(|p| best(&mut p.borrow_mut().0, n))
    }

    pub fn i32s(n: usize) -> Vec<i32> {
        POOL.with(|p| best(&mut p.borrow_mut().1, n))
    }

    /// More than one frame's worth of buffers is never needed per thread; beyond this (a
    /// thread that only drops references made elsewhere) buffers are freed.
    const CAP: usize = 40;

    pub fn give_i16(v: Vec<i16>) {
        // try_with: a reference dropped during thread teardown just frees its memory.
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.0.len() < CAP {
                p.0.push(v)
            }
        });
    }

    pub fn give_i32(v: Vec<i32>) {
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.1.len() < CAP {
                p.1.push(v)
            }
        });
    }
}

/// Detail bands of one DWT level (band_a is only needed as the next level's input).
#[derive(Debug, Clone)]
pub(crate) struct Bands<T> {
    pub w: usize,
    pub h: usize,
    pub hb: Vec<T>,
    pub vb: Vec<T>,
    pub db: Vec<T>,
}

impl<T> Bands<T> {
    fn empty() -> Self {
        Bands {
            w: 0,
            h: 0,
            hb: Vec::new(),
            vb: Vec::new(),
            db: Vec::new(),
        }
    }
}

impl Bands<i16> {
    fn pooled(w: usize, h: usize) -> Self {
        Bands {
            w,
            h,
            hb: pool::i16s(w * h),
            vb: pool::i16s(w * h),
            db: pool::i16s(w * h),
        }
    }
    fn recycle(self) {
        pool::give_i16(self.hb);
        pool::give_i16(self.vb);
        pool::give_i16(self.db);
    }
}

impl Bands<i32> {
    fn pooled(w: usize, h: usize) -> Self {
        Bands {
            w,
            h,
            hb: pool::i32s(w * h),
            vb: pool::i32s(w * h),
            db: pool::i32s(w * h),
        }
    }
    fn recycle(self) {
        pool::give_i32(self.hb);
        pool::give_i32(self.vb);
        pool::give_i32(self.db);
    }
}

/// Reference-side precomputation: the reference's DWT detail bands at all four scales and the
/// per-scale denominators for the default CSF parameters. Send + Sync; share it by reference.
#[derive(Debug, Clone)]
pub struct AdmRef {
    width: usize,
    height: usize,
    bit_depth: u8,
    s0: Bands<i16>,
    s123: [Bands<i32>; 3],
    den_default: [f32; 4],
}

/// Smallest width and height ADM accepts: the fourth DWT level must be at least 2 samples wide.
/// (libvmaf itself reads outside its buffers below 33 samples, so it is no oracle there.)
pub const MIN_DIM: usize = 17;

/// Whether a luma plane of this size can be scored (see [`MIN_DIM`]); callers check this and
/// report an error instead of calling [`AdmRef::new`], which panics on smaller planes.
pub fn supported_size(width: usize, height: usize) -> bool {
    width >= MIN_DIM && height >= MIN_DIM
}

/// The reference's bands go back to the (dropping thread's) scratch pool, so preparing one
/// reference per frame touches no fresh memory in steady state.
impl Drop for AdmRef {
    fn drop(&mut self) {
        let s0 = std::mem::replace(&mut self.s0, Bands::empty());
        s0.recycle();
        for b in &mut self.s123 {
            std::mem::replace(b, Bands::empty()).recycle();
        }
    }
}

impl AdmRef {
    /// Panics if the plane is smaller than [`MIN_DIM`] or `bit_depth` is not in 8..=12 (samples
    /// must be below 2^bit_depth).
    pub fn new(luma: &Plane, bit_depth: u8) -> AdmRef {
        AdmRef::with_kernels(luma, bit_depth, Kernels::get())
    }

    pub(crate) fn with_kernels(luma: &Plane, bit_depth: u8, k: &Kernels) -> AdmRef {
        assert!(
            supported_size(luma.width, luma.height),
            "adm: {}x{} is below the {MIN_DIM}x{MIN_DIM} minimum",
            luma.width,
            luma.height
        );
        assert!(
            (8..=12).contains(&bit_depth),
            "adm: bit depth {bit_depth} unsupported"
        );
        let (s0, a0) = dwt_scale0(k, luma, bit_depth);
        let (w1, h1) = (s0.w, s0.h);
        let (s1, a1) = dwt_s123(k, &a0, w1, h1, 1);
        let (s2, a2) = dwt_s123(k, &a1, s1.w, s1.h, 2);
        let (s3, a3) = dwt_s123(k, &a2, s2.w, s2.h, 3);
        for a in [a0, a1, a2, a3] {
            pool::give_i32(a);
        }
        let mut r = AdmRef {
            width: luma.width,
            height: luma.height,
            bit_depth,
            s0,
            s123: [s1, s2, s3],
            den_default: [0.0; 4],
        };
        r.den_default = r.dens(k, &AdmParams::default());
        r
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }

    fn dens(&self, k: &Kernels, p: &AdmParams) -> [f32; 4] {
        let mut d = [0f32; 4];
        d[0] = kernels::den_scale0(k, &self.s0, &csf_factors(p, 0), p.noise_weight);
        for s in 1..4 {
            d[s] = kernels::den_s123(&self.s123[s - 1], s, &csf_factors(p, s), p.noise_weight);
        }
        d
    }
}

/// The Watson97 CSF weights 1/Q for (h/v, d) at DWT level `lambda` (libvmaf `dwt_quant_step`,
/// with its float/double mix kept so the fixed-point factors derived from them match).
pub(crate) fn csf_factors(p: &AdmParams, lambda: usize) -> [f32; 3] {
    // Watson et al. 1997, Table IV (luma, subject "sfl") and Table V, as in integer_adm.h.
    const A: f32 = 0.495;
    const K: f32 = 0.466;
    const F0: f32 = 0.401;
    const G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
    const AMP: [[f32; 4]; 4] = [
        [0.62171, 0.67234, 0.72709, 0.67234],
        [0.34537, 0.41317, 0.49428, 0.41317],
        [0.18004, 0.22727, 0.28688, 0.22727],
        [0.091401, 0.11792, 0.15214, 0.11792],
    ];
    let q = |theta: usize| -> f32 {
        let r =
            (p.norm_view_dist * p.ref_display_height as f64 * std::f64::consts::PI / 180.0) as f32;
        let temp = (2f64.powf((lambda + 1) as f64) * F0 as f64 * G[theta] as f64 / r as f64).log10()
            as f32;
        let kt = K * temp * temp;
        (2.0 * A as f64 * 10f64.powf(kt as f64) / AMP[lambda][theta] as f64) as f32
    };
    let f1 = 1.0f32 / q(1);
    let f2 = 1.0f32 / q(2);
    [f1, f1, f2]
}

/// Scale 0's fixed-point CSF factors (Q21, Q21, Q23), hard-coded by libvmaf for the default view.
pub(crate) fn rfactor_scale0(p: &AdmParams) -> [i32; 3] {
    if (p.norm_view_dist * p.ref_display_height as f64 - 3.0 * 1080.0).abs() < 1.0e-8 {
        [36453, 36453, 49417]
    } else {
        let f = csf_factors(p, 0);
        let q21 = 2f64.powi(21);
        let q23 = 2f64.powi(23);
        [
            (f[0] as f64 * q21) as u16 as i32,
            (f[1] as f64 * q21) as u16 as i32,
            (f[2] as f64 * q23) as u16 as i32,
        ]
    }
}

/// Scales 1–3's fixed-point CSF factors (Q32).
pub(crate) fn rfactor_s123(p: &AdmParams, scale: usize) -> [u32; 3] {
    let f = csf_factors(p, scale);
    let q32 = 2f64.powi(32);
    [
        (f[0] as f64 * q32) as u32,
        (f[1] as f64 * q32) as u32,
        (f[2] as f64 * q32) as u32,
    ]
}

/// Scores a distorted luma plane against a prepared reference. The plane must have the
/// reference's size and bit depth (the caller checks; a mismatch panics), samples below
/// 2^bit_depth.
pub fn score(r: &AdmRef, dist_luma: &Plane, bit_depth: u8, params: &AdmParams) -> AdmScore {
    score_with_kernels(Kernels::get(), r, dist_luma, bit_depth, params)
}

/// [`score`] with the kernels of a CPU level (the best set at or below it; tests and benchmarks
/// compare levels).
pub fn score_with(
    level: CpuLevel,
    r: &AdmRef,
    dist_luma: &Plane,
    bit_depth: u8,
    params: &AdmParams,
) -> AdmScore {
    score_with_kernels(&Kernels::for_level(level), r, dist_luma, bit_depth, params)
}

/// [`score`] with a resolved kernel table (the engine's).
pub(crate) fn score_with_kernels(
    k: &Kernels,
    r: &AdmRef,
    dist_luma: &Plane,
    bit_depth: u8,
    params: &AdmParams,
) -> AdmScore {
    assert_eq!(
        (dist_luma.width, dist_luma.height),
        (r.width, r.height),
        "adm: distorted plane size differs from the reference"
    );
    assert_eq!(
        bit_depth, r.bit_depth,
        "adm: distorted bit depth differs from the reference"
    );
    let dens = if params.csf_key() == AdmParams::default().csf_key() {
        r.den_default
    } else {
        r.dens(k, params)
    };

    let mut nums = [0f32; 4];
    let (d0, a0) = dwt_scale0(k, dist_luma, bit_depth);
    nums[0] = kernels::num_scale0(k, &r.s0, &d0, params);
    let mut a = a0;
    let (mut w, mut h) = (d0.w, d0.h);
    d0.recycle();
    for s in 1..4 {
        let (ds, an) = dwt_s123(k, &a, w, h, s);
        nums[s] = kernels::num_s123(k, &r.s123[s - 1], &ds, s, params);
        w = ds.w;
        h = ds.h;
        pool::give_i32(std::mem::replace(&mut a, an));
        ds.recycle();
    }
    pool::give_i32(a);

    // libvmaf integer_compute_adm: sums in double, tiny totals clipped to 0, 0/0 scores 1.
    let numden_limit = 1e-10 * (r.width * r.height) as f64 / (1920.0 * 1080.0);
    let mut num: f64 = nums.iter().map(|&x| x as f64).sum();
    let mut den: f64 = dens.iter().map(|&x| x as f64).sum();
    if num < numden_limit {
        num = 0.0;
    }
    if den < numden_limit {
        den = 0.0;
    }
    let adm2 = if den == 0.0 { 1.0 } else { num / den };
    let mut scales = [0f64; 4];
    for s in 0..4 {
        scales[s] = nums[s] as f64 / dens[s] as f64;
    }
    AdmScore { adm2, scales }
}

/// Scale 0 DWT of a full-resolution plane: detail bands (i16) and the approximation band as i32
/// (libvmaf's `i16_to_i32`), which is scale 1's input.
fn dwt_scale0(k: &Kernels, p: &Plane, bit_depth: u8) -> (Bands<i16>, Vec<i32>) {
    let (w, h) = (p.width, p.height);
    let (wo, ho) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Bands::<i16>::pooled(wo, ho);
    let mut a = pool::i32s(wo * ho);
    let iy = mirror_indices(h);
    let ix = mirror_indices(w);
    let mut lo = pool::i16s(w);
    let mut hi = pool::i16s(w);
    for i in 0..ho {
        fn rows<'a, S>(s: &'a [S], idx: &[usize; 4], w: usize) -> [&'a [S]; 4] {
            idx.map(|r| &s[r * w..(r + 1) * w])
        }
        match p.slice() {
            SampleSlice::U8(s) => {
                (k.dwt0_vert8)(rows(s, &iy[i], w), bit_depth, &mut lo[..w], &mut hi[..w])
            }
            SampleSlice::U16(s) => {
                (k.dwt0_vert)(rows(s, &iy[i], w), bit_depth, &mut lo[..w], &mut hi[..w])
            }
        }
        let o = i * wo;
        (k.dwt0_horz)(
            &lo[..w],
            &hi[..w],
            &ix,
            &mut a[o..o + wo],
            &mut out.vb[o..o + wo],
            &mut out.hb[o..o + wo],
            &mut out.db[o..o + wo],
        );
    }
    pool::give_i16(lo);
    pool::give_i16(hi);
    (out, a)
}

/// DWT of scale `scale` (1..=3) from the previous approximation band `src` (w×h, i32).
fn dwt_s123(k: &Kernels, src: &[i32], w: usize, h: usize, scale: usize) -> (Bands<i32>, Vec<i32>) {
    let (wo, ho) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Bands::<i32>::pooled(wo, ho);
    let mut a = pool::i32s(wo * ho);
    let iy = mirror_indices(h);
    let ix = mirror_indices(w);
    let mut lo = pool::i32s(w);
    let mut hi = pool::i32s(w);
    for i in 0..ho {
        let rows = [
            &src[iy[i][0] * w..][..w],
            &src[iy[i][1] * w..][..w],
            &src[iy[i][2] * w..][..w],
            &src[iy[i][3] * w..][..w],
        ];
        (k.dwt_s_vert)(rows, scale, &mut lo[..w], &mut hi[..w]);
        let o = i * wo;
        (k.dwt_s_horz)(
            &lo[..w],
            &hi[..w],
            &ix,
            scale,
            &mut a[o..o + wo],
            &mut out.vb[o..o + wo],
            &mut out.hb[o..o + wo],
            &mut out.db[o..o + wo],
        );
    }
    pool::give_i32(lo);
    pool::give_i32(hi);
    (out, a)
}

/// The four source indices of each DWT output sample along one axis of length `n`: 2i-1..2i+2
/// with libvmaf's boundary rules (`dwt2_src_indices_filt`): the first output reads 1,0,1,2 and
/// indices past the end reflect as 2n-1-k. Lengths below 4 are reflected into range too (libvmaf
/// would read outside the picture there).
pub(crate) fn mirror_indices(n: usize) -> Vec<[usize; 4]> {
    let half = n.div_ceil(2);
    let n = n as i64;
    let fix = |k: i64| -> usize {
        let mut k = k;
        if k >= n {
            k = 2 * n - k - 1;
        }
        k.clamp(0, n - 1) as usize
    };
    (0..half)
        .map(|i| {
            let i = i as i64;
            if i == 0 && half > 2 {
                [fix(1), 0, fix(1), fix(2)]
            } else {
                let b = 2 * i;
                [fix((b - 1).abs()), fix(b), fix(b + 1), fix(b + 2)]
            }
        })
        .collect()
}

/// The rectangle libvmaf processes: `[top, bottom) × [left, right)` of a w×h band.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

/// The pooling region: the band minus `ADM_BORDER_FACTOR` (0.1) on every side (C truncation).
pub(crate) fn pool_region(w: usize, h: usize) -> Region {
    let left = (w as f64 * 0.1 - 0.5) as i64;
    let top = (h as f64 * 0.1 - 0.5) as i64;
    Region {
        top: top.max(0) as usize,
        bottom: (h as i64 - top).clamp(0, h as i64) as usize,
        left: left.max(0) as usize,
        right: (w as i64 - left).clamp(0, w as i64) as usize,
    }
}

/// The pooling region grown by the masking filter's taps (libvmaf's decouple/csf region).
pub(crate) fn filter_region(w: usize, h: usize) -> Region {
    let left = (w as f64 * 0.1 - 0.5 - 1.0) as i64;
    let top = (h as f64 * 0.1 - 0.5 - 1.0) as i64;
    let right = w as i64 - left + 2;
    let bottom = h as i64 - top + 2;
    Region {
        top: top.max(0) as usize,
        bottom: bottom.min(h as i64) as usize,
        left: left.max(0) as usize,
        right: right.min(w as i64) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_reference_is_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<AdmRef>();
    }

    #[test]
    fn small_sizes_do_not_panic_at_any_level() {
        for (w, h) in [(17, 17), (17, 40), (23, 19), (32, 32), (33, 35)] {
            let mut p = Plane::zeroed(w, h, 8);
            p.samples.update(|i, _| ((i * 37) % 251) as u16);
            let mut d = p.clone();
            d.samples
                .update(|i, v| if i % 3 == 0 { 255 - v } else { v });
            let r = AdmRef::new(&p, 8);
            let want = score_with(CpuLevel::Scalar, &r, &d, 8, &AdmParams::default());
            assert!(
                want.adm2.is_finite() && want.adm2 > 0.0,
                "{w}x{h}: {want:?}"
            );
            for lv in CpuLevel::ALL.into_iter().filter(|&l| l <= CpuLevel::get()) {
                let s = score_with(lv, &r, &d, 8, &AdmParams::default());
                assert_eq!(s, want, "{w}x{h}: {lv:?} differs from scalar");
            }
        }
    }

    /// Whole-frame ADM (reference preparation and scoring, both gain limits the models use) of
    /// the set at `level` against scalar, on edge sizes and random content at 8, 10 and 12 bits.
    fn whole_adm_matches_scalar(test: &str, level: CpuLevel) {
        let table = crate::kernels::table_at(test, level, Kernels::for_level, |k| k.level);
        let Some(k) = table else { return };
        let s = scalar::KERNELS;
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let sizes = [
            (17, 17, 8),
            (17, 40, 8),
            (23, 19, 10),
            (33, 35, 8),
            (64, 48, 12),
            (97, 61, 10),
        ];
        for (w, h, bd) in sizes {
            let max = (1u64 << bd) - 1;
            let mut r = Plane::zeroed(w, h, bd);
            r.samples.update(|i, _| {
                let smooth = ((i % w) * 5 + (i / w) * 3) as u64;
                ((smooth + next() % 48) % (max + 1)) as u16
            });
            let mut d = r.clone();
            d.samples
                .update(|_, v| (u64::from(v) + next() % 24).saturating_sub(12).min(max) as u16);
            for gain in [100.0, 1.0] {
                let p = AdmParams {
                    enhn_gain_limit: gain,
                    ..AdmParams::default()
                };
                let a = score_with_kernels(&s, &AdmRef::with_kernels(&r, bd, &s), &d, bd, &p);
                let b = score_with_kernels(&k, &AdmRef::with_kernels(&r, bd, &k), &d, bd, &p);
                assert_eq!(a, b, "{w}x{h} {bd}-bit gain {gain}");
            }
        }
    }

    crate::kernels::simd_tests!(whole_adm_matches_scalar);

    #[test]
    fn indices_match_libvmaf_rules() {
        // n = 10: half 5; outputs 0..5; last two reflect past 9.
        let ix = mirror_indices(10);
        assert_eq!(ix[0], [1, 0, 1, 2]);
        assert_eq!(ix[1], [1, 2, 3, 4]);
        assert_eq!(ix[4], [7, 8, 9, 9]);
        let ix = mirror_indices(11);
        assert_eq!(ix[5], [9, 10, 10, 9]);
    }

    #[test]
    fn default_rfactors_are_libvmafs() {
        // libvmaf hard-codes "around {36453, 36453, 49417}" for the default view; the Watson
        // formula must land within a few units (it gives 36451.7 and 49414.7).
        let f = csf_factors(&AdmParams::default(), 0);
        assert!((f[0] as f64 * 2f64.powi(21) - 36453.0).abs() < 3.0);
        assert!((f[2] as f64 * 2f64.powi(23) - 49417.0).abs() < 3.0);
    }
}
