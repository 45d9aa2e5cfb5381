//! The rate-quality convex hull: the upper concave envelope of all (kbps, quality) points across
//! resolutions, in *linear* bitrate (so a point between two hull points is reachable by switching
//! between their encodes, the classic per-title argument), with dominated points dropped.
//!
//! Definition used here, step by step:
//! 1. points with a non-finite or non-positive bitrate or a non-finite quality are ignored;
//! 2. Pareto filter: a point is dominated (off the hull) when another point has no more kbps and
//!    at least as much quality, with one of the two strictly better;
//! 3. the upper hull of the survivors (Andrew's monotone chain): a point on or below the straight
//!    line between its neighbours on the hull is off. Collinear middle points are therefore off,
//!    so the hull is the minimal set of corners.
//!
//! Ties are broken deterministically and independently of the input order: among points with
//! exactly equal (kbps, quality) the one with the smaller encode area (width × height, cheaper to
//! decode) is kept, then the lower CRF, then the codec name, then the lower input index (only
//! reached by fully identical points).

use std::cmp::Ordering;

use crate::points::{Metric, Point};

/// The hull of one point set under one metric: which of the points are its vertices. Computed
/// once, from exactly the points the ladder may use, and carried with them, so `on_hull`, the
/// report's tables, the plots and the ladder all show the same hull.
#[derive(Debug, Clone, PartialEq)]
pub struct Hull {
    metric: Metric,
    /// Indices into the point set the hull was computed from, by increasing kbps.
    vertices: Vec<usize>,
    /// (kbps, quality) of each vertex.
    curve: Vec<(f64, f64)>,
}

impl Hull {
    /// The hull of all of `points`.
    pub fn of(points: &[Point], metric: Metric) -> Hull {
        let all: Vec<usize> = (0..points.len()).collect();
        Hull::of_subset(points, &all, metric)
    }

    /// The hull of the points at `subset` (indices into `points`, increasing); the vertices are
    /// indices into `points`.
    pub fn of_subset(points: &[Point], subset: &[usize], metric: Metric) -> Hull {
        let q: Vec<f64> = subset.iter().map(|&i| metric.of(&points[i])).collect();
        let vertices: Vec<usize> = hull_indices(
            subset.len(),
            |j| points[subset[j]].kbps,
            |j| q[j],
            |a, b| tie_break(&points[subset[a]], &points[subset[b]]),
        )
        .into_iter()
        .map(|j| subset[j])
        .collect();
        let curve = vertices
            .iter()
            .map(|&i| (points[i].kbps, metric.of(&points[i])))
            .collect();
        Hull {
            metric,
            vertices,
            curve,
        }
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Indices of the vertices in the point set the hull was computed from, by increasing kbps.
    pub fn vertices(&self) -> &[usize] {
        &self.vertices
    }

    /// (kbps, quality) of each vertex, by increasing kbps.
    pub fn curve(&self) -> &[(f64, f64)] {
        &self.curve
    }

    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// The vertices themselves, by increasing kbps.
    pub fn points<'p>(&self, points: &'p [Point]) -> Vec<&'p Point> {
        self.vertices.iter().map(|&i| &points[i]).collect()
    }

    /// Sets `on_hull` on every point: true exactly for the vertices.
    pub fn mark(&self, points: &mut [Point]) {
        for p in points.iter_mut() {
            p.on_hull = false;
        }
        for &i in &self.vertices {
            points[i].on_hull = true;
        }
    }
}

/// Indices of the hull points of `points` under `metric`, sorted by increasing kbps (and so by
/// increasing quality: the hull is strictly increasing in both).
pub fn upper_hull(points: &[Point], metric: Metric) -> Vec<usize> {
    Hull::of(points, metric).vertices
}

/// The hull of bare `(kbps, quality)` pairs, as pairs by increasing kbps: the same definition,
/// for BD-rate curves, plots and the search planner, which have no [`Point`]s. Exactly equal
/// pairs are interchangeable, so no tie-break is needed.
pub fn upper_hull_pairs(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    hull_indices(
        pts.len(),
        |i| pts[i].0,
        |i| pts[i].1,
        |_, _| Ordering::Equal,
    )
    .into_iter()
    .map(|i| pts[i])
    .collect()
}

/// The definition in the module doc over points `0..n`, whatever they are: indices of the hull
/// by increasing rate. `tie` orders points of equal rate and quality (the first is kept).
fn hull_indices(
    n: usize,
    rate: impl Fn(usize) -> f64,
    q: impl Fn(usize) -> f64,
    tie: impl Fn(usize, usize) -> Ordering,
) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n)
        .filter(|&i| rate(i).is_finite() && rate(i) > 0.0 && q(i).is_finite())
        .collect();
    // Increasing rate; at equal rate the best quality first, then the tie-break rules.
    idx.sort_by(|&a, &b| {
        rate(a)
            .total_cmp(&rate(b))
            .then(q(b).total_cmp(&q(a)))
            .then_with(|| tie(a, b))
            .then(a.cmp(&b))
    });
    // Pareto filter: keep a point only when its quality beats everything cheaper or as cheap.
    let mut front: Vec<usize> = Vec::with_capacity(idx.len());
    for i in idx {
        if front.last().is_none_or(|&l| q(i) > q(l)) {
            front.push(i);
        }
    }
    // Upper hull over the Pareto front (already sorted by rate, quality increasing).
    let mut hull: Vec<usize> = Vec::with_capacity(front.len());
    for i in front {
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            // b stays only if it is strictly above the line a→i.
            let cross = (rate(b) - rate(a)) * (q(i) - q(a)) - (q(b) - q(a)) * (rate(i) - rate(a));
            if cross >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(i);
    }
    hull
}

/// The hull as (kbps, quality) pairs by increasing kbps (for BD-rate, plots and [`quality_at`]).
pub fn hull_curve(points: &[Point], metric: Metric) -> Vec<(f64, f64)> {
    Hull::of(points, metric).curve
}

/// Sets `on_hull` on every point (true exactly for the indices [`upper_hull`] returns).
pub fn mark_hull(points: &mut [Point], metric: Metric) {
    Hull::of(points, metric).mark(points);
}

/// Order among points with identical (kbps, quality): smaller area first, then lower CRF, then
/// codec name.
fn tie_break(a: &Point, b: &Point) -> Ordering {
    let area = |p: &Point| p.width as u64 * p.height as u64;
    area(a)
        .cmp(&area(b))
        .then(a.crf.total_cmp(&b.crf))
        .then_with(|| a.codec.cmp(&b.codec))
}

/// Quality on the piecewise-linear hull through `hull` (sorted (kbps, quality) pairs) at `kbps`;
/// `None` outside the hull's bitrate range.
pub fn quality_at(hull: &[(f64, f64)], kbps: f64) -> Option<f64> {
    let first = hull.first()?;
    let last = hull.last()?;
    if kbps < first.0 || kbps > last.0 {
        return None;
    }
    let j = hull.partition_point(|h| h.0 < kbps);
    if j == 0 {
        return Some(first.1);
    }
    let (a, b) = (hull[j - 1], hull[j]);
    Some(a.1 + (b.1 - a.1) * (kbps - a.0) / (b.0 - a.0))
}

/// The bitrate at which the hull reaches `quality` (the inverse of [`quality_at`], well defined
/// because the hull is strictly increasing); `None` outside its quality range.
pub fn kbps_at(hull: &[(f64, f64)], quality: f64) -> Option<f64> {
    let first = hull.first()?;
    let last = hull.last()?;
    if quality < first.1 || quality > last.1 {
        return None;
    }
    let j = hull.partition_point(|h| h.1 < quality);
    if j == 0 {
        return Some(first.0);
    }
    let (a, b) = (hull[j - 1], hull[j]);
    Some(a.0 + (b.0 - a.0) * (quality - a.1) / (b.1 - a.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(h: u32, kbps: f64, vmaf: f64) -> Point {
        Point {
            codec: "libx264".into(),
            width: h * 16 / 9,
            height: h,
            crf: 0.0,
            kbps,
            bytes: 0,
            vmaf,
            psnr_y: 0.0,
            ssim: 0.0,
            pooled: Default::default(),
            on_hull: false,
            key: String::new(),
        }
    }

    #[test]
    fn equal_points_keep_smaller_area() {
        let pts = vec![pt(720, 500.0, 60.0), pt(540, 500.0, 60.0)];
        assert_eq!(upper_hull(&pts, Metric::Vmaf), vec![1]);
        let pts = vec![pt(540, 500.0, 60.0), pt(720, 500.0, 60.0)];
        assert_eq!(upper_hull(&pts, Metric::Vmaf), vec![0]);
    }

    #[test]
    fn collinear_middle_is_off() {
        let pts = vec![
            pt(360, 100.0, 50.0),
            pt(540, 200.0, 60.0),
            pt(720, 300.0, 70.0),
        ];
        assert_eq!(upper_hull(&pts, Metric::Vmaf), vec![0, 2]);
    }

    #[test]
    fn interpolation_inverse() {
        let h = [(200.0, 48.0), (400.0, 62.0), (800.0, 69.0)];
        assert_eq!(quality_at(&h, 300.0), Some(55.0));
        assert_eq!(kbps_at(&h, 55.0), Some(300.0));
        assert_eq!(quality_at(&h, 100.0), None);
        assert_eq!(kbps_at(&h, 70.0), None);
    }
}
