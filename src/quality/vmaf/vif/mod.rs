//! VIF at four scales, as libvmaf's integer extractor (`vif`, integer_vif.c) computes it: the
//! same fixed-point filters, roundings, shifts, log2 table and float accumulation, so the
//! per-scale scores are bit-identical to `integer_vif_scale0..3`.
//!
//! Everything that depends only on the reference (its pyramid, its filtered mean and variance,
//! and the whole VIF denominator) is computed once in [`VifRef::new`]; [`score`] then does only
//! the distorted-side work. The linear filter passes and the per-pixel statistics are the hot
//! loops, in kernel sets dispatched on [`CpuLevel`]: the portable kernels are written so the
//! compiler vectorises them and are compiled twice, plain ([`Kernels::SCALAR`], the reference)
//! and with AVX2 enabled (plus hand-written `vpmaddwd` kernels); AVX-512 machines with VNNI get
//! a hand-written set (`avx512.rs`: `vpdpwssd` filters, masked tails, the σ/log statistics of a
//! row in one pass). Every SIMD kernel is tested against its scalar twin on random input.

use crate::cpu::CpuLevel;
use crate::frame::Plane;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx512;

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

/// Mirror an index into 0..n the way libvmaf pads its buffers (reflect without repeating the
/// edge sample: -1 → 1, n → n-2).
#[inline(always)]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    };
    m.clamp(0, n - 1) as usize
}

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
pub type VertRefFn = fn(&[&[u16]], &[u16], VShift, &mut [u32], &mut [u32]);
/// Vertical statistics of the distorted image: mean, Σf·d², Σf·r·d.
pub type VertDistFn = fn(&[&[u16]], &[&[u16]], &[u16], VShift, &mut [u32], &mut [u32], &mut [u32]);
/// Vertical pass of the pyramid: (Σf·x + round) >> shift, kept to 16 bits.
pub type VertMuFn = fn(&[&[u16]], &[u16], u32, u32, &mut [u32]);
/// Horizontal pass over a row padded by the filter's half width on each side.
pub type HorizFn = fn(&[u32], &[u16], &mut [u32]);

/// The linear filter kernels. `Kernels::SCALAR` is the reference; `Kernels::get()` picks the
/// fastest one the CPU level allows. Each works on blocks of 16 columns with all taps inside,
/// so the accumulators stay in registers.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// 32-bit products: only valid for 8-bit samples at scale 0 (libvmaf uses u32 there too).
    pub vert_ref32: VertRefFn,
    pub vert_ref64: VertRefFn,
    pub vert_dist32: VertDistFn,
    pub vert_dist64: VertDistFn,
    pub vert_mu: VertMuFn,
    /// Plain Σf·x of a mean row. Every mean row fits 16 bits ((Σf·x + round) >> shift with
    /// Σf = 2^16 and x below 2^shift or 2^16), which the AVX-512 kernel relies on; the others
    /// wrap in u32 as libvmaf's accumulators do.
    pub horiz_u32: HorizFn,
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
    /// the same set expect (0 but for the AVX-512 set); invisible outside the set.
    pub bias: u32,
}

/// (μ₁, Σf·x², σ₁² out) → (log terms, count below the noise floor).
pub type RefTermsFn = fn(&[u32], &[u32], &mut [i32]) -> (i64, i64);

/// (μ₁, σ₁², μ₂ = Σf·μ, Σf·d², Σf·r·d, gain limit) → (log terms, non-log sum).
pub type DistTermsFn = fn(&[u32], &[i32], &[u32], &[u32], &[u32], f64) -> (i64, i64);

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

/// Pass 1 of `dist_terms`: σ₂² and σ₁₂ into `s2`/`s12`, and the non-log sum.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn dist_pass1(
    mu1: &[u32],
    s1: &[i32],
    mu2: &[u32],
    yy: &[u32],
    xy: &[u32],
    s2: &mut [u32],
    s12: &mut [u32],
) -> i64 {
    let mut non_log = 0i64;
    for j in 0..mu1.len() {
        let (b, c) = sigma2_sigma12(mu1[j], mu2[j], yy[j], xy[j]);
        non_log += if s1[j] < SIGMA_NSQ { b as i64 } else { 0 };
        s2[j] = b as u32;
        s12[j] = c as u32;
    }
    non_log
}

/// Scalar `dist_terms`: one pixel at a time.
pub fn dist_terms_scalar(
    mu1: &[u32],
    s1: &[i32],
    mu2: &[u32],
    yy: &[u32],
    xy: &[u32],
    egl: f64,
) -> (i64, i64) {
    let table = log2_table();
    let (mut log, mut non_log) = (0i64, 0i64);
    for j in 0..mu1.len() {
        let (b, c) = sigma2_sigma12(mu1[j], mu2[j], yy[j], xy[j]);
        let a = s1[j];
        if a < SIGMA_NSQ {
            non_log += b as i64;
        } else if c > 0 && b > 0 {
            log += log_term(table, a, b, c, egl);
        }
    }
    (log, non_log)
}

/// AVX2 `dist_terms`: a vectorised pass 1 into a row buffer, then the AVX2 log terms.
#[cfg(target_arch = "x86_64")]
fn dist_terms_avx2(
    mu1: &[u32],
    s1: &[i32],
    mu2: &[u32],
    yy: &[u32],
    xy: &[u32],
    egl: f64,
) -> (i64, i64) {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pass1(
        mu1: &[u32],
        s1: &[i32],
        mu2: &[u32],
        yy: &[u32],
        xy: &[u32],
        s2: &mut [u32],
        s12: &mut [u32],
    ) -> i64 {
        dist_pass1(mu1, s1, mu2, yy, xy, s2, s12)
    }
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        let w = mu1.len();
        buf.resize(2 * w, 0);
        let (s2, s12) = buf.split_at_mut(w);
        // Installed only when runtime detection found AVX2.
        let non_log = unsafe { pass1(mu1, s1, mu2, yy, xy, s2, s12) };
        (log_terms_avx2(s1, s2, s12, egl), non_log)
    })
}

/// AVX-512 `dist_terms`, fused in one sweep.
#[cfg(target_arch = "x86_64")]
fn dist_terms_avx512(
    mu1: &[u32],
    s1: &[i32],
    mu2: &[u32],
    yy: &[u32],
    xy: &[u32],
    egl: f64,
) -> (i64, i64) {
    let w = mu1.len();
    assert!(s1.len() >= w && mu2.len() >= w && yy.len() >= w && xy.len() >= w);
    // SAFETY: installed only in `Kernels::AVX512`, handed out only when detection found its
    // features; the lengths are checked above.
    unsafe { avx512::dist_terms(mu1, s1, mu2, yy, xy, egl) }
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

/// Scalar log-terms kernel.
pub fn log_terms_scalar(s1: &[i32], s2: &[u32], s12: &[u32], egl: f64) -> i64 {
    let table = log2_table();
    let mut acc = 0i64;
    for ((&a, &b), &c) in s1.iter().zip(s2).zip(s12) {
        let (b, c) = (b as i32, c as i32);
        if a >= SIGMA_NSQ && c > 0 && b > 0 {
            acc += log_term(table, a, b, c, egl);
        }
    }
    acc
}

/// The log2 table widened to u32 for AVX2 gathers.
#[cfg(target_arch = "x86_64")]
fn log2_table32() -> &'static [u32] {
    static T: OnceLock<Vec<u32>> = OnceLock::new();
    T.get_or_init(|| log2_table().iter().map(|&v| v as u32).collect())
}

/// AVX2 log-terms kernel: four pixels per step in f64, the same operations in the same order
/// as the scalar kernel (no FMA), so the integer terms are identical.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn log_terms_avx2_t(s1: &[i32], s2: &[u32], s12: &[u32], egl: f64) -> i64 {
    use std::arch::x86_64::*;
    let n = s1.len().min(s2.len()).min(s12.len());
    let table = log2_table32();
    let magic = _mm256_set1_pd(4503599627370496.0); // 2^52
    let magic_i = _mm256_castpd_si256(magic);
    let low52 = _mm256_set1_epi64x((1i64 << 52) - 1);
    let eps = _mm256_set1_pd(EPS);
    let eglv = _mm256_set1_pd(egl);
    let nsq_m1 = _mm_set1_epi32(SIGMA_NSQ - 1);
    let nsq = _mm_set1_epi32(SIGMA_NSQ);
    let zero = _mm_setzero_si128();
    let safe = _mm256_set1_epi64x(1 << 17);
    let mut acc = _mm256_setzero_si256();
    // floor(log2 x)·2048-style lookup of four u64 lanes (2^17 ≤ x < 2^52).
    let log2v = |x: __m256i| -> __m256i {
        let d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, magic_i)), magic);
        let e = _mm256_sub_epi64(
            _mm256_srli_epi64(_mm256_castpd_si256(d), 52),
            _mm256_set1_epi64x(1023 + 15),
        );
        let idx = _mm256_srlv_epi64(x, e);
        let t = _mm256_i64gather_epi32(table.as_ptr() as *const i32, idx, 4);
        _mm256_add_epi64(_mm256_cvtepi32_epi64(t), _mm256_slli_epi64(e, 11))
    };
    let mut j = 0;
    while j + 4 <= n {
        let a = _mm_loadu_si128(s1.as_ptr().add(j) as *const __m128i);
        let b = _mm_loadu_si128(s2.as_ptr().add(j) as *const __m128i);
        let c = _mm_loadu_si128(s12.as_ptr().add(j) as *const __m128i);
        let m = _mm_and_si128(
            _mm_cmpgt_epi32(a, nsq_m1),
            _mm_and_si128(_mm_cmpgt_epi32(c, zero), _mm_cmpgt_epi32(b, zero)),
        );
        if _mm_movemask_epi8(m) != 0 {
            let ad = _mm256_cvtepi32_pd(a);
            let bd = _mm256_cvtepi32_pd(b);
            let cd = _mm256_cvtepi32_pd(c);
            let g = _mm256_div_pd(cd, _mm256_add_pd(ad, eps));
            let sv = _mm256_sub_pd(bd, _mm256_mul_pd(g, cd));
            let sv = _mm_max_epi32(_mm256_cvttpd_epi32(sv), zero);
            let g = _mm256_min_pd(g, eglv);
            let numer1 = _mm_add_epi32(sv, nsq);
            let t = _mm256_mul_pd(_mm256_mul_pd(g, g), ad);
            let t = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            let ti = _mm256_and_si256(_mm256_castpd_si256(_mm256_add_pd(t, magic)), low52);
            let n1 = _mm256_cvtepu32_epi64(numer1);
            let m64 = _mm256_cvtepi32_epi64(m);
            let x = _mm256_blendv_epi8(safe, _mm256_add_epi64(ti, n1), m64);
            let y = _mm256_blendv_epi8(safe, n1, m64);
            let term = _mm256_sub_epi64(log2v(x), log2v(y));
            acc = _mm256_add_epi64(acc, _mm256_and_si256(term, m64));
        }
        j += 4;
    }
    let mut lanes = [0i64; 4];
    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
    lanes.iter().sum::<i64>() + log_terms_scalar(&s1[j..n], &s2[j..n], &s12[j..n], egl)
}

#[cfg(target_arch = "x86_64")]
fn log_terms_avx2(s1: &[i32], s2: &[u32], s12: &[u32], egl: f64) -> i64 {
    // Installed only when runtime detection found AVX2.
    unsafe { log_terms_avx2_t(s1, s2, s12, egl) }
}

const BLK: usize = 16;

/// One portable kernel as a symmetric FIR over blocks of [`BLK`] columns: [`fir`] walks the
/// blocks and the taps once for all of them; a kernel says what one tap of a block reads, what
/// a pair of taps with the same coefficient adds to its accumulators, and how a block is
/// stored. Every kernel is exact with pairs: its sums either wrap in u32 (distributive) or
/// stay below 2^64.
trait Fir {
    /// The samples of one tap for a block.
    type In: Copy + Default;
    /// The block's accumulators.
    type Acc: Default;
    /// Tap `k` of the block at column `j0` (`n` ≤ BLK columns, zero-filled beyond).
    fn load(&self, k: usize, j0: usize, n: usize) -> Self::In;
    /// Adds c·(a + b) per column (the centre tap is a pair with a zero partner).
    fn pair(acc: &mut Self::Acc, c: u32, a: &Self::In, b: &Self::In);
    /// Stores the first `n` columns of a block.
    fn store(&mut self, acc: &Self::Acc, j0: usize, n: usize);
    /// Whether the taps go in symmetric pairs (one multiply each) or one by one in row order
    /// (each with a zero partner).
    const PAIRS: bool = true;
}

/// Runs a [`Fir`] kernel over `w` columns with a symmetric filter `f`. Whole blocks and the
/// tail block are the same code; `n == BLK` is a constant in the first call, so whole blocks
/// have fixed-size loops the compiler vectorises.
#[inline(always)]
fn fir<K: Fir>(w: usize, f: &[u16], kern: &mut K) {
    #[inline(always)]
    fn block<K: Fir>(kern: &mut K, f: &[u16], j0: usize, n: usize) {
        let t = f.len();
        let half = t / 2;
        let mut acc = K::Acc::default();
        let zero = K::In::default();
        if K::PAIRS {
            for (k, &c) in f[..half].iter().enumerate() {
                let (a, b) = (kern.load(k, j0, n), kern.load(t - 1 - k, j0, n));
                K::pair(&mut acc, c as u32, &a, &b);
            }
            K::pair(&mut acc, f[half] as u32, &kern.load(half, j0, n), &zero);
        } else {
            for (k, &c) in f.iter().enumerate() {
                K::pair(&mut acc, c as u32, &kern.load(k, j0, n), &zero);
            }
        }
        kern.store(&acc, j0, n);
    }
    let mut j0 = 0;
    while j0 + BLK <= w {
        block(kern, f, j0, BLK);
        j0 += BLK;
    }
    if j0 < w {
        block(kern, f, j0, w - j0);
    }
}

/// `s[j0..j0 + n]` as a block (a fixed-size copy for whole blocks).
#[inline(always)]
fn ld<T: Copy + Default>(s: &[T], j0: usize, n: usize) -> [T; BLK] {
    if n == BLK {
        s[j0..j0 + BLK].try_into().unwrap()
    } else {
        let mut b = [T::default(); BLK];
        b[..n].copy_from_slice(&s[j0..j0 + n]);
        b
    }
}

/// Stores the first `n` values of a block (a fixed-size copy for whole blocks: a variable one
/// is a memmove call).
#[inline(always)]
fn st(out: &mut [u32], j0: usize, n: usize, v: [u32; BLK]) {
    if n == BLK {
        out[j0..j0 + BLK].copy_from_slice(&v);
    } else {
        out[j0..j0 + n].copy_from_slice(&v[..n]);
    }
}

/// The accumulator of the vertical second moments: u32 (8-bit samples at scale 0, as libvmaf)
/// or u64. `mac2` adds c·p + c·q of two 32-bit products, `mac` a 32-bit c·x times y (the
/// form without a 32-bit multiply of its own, which SSE2 lacks).
trait Moment: Copy + Default {
    /// [`Fir::PAIRS`] for [`VertDist`]: the u64 pass in row order took ~6 % less time than
    /// paired (AVX2 set, 1080p); the u32 one (`madd` replaces it with AVX2) stays paired.
    const PAIRS: bool;
    fn mac2(self, c: u32, p: u32, q: u32) -> Self;
    fn mac(self, cx: u32, y: u32) -> Self;
    fn wide(self) -> u64;
}

impl Moment for u32 {
    const PAIRS: bool = true;
    #[inline(always)]
    fn mac2(self, c: u32, p: u32, q: u32) -> u32 {
        self.wrapping_add(c.wrapping_mul(p.wrapping_add(q)))
    }
    #[inline(always)]
    fn mac(self, cx: u32, y: u32) -> u32 {
        self.wrapping_add(cx.wrapping_mul(y))
    }
    #[inline(always)]
    fn wide(self) -> u64 {
        self as u64
    }
}

impl Moment for u64 {
    const PAIRS: bool = false;
    #[inline(always)]
    fn mac2(self, c: u32, p: u32, q: u32) -> u64 {
        self + c as u64 * p as u64 + c as u64 * q as u64
    }
    #[inline(always)]
    fn mac(self, cx: u32, y: u32) -> u64 {
        self + cx as u64 * y as u64
    }
    #[inline(always)]
    fn wide(self) -> u64 {
        self
    }
}

/// The vertical passes' finish: (Σ + round) >> shift of a mean and of a second moment.
#[inline(always)]
fn mu_out(s: VShift, am: &[u32; BLK]) -> [u32; BLK] {
    am.map(|a| a.wrapping_add(s.mu_round) >> s.mu_shift)
}

#[inline(always)]
fn sq_out<A: Moment>(s: VShift, aq: &[A; BLK]) -> [u32; BLK] {
    aq.map(|a| ((a.wide() + s.sq_round) >> s.sq_shift) as u32)
}

/// Vertical mean and Σf·x² of one image: the arguments of a vertical kernel, shared by the
/// portable and the AVX-512 sets. `A` picks the variant: the moments' accumulator here (u32
/// for 8-bit samples at scale 0, u64 otherwise); in `avx512.rs` u32 is the 8-bit `vpdpwssd`
/// kernel and u64 the 16-bit-halves one.
struct VertRef<'a, A> {
    rows: &'a [&'a [u16]],
    s: VShift,
    mu: &'a mut [u32],
    sq: &'a mut [u32],
    acc: std::marker::PhantomData<A>,
}

impl<'a, A> VertRef<'a, A> {
    fn new(rows: &'a [&'a [u16]], s: VShift, mu: &'a mut [u32], sq: &'a mut [u32]) -> Self {
        let acc = std::marker::PhantomData;
        VertRef {
            rows,
            s,
            mu,
            sq,
            acc,
        }
    }
}

impl<A: Moment> Fir for VertRef<'_, A> {
    type In = [u16; BLK];
    type Acc = ([u32; BLK], [A; BLK]);
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> [u16; BLK] {
        ld(self.rows[k], j0, n)
    }
    #[inline(always)]
    fn pair((am, aq): &mut Self::Acc, c: u32, x: &[u16; BLK], y: &[u16; BLK]) {
        for l in 0..BLK {
            let (a, b) = (x[l] as u32, y[l] as u32);
            am[l] = am[l].wrapping_add(c.wrapping_mul(a + b));
            aq[l] = aq[l].mac2(c, a * a, b * b);
        }
    }
    #[inline(always)]
    fn store(&mut self, (am, aq): &Self::Acc, j0: usize, n: usize) {
        st(self.mu, j0, n, mu_out(self.s, am));
        st(self.sq, j0, n, sq_out(self.s, aq));
    }
}

/// Vertical mean, Σf·d² and Σf·r·d of the distorted image (r: the reference); `A` as in
/// [`VertRef`].
struct VertDist<'a, A> {
    rrows: &'a [&'a [u16]],
    drows: &'a [&'a [u16]],
    s: VShift,
    mu: &'a mut [u32],
    yy: &'a mut [u32],
    xy: &'a mut [u32],
    acc: std::marker::PhantomData<A>,
}

impl<'a, A> VertDist<'a, A> {
    #[rustfmt::skip]
    fn new(rrows: &'a [&'a [u16]], drows: &'a [&'a [u16]], s: VShift,
           mu: &'a mut [u32], yy: &'a mut [u32], xy: &'a mut [u32]) -> Self {
        let acc = std::marker::PhantomData;
        VertDist { rrows, drows, s, mu, yy, xy, acc }
    }
}

impl<A: Moment> Fir for VertDist<'_, A> {
    type In = ([u16; BLK], [u16; BLK]);
    type Acc = ([u32; BLK], [A; BLK], [A; BLK]);
    const PAIRS: bool = A::PAIRS;
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> Self::In {
        (ld(self.rrows[k], j0, n), ld(self.drows[k], j0, n))
    }
    #[inline(always)]
    fn pair((am, ay, ax): &mut Self::Acc, c: u32, (r0, d0): &Self::In, (r1, d1): &Self::In) {
        for l in 0..BLK {
            let (a0, a1) = (r0[l] as u32, r1[l] as u32);
            let (b0, b1) = (d0[l] as u32, d1[l] as u32);
            let (cb0, cb1) = (c * b0, c * b1);
            am[l] = am[l].wrapping_add(cb0).wrapping_add(cb1);
            ay[l] = ay[l].mac(cb0, b0).mac(cb1, b1);
            ax[l] = ax[l].mac(cb0, a0).mac(cb1, a1);
        }
    }
    #[inline(always)]
    fn store(&mut self, (am, ay, ax): &Self::Acc, j0: usize, n: usize) {
        st(self.mu, j0, n, mu_out(self.s, am));
        st(self.yy, j0, n, sq_out(self.s, ay));
        st(self.xy, j0, n, sq_out(self.s, ax));
    }
}

/// Vertical pass of the pyramid: (Σf·x + round) >> shift, kept to 16 bits.
struct VertMu<'a> {
    rows: &'a [&'a [u16]],
    round: u32,
    shift: u32,
    mu: &'a mut [u32],
}

impl Fir for VertMu<'_> {
    type In = [u16; BLK];
    type Acc = [u32; BLK];
    // Row order: with AVX2 the paired form took ~15 % more time in this light, load-bound pass.
    const PAIRS: bool = false;
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> [u16; BLK] {
        ld(self.rows[k], j0, n)
    }
    #[inline(always)]
    fn pair(am: &mut [u32; BLK], c: u32, x: &[u16; BLK], y: &[u16; BLK]) {
        for l in 0..BLK {
            am[l] = am[l].wrapping_add(c.wrapping_mul(x[l] as u32 + y[l] as u32));
        }
    }
    #[inline(always)]
    fn store(&mut self, am: &[u32; BLK], j0: usize, n: usize) {
        let v = am.map(|a| (a.wrapping_add(self.round) >> self.shift) as u16 as u32);
        st(self.mu, j0, n, v);
    }
}

/// A horizontal pass over a row padded by the filter's half width: Σf·x wrapping in u32, or
/// (Σf·x + 2^15) >> 16 of 32-bit inputs (`Q16`) from the sums of their 16-bit halves (each
/// half-sum stays below 2^32 because the filters sum to 2^16).
struct Horiz<'a, const Q16: bool> {
    src: &'a [u32],
    out: &'a mut [u32],
}

impl<const Q16: bool> Fir for Horiz<'_, Q16> {
    type In = [u32; BLK];
    /// Σ of the high halves (Q16 only) and of the low halves (the whole values otherwise).
    type Acc = ([u32; BLK], [u32; BLK]);
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> [u32; BLK] {
        ld(self.src, j0 + k, n)
    }
    #[inline(always)]
    fn pair((hi, lo): &mut Self::Acc, c: u32, x: &[u32; BLK], y: &[u32; BLK]) {
        for l in 0..BLK {
            if Q16 {
                hi[l] = hi[l].wrapping_add(c * ((x[l] >> 16) + (y[l] >> 16)));
                lo[l] = lo[l].wrapping_add(c * ((x[l] & 0xffff) + (y[l] & 0xffff)));
            } else {
                lo[l] = lo[l].wrapping_add(c.wrapping_mul(x[l].wrapping_add(y[l])));
            }
        }
    }
    #[inline(always)]
    fn store(&mut self, (hi, lo): &Self::Acc, j0: usize, n: usize) {
        let v = if Q16 {
            std::array::from_fn(|l| hi[l].wrapping_add(lo[l].wrapping_add(32768) >> 16))
        } else {
            *lo
        };
        st(self.out, j0, n, v);
    }
}

/// The portable kernels' entry points, compiled once per instruction set (`$attr`): each is
/// one [`fir`] call, inlined into the entry point so it is built with its target features.
#[rustfmt::skip]
macro_rules! kernel_bodies {
    ($attr:meta) => {
        #[$attr]
        pub fn vert_ref32(rows: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
            fir(mu.len(), f, &mut VertRef::<u32>::new(rows, s, mu, sq))
        }

        #[$attr]
        pub fn vert_ref64(rows: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
            fir(mu.len(), f, &mut VertRef::<u64>::new(rows, s, mu, sq))
        }

        #[$attr]
        pub fn vert_dist32(rrows: &[&[u16]], drows: &[&[u16]], f: &[u16], s: VShift,
                           mu: &mut [u32], yy: &mut [u32], xy: &mut [u32]) {
            fir(mu.len(), f, &mut VertDist::<u32>::new(rrows, drows, s, mu, yy, xy))
        }

        #[$attr]
        pub fn vert_dist64(rrows: &[&[u16]], drows: &[&[u16]], f: &[u16], s: VShift,
                           mu: &mut [u32], yy: &mut [u32], xy: &mut [u32]) {
            fir(mu.len(), f, &mut VertDist::<u64>::new(rrows, drows, s, mu, yy, xy))
        }

        #[$attr]
        pub fn vert_mu(rows: &[&[u16]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
            let rows = &rows[..f.len()];
            fir(mu.len(), f, &mut VertMu { rows, round, shift, mu })
        }

        #[$attr]
        pub fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
            fir(out.len(), f, &mut Horiz::<false> { src, out })
        }

        #[$attr]
        pub fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
            fir(out.len(), f, &mut Horiz::<true> { src, out })
        }
    };
}

/// The scalar kernels (the reference the SIMD builds are tested against).
pub mod scalar {
    use super::{fir, Horiz, VShift, VertDist, VertMu, VertRef};
    kernel_bodies!(inline(never));
}

#[cfg(target_arch = "x86_64")]
mod avx2_t {
    use super::{fir, Horiz, VShift, VertDist, VertMu, VertRef};
    kernel_bodies!(target_feature(enable = "avx2,fma"));
}

/// The 16-bit multiply-add kernels apply to symmetric filters with coefficients below 2^15
/// and second moments stored unshifted (8-bit samples at scale 0, the only use of the 32-bit
/// kernels).
#[cfg(target_arch = "x86_64")]
fn madd_ok(f: &[u16], s: VShift) -> bool {
    matches!(f.len(), 3 | 5 | 9 | 17)
        && s.sq_shift == 0
        && s.sq_round == 0
        && f.iter().all(|&c| c < 32768)
        && f.iter().eq(f.iter().rev())
}

/// AVX2 vertical passes for 8-bit samples with `vpmaddwd`: products of two 8-bit samples fit
/// 16 bits exactly; biased by −2^15 they fit i16, and each `vpmaddwd` with (c, c) sums a
/// symmetric pair of taps. The bias adds up to 2^15·Σc = 2^31 over all taps, added back at
/// the end; sums wrap in u32 and the true sums are below 2^32, so results are exact.
#[cfg(target_arch = "x86_64")]
mod madd {
    use super::{VShift, VertDist, VertRef};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn ld(r: &[u16], j: usize) -> __m256i {
        debug_assert!(j + 16 <= r.len());
        _mm256_loadu_si256(r.as_ptr().add(j) as *const __m256i)
    }

    /// Stores interleaved accumulators (lanes 0-3/8-11 in `lo`, 4-7/12-15 in `hi`) in order,
    /// after (x + round) >> shift.
    #[inline(always)]
    unsafe fn store(out: &mut [u32], j: usize, lo: __m256i, hi: __m256i, round: u32, shift: u32) {
        let r = _mm256_set1_epi32(round as i32);
        let sh = _mm_cvtsi32_si128(shift as i32);
        let lo = _mm256_srl_epi32(_mm256_add_epi32(lo, r), sh);
        let hi = _mm256_srl_epi32(_mm256_add_epi32(hi, r), sh);
        let a = _mm256_permute2x128_si256(lo, hi, 0x20);
        let b = _mm256_permute2x128_si256(lo, hi, 0x31);
        _mm256_storeu_si256(out.as_mut_ptr().add(j) as *mut __m256i, a);
        _mm256_storeu_si256(out.as_mut_ptr().add(j + 8) as *mut __m256i, b);
    }

    /// One tap pair of a step: rows `k0` and `k1` (the centre: the row with itself and the
    /// split coefficient, as in `avx512.rs`) at columns `j..j + 16`, coefficient words `cc`.
    #[derive(Clone, Copy)]
    struct Tap {
        k0: usize,
        k1: usize,
        j: usize,
        cc: __m256i,
    }

    impl Tap {
        /// The pair's samples of one image.
        #[inline(always)]
        unsafe fn ld(self, rows: &[&[u16]]) -> (__m256i, __m256i) {
            (ld(rows[self.k0], self.j), ld(rows[self.k1], self.j))
        }

        /// Accumulates both unpack halves (word of a, word of b) with the pair's coefficients.
        #[inline(always)]
        unsafe fn acc(self, acc: &mut [__m256i; 2], a: __m256i, b: __m256i) {
            let (l, h) = (_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(l, self.cc));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(h, self.cc));
        }
    }

    /// Products of 8-bit samples (they fit a word), biased by −2^15.
    #[inline(always)]
    unsafe fn prod8(x: __m256i, y: __m256i) -> __m256i {
        _mm256_xor_si256(_mm256_mullo_epi16(x, y), _mm256_set1_epi16(i16::MIN))
    }

    /// Stores biased sums of products + 2^31 (mod 2^32), unshifted.
    #[inline(always)]
    unsafe fn store_fixed(out: &mut [u32], j: usize, acc: &[__m256i; 2]) {
        let fix = _mm256_set1_epi32(i32::MIN);
        let (lo, hi) = (_mm256_add_epi32(acc[0], fix), _mm256_add_epi32(acc[1], fix));
        store(out, j, lo, hi, 0, 0);
    }

    /// One 8-bit vertical kernel: what a tap pair adds to its accumulators (all starting at
    /// 0), how a step of 16 columns is stored, and the tail (by the scalar kernel).
    trait Vert {
        type Acc;
        unsafe fn tap(&self, acc: &mut Self::Acc, t: Tap);
        unsafe fn store(&mut self, acc: &Self::Acc, j: usize);
        fn tail(&mut self, f: &[u16], j: usize);
    }

    #[inline(always)]
    unsafe fn vert<K: Vert>(f: &[u16], w: usize, kern: &mut K, zero: impl Fn() -> K::Acc) {
        let t = f.len();
        let half = t / 2;
        let pair = |c: u16| _mm256_set1_epi32(c as i32 | ((c as i32) << 16));
        let (c1, c2) = (f[half] / 2, f[half] - f[half] / 2);
        let centre = _mm256_set1_epi32(c1 as i32 | ((c2 as i32) << 16));
        let mut j = 0;
        while j + 16 <= w {
            let mut acc = zero();
            for (k, &c) in f[..half].iter().enumerate() {
                let (k0, k1, cc) = (k, t - 1 - k, pair(c));
                kern.tap(&mut acc, Tap { k0, k1, j, cc });
            }
            let (k0, k1, cc) = (half, half, centre);
            kern.tap(&mut acc, Tap { k0, k1, j, cc });
            kern.store(&acc, j);
            j += 16;
        }
        if j < w {
            kern.tail(f, j);
        }
    }

    impl Vert for VertRef<'_, u32> {
        /// Mean, biased squares.
        type Acc = [[__m256i; 2]; 2];
        #[inline(always)]
        unsafe fn tap(&self, [am, aq]: &mut Self::Acc, t: Tap) {
            let (a, b) = t.ld(self.rows);
            t.acc(am, a, b);
            t.acc(aq, prod8(a, a), prod8(b, b));
        }
        #[inline(always)]
        unsafe fn store(&mut self, [am, aq]: &Self::Acc, j: usize) {
            store(self.mu, j, am[0], am[1], self.s.mu_round, self.s.mu_shift);
            store_fixed(self.sq, j, aq);
        }
        fn tail(&mut self, f: &[u16], j: usize) {
            let w = self.mu.len();
            let rows: Vec<&[u16]> = self.rows.iter().map(|r| &r[j..w]).collect();
            super::scalar::vert_ref32(&rows, f, self.s, &mut self.mu[j..], &mut self.sq[j..]);
        }
    }

    impl Vert for VertDist<'_, u32> {
        /// Mean, biased d² and r·d.
        type Acc = [[__m256i; 2]; 3];
        #[inline(always)]
        unsafe fn tap(&self, [am, ay, ax]: &mut Self::Acc, t: Tap) {
            let ((d0, d1), (r0, r1)) = (t.ld(self.drows), t.ld(self.rrows));
            t.acc(am, d0, d1);
            t.acc(ay, prod8(d0, d0), prod8(d1, d1));
            t.acc(ax, prod8(r0, d0), prod8(r1, d1));
        }
        #[inline(always)]
        unsafe fn store(&mut self, [am, ay, ax]: &Self::Acc, j: usize) {
            store(self.mu, j, am[0], am[1], self.s.mu_round, self.s.mu_shift);
            store_fixed(self.yy, j, ay);
            store_fixed(self.xy, j, ax);
        }
        fn tail(&mut self, f: &[u16], j: usize) {
            let w = self.mu.len();
            let r: Vec<&[u16]> = self.rrows.iter().map(|r| &r[j..w]).collect();
            let d: Vec<&[u16]> = self.drows.iter().map(|r| &r[j..w]).collect();
            let (s, mu, yy, xy) = (
                self.s,
                &mut self.mu[j..],
                &mut self.yy[j..],
                &mut self.xy[j..],
            );
            super::scalar::vert_dist32(&r, &d, f, s, mu, yy, xy);
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn vert_ref32(
        rows: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        sq: &mut [u32],
    ) {
        let k = &mut VertRef::<u32>::new(rows, s, mu, sq);
        vert(f, k.mu.len(), k, || [[_mm256_setzero_si256(); 2]; 2])
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub unsafe fn vert_dist32(
        rrows: &[&[u16]],
        drows: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        let k = &mut VertDist::<u32>::new(rrows, drows, s, mu, yy, xy);
        vert(f, k.mu.len(), k, || [[_mm256_setzero_si256(); 2]; 3])
    }

    /// Horizontal Q16 pass with `vpmaddwd`: the 16-bit halves of a symmetric pair of taps are
    /// blended into one (i16, i16) lane, biased by −2^15, and multiplied-added with (c, c); the
    /// centre tap uses a 32-bit multiply. Same halves arithmetic as the portable kernel.
    #[target_feature(enable = "avx2")]
    pub unsafe fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
        let w = out.len();
        let t = f.len();
        let half = t / 2;
        let bias = _mm256_set1_epi16(i16::MIN);
        let low = _mm256_set1_epi32(0xffff);
        let cc_center = _mm256_set1_epi32(f[half] as i32);
        // Σ over the pairs of 2·c·2^15, removed by the bias.
        let fix = _mm256_set1_epi32((32768u32.wrapping_mul(65536 - f[half] as u32)) as i32);
        let round = _mm256_set1_epi32(32768);
        let mut j = 0;
        while j + 8 <= w {
            let p = src.as_ptr().add(j);
            let mut hi = fix;
            let mut lo = fix;
            for (k, &c) in f[..half].iter().enumerate() {
                let c = c as i32;
                let cc = _mm256_set1_epi32(c | (c << 16));
                let a = _mm256_loadu_si256(p.add(k) as *const __m256i);
                let b = _mm256_loadu_si256(p.add(t - 1 - k) as *const __m256i);
                let h = _mm256_blend_epi16(_mm256_srli_epi32(a, 16), b, 0xAA);
                let l = _mm256_blend_epi16(a, _mm256_slli_epi32(b, 16), 0xAA);
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_xor_si256(h, bias), cc));
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_xor_si256(l, bias), cc));
            }
            let a = _mm256_loadu_si256(p.add(half) as *const __m256i);
            hi = _mm256_add_epi32(hi, _mm256_mullo_epi32(_mm256_srli_epi32(a, 16), cc_center));
            lo = _mm256_add_epi32(lo, _mm256_mullo_epi32(_mm256_and_si256(a, low), cc_center));
            let r = _mm256_add_epi32(hi, _mm256_srli_epi32(_mm256_add_epi32(lo, round), 16));
            _mm256_storeu_si256(out.as_mut_ptr().add(j) as *mut __m256i, r);
            j += 8;
        }
        if j < w {
            super::scalar::horiz_q16(&src[j..], f, &mut out[j..]);
        }
    }
}

/// Safe entry points for the AVX2 build: only installed in `Kernels::AVX2`, which
/// `Kernels::for_level` hands out only when runtime detection found AVX2.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{avx2_t, VShift};
    pub fn vert_ref32(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
        if super::madd_ok(f, s) {
            unsafe { super::madd::vert_ref32(r, f, s, mu, sq) }
        } else {
            unsafe { avx2_t::vert_ref32(r, f, s, mu, sq) }
        }
    }
    pub fn vert_ref64(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
        unsafe { avx2_t::vert_ref64(r, f, s, mu, sq) }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn vert_dist32(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        if super::madd_ok(f, s) {
            unsafe { super::madd::vert_dist32(r, d, f, s, mu, yy, xy) }
        } else {
            unsafe { avx2_t::vert_dist32(r, d, f, s, mu, yy, xy) }
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn vert_dist64(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        unsafe { avx2_t::vert_dist64(r, d, f, s, mu, yy, xy) }
    }
    pub fn vert_mu(r: &[&[u16]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
        unsafe { avx2_t::vert_mu(r, f, round, shift, mu) }
    }
    pub fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
        unsafe { avx2_t::horiz_u32(src, f, out) }
    }
    pub fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
        let t = f.len();
        if f.iter().eq(f.iter().rev()) && f[..t / 2].iter().all(|&c| c < 32768) {
            unsafe { super::madd::horiz_q16(src, f, out) }
        } else {
            unsafe { avx2_t::horiz_q16(src, f, out) }
        }
    }
}

/// Whether the AVX-512 set may run: its target features, detected at run time.
#[cfg(target_arch = "x86_64")]
fn avx512_features() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512cd")
        && is_x86_feature_detected!("avx512vnni")
}

/// Safe entry points for the AVX-512 build: only installed in `Kernels::AVX512`, which
/// `Kernels::for_level` hands out only when runtime detection found `avx512_features`. Every
/// vertical output is stored xored with [`avx512::BIAS`] (the portable kernels it falls back
/// on are followed by the xor).
#[cfg(target_arch = "x86_64")]
mod avx512w {
    use super::{avx2, avx512, VShift};
    use avx512::BIAS;

    fn bias(rows: &mut [&mut [u32]]) {
        for r in rows {
            for v in r.iter_mut() {
                *v ^= BIAS;
            }
        }
    }

    /// Symmetric, pair coefficients below 2^15 (the centre tap is split), a VIF filter's
    /// length: every VIF filter.
    fn pairs_ok(f: &[u16]) -> bool {
        matches!(f.len(), 3 | 5 | 9 | 17)
            && f.iter().eq(f.iter().rev())
            && f[..f.len() / 2].iter().all(|&c| c < 32768)
    }

    fn rows_ok(rows: &[&[u16]], w: usize) -> bool {
        rows.iter().all(|r| r.len() >= w)
    }

    /// The lengths a distorted vertical kernel relies on: every row and output covers `w`.
    fn dist_ok(r: &[&[u16]], d: &[&[u16]], f: &[u16], w: usize, yy: &[u32], xy: &[u32]) -> bool {
        rows_ok(r, w)
            && rows_ok(d, w)
            && r.len() >= f.len()
            && d.len() >= f.len()
            && yy.len() >= w
            && xy.len() >= w
    }

    pub fn vert_ref32(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
        if super::madd_ok(f, s) && rows_ok(r, mu.len()) && sq.len() >= mu.len() {
            unsafe { avx512::vert_ref32(r, f, s, mu, sq) }
        } else {
            avx2::vert_ref32(r, f, s, mu, sq);
            bias(&mut [mu, sq]);
        }
    }
    /// The 16-bit-halves kernels: pair coefficients and the shifts they can split.
    fn halves_ok(f: &[u16], s: VShift) -> bool {
        pairs_ok(f) && s.sq_shift <= 16 && s.sq_round < 65536
    }

    pub fn vert_ref64(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
        if halves_ok(f, s) && rows_ok(r, mu.len()) && r.len() >= f.len() && sq.len() >= mu.len() {
            unsafe { avx512::vert_ref64(r, f, s, mu, sq) }
        } else {
            avx2::vert_ref64(r, f, s, mu, sq);
            bias(&mut [mu, sq]);
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn vert_dist32(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        if super::madd_ok(f, s) && dist_ok(r, d, f, mu.len(), yy, xy) {
            unsafe { avx512::vert_dist32(r, d, f, s, mu, yy, xy) }
        } else {
            avx2::vert_dist32(r, d, f, s, mu, yy, xy);
            bias(&mut [mu, yy, xy]);
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn vert_dist64(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        if halves_ok(f, s) && dist_ok(r, d, f, mu.len(), yy, xy) {
            unsafe { avx512::vert_dist64(r, d, f, s, mu, yy, xy) }
        } else {
            avx2::vert_dist64(r, d, f, s, mu, yy, xy);
            bias(&mut [mu, yy, xy]);
        }
    }
    pub fn vert_mu(r: &[&[u16]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
        if pairs_ok(f) && rows_ok(r, mu.len()) && r.len() >= f.len() {
            unsafe { avx512::vert_mu(r, f, round, shift, mu) }
        } else {
            avx2::vert_mu(r, f, round, shift, mu);
            bias(&mut [mu]);
        }
    }
    pub fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
        if pairs_ok(f) && src.len() + 1 >= out.len() + f.len() {
            unsafe { avx512::horiz_u16(src, f, out) }
        } else {
            let plain: Vec<u32> = src.iter().map(|&v| v ^ BIAS).collect();
            avx2::horiz_u32(&plain, f, out)
        }
    }
    pub fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
        if pairs_ok(f) && src.len() + 1 >= out.len() + f.len() {
            unsafe { avx512::horiz_q16(src, f, out) }
        } else {
            let plain: Vec<u32> = src.iter().map(|&v| v ^ BIAS).collect();
            avx2::horiz_q16(&plain, f, out)
        }
    }
}

impl Kernels {
    pub const SCALAR: Kernels = Kernels {
        vert_ref32: scalar::vert_ref32,
        vert_ref64: scalar::vert_ref64,
        vert_dist32: scalar::vert_dist32,
        vert_dist64: scalar::vert_dist64,
        vert_mu: scalar::vert_mu,
        horiz_u32: scalar::horiz_u32,
        horiz_q16: scalar::horiz_q16,
        dist_terms: dist_terms_scalar,
        ref_terms: ref_terms_scalar,
        bias: 0,
    };

    #[cfg(target_arch = "x86_64")]
    const AVX2: Kernels = Kernels {
        vert_ref32: avx2::vert_ref32,
        vert_ref64: avx2::vert_ref64,
        vert_dist32: avx2::vert_dist32,
        vert_dist64: avx2::vert_dist64,
        vert_mu: avx2::vert_mu,
        horiz_u32: avx2::horiz_u32,
        horiz_q16: avx2::horiz_q16,
        dist_terms: dist_terms_avx2,
        ref_terms: ref_terms_scalar,
        bias: 0,
    };

    #[cfg(target_arch = "x86_64")]
    const AVX512: Kernels = Kernels {
        vert_ref32: avx512w::vert_ref32,
        vert_ref64: avx512w::vert_ref64,
        vert_dist32: avx512w::vert_dist32,
        vert_dist64: avx512w::vert_dist64,
        vert_mu: avx512w::vert_mu,
        horiz_u32: avx512w::horiz_u32,
        horiz_q16: avx512w::horiz_q16,
        dist_terms: dist_terms_avx512,
        ref_terms: ref_terms_avx512,
        bias: avx512::BIAS,
    };

    /// The kernels for a CPU level. The AVX-512 set also needs CD and VNNI (`vpdpwssd`);
    /// without them an AVX-512 machine uses the AVX2 set.
    pub fn for_level(level: CpuLevel) -> Kernels {
        #[cfg(target_arch = "x86_64")]
        if level >= CpuLevel::Avx512 && avx512_features() {
            return Kernels::AVX512;
        }
        #[cfg(target_arch = "x86_64")]
        if level >= CpuLevel::Avx2 {
            return Kernels::AVX2;
        }
        let _ = level;
        Kernels::SCALAR
    }

    pub fn get() -> Kernels {
        Kernels::for_level(CpuLevel::get())
    }
}

/// One image of the pyramid (row-major, stride == width).
#[derive(Clone, Debug)]
struct Img<'a> {
    w: usize,
    h: usize,
    /// Borrowed for the distorted frame's scale 0 (no copy), owned for the pyramid.
    data: std::borrow::Cow<'a, [u16]>,
}

impl Img<'_> {
    fn row(&self, y: usize) -> &[u16] {
        &self.data[y * self.w..(y + 1) * self.w]
    }

    /// The `taps` (≤ [`MAX_TAPS`]) rows centred on `y`, mirrored at the edges (no allocation).
    fn rows(&self, y: usize, taps: usize) -> Rows<'_> {
        let half = (taps / 2) as isize;
        let mut r = [&self.data[..0]; MAX_TAPS];
        for (k, slot) in r[..taps].iter_mut().enumerate() {
            *slot = self.row(mirror(y as isize - half + k as isize, self.h));
        }
        Rows(r, taps)
    }
}

/// The longest filter (scale 0).
const MAX_TAPS: usize = 17;

/// A filter's window of rows.
struct Rows<'a>([&'a [u16]; MAX_TAPS], usize);

impl<'a> std::ops::Deref for Rows<'a> {
    type Target = [&'a [u16]];
    fn deref(&self) -> &[&'a [u16]] {
        &self.0[..self.1]
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
    let (w2, h2) = (img.w / 2, img.h / 2);
    let mut out = Img {
        w: w2,
        h: h2,
        data: vec![0; w2 * h2].into(),
    };
    let mut pad = vec![0u32; img.w + 2 * half];
    let mut hrow = vec![0u32; img.w];
    let data = out.data.to_mut();
    for i in 0..h2 {
        let rows = img.rows(2 * i, f.len());
        (k.vert_mu)(
            &rows,
            f,
            vs.mu_round,
            vs.mu_shift,
            &mut pad[half..half + img.w],
        );
        mirror_edges(&mut pad, half);
        (k.horiz_u32)(&pad, f, &mut hrow);
        let orow = &mut data[i * w2..(i + 1) * w2];
        for (j, o) in orow.iter_mut().enumerate() {
            *o = (hrow[2 * j].wrapping_add(32768) >> 16) as u16;
        }
    }
    out
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
    let vert = if scale == 0 && bd == 8 {
        k.vert_ref32
    } else {
        k.vert_ref64
    };
    let rows = img.rows(i, f.len());
    debug_assert_eq!((t.half, t.width()), (half, img.w));
    vert(&rows, f, vs, mid(&mut t.pmu, half), mid(&mut t.pa, half));
    mirror_edges(&mut t.pmu, half);
    mirror_edges(&mut t.pa, half);
    (k.horiz_u32)(&t.pmu, f, mu1);
    (k.horiz_q16)(&t.pa, f, &mut t.ha);
    (k.ref_terms)(mu1, &t.ha, s1)
}

/// Scalar `ref_terms`.
pub fn ref_terms_scalar(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
    let table = log2_table();
    let (mut den_log, mut den_non_log) = (0i64, 0i64);
    for ((s, &m), &xx) in s1.iter_mut().zip(mu).zip(xx) {
        let mu_sq = ((m as u64 * m as u64 + (1 << 31)) >> 32) as u32;
        let v = xx.wrapping_sub(mu_sq) as i32;
        *s = v;
        if v >= SIGMA_NSQ {
            den_log += log2_32(table, (SIGMA_NSQ as u32).wrapping_add(v as u32)) - 2048 * 17;
        } else {
            den_non_log += 1;
        }
    }
    (den_log, den_non_log)
}

#[cfg(target_arch = "x86_64")]
fn ref_terms_avx512(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
    assert!(xx.len() >= mu.len() && s1.len() >= mu.len());
    // SAFETY: installed only in `Kernels::AVX512` (see `dist_terms_avx512`); lengths checked.
    unsafe { avx512::ref_terms(mu, xx, s1) }
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
        VifRef::with_kernels(luma, bit_depth, &Kernels::get())
    }

    pub fn with_kernels(luma: &Plane, bit_depth: u8, k: &Kernels) -> VifRef {
        let mut img = Some(Img {
            w: luma.width,
            h: luma.height,
            data: luma.data.clone().into(),
        });
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
    let vert = if scale == 0 && bd == 8 {
        k.vert_dist32
    } else {
        k.vert_dist64
    };
    let rrows = rimg.rows(i, f.len());
    let drows = dimg.rows(i, f.len());
    debug_assert_eq!((t.half, t.width()), (half, dimg.w));
    let (pmu, pa, pb) = (&mut t.pmu, &mut t.pa, &mut t.pb);
    vert(
        &rrows,
        &drows,
        f,
        vs,
        mid(pmu, half),
        mid(pa, half),
        mid(pb, half),
    );
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
    score_pair_with_kernels(reference, dist, bit_depth, egl, &Kernels::get())
}

pub fn score_pair_with_kernels(
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
    let mut rimg = Img {
        w: reference.width,
        h: reference.height,
        data: (&reference.data[..]).into(),
    };
    let mut dimg = Img {
        w: dist.width,
        h: dist.height,
        data: (&dist.data[..]).into(),
    };
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
    score_with_kernels(r, dist, egl, &Kernels::get())
}

pub fn score_with_kernels(r: &VifRef, dist: &Plane, egl: f64, k: &Kernels) -> VifScore {
    assert_eq!((dist.width, dist.height), (r.width(), r.height()));
    let mut img = Img {
        w: dist.width,
        h: dist.height,
        data: (&dist.data[..]).into(),
    };
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
    use super::*;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn plane(w: usize, h: usize, bd: u8, seed: u64) -> Plane {
        let mut rng = XorShift(seed);
        let mut p = Plane::new(w, h);
        for (i, v) in p.data.iter_mut().enumerate() {
            let smooth = ((i % w) * 3 + (i / w) * 2) as u64;
            *v = ((smooth + rng.next() % 64) % (1 << bd)) as u16;
        }
        p
    }

    fn random_rows(rng: &mut XorShift, n: usize, w: usize, max: u64) -> Vec<Vec<u16>> {
        (0..n)
            .map(|_| (0..w).map(|_| (rng.next() % max) as u16).collect())
            .collect()
    }

    macro_rules! simd_matches_scalar {
        ($name:ident, $level:expr) => {
            #[test]
            fn $name() {
                if CpuLevel::get() < $level {
                    return;
                }
                let (s, v) = (Kernels::SCALAR, Kernels::for_level($level));
                let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
                let shifts = [
                    vertical_shifts(0, 8),
                    vertical_shifts(0, 10),
                    vertical_shifts(1, 8),
                ];
                for &w in &[1usize, 7, 16, 33, 100] {
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
        };
    }

    /// The scalar kernels (pairs of taps, blocks, tails) against the plain per-tap sums in u64
    /// with libvmaf's roundings, so the shared block routine is checked on its own.
    #[test]
    fn scalar_kernels_match_plain_sums() {
        let s = Kernels::SCALAR;
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

    simd_matches_scalar!(avx2_kernels_match_scalar, CpuLevel::Avx2);
    simd_matches_scalar!(avx512_kernels_match_scalar, CpuLevel::Avx512);

    macro_rules! dist_terms_match_scalar {
        ($name:ident, $level:expr) => {
            #[test]
            fn $name() {
                if CpuLevel::get() < $level {
                    return;
                }
                let v = Kernels::for_level($level);
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
        };
    }

    #[test]
    fn avx512_ref_terms_match_scalar() {
        if CpuLevel::get() < CpuLevel::Avx512 {
            return;
        }
        let v = Kernels::for_level(CpuLevel::Avx512);
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

    dist_terms_match_scalar!(avx2_dist_terms_match_scalar, CpuLevel::Avx2);
    dist_terms_match_scalar!(avx512_dist_terms_match_scalar, CpuLevel::Avx512);

    #[test]
    fn avx2_log_terms_match_scalar() {
        if CpuLevel::get() < CpuLevel::Avx2 {
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
                    log_terms_avx2(&s1, &s2, &s12, egl),
                    "n={n} egl={egl}"
                );
            }
        }
    }

    #[test]
    fn whole_vif_same_with_every_kernel_set() {
        for &(w, h, bd) in &[(64usize, 48usize, 8u8), (37, 29, 10)] {
            let r = plane(w, h, bd, 1);
            let d = plane(w, h, bd, 2);
            let s = Kernels::SCALAR;
            for level in [CpuLevel::Avx2, CpuLevel::Avx512] {
                if CpuLevel::get() < level {
                    continue;
                }
                let v = Kernels::for_level(level);
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
