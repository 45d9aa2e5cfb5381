//! The x86-64 ADM kernel sets. Each set's table is only handed out by
//! [`Kernels::for_level`](super::Kernels::for_level) at a level the CPU has, which is what makes
//! the safe entry points in the tables sound.

pub(super) mod avx2;
pub(super) mod avx512;
