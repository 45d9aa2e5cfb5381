//! How well a quality metric predicts subjective opinion scores, reported the way the VMAF
//! Development Kit and ITU-R BT.500 / VQEG practice report it: the Spearman rank correlation
//! (SRCC) of the raw scores, and the Pearson correlation (PCC) and RMSE of the opinion scores
//! against the metric mapped through a fitted 4-parameter logistic (the mapping absorbs the
//! metric's non-linear scale, so PCC and RMSE judge prediction, not linearity), with percentile
//! bootstrap confidence intervals.
//!
//! Every function is pure: the results depend only on the inputs (and the bootstrap's seed),
//! never on thread count or timing. The pairs are always (metric score, opinion score): errors
//! name the first slice "predicted" and the second "opinion".

use rayon::prelude::*;
use serde::Serialize;
use std::fmt;

/// Which of the paired inputs an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Side {
    /// The metric's scores (the first slice).
    Predicted,
    /// The subjective scores (the second slice).
    Opinion,
    /// The metric's scores mapped through the fitted logistic.
    Fitted,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Predicted => "predicted",
            Side::Opinion => "opinion",
            Side::Fitted => "fitted",
        })
    }
}

/// Why an agreement statistic cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AgreementError {
    #[error("length mismatch: {predicted} predicted scores, {opinion} opinion scores")]
    LengthMismatch { predicted: usize, opinion: usize },
    #[error("{what} needs at least {need} pairs, got {got}")]
    TooFew {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("{side} score {index} is not finite ({value})")]
    NonFinite {
        side: Side,
        index: usize,
        value: f64,
    },
    #[error("{side} scores are all {value}: correlation is undefined")]
    Constant { side: Side, value: f64 },
    #[error("logistic fit did not converge after {iterations} iterations")]
    NoConvergence { iterations: usize },
    #[error("bootstrap needs at least one resample")]
    NoResamples,
    #[error("bootstrap: {skipped} of {resamples} resamples were degenerate (more than half)")]
    TooManyDegenerate { skipped: usize, resamples: usize },
}

type Result<T> = std::result::Result<T, AgreementError>;

/// Spearman rank correlation, ties get average ranks (what scipy.stats.spearmanr returns).
///
/// Rank-based, so it judges only whether the metric orders the stimuli as viewers do, whatever
/// its scale.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check(x, y, 2, "a rank correlation")?;
    not_constant(x, Side::Predicted)?;
    not_constant(y, Side::Opinion)?;
    correlation(&ranks(x), &ranks(y), Side::Predicted, Side::Opinion)
}

/// Pearson correlation (scipy.stats.pearsonr's statistic).
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check(x, y, 2, "a correlation")?;
    not_constant(x, Side::Predicted)?;
    not_constant(y, Side::Opinion)?;
    correlation(x, y, Side::Predicted, Side::Opinion)
}

/// The 4-parameter logistic of VQEG/BT.500 practice:
/// f(x) = (b1 − b2) / (1 + exp(−(x − b3)/|b4|)) + b2.
///
/// b1 and b2 are the upper and lower asymptotes (on the opinion scale), b3 the midpoint and |b4|
/// the width (on the metric's scale); a fitted `b4` is returned non-negative.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Logistic {
    pub b1: f64,
    pub b2: f64,
    pub b3: f64,
    pub b4: f64,
}

/// Levenberg–Marquardt gives up after this many iterations (accepted and rejected steps).
const MAX_ITERATIONS: usize = 50_000;
/// Converged when a step lowers the sum of squares by less than this fraction (or raises it)…
const FTOL: f64 = 1e-15;
/// …and every parameter moves by less than this fraction of itself.
const XTOL: f64 = 1e-12;
/// Iterations per check for a drift with no finite optimum, and the gain below which it stops.
const STALL_WINDOW: usize = 100;
const STALL_GAIN: f64 = 1e-8;
const STALL_MOVE: f64 = 1e-9;
/// The damping's start, bounds (below ε it no longer changes the diagonal; above, the step
/// underflows long before) and factor.
const LAMBDA_START: f64 = 1e-3;
const LAMBDA_MIN: f64 = f64::EPSILON;
const LAMBDA_MAX: f64 = 1e100;
const LAMBDA_FACTOR: f64 = 10.0;

impl Logistic {
    /// Least-squares fit by Levenberg–Marquardt (analytic Jacobian) from [`Logistic::start`];
    /// scipy's `curve_fit` (MINPACK) given the same start reaches the same minimum.
    ///
    /// Marquardt's damping λ·diag(JᵀJ) (λ from 1e-3, ×10 on a rejected step, ÷10 on an accepted
    /// one); each diagonal entry is kept at the largest seen so far, as MINPACK keeps its column
    /// scales, so a column that vanishes (a saturated logistic) cannot make the system singular.
    /// Converged when the relative decrease of the sum of squares is below 1e-15 and every step
    /// is below 1e-12 of its parameter. Data with no finite optimum (points covering only one
    /// bend of the curve, where the logistic drifts towards an exponential with parameters
    /// running off to infinity) stop where 100 iterations gain less than 1e-12 of the sum of
    /// squares; an error only if neither happens in 10 000 iterations.
    pub fn fit(x: &[f64], y: &[f64]) -> Result<Logistic> {
        check(x, y, 4, "the 4-parameter logistic fit")?;
        let s0 = Logistic::start(x, y);
        let mut p = [s0.b1, s0.b2, s0.b3, s0.b4];
        let mut sys = normal_equations(&p, x, y);
        if !sys.sse.is_finite() {
            return Err(AgreementError::NoConvergence { iterations: 0 });
        }
        let mut scale = [0.0f64; 4];
        for (j, s) in scale.iter_mut().enumerate() {
            *s = s.max(sys.jtj[j][j]);
        }
        let mut lambda = LAMBDA_START;
        let fitted = |p: &[f64; 4]| -> Vec<f64> {
            let l = Logistic::from_params(*p);
            x.iter().map(|&v| l.apply(v)).collect()
        };
        let y_scale = y.iter().fold(0f64, |m, v| m.max(v.abs())) + 1.0;
        let (mut mark_sse, mut mark_fit) = (sys.sse, fitted(&p));
        for it in 0..MAX_ITERATIONS {
            if sys.sse == 0.0 {
                return Ok(Logistic::from_params(p));
            }
            // Data with no finite best fit (points on one bend only, or a step) make the
            // parameters drift towards infinity while the sum of squares creeps to its infimum:
            // once STALL_WINDOW iterations gain less than STALL_GAIN of it, or move no fitted
            // value by more than STALL_MOVE of the opinion scale, the fitted values have settled
            // and the fit stops there (scipy's MINPACK stops somewhere along the same drift).
            if it > 0 && it % STALL_WINDOW == 0 {
                let now = fitted(&p);
                let moved = now
                    .iter()
                    .zip(&mark_fit)
                    .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
                if mark_sse - sys.sse <= STALL_GAIN * mark_sse || moved <= STALL_MOVE * y_scale {
                    return Ok(Logistic::from_params(p));
                }
                (mark_sse, mark_fit) = (sys.sse, now);
            }
            let mut m = sys.jtj;
            for j in 0..4 {
                m[j][j] += lambda * scale[j].max(f64::MIN_POSITIVE);
            }
            let Some(step) = solve(m, sys.jtr.map(|g| -g)) else {
                lambda = (lambda * LAMBDA_FACTOR).min(LAMBDA_MAX);
                continue;
            };
            let trial = [
                p[0] + step[0],
                p[1] + step[1],
                p[2] + step[2],
                p[3] + step[3],
            ];
            let trial_sse = sse(&trial, x, y);
            let better = trial_sse < sys.sse; // false for NaN
            let tiny = (0..4).all(|j| step[j].abs() < XTOL * (p[j].abs() + XTOL));
            let decrease = (sys.sse - trial_sse) / sys.sse;
            // NaN (a non-finite trial) counts as no decrease.
            let stalled = decrease.is_nan() || decrease < FTOL;
            if tiny && stalled {
                if better {
                    p = trial;
                }
                return Ok(Logistic::from_params(p));
            }
            if better {
                p = trial;
                sys = normal_equations(&p, x, y);
                for (j, s) in scale.iter_mut().enumerate() {
                    *s = s.max(sys.jtj[j][j]);
                }
                lambda = (lambda / LAMBDA_FACTOR).max(LAMBDA_MIN);
            } else {
                lambda = (lambda * LAMBDA_FACTOR).min(LAMBDA_MAX);
            }
        }
        Err(AgreementError::NoConvergence {
            iterations: MAX_ITERATIONS,
        })
    }

    /// The conventional start: b1 = max y, b2 = min y, b3 = mean x, b4 = population std of x
    /// (1 if that is 0). Asymptotes at the opinion range and the midpoint and width at the
    /// metric's put the start near the answer for any scales.
    pub fn start(x: &[f64], y: &[f64]) -> Logistic {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let std = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        Logistic {
            b1: y.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            b2: y.iter().copied().fold(f64::INFINITY, f64::min),
            b3: mean,
            b4: if std == 0.0 { 1.0 } else { std },
        }
    }

    /// f(x), computed as the formula is written (as the scipy reference computes it).
    pub fn apply(&self, x: f64) -> f64 {
        (self.b1 - self.b2) / (1.0 + (-(x - self.b3) / self.b4.abs()).exp()) + self.b2
    }

    fn from_params(p: [f64; 4]) -> Logistic {
        Logistic {
            b1: p[0],
            b2: p[1],
            b3: p[2],
            b4: p[3].abs(),
        }
    }
}

/// SRCC of (x, y); PCC and RMSE of (logistic(x), y) after the fit; n.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Agreement {
    pub srcc: f64,
    pub pcc: f64,
    pub rmse: f64,
    pub n: usize,
    /// The fitted mapping from the metric's scale to the opinion scale.
    pub fit: Logistic,
}

/// SRCC, and PCC and RMSE after the logistic mapping, of `predicted` against `opinion`.
pub fn agreement(predicted: &[f64], opinion: &[f64]) -> Result<Agreement> {
    check(predicted, opinion, 4, "the 4-parameter logistic fit")?;
    not_constant(predicted, Side::Predicted)?;
    not_constant(opinion, Side::Opinion)?;
    let srcc = correlation(
        &ranks(predicted),
        &ranks(opinion),
        Side::Predicted,
        Side::Opinion,
    )?;
    let fit = Logistic::fit(predicted, opinion)?;
    let fitted: Vec<f64> = predicted.iter().map(|&x| fit.apply(x)).collect();
    not_constant(&fitted, Side::Fitted)?;
    let pcc = correlation(&fitted, opinion, Side::Fitted, Side::Opinion)?;
    let mse = fitted
        .iter()
        .zip(opinion)
        .map(|(f, o)| (f - o) * (f - o))
        .sum::<f64>()
        / predicted.len() as f64;
    Ok(Agreement {
        srcc,
        pcc,
        rmse: mse.sqrt(),
        n: predicted.len(),
        fit,
    })
}

/// A 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Percentile bootstrap (resample the pairs with replacement `resamples` times, refit the
/// logistic each time), 95 % intervals: 2.5th and 97.5th percentiles (linear interpolation
/// between order statistics, as numpy.percentile's default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Intervals {
    pub srcc: Interval,
    pub pcc: Interval,
    pub rmse: Interval,
    /// Resamples drawn.
    pub resamples: usize,
    /// Of those, the degenerate ones left out of the intervals: constant predicted, opinion or
    /// fitted scores (a correlation is undefined), or a fit that did not converge.
    pub skipped: usize,
}

/// The percentile bootstrap of [`agreement`]: how much SRCC, PCC and RMSE would move with
/// another sample of stimuli. Resample `r` draws from its own generator seeded by (`seed`, `r`),
/// so the result depends only on the inputs and `seed`, however rayon schedules the resamples.
pub fn bootstrap(
    predicted: &[f64],
    opinion: &[f64],
    resamples: usize,
    seed: u64,
) -> Result<Intervals> {
    check(predicted, opinion, 4, "the bootstrap")?;
    not_constant(predicted, Side::Predicted)?;
    not_constant(opinion, Side::Opinion)?;
    if resamples == 0 {
        return Err(AgreementError::NoResamples);
    }
    let n = predicted.len();
    let draws: Vec<Option<[f64; 3]>> = (0..resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = SplitMix64::stream(seed, r as u64);
            let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let i = rng.below(n);
                xs.push(predicted[i]);
                ys.push(opinion[i]);
            }
            match agreement(&xs, &ys) {
                Ok(a) => Ok(Some([a.srcc, a.pcc, a.rmse])),
                Err(AgreementError::Constant { .. } | AgreementError::NoConvergence { .. }) => {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .collect::<Result<_>>()?;
    let kept: Vec<[f64; 3]> = draws.into_iter().flatten().collect();
    let skipped = resamples - kept.len();
    if skipped * 2 > resamples {
        return Err(AgreementError::TooManyDegenerate { skipped, resamples });
    }
    let interval = |k: usize| {
        let mut v: Vec<f64> = kept.iter().map(|d| d[k]).collect();
        v.sort_by(f64::total_cmp);
        Interval {
            lo: percentile(&v, 2.5),
            hi: percentile(&v, 97.5),
        }
    };
    Ok(Intervals {
        srcc: interval(0),
        pcc: interval(1),
        rmse: interval(2),
        resamples,
        skipped,
    })
}

/// Equal lengths, at least `need` pairs, every value finite.
fn check(x: &[f64], y: &[f64], need: usize, what: &'static str) -> Result<()> {
    if x.len() != y.len() {
        return Err(AgreementError::LengthMismatch {
            predicted: x.len(),
            opinion: y.len(),
        });
    }
    if x.len() < need {
        return Err(AgreementError::TooFew {
            what,
            need,
            got: x.len(),
        });
    }
    for (v, side) in [(x, Side::Predicted), (y, Side::Opinion)] {
        if let Some((index, &value)) = v.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AgreementError::NonFinite { side, index, value });
        }
    }
    Ok(())
}

fn not_constant(v: &[f64], side: Side) -> Result<()> {
    if v.iter().all(|&a| a == v[0]) {
        return Err(AgreementError::Constant { side, value: v[0] });
    }
    Ok(())
}

/// Pearson's r as scipy.stats.pearsonr computes it: ±1 from the signs for two pairs; else
/// centre, take the norm of the deviations scaled by the largest (no overflow or underflow in
/// the squares), divide by it, dot, clip to [−1, 1].
fn correlation(x: &[f64], y: &[f64], sx: Side, sy: Side) -> Result<f64> {
    if x.len() == 2 {
        return Ok((x[1] - x[0]).signum() * (y[1] - y[0]).signum());
    }
    let normalised = |v: &[f64], side: Side| -> Result<Vec<f64>> {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let d: Vec<f64> = v.iter().map(|a| a - mean).collect();
        let max = d.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        let norm = max * d.iter().map(|a| (a / max) * (a / max)).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(AgreementError::Constant { side, value: v[0] });
        }
        Ok(d.iter().map(|a| a / norm).collect())
    };
    let (dx, dy) = (normalised(x, sx)?, normalised(y, sy)?);
    let r: f64 = dx.iter().zip(&dy).map(|(a, b)| a * b).sum();
    Ok(r.clamp(-1.0, 1.0))
}

/// 1-based ranks, ties sharing the average of the ranks they span (scipy.stats.rankdata's
/// `average`). Values must be finite.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j, averaged.
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            r[k] = avg;
        }
        i = j;
    }
    r
}

/// Σ (f(xᵢ) − yᵢ)², NaN where the logistic is undefined (b4 = 0).
fn sse(p: &[f64; 4], x: &[f64], y: &[f64]) -> f64 {
    if p[3] == 0.0 {
        return f64::NAN;
    }
    let l = Logistic {
        b1: p[0],
        b2: p[1],
        b3: p[2],
        b4: p[3],
    };
    x.iter()
        .zip(y)
        .map(|(&x, &y)| {
            let r = l.apply(x) - y;
            r * r
        })
        .sum()
}

/// JᵀJ, Jᵀr and Σr² at `p` (r = f − y).
struct Normal {
    jtj: [[f64; 4]; 4],
    jtr: [f64; 4],
    sse: f64,
}

/// The Gauss–Newton system with the analytic Jacobian. With z = (x − b3)/|b4|, e = exp(−z),
/// g = 1/(1 + e): ∂f/∂b1 = g, ∂f/∂b2 = 1 − g = e·g, and with h = g(1 − g) = e·g²,
/// ∂f/∂b3 = −(b1 − b2)·h/|b4|, ∂f/∂b4 = −(b1 − b2)·h·z/|b4|·sign(b4). The e·g forms keep
/// precision where g is near 1; a saturated point (e = ∞ or h = 0) contributes 0 to b3 and b4.
fn normal_equations(p: &[f64; 4], x: &[f64], y: &[f64]) -> Normal {
    let [b1, b2, b3, b4] = *p;
    let s = b4.abs();
    let mut jtj = [[0.0; 4]; 4];
    let mut jtr = [0.0; 4];
    let sse = sse(p, x, y);
    let l = Logistic { b1, b2, b3, b4 };
    for (&xi, &yi) in x.iter().zip(y) {
        let z = (xi - b3) / s;
        let e = (-z).exp();
        let (g, gc, h) = if e.is_infinite() {
            (0.0, 1.0, 0.0)
        } else {
            let g = 1.0 / (1.0 + e);
            (g, e * g, e * g * g)
        };
        let (d3, d4) = if h == 0.0 {
            (0.0, 0.0)
        } else {
            let d3 = -(b1 - b2) * h / s;
            (d3, d3 * z * b4.signum())
        };
        let j = [g, gc, d3, d4];
        let r = l.apply(xi) - yi;
        for a in 0..4 {
            jtr[a] += j[a] * r;
            for b in 0..4 {
                jtj[a][b] += j[a] * j[b];
            }
        }
    }
    Normal { jtj, jtr, sse }
}

/// Solves the 4×4 system by Gaussian elimination with partial pivoting; `None` if it is
/// singular or the answer is not finite.
fn solve(mut m: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    for c in 0..4 {
        let piv = (c..4).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[piv][c] == 0.0 || !m[piv][c].is_finite() {
            return None;
        }
        m.swap(c, piv);
        b.swap(c, piv);
        let pivot = m[c];
        for r in c + 1..4 {
            let f = m[r][c] / pivot[c];
            for (a, p) in m[r][c..].iter_mut().zip(&pivot[c..]) {
                *a -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut out = [0.0; 4];
    for c in (0..4).rev() {
        let s: f64 = (c + 1..4).map(|k| m[c][k] * out[k]).sum();
        out[c] = (b[c] - s) / m[c][c];
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// numpy.percentile's default (`linear`) on sorted `v`, including numpy's lerp, which
/// interpolates from the upper neighbour when the fraction is ≥ 0.5.
fn percentile(v: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let i = (pos.floor() as usize).min(v.len() - 1);
    let t = pos - i as f64;
    if i + 1 >= v.len() {
        return v[i];
    }
    let (a, b) = (v[i], v[i + 1]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Vigna's splitmix64: small, fast, and good enough to draw resample indices.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// The generator of resample `r` under `seed`: both go through the mixer, so neighbouring
    /// seeds and indices give unrelated streams.
    fn stream(seed: u64, r: u64) -> SplitMix64 {
        SplitMix64 {
            state: mix(seed ^ mix(r.wrapping_add(1).wrapping_mul(Self::GAMMA))),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GAMMA);
        mix(self.state)
    }

    /// In `0..n` by Lemire's multiply-shift (no modulo bias worth the name for n ≪ 2⁶⁴).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// splitmix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held-out predictions of a cross-validation (16 videos) whose logistic has no finite
    /// optimum: the fit drifts (b1 towards infinity) and stops where the fitted values no longer
    /// move. scipy's curve_fit (method lm, ftol = xtol = gtol = 1e-15) stops along the same
    /// drift at RMSE 16.755195244151885, and at its default tolerances at 16.75521033345138:
    /// where a drift stops is a matter of tolerance for both, so this case is held to 1e-5.
    #[test]
    fn fit_without_finite_optimum_stops_where_values_settle() {
        let x = [
            67.38771622975725,
            56.054211767231706,
            28.872060079551886,
            16.103174787991975,
            60.768244170742925,
            43.260855625172724,
            16.33195111160463,
            12.173754774836118,
            60.41195678882053,
            57.01454732818783,
            48.22204417846413,
            40.62266613041444,
            64.25856062324588,
            63.97670148651955,
            63.370815325802226,
            62.744476220777344,
        ];
        let y = [
            89.6, 69.6, 49.6, 34.6, 89.6, 74.6, 54.6, 34.6, 79.6, 64.6, 44.6, 29.6, 84.6, 64.6,
            49.6, 29.6,
        ];
        let a = agreement(&x, &y).unwrap();
        assert!(a.fit.b1 > 1e5, "{a:?}");
        assert!((a.rmse - 16.755195244151885).abs() < 1e-5, "{a:?}");
    }

    fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
            .collect()
    }

    #[test]
    fn perfect_logistic_is_recovered() {
        let truth = Logistic {
            b1: 4.8,
            b2: 1.2,
            b3: 62.0,
            b4: 9.0,
        };
        let x = linspace(20.0, 100.0, 30);
        let y: Vec<f64> = x.iter().map(|&v| truth.apply(v)).collect();
        let fit = Logistic::fit(&x, &y).unwrap();
        for (got, want) in [
            (fit.b1, truth.b1),
            (fit.b2, truth.b2),
            (fit.b3, truth.b3),
            (fit.b4, truth.b4),
        ] {
            assert!((got - want).abs() < 1e-9 * want.abs(), "{fit:?}");
        }
        let a = agreement(&x, &y).unwrap();
        assert_eq!(a.srcc, 1.0);
        assert!((a.pcc - 1.0).abs() < 1e-12, "{a:?}");
        assert!(a.rmse < 1e-10, "{a:?}");
        assert_eq!(a.n, 30);
    }

    /// A falling relation is fitted too (b1 < b2), and b4 comes back non-negative.
    #[test]
    fn falling_logistic_is_recovered() {
        let truth = Logistic {
            b1: 10.0,
            b2: 90.0,
            b3: 0.4,
            b4: 0.1,
        };
        let x = linspace(0.0, 1.0, 25);
        let y: Vec<f64> = x.iter().map(|&v| truth.apply(v)).collect();
        let fit = Logistic::fit(&x, &y).unwrap();
        assert!(fit.b4 > 0.0);
        for &v in &x {
            assert!((fit.apply(v) - truth.apply(v)).abs() < 1e-8, "{fit:?}");
        }
        let a = agreement(&x, &y).unwrap();
        assert_eq!(a.srcc, -1.0);
        assert!((a.pcc - 1.0).abs() < 1e-12, "{a:?}");
    }

    #[test]
    fn start_point() {
        let s = Logistic::start(&[1.0, 2.0, 3.0, 6.0], &[5.0, 1.0, 2.0, 4.0]);
        assert_eq!(
            s,
            Logistic {
                b1: 5.0,
                b2: 1.0,
                b3: 3.0,
                b4: 3.5f64.sqrt()
            }
        );
        assert_eq!(Logistic::start(&[2.0; 4], &[1.0, 2.0, 3.0, 4.0]).b4, 1.0);
    }

    #[test]
    fn spearman_gives_ties_average_ranks() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]), [4.0, 1.0, 4.0, 2.0, 4.0]);
        // Ranks (1, 2.5, 2.5, 4) against (1, 3, 2, 4): 4.5 / √(4.5 · 5) = 3/√10.
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 3.0 / 10f64.sqrt()).abs() < 1e-15, "{r}");
        // Ties on both sides: ranks (1.5, 1.5, 3, 4.5, 4.5) against (3, 1.5, 1.5, 4.5, 4.5);
        // scipy.stats.spearmanr gives 0.75.
        let r = spearman(&[1.0, 1.0, 2.0, 3.0, 3.0], &[2.0, 1.0, 1.0, 5.0, 5.0]).unwrap();
        assert!((r - 0.75).abs() < 1e-15, "{r}");
        // Monotone but not linear: 1.
        let x = [0.1, 5.0, 7.0, 100.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.ln()).collect();
        assert_eq!(spearman(&x, &y).unwrap(), 1.0);
    }

    #[test]
    fn pearson_of_known_data() {
        // x = 1..5, y = (2, 4, 5, 4, 5): r = 6 / √(10 · 6) = 0.7745966692414834.
        let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
        assert!((r - 0.774_596_669_241_483_4).abs() < 1e-15, "{r}");
        assert_eq!(pearson(&[1.0, 2.0], &[4.0, 2.0]).unwrap(), -1.0);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = |r: Result<f64>| r.unwrap_err().to_string();
        assert_eq!(
            e(spearman(&[1.0, 2.0], &[1.0])),
            "length mismatch: 2 predicted scores, 1 opinion scores"
        );
        assert_eq!(
            e(pearson(&[1.0], &[1.0])),
            "a correlation needs at least 2 pairs, got 1"
        );
        assert_eq!(
            e(spearman(&[1.0], &[1.0])),
            "a rank correlation needs at least 2 pairs, got 1"
        );
        assert_eq!(
            e(pearson(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0])),
            "opinion score 1 is not finite (NaN)"
        );
        assert_eq!(
            e(spearman(&[1.0, 2.0, f64::INFINITY], &[1.0, 2.0, 3.0])),
            "predicted score 2 is not finite (inf)"
        );
        assert_eq!(
            e(pearson(&[2.5, 2.5, 2.5], &[1.0, 2.0, 3.0])),
            "predicted scores are all 2.5: correlation is undefined"
        );
        assert_eq!(
            e(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0])),
            "opinion scores are all 4: correlation is undefined"
        );
        let x = [1.0, 2.0, 3.0];
        assert_eq!(
            agreement(&x, &x).unwrap_err().to_string(),
            "the 4-parameter logistic fit needs at least 4 pairs, got 3"
        );
        assert_eq!(
            Logistic::fit(&x, &x).unwrap_err().to_string(),
            "the 4-parameter logistic fit needs at least 4 pairs, got 3"
        );
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            bootstrap(&x, &x, 0, 1).unwrap_err().to_string(),
            "bootstrap needs at least one resample"
        );
        assert_eq!(
            bootstrap(&x[..3], &x[..3], 10, 1).unwrap_err().to_string(),
            "the bootstrap needs at least 4 pairs, got 3"
        );
        assert_eq!(
            AgreementError::NoConvergence { iterations: 10_000 }.to_string(),
            "logistic fit did not converge after 10000 iterations"
        );
    }

    #[test]
    fn percentile_is_numpys_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // numpy.percentile([1, 2, 3, 4], [2.5, 97.5]) = [1.075, 3.925].
        assert!((percentile(&v, 2.5) - 1.075).abs() < 1e-15);
        assert!((percentile(&v, 97.5) - 3.925).abs() < 1e-15);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 4.0);
        assert_eq!(percentile(&[7.0], 97.5), 7.0);
    }

    #[test]
    fn prng_streams_are_deterministic_and_distinct() {
        let draw = |seed, r| {
            let mut g = SplitMix64::stream(seed, r);
            (0..8).map(|_| g.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert_ne!(draw(1, 0), draw(2, 0));
        let mut g = SplitMix64::stream(3, 4);
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            seen[g.below(5)] += 1;
        }
        assert!(seen.iter().all(|&c| (900..1100).contains(&c)), "{seen:?}");
    }

    /// Resamples that repeat one pair's predicted score are constant: they are skipped and
    /// counted; when they are the majority the bootstrap is an error.
    #[test]
    fn degenerate_resamples_are_skipped_and_counted() {
        // Resamples of four 0s out of six predicted values are constant: (4/6)^6, about 9 %.
        let x = [0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
        let y = [1.0, 1.2, 1.5, 3.5, 4.0, 4.2];
        let b = bootstrap(&x, &y, 400, 7).unwrap();
        assert_eq!(b.resamples, 400);
        assert!(b.skipped > 0 && b.skipped < 200, "{b:?}");
        // Constant predicted (all of {0, 1, 2} or {3}) or opinion (all of {1, 2, 3} or {0}):
        // about 57 % of the resamples.
        let e = bootstrap(&[0.0, 0.0, 0.0, 1.0], &[0.0, 1.0, 1.0, 1.0], 400, 7).unwrap_err();
        let AgreementError::TooManyDegenerate { skipped, resamples } = e else {
            panic!("{e}");
        };
        assert!(skipped > 200 && resamples == 400, "{e}");
        assert!(e.to_string().starts_with("bootstrap: "), "{e}");
        assert!(e
            .to_string()
            .ends_with("of 400 resamples were degenerate (more than half)"));
    }
}
