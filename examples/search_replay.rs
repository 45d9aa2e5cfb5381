//! Replays `--search fast` over a full grid's `points.json`, without encoding: which points the
//! fast search would probe (with batches of 1, 2 and 3 probes per round; 2 is the default), how
//! many against the grid, the BD-rate (PCHIP) of its hull against the full grid's hull, and
//! which of the full hull's points it did not probe. Same probes as a real fast run on the same
//! title (`examples/fast_search.rs` writes the full grids' points files it replays).
//!
//! `cargo run --release --example search_replay -- reports/demo/points.json [vmaf|psnr|ssim]`
//!
//! With a second points file instead of the metric (`FULL.json FAST.json`), prints the BD-rate
//! (PCHIP, VMAF) of the second file's hull against the first's (e.g. a real `--search fast`
//! run against the full grid).

use pertitle::bdrate::{self, Method};
use pertitle::search::{self, FastOptions};
use pertitle::Metric;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: search_replay POINTS.json [METRIC]"))?;
    let second = args.next();
    if let Some(other) = second.as_deref().filter(|s| s.ends_with(".json")) {
        let bd = bdrate::bd_rate_files(path.as_ref(), other.as_ref(), Metric::Vmaf, Method::Pchip)?;
        println!(
            "BD-rate of {other} against {path} (pchip, vmaf): {:+.3} % over vmaf {:.2}–{:.2}",
            bd.bd_rate_percent, bd.overlap[0], bd.overlap[1]
        );
        return Ok(());
    }
    let metric = match second {
        Some(m) => Metric::parse(&m).ok_or_else(|| anyhow::anyhow!("unknown metric {m:?}"))?,
        None => Metric::Vmaf,
    };
    let file = pertitle::ladder::read_points_json(path.as_ref())?;
    let codec = file.points[0].codec.clone();
    let points: Vec<_> = file
        .points
        .into_iter()
        .filter(|p| p.codec == codec)
        .collect();
    let full: Vec<(f64, f64)> = points.iter().map(|p| (p.kbps, metric.of(p))).collect();
    let label = |p: &pertitle::Point| format!("{}p/{}", p.height, p.crf);
    // The full grid's hull points, to see which ones a search misses.
    let full_hull = pertitle::hull::upper_hull_pairs(&full);
    let on_full_hull = |p: &pertitle::Point| full_hull.contains(&(p.kbps, metric.of(p)));
    let hull_labels: Vec<String> = points
        .iter()
        .filter(|p| on_full_hull(p))
        .map(label)
        .collect();
    println!(
        "full hull: {} points: {}",
        hull_labels.len(),
        hull_labels.join(" ")
    );
    for batch in [1, 2, 3] {
        let picked = search::replay(
            &points,
            metric,
            &codec,
            &FastOptions {
                batch,
                ..FastOptions::default()
            },
        )?;
        let fast: Vec<(f64, f64)> = picked.iter().map(|p| (p.kbps, metric.of(p))).collect();
        let bd = bdrate::bd_rate(
            &pertitle::hull::upper_hull_pairs(&full),
            &pertitle::hull::upper_hull_pairs(&fast),
            metric,
            Method::Pchip,
        )?;
        let list: Vec<String> = picked.iter().map(label).collect();
        let missed: Vec<String> = points
            .iter()
            .filter(|p| on_full_hull(p) && !picked.iter().any(|q| q.key == p.key))
            .map(label)
            .collect();
        println!(
            "batch {batch}: {} of {} points ({:.0} %), BD-rate {:+.3} % over {} {:.2}–{:.2}: {}",
            picked.len(),
            points.len(),
            100.0 * picked.len() as f64 / points.len() as f64,
            bd.bd_rate_percent,
            metric,
            bd.overlap[0],
            bd.overlap[1],
            list.join(" ")
        );
        println!("  full hull points not probed: {}", missed.join(" "));
    }
    Ok(())
}
