//! In-process encoding with any libavcodec video encoder, and decoding its packets back.

use super::conv::{av_err, copy_to_av, has_opt, pix_name, pixel_of, set_opt, FrameReader};
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameFormat};
use ff::codec::packet::{Mut as _, Ref as _};
use ff::ffi;
use ffmpeg_next as ff;
use std::ffi::CString;

/// Rate control of one encode: what the encoder is asked for, and (serialized) what a grid
/// task's key records about it, `{"mode": "crf", "crf": 24}`. The VBV cap is left out of the
/// serialized form when absent, so an uncapped bitrate task keeps the key of `{mode, kbps}`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum RateControl {
    /// Constant rate factor through the encoder's own `crf` option (x264/x265: float; libvpx,
    /// libaom, SVT-AV1: integer, with the target bitrate cleared so libvpx/libaom run in pure
    /// constant-quality mode, as FFmpeg's documentation prescribes with `-b:v 0`).
    Crf { crf: f64 },
    /// Constant quantiser through the encoder's `qp` option, else `qmin = qmax = qp`.
    Qp { qp: u32 },
    /// Average bitrate in kbit/s, with optional VBV/HRD cap.
    Bitrate {
        kbps: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maxrate_kbps: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bufsize_kbits: Option<u32>,
    },
    /// A CRF encode under a VBV cap (a capped-CRF rung): `crf` with `maxrate`/`bufsize`, or for
    /// libvpx/libaom constrained quality (`b:v` = the cap).
    CappedCrf {
        crf: f64,
        maxrate_kbps: u32,
        bufsize_kbits: u32,
    },
    /// Two-pass VBR at `kbps` under a VBV cap (a two-pass rung); the encoder is opened once per
    /// pass with [`EncoderConfig::pass`]. Encoders with no two-pass mode (libsvtav1 through
    /// FFmpeg) run the second pass's settings alone, as the ffmpeg command line does.
    TwoPass {
        kbps: u32,
        maxrate_kbps: u32,
        bufsize_kbits: u32,
    },
}

impl RateControl {
    /// The CRF asked for, if this is a CRF encode.
    pub fn crf(&self) -> Option<f64> {
        match *self {
            RateControl::Crf { crf } | RateControl::CappedCrf { crf, .. } => Some(crf),
            _ => None,
        }
    }
}

/// One pass of a two-pass encode: which, and the statistics file pass 1 writes and pass 2
/// reads (x264 and x265 write it themselves; for libvpx/libaom it is the context's
/// `stats_out`, saved by [`Encoder::end_first_pass`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassStats {
    /// 1 or 2.
    pub pass: u8,
    pub file: std::path::PathBuf,
}

/// How an encoder keeps its first pass's statistics in process.
enum StatsVia {
    /// A private option naming the file (libx264's `stats`).
    FileOption,
    /// `pass=N:stats=FILE` in `x265-params`.
    X265Params,
    /// `AVCodecContext.stats_out` after pass 1, `stats_in` for pass 2 (libvpx, libaom).
    Context,
}

/// Everything that determines an encode.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderConfig {
    /// libavcodec encoder name: `libx264`, `libx265`, `libvpx-vp9`, `libsvtav1`, `libaom-av1`, ...
    pub codec: String,
    pub width: usize,
    pub height: usize,
    pub fps_num: u32,
    pub fps_den: u32,
    /// Chroma and bit depth of the frames fed (their size must be `width`×`height`).
    pub format: FrameFormat,
    pub rate: RateControl,
    /// The encoder's `preset` option (x264/x265 names, SVT-AV1 numbers).
    pub preset: Option<String>,
    /// Further AVOptions, private ones first (`x264-params`, `tune`, `profile`, `cpu-used`, ...),
    /// applied in order. An unknown name is an error naming it.
    pub options: Vec<(String, String)>,
    /// Keyframe interval in frames (`g`); `None` keeps the encoder's default.
    pub gop: Option<u32>,
    /// Encoder threads. `None` means 1: x264 (and most encoders) are only reproducible for a fixed
    /// thread count, and the default `auto` depends on the machine; pertitle parallelises across
    /// encodes instead.
    pub threads: Option<u32>,
    /// The pass of a [`RateControl::TwoPass`] encode (`None` there: a single VBR pass, for
    /// encoders with no two-pass mode); ignored for other rate controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassStats>,
}

impl EncoderConfig {
    /// A config for `codec` at CRF `crf` for frames of `format`, other fields at their defaults.
    pub fn crf(codec: &str, format: FrameFormat, fps: (u32, u32), crf: f64) -> Self {
        EncoderConfig {
            codec: codec.into(),
            width: format.width,
            height: format.height,
            fps_num: fps.0,
            fps_den: fps.1,
            format,
            rate: RateControl::Crf { crf },
            preset: None,
            options: Vec::new(),
            gop: None,
            threads: None,
            pass: None,
        }
    }
}

/// One compressed packet: its exact bytes and timestamps in the stream time base (1/fps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub data: Vec<u8>,
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
}

/// What a decoder or muxer needs to know about an encoded stream (plain data, `Send`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamParams {
    /// Codec name as FFmpeg's codec descriptors spell it (`h264`, `hevc`, `vp9`, `av1`).
    pub codec: String,
    pub format: FrameFormat,
    pub fps_num: u32,
    pub fps_den: u32,
    /// Codec extradata (global headers), empty when headers are in-band.
    pub extradata: Vec<u8>,
}

/// The config's options plus what makes the encoder reproducible. libx264's AVX-512 paths gave
/// bitstreams that depended on the calling thread (measured: the same encode differed by a few
/// bytes between a fresh thread and the main thread, never within one thread); x264's own
/// `cpu-independent=1` ("ensure exact reproducibility across different CPUs") removes that, and
/// makes a content-addressed result valid on any machine. Added unless the user set it.
///
/// libx265 takes only its frame threads from the context's thread count; its worker pool (wave
/// fronts, look-ahead) still spans every core, and under load a two-pass encode at one thread
/// gave other bytes from the second GOP on (1 run in 3 of the test suite). `pools=none` makes
/// one thread mean one thread, as it does for the other encoders. Added for one thread unless
/// the user set `pools`.
fn deterministic_options(cfg: &EncoderConfig) -> Vec<(String, String)> {
    let mut opts = cfg.options.clone();
    let mut add = |key: &str, name: &str, value: &str| match opts.iter_mut().find(|(k, _)| k == key)
    {
        Some((_, v)) if v.contains(name) => {}
        Some((_, v)) if v.is_empty() => *v = format!("{name}={value}"),
        Some((_, v)) => v.push_str(&format!(":{name}={value}")),
        None => opts.push((key.into(), format!("{name}={value}"))),
    };
    match cfg.codec.as_str() {
        "libx264" => add("x264-params", "cpu-independent", "1"),
        "libx265" if cfg.threads.unwrap_or(1) == 1 => add("x265-params", "pools", "none"),
        _ => {}
    }
    opts
}

/// Identifies the encoder's library build for cache keys: the encoder name and libavcodec's
/// version (distributions rebuild the encoder wrappers with it). Another build may produce other
/// bitstreams, so its results must not be reused.
pub fn encoder_build(name: &str) -> String {
    // SAFETY: a plain version query with no arguments.
    let v = unsafe { ffi::avcodec_version() };
    format!(
        "{name} libavcodec {}.{}.{}",
        v >> 16,
        (v >> 8) & 0xff,
        v & 0xff
    )
}

/// Whether this FFmpeg build has a video encoder called `name`.
pub fn encoder_available(name: &str) -> bool {
    super::init();
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: lookup by a valid C string; the result is a static descriptor or null.
    unsafe {
        let codec = ffi::avcodec_find_encoder_by_name(c.as_ptr());
        !codec.is_null() && (*codec).type_ == ffi::AVMediaType::AVMEDIA_TYPE_VIDEO
    }
}

/// Owned AVCodecContext.
struct Ctx(*mut ffi::AVCodecContext);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: allocated by avcodec_alloc_context3, freed once.
        unsafe { ffi::avcodec_free_context(&mut self.0) }
    }
}

fn is_eagain(r: i32) -> bool {
    r == -libc::EAGAIN
}

fn is_eof(r: i32) -> bool {
    ff::Error::from(r) == ff::Error::Eof
}

/// libvpx and libaom read a bitrate in CRF mode as a constrained-quality cap.
fn name_is_cq(name: &str) -> bool {
    matches!(name, "libvpx-vp9" | "libvpx" | "libaom-av1")
}

/// # Safety
/// `obj` is a valid codec context.
unsafe fn stats_via(obj: *mut std::ffi::c_void, name: &str) -> StatsVia {
    if name == "libx265" {
        StatsVia::X265Params
    // SAFETY: the caller guarantees `obj` is a valid codec context.
    } else if unsafe { has_opt(obj, "stats") } {
        StatsVia::FileOption
    } else {
        StatsVia::Context
    }
}

/// Sets the average bitrate and VBV cap (kbit/s, kbit) that are given.
///
/// # Safety
/// `c` is a valid, not yet opened codec context.
unsafe fn set_vbv(
    c: *mut ffi::AVCodecContext,
    kbps: Option<u32>,
    maxrate_kbps: Option<u32>,
    bufsize_kbits: Option<u32>,
) {
    // SAFETY: the caller guarantees `c` is valid; plain field writes.
    unsafe {
        if let Some(k) = kbps {
            (*c).bit_rate = k as i64 * 1000;
        }
        if let Some(m) = maxrate_kbps {
            (*c).rc_max_rate = m as i64 * 1000;
        }
        if let Some(b) = bufsize_kbits {
            (*c).rc_buffer_size = (b as i64 * 1000).min(i32::MAX as i64) as i32;
        }
    }
}

/// Sets the encoder's own `crf` option (integer for libvpx/libaom/SVT-AV1, float for x264/x265).
///
/// # Safety
/// `c` is a valid, not yet opened codec context.
unsafe fn set_crf(c: *mut ffi::AVCodecContext, name: &str, crf: f64) -> Result<()> {
    if !crf.is_finite() || crf < 0.0 {
        return Err(Error::config(
            "crf",
            format!("{crf} for {name}: must be ≥ 0"),
        ));
    }
    let obj = c as *mut std::ffi::c_void;
    // SAFETY: option lookup on a valid context; the result is a static option or null.
    let opt = unsafe {
        ffi::av_opt_find(
            obj,
            c"crf".as_ptr(),
            std::ptr::null(),
            0,
            ffi::AV_OPT_SEARCH_CHILDREN,
        )
    };
    if opt.is_null() {
        return Err(Error::codec(
            name,
            "has no crf option; use a QP or bitrate rate control",
        ));
    }
    // SAFETY: `opt` is non-null and points to a static AVOption.
    let integer = unsafe {
        matches!(
            (*opt).type_,
            ffi::AVOptionType::AV_OPT_TYPE_INT | ffi::AVOptionType::AV_OPT_TYPE_INT64
        )
    };
    let value = if integer {
        if crf.fract() != 0.0 {
            return Err(Error::config(
                "crf",
                format!("{crf} for {name}: this encoder takes an integer CRF"),
            ));
        }
        format!("{}", crf as i64)
    } else {
        format!("{crf}")
    };
    set_opt(obj, name, "crf", &value).map_err(|e| Error::config("crf", e.to_string()))
}

/// A libavcodec encoder fed [`Frame`]s. `Send`: own it from one thread at a time.
pub struct Encoder {
    ctx: Ctx,
    cfg: EncoderConfig,
    av_frame: ff::frame::Video,
    packet: ff::Packet,
    next_pts: i64,
    total_bytes: u64,
    finished: bool,
}

// SAFETY: the codec context, frame and packet are owned exclusively and used only through `&mut
// self`; libavcodec contexts may move between threads as long as calls do not overlap.
unsafe impl Send for Encoder {}

impl Encoder {
    /// Opens the encoder `cfg.codec` with the config's rate control, preset and options.
    pub fn new(cfg: &EncoderConfig) -> Result<Encoder> {
        super::init();
        // Defined heap bytes before the encoder allocates (see `determinism`).
        crate::determinism::init();
        let name = cfg.codec.as_str();
        if cfg.width != cfg.format.width || cfg.height != cfg.format.height {
            return Err(Error::config(
                "size",
                format!(
                    "{name}: encoder size {}x{} differs from frame format {}x{}",
                    cfg.width, cfg.height, cfg.format.width, cfg.format.height
                ),
            ));
        }
        if cfg.width == 0 || cfg.height == 0 || cfg.fps_num == 0 || cfg.fps_den == 0 {
            return Err(Error::config(
                "size",
                format!("{name}: size and frame rate must be positive"),
            ));
        }
        let cname =
            CString::new(name).map_err(|_| Error::codec(name, "encoder name contains NUL"))?;
        let pix = pixel_of(&cfg.format)?;
        // SAFETY: FFI calls on objects we allocate here and own (Ctx frees the context); option
        // strings are valid C strings for the duration of each call.
        unsafe {
            let codec = ffi::avcodec_find_encoder_by_name(cname.as_ptr());
            if codec.is_null() {
                return Err(Error::codec(
                    name,
                    "unknown encoder: not available in this FFmpeg build",
                ));
            }
            if (*codec).type_ != ffi::AVMediaType::AVMEDIA_TYPE_VIDEO {
                return Err(Error::codec(name, "not a video encoder"));
            }
            let fmts = (*codec).pix_fmts;
            if !fmts.is_null() {
                let mut accepted = Vec::new();
                let mut p = fmts;
                while *p != ffi::AVPixelFormat::AV_PIX_FMT_NONE {
                    accepted.push(*p);
                    p = p.add(1);
                }
                if !accepted.contains(&pix.into()) {
                    let names: Vec<String> = accepted
                        .iter()
                        .map(|&f| pix_name(ff::format::Pixel::from(f)))
                        .collect();
                    return Err(Error::codec(
                        name,
                        format!(
                            "does not accept pixel format {} (accepts {})",
                            pix_name(pix),
                            names.join(", ")
                        ),
                    ));
                }
            }
            let ctx = Ctx(ffi::avcodec_alloc_context3(codec));
            if ctx.0.is_null() {
                return Err(Error::codec(name, "cannot allocate encoder context"));
            }
            let c = ctx.0;
            (*c).width = cfg.width as i32;
            (*c).height = cfg.height as i32;
            (*c).pix_fmt = pix.into();
            (*c).time_base = ffi::AVRational {
                num: cfg.fps_den as i32,
                den: cfg.fps_num as i32,
            };
            (*c).framerate = ffi::AVRational {
                num: cfg.fps_num as i32,
                den: cfg.fps_den as i32,
            };
            (*c).thread_count = cfg.threads.unwrap_or(1) as i32;
            if let Some(g) = cfg.gop {
                (*c).gop_size = g as i32;
            }
            let obj = c as *mut std::ffi::c_void;
            let mut x265_pass = None;
            match cfg.rate {
                RateControl::Crf { crf } => {
                    set_crf(c, name, crf)?;
                    (*c).bit_rate = 0;
                }
                RateControl::Qp { qp } => {
                    if has_opt(obj, "qp") {
                        set_opt(obj, name, "qp", &qp.to_string())
                            .map_err(|e| Error::config("qp", e.to_string()))?;
                    } else {
                        (*c).qmin = qp as i32;
                        (*c).qmax = qp as i32;
                        (*c).flags |= ffi::AV_CODEC_FLAG_QSCALE as i32;
                        (*c).global_quality = qp as i32 * ffi::FF_QP2LAMBDA;
                    }
                    (*c).bit_rate = 0;
                }
                RateControl::Bitrate {
                    kbps,
                    maxrate_kbps,
                    bufsize_kbits,
                } => set_vbv(c, Some(kbps), maxrate_kbps, bufsize_kbits),
                RateControl::CappedCrf {
                    crf,
                    maxrate_kbps,
                    bufsize_kbits,
                } => {
                    set_crf(c, name, crf)?;
                    if name_is_cq(name) {
                        // libvpx/libaom constrained quality: the cap is the target bitrate.
                        set_vbv(c, Some(maxrate_kbps), None, None);
                    } else {
                        set_vbv(c, None, Some(maxrate_kbps), Some(bufsize_kbits));
                    }
                }
                RateControl::TwoPass {
                    kbps,
                    maxrate_kbps,
                    bufsize_kbits,
                } => {
                    set_vbv(c, Some(kbps), Some(maxrate_kbps), Some(bufsize_kbits));
                    // Without a pass: one VBR pass (encoders with no two-pass mode).
                    if let Some(p) = cfg.pass.as_ref() {
                        (*c).flags |= match p.pass {
                            1 => ffi::AV_CODEC_FLAG_PASS1,
                            2 => ffi::AV_CODEC_FLAG_PASS2,
                            n => {
                                return Err(Error::config(
                                    "pass",
                                    format!("{name}: pass {n} (1 or 2)"),
                                ))
                            }
                        } as i32;
                        let file = p.file.to_str().ok_or_else(|| {
                            Error::config("pass", format!("{}: not UTF-8", p.file.display()))
                        })?;
                        match stats_via(obj, name) {
                            StatsVia::FileOption => set_opt(obj, name, "stats", file)?,
                            StatsVia::X265Params => {
                                x265_pass = Some(format!("pass={}:stats={file}", p.pass))
                            }
                            StatsVia::Context if p.pass == 2 => {
                                let text =
                                    std::fs::read(&p.file).map_err(|e| Error::io(&p.file, e))?;
                                let text = CString::new(text).map_err(|_| {
                                    Error::data(p.file.display().to_string(), "contains NUL")
                                })?;
                                // Freed by avcodec_free_context (stats_in is owned by the context).
                                (*c).stats_in = ffi::av_strdup(text.as_ptr());
                            }
                            StatsVia::Context => {}
                        }
                    }
                }
            }
            if let Some(p) = &cfg.preset {
                if !has_opt(obj, "preset") {
                    return Err(Error::codec(
                        name,
                        format!("has no preset option (preset {p})"),
                    ));
                }
                set_opt(obj, name, "preset", p)?;
            }
            let mut opts = deterministic_options(cfg);
            if let Some(extra) = x265_pass {
                match opts.iter_mut().find(|(k, _)| k == "x265-params") {
                    Some((_, v)) if !v.is_empty() => *v = format!("{v}:{extra}"),
                    Some((_, v)) => *v = extra,
                    None => opts.push(("x265-params".into(), extra)),
                }
            }
            for (k, v) in &opts {
                set_opt(obj, name, k, v)?;
            }
            let r = ffi::avcodec_open2(c, codec, std::ptr::null_mut());
            if r < 0 {
                // Bad option values often surface only here: list what was asked for.
                let mut asked: Vec<String> =
                    cfg.preset.iter().map(|p| format!("preset={p}")).collect();
                asked.extend(cfg.options.iter().map(|(k, v)| format!("{k}={v}")));
                return Err(Error::codec(
                    name,
                    format!(
                        "cannot open encoder at {}x{} {} with {:?} [{}]: {}",
                        cfg.width,
                        cfg.height,
                        pix_name(pix),
                        cfg.rate,
                        asked.join(" "),
                        av_err(r)
                    ),
                ));
            }
            let av_frame = ff::frame::Video::new(pix, cfg.width as u32, cfg.height as u32);
            Ok(Encoder {
                ctx,
                cfg: cfg.clone(),
                av_frame,
                packet: ff::Packet::empty(),
                next_pts: 0,
                total_bytes: 0,
                finished: false,
            })
        }
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    /// Ends pass 1 of a two-pass encode (after [`Encoder::finish`]): the statistics are in the
    /// pass's file once this returns (libvpx/libaom leave them in the context, x264 and x265
    /// finish writing theirs when the encoder is closed, which this does).
    pub fn end_first_pass(self) -> Result<()> {
        let Some(p) = self.cfg.pass.clone().filter(|p| p.pass == 1) else {
            return Err(Error::config(
                "pass",
                format!(
                    "{}: not the first pass of a two-pass encode",
                    self.cfg.codec
                ),
            ));
        };
        let obj = self.ctx.0 as *mut std::ffi::c_void;
        // SAFETY: our open codec context.
        if let StatsVia::Context = unsafe { stats_via(obj, &self.cfg.codec) } {
            // SAFETY: stats_out is null or a NUL-terminated string owned by our open context.
            let text = unsafe {
                let s = (*self.ctx.0).stats_out;
                if s.is_null() {
                    return Err(Error::codec(
                        &self.cfg.codec,
                        "pass 1 left no statistics (was the encoder flushed?)",
                    ));
                }
                std::ffi::CStr::from_ptr(s).to_bytes().to_vec()
            };
            std::fs::write(&p.file, text).map_err(|e| Error::io(&p.file, e))?;
        }
        drop(self);
        Ok(())
    }

    /// Bytes of all packets returned so far.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The stream's parameters (codec, format, extradata), for [`Decoder::new`] and muxing.
    pub fn stream_params(&self) -> StreamParams {
        // SAFETY: reads fields of our open codec context; extradata has extradata_size bytes.
        unsafe {
            let c = self.ctx.0;
            let extradata = if (*c).extradata.is_null() || (*c).extradata_size <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts((*c).extradata, (*c).extradata_size as usize).to_vec()
            };
            let desc = ffi::avcodec_descriptor_get((*c).codec_id);
            let codec = if desc.is_null() {
                self.cfg.codec.clone()
            } else {
                std::ffi::CStr::from_ptr((*desc).name)
                    .to_string_lossy()
                    .into_owned()
            };
            StreamParams {
                codec,
                format: self.cfg.format,
                fps_num: self.cfg.fps_num,
                fps_den: self.cfg.fps_den,
                extradata,
            }
        }
    }

    /// Feeds one frame (timestamps are assigned in feeding order) and returns the packets ready.
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<Packet>> {
        let name = &self.cfg.codec;
        if self.finished {
            return Err(Error::codec(name, "encode after finish"));
        }
        if frame.format != self.cfg.format {
            return Err(Error::Mismatch(format!(
                "{name}: frame {} is {}x{} {:?} {}-bit, the encoder expects {}x{} {:?} {}-bit",
                frame.index,
                frame.width(),
                frame.height(),
                frame.format.chroma,
                frame.format.bit_depth,
                self.cfg.width,
                self.cfg.height,
                self.cfg.format.chroma,
                self.cfg.format.bit_depth
            )));
        }
        // SAFETY: the frame buffer belongs to us; make_writable reallocates it if the encoder
        // still references the previous picture.
        let r = unsafe { ffi::av_frame_make_writable(self.av_frame.as_mut_ptr()) };
        if r < 0 {
            return Err(Error::codec(name, format!("frame buffer: {}", av_err(r))));
        }
        copy_to_av(frame, &mut self.av_frame);
        self.av_frame.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        // SAFETY: both are valid, owned objects.
        let r = unsafe { ffi::avcodec_send_frame(self.ctx.0, self.av_frame.as_ptr()) };
        if r < 0 {
            return Err(Error::codec(
                name,
                format!("encoding frame {} failed: {}", frame.index, av_err(r)),
            ));
        }
        Ok(self.drain(usize::MAX)?.0)
    }

    /// Flushes the encoder: the delayed packets. Further `encode` calls are errors.
    pub fn finish(&mut self) -> Result<Vec<Packet>> {
        Ok(self.finish_some(usize::MAX)?.0)
    }

    /// Flushes in steps: signals the end of the stream on the first call, then returns at most
    /// `max` delayed packets, and whether the encoder is now drained. Encoders with look-ahead
    /// (x264: 40+ frames) encode one delayed frame per packet taken, so a caller can interleave
    /// the flush with other work instead of waiting for the whole look-ahead at once.
    pub fn finish_some(&mut self, max: usize) -> Result<(Vec<Packet>, bool)> {
        if !self.finished {
            self.finished = true;
            // SAFETY: a null frame signals end of stream.
            let r = unsafe { ffi::avcodec_send_frame(self.ctx.0, std::ptr::null()) };
            if r < 0 && !is_eof(r) {
                return Err(Error::codec(
                    &self.cfg.codec,
                    format!("flush failed: {}", av_err(r)),
                ));
            }
        }
        self.drain(max)
    }

    /// Up to `max` packets that are ready, and whether the encoder has reached its end.
    fn drain(&mut self, max: usize) -> Result<(Vec<Packet>, bool)> {
        let mut out = Vec::new();
        while out.len() < max {
            // SAFETY: receive into our packet; unref after copying its bytes.
            let r = unsafe { ffi::avcodec_receive_packet(self.ctx.0, self.packet.as_mut_ptr()) };
            if is_eof(r) {
                return Ok((out, true));
            }
            if is_eagain(r) {
                return Ok((out, false));
            }
            if r < 0 {
                return Err(Error::codec(
                    &self.cfg.codec,
                    format!("encoder error: {}", av_err(r)),
                ));
            }
            let data = self.packet.data().unwrap_or(&[]).to_vec();
            self.total_bytes += data.len() as u64;
            out.push(Packet {
                pts: self.packet.pts().unwrap_or(0),
                dts: self.packet.dts().unwrap_or(0),
                keyframe: self.packet.is_key(),
                data,
            });
            // SAFETY: releases the packet's buffer reference.
            unsafe { ffi::av_packet_unref(self.packet.as_mut_ptr()) };
        }
        Ok((out, false))
    }
}

/// A libavcodec decoder for a stream described by [`StreamParams`], giving [`Frame`]s in display
/// order with `index` counting from 0. `Send` like [`Encoder`].
pub struct Decoder {
    ctx: Ctx,
    what: String,
    reader: FrameReader,
    frame: ff::frame::Video,
    next_index: u64,
}

// SAFETY: as for Encoder: exclusively owned, used through `&mut self` only.
unsafe impl Send for Decoder {}

impl Decoder {
    /// Opens a decoder for `params` (for AV1 libdav1d, else libaom, as FFmpeg's native AV1
    /// decoder needs hardware).
    pub fn new(params: &StreamParams) -> Result<Decoder> {
        Decoder::with_threads(params, 1)
    }

    /// As [`Decoder::new`] with `threads` decoder threads (0 = FFmpeg's automatic choice). The
    /// decoded frames do not depend on it; only latency and CPU use do.
    pub fn with_threads(params: &StreamParams, threads: u32) -> Result<Decoder> {
        super::init();
        let what = format!("{} decoder", params.codec);
        let cname = CString::new(params.codec.as_str())
            .map_err(|_| Error::codec(&what, "codec name contains NUL"))?;
        // SAFETY: lookups by valid C strings; context allocated and owned by Ctx; extradata is
        // copied into an av_malloc'ed buffer with the padding FFmpeg requires.
        unsafe {
            let desc = ffi::avcodec_descriptor_get_by_name(cname.as_ptr());
            if desc.is_null() {
                return Err(Error::codec(&what, "unknown codec"));
            }
            let id = (*desc).id;
            let mut codec = std::ptr::null();
            if id == ffi::AVCodecID::AV_CODEC_ID_AV1 {
                for n in [c"libdav1d", c"libaom-av1"] {
                    codec = ffi::avcodec_find_decoder_by_name(n.as_ptr());
                    if !codec.is_null() {
                        break;
                    }
                }
            }
            if codec.is_null() {
                codec = ffi::avcodec_find_decoder(id);
            }
            if codec.is_null() {
                return Err(Error::codec(&what, "no decoder in this FFmpeg build"));
            }
            let ctx = Ctx(ffi::avcodec_alloc_context3(codec));
            if ctx.0.is_null() {
                return Err(Error::codec(&what, "cannot allocate decoder context"));
            }
            let c = ctx.0;
            (*c).width = params.format.width as i32;
            (*c).height = params.format.height as i32;
            (*c).pix_fmt = pixel_of(&params.format)?.into();
            (*c).pkt_timebase = ffi::AVRational {
                num: params.fps_den as i32,
                den: params.fps_num as i32,
            };
            (*c).thread_count = threads as i32;
            if !params.extradata.is_empty() {
                let n = params.extradata.len();
                let buf =
                    ffi::av_mallocz(n + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize) as *mut u8;
                if buf.is_null() {
                    return Err(Error::codec(&what, "out of memory for extradata"));
                }
                std::ptr::copy_nonoverlapping(params.extradata.as_ptr(), buf, n);
                (*c).extradata = buf;
                (*c).extradata_size = n as i32;
            }
            let r = ffi::avcodec_open2(c, codec, std::ptr::null_mut());
            if r < 0 {
                return Err(Error::codec(&what, format!("cannot open: {}", av_err(r))));
            }
            Ok(Decoder {
                ctx,
                reader: FrameReader::new(&what),
                what,
                frame: ff::frame::Video::empty(),
                next_index: 0,
            })
        }
    }

    /// Decodes one packet; returns the frames it completed (often none at first, with B-frames).
    pub fn decode(&mut self, packet: &Packet) -> Result<Vec<Frame>> {
        let mut p = ff::Packet::copy(&packet.data);
        p.set_pts(Some(packet.pts));
        p.set_dts(Some(packet.dts));
        if packet.keyframe {
            p.set_flags(ff::codec::packet::Flags::KEY);
        }
        let mut out = Vec::new();
        loop {
            // SAFETY: valid context and packet.
            let r = unsafe { ffi::avcodec_send_packet(self.ctx.0, p.as_ptr()) };
            if is_eagain(r) {
                // Output queue full: take frames out, then resend.
                self.drain(&mut out)?;
                continue;
            }
            if r < 0 {
                return Err(Error::codec(
                    &self.what,
                    format!("packet pts {} rejected: {}", packet.pts, av_err(r)),
                ));
            }
            break;
        }
        self.drain(&mut out)?;
        Ok(out)
    }

    /// Ends the stream: the frames still buffered. The decoder is then reset for a new stream
    /// (frame indices continue).
    pub fn flush(&mut self) -> Result<Vec<Frame>> {
        // SAFETY: a null packet signals end of stream.
        let r = unsafe { ffi::avcodec_send_packet(self.ctx.0, std::ptr::null()) };
        if r < 0 && !is_eof(r) {
            return Err(Error::codec(
                &self.what,
                format!("flush failed: {}", av_err(r)),
            ));
        }
        let mut out = Vec::new();
        self.drain(&mut out)?;
        // SAFETY: resets the drained decoder so it accepts packets again.
        unsafe { ffi::avcodec_flush_buffers(self.ctx.0) };
        Ok(out)
    }

    fn drain(&mut self, out: &mut Vec<Frame>) -> Result<()> {
        loop {
            // SAFETY: receive into our owned frame.
            let r = unsafe { ffi::avcodec_receive_frame(self.ctx.0, self.frame.as_mut_ptr()) };
            if is_eagain(r) || is_eof(r) {
                return Ok(());
            }
            if r < 0 {
                return Err(Error::codec(
                    &self.what,
                    format!("decoding failed: {}", av_err(r)),
                ));
            }
            out.push(self.reader.read(&self.frame, self.next_index)?);
            self.next_index += 1;
        }
    }
}
