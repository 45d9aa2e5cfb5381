//! `pertitle ladder`: the grid, the hull, the ladder, the outputs.

use super::args::{Cli, GridArgs, LadderArgs, Search};
use super::common::{input_options, overrides, recipe_for, run_options, store_for};
use super::interrupt;
use super::progress::GridProgress;
use anyhow::{Context, Result};
use pertitle::output::{self, Summary};
use pertitle::run::{self, Input, LadderRun};
use std::path::PathBuf;

pub fn run(cli: &Cli, a: &LadderArgs) -> Result<()> {
    // A failed run must not leave behind the output directory it created (an empty
    // `--out` directory looks like a run happened). Directories that existed before are kept.
    let out = a.grid.out.clone();
    let missing: Vec<PathBuf> = out
        .as_deref()
        .map(|d| {
            d.ancestors()
                .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
                .map(|p| p.to_path_buf())
                .collect()
        })
        .unwrap_or_default();
    let r = run_inner(cli, a);
    if r.is_err() {
        // remove_dir only removes empty directories: nothing the run wrote is lost silently.
        for d in &missing {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
    r
}

fn run_inner(cli: &Cli, a: &LadderArgs) -> Result<()> {
    let g: &GridArgs = &a.grid;
    let input = match &a.input {
        None => Input::Demo,
        Some(p) => Input::File {
            path: p.clone(),
            options: input_options(&g.raw, g.allow_decode_errors),
        },
    };
    let recipe = recipe_for(
        g.recipe.as_deref(),
        g.codec.as_deref(),
        &overrides(g, &a.constraints),
    )?;
    let out_dir = g
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(input.title()));
    // Fail before an hour of encoding, not after: the output directory must be writable now.
    pertitle::fsutil::ensure_dir(&out_dir)?;
    let store = store_for(g.cache.as_deref(), g.no_cache)?;
    let opts = run_options(g.threads)?;
    let progress = GridProgress::new(cli.quiet || a.json);
    let search = match g.search {
        Search::Full => run::Search::Full,
        Search::Fast => run::Search::Fast(Default::default()),
    };
    let outcome = LadderRun::new(&input, &recipe)
        .frames(g.frames)
        .store(store.as_ref())
        .options(opts)
        .search(search)
        .run(&|e| progress.event(e));
    progress.finish();
    let outcome = match outcome {
        Err(e) if e.is_cancelled() && interrupt::requested() => {
            // Say where the kept points are (or that none are kept without a store).
            match &store {
                Some(s) => eprintln!(
                    "pertitle: interrupted; {} point(s) finished by this run are kept in the store {} and will be reused by the next run; no outputs written",
                    progress.done(),
                    s.dir().display()
                ),
                None => eprintln!(
                    "pertitle: interrupted; nothing kept (--no-cache), no outputs written"
                ),
            }
            return Err(super::Interrupted.into());
        }
        r => r?,
    };
    let files = output::write_outputs(&out_dir, &outcome)
        .with_context(|| format!("writing {}", out_dir.display()))?;
    let summary = Summary {
        store_corrupt: Some(store.as_ref().map(|s| s.corrupt_count()).unwrap_or(0)),
        ..Summary::of_run(&outcome, &out_dir)
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !cli.quiet {
        print!("{}", output::summary_table(&summary));
        println!("outputs in {} ({} files)", out_dir.display(), files.len());
    }
    if cli.verbose {
        eprintln!("peak memory {:.0} MiB", pertitle::fsutil::peak_rss_mib());
    }
    Ok(())
}
