//! Media layer: readers, scaler, encoder/decoder round trips, demo clip, bad inputs. Clips are
//! generated in-process (lavfi) or by the ffmpeg CLI as an independent peer.

use pertitle::frame::{Chroma, Frame};
use pertitle::media::{
    self, demo_clip, encoder_available, even_size_for_height, lavfi_source, open, probe, Decoder,
    Encoder, EncoderConfig, FrameSource, InputOptions, Packet, RateControl, RawWriter, Scaler,
    ScalerKind, StreamWriter, Y4mWriter,
};
use pertitle::Error;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

use crate::support::{self, collect};

const W: usize = 320;
const H: usize = 180;
const N: u64 = 24;

/// A moving, detailed test pattern (testsrc2 scrolling), so frame order matters.
fn moving(pix_fmt: &str) -> String {
    format!("testsrc2=s={W}x{H}:r=24,scroll=horizontal=0.03:vertical=0.02,format={pix_fmt}")
}

fn frames(pix_fmt: &str) -> Vec<Frame> {
    collect(lavfi_source(&moving(pix_fmt), W, H, (24, 1), N).expect("lavfi"))
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg CLI");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn encode_all(cfg: &EncoderConfig, frames: &[Frame]) -> (Vec<Packet>, media::StreamParams) {
    let mut enc = Encoder::new(cfg).expect("encoder");
    let mut pk = Vec::new();
    for f in frames {
        pk.extend(enc.encode(f).expect("encode"));
    }
    pk.extend(enc.finish().expect("finish"));
    let total: u64 = pk.iter().map(|p| p.data.len() as u64).sum();
    assert_eq!(total, enc.total_bytes());
    (pk, enc.stream_params())
}

fn decode_all(params: &media::StreamParams, packets: &[Packet]) -> Vec<Frame> {
    let mut dec = Decoder::new(params).expect("decoder");
    let mut out = Vec::new();
    for p in packets {
        out.extend(dec.decode(p).expect("decode"));
    }
    out.extend(dec.flush().expect("flush"));
    out
}

fn x264(format: pertitle::FrameFormat, crf: f64) -> EncoderConfig {
    let mut c = EncoderConfig::crf("libx264", format, (24, 1), crf);
    c.preset = Some("veryfast".into());
    c
}

/// Mean absolute luma difference.
fn mad(a: &Frame, b: &Frame) -> f64 {
    let (x, y) = (&a.luma().samples, &b.luma().samples);
    x.iter()
        .zip(y.iter())
        .map(|(p, q)| (p as i32 - q as i32).abs() as f64)
        .sum::<f64>()
        / x.len() as f64
}

fn sha(frames: &[Frame]) -> Vec<u8> {
    let mut h = Sha256::new();
    for f in frames {
        h.update(f.index.to_le_bytes());
        for p in &f.planes {
            for s in p.samples.iter() {
                h.update(s.to_le_bytes());
            }
        }
    }
    h.finalize().to_vec()
}

#[test]
fn decode_scale_encode_decode_keeps_count_size_order() {
    let dir = tempfile::tempdir().unwrap();
    // A "real" source file: the pattern encoded near-losslessly to mkv, decoded by FFmpeg.
    let src = frames("yuv420p");
    let (pk, params) = encode_all(&x264(src[0].format, 4.0), &src);
    let path = dir.path().join("source.mkv");
    media::write_stream(&path, &params, &pk).unwrap();
    let decoded = collect(open(&path, &InputOptions::default()).unwrap());
    assert_eq!(decoded.len() as u64, N);
    for (i, f) in decoded.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert!(
            mad(f, &src[i]) < 1.5,
            "frame {i} differs from the source: {}",
            mad(f, &src[i])
        );
    }
    let mut sizes_bytes = Vec::new();
    for (w, h) in [(256usize, 144usize), (160, 90)] {
        let mut scaler = Scaler::new(decoded[0].format, w, h, ScalerKind::Bicubic).unwrap();
        let scaled: Vec<Frame> = decoded.iter().map(|f| scaler.scale(f).unwrap()).collect();
        let mut bytes = Vec::new();
        for crf in [20.0, 36.0] {
            let (pk, params) = encode_all(&x264(scaled[0].format, crf), &scaled);
            let back = decode_all(&params, &pk);
            assert_eq!(back.len() as u64, N, "{w}x{h} crf {crf}: frame count");
            for (i, f) in back.iter().enumerate() {
                assert_eq!((f.width(), f.height()), (w, h));
                assert_eq!(f.index, i as u64);
                // Order: each decoded frame is closest to the scaled frame of its own index.
                let own = mad(f, &scaled[i]);
                for j in [i.wrapping_sub(1), i + 1] {
                    if j < scaled.len() {
                        assert!(
                            own < mad(f, &scaled[j]),
                            "{w}x{h} crf {crf}: frame {i} out of order"
                        );
                    }
                }
            }
            bytes.push(pk.iter().map(|p| p.data.len()).sum::<usize>());
        }
        assert!(
            bytes[0] > bytes[1],
            "{w}x{h}: crf 20 gave {} bytes, crf 36 {}",
            bytes[0],
            bytes[1]
        );
        sizes_bytes.push(bytes);
    }
    assert!(
        sizes_bytes[0][0] > sizes_bytes[1][0],
        "larger size should cost more bits"
    );
}

#[test]
fn x264_output_is_deterministic() {
    let src = frames("yuv420p");
    let (a, _) = encode_all(&x264(src[0].format, 28.0), &src);
    let (b, _) = encode_all(&x264(src[0].format, 28.0), &src);
    assert_eq!(a, b);
}

#[test]
fn y4m_and_raw_readers_match_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    for pf in [
        "yuv420p",
        "yuv422p",
        "yuv444p",
        "gray",
        "yuv420p10le",
        "yuv444p10le",
    ] {
        let src = frames(pf);
        let y4m = dir.path().join(format!("{pf}.y4m"));
        let mut w = Y4mWriter::create(&y4m, src[0].format, (24, 1)).unwrap();
        let yuv = dir.path().join(format!("{pf}.yuv"));
        let mut r = RawWriter::create(&yuv).unwrap();
        for f in &src {
            w.write(f).unwrap();
            r.write(f).unwrap();
        }
        w.finish().unwrap();
        r.finish().unwrap();
        let ours = collect(open(&y4m, &InputOptions::default()).unwrap());
        assert_eq!(ours, src, "{pf}: y4m round trip");
        let opts = InputOptions {
            size: Some((W, H)),
            pix_fmt: Some(pf.into()),
            fps: Some((24, 1)),
            ..Default::default()
        };
        assert_eq!(
            collect(open(&yuv, &opts).unwrap()),
            src,
            "{pf}: raw round trip"
        );
        // FFmpeg's own y4m demuxer (chosen by probing: the copy has no .y4m extension).
        let copy = dir.path().join(format!("{pf}_y4m.bin"));
        std::fs::copy(&y4m, &copy).unwrap();
        let s = open(&copy, &InputOptions::default()).unwrap();
        assert_eq!(s.info().frames, N);
        assert_eq!(collect(s), src, "{pf}: FFmpeg reads our y4m differently");
    }
}

#[test]
fn y4m_written_by_ffmpeg_cli_reads_like_ffmpeg_decode() {
    let dir = tempfile::tempdir().unwrap();
    for (pf, chroma, depth) in [
        ("yuv420p", Chroma::Yuv420, 8),
        ("yuv422p10le", Chroma::Yuv422, 10),
        ("gray", Chroma::Gray, 8),
    ] {
        let y4m = dir.path().join(format!("cli_{pf}.y4m"));
        let spec = format!("testsrc2=s=176x144:r=25,format={pf}");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &spec,
            "-frames:v",
            "10",
            "-strict",
            "-1",
            y4m.to_str().unwrap(),
        ]);
        let ours = open(&y4m, &InputOptions::default()).unwrap();
        let info = ours.info().clone();
        assert_eq!((info.width, info.height, info.frames), (176, 144, 10));
        assert_eq!(
            (info.format.chroma, info.format.bit_depth),
            (chroma, depth),
            "{pf}"
        );
        assert_eq!((info.fps_num, info.fps_den), (25, 1));
        let copy = dir.path().join(format!("cli_{pf}.bin"));
        std::fs::copy(&y4m, &copy).unwrap();
        assert_eq!(
            collect(ours),
            collect(open(&copy, &InputOptions::default()).unwrap()),
            "{pf}"
        );
        // Raw: the CLI's rawvideo output against our raw reader.
        let yuv = dir.path().join(format!("cli_{pf}.yuv"));
        ffmpeg(&[
            "-i",
            y4m.to_str().unwrap(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            pf,
            yuv.to_str().unwrap(),
        ]);
        let opts = InputOptions {
            size: Some((176, 144)),
            pix_fmt: Some(pf.into()),
            fps: Some((25, 1)),
            ..Default::default()
        };
        assert_eq!(
            collect(open(&yuv, &opts).unwrap()),
            collect(open(&y4m, &InputOptions::default()).unwrap())
        );
    }
}

#[test]
fn y4m_header_variants() {
    let dir = tempfile::tempdir().unwrap();
    let plane = |n: usize, v: u8| vec![v; n];
    for (tag, chroma) in [
        ("C420jpeg", Chroma::Yuv420),
        ("C420mpeg2", Chroma::Yuv420),
        ("C420paldv", Chroma::Yuv420),
        ("", Chroma::Yuv420),
        ("Cmono", Chroma::Gray),
        ("XYSCSS=444", Chroma::Yuv444),
    ] {
        let p = dir.path().join("v.y4m");
        let mut data = format!("YUV4MPEG2 W4 H2 F30000:1001 It A0:0 {tag}\n").into_bytes();
        let n = match chroma {
            Chroma::Gray => 8,
            Chroma::Yuv420 => 8 + 2 * 2,
            _ => 3 * 8,
        };
        for k in 0..3u8 {
            data.extend_from_slice(b"FRAME Ixyz\n");
            data.extend(plane(n, 10 + k));
        }
        std::fs::write(&p, &data).unwrap();
        let s = open(&p, &InputOptions::default()).unwrap();
        assert_eq!(s.info().format.chroma, chroma, "{tag}");
        assert_eq!(
            (s.info().fps_num, s.info().fps_den, s.info().frames),
            (30000, 1001, 3)
        );
        let f = collect(s);
        assert_eq!(
            f[2].luma().samples.iter().collect::<Vec<_>>(),
            vec![12u16; 8]
        );
    }
}

#[test]
fn ten_bit_input_decodes_as_ten_bit() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames("yuv420p10le");
    assert_eq!(src[0].format.bit_depth, 10);
    assert!(src.iter().any(|f| f.luma().samples.iter().any(|s| s > 255)));
    let (pk, params) = encode_all(&x264(src[0].format, 18.0), &src);
    let path = dir.path().join("ten.mkv");
    media::write_stream(&path, &params, &pk).unwrap();
    let s = open(&path, &InputOptions::default()).unwrap();
    assert_eq!(s.info().pix_fmt, "yuv420p10le");
    assert_eq!(s.info().format.bit_depth, 10);
    let back = collect(s);
    assert_eq!(back.len() as u64, N);
    assert!(back.iter().all(|f| f.format.bit_depth == 10));
    assert!(mad(&back[5], &src[5]) < 8.0);
    // An independent 10-bit file made by the ffmpeg CLI (HEVC in mp4).
    let cli = dir.path().join("cli10.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x90:r=24",
        "-frames:v",
        "6",
        "-pix_fmt",
        "yuv422p10le",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        cli.to_str().unwrap(),
    ]);
    let s = open(&cli, &InputOptions::default()).unwrap();
    assert_eq!(
        (s.info().format.chroma, s.info().format.bit_depth),
        (Chroma::Yuv422, 10)
    );
    assert_eq!(collect(s).len(), 6);
}

#[test]
fn semi_planar_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    let nv12 = dir.path().join("nv12.nut");
    let planar = dir.path().join("planar.nut");
    let spec = "testsrc2=s=160x90:r=24,format=yuv420p";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        spec,
        "-frames:v",
        "5",
        "-pix_fmt",
        "nv12",
        "-c:v",
        "rawvideo",
        nv12.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        spec,
        "-frames:v",
        "5",
        "-c:v",
        "rawvideo",
        planar.to_str().unwrap(),
    ]);
    let s = open(&nv12, &InputOptions::default()).unwrap();
    assert_eq!(s.info().pix_fmt, "nv12");
    assert_eq!(s.info().format.chroma, Chroma::Yuv420);
    let a = collect(s);
    let b = collect(open(&planar, &InputOptions::default()).unwrap());
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
}

#[test]
fn probe_mp4_from_our_muxer_and_mkv_counts_packets() {
    let dir = tempfile::tempdir().unwrap();
    let src = collect(
        lavfi_source(
            "testsrc2=s=1280x720:r=24,format=yuv420p",
            1280,
            720,
            (24, 1),
            30,
        )
        .unwrap(),
    );
    // superfast keeps B-frames (negative dts, reordering) while staying quick at 720p.
    let mut cfg = x264(src[0].format, 30.0);
    cfg.preset = Some("superfast".into());
    let (pk, params) = encode_all(&cfg, &src);
    assert!(
        pk.iter().any(|p| p.pts != p.dts),
        "expected B-frame reordering"
    );
    for name in ["clip.mp4", "clip.mkv"] {
        let path = dir.path().join(name);
        let mut w = StreamWriter::create(&path, &params).unwrap();
        for p in &pk {
            w.write(p).unwrap();
        }
        w.finish().unwrap();
        let info = probe(&path, &InputOptions::default()).unwrap();
        assert_eq!(
            (info.width, info.height, info.frames),
            (1280, 720, 30),
            "{name}"
        );
        assert_eq!((info.fps_num, info.fps_den), (24, 1), "{name}");
        assert_eq!(info.codec, "h264");
        assert_eq!(info.pix_fmt, "yuv420p");
        assert!((info.duration_s - 1.25).abs() < 1e-9);
        // ffprobe, independently, counts the same frames.
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames,width,height",
                "-of",
                "csv=p=0",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "1280,720,30",
            "{name}"
        );
        let back = collect(open(&path, &InputOptions::default()).unwrap());
        assert_eq!(back.len(), 30);
        for (i, f) in back.iter().enumerate() {
            assert_eq!(f.index, i as u64);
            assert!(
                mad(f, &src[i]) < 4.0,
                "{name}: frame {i} is not source frame {i}"
            );
        }
    }
}

#[test]
fn other_encoders_round_trip_where_available() {
    let src: Vec<Frame> = collect(lavfi_source(&moving("yuv420p"), W, H, (24, 1), 8).unwrap());
    let mut tried = Vec::new();
    for (codec, crfs, preset) in [
        ("libx265", [22.0, 34.0], Some("ultrafast")),
        ("libvpx-vp9", [24.0, 48.0], None),
        ("libsvtav1", [24.0, 48.0], Some("12")),
        ("libaom-av1", [24.0, 48.0], None),
    ] {
        if !encoder_available(codec) {
            // Debian 12's libavcodec59 depends on all four encoders' libraries.
            support::skip_unless_ci(format_args!("{codec}: not an encoder of this FFmpeg"));
            continue;
        }
        let mut bytes = Vec::new();
        for crf in crfs {
            let mut cfg = EncoderConfig::crf(codec, src[0].format, (24, 1), crf);
            cfg.preset = preset.map(String::from);
            if codec == "libvpx-vp9" {
                cfg.options = vec![
                    ("deadline".into(), "realtime".into()),
                    ("cpu-used".into(), "8".into()),
                ];
            }
            if codec == "libaom-av1" {
                cfg.options = vec![
                    ("cpu-used".into(), "8".into()),
                    ("usage".into(), "realtime".into()),
                ];
            }
            let (pk, params) = encode_all(&cfg, &src);
            let back = decode_all(&params, &pk);
            assert_eq!(back.len(), src.len(), "{codec}");
            assert!(
                mad(&back[3], &src[3]) < 12.0,
                "{codec}: {}",
                mad(&back[3], &src[3])
            );
            bytes.push(pk.iter().map(|p| p.data.len()).sum::<usize>());
        }
        assert!(
            bytes[0] > bytes[1],
            "{codec}: lower CRF should cost more: {bytes:?}"
        );
        tried.push((codec, bytes));
    }
    eprintln!("other encoders (bytes at low, high CRF): {tried:?}");
    assert!(!tried.is_empty());
    // CRF must be an integer where the encoder's option is one.
    if encoder_available("libvpx-vp9") {
        let cfg = EncoderConfig::crf("libvpx-vp9", src[0].format, (24, 1), 30.5);
        assert_names(Encoder::new(&cfg).err().unwrap(), "30.5");
    } else {
        support::skip_unless_ci("integer CRF check: libvpx-vp9 is not an encoder of this FFmpeg");
    }
}

#[test]
fn scaler_keeps_format_and_sizes() {
    assert_eq!(even_size_for_height(1920, 1080, 720), (1280, 720));
    assert_eq!(even_size_for_height(1920, 1080, 234), (416, 234));
    assert_eq!(even_size_for_height(1000, 562, 481), (858, 482));
    assert_eq!(ScalerKind::parse("Lanczos").unwrap(), ScalerKind::Lanczos);
    assert_eq!(ScalerKind::parse("bilinear").unwrap(), ScalerKind::Bilinear);
    assert_eq!(ScalerKind::default(), ScalerKind::Bicubic);
    let e = ScalerKind::parse("cubic-ish").unwrap_err().to_string();
    assert!(e.contains("cubic-ish"), "{e}");
    for pf in ["yuv420p10le", "yuv444p", "gray"] {
        let src = collect(lavfi_source(&moving(pf), W, H, (24, 1), 2).unwrap());
        for kind in [
            ScalerKind::Bicubic,
            ScalerKind::Bilinear,
            ScalerKind::Lanczos,
        ] {
            let mut down = Scaler::new(src[0].format, 161, 91, kind).unwrap();
            let d = down.scale(&src[1]).unwrap();
            assert_eq!((d.width(), d.height(), d.index), (161, 91, 1));
            assert_eq!(
                (d.format.chroma, d.format.bit_depth),
                (src[0].format.chroma, src[0].format.bit_depth)
            );
            let mut up = Scaler::new(d.format, W, H, kind).unwrap();
            let u = up.scale(&d).unwrap();
            assert_eq!(u.format, src[0].format);
            let scale = if src[0].format.bit_depth == 10 {
                4.0
            } else {
                1.0
            };
            assert!(
                mad(&u, &src[1]) / scale < 12.0,
                "{pf} {kind}: {}",
                mad(&u, &src[1])
            );
        }
    }
    // A flat picture stays flat through bicubic (no ringing from nothing).
    let flat = collect(
        lavfi_source(
            "color=c=0x808080:s=64x36:r=24,format=yuv420p",
            64,
            36,
            (24, 1),
            1,
        )
        .unwrap(),
    );
    let mut s = Scaler::new(flat[0].format, 100, 56, ScalerKind::Bicubic).unwrap();
    let up = s.scale(&flat[0]).unwrap();
    let v = flat[0].luma().get(0, 0);
    assert!(up.luma().samples.iter().all(|x| x == v));
    // A frame of another format is refused.
    assert!(s.scale(&up).is_err());
}

#[test]
fn demo_clip_is_deterministic_and_varied() {
    let hash = |src: Box<dyn FrameSource>| {
        let info = src.info().clone();
        let f = collect(src);
        (info, f)
    };
    let (info, a) = hash(demo_clip().unwrap());
    assert_eq!(info.path, Path::new("demo"));
    assert_eq!(
        (info.width, info.height, info.frames, info.fps_num),
        (1280, 720, 132, 24)
    );
    assert_eq!(a.len(), 132);
    assert!(a
        .iter()
        .enumerate()
        .all(|(i, f)| f.index == i as u64 && f.format == info.format));
    let (_, b) = hash(demo_clip().unwrap());
    assert_eq!(sha(&a), sha(&b), "demo clip differs between runs");
    let hex: String = sha(&a).iter().map(|b| format!("{b:02x}")).collect();
    eprintln!("demo clip sha256 (samples): {hex}");
    // Segments differ in cost: x264 bytes per segment at one CRF, on a 640x360 downscale.
    let mut s = Scaler::new(info.format, 640, 360, ScalerKind::Bicubic).unwrap();
    let small: Vec<Frame> = a.iter().map(|f| s.scale(f).unwrap()).collect();
    let mut bytes = Vec::new();
    for seg in small.chunks(33) {
        let mut cfg = x264(seg[0].format, 26.0);
        cfg.preset = Some("ultrafast".into());
        let (pk, _) = encode_all(&cfg, seg);
        bytes.push(pk.iter().map(|p| p.data.len()).sum::<usize>());
    }
    eprintln!("demo segment bytes (640x360, x264 ultrafast crf 26): {bytes:?}");
    let min = *bytes.iter().min().unwrap() as f64;
    let max = *bytes.iter().max().unwrap() as f64;
    assert!(max / min > 4.0, "segments too alike: {bytes:?}");
    assert_eq!(
        bytes[0] as f64, min,
        "flat segment should be cheapest: {bytes:?}"
    );
}

/// Asserts a one-line error that names `name`.
fn assert_names(e: Error, name: &str) -> String {
    let msg = e.to_string();
    eprintln!("error: {msg}");
    assert!(msg.contains(name), "error {msg:?} does not name {name}");
    assert!(!msg.contains('\n'), "multi-line error {msg:?}");
    msg
}

fn open_err(path: &Path, opts: &InputOptions) -> String {
    match open(path, opts) {
        Ok(mut s) => loop {
            match s.next_frame() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("{} opened and decoded without error", path.display()),
                Err(e) => return assert_names(e, &path.display().to_string()),
            }
        },
        Err(e) => assert_names(e, &path.display().to_string()),
    }
}

#[test]
fn bad_inputs_give_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let none = InputOptions::default();
    open_err(&d.join("missing.mp4"), &none);
    open_err(d, &none);
    let zero = d.join("zero.mp4");
    std::fs::write(&zero, b"").unwrap();
    assert!(open_err(&zero, &none).contains("empty"));
    let text = d.join("text.mp4");
    std::fs::write(&text, "this is not a video\n".repeat(20)).unwrap();
    open_err(&text, &none);
    // Truncated mp4 (index at the end is lost) and truncated mkv (data ends early).
    let src = collect(lavfi_source(&moving("yuv420p"), W, H, (24, 1), N).unwrap());
    let (pk, params) = encode_all(&x264(src[0].format, 24.0), &src);
    for name in ["full.mp4", "full.mkv"] {
        let full = d.join(name);
        media::write_stream(&full, &params, &pk).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        let cut = d.join(format!("cut_{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        open_err(&cut, &none);
    }
    // Truncated mp4 whose index is up front (faststart): the tail's frames are missing.
    let fast = d.join("fast.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=24",
        "-frames:v",
        "48",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-movflags",
        "+faststart",
        fast.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&fast).unwrap();
    let cut = d.join("cut_fast.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let msg = open_err(&cut, &none);
    assert!(
        msg.contains("truncated") || msg.contains("decoder errors"),
        "{msg}"
    );
    // Audio only.
    let audio = d.join("audio.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=0.5", audio.to_str().unwrap()]);
    assert!(open_err(&audio, &none).contains("no video stream"));
    // Raw without size: an error about the input size (which the CLI maps to --size) naming
    // the file.
    let raw = d.join("clip.yuv");
    std::fs::write(&raw, vec![0u8; W * H * 3 / 2]).unwrap();
    let err = open(&raw, &none)
        .err()
        .expect("raw without a size is refused");
    assert!(
        matches!(
            &err,
            pertitle::Error::Config {
                field: pertitle::error::Field::InputSize,
                ..
            }
        ),
        "{err}"
    );
    assert!(open_err(&raw, &none).contains("size WxH"));
    // Raw whose size does not divide into frames.
    let opts = InputOptions {
        size: Some((W + 2, H)),
        ..Default::default()
    };
    open_err(&raw, &opts);
    // Unsupported pixel format (rgb24).
    let rgb = d.join("rgb.nut");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x36:r=24",
        "-frames:v",
        "2",
        "-pix_fmt",
        "rgb24",
        "-c:v",
        "rawvideo",
        rgb.to_str().unwrap(),
    ]);
    assert!(open_err(&rgb, &none).contains("unsupported pixel format rgb24"));
    // A y4m with a bad header and one with a truncated last frame.
    let y = d.join("bad.y4m");
    std::fs::write(&y, b"YUV4MPEG2 W0 H2 F25:1\n").unwrap();
    open_err(&y, &none);
    std::fs::write(
        &y,
        b"YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAME\n12345678FRAME\n123",
    )
    .unwrap();
    assert!(open_err(&y, &none).contains("truncated"));
}

#[test]
fn corrupt_packets_are_counted_and_fail_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let src = collect(lavfi_source(&moving("yuv420p"), W, H, (24, 1), 48).unwrap());
    let mut cfg = x264(src[0].format, 20.0);
    cfg.gop = Some(12);
    let (mut pk, params) = encode_all(&cfg, &src);
    // Garble the middle of several packets mid-stream (not the first, which carries headers).
    for p in pk.iter_mut().skip(10).step_by(7).take(4) {
        let n = p.data.len();
        for (k, b) in p.data[n / 4..].iter_mut().enumerate() {
            *b = (k as u8).wrapping_mul(37) ^ 0x5a;
        }
    }
    let path = dir.path().join("corrupt.mkv");
    media::write_stream(&path, &params, &pk).unwrap();
    let msg = open_err(&path, &InputOptions::default());
    assert!(msg.contains("decoder errors"), "{msg}");
    let mut s = open(
        &path,
        &InputOptions {
            allow_decode_errors: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut n = 0;
    while s.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert!(s.decode_errors() > 0);
    assert!(n > 0);
}

#[test]
fn encoder_errors_name_the_encoder_or_option() {
    let f = pertitle::FrameFormat::new(64, 36, Chroma::Yuv420, 8);
    assert!(!encoder_available("libnope264"));
    assert!(encoder_available("libx264"));
    let e = Encoder::new(&EncoderConfig::crf("libnope264", f, (24, 1), 23.0))
        .err()
        .unwrap();
    assert!(matches!(e, Error::Codec { .. }));
    assert_names(e, "libnope264");
    let mut cfg = EncoderConfig::crf("libx264", f, (24, 1), 23.0);
    cfg.options = vec![("no-such-option".into(), "1".into())];
    assert_names(Encoder::new(&cfg).err().unwrap(), "no-such-option");
    let mut cfg = EncoderConfig::crf("libx264", f, (24, 1), 23.0);
    cfg.preset = Some("warp9".into());
    assert_names(Encoder::new(&cfg).err().unwrap(), "warp9");
    // Private options by name, as the CLI takes them.
    let mut cfg = EncoderConfig::crf("libx264", f, (24, 1), 23.0);
    cfg.options = vec![
        ("tune".into(), "psnr".into()),
        ("profile".into(), "high".into()),
        ("x264-params".into(), "aq-mode=1:bframes=2".into()),
    ];
    assert!(Encoder::new(&cfg).is_ok());
    let mut cfg = EncoderConfig::crf("libx264", f, (24, 1), 23.0);
    cfg.rate = RateControl::Bitrate {
        kbps: 300,
        maxrate_kbps: Some(600),
        bufsize_kbits: Some(600),
    };
    assert!(Encoder::new(&cfg).is_ok());
    let mut cfg = EncoderConfig::crf("libx264", f, (24, 1), 23.0);
    cfg.rate = RateControl::Qp { qp: 30 };
    assert!(Encoder::new(&cfg).is_ok());
}

/// Our bicubic down/upscale gives the same samples as the ffmpeg CLI's `scale=...:flags=bicubic`
/// (the hand-made pipeline's peer), 8- and 10-bit.
#[test]
fn scaler_matches_ffmpeg_cli_scale_filter() {
    let dir = tempfile::tempdir().unwrap();
    for pf in ["yuv420p", "yuv420p10le"] {
        let src = collect(lavfi_source(&moving(pf), W, H, (24, 1), 3).unwrap());
        let y4m = dir.path().join(format!("s_{pf}.y4m"));
        let mut w = Y4mWriter::create(&y4m, src[0].format, (24, 1)).unwrap();
        for f in &src {
            w.write(f).unwrap();
        }
        w.finish().unwrap();
        for (kind, (tw, th)) in [
            (ScalerKind::Bicubic, (192usize, 108usize)),
            (ScalerKind::Bicubic, (480, 270)),
            (ScalerKind::Lanczos, (192, 108)),
            (ScalerKind::Bilinear, (480, 270)),
        ] {
            let out = dir.path().join(format!("s_{pf}_{kind}_{tw}.y4m"));
            let vf = format!("scale={tw}:{th}:flags={}", kind.name());
            ffmpeg(&[
                "-i",
                y4m.to_str().unwrap(),
                "-vf",
                &vf,
                "-strict",
                "-1",
                out.to_str().unwrap(),
            ]);
            let theirs = collect(open(&out, &InputOptions::default()).unwrap());
            let mut s = Scaler::new(src[0].format, tw, th, kind).unwrap();
            let ours: Vec<Frame> = src.iter().map(|f| s.scale(f).unwrap()).collect();
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(&theirs) {
                let diff = a
                    .planes
                    .iter()
                    .zip(&b.planes)
                    .map(|(p, q)| {
                        p.samples
                            .iter()
                            .zip(q.samples.iter())
                            .filter(|(x, y)| x != y)
                            .count()
                    })
                    .sum::<usize>();
                assert_eq!(
                    diff, 0,
                    "{pf} {kind} {tw}x{th}: {diff} samples differ from ffmpeg's scale filter"
                );
            }
        }
    }
}

/// The same libx264 settings through the ffmpeg CLI (one thread, as ours) give the same
/// bitstream size: in-process encoding is the encode the hand-made pipeline would make.
#[test]
fn x264_matches_ffmpeg_cli_encode() {
    let dir = tempfile::tempdir().unwrap();
    let src = frames("yuv420p");
    let y4m = dir.path().join("in.y4m");
    let mut w = Y4mWriter::create(&y4m, src[0].format, (24, 1)).unwrap();
    for f in &src {
        w.write(f).unwrap();
    }
    w.finish().unwrap();
    let out = dir.path().join("cli.h264");
    ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "28",
        "-threads",
        "1",
        out.to_str().unwrap(),
    ]);
    let cli = std::fs::read(&out).unwrap().len() as f64;
    let (pk, _) = encode_all(&x264(src[0].format, 28.0), &src);
    let ours = pk.iter().map(|p| p.data.len()).sum::<usize>() as f64;
    eprintln!("x264 veryfast crf 28: ours {ours} bytes, ffmpeg CLI {cli} bytes");
    assert!((ours / cli - 1.0).abs() < 0.01, "ours {ours} vs CLI {cli}");
}

#[test]
fn media_handles_are_send() {
    fn send<T: Send>() {}
    send::<Encoder>();
    send::<Decoder>();
    send::<Scaler>();
    send::<StreamWriter>();
    send::<Box<dyn FrameSource>>();
}

/// The pair check the `score` command relies on lives in the library: rates, lengths (or a limit
/// both reach) and depths must agree; sizes may differ.
#[test]
fn check_pair_names_what_differs() {
    use pertitle::media::{check_pair, PairMismatch, VideoInfo};
    use pertitle::FrameFormat;
    let info = |path: &str, w: usize, fps: (u32, u32), frames: u64, depth: u8| VideoInfo {
        path: path.into(),
        width: w,
        height: w * 9 / 16,
        fps_num: fps.0,
        fps_den: fps.1,
        frames,
        duration_s: frames as f64 * fps.1 as f64 / fps.0 as f64,
        pix_fmt: "yuv420p".into(),
        format: FrameFormat::new(w, w * 9 / 16, Chroma::Yuv420, depth),
        codec: "h264".into(),
    };
    let r = info("ref.mp4", 1280, (24, 1), 48, 8);
    assert_eq!(
        check_pair(&r, &info("d.mp4", 640, (48, 2), 48, 8), None),
        Ok(48)
    );
    assert_eq!(
        check_pair(&r, &info("d.mp4", 640, (24, 1), 40, 8), Some(40)),
        Ok(40)
    );
    let e = check_pair(&r, &info("d.mp4", 1280, (25, 1), 48, 8), None).unwrap_err();
    assert!(matches!(e, PairMismatch::FrameRate { .. }), "{e}");
    assert!(
        e.to_string().contains("ref.mp4") && e.to_string().contains("25/1"),
        "{e}"
    );
    let e = check_pair(&r, &info("d.mp4", 1280, (24, 1), 40, 8), None).unwrap_err();
    assert!(
        matches!(
            e,
            PairMismatch::FrameCount {
                distorted_frames: 40,
                ..
            }
        ),
        "{e}"
    );
    let e = check_pair(&r, &info("d.mp4", 1280, (24, 1), 40, 8), Some(41)).unwrap_err();
    assert!(
        matches!(e, PairMismatch::TooFewFrames { limit: 41, .. }),
        "{e}"
    );
    let e = check_pair(&r, &info("d.mp4", 1280, (24, 1), 48, 10), None).unwrap_err();
    assert!(
        matches!(
            e,
            PairMismatch::BitDepth {
                distorted_depth: 10,
                ..
            }
        ),
        "{e}"
    );
}
