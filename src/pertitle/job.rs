//! The ladder job end to end, as the CLI, the examples and the benchmarks run it: identify the
//! source, plan the grid from a recipe, run it (reusing the store), take the hull, build the
//! ladder, and write the outputs.

use crate::error::{Error, Field, Result};
use crate::grid::{
    EncoderSettings, EngineSettings, Filters, FrameSelection, GridTask, RateControl, TaskResult,
};
use crate::ladder::{self, Ladder};
use crate::media::{self, FrameSource, InputOptions, VideoInfo};
use crate::pipeline::{self, Event, RunOptions};
use crate::points::{Metric, Point, SourceIdentity};
use crate::quality::{Engine, EngineConfig, Metrics};
use crate::recipe::{Recipe, Size};
use crate::report::plot::FramePlot;
use crate::report::{ReportData, RunPlots, RungRow};
use crate::store::Store;
use crate::{fsutil, hull};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the frames come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// The built-in demo clip (`media::demo_clip`).
    Demo,
    File {
        path: PathBuf,
        options: InputOptions,
    },
}

impl Input {
    /// Opens the input afresh.
    pub fn open(&self) -> Result<Box<dyn FrameSource>> {
        match self {
            Input::Demo => media::demo_clip(),
            Input::File { path, options } => media::open(path, options),
        }
    }

    /// A short name for reports and the default output directory (`demo`, or the file stem).
    pub fn title(&self) -> String {
        match self {
            Input::Demo => "demo".into(),
            Input::File { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "title".into()),
        }
    }

    fn path_string(&self) -> String {
        match self {
            Input::Demo => "demo".into(),
            Input::File { path, .. } => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        }
    }
}

/// Reads the whole input once (only its first `frames` if given): stream facts, exact frame count
/// and content fingerprint. Decode errors surface here, before any encode.
pub fn identify(input: &Input, frames: Option<u64>) -> Result<(VideoInfo, SourceIdentity)> {
    let mut src = input.open()?;
    let info = src.info().clone();
    let mut fp = crate::grid::Fingerprinter::new();
    while let Some(f) = src.next_frame()? {
        if frames.is_some_and(|n| f.index >= n) {
            break;
        }
        fp.update(&f);
    }
    let n = fp.frames();
    if n == 0 {
        return Err(Error::media(input.path_string(), "has no video frames"));
    }
    if let Some(want) = frames {
        if want == 0 {
            return Err(Error::caller(Field::Frames, "0", "must be at least 1"));
        }
    }
    let id = SourceIdentity {
        path: input.path_string(),
        width: info.width as u32,
        height: info.height as u32,
        fps_num: info.fps_num,
        fps_den: info.fps_den,
        frames: n,
        fingerprint: fp.finish(),
    };
    Ok((info, id))
}

/// The engine a recipe asks for, and its settings as they enter the store keys.
pub fn engine_for(recipe: &Recipe, threads: usize) -> Result<(Engine, EngineSettings)> {
    let s = &recipe.scoring;
    let metrics = Metrics {
        vmaf: s.metrics.contains(&Metric::Vmaf),
        psnr: s.metrics.contains(&Metric::PsnrY),
        ssim: s.metrics.contains(&Metric::Ssim),
    };
    let cfg = EngineConfig {
        model: s.model.clone(),
        phone: s.phone,
        metrics,
        threads,
    };
    let engine = Engine::new(cfg)?;
    let json: Vec<u8> = match crate::quality::vmaf::model::BUILTIN
        .iter()
        .find(|(n, _)| *n == s.model)
    {
        Some((_, j)) => j.as_bytes().to_vec(),
        None => std::fs::read(&s.model).map_err(|e| Error::model(&s.model, e.to_string()))?,
    };
    let names: Vec<&str> = s.metrics.iter().map(|m| m.name()).collect();
    Ok((
        engine,
        EngineSettings::new(&s.model, &json, s.phone, &names),
    ))
}

/// The grid's tasks: every size × CRF of the recipe for this source.
pub fn plan(
    recipe: &Recipe,
    source: &SourceIdentity,
    engine: &EngineSettings,
    sizes: &[Size],
) -> Vec<GridTask> {
    let e = &recipe.encoder;
    let mut options: BTreeMap<String, String> = e.params.clone();
    for (k, v) in [
        ("profile", &e.profile),
        ("tune", &e.tune),
        ("level", &e.level),
    ] {
        if let Some(v) = v {
            options.insert(k.to_string(), v.clone());
        }
    }
    let fps = recipe.output_fps(source.fps_num, source.fps_den);
    let fps = (fps != (source.fps_num, source.fps_den)).then_some(fps);
    let mut tasks = Vec::new();
    for s in sizes {
        for &crf in &recipe.grid.crf {
            tasks.push(task(recipe, source, engine, &options, fps, *s, crf));
        }
    }
    tasks
}

/// One grid task (also used by the fast search to place CRFs adaptively).
pub fn task(
    recipe: &Recipe,
    source: &SourceIdentity,
    engine: &EngineSettings,
    options: &BTreeMap<String, String>,
    fps: Option<(u32, u32)>,
    size: Size,
    crf: f64,
) -> GridTask {
    let e = &recipe.encoder;
    GridTask {
        source: source.clone(),
        filters: Filters {
            width: size.width,
            height: size.height,
            downscaler: recipe.scaling.down.ffmpeg_name().to_string(),
            upscaler: recipe.scaling.up.ffmpeg_name().to_string(),
            frames: FrameSelection {
                start: 0,
                count: Some(source.frames),
                subsample: 1,
            },
            fps,
        },
        encoder: EncoderSettings {
            codec: e.codec.clone(),
            preset: e.preset.clone(),
            pix_fmt: e.pix_fmt.clone(),
            options: options.clone(),
            build: media::encoder_build(&e.codec),
        },
        rate: RateControl::Crf { crf },
        engine: engine.clone(),
    }
}

/// What a ladder run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub title: String,
    pub info: VideoInfo,
    pub source: SourceIdentity,
    pub recipe: Recipe,
    /// Every point with its per-frame scores, in plan order.
    pub results: Vec<TaskResult>,
    /// The points, `on_hull` marked for the recipe's metric.
    pub points: Vec<Point>,
    pub ladder: Ladder,
    /// Encodes this run actually did (the rest came from the store).
    pub encoded: usize,
}

/// Runs the grid for `recipe` on `input` and builds the ladder.
pub fn run(
    input: &Input,
    recipe: &Recipe,
    frames: Option<u64>,
    store: Option<&Store>,
    opts: &RunOptions,
    on_event: &(dyn Fn(Event) -> bool + Sync),
) -> Result<Outcome> {
    recipe.validate()?;
    if !media::encoder_available(&recipe.encoder.codec) {
        return Err(Error::codec(
            &recipe.encoder.codec,
            "encoder not available in this FFmpeg build",
        ));
    }
    let (info, source) = identify(input, frames)?;
    let sizes = recipe.resolve(source.width, source.height)?;
    let (engine, settings) = engine_for(recipe, opts.threads)?;
    let tasks = plan(recipe, &source, &settings, &sizes);
    let encoded = std::sync::atomic::AtomicUsize::new(0);
    let counting = |e: Event| {
        if let Event::PointDone { .. } = e {
            encoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        on_event(e)
    };
    let open = || input.open();
    let results = pipeline::run(&tasks, &open, &engine, store, opts, &counting)?;
    finish(
        input.title(),
        info,
        source,
        recipe,
        results,
        encoded.into_inner(),
    )
}

/// Hull and ladder from finished results.
pub fn finish(
    title: String,
    info: VideoInfo,
    source: SourceIdentity,
    recipe: &Recipe,
    results: Vec<TaskResult>,
    encoded: usize,
) -> Result<Outcome> {
    let mut points: Vec<Point> = results
        .iter()
        .map(|r| pooled_point(&r.point, recipe))
        .collect();
    hull::mark_hull(&mut points, recipe.ladder.metric);
    let ladder = ladder::build(&points, recipe, &source)?;
    Ok(Outcome {
        title,
        info,
        source,
        recipe: recipe.clone(),
        results,
        points,
        ladder,
        encoded,
    })
}

/// The point as the hull sees it: its headline metrics pooled the way the recipe asks
/// (`scoring.pooling`, mean by default).
fn pooled_point(p: &Point, recipe: &Recipe) -> Point {
    let mut p = p.clone();
    let pool = recipe.scoring.pooling;
    if let Some(v) = p.pooled.get("vmaf") {
        p.vmaf = pool.of(v);
    }
    if let Some(v) = p.pooled.get("psnr_y") {
        p.psnr_y = pool.of(v);
    }
    if let Some(v) = p.pooled.get("ssim") {
        p.ssim = pool.of(v);
    }
    p
}

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
    let stats = ["harmonic_mean", "min", "median", "p5", "p10"];
    let mut s = String::from("codec,width,height,crf,kbps,bytes,vmaf,psnr_y,ssim");
    for m in ["vmaf", "psnr_y", "ssim"] {
        for st in stats {
            let _ = write!(s, ",{m}_{st}");
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
        for m in ["vmaf", "psnr_y", "ssim"] {
            let pooled = p.pooled.get(m);
            for st in stats {
                let v = pooled.map(|q| match st {
                    "harmonic_mean" => q.harmonic_mean,
                    "min" => q.min,
                    "median" => q.median,
                    "p5" => q.p5,
                    _ => q.p10,
                });
                let _ = write!(s, ",{}", v.map(num).unwrap_or_default());
            }
        }
        let _ = writeln!(s, ",{}", p.on_hull);
    }
    s
}

/// `frames.csv`: per-frame scores of every point (long format: one row per point and frame).
pub fn frames_csv(results: &[TaskResult]) -> String {
    let metrics = ["vmaf", "psnr_y", "psnr_cb", "psnr_cr", "ssim"];
    let mut s = String::from("codec,width,height,crf,frame");
    for m in metrics {
        let _ = write!(s, ",{m}");
    }
    s.push('\n');
    for r in results {
        let p = &r.point;
        for (i, f) in r.scored_frames.iter().enumerate() {
            let _ = write!(s, "{},{},{},{},{}", p.codec, p.width, p.height, p.crf, f);
            for m in metrics {
                let v = r.scores.get(m).and_then(|v| v.get(i)).copied();
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
/// reliability: a stale `ladder.toml` from an earlier run is removed first, so a run that fails
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
    written.extend(write_run_report(dir, out)?);
    written.push(put("ladder.toml", out.ladder.to_toml()?.as_bytes())?);
    Ok(written)
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
        })
        .collect()
}

/// Per-frame series of the grid point nearest each rung (same size, closest CRF): rungs between
/// grid points have no frames of their own.
fn rung_frames(out: &Outcome, metric: Metric) -> Vec<(String, Vec<f64>)> {
    let mut series = Vec::new();
    for r in &out.ladder.rungs {
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
            if let Some(v) = t.scores.get(metric.name()) {
                let label = format!(
                    "{}p crf {} ({:.0} kbps)",
                    t.point.height, t.point.crf, t.point.kbps
                );
                if !series.iter().any(|(l, _)| *l == label) {
                    series.push((label, v.clone()));
                }
            }
        }
    }
    series
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
            "{}: per-frame {} of the points nearest each rung",
            out.title,
            metric.name()
        ),
        metric,
        fps: Some(out.info.fps()),
        series: rung_frames(out, metric),
    });
    let run = RunPlots {
        clip: &out.title,
        codec: &out.recipe.encoder.codec,
        points: &out.points,
        rungs: &rungs,
        metrics: &metrics,
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
    let hull: Vec<Point> = {
        let mut h: Vec<Point> = out.points.iter().filter(|p| p.on_hull).cloned().collect();
        h.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
        h
    };
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
                format!(
                    "down {}, up {}",
                    r.scaling.down.ffmpeg_name(),
                    r.scaling.up.ffmpeg_name()
                ),
            ),
            (
                "Model".into(),
                format!(
                    "{}{}",
                    r.scoring.model,
                    if r.scoring.phone { " (phone)" } else { "" }
                ),
            ),
            (
                "Pooling".into(),
                format!("{:?}", r.scoring.pooling).to_lowercase(),
            ),
            ("pertitle".into(), crate::VERSION.to_string()),
        ],
        metric: Some(r.ladder.metric),
        points: out.points.clone(),
        hull,
        rungs,
        bd_rates: Vec::new(),
        plots,
        notes: out.ladder.warnings.clone(),
    }
}

/// The summary printed at the end of `pertitle ladder`: hull and rungs.
pub fn summary_table(out: &Outcome) -> String {
    let m = out.recipe.ladder.metric;
    let mut s = String::new();
    let _ = writeln!(s, "hull ({}):", m.name());
    let _ = writeln!(
        s,
        "  {:>9} {:>5} {:>10} {:>8} {:>8} {:>7}",
        "size", "crf", "kbps", "vmaf", "psnr_y", "ssim"
    );
    let mut hull: Vec<&Point> = out.points.iter().filter(|p| p.on_hull).collect();
    hull.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
    for p in hull {
        let _ = writeln!(
            s,
            "  {:>9} {:>5} {:>10.1} {:>8.2} {:>8.2} {:>7.4}",
            format!("{}x{}", p.width, p.height),
            p.crf,
            p.kbps,
            p.vmaf,
            p.psnr_y,
            p.ssim
        );
    }
    let _ = writeln!(s, "ladder ({} rungs):", out.ladder.rungs.len());
    let _ = writeln!(
        s,
        "  {:>9} {:>6} {:>8} {:>6} {:>8}",
        "size", "kbps", "maxrate", "crf", "vmaf"
    );
    for r in &out.ladder.rungs {
        let _ = writeln!(
            s,
            "  {:>9} {:>6} {:>8} {:>6.1} {:>8.2}",
            format!("{}x{}", r.width, r.height),
            r.kbps,
            r.maxrate_kbps,
            r.crf,
            r.vmaf
        );
    }
    for w in &out.ladder.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(
        s,
        "{} points ({} encoded now, {} from the store)",
        out.points.len(),
        out.encoded,
        out.points.len() - out.encoded
    );
    s
}

/// The summary as JSON (`pertitle ladder --json`).
pub fn summary_json(out: &Outcome, dir: &Path) -> serde_json::Value {
    serde_json::json!({
        "title": out.title,
        "source": out.source,
        "output_dir": dir.display().to_string(),
        "points": out.points.len(),
        "encoded": out.encoded,
        "reused": out.points.len() - out.encoded,
        "hull": out.points.iter().filter(|p| p.on_hull).map(|p| serde_json::json!({
            "width": p.width, "height": p.height, "crf": p.crf, "kbps": p.kbps,
            "vmaf": p.vmaf, "psnr_y": p.psnr_y, "ssim": p.ssim,
        })).collect::<Vec<_>>(),
        "rungs": out.ladder.rungs.iter().map(|r| serde_json::json!({
            "width": r.width, "height": r.height, "kbps": r.kbps, "maxrate_kbps": r.maxrate_kbps,
            "crf": r.crf, "vmaf": r.vmaf, "psnr_y": r.psnr_y, "ssim": r.ssim,
        })).collect::<Vec<_>>(),
        "warnings": out.ladder.warnings,
    })
}
