//! Grid runs: `--search fast` against the full grid on a small generated clip.

use pertitle::bdrate::{self, Method};
use pertitle::pipeline::RunOptions;
use pertitle::recipe::{Recipe, Size};
use pertitle::run::{LadderRun, Outcome, Search};
use pertitle::store::Store;
use pertitle::Metric;
use std::path::{Path, PathBuf};

use crate::support;

/// A 320×180, 36-frame clip with detail, motion and noise, written as y4m (so the job reads it
/// as a user's file would).
fn clip(dir: &Path) -> PathBuf {
    support::lavfi_y4m(
        dir,
        "fast.y4m",
        "testsrc2=s=320x180:r=24,noise=alls=10:allf=t+u,format=yuv420p",
        (320, 180),
        36,
    )
}

fn recipe() -> Recipe {
    let mut r = Recipe::default_for("libx264").expect("x264 recipe");
    // Five sizes, so that the budget (12 of 30) leaves refinement rounds after the 9 anchors.
    r.grid.sizes =
        Some(Size::parse_list("320x180,288x162,256x144,192x108,160x90", "sizes").expect("sizes"));
    r.grid.crf = vec![20.0, 24.0, 28.0, 32.0, 36.0, 40.0];
    r
}

fn hull(points: &[pertitle::Point]) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.kbps, p.vmaf)).collect();
    pertitle::hull::upper_hull_pairs(&pts)
}

#[test]
fn fast_search_uses_few_encodes_and_keeps_the_hull() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = support::file_input(&clip(dir.path()));
    let recipe = recipe();
    let store = Store::open(dir.path().join("cache")).expect("store");
    let opts = RunOptions::default();
    let none = |_e: pertitle::pipeline::Event| true;

    // Fast first, on an empty store: every probe is a real encode.
    let fast = LadderRun::new(&input, &recipe)
        .store(Some(&store))
        .options(opts.clone())
        .search(Search::Fast(Default::default()))
        .run(&none)
        .expect("fast search");
    let stats = fast.search.clone().expect("search stats");
    assert_eq!(stats.grid, 30);
    assert!(stats.rounds >= 2, "no refinement round ran: {stats:?}");
    assert_eq!(stats.probes, fast.points.len());
    assert_eq!(
        stats.encoded, stats.probes,
        "fresh store: every probe encoded"
    );
    assert!(
        stats.probes * 10 <= stats.grid * 4,
        "{} probes of {} is more than 40 %",
        stats.probes,
        stats.grid
    );
    assert!(!fast.ladder.rungs.is_empty());

    // The full grid on the same store: the probes are ordinary grid points, so exactly they are
    // reused and the rest encoded.
    let full = LadderRun::new(&input, &recipe)
        .store(Some(&store))
        .options(opts.clone())
        .run(&none)
        .expect("full grid");
    assert_eq!(full.points.len(), 30);
    assert_eq!(full.encoded, 30 - stats.probes);
    for p in &fast.points {
        let twin = full
            .points
            .iter()
            .find(|q| q.key == p.key)
            .unwrap_or_else(|| {
                panic!(
                    "probe {}x{} crf {} not in the grid",
                    p.width, p.height, p.crf
                )
            });
        assert_eq!((twin.kbps, twin.vmaf), (p.kbps, p.vmaf));
    }
    // The grid's best-quality and cheapest points are always probed (the hull's two ends).
    let best = full
        .points
        .iter()
        .max_by(|a, b| a.vmaf.total_cmp(&b.vmaf))
        .expect("points");
    let cheapest = full
        .points
        .iter()
        .min_by(|a, b| a.kbps.total_cmp(&b.kbps))
        .expect("points");
    assert!(fast.points.iter().any(|p| p.key == best.key));
    assert!(fast.points.iter().any(|p| p.key == cheapest.key));

    let bd = bdrate::bd_rate(
        &hull(&full.points),
        &hull(&fast.points),
        Metric::Vmaf,
        Method::Pchip,
    )
    .expect("bd-rate");
    eprintln!(
        "fast search: {} of {} encodes, hull BD-rate vs full {:+.3} %",
        stats.probes, stats.grid, bd.bd_rate_percent
    );
    // The bound. Measured +0.369 % on this clip (12 of 30 encodes); the previous
    // planner (gain without the quality span, line extrapolation, no end neighbours) gave
    // +1.109 % here, and a search that misses a resolution's part of the hull lands far outside
    // (5–40 % in the replays of earlier heuristics).
    assert!(
        bd.bd_rate_percent.abs() <= 1.0,
        "fast hull BD-rate {:+.3} % against the full grid's",
        bd.bd_rate_percent
    );

    // Deterministic: the same search again asks for the same points (all from the store now).
    let again = LadderRun::new(&input, &recipe)
        .store(Some(&store))
        .options(opts.clone())
        .search(Search::Fast(Default::default()))
        .run(&none)
        .expect("fast search again");
    let stats2 = again.search.clone().expect("search stats");
    assert_eq!(stats2.encoded, 0);
    let keys = |o: &Outcome| o.points.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&fast));
    assert_eq!(again.ladder, fast.ladder);
}
