//! The hand-made peer: what users script today with the ffmpeg CLI and libvmaf.
//!
//! Per grid point (size × CRF): the ffmpeg CLI encodes with libx264 to an .mp4 in a temp dir,
//! ffprobe reads the video stream's packet sizes, the ffmpeg CLI decodes and upscales (bicubic)
//! to raw YUV at the source size, and libvmaf (vmaf_v0.6.1 + psnr + float_ssim, single-threaded
//! per job) scores it against the source read frame by frame. Points run `jobs` at a time.
//!
//! Before the grid, the source is converted once to raw YUV and downscaled once per size (what a
//! careful script does; it also keeps each encode process pure x264 + raw input, so the sum of
//! the encode processes' CPU is the x264 encode floor and not inflated by scaling). All of this
//! is inside the timed span.
#![allow(dead_code)]

use crate::clips::Clip;
use crate::libvmaf::{self, Libvmaf, Pool};
use crate::proc::{self, Snapshot, Span};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The grid and the encoder settings, shared with the pertitle run so both encode the same.
#[derive(Debug, Clone)]
pub struct Grid {
    pub sizes: Vec<(usize, usize)>,
    pub crfs: Vec<u32>,
    pub preset: String,
    /// Further ffmpeg output options for libx264 matching pertitle's encoder settings
    /// (e.g. `-profile:v high`, `-x264-params ...`). `-threads 1` is always given.
    pub x264_args: Vec<String>,
}

impl Grid {
    pub fn points(&self) -> usize {
        self.sizes.len() * self.crfs.len()
    }

    pub fn sizes_arg(&self) -> String {
        self.sizes
            .iter()
            .map(|(w, h)| format!("{w}x{h}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn crfs_arg(&self) -> String {
        self.crfs
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One finished hand-made point.
#[derive(Debug, Clone)]
pub struct PeerPoint {
    pub width: usize,
    pub height: usize,
    pub crf: u32,
    /// Sum of the mp4's video packet sizes (ffprobe), i.e. the bitstream without container.
    pub bytes: u64,
    pub kbps: f64,
    pub vmaf: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    /// CPU seconds of the encode process alone.
    pub encode_cpu: f64,
}

/// The whole hand-made run.
#[derive(Debug, Clone)]
pub struct PeerRun {
    pub points: Vec<PeerPoint>,
    /// Everything: source conversion, downscales, encodes, probes, decodes, scoring.
    pub total: Span,
    /// The source conversion and downscales alone (part of `total`).
    pub prep: Span,
    /// Sum of the encode processes' CPU seconds.
    pub encode_cpu: f64,
    /// CPU seconds of the same encodes from the same raw inputs to ffmpeg's null muxer, run
    /// after the timed span: x264 alone, the floor neither tool can go below.
    pub x264_cpu: f64,
    pub jobs: usize,
}

fn ffmpeg() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    c
}

fn raw_input(c: &mut Command, w: usize, h: usize, fps: u32, path: &Path) {
    c.args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s"])
        .arg(format!("{w}x{h}"))
        .args(["-r", &fps.to_string(), "-i"])
        .arg(path);
}

/// One grid encode from the raw `input` of `w`×`h` at `fps`, single-threaded libx264 with the
/// grid's settings; the caller adds the output.
fn encode(grid: &Grid, (w, h, fps): (usize, usize, u32), input: &Path, crf: u32) -> Command {
    let mut c = ffmpeg();
    raw_input(&mut c, w, h, fps, input);
    c.args(["-an", "-c:v", "libx264", "-preset", &grid.preset])
        .args(["-crf", &crf.to_string(), "-threads", "1"])
        .args(&grid.x264_args);
    c
}

/// Runs `n` tasks on `jobs` threads, in index order as threads free up.
fn parallel<T: Send>(
    n: usize,
    jobs: usize,
    f: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<T, String>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(n).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = f(i);
                let failed = r.is_err();
                out.lock().unwrap()[i] = Some(r);
                if failed {
                    next.store(n, Ordering::SeqCst);
                }
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("task skipped after an earlier failure".into())))
        .collect()
}

/// Sum of the video stream's packet sizes, as ffprobe lists them.
fn video_bytes(mp4: &Path) -> Result<u64, String> {
    let out = proc::run(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=size",
            ])
            .args(["-of", "csv=p=0"])
            .arg(mp4),
    )?;
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .trim_end_matches(',')
                .parse::<u64>()
                .map_err(|e| format!("ffprobe packet size {l:?} of {}: {e}", mp4.display()))
        })
        .sum()
}

/// Scores `dist` (raw 4:2:0 at the source size) against `reference` with libvmaf in this thread.
fn score(
    reference: &Path,
    dist: &Path,
    w: usize,
    h: usize,
    frames: u64,
) -> Result<(f64, f64, f64), String> {
    let n = libvmaf::yuv420_bytes(w, h);
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let (mut r, mut d) = (open(reference)?, open(dist)?);
    let (mut rb, mut db) = (vec![0u8; n], vec![0u8; n]);
    let mut vmaf = Libvmaf::new(0);
    let model = vmaf.use_model("vmaf_v0.6.1", false);
    vmaf.use_feature("psnr", &[]);
    vmaf.use_feature("float_ssim", &[]);
    for i in 0..frames {
        r.read_exact(&mut rb)
            .map_err(|e| format!("{} frame {i}: {e}", reference.display()))?;
        d.read_exact(&mut db)
            .map_err(|e| format!("{} frame {i}: {e}", dist.display()))?;
        vmaf.push_yuv420(w, h, &rb, &db);
    }
    vmaf.flush();
    let v = vmaf.pooled(model, Pool::Mean);
    let p = vmaf.feature_mean("psnr_y").ok_or("libvmaf has no psnr_y")?;
    let s = vmaf
        .feature_mean("float_ssim")
        .ok_or("libvmaf has no float_ssim")?;
    Ok((v, p, s))
}

/// Runs the grid the hand-made way on `clip` with `jobs` parallel jobs.
pub fn run(clip: &Clip, grid: &Grid, jobs: usize) -> Result<PeerRun, String> {
    let tmp = tempfile::Builder::new()
        .prefix("pertitle-bench-peer")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let dir = tmp.path();
    let (sw, sh, fps) = (clip.width, clip.height, clip.fps);
    let start = Snapshot::now();

    // The source as raw YUV (the reference libvmaf reads), then each encode size once.
    let src_raw = dir.join("src.yuv");
    proc::run(
        ffmpeg()
            .arg("-i")
            .arg(&clip.path)
            .args(["-f", "rawvideo", "-pix_fmt", "yuv420p"])
            .arg(&src_raw),
    )?;
    let scaled: Vec<PathBuf> = parallel(grid.sizes.len(), jobs, |i| {
        let (w, h) = grid.sizes[i];
        if (w, h) == (sw, sh) {
            return Ok(src_raw.clone());
        }
        let out = dir.join(format!("src-{w}x{h}.yuv"));
        let mut c = ffmpeg();
        raw_input(&mut c, sw, sh, fps, &src_raw);
        c.arg("-vf")
            .arg(format!("scale={w}:{h}:flags=bicubic"))
            .args(["-f", "rawvideo", "-pix_fmt", "yuv420p"])
            .arg(&out);
        proc::run(&mut c)?;
        Ok(out)
    })?;
    let prep = start.since();

    // Largest sizes first so the last jobs to finish are short ones.
    let mut order: Vec<(usize, u32)> = Vec::new();
    for (si, _) in grid.sizes.iter().enumerate() {
        for &crf in &grid.crfs {
            order.push((si, crf));
        }
    }
    order.sort_by_key(|&(si, crf)| (std::cmp::Reverse(grid.sizes[si].0 * grid.sizes[si].1), crf));

    let points = parallel(order.len(), jobs, |k| {
        let (si, crf) = order[k];
        let (w, h) = grid.sizes[si];
        let mp4 = dir.join(format!("{w}x{h}-crf{crf}.mp4"));
        let enc = proc::run(encode(grid, (w, h, fps), &scaled[si], crf).arg(&mp4))?;
        let bytes = video_bytes(&mp4)?;

        let dist = dir.join(format!("{w}x{h}-crf{crf}.yuv"));
        let mut c = ffmpeg();
        c.arg("-i").arg(&mp4);
        if (w, h) != (sw, sh) {
            c.arg("-vf").arg(format!("scale={sw}:{sh}:flags=bicubic"));
        }
        c.args(["-f", "rawvideo", "-pix_fmt", "yuv420p"]).arg(&dist);
        proc::run(&mut c)?;

        let (vmaf, psnr_y, ssim) = score(&src_raw, &dist, sw, sh, clip.frames)?;
        let _ = std::fs::remove_file(&dist);
        let _ = std::fs::remove_file(&mp4);
        Ok(PeerPoint {
            width: w,
            height: h,
            crf,
            bytes,
            kbps: bytes as f64 * 8.0 / clip.seconds() / 1000.0,
            vmaf,
            psnr_y,
            ssim,
            encode_cpu: enc.usage.cpu(),
        })
    })?;
    let total = start.since();
    let encode_cpu = points.iter().map(|p| p.encode_cpu).sum();
    let x264: Vec<f64> = parallel(order.len(), jobs, |k| {
        let (si, crf) = order[k];
        let (w, h) = grid.sizes[si];
        let mut c = encode(grid, (w, h, fps), &scaled[si], crf);
        Ok(proc::run(c.args(["-f", "null", "-"]))?.usage.cpu())
    })?;
    Ok(PeerRun {
        points,
        total,
        prep,
        encode_cpu,
        x264_cpu: x264.iter().sum(),
        jobs,
    })
}
