//! `pertitle ladder`: the grid, the hull, the ladder, the outputs.

use super::args::{Cli, ExecutorArg, GridArgs, LadderArgs, Search};
use super::batch::{self, Exec, Ready};
use super::common::{input_options, overrides, recipe_for, run_options, store_for, title_input};
use super::progress::GridProgress;
use super::{interrupt, UsageError};
use anyhow::{Context, Result};
use pertitle::batch::Job;
use pertitle::catalog;
use pertitle::grid::GridTask;
use pertitle::output::{self, Summary};
use pertitle::run::{self, BeforeCompute, Input, LadderRun};
use pertitle::store::Store;
use std::path::{Path, PathBuf};

/// `run_inner`'s word that the run was submitted and detached (not an error for the user).
#[derive(Debug)]
struct Detached;

impl std::fmt::Display for Detached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("detached")
    }
}

impl std::error::Error for Detached {}

pub fn run(cli: &Cli, a: &LadderArgs) -> Result<()> {
    run_with(cli, a, None)
}

/// `ladder`, with the executor given (`collect`) instead of taken from the flags.
pub fn run_with(cli: &Cli, a: &LadderArgs, exec: Option<Exec>) -> Result<()> {
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
    let r = run_inner(cli, a, exec);
    let r = match r {
        // Submitted and left running: a success that wrote nothing, so the directories this
        // command created go, as on failure.
        Err(e) if e.is::<Detached>() => {
            for d in &missing {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
            }
            return Ok(());
        }
        r => r,
    };
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

fn run_inner(cli: &Cli, a: &LadderArgs, exec: Option<Exec>) -> Result<()> {
    let g: &GridArgs = &a.grid;
    if a.verify.options().is_some()
        && (a.executor.executor == ExecutorArg::Manifest || a.executor.detach)
    {
        return Err(UsageError(
            "--verify/--refine with --detach or --executor manifest: each verification round is planned from the last one's scores, so the driver must wait for them; run without --detach (or run `pertitle verify LADDER` later)".into(),
        )
        .into());
    }
    let recipe = recipe_for(
        g.recipe.as_deref(),
        g.codec.as_deref(),
        &overrides(g, &a.constraints),
    )?;
    let titles = match &a.catalog {
        None => {
            let given = a.input.as_ref().or(a.input_flag.as_ref());
            let stdin = given.is_some_and(|p| p.as_os_str() == "-");
            let title = match given {
                None => Input::Demo.title(),
                Some(_) if stdin => "stdin".to_string(),
                Some(p) => Input::File {
                    path: p.clone(),
                    options: Default::default(),
                }
                .title(),
            };
            let out = g
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("out").join(title));
            let options = input_options(&g.raw, g.allow_decode_errors);
            let input = title_input(given.map(PathBuf::as_path), options, &out)?;
            vec![(input, out)]
        }
        Some(file) => {
            let dir = catalog::out_dir(file, g.out.as_deref());
            catalog::read(file, &input_options(&g.raw, g.allow_decode_errors))?
                .into_iter()
                .map(|i| {
                    let out = dir.join(i.title());
                    (i, out)
                })
                .collect()
        }
    };
    // Fail before an hour of encoding, not after: the output directories must be writable now.
    for (_, out) in &titles {
        pertitle::fsutil::ensure_dir(out)?;
    }
    let store = store_for(g.store.cache.as_deref(), g.store.no_cache)?;
    let exec = match exec {
        Some(e) => e,
        None => Exec::from_args(&a.executor, store.as_ref())?,
    };
    let opts = run_options(g.threads)?;
    let search = match g.search {
        Search::Full => run::Search::Full,
        Search::Fast => run::Search::Fast(Default::default()),
    };
    // With a batch executor, each verification round's encodes run there too.
    let hooks: Vec<Box<BeforeCompute>> = titles
        .iter()
        .map(|(input, _)| {
            let (exec, store, scoring) = (&exec, store.as_ref(), recipe.scoring.clone());
            let input = input.clone();
            Box::new(move |tasks: &[GridTask]| -> pertitle::Result<()> {
                let job = Job {
                    title: input.title(),
                    input: input.clone(),
                    scoring: scoring.clone(),
                    tasks: tasks.to_vec(),
                };
                let label = format!("{}-verify", input.title());
                batch::ensure(cli, exec, &[job], store, &label)
                    .map(|_| ())
                    .map_err(|e| {
                        pertitle::Error::resource(
                            "verification on the batch executor",
                            format!("{e:#}"),
                        )
                    })
            }) as Box<BeforeCompute>
        })
        .collect();
    let runs: Vec<LadderRun> = titles
        .iter()
        .zip(&hooks)
        .map(|((input, _), hook)| {
            let run = LadderRun::new(input, &recipe)
                .frames(g.frames)
                .store(store.as_ref())
                .options(opts.clone())
                .search(search.clone())
                .verify(a.verify.options());
            if exec.is_local() {
                run
            } else {
                run.before_verify(hook.as_ref())
            }
        })
        .collect();
    if !exec.is_local() {
        if g.search == Search::Fast {
            return Err(UsageError(
                "--search fast: the fast search picks each round's encodes from the last round's scores, so a batch executor cannot plan its tasks ahead; use --search full with --executor slurm".into(),
            )
            .into());
        }
        let mut jobs = Vec::new();
        for (r, (input, _)) in runs.iter().zip(&titles) {
            jobs.push(Job {
                title: input.title(),
                input: input.clone(),
                scoring: recipe.scoring.clone(),
                tasks: r.tasks()?,
            });
        }
        let label = match &a.catalog {
            Some(f) => f
                .file_stem()
                .map_or("catalog".into(), |s| s.to_string_lossy().into_owned()),
            None => titles[0].0.title(),
        };
        if let Ready::Detached = batch::ensure(cli, &exec, &jobs, store.as_ref(), &label)? {
            // Nothing is written now (`collect` writes the outputs): leave no empty directory.
            for (_, out) in &titles {
                let _ = std::fs::remove_dir(out);
            }
            return Err(Detached.into());
        }
    }
    let assembling = std::time::Instant::now();
    let mut summaries = Vec::new();
    for (run, (input, out_dir)) in runs.iter().zip(&titles) {
        if a.catalog.is_some() && !cli.quiet && !a.json {
            eprintln!("{}:", input.title());
        }
        summaries.push(one_title(cli, a, run, out_dir, store.as_ref())?);
    }
    if cli.verbose && !exec.is_local() {
        eprintln!(
            "assembled and wrote {} ladder(s) from the store in {:.2} s",
            summaries.len(),
            assembling.elapsed().as_secs_f64()
        );
    }
    if let Some(file) = &a.catalog {
        let dir = catalog::out_dir(file, g.out.as_deref());
        let table = catalog::write(&dir, &summaries)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&summaries)?);
        } else if !cli.quiet {
            print!("{table}");
            println!(
                "catalog of {} title(s): outputs in {}",
                summaries.len(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// One title's ladder (its tasks computed here or found in the store) and its outputs.
fn one_title(
    cli: &Cli,
    a: &LadderArgs,
    run: &LadderRun,
    out_dir: &Path,
    store: Option<&Store>,
) -> Result<Summary> {
    let progress = GridProgress::new(cli.quiet || a.json);
    let outcome = run.run(&|e| progress.event(e));
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
    let files = output::write_outputs(out_dir, &outcome)
        .with_context(|| format!("writing {}", out_dir.display()))?;
    let summary = Summary {
        store_corrupt: Some(store.map(|s| s.corrupt_count()).unwrap_or(0)),
        ..Summary::of_run(&outcome, out_dir)
    };
    if a.catalog.is_none() {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !cli.quiet {
            print!("{}", output::summary_table(&summary));
            println!("outputs in {} ({} files)", out_dir.display(), files.len());
        }
    }
    if cli.verbose {
        eprintln!("peak memory {:.0} MiB", pertitle::fsutil::peak_rss_mib());
    }
    Ok(summary)
}
