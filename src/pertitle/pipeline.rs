//! The grid runner: turns [`GridTask`]s into [`TaskResult`]s, doing no work twice.
//!
//! Within a *lane* (points of the same frames — a title or one chunk of it — whose encoders fit
//! the memory budget together) the source is decoded once, on its own thread; each frame is
//! scaled once per resolution and fed to every encoder of that resolution; each encoder's
//! packets are decoded, upscaled back to the source size and scored in memory as they come,
//! against reference frames prepared once for all the lane's points (the [`Engine`]'s
//! prepared-reference API). Lanes start whenever the budget has room, so several chunks run side
//! by side; all their points step in parallel (rayon), and the scoring of one batch runs in the
//! same parallel phase as the encoding of the next (encoder steps longest first, the divisible
//! scoring last), so no core waits for the slowest encoder; at the end of a lane's frames the
//! encoders' look-ahead is flushed a batch at a time in the same way. The source frames' motion
//! and the freeing of what a round let go of run in that phase too. Each encoder is freed as it
//! drains, giving its share of the budget back; once a lane's encoders have all drained, the
//! next lane starts beside it while its last frames are scored. Only a bounded window of
//! frames is in flight: the source frames of the encoders' look-ahead, and per point about two
//! batches of decoded frames (at the point's own size; a frame is upscaled only when it is
//! scored). Memory is therefore independent of the title's length.
//!
//! The budget exists because an x264 encoder alone holds ~180 bytes per pixel (look-ahead,
//! references, half-pel planes; measured with libx264 preset medium, 1 thread): thirty
//! 1080p-and-below encoders at once would need ~4 GiB. Points of one selection that do not fit
//! run in several lanes, each decoding the frames again (cheap next to the encodes); a chunk's
//! reader jumps to it ([`FrameSource::seek`]).
//!
//! Finished tasks are written to the [`Store`] as soon as their lane ends, so an interrupted run
//! loses at most the lanes in progress.

use crate::error::{Error, Result};
use crate::frame::{Frame, Plane};
use crate::grid::{GridTask, TaskResult, Timings};
use crate::media::{
    Decoder, Encoder, EncoderConfig, FrameSource, PassStats, RateControl, Scaler, ScalerKind,
};
use crate::points::{Point, Series};
use crate::quality::{self, batch_motion, pooling, Engine, FrameScores, RefTimeline};
use crate::store::{Lookup, Store};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
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
    /// Computing starts: the tasks to compute and their source frames (summed over tasks).
    Started { tasks: usize, frames: u64 },
    /// Source frames fed to encoders so far (summed over tasks), of `total`.
    Frames { done: u64, total: u64 },
    /// A task (a point, or one chunk of a point) is finished and stored.
    TaskDone {
        key: String,
        width: u32,
        height: u32,
        crf: f64,
        /// The task's frames: `frames` from `start`.
        start: u64,
        frames: u64,
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

/// A task's estimated memory while it runs: its encoder, and `PENDING_FRAMES` decoded frames at
/// its size at 3 bytes per pixel (deep 4:2:0 in u16; 8-bit frames store bytes and take half, so
/// for them the estimate, measured with u16 frames, is conservative). They are upscaled one at a
/// time when scored.
fn task_cost(t: &GridTask) -> u64 {
    let px = t.filters.width as u64 * t.filters.height as u64;
    px * crate::codecs::profile(&t.encoder.codec).bytes_per_pixel + PENDING_FRAMES * px * 3
}

/// Splits tasks into waves whose estimated encoder memory fits `budget` ([`balanced_waves`]).
fn plan_waves(tasks: &[&GridTask], budget: u64) -> Vec<Vec<usize>> {
    let costs: Vec<u64> = tasks.iter().map(|t| task_cost(t)).collect();
    balanced_waves(&costs, budget)
}

/// Splits items of these costs into as few waves as fit `budget` and balances them: the
/// largest first, each into the least-loaded wave it fits. A first-fit split leaves a small
/// remainder wave of a few cheap encodes, which cannot keep the cores busy on its own (the idle
/// dips between lanes); balanced waves each mix large and small sizes. Every wave takes at least
/// one item (an item above the budget runs alone); large ones come first in each wave, so the
/// long-running encodes start early.
fn balanced_waves(costs: &[u64], budget: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].cmp(&costs[a]).then(a.cmp(&b)));
    // An item above the budget fills a wave of its own whatever its size.
    let total: u64 = costs.iter().map(|&c| c.min(budget)).sum();
    let mut n = total.div_ceil(budget.max(1)).max(1) as usize;
    loop {
        let mut waves: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); n];
        let placed = order.iter().all(|&i| {
            let c = costs[i];
            let fits = waves
                .iter_mut()
                .filter(|(used, w)| w.is_empty() || used + c <= budget)
                .min_by_key(|(used, _)| *used);
            match fits {
                Some((used, w)) => {
                    *used += c;
                    w.push(i);
                    true
                }
                None => false,
            }
        });
        if placed {
            return waves
                .into_iter()
                .filter(|(_, w)| !w.is_empty())
                .map(|(_, w)| w)
                .collect();
        }
        n += 1;
    }
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
    ///
    /// Tasks of the same frames (a title, or one chunk of it) form *lanes*: as many of their
    /// points as fit the memory budget, fed from one reader. Lanes start whenever the budget
    /// has room, so lanes of several chunks run side by side (both cores busy even for one
    /// point) and no lane waits for the slowest of a wave; each lane's results are stored as
    /// soon as it ends, so an interrupted run loses at most the lanes in progress.
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
        // Two-pass tasks run their first pass up front (each reads its frames once more); the
        // lanes then run their second pass like any other chain.
        let passes = FirstPasses::new()?;
        let two_pass: Vec<usize> = todo
            .iter()
            .copied()
            .filter(|&i| needs_first_pass(&tasks[i]))
            .collect();
        let stats: HashMap<usize, PathBuf> = pool.install(|| {
            two_pass
                .par_iter()
                .map(|&i| Ok((i, passes.run(i, &tasks[i], open)?)))
                .collect::<Result<_>>()
        })?;
        let plans = plan_lanes(tasks, &todo, opts.memory_budget);
        let total: u64 = todo.iter().map(|&i| selected_frames(&tasks[i])).sum();
        if !on_event(Event::Started {
            tasks: todo.len(),
            frames: total,
        }) {
            return Err(Error::Cancelled);
        }
        let mut finish = |done: Vec<(usize, TaskResult)>| -> Result<bool> {
            // Store every finished task of the lane before honouring a stop request, so none
            // of its finished tasks is lost.
            let mut go = true;
            for (i, r) in done {
                if let Some(s) = store {
                    s.put(&r)?;
                }
                let p = &r.point;
                let f = &r.task.filters.frames;
                go &= on_event(Event::TaskDone {
                    key: p.key.clone(),
                    width: p.width,
                    height: p.height,
                    crf: p.crf,
                    start: f.start,
                    frames: selected_frames(&r.task),
                    kbps: p.kbps,
                    vmaf: p.vmaf,
                });
                results[i] = Some(r);
            }
            Ok(go)
        };
        pool.install(|| {
            run_lanes(
                tasks,
                plans,
                &stats,
                open,
                engine,
                opts,
                total,
                on_event,
                &mut finish,
            )
        })?;
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task computed or reused"))
            .collect())
    }
}

/// One point's encoder chain and what it has produced so far.
struct Chain<'t> {
    task: &'t GridTask,
    /// The point's encoder and decoder; `None` once the encoder is drained and the decoder
    /// flushed (nothing more will come), which frees them while the last frames are scored.
    coders: Option<Coders>,
    /// The encoder's estimated memory ([`task_cost`]), given back to the budget when it drains.
    cost: u64,
    /// How decoded frames are upscaled to the source size (None: already that size).
    up: Option<ScalerKind>,
    /// Frame-rate decimation (`grid.fps_cap`): every `decimate`-th source frame is encoded, and
    /// each decoded frame is shown for `decimate` source frames, as a player repeats it.
    decimate: u64,
    frame_bytes: Vec<u64>,
    /// Decoded frames (at the point's size) waiting for their reference's motion.
    pending: Vec<(Frame, Option<ScalerKind>)>,
    decoded: u64,
    scores: Vec<FrameScores>,
    timings: Timings,
}

/// A chain's encoder and the decoder of its packets.
struct Coders {
    enc: Encoder,
    dec: Decoder,
}

impl Chain<'_> {
    /// Encodes `frames` and decodes what comes out; with `None` (end of stream) takes the next
    /// `flush_max` packets of the encoder's flush instead, so the look-ahead is encoded over
    /// several steps, each overlapping the scoring of the previous one, rather than in one long
    /// task per encoder that leaves the other cores idle at the end of a wave. Upscaling waits
    /// until the frame is scored, so flushed frames wait at the point's own size.
    fn step(&mut self, frames: Option<&[Frame]>, first: u64, flush_max: usize) -> Result<()> {
        let Some(Coders { enc, dec }) = &mut self.coders else {
            return Ok(());
        };
        let t0 = Instant::now();
        let mut packets = Vec::new();
        let mut drained = false;
        match frames {
            Some(fs) => {
                for f in fs {
                    if (f.index - first).is_multiple_of(self.decimate) {
                        packets.extend(enc.encode(f)?);
                    }
                }
            }
            None => {
                let (p, done) = enc.finish_some(flush_max)?;
                packets.extend(p);
                drained = done;
            }
        }
        let t1 = Instant::now();
        self.timings.encode_s += (t1 - t0).as_secs_f64();
        let mut out = Vec::new();
        for p in &packets {
            self.frame_bytes.push(p.data.len() as u64);
            out.extend(dec.decode(p)?);
        }
        if drained {
            out.extend(dec.flush()?);
            self.coders = None;
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

/// Takes each chain's decoded frames whose references are ready (a reference's motion2 needs
/// the next frame's motion, or the stream ended), in (frame index, chain) order. Frames that
/// stand for no scored source frame (`subsample`) are dropped.
fn collect_jobs(
    chains: &mut [Chain],
    refs: &RefTimeline,
    first: u64,
    sel_end: u64,
    subsample: u64,
) -> Vec<Job> {
    // A decimated frame's last target is known to exist once the frame after it has been read,
    // or the stream ended; the frames read so far end before `end`, the selection at `sel_end`.
    let end = refs.last().map_or(first, |l| l + 1).min(sel_end);
    let mut jobs = Vec::new();
    for (ci, c) in chains.iter_mut().enumerate() {
        let n = c.decimate;
        let mut keep = Vec::new();
        for (f, up) in c.pending.drain(..) {
            if !refs.is_ready(f.index + n - 1) {
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

/// The lowest reference index a job still to come may need: every point has decoded past it,
/// and no decoded frame waiting for its references stands for it.
fn keep_from(chains: &[Chain], first: u64) -> u64 {
    chains
        .iter()
        .map(|c| first + c.decoded * c.decimate)
        .chain(
            chains
                .iter()
                .flat_map(|c| c.pending.iter().map(|(f, _)| f.index)),
        )
        .min()
        .unwrap_or(0)
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

/// Scored reference frames: (chain, scores, seconds spent per frame).
type Scored = Vec<(usize, FrameScores, f64)>;

/// Upscales and scores `jobs`, in chunks that need at most `batch` references: prepare the
/// chunk's references (in parallel), score its frames (in parallel), release the references
/// no later job needs (none below `keep_from` or the next chunk's frames). Chunks bound how
/// many references are prepared at the same time. Returns the scores in job order.
fn score_jobs(
    jobs: &[Job],
    refs: &mut RefTimeline,
    keep_from: u64,
    engine: &Engine,
    src_size: (usize, usize),
    batch: usize,
    path: &str,
) -> Result<Scored> {
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
        // same round).
        if let Some(i) = idx.iter().find(|&&i| !refs.holds(i)) {
            return Err(Error::codec(
                path,
                format!("decoder returned frame {i}, not a source frame"),
            ));
        }
        refs.prepare(&idx)?;
        let refs_now: &RefTimeline = refs;
        let scored: Vec<Result<Scored>> = chunk
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
                    .map(|&i| engine.score(refs_now.get(i).expect("prepared above"), f))
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
        // Jobs are in frame order and a job's targets start at its own frame.
        refs.release_below(
            rest.first()
                .map_or(keep_from, |j| j.frame.index.min(keep_from)),
        );
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

/// Whether `t` is a two-pass encode whose encoder has a first pass (FFmpeg's libsvtav1 has none:
/// its "two-pass" rungs are one VBR pass, as on the command line).
fn needs_first_pass(t: &GridTask) -> bool {
    matches!(t.rate, RateControl::TwoPass { .. })
        && crate::codecs::profile(&t.encoder.codec).two_pass != crate::codecs::TwoPass::OnePass
}

/// First passes of two-pass tasks, their statistics in a private temporary directory that is
/// removed with this value (the statistics matter only until the second pass has opened).
struct FirstPasses {
    dir: PathBuf,
}

impl FirstPasses {
    fn new() -> Result<FirstPasses> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pertitle-pass1-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Ok(FirstPasses { dir })
    }

    /// Runs task `i`'s first pass over its frames: read, scaled and encoded exactly as its
    /// second pass will be, packets dropped. Returns the statistics file.
    fn run(&self, i: usize, t: &GridTask, open: &OpenSource<'_>) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let file = self.dir.join(format!("task{i}.log"));
        let pass = PassStats {
            pass: 1,
            file: file.clone(),
        };
        let enc = encode_pass(t, open, Some(pass), &mut |_, _| Ok(()))?;
        enc.end_first_pass()?;
        Ok(file)
    }
}

/// Encodes task `t`'s frames once (read from `open`, decimated and scaled as the grid does),
/// handing every packet to `sink` with the encoder that made it; returns the drained encoder.
fn encode_pass(
    t: &GridTask,
    open: &OpenSource<'_>,
    pass: Option<PassStats>,
    sink: &mut dyn FnMut(&Encoder, Vec<crate::media::Packet>) -> Result<()>,
) -> Result<Encoder> {
    let mut src = open()?;
    let info = src.info().clone();
    let fps = (info.fps_num, info.fps_den);
    let decimate = decimation(fps, t.filters.fps)?;
    let first = t.filters.frames.start;
    let end = first + selected_frames(t);
    if first > 0 {
        src.seek(first)?;
    }
    let mut scaler: Option<Scaler> = None;
    let mut enc: Option<Encoder> = None;
    while let Some(f) = src.next_frame()? {
        if f.index >= end {
            break;
        }
        if f.index < first || !(f.index - first).is_multiple_of(decimate) {
            continue;
        }
        if enc.is_none() {
            let (w, h) = (t.filters.width as usize, t.filters.height as usize);
            if (w, h) != (f.width(), f.height()) {
                scaler = Some(Scaler::new(f.format, w, h, t.filters.downscaler)?);
            }
            let mut cfg = encoder_config(t, &f, t.filters.fps.unwrap_or(fps))?;
            cfg.pass = pass.clone();
            enc = Some(Encoder::new(&cfg)?);
        }
        let e = enc.as_mut().expect("opened above");
        let packets = match scaler.as_mut() {
            Some(s) => e.encode(&s.scale(&f)?)?,
            None => e.encode(&f)?,
        };
        sink(e, packets)?;
    }
    let Some(mut e) = enc else {
        return Err(Error::media(
            info.path.display().to_string(),
            "no frames to encode",
        ));
    };
    let rest = e.finish()?;
    sink(&e, rest)?;
    Ok(e)
}

/// Encodes task `t` exactly as the grid runner does (both passes of a two-pass task, the same
/// scaler, encoder settings and threads, so the same bytes) and writes the bitstream to `path`
/// (its container from the extension; written under a temporary name, renamed when complete).
/// Returns the bytes of each packet, in stream order.
pub fn encode_to_file(t: &GridTask, open: &OpenSource<'_>, path: &Path) -> Result<Vec<u64>> {
    t.validate()?;
    let passes = FirstPasses::new()?;
    let stats = needs_first_pass(t)
        .then(|| passes.run(0, t, open))
        .transpose()?;
    let mut writer: Option<crate::media::StreamWriter> = None;
    let mut sizes = Vec::new();
    let second = stats.map(|file| PassStats { pass: 2, file });
    encode_pass(t, open, second, &mut |e, packets| {
        if writer.is_none() {
            writer = Some(crate::media::StreamWriter::create(
                path,
                &e.stream_params(),
            )?);
        }
        let w = writer.as_mut().expect("created above");
        for p in &packets {
            sizes.push(p.data.len() as u64);
            w.write(p)?;
        }
        Ok(())
    })?;
    match writer {
        Some(w) => w.finish()?,
        None => {
            return Err(Error::codec(
                &t.encoder.codec,
                "the encoder produced no packets",
            ))
        }
    }
    Ok(sizes)
}

impl Drop for FirstPasses {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads source frames `from..to` on its own thread, `batch` frames at a time, jumping to `from`
/// when the source can ([`FrameSource::seek`]).
fn spawn_reader<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    mut src: Box<dyn FrameSource>,
    from: u64,
    to: u64,
    batch: usize,
) -> Receiver<Result<Vec<Frame>>> {
    let (tx, rx) = sync_channel::<Result<Vec<Frame>>>(2);
    scope.spawn(move || {
        let mut buf = Vec::with_capacity(batch);
        if from > 0 {
            if let Err(e) = src.seek(from) {
                let _ = tx.send(Err(e));
                return;
            }
        }
        loop {
            match src.next_frame() {
                Ok(Some(f)) => {
                    if f.index < from {
                        continue;
                    }
                    if f.index >= to {
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

/// Source frames a task encodes: its selection, clipped to the title.
fn selected_frames(t: &GridTask) -> u64 {
    let sel = &t.filters.frames;
    let left = t.source.frames.saturating_sub(sel.start);
    sel.count.map_or(left, |c| c.min(left))
}

/// A wave's downscalers, one per distinct (size, scaler); `None` for the source's own size.
type Downscalers = BTreeMap<DownKey, Option<Scaler>>;
type DownKey = (u32, u32, ScalerKind);

fn down_key(t: &GridTask) -> DownKey {
    (t.filters.width, t.filters.height, t.filters.downscaler)
}

/// The chains of `tasks` and their downscalers, made when the first source frame `f0` shows the
/// source format.
fn start_chains<'t>(
    tasks: &[&'t GridTask],
    decimate: &[u64],
    second_pass: &[Option<&Path>],
    f0: &Frame,
    (src_w, src_h): (usize, usize),
    fps: (u32, u32),
) -> Result<(Downscalers, Vec<Chain<'t>>)> {
    let mut down = Downscalers::new();
    let mut chains = Vec::new();
    for ((t, &decimate), stats) in tasks.iter().zip(decimate).zip(second_pass) {
        let key = down_key(t);
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
        let mut cfg = encoder_config(t, f0, t.filters.fps.unwrap_or(fps))?;
        cfg.pass = stats.map(|file| PassStats {
            pass: 2,
            file: file.to_path_buf(),
        });
        let enc = Encoder::new(&cfg)?;
        let dec = Decoder::new(&enc.stream_params())?;
        let up = if (t.filters.width as usize, t.filters.height as usize) == (src_w, src_h) {
            None
        } else {
            Some(t.filters.upscaler)
        };
        chains.push(Chain {
            task: t,
            coders: Some(Coders { enc, dec }),
            cost: task_cost(t),
            up,
            decimate,
            frame_bytes: Vec::new(),
            pending: Vec::new(),
            decoded: 0,
            scores: Vec::new(),
            timings: Timings::default(),
        });
    }
    Ok((down, chains))
}

/// Adds scored frames to their chains.
fn credit(chains: &mut [Chain], scored: Scored) {
    for (ci, s, secs) in scored {
        chains[ci].scores.push(s);
        chains[ci].timings.score_s += secs;
    }
}

/// A lane to run: tasks of one frame selection whose encoders fit the budget together.
struct LanePlan {
    /// Indices into the run's tasks.
    tasks: Vec<usize>,
    /// Their estimated memory ([`task_cost`]).
    cost: u64,
    /// What the lane holds besides its points ([`lane_overhead`]).
    overhead: u64,
}

/// Source-size frames a lane holds besides its points, as a count of frames: the reader's two
/// batches, the source frames waiting in the timeline for the encoders' look-ahead (x264
/// medium: 40 frames of rc-lookahead and the B-frames), and a batch of prepared references
/// (several frames' worth each). An estimate from the 1080p grid's peak with one lane at a time
/// (~1.9 GiB for a 1.2 GiB encoder budget); it matters when lanes run side by side, so that
/// many small lanes cannot each bring a title's worth of source frames.
const LANE_SOURCE_FRAMES: u64 = 100;

/// Memory a lane of `t`'s source holds besides its points (3 bytes per pixel: deep 4:2:0; 8-bit
/// frames take half).
fn lane_overhead(t: &GridTask) -> u64 {
    t.source.width as u64 * t.source.height as u64 * 3 * LANE_SOURCE_FRAMES
}

/// Groups the tasks to compute by their frames (in the order they first appear) and splits each
/// group into lanes that fit `budget` ([`plan_waves`]).
fn plan_lanes(tasks: &[GridTask], todo: &[usize], budget: u64) -> Vec<LanePlan> {
    let mut group_of: HashMap<(u64, Option<u64>, u32), usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in todo {
        let s = &tasks[i].filters.frames;
        let g = *group_of
            .entry((s.start, s.count, s.subsample))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[g].push(i);
    }
    let mut plans = Vec::new();
    for g in groups {
        let members: Vec<&GridTask> = g.iter().map(|&i| &tasks[i]).collect();
        for wave in plan_waves(&members, budget) {
            plans.push(LanePlan {
                cost: wave.iter().map(|&k| task_cost(members[k])).sum(),
                overhead: lane_overhead(members[0]),
                tasks: wave.into_iter().map(|k| g[k]).collect(),
            });
        }
    }
    plans
}

/// Runs lanes while the memory budget has room for them, a round at a time over every active
/// lane; `finish` gets each lane's results (with their task indices) as the lane ends and
/// returns `false` to stop.
#[allow(clippy::too_many_arguments)]
fn run_lanes(
    tasks: &[GridTask],
    plans: Vec<LanePlan>,
    stats: &HashMap<usize, PathBuf>,
    open: &OpenSource<'_>,
    engine: &Engine,
    opts: &RunOptions,
    total: u64,
    on_event: &(dyn Fn(Event) -> bool + Sync),
    finish: &mut dyn FnMut(Vec<(usize, TaskResult)>) -> Result<bool>,
) -> Result<()> {
    let mut queue: VecDeque<LanePlan> = plans.into();
    std::thread::scope(|scope| -> Result<()> {
        let mut active: Vec<Lane> = Vec::new();
        let (mut used, mut done) = (0u64, 0u64);
        loop {
            // A lane's charge follows its encoders: each is freed as it drains.
            for lane in active.iter_mut() {
                let now = lane.charge();
                used -= lane.charged - now;
                lane.charged = now;
            }
            // When no lane holds an encoder the next lane runs whatever it costs (as a single
            // wave always did), beside lanes that only score their last frames; otherwise it
            // joins only if it fits with its overhead too.
            while let Some(p) = queue.front() {
                let encoding = active.iter().any(|l| !l.drained());
                if encoding && used + p.cost + p.overhead > opts.memory_budget {
                    break;
                }
                let p = queue.pop_front().expect("front exists");
                let overhead = if encoding { p.overhead } else { 0 };
                let mut lane = Lane::start(scope, p, tasks, stats, open, engine, opts)?;
                lane.overhead = overhead;
                lane.charged = lane.charge();
                used += lane.charged;
                active.push(lane);
            }
            // Lanes whose source ended, whose encoders are drained and whose last frames are
            // scored are finished.
            let mut k = 0;
            while k < active.len() {
                if active[k].next.is_none() && active[k].drained() && active[k].jobs.is_empty() {
                    let lane = active.remove(k);
                    used -= lane.charged;
                    if !finish(lane.finish()?)? {
                        return Err(Error::Cancelled);
                    }
                } else {
                    k += 1;
                }
            }
            if active.is_empty() {
                if queue.is_empty() {
                    return Ok(());
                }
                continue;
            }
            done += round(&mut active)?;
            if !on_event(Event::Frames { done, total }) {
                return Err(Error::Cancelled);
            }
        }
    })
}

/// Memory a round let go of: freeing tens of MB is not free, and between phases (on the thread
/// that runs them) no other core has work, so it is freed in the next round's parallel phase.
#[derive(Default)]
struct Freed {
    refs: Vec<quality::Released>,
    frames: Vec<Frame>,
    jobs: Vec<Job>,
}

/// A lane's fed frames' motion in a round: the engine, the last luma before them, and a slot
/// per frame.
type Motion<'e> = (&'e Engine, Option<Plane>, Vec<quality::Result<f64>>);

/// A chain's part of a round: its input (`None`: flush), the lane's first frame, the flush
/// size, and where its outcome goes.
type Step<'c, 'f, 't> = (
    &'c mut Chain<'t>,
    Option<&'f [Frame]>,
    u64,
    usize,
    Result<()>,
);

/// The chains of one downscaled size in a lane's round. A task of the phase scales the lane's
/// frames to that size once and then spawns the chains' steps, so the scaling overlaps the
/// other sizes' encodes and a size's encodes start as soon as its frames are ready.
struct ScaleGroup<'c, 't> {
    scaler: &'c mut Scaler,
    steps: Vec<(&'c mut Chain<'t>, Result<()>)>,
    scaled: Result<Vec<Frame>>,
}

impl ScaleGroup<'_, '_> {
    fn run<'s>(
        &'s mut self,
        s: &rayon::ScopeFifo<'s>,
        frames: &'s [Frame],
        first: u64,
        flush_max: usize,
    ) {
        let ScaleGroup {
            scaler,
            steps,
            scaled,
        } = self;
        *scaled = frames.iter().map(|f| scaler.scale(f)).collect();
        let Ok(fs) = scaled else {
            return;
        };
        let fs: &'s [Frame] = fs;
        for (c, slot) in steps {
            s.spawn_fifo(move |_| *slot = c.step(Some(fs), first, flush_max));
        }
    }
}

/// One parallel phase over every active lane: each chain encodes and decodes its lane's next
/// frames (`None`: the next part of the end-of-stream flush) while the jobs each lane's previous
/// round made ready are upscaled and scored, so a core that finishes its encodes early scores
/// instead of waiting. Longest first: a step is indivisible (one x264 medium step at 720p is a
/// third of a round's work), while the scoring splits into frames, so it goes last and fills the
/// cores' tails. The source-size steps go first, then the downscalings, largest first, each
/// followed by its size's steps ([`ScaleGroup`]). Returns the source frames fed, counted once
/// per chain (progress).
fn round(lanes: &mut [Lane]) -> Result<u64> {
    let mut inputs = Vec::with_capacity(lanes.len());
    for lane in lanes.iter_mut() {
        let frames = lane.next.take();
        if frames.is_none() {
            lane.end()?;
        }
        inputs.push(frames);
    }
    // The fed frames' motion, measured in the phase beside the encodes (a frame at a time, the
    // first against a copy of the last luma the lane's timeline holds).
    let mut motion: Vec<Motion> = lanes
        .iter()
        .zip(&inputs)
        .map(|(lane, frames)| {
            let n = frames.as_ref().map_or(0, Vec::len);
            let slots = (0..n).map(|_| Ok(0.0)).collect();
            (lane.engine, lane.refs.last_luma().cloned(), slots)
        })
        .collect();
    let mut fed = 0;
    let freed: Vec<Freed> = lanes
        .iter_mut()
        .map(|l| std::mem::take(&mut l.freed))
        .collect();
    let mut scaled: Vec<Vec<Frame>> = lanes.iter().map(|_| Vec::new()).collect();
    {
        let mut steps: Vec<Step> = Vec::new();
        // (pixels, lane, first frame, flush size, group)
        let mut groups: Vec<(u64, usize, u64, usize, ScaleGroup)> = Vec::new();
        let mut scorings = Vec::with_capacity(lanes.len());
        for (li, (lane, frames)) in lanes.iter_mut().zip(&inputs).enumerate() {
            let Lane {
                chains,
                down,
                refs,
                jobs,
                keep_from,
                engine,
                batch,
                first,
                src_size,
                path,
                ..
            } = lane;
            let frames = frames.as_deref();
            let mut by_size: BTreeMap<DownKey, ScaleGroup> = match frames {
                Some(_) => down
                    .iter_mut()
                    .filter_map(|(k, s)| s.as_mut().map(|scaler| (*k, scaler)))
                    .map(|(k, scaler)| {
                        let g = ScaleGroup {
                            scaler,
                            steps: Vec::new(),
                            scaled: Ok(Vec::new()),
                        };
                        (k, g)
                    })
                    .collect(),
                None => BTreeMap::new(),
            };
            for c in chains.iter_mut() {
                fed += frames.map_or(0, |f| f.len() as u64);
                match by_size.get_mut(&down_key(c.task)) {
                    Some(g) => g.steps.push((c, Ok(()))),
                    None => steps.push((c, frames, *first, (*batch).max(1), Ok(()))),
                }
            }
            for ((w, h, _), g) in by_size {
                let px = w as u64 * h as u64;
                groups.push((px, li, *first, (*batch).max(1), g));
            }
            let score = (
                &**jobs, refs, *keep_from, *engine, *src_size, *batch, &**path,
            );
            scorings.push((score, Ok(Vec::new())));
        }
        steps.sort_by_key(|(c, ..)| {
            let f = &c.task.filters;
            std::cmp::Reverse(f.width as u64 * f.height as u64 / c.decimate)
        });
        groups.sort_by_key(|(px, ..)| std::cmp::Reverse(*px));
        rayon::scope_fifo(|s| {
            for (c, input, first, flush_max, slot) in steps.iter_mut() {
                let (input, first, flush_max) = (*input, *first, *flush_max);
                s.spawn_fifo(move |_| *slot = c.step(input, first, flush_max));
            }
            for (_, li, first, flush_max, g) in groups.iter_mut() {
                let (first, flush_max) = (*first, *flush_max);
                let Some(frames) = inputs[*li].as_deref() else {
                    continue;
                };
                s.spawn_fifo(move |s| g.run(s, frames, first, flush_max));
            }
            for (frames, (engine, last, slots)) in inputs.iter().zip(&mut motion) {
                let (Some(frames), engine) = (frames.as_deref(), *engine) else {
                    continue;
                };
                for (k, slot) in slots.iter_mut().enumerate() {
                    let last = last.as_ref();
                    s.spawn_fifo(move |_| *slot = batch_motion(engine, last, frames, k));
                }
            }
            for ((jobs, refs, keep_from, engine, src_size, batch, path), slot) in
                scorings.iter_mut()
            {
                s.spawn_fifo(move |_| {
                    *slot = score_jobs(jobs, refs, *keep_from, engine, *src_size, *batch, path)
                });
            }
            for f in freed {
                s.spawn_fifo(move |_| drop(f));
            }
        });
        steps.into_iter().try_for_each(|(.., r)| r)?;
        for (_, li, _, _, g) in groups {
            let frames = g.scaled?;
            g.steps.into_iter().try_for_each(|(_, r)| r)?;
            scaled[li].extend(frames);
        }
        let scored: Vec<Scored> = scorings
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Result<_>>()?;
        for (lane, s) in lanes.iter_mut().zip(scored) {
            credit(&mut lane.chains, s);
        }
    }
    let each = lanes.iter_mut().zip(inputs).zip(motion).zip(scaled);
    for (((lane, frames), (_, _, sads)), scaled) in each {
        lane.freed.frames.extend(scaled);
        let eof = frames.is_none();
        let frames = frames.unwrap_or_default();
        lane.fed += frames.len() as u64;
        let sads = sads.into_iter().collect::<quality::Result<Vec<f64>>>()?;
        lane.advance(frames, &sads)?;
        if !eof {
            lane.next = lane.receive()?;
        }
    }
    Ok(fed)
}

/// Points of one frame selection in progress: their chains, the reference side, and the jobs
/// the last round made ready.
///
/// Reference side: motion is measured as source frames arrive (it needs only the previous
/// frame); the heavy preparation (VIF/ADM/SSIM statistics, tens of MB per frame) is done when
/// the first distorted frame of that index is scored and dropped once every point has passed
/// it. Points share one encoder set-up, so they decode in near lockstep and only about a batch
/// of prepared references is alive, while the raw frames of the encoders' look-ahead wait in
/// the timeline.
///
/// A chunk's frames are scored exactly as within the whole title: the source frame before the
/// chunk gives its first frame's motion and the frame after it its last frame's motion2 (both
/// read, never encoded), so concatenated chunk scores equal whole-stream scores.
struct Lane<'t, 'e> {
    plan: Vec<usize>,
    /// The overhead the lane was charged for (0 when it started beside no encoding lane).
    overhead: u64,
    /// What the budget counts for the lane now ([`Lane::charge`] as of the last check).
    charged: u64,
    rx: Receiver<Result<Vec<Frame>>>,
    /// The next selected frames to feed; `None` once the selection is read.
    next: Option<Vec<Frame>>,
    /// The title's frame after the selection, kept for the timeline's end.
    lead_out: Option<Frame>,
    chains: Vec<Chain<'t>>,
    down: Downscalers,
    refs: RefTimeline<'e>,
    /// Decoded frames whose references are ready: scored in the next round.
    jobs: Vec<Job>,
    /// What the last round let go of, freed in the next round's parallel phase.
    freed: Freed,
    /// [`keep_from`] as of the last round.
    keep_from: u64,
    engine: &'e Engine,
    /// Source frames per step ([`RunOptions::batch`]).
    batch: usize,
    /// The selection: frames `first..end`, and every `subsample`-th from `first` is scored.
    first: u64,
    end: u64,
    subsample: u64,
    src_size: (usize, usize),
    fps: (u32, u32),
    path: String,
    fed: u64,
    t_start: Instant,
}

impl<'t, 'e> Lane<'t, 'e> {
    /// Opens the source for the lane's frames and makes its chains on the first frame, when the
    /// source format is known.
    fn start<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        plan: LanePlan,
        tasks: &'t [GridTask],
        stats: &HashMap<usize, PathBuf>,
        open: &OpenSource<'_>,
        engine: &'e Engine,
        opts: &RunOptions,
    ) -> Result<Lane<'t, 'e>>
    where
        't: 's,
    {
        let t_start = Instant::now();
        let members: Vec<&'t GridTask> = plan.tasks.iter().map(|&i| &tasks[i]).collect();
        let t0 = members[0];
        let sel = &t0.filters.frames;
        let src = open()?;
        let info = src.info().clone();
        let src_size = (info.width, info.height);
        let fps = (info.fps_num, info.fps_den);
        let decimate: Vec<u64> = members
            .iter()
            .map(|t| decimation(fps, t.filters.fps))
            .collect::<Result<_>>()?;
        let (first, end) = (sel.start, sel.start + selected_frames(t0));
        let from = first.saturating_sub(1);
        let to = if end < t0.source.frames { end + 1 } else { end };
        let rx = spawn_reader(scope, src, from, to, opts.batch.max(1));
        let mut lane = Lane {
            plan: plan.tasks,
            overhead: 0,
            charged: 0,
            rx,
            next: None,
            lead_out: None,
            chains: Vec::new(),
            down: Downscalers::new(),
            refs: RefTimeline::new(engine),
            jobs: Vec::new(),
            freed: Freed::default(),
            keep_from: 0,
            engine,
            batch: opts.batch,
            first,
            end,
            subsample: sel.subsample.max(1) as u64,
            src_size,
            fps,
            path: info.path.display().to_string(),
            fed: 0,
            t_start,
        };
        lane.next = lane.receive()?;
        let Some(f0) = lane.next.as_ref().and_then(|b| b.first()) else {
            return Err(Error::media(&lane.path, "no frames to encode"));
        };
        let second: Vec<Option<&Path>> = lane
            .plan
            .iter()
            .map(|i| stats.get(i).map(PathBuf::as_path))
            .collect();
        let (down, chains) = start_chains(&members, &decimate, &second, f0, src_size, fps)?;
        (lane.down, lane.chains) = (down, chains);
        Ok(lane)
    }

    /// The reader's next selected frames (`None` once it is done); the frame before the
    /// selection goes straight to the timeline, the one after it waits for the end.
    fn receive(&mut self) -> Result<Option<Vec<Frame>>> {
        loop {
            let batch = match self.rx.recv() {
                Ok(b) => b?,
                Err(_) => return Ok(None),
            };
            let mut selected = Vec::with_capacity(batch.len());
            for f in batch {
                if f.index < self.first {
                    self.refs.push(vec![f])?;
                } else if f.index >= self.end {
                    self.lead_out = Some(f);
                } else {
                    selected.push(f);
                }
            }
            if !selected.is_empty() {
                return Ok(Some(selected));
            }
        }
    }

    /// The selection is read: the frame after it (if any) completes the timeline.
    fn end(&mut self) -> Result<()> {
        if !self.refs.ended() {
            if let Some(f) = self.lead_out.take() {
                self.refs.push(vec![f])?;
            }
            self.refs.end();
        }
        Ok(())
    }

    /// The lane's memory as the budget counts it: its overhead and its live encoders.
    fn charge(&self) -> u64 {
        let live = self.chains.iter().filter(|c| c.coders.is_some());
        self.overhead + live.map(|c| c.cost).sum::<u64>()
    }

    /// Every encoder is drained and every decoder flushed.
    fn drained(&self) -> bool {
        self.chains.iter().all(|c| c.coders.is_none())
    }

    /// After a round: its source frames join the timeline (moved, not copied), the decoded
    /// frames whose references are now ready become the next round's jobs, and the references
    /// no job still to come needs are released.
    fn advance(&mut self, frames: Vec<Frame>, motion: &[f64]) -> Result<()> {
        self.refs.push_measured(frames, motion)?;
        let jobs = collect_jobs(
            &mut self.chains,
            &self.refs,
            self.first,
            self.end,
            self.subsample,
        );
        self.freed
            .jobs
            .extend(std::mem::replace(&mut self.jobs, jobs));
        self.keep_from = keep_from(&self.chains, self.first);
        let low = self
            .jobs
            .iter()
            .map(|j| j.frame.index)
            .fold(self.keep_from, u64::min);
        self.freed.refs.push(self.refs.release_below(low));
        Ok(())
    }

    /// Scores the last round's jobs (the end of the stream made every frame ready) and turns
    /// the chains into results, each with its task's index.
    fn finish(mut self) -> Result<Vec<(usize, TaskResult)>> {
        self.end()?;
        let scored = score_jobs(
            &self.jobs,
            &mut self.refs,
            self.keep_from,
            self.engine,
            self.src_size,
            self.batch,
            &self.path,
        )?;
        credit(&mut self.chains, scored);
        let (fed, fps, subsample) = (self.fed, self.fps, self.subsample);
        let elapsed = self.t_start.elapsed().as_secs_f64();
        self.plan
            .into_iter()
            .zip(self.chains)
            .map(|(i, c)| Ok((i, finish_chain(c, fed, fps, subsample, elapsed)?)))
            .collect()
    }
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
    let crf = match t.rate {
        RateControl::Qp { qp } => qp as f64,
        r => r.crf().unwrap_or(f64::NAN),
    };
    let point = Point::from_pooled(
        t.encoder.codec.clone(),
        (t.filters.width, t.filters.height),
        crf,
        kbps,
        bytes,
        pooled,
        t.key(),
    );
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
        chunks: Vec::new(),
    };
    r.check()?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::balanced_waves;

    /// Every item once, every wave within the budget (or a single item above it), no more
    /// waves than a first-fit split would need here, and the waves balanced.
    #[test]
    fn waves_fit_the_budget_and_are_balanced() {
        // The demo grid's shape: 6 CRFs at each of 5 sizes, costs falling with the size.
        let sizes = [92u64, 52, 33, 23, 13];
        let costs: Vec<u64> = sizes.iter().flat_map(|&c| [c; 6]).collect();
        let waves = balanced_waves(&costs, 1300);
        assert_eq!(waves.len(), 1, "everything fits one wave: {waves:?}");
        let waves = balanced_waves(&costs, 700);
        assert_eq!(waves.len(), 2);
        let loads: Vec<u64> = waves
            .iter()
            .map(|w| w.iter().map(|&i| costs[i]).sum())
            .collect();
        assert!(loads.iter().all(|&l| l <= 700), "{loads:?}");
        let (lo, hi) = (*loads.iter().min().unwrap(), *loads.iter().max().unwrap());
        assert!(hi - lo <= 13, "unbalanced: {loads:?}");
        let mut seen: Vec<usize> = waves.concat();
        seen.sort();
        assert_eq!(seen, (0..costs.len()).collect::<Vec<_>>());
        // Largest first within each wave.
        for w in &waves {
            assert!(w.windows(2).all(|p| costs[p[0]] >= costs[p[1]]), "{w:?}");
        }
    }

    #[test]
    fn an_item_above_the_budget_runs_alone() {
        let waves = balanced_waves(&[500, 10, 10], 100);
        assert_eq!(waves, vec![vec![0], vec![1, 2]]);
        assert_eq!(balanced_waves(&[], 100), Vec::<Vec<usize>>::new());
    }
}
