//! Temporal pooling of per-frame scores.

use serde::{Deserialize, Serialize};

/// Pooled statistics of one metric over a clip. Per-frame scores are kept separately.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Pooled {
    pub mean: f64,
    /// libvmaf's harmonic mean: N / Σ 1/(s+1) − 1.
    pub harmonic_mean: f64,
    pub min: f64,
    pub max: f64,
    pub median: f64,
    pub p1: f64,
    pub p5: f64,
    pub p10: f64,
}
