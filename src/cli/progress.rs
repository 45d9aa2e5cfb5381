//! Progress bars for long commands (indicatif lives only here, in the CLI).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pertitle::pipeline::Event;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Shows the grid's progress: one bar for the points, one for the frames of the current wave.
pub struct GridProgress {
    multi: MultiProgress,
    points: ProgressBar,
    frames: Mutex<Option<ProgressBar>>,
    done: AtomicUsize,
    quiet: bool,
}

impl GridProgress {
    pub fn new(quiet: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let points = multi.add(ProgressBar::new(0));
        points.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} points {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        points.set_prefix("grid");
        GridProgress {
            multi,
            points,
            frames: Mutex::new(None),
            done: AtomicUsize::new(0),
            quiet,
        }
    }

    /// Handles one event; returns false when the user asked to stop (Ctrl-C).
    pub fn event(&self, e: Event) -> bool {
        match e {
            Event::Reused {
                reused,
                corrupt,
                to_compute,
            } => {
                self.points.set_length((reused + to_compute) as u64);
                self.points.set_position(reused as u64);
                if !self.quiet && (reused > 0 || corrupt > 0) {
                    let mut m = format!("reusing {reused} stored point(s)");
                    if corrupt > 0 {
                        m.push_str(&format!(", recomputing {corrupt} corrupt store entr(ies)"));
                    }
                    let _ = self.multi.println(m);
                }
            }
            Event::WaveStarted {
                wave,
                waves,
                points,
                frames,
            } => {
                let bar = self.multi.add(ProgressBar::new(frames));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {pos}/{len} frames {elapsed_precise} eta {eta}",
                    )
                    .expect("static template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("wave {}/{}", wave + 1, waves));
                self.points.set_message(format!("({points} encoding)"));
                if let Some(old) = self.frames.lock().expect("progress lock").replace(bar) {
                    old.finish_and_clear();
                }
            }
            Event::Frames { done, .. } => {
                if let Some(b) = &*self.frames.lock().expect("progress lock") {
                    b.set_position(done);
                }
            }
            Event::PointDone { .. } => {
                self.done.fetch_add(1, Ordering::Relaxed);
                self.points.inc(1);
            }
        }
        !super::interrupt::requested()
    }

    /// Points finished by this run.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(b) = self.frames.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
        self.points.finish_and_clear();
    }
}
