//! The AVX2 PSNR kernel set.

use super::super::{scalar, Kernels};
use crate::cpu::CpuLevel;

/// AVX2 kernel: 16 samples per step; `madd` of the 16-bit differences puts two squares into each
/// 32-bit lane. The lanes are read as unsigned and widened to 64 bits before they can overflow:
/// one step adds at most 2·(2^bpc − 1)² per lane (< 2^31 for bpc ≤ 15), so `u32::MAX / that`
/// steps are safe (2052 for 10-bit, 33025 for 8-bit).
///
/// # Safety
/// The CPU must support AVX2. `bit_depth` ≤ 15 and every sample below `2^bit_depth`.
#[target_feature(enable = "avx2")]
unsafe fn sse_avx2(a: &[u16], b: &[u16], bit_depth: u8) -> u64 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let chunks = n / 16;
    let max_e = (1u64 << bit_depth.min(15)) - 1;
    let flush_every = (u64::from(u32::MAX) / (2 * max_e * max_e)).max(1) as usize;
    let mut total = 0u64;
    let mut i = 0usize;
    while i < chunks {
        let end = (i + flush_every).min(chunks);
        let mut acc = _mm256_setzero_si256();
        while i < end {
            let va = _mm256_loadu_si256(a.as_ptr().add(i * 16) as *const __m256i);
            let vb = _mm256_loadu_si256(b.as_ptr().add(i * 16) as *const __m256i);
            let d = _mm256_sub_epi16(va, vb);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
            i += 1;
        }
        let mut lanes = [0u32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
        total += lanes.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    total + scalar::sse(&a[chunks * 16..n], &b[chunks * 16..n], bit_depth)
}

/// AVX2 kernel over bytes: 32 samples per step. |a − b| as bytes (max − min), widened to words
/// and squared pairwise by `madd`: each 32-bit lane gains at most 4·255² per step, so a lane
/// holds 2^32 / 260100 > 16384 steps before the flush.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn sse8_avx2(a: &[u8], b: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let chunks = n / 32;
    let zero = _mm256_setzero_si256();
    let mut total = 0u64;
    let mut i = 0usize;
    while i < chunks {
        let end = (i + 16384).min(chunks);
        let mut acc = _mm256_setzero_si256();
        while i < end {
            let va = _mm256_loadu_si256(a.as_ptr().add(i * 32) as *const __m256i);
            let vb = _mm256_loadu_si256(b.as_ptr().add(i * 32) as *const __m256i);
            let d = _mm256_sub_epi8(_mm256_max_epu8(va, vb), _mm256_min_epu8(va, vb));
            let (lo, hi) = (_mm256_unpacklo_epi8(d, zero), _mm256_unpackhi_epi8(d, zero));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lo, lo));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(hi, hi));
            i += 1;
        }
        let mut lanes = [0u32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
        total += lanes.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    total + scalar::sse8(&a[chunks * 32..n], &b[chunks * 32..n])
}

fn sse8(a: &[u8], b: &[u8]) -> u64 {
    // SAFETY: AVX2 is present (only reachable through the AVX2 table); the kernel reads only
    // within the common length of `a` and `b`.
    unsafe { sse8_avx2(a, b) }
}

/// Safe entry point: only reachable through `KERNELS`, which `Kernels::for_level` hands out only
/// when the CPU has AVX2. The kernel works on 16-bit differences, exact for samples below 2^15;
/// deeper input goes to the scalar kernel.
fn sse(a: &[u16], b: &[u16], bit_depth: u8) -> u64 {
    if bit_depth > 15 {
        return scalar::sse(a, b, bit_depth);
    }
    // SAFETY: AVX2 is present (only reachable through the AVX2 table); `bit_depth` ≤ 15 was
    // checked above, and the kernel reads only within the common length of `a` and `b`.
    unsafe { sse_avx2(a, b, bit_depth) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx2,
    sse,
    sse8,
};
