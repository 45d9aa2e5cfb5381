//! Reports: rate-quality plots ([`plot`]) and the per-run report ([`markdown`]: `report.md`
//! and a self-contained `report.html`).

pub mod markdown;
pub mod plot;

pub use markdown::{markdown, write_report, BdRow, PlotRef, ReportData, RungRow};
pub use plot::{
    render_compare, render_frames, render_hull, CompareCurve, ComparePlot, FramePlot, HullPlot,
    RungMark,
};
