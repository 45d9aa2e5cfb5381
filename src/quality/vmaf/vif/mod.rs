//! VIF at four scales, as libvmaf's integer extractor (`vif`, integer_vif.c) computes it: the
//! same fixed-point filters, roundings, shifts, log2 table and float accumulation, so the
//! per-scale scores are bit-identical to `integer_vif_scale0..3`.
//!
//! Everything that depends only on the reference (its pyramid, its filtered mean and variance,
//! and the whole VIF denominator) is computed once in [`VifRef::new`]; [`score`] then does only
//! the distorted-side work. The linear filter passes and the per-pixel statistics are the hot
//! loops, in kernel sets (`Kernels`, one table per set, resolved once for a [`CpuLevel`]): the
//! portable filters (`portable.rs`) are written so the compiler vectorises them and are compiled
//! plain in `scalar.rs` (the reference) and with AVX2 enabled in `x86/avx2.rs` (plus hand-written
//! `vpmaddwd` kernels); [`CpuLevel::Avx512Vnni`] machines get a hand-written set
//! (`x86/avx512.rs`: `vpdpwssd` filters, masked tails, the σ/log statistics of a row in one
//! pass). Every SIMD set is tested against scalar on random input.

use crate::cpu::CpuLevel;
use crate::frame::{Plane, SampleSlice};
use std::borrow::Cow;
use std::sync::OnceLock;

mod portable;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// The 1-D Gaussian filters per scale, Q16 (each sums to 65536); libvmaf integer_vif.h
/// `vif_filter1d_table`.
pub const FILTERS: [&[u16]; 4] = [
    &[
        489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640,
        935, 489,
    ],
    &[1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244],
    &[3571, 16004, 26386, 16004, 3571],
    &[10904, 43728, 10904],
];

/// The noise variance σ²ₙ = 2 in libvmaf's Q16 (`sigma_nsq = 65536 << 1`).
const SIGMA_NSQ: i32 = 65536 << 1;

/// libvmaf's default `vif_enhn_gain_limit` (no limit in practice); the neg model sets 1.0.
pub const DEFAULT_ENHN_GAIN_LIMIT: f64 = 100.0;

/// Smallest luma plane the four-scale pyramid supports: the 17-tap filter at scale 0 mirrors
/// up to 8 samples and the 3-tap filter at scale 3 (1/8 size) needs at least 2.
pub const MIN_SIZE: usize = 16;

/// `round(log2f(i) * 2048)` for i in 32767..65536 (libvmaf `log_generate`).
fn log2_table() -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u16; 65536];
        for (i, v) in t.iter_mut().enumerate().skip(32767) {
            *v = ((i as f32).log2() * 2048.0).round() as u16;
        }
        t
    })
}

/// log2(x)·2048 from the 16 leading bits of x (x ≥ 2^16).
#[inline(always)]
fn log2_32(table: &[u16], x: u32) -> i64 {
    let k = 16 - x.leading_zeros() as i32;
    table[(x >> k) as usize] as i64 + 2048 * k as i64
}

#[inline(always)]
fn log2_64(table: &[u16], x: u64) -> i64 {
    let k = 48 - x.leading_zeros() as i32;
    table[(x >> k) as usize] as i64 + 2048 * k as i64
}

use super::mirror;

/// Rounding and shift of the vertical pass: at scale 0 it brings `bit_depth`-bit samples to
/// the Q8-ish working range libvmaf uses; above scale 0 samples are already 16-bit.
fn vertical_shifts(scale: usize, bit_depth: u8) -> VShift {
    if scale == 0 {
        let bd = bit_depth as u32;
        let sq_shift = 2 * (bd - 8);
        let sq_round = if sq_shift == 0 {
            0
        } else {
            1u64 << (sq_shift - 1)
        };
        VShift {
            mu_round: 1 << (bd - 1),
            mu_shift: bd,
            sq_round,
            sq_shift,
        }
    } else {
        VShift {
            mu_round: 32768,
            mu_shift: 16,
            sq_round: 32768,
            sq_shift: 16,
        }
    }
}

/// Rounding and shift applied to a vertical pass's sums: the mean and the second moments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VShift {
    pub mu_round: u32,
    pub mu_shift: u32,
    pub sq_round: u64,
    pub sq_shift: u32,
}

/// Vertical statistics of one image for one output row: mean and Σf·x².
pub(crate) type VertRefFn<S = u16> = fn(&[&[S]], &[u16], VShift, &mut [u32], &mut [u32]);
/// Vertical statistics of the distorted image: mean, Σf·d², Σf·r·d.
pub(crate) type VertDistFn<S = u16> =
    fn(&[&[S]], &[&[S]], &[u16], VShift, &mut [u32], &mut [u32], &mut [u32]);
/// Vertical pass of the pyramid: (Σf·x + round) >> shift, kept to 16 bits.
pub(crate) type VertMuFn<S = u16> = fn(&[&[S]], &[u16], u32, u32, &mut [u32]);
/// Horizontal pass over a row padded by the filter's half width on each side.
pub(crate) type HorizFn = fn(&[u32], &[u16], &mut [u32]);

/// One VIF kernel set: the linear filters and the per-pixel statistics of one instruction set.
/// `scalar::KERNELS` is the reference; [`Kernels::for_level`] picks the best set a CPU level
/// allows. Drivers call through it once per row, never per pixel.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    /// 32-bit products: only valid for 8-bit samples at scale 0 (libvmaf uses u32 there too).
    pub vert_ref32: VertRefFn,
    pub vert_ref64: VertRefFn,
    pub vert_dist32: VertDistFn,
    pub vert_dist64: VertDistFn,
    pub vert_mu: VertMuFn,
    /// `vert_ref32`, `vert_dist32` and `vert_mu` over byte samples: scale 0 of 8-bit frames
    /// stored in bytes.
    pub vert_ref8: VertRefFn<u8>,
    pub vert_dist8: VertDistFn<u8>,
    pub vert_mu8: VertMuFn<u8>,
    /// Plain Σf·x of a mean row. Every mean row fits 16 bits ((Σf·x + round) >> shift with
    /// Σf = 2^16 and x below 2^shift or 2^16), which the AVX-512 kernel relies on; the others
    /// wrap in u32 as libvmaf's accumulators do.
    pub horiz_u32: HorizFn,
    /// `horiz_u32` at the even outputs only, `out[j]` = output 2j: the pyramid keeps only even
    /// columns, so the odd ones are not computed.
    pub horiz_u32_even: HorizFn,
    /// (Σf·x + 2^15) >> 16 of 32-bit inputs, truncated to u32. Computed as two 16-bit halves
    /// in u32 (exact because the filters sum to 2^16).
    pub horiz_q16: HorizFn,
    /// A distorted row's numerator terms from its horizontal sums: (Σ log terms ·2048 over
    /// pixels with σ₁² ≥ σ²ₙ, σ₁₂ > 0, σ₂² > 0; Σ σ₂² over pixels with σ₁² < σ²ₙ).
    pub dist_terms: DistTermsFn,
    /// A reference row's σ₁² (written to the last argument) from its mean and Σf·x², and its
    /// denominator terms: (Σ log2(1 + σ₁²/σ²ₙ)·2048 where σ₁² ≥ σ²ₙ, count of the others).
    pub ref_terms: RefTermsFn,
    /// What the vertical kernels xor into every u32 they store and the horizontal kernels of
    /// the same set expect (0 but for the AVX-512 set); invisible outside the set, read by the
    /// tests to compare raw vertical outputs.
    #[cfg_attr(not(test), allow(dead_code))]
    pub bias: u32,
}

/// (μ₁, Σf·x², σ₁² out) → (log terms, count below the noise floor).
pub(crate) type RefTermsFn = fn(&[u32], &[u32], &mut [i32]) -> (i64, i64);

/// (μ₁, σ₁², μ₂ = Σf·μ, Σf·d², Σf·r·d, gain limit) → (log terms, non-log sum).
pub(crate) type DistTermsFn = fn(&[u32], &[i32], &[u32], &[u32], &[u32], f64) -> (i64, i64);

/// σ₂² and σ₁₂ of one pixel from its sums (libvmaf: the means' products rounded in Q32, the
/// wrapping differences, σ₂² clamped at 0).
#[inline(always)]
fn sigma2_sigma12(mu1: u32, mu2: u32, yy: u32, xy: u32) -> (i32, i32) {
    let m2 = mu2 as u64;
    let mu2_sq = ((m2 * m2 + (1 << 31)) >> 32) as u32;
    let mu1_mu2 = ((mu1 as u64 * m2 + (1 << 31)) >> 32) as u32;
    let sigma2_sq = (yy.wrapping_sub(mu2_sq) as i32).max(0);
    (sigma2_sq, xy.wrapping_sub(mu1_mu2) as i32)
}

const EPS: f64 = 65536.0 * 1.0e-10;

/// The numerator's log term of one pixel (libvmaf vif_statistic: g, sv_sq, and
/// log2(sv_sq + σ²ₙ + g²σ₁²) − log2(sv_sq + σ²ₙ) in the Q11 table).
#[inline(always)]
fn log_term(table: &[u16], s1: i32, sigma2_sq: i32, sigma12: i32, egl: f64) -> i64 {
    let g = sigma12 as f64 / (s1 as f64 + EPS);
    let sv_sq = ((sigma2_sq as f64 - g * sigma12 as f64) as i32).max(0);
    let g = if g < egl { g } else { egl };
    let numer1 = (sv_sq as u32).wrapping_add(SIGMA_NSQ as u32);
    let numer1_tmp = (g * g * s1 as f64) as i64 + numer1 as i64;
    log2_64(table, numer1_tmp as u64) - log2_64(table, numer1 as u64)
}

// The AVX-512 set needs AVX-512 VNNI; at plain AVX-512 the AVX2 set runs.
crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx512Vnni, x86::avx512::KERNELS), (Avx2, x86::avx2::KERNELS)]);

/// One image of the pyramid (row-major, stride == width).
#[derive(Clone, Debug)]
struct Img<'a> {
    w: usize,
    h: usize,
    data: Pixels<'a>,
}

/// An image's samples: bytes only at scale 0 of a frame stored in bytes; borrowed for the
/// distorted frame's scale 0 (no copy), owned for the pyramid.
#[derive(Clone, Debug)]
enum Pixels<'a> {
    U8(Cow<'a, [u8]>),
    U16(Cow<'a, [u16]>),
}

impl<'a> Img<'a> {
    /// A plane's samples as stored, borrowed.
    fn borrow(p: &'a Plane) -> Img<'a> {
        let data = match p.slice() {
            SampleSlice::U8(v) => Pixels::U8(v.into()),
            SampleSlice::U16(v) => Pixels::U16(v.into()),
        };
        Img {
            w: p.width,
            h: p.height,
            data,
        }
    }

    /// A copy that owns its samples.
    fn owned(&self) -> Img<'static> {
        let data = match &self.data {
            Pixels::U8(v) => Pixels::U8(Cow::Owned(v.to_vec())),
            Pixels::U16(v) => Pixels::U16(Cow::Owned(v.to_vec())),
        };
        Img {
            w: self.w,
            h: self.h,
            data,
        }
    }

    /// This image in the storage of `like` (mixed storage only comes from planes built by hand:
    /// bytes are widened, words narrowed, which is exact for the 8-bit samples bytes hold).
    fn stored_like(self, like: &Img) -> Img<'a> {
        let data = match (self.data, &like.data) {
            (Pixels::U16(v), Pixels::U8(_)) => {
                Pixels::U8(Cow::Owned(v.iter().map(|&s| s as u8).collect()))
            }
            (Pixels::U8(v), Pixels::U16(_)) => {
                Pixels::U16(Cow::Owned(v.iter().map(|&s| u16::from(s)).collect()))
            }
            (d, _) => d,
        };
        Img { data, ..self }
    }
}

/// The `taps` (≤ [`MAX_TAPS`]) rows of a `w`×`h` image centred on `y`, mirrored at the edges
/// (no allocation).
fn rows<S>(data: &[S], w: usize, h: usize, y: usize, taps: usize) -> Rows<'_, S> {
    let half = (taps / 2) as isize;
    let mut r = [&data[..0]; MAX_TAPS];
    for (k, slot) in r[..taps].iter_mut().enumerate() {
        let y = mirror(y as isize - half + k as isize, h);
        *slot = &data[y * w..(y + 1) * w];
    }
    Rows(r, taps)
}

/// The longest filter (scale 0).
const MAX_TAPS: usize = 17;

/// A filter's window of rows.
struct Rows<'a, S>([&'a [S]; MAX_TAPS], usize);

impl<'a, S> std::ops::Deref for Rows<'a, S> {
    type Target = [&'a [S]];
    fn deref(&self) -> &[&'a [S]] {
        &self.0[..self.1]
    }
}

/// A set's `horiz_u32_even` through its full horizontal pass (`horiz`, on the same input), in
/// chunks on the stack: for filters and sets without a decimating kernel.
pub(crate) fn even_outputs(horiz: HorizFn, src: &[u32], f: &[u16], out: &mut [u32]) {
    const N: usize = 128;
    let mut full = [0u32; 2 * N];
    for (c, o) in out.chunks_mut(N).enumerate() {
        // Full outputs 2cN .. 2cN + 2·len − 1 (the last odd one is not needed).
        let n = 2 * o.len() - 1;
        horiz(&src[2 * c * N..], f, &mut full[..n]);
        for (k, v) in o.iter_mut().enumerate() {
            *v = full[2 * k];
        }
    }
}

/// Fills the `half` samples on each side of the row in `pad[half..len - half]` by mirroring
/// (libvmaf PADDING_SQ_DATA), so a vertical pass can write straight into the padded row.
fn mirror_edges(pad: &mut [u32], half: usize) {
    let w = pad.len() - 2 * half;
    for f in 1..=half {
        pad[half - f] = pad[half + mirror(f as isize, w)];
        pad[half + w - 1 + f] = pad[half + mirror((w - 1 - f.min(w - 1)) as isize, w)];
    }
}

/// Next pyramid level: filter with scale `scale + 1`'s filter and keep even rows and columns
/// (libvmaf subsample_rd + decimate_and_pad; only the kept rows are computed).
fn downsample(k: &Kernels, img: &Img, scale: usize, bit_depth: u8) -> Img<'static> {
    let f = FILTERS[scale + 1];
    let half = f.len() / 2;
    let vs = vertical_shifts(scale, bit_depth);
    let (w, h) = (img.w, img.h);
    let (w2, h2) = (w / 2, h / 2);
    let mut data = vec![0u16; w2 * h2];
    let mut pad = vec![0u32; w + 2 * half];
    let mut hrow = vec![0u32; w];
    for i in 0..h2 {
        let (r, s, m) = (vs.mu_round, vs.mu_shift, &mut pad[half..half + w]);
        match &img.data {
            Pixels::U8(d) => (k.vert_mu8)(&rows(d, w, h, 2 * i, f.len()), f, r, s, m),
            Pixels::U16(d) => (k.vert_mu)(&rows(d, w, h, 2 * i, f.len()), f, r, s, m),
        }
        mirror_edges(&mut pad, half);
        (k.horiz_u32_even)(&pad, f, &mut hrow[..w2]);
        let orow = &mut data[i * w2..(i + 1) * w2];
        for (o, &v) in orow.iter_mut().zip(&hrow[..w2]) {
            *o = (v.wrapping_add(32768) >> 16) as u16;
        }
    }
    Img {
        w: w2,
        h: h2,
        data: Pixels::U16(data.into()),
    }
}

/// Reference-side data of one scale.
#[derive(Clone, Debug)]
struct RefScale {
    img: Img<'static>,
    /// Σf·x after both passes (Q16 mean), per pixel.
    mu1: Vec<u32>,
    /// σ₁² per pixel (wrapping difference as libvmaf keeps it).
    sigma1_sq: Vec<i32>,
    /// Σ over pixels with σ₁² ≥ σ²ₙ of log2(1 + σ₁²/σ²ₙ)·2048: the log part of the denominator.
    den_log: i64,
    /// Number of pixels with σ₁² < σ²ₙ (each adds 1 to numerator and denominator).
    den_non_log: i64,
}

/// Everything VIF needs from a reference frame, computed once and shared (read-only) by every
/// distorted frame scored against it.
#[derive(Clone, Debug)]
pub struct VifRef {
    bit_depth: u8,
    scales: Vec<RefScale>,
}

/// VIF of one distorted frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VifScore {
    /// libvmaf's `integer_vif_scale0..3` (num/den in f32, as libvmaf reports them).
    pub scales: [f64; 4],
    /// Per-scale numerator and denominator (f32 values).
    pub num: [f64; 4],
    pub den: [f64; 4],
}

/// Row scratch for one scale: the vertical passes write into the middle of the padded rows.
struct Scratch {
    half: usize,
    pmu: Vec<u32>,
    pa: Vec<u32>,
    pb: Vec<u32>,
    ha: Vec<u32>,
    hb: Vec<u32>,
    hc: Vec<u32>,
}

impl Scratch {
    fn new(w: usize, half: usize) -> Scratch {
        Scratch {
            half,
            pmu: vec![0; w + 2 * half],
            pa: vec![0; w + 2 * half],
            pb: vec![0; w + 2 * half],
            ha: vec![0; w],
            hb: vec![0; w],
            hc: vec![0; w],
        }
    }

    fn width(&self) -> usize {
        self.ha.len()
    }
}

/// The middle (unpadded) part of a padded row.
fn mid(pad: &mut [u32], half: usize) -> &mut [u32] {
    let n = pad.len();
    &mut pad[half..n - half]
}

/// Reference statistics of row `i`: μ₁ and σ₁² per pixel, and the row's denominator terms
/// (log part, count of pixels below the noise floor).
#[allow(clippy::too_many_arguments)]
fn ref_row(
    k: &Kernels,
    img: &Img,
    scale: usize,
    bd: u8,
    i: usize,
    t: &mut Scratch,
    mu1: &mut [u32],
    s1: &mut [i32],
) -> (i64, i64) {
    let f = FILTERS[scale];
    let half = f.len() / 2;
    let vs = vertical_shifts(scale, bd);
    debug_assert_eq!((t.half, t.width()), (half, img.w));
    let (w, h, n) = (img.w, img.h, f.len());
    let (mu, sq) = (mid(&mut t.pmu, half), mid(&mut t.pa, half));
    match &img.data {
        Pixels::U8(d) => (k.vert_ref8)(&rows(d, w, h, i, n), f, vs, mu, sq),
        Pixels::U16(d) => {
            let vert = if scale == 0 && bd == 8 {
                k.vert_ref32
            } else {
                k.vert_ref64
            };
            vert(&rows(d, w, h, i, n), f, vs, mu, sq)
        }
    }
    mirror_edges(&mut t.pmu, half);
    mirror_edges(&mut t.pa, half);
    (k.horiz_u32)(&t.pmu, f, mu1);
    (k.horiz_q16)(&t.pa, f, &mut t.ha);
    (k.ref_terms)(mu1, &t.ha, s1)
}

/// Vertical + horizontal filtering of the ref-side statistics for one scale.
fn ref_scale(k: &Kernels, img: Img<'static>, scale: usize, bit_depth: u8) -> RefScale {
    let (w, h) = (img.w, img.h);
    let mut t = Scratch::new(w, FILTERS[scale].len() / 2);
    let mut mu1 = vec![0u32; w * h];
    let mut sigma1_sq = vec![0i32; w * h];
    let (mut den_log, mut den_non_log) = (0i64, 0i64);
    for i in 0..h {
        let (a, b) = ref_row(
            k,
            &img,
            scale,
            bit_depth,
            i,
            &mut t,
            &mut mu1[i * w..(i + 1) * w],
            &mut sigma1_sq[i * w..(i + 1) * w],
        );
        den_log += a;
        den_non_log += b;
    }
    RefScale {
        img,
        mu1,
        sigma1_sq,
        den_log,
        den_non_log,
    }
}

impl VifRef {
    /// Prepares a reference luma plane of `bit_depth` (8..=16) bits.
    pub fn new(luma: &Plane, bit_depth: u8) -> VifRef {
        VifRef::with_kernels(luma, bit_depth, Kernels::get())
    }

    pub(crate) fn with_kernels(luma: &Plane, bit_depth: u8, k: &Kernels) -> VifRef {
        let mut img = Some(Img::borrow(luma).owned());
        let mut scales = Vec::with_capacity(4);
        for scale in 0..4 {
            let cur = img.take().expect("pyramid level");
            img = (scale < 3).then(|| downsample(k, &cur, scale, bit_depth));
            scales.push(ref_scale(k, cur, scale, bit_depth));
        }
        VifRef { bit_depth, scales }
    }

    pub fn width(&self) -> usize {
        self.scales[0].img.w
    }

    pub fn height(&self) -> usize {
        self.scales[0].img.h
    }

    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }
}

/// Distorted-side numerator terms of row `i` (log part, non-log sum), given the reference's
/// μ₁ and σ₁² for that row.
#[allow(clippy::too_many_arguments)]
fn dist_row(
    k: &Kernels,
    rimg: &Img,
    dimg: &Img,
    scale: usize,
    bd: u8,
    egl: f64,
    i: usize,
    t: &mut Scratch,
    mu1: &[u32],
    s1row: &[i32],
) -> (i64, i64) {
    let f = FILTERS[scale];
    let half = f.len() / 2;
    let vs = vertical_shifts(scale, bd);
    debug_assert_eq!((t.half, t.width()), (half, dimg.w));
    let (w, h, n) = (dimg.w, dimg.h, f.len());
    let (pmu, pa, pb) = (&mut t.pmu, &mut t.pa, &mut t.pb);
    let (mu, yy, xy) = (mid(pmu, half), mid(pa, half), mid(pb, half));
    match (&rimg.data, &dimg.data) {
        (Pixels::U8(r), Pixels::U8(d)) => (k.vert_dist8)(
            &rows(r, w, h, i, n),
            &rows(d, w, h, i, n),
            f,
            vs,
            mu,
            yy,
            xy,
        ),
        (Pixels::U16(r), Pixels::U16(d)) => {
            let vert = if scale == 0 && bd == 8 {
                k.vert_dist32
            } else {
                k.vert_dist64
            };
            vert(
                &rows(r, w, h, i, n),
                &rows(d, w, h, i, n),
                f,
                vs,
                mu,
                yy,
                xy,
            )
        }
        _ => unreachable!("dist_row takes images of one storage"),
    }
    for p in [pmu, pa, pb] {
        mirror_edges(p, half);
    }
    (k.horiz_u32)(&t.pmu, f, &mut t.hc);
    (k.horiz_q16)(&t.pa, f, &mut t.ha);
    (k.horiz_q16)(&t.pb, f, &mut t.hb);
    (k.dist_terms)(mu1, s1row, &t.hc, &t.ha, &t.hb, egl)
}

/// libvmaf's float num and den of one scale from the integer accumulators.
fn num_den(num_log: i64, num_non_log: i64, den_log: i64, den_non_log: i64) -> (f32, f32) {
    let non = den_non_log as f64;
    let num = num_log as f64 / 2048.0 + (non - (num_non_log as f64 / 16384.0) / 65025.0);
    let den = den_log as f64 / 2048.0 + non;
    (num as f32, den as f32)
}

/// Distorted-side statistics of one scale against a prepared reference scale.
fn dist_scale(k: &Kernels, r: &RefScale, dimg: &Img, scale: usize, bd: u8, egl: f64) -> (f32, f32) {
    let (w, h) = (dimg.w, dimg.h);
    let mut t = Scratch::new(w, FILTERS[scale].len() / 2);
    let (mut num_log, mut num_non_log) = (0i64, 0i64);
    for i in 0..h {
        let (a, b) = dist_row(
            k,
            &r.img,
            dimg,
            scale,
            bd,
            egl,
            i,
            &mut t,
            &r.mu1[i * w..(i + 1) * w],
            &r.sigma1_sq[i * w..(i + 1) * w],
        );
        num_log += a;
        num_non_log += b;
    }
    num_den(num_log, num_non_log, r.den_log, r.den_non_log)
}

/// VIF of one pair without keeping the reference's statistics: reference and distorted rows are
/// processed together, as libvmaf does. For a reference scored only once (the streaming
/// scorer) this avoids storing and re-reading two frame-sized arrays; the result is identical
/// to [`VifRef::new`] + [`score`].
pub fn score_pair(reference: &Plane, dist: &Plane, bit_depth: u8, egl: f64) -> VifScore {
    score_pair_with_kernels(reference, dist, bit_depth, egl, Kernels::get())
}

pub(crate) fn score_pair_with_kernels(
    reference: &Plane,
    dist: &Plane,
    bd: u8,
    egl: f64,
    k: &Kernels,
) -> VifScore {
    assert_eq!(
        (dist.width, dist.height),
        (reference.width, reference.height)
    );
    let mut rimg = Img::borrow(reference);
    let mut dimg = Img::borrow(dist).stored_like(&rimg);
    let mut out = VifScore::default();
    for (scale, f) in FILTERS.iter().enumerate() {
        let (w, h) = (dimg.w, dimg.h);
        let mut t = Scratch::new(w, f.len() / 2);
        let mut mu1 = vec![0u32; w];
        let mut s1 = vec![0i32; w];
        let (mut nl, mut nn, mut dl, mut dn) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..h {
            let (a, b) = ref_row(k, &rimg, scale, bd, i, &mut t, &mut mu1, &mut s1);
            dl += a;
            dn += b;
            let (a, b) = dist_row(k, &rimg, &dimg, scale, bd, egl, i, &mut t, &mu1, &s1);
            nl += a;
            nn += b;
        }
        let (num, den) = num_den(nl, nn, dl, dn);
        out.num[scale] = num as f64;
        out.den[scale] = den as f64;
        out.scales[scale] = (num / den) as f64;
        if scale < 3 {
            rimg = downsample(k, &rimg, scale, bd);
            dimg = downsample(k, &dimg, scale, bd);
        }
    }
    out
}

/// Scores a distorted luma plane against a prepared reference. `egl` is the enhancement gain
/// limit (`vif_enhn_gain_limit`, ≥ 1; [`DEFAULT_ENHN_GAIN_LIMIT`] unless the model says).
///
/// The plane must have the reference's size (the engine checks this before calling).
pub fn score(r: &VifRef, dist: &Plane, egl: f64) -> VifScore {
    score_with_kernels(r, dist, egl, Kernels::get())
}

pub(crate) fn score_with_kernels(r: &VifRef, dist: &Plane, egl: f64, k: &Kernels) -> VifScore {
    assert_eq!((dist.width, dist.height), (r.width(), r.height()));
    let mut img = Img::borrow(dist).stored_like(&r.scales[0].img);
    let mut out = VifScore::default();
    for scale in 0..4 {
        let (num, den) = dist_scale(k, &r.scales[scale], &img, scale, r.bit_depth, egl);
        out.num[scale] = num as f64;
        out.den[scale] = den as f64;
        out.scales[scale] = (num / den) as f64;
        if scale < 3 {
            img = downsample(k, &img, scale, r.bit_depth);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scalar::{dist_terms_scalar, log_terms_scalar, ref_terms_scalar};
    use super::*;

    use crate::kernels::XorShift;

    fn plane(w: usize, h: usize, bd: u8, seed: u64) -> Plane {
        let mut rng = XorShift(seed);
        let mut p = Plane::zeroed(w, h, bd);
        p.samples.update(|i, _| {
            let smooth = ((i % w) * 3 + (i / w) * 2) as u64;
            ((smooth + rng.next() % 64) % (1 << bd)) as u16
        });
        p
    }

    fn random_rows(rng: &mut XorShift, n: usize, w: usize, max: u64) -> Vec<Vec<u16>> {
        (0..n)
            .map(|_| (0..w).map(|_| (rng.next() % max) as u16).collect())
            .collect()
    }

    /// The table a check needs at `level`, or `None` (reported as skipped).
    fn table(test: &str, level: CpuLevel) -> Option<Kernels> {
        crate::kernels::table_at(test, level, Kernels::for_level, |k| k.level)
    }

    /// The linear filters of the set at `level` against scalar, on random rows of every filter
    /// length, widths around the block sizes, 8- and 16-bit samples.
    fn filters_match_scalar(test: &str, level: CpuLevel) {
        let Some(v) = table(test, level) else { return };
        let s = scalar::KERNELS;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let shifts = [
            vertical_shifts(0, 8),
            vertical_shifts(0, 10),
            vertical_shifts(1, 8),
        ];
        for &w in &[1usize, 7, 16, 33, 100, 511, 512, 513, 1100] {
            for (fi, f) in FILTERS.iter().enumerate() {
                let vs = shifts[fi % 3];
                let vs_narrow = vertical_shifts(0, 8);
                // 8-bit samples for the u32 kernels, 16-bit for the others.
                for (max, narrow) in [(256u64, true), (65536, false)] {
                    let rows = random_rows(&mut rng, f.len(), w, max);
                    let drows = random_rows(&mut rng, f.len(), w, max);
                    let r: Vec<&[u16]> = rows.iter().map(|r| &r[..]).collect();
                    let d: Vec<&[u16]> = drows.iter().map(|r| &r[..]).collect();
                    let mut o: Vec<Vec<u32>> = vec![vec![0u32; w]; 6];
                    let (vr, vd) = if narrow {
                        ((s.vert_ref32, v.vert_ref32), (s.vert_dist32, v.vert_dist32))
                    } else {
                        ((s.vert_ref64, v.vert_ref64), (s.vert_dist64, v.vert_dist64))
                    };
                    let vs = if narrow { vs_narrow } else { vs };
                    let [a, b, c, d2, e, g] = &mut o[..] else {
                        unreachable!()
                    };
                    // The SIMD set's vertical outputs carry its bias.
                    let unbias =
                        |x: &[u32]| -> Vec<u32> { x.iter().map(|&x| x ^ v.bias).collect() };
                    (vr.0)(&r, f, vs, a, b);
                    (vr.1)(&r, f, vs, d2, e);
                    assert_eq!((a.clone(), b.clone()), (unbias(d2), unbias(e)));
                    (vd.0)(&r, &d, f, vs, a, b, c);
                    (vd.1)(&r, &d, f, vs, d2, e, g);
                    assert_eq!(
                        (a.clone(), b.clone(), c.clone()),
                        (unbias(d2), unbias(e), unbias(g))
                    );
                    (s.vert_mu)(&r, f, vs.mu_round, vs.mu_shift, a);
                    (v.vert_mu)(&r, f, vs.mu_round, vs.mu_shift, d2);
                    assert_eq!(*a, unbias(d2));
                    if narrow {
                        // The byte kernels on the same samples give the same rows.
                        let bytes = |rows: &[Vec<u16>]| -> Vec<Vec<u8>> {
                            rows.iter()
                                .map(|r| r.iter().map(|&x| x as u8).collect())
                                .collect()
                        };
                        let (rb, db) = (bytes(&rows), bytes(&drows));
                        let r8: Vec<&[u8]> = rb.iter().map(|r| &r[..]).collect();
                        let d8: Vec<&[u8]> = db.iter().map(|r| &r[..]).collect();
                        (s.vert_ref32)(&r, f, vs, a, b);
                        (v.vert_ref8)(&r8, f, vs, d2, e);
                        assert_eq!(
                            (a.clone(), b.clone()),
                            (unbias(d2), unbias(e)),
                            "ref8 w {w}"
                        );
                        (s.vert_dist32)(&r, &d, f, vs, a, b, c);
                        (v.vert_dist8)(&r8, &d8, f, vs, d2, e, g);
                        assert_eq!(
                            (a.clone(), b.clone(), c.clone()),
                            (unbias(d2), unbias(e), unbias(g)),
                            "dist8 w {w}"
                        );
                        (s.vert_mu)(&r, f, vs.mu_round, vs.mu_shift, a);
                        (v.vert_mu8)(&r8, f, vs.mu_round, vs.mu_shift, d2);
                        assert_eq!(*a, unbias(d2), "mu8 w {w}");
                    }
                }
                let src: Vec<u32> = (0..w + f.len()).map(|_| rng.next() as u32).collect();
                let biased: Vec<u32> = src.iter().map(|&x| x ^ v.bias).collect();
                // Mean rows (the only input of horiz_u32) fit 16 bits.
                let src16: Vec<u32> = src.iter().map(|&x| x & 0xffff).collect();
                let biased16: Vec<u32> = src16.iter().map(|&x| x ^ v.bias).collect();
                let (mut a, mut b) = (vec![0u32; w], vec![0u32; w]);
                (s.horiz_u32)(&src16, f, &mut a);
                (v.horiz_u32)(&biased16, f, &mut b);
                assert_eq!(a, b);
                // The decimating pass gives the even outputs.
                let evens: Vec<u32> = a.iter().step_by(2).take(w / 2).copied().collect();
                let mut e = vec![0u32; w / 2];
                (s.horiz_u32_even)(&src16, f, &mut e);
                assert_eq!(e, evens, "scalar even w {w}");
                (v.horiz_u32_even)(&biased16, f, &mut e);
                assert_eq!(e, evens, "even w {w}");
                (s.horiz_q16)(&src, f, &mut a);
                (v.horiz_q16)(&biased, f, &mut b);
                assert_eq!(a, b);
                // The split-halves Q16 pass equals the plain 64-bit computation.
                for (j, &x) in a.iter().enumerate() {
                    let want: u64 = f
                        .iter()
                        .enumerate()
                        .map(|(k, &c)| c as u64 * src[j + k] as u64)
                        .sum::<u64>();
                    assert_eq!(x, ((want + 32768) >> 16) as u32);
                }
            }
        }
    }

    /// The scalar kernels (pairs of taps, blocks, tails) against the plain per-tap sums in u64
    /// with libvmaf's roundings, so the shared block routine is checked on its own.
    #[test]
    fn scalar_kernels_match_plain_sums() {
        let s = scalar::KERNELS;
        let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
        let fin = |v: u64, round: u64, shift: u32| ((v + round) >> shift) as u32;
        for &w in &[1usize, 15, 16, 17, 40] {
            for (fi, f) in FILTERS.iter().enumerate() {
                for (bd, scale) in [(8u8, 0usize), (10, 0), (8, 1 + fi % 3)] {
                    let vs = vertical_shifts(scale, bd);
                    let max = if scale == 0 { 1u64 << bd } else { 65536 };
                    let rows = random_rows(&mut rng, f.len(), w, max);
                    let drows = random_rows(&mut rng, f.len(), w, max);
                    let r: Vec<&[u16]> = rows.iter().map(|r| &r[..]).collect();
                    let d: Vec<&[u16]> = drows.iter().map(|r| &r[..]).collect();
                    // Σ_k f[k]·g(r_k, d_k) in u64, per column.
                    let sum = |j: usize, g: &dyn Fn(u64, u64) -> u64| -> u64 {
                        (0..f.len())
                            .map(|k| f[k] as u64 * g(r[k][j] as u64, d[k][j] as u64))
                            .sum()
                    };
                    let (vr, vd) = if scale == 0 && bd == 8 {
                        (s.vert_ref32, s.vert_dist32)
                    } else {
                        (s.vert_ref64, s.vert_dist64)
                    };
                    let mut o = vec![vec![0u32; w]; 5];
                    let [mu, sq, yy, xy, m] = &mut o[..] else {
                        unreachable!()
                    };
                    vr(&r, f, vs, mu, sq);
                    for j in 0..w {
                        let m1 =
                            (sum(j, &|x, _| x) as u32).wrapping_add(vs.mu_round) >> vs.mu_shift;
                        assert_eq!(mu[j], m1);
                        assert_eq!(sq[j], fin(sum(j, &|x, _| x * x), vs.sq_round, vs.sq_shift));
                    }
                    vd(&r, &d, f, vs, mu, yy, xy);
                    (s.vert_mu)(&d, f, vs.mu_round, vs.mu_shift, m);
                    for j in 0..w {
                        let m2 =
                            (sum(j, &|_, y| y) as u32).wrapping_add(vs.mu_round) >> vs.mu_shift;
                        assert_eq!((mu[j], m[j]), (m2, m2 as u16 as u32));
                        assert_eq!(yy[j], fin(sum(j, &|_, y| y * y), vs.sq_round, vs.sq_shift));
                        assert_eq!(xy[j], fin(sum(j, &|x, y| x * y), vs.sq_round, vs.sq_shift));
                    }
                }
                let src: Vec<u32> = (0..w + f.len()).map(|_| rng.next() as u32).collect();
                let mut out = vec![0u32; w];
                (s.horiz_u32)(&src, f, &mut out);
                for (j, &o) in out.iter().enumerate() {
                    let want = (0..f.len()).fold(0u32, |a, k| {
                        a.wrapping_add((f[k] as u32).wrapping_mul(src[j + k]))
                    });
                    assert_eq!(o, want);
                }
            }
        }
    }

    /// The distorted row statistics of the set at `level` against scalar.
    fn dist_terms_match_scalar(test: &str, level: CpuLevel) {
        let Some(v) = table(test, level) else { return };
        let mut rng = XorShift(777);
        for &n in &[0usize, 1, 7, 16, 17, 33, 1000] {
            for &egl in &[100.0, 1.0, 2.5] {
                // Means around the working range, sums near the means' squares (so
                // σ₂², σ₁₂ land on both sides of zero) and σ₁² around the noise floor.
                let mu1: Vec<u32> = (0..n).map(|_| rng.next() as u32).collect();
                let mu2: Vec<u32> = (0..n).map(|_| rng.next() as u32).collect();
                let near = |rng: &mut XorShift, m: u32, o: u32| -> u32 {
                    let p = ((m as u64 * o as u64 + (1 << 31)) >> 32) as u32;
                    match rng.next() % 3 {
                        0 => rng.next() as u32,
                        _ => p
                            .wrapping_add((rng.next() % 4_000_000) as u32)
                            .wrapping_sub(1_000_000),
                    }
                };
                let yy: Vec<u32> = (0..n).map(|j| near(&mut rng, mu2[j], mu2[j])).collect();
                let xy: Vec<u32> = (0..n).map(|j| near(&mut rng, mu1[j], mu2[j])).collect();
                let s1: Vec<i32> = (0..n)
                    .map(|_| match rng.next() % 3 {
                        0 => rng.next() as i32,
                        1 => (rng.next() % 50_000_000) as i32,
                        _ => SIGMA_NSQ + (rng.next() % 3) as i32 - 1,
                    })
                    .collect();
                assert_eq!(
                    dist_terms_scalar(&mu1, &s1, &mu2, &yy, &xy, egl),
                    (v.dist_terms)(&mu1, &s1, &mu2, &yy, &xy, egl),
                    "n={n} egl={egl}"
                );
            }
        }
    }

    /// The reference row statistics of the set at `level` against scalar.
    fn ref_terms_match_scalar(test: &str, level: CpuLevel) {
        let Some(v) = table(test, level) else { return };
        if v.level == CpuLevel::Avx2 {
            eprintln!("skipped: {test}: the AVX2 set runs the scalar ref_terms");
            return;
        }
        let mut rng = XorShift(4242);
        for &n in &[0usize, 1, 15, 16, 17, 100, 1000] {
            let mu: Vec<u32> = (0..n).map(|_| rng.next() as u32).collect();
            // Σf·x² near μ² (σ₁² around the noise floor and both signs) or anywhere.
            let xx: Vec<u32> = mu
                .iter()
                .map(|&m| {
                    let sq = ((m as u64 * m as u64 + (1 << 31)) >> 32) as u32;
                    match rng.next() % 3 {
                        0 => rng.next() as u32,
                        1 => sq.wrapping_add(SIGMA_NSQ as u32 - 2 + (rng.next() % 4) as u32),
                        _ => sq
                            .wrapping_add((rng.next() % 2_000_000) as u32)
                            .wrapping_sub(500_000),
                    }
                })
                .collect();
            let (mut a, mut b) = (vec![0i32; n], vec![0i32; n]);
            let s = ref_terms_scalar(&mu, &xx, &mut a);
            let t = (v.ref_terms)(&mu, &xx, &mut b);
            assert_eq!((s, a), (t, b), "n={n}");
        }
    }

    /// The AVX2 set's log terms (the second pass of its `dist_terms`) against scalar.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_log_terms_match_scalar() {
        let test = "avx2_log_terms_match_scalar";
        if table(test, CpuLevel::Avx2).is_none() {
            return;
        }
        let mut rng = XorShift(12345);
        for &n in &[0usize, 3, 4, 17, 1000] {
            for &egl in &[100.0, 1.0, 2.5] {
                // Mix of scales: around the noise floor, typical and large variances, and
                // negative values (skipped lanes).
                let gen = |rng: &mut XorShift| -> i32 {
                    match rng.next() % 4 {
                        0 => (rng.next() % 400_000) as i32 - 100_000,
                        1 => (rng.next() % 50_000_000) as i32,
                        2 => (rng.next() % 2_000_000_000) as i32,
                        _ => SIGMA_NSQ + (rng.next() % 3) as i32 - 1,
                    }
                };
                let s1: Vec<i32> = (0..n).map(|_| gen(&mut rng)).collect();
                let s2: Vec<u32> = (0..n).map(|_| gen(&mut rng) as u32).collect();
                let s12: Vec<u32> = (0..n).map(|_| gen(&mut rng) as u32).collect();
                assert_eq!(
                    log_terms_scalar(&s1, &s2, &s12, egl),
                    x86::avx2::log_terms_avx2(&s1, &s2, &s12, egl),
                    "n={n} egl={egl}"
                );
            }
        }
    }

    /// Whole-frame VIF (prepared and fused paths, two gain limits) of the set at `level`
    /// against scalar.
    fn whole_vif_matches_scalar(test: &str, level: CpuLevel) {
        let Some(v) = table(test, level) else { return };
        for &(w, h, bd) in &[
            (64usize, 48usize, 8u8),
            (37, 29, 10),
            (16, 16, 8),
            (33, 17, 12),
        ] {
            let r = plane(w, h, bd, 1);
            let d = plane(w, h, bd, 2);
            let s = scalar::KERNELS;
            // Byte and word storage of the same 8-bit samples score alike, mixed too.
            if bd == 8 {
                let (rw, dw) = (r.to_wide(), d.to_wide());
                let a = score_with_kernels(&VifRef::with_kernels(&rw, bd, &s), &dw, 100.0, &s);
                let b = score_with_kernels(&VifRef::with_kernels(&r, bd, &v), &d, 100.0, &v);
                assert_eq!(a, b, "bytes {w}x{h}");
                let b = score_with_kernels(&VifRef::with_kernels(&r, bd, &v), &dw, 100.0, &v);
                assert_eq!(a, b, "byte ref, word dist {w}x{h}");
                let b = score_with_kernels(&VifRef::with_kernels(&rw, bd, &v), &d, 100.0, &v);
                assert_eq!(a, b, "word ref, byte dist {w}x{h}");
                assert_eq!(
                    a,
                    score_pair_with_kernels(&r, &dw, bd, 100.0, &v),
                    "mixed pair"
                );
            }
            {
                let a = score_with_kernels(&VifRef::with_kernels(&r, bd, &s), &d, 100.0, &s);
                let b = score_with_kernels(&VifRef::with_kernels(&r, bd, &v), &d, 100.0, &v);
                assert_eq!(a, b);
                let c = score_pair_with_kernels(&r, &d, bd, 100.0, &v);
                assert_eq!(a, c);
                let c = score_pair_with_kernels(&r, &d, bd, 1.0, &s);
                let e = score_with_kernels(&VifRef::with_kernels(&r, bd, &v), &d, 1.0, &v);
                assert_eq!(c, e);
            }
        }
    }

    crate::kernels::simd_tests!(
        filters_match_scalar,
        dist_terms_match_scalar,
        ref_terms_match_scalar,
        whole_vif_matches_scalar,
    );

    #[test]
    fn scalar_table_is_scalar_and_no_table_exceeds_its_level() {
        assert_eq!(Kernels::for_level(CpuLevel::Scalar).level, CpuLevel::Scalar);
        for l in CpuLevel::ALL {
            let k = Kernels::for_level(l);
            assert!(k.level <= l && k.level <= CpuLevel::detect_hardware());
        }
    }

    #[test]
    fn identical_frames_score_one() {
        let r = plane(64, 64, 8, 3);
        let s = score(&VifRef::new(&r, 8), &r, DEFAULT_ENHN_GAIN_LIMIT);
        for v in s.scales {
            assert!((v - 1.0).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn filters_are_symmetric_and_sum_to_q16() {
        for f in FILTERS {
            assert!(f.iter().eq(f.iter().rev()));
            assert_eq!(f.iter().map(|&c| c as u32).sum::<u32>(), 65536);
        }
    }

    #[test]
    fn log2_table_matches_log2() {
        let t = log2_table();
        assert_eq!(t[32768], 15 * 2048);
        assert_eq!(t[65535], ((65535f64).log2() * 2048.0).round() as u16);
        assert_eq!(log2_32(t, 1 << 20), 20 * 2048);
    }

    #[test]
    fn mirror_reflects_without_repeating_edges() {
        assert_eq!(mirror(-1, 10), 1);
        assert_eq!(mirror(-8, 10), 8);
        assert_eq!(mirror(10, 10), 8);
        assert_eq!(mirror(11, 10), 7);
        assert_eq!(mirror(5, 10), 5);
    }
}
