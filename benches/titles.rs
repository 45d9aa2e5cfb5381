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

/// A kind of title: shots drawn in turn from its sources, lengths from a fixed sequence.
struct Kind {
    name: &'static str,
    /// libavfilter source chains at `{W}x{H}`, `{R}` fps; `{S}` is a per-shot seed/offset.
    shots: &'static [&'static str],
}

/// Three titles of different character, as the issue asks (talking heads, sport/action,
/// animation/graphics mixes). Every source has camera motion or texture or grain; seeds fixed.
const KINDS: [Kind; 3] = [
    Kind {
        name: "talking",
        // Static or slowly drifting framings with sensor noise: a face-like detailed region on a
        // soft background, a two-shot, a wide shot.
        shots: &[
            "mandelbrot=s=480x270:r={R}:maxiter=96:start_x=-0.7436{S}:start_y=0.1318:start_scale=0.02:end_scale=0.019:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,noise=alls=5:allf=t+u:all_seed={S}",
            "gradients=s=640x360:r={R}:c0=0x3a2a1a:c1=0xb08060:x0=100:y0=0:x1=540:y1=360:speed=0.004:seed={S},scale={W}:{H}:flags=bicubic,noise=alls=6:allf=t+u:all_seed={S}",
            "testsrc2=s=640x360:r={R},scroll=horizontal=0.0008,boxblur=2,scale={W}:{H}:flags=bicubic,noise=alls=4:allf=t+u:all_seed={S}",
        ],
    },
    Kind {
        name: "sport",
        // Fast pans over texture, zooms, heavy grain.
        shots: &[
            "testsrc2=s={W}x{H}:r={R},scroll=horizontal=0.021:vertical=0.004,noise=alls=14:allf=t+u:all_seed={S}",
            "mandelbrot=s=480x270:r={R}:maxiter=128:start_x=-0.743643887:start_y=0.131825904:start_scale=0.05:end_scale=0.004:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,noise=alls=10:allf=t+u:all_seed={S}",
            "mandelbrot=s=480x270:r={R}:maxiter=64:start_x=-1.25066:start_y=0.02012:start_scale=0.002:end_scale=0.002:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,scroll=horizontal=0.012:vertical=0.006,noise=alls=18:allf=t+u:all_seed={S}",
        ],
    },
    Kind {
        name: "animation",
        // Flat colours and sharp edges, moving graphics.
        shots: &[
            "smptebars=s={W}x{H}:r={R},scroll=vertical=0.003",
            "gradients=s={W}x{H}:r={R}:c0=0xff3050:c1=0x20c0ff:x0=0:y0=0:x1={W}:y1={H}:speed=0.03:seed={S}",
            "life=s=320x180:r={R}:mold=10:ratio=0.2:seed={S}:life_color=#ffd040:death_color=#203060:mold_color=#406080,scale={W}:{H}:flags=neighbor",
            "testsrc=s={W}x{H}:r={R}",
        ],
    },
];

/// Shot lengths in seconds, cycled: 2 s to 14 s, so chunking both merges and splits.
const SHOT_SECONDS: [f64; 9] = [6.0, 3.5, 11.0, 2.5, 8.0, 14.0, 4.0, 2.0, 7.5];

/// A generated title and where its shots start.
struct Title {
    name: String,
    path: PathBuf,
    frames: u64,
    fps: u32,
    cuts: Vec<u64>,
}

fn clip_dir() -> PathBuf {
    let dir = std::env::var_os("PERTITLE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-clips"));
    std::fs::create_dir_all(&dir).expect("create clip directory");
    dir
}

/// The title of `kind`, `seconds` long at `w`×`h`, 24 fps, as near-lossless H.264 (generated
/// once with the ffmpeg CLI, kept between runs).
fn title(kind: &Kind, seconds: f64, (w, h): (usize, usize)) -> Title {
    let fps = 24u32;
    let frames = (seconds * fps as f64).round() as u64;
    let mut parts = Vec::new();
    let mut labels = String::new();
    let mut cuts = Vec::new();
    let (mut at, mut k) = (0u64, 0usize);
    while at < frames {
        let n = ((SHOT_SECONDS[k % SHOT_SECONDS.len()] * fps as f64) as u64).min(frames - at);
        let src = kind.shots[k % kind.shots.len()]
            .replace("{W}", &w.to_string())
            .replace("{H}", &h.to_string())
            .replace("{R}", &fps.to_string())
            .replace("{S}", &(11 + k * 7).to_string());
        parts.push(format!(
            "{src},format=yuv420p,setsar=1,trim=end_frame={n},setpts=PTS-STARTPTS[s{k}]"
        ));
        labels.push_str(&format!("[s{k}]"));
        if at > 0 {
            cuts.push(at);
        }
        at += n;
        k += 1;
    }
    let path = clip_dir().join(format!("title-{}-{w}x{h}-{frames}f.mp4", kind.name));
    if !path.exists() {
        eprintln!("generating {} ...", path.display());
        let tmp = path.with_extension("part.mp4");
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
            .arg("-filter_complex")
            .arg(format!(
                "{};{labels}concat=n={k}:v=1:a=0[out]",
                parts.join(";")
            ))
            .args(["-map", "[out]", "-frames:v", &frames.to_string()])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "10",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&tmp);
        proc::run(&mut cmd).unwrap_or_else(|e| panic!("generating {}: {e}", path.display()));
        std::fs::rename(&tmp, &path).expect("rename title");
    }
    Title {
        name: kind.name.into(),
        path,
        frames,
        fps,
        cuts,
    }
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
