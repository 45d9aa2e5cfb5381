//! Accuracy and speed of the shot-detector candidates on the same generated titles.
//!
//! ```text
//! cargo run --release --example shots_eval [-- --verbose]
//! ```
//!
//! Accuracy on 640×360 titles (`tests/support/shot_titles.rs`): recall = true cuts found within
//! ±1 frame; false cuts = detections matching no true cut, in the cut titles and in the
//! cut-free ones; the rate is over all cut-free stretches (every shot of the cut titles plus
//! every cut-free title), as in the test. Speed: frames per second over the built-in
//! 1280×720 demo clip held in memory (decoding excluded), single thread.

#[path = "../tests/support/shot_titles.rs"]
mod shot_titles;

use pertitle::media::{self, SceneScorer};
use pertitle::shots::{ShotDetector, ShotSettings};
use pertitle::{Frame, Result};
use shot_titles::{cut_free_titles, cut_titles, match_cuts, Title};
use std::time::Instant;

const W: usize = 640;
const H: usize = 360;

/// A candidate: frames in, cut frames out.
enum Candidate {
    Own(&'static str, ShotSettings),
    Scdet(f64),
}

impl Candidate {
    fn name(&self) -> String {
        match self {
            Candidate::Own(n, _) => format!("own: {n}"),
            Candidate::Scdet(t) => format!("scdet threshold={t}"),
        }
    }

    fn cuts(&self, frames: &[Frame]) -> Result<Vec<u64>> {
        match self {
            Candidate::Own(_, s) => {
                let mut d = ShotDetector::new(s, frames[0].format)?;
                for f in frames {
                    d.push(f)?;
                }
                Ok(d.finish().cuts.iter().map(|c| c.frame).collect())
            }
            Candidate::Scdet(t) => {
                let mut sc = SceneScorer::new(frames[0].format)?;
                let mut cuts = Vec::new();
                for f in frames {
                    for (i, score) in sc.push(f)? {
                        if score >= *t && i > 0 {
                            cuts.push(i);
                        }
                    }
                }
                Ok(cuts)
            }
        }
    }
}

/// Each title with its frames.
fn rendered(titles: &[Title]) -> Result<Vec<(&Title, Vec<Frame>)>> {
    titles
        .iter()
        .map(|t| t.render(W, H, "yuv420p").map(|f| (t, f)))
        .collect()
}

fn main() -> Result<()> {
    let verbose = std::env::args().any(|a| a == "--verbose");
    let candidates = [
        Candidate::Own("defaults", ShotSettings::default()),
        Candidate::Own(
            "no motion search",
            ShotSettings {
                search: 0,
                ..ShotSettings::default()
            },
        ),
        Candidate::Scdet(10.0),
        Candidate::Scdet(5.0),
    ];
    let cut_t = cut_titles(W, H);
    let free_t = cut_free_titles(W, H);
    let cut = rendered(&cut_t)?;
    let free = rendered(&free_t)?;
    let n_cuts: usize = cut.iter().map(|(t, _)| t.cuts().len()).sum();
    let stretches = cut.iter().map(|(t, _)| t.parts.len()).sum::<usize>() + free.len();
    println!(
        "accuracy at {W}x{H}: {} cut titles ({n_cuts} cuts), {} cut-free titles ({} frames)",
        cut.len(),
        free.len(),
        free.iter().map(|(_, f)| f.len()).sum::<usize>()
    );
    margins(&cut, &free)?;
    let demo = {
        let mut src = media::demo_clip()?;
        let mut v = Vec::new();
        while let Some(f) = src.next_frame()? {
            v.push(f);
        }
        v
    };
    println!(
        "{:<28} {:>14} {:>17} {:>16} {:>10} {:>12}",
        "detector",
        "recall ±1",
        "false (cut titles)",
        "false (cut-free)",
        "false rate",
        "fps 1280x720"
    );
    for c in &candidates {
        let (mut hits, mut false_cut) = (0, 0);
        for (t, frames) in &cut {
            let found = c.cuts(frames)?;
            let (h, f) = match_cuts(&t.cuts(), &found);
            if verbose && (h < t.cuts().len() || f > 0) {
                println!(
                    "  {}: {}: truth {:?} found {found:?}",
                    c.name(),
                    t.name,
                    t.cuts()
                );
            }
            hits += h;
            false_cut += f;
        }
        let mut false_free = 0;
        for (t, frames) in &free {
            let found = c.cuts(frames)?;
            if verbose && !found.is_empty() {
                println!("  {}: {}: false {found:?}", c.name(), t.name);
            }
            false_free += found.len();
        }
        // Speed: three passes over the demo clip, best of them.
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t0 = Instant::now();
            std::hint::black_box(c.cuts(&demo)?);
            best = best.min(t0.elapsed().as_secs_f64());
        }
        println!(
            "{:<28} {:>8}/{n_cuts} {:>4.1}% {:>17} {:>16} {:>9.1}% {:>12.0}",
            c.name(),
            hits,
            100.0 * hits as f64 / n_cuts as f64,
            false_cut,
            false_free,
            100.0 * (false_cut + false_free) as f64 / stretches as f64,
            demo.len() as f64 / best
        );
    }
    Ok(())
}

/// The default detector's weakest true cut and strongest score on cut-free content (every local
/// maximum over `min_diff` scored, no ratio threshold): how much room the threshold has.
fn margins(cut: &[(&Title, Vec<Frame>)], free: &[(&Title, Vec<Frame>)]) -> Result<()> {
    let open = ShotSettings {
        threshold: 1e-9,
        ..ShotSettings::default()
    };
    let scores = |frames: &[Frame]| -> Result<Vec<(u64, f64)>> {
        let mut d = ShotDetector::new(&open, frames[0].format)?;
        for f in frames {
            d.push(f)?;
        }
        Ok(d.finish().cuts.iter().map(|c| (c.frame, c.score)).collect())
    };
    let mut weakest = (f64::INFINITY, String::new());
    for (t, frames) in cut {
        let s = scores(frames)?;
        for c in t.cuts() {
            let best = s
                .iter()
                .filter(|x| x.0.abs_diff(c) <= 1)
                .map(|x| x.1)
                .fold(0.0, f64::max);
            if best < weakest.0 {
                weakest = (best, format!("{} at {c}", t.name));
            }
        }
    }
    let mut strongest = (0.0, String::new());
    for (t, frames) in free {
        for (f, s) in scores(frames)? {
            if s > strongest.0 {
                strongest = (s, format!("{} at {f}", t.name));
            }
        }
    }
    println!(
        "own, default settings: weakest true cut scores {:.2} ({}), strongest cut-free frame {:.2} ({}); threshold {}",
        weakest.0,
        weakest.1,
        strongest.0,
        strongest.1,
        ShotSettings::default().threshold
    );
    Ok(())
}
