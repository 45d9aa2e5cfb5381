//! Resizing with swscale, keeping chroma subsampling and bit depth.

use super::conv::pixel_of;
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameFormat, Samples};
use ff::ffi;
use ff::software::scaling::Flags;
use ffmpeg_next as ff;

/// swscale's interpolation: the one type for a scaler, whether named by a recipe's `[scaling]`,
/// a grid task's filters (and so its store key), a ladder's ffmpeg commands or `--scaler`.
/// VMAF's published convention upscales with bicubic, the default; the flag alone (no
/// accurate-rounding extras) is what the ffmpeg CLI's `scale=flags=bicubic` passes, so our frames
/// match a hand-made ffmpeg pipeline. Serialized as [`ScalerKind::name`], read by
/// [`ScalerKind::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ScalerKind {
    #[default]
    Bicubic,
    Bilinear,
    Lanczos,
    FastBilinear,
    /// Nearest neighbour.
    Point,
    Area,
    Spline,
    Gauss,
}

impl ScalerKind {
    pub const ALL: [ScalerKind; 8] = [
        ScalerKind::Bicubic,
        ScalerKind::Bilinear,
        ScalerKind::Lanczos,
        ScalerKind::FastBilinear,
        ScalerKind::Point,
        ScalerKind::Area,
        ScalerKind::Spline,
        ScalerKind::Gauss,
    ];

    /// The name as FFmpeg's `flags=` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ScalerKind::Bicubic => "bicubic",
            ScalerKind::Bilinear => "bilinear",
            ScalerKind::Lanczos => "lanczos",
            ScalerKind::FastBilinear => "fast_bilinear",
            ScalerKind::Point => "neighbor",
            ScalerKind::Area => "area",
            ScalerKind::Spline => "spline",
            ScalerKind::Gauss => "gauss",
        }
    }

    /// Parses a name (case-insensitive; `point`/`nearest` accepted for `neighbor`); the error
    /// names the value and the choices.
    pub fn parse(s: &str) -> Result<ScalerKind> {
        let l = s.trim().to_ascii_lowercase();
        let alias = match l.as_str() {
            "point" | "nearest" => "neighbor",
            "fast-bilinear" | "fastbilinear" => "fast_bilinear",
            other => other,
        };
        ScalerKind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| {
                let names: Vec<_> = ScalerKind::ALL.iter().map(|k| k.name()).collect();
                Error::config(
                    "scaler",
                    format!("unknown scaler {s:?} (one of {})", names.join(", ")),
                )
            })
    }

    fn flags(self) -> Flags {
        match self {
            ScalerKind::Bicubic => Flags::BICUBIC,
            ScalerKind::Bilinear => Flags::BILINEAR,
            ScalerKind::Lanczos => Flags::LANCZOS,
            ScalerKind::FastBilinear => Flags::FAST_BILINEAR,
            ScalerKind::Point => Flags::POINT,
            ScalerKind::Area => Flags::AREA,
            ScalerKind::Spline => Flags::SPLINE,
            ScalerKind::Gauss => Flags::GAUSS,
        }
    }
}

impl std::fmt::Display for ScalerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for ScalerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ScalerKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScalerKind::parse(&s).map_err(|e| match e {
            Error::Config { reason, .. } => serde::de::Error::custom(reason),
            other => serde::de::Error::custom(other),
        })
    }
}

/// The size for a target height keeping the source's aspect ratio, both dimensions even (as 4:2:0
/// encoders need): width = round(src_w · h / src_h) to the nearest even number, at least 2.
pub fn even_size_for_height(src_w: usize, src_h: usize, height: usize) -> (usize, usize) {
    let h = (height.max(2) + 1) & !1;
    let w = if src_h == 0 {
        2
    } else {
        let exact = src_w as f64 * h as f64 / src_h as f64;
        ((exact / 2.0).round() as usize * 2).max(2)
    };
    (w, h)
}

/// Bytes of alignment for plane buffers handed to swscale: its SIMD paths want 16/32-byte aligned
/// rows, and 64 covers AVX-512.
const ALIGN: usize = 64;

/// One plane buffer with aligned start and stride.
struct Buf {
    mem: Vec<u8>,
    off: usize,
    stride: usize,
}

impl Buf {
    fn new(w: usize, h: usize, bps: usize) -> Buf {
        let stride = (w * bps).div_ceil(ALIGN) * ALIGN;
        let mem = vec![0u8; stride * h + ALIGN];
        let off = mem.as_ptr().align_offset(ALIGN);
        Buf { mem, off, stride }
    }
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.mem[self.off..]
    }
}

/// A swscale context for one source format → one target size. Not shareable across threads at
/// once, but `Send`: make one per worker thread.
pub struct Scaler {
    ctx: *mut ffi::SwsContext,
    src: FrameFormat,
    dst: FrameFormat,
    kind: ScalerKind,
    src_bufs: Vec<Buf>,
    dst_bufs: Vec<Buf>,
}

// SAFETY: the SwsContext is owned by this value, never aliased, and only used through `&mut self`
// (one thread at a time); swscale contexts carry no thread affinity.
unsafe impl Send for Scaler {}

impl Drop for Scaler {
    fn drop(&mut self) {
        // SAFETY: ctx came from sws_getContext and is freed once.
        unsafe { ffi::sws_freeContext(self.ctx) }
    }
}

impl Scaler {
    /// A scaler from frames of `src` to `dst_w`×`dst_h` with the same chroma and bit depth.
    pub fn new(src: FrameFormat, dst_w: usize, dst_h: usize, kind: ScalerKind) -> Result<Scaler> {
        super::init();
        let what = format!(
            "scaler {}x{} -> {dst_w}x{dst_h} ({kind})",
            src.width, src.height
        );
        if src.width == 0 || src.height == 0 || dst_w == 0 || dst_h == 0 {
            return Err(Error::config(
                "size",
                format!("{what}: sizes must not be 0"),
            ));
        }
        let pix = pixel_of(&src)?;
        let dst = FrameFormat::new(dst_w, dst_h, src.chroma, src.bit_depth);
        // SAFETY: plain constructor call with valid sizes and formats; null filters/params.
        let ctx = unsafe {
            ffi::sws_getContext(
                src.width as i32,
                src.height as i32,
                pix.into(),
                dst_w as i32,
                dst_h as i32,
                pix.into(),
                kind.flags().bits(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        if ctx.is_null() {
            return Err(Error::codec(what, "swscale refused the conversion"));
        }
        let bps = if src.bit_depth > 8 { 2 } else { 1 };
        let bufs = |f: &FrameFormat| {
            (0..f.chroma.planes())
                .map(|i| {
                    let (w, h) = f.plane_size(i);
                    Buf::new(w, h, bps)
                })
                .collect::<Vec<_>>()
        };
        Ok(Scaler {
            ctx,
            src_bufs: bufs(&src),
            dst_bufs: bufs(&dst),
            src,
            dst,
            kind,
        })
    }

    pub fn src_format(&self) -> FrameFormat {
        self.src
    }

    pub fn dst_format(&self) -> FrameFormat {
        self.dst
    }

    pub fn kind(&self) -> ScalerKind {
        self.kind
    }

    /// Scales one frame (its `index` is kept). Same size in and out is a plain copy.
    pub fn scale(&mut self, frame: &Frame) -> Result<Frame> {
        let mut out = Frame::new(self.dst, frame.index);
        self.scale_into(frame, &mut out)?;
        Ok(out)
    }

    /// [`Scaler::scale`] into `out`, whose buffers are reused when it already has the output
    /// format (every sample is overwritten): a caller scaling frame after frame then allocates,
    /// zeroes and frees nothing per frame.
    pub fn scale_into(&mut self, frame: &Frame, out: &mut Frame) -> Result<()> {
        // Reused only with the format and the storage this scaler writes.
        let bytes = self.dst.bit_depth <= 8;
        if out.format != self.dst
            || out
                .planes
                .iter()
                .any(|p| matches!(p.samples, Samples::U8(_)) != bytes)
        {
            *out = Frame::new(self.dst, frame.index);
        }
        out.index = frame.index;
        if frame.format != self.src {
            return Err(Error::Mismatch(format!(
                "scaler built for {}x{} {:?} {}-bit got frame {} of {}x{} {:?} {}-bit",
                self.src.width,
                self.src.height,
                self.src.chroma,
                self.src.bit_depth,
                frame.index,
                frame.width(),
                frame.height(),
                frame.format.chroma,
                frame.format.bit_depth
            )));
        }
        if self.src == self.dst {
            out.clone_from(frame);
            return Ok(());
        }
        let deep = self.src.bit_depth > 8;
        for (p, b) in frame.planes.iter().zip(self.src_bufs.iter_mut()) {
            let (stride, w) = (b.stride, p.width);
            let bytes = b.bytes();
            for y in 0..p.height {
                let row = &mut bytes[y * stride..];
                match &p.samples {
                    Samples::U8(v) if !deep => row[..w].copy_from_slice(&v[y * w..(y + 1) * w]),
                    samples => {
                        let src = (y * w..(y + 1) * w).map(|i| samples.get(i));
                        if deep {
                            for (x, s) in src.enumerate() {
                                row[2 * x..2 * x + 2].copy_from_slice(&s.to_le_bytes());
                            }
                        } else {
                            for (o, s) in row.iter_mut().zip(src) {
                                *o = s as u8;
                            }
                        }
                    }
                }
            }
        }
        let mut src_ptr = [std::ptr::null::<u8>(); 4];
        let mut src_stride = [0i32; 4];
        for (i, b) in self.src_bufs.iter_mut().enumerate() {
            src_stride[i] = b.stride as i32;
            src_ptr[i] = b.bytes().as_ptr();
        }
        let mut dst_ptr = [std::ptr::null_mut::<u8>(); 4];
        let mut dst_stride = [0i32; 4];
        for (i, b) in self.dst_bufs.iter_mut().enumerate() {
            dst_stride[i] = b.stride as i32;
            dst_ptr[i] = b.bytes().as_mut_ptr();
        }
        // SAFETY: every plane pointer addresses a buffer of stride × plane height bytes of the
        // formats the context was built for; the arrays hold 4 entries as swscale expects.
        let r = unsafe {
            ffi::sws_scale(
                self.ctx,
                src_ptr.as_ptr(),
                src_stride.as_ptr(),
                0,
                self.src.height as i32,
                dst_ptr.as_ptr(),
                dst_stride.as_ptr(),
            )
        };
        if r <= 0 {
            return Err(Error::codec(
                format!("scaler to {}x{}", self.dst.width, self.dst.height),
                format!("sws_scale failed on frame {}", frame.index),
            ));
        }
        for (p, b) in out.planes.iter_mut().zip(self.dst_bufs.iter_mut()) {
            let stride = b.stride;
            let (w, h) = (p.width, p.height);
            let bytes = b.bytes();
            for y in 0..h {
                let row = &bytes[y * stride..];
                match &mut p.samples {
                    Samples::U8(v) => v[y * w..(y + 1) * w].copy_from_slice(&row[..w]),
                    Samples::U16(v) => {
                        for (x, o) in v[y * w..(y + 1) * w].iter_mut().enumerate() {
                            *o = u16::from_le_bytes([row[2 * x], row[2 * x + 1]]);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
