//! YUV4MPEG2 (`.y4m`) reading and writing, our own code: the format is a text header line, then
//! per frame a `FRAME[ params]\n` line and the planes, 8-bit samples as bytes and deeper ones as
//! 16-bit little-endian words (as FFmpeg and x264 write them).

use super::{FrameSource, VideoInfo};
use crate::error::{Error, Result};
use crate::frame::{Chroma, Frame, FrameFormat, Plane, Samples};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The parsed stream header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub format: FrameFormat,
    pub fps: (u32, u32),
    /// Length of the header line including its '\n'.
    pub len: u64,
}

/// Longest header or frame line we accept: real ones are < 100 bytes; a bound keeps a binary file
/// named .y4m from being read whole as a "line".
const MAX_LINE: usize = 4096;

/// Largest width or height we accept: twice 16K video's 15360, so every real stream fits, and
/// small enough that frame sizes cannot overflow (found by fuzzing: `W3 H11111111111111111113`
/// overflowed the frame-size product). Frame buffers are only allocated once a frame of that
/// size is actually in the file, so the bound is not what keeps memory in check.
const MAX_DIM: usize = 32768;

fn read_line(r: &mut impl BufRead, what: &Path) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io(what, e))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(Error::media(
            what.display().to_string(),
            "truncated or malformed y4m line (no newline within 4096 bytes)",
        ));
    }
    line.pop();
    Ok(Some(line))
}

/// Maps a y4m colour-space tag (`C` parameter or the `XYSCSS` extension) to our layout.
fn colorspace(tag: &str) -> Option<(Chroma, u8)> {
    let t = tag.to_ascii_lowercase();
    Some(match t.as_str() {
        "420" | "420jpeg" | "420mpeg2" | "420paldv" => (Chroma::Yuv420, 8),
        "422" => (Chroma::Yuv422, 8),
        "444" => (Chroma::Yuv444, 8),
        "mono" => (Chroma::Gray, 8),
        "420p10" => (Chroma::Yuv420, 10),
        "422p10" => (Chroma::Yuv422, 10),
        "444p10" => (Chroma::Yuv444, 10),
        "mono10" => (Chroma::Gray, 10),
        _ => return None,
    })
}

pub(crate) fn parse_header(line: &[u8], what: &Path) -> Result<Header> {
    let bad = |m: String| Error::media(what.display().to_string(), m);
    let text =
        std::str::from_utf8(line).map_err(|_| bad("not a y4m file (header is not text)".into()))?;
    let mut tokens = text.split(' ').filter(|t| !t.is_empty());
    if tokens.next() != Some("YUV4MPEG2") {
        return Err(bad("not a y4m file (no YUV4MPEG2 signature)".into()));
    }
    let (mut w, mut h, mut fps) = (None, None, None);
    let (mut cs, mut xcs) = (None, None);
    for t in tokens {
        // The tag is one ASCII letter; a token starting with a multi-byte character (found by
        // fuzzing: `split_at(1)` panicked inside it) is no tag we know, so it is skipped.
        let Some((tag, val)) = t.split_at_checked(1) else {
            continue;
        };
        match tag {
            "W" => w = val.parse::<usize>().ok(),
            "H" => h = val.parse::<usize>().ok(),
            "F" => {
                fps = val
                    .split_once(':')
                    .and_then(|(n, d)| Some((n.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
            }
            "C" => cs = Some(val.to_string()),
            "X" => {
                if let Some(v) = val.strip_prefix("YSCSS=") {
                    xcs = Some(v.to_string())
                }
            }
            _ => {} // I (interlacing), A (aspect), other X tags: not needed to read samples
        }
    }
    let (w, h) = match (w, h) {
        (Some(w), Some(h)) if w > MAX_DIM || h > MAX_DIM => {
            return Err(bad(format!(
                "y4m header size {w}x{h} is above the {MAX_DIM} limit"
            )))
        }
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(bad("y4m header lacks a valid W/H".into())),
    };
    let fps = match fps {
        Some((n, d)) if n > 0 && d > 0 => (n, d),
        _ => return Err(bad("y4m header lacks a valid frame rate F".into())),
    };
    // The C tag rules; XYSCSS (an FFmpeg/mjpegtools extension) only fills in when C is missing.
    // Without either the format's default is 4:2:0 8-bit.
    let tag = cs.or(xcs).unwrap_or_else(|| "420jpeg".into());
    let (chroma, depth) = colorspace(&tag)
        .ok_or_else(|| bad(format!("unsupported pixel format y4m colour space C{tag}")))?;
    Ok(Header {
        format: FrameFormat::new(w, h, chroma, depth),
        fps,
        len: line.len() as u64 + 1,
    })
}

/// Bytes of one frame's planes.
pub(crate) fn frame_bytes(f: &FrameFormat) -> u64 {
    let bps = if f.bit_depth > 8 { 2 } else { 1 };
    (0..f.chroma.planes())
        .map(|i| {
            let (w, h) = f.plane_size(i);
            (w * h * bps) as u64
        })
        .sum()
}

/// Streaming `.y4m` reader.
pub(crate) struct Y4mReader {
    info: VideoInfo,
    file: BufReader<File>,
    path: PathBuf,
    next: u64,
    buf: Vec<u8>,
    /// Where frame 0's FRAME line starts, and whether every frame line is a bare `FRAME` (so
    /// frame `i` starts at a computable offset and [`FrameSource::seek`] can jump).
    data_start: u64,
    uniform: bool,
}

impl Y4mReader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut file = BufReader::with_capacity(1 << 20, f);
        let line = read_line(&mut file, path)?
            .ok_or_else(|| Error::media(path.display().to_string(), "empty file"))?;
        let header = parse_header(&line, path)?;
        let (frames, uniform) = count_frames(path, &header)?;
        let (n, d) = header.fps;
        let info = VideoInfo {
            path: path.to_path_buf(),
            width: header.format.width,
            height: header.format.height,
            fps_num: n,
            fps_den: d,
            frames,
            duration_s: frames as f64 * d as f64 / n as f64,
            pix_fmt: super::conv::pix_fmt_name(&header.format)?,
            format: header.format,
            codec: "rawvideo (y4m)".into(),
        };
        Ok(Y4mReader {
            info,
            file,
            path: path.to_path_buf(),
            next: 0,
            // Sized at the first frame: a header announcing a huge size over no frames must not
            // allocate a frame's worth of memory.
            buf: Vec::new(),
            data_start: header.len,
            uniform,
        })
    }
}

/// Counts frames by hopping from FRAME line to FRAME line (no sample is read), and tells whether
/// every FRAME line is bare; a trailing partial frame is an error, as a truncated file should be.
fn count_frames(path: &Path, header: &Header) -> Result<(u64, bool)> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut r = BufReader::with_capacity(4096, f);
    r.seek(SeekFrom::Start(header.len))
        .map_err(|e| Error::io(path, e))?;
    let fb = frame_bytes(&header.format);
    let mut pos = header.len;
    let mut n = 0u64;
    let mut uniform = true;
    while pos < len {
        let line = read_line(&mut r, path)?.ok_or_else(|| {
            Error::media(path.display().to_string(), "truncated y4m frame header")
        })?;
        check_frame_line(&line, path, n)?;
        uniform &= line.len() == 5;
        pos += line.len() as u64 + 1 + fb;
        if pos > len {
            return Err(Error::media(
                path.display().to_string(),
                format!("truncated y4m file: frame {n} is incomplete"),
            ));
        }
        r.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(path, e))?;
        n += 1;
    }
    Ok((n, uniform))
}

fn check_frame_line(line: &[u8], path: &Path, n: u64) -> Result<()> {
    if line.starts_with(b"FRAME") && (line.len() == 5 || line[5] == b' ') {
        Ok(())
    } else {
        Err(Error::media(
            path.display().to_string(),
            format!("malformed y4m: frame {n} does not start with FRAME"),
        ))
    }
}

/// The frame of `format` whose planes `buf` holds packed (8-bit: one byte per sample, deeper:
/// little-endian u16), each plane collected straight from the bytes (a zeroed frame filled
/// afterwards writes every sample twice).
pub(crate) fn unpack(buf: &[u8], format: FrameFormat, index: u64) -> Frame {
    let bytes = if format.bit_depth > 8 { 2 } else { 1 };
    let mut off = 0;
    let planes = (0..format.chroma.planes())
        .map(|i| {
            let (width, height) = format.plane_size(i);
            let src = &buf[off..off + bytes * width * height];
            off += src.len();
            if bytes == 2 {
                let le = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
                Plane::from_u16(width, height, src.chunks_exact(2).map(le).collect())
            } else {
                Plane::from_u8(width, height, src.to_vec())
            }
        })
        .collect();
    Frame {
        format,
        planes,
        index,
    }
}

/// Packs a frame's planes into bytes (the y4m / raw layout).
pub(crate) fn pack(frame: &Frame, out: &mut Vec<u8>) {
    out.clear();
    let deep = frame.format.bit_depth > 8;
    for p in &frame.planes {
        match &p.samples {
            Samples::U8(v) if !deep => out.extend_from_slice(v),
            s if deep => {
                for v in s.iter() {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            s => out.extend(s.iter().map(|v| v as u8)),
        }
    }
}

impl FrameSource for Y4mReader {
    fn info(&self) -> &VideoInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.next >= self.info.frames {
            return Ok(None);
        }
        let line = read_line(&mut self.file, &self.path)?.ok_or_else(|| {
            Error::media(self.path.display().to_string(), "file shrank while reading")
        })?;
        check_frame_line(&line, &self.path, self.next)?;
        self.buf.resize(frame_bytes(&self.info.format) as usize, 0);
        self.file
            .read_exact(&mut self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        let frame = unpack(&self.buf, self.info.format, self.next);
        self.next += 1;
        Ok(Some(frame))
    }

    fn seek(&mut self, index: u64) -> Result<bool> {
        if !self.uniform || index < self.next || index > self.info.frames {
            return Ok(false);
        }
        let pos = self.data_start + index * (6 + frame_bytes(&self.info.format));
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| Error::io(&self.path, e))?;
        self.next = index;
        Ok(true)
    }
}

/// The y4m `C` tag (and FFmpeg's XYSCSS twin) for a frame format.
fn tags(f: &FrameFormat) -> Result<(&'static str, &'static str)> {
    Ok(match (f.chroma, f.bit_depth) {
        (Chroma::Yuv420, 8) => ("420jpeg", "420JPEG"),
        (Chroma::Yuv422, 8) => ("422", "422"),
        (Chroma::Yuv444, 8) => ("444", "444"),
        (Chroma::Gray, 8) => ("mono", "400"),
        (Chroma::Yuv420, 10) => ("420p10", "420P10"),
        (Chroma::Yuv422, 10) => ("422p10", "422P10"),
        (Chroma::Yuv444, 10) => ("444p10", "444P10"),
        (Chroma::Gray, 10) => ("mono10", "400"),
        (c, d) => {
            return Err(Error::media(
                format!("{c:?} {d}-bit"),
                "cannot be written as y4m (8 or 10 bit only)",
            ))
        }
    })
}

/// Writes frames to a `.y4m` stream (header on creation, one FRAME per [`Y4mWriter::write`]).
pub struct Y4mWriter<W: Write> {
    out: W,
    format: FrameFormat,
    buf: Vec<u8>,
    what: String,
}

impl Y4mWriter<std::io::BufWriter<File>> {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path, format: FrameFormat, fps: (u32, u32)) -> Result<Self> {
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        Y4mWriter::new(
            std::io::BufWriter::new(f),
            format,
            fps,
            &path.display().to_string(),
        )
    }
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the header to `out`; `what` names the destination in errors.
    pub fn new(mut out: W, format: FrameFormat, fps: (u32, u32), what: &str) -> Result<Self> {
        let (c, x) = tags(&format)?;
        writeln!(
            out,
            "YUV4MPEG2 W{} H{} F{}:{} Ip A1:1 C{c} XYSCSS={x}",
            format.width, format.height, fps.0, fps.1
        )
        .map_err(|e| Error::io(what, e))?;
        Ok(Y4mWriter {
            out,
            format,
            buf: Vec::new(),
            what: what.into(),
        })
    }

    pub fn write(&mut self, frame: &Frame) -> Result<()> {
        if frame.format != self.format {
            return Err(Error::Mismatch(format!(
                "{}: frame {} is {:?}, the stream is {:?}",
                self.what, frame.index, frame.format, self.format
            )));
        }
        pack(frame, &mut self.buf);
        self.out
            .write_all(b"FRAME\n")
            .and_then(|_| self.out.write_all(&self.buf))
            .map_err(|e| Error::io(&self.what, e))
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|e| Error::io(&self.what, e))?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Header> {
        parse_header(s.as_bytes(), Path::new("t.y4m"))
    }

    #[test]
    fn header_tags() {
        let h = parse("YUV4MPEG2 W720 H405 F30000:1001 Ip A1:1 C420p10 XYSCSS=420P10").unwrap();
        assert_eq!(h.format, FrameFormat::new(720, 405, Chroma::Yuv420, 10));
        assert_eq!(h.fps, (30000, 1001));
        // XYSCSS fills in only when C is absent.
        let h = parse("YUV4MPEG2 W2 H2 F25:1 XYSCSS=444P10").unwrap();
        assert_eq!((h.format.chroma, h.format.bit_depth), (Chroma::Yuv444, 10));
        assert_eq!(
            parse("YUV4MPEG2 W2 H2 F25:1").unwrap().format.chroma,
            Chroma::Yuv420
        );
        let e = parse("YUV4MPEG2 W2 H2 F25:1 C411").unwrap_err().to_string();
        assert!(e.contains("t.y4m") && e.contains("C411"), "{e}");
        assert!(parse("YUV4MPEG2 W2 F25:1").is_err());
        assert!(parse("YUV4MPEG2 W2 H2 F0:1").is_err());
        assert!(parse("RIFF").is_err());
    }

    /// Fuzz case (fuzz/corpus/y4m/regress-utf8-tag.y4m): a header token starting with a
    /// multi-byte character is skipped like other unknown tags.
    #[test]
    fn header_token_with_multibyte_first_char() {
        let h = parse("YUV4MPEG2 W4 H2 \u{435}25 F25:1").unwrap();
        assert_eq!((h.format.width, h.format.height, h.fps), (4, 2, (25, 1)));
        let e = parse("YUV4MPEG2 W4 H\u{435}2 \u{435}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("W/H"), "{e}");
    }

    /// Fuzz regression (fuzz/corpus/y4m/regress-huge-size.y4m): a 20-digit H overflowed the
    /// frame-size product; sizes above MAX_DIM are an error naming the size.
    #[test]
    fn huge_header_size_is_an_error() {
        let e = parse("YUV4MPEG2 W3 H11111111111111111113 F30:1 Cmono")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("3x11111111111111111113") && e.contains("limit"),
            "{e}"
        );
        assert!(parse("YUV4MPEG2 W32769 H2 F30:1").is_err());
        let h = parse("YUV4MPEG2 W32768 H32768 F30:1 C444p10").unwrap();
        assert_eq!(frame_bytes(&h.format), 32768 * 32768 * 3 * 2);
    }

    /// A header announcing a huge frame with no frame data opens as an empty stream without
    /// allocating a frame buffer.
    #[test]
    fn huge_header_without_frames_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.y4m");
        std::fs::write(&p, "YUV4MPEG2 W32768 H32768 F25:1 C444p10\n").unwrap();
        let mut r = Y4mReader::open(&p).unwrap();
        assert_eq!(r.info().frames, 0);
        assert!(r.buf.capacity() == 0);
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn pack_unpack_round_trip() {
        let mut f = Frame::new(FrameFormat::new(3, 3, Chroma::Yuv420, 10), 0);
        for (i, p) in f.planes.iter_mut().enumerate() {
            p.samples.update(|k, _| (i * 300 + k * 97) as u16 % 1024);
        }
        let mut buf = Vec::new();
        pack(&f, &mut buf);
        assert_eq!(buf.len() as u64, frame_bytes(&f.format));
        assert_eq!(f, unpack(&buf, f.format, 0));
        let mut f8 = Frame::new(FrameFormat::new(5, 3, Chroma::Yuv422, 8), 7);
        for (i, p) in f8.planes.iter_mut().enumerate() {
            p.samples.update(|k, _| (i * 71 + k * 13) as u16 % 256);
        }
        pack(&f8, &mut buf);
        assert_eq!(buf.len() as u64, frame_bytes(&f8.format));
        assert_eq!(f8, unpack(&buf, f8.format, 7));
    }
}
