//! A ladder's rungs encoded as its recipe says, in process: the renditions a player gets, and
//! the same tasks `pertitle verify` scores. Everything comes from `ladder.toml` itself (its
//! `[recipe]`, `[source]` and rungs), so a ladder file is enough to reproduce its encodes; the
//! source is checked against the fingerprint the ladder was built on.

use crate::error::{Error, Result};
use crate::grid::GridTask;
use crate::ladder::{Ladder, Rung};
use crate::media::InputOptions;
use crate::pipeline;
use crate::quality::Engine;
use crate::recipe::{Recipe, Size};
use crate::run::{self, Analyses, Input, TaskTemplate};
use crate::store::Store;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What encoding or verifying a ladder's rungs needs: its recipe, its source (identified and
/// checked) and the task template, so a rung's task is the one a `--verify` run stored.
pub struct LadderTasks {
    pub recipe: Recipe,
    pub input: Input,
    pub template: TaskTemplate,
    pub engine: Engine,
}

impl LadderTasks {
    /// For `ladder` (read from `file`, named in errors), reading its source from `input` (the
    /// path the ladder records when `None`).
    pub fn new(
        ladder: &Ladder,
        file: &Path,
        input: Option<Input>,
        options: &InputOptions,
        store: Option<&Store>,
    ) -> Result<LadderTasks> {
        let what = file.display().to_string();
        let recipe = ladder.recipe.clone().ok_or_else(|| {
            Error::data(
                &what,
                "has no [recipe] table (written by an older pertitle): build the ladder again",
            )
        })?;
        recipe.validate()?;
        let source = ladder.source.as_ref().ok_or_else(|| {
            Error::data(
                &what,
                "has no [source]: it was built from points alone, so there is nothing to encode",
            )
        })?;
        let input = input.unwrap_or_else(|| match source.path.as_str() {
            "demo" => Input::Demo,
            p => Input::File {
                path: PathBuf::from(p),
                options: options.clone(),
            },
        });
        let found = run::identify_cached(&input, Some(source.frames), &Analyses::default(), store)?
            .identity;
        if found.fingerprint != source.fingerprint
            || (found.width, found.height) != (source.width, source.height)
        {
            return Err(Error::data(
                input.title(),
                format!(
                    "is not the source {what} was built for (its first {} frames differ from fingerprint {})",
                    source.frames,
                    &source.fingerprint[..source.fingerprint.len().min(12)]
                ),
            ));
        }
        let (engine, settings) = run::engine_for(&recipe, 0)?;
        let template = TaskTemplate::new(&recipe, &found, &settings);
        Ok(LadderTasks {
            recipe,
            input,
            template,
            engine,
        })
    }

    /// The task encoding `rung` over the whole title as its recipe says.
    pub fn task(&self, rung: &Rung) -> GridTask {
        self.template
            .rate_task(Size::new(rung.width, rung.height), rung.rate())
    }
}

/// One rung encoded to a file.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Index into the ladder's rungs.
    pub rung: usize,
    pub path: PathBuf,
    /// Average bitrate of the file's video stream, kbit/s.
    pub kbps: f64,
    /// Highest bitrate over any keyframe interval, kbit/s.
    pub peak_kbps: f64,
}

/// Encodes every rung of `ladder` into `dir` (its `output` name), rungs in parallel on `threads`
/// workers (0 = all cores), each encoder single-threaded as in the grid, so each file's bytes
/// are those of the rung's verified encode. A file already there is replaced only when its
/// encode completes. `on_done` hears of each finished rung.
pub fn encode_rungs(
    ladder: &Ladder,
    tasks: &LadderTasks,
    dir: &Path,
    threads: usize,
    on_done: &(dyn Fn(&Encoded) + Sync),
) -> Result<Vec<Encoded>> {
    crate::fsutil::ensure_dir(dir)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::resource("thread pool", e.to_string()))?;
    let fps = tasks.recipe.output_fps(
        tasks.template.source().fps_num,
        tasks.template.source().fps_den,
    );
    let open = || tasks.input.open();
    pool.install(|| {
        ladder
            .rungs
            .par_iter()
            .enumerate()
            .map(|(i, rung)| {
                let path = dir.join(&rung.output);
                let sizes = pipeline::encode_to_file(&tasks.task(rung), &open, &path)?;
                let secs = sizes.len() as f64 * fps.1 as f64 / fps.0 as f64;
                let bytes: u64 = sizes.iter().sum();
                let e = Encoded {
                    rung: i,
                    path,
                    kbps: bytes as f64 * 8.0 / secs.max(1e-9) / 1000.0,
                    peak_kbps: crate::verify::peak_kbps(
                        &sizes,
                        fps,
                        tasks.recipe.ladder.keyint_seconds,
                    ),
                };
                on_done(&e);
                Ok(e)
            })
            .collect()
    })
}
