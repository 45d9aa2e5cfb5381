//! Packaging (HLS, DASH): real encodes of a small ladder, packaged, read back by libavformat's
//! demuxers, and the manifests' claims (BANDWIDTH, CODECS, segment alignment) recomputed here
//! from the files and the bitstreams, independently of the packager.

use pertitle::media::{
    encoder_available, lavfi_source, Encoder, EncoderConfig, Packet, Scaler, ScalerKind,
    StreamWriter,
};
use pertitle::package::{
    validate_dash, validate_dash_segments, validate_hls, write_dash, write_hls, PackageOptions,
    Rendition, VariantCheck,
};
use pertitle::Frame;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{collect, tmpdir};

/// 2.5 s at 24 fps: keyframes every 24 frames give segments of 1, 1 and 0.5 s.
const FRAMES: u64 = 60;
const GOP: u32 = 24;
const SIZES: [(usize, usize); 3] = [(320, 180), (480, 270), (640, 360)];

fn opts() -> PackageOptions {
    PackageOptions {
        segment_seconds: 1.0,
    }
}

/// The source: a moving, detailed pattern at 640x360 (frames differ, so bitrates are real).
fn source(fps: (u32, u32)) -> Vec<Frame> {
    let graph = format!(
        "testsrc2=s=640x360:r={}/{},scroll=horizontal=0.02:vertical=0.01,format=yuv420p",
        fps.0, fps.1
    );
    collect(lavfi_source(&graph, 640, 360, fps, FRAMES).expect("lavfi source"))
}

fn scaled(src: &[Frame], (w, h): (usize, usize)) -> Vec<Frame> {
    let mut s = Scaler::new(src[0].format, w, h, ScalerKind::Bicubic).expect("scaler");
    src.iter().map(|f| s.scale(f).expect("scale")).collect()
}

/// An encoder config with a fixed GOP and no scene-cut keyframes, so keyframes fall on the same
/// frames in every rung.
fn config(codec: &str, frames: &[Frame], fps: (u32, u32), gop: u32) -> EncoderConfig {
    let (crf, preset, options): (f64, Option<&str>, Vec<(&str, &str)>) = match codec {
        "libx264" => (28.0, Some("veryfast"), vec![("sc_threshold", "0")]),
        "libx265" => (
            30.0,
            Some("ultrafast"),
            vec![("x265-params", "scenecut=0:open-gop=0:log-level=error")],
        ),
        "libsvtav1" => (40.0, Some("12"), vec![]),
        "libvpx-vp9" => (
            40.0,
            None,
            vec![
                ("deadline", "realtime"),
                ("cpu-used", "8"),
                ("keyint_min", "24"),
            ],
        ),
        other => panic!("no test config for {other}"),
    };
    assert!(
        encoder_available(codec),
        "{codec}: not an encoder of this FFmpeg (Debian 12's libavcodec59 has it)"
    );
    let mut cfg = EncoderConfig::crf(codec, frames[0].format, fps, crf);
    cfg.preset = preset.map(String::from);
    cfg.options = options
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cfg.gop = Some(gop);
    cfg
}

/// Encodes `frames` and writes them to `path` (container from the extension); the packets.
fn encode(path: &Path, cfg: &EncoderConfig, frames: &[Frame]) -> Vec<Packet> {
    let mut enc = Encoder::new(cfg).expect("encoder");
    let mut packets = Vec::new();
    for f in frames {
        packets.extend(enc.encode(f).expect("encode"));
    }
    packets.extend(enc.finish().expect("finish"));
    let mut w = StreamWriter::create(path, &enc.stream_params()).expect("writer");
    for p in &packets {
        w.write(p).expect("write");
    }
    w.finish().expect("finish file");
    packets
}

/// Keyframe pts of an encode.
fn keyframes(packets: &[Packet]) -> Vec<i64> {
    let mut k: Vec<i64> = packets
        .iter()
        .filter(|p| p.keyframe)
        .map(|p| p.pts)
        .collect();
    k.sort();
    k
}

/// A rung of the test ladder: the rendition and its encoder's packets.
struct Rung {
    rendition: Rendition,
    packets: Vec<Packet>,
}

/// Encodes the source at `sizes` with `codec`, each rung in the container `exts[i]`.
fn ladder(dir: &Path, codec: &str, sizes: &[(usize, usize)], exts: &[&str]) -> Vec<Rung> {
    let src = source((24, 1));
    sizes
        .iter()
        .zip(exts)
        .map(|(&(w, h), ext)| {
            let frames = scaled(&src, (w, h));
            let name = format!("{}_{w}x{h}", codec.trim_start_matches("lib"));
            let path = dir.join(format!("{name}.{ext}"));
            let packets = encode(&path, &config(codec, &frames, (24, 1), GOP), &frames);
            assert_eq!(
                keyframes(&packets),
                vec![0, 24, 48],
                "{name}: a fixed GOP of {GOP} with scene cuts off gives keyframes at 0, 24, 48"
            );
            Rung {
                rendition: Rendition::new(name, path),
                packets,
            }
        })
        .collect()
}

fn renditions(rungs: &[Rung]) -> Vec<Rendition> {
    rungs.iter().map(|r| r.rendition.clone()).collect()
}

/// NAL units of an Annex B packet, emulation-prevention bytes removed.
fn nal_units(data: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
            let mut rbsp = Vec::new();
            let mut zeros = 0;
            for &b in &data[s..end] {
                if zeros >= 2 && b == 3 {
                    zeros = 0;
                    continue;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                rbsp.push(b);
            }
            rbsp
        })
        .collect()
}

/// `avc1.PPCCLL` straight from the H.264 SPS in the first packet.
fn h264_codecs_from_sps(packets: &[Packet]) -> String {
    let sps = nal_units(&packets[0].data)
        .into_iter()
        .find(|n| n.first().map(|b| b & 0x1f) == Some(7))
        .expect("an SPS in the first packet");
    format!("avc1.{:02x}{:02x}{:02x}", sps[1], sps[2], sps[3])
}

/// The HEVC codecs string straight from the SPS's profile_tier_level (ISO/IEC 14496-15 E.3).
fn hevc_codecs_from_sps(packets: &[Packet]) -> String {
    let sps = nal_units(&packets[0].data)
        .into_iter()
        .find(|n| n.first().map(|b| (b >> 1) & 0x3f) == Some(33))
        .expect("an SPS in the first packet");
    // 2-byte NAL header, 1 byte of ids/sub-layers, then profile_tier_level.
    let ptl = &sps[3..];
    let space = ["", "A", "B", "C"][(ptl[0] >> 6) as usize];
    let tier = if ptl[0] & 0x20 != 0 { "H" } else { "L" };
    let mut compat = 0u32;
    for bit in 0..32 {
        if ptl[1 + bit / 8] & (0x80 >> (bit % 8)) != 0 {
            compat |= 1 << bit;
        }
    }
    let mut s = format!("hvc1.{space}{}.{compat:X}.{tier}{}", ptl[0] & 0x1f, ptl[11]);
    let cons = &ptl[5..11];
    let n = cons.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    for b in &cons[..n] {
        s.push_str(&format!(".{b:X}"));
    }
    s
}

/// ffprobe's view of a stream: (profile, level).
fn ffprobe_profile_level(path: &Path) -> (String, i64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=profile,level",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (p, l) = text.split_once(',').expect("profile,level");
    (p.to_string(), l.parse().expect("level"))
}

/// An attribute list (`K=V,K="V,..."`) as a map.
fn attrs(list: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = list;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].to_string();
        rest = &rest[eq + 1..];
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap();
            value = q[..end].to_string();
            rest = q[end + 1..].trim_start_matches(',');
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = rest.get(end + 1..).unwrap_or("");
        }
        out.insert(key, value);
    }
    out
}

/// A media playlist's segments: (file, EXTINF seconds).
fn media_segments(playlist: &Path) -> Vec<(PathBuf, f64)> {
    let text = std::fs::read_to_string(playlist).unwrap();
    let mut out = Vec::new();
    let mut dur = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = Some(d.trim_end_matches(',').parse::<f64>().unwrap());
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((playlist.parent().unwrap().join(line), dur.take().unwrap()));
        }
    }
    out
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// Segment start frames (at 24 fps) from their durations.
fn start_frames(durations: &[f64]) -> Vec<u64> {
    let mut t = 0.0;
    durations
        .iter()
        .map(|d| {
            let f = (t * 24.0_f64).round() as u64;
            t += d;
            f
        })
        .collect()
}

/// Nothing of a failed or finished run is left beside `out`.
fn assert_no_partial(out: &Path) {
    let name = out.file_name().unwrap().to_str().unwrap();
    let partial = out.with_file_name(format!(".{name}.partial"));
    assert!(!partial.exists(), "{} left behind", partial.display());
}

/// One variant in the master playlist.
struct Variant {
    attrs: HashMap<String, String>,
    uri: String,
}

/// Checks an HLS package against its files and returns the variants in playlist order.
fn check_hls(out: &Path, rungs: &[Rung]) -> Vec<Variant> {
    let text = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..3],
        ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    );
    let mut variants = Vec::new();
    for pair in lines[3..].chunks(2) {
        let inf = pair[0]
            .strip_prefix("#EXT-X-STREAM-INF:")
            .expect("a STREAM-INF line");
        variants.push(Variant {
            attrs: attrs(inf),
            uri: pair[1].to_string(),
        });
    }
    assert_eq!(variants.len(), rungs.len());
    let bw = |v: &Variant, k: &str| v.attrs[k].parse::<u64>().unwrap();
    for w in variants.windows(2) {
        assert!(bw(&w[0], "BANDWIDTH") <= bw(&w[1], "BANDWIDTH"));
    }
    let mut boundaries = Vec::new();
    for v in &variants {
        let segs = media_segments(&out.join(&v.uri));
        assert!(!segs.is_empty());
        // BANDWIDTH is at least every segment's bitrate (size over EXTINF), AVERAGE-BANDWIDTH is
        // the whole stream's, both measured here from the files.
        let mut bits = 0.0;
        let mut secs = 0.0;
        for (path, d) in &segs {
            let b = size(path) as f64 * 8.0;
            assert!(
                bw(v, "BANDWIDTH") as f64 >= b / d,
                "{}: segment {} is {} bit/s, BANDWIDTH {}",
                v.uri,
                path.display(),
                b / d,
                bw(v, "BANDWIDTH")
            );
            bits += b;
            secs += d;
        }
        let peak = segs
            .iter()
            .map(|(p, d)| (size(p) as f64 * 8.0 / d).ceil() as u64)
            .max()
            .unwrap();
        assert_eq!(bw(v, "BANDWIDTH"), peak, "{}: BANDWIDTH is the peak", v.uri);
        assert_eq!(bw(v, "AVERAGE-BANDWIDTH"), (bits / secs).ceil() as u64);
        assert!(bw(v, "AVERAGE-BANDWIDTH") <= bw(v, "BANDWIDTH"));
        assert!(
            (secs - FRAMES as f64 / 24.0).abs() < 0.01,
            "{}: {secs} s",
            v.uri
        );
        assert_eq!(v.attrs["FRAME-RATE"], "24.000");
        boundaries.push(start_frames(&segs.iter().map(|s| s.1).collect::<Vec<_>>()));
        // The variant is a rung: its directory is the rendition's name.
        let rung = rungs
            .iter()
            .find(|r| v.uri == format!("{}/index.m3u8", r.rendition.name))
            .unwrap_or_else(|| panic!("{}: no such rendition", v.uri));
        let media = std::fs::read_to_string(out.join(&v.uri)).unwrap();
        assert!(media.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{media}");
        assert!(media.contains("#EXT-X-MAP:URI=\"init.mp4\""), "{media}");
        assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
        assert!(out.join(&rung.rendition.name).join("init.mp4").is_file());
    }
    // Segments start at the same frames in every variant: every keyframe, 1 s apart.
    for b in &boundaries {
        assert_eq!(b, &vec![0, 24, 48], "segment start frames");
    }
    variants
}

/// Every variant decodes all `FRAMES` frames at its size.
fn assert_complete(checks: &[VariantCheck], sizes: &[(u32, u32)]) {
    assert_eq!(checks.len(), sizes.len());
    for (c, s) in checks.iter().zip(sizes) {
        assert_eq!(c.frames, FRAMES, "{}", c.uri);
        assert_eq!((c.width, c.height), *s, "{}", c.uri);
        assert!((c.duration_s - 2.5).abs() < 0.01, "{}", c.uri);
        assert!(c.bandwidth > 0);
    }
}

#[test]
fn hls_h264_ladder_plays_completely_with_measured_bandwidth_and_exact_codecs() {
    let dir = tmpdir();
    // Two mp4 rungs and one mkv rung: containers with different time bases (1/12288, 1/1000).
    let rungs = ladder(dir.path(), "libx264", &SIZES, &["mp4", "mkv", "mp4"]);
    let out = dir.path().join("hls");
    let pkg = write_hls(&out, &renditions(&rungs), &opts()).expect("write_hls");
    assert_eq!(pkg.manifest, out.join("master.m3u8"));
    assert_no_partial(&out);
    let variants = check_hls(&out, &rungs);
    eprintln!(
        "{}",
        std::fs::read_to_string(&pkg.manifest).unwrap().trim_end()
    );
    for v in &variants {
        let rung = rungs
            .iter()
            .find(|r| v.uri.starts_with(&format!("{}/", r.rendition.name)))
            .unwrap();
        let (w, h) = rung
            .rendition
            .name
            .rsplit('_')
            .next()
            .unwrap()
            .split_once('x')
            .unwrap();
        assert_eq!(v.attrs["RESOLUTION"], format!("{w}x{h}"));
        assert_eq!(
            v.attrs["CODECS"],
            h264_codecs_from_sps(&rung.packets),
            "{}",
            v.uri
        );
    }
    // What write_hls reports is what it wrote.
    for (r, rung) in pkg.renditions.iter().zip(&rungs) {
        assert_eq!(r.name, rung.rendition.name);
        assert_eq!(r.frames, FRAMES);
        assert_eq!(r.segments.len(), 3);
        assert_eq!((r.fps_num, r.fps_den), (24, 1));
        assert_eq!(r.playlist, out.join(&r.name).join("index.m3u8"));
        assert!(r
            .segments
            .iter()
            .all(|s| s.path.is_file() && s.bytes == size(&s.path)));
        let v = variants
            .iter()
            .find(|v| v.uri.starts_with(&r.name))
            .unwrap();
        assert_eq!(v.attrs["BANDWIDTH"], r.peak_bps.to_string());
        assert_eq!(v.attrs["CODECS"], r.codecs);
    }
    // Read back through FFmpeg's hls demuxer: every frame of every variant decodes.
    let checks = validate_hls(&pkg.manifest).expect("validate_hls");
    let sizes: Vec<(u32, u32)> = variants
        .iter()
        .map(|v| {
            let (w, h) = v.attrs["RESOLUTION"].split_once('x').unwrap();
            (w.parse().unwrap(), h.parse().unwrap())
        })
        .collect();
    assert_complete(&checks, &sizes);
    for (c, v) in checks.iter().zip(&variants) {
        assert_eq!(c.uri, v.uri);
        assert_eq!(c.bandwidth.to_string(), v.attrs["BANDWIDTH"]);
    }
}

/// The representations of an MPD as (attributes, timescale, segment durations in timescale).
fn mpd_representations(text: &str) -> Vec<(HashMap<String, String>, u64, Vec<u64>)> {
    let tag_attrs = |tag: &str| -> HashMap<String, String> {
        let mut m = HashMap::new();
        for part in tag.split('"').collect::<Vec<_>>().chunks(2) {
            if let [k, v] = part {
                m.insert(k.trim().trim_end_matches('=').to_string(), v.to_string());
            }
        }
        m
    };
    let mut out = Vec::new();
    for rep in text.split("<Representation ").skip(1) {
        let rep = rep.split("</Representation>").next().unwrap();
        let a = tag_attrs(rep.split('>').next().unwrap());
        let tmpl = rep.split("<SegmentTemplate ").nth(1).unwrap();
        let t = tag_attrs(tmpl.split('>').next().unwrap());
        let mut durations = Vec::new();
        for s in tmpl.split("<S ").skip(1) {
            let s = tag_attrs(s.split("/>").next().unwrap());
            let r: u64 = s.get("r").map_or(0, |r| r.parse().unwrap());
            for _ in 0..=r {
                durations.push(s["d"].parse().unwrap());
            }
        }
        out.push((a, t["timescale"].parse().unwrap(), durations));
    }
    out
}

#[test]
fn dash_h264_ladder_plays_completely_through_both_readers() {
    let dir = tmpdir();
    let rungs = ladder(dir.path(), "libx264", &SIZES, &["mp4", "mkv", "mp4"]);
    let out = dir.path().join("dash");
    let pkg = write_dash(&out, &renditions(&rungs), &opts()).expect("write_dash");
    assert_eq!(pkg.manifest, out.join("manifest.mpd"));
    assert_no_partial(&out);
    let text = std::fs::read_to_string(&pkg.manifest).unwrap();
    assert!(text.contains("type=\"static\""), "{text}");
    assert_eq!(text.matches("<AdaptationSet").count(), 1, "{text}");
    assert!(text.contains("bitstreamSwitching=\"false\""), "{text}");
    let reps = mpd_representations(&text);
    assert_eq!(reps.len(), 3);
    let mut boundaries = Vec::new();
    for (i, ((a, timescale, durations), rung)) in reps.iter().zip(&rungs).enumerate() {
        assert_eq!(a["id"], i.to_string());
        assert_eq!(a["codecs"], h264_codecs_from_sps(&rung.packets));
        let (w, h) = rung
            .rendition
            .name
            .rsplit('_')
            .next()
            .unwrap()
            .split_once('x')
            .unwrap();
        assert_eq!((a["width"].as_str(), a["height"].as_str()), (w, h));
        let bandwidth: f64 = a["bandwidth"].parse().unwrap();
        assert_eq!(durations.len(), 3);
        for (n, d) in durations.iter().enumerate() {
            let file = out.join(format!("chunk-stream{i}-{:05}.m4s", n + 1));
            let bps = size(&file) as f64 * 8.0 * *timescale as f64 / *d as f64;
            assert!(
                bandwidth >= bps,
                "{}: {bps} bit/s > {bandwidth}",
                file.display()
            );
        }
        assert!(out.join(format!("init-stream{i}.m4s")).is_file());
        boundaries.push(start_frames(
            &durations
                .iter()
                .map(|d| *d as f64 / *timescale as f64)
                .collect::<Vec<_>>(),
        ));
        let r = &pkg.renditions[i];
        assert_eq!(a["bandwidth"], r.peak_bps.to_string());
        assert_eq!(r.playlist, pkg.manifest);
        assert!(r.init.is_file());
    }
    for b in &boundaries {
        assert_eq!(b, &vec![0, 24, 48]);
    }
    let sizes: Vec<(u32, u32)> = SIZES.iter().map(|&(w, h)| (w as u32, h as u32)).collect();
    // Through FFmpeg's dash demuxer (this build has it), and segment by segment as the MPD's
    // templates name them.
    assert_complete(
        &validate_dash(&pkg.manifest).expect("validate_dash"),
        &sizes,
    );
    assert_complete(
        &validate_dash_segments(&pkg.manifest).expect("validate_dash_segments"),
        &sizes,
    );
}

/// HEVC, AV1 and VP9 (from webm) rungs: HLS and DASH both play completely, CODECS strings as
/// the bitstream (HEVC SPS), ffprobe (AV1 level) or the VP9 level table give them.
#[test]
fn hevc_av1_vp9_ladders_package_and_play() {
    let two = &SIZES[..];
    let two = [two[0], two[2]];
    for (codec, ext) in [
        ("libx265", "mp4"),
        ("libsvtav1", "mp4"),
        ("libvpx-vp9", "webm"),
    ] {
        let dir = tmpdir();
        let rungs = ladder(dir.path(), codec, &two, &[ext, ext]);
        let expected: Vec<String> = rungs
            .iter()
            .zip(&two)
            .map(|(r, &(w, _))| match codec {
                "libx265" => hevc_codecs_from_sps(&r.packets),
                "libsvtav1" => {
                    let (profile, level) = ffprobe_profile_level(&r.rendition.path);
                    assert_eq!(profile, "Main");
                    format!("av01.0.{level:02}M.08")
                }
                // VP9 levels by picture size (webmproject.org/vp9/levels): 320x180 is 1.1
                // (≤ 73728 samples), 640x360 is 2.1 (≤ 245760).
                _ => format!("vp09.00.{}.08", if w == 320 { 11 } else { 21 }),
            })
            .collect();
        let out = dir.path().join("hls");
        let pkg = write_hls(&out, &renditions(&rungs), &opts())
            .unwrap_or_else(|e| panic!("{codec}: write_hls: {e}"));
        let variants = check_hls(&out, &rungs);
        for (r, want) in pkg.renditions.iter().zip(&expected) {
            assert_eq!(&r.codecs, want, "{codec}");
            let v = variants
                .iter()
                .find(|v| v.uri.starts_with(&r.name))
                .unwrap();
            assert_eq!(&v.attrs["CODECS"], want, "{codec}");
        }
        if codec == "libx265" {
            assert!(expected[0].starts_with("hvc1.1.6.L"), "{}", expected[0]);
        }
        let sizes: Vec<(u32, u32)> = two.iter().map(|&(w, h)| (w as u32, h as u32)).collect();
        let checks =
            validate_hls(&pkg.manifest).unwrap_or_else(|e| panic!("{codec}: validate_hls: {e}"));
        let mut by_size = checks.clone();
        by_size.sort_by_key(|c| c.width);
        assert_complete(&by_size, &sizes);

        let out = dir.path().join("dash");
        let pkg = write_dash(&out, &renditions(&rungs), &opts())
            .unwrap_or_else(|e| panic!("{codec}: write_dash: {e}"));
        let text = std::fs::read_to_string(&pkg.manifest).unwrap();
        for ((a, _, _), want) in mpd_representations(&text).iter().zip(&expected) {
            assert_eq!(&a["codecs"], want, "{codec}");
        }
        let checks =
            validate_dash(&pkg.manifest).unwrap_or_else(|e| panic!("{codec}: validate_dash: {e}"));
        assert_complete(&checks, &sizes);
        assert_complete(&validate_dash_segments(&pkg.manifest).unwrap(), &sizes);
        eprintln!("{codec}: {expected:?}");
    }
}

/// `sc_threshold=0` (a generic libavcodec option libx264 honours) really turns scene-cut
/// keyframes off: across a hard cut at frame 30, x264's default puts a keyframe there, with the
/// option keyframes stay on the fixed GOP.
#[test]
fn x264_sc_threshold_0_keeps_keyframes_on_the_gop() {
    let a = source((24, 1));
    let b = collect(
        lavfi_source(
            "mandelbrot=s=640x360:r=24,format=yuv420p",
            640,
            360,
            (24, 1),
            30,
        )
        .expect("lavfi"),
    );
    let cut: Vec<Frame> = a[..30].iter().chain(&b).cloned().collect();
    let frames = scaled(&cut, (320, 180));
    let dir = tmpdir();
    let fixed = config("libx264", &frames, (24, 1), GOP);
    let mut default = fixed.clone();
    default.options.clear();
    let with = encode(&dir.path().join("sc0.mp4"), &fixed, &frames);
    let without = encode(&dir.path().join("default.mp4"), &default, &frames);
    assert_eq!(keyframes(&with), vec![0, 24, 48]);
    assert!(
        keyframes(&without).contains(&30),
        "x264's default should key the cut: {:?}",
        keyframes(&without)
    );
}

/// The error of a packaging call that must fail, checked to be one line naming `names`, with
/// nothing written.
fn fails(
    out: &Path,
    result: pertitle::Result<pertitle::package::Package>,
    names: &[&str],
) -> String {
    let msg = result.expect_err("packaging should fail").to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    for n in names {
        assert!(msg.contains(n), "{msg:?} should name {n}");
    }
    assert_no_partial(out);
    eprintln!("error as expected: {msg}");
    msg
}

#[test]
fn bad_ladders_fail_naming_the_file_and_write_nothing() {
    let dir = tmpdir();
    let d = dir.path();
    let rungs = ladder(d, "libx264", &SIZES[..2], &["mp4", "mp4"]);
    let good = renditions(&rungs);
    let out = d.join("out");
    let both = |r: &[Rendition]| vec![write_hls(&out, r, &opts()), write_dash(&out, r, &opts())];

    // An existing, non-empty output directory is left alone.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    for r in both(&good) {
        let msg = fails(&out, r, &[out.to_str().unwrap()]);
        assert!(msg.contains("not empty"), "{msg}");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    std::fs::remove_dir_all(&out).unwrap();
    // An empty one is fine (and replaced).
    std::fs::create_dir(&out).unwrap();
    write_hls(&out, &good, &opts()).expect("into an empty directory");
    assert!(out.join("master.m3u8").is_file());
    std::fs::remove_dir_all(&out).unwrap();

    // A missing rendition file.
    let mut missing = good.clone();
    missing.push(Rendition::new("gone", d.join("gone.mp4")));
    for r in both(&missing) {
        fails(&out, r, &["gone.mp4", "gone"]);
        assert!(!out.exists());
    }

    // Misaligned keyframes: the same source with a GOP of 20.
    let src = scaled(&source((24, 1)), (320, 180));
    let odd = d.join("gop20.mp4");
    encode(&odd, &config("libx264", &src, (24, 1), 20), &src);
    let mut misaligned = good.clone();
    misaligned.push(Rendition::new("gop20", &odd));
    for r in both(&misaligned) {
        let msg = fails(&out, r, &["gop20.mp4", "gop20", "keyframe"]);
        assert!(!out.exists(), "{msg}");
    }

    // Another frame rate (and keyframes at the same frame numbers).
    let src25 = scaled(&source((25, 1)), (320, 180));
    let fast = d.join("fps25.mp4");
    encode(&fast, &config("libx264", &src25, (25, 1), GOP), &src25);
    let mut rates = good.clone();
    rates.push(Rendition::new("fps25", &fast));
    for r in both(&rates) {
        fails(&out, r, &["fps25.mp4", "frame rate"]);
    }

    // An open GOP: keyframes aligned, but leading B-frames reference the previous segment.
    let open = d.join("open.mp4");
    let mut cfg = config("libx264", &src, (24, 1), GOP);
    cfg.options
        .push(("x264-params".into(), "open-gop=1:bframes=3".into()));
    let packets = encode(&open, &cfg, &src);
    if keyframes(&packets) == vec![0, 24, 48] {
        let mut opened = good.clone();
        opened.push(Rendition::new("open", &open));
        fails(
            &out,
            write_hls(&out, &opened, &opts()),
            &["open.mp4", "open GOP"],
        );
    } else {
        panic!("x264 open-gop keyframes: {:?}", keyframes(&packets));
    }

    // A file without a video stream (audio only, made by the ffmpeg CLI) and one that is not
    // media at all.
    let audio = d.join("audio.m4a");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:duration=1", "-c:a", "aac"])
        .arg(&audio)
        .status()
        .expect("run ffmpeg");
    assert!(st.success());
    let text = d.join("notes.mp4");
    std::fs::write(&text, "not a video").unwrap();
    for (file, why) in [(&audio, "no video stream"), (&text, "cannot open")] {
        let mut r = good.clone();
        r.insert(0, Rendition::new("bad", file));
        fails(
            &out,
            write_hls(&out, &r, &opts()),
            &[file.to_str().unwrap(), why],
        );
    }

    // Names that are not safe path components, and duplicates.
    for name in ["../up", "", ".hidden", "a b"] {
        let mut r = good.clone();
        r[0].name = name.into();
        fails(&out, write_hls(&out, &r, &opts()), &["rendition name"]);
    }
    let mut dup = good.clone();
    dup[1].name = dup[0].name.clone();
    fails(&out, write_hls(&out, &dup, &opts()), &["twice"]);
    fails(&out, write_hls(&out, &[], &opts()), &["no renditions"]);
    let zero = PackageOptions {
        segment_seconds: 0.0,
    };
    fails(&out, write_dash(&out, &good, &zero), &["segment_seconds"]);
    assert!(!out.exists());
}
