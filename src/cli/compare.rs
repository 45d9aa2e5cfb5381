//! `pertitle compare`: each codec's grid on one title, hulls compared with BD-rate.

use super::args::{Cli, CompareArgs};
use super::batch::{self, Exec, Ready};
use super::common::{input_options, recipe_for, run_options, store_for};
use super::progress::GridProgress;
use super::{interrupt, UsageError};
use anyhow::Result;
use pertitle::batch::Job;
use pertitle::bdrate::Method;
use pertitle::output;
use pertitle::recipe::RecipeOverrides;
use pertitle::report::{self, compare_codecs};
use pertitle::run::{Input, LadderRun};
use pertitle::{fsutil, Metric, Point};
use std::path::PathBuf;

pub fn run(cli: &Cli, a: &CompareArgs) -> Result<()> {
    run_with(cli, a, None)
}

/// `compare`, with the executor given (`collect`) instead of taken from the flags.
pub fn run_with(cli: &Cli, a: &CompareArgs, exec: Option<Exec>) -> Result<()> {
    if a.codecs.len() < 2 {
        return Err(UsageError("--codecs: name at least two encoders to compare".into()).into());
    }
    if let Some(r) = &a.recipe {
        if r.len() != a.codecs.len() {
            return Err(UsageError(format!(
                "--recipe: {} recipe(s) for {} codec(s); give one per codec, in the same order",
                r.len(),
                a.codecs.len()
            ))
            .into());
        }
    }
    let given = a.input.as_ref().or(a.input_flag.as_ref());
    let title = match given {
        None => Input::Demo.title(),
        Some(p) if p.as_os_str() == "-" => "stdin".to_string(),
        Some(p) => Input::File {
            path: p.clone(),
            options: Default::default(),
        }
        .title(),
    };
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{title}-compare")));
    let input = super::common::title_input(
        given.map(PathBuf::as_path),
        input_options(&a.raw, false),
        &out_dir,
    )?;
    fsutil::ensure_dir(&out_dir)?;
    let store = store_for(a.store.cache.as_deref(), a.store.no_cache)?;
    let opts = run_options(a.threads)?;
    let o = RecipeOverrides {
        sizes: a.sizes.clone(),
        ..RecipeOverrides::default()
    };
    let mut recipes = Vec::new();
    for (i, codec) in a.codecs.iter().enumerate() {
        let file = a.recipe.as_ref().map(|r| r[i].as_path());
        let mut r = recipe_for(file, Some(codec), &o)?;
        if let Some(file) = file.filter(|_| r.encoder.codec != *codec) {
            return Err(UsageError(format!(
                "--recipe {}: is for {}, not {codec}",
                file.display(),
                r.encoder.codec
            ))
            .into());
        }
        r.encoder.codec = codec.clone();
        recipes.push(r);
    }
    let exec = match exec {
        Some(e) => e,
        None => Exec::from_args(&a.executor, store.as_ref())?,
    };
    let runs: Vec<LadderRun> = recipes
        .iter()
        .map(|r| {
            LadderRun::new(&input, r)
                .frames(a.frames)
                .store(store.as_ref())
                .options(opts.clone())
        })
        .collect();
    if !exec.is_local() {
        // Every codec's tasks in one array.
        let mut jobs = Vec::new();
        for (run, r) in runs.iter().zip(&recipes) {
            jobs.push(Job {
                title: format!("{}-{}", input.title(), r.encoder.codec),
                input: input.clone(),
                scoring: r.scoring.clone(),
                tasks: run.tasks()?,
            });
        }
        let label = format!("{}-compare", input.title());
        if let Ready::Detached = batch::ensure(cli, &exec, &jobs, store.as_ref(), &label)? {
            return Ok(());
        }
    }
    // Same sizes for every codec: the first recipe's, resolved against the source.
    let mut sets: Vec<(String, Vec<Point>)> = Vec::new();
    let mut outcomes = Vec::new();
    // Points finished by this run, over all codecs so far.
    let mut finished = 0;
    for (r, run) in recipes.iter().zip(&runs) {
        if !cli.quiet {
            eprintln!("{}:", r.encoder.codec);
        }
        let progress = GridProgress::new(cli.quiet || a.json);
        let res = run.run(&|e| progress.event(e));
        progress.finish();
        finished += progress.done();
        let out = match res {
            Err(e) if e.is_cancelled() && interrupt::requested() => {
                match &store {
                    Some(s) => eprintln!(
                        "pertitle: interrupted; {} point(s) finished by this run are kept in the store {} and will be reused by the next run; no outputs written",
                        finished,
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
        // BD-rate over the points each codec's ladder may use, so the comparison's hulls are
        // the ladders' hulls.
        let eligible = pertitle::ladder::eligible(&out.points, r)?;
        sets.push((
            r.encoder.codec.clone(),
            eligible.iter().map(|&i| out.points[i].clone()).collect(),
        ));
        outcomes.push(out);
    }
    let cmp = compare_codecs(&sets, &[Metric::Vmaf, Metric::PsnrY], Method::Pchip)?;
    let title = input.title();
    let mut plots = cmp.render(&out_dir, &title)?;
    let json = serde_json::to_string_pretty(&cmp)? + "\n";
    fsutil::atomic_write(out_dir.join("compare.json"), json.as_bytes())?;
    let first = &outcomes[0];
    let mut points = Vec::new();
    for o in &outcomes {
        points.extend(o.points.iter().cloned());
        let sub = out_dir.join(o.recipe.encoder.codec.replace('/', "_"));
        output::write_outputs(&sub, o)?;
    }
    let mut hull: Vec<Point> = points.iter().filter(|p| p.on_hull).cloned().collect();
    hull.sort_by(|a, b| a.codec.cmp(&b.codec).then(a.kbps.total_cmp(&b.kbps)));
    let mut notes = vec![format!(
        "BD-rate: {} against {}, PCHIP in log-rate over the overlapping quality range (negative = fewer bits for the same quality: better than {}).",
        cmp.codecs[1..].join(", "),
        cmp.reference,
        cmp.reference
    )];
    let cautions: Vec<String> = sets
        .iter()
        .flat_map(|(_, pts)| pertitle::points::out_of_order(pts, Metric::Vmaf))
        .chain(
            cmp.results
                .iter()
                .filter(|r| r.metric == Metric::Vmaf)
                .flat_map(|r| {
                    let reference = &cmp.reference;
                    r.warnings
                        .iter()
                        .map(move |w| format!("{} vs {reference}: {w}", r.codec))
                }),
        )
        .collect();
    notes.extend(cautions.iter().cloned());
    notes.extend(outcomes.iter().flat_map(|o| {
        o.ladder
            .warnings
            .iter()
            .map(move |w| format!("{}: {w}", o.recipe.encoder.codec))
    }));
    plots.retain(|p| !p.png.is_empty());
    let data = report::ReportData {
        title: format!("{title}: {}", a.codecs.join(" vs ")),
        source: vec![
            ("Path".into(), first.source.path.clone()),
            (
                "Size".into(),
                format!("{}x{}", first.source.width, first.source.height),
            ),
            ("Frames".into(), first.source.frames.to_string()),
        ],
        grid: outcomes
            .iter()
            .map(|o| {
                let mut crf: Vec<f64> = o.points.iter().map(|p| p.crf).collect();
                crf.sort_by(f64::total_cmp);
                crf.dedup();
                (
                    o.recipe.encoder.codec.clone(),
                    format!(
                        "preset {}, CRF {}",
                        o.recipe
                            .encoder
                            .preset
                            .clone()
                            .unwrap_or_else(|| "default".into()),
                        crf.iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
            .collect(),
        metric: Some(Metric::Vmaf),
        points,
        hull,
        rungs: Vec::new(),
        bd_rates: cmp.bd_rows(),
        plots,
        notes,
        shots: None,
    };
    report::write_report(&data, &out_dir)?;
    if a.json {
        println!("{json}");
    } else if !cli.quiet {
        println!(
            "BD-rate against {} ({}; negative = fewer bits for the same quality, better than {}):",
            cmp.reference,
            cmp.method.name(),
            cmp.reference
        );
        println!("  {:<12} {:>10} {:>10}", "codec", "VMAF", "PSNR-Y");
        for c in &cmp.codecs[1..] {
            let f = |m| {
                cmp.bd_rate(c, m)
                    .map(|v| format!("{v:+.2} %"))
                    .unwrap_or_else(|| "n/a".into())
            };
            println!(
                "  {:<12} {:>10} {:>10}",
                c,
                f(Metric::Vmaf),
                f(Metric::PsnrY)
            );
        }
        for r in cmp.results.iter().filter(|r| r.error.is_some()) {
            println!(
                "  {} {}: {}",
                r.codec,
                r.metric,
                r.error.as_deref().unwrap_or("")
            );
        }
        for c in &cautions {
            println!("caution: {c}");
        }
        println!("outputs in {}", out_dir.display());
    }
    Ok(())
}
