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
