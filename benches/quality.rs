//! Quality-engine throughput: pertitle's VMAF against libvmaf's (vmaf_v0.6.1 features only,
//! libvmaf's own AVX2/AVX-512 code) on the same decoded 1080p and 720p frames of two contents,
//! generated (smooth libavfilter patterns) and real-looking (the titles benchmark's sport title
//! across a cut: a grainy pan over texture, then a grainy zoom), at 1 and 2 threads; six
//! distorted versions of one reference (pertitle's prepared reference: prepare once, score six;
//! libvmaf: six runs); and each feature alone at one thread (VIF, ADM, motion, PSNR, SSIM), so a
//! regression of one kernel on one CPU family shows. Criterion measures; a summary table at the
//! end prints frames per second and the ratio pertitle / libvmaf.
//!
//! `cargo bench --bench quality` (`PERTITLE_BENCH=quick` for fewer frames). `PERTITLE_CPU`
//! caps both engines: libvmaf gets the matching `cpumask`.

#[path = "support/clips.rs"]
mod clips;
#[path = "../tests/support/libvmaf.rs"]
mod libvmaf;
#[path = "support/proc.rs"]
mod proc;
#[path = "support/titles.rs"]
#[allow(dead_code)]
mod titles;
#[path = "support/y4m.rs"]
mod y4m;

use criterion::{Criterion, SamplingMode, Throughput};
use libvmaf::{Libvmaf, Pool};
use pertitle::quality::cpu::CpuLevel;
use pertitle::quality::vmaf::{adm, motion, vif};
use pertitle::quality::{psnr, ssim, Engine, EngineConfig, PreparedRef, VideoScorer};
use pertitle::Frame;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// CRFs of the six distorted versions; the single-pair figure uses `CRFS[PAIR]`.
const CRFS: [u32; 6] = [20, 24, 28, 32, 36, 40];
const PAIR: usize = 3;

/// Per-iteration seconds of each benchmark, as measured inside `iter_custom`.
static TIMES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(key: &str, per_iter: f64) {
    TIMES
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .push(per_iter);
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// What the frames show: the summary reports both, because kernels that win on smooth
/// generated patterns have lost on grain and texture.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    /// The mixed libavfilter clip (`clips::y4m("quality", ..)`): gradients, a Mandelbrot zoom, a
    /// scrolling test pattern, light grain.
    Generated,
    /// The sport title of the titles benchmark around its first cut (frame 144): a fast pan
    /// over a test pattern with heavy grain, then a grainy Mandelbrot zoom.
    Real,
}

impl Content {
    const ALL: [Content; 2] = [Content::Generated, Content::Real];

    fn name(self) -> &'static str {
        match self {
            Content::Generated => "generated",
            Content::Real => "real",
        }
    }
}

/// One reference clip and its libx264-distorted versions, decoded, in memory: as 8-bit planes
/// for libvmaf and as `pertitle::Frame`s (byte samples) for pertitle, so neither side pays for a
/// conversion inside the timed loop.
struct Set {
    label: String,
    w: usize,
    h: usize,
    reference: Vec<Vec<u8>>,
    /// One per CRF in `CRFS`.
    distorted: Vec<Vec<Vec<u8>>>,
    ref_frames: Vec<Frame>,
    dist_frames: Vec<Vec<Frame>>,
}

fn frames_of(data: &[Vec<u8>], w: usize, h: usize) -> Vec<Frame> {
    data.iter()
        .enumerate()
        .map(|(i, d)| y4m::to_frame(d, w, h, i as u64))
        .collect()
}

fn ffmpeg() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    c
}

fn distorted_y4m(reference: &Path, crf: u32) -> PathBuf {
    let out = reference.with_file_name(format!(
        "{}-x264crf{crf}.y4m",
        reference.file_stem().unwrap().to_string_lossy()
    ));
    if !out.exists() {
        let mp4 = out.with_extension("mp4");
        proc::run(
            ffmpeg()
                .arg("-i")
                .arg(reference)
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    &crf.to_string(),
                ])
                .arg(&mp4),
        )
        .expect("encode distorted version");
        let part = out.with_extension("part");
        proc::run(
            ffmpeg()
                .arg("-i")
                .arg(&mp4)
                .args(["-f", "yuv4mpegpipe", "-pix_fmt", "yuv420p"])
                .arg(&part),
        )
        .expect("decode distorted version");
        std::fs::rename(&part, &out).expect("rename");
        let _ = std::fs::remove_file(&mp4);
    }
    out
}

/// `frames` frames of the sport title centred on its first cut, as y4m (made once).
fn real_clip(w: usize, h: usize, frames: u64) -> PathBuf {
    titles::around_first_cut(&titles::KINDS[1], 8.0, (w, h), frames, "quality-sport")
}

fn load(content: Content, size: &str, w: usize, h: usize, frames: u64) -> Set {
    let path = match content {
        Content::Generated => clips::y4m("quality", w, h, 24, frames).path,
        Content::Real => real_clip(w, h, frames),
    };
    let (rw, rh, reference) = y4m::read_all(&path, frames as usize);
    assert_eq!((rw, rh, reference.len()), (w, h, frames as usize));
    let distorted: Vec<Vec<Vec<u8>>> = CRFS
        .iter()
        .map(|&c| {
            let (dw, dh, d) = y4m::read_all(&distorted_y4m(&path, c), frames as usize);
            assert_eq!((dw, dh, d.len()), (w, h, reference.len()));
            d
        })
        .collect();
    let ref_frames = frames_of(&reference, w, h);
    let dist_frames = distorted.iter().map(|d| frames_of(d, w, h)).collect();
    Set {
        label: format!("{}-{size}", content.name()),
        w,
        h,
        reference,
        distorted,
        ref_frames,
        dist_frames,
    }
}

fn engine(threads: usize) -> Engine {
    Engine::new(EngineConfig {
        threads,
        ..EngineConfig::default()
    })
    .expect("pertitle engine")
}

/// pertitle's streaming scorer over one (reference, distorted) sequence; returns the mean VMAF.
/// Frames are pushed by value as a decoder hands them over; the clones stand in for that copy
/// (libvmaf's side copies each frame into its own picture likewise).
fn pertitle_run(engine: &Engine, refs: &[Frame], dist: &[Frame]) -> f64 {
    let mut s = VideoScorer::new(engine);
    for (r, d) in refs.iter().zip(dist) {
        s.push(r.clone(), d.clone()).expect("pertitle score");
    }
    s.finish()
        .expect("pertitle score")
        .mean_vmaf()
        .expect("pertitle vmaf")
}

/// Six distorted sequences against one reference with the prepared-reference API: reference
/// frames are prepared once (a batch at a time, in parallel), then every (prepared frame,
/// distorted version) pair is scored in parallel. Returns the six mean VMAFs.
fn pertitle_six(engine: &Engine, refs: &[Frame], dists: &[Vec<Frame>], batch: usize) -> Vec<f64> {
    let mut sums = vec![0.0; dists.len()];
    let mut preparer = engine.ref_preparer();
    let mut score = |ready: Vec<PreparedRef>| {
        let scores: Vec<(usize, f64)> = engine.install(|| {
            ready
                .par_iter()
                .flat_map(|p| (0..dists.len()).into_par_iter().map(move |k| (p, k)))
                .map(|(p, k)| {
                    let d = &dists[k][p.index() as usize];
                    let s = engine.score(p, d).expect("pertitle score");
                    (k, s.vmaf.expect("pertitle vmaf"))
                })
                .collect()
        });
        for (k, v) in scores {
            sums[k] += v;
        }
    };
    for chunk in refs.chunks(batch) {
        let prepared: Vec<_> = engine.install(|| {
            chunk
                .par_iter()
                .map(|f| engine.prepare(f.clone()).expect("prepare"))
                .collect()
        });
        let mut ready = Vec::new();
        for r in prepared {
            ready.extend(preparer.push_prepared(r).expect("prepare"));
        }
        score(ready);
    }
    score(preparer.finish().into_iter().collect());
    sums.iter().map(|s| s / refs.len() as f64).collect()
}

/// libvmaf over one (reference, distorted) sequence; returns the mean VMAF.
fn libvmaf_run(set: &Set, dist: &[Vec<u8>], threads: u32) -> f64 {
    let mut v = Libvmaf::with_cpumask(threads, libvmaf_cpumask());
    let model = v.use_model("vmaf_v0.6.1", false);
    for (r, d) in set.reference.iter().zip(dist) {
        v.push_yuv420(set.w, set.h, r, d);
    }
    v.flush();
    v.pooled(model, Pool::Mean)
}

/// libvmaf's `cpumask` for pertitle's level: `PERTITLE_CPU=avx2` keeps both engines off
/// AVX-512, `scalar` both off SIMD, so a capped run compares like with like.
fn libvmaf_cpumask() -> u64 {
    match CpuLevel::get() {
        CpuLevel::Scalar => libvmaf::CPUMASK_SCALAR,
        CpuLevel::Avx2 => libvmaf::CPUMASK_NO_AVX512,
        CpuLevel::Avx512 | CpuLevel::Avx512Vnni => 0,
    }
}

/// libvmaf's `n_threads` for "N threads": 0 runs in the caller's thread (exactly one), N ≥ 2 a
/// pool of N workers.
fn libvmaf_threads(t: usize) -> u32 {
    if t <= 1 {
        0
    } else {
        t as u32
    }
}

fn bench_size(c: &mut Criterion, set: &Set, sanity: &mut Vec<String>) {
    let label = set.label.as_str();
    let n = set.reference.len() as u64;
    let pair = &set.distorted[PAIR];
    let mut g = c.benchmark_group(format!("vmaf_{label}_{n}f"));
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(n));
    for t in [1usize, 2] {
        let key = format!("{label}/pair/libvmaf/{t}t");
        g.bench_function(format!("libvmaf/{t}t"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(libvmaf_run(set, pair, libvmaf_threads(t)));
                }
                let d = start.elapsed();
                record(&key, d.as_secs_f64() / iters as f64);
                d
            })
        });
    }
    for t in [1usize, 2] {
        let key = format!("{label}/pair/pertitle/{t}t");
        let e = engine(t);
        let dist = &set.dist_frames[PAIR];
        g.bench_function(format!("pertitle/{t}t"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(pertitle_run(&e, &set.ref_frames, dist));
                }
                let d = start.elapsed();
                record(&key, d.as_secs_f64() / iters as f64);
                d
            })
        });
    }
    g.finish();
    sanity.push(format!(
        "{label} crf {}: mean VMAF libvmaf {:.4}, pertitle {:.4}",
        CRFS[PAIR],
        libvmaf_run(set, pair, 0),
        pertitle_run(&engine(2), &set.ref_frames, &set.dist_frames[PAIR])
    ));

    let mut g = c.benchmark_group(format!("vmaf_{label}_{n}f_six"));
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(n * CRFS.len() as u64));
    let key = format!("{label}/six/libvmaf/2t");
    g.bench_function("libvmaf/2t x6 runs", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for d in &set.distorted {
                    std::hint::black_box(libvmaf_run(set, d, 2));
                }
            }
            let d = start.elapsed();
            record(&key, d.as_secs_f64() / iters as f64);
            d
        })
    });
    let key = format!("{label}/six/pertitle/2t");
    let e = engine(2);
    g.bench_function("pertitle/2t prepared x6", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(pertitle_six(&e, &set.ref_frames, &set.dist_frames, 4));
            }
            let d = start.elapsed();
            record(&key, d.as_secs_f64() / iters as f64);
            d
        })
    });
    g.finish();
    let six = pertitle_six(&e, &set.ref_frames, &set.dist_frames, 4);
    let lib: Vec<f64> = set
        .distorted
        .iter()
        .map(|d| libvmaf_run(set, d, 0))
        .collect();
    let worst = six
        .iter()
        .zip(&lib)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    sanity.push(format!(
        "{label} six versions (CRF {:?}): max |Δ mean VMAF| pertitle vs libvmaf {worst:.5}",
        CRFS
    ));
}

/// The five features one at a time, one thread each: pertitle's public per-feature functions
/// against libvmaf with only that extractor registered. Both sides copy each frame pair once, as
/// in the full runs.
#[derive(Clone, Copy)]
enum Feature {
    /// No feature: what each engine pays to take a frame pair (pertitle clones two 8-bit frames,
    /// libvmaf allocates two pictures and copies the 8-bit planes, with no extractor registered),
    /// so each feature's own cost is its figure's time minus this one.
    Intake,
    Vif,
    Adm,
    Motion,
    Psnr,
    Ssim,
}

impl Feature {
    const ALL: [Feature; 6] = [
        Feature::Intake,
        Feature::Vif,
        Feature::Adm,
        Feature::Motion,
        Feature::Psnr,
        Feature::Ssim,
    ];

    fn name(self) -> &'static str {
        self.names().0
    }

    /// (pertitle's name, libvmaf's extractor).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Feature::Intake => ("intake", ""),
            Feature::Vif => ("vif", "vif"),
            Feature::Adm => ("adm", "adm"),
            Feature::Motion => ("motion", "motion"),
            Feature::Psnr => ("psnr", "psnr"),
            Feature::Ssim => ("ssim", "float_ssim"),
        }
    }

    /// pertitle's computation of this feature over the sequence (a sum, so nothing is elided).
    fn pertitle(self, refs: &[Frame], dist: &[Frame]) -> f64 {
        let mut acc = 0.0;
        let mut prev: Option<Frame> = None;
        for (r, d) in refs.iter().zip(dist) {
            let (r, d) = (r.clone(), d.clone());
            let (rl, dl) = (r.luma(), d.luma());
            acc += match self {
                Feature::Intake => (r.luma().get(0, 0) + d.luma().get(0, 0)) as f64,
                Feature::Vif => vif::score_pair(rl, dl, 8, vif::DEFAULT_ENHN_GAIN_LIMIT).scales[0],
                Feature::Adm => {
                    let p = adm::AdmParams::default();
                    adm::score(&adm::AdmRef::new(rl, 8), dl, 8, &p).adm2
                }
                Feature::Motion => prev
                    .as_ref()
                    .map_or(0.0, |p| motion::sad_score(p.luma(), rl, 8)),
                Feature::Psnr => psnr::psnr(&r, &d).expect("psnr")[0],
                Feature::Ssim => ssim::ssim(rl, dl, 8),
            };
            if let Feature::Motion = self {
                prev = Some(r);
            }
        }
        acc
    }
}

fn libvmaf_feature(set: &Set, name: &str, dist: &[Vec<u8>]) -> u32 {
    let mut v = Libvmaf::with_cpumask(0, libvmaf_cpumask());
    if !name.is_empty() {
        v.use_feature(name, &[]);
    }
    for (r, d) in set.reference.iter().zip(dist) {
        v.push_yuv420(set.w, set.h, r, d);
    }
    v.flush();
    v.frames()
}

fn bench_features(c: &mut Criterion, set: &Set) {
    let label = set.label.as_str();
    let n = set.reference.len() as u64;
    let mut g = c.benchmark_group(format!("features_{label}_{n}f"));
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(n));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    for f in Feature::ALL {
        let (ours, theirs) = f.names();
        let key = format!("{label}/{ours}/libvmaf/1t");
        g.bench_function(
            format!("libvmaf/{}", if theirs.is_empty() { ours } else { theirs }),
            |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box(libvmaf_feature(set, theirs, &set.distorted[PAIR]));
                    }
                    let d = start.elapsed();
                    record(&key, d.as_secs_f64() / iters as f64);
                    d
                })
            },
        );
        let key = format!("{label}/{ours}/pertitle/1t");
        g.bench_function(format!("pertitle/{ours}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    one.install(|| {
                        std::hint::black_box(f.pertitle(&set.ref_frames, &set.dist_frames[PAIR]))
                    });
                }
                let d = start.elapsed();
                record(&key, d.as_secs_f64() / iters as f64);
                d
            })
        });
    }
    g.finish();
}

fn main() {
    // `cargo test --benches` / `--all-targets` runs this without `--bench`: generating the clips
    // and one pass of every benchmark takes minutes, so only `cargo bench` runs it.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("quality: a benchmark; run it with `cargo bench --bench quality`");
        return;
    }
    let quick = std::env::var("PERTITLE_BENCH").as_deref() == Ok("quick");
    let frames: u64 = std::env::var("PERTITLE_BENCH_QFRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 8 } else { 24 });
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if quick { 2 } else { 5 }))
        .configure_from_args();
    let levels = Engine::new(EngineConfig::default())
        .map(|e| {
            let k = e.kernel_levels();
            format!(
                "vif {}, adm {}, motion {}, psnr {}, ssim {}",
                k.vif.name(),
                k.adm.name(),
                k.motion.name(),
                k.psnr.name(),
                k.ssim.name()
            )
        })
        .unwrap_or_else(|e| format!("engine: {e}"));
    println!(
        "quality engine benchmark: {}, {} cores, load {}, libvmaf {}, {frames} frames per sequence",
        proc::cpu_model(),
        proc::cores(),
        proc::loadavg(),
        libvmaf::version()
    );
    println!("pertitle kernel sets: {levels}");
    println!(
        "libvmaf cpumask {:#x} (PERTITLE_CPU caps both engines)",
        libvmaf_cpumask()
    );
    let mut sanity = Vec::new();
    let mut labels = Vec::new();
    for content in Content::ALL {
        for (size, w, h) in [("1080p", 1920, 1080), ("720p", 1280, 720)] {
            let set = load(content, size, w, h, frames);
            bench_size(&mut c, &set, &mut sanity);
            bench_features(&mut c, &set);
            labels.push(set.label);
        }
    }
    c.final_summary();
    summary(frames, &labels, &sanity);
}

fn summary(frames: u64, labels: &[String], sanity: &[String]) {
    let times = TIMES.lock().unwrap();
    if times.is_empty() {
        return;
    }
    println!();
    println!(
        "summary (median of criterion's samples; {}; load now {}):",
        proc::cpu_model(),
        proc::loadavg()
    );
    println!(
        "  {:<16} {:<8} {:>8} {:>14} {:>14} {:>10} {:>12}",
        "content-size", "figure", "threads", "pertitle fps", "libvmaf fps", "ratio", "own ratio"
    );
    let figures = [
        ("pair", frames, [1, 2].as_slice()),
        ("six", frames * CRFS.len() as u64, [2].as_slice()),
    ]
    .into_iter()
    .chain(
        Feature::ALL
            .iter()
            .map(|f| (f.name(), frames, [1].as_slice())),
    );
    let figures: Vec<_> = figures.collect();
    for label in labels {
        for &(fig, n, threads) in &figures {
            for t in threads {
                let get = |who: &str| {
                    times
                        .get(&format!("{label}/{fig}/{who}/{t}t"))
                        .map(|v| n as f64 / median(v))
                };
                let (p, l) = (get("pertitle"), get("libvmaf"));
                // A feature's own time: its figure's time per frame minus the intake's.
                let own = |who: &str, fps: Option<f64>| -> Option<f64> {
                    let intake = times
                        .get(&format!("{label}/intake/{who}/1t"))
                        .map(|v| n as f64 / median(v))?;
                    let t = 1.0 / fps? - 1.0 / intake;
                    (t > 0.0).then_some(t)
                };
                let own_ratio = match (fig, own("pertitle", p), own("libvmaf", l)) {
                    ("pair" | "six" | "intake", _, _) => String::new(),
                    (_, Some(a), Some(b)) => format!("{:.3}×", b / a),
                    _ => "-".into(),
                };
                let fmt =
                    |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
                let ratio = match (p, l) {
                    (Some(p), Some(l)) => format!("{:.3}×", p / l),
                    _ => "-".into(),
                };
                println!(
                    "  {label:<16} {fig:<8} {t:>8} {:>14} {:>14} {ratio:>10} {own_ratio:>12}",
                    fmt(p),
                    fmt(l)
                );
            }
        }
    }
    println!("  (six: distorted frames per second over 6 versions of one reference; vif … ssim:");
    println!("   that feature alone, one thread, frame intake included on both sides; intake:");
    println!(
        "   taking the pair alone, so a feature's own time is 1/fps(feature) − 1/fps(intake))"
    );
    for s in sanity {
        println!("  check: {s}");
    }
}
