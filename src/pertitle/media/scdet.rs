//! libavfilter's `scdet` scene-change score, frame by frame and in-process: the reference the
//! shot detector ([`crate::shots`]) was measured against (`examples/shots_eval.rs`).

use super::conv::{copy_to_av, pixel_of};
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameFormat};
use ff::ffi;
use ffmpeg_next as ff;

/// Feeds frames through `buffer → scdet → buffersink` and reads each frame's
/// `lavfi.scd.score` (0..100: scdet's `min(mafd, |mafd - prev_mafd|)`, clipped).
pub struct SceneScorer {
    graph: ff::filter::Graph,
    format: FrameFormat,
    pixel: ff::format::Pixel,
    out: ff::frame::Video,
    what: String,
}

// SAFETY: ff::filter::Graph is Send; the frame is exclusively owned and used through `&mut self`
// only.
unsafe impl Send for SceneScorer {}

impl SceneScorer {
    /// A scorer for frames of `format` (8 or 10 bit planar).
    pub fn new(format: FrameFormat) -> Result<Self> {
        super::init();
        let what = "scdet filter graph".to_string();
        let gerr = |e: ff::Error| Error::media(&what, e.to_string());
        let pixel = pixel_of(&format)?;
        let mut graph = ff::filter::Graph::new();
        // SAFETY: plain field on our own graph: one thread, the same scores every run.
        unsafe { (*graph.as_mut_ptr()).nb_threads = 1 };
        let buffer =
            ff::filter::find("buffer").ok_or_else(|| Error::media(&what, "FFmpeg lacks buffer"))?;
        let sink = ff::filter::find("buffersink")
            .ok_or_else(|| Error::media(&what, "FFmpeg lacks buffersink"))?;
        let args = format!(
            "video_size={}x{}:pix_fmt={}:time_base=1/24:pixel_aspect=1/1",
            format.width,
            format.height,
            ffi::AVPixelFormat::from(pixel) as i32
        );
        graph.add(&buffer, "in", &args).map_err(gerr)?;
        graph.add(&sink, "out", "").map_err(gerr)?;
        // threshold=100: scdet only annotates; the caller thresholds the scores.
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse("scdet=threshold=100"))
            .map_err(gerr)?;
        graph.validate().map_err(gerr)?;
        Ok(SceneScorer {
            graph,
            format,
            pixel,
            out: ff::frame::Video::empty(),
            what,
        })
    }

    /// Adds the next frame; returns the (frame index, score) pairs scdet has released so far.
    pub fn push(&mut self, frame: &Frame) -> Result<Vec<(u64, f64)>> {
        if frame.format != self.format {
            return Err(Error::Mismatch(format!(
                "{}: frame {} has another format",
                self.what, frame.index
            )));
        }
        let mut av = ff::frame::Video::new(self.pixel, frame.width() as u32, frame.height() as u32);
        copy_to_av(frame, &mut av);
        let pts = i64::try_from(frame.index)
            .map_err(|_| Error::data(&self.what, "frame index out of range"))?;
        av.set_pts(Some(pts));
        let what = &self.what;
        self.graph
            .get("in")
            .ok_or_else(|| Error::media(what, "no source"))?
            .source()
            .add(&av)
            .map_err(|e| Error::media(what, e.to_string()))?;
        let mut out = self
            .graph
            .get("out")
            .ok_or_else(|| Error::media(what, "no sink"))?;
        let mut scores = Vec::new();
        while out.sink().frame(&mut self.out).is_ok() {
            let score = self
                .out
                .metadata()
                .get("lavfi.scd.score")
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            let index = self
                .out
                .pts()
                .and_then(|p| u64::try_from(p).ok())
                .unwrap_or(0);
            scores.push((index, score));
        }
        Ok(scores)
    }
}
