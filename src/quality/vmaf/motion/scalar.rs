//! The scalar motion kernels: the reference the SIMD builds are tested against.

use super::{Kernels, BLK, FILTER, FLUSH};
use crate::cpu::CpuLevel;

kernels!(inline(never));

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
    diff,
    diff8,
    vert,
    horiz,
};
