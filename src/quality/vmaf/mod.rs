//! VMAF as libvmaf 3.2 computes it for the v0.6.1 model family: integer VIF at four scales
//! ([`vif`]), integer ADM ([`adm`]), integer motion ([`motion`]), the JSON models ([`model`])
//! and training new ones ([`train`]).

pub mod adm;
pub mod model;
pub mod motion;
pub mod train;
pub mod vif;

pub use model::{FeatureKind, Model, ModelFeature};
pub use train::{Rescale, TrainError, TrainedModel};

/// Mirrors an index into 0..n the way libvmaf pads its buffers for VIF and motion (reflect
/// without repeating the edge sample: -1 → 1, n → n-2).
#[inline(always)]
pub(crate) fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    };
    m.clamp(0, n - 1) as usize
}
