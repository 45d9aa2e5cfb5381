//! `pertitle score`: VMAF / PSNR / SSIM of a distorted video against a reference.

use super::args::{Cli, ScoreArgs, ScoreMetric};
use super::common::input_options;
use super::{interrupt, progress};
use anyhow::Result;
use pertitle::media::{self, PairMismatch};
use pertitle::quality::log::{self as vlog, LogFrame};
use pertitle::quality::{Engine, EngineConfig, FrameScores, Metrics, VideoScorer};
use pertitle::{fsutil, Error};
use std::collections::BTreeMap;
use std::time::Instant;

pub fn run(cli: &Cli, a: &ScoreArgs) -> Result<()> {
    let metrics = Metrics {
        vmaf: a.metrics.contains(&ScoreMetric::Vmaf),
        psnr: a.metrics.contains(&ScoreMetric::Psnr),
        ssim: a.metrics.contains(&ScoreMetric::Ssim),
    };
    let pools = &a.pool;
    let opts = input_options(&a.raw, a.allow_decode_errors);
    let mut r = media::open(&a.reference, &opts)?;
    let mut d = media::open(&a.distorted, &opts)?;
    let (ri, di) = (r.info().clone(), d.info().clone());
    // The library checks the pair; the command adds which flag helps.
    let frames = media::check_pair(&ri, &di, a.frames).map_err(|e| {
        Error::Mismatch(match e {
            PairMismatch::FrameCount { .. } => {
                format!("{e} (use --frames N to score the first N)")
            }
            PairMismatch::TooFewFrames { .. } => format!("--frames: {e}"),
            _ => e.to_string(),
        })
    })?;
    // Fail before the work, not after: the output files' directories must be writable.
    for p in [&a.json, &a.csv].into_iter().flatten() {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            fsutil::check_writable(dir)?;
        }
    }
    let engine = Engine::new(EngineConfig {
        model: a.model.clone(),
        phone: a.phone,
        metrics,
        threads: a.threads.unwrap_or(0),
    })?;
    let bar = progress::counter(
        cli.quiet,
        frames,
        "   score [{bar:30}] {pos}/{len} frames {per_sec} eta {eta}",
    );
    let t0 = Instant::now();
    let pb = bar.clone();
    let mut scorer = VideoScorer::new(&engine).with_progress(move |n| {
        pb.set_position(n);
        !interrupt::requested()
    });
    let n = media::pair_frames(&mut *r, &mut *d, frames, a.scaler, |rf, df| {
        scorer.push(rf, df)?;
        Ok(true)
    })?;
    let scores = scorer.finish()?;
    bar.finish_and_clear();
    let elapsed = t0.elapsed().as_secs_f64();
    // libvmaf's n_subsample: temporal features see every frame, the rest only every Nth; we
    // compute all and report every Nth, which gives libvmaf's numbers.
    let kept: Vec<&FrameScores> = scores
        .frames
        .iter()
        .filter(|f| f.index % a.subsample as u64 == 0)
        .collect();
    let names: Vec<&str> = {
        let mut v = Vec::new();
        if metrics.vmaf {
            v.push("vmaf");
        }
        if metrics.psnr {
            v.extend(["psnr_y", "psnr_cb", "psnr_cr"]);
        }
        if metrics.ssim {
            v.push("float_ssim");
        }
        v
    };
    if !cli.quiet {
        print!("{:<12}", "metric");
        for p in pools {
            print!(" {:>14}", p.name());
        }
        println!();
        for m in &names {
            let v: Vec<f64> = kept.iter().filter_map(|f| f.get(m)).collect();
            print!("{:<12}", if *m == "float_ssim" { "ssim" } else { m });
            for p in pools {
                print!(" {:>14.6}", p.apply(&v));
            }
            println!();
        }
        println!(
            "{} frames scored in {:.2} s ({:.1} fps)",
            kept.len(),
            elapsed,
            n as f64 / elapsed.max(1e-9)
        );
    }
    let log: Vec<LogFrame> = kept
        .iter()
        .map(|f| {
            let mut m: BTreeMap<String, f64> = f
                .metrics()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            if let Some(s) = f.ssim {
                m.insert("ssim".into(), s);
            }
            LogFrame::new(f.index, m)
        })
        .collect();
    if let Some(p) = &a.json {
        let fps = n as f64 / elapsed.max(1e-9);
        fsutil::atomic_write_with(p, |w| {
            vlog::write_json(w, pertitle::VERSION, Some(fps), &log)
        })?;
    }
    if let Some(p) = &a.csv {
        fsutil::atomic_write_with(p, |w| vlog::write_csv(w, &log))?;
    }
    Ok(())
}
