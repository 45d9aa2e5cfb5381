//! Quality engine: VMAF (v0.6.1 family), PSNR and SSIM computed the way libvmaf computes them.
//!
//! Shaped for the ladder, where many distorted versions are scored against one reference
//! (dssim/ssimulacra2 style): everything that depends only on the reference is prepared once
//! into a [`PreparedRef`] (shared read-only, e.g. through an `Arc`, by every distorted stream),
//! and [`Engine::score`] does only the distorted-side work. Motion depends only on the
//! reference video, so it is computed once per reference frame by the streaming
//! [`RefPreparer`], which yields each prepared frame as soon as the next frame's motion is known
//! (libvmaf's `motion2` is the minimum of a frame's motion and the next frame's), or by
//! [`RefTimeline`], which measures motion as frames arrive but prepares a frame only when asked
//! (many distorted streams at their own pace, bounded memory).
//!
//! [`VideoScorer`] scores a whole (reference, distorted) pair of streams with O(1) frames in
//! memory (a bounded batch), frames in parallel with rayon, and a progress callback that can
//! cancel.
//!
//! ```no_run
//! use pertitle_quality::{Engine, EngineConfig, VideoScorer};
//! # fn frames() -> Vec<(pertitle_quality::Frame, pertitle_quality::Frame)> { vec![] }
//! let engine = Engine::new(EngineConfig::default())?;
//! let mut scorer = VideoScorer::new(&engine);
//! for (r, d) in frames() {
//!     scorer.push(r, d)?;
//! }
//! let scores = scorer.finish()?;
//! println!("VMAF mean {:?}", scores.mean_vmaf());
//! # Ok::<(), pertitle_quality::Error>(())
//! ```

// Every unsafe block in the engine (SIMD kernels) says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cpu;
pub mod error;
pub mod frame;
mod kernels;
pub mod log;
pub mod pooling;
pub mod psnr;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod ssim;
pub mod svr;
mod timeline;
pub mod vmaf;

use crate::cpu::CpuLevel;
pub use error::{Error, Result, Setting};
pub use frame::{Chroma, Frame, FrameFormat, Plane, SampleSlice, Samples};
use rayon::prelude::*;
use std::sync::Arc;
use vmaf::adm::{AdmParams, AdmRef};
use vmaf::model::{FeatureKind, Model};
use vmaf::{adm, motion, vif};

pub use kernels::KernelLevels;
pub use pooling::Pooled;
pub use timeline::{batch_motion, RefTimeline, Released};

/// Which metrics to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    pub vmaf: bool,
    pub psnr: bool,
    pub ssim: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            vmaf: true,
            psnr: false,
            ssim: false,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// A built-in model name (`vmaf_v0.6.1`, `vmaf_v0.6.1neg`, `vmaf_4k_v0.6.1`) or a path to a
    /// libvmaf JSON model.
    pub model: String,
    /// Apply the model's `score_transform` (libvmaf's phone model).
    pub phone: bool,
    pub metrics: Metrics,
    /// Worker threads for [`VideoScorer`]; 0 uses rayon's global pool.
    pub threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            model: vmaf::model::DEFAULT_MODEL.to_string(),
            phone: false,
            metrics: Metrics::default(),
            threads: 0,
        }
    }
}

/// The raw VMAF features of one frame as libvmaf names them (with the model's options, e.g.
/// gain limits 1.0 for the neg model), and the model inputs in the model's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VmafFeatures {
    /// `integer_adm2`.
    pub adm2: f64,
    /// `integer_adm_scale0..3`.
    pub adm_scales: [f64; 4],
    /// `integer_vif_scale0..3`.
    pub vif_scales: [f64; 4],
    /// Per-frame motion (libvmaf `motion_sad`: this reference frame against the previous).
    pub motion: f64,
    /// `integer_motion2`.
    pub motion2: f64,
}

/// Scores of one distorted frame. Metrics not asked for are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FrameScores {
    /// Frame number in display order (the reference's index).
    pub index: u64,
    pub vmaf: Option<f64>,
    pub features: Option<VmafFeatures>,
    /// Filled by the PSNR module (libvmaf `psnr_y`, `psnr_cb`, `psnr_cr`).
    pub psnr_y: Option<f64>,
    pub psnr_cb: Option<f64>,
    pub psnr_cr: Option<f64>,
    /// Filled by the SSIM module (libvmaf `float_ssim`).
    pub ssim: Option<f64>,
}

/// The reference-only parts of each metric.
#[derive(Debug, Clone, Default)]
struct RefParts {
    vif: Option<vif::VifRef>,
    adm: Option<AdmRef>,
    ssim: Option<ssim::SsimRef>,
}

impl FrameScores {
    /// A metric by its libvmaf name (see [`VideoScores::values`]).
    pub fn get(&self, metric: &str) -> Option<f64> {
        let f = self.features.as_ref();
        match metric {
            "vmaf" => self.vmaf,
            "psnr_y" => self.psnr_y,
            "psnr_cb" => self.psnr_cb,
            "psnr_cr" => self.psnr_cr,
            "ssim" | "float_ssim" => self.ssim,
            "integer_adm2" => f.map(|f| f.adm2),
            "integer_motion" => f.map(|f| f.motion),
            "integer_motion2" => f.map(|f| f.motion2),
            _ => {
                let s = metric.strip_prefix("integer_vif_scale")?;
                let i: usize = s.parse().ok().filter(|&i| i < 4)?;
                f.map(|f| f.vif_scales[i])
            }
        }
    }

    /// The metrics present, by libvmaf name, in a stable order (for logs).
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        const NAMES: [&str; 11] = [
            "integer_adm2",
            "integer_motion2",
            "integer_vif_scale0",
            "integer_vif_scale1",
            "integer_vif_scale2",
            "integer_vif_scale3",
            "psnr_y",
            "psnr_cb",
            "psnr_cr",
            "float_ssim",
            "vmaf",
        ];
        NAMES
            .iter()
            .filter_map(|n| self.get(n).map(|v| (*n, v)))
            .collect()
    }
}

/// Reference-side work for one frame that does not depend on its neighbours (safe to compute
/// for many frames in parallel). Turned into a [`PreparedRef`] by [`RefPreparer`].
#[derive(Debug, Clone)]
pub struct RefFrame {
    frame: Frame,
    parts: RefParts,
}

impl RefFrame {
    pub fn frame(&self) -> &Frame {
        &self.frame
    }
}

/// A reference frame prepared once for any number of distorted frames: its VIF pyramid and
/// statistics, its ADM transform, and its motion. Read-only and `Send + Sync`: share it with
/// `Arc` across the distorted streams of a ladder.
#[derive(Debug, Clone)]
pub struct PreparedRef {
    inner: RefFrame,
    /// libvmaf `motion_sad` of this frame (0 for the first).
    pub motion: f64,
    /// libvmaf `motion2` of this frame (first-frame and last-frame rules applied).
    pub motion2: f64,
}

impl PreparedRef {
    /// Assembles a prepared reference from its neighbour-independent part and its motion,
    /// computed elsewhere (the grid runner computes motion as frames arrive but prepares the
    /// heavy part only when a distorted frame needs it, to bound memory).
    pub fn from_parts(r: RefFrame, motion: f64, motion2: f64) -> PreparedRef {
        PreparedRef {
            inner: r,
            motion,
            motion2,
        }
    }

    pub fn frame(&self) -> &Frame {
        &self.inner.frame
    }

    pub fn index(&self) -> u64 {
        self.inner.frame.index
    }
}

/// Distorted-side results before the reference's motion2 is known.
#[derive(Debug, Clone, Default)]
struct DistFeatures {
    vif: Vec<vif::VifScore>,
    adm: Vec<adm::AdmScore>,
    psnr: Option<[f64; 3]>,
    ssim: Option<f64>,
}

/// The quality engine: a loaded model and what it needs. `Send + Sync`.
pub struct Engine {
    cfg: EngineConfig,
    model: Option<Arc<Model>>,
    /// Distinct VIF gain limits the model asks for (one VIF computation each).
    vif_egls: Vec<f64>,
    /// Distinct ADM parameter sets the model asks for.
    adm_params: Vec<AdmParams>,
    motion_force_zero: bool,
    pool: Option<rayon::ThreadPool>,
    /// Every metric's kernel table, resolved once for [`CpuLevel::get`].
    kernels: kernels::Kernels,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("cfg", &self.cfg).finish()
    }
}

fn push_distinct<T: PartialEq>(v: &mut Vec<T>, x: T) -> usize {
    match v.iter().position(|y| *y == x) {
        Some(i) => i,
        None => {
            v.push(x);
            v.len() - 1
        }
    }
}

impl Engine {
    /// Loads the model (for VMAF) and sets up the thread pool.
    pub fn new(cfg: EngineConfig) -> Result<Engine> {
        let model = if cfg.metrics.vmaf {
            Some(Model::load(&cfg.model)?)
        } else {
            None
        };
        Engine::with_model(cfg, model)
    }

    /// An engine with an already loaded model (`cfg.model` is then only informative).
    pub fn with_model(cfg: EngineConfig, model: Option<Model>) -> Result<Engine> {
        if cfg.metrics.vmaf && model.is_none() {
            return Err(Error::setting(
                Setting::Metrics,
                "vmaf",
                "vmaf asked for without a model",
            ));
        }
        if !(cfg.metrics.vmaf || cfg.metrics.psnr || cfg.metrics.ssim) {
            return Err(Error::setting(Setting::Metrics, "", "no metric selected"));
        }
        let model = if cfg.metrics.vmaf { model } else { None };
        let (mut vif_egls, mut adm_params, mut force_zero) = (Vec::new(), Vec::new(), false);
        if let Some(m) = &model {
            if cfg.phone && !m.has_transform() {
                return Err(Error::model(
                    &m.name,
                    "has no score_transform, so the phone transform cannot apply",
                ));
            }
            for f in &m.features {
                match f.kind {
                    FeatureKind::Vif {
                        enhn_gain_limit, ..
                    } => {
                        push_distinct(&mut vif_egls, enhn_gain_limit);
                    }
                    FeatureKind::Adm2 { enhn_gain_limit } => {
                        push_distinct(
                            &mut adm_params,
                            AdmParams {
                                enhn_gain_limit,
                                ..AdmParams::default()
                            },
                        );
                    }
                    FeatureKind::Motion2 { force_zero: z } => force_zero |= z,
                }
            }
        }
        let pool = if cfg.threads > 0 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(cfg.threads)
                    .build()
                    .map_err(|e| {
                        Error::setting(Setting::Threads, cfg.threads.to_string(), e.to_string())
                    })?,
            )
        } else {
            None
        };
        Ok(Engine {
            cfg,
            model: model.map(Arc::new),
            vif_egls,
            adm_params,
            motion_force_zero: force_zero,
            pool,
            kernels: kernels::Kernels::for_level(CpuLevel::get()),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// Which kernel set each metric runs (read-only; `PERTITLE_CPU` caps the level).
    pub fn kernel_levels(&self) -> KernelLevels {
        self.kernels.levels()
    }

    /// Runs `f` in the engine's thread pool (rayon's global pool if `threads` is 0).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn check_format(fmt: &FrameFormat, what: &str) -> Result<()> {
        if !(8..=16).contains(&fmt.bit_depth) {
            return Err(Error::unsupported(
                what,
                format!("bit depth {} is not supported (8 to 16)", fmt.bit_depth),
            ));
        }
        if fmt.width < vif::MIN_SIZE || fmt.height < vif::MIN_SIZE {
            return Err(Error::unsupported(
                what,
                format!(
                    "{}x{} is too small to score (at least {}x{})",
                    fmt.width,
                    fmt.height,
                    vif::MIN_SIZE,
                    vif::MIN_SIZE
                ),
            ));
        }
        Ok(())
    }

    /// The reference-side work of one frame that needs no neighbour (parallel-safe).
    pub fn prepare(&self, frame: Frame) -> Result<RefFrame> {
        let parts = self.prepare_parts(&frame)?;
        Ok(RefFrame { frame, parts })
    }

    fn prepare_parts(&self, frame: &Frame) -> Result<RefParts> {
        Engine::check_format(&frame.format, &format!("reference frame {}", frame.index))?;
        let bd = frame.format.bit_depth;
        let luma = frame.luma();
        let vmaf = self.model.is_some();
        let k = &self.kernels;
        let ((vif, adm), ssim) = rayon::join(
            || {
                rayon::join(
                    || vmaf.then(|| vif::VifRef::with_kernels(luma, bd, &k.vif)),
                    || {
                        (vmaf && !self.adm_params.is_empty())
                            .then(|| AdmRef::with_kernels(luma, bd, &k.adm))
                    },
                )
            },
            || {
                let ssim = self.cfg.metrics.ssim;
                ssim.then(|| ssim::SsimRef::with_kernels(&k.ssim, luma, bd))
            },
        );
        Ok(RefParts { vif, adm, ssim })
    }

    /// A streaming preparer for one reference video.
    pub fn ref_preparer(&self) -> RefPreparer<'_> {
        RefPreparer {
            engine: self,
            pending: None,
        }
    }

    /// Everything computed from the distorted frame (parallel-safe).
    fn dist_features(&self, rframe: &Frame, r: &RefParts, dist: &Frame) -> Result<DistFeatures> {
        let rf = &rframe.format;
        let df = &dist.format;
        if rf != df {
            return Err(Error::Mismatch(format!(
                "distorted frame {} is {}x{} {:?} {}-bit but the reference is {}x{} {:?} {}-bit",
                dist.index,
                df.width,
                df.height,
                df.chroma,
                df.bit_depth,
                rf.width,
                rf.height,
                rf.chroma,
                rf.bit_depth
            )));
        }
        let bd = rf.bit_depth;
        let luma = dist.luma();
        let k = &self.kernels;
        let ((vif, adm), (psnr, ssim)) = rayon::join(
            || {
                rayon::join(
                    || match &r.vif {
                        Some(vr) => self
                            .vif_egls
                            .iter()
                            .map(|&e| vif::score_with_kernels(vr, luma, e, &k.vif))
                            .collect(),
                        None => Vec::new(),
                    },
                    || match &r.adm {
                        Some(ar) => self
                            .adm_params
                            .iter()
                            .map(|p| adm::score_with_kernels(&k.adm, ar, luma, bd, p))
                            .collect(),
                        None => Vec::new(),
                    },
                )
            },
            || {
                rayon::join(
                    || {
                        let psnr = self.cfg.metrics.psnr;
                        psnr.then(|| psnr::psnr_with_kernels(&k.psnr, rframe, dist))
                    },
                    || {
                        let sr = r.ssim.as_ref();
                        sr.map(|sr| ssim::score_with_kernels(&k.ssim, sr, luma, bd))
                    },
                )
            },
        );
        Ok(DistFeatures {
            vif,
            adm,
            psnr: psnr.transpose()?,
            ssim,
        })
    }

    /// Everything for one (reference, distorted) pair when the reference is used only once:
    /// VIF takes its fused path (reference statistics never stored), the rest as
    /// [`Engine::prepare`] + [`Engine::score`] would compute them.
    fn pair_features(&self, rframe: &Frame, dist: &Frame) -> Result<DistFeatures> {
        if self.vif_egls.len() != 1 {
            let parts = self.prepare_parts(rframe)?;
            return self.dist_features(rframe, &parts, dist);
        }
        Engine::check_format(&rframe.format, &format!("reference frame {}", rframe.index))?;
        let none = RefParts::default();
        let bd = rframe.format.bit_depth;
        let (rl, dl) = (rframe.luma(), dist.luma());
        let egl = self.vif_egls[0];
        let k = &self.kernels;
        let (vif, rest) = rayon::join(
            || {
                (rframe.format == dist.format)
                    .then(|| vif::score_pair_with_kernels(rl, dl, bd, egl, &k.vif))
            },
            || -> Result<DistFeatures> {
                let (adm, ssim) = rayon::join(
                    || (!self.adm_params.is_empty()).then(|| AdmRef::with_kernels(rl, bd, &k.adm)),
                    || {
                        let ssim = self.cfg.metrics.ssim;
                        ssim.then(|| ssim::SsimRef::with_kernels(&k.ssim, rl, bd))
                    },
                );
                let parts = RefParts { adm, ssim, ..none };
                self.dist_features(rframe, &parts, dist)
            },
        );
        let mut d = rest?;
        d.vif = vif.into_iter().collect();
        Ok(d)
    }

    /// Combines distorted-side features with the reference's motion into the frame's scores.
    fn finish_frame(&self, index: u64, d: DistFeatures, sad: f64, m2: f64) -> FrameScores {
        let mut out = FrameScores {
            index,
            psnr_y: d.psnr.map(|p| p[0]),
            psnr_cb: d.psnr.map(|p| p[1]),
            psnr_cr: d.psnr.map(|p| p[2]),
            ssim: d.ssim,
            ..FrameScores::default()
        };
        let Some(model) = &self.model else {
            return out;
        };
        let (sad, m2) = if self.motion_force_zero {
            (0.0, 0.0)
        } else {
            (sad, m2)
        };
        let mut feats = VmafFeatures {
            motion: sad,
            motion2: m2,
            ..VmafFeatures::default()
        };
        let raw: Vec<f64> = model
            .features
            .iter()
            .map(|f| match f.kind {
                FeatureKind::Adm2 { enhn_gain_limit } => {
                    let i = self
                        .adm_params
                        .iter()
                        .position(|p| p.enhn_gain_limit == enhn_gain_limit)
                        .unwrap_or(0);
                    feats.adm2 = d.adm[i].adm2;
                    feats.adm_scales = d.adm[i].scales;
                    d.adm[i].adm2
                }
                FeatureKind::Motion2 { .. } => m2,
                FeatureKind::Vif {
                    scale,
                    enhn_gain_limit,
                } => {
                    let i = self
                        .vif_egls
                        .iter()
                        .position(|&e| e == enhn_gain_limit)
                        .unwrap_or(0);
                    feats.vif_scales[scale] = d.vif[i].scales[scale];
                    d.vif[i].scales[scale]
                }
            })
            .collect();
        out.vmaf = Some(model.predict(&raw, self.cfg.phone));
        out.features = Some(feats);
        out
    }

    /// Scores one distorted frame against a prepared reference frame.
    pub fn score(&self, r: &PreparedRef, dist: &Frame) -> Result<FrameScores> {
        let d = self.dist_features(&r.inner.frame, &r.inner.parts, dist)?;
        Ok(self.finish_frame(r.index(), d, r.motion, r.motion2))
    }
}

/// Turns reference frames, in display order, into [`PreparedRef`]s. A frame is yielded when the
/// next one arrives (its motion2 needs the next frame's motion) or at [`RefPreparer::finish`].
pub struct RefPreparer<'e> {
    engine: &'e Engine,
    /// The last frame, waiting for its successor: (frame, its motion, first of the stream).
    pending: Option<(RefFrame, f64, bool)>,
}

impl RefPreparer<'_> {
    /// Prepares and adds the next reference frame.
    pub fn push(&mut self, frame: Frame) -> Result<Option<PreparedRef>> {
        let engine = self.engine;
        let prev = self.pending.as_ref().map(|(p, _, _)| p.frame.luma());
        let (parts, sad) = engine.install(|| {
            rayon::join(
                || engine.prepare_parts(&frame),
                || prev.map(|p| engine.frame_motion(p, frame.luma(), frame.format.bit_depth)),
            )
        });
        let parts = parts?;
        let sad = sad.transpose()?;
        self.push_prepared_with_motion(RefFrame { frame, parts }, sad)
    }

    /// Adds a frame prepared elsewhere (e.g. in parallel with [`Engine::prepare`]).
    pub fn push_prepared(&mut self, r: RefFrame) -> Result<Option<PreparedRef>> {
        let sad = match &self.pending {
            Some((p, _, _)) => Some(self.engine.frame_motion(
                p.frame.luma(),
                r.frame.luma(),
                r.frame.format.bit_depth,
            )?),
            None => None,
        };
        self.push_prepared_with_motion(r, sad)
    }

    fn push_prepared_with_motion(
        &mut self,
        r: RefFrame,
        sad: Option<f64>,
    ) -> Result<Option<PreparedRef>> {
        let first = sad.is_none();
        let sad = sad.unwrap_or(0.0);
        let out = self.pending.take().map(|(p, psad, pfirst)| {
            let m2 = motion::motion2(pfirst, psad, Some(sad));
            PreparedRef {
                inner: p,
                motion: psad,
                motion2: m2,
            }
        });
        self.pending = Some((r, sad, first));
        Ok(out)
    }

    /// Ends the stream: yields the last frame (motion2 = its own motion, libvmaf's last-frame
    /// rule).
    pub fn finish(&mut self) -> Option<PreparedRef> {
        self.pending.take().map(|(p, sad, first)| PreparedRef {
            motion2: motion::motion2(first, sad, None),
            motion: sad,
            inner: p,
        })
    }
}

impl Engine {
    fn frame_motion(&self, prev: &Plane, cur: &Plane, bd: u8) -> Result<f64> {
        if (prev.width, prev.height) != (cur.width, cur.height) {
            return Err(Error::Mismatch(format!(
                "reference frames change size: {}x{} then {}x{}",
                prev.width, prev.height, cur.width, cur.height
            )));
        }
        Ok(motion::sad_score_with_kernels(
            &self.kernels.motion,
            prev,
            cur,
            bd,
        ))
    }
}

/// Per-frame scores of a whole video pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoScores {
    pub frames: Vec<FrameScores>,
}

impl VideoScores {
    /// Per-frame VMAF values (frames without VMAF are skipped).
    pub fn vmaf(&self) -> Vec<f64> {
        self.frames.iter().filter_map(|f| f.vmaf).collect()
    }

    /// Arithmetic mean of the per-frame VMAF (libvmaf's `mean` pooling).
    pub fn mean_vmaf(&self) -> Option<f64> {
        let v = self.vmaf();
        (!v.is_empty()).then(|| pooling::mean(&v))
    }

    /// Per-frame values of a metric by its libvmaf name: `vmaf`, `psnr_y`, `psnr_cb`,
    /// `psnr_cr`, `float_ssim` (or `ssim`), `integer_adm2`, `integer_motion2`,
    /// `integer_vif_scale0..3`. Frames without the metric are skipped.
    pub fn values(&self, metric: &str) -> Vec<f64> {
        self.frames.iter().filter_map(|f| f.get(metric)).collect()
    }

    /// Pooled statistics of a metric (None if no frame has it).
    pub fn pooled(&self, metric: &str) -> Option<Pooled> {
        let v = self.values(metric);
        (!v.is_empty()).then(|| pooling::pool(&v))
    }
}

/// Progress callback: frames scored so far; return `false` to cancel.
pub type Progress<'a> = Box<dyn FnMut(u64) -> bool + Send + 'a>;

/// One frame of the current batch after the parallel step.
struct Done {
    index: u64,
    /// First frame of the stream (motion2 = 0).
    first: bool,
    dist: DistFeatures,
    sad: f64,
}

/// Scores a (reference, distorted) stream pair. Frames are pushed in display order; they are
/// processed in batches of `batch` pairs in parallel, so at most `batch` frame pairs (plus one
/// reference luma for motion) are held.
pub struct VideoScorer<'e> {
    engine: &'e Engine,
    batch: usize,
    queue: Vec<(Frame, Frame)>,
    prev_luma: Option<(Plane, u8)>,
    /// The previous batch's last frame, waiting for the next frame's motion.
    carry: Option<Done>,
    out: Vec<FrameScores>,
    progress: Option<Progress<'e>>,
    done: u64,
}

impl<'e> VideoScorer<'e> {
    pub fn new(engine: &'e Engine) -> Self {
        let threads = match engine.cfg.threads {
            0 => rayon::current_num_threads(),
            n => n,
        };
        VideoScorer {
            engine,
            batch: (2 * threads).max(2),
            queue: Vec::new(),
            prev_luma: None,
            carry: None,
            out: Vec::new(),
            progress: None,
            done: 0,
        }
    }

    /// Frame pairs held and scored together (≥ 1).
    pub fn with_batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    pub fn with_progress(mut self, f: impl FnMut(u64) -> bool + Send + 'e) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    pub fn push(&mut self, reference: Frame, distorted: Frame) -> Result<()> {
        self.queue.push((reference, distorted));
        if self.queue.len() >= self.batch {
            self.run_batch()?;
        }
        Ok(())
    }

    fn run_batch(&mut self) -> Result<()> {
        if self.queue.is_empty() {
            return Ok(());
        }
        let queue = std::mem::take(&mut self.queue);
        let engine = self.engine;
        let prev = self.prev_luma.take();
        let results: Vec<Result<Done>> = engine.install(|| {
            queue
                .par_iter()
                .enumerate()
                .map(|(i, (r, d))| {
                    let prev_luma = if i == 0 {
                        prev.as_ref().map(|(p, _)| p)
                    } else {
                        Some(queue[i - 1].0.luma())
                    };
                    let sad = match (prev_luma, engine.model.is_some()) {
                        (Some(p), true) => engine.frame_motion(p, r.luma(), r.format.bit_depth)?,
                        _ => 0.0,
                    };
                    let dist = engine.pair_features(r, d)?;
                    Ok(Done {
                        index: r.index,
                        first: i == 0 && prev.is_none(),
                        dist,
                        sad,
                    })
                })
                .collect()
        });
        if let Some((r, _)) = queue.last() {
            self.prev_luma = Some((r.planes[0].clone(), r.format.bit_depth));
        }
        drop(queue);
        for res in results {
            let d = res?;
            if let Some(c) = self.carry.take() {
                let m2 = motion::motion2(c.first, c.sad, Some(d.sad));
                let fs = engine.finish_frame(c.index, c.dist, c.sad, m2);
                self.out.push(fs);
            }
            self.carry = Some(d);
        }
        self.done = self.out.len() as u64;
        if let Some(p) = &mut self.progress {
            if !p(self.done) {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }

    /// Scores what is left and returns every frame's scores.
    pub fn finish(mut self) -> Result<VideoScores> {
        self.run_batch()?;
        if let Some(c) = self.carry.take() {
            let m2 = motion::motion2(c.first, c.sad, None);
            let fs = self.engine.finish_frame(c.index, c.dist, c.sad, m2);
            self.out.push(fs);
        }
        if let Some(p) = &mut self.progress {
            if !p(self.out.len() as u64) {
                return Err(Error::Cancelled);
            }
        }
        Ok(VideoScores { frames: self.out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<PreparedRef>();
        assert_send_sync::<Arc<PreparedRef>>();
    }

    #[test]
    fn engine_runs_the_tables_of_the_capped_level() {
        let e = Engine::new(EngineConfig::default()).unwrap();
        let want = kernels::Kernels::for_level(CpuLevel::get()).levels();
        assert_eq!(e.kernel_levels(), want);
    }

    #[test]
    fn unknown_model_and_unavailable_metrics_are_errors() {
        let e = Engine::new(EngineConfig {
            model: "vmaf_v9".into(),
            ..EngineConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("vmaf_v9"), "{e}");
    }
}
