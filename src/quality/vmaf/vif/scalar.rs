//! The scalar VIF kernel set: the portable filters compiled without extra target features, and
//! the per-pixel statistics one pixel at a time. Always compiled; the reference every SIMD set is
//! tested against.

use super::portable::{fir, kernel_bodies, Horiz, VertDist, VertMu, VertRef};
use super::{log2_32, log2_table, log_term, sigma2_sigma12, Kernels, VShift, SIGMA_NSQ};
use crate::cpu::CpuLevel;

kernel_bodies!(inline(never));

/// Scalar `dist_terms`: one pixel at a time.
pub(crate) fn dist_terms_scalar(
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

/// Scalar log-terms kernel.
pub(crate) fn log_terms_scalar(s1: &[i32], s2: &[u32], s12: &[u32], egl: f64) -> i64 {
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

/// Scalar `ref_terms`.
pub(crate) fn ref_terms_scalar(mu: &[u32], xx: &[u32], s1: &mut [i32]) -> (i64, i64) {
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

/// Scalar `horiz_u32_even`: Σf·x wrapping in u32 at every other output.
pub(crate) fn horiz_u32_even(src: &[u32], f: &[u16], out: &mut [u32]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = f.iter().zip(&src[2 * j..]).fold(0u32, |a, (&c, &x)| {
            a.wrapping_add(u32::from(c).wrapping_mul(x))
        });
    }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
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
    dist_terms: dist_terms_scalar,
    ref_terms: ref_terms_scalar,
    bias: 0,
};
