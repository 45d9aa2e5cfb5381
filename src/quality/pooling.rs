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

use crate::error::{Error, Result, Setting};

/// Pools per-frame scores. Mean and harmonic mean are summed in frame order as libvmaf does
/// (`vmaf_feature_score_pooled`); the harmonic mean is libvmaf's N / Σ 1/(s+1) − 1. Percentiles
/// use [`percentile`]. An empty input gives NaN in every field (there is nothing to pool; callers
/// that must not see NaN check for emptiness first).
pub fn pool(scores: &[f64]) -> Pooled {
    if scores.is_empty() {
        let nan = f64::NAN;
        return Pooled {
            mean: nan,
            harmonic_mean: nan,
            min: nan,
            max: nan,
            median: nan,
            p1: nan,
            p5: nan,
            p10: nan,
        };
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    Pooled {
        mean: mean(scores),
        harmonic_mean: harmonic_mean(scores),
        min: min(scores),
        max: max(scores),
        median: percentile_sorted(&sorted, 50.0),
        p1: percentile_sorted(&sorted, 1.0),
        p5: percentile_sorted(&sorted, 5.0),
        p10: percentile_sorted(&sorted, 10.0),
    }
}

/// Arithmetic mean, summed in order (NaN for an empty slice).
pub fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len() as f64
}

/// libvmaf's harmonic mean: N / Σ 1/(s+1) − 1 (NaN for an empty slice).
pub fn harmonic_mean(scores: &[f64]) -> f64 {
    let inv: f64 = scores.iter().map(|s| 1.0 / (s + 1.0)).sum();
    scores.len() as f64 / inv - 1.0
}

/// Smallest score (NaN for an empty slice).
pub fn min(scores: &[f64]) -> f64 {
    scores.iter().copied().reduce(f64::min).unwrap_or(f64::NAN)
}

/// Largest score (NaN for an empty slice).
pub fn max(scores: &[f64]) -> f64 {
    scores.iter().copied().reduce(f64::max).unwrap_or(f64::NAN)
}

/// The `p`-th percentile (0 ≤ p ≤ 100, clamped) with linear interpolation between the closest
/// ranks, as numpy's default (`method="linear"`): rank = p/100 · (n − 1) into the sorted scores,
/// interpolated between the samples either side. NaN for an empty slice.
pub fn percentile(scores: &[f64], p: f64) -> f64 {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, p)
}

fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let t = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * t
}

/// A temporal pooling method: how a series of per-frame scores becomes one number, whether
/// computed now ([`PoolMethod::apply`]) or read from the statistics [`pool`] kept
/// ([`Pooled::get`]). Serialized as [`PoolMethod::name`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PoolMethod {
    #[default]
    Mean,
    HarmonicMean,
    Min,
    Max,
    Median,
    /// `p<N>`, N in 0..=100 (may be fractional: `p0.5`).
    Percentile(f64),
}

impl PoolMethod {
    /// Parses `mean`, `harmonic_mean` (also `hmean`), `min`, `max`, `median`, `p<N>`.
    pub fn parse(s: &str) -> Result<PoolMethod> {
        let t = s.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "mean" => PoolMethod::Mean,
            "harmonic_mean" | "hmean" => PoolMethod::HarmonicMean,
            "min" => PoolMethod::Min,
            "max" => PoolMethod::Max,
            "median" => PoolMethod::Median,
            _ => {
                let n = t
                    .strip_prefix('p')
                    .and_then(|n| n.parse::<f64>().ok())
                    .filter(|n| (0.0..=100.0).contains(n));
                match n {
                    Some(n) => PoolMethod::Percentile(n),
                    None => {
                        return Err(Error::setting(
                            Setting::Pooling,
                            s,
                            format!(
                                "unknown pooling method '{s}' (mean, harmonic_mean, min, max, median, p<N> with 0 ≤ N ≤ 100)"
                            ),
                        ))
                    }
                }
            }
        })
    }

    /// Pools `scores` with this method (NaN for an empty slice).
    pub fn apply(self, scores: &[f64]) -> f64 {
        match self {
            PoolMethod::Mean => mean(scores),
            PoolMethod::HarmonicMean => harmonic_mean(scores),
            PoolMethod::Min => min(scores),
            PoolMethod::Max => max(scores),
            PoolMethod::Median => percentile(scores, 50.0),
            PoolMethod::Percentile(p) => percentile(scores, p),
        }
    }

    /// The name `parse` accepts for this method.
    pub fn name(self) -> String {
        match self {
            PoolMethod::Mean => "mean".into(),
            PoolMethod::HarmonicMean => "harmonic_mean".into(),
            PoolMethod::Min => "min".into(),
            PoolMethod::Max => "max".into(),
            PoolMethod::Median => "median".into(),
            PoolMethod::Percentile(p) => format!("p{p}"),
        }
    }
}

impl Serialize for PoolMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for PoolMethod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PoolMethod::parse(&s).map_err(|e| match e {
            Error::Setting { reason, .. } => serde::de::Error::custom(reason),
            other => serde::de::Error::custom(other),
        })
    }
}

/// A kept statistic: the method that computes it, and the field holding it.
type Stored = (PoolMethod, fn(&Pooled) -> f64);

/// The statistics [`Pooled`] keeps, by the method that computes each: one row per field.
const STORED: [Stored; 8] = [
    (PoolMethod::Mean, |p| p.mean),
    (PoolMethod::HarmonicMean, |p| p.harmonic_mean),
    (PoolMethod::Min, |p| p.min),
    (PoolMethod::Max, |p| p.max),
    (PoolMethod::Median, |p| p.median),
    (PoolMethod::Percentile(1.0), |p| p.p1),
    (PoolMethod::Percentile(5.0), |p| p.p5),
    (PoolMethod::Percentile(10.0), |p| p.p10),
];

impl Pooled {
    /// The kept statistic `method` pools to; `None` for a percentile not kept (only p1, p5 and
    /// p10 are), which needs the per-frame scores.
    pub fn get(&self, method: PoolMethod) -> Option<f64> {
        STORED
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, of)| of(self))
    }

    /// The methods [`Pooled::get`] answers, in field order.
    pub fn methods() -> impl Iterator<Item = PoolMethod> {
        STORED.iter().map(|(m, _)| *m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_pool() {
        let s = [90.0, 70.0, 80.0, 100.0, 60.0];
        let p = pool(&s);
        assert!(close(p.mean, 80.0));
        // 5 / (1/91 + 1/71 + 1/81 + 1/101 + 1/61) − 1
        let inv = 1.0 / 91.0 + 1.0 / 71.0 + 1.0 / 81.0 + 1.0 / 101.0 + 1.0 / 61.0;
        assert!(close(p.harmonic_mean, 5.0 / inv - 1.0));
        assert!((p.harmonic_mean - 77.476_144_247).abs() < 1e-8);
        assert_eq!((p.min, p.max, p.median), (60.0, 100.0, 80.0));
        // sorted 60 70 80 90 100; p10: rank 0.4 → 60 + 0.4·10 = 64; p5 → 62; p1 → 60.4.
        assert!(close(p.p10, 64.0));
        assert!(close(p.p5, 62.0));
        assert!(close(p.p1, 60.4));
        for m in Pooled::methods() {
            assert!(close(p.get(m).unwrap(), m.apply(&s)), "{}", m.name());
        }
        assert_eq!(p.get(PoolMethod::Percentile(7.0)), None);
        assert!(close(percentile(&s, 75.0), 90.0));
        assert!(close(percentile(&s, 90.0), 96.0));
        assert!(close(percentile(&[3.0, 1.0], 50.0), 2.0));
        assert!(close(percentile(&[42.0], 1.0), 42.0));
    }

    #[test]
    fn empty_is_nan() {
        let p = pool(&[]);
        assert!(p.mean.is_nan() && p.harmonic_mean.is_nan() && p.min.is_nan() && p.p1.is_nan());
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn parse_methods() {
        assert_eq!(PoolMethod::parse("mean").unwrap(), PoolMethod::Mean);
        assert_eq!(
            PoolMethod::parse("harmonic_mean").unwrap(),
            PoolMethod::HarmonicMean
        );
        assert_eq!(PoolMethod::parse("MIN").unwrap(), PoolMethod::Min);
        assert_eq!(PoolMethod::parse("max").unwrap(), PoolMethod::Max);
        assert_eq!(PoolMethod::parse("median").unwrap(), PoolMethod::Median);
        assert_eq!(
            PoolMethod::parse("p5").unwrap(),
            PoolMethod::Percentile(5.0)
        );
        assert_eq!(
            PoolMethod::parse("p0.5").unwrap(),
            PoolMethod::Percentile(0.5)
        );
        for bad in ["p", "p101", "px", "average", ""] {
            let e = PoolMethod::parse(bad).unwrap_err();
            assert!(
                matches!(&e, Error::Setting { setting: Setting::Pooling, value, .. } if value == bad),
                "{e}"
            );
        }
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!(close(PoolMethod::Percentile(50.0).apply(&s), 2.5));
        assert!(close(PoolMethod::Median.apply(&s), 2.5));
        assert_eq!(
            PoolMethod::parse(&PoolMethod::Percentile(10.0).name()).unwrap(),
            PoolMethod::Percentile(10.0)
        );
    }
}
