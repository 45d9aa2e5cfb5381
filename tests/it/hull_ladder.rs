//! Convex hull against a brute-force reference and the published example; ladder constraints,
//! spacing, interpolation, ladder.toml round trip, and the printed ffmpeg commands run for real.

use pertitle::hull::{self, mark_hull, upper_hull};
use pertitle::ladder::{self, read_points_json, Ladder};
use pertitle::points::SourceIdentity;
use pertitle::recipe::{Recipe, RungRateControl};
use pertitle::{Error, Metric, Point};

use crate::support::Rng;

/// The ladder as a run builds it: on the hull of the points it may use, for `source`.
fn build_ladder(
    points: &[Point],
    recipe: &Recipe,
    source: &SourceIdentity,
) -> pertitle::Result<Ladder> {
    let hull = ladder::hull_for(points, recipe)?;
    ladder::build(points, &hull, recipe, Some(source))
}

fn pt(w: u32, h: u32, crf: f64, kbps: f64, vmaf: f64) -> Point {
    Point {
        codec: "libx264".into(),
        width: w,
        height: h,
        crf,
        kbps,
        bytes: (kbps * 125.0 * 5.0) as u64,
        vmaf,
        psnr_y: 20.0 + vmaf * 0.25,
        ssim: 0.8 + vmaf * 0.002,
        pooled: Default::default(),
        on_hull: false,
        key: String::new(),
    }
}

/// Brute force, straight from the definition: a point is on the upper hull when nothing
/// dominates it and no segment between two other non-dominated points passes on or above it.
fn brute_hull(pts: &[Point]) -> Vec<usize> {
    let n = pts.len();
    let dominated = |i: usize| {
        (0..n).any(|j| {
            j != i
                && pts[j].kbps <= pts[i].kbps
                && pts[j].vmaf >= pts[i].vmaf
                && (pts[j].kbps < pts[i].kbps || pts[j].vmaf > pts[i].vmaf)
        })
    };
    let front: Vec<usize> = (0..n).filter(|&i| !dominated(i)).collect();
    let mut out: Vec<usize> = front
        .iter()
        .copied()
        .filter(|&p| {
            !front.iter().any(|&a| {
                front.iter().any(|&b| {
                    a != p && b != p && pts[a].kbps < pts[p].kbps && pts[p].kbps < pts[b].kbps && {
                        let t = (pts[p].kbps - pts[a].kbps) / (pts[b].kbps - pts[a].kbps);
                        pts[a].vmaf + t * (pts[b].vmaf - pts[a].vmaf) >= pts[p].vmaf
                    }
                })
            })
        })
        .collect();
    out.sort_by(|&a, &b| pts[a].kbps.total_cmp(&pts[b].kbps));
    out
}

#[test]
fn published_example() {
    let mut pts = Vec::new();
    for (h, list) in [
        (
            1080,
            vec![(300.0, 40.0), (600.0, 55.0), (1200.0, 66.0), (2400.0, 72.0)],
        ),
        (
            720,
            vec![(250.0, 45.0), (500.0, 60.0), (1000.0, 70.0), (2000.0, 76.0)],
        ),
        (
            540,
            vec![
                (200.0, 48.0),
                (400.0, 62.0),
                (800.0, 69.0),
                (1600.0, 73.0),
                (3000.0, 71.0),
            ],
        ),
    ] {
        for (i, (k, q)) in list.into_iter().enumerate() {
            pts.push(pt(h * 16 / 9, h, 20.0 + 4.0 * i as f64, k, q));
        }
    }
    let got: Vec<(f64, f64)> = upper_hull(&pts, Metric::Vmaf)
        .into_iter()
        .map(|i| (pts[i].kbps, pts[i].vmaf))
        .collect();
    assert_eq!(
        got,
        vec![(200.0, 48.0), (400.0, 62.0), (800.0, 69.0), (2000.0, 76.0)]
    );
    assert_eq!(hull::hull_curve(&pts, Metric::Vmaf), got);
    mark_hull(&mut pts, Metric::Vmaf);
    assert_eq!(pts.iter().filter(|p| p.on_hull).count(), 4);
    assert!(pts
        .iter()
        .any(|p| p.on_hull && p.height == 720 && p.kbps == 2000.0));
}

#[test]
fn hull_matches_brute_force_on_random_sets() {
    let mut rng = Rng::xorshift64_star(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let n = 1 + (rng.unit() * 40.0) as usize;
        let pts: Vec<Point> = (0..n)
            .map(|i| {
                let kbps = 100.0 + rng.unit() * 5000.0;
                // Roughly log-shaped quality plus noise, so both hull and off-hull points occur.
                let vmaf = 20.0 * (kbps / 100.0).ln() + rng.unit() * 25.0;
                pt(1280, 720, i as f64, kbps, vmaf)
            })
            .collect();
        let got = upper_hull(&pts, Metric::Vmaf);
        assert_eq!(got, brute_hull(&pts), "round {round}");
        // Sorted by kbps, strictly increasing quality.
        assert!(got
            .windows(2)
            .all(|w| pts[w[0]].kbps < pts[w[1]].kbps && pts[w[0]].vmaf < pts[w[1]].vmaf));
        // Every point lies on or below the hull (or beyond its right end, dominated).
        let h: Vec<(f64, f64)> = got.iter().map(|&i| (pts[i].kbps, pts[i].vmaf)).collect();
        for p in &pts {
            match hull::quality_at(&h, p.kbps) {
                Some(q) => assert!(p.vmaf <= q + 1e-9, "round {round}: point above hull"),
                None => assert!(p.vmaf <= h.last().unwrap().1),
            }
        }
        // Order independence: a reversal and a rotation give the same hull points.
        let key = |pts: &[Point], idx: Vec<usize>| -> Vec<(u64, u64)> {
            idx.into_iter()
                .map(|i| (pts[i].kbps.to_bits(), pts[i].vmaf.to_bits()))
                .collect()
        };
        let want = key(&pts, got);
        let mut rev = pts.clone();
        rev.reverse();
        assert_eq!(key(&rev, upper_hull(&rev, Metric::Vmaf)), want);
        let mut rot = pts.clone();
        rot.rotate_left(n / 2);
        assert_eq!(key(&rot, upper_hull(&rot, Metric::Vmaf)), want);
    }
}

#[test]
fn ties_are_order_independent() {
    // Quantized values make exact ties in kbps and quality; the kept points must not depend on
    // the input order.
    let mut rng = Rng::xorshift64_star(42);
    for _ in 0..200 {
        let n = 2 + (rng.unit() * 20.0) as usize;
        let sizes = [(640, 360), (960, 540), (1280, 720)];
        let pts: Vec<Point> = (0..n)
            .map(|i| {
                let kbps = 100.0 * (1.0 + (rng.unit() * 8.0).floor());
                let vmaf = 10.0 * (1.0 + (rng.unit() * 8.0).floor());
                let (w, h) = sizes[(rng.unit() * 3.0) as usize];
                pt(w, h, i as f64, kbps, vmaf)
            })
            .collect();
        let key = |pts: &[Point]| -> Vec<(u32, f64)> {
            upper_hull(pts, Metric::Vmaf)
                .into_iter()
                .map(|i| (pts[i].height, pts[i].crf))
                .collect()
        };
        let want = key(&pts);
        let mut rev = pts.clone();
        rev.reverse();
        assert_eq!(key(&rev), want);
        // Among equal (kbps, quality) the smaller size wins.
        for &(h, crf) in &want {
            let p = pts.iter().find(|p| p.height == h && p.crf == crf).unwrap();
            assert!(!pts
                .iter()
                .any(|o| o.kbps == p.kbps && o.vmaf == p.vmaf && o.height < p.height));
        }
    }
}

#[test]
fn hull_metric_is_selectable() {
    // A point that wins on PSNR but not on VMAF.
    let mut a = pt(1280, 720, 20.0, 1000.0, 80.0);
    let mut b = pt(960, 540, 24.0, 1000.0, 78.0);
    a.psnr_y = 38.0;
    b.psnr_y = 39.0;
    let pts = vec![a, b];
    assert_eq!(upper_hull(&pts, Metric::Vmaf), vec![0]);
    assert_eq!(upper_hull(&pts, Metric::PsnrY), vec![1]);
    let mut pts2 = pts.clone();
    mark_hull(&mut pts2, Metric::PsnrY);
    assert!(!pts2[0].on_hull && pts2[1].on_hull);
}

/// A realistic synthetic grid: five sizes × seven CRFs; each size saturates at its own
/// quality, so the curves cross as they do for real content. Bitrate halves every +6 CRF.
fn synthetic_grid() -> Vec<Point> {
    let sizes = [
        (1920, 1080, 12000.0, 99.0, 2200.0),
        (1280, 720, 6000.0, 95.0, 1000.0),
        (960, 540, 3500.0, 89.0, 550.0),
        (640, 360, 1600.0, 79.0, 260.0),
        (480, 270, 900.0, 70.0, 150.0),
    ];
    let mut pts = Vec::new();
    for (w, h, base, vmax, s) in sizes {
        for i in 0..7 {
            let crf = 18.0 + 4.0 * i as f64;
            let kbps: f64 = base * 2f64.powf(-(crf - 18.0) / 6.0);
            let vmaf = vmax * (1.0 - (-(kbps / s).powf(0.8)).exp());
            pts.push(pt(w, h, crf, kbps, vmaf));
        }
    }
    pts
}

fn source(path: &str) -> SourceIdentity {
    SourceIdentity {
        path: path.to_string(),
        width: 1920,
        height: 1080,
        fps_num: 24,
        fps_den: 1,
        frames: 240,
        fingerprint: "sha256:0123abcd".into(),
    }
}

fn x264() -> Recipe {
    Recipe::default_for("libx264").unwrap()
}

fn ratios(l: &Ladder) -> Vec<f64> {
    l.rungs
        .windows(2)
        .map(|w| w[1].kbps as f64 / w[0].kbps as f64)
        .collect()
}

fn steps(l: &Ladder) -> Vec<f64> {
    l.rungs.windows(2).map(|w| w[1].vmaf - w[0].vmaf).collect()
}

fn assert_monotone(l: &Ladder) {
    assert!(!l.rungs.is_empty());
    for w in l.rungs.windows(2) {
        assert!(w[1].kbps > w[0].kbps, "bitrate increases");
        assert!(w[1].vmaf > w[0].vmaf, "quality increases");
        assert!(
            w[1].width as u64 * w[1].height as u64 >= w[0].width as u64 * w[0].height as u64,
            "resolution never decreases: {}x{} then {}x{}",
            w[0].width,
            w[0].height,
            w[1].width,
            w[1].height
        );
    }
}

#[test]
fn default_ladder_reaches_cap_and_keeps_hls_ratios() {
    let pts = synthetic_grid();
    let l = build_ladder(&pts, &x264(), &source("in.mp4")).unwrap();
    assert_monotone(&l);
    let top = l.rungs.last().unwrap();
    // The top is where the hull reaches VMAF 95; the rung's own-resolution prediction is at
    // most a little below that.
    assert!(top.vmaf > 93.0 && top.vmaf < 95.5, "top {}", top.vmaf);
    for r in ratios(&l) {
        assert!((1.5 * 0.99..=2.0 * 1.01).contains(&r), "ratio {r}");
    }
    for s in steps(&l) {
        assert!(s > 0.0);
    }
    // Every step outside the JND tolerance is explained by a warning.
    let odd = steps(&l)
        .iter()
        .filter(|&&s| !(3.0..=9.0).contains(&s))
        .count();
    assert!(
        odd == 0 || l.warnings.iter().any(|w| w.contains("ratio")),
        "{:?}",
        l.warnings
    );
    // maxrate/bufsize 2× target, keyint 2 s at 24 fps.
    for r in &l.rungs {
        assert_eq!(r.maxrate_kbps, 2 * r.kbps);
        assert_eq!(r.bufsize_kbits, 2 * r.kbps);
        assert_eq!(r.keyint_frames, Some(48));
        assert_eq!(r.rate_control, RungRateControl::TwoPassVbr);
        assert_eq!(r.ffmpeg.len(), 2, "two passes");
        assert!(r.ffmpeg[0].contains("-pass 1") && r.ffmpeg[1].contains("-pass 2"));
        assert!(r.ffmpeg[1].contains(&format!("-b:v {}k", r.kbps)));
        assert!(r.ffmpeg[1].contains("-g 48 -keyint_min 48 -sc_threshold 0"));
    }
}

#[test]
fn spacing_is_one_jnd_when_ratios_allow() {
    let pts = synthetic_grid();
    let mut r = x264();
    r.ladder.min_ratio = 1.05;
    r.ladder.max_ratio = 4.0;
    r.ladder.max_rungs = 20;
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_monotone(&l);
    let s = steps(&l);
    assert!(l.rungs.len() >= 6, "{} rungs", l.rungs.len());
    for (i, d) in s.iter().enumerate() {
        assert!((3.0..=9.0).contains(d), "step {i} = {d}: {:?}", s);
    }
    // All but the bottom step are one JND on the hull; the prediction may sit slightly under it.
    for d in &s[1..] {
        assert!((d - 6.0).abs() < 1.5, "{:?}", s);
    }
}

#[test]
fn constraints_are_honoured() {
    let pts = synthetic_grid();
    let mut r = x264();
    r.ladder.min_kbps = Some(400.0);
    r.ladder.max_kbps = Some(4000.0);
    r.ladder.min_height = Some(360);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_monotone(&l);
    for rung in &l.rungs {
        assert!(rung.kbps >= 400 && rung.kbps <= 4000, "{}", rung.kbps);
        assert!(rung.height >= 360);
    }
    assert_eq!(l.rungs.last().unwrap().kbps, 4000, "max_kbps caps the top");

    // max_rungs: kept from the top, with a warning that the bottom was not reached.
    let mut r = x264();
    r.ladder.max_rungs = 3;
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_eq!(l.rungs.len(), 3);
    assert!(
        l.warnings.iter().any(|w| w.contains("max_rungs 3")),
        "{:?}",
        l.warnings
    );

    // min_quality: no rung below it.
    let mut r = x264();
    r.ladder.min_quality = Some(60.0);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert!(l.rungs.iter().all(|x| x.vmaf >= 59.0), "{:?}", steps(&l));

    // A lower cap lowers the top.
    let mut r = x264();
    r.ladder.quality_cap = Some(85.0);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    let top = l.rungs.last().unwrap().vmaf;
    assert!(top < 86.0 && top > 83.0, "{top}");
}

#[test]
fn conflicting_constraints_warn_instead_of_failing() {
    let pts = synthetic_grid();
    let mut r = x264();
    r.ladder.max_kbps = Some(50.0);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_eq!(l.rungs.len(), 1);
    assert!(
        l.warnings.iter().any(|w| w.contains("max_kbps 50")),
        "{:?}",
        l.warnings
    );

    let mut r = x264();
    r.ladder.min_kbps = Some(3000.0);
    r.ladder.max_kbps = Some(3500.0);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_eq!(l.rungs.len(), 1, "3500/3000 < min ratio: one rung");
    assert_eq!(l.rungs[0].kbps, 3500);

    // Cap not reached: top at the best point, said so.
    let mut r = x264();
    r.ladder.quality_cap = Some(99.9);
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert!(l.warnings.iter().any(|w| w.contains("not reached")));

    // No points of the recipe's codec / none tall enough: clear errors.
    let mut r = x264();
    r.encoder.codec = "libx265".into();
    r.grid.crf = vec![28.0];
    match build_ladder(&pts, &r, &source("in.mp4")) {
        Err(Error::Data { message, .. }) => assert!(message.contains("libx265")),
        other => panic!("{other:?}"),
    }
    let mut r = x264();
    r.ladder.min_height = Some(2160);
    match build_ladder(&pts, &r, &source("in.mp4")) {
        Err(Error::Data { message, .. }) => assert!(message.contains("2160")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn interpolation_between_grid_points() {
    // One size, hand-checkable: hull (500,50) (1000,62) (2000,70) (4000,75).
    let pts = vec![
        pt(1280, 720, 36.0, 500.0, 50.0),
        pt(1280, 720, 30.0, 1000.0, 62.0),
        pt(1280, 720, 24.0, 2000.0, 70.0),
        pt(1280, 720, 18.0, 4000.0, 75.0),
    ];
    let mut r = x264();
    r.ladder.min_ratio = 1.01;
    r.ladder.max_ratio = 10.0;
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    let got: Vec<(u32, f64, f64)> = l.rungs.iter().map(|x| (x.kbps, x.vmaf, x.crf)).collect();
    // Top: cap 95 not reached → 4000. Then VMAF 69 on the 1000–2000 segment: 1000 + 7/8·1000;
    // CRF linear in ln(kbps): 30 − 6·log2(1.875) = 24.56. Then 63 → 1125 kbps (CRF 28.98),
    // 57 → 791.67 (CRF 32.02), 51 → 541.67 (CRF 35.31); the bottom (500, 50) is less than half a
    // step below that, so it replaces it: the ladder reaches the hull's cheapest point.
    let want = [
        (500, 50.0, 36.0),
        (792, 57.0, 32.0),
        (1125, 63.0, 29.0),
        (1875, 69.0, 24.6),
        (4000, 75.0, 18.0),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{got:?}");
        assert!((g.1 - w.1).abs() < 1e-3, "{got:?}");
        assert!((g.2 - w.2).abs() < 1e-9, "{got:?}");
    }
    assert!(l.rungs[4].grid_point && !l.rungs[3].grid_point);
    // The other metrics interpolate linearly in kbps too.
    let psnr = l.rungs[3].psnr_y;
    assert!((psnr - (20.0 + 69.0 * 0.25)).abs() < 1e-3, "{psnr}");
}

#[test]
fn resolution_taken_from_the_better_own_curve() {
    // Hull: 540p (400,60) → 720p (1600,80); the other two points are below it. One step of 12.5
    // from the top lands at VMAF 67.5 on the hull line, 850 kbps. There the 720p curve
    // (600,58)-(1600,80) gives 63.5; the 540p curve (400,60)-(1000,x) gives 60 + (x−60)·0.75.
    for (x, want_h, want_q) in [(64.0, 720, 63.5), (66.0, 540, 64.5)] {
        let pts = vec![
            pt(960, 540, 30.0, 400.0, 60.0),
            pt(960, 540, 24.0, 1000.0, x),
            pt(1280, 720, 32.0, 600.0, 58.0),
            pt(1280, 720, 24.0, 1600.0, 80.0),
        ];
        let mut r = x264();
        r.ladder.step = Some(12.5);
        r.ladder.min_ratio = 1.01;
        r.ladder.max_ratio = 10.0;
        let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
        let got: Vec<(u32, u32, f64)> =
            l.rungs.iter().map(|x| (x.kbps, x.height, x.vmaf)).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            (got[0].0, got[0].1),
            (400, 540),
            "bottom: the cheapest hull point"
        );
        assert_eq!((got[1].0, got[1].1), (850, want_h), "{got:?}");
        assert!((got[1].2 - want_q).abs() < 1e-3, "{got:?}");
        assert_eq!((got[2].0, got[2].1), (1600, 720));
        assert_monotone(&l);
    }
}

#[test]
fn ladder_toml_round_trip_and_determinism() {
    let pts = synthetic_grid();
    let src = source("/media/My Title's clip.mp4");
    let l = build_ladder(&pts, &x264(), &src).unwrap();
    let text = l.to_toml().unwrap();
    assert_eq!(Ladder::from_toml(&text).unwrap(), l);
    let again = build_ladder(&pts, &x264(), &src)
        .unwrap()
        .to_toml()
        .unwrap();
    assert_eq!(again, text, "byte-identical");
    // Shuffled input gives the same ladder.
    let mut rev = pts.clone();
    rev.reverse();
    assert_eq!(
        build_ladder(&rev, &x264(), &src)
            .unwrap()
            .to_toml()
            .unwrap(),
        text
    );
    for needle in [
        "pertitle_version",
        "fingerprint = \"sha256:0123abcd\"",
        "model = \"vmaf_v0.6.1\"",
        "[[rungs]]",
        "maxrate_kbps",
        "keyint_frames = 48",
        "'/media/My Title'\\''s clip.mp4'",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    // Capped CRF: one pass with -crf and a VBV cap.
    let mut r = x264();
    r.ladder.rate_control = RungRateControl::CappedCrf;
    let l = build_ladder(&pts, &r, &src).unwrap();
    for rung in &l.rungs {
        assert_eq!(rung.ffmpeg.len(), 1);
        assert!(rung.ffmpeg[0].contains("-crf ") && rung.ffmpeg[0].contains("-maxrate"));
    }
    assert_eq!(Ladder::from_toml(&l.to_toml().unwrap()).unwrap(), l);
    // Bad ladder.toml: a data error naming the file, one line.
    match Ladder::from_toml("[[rungs]]\nwidth = \"wide\"\n") {
        Err(e @ Error::Data { .. }) => {
            let m = e.to_string();
            assert!(m.starts_with("ladder.toml") && !m.contains('\n'), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_codecs_get_their_own_command_lines() {
    let mut pts = synthetic_grid();
    for (codec, needle) in [
        ("libx265", "x265-params"),
        ("libvpx-vp9", "-passlogfile"),
        ("libsvtav1", "-b:v"),
    ] {
        for p in pts.iter_mut() {
            p.codec = codec.into();
            p.crf = p.crf.round() + 5.0;
        }
        let r = Recipe::default_for(codec).unwrap();
        let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
        for rung in &l.rungs {
            assert!(rung
                .ffmpeg
                .iter()
                .all(|c| c.contains(&format!("-c:v {codec}"))));
            assert!(
                rung.ffmpeg.last().unwrap().contains(needle),
                "{:?}",
                rung.ffmpeg
            );
            if codec == "libx265" {
                assert!(rung.ffmpeg[1].contains("pass=2") && rung.ffmpeg[1].contains("scenecut=0"));
                assert!(rung.ffmpeg.iter().all(|c| c.contains("pools=none")));
            }
            if codec != "libx265" && codec != "libx264" {
                assert_eq!(rung.crf.fract(), 0.0, "integer CRF for {codec}");
            }
        }
    }
}

#[test]
fn points_json_layouts_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pts = synthetic_grid();
    let bare = dir.path().join("bare.json");
    let json = serde_json::to_string(&pts).unwrap();
    std::fs::write(&bare, &json).unwrap();
    // Compared with serde_json's own reading (it may round the last bit of an f64).
    let pts: Vec<Point> = serde_json::from_str(&json).unwrap();
    assert_eq!(read_points_json(&bare).unwrap().points, pts);
    let obj = dir.path().join("obj.json");
    let src = source("a.mp4");
    std::fs::write(
        &obj,
        serde_json::to_string(&serde_json::json!({ "source": src, "points": pts })).unwrap(),
    )
    .unwrap();
    let f = read_points_json(&obj).unwrap();
    assert_eq!(f.points, pts);
    assert_eq!(f.source, Some(src));

    let missing = dir.path().join("nope.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"points\": [{\"codec\": 1}]}").unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "[]").unwrap();
    let text = dir.path().join("text.json");
    std::fs::write(&text, "hello").unwrap();
    for p in [missing, bad, empty, text] {
        match read_points_json(&p) {
            Err(e @ Error::Data { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains(&p.display().to_string()) && !m.contains('\n'),
                    "{m}"
                );
            }
            other => panic!("{}: {other:?}", p.display()),
        }
    }
    // The sample file shipped with the example loads and gives a ladder.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/points.json");
    let f = read_points_json(&sample).unwrap();
    let l = build_ladder(&f.points, &x264(), &f.source.unwrap_or(source("sample"))).unwrap();
    assert_monotone(&l);
}

/// Runs the printed 2-pass commands of a rung on a generated clip and checks the stream's
/// bitrate lands within 10% of the target.
#[test]
fn printed_ffmpeg_commands_hit_the_target_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("source clip.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc2=size=320x180:rate=24:duration=6")
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-crf", "10"])
        .arg(&clip)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
    // Grid points at 320x180 and 256x144 around a few hundred kbps.
    let mut pts = Vec::new();
    for (w, h, base, vmax) in [(320, 180, 900.0, 97.0), (256, 144, 600.0, 90.0)] {
        for i in 0..5 {
            let crf = 20.0 + 5.0 * i as f64;
            let kbps: f64 = base * 2f64.powf(-(crf - 20.0) / 6.0);
            pts.push(pt(w, h, crf, kbps, vmax * (1.0 - (-kbps / 150.0).exp())));
        }
    }
    let mut src = source(clip.to_str().unwrap());
    src.width = 320;
    src.height = 180;
    let mut r = x264();
    r.encoder.preset = Some("veryfast".into());
    let l = build_ladder(&pts, &r, &src).unwrap();
    // The top rung and the bottom rung (different sizes and bitrates).
    assert!(l.rungs.len() >= 2, "{:?}", l.rungs);
    for rung in [l.rungs.last().unwrap(), &l.rungs[0]] {
        for cmd in &rung.ffmpeg {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{cmd} -loglevel error"))
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = dir.path().join(&rung.output);
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args(["-show_entries", "packet=size,flags", "-of", "csv=p=0"])
            .arg(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&probe.stdout);
        let packets: Vec<(u64, bool)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                let size = f.next()?.trim().parse().ok()?;
                Some((size, f.next().unwrap_or("").contains('K')))
            })
            .collect();
        assert_eq!(packets.len(), 144, "every frame encoded");
        // IDR every keyint_frames (2 s at 24 fps), no scene-cut keyframes in between.
        let keys: Vec<usize> = (0..packets.len()).filter(|&i| packets[i].1).collect();
        assert_eq!(keys, vec![0, 48, 96], "keyframes of {}", rung.output);
        let kbps = packets.iter().map(|p| p.0).sum::<u64>() as f64 * 8.0 / 6.0 / 1000.0;
        let err = (kbps / rung.kbps as f64 - 1.0).abs();
        eprintln!(
            "rung {}x{} target {} kbps, produced {kbps:.1} kbps ({:.1}% off)",
            rung.width,
            rung.height,
            rung.kbps,
            err * 100.0
        );
        assert!(err <= 0.10, "target {} kbps, got {kbps:.1}", rung.kbps);
    }
}

#[test]
fn ladder_on_psnr_uses_its_own_step_and_cap() {
    let pts = synthetic_grid();
    let mut r = x264();
    r.apply(&pertitle::recipe::RecipeOverrides {
        metric: Some(Metric::PsnrY),
        min_ratio: Some(1.05),
        max_ratio: Some(4.0),
        max_rungs: Some(20),
        ..Default::default()
    })
    .unwrap();
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert_eq!(l.metric, Metric::PsnrY);
    assert_eq!(l.step, 1.5);
    assert!(l.rungs.len() >= 4);
    let d: Vec<f64> = l
        .rungs
        .windows(2)
        .map(|w| w[1].psnr_y - w[0].psnr_y)
        .collect();
    for x in &d[1..] {
        assert!((x - 1.5).abs() < 0.5, "{d:?}");
    }
    // The top reaches the 45 dB cap or the best the hull has.
    let best = pts.iter().map(|p| p.psnr_y).fold(f64::MIN, f64::max);
    assert!(l.rungs.last().unwrap().psnr_y >= best.min(45.0) - 0.5);
}

#[test]
fn single_point_gives_single_rung() {
    let pts = vec![pt(1280, 720, 23.0, 2500.0, 88.0)];
    let l = build_ladder(&pts, &x264(), &source("in.mp4")).unwrap();
    assert_eq!(l.rungs.len(), 1);
    let r = &l.rungs[0];
    assert_eq!((r.width, r.height, r.kbps, r.crf), (1280, 720, 2500, 23.0));
    assert!(r.grid_point);
    assert!(l.warnings.iter().any(|w| w.contains("not reached")));
}

/// A hull so steep at the bottom that 1.5x less bitrate costs more than 9 VMAF: the ladder
/// still reaches its floor (60 kbps here, the hull's cheapest point), with its bitrate ratios kept
/// and every step larger than 1.5 JND flagged in the warnings, not dropped.
#[test]
fn steep_bottom_reaches_the_floor_with_flagged_steps() {
    let pts = vec![
        pt(640, 360, 40.0, 60.0, 30.0),
        pt(640, 360, 34.0, 90.0, 62.0),
        pt(1280, 720, 28.0, 400.0, 82.0),
        pt(1280, 720, 20.0, 1600.0, 95.0),
    ];
    let mut r = x264();
    r.ladder.min_kbps = Some(60.0);
    let l = build_ladder(&pts, &r, &source("steep.mp4")).unwrap();
    assert_eq!(l.rungs[0].kbps, 60, "the bottom is the floor");
    let outside = ratios(&l)
        .iter()
        .filter(|&&r| !(1.5 * 0.99..=2.0 * 1.01).contains(&r))
        .count();
    assert!(outside <= 1, "ratios {:?}", ratios(&l));
    assert_eq!(
        l.warnings
            .iter()
            .filter(|w| w.contains("x apart, outside"))
            .count(),
        outside,
        "{:?}",
        l.warnings
    );
    let big: Vec<f64> = steps(&l).into_iter().filter(|&d| d > 9.0).collect();
    assert!(
        !big.is_empty(),
        "this hull needs a big step: {:?}",
        steps(&l)
    );
    assert!(
        l.warnings
            .iter()
            .filter(|w| w.contains("vmaf apart (step 6)"))
            .count()
            >= big.len(),
        "{:?}",
        l.warnings
    );
}

/// The floor: the lowest rung sits at `min_kbps` (default 200 kbps) wherever the hull reaches
/// that low, and at the hull's cheapest point where it does not; no rung is below it.
#[test]
fn the_ladder_reaches_its_floor() {
    let pts = synthetic_grid();
    let lowest = pts.iter().map(|p| p.kbps).fold(f64::INFINITY, f64::min);
    assert!(lowest < 200.0);
    let l = build_ladder(&pts, &x264(), &source("in.mp4")).unwrap();
    assert_eq!(l.rungs[0].kbps, 200, "{:?}", l.warnings);
    for floor in [120.0, 300.0, 450.0] {
        let mut r = x264();
        r.ladder.min_kbps = Some(floor);
        let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
        assert_eq!(l.rungs[0].kbps as f64, floor, "floor {floor}");
        assert_monotone(&l);
    }
    // A hull entirely below the default floor (a small title): the ladder ends at its
    // cheapest point, without a warning about a floor nobody asked for.
    let low: Vec<Point> = pts
        .iter()
        .filter(|p| p.kbps < 190.0)
        .map(|p| pt(p.width, p.height, p.crf, p.kbps, p.vmaf))
        .collect();
    let cheapest = low.iter().map(|p| p.kbps).fold(f64::INFINITY, f64::min);
    let l = build_ladder(&low, &x264(), &source("in.mp4")).unwrap();
    assert_eq!(l.rungs[0].kbps, cheapest.round() as u32, "{:?}", l.warnings);
    assert!(
        !l.warnings.iter().any(|w| w.contains("the bottom")),
        "{:?}",
        l.warnings
    );
    // A hull whose cheapest point is above the floor: the bottom rung is that point.
    let high: Vec<Point> = pts.iter().filter(|p| p.kbps > 500.0).cloned().collect();
    let cheapest = high.iter().map(|p| p.kbps).fold(f64::INFINITY, f64::min);
    let l = build_ladder(&high, &x264(), &source("in.mp4")).unwrap();
    assert_eq!(l.rungs[0].kbps, cheapest.round() as u32);
}

/// A larger quality step never gives more rungs (it used to, when a small step's ladder ended
/// early at a steep bottom).
#[test]
fn a_larger_step_never_gives_more_rungs() {
    for pts in [
        synthetic_grid(),
        vec![
            pt(640, 360, 40.0, 60.0, 30.0),
            pt(640, 360, 34.0, 90.0, 62.0),
            pt(1280, 720, 28.0, 400.0, 82.0),
            pt(1280, 720, 20.0, 1600.0, 95.0),
        ],
    ] {
        let mut last = usize::MAX;
        for step in [2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0] {
            let mut r = x264();
            r.ladder.step = Some(step);
            r.ladder.max_rungs = 50;
            let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
            assert!(
                l.rungs.len() <= last,
                "step {step}: {} rungs after {last}",
                l.rungs.len()
            );
            last = l.rungs.len();
        }
    }
}

/// `required_heights`: each listed height gets a rung (moved or added, with a warning); a
/// height the grid does not have is explained, not silently ignored.
#[test]
fn required_heights_each_get_a_rung() {
    let pts = synthetic_grid();
    let plain = build_ladder(&pts, &x264(), &source("in.mp4")).unwrap();
    let heights = |l: &Ladder| l.rungs.iter().map(|r| r.height).collect::<Vec<_>>();
    for req in [vec![360], vec![540], vec![270, 360, 540, 720]] {
        let mut r = x264();
        r.ladder.required_heights = req.clone();
        let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
        for h in &req {
            assert!(
                heights(&l).contains(h),
                "{h} missing in {:?} (without: {:?})",
                heights(&l),
                heights(&plain)
            );
            if !heights(&plain).contains(h) {
                assert!(
                    l.warnings
                        .iter()
                        .any(|w| w.contains(&format!("required height {h}"))),
                    "{:?}",
                    l.warnings
                );
            }
        }
        for w in l.rungs.windows(2) {
            assert!(w[1].kbps > w[0].kbps);
            assert!(w[1].height >= w[0].height, "{:?}", heights(&l));
        }
    }
    let mut r = x264();
    r.ladder.required_heights = vec![480];
    let l = build_ladder(&pts, &r, &source("in.mp4")).unwrap();
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("required height 480: no grid size")),
        "{:?}",
        l.warnings
    );
}

/// With `ladder.min_height`, the hull the run marks (`on_hull`), the one the summary and report
/// list, and the one the ladder is placed on are the same: that of the points at least that
/// high. Here the 180p points would be on the hull of all points.
#[test]
fn min_height_hull_is_the_one_the_ladder_uses() {
    let mut pts = vec![
        pt(320, 180, 30.0, 150.0, 60.0),
        pt(320, 180, 24.0, 300.0, 70.0),
        pt(640, 360, 30.0, 400.0, 72.0),
        pt(640, 360, 24.0, 800.0, 82.0),
        pt(1280, 720, 30.0, 1200.0, 86.0),
        pt(1280, 720, 24.0, 2400.0, 93.0),
    ];
    assert!(
        hull::upper_hull(&pts, Metric::Vmaf).contains(&0),
        "the 180p point is on the hull of all points"
    );
    let mut r = x264();
    r.ladder.min_height = Some(360);
    let h = ladder::hull_for(&pts, &r).unwrap();
    assert_eq!(h.vertices(), &[2, 3, 4, 5]);
    h.mark(&mut pts);
    let marked: Vec<usize> = (0..pts.len()).filter(|&i| pts[i].on_hull).collect();
    assert_eq!(marked, h.vertices());
    let l = ladder::build(&pts, &h, &r, Some(&source("in.mp4"))).unwrap();
    assert!(l.rungs.iter().all(|g| g.height >= 360), "{:?}", l.rungs);
    let s = pertitle::output::Summary::of_ladder(&pts, &h, &l);
    let listed: Vec<u32> = s.hull.iter().map(|p| p.height).collect();
    assert_eq!(listed, [360, 360, 720, 720]);
    // A hull of another metric is refused rather than silently used.
    let psnr = pertitle::hull::Hull::of(&pts, Metric::PsnrY);
    assert!(ladder::build(&pts, &psnr, &r, None).is_err());
}

/// A library user's own points need no source: the rungs and their predictions are the same as
/// with one, only the commands, keyframe interval and frame rate (which need the source) are
/// absent, and the TOML reads back.
#[test]
fn a_ladder_from_points_alone_needs_no_source() {
    let pts = vec![
        pt(640, 360, 30.0, 400.0, 72.0),
        pt(640, 360, 24.0, 800.0, 82.0),
        pt(1280, 720, 30.0, 1200.0, 86.0),
        pt(1280, 720, 24.0, 2400.0, 93.0),
    ];
    let r = x264();
    let h = ladder::hull_for(&pts, &r).unwrap();
    let bare = ladder::build(&pts, &h, &r, None).unwrap();
    let full = ladder::build(&pts, &h, &r, Some(&source("in.mp4"))).unwrap();
    assert!(!bare.rungs.is_empty());
    assert_eq!(bare.rungs.len(), full.rungs.len());
    for (b, f) in bare.rungs.iter().zip(&full.rungs) {
        assert_eq!(
            (b.width, b.height, b.kbps, b.vmaf),
            (f.width, f.height, f.kbps, f.vmaf)
        );
        assert!(b.ffmpeg.is_empty() && b.keyint_frames.is_none());
        assert!(!f.ffmpeg.is_empty() && f.keyint_frames == Some(48));
    }
    assert_eq!((bare.source.as_ref(), bare.fps_num), (None, None));
    let text = bare.to_toml().unwrap();
    assert!(
        !text.contains("[source]") && !text.contains("keyint_frames"),
        "{text}"
    );
    assert_eq!(Ladder::from_toml(&text).unwrap(), bare);
}
