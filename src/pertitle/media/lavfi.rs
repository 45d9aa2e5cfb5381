//! Synthetic content from libavfilter source filters, made in-process and deterministic: the
//! built-in demo clip and small test clips.

use super::conv::{native_layout, pix_name, FrameReader};
use super::{FrameSource, VideoInfo};
use crate::error::{Error, Result};
use crate::frame::{Chroma, Frame, FrameFormat};
use ff::ffi;
use ffmpeg_next as ff;
use std::path::PathBuf;

/// Demo clip geometry: 720p at 24 fps, 132 frames (5.5 s) in four 33-frame segments.
pub const DEMO_WIDTH: usize = 1280;
pub const DEMO_HEIGHT: usize = 720;
pub const DEMO_FPS: (u32, u32) = (24, 1);
pub const DEMO_FRAMES: u64 = 132;

/// The demo's segments, each a filter chain at 1280×720, 24 fps. Every random source has a fixed
/// seed, so the clip is the same bit for bit on every run:
/// 1. flat: a slowly moving two-colour gradient (cheap to code, like titles and skies);
/// 2. detailed texture: the Mandelbrot set's seahorse valley (rendered at 480×270 and upscaled,
///    so detail is rich but not pixel-level noise) panning slowly (~4 px per frame);
/// 3. motion: FFmpeg's testsrc2 pattern scrolling diagonally ~17 px per frame;
/// 4. grain: a gradient under temporal noise made at 640×360 and upscaled, so the grain is two
///    pixels wide like film grain and survives downscaling (costly at any rung).
const DEMO_SEGMENTS: [&str; 4] = [
    "gradients=s=1280x720:r=24:c0=0x1a3a6b:c1=0xd89a5c:x0=0:y0=0:x1=1280:y1=720:speed=0.015:seed=7,format=yuv420p",
    "mandelbrot=s=480x270:r=24:maxiter=128:start_x=-0.743643887:start_y=0.131825904:start_scale=0.03:end_scale=0.03:outer=normalized_iteration_count:inner=mincol,scale=1280:720:flags=bicubic,scroll=horizontal=0.003:vertical=0.001,format=yuv420p",
    "testsrc2=s=1280x720:r=24,scroll=horizontal=0.0133:vertical=0.0097,format=yuv420p",
    "gradients=s=640x360:r=24:c0=0x6b5a3a:c1=0x3a5a6b:x0=100:y0=0:x1=540:y1=360:speed=0.01:seed=11,format=yuv420p,noise=alls=14:allf=t+u:all_seed=424242,scale=1280:720:flags=bicubic,format=yuv420p",
];

/// Frames per demo segment.
const DEMO_SEGMENT_FRAMES: u64 = DEMO_FRAMES / DEMO_SEGMENTS.len() as u64;

/// Pixel formats the graph's sink accepts: our native planar layouts, so negotiation inserts a
/// conversion only when the graph ends in something else.
const SINK_FORMATS: [&str; 8] = [
    "yuv420p",
    "yuv422p",
    "yuv444p",
    "gray",
    "yuv420p10le",
    "yuv422p10le",
    "yuv444p10le",
    "gray10le",
];

/// Frames pulled from a source-only filter graph.
struct LavfiSource {
    info: VideoInfo,
    graph: ff::filter::Graph,
    frame: ff::frame::Video,
    reader: FrameReader,
    pending: Option<Frame>,
    next_index: u64,
}

// SAFETY: ff::filter::Graph is Send; the frame and converter are exclusively owned and used
// through `&mut self` only.
unsafe impl Send for LavfiSource {}

impl LavfiSource {
    fn new(
        spec: &str,
        width: usize,
        height: usize,
        fps: (u32, u32),
        frames: u64,
        path: &str,
    ) -> Result<Self> {
        super::init();
        let what = format!("lavfi graph {spec:?}");
        let gerr = |e: ff::Error| Error::media(&what, e.to_string());
        if fps.0 == 0 || fps.1 == 0 || width == 0 || height == 0 {
            return Err(Error::config(
                "lavfi",
                format!("{what}: size and frame rate must be positive"),
            ));
        }
        let mut graph = ff::filter::Graph::new();
        // SAFETY: plain field on our own graph: one filter thread keeps seeded random filters
        // (noise) independent of slice scheduling.
        unsafe { (*graph.as_mut_ptr()).nb_threads = 1 };
        let sink = ff::filter::find("buffersink")
            .ok_or_else(|| Error::media(&what, "FFmpeg lacks buffersink"))?;
        graph.add(&sink, "out", "").map_err(gerr)?;
        let fmts: Vec<i32> = SINK_FORMATS
            .iter()
            .filter_map(|n| n.parse::<ff::format::Pixel>().ok())
            .map(|p| ffi::AVPixelFormat::from(p) as i32)
            .collect();
        {
            let mut out = graph
                .get("out")
                .ok_or_else(|| Error::media(&what, "no sink"))?;
            // SAFETY: sets the sink's binary pix_fmts option from a live int array.
            let r = unsafe {
                ffi::av_opt_set_bin(
                    out.as_mut_ptr() as *mut std::ffi::c_void,
                    c"pix_fmts".as_ptr(),
                    fmts.as_ptr() as *const u8,
                    (fmts.len() * std::mem::size_of::<i32>()) as i32,
                    ffi::AV_OPT_SEARCH_CHILDREN,
                )
            };
            if r < 0 {
                return Err(Error::media(&what, "cannot constrain sink formats"));
            }
        }
        if spec.contains('\0') {
            return Err(Error::config("lavfi", format!("{what}: contains NUL")));
        }
        graph
            .input("out", 0)
            .and_then(|p| p.parse(spec))
            .map_err(gerr)?;
        graph.validate().map_err(gerr)?;
        let mut src = LavfiSource {
            info: VideoInfo {
                path: PathBuf::from(path),
                width,
                height,
                fps_num: fps.0,
                fps_den: fps.1,
                frames,
                duration_s: frames as f64 * fps.1 as f64 / fps.0 as f64,
                pix_fmt: String::new(),
                format: FrameFormat::new(width, height, Chroma::Yuv420, 8),
                codec: "lavfi".into(),
            },
            graph,
            frame: ff::frame::Video::empty(),
            reader: FrameReader::new(&what),
            pending: None,
            next_index: 0,
        };
        if frames > 0 {
            let first = src.pull()?;
            if first.width() != width || first.height() != height {
                return Err(Error::Mismatch(format!(
                    "{what}: produces {}x{} frames, {width}x{height} expected",
                    first.width(),
                    first.height()
                )));
            }
            src.info.format = first.format;
            src.info.pix_fmt = pix_name(src.frame.format());
            debug_assert!(native_layout(src.frame.format()).is_some());
            src.pending = Some(first);
        }
        Ok(src)
    }

    fn pull(&mut self) -> Result<Frame> {
        let mut out = self
            .graph
            .get("out")
            .ok_or_else(|| Error::media(&self.info.codec, "sink vanished"))?;
        loop {
            match out.sink().frame(&mut self.frame) {
                Ok(()) => break,
                Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => continue,
                Err(e) => {
                    return Err(Error::media(
                        self.info.path.display().to_string(),
                        format!("filter graph ended early at frame {}: {e}", self.next_index),
                    ))
                }
            }
        }
        let f = self.reader.read(&self.frame, self.next_index)?;
        self.next_index += 1;
        Ok(f)
    }
}

impl FrameSource for LavfiSource {
    fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if let Some(f) = self.pending.take() {
            return Ok(Some(f));
        }
        if self.next_index >= self.info.frames {
            return Ok(None);
        }
        let f = self.pull()?;
        if f.format != self.info.format {
            return Err(Error::Mismatch(format!(
                "lavfi graph: frame {} changed format",
                f.index
            )));
        }
        Ok(Some(f))
    }
}

/// `frames` frames of `width`×`height` at `fps` from a libavfilter source chain such as
/// `"testsrc2=s=320x180:r=24,format=yuv420p10le"`. The chain should make frames of that size;
/// its last format decides the pixel format (planar 8/10-bit YUV or gray; default negotiation
/// otherwise). `VideoInfo.path` is `"lavfi"`.
pub fn lavfi_source(
    graph: &str,
    width: usize,
    height: usize,
    fps: (u32, u32),
    frames: u64,
) -> Result<Box<dyn FrameSource>> {
    Ok(Box::new(LavfiSource::new(
        graph, width, height, fps, frames, "lavfi",
    )?))
}

/// Sources played one after another, renumbering frames.
struct Chain {
    info: VideoInfo,
    parts: std::vec::IntoIter<(String, u64)>,
    current: Option<Box<dyn FrameSource>>,
    next_index: u64,
}

impl FrameSource for Chain {
    fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                if let Some(mut f) = cur.next_frame()? {
                    f.index = self.next_index;
                    self.next_index += 1;
                    return Ok(Some(f));
                }
                self.current = None;
            }
            let Some((spec, n)) = self.parts.next() else {
                return Ok(None);
            };
            self.current = Some(Box::new(LavfiSource::new(
                &spec,
                self.info.width,
                self.info.height,
                (self.info.fps_num, self.info.fps_den),
                n,
                "demo",
            )?));
        }
    }
}

/// The built-in demo clip: 1280×720, 24 fps, 132 frames (5.5 s), yuv420p, four segments of
/// clearly different complexity (see `DEMO_SEGMENTS`). Bit-identical on every run;
/// `VideoInfo.path` is `"demo"`.
pub fn demo_clip() -> Result<Box<dyn FrameSource>> {
    let parts: Vec<(String, u64)> = DEMO_SEGMENTS
        .iter()
        .map(|s| (s.to_string(), DEMO_SEGMENT_FRAMES))
        .collect();
    Ok(Box::new(Chain {
        info: VideoInfo {
            path: PathBuf::from("demo"),
            width: DEMO_WIDTH,
            height: DEMO_HEIGHT,
            fps_num: DEMO_FPS.0,
            fps_den: DEMO_FPS.1,
            frames: DEMO_FRAMES,
            duration_s: DEMO_FRAMES as f64 * DEMO_FPS.1 as f64 / DEMO_FPS.0 as f64,
            pix_fmt: "yuv420p".into(),
            format: FrameFormat::new(DEMO_WIDTH, DEMO_HEIGHT, Chroma::Yuv420, 8),
            codec: "lavfi (built-in demo)".into(),
        },
        parts: parts.into_iter(),
        current: None,
        next_index: 0,
    }))
}
