//! ADM against libvmaf's integer `adm` extractor (the oracle) on generated content: textures,
//! gradients and shapes; distortions blur, noise, quantisation, sharpening and contrast gain; sizes
//! 1920×1080, 1280×720 and odd 721×405, 176×144; 8- and 10-bit; identical frames; the
//! `adm_enhn_gain_limit` of the neg model.

use crate::libvmaf::Libvmaf;
use crate::support::Rng;
use pertitle::quality::vmaf::adm::{self, AdmParams, AdmRef, AdmScore};
use pertitle::{Chroma, Frame, FrameFormat, Plane};

/// Content with flat areas, gradients, sinusoidal texture, hard-edged shapes and fine grain.
fn content(w: usize, h: usize, bd: u8, seed: u64) -> Plane {
    let mut rng = Rng::xorshift64_star(Rng::spread(seed));
    let max = ((1u32 << bd) - 1) as f64;
    let mut p = Plane::zeroed(w, h, bd);
    let fx = 0.02 + 0.05 * rng.unit();
    let fy = 0.03 + 0.04 * rng.unit();
    let rects: Vec<(usize, usize, usize, usize, f64)> = (0..12)
        .map(|_| {
            let x0 = (rng.unit() * w as f64) as usize;
            let y0 = (rng.unit() * h as f64) as usize;
            let rw = 4 + (rng.unit() * w as f64 / 4.0) as usize;
            let rh = 4 + (rng.unit() * h as f64 / 4.0) as usize;
            (x0, y0, rw, rh, rng.unit())
        })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f64, y as f64);
            let mut v = 0.25 + 0.3 * xf / w as f64 + 0.1 * yf / h as f64;
            if x > w / 3 {
                // textured region
                v += 0.12 * (xf * fx).sin() * (yf * fy).cos()
                    + 0.06 * ((xf + 2.0 * yf) * 0.31).sin();
            }
            for &(x0, y0, rw, rh, lvl) in &rects {
                if x >= x0 && x < x0 + rw && y >= y0 && y < y0 + rh {
                    v = 0.5 * v + 0.5 * lvl;
                }
            }
            if y > h / 2 {
                v += 0.02 * rng.gauss();
            }
            p.samples
                .set(y * w + x, (v * max).round().clamp(0.0, max) as u16);
        }
    }
    p
}

fn map(p: &Plane, f: impl Fn(usize, usize) -> f64, bd: u8) -> Plane {
    let max = ((1u32 << bd) - 1) as f64;
    let mut o = Plane::zeroed(p.width, p.height, bd);
    for y in 0..p.height {
        for x in 0..p.width {
            o.samples
                .set(y * p.width + x, f(x, y).round().clamp(0.0, max) as u16);
        }
    }
    o
}

fn at(p: &Plane, x: i64, y: i64) -> f64 {
    let x = x.clamp(0, p.width as i64 - 1) as usize;
    let y = y.clamp(0, p.height as i64 - 1) as usize;
    p.samples.get(y * p.width + x) as f64
}

fn blur(p: &Plane, r: i64, bd: u8) -> Plane {
    let n = ((2 * r + 1) * (2 * r + 1)) as f64;
    map(
        p,
        |x, y| {
            let mut s = 0.0;
            for dy in -r..=r {
                for dx in -r..=r {
                    s += at(p, x as i64 + dx, y as i64 + dy);
                }
            }
            s / n
        },
        bd,
    )
}

fn noise(p: &Plane, sigma: f64, seed: u64, bd: u8) -> Plane {
    let mut rng = Rng::xorshift64_star(seed | 1);
    let vals: Vec<f64> = (0..p.samples.len()).map(|_| sigma * rng.gauss()).collect();
    map(
        p,
        |x, y| p.samples.get(y * p.width + x) as f64 + vals[y * p.width + x],
        bd,
    )
}

fn quantise(p: &Plane, step: f64, bd: u8) -> Plane {
    map(
        p,
        |x, y| (p.samples.get(y * p.width + x) as f64 / step).round() * step,
        bd,
    )
}

/// Unsharp mask: an enhancement the gain limit is about.
fn sharpen(p: &Plane, amount: f64, bd: u8) -> Plane {
    let b = blur(p, 1, bd);
    map(
        p,
        |x, y| {
            let i = y * p.width + x;
            p.samples.get(i) as f64 + amount * (p.samples.get(i) as f64 - b.samples.get(i) as f64)
        },
        bd,
    )
}

fn contrast(p: &Plane, gain: f64, bd: u8) -> Plane {
    let mid = (1u32 << (bd - 1)) as f64;
    map(
        p,
        |x, y| mid + gain * (p.samples.get(y * p.width + x) as f64 - mid),
        bd,
    )
}

fn frame(p: &Plane, bd: u8, i: u64) -> Frame {
    let mut f = Frame::new(FrameFormat::new(p.width, p.height, Chroma::Gray, bd), i);
    f.planes[0] = p.clone();
    f
}

/// Scores every pair with libvmaf and with our ADM (one prepared reference per pair), asserts
/// adm2 and the per-scale scores within 1e-6, and returns the largest |Δ| seen.
fn check(bd: u8, pairs: &[(Plane, Plane)], gain: Option<f64>) -> f64 {
    match gain {
        Some(g) => check_opts(bd, pairs, &[("adm_enhn_gain_limit", "egl", g)]),
        None => check_opts(bd, pairs, &[]),
    }
}

/// [`check`] with libvmaf adm options `(name, alias, value)`, mirrored into [`AdmParams`].
fn check_opts(bd: u8, pairs: &[(Plane, Plane)], opts: &[(&str, &str, f64)]) -> f64 {
    let mut lv = Libvmaf::new(0);
    let vals: Vec<String> = opts.iter().map(|o| format!("{:.6}", o.2)).collect();
    let opts_ref: Vec<(&str, &str)> = opts
        .iter()
        .zip(&vals)
        .map(|(o, v)| (o.0, v.as_str()))
        .collect();
    lv.use_feature("adm", &opts_ref);
    for (i, (r, d)) in pairs.iter().enumerate() {
        lv.push(&frame(r, bd, i as u64), &frame(d, bd, i as u64));
    }
    lv.flush();
    // libvmaf names features with their non-default options, sorted by option name:
    // alias + "_<option alias>_<value %g>" each.
    let mut sorted = opts.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let suffix: String = sorted.iter().map(|o| format!("_{}_{}", o.1, o.2)).collect();
    let adm2_name = if opts.is_empty() {
        "VMAF_integer_feature_adm2_score".to_string()
    } else {
        format!("integer_adm2{suffix}")
    };
    let mut params = AdmParams::default();
    for &(name, _, v) in opts {
        match name {
            "adm_enhn_gain_limit" => params.enhn_gain_limit = v,
            "adm_norm_view_dist" => params.norm_view_dist = v,
            "adm_ref_display_height" => params.ref_display_height = v as u32,
            "adm_noise_weight" => params.noise_weight = v,
            _ => panic!("option {name} not mirrored"),
        }
    }
    let mut max_d = 0f64;
    for (i, (r, d)) in pairs.iter().enumerate() {
        let i = i as u32;
        let want = lv.feature(&adm2_name, i).expect("libvmaf integer_adm2");
        let aref = AdmRef::new(r, bd);
        let got = adm::score(&aref, d, bd, &params);
        let dd = (got.adm2 - want).abs();
        if std::env::var_os("ADM_TRACE").is_some() {
            eprintln!(
                "{}x{} frame {i}: adm2 {} libvmaf {want} scales {:?}",
                r.width, r.height, got.adm2, got.scales
            );
        }
        max_d = max_d.max(dd);
        assert!(
            dd <= 1e-6,
            "frame {i} {}x{} {bd}-bit: adm2 {} vs libvmaf {want}",
            r.width,
            r.height,
            got.adm2
        );
        for s in 0..4 {
            let want = lv
                .feature(&format!("integer_adm_scale{s}{suffix}"), i)
                .expect("libvmaf integer_adm_scale");
            let dd = (got.scales[s] - want).abs();
            max_d = max_d.max(dd);
            assert!(
                dd <= 1e-6,
                "frame {i} scale {s}: {} vs libvmaf {want}",
                got.scales[s]
            );
        }
    }
    max_d
}

fn distortions(r: &Plane, bd: u8, seed: u64) -> Vec<(Plane, Plane)> {
    let k = (1u32 << (bd - 8)) as f64;
    vec![
        (r.clone(), blur(r, 1, bd)),
        (r.clone(), noise(r, 3.0 * k, seed, bd)),
        (r.clone(), quantise(r, 12.0 * k, bd)),
        (r.clone(), sharpen(r, 0.8, bd)),
        (r.clone(), contrast(r, 1.3, bd)),
    ]
}

#[test]
fn adm_matches_libvmaf_720p_8bit() {
    let r = content(1280, 720, 8, 1);
    let d = check(8, &distortions(&r, 8, 11), None);
    eprintln!("adm 1280x720 8-bit max |Δ| = {d:e}");
}

#[test]
fn adm_matches_libvmaf_odd_sizes() {
    let mut worst = 0f64;
    for (w, h, seed) in [
        (176, 144, 2),
        (721, 405, 3),
        (177, 101, 4),
        (64, 48, 5),
        (48, 40, 6),
        (41, 37, 7),
    ] {
        let r = content(w, h, 8, seed);
        worst = worst.max(check(8, &distortions(&r, 8, seed + 10), None));
    }
    eprintln!("adm odd sizes max |Δ| = {worst:e}");
}

#[test]
fn adm_matches_libvmaf_1080p() {
    let r = content(1920, 1080, 8, 5);
    let pairs = vec![
        (r.clone(), blur(&r, 2, 8)),
        (r.clone(), noise(&quantise(&r, 6.0, 8), 2.0, 7, 8)),
    ];
    let d = check(8, &pairs, None);
    eprintln!("adm 1920x1080 max |Δ| = {d:e}");
}

#[test]
fn adm_matches_libvmaf_10bit() {
    let mut worst = 0f64;
    for (w, h, seed) in [(1280, 720, 6), (721, 405, 8)] {
        let r = content(w, h, 10, seed);
        worst = worst.max(check(10, &distortions(&r, 10, seed + 1), None));
    }
    eprintln!("adm 10-bit max |Δ| = {worst:e}");
}

#[test]
fn adm_identical_frames_match_libvmaf() {
    let r8 = content(640, 360, 8, 9);
    let flat = map(&r8, |_, _| 128.0, 8);
    let d = check(8, &[(r8.clone(), r8.clone()), (flat.clone(), flat)], None);
    let r10 = content(352, 288, 10, 10);
    let d10 = check(10, &[(r10.clone(), r10)], None);
    eprintln!("adm identical max |Δ| = {:e}", d.max(d10));
    let aref = AdmRef::new(&r8, 8);
    let s = adm::score(&aref, &r8, 8, &AdmParams::default());
    assert!(
        (s.adm2 - 1.0).abs() < 1e-3,
        "identical frames adm2 {}",
        s.adm2
    );
}

#[test]
fn adm_enhancement_gain_limit_matches_libvmaf() {
    let r = content(640, 480, 8, 12);
    let pairs = vec![
        (r.clone(), sharpen(&r, 1.5, 8)),
        (r.clone(), contrast(&r, 1.4, 8)),
        (r.clone(), blur(&r, 1, 8)),
    ];
    let d1 = check(8, &pairs, Some(1.0));
    let d100 = check(8, &pairs, None);
    // The limit must matter for enhancement: with 1.0 the sharpened frame scores lower.
    let aref = AdmRef::new(&r, 8);
    let lim = adm::score(
        &aref,
        &pairs[0].1,
        8,
        &AdmParams {
            enhn_gain_limit: 1.0,
            ..AdmParams::default()
        },
    );
    let free = adm::score(&aref, &pairs[0].1, 8, &AdmParams::default());
    assert!(lim.adm2 < free.adm2, "{} !< {}", lim.adm2, free.adm2);
    let r10 = content(400, 300, 10, 13);
    let d10 = check(10, &[(r10.clone(), sharpen(&r10, 1.2, 10))], Some(1.0));
    eprintln!("adm gain-limit max |Δ| = {:e}", d1.max(d100).max(d10));
}

/// One prepared reference shared by threads scoring different distorted frames gives the same
/// numbers as scoring them one by one (thread-local scratch, no shared mutable state).
#[test]
fn adm_shared_reference_across_threads() {
    use rayon::prelude::*;
    let r = content(320, 240, 8, 15);
    let dists: Vec<Plane> = (0..8)
        .map(|i| noise(&r, 1.0 + i as f64, 40 + i, 8))
        .collect();
    let aref = AdmRef::new(&r, 8);
    let p = AdmParams::default();
    let seq: Vec<AdmScore> = dists.iter().map(|d| adm::score(&aref, d, 8, &p)).collect();
    let par: Vec<AdmScore> = dists
        .par_iter()
        .map(|d| adm::score(&aref, d, 8, &p))
        .collect();
    assert_eq!(seq, par);
    // More noise, lower adm2: the scores are not all the same number.
    assert!(seq.windows(2).all(|w| w[1].adm2 < w[0].adm2), "{seq:?}");
}

/// The other CSF options libvmaf exposes (a 4K-style view, a non-default noise floor, another
/// gain). The gain is integral: for fractional gains libvmaf's AVX-512 decoupling rounds where its
/// C truncates (we follow the C; with libvmaf's SIMD disabled a gain of 1.5 matches exactly).
#[test]
fn adm_view_options_match_libvmaf() {
    let r = content(480, 270, 8, 14);
    let pairs = vec![
        (r.clone(), blur(&r, 1, 8)),
        (r.clone(), sharpen(&r, 0.7, 8)),
    ];
    let d = check_opts(
        8,
        &pairs,
        &[
            ("adm_norm_view_dist", "nvd", 4.0),
            ("adm_ref_display_height", "rdh", 2160.0),
            ("adm_noise_weight", "nw", 0.05),
            ("adm_enhn_gain_limit", "egl", 2.0),
        ],
    );
    eprintln!("adm view options max |Δ| = {d:e}");
}

/// This thread's CPU time in seconds: robust against other processes on a shared machine (both
/// libvmaf with `n_threads = 0` and pertitle here compute in the calling thread).
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Throughput against libvmaf's adm alone, 1080p 8-bit, one thread, thread CPU time, best of 5
/// interleaved rounds (the machine is shared). Not a test of speed (no timed assertion): run with
/// `cargo test --release --test it adm_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn adm_throughput_vs_libvmaf() {
    use pertitle::cpu::CpuLevel;
    struct Instant(f64);
    impl Instant {
        fn now() -> Self {
            Instant(thread_cpu())
        }
        fn elapsed(&self) -> std::time::Duration {
            std::time::Duration::from_secs_f64(thread_cpu() - self.0)
        }
    }
    let n = 10;
    let r = content(1920, 1080, 8, 21);
    let dists: Vec<Plane> = (0..4)
        .map(|i| noise(&blur(&r, 1, 8), 2.0, 30 + i, 8))
        .collect();
    let rf = frame(&r, 8, 0);
    let dfs: Vec<Frame> = dists.iter().map(|d| frame(d, 8, 0)).collect();
    let p = AdmParams::default();
    let levels: Vec<CpuLevel> = [CpuLevel::Scalar, CpuLevel::Avx2, CpuLevel::Avx512]
        .into_iter()
        .filter(|&l| l <= CpuLevel::get())
        .collect();
    let (mut best_lv, mut best_fresh) = (f64::MAX, f64::MAX);
    let mut best_shared = vec![f64::MAX; levels.len()];
    let mut acc = 0.0;
    for _round in 0..5 {
        let mut lv = Libvmaf::new(0);
        lv.use_feature("adm", &[]);
        let t = Instant::now();
        for i in 0..n {
            lv.push(&rf, &dfs[i % 4]);
        }
        lv.flush();
        best_lv = best_lv.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        for d in dists.iter().cycle().take(n) {
            let aref = AdmRef::new(&r, 8);
            acc += adm::score(&aref, d, 8, &p).adm2;
        }
        best_fresh = best_fresh.min(t.elapsed().as_secs_f64());

        let aref = AdmRef::new(&r, 8);
        for (k, &level) in levels.iter().enumerate() {
            let t = Instant::now();
            for d in dists.iter().cycle().take(n) {
                acc += adm::score_with(level, &aref, d, 8, &p).adm2;
            }
            best_shared[k] = best_shared[k].min(t.elapsed().as_secs_f64());
        }
    }
    let fps = |t: f64| n as f64 / t;
    eprintln!(
        "1080p adm, 1 thread, CPU time, best of 5 x {n} frames: libvmaf {:.1} fps (its AVX-512 path, incl. \
         picture copy); pertitle with the reference prepared per frame {:.1} fps = {:.2}x",
        fps(best_lv),
        fps(best_fresh),
        best_lv / best_fresh
    );
    for (k, level) in levels.iter().enumerate() {
        eprintln!(
            "  pertitle scoring against a shared prepared reference, {}: {:.1} fps = {:.2}x",
            level.name(),
            fps(best_shared[k]),
            best_lv / best_shared[k]
        );
    }
    assert!(acc.is_finite());
}

/// A profiling loop (e.g. under `perf record`): 1080p scoring at the detected CPU level.
#[test]
#[ignore]
fn adm_profile_loop() {
    let r = content(1920, 1080, 8, 21);
    let d = noise(&blur(&r, 1, 8), 2.0, 30, 8);
    let p = AdmParams::default();
    let mut acc = 0.0;
    for i in 0..60 {
        let aref = AdmRef::new(&r, 8);
        for _ in 0..if i % 2 == 0 { 1 } else { 3 } {
            acc += adm::score(&aref, &d, 8, &p).adm2;
        }
    }
    assert!(acc.is_finite());
}
