//! VMAF as libvmaf 3.2 computes it for the v0.6.1 model family: integer VIF at four scales
//! ([`vif`]), integer ADM ([`adm`]), integer motion ([`motion`]) and the JSON models ([`model`]).

pub mod adm;
pub mod model;
pub mod motion;
pub mod vif;

pub use model::{FeatureKind, Model, ModelFeature};
