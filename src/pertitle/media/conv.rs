//! Pixel-format bookkeeping and copies between FFmpeg frames and [`Frame`].
//!
//! Planar 8/10-bit YUV and gray map one to one onto [`FrameFormat`]; semi-planar layouts (nv12,
//! p010, ...) are first converted to their planar twin with swscale (a lossless reshuffle at equal
//! size); everything else is refused with "unsupported pixel format".

use crate::error::{Error, Result};
use crate::frame::{Chroma, Frame, FrameFormat, Plane, Samples};
use ff::ffi;
use ff::format::Pixel;
use ffmpeg_next as ff;
use std::str::FromStr;

#[cfg(target_endian = "big")]
compile_error!("the media layer passes deep (u16) samples to FFmpeg as *le pixel formats");

/// Planar formats we read natively: (FFmpeg name, chroma, bit depth). The `yuvj*` (full range)
/// names share their layout with the limited-range ones.
const NATIVE: &[(&str, Chroma, u8)] = &[
    ("yuv420p", Chroma::Yuv420, 8),
    ("yuvj420p", Chroma::Yuv420, 8),
    ("yuv422p", Chroma::Yuv422, 8),
    ("yuvj422p", Chroma::Yuv422, 8),
    ("yuv444p", Chroma::Yuv444, 8),
    ("yuvj444p", Chroma::Yuv444, 8),
    ("gray", Chroma::Gray, 8),
    ("yuv420p10le", Chroma::Yuv420, 10),
    ("yuv422p10le", Chroma::Yuv422, 10),
    ("yuv444p10le", Chroma::Yuv444, 10),
    ("gray10le", Chroma::Gray, 10),
];

/// Semi-planar (interleaved chroma) formats and the planar format swscale turns them into.
const SEMI_PLANAR: &[(&str, &str)] = &[
    ("nv12", "yuv420p"),
    ("nv21", "yuv420p"),
    ("nv16", "yuv422p"),
    ("nv24", "yuv444p"),
    ("nv42", "yuv444p"),
    ("p010le", "yuv420p10le"),
    ("p010be", "yuv420p10le"),
    ("p210le", "yuv422p10le"),
    ("p410le", "yuv444p10le"),
];

/// Chroma and bit depth of a natively supported planar pixel format.
pub(crate) fn native_layout(pix: Pixel) -> Option<(Chroma, u8)> {
    let name = pix.descriptor()?.name();
    NATIVE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, c, d)| (c, d))
}

/// The planar format a semi-planar one is converted to.
pub(crate) fn planar_twin(pix: Pixel) -> Option<Pixel> {
    let name = pix.descriptor()?.name();
    SEMI_PLANAR
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, p)| Pixel::from_str(p).ok())
}

/// FFmpeg's name of a pixel format ("none" when FFmpeg has no descriptor).
pub(crate) fn pix_name(pix: Pixel) -> String {
    pix.descriptor()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| "none".into())
}

/// The FFmpeg pixel format that stores a [`FrameFormat`] (the limited-range name).
pub(crate) fn pixel_of(format: &FrameFormat) -> Result<Pixel> {
    let name = match (format.chroma, format.bit_depth) {
        (Chroma::Yuv420, 8) => "yuv420p",
        (Chroma::Yuv422, 8) => "yuv422p",
        (Chroma::Yuv444, 8) => "yuv444p",
        (Chroma::Gray, 8) => "gray",
        (Chroma::Yuv420, 10) => "yuv420p10le",
        (Chroma::Yuv422, 10) => "yuv422p10le",
        (Chroma::Yuv444, 10) => "yuv444p10le",
        (Chroma::Gray, 10) => "gray10le",
        (c, d) => {
            return Err(Error::media(
                format!("{c:?} {d}-bit"),
                "unsupported frame format (8 or 10 bit only)",
            ))
        }
    };
    Pixel::from_str(name).map_err(|_| Error::media(name, "pixel format unknown to FFmpeg"))
}

/// FFmpeg pixel format name of a [`FrameFormat`].
pub fn pix_fmt_name(format: &FrameFormat) -> Result<String> {
    pixel_of(format).map(pix_name)
}

/// Parses an FFmpeg pixel-format name into the planar layout we read natively.
pub fn parse_pix_fmt(name: &str) -> Option<(Chroma, u8)> {
    NATIVE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, c, d)| (c, d))
        .or(match name {
            // Common aliases.
            "gray8" => Some((Chroma::Gray, 8)),
            "yuv420p10" => Some((Chroma::Yuv420, 10)),
            "yuv422p10" => Some((Chroma::Yuv422, 10)),
            "yuv444p10" => Some((Chroma::Yuv444, 10)),
            "gray10" => Some((Chroma::Gray, 10)),
            _ => None,
        })
}

/// Turns whatever pixel formats a decoder or filter graph produces into [`Frame`]s: native planar
/// layouts are copied, semi-planar ones go through a same-size swscale conversion first.
pub(crate) struct FrameReader {
    /// Name of the input (file path or "demo") used in error messages.
    what: String,
    conv: Option<(
        Pixel,
        u32,
        u32,
        ff::software::scaling::Context,
        ff::frame::Video,
    )>,
}

// SAFETY: the swscale context and frame are owned exclusively by this value and only used through
// `&mut self`, i.e. from one thread at a time; FFmpeg has no thread affinity for them.
unsafe impl Send for FrameReader {}

impl FrameReader {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        FrameReader {
            what: what.into(),
            conv: None,
        }
    }

    /// The [`FrameFormat`] frames of `pix` at `w`×`h` become, or the "unsupported" error.
    pub(crate) fn format_for(what: &str, pix: Pixel, w: u32, h: u32) -> Result<FrameFormat> {
        let layout = native_layout(pix).or_else(|| planar_twin(pix).and_then(native_layout));
        match layout {
            Some((chroma, depth)) => Ok(FrameFormat::new(w as usize, h as usize, chroma, depth)),
            None => Err(Error::media(
                what,
                format!(
                    "unsupported pixel format {} (planar YUV 4:2:0/4:2:2/4:4:4 or gray, 8 or 10 bit, is supported)",
                    pix_name(pix)
                ),
            )),
        }
    }

    /// Copies a decoded picture into a new [`Frame`] with the given display index.
    pub(crate) fn read(&mut self, src: &ff::frame::Video, index: u64) -> Result<Frame> {
        let pix = src.format();
        let (w, h) = (src.width(), src.height());
        let format = Self::format_for(&self.what, pix, w, h)?;
        if native_layout(pix).is_some() {
            return Ok(copy_from_av(src, format, index));
        }
        let twin = planar_twin(pix).expect("format_for accepted a semi-planar format");
        let rebuild =
            !matches!(&self.conv, Some((p, cw, ch, _, _)) if *p == pix && *cw == w && *ch == h);
        if rebuild {
            let ctx = ff::software::scaling::Context::get(
                pix,
                w,
                h,
                twin,
                w,
                h,
                ff::software::scaling::Flags::POINT,
            )
            .map_err(|e| {
                Error::media(&self.what, format!("cannot convert {}: {e}", pix_name(pix)))
            })?;
            self.conv = Some((pix, w, h, ctx, ff::frame::Video::empty()));
        }
        let (_, _, _, ctx, out) = self.conv.as_mut().expect("converter set above");
        ctx.run(src, out).map_err(|e| {
            Error::media(&self.what, format!("cannot convert {}: {e}", pix_name(pix)))
        })?;
        Ok(copy_from_av(out, format, index))
    }
}

/// Copies the planes of a planar FFmpeg frame (whose layout matches `format`).
pub(crate) fn copy_from_av(src: &ff::frame::Video, format: FrameFormat, index: u64) -> Frame {
    // Planes are built row by row rather than zeroed first and overwritten: a frame per decoded
    // frame of every point, so the zeroing was a full extra pass over each.
    let planes = (0..format.chroma.planes())
        .map(|i| {
            let (w, h) = format.plane_size(i);
            let stride = src.stride(i);
            let data = src.data(i);
            if format.bit_depth > 8 {
                let mut out = Vec::with_capacity(w * h);
                for y in 0..h {
                    let row = &data[y * stride..][..2 * w];
                    out.extend(
                        row.chunks_exact(2)
                            .map(|b| u16::from_le_bytes([b[0], b[1]])),
                    );
                }
                Plane::from_u16(w, h, out)
            } else {
                let mut out = Vec::with_capacity(w * h);
                for y in 0..h {
                    out.extend_from_slice(&data[y * stride..][..w]);
                }
                Plane::from_u8(w, h, out)
            }
        })
        .collect();
    Frame {
        format,
        planes,
        index,
    }
}

/// Writes a [`Frame`] into a writable FFmpeg frame of the matching planar format.
pub(crate) fn copy_to_av(frame: &Frame, dst: &mut ff::frame::Video) {
    let deep = frame.format.bit_depth > 8;
    let mut wide = Vec::new();
    for (i, plane) in frame.planes.iter().enumerate() {
        let (stride, w) = (dst.stride(i), plane.width);
        let data = dst.data_mut(i);
        for y in 0..plane.height {
            let row = &mut data[y * stride..];
            // The row's alignment padding is filled too (replicating the last sample): encoders
            // may read past the width (SIMD), and uninitialised padding made libx264's output
            // depend on what the allocator had left there, i.e. on the thread's history.
            let n = stride.min(row.len());
            let row = &mut row[..n];
            match &plane.samples {
                Samples::U8(v) if !deep => {
                    let src = &v[y * w..(y + 1) * w];
                    row[..w].copy_from_slice(src);
                    let last = src.last().copied().unwrap_or(0);
                    row[w..].fill(last);
                }
                _ => {
                    let src = plane.row_wide(y, &mut wide);
                    if deep {
                        for (x, &s) in src.iter().enumerate() {
                            row[2 * x..2 * x + 2].copy_from_slice(&s.to_le_bytes());
                        }
                        let last = src.last().copied().unwrap_or(0).to_le_bytes();
                        for px in row[2 * src.len()..].chunks_exact_mut(2) {
                            px.copy_from_slice(&last);
                        }
                    } else {
                        for (o, &s) in row.iter_mut().zip(src) {
                            *o = s as u8;
                        }
                        let last = src.last().copied().unwrap_or(0) as u8;
                        row[src.len()..].fill(last);
                    }
                }
            }
        }
    }
}

/// FFmpeg's text for an error code.
pub(crate) fn av_err(code: i32) -> String {
    ff::Error::from(code).to_string()
}

/// Sets an AVOption on `obj` (searching its children, i.e. the codec's private options first, as
/// the ffmpeg CLI does), with an error naming `what`, the option and its value.
///
/// # Safety
/// `obj` must point to a live AVOptions-enabled struct (e.g. an `AVCodecContext`).
pub(crate) unsafe fn set_opt(
    obj: *mut std::ffi::c_void,
    what: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let k = std::ffi::CString::new(key)
        .map_err(|_| Error::codec(what, format!("option name {key:?} contains NUL")))?;
    let v = std::ffi::CString::new(value)
        .map_err(|_| Error::codec(what, format!("option {key} value {value:?} contains NUL")))?;
    let r = ffi::av_opt_set(obj, k.as_ptr(), v.as_ptr(), ffi::AV_OPT_SEARCH_CHILDREN);
    if r < 0 && ff::Error::from(r) == ff::Error::OptionNotFound {
        return Err(Error::codec(what, format!("unknown option {key}")));
    }
    if r < 0 {
        return Err(Error::codec(
            what,
            format!("invalid value {value:?} for option {key}: {}", av_err(r)),
        ));
    }
    Ok(())
}

/// Whether `obj` (or its children) has an option called `key`.
///
/// # Safety
/// As for [`set_opt`].
pub(crate) unsafe fn has_opt(obj: *mut std::ffi::c_void, key: &str) -> bool {
    let Ok(k) = std::ffi::CString::new(key) else {
        return false;
    };
    !ffi::av_opt_find(
        obj,
        k.as_ptr(),
        std::ptr::null(),
        0,
        ffi::AV_OPT_SEARCH_CHILDREN,
    )
    .is_null()
}
