//! The x86-64 VIF kernel sets. Each set's table is only handed out by
//! [`Kernels::for_level`](super::Kernels::for_level) at a level the CPU has, which is what makes
//! the safe entry points in the tables sound.

pub(super) mod avx2;
pub(super) mod avx512;

use super::log2_table;
use std::sync::OnceLock;

/// The log2 table widened to u32 for AVX2 gathers.
fn log2_table32() -> &'static [u32] {
    static T: OnceLock<Vec<u32>> = OnceLock::new();
    T.get_or_init(|| log2_table().iter().map(|&v| v as u32).collect())
}

/// The coefficient words of the adjacent-pair horizontal kernels (both sets): (c₂ₘ, c₂ₘ₊₁) as
/// one i32 per pair, the last pair of an odd filter padded with 0, and how many pairs there are
/// (a fixed array: the kernels call this once per row). Every coefficient must fit an i16, which
/// holds for the 17-, 9- and 5-tap filters (not scale 3's).
fn adjacent_pairs(f: &[u16]) -> ([i32; 9], usize) {
    let mut words = [0i32; 9];
    for (w, p) in words.iter_mut().zip(f.chunks(2)) {
        debug_assert!(p.iter().all(|&c| c < 1 << 15));
        *w = p[0] as i32 | (p.get(1).copied().unwrap_or(0) as i32) << 16;
    }
    (words, f.len().div_ceil(2))
}
