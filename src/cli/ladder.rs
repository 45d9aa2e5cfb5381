//! `pertitle ladder`: the grid, the hull, the ladder, the outputs.

use super::args::{Cli, ConstraintArgs, GridArgs, LadderArgs};
use super::common::{input_options, overrides, recipe_for, run_options, store_for};
use super::progress::GridProgress;
use super::{interrupt, UsageError};
use anyhow::{Context, Result};
use pertitle::job::{self, Input};
use std::path::PathBuf;

pub fn run(cli: &Cli, a: &LadderArgs) -> Result<()> {
    let g: &GridArgs = &a.grid;
    let input = match &a.input {
        None => Input::Demo,
        Some(p) => Input::File {
            path: p.clone(),
            options: input_options(&g.raw, g.allow_decode_errors)?,
        },
    };
    let recipe = recipe_for(
        g.recipe.as_deref(),
        g.codec.as_deref(),
        &overrides(g, &a.constraints)?,
    )?;
    let out_dir = g
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(input.title()));
    // Fail before an hour of encoding, not after: the output directory must be writable now.
    pertitle::fsutil::ensure_dir(&out_dir)?;
    let store = store_for(g.cache.as_deref(), g.no_cache)?;
    let opts = run_options(g.threads)?;
    let progress = GridProgress::new(cli.quiet || a.json);
    let outcome = match g.search.as_str() {
        "full" => job::run(&input, &recipe, g.frames, store.as_ref(), &opts, &|e| {
            progress.event(e)
        }),
        "fast" => {
            pertitle::search::run_fast(&input, &recipe, g.frames, store.as_ref(), &opts, &|e| {
                progress.event(e)
            })
        }
        other => {
            return Err(
                UsageError(format!("--search: expected full or fast, got {other:?}")).into(),
            )
        }
    };
    progress.finish();
    let outcome = match outcome {
        Err(pertitle::Error::Cancelled) if interrupt::requested() => {
            eprintln!(
                "pertitle: interrupted; {} finished point(s) are kept in the store and will be reused",
                progress.done()
            );
            std::process::exit(130);
        }
        r => r?,
    };
    let files = job::write_outputs(&out_dir, &outcome)
        .with_context(|| format!("writing {}", out_dir.display()))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&job::summary_json(&outcome, &out_dir))?
        );
    } else if !cli.quiet {
        print!("{}", job::summary_table(&outcome));
        println!("outputs in {} ({} files)", out_dir.display(), files.len());
    }
    if cli.verbose {
        eprintln!("peak memory {:.0} MiB", super::peak_rss_mib());
    }
    Ok(())
}

#[allow(dead_code)]
fn _unused(_: &ConstraintArgs) {}
