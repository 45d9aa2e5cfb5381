//! AVX-512 kernels (F/BW/VL/DQ/CD with VNNI's `vpdpwssd`): 32 columns per step in the vertical
//! passes, 16 in the horizontal ones, tails by masked loads and stores (no scalar tail, no
//! allocation).
//!
//! Same fixed-point tricks as the AVX2 `madd` kernels (products and 16-bit halves biased by
//! −2^15 so `vpdpwssd` with (c, c) sums a symmetric pair of taps), with one change: every row a
//! vertical kernel of this set stores is already xored with [`BIAS`], so the horizontal
//! kernels blend the 16-bit halves straight into biased words (no xor per tap pair). The bias is
//! internal to the set: the horizontal outputs are plain values.

use super::super as vif;
use super::log2_table32;
use crate::cpu::CpuLevel;
use crate::frame::Sample;
use crate::simd::Load;
use std::arch::x86_64::*;
use vif::portable::{VertDist, VertMu, VertRef};
use vif::{Kernels, VShift, EPS, SIGMA_NSQ};

/// What this set's vertical kernels xor into every stored u32 (each 16-bit half biased by
/// −2^15); its horizontal kernels expect it.
pub(super) const BIAS: u32 = 0x8000_8000;

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

/// The masked samples of `r` from `j`, as words.
#[inline(always)]
unsafe fn ld16<S: Sample>(r: &[S], j: usize, m: __mmask32) -> __m512i {
    debug_assert!(j + (m.count_ones() as usize) <= r.len());
    S::Simd::maskz_load32(m, r.as_ptr().add(j))
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

/// (x + round) >> shift.
#[inline(always)]
unsafe fn round_shift(x: __m512i, round: u32, shift: u32) -> __m512i {
    _mm512_srl_epi32(
        _mm512_add_epi32(x, _mm512_set1_epi32(round as i32)),
        _mm_cvtsi32_si128(shift as i32),
    )
}

/// (x + round) >> shift, biased.
#[inline(always)]
unsafe fn round_bias(x: __m512i, round: u32, shift: u32) -> __m512i {
    _mm512_xor_si512(round_shift(x, round, shift), _mm512_set1_epi32(BIAS as i32))
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

/// Runs a filter routine generic over the filter length (and a kernel type, inferred) with the
/// length of `f`.
macro_rules! by_taps {
    ($t:expr, $k:ident::<$K:ty>($($a:expr),*)) => {
        match $t {
            17 => $k::<17, $K>($($a),*),
            9 => $k::<9, $K>($($a),*),
            5 => $k::<5, $K>($($a),*),
            3 => $k::<3, $K>($($a),*),
            _ => unreachable!("VIF filters have 17, 9, 5 or 3 taps"),
        }
    };
    ($t:expr, $k:ident($($a:expr),*)) => {
        by_taps!($t, $k::<_>($($a),*))
    };
}

/// A filter's coefficient vectors, made once per row: `p[k]` = (c_k, c_k) for k < T/2 and
/// `c` the split centre (see `centre_pair`). With T a constant the tap loops unroll and the
/// vectors stay in registers.
struct Coeffs {
    p: [__m512i; 8],
    c: __m512i,
}

#[inline(always)]
unsafe fn coeffs<const T: usize>(f: &[u16]) -> Coeffs {
    debug_assert_eq!(f.len(), T);
    let mut p = [_mm512_setzero_si512(); 8];
    for (k, v) in p.iter_mut().enumerate().take(T / 2) {
        *v = pair(f[k]);
    }
    Coeffs {
        p,
        c: centre_pair(f[T / 2]),
    }
}

/// The symmetric-pair setup: (c, c) per pair of taps and the centre tap split in two halves
/// (c₁ + c₂ = c, each < 2^15) so it is a pair of the same sample.
#[inline(always)]
unsafe fn centre_pair(c: u16) -> __m512i {
    let c1 = (c / 2) as i32;
    let c2 = (c - c / 2) as i32;
    _mm512_set1_epi32(c1 | (c2 << 16))
}

/// Stores the first `n` columns of a pair of unpack-order accumulators through `fin`.
#[inline(always)]
unsafe fn store2(
    out: &mut [u32],
    j: usize,
    n: usize,
    acc: &[__m512i; 2],
    fin: impl Fn(__m512i) -> __m512i,
) {
    store_unpacked(out, j, n, fin(acc[0]), fin(acc[1]));
}

/// 16-bit samples biased by −2^15 (a word of a pair for `vpdpwssd`).
#[inline(always)]
unsafe fn biased(x: __m512i) -> __m512i {
    _mm512_xor_si512(x, _mm512_set1_epi16(i16::MIN))
}

/// Products x·y of 8-bit samples (they fit a word), biased.
#[inline(always)]
unsafe fn prod8(x: __m512i, y: __m512i) -> __m512i {
    biased(_mm512_mullo_epi16(x, y))
}

/// 32-bit products x·y of 16-bit samples as biased (high, low) 16-bit halves.
#[inline(always)]
unsafe fn product_halves(x: __m512i, y: __m512i) -> (__m512i, __m512i) {
    (
        biased(_mm512_mulhi_epu16(x, y)),
        biased(_mm512_mullo_epi16(x, y)),
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

/// Stores the second moments of a block from the sums of their halves (see `combine_halves`).
#[inline(always)]
unsafe fn store_halves(
    out: &mut [u32],
    j: usize,
    n: usize,
    h: &[__m512i; 2],
    l: &[__m512i; 2],
    s: VShift,
) {
    let (r, sh) = (s.sq_round as u32, s.sq_shift);
    store_unpacked(
        out,
        j,
        n,
        combine_halves(h[0], l[0], r, sh),
        combine_halves(h[1], l[1], r, sh),
    );
}

/// One tap pair of a vertical step: rows `k0` and `k1` (the centre: the row with itself and
/// the split coefficient) at columns `j..` (mask `m`), coefficient pair `cc`.
#[derive(Clone, Copy)]
struct Tap {
    k0: usize,
    k1: usize,
    j: usize,
    m: __mmask32,
    cc: __m512i,
}

impl Tap {
    /// The pair's samples of one image.
    #[inline(always)]
    unsafe fn ld<S: Sample>(self, rows: &[&[S]]) -> (__m512i, __m512i) {
        (
            ld16(rows[self.k0], self.j, self.m),
            ld16(rows[self.k1], self.j, self.m),
        )
    }

    /// Accumulates both unpack halves (word of a, word of b) with the pair's coefficients.
    #[inline(always)]
    unsafe fn acc(self, acc: &mut [__m512i; 2], a: __m512i, b: __m512i) {
        acc[0] = _mm512_dpwssd_epi32(acc[0], _mm512_unpacklo_epi16(a, b), self.cc);
        acc[1] = _mm512_dpwssd_epi32(acc[1], _mm512_unpackhi_epi16(a, b), self.cc);
    }
}

/// One vertical kernel of this set: its accumulators, what a pair of rows adds, how the block
/// is stored. [`vert`] runs the filter.
trait Vert {
    type Acc;
    unsafe fn init() -> Self::Acc;
    unsafe fn tap(&self, acc: &mut Self::Acc, t: Tap);
    unsafe fn store(&mut self, acc: &Self::Acc, j: usize, n: usize);
}

/// A vertical pass of `w` columns, 32 per step (the tail masked), with a symmetric `T`-tap
/// filter.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn vert<const T: usize, K: Vert>(f: &[u16], w: usize, kern: &mut K) {
    let co = coeffs::<T>(f);
    let mut j = 0;
    while j < w {
        let n = (w - j).min(32);
        let m = mask32(n);
        let mut acc = K::init();
        for k in 0..T / 2 {
            let (k0, k1, cc) = (k, T - 1 - k, co.p[k]);
            kern.tap(&mut acc, Tap { k0, k1, j, m, cc });
        }
        let (k0, k1, cc) = (T / 2, T / 2, co.c);
        kern.tap(&mut acc, Tap { k0, k1, j, m, cc });
        kern.store(&acc, j, n);
        j += n;
    }
}

/// 8-bit scale-0 vertical pass of the reference: mean and Σf·x² (see `madd_ok`). Samples and
/// their 16-bit squares fit a word; the squares are biased, undone by `fix_bias`.
impl<S: Sample> Vert for VertRef<'_, u32, S> {
    type Acc = [[__m512i; 2]; 2];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [[_mm512_setzero_si512(); 2]; 2]
    }
    #[inline(always)]
    unsafe fn tap(&self, [am, aq]: &mut Self::Acc, t: Tap) {
        let (a, b) = t.ld(self.rows);
        t.acc(am, a, b);
        t.acc(aq, prod8(a, a), prod8(b, b));
    }
    #[inline(always)]
    unsafe fn store(&mut self, [am, aq]: &Self::Acc, j: usize, n: usize) {
        store2(self.mu, j, n, am, |x| {
            round_bias(x, self.s.mu_round, self.s.mu_shift)
        });
        store2(self.sq, j, n, aq, |x| fix_bias(x));
    }
}

/// 8-bit scale-0 vertical pass of the distorted image: mean, Σf·d², Σf·r·d (see `madd_ok`).
impl<S: Sample> Vert for VertDist<'_, u32, S> {
    type Acc = [[__m512i; 2]; 3];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [[_mm512_setzero_si512(); 2]; 3]
    }
    #[inline(always)]
    unsafe fn tap(&self, [am, ay, ax]: &mut Self::Acc, t: Tap) {
        let ((d0, d1), (r0, r1)) = (t.ld(self.drows), t.ld(self.rrows));
        t.acc(am, d0, d1);
        t.acc(ay, prod8(d0, d0), prod8(d1, d1));
        t.acc(ax, prod8(r0, d0), prod8(r1, d1));
    }
    #[inline(always)]
    unsafe fn store(&mut self, [am, ay, ax]: &Self::Acc, j: usize, n: usize) {
        store2(self.mu, j, n, am, |x| {
            round_bias(x, self.s.mu_round, self.s.mu_shift)
        });
        store2(self.yy, j, n, ay, |x| fix_bias(x));
        store2(self.xy, j, n, ax, |x| fix_bias(x));
    }
}

/// Vertical pass of the pyramid over 16-bit samples: (Σf·x + round) >> shift, kept to 16 bits.
/// Biased samples, Σc·(x − 2^15) = Σc·x − 2^31: the accumulators start at 2^31.
impl<S: Sample> Vert for VertMu<'_, S> {
    type Acc = [__m512i; 2];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [_mm512_set1_epi32(i32::MIN); 2]
    }
    #[inline(always)]
    unsafe fn tap(&self, am: &mut Self::Acc, t: Tap) {
        let (a, b) = t.ld(self.rows);
        t.acc(am, biased(a), biased(b));
    }
    #[inline(always)]
    unsafe fn store(&mut self, am: &Self::Acc, j: usize, n: usize) {
        let low16 = _mm512_set1_epi32(0xffff);
        store2(self.mu, j, n, am, |x| {
            let x = _mm512_and_si512(round_shift(x, self.round, self.shift), low16);
            _mm512_xor_si512(x, _mm512_set1_epi32(BIAS as i32))
        });
    }
}

/// Vertical pass of the reference over 16-bit samples: mean and (Σf·x² + round) >> shift, the
/// 32-bit squares summed as two 16-bit halves (see `combine_halves`).
impl Vert for VertRef<'_, u64> {
    /// Mean, high and low halves of the squares.
    type Acc = [[__m512i; 2]; 3];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [[_mm512_set1_epi32(i32::MIN); 2]; 3]
    }
    #[inline(always)]
    unsafe fn tap(&self, [am, ah, al]: &mut Self::Acc, t: Tap) {
        let (a, b) = t.ld(self.rows);
        let ((ah0, al0), (ah1, al1)) = (product_halves(a, a), product_halves(b, b));
        t.acc(am, biased(a), biased(b));
        t.acc(ah, ah0, ah1);
        t.acc(al, al0, al1);
    }
    #[inline(always)]
    unsafe fn store(&mut self, [am, ah, al]: &Self::Acc, j: usize, n: usize) {
        store2(self.mu, j, n, am, |x| {
            round_bias(x, self.s.mu_round, self.s.mu_shift)
        });
        store_halves(self.sq, j, n, ah, al, self.s);
    }
}

/// Vertical pass of the distorted image over 16-bit samples: mean, (Σf·d² + round) >> shift
/// and (Σf·r·d + round) >> shift (see `combine_halves`).
impl Vert for VertDist<'_, u64> {
    /// Mean, high and low halves of d² and of r·d.
    type Acc = [[__m512i; 2]; 5];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [[_mm512_set1_epi32(i32::MIN); 2]; 5]
    }
    #[inline(always)]
    unsafe fn tap(&self, [am, yh, yl, xh, xl]: &mut Self::Acc, t: Tap) {
        let ((d0, d1), (r0, r1)) = (t.ld(self.drows), t.ld(self.rrows));
        t.acc(am, biased(d0), biased(d1));
        let ((h0, l0), (h1, l1)) = (product_halves(d0, d0), product_halves(d1, d1));
        t.acc(yh, h0, h1);
        t.acc(yl, l0, l1);
        let ((h0, l0), (h1, l1)) = (product_halves(r0, d0), product_halves(r1, d1));
        t.acc(xh, h0, h1);
        t.acc(xl, l0, l1);
    }
    #[inline(always)]
    unsafe fn store(&mut self, [am, yh, yl, xh, xl]: &Self::Acc, j: usize, n: usize) {
        store2(self.mu, j, n, am, |x| {
            round_bias(x, self.s.mu_round, self.s.mu_shift)
        });
        store_halves(self.yy, j, n, yh, yl, self.s);
        store_halves(self.xy, j, n, xh, xl, self.s);
    }
}

// The entry points: each builds its kernel and runs it with the filter length of `f`.

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn vert_ref32<S: Sample>(
    rows: &[&[S]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    sq: &mut [u32],
) {
    let k = &mut VertRef::<u32, S>::new(rows, s, mu, sq);
    by_taps!(f.len(), vert(f, k.mu.len(), k))
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn vert_dist32<S: Sample>(
    rrows: &[&[S]],
    drows: &[&[S]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    let k = &mut VertDist::<u32, S>::new(rrows, drows, s, mu, yy, xy);
    by_taps!(f.len(), vert(f, k.mu.len(), k))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn vert_mu<S: Sample>(
    rows: &[&[S]],
    f: &[u16],
    round: u32,
    shift: u32,
    mu: &mut [u32],
) {
    let k = &mut VertMu {
        rows,
        round,
        shift,
        mu,
    };
    by_taps!(f.len(), vert(f, k.mu.len(), k))
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn vert_ref64(
    rows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    sq: &mut [u32],
) {
    let k = &mut VertRef::<u64>::new(rows, s, mu, sq);
    by_taps!(f.len(), vert(f, k.mu.len(), k))
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn vert_dist64(
    rrows: &[&[u16]],
    drows: &[&[u16]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    yy: &mut [u32],
    xy: &mut [u32],
) {
    let k = &mut VertDist::<u64>::new(rrows, drows, s, mu, yy, xy);
    by_taps!(f.len(), vert(f, k.mu.len(), k))
}

/// One horizontal kernel of this set over a padded biased row (16 outputs per step): its
/// accumulators, what a pair of taps adds (the 32-bit words `a`, `b` of taps k and T−1−k), and
/// the output. [`horiz`] runs the filter.
trait Horiz {
    type Acc;
    unsafe fn init() -> Self::Acc;
    unsafe fn tap(acc: &mut Self::Acc, k: usize, a: __m512i, b: __m512i, cc: __m512i);
    unsafe fn finish(acc: Self::Acc) -> __m512i;
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn horiz<const T: usize, K: Horiz>(src: &[u32], f: &[u16], out: &mut [u32]) {
    let co = coeffs::<T>(f);
    let w = out.len();
    debug_assert!(src.len() >= w + T - 1);
    let mut j = 0;
    while j < w {
        let n = (w - j).min(16);
        let m = mask16(n);
        let p = src.as_ptr().add(j) as *const i32;
        let ld = |k: usize| _mm512_maskz_loadu_epi32(m, p.add(k));
        let mut acc = K::init();
        for k in 0..T / 2 {
            K::tap(&mut acc, k, ld(k), ld(T - 1 - k), co.p[k]);
        }
        K::tap(&mut acc, T / 2, ld(T / 2), ld(T / 2), co.c);
        _mm512_mask_storeu_epi32(out.as_mut_ptr().add(j) as *mut i32, m, K::finish(acc));
        j += n;
    }
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

/// Horizontal Q16 pass, (Σf·x + 2^15) >> 16, from the sums of the 16-bit halves.
/// Σc·(x − 2^15) over all taps is Σc·x − 2^31 (the filters sum to 2^16): the accumulators start
/// at 2^31.
struct Q16;

impl Horiz for Q16 {
    /// Σ of the high and of the low halves.
    type Acc = [__m512i; 2];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [_mm512_set1_epi32(i32::MIN); 2]
    }
    #[inline(always)]
    unsafe fn tap([hi, lo]: &mut Self::Acc, _k: usize, a: __m512i, b: __m512i, cc: __m512i) {
        *hi = _mm512_dpwssd_epi32(*hi, hi_pair(a, b), cc);
        *lo = _mm512_dpwssd_epi32(*lo, lo_pair(a, b), cc);
    }
    #[inline(always)]
    unsafe fn finish([hi, lo]: Self::Acc) -> __m512i {
        let round = _mm512_set1_epi32(32768);
        _mm512_add_epi32(hi, _mm512_srli_epi32(_mm512_add_epi32(lo, round), 16))
    }
}

/// Horizontal Σf·x of a row whose values fit 16 bits (every mean row: see
/// `Kernels::horiz_u32`): only the low halves are summed.
struct U16;

impl Horiz for U16 {
    /// Two accumulators (even and odd taps): a shorter dependency chain.
    type Acc = [__m512i; 2];
    #[inline(always)]
    unsafe fn init() -> Self::Acc {
        [_mm512_set1_epi32(i32::MIN), _mm512_setzero_si512()]
    }
    #[inline(always)]
    unsafe fn tap(acc: &mut Self::Acc, k: usize, a: __m512i, b: __m512i, cc: __m512i) {
        acc[k % 2] = _mm512_dpwssd_epi32(acc[k % 2], lo_pair(a, b), cc);
    }
    #[inline(always)]
    unsafe fn finish([a, b]: Self::Acc) -> __m512i {
        _mm512_add_epi32(a, b)
    }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
    match f.len() {
        17 => horiz_adjacent::<17, true, false>(src, f, out),
        9 => horiz_adjacent::<9, true, false>(src, f, out),
        5 => horiz_adjacent::<5, true, false>(src, f, out),
        t => by_taps!(t, horiz::<Q16>(src, f, out)),
    }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn horiz_u16(src: &[u32], f: &[u16], out: &mut [u32]) {
    match f.len() {
        17 => horiz_adjacent::<17, false, false>(src, f, out),
        9 => horiz_adjacent::<9, false, false>(src, f, out),
        5 => horiz_adjacent::<5, false, false>(src, f, out),
        t => by_taps!(t, horiz::<U16>(src, f, out)),
    }
}

/// [`horiz_u16`] at the even outputs only (`out[j]` = output 2j), for 17, 9 and 5 taps.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
pub(super) unsafe fn horiz_u16_even(src: &[u32], f: &[u16], out: &mut [u32]) {
    match f.len() {
        17 => horiz_adjacent::<17, false, true>(src, f, out),
        9 => horiz_adjacent::<9, false, true>(src, f, out),
        _ => horiz_adjacent::<5, false, true>(src, f, out),
    }
}

/// Outputs per chunk of [`horiz_adjacent`] (a multiple of 32).
const CHUNK: usize = 512;

/// The horizontal passes for filters whose every coefficient fits an i16 (17, 9 and 5 taps):
/// the row's 16-bit halves are first packed into word rows (`lo`, and `hi` when `Q`), so a
/// 32-bit lane of a load at word offset j holds two *adjacent* samples and one `vpdpwssd` with
/// (c₂ₘ, c₂ₘ₊₁) adds two taps without any per-tap shuffle. Loads at even offsets give the even
/// outputs, at odd offsets the odd ones; the two are interleaved at the store. `Q` gives
/// [`Q16`]'s (Σf·x + 2^15) >> 16 from both halves, otherwise [`U16`]'s Σf·lo. Same sums,
/// bias and wrapping as [`horiz`], so the outputs are identical. With `D` (decimate) only the
/// even outputs are computed, and output 2j is stored at `out[j]`.
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw,avx512cd,avx512vnni")]
unsafe fn horiz_adjacent<const T: usize, const Q: bool, const D: bool>(
    src: &[u32],
    f: &[u16],
    out: &mut [u32],
) {
    let (words, pairs) = super::adjacent_pairs(f);
    let mut cp = [_mm512_setzero_si512(); 9];
    for (c, &w) in cp.iter_mut().zip(&words[..pairs]) {
        *c = _mm512_set1_epi32(w);
    }
    let even = _mm512_set_epi16(
        62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26, 24, 22, 20, 18,
        16, 14, 12, 10, 8, 6, 4, 2, 0,
    );
    let odd = _mm512_add_epi16(even, _mm512_set1_epi16(1));
    let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    // Word rows of one chunk: CHUNK outputs read CHUNK + T words (the last pair's second tap
    // has coefficient 0); packing writes whole groups of 32.
    let mut lo = [0u16; CHUNK + 64];
    let mut hi = [0u16; CHUNK + 64];
    // Full outputs computed: all of them, or 2·out.len() of which the even ones are kept.
    let w = if D { 2 * out.len() } else { out.len() };
    let mut c = 0;
    while c < w {
        let n = (w - c).min(CHUNK);
        let mut k = 0;
        while k < n + T {
            let avail = src.len().saturating_sub(c + k).min(32);
            let ps = src.as_ptr().add(c + k) as *const i32;
            let a = _mm512_maskz_loadu_epi32(mask16(avail.min(16)), ps);
            let b = _mm512_maskz_loadu_epi32(mask16(avail.saturating_sub(16)), ps.wrapping_add(16));
            let pl = lo.as_mut_ptr().add(k) as *mut __m512i;
            _mm512_storeu_si512(pl, _mm512_permutex2var_epi16(a, even, b));
            if Q {
                let ph = hi.as_mut_ptr().add(k) as *mut __m512i;
                _mm512_storeu_si512(ph, _mm512_permutex2var_epi16(a, odd, b));
            }
            k += 32;
        }
        let mut j = 0;
        while j < n {
            let init = _mm512_set1_epi32(i32::MIN);
            let (mut el, mut ol, mut eh, mut oh) = (init, init, init, init);
            for (m, &cm) in cp.iter().enumerate().take(pairs) {
                let at = |row: &[u16; CHUNK + 64], o: usize| {
                    _mm512_loadu_si512(row.as_ptr().add(j + 2 * m + o) as *const __m512i)
                };
                el = _mm512_dpwssd_epi32(el, at(&lo, 0), cm);
                if !D {
                    ol = _mm512_dpwssd_epi32(ol, at(&lo, 1), cm);
                }
                if Q {
                    eh = _mm512_dpwssd_epi32(eh, at(&hi, 0), cm);
                    oh = _mm512_dpwssd_epi32(oh, at(&hi, 1), cm);
                }
            }
            let (ev, od) = if Q {
                (Q16::finish([eh, el]), Q16::finish([oh, ol]))
            } else {
                (el, ol)
            };
            let cnt = (n - j).min(32);
            if D {
                // `c + j` and `n` are even: this block's even outputs go to out[(c + j) / 2..].
                let po = out.as_mut_ptr().add((c + j) / 2) as *mut i32;
                _mm512_mask_storeu_epi32(po, mask16(cnt / 2), ev);
                j += 32;
                continue;
            }
            let po = out.as_mut_ptr().add(c + j) as *mut i32;
            let r0 = _mm512_permutex2var_epi32(ev, first, od);
            _mm512_mask_storeu_epi32(po, mask16(cnt.min(16)), r0);
            if cnt > 16 {
                let r1 = _mm512_permutex2var_epi32(ev, second, od);
                _mm512_mask_storeu_epi32(po.add(16), mask16(cnt - 16), r1);
            }
            j += 32;
        }
        c += n;
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
pub(super) unsafe fn ref_terms(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
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
pub(super) unsafe fn dist_terms(
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

/// Safe entry points for the table: only reachable through `KERNELS`, which `Kernels::for_level`
/// hands out only when the CPU has [`CpuLevel::Avx512Vnni`] (AVX-512 F/BW/VL/DQ/CD, VNNI and so
/// AVX2), the features every kernel here is compiled for. Each checks the lengths its kernel's
/// pointer accesses rely on, and takes the AVX2 kernel otherwise. Every vertical output is stored
/// xored with [`BIAS`] (the AVX2 kernels it falls back on are followed by the xor).
mod safe {
    use super::super::avx2;
    use super::vif::VShift;
    use super::BIAS;
    use crate::frame::Sample;

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

    fn rows_ok<S>(rows: &[&[S]], w: usize) -> bool {
        rows.iter().all(|r| r.len() >= w)
    }

    /// The lengths a distorted vertical kernel relies on: every row and output covers `w`.
    fn dist_ok<S>(r: &[&[S]], d: &[&[S]], f: &[u16], w: usize, yy: &[u32], xy: &[u32]) -> bool {
        rows_ok(r, w)
            && rows_ok(d, w)
            && r.len() >= f.len()
            && d.len() >= f.len()
            && yy.len() >= w
            && xy.len() >= w
    }

    pub(super) fn vert_ref32<S: Sample>(
        r: &[&[S]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        sq: &mut [u32],
    ) {
        if avx2::madd_ok(f, s) && rows_ok(r, mu.len()) && sq.len() >= mu.len() {
            // SAFETY: see `safe`: the CPU has the set's features; every row and `sq` cover the
            // `mu.len()` columns the masked loads and stores touch (checked above).
            unsafe { super::vert_ref32(r, f, s, mu, sq) }
        } else {
            avx2::vert_ref32(r, f, s, mu, sq);
            bias(&mut [mu, sq]);
        }
    }
    /// The 16-bit-halves kernels: pair coefficients and the shifts they can split.
    fn halves_ok(f: &[u16], s: VShift) -> bool {
        pairs_ok(f) && s.sq_shift <= 16 && s.sq_round < 65536
    }

    pub(super) fn vert_ref64(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
        if halves_ok(f, s) && rows_ok(r, mu.len()) && r.len() >= f.len() && sq.len() >= mu.len() {
            // SAFETY: see `safe`: the CPU has the set's features; the filter's rows exist and
            // they and `sq` cover the `mu.len()` columns touched (checked above).
            unsafe { super::vert_ref64(r, f, s, mu, sq) }
        } else {
            avx2::vert_ref64(r, f, s, mu, sq);
            bias(&mut [mu, sq]);
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub(super) fn vert_dist32<S: Sample>(
        r: &[&[S]],
        d: &[&[S]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        if avx2::madd_ok(f, s) && dist_ok(r, d, f, mu.len(), yy, xy) {
            // SAFETY: see `safe`: the CPU has the set's features; `dist_ok` checked every row and
            // output covers the `mu.len()` columns touched.
            unsafe { super::vert_dist32(r, d, f, s, mu, yy, xy) }
        } else {
            avx2::vert_dist32(r, d, f, s, mu, yy, xy);
            bias(&mut [mu, yy, xy]);
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub(super) fn vert_dist64(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        yy: &mut [u32],
        xy: &mut [u32],
    ) {
        if halves_ok(f, s) && dist_ok(r, d, f, mu.len(), yy, xy) {
            // SAFETY: see `safe`: the CPU has the set's features; `dist_ok` checked every row and
            // output covers the `mu.len()` columns touched.
            unsafe { super::vert_dist64(r, d, f, s, mu, yy, xy) }
        } else {
            avx2::vert_dist64(r, d, f, s, mu, yy, xy);
            bias(&mut [mu, yy, xy]);
        }
    }
    pub(super) fn vert_mu<S: Sample>(
        r: &[&[S]],
        f: &[u16],
        round: u32,
        shift: u32,
        mu: &mut [u32],
    ) {
        if pairs_ok(f) && rows_ok(r, mu.len()) && r.len() >= f.len() {
            // SAFETY: see `safe`: the CPU has the set's features; the filter's rows exist and
            // cover the `mu.len()` columns touched (checked above).
            unsafe { super::vert_mu(r, f, round, shift, mu) }
        } else {
            avx2::vert_mu(r, f, round, shift, mu);
            bias(&mut [mu]);
        }
    }
    pub(super) fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
        if pairs_ok(f) && src.len() + 1 >= out.len() + f.len() {
            // SAFETY: see `safe`: the CPU has the set's features; output `j` reads
            // `src[j..j + f.len()]`, inside `src` for every `j < out.len()` (checked above).
            unsafe { super::horiz_u16(src, f, out) }
        } else {
            let plain: Vec<u32> = src.iter().map(|&v| v ^ BIAS).collect();
            avx2::horiz_u32(&plain, f, out)
        }
    }
    pub(super) fn horiz_u32_even(src: &[u32], f: &[u16], out: &mut [u32]) {
        let adjacent = matches!(f.len(), 17 | 9 | 5) && f.iter().all(|&c| c < 32768);
        if adjacent && pairs_ok(f) && src.len() + 1 >= 2 * out.len() + f.len() {
            // SAFETY: see `safe`: the CPU has the set's features; the kernel computes full
            // outputs 0..2·out.len(), output `j` reading `src[j..j + f.len()]`, inside `src`
            // (checked above), and stores `out.len()` values.
            unsafe { super::horiz_u16_even(src, f, out) }
        } else {
            super::vif::even_outputs(horiz_u32, src, f, out)
        }
    }
    pub(super) fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
        if pairs_ok(f) && src.len() + 1 >= out.len() + f.len() {
            // SAFETY: see `safe`: the CPU has the set's features; output `j` reads
            // `src[j..j + f.len()]`, inside `src` for every `j < out.len()` (checked above).
            unsafe { super::horiz_q16(src, f, out) }
        } else {
            let plain: Vec<u32> = src.iter().map(|&v| v ^ BIAS).collect();
            avx2::horiz_q16(&plain, f, out)
        }
    }

    /// AVX-512 `dist_terms`, fused in one sweep.
    pub(super) fn dist_terms(
        mu1: &[u32],
        s1: &[i32],
        mu2: &[u32],
        yy: &[u32],
        xy: &[u32],
        egl: f64,
    ) -> (i64, i64) {
        let w = mu1.len();
        assert!(s1.len() >= w && mu2.len() >= w && yy.len() >= w && xy.len() >= w);
        // SAFETY: see `safe`: the CPU has the set's features; the lengths are checked above.
        unsafe { super::dist_terms(mu1, s1, mu2, yy, xy, egl) }
    }

    pub(super) fn ref_terms(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
        assert!(xx.len() >= mu.len() && s1.len() >= mu.len());
        // SAFETY: see `safe`: the CPU has the set's features; the lengths are checked above.
        unsafe { super::ref_terms(mu, xx, s1) }
    }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx512Vnni,
    vert_ref32: safe::vert_ref32::<u16>,
    vert_ref64: safe::vert_ref64,
    vert_dist32: safe::vert_dist32::<u16>,
    vert_dist64: safe::vert_dist64,
    vert_mu: safe::vert_mu::<u16>,
    vert_ref8: safe::vert_ref32::<u8>,
    vert_dist8: safe::vert_dist32::<u8>,
    vert_mu8: safe::vert_mu::<u8>,
    horiz_u32: safe::horiz_u32,
    horiz_u32_even: safe::horiz_u32_even,
    horiz_q16: safe::horiz_q16,
    dist_terms: safe::dist_terms,
    ref_terms: safe::ref_terms,
    bias: BIAS,
};
