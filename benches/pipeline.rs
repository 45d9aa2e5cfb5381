//! Full-grid pipeline benchmark: the same grid run by pertitle and by the hand-made ffmpeg CLI +
//! libvmaf pipeline, in one run on the same machine, on generated (`demo`, `1080p`) and
//! real-looking (`sport`: grain, pans, a cut) clips. Prints wall and CPU time of both, x264 alone
//! on the same encodes (a null muxer) and each tool's CPU above it, each tool's utilisation of
//! the cores, the x264 encode floor, pertitle's peak RSS, and per-point agreement (VMAF,
//! bitrate).
//!
//! `cargo bench --bench pipeline`; see benches/README.md for the environment variables
//! (`PERTITLE_BENCH=quick`, clip and grid choices, the memory runs).

#[path = "support/clips.rs"]
mod clips;
#[path = "support/handmade.rs"]
mod handmade;
#[path = "../tests/support/libvmaf.rs"]
mod libvmaf;
#[path = "support/proc.rs"]
mod proc;
#[path = "support/titles.rs"]
#[allow(dead_code)]
mod titles;

use clips::Clip;
use handmade::{Grid, PeerRun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SIZES_720: [(usize, usize); 5] =
    [(1280, 720), (960, 540), (768, 432), (640, 360), (480, 270)];
const SIZES_1080: [(usize, usize); 5] = [
    (1920, 1080),
    (1280, 720),
    (960, 540),
    (640, 360),
    (480, 270),
];
const CRFS: [u32; 6] = [20, 24, 28, 32, 36, 40];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match env(name) {
        Some(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s:?} is not a number")),
        None => default,
    }
}

fn parse_sizes(s: &str) -> Vec<(usize, usize)> {
    s.split(',')
        .map(|t| {
            let (w, h) = t
                .trim()
                .split_once('x')
                .unwrap_or_else(|| panic!("size {t:?} is not WxH"));
            (
                w.parse().unwrap_or_else(|_| panic!("size {t:?}")),
                h.parse().unwrap_or_else(|_| panic!("size {t:?}")),
            )
        })
        .collect()
}

fn parse_crfs(s: &str) -> Vec<u32> {
    s.split(',')
        .map(|t| t.trim().parse().unwrap_or_else(|_| panic!("CRF {t:?}")))
        .collect()
}

/// libx264 options pertitle's encoder sets besides preset, CRF and `threads=1`, given to the
/// hand-made encodes too so both make the same bitstream: the default recipe's `profile = "high"`
/// (recipes/x264.toml), its keyframe policy (`codecs::fixed_gop`: a keyframe every
/// `keyint_seconds` = 2 s and no scene-cut keyframes) and `x264-params cpu-independent=1`, which
/// src/media/codec.rs adds to every libx264 encode for reproducibility. Overridable for
/// experiments.
fn x264_args(fps: u32) -> Vec<String> {
    match env("PERTITLE_BENCH_X264_ARGS") {
        Some(s) => s.split_whitespace().map(String::from).collect(),
        None => {
            let k = (2 * fps).to_string();
            [
                "-profile:v",
                "high",
                "-g",
                &k,
                "-keyint_min",
                &k,
                "-sc_threshold",
                "0",
            ]
            .into_iter()
            .chain(["-x264-params", "cpu-independent=1"])
            .map(String::from)
            .collect()
        }
    }
}

fn pertitle_bin() -> PathBuf {
    env("PERTITLE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pertitle")))
}

/// A pertitle run: its own wall/CPU (it is the only child) and peak RSS, and the points it wrote.
struct PertitleRun {
    wall: f64,
    cpu: f64,
    maxrss_mib: f64,
    points: Vec<pertitle::Point>,
}

fn read_points(path: &Path) -> Result<Vec<pertitle::Point>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let arr = if v.is_array() {
        v
    } else {
        v.get("points")
            .cloned()
            .ok_or_else(|| format!("{}: no points array", path.display()))?
    };
    serde_json::from_value(arr).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_pertitle(
    input: &Path,
    grid: &Grid,
    threads: usize,
    extra: &[&str],
) -> Result<PertitleRun, String> {
    let out = tempfile::Builder::new()
        .prefix("pertitle-bench-out")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let mut c = Command::new(pertitle_bin());
    c.arg("ladder")
        .arg(input)
        .args(["--sizes", &grid.sizes_arg(), "--crf", &grid.crfs_arg()])
        .args(["--preset", &grid.preset, "--no-cache", "-q"])
        .args(["--threads", &threads.to_string()])
        .arg("--out")
        .arg(out.path())
        .args(extra);
    let child = proc::run(&mut c)?;
    let points_path = out.path().join("points.json");
    let points = read_points(&points_path)?;
    // Keep the points for a later `examples/search_replay` of the same grid.
    if let Some(dir) = env("PERTITLE_BENCH_KEEP") {
        let mut name = input
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for a in extra {
            name = format!("{name}-{}", a.trim_start_matches('-'));
        }
        let name = format!("{name}-points.json");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{dir}: {e}"))?;
        std::fs::copy(&points_path, Path::new(&dir).join(name))
            .map_err(|e| format!("{dir}: {e}"))?;
    }
    Ok(PertitleRun {
        wall: child.wall,
        cpu: child.usage.cpu(),
        maxrss_mib: child.usage.maxrss_kib as f64 / 1024.0,
        points,
    })
}

fn print_points(peer: &PeerRun, p: Option<&PertitleRun>) {
    println!(
        "  {:>9} {:>4} | {:>9} {:>9} {:>8} | {:>9} {:>8} {:>8} | {:>7} {:>7}",
        "size", "crf", "bytes", "kbps", "VMAF", "p.bytes", "p.kbps", "p.VMAF", "ΔVMAF", "Δkbps%"
    );
    for q in &peer.points {
        let m = p.and_then(|p| {
            p.points.iter().find(|x| {
                x.width as usize == q.width
                    && x.height as usize == q.height
                    && x.crf == q.crf as f64
            })
        });
        let tail = match m {
            Some(m) => format!(
                "{:>9} {:>8.1} {:>8.3} | {:>7.3} {:>7.3}",
                m.bytes,
                m.kbps,
                m.vmaf,
                m.vmaf - q.vmaf,
                100.0 * (m.kbps - q.kbps) / q.kbps
            ),
            None => "        -        -        - |       -       -".into(),
        };
        println!(
            "  {:>9} {:>4} | {:>9} {:>9.1} {:>8.3} | {tail}",
            format!("{}x{}", q.width, q.height),
            q.crf,
            q.bytes,
            q.kbps,
            q.vmaf
        );
    }
}

fn bench_clip(clip: &Clip, source: &str, grid: &Grid, jobs: usize, verbose: bool) {
    println!();
    println!(
        "== {} {}x{} {} frames @ {} fps ({}), grid {} sizes × {} CRFs = {} points, libx264 preset {}{}",
        clip.name,
        clip.width,
        clip.height,
        clip.frames,
        clip.fps,
        source,
        grid.sizes.len(),
        grid.crfs.len(),
        grid.points(),
        grid.preset,
        if grid.x264_args.is_empty() {
            String::new()
        } else {
            format!(" {}", grid.x264_args.join(" "))
        }
    );
    println!("   sizes {}  crf {}", grid.sizes_arg(), grid.crfs_arg());
    let skip = env("PERTITLE_BENCH_SKIP").unwrap_or_default();

    let pert = if skip.contains("pertitle") {
        None
    } else {
        println!("   load before pertitle: {}", proc::loadavg());
        match run_pertitle(&clip.path, grid, jobs, &[]) {
            Ok(r) => Some(r),
            Err(e) => {
                println!("   pertitle: NOT MEASURED: {e}");
                None
            }
        }
    };
    // Issue 6's fast search on the same grid, compared with the hand-made *full* grid (its wall
    // time) and with pertitle's full grid (its hull's BD-rate).
    let fast = if skip.contains("fast") || skip.contains("pertitle") {
        None
    } else {
        println!("   load before pertitle --search fast: {}", proc::loadavg());
        match run_pertitle(&clip.path, grid, jobs, &["--search", "fast"]) {
            Ok(r) => Some(r),
            Err(e) => {
                println!("   pertitle --search fast: NOT MEASURED: {e}");
                None
            }
        }
    };
    let peer = if skip.contains("peer") {
        None
    } else {
        println!("   load before hand-made: {}", proc::loadavg());
        match handmade::run(clip, grid, jobs) {
            Ok(r) => Some(r),
            Err(e) => {
                println!("   hand-made: FAILED: {e}");
                None
            }
        }
    };

    println!("   {:<34} {:>9} {:>9}", "", "wall s", "CPU s");
    if let Some(h) = &peer {
        println!(
            "   {:<34} {:>9.2} {:>9.2}   (prep {:.2} s wall; {} jobs)",
            "hand-made ffmpeg CLI + libvmaf",
            h.total.wall,
            h.total.cpu(),
            h.prep.wall,
            h.jobs
        );
    }
    if let Some(p) = &pert {
        println!(
            "   {:<34} {:>9.2} {:>9.2}   peak RSS {:.0} MiB",
            format!("pertitle ladder --threads {jobs}"),
            p.wall,
            p.cpu,
            p.maxrss_mib
        );
    }
    if let Some(f) = &fast {
        println!(
            "   {:<34} {:>9.2} {:>9.2}   peak RSS {:.0} MiB, {} of {} points encoded",
            "pertitle ladder --search fast",
            f.wall,
            f.cpu,
            f.maxrss_mib,
            f.points.len(),
            grid.points()
        );
    }
    if let (Some(h), Some(p)) = (&peer, &pert) {
        let x = h.x264_cpu;
        let (pa, ha) = (p.cpu - x, h.total.cpu() - x);
        println!(
            "   x264 alone (the same encodes to a null muxer): {x:.2} CPU s; above it: pertitle {pa:.2}, hand-made {ha:.2} CPU s"
        );
        println!(
            "   CPU above the x264 floor, pertitle / hand-made: {:.3}×   (goal ≤ 0.6×: {})",
            pa / ha,
            if pa / ha <= 0.6 { "met" } else { "NOT met" }
        );
        let (pu, hu) = (p.cpu / p.wall, h.total.cpu() / h.total.wall);
        println!(
            "   utilisation (CPU s / wall s): pertitle {pu:.2}, hand-made {hu:.2} of {} cores   (goal pertitle ≥ {:.1}: {})",
            proc::cores(),
            0.95 * proc::cores() as f64,
            if pu >= 0.95 * proc::cores() as f64 { "met" } else { "NOT met" }
        );
    }
    if let Some(h) = &peer {
        let floor = h.encode_cpu / jobs as f64;
        println!(
            "   x264 encode floor: {:.2} CPU s of encodes / {jobs} cores = {:.2} s",
            h.encode_cpu, floor
        );
        if let Some(p) = &pert {
            let rw = p.wall / h.total.wall;
            let rc = p.cpu / h.total.cpu();
            let rf = p.wall / floor;
            println!(
                "   pertitle / hand-made: wall {rw:.3}×, CPU {rc:.3}×   (goal wall ≤ 0.5×: {})",
                if rw <= 0.5 { "met" } else { "NOT met" }
            );
            println!(
                "   pertitle wall / encode floor: {rf:.3}×   (goal ≤ 1.25×: {})",
                if rf <= 1.25 { "met" } else { "NOT met" }
            );
            println!(
                "   pertitle CPU / encode CPU: {:.3}×   (the least wall / floor can be with perfect scaling on an idle machine)",
                p.cpu / h.encode_cpu
            );
            compare_points(h, p);
        }
        if let Some(f) = &fast {
            let rw = f.wall / h.total.wall;
            println!(
                "   fast search / hand-made full grid: wall {rw:.3}×   (goal ≤ 0.25×: {})",
                if rw <= 0.25 { "met" } else { "NOT met" }
            );
        }
        if let (Some(f), Some(p)) = (&fast, &pert) {
            fast_vs_full(f, p, grid);
        }
        if verbose || pert.is_none() {
            print_points(h, pert.as_ref());
        }
    }
}

/// Encodes used by the fast search and the BD-rate (pchip, VMAF) of its hull against the full
/// grid's hull, both from pertitle runs of the same grid.
fn fast_vs_full(fast: &PertitleRun, full: &PertitleRun, grid: &Grid) {
    use pertitle::bdrate::{self, Method};
    let curve = |pts: &[pertitle::Point]| -> Vec<(f64, f64)> {
        pertitle::hull::upper_hull_pairs(&pts.iter().map(|p| (p.kbps, p.vmaf)).collect::<Vec<_>>())
    };
    // Every fast probe is an ordinary grid point: it must be the full grid's point, byte for
    // byte (a difference would be nondeterminism between runs, not a search effect).
    let differ: Vec<String> = fast
        .points
        .iter()
        .filter(|q| {
            !full.points.iter().any(|p| {
                (p.width, p.height, p.crf) == (q.width, q.height, q.crf)
                    && p.bytes == q.bytes
                    && p.vmaf == q.vmaf
            })
        })
        .map(|q| format!("{}x{}/{}", q.width, q.height, q.crf))
        .collect();
    println!(
        "   fast probes identical to the full grid's points (bytes, VMAF): {}/{}{}",
        fast.points.len() - differ.len(),
        fast.points.len(),
        if differ.is_empty() {
            String::new()
        } else {
            format!(" — DIFFER: {}", differ.join(" "))
        }
    );
    let share = fast.points.len() as f64 / grid.points() as f64;
    match bdrate::bd_rate(
        &curve(&full.points),
        &curve(&fast.points),
        pertitle::Metric::Vmaf,
        Method::Pchip,
    ) {
        Ok(bd) => println!(
            "   fast search: {} of {} encodes ({:.0}%; goal ≤ 40%: {}), hull BD-rate vs full grid {:+.2}% (goal within 1%: {})",
            fast.points.len(),
            grid.points(),
            100.0 * share,
            if share <= 0.4 { "met" } else { "NOT met" },
            bd.bd_rate_percent,
            if bd.bd_rate_percent.abs() <= 1.0 { "met" } else { "NOT met" }
        ),
        Err(e) => println!("   fast search: BD-rate NOT MEASURED: {e}"),
    }
}

fn compare_points(h: &PeerRun, p: &PertitleRun) {
    // (size, Δbytes, |ΔVMAF|, |Δkbps| %) of every point both runs have.
    let mut pairs = Vec::new();
    for q in &h.points {
        if let Some(m) = p.points.iter().find(|x| {
            x.width as usize == q.width && x.height as usize == q.height && x.crf == q.crf as f64
        }) {
            pairs.push((
                (q.width, q.height),
                m.bytes as i64 - q.bytes as i64,
                (m.vmaf - q.vmaf).abs(),
                (100.0 * (m.kbps - q.kbps) / q.kbps).abs(),
            ));
        }
    }
    // The mp4 keeps SPS/PPS in its header (x264's global-header mode) while pertitle's in-memory
    // stream carries them in-band: the same encode differs by that header's size, which depends
    // only on the frame size. A point whose Δbytes is the most common one of its size (and
    // small) has the same slice data.
    let mut counts: BTreeMap<((usize, usize), i64), usize> = BTreeMap::new();
    for (size, db, _, _) in &pairs {
        *counts.entry((*size, *db)).or_default() += 1;
    }
    let header = |size: (usize, usize)| {
        counts
            .iter()
            .filter(|((s, _), _)| *s == size)
            .max_by_key(|(_, n)| **n)
            .map(|((_, db), _)| *db)
            .filter(|db| db.abs() <= 256)
    };
    let same: Vec<(i64, f64, f64)> = pairs
        .iter()
        .filter(|(size, db, _, _)| Some(*db) == header(*size))
        .map(|(_, db, dv, dk)| (*db, *dv, *dk))
        .collect();
    let mut headers: Vec<i64> = same.iter().map(|x| x.0).collect();
    headers.sort();
    headers.dedup();
    let pairs: Vec<(i64, f64, f64)> = pairs
        .iter()
        .map(|(_, db, dv, dk)| (*db, *dv, *dk))
        .collect();
    let max_dv = pairs.iter().map(|x| x.1).fold(0.0, f64::max);
    let max_dv_same = same.iter().map(|x| x.1).fold(0.0, f64::max);
    let max_dk = pairs.iter().map(|x| x.2).fold(0.0, f64::max);
    let max_db = pairs
        .iter()
        .map(|x| x.0)
        .max_by_key(|d| d.abs())
        .unwrap_or(0);
    println!(
        "   points matched {}/{}; same bitstream {}/{} (Δbytes per size {:?} B: SPS/PPS in-band vs in the mp4 header)",
        pairs.len(),
        h.points.len(),
        same.len(),
        pairs.len(),
        headers
    );
    println!(
        "   max |ΔVMAF| {max_dv:.4} (same bitstreams: {max_dv_same:.4}; goal ≤ 0.1), max |Δkbps| {max_dk:.3}% (max Δbytes {max_db})"
    );
}

/// Peak RSS of pertitle on a 1080p grid at several title lengths (issue 6: ≤ 2 GiB and
/// independent of length).
fn memory_runs(jobs: usize, pertitle: &Path) {
    let secs: Vec<u64> = env("PERTITLE_BENCH_MEMORY")
        .map(|s| {
            s.split(',')
                .map(|t| {
                    t.trim()
                        .parse()
                        .expect("PERTITLE_BENCH_MEMORY: seconds list")
                })
                .collect()
        })
        .unwrap_or_default();
    if secs.is_empty() {
        return;
    }
    let small = env("PERTITLE_BENCH_MEMORY_GRID").as_deref() == Some("3x3");
    let sizes = if small {
        vec![(1920, 1080), (960, 540), (480, 270)]
    } else {
        SIZES_1080.to_vec()
    };
    let crfs = if small {
        vec![24, 32, 40]
    } else {
        CRFS.to_vec()
    };
    let grid = Grid {
        sizes: env("PERTITLE_BENCH_MEMORY_SIZES")
            .map(|s| parse_sizes(&s))
            .unwrap_or(sizes),
        crfs: env("PERTITLE_BENCH_MEMORY_CRF")
            .map(|s| parse_crfs(&s))
            .unwrap_or(crfs),
        preset: env("PERTITLE_BENCH_MEMORY_PRESET").unwrap_or_else(|| "medium".into()),
        x264_args: x264_args(24),
    };
    println!();
    println!(
        "== peak memory: pertitle ladder on 1080p, grid {}×{} ({}), preset {}, --threads {jobs} ({})",
        grid.sizes.len(),
        grid.crfs.len(),
        grid.sizes_arg(),
        grid.preset,
        pertitle.display()
    );
    for s in secs {
        let clip = clips::mp4("mixed", 1920, 1080, 24, s * 24);
        match run_pertitle(&clip.path, &grid, jobs, &[]) {
            Ok(r) => println!(
                "   {s:>5} s ({:>6} frames): peak RSS {:>7.0} MiB  wall {:>8.1} s  CPU {:>8.1} s   (goal ≤ 2048 MiB: {})",
                clip.frames,
                r.maxrss_mib,
                r.wall,
                r.cpu,
                if r.maxrss_mib <= 2048.0 { "met" } else { "NOT met" }
            ),
            Err(e) => println!("   {s:>5} s: NOT MEASURED: {e}"),
        }
    }
}

/// Issue 7 item 4: a long 1080p title through `score` and a 3×3 `ladder`, peak RSS of each.
fn long_title(jobs: usize) {
    let Some(secs) = env("PERTITLE_BENCH_LONG") else {
        return;
    };
    let secs: u64 = secs.trim().parse().expect("PERTITLE_BENCH_LONG: seconds");
    let preset = env("PERTITLE_BENCH_LONG_PRESET").unwrap_or_else(|| "medium".into());
    let clip = clips::mp4("mixed", 1920, 1080, 24, secs * 24);
    println!();
    println!(
        "== long title: {}x{} {} frames ({} s), {}",
        clip.width,
        clip.height,
        clip.frames,
        secs,
        clip.path.display()
    );
    let mut c = Command::new(pertitle_bin());
    c.arg("score")
        .arg(&clip.path)
        .arg(&clip.path)
        .args(["-q", "--threads", &jobs.to_string()]);
    match proc::run(&mut c) {
        Ok(r) => println!(
            "   score (title vs itself): peak RSS {:.0} MiB  wall {:.1} s  CPU {:.1} s ({:.1} fps)   (goal ≤ 2048 MiB: {})",
            r.usage.maxrss_kib as f64 / 1024.0,
            r.wall,
            r.usage.cpu(),
            clip.frames as f64 / r.wall,
            if r.usage.maxrss_kib <= 2048 * 1024 { "met" } else { "NOT met" }
        ),
        Err(e) => println!("   score: NOT MEASURED: {e}"),
    }
    let grid = Grid {
        sizes: vec![(1920, 1080), (960, 540), (480, 270)],
        crfs: vec![24, 32, 40],
        preset,
        x264_args: x264_args(clip.fps),
    };
    match run_pertitle(&clip.path, &grid, jobs, &[]) {
        Ok(r) => println!(
            "   ladder 3×3 ({}, crf {}, preset {}): peak RSS {:.0} MiB  wall {:.1} s  CPU {:.1} s   (goal ≤ 2048 MiB: {})",
            grid.sizes_arg(),
            grid.crfs_arg(),
            grid.preset,
            r.maxrss_mib,
            r.wall,
            r.cpu,
            if r.maxrss_mib <= 2048.0 { "met" } else { "NOT met" }
        ),
        Err(e) => println!("   ladder 3×3: NOT MEASURED: {e}"),
    }
}

/// `frames` frames of the titles benchmark's 720p sport title centred on its first cut, as y4m
/// (made once, kept in the clip cache).
fn sport_clip(frames: u64) -> Clip {
    // 10 s: the first shot is 6 s and the second 3.5 s, so the window stays inside both.
    let kind = &titles::KINDS[1];
    let path = titles::around_first_cut(kind, 10.0, (1280, 720), frames, "pipeline-sport");
    Clip {
        name: "sport".into(),
        path,
        width: 1280,
        height: 720,
        fps: 24,
        frames,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // must not start a run of many minutes.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("pipeline: a benchmark; run it with `cargo bench --bench pipeline`");
        return;
    }
    let mode = env("PERTITLE_BENCH").unwrap_or_else(|| "full".into());
    let quick = mode == "quick";
    let jobs = env_num("PERTITLE_BENCH_JOBS", proc::cores());
    let verbose = env("PERTITLE_BENCH_VERBOSE").is_some();
    let pertitle = pertitle_bin();
    let preset = env("PERTITLE_BENCH_PRESET").unwrap_or_else(|| "medium".into());
    let which = env("PERTITLE_BENCH_CLIPS").unwrap_or_else(|| {
        if quick {
            "demo".into()
        } else {
            "demo,sport,1080p".into()
        }
    });

    println!(
        "pertitle pipeline benchmark ({mode}): {} cores, {jobs} parallel jobs, load {}, libvmaf {}, {}",
        proc::cores(),
        proc::loadavg(),
        libvmaf::version(),
        ffmpeg_version()
    );
    println!("   pertitle binary: {}", pertitle.display());

    for name in which.split(',').map(str::trim) {
        let (clip, source, default_sizes) = match name {
            "demo" | "720p" => {
                let c = clips::demo();
                (c, "the built-in demo clip".to_string(), SIZES_720.to_vec())
            }
            "1080p" => {
                let frames = env_num("PERTITLE_BENCH_FRAMES_1080", 132u64);
                (
                    clips::y4m("mixed", 1920, 1080, 24, frames),
                    "ffmpeg lavfi, mixed content".to_string(),
                    SIZES_1080.to_vec(),
                )
            }
            "sport" => (
                sport_clip(132),
                "the titles benchmark's sport title across its first cut: grainy pan, cut, grainy zoom"
                    .to_string(),
                SIZES_720.to_vec(),
            ),
            other => panic!("PERTITLE_BENCH_CLIPS: unknown clip {other:?} (demo, 1080p, sport)"),
        };
        let sizes = match env("PERTITLE_BENCH_SIZES") {
            Some(s) => parse_sizes(&s),
            None if quick => default_sizes[default_sizes.len() - 2..].to_vec(),
            None => default_sizes,
        };
        let crfs = match env("PERTITLE_BENCH_CRF") {
            Some(s) => parse_crfs(&s),
            None if quick => vec![28, 36],
            None => CRFS.to_vec(),
        };
        let grid = Grid {
            sizes,
            crfs,
            preset: preset.clone(),
            x264_args: x264_args(clip.fps),
        };
        bench_clip(&clip, &source, &grid, jobs, verbose);
    }
    memory_runs(jobs, &pertitle);
    long_title(jobs);
    println!();
    println!("   load at end: {}", proc::loadavg());
}

fn ffmpeg_version() -> String {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split(" Copyright").next().unwrap_or(l).to_string())
        })
        .unwrap_or_else(|| "ffmpeg ?".into())
}
