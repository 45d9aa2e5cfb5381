//! Codec comparison: each codec's hull per metric, BD-rate of every codec against the first,
//! the comparison plots, and a serializable summary for `compare.json`.

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::plot::{render_compare, CompareCurve, ComparePlot};
use super::{metric_title, BdRow, PlotRef};
use crate::bdrate::{self, Method};
use crate::{Metric, Point, Result};

/// The outcome of comparing codecs, as written to `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The codec every other is measured against (the first given).
    pub reference: String,
    pub method: Method,
    pub codecs: Vec<String>,
    /// One row per (codec other than the reference, metric).
    pub results: Vec<ComparisonRow>,
    /// Each codec's hull per metric as `(kbps, quality)`.
    pub hulls: Vec<CodecHull>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecHull {
    pub codec: String,
    pub metric: Metric,
    pub hull: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub codec: String,
    pub metric: Metric,
    /// `None` when the BD-rate is undefined; `error` then says why.
    pub bd_rate_percent: Option<f64>,
    pub bd_quality: Option<f64>,
    pub overlap: Option<[f64; 2]>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// Compares each codec's points against the first codec's on every metric. A pair whose
/// BD-rate is undefined (too few hull points, no overlap) gets its reason in `error` rather
/// than failing the whole comparison; an empty input or an empty codec is an error.
pub fn compare_codecs(
    sets: &[(String, Vec<Point>)],
    metrics: &[Metric],
    method: Method,
) -> Result<Comparison> {
    let Some((reference, _)) = sets.first() else {
        return Err(crate::Error::data("compare", "no codec to compare"));
    };
    if let Some((codec, _)) = sets.iter().find(|(_, p)| p.is_empty()) {
        return Err(crate::Error::data(
            codec.as_str(),
            "no grid points to compare",
        ));
    }
    let hull_of = |pts: &[Point], m: Metric| {
        let pairs: Vec<(f64, f64)> = pts.iter().map(|p| (p.kbps, m.of(p))).collect();
        crate::hull::upper_hull_pairs(&pairs)
    };
    let mut hulls = Vec::new();
    for (codec, pts) in sets {
        for &m in metrics {
            hulls.push(CodecHull {
                codec: codec.clone(),
                metric: m,
                hull: hull_of(pts, m),
            });
        }
    }
    let mut results = Vec::new();
    for (codec, pts) in sets.iter().skip(1) {
        for &m in metrics {
            let a = hull_of(&sets[0].1, m);
            let b = hull_of(pts, m);
            let r = bdrate::compare(
                &format!("{reference} hull"),
                &a,
                &format!("{codec} hull"),
                &b,
                m,
                method,
            );
            results.push(match r {
                Ok(r) => ComparisonRow {
                    codec: codec.clone(),
                    metric: m,
                    bd_rate_percent: Some(r.bd_rate_percent),
                    bd_quality: r.bd_quality,
                    overlap: Some(r.overlap),
                    warnings: r
                        .warnings
                        .into_iter()
                        .chain(cautions(reference, &a, codec, &b, m))
                        .collect(),
                    error: None,
                },
                Err(e) => ComparisonRow {
                    codec: codec.clone(),
                    metric: m,
                    bd_rate_percent: None,
                    bd_quality: None,
                    overlap: None,
                    warnings: Vec::new(),
                    error: Some(e.to_string()),
                },
            });
        }
    }
    Ok(Comparison {
        reference: reference.clone(),
        method,
        codecs: sets.iter().map(|(c, _)| c.clone()).collect(),
        results,
        hulls,
    })
}

/// What a single BD-rate number hides about two hulls (`(kbps, quality)`, by rate): where
/// they cross inside their common quality range (the average mixes a gain on one side with a
/// loss on the other), and the quality one covers that the other does not reach (left out of
/// the average).
fn cautions(
    name_a: &str,
    a: &[(f64, f64)],
    name_b: &str,
    b: &[(f64, f64)],
    m: Metric,
) -> Vec<String> {
    let (Some(&(_, a_lo)), Some(&(_, a_hi)), Some(&(_, b_lo)), Some(&(_, b_hi))) =
        (a.first(), a.last(), b.first(), b.last())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (lo, hi) = (a_lo.max(b_lo), a_hi.min(b_hi));
    if hi > lo {
        let steps = 64;
        let mut last: Option<(f64, f64)> = None;
        let mut crossings = Vec::new();
        for i in 0..=steps {
            let q = lo + (hi - lo) * i as f64 / steps as f64;
            let (Some(ka), Some(kb)) = (crate::hull::kbps_at(a, q), crate::hull::kbps_at(b, q))
            else {
                continue;
            };
            // Only differences of 10 % or more count: hulls that run together wiggle across
            // each other without either being better there.
            let d = (kb / ka).ln();
            if d.abs() < 0.1 {
                continue;
            }
            if let Some((ql, dl)) = last {
                if dl.signum() != d.signum() {
                    crossings.push(format!("{:.1}", (ql + q) / 2.0));
                }
            }
            last = Some((q, d));
        }
        if !crossings.is_empty() {
            out.push(format!(
                "the {name_b} and {name_a} hulls cross (near {m} {}): {name_b} needs fewer bits in part of the range and more in another, so the average mixes gains and losses",
                crossings.join(", ")
            ));
        }
    }
    if b_hi + 0.5 < a_hi {
        out.push(format!(
            "{name_b}'s hull tops out at {m} {b_hi:.1} ({name_a}'s reaches {a_hi:.1}): above that the comparison has no {name_b} points (a lower CRF in its grid would cover them)"
        ));
    }
    if b_lo > a_lo + 0.5 {
        out.push(format!(
            "{name_b}'s hull starts at {m} {b_lo:.1} ({name_a}'s at {a_lo:.1}): below that the comparison has no {name_b} points"
        ));
    }
    out
}

impl Comparison {
    /// The BD-rate of `codec` on `metric`, if defined.
    pub fn bd_rate(&self, codec: &str, metric: Metric) -> Option<f64> {
        self.results
            .iter()
            .find(|r| r.codec == codec && r.metric == metric)
            .and_then(|r| r.bd_rate_percent)
    }

    /// Rows for the report's BD-rate table.
    pub fn bd_rows(&self) -> Vec<BdRow> {
        self.results
            .iter()
            .map(|r| BdRow {
                reference: self.reference.clone(),
                codec: r.codec.clone(),
                metric: r.metric,
                method: self.method,
                bd_rate_percent: r.bd_rate_percent,
                bd_quality: r.bd_quality,
                note: r.error.clone().unwrap_or_else(|| r.warnings.join("; ")),
            })
            .collect()
    }

    /// Draws `compare_<metric>.png` and `.svg` per metric into `dir`: every codec's hull with
    /// its BD-rate in the legend. Returns the plots for the report.
    pub fn render(&self, dir: &Path, clip: &str) -> Result<Vec<PlotRef>> {
        let mut metrics: Vec<Metric> = Vec::new();
        for h in &self.hulls {
            if !metrics.contains(&h.metric) {
                metrics.push(h.metric);
            }
        }
        let mut out = Vec::new();
        for m in metrics {
            let curves = self
                .codecs
                .iter()
                .map(|c| CompareCurve {
                    label: c.clone(),
                    hull: self
                        .hulls
                        .iter()
                        .find(|h| &h.codec == c && h.metric == m)
                        .map(|h| h.hull.clone())
                        .unwrap_or_default(),
                    bd_rate_percent: if *c == self.reference {
                        None
                    } else {
                        Some(self.bd_rate(c, m).unwrap_or(f64::NAN))
                    },
                })
                .collect();
            let plot = ComparePlot {
                title: format!(
                    "{clip} — codec comparison on {} hulls (BD-rate vs {}, {})",
                    metric_title(m),
                    self.reference,
                    self.method
                ),
                metric: m,
                curves,
            };
            let stem = format!("compare_{}", m.name());
            render_compare(&plot, &dir.join(format!("{stem}.png")))?;
            render_compare(&plot, &dir.join(format!("{stem}.svg")))?;
            out.push(PlotRef {
                caption: format!(
                    "{} hulls of each codec; BD-rate against {} in the legend",
                    metric_title(m),
                    self.reference
                ),
                png: format!("{stem}.png"),
                svg: Some(format!("{stem}.svg")),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cautions_name_crossings_and_uncovered_quality() {
        let a = [(100.0, 50.0), (400.0, 70.0), (1600.0, 85.0), (6400.0, 95.0)];
        // Cheaper than `a` at low quality, dearer at high quality, and stops at 90.
        let b = [(60.0, 50.0), (300.0, 75.0), (3000.0, 88.0), (6000.0, 90.0)];
        let c = cautions("a", &a, "b", &b, Metric::Vmaf);
        assert!(
            c.iter().any(|w| w.contains("hulls cross (near vmaf")),
            "{c:?}"
        );
        assert!(
            c.iter().any(|w| w.contains("tops out at vmaf 90.0")),
            "{c:?}"
        );
        // The same curve scaled by 0.8 in rate: better everywhere, nothing to say.
        let d: Vec<(f64, f64)> = a.iter().map(|&(k, q)| (k * 0.8, q)).collect();
        assert!(cautions("a", &a, "d", &d, Metric::Vmaf).is_empty());
    }
}
