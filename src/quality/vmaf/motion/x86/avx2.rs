//! The AVX2 motion kernel set: the portable kernels compiled with AVX2 and FMA enabled.

use super::super::Kernels;
use crate::cpu::CpuLevel;

mod build {
    use super::super::super::{BLK, FILTER};
    kernels!(target_feature(enable = "avx2,fma"));
}

// Safe entry points: only reachable through `KERNELS`, which `Kernels::for_level` hands out only
// when the CPU has AVX2 and FMA.

fn vert(prev: &[&[u16]], cur: &[&[u16]], bd: u32, out: &mut [i32]) {
    // SAFETY: AVX2 and FMA are present (only reachable through the AVX2 table, see above); the
    // kernel is safe Rust compiled with those features (slices are bounds-checked).
    unsafe { build::vert(prev, cur, bd, out) }
}

fn horiz(pad: &[i32], w: usize) -> u64 {
    // SAFETY: AVX2 and FMA are present (AVX2 table only); safe Rust inside.
    unsafe { build::horiz(pad, w) }
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Avx2,
    vert,
    horiz,
};
