//! BD-rate against the published reference vectors (JVET/AOM PCHIP and VCEG-M33 cubic results
//! of the reference bjontegaard implementations), plus its invariants and error cases.

use pertitle::bdrate::{self, Method};
use pertitle::{Error, Metric};

const A1: [(f64, f64); 4] = [
    (108048.8736, 43.6471),
    (61279.976, 40.3953),
    (33905.6656, 37.247),
    (18883.6928, 34.2911),
];
const B1: [(f64, f64); 4] = [
    (108061.2784, 43.6768),
    (61299.9936, 40.4232),
    (33928.7472, 37.2761),
    (18910.912, 34.3147),
];
const A2: [(f64, f64); 4] = [
    (40433.8848, 37.5761),
    (7622.7456, 35.3756),
    (2394.488, 33.8977),
    (1017.6184, 32.0603),
];
const B2: [(f64, f64); 4] = [
    (40370.12, 37.5982),
    (7587.0024, 35.4025),
    (2390.0944, 33.9194),
    (1017.0984, 32.0822),
];

fn bd(a: &[(f64, f64)], b: &[(f64, f64)], m: Method) -> f64 {
    bdrate::bd_rate(a, b, Metric::PsnrY, m)
        .expect("bd-rate")
        .bd_rate_percent
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    eprintln!("{what}: {got:.6} (reference {want:.6})");
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.6}, want {want:.6} (tolerance {tol})"
    );
}

#[test]
fn published_vectors_pchip() {
    assert_close(bd(&A1, &B1, Method::Pchip), -0.465215, 1e-3, "set 1 pchip");
    assert_close(bd(&A2, &B2, Method::Pchip), -1.877982, 1e-3, "set 2 pchip");
}

#[test]
fn published_vectors_cubic() {
    assert_close(bd(&A1, &B1, Method::Cubic), -0.464415, 1e-3, "set 1 cubic");
    assert_close(bd(&A2, &B2, Method::Cubic), -1.910169, 1e-3, "set 2 cubic");
}

#[test]
fn order_of_points_does_not_matter() {
    let mut a = A2.to_vec();
    a.reverse();
    a.swap(0, 2);
    assert_close(bd(&a, &B2, Method::Pchip), -1.877982, 1e-3, "shuffled");
}

#[test]
fn curve_against_itself_is_zero() {
    for m in [Method::Pchip, Method::Cubic] {
        for set in [&A1, &A2] {
            let r = bdrate::bd_rate(set, set, Metric::PsnrY, m).unwrap();
            assert!(r.bd_rate_percent.abs() < 1e-9, "{m}: {}", r.bd_rate_percent);
            assert!(r.bd_quality.unwrap().abs() < 1e-9);
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        }
    }
}

#[test]
fn ten_percent_more_rate_is_plus_ten_percent() {
    for m in [Method::Pchip, Method::Cubic] {
        let b: Vec<(f64, f64)> = A2.iter().map(|&(r, q)| (r * 1.1, q)).collect();
        assert_close(bd(&A2, &b, m), 10.0, 1e-9, "x1.1");
        // And the reverse direction is 1/1.1 − 1.
        assert_close(bd(&b, &A2, m), (1.0 / 1.1 - 1.0) * 100.0, 1e-9, "/1.1");
    }
}

#[test]
fn better_curve_has_negative_bd_rate_and_positive_bd_quality() {
    let b: Vec<(f64, f64)> = A1.iter().map(|&(r, q)| (r * 0.8, q)).collect();
    let r = bdrate::bd_rate(&A1, &b, Metric::PsnrY, Method::Pchip).unwrap();
    assert_close(r.bd_rate_percent, -20.0, 1e-9, "x0.8");
    assert!(r.bd_quality.unwrap() > 0.0);
    // A pure quality shift at equal rates: BD-quality is exactly that shift.
    let up: Vec<(f64, f64)> = A1.iter().map(|&(r, q)| (r, q + 0.5)).collect();
    for m in [Method::Pchip, Method::Cubic] {
        let r = bdrate::bd_rate(&A1, &up, Metric::PsnrY, m).unwrap();
        assert_close(r.bd_quality.unwrap(), 0.5, 1e-9, "bd-quality shift");
        assert!(r.bd_rate_percent < 0.0);
    }
}

#[test]
fn overlap_is_reported() {
    let r = bdrate::bd_rate(&A1, &B1, Metric::PsnrY, Method::Pchip).unwrap();
    assert_close(r.overlap[0], 34.3147, 1e-12, "overlap lo");
    assert_close(r.overlap[1], 43.6471, 1e-12, "overlap hi");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["metric"], "psnr_y");
    assert_eq!(json["method"], "pchip");
    assert!(json["bd_rate_percent"].is_f64());
    assert!(json["bd_quality"].is_f64());
    assert_eq!(json["overlap"].as_array().unwrap().len(), 2);
}

fn data_err(r: pertitle::Result<bdrate::BdResult>) -> String {
    match r {
        Err(e @ Error::Data { .. }) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn too_few_points_is_an_error() {
    let msg = data_err(bdrate::bd_rate(&A1[..3], &B1, Metric::PsnrY, Method::Pchip));
    assert!(
        msg.contains("curve A") && msg.contains("at least 4"),
        "{msg}"
    );
}

#[test]
fn no_overlap_is_an_error() {
    let b: Vec<(f64, f64)> = A1.iter().map(|&(r, q)| (r, q + 20.0)).collect();
    let msg = data_err(bdrate::bd_rate(&A1, &b, Metric::PsnrY, Method::Cubic));
    assert!(msg.contains("do not overlap"), "{msg}");
}

#[test]
fn non_monotone_is_an_error() {
    let mut b = B1;
    b[1].1 = 44.0; // 61 Mbit/s now better than 108 Mbit/s
    let msg = data_err(bdrate::bd_rate(&A1, &b, Metric::PsnrY, Method::Pchip));
    assert!(
        msg.contains("curve B") && msg.contains("not monotone"),
        "{msg}"
    );
}

#[test]
fn non_positive_rate_is_an_error() {
    let mut b = B1;
    b[3].0 = 0.0;
    let msg = data_err(bdrate::bd_rate(&A1, &b, Metric::PsnrY, Method::Pchip));
    assert!(msg.contains("not a positive number"), "{msg}");
}

#[test]
fn small_overlap_warns() {
    // B covers only the top third of A's PSNR range.
    let b: Vec<(f64, f64)> = [
        (60000.0, 40.5),
        (80000.0, 42.0),
        (110000.0, 43.7),
        (150000.0, 45.0),
    ]
    .to_vec();
    let r = bdrate::bd_rate(&A1, &b, Metric::PsnrY, Method::Pchip).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("covers only")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn csv_files_are_read_and_compared() {
    let dir = crate::support::tmpdir();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    let write = |p: &std::path::Path, pts: &[(f64, f64)]| {
        let mut s = String::from("codec,kbps,psnr_y,vmaf\n");
        for (r, q) in pts {
            s += &format!("x,{r},{q},90\n");
        }
        std::fs::write(p, s).unwrap();
    };
    write(&a, &A2);
    write(&b, &B2);
    let r = bdrate::bd_rate_files(&a, &b, Metric::PsnrY, Method::Pchip).unwrap();
    assert_close(r.bd_rate_percent, -1.877982, 1e-3, "csv pchip");

    // The metric's column is missing: the error names the file and the column.
    let msg = data_err(bdrate::bd_rate_files(&a, &b, Metric::Ssim, Method::Pchip));
    assert!(msg.contains("a.csv") && msg.contains("ssim"), "{msg}");

    // No kbps column.
    let c = dir.path().join("c.csv");
    std::fs::write(&c, "rate,vmaf\n1,2\n").unwrap();
    let msg = data_err(bdrate::bd_rate_files(&c, &b, Metric::Vmaf, Method::Pchip));
    assert!(msg.contains("c.csv") && msg.contains("kbps"), "{msg}");

    // A cell that is not a number names the line.
    let d = dir.path().join("d.csv");
    std::fs::write(&d, "kbps,psnr_y\n100,30\nfast,31\n").unwrap();
    let msg = data_err(bdrate::bd_rate_files(&d, &b, Metric::PsnrY, Method::Pchip));
    assert!(msg.contains("d.csv") && msg.contains("line 3"), "{msg}");
}

#[test]
fn points_json_uses_the_hull() {
    let dir = crate::support::tmpdir();
    // Three resolutions; the hull is (200,48) (400,62) (800,69) (2000,76) (issue 4's example).
    let grid = [
        (1920, 300.0, 40.0),
        (1920, 600.0, 55.0),
        (1920, 1200.0, 66.0),
        (1920, 2400.0, 72.0),
        (1280, 250.0, 45.0),
        (1280, 500.0, 60.0),
        (1280, 1000.0, 70.0),
        (1280, 2000.0, 76.0),
        (960, 200.0, 48.0),
        (960, 400.0, 62.0),
        (960, 800.0, 69.0),
        (960, 1600.0, 73.0),
        (960, 3000.0, 71.0),
    ];
    let to_json = |scale: f64| {
        let pts: Vec<serde_json::Value> = grid
            .iter()
            .map(|&(w, r, q)| {
                serde_json::json!({"codec": "libx264", "width": w, "height": w * 9 / 16,
                    "crf": 23.0, "kbps": r * scale, "vmaf": q, "psnr_y": 40.0, "ssim": 0.9})
            })
            .collect();
        serde_json::to_string(&pts).unwrap()
    };
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(&a, to_json(1.0)).unwrap();
    std::fs::write(&b, to_json(0.5)).unwrap();
    let curve = bdrate::read_curve(&a, Metric::Vmaf).unwrap();
    assert_eq!(
        curve,
        vec![(200.0, 48.0), (400.0, 62.0), (800.0, 69.0), (2000.0, 76.0)]
    );
    let r = bdrate::bd_rate_files(&a, &b, Metric::Vmaf, Method::Pchip).unwrap();
    assert_close(r.bd_rate_percent, -50.0, 1e-9, "half the rate");

    // On PSNR every point has 40 dB: the hull is a single point.
    let msg = data_err(bdrate::bd_rate_files(&a, &b, Metric::PsnrY, Method::Pchip));
    assert!(
        msg.contains("a.json") && msg.contains("at least 4"),
        "{msg}"
    );
}

/// `hull::upper_hull_pairs` against a brute-force definition on random point sets: a point is on the
/// hull unless another point dominates it (no more bits, no less quality) or a chord between
/// two others passes on or above it.
#[test]
fn upper_hull_matches_brute_force_on_random_sets() {
    let mut rng = crate::support::Rng::xorshift64(0x9e3779b97f4a7c15);
    for _ in 0..200 {
        let n = 3 + (rng.unit() * 20.0) as usize;
        let pts: Vec<(f64, f64)> = (0..n)
            .map(|_| {
                (
                    (rng.unit() * 40.0).round() * 100.0 + 100.0,
                    (rng.unit() * 60.0).round() + 30.0,
                )
            })
            .collect();
        let mut want: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|&p| {
                let dominated = pts.iter().any(|&o| o != p && o.0 <= p.0 && o.1 >= p.1);
                let under = pts.iter().any(|&a| {
                    pts.iter().any(|&b| {
                        a.0 < p.0
                            && p.0 < b.0
                            && a.1 + (p.0 - a.0) / (b.0 - a.0) * (b.1 - a.1) >= p.1
                    })
                });
                !dominated && !under
            })
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        want.dedup();
        let mut shuffled = pts.clone();
        shuffled.reverse();
        assert_eq!(
            pertitle::hull::upper_hull_pairs(&pts),
            want,
            "points {pts:?}"
        );
        assert_eq!(
            pertitle::hull::upper_hull_pairs(&shuffled),
            want,
            "order matters for {pts:?}"
        );
    }
}

#[test]
fn summary_says_the_numbers() {
    let r = bdrate::bd_rate(&A2, &B2, Metric::PsnrY, Method::Pchip).unwrap();
    let s = r.summary();
    assert!(s.contains("BD-rate (pchip, psnr_y): -1.878 %"), "{s}");
    assert!(s.contains("B needs fewer bits"), "{s}");
    assert!(s.contains("BD-psnr_y: +"), "{s}");
    assert!(s.contains("overlap: psnr_y 32.0822–37.5761"), "{s}");
}
