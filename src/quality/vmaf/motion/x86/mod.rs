//! The x86-64 motion kernel set. Its table is only handed out by
//! [`Kernels::for_level`](super::Kernels::for_level) at a level the CPU has, which is what makes
//! its safe entry points sound.

pub(super) mod avx2;
