//! The grid point record: one encode of the title at one resolution and CRF, with its bitrate and
//! pooled quality. Hull, ladder, store, reports and BD-rate all speak in these.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::quality::pooling::{PoolMethod, Pooled};
use crate::quality::FrameScores;

/// A finished grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// libavcodec encoder name, e.g. `libx264`.
    pub codec: String,
    /// Encoded (downscaled) size; scores are computed after upscaling back to the source size.
    pub width: u32,
    pub height: u32,
    /// The CRF encoded at; NaN (written `null`) for an encode not made at a CRF (a two-pass
    /// rung's verified encode).
    #[serde(deserialize_with = "f64_or_nan")]
    pub crf: f64,
    /// Video bitstream bits / duration, in kbit/s (1 kbit = 1000 bit).
    pub kbps: f64,
    /// Video bitstream size in bytes.
    pub bytes: u64,
    /// The headline metrics, pooled over the frames: the mean as the grid computes and stores
    /// them; a run's [`Point::pooled_by`] its recipe's pooling.
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    /// Every pooled statistic of every series computed.
    #[serde(default)]
    pub pooled: BTreeMap<Series, Pooled>,
    /// Whether the point lies on the rate-quality convex hull of its set (filled by `hull`).
    #[serde(default)]
    pub on_hull: bool,
    /// Content address of the task that produced it (see `store`); empty for imported points.
    #[serde(default)]
    pub key: String,
}

/// A number, or `null` read as NaN (serde_json writes non-finite floats as `null`).
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Point {
    /// A point of `codec` at `width`×`height` and `crf` from its rate and its pooled series: the
    /// headline metrics are the series' means (what [`Point::pooled_by`] replaces by the
    /// recipe's pooling), NaN for a series not scored.
    #[allow(clippy::too_many_arguments)]
    pub fn from_pooled(
        codec: String,
        (width, height): (u32, u32),
        crf: f64,
        kbps: f64,
        bytes: u64,
        pooled: BTreeMap<Series, Pooled>,
        key: String,
    ) -> Point {
        let mean = |k: Series| pooled.get(&k).map(|p| p.mean).unwrap_or(f64::NAN);
        Point {
            codec,
            width,
            height,
            crf,
            kbps,
            bytes,
            vmaf: mean(Series::Vmaf),
            psnr_y: mean(Series::PsnrY),
            ssim: mean(Series::Ssim),
            pooled,
            on_hull: false,
            key,
        }
    }

    /// This point with its headline metrics (`vmaf`, `psnr_y`, `ssim`) pooled by `pool` from
    /// [`Point::pooled`] (unchanged where a metric has no pooled statistics, or none kept for
    /// `pool`).
    pub fn pooled_by(&self, pool: PoolMethod) -> Point {
        let mut p = self.clone();
        for m in Metric::ALL {
            if let Some(v) = self.pooled.get(&m.series()).and_then(|s| s.get(pool)) {
                *m.field_mut(&mut p) = v;
            }
        }
        p
    }
}

/// A per-frame score series a grid point keeps (`TaskResult::scores`) and pools
/// ([`Point::pooled`]). Serialized as its name, and ordered by name, so a map keyed by it has the
/// order and JSON of one keyed by the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Series {
    Vmaf,
    PsnrY,
    PsnrCb,
    PsnrCr,
    Ssim,
}

/// A series' name, and its value in the engine's scores of a frame.
type SeriesRow = (&'static str, fn(&FrameScores) -> Option<f64>);

/// One row per [`Series`], in the enum's order.
static SERIES: [SeriesRow; 5] = [
    ("vmaf", |f| f.vmaf),
    ("psnr_y", |f| f.psnr_y),
    ("psnr_cb", |f| f.psnr_cb),
    ("psnr_cr", |f| f.psnr_cr),
    ("ssim", |f| f.ssim),
];

impl Series {
    /// Every series, in the order `frames.csv` writes them.
    pub const ALL: [Series; 5] = [
        Series::Vmaf,
        Series::PsnrY,
        Series::PsnrCb,
        Series::PsnrCr,
        Series::Ssim,
    ];

    /// The column and JSON name (`vmaf`, `psnr_y`, `psnr_cb`, `psnr_cr`, `ssim`).
    pub fn name(self) -> &'static str {
        SERIES[self as usize].0
    }

    /// The series of this name, exactly as [`Series::name`] spells it.
    pub fn parse(s: &str) -> Option<Series> {
        Series::ALL.into_iter().find(|x| x.name() == s)
    }

    /// This series' score of one frame, if the engine computed it.
    pub fn of(self, f: &FrameScores) -> Option<f64> {
        SERIES[self as usize].1(f)
    }
}

impl Ord for Series {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Series {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Series {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Series::parse(&s).ok_or_else(|| {
            let names: Vec<_> = Series::ALL.iter().map(|x| x.name()).collect();
            serde::de::Error::custom(format!(
                "unknown series `{s}` (one of {})",
                names.join(", ")
            ))
        })
    }
}

/// The quality metric a hull or ladder is built on. Serialized as [`Metric::name`], read by
/// [`Metric::parse`] (so a recipe takes the aliases `--metric` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Vmaf,
    PsnrY,
    Ssim,
}

/// Facts about one metric: its row of [`METRICS`]. Code that needs a name, a label, a default or a
/// precision reads it here instead of matching on the metric itself.
#[derive(Debug)]
pub struct MetricInfo {
    pub metric: Metric,
    /// The series it is pooled from, whose name is the metric's column and JSON name.
    pub series: Series,
    /// Other names accepted on input (options, CSV columns).
    pub aliases: &'static [&'static str],
    /// As written in titles and captions.
    pub title: &'static str,
    /// Unit label for plots and tables.
    pub unit: &'static str,
    /// A plot's quality axis title.
    pub axis: &'static str,
    /// Values a cap or step may take.
    pub range: (f64, f64),
    /// Where a plot's quality axis may reach.
    pub plot_range: (f64, f64),
    /// Decimals on axis ticks, on labels, in tables.
    pub tick_digits: usize,
    pub label_digits: usize,
    pub table_digits: usize,
    /// Default spacing between rungs. VMAF: 6 points is one JND (Netflix/Ozer's "just
    /// noticeable difference" rule of thumb). PSNR and SSIM have no published JND; 1.5 dB and
    /// 0.01 are this tool's heuristics, roughly what separates 6 VMAF at mid-ladder qualities.
    pub default_step: f64,
    /// Default quality cap. VMAF 95 is where viewers stop seeing gains; 45 dB and 0.99 are the
    /// usual "visually transparent" thresholds for PSNR-Y and SSIM.
    pub default_cap: f64,
    /// The point's pooled value of this metric, and the field holding it.
    of: fn(&Point) -> f64,
    field_mut: fn(&mut Point) -> &mut f64,
}

/// One row per [`Metric`], in the enum's order.
pub static METRICS: [MetricInfo; 3] = [
    MetricInfo {
        metric: Metric::Vmaf,
        series: Series::Vmaf,
        aliases: &[],
        title: "VMAF",
        unit: "VMAF",
        axis: "VMAF (0–100)",
        range: (0.0, 100.0),
        plot_range: (0.0, 100.0),
        tick_digits: 0,
        label_digits: 1,
        table_digits: 2,
        default_step: 6.0,
        default_cap: 95.0,
        of: |p| p.vmaf,
        field_mut: |p| &mut p.vmaf,
    },
    MetricInfo {
        metric: Metric::PsnrY,
        series: Series::PsnrY,
        aliases: &["psnr", "psnr-y"],
        title: "PSNR-Y",
        unit: "dB",
        axis: "PSNR-Y (dB)",
        range: (0.0, 100.0),
        plot_range: (0.0, f64::INFINITY),
        tick_digits: 1,
        label_digits: 2,
        table_digits: 2,
        default_step: 1.5,
        default_cap: 45.0,
        of: |p| p.psnr_y,
        field_mut: |p| &mut p.psnr_y,
    },
    MetricInfo {
        metric: Metric::Ssim,
        series: Series::Ssim,
        aliases: &[],
        title: "SSIM",
        unit: "SSIM",
        axis: "SSIM (0–1)",
        range: (0.0, 1.0),
        plot_range: (0.0, 1.0),
        tick_digits: 3,
        label_digits: 4,
        table_digits: 4,
        default_step: 0.01,
        default_cap: 0.99,
        of: |p| p.ssim,
        field_mut: |p| &mut p.ssim,
    },
];

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Vmaf, Metric::PsnrY, Metric::Ssim];

    /// This metric's row of [`METRICS`].
    pub fn info(self) -> &'static MetricInfo {
        &METRICS[self as usize]
    }

    /// The column / JSON name of the metric (its series').
    pub fn name(self) -> &'static str {
        self.series().name()
    }

    /// The per-frame series this metric is pooled from.
    pub fn series(self) -> Series {
        self.info().series
    }

    /// Accepts the name or an alias, in any case: `vmaf`, `psnr`/`psnr_y`, `ssim`.
    pub fn parse(s: &str) -> Option<Metric> {
        let s = s.trim().to_ascii_lowercase();
        METRICS
            .iter()
            .find(|i| i.series.name() == s || i.aliases.contains(&s.as_str()))
            .map(|i| i.metric)
    }

    /// The pooled value of this metric for a point.
    pub fn of(self, p: &Point) -> f64 {
        (self.info().of)(p)
    }

    fn field_mut(self, p: &mut Point) -> &mut f64 {
        (self.info().field_mut)(p)
    }

    /// Unit label for plots and tables.
    pub fn unit(self) -> &'static str {
        self.info().unit
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Metric::parse(&s).ok_or_else(|| {
            let names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
            serde::de::Error::custom(format!(
                "unknown metric `{s}` (one of {})",
                names.join(", ")
            ))
        })
    }
}

/// The points of a points file's text, in either of its layouts: a bare JSON array of points,
/// or an object with a `points` array and optionally the `source` they were made from. Returns
/// the points and the source as JSON values, for readers strict ([`crate::ladder`]) or lenient
/// ([`crate::bdrate`]) about the rest.
pub fn points_file_values(
    text: &str,
    what: &str,
) -> crate::Result<(Vec<serde_json::Value>, Option<serde_json::Value>)> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| crate::Error::data(what, format!("not valid JSON: {e}")))?;
    let layout = || {
        crate::Error::data(
            what,
            "expected a JSON array of points or an object with a `points` array",
        )
    };
    match v {
        Value::Array(points) => Ok((points, None)),
        Value::Object(mut o) => match o.remove("points") {
            Some(Value::Array(points)) => Ok((points, o.remove("source").filter(|s| !s.is_null()))),
            _ => Err(layout()),
        },
        _ => Err(layout()),
    }
}

/// What identifies a source title: enough to reproduce and to key cached work. The fingerprint is
/// a hash of the decoded frames' content (so a remuxed or renamed file keeps its cached points).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub fps_num: u32,
    pub fps_den: u32,
    pub frames: u64,
    pub fingerprint: String,
}

/// Cautions about grid points that are out of order: at one size, a higher CRF should give a
/// lower bitrate and a lower `metric`. Where it does not (an encoder's rate control at the edge
/// of its range, a preset's decisions flipping), the hull there rests on odd points and
/// comparisons through it are less reliable. One line per size with such pairs.
pub fn out_of_order(points: &[Point], metric: Metric) -> Vec<String> {
    let mut by_size: BTreeMap<(String, u32, u32), Vec<&Point>> = BTreeMap::new();
    for p in points {
        if p.crf.is_finite() {
            by_size
                .entry((p.codec.clone(), p.width, p.height))
                .or_default()
                .push(p);
        }
    }
    let mut out = Vec::new();
    for ((codec, w, h), mut pts) in by_size {
        pts.sort_by(|a, b| a.crf.total_cmp(&b.crf));
        let odd: Vec<String> = pts
            .windows(2)
            .filter(|p| p[1].kbps >= p[0].kbps || metric.of(p[1]) > metric.of(p[0]))
            .map(|p| {
                format!(
                    "CRF {} → {}: {:.0} → {:.0} kbps, {metric} {:.2} → {:.2}",
                    p[0].crf,
                    p[1].crf,
                    p[0].kbps,
                    p[1].kbps,
                    metric.of(p[0]),
                    metric.of(p[1])
                )
            })
            .collect();
        if !odd.is_empty() {
            out.push(format!(
                "{codec} {w}x{h}: a higher CRF did not lower both bitrate and {metric} ({}); its hull there rests on odd points, read comparisons through them with caution",
                odd.join("; ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maps keyed by series keep the order and JSON of maps keyed by the names.
    #[test]
    fn series_order_and_json_are_the_names() {
        let by_series: BTreeMap<Series, u8> = Series::ALL.iter().map(|&s| (s, s as u8)).collect();
        let by_name: BTreeMap<&str, u8> =
            Series::ALL.iter().map(|&s| (s.name(), s as u8)).collect();
        let json = serde_json::to_string(&by_series).unwrap();
        assert_eq!(json, serde_json::to_string(&by_name).unwrap());
        let back: BTreeMap<Series, u8> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, by_series);
        assert!(serde_json::from_str::<BTreeMap<Series, u8>>(r#"{"ms_ssim":1}"#).is_err());
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.series().name()), Some(m));
        }
    }

    #[test]
    fn out_of_order_points_are_named() {
        let pt = |w: u32, crf: f64, kbps: f64, vmaf: f64| Point {
            codec: "libsvtav1".into(),
            width: w,
            height: w * 9 / 16,
            crf,
            kbps,
            bytes: 0,
            vmaf,
            psnr_y: 40.0,
            ssim: 0.9,
            pooled: BTreeMap::new(),
            on_hull: false,
            key: String::new(),
        };
        let good = [pt(640, 30.0, 800.0, 90.0), pt(640, 40.0, 400.0, 80.0)];
        assert!(out_of_order(&good, Metric::Vmaf).is_empty());
        let odd = [
            pt(640, 30.0, 800.0, 90.0),
            pt(640, 40.0, 850.0, 80.0),
            pt(1280, 30.0, 900.0, 92.0),
        ];
        let c = out_of_order(&odd, Metric::Vmaf);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].starts_with("libsvtav1 640x360") && c[0].contains("CRF 30 → 40"));
    }
}
