//! Reports: rate-quality plots ([`plot`]), codec comparison ([`compare`]) and the per-run
//! report ([`markdown`](mod@markdown): `report.md` and a self-contained `report.html`).
//!
//! A ladder run typically calls [`render_run_plots`] (hull per metric, per-frame scores), then
//! [`write_report`] with a [`ReportData`] holding the facts, tables and the returned plots; a
//! `compare` run adds [`compare_codecs`], [`Comparison::render`] and [`Comparison::bd_rows`].

pub mod compare;
pub mod markdown;
pub mod plot;

pub use compare::{compare_codecs, Comparison, ComparisonRow};
pub use markdown::{
    markdown, write_report, BdRow, PlotRef, ReportData, RungRow, SampleSection, ShotsSection,
};
pub use plot::{
    render_compare, render_frames, render_hull, render_scatter, CompareCurve, ComparePlot,
    FramePlot, FrameSeries, HullPlot, RungMark, ScatterPlot, ScatterPoint,
};

use std::path::Path;

use crate::{Metric, Point, Result};

/// What [`render_run_plots`] draws for one ladder run.
#[derive(Debug, Clone)]
pub struct RunPlots<'a> {
    /// The clip's name, shown in every title.
    pub clip: &'a str,
    /// Codec (and preset) as shown in titles, e.g. `libx264 medium`.
    pub codec: &'a str,
    pub points: &'a [Point],
    /// One hull plot per hull (of `points`, each under its own metric), the first being the
    /// ladder's.
    pub hulls: &'a [crate::hull::Hull],
    /// The ladder; each rung is marked on the plot of every metric it has a value for.
    pub rungs: &'a [RungRow],
    /// Per-frame scores of the rungs (or chosen points), if the caller kept them.
    pub frames: Option<FramePlot>,
}

/// A metric's name as written in titles.
pub fn metric_title(m: Metric) -> &'static str {
    m.info().title
}

/// Draws a run's standard plots into `dir`, PNG and SVG each: `hull.*` for the first metric,
/// `hull_<metric>.*` for the others, `frames.*` when per-frame scores are given. Returns them
/// in display order for [`ReportData::plots`].
pub fn render_run_plots(dir: &Path, run: &RunPlots<'_>) -> Result<Vec<PlotRef>> {
    let mut out = Vec::new();
    for (i, h) in run.hulls.iter().enumerate() {
        let m = h.metric();
        let hull = h.curve().to_vec();
        let rungs = run
            .rungs
            .iter()
            .filter_map(|r| {
                let q = match m {
                    Metric::Vmaf => r.vmaf,
                    Metric::PsnrY => r.psnr_y,
                    Metric::Ssim => r.ssim,
                }?;
                let achieved = r.verified.as_ref().map(|v| (v.kbps, v.achieved(m)));
                Some(RungMark {
                    width: r.width,
                    height: r.height,
                    kbps: r.kbps,
                    quality: q,
                    achieved,
                })
            })
            .collect();
        let plot = HullPlot {
            title: format!(
                "{} · {} — {} rate-quality hull",
                run.clip,
                run.codec,
                metric_title(m)
            ),
            metric: m,
            points: run.points.to_vec(),
            hull,
            rungs,
        };
        let stem = if i == 0 {
            "hull".to_string()
        } else {
            format!("hull_{}", m.name())
        };
        render_hull(&plot, &dir.join(format!("{stem}.png")))?;
        render_hull(&plot, &dir.join(format!("{stem}.svg")))?;
        out.push(PlotRef {
            caption: format!(
                "{} against bitrate per resolution, the convex hull and the ladder's rungs",
                metric_title(m)
            ),
            png: format!("{stem}.png"),
            svg: Some(format!("{stem}.svg")),
        });
    }
    if let Some(frames) = &run.frames {
        render_frames(frames, &dir.join("frames.png"))?;
        render_frames(frames, &dir.join("frames.svg"))?;
        out.push(PlotRef {
            caption: format!("Per-frame {} over time", metric_title(frames.metric)),
            png: "frames.png".into(),
            svg: Some("frames.svg".into()),
        });
    }
    Ok(out)
}
