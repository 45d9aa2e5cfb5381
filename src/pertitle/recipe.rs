//! Encoder recipes: what the grid encodes (codec, options, sizes, CRFs, fps), how it scores
//! (scalers, model, metrics, pooling) and which constraints the ladder honours.
//!
//! A recipe is TOML (examples in `recipes/`, embedded so each known encoder has a default).
//! Every table rejects unknown keys, and every value is checked once by [`Recipe::validate`], so
//! a typo or an out-of-range value is a one-line [`Error::Config`] naming the key (`grid.crf`)
//! and the value, never a silent default. Overrides ([`RecipeOverrides`]) are checked the same
//! way and named by the key they override, with [`Origin::Caller`]: the caller knows its own
//! names for them (the CLI's flags).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::{Error, Field, Origin, Result};
use crate::media::ScalerKind;
use crate::points::Metric;
use crate::quality::pooling::{PoolMethod, Pooled};

/// The embedded recipes, by libavcodec encoder name (the files in `recipes/`).
const EMBEDDED: &[(&str, &str)] = &[
    ("libx264", include_str!("../../recipes/x264.toml")),
    ("libx265", include_str!("../../recipes/x265.toml")),
    ("libvpx-vp9", include_str!("../../recipes/vp9.toml")),
    ("libsvtav1", include_str!("../../recipes/svtav1.toml")),
    ("libaom-av1", include_str!("../../recipes/aom.toml")),
];

/// The encoder whose recipe is used when the caller names none.
pub const DEFAULT_CODEC: &str = "libx264";

/// Standard 16:9 ladder heights (Apple HLS authoring spec / common OTT ladders), largest first.
/// For a portrait source they apply to the width (the shorter side).
pub const STANDARD_HEIGHTS: [u32; 9] = [2160, 1440, 1080, 720, 540, 432, 360, 270, 234];

/// An encode size, written `WIDTHxHEIGHT` in TOML and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    /// Parses `1280x720` (also `1280X720`); `key` names the recipe key for errors.
    pub fn parse(s: &str, key: &str) -> Result<Size> {
        s.parse::<Size>().map_err(|e| match e {
            Error::Config { value, reason, .. } => {
                Error::invalid(Field::recipe(key), Origin::Recipe, value, reason)
            }
            other => other,
        })
    }

    /// Parses a comma-separated list (`1280x720,960x540`).
    pub fn parse_list(s: &str, key: &str) -> Result<Vec<Size>> {
        s.split(',')
            .filter(|t| !t.trim().is_empty())
            .map(|t| Size::parse(t, key))
            .collect()
    }
}

/// `WIDTHxHEIGHT`; the error's field is the setting `size` (callers re-label it).
impl std::str::FromStr for Size {
    type Err = Error;

    fn from_str(s: &str) -> Result<Size> {
        let bad = || {
            Error::invalid(
                Field::Setting("size".into()),
                Origin::Caller,
                s,
                format!("size `{s}` is not WIDTHxHEIGHT, e.g. 1280x720"),
            )
        };
        let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let width = w.trim().parse::<u32>().map_err(|_| bad())?;
        let height = h.trim().parse::<u32>().map_err(|_| bad())?;
        Ok(Size { width, height })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Size, D::Error> {
        let s = String::deserialize(d)?;
        Size::parse(&s, "size").map_err(|_| {
            serde::de::Error::custom(format!("size `{s}` is not WIDTHxHEIGHT, e.g. 1280x720"))
        })
    }
}

/// How the ladder's rungs are meant to be encoded in production (`[ladder] rate_control`,
/// written into `ladder.toml` and its ffmpeg commands). Not the rate control of a test encode,
/// which is [`crate::media::RateControl`]: grid points are always CRF encodes, whichever way the
/// rungs will be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RungRateControl {
    /// Two-pass VBR at the target bitrate, peak capped by maxrate/bufsize (HLS: peak ≤ 200%).
    #[default]
    TwoPassVbr,
    /// One pass at the rung's CRF with a VBV cap (maxrate/bufsize).
    CappedCrf,
}

impl RungRateControl {
    pub fn parse(s: &str, key: &str) -> Result<RungRateControl> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "two_pass_vbr" | "2pass" | "vbr" => Ok(RungRateControl::TwoPassVbr),
            "capped_crf" | "crf" => Ok(RungRateControl::CappedCrf),
            _ => Err(Error::invalid(
                Field::recipe(key),
                Origin::Recipe,
                s,
                format!("unknown rate control `{s}` (two_pass_vbr, capped_crf)"),
            )),
        }
    }
}

/// `[encoder]`: the libavcodec encoder and its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSection {
    /// libavcodec encoder name: libx264, libx265, libvpx-vp9, libsvtav1, libaom-av1, ...
    pub codec: String,
    /// Encoder preset (`medium` for x264/x265, a number for SVT-AV1 / `cpu-used` style encoders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Output pixel format (default: the source's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    /// Free-form encoder private options, passed as `-KEY VALUE` (e.g. `x264-params`). Values
    /// may be written as strings, numbers or booleans; they are kept as the text ffmpeg gets.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_params"
    )]
    pub params: BTreeMap<String, String>,
}

/// Reads `params` values of any scalar TOML type as their text.
fn de_params<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    let m: BTreeMap<String, toml::Value> = BTreeMap::deserialize(d)?;
    m.into_iter()
        .map(|(k, v)| {
            let s = match Scalar::deserialize(v.clone()) {
                Ok(Scalar::S(s)) => s,
                Ok(Scalar::I(i)) => i.to_string(),
                Ok(Scalar::F(f)) => f.to_string(),
                Ok(Scalar::B(b)) => if b { "1" } else { "0" }.to_string(),
                Err(_) => {
                    return Err(serde::de::Error::custom(format!(
                        "params.{k}: {} is not a string, number or boolean",
                        v.type_str()
                    )))
                }
            };
            Ok((k, s))
        })
        .collect()
}

/// `[grid]`: which test encodes to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSection {
    /// Encode sizes; absent = [`default_sizes`] for the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizes: Option<Vec<Size>>,
    /// CRF values, each within the encoder's range.
    pub crf: Vec<f64>,
    /// Frame-rate cap: sources faster than this are encoded at `source / n`, the largest such
    /// rate ≤ the cap (frames dropped evenly). Absent = keep the source frame rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps_cap: Option<f64>,
}

/// `[scaling]`: scalers for downscaling the source and upscaling encodes back for scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScalingSection {
    #[serde(default)]
    pub down: ScalerKind,
    #[serde(default)]
    pub up: ScalerKind,
}

/// `[scoring]`: model and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringSection {
    /// Built-in model name (`vmaf_v0.6.1`, `vmaf_v0.6.1neg`, `vmaf_4k_v0.6.1`) or a JSON path.
    #[serde(default = "default_model")]
    pub model: String,
    /// Apply the model's phone `score_transform`.
    #[serde(default)]
    pub phone: bool,
    #[serde(default = "default_metrics")]
    pub metrics: Vec<Metric>,
    /// Which pooled statistic of each metric a run's points carry as `vmaf`/`psnr_y`/`ssim` (the
    /// values hull and ladder use): one that [`crate::quality::pooling::Pooled`] keeps
    /// (mean, harmonic_mean, min, max, median, p1, p5, p10). Every statistic stays in
    /// `Point::pooled` regardless.
    #[serde(default)]
    pub pooling: PoolMethod,
}

impl Default for ScoringSection {
    fn default() -> Self {
        ScoringSection {
            model: default_model(),
            phone: false,
            metrics: default_metrics(),
            pooling: PoolMethod::Mean,
        }
    }
}

fn default_model() -> String {
    "vmaf_v0.6.1".to_string()
}
fn default_metrics() -> Vec<Metric> {
    vec![Metric::Vmaf, Metric::PsnrY, Metric::Ssim]
}

/// `[ladder]`: the constraints rungs are placed under. Absent optional values mean "no limit"
/// or "the metric's default" (see the accessors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderSection {
    #[serde(default = "default_metric")]
    pub metric: Metric,
    /// Quality step between adjacent rungs; default [`default_step`] (one JND for VMAF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// The top rung is the lowest bitrate reaching this quality; default [`default_quality_cap`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_cap: Option<f64>,
    /// No rung below this quality: the bottom rung is where the hull reaches it (when that is
    /// above the floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_quality: Option<f64>,
    /// The floor, kbit/s: the ladder reaches down to it and not below (its bottom rung sits
    /// there, or at the hull's cheapest point if that is higher); default
    /// [`DEFAULT_FLOOR_KBPS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kbps: Option<f64>,
    /// No rung above this bitrate (the top rung is at most here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<f64>,
    /// Heights (the short side) that must each have a rung, e.g. `[360, 540]` for player
    /// windows of those sizes; each must be one of the grid's sizes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_heights: Vec<u32>,
    #[serde(default = "default_max_rungs")]
    pub max_rungs: usize,
    /// Bitrate ratio between adjacent rungs, higher / lower (HLS authoring guidance: 1.5–2).
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    #[serde(default = "default_max_ratio")]
    pub max_ratio: f64,
    /// No rung below this height (for portrait sources: the shorter side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_height: Option<u32>,
    #[serde(default)]
    pub rate_control: RungRateControl,
    /// maxrate = factor × target. VBV bounds the rate over a window T by maxrate + bufsize / T,
    /// so the default 2 / 2 lets a 2-s segment reach 3 × the target (measured: 1.2–3.0 × the
    /// average); 1.5 / 1 bounds it to 2 × (HLS's 200 %), at a measured cost of up to +59 % bits
    /// for the same quality on content whose complexity varies a lot. `--verify` warns each
    /// rung above 2 ×.
    #[serde(default = "default_maxrate_factor")]
    pub maxrate_factor: f64,
    /// bufsize = factor × target, in kbit.
    #[serde(default = "default_bufsize_factor")]
    pub bufsize_factor: f64,
    /// Seconds between IDR frames (HLS: 2 s), converted to frames at the encode frame rate.
    #[serde(default = "default_keyint")]
    pub keyint_seconds: f64,
    /// Encoder threads in the rungs' commands: 1 (default) is bit-identical on every run and to
    /// the verified encode; 0 lets FFmpeg choose (faster; bytes and scores vary run to run).
    #[serde(default = "default_threads")]
    pub threads: u32,
}

fn default_threads() -> u32 {
    1
}

impl Default for LadderSection {
    fn default() -> Self {
        LadderSection {
            metric: default_metric(),
            step: None,
            quality_cap: None,
            min_quality: None,
            min_kbps: None,
            required_heights: Vec::new(),
            max_kbps: None,
            max_rungs: default_max_rungs(),
            min_ratio: default_min_ratio(),
            max_ratio: default_max_ratio(),
            min_height: None,
            rate_control: RungRateControl::TwoPassVbr,
            maxrate_factor: default_maxrate_factor(),
            bufsize_factor: default_bufsize_factor(),
            keyint_seconds: default_keyint(),
            threads: default_threads(),
        }
    }
}

fn default_metric() -> Metric {
    Metric::Vmaf
}
fn default_max_rungs() -> usize {
    10
}
fn default_min_ratio() -> f64 {
    1.5
}
fn default_max_ratio() -> f64 {
    2.0
}
fn default_maxrate_factor() -> f64 {
    2.0
}
fn default_bufsize_factor() -> f64 {
    2.0
}
fn default_keyint() -> f64 {
    2.0
}

/// Default spacing between rungs for a metric (see [`crate::points::MetricInfo::default_step`]).
pub fn default_step(metric: Metric) -> f64 {
    metric.info().default_step
}

/// Default quality cap for a metric (see [`crate::points::MetricInfo::default_cap`]).
pub fn default_quality_cap(metric: Metric) -> f64 {
    metric.info().default_cap
}

/// The valid range of a metric's value (for checking caps and steps).
fn metric_range(metric: Metric) -> (f64, f64) {
    metric.info().range
}

impl LadderSection {
    pub fn step(&self) -> f64 {
        self.step.unwrap_or_else(|| default_step(self.metric))
    }
    pub fn quality_cap(&self) -> f64 {
        self.quality_cap
            .unwrap_or_else(|| default_quality_cap(self.metric))
    }
    /// The bitrate the ladder reaches down to: `min_kbps`, else [`DEFAULT_FLOOR_KBPS`].
    pub fn floor(&self) -> f64 {
        self.min_kbps.unwrap_or(DEFAULT_FLOOR_KBPS)
    }
}

/// The default floor of a ladder, kbit/s: Apple's HLS authoring guidance puts the bottom of a
/// ladder near 145–235 kbps, so a viewer on a slow link still gets a stream.
pub const DEFAULT_FLOOR_KBPS: f64 = 200.0;

/// A whole recipe. Tables other than `[encoder]` and `[grid]` may be omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub encoder: EncoderSection,
    pub grid: GridSection,
    #[serde(default)]
    pub scaling: ScalingSection,
    #[serde(default)]
    pub scoring: ScoringSection,
    #[serde(default)]
    pub ladder: LadderSection,
    #[serde(default)]
    pub chunking: ChunkingSection,
}

/// `[chunking]`: the title as chunks (shots merged or split within `min_seconds`..`max_seconds`),
/// each encoded as its own stream and scored as a task of its own; and the sampled answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkingSection {
    /// `false`: every point encodes the whole title as one stream.
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_chunk_min")]
    pub min_seconds: f64,
    #[serde(default = "default_chunk_max")]
    pub max_seconds: f64,
    /// Build the hull from a sample of chunks that represents the title (`--sample`).
    #[serde(default)]
    pub sample: bool,
    /// The sample's target share of the title's frames.
    #[serde(default = "default_sample_fraction")]
    pub sample_fraction: f64,
}

impl Default for ChunkingSection {
    fn default() -> Self {
        ChunkingSection {
            enabled: true,
            min_seconds: default_chunk_min(),
            max_seconds: default_chunk_max(),
            sample: false,
            sample_fraction: default_sample_fraction(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_chunk_min() -> f64 {
    2.0
}
fn default_chunk_max() -> f64 {
    10.0
}
fn default_sample_fraction() -> f64 {
    0.15
}

/// Overrides of recipe values (the CLI's flags); `None` keeps the recipe's. Errors about them
/// name the recipe key they override, with [`Origin::Caller`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecipeOverrides {
    pub codec: Option<String>,
    pub preset: Option<String>,
    pub sizes: Option<Vec<Size>>,
    pub crf: Option<Vec<f64>>,
    pub fps_cap: Option<f64>,
    pub scaler_down: Option<ScalerKind>,
    pub scaler_up: Option<ScalerKind>,
    pub model: Option<String>,
    pub phone: Option<bool>,
    pub metric: Option<Metric>,
    pub step: Option<f64>,
    pub quality_cap: Option<f64>,
    pub min_quality: Option<f64>,
    pub min_kbps: Option<f64>,
    pub max_kbps: Option<f64>,
    pub max_rungs: Option<usize>,
    pub min_ratio: Option<f64>,
    pub max_ratio: Option<f64>,
    pub min_height: Option<u32>,
    pub required_heights: Option<Vec<u32>>,
    pub rate_control: Option<RungRateControl>,
    pub chunking: Option<bool>,
    pub sample: Option<bool>,
}

impl RecipeOverrides {
    /// Whether this overrides the recipe key `key` (`grid.crf`).
    pub fn overrides(&self, key: &str) -> bool {
        match key {
            "encoder.codec" => self.codec.is_some(),
            "encoder.preset" => self.preset.is_some(),
            "grid.sizes" => self.sizes.is_some(),
            "grid.crf" => self.crf.is_some(),
            "grid.fps_cap" => self.fps_cap.is_some(),
            "scaling.down" => self.scaler_down.is_some(),
            "scaling.up" => self.scaler_up.is_some(),
            "scoring.model" => self.model.is_some(),
            "scoring.phone" => self.phone.is_some(),
            "ladder.metric" => self.metric.is_some(),
            "ladder.step" => self.step.is_some(),
            "ladder.quality_cap" => self.quality_cap.is_some(),
            "ladder.min_quality" => self.min_quality.is_some(),
            "ladder.min_kbps" => self.min_kbps.is_some(),
            "ladder.max_kbps" => self.max_kbps.is_some(),
            "ladder.max_rungs" => self.max_rungs.is_some(),
            "ladder.min_ratio" => self.min_ratio.is_some(),
            "ladder.max_ratio" => self.max_ratio.is_some(),
            "ladder.min_height" => self.min_height.is_some(),
            "ladder.required_heights" => self.required_heights.is_some(),
            "ladder.rate_control" => self.rate_control.is_some(),
            "chunking.enabled" => self.chunking.is_some(),
            "chunking.sample" => self.sample.is_some(),
            _ => false,
        }
    }
}

/// Parses `20,24,28`; `key` names the recipe key for errors.
pub fn parse_crf_list(s: &str, key: &str) -> Result<Vec<f64>> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            let t = t.trim();
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Error::invalid(
                        Field::recipe(key),
                        Origin::Recipe,
                        t,
                        format!("CRF `{t}` is not a number"),
                    )
                })
        })
        .collect()
}

impl Recipe {
    /// The embedded default recipe of a libavcodec encoder (`recipes/<name>.toml`). An encoder
    /// without one is an `encoder.codec` error of [`Origin::Caller`].
    pub fn default_for(codec: &str) -> Result<Recipe> {
        let text = EMBEDDED
            .iter()
            .find(|(c, _)| *c == codec)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let known: Vec<&str> = EMBEDDED.iter().map(|(c, _)| *c).collect();
                Error::invalid(
                    Field::recipe("encoder.codec"),
                    Origin::Caller,
                    codec,
                    format!(
                        "no built-in recipe for encoder `{codec}` (built-in: {}); give a recipe file",
                        known.join(", ")
                    ),
                )
            })?;
        Recipe::from_toml_str(text, &format!("built-in recipe for {codec}"))
    }

    /// The codecs that have an embedded recipe.
    pub fn builtin_codecs() -> Vec<&'static str> {
        EMBEDDED.iter().map(|(c, _)| *c).collect()
    }

    /// Parses and validates recipe TOML; `origin` (a path or description) goes into errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Recipe> {
        let recipe: Recipe = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        recipe.validate().map_err(|e| match e {
            Error::Config {
                field,
                origin: o,
                value,
                reason,
            } => Error::Config {
                field,
                origin: o,
                value,
                reason: format!("{reason} (in {origin})"),
            },
            other => other,
        })?;
        Ok(recipe)
    }

    /// Reads, parses and validates a recipe file.
    pub fn from_file(path: &Path) -> Result<Recipe> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Recipe::from_toml_str(&text, &path.display().to_string())
    }

    /// Serializes to TOML; `from_toml_str(to_toml())` gives the same recipe back.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::config("recipe", format!("cannot serialize: {e}")))
    }

    /// Checks every value; errors name the recipe key and the value.
    pub fn validate(&self) -> Result<()> {
        let e = &self.encoder;
        if e.codec.trim().is_empty() {
            return Err(Error::config("encoder.codec", "must not be empty"));
        }
        for (k, v) in [
            ("encoder.preset", &e.preset),
            ("encoder.profile", &e.profile),
            ("encoder.tune", &e.tune),
            ("encoder.level", &e.level),
            ("encoder.pix_fmt", &e.pix_fmt),
        ] {
            if let Some(v) = v {
                check_token(k, v)?;
            }
        }
        for (k, v) in &e.params {
            let key = format!("encoder.params.{k}");
            if k.trim().is_empty() || k.starts_with('-') || k.contains(char::is_whitespace) {
                return Err(Error::config(
                    key,
                    "option names are bare words like x264-params",
                ));
            }
            if v.contains(['\n', '\r', '\0']) {
                return Err(bad(
                    &key,
                    v,
                    format!("value `{}` contains a line break", v.escape_debug()),
                ));
            }
        }
        validate_crfs(&self.grid.crf, &e.codec, "grid.crf")?;
        let c = &self.chunking;
        check_positive("chunking.min_seconds", c.min_seconds)?;
        check_positive("chunking.max_seconds", c.max_seconds)?;
        if c.max_seconds < c.min_seconds {
            return Err(bad(
                "chunking.max_seconds",
                c.max_seconds,
                format!(
                    "{} is below chunking.min_seconds ({})",
                    c.max_seconds, c.min_seconds
                ),
            ));
        }
        if !(c.sample_fraction > 0.0 && c.sample_fraction <= 1.0) {
            return Err(bad(
                "chunking.sample_fraction",
                c.sample_fraction,
                format!("{} is not in (0, 1]", c.sample_fraction),
            ));
        }
        if let Some(sizes) = &self.grid.sizes {
            validate_sizes(sizes, "grid.sizes")?;
        }
        if let Some(c) = self.grid.fps_cap {
            check_positive("grid.fps_cap", c)?;
        }
        if self.scoring.model.trim().is_empty() {
            return Err(Error::config("scoring.model", "must not be empty"));
        }
        if self.scoring.metrics.is_empty() {
            return Err(Error::config("scoring.metrics", "the list is empty"));
        }
        let pool = self.scoring.pooling;
        if Pooled::default().get(pool).is_none() {
            let kept: Vec<String> = Pooled::methods().map(|m| m.name()).collect();
            return Err(bad(
                "scoring.pooling",
                pool.name(),
                format!(
                    "{} is not a kept statistic ({})",
                    pool.name(),
                    kept.join(", ")
                ),
            ));
        }
        let l = &self.ladder;
        if !self.scoring.metrics.contains(&l.metric) {
            return Err(bad(
                "ladder.metric",
                l.metric,
                format!("`{}` is not among scoring.metrics", l.metric),
            ));
        }
        let (lo, hi) = metric_range(l.metric);
        let step = l.step();
        if !(step.is_finite() && step > 0.0 && step < hi - lo) {
            return Err(bad(
                "ladder.step",
                step,
                format!("{step} must be > 0 and < {}", hi - lo),
            ));
        }
        let cap = l.quality_cap();
        if !(cap.is_finite() && cap > lo && cap <= hi) {
            return Err(bad(
                "ladder.quality_cap",
                cap,
                format!("{cap} is outside {}'s range ({lo}, {hi}]", l.metric),
            ));
        }
        if let Some(q) = l.min_quality {
            if !(q.is_finite() && (lo..hi).contains(&q)) {
                return Err(bad(
                    "ladder.min_quality",
                    q,
                    format!("{q} is outside {}'s range [{lo}, {hi})", l.metric),
                ));
            }
            if q >= cap {
                return Err(bad(
                    "ladder.min_quality",
                    q,
                    format!("{q} is not below the quality cap {cap}"),
                ));
            }
        }
        if let Some(v) = l.min_kbps {
            check_positive("ladder.min_kbps", v)?;
        }
        if let Some(v) = l.max_kbps {
            check_positive("ladder.max_kbps", v)?;
        }
        if let (Some(a), Some(b)) = (l.min_kbps, l.max_kbps) {
            if a > b {
                return Err(bad(
                    "ladder.min_kbps",
                    a,
                    format!("{a} is above ladder.max_kbps {b}"),
                ));
            }
        }
        if l.max_rungs == 0 {
            return Err(bad(
                "ladder.max_rungs",
                0,
                "0: a ladder needs at least one rung".into(),
            ));
        }
        if !(l.min_ratio.is_finite() && l.min_ratio > 1.0) {
            return Err(bad(
                "ladder.min_ratio",
                l.min_ratio,
                format!("{} must be > 1", l.min_ratio),
            ));
        }
        if !(l.max_ratio.is_finite() && l.max_ratio >= l.min_ratio) {
            return Err(bad(
                "ladder.max_ratio",
                l.max_ratio,
                format!("{} must be ≥ ladder.min_ratio {}", l.max_ratio, l.min_ratio),
            ));
        }
        if l.min_height == Some(0) {
            return Err(bad("ladder.min_height", 0, "0 is not a height".into()));
        }
        if l.required_heights.contains(&0) {
            return Err(bad(
                "ladder.required_heights",
                0,
                "0 is not a height".into(),
            ));
        }
        if let Some(m) = l.min_height {
            if let Some(&h) = l.required_heights.iter().find(|&&h| h < m) {
                return Err(bad(
                    "ladder.required_heights",
                    h,
                    format!("{h} is below ladder.min_height {m}"),
                ));
            }
        }
        check_positive("ladder.maxrate_factor", l.maxrate_factor)?;
        if l.maxrate_factor < 1.0 {
            return Err(bad(
                "ladder.maxrate_factor",
                l.maxrate_factor,
                format!("{} is below 1 (maxrate under the target)", l.maxrate_factor),
            ));
        }
        check_positive("ladder.bufsize_factor", l.bufsize_factor)?;
        check_positive("ladder.keyint_seconds", l.keyint_seconds)?;
        Ok(())
    }

    /// Applies overrides and re-validates the whole recipe (a new codec re-checks the recipe's
    /// CRFs against its range). Meant for a validated recipe, so whatever is wrong afterwards is
    /// due to the overrides: errors are [`Origin::Caller`], named by the recipe key that fails
    /// (which may be one the overrides conflict with, e.g. `ladder.max_ratio` under a new
    /// `min_ratio`).
    pub fn apply(&mut self, o: &RecipeOverrides) -> Result<()> {
        self.apply_unchecked(o).map_err(|e| match e {
            Error::Config {
                field,
                value,
                reason,
                ..
            } => Error::Config {
                field,
                origin: Origin::Caller,
                value,
                reason,
            },
            other => other,
        })
    }

    fn apply_unchecked(&mut self, o: &RecipeOverrides) -> Result<()> {
        if let Some(c) = &o.codec {
            self.encoder.codec = c.trim().to_string();
            if o.crf.is_none() {
                // Named by the codec: the recipe's CRFs were fine for the recipe's encoder.
                validate_crfs(&self.grid.crf, &self.encoder.codec, "encoder.codec")?;
            }
        }
        if let Some(p) = &o.preset {
            self.encoder.preset = Some(p.clone());
        }
        if let Some(s) = &o.sizes {
            self.grid.sizes = Some(s.clone());
        }
        if let Some(c) = &o.crf {
            self.grid.crf = c.clone();
        }
        if let Some(v) = o.fps_cap {
            self.grid.fps_cap = Some(v);
        }
        if let Some(s) = o.scaler_down {
            self.scaling.down = s;
        }
        if let Some(s) = o.scaler_up {
            self.scaling.up = s;
        }
        if let Some(m) = &o.model {
            self.scoring.model = m.clone();
        }
        if let Some(p) = o.phone {
            self.scoring.phone = p;
        }
        let l = &mut self.ladder;
        if let Some(m) = o.metric {
            if m != l.metric {
                // The recipe's step/cap were for the old metric; fall back to the new one's
                // defaults unless overridden too.
                l.step = None;
                l.quality_cap = None;
                l.min_quality = None;
            }
            l.metric = m;
            if !self.scoring.metrics.contains(&m) {
                self.scoring.metrics.push(m);
            }
        }
        let l = &mut self.ladder;
        set_opt(&mut l.step, o.step);
        set_opt(&mut l.quality_cap, o.quality_cap);
        set_opt(&mut l.min_quality, o.min_quality);
        set_opt(&mut l.min_kbps, o.min_kbps);
        set_opt(&mut l.max_kbps, o.max_kbps);
        set_opt(&mut l.min_height, o.min_height);
        if let Some(v) = &o.required_heights {
            l.required_heights = v.clone();
        }
        if let Some(v) = o.max_rungs {
            l.max_rungs = v;
        }
        if let Some(v) = o.min_ratio {
            l.min_ratio = v;
        }
        if let Some(v) = o.max_ratio {
            l.max_ratio = v;
        }
        if let Some(v) = o.rate_control {
            l.rate_control = v;
        }
        if let Some(v) = o.chunking {
            self.chunking.enabled = v;
        }
        if let Some(v) = o.sample {
            self.chunking.sample = v;
        }
        self.validate()
    }

    /// The encode sizes for a source: the recipe's (checked against the source: none above
    /// it, even) or [`default_sizes`]. Errors name `grid.sizes`.
    pub fn resolve(&self, source_width: u32, source_height: u32) -> Result<Vec<Size>> {
        if source_width == 0 || source_height == 0 {
            return Err(Error::invalid(
                Field::Setting("source size".into()),
                Origin::Caller,
                format!("{source_width}x{source_height}"),
                format!("size {source_width}x{source_height} has a zero dimension"),
            ));
        }
        match &self.grid.sizes {
            None => Ok(default_sizes(source_width, source_height)),
            Some(sizes) => {
                validate_sizes(sizes, "grid.sizes")?;
                for s in sizes {
                    if s.width > source_width || s.height > source_height {
                        return Err(Error::config(
                            "grid.sizes",
                            format!("{s} is above the source size {source_width}x{source_height}"),
                        ));
                    }
                }
                let mut out = sizes.clone();
                out.sort_by(|a, b| b.cmp(a));
                out.dedup();
                Ok(out)
            }
        }
    }

    /// The encode frame rate for a source rate `num/den` under `grid.fps_cap`: the source rate
    /// divided by the smallest integer n that brings it to the cap or below.
    pub fn output_fps(&self, num: u32, den: u32) -> (u32, u32) {
        let (num, den) = (num.max(1), den.max(1));
        match self.grid.fps_cap {
            Some(cap) if cap > 0.0 && (num as f64 / den as f64) > cap + 1e-9 => {
                let n = ((num as f64 / den as f64) / cap - 1e-9).ceil().max(1.0) as u32;
                (num, den.saturating_mul(n))
            }
            _ => (num, den),
        }
    }

    /// The keyframe interval in frames at the encode rate `fps` (`ladder.keyint_seconds`).
    pub fn keyint_frames(&self, fps: (u32, u32)) -> u32 {
        let (n, d) = fps;
        ((self.ladder.keyint_seconds * n as f64 / d.max(1) as f64).round() as u32).max(1)
    }
}

fn set_opt<T: Copy>(dst: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *dst = v;
    }
}

/// A recipe key whose value `value` is wrong (recipe text until [`Recipe::apply`] says otherwise).
fn bad(key: &str, value: impl fmt::Display, reason: String) -> Error {
    Error::invalid(
        Field::recipe(key),
        Origin::Recipe,
        value.to_string(),
        reason,
    )
}

fn check_positive(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(key, v, format!("{v} must be a positive number")))
    }
}

/// Option values go on an ffmpeg command line as one argument: no empties, no whitespace.
fn check_token(key: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.contains(char::is_whitespace) || v.starts_with('-') {
        return Err(bad(
            key,
            v,
            format!("`{}` is not a single option value", v.escape_debug()),
        ));
    }
    Ok(())
}

fn validate_crfs(crfs: &[f64], codec: &str, key: &str) -> Result<()> {
    if crfs.is_empty() {
        return Err(Error::config(key, "the list is empty"));
    }
    let codec_facts = crate::codecs::profile(codec);
    let (lo, hi) = codec_facts.crf_range;
    for &c in crfs {
        if !c.is_finite() || c < lo || c > hi {
            return Err(bad(
                key,
                c,
                format!("CRF {c} is outside {codec}'s range {lo}–{hi}"),
            ));
        }
        if !codec_facts.fractional_crf && c.fract() != 0.0 {
            return Err(bad(
                key,
                c,
                format!("CRF {c} must be an integer for {codec}"),
            ));
        }
    }
    let mut seen: Vec<f64> = crfs.to_vec();
    seen.sort_by(f64::total_cmp);
    if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(key, w[0], format!("CRF {} is listed twice", w[0])));
    }
    Ok(())
}

fn validate_sizes(sizes: &[Size], key: &str) -> Result<()> {
    if sizes.is_empty() {
        return Err(Error::config(key, "the list is empty"));
    }
    for s in sizes {
        if s.width == 0 || s.height == 0 {
            return Err(bad(key, s, format!("size {s} has a zero dimension")));
        }
        if s.width % 2 != 0 || s.height % 2 != 0 {
            return Err(bad(
                key,
                s,
                format!("size {s} is odd; 4:2:0 encodes need even sizes"),
            ));
        }
    }
    Ok(())
}

/// Default grid sizes for a source: the source's own size (rounded down to even) and every
/// standard height below it ([`STANDARD_HEIGHTS`]), widths from the source's aspect ratio
/// rounded to even. For portrait sources the list applies to the width. Largest first.
pub fn default_sizes(source_width: u32, source_height: u32) -> Vec<Size> {
    let even = |v: u32| (v & !1).max(2);
    let portrait = source_height > source_width;
    let (long, short) = if portrait {
        (source_height, source_width)
    } else {
        (source_width, source_height)
    };
    let mut out = vec![(even(long), even(short))];
    for &s in STANDARD_HEIGHTS.iter() {
        if s >= even(short) {
            continue;
        }
        let l = (s as f64 * long as f64 / short as f64 / 2.0).round() as u32 * 2;
        out.push((l.min(even(long)).max(2), s));
    }
    out.into_iter()
        .map(|(l, s)| {
            if portrait {
                Size::new(s, l)
            } else {
                Size::new(l, s)
            }
        })
        .collect()
}

/// Turns a TOML syntax/type error into one line naming the key (found from the error's span
/// in the text: the `[table]` header above it and the `key =` on its line).
fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let message = e.message().replace('\n', " ");
    let message = message.trim().to_string();
    let Some(span) = e.span() else {
        return Error::config(
            "recipe",
            format!("not a valid recipe: {message} (in {origin})"),
        );
    };
    let start = span.start.min(text.len());
    if !text.is_char_boundary(start) {
        return Error::config(
            "recipe",
            format!("not a valid recipe: {message} (in {origin})"),
        );
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..start].matches('\n').count() + 1;
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let mut table = String::new();
    for l in text[..line_start].lines() {
        let t = l.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
    }
    let t = line.trim();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next());
    let key = if let Some(field) = missing {
        // Reported on the table lacking the field (the document itself: an empty span at 0).
        if span.is_empty() && span.start == 0 {
            field.to_string()
        } else {
            let t = t.trim_matches(|c| c == '[' || c == ']').trim();
            format!("{t}.{field}")
        }
    } else if t.starts_with('[') {
        t.trim_matches(|c| c == '[' || c == ']').trim().to_string()
    } else if let Some((k, _)) = key_line(&text[..line_end]).and_then(|l| l.split_once('=')) {
        let k = k.trim().trim_matches('"');
        if table.is_empty() {
            k.to_string()
        } else {
            format!("{table}.{k}")
        }
    } else {
        table.clone()
    };
    let key = if key.is_empty() {
        "recipe".to_string()
    } else {
        key
    };
    Error::config(key, format!("{message} (in {origin}, line {line_no})"))
}

/// The `key = ...` line a position belongs to: its own line, or for a value continued over
/// several lines (a multi-line array) the nearest line above with `=`, not crossing a header.
fn key_line(upto: &str) -> Option<&str> {
    for l in upto.lines().rev() {
        let t = l.trim();
        if t.starts_with('[') && !t.contains('=') {
            return None;
        }
        if !t.starts_with('#') && t.contains('=') {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sizes_720p() {
        let s = default_sizes(1280, 720);
        let want = [
            (1280, 720),
            (960, 540),
            (768, 432),
            (640, 360),
            (480, 270),
            (416, 234),
        ];
        assert_eq!(
            s,
            want.iter()
                .map(|&(w, h)| Size::new(w, h))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn default_sizes_odd_and_portrait() {
        let s = default_sizes(721, 405);
        assert_eq!(s[0], Size::new(720, 404));
        assert!(s.iter().all(|z| z.width % 2 == 0 && z.height % 2 == 0));
        assert!(s.iter().all(|z| z.width <= 721 && z.height <= 405));
        let p = default_sizes(1080, 1920);
        assert_eq!(p[0], Size::new(1080, 1920));
        assert_eq!(p[1], Size::new(720, 1280));
    }

    #[test]
    fn fps_cap() {
        let mut r = Recipe::default_for("libx264").unwrap();
        r.grid.fps_cap = Some(30.0);
        assert_eq!(r.output_fps(60, 1), (60, 2));
        assert_eq!(r.output_fps(30000, 1001), (30000, 1001));
        assert_eq!(r.output_fps(50, 1), (50, 2));
        r.grid.fps_cap = None;
        assert_eq!(r.output_fps(60, 1), (60, 1));
    }
}
