//! Shared helpers for the integration tests: the binary, temporary directories, one
//! deterministic generator for generated content, and the clip and grid-task fixtures.
#![allow(dead_code)]

use pertitle::grid::GridTask;
use pertitle::media::{self, FrameSource, Y4mWriter};
use pertitle::points::SourceIdentity;
use pertitle::quality::Engine;
use pertitle::recipe::{Recipe, Size};
use pertitle::run::{self, Input, TaskTemplate};
use pertitle::Frame;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `pertitle` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pertitle"))
}

/// Runs the binary with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn pertitle")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh temporary directory kept for the test's lifetime.
pub fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

pub fn data_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Says on stderr that a test did not run its check, and why (`cargo test` shows it as passed).
pub fn skip(why: impl std::fmt::Display) {
    eprintln!("skipped: {why}");
}

/// [`skip`] for what only a machine without part of `scripts/setup`'s packages lacks: on CI
/// (`CI` set; Debian 12 with those packages) it cannot be missing, so there it fails instead of
/// hiding a broken setup.
pub fn skip_unless_ci(why: impl std::fmt::Display) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: CI's machine has it (Debian 12 with scripts/setup's packages)"
    );
    skip(why);
}

/// The tests' one deterministic generator. Generated content and the measured maxima some tests
/// print depend on the exact sequence, so each step function a call site was written against is
/// kept: Marsaglia's xorshift64 (13, 7, 17), xorshift64* (12, 25, 27 and Vigna's multiplier),
/// and the 64-bit LCG with Knuth's MMIX constants. A state of 0 is a fixed point of both
/// xorshifts: seed them with a non-zero value ([`Rng::spread`] makes one).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    step: Step,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Xorshift64,
    Xorshift64Star,
    Lcg,
}

impl Rng {
    /// xorshift64 from `state`.
    pub fn xorshift64(state: u64) -> Rng {
        Rng {
            state,
            step: Step::Xorshift64,
        }
    }

    /// xorshift64* from `state`.
    pub fn xorshift64_star(state: u64) -> Rng {
        Rng {
            state,
            step: Step::Xorshift64Star,
        }
    }

    /// The MMIX LCG from `state` (any value, 0 included); its high bits are the good ones.
    pub fn lcg(state: u64) -> Rng {
        Rng {
            state,
            step: Step::Lcg,
        }
    }

    /// `seed` times the 64-bit golden ratio, made odd: nearby small seeds give unrelated, never
    /// zero states.
    pub fn spread(seed: u64) -> u64 {
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        match self.step {
            Step::Xorshift64 => {
                *s ^= *s << 13;
                *s ^= *s >> 7;
                *s ^= *s << 17;
                *s
            }
            Step::Xorshift64Star => {
                *s ^= *s >> 12;
                *s ^= *s << 25;
                *s ^= *s >> 27;
                s.wrapping_mul(0x2545_F491_4F6C_DD1D)
            }
            Step::Lcg => {
                *s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                *s
            }
        }
    }

    /// `next_u64() % n`: in `0..n`, with the (for test content negligible) modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1) from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly Gaussian with unit variance: the sum of four uniforms, centred and scaled.
    pub fn gauss(&mut self) -> f64 {
        ((0..4).map(|_| self.unit()).sum::<f64>() - 2.0) * 1.732
    }
}
/// Every frame a source gives, in order.
pub fn collect(mut src: Box<dyn FrameSource>) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame().expect("frame") {
        frames.push(f);
    }
    frames
}

/// Writes `frames` as a y4m file at 24 fps.
pub fn write_y4m(path: &Path, frames: &[Frame]) {
    let mut w = Y4mWriter::create(path, frames[0].format, (24, 1)).expect("y4m writer");
    for f in frames {
        w.write(f).expect("write y4m");
    }
    w.finish().expect("finish y4m");
}

/// `frames` frames of the lavfi `graph` (a `w`×`h`, 24 fps source) written as `dir/name`, a
/// y4m file that a run reads as it would a user's.
pub fn lavfi_y4m(
    dir: &Path,
    name: &str,
    graph: &str,
    (w, h): (usize, usize),
    frames: u64,
) -> PathBuf {
    let path = dir.join(name);
    let src = media::lavfi_source(graph, w, h, (24, 1), frames).expect("lavfi source");
    write_y4m(&path, &collect(src));
    path
}

/// A file as a run's input, with default input options.
pub fn file_input(path: &Path) -> Input {
    Input::File {
        path: path.to_path_buf(),
        options: Default::default(),
    }
}

/// What the pipeline runs for `recipe` on `input`: the source as identified, an engine with two
/// threads, and the grid tasks of `sizes` (the recipe's own, resolved for the source, if `None`)
/// by the recipe's CRFs.
pub fn grid_tasks(
    input: &Input,
    recipe: &Recipe,
    sizes: Option<&[Size]>,
) -> (SourceIdentity, Engine, Vec<GridTask>) {
    let source = run::identify(input, None).expect("identify").identity;
    let (engine, settings) = run::engine_for(recipe, 2).expect("engine");
    let resolved;
    let sizes = match sizes {
        Some(s) => s,
        None => {
            resolved = recipe.resolve(source.width, source.height).expect("sizes");
            &resolved
        }
    };
    let tasks = TaskTemplate::new(recipe, &source, &settings).grid(sizes, &recipe.grid.crf);
    (source, engine, tasks)
}

/// The interpreter with scikit-learn and scipy: `PERTITLE_PYTHON`, else `target/pyenv`'s. Missing is a
/// failure that says how to make it, never a skip.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PERTITLE_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/pyenv (scripts/test does) or set PERTITLE_PYTHON",
        p.display()
    );
    p
}

/// Runs `tests/python/<script> IN.json OUT.json` with [`python`] and returns what it wrote;
/// a failing script fails the test with its stderr.
pub fn run_python(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let dir = tmpdir();
    let (i, o) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&i, input.to_string()).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new(python())
        .arg(&path)
        .arg(&i)
        .arg(&o)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&o).unwrap()).unwrap()
}
