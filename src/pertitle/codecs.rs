//! What pertitle knows about each libavcodec encoder it has a recipe for, one row per encoder
//! ([`CODECS`]): CRF range, memory, container, and how the ffmpeg command line turns scene-cut
//! keyframes off and runs two passes. An encoder without a row gets [`GENERIC`].

/// How an encoder's scene-cut keyframes are turned off on the ffmpeg command line (so every
/// rung's IDR frames fall on the same frames: `-g` = `-keyint_min` = the interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneCut {
    /// Nothing to turn off (or no way to).
    Keep,
    /// A plain AVOption (`sc_threshold` = 0; `-sc_threshold 0` on the command line).
    Option(&'static str, &'static str),
    /// Key=value settings appended to a private option string (`svtav1-params scd=0`); `{k}`
    /// in the value is the keyframe interval.
    Params(&'static str, &'static str),
}

/// How the ffmpeg command line runs a two-pass encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoPass {
    /// `-pass N -passlogfile STEM`.
    PassFlags,
    /// `pass=N:stats=STEM.log` in a private option string (FFmpeg's libx265 wrapper).
    Params(&'static str),
    /// The ffmpeg wrapper has no two-pass mode: the commands run one pass of VBR.
    OnePass,
}

/// Facts about one encoder.
#[derive(Debug)]
pub struct CodecProfile {
    /// libavcodec encoder name.
    pub name: &'static str,
    /// CRF values the encoder accepts (FFmpeg's option tables: libx264/libx265 0–51 for 8-bit,
    /// libvpx-vp9 and libaom-av1 0–63, libsvtav1 1–63).
    pub crf_range: (f64, f64),
    /// Whether `crf` takes fractional values, so interpolated rung CRFs are rounded where not.
    pub fractional_crf: bool,
    /// Rough memory of one encoder instance per pixel of its frames (look-ahead, references,
    /// half-pel planes), which sizes the grid runner's waves. libx264's 180 was measured (preset
    /// medium, 1 thread); the others are scaled from it by their look-ahead and picture buffers.
    pub bytes_per_pixel: u64,
    /// Container of the rung files the commands write.
    pub container: &'static str,
    pub scene_cut: SceneCut,
    pub two_pass: TwoPass,
    /// In capped-CRF mode the cap is `-b:v` (libvpx/libaom constrained quality) rather than
    /// `-maxrate`/`-bufsize`.
    pub crf_cap_is_bitrate: bool,
}

/// The encoders with a built-in recipe.
pub static CODECS: [CodecProfile; 5] = [
    CodecProfile {
        name: "libx264",
        crf_range: (0.0, 51.0),
        fractional_crf: true,
        bytes_per_pixel: 180,
        container: "mp4",
        scene_cut: SceneCut::Option("sc_threshold", "0"),
        two_pass: TwoPass::PassFlags,
        crf_cap_is_bitrate: false,
    },
    CodecProfile {
        name: "libx265",
        crf_range: (0.0, 51.0),
        fractional_crf: true,
        bytes_per_pixel: 260,
        container: "mp4",
        scene_cut: SceneCut::Params("x265-params", "keyint={k}:min-keyint={k}:scenecut=0"),
        two_pass: TwoPass::Params("x265-params"),
        crf_cap_is_bitrate: false,
    },
    CodecProfile {
        name: "libvpx-vp9",
        crf_range: (0.0, 63.0),
        fractional_crf: false,
        bytes_per_pixel: 160,
        container: "webm",
        scene_cut: SceneCut::Keep,
        two_pass: TwoPass::PassFlags,
        crf_cap_is_bitrate: true,
    },
    CodecProfile {
        name: "libsvtav1",
        crf_range: (1.0, 63.0),
        fractional_crf: false,
        bytes_per_pixel: 420,
        container: "mp4",
        scene_cut: SceneCut::Params("svtav1-params", "scd=0"),
        two_pass: TwoPass::OnePass,
        crf_cap_is_bitrate: false,
    },
    CodecProfile {
        name: "libaom-av1",
        crf_range: (0.0, 63.0),
        fractional_crf: false,
        bytes_per_pixel: 320,
        container: "mp4",
        scene_cut: SceneCut::Keep,
        two_pass: TwoPass::PassFlags,
        crf_cap_is_bitrate: true,
    },
];

/// An encoder pertitle has no row for: no CRF bound (the media layer reports an unavailable
/// encoder itself), a middling memory estimate, the usual command-line conventions.
pub static GENERIC: CodecProfile = CodecProfile {
    name: "",
    crf_range: (0.0, f64::INFINITY),
    fractional_crf: false,
    bytes_per_pixel: 250,
    container: "mp4",
    scene_cut: SceneCut::Keep,
    two_pass: TwoPass::PassFlags,
    crf_cap_is_bitrate: false,
};

/// The encoder's row, if pertitle has one.
pub fn known(codec: &str) -> Option<&'static CodecProfile> {
    CODECS.iter().find(|c| c.name == codec)
}

/// The encoder's row, or [`GENERIC`].
pub fn profile(codec: &str) -> &'static CodecProfile {
    known(codec).unwrap_or(&GENERIC)
}

/// The AVOptions that put an encode's keyframes every `keyint` frames and nowhere else: `g` =
/// `keyint_min` = `keyint`, and the encoder's scene-cut keyframes off. A setting that lives in
/// a private option string (`x265-params`, `svtav1-params`) is appended to it in `params`; the
/// plain options are returned, in the order the command line gives them. Test encodes and rungs
/// both use this, so a grid point and a rung at the same bitrate are the same kind of stream.
pub fn fixed_gop(
    codec: &str,
    keyint: u32,
    params: &mut std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let k = keyint.to_string();
    let mut out = vec![
        ("g".to_string(), k.clone()),
        ("keyint_min".to_string(), k.clone()),
    ];
    match profile(codec).scene_cut {
        SceneCut::Keep => {}
        SceneCut::Option(name, value) => out.push((name.to_string(), value.to_string())),
        SceneCut::Params(option, extra) => append_param(params, option, &extra.replace("{k}", &k)),
    }
    out
}

/// Appends `extra` to the `:`-separated option string `key` in `params`.
pub fn append_param(
    params: &mut std::collections::BTreeMap<String, String>,
    key: &str,
    extra: &str,
) {
    let v = params.entry(key.to_string()).or_default();
    if !v.is_empty() {
        v.push(':');
    }
    v.push_str(extra);
}
