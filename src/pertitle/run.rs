//! A ladder run as a small typed pipeline: identify the source ([`identify`]), make every grid
//! task from one [`TaskTemplate`], compute them (all of them, or the fast search's probes: a
//! [`Search`]) on one [`Runner`], then take the hull of exactly the points the ladder may use and
//! build the ladder on it ([`Outcome::new`]). [`LadderRun`] ties the steps together; writing the
//! outputs is [`crate::output`]'s job.

use crate::chunks::{self, Chunk, ChunkLimits, Part};
use crate::codecs;
use crate::error::{Error, Field, Result};
use crate::grid::{
    EncoderSettings, EngineSettings, Filters, FrameSelection, GridTask, RateControl, TaskResult,
};
use crate::hull::Hull;
use crate::ladder::{self, Ladder};
use crate::media::{self, FrameSource, InputOptions, ScalerKind, VideoInfo};
use crate::pipeline::{Event, RunOptions, Runner};
use crate::points::{Metric, Point, SourceIdentity};
use crate::quality::{Engine, EngineConfig, Metrics};
use crate::recipe::{Recipe, Size};
use crate::sample::{self, ComplexityProbe, ErrorEstimate, ProbeStats, Sample};
use crate::search::{FastOptions, SearchGrid, SearchStats};
use crate::shots::{ShotDetector, ShotSettings, Shots};
use crate::store::Store;
use crate::verify::VerifyOptions;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the frames come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// An identified source: its stream facts, the identity its tasks are keyed by, and what the
/// identify pass measured besides ([`Analyses`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Source {
    pub info: VideoInfo,
    pub identity: SourceIdentity,
    pub shots: Option<Shots>,
    /// What the complexity probe measured per frame ([`ComplexityProbe`]).
    pub probe: Option<ProbeStats>,
}

/// What the identify pass measures while it decodes the title for its fingerprint: each costs a
/// fraction of the decode, and the title is decoded once for all.
#[derive(Debug, Clone, Default)]
pub struct Analyses {
    /// Detect shots with these settings.
    pub shots: Option<ShotSettings>,
    /// Run the complexity probe (for a sampled run).
    pub probe: bool,
}

/// Reads the whole input once (only its first `frames` if given): stream facts, exact frame count
/// and content fingerprint. Decode errors surface here, before any encode.
pub fn identify(input: &Input, frames: Option<u64>) -> Result<Source> {
    identify_with(input, frames, &Analyses::default())
}

/// [`identify_with`] through `store`: a file identified before (same canonical path, size and
/// modification time, same frame limit and analyses) is not decoded again — for a long title the
/// identify pass is minutes of decoding. The demo is always identified (it is generated).
pub fn identify_cached(
    input: &Input,
    frames: Option<u64>,
    analyses: &Analyses,
    store: Option<&Store>,
) -> Result<Source> {
    let key = match (input, store) {
        (Input::File { path, options }, Some(_)) => std::fs::metadata(path).ok().map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            crate::grid::sha256_hex(
                format!(
                    "pertitle-source/1:{}:{}:{mtime}:{frames:?}:{:?}:{:?}:{options:?}:{}",
                    input.path_string(),
                    m.len(),
                    analyses.shots,
                    analyses.probe,
                    crate::VERSION,
                )
                .as_bytes(),
            )
        }),
        _ => None,
    };
    if let (Some(k), Some(st)) = (&key, store) {
        if let Some(src) = st.get_source::<Source>(k)? {
            return Ok(src);
        }
    }
    let src = identify_with(input, frames, analyses)?;
    if let (Some(k), Some(st)) = (&key, store) {
        st.put_source(k, &src)?;
    }
    Ok(src)
}

/// [`identify`], measuring `analyses` in the same pass.
pub fn identify_with(input: &Input, frames: Option<u64>, analyses: &Analyses) -> Result<Source> {
    if frames == Some(0) {
        return Err(Error::caller(Field::Frames, "0", "must be at least 1"));
    }
    let mut src = input.open()?;
    let info = src.info().clone();
    let mut fp = crate::grid::Fingerprinter::new();
    let mut detector = analyses
        .shots
        .as_ref()
        .map(|s| ShotDetector::new(s, info.format))
        .transpose()?;
    let probe = match analyses.probe {
        true => ComplexityProbe::new(info.format, (info.fps_num, info.fps_den))?,
        false => None,
    };
    // Three stages on their own threads, so decoding, hashing and detection, and the probe's
    // encode overlap: the pass is a title's worth of decoding, minutes for a long one.
    type Msg = Result<std::sync::Arc<crate::Frame>>;
    let probe_stats = std::thread::scope(|scope| -> Result<Option<ProbeStats>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(8);
        let (probe_tx, probe_rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<crate::Frame>>(8);
        let probing = probe.is_some();
        scope.spawn(move || loop {
            let f = match src.next_frame() {
                Ok(Some(f)) if frames.is_none_or(|n| f.index < n) => std::sync::Arc::new(f),
                Ok(_) => return,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            if probing && probe_tx.send(f.clone()).is_err() {
                return;
            }
            if tx.send(Ok(f)).is_err() {
                return;
            }
        });
        let prober = probe.map(|mut p| {
            scope.spawn(move || -> Result<ProbeStats> {
                for f in probe_rx {
                    p.push(&f)?;
                }
                p.finish()
            })
        });
        let mut failed = None;
        for f in rx {
            match f {
                Ok(f) => {
                    fp.update(&f);
                    if let Some(d) = detector.as_mut() {
                        d.push(&f)?;
                    }
                }
                Err(e) => failed = Some(e),
            }
        }
        let stats = prober
            .map(|h| {
                h.join()
                    .map_err(|_| Error::resource("complexity probe", "its thread panicked"))?
            })
            .transpose()?;
        match failed {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    })?;
    let n = fp.frames();
    if n == 0 {
        return Err(Error::media(input.path_string(), "has no video frames"));
    }
    let identity = SourceIdentity {
        path: input.path_string(),
        width: info.width as u32,
        height: info.height as u32,
        fps_num: info.fps_num,
        fps_den: info.fps_den,
        frames: n,
        fingerprint: fp.finish(),
    };
    Ok(Source {
        info,
        identity,
        shots: detector.map(|d| d.finish()),
        probe: probe_stats,
    })
}

/// The title's chunks under the recipe's `[chunking]`: from its shots within the limits, or the
/// whole title as one chunk (chunking off, or no shots measured).
pub fn chunk_plan(recipe: &Recipe, source: &Source) -> Vec<Chunk> {
    let id = &source.identity;
    let c = &recipe.chunking;
    let whole = vec![Chunk {
        start: 0,
        frames: id.frames,
    }];
    let Some(shots) = source.shots.as_ref().filter(|_| c.enabled) else {
        return whole;
    };
    let fps = id.fps_num as f64 / id.fps_den.max(1) as f64;
    let (on, od) = recipe.output_fps(id.fps_num, id.fps_den);
    let (num, den) = (id.fps_num as u64 * od as u64, id.fps_den as u64 * on as u64);
    let align = if den > 0 && num % den == 0 {
        num / den
    } else {
        1
    };
    let cuts: Vec<u64> = shots.cuts.iter().map(|c| c.frame).collect();
    chunks::plan(
        id.frames,
        &cuts,
        ChunkLimits {
            min_frames: (c.min_seconds * fps).round().max(1.0) as u64,
            max_frames: (c.max_seconds * fps).round().max(1.0) as u64,
            align,
        },
    )
}

/// The engine a recipe asks for, and its settings as they enter the store keys. `threads` 0: the
/// engine works on the caller's pool (the grid [`Runner`]'s) and has none of its own.
pub fn engine_for(recipe: &Recipe, threads: usize) -> Result<(Engine, EngineSettings)> {
    engine_for_scoring(&recipe.scoring, threads)
}

/// [`engine_for`] from a recipe's `[scoring]` alone (what a batch task carries).
pub fn engine_for_scoring(
    s: &crate::recipe::ScoringSection,
    threads: usize,
) -> Result<(Engine, EngineSettings)> {
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

/// What every grid task of one source and recipe shares; [`TaskTemplate::task`] adds the size
/// and CRF. Full grid and fast search make their tasks here, so they share store keys.
#[derive(Debug, Clone)]
pub struct TaskTemplate {
    source: SourceIdentity,
    engine: EngineSettings,
    encoder: EncoderSettings,
    downscaler: ScalerKind,
    upscaler: ScalerKind,
    fps: Option<(u32, u32)>,
}

impl TaskTemplate {
    pub fn new(recipe: &Recipe, source: &SourceIdentity, engine: &EngineSettings) -> TaskTemplate {
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
        // The rungs' keyframe policy (fixed interval, no scene-cut keyframes) changes quality at
        // a given bitrate, so the test encodes follow it too.
        for (k, v) in codecs::fixed_gop(&e.codec, recipe.keyint_frames(fps), &mut options) {
            options.insert(k, v);
        }
        TaskTemplate {
            source: source.clone(),
            engine: engine.clone(),
            encoder: EncoderSettings {
                codec: e.codec.clone(),
                preset: e.preset.clone(),
                pix_fmt: e.pix_fmt.clone(),
                options,
                build: media::encoder_build(&e.codec),
            },
            downscaler: recipe.scaling.down,
            upscaler: recipe.scaling.up,
            fps: (fps != (source.fps_num, source.fps_den)).then_some(fps),
        }
    }

    /// The task encoding the whole source at `size` and `crf`.
    pub fn task(&self, size: Size, crf: f64) -> GridTask {
        self.chunk_task(
            size,
            crf,
            Chunk {
                start: 0,
                frames: self.source.frames,
            },
        )
    }

    /// The task encoding `chunk` of the source as its own stream at `size` and `crf`.
    pub fn chunk_task(&self, size: Size, crf: f64, chunk: Chunk) -> GridTask {
        GridTask {
            source: self.source.clone(),
            filters: Filters {
                width: size.width,
                height: size.height,
                downscaler: self.downscaler,
                upscaler: self.upscaler,
                frames: FrameSelection {
                    start: chunk.start,
                    count: Some(chunk.frames),
                    subsample: 1,
                },
                fps: self.fps,
            },
            encoder: self.encoder.clone(),
            rate: RateControl::Crf { crf },
            engine: self.engine.clone(),
        }
    }

    /// The source the tasks read.
    pub fn source(&self) -> &SourceIdentity {
        &self.source
    }

    /// The task encoding the whole source at `size` under `rate` (a rung's verified encode).
    pub fn rate_task(&self, size: Size, rate: RateControl) -> GridTask {
        let mut t = self.task(size, 0.0);
        t.rate = rate;
        t
    }

    /// Every size × CRF, sizes in the order given, CRFs in the recipe's order.
    pub fn grid(&self, sizes: &[Size], crfs: &[f64]) -> Vec<GridTask> {
        sizes
            .iter()
            .flat_map(|&s| crfs.iter().map(move |&c| self.task(s, c)))
            .collect()
    }
}

/// How much of the grid is encoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Search {
    /// Every size × CRF.
    #[default]
    Full,
    /// The adaptive search of [`crate::search`]: the hull from a fraction of the encodes.
    Fast(FastOptions),
}

/// What a ladder run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub title: String,
    pub info: VideoInfo,
    pub source: SourceIdentity,
    pub recipe: Recipe,
    /// Every point computed, with its per-frame scores, in plan order.
    pub results: Vec<TaskResult>,
    /// The points with their headline metrics pooled as the recipe asks, `on_hull` marked from
    /// [`Outcome::hull`].
    pub points: Vec<Point>,
    /// The hull the ladder was built on: of the points the ladder may use, under its metric.
    pub hull: Hull,
    pub ladder: Ladder,
    /// What the fast search did (`None` for a full grid).
    pub search: Option<SearchStats>,
    /// Tasks this run actually encoded, of `tasks` (the rest came from the store).
    pub encoded: usize,
    pub tasks: usize,
    /// The title's shots, when detected.
    pub shots: Option<Shots>,
    /// Each rung's verified encode (`--verify`), by rung; empty when not verified.
    pub verified: Vec<Option<TaskResult>>,
    /// The title's chunks (one for an unchunked run).
    pub chunks: Vec<Chunk>,
    /// The sample the points were measured on (`None`: the whole title).
    pub sample: Option<SampleOutcome>,
}

/// What a sampled run measured on, and how far its estimates may be off.
#[derive(Debug, Clone)]
pub struct SampleOutcome {
    pub sample: Sample,
    /// Per point (in [`Outcome::points`] order).
    pub errors: Vec<ErrorEstimate>,
}

impl SampleOutcome {
    /// The median error estimate over the hull's points.
    pub fn hull_error(&self, hull: &Hull) -> ErrorEstimate {
        let median = |mut v: Vec<f64>| -> f64 {
            v.retain(|x| x.is_finite());
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                f64::NAN
            } else {
                v[v.len() / 2]
            }
        };
        let on: Vec<&ErrorEstimate> = hull
            .vertices()
            .iter()
            .filter_map(|&i| self.errors.get(i))
            .collect();
        ErrorEstimate {
            kbps_rel: median(on.iter().map(|e| e.kbps_rel).collect()),
            quality: median(on.iter().map(|e| e.quality).collect()),
        }
    }
}

impl Outcome {
    /// Hull and ladder from finished results.
    pub fn new(
        title: String,
        source: Source,
        recipe: &Recipe,
        results: Vec<TaskResult>,
        encoded: usize,
        search: Option<SearchStats>,
    ) -> Result<Outcome> {
        let mut points: Vec<Point> = results
            .iter()
            .map(|r| r.point.pooled_by(recipe.scoring.pooling))
            .collect();
        let hull = ladder::hull_for(&points, recipe)?;
        hull.mark(&mut points);
        let ladder = ladder::build(&points, &hull, recipe, Some(&source.identity))?;
        Ok(Outcome {
            title,
            info: source.info,
            source: source.identity,
            recipe: recipe.clone(),
            results,
            points,
            hull,
            ladder,
            search,
            encoded,
            tasks: 0,
            shots: None,
            verified: Vec::new(),
            chunks: Vec::new(),
            sample: None,
        })
    }
}

/// What a run knows before its first encode ([`LadderRun::prepare`]).
struct Prepared {
    source: Source,
    chunks: Vec<Chunk>,
    sample: Option<Sample>,
    /// The chunks each point is encoded on, with the share of the title each stands for.
    parts: Vec<(Chunk, f64, f64)>,
    sizes: Vec<Size>,
    engine: Engine,
    template: TaskTemplate,
}

/// A ladder run, built step by step:
///
/// ```no_run
/// use pertitle::recipe::Recipe;
/// use pertitle::run::{Input, LadderRun, Search};
/// let recipe = Recipe::default_for("libx264")?;
/// let outcome = LadderRun::new(&Input::Demo, &recipe)
///     .search(Search::Fast(Default::default()))
///     .run(&|_event| true)?;
/// println!("{} rungs", outcome.ladder.rungs.len());
/// # Ok::<(), pertitle::Error>(())
/// ```
pub struct LadderRun<'a> {
    input: &'a Input,
    recipe: &'a Recipe,
    frames: Option<u64>,
    store: Option<&'a Store>,
    options: RunOptions,
    search: Search,
    sample: Option<bool>,
    verify: Option<VerifyOptions>,
    before_verify: Option<&'a BeforeCompute<'a>>,
}

/// Called with tasks before they are computed here: a batch executor puts them in the store
/// (so the runner only reads them back).
pub type BeforeCompute<'a> = dyn Fn(&[GridTask]) -> Result<()> + Sync + 'a;

impl<'a> LadderRun<'a> {
    pub fn new(input: &'a Input, recipe: &'a Recipe) -> LadderRun<'a> {
        LadderRun {
            input,
            recipe,
            frames: None,
            store: None,
            options: RunOptions::default(),
            search: Search::Full,
            sample: None,
            verify: None,
            before_verify: None,
        }
    }

    /// Each verification round's tasks go through `hook` first (a batch executor computes
    /// them into the store, e.g. as a Slurm job array), then are read back here.
    pub fn before_verify(mut self, hook: &'a BeforeCompute<'a>) -> Self {
        self.before_verify = Some(hook);
        self
    }

    /// After building the ladder, encode every rung as its recipe says and record what it
    /// achieved ([`crate::verify`]); with `refine`, correct the rungs that miss.
    pub fn verify(mut self, verify: Option<VerifyOptions>) -> Self {
        self.verify = verify;
        self
    }

    /// Use only the first `n` frames of the input (all when `None`).
    pub fn frames(mut self, n: Option<u64>) -> Self {
        self.frames = n;
        self
    }

    /// Reuse and keep finished points in `store`.
    pub fn store(mut self, store: Option<&'a Store>) -> Self {
        self.store = store;
        self
    }

    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    pub fn search(mut self, search: Search) -> Self {
        self.search = search;
        self
    }

    /// Measure the points on a sample of the title's chunks (`Some(true)`), on the whole title
    /// (`Some(false)`), or as the recipe's `chunking.sample` says (`None`).
    pub fn sample(mut self, sample: Option<bool>) -> Self {
        self.sample = sample;
        self
    }

    /// Every task a full-grid run computes (each point on each chunk it is measured on), in the
    /// order [`LadderRun::run`] asks for them: what a batch executor must have in the store before
    /// `run` finds nothing left to encode. The fast search chooses its tasks round by round from
    /// the results of the last, so it has no such list (an error).
    pub fn tasks(&self) -> Result<Vec<GridTask>> {
        if let Search::Fast(_) = self.search {
            return Err(Error::caller(
                Field::Setting("search".into()),
                "fast",
                "the fast search picks each round's encodes from the last round's scores, so its tasks cannot be planned ahead: use the full grid",
            ));
        }
        let p = self.prepare()?;
        let (parts, template) = (&p.parts, &p.template);
        Ok(p.sizes
            .iter()
            .flat_map(|&s| self.recipe.grid.crf.iter().map(move |&c| (s, c)))
            .flat_map(|(s, c)| {
                parts
                    .iter()
                    .map(move |&(ch, ..)| template.chunk_task(s, c, ch))
            })
            .collect())
    }

    /// Checks the settings, identifies the source (through the store's cache) and plans its
    /// chunks, the sample and the task template: everything before the first encode.
    fn prepare(&self) -> Result<Prepared> {
        let recipe = self.recipe;
        recipe.validate()?;
        if let Search::Fast(f) = &self.search {
            f.validate()?;
        }
        if !media::encoder_available(&recipe.encoder.codec) {
            return Err(Error::codec(
                &recipe.encoder.codec,
                "encoder not available in this FFmpeg build",
            ));
        }
        let sampled = self.sample.unwrap_or(recipe.chunking.sample);
        let analyses = Analyses {
            shots: recipe.chunking.enabled.then(ShotSettings::default),
            probe: sampled && recipe.chunking.enabled,
        };
        let source = identify_cached(self.input, self.frames, &analyses, self.store)?;
        let chunks = chunk_plan(recipe, &source);
        let sample = (sampled && chunks.len() > 1).then(|| {
            let (complexity, quality) = match &source.probe {
                Some(p) => (
                    sample::chunk_complexity(&chunks, p),
                    sample::chunk_probe_quality(&chunks, p),
                ),
                None => (vec![0.0; chunks.len()], vec![0.0; chunks.len()]),
            };
            sample::choose(
                &chunks,
                &complexity,
                &quality,
                recipe.chunking.sample_fraction,
            )
        });
        // The chunks each point is encoded on, and the share of the title each stands for.
        let parts: Vec<(Chunk, f64, f64)> = match &sample {
            Some(s) => s
                .chunks
                .iter()
                .map(|p| (chunks[p.chunk], p.weight, p.key_weight))
                .collect(),
            None => chunks.iter().map(|&c| (c, 1.0, 1.0)).collect(),
        };
        let sizes = recipe.resolve(source.identity.width, source.identity.height)?;
        let (engine, settings) = engine_for(recipe, 0)?;
        let template = TaskTemplate::new(recipe, &source.identity, &settings);
        Ok(Prepared {
            source,
            chunks,
            sample,
            parts,
            sizes,
            engine,
            template,
        })
    }

    /// Runs it. `on_event` hears of progress; returning `false` stops the run
    /// ([`Error::Cancelled`]) after keeping what is finished.
    pub fn run(&self, on_event: &(dyn Fn(Event) -> bool + Sync)) -> Result<Outcome> {
        let recipe = self.recipe;
        let Prepared {
            source,
            chunks,
            sample,
            parts,
            sizes,
            engine,
            template,
        } = self.prepare()?;
        let title_frames = source.identity.frames;
        let runner = Runner::new(self.options.clone())?;
        let encoded = AtomicUsize::new(0);
        let counting = |e: Event| {
            if let Event::TaskDone { .. } = e {
                encoded.fetch_add(1, Ordering::Relaxed);
            }
            on_event(e)
        };
        let open = || self.input.open();
        let all_tasks = AtomicUsize::new(0);
        let errors = std::sync::Mutex::new(BTreeMap::<String, ErrorEstimate>::new());
        // Every point's chunk tasks in one runner call (lanes of different chunks run side by
        // side), then each point assembled from its chunks.
        let template = &template;
        let compute = |points: &[(Size, f64)]| -> Result<Vec<TaskResult>> {
            let tasks: Vec<GridTask> = points
                .iter()
                .flat_map(|&(s, c)| {
                    parts
                        .iter()
                        .map(move |&(ch, ..)| template.chunk_task(s, c, ch))
                })
                .collect();
            all_tasks.fetch_add(tasks.len(), Ordering::Relaxed);
            let done = runner.run(&tasks, &open, &engine, self.store, &counting)?;
            let metric = recipe.ladder.metric;
            points
                .iter()
                .zip(done.chunks(parts.len()))
                .map(|(&(s, c), rs)| {
                    let ps: Vec<Part> = rs
                        .iter()
                        .zip(&parts)
                        .map(|(r, &(_, weight, key_weight))| Part {
                            result: r,
                            weight,
                            key_weight,
                        })
                        .collect();
                    let mut r = chunks::assemble(&ps, &template.task(s, c), title_frames)?;
                    if let Some(smp) = &sample {
                        r.point.kbps *= smp.rate_factor;
                        let frames: Vec<u64> = parts.iter().map(|(c, ..)| c.frames).collect();
                        sample::adjust_quality(&mut r.point, smp, &frames, rs);
                        let values: Vec<(f64, f64)> = rs
                            .iter()
                            .map(|r| {
                                let p = r.point.pooled_by(recipe.scoring.pooling);
                                (p.kbps, metric.of(&p))
                            })
                            .collect();
                        let frames: Vec<u64> = parts.iter().map(|(c, ..)| c.frames).collect();
                        let e = sample::error_estimate(smp, &values, &frames);
                        errors
                            .lock()
                            .map_err(|_| Error::resource("error estimates", "lock poisoned"))?
                            .insert(r.point.key.clone(), e);
                    }
                    Ok(r)
                })
                .collect()
        };
        let (results, stats) = match &self.search {
            Search::Full => {
                let all: Vec<(Size, f64)> = sizes
                    .iter()
                    .flat_map(|&s| recipe.grid.crf.iter().map(move |&c| (s, c)))
                    .collect();
                (compute(&all)?, None)
            }
            Search::Fast(fast) => {
                let grid = SearchGrid::new(
                    sizes.iter().map(|s| (s.width, s.height)),
                    recipe.grid.crf.iter().copied(),
                );
                let metric = recipe.ladder.metric;
                let (results, mut stats) = grid.search(&recipe.encoder.codec, fast, |probes| {
                    let points: Vec<(Size, f64)> = probes
                        .iter()
                        .map(|&((w, h), crf)| (Size::new(w, h), crf))
                        .collect();
                    let done = compute(&points)?;
                    let measured = done
                        .iter()
                        .map(|r| {
                            let p = r.point.pooled_by(recipe.scoring.pooling);
                            (p.kbps, metric.of(&p))
                        })
                        .collect();
                    Ok((done, measured))
                })?;
                stats.encoded = encoded.load(Ordering::Relaxed);
                (results, Some(stats))
            }
        };
        let errors = errors
            .into_inner()
            .map_err(|_| Error::resource("error estimates", "lock poisoned"))?;
        let shots = source.shots.clone();
        let mut outcome = Outcome::new(
            self.input.title(),
            source,
            recipe,
            results,
            encoded.load(Ordering::Relaxed),
            stats,
        )?;
        if let Some(v) = &self.verify {
            let curve = outcome.hull.curve().to_vec();
            let mut run_tasks = |tasks: &[GridTask]| -> Result<Vec<TaskResult>> {
                all_tasks.fetch_add(tasks.len(), Ordering::Relaxed);
                if let Some(hook) = self.before_verify {
                    hook(tasks)?;
                }
                runner.run(tasks, &open, &engine, self.store, &counting)
            };
            outcome.verified = crate::verify::verify(
                &mut outcome.ladder,
                &curve,
                recipe,
                Some(&outcome.source),
                template,
                v,
                &mut run_tasks,
            )?;
            outcome.encoded = encoded.load(Ordering::Relaxed);
        }
        outcome.shots = shots;
        outcome.tasks = all_tasks.into_inner();
        outcome.chunks = chunks;
        outcome.sample = sample.map(|sample| SampleOutcome {
            errors: outcome
                .points
                .iter()
                .map(|p| {
                    errors.get(&p.key).copied().unwrap_or(ErrorEstimate {
                        kbps_rel: f64::NAN,
                        quality: f64::NAN,
                    })
                })
                .collect(),
            sample,
        });
        Ok(outcome)
    }
}
