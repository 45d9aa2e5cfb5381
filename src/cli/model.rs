//! `pertitle features | train | eval DATASET`: custom quality models from a subjective dataset.

use super::args::{Cli, DatasetArgs, EvalArgs, FeaturesArgs, TrainArgs};
use super::common::store_for;
use super::{interrupt, progress, Interrupted};
use anyhow::Result;
use pertitle::agreement::{self, Agreement, Intervals};
use pertitle::dataset::Dataset;
use pertitle::evaluation::Predictor;
use pertitle::features::{self, Extracted, FEATURES};
use pertitle::quality::svr::{NuSvrParams, Rbf};
use pertitle::quality::{Engine, EngineConfig, Metrics};
use pertitle::report::plot::{render_scatter, ScatterPlot, ScatterPoint};
use pertitle::training::{self, ModelInput, Validation};
use pertitle::{fsutil, Error};
use std::fmt::Write as _;
use std::path::Path;

/// Every pair's features, from the store or scored now (with a progress bar).
fn dataset_features(cli: &Cli, a: &DatasetArgs, ds: &Dataset) -> Result<Extracted> {
    let store = store_for(a.store.cache.as_deref(), a.store.no_cache)?;
    let engine = Engine::new(EngineConfig {
        model: "vmaf_v0.6.1".into(),
        phone: false,
        metrics: Metrics {
            vmaf: true,
            psnr: true,
            ssim: true,
        },
        threads: a.threads.unwrap_or(0),
    })?;
    let n = ds.distorted.len() as u64;
    let bar = progress::counter(
        cli.quiet,
        n,
        "features [{bar:30}] {pos}/{len} pairs eta {eta}",
    );
    // Test-only pause after the N-th pair scored now (see progress::test_pause).
    let pause_after: Option<usize> = std::env::var("PERTITLE_TEST_PAUSE_AFTER")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    let scored = std::sync::atomic::AtomicUsize::new(0);
    let result = features::extract(ds, &engine, store.as_ref(), a.jobs, |_, reused| {
        bar.inc(1);
        if !reused {
            let n = scored.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if pause_after == Some(n) {
                progress::test_pause();
            }
        }
        !interrupt::requested()
    });
    bar.finish_and_clear();
    let ex = match result {
        Ok(ex) => ex,
        Err(_) if interrupt::requested() => {
            eprintln!("pertitle: interrupted; the pairs scored so far are in the result store");
            return Err(Interrupted.into());
        }
        Err(e) => return Err(e.into()),
    };
    if cli.verbose && !cli.quiet {
        eprintln!(
            "features: {} pairs scored, {} from the result store",
            ex.computed, ex.reused
        );
    }
    Ok(ex)
}

pub fn features(cli: &Cli, a: &FeaturesArgs) -> Result<()> {
    for p in [&a.csv, &a.json].into_iter().flatten() {
        if let Some(dir) = parent_dir(p) {
            fsutil::check_writable(dir)?;
        }
    }
    let ds = Dataset::load(&a.data.dataset)?;
    let ex = dataset_features(cli, &a.data, &ds)?;
    let shown = [
        "vmaf",
        "integer_adm2",
        "integer_motion2",
        "integer_vif_scale0",
        "psnr_y",
    ];
    if !cli.quiet {
        println!(
            "{:<14} {:<28} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "content", "video", "frames", "score", "vmaf", "adm2", "motion2", "vif0", "psnr_y"
        );
        for (i, p) in ex.pairs.iter().enumerate() {
            let d = &ds.distorted[i];
            print!(
                "{:<14} {:<28} {:>7} {:>8.3}",
                ds.content(i),
                file_name(&d.path),
                p.frames,
                d.opinion.score
            );
            for f in shown {
                print!(" {:>8.4}", p.mean(f).unwrap_or(f64::NAN));
            }
            println!();
        }
        println!(
            "{} pairs: {} scored now, {} from the result store",
            ex.pairs.len(),
            ex.computed,
            ex.reused
        );
    }
    if let Some(path) = &a.csv {
        let mut s = String::from("content,video,frames,opinion");
        for f in FEATURES {
            let _ = write!(s, ",{f}");
        }
        s.push('\n');
        for (i, p) in ex.pairs.iter().enumerate() {
            let d = &ds.distorted[i];
            let _ = write!(
                s,
                "{},{},{},{}",
                csv_field(ds.content(i)),
                csv_field(&d.path.display().to_string()),
                p.frames,
                d.opinion.score
            );
            for f in FEATURES {
                match p.mean(f) {
                    Some(v) => {
                        let _ = write!(s, ",{v}");
                    }
                    None => s.push(','),
                }
            }
            s.push('\n');
        }
        fsutil::atomic_write(path, s.as_bytes())?;
    }
    if let Some(path) = &a.json {
        let pairs: Vec<serde_json::Value> = ex
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let pooled: std::collections::BTreeMap<&str, f64> = FEATURES
                    .iter()
                    .filter_map(|f| p.mean(f).map(|v| (*f, v)))
                    .collect();
                serde_json::json!({
                    "content": ds.content(i),
                    "video": ds.distorted[i].path.display().to_string(),
                    "opinion": ds.distorted[i].opinion,
                    "frames": p.frames,
                    "pooled_mean": pooled,
                    "per_frame": p.per_frame,
                })
            })
            .collect();
        let v = serde_json::json!({ "dataset": ds.name, "score_kind": ds.kind, "pairs": pairs });
        let text = serde_json::to_string_pretty(&v).expect("JSON values serialise");
        fsutil::atomic_write(path, text.as_bytes())?;
    }
    Ok(())
}

pub fn train(cli: &Cli, a: &TrainArgs) -> Result<()> {
    let inputs: Vec<ModelInput> = a
        .features
        .iter()
        .map(|f| ModelInput::parse(f.trim()))
        .collect::<pertitle::Result<_>>()?;
    let params = NuSvrParams {
        nu: a.nu,
        c: a.c,
        kernel: Rbf { gamma: a.gamma },
        tol: a.tol,
        max_iter: None,
    };
    // Bad parameters and an unwritable output fail before any scoring.
    params
        .validate()
        .map_err(|e| super::UsageError(e.to_string()))?;
    if let Some(dir) = parent_dir(&a.out) {
        fsutil::check_writable(dir)?;
    }
    let how = match a.folds {
        Some(k) => Validation::KFold { k },
        None => Validation::Split {
            test_fraction: a.test_fraction,
        },
    };
    let ds = Dataset::load(&a.data.dataset)?;
    training::check_validation(&ds, how)?;
    let contents = ds.contents().len();
    let ex = dataset_features(cli, &a.data, &ds)?;
    let (rows, scores) = training::samples(&ds, &ex.pairs, &inputs)?;
    let v = training::cross_validate(&ds, &inputs, &rows, &scores, &params, how, a.seed)?;
    let model = training::train(&inputs, &rows, &scores, &params)?;
    fsutil::atomic_write(&a.out, model.to_json().as_bytes())?;
    if !cli.quiet {
        let names: Vec<&str> = inputs.iter().map(ModelInput::short).collect();
        println!(
            "{} videos of {contents} contents; features {}; nu {} C {} gamma {}",
            ds.distorted.len(),
            names.join(","),
            a.nu,
            a.c,
            a.gamma
        );
        for (k, f) in v.folds.iter().enumerate() {
            let figures = match &f.agreement {
                Ok(a) => agreement_line(a),
                Err(e) => format!("no figures ({e})"),
            };
            println!(
                "held out {} ({} videos: {}): {figures}",
                if v.folds.len() > 1 {
                    format!("fold {}", k + 1)
                } else {
                    "split".to_string()
                },
                f.predicted.len(),
                f.contents.join(", "),
            );
        }
        println!("held-out, all: {}", agreement_line(&v.agreement));
        let fit: Vec<f64> = rows.iter().map(|r| model.predict(r)).collect();
        if let Ok(t) = agreement::agreement(&fit, &scores) {
            println!(
                "training set (model on every video): {}",
                agreement_line(&t)
            );
        }
        println!(
            "model: {} support vectors of {} videos; written to {}",
            model.svr.support.len(),
            rows.len(),
            a.out.display()
        );
    }
    Ok(())
}

pub fn eval(cli: &Cli, a: &EvalArgs) -> Result<()> {
    let predictor = Predictor::parse(&a.metric)?;
    if let Some(p) = &a.plot {
        pertitle::report::plot::check_plot_path(p)?;
    }
    for p in [&a.plot, &a.json].into_iter().flatten() {
        if let Some(dir) = parent_dir(p) {
            fsutil::check_writable(dir)?;
        }
    }
    let ds = Dataset::load(&a.data.dataset)?;
    let ex = dataset_features(cli, &a.data, &ds)?;
    let predicted: Vec<f64> = ex
        .pairs
        .iter()
        .map(|p| predictor.predict(p))
        .collect::<pertitle::Result<_>>()?;
    let opinion: Vec<f64> = ds.distorted.iter().map(|d| d.opinion.score).collect();
    let what =
        |e: agreement::AgreementError| Error::data(ds.file.display().to_string(), e.to_string());
    let figures = agreement::agreement(&predicted, &opinion).map_err(what)?;
    let ci = agreement::bootstrap(&predicted, &opinion, a.bootstrap, a.seed).map_err(what)?;
    if !cli.quiet {
        println!(
            "{} against {} ({}) of {} videos, {} contents",
            predictor.label(),
            ds.name,
            ds.kind,
            ds.distorted.len(),
            ds.contents().len()
        );
        print_with_intervals(&figures, &ci);
    }
    if let Some(path) = &a.plot {
        let points = (0..predicted.len())
            .map(|i| ScatterPoint {
                predicted: predicted[i],
                opinion: opinion[i],
                group: ds.content(i).to_string(),
            })
            .collect();
        let plot = ScatterPlot {
            title: format!("{} vs opinion, {}", predictor.label(), ds.name),
            x_label: predictor.label(),
            y_label: ds.kind.to_string(),
            points,
            curve: {
                let lo = predicted.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = predicted.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (0..=200)
                    .map(|k| {
                        let x = lo + (hi - lo) * k as f64 / 200.0;
                        (x, figures.fit.apply(x))
                    })
                    .collect()
            },
            caption: vec![
                format!("SRCC {:.4}", figures.srcc),
                format!("PCC  {:.4}", figures.pcc),
                format!("RMSE {:.4}", figures.rmse),
                format!("n = {}", figures.n),
            ],
        };
        render_scatter(&plot, path)?;
    }
    if let Some(path) = &a.json {
        let pairs: Vec<serde_json::Value> = (0..predicted.len())
            .map(|i| {
                serde_json::json!({
                    "content": ds.content(i),
                    "video": ds.distorted[i].path.display().to_string(),
                    "predicted": predicted[i],
                    "opinion": opinion[i],
                    "fitted": figures.fit.apply(predicted[i]),
                })
            })
            .collect();
        let v = serde_json::json!({
            "dataset": ds.name,
            "metric": predictor.label(),
            "score_kind": ds.kind,
            "agreement": figures,
            "intervals_95": ci,
            "seed": a.seed,
            "pairs": pairs,
        });
        let text = serde_json::to_string_pretty(&v).expect("JSON values serialise");
        fsutil::atomic_write(path, text.as_bytes())?;
    }
    Ok(())
}

fn agreement_line(a: &Agreement) -> String {
    format!(
        "SRCC {:.4}  PCC {:.4}  RMSE {:.4}  (n = {})",
        a.srcc, a.pcc, a.rmse, a.n
    )
}

fn print_with_intervals(a: &Agreement, ci: &Intervals) {
    println!(
        "{:<6} {:>9}   95 % interval ({} resamples)",
        "", "value", ci.resamples
    );
    for (name, v, i) in [
        ("SRCC", a.srcc, ci.srcc),
        ("PCC", a.pcc, ci.pcc),
        ("RMSE", a.rmse, ci.rmse),
    ] {
        println!("{name:<6} {v:>9.4}   [{:.4}, {:.4}]", i.lo, i.hi);
    }
    let f = &a.fit;
    println!(
        "logistic fit: ({:.6} - {:.6}) / (1 + exp(-(x - {:.6}) / {:.6})) + {:.6}",
        f.b1, f.b2, f.b3, f.b4, f.b2
    );
}

fn parent_dir(p: &Path) -> Option<&Path> {
    p.parent().filter(|d| !d.as_os_str().is_empty())
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
