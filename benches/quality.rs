//! Quality-engine throughput (issue 3): pertitle's VMAF against libvmaf's (vmaf_v0.6.1 features
//! only, libvmaf's own AVX2/AVX-512 code) on the same decoded 1080p and 720p frames, at 1 and 2
//! threads; and six distorted versions of one reference (pertitle's prepared reference: prepare
//! once, score six; libvmaf: six runs). Criterion measures; a summary table at the end prints
//! frames per second and the ratio pertitle / libvmaf.
//!
//! `cargo bench --bench quality` (`PERTITLE_BENCH=quick` for fewer frames).

#[path = "support/clips.rs"]
mod clips;
#[path = "support/proc.rs"]
mod proc;
#[path = "support/vmafpeer.rs"]
mod vmafpeer;
#[path = "support/y4m.rs"]
mod y4m;

use criterion::{Criterion, SamplingMode, Throughput};
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

/// One reference clip and its libx264-distorted versions, decoded, in memory.
struct Set {
    w: usize,
    h: usize,
    reference: Vec<Vec<u8>>,
    /// One per CRF in `CRFS`.
    distorted: Vec<Vec<Vec<u8>>>,
}

fn distorted_y4m(reference: &Path, crf: u32) -> PathBuf {
    let out = reference.with_file_name(format!(
        "{}-x264crf{crf}.y4m",
        reference.file_stem().unwrap().to_string_lossy()
    ));
    if !out.exists() {
        let mp4 = out.with_extension("mp4");
        proc::run(
            Command::new("ffmpeg")
                .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
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
            Command::new("ffmpeg")
                .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
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

fn load(w: usize, h: usize, frames: u64) -> Set {
    let clip = clips::y4m("quality", w, h, 24, frames);
    let (rw, rh, reference) = y4m::read_all(&clip.path, frames as usize);
    assert_eq!((rw, rh), (w, h));
    let distorted = CRFS
        .iter()
        .map(|&c| {
            let (dw, dh, d) = y4m::read_all(&distorted_y4m(&clip.path, c), frames as usize);
            assert_eq!((dw, dh, d.len()), (w, h, reference.len()));
            d
        })
        .collect();
    Set {
        w,
        h,
        reference,
        distorted,
    }
}

/// libvmaf over one (reference, distorted) sequence; returns the mean VMAF.
fn libvmaf_run(set: &Set, dist: &[Vec<u8>], threads: u32) -> f64 {
    let mut v = vmafpeer::Vmaf::new(set.w, set.h, threads, false);
    for (r, d) in set.reference.iter().zip(dist) {
        v.push(r, d);
    }
    v.mean_vmaf()
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

fn bench_size(c: &mut Criterion, label: &str, set: &Set, sanity: &mut Vec<String>) {
    let n = set.reference.len() as u64;
    let pair = &set.distorted[PAIR];
    let mut g = c.benchmark_group(format!("vmaf_{label}"));
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
    g.finish();
    sanity.push(format!(
        "{label} crf {}: libvmaf mean VMAF {:.4}",
        CRFS[PAIR],
        libvmaf_run(set, pair, 0)
    ));

    let mut g = c.benchmark_group(format!("vmaf_{label}_six"));
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
    println!(
        "quality engine benchmark: {} cores, load {}, libvmaf {}, {frames} frames per sequence",
        proc::cores(),
        proc::loadavg(),
        vmafpeer::version()
    );
    let mut sanity = Vec::new();
    let sets = [("1080p", 1920, 1080), ("720p", 1280, 720)];
    for (label, w, h) in sets {
        let set = load(w, h, frames);
        bench_size(&mut c, label, &set, &mut sanity);
    }
    c.final_summary();
    summary(frames, &sanity);
}

fn summary(frames: u64, sanity: &[String]) {
    let times = TIMES.lock().unwrap();
    if times.is_empty() {
        return;
    }
    println!();
    println!(
        "summary (median of criterion's samples; load now {}):",
        proc::loadavg()
    );
    println!(
        "  {:<10} {:<8} {:>8} {:>14} {:>14} {:>10}",
        "size", "figure", "threads", "pertitle fps", "libvmaf fps", "ratio"
    );
    for label in ["1080p", "720p"] {
        for (fig, n, threads) in [
            ("pair", frames, [1, 2].as_slice()),
            ("six", frames * CRFS.len() as u64, [2].as_slice()),
        ] {
            for t in threads {
                let get = |who: &str| {
                    times
                        .get(&format!("{label}/{fig}/{who}/{t}t"))
                        .map(|v| n as f64 / median(v))
                };
                let (p, l) = (get("pertitle"), get("libvmaf"));
                let fmt =
                    |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
                let ratio = match (p, l) {
                    (Some(p), Some(l)) => format!("{:.3}×", p / l),
                    _ => "-".into(),
                };
                println!(
                    "  {label:<10} {fig:<8} {t:>8} {:>14} {:>14} {ratio:>10}",
                    fmt(p),
                    fmt(l)
                );
            }
        }
    }
    println!("  (six: distorted frames per second over 6 versions of one reference)");
    for s in sanity {
        println!("  check: {s}");
    }
}
