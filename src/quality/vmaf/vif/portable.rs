//! The portable VIF filter kernels: symmetric FIRs over blocks of 16 columns, written so the
//! compiler vectorises them. [`kernel_bodies`] instantiates them once per instruction set: plain
//! in `scalar.rs` (the reference) and with AVX2 enabled in `x86/avx2.rs`. The argument structs
//! ([`VertRef`], [`VertDist`]) are shared with the AVX-512 set.

use super::VShift;
use crate::frame::Sample;

pub(super) const BLK: usize = 16;

/// One portable kernel as a symmetric FIR over blocks of [`BLK`] columns: [`fir`] walks the
/// blocks and the taps once for all of them; a kernel says what one tap of a block reads, what
/// a pair of taps with the same coefficient adds to its accumulators, and how a block is
/// stored. Every kernel is exact with pairs: its sums either wrap in u32 (distributive) or
/// stay below 2^64.
pub(super) trait Fir {
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
pub(super) fn fir<K: Fir>(w: usize, f: &[u16], kern: &mut K) {
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
pub(super) fn ld<T: Copy + Default>(s: &[T], j0: usize, n: usize) -> [T; BLK] {
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
pub(super) fn st(out: &mut [u32], j0: usize, n: usize, v: [u32; BLK]) {
    if n == BLK {
        out[j0..j0 + BLK].copy_from_slice(&v);
    } else {
        out[j0..j0 + n].copy_from_slice(&v[..n]);
    }
}

/// The accumulator of the vertical second moments: u32 (8-bit samples at scale 0, as libvmaf)
/// or u64. `mac2` adds c·p + c·q of two 32-bit products, `mac` a 32-bit c·x times y (the
/// form without a 32-bit multiply of its own, which SSE2 lacks).
pub(super) trait Moment: Copy + Default {
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
pub(super) fn mu_out(s: VShift, am: &[u32; BLK]) -> [u32; BLK] {
    am.map(|a| a.wrapping_add(s.mu_round) >> s.mu_shift)
}

#[inline(always)]
pub(super) fn sq_out<A: Moment>(s: VShift, aq: &[A; BLK]) -> [u32; BLK] {
    aq.map(|a| ((a.wide() + s.sq_round) >> s.sq_shift) as u32)
}

/// Vertical mean and Σf·x² of one image: the arguments of a vertical kernel, shared by the
/// portable and the AVX-512 sets. `A` picks the variant: the moments' accumulator here (u32
/// for 8-bit samples at scale 0, u64 otherwise); in `x86/avx512.rs` u32 is the 8-bit `vpdpwssd`
/// kernel and u64 the 16-bit-halves one.
pub(super) struct VertRef<'a, A, S = u16> {
    pub(super) rows: &'a [&'a [S]],
    pub(super) s: VShift,
    pub(super) mu: &'a mut [u32],
    pub(super) sq: &'a mut [u32],
    pub(super) acc: std::marker::PhantomData<A>,
}

impl<'a, A, S> VertRef<'a, A, S> {
    pub(super) fn new(
        rows: &'a [&'a [S]],
        s: VShift,
        mu: &'a mut [u32],
        sq: &'a mut [u32],
    ) -> Self {
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

impl<A: Moment, S: Sample> Fir for VertRef<'_, A, S> {
    type In = [S; BLK];
    type Acc = ([u32; BLK], [A; BLK]);
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> [S; BLK] {
        ld(self.rows[k], j0, n)
    }
    #[inline(always)]
    fn pair((am, aq): &mut Self::Acc, c: u32, x: &[S; BLK], y: &[S; BLK]) {
        for l in 0..BLK {
            let (a, b): (u32, u32) = (x[l].into(), y[l].into());
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
pub(super) struct VertDist<'a, A, S = u16> {
    pub(super) rrows: &'a [&'a [S]],
    pub(super) drows: &'a [&'a [S]],
    pub(super) s: VShift,
    pub(super) mu: &'a mut [u32],
    pub(super) yy: &'a mut [u32],
    pub(super) xy: &'a mut [u32],
    pub(super) acc: std::marker::PhantomData<A>,
}

impl<'a, A, S> VertDist<'a, A, S> {
    #[rustfmt::skip]
    pub(super) fn new(rrows: &'a [&'a [S]], drows: &'a [&'a [S]], s: VShift,
           mu: &'a mut [u32], yy: &'a mut [u32], xy: &'a mut [u32]) -> Self {
        let acc = std::marker::PhantomData;
        VertDist { rrows, drows, s, mu, yy, xy, acc }
    }
}

impl<A: Moment, S: Sample> Fir for VertDist<'_, A, S> {
    type In = ([S; BLK], [S; BLK]);
    type Acc = ([u32; BLK], [A; BLK], [A; BLK]);
    const PAIRS: bool = A::PAIRS;
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> Self::In {
        (ld(self.rrows[k], j0, n), ld(self.drows[k], j0, n))
    }
    #[inline(always)]
    fn pair((am, ay, ax): &mut Self::Acc, c: u32, (r0, d0): &Self::In, (r1, d1): &Self::In) {
        for l in 0..BLK {
            let (a0, a1): (u32, u32) = (r0[l].into(), r1[l].into());
            let (b0, b1): (u32, u32) = (d0[l].into(), d1[l].into());
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
pub(super) struct VertMu<'a, S = u16> {
    pub(super) rows: &'a [&'a [S]],
    pub(super) round: u32,
    pub(super) shift: u32,
    pub(super) mu: &'a mut [u32],
}

impl<S: Sample> Fir for VertMu<'_, S> {
    type In = [S; BLK];
    type Acc = [u32; BLK];
    // Row order: with AVX2 the paired form took ~15 % more time in this light, load-bound pass.
    const PAIRS: bool = false;
    #[inline(always)]
    fn load(&self, k: usize, j0: usize, n: usize) -> [S; BLK] {
        ld(self.rows[k], j0, n)
    }
    #[inline(always)]
    fn pair(am: &mut [u32; BLK], c: u32, x: &[S; BLK], y: &[S; BLK]) {
        for l in 0..BLK {
            let (a, b): (u32, u32) = (x[l].into(), y[l].into());
            am[l] = am[l].wrapping_add(c.wrapping_mul(a + b));
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
pub(super) struct Horiz<'a, const Q16: bool> {
    pub(super) src: &'a [u32],
    pub(super) out: &'a mut [u32],
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
        pub(crate) fn vert_ref32<S: $crate::frame::Sample>(rows: &[&[S]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
            fir(mu.len(), f, &mut VertRef::<u32, S>::new(rows, s, mu, sq))
        }

        #[$attr]
        pub(crate) fn vert_ref64(rows: &[&[u16]], f: &[u16], s: VShift, mu: &mut [u32], sq: &mut [u32]) {
            fir(mu.len(), f, &mut VertRef::<u64>::new(rows, s, mu, sq))
        }

        #[$attr]
        pub(crate) fn vert_dist32<S: $crate::frame::Sample>(rrows: &[&[S]], drows: &[&[S]], f: &[u16], s: VShift,
                           mu: &mut [u32], yy: &mut [u32], xy: &mut [u32]) {
            fir(mu.len(), f, &mut VertDist::<u32, S>::new(rrows, drows, s, mu, yy, xy))
        }

        #[$attr]
        pub(crate) fn vert_dist64(rrows: &[&[u16]], drows: &[&[u16]], f: &[u16], s: VShift,
                           mu: &mut [u32], yy: &mut [u32], xy: &mut [u32]) {
            fir(mu.len(), f, &mut VertDist::<u64>::new(rrows, drows, s, mu, yy, xy))
        }

        #[$attr]
        pub(crate) fn vert_mu<S: $crate::frame::Sample>(rows: &[&[S]], f: &[u16], round: u32, shift: u32, mu: &mut [u32]) {
            let rows = &rows[..f.len()];
            fir(mu.len(), f, &mut VertMu { rows, round, shift, mu })
        }

        #[$attr]
        pub(crate) fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
            fir(out.len(), f, &mut Horiz::<false> { src, out })
        }

        #[$attr]
        pub(crate) fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
            fir(out.len(), f, &mut Horiz::<true> { src, out })
        }
    };
}

pub(super) use kernel_bodies;
