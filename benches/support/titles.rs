//! Generated multi-shot titles with cuts at known frames (shared by the titles and executors
//! benchmarks): shots of libavfilter sources with camera motion, texture and grain, made once
//! with the ffmpeg CLI and kept in `target/bench-clips/` (or `$PERTITLE_BENCH_DIR`).

use crate::proc;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A kind of title: shots drawn in turn from its sources, lengths from a fixed sequence.
pub struct Kind {
    pub name: &'static str,
    /// libavfilter source chains at `{W}x{H}`, `{R}` fps; `{S}` is a per-shot seed/offset.
    pub shots: &'static [&'static str],
}

/// Three titles of different character, as the issue asks (talking heads, sport/action,
/// animation/graphics mixes). Every source has camera motion or texture or grain; seeds fixed.
pub const KINDS: [Kind; 3] = [
    Kind {
        name: "talking",
        // Static or slowly drifting framings with sensor noise: a face-like detailed region on a
        // soft background, a two-shot, a wide shot.
        shots: &[
            "mandelbrot=s=480x270:r={R}:maxiter=96:start_x=-0.7436{S}:start_y=0.1318:start_scale=0.02:end_scale=0.019:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,noise=alls=5:allf=t+u:all_seed={S}",
            "gradients=s=640x360:r={R}:c0=0x3a2a1a:c1=0xb08060:x0=100:y0=0:x1=540:y1=360:speed=0.004:seed={S},scale={W}:{H}:flags=bicubic,noise=alls=6:allf=t+u:all_seed={S}",
            "testsrc2=s=640x360:r={R},scroll=horizontal=0.0008,boxblur=2,scale={W}:{H}:flags=bicubic,noise=alls=4:allf=t+u:all_seed={S}",
        ],
    },
    Kind {
        name: "sport",
        // Fast pans over texture, zooms, heavy grain.
        shots: &[
            "testsrc2=s={W}x{H}:r={R},scroll=horizontal=0.021:vertical=0.004,noise=alls=14:allf=t+u:all_seed={S}",
            "mandelbrot=s=480x270:r={R}:maxiter=128:start_x=-0.743643887:start_y=0.131825904:start_scale=0.05:end_scale=0.004:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,noise=alls=10:allf=t+u:all_seed={S}",
            "mandelbrot=s=480x270:r={R}:maxiter=64:start_x=-1.25066:start_y=0.02012:start_scale=0.002:end_scale=0.002:outer=normalized_iteration_count,scale={W}:{H}:flags=bicubic,scroll=horizontal=0.012:vertical=0.006,noise=alls=18:allf=t+u:all_seed={S}",
        ],
    },
    Kind {
        name: "animation",
        // Flat colours and sharp edges, moving graphics.
        shots: &[
            "smptebars=s={W}x{H}:r={R},scroll=vertical=0.003",
            "gradients=s={W}x{H}:r={R}:c0=0xff3050:c1=0x20c0ff:x0=0:y0=0:x1={W}:y1={H}:speed=0.03:seed={S}",
            "life=s=320x180:r={R}:mold=10:ratio=0.2:seed={S}:life_color=#ffd040:death_color=#203060:mold_color=#406080,scale={W}:{H}:flags=neighbor",
            "testsrc=s={W}x{H}:r={R}",
        ],
    },
];

/// Shot lengths in seconds, cycled: 2 s to 14 s, so chunking both merges and splits.
pub const SHOT_SECONDS: [f64; 9] = [6.0, 3.5, 11.0, 2.5, 8.0, 14.0, 4.0, 2.0, 7.5];

/// A generated title and where its shots start.
pub struct Title {
    pub name: String,
    pub path: PathBuf,
    pub frames: u64,
    pub fps: u32,
    pub cuts: Vec<u64>,
}

pub fn clip_dir() -> PathBuf {
    let dir = std::env::var_os("PERTITLE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-clips"));
    std::fs::create_dir_all(&dir).expect("create clip directory");
    dir
}

/// The title of `kind`, `seconds` long at `w`×`h`, 24 fps, as near-lossless H.264 (generated
/// once with the ffmpeg CLI, kept between runs).
pub fn title(kind: &Kind, seconds: f64, (w, h): (usize, usize)) -> Title {
    let fps = 24u32;
    let frames = (seconds * fps as f64).round() as u64;
    let mut parts = Vec::new();
    let mut labels = String::new();
    let mut cuts = Vec::new();
    let (mut at, mut k) = (0u64, 0usize);
    while at < frames {
        let n = ((SHOT_SECONDS[k % SHOT_SECONDS.len()] * fps as f64) as u64).min(frames - at);
        let src = kind.shots[k % kind.shots.len()]
            .replace("{W}", &w.to_string())
            .replace("{H}", &h.to_string())
            .replace("{R}", &fps.to_string())
            .replace("{S}", &(11 + k * 7).to_string());
        parts.push(format!(
            "{src},format=yuv420p,setsar=1,trim=end_frame={n},setpts=PTS-STARTPTS[s{k}]"
        ));
        labels.push_str(&format!("[s{k}]"));
        if at > 0 {
            cuts.push(at);
        }
        at += n;
        k += 1;
    }
    let path = clip_dir().join(format!("title-{}-{w}x{h}-{frames}f.mp4", kind.name));
    if !path.exists() {
        eprintln!("generating {} ...", path.display());
        let tmp = path.with_extension("part.mp4");
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
            .arg("-filter_complex")
            .arg(format!(
                "{};{labels}concat=n={k}:v=1:a=0[out]",
                parts.join(";")
            ))
            .args(["-map", "[out]", "-frames:v", &frames.to_string()])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "10",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&tmp);
        proc::run(&mut cmd).unwrap_or_else(|e| panic!("generating {}: {e}", path.display()));
        std::fs::rename(&tmp, &path).expect("rename title");
    }
    Title {
        name: kind.name.into(),
        path,
        frames,
        fps,
        cuts,
    }
}

/// `frames` frames of the `kind` title (`seconds` long at `w`×`h`) centred on its first cut, as
/// y4m in the clip cache (made once): `name` names the file. (The quality and pipeline
/// benchmarks use it; the others include this module without it.)
#[allow(dead_code)]
pub fn around_first_cut(
    kind: &Kind,
    seconds: f64,
    (w, h): (usize, usize),
    frames: u64,
    name: &str,
) -> PathBuf {
    let title = title(kind, seconds, (w, h));
    let first = title.cuts[0] - frames / 2;
    assert!(
        first + frames <= title.frames,
        "{name}: {frames} frames around the first cut do not fit a {seconds}-s title"
    );
    let path = clip_dir().join(format!("{name}-{w}x{h}-{frames}f.y4m"));
    if !path.exists() {
        let part = path.with_extension("part");
        proc::run(
            Command::new("ffmpeg")
                .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(&title.path)
                .arg("-vf")
                .arg(format!(
                    "select='between(n,{first},{})',setpts=N/{}/TB",
                    first + frames - 1,
                    title.fps
                ))
                .args(["-frames:v", &frames.to_string()])
                .args(["-f", "yuv4mpegpipe", "-pix_fmt", "yuv420p"])
                .arg(&part),
        )
        .unwrap_or_else(|e| panic!("cutting {}: {e}", title.path.display()));
        std::fs::rename(&part, &path).expect("rename clip");
    }
    path
}
