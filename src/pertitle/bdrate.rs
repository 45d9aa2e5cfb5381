//! Bjøntegaard delta: how many bits curve B needs relative to curve A at equal quality
//! (BD-rate), and how much quality B gains at equal rate (BD-quality).
//!
//! Both integrate over the range where the two curves overlap, with log10 of the rate as the
//! rate axis:
//! - [`Method::Pchip`] (default) interpolates piecewise cubic Hermite with Fritsch–Carlson
//!   monotone slopes and integrates each piece exactly, as the JVET/AOM common-test-condition
//!   spreadsheets (`bdrint`/`pchipend`) and scipy's `PchipInterpolator` do;
//! - [`Method::Cubic`] fits one 3rd-order polynomial by least squares and integrates it
//!   analytically, as VCEG-M33 does.
//!
//! Anything that would make the number meaningless (too few points, no overlap, quality that
//! does not rise with rate) is an [`Error::Data`]; anything that makes it fragile (a small
//! overlap, a wiggly cubic fit) is a warning in [`BdResult::warnings`].

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::{Error, Metric, Result};

/// How the rate-quality curves are interpolated between the measured points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Piecewise cubic Hermite interpolation (JVET/AOM CTC).
    #[default]
    Pchip,
    /// One least-squares 3rd-order polynomial (VCEG-M33).
    Cubic,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Pchip => "pchip",
            Method::Cubic => "cubic",
        }
    }

    /// Accepts `pchip` and `cubic` (any case).
    pub fn parse(s: &str) -> Option<Method> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pchip" => Some(Method::Pchip),
            "cubic" | "polynomial" | "vceg" => Some(Method::Cubic),
            _ => None,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Fewest points per curve: both VCEG-M33's cubic and the CTC's PCHIP are defined on 4 rates.
pub const MIN_POINTS: usize = 4;

/// Below this fraction of either curve's own range, the overlap is reported as a warning: the
/// number then describes only a slice of the curves.
const SMALL_OVERLAP: f64 = 0.5;

/// One BD comparison of curve B against curve A.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BdResult {
    pub metric: Metric,
    pub method: Method,
    /// Average bitrate difference of B relative to A at equal quality, in percent (negative: B
    /// needs fewer bits).
    pub bd_rate_percent: f64,
    /// Average quality difference B − A at equal rate, in the metric's unit; `None` (with a
    /// warning) when the curves share no rate range.
    pub bd_quality: Option<f64>,
    /// The quality range both curves cover, over which the BD-rate is integrated.
    pub overlap: [f64; 2],
    /// The bitrate range (kbps) both curves cover, over which the BD-quality is integrated.
    pub rate_overlap: Option<[f64; 2]>,
    /// Points used per curve (after taking the hull of a points file).
    pub points_a: usize,
    pub points_b: usize,
    pub warnings: Vec<String>,
}

impl BdResult {
    /// A short human-readable summary, one fact per line (for a terminal; the library itself
    /// never prints).
    pub fn summary(&self) -> String {
        let m = self.metric.name();
        let direction = if self.bd_rate_percent < 0.0 {
            "B needs fewer bits than A"
        } else if self.bd_rate_percent > 0.0 {
            "B needs more bits than A"
        } else {
            "same rate"
        };
        let mut s = format!(
            "BD-rate ({}, {m}): {:+.3} % ({direction})\n",
            self.method, self.bd_rate_percent
        );
        match self.bd_quality {
            Some(q) => s += &format!("BD-{m}: {q:+.4}\n"),
            None => s += &format!("BD-{m}: undefined (no common bitrate range)\n"),
        }
        s += &format!("overlap: {m} {:.4}–{:.4}", self.overlap[0], self.overlap[1]);
        if let Some([lo, hi]) = self.rate_overlap {
            s += &format!(", {lo:.1}–{hi:.1} kbps");
        }
        s += &format!(" ({} points in A, {} in B)\n", self.points_a, self.points_b);
        for w in &self.warnings {
            s += &format!("warning: {w}\n");
        }
        s
    }
}

/// BD-rate and BD-quality of curve `b` against curve `a`, each a list of `(kbps, quality)`.
///
/// Points may come in any order; each curve must have at least [`MIN_POINTS`] points whose
/// quality rises strictly with rate (take the hull first for grid points).
pub fn bd_rate(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    metric: Metric,
    method: Method,
) -> Result<BdResult> {
    compare("curve A", a, "curve B", b, metric, method)
}

/// BD-rate of the curve in file `b` against the curve in file `a`; see [`read_curve`].
pub fn bd_rate_files(a: &Path, b: &Path, metric: Metric, method: Method) -> Result<BdResult> {
    let ca = read_curve(a, metric)?;
    let cb = read_curve(b, metric)?;
    compare(&label(a), &ca, &label(b), &cb, metric, method)
}

/// A file's name in messages; points files say that their hull is what was compared.
fn label(path: &Path) -> String {
    if is_json(path) {
        format!("{} (hull)", path.display())
    } else {
        path.display().to_string()
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The core comparison; `name_a`/`name_b` label the curves in messages.
pub fn compare(
    name_a: &str,
    a: &[(f64, f64)],
    name_b: &str,
    b: &[(f64, f64)],
    metric: Metric,
    method: Method,
) -> Result<BdResult> {
    let a = checked_curve(name_a, a, metric)?;
    let b = checked_curve(name_b, b, metric)?;
    let mut warnings = Vec::new();

    // BD-rate: log10(rate) as a function of quality over the common quality range.
    let (qa_lo, qa_hi) = (a[0].1, a[a.len() - 1].1);
    let (qb_lo, qb_hi) = (b[0].1, b[b.len() - 1].1);
    let lo = qa_lo.max(qb_lo);
    let hi = qa_hi.min(qb_hi);
    if lo >= hi {
        return Err(Error::data(
            format!("{name_a} vs {name_b}"),
            format!(
                "the {metric} ranges do not overlap ({name_a}: {qa_lo:.4}–{qa_hi:.4}, \
                 {name_b}: {qb_lo:.4}–{qb_hi:.4}); BD-rate is undefined"
            ),
        ));
    }
    overlap_warning(&mut warnings, metric.name(), lo, hi, name_a, qa_lo, qa_hi);
    overlap_warning(&mut warnings, metric.name(), lo, hi, name_b, qb_lo, qb_hi);

    let xa: Vec<f64> = a.iter().map(|p| p.1).collect();
    let ya: Vec<f64> = a.iter().map(|p| p.0.log10()).collect();
    let xb: Vec<f64> = b.iter().map(|p| p.1).collect();
    let yb: Vec<f64> = b.iter().map(|p| p.0.log10()).collect();
    let ia = integrate(method, &xa, &ya, lo, hi, name_a, "log-rate", &mut warnings);
    let ib = integrate(method, &xb, &yb, lo, hi, name_b, "log-rate", &mut warnings);
    let bd_rate_percent = (10f64.powf((ib - ia) / (hi - lo)) - 1.0) * 100.0;

    // BD-quality: quality as a function of log10(rate) over the common rate range.
    let (ra_lo, ra_hi) = (ya[0], ya[ya.len() - 1]);
    let (rb_lo, rb_hi) = (yb[0], yb[yb.len() - 1]);
    let rlo = ra_lo.max(rb_lo);
    let rhi = ra_hi.min(rb_hi);
    let (bd_quality, rate_overlap) = if rlo < rhi {
        let ja = integrate(method, &ya, &xa, rlo, rhi, name_a, "quality", &mut warnings);
        let jb = integrate(method, &yb, &xb, rlo, rhi, name_b, "quality", &mut warnings);
        (
            Some((jb - ja) / (rhi - rlo)),
            Some([10f64.powf(rlo), 10f64.powf(rhi)]),
        )
    } else {
        warnings.push(format!(
            "the bitrate ranges do not overlap ({name_a}: {:.1}–{:.1} kbps, {name_b}: \
             {:.1}–{:.1} kbps); BD-{metric} is undefined",
            10f64.powf(ra_lo),
            10f64.powf(ra_hi),
            10f64.powf(rb_lo),
            10f64.powf(rb_hi)
        ));
        (None, None)
    };

    if !bd_rate_percent.is_finite() || bd_quality.is_some_and(|q| !q.is_finite()) {
        return Err(Error::data(
            format!("{name_a} vs {name_b}"),
            "the BD integration did not give a finite number (degenerate curves)",
        ));
    }

    Ok(BdResult {
        metric,
        method,
        bd_rate_percent,
        bd_quality,
        overlap: [lo, hi],
        rate_overlap,
        points_a: a.len(),
        points_b: b.len(),
        warnings,
    })
}

fn overlap_warning(
    warnings: &mut Vec<String>,
    metric: &str,
    lo: f64,
    hi: f64,
    name: &str,
    own_lo: f64,
    own_hi: f64,
) {
    let frac = (hi - lo) / (own_hi - own_lo);
    if frac < SMALL_OVERLAP {
        warnings.push(format!(
            "the {metric} overlap {lo:.3}–{hi:.3} covers only {:.0}% of {name}'s range \
             {own_lo:.3}–{own_hi:.3}; the result describes that part only",
            frac * 100.0
        ));
    }
}

/// Validates a curve and returns it sorted by rate: enough points, finite positive rates,
/// finite qualities, quality strictly rising with rate (a function in both directions, which
/// both integrals need).
fn checked_curve(name: &str, pts: &[(f64, f64)], metric: Metric) -> Result<Vec<(f64, f64)>> {
    if pts.len() < MIN_POINTS {
        return Err(Error::data(
            name,
            format!(
                "{} point(s) on the curve; BD-rate needs at least {MIN_POINTS}",
                pts.len()
            ),
        ));
    }
    for &(r, q) in pts {
        if !(r.is_finite() && r > 0.0) {
            return Err(Error::data(
                name,
                format!("bitrate {r} kbps is not a positive number"),
            ));
        }
        if !q.is_finite() {
            return Err(Error::data(
                name,
                format!("{metric} value {q} is not a finite number"),
            ));
        }
    }
    let mut v = pts.to_vec();
    v.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    for w in v.windows(2) {
        if w[1].0 <= w[0].0 || w[1].1 <= w[0].1 {
            return Err(Error::data(
                name,
                format!(
                    "not monotone: ({:.3} kbps, {metric} {:.4}) then ({:.3} kbps, {metric} {:.4}); \
                     quality must rise strictly with bitrate (use the hull of the points)",
                    w[0].0, w[0].1, w[1].0, w[1].1
                ),
            ));
        }
    }
    Ok(v)
}

/// ∫ f over [lo, hi] where f interpolates (x, y), x strictly increasing.
#[allow(clippy::too_many_arguments)]
fn integrate(
    method: Method,
    x: &[f64],
    y: &[f64],
    lo: f64,
    hi: f64,
    name: &str,
    what: &str,
    warnings: &mut Vec<String>,
) -> f64 {
    match method {
        Method::Pchip => pchip_integral(x, y, lo, hi),
        Method::Cubic => {
            let fit = Cubic::fit(x, y);
            if !fit.is_monotone_on(lo, hi) {
                warnings.push(format!(
                    "the cubic fit of {name}'s {what} is not monotone over the overlap; \
                     PCHIP is the safer method here"
                ));
            }
            fit.integral(lo, hi)
        }
    }
}

/// Fritsch–Carlson end slope (`pchipend` of the CTC spreadsheet, scipy's `_edge_case`): the
/// one-sided three-point estimate, forced to keep the data's shape.
fn pchip_end(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() || m0 == 0.0 {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

/// Node slopes of the monotone piecewise cubic Hermite interpolant (Fritsch & Carlson 1980 with
/// the weighted harmonic mean of Fritsch & Butland, as MATLAB/scipy `pchip` and the CTC sheet).
fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let m: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();
    let mut d = vec![0.0; n];
    if n == 2 {
        d[0] = m[0];
        d[1] = m[0];
        return d;
    }
    for k in 1..n - 1 {
        if m[k - 1] * m[k] > 0.0 {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
        }
    }
    d[0] = pchip_end(h[0], h[1], m[0], m[1]);
    d[n - 1] = pchip_end(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    d
}

/// Exact integral of the PCHIP interpolant over [lo, hi] ⊆ [x0, xn]: each Hermite piece is
/// y_i + d_i s + c_i s² + b_i s³ with s = x − x_i, integrated in closed form.
fn pchip_integral(x: &[f64], y: &[f64], lo: f64, hi: f64) -> f64 {
    let d = pchip_slopes(x, y);
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let h = x[i + 1] - x[i];
        let delta = (y[i + 1] - y[i]) / h;
        let c = (3.0 * delta - 2.0 * d[i] - d[i + 1]) / h;
        let b = (d[i] - 2.0 * delta + d[i + 1]) / (h * h);
        let s0 = lo.clamp(x[i], x[i + 1]) - x[i];
        let s1 = hi.clamp(x[i], x[i + 1]) - x[i];
        if s1 > s0 {
            let prim = |s: f64| s * (y[i] + s * (d[i] / 2.0 + s * (c / 3.0 + s * b / 4.0)));
            total += prim(s1) - prim(s0);
        }
    }
    total
}

/// A least-squares cubic in a centred, scaled variable t = (x − shift)/scale, which keeps the
/// normal equations well conditioned (what numpy's `polyfit` achieves with column scaling).
struct Cubic {
    shift: f64,
    scale: f64,
    /// c[0] + c[1] t + c[2] t² + c[3] t³
    c: [f64; 4],
}

impl Cubic {
    fn fit(x: &[f64], y: &[f64]) -> Cubic {
        let n = x.len() as f64;
        let shift = x.iter().sum::<f64>() / n;
        let scale = x
            .iter()
            .map(|v| (v - shift).abs())
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        // Normal equations A c = r with A_jk = Σ t^(j+k), r_j = Σ y t^j.
        let mut a = [[0.0f64; 5]; 4];
        for (&xi, &yi) in x.iter().zip(y) {
            let t = (xi - shift) / scale;
            let pw = [
                1.0,
                t,
                t * t,
                t * t * t,
                t * t * t * t,
                t.powi(5),
                t.powi(6),
            ];
            for j in 0..4 {
                for k in 0..4 {
                    a[j][k] += pw[j + k];
                }
                a[j][4] += yi * pw[j];
            }
        }
        // Gaussian elimination with partial pivoting on the 4×5 augmented matrix.
        for col in 0..4 {
            let piv = (col..4)
                .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
                .unwrap_or(col);
            a.swap(col, piv);
            let pivot_row = a[col];
            for row in a.iter_mut().skip(col + 1) {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
        let mut c = [0.0; 4];
        for row in (0..4).rev() {
            let s: f64 = (row + 1..4).map(|k| a[row][k] * c[k]).sum();
            c[row] = (a[row][4] - s) / a[row][row];
        }
        Cubic { shift, scale, c }
    }

    fn antiderivative_t(&self, t: f64) -> f64 {
        let c = &self.c;
        t * (c[0] + t * (c[1] / 2.0 + t * (c[2] / 3.0 + t * c[3] / 4.0)))
    }

    /// ∫ p(x) dx over [lo, hi] = scale · ∫ p(t) dt.
    fn integral(&self, lo: f64, hi: f64) -> f64 {
        let t0 = (lo - self.shift) / self.scale;
        let t1 = (hi - self.shift) / self.scale;
        self.scale * (self.antiderivative_t(t1) - self.antiderivative_t(t0))
    }

    /// Whether the derivative keeps one sign on [lo, hi] (checked at the ends and at the
    /// derivative's real roots inside).
    fn is_monotone_on(&self, lo: f64, hi: f64) -> bool {
        let c = &self.c;
        let t0 = (lo - self.shift) / self.scale;
        let t1 = (hi - self.shift) / self.scale;
        let dp = |t: f64| c[1] + 2.0 * c[2] * t + 3.0 * c[3] * t * t;
        let mut samples = vec![t0, t1];
        // p'(t) = 3c3 t² + 2c2 t + c1: its extremum at t = −c2/(3c3) is where a sign change
        // inside the interval would show.
        if c[3] != 0.0 {
            samples.push(-c[2] / (3.0 * c[3]));
        }
        let signs: Vec<f64> = samples
            .into_iter()
            .filter(|t| (t0..=t1).contains(t))
            .map(dp)
            .collect();
        signs.iter().all(|&v| v >= 0.0) || signs.iter().all(|&v| v <= 0.0)
    }
}

/// Reads a rate-quality curve from a file: a `points.json` (its upper convex hull on `metric`
/// is used) or a CSV with a header naming `kbps` and the metric's column. The format is chosen
/// by the extension (`.json` / anything else is CSV).
pub fn read_curve(path: &Path, metric: Metric) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let what = path.display().to_string();
    if is_json(path) {
        parse_points_json(&text, &what, metric)
    } else {
        parse_csv(&text, &what, metric)
    }
}

/// The hull of a points file's `(kbps, metric)` points. Accepts a JSON array of points or an
/// object holding one under `points`; only `kbps` and the metric's field are read, so files
/// written by other tools with the same field names work too.
pub fn parse_points_json(text: &str, what: &str, metric: Metric) -> Result<Vec<(f64, f64)>> {
    let (arr, _) = crate::points::points_file_values(text, what)?;
    let mut pts = Vec::with_capacity(arr.len());
    for (i, p) in arr.iter().enumerate() {
        let field = |name: &str| -> Result<f64> {
            p.get(name).and_then(|v| v.as_f64()).ok_or_else(|| {
                Error::data(what, format!("point {i} has no numeric `{name}` field"))
            })
        };
        pts.push((field("kbps")?, field(metric.name())?));
    }
    Ok(crate::hull::upper_hull_pairs(&pts))
}

/// Reads `(kbps, metric)` rows from CSV text with a header line. `psnr` is accepted for
/// `psnr_y`. When the file holds several resolutions (`width`/`height` columns with more than
/// one value, as a `points.csv` does), their upper hull is used, as for `points.json`;
/// otherwise the rows are taken as the curve itself.
pub fn parse_csv(text: &str, what: &str, metric: Metric) -> Result<Vec<(f64, f64)>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(Error::data(what, "empty CSV file (no header line)"));
    };
    let cols: Vec<String> = split_csv(header)
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| names.iter().find_map(|n| cols.iter().position(|c| c == n));
    let rate_col = find(&["kbps"]).ok_or_else(|| {
        Error::data(
            what,
            format!("no `kbps` column in the CSV header ({})", cols.join(",")),
        )
    })?;
    let info = metric.info();
    let metric_names: Vec<&str> = std::iter::once(metric.name())
        .chain(info.aliases.iter().copied())
        .collect();
    let q_col = find(&metric_names).ok_or_else(|| {
        Error::data(
            what,
            format!(
                "no `{}` column in the CSV header ({})",
                metric.name(),
                cols.join(",")
            ),
        )
    })?;
    let res_cols = (find(&["width"]), find(&["height"]));
    let mut pts = Vec::new();
    let mut sizes = std::collections::BTreeSet::new();
    for (ln, line) in lines {
        let cells = split_csv(line);
        let cell = |col: usize, name: &str| -> Result<f64> {
            let raw = cells.get(col).map(|s| s.as_str()).unwrap_or("");
            raw.parse::<f64>().map_err(|_| {
                Error::data(
                    what,
                    format!("line {}: `{name}` value '{raw}' is not a number", ln + 1),
                )
            })
        };
        pts.push((cell(rate_col, "kbps")?, cell(q_col, metric.name())?));
        if let (Some(w), Some(h)) = res_cols {
            sizes.insert((
                cells.get(w).cloned().unwrap_or_default(),
                cells.get(h).cloned().unwrap_or_default(),
            ));
        }
    }
    if pts.is_empty() {
        return Err(Error::data(what, "no data rows after the CSV header"));
    }
    Ok(if sizes.len() > 1 {
        crate::hull::upper_hull_pairs(&pts)
    } else {
        pts
    })
}

/// Splits one CSV line, honouring double-quoted cells; cells are trimmed.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_matches_published_example() {
        let pts = [
            (300.0, 40.0),
            (600.0, 55.0),
            (1200.0, 66.0),
            (2400.0, 72.0),
            (250.0, 45.0),
            (500.0, 60.0),
            (1000.0, 70.0),
            (2000.0, 76.0),
            (200.0, 48.0),
            (400.0, 62.0),
            (800.0, 69.0),
            (1600.0, 73.0),
            (3000.0, 71.0),
        ];
        assert_eq!(
            crate::hull::upper_hull_pairs(&pts),
            vec![(200.0, 48.0), (400.0, 62.0), (800.0, 69.0), (2000.0, 76.0)]
        );
    }

    #[test]
    fn pchip_reproduces_cubic_data_on_linear_data() {
        // PCHIP of a straight line is the line itself.
        let x = [0.0, 1.0, 3.0, 4.0];
        let y = [1.0, 3.0, 7.0, 9.0];
        let i = pchip_integral(&x, &y, 0.5, 3.5);
        let exact = |t: f64| t * t + t;
        assert!((i - (exact(3.5) - exact(0.5))).abs() < 1e-12);
    }

    #[test]
    fn cubic_fit_interpolates_four_points() {
        let x = [30.0, 33.0, 37.0, 41.0];
        let f = |t: f64| 0.5 - 0.1 * t + 0.003 * t * t + 1e-5 * t * t * t;
        let y: Vec<f64> = x.iter().map(|&t| f(t)).collect();
        let c = Cubic::fit(&x, &y);
        let prim = |t: f64| 0.5 * t - 0.05 * t * t + 0.001 * t.powi(3) + 2.5e-6 * t.powi(4);
        assert!((c.integral(31.0, 40.0) - (prim(40.0) - prim(31.0))).abs() < 1e-9);
    }

    #[test]
    fn csv_splits_quotes() {
        assert_eq!(split_csv(r#"a, "b,c" ,"d""e""#), vec!["a", "b,c", "d\"e"]);
    }
}
