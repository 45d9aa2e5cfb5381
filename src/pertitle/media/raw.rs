//! Raw planar `.yuv` files: no header, so size, pixel format and frame rate come from the user.

use super::y4m::{frame_bytes, pack, unpack};
use super::{FrameSource, InputOptions, VideoInfo};
use crate::error::{Error, Field, Origin, Result};
use crate::frame::{Frame, FrameFormat};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Frame rate assumed when none is given: FFmpeg's rawvideo demuxer default, so both read a raw
/// file the same way.
pub const RAW_DEFAULT_FPS: (u32, u32) = (25, 1);

pub(crate) struct RawReader {
    info: VideoInfo,
    file: BufReader<File>,
    path: PathBuf,
    next: u64,
    buf: Vec<u8>,
}

impl RawReader {
    pub(crate) fn open(path: &Path, opts: &InputOptions) -> Result<Self> {
        let what = path.display().to_string();
        let (w, h) = opts.size.ok_or_else(|| {
            Error::invalid(
                Field::InputSize,
                Origin::Caller,
                "",
                format!("raw input {what} has no header: give its size WxH (and pixel format and frame rate unless yuv420p at 25 fps)"),
            )
        })?;
        if w == 0 || h == 0 {
            return Err(Error::invalid(
                Field::InputSize,
                Origin::Caller,
                format!("{w}x{h}"),
                format!("{w}x{h} for {what}: must not be 0"),
            ));
        }
        let pf = opts.pix_fmt.as_deref().unwrap_or("yuv420p");
        let (chroma, depth) = super::conv::parse_pix_fmt(pf).ok_or_else(|| {
            Error::invalid(
                Field::InputPixFmt,
                Origin::Caller,
                pf,
                format!("unsupported pixel format {pf} for {what}"),
            )
        })?;
        let (n, d) = opts.fps.unwrap_or(RAW_DEFAULT_FPS);
        if n == 0 || d == 0 {
            return Err(Error::invalid(
                Field::InputFps,
                Origin::Caller,
                format!("{n}/{d}"),
                format!("{n}/{d} for {what}: must be positive"),
            ));
        }
        let format = FrameFormat::new(w, h, chroma, depth);
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = f.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::media(what, "is a directory, not a video file"));
        }
        let fb = frame_bytes(&format);
        let len = meta.len();
        if len == 0 {
            return Err(Error::media(what, "empty file (0 bytes)"));
        }
        if len % fb != 0 {
            return Err(Error::media(
                what,
                format!(
                    "size {len} bytes is not a whole number of {w}x{h} {pf} frames ({fb} bytes each): wrong size or pixel format, or a truncated file"
                ),
            ));
        }
        let frames = len / fb;
        let info = VideoInfo {
            path: path.to_path_buf(),
            width: w,
            height: h,
            fps_num: n,
            fps_den: d,
            frames,
            duration_s: frames as f64 * d as f64 / n as f64,
            pix_fmt: super::conv::pix_fmt_name(&format)?,
            format,
            codec: "rawvideo".into(),
        };
        Ok(RawReader {
            info,
            file: BufReader::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            next: 0,
            buf: vec![0; fb as usize],
        })
    }
}

impl FrameSource for RawReader {
    fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.next >= self.info.frames {
            return Ok(None);
        }
        self.file
            .read_exact(&mut self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        let frame = unpack(&self.buf, self.info.format, self.next);
        self.next += 1;
        Ok(Some(frame))
    }

    fn seek(&mut self, index: u64) -> Result<bool> {
        if index < self.next || index > self.info.frames {
            return Ok(false);
        }
        let pos = index * self.buf.len() as u64;
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(&self.path, e))?;
        self.next = index;
        Ok(true)
    }
}

/// Writes frames as raw planar samples (8-bit bytes, 10-bit little-endian words).
pub struct RawWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    what: String,
}

impl RawWriter<std::io::BufWriter<File>> {
    pub fn create(path: &Path) -> Result<Self> {
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(RawWriter::new(
            std::io::BufWriter::new(f),
            &path.display().to_string(),
        ))
    }
}

impl<W: Write> RawWriter<W> {
    pub fn new(out: W, what: &str) -> Self {
        RawWriter {
            out,
            buf: Vec::new(),
            what: what.into(),
        }
    }

    pub fn write(&mut self, frame: &Frame) -> Result<()> {
        pack(frame, &mut self.buf);
        self.out
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.what, e))
    }

    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|e| Error::io(&self.what, e))?;
        Ok(self.out)
    }
}
