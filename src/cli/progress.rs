//! Progress for long commands: bars on a terminal (indicatif lives only here, in the CLI), and
//! plain lines every few seconds when stderr is a log (CI, `| tee`, a Slurm job), where a bar
//! would print nothing for minutes.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pertitle::pipeline::Event;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress as plain lines: tasks n/N, frames %, elapsed and the ETA of what is left.
struct Plain {
    start: Instant,
    last: Option<Instant>,
    tasks: (u64, u64),
    frames: (u64, u64),
    /// When the current computation started, and its frames done at that moment.
    computing: Option<Instant>,
}

impl Plain {
    fn line(&mut self, force: bool) {
        let now = Instant::now();
        if !force && self.last.is_some_and(|t| now - t < PLAIN_EVERY) {
            return;
        }
        self.last = Some(now);
        let (done, total) = self.frames;
        let eta = match self.computing {
            Some(t0) if done > 0 && total > done => {
                let rate = done as f64 / (now - t0).as_secs_f64().max(1e-3);
                format!(", eta {}", hms((total - done) as f64 / rate))
            }
            _ => String::new(),
        };
        let pct = if total > 0 {
            format!(", frames {:.0}%", done as f64 * 100.0 / total as f64)
        } else {
            String::new()
        };
        eprintln!(
            "grid: {}/{} tasks{pct}, elapsed {}{eta}",
            self.tasks.0,
            self.tasks.1,
            hms((now - self.start).as_secs_f64())
        );
    }
}

/// `1h02m03s`, `4m05s`, `6s`.
fn hms(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// Shows the grid's progress: one bar for the tasks (points, or chunks of points), one for the
/// source frames all of them encode, with the ETA.
pub struct GridProgress {
    multi: MultiProgress,
    points: ProgressBar,
    frames: Mutex<Option<ProgressBar>>,
    done: AtomicUsize,
    quiet: bool,
    /// Plain lines instead of bars (stderr is not a terminal).
    plain: Option<Mutex<Plain>>,
    /// Test-only pause point: see [`test_pause`].
    pause_after: Option<usize>,
}

/// Test-only: `PERTITLE_TEST_PAUSE_AFTER=N` makes the grid stop after its N-th finished point
/// (which the library has stored by the time it reports it): the marker file named by
/// `PERTITLE_TEST_PAUSE_FILE` is created and the run blocks until it is signalled (SIGINT, SIGTERM
/// or SIGKILL). The interruption tests use it to kill or interrupt a run at a known point instead
/// of racing it. `features` pauses the same way after its N-th scored pair.
pub fn test_pause() {
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
        let plain = !quiet && !std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if quiet || plain {
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
            plain: plain.then(|| {
                Mutex::new(Plain {
                    start: Instant::now(),
                    last: None,
                    tasks: (0, 0),
                    frames: (0, 0),
                    computing: None,
                })
            }),
            pause_after: std::env::var("PERTITLE_TEST_PAUSE_AFTER")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }

    /// Handles one event; returns false when the user asked to stop (Ctrl-C).
    pub fn event(&self, e: Event) -> bool {
        if let Some(p) = &self.plain {
            let mut p = p.lock().expect("progress lock");
            match &e {
                Event::Reused {
                    reused, to_compute, ..
                } => {
                    // A later computation (verification, a search round) adds its tasks.
                    p.tasks.0 += *reused as u64;
                    p.tasks.1 += (*reused + *to_compute) as u64;
                }
                Event::Started { frames, .. } => {
                    p.frames = (0, *frames);
                    p.computing = Some(Instant::now());
                    p.line(true);
                }
                Event::Frames { done, .. } => {
                    p.frames.0 = *done;
                    p.line(false);
                }
                Event::TaskDone { .. } => {
                    p.tasks.0 += 1;
                    let last = p.tasks.0 == p.tasks.1;
                    p.line(last);
                }
            }
        }
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

/// A bar counting `len` units with `template` (indicatif's), hidden under `--quiet`.
pub fn counter(quiet: bool, len: u64, template: &'static str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}
