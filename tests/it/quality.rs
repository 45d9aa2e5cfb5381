//! Quality engine against the libvmaf oracle, on generated content: textures, gradients, flat
//! areas and moving shapes, distorted by blur, noise and quantisation at three strengths.

use crate::libvmaf::{self, Libvmaf, Pool};
use crate::support::Rng;
use pertitle::quality::vmaf::{motion, vif, Model};
use pertitle::{Chroma, Frame, FrameFormat};

#[test]
fn oracle_links_and_is_libvmaf_3() {
    assert!(
        libvmaf::version().starts_with('3'),
        "libvmaf {}",
        libvmaf::version()
    );
}

/// A source frame: left third a smooth gradient with a slow moving disc, middle a
/// pseudo-random texture that pans, right a flat area with a moving bright bar; chroma
/// gradients. Values span the bit depth's range.
fn source(fmt: FrameFormat, idx: u64) -> Frame {
    let mut f = Frame::new(fmt, idx);
    let max = fmt.max_value() as f64;
    let (w, h) = (fmt.width, fmt.height);
    // Texture lattice, fixed per clip; panned by idx.
    let tex = |x: usize, y: usize| -> f64 {
        let mut r = Rng::xorshift64(
            ((x / 3) as u64 * 73_856_093) ^ ((y / 3) as u64 * 19_349_663) ^ 0x5DEECE66D,
        );
        for _ in 0..3 {
            r.next_u64();
        }
        r.below(1000) as f64 / 1000.0
    };
    let t = idx as f64;
    for y in 0..h {
        for x in 0..w {
            let v = if x < w / 3 {
                let g = (x as f64 / w as f64 + y as f64 / h as f64) * 0.6 + 0.1;
                let (cx, cy) = (w as f64 / 6.0 + 3.0 * t, h as f64 / 2.0);
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                if d < h as f64 / 6.0 {
                    0.85
                } else {
                    g
                }
            } else if x < 2 * w / 3 {
                0.2 + 0.6 * tex(x + 2 * idx as usize, y + idx as usize)
            } else {
                let bar = ((x as f64 - 5.0 * t) as i64).rem_euclid(40) < 8;
                if bar {
                    0.9
                } else {
                    0.35
                }
            };
            f.planes[0].samples.set(y * w + x, (v * max).round() as u16);
        }
    }
    for p in 1..f.planes.len() {
        let pl = &mut f.planes[p];
        let (pw, ph) = (pl.width, pl.height);
        for y in 0..ph {
            for x in 0..pw {
                let v = 0.3 + 0.4 * ((x + y * p) as f64 / (pw + ph * p) as f64);
                pl.samples.set(y * pw + x, (v * max) as u16);
            }
        }
    }
    f
}

/// Distortion strength: box-blur radius, noise amplitude and quantisation step (in 8-bit units).
#[derive(Clone, Copy, Debug)]
struct Distortion {
    blur: usize,
    noise: u64,
    quant: u16,
}

const HIGH: Distortion = Distortion {
    blur: 0,
    noise: 2,
    quant: 2,
};
const MID: Distortion = Distortion {
    blur: 1,
    noise: 4,
    quant: 8,
};
const LOW: Distortion = Distortion {
    blur: 2,
    noise: 10,
    quant: 24,
};

fn distort(src: &Frame, d: Distortion, seed: u64) -> Frame {
    let mut out = src.clone();
    let scale = 1u32 << (src.format.bit_depth - 8);
    let max = src.format.max_value() as i64;
    let mut rng = Rng::xorshift64(Rng::spread(seed));
    for (pi, p) in out.planes.iter_mut().enumerate() {
        let (w, h) = (p.width, p.height);
        let s = src.planes[pi].samples.wide();
        let r = d.blur as isize;
        for y in 0..h {
            for x in 0..w {
                let (mut acc, mut n) = (0i64, 0i64);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                        let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                        acc += s[yy * w + xx] as i64;
                        n += 1;
                    }
                }
                let mut v = acc / n;
                if d.noise > 0 {
                    let a = (d.noise * scale as u64) as i64;
                    v += rng.below(2 * a as u64 + 1) as i64 - a;
                }
                let q = (d.quant as i64) * scale as i64;
                v = (v + q / 2) / q * q;
                p.samples.set(y * w + x, v.clamp(0, max) as u16);
            }
        }
    }
    out
}

fn clip(
    w: usize,
    h: usize,
    bd: u8,
    frames: u64,
    d: Option<Distortion>,
) -> (Vec<Frame>, Vec<Frame>) {
    let fmt = FrameFormat::new(w, h, Chroma::Yuv420, bd);
    let refs: Vec<Frame> = (0..frames).map(|i| source(fmt, i)).collect();
    let dists = refs
        .iter()
        .map(|r| match d {
            Some(d) => distort(r, d, r.index + 1),
            None => r.clone(),
        })
        .collect();
    (refs, dists)
}

/// Runs libvmaf on a clip with the given models (name, phone) and the features they need.
fn oracle(refs: &[Frame], dists: &[Frame], models: &[(&str, bool)]) -> (Libvmaf, Vec<usize>) {
    let mut v = Libvmaf::new(0);
    let ids = models.iter().map(|(m, p)| v.use_model(m, *p)).collect();
    for (r, d) in refs.iter().zip(dists) {
        v.push(r, d);
    }
    v.flush();
    (v, ids)
}

/// The benchmarks feed libvmaf packed 8-bit 4:2:0 bytes (`push_yuv420`); the same frames pushed
/// as `Frame`s give the same scores, at an odd size where FFmpeg's and libvmaf's chroma sizes
/// differ.
#[test]
fn oracle_scores_packed_bytes_like_frames() {
    let (w, h) = (177, 99);
    let (refs, dists) = clip(w, h, 8, 3, Some(MID));
    let bytes = |f: &Frame| -> Vec<u8> {
        f.planes
            .iter()
            .flat_map(|p| p.samples.iter().map(|v| v as u8))
            .collect()
    };
    let run = |packed: bool| {
        let mut v = Libvmaf::new(0);
        let m = v.use_model("vmaf_v0.6.1", false);
        v.use_feature("psnr", &[]);
        for (r, d) in refs.iter().zip(&dists) {
            if packed {
                v.push_yuv420(w, h, &bytes(r), &bytes(d));
            } else {
                v.push(r, d);
            }
        }
        v.flush();
        (v.scores(m), v.feature_mean("psnr_cb"))
    };
    let (frames, packed) = (run(false), run(true));
    assert_eq!(frames.0.len(), 3);
    assert!(frames.1.is_some());
    assert_eq!(packed, frames);
}

#[test]
fn vif_and_motion_match_libvmaf_bit_exactly() {
    let cases: &[(usize, usize, u8, u64, Option<Distortion>)] = &[
        (176, 144, 8, 3, Some(MID)),
        (721, 405, 8, 3, Some(LOW)),
        (320, 180, 10, 3, Some(HIGH)),
        (64, 48, 8, 2, None),
    ];
    for &(w, h, bd, n, d) in cases {
        let (refs, dists) = clip(w, h, bd, n, d);
        let (o, _) = oracle(&refs, &dists, &[("vmaf_v0.6.1", false)]);
        let mut sads = Vec::new();
        for (i, (r, dd)) in refs.iter().zip(&dists).enumerate() {
            let vr = vif::VifRef::new(r.luma(), bd);
            let s = vif::score(&vr, dd.luma(), vif::DEFAULT_ENHN_GAIN_LIMIT);
            for k in 0..4 {
                let want = o
                    .feature(
                        &format!("VMAF_integer_feature_vif_scale{k}_score"),
                        i as u32,
                    )
                    .unwrap();
                assert_eq!(s.scales[k], want, "{w}x{h} {bd}-bit frame {i} vif_scale{k}");
            }
            sads.push(if i == 0 {
                0.0
            } else {
                motion::sad_score(refs[i - 1].luma(), r.luma(), bd)
            });
        }
        for i in 0..refs.len() {
            let m2 = motion::motion2(i == 0, sads[i], sads.get(i + 1).copied());
            let want = o
                .feature("VMAF_integer_feature_motion2_score", i as u32)
                .unwrap();
            assert_eq!(m2, want, "{w}x{h} {bd}-bit frame {i} motion2");
        }
    }
}

/// The model fed with our VIF and motion and libvmaf's own ADM reproduces libvmaf's scores.
#[test]
fn model_with_oracle_adm_matches_libvmaf() {
    let models = [
        ("vmaf_v0.6.1", false),
        ("vmaf_v0.6.1", true),
        ("vmaf_v0.6.1neg", false),
        ("vmaf_4k_v0.6.1", false),
    ];
    let (refs, dists) = clip(320, 240, 8, 3, Some(MID));
    for (name, phone) in models {
        // One libvmaf context per model: libvmaf files scores under the model's name, so the
        // same model with and without the phone transform cannot share a context.
        let (o, ids) = oracle(&refs, &dists, &[(name, phone)]);
        let mi = 0;
        let m = Model::builtin(name).unwrap();
        let mut sads = Vec::new();
        for i in 0..refs.len() {
            sads.push(if i == 0 {
                0.0
            } else {
                motion::sad_score(refs[i - 1].luma(), refs[i].luma(), 8)
            });
        }
        for i in 0..refs.len() {
            let vr = vif::VifRef::new(refs[i].luma(), 8);
            let raw: Vec<f64> = m
                .features
                .iter()
                .map(|f| match f.kind {
                    pertitle::quality::vmaf::FeatureKind::Adm2 { enhn_gain_limit } => {
                        // libvmaf names the egl variant with a suffix; read it from the oracle.
                        let names: &[&str] = if enhn_gain_limit == 1.0 {
                            &[
                                "integer_adm2_egl_1",
                                "integer_adm2_egl_1.0",
                                "integer_adm2_egl_1.000000",
                            ]
                        } else {
                            &["VMAF_integer_feature_adm2_score"]
                        };
                        names
                            .iter()
                            .find_map(|n| o.feature(n, i as u32))
                            .unwrap_or_else(|| panic!("oracle {names:?}"))
                    }
                    pertitle::quality::vmaf::FeatureKind::Motion2 { .. } => {
                        motion::motion2(i == 0, sads[i], sads.get(i + 1).copied())
                    }
                    pertitle::quality::vmaf::FeatureKind::Vif {
                        scale,
                        enhn_gain_limit,
                    } => vif::score(&vr, dists[i].luma(), enhn_gain_limit).scales[scale],
                })
                .collect();
            let ours = m.predict(&raw, phone);
            let want = o.score(ids[mi], i as u32);
            assert!(
                (ours - want).abs() < 1e-6,
                "{name} phone={phone} frame {i}: ours {ours} libvmaf {want}"
            );
        }
        let _ = o.pooled(ids[mi], Pool::Mean);
    }
}

use pertitle::quality::{Engine, EngineConfig, Metrics, VideoScorer};
use std::sync::Arc;

/// Per-frame and pooled-mean |ΔVMAF| bounds of issue 3.
const FRAME_TOL: f64 = 0.05;
const MEAN_TOL: f64 = 0.01;

fn engine(model: &str, phone: bool) -> Engine {
    Engine::new(EngineConfig {
        model: model.into(),
        phone,
        metrics: Metrics::default(),
        threads: 2,
    })
    .unwrap()
}

/// Scores the clip with our engine (streaming scorer) and libvmaf for every model, asserts the
/// bounds, and prints the measured deltas.
fn compare_with_libvmaf(label: &str, refs: &[Frame], dists: &[Frame]) {
    let groups: [&[(&str, bool)]; 2] = [
        &[
            ("vmaf_v0.6.1", false),
            ("vmaf_v0.6.1neg", false),
            ("vmaf_4k_v0.6.1", false),
        ],
        &[("vmaf_v0.6.1", true)],
    ];
    for group in groups {
        let (o, ids) = oracle(refs, dists, group);
        for (k, &(model, phone)) in group.iter().enumerate() {
            let e = engine(model, phone);
            let mut s = VideoScorer::new(&e).with_batch(3);
            for (r, d) in refs.iter().zip(dists) {
                s.push(r.clone(), d.clone()).unwrap();
            }
            let ours = s.finish().unwrap();
            assert_eq!(ours.frames.len(), refs.len());
            let mut max_d = 0f64;
            for (i, f) in ours.frames.iter().enumerate() {
                assert_eq!(f.index, i as u64);
                let want = o.score(ids[k], i as u32);
                let got = f.vmaf.unwrap();
                let d = (got - want).abs();
                max_d = max_d.max(d);
                assert!(
                    d <= FRAME_TOL,
                    "{label} {model} phone={phone} frame {i}: ours {got} libvmaf {want}"
                );
            }
            let want_mean = o.pooled(ids[k], Pool::Mean);
            let mean_d = (ours.mean_vmaf().unwrap() - want_mean).abs();
            assert!(
                mean_d <= MEAN_TOL,
                "{label} {model} phone={phone}: mean {} libvmaf {want_mean}",
                ours.mean_vmaf().unwrap()
            );
            eprintln!(
                "DELTA {label} {model}{} mean={want_mean:.4} max_frame_delta={max_d:.3e} mean_delta={mean_d:.3e}",
                if phone { " phone" } else { "" }
            );
        }
    }
}

#[test]
fn vmaf_1080p_matches_libvmaf() {
    let (r, d) = clip(1920, 1080, 8, 3, Some(MID));
    compare_with_libvmaf("1920x1080 mid", &r, &d);
}

#[test]
fn vmaf_720p_three_qualities_match_libvmaf() {
    for (name, q) in [("high", HIGH), ("mid", MID), ("low", LOW)] {
        let (r, d) = clip(1280, 720, 8, 3, Some(q));
        compare_with_libvmaf(&format!("1280x720 {name}"), &r, &d);
    }
}

#[test]
fn vmaf_odd_and_small_sizes_match_libvmaf() {
    let (r, d) = clip(176, 144, 8, 6, Some(MID));
    compare_with_libvmaf("176x144 mid", &r, &d);
    let (r, d) = clip(721, 405, 8, 3, Some(LOW));
    compare_with_libvmaf("721x405 low", &r, &d);
}

#[test]
fn vmaf_10bit_and_identical_match_libvmaf() {
    let (r, d) = clip(640, 360, 10, 3, Some(MID));
    compare_with_libvmaf("640x360 10-bit mid", &r, &d);
    let (r, d) = clip(320, 240, 8, 3, None);
    compare_with_libvmaf("320x240 identical", &r, &d);
}

/// The ladder path: a reference prepared once and shared by several distorted streams gives the
/// same scores as the streaming scorer, including the first and last frames' motion rules.
#[test]
fn prepared_reference_shared_by_streams_matches_streaming_scorer() {
    let e = engine("vmaf_v0.6.1", false);
    let (refs, _) = clip(320, 180, 8, 4, None);
    let mut prep = e.ref_preparer();
    let mut prepared = Vec::new();
    for r in &refs {
        prepared.extend(prep.push(r.clone()).unwrap().map(Arc::new));
    }
    prepared.extend(prep.finish().map(Arc::new));
    assert_eq!(prepared.len(), refs.len());
    assert_eq!(prepared[0].motion2, 0.0);
    let last = prepared.last().unwrap();
    assert_eq!(last.motion2, last.motion);
    for q in [HIGH, MID, LOW] {
        let dists: Vec<Frame> = refs.iter().map(|r| distort(r, q, r.index + 7)).collect();
        let mut s = VideoScorer::new(&e).with_batch(2);
        for (r, d) in refs.iter().zip(&dists) {
            s.push(r.clone(), d.clone()).unwrap();
        }
        let streamed = s.finish().unwrap();
        let shared: Vec<_> = std::thread::scope(|sc| {
            let hs: Vec<_> = prepared
                .iter()
                .zip(&dists)
                .map(|(p, d)| {
                    let p = Arc::clone(p);
                    let e = &e;
                    sc.spawn(move || e.score(&p, d).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(shared, streamed.frames);
    }
}

#[test]
fn progress_can_cancel_and_mismatches_are_errors() {
    let e = engine("vmaf_v0.6.1", false);
    let (refs, dists) = clip(64, 48, 8, 4, Some(MID));
    let mut calls = 0;
    let mut s = VideoScorer::new(&e).with_batch(1).with_progress(|_| {
        calls += 1;
        false
    });
    let err = s.push(refs[0].clone(), dists[0].clone()).unwrap_err();
    assert!(matches!(err, pertitle::quality::Error::Cancelled), "{err}");
    drop(s);
    assert_eq!(calls, 1);

    let (small, _) = clip(48, 32, 8, 1, None);
    let p = e.ref_preparer().push(small[0].clone()).unwrap();
    assert!(p.is_none());
    let mut prep = e.ref_preparer();
    prep.push(refs[0].clone()).unwrap();
    let r = prep.finish().unwrap();
    let err = e.score(&r, &small[0]).unwrap_err().to_string();
    assert!(err.contains("48x32") && err.contains("64x48"), "{err}");
}

#[test]
fn bad_model_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notamodel.json");
    std::fs::write(&p, "{\"hello\": 1}").unwrap();
    let err = Engine::new(EngineConfig {
        model: p.display().to_string(),
        ..EngineConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("notamodel.json"), "{err}");
    let missing = dir.path().join("missing.json");
    let err = Engine::new(EngineConfig {
        model: missing.display().to_string(),
        ..EngineConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing.json"), "{err}");
    let err = Engine::new(EngineConfig {
        model: "vmaf_v7".into(),
        ..EngineConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("vmaf_v7") && err.contains("unknown model"),
        "{err}"
    );
}

/// A model loaded by path (a copy of the built-in JSON) scores like the built-in one.
#[test]
fn model_by_path_scores_like_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    std::fs::write(&p, pertitle::quality::vmaf::model::BUILTIN[1].1).unwrap();
    let (refs, dists) = clip(96, 64, 8, 2, Some(LOW));
    let a = engine("vmaf_v0.6.1neg", false);
    let b = engine(&p.display().to_string(), false);
    let run = |e: &Engine| {
        let mut s = VideoScorer::new(e);
        for (r, d) in refs.iter().zip(&dists) {
            s.push(r.clone(), d.clone()).unwrap();
        }
        s.finish().unwrap()
    };
    assert_eq!(run(&a).vmaf(), run(&b).vmaf());
}

/// Throughput figures against libvmaf (run with `--ignored --nocapture`; prints, asserts nothing
/// about time).
#[test]
#[ignore]
fn speed_report() {
    for (w, h) in [(1920usize, 1080usize), (1280, 720)] {
        speed_report_at(w, h);
    }
}

fn speed_report_at(w: usize, h: usize) {
    use std::time::Instant;
    let (refs, dists) = clip(w, h, 8, 6, Some(MID));
    for threads in [1u32, 2] {
        let t = Instant::now();
        let mut v = Libvmaf::new(if threads == 1 { 0 } else { threads });
        v.use_model("vmaf_v0.6.1", false);
        for (r, d) in refs.iter().zip(&dists) {
            v.push(r, d);
        }
        v.flush();
        let lib = refs.len() as f64 / t.elapsed().as_secs_f64();
        let e = Engine::new(EngineConfig {
            threads: threads as usize,
            ..EngineConfig::default()
        })
        .unwrap();
        let t = Instant::now();
        let mut s = VideoScorer::new(&e);
        for (r, d) in refs.iter().zip(&dists) {
            s.push(r.clone(), d.clone()).unwrap();
        }
        s.finish().unwrap();
        let ours = refs.len() as f64 / t.elapsed().as_secs_f64();
        // Ladder case: reference prepared once, 6 distorted streams.
        let mut prep = e.ref_preparer();
        let mut prepared = Vec::new();
        let t = Instant::now();
        for r in &refs {
            prepared.extend(prep.push(r.clone()).unwrap());
        }
        prepared.extend(prep.finish());
        let t_prep = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..6 {
            e.install(|| {
                use rayon::prelude::*;
                prepared.par_iter().zip(&dists).for_each(|(p, d)| {
                    e.score(p, d).unwrap();
                });
            });
        }
        let t_score = t.elapsed().as_secs_f64();
        let per_stream = 6.0 * refs.len() as f64 / (t_prep + t_score);
        eprintln!(
            "SPEED {w}x{h} threads={threads}: libvmaf {lib:.2} fps, pertitle {ours:.2} fps ({:.2}x); \
             prepared-ref 6 streams {per_stream:.2} fps/stream ({:.2}x); prep {:.3}s score {:.3}s",
            ours / lib,
            per_stream / lib,
            t_prep,
            t_score
        );
    }
}

#[test]
#[ignore]
fn speed_parts() {
    use pertitle::quality::vmaf::adm;
    use std::time::Instant;
    let (refs, dists) = clip(1920, 1080, 8, 3, Some(MID));
    let n = 3;
    let t = Instant::now();
    let vr: Vec<_> = refs.iter().map(|r| vif::VifRef::new(r.luma(), 8)).collect();
    let a = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for (v, d) in vr.iter().zip(&dists) {
        vif::score(v, d.luma(), 100.0);
    }
    let b = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    let ar: Vec<_> = refs.iter().map(|r| adm::AdmRef::new(r.luma(), 8)).collect();
    let c = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for (v, d) in ar.iter().zip(&dists) {
        adm::score(v, d.luma(), 8, &adm::AdmParams::default());
    }
    let d = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    motion::sad_score(refs[0].luma(), refs[1].luma(), 8);
    let m = t.elapsed().as_secs_f64();
    eprintln!(
        "PARTS ms/frame: vif ref {:.1} vif dist {:.1} adm ref {:.1} adm dist {:.1} motion {:.1}",
        a * 1e3,
        b * 1e3,
        c * 1e3,
        d * 1e3,
        m * 1e3
    );
}

/// PSNR and SSIM come through the engine as libvmaf's `psnr` and `float_ssim` report them.
#[test]
fn engine_psnr_and_ssim_match_libvmaf() {
    let (refs, dists) = clip(352, 288, 8, 3, Some(MID));
    let mut o = Libvmaf::new(0);
    o.use_feature("psnr", &[]);
    o.use_feature("float_ssim", &[]);
    let m = o.use_model("vmaf_v0.6.1", false);
    for (r, d) in refs.iter().zip(&dists) {
        o.push(r, d);
    }
    o.flush();
    let e = Engine::new(EngineConfig {
        metrics: Metrics {
            vmaf: true,
            psnr: true,
            ssim: true,
        },
        ..EngineConfig::default()
    })
    .unwrap();
    let mut s = VideoScorer::new(&e);
    for (r, d) in refs.iter().zip(&dists) {
        s.push(r.clone(), d.clone()).unwrap();
    }
    let ours = s.finish().unwrap();
    for (i, f) in ours.frames.iter().enumerate() {
        let i32_ = i as u32;
        for (name, got) in [
            ("psnr_y", f.psnr_y),
            ("psnr_cb", f.psnr_cb),
            ("psnr_cr", f.psnr_cr),
        ] {
            let want = o.feature(name, i32_).unwrap();
            assert!((got.unwrap() - want).abs() <= 0.001, "{name} frame {i}");
        }
        let want = o.feature("float_ssim", i32_).unwrap();
        assert!((f.ssim.unwrap() - want).abs() <= 1e-4, "ssim frame {i}");
        assert_eq!(f.vmaf.unwrap(), o.score(m, i32_));
    }
    let p = ours.pooled("vmaf").unwrap();
    assert!((p.mean - o.pooled(m, Pool::Mean)).abs() < 1e-9);
    assert!((p.harmonic_mean - o.pooled(m, Pool::HarmonicMean)).abs() < 1e-9);
}

#[test]
#[ignore]
fn speed_vif_only() {
    let (refs, dists) = clip(1920, 1080, 8, 2, Some(MID));
    let vr = vif::VifRef::new(refs[0].luma(), 8);
    for _ in 0..10 {
        vif::score(&vr, dists[0].luma(), 100.0);
    }
}

#[test]
#[ignore]
fn speed_pair_only() {
    let (refs, dists) = clip(1920, 1080, 8, 2, Some(MID));
    for _ in 0..10 {
        vif::score_pair(refs[0].luma(), dists[0].luma(), 8, 100.0);
    }
}

#[test]
#[ignore]
fn speed_stream_only() {
    let (refs, dists) = clip(1920, 1080, 8, 4, Some(MID));
    let e = Engine::new(EngineConfig {
        threads: 1,
        ..EngineConfig::default()
    })
    .unwrap();
    for _ in 0..3 {
        let mut s = VideoScorer::new(&e);
        for (r, d) in refs.iter().zip(&dists) {
            s.push(r.clone(), d.clone()).unwrap();
        }
        s.finish().unwrap();
    }
}

/// motion2's first-frame rule follows the stream position, not the frame's index field.
#[test]
fn first_frame_rule_does_not_depend_on_frame_numbers() {
    let e = engine("vmaf_v0.6.1", false);
    let (refs, dists) = clip(96, 64, 8, 3, Some(MID));
    let run = |offset: u64| {
        let mut s = VideoScorer::new(&e).with_batch(2);
        for (r, d) in refs.iter().zip(&dists) {
            let (mut r, mut d) = (r.clone(), d.clone());
            r.index += offset;
            d.index += offset;
            s.push(r, d).unwrap();
        }
        s.finish().unwrap()
    };
    let (a, b) = (run(0), run(10));
    assert_eq!(a.vmaf(), b.vmaf());
    assert_eq!(b.frames[0].features.as_ref().unwrap().motion2, 0.0);
    assert_eq!(b.frames[0].index, 10);
}

/// Encodes and decodes a clip with libx264 (in-process, the media layer) at one CRF.
fn x264_roundtrip(frames: &[Frame], crf: f64) -> Vec<Frame> {
    use pertitle::media::{Decoder, Encoder, EncoderConfig};
    let mut cfg = EncoderConfig::crf("libx264", frames[0].format, (24, 1), crf);
    cfg.preset = Some("veryfast".into());
    let mut enc = Encoder::new(&cfg).expect("libx264 encoder");
    let mut packets = Vec::new();
    for f in frames {
        packets.extend(enc.encode(f).expect("encode"));
    }
    packets.extend(enc.finish().expect("finish"));
    let mut dec = Decoder::new(&enc.stream_params()).expect("decoder");
    let mut out = Vec::new();
    for p in &packets {
        out.extend(dec.decode(p).expect("decode"));
    }
    out.extend(dec.flush().expect("flush"));
    assert_eq!(out.len(), frames.len());
    out
}

#[test]
fn vmaf_on_x264_encodes_matches_libvmaf() {
    let (refs, _) = clip(1280, 720, 8, 4, None);
    for (name, crf) in [("high", 18.0), ("mid", 30.0), ("low", 45.0)] {
        let dists = x264_roundtrip(&refs, crf);
        compare_with_libvmaf(&format!("1280x720 x264 crf{crf} ({name})"), &refs, &dists);
    }
    let (refs, _) = clip(1920, 1080, 8, 2, None);
    let dists = x264_roundtrip(&refs, 30.0);
    compare_with_libvmaf("1920x1080 x264 crf30", &refs, &dists);
    let (refs, _) = clip(640, 360, 10, 3, None);
    let dists = x264_roundtrip(&refs, 30.0);
    compare_with_libvmaf("640x360 10-bit x264 crf30", &refs, &dists);
}

/// The engine runs, per metric, the best kernel set at or below the level `PERTITLE_CPU` caps:
/// the oracle tests of this binary ran on exactly these sets.
#[test]
fn engine_reports_the_kernel_sets_it_runs() {
    use pertitle::cpu::CpuLevel;
    let e = Engine::new(EngineConfig::default()).unwrap();
    let l = e.kernel_levels();
    let cap = CpuLevel::get();
    eprintln!("kernel sets at {}: {l:?}", cap.name());
    let all = [l.vif, l.adm, l.motion, l.psnr, l.ssim];
    assert!(all.iter().all(|&m| m <= cap), "{l:?} above {cap:?}");
    // Every metric has an AVX2 set, ADM and SSIM an AVX-512 one, VIF an AVX-512+VNNI one.
    let floor = cap.min(CpuLevel::Avx2);
    assert!(all.iter().all(|&m| m >= floor), "{l:?} below {floor:?}");
    assert_eq!(l.adm, cap.min(CpuLevel::Avx512));
    assert_eq!(l.ssim, cap.min(CpuLevel::Avx512));
    let vif = if cap >= CpuLevel::Avx512Vnni {
        cap
    } else {
        cap.min(CpuLevel::Avx2)
    };
    assert_eq!(l.vif, vif);
}

/// A model trained here (vmaf_v0.6.1's six features, ν-SVR as VDK trains it) and written as
/// JSON loads in libvmaf and scores a clip as pertitle's engine scores it with the same file.
/// Training set: 120 feature vectors spread over the features' usual ranges (ADM2 0.5–1, motion2
/// 0–25, VIF 0–1 rising with scale), each scored by a smooth synthetic opinion (a weighted sum,
/// squashed into 10–95).
#[test]
fn trained_model_loads_in_libvmaf_and_scores_alike() {
    use crate::support::Rng;
    use pertitle::quality::svr::{NuSvrParams, Rbf};
    use pertitle::quality::vmaf::TrainedModel;

    let names: Vec<String> = [
        "VMAF_integer_feature_adm2_score",
        "VMAF_integer_feature_motion2_score",
        "VMAF_integer_feature_vif_scale0_score",
        "VMAF_integer_feature_vif_scale1_score",
        "VMAF_integer_feature_vif_scale2_score",
        "VMAF_integer_feature_vif_scale3_score",
    ]
    .map(String::from)
    .to_vec();
    let mut rng = Rng::xorshift64_star(Rng::spread(19));
    let (mut rows, mut scores) = (Vec::new(), Vec::new());
    for _ in 0..120 {
        let q = rng.unit();
        let jitter = |rng: &mut Rng, v: f64| (v + 0.1 * (rng.unit() - 0.5)).clamp(0.0, 1.0);
        let r = vec![
            0.5 + 0.5 * jitter(&mut rng, q),
            25.0 * rng.unit(),
            jitter(&mut rng, q * 0.8),
            jitter(&mut rng, q * 0.9),
            jitter(&mut rng, q * 0.95),
            jitter(&mut rng, q),
        ];
        let s = 0.5 * r[0] + 0.2 * r[2] + 0.1 * r[3] + 0.1 * r[5] - 0.004 * r[1];
        scores.push(10.0 + 85.0 / (1.0 + (-8.0 * (s - 0.55)).exp()));
        rows.push(r);
    }
    let params = NuSvrParams {
        nu: 0.9,
        c: 4.0,
        kernel: Rbf { gamma: 0.04 },
        ..NuSvrParams::default()
    };
    let m = TrainedModel::train(&names, &rows, &scores, &params, Some((0.0, 100.0))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trained.json");
    std::fs::write(&path, m.to_json()).unwrap();

    let (mut worst, mut inside) = (0f64, 0);
    for (k, d) in [LOW, MID, HIGH].into_iter().enumerate() {
        let (refs, dists) = clip(176, 144, 8, 4, Some(d));
        let mut o = Libvmaf::new(0);
        let id = o.use_model_path(&path, false);
        for (r, d) in refs.iter().zip(&dists) {
            o.push(r, d);
        }
        o.flush();
        let e = engine(&path.display().to_string(), false);
        let mut s = VideoScorer::new(&e);
        for (r, d) in refs.iter().zip(&dists) {
            s.push(r.clone(), d.clone()).unwrap();
        }
        let ours = s.finish().unwrap();
        for (i, f) in ours.frames.iter().enumerate() {
            let (got, want) = (f.vmaf.unwrap(), o.score(id, i as u32));
            worst = worst.max((got - want).abs());
            inside += usize::from(got > 0.0 && got < 100.0);
            assert!(
                (got - want).abs() < 1e-4,
                "distortion {k} frame {i}: pertitle {got}, libvmaf {want}"
            );
        }
    }
    // Clipped scores would agree trivially.
    assert!(inside >= 10, "only {inside} of 12 scores inside (0, 100)");
    eprintln!(
        "trained model: {} support vectors of 120; {inside} of 12 scores inside (0, 100); \
         max |pertitle − libvmaf| {worst:.2e}",
        m.svr.support.len()
    );
}
