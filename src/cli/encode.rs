//! `pertitle encode LADDER` (renditions, HLS, DASH) and `pertitle verify LADDER`: work on a
//! written ladder.toml, with everything taken from it.

use super::args::{Cli, EncodeArgs, ExecutorArg, LadderFileArgs, VerifyLadderArgs};
use super::batch::{self, Exec};
use super::common::{input_options, run_options, store_for};
use super::progress::GridProgress;
use super::{interrupt, Interrupted, UsageError};
use anyhow::Result;
use pertitle::batch::Job;
use pertitle::encode::{self, LadderTasks};
use pertitle::ladder::Ladder;
use pertitle::package::{self, PackageOptions, Rendition};
use pertitle::run::Input;
use pertitle::store::Store;
use pertitle::{fsutil, Error};
use std::path::{Path, PathBuf};

/// The ladder, its tasks, and the store.
fn open(a: &LadderFileArgs) -> Result<(Ladder, LadderTasks, Option<Store>)> {
    let ladder = Ladder::from_file(&a.ladder)?;
    let store = store_for(a.store.cache.as_deref(), a.store.no_cache)?;
    let options = input_options(&a.raw, false);
    let input = a.input.as_ref().map(|p| Input::File {
        path: p.clone(),
        options: options.clone(),
    });
    let tasks = LadderTasks::new(&ladder, &a.ladder, input, &options, store.as_ref())?;
    Ok((ladder, tasks, store))
}

pub fn run(cli: &Cli, a: &EncodeArgs) -> Result<()> {
    // Refuse before encoding, not after: packaging never writes into a non-empty directory.
    for dir in [&a.hls, &a.dash].into_iter().flatten() {
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(Error::data(
                dir.display().to_string(),
                "exists and is not empty; packaging writes into a new directory",
            )
            .into());
        }
    }
    let (ladder, tasks, _) = open(&a.ladder)?;
    let out = a.out.clone().unwrap_or_else(|| {
        a.ladder
            .ladder
            .parent()
            .unwrap_or(Path::new("."))
            .join("renditions")
    });
    let threads = a.ladder.threads.unwrap_or(0);
    let t0 = std::time::Instant::now();
    let encoded = encode::encode_rungs(&ladder, &tasks, &out, threads, &|e| {
        if !cli.quiet {
            eprintln!(
                "encoded rung {}: {} ({:.1} kbps, peak {:.1})",
                e.rung + 1,
                e.path.display(),
                e.kbps,
                e.peak_kbps
            );
        }
    })?;
    if !cli.quiet {
        println!(
            "{} renditions in {} ({:.1} s)",
            encoded.len(),
            out.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    let renditions: Vec<Rendition> = encoded
        .iter()
        .map(|e| {
            let name = PathBuf::from(&ladder.rungs[e.rung].output)
                .file_stem()
                .map_or_else(
                    || format!("rung{}", e.rung + 1),
                    |s| s.to_string_lossy().into_owned(),
                );
            Rendition::new(name, e.path.clone())
        })
        .collect();
    let opts = PackageOptions {
        segment_seconds: tasks.recipe.ladder.keyint_seconds,
    };
    // A package that does not read back is removed: the directory was new or empty.
    let discard_on_error = |dir: &Path, e: pertitle::Error| {
        let _ = std::fs::remove_dir_all(dir);
        e
    };
    if let Some(dir) = &a.hls {
        let p = package::write_hls(dir, &renditions, &opts)?;
        let checks = package::validate_hls(&p.manifest).map_err(|e| discard_on_error(dir, e))?;
        report(cli, "HLS", &p, checks.len());
    }
    if let Some(dir) = &a.dash {
        let p = package::write_dash(dir, &renditions, &opts)?;
        let checks = package::validate_dash(&p.manifest).map_err(|e| discard_on_error(dir, e))?;
        report(cli, "DASH", &p, checks.len());
    }
    Ok(())
}

fn report(cli: &Cli, kind: &str, p: &package::Package, decoded: usize) {
    if cli.quiet {
        return;
    }
    println!(
        "{kind}: {} ({} renditions, each read back and decoded completely: {decoded})",
        p.manifest.display(),
        p.renditions.len()
    );
    println!(
        "  {:>24} {:>9} {:>12} {:>12} {:>8}  codecs",
        "rendition", "size", "avg bps", "peak bps", "segments"
    );
    for r in &p.renditions {
        println!(
            "  {:>24} {:>9} {:>12} {:>12} {:>8}  {}",
            r.name,
            format!("{}x{}", r.width, r.height),
            r.average_bps,
            r.peak_bps,
            r.segments.len(),
            r.codecs
        );
    }
}

pub fn verify(cli: &Cli, a: &VerifyLadderArgs) -> Result<()> {
    if a.executor.executor == ExecutorArg::Manifest || a.executor.detach {
        return Err(UsageError(
            "verify with --detach or --executor manifest: each verification round is planned from the last one's scores, so it must wait for them".into(),
        )
        .into());
    }
    let (mut ladder, tasks, store) = open(&a.ladder)?;
    let exec = Exec::from_args(&a.executor, store.as_ref())?;
    let label = format!("{}-verify", tasks.input.title());
    let opts = a.verify.settings();
    let runner = pertitle::pipeline::Runner::new(run_options(a.ladder.threads)?)?;
    let progress = GridProgress::new(cli.quiet);
    let open = || tasks.input.open();
    // The ladder's own predictions stand in for the hull (refinement's first step).
    let curve: Vec<(f64, f64)> = ladder
        .rungs
        .iter()
        .map(|r| (r.kbps as f64, r.quality(ladder.metric)))
        .collect();
    let recipe = tasks.recipe.clone();
    let source = ladder.source.clone();
    let r = pertitle::verify::verify(
        &mut ladder,
        &curve,
        &recipe,
        source.as_ref(),
        &tasks.template,
        &opts,
        &mut |t| {
            if !exec.is_local() {
                let job = Job {
                    title: tasks.input.title(),
                    input: tasks.input.clone(),
                    scoring: recipe.scoring.clone(),
                    tasks: t.to_vec(),
                };
                batch::ensure(cli, &exec, &[job], store.as_ref(), &label).map_err(|e| {
                    pertitle::Error::resource(
                        "verification on the batch executor",
                        format!("{e:#}"),
                    )
                })?;
            }
            runner.run(t, &open, &tasks.engine, store.as_ref(), &|e| {
                progress.event(e)
            })
        },
    );
    progress.finish();
    match r {
        Err(e) if e.is_cancelled() && interrupt::requested() => {
            eprintln!(
                "pertitle: interrupted; finished encodes are kept in the store; ladder not written"
            );
            return Err(Interrupted.into());
        }
        r => r?,
    };
    let out = a.out.clone().unwrap_or_else(|| a.ladder.ladder.clone());
    fsutil::atomic_write(&out, ladder.to_toml()?.as_bytes())?;
    if !cli.quiet {
        let summary = pertitle::output::Summary::of_ladder_file(&ladder);
        print!("{}", pertitle::output::summary_table(&summary));
        println!("verified ladder written to {}", out.display());
    }
    Ok(())
}
