//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "pertitle",
    version,
    about = "Per-title encoding ladders: test encodes, built-in VMAF/PSNR/SSIM, convex hull, JND-spaced rungs",
    propagate_version = true
)]
pub struct Cli {
    /// No progress bars or tables, only errors (and --json output).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail (timings, peak memory, cache use).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing would only add noise
pub enum Command {
    /// Print a video's stream facts (size, frame rate, frame count, duration, pixel format, codec).
    Probe(ProbeArgs),
    /// Score a distorted video against a reference with VMAF, PSNR and SSIM.
    Score(ScoreArgs),
    /// Build the per-title ladder: grid encodes, scores, convex hull, rungs, ladder.toml, plots.
    Ladder(LadderArgs),
    /// Recompute hull and ladder from a stored points.json, without encoding.
    Hull(HullArgs),
    /// BD-rate of B against A (points.json or CSV files).
    Bdrate(BdrateArgs),
    /// Run several codecs' grids on one title and compare their hulls with BD-rate.
    Compare(CompareArgs),
}

/// How to read raw `.yuv` input (ignored for self-describing formats).
#[derive(Debug, Args, Clone, Default)]
pub struct RawArgs {
    /// Raw input size, WxH.
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// Raw input pixel format (FFmpeg name, e.g. yuv420p, yuv420p10le).
    #[arg(long, value_name = "FMT")]
    pub pix_fmt: Option<String>,
    /// Raw input frame rate, e.g. 24, 30000/1001.
    #[arg(long, value_name = "RATE")]
    pub fps: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    pub input: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub raw: RawArgs,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    pub reference: PathBuf,
    pub distorted: PathBuf,
    /// Metrics to compute: vmaf, psnr, ssim.
    #[arg(long, value_delimiter = ',', default_value = "vmaf,psnr,ssim")]
    pub metrics: Vec<String>,
    /// Built-in model name (vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1) or a libvmaf JSON model path.
    #[arg(long, default_value = "vmaf_v0.6.1")]
    pub model: String,
    /// Apply the model's score_transform (the phone model).
    #[arg(long)]
    pub phone: bool,
    /// Pooling methods to print: mean, harmonic_mean, min, max, median, pN (e.g. p5).
    #[arg(long, value_delimiter = ',', default_value = "mean,harmonic_mean,min")]
    pub pool: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Score every Nth frame only.
    #[arg(long, default_value_t = 1)]
    pub subsample: usize,
    /// Score only the first N frames (also allows inputs of different lengths).
    #[arg(long)]
    pub frames: Option<u64>,
    /// Scaler used when DIST's size differs from REF's: bicubic, bilinear, lanczos.
    #[arg(long, default_value = "bicubic")]
    pub scaler: String,
    /// Write libvmaf's JSON log layout to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write per-frame scores as CSV to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Accept inputs with decode errors (the affected frames are reported).
    #[arg(long)]
    pub allow_decode_errors: bool,
    #[command(flatten)]
    pub raw: RawArgs,
}

/// Ladder constraints shared by `ladder`, `hull` and `compare`; unset values come from the recipe.
#[derive(Debug, Args, Clone, Default)]
pub struct ConstraintArgs {
    /// Metric the hull and ladder are built on: vmaf, psnr, ssim.
    #[arg(long)]
    pub metric: Option<String>,
    /// Quality step between rungs (default: 6 VMAF, one JND).
    #[arg(long)]
    pub step: Option<f64>,
    /// Top rung: the lowest bitrate reaching this quality.
    #[arg(long)]
    pub quality_cap: Option<f64>,
    /// Bottom rung: the lowest quality allowed.
    #[arg(long)]
    pub min_quality: Option<f64>,
    #[arg(long)]
    pub min_kbps: Option<f64>,
    #[arg(long)]
    pub max_kbps: Option<f64>,
    #[arg(long)]
    pub max_rungs: Option<usize>,
    /// Minimum bitrate ratio between adjacent rungs.
    #[arg(long)]
    pub min_ratio: Option<f64>,
    /// Maximum bitrate ratio between adjacent rungs.
    #[arg(long)]
    pub max_ratio: Option<f64>,
    /// Lowest rung height in pixels.
    #[arg(long)]
    pub min_height: Option<u32>,
    /// Rate control written into ladder.toml: two-pass-vbr or capped-crf.
    #[arg(long)]
    pub rate_control: Option<String>,
}

#[derive(Debug, Args)]
pub struct GridArgs {
    /// Recipe TOML (default: the codec's built-in recipe, x264 unless --codec says otherwise).
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// libavcodec encoder name (libx264, libx265, libvpx-vp9, libsvtav1, libaom-av1).
    #[arg(long)]
    pub codec: Option<String>,
    #[arg(long)]
    pub preset: Option<String>,
    /// Encode sizes, e.g. 1280x720,960x540.
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<String>>,
    /// CRF values, e.g. 20,24,28.
    #[arg(long, value_delimiter = ',')]
    pub crf: Option<Vec<f64>>,
    /// Encode sources faster than this at their rate / n (every n-th frame), e.g. 30.
    #[arg(long, value_name = "FPS")]
    pub fps_cap: Option<f64>,
    /// Output directory (default: reports/<title>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Result store directory (default: $PERTITLE_CACHE, else the user's cache directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Do not read or write the result store.
    #[arg(long)]
    pub no_cache: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Use only the first N frames of the title.
    #[arg(long)]
    pub frames: Option<u64>,
    /// Grid search: full (every size × CRF) or fast (adaptive, far fewer encodes).
    #[arg(long, default_value = "full")]
    pub search: String,
    /// Accept inputs with decode errors (the affected frames are reported).
    #[arg(long)]
    pub allow_decode_errors: bool,
    #[command(flatten)]
    pub raw: RawArgs,
}

#[derive(Debug, Args)]
pub struct LadderArgs {
    /// The title (any file FFmpeg reads, .y4m or raw .yuv). Default: the built-in demo clip.
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HullArgs {
    pub points: PathBuf,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// Recipe whose [ladder] section gives the defaults.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Write ladder.toml and plots here (default: print only).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BdrateArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    #[arg(long, default_value = "vmaf")]
    pub metric: String,
    /// pchip (JVET/AOM CTC) or cubic (VCEG-M33).
    #[arg(long, default_value = "pchip")]
    pub method: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub input: Option<PathBuf>,
    /// Encoders to compare; BD-rates are against the first.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "libx264,libx265,libsvtav1"
    )]
    pub codecs: Vec<String>,
    /// Recipe files, one per codec in the same order (default: each codec's built-in recipe).
    #[arg(long, value_delimiter = ',')]
    pub recipe: Option<Vec<PathBuf>>,
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<String>>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[arg(long)]
    pub no_cache: bool,
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub frames: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub raw: RawArgs,
}
