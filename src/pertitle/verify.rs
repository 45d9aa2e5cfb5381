//! Verification: every rung encoded exactly as its recipe says (two-pass VBR or capped CRF over
//! the whole title, with the ladder's keyframe policy), scored like a grid point, and the result
//! written next to the prediction. With refinement, a rung that misses its predicted quality by
//! more than the tolerance gets its bitrate (two-pass) or CRF (capped CRF) corrected by secant
//! steps on real encodes, so the ladder delivers what it promises.
//!
//! The encodes are ordinary grid tasks (a [`crate::media::RateControl::TwoPass`] or
//! [`crate::media::RateControl::CappedCrf`] task of the whole title), so they are kept in the store like any
//! point: a verified ladder run again, or after an interruption, encodes nothing twice. Each
//! refinement round encodes every unsettled rung at once.

use crate::error::Result;
use crate::grid::{GridTask, TaskResult};
use crate::hull;
use crate::ladder::{Ladder, Rung, Verified};
use crate::points::{Metric, SourceIdentity};
use crate::recipe::{Recipe, RungRateControl, Size};
use crate::run::TaskTemplate;

/// HLS authoring: a variant's peak bitrate at most 200 % of its average.
pub const HLS_PEAK_RATIO: f64 = 2.0;

/// How to verify.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    /// Correct rungs that miss their predicted quality by more than `tolerance`.
    pub refine: bool,
    /// Allowed |achieved − predicted| in the ladder's metric (VMAF points by default).
    pub tolerance: f64,
    /// Encodes per rung at most, the first included.
    pub max_encodes: u32,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            refine: false,
            tolerance: 0.5,
            max_encodes: 6,
        }
    }
}

/// One verified encode: the setting, its point pooled as the recipe asks, and its peak.
#[derive(Debug, Clone)]
struct Measure {
    /// The setting encoded: ln(kbps) for two-pass, the CRF for capped CRF.
    x: f64,
    point: crate::points::Point,
    peak_kbps: f64,
    result: TaskResult,
}

impl Measure {
    fn quality(&self, m: Metric) -> f64 {
        m.of(&self.point)
    }
}

/// The highest bitrate over any run of frames lasting `window_s` (at least one frame), kbit/s:
/// what a player's buffer of that length sees at worst.
pub fn peak_kbps(frame_bytes: &[u64], fps: (u32, u32), window_s: f64) -> f64 {
    let rate = fps.0 as f64 / fps.1.max(1) as f64;
    let n = ((window_s * rate).round() as usize).clamp(1, frame_bytes.len().max(1));
    if frame_bytes.is_empty() {
        return 0.0;
    }
    let mut sum: u64 = frame_bytes[..n].iter().sum();
    let mut best = sum;
    for i in n..frame_bytes.len() {
        sum = sum + frame_bytes[i] - frame_bytes[i - n];
        best = best.max(sum);
    }
    best as f64 * 8.0 / (n as f64 / rate) / 1000.0
}

/// The setting `x` as the encoder takes it: whole kbit/s, or a CRF the codec accepts.
fn quantize(rung: &Rung, x: f64) -> f64 {
    match rung.rate_control {
        RungRateControl::TwoPassVbr => x.exp().round().max(1.0).ln(),
        RungRateControl::CappedCrf => {
            let facts = crate::codecs::profile(&rung.codec);
            let c = x.clamp(facts.crf_range.0, facts.crf_range.1);
            if facts.fractional_crf {
                (c * 10.0).round() / 10.0
            } else {
                c.round()
            }
        }
    }
}

fn rung_at(rung: &Rung, x: f64, l: &crate::recipe::LadderSection) -> Rung {
    let mut r = rung.clone();
    match r.rate_control {
        RungRateControl::TwoPassVbr => r.retarget(x.exp().round() as u32, l),
        RungRateControl::CappedCrf => r.crf = x,
    }
    r
}

/// The hull's local slope of quality against the setting: per unit of ln(kbps) for two-pass,
/// per CRF step for capped CRF (from the rule of thumb that +6 CRF halves the bitrate).
fn hull_slope(rung: &Rung, hull: &[(f64, f64)]) -> f64 {
    let k = rung.kbps as f64;
    let f = 1.25f64;
    let (lo, hi) = (hull[0].0, hull[hull.len() - 1].0);
    let (a, b) = ((k / f).clamp(lo, hi), (k * f).clamp(lo, hi));
    let s = match (hull::quality_at(hull, a), hull::quality_at(hull, b)) {
        (Some(qa), Some(qb)) if b > a => (qb - qa) / (b.ln() - a.ln()),
        _ => 0.0,
    };
    // A flat or unknown hull still needs a direction: a modest slope (VMAF per ln kbps).
    let s = if s.is_finite() && s > 1.0 { s } else { 1.0 };
    match rung.rate_control {
        RungRateControl::TwoPassVbr => s,
        RungRateControl::CappedCrf => -s * std::f64::consts::LN_2 / 6.0,
    }
}

/// The next setting to try from the encodes so far. Once two encodes bracket the target (one
/// below it, one above), the root is inside: interpolate between the closest bracketing pair
/// (regula falsi), halving instead when the interpolation repeats an encode or two encodes
/// in a row fell on the same side. Before that,
/// extrapolate by the secant through the last two encodes, or by the hull's slope for the
/// first step or when the secant points the wrong way, at most half or double the bitrate
/// (8 CRF) per step.
fn next_x(rung: &Rung, target: f64, tried: &[(f64, f64)], hull: &[(f64, f64)]) -> f64 {
    let fallback = hull_slope(rung, hull);
    // Quality rises with x for a bitrate, falls for a CRF: orient so "below" means too low.
    let below = |q: f64| q < target;
    let lo = tried
        .iter()
        .filter(|p| below(p.1))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let hi = tried
        .iter()
        .filter(|p| !below(p.1))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(&(xl, ql)), Some(&(xh, qh))) = (lo, hi) {
        // Regula falsi keeps cutting from one side where the curve bends (a VBV-starved rate
        // below a knee, a flat one above it); after two encodes on the same side, bisect.
        let n = tried.len();
        let same_side = n >= 3 && below(tried[n - 1].1) == below(tried[n - 2].1);
        let x = if qh > ql && !same_side {
            xl + (target - ql) * (xh - xl) / (qh - ql)
        } else {
            (xl + xh) / 2.0
        };
        let x = quantize(rung, x);
        return if tried.iter().any(|p| (p.0 - x).abs() < 1e-9) {
            (xl + xh) / 2.0
        } else {
            x
        };
    }
    let (x1, q1) = tried[tried.len() - 1];
    let slope = match tried.len() {
        1 => fallback,
        n => {
            let (x0, q0) = tried[n - 2];
            let s = (q1 - q0) / (x1 - x0);
            if s.is_finite() && s != 0.0 && s.signum() == fallback.signum() {
                s
            } else {
                fallback
            }
        }
    };
    let limit = match rung.rate_control {
        RungRateControl::TwoPassVbr => std::f64::consts::LN_2,
        RungRateControl::CappedCrf => 8.0,
    };
    x1 + ((target - q1) / slope).clamp(-limit, limit)
}

/// A two-pass rung's bitrate stays within the ladder's own limits (the floor `min_kbps` and
/// `max_kbps`): refinement corrects a rung's rate, it does not move the ladder's ends.
fn bounded(rung: &Rung, x: f64, l: &crate::recipe::LadderSection) -> f64 {
    match rung.rate_control {
        RungRateControl::TwoPassVbr => {
            let lo = l.floor().min(rung.kbps as f64).ln();
            let hi = l
                .max_kbps
                .unwrap_or(f64::INFINITY)
                .max(rung.kbps as f64)
                .ln();
            x.clamp(lo, hi)
        }
        RungRateControl::CappedCrf => x,
    }
}

/// Verifies (and with `opts.refine` refines) every rung of `ladder`, built from `recipe` on a
/// hull whose curve is `hull`. `compute` runs grid tasks (the runner with its store): it is
/// called once per round with every unsettled rung's next encode. Writes each rung's
/// [`Verified`], moves refined rungs (their commands rewritten), and adds a warning for every
/// rung left outside the tolerance and every bitrate ratio refinement pushed out of the
/// recipe's limits. Returns each rung's verified encode (its per-frame scores), by rung.
pub fn verify(
    ladder: &mut Ladder,
    hull: &[(f64, f64)],
    recipe: &Recipe,
    source: Option<&SourceIdentity>,
    template: &TaskTemplate,
    opts: &VerifyOptions,
    compute: &mut dyn FnMut(&[GridTask]) -> Result<Vec<TaskResult>>,
) -> Result<Vec<Option<TaskResult>>> {
    let l = &recipe.ladder;
    let metric = ladder.metric;
    let fps = match (ladder.fps_num, ladder.fps_den) {
        (Some(n), Some(d)) => (n, d),
        _ => source.map_or((24, 1), |s| recipe.output_fps(s.fps_num, s.fps_den)),
    };
    let initial: Vec<f64> = ladder
        .rungs
        .iter()
        .map(|r| match r.rate_control {
            RungRateControl::TwoPassVbr => (r.kbps as f64).ln(),
            RungRateControl::CappedCrf => r.crf,
        })
        .collect();
    let mut tried: Vec<Vec<Measure>> = vec![Vec::new(); ladder.rungs.len()];
    let mut next: Vec<Option<f64>> = initial.iter().map(|&x| Some(x)).collect();
    let max = if opts.refine {
        opts.max_encodes.max(1)
    } else {
        1
    };
    for _round in 0..max {
        let todo: Vec<(usize, f64)> = next
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.map(|x| (i, x)))
            .collect();
        if todo.is_empty() {
            break;
        }
        let tasks: Vec<GridTask> = todo
            .iter()
            .map(|&(i, x)| {
                let r = rung_at(&ladder.rungs[i], x, l);
                template.rate_task(Size::new(r.width, r.height), r.rate())
            })
            .collect();
        let results = compute(&tasks)?;
        for (&(i, x), res) in todo.iter().zip(&results) {
            tried[i].push(Measure {
                x,
                point: res.point.pooled_by(recipe.scoring.pooling),
                peak_kbps: peak_kbps(&res.frame_bytes, fps, l.keyint_seconds),
                result: res.clone(),
            });
        }
        for (i, n) in next.iter_mut().enumerate() {
            *n = None;
            if !opts.refine || tried[i].is_empty() {
                continue;
            }
            let rung = &ladder.rungs[i];
            let target = rung.quality(metric);
            let last = tried[i].last().expect("measured above");
            if (last.quality(metric) - target).abs() <= opts.tolerance {
                continue;
            }
            let pts: Vec<(f64, f64)> = tried[i].iter().map(|m| (m.x, m.quality(metric))).collect();
            let x = quantize(rung, bounded(rung, next_x(rung, target, &pts, hull), l));
            if !tried[i].iter().any(|m| (m.x - x).abs() < 1e-9) {
                *n = Some(x);
            }
        }
    }
    let mut encodes = vec![None; ladder.rungs.len()];
    for (i, rung) in ladder.rungs.iter_mut().enumerate() {
        let target = rung.quality(metric);
        let Some(best) = tried[i]
            .iter()
            .min_by(|a, b| {
                (a.quality(metric) - target)
                    .abs()
                    .total_cmp(&(b.quality(metric) - target).abs())
            })
            .cloned()
        else {
            continue;
        };
        let moved = (best.x - initial[i]).abs() > 1e-9;
        let predicted_setting = moved.then_some(match rung.rate_control {
            RungRateControl::TwoPassVbr => rung.kbps as f64,
            RungRateControl::CappedCrf => rung.crf,
        });
        if moved {
            *rung = rung_at(rung, best.x, l);
            rung.attach_commands(i, recipe, source);
        }
        let error = best.quality(metric) - target;
        rung.verified = Some(Verified {
            kbps: round3(best.point.kbps),
            peak_kbps: round3(best.peak_kbps),
            vmaf: round3(best.point.vmaf),
            psnr_y: round3(best.point.psnr_y),
            ssim: (best.point.ssim * 1e6).round() / 1e6,
            error: round3(error),
            encodes: tried[i].len() as u32,
            predicted_setting,
            key: best.point.key.clone(),
        });
        encodes[i] = Some(best.result.clone());
        // HLS: a variant's peak (segment) bitrate at most twice its average. VBV bounds the
        // rate over a window T by maxrate + bufsize / T, so the recipe's factors decide.
        let ratio = best.peak_kbps / best.point.kbps.max(1e-9);
        if ratio > HLS_PEAK_RATIO * 1.01 {
            ladder.warnings.push(format!(
                "peak of {:.0} kbps over one keyframe interval in rung {} ({}x{}) is {ratio:.2}x its average (HLS asks at most {HLS_PEAK_RATIO}x): a smaller maxrate_factor or bufsize_factor tightens it",
                best.peak_kbps,
                i + 1,
                rung.width,
                rung.height,
            ));
        }
        if opts.refine && error.abs() > opts.tolerance {
            let held = match rung.rate_control {
                RungRateControl::TwoPassVbr
                    if error > 0.0 && (rung.kbps as f64) <= l.floor() + 0.5 =>
                {
                    " (held at the floor: better than predicted there)"
                }
                _ => "",
            };
            ladder.warnings.push(format!(
                "rung {} ({}x{}) reaches {:.2} {metric} at best, {:+.2} from its target {:.2}, after {} encodes{held}",
                i + 1,
                rung.width,
                rung.height,
                best.quality(metric),
                error,
                target,
                tried[i].len()
            ));
        }
    }
    if opts.refine
        && ladder.rungs.iter().any(|r| {
            r.verified
                .as_ref()
                .is_some_and(|v| v.predicted_setting.is_some())
        })
    {
        // The build's spacing warnings name the bitrates before refinement moved them: said
        // again with the rungs as they are now and the quality their encodes achieved.
        ladder
            .warnings
            .retain(|w| !(w.starts_with("rungs at ") && w.contains(" apart")));
        let step = ladder.step;
        for w in ladder.rungs.windows(2) {
            let (Some(a), Some(b)) = (&w[0].verified, &w[1].verified) else {
                continue;
            };
            let d = b.achieved(metric) - a.achieved(metric);
            if d < 0.5 * step || d > 1.5 * step {
                ladder.warnings.push(format!(
                    "rungs at {} and {} kbps are {d:.2} {metric} apart as encoded (step {step})",
                    w[0].kbps, w[1].kbps
                ));
            }
        }
    }
    if opts.refine {
        for (i, w) in ladder.rungs.windows(2).enumerate() {
            let ratio = w[1].kbps as f64 / w[0].kbps.max(1) as f64;
            // 1 %: whole-kbps rounding alone moves a ratio by a few per mille.
            if ratio < l.min_ratio * 0.99 || ratio > l.max_ratio * 1.01 {
                ladder.warnings.push(format!(
                    "after refinement rungs {} and {} ({} and {} kbps) are {ratio:.2}x apart, outside [{}, {}]",
                    i + 1,
                    i + 2,
                    w[0].kbps,
                    w[1].kbps,
                    l.min_ratio,
                    l.max_ratio
                ));
            }
        }
    }
    Ok(encodes)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_over_a_window() {
        // 4 fps, 1-s window = 4 frames.
        let b = [100, 100, 100, 100, 500, 100, 100, 100];
        assert_eq!(peak_kbps(&b, (4, 1), 1.0), 800.0 * 8.0 / 1000.0);
        // Window longer than the stream: the whole stream over its own length.
        assert_eq!(peak_kbps(&b[..2], (4, 1), 1.0), 200.0 * 8.0 / 0.5 / 1000.0);
    }
}
