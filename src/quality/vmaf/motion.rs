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

/// Vertical pass for one output row: (Σf·(prev−cur) + 2^(bd−1)) >> bd, arithmetic shift.
pub type VertFn = fn(&[&[u16]], &[&[u16]], u32, &mut [i32]);

macro_rules! vert_body {
    ($attr:meta, $name:ident) => {
        #[$attr]
        fn $name(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
            let w = out.len();
            let mut acc = vec![0i64; w];
            for ((p, c), &f) in prev.iter().zip(cur).zip(FILTER.iter()) {
                let f = f as i64;
                for ((a, &x), &y) in acc.iter_mut().zip(&p[..w]).zip(&c[..w]) {
                    *a += f * (x as i64 - y as i64);
                }
            }
            let round = 1i64 << (bd - 1);
            for (o, &a) in out.iter_mut().zip(&acc) {
                *o = ((a + round) >> bd) as i32;
            }
        }
    };
}

vert_body!(inline(never), vert_scalar);

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::FILTER;
    vert_body!(target_feature(enable = "avx2,fma"), vert_t);
    // Installed only when the CPU level includes AVX2 (runtime-detected).
    pub fn vert(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
        unsafe { vert_t(prev, cur, bd, out) }
    }
}

/// The scalar vertical kernel (reference for the SIMD one).
pub const VERT_SCALAR: VertFn = vert_scalar;

pub fn vert_for_level(level: CpuLevel) -> VertFn {
    #[cfg(target_arch = "x86_64")]
    if level >= CpuLevel::Avx2 {
        return avx2::vert;
    }
    let _ = level;
    vert_scalar
}

/// libvmaf's per-frame motion ("motion_sad"): mean |blur(prev − cur)| / 256 over the frame,
/// clipped to [`MAX_VAL`]. Both planes must have the same size.
pub fn sad_score(prev: &Plane, cur: &Plane, bit_depth: u8) -> f64 {
    sad_score_with(prev, cur, bit_depth, vert_for_level(CpuLevel::get()))
}

pub fn sad_score_with(prev: &Plane, cur: &Plane, bit_depth: u8, vert: VertFn) -> f64 {
    assert_eq!((prev.width, prev.height), (cur.width, cur.height));
    let (w, h) = (cur.width, cur.height);
    let mut y = vec![0i32; w];
    let mut sad = 0u64;
    for i in 0..h {
        let idx: Vec<usize> = (0..5).map(|k| mirror(i as isize - 2 + k, h)).collect();
        let pr: Vec<&[u16]> = idx.iter().map(|&r| prev.row(r)).collect();
        let cr: Vec<&[u16]> = idx.iter().map(|&r| cur.row(r)).collect();
        vert(&pr, &cr, bit_depth as u32, &mut y);
        if y.iter().all(|&v| v == 0) {
            continue;
        }
        let mut row_sad = 0u64;
        for j in 0..w {
            let mut acc = 0i64;
            for (k, &f) in FILTER.iter().enumerate() {
                acc += f as i64 * y[mirror(j as isize - 2 + k as isize, w)] as i64;
            }
            row_sad += ((acc + (1 << 15)) >> 16).unsigned_abs();
        }
        sad += row_sad;
    }
    (sad as f64 / 256.0 / (w * h) as f64).min(MAX_VAL)
}

/// `motion2` of frame `i` from the per-frame motion scores: 0 for the first frame, the minimum
/// of frame i's and frame i+1's motion in between, and the last frame's own motion at the end
/// (libvmaf integer_motion.c `flush`). `next` is `None` when frame i is the last.
pub fn motion2(index: u64, sad: f64, next: Option<f64>) -> f64 {
    if index == 0 {
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

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    macro_rules! simd_matches_scalar {
        ($name:ident, $level:expr) => {
            #[test]
            fn $name() {
                if CpuLevel::get() < $level {
                    return;
                }
                let v = vert_for_level($level);
                let mut rng = XorShift(77);
                for &(w, bd) in &[(1usize, 8u32), (31, 10), (200, 8), (77, 12)] {
                    let mk = |rng: &mut XorShift| -> Vec<Vec<u16>> {
                        (0..5)
                            .map(|_| (0..w).map(|_| (rng.next() % (1 << bd)) as u16).collect())
                            .collect()
                    };
                    let (p, c) = (mk(&mut rng), mk(&mut rng));
                    let pr: Vec<&[u16]> = p.iter().map(|r| &r[..]).collect();
                    let cr: Vec<&[u16]> = c.iter().map(|r| &r[..]).collect();
                    let (mut a, mut b) = (vec![0; w], vec![0; w]);
                    VERT_SCALAR(&pr, &cr, bd, &mut a);
                    v(&pr, &cr, bd, &mut b);
                    assert_eq!(a, b);
                }
            }
        };
    }

    simd_matches_scalar!(avx2_vert_matches_scalar, CpuLevel::Avx2);

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
        assert_eq!(motion2(0, 5.0, Some(1.0)), 0.0);
        assert_eq!(motion2(1, 5.0, Some(1.0)), 1.0);
        assert_eq!(motion2(2, 0.5, Some(1.0)), 0.5);
        assert_eq!(motion2(3, 5.0, None), 5.0);
    }
}
