//! Ladder rungs placed along the convex hull, and `ladder.toml`, the encoder recipe for them.
//!
//! Placement (see [`build`]): the top rung is the lowest bitrate at which the hull reaches the
//! quality cap (or the hull's best point, or `max_kbps`); each next rung down is one step (one
//! JND, 6 VMAF by default) lower in quality, its bitrate then clamped so that the ratio to the
//! rung above stays within `[min_ratio, max_ratio]`; the walk ends at the bottom (the hull's
//! cheapest point, `min_kbps` or `min_quality`, whichever is highest) or at `max_rungs`.
//! The bottom always gets a rung: when it would be a near-duplicate of the rung above (closer
//! than `min_ratio`, or less than half a step below), it replaces that rung. Where the hull is
//! too steep for one step within the ratio limits, the steps are larger than asked (warned),
//! never skipped. `required_heights` then each get a rung.
//! Constraint conflicts are resolved in this fixed order — bitrate limits, then bitrate ratios,
//! then the quality step, then `max_rungs` — and every deviation is recorded in
//! [`Ladder::warnings`] instead of happening silently.
//!
//! Between grid points: bitrate and quality are interpolated *linearly in kbps* along the hull
//! segment, because the hull is built in linear bitrate (a rate between two hull encodes is
//! reachable by mixing them, so quality is linear there) — interpolating in another domain would
//! put rungs off the hull they were placed on. The rung's resolution is the one of the two
//! segment end points whose *own* rate-quality curve is higher at that bitrate (ties and
//! uncovered bitrates go to the upper end point, the larger encode), because that is what an
//! encode at that size will actually achieve; its predicted metrics come from that curve. The
//! CRF is interpolated linearly in log-bitrate between the bracketing points of that resolution
//! (CRF is close to linear in log-rate for x264/x265/VP9/AV1: +6 CRF ≈ half the bits).
//! Resolution never decreases as bitrate grows: a rung that would drop below the size of the
//! rung beneath it is moved up to that size (and a warning recorded).
//!
//! Commands: each rung carries the exact ffmpeg command line(s) that produce it, shell-quoted,
//! reading `source.path` as recorded (callers should record an absolute path) and writing
//! `rung.output` relative to the directory they run in. 2-pass VBR writes its stats next to the
//! output (`-passlogfile`, or `stats=` in x265-params); IDR alignment is `-g` = `-keyint_min` =
//! the keyframe interval with scene-cut keyframes off (`-sc_threshold 0`, x265 `scenecut=0`,
//! SVT-AV1 `scd=0`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::codecs::{self, append_param, TwoPass};
use crate::error::{Error, Result};
use crate::hull::{self, Hull};
use crate::media::ScalerKind;
use crate::points::{Metric, Point, SourceIdentity};
use crate::recipe::{Recipe, RungRateControl};

/// One rung of the ladder: what to encode and what it is predicted to score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Two-pass VBR: the target average bitrate, kbit/s. Capped CRF: the average the grid
    /// predicts at `crf` (the encoder decides; only `maxrate_kbps` is enforced).
    pub kbps: u32,
    /// VBV cap and buffer (the recipe's factors × the target; see `LadderSection::maxrate_factor`).
    pub maxrate_kbps: u32,
    pub bufsize_kbits: u32,
    pub rate_control: RungRateControl,
    /// CRF expected to give this bitrate at this size (interpolated between grid CRFs).
    pub crf: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    /// IDR interval in frames (keyint_seconds × encode fps); scene-cut keyframes off. Known
    /// only when the ladder was built for a source (its frame rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyint_frames: Option<u32>,
    /// Predicted pooled scores at the target bitrate.
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    /// True when the rung is exactly a grid point, false when interpolated between points.
    pub grid_point: bool,
    /// Encoder threads in the commands (`-threads`): 1 makes them bit-identical on every run
    /// (and to `--verify`'s encodes); 0 lets FFmpeg choose, faster but not reproducible.
    #[serde(default = "one")]
    pub threads: u32,
    /// Output file the commands write (relative to the directory they are run in).
    pub output: String,
    /// The exact ffmpeg command line(s) producing this rung, shell-quoted (2-pass: both).
    pub ffmpeg: Vec<String>,
    /// Encoder private options (as in the recipe's `encoder.params`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// What an encode exactly as `ffmpeg` says achieved (`--verify`), absent until verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

fn one() -> u32 {
    1
}

impl Verified {
    /// The achieved value of `metric`.
    pub fn achieved(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Vmaf => self.vmaf,
            Metric::PsnrY => self.psnr_y,
            Metric::Ssim => self.ssim,
        }
    }
}

/// A rung's verified encode: what the recipe's own encode of the whole title delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verified {
    /// Average bitrate achieved, kbit/s.
    pub kbps: f64,
    /// Highest bitrate over any run of frames one keyframe interval long (`keyint_seconds`,
    /// a segment's length): an upper bound of every segment's bitrate (HLS: BANDWIDTH).
    pub peak_kbps: f64,
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    /// Achieved minus predicted, in the ladder's metric.
    pub error: f64,
    /// Encodes it took (1 without refinement).
    pub encodes: u32,
    /// The bitrate the hull predicted, when refinement moved the rung's bitrate (two-pass) or
    /// its CRF (capped CRF: then the CRF the hull predicted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_setting: Option<f64>,
    /// Store key of the verified encode.
    pub key: String,
}

impl Rung {
    /// Sets the output name (`rung<N>_<W>x<H>_<kbps>k.<ext>`, N = `index` + 1) and, with a
    /// source, the ffmpeg commands that make this rung from it as its fields now say.
    pub fn attach_commands(
        &mut self,
        index: usize,
        recipe: &Recipe,
        source: Option<&SourceIdentity>,
    ) {
        let facts = codecs::profile(&self.codec);
        let stem = format!(
            "rung{}_{}x{}_{}k",
            index + 1,
            self.width,
            self.height,
            self.kbps
        );
        self.output = format!("{stem}.{}", facts.container);
        self.ffmpeg = match (source, self.keyint_frames) {
            (Some(s), Some(keyint)) => {
                let fps = recipe.output_fps(s.fps_num, s.fps_den);
                let fps_filter = recipe.grid.fps_cap.map(|_| fps);
                ffmpeg_commands(
                    self,
                    keyint,
                    &s.path,
                    recipe.scaling.down,
                    fps_filter,
                    &stem,
                )
                .iter()
                .map(|args| shell_join(args))
                .collect()
            }
            _ => Vec::new(),
        };
    }

    /// Moves a two-pass rung to `kbps`, its VBV cap scaled with it (the recipe's factors).
    pub fn retarget(&mut self, kbps: u32, l: &crate::recipe::LadderSection) {
        self.kbps = kbps.max(1);
        self.maxrate_kbps = (self.kbps as f64 * l.maxrate_factor).round() as u32;
        self.bufsize_kbits = (self.kbps as f64 * l.bufsize_factor).round() as u32;
    }

    /// The rate control its encode uses (a grid task's, so verified encodes are store tasks).
    pub fn rate(&self) -> crate::media::RateControl {
        use crate::media::RateControl;
        match self.rate_control {
            RungRateControl::TwoPassVbr => RateControl::TwoPass {
                kbps: self.kbps,
                maxrate_kbps: self.maxrate_kbps,
                bufsize_kbits: self.bufsize_kbits,
            },
            RungRateControl::CappedCrf => RateControl::CappedCrf {
                crf: self.crf,
                maxrate_kbps: self.maxrate_kbps,
                bufsize_kbits: self.bufsize_kbits,
            },
        }
    }

    /// The predicted value of `metric` for this rung.
    pub fn quality(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Vmaf => self.vmaf,
            Metric::PsnrY => self.psnr_y,
            Metric::Ssim => self.ssim,
        }
    }
}

/// A finished ladder, as written to `ladder.toml`. Rungs are sorted by increasing bitrate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub pertitle_version: String,
    pub model: String,
    pub phone: bool,
    /// The metric rungs were spaced on, and the step.
    pub metric: Metric,
    pub step: f64,
    /// Encode frame rate (the source's, or capped by the recipe); absent without a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps_num: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps_den: Option<u32>,
    pub scaler: ScalerKind,
    /// Everything that did not go as the constraints asked, one line each.
    pub warnings: Vec<String>,
    /// The source the rungs' commands read; absent for a ladder built from points alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceIdentity>,
    pub rungs: Vec<Rung>,
    /// The recipe the ladder was built with (overrides applied): what `pertitle verify` and
    /// `pertitle encode` need to encode the rungs exactly as the run's verified encodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
}

impl Ladder {
    /// Deterministic TOML (no timestamps; field order fixed; same input → same bytes).
    pub fn to_toml(&self) -> Result<String> {
        let body = toml::to_string(self)
            .map_err(|e| Error::data("ladder.toml", format!("cannot serialize: {e}")))?;
        Ok(format!(
            "# pertitle ladder: one [[rungs]] table per rung, lowest bitrate first.\n\
             # Each rung's `ffmpeg` lines produce it (run them in the output directory).\n{body}"
        ))
    }

    /// Reads a `ladder.toml` written by [`Ladder::to_toml`].
    pub fn from_toml(text: &str) -> Result<Ladder> {
        toml::from_str(text).map_err(|e| {
            Error::data(
                "ladder.toml",
                e.message().replace('\n', " ").trim().to_string(),
            )
        })
    }

    /// Reads a `ladder.toml` file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Ladder> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| {
            Error::data(
                path.display().to_string(),
                e.message().replace('\n', " ").trim().to_string(),
            )
        })
    }
}

/// A points file: either a bare JSON array of points or an object with a `points` array (and
/// optionally the `source` they were made from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceIdentity>,
    pub points: Vec<Point>,
}

/// Reads `points.json` (either layout of [`PointsFile`]). A missing, unreadable or malformed file
/// is an error naming it; an empty point list is an error too.
pub fn read_points_json(path: &Path) -> Result<PointsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::data(path.display().to_string(), format!("cannot read: {e}")))?;
    parse_points_json(&text, &path.display().to_string())
}

/// [`read_points_json`] on text; `what` names the origin in errors.
pub fn parse_points_json(text: &str, what: &str) -> Result<PointsFile> {
    let (points, source) = crate::points::points_file_values(text, what)?;
    let bad = |e: serde_json::Error| Error::data(what, format!("not a points file: {e}"));
    let points: Vec<Point> = points
        .into_iter()
        .map(serde_json::from_value)
        .collect::<std::result::Result<_, _>>()
        .map_err(bad)?;
    let source = source
        .map(serde_json::from_value)
        .transpose()
        .map_err(bad)?;
    if points.is_empty() {
        return Err(Error::data(what, "contains no points"));
    }
    Ok(PointsFile { source, points })
}

/// A rung position chosen on the hull, before encoder settings are attached.
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    kbps: f64,
    width: u32,
    height: u32,
    crf: f64,
    vmaf: f64,
    psnr_y: f64,
    ssim: f64,
    grid_point: bool,
}

/// One resolution's own points, Pareto-filtered and sorted by kbps.
struct Curve {
    width: u32,
    height: u32,
    pts: Vec<Point>,
}

impl Curve {
    /// The two points bracketing `kbps` (equal when `kbps` is exactly a point), if covered.
    fn bracket(&self, kbps: f64) -> Option<(&Point, &Point)> {
        let first = self.pts.first()?;
        let last = self.pts.last()?;
        if kbps < first.kbps || kbps > last.kbps {
            return None;
        }
        let j = self.pts.partition_point(|p| p.kbps < kbps);
        if self.pts[j].kbps == kbps || j == 0 {
            return Some((&self.pts[j], &self.pts[j]));
        }
        Some((&self.pts[j - 1], &self.pts[j]))
    }

    /// CRF at `kbps`, linear in ln(kbps) between (or beyond) this resolution's nearest points.
    fn crf_at(&self, kbps: f64) -> f64 {
        match self.pts.len() {
            0 => f64::NAN,
            1 => self.pts[0].crf,
            n => {
                let j = self.pts.partition_point(|p| p.kbps < kbps).clamp(1, n - 1);
                let (a, b) = (&self.pts[j - 1], &self.pts[j]);
                let t = (kbps.ln() - a.kbps.ln()) / (b.kbps.ln() - a.kbps.ln());
                a.crf + (b.crf - a.crf) * t
            }
        }
    }
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// Indices of the points a ladder for `recipe` may use: those of the recipe's codec, at least
/// `ladder.min_height` on their short side. Errors when there are none (naming the codec or the
/// min height).
pub fn eligible(points: &[Point], recipe: &Recipe) -> Result<Vec<usize>> {
    let l = &recipe.ladder;
    let codec = recipe.encoder.codec.as_str();
    let min_side = |p: &Point| p.width.min(p.height);
    let usable: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].codec == codec)
        .filter(|&i| l.min_height.is_none_or_le(min_side(&points[i])))
        .collect();
    if usable.is_empty() {
        let codecs: std::collections::BTreeSet<&str> =
            points.iter().map(|p| p.codec.as_str()).collect();
        let why = match l.min_height {
            Some(h) if points.iter().any(|p| p.codec == codec) => {
                format!("no {codec} point is at least {h} high (ladder.min_height)")
            }
            _ => format!(
                "no points for codec {codec} (the points are {})",
                codecs.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(Error::data("points", why));
    }
    Ok(usable)
}

/// The hull a ladder for `recipe` is built on: that of the [`eligible`] points under the ladder's
/// metric. Errors when no point has a finite bitrate and quality.
pub fn hull_for(points: &[Point], recipe: &Recipe) -> Result<Hull> {
    let hull = Hull::of_subset(points, &eligible(points, recipe)?, recipe.ladder.metric);
    if hull.is_empty() {
        return Err(Error::data(
            "points",
            "no point has a finite bitrate and quality",
        ));
    }
    Ok(hull)
}

/// Builds the ladder on `hull` (from [`hull_for`] on the same `points`) under the recipe's
/// `[ladder]` constraints. With a `source`, every rung also gets its keyframe interval and the
/// exact ffmpeg commands that encode it from that source; without one (points from elsewhere),
/// the rungs carry what to encode and its predicted quality only.
pub fn build(
    points: &[Point],
    hull: &Hull,
    recipe: &Recipe,
    source: Option<&SourceIdentity>,
) -> Result<Ladder> {
    recipe.validate()?;
    let l = &recipe.ladder;
    let metric = l.metric;
    let codec = recipe.encoder.codec.as_str();
    if hull.is_empty() || hull.metric() != metric {
        return Err(Error::data(
            "points",
            format!("the hull given is not the {metric} hull of the recipe's points"),
        ));
    }
    let usable: Vec<Point> = eligible(points, recipe)?
        .into_iter()
        .map(|i| points[i].clone())
        .collect();
    let hull_pts: Vec<&Point> = hull.points(points);
    let h: Vec<(f64, f64)> = hull.curve().to_vec();

    // Per-resolution curves (Pareto-filtered, by kbps), keyed by size.
    let mut sizes: Vec<(u32, u32)> = usable.iter().map(|p| (p.width, p.height)).collect();
    sizes.sort();
    sizes.dedup();
    let curves: Vec<Curve> = sizes
        .iter()
        .map(|&(w, ht)| {
            let own: Vec<Point> = usable
                .iter()
                .filter(|p| p.width == w && p.height == ht)
                .cloned()
                .collect();
            let idx = pareto(&own, metric);
            let pts = idx.into_iter().map(|i| own[i].clone()).collect();
            Curve {
                width: w,
                height: ht,
                pts,
            }
        })
        .collect();
    let curve_of = |w: u32, ht: u32| curves.iter().find(|c| c.width == w && c.height == ht);

    let mut warnings = Vec::new();
    let step = l.step();
    let cap = l.quality_cap();
    let (k_lo, k_hi) = (h[0].0, h[h.len() - 1].0);
    let eps = 1e-9;

    // Top rung.
    let mut k_top = match hull::kbps_at(&h, cap) {
        Some(k) => k,
        None if cap > h[h.len() - 1].1 => {
            warnings.push(format!(
                "quality cap {cap} {} is not reached (best {:.2} at {:.0} kbps); the top rung is the hull's best point",
                metric, h[h.len() - 1].1, k_hi
            ));
            k_hi
        }
        None => k_lo,
    };
    if let Some(mx) = l.max_kbps {
        if mx < k_lo {
            warnings.push(format!(
                "max_kbps {mx} is below the cheapest hull point ({k_lo:.0} kbps); one rung there, above max_kbps"
            ));
            k_top = k_lo;
        } else if mx < k_top {
            k_top = mx;
        }
    }
    // Bottom: the floor (`floor_kbps`, raised by `min_kbps` and `min_quality`), or the hull's
    // cheapest point when the hull does not reach that low.
    // The default floor applies only where the hull reaches it: a hull entirely below it (a
    // small or simple title) just ends at its cheapest point, with nothing to warn about.
    let floor = match l.min_kbps {
        None if l.floor() > k_top => k_lo,
        _ => l.floor(),
    };
    let mut k_bot = k_lo.max(floor);
    if let Some(mn) = l.min_kbps {
        if mn > k_hi {
            warnings.push(format!(
                "min_kbps {mn} is above the hull's highest bitrate ({k_hi:.0} kbps); the ladder cannot go that high"
            ));
        }
    }
    if let Some(q) = l.min_quality {
        match hull::kbps_at(&h, q) {
            Some(k) => k_bot = k_bot.max(k),
            None if q > h[h.len() - 1].1 => {
                warnings.push(format!(
                    "min_quality {q} is above the hull's best {:.2}; one rung at the top",
                    h[h.len() - 1].1
                ));
                k_bot = f64::INFINITY;
            }
            None => {}
        }
    }
    if k_bot > k_top + eps {
        if k_bot.is_finite() {
            warnings.push(format!(
                "the bottom ({k_bot:.0} kbps, from min_kbps/min_quality) is above the top ({k_top:.0} kbps); one rung at the top"
            ));
        }
        k_bot = k_top;
    }

    // Walk down from the top, one step in quality at a time, each bitrate ratio kept within
    // [min_ratio, max_ratio]; where the hull is too steep for that, the steps are larger than
    // requested (reported below), never skipped: the ladder always reaches its bottom.
    let mut ks = vec![k_top];
    let mut stopped_by_max_rungs = false;
    loop {
        let prev = *ks.last().expect("non-empty");
        if prev <= k_bot + eps {
            break;
        }
        if ks.len() >= l.max_rungs {
            stopped_by_max_rungs = true;
            break;
        }
        let q_prev = hull::quality_at(&h, prev).unwrap_or(h[0].1);
        // One step down in quality; below the hull's range the bottom is the candidate.
        let mut k = hull::kbps_at(&h, q_prev - step).unwrap_or(k_bot).min(prev);
        if k <= 0.0 || prev / k < l.min_ratio {
            k = prev / l.min_ratio;
        }
        if prev / k > l.max_ratio {
            k = prev / l.max_ratio;
        }
        if k <= k_bot + eps {
            // The last rung is the bottom itself. When that is a near-duplicate of the rung
            // above (closer than min_ratio, or less than half a step below it), the bottom
            // replaces that rung (unless it is the top), so the ladder still reaches it.
            let q_bot = hull::quality_at(&h, k_bot).unwrap_or(h[0].1);
            let apart = prev / k_bot >= l.min_ratio - 1e-12 && q_prev - q_bot >= 0.5 * step;
            if apart {
                ks.push(k_bot);
            } else if ks.len() > 1 {
                ks.pop();
                // If the rung above would then be too far and there is room for two ratios
                // within the limits, the dropped rung comes back half-way (in log rate).
                let above = *ks.last().expect("the top is kept");
                if above / k_bot > l.max_ratio && above / k_bot >= l.min_ratio * l.min_ratio {
                    ks.push((above * k_bot).sqrt());
                }
                ks.push(k_bot);
            }
            break;
        }
        ks.push(k);
    }
    if stopped_by_max_rungs {
        warnings.push(format!(
            "max_rungs {} reached at {:.0} kbps before the bottom ({k_bot:.0} kbps)",
            l.max_rungs,
            ks.last().copied().unwrap_or(k_bot)
        ));
    }
    ks.reverse();

    // Place each bitrate: resolution, CRF, predicted metrics.
    let mut placed: Vec<Placed> = Vec::with_capacity(ks.len());
    for &k in &ks {
        let j = h.partition_point(|p| p.0 < k).min(h.len() - 1);
        let (a, b) = if h[j].0 == k || j == 0 {
            (hull_pts[j], hull_pts[j])
        } else {
            (hull_pts[j - 1], hull_pts[j])
        };
        if a == b && a.kbps == k {
            placed.push(from_point(a));
            continue;
        }
        // Candidates: the upper end point's size first (wins ties), then the lower one's.
        let mut best: Option<(f64, Placed)> = None;
        for p in [b, a] {
            if let Some(c) = curve_of(p.width, p.height) {
                if let Some(pl) = on_curve(c, k) {
                    let q = metric_of_placed(&pl, metric);
                    if best.as_ref().is_none_or_lt(q) {
                        best = Some((q, pl));
                    }
                }
            }
        }
        let pl = match best {
            Some((_, pl)) => pl,
            None => along_segment(a, b, k, curve_of(b.width, b.height)),
        };
        placed.push(pl);
    }

    // Resolution never decreases as bitrate grows.
    for i in 1..placed.len() {
        let (pw, ph) = (placed[i - 1].width, placed[i - 1].height);
        if (placed[i].width as u64 * placed[i].height as u64) < pw as u64 * ph as u64 {
            let k = placed[i].kbps;
            warnings.push(format!(
                "rung at {k:.0} kbps moved from {}x{} up to {pw}x{ph} so resolution does not drop as bitrate grows",
                placed[i].width, placed[i].height
            ));
            let c = curve_of(pw, ph);
            placed[i] = match c.and_then(|c| on_curve(c, k)) {
                Some(pl) => pl,
                None => {
                    let mut pl = placed[i].clone();
                    pl.width = pw;
                    pl.height = ph;
                    if let Some(c) = c {
                        pl.crf = c.crf_at(k);
                    }
                    pl.grid_point = false;
                    pl
                }
            };
        }
    }

    // Required heights (player windows): each gets a rung, the one its own curve serves with
    // the least loss against the hull, keeping resolution non-decreasing; else one is added
    // at that size's grid point closest to the hull.
    let area = |p: &Placed| p.width as u64 * p.height as u64;
    for &req in &l.required_heights {
        if placed.iter().any(|p| p.width.min(p.height) == req) {
            continue;
        }
        let Some(c) = curves
            .iter()
            .filter(|c| c.width.min(c.height) == req)
            .max_by_key(|c| c.width as u64 * c.height as u64)
        else {
            warnings.push(format!(
                "required height {req}: no grid size is {req} high, so no rung can have it (add one to grid.sizes)"
            ));
            continue;
        };
        let c_area = c.width as u64 * c.height as u64;
        let mut best: Option<(f64, usize, Placed)> = None;
        for (i, p) in placed.iter().enumerate() {
            let fits = (i == 0 || area(&placed[i - 1]) <= c_area)
                && (i + 1 == placed.len() || area(&placed[i + 1]) >= c_area);
            if let (true, Some(pl)) = (fits, on_curve(c, p.kbps)) {
                let loss = metric_of_placed(p, metric) - metric_of_placed(&pl, metric);
                if best.as_ref().is_none_or(|b| loss < b.0) {
                    best = Some((loss, i, pl));
                }
            }
        }
        match best {
            Some((loss, i, pl)) => {
                warnings.push(format!(
                    "rung at {:.0} kbps moved from {}x{} to {}x{} for required height {req} ({loss:.2} {metric} below the hull there)",
                    pl.kbps, placed[i].width, placed[i].height, pl.width, pl.height
                ));
                placed[i] = pl;
            }
            None => {
                let gap =
                    |p: &Point| hull::quality_at(&h, p.kbps).unwrap_or(f64::NAN) - metric.of(p);
                let Some(p) = c
                    .pts
                    .iter()
                    .filter(|p| gap(p).is_finite())
                    .min_by(|a, b| gap(a).total_cmp(&gap(b)))
                else {
                    warnings.push(format!(
                        "required height {req}: the {}x{} points are outside the hull's range; no rung added",
                        c.width, c.height
                    ));
                    continue;
                };
                warnings.push(format!(
                    "rung added at {:.0} kbps ({}x{}) for required height {req} ({:.2} {metric} below the hull there)",
                    p.kbps,
                    p.width,
                    p.height,
                    gap(p)
                ));
                placed.push(from_point(p));
                placed.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
            }
        }
    }

    // Ratio report: where reaching the bottom or a required height left two rungs closer or
    // farther apart than the limits (1 % slack for whole-kbps rounding).
    for w in placed.windows(2) {
        let r = w[1].kbps / w[0].kbps;
        if r < l.min_ratio * 0.99 || r > l.max_ratio * 1.01 {
            warnings.push(format!(
                "rungs at {:.0} and {:.0} kbps are {r:.2}x apart, outside [{}, {}], to reach the bottom or a required height",
                w[0].kbps, w[1].kbps, l.min_ratio, l.max_ratio
            ));
        }
    }

    // Spacing report: steps the ratio limits pushed away from the requested step.
    for w in placed.windows(2) {
        let d = metric_of_placed(&w[1], metric) - metric_of_placed(&w[0], metric);
        if d < 0.5 * step || d > 1.5 * step {
            warnings.push(format!(
                "rungs at {:.0} and {:.0} kbps are {d:.2} {metric} apart (step {step}) because of the bitrate-ratio limits [{}, {}]",
                w[0].kbps, w[1].kbps, l.min_ratio, l.max_ratio
            ));
        }
    }

    let fps = source.map(|s| recipe.output_fps(s.fps_num, s.fps_den));
    let keyint = fps.map(|f| recipe.keyint_frames(f));
    let facts = codecs::profile(codec);
    if facts.two_pass == TwoPass::OnePass && l.rate_control == RungRateControl::TwoPassVbr {
        // Only libsvtav1 has no two-pass mode through ffmpeg.
        warnings.push(format!(
            "{codec} through the ffmpeg CLI: the commands use one-pass VBR (FFmpeg's SVT-AV1 wrapper has no -pass)"
        ));
    }
    let (crf_lo, crf_hi) = facts.crf_range;
    let rungs = placed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let kbps = p.kbps.round().max(1.0) as u32;
            let crf = p.crf.clamp(crf_lo, crf_hi);
            let crf = if facts.fractional_crf {
                (crf * 10.0).round() / 10.0
            } else {
                crf.round()
            };
            let mut r = Rung {
                codec: codec.to_string(),
                width: p.width,
                height: p.height,
                kbps,
                maxrate_kbps: (kbps as f64 * l.maxrate_factor).round() as u32,
                bufsize_kbits: (kbps as f64 * l.bufsize_factor).round() as u32,
                rate_control: l.rate_control,
                crf,
                preset: recipe.encoder.preset.clone(),
                profile: recipe.encoder.profile.clone(),
                tune: recipe.encoder.tune.clone(),
                level: recipe.encoder.level.clone(),
                pix_fmt: recipe.encoder.pix_fmt.clone(),
                keyint_frames: keyint,
                vmaf: round3(p.vmaf),
                psnr_y: round3(p.psnr_y),
                ssim: (p.ssim * 1e6).round() / 1e6,
                grid_point: p.grid_point,
                threads: l.threads,
                output: String::new(),
                ffmpeg: Vec::new(),
                params: recipe.encoder.params.clone(),
                verified: None,
            };
            r.attach_commands(i, recipe, source);
            r
        })
        .collect();

    Ok(Ladder {
        pertitle_version: crate::VERSION.to_string(),
        model: recipe.scoring.model.clone(),
        phone: recipe.scoring.phone,
        metric,
        step,
        fps_num: fps.map(|f| f.0),
        fps_den: fps.map(|f| f.1),
        scaler: recipe.scaling.down,
        warnings,
        source: source.cloned(),
        rungs,
        recipe: Some(recipe.clone()),
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

trait OptLe {
    fn is_none_or_le(&self, v: u32) -> bool;
}
impl OptLe for Option<u32> {
    fn is_none_or_le(&self, v: u32) -> bool {
        self.is_none_or(|m| m <= v)
    }
}
trait OptLt {
    fn is_none_or_lt(&self, q: f64) -> bool;
}
impl OptLt for Option<&(f64, Placed)> {
    fn is_none_or_lt(&self, q: f64) -> bool {
        self.is_none_or(|(b, _)| *b < q)
    }
}

fn metric_of_placed(p: &Placed, m: Metric) -> f64 {
    match m {
        Metric::Vmaf => p.vmaf,
        Metric::PsnrY => p.psnr_y,
        Metric::Ssim => p.ssim,
    }
}

fn from_point(p: &Point) -> Placed {
    Placed {
        kbps: p.kbps,
        width: p.width,
        height: p.height,
        crf: p.crf,
        vmaf: p.vmaf,
        psnr_y: p.psnr_y,
        ssim: p.ssim,
        grid_point: true,
    }
}

/// The rung at `kbps` on one resolution's own curve, if the curve covers that bitrate.
fn on_curve(c: &Curve, kbps: f64) -> Option<Placed> {
    let (a, b) = c.bracket(kbps)?;
    if a == b {
        return Some(from_point(a));
    }
    let t = (kbps - a.kbps) / (b.kbps - a.kbps);
    Some(Placed {
        kbps,
        width: c.width,
        height: c.height,
        crf: c.crf_at(kbps),
        vmaf: lerp(a.vmaf, b.vmaf, t),
        psnr_y: lerp(a.psnr_y, b.psnr_y, t),
        ssim: lerp(a.ssim, b.ssim, t),
        grid_point: false,
    })
}

/// Fallback when neither end point's own curve covers `kbps`: metrics along the hull segment,
/// the upper end point's size, CRF extrapolated on that size's curve.
fn along_segment(a: &Point, b: &Point, kbps: f64, upper: Option<&Curve>) -> Placed {
    let t = if b.kbps > a.kbps {
        (kbps - a.kbps) / (b.kbps - a.kbps)
    } else {
        0.0
    };
    Placed {
        kbps,
        width: b.width,
        height: b.height,
        crf: upper.map_or(b.crf, |c| c.crf_at(kbps)),
        vmaf: lerp(a.vmaf, b.vmaf, t),
        psnr_y: lerp(a.psnr_y, b.psnr_y, t),
        ssim: lerp(a.ssim, b.ssim, t),
        grid_point: false,
    }
}

/// Pareto front of `pts` under `metric` (indices by increasing kbps and quality).
fn pareto(pts: &[Point], metric: Metric) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..pts.len())
        .filter(|&i| pts[i].kbps.is_finite() && pts[i].kbps > 0.0 && metric.of(&pts[i]).is_finite())
        .collect();
    idx.sort_by(|&a, &b| {
        pts[a]
            .kbps
            .total_cmp(&pts[b].kbps)
            .then(metric.of(&pts[b]).total_cmp(&metric.of(&pts[a])))
            .then(pts[a].crf.total_cmp(&pts[b].crf))
    });
    let mut out: Vec<usize> = Vec::new();
    for i in idx {
        if out
            .last()
            .is_none_or(|&l| metric.of(&pts[i]) > metric.of(&pts[l]))
        {
            out.push(i);
        }
    }
    out
}

/// The ffmpeg argument lists (program name first) that produce `rung` from `input`: two passes
/// for 2-pass VBR (the first writing only the stats log `<stem>`), one for capped CRF. IDR
/// alignment: `-g` = `-keyint_min` = the keyframe interval and scene-cut keyframes off, so every
/// rung's segments start on the same frames.
pub fn ffmpeg_commands(
    rung: &Rung,
    keyint: u32,
    input: &str,
    scaler: ScalerKind,
    fps: Option<(u32, u32)>,
    stem: &str,
) -> Vec<Vec<String>> {
    let codec = rung.codec.as_str();
    let mut params = rung.params.clone();
    let two_pass = rung.rate_control == RungRateControl::TwoPassVbr;
    let mut base: Vec<String> = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", input]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut vf = String::new();
    if let Some((n, d)) = fps {
        vf.push_str(&format!("fps={n}/{d},"));
    }
    vf.push_str(&format!(
        "scale={}:{}:flags={}",
        rung.width,
        rung.height,
        scaler.name()
    ));
    let push = |v: &mut Vec<String>, a: &[&str]| v.extend(a.iter().map(|s| s.to_string()));
    push(
        &mut base,
        &[
            "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", &vf, "-c:v", codec,
        ],
    );
    for (flag, v) in [
        ("-preset", &rung.preset),
        ("-tune", &rung.tune),
        ("-profile:v", &rung.profile),
        ("-level", &rung.level),
        ("-pix_fmt", &rung.pix_fmt),
    ] {
        if let Some(v) = v {
            push(&mut base, &[flag, v]);
        }
    }
    for (name, value) in codecs::fixed_gop(codec, keyint, &mut params) {
        push(&mut base, &[&format!("-{name}"), &value]);
    }
    if rung.threads > 0 {
        push(&mut base, &["-threads", &rung.threads.to_string()]);
    }
    // libx265 takes only its frame threads from -threads; one thread in all is what makes it
    // repeat its bytes (as the in-process encoders are set, media::codec).
    if codec == "libx265" && rung.threads == 1 {
        append_param(&mut params, "x265-params", "pools=none");
    }
    let facts = codecs::profile(codec);
    let rate = |v: &mut Vec<String>| match rung.rate_control {
        RungRateControl::TwoPassVbr => push(
            v,
            &[
                "-b:v",
                &format!("{}k", rung.kbps),
                "-maxrate",
                &format!("{}k", rung.maxrate_kbps),
                "-bufsize",
                &format!("{}k", rung.bufsize_kbits),
            ],
        ),
        RungRateControl::CappedCrf => {
            push(v, &["-crf", &fmt_crf(rung.crf)]);
            if facts.crf_cap_is_bitrate {
                // Constrained quality: -b:v is the cap in CRF mode.
                push(v, &["-b:v", &format!("{}k", rung.maxrate_kbps)]);
            } else {
                push(
                    v,
                    &[
                        "-maxrate",
                        &format!("{}k", rung.maxrate_kbps),
                        "-bufsize",
                        &format!("{}k", rung.bufsize_kbits),
                    ],
                );
            }
        }
    };
    let with_params = |v: &mut Vec<String>, params: &BTreeMap<String, String>| {
        for (key, val) in params {
            push(v, &[&format!("-{key}"), val]);
        }
    };
    let out = rung.output.clone();
    if !two_pass || facts.two_pass == TwoPass::OnePass {
        let mut c = base.clone();
        rate(&mut c);
        with_params(&mut c, &params);
        c.push(out);
        return vec![c];
    }
    let mut passes = Vec::new();
    for pass in [1u8, 2] {
        let mut c = base.clone();
        rate(&mut c);
        let mut p = params.clone();
        match facts.two_pass {
            TwoPass::Params(option) => {
                append_param(&mut p, option, &format!("pass={pass}:stats={stem}.log"))
            }
            TwoPass::PassFlags | TwoPass::OnePass => {
                push(&mut c, &["-pass", &pass.to_string(), "-passlogfile", stem])
            }
        }
        with_params(&mut c, &p);
        if pass == 1 {
            push(&mut c, &["-f", "null", "/dev/null"]);
        } else {
            c.push(out.clone());
        }
        passes.push(c);
    }
    passes
}

fn fmt_crf(c: f64) -> String {
    if c.fract() == 0.0 {
        format!("{}", c as i64)
    } else {
        format!("{c:.1}")
    }
}

/// POSIX-shell quoting: bare when only safe characters, else single quotes (`'` → `'\''`).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Joins arguments into one shell command line.
pub fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shell_quote("scale=1:2:flags=bicubic"),
            "scale=1:2:flags=bicubic"
        );
        assert_eq!(shell_quote(""), "''");
    }
}
