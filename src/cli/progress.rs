//! Progress bars for long commands (indicatif lives only here, in the CLI).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pertitle::pipeline::Event;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Shows the grid's progress: one bar for the tasks (points, or chunks of points), one for the
/// source frames all of them encode, with the ETA.
pub struct GridProgress {
    multi: MultiProgress,
    points: ProgressBar,
    frames: Mutex<Option<ProgressBar>>,
    done: AtomicUsize,
    quiet: bool,
    /// Test-only pause point: see [`test_pause`].
    pause_after: Option<usize>,
}

/// Test-only: `PERTITLE_TEST_PAUSE_AFTER=N` makes the grid stop after its N-th finished point
/// (which the library has stored by the time it reports it): the marker file named by
/// `PERTITLE_TEST_PAUSE_FILE` is created and the run blocks until it is signalled (SIGINT, SIGTERM
/// or SIGKILL). The interruption tests use it to kill or interrupt a run at a known point instead
/// of racing it.
fn test_pause() {
    if let Some(marker) = std::env::var_os("PERTITLE_TEST_PAUSE_FILE") {
        // Best effort: a test that names an unwritable marker only waits for nothing.
        let _ = std::fs::write(marker, b"");
    }
    while !super::interrupt::requested() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
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
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} tasks {msg}")
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
            pause_after: std::env::var("PERTITLE_TEST_PAUSE_AFTER")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
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
                    let mut m = format!("reusing {reused} stored task(s)");
                    if corrupt > 0 {
                        m.push_str(&format!(", recomputing {corrupt} corrupt store entr(ies)"));
                    }
                    // `MultiProgress::println` prints nothing when stderr is not a
                    // terminal (logs, CI); the user must still learn what was reused.
                    self.multi.suspend(|| eprintln!("{m}"));
                }
            }
            Event::Started { tasks, frames } => {
                let bar = self.multi.add(ProgressBar::new(frames));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {percent:>3}% of frames {elapsed_precise} eta {eta}",
                    )
                    .expect("static template")
                    .progress_chars("=> "),
                );
                bar.set_prefix("work");
                self.points.set_message(format!("({tasks} to compute)"));
                if let Some(old) = self.frames.lock().expect("progress lock").replace(bar) {
                    old.finish_and_clear();
                }
            }
            Event::Frames { done, .. } => {
                if let Some(b) = &*self.frames.lock().expect("progress lock") {
                    b.set_position(done);
                }
            }
            Event::TaskDone { .. } => {
                let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
                self.points.inc(1);
                if self.pause_after == Some(done) {
                    test_pause();
                }
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
