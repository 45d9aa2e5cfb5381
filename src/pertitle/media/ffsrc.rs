//! Any file FFmpeg can demux: the best video stream, decoded frame by frame.

use super::conv::{pix_name, FrameReader};
use super::{FrameSource, InputOptions, VideoInfo};
use crate::error::{Error, Result};
use crate::frame::Frame;
use ffmpeg_next as ff;
use std::path::Path;

pub(crate) struct FfSource {
    info: VideoInfo,
    what: String,
    input: ff::format::context::Input,
    stream: usize,
    decoder: ff::decoder::Video,
    reader: FrameReader,
    frame: ff::frame::Video,
    /// The first frame, decoded at open to learn the real pixel format and prove the stream decodes.
    pending: Option<Frame>,
    next_index: u64,
    packets: u64,
    input_done: bool,
    finished: bool,
    decode_errors: u64,
    allow_errors: bool,
    /// How the file was opened, to reopen it when a seek cannot be trusted.
    opts: InputOptions,
    /// The first frame's timestamp and the stream's time base: with a constant frame rate, frame
    /// `i` is at `first_pts + i × frame duration`, which is how [`FrameSource::seek`] finds it.
    first_pts: Option<i64>,
    time_base: ff::Rational,
    /// A seek moved the demuxer: the packet count no longer covers the whole stream.
    seeked: bool,
}

// SAFETY: the demuxer, decoder and frames are owned exclusively by this value and only touched
// through `&mut self`, so from one thread at a time; FFmpeg contexts have no thread affinity.
unsafe impl Send for FfSource {}

fn rate_ok(r: ff::Rational) -> Option<(u32, u32)> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| (r.numerator() as u32, r.denominator() as u32))
}

/// Counts the stream's packets by demuxing the whole file (no decoding): the exact frame count for
/// containers that do not store it (mkv, webm, raw bitstreams).
fn count_packets(path: &Path, stream: usize) -> Result<u64> {
    let what = path.display().to_string();
    let mut input = ff::format::input(&path)
        .map_err(|e| Error::media(&what, format!("cannot open as a video file: {e}")))?;
    let mut packet = ff::Packet::empty();
    let mut n = 0;
    loop {
        match packet.read(&mut input) {
            Ok(()) => n += (packet.stream() == stream) as u64,
            Err(ff::Error::Eof) => return Ok(n),
            Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => continue,
            // A truncated tail ends the count where the data ends.
            Err(_) => return Ok(n),
        }
    }
}

impl FfSource {
    pub(crate) fn open(path: &Path, opts: &InputOptions) -> Result<Self> {
        let what = path.display().to_string();
        let input = ff::format::input(&path)
            .map_err(|e| Error::media(&what, format!("cannot open as a video file: {e}")))?;
        let (stream, params, rate, avg, frames, time_base) = {
            let s = input
                .streams()
                .best(ff::media::Type::Video)
                .ok_or_else(|| {
                    Error::media(&what, "no video stream (audio-only or data-only file)")
                })?;
            (
                s.index(),
                s.parameters(),
                s.rate(),
                s.avg_frame_rate(),
                s.frames(),
                s.time_base(),
            )
        };
        let codec_id = params.id();
        let mut ctx = ff::codec::context::Context::from_parameters(params)
            .map_err(|e| Error::media(&what, format!("bad stream parameters: {e}")))?;
        // SAFETY: ctx is a fresh, unopened codec context we own.
        unsafe {
            (*ctx.as_mut_ptr()).thread_count = opts.decode_threads.unwrap_or(1) as i32;
        }
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| Error::media(&what, format!("no decoder for codec {codec_id:?}: {e}")))?;
        let (fps_num, fps_den) = rate_ok(avg)
            .or_else(|| rate_ok(rate))
            .ok_or_else(|| Error::media(&what, "the video stream has no frame rate"))?;
        let frames = if frames > 0 {
            frames as u64
        } else {
            let counted = count_packets(path, stream)?;
            // Containers without a frame count (mkv) still store a duration; far fewer packets
            // than it implies means the file was cut short.
            // SAFETY: plain field reads of the open input context.
            let (duration, method) = unsafe {
                let c = input.as_ptr();
                ((*c).duration, (*c).duration_estimation_method)
            };
            if duration > 0
                && method != ff::ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE
                && !opts.allow_decode_errors
            {
                let implied = (duration as f64 / ff::ffi::AV_TIME_BASE as f64 * fps_num as f64
                    / fps_den as f64)
                    .round() as u64;
                if implied > counted + 1 + counted / 50 {
                    return Err(Error::Damaged {
                        what: what.clone(),
                        message: format!(
                            "truncated: the container's duration implies {implied} frames but only {counted} are present"
                        ),
                    });
                }
            }
            counted
        };
        let codec = ff::codec::decoder::find(codec_id)
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| format!("{codec_id:?}").to_lowercase());
        let mut src = FfSource {
            info: VideoInfo {
                path: path.to_path_buf(),
                width: 0,
                height: 0,
                fps_num,
                fps_den,
                frames,
                duration_s: frames as f64 * fps_den as f64 / fps_num as f64,
                pix_fmt: String::new(),
                format: crate::frame::FrameFormat::new(0, 0, crate::frame::Chroma::Gray, 8),
                codec,
            },
            reader: FrameReader::new(&what),
            what,
            input,
            stream,
            decoder,
            frame: ff::frame::Video::empty(),
            pending: None,
            next_index: 0,
            packets: 0,
            input_done: false,
            finished: false,
            decode_errors: 0,
            allow_errors: opts.allow_decode_errors,
            opts: opts.clone(),
            first_pts: None,
            time_base,
            seeked: false,
        };
        let first = src.decode_next()?.ok_or_else(|| {
            Error::media(
                &src.what,
                "no decodable video frame (truncated or corrupt file)",
            )
        })?;
        src.info.width = first.width();
        src.info.height = first.height();
        src.info.format = first.format;
        src.info.pix_fmt = pix_name(src.frame.format());
        src.first_pts = src.frame.timestamp();
        src.pending = Some(first);
        Ok(src)
    }

    /// Feeds the decoder one packet of our stream (or EOF).
    fn feed(&mut self) {
        let mut packet = ff::Packet::empty();
        loop {
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if packet.stream() != self.stream {
                        continue;
                    }
                    self.packets += 1;
                    if self.decoder.send_packet(&packet).is_err() {
                        self.decode_errors += 1;
                    }
                    return;
                }
                Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => continue,
                Err(e) => {
                    if e != ff::Error::Eof {
                        // Unreadable data where more was expected: a damaged file.
                        self.decode_errors += 1;
                    }
                    let _ = self.decoder.send_eof();
                    self.input_done = true;
                    return;
                }
            }
        }
    }

    fn decode_next(&mut self) -> Result<Option<Frame>> {
        // Bound on consecutive decoder errors without progress, so a hopeless stream ends.
        let mut strikes = 0u32;
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => {
                    // SAFETY: reading plain fields of the frame the decoder just filled.
                    let (err_flags, flags) = unsafe {
                        let f = self.frame.as_ptr();
                        ((*f).decode_error_flags, (*f).flags)
                    };
                    if err_flags != 0 || flags & ff::ffi::AV_FRAME_FLAG_CORRUPT != 0 {
                        self.decode_errors += 1;
                    }
                    let frame = self.reader.read(&self.frame, self.next_index)?;
                    if self.next_index > 0 && frame.format != self.info.format {
                        return Err(Error::media(
                            &self.what,
                            format!(
                                "frame {} changes format to {}x{} (from {}x{}); mid-stream changes are not supported",
                                self.next_index,
                                frame.width(),
                                frame.height(),
                                self.info.width,
                                self.info.height
                            ),
                        ));
                    }
                    self.next_index += 1;
                    return Ok(Some(frame));
                }
                Err(ff::Error::Eof) => return Ok(None),
                Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => {
                    if self.input_done {
                        return Ok(None);
                    }
                    self.feed();
                }
                Err(_) => {
                    self.decode_errors += 1;
                    strikes += 1;
                    if strikes > 1000 || self.input_done && strikes > 16 {
                        return Ok(None);
                    }
                    if !self.input_done {
                        self.feed();
                    }
                }
            }
        }
    }
}

impl FrameSource for FfSource {
    fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if let Some(f) = self.pending.take() {
            return Ok(Some(f));
        }
        if self.finished {
            return Ok(None);
        }
        if let Some(f) = self.decode_next()? {
            return Ok(Some(f));
        }
        self.finished = true;
        if !self.allow_errors {
            let read = if self.seeked {
                self.next_index
            } else {
                self.packets
            };
            if read < self.info.frames {
                return Err(Error::Damaged {
                    what: self.what.clone(),
                    message: format!(
                        "truncated: the container announces {} frames but only {} are present ({} decoder errors)",
                        self.info.frames, read, self.decode_errors
                    ),
                });
            }
            if self.decode_errors > 0 {
                return Err(Error::Damaged {
                    what: self.what.clone(),
                    message: format!(
                        "{} frame(s) affected by decoder errors (corrupt or damaged data)",
                        self.decode_errors
                    ),
                });
            }
        }
        Ok(None)
    }

    fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    fn seek(&mut self, index: u64) -> Result<bool> {
        let at = self.pending.as_ref().map_or(self.next_index, |f| f.index);
        // Near frames are cheaper to decode through than to seek to (a seek lands on the
        // keyframe before, often further back).
        if index < at + 64 || index >= self.info.frames {
            return Ok(false);
        }
        match self.seek_by_pts(index)? {
            true => Ok(true),
            false => {
                // The timestamps did not lead to the frame: start over and let the caller read
                // up to it.
                *self = FfSource::open(&self.info.path.clone(), &self.opts.clone())?;
                Ok(false)
            }
        }
    }
}

impl FfSource {
    /// Seeks to the keyframe at or before frame `index` by timestamp and decodes up to it.
    /// `Ok(false)` if the stream's timestamps are not those of a constant frame rate from the
    /// first frame (every frame seen on the way is checked), so the position cannot be trusted.
    fn seek_by_pts(&mut self, index: u64) -> Result<bool> {
        let Some(first_pts) = self.first_pts else {
            return Ok(false);
        };
        let tb = self.time_base;
        // Timestamp ticks per frame (not always whole: 24 fps in a millisecond time base).
        let ticks = (tb.denominator() as f64 * self.info.fps_den as f64)
            / (tb.numerator() as f64 * self.info.fps_num as f64);
        if !(ticks >= 1.0 && ticks.is_finite()) {
            return Ok(false);
        }
        let target = first_pts + (index as f64 * ticks).round() as i64;
        // SAFETY: the input context is open and owned by self; the stream index is valid.
        let r = unsafe {
            ff::ffi::av_seek_frame(
                self.input.as_mut_ptr(),
                self.stream as i32,
                target,
                ff::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if r < 0 {
            return Ok(false);
        }
        self.decoder.flush();
        self.pending = None;
        self.input_done = false;
        self.finished = false;
        self.seeked = true;
        let mut expect: Option<u64> = None;
        // Frames before the target may be flagged (leading pictures of an open GOP); they are
        // not delivered, so their errors do not count.
        let errors = self.decode_errors;
        loop {
            let Some(mut f) = self.decode_next()? else {
                return Ok(false);
            };
            let Some(ts) = self.frame.timestamp() else {
                return Ok(false);
            };
            // The frame a timestamp stands for, if it is within a quarter frame of one.
            let at = (ts - first_pts) as f64 / ticks;
            if at < -0.25 || (at - at.round()).abs() > 0.25 {
                return Ok(false);
            }
            let i = at.round() as u64;
            if expect.is_some_and(|e| e != i) || i > index {
                return Ok(false);
            }
            expect = Some(i + 1);
            if i == index {
                self.decode_errors = errors;
                f.index = i;
                self.next_index = i + 1;
                self.pending = Some(f);
                return Ok(true);
            }
        }
    }
}
