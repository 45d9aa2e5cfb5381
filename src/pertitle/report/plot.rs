//! Rate-quality plots (PNG and SVG) drawn with plotters.
//!
//! Three charts, each from a plain input struct so callers need no plotters types: the hull
//! plot ([`HullPlot`]), per-frame quality over time ([`FramePlot`]) and the codec comparison
//! ([`ComparePlot`]). The format follows the file extension (`.png` or `.svg`). Text is drawn
//! with the bundled DejaVu Sans (assets/fonts) through plotters' `ab_glyph` feature, so the
//! output is the same on every machine and needs no system fonts or fontconfig.
//!
//! Files are written with [`fsutil::atomic_write`]: a failed render leaves nothing.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use crate::{fsutil, Error, Metric, Point, Result};

/// A ladder rung to mark on the hull plot.
#[derive(Debug, Clone, PartialEq)]
pub struct RungMark {
    pub width: u32,
    pub height: u32,
    pub kbps: f64,
    pub quality: f64,
    /// What the rung's own encode achieved, `(kbps, quality)`, when verified: drawn as a
    /// hollow marker joined to the prediction, so a miss is seen on the hull.
    pub achieved: Option<(f64, f64)>,
}

/// The rate-quality chart of a grid: one curve per resolution, the hull, the rungs.
#[derive(Debug, Clone)]
pub struct HullPlot {
    /// Shown on top; should name the clip and the codec.
    pub title: String,
    pub metric: Metric,
    /// Every grid point (grouped into curves by resolution; quality taken by `metric`).
    pub points: Vec<Point>,
    /// The hull as `(kbps, quality)`, drawn as a bold line.
    pub hull: Vec<(f64, f64)>,
    pub rungs: Vec<RungMark>,
}

/// Per-frame quality over time, one line per series (a rung or a chosen point), with the
/// title's shot cuts and chunk starts so a dip can be read against the shot it falls in.
#[derive(Debug, Clone)]
pub struct FramePlot {
    pub title: String,
    pub metric: Metric,
    /// Frame rate: with it the x axis is in seconds, without it in frames.
    pub fps: Option<f64>,
    pub series: Vec<FrameSeries>,
    /// Frames in the title: the x axis spans all of them even where no series has a score (a
    /// sampled run's last chunks). `None`: up to the last scored frame.
    pub title_frames: Option<u64>,
    /// First frames of the shots after the first (vertical light-grey lines).
    pub cuts: Vec<u64>,
    /// First frames of the chunks after the first (short ticks along the top edge).
    pub chunk_starts: Vec<u64>,
}

/// One line of a [`FramePlot`]: scores at source frame indices. The indices need not be
/// contiguous: a sampled run scores only its sampled chunks, and the line breaks over the gaps
/// instead of bridging unmeasured frames.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameSeries {
    pub label: String,
    /// Source frame index of each score, increasing.
    pub frames: Vec<u64>,
    pub values: Vec<f64>,
}

impl FrameSeries {
    /// Scores of frames `0..values.len()`.
    pub fn contiguous(label: impl Into<String>, values: Vec<f64>) -> FrameSeries {
        FrameSeries {
            label: label.into(),
            frames: (0..values.len() as u64).collect(),
            values,
        }
    }

    /// The finite `(frame, score)` points split where the frame step exceeds twice the median
    /// step (a gap between sampled chunks, not the scoring stride).
    fn segments(&self) -> Vec<Vec<(u64, f64)>> {
        let pts: Vec<(u64, f64)> = self
            .frames
            .iter()
            .copied()
            .zip(self.values.iter().copied())
            .collect();
        let mut steps: Vec<u64> = pts
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
            .collect();
        steps.sort_unstable();
        let limit = steps.get(steps.len() / 2).copied().unwrap_or(1).max(1) * 2;
        let mut out: Vec<Vec<(u64, f64)>> = Vec::new();
        let mut prev: Option<u64> = None;
        for (f, v) in pts {
            if prev.is_none_or(|p| f.saturating_sub(p) > limit) {
                out.push(Vec::new());
            }
            prev = Some(f);
            if v.is_finite() {
                if let Some(seg) = out.last_mut() {
                    seg.push((f, v));
                }
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }
}

/// Several codecs' hulls on one chart.
#[derive(Debug, Clone)]
pub struct ComparePlot {
    pub title: String,
    pub metric: Metric,
    pub curves: Vec<CompareCurve>,
}

/// One codec's curve on the comparison chart.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareCurve {
    /// Legend label, e.g. the codec name.
    pub label: String,
    /// The hull as `(kbps, quality)`.
    pub hull: Vec<(f64, f64)>,
    /// BD-rate in % against the reference curve; `None` for the reference itself.
    pub bd_rate_percent: Option<f64>,
}

/// Output size in pixels (PNG) or user units (SVG): large enough that 16-px labels stay
/// readable when the image is shown scaled down in a README.
pub const SIZE: (u32, u32) = (1280, 800);

/// Tableau-10 hues without its red (red marks the rungs) and with the pale yellow last, so
/// the first curves contrast well on white.
const PALETTE: [RGBColor; 9] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0xBA, 0xB0, 0xAC),
    RGBColor(0xED, 0xC9, 0x48),
];
const RUNG: RGBColor = RGBColor(0xC0, 0x1C, 0x28);
const HULL: RGBColor = RGBColor(0x20, 0x20, 0x20);
const FONT: &str = "sans-serif";

static FONT_REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Registers the bundled fonts with plotters once per process.
fn register_fonts() -> Result<()> {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *ONCE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_REGULAR).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, FONT_BOLD).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::data(
            "assets/fonts/DejaVuSans.ttf",
            "the bundled font could not be loaded",
        ))
    }
}

/// Draws the hull plot to `path` (`.png` or `.svg`).
pub fn render_hull(plot: &HullPlot, path: &Path) -> Result<()> {
    render(path, plot)
}

/// Draws the per-frame plot to `path` (`.png` or `.svg`).
pub fn render_frames(plot: &FramePlot, path: &Path) -> Result<()> {
    render(path, plot)
}

/// A metric's predictions against opinion scores (`eval`): one colour per content, the fitted
/// curve, the figures in a caption.
#[derive(Debug, Clone)]
pub struct ScatterPlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub points: Vec<ScatterPoint>,
    /// The fitted mapping, sampled, drawn as a line.
    pub curve: Vec<(f64, f64)>,
    /// Lines shown under the legend (the agreement figures).
    pub caption: Vec<String>,
}

/// One distorted video of a [`ScatterPlot`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub predicted: f64,
    pub opinion: f64,
    /// Points of one group (content) share a colour and a legend entry.
    pub group: String,
}

/// Draws the scatter plot to `path` (`.png` or `.svg`).
pub fn render_scatter(plot: &ScatterPlot, path: &Path) -> Result<()> {
    render(path, plot)
}

/// Draws the codec comparison to `path` (`.png` or `.svg`).
pub fn render_compare(plot: &ComparePlot, path: &Path) -> Result<()> {
    render(path, plot)
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A label's box in backend pixels, for keeping rung labels apart.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Rect {
    fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// The grid and label style every chart shares.
trait HouseStyle {
    fn house_style(&mut self) -> &mut Self;
}

impl<X, Y, DB> HouseStyle for plotters::chart::MeshStyle<'_, '_, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    fn house_style(&mut self) -> &mut Self {
        self.label_style((FONT, 16))
            .axis_desc_style((FONT, 20))
            .bold_line_style(RGBColor(0xD0, 0xD0, 0xD0))
            .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
            .max_light_lines(4)
    }
}

/// A chart that can draw itself on any plotters backend.
trait Chart {
    /// Fails early, before any file is touched, on input that cannot make a chart.
    fn check(&self) -> std::result::Result<(), String>;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Whether `path` names a format the plots are written in (`.png` or `.svg`): callers check
/// before the work whose result they will draw.
pub fn check_plot_path(path: &Path) -> Result<()> {
    match plot_ext(path).as_deref() {
        Some("png" | "svg") => Ok(()),
        _ => Err(unknown_format(path)),
    }
}

fn unknown_format(path: &Path) -> Error {
    Error::data(
        path.display().to_string(),
        "unknown plot format: the file name must end in .png or .svg",
    )
}

fn plot_ext(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

fn render(path: &Path, chart: &impl Chart) -> Result<()> {
    let what = path.display().to_string();
    chart.check().map_err(|m| Error::data(&what, m))?;
    register_fonts()?;
    match plot_ext(path).as_deref() {
        Some("png") => {
            let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                chart
                    .draw(&root)
                    .and_then(|_| root.present().map_err(Into::into))
                    .map_err(|e| cannot_draw(path, e.to_string()))?;
            }
            // The encoder and settings the bitmap backend's own file output uses.
            fsutil::atomic_write_with(path, |w| {
                use image::ImageEncoder;
                image::codecs::png::PngEncoder::new(w)
                    .write_image(&rgb, SIZE.0, SIZE.1, image::ColorType::Rgb8)
                    .map_err(std::io::Error::other)
            })
        }
        Some("svg") => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                chart
                    .draw(&root)
                    .and_then(|_| root.present().map_err(Into::into))
                    .map_err(|e| cannot_draw(path, e.to_string()))?;
            }
            fsutil::atomic_write(path, svg.as_bytes())
        }
        _ => Err(unknown_format(path)),
    }
}

fn cannot_draw(path: &Path, msg: String) -> Error {
    Error::data(
        path.display().to_string(),
        format!("cannot draw the plot: {msg}"),
    )
}

/// A logarithmic bitrate axis whose ticks are the "nice" values 1-2-5 (or 1…9 on a narrow
/// range) of each decade, which plotters' own log axis does not offer below its first decade.
#[derive(Clone)]
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    /// Spans `[min, max]` with a few percent of margin in log space.
    fn around(min: f64, max: f64) -> LogAxis {
        let (min, max) = if max > min {
            (min, max)
        } else {
            (min * 0.8, min * 1.25)
        };
        let pad = (max / min).powf(0.04);
        LogAxis {
            lo: min / pad,
            hi: max * pad,
        }
    }

    fn ticks(&self, mantissas: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        let mut decade = 10f64.powf(self.lo.log10().floor());
        while decade <= self.hi {
            for m in mantissas {
                let v = decade * m;
                if v >= self.lo && v <= self.hi {
                    out.push(v);
                }
            }
            decade *= 10.0;
        }
        out
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value / self.lo).ln() / (self.hi / self.lo).ln();
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let max = hint.max_num_points().max(2);
        let sets: [&[f64]; 5] = [
            &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
            &[1.0, 2.0, 5.0],
            &[1.0, 3.0],
            &[1.0],
        ];
        for set in sets {
            let t = self.ticks(set);
            if t.len() <= max {
                return t;
            }
        }
        self.ticks(&[1.0])
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// `1500` → "1.5k", `800` → "800", `12000` → "12k" (kbps tick labels).
fn kbps_label(v: f64) -> String {
    if v >= 1000.0 {
        let k = v / 1000.0;
        if (k - k.round()).abs() < 1e-6 {
            format!("{}k", k.round())
        } else {
            format!("{k:.1}k")
        }
    } else if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// Axis title of a metric.
fn metric_axis(metric: Metric) -> &'static str {
    metric.info().axis
}

/// A quality value as shown in labels, with the precision the metric needs.
pub fn fmt_quality(metric: Metric, q: f64) -> String {
    let i = metric.info();
    let v = format!("{q:.*}", i.label_digits);
    if metric == Metric::PsnrY {
        format!("{v} {}", i.unit)
    } else {
        format!("{} {v}", i.unit)
    }
}

fn tick_quality(metric: Metric, q: f64) -> String {
    format!("{q:.*}", metric.info().tick_digits)
}

/// A quality range around the data with 6% margin, clamped to the metric's scale.
fn quality_range(metric: Metric, values: impl Iterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return 0.0..1.0;
    }
    if hi - lo < 1e-9 {
        let d = if metric == Metric::Ssim { 0.01 } else { 1.0 };
        lo -= d;
        hi += d;
    }
    let pad = (hi - lo) * 0.06;
    let (floor, ceil) = metric.info().plot_range;
    (lo - pad).max(floor)..(hi + pad).min(ceil)
}

/// The chart panel and the legend panel.
type Panels<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// The frame layout shared by all charts: a bold title across the top, the chart on the left,
/// a legend panel on the right (outside the data, so it never hides a curve).
fn split<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> std::result::Result<Panels<DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    // Our own title band rather than `titled`: with ab_glyph plotters places glyphs above the
    // text box, which would clip the title at the top edge.
    let (band, body) = root.split_vertically(64);
    let (w, _) = band.dim_in_pixel();
    band.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, 36),
        (FONT, 28, FontStyle::Bold)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let (w, _) = body.dim_in_pixel();
    let (chart, legend) = body.split_horizontally(w.saturating_sub(300));
    Ok((chart, legend))
}

/// How a legend entry is drawn.
enum Swatch {
    /// A line with a point marker, in a colour, with a stroke width.
    Line(RGBColor, u32, bool),
    /// A rung marker.
    Rung,
    /// A verified encode's marker (a hollow circle).
    Achieved,
    /// No mark: a continuation line of the entry above.
    Blank,
}

/// Draws legend entries top-down in the right panel.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heading: &str,
    entries: &[(String, Swatch)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let text = (FONT, 18).into_font().color(&BLACK);
    let head = (FONT, 19, FontStyle::Bold).into_font().color(&BLACK);
    let x0 = 12;
    let mut y = 40;
    area.draw(&Text::new(heading.to_string(), (x0, y), head))?;
    y += 34;
    for (label, swatch) in entries {
        let cy = y + 6;
        match swatch {
            Swatch::Line(c, width, marker) => {
                area.draw(&PathElement::new(
                    vec![(x0, cy), (x0 + 36, cy)],
                    c.stroke_width(*width),
                ))?;
                if *marker {
                    area.draw(&Circle::new((x0 + 18, cy), 4, c.filled()))?;
                }
            }
            Swatch::Rung => {
                area.draw(&TriangleMarker::new((x0 + 18, cy), 8, RUNG.filled()))?;
            }
            Swatch::Achieved => {
                area.draw(&Circle::new((x0 + 18, cy), 7, RUNG.stroke_width(2)))?;
            }
            Swatch::Blank => {}
        }
        area.draw(&Text::new(label.clone(), (x0 + 46, y), text.clone()))?;
        y += 30;
    }
    Ok(())
}

/// A resolution and its `(kbps, quality)` points.
type ResolutionCurve = ((u32, u32), Vec<(f64, f64)>);

/// Groups the grid points into one `(kbps, quality)` curve per resolution, largest first.
fn curves_by_resolution(points: &[Point], metric: Metric) -> Vec<ResolutionCurve> {
    let mut by: BTreeMap<(u32, u32), Vec<(f64, f64)>> = BTreeMap::new();
    for p in points {
        let q = metric.of(p);
        if p.kbps.is_finite() && p.kbps > 0.0 && q.is_finite() {
            by.entry((p.width, p.height)).or_default().push((p.kbps, q));
        }
    }
    let mut out: Vec<_> = by.into_iter().collect();
    out.sort_by(|a, b| {
        (b.0 .0 * b.0 .1)
            .cmp(&(a.0 .0 * a.0 .1))
            .then(b.0.cmp(&a.0))
    });
    for (_, c) in &mut out {
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn rate_extent<'a>(rates: impl Iterator<Item = &'a f64>) -> Option<(f64, f64)> {
    let (lo, hi) = rates
        .filter(|r| r.is_finite() && **r > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &r| {
            (l.min(r), h.max(r))
        });
    (lo <= hi).then_some((lo, hi))
}

impl Chart for HullPlot {
    fn check(&self) -> std::result::Result<(), String> {
        if curves_by_resolution(&self.points, self.metric).is_empty() {
            return Err("hull plot: no point with a positive bitrate and a finite score".into());
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let m = self.metric;
        let curves = curves_by_resolution(&self.points, m);
        let all_rates = curves
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| &p.0))
            .chain(self.hull.iter().map(|p| &p.0))
            .chain(self.rungs.iter().map(|r| &r.kbps));
        let (rlo, rhi) = rate_extent(all_rates).ok_or("no positive bitrate")?;
        let qs = curves
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.1))
            .chain(self.hull.iter().map(|p| p.1))
            .chain(self.rungs.iter().map(|r| r.quality));
        let y = quality_range(m, qs);

        let (area, legend) = split(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(LogAxis::around(rlo, rhi), y)?;
        chart
            .configure_mesh()
            .x_desc("Bitrate (kbps, log scale)")
            .y_desc(metric_axis(m))
            .x_labels(12)
            .y_labels(10)
            .x_label_formatter(&|v| kbps_label(*v))
            .y_label_formatter(&|v| tick_quality(m, *v))
            .house_style()
            .draw()?;

        let mut legend_entries = Vec::new();
        for (i, ((w, h), pts)) in curves.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            legend_entries.push((format!("{w}×{h}"), Swatch::Line(c, 2, true)));
        }
        if !self.hull.is_empty() {
            let mut hull = self.hull.clone();
            hull.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(LineSeries::new(hull.iter().copied(), HULL.stroke_width(4)))?;
            legend_entries.push(("convex hull".to_string(), Swatch::Line(HULL, 4, false)));
            // The hull line covers the points it passes through: draw them again on top.
            for (i, (_, pts)) in curves.iter().enumerate() {
                let c = PALETTE[i % PALETTE.len()];
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            }
        }
        if !self.rungs.is_empty() {
            let label_font = (FONT, 15).into_font().color(&RUNG);
            let mut rungs = self.rungs.clone();
            rungs.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
            let (xr, yr) = chart.plotting_area().get_pixel_range();
            let markers: Vec<(i32, i32)> = rungs
                .iter()
                .map(|r| chart.backend_coord(&(r.kbps, r.quality)))
                .collect();
            let mut placed: Vec<Rect> = markers
                .iter()
                .map(|&(x, y)| Rect::new(x - 9, y - 9, 18, 18))
                .collect();
            for (r, &(px, py)) in rungs.iter().zip(&markers) {
                let label = format!(
                    "{}×{} · {:.0} kbps · {}",
                    r.width,
                    r.height,
                    r.kbps,
                    fmt_quality(m, r.quality)
                );
                let (tw, th) = label_font.font.box_size(&label).unwrap_or((0, 0));
                let (tw, th) = (tw as i32, th as i32);
                // Candidate places, best first: nothing lies above the hull, so up-left of the
                // marker; then below-right (the lowest rungs, near the left edge); then the
                // other corners and a step further out. The first that stays inside the chart
                // and clear of the other labels and markers wins.
                let candidates = [
                    (-10, -8, true, true),
                    (12, 4, false, false),
                    (-12, 6, true, false),
                    (10, -10, false, true),
                    (-10, -14 - th, true, true),
                    (12, 10 + th, false, false),
                ];
                let rect_of = |&(dx, dy, right, bottom): &(i32, i32, bool, bool)| {
                    let x = if right { px + dx - tw } else { px + dx };
                    let y = if bottom { py + dy - th } else { py + dy };
                    Rect::new(x, y, tw, th)
                };
                let inside = |b: &Rect| {
                    b.x >= xr.start && b.x + b.w <= xr.end && b.y >= yr.start && b.y + b.h <= yr.end
                };
                let chosen = candidates
                    .iter()
                    .find(|c| {
                        let b = rect_of(c);
                        inside(&b) && placed.iter().all(|p| !p.overlaps(&b))
                    })
                    .or_else(|| candidates.iter().find(|c| inside(&rect_of(c))))
                    .unwrap_or(&candidates[0]);
                let b = rect_of(chosen);
                placed.push(b);
                let (dx, dy, right, bottom) = *chosen;
                let h = if right { HPos::Right } else { HPos::Left };
                let v = if bottom { VPos::Bottom } else { VPos::Top };
                // A backing box, so curves passing under a label do not cross its text.
                let (bx, by) = (b.x - px - 3, b.y - py - 2);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((r.kbps, r.quality))
                        + Rectangle::new(
                            [(bx, by), (bx + b.w + 6, by + b.h + 4)],
                            WHITE.mix(0.85).filled(),
                        )
                        + TriangleMarker::new((0, 0), 9, RUNG.filled())
                        + Text::new(label, (dx, dy), label_font.clone().pos(Pos::new(h, v))),
                ))?;
            }
            legend_entries.push((format!("ladder rungs ({})", rungs.len()), Swatch::Rung));
            let achieved: Vec<(&RungMark, (f64, f64))> = rungs
                .iter()
                .filter_map(|r| r.achieved.map(|a| (r, a)))
                .collect();
            if !achieved.is_empty() {
                for (r, a) in &achieved {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(r.kbps, r.quality), *a],
                        RUNG.mix(0.6).stroke_width(1),
                    )))?;
                }
                chart.draw_series(
                    achieved
                        .iter()
                        .map(|(_, a)| Circle::new(*a, 7, RUNG.stroke_width(2))),
                )?;
                legend_entries.push(("verified encodes".to_string(), Swatch::Achieved));
            }
        }
        draw_legend(&legend, "Resolution", &legend_entries)?;
        Ok(())
    }
}

impl Chart for FramePlot {
    fn check(&self) -> std::result::Result<(), String> {
        if let Some(s) = self
            .series
            .iter()
            .find(|s| s.frames.len() != s.values.len())
        {
            return Err(format!(
                "per-frame plot: series {:?} has {} scores for {} frames",
                s.label,
                s.values.len(),
                s.frames.len()
            ));
        }
        if self
            .series
            .iter()
            .all(|s| s.values.iter().all(|x| !x.is_finite()))
        {
            return Err("per-frame plot: no series with a finite score".into());
        }
        if self.fps.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
            return Err("per-frame plot: the frame rate must be positive".into());
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let m = self.metric;
        let last = self
            .series
            .iter()
            .filter_map(|s| s.frames.last().copied())
            .max()
            .unwrap_or(0);
        let frames = self.title_frames.unwrap_or(0).max(last + 1);
        let step = self.fps.map(|f| 1.0 / f).unwrap_or(1.0);
        let x_max = ((frames.max(2) - 1) as f64 * step).max(step);
        let y = quality_range(m, self.series.iter().flat_map(|s| s.values.iter().copied()));
        let (y_lo, y_hi) = (y.start, y.end);

        let (area, legend) = split(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_max, y)?;
        let x_desc = if self.fps.is_some() {
            "Time (s)"
        } else {
            "Frame"
        };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(metric_axis(m))
            .x_labels(12)
            .y_labels(10)
            .y_label_formatter(&|v| tick_quality(m, *v))
            .x_label_formatter(&|v| {
                if step == 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .house_style()
            .draw()?;

        let mut entries = Vec::new();
        // Cuts and chunk ticks first, so the score lines are drawn over them.
        let x_of = |f: u64| f as f64 * step;
        let cuts: Vec<f64> = self
            .cuts
            .iter()
            .filter(|&&c| c > 0 && c < frames)
            .map(|&c| x_of(c))
            .collect();
        if cuts.len() <= MAX_DASHED_CUTS {
            chart.draw_series(cuts.iter().map(|&x| {
                DashedPathElement::new(vec![(x, y_lo), (x, y_hi)], 6, 5, CUT.stroke_width(1))
            }))?;
        } else {
            chart.draw_series(
                cuts.iter()
                    .map(|&x| PathElement::new(vec![(x, y_lo), (x, y_hi)], CUT.stroke_width(1))),
            )?;
        }
        if !cuts.is_empty() {
            entries.push((
                format!("shot cuts ({})", cuts.len()),
                Swatch::Line(CUT, 1, false),
            ));
        }
        let ticks: Vec<f64> = self
            .chunk_starts
            .iter()
            .filter(|&&c| c > 0 && c < frames)
            .map(|&c| x_of(c))
            .collect();
        let tick = (y_hi - y_lo) * 0.03;
        chart.draw_series(ticks.iter().map(|&x| {
            PathElement::new(vec![(x, y_hi), (x, y_hi - tick)], CHUNK.stroke_width(3))
        }))?;
        if !ticks.is_empty() {
            entries.push((
                format!("chunk starts ({}, top)", ticks.len()),
                Swatch::Line(CHUNK, 3, false),
            ));
        }

        let total: usize = self
            .series
            .iter()
            .map(|s| s.values.len())
            .sum::<usize>()
            .max(1);
        for (i, s) in self.series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let finite: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                continue;
            }
            // Every series shares the point budget in proportion to its length, and each
            // segment (a run of measured frames) is its own line.
            let budget = MAX_LINE_POINTS * s.values.len() / total;
            for seg in s.segments() {
                let max = (budget * seg.len() / s.values.len().max(1)).max(2);
                chart.draw_series(LineSeries::new(
                    decimate(&seg, max).into_iter().map(|(f, v)| (x_of(f), v)),
                    c.stroke_width(2),
                ))?;
            }
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            entries.push((s.label.clone(), Swatch::Line(c, 3, false)));
            entries.push((
                format!(
                    "   mean {}, min {}",
                    tick_quality_precise(m, mean),
                    tick_quality_precise(m, min)
                ),
                Swatch::Blank,
            ));
        }
        draw_legend(&legend, "Series", &entries)?;
        Ok(())
    }
}

/// More points per line than a chart has pixels only bloat the SVG; long titles are thinned to
/// this many, keeping each bucket's minimum and maximum so every dip stays visible.
const MAX_LINE_POINTS: usize = 2400;

/// Up to this many cuts are dashed; plotters draws each dash as an element of its own, so a
/// title with hundreds of shots gets plain lines instead of a very large SVG.
const MAX_DASHED_CUTS: usize = 64;

/// Shot cuts: light enough that the score lines stay in front.
const CUT: RGBColor = RGBColor(0xB4, 0xB4, 0xB4);
/// Chunk-start ticks: darker than the cuts, since most coincide with one.
const CHUNK: RGBColor = RGBColor(0x60, 0x60, 0x60);

/// The `(frame, value)` points (non-finite values dropped), thinned to at most `max` points
/// by keeping the minimum and maximum of each bucket of consecutive points (in frame order).
fn decimate(points: &[(u64, f64)], max: usize) -> Vec<(u64, f64)> {
    let finite: Vec<(u64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    if finite.len() <= max {
        return finite;
    }
    let bucket = finite.len().div_ceil((max / 2).max(1));
    let mut out = Vec::with_capacity(max);
    for chunk in finite.chunks(bucket) {
        let mut lo: Option<(u64, f64)> = None;
        let mut hi: Option<(u64, f64)> = None;
        for &p in chunk {
            if lo.is_none_or(|l| p.1 < l.1) {
                lo = Some(p);
            }
            if hi.is_none_or(|h| p.1 > h.1) {
                hi = Some(p);
            }
        }
        match (lo, hi) {
            (Some(l), Some(h)) if l.0 == h.0 => out.push(l),
            (Some(l), Some(h)) => {
                let (a, b) = if l.0 < h.0 { (l, h) } else { (h, l) };
                out.push(a);
                out.push(b);
            }
            _ => {}
        }
    }
    out
}

fn tick_quality_precise(metric: Metric, q: f64) -> String {
    format!("{q:.*}", metric.info().label_digits)
}

impl Chart for ComparePlot {
    fn check(&self) -> std::result::Result<(), String> {
        if rate_extent(self.curves.iter().flat_map(|c| c.hull.iter().map(|p| &p.0))).is_none() {
            return Err("comparison plot: no curve with a positive bitrate".into());
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let m = self.metric;
        let (rlo, rhi) = rate_extent(self.curves.iter().flat_map(|c| c.hull.iter().map(|p| &p.0)))
            .ok_or("no positive bitrate")?;
        let y = quality_range(
            m,
            self.curves.iter().flat_map(|c| c.hull.iter().map(|p| p.1)),
        );
        let (area, legend) = split(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(LogAxis::around(rlo, rhi), y)?;
        chart
            .configure_mesh()
            .x_desc("Bitrate (kbps, log scale)")
            .y_desc(metric_axis(m))
            .x_labels(12)
            .y_labels(10)
            .x_label_formatter(&|v| kbps_label(*v))
            .y_label_formatter(&|v| tick_quality(m, *v))
            .house_style()
            .draw()?;
        let mut entries = Vec::new();
        for (i, curve) in self.curves.iter().enumerate() {
            let (name, pts, bd) = (&curve.label, &curve.hull, &curve.bd_rate_percent);
            let c = PALETTE[i % PALETTE.len()];
            let mut pts: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|p| p.0 > 0.0 && p.0.is_finite() && p.1.is_finite())
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(3)))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 5, c.filled())))?;
            entries.push((name.clone(), Swatch::Line(c, 3, true)));
            let note = match bd {
                Some(v) if v.is_finite() => format!("   BD-rate {v:+.2} %"),
                Some(_) => "   BD-rate n/a".to_string(),
                None => "   reference".to_string(),
            };
            entries.push((note, Swatch::Blank));
        }
        draw_legend(&legend, "Codec (BD-rate vs ref.)", &entries)?;
        Ok(())
    }
}

/// `[lo, hi]` widened by 5 % on each side (or ±1 when flat).
fn padded(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    Some(lo - pad..hi + pad)
}

impl Chart for ScatterPlot {
    fn check(&self) -> std::result::Result<(), String> {
        let finite = |p: &ScatterPoint| p.predicted.is_finite() && p.opinion.is_finite();
        if !self.points.iter().any(finite) {
            return Err("scatter plot: no point with finite values".into());
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let x = padded(self.points.iter().map(|p| p.predicted)).ok_or("no finite point")?;
        let y = padded(
            self.points
                .iter()
                .map(|p| p.opinion)
                .chain(self.curve.iter().map(|c| c.1)),
        )
        .ok_or("no finite point")?;
        let (area, legend) = split(root, &self.title)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(10)
            .y_labels(10)
            .house_style()
            .draw()?;
        let curve: Vec<(f64, f64)> = self
            .curve
            .iter()
            .copied()
            .filter(|c| c.0.is_finite() && c.1.is_finite())
            .collect();
        chart.draw_series(LineSeries::new(curve, BLACK.stroke_width(2)))?;
        let mut groups: Vec<&str> = Vec::new();
        for p in &self.points {
            if !groups.contains(&p.group.as_str()) {
                groups.push(&p.group);
            }
        }
        let mut entries = Vec::new();
        for (k, g) in groups.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            chart.draw_series(
                self.points
                    .iter()
                    .filter(|p| p.group == *g && p.predicted.is_finite() && p.opinion.is_finite())
                    .map(|p| Circle::new((p.predicted, p.opinion), 5, c.filled())),
            )?;
            entries.push((g.to_string(), Swatch::Line(c, 0, true)));
        }
        entries.push(("logistic fit".to_string(), Swatch::Line(BLACK, 2, false)));
        entries.push((String::new(), Swatch::Blank));
        entries.extend(self.caption.iter().map(|l| (l.clone(), Swatch::Blank)));
        draw_legend(&legend, "Content", &entries)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_dips_and_bounds_points() {
        let mut v: Vec<(u64, f64)> = (0..10_000)
            .map(|i| (i, 90.0 + (i % 7) as f64 * 0.1))
            .collect();
        v[7777].1 = 12.0;
        v[100].1 = f64::NAN;
        let d = decimate(&v, 2000);
        assert!(d.len() <= 2000, "{}", d.len());
        assert!(d.contains(&(7777, 12.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(d.iter().all(|p| p.1.is_finite()));
        let short = decimate(&[(0, 1.0), (1, f64::NAN), (2, 3.0)], 2000);
        assert_eq!(short, vec![(0, 1.0), (2, 3.0)]);
    }

    #[test]
    fn series_break_over_unmeasured_frames_only() {
        // Two sampled chunks (frames 0..4 and 10..13): two lines; a NaN inside a chunk does
        // not break it.
        let s = FrameSeries {
            label: "a".into(),
            frames: vec![0, 1, 2, 3, 10, 11, 12],
            values: vec![1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0, 7.0],
        };
        let seg = s.segments();
        assert_eq!(seg.len(), 2, "{seg:?}");
        assert_eq!(seg[0], vec![(0, 1.0), (2, 3.0), (3, 4.0)]);
        assert_eq!(seg[1][0], (10, 5.0));
        // A regular stride (every 4th frame) is one line.
        let strided = FrameSeries {
            label: "b".into(),
            frames: vec![0, 4, 8, 12, 14, 18],
            values: vec![1.0; 6],
        };
        assert_eq!(strided.segments().len(), 1);
        assert_eq!(
            FrameSeries::contiguous("c", vec![1.0; 5]).segments().len(),
            1
        );
    }

    #[test]
    fn log_axis_ticks_are_nice() {
        let a = LogAxis {
            lo: 180.0,
            hi: 9000.0,
        };
        assert_eq!(
            a.key_points(12usize),
            vec![200.0, 300.0, 500.0, 700.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 7000.0]
        );
        assert_eq!(a.map(&180.0, (0, 100)), 0);
        assert_eq!(a.map(&9000.0, (0, 100)), 100);
        assert_eq!(kbps_label(1500.0), "1.5k");
        assert_eq!(kbps_label(700.0), "700");
    }
}
