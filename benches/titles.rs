//! Whole titles (issue 15): generated multi-shot titles with cuts at known frames, run through the
//! ladder three ways in one run on the same machine — the **chunked full grid** (the default),
//! the **sampled** grid (`--sample`) and the **unchunked** full grid (`--no-chunks`, each point one
//! stream) — printing wall, CPU, peak RSS, compute-minutes per minute of content, the share of
//! the title encoded, the sample's own error estimate, and BD-rates (pchip, VMAF) of sampled vs
//! chunked-full hulls (the sampling's error) and chunked vs unchunked (the chunking's own
//! effect). Shot detection is scored against the known cuts (recall within ±1 frame, false
//! cuts).
//!
//! `cargo bench --bench titles`; see benches/README.md for the variables (title length and
//! size, grid, preset, which modes, which kinds of content).

#[path = "support/proc.rs"]
mod proc;
#[path = "support/titles.rs"]
mod titles;

use titles::{title, Title, KINDS};

use pertitle::bdrate::{self, Method};
use pertitle::points::Metric;
use std::path::{Path, PathBuf};
use std::process::Command;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One ladder run's costs and summary.
struct Run {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    summary: serde_json::Value,
    out: PathBuf,
}

fn pertitle_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/pertitle")
}

fn ladder(t: &Title, mode: &str, extra: &[&str], grid: &Grid, work: &Path) -> Run {
    let out = work.join(format!("{}-{mode}", t.name));
    let mut cmd = Command::new(pertitle_bin());
    cmd.arg("ladder")
        .arg(&t.path)
        .args([
            "--sizes",
            &grid.sizes,
            "--crf",
            &grid.crf,
            "--preset",
            &grid.preset,
        ])
        .arg("--recipe")
        .arg(&grid.recipe)
        .args(["--no-cache", "--json", "-q", "--out"])
        .arg(&out)
        .args(extra);
    let c = proc::run(&mut cmd).unwrap_or_else(|e| panic!("{mode} run of {}: {e}", t.name));
    Run {
        wall: c.wall,
        cpu: c.usage.cpu(),
        rss_mib: c.usage.maxrss_kib as f64 / 1024.0,
        summary: serde_json::from_str(&c.stdout).expect("--json summary"),
        out,
    }
}

struct Grid {
    sizes: String,
    crf: String,
    preset: String,
    /// The default x264 recipe with `[scoring] metrics` replaced (the hull is on VMAF; PSNR and
    /// SSIM cost scoring time the comparison does not use).
    recipe: PathBuf,
}

/// Recall within ±1 frame of the known cuts, and detected cuts matching none.
fn shot_accuracy(t: &Title, run: &Run) -> (usize, usize, usize) {
    let text = std::fs::read_to_string(run.out.join("shots.csv")).unwrap_or_default();
    let found: Vec<u64> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .filter(|&s: &u64| s > 0)
        .collect();
    let near = |a: u64, b: u64| a.abs_diff(b) <= 1;
    let hit = t
        .cuts
        .iter()
        .filter(|&&c| found.iter().any(|&f| near(c, f)))
        .count();
    let false_cuts = found
        .iter()
        .filter(|&&f| !t.cuts.iter().any(|&c| near(c, f)))
        .count();
    (hit, t.cuts.len(), false_cuts)
}

fn bd(a: &Run, b: &Run) -> String {
    match bdrate::bd_rate_files(
        &a.out.join("points.json"),
        &b.out.join("points.json"),
        Metric::Vmaf,
        Method::Pchip,
    ) {
        Ok(r) => format!("{:+.2} %", r.bd_rate_percent),
        Err(e) => format!("n/a ({e})"),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("titles benchmark: run with `cargo bench --bench titles` (it measures, it does not test)");
        return;
    }
    let seconds: f64 = env_num("PERTITLE_BENCH_TITLE_SECONDS", 180.0);
    let (w, h): (usize, usize) = match env("PERTITLE_BENCH_TITLE_SIZE").as_deref() {
        Some("1080p") => (1920, 1080),
        _ => (1280, 720),
    };
    let work = std::env::temp_dir().join(format!("pertitle-titles-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let metrics = env("PERTITLE_BENCH_METRICS").unwrap_or_else(|| "vmaf".into());
    let recipe = work.join("recipe.toml");
    let x264 = include_str!("../recipes/x264.toml");
    let list: Vec<String> = metrics
        .split(',')
        .map(|m| format!("{:?}", m.trim()))
        .collect();
    let text: String = x264
        .lines()
        .map(|l| {
            if l.starts_with("metrics =") {
                format!("metrics = [{}]", list.join(", "))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&recipe, text + "\n").expect("bench recipe");
    let grid = Grid {
        recipe,
        sizes: env("PERTITLE_BENCH_SIZES").unwrap_or_else(|| {
            if h == 1080 {
                "1920x1080,1280x720,960x540,640x360,480x270".into()
            } else {
                "1280x720,960x540,640x360,480x270".into()
            }
        }),
        crf: env("PERTITLE_BENCH_CRF").unwrap_or_else(|| "22,28,34,40".into()),
        preset: env("PERTITLE_BENCH_PRESET").unwrap_or_else(|| "veryfast".into()),
    };
    let _ = &work;
    let modes = env("PERTITLE_BENCH_MODES").unwrap_or_else(|| "chunked,sampled,unchunked".into());
    let modes: Vec<&str> = modes.split(',').map(str::trim).collect();
    let kinds = env("PERTITLE_BENCH_KINDS").unwrap_or_else(|| "talking,sport,animation".into());
    assert!(
        pertitle_bin().exists(),
        "build the release binary first: cargo build --release"
    );
    println!(
        "titles benchmark on {} ({} cores), load {}",
        proc::cpu_model(),
        proc::cores(),
        proc::loadavg()
    );
    println!(
        "titles: {seconds} s at {w}x{h} 24 fps; grid {} x CRF {}, x264 preset {}, metrics {metrics}",
        grid.sizes, grid.crf, grid.preset
    );
    println!(
        "{:<10} {:<10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7} {:>9} {:>6}",
        "title",
        "mode",
        "wall s",
        "cpu s",
        "rss MiB",
        "cpu-min/min",
        "tasks",
        "chunks",
        "encoded",
        "shots"
    );
    for kind in KINDS.iter().filter(|k| kinds.contains(k.name)) {
        let t = title(kind, seconds, (w, h));
        let mut runs: Vec<(&str, Run)> = Vec::new();
        for &mode in &modes {
            let extra: &[&str] = match mode {
                "chunked" => &[],
                "sampled" => &["--sample"],
                "sampled-fast" => &["--sample", "--search", "fast"],
                "unchunked" => &["--no-chunks"],
                other => panic!("unknown mode {other}"),
            };
            let r = ladder(&t, mode, extra, &grid, &work);
            let s = &r.summary;
            let encoded = s["sample"]["fraction"]
                .as_f64()
                .map_or("100 %".to_string(), |f| format!("{:.1} %", f * 100.0));
            println!(
                "{:<10} {:<10} {:>8.1} {:>8.1} {:>8.0} {:>9.2} {:>7} {:>7} {:>9} {:>6}",
                t.name,
                mode,
                r.wall,
                r.cpu,
                r.rss_mib,
                r.cpu / 60.0 / (t.frames as f64 / t.fps as f64 / 60.0),
                s["encoded"],
                s["chunks"],
                encoded,
                s["shots"]
            );
            if let Some(sm) = s.get("sample") {
                println!(
                    "{:<21} sample: {} chunks, estimated error ±{:.2} % kbps, ±{:.2} VMAF",
                    "",
                    sm["chunks"],
                    sm["kbps_error_pct"].as_f64().unwrap_or(f64::NAN),
                    sm["quality_error"].as_f64().unwrap_or(f64::NAN)
                );
            }
            runs.push((mode, r));
        }
        let get = |m: &str| runs.iter().find(|(k, _)| *k == m).map(|(_, r)| r);
        if let Some(c) = get("chunked") {
            let (hit, n, false_cuts) = shot_accuracy(&t, c);
            println!(
                "{:<21} shots: {hit}/{n} known cuts found within ±1 frame ({:.1} %), {false_cuts} false cuts",
                "",
                100.0 * hit as f64 / n.max(1) as f64
            );
            for m in ["sampled", "sampled-fast"] {
                if let Some(s) = get(m) {
                    println!(
                        "{:<21} {m} vs chunked full: BD-rate {} (pchip, VMAF), wall {:.2}x, frames encoded {}",
                        "",
                        bd(c, s),
                        s.wall / c.wall,
                        s.summary["sample"]["fraction"]
                            .as_f64()
                            .map_or("100 %".into(), |f| format!("{:.1} %", f * 100.0))
                    );
                }
            }
            if let Some(u) = get("unchunked") {
                println!(
                    "{:<21} chunked vs unchunked: BD-rate {} (pchip, VMAF), wall {:.2}x, cpu {:.2}x, rss {:.2}x",
                    "",
                    bd(u, c),
                    c.wall / u.wall,
                    c.cpu / u.cpu,
                    c.rss_mib / u.rss_mib
                );
            }
        }
    }
    println!("load after: {}", proc::loadavg());
    let _ = std::fs::remove_dir_all(&work);
}
