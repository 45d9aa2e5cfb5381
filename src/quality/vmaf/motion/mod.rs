//! Motion as libvmaf's integer extractor (`motion`, integer_motion.c) computes it: the mean
//! absolute value of the 5-tap Gaussian-filtered difference between consecutive *reference*
//! frames, and `motion2`, the minimum of a frame's motion and the next frame's.
//!
//! Motion depends only on the reference video, so the engine computes it once per reference
//! frame and every distorted stream scored against that reference reuses it.

use crate::cpu::CpuLevel;
use crate::frame::Plane;

/// The 5-tap filter, Q16 (libvmaf integer_motion.h `filter`).
pub const FILTER: [u16; 5] = [3571, 16004, 26386, 16004, 3571];

/// libvmaf's default `motion_max_val`: larger scores are clipped to it.
pub const MAX_VAL: f64 = 10000.0;

use super::mirror;

/// Vertical pass for one output row: (Σf·(prev−cur) + 2^(bd−1)) >> bd (arithmetic shift).
/// The sums are i32, exact for bit depths up to 14 (|Σ| < 2^16·2^14); deeper input uses the
/// i64 scalar path.
pub(crate) type VertFn = fn(&[&[u16]], &[&[u16]], u32, &mut [i32]);

/// Horizontal pass over a row padded by 2 mirrored samples each side: Σ|(Σf·y + 2^15) >> 16|.
pub(crate) type HorizFn = fn(&[i32], usize) -> u64;

const BLK: usize = 16;

/// The motion kernels, written so the compiler vectorises them and compiled once per instruction
/// set (`$attr`): plain in `scalar.rs`, with AVX2 enabled in `x86/avx2.rs`.
macro_rules! kernels {
    ($attr:meta) => {
        #[$attr]
        pub(crate) fn vert(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
            let w = out.len();
            let round = 1i32 << (bd - 1);
            let mut j0 = 0;
            while j0 < w {
                let n = BLK.min(w - j0);
                let mut acc = [0i32; BLK];
                if n == BLK {
                    for ((p, c), &f) in prev.iter().zip(cur).zip(FILTER.iter()) {
                        let x: &[u16; BLK] = p[j0..j0 + BLK].try_into().unwrap();
                        let y: &[u16; BLK] = c[j0..j0 + BLK].try_into().unwrap();
                        for l in 0..BLK {
                            acc[l] += f as i32 * (x[l] as i32 - y[l] as i32);
                        }
                    }
                } else {
                    for ((p, c), &f) in prev.iter().zip(cur).zip(FILTER.iter()) {
                        for l in 0..n {
                            acc[l] += f as i32 * (p[j0 + l] as i32 - c[j0 + l] as i32);
                        }
                    }
                }
                for l in 0..n {
                    out[j0 + l] = (acc[l] + round) >> bd;
                }
                j0 += n;
            }
        }

        #[$attr]
        pub(crate) fn horiz(pad: &[i32], w: usize) -> u64 {
            let mut sum = 0u64;
            let mut j0 = 0;
            while j0 < w {
                let n = BLK.min(w - j0);
                let mut acc = [0i64; BLK];
                for (k, &f) in FILTER.iter().enumerate() {
                    let x = &pad[j0 + k..j0 + k + n];
                    for l in 0..n {
                        acc[l] += f as i64 * x[l] as i64;
                    }
                }
                for a in &acc[..n] {
                    sum += ((a + (1 << 15)) >> 16).unsigned_abs();
                }
                j0 += n;
            }
            sum
        }
    };
}

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// One motion kernel set: the vertical and horizontal passes of one instruction set. The driver
/// calls through it once per row.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    pub vert: VertFn,
    pub horiz: HorizFn,
}

crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx2, x86::avx2::KERNELS)]);

/// i64 vertical pass for bit depths above 14.
fn vert_wide(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
    for (j, o) in out.iter_mut().enumerate() {
        let mut a = 0i64;
        for ((p, c), &f) in prev.iter().zip(cur).zip(FILTER.iter()) {
            a += f as i64 * (p[j] as i64 - c[j] as i64);
        }
        *o = ((a + (1i64 << (bd - 1))) >> bd) as i32;
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
    let (w, h) = (cur.width, cur.height);
    let vert = if bit_depth > 14 { vert_wide } else { k.vert };
    let mut pad = vec![0i32; w + 4];
    let mut sad = 0u64;
    for i in 0..h {
        let idx: Vec<usize> = (0..5).map(|k| mirror(i as isize - 2 + k, h)).collect();
        let pr: Vec<&[u16]> = idx.iter().map(|&r| prev.row(r)).collect();
        let cr: Vec<&[u16]> = idx.iter().map(|&r| cur.row(r)).collect();
        vert(&pr, &cr, bit_depth as u32, &mut pad[2..w + 2]);
        if pad[2..w + 2].iter().all(|&v| v == 0) {
            continue;
        }
        for k in 1..=2 {
            pad[2 - k] = pad[2 + mirror(-(k as isize), w)];
            pad[w + 1 + k] = pad[2 + mirror((w - 1 + k) as isize, w)];
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

    /// The passes and the whole score of the set at `level` against scalar, on random rows of
    /// widths around the block size and 8 to 12 bits (and the i64 path above 14 bits).
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
        ] {
            let mk = |rng: &mut XorShift| -> Vec<Vec<u16>> {
                (0..5)
                    .map(|_| (0..w).map(|_| (rng.next() % (1 << bd)) as u16).collect())
                    .collect()
            };
            let (p, c) = (mk(&mut rng), mk(&mut rng));
            let pr: Vec<&[u16]> = p.iter().map(|r| &r[..]).collect();
            let cr: Vec<&[u16]> = c.iter().map(|r| &r[..]).collect();
            let (mut a, mut b) = (vec![0; w + 4], vec![0; w + 4]);
            (s.vert)(&pr, &cr, bd, &mut a[2..w + 2]);
            (k.vert)(&pr, &cr, bd, &mut b[2..w + 2]);
            assert_eq!(a, b, "vert w {w} {bd}-bit");
            assert_eq!((s.horiz)(&a, w), (k.horiz)(&a, w), "horiz w {w} {bd}-bit");
            let mut c = vec![0; w];
            vert_wide(&pr, &cr, bd, &mut c);
            assert_eq!(&a[2..w + 2], &c[..]);
        }
        for &(w, h, bd) in &[(16usize, 16usize, 8u8), (37, 29, 10), (64, 5, 16)] {
            let mut p = Plane::new(w, h);
            for v in p.data.iter_mut() {
                *v = (rng.next() % (1 << bd)) as u16;
            }
            let mut q = p.clone();
            q.data.rotate_left(3);
            let (a, b) = (
                sad_score_with_kernels(&s, &p, &q, bd),
                sad_score_with_kernels(&k, &p, &q, bd),
            );
            assert_eq!(a.to_bits(), b.to_bits(), "{w}x{h} {bd}-bit");
        }
    }

    crate::kernels::simd_tests!(kernels_match_scalar);

    #[test]
    fn identical_frames_have_no_motion_and_shift_has_some() {
        let mut p = Plane::new(40, 30);
        for (i, v) in p.data.iter_mut().enumerate() {
            *v = ((i * 7) % 256) as u16;
        }
        assert_eq!(sad_score(&p, &p, 8), 0.0);
        let mut q = p.clone();
        q.data.rotate_left(1);
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
