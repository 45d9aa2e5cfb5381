//! Quality engine against the libvmaf oracle, on generated content: textures, gradients, flat
//! areas and moving shapes, distorted by blur, noise and quantisation at three strengths.

use crate::libvmaf::{self, Libvmaf, Pool};
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

/// Tiny deterministic generator (xorshift64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
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
        let mut r =
            Rng(((x / 3) as u64 * 73_856_093) ^ ((y / 3) as u64 * 19_349_663) ^ 0x5DEECE66D);
        for _ in 0..3 {
            r.next();
        }
        (r.next() % 1000) as f64 / 1000.0
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
            f.planes[0].data[y * w + x] = (v * max).round() as u16;
        }
    }
    for p in 1..f.planes.len() {
        let pl = &mut f.planes[p];
        let (pw, ph) = (pl.width, pl.height);
        for y in 0..ph {
            for x in 0..pw {
                let v = 0.3 + 0.4 * ((x + y * p) as f64 / (pw + ph * p) as f64);
                pl.data[y * pw + x] = (v * max) as u16;
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
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for (pi, p) in out.planes.iter_mut().enumerate() {
        let (w, h) = (p.width, p.height);
        let s = &src.planes[pi].data;
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
                    v += (rng.next() % (2 * a as u64 + 1)) as i64 - a;
                }
                let q = (d.quant as i64) * scale as i64;
                v = (v + q / 2) / q * q;
                p.data[y * w + x] = v.clamp(0, max) as u16;
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
    // Odd sizes in 4:4:4: libvmaf's odd-size 4:2:0 chroma is one sample narrower than FFmpeg's.
    let chroma = if w % 2 == 1 || h % 2 == 1 {
        Chroma::Yuv444
    } else {
        Chroma::Yuv420
    };
    let fmt = FrameFormat::new(w, h, chroma, bd);
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
            let m2 = motion::motion2(i as u64, sads[i], sads.get(i + 1).copied());
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
                        motion::motion2(i as u64, sads[i], sads.get(i + 1).copied())
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
