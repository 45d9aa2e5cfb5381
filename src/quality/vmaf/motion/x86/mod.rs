//! The x86-64 motion kernel sets. Their tables are only handed out by
//! [`Kernels::for_level`](super::Kernels::for_level) at a level the CPU has, which is what makes
//! their safe entry points sound.

/// A set's safe entry points over the portable kernels compiled with `$features`.
macro_rules! x86_set {
    ($level:ident, $features:literal) => {
        mod build {
            use super::super::super::{BLK, FILTER, FLUSH};
            kernels!(target_feature(enable = $features));
        }

        // Safe entry points: only reachable through `KERNELS`, which `Kernels::for_level` hands
        // out only when the CPU has this set's features.

        fn diff(prev: &[u16], cur: &[u16], out: &mut [i32]) {
            // SAFETY: the CPU has the set's features (only reachable through its table, see
            // above); the kernel is safe Rust compiled with them (slices are bounds-checked).
            unsafe { build::diff(prev, cur, out) }
        }

        fn diff8(prev: &[u8], cur: &[u8], out: &mut [i32]) {
            // SAFETY: as for `diff`: the set's table only, safe Rust inside.
            unsafe { build::diff8(prev, cur, out) }
        }

        fn vert(d: &[&[i32]; 5], bd: u32, out: &mut [i32]) {
            // SAFETY: as for `diff`: the set's table only, safe Rust inside.
            unsafe { build::vert(d, bd, out) }
        }

        fn horiz(pad: &[i32], w: usize) -> u64 {
            // SAFETY: as for `diff`: the set's table only, safe Rust inside.
            unsafe { build::horiz(pad, w) }
        }

        pub(crate) const KERNELS: Kernels = Kernels {
            level: CpuLevel::$level,
            diff,
            diff8,
            vert,
            horiz,
        };
    };
}

pub(super) mod avx2 {
    //! The AVX2 motion kernel set: the portable kernels compiled with AVX2 and FMA enabled.
    use super::super::Kernels;
    use crate::cpu::CpuLevel;
    x86_set!(Avx2, "avx2,fma");
}

pub(super) mod avx512 {
    //! The AVX-512 motion kernel set: the portable kernels compiled with AVX-512 F/BW/VL/DQ
    //! (16 i32 lanes per vector).
    use super::super::Kernels;
    use crate::cpu::CpuLevel;
    x86_set!(Avx512, "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq");
}
