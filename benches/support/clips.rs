//! Benchmark inputs, made with the ffmpeg CLI from libavfilter sources (deterministic: every
//! random source has a fixed seed) and cached under the target directory between runs.
#![allow(dead_code)]

use crate::proc;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A generated source clip.
#[derive(Debug, Clone)]
pub struct Clip {
    pub name: String,
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    pub frames: u64,
}

impl Clip {
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.fps as f64
    }
}

/// Where generated clips are kept: `$PERTITLE_BENCH_DIR`, else `target/bench-clips`.
pub fn clip_dir() -> PathBuf {
    let dir = std::env::var_os("PERTITLE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-clips"));
    std::fs::create_dir_all(&dir).expect("create clip directory");
    dir
}

/// The four content types of pertitle's demo clip (src/media/lavfi.rs), at any size: flat
/// gradient, Mandelbrot detail rendered at 3/8 size and upscaled, panning; scrolling test pattern;
/// grain made at half size and upscaled. The same chains as the demo at 1280×720.
fn segments(w: usize, h: usize, fps: u32) -> [String; 4] {
    let s = format!("{w}x{h}");
    let even = |v: usize| v / 2 * 2;
    let (mw, mh) = (even(w * 3 / 8), even(h * 3 / 8));
    let (gw, gh) = (even(w / 2), even(h / 2));
    [
        format!("gradients=s={s}:r={fps}:c0=0x1a3a6b:c1=0xd89a5c:x0=0:y0=0:x1={w}:y1={h}:speed=0.015:seed=7,format=yuv420p"),
        format!("mandelbrot=s={mw}x{mh}:r={fps}:maxiter=128:start_x=-0.743643887:start_y=0.131825904:start_scale=0.03:end_scale=0.03:outer=normalized_iteration_count:inner=mincol,scale={w}:{h}:flags=bicubic,scroll=horizontal=0.003:vertical=0.001,format=yuv420p"),
        format!("testsrc2=s={s}:r={fps},scroll=horizontal=0.0133:vertical=0.0097,format=yuv420p"),
        format!("gradients=s={gw}x{gh}:r={fps}:c0=0x6b5a3a:c1=0x3a5a6b:x0={}:y0=0:x1={}:y1={gh}:speed=0.01:seed=11,format=yuv420p,noise=alls=14:allf=t+u:all_seed=424242,scale={w}:{h}:flags=bicubic,format=yuv420p", gw * 100 / 640, gw * 540 / 640),
    ]
}

/// Mixed content: the four segments in turn, `frames / 4` frames each (the last one takes the
/// remainder), in blocks of at most 10 s, so a long title cycles through the content types (each
/// block restarts its sources: generating a long title stays linear in its length).
fn filtergraph(w: usize, h: usize, fps: u32, frames: u64) -> String {
    let segs = segments(w, h, fps);
    let block = frames.min(10 * fps as u64);
    let mut parts = Vec::new();
    let mut labels = String::new();
    let mut done = 0u64;
    let mut k = 0usize;
    while done < frames {
        let this_block = block.min(frames - done);
        let per = this_block / 4;
        for (i, seg) in segs.iter().enumerate() {
            let n = if i == 3 { this_block - 3 * per } else { per };
            if n == 0 {
                continue;
            }
            parts.push(format!(
                "{seg},setsar=1,trim=end_frame={n},setpts=PTS-STARTPTS[s{k}]"
            ));
            labels.push_str(&format!("[s{k}]"));
            k += 1;
            done += n;
        }
    }
    format!("{};{labels}concat=n={k}:v=1:a=0[out]", parts.join(";"))
}

fn generate(out: &Path, w: usize, h: usize, fps: u32, frames: u64, codec_args: &[&str]) {
    let tmp = out.with_extension("part");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .arg("-filter_complex")
        .arg(filtergraph(w, h, fps, frames))
        .args(["-map", "[out]", "-frames:v", &frames.to_string()])
        .args(codec_args)
        .arg(&tmp);
    proc::run(&mut cmd).unwrap_or_else(|e| panic!("generating {}: {e}", out.display()));
    std::fs::rename(&tmp, out).expect("rename clip");
}

/// A y4m clip of mixed content, generated once and reused.
pub fn y4m(name: &str, w: usize, h: usize, fps: u32, frames: u64) -> Clip {
    cached(
        name,
        "y4m",
        (w, h, fps, frames),
        "",
        &["-f", "yuv4mpegpipe", "-pix_fmt", "yuv420p"],
    )
}

/// A long clip stored as near-lossless H.264 (a 10-minute 1080p y4m would need 45 GB).
pub fn mp4(name: &str, w: usize, h: usize, fps: u32, frames: u64) -> Clip {
    cached(
        name,
        "mp4",
        (w, h, fps, frames),
        " (this takes a while)",
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mp4",
        ],
    )
}

/// The clip `name` of `w`×`h` at `fps`, `frames` long, in the clip cache as `.ext`: generated
/// with `codec_args` on first use (`note` said while generating), reused after.
fn cached(
    name: &str,
    ext: &str,
    (w, h, fps, frames): (usize, usize, u32, u64),
    note: &str,
    codec_args: &[&str],
) -> Clip {
    let path = clip_dir().join(format!("{name}-{w}x{h}-{frames}f.{ext}"));
    if !path.exists() {
        eprintln!("generating {}{note} ...", path.display());
        generate(&path, w, h, fps, frames, codec_args);
    }
    Clip {
        name: name.into(),
        path,
        width: w,
        height: h,
        fps,
        frames,
    }
}

/// The built-in demo clip (`pertitle::media::demo_clip`, 1280×720, 24 fps, 132 frames) exported
/// to y4m once, so both pipelines read the same file.
pub fn demo() -> Clip {
    use pertitle::media;
    let path = clip_dir().join("demo.y4m");
    if !path.exists() {
        let mut src = media::demo_clip().expect("built-in demo clip");
        let part = path.with_extension("part");
        let mut first = src
            .next_frame()
            .expect("demo frame")
            .expect("demo has frames");
        let mut out = media::Y4mWriter::create(&part, first.format, media::DEMO_FPS)
            .expect("create demo y4m");
        loop {
            out.write(&first).expect("write demo y4m");
            match src.next_frame().expect("demo frame") {
                Some(f) => first = f,
                None => break,
            }
        }
        out.finish().expect("finish demo y4m");
        std::fs::rename(&part, &path).expect("rename demo y4m");
    }
    Clip {
        name: "demo".into(),
        path,
        width: media::DEMO_WIDTH,
        height: media::DEMO_HEIGHT,
        fps: media::DEMO_FPS.0,
        frames: media::DEMO_FRAMES,
    }
}
