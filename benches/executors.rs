//! The Slurm executor against the local one on the same machine (issue 16): the demo title and a
//! generated 2-minute title (camera motion, texture, grain, cuts), each run both ways from an
//! empty store, in turn (local, slurm, local, slurm, ...), printing wall seconds, the ratio, and
//! the Slurm driver's own costs (planning, submission, assembly of the outputs from the store).
//!
//! `cargo bench --bench executors`. It starts its own single-node cluster with
//! `scripts/slurm-cluster` in `target/slurm-bench` (root, slurm-wlm and munge installed: see
//! scripts/setup) unless `SLURM_CONF` names a running one, and stops it at the end. Variables:
//! `PERTITLE_BENCH_PAIRS` (default 1), `PERTITLE_BENCH_TITLES` (`demo,title`),
//! `PERTITLE_BENCH_TITLE_SECONDS` (120), `PERTITLE_BENCH_SIZES` and `PERTITLE_BENCH_CRF` for the
//! title's grid (default 1280x720,960x540,640x360,480x270 × 22,28,34,40, x264 veryfast),
//! `PERTITLE_BENCH_SLURM_ARGS` (extra flags of the Slurm runs, e.g. `--cpus-per-task 2`).

#[path = "support/proc.rs"]
mod proc;
#[path = "support/titles.rs"]
#[allow(dead_code)] // the cut positions are the titles benchmark's
mod titles;

use std::path::{Path, PathBuf};
use std::process::Command;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A cluster this benchmark started, stopped when dropped.
struct Cluster(Option<PathBuf>);

impl Cluster {
    fn start() -> Cluster {
        if std::env::var_os("SLURM_CONF").is_some() {
            return Cluster(None);
        }
        let dir = root().join("target/slurm-bench");
        let o = Command::new(root().join("scripts/slurm-cluster"))
            .arg("start")
            .arg(&dir)
            .output()
            .expect("scripts/slurm-cluster");
        assert!(
            o.status.success(),
            "starting the cluster: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let conf = dir.join("etc/slurm.conf");
        std::env::set_var("SLURM_CONF", &conf);
        Cluster(Some(dir))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = Command::new(root().join("scripts/slurm-cluster"))
                .arg("stop")
                .arg(dir)
                .output();
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

struct Timing {
    wall: f64,
    /// The driver's own phases (Slurm runs only): planning, submission, waiting, assembly.
    phases: Vec<(String, f64)>,
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    let at = text.find(key)? + key.len();
    text[at..]
        .split_whitespace()
        .next()?
        .trim_end_matches(',')
        .parse()
        .ok()
}

fn run(args: &[String], slurm: bool, work: &Path, extra: &[String]) -> Timing {
    let store = work.join(if slurm { "store-slurm" } else { "store-local" });
    let out = work.join(if slurm { "out-slurm" } else { "out-local" });
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new(root().join("target/release/pertitle"));
    cmd.arg("ladder")
        .args(args)
        .arg("--cache")
        .arg(&store)
        .arg("--out")
        .arg(&out)
        .args(["-q", "-v"]);
    if slurm {
        cmd.args(["--executor", "slurm"]).args(extra);
    }
    let c = proc::run(&mut cmd).unwrap_or_else(|e| panic!("pertitle ladder: {e}"));
    let mut phases = Vec::new();
    if slurm {
        for (name, key) in [
            ("plan", "planned the elements in "),
            ("submit", "submitted in "),
            ("wait", "all results in the store after "),
            ("assemble", "from the store in "),
        ] {
            if let Some(v) = number_after(&c.stderr, key) {
                phases.push((name.to_string(), v));
            }
        }
    }
    Timing {
        wall: c.wall,
        phases,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let pairs: usize = env("PERTITLE_BENCH_PAIRS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let which = env("PERTITLE_BENCH_TITLES").unwrap_or_else(|| "demo,title".into());
    let seconds: f64 = env("PERTITLE_BENCH_TITLE_SECONDS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(120.0);
    let sizes =
        env("PERTITLE_BENCH_SIZES").unwrap_or_else(|| "1280x720,960x540,640x360,480x270".into());
    let crf = env("PERTITLE_BENCH_CRF").unwrap_or_else(|| "22,28,34,40".into());
    let extra: Vec<String> = env("PERTITLE_BENCH_SLURM_ARGS")
        .map(|v| v.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "pertitle"])
        .current_dir(root())
        .status()
        .expect("cargo build");
    assert!(status.success());
    let _cluster = Cluster::start();
    let work = root().join("target/bench-executors");
    std::fs::create_dir_all(&work).expect("work directory");
    println!(
        "executors: local vs slurm (single-node cluster on this machine), {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!("slurm runs' extra flags: {extra:?}; {pairs} pair(s) per title, each run from an empty store");
    for name in which.split(',').map(str::trim) {
        let (label, args): (String, Vec<String>) = match name {
            "demo" => ("demo (default recipe, 2 chunks)".into(), Vec::new()),
            "title" => {
                let t = titles::title(&titles::KINDS[1], seconds, (1280, 720));
                (
                    format!(
                        "{} {:.0} s 1280x720 ({} frames), {sizes} x {crf}, veryfast",
                        t.name, seconds, t.frames
                    ),
                    vec![
                        t.path.display().to_string(),
                        "--sizes".into(),
                        sizes.clone(),
                        "--crf".into(),
                        crf.clone(),
                        "--preset".into(),
                        "veryfast".into(),
                    ],
                )
            }
            other => panic!("PERTITLE_BENCH_TITLES: unknown title {other:?} (demo, title)"),
        };
        let (mut local, mut slurm) = (Vec::new(), Vec::new());
        let mut phases: Vec<Vec<(String, f64)>> = Vec::new();
        for _ in 0..pairs {
            local.push(run(&args, false, &work, &extra).wall);
            let s = run(&args, true, &work, &extra);
            slurm.push(s.wall);
            phases.push(s.phases);
        }
        let same = ["points.json", "ladder.toml"].iter().all(|f| {
            std::fs::read(work.join("out-local").join(f)).ok()
                == std::fs::read(work.join("out-slurm").join(f)).ok()
        });
        let ratios: Vec<f64> = slurm.iter().zip(&local).map(|(s, l)| s / l).collect();
        println!("\n{label}");
        println!(
            "  local  wall {:>8.1} s (median of {})  runs {:?}",
            median(local.clone()),
            local.len(),
            local
                .iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
        println!(
            "  slurm  wall {:>8.1} s (median of {})  runs {:?}",
            median(slurm.clone()),
            slurm.len(),
            slurm
                .iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
        println!(
            "  slurm / local = {:.3} (median of pair ratios; overhead {:+.1} %)",
            median(ratios.clone()),
            (median(ratios) - 1.0) * 100.0
        );
        if let Some(p) = phases.last() {
            let text: Vec<String> = p.iter().map(|(n, v)| format!("{n} {v:.2} s")).collect();
            println!("  slurm driver phases (last run): {}", text.join(", "));
        }
        println!(
            "  points.json and ladder.toml byte-identical: {}",
            if same { "yes" } else { "NO" }
        );
    }
}
