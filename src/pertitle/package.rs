//! Packaging a ladder for streaming: the rungs' encoded files, remuxed (never re-encoded) into
//! HLS or DASH through libavformat's `hls` and `dash` muxers, in-process.
//!
//! The renditions must come from one source at one frame rate with keyframes at the same frame
//! numbers (closed GOPs, scene-cut keyframes off): the muxers cut segments at the first keyframe
//! at or after each multiple of the segment duration, so aligned keyframes give segments that
//! start at the same frame in every rendition, which is what lets a player switch between them.
//! That is checked on the inputs (keyframe frame numbers, open GOPs) and on the result (segment
//! boundaries), so a ladder that would stall or glitch on a switch is an error, not an output.
//!
//! What the muxers leave to us is measured from the written files: HLS's `BANDWIDTH` (the peak
//! segment bitrate, which the spec requires to be an upper bound) and `AVERAGE-BANDWIDTH`, DASH's
//! `@bandwidth`, and the RFC 6381 `CODECS` strings, derived from the decoder configuration boxes
//! (avcC, hvcC, vpcC, av1C) of the init segments players actually read.
//!
//! Output is all or nothing: everything is written into a hidden sibling `.DIR.partial` that is
//! renamed to `DIR` when complete, and an existing non-empty `DIR` is never written into.

use crate::error::{Error, Field, Result};
use crate::media;
use ff::ffi;
use ffmpeg_next as ff;
use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One encoded rung to package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendition {
    /// Names the rendition's files (`DIR/<name>/` for HLS) and appears in errors, e.g.
    /// `rung1_640x360_300k`. ASCII letters, digits, `.`, `_` and `-`, not starting with `.`, so
    /// it is a safe path component and URI without escaping.
    pub name: String,
    /// The encoded file: one video stream (H.264, HEVC, VP9 or AV1) in any container FFmpeg
    /// demuxes (mp4, mkv, webm).
    pub path: PathBuf,
}

impl Rendition {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Rendition {
        Rendition {
            name: name.into(),
            path: path.into(),
        }
    }
}

/// How to segment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PackageOptions {
    /// Target segment duration in seconds: the keyframe interval (or a multiple of it), since a
    /// segment can only start at a keyframe. Snapped to a whole number of frames.
    pub segment_seconds: f64,
}

impl Default for PackageOptions {
    /// 2-second segments, the common choice for low start-up latency and quick switching.
    fn default() -> Self {
        PackageOptions {
            segment_seconds: 2.0,
        }
    }
}

/// One media segment as written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub path: PathBuf,
    /// The file's size: what a player downloads for it.
    pub bytes: u64,
    /// Start and duration as the manifest gives them (HLS `EXTINF`, DASH `SegmentTimeline`).
    pub start_s: f64,
    pub duration_s: f64,
}

impl Segment {
    /// The segment's bitrate as HLS defines it: its size over its duration.
    pub fn bps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.duration_s
    }
}

/// What was written for one rendition.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PackagedRendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// RFC 6381 codecs string, e.g. `avc1.64001f`, `hvc1.1.6.L93.B0`, `vp09.00.30.08`,
    /// `av01.0.05M.08`.
    pub codecs: String,
    pub fps_num: u32,
    pub fps_den: u32,
    pub frames: u64,
    /// The init segment (sample description: codec configuration, size).
    pub init: PathBuf,
    pub segments: Vec<Segment>,
    /// Bits of all media segments over their total duration (init segment excluded: it is
    /// fetched once), rounded up.
    pub average_bps: u64,
    /// The largest segment bitrate, rounded up: HLS's `BANDWIDTH`, an upper bound a player may
    /// rely on when it picks a variant for its measured throughput.
    pub peak_bps: u64,
    /// HLS: the rendition's media playlist; DASH: the MPD (representations share it).
    pub playlist: PathBuf,
}

impl PackagedRendition {
    pub fn fps(&self) -> f64 {
        self.fps_num as f64 / self.fps_den as f64
    }
}

/// What [`write_hls`] or [`write_dash`] wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Package {
    /// `DIR/master.m3u8` or `DIR/manifest.mpd`.
    pub manifest: PathBuf,
    /// In the order given.
    pub renditions: Vec<PackagedRendition>,
}

/// One variant (HLS) or representation (DASH) as read back and decoded by libavformat.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariantCheck {
    /// HLS: the variant's URI in the master playlist; DASH: the representation id.
    pub uri: String,
    /// The declared `BANDWIDTH` / `@bandwidth`.
    pub bandwidth: u64,
    /// Size of the decoded frames (all of them: a change is an error).
    pub width: u32,
    pub height: u32,
    /// Frames decoded, without decoder errors.
    pub frames: u64,
    /// The variant's duration from its manifest (sum of the segment durations).
    pub duration_s: f64,
}

/// Name of the multivariant playlist [`write_hls`] writes.
pub const HLS_MASTER: &str = "master.m3u8";
/// Name of each rendition's media playlist (in `DIR/<name>/`).
pub const HLS_MEDIA: &str = "index.m3u8";
/// Name of the MPD [`write_dash`] writes.
pub const DASH_MPD: &str = "manifest.mpd";
/// The init segment of each HLS rendition.
const HLS_INIT: &str = "init.mp4";

/// Writes `DIR/master.m3u8` (the multivariant playlist, variants in increasing `BANDWIDTH`) and
/// per rendition `DIR/<name>/index.m3u8`, `init.mp4` and `seg_NNNNN.m4s` (fragmented MP4, which
/// HLS needs for HEVC, VP9 and AV1 and accepts for H.264).
pub fn write_hls(dir: &Path, renditions: &[Rendition], opts: &PackageOptions) -> Result<Package> {
    media::init();
    if dir.to_str().is_some_and(|s| s.contains('%')) {
        // The hls muxer reads `%` in the segment file name as a pattern (segment number).
        return Err(Error::caller(
            Field::Setting("output directory".into()),
            dir.display().to_string(),
            format!(
                "{}: contains '%', which the hls muxer takes for a segment-number pattern",
                dir.display()
            ),
        ));
    }
    check_out_dir(dir)?;
    let scans = check_inputs(renditions)?;
    let seg = segment_time(opts, scans[0].fps)?;
    let staging = Staging::new(dir)?;
    let mut out = Vec::new();
    for s in &scans {
        let rdir = staging.partial.join(&s.name);
        fs::create_dir(&rdir).map_err(|e| Error::io(&rdir, e))?;
        let playlist = rdir.join(HLS_MEDIA);
        let pattern = rdir.join("seg_%05d.m4s");
        let options = [
            ("hls_time", seg.clone()),
            ("hls_playlist_type", "vod".into()),
            ("hls_list_size", "0".into()),
            ("hls_segment_type", "fmp4".into()),
            ("hls_fmp4_init_filename", HLS_INIT.into()),
            ("hls_flags", "independent_segments".into()),
            ("hls_segment_filename", path_str(&pattern)?.to_string()),
        ];
        remux("hls", &playlist, std::slice::from_ref(s), &options)?;
        let media = parse_media_playlist(&playlist)?;
        let init = rdir.join(media.map.as_deref().unwrap_or(HLS_INIT));
        let segments = media
            .segments
            .iter()
            .map(|(uri, d)| (rdir.join(uri), *d))
            .collect::<Vec<_>>();
        out.push(packaged(s, &playlist, init, &segments)?);
    }
    check_boundaries(&scans, &out)?;
    let master = staging.partial.join(HLS_MASTER);
    crate::fsutil::atomic_write(&master, master_playlist(&out).as_bytes())?;
    let out = staging.commit(dir, out)?;
    Ok(Package {
        manifest: dir.join(HLS_MASTER),
        renditions: out,
    })
}

/// Writes `DIR/manifest.mpd` with all renditions as representations (ids `0`, `1`, ... in the
/// order given) of one video adaptation set, segments (`init-stream<id>.m4s`,
/// `chunk-stream<id>-NNNNN.m4s`) next to it. The muxer's `@bandwidth` (the stream's nominal
/// bitrate) and `@codecs` (bare `hvc1` for HEVC) are replaced by the measured peak and the full
/// codecs string, and `bitstreamSwitching` is set to false: the representations' init segments
/// carry different parameter sets, so a player must re-initialise its decoder on a switch.
pub fn write_dash(dir: &Path, renditions: &[Rendition], opts: &PackageOptions) -> Result<Package> {
    media::init();
    check_out_dir(dir)?;
    let scans = check_inputs(renditions)?;
    let seg = segment_time(opts, scans[0].fps)?;
    let staging = Staging::new(dir)?;
    let mpd = staging.partial.join(DASH_MPD);
    let options = [
        ("seg_duration", seg),
        ("adaptation_sets", "id=0,streams=v".into()),
        ("use_template", "1".into()),
        ("use_timeline", "1".into()),
        ("single_file", "0".into()),
        ("dash_segment_type", "mp4".into()),
        (
            "init_seg_name",
            "init-stream$RepresentationID$.$ext$".into(),
        ),
        (
            "media_seg_name",
            "chunk-stream$RepresentationID$-$Number%05d$.$ext$".into(),
        ),
    ];
    remux("dash", &mpd, &scans, &options)?;
    let text = fs::read_to_string(&mpd).map_err(|e| Error::io(&mpd, e))?;
    let reps = parse_mpd(&mpd, &text)?;
    if reps.len() != scans.len() {
        return Err(Error::media(
            mpd.display().to_string(),
            format!(
                "the dash muxer wrote {} representations for {} renditions",
                reps.len(),
                scans.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (s, rep) in scans.iter().zip(&reps) {
        out.push(packaged(s, &mpd, rep.init.clone(), &rep.segments)?);
    }
    check_boundaries(&scans, &out)?;
    let attrs: Vec<(String, String, u64)> = reps
        .iter()
        .zip(&out)
        .map(|(r, p)| (r.id.clone(), p.codecs.clone(), p.peak_bps))
        .collect();
    crate::fsutil::atomic_write(&mpd, rewrite_mpd(&text, &attrs).as_bytes())?;
    let out = staging.commit(dir, out)?;
    Ok(Package {
        manifest: dir.join(DASH_MPD),
        renditions: out,
    })
}

/// Reads a master playlist back with libavformat's hls demuxer and decodes every frame of every
/// variant. An error if a variant is missing, a frame fails to decode, the frame size changes,
/// or fewer or more frames decode than the variant's playlist durations account for, so `Ok`
/// means every rendition plays completely.
pub fn validate_hls(master: &Path) -> Result<Vec<VariantCheck>> {
    media::init();
    // The demuxers resolve segment URIs against the manifest's URL; a relative one has failed
    // to resolve (dash), so give them an absolute path.
    let master = fs::canonicalize(master).map_err(|e| Error::io(master, e))?;
    let what = master.display().to_string();
    let text = fs::read_to_string(&master).map_err(|e| Error::io(&master, e))?;
    let variants = parse_master(&text);
    if variants.is_empty() {
        return Err(Error::data(&what, "no #EXT-X-STREAM-INF variant"));
    }
    let base = master.parent().unwrap_or(Path::new("/"));
    let mut durations = Vec::new();
    for (_, uri) in &variants {
        let media = parse_media_playlist(&base.join(uri))?;
        durations.push(media.segments.iter().map(|(_, d)| d).sum::<f64>());
    }
    let mut input = open_demuxer(&master, "hls")?;
    // The hls demuxer makes one program per variant, in the master playlist's order.
    let mut owner = vec![None; input.streams().count()];
    // SAFETY: reads the program table of our open input context; indices are bounded by the
    // counts FFmpeg keeps next to the arrays.
    unsafe {
        let c = input.as_ptr();
        for p in 0..(*c).nb_programs as usize {
            let prog = *(*c).programs.add(p);
            for k in 0..(*prog).nb_stream_indexes as usize {
                let s = *(*prog).stream_index.add(k) as usize;
                if let Some(o) = owner.get_mut(s) {
                    *o = Some(p);
                }
            }
        }
    }
    let decoded = decode_all(&mut input, &what)?;
    let mut checks = Vec::new();
    for (i, (bandwidth, uri)) in variants.iter().enumerate() {
        let label = format!("{what}: variant {uri}");
        let stream = decoded
            .iter()
            .find(|d| owner[d.index] == Some(i))
            .ok_or_else(|| Error::media(&label, "no video stream read"))?;
        checks.push(stream.check(&label, uri.clone(), *bandwidth, durations[i])?);
    }
    Ok(checks)
}

/// Reads an MPD back and decodes every frame of every representation: through libavformat's
/// dash demuxer when this FFmpeg has it (it needs libxml2), else with
/// [`validate_dash_segments`]. The same guarantees as [`validate_hls`].
pub fn validate_dash(mpd: &Path) -> Result<Vec<VariantCheck>> {
    media::init();
    if !has_demuxer("dash") {
        return validate_dash_segments(mpd);
    }
    let mpd = fs::canonicalize(mpd).map_err(|e| Error::io(mpd, e))?;
    let what = mpd.display().to_string();
    let text = fs::read_to_string(&mpd).map_err(|e| Error::io(&mpd, e))?;
    let reps = parse_mpd(&mpd, &text)?;
    let mut checks = Vec::new();
    // One representation per pass, the others discarded: FFmpeg 5.1's dash demuxer ends every
    // stream when the one with the earliest timestamp ends (measured: an HEVC rung lost its
    // last 2 frames when read together with another rung).
    for (i, r) in reps.iter().enumerate() {
        let label = format!("{what}: representation {}", r.id);
        let mut input = open_demuxer(&mpd, "dash")?;
        let videos: Vec<usize> = input
            .streams()
            .filter(|s| s.parameters().medium() == ff::media::Type::Video)
            .map(|s| s.index())
            .collect();
        if videos.len() != reps.len() {
            return Err(Error::media(
                &what,
                format!(
                    "the dash demuxer gave {} video streams for {} representations",
                    videos.len(),
                    reps.len()
                ),
            ));
        }
        // The dash demuxer adds the representations' streams in document order.
        for (k, &index) in videos.iter().enumerate() {
            if k != i {
                // SAFETY: a plain field of a stream of our open input (index < nb_streams).
                unsafe {
                    let st = *(*input.as_mut_ptr()).streams.add(index);
                    (*st).discard = ffi::AVDiscard::AVDISCARD_ALL;
                }
            }
        }
        let decoded = decode_all(&mut input, &label)?;
        let [d] = decoded.as_slice() else {
            return Err(Error::media(&label, "no video stream read"));
        };
        checks.push(d.check(&label, r.id.clone(), r.bandwidth, r.duration_s())?);
    }
    Ok(checks)
}

/// [`validate_dash`] without the dash demuxer: each representation's init segment and media
/// segments, as its `SegmentTemplate` and `SegmentTimeline` name them, are read as one
/// fragmented MP4 (FFmpeg's `concat:` protocol joins the files) and decoded. Also a check that
/// the MPD names the segments that exist.
pub fn validate_dash_segments(mpd: &Path) -> Result<Vec<VariantCheck>> {
    media::init();
    let mpd = fs::canonicalize(mpd).map_err(|e| Error::io(mpd, e))?;
    let what = mpd.display().to_string();
    let text = fs::read_to_string(&mpd).map_err(|e| Error::io(&mpd, e))?;
    let reps = parse_mpd(&mpd, &text)?;
    let mut checks = Vec::new();
    for r in &reps {
        let label = format!("{what}: representation {}", r.id);
        let mut parts = vec![path_str(&r.init)?.to_string()];
        for s in &r.segments {
            fs::metadata(&s.0).map_err(|e| Error::io(&s.0, e))?;
            parts.push(path_str(&s.0)?.to_string());
        }
        if parts.iter().any(|p| p.contains('|')) {
            return Err(Error::media(
                &label,
                "a segment path contains '|', which the concat protocol cannot read",
            ));
        }
        let url = format!("concat:{}", parts.join("|"));
        let mut input = open_url(&url, None, &label)?;
        let decoded = decode_all(&mut input, &label)?;
        let [d] = decoded.as_slice() else {
            return Err(Error::media(
                &label,
                format!("{} video streams, expected 1", decoded.len()),
            ));
        };
        checks.push(d.check(&label, r.id.clone(), r.bandwidth, r.duration_s())?);
    }
    Ok(checks)
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// What packaging needs to know about a rendition, from one pass over its packets.
struct Scan {
    name: String,
    path: PathBuf,
    /// `path (rendition name)`, for errors.
    what: String,
    width: u32,
    height: u32,
    fps: (u32, u32),
    frames: u64,
    /// Frame numbers (display order, from the first frame) of the keyframes.
    keyframes: Vec<u64>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks names and options, reads every rendition and checks they can share a manifest: same
/// frame rate and length, keyframes at the same frames, closed GOPs.
fn check_inputs(renditions: &[Rendition]) -> Result<Vec<Scan>> {
    if renditions.is_empty() {
        return Err(Error::caller(
            Field::Setting("renditions".into()),
            "",
            "no renditions to package",
        ));
    }
    for (i, r) in renditions.iter().enumerate() {
        if !valid_name(&r.name) {
            return Err(Error::caller(
                Field::Setting("rendition name".into()),
                r.name.clone(),
                format!(
                    "rendition name {:?} ({}): use ASCII letters, digits, '.', '_', '-', not starting with '.'",
                    r.name,
                    r.path.display()
                ),
            ));
        }
        if renditions[..i].iter().any(|o| o.name == r.name) {
            return Err(Error::caller(
                Field::Setting("rendition name".into()),
                r.name.clone(),
                format!("rendition name {:?} is used twice", r.name),
            ));
        }
    }
    let scans = renditions.iter().map(scan).collect::<Result<Vec<_>>>()?;
    let first = &scans[0];
    for s in &scans[1..] {
        let (a, b) = (first.fps, s.fps);
        if a.0 as u64 * b.1 as u64 != b.0 as u64 * a.1 as u64 {
            return Err(Error::Mismatch(format!(
                "{}: frame rate {}/{} differs from rendition {}'s {}/{}; renditions of one manifest must share the frame rate",
                s.what, b.0, b.1, first.name, a.0, a.1
            )));
        }
        if s.frames != first.frames {
            return Err(Error::Mismatch(format!(
                "{}: {} frames, rendition {} has {}; renditions must come from the same source",
                s.what, s.frames, first.name, first.frames
            )));
        }
        if s.keyframes != first.keyframes {
            let at = s
                .keyframes
                .iter()
                .zip(&first.keyframes)
                .position(|(x, y)| x != y)
                .unwrap_or(s.keyframes.len().min(first.keyframes.len()));
            let show = |k: &[u64]| {
                k.get(at)
                    .map_or("none".to_string(), |f| format!("frame {f}"))
            };
            return Err(Error::Mismatch(format!(
                "{}: keyframes are not aligned with rendition {}'s: keyframe #{} is at {}, there at {} (encode every rung with the same fixed GOP and scene-cut keyframes off)",
                s.what,
                first.name,
                at + 1,
                show(&s.keyframes),
                show(&first.keyframes)
            )));
        }
    }
    Ok(scans)
}

/// Checks that `path` can be given to FFmpeg (an existing file, a UTF-8 path without NUL).
fn check_file(path: &Path, name: &str) -> Result<()> {
    let tag = |e: io::Error| {
        Error::io(
            path,
            io::Error::new(e.kind(), format!("rendition {name}: {e}")),
        )
    };
    let meta = fs::metadata(path).map_err(tag)?;
    if !meta.is_file() {
        return Err(tag(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    path_str(path).map(|_| ())
}

fn path_str(path: &Path) -> Result<&str> {
    match path.to_str() {
        Some(s) if !s.contains('\0') => Ok(s),
        _ => Err(Error::media(
            path.display().to_string(),
            "path is not valid UTF-8 (FFmpeg takes UTF-8 paths)",
        )),
    }
}

/// Opens a rendition and finds its video stream, which must be of a codec HLS and DASH carry
/// in fragmented MP4.
fn open_rendition(
    path: &Path,
    name: &str,
    what: &str,
) -> Result<(ff::format::context::Input, usize)> {
    check_file(path, name)?;
    let input = ff::format::input(&path)
        .map_err(|e| Error::media(what, format!("cannot open as a video file: {e}")))?;
    let stream = input
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| Error::media(what, "no video stream"))?;
    let id = stream.parameters().id();
    use ff::codec::Id;
    if !matches!(id, Id::H264 | Id::HEVC | Id::VP9 | Id::AV1) {
        return Err(Error::media(
            what,
            format!("codec {id:?} cannot be packaged (H.264, HEVC, VP9 or AV1)"),
        ));
    }
    let index = stream.index();
    Ok((input, index))
}

fn rate(r: ff::Rational) -> Option<(u32, u32)> {
    (r.numerator() > 0 && r.denominator() > 0).then(|| {
        let r = r.reduce();
        (r.numerator() as u32, r.denominator() as u32)
    })
}

/// Reads the next packet of stream `index`, `None` at the end.
fn next_packet(
    input: &mut ff::format::context::Input,
    index: usize,
    what: &str,
) -> Result<Option<ff::Packet>> {
    loop {
        let mut p = ff::Packet::empty();
        match p.read(input) {
            Ok(()) if p.stream() == index => return Ok(Some(p)),
            Ok(()) => continue,
            Err(ff::Error::Eof) => return Ok(None),
            Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => continue,
            Err(e) => return Err(Error::media(what, format!("cannot read packet: {e}"))),
        }
    }
}

fn scan(r: &Rendition) -> Result<Scan> {
    let what = format!("{} (rendition {})", r.path.display(), r.name);
    let (mut input, index) = open_rendition(&r.path, &r.name, &what)?;
    let (width, height, fps, tb) = {
        let s = input
            .stream(index)
            .ok_or_else(|| Error::media(&what, "stream vanished"))?;
        let par = s.parameters();
        // SAFETY: plain field reads of the stream's codec parameters, alive while `s` is.
        let (w, h) = unsafe {
            let p = par.as_ptr();
            ((*p).width, (*p).height)
        };
        let fps = rate(s.avg_frame_rate())
            .or_else(|| rate(s.rate()))
            .ok_or_else(|| Error::media(&what, "the video stream has no frame rate"))?;
        (w.max(0) as u32, h.max(0) as u32, fps, s.time_base())
    };
    if width == 0 || height == 0 {
        return Err(Error::media(&what, "the video stream has no frame size"));
    }
    // Packets in decode order: (pts, keyframe).
    let mut packets = Vec::new();
    while let Some(p) = next_packet(&mut input, index, &what)? {
        let pts = p.pts().or(p.dts()).ok_or_else(|| {
            Error::media(&what, format!("packet {} has no timestamp", packets.len()))
        })?;
        packets.push((pts, p.is_key()));
    }
    if packets.is_empty() {
        return Err(Error::media(&what, "the video stream has no packets"));
    }
    if !packets[0].1 {
        return Err(Error::media(
            &what,
            "the video stream does not start with a keyframe",
        ));
    }
    let first = packets.iter().map(|p| p.0).min().unwrap_or(0);
    // Frame number of a timestamp: (pts - first) × time base × frame rate, to the nearest frame,
    // so files in different time bases (mp4 1/12288, mkv 1/1000) compare exactly.
    let frame_of = |pts: i64| -> u64 {
        let num = (pts - first) as i128 * tb.numerator() as i128 * fps.0 as i128;
        let den = tb.denominator() as i128 * fps.1 as i128;
        ((2 * num + den) / (2 * den)).max(0) as u64
    };
    let mut keyframes = Vec::new();
    let mut key_pts = None;
    for &(pts, key) in &packets {
        if key {
            keyframes.push(frame_of(pts));
            key_pts = Some(pts);
        } else if key_pts.is_some_and(|k| pts < k) {
            // A frame after the keyframe in decode order but shown before it: an open GOP,
            // whose leading frames reference the previous segment.
            let k = key_pts.map(frame_of).unwrap_or(0);
            return Err(Error::media(
                &what,
                format!(
                    "open GOP at the keyframe at frame {k}: frames after it in decode order are shown before it, so a segment starting there is not independently decodable (encode with closed GOPs)"
                ),
            ));
        }
    }
    Ok(Scan {
        name: r.name.clone(),
        path: r.path.clone(),
        what,
        width,
        height,
        fps,
        frames: packets.len() as u64,
        keyframes,
    })
}

/// The muxers' segment duration option: `segment_seconds` snapped to whole frames, then rounded
/// down to the microsecond the option holds, so a keyframe exactly on a boundary is never
/// missed by rounding up (which would double that segment).
fn segment_time(opts: &PackageOptions, fps: (u32, u32)) -> Result<String> {
    let s = opts.segment_seconds;
    let bad = |why: &str| {
        Error::caller(
            Field::Setting("segment_seconds".into()),
            s.to_string(),
            format!("segment_seconds {s}: {why}"),
        )
    };
    if !s.is_finite() || s <= 0.0 || s > 3600.0 {
        return Err(bad("must be a positive number of seconds, at most 3600"));
    }
    let frames = (s * fps.0 as f64 / fps.1 as f64).round();
    if frames < 1.0 {
        return Err(bad("shorter than one frame"));
    }
    let us = (frames as u128 * fps.1 as u128 * 1_000_000) / fps.0 as u128;
    Ok(format!("{}.{:06}", us / 1_000_000, us % 1_000_000))
}

// ---------------------------------------------------------------------------------------------
// Output directory.

/// The hidden sibling `.DIR.partial` everything is written into; removed unless committed.
struct Staging {
    partial: PathBuf,
    done: bool,
}

/// Checks that `dir` is absent or an empty directory: packaging never writes into existing
/// files. Done first, before the inputs are read, and again when staging.
fn check_out_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Error::io(
            dir,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a directory; packaging writes a new directory",
            ),
        )),
        Ok(_) => match fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.next() {
            Some(_) => Err(Error::io(
                dir,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not empty; packaging never writes into existing files",
                ),
            )),
            None => Ok(()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

impl Staging {
    fn new(dir: &Path) -> Result<Staging> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                Error::caller(
                    Field::Setting("output directory".into()),
                    dir.display().to_string(),
                    format!("{}: not a directory name (UTF-8) to create", dir.display()),
                )
            })?;
        check_out_dir(dir)?;
        let partial = dir.with_file_name(format!(".{name}.partial"));
        if let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // Left by an interrupted run (the name is ours): start over.
        if fs::symlink_metadata(&partial).is_ok() {
            fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        }
        fs::create_dir(&partial).map_err(|e| Error::io(&partial, e))?;
        Ok(Staging {
            partial,
            done: false,
        })
    }

    /// Renames the staging directory to `dir` (replacing it if it is an empty directory) and
    /// moves the recorded paths along.
    fn commit(
        mut self,
        dir: &Path,
        mut out: Vec<PackagedRendition>,
    ) -> Result<Vec<PackagedRendition>> {
        fs::rename(&self.partial, dir).map_err(|e| Error::io(dir, e))?;
        self.done = true;
        let moved = |p: &PathBuf| match p.strip_prefix(&self.partial) {
            Ok(rest) => dir.join(rest),
            Err(_) => p.clone(),
        };
        for r in &mut out {
            r.init = moved(&r.init);
            r.playlist = moved(&r.playlist);
            for s in &mut r.segments {
                s.path = moved(&s.path);
            }
        }
        Ok(out)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.partial);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Muxing.

/// Allocates an output context for a muxer that opens its own files (hls, dash): no I/O
/// context is opened for `url` itself.
fn alloc_output(muxer: &str, url: &Path) -> Result<ff::format::context::Output> {
    let what = url.display().to_string();
    let curl =
        CString::new(path_str(url)?).map_err(|_| Error::media(&what, "path contains NUL"))?;
    let cfmt = CString::new(muxer).map_err(|_| Error::media(&what, "muxer name contains NUL"))?;
    // SAFETY: allocation with valid C strings; on success the context is handed to `Output`,
    // which frees it (its `pb` stays null: avio_close(NULL) is a no-op).
    unsafe {
        let mut ps = std::ptr::null_mut();
        let r = ffi::avformat_alloc_output_context2(
            &mut ps,
            std::ptr::null_mut(),
            cfmt.as_ptr(),
            curl.as_ptr(),
        );
        if r < 0 || ps.is_null() {
            return Err(Error::media(
                &what,
                format!(
                    "this FFmpeg has no {muxer} muxer: {}",
                    ff::Error::from(r.min(-1))
                ),
            ));
        }
        if (*(*ps).oformat).flags & ffi::AVFMT_NOFILE == 0 {
            ffi::avformat_free_context(ps);
            return Err(Error::media(
                &what,
                format!("the {muxer} muxer expects an opened file"),
            ));
        }
        Ok(ff::format::context::Output::wrap(ps))
    }
}

/// Copies the video stream of every scan into one output of `muxer` (stream k from scan k),
/// packets interleaved by decode time, timestamps rescaled to the output streams' time bases.
fn remux(muxer: &str, url: &Path, scans: &[Scan], options: &[(&str, String)]) -> Result<()> {
    let what = url.display().to_string();
    let mut inputs = Vec::new();
    for s in scans {
        inputs.push(open_rendition(&s.path, &s.name, &s.what)?);
    }
    let mut octx = alloc_output(muxer, url)?;
    let mut in_tb = Vec::new();
    for (k, (input, index)) in inputs.iter().enumerate() {
        let s = &scans[k];
        let ist = input
            .stream(*index)
            .ok_or_else(|| Error::media(&s.what, "stream vanished"))?;
        in_tb.push(ist.time_base());
        let hevc = ist.parameters().id() == ff::codec::Id::HEVC;
        // SAFETY: a new stream of our own output context; its codec parameters are filled by
        // avcodec_parameters_copy from the input stream's (alive: `input` is borrowed).
        unsafe {
            let st = ffi::avformat_new_stream(octx.as_mut_ptr(), std::ptr::null());
            if st.is_null() {
                return Err(Error::media(&what, "cannot add a stream"));
            }
            let r = ffi::avcodec_parameters_copy((*st).codecpar, (*ist.as_ptr()).codecpar);
            if r < 0 {
                return Err(Error::media(
                    &s.what,
                    format!("cannot copy stream parameters: {}", ff::Error::from(r)),
                ));
            }
            // The input container's tag means nothing to MP4. HEVC as `hvc1` (parameter sets
            // in the sample entry), which Apple's players require; `hev1` otherwise.
            (*(*st).codecpar).codec_tag = if hevc {
                u32::from_le_bytes(*b"hvc1")
            } else {
                0
            };
            (*st).time_base = (*ist.as_ptr()).time_base;
            let fps = ffi::AVRational {
                num: s.fps.0 as i32,
                den: s.fps.1 as i32,
            };
            (*st).avg_frame_rate = fps;
            (*st).r_frame_rate = fps;
        }
    }
    let mut dict = ff::Dictionary::new();
    for (k, v) in options {
        dict.set(k, v);
    }
    let unused: Vec<String> = octx
        .write_header_with(dict)
        .map_err(|e| Error::media(&what, format!("{muxer} muxer: cannot start: {e}")))?
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    if !unused.is_empty() {
        return Err(Error::media(
            &what,
            format!(
                "the {muxer} muxer of this FFmpeg does not know the option(s) {}",
                unused.join(", ")
            ),
        ));
    }
    let out_tb: Vec<ff::Rational> = (0..scans.len())
        .map(|k| octx.stream(k).map(|s| s.time_base()).unwrap_or(in_tb[k]))
        .collect();
    let mut pending = Vec::new();
    for (k, (input, index)) in inputs.iter_mut().enumerate() {
        pending.push(next_packet(input, *index, &scans[k].what)?);
    }
    let seconds =
        |p: &ff::Packet, tb: ff::Rational| p.dts().or(p.pts()).unwrap_or(0) as f64 * f64::from(tb);
    loop {
        let next = pending
            .iter()
            .enumerate()
            .filter_map(|(k, p)| p.as_ref().map(|p| (k, seconds(p, in_tb[k]))))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k);
        let Some(k) = next else { break };
        let Some(mut p) = pending[k].take() else {
            break;
        };
        if p.duration() <= 0 {
            // One frame: the fragment muxer needs every sample's duration.
            let d = f64::from(in_tb[k]).recip() * scans[k].fps.1 as f64 / scans[k].fps.0 as f64;
            p.set_duration(d.round().max(1.0) as i64);
        }
        p.rescale_ts(in_tb[k], out_tb[k]);
        p.set_stream(k);
        p.set_position(-1);
        p.write_interleaved(&mut octx).map_err(|e| {
            Error::media(
                &what,
                format!(
                    "{muxer} muxer: cannot write a packet of {}: {e}",
                    scans[k].what
                ),
            )
        })?;
        let (input, index) = &mut inputs[k];
        pending[k] = next_packet(input, *index, &scans[k].what)?;
    }
    octx.write_trailer()
        .map_err(|e| Error::media(&what, format!("{muxer} muxer: cannot finish: {e}")))
}

// ---------------------------------------------------------------------------------------------
// What was written.

/// A rendition's facts from its scan, written segments and init segment.
fn packaged(
    s: &Scan,
    playlist: &Path,
    init: PathBuf,
    segments: &[(PathBuf, f64)],
) -> Result<PackagedRendition> {
    if segments.is_empty() {
        return Err(Error::media(
            playlist.display().to_string(),
            format!("no segments written for rendition {}", s.name),
        ));
    }
    let mut out = Vec::new();
    let mut start = 0.0;
    for (path, d) in segments {
        let bytes = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        if !(*d > 0.0 && d.is_finite()) {
            return Err(Error::data(
                playlist.display().to_string(),
                format!("segment {} has duration {d}", path.display()),
            ));
        }
        out.push(Segment {
            path: path.clone(),
            bytes,
            start_s: start,
            duration_s: *d,
        });
        start += d;
    }
    let bits: f64 = out.iter().map(|s| s.bytes as f64 * 8.0).sum();
    let average_bps = (bits / start).ceil() as u64;
    let peak_bps = out.iter().map(|s| s.bps().ceil() as u64).max().unwrap_or(0);
    let fps = s.fps.0 as f64 / s.fps.1 as f64;
    let codecs = codecs_from_init(&init, s.width, s.height, fps, average_bps)?;
    Ok(PackagedRendition {
        name: s.name.clone(),
        width: s.width,
        height: s.height,
        codecs,
        fps_num: s.fps.0,
        fps_den: s.fps.1,
        frames: s.frames,
        init,
        segments: out,
        average_bps,
        peak_bps,
        playlist: playlist.to_path_buf(),
    })
}

/// Checks that every rendition's segments start at the same frames as the first one's (they
/// do when keyframes align; this proves the muxer cut them alike).
fn check_boundaries(scans: &[Scan], out: &[PackagedRendition]) -> Result<()> {
    let starts = |r: &PackagedRendition| -> Vec<u64> {
        r.segments
            .iter()
            .map(|s| (s.start_s * r.fps()).round() as u64)
            .collect()
    };
    let first = starts(&out[0]);
    for (s, r) in scans.iter().zip(out).skip(1) {
        let these = starts(r);
        if these != first {
            return Err(Error::Mismatch(format!(
                "{}: segments start at frames {these:?}, rendition {}'s at {first:?}",
                s.what, out[0].name
            )));
        }
    }
    Ok(())
}

/// The multivariant playlist: variants in increasing `BANDWIDTH` (players and validators
/// expect the first, default variant to be a cheap one), URIs relative to it.
fn master_playlist(out: &[PackagedRendition]) -> String {
    let mut order: Vec<&PackagedRendition> = out.iter().collect();
    order.sort_by_key(|r| (r.peak_bps, r.width * r.height));
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for r in order {
        m.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\",FRAME-RATE={:.3}\n{}/{HLS_MEDIA}\n",
            r.peak_bps, r.average_bps, r.width, r.height, r.codecs, r.fps(), r.name
        ));
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Manifests.

/// A media playlist's init segment URI and (URI, EXTINF duration) per segment.
struct MediaPlaylist {
    map: Option<String>,
    segments: Vec<(String, f64)>,
}

fn parse_media_playlist(path: &Path) -> Result<MediaPlaylist> {
    let what = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if !text.starts_with("#EXTM3U") {
        return Err(Error::data(&what, "not an M3U8 playlist (no #EXTM3U)"));
    }
    let mut map = None;
    let mut segments = Vec::new();
    let mut duration = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("#EXT-X-MAP:") {
            map = attribute(rest, "URI");
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let d = rest.split(',').next().unwrap_or("").trim();
            duration = Some(
                d.parse::<f64>()
                    .map_err(|_| Error::data(&what, format!("bad #EXTINF duration {d:?}")))?,
            );
        } else if !line.starts_with('#') {
            let d = duration
                .take()
                .ok_or_else(|| Error::data(&what, format!("segment {line} without #EXTINF")))?;
            segments.push((line.to_string(), d));
        }
    }
    Ok(MediaPlaylist { map, segments })
}

/// An attribute of an M3U8 attribute list (`NAME=value` or `NAME="value"`, comma separated).
fn attribute(list: &str, name: &str) -> Option<String> {
    let mut rest = list;
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        rest = &rest[eq + 1..];
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"')?;
            value = &q[..end];
            rest = &q[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
        }
        if key == name {
            return Some(value.to_string());
        }
    }
    None
}

/// The variants of a master playlist: (BANDWIDTH, URI).
fn parse_master(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut bandwidth = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            bandwidth = Some(
                attribute(rest, "BANDWIDTH")
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(0),
            );
        } else if !line.starts_with('#') {
            if let Some(b) = bandwidth.take() {
                out.push((b, line.to_string()));
            }
        }
    }
    out
}

/// One representation of an MPD, with its files resolved next to the MPD.
struct Representation {
    id: String,
    bandwidth: u64,
    init: PathBuf,
    /// (file, duration in seconds), in order.
    segments: Vec<(PathBuf, f64)>,
}

impl Representation {
    fn duration_s(&self) -> f64 {
        self.segments.iter().map(|s| s.1).sum()
    }
}

/// The attributes of an XML start tag (the text between `<Name` and `>`).
fn xml_attrs(tag: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let Some(end) = after[1..].find(q) else { break };
        let value = after[1..1 + end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.push((key.rsplit(char::is_whitespace).next().unwrap_or(key), value));
        rest = &after[2 + end..];
    }
    out
}

fn xml_attr(tag: &str, name: &str) -> Option<String> {
    xml_attrs(tag)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Start tags `<name ...>` in `text` as (byte offset, attribute text).
fn start_tags<'a>(text: &'a str, name: &str) -> Vec<(usize, &'a str)> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(&open) {
        let at = from + i;
        let body = at + open.len();
        from = body;
        if !text[body..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let Some(end) = text[body..].find('>') else {
            break;
        };
        out.push((at, text[body..body + end].trim_end_matches('/')));
    }
    out
}

/// Fills a SegmentTemplate pattern: `$RepresentationID$`, `$Number$`, `$Time$`, `$Bandwidth$`
/// (with an optional `%0Nd` width) and `$$`.
fn fill_template(pattern: &str, id: &str, number: u64, time: u64, bandwidth: u64) -> String {
    let mut out = String::new();
    let mut parts = pattern.split('$');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    let mut i = 0;
    while i < rest.len() {
        let ident = rest[i];
        let text = rest.get(i + 1).copied().unwrap_or("");
        let (name, width) = match ident.split_once('%') {
            Some((n, f)) => (
                n,
                f.trim_start_matches('0')
                    .trim_end_matches('d')
                    .parse::<usize>()
                    .unwrap_or(0),
            ),
            None => (ident, 0),
        };
        let value = match name {
            "" => "$".to_string(),
            "RepresentationID" => id.to_string(),
            "Number" => format!("{number:0width$}"),
            "Time" => format!("{time:0width$}"),
            "Bandwidth" => format!("{bandwidth:0width$}"),
            other => format!("${other}$"),
        };
        out.push_str(&value);
        out.push_str(text);
        i += 2;
    }
    out
}

/// The representations of an MPD with a `SegmentTemplate` + `SegmentTimeline` (what the dash
/// muxer writes), in document order. The template may sit in the representation or its
/// adaptation set.
fn parse_mpd(path: &Path, text: &str) -> Result<Vec<Representation>> {
    let what = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new("."));
    let sets = start_tags(text, "AdaptationSet");
    let mut out = Vec::new();
    for (k, (at, tag)) in start_tags(text, "Representation").into_iter().enumerate() {
        let end = text[at..]
            .find("</Representation>")
            .map_or(text.len(), |e| at + e);
        let set = sets.iter().rev().find(|(s, _)| *s < at);
        let set_end = set.map_or(text.len(), |(s, _)| {
            text[*s..]
                .find("</AdaptationSet>")
                .map_or(text.len(), |e| s + e)
        });
        let id = xml_attr(tag, "id").unwrap_or_else(|| k.to_string());
        let label = format!("{what}: representation {id}");
        let bandwidth = xml_attr(tag, "bandwidth")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        // The template in the representation, else the adaptation set's (which precedes the
        // set's first representation).
        let own = &text[at..end];
        let (tmpl_at, tmpl) = match start_tags(own, "SegmentTemplate").first() {
            Some(&(i, t)) => (at + i, t),
            None => {
                let s = set.map_or(0, |(s, _)| *s);
                let first_rep = text[s..set_end]
                    .find("<Representation")
                    .map_or(set_end, |i| s + i);
                start_tags(&text[s..first_rep], "SegmentTemplate")
                    .first()
                    .map(|&(i, t)| (s + i, t))
                    .ok_or_else(|| Error::data(&label, "no SegmentTemplate"))?
            }
        };
        let timescale: u64 = xml_attr(tmpl, "timescale")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1);
        let start_number: u64 = xml_attr(tmpl, "startNumber")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1);
        let init = xml_attr(tmpl, "initialization")
            .ok_or_else(|| Error::data(&label, "SegmentTemplate has no initialization"))?;
        let media = xml_attr(tmpl, "media")
            .ok_or_else(|| Error::data(&label, "SegmentTemplate has no media"))?;
        let tag_end = tmpl_at + "<SegmentTemplate".len() + tmpl.len();
        let tmpl_end = if text[tag_end..].starts_with('/') {
            tag_end // self-closing: no timeline
        } else {
            text[tmpl_at..]
                .find("</SegmentTemplate>")
                .map_or(text.len(), |e| tmpl_at + e)
        };
        let timeline = &text[tmpl_at..tmpl_end];
        let mut segments = Vec::new();
        let mut t = 0u64;
        for (_, s) in start_tags(timeline, "S") {
            let num = |n: &str| -> Result<Option<i64>> {
                xml_attr(s, n)
                    .map(|v| {
                        v.parse::<i64>()
                            .map_err(|_| Error::data(&label, format!("bad <S {n}=\"{v}\">")))
                    })
                    .transpose()
            };
            if let Some(start) = num("t")? {
                t = start.max(0) as u64;
            }
            let d = num("d")?
                .filter(|d| *d > 0)
                .ok_or_else(|| Error::data(&label, "<S> without a positive duration"))?
                as u64;
            let r = num("r")?.unwrap_or(0);
            if r < 0 {
                return Err(Error::data(
                    &label,
                    "open-ended <S r=\"-1\"> is not supported",
                ));
            }
            for _ in 0..=r {
                let n = start_number + segments.len() as u64;
                let file = fill_template(&media, &id, n, t, bandwidth);
                segments.push((base.join(file), d as f64 / timescale as f64));
                t += d;
            }
        }
        if segments.is_empty() {
            return Err(Error::data(&label, "no SegmentTimeline segments"));
        }
        out.push(Representation {
            init: base.join(fill_template(&init, &id, start_number, 0, bandwidth)),
            id,
            bandwidth,
            segments,
        });
    }
    if out.is_empty() {
        return Err(Error::data(&what, "no Representation"));
    }
    Ok(out)
}

/// Sets attribute `name` of an XML start tag's attribute text to `value` (added if absent).
fn set_xml_attr(tag: &str, name: &str, value: &str) -> String {
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(i) = tag[from..].find(&key) {
        let at = from + i;
        let before = tag[..at].chars().next_back();
        if before.is_some_and(char::is_whitespace) {
            let v = at + key.len();
            let end = tag[v..].find('"').map_or(tag.len(), |e| v + e);
            return format!("{}{value}{}", &tag[..v], &tag[end..]);
        }
        from = at + key.len();
    }
    format!("{tag} {name}=\"{value}\"")
}

/// The dash muxer's MPD with each representation's `codecs` and `bandwidth` replaced, and
/// `bitstreamSwitching` off (see [`write_dash`]).
fn rewrite_mpd(text: &str, reps: &[(String, String, u64)]) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut last = 0;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (name, f) in [("Representation", true), ("AdaptationSet", false)] {
        for (at, tag) in start_tags(text, name) {
            let start = at + 1 + name.len();
            let new = if f {
                let id = xml_attr(tag, "id").unwrap_or_default();
                match reps.iter().find(|r| r.0 == id) {
                    Some((_, codecs, bw)) => set_xml_attr(
                        &set_xml_attr(tag, "codecs", codecs),
                        "bandwidth",
                        &bw.to_string(),
                    ),
                    None => tag.to_string(),
                }
            } else if xml_attr(tag, "bitstreamSwitching").is_some() {
                set_xml_attr(tag, "bitstreamSwitching", "false")
            } else {
                tag.to_string()
            };
            edits.push((start, start + tag.len(), new));
        }
    }
    edits.sort_by_key(|e| e.0);
    for (s, e, new) in edits {
        out.push_str(&text[last..s]);
        out.push_str(&new);
        last = e;
    }
    out.push_str(&text[last..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Codecs strings (RFC 6381) from the init segment's sample entry.

/// The boxes of an ISO BMFF byte range: (type, payload).
fn mp4_boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 8 <= data.len() {
        let size32 = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as u64;
        let kind = [data[i + 4], data[i + 5], data[i + 6], data[i + 7]];
        let (header, size) = match size32 {
            0 => (8u64, (data.len() - i) as u64),
            1 if i + 16 <= data.len() => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[i + 8..i + 16]);
                (16, u64::from_be_bytes(b))
            }
            1 => break,
            s => (8, s),
        };
        if size < header || size > (data.len() - i) as u64 {
            break;
        }
        out.push((kind, &data[i + header as usize..i + size as usize]));
        i += size as usize;
    }
    out
}

fn mp4_child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    mp4_boxes(data)
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, p)| p)
}

/// The first video sample entry of an init segment: its type (`avc1`, `hvc1`, `vp09`, ...)
/// and child boxes' bytes.
fn sample_entry(init: &[u8]) -> Option<([u8; 4], &[u8])> {
    let mut b = mp4_child(init, b"moov")?;
    b = mp4_child(b, b"trak")?;
    for k in [b"mdia", b"minf", b"stbl", b"stsd"] {
        b = mp4_child(b, k)?;
    }
    // stsd: version/flags, entry count, then the entries.
    let (kind, entry) = *mp4_boxes(b.get(8..)?).first()?;
    // VisualSampleEntry fields before its child boxes: 78 bytes.
    Some((kind, entry.get(78..)?))
}

fn codecs_from_init(
    init: &Path,
    width: u32,
    height: u32,
    fps: f64,
    avg_bps: u64,
) -> Result<String> {
    let what = init.display().to_string();
    let data = fs::read(init).map_err(|e| Error::io(init, e))?;
    let (kind, children) =
        sample_entry(&data).ok_or_else(|| Error::media(&what, "no video sample entry"))?;
    let entry = String::from_utf8_lossy(&kind).into_owned();
    let config = |k: &[u8; 4]| mp4_child(children, k);
    let s = match &kind {
        b"avc1" | b"avc3" => config(b"avcC").and_then(|c| avc_codecs(&entry, c)),
        b"hvc1" | b"hev1" => config(b"hvcC").and_then(|c| hevc_codecs(&entry, c)),
        b"vp09" => config(b"vpcC").and_then(|c| vp9_codecs(c, width, height, fps, avg_bps)),
        b"av01" => config(b"av1C").and_then(av1_codecs),
        _ => None,
    };
    s.ok_or_else(|| {
        Error::media(
            &what,
            format!("sample entry {entry}: no readable decoder configuration for a codecs string"),
        )
    })
}

/// `avc1.PPCCLL`: profile_idc, constraint flags and level_idc of the avcC (copies of the SPS's).
fn avc_codecs(entry: &str, avcc: &[u8]) -> Option<String> {
    (avcc.len() >= 4 && avcc[0] == 1)
        .then(|| format!("{entry}.{:02x}{:02x}{:02x}", avcc[1], avcc[2], avcc[3]))
}

/// ISO/IEC 14496-15 Annex E: `hvc1.[A-C]<profile_idc>.<compatibility flags, bit-reversed,
/// hex>.<L|H><level_idc>[.<constraint byte, hex>...]` with trailing zero constraint bytes left
/// out.
fn hevc_codecs(entry: &str, hvcc: &[u8]) -> Option<String> {
    if hvcc.len() < 13 || hvcc[0] != 1 {
        return None;
    }
    let space = ["", "A", "B", "C"][(hvcc[1] >> 6) as usize];
    let tier = if hvcc[1] & 0x20 != 0 { 'H' } else { 'L' };
    let idc = hvcc[1] & 0x1f;
    let compat = u32::from_be_bytes([hvcc[2], hvcc[3], hvcc[4], hvcc[5]]).reverse_bits();
    let level = hvcc[12];
    let mut s = format!("{entry}.{space}{idc}.{compat:X}.{tier}{level}");
    let cons = &hvcc[6..12];
    let n = cons.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    for b in &cons[..n] {
        s.push_str(&format!(".{b:X}"));
    }
    Some(s)
}

/// VP9 levels (webmproject.org/vp9/levels, libvpx's vp9_level_defs): level×10, max luma
/// sample rate, max luma picture size, max picture breadth, max bitrate (kbit/s).
const VP9_LEVELS: [(u8, u64, u64, u32, u64); 14] = [
    (10, 829_440, 36_864, 512, 200),
    (11, 2_764_800, 73_728, 768, 800),
    (20, 4_608_000, 122_880, 960, 1_800),
    (21, 9_216_000, 245_760, 1_344, 3_600),
    (30, 20_736_000, 552_960, 2_048, 7_200),
    (31, 36_864_000, 983_040, 2_752, 12_000),
    (40, 83_558_400, 2_228_224, 4_160, 18_000),
    (41, 160_432_128, 2_228_224, 4_160, 30_000),
    (50, 311_951_360, 8_912_896, 8_384, 60_000),
    (51, 588_251_136, 8_912_896, 8_384, 120_000),
    (52, 1_176_502_272, 8_912_896, 8_384, 180_000),
    (60, 1_176_502_272, 35_651_584, 16_832, 180_000),
    (61, 2_353_004_544, 35_651_584, 16_832, 240_000),
    (62, 4_706_009_088, 35_651_584, 16_832, 480_000),
];

/// The lowest VP9 level whose limits a stream of this size, rate and average bitrate meets, 0
/// beyond level 6.2. VP9 has no level in its bitstream; FFmpeg 5.1's mp4 muxer writes one into
/// the vpcC from the picture size alone, which understates it for high frame rates or bitrates.
fn vp9_level(width: u32, height: u32, fps: f64, avg_bps: u64) -> u8 {
    let size = width as u64 * height as u64;
    let rate = size as f64 * fps;
    VP9_LEVELS
        .iter()
        .find(|&&(_, r, s, b, kbps)| {
            rate <= r as f64 && size <= s && width.max(height) <= b && avg_bps <= kbps * 1000
        })
        .map_or(0, |l| l.0)
}

/// `vp09.PP.LL.DD` from the vpcC (version 1: profile, level, bit depth), the level raised to
/// [`vp9_level`]'s where that is higher, so it is never understated.
fn vp9_codecs(vpcc: &[u8], width: u32, height: u32, fps: f64, avg_bps: u64) -> Option<String> {
    // FullBox: version, 3 bytes of flags; then profile, level, bitDepth(4) | chroma(3) | range.
    if vpcc.len() < 7 || vpcc[0] != 1 {
        return None;
    }
    let profile = vpcc[4];
    let level = vpcc[5].max(vp9_level(width, height, fps, avg_bps));
    let depth = vpcc[6] >> 4;
    Some(format!("vp09.{profile:02}.{level:02}.{depth:02}"))
}

/// `av01.P.LLT.DD` from the av1C (seq_profile, seq_level_idx_0, seq_tier_0, bit depth).
fn av1_codecs(av1c: &[u8]) -> Option<String> {
    if av1c.len() < 4 || av1c[0] != 0x81 {
        return None;
    }
    let profile = av1c[1] >> 5;
    let level = av1c[1] & 0x1f;
    let tier = if av1c[2] & 0x80 != 0 { 'H' } else { 'M' };
    let high = av1c[2] & 0x40 != 0;
    let twelve = av1c[2] & 0x20 != 0;
    let depth = match (profile, high, twelve) {
        (2, true, true) => 12,
        (_, true, _) => 10,
        _ => 8,
    };
    Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
}

// ---------------------------------------------------------------------------------------------
// Reading back.

fn has_demuxer(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: lookup by a valid C string; returns a static descriptor or null.
    unsafe { !ffi::av_find_input_format(c.as_ptr()).is_null() }
}

fn open_demuxer(path: &Path, format: &str) -> Result<ff::format::context::Input> {
    let what = path.display().to_string();
    if !has_demuxer(format) {
        return Err(Error::media(
            &what,
            format!("this FFmpeg has no {format} demuxer"),
        ));
    }
    open_url(path_str(path)?, Some(format), &what)
}

/// Opens `url` (a path, or a protocol URL such as `concat:a|b`) with the named demuxer or by
/// probing, and reads its stream parameters.
fn open_url(url: &str, format: Option<&str>, what: &str) -> Result<ff::format::context::Input> {
    let curl = CString::new(url).map_err(|_| Error::media(what, "path contains NUL"))?;
    let cfmt = format
        .map(CString::new)
        .transpose()
        .map_err(|_| Error::media(what, "format name contains NUL"))?;
    // SAFETY: avformat_open_input with valid C strings allocates the context (freed by it on
    // failure); on success it is handed to `Input`, which closes it.
    unsafe {
        let fmt = cfmt
            .as_ref()
            .map_or(std::ptr::null(), |f| ffi::av_find_input_format(f.as_ptr()));
        let mut ps = std::ptr::null_mut();
        let r = ffi::avformat_open_input(&mut ps, curl.as_ptr(), fmt, std::ptr::null_mut());
        if r < 0 {
            return Err(Error::media(
                what,
                format!("cannot open: {}", ff::Error::from(r)),
            ));
        }
        let input = ff::format::context::Input::wrap(ps);
        let r = ffi::avformat_find_stream_info(ps, std::ptr::null_mut());
        if r < 0 {
            return Err(Error::media(
                what,
                format!("cannot read stream parameters: {}", ff::Error::from(r)),
            ));
        }
        Ok(input)
    }
}

/// One video stream's decoder and what it produced.
struct Decoded {
    index: usize,
    decoder: ff::decoder::Video,
    frames: u64,
    size: Option<(u32, u32)>,
    resized: Option<(u32, u32)>,
    errors: u64,
    fps: f64,
}

impl Decoded {
    fn receive(&mut self, frame: &mut ff::frame::Video) {
        loop {
            match self.decoder.receive_frame(frame) {
                Ok(()) => {
                    self.frames += 1;
                    let s = (frame.width(), frame.height());
                    // SAFETY: a plain field read of the frame the decoder just filled.
                    let flags = unsafe { (*frame.as_ptr()).decode_error_flags };
                    if flags != 0 {
                        self.errors += 1;
                    }
                    match self.size {
                        None => self.size = Some(s),
                        Some(first) if first != s => self.resized = Some(s),
                        _ => {}
                    }
                }
                Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => return,
                Err(ff::Error::Eof) => return,
                Err(_) => {
                    self.errors += 1;
                    return;
                }
            }
        }
    }

    fn check(
        &self,
        label: &str,
        uri: String,
        bandwidth: u64,
        duration_s: f64,
    ) -> Result<VariantCheck> {
        let damaged = |message: String| Error::Damaged {
            what: label.to_string(),
            message,
        };
        if self.errors > 0 {
            return Err(damaged(format!("{} decoder errors", self.errors)));
        }
        let (width, height) = self
            .size
            .ok_or_else(|| damaged("no frame decoded".into()))?;
        if let Some((w, h)) = self.resized {
            return Err(damaged(format!(
                "frame size changes from {width}x{height} to {w}x{h}"
            )));
        }
        // The muxer's durations come from timestamps in the input container's time base
        // (webm: milliseconds) and need not count the last frame's own duration, so they may
        // fall short of the frames by less than one; a whole frame more or less is damage.
        let expected = (duration_s * self.fps).round() as u64;
        if (self.frames as f64 - duration_s * self.fps).abs() >= 1.0 {
            return Err(damaged(format!(
                "{} frames decoded, the manifest's {duration_s:.3} s hold {expected}",
                self.frames
            )));
        }
        Ok(VariantCheck {
            uri,
            bandwidth,
            width,
            height,
            frames: self.frames,
            duration_s,
        })
    }
}

/// Decodes every packet of every video stream of `input` not discarded (AV1 with libdav1d, as
/// [`media::Decoder`] does: FFmpeg's native AV1 decoder needs hardware).
fn decode_all(input: &mut ff::format::context::Input, what: &str) -> Result<Vec<Decoded>> {
    let mut decoded: Vec<Decoded> = Vec::new();
    for s in input.streams() {
        let par = s.parameters();
        if par.medium() != ff::media::Type::Video || s.discard() == ff::Discard::All {
            continue;
        }
        let id = par.id();
        let fps = rate(s.avg_frame_rate())
            .or_else(|| rate(s.rate()))
            .map_or(0.0, |(n, d)| n as f64 / d as f64);
        let ctx = ff::codec::context::Context::from_parameters(par)
            .map_err(|e| Error::media(what, format!("stream {}: {e}", s.index())))?;
        let dav1d = (id == ff::codec::Id::AV1)
            .then(|| ff::codec::decoder::find_by_name("libdav1d"))
            .flatten();
        let opened = match dav1d {
            Some(codec) => ctx.decoder().open_as(codec).and_then(|o| o.video()),
            None => ctx.decoder().video(),
        }
        .map_err(|e| {
            Error::media(
                what,
                format!("stream {}: no {id:?} decoder: {e}", s.index()),
            )
        })?;
        decoded.push(Decoded {
            index: s.index(),
            decoder: opened,
            frames: 0,
            size: None,
            resized: None,
            errors: 0,
            fps,
        });
    }
    let mut frame = ff::frame::Video::empty();
    loop {
        let mut p = ff::Packet::empty();
        match p.read(input) {
            Ok(()) => {
                let Some(d) = decoded.iter_mut().find(|d| d.index == p.stream()) else {
                    continue;
                };
                loop {
                    match d.decoder.send_packet(&p) {
                        Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => {
                            d.receive(&mut frame)
                        }
                        Err(_) => {
                            d.errors += 1;
                            break;
                        }
                        Ok(()) => break,
                    }
                }
                d.receive(&mut frame);
            }
            Err(ff::Error::Eof) => break,
            Err(ff::Error::Other { errno }) if errno == libc::EAGAIN => continue,
            Err(e) => return Err(Error::media(what, format!("cannot read packet: {e}"))),
        }
    }
    for d in &mut decoded {
        let _ = d.decoder.send_eof();
        d.receive(&mut frame);
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_strings_from_configuration_records() {
        // avcC of High@3.1.
        assert_eq!(
            avc_codecs("avc1", &[1, 0x64, 0x00, 0x1f, 0xff]).as_deref(),
            Some("avc1.64001f")
        );
        // hvcC of Main (compatibility flags 1 and 2), level 3.1, progressive/frame-only.
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93];
        hvcc.extend([0xf0, 0, 0xfc]);
        assert_eq!(
            hevc_codecs("hvc1", &hvcc).as_deref(),
            Some("hvc1.1.6.L93.B0")
        );
        // Main 10, high tier, level 5.1.
        let hvcc = [1, 0x22, 0x20, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 153];
        assert_eq!(
            hevc_codecs("hev1", &hvcc).as_deref(),
            Some("hev1.2.4.H153.B0")
        );
        // vpcC v1: profile 0, level undefined, 8-bit → level from the table.
        let vpcc = [1, 0, 0, 0, 0, 0, 0x82, 1, 1, 1, 0, 0];
        assert_eq!(
            vp9_codecs(&vpcc, 1280, 720, 30.0, 2_000_000).as_deref(),
            Some("vp09.00.31.08")
        );
        // FFmpeg's size-only level 4 for 1080p60 is raised to 4.1 (sample rate); a higher
        // signalled level is kept.
        let vpcc = [1, 0, 0, 0, 0, 40, 0x82, 1, 1, 1, 0, 0];
        assert_eq!(
            vp9_codecs(&vpcc, 1920, 1080, 60.0, 8_000_000).as_deref(),
            Some("vp09.00.41.08")
        );
        let vpcc = [1, 0, 0, 0, 2, 51, 0xa2, 1, 1, 1, 0, 0];
        assert_eq!(
            vp9_codecs(&vpcc, 1920, 1080, 30.0, 8_000_000).as_deref(),
            Some("vp09.02.51.10")
        );
        assert_eq!(vp9_level(320, 180, 24.0, 300_000), 11);
        assert_eq!(vp9_level(1920, 1080, 60.0, 8_000_000), 41);
        // av1C: Main profile, level 5.1 (idx 13), main tier, 10-bit.
        assert_eq!(
            av1_codecs(&[0x81, 0x0d, 0x4c, 0]).as_deref(),
            Some("av01.0.13M.10")
        );
        assert_eq!(
            av1_codecs(&[0x81, 0x05, 0x0c, 0]).as_deref(),
            Some("av01.0.05M.08")
        );
    }

    #[test]
    fn templates_and_attributes() {
        assert_eq!(
            fill_template(
                "chunk-stream$RepresentationID$-$Number%05d$.m4s",
                "2",
                7,
                0,
                0
            ),
            "chunk-stream2-00007.m4s"
        );
        assert_eq!(fill_template("a$$b$Time$", "0", 1, 512, 0), "a$b512");
        assert_eq!(
            attribute("BANDWIDTH=100,CODECS=\"avc1.64001f,mp4a.40.2\",X=1", "X").as_deref(),
            Some("1")
        );
        let tag = r#" id="1" mimeType="video/mp4" codecs="hvc1" bandwidth="5""#;
        let t = set_xml_attr(tag, "codecs", "hvc1.1.6.L93.B0");
        assert_eq!(xml_attr(&t, "codecs").as_deref(), Some("hvc1.1.6.L93.B0"));
        assert_eq!(xml_attr(&t, "bandwidth").as_deref(), Some("5"));
        assert_eq!(xml_attr(&t, "id").as_deref(), Some("1"));
    }

    #[test]
    fn segment_time_snaps_to_frames_and_rounds_down() {
        let o = |s| PackageOptions { segment_seconds: s };
        assert_eq!(segment_time(&o(2.0), (24, 1)).unwrap(), "2.000000");
        // 50 frames at 24000/1001: 2.0854166… s, rounded down.
        assert_eq!(segment_time(&o(2.085), (24000, 1001)).unwrap(), "2.085416");
        assert!(segment_time(&o(0.0), (24, 1)).is_err());
        assert!(segment_time(&o(f64::NAN), (24, 1)).is_err());
    }
}
