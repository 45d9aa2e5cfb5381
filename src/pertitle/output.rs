//! What a ladder run writes: `points.json`, `points.csv`, `frames.csv`, the plots and the report,
//! and `ladder.toml` last ([`write_outputs`]); and the run's [`Summary`], which the command
//! prints as a table ([`summary_table`]) or as JSON.

use crate::error::{Error, Result};
use crate::fsutil;
use crate::grid::TaskResult;
use crate::hull::Hull;
use crate::ladder::{self, Ladder};
use crate::points::{Metric, Point, Series, SourceIdentity};
use crate::quality::pooling::PoolMethod;
use crate::report::plot::{FramePlot, FrameSeries};
use crate::report::{ReportData, RunPlots, RungRow, SampleSection, ShotsSection};
use crate::run::Outcome;
use crate::search::SearchStats;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `points.json`: the source and every point (the layout `pertitle hull` and `bdrate` read).
pub fn points_json(source: &SourceIdentity, points: &[Point]) -> Result<String> {
    let file = ladder::PointsFile {
        source: Some(source.clone()),
        points: points.to_vec(),
    };
    let mut s = serde_json::to_string_pretty(&file)
        .map_err(|e| Error::data("points.json", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        String::new()
    }
}

/// `points.csv`: one row per point, headline metrics and their pooled variants.
pub fn points_csv(points: &[Point]) -> String {
    let stats = [
        PoolMethod::HarmonicMean,
        PoolMethod::Min,
        PoolMethod::Median,
        PoolMethod::Percentile(5.0),
        PoolMethod::Percentile(10.0),
    ];
    let mut s = String::from("codec,width,height,crf,kbps,bytes");
    for m in Metric::ALL {
        let _ = write!(s, ",{m}");
    }
    for m in Metric::ALL {
        for st in stats {
            let _ = write!(s, ",{m}_{}", st.name());
        }
    }
    s.push_str(",on_hull\n");
    for p in points {
        let _ = write!(
            s,
            "{},{},{},{},{:.3},{},{},{},{}",
            p.codec,
            p.width,
            p.height,
            p.crf,
            p.kbps,
            p.bytes,
            num(p.vmaf),
            num(p.psnr_y),
            num(p.ssim)
        );
        for m in Metric::ALL {
            let pooled = p.pooled.get(&m.series());
            for st in stats {
                let v = pooled.and_then(|q| q.get(st));
                let _ = write!(s, ",{}", v.map(num).unwrap_or_default());
            }
        }
        let _ = writeln!(s, ",{}", p.on_hull);
    }
    s
}

/// `frames.csv`: per-frame scores of every point (long format: one row per point and frame).
pub fn frames_csv(results: &[TaskResult]) -> String {
    let mut s = String::from("codec,width,height,crf,frame");
    for m in Series::ALL {
        let _ = write!(s, ",{m}");
    }
    s.push('\n');
    for r in results {
        let p = &r.point;
        for (i, f) in r.scored_frames.iter().enumerate() {
            let _ = write!(s, "{},{},{},{},{}", p.codec, p.width, p.height, p.crf, f);
            for m in Series::ALL {
                let v = r.scores.get(&m).and_then(|v| v.get(i)).copied();
                let _ = write!(s, ",{}", v.map(num).unwrap_or_default());
            }
            s.push('\n');
        }
    }
    s
}

/// Writes the run's outputs into `dir`, each file atomically, `ladder.toml` last (so a directory
/// with a ladder.toml is complete). Returns the files written.
///
/// A stale `ladder.toml` from an earlier run is removed first, so a run that fails
/// half-way (full disk) never leaves new points beside an old ladder that looks complete; and on
/// failure every file this call created is removed again (files that existed before are left).
pub fn write_outputs(dir: &Path, out: &Outcome) -> Result<Vec<PathBuf>> {
    fsutil::ensure_dir(dir)?;
    let listing = || -> std::collections::BTreeSet<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    let marker = dir.join("ladder.toml");
    match std::fs::remove_file(&marker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&marker, e)),
    }
    let before = listing();
    let r = write_outputs_inner(dir, out);
    if r.is_err() {
        for name in listing().difference(&before) {
            let p = dir.join(name);
            if p.is_file() {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    r
}

fn write_outputs_inner(dir: &Path, out: &Outcome) -> Result<Vec<PathBuf>> {
    let put = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
        let p = dir.join(name);
        fsutil::atomic_write(&p, bytes)?;
        Ok(p)
    };
    let mut written = vec![
        put(
            "points.json",
            points_json(&out.source, &out.points)?.as_bytes(),
        )?,
        put("points.csv", points_csv(&out.points).as_bytes())?,
        put("frames.csv", frames_csv(&out.results).as_bytes())?,
    ];
    if let Some(shots) = &out.shots {
        written.push(put("shots.json", shots.to_json().as_bytes())?);
        written.push(put("shots.csv", shots.to_csv().as_bytes())?);
    }
    if out.chunks.len() > 1 {
        written.push(put("chunks.csv", chunks_csv(out).as_bytes())?);
    }
    written.extend(write_run_report(dir, out)?);
    written.push(put("ladder.toml", out.ladder.to_toml()?.as_bytes())?);
    Ok(written)
}

/// The title's chunks: frames, seconds, and for a sampled run each sampled chunk's weight and
/// stratum (empty for the others).
pub fn chunks_csv(out: &Outcome) -> String {
    let fps = out.info.fps();
    let mut t = String::from("chunk,start,frames,start_s,seconds,sampled_weight,stratum\n");
    for (i, c) in out.chunks.iter().enumerate() {
        let s = out
            .sample
            .as_ref()
            .and_then(|s| s.sample.chunks.iter().find(|p| p.chunk == i));
        let _ = writeln!(
            t,
            "{i},{},{},{:.3},{:.3},{},{}",
            c.start,
            c.frames,
            c.start as f64 / fps,
            c.frames as f64 / fps,
            s.map(|s| format!("{:.4}", s.weight)).unwrap_or_default(),
            s.map(|s| s.stratum.to_string()).unwrap_or_default()
        );
    }
    t
}

/// The ladder's rungs as report rows.
pub fn rung_rows(ladder: &Ladder) -> Vec<RungRow> {
    ladder
        .rungs
        .iter()
        .map(|r| RungRow {
            codec: r.codec.clone(),
            width: r.width,
            height: r.height,
            kbps: r.kbps as f64,
            maxrate_kbps: Some(r.maxrate_kbps as f64),
            crf: Some(r.crf),
            vmaf: Some(r.vmaf),
            psnr_y: Some(r.psnr_y),
            ssim: Some(r.ssim),
            kbps_is_target: r.rate_control == crate::recipe::RungRateControl::TwoPassVbr,
            verified: r.verified.clone(),
            commands: r.ffmpeg.clone(),
        })
        .collect()
}

/// Per-frame series of each rung: its own verified encode when the run verified the ladder,
/// else the grid point nearest it (same size, closest CRF; rungs between grid points have no
/// frames of their own), labelled as such. Each series keeps its source frame indices, which
/// a sampled run's do not cover contiguously.
fn rung_frames(out: &Outcome, metric: Metric) -> Vec<FrameSeries> {
    let mut series = Vec::new();
    for (i, r) in out.ladder.rungs.iter().enumerate() {
        if let Some(Some(t)) = out.verified.get(i) {
            if let Some(v) = t.scores.get(&metric.series()) {
                series.push(FrameSeries {
                    label: format!("rung {} {}p {} kbps", i + 1, r.height, r.kbps),
                    frames: t.scored_frames.clone(),
                    values: v.clone(),
                });
            }
            continue;
        }
        let best = out
            .results
            .iter()
            .filter(|t| t.point.width == r.width && t.point.height == r.height)
            .min_by(|a, b| {
                (a.point.crf - r.crf)
                    .abs()
                    .total_cmp(&(b.point.crf - r.crf).abs())
            });
        if let Some(t) = best {
            if let Some(v) = t.scores.get(&metric.series()) {
                let label = format!(
                    "grid {}p crf {} ({:.0} kbps) near rung {}",
                    t.point.height,
                    t.point.crf,
                    t.point.kbps,
                    i + 1
                );
                if !series.iter().any(|s: &FrameSeries| s.label == label) {
                    series.push(FrameSeries {
                        label,
                        frames: t.scored_frames.clone(),
                        values: v.clone(),
                    });
                }
            }
        }
    }
    series
}

/// The hull of each of `metrics` over the points the ladder may use: `hull` itself for the
/// ladder's metric, the same points under the others.
pub fn hulls_for(
    points: &[Point],
    hull: &Hull,
    recipe: &crate::recipe::Recipe,
    metrics: &[Metric],
) -> Result<Vec<Hull>> {
    let eligible = ladder::eligible(points, recipe)?;
    Ok(metrics
        .iter()
        .map(|&m| {
            if m == hull.metric() {
                hull.clone()
            } else {
                Hull::of_subset(points, &eligible, m)
            }
        })
        .collect())
}

/// Plots and `report.md` / `report.html` of a run.
pub fn write_run_report(dir: &Path, out: &Outcome) -> Result<Vec<PathBuf>> {
    let rungs = rung_rows(&out.ladder);
    let metrics: Vec<Metric> = {
        let mut m = vec![out.recipe.ladder.metric];
        for x in &out.recipe.scoring.metrics {
            if !m.contains(x) {
                m.push(*x);
            }
        }
        m
    };
    let metric = out.recipe.ladder.metric;
    let frames = Some(FramePlot {
        title: format!(
            "{}: per-frame {} of {}",
            out.title,
            metric.name(),
            if out.verified.iter().any(Option::is_some) {
                "each rung's verified encode"
            } else {
                "the grid points nearest each rung"
            }
        ),
        metric,
        fps: Some(out.info.fps()),
        series: rung_frames(out, metric),
        title_frames: Some(out.source.frames),
        cuts: out
            .shots
            .as_ref()
            .map(|s| s.cuts.iter().map(|c| c.frame).collect())
            .unwrap_or_default(),
        chunk_starts: out.chunks.iter().skip(1).map(|c| c.start).collect(),
    });
    let hulls = hulls_for(&out.points, &out.hull, &out.recipe, &metrics)?;
    let run = RunPlots {
        clip: &out.title,
        codec: &out.recipe.encoder.codec,
        points: &out.points,
        hulls: &hulls,
        rungs: &rungs,
        frames,
    };
    let plots = crate::report::render_run_plots(dir, &run)?;
    let mut files: Vec<PathBuf> = Vec::new();
    for p in &plots {
        files.push(dir.join(&p.png));
        if let Some(svg) = &p.svg {
            files.push(dir.join(svg));
        }
    }
    let data = report_data(out, rungs, plots);
    let (md, html) = crate::report::write_report(&data, dir)?;
    files.push(md);
    files.push(html);
    Ok(files)
}

fn report_data(
    out: &Outcome,
    rungs: Vec<RungRow>,
    plots: Vec<crate::report::PlotRef>,
) -> ReportData {
    let s = &out.source;
    let r = &out.recipe;
    let sizes: Vec<String> = {
        let mut v: Vec<(u32, u32)> = out.points.iter().map(|p| (p.width, p.height)).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.dedup();
        v.iter().map(|(w, h)| format!("{w}x{h}")).collect()
    };
    let crfs: Vec<String> = {
        let mut v: Vec<f64> = out.points.iter().map(|p| p.crf).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.iter().map(|c| c.to_string()).collect()
    };
    let hull: Vec<Point> = out.hull.points(&out.points).into_iter().cloned().collect();
    let mut notes = out.ladder.warnings.clone();
    if let Some(st) = &out.search {
        notes.insert(0, st.summary());
    }
    ReportData {
        title: out.title.clone(),
        source: vec![
            ("Path".into(), s.path.clone()),
            ("Size".into(), format!("{}x{}", s.width, s.height)),
            (
                "Frame rate".into(),
                format!("{}/{} ({:.3} fps)", s.fps_num, s.fps_den, out.info.fps()),
            ),
            ("Frames".into(), s.frames.to_string()),
            ("Pixel format".into(), out.info.pix_fmt.clone()),
            ("Codec".into(), out.info.codec.clone()),
            ("Fingerprint".into(), s.fingerprint.clone()),
        ],
        grid: vec![
            ("Codec".into(), r.encoder.codec.clone()),
            (
                "Preset".into(),
                r.encoder
                    .preset
                    .clone()
                    .unwrap_or_else(|| "(default)".into()),
            ),
            ("Sizes".into(), sizes.join(", ")),
            ("CRF".into(), crfs.join(", ")),
            (
                "Scalers".into(),
                format!("down {}, up {}", r.scaling.down.name(), r.scaling.up.name()),
            ),
            (
                "Model".into(),
                format!(
                    "{}{}",
                    r.scoring.model,
                    if r.scoring.phone { " (phone)" } else { "" }
                ),
            ),
            ("Pooling".into(), r.scoring.pooling.name()),
            ("pertitle".into(), crate::VERSION.to_string()),
        ],
        metric: Some(r.ladder.metric),
        points: out.points.clone(),
        hull,
        rungs,
        bd_rates: Vec::new(),
        plots,
        notes,
        shots: shots_section(out),
    }
}

/// The report's "Shots and chunks" section: only when shots were detected (a chunked title).
fn shots_section(out: &Outcome) -> Option<ShotsSection> {
    let shots = out.shots.as_ref()?;
    let d = &shots.settings;
    let mut files = vec!["shots.csv".to_string(), "shots.json".to_string()];
    // The same condition write_outputs_inner writes chunks.csv under.
    if out.chunks.len() > 1 {
        files.push("chunks.csv".into());
    }
    Some(ShotsSection {
        fps: out.info.fps(),
        shots: shots.shots(),
        detector: format!(
            "analysis width {} samples, motion search ±{}, threshold {}× the neighbours, \
             min difference {}, histogram weight {}, window ±{} frames, shortest shot {} frames",
            d.analysis_width,
            d.search,
            d.threshold,
            d.min_diff,
            d.hist_weight,
            d.window,
            d.min_shot_frames
        ),
        chunks: out.chunks.clone(),
        min_seconds: out.recipe.chunking.min_seconds,
        max_seconds: out.recipe.chunking.max_seconds,
        sample: out.sample.as_ref().map(|s| SampleSection {
            chunks: s.sample.chunks.clone(),
            frames: s.sample.frames,
            fraction: s.sample.fraction,
            error: s.hull_error(&out.hull),
        }),
        files,
    })
}

/// A hull vertex as summaries list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HullRow {
    pub width: u32,
    pub height: u32,
    pub crf: f64,
    pub kbps: f64,
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
}

/// A rung as summaries list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RungSummary {
    pub width: u32,
    pub height: u32,
    pub kbps: u32,
    pub maxrate_kbps: u32,
    pub crf: f64,
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    pub rate_control: crate::recipe::RungRateControl,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<crate::ladder::Verified>,
}

/// What a ladder (from a run, or from stored points) came to: the hull it was built on, its
/// rungs, and for a run where its points came from. `pertitle ladder` and `pertitle hull` print
/// it as [`summary_table`] or as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<String>,
    pub metric: Metric,
    /// Points, and for a run how many it encoded and how many came from the store.
    pub points: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchStats>,
    pub hull: Vec<HullRow>,
    pub rungs: Vec<RungSummary>,
    pub warnings: Vec<String>,
    /// Corrupt store entries found (and recomputed), when a store was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_corrupt: Option<u64>,
    /// Shots detected and chunks encoded (a run of a chunked title).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shots: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// What a sampled run encoded and how far off its hull may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleSummary>,
}

/// A sampled run's share of the title and its error estimate (median over the hull's points of
/// the collapsed-strata standard errors).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSummary {
    pub chunks: usize,
    pub frames: u64,
    pub fraction: f64,
    pub kbps_error_pct: f64,
    pub quality_error: f64,
}

impl Summary {
    /// The summary of a ladder built on `hull` of `points`.
    pub fn of_ladder(points: &[Point], hull: &Hull, ladder: &Ladder) -> Summary {
        Summary {
            title: None,
            source: ladder.source.clone(),
            output_dir: None,
            metric: hull.metric(),
            points: points.len(),
            encoded: None,
            reused: None,
            search: None,
            hull: hull
                .points(points)
                .into_iter()
                .map(|p| HullRow {
                    width: p.width,
                    height: p.height,
                    crf: p.crf,
                    kbps: p.kbps,
                    vmaf: p.vmaf,
                    psnr_y: p.psnr_y,
                    ssim: p.ssim,
                })
                .collect(),
            rungs: ladder
                .rungs
                .iter()
                .map(|r| RungSummary {
                    width: r.width,
                    height: r.height,
                    kbps: r.kbps,
                    maxrate_kbps: r.maxrate_kbps,
                    crf: r.crf,
                    vmaf: r.vmaf,
                    psnr_y: r.psnr_y,
                    ssim: r.ssim,
                    rate_control: r.rate_control,
                    verified: r.verified.clone(),
                })
                .collect(),
            warnings: ladder.warnings.clone(),
            store_corrupt: None,
            shots: None,
            chunks: None,
            sample: None,
        }
    }

    /// The summary of a ladder alone, without its points (`pertitle verify`).
    pub fn of_ladder_file(ladder: &Ladder) -> Summary {
        let hull = crate::hull::Hull::of_subset(&[], &[], ladder.metric);
        Summary {
            hull: Vec::new(),
            points: 0,
            ..Summary::of_ladder(&[], &hull, ladder)
        }
    }

    /// The summary of a run whose outputs are in `dir`.
    pub fn of_run(out: &Outcome, dir: &Path) -> Summary {
        Summary {
            title: Some(out.title.clone()),
            output_dir: Some(dir.display().to_string()),
            encoded: Some(out.encoded),
            reused: Some(out.tasks.saturating_sub(out.encoded)),
            search: out.search.clone(),
            shots: out.shots.as_ref().map(|s| s.cuts.len() + 1),
            chunks: Some(out.chunks.len()),
            sample: out.sample.as_ref().map(|s| {
                let e = s.hull_error(&out.hull);
                SampleSummary {
                    chunks: s.sample.chunks.len(),
                    frames: s.sample.frames,
                    fraction: s.sample.fraction,
                    kbps_error_pct: e.kbps_rel * 100.0,
                    quality_error: e.quality,
                }
            }),
            ..Summary::of_ladder(&out.points, &out.hull, &out.ladder)
        }
    }
}

/// The summary as the command prints it: hull, rungs, warnings, where the points came from.
pub fn summary_table(s: &Summary) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "hull ({}):", s.metric.name());
    let _ = writeln!(
        t,
        "  {:>9} {:>5} {:>10} {:>8} {:>8} {:>7}",
        "size", "crf", "kbps", "vmaf", "psnr_y", "ssim"
    );
    for p in &s.hull {
        let _ = writeln!(
            t,
            "  {:>9} {:>5} {:>10.1} {:>8.2} {:>8.2} {:>7.4}",
            format!("{}x{}", p.width, p.height),
            p.crf,
            p.kbps,
            p.vmaf,
            p.psnr_y,
            p.ssim
        );
    }
    let _ = writeln!(t, "ladder ({} rungs):", s.rungs.len());
    let verified = s.rungs.iter().any(|r| r.verified.is_some());
    let _ = write!(
        t,
        "  {:>9} {:>6} {:>8} {:>6} {:>8}",
        "size", "kbps", "maxrate", "crf", "vmaf"
    );
    if verified {
        let _ = write!(
            t,
            " | {:>9} {:>9} {:>8} {:>7} {:>3}",
            "got kbps", "peak", "got vmaf", "error", "enc"
        );
    }
    t.push('\n');
    for r in &s.rungs {
        let _ = write!(
            t,
            "  {:>9} {:>6} {:>8} {:>6.1} {:>8.2}",
            format!("{}x{}", r.width, r.height),
            r.kbps,
            r.maxrate_kbps,
            r.crf,
            r.vmaf
        );
        if let Some(v) = &r.verified {
            let _ = write!(
                t,
                " | {:>9.1} {:>9.1} {:>8.2} {:>+7.2} {:>3}",
                v.kbps, v.peak_kbps, v.vmaf, v.error, v.encodes
            );
        }
        t.push('\n');
    }
    if s.rungs
        .iter()
        .any(|r| r.rate_control == crate::recipe::RungRateControl::CappedCrf)
    {
        let _ = writeln!(
            t,
            "  (capped CRF: kbps is the average the grid predicts at that CRF, not a target; maxrate is the cap)"
        );
    }
    if !verified && !s.rungs.is_empty() {
        let _ = writeln!(
            t,
            "  (predicted from the grid: --verify encodes each rung as its commands say and reports what it achieves; --refine corrects the misses)"
        );
    }
    if verified {
        let _ = writeln!(
            t,
            "  (got: the rung encoded as its commands say; error: achieved − predicted {}; peak: over any keyframe interval)",
            s.metric.name()
        );
    }
    for w in &s.warnings {
        let _ = writeln!(t, "warning: {w}");
    }
    if let Some(st) = &s.search {
        let _ = writeln!(t, "{}", st.summary());
    }
    if let (Some(enc), Some(reused)) = (s.encoded, s.reused) {
        let chunks = match (s.shots, s.chunks) {
            (Some(sh), Some(c)) if c > 1 => format!(" of {c} chunks ({sh} shots)"),
            _ => String::new(),
        };
        let _ = writeln!(
            t,
            "{} points{chunks}: {enc} tasks encoded now, {reused} from the store",
            s.points
        );
    }
    if let Some(sm) = &s.sample {
        let _ = writeln!(
            t,
            "sampled: {} chunks, {} frames = {:.1} % of the title encoded per point; estimated error on the hull ±{:.1} % kbps, ±{:.2} {}",
            sm.chunks,
            sm.frames,
            sm.fraction * 100.0,
            sm.kbps_error_pct,
            sm.quality_error,
            s.metric.name()
        );
    }
    t
}
