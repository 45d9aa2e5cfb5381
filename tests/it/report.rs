//! Plots and the per-run report, drawn from realistic synthetic grids. Set
//! `PERTITLE_PLOT_DIR=/some/dir` to keep the rendered files for a look.

use pertitle::hull::Hull;
use pertitle::report::plot::{self, ComparePlot, FramePlot, FrameSeries, HullPlot, RungMark};
use pertitle::{Metric, Point};
use std::path::{Path, PathBuf};

/// Where to write: a per-test folder of the kept directory if asked for, else a fresh temp dir.
fn out_dir(test: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("PERTITLE_PLOT_DIR") {
        Some(d) => {
            let d = PathBuf::from(d).join(test);
            std::fs::create_dir_all(&d).unwrap();
            (None, d)
        }
        None => {
            let t = crate::support::tmpdir();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// A 720p title's grid: per resolution a saturating rate-quality curve (higher resolutions
/// reach higher quality but need more bits), CRF 20..40 step 4 as a real x264 grid gives.
pub fn sample_points(codec: &str, rate_scale: f64) -> Vec<Point> {
    // (width, height, rate at CRF 20 in kbps, top VMAF, rate at half quality)
    let sizes = [
        (1280u32, 720u32, 6200.0, 98.0, 520.0),
        (960, 540, 3900.0, 94.5, 330.0),
        (768, 432, 2700.0, 90.0, 230.0),
        (640, 360, 2000.0, 85.5, 165.0),
        (480, 270, 1250.0, 77.0, 100.0),
    ];
    let mut pts = Vec::new();
    for &(w, h, r20, top, half) in &sizes {
        for crf in [20.0, 24.0, 28.0, 32.0, 36.0, 40.0] {
            let kbps = r20 * 2f64.powf(-(crf - 20.0) / 5.5) * rate_scale;
            let x: f64 = kbps / rate_scale / half;
            let vmaf = top * x.powf(1.25) / (1.0 + x.powf(1.25));
            let psnr = 24.0 + 4.2 * (kbps / rate_scale).ln() - (1280.0 / w as f64).ln() * 3.0;
            let ssim = 1.0 - 0.25 * (-vmaf / 35.0).exp();
            pts.push(Point {
                codec: codec.to_string(),
                width: w,
                height: h,
                crf,
                kbps,
                bytes: (kbps * 1000.0 / 8.0 * 5.5) as u64,
                vmaf,
                psnr_y: psnr,
                ssim,
                pooled: Default::default(),
                on_hull: false,
                key: String::new(),
            });
        }
    }
    pts
}

/// The upper hull of (kbps, quality), by brute force: a point is on it unless it lies on or
/// below a chord between two other points or is dominated.
pub fn hull_of(points: &[Point], metric: Metric) -> Vec<(f64, f64)> {
    let v: Vec<(f64, f64)> = points.iter().map(|p| (p.kbps, metric.of(p))).collect();
    let mut out: Vec<(f64, f64)> = v
        .iter()
        .copied()
        .filter(|&p| {
            let dominated = v.iter().any(|&o| o != p && o.0 <= p.0 && o.1 >= p.1);
            let under_chord = v.iter().any(|&a| {
                v.iter().any(|&b| {
                    a.0 < p.0 && p.0 < b.0 && {
                        let t = (p.0 - a.0) / (b.0 - a.0);
                        a.1 + t * (b.1 - a.1) >= p.1
                    }
                })
            });
            !dominated && !under_chord
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Rungs: hull vertices about 6 VMAF apart, with the resolution of the grid point.
fn sample_rungs(points: &[Point], hull: &[(f64, f64)]) -> Vec<RungMark> {
    let mut rungs: Vec<RungMark> = Vec::new();
    for &(k, q) in hull.iter().rev() {
        if rungs.last().is_none_or(|r| r.quality - q >= 5.0) && q <= 96.0 {
            let p = points.iter().find(|p| p.kbps == k).unwrap();
            rungs.push(RungMark {
                width: p.width,
                height: p.height,
                kbps: k,
                quality: q,
                // Every other rung verified, a little off its prediction.
                achieved: rungs.len().is_multiple_of(2).then_some((k * 1.04, q - 0.4)),
            });
        }
    }
    rungs
}

fn sample_frames(mean: f64, frames: usize, seed: u64) -> Vec<f64> {
    let mut rng = crate::support::Rng::lcg(seed);
    (0..frames)
        .map(|i| {
            let noise = ((rng.next_u64() >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0;
            // A hard-to-code segment (grain) in the middle pulls quality down.
            let dip = if (48..72).contains(&i) {
                (100.0 - mean) * 1.8 + 4.0
            } else {
                0.0
            };
            (mean + noise - dip).clamp(0.0, 100.0)
        })
        .collect()
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    // A blank 1280×800 white image compresses to a few kB; a chart with text is far larger.
    assert!(
        bytes.len() > 20_000,
        "{}: only {} bytes",
        path.display(),
        bytes.len()
    );
}

fn read_svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(s.contains("<svg"), "{} is not an SVG", path.display());
    s
}

fn no_temp_left(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "temp file left: {name}");
    }
}

#[test]
fn hull_plot_png_and_svg_for_each_metric() {
    let (_t, dir) = out_dir("hull");
    let points = sample_points("libx264", 1.0);
    for metric in [Metric::Vmaf, Metric::PsnrY, Metric::Ssim] {
        let hull = hull_of(&points, metric);
        let rungs = if metric == Metric::Vmaf {
            sample_rungs(&points, &hull)
        } else {
            Vec::new()
        };
        let p = HullPlot {
            title: format!("demo clip · libx264 medium — {} rate-quality hull", metric),
            metric,
            points: points.clone(),
            hull,
            rungs: rungs.clone(),
        };
        let png = dir.join(format!("hull_{metric}.png"));
        let svg = dir.join(format!("hull_{metric}.svg"));
        plot::render_hull(&p, &png).unwrap();
        plot::render_hull(&p, &svg).unwrap();
        assert_png(&png);
        let s = read_svg(&svg);
        for needle in [
            "Bitrate (kbps, log scale)",
            "demo clip",
            "libx264",
            "1280×720",
            "480×270",
            "convex hull",
        ] {
            assert!(s.contains(needle), "{metric} SVG lacks '{needle}'");
        }
        match metric {
            Metric::Vmaf => {
                assert!(s.contains("VMAF (0–100)"));
                // Every rung is labelled with its resolution, bitrate and score.
                for r in &rungs {
                    let label = format!(
                        "{}×{} · {:.0} kbps · VMAF {:.1}",
                        r.width, r.height, r.kbps, r.quality
                    );
                    assert!(s.contains(&label), "missing rung label {label}");
                }
                assert!(rungs.len() >= 4);
            }
            Metric::PsnrY => assert!(s.contains("PSNR-Y (dB)")),
            Metric::Ssim => assert!(s.contains("SSIM (0–1)")),
        }
        // Log axis tick labels.
        assert!(s.lines().any(|l| l.trim() == "1k"), "no 1k tick");
    }
    no_temp_left(&dir);
}

#[test]
fn frame_plot_shows_series_and_dips() {
    let (_t, dir) = out_dir("frames");
    let p = FramePlot {
        title: "demo clip · libx264 — per-frame VMAF of the ladder rungs".into(),
        metric: Metric::Vmaf,
        fps: Some(24.0),
        series: vec![
            FrameSeries::contiguous("1280×720 4100 kbps", sample_frames(95.0, 132, 1)),
            FrameSeries::contiguous("960×540 1900 kbps", sample_frames(89.0, 132, 2)),
            FrameSeries::contiguous("640×360 800 kbps", sample_frames(77.0, 132, 3)),
            FrameSeries::contiguous("480×270 330 kbps", sample_frames(62.0, 132, 4)),
        ],
        title_frames: Some(132),
        cuts: vec![33, 66, 99],
        chunk_starts: vec![66],
    };
    let png = dir.join("frames_vmaf.png");
    let svg = dir.join("frames_vmaf.svg");
    plot::render_frames(&p, &png).unwrap();
    plot::render_frames(&p, &svg).unwrap();
    assert_png(&png);
    let s = read_svg(&svg);
    for needle in [
        "Time (s)",
        "VMAF (0–100)",
        "1280×720 4100 kbps",
        "480×270 330 kbps",
        "min",
        "shot cuts (3)",
        "chunk starts (1, top)",
    ] {
        assert!(s.contains(needle), "frame SVG lacks '{needle}'");
    }
    assert_eq!(cut_lines(&s), 3, "one dashed line per cut");
}

/// How many distinct x positions carry vertical strokes in the per-frame plot's cut colour
/// (one per cut line; each dash is its own element, the legend swatch is horizontal).
fn cut_lines(svg: &str) -> usize {
    let mut xs: Vec<String> = svg
        .lines()
        .filter(|l| l.contains("stroke=\"#B4B4B4\""))
        .filter_map(|l| {
            let pts = l.split("points=\"").nth(1)?.split('"').next()?;
            let xs: Vec<&str> = pts
                .split_whitespace()
                .filter_map(|p| p.split(',').next())
                .collect();
            (xs.len() == 2 && xs[0] == xs[1]).then(|| xs[0].to_string())
        })
        .collect();
    xs.sort();
    xs.dedup();
    xs.len()
}

/// A sampled run's series: scores at frames 0..40 and 80..120 of 132 draw two lines, not one
/// bridging the unmeasured frames; the x axis still spans the whole title.
#[test]
fn frame_plot_breaks_lines_over_unsampled_chunks() {
    let (_t, dir) = out_dir("frames_sampled");
    let frames: Vec<u64> = (0..40).chain(80..120).collect();
    let p = FramePlot {
        title: "sampled".into(),
        metric: Metric::Vmaf,
        fps: None,
        series: vec![FrameSeries {
            label: "720p".into(),
            values: frames.iter().map(|&f| 80.0 + (f % 5) as f64).collect(),
            frames,
        }],
        title_frames: Some(132),
        cuts: vec![40, 80, 120],
        chunk_starts: vec![40, 80, 120],
    };
    let svg = dir.join("f.svg");
    plot::render_frames(&p, &svg).unwrap();
    let s = read_svg(&svg);
    let lines = s
        .lines()
        .filter(|l| l.contains("stroke=\"#4E79A7\"") && l.contains("<polyline"))
        .count();
    // Two data lines and the legend swatch.
    assert_eq!(lines, 3, "{s}");
    // The last sampled frame is 119: a tick at 120 means the axis runs to the title's end.
    assert!(
        s.lines().any(|l| l.trim() == "120"),
        "the axis spans the title"
    );
}

fn curve(label: &str, hull: Vec<(f64, f64)>, bd: Option<f64>) -> plot::CompareCurve {
    plot::CompareCurve {
        label: label.into(),
        hull,
        bd_rate_percent: bd,
    }
}

#[test]
fn compare_plot_has_bd_rates_in_legend() {
    let (_t, dir) = out_dir("compare");
    let x264 = hull_of(&sample_points("libx264", 1.0), Metric::Vmaf);
    let x265 = hull_of(&sample_points("libx265", 0.72), Metric::Vmaf);
    let av1 = hull_of(&sample_points("libsvtav1", 0.6), Metric::Vmaf);
    let bd265 = pertitle::bdrate::bd_rate(&x264, &x265, Metric::Vmaf, Default::default())
        .unwrap()
        .bd_rate_percent;
    let bdav1 = pertitle::bdrate::bd_rate(&x264, &av1, Metric::Vmaf, Default::default())
        .unwrap()
        .bd_rate_percent;
    assert!((bd265 + 28.0).abs() < 1e-6, "{bd265}");
    let p = ComparePlot {
        title: "demo clip — codec comparison on VMAF hulls".into(),
        metric: Metric::Vmaf,
        curves: vec![
            curve("libx264", x264, None),
            curve("libx265", x265, Some(bd265)),
            curve("libsvtav1", av1, Some(bdav1)),
        ],
    };
    let png = dir.join("compare_vmaf.png");
    let svg = dir.join("compare_vmaf.svg");
    plot::render_compare(&p, &png).unwrap();
    plot::render_compare(&p, &svg).unwrap();
    assert_png(&png);
    let s = read_svg(&svg);
    for needle in [
        "libx264",
        "libx265",
        "libsvtav1",
        "BD-rate -28.00 %",
        "reference",
    ] {
        assert!(s.contains(needle), "compare SVG lacks '{needle}'");
    }
}

#[test]
fn bad_plot_inputs_are_errors_and_write_nothing() {
    let t = crate::support::tmpdir();
    let empty = HullPlot {
        title: "t".into(),
        metric: Metric::Vmaf,
        points: Vec::new(),
        hull: Vec::new(),
        rungs: Vec::new(),
    };
    let path = t.path().join("hull.png");
    let e = plot::render_hull(&empty, &path).unwrap_err().to_string();
    assert!(e.contains("hull.png"), "{e}");
    assert!(!path.exists());
    let p = HullPlot {
        points: sample_points("libx264", 1.0),
        ..empty
    };
    let bad = t.path().join("hull.jpg");
    let e = plot::render_hull(&p, &bad).unwrap_err().to_string();
    assert!(e.contains("hull.jpg") && e.contains(".png"), "{e}");
    // A directory that does not exist: an error naming the path, no panic.
    let missing = t.path().join("nope").join("hull.svg");
    assert!(plot::render_hull(&p, &missing).is_err());
    let nothing = FramePlot {
        title: "t".into(),
        metric: Metric::Vmaf,
        fps: None,
        series: vec![FrameSeries::contiguous("a", vec![f64::NAN])],
        title_frames: None,
        cuts: Vec::new(),
        chunk_starts: Vec::new(),
    };
    assert!(plot::render_frames(&nothing, &t.path().join("f.png")).is_err());
    no_temp_left(t.path());
}

/// A full per-run report from a sample x264 grid compared with x265: every section is there,
/// the tables hold the numbers, the HTML embeds the plots.
#[test]
fn report_md_and_html_have_tables_and_plots() {
    use pertitle::bdrate::Method;
    use pertitle::report::{BdRow, PlotRef, ReportData, RungRow};
    let (_t, dir) = out_dir("report");
    let mut points = sample_points("libx264", 1.0);
    let hull = hull_of(&points, Metric::Vmaf);
    for p in &mut points {
        p.on_hull = hull.contains(&(p.kbps, p.vmaf));
    }
    let hull_points: Vec<Point> = points.iter().filter(|p| p.on_hull).cloned().collect();
    let rungs = sample_rungs(&points, &hull);
    let plot = HullPlot {
        title: "demo · libx264 — VMAF hull".into(),
        metric: Metric::Vmaf,
        points: points.clone(),
        hull: hull.clone(),
        rungs: rungs.clone(),
    };
    plot::render_hull(&plot, &dir.join("hull.png")).unwrap();
    plot::render_hull(&plot, &dir.join("hull.svg")).unwrap();

    let x265 = hull_of(&sample_points("libx265", 0.72), Metric::Vmaf);
    let bd = pertitle::bdrate::bd_rate(&hull, &x265, Metric::Vmaf, Method::Pchip);
    let bad = pertitle::bdrate::bd_rate(&hull, &x265[..2], Metric::Vmaf, Method::Pchip);
    let data = ReportData {
        title: "demo".into(),
        source: vec![
            ("Path".into(), "demo (built-in)".into()),
            ("Size".into(), "1280×720".into()),
            ("Frames".into(), "132".into()),
        ],
        grid: vec![
            ("Codec".into(), "libx264 (preset medium)".into()),
            ("CRF".into(), "20, 24, 28, 32, 36, 40".into()),
        ],
        metric: Some(Metric::Vmaf),
        points: points.clone(),
        hull: hull_points.clone(),
        rungs: rungs
            .iter()
            .map(|r| RungRow {
                codec: "libx264".into(),
                width: r.width,
                height: r.height,
                kbps: r.kbps,
                maxrate_kbps: Some(2.0 * r.kbps),
                crf: Some(23.5),
                vmaf: Some(r.quality),
                kbps_is_target: true,
                ..Default::default()
            })
            .collect(),
        bd_rates: vec![
            BdRow::from_result("libx264", "libx265", Metric::Vmaf, Method::Pchip, &bd),
            BdRow::from_result("libx264", "broken", Metric::Vmaf, Method::Pchip, &bad),
        ],
        plots: vec![PlotRef {
            caption: "VMAF rate-quality hull".into(),
            png: "hull.png".into(),
            svg: Some("hull.svg".into()),
        }],
        notes: vec!["a note | with a pipe".into()],
        shots: None,
    };
    let (md_path, html_path) = pertitle::report::write_report(&data, &dir).unwrap();
    let md = std::fs::read_to_string(&md_path).unwrap();
    for needle in [
        "# pertitle report: demo",
        "## Source",
        "| **Size** | 1280×720 |",
        "## Grid",
        "| Resolution | CRF 20 | CRF 24 | CRF 28 | CRF 32 | CRF 36 | CRF 40 |",
        "## Convex hull",
        "## Ladder",
        "| Rung | Codec | Resolution | Target kbps | Max kbps | CRF | VMAF |",
        "## BD-rate",
        "| libx265 | libx264 | vmaf | pchip | **-28.00** |",
        "at least 4",
        "![VMAF rate-quality hull](hull.png)",
        "([SVG](hull.svg))",
        "a note \\| with a pipe",
    ] {
        assert!(md.contains(needle), "report.md lacks '{needle}':\n{md}");
    }
    // Grid: 5 resolution rows; every hull point is bold in it.
    let grid_rows = md
        .lines()
        .filter(|l| l.starts_with("| 1280×720 | ") || l.starts_with("| 480×270 | "))
        .count();
    assert!(grid_rows >= 2);
    for p in &hull_points {
        let cell = format!("**{:.0} · {:.2}**", p.kbps, p.vmaf);
        assert!(md.contains(&cell), "hull point {cell} not bold in the grid");
    }
    // Hull table: one row per hull point; ladder table: one row per rung.
    for p in &hull_points {
        let row = format!(
            "| {}×{} | {} | {:.0} | {:.2} |",
            p.width, p.height, p.crf, p.kbps, p.vmaf
        );
        assert!(md.contains(&row), "hull table lacks {row}");
    }
    for (i, r) in rungs.iter().enumerate() {
        let row = format!(
            "| {} | libx264 | {}×{} | {:.0} | {:.0} | 23.5 | {:.2} |",
            i + 1,
            r.width,
            r.height,
            r.kbps,
            2.0 * r.kbps,
            r.quality
        );
        assert!(md.contains(&row), "ladder table lacks {row}");
    }

    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h2>Ladder</h2>") && html.contains("<h2>BD-rate</h2>"));
    assert!(html.contains("a note | with a pipe"));
    // The PNG is embedded whole: its base64 text is exactly 4·⌈n/3⌉ characters.
    let png_len = std::fs::metadata(dir.join("hull.png")).unwrap().len() as usize;
    let start = html.find("data:image/png;base64,").expect("embedded png") + 22;
    let b64_len = html[start..].find('"').unwrap();
    assert_eq!(b64_len, png_len.div_ceil(3) * 4);
    assert!(
        html[start..].starts_with("iVBORw0KGgo"),
        "PNG signature in base64"
    );
}

#[test]
fn report_with_a_missing_plot_fails_and_writes_nothing() {
    use pertitle::report::{PlotRef, ReportData};
    let t = crate::support::tmpdir();
    let data = ReportData {
        title: "x".into(),
        plots: vec![PlotRef {
            caption: "c".into(),
            png: "missing.png".into(),
            svg: None,
        }],
        ..Default::default()
    };
    let e = pertitle::report::write_report(&data, t.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.png"), "{e}");
    assert!(!t.path().join("report.md").exists());
    assert!(!t.path().join("report.html").exists());
}

/// The "Shots and chunks" section: counts, detector line, the shot table capped at 50 rows
/// with a pointer to shots.csv, and a sampled run's chunks, share and error estimate.
#[test]
fn report_shots_section_caps_the_table_and_shows_the_sample() {
    use pertitle::chunks::Chunk;
    use pertitle::report::{ReportData, SampleSection, ShotsSection};
    use pertitle::sample::{ErrorEstimate, SampledChunk};
    use pertitle::shots::Shot;
    let t = crate::support::tmpdir();
    let shots: Vec<Shot> = (0..60)
        .map(|i| Shot {
            start: i * 48,
            frames: 48,
            score: if i == 0 { 0.0 } else { 2.0 + i as f64 / 100.0 },
        })
        .collect();
    let chunks: Vec<Chunk> = (0..30)
        .map(|i| Chunk {
            start: i * 96,
            frames: 96,
        })
        .collect();
    let data = ReportData {
        title: "long".into(),
        metric: Some(Metric::Vmaf),
        shots: Some(ShotsSection {
            fps: 24.0,
            shots,
            detector: "analysis width 160 samples".into(),
            chunks,
            min_seconds: 2.0,
            max_seconds: 10.0,
            sample: Some(SampleSection {
                chunks: vec![
                    SampledChunk {
                        chunk: 3,
                        weight: 14.5,
                        key_weight: 3.0,
                        stratum: 0,
                        complexity: 100.0,
                        probe_quality: 38.0,
                    },
                    SampledChunk {
                        chunk: 21,
                        weight: 15.5,
                        key_weight: 3.0,
                        stratum: 1,
                        complexity: 900.0,
                        probe_quality: 31.0,
                    },
                ],
                frames: 192,
                fraction: 192.0 / 2880.0,
                error: ErrorEstimate {
                    kbps_rel: 0.034,
                    quality: 0.61,
                },
            }),
            files: vec!["shots.csv".into(), "shots.json".into(), "chunks.csv".into()],
        }),
        ..Default::default()
    };
    let (md, html) = pertitle::report::write_report(&data, t.path()).unwrap();
    let md = std::fs::read_to_string(md).unwrap();
    for needle in [
        "## Shots and chunks",
        "60 shots, encoded as 30 chunks of 4.00 s (limits 2.0–10.0 s",
        "Detector: analysis width 160 samples.",
        "shots.csv, shots.json, chunks.csv",
        "| Shot | Start (s) | Start frame | Length (s) | Frames | Cut score |",
        "| 1 | 0.00 | 0 | 2.00 | 48 | – |",
        "| 50 | 98.00 | 2352 | 2.00 | 48 | 2.49 |",
        "The first 50 of 60 shots; shots.csv lists them all.",
        "### Sample",
        "2 of the 30 chunks: 192 of 2880 frames, 6.7 % of the title",
        "±3.4 % kbps, ±0.61 vmaf",
        "| 21 | 84.00 | 4.00 | 96 | 1 | 15.500 |",
    ] {
        assert!(md.contains(needle), "report.md lacks '{needle}':\n{md}");
    }
    assert!(!md.contains("| 51 | "), "more than 50 shot rows");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("<h2>Shots and chunks</h2>"));
    // No shots: no section.
    let none = pertitle::report::markdown(&ReportData {
        title: "x".into(),
        ..Default::default()
    });
    assert!(!none.contains("Shots and chunks"));
}

#[test]
fn run_plots_write_every_metric_and_the_frames() {
    use pertitle::report::{RunPlots, RungRow};
    let t = crate::support::tmpdir();
    let points = sample_points("libx264", 1.0);
    let rungs = vec![
        RungRow {
            codec: "libx264".into(),
            width: 1280,
            height: 720,
            kbps: 3745.0,
            vmaf: Some(90.3),
            psnr_y: Some(58.6),
            ..Default::default()
        },
        RungRow {
            codec: "libx264".into(),
            width: 640,
            height: 360,
            kbps: 730.0,
            vmaf: Some(74.0),
            ..Default::default()
        },
    ];
    let frames = FramePlot {
        title: "demo · per-frame VMAF".into(),
        metric: Metric::Vmaf,
        fps: None,
        series: vec![FrameSeries::contiguous(
            "1280×720 3745 kbps",
            sample_frames(90.0, 60, 7),
        )],
        title_frames: None,
        cuts: Vec::new(),
        chunk_starts: Vec::new(),
    };
    let run = RunPlots {
        clip: "demo",
        codec: "libx264 medium",
        points: &points,
        hulls: &[Metric::Vmaf, Metric::PsnrY, Metric::Ssim].map(|m| Hull::of(&points, m)),
        rungs: &rungs,
        frames: Some(frames),
    };
    let refs = pertitle::report::render_run_plots(t.path(), &run).unwrap();
    let names: Vec<&str> = refs.iter().map(|r| r.png.as_str()).collect();
    assert_eq!(
        names,
        ["hull.png", "hull_psnr_y.png", "hull_ssim.png", "frames.png"]
    );
    for r in &refs {
        assert_png(&t.path().join(&r.png));
        read_svg(&t.path().join(r.svg.as_ref().unwrap()));
    }
    // Rungs appear on each metric's plot they have a value for.
    let vmaf = read_svg(&t.path().join("hull.svg"));
    assert!(vmaf.contains("1280×720 · 3745 kbps · VMAF 90.3"));
    assert!(vmaf.contains("640×360 · 730 kbps · VMAF 74.0"));
    assert!(vmaf.contains("demo · libx264 medium — VMAF rate-quality hull"));
    let psnr = read_svg(&t.path().join("hull_psnr_y.svg"));
    assert!(psnr.contains("1280×720 · 3745 kbps · 58.60 dB"));
    assert!(!psnr.contains("640×360 · 730 kbps"));
    let frames = read_svg(&t.path().join("frames.svg"));
    assert!(frames.contains("Frame") && frames.contains("1280×720 3745 kbps"));
}

#[test]
fn codec_comparison_table_json_and_plots() {
    use pertitle::bdrate::Method;
    let (_t, dir) = out_dir("comparison");
    let sets = vec![
        ("libx264".to_string(), sample_points("libx264", 1.0)),
        ("libx265".to_string(), sample_points("libx265", 0.75)),
        ("libsvtav1".to_string(), sample_points("libsvtav1", 0.6)),
        // Too few points for a hull of 4: reported, not fatal.
        (
            "broken".to_string(),
            sample_points("broken", 1.0)[..2].to_vec(),
        ),
    ];
    let metrics = [Metric::Vmaf, Metric::PsnrY];
    let c = pertitle::report::compare_codecs(&sets, &metrics, Method::Pchip).unwrap();
    assert_eq!(c.reference, "libx264");
    assert_eq!(c.results.len(), 3 * 2);
    // Uniformly scaled rates: BD-rate is exactly the scale on every metric.
    for m in metrics {
        assert!((c.bd_rate("libx265", m).unwrap() + 25.0).abs() < 1e-9);
        assert!((c.bd_rate("libsvtav1", m).unwrap() + 40.0).abs() < 1e-9);
        assert_eq!(c.bd_rate("broken", m), None);
    }
    let broken = c.results.iter().find(|r| r.codec == "broken").unwrap();
    assert!(broken.error.as_deref().unwrap().contains("at least 4"));

    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["reference"], "libx264");
    assert_eq!(json["method"], "pchip");
    assert_eq!(json["results"][0]["metric"], "vmaf");
    let rows = c.bd_rows();
    assert_eq!(rows.len(), 6);
    assert!(rows
        .iter()
        .any(|r| r.codec == "broken" && r.note.contains("at least 4")));

    let plots = c.render(&dir, "demo").unwrap();
    assert_eq!(plots.len(), 2);
    assert_png(&dir.join("compare_vmaf.png"));
    let svg = read_svg(&dir.join("compare_psnr_y.svg"));
    assert!(svg.contains("BD-rate -25.00 %") && svg.contains("BD-rate n/a"));
    assert!(svg.contains("PSNR-Y (dB)"));

    assert!(pertitle::report::compare_codecs(&[], &metrics, Method::Pchip).is_err());
}
