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
                    warnings: r.warnings,
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
