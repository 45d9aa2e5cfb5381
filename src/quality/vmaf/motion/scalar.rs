//! The scalar motion kernels: the reference the SIMD build is tested against.

use super::{Kernels, BLK, FILTER};
use crate::cpu::CpuLevel;

kernels!(inline(never));

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
    vert,
    horiz,
};
