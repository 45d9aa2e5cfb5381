//! The AVX2 VIF kernel set: the portable filters compiled with AVX2 and FMA enabled, hand-written
//! `vpmaddwd` filters for 8-bit samples and symmetric 16-bit taps, and AVX2 log terms. The
//! entry points at the end are safe functions for the table, which is only handed out at
//! [`CpuLevel::Avx2`] or above.

use super::super as vif;
use super::log2_table32;
use crate::cpu::CpuLevel;
use crate::frame::Sample;
use vif::scalar::{self, log_terms_scalar};
use vif::{sigma2_sigma12, Kernels, VShift, EPS, SIGMA_NSQ};

mod autovec {
    use super::vif::portable::{fir, kernel_bodies, Horiz, VertDist, VertMu, VertRef};
    use super::vif::VShift;
    kernel_bodies!(target_feature(enable = "avx2,fma"));
}

/// The 16-bit multiply-add kernels apply to symmetric filters with coefficients below 2^15
/// and second moments stored unshifted (8-bit samples at scale 0, the only use of the 32-bit
/// kernels).
pub(super) fn madd_ok(f: &[u16], s: VShift) -> bool {
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
mod madd {
    use super::vif::portable::{VertDist, VertMu, VertRef};
    use super::vif::VShift;
    use crate::frame::Sample;
    use crate::simd::Load;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn ld<S: Sample>(r: &[S], j: usize) -> __m256i {
        debug_assert!(j + 16 <= r.len());
        S::Simd::load16(r.as_ptr().add(j))
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
        unsafe fn ld<S: Sample>(self, rows: &[&[S]]) -> (__m256i, __m256i) {
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

    impl<S: Sample> Vert for VertRef<'_, u32, S> {
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
            let rows: Vec<&[S]> = self.rows.iter().map(|r| &r[j..w]).collect();
            super::scalar::vert_ref32(&rows, f, self.s, &mut self.mu[j..], &mut self.sq[j..]);
        }
    }

    impl<S: Sample> Vert for VertDist<'_, u32, S> {
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
            let r: Vec<&[S]> = self.rrows.iter().map(|r| &r[j..w]).collect();
            let d: Vec<&[S]> = self.drows.iter().map(|r| &r[j..w]).collect();
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
    pub(super) unsafe fn vert_ref32<S: Sample>(
        rows: &[&[S]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        sq: &mut [u32],
    ) {
        let k = &mut VertRef::<u32, S>::new(rows, s, mu, sq);
        vert(f, k.mu.len(), k, || [[_mm256_setzero_si256(); 2]; 2])
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
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
        vert(f, k.mu.len(), k, || [[_mm256_setzero_si256(); 2]; 3])
    }

    /// Samples biased by −2^15 (a word of a pair for `vpmaddwd`).
    #[inline(always)]
    unsafe fn biased(x: __m256i) -> __m256i {
        _mm256_xor_si256(x, _mm256_set1_epi16(i16::MIN))
    }

    /// 32-bit products x·y of 16-bit samples as biased (high, low) 16-bit halves.
    #[inline(always)]
    unsafe fn product_halves(x: __m256i, y: __m256i) -> (__m256i, __m256i) {
        (
            biased(_mm256_mulhi_epu16(x, y)),
            biased(_mm256_mullo_epi16(x, y)),
        )
    }

    /// (Σc·P + round) >> shift of 32-bit products P from the sums of their halves (each started
    /// at 2^31 to undo the bias): 2^(16−shift)·Σc·hi + ((Σc·lo + round) >> shift), exact for
    /// shift ≤ 16, truncated to u32 as the scalar kernel does.
    #[inline(always)]
    unsafe fn combine_halves(hi: __m256i, lo: __m256i, s: VShift) -> __m256i {
        let h = _mm256_sll_epi32(hi, _mm_cvtsi32_si128(16 - s.sq_shift as i32));
        let l = _mm256_srl_epi32(
            _mm256_add_epi32(lo, _mm256_set1_epi32(s.sq_round as i32)),
            _mm_cvtsi32_si128(s.sq_shift as i32),
        );
        _mm256_add_epi32(h, l)
    }

    /// Stores second moments from the sums of their halves.
    #[inline(always)]
    unsafe fn store_halves(
        out: &mut [u32],
        j: usize,
        h: &[__m256i; 2],
        l: &[__m256i; 2],
        s: VShift,
    ) {
        let (a, b) = (combine_halves(h[0], l[0], s), combine_halves(h[1], l[1], s));
        store(out, j, a, b, 0, 0);
    }

    /// 16-bit samples (scales 1–3, deeper scale 0): mean and (Σf·x² + round) >> shift, the
    /// squares summed as two 16-bit halves (see `combine_halves`). Every sum starts at 2^31.
    impl Vert for VertRef<'_, u64> {
        /// Mean, high and low halves of the squares.
        type Acc = [[__m256i; 2]; 3];
        #[inline(always)]
        unsafe fn tap(&self, [am, ah, al]: &mut Self::Acc, t: Tap) {
            let (a, b) = t.ld(self.rows);
            let ((ah0, al0), (ah1, al1)) = (product_halves(a, a), product_halves(b, b));
            t.acc(am, biased(a), biased(b));
            t.acc(ah, ah0, ah1);
            t.acc(al, al0, al1);
        }
        #[inline(always)]
        unsafe fn store(&mut self, [am, ah, al]: &Self::Acc, j: usize) {
            store(self.mu, j, am[0], am[1], self.s.mu_round, self.s.mu_shift);
            store_halves(self.sq, j, ah, al, self.s);
        }
        fn tail(&mut self, f: &[u16], j: usize) {
            let w = self.mu.len();
            let rows: Vec<&[u16]> = self.rows.iter().map(|r| &r[j..w]).collect();
            super::scalar::vert_ref64(&rows, f, self.s, &mut self.mu[j..], &mut self.sq[j..]);
        }
    }

    /// 16-bit samples of the distorted image: mean, (Σf·d² + round) >> shift and
    /// (Σf·r·d + round) >> shift by halves. Every sum starts at 2^31.
    impl Vert for VertDist<'_, u64> {
        /// Mean, high and low halves of d² and of r·d.
        type Acc = [[__m256i; 2]; 5];
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
        unsafe fn store(&mut self, [am, yh, yl, xh, xl]: &Self::Acc, j: usize) {
            store(self.mu, j, am[0], am[1], self.s.mu_round, self.s.mu_shift);
            store_halves(self.yy, j, yh, yl, self.s);
            store_halves(self.xy, j, xh, xl, self.s);
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
            super::scalar::vert_dist64(&r, &d, f, s, mu, yy, xy);
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn vert_ref64(
        rows: &[&[u16]],
        f: &[u16],
        s: VShift,
        mu: &mut [u32],
        sq: &mut [u32],
    ) {
        let k = &mut VertRef::<u64>::new(rows, s, mu, sq);
        vert(f, k.mu.len(), k, || [[_mm256_set1_epi32(i32::MIN); 2]; 3])
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
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
        vert(f, k.mu.len(), k, || [[_mm256_set1_epi32(i32::MIN); 2]; 5])
    }

    /// The pyramid's vertical pass: samples biased by −2^15 fit a word, so a tap pair is one
    /// `vpmaddwd`; the bias adds −2^15·Σc = −2^31 over all taps, which the accumulators' start
    /// value 2^31 undoes (mod 2^32). The mean is kept to 16 bits.
    impl<S: Sample> Vert for VertMu<'_, S> {
        type Acc = [__m256i; 2];
        #[inline(always)]
        unsafe fn tap(&self, am: &mut Self::Acc, t: Tap) {
            let (a, b) = t.ld(self.rows);
            let bias = _mm256_set1_epi16(i16::MIN);
            t.acc(am, _mm256_xor_si256(a, bias), _mm256_xor_si256(b, bias));
        }
        #[inline(always)]
        unsafe fn store(&mut self, am: &Self::Acc, j: usize) {
            let low16 = _mm256_set1_epi32(0xffff);
            let r = _mm256_set1_epi32(self.round as i32);
            let sh = _mm_cvtsi32_si128(self.shift as i32);
            let fin =
                |x: __m256i| _mm256_and_si256(_mm256_srl_epi32(_mm256_add_epi32(x, r), sh), low16);
            store(self.mu, j, fin(am[0]), fin(am[1]), 0, 0);
        }
        fn tail(&mut self, f: &[u16], j: usize) {
            let w = self.mu.len();
            let rows: Vec<&[S]> = self.rows.iter().map(|r| &r[j..w]).collect();
            super::scalar::vert_mu(&rows, f, self.round, self.shift, &mut self.mu[j..]);
        }
    }

    #[target_feature(enable = "avx2")]
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
        vert(f, k.mu.len(), k, || [_mm256_set1_epi32(i32::MIN); 2])
    }

    /// Horizontal Q16 pass with `vpmaddwd`: the 16-bit halves of a symmetric pair of taps are
    /// blended into one (i16, i16) lane, biased by −2^15, and multiplied-added with (c, c); the
    /// centre tap uses a 32-bit multiply. Same halves arithmetic as the portable kernel.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
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

/// Horizontal passes for filters whose every coefficient fits an i16 (17, 9 and 5 taps), as the
/// AVX-512 set does them: the row's 16-bit halves are packed once into biased word rows, so a
/// 32-bit lane of a load at word offset j holds two *adjacent* samples and one `vpmaddwd` with
/// (c₂ₘ, c₂ₘ₊₁) adds two taps with no per-tap shuffle; loads at even offsets give the even
/// outputs, at odd offsets the odd ones, interleaved at the store. Same sums, bias and wrapping
/// as the symmetric kernels, so the outputs are identical.
mod adjacent {
    use std::arch::x86_64::*;

    /// Outputs per chunk (a multiple of 16).
    const CHUNK: usize = 512;

    /// `Q`: (Σf·x + 2^15) >> 16 of 32-bit inputs from both halves; otherwise Σf·x of inputs
    /// below 2^16 (the mean rows). `D` (decimate): only the even outputs, output 2j stored at
    /// `out[j]`. `src` holds the computed outputs' count + `f.len()` − 1 samples.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn horiz<const T: usize, const Q: bool, const D: bool>(
        src: &[u32],
        f: &[u16],
        out: &mut [u32],
    ) {
        // Full outputs computed: all of them, or 2·out.len() of which the even ones are kept.
        let w = if D { 2 * out.len() } else { out.len() };
        debug_assert!(src.len() + 1 >= w + T);
        let (words, pairs) = super::super::adjacent_pairs(f);
        let mut cp = [_mm256_setzero_si256(); 9];
        for (c, &w) in cp.iter_mut().zip(&words[..pairs]) {
            *c = _mm256_set1_epi32(w);
        }
        let low = _mm256_set1_epi32(0xffff);
        let bias = _mm256_set1_epi16(i16::MIN);
        // Words of 16 u32 (a, b) in order, biased: packus works per 128-bit lane.
        let pack = |a: __m256i, b: __m256i| {
            let p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
            _mm256_xor_si256(p, bias)
        };
        let mut lo = [0u16; CHUNK + 48];
        let mut hi = [0u16; CHUNK + 48];
        let mut c = 0;
        while c < w {
            let n = (w - c).min(CHUNK);
            let mut k = 0;
            while k < n + T {
                let avail = src.len().saturating_sub(c + k).min(16);
                let (a, b) = if avail == 16 {
                    let p = src.as_ptr().add(c + k) as *const __m256i;
                    (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
                } else {
                    let mut v = [0u32; 16];
                    v[..avail].copy_from_slice(&src[c + k..c + k + avail]);
                    let p = v.as_ptr() as *const __m256i;
                    (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
                };
                let pl = lo.as_mut_ptr().add(k) as *mut __m256i;
                _mm256_storeu_si256(pl, pack(_mm256_and_si256(a, low), _mm256_and_si256(b, low)));
                if Q {
                    let ph = hi.as_mut_ptr().add(k) as *mut __m256i;
                    let (ah, bh) = (_mm256_srli_epi32(a, 16), _mm256_srli_epi32(b, 16));
                    _mm256_storeu_si256(ph, pack(ah, bh));
                }
                k += 16;
            }
            let mut j = 0;
            while j < n {
                let init = _mm256_set1_epi32(i32::MIN);
                let (mut el, mut ol, mut eh, mut oh) = (init, init, init, init);
                for (m, &cm) in cp.iter().enumerate().take(pairs) {
                    let at = |row: &[u16; CHUNK + 48], o: usize| {
                        _mm256_loadu_si256(row.as_ptr().add(j + 2 * m + o) as *const __m256i)
                    };
                    el = _mm256_add_epi32(el, _mm256_madd_epi16(at(&lo, 0), cm));
                    if !D {
                        ol = _mm256_add_epi32(ol, _mm256_madd_epi16(at(&lo, 1), cm));
                    }
                    if Q {
                        eh = _mm256_add_epi32(eh, _mm256_madd_epi16(at(&hi, 0), cm));
                        oh = _mm256_add_epi32(oh, _mm256_madd_epi16(at(&hi, 1), cm));
                    }
                }
                let (ev, od) = if Q {
                    let round = _mm256_set1_epi32(32768);
                    let fin = |h: __m256i, l: __m256i| {
                        _mm256_add_epi32(h, _mm256_srli_epi32(_mm256_add_epi32(l, round), 16))
                    };
                    (fin(eh, el), fin(oh, ol))
                } else {
                    (el, ol)
                };
                let cnt = (n - j).min(16);
                if D {
                    // `c + j` and `n` are even: the block's cnt / 2 even outputs.
                    let mut r = [0u32; 8];
                    _mm256_storeu_si256(r.as_mut_ptr() as *mut __m256i, ev);
                    let o = (c + j) / 2;
                    out[o..o + cnt / 2].copy_from_slice(&r[..cnt / 2]);
                    j += 16;
                    continue;
                }
                let (x, y) = (_mm256_unpacklo_epi32(ev, od), _mm256_unpackhi_epi32(ev, od));
                let (r0, r1) = (
                    _mm256_permute2x128_si256(x, y, 0x20),
                    _mm256_permute2x128_si256(x, y, 0x31),
                );
                if cnt == 16 {
                    let po = out.as_mut_ptr().add(c + j) as *mut __m256i;
                    _mm256_storeu_si256(po, r0);
                    _mm256_storeu_si256(po.add(1), r1);
                } else {
                    let mut r = [0u32; 16];
                    let pr = r.as_mut_ptr() as *mut __m256i;
                    _mm256_storeu_si256(pr, r0);
                    _mm256_storeu_si256(pr.add(1), r1);
                    out[c + j..c + j + cnt].copy_from_slice(&r[..cnt]);
                }
                j += 16;
            }
            c += n;
        }
    }
}

/// AVX2 `ref_terms`, 8 pixels per step (the scalar kernel finishes the tail): σ₁² = Σf·x² −
/// round(μ₁²) stored, the count below the noise floor, and log2(σ²ₙ + σ₁²)·2048 − 17·2048 from
/// the table by gather. Without `vplzcntd`, the bit length of y = σ²ₙ + σ₁² (2^18 ≤ y < 2^32)
/// comes from the exponent of y >> 8 as an f32, exact because it has at most 24 bits.
#[target_feature(enable = "avx2")]
unsafe fn ref_terms_avx2_t(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
    use std::arch::x86_64::*;
    let w = mu.len().min(xx.len()).min(s1.len());
    let table = log2_table32();
    let nsq = _mm256_set1_epi32(SIGMA_NSQ);
    let half = _mm256_set1_epi64x(1 << 31);
    // (a·a + 2^31) >> 32 per u32 lane.
    let sq_round = |a: __m256i| {
        let even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(a, a), half), 32);
        let ao = _mm256_srli_epi64(a, 32);
        let odd = _mm256_add_epi64(_mm256_mul_epu32(ao, ao), half);
        _mm256_blend_epi32(even, odd, 0xAA)
    };
    let mut log_acc = _mm256_setzero_si256();
    let mut non_log = 0i64;
    let mut j = 0;
    while j + 8 <= w {
        let mv = _mm256_loadu_si256(mu.as_ptr().add(j) as *const __m256i);
        let xv = _mm256_loadu_si256(xx.as_ptr().add(j) as *const __m256i);
        let v = _mm256_sub_epi32(xv, sq_round(mv));
        _mm256_storeu_si256(s1.as_mut_ptr().add(j) as *mut __m256i, v);
        // v ≥ σ²ₙ as i32: not (σ²ₙ > v).
        let ge = _mm256_xor_si256(_mm256_cmpgt_epi32(nsq, v), _mm256_set1_epi32(-1));
        let gem = _mm256_movemask_ps(_mm256_castsi256_ps(ge)) as u32;
        non_log += 8 - gem.count_ones() as i64;
        if gem != 0 {
            let y = _mm256_add_epi32(v, nsq);
            let f = _mm256_castps_si256(_mm256_cvtepi32_ps(_mm256_srli_epi32(y, 8)));
            // floor(log2(y >> 8)) − 7 = bit length of y − 16.
            let e = _mm256_sub_epi32(_mm256_srli_epi32(f, 23), _mm256_set1_epi32(127 + 7));
            let idx = _mm256_srlv_epi32(y, e);
            let t = _mm256_mask_i32gather_epi32::<4>(
                _mm256_setzero_si256(),
                table.as_ptr() as *const i32,
                _mm256_and_si256(idx, ge),
                ge,
            );
            let term = _mm256_add_epi32(
                t,
                _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(17)), 11),
            );
            // Per-lane sums stay far below 2^31 (each term < 2^16, w / 8 terms per lane).
            log_acc = _mm256_add_epi32(log_acc, _mm256_and_si256(term, ge));
        }
        j += 8;
    }
    let mut lanes = [0i32; 8];
    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, log_acc);
    let (tl, tn) = scalar::ref_terms_scalar(&mu[j..w], &xx[j..w], &mut s1[j..w]);
    (
        lanes.iter().map(|&x| x as i64).sum::<i64>() + tl,
        non_log + tn,
    )
}

fn ref_terms_avx2(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
    // SAFETY: AVX2 is present (the table is only handed out at `CpuLevel::Avx2` or above); the
    // kernel loads and stores 8 lanes at `j` only while `j + 8` is within all three slices, and
    // gathers table entries at indices below 2^16 (the 16 leading bits of y).
    unsafe { ref_terms_avx2_t(mu, xx, s1) }
}

/// Pass 1 of `dist_terms`: σ₂² and σ₁₂ into `s2`/`s12`, and the non-log sum.
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

/// AVX2 `dist_terms`: a vectorised pass 1 into a row buffer, then the AVX2 log terms.
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
        // SAFETY: AVX2 and FMA are present (only reachable through a table for AVX2 or above);
        // `pass1` is safe, bounds-checked Rust compiled with those features.
        let non_log = unsafe { pass1(mu1, s1, mu2, yy, xy, s2, s12) };
        (log_terms_avx2(s1, s2, s12, egl), non_log)
    })
}

/// AVX2 log-terms kernel: four pixels per step in f64, the same operations in the same order
/// as the scalar kernel (no FMA), so the integer terms are identical.
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

/// Safe entry point of [`log_terms_avx2_t`]; called by `dist_terms_avx2` (and the tests, after
/// checking the CPU level).
pub(crate) fn log_terms_avx2(s1: &[i32], s2: &[u32], s12: &[u32], egl: f64) -> i64 {
    // SAFETY: AVX2 and FMA are present (reached from a table for AVX2 or above, or from a test
    // that checked the level); the kernel reads only below the shortest input's length, and its
    // gathers index the 65536-entry log table with the 16 leading bits of a value ≥ 2^17.
    unsafe { log_terms_avx2_t(s1, s2, s12, egl) }
}

// Safe entry points: only reachable through `KERNELS` (and the AVX-512 set's fallbacks), which
// `Kernels::for_level` hands out only when the CPU has AVX2 and FMA. The `autovec` kernels are
// safe, bounds-checked Rust compiled with those features; the `madd` kernels load and store
// with raw pointers, so their entry points check the lengths those accesses rely on and take
// the portable kernel otherwise.

/// Every row covers `w` samples.
fn rows_ok<S>(rows: &[&[S]], w: usize) -> bool {
    rows.iter().all(|r| r.len() >= w)
}

pub(super) fn vert_ref32<S: Sample>(
    r: &[&[S]],
    f: &[u16],
    s: VShift,
    mu: &mut [u32],
    sq: &mut [u32],
) {
    if madd_ok(f, s) && rows_ok(r, mu.len()) && sq.len() >= mu.len() {
        // SAFETY: AVX2 is present (see above); every row and `sq` cover the `mu.len()` columns
        // the kernel loads and stores (checked above); rows are indexed with bounds checks.
        unsafe { madd::vert_ref32(r, f, s, mu, sq) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::vert_ref32(r, f, s, mu, sq) }
    }
}

/// The 16-bit-halves kernels: symmetric pair coefficients below 2^15 and the shifts they can
/// split.
fn halves_ok(f: &[u16], s: VShift) -> bool {
    matches!(f.len(), 3 | 5 | 9 | 17)
        && f.iter().all(|&c| c < 32768)
        && f.iter().eq(f.iter().rev())
        && s.sq_shift <= 16
        && s.sq_round < 65536
}

pub(super) fn vert_ref64(r: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
    if halves_ok(f, s) && r.len() >= f.len() && rows_ok(r, mu.len()) && sq.len() >= mu.len() {
        // SAFETY: AVX2 is present (see above); the filter's rows exist and they and `sq` cover
        // the `mu.len()` columns the kernel loads and stores (checked above).
        unsafe { madd::vert_ref64(r, f, s, mu, sq) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::vert_ref64(r, f, s, mu, sq) }
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
    let w = mu.len();
    if madd_ok(f, s) && rows_ok(r, w) && rows_ok(d, w) && yy.len() >= w && xy.len() >= w {
        // SAFETY: AVX2 is present (see above); every row, `yy` and `xy` cover the `w` columns
        // the kernel loads and stores (checked above); rows are indexed with bounds checks.
        unsafe { madd::vert_dist32(r, d, f, s, mu, yy, xy) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::vert_dist32(r, d, f, s, mu, yy, xy) }
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
    let w = mu.len();
    let fits = r.len() >= f.len() && d.len() >= f.len() && rows_ok(r, w) && rows_ok(d, w);
    if halves_ok(f, s) && fits && yy.len() >= w && xy.len() >= w {
        // SAFETY: AVX2 is present (see above); the filter's rows exist and they, `yy` and `xy`
        // cover the `w` columns the kernel loads and stores (checked above).
        unsafe { madd::vert_dist64(r, d, f, s, mu, yy, xy) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::vert_dist64(r, d, f, s, mu, yy, xy) }
    }
}

pub(super) fn vert_mu<S: Sample>(r: &[&[S]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
    let pairs = matches!(f.len(), 3 | 5 | 9 | 17)
        && f.iter().all(|&c| c < 32768)
        && f.iter().eq(f.iter().rev());
    if pairs && r.len() >= f.len() && rows_ok(r, mu.len()) {
        // SAFETY: AVX2 is present (see above); the filter's rows exist and cover the
        // `mu.len()` columns the kernel loads (checked above); rows are indexed with bounds
        // checks.
        unsafe { madd::vert_mu(r, f, round, shift, mu) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::vert_mu(r, f, round, shift, mu) }
    }
}

/// Whether the adjacent-pair kernels apply: 17, 9 or 5 taps (every coefficient below 2^15) and
/// a padded row of `out.len() + f.len() − 1` samples.
fn adjacent_ok(src: &[u32], f: &[u16], out: &[u32]) -> bool {
    matches!(f.len(), 5 | 9 | 17)
        && f.iter().all(|&c| c < 32768)
        && src.len() + 1 >= out.len() + f.len()
}

/// Runs `adjacent::horiz` for the filter's length.
macro_rules! adjacent {
    ($q:literal, $d:literal, $src:expr, $f:expr, $out:expr) => {
        match $f.len() {
            17 => adjacent::horiz::<17, $q, $d>($src, $f, $out),
            9 => adjacent::horiz::<9, $q, $d>($src, $f, $out),
            _ => adjacent::horiz::<5, $q, $d>($src, $f, $out),
        }
    };
}

/// Mean rows fit 16 bits (see `Kernels::horiz_u32`), which the adjacent-pair kernel needs.
pub(super) fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
    if adjacent_ok(src, f, out) {
        // SAFETY: AVX2 is present (see above); the kernel reads 16 samples at `src[c + k..]` only
        // when all 16 are there (the tail goes through a copy), stores 16 outputs only when all
        // 16 are in `out`, and its word loads stay below its chunk buffers' CHUNK + 48 words.
        unsafe { adjacent!(false, false, src, f, out) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::horiz_u32(src, f, out) }
    }
}

pub(super) fn horiz_u32_even(src: &[u32], f: &[u16], out: &mut [u32]) {
    let n = out.len();
    let adjacent = matches!(f.len(), 5 | 9 | 17) && f.iter().all(|&c| c < 32768);
    if adjacent && src.len() + 1 >= 2 * n + f.len() {
        // SAFETY: AVX2 is present (see above); as in `horiz_u32`, for the 2·n full outputs the
        // kernel computes (`src` covers them, checked above), of which it stores the n even ones.
        unsafe { adjacent!(false, true, src, f, out) }
    } else {
        vif::even_outputs(horiz_u32, src, f, out)
    }
}

pub(super) fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
    if adjacent_ok(src, f, out) {
        // SAFETY: as in `horiz_u32`.
        unsafe { adjacent!(true, false, src, f, out) };
        return;
    }
    let t = f.len();
    let pairs = t > 0 && f.iter().eq(f.iter().rev()) && f[..t / 2].iter().all(|&c| c < 32768);
    if pairs && src.len() + 1 >= out.len() + t {
        // SAFETY: AVX2 is present (see above); output `j` reads `src[j..j + t]`, inside `src`
        // for every `j < out.len()` (checked above).
        unsafe { madd::horiz_q16(src, f, out) }
    } else {
        // SAFETY: AVX2 and FMA are present (see above); safe Rust inside.
        unsafe { autovec::horiz_q16(src, f, out) }
    }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx2,
    vert_ref32: vert_ref32::<u16>,
    vert_ref64,
    vert_dist32: vert_dist32::<u16>,
    vert_dist64,
    vert_mu: vert_mu::<u16>,
    vert_ref8: vert_ref32::<u8>,
    vert_dist8: vert_dist32::<u8>,
    vert_mu8: vert_mu::<u8>,
    horiz_u32,
    horiz_u32_even,
    horiz_q16,
    dist_terms: dist_terms_avx2,
    ref_terms: ref_terms_avx2,
    bias: 0,
};
