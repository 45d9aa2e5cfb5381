//! `--search fast`: the rate-quality hull from a fraction of the size × CRF grid.
//!
//! The full grid encodes every size at every CRF, yet only the points on the convex hull matter
//! to the ladder, and they form a narrow "staircase" through the grid: the largest size at the
//! lowest CRFs, smaller sizes at higher CRFs. What the hull is judged by is BD-rate (PCHIP, the
//! mean log-rate over the hull's quality range): the search spends its encodes where they are
//! predicted to move that integral most.
//!
//! 1. **Anchors** (one round): the largest size at the lowest CRF (the grid's best quality,
//!    always a hull point) and the smallest size at the highest CRF (the lowest bitrate, always
//!    a hull point), which fix the hull's quality range; the CRF neighbour of each of these two
//!    along its own size's curve, because PCHIP's end slopes are one-sided three-point
//!    estimates, so a long first or last hull segment bends the whole end of the curve (on the
//!    measured grids these two probes decided more of the BD-rate than any others); and every
//!    size at the middle CRF, where resolutions hand over to each other on x264 grids (which
//!    sizes are worth exploring is decided there).
//! 2. **Refinement** (rounds of a few probes each): every unprobed CRF next to a probed one of
//!    the same size (the bisection step in the CRF list) is a candidate. Its log-bitrate and
//!    quality are predicted from that size's own probes: inside a bracket linearly in CRF (CRF
//!    is close to linear in log-rate: +6 CRF ≈ half the bits for x264), with a parabola when a
//!    third probe shows the bend. Outside its probed CRFs the size is extrapolated from its
//!    nearest probe along its own adjacent segment, the rate per CRF bounded to 0.5–1.5× the
//!    codec's prior (a line through two probes is far off where a noisy source's rate explodes
//!    at low CRF); a size with a single probe borrows the per-CRF slopes of another size's
//!    segment that starts at about the same quality (at equal quality, sizes lose bits and
//!    quality per CRF step alike), or moves parallel to the hull when there is none. A
//!    candidate's *value* is what BD-rate integrates: how much it would lower the hull's mean
//!    log-rate over the hull's quality range, with the hull rebuilt with it
//!    (`bd_change`), so a point that would drop existing vertices counts over the whole span
//!    it lifts and a point below the hull counts nothing. A round takes the best candidates one
//!    at a time, each pick's prediction counted as if measured before choosing the next
//!    ("believer" batch selection), so a round of several probes does not spend two on the same
//!    hull segment; ties go by size then CRF, so the search is deterministic and independent of
//!    the machine. The round is encoded together in one runner call (the caller's), in parallel,
//!    and the hull is updated.
//! 3. **Stop** when no candidate is predicted to lower the mean log-rate by at least
//!    [`FastOptions::min_gain`] or the encode budget ([`FastOptions::max_fraction`] of the
//!    grid) is spent. A size whose probes lie clearly below the hull yields candidates with no
//!    value, so it is no longer explored.
//!
//! On a 3-size × 6-CRF grid the budget (7 of 18) is exactly the anchors; larger grids leave
//! rounds for refinement (5 sizes × 6 CRFs: 9 anchors, 3 refined). A grid whose hull is the
//! smallest size at nearly every CRF is the hard case: the anchors can place only some of its
//! points. `examples/fast_search.rs` measures the fast hull against the full grid's (BD-rate),
//! and `examples/search_replay.rs` replays the search on a stored grid without encoding.
//!
//! Every probe is an ordinary grid task at a CRF of the recipe's list (so CRFs are always valid
//! for the codec, results are stored and shared with full-grid runs, and a fast hull whose
//! points include the full hull's corners *is* the full hull). Same inputs, same probes.

use crate::error::{Error, Result};
use crate::points::{Metric, Point};
use std::collections::BTreeMap;

/// Knobs of the fast search.
#[derive(Debug, Clone, PartialEq)]
pub struct FastOptions {
    /// Most encodes, as a fraction of the full grid (sizes × CRFs); at least one per size is
    /// always allowed.
    pub max_fraction: f64,
    /// Probes per refinement round (run in parallel in one pipeline call). Fixed rather than
    /// taken from the thread count, so the probes do not depend on the machine.
    pub batch: usize,
    /// Smallest predicted drop of the hull's mean log-rate over its quality range (what
    /// BD-rate integrates; 0.002 ≈ 0.2 %) still worth an encode.
    pub min_gain: f64,
}

impl FastOptions {
    /// Errors name the option that is out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.max_fraction > 0.0 && self.max_fraction <= 1.0) {
            return Err(Error::config(
                "search.max_fraction",
                format!("{} is not in (0, 1]", self.max_fraction),
            ));
        }
        Ok(())
    }
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            max_fraction: 0.4,
            batch: 2,
            min_gain: 0.002,
        }
    }
}

/// What the fast search did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchStats {
    /// Grid points probed (each an encode, unless the store had it).
    pub probes: usize,
    /// Points of the full grid (sizes × CRFs).
    pub grid: usize,
    /// Encode budget (see [`FastOptions::max_fraction`]).
    pub budget: usize,
    /// Rounds of probes (anchors included).
    pub rounds: usize,
    /// Probes actually encoded in this run (the rest came from the store).
    pub encoded: usize,
}

impl SearchStats {
    /// One line for reports: probes against the full grid.
    pub fn summary(&self) -> String {
        format!(
            "fast search: {} of the full grid's {} encodes ({:.0} %) in {} rounds",
            self.probes,
            self.grid,
            100.0 * self.probes as f64 / self.grid.max(1) as f64,
            self.rounds
        )
    }
}

/// One probed grid point as the planner sees it: indices into the size list (largest first) and
/// the sorted CRF list, and its bitrate and quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub size: usize,
    pub crf: usize,
    pub kbps: f64,
    pub quality: f64,
}

/// The first round, in priority order (a budget smaller than the round keeps its head): the
/// grid's two guaranteed hull points — the largest size at the lowest CRF (best quality) and the
/// smallest size at the highest CRF (lowest bitrate) — then their CRF neighbours along their own
/// sizes' curves (PCHIP's end slopes rest on them), then every size at the middle CRF, where on
/// x264 grids the resolutions hand over to each other (which sizes are worth exploring is
/// decided there). `sizes` and `crfs` are counts; returns (size index, CRF index) pairs, each
/// once.
pub fn anchors(sizes: usize, crfs: usize) -> Vec<(usize, usize)> {
    if sizes == 0 || crfs == 0 {
        return Vec::new();
    }
    let mid = (crfs - 1) / 2;
    let mut v = vec![(0, 0), (sizes - 1, crfs - 1)];
    if crfs >= 3 {
        v.extend([(0, 1), (sizes - 1, crfs - 2)]);
    }
    v.extend((0..sizes).map(|s| (s, mid)));
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|p| seen.insert(*p));
    v
}

/// Rate slope (d ln kbps / d CRF) assumed before any size has two probes: H.264/HEVC's quantiser
/// step doubles every 6 QP (ITU-T H.264 §8.6.1), and CRF tracks QP, so bits roughly halve.
/// VP9/AV1 CRFs span 0–63 for a similar quantiser range, so the slope is scaled by 51/63.
fn prior_rate_slope(codec: &str) -> f64 {
    let per6 = -std::f64::consts::LN_2 / 6.0;
    match crate::codecs::profile(codec).crf_range.1 {
        hi if hi.is_finite() && hi > 51.0 => per6 * 51.0 / hi,
        _ => per6,
    }
}

/// The upper hull of the probes in linear bitrate, as (kbps, quality) by increasing kbps.
fn hull_of(probes: &[Probe]) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = probes.iter().map(|p| (p.kbps, p.quality)).collect();
    crate::hull::upper_hull_pairs(&pts)
}

/// Slope dq / d ln(kbps) of the hull around quality `q`, on the side a probe moves to
/// (`down` = toward lower rates). `None` for a hull of a single point.
fn hull_log_slope(h: &[(f64, f64)], q: f64, down: bool) -> Option<f64> {
    if h.len() < 2 {
        return None;
    }
    let seg = |j: usize| {
        let (a, b) = (h[j], h[j + 1]);
        (b.1 - a.1) / (b.0.ln() - a.0.ln())
    };
    let n = h.len() - 1;
    let j = if down {
        // The segment just below q.
        h.iter()
            .position(|p| p.1 >= q)
            .unwrap_or(n)
            .saturating_sub(1)
    } else {
        h.iter()
            .rposition(|p| p.1 <= q)
            .unwrap_or(0)
            .min(n.saturating_sub(1))
    };
    Some(seg(j.min(n - 1)))
}

/// Log-rate saved by a point `(kbps, q)` against the hull at equal quality (positive: the point
/// would lift the hull). Outside the hull's quality range: the saving against its nearest end
/// when the point is cheaper than that end, else nothing.
fn gain(h: &[(f64, f64)], kbps: f64, q: f64) -> f64 {
    let (Some(first), Some(last)) = (h.first(), h.last()) else {
        return 0.0;
    };
    if q > last.1 {
        return (last.0.ln() - kbps.ln()).max(0.0);
    }
    if q < first.1 {
        return (first.0.ln() - kbps.ln()).max(0.0);
    }
    match crate::hull::kbps_at(h, q) {
        Some(k) => k.ln() - kbps.ln(),
        None => 0.0,
    }
}

/// How much adding a point `(kbps, q)` would lower the hull's mean log-rate over its quality
/// range (the quantity BD-rate integrates; 0.01 ≈ 1 %): the hull is rebuilt with the point, so a
/// point that would drop existing vertices counts over the whole span it lifts, and a point
/// below the hull counts 0. Integrated with the midpoint rule on [`BD_SAMPLES`] qualities.
fn bd_change(h: &[(f64, f64)], kbps: f64, q: f64) -> f64 {
    let (Some(first), Some(last)) = (h.first(), h.last()) else {
        return 0.0;
    };
    let (lo, hi) = (first.1, last.1);
    if h.len() < 2 || hi <= lo || !(kbps > 0.0 && q.is_finite()) {
        return gain(h, kbps, q).max(0.0);
    }
    let mut with: Vec<(f64, f64)> = h.to_vec();
    with.push((kbps, q));
    let lifted = crate::hull::upper_hull_pairs(&with);
    if !lifted.contains(&(kbps, q)) {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..BD_SAMPLES {
        let x = lo + (hi - lo) * (i as f64 + 0.5) / BD_SAMPLES as f64;
        // Below the lifted hull's lowest quality (the point moved the low end up in rate
        // terms) nothing changes; above it the old hull applies.
        if let (Some(a), Some(b)) = (crate::hull::kbps_at(h, x), crate::hull::kbps_at(&lifted, x)) {
            sum += (a.ln() - b.ln()).max(0.0);
        }
    }
    sum / BD_SAMPLES as f64
}

/// Quality samples for [`bd_change`]: enough that a lift over one VMAF point of a 50-point range
/// is seen (a few samples), few enough to score every candidate cheaply.
const BD_SAMPLES: usize = 256;

/// Linear interpolation/extrapolation at `x` through (x0, y0), (x1, y1).
fn line(x0: f64, y0: f64, x1: f64, y1: f64, x: f64) -> f64 {
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// The parabola through three points (distinct xs), at `x` (Lagrange form).
fn parabola(xs: [f64; 3], ys: [f64; 3], x: f64) -> f64 {
    let mut sum = 0.0;
    for i in 0..3 {
        let mut w = 1.0;
        for j in 0..3 {
            if i != j {
                w *= (x - xs[j]) / (xs[i] - xs[j]);
            }
        }
        sum += w * ys[i];
    }
    sum
}

/// Predicted (ln kbps, quality) of size `s` at CRF value `c`, from the probes.
fn predict(
    probes: &[Probe],
    crfs: &[f64],
    s: usize,
    c: f64,
    h: &[(f64, f64)],
    prior_slope: f64,
) -> Option<(f64, f64)> {
    let mut own: Vec<&Probe> = probes.iter().filter(|p| p.size == s).collect();
    own.sort_by_key(|a| a.crf);
    let cv = |p: &Probe| crfs[p.crf];
    if own.len() >= 2 {
        // Bracketing pair if there is one, else the two nearest on the one side.
        let below = own.iter().rposition(|p| cv(p) < c);
        let above = own.iter().position(|p| cv(p) > c);
        if let (Some(i), Some(j)) = (below, above) {
            let (a, b) = (own[i], own[j]);
            let mut lr = line(cv(a), a.kbps.ln(), cv(b), b.kbps.ln(), c);
            let mut q = line(cv(a), a.quality, cv(b), b.quality, c);
            // Inside a bracket with a third probe beside it: the parabola through the three
            // follows the curve's bend (quality falls faster at high CRF), kept within the
            // bracket so the prediction stays monotone.
            let third = [i.checked_sub(1), Some(j + 1).filter(|&k| k < own.len())]
                .into_iter()
                .flatten()
                .min_by(|&x, &y| (cv(own[x]) - c).abs().total_cmp(&(cv(own[y]) - c).abs()));
            if let Some(k) = third {
                let t = own[k];
                let xs = [cv(a), cv(b), cv(t)];
                lr = parabola(xs, [a.kbps.ln(), b.kbps.ln(), t.kbps.ln()], c)
                    .clamp(b.kbps.ln(), a.kbps.ln());
                q = parabola(xs, [a.quality, b.quality, t.quality], c)
                    .clamp(b.quality.min(a.quality), b.quality.max(a.quality));
            }
            return Some((lr, q));
        }
    }
    // Outside the size's probed CRFs: extrapolate from its nearest probe. A line through the
    // size's own two nearest probes is unreliable here (at low CRF a noisy source's bitrate
    // explodes, so the step toward higher CRF would be predicted far too cheap), hence:
    let p0 = *own.iter().min_by(|a, b| {
        (cv(a) - c)
            .abs()
            .total_cmp(&(cv(b) - c).abs())
            .then(a.crf.cmp(&b.crf))
    })?;
    let down = c > cv(p0);
    // With an own segment next to it: that segment's quality per CRF (the size's own curve)
    // and its rate per CRF kept within half to one and a half times the codec's prior
    // (measured x264 grids: 0.5–1.3×).
    let dc = c - cv(p0);
    let own_seg = own
        .windows(2)
        .find(|w| w[0].crf == p0.crf || w[1].crf == p0.crf)
        .map(|w| {
            let d = cv(w[1]) - cv(w[0]);
            let r = (w[1].kbps.ln() - w[0].kbps.ln()) / d;
            (
                r.clamp(1.5 * prior_slope, 0.5 * prior_slope),
                (w[1].quality - w[0].quality) / d,
            )
        })
        .filter(|(r, q)| r.is_finite() && q.is_finite());
    if let Some((rs, qs)) = own_seg {
        return Some((p0.kbps.ln() + rs * dc, p0.quality + qs * dc));
    }
    // Slopes per CRF from another size's segment that starts at about this quality and runs the
    // same way: at equal quality, sizes lose quality and bits per CRF step alike (measured on
    // x264 grids: within ~20 %), far more alike than at equal CRF.
    let mut best: Option<(f64, usize, f64, f64)> = None;
    for t in 0..probes.iter().map(|p| p.size + 1).max().unwrap_or(0) {
        if t == s {
            continue;
        }
        let mut other: Vec<&Probe> = probes.iter().filter(|p| p.size == t).collect();
        other.sort_by_key(|a| a.crf);
        for w in other.windows(2) {
            let (a, b) = (w[0], w[1]);
            let start = if down { a.quality } else { b.quality };
            let dist = (start - p0.quality).abs();
            let key = (dist, t.abs_diff(s));
            if best.is_none_or(|(d, ts, _, _)| key < (d, ts)) {
                let dc = cv(b) - cv(a);
                best = Some((
                    dist,
                    t.abs_diff(s),
                    (b.kbps.ln() - a.kbps.ln()) / dc,
                    (b.quality - a.quality) / dc,
                ));
            }
        }
    }
    match best {
        Some((_, _, rs, qs)) => Some((p0.kbps.ln() + rs * dc, p0.quality + qs * dc)),
        None => {
            // Nothing to borrow (no other size has two probes): the codec's rate prior, and
            // the quality moving parallel to the current hull (in log-rate).
            let dlr = prior_slope * dc;
            let qs = hull_log_slope(h, p0.quality, down)?;
            Some((p0.kbps.ln() + dlr, p0.quality + qs * dlr))
        }
    }
}

/// The next round's probes: up to `batch` unprobed (size, CRF index) pairs next to probed CRFs
/// of the same size, largest predicted BD-rate change (`bd_change`) first; empty when none is
/// predicted to change it by at least `min_gain`. The batch is chosen greedily as a sequential
/// search would choose it, taking each pick's prediction as if it had been measured ("believer"
/// batch selection): so a round does not spend two probes on the same hull segment when the
/// first is predicted to settle it. `crfs` sorted ascending; `sizes` the number of sizes.
/// Deterministic.
pub fn next_round(
    probes: &[Probe],
    sizes: usize,
    crfs: &[f64],
    codec: &str,
    batch: usize,
    min_gain: f64,
) -> Vec<(usize, usize)> {
    let prior = prior_rate_slope(codec);
    let mut known: Vec<Probe> = probes.to_vec();
    let mut picked = Vec::new();
    while picked.len() < batch {
        let h = hull_of(&known);
        let probed = |s: usize, j: usize| known.iter().any(|p| p.size == s && p.crf == j);
        let mut best: Option<(f64, usize, usize, f64, f64)> = None;
        for s in 0..sizes {
            for j in 0..crfs.len() {
                if probed(s, j) {
                    continue;
                }
                let next_to =
                    (j > 0 && probed(s, j - 1)) || (j + 1 < crfs.len() && probed(s, j + 1));
                if !next_to {
                    continue;
                }
                if let Some((lr, q)) = predict(&known, crfs, s, crfs[j], &h, prior) {
                    let g = bd_change(&h, lr.exp(), q);
                    // Ties by size then CRF (the loop order): strictly greater replaces.
                    if g.is_finite() && g >= min_gain && best.is_none_or(|b| g > b.0) {
                        best = Some((g, s, j, lr.exp(), q));
                    }
                }
            }
        }
        let Some((_, s, j, kbps, quality)) = best else {
            break;
        };
        picked.push((s, j));
        known.push(Probe {
            size: s,
            crf: j,
            kbps,
            quality,
        });
    }
    picked
}

/// The search loop: anchors, then refinement rounds until the budget is spent or nothing is
/// predicted to gain. `measure` encodes one round's (size, CRF index) pairs and returns their
/// (kbps, quality) in the same order. Returns the probes in probe order and the rounds run.
pub fn drive(
    sizes: usize,
    crfs: &[f64],
    codec: &str,
    budget: usize,
    batch: usize,
    min_gain: f64,
    mut measure: impl FnMut(&[(usize, usize)]) -> Result<Vec<(f64, f64)>>,
) -> Result<(Vec<Probe>, usize)> {
    let mut probes: Vec<Probe> = Vec::new();
    let mut rounds = 0;
    let mut wanted = anchors(sizes, crfs.len());
    wanted.truncate(budget);
    while !wanted.is_empty() {
        rounds += 1;
        let got = measure(&wanted)?;
        for (&(s, j), (kbps, quality)) in wanted.iter().zip(got) {
            probes.push(Probe {
                size: s,
                crf: j,
                kbps,
                quality,
            });
        }
        let left = budget.saturating_sub(probes.len());
        if left == 0 {
            break;
        }
        wanted = next_round(&probes, sizes, crfs, codec, batch.min(left), min_gain);
    }
    Ok((probes, rounds))
}

/// The grid as the search sees it: sizes largest first (by area, then width: deterministic
/// whatever order they are listed in), CRFs ascending, each once.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchGrid {
    pub sizes: Vec<(u32, u32)>,
    pub crfs: Vec<f64>,
}

impl SearchGrid {
    pub fn new(
        sizes: impl IntoIterator<Item = (u32, u32)>,
        crfs: impl IntoIterator<Item = f64>,
    ) -> SearchGrid {
        let mut sizes: Vec<(u32, u32)> = sizes.into_iter().collect();
        sizes.sort_by(|a, b| {
            (b.0 as u64 * b.1 as u64)
                .cmp(&(a.0 as u64 * a.1 as u64))
                .then(b.0.cmp(&a.0))
        });
        sizes.dedup();
        let mut crfs: Vec<f64> = crfs.into_iter().collect();
        crfs.sort_by(f64::total_cmp);
        crfs.dedup();
        SearchGrid { sizes, crfs }
    }

    /// Points of the full grid.
    pub fn len(&self) -> usize {
        self.sizes.len() * self.crfs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Most encodes the search may spend: `max_fraction` of the grid, at least one per size.
    pub fn budget(&self, fast: &FastOptions) -> usize {
        let grid = self.len();
        ((fast.max_fraction * grid as f64 + 1e-9).floor() as usize)
            .max(self.sizes.len().min(grid))
            .min(grid)
    }

    /// Runs the search. `measure` computes one round's probes, given as (size, CRF), and returns
    /// what it made of each (`T`) with its (kbps, quality), in the same order. Returns the
    /// probes' `T`s in plan order (sizes largest first, then CRF) and what the search did
    /// (`encoded` left 0: only the caller knows what its store had).
    pub fn search<T>(
        &self,
        codec: &str,
        fast: &FastOptions,
        mut measure: impl FnMut(&[((u32, u32), f64)]) -> Result<(Vec<T>, Vec<(f64, f64)>)>,
    ) -> Result<(Vec<T>, SearchStats)> {
        fast.validate()?;
        let budget = self.budget(fast);
        let mut made: Vec<T> = Vec::new();
        let (probes, rounds) = drive(
            self.sizes.len(),
            &self.crfs,
            codec,
            budget,
            fast.batch.max(1),
            fast.min_gain,
            |round| {
                let at: Vec<((u32, u32), f64)> = round
                    .iter()
                    .map(|&(s, j)| (self.sizes[s], self.crfs[j]))
                    .collect();
                let (done, measured) = measure(&at)?;
                made.extend(done);
                Ok(measured)
            },
        )?;
        let order: BTreeMap<(usize, usize), usize> = probes
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.size, p.crf), i))
            .collect();
        let mut slots: Vec<Option<T>> = made.into_iter().map(Some).collect();
        let made: Vec<T> = order.values().filter_map(|&i| slots[i].take()).collect();
        let stats = SearchStats {
            probes: made.len(),
            grid: self.len(),
            budget,
            rounds,
            encoded: 0,
        };
        Ok((made, stats))
    }
}

/// Replays the search over an already measured grid (e.g. a full grid's `points.json`): which
/// points it would probe, without encoding, in plan order. `points` of one codec. Errors when
/// the search asks for a point the set does not have.
pub fn replay(
    points: &[Point],
    metric: Metric,
    codec: &str,
    fast: &FastOptions,
) -> Result<Vec<Point>> {
    let grid = SearchGrid::new(
        points.iter().map(|p| (p.width, p.height)),
        points.iter().map(|p| p.crf),
    );
    let (picked, _) = grid.search(codec, fast, |round| {
        let picked = round
            .iter()
            .map(|&((w, h), crf)| {
                points
                    .iter()
                    .find(|p| (p.width, p.height) == (w, h) && p.crf == crf)
                    .cloned()
                    .ok_or_else(|| Error::data("points", format!("no point {w}x{h} crf {crf}")))
            })
            .collect::<Result<Vec<Point>>>()?;
        let measured = picked.iter().map(|p| (p.kbps, metric.of(p))).collect();
        Ok((picked, measured))
    })?;
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_the_ends_their_neighbours_and_the_middle_column() {
        assert_eq!(
            anchors(5, 6),
            vec![
                (0, 0),
                (4, 5),
                (0, 1),
                (4, 4),
                (0, 2),
                (1, 2),
                (2, 2),
                (3, 2),
                (4, 2)
            ]
        );
        assert_eq!(
            anchors(3, 6),
            vec![(0, 0), (2, 5), (0, 1), (2, 4), (0, 2), (1, 2), (2, 2)]
        );
        assert_eq!(anchors(1, 6), vec![(0, 0), (0, 5), (0, 1), (0, 4), (0, 2)]);
        assert_eq!(anchors(2, 3), vec![(0, 0), (1, 2), (0, 1), (1, 1)]);
        assert_eq!(anchors(2, 1), vec![(0, 0), (1, 0)]);
        assert!(anchors(0, 3).is_empty());
    }

    /// A synthetic family of rate-quality curves with crossing sizes: bigger sizes cost more bits
    /// at the same CRF and reach higher quality, but saturate.
    fn synth(s: usize, crf: f64) -> (f64, f64) {
        let area: f64 = [1.0, 0.5625, 0.36, 0.25, 0.140625][s];
        let kbps =
            6000.0 * area.powf(0.75) * (-(std::f64::consts::LN_2 / 6.0) * (crf - 20.0)).exp();
        let ceiling = 100.0 - 45.0 * (1.0 - area.sqrt());
        let q = ceiling * (1.0 - (-kbps / (900.0 * area.sqrt())).exp());
        (kbps, q)
    }

    fn full_hull(crfs: &[f64]) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        for s in 0..5 {
            for &c in crfs {
                pts.push(synth(s, c));
            }
        }
        crate::hull::upper_hull_pairs(&pts)
    }

    fn simulate(crfs: &[f64], budget: usize) -> Vec<Probe> {
        drive(5, crfs, "libx264", budget, 2, 0.002, |round| {
            Ok(round.iter().map(|&(s, j)| synth(s, crfs[j])).collect())
        })
        .expect("drive")
        .0
    }

    #[test]
    fn a_small_budget_keeps_the_hull_ends() {
        let crfs = [20.0, 24.0, 28.0, 32.0, 36.0, 40.0];
        let p = simulate(&crfs, 2);
        let cells: Vec<(usize, usize)> = p.iter().map(|p| (p.size, p.crf)).collect();
        assert_eq!(cells, vec![(0, 0), (4, 5)]);
    }

    #[test]
    fn bd_change_is_the_mean_log_rate_the_point_saves() {
        let h = [(100.0, 40.0), (200.0, 60.0), (400.0, 80.0)];
        // Halving the rate of the middle vertex: the hull at q is lowered by ln 2 at q = 60,
        // linearly less toward the ends (in linear rate), never more than ln 2.
        let v = bd_change(&h, 100.0 * 1.0001, 60.0);
        assert!(v > 0.1 && v < 2f64.ln() / 2.0 + 1e-3, "{v}");
        // A point below the hull changes nothing.
        assert_eq!(bd_change(&h, 300.0, 50.0), 0.0);
        // A point that dominates a vertex counts over the whole span it lifts: more than a
        // point just as far above the hull that leaves every vertex in place.
        let over = bd_change(&h, 190.0, 70.0);
        let inside = bd_change(&h, 250.0, 70.0);
        assert!(over > inside && inside > 0.0, "{over} {inside}");
    }

    #[test]
    fn search_is_deterministic_and_within_budget() {
        let crfs = [20.0, 24.0, 28.0, 32.0, 36.0, 40.0];
        let a = simulate(&crfs, 12);
        let b = simulate(&crfs, 12);
        assert_eq!(a, b);
        assert!(a.len() <= 12);
        let mut seen: Vec<(usize, usize)> = a.iter().map(|p| (p.size, p.crf)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), a.len(), "no point probed twice");
    }

    #[test]
    fn synthetic_hull_is_close_to_the_full_grid() {
        let crfs = [20.0, 24.0, 28.0, 32.0, 36.0, 40.0];
        let probes = simulate(&crfs, 12);
        let fast = hull_of(&probes);
        let full = full_hull(&crfs);
        let bd = crate::bdrate::bd_rate(&full, &fast, Metric::Vmaf, crate::bdrate::Method::Pchip)
            .expect("bd-rate");
        assert!(
            bd.bd_rate_percent.abs() < 1.0,
            "fast hull BD-rate {:.3} % (probes {probes:?})",
            bd.bd_rate_percent
        );
    }

    #[test]
    fn gain_is_log_rate_saved_at_equal_quality() {
        let h = [(100.0, 50.0), (400.0, 80.0)];
        // At quality 65 the hull needs 250 kbps; a point at 125 kbps halves that.
        let g = gain(&h, 125.0, 65.0);
        assert!((g - 2f64.ln()).abs() < 1e-12);
        assert!(gain(&h, 500.0, 65.0) < 0.0);
        assert_eq!(gain(&h, 500.0, 90.0), 0.0);
    }
}
