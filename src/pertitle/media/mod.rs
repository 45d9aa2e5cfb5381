//! Media layer: the only code that touches FFmpeg (through `ffmpeg-next`).
//!
//! * Reading: [`open`] / [`probe`] any file FFmpeg demuxes, plus our own `.y4m` and raw `.yuv`
//!   readers, streaming frame by frame ([`FrameSource`], O(1) frames held).
//! * Scaling: [`Scaler`] (swscale; bicubic by default, as VMAF's upscaling convention).
//! * Encoding / decoding: [`Encoder`] (any libavcodec encoder by name, exact bytes per packet) and
//!   [`Decoder`] (back to frames, in-process), [`StreamWriter`] to keep a stream as mp4/mkv/ivf.
//! * Synthetic content: [`demo_clip`] and [`lavfi_source`] (libavfilter sources, deterministic).
//!
//! Frames are always [`crate::Frame`] (planar, 8-bit in bytes or 10-bit in u16,
//! gray/4:2:0/4:2:2/4:4:4).
//! FFmpeg's own logging is silenced ([`init`]); every failure comes back as a typed
//! [`crate::Error`] naming the file, codec or option.
//!
//! One grid point, end to end:
//!
//! ```no_run
//! use pertitle::media::{self, Decoder, Encoder, EncoderConfig, Scaler, ScalerKind};
//! # fn main() -> pertitle::Result<()> {
//! let mut src = media::demo_clip()?; // or media::open(path, &Default::default())?
//! let info = src.info().clone();
//! let mut down = Scaler::new(info.format, 640, 360, ScalerKind::Bicubic)?;
//! let mut cfg = EncoderConfig::crf("libx264", down.dst_format(), (info.fps_num, info.fps_den), 26.0);
//! cfg.preset = Some("medium".into());
//! let mut enc = Encoder::new(&cfg)?;
//! let mut dec = Decoder::new(&enc.stream_params())?;
//! let mut up = Scaler::new(down.dst_format(), info.width, info.height, ScalerKind::Bicubic)?;
//! let mut decoded = Vec::new();
//! while let Some(frame) = src.next_frame()? {
//!     for p in enc.encode(&down.scale(&frame)?)? {
//!         decoded.extend(dec.decode(&p)?);
//!     }
//! }
//! for p in enc.finish()? {
//!     decoded.extend(dec.decode(&p)?);
//! }
//! decoded.extend(dec.flush()?);
//! let upscaled = up.scale(&decoded[0])?; // compare with the source frame 0
//! let kbps = enc.total_bytes() as f64 * 8.0 / info.duration_s / 1000.0;
//! # let _ = (upscaled, kbps);
//! # Ok(()) }
//! ```

mod codec;
mod conv;
mod ffsrc;
mod lavfi;
mod mux;
mod raw;
mod scale;
mod scdet;
mod y4m;

pub use codec::{
    encoder_available, encoder_build, Decoder, Encoder, EncoderConfig, Packet, PassStats,
    RateControl, StreamParams,
};
pub use conv::{parse_pix_fmt, pix_fmt_name};
pub use lavfi::{demo_clip, lavfi_source, DEMO_FPS, DEMO_FRAMES, DEMO_HEIGHT, DEMO_WIDTH};
pub use mux::{write_stream, StreamWriter};
pub use raw::{RawWriter, RAW_DEFAULT_FPS};
pub use scale::{even_size_for_height, Scaler, ScalerKind};
pub use scdet::SceneScorer;
pub use y4m::Y4mWriter;

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameFormat};
use std::path::{Path, PathBuf};

/// Stream facts of an input, as `pertitle probe` prints them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoInfo {
    /// The input's path (`"demo"` for the built-in clip).
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    pub fps_num: u32,
    pub fps_den: u32,
    /// Exact number of frames: from the container when it stores it, else by counting packets.
    pub frames: u64,
    /// `frames / fps`.
    pub duration_s: f64,
    /// FFmpeg's name of the stored pixel format (e.g. `yuv420p`, `nv12`, `yuv420p10le`).
    pub pix_fmt: String,
    /// The planar format frames are delivered in.
    pub format: FrameFormat,
    /// Codec name (`h264`, `hevc`, `rawvideo (y4m)`, ...).
    pub codec: String,
}

impl VideoInfo {
    pub fn fps(&self) -> f64 {
        self.fps_num as f64 / self.fps_den as f64
    }
}

/// How to read an input; only raw `.yuv` needs `size` (and `pix_fmt`/`fps` unless yuv420p, 25 fps).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputOptions {
    /// Raw input: width × height.
    pub size: Option<(usize, usize)>,
    /// Raw input: FFmpeg pixel format name (planar 8/10-bit YUV or gray), default `yuv420p`.
    pub pix_fmt: Option<String>,
    /// Raw input: frame rate, default 25/1 (FFmpeg's rawvideo default).
    pub fps: Option<(u32, u32)>,
    /// Deliver frames despite decoder errors / truncation instead of failing at the end.
    pub allow_decode_errors: bool,
    /// Decoder threads for FFmpeg-decoded inputs (default 1; decoded frames do not depend on it).
    pub decode_threads: Option<u32>,
}

/// A stream of frames in display order, `index` counting from 0.
pub trait FrameSource: Send {
    fn info(&self) -> &VideoInfo;
    /// The next frame, `Ok(None)` at the end. After an error the source is finished.
    fn next_frame(&mut self) -> Result<Option<Frame>>;
    /// Decoder errors met so far (packets the decoder rejected or frames it flagged as concealed).
    fn decode_errors(&self) -> u64 {
        0
    }
    /// Jumps so that the next frame returned is frame `index` (a chunk's first frame), without
    /// decoding what lies before; `Ok(false)` if this source cannot (then the caller reads and
    /// drops frames up to `index`, as it would anyway). y4m, raw and files FFmpeg can seek in
    /// with constant-rate timestamps jump; generated sources do not. Only forward of the
    /// current position.
    fn seek(&mut self, _index: u64) -> Result<bool> {
        Ok(false)
    }
}

/// Initialises FFmpeg once and silences its log: the library reports through errors, not stderr.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg_next::init();
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Quiet);
    });
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Checks that `path` is a non-empty regular file, with errors naming it.
fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let what = path.display().to_string();
    if path.to_str().is_none() {
        // FFmpeg takes C strings of UTF-8 paths.
        return Err(Error::media(what, "path is not valid UTF-8"));
    }
    if meta.is_dir() {
        return Err(Error::media(what, "is a directory, not a video file"));
    }
    if meta.len() == 0 {
        return Err(Error::media(what, "empty file (0 bytes)"));
    }
    Ok(())
}

/// Opens an input for streaming: `.y4m` and `.yuv` by our readers, anything else through FFmpeg.
pub fn open(path: &Path, opts: &InputOptions) -> Result<Box<dyn FrameSource>> {
    init();
    check_file(path)?;
    Ok(match extension(path).as_str() {
        "y4m" => Box::new(y4m::Y4mReader::open(path)?),
        "yuv" | "raw" => Box::new(raw::RawReader::open(path, opts)?),
        _ => Box::new(ffsrc::FfSource::open(path, opts)?),
    })
}

/// The stream facts of an input (decodes at most its first frame).
pub fn probe(path: &Path, opts: &InputOptions) -> Result<VideoInfo> {
    open(path, opts).map(|s| s.info().clone())
}

/// Why a reference and a distorted video cannot be scored frame by frame together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PairMismatch {
    #[error("frame rates differ: {reference} is {} fps, {distorted} is {} fps", fmt_rate(*.reference_fps), fmt_rate(*.distorted_fps))]
    FrameRate {
        reference: String,
        distorted: String,
        reference_fps: (u32, u32),
        distorted_fps: (u32, u32),
    },
    /// Different lengths, and no frame limit was given.
    #[error("frame counts differ: {reference} has {reference_frames} frames, {distorted} has {distorted_frames}")]
    FrameCount {
        reference: String,
        distorted: String,
        reference_frames: u64,
        distorted_frames: u64,
    },
    /// A frame limit beyond the shorter video.
    #[error("{limit} frames asked for: {reference} has {reference_frames} frames and {distorted} has {distorted_frames}")]
    TooFewFrames {
        reference: String,
        distorted: String,
        limit: u64,
        reference_frames: u64,
        distorted_frames: u64,
    },
    #[error("bit depths differ: {reference} is {reference_depth}-bit, {distorted} is {distorted_depth}-bit")]
    BitDepth {
        reference: String,
        distorted: String,
        reference_depth: u8,
        distorted_depth: u8,
    },
}

fn fmt_rate((n, d): (u32, u32)) -> String {
    format!("{n}/{d}")
}

/// Checks that `distorted` can be scored against `reference` frame by frame (same frame rate,
/// same bit depth, and the same length unless `limit` frames are asked for, which both must
/// have) and returns how many frames to score. Sizes may differ (the distorted video is then
/// upscaled); chroma is checked on the frames, after any scaling.
pub fn check_pair(
    reference: &VideoInfo,
    distorted: &VideoInfo,
    limit: Option<u64>,
) -> std::result::Result<u64, PairMismatch> {
    let names = || {
        (
            reference.path.display().to_string(),
            distorted.path.display().to_string(),
        )
    };
    let (r, d) = (reference, distorted);
    if (r.fps_num as u64 * d.fps_den as u64) != (d.fps_num as u64 * r.fps_den as u64) {
        let (reference, distorted) = names();
        return Err(PairMismatch::FrameRate {
            reference,
            distorted,
            reference_fps: (r.fps_num, r.fps_den),
            distorted_fps: (d.fps_num, d.fps_den),
        });
    }
    let frames = match limit {
        Some(n) if n > r.frames.min(d.frames) => {
            let (reference, distorted) = names();
            return Err(PairMismatch::TooFewFrames {
                reference,
                distorted,
                limit: n,
                reference_frames: r.frames,
                distorted_frames: d.frames,
            });
        }
        Some(n) => n,
        None if r.frames != d.frames => {
            let (reference, distorted) = names();
            return Err(PairMismatch::FrameCount {
                reference,
                distorted,
                reference_frames: r.frames,
                distorted_frames: d.frames,
            });
        }
        None => r.frames,
    };
    if r.format.bit_depth != d.format.bit_depth {
        let (reference, distorted) = names();
        return Err(PairMismatch::BitDepth {
            reference,
            distorted,
            reference_depth: r.format.bit_depth,
            distorted_depth: d.format.bit_depth,
        });
    }
    Ok(frames)
}

/// A reference and a distorted video, frame by frame, as VMAF compares them: the distorted
/// frames are upscaled to the reference's size when they differ (VMAF's definition) and take the
/// reference's frame numbers. Up to `frames` frames are read (see [`check_pair`]); `per_frame`
/// takes each pair and returns whether to go on. Returns how many pairs it was given.
pub fn pair_frames(
    reference: &mut dyn FrameSource,
    distorted: &mut dyn FrameSource,
    frames: u64,
    scaler: ScalerKind,
    mut per_frame: impl FnMut(Frame, Frame) -> Result<bool>,
) -> Result<u64> {
    let (ri, di) = (reference.info().clone(), distorted.info().clone());
    let mut up = if (di.width, di.height) != (ri.width, ri.height) {
        Some(Scaler::new(di.format, ri.width, ri.height, scaler)?)
    } else {
        None
    };
    let mut n = 0u64;
    while n < frames {
        let (Some(rf), Some(mut df)) = (reference.next_frame()?, distorted.next_frame()?) else {
            return Err(Error::Mismatch(format!(
                "{} or {} ended after {n} frames",
                ri.path.display(),
                di.path.display()
            )));
        };
        if let Some(s) = &mut up {
            df = s.scale(&df)?;
        }
        if df.format.chroma != rf.format.chroma {
            return Err(Error::Mismatch(format!(
                "chroma formats differ: {} is {:?}, {} is {:?}",
                ri.path.display(),
                rf.format.chroma,
                di.path.display(),
                df.format.chroma
            )));
        }
        df.index = rf.index;
        n += 1;
        if !per_frame(rf, df)? {
            break;
        }
    }
    Ok(n)
}
