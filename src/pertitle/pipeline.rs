//! The grid runner: turns [`GridTask`]s into [`TaskResult`]s, doing no work twice.
//!
//! Within a *wave* (a set of points whose encoders fit the memory budget together) the source is
//! decoded once, on its own thread; each frame is scaled once per resolution and fed to every
//! encoder of that resolution; each encoder's packets are decoded, upscaled back to the source
//! size and scored in memory as they come, against reference frames prepared once for all the
//! wave's points (the [`Engine`]'s prepared-reference API). Points run in parallel (rayon), and
//! the scoring of one batch runs in the same parallel phase as the encoding of the next (encoder
//! steps longest first, the divisible scoring last), so no core waits for the slowest encoder;
//! at the end of the stream the encoders' look-ahead is
//! flushed a batch at a time in the same way. Only a bounded window of frames is in flight: the
//! source frames of the encoders' look-ahead, and per point about two batches of decoded frames
//! (at the point's own size; a frame is upscaled only when it is scored). Memory is therefore
//! independent of the title's length.
//!
//! Waves exist because an x264 encoder alone holds ~180 bytes per pixel (look-ahead, references,
//! half-pel planes; measured with libx264 preset medium, 1 thread): thirty 1080p-and-below encoders
//! at once would need ~4 GiB. A title whose grid does not fit is run in several waves, each
//! decoding the source again (cheap next to the encodes).
//!
//! Finished points are written to the [`Store`] as soon as their wave ends, so an interrupted run
//! loses at most the wave in progress.

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::grid::{GridTask, TaskResult, Timings};
use crate::media::{Decoder, Encoder, EncoderConfig, FrameSource, RateControl, Scaler, ScalerKind};
use crate::points::{Point, Series};
use crate::quality::vmaf::motion;
use crate::quality::{pooling, Engine, FrameScores, PreparedRef};
use crate::store::{Lookup, Store};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::Instant;

/// Opens the source afresh (once per wave).
pub type OpenSource<'a> = dyn Fn() -> Result<Box<dyn FrameSource>> + Sync + 'a;

/// Something worth telling the user while a grid runs. Return `false` from the callback to stop.
#[derive(Debug, Clone)]
pub enum Event {
    /// Points found in the store, and store entries found corrupt (they are recomputed).
    Reused {
        reused: usize,
        corrupt: u64,
        to_compute: usize,
    },
    /// A wave starts: its index, how many waves, and its points' keys.
    WaveStarted {
        wave: usize,
        waves: usize,
        points: usize,
        frames: u64,
    },
    /// Source frames fed to the wave's encoders so far.
    Frames { wave: usize, done: u64, total: u64 },
    /// A point is finished and stored.
    PointDone {
        key: String,
        width: u32,
        height: u32,
        crf: f64,
        kbps: f64,
        vmaf: f64,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Budget for the encoders of one wave, in bytes.
    pub memory_budget: u64,
    /// Source frames read per step.
    pub batch: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: 0,
            memory_budget: 1200 << 20,
            batch: 8,
        }
    }
}

/// Memory a point holds besides its encoder, as frames at its own size. Its decoded frames alone
/// are about 20 (one step's batch of 8, the end-of-wave flush included, waiting one step for
/// scoring, plus the decoder's reordering delay), but what this estimate misses grows with the
/// points per wave too (source look-ahead, prepared references, allocator slack): with 20 a 1080p
/// 5 × 6 grid (x264 medium) peaked at 2327 MiB, with 50 at 1903–1938 MiB. Measured, not derived.
const PENDING_FRAMES: u64 = 50;

/// Splits tasks into waves whose estimated encoder memory fits `budget`. Each wave takes at least
/// one task. Larger encodes first, so the long-running ones start early.
fn plan_waves(tasks: &[&GridTask], budget: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    // Besides its encoder, each point holds `PENDING_FRAMES` decoded frames at its size (u16
    // samples, 4:2:0 = 3 bytes per pixel; they are upscaled one at a time when scored).
    let cost = |t: &GridTask| {
        let px = t.filters.width as u64 * t.filters.height as u64;
        px * crate::codecs::profile(&t.encoder.codec).bytes_per_pixel + PENDING_FRAMES * px * 3
    };
    order.sort_by(|&a, &b| cost(tasks[b]).cmp(&cost(tasks[a])).then(a.cmp(&b)));
    let mut waves: Vec<(u64, Vec<usize>)> = Vec::new();
    for i in order {
        let c = cost(tasks[i]);
        match waves.iter_mut().find(|(used, _)| used + c <= budget) {
            Some((used, w)) => {
                *used += c;
                w.push(i);
            }
            None => waves.push((c, vec![i])),
        }
    }
    waves.into_iter().map(|(_, w)| w).collect()
}

/// Runs `tasks` against the source `open` gives: [`Runner::run`] on a runner made for this call.
pub fn run(
    tasks: &[GridTask],
    open: &OpenSource<'_>,
    engine: &Engine,
    store: Option<&Store>,
    opts: &RunOptions,
    on_event: &(dyn Fn(Event) -> bool + Sync),
) -> Result<Vec<TaskResult>> {
    Runner::new(opts.clone())?.run(tasks, open, engine, store, on_event)
}

/// Runs grid tasks on one worker pool, built once and used by every call (the fast search runs
/// a call per round).
pub struct Runner {
    opts: RunOptions,
    pool: rayon::ThreadPool,
}

impl Runner {
    /// A runner with `opts.threads` workers (0 = one per core). Errors if the OS refuses the
    /// threads.
    pub fn new(opts: RunOptions) -> Result<Runner> {
        crate::determinism::init();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .thread_name(|i| format!("pertitle-{i}"))
            .build()
            .map_err(|e| Error::resource("thread pool", e.to_string()))?;
        Ok(Runner { opts, pool })
    }

    pub fn options(&self) -> &RunOptions {
        &self.opts
    }

    /// Runs `tasks` against the source `open` gives. Results come back in the order of `tasks`;
    /// those found intact in `store` are reused, the rest computed and stored.
    pub fn run(
        &self,
        tasks: &[GridTask],
        open: &OpenSource<'_>,
        engine: &Engine,
        store: Option<&Store>,
        on_event: &(dyn Fn(Event) -> bool + Sync),
    ) -> Result<Vec<TaskResult>> {
        let (opts, pool) = (&self.opts, &self.pool);
        let mut results: Vec<Option<TaskResult>> = vec![None; tasks.len()];
        let mut todo = Vec::new();
        let mut corrupt = 0;
        for (i, t) in tasks.iter().enumerate() {
            t.validate()?;
            match store.map(|s| s.lookup(&t.key())).transpose()? {
                Some(Lookup::Hit(r)) => results[i] = Some(*r),
                Some(Lookup::Corrupt { .. }) => {
                    corrupt += 1;
                    todo.push(i)
                }
                _ => todo.push(i),
            }
        }
        if !on_event(Event::Reused {
            reused: tasks.len() - todo.len(),
            corrupt,
            to_compute: todo.len(),
        }) {
            return Err(Error::Cancelled);
        }
        let todo_tasks: Vec<&GridTask> = todo.iter().map(|&i| &tasks[i]).collect();
        let waves = plan_waves(&todo_tasks, opts.memory_budget);
        let nwaves = waves.len();
        for (w, wave) in waves.into_iter().enumerate() {
            let wave_tasks: Vec<&GridTask> = wave.iter().map(|&i| todo_tasks[i]).collect();
            let done =
                pool.install(|| run_wave(w, nwaves, &wave_tasks, open, engine, opts, on_event))?;
            // Store every finished point of the wave before honouring a stop request, so none
            // of the wave's finished points is lost.
            let mut go = true;
            for (k, r) in wave.iter().zip(done) {
                if let Some(s) = store {
                    s.put(&r)?;
                }
                let p = &r.point;
                go &= on_event(Event::PointDone {
                    key: p.key.clone(),
                    width: p.width,
                    height: p.height,
                    crf: p.crf,
                    kbps: p.kbps,
                    vmaf: p.vmaf,
                });
                results[todo[*k]] = Some(r);
            }
            if !go {
                return Err(Error::Cancelled);
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task computed or reused"))
            .collect())
    }
}

/// One point's encoder chain and what it has produced so far.
struct Chain<'t> {
    task: &'t GridTask,
    enc: Encoder,
    dec: Decoder,
    /// How decoded frames are upscaled to the source size (None: already that size).
    up: Option<ScalerKind>,
    /// Frame-rate decimation (`grid.fps_cap`): every `decimate`-th source frame is encoded, and
    /// each decoded frame is shown for `decimate` source frames, as a player repeats it.
    decimate: u64,
    frame_bytes: Vec<u64>,
    /// Decoded frames (at the point's size) waiting for their reference's motion.
    pending: Vec<(Frame, Option<ScalerKind>)>,
    decoded: u64,
    /// The encoder is drained and the decoder flushed: nothing more will come.
    flushed: bool,
    scores: Vec<FrameScores>,
    timings: Timings,
}

impl Chain<'_> {
    /// Encodes `frames` and decodes what comes out; with `None` (end of stream) takes the next
    /// `flush_max` packets of the encoder's flush instead, so the look-ahead is encoded over
    /// several steps, each overlapping the scoring of the previous one, rather than in one long
    /// task per encoder that leaves the other cores idle at the end of a wave. Upscaling waits
    /// until the frame is scored, so flushed frames wait at the point's own size.
    fn step(&mut self, frames: Option<&[Frame]>, first: u64, flush_max: usize) -> Result<()> {
        if self.flushed {
            return Ok(());
        }
        let t0 = Instant::now();
        let mut packets = Vec::new();
        let mut drained = false;
        match frames {
            Some(fs) => {
                for f in fs {
                    if (f.index - first).is_multiple_of(self.decimate) {
                        packets.extend(self.enc.encode(f)?);
                    }
                }
            }
            None => {
                let (p, done) = self.enc.finish_some(flush_max)?;
                packets.extend(p);
                drained = done;
            }
        }
        let t1 = Instant::now();
        self.timings.encode_s += (t1 - t0).as_secs_f64();
        let mut out = Vec::new();
        for p in &packets {
            self.frame_bytes.push(p.data.len() as u64);
            out.extend(self.dec.decode(p)?);
        }
        if drained {
            out.extend(self.dec.flush()?);
            self.flushed = true;
        }
        for mut f in out {
            f.index = first + self.decoded * self.decimate;
            self.decoded += 1;
            self.pending.push((f, self.up));
        }
        self.timings.decode_s += t1.elapsed().as_secs_f64();
        Ok(())
    }
}

/// A decoded frame to upscale (if `up`) and score against the references `targets`: its own
/// index, and with frame-rate decimation the source frames it stands for until the next one.
struct Job {
    chain: usize,
    frame: Frame,
    up: Option<ScalerKind>,
    targets: Vec<u64>,
}

/// The reference side of a wave: source frames waiting for preparation, their motion, and the
/// prepared references still needed.
struct RefWindow {
    raw: BTreeMap<u64, Frame>,
    sads: BTreeMap<u64, f64>,
    window: HashMap<u64, Arc<PreparedRef>>,
    last_index: Option<u64>,
    eof: bool,
    first: u64,
    /// No job still to come needs a reference below this index: every point has decoded past
    /// it, and no decoded frame waiting for its references stands for it.
    keep_from: u64,
    path: String,
}

/// Takes each chain's decoded frames whose references are ready (a reference's motion2 needs
/// the next frame's motion, or the stream ended), in (frame index, chain) order. Frames that
/// stand for no scored source frame (`subsample`) are dropped.
fn collect_jobs(chains: &mut [Chain], refs: &RefWindow, first: u64, subsample: u64) -> Vec<Job> {
    // The source frames read so far end at `last_index`; a decimated frame's last target is
    // known to exist once the frame after it has been read, or the stream ended.
    let end = refs.last_index.map_or(first, |l| l + 1);
    let mut jobs = Vec::new();
    for (ci, c) in chains.iter_mut().enumerate() {
        let n = c.decimate;
        let mut keep = Vec::new();
        for (f, up) in c.pending.drain(..) {
            if !(refs.eof || refs.sads.contains_key(&(f.index + n))) {
                keep.push((f, up));
                continue;
            }
            let targets: Vec<u64> = (f.index..(f.index + n).min(end))
                .filter(|i| (i - first).is_multiple_of(subsample))
                .collect();
            if !targets.is_empty() {
                jobs.push(Job {
                    chain: ci,
                    frame: f,
                    up,
                    targets,
                });
            }
        }
        c.pending = keep;
    }
    jobs.sort_by_key(|j| (j.frame.index, j.chain));
    jobs
}

thread_local! {
    /// Upscalers of this worker thread, by (input format, output size, kind): swscale contexts
    /// are not shareable, and jobs of one point run on any thread.
    static UPSCALERS: std::cell::RefCell<Vec<(UpKey, Scaler)>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// Upscaled frames already scored, kept for the next upscale on this thread: one source-size
    /// frame per scored frame would otherwise be allocated, zeroed and freed each time. A few,
    /// because scoring one frame may run another frame's job on the same thread meanwhile.
    static SPARE_FRAMES: std::cell::RefCell<Vec<Frame>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

type UpKey = (crate::frame::FrameFormat, usize, usize, ScalerKind);

fn upscale(f: &Frame, size: (usize, usize), kind: ScalerKind) -> Result<Frame> {
    UPSCALERS.with(|cell| {
        let mut cache = cell.borrow_mut();
        let key = (f.format, size.0, size.1, kind);
        let pos = match cache.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                if cache.len() >= 16 {
                    cache.clear();
                }
                cache.push((key, Scaler::new(f.format, size.0, size.1, kind)?));
                cache.len() - 1
            }
        };
        let dst = cache[pos].1.dst_format();
        let spare = SPARE_FRAMES.with(|s| {
            let mut s = s.borrow_mut();
            let i = s.iter().position(|x| x.format == dst)?;
            Some(s.swap_remove(i))
        });
        let mut out = spare.unwrap_or_else(|| Frame::new(dst, f.index));
        cache[pos].1.scale_into(f, &mut out)?;
        Ok(out)
    })
}

/// Gives an upscaled frame back for reuse by [`upscale`] on this thread.
fn recycle(f: Frame) {
    SPARE_FRAMES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 4 {
            s.push(f);
        }
    })
}

/// Upscales and scores `jobs`, in chunks that need at most `batch` references: prepare the
/// chunk's references (in parallel), score its frames (in parallel), drop the references every
/// point has passed. Chunks bound how many references are prepared at the same time. Returns
/// (chain, scores, seconds) in job order.
fn score_jobs(
    jobs: &[Job],
    refs: &mut RefWindow,
    engine: &Engine,
    src_size: (usize, usize),
    batch: usize,
) -> Result<Vec<(usize, FrameScores, f64)>> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while !rest.is_empty() {
        // The next jobs whose references number at most `batch` (at least one job: a frame of
        // a decimated point alone may need more), and those references.
        let mut idx: Vec<u64> = Vec::new();
        let mut n = 0;
        for j in rest {
            let mut with = idx.clone();
            with.extend(&j.targets);
            with.sort_unstable();
            with.dedup();
            if n > 0 && with.len() > batch.max(1) {
                break;
            }
            idx = with;
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        // Each reference is prepared once per wave (every point's frame `i` becomes ready in the
        // same round), so its source frame moves from `raw` into the preparation.
        let need: Vec<(u64, Frame)> = idx
            .iter()
            .filter(|i| !refs.window.contains_key(i))
            .map(|&i| {
                refs.raw.remove(&i).map(|f| (i, f)).ok_or_else(|| {
                    Error::codec(
                        refs.path.clone(),
                        format!("decoder returned frame {i}, not a source frame"),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let r: &RefWindow = refs;
        let prepared: Vec<Result<(u64, PreparedRef)>> = need
            .into_par_iter()
            .map(|(i, f)| {
                let p = engine.prepare(f)?;
                let sad = r.sads[&i];
                let next = if r.last_index == Some(i) && r.eof {
                    None
                } else {
                    r.sads.get(&(i + 1)).copied()
                };
                let m2 = motion::motion2(i == r.first, sad, next);
                Ok((i, PreparedRef::from_parts(p, sad, m2)))
            })
            .collect();
        for p in prepared {
            let (i, p) = p?;
            refs.window.insert(i, Arc::new(p));
        }
        let window = &refs.window;
        let scored: Vec<Result<Vec<(usize, FrameScores, f64)>>> = chunk
            .par_iter()
            .map(|j| {
                let t0 = Instant::now();
                let up =
                    j.up.map(|kind| upscale(&j.frame, src_size, kind))
                        .transpose()?;
                let f = up.as_ref().unwrap_or(&j.frame);
                let s = j
                    .targets
                    .iter()
                    .map(|i| engine.score(&window[i], f))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(u) = up {
                    recycle(u);
                }
                let secs = t0.elapsed().as_secs_f64() / s.len() as f64;
                Ok(s.into_iter().map(|s| (j.chain, s, secs)).collect())
            })
            .collect();
        for s in scored {
            out.extend(s?);
        }
        // A reference below `keep_from` and below the next chunk's frames (whose targets start
        // at their own index) is needed by no later job.
        let keep_from = rest
            .first()
            .map_or(refs.keep_from, |j| j.frame.index.min(refs.keep_from));
        for i in &idx {
            if *i < keep_from {
                refs.window.remove(i);
            }
        }
    }
    Ok(out)
}

/// The whole number n with `out` = `src` / n (`grid.fps_cap` keeps every n-th frame); 1 when the
/// rate is kept.
fn decimation(src: (u32, u32), out: Option<(u32, u32)>) -> Result<u64> {
    let Some((on, od)) = out else {
        return Ok(1);
    };
    // src / out = (src.0 · od) / (src.1 · on)
    let (num, den) = (src.0 as u64 * od as u64, src.1 as u64 * on as u64);
    if num == 0 || den == 0 || !num.is_multiple_of(den) {
        return Err(Error::config(
            "grid.fps_cap",
            format!(
                "{on}/{od} fps is not the source's {}/{} fps divided by a whole number",
                src.0, src.1
            ),
        ));
    }
    Ok(num / den)
}

fn encoder_config(t: &GridTask, src: &Frame, fps: (u32, u32)) -> Result<EncoderConfig> {
    let mut format = src.format;
    format.width = t.filters.width as usize;
    format.height = t.filters.height as usize;
    let mut cfg = EncoderConfig::crf(&t.encoder.codec, format, fps, 0.0);
    cfg.rate = t.rate;
    cfg.preset = t.encoder.preset.clone();
    let mut gop = None;
    for (k, v) in &t.encoder.options {
        if k == "g" {
            gop = Some(
                v.parse()
                    .map_err(|_| Error::config("g", format!("not a frame count: {v:?}")))?,
            );
        } else {
            cfg.options.push((k.clone(), v.clone()));
        }
    }
    cfg.gop = gop;
    cfg.threads = Some(1);
    Ok(cfg)
}

/// Reads the source on its own thread, `batch` frames at a time, applying the frame selection.
fn spawn_reader<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    mut src: Box<dyn FrameSource>,
    start: u64,
    count: Option<u64>,
    batch: usize,
) -> Receiver<Result<Vec<Frame>>> {
    let (tx, rx) = sync_channel::<Result<Vec<Frame>>>(2);
    scope.spawn(move || {
        let end = count.map(|c| start + c);
        let mut buf = Vec::with_capacity(batch);
        loop {
            match src.next_frame() {
                Ok(Some(f)) => {
                    if f.index < start {
                        continue;
                    }
                    if end.is_some_and(|e| f.index >= e) {
                        break;
                    }
                    buf.push(f);
                    if buf.len() == batch && tx.send(Ok(std::mem::take(&mut buf))).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(Ok(buf));
        }
    });
    rx
}

fn run_wave(
    wave: usize,
    waves: usize,
    tasks: &[&GridTask],
    open: &OpenSource<'_>,
    engine: &Engine,
    opts: &RunOptions,
    on_event: &(dyn Fn(Event) -> bool + Sync),
) -> Result<Vec<TaskResult>> {
    let t_start = Instant::now();
    let sel = &tasks[0].filters.frames;
    if tasks.iter().any(|t| t.filters.frames != *sel) {
        return Err(Error::config(
            "grid",
            "all points of one run must use the same frames",
        ));
    }
    let src = open()?;
    let info = src.info().clone();
    let (src_w, src_h) = (info.width, info.height);
    let fps = (info.fps_num, info.fps_den);
    let decimate: Vec<u64> = tasks
        .iter()
        .map(|t| decimation(fps, t.filters.fps))
        .collect::<Result<_>>()?;
    let total = match sel.count {
        Some(c) => c.min(info.frames.saturating_sub(sel.start)),
        None => info.frames.saturating_sub(sel.start),
    };
    if !on_event(Event::WaveStarted {
        wave,
        waves,
        points: tasks.len(),
        frames: total,
    }) {
        return Err(Error::Cancelled);
    }
    let subsample = sel.subsample.max(1) as u64;
    let first = sel.start;

    std::thread::scope(|scope| -> Result<Vec<TaskResult>> {
        let rx = spawn_reader(scope, src, sel.start, sel.count, opts.batch.max(1));
        // Downscalers, one per distinct (size, scaler); encoders are created on the first frame,
        // when the source format is known.
        let mut down: BTreeMap<(u32, u32, ScalerKind), Option<Scaler>> = BTreeMap::new();
        let mut chains: Vec<Chain> = Vec::new();
        // Reference side. Motion is computed as frames arrive (it needs only the previous
        // frame); the heavy preparation (VIF/ADM/SSIM statistics, tens of MB per frame) is done
        // when the first distorted frame of that index is decoded and dropped once every point
        // has passed it. Points share one encoder set-up, so they decode in near lockstep and
        // only about a batch of prepared references is alive, while the raw frames of the
        // encoders' look-ahead wait in `raw`.
        let mut refs = RefWindow {
            raw: BTreeMap::new(),
            sads: BTreeMap::new(),
            window: HashMap::new(),
            last_index: None,
            eof: false,
            first,
            keep_from: 0,
            path: info.path.display().to_string(),
        };
        let mut prev_luma: Option<crate::frame::Plane> = None;
        let mut jobs: Vec<Job> = Vec::new();
        let mut fed = 0u64;
        let mut eof = false;
        // Until the source ends, then until every encoder is drained.
        loop {
            let frames = if eof {
                Vec::new()
            } else {
                match rx.recv() {
                    Ok(r) => r?,
                    Err(_) => {
                        eof = true;
                        Vec::new()
                    }
                }
            };
            if chains.is_empty() {
                let Some(f0) = frames.first() else {
                    return Err(Error::media(
                        info.path.display().to_string(),
                        "no frames to encode",
                    ));
                };
                for (t, &decimate) in tasks.iter().zip(&decimate) {
                    let key = (t.filters.width, t.filters.height, t.filters.downscaler);
                    if let std::collections::btree_map::Entry::Vacant(e) = down.entry(key) {
                        let s = if (key.0 as usize, key.1 as usize) == (src_w, src_h) {
                            None
                        } else {
                            Some(Scaler::new(
                                f0.format,
                                key.0 as usize,
                                key.1 as usize,
                                key.2,
                            )?)
                        };
                        e.insert(s);
                    }
                    let cfg = encoder_config(t, f0, t.filters.fps.unwrap_or(fps))?;
                    let enc = Encoder::new(&cfg)?;
                    let dec = Decoder::new(&enc.stream_params())?;
                    let up = if (t.filters.width as usize, t.filters.height as usize)
                        == (src_w, src_h)
                    {
                        None
                    } else {
                        Some(t.filters.upscaler)
                    };
                    chains.push(Chain {
                        task: t,
                        enc,
                        dec,
                        up,
                        decimate,
                        frame_bytes: Vec::new(),
                        pending: Vec::new(),
                        decoded: 0,
                        flushed: false,
                        scores: Vec::new(),
                        timings: Timings::default(),
                    });
                }
            }
            if eof && chains.iter().all(|c| c.flushed) {
                break;
            }

            // Motion against the previous source frame (the batch's previous one, or the last
            // frame of the previous batch, the only luma kept across batches).
            for (k, f) in frames.iter().enumerate() {
                let prev = match k {
                    0 => prev_luma.as_ref(),
                    _ => Some(frames[k - 1].luma()),
                };
                let sad = match prev {
                    Some(p) => motion::sad_score(p, f.luma(), f.format.bit_depth),
                    None => 0.0,
                };
                refs.sads.insert(f.index, sad);
                refs.last_index = Some(f.index);
            }
            if let Some(f) = frames.last() {
                prev_luma = Some(f.luma().clone());
            }

            // Scale once per resolution.
            // `None`: the source's own size, fed from `frames` without a copy.
            let scaled: BTreeMap<(u32, u32, ScalerKind), Option<Vec<Frame>>> = down
                .par_iter_mut()
                .map(|(k, s)| -> Result<_> {
                    let v = match s {
                        Some(s) => Some(
                            frames
                                .iter()
                                .map(|f| s.scale(f))
                                .collect::<Result<Vec<_>>>()?,
                        ),
                        None => None,
                    };
                    Ok((*k, v))
                })
                .collect::<Result<_>>()?;

            // Encode and decode this batch (every point in parallel) while the frames the
            // previous batches made ready are upscaled and scored: one parallel phase, so a core
            // that finishes its encodes early scores instead of waiting. Longest first: a step
            // is indivisible (one x264 medium step at 720p is a third of a round's work), while
            // the scoring splits into frames, so it goes last and fills the cores' tails. Run in
            // the other order (as with a plain `join`), a round ended with one core finishing a
            // large encode alone.
            let mut order: Vec<(&mut Chain, Result<()>)> =
                chains.iter_mut().map(|c| (c, Ok(()))).collect();
            order.sort_by_key(|(c, _)| {
                let f = &c.task.filters;
                std::cmp::Reverse(f.width as u64 * f.height as u64 / c.decimate)
            });
            let mut scored = Ok(Vec::new());
            rayon::scope_fifo(|s| {
                for (c, slot) in order.iter_mut() {
                    let key = (
                        c.task.filters.width,
                        c.task.filters.height,
                        c.task.filters.downscaler,
                    );
                    let input = if eof {
                        None
                    } else {
                        Some(scaled[&key].as_deref().unwrap_or(&frames))
                    };
                    s.spawn_fifo(move |_| *slot = c.step(input, first, opts.batch.max(1)));
                }
                let (jobs, refs, scored) = (&jobs, &mut refs, &mut scored);
                s.spawn_fifo(move |_| {
                    *scored = score_jobs(jobs, refs, engine, (src_w, src_h), opts.batch)
                });
            });
            order.into_iter().try_for_each(|(_, r)| r)?;
            for (ci, s, secs) in scored? {
                chains[ci].scores.push(s);
                chains[ci].timings.score_s += secs;
            }
            drop(scaled);
            // The source frames now wait (moved, not copied) until their reference is prepared.
            let n_frames = frames.len() as u64;
            for f in frames {
                refs.raw.insert(f.index, f);
            }
            refs.eof = eof;

            // Next round's jobs: every decoded frame whose references' motion is known (the
            // source frame after them has arrived, or the stream ended).
            jobs = collect_jobs(&mut chains, &refs, first, subsample);
            refs.keep_from = chains
                .iter()
                .map(|c| first + c.decoded * c.decimate)
                .chain(
                    chains
                        .iter()
                        .flat_map(|c| c.pending.iter().map(|(f, _)| f.index)),
                )
                .min()
                .unwrap_or(0);

            // Drop reference frames no point will need again.
            let low = jobs
                .iter()
                .map(|j| j.frame.index)
                .fold(refs.keep_from, u64::min);
            refs.window.retain(|&i, _| i >= low);
            refs.raw.retain(|&i, _| i >= low);
            // motion2 of frame i needs the motion of i + 1 only.
            refs.sads.retain(|&i, _| i + 1 >= low);

            fed += n_frames;
            if !on_event(Event::Frames {
                wave,
                done: fed,
                total,
            }) {
                return Err(Error::Cancelled);
            }
        }
        // The last step's frames (the end of the stream made every frame ready).
        for (ci, s, secs) in score_jobs(&jobs, &mut refs, engine, (src_w, src_h), opts.batch)? {
            chains[ci].scores.push(s);
            chains[ci].timings.score_s += secs;
        }

        let elapsed = t_start.elapsed().as_secs_f64();
        chains
            .into_iter()
            .map(|c| finish_chain(c, fed, fps, subsample, elapsed))
            .collect()
    })
}

/// Checks a finished chain and turns it into the stored result.
fn finish_chain(
    c: Chain,
    fed: u64,
    fps: (u32, u32),
    subsample: u64,
    elapsed: f64,
) -> Result<TaskResult> {
    let t = c.task;
    let what = format!(
        "{} {}x{} crf {:?}",
        t.encoder.codec, t.filters.width, t.filters.height, t.rate
    );
    let encoded = fed.div_ceil(c.decimate);
    if c.decoded != encoded {
        return Err(Error::codec(
            what,
            format!("decoded {} frames of {} encoded", c.decoded, encoded),
        ));
    }
    let expect = fed.div_ceil(subsample);
    if c.scores.len() as u64 != expect || !c.pending.is_empty() {
        return Err(Error::codec(
            what,
            format!("scored {} frames of {}", c.scores.len(), expect),
        ));
    }
    let bytes: u64 = c.frame_bytes.iter().sum();
    let duration = fed as f64 * fps.1 as f64 / fps.0 as f64;
    let kbps = bytes as f64 * 8.0 / duration / 1000.0;
    let mut scores: BTreeMap<Series, Vec<f64>> = BTreeMap::new();
    for s in &c.scores {
        for series in Series::ALL {
            if let Some(v) = series.of(s) {
                scores.entry(series).or_default().push(v);
            }
        }
    }
    let pooled: BTreeMap<Series, pooling::Pooled> =
        scores.iter().map(|(k, v)| (*k, pooling::pool(v))).collect();
    let mean = |k: Series| pooled.get(&k).map(|p| p.mean).unwrap_or(f64::NAN);
    let crf = match t.rate {
        RateControl::Crf { crf } => crf,
        RateControl::Qp { qp } => qp as f64,
        RateControl::Bitrate { .. } => f64::NAN,
    };
    let key = t.key();
    let point = Point {
        codec: t.encoder.codec.clone(),
        width: t.filters.width,
        height: t.filters.height,
        crf,
        kbps,
        bytes,
        vmaf: mean(Series::Vmaf),
        psnr_y: mean(Series::PsnrY),
        ssim: mean(Series::Ssim),
        pooled,
        on_hull: false,
        key,
    };
    let scored_frames = c.scores.iter().map(|s| s.index).collect();
    let mut timings = c.timings;
    timings.total_s = elapsed;
    let r = TaskResult {
        task: t.clone(),
        point,
        frame_bytes: c.frame_bytes,
        scored_frames,
        scores,
        timings,
    };
    r.check()?;
    Ok(r)
}
