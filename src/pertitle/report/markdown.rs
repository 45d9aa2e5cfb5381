//! The per-run report: `report.md` and a self-contained `report.html` (plots embedded as
//! base64 PNG) in the output directory.
//!
//! Both are rendered from one small document model built from [`ReportData`], so the two
//! always say the same thing. The input is plain data (strings, numbers, [`Point`]s) so the
//! caller's own ladder and recipe types stay out of this module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::bdrate::{BdResult, Method};
use crate::chunks::Chunk;
use crate::sample::{ErrorEstimate, SampledChunk};
use crate::shots::Shot;
use crate::{Error, Metric, Point, Result};

/// Everything a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Report heading, e.g. the clip's name.
    pub title: String,
    /// Source facts in display order: ("Path", "…"), ("Size", "1280×720"), ("Frame rate", …).
    pub source: Vec<(String, String)>,
    /// Grid settings in display order: ("Codec", "libx264"), ("Preset", "medium"), ("CRF", …).
    pub grid: Vec<(String, String)>,
    /// The metric the hull and ladder were built on.
    pub metric: Option<Metric>,
    /// Every grid point (all codecs when comparing).
    pub points: Vec<Point>,
    /// The hull's points, in rate order (all codecs when comparing).
    pub hull: Vec<Point>,
    pub rungs: Vec<RungRow>,
    /// BD-rate rows, when codecs (or runs) are compared.
    pub bd_rates: Vec<BdRow>,
    /// Plot files (relative to the report's directory), shown in this order.
    pub plots: Vec<PlotRef>,
    /// Warnings and remarks shown at the end.
    pub notes: Vec<String>,
    /// The title's shots and chunks (a run that detected shots).
    pub shots: Option<ShotsSection>,
}

/// What the "Shots and chunks" section shows: the cuts the chunks were planned from, and for a
/// sampled run which chunks stood for the title, so a reader can judge what was encoded.
#[derive(Debug, Clone, Default)]
pub struct ShotsSection {
    /// Frames per second, for times (must be positive).
    pub fps: f64,
    pub shots: Vec<Shot>,
    /// The detector's settings in one line.
    pub detector: String,
    pub chunks: Vec<Chunk>,
    /// The recipe's chunk length limits (`chunking.min_seconds`, `max_seconds`).
    pub min_seconds: f64,
    pub max_seconds: f64,
    pub sample: Option<SampleSection>,
    /// The files holding the full lists, as named in the report's directory.
    pub files: Vec<String>,
}

/// A sampled run's chunks, share of the title and error estimate.
#[derive(Debug, Clone)]
pub struct SampleSection {
    pub chunks: Vec<SampledChunk>,
    /// Frames encoded per point, and their share of the title.
    pub frames: u64,
    pub fraction: f64,
    /// On the hull (median over its points).
    pub error: ErrorEstimate,
}

/// Shot rows shown at most: a long title has hundreds, and shots.csv has them all.
pub const MAX_SHOT_ROWS: usize = 50;

/// One ladder rung as a table row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RungRow {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub kbps: f64,
    /// Peak rate (HLS: ≤ 2× the average), when known.
    pub maxrate_kbps: Option<f64>,
    pub crf: Option<f64>,
    pub vmaf: Option<f64>,
    pub psnr_y: Option<f64>,
    pub ssim: Option<f64>,
    /// Whether `kbps` is a target the encoder is held to (two-pass) rather than the bitrate
    /// predicted for a CRF (capped CRF, where only `maxrate_kbps` is enforced).
    pub kbps_is_target: bool,
    /// What the rung's own encode achieved (`--verify`).
    pub verified: Option<crate::ladder::Verified>,
    /// The commands producing it.
    pub commands: Vec<String>,
}

/// One BD comparison as a table row: `codec` against `reference`.
#[derive(Debug, Clone, PartialEq)]
pub struct BdRow {
    pub reference: String,
    pub codec: String,
    pub metric: Metric,
    pub method: Method,
    pub bd_rate_percent: Option<f64>,
    pub bd_quality: Option<f64>,
    /// Warnings, or why there is no number.
    pub note: String,
}

impl BdRow {
    /// A row from a BD computation's outcome; an error becomes the row's note, not a number.
    pub fn from_result(
        reference: &str,
        codec: &str,
        metric: Metric,
        method: Method,
        r: &Result<BdResult>,
    ) -> BdRow {
        match r {
            Ok(b) => BdRow {
                reference: reference.to_string(),
                codec: codec.to_string(),
                metric,
                method,
                bd_rate_percent: Some(b.bd_rate_percent),
                bd_quality: b.bd_quality,
                note: b.warnings.join("; "),
            },
            Err(e) => BdRow {
                reference: reference.to_string(),
                codec: codec.to_string(),
                metric,
                method,
                bd_rate_percent: None,
                bd_quality: None,
                note: e.to_string(),
            },
        }
    }
}

/// A plot to embed: a PNG (embedded in HTML, linked in Markdown) and optionally its SVG.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlotRef {
    pub caption: String,
    /// File name relative to the report's directory.
    pub png: String,
    pub svg: Option<String>,
}

/// A table cell; `strong` cells are bold (hull points in the grid, for instance).
#[derive(Debug, Clone, PartialEq)]
struct Cell {
    text: String,
    strong: bool,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            strong: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    Image(PlotRef),
    /// Preformatted lines (commands).
    Code(Vec<String>),
}

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

/// A table's column headings.
fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| num(v, digits)).unwrap_or_else(|| "–".into())
}

/// CRF as written by a user: `23`, `23.5`.
fn crf(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn quality_digits(m: Metric) -> usize {
    m.info().table_digits
}

/// The document, section by section.
fn document(d: &ReportData) -> Vec<Block> {
    let metric = d.metric.unwrap_or(Metric::Vmaf);
    let mut out = vec![Block::Heading(1, format!("pertitle report: {}", d.title))];
    out.push(Block::Para(format!(
        "Written by pertitle {}. Bitrates are video-bitstream kbit/s (1 kbit = 1000 bit); \
         scores are pooled means after bicubic upscaling to the source size; the hull and \
         ladder use {}.",
        crate::VERSION,
        metric.name()
    )));

    if !d.source.is_empty() {
        out.push(Block::Heading(2, "Source".into()));
        out.push(kv_table(&d.source));
    }
    if !d.grid.is_empty() {
        out.push(Block::Heading(2, "Grid".into()));
        out.push(kv_table(&d.grid));
    }

    if !d.rungs.is_empty() {
        out.push(Block::Heading(2, "Ladder".into()));
        let targets = d.rungs.iter().all(|r| r.kbps_is_target);
        out.push(Block::Para(if targets {
            "Target kbps: the two-pass average each rung is encoded at; Max kbps: its VBV cap."
                .into()
        } else {
            "Capped CRF: kbps is the average the grid predicts at the rung's CRF (the encoder \
             decides); Max kbps is the cap it is held to."
                .into()
        }));
        let head = columns(&[
            "Rung",
            "Codec",
            "Resolution",
            if targets {
                "Target kbps"
            } else {
                "kbps (predicted)"
            },
            "Max kbps",
            "CRF",
            "VMAF",
            "PSNR-Y (dB)",
            "SSIM",
        ]);
        let rows = d
            .rungs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    (i + 1).to_string().into(),
                    r.codec.clone().into(),
                    format!("{}×{}", r.width, r.height).into(),
                    num(r.kbps, 0).into(),
                    opt(r.maxrate_kbps, 0).into(),
                    r.crf.map(crf).unwrap_or_else(|| "–".into()).into(),
                    opt(r.vmaf, 2).into(),
                    opt(r.psnr_y, 2).into(),
                    opt(r.ssim, 4).into(),
                ]
            })
            .collect();
        out.push(Block::Table { head, rows });
        if d.rungs.iter().any(|r| r.verified.is_some()) {
            out.push(Block::Heading(3, "Verified: predicted vs achieved".into()));
            out.push(Block::Para(format!(
                "Each rung encoded exactly as its commands say (whole title) and scored. \
                 Peak: the highest bitrate over any keyframe interval. Error: achieved − \
                 predicted {}.",
                metric.name()
            )));
            let head = columns(&[
                "Rung",
                "Resolution",
                "kbps",
                "Achieved kbps",
                "Peak kbps",
                "Predicted",
                "Achieved",
                "Error",
                "Encodes",
            ]);
            let rows = d
                .rungs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let v = r.verified.as_ref()?;
                    let achieved = v.achieved(metric);
                    let digits = quality_digits(metric);
                    Some(vec![
                        (i + 1).to_string().into(),
                        format!("{}×{}", r.width, r.height).into(),
                        num(r.kbps, 0).into(),
                        num(v.kbps, 1).into(),
                        num(v.peak_kbps, 1).into(),
                        num(achieved - v.error, digits).into(),
                        num(achieved, digits).into(),
                        format!("{:+.digits$}", v.error).into(),
                        v.encodes.to_string().into(),
                    ])
                })
                .collect();
            out.push(Block::Table { head, rows });
        }
        let commands: Vec<String> = d
            .rungs
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                let mut v = vec![format!("# rung {}", i + 1)];
                v.extend(r.commands.iter().cloned());
                v
            })
            .collect();
        if d.rungs.iter().any(|r| !r.commands.is_empty()) {
            out.push(Block::Heading(3, "Commands".into()));
            out.push(Block::Code(commands));
        }
    }

    let codecs: BTreeSet<&str> = d.points.iter().map(|p| p.codec.as_str()).collect();
    if !d.points.is_empty() {
        out.push(Block::Heading(2, "Grid results".into()));
        out.push(Block::Para(format!(
            "Each cell: bitrate in kbps · {} (bold: on the convex hull).",
            metric.name()
        )));
        for codec in &codecs {
            if codecs.len() > 1 {
                out.push(Block::Heading(3, codec.to_string()));
            }
            out.push(grid_table(d, codec, metric));
        }
    }

    if !d.hull.is_empty() {
        out.push(Block::Heading(2, "Convex hull".into()));
        let many = d
            .hull
            .iter()
            .map(|p| &p.codec)
            .collect::<BTreeSet<_>>()
            .len()
            > 1;
        let mut head = Vec::new();
        if many {
            head.push("Codec".to_string());
        }
        head.extend(columns(&[
            "Resolution",
            "CRF",
            "kbps",
            "VMAF",
            "PSNR-Y (dB)",
            "SSIM",
        ]));
        let mut hull: Vec<&Point> = d.hull.iter().collect();
        hull.sort_by(|a, b| a.codec.cmp(&b.codec).then(a.kbps.total_cmp(&b.kbps)));
        let rows = hull
            .iter()
            .map(|p| {
                let mut r: Vec<Cell> = Vec::new();
                if many {
                    r.push(p.codec.clone().into());
                }
                r.extend([
                    format!("{}×{}", p.width, p.height).into(),
                    crf(p.crf).into(),
                    num(p.kbps, 0).into(),
                    num(p.vmaf, 2).into(),
                    num(p.psnr_y, 2).into(),
                    num(p.ssim, 4).into(),
                ]);
                r
            })
            .collect();
        out.push(Block::Table { head, rows });
    }

    if !d.bd_rates.is_empty() {
        out.push(Block::Heading(2, "BD-rate".into()));
        out.push(Block::Para(
            "BD-rate: average bitrate difference at equal quality over the overlapping \
             quality range (negative: fewer bits than the reference). BD-quality: average \
             score difference at equal bitrate."
                .into(),
        ));
        let head = columns(&[
            "Codec",
            "Reference",
            "Metric",
            "Method",
            "BD-rate (%)",
            "BD-quality",
            "Notes",
        ]);
        let rows = d
            .bd_rates
            .iter()
            .map(|b| {
                vec![
                    b.codec.clone().into(),
                    b.reference.clone().into(),
                    b.metric.name().to_string().into(),
                    b.method.name().to_string().into(),
                    Cell {
                        text: b
                            .bd_rate_percent
                            .map(|v| format!("{v:+.2}"))
                            .unwrap_or_else(|| "–".into()),
                        strong: true,
                    },
                    b.bd_quality
                        .map(|v| format!("{v:+.*}", quality_digits(b.metric)))
                        .unwrap_or_else(|| "–".into())
                        .into(),
                    b.note.clone().into(),
                ]
            })
            .collect();
        out.push(Block::Table { head, rows });
    }

    if let Some(sh) = &d.shots {
        out.extend(shots_section(sh, metric));
    }

    if !d.plots.is_empty() {
        out.push(Block::Heading(2, "Plots".into()));
        out.extend(d.plots.iter().cloned().map(Block::Image));
    }
    if !d.notes.is_empty() {
        out.push(Block::Heading(2, "Notes".into()));
        out.push(Block::List(d.notes.clone()));
    }
    out
}

/// Seconds with two decimals (frame-exact at up to 100 fps is not needed: the frame is given).
fn secs(frames: u64, fps: f64) -> String {
    num(frames as f64 / fps, 2)
}

fn shots_section(sh: &ShotsSection, metric: Metric) -> Vec<Block> {
    let fps = sh.fps;
    let mut out = vec![Block::Heading(2, "Shots and chunks".into())];
    let (lo, hi) = sh
        .chunks
        .iter()
        .map(|c| c.frames)
        .fold((u64::MAX, 0), |(l, h), f| (l.min(f), h.max(f)));
    let lengths = if sh.chunks.is_empty() {
        String::new()
    } else if lo == hi {
        format!(" of {} s", secs(lo, fps))
    } else {
        format!(" of {}–{} s", secs(lo, fps), secs(hi, fps))
    };
    out.push(Block::Para(format!(
        "{} shots, encoded as {} chunks{lengths} (limits {}–{} s from the recipe's \
         [chunking]: shots are merged up to the minimum and split beyond the maximum). \
         Detector: {}.",
        sh.shots.len(),
        sh.chunks.len(),
        num(sh.min_seconds, 1),
        num(sh.max_seconds, 1),
        sh.detector
    )));
    if !sh.files.is_empty() {
        out.push(Block::Para(format!("Full lists: {}.", sh.files.join(", "))));
    }
    let head = columns(&[
        "Shot",
        "Start (s)",
        "Start frame",
        "Length (s)",
        "Frames",
        "Cut score",
    ]);
    let rows = sh
        .shots
        .iter()
        .take(MAX_SHOT_ROWS)
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string().into(),
                secs(s.start, fps).into(),
                s.start.to_string().into(),
                secs(s.frames, fps).into(),
                s.frames.to_string().into(),
                if i == 0 {
                    "–".to_string()
                } else {
                    num(s.score, 2)
                }
                .into(),
            ]
        })
        .collect();
    out.push(Block::Table { head, rows });
    if sh.shots.len() > MAX_SHOT_ROWS {
        out.push(Block::Para(format!(
            "The first {MAX_SHOT_ROWS} of {} shots; shots.csv lists them all.",
            sh.shots.len()
        )));
    }
    if let Some(smp) = &sh.sample {
        out.push(Block::Heading(3, "Sample".into()));
        let total: u64 = sh.chunks.iter().map(|c| c.frames).sum();
        out.push(Block::Para(format!(
            "Each point was encoded on {} of the {} chunks: {} of {} frames, {} % of the \
             title. Each sampled chunk stands for its stratum (chunks of similar complexity; \
             0 = simplest) with the weight shown. Estimated error on the hull (median \
             standard error over its points): ±{} % kbps, ±{} {}.",
            smp.chunks.len(),
            sh.chunks.len(),
            smp.frames,
            total,
            num(smp.fraction * 100.0, 1),
            num(smp.error.kbps_rel * 100.0, 1),
            num(smp.error.quality, quality_digits(metric)),
            metric.name()
        )));
        let head = columns(&[
            "Chunk",
            "Start (s)",
            "Length (s)",
            "Frames",
            "Stratum",
            "Weight",
        ]);
        let rows = smp
            .chunks
            .iter()
            .map(|p| {
                let c = sh.chunks.get(p.chunk);
                vec![
                    p.chunk.to_string().into(),
                    c.map(|c| secs(c.start, fps))
                        .unwrap_or_else(|| "–".into())
                        .into(),
                    c.map(|c| secs(c.frames, fps))
                        .unwrap_or_else(|| "–".into())
                        .into(),
                    c.map(|c| c.frames.to_string())
                        .unwrap_or_else(|| "–".into())
                        .into(),
                    p.stratum.to_string().into(),
                    num(p.weight, 3).into(),
                ]
            })
            .collect();
        out.push(Block::Table { head, rows });
    }
    out
}

fn kv_table(kv: &[(String, String)]) -> Block {
    Block::Table {
        head: vec!["".into(), "".into()],
        rows: kv
            .iter()
            .map(|(k, v)| {
                vec![
                    Cell {
                        text: k.clone(),
                        strong: true,
                    },
                    v.clone().into(),
                ]
            })
            .collect(),
    }
}

/// Resolution × CRF matrix of one codec's points.
fn grid_table(d: &ReportData, codec: &str, metric: Metric) -> Block {
    let pts: Vec<&Point> = d.points.iter().filter(|p| p.codec == codec).collect();
    let crfs: BTreeSet<u64> = pts.iter().map(|p| p.crf.to_bits()).collect();
    let mut crfs: Vec<f64> = crfs.into_iter().map(f64::from_bits).collect();
    crfs.sort_by(f64::total_cmp);
    let mut by_res: BTreeMap<(u32, u32), Vec<&Point>> = BTreeMap::new();
    for p in &pts {
        by_res.entry((p.width, p.height)).or_default().push(p);
    }
    let on_hull = |p: &Point| {
        p.on_hull
            || d.hull.iter().any(|h| {
                h.codec == p.codec && h.width == p.width && h.height == p.height && h.crf == p.crf
            })
    };
    let mut head = vec!["Resolution".to_string()];
    head.extend(crfs.iter().map(|c| format!("CRF {}", crf(*c))));
    let rows = by_res
        .iter()
        .rev()
        .map(|(&(w, h), ps)| {
            let mut row: Vec<Cell> = vec![format!("{w}×{h}").into()];
            for c in &crfs {
                row.push(match ps.iter().find(|p| p.crf == *c) {
                    Some(p) => Cell {
                        text: format!(
                            "{} · {}",
                            num(p.kbps, 0),
                            num(metric.of(p), quality_digits(metric))
                        ),
                        strong: on_hull(p),
                    },
                    None => "–".to_string().into(),
                });
            }
            row
        })
        .collect();
    Block::Table { head, rows }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown (plots linked by their relative file names).
pub fn markdown(d: &ReportData) -> String {
    let mut s = String::new();
    for b in document(d) {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "{} {}\n", "#".repeat(level as usize), md_escape(&t));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "{}\n", md_escape(&t));
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(s, "- {}", md_escape(&i));
                }
                s.push('\n');
            }
            Block::Table { head, rows } => {
                let _ = writeln!(
                    s,
                    "| {} |",
                    head.iter()
                        .map(|h| md_escape(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let cells: Vec<String> = r
                        .iter()
                        .map(|c| {
                            let t = md_escape(&c.text);
                            if c.strong && !t.is_empty() {
                                format!("**{t}**")
                            } else {
                                t
                            }
                        })
                        .collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
                s.push('\n');
            }
            Block::Code(lines) => {
                let _ = writeln!(s, "```sh\n{}\n```\n", lines.join("\n"));
            }
            Block::Image(p) => {
                let _ = writeln!(s, "![{}]({})\n", md_escape(&p.caption), p.png);
                match &p.svg {
                    Some(svg) => {
                        let _ = writeln!(s, "*{}* ([SVG]({svg}))\n", md_escape(&p.caption));
                    }
                    None => {
                        let _ = writeln!(s, "*{}*\n", md_escape(&p.caption));
                    }
                }
            }
        }
    }
    s
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Standard base64 (RFC 4648, with padding): the only encoding the HTML report needs.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1300px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\
thead.kv{display:none}img{max-width:100%;border:1px solid #ddd}\
figure{margin:1em 0 2em}figcaption{color:#555;font-style:italic}";

/// The report as one HTML file with every plot's PNG embedded (read from `dir`).
pub fn html(d: &ReportData, dir: &Path) -> Result<String> {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>pertitle report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        html_escape(&d.title)
    );
    for b in document(d) {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "<h{level}>{}</h{level}>", html_escape(&t));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "<p>{}</p>", html_escape(&t));
            }
            Block::List(items) => {
                s.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(s, "<li>{}</li>", html_escape(&i));
                }
                s.push_str("</ul>\n");
            }
            Block::Table { head, rows } => {
                let kv = head.iter().all(|h| h.is_empty());
                s.push_str("<table>\n");
                let _ = writeln!(
                    s,
                    "<thead{}><tr>{}</tr></thead>",
                    if kv { " class=\"kv\"" } else { "" },
                    head.iter()
                        .map(|h| format!("<th>{}</th>", html_escape(h)))
                        .collect::<String>()
                );
                s.push_str("<tbody>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for c in r {
                        if c.strong {
                            let _ = write!(s, "<td><b>{}</b></td>", html_escape(&c.text));
                        } else {
                            let _ = write!(s, "<td>{}</td>", html_escape(&c.text));
                        }
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</tbody>\n</table>\n");
            }
            Block::Code(lines) => {
                let _ = writeln!(s, "<pre>{}</pre>", html_escape(&lines.join("\n")));
            }
            Block::Image(p) => {
                let path = dir.join(&p.png);
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    return Err(Error::data(
                        path.display().to_string(),
                        "not a PNG file; the HTML report embeds PNG plots only",
                    ));
                }
                let _ = writeln!(
                    s,
                    "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\">\
                     <figcaption>{}</figcaption></figure>",
                    html_escape(&p.caption),
                    base64(&bytes),
                    html_escape(&p.caption)
                );
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    Ok(s)
}

/// Writes `report.md` and `report.html` into `dir` (each atomically: temp file + rename) and
/// returns their paths. The plots named in `d.plots` must already be in `dir`.
pub fn write_report(d: &ReportData, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let html = html(d, dir)?;
    let md_path = dir.join("report.md");
    let html_path = dir.join("report.html");
    crate::fsutil::atomic_write(&md_path, markdown(d).as_bytes())?;
    crate::fsutil::atomic_write(&html_path, html.as_bytes())?;
    Ok((md_path, html_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn crf_is_printed_as_written() {
        assert_eq!(crf(23.0), "23");
        assert_eq!(crf(23.5), "23.5");
        assert_eq!(crf(27.25), "27.25");
    }
}
