//! The grid: one independent task per (resolution, rate) point of a title.
//!
//! A [`GridTask`] is self-contained and serializable: everything that determines a point's
//! bitstream and scores (source content, filters, encoder and its options, rate control, quality
//! engine and model) and nothing that does not (file paths, thread counts of the scorer, ladder
//! constraints). Its [`GridTask::key`] is a content address, so a finished [`TaskResult`] can be
//! kept in the [`crate::store`] and reused by any later run — or computed on another machine.
//!
//! The source's identity in a key is its [`Fingerprinter`] hash of the decoded frames, so a
//! renamed or remuxed file keeps its cached points.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::frame::{Chroma, Frame, Samples};
pub use crate::media::RateControl;
use crate::media::ScalerKind;
use crate::points::{Point, Series, SourceIdentity};
use crate::{Error, Result};

/// Version of the canonical form hashed by [`GridTask::key`]. Changing it (or the canonical
/// form, or any field of [`GridTask`]) gives every task a new key: all cached points are then
/// recomputed, never wrongly reused.
pub const TASK_KEY_SCHEMA: u32 = 1;

/// Lowercase hex SHA-256 of `bytes` (model files, canonical forms).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Which source frames a task uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSelection {
    /// First source frame (display order, from 0).
    pub start: u64,
    /// Number of frames from `start`; `None` = to the end of the title.
    pub count: Option<u64>,
    /// Score every `subsample`-th encoded frame (1 = all); every selected frame is encoded.
    pub subsample: u32,
}

impl Default for FrameSelection {
    fn default() -> Self {
        FrameSelection {
            start: 0,
            count: None,
            subsample: 1,
        }
    }
}

/// The picture path around the encoder: downscale to the grid size, and after decoding upscale
/// back to the source size for scoring (VMAF's published practice: bicubic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Encoded size.
    pub width: u32,
    pub height: u32,
    /// swscale algorithms, serialized by name (`bicubic`, `lanczos`, ...).
    pub downscaler: ScalerKind,
    pub upscaler: ScalerKind,
    pub frames: FrameSelection,
    /// Output frame rate as (num, den) if the recipe resamples it; `None` = the source's.
    pub fps: Option<(u32, u32)>,
}

/// The encoder and every option handed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderSettings {
    /// libavcodec encoder name, e.g. `libx264`.
    pub codec: String,
    pub preset: Option<String>,
    /// Pixel format fed to the encoder (e.g. `yuv420p`); `None` = the source's.
    pub pix_fmt: Option<String>,
    /// Every other AVOption (profile, tune, x264-params, threads if it changes the bitstream,
    /// ...), sorted by name by the map itself. Values are kept verbatim: `a=1:b=2` and
    /// `b=2:a=1` are different tasks (a spurious miss, never a wrong hit).
    pub options: BTreeMap<String, String>,
    /// Identification of the encoder library build when the media layer can tell (e.g.
    /// libavcodec's and x264's versions), since another build may give other bitstreams; empty if
    /// unknown.
    pub build: String,
}

/// The quality engine that scored the point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSettings {
    /// pertitle version: a new release may compute scores differently, so it re-scores.
    pub version: String,
    /// Model name (`vmaf_v0.6.1`) or the file name of a model loaded by path.
    pub model: String,
    /// SHA-256 of the model JSON's bytes, so an edited model file is a different task.
    pub model_sha256: String,
    /// The phone model's `score_transform` applied.
    pub phone: bool,
    /// Metrics computed (`vmaf`, `psnr`, `ssim`, ...); order and duplicates do not matter.
    pub metrics: Vec<String>,
}

impl EngineSettings {
    /// Settings for this pertitle version and a model given by name and JSON content.
    pub fn new(model: &str, model_json: &[u8], phone: bool, metrics: &[&str]) -> Self {
        EngineSettings {
            version: crate::VERSION.to_string(),
            model: model.to_string(),
            model_sha256: sha256_hex(model_json),
            phone,
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// One grid point to compute: a self-contained, serializable, content-addressed task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridTask {
    /// The source. Only its content (fingerprint, size, rate, frame count) enters the key; its
    /// path is kept for provenance only.
    pub source: SourceIdentity,
    pub filters: Filters,
    pub encoder: EncoderSettings,
    pub rate: RateControl,
    pub engine: EngineSettings,
}

impl GridTask {
    /// Checks the values a task cannot be computed with; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let fp = &self.source.fingerprint;
        if fp.is_empty() || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::config(
                "source.fingerprint",
                format!("'{fp}' is not a hex content hash"),
            ));
        }
        if self.filters.width == 0 || self.filters.height == 0 {
            return Err(Error::config(
                "size",
                format!("{}x{} is empty", self.filters.width, self.filters.height),
            ));
        }
        if self.filters.frames.subsample == 0 {
            return Err(Error::config("subsample", "must be at least 1"));
        }
        if self.encoder.codec.trim().is_empty() {
            return Err(Error::config("codec", "empty encoder name"));
        }
        if let Some(crf) = self.rate.crf() {
            if !crf.is_finite() {
                return Err(Error::config("crf", format!("{crf} is not a number")));
            }
        }
        Ok(())
    }

    /// The canonical form hashed by [`GridTask::key`], compact JSON:
    ///
    /// - the task serialized with serde into a JSON tree, plus `"schema": TASK_KEY_SCHEMA`;
    /// - `source.path` removed (renaming a file keeps its key);
    /// - `engine.metrics` sorted and deduplicated (a set);
    /// - object keys written in byte order at every level (independent of field declaration
    ///   order and of serde_json's map features), no whitespace;
    /// - numbers: integral floats with |x| < 2^53 written as integers (`24.0` → `24`, `-0.0` →
    ///   `0`), other floats in Rust's shortest round-trip form; non-finite floats (rejected by
    ///   [`GridTask::validate`]) become `null`;
    /// - strings escaped as serde_json escapes them.
    ///
    /// Any new field of the task enters the key automatically (a conservative miss, never a
    /// wrong hit).
    pub fn canonical(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(top) = &mut v {
            top.insert("schema".into(), Value::from(TASK_KEY_SCHEMA));
            if let Some(Value::Object(src)) = top.get_mut("source") {
                src.remove("path");
            }
            if let Some(Value::Object(engine)) = top.get_mut("engine") {
                if let Some(Value::Array(metrics)) = engine.get_mut("metrics") {
                    let mut names: Vec<String> = metrics
                        .iter()
                        .map(|m| m.as_str().unwrap_or_default().to_string())
                        .collect();
                    names.sort();
                    names.dedup();
                    *metrics = names.into_iter().map(Value::String).collect();
                }
            }
        }
        let mut out = String::new();
        write_canonical(&v, &mut out);
        out
    }

    /// Hex SHA-256 of [`GridTask::canonical`]: the task's content address and store key.
    pub fn key(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

/// Writes `v` as compact JSON with sorted object keys and normalised numbers (see
/// [`GridTask::canonical`]).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() {
                    out.push_str("null");
                } else if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    out.push_str(&(f as i64).to_string());
                } else {
                    out.push_str(&format!("{f:?}"));
                }
            }
        }
        Value::String(s) => {
            out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into()));
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// Wall-clock costs of a task. Informational only: they differ run to run, so they live in the
/// store entry and may be shown in progress or `-v` output, but never enter `points.json`,
/// `ladder.toml` or any other output that must be byte-identical between runs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    pub encode_s: f64,
    pub decode_s: f64,
    pub score_s: f64,
    pub total_s: f64,
}

/// What a finished grid point stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task that produced it (provenance; its key is re-derived and checked on load).
    pub task: GridTask,
    /// Bitrate and pooled scores; `point.key` is the task's key.
    pub point: Point,
    /// Exact bitstream size of each encoded frame (packet order), summing to `point.bytes`.
    pub frame_bytes: Vec<u64>,
    /// Source frame index (display order) of each scored frame.
    pub scored_frames: Vec<u64>,
    /// Per-frame scores by series, one value per entry of `scored_frames`.
    pub scores: BTreeMap<Series, Vec<f64>>,
    /// Not deterministic; see [`Timings`].
    pub timings: Timings,
    /// A title result assembled from chunk tasks ([`crate::chunks::assemble`]): its chunks in
    /// order. Empty for a task computed as one (every stored entry), so stored entries are
    /// unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
}

/// One chunk of an assembled title result: its frames, weight (1 unless sampled) and task key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub start: u64,
    pub frames: u64,
    pub weight: f64,
    pub key: String,
}

impl TaskResult {
    /// The store key (the task's content address); for an assembled title result, the key of
    /// its chunks ([`crate::chunks::assembly_key`]).
    pub fn key(&self) -> String {
        if self.chunks.is_empty() {
            self.task.key()
        } else {
            crate::chunks::assembly_key(&self.chunks)
        }
    }

    /// Checks internal consistency before the result is stored or trusted; errors name the key.
    pub fn check(&self) -> Result<()> {
        let key = self.key();
        let bad = |m: String| Err(Error::data(format!("store entry {key}"), m));
        if !self.point.key.is_empty() && self.point.key != key {
            return bad(format!(
                "point.key {} is not the task's key",
                self.point.key
            ));
        }
        let sum: u64 = self.frame_bytes.iter().sum();
        if !self.frame_bytes.is_empty() && sum != self.point.bytes {
            return bad(format!(
                "frame sizes sum to {sum} bytes, point says {}",
                self.point.bytes
            ));
        }
        for (metric, v) in &self.scores {
            if v.len() != self.scored_frames.len() {
                return bad(format!(
                    "{metric} has {} scores for {} scored frames",
                    v.len(),
                    self.scored_frames.len()
                ));
            }
        }
        Ok(())
    }
}

/// Content fingerprint of a source: SHA-256 over the decoded frames, fed in display order.
///
/// Two levels, so the expensive part can run on any thread (e.g. beside the scorer, off the
/// decode thread): each frame's digest [`Fingerprinter::frame_digest`] = SHA-256 of `F`, width
/// and height as u64 LE, chroma code (gray 0, 4:2:0 1, 4:2:2 2, 4:4:4 3), bit depth, then the
/// planes' samples — one byte per sample for bit depths ≤ 8 (the frame contract keeps them
/// < 256), two bytes LE otherwise. The fingerprint = SHA-256 of the tag
/// `pertitle-source-fingerprint/1`, the frame digests in order, `E` and the frame count as u64 LE.
/// Container, timestamps and file name do not enter, so a remuxed or renamed file keeps its
/// cache.
///
/// Cost: one SHA-256 pass over 1.5 bytes per pixel (8-bit 4:2:0); measured 1.1–1.3× the bare
/// SHA-256 time over the same bytes (`fingerprint_throughput`: ~3.3 ms per 1080p frame on one
/// loaded core of the build machine, SHA-NI) — comparable to a decode, hence the per-frame
/// digests that let the caller spread it over threads.
pub struct Fingerprinter {
    hasher: Sha256,
    frames: u64,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Self::new()
    }
}

impl Fingerprinter {
    const TAG: &'static [u8] = b"pertitle-source-fingerprint/1";
    /// Samples narrowed per hasher call (bounded stack scratch that amortises the call).
    const CHUNK: usize = 8192;

    pub fn new() -> Self {
        let mut hasher = Sha256::new();
        hasher.update(Self::TAG);
        Fingerprinter { hasher, frames: 0 }
    }

    /// The digest of one frame's format and samples (pure; call it on any thread and feed the
    /// results in display order to [`Fingerprinter::push_digest`]).
    pub fn frame_digest(frame: &Frame) -> [u8; 32] {
        let f = &frame.format;
        let chroma = match f.chroma {
            Chroma::Gray => 0u8,
            Chroma::Yuv420 => 1,
            Chroma::Yuv422 => 2,
            Chroma::Yuv444 => 3,
        };
        let mut h = Sha256::new();
        h.update(b"F");
        h.update((f.width as u64).to_le_bytes());
        h.update((f.height as u64).to_le_bytes());
        h.update([chroma, f.bit_depth]);
        // The samples' bytes: 8-bit frames as one byte each, deeper ones as two (little-endian).
        let wide = f.bit_depth > 8;
        let mut buf = [0u8; Self::CHUNK * 2];
        for plane in &frame.planes {
            match &plane.samples {
                Samples::U8(v) if !wide => h.update(v),
                samples => {
                    let all = samples.wide();
                    for chunk in all.chunks(Self::CHUNK) {
                        let n = if wide {
                            for (d, s) in buf.chunks_exact_mut(2).zip(chunk) {
                                d.copy_from_slice(&s.to_le_bytes());
                            }
                            chunk.len() * 2
                        } else {
                            for (d, &s) in buf.iter_mut().zip(chunk) {
                                *d = s as u8;
                            }
                            chunk.len()
                        };
                        h.update(&buf[..n]);
                    }
                }
            }
        }
        h.finalize().into()
    }

    /// Adds the next frame's digest (display order).
    pub fn push_digest(&mut self, digest: &[u8; 32]) {
        self.hasher.update(digest);
        self.frames += 1;
    }

    /// Adds the next frame (display order).
    pub fn update(&mut self, frame: &Frame) {
        let d = Self::frame_digest(frame);
        self.push_digest(&d);
    }

    /// Frames fed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The fingerprint, lowercase hex.
    pub fn finish(mut self) -> String {
        self.hasher.update(b"E");
        self.hasher.update(self.frames.to_le_bytes());
        hex(&self.hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameFormat;

    pub(crate) fn task() -> GridTask {
        GridTask {
            source: SourceIdentity {
                path: "/titles/demo.mp4".into(),
                width: 1280,
                height: 720,
                fps_num: 30,
                fps_den: 1,
                frames: 132,
                fingerprint: "ab".repeat(32),
            },
            filters: Filters {
                width: 960,
                height: 540,
                downscaler: ScalerKind::Bicubic,
                upscaler: ScalerKind::Bicubic,
                frames: FrameSelection::default(),
                fps: None,
            },
            encoder: EncoderSettings {
                codec: "libx264".into(),
                preset: Some("medium".into()),
                pix_fmt: Some("yuv420p".into()),
                options: [("threads", "1"), ("x264-params", "keyint=60")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                build: String::new(),
            },
            rate: RateControl::Crf { crf: 24.0 },
            engine: EngineSettings {
                version: "0.1.0".into(),
                model: "vmaf_v0.6.1".into(),
                model_sha256: sha256_hex(b"{}"),
                phone: false,
                metrics: vec!["vmaf".into(), "psnr".into(), "ssim".into()],
            },
        }
    }

    #[test]
    fn canonical_form_is_sorted_pathless_and_normalised() {
        let c = task().canonical();
        assert!(!c.contains("demo.mp4"), "{c}");
        assert!(c.contains(r#""rate":{"crf":24,"mode":"crf"}"#), "{c}");
        assert!(c.contains(r#""metrics":["psnr","ssim","vmaf"]"#), "{c}");
        assert!(c.starts_with(r#"{"encoder":"#), "{c}");
        assert!(c.contains(r#""schema":1"#), "{c}");
        // Metric order and duplicates, and integral float spelling, do not matter.
        let mut t = task();
        t.engine.metrics = vec!["vmaf".into(), "ssim".into(), "psnr".into(), "vmaf".into()];
        assert_eq!(t.key(), task().key());
        t.rate = RateControl::Crf { crf: 24.5 };
        assert!(t.canonical().contains(r#""crf":24.5"#));
        t.rate = RateControl::Crf { crf: -0.0 };
        let mut z = task();
        z.rate = RateControl::Crf { crf: 0.0 };
        assert_eq!(t.key(), z.key());
        // An uncapped bitrate has no VBV fields in the key.
        t.rate = RateControl::Bitrate {
            kbps: 900,
            maxrate_kbps: None,
            bufsize_kbits: None,
        };
        assert!(t
            .canonical()
            .contains(r#""rate":{"kbps":900,"mode":"bitrate"}"#));
    }

    #[test]
    fn validate_names_the_field() {
        let mut t = task();
        assert!(t.validate().is_ok());
        t.rate = RateControl::Crf { crf: f64::NAN };
        assert!(t.validate().unwrap_err().to_string().starts_with("crf"));
        let mut t = task();
        t.source.fingerprint = "not hex!".into();
        let e = t.validate().unwrap_err().to_string();
        assert!(
            e.contains("source.fingerprint") && e.contains("not hex!"),
            "{e}"
        );
        let mut t = task();
        t.filters.frames.subsample = 0;
        assert!(t.validate().unwrap_err().to_string().contains("subsample"));
    }

    fn frame(format: FrameFormat, seed: u16) -> Frame {
        let mut f = Frame::new(format, 0);
        let max = format.max_value();
        for (p, plane) in f.planes.iter_mut().enumerate() {
            plane.samples.update(|i, _| {
                ((i as u32 * 31 + p as u32 * 7 + seed as u32) % (max as u32 + 1)) as u16
            });
        }
        f
    }

    fn fp(frames: &[Frame]) -> String {
        let mut h = Fingerprinter::new();
        for f in frames {
            h.update(f);
        }
        assert_eq!(h.frames(), frames.len() as u64);
        h.finish()
    }

    #[test]
    fn fingerprint_sees_content_order_format_and_count() {
        let f8 = FrameFormat::new(33, 17, Chroma::Yuv420, 8);
        let a = frame(f8, 1);
        let b = frame(f8, 2);
        let base = fp(&[a.clone(), b.clone()]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, fp(&[a.clone(), b.clone()]));
        assert_ne!(base, fp(&[b.clone(), a.clone()]));
        assert_ne!(base, fp(std::slice::from_ref(&a)));
        assert_ne!(base, fp(&[a.clone(), b.clone(), b.clone()]));
        let mut c = b.clone();
        let v = c.planes[2].get(5, 0);
        c.planes[2].set(5, 0, v ^ 1);
        assert_ne!(base, fp(&[a.clone(), c]));
        // How the samples are stored does not matter.
        let wide = |f: &Frame| Frame {
            planes: f.planes.iter().map(crate::frame::Plane::to_wide).collect(),
            ..f.clone()
        };
        assert_eq!(base, fp(&[wide(&a), b.clone()]));
        // The same sample values declared 10-bit are another source.
        let mut a10 = a.clone();
        a10.format.bit_depth = 10;
        let mut b10 = b.clone();
        b10.format.bit_depth = 10;
        assert_ne!(base, fp(&[a10, b10]));
        // Frame index (a timestamp-like property) does not matter.
        let mut a2 = a.clone();
        a2.index = 99;
        assert_eq!(base, fp(&[a2, b]));
    }

    /// Independent reference for the documented byte layout.
    #[test]
    fn fingerprint_matches_documented_layout() {
        let f10 = FrameFormat::new(4, 2, Chroma::Gray, 10);
        let f = frame(f10, 3);
        let mut frame_bytes = b"F".to_vec();
        frame_bytes.extend(4u64.to_le_bytes());
        frame_bytes.extend(2u64.to_le_bytes());
        frame_bytes.extend([0u8, 10]);
        for s in f.planes[0].samples.iter() {
            frame_bytes.extend(s.to_le_bytes());
        }
        let digest = Sha256::digest(&frame_bytes);
        let mut bytes = b"pertitle-source-fingerprint/1".to_vec();
        bytes.extend(digest);
        bytes.extend(digest);
        bytes.push(b'E');
        bytes.extend(2u64.to_le_bytes());
        assert_eq!(fp(&[f.clone(), f.clone()]), sha256_hex(&bytes));
        // Digests computed elsewhere (other threads) give the same fingerprint.
        let mut h = Fingerprinter::new();
        let d = Fingerprinter::frame_digest(&f);
        h.push_digest(&d);
        h.push_digest(&d);
        assert_eq!(h.finish(), sha256_hex(&bytes));
    }

    /// Throughput figure, not an assertion: `cargo test --release --lib
    /// fingerprint_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn fingerprint_throughput() {
        let f = frame(FrameFormat::new(1920, 1080, Chroma::Yuv420, 8), 5);
        let n = 120;
        let t = std::time::Instant::now();
        let mut h = Fingerprinter::new();
        for _ in 0..n {
            h.update(&f);
        }
        let _ = h.finish();
        let s = t.elapsed().as_secs_f64();
        // The floor: SHA-256 alone over the same bytes, already narrowed to u8.
        let bytes: Vec<u8> = f
            .planes
            .iter()
            .flat_map(|p| p.samples.iter().map(|v| v as u8))
            .collect();
        let t = std::time::Instant::now();
        let mut sha = Sha256::new();
        for _ in 0..n {
            sha.update(&bytes);
        }
        let _ = sha.finalize();
        let floor = t.elapsed().as_secs_f64();
        println!(
            "fingerprint 1080p 8-bit 4:2:0: {:.0} frames/s ({:.2} ms/frame); SHA-256 alone {:.2} ms/frame; ratio {:.2}",
            n as f64 / s,
            s * 1e3 / n as f64,
            floor * 1e3 / n as f64,
            s / floor
        );
    }
}
