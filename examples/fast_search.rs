//! Measures `--search fast` against the full grid: encodes used, BD-rate (PCHIP, VMAF) of the
//! fast hull against the full hull, wall and CPU time of both. Prints one block per clip.
//!
//! ```text
//! cargo run --release --example fast_search -- DIR [--sizes WxH,...] [CLIP...]
//! ```
//! CLIPs: `demo` (the built-in 1280×720 clip, 5 sizes × 6 CRFs) and the generated 640×360,
//! 48-frame clips `noise` (testsrc2 + temporal noise), `mandel` (mandelbrot zoom), `flat` (slow
//! gradients), `scroll` (a test pattern scrolling diagonally) and `grain` (a slow gradient under
//! soft grain), each with sizes 640x360,480x270,320x180 (or `--sizes`) and CRF 20..40 step 4.
//! Default: the generated clips. The full grid is stored under `DIR/cache-<clip>` (so a second
//! run reuses it and its time is the first run's) and written to `DIR/<clip>[-<n>sizes]-full-points.json`
//! for `search_replay`; the fast search always encodes afresh (no store).

use pertitle::bdrate::{self, Method};
use pertitle::media::{self, InputOptions, Y4mWriter};
use pertitle::output;
use pertitle::pipeline::RunOptions;
use pertitle::recipe::{Recipe, Size};
use pertitle::run::{Input, LadderRun, Search};
use pertitle::store::Store;
use pertitle::Metric;
use std::path::{Path, PathBuf};
use std::time::Instant;

const GENERATED: [(&str, &str); 5] = [
    (
        "noise",
        "testsrc2=s=640x360:r=24,noise=alls=14:allf=t+u,format=yuv420p",
    ),
    ("mandel", "mandelbrot=s=640x360:r=24,format=yuv420p"),
    (
        "flat",
        "gradients=s=640x360:r=24:speed=0.02:n=3,format=yuv420p",
    ),
    // Checked on, not tuned on: a test pattern scrolling diagonally (sharp edges, global
    // motion), and a slow gradient under soft grain (temporal noise, blurred so it is
    // spatially correlated like film grain; low motion).
    (
        "scroll",
        "testsrc=s=640x360:r=24,scroll=h=0.004:v=0.002,format=yuv420p",
    ),
    (
        "grain",
        "gradients=s=640x360:r=24:speed=0.005:n=4,noise=alls=10:allf=t,gblur=sigma=1.5,format=yuv420p",
    ),
];

/// Process CPU time (user + system, all threads), seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn generated(dir: &Path, name: &str, graph: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.y4m"));
    if !path.exists() {
        let mut src = media::lavfi_source(graph, 640, 360, (24, 1), 48)?;
        let info = src.info().clone();
        let tmp = dir.join(format!("{name}.y4m.tmp"));
        let mut w = Y4mWriter::create(&tmp, info.format, (24, 1))?;
        while let Some(f) = src.next_frame()? {
            w.write(&f)?;
        }
        w.finish()?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir =
        PathBuf::from(args.next().ok_or_else(|| {
            anyhow::anyhow!("usage: fast_search DIR [demo|noise|mandel|flat ...]")
        })?);
    std::fs::create_dir_all(&dir)?;
    let mut clips: Vec<String> = Vec::new();
    let mut sizes: Option<String> = None;
    while let Some(a) = args.next() {
        if a == "--sizes" {
            sizes =
                Some(args.next().ok_or_else(|| {
                    anyhow::anyhow!("--sizes needs a list such as 640x360,320x180")
                })?);
        } else {
            clips.push(a);
        }
    }
    if clips.is_empty() {
        clips = GENERATED.iter().map(|(n, _)| n.to_string()).collect();
    }
    let opts = RunOptions::default();
    let quiet = |_e: pertitle::pipeline::Event| true;
    for clip in &clips {
        let mut recipe = Recipe::default_for("libx264")?;
        let input = if clip == "demo" {
            recipe.grid.sizes = Some(Size::parse_list(
                "1280x720,960x540,768x432,640x360,480x270",
                "sizes",
            )?);
            Input::Demo
        } else {
            let graph = GENERATED
                .iter()
                .find(|(n, _)| n == clip)
                .map(|(_, g)| *g)
                .ok_or_else(|| anyhow::anyhow!("unknown clip {clip:?}"))?;
            recipe.grid.sizes = Some(Size::parse_list(
                sizes.as_deref().unwrap_or("640x360,480x270,320x180"),
                "sizes",
            )?);
            Input::File {
                path: generated(&dir, clip, graph)?,
                options: InputOptions::default(),
            }
        };
        let store = Store::open(dir.join(format!("cache-{clip}")))?;
        let (w0, c0) = (Instant::now(), cpu_seconds());
        let full = LadderRun::new(&input, &recipe)
            .store(Some(&store))
            .options(opts.clone())
            .run(&quiet)?;
        let (full_wall, full_cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        std::fs::write(
            dir.join(match (&sizes, clip.as_str()) {
                (Some(list), c) if c != "demo" => {
                    format!("{clip}-{}sizes-full-points.json", list.split(',').count())
                }
                _ => format!("{clip}-full-points.json"),
            }),
            output::points_json(&full.source, &full.points)?,
        )?;
        let (w0, c0) = (Instant::now(), cpu_seconds());
        let fast = LadderRun::new(&input, &recipe)
            .options(opts.clone())
            .search(Search::Fast(Default::default()))
            .run(&quiet)?;
        let stats = fast.search.clone().expect("a fast run has search stats");
        let (fast_wall, fast_cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let curve = |pts: &[pertitle::Point]| -> Vec<(f64, f64)> {
            pts.iter().map(|p| (p.kbps, p.vmaf)).collect()
        };
        let bd = bdrate::bd_rate(
            &pertitle::hull::upper_hull_pairs(&curve(&full.points)),
            &pertitle::hull::upper_hull_pairs(&curve(&fast.points)),
            Metric::Vmaf,
            Method::Pchip,
        )?;
        let probes: Vec<String> = fast
            .points
            .iter()
            .map(|p| format!("{}p/{}", p.height, p.crf))
            .collect();
        println!("{clip}: {}", stats.summary());
        println!("  probes: {}", probes.join(" "));
        println!(
            "  full grid: {} points ({} encoded now), wall {:.1} s, cpu {:.1} s",
            full.points.len(),
            full.encoded,
            full_wall,
            full_cpu
        );
        println!(
            "  fast: {} points ({} encoded now), wall {:.1} s, cpu {:.1} s; wall ratio fast/full {:.2}, cpu ratio {:.2}",
            fast.points.len(),
            stats.encoded,
            fast_wall,
            fast_cpu,
            fast_wall / full_wall,
            fast_cpu / full_cpu
        );
        println!(
            "  hull BD-rate fast vs full (pchip, vmaf): {:+.3} % over vmaf {:.2}–{:.2}; rungs full {} fast {}",
            bd.bd_rate_percent,
            bd.overlap[0],
            bd.overlap[1],
            full.ladder.rungs.len(),
            fast.ladder.rungs.len()
        );
    }
    Ok(())
}
