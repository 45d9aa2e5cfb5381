//! Reports: rate-quality plots ([`plot`]) and the per-run report (`report.md`, `report.html`).

pub mod plot;

pub use plot::{
    render_compare, render_frames, render_hull, ComparePlot, FramePlot, HullPlot, RungMark,
};
