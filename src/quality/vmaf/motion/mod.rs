//! Motion as libvmaf's integer extractor (`motion`, integer_motion.c) computes it: the mean
//! absolute value of the 5-tap Gaussian-filtered difference between consecutive *reference*
//! frames, and `motion2`, the minimum of a frame's motion and the next frame's.
//!
//! Motion depends only on the reference video, so the engine computes it once per reference
//! frame and every distorted stream scored against that reference reuses it.

use crate::cpu::CpuLevel;
use crate::frame::{same_storage, Plane, SampleSlice};

/// The 5-tap filter, Q16 (libvmaf integer_motion.h `filter`).
pub const FILTER: [u16; 5] = [3571, 16004, 26386, 16004, 3571];

/// libvmaf's default `motion_max_val`: larger scores are clipped to it.
pub const MAX_VAL: f64 = 10000.0;

use super::mirror;

/// One row of differences, prev − cur (exact in i32 for any depth up to 16 bits).
pub(crate) type DiffFn = fn(&[u16], &[u16], &mut [i32]);
/// The same over byte samples.
pub(crate) type Diff8Fn = fn(&[u8], &[u8], &mut [i32]);

/// Vertical pass for one output row from the five difference rows of its window (mirrored at
/// the edges): (Σf·d + 2^(bd−1)) >> bd (arithmetic shift). The filter is symmetric, so it is
/// f₀(d₀+d₄) + f₁(d₁+d₃) + f₂d₂: exact in i32 for bit depths up to 14 (|Σ| < 2^16·2^14);
/// deeper input uses the i64 scalar path.
pub(crate) type VertFn = fn(&[&[i32]; 5], u32, &mut [i32]);

/// Horizontal pass over a row padded by 2 mirrored samples each side: Σ|(Σf·y + 2^15) >> 16|.
/// |y| ≤ 2^16, so Σf·y needs 33 bits; the kernels split y = 256·⌊y/256⌋ + (y mod 256) and
/// recombine the two i32 sums A, B as (A + ((B + 2^15) >> 8)) >> 8, which is exactly
/// ⌊(256·A + B + 2^15) / 2^16⌋.
pub(crate) type HorizFn = fn(&[i32], usize) -> u64;

const BLK: usize = 16;

/// Columns summed in the u32 lanes of [`HorizFn`] before they are flushed to u64: 2^11 terms of
/// at most 2^16 per lane, far below 2^32.
const FLUSH: usize = 1 << 15;

/// The motion kernels, written so the compiler vectorises them and compiled once per instruction
/// set (`$attr`): plain in `scalar.rs`, with AVX2 or AVX-512 enabled in `x86/`.
macro_rules! kernels {
    ($attr:meta) => {
        #[$attr]
        pub(crate) fn diff(prev: &[u16], cur: &[u16], out: &mut [i32]) {
            for ((o, &p), &c) in out.iter_mut().zip(prev).zip(cur) {
                *o = p as i32 - c as i32;
            }
        }

        #[$attr]
        pub(crate) fn diff8(prev: &[u8], cur: &[u8], out: &mut [i32]) {
            for ((o, &p), &c) in out.iter_mut().zip(prev).zip(cur) {
                *o = p as i32 - c as i32;
            }
        }

        #[$attr]
        pub(crate) fn vert(d: &[&[i32]; 5], bd: u32, out: &mut [i32]) {
            let w = out.len();
            let round = 1i32 << (bd - 1);
            let [f0, f1, f2] = [FILTER[0] as i32, FILTER[1] as i32, FILTER[2] as i32];
            let (d0, d1, d2, d3, d4) = (&d[0][..w], &d[1][..w], &d[2][..w], &d[3][..w], &d[4][..w]);
            for j in 0..w {
                let a = f0 * (d0[j] + d4[j]) + f1 * (d1[j] + d3[j]) + f2 * d2[j];
                out[j] = (a + round) >> bd;
            }
        }

        #[$attr]
        pub(crate) fn horiz(pad: &[i32], w: usize) -> u64 {
            let mut total = 0u64;
            let mut c0 = 0;
            while c0 < w {
                let c1 = (c0 + FLUSH).min(w);
                let mut acc = [0u32; BLK];
                let mut j0 = c0;
                while j0 + BLK <= c1 {
                    let x: &[i32; BLK + 4] = pad[j0..j0 + BLK + 4].try_into().unwrap();
                    horiz_block(x, &mut acc);
                    j0 += BLK;
                }
                if j0 < c1 {
                    // The tail through a zero-padded copy of its window; the extra lanes'
                    // terms are 0.
                    let mut x = [0i32; BLK + 4];
                    x[..c1 - j0 + 4].copy_from_slice(&pad[j0..c1 + 4]);
                    let mut part = [0u32; BLK];
                    horiz_block(&x, &mut part);
                    for (a, p) in acc.iter_mut().zip(&part[..c1 - j0]) {
                        *a += p;
                    }
                }
                total += acc.iter().map(|&a| a as u64).sum::<u64>();
                c0 = c1;
            }
            total
        }

        /// Adds |(Σf·y + 2^15) >> 16| of one block's outputs to `acc`, with y = 256·hi + lo.
        #[$attr]
        fn horiz_block(x: &[i32; BLK + 4], acc: &mut [u32; BLK]) {
            let [f0, f1, f2] = [FILTER[0] as i32, FILTER[1] as i32, FILTER[2] as i32];
            for l in 0..BLK {
                let (h, lo) = (|k: usize| x[l + k] >> 8, |k: usize| x[l + k] & 255);
                let a = f0 * (h(0) + h(4)) + f1 * (h(1) + h(3)) + f2 * h(2);
                let b = f0 * (lo(0) + lo(4)) + f1 * (lo(1) + lo(3)) + f2 * lo(2);
                acc[l] += ((a + ((b + (1 << 15)) >> 8)) >> 8).unsigned_abs();
            }
        }
    };
}

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// One motion kernel set: the difference, vertical and horizontal passes of one instruction
/// set. The driver calls through it once per row.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    pub diff: DiffFn,
    pub diff8: Diff8Fn,
    pub vert: VertFn,
    pub horiz: HorizFn,
}

crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx512, x86::avx512::KERNELS), (Avx2, x86::avx2::KERNELS)]);

/// i64 vertical pass for bit depths above 14, from the raw rows.
fn vert_wide(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
    for (j, o) in out.iter_mut().enumerate() {
        let mut a = 0i64;
        for ((p, c), &f) in prev.iter().zip(cur).zip(FILTER.iter()) {
            a += f as i64 * (p[j] as i64 - c[j] as i64);
        }
        *o = ((a + (1i64 << (bd - 1))) >> bd) as i32;
    }
}

/// The five difference rows a vertical window needs, each computed once per frame: source row
/// r lives in slot r mod 5 (a window's five rows, mirrored or not, never share a slot).
struct DiffRows {
    rows: [Vec<i32>; 5],
    /// Which source row each slot holds.
    tag: [usize; 5],
}

impl DiffRows {
    fn new(w: usize) -> DiffRows {
        DiffRows {
            rows: std::array::from_fn(|_| vec![0; w]),
            tag: [usize::MAX; 5],
        }
    }

    /// Makes sure the window rows `idx` are present. Both planes have one storage.
    fn fill(&mut self, k: &Kernels, prev: &Plane, cur: &Plane, idx: &[usize; 5]) {
        let w = cur.width;
        for &r in idx {
            let s = r % 5;
            if self.tag[s] != r {
                let span = r * w..(r + 1) * w;
                match (prev.slice(), cur.slice()) {
                    (SampleSlice::U8(p), SampleSlice::U8(c)) => {
                        (k.diff8)(&p[span.clone()], &c[span], &mut self.rows[s])
                    }
                    (SampleSlice::U16(p), SampleSlice::U16(c)) => {
                        (k.diff)(&p[span.clone()], &c[span], &mut self.rows[s])
                    }
                    _ => unreachable!("DiffRows::fill takes planes of one storage"),
                }
                self.tag[s] = r;
            }
        }
    }

    fn window(&self, idx: &[usize; 5]) -> [&[i32]; 5] {
        idx.map(|r| &self.rows[r % 5][..])
    }
}

/// libvmaf's per-frame motion ("motion_sad"): mean |blur(prev − cur)| / 256 over the frame,
/// clipped to [`MAX_VAL`]. Both planes must have the same size.
pub fn sad_score(prev: &Plane, cur: &Plane, bit_depth: u8) -> f64 {
    sad_score_with_kernels(Kernels::get(), prev, cur, bit_depth)
}

/// [`sad_score`] with a resolved kernel table (the engine's).
pub(crate) fn sad_score_with_kernels(k: &Kernels, prev: &Plane, cur: &Plane, bit_depth: u8) -> f64 {
    assert_eq!((prev.width, prev.height), (cur.width, cur.height));
    let (prev, cur) = same_storage(prev, cur);
    let (prev, cur) = (&*prev, &*cur);
    let (w, h) = (cur.width, cur.height);
    let bd = bit_depth as u32;
    // Depths above 14 bits (u16 storage) filter the raw rows in i64.
    let raw = (bd > 14).then(|| (prev.samples.wide(), cur.samples.wide()));
    let mut pad = vec![0i32; w + 4];
    let mut diffs = (bd <= 14).then(|| DiffRows::new(w));
    let mut sad = 0u64;
    for i in 0..h {
        let idx: [usize; 5] = std::array::from_fn(|t| mirror(i as isize - 2 + t as isize, h));
        match &mut diffs {
            Some(d) => {
                d.fill(k, prev, cur, &idx);
                (k.vert)(&d.window(&idx), bd, &mut pad[2..w + 2]);
            }
            None => {
                let (p, c) = raw.as_ref().expect("raw rows above 14 bits");
                let pr = idx.map(|r| &p[r * w..(r + 1) * w]);
                let cr = idx.map(|r| &c[r * w..(r + 1) * w]);
                vert_wide(&pr, &cr, bd, &mut pad[2..w + 2]);
            }
        }
        for t in 1..=2 {
            pad[2 - t] = pad[2 + mirror(-(t as isize), w)];
            pad[w + 1 + t] = pad[2 + mirror((w - 1 + t) as isize, w)];
        }
        sad += (k.horiz)(&pad, w);
    }
    (sad as f64 / 256.0 / (w * h) as f64).min(MAX_VAL)
}

/// `motion2` of a frame from the per-frame motion scores: 0 for the first frame of the stream,
/// the minimum of the frame's and the next frame's motion in between, and the last frame's own
/// motion at the end (libvmaf integer_motion.c `flush`). `next` is `None` for the last frame.
pub fn motion2(first: bool, sad: f64, next: Option<f64>) -> f64 {
    if first {
        return 0.0;
    }
    match next {
        Some(n) => sad.min(n),
        None => sad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::XorShift;

    /// The passes and the whole score of the set at `level` against scalar and against the i64
    /// formula, on random rows of widths around the block size and 8 to 14 bits (extreme values
    /// included), and whole planes at 8 to 16 bits (the i64 path above 14 bits).
    fn kernels_match_scalar(test: &str, level: CpuLevel) {
        let table = crate::kernels::table_at(test, level, Kernels::for_level, |k| k.level);
        let Some(k) = table else { return };
        let s = scalar::KERNELS;
        let mut rng = XorShift(77);
        for &(w, bd) in &[
            (1usize, 8u32),
            (15, 8),
            (16, 10),
            (31, 10),
            (200, 8),
            (77, 12),
            (333, 14),
        ] {
            for extreme in [false, true] {
                let mut mk = |hi: bool| -> Vec<Vec<u16>> {
                    (0..5)
                        .map(|_| {
                            (0..w)
                                .map(|_| match (extreme, hi) {
                                    (false, _) => (rng.next() % (1 << bd)) as u16,
                                    (true, true) => ((1u32 << bd) - 1) as u16,
                                    (true, false) => 0,
                                })
                                .collect()
                        })
                        .collect()
                };
                let (p, c) = (mk(true), mk(false));
                let pr: Vec<&[u16]> = p.iter().map(|r| &r[..]).collect();
                let cr: Vec<&[u16]> = c.iter().map(|r| &r[..]).collect();
                let mut d = vec![vec![0i32; w]; 5];
                let mut e = vec![vec![0i32; w]; 5];
                for t in 0..5 {
                    (s.diff)(pr[t], cr[t], &mut d[t]);
                    (k.diff)(pr[t], cr[t], &mut e[t]);
                }
                assert_eq!(d, e, "diff w {w} {bd}-bit");
                if bd == 8 {
                    let bytes = |r: &[u16]| r.iter().map(|&v| v as u8).collect::<Vec<u8>>();
                    for t in 0..5 {
                        (k.diff8)(&bytes(pr[t]), &bytes(cr[t]), &mut e[t]);
                    }
                    assert_eq!(d, e, "diff8 w {w}");
                }
                let win: [&[i32]; 5] = std::array::from_fn(|t| &d[t][..]);
                let (mut a, mut b) = (vec![0; w + 4], vec![0; w + 4]);
                (s.vert)(&win, bd, &mut a[2..w + 2]);
                (k.vert)(&win, bd, &mut b[2..w + 2]);
                assert_eq!(a, b, "vert w {w} {bd}-bit");
                let mut c = vec![0; w];
                vert_wide(&pr, &cr, bd, &mut c);
                assert_eq!(&a[2..w + 2], &c[..], "vert against i64, w {w} {bd}-bit");
                for (t, v) in a.iter_mut().enumerate().take(2) {
                    *v = [-65536, 65535][t];
                }
                let wide: u64 = (0..w)
                    .map(|j| {
                        let s: i64 = (0..5).map(|t| FILTER[t] as i64 * a[j + t] as i64).sum();
                        ((s + (1 << 15)) >> 16).unsigned_abs()
                    })
                    .sum();
                assert_eq!((s.horiz)(&a, w), wide, "horiz against i64, w {w} {bd}-bit");
                assert_eq!((k.horiz)(&a, w), wide, "horiz w {w} {bd}-bit");
            }
        }
        for &(w, h, bd) in &[
            (16usize, 16usize, 8u8),
            (37, 29, 10),
            (64, 5, 16),
            (50, 3, 8),
            (40, 1, 8),
        ] {
            let v: Vec<u16> = (0..w * h)
                .map(|_| (rng.next() % (1 << bd)) as u16)
                .collect();
            let mut r = v.clone();
            r.rotate_left(3);
            let (p, q) = (Plane::from_u16(w, h, v), Plane::from_u16(w, h, r));
            let (a, b) = (
                sad_score_with_kernels(&s, &p, &q, bd),
                sad_score_with_kernels(&k, &p, &q, bd),
            );
            assert_eq!(a.to_bits(), b.to_bits(), "{w}x{h} {bd}-bit");
            if bd == 8 {
                let bytes =
                    |p: &Plane| Plane::from_u8(w, h, p.samples.iter().map(|v| v as u8).collect());
                let (p8, q8) = (bytes(&p), bytes(&q));
                let c = sad_score_with_kernels(&k, &p8, &q8, bd);
                assert_eq!(a.to_bits(), c.to_bits(), "{w}x{h} bytes");
                let c = sad_score_with_kernels(&k, &p8, &q, bd);
                assert_eq!(a.to_bits(), c.to_bits(), "{w}x{h} mixed storage");
            }
        }
    }

    crate::kernels::simd_tests!(kernels_match_scalar);

    #[test]
    fn identical_frames_have_no_motion_and_shift_has_some() {
        let v: Vec<u8> = (0..40 * 30).map(|i| ((i * 7) % 256) as u8).collect();
        let p = Plane::from_u8(40, 30, v.clone());
        assert_eq!(sad_score(&p, &p, 8), 0.0);
        let mut r = v;
        r.rotate_left(1);
        let q = Plane::from_u8(40, 30, r);
        assert!(sad_score(&p, &q, 8) > 0.0);
    }

    #[test]
    fn motion2_rules() {
        assert_eq!(motion2(true, 5.0, Some(1.0)), 0.0);
        assert_eq!(motion2(false, 5.0, Some(1.0)), 1.0);
        assert_eq!(motion2(false, 0.5, Some(1.0)), 0.5);
        assert_eq!(motion2(false, 5.0, None), 5.0);
        assert_eq!(motion2(true, 5.0, None), 0.0);
    }
}
