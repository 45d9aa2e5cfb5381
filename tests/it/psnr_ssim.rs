//! PSNR and SSIM against libvmaf 3.2 (`psnr` with chroma, `float_ssim`) on the same frames:
//! deterministic generated content (gradients, textures, flat areas, noise) with distortions of
//! several strengths, at the sizes and formats the issue names. Acceptance: PSNR within 0.001 dB
//! and SSIM within 1e-4 per frame; the measured maxima are printed (`--nocapture`).

use crate::libvmaf::Libvmaf;
use crate::support::Rng;
use pertitle::quality::{psnr, ssim};
use pertitle::{Chroma, Frame, FrameFormat};

/// A reference frame: a diagonal gradient, a sine texture whose frequency grows to the right, a
/// flat block, a checkerboard and a noisy band; `t` moves the texture between frames.
fn reference(fmt: FrameFormat, t: u64, seed: u64) -> Frame {
    let mut f = Frame::new(fmt, t);
    let maxv = f64::from(fmt.max_value());
    let mut s = Rng::xorshift64(Rng::spread(seed));
    for (i, p) in f.planes.iter_mut().enumerate() {
        let (w, h) = (p.width as f64, p.height as f64);
        for y in 0..p.height {
            for x in 0..p.width {
                let (xf, yf) = (x as f64, y as f64);
                let grad = (xf / w + yf / h) * 0.5;
                let freq = 0.05 + 0.6 * xf / w;
                let tex =
                    ((xf + t as f64 * 3.0) * freq).sin() * ((yf + i as f64 * 7.0) * 0.21).cos();
                let mut v = 0.15 + 0.55 * grad + 0.25 * tex;
                if xf < w * 0.25 && yf < h * 0.3 {
                    v = 0.42; // flat area
                } else if xf > w * 0.8 && yf < h * 0.4 {
                    v = if ((x / 6) + (y / 6)) % 2 == 0 {
                        0.1
                    } else {
                        0.9
                    };
                } else if yf > h * 0.75 {
                    v += (s.below(1000) as f64 / 1000.0 - 0.5) * 0.3;
                }
                p.samples
                    .set(y * p.width + x, (v.clamp(0.0, 1.0) * maxv).round() as u16);
            }
        }
    }
    f
}

/// A distorted copy: a 3×3 blur mixed in by `strength`, additive noise and coarser quantisation
/// growing with it. `strength` 0 gives an identical frame.
fn distort(r: &Frame, strength: f64, seed: u64) -> Frame {
    let mut d = r.clone();
    if strength == 0.0 {
        return d;
    }
    let maxv = f64::from(r.format.max_value());
    let scale = maxv / 255.0;
    let mut s = Rng::xorshift64(seed | 1);
    let q = (1.0 + strength * 6.0) * scale;
    for (rp, dp) in r.planes.iter().zip(d.planes.iter_mut()) {
        let (w, h) = (rp.width, rp.height);
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0.0;
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let yy = (y as i64 + dy).clamp(0, h as i64 - 1) as usize;
                        let xx = (x as i64 + dx).clamp(0, w as i64 - 1) as usize;
                        sum += f64::from(rp.samples.get(yy * w + xx));
                    }
                }
                let orig = f64::from(rp.samples.get(y * w + x));
                let blur = sum / 9.0;
                let mix = (strength * 0.8).min(1.0);
                let noise = (s.below(2001) as f64 / 1000.0 - 1.0) * strength * 12.0 * scale;
                let v = orig * (1.0 - mix) + blur * mix + noise;
                let v = (v / q).round() * q;
                dp.samples.set(y * w + x, v.clamp(0.0, maxv).round() as u16);
            }
        }
    }
    d
}

/// The frame as libvmaf holds it: chroma planes of `w >> ss_x` by `h >> ss_y` (floor, libvmaf
/// `picture.c`), the top-left part of ours (FFmpeg rounds chroma up for odd sizes).
fn libvmaf_layout(f: &Frame) -> Frame {
    let mut g = f.clone();
    let (sx, sy) = f.format.chroma.shift();
    let (cw, ch) = (f.width() >> sx, f.height() >> sy);
    for p in g.planes.iter_mut().skip(1) {
        let mut q = pertitle::Plane::zeroed(cw, ch, f.format.bit_depth);
        for y in 0..ch {
            for x in 0..cw {
                q.set(x, y, p.get(x, y));
            }
        }
        *p = q;
    }
    g
}

#[derive(Default)]
struct Deltas {
    psnr: f64,
    ssim: f64,
    frames: usize,
    /// Range of libvmaf's values seen, to show the pairs span real distortion levels.
    psnr_y: (f64, f64),
    ssim_range: (f64, f64),
}

/// Scores the pairs with pertitle and libvmaf and returns the largest per-frame differences.
fn compare(pairs: &[(Frame, Frame)], label: &str) -> Deltas {
    let mut lv = Libvmaf::new(0);
    lv.use_feature("psnr", &[("enable_chroma", "true")]);
    lv.use_feature("float_ssim", &[]);
    for (r, d) in pairs {
        lv.push(&libvmaf_layout(r), &libvmaf_layout(d));
    }
    lv.flush();
    let mut out = Deltas {
        psnr_y: (f64::MAX, f64::MIN),
        ssim_range: (f64::MAX, f64::MIN),
        ..Deltas::default()
    };
    for (i, (r, d)) in pairs.iter().enumerate() {
        let ours = psnr::psnr(r, d).expect("same formats");
        for (p, name) in ["psnr_y", "psnr_cb", "psnr_cr"].iter().enumerate() {
            let theirs = lv.feature(name, i as u32).expect(name);
            let delta = (ours[p] - theirs).abs();
            assert!(
                delta <= 0.001,
                "{label} frame {i} {name}: pertitle {} libvmaf {theirs}",
                ours[p]
            );
            out.psnr = out.psnr.max(delta);
            if p == 0 {
                out.psnr_y = (out.psnr_y.0.min(theirs), out.psnr_y.1.max(theirs));
            }
        }
        // Prepared reference, as the ladder uses it.
        let sref = ssim::SsimRef::new(r.luma(), r.format.bit_depth);
        let ours = ssim::score(&sref, d.luma(), d.format.bit_depth);
        let theirs = lv.feature("float_ssim", i as u32).expect("float_ssim");
        let delta = (ours - theirs).abs();
        assert!(
            delta <= 1e-4,
            "{label} frame {i} float_ssim: pertitle {ours} libvmaf {theirs}"
        );
        out.ssim = out.ssim.max(delta);
        out.ssim_range = (out.ssim_range.0.min(theirs), out.ssim_range.1.max(theirs));
        out.frames += 1;
    }
    eprintln!(
        "{label}: {} frames, max |dPSNR| = {:.3e} dB, max |dSSIM| = {:.3e} \
         (psnr_y {:.2}..{:.2} dB, ssim {:.4}..{:.4})",
        out.frames,
        out.psnr,
        out.ssim,
        out.psnr_y.0,
        out.psnr_y.1,
        out.ssim_range.0,
        out.ssim_range.1
    );
    out
}

fn pairs(fmt: FrameFormat, strengths: &[f64], seed: u64) -> Vec<(Frame, Frame)> {
    strengths
        .iter()
        .enumerate()
        .map(|(t, &s)| {
            let r = reference(fmt, t as u64, seed);
            let d = distort(&r, s, seed + t as u64 * 7919);
            (r, d)
        })
        .collect()
}

#[test]
fn psnr_ssim_720p_8bit_420() {
    let fmt = FrameFormat::new(1280, 720, Chroma::Yuv420, 8);
    compare(&pairs(fmt, &[0.15, 0.6, 1.5], 1), "1280x720 8-bit 4:2:0");
}

#[test]
fn psnr_ssim_qcif_8bit_420() {
    let fmt = FrameFormat::new(176, 144, Chroma::Yuv420, 8);
    compare(&pairs(fmt, &[0.1, 0.4, 1.0, 2.5], 2), "176x144 8-bit 4:2:0");
}

#[test]
fn psnr_ssim_odd_size_8bit_420() {
    let fmt = FrameFormat::new(721, 405, Chroma::Yuv420, 8);
    compare(&pairs(fmt, &[0.2, 0.8, 2.0], 3), "721x405 8-bit 4:2:0");
}

#[test]
fn psnr_ssim_1080p_one_frame() {
    let fmt = FrameFormat::new(1920, 1080, Chroma::Yuv420, 8);
    compare(&pairs(fmt, &[0.5], 4), "1920x1080 8-bit 4:2:0");
}

#[test]
fn psnr_ssim_identical_frames_hit_caps() {
    for fmt in [
        FrameFormat::new(176, 144, Chroma::Yuv420, 8),
        FrameFormat::new(640, 360, Chroma::Yuv420, 10),
    ] {
        let p = pairs(fmt, &[0.0, 0.0], 5);
        compare(&p, &format!("identical {}-bit", fmt.bit_depth));
        let v = psnr::psnr(&p[0].0, &p[0].1).unwrap();
        let cap = 6.0 * f64::from(fmt.bit_depth) + 12.0;
        assert_eq!(v, [cap; 3]);
        assert_eq!(ssim::ssim(p[0].0.luma(), p[0].1.luma(), fmt.bit_depth), 1.0);
    }
}

#[test]
fn psnr_ssim_10bit_420() {
    let fmt = FrameFormat::new(1280, 720, Chroma::Yuv420, 10);
    compare(&pairs(fmt, &[0.1, 0.7, 2.0], 6), "1280x720 10-bit 4:2:0");
    let fmt = FrameFormat::new(721, 405, Chroma::Yuv420, 10);
    compare(&pairs(fmt, &[0.3, 1.2], 7), "721x405 10-bit 4:2:0");
}

#[test]
fn psnr_ssim_444_and_422() {
    let fmt = FrameFormat::new(640, 360, Chroma::Yuv444, 8);
    compare(&pairs(fmt, &[0.2, 1.0], 8), "640x360 8-bit 4:4:4");
    let fmt = FrameFormat::new(352, 288, Chroma::Yuv444, 10);
    compare(&pairs(fmt, &[0.5, 1.5], 9), "352x288 10-bit 4:4:4");
    let fmt = FrameFormat::new(641, 361, Chroma::Yuv422, 8);
    compare(&pairs(fmt, &[0.4], 10), "641x361 8-bit 4:2:2");
}

#[test]
fn mismatched_formats_are_an_error() {
    let a = reference(FrameFormat::new(176, 144, Chroma::Yuv420, 8), 0, 1);
    let b = reference(FrameFormat::new(176, 144, Chroma::Yuv420, 10), 0, 1);
    let e = psnr::psnr(&a, &b).unwrap_err().to_string();
    assert!(e.contains("8-bit") && e.contains("10-bit"), "{e}");
    let sref = ssim::SsimRef::new(a.luma(), 8);
    let small = reference(FrameFormat::new(160, 144, Chroma::Yuv420, 8), 0, 1);
    assert!(ssim::score(&sref, small.luma(), 8).is_nan());
}

/// libvmaf's own JSON and CSV logs (written by `vmaf_write_output` from a context scoring `psnr`
/// and `float_ssim`), to check that our writers produce what scripts reading libvmaf's expect.
fn libvmaf_logs(pairs: &[(Frame, Frame)], dir: &std::path::Path) -> (String, String) {
    use std::ffi::CString;
    use std::ptr;
    use vmaf_head_sys as sys;
    let picture = |f: &Frame| -> sys::VmafPicture {
        assert_eq!(f.format.bit_depth, 8);
        let mut pic: sys::VmafPicture = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            sys::vmaf_picture_alloc(
                &mut pic,
                sys::VmafPixelFormat_VMAF_PIX_FMT_YUV420P,
                8,
                f.width() as u32,
                f.height() as u32,
            )
        };
        assert_eq!(rc, 0);
        for (i, p) in f.planes.iter().enumerate() {
            for y in 0..pic.h[i] as usize {
                for x in 0..pic.w[i] as usize {
                    // SAFETY: inside the plane libvmaf allocated (h rows of stride bytes).
                    unsafe {
                        *(pic.data[i] as *mut u8).add(y * pic.stride[i] as usize + x) =
                            p.samples.get(y * p.width + x) as u8
                    };
                }
            }
        }
        pic
    };
    let cfg = sys::VmafConfiguration {
        log_level: sys::VmafLogLevel_VMAF_LOG_LEVEL_NONE,
        n_threads: 0,
        n_subsample: 1,
        cpumask: 0,
        gpumask: 0,
    };
    let mut ctx = ptr::null_mut();
    let mut out = Vec::new();
    unsafe {
        assert_eq!(sys::vmaf_init(&mut ctx, cfg), 0);
        for name in ["psnr", "float_ssim"] {
            let n = CString::new(name).unwrap();
            assert_eq!(sys::vmaf_use_feature(ctx, n.as_ptr(), ptr::null_mut()), 0);
        }
        for (i, (r, d)) in pairs.iter().enumerate() {
            let (mut rp, mut dp) = (picture(r), picture(d));
            assert_eq!(sys::vmaf_read_pictures(ctx, &mut rp, &mut dp, i as u32), 0);
        }
        assert_eq!(
            sys::vmaf_read_pictures(ctx, ptr::null_mut(), ptr::null_mut(), 0),
            0
        );
        for (fmt, file) in [
            (sys::VmafOutputFormat_VMAF_OUTPUT_FORMAT_JSON, "lv.json"),
            (sys::VmafOutputFormat_VMAF_OUTPUT_FORMAT_CSV, "lv.csv"),
        ] {
            let path = dir.join(file);
            let p = CString::new(path.to_str().unwrap()).unwrap();
            assert_eq!(sys::vmaf_write_output(ctx, p.as_ptr(), fmt), 0);
            out.push(std::fs::read_to_string(&path).unwrap());
        }
        sys::vmaf_close(ctx);
    }
    (out.remove(0), out.remove(0))
}

#[test]
fn logs_read_like_libvmafs() {
    use pertitle::quality::log;
    use std::collections::BTreeMap;
    let fmt = FrameFormat::new(176, 144, Chroma::Yuv420, 8);
    let p = pairs(fmt, &[0.3, 1.0, 0.0, 2.0], 11);
    let dir = tempfile::tempdir().unwrap();
    let (lv_json, lv_csv) = libvmaf_logs(&p, dir.path());

    let frames: Vec<BTreeMap<String, f64>> = p
        .iter()
        .map(|(r, d)| {
            let v = psnr::psnr(r, d).unwrap();
            BTreeMap::from([
                ("psnr_y".to_string(), v[0]),
                ("psnr_cb".to_string(), v[1]),
                ("psnr_cr".to_string(), v[2]),
                ("float_ssim".to_string(), ssim::ssim(r.luma(), d.luma(), 8)),
            ])
        })
        .collect();
    let frames = log::numbered(frames);
    let mut ours = Vec::new();
    log::write_json(&mut ours, "3.2.0", Some(12.5), &frames).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&lv_json).unwrap();

    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ours), keys(&theirs));
    let (of, tf) = (
        ours["frames"].as_array().unwrap(),
        theirs["frames"].as_array().unwrap(),
    );
    assert_eq!(of.len(), tf.len());
    for (o, t) in of.iter().zip(tf) {
        assert_eq!(o["frameNum"], t["frameNum"]);
        assert_eq!(keys(&o["metrics"]), keys(&t["metrics"]));
        // Same numbers printed the same way (%.6f) parse to the same value.
        assert_eq!(o["metrics"], t["metrics"], "frame {}", t["frameNum"]);
    }
    assert_eq!(
        keys(&ours["pooled_metrics"]),
        keys(&theirs["pooled_metrics"])
    );
    for name in keys(&theirs["pooled_metrics"]) {
        let (o, t) = (
            &ours["pooled_metrics"][&name],
            &theirs["pooled_metrics"][&name],
        );
        assert_eq!(keys(o), keys(t), "{name}");
        for m in ["min", "max", "mean", "harmonic_mean"] {
            let (a, b) = (o[m].as_f64().unwrap(), t[m].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-6, "{name}.{m}: ours {a} libvmaf {b}");
        }
    }

    // CSV: same header cells and the same cell under each header.
    let mut csv = Vec::new();
    log::write_csv(&mut csv, &frames).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let table = |s: &str| -> Vec<BTreeMap<String, String>> {
        let mut lines = s.lines();
        let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        lines
            .map(|l| {
                head.iter()
                    .cloned()
                    .zip(l.split(',').map(String::from))
                    .collect()
            })
            .collect()
    };
    assert!(lv_csv.starts_with("Frame,") && csv.starts_with("Frame,"));
    assert_eq!(table(&csv), table(&lv_csv));
}
