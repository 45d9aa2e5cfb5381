//! The grid point record: one encode of the title at one resolution and CRF, with its bitrate and
//! pooled quality. Hull, ladder, store, reports and BD-rate all speak in these.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::quality::pooling::Pooled;

/// A finished grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// libavcodec encoder name, e.g. `libx264`.
    pub codec: String,
    /// Encoded (downscaled) size; scores are computed after upscaling back to the source size.
    pub width: u32,
    pub height: u32,
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
    /// Every pooled statistic of every metric computed, keyed by metric name (`vmaf`, `psnr_y`,
    /// `psnr_cb`, `psnr_cr`, `ssim`, ...).
    #[serde(default)]
    pub pooled: BTreeMap<String, Pooled>,
    /// Whether the point lies on the rate-quality convex hull of its set (filled by `hull`).
    #[serde(default)]
    pub on_hull: bool,
    /// Content address of the task that produced it (see `store`); empty for imported points.
    #[serde(default)]
    pub key: String,
}

impl Point {
    /// This point with its headline metrics (`vmaf`, `psnr_y`, `ssim`) pooled by `pool` from
    /// [`Point::pooled`] (unchanged where a metric has no pooled statistics).
    pub fn pooled_by(&self, pool: crate::recipe::Pooling) -> Point {
        let mut p = self.clone();
        for m in [Metric::Vmaf, Metric::PsnrY, Metric::Ssim] {
            if let Some(v) = self.pooled.get(m.name()) {
                *m.field_mut(&mut p) = pool.of(v);
            }
        }
        p
    }
}

/// The quality metric a hull or ladder is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Vmaf,
    PsnrY,
    Ssim,
}

impl Metric {
    /// The column / JSON name of the metric.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Vmaf => "vmaf",
            Metric::PsnrY => "psnr_y",
            Metric::Ssim => "ssim",
        }
    }

    /// Accepts `vmaf`, `psnr`/`psnr_y`, `ssim`.
    pub fn parse(s: &str) -> Option<Metric> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vmaf" => Some(Metric::Vmaf),
            "psnr" | "psnr_y" | "psnr-y" => Some(Metric::PsnrY),
            "ssim" => Some(Metric::Ssim),
            _ => None,
        }
    }

    /// The pooled-mean value of this metric for a point.
    pub fn of(self, p: &Point) -> f64 {
        match self {
            Metric::Vmaf => p.vmaf,
            Metric::PsnrY => p.psnr_y,
            Metric::Ssim => p.ssim,
        }
    }

    fn field_mut(self, p: &mut Point) -> &mut f64 {
        match self {
            Metric::Vmaf => &mut p.vmaf,
            Metric::PsnrY => &mut p.psnr_y,
            Metric::Ssim => &mut p.ssim,
        }
    }

    /// Unit label for plots and tables.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Vmaf => "VMAF",
            Metric::PsnrY => "dB",
            Metric::Ssim => "SSIM",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
