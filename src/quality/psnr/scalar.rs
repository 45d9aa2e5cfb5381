//! The scalar PSNR kernel: the reference the SIMD kernel is tested against.

use super::Kernels;
use crate::cpu::CpuLevel;

/// Σ (a − b)² over the common length, for either sample width.
fn sum_sq_diff<T: Copy + Into<u32>>(a: &[T], b: &[T]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let e = u64::from(x.into().abs_diff(y.into()));
            e * e
        })
        .sum()
}

/// Σ (a − b)² over the common length.
pub(crate) fn sse(a: &[u16], b: &[u16], _bit_depth: u8) -> u64 {
    sum_sq_diff(a, b)
}

/// Σ (a − b)² of byte samples over the common length.
pub(crate) fn sse8(a: &[u8], b: &[u8]) -> u64 {
    sum_sq_diff(a, b)
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
    sse,
    sse8,
};
