//! The command line, as clap sees it: every value that has a fixed form is parsed here (value
//! enums, typed value parsers), so a malformed one is clap's one-line misuse error (exit 2). The
//! library's types come out of it; the library itself knows nothing of clap.

use clap::{Args, Parser, Subcommand, ValueEnum};
use pertitle::bdrate::Method;
use pertitle::media::ScalerKind;
use pertitle::points::METRICS;
use pertitle::quality::pooling::PoolMethod;
use pertitle::recipe::{RungRateControl, Size};
use pertitle::Metric;
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
    /// Encode a ladder's rungs as ladder.toml says (in process, the same bytes as its verified
    /// encodes), and package them for streaming with --hls and --dash.
    Encode(EncodeArgs),
    /// Encode and score every rung of a ladder.toml; write the achieved figures into it (and,
    /// with --refine, correct the rungs that miss).
    Verify(VerifyLadderArgs),
    /// What a batch scheduler's array element runs: one line of a run's task manifest.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Tasks done, running and failed of a run submitted with --executor slurm, and its ETA.
    Status(StatusArgs),
    /// Write the outputs of a run submitted with --executor slurm --detach, once it is complete.
    Collect(CollectArgs),
    /// Extract every quality feature of a subjective dataset's pairs into the result store.
    Features(FeaturesArgs),
    /// Train a VMAF model (nu-SVR) on a dataset's features and opinion scores, checked on held-out
    /// contents; writes a libvmaf JSON model.
    Train(TrainArgs),
    /// How well a metric or model predicts a dataset's opinion scores: SRCC, PCC and RMSE after a
    /// logistic fit, with bootstrap confidence intervals, and a scatter plot.
    Eval(EvalArgs),
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Compute the tasks of one manifest line into the shared store. Exit 0: done; 75: a transient
    /// failure (run it again); 1: a permanent one; 2: misuse.
    Run(TaskRunArgs),
}

#[derive(Debug, Args)]
pub struct TaskRunArgs {
    /// The run's manifest.jsonl.
    pub manifest: PathBuf,
    /// Line of the manifest, from 0 (default: $PERTITLE_TASK_INDEX, else Slurm's
    /// $SLURM_ARRAY_TASK_ID plus $PERTITLE_INDEX_OFFSET, else Kubernetes' $JOB_COMPLETION_INDEX,
    /// else AWS Batch's $AWS_BATCH_JOB_ARRAY_INDEX).
    #[arg(long)]
    pub index: Option<usize>,
    /// Worker threads (default: $SLURM_CPUS_PER_TASK, else all cores).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run id `ladder --executor slurm` printed, or its directory.
    pub run: String,
    /// Result store the run was submitted with (default: as `ladder`'s).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The run id `ladder --executor slurm --detach` printed, or its directory.
    pub run: String,
    /// Result store the run was submitted with (default: as `ladder`'s).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

/// `--executor`: where the grid's tasks are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// In this process, on this machine's cores.
    Local,
    /// As a Slurm job array (sbatch), results in the shared result store (--cache).
    Slurm,
    /// Only write the run's task manifest and print its id, for another batch system to run
    /// (`pertitle task run`); then `status` and `collect` as with Slurm.
    Manifest,
}

/// Where the tasks run, and the Slurm submission's settings.
#[derive(Debug, Args, Clone)]
pub struct ExecutorArgs {
    /// Where the grid's tasks run: local (this process), slurm (a job array; the result store
    /// and the input must be on a filesystem every node sees), or manifest (written, not run).
    #[arg(long, value_enum, default_value_t = ExecutorArg::Local, ignore_case = true)]
    pub executor: ExecutorArg,
    /// With --executor slurm: submit, print the run id and return; see `status` and `collect`.
    #[arg(long)]
    pub detach: bool,
    /// Slurm partition (default: the cluster's default).
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// At most N array elements at once.
    #[arg(long, value_name = "N", value_parser = at_least_one::<u32>)]
    pub max_parallel: Option<u32>,
    /// CPUs per array element; the worker runs that many threads.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one::<u32>)]
    pub cpus_per_task: u32,
    /// Time limit per array element, in Slurm's syntax (e.g. 30, 2:00:00).
    #[arg(long, value_name = "TIME")]
    pub time_limit: Option<String>,
    /// Memory per array element, in Slurm's syntax (e.g. 4G).
    #[arg(long, value_name = "SIZE")]
    pub mem: Option<String>,
    /// Another sbatch argument, passed as given (repeatable), e.g. --sbatch-arg=--account=video.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// Most work per array element, in task-frames (frames x grid points). The tasks are cut into
    /// elements of equal estimated cost, at least one per CPU slot of the partition.
    #[arg(long, value_name = "N", default_value_t = pertitle::batch::ELEMENT_TASK_FRAMES, value_parser = at_least_one::<u64>)]
    pub element_frames: u64,
    /// Resubmissions of an array element that ended without its results (killed, out of time,
    /// node lost, transient error) before the run is reported failed.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
}

/// How to read raw `.yuv` input (ignored for self-describing formats).
#[derive(Debug, Args, Clone, Default)]
pub struct RawArgs {
    /// Raw input size, WxH.
    #[arg(long, value_name = "WxH", value_parser = parse_frame_size)]
    pub size: Option<(usize, usize)>,
    /// Raw input pixel format (FFmpeg name, e.g. yuv420p, yuv420p10le).
    #[arg(long, value_name = "FMT")]
    pub pix_fmt: Option<String>,
    /// Raw input frame rate, e.g. 24, 30000/1001.
    #[arg(long, value_name = "RATE", value_parser = parse_fps)]
    pub fps: Option<(u32, u32)>,
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
    /// Metrics to compute.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "vmaf,psnr,ssim",
        ignore_case = true
    )]
    pub metrics: Vec<ScoreMetric>,
    /// Built-in model name (vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1) or a libvmaf JSON model path.
    #[arg(long, default_value = "vmaf_v0.6.1")]
    pub model: String,
    /// Apply the model's score_transform (the phone model).
    #[arg(long)]
    pub phone: bool,
    /// Pooling methods to print: mean, harmonic_mean, min, max, median, pN (e.g. p5).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mean,harmonic_mean,min",
        value_parser = parse_pool
    )]
    pub pool: Vec<PoolMethod>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Score every Nth frame only.
    #[arg(long, default_value_t = 1, value_parser = at_least_one::<usize>)]
    pub subsample: usize,
    /// Score only the first N frames (also allows inputs of different lengths).
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub frames: Option<u64>,
    /// Scaler used when DIST's size differs from REF's: bicubic, bilinear, lanczos, ...
    #[arg(long, default_value = "bicubic", value_parser = parse_scaler)]
    pub scaler: ScalerKind,
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
    /// Metric the hull and ladder are built on (recipe default: vmaf).
    #[arg(long, value_parser = metric_parser(), ignore_case = true)]
    pub metric: Option<Metric>,
    /// Quality difference between adjacent rungs, in the metric's units (default 6 VMAF = one
    /// JND). A larger step gives fewer rungs.
    #[arg(long, value_name = "POINTS")]
    pub step: Option<f64>,
    /// The top rung is the lowest bitrate reaching this quality (default 95 VMAF); the hull's
    /// best point if it never does.
    #[arg(long, value_name = "POINTS")]
    pub quality_cap: Option<f64>,
    /// No rung below this quality: the bottom rung moves up to where the hull reaches it.
    #[arg(long, value_name = "POINTS")]
    pub min_quality: Option<f64>,
    /// The floor in kbit/s (default 200, HLS guidance 145–235): the ladder reaches down to it,
    /// with larger steps where it must (warned), and no rung goes below it.
    #[arg(long, value_name = "KBPS")]
    pub min_kbps: Option<f64>,
    /// No rung above this bitrate in kbit/s (default: no limit).
    #[arg(long, value_name = "KBPS")]
    pub max_kbps: Option<f64>,
    /// At most this many rungs (default 10); the ladder then stops short of its floor (warned).
    #[arg(long, value_name = "N")]
    pub max_rungs: Option<usize>,
    /// Minimum bitrate ratio between adjacent rungs (default 1.5).
    #[arg(long, value_name = "RATIO")]
    pub min_ratio: Option<f64>,
    /// Maximum bitrate ratio between adjacent rungs (default 2).
    #[arg(long, value_name = "RATIO")]
    pub max_ratio: Option<f64>,
    /// No rung smaller than this height (the short side) in pixels; only grid sizes at least
    /// this high are used.
    #[arg(long, value_name = "PIXELS")]
    pub min_height: Option<u32>,
    /// Heights that must each have a rung (player window sizes), e.g. 360,540: the rung that
    /// loses least by moving to that size moves, or one is added (warned).
    #[arg(long, value_name = "H,H", value_delimiter = ',')]
    pub required_heights: Option<Vec<u32>>,
    /// Rate control written into ladder.toml.
    #[arg(long, value_enum, ignore_case = true)]
    pub rate_control: Option<RateControlArg>,
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
    #[arg(long, value_name = "WxH", value_delimiter = ',', value_parser = parse_size)]
    pub sizes: Option<Vec<Size>>,
    /// CRF values, e.g. 20,24,28.
    #[arg(long, value_delimiter = ',')]
    pub crf: Option<Vec<f64>>,
    /// Encode sources faster than this at their rate / n (every n-th frame), e.g. 30.
    #[arg(long, value_name = "FPS")]
    pub fps_cap: Option<f64>,
    /// Output directory (default: `out/<title>/` in the current directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
    /// Use only the first N frames of the title.
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub frames: Option<u64>,
    /// Grid search.
    #[arg(long, value_enum, default_value_t = Search::Full, ignore_case = true)]
    pub search: Search,
    /// Build the hull from a representative sample of the title's chunks (recipe:
    /// chunking.sample); prints the share of the title encoded and an error estimate.
    #[arg(long, conflicts_with = "no_chunks")]
    pub sample: bool,
    /// Encode each point as one stream over the whole title (recipe: chunking.enabled = false).
    #[arg(long)]
    pub no_chunks: bool,
    /// Accept inputs with decode errors (the affected frames are reported).
    #[arg(long)]
    pub allow_decode_errors: bool,
    #[command(flatten)]
    pub raw: RawArgs,
}

#[derive(Debug, Args)]
pub struct LadderArgs {
    /// The title (any file FFmpeg reads, .y4m or raw .yuv; `-` reads it from stdin, copied
    /// into the output directory first). Default: the built-in demo clip.
    pub input: Option<PathBuf>,
    /// The title, as ffmpeg users type it (`-i FILE`); the same as INPUT.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        conflicts_with = "input"
    )]
    pub input_flag: Option<PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// A catalog: a text file of titles, one path per line (relative to the file; `#` comments).
    /// Each title gets its ladder in `<out>/<title>/`; `catalog.json` and `catalog.csv` sum up.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "input_flag"])]
    pub catalog: Option<PathBuf>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// Verification of the rungs by real encodes.
#[derive(Debug, Args, Clone, Default)]
pub struct VerifyArgs {
    /// Encode every rung exactly as ladder.toml says (the whole title, two-pass VBR or capped
    /// CRF, fixed keyframe interval), score it, and write the achieved bitrate, peak bitrate and
    /// quality next to the prediction.
    #[arg(long)]
    pub verify: bool,
    /// Verify, and move each rung that misses its predicted quality by more than --tolerance:
    /// its bitrate (two-pass) or CRF (capped CRF), by secant steps on real encodes.
    #[arg(long)]
    pub refine: bool,
    /// Allowed difference between achieved and predicted quality, in the ladder's metric.
    #[arg(long, default_value_t = 0.5, value_name = "POINTS", value_parser = positive_f64)]
    pub tolerance: f64,
    /// Encodes per rung at most when refining, the first included.
    #[arg(long, default_value_t = 6, value_parser = at_least_one::<u32>, value_name = "N")]
    pub max_encodes: u32,
}

impl VerifyArgs {
    /// The library's options, `None` when neither --verify nor --refine was given.
    pub fn options(&self) -> Option<pertitle::verify::VerifyOptions> {
        (self.verify || self.refine).then(|| self.settings())
    }

    /// The options as given (`pertitle verify` verifies without --verify).
    pub fn settings(&self) -> pertitle::verify::VerifyOptions {
        pertitle::verify::VerifyOptions {
            refine: self.refine,
            tolerance: self.tolerance,
            max_encodes: self.max_encodes,
        }
    }
}

/// What `features`, `train` and `eval` share: the dataset and how its features are found.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// The dataset file (TOML or JSON; see the README's "Custom models").
    pub dataset: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Pairs scored at a time (each with all the engine's threads).
    #[arg(long, default_value_t = 1, value_parser = at_least_one::<usize>)]
    pub jobs: usize,
    /// Engine worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Also write each pair's features, pooled (mean over frames), as CSV to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write each pair's features per frame and pooled as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Model inputs (adm2, motion2, vif_scale0..3).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "adm2,motion2,vif_scale0,vif_scale1,vif_scale2,vif_scale3"
    )]
    pub features: Vec<String>,
    /// nu-SVR's nu, in (0, 1].
    #[arg(long, default_value_t = 0.9)]
    pub nu: f64,
    /// nu-SVR's C (the cost of an error), above 0.
    #[arg(long = "c", alias = "cost", default_value_t = 4.0)]
    pub c: f64,
    /// The RBF kernel's gamma, above 0.
    #[arg(long, default_value_t = 0.04)]
    pub gamma: f64,
    /// The solver's stopping tolerance (libsvm's eps).
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Where to write the model (libvmaf JSON), trained on every pair.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Hold out contents in K folds, each once (default: one split, see --test-fraction).
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Fraction of the contents held out by the one split.
    #[arg(long, default_value_t = 0.2, conflicts_with = "folds")]
    pub test_fraction: f64,
    /// Seed of the split into held-out contents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// vmaf, psnr, ssim, or a libvmaf JSON model (e.g. one `train` wrote).
    #[arg(long, default_value = "vmaf")]
    pub metric: String,
    /// Bootstrap resamples for the 95 % confidence intervals.
    #[arg(long, default_value_t = 1000, value_parser = at_least_one::<usize>)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Draw predicted against opinion score, one colour per content, with the fitted curve
    /// (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write the figures and every pair's prediction as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// The result store: where finished tasks are kept and found again.
#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Result store directory (default: $PERTITLE_CACHE, else the user's cache directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Do not read or write the result store.
    #[arg(long)]
    pub no_cache: bool,
}

/// The ladder a command works on, and where its source is.
#[derive(Debug, Args)]
pub struct LadderFileArgs {
    /// A ladder.toml written by `pertitle ladder`.
    pub ladder: PathBuf,
    /// The source, when it is no longer where ladder.toml says (checked against its
    /// fingerprint).
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub raw: RawArgs,
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub ladder: LadderFileArgs,
    /// Where the rung files go (default: `renditions/` next to ladder.toml).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Package the renditions as HLS into DIR (master.m3u8, a media playlist and fMP4
    /// segments per rung); DIR must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub hls: Option<PathBuf>,
    /// Package the renditions as DASH into DIR (manifest.mpd); DIR must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub dash: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyLadderArgs {
    #[command(flatten)]
    pub ladder: LadderFileArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Write the verified ladder here (default: over the ladder.toml given).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

#[derive(Debug, Args)]
pub struct HullArgs {
    pub points: PathBuf,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// Recipe whose `[ladder]` section gives the defaults.
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
    #[arg(long, value_parser = metric_parser(), default_value = "vmaf", ignore_case = true)]
    pub metric: Metric,
    /// Interpolation of the rate-quality curves.
    #[arg(long, value_enum, default_value_t = MethodArg::Pchip, ignore_case = true)]
    pub method: MethodArg,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The title (as for `ladder`; `-` reads it from stdin). Default: the built-in demo clip.
    pub input: Option<PathBuf>,
    /// The title, as ffmpeg users type it (`-i FILE`); the same as INPUT.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        conflicts_with = "input"
    )]
    pub input_flag: Option<PathBuf>,
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
    #[arg(long, value_name = "WxH", value_delimiter = ',', value_parser = parse_size)]
    pub sizes: Option<Vec<Size>>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub threads: Option<usize>,
    #[arg(long, value_parser = at_least_one::<u64>)]
    pub frames: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub raw: RawArgs,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

/// `--search`: how the grid is explored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Search {
    /// Every size × CRF.
    Full,
    /// Adaptive: far fewer encodes.
    Fast,
}

/// `score --metrics`: what the engine computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScoreMetric {
    Vmaf,
    /// PSNR of each plane (psnr_y, psnr_cb, psnr_cr).
    #[value(alias = "psnr_y")]
    Psnr,
    #[value(alias = "float_ssim")]
    Ssim,
}

/// `--method`: BD-rate interpolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Piecewise cubic Hermite (JVET/AOM common test conditions).
    Pchip,
    /// Cubic polynomial fit (VCEG-M33).
    #[value(alias = "polynomial", alias = "vceg")]
    Cubic,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Pchip => Method::Pchip,
            MethodArg::Cubic => Method::Cubic,
        }
    }
}

/// `--rate-control`: how rungs are meant to be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RateControlArg {
    /// Two-pass VBR at the target bitrate, peak capped.
    #[value(alias = "two_pass_vbr", alias = "2pass", alias = "vbr")]
    TwoPassVbr,
    /// One pass at the rung's CRF with a VBV cap.
    #[value(alias = "capped_crf", alias = "crf")]
    CappedCrf,
}

impl From<RateControlArg> for RungRateControl {
    fn from(r: RateControlArg) -> RungRateControl {
        match r {
            RateControlArg::TwoPassVbr => RungRateControl::TwoPassVbr,
            RateControlArg::CappedCrf => RungRateControl::CappedCrf,
        }
    }
}

/// A count that must be at least 1 (`--threads`, `--frames`, `--subsample`).
fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    match s.trim().parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err("expected a whole number".into()),
    }
}

/// A finite number above 0 (`--tolerance`).
fn positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a number above 0".into()),
        Err(_) => Err("expected a number".into()),
    }
}

/// The reason of a library parse error, for clap to print after the flag and value.
fn reason(e: pertitle::Error) -> String {
    match e {
        pertitle::Error::Config { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// An encode size, `WxH` (its range is the recipe's to check).
fn parse_size(s: &str) -> Result<Size, String> {
    s.parse::<Size>().map_err(reason)
}

/// A raw input's frame size, `WxH`, neither side 0.
pub fn parse_frame_size(s: &str) -> Result<(usize, usize), String> {
    match s.parse::<Size>() {
        Ok(z) if z.width > 0 && z.height > 0 => Ok((z.width as usize, z.height as usize)),
        _ => Err("expected WxH (e.g. 1280x720)".into()),
    }
}

/// A frame rate: `24`, `29.97`, `30000/1001`.
pub fn parse_fps(s: &str) -> Result<(u32, u32), String> {
    let bad = || "expected a rate like 24 or 30000/1001".to_string();
    if let Some((n, d)) = s.split_once('/') {
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let d: u32 = d.trim().parse().map_err(|_| bad())?;
        if n == 0 || d == 0 {
            return Err(bad());
        }
        return Ok((n, d));
    }
    let v: f64 = s.trim().parse().map_err(|_| bad())?;
    if !(v > 0.0 && v < 1000.0) {
        return Err(bad());
    }
    if v.fract() == 0.0 {
        Ok((v as u32, 1))
    } else {
        Ok(((v * 1000.0).round() as u32, 1000))
    }
}

/// A pooling method: `mean`, `harmonic_mean`, `min`, `max`, `median`, `p<N>`.
fn parse_pool(s: &str) -> Result<PoolMethod, String> {
    PoolMethod::parse(s).map_err(|e| match e {
        pertitle::quality::Error::Setting { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// A swscale algorithm name.
/// `--metric`: the names and aliases of the metric table, as a recipe's `ladder.metric` reads
/// them.
fn metric_parser() -> impl clap::builder::TypedValueParser<Value = Metric> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        METRICS
            .iter()
            .map(|i| PossibleValue::new(i.series.name()).aliases(i.aliases.iter().copied())),
    )
    .map(|s| Metric::parse(&s).expect("a name of the table"))
}

fn parse_scaler(s: &str) -> Result<ScalerKind, String> {
    ScalerKind::parse(s).map_err(reason)
}
