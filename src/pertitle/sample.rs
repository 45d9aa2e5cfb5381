//! The sampled answer: a few chunks that represent the title, chosen by a cheap complexity probe
//! and weighted by the share of the title they stand for, so the hull comes from a fraction of
//! the encodes.
//!
//! The probe ([`ComplexityProbe`]) encodes a small copy of every frame with x264 `ultrafast` at
//! a fixed QP during the pass that already decodes the title for its fingerprint: its bits per
//! frame measure what the grid's encoders will find hard (texture, grain, motion) far better
//! than pixel statistics, at a few percent of a decode. [`choose`] sorts chunks by probe bits per
//! frame, cuts them into strata of equal duration and takes from each the chunk nearest the
//! stratum's duration-weighted median complexity, weighted by the stratum's frames over its own
//! (stratified sampling, one unit per stratum). [`ErrorEstimate`] is the collapsed-strata
//! estimate of that sample's standard error (adjacent strata paired), on each point's kbps and
//! mean quality.

use crate::chunks::Chunk;
use crate::error::Result;
use crate::frame::{Frame, FrameFormat};
use crate::media::{self, Decoder, Encoder, EncoderConfig, RateControl, Scaler, ScalerKind};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Probe encode width (height from the aspect, even).
const PROBE_WIDTH: usize = 320;
/// Probe encoder and quantiser: fast, fixed, and independent of the recipe.
const PROBE_CODEC: &str = "libx264";
const PROBE_QP: u32 = 30;

/// Per-frame complexity of a title: the bytes of a fixed-QP `ultrafast` encode of a
/// `PROBE_WIDTH`-wide copy and that encode's luma PSNR, one entry per frame in display order (no
/// B-frames, no look-ahead, so packets and decoded frames come in frame order). Bytes predict
/// the grid's rates; the PSNR says how much a fixed quantiser loses on this content, which
/// predicts how its quality responds (flat graphics keep it, grain loses it).
pub struct ComplexityProbe {
    down: Scaler,
    enc: Encoder,
    dec: Decoder,
    /// Downscaled frames waiting for their decoded probe frame.
    waiting: VecDeque<Frame>,
    stats: ProbeStats,
}

/// What the probe measured, per frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    pub bytes: Vec<u32>,
    pub psnr: Vec<f32>,
}

impl ComplexityProbe {
    /// `None` when this FFmpeg has no libx264 (sampling then has no probe).
    pub fn new(format: FrameFormat, fps: (u32, u32)) -> Result<Option<ComplexityProbe>> {
        if !media::encoder_available(PROBE_CODEC) {
            return Ok(None);
        }
        let h = (format.height * PROBE_WIDTH / format.width.max(1)).max(2) & !1;
        let down = Scaler::new(format, PROBE_WIDTH, h, ScalerKind::Bilinear)?;
        let mut cfg = EncoderConfig::crf(PROBE_CODEC, down.dst_format(), fps, 0.0);
        cfg.rate = RateControl::Qp { qp: PROBE_QP };
        cfg.preset = Some("ultrafast".into());
        cfg.threads = Some(1);
        cfg.options.push((
            "x264-params".into(),
            "bframes=0:rc-lookahead=0:sync-lookahead=0:keyint=infinite:scenecut=0:cpu-independent=1"
                .into(),
        ));
        let enc = Encoder::new(&cfg)?;
        let dec = Decoder::new(&enc.stream_params())?;
        Ok(Some(ComplexityProbe {
            down,
            enc,
            dec,
            waiting: VecDeque::new(),
            stats: ProbeStats::default(),
        }))
    }

    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        let small = self.down.scale(frame)?;
        let packets = self.enc.encode(&small)?;
        self.waiting.push_back(small);
        self.take(packets)
    }

    fn take(&mut self, packets: Vec<media::Packet>) -> Result<()> {
        for p in packets {
            self.stats.bytes.push(p.data.len() as u32);
            for d in self.dec.decode(&p)? {
                self.compare(d);
            }
        }
        Ok(())
    }

    fn compare(&mut self, decoded: Frame) {
        if let Some(orig) = self.waiting.pop_front() {
            self.stats.psnr.push(psnr_y(&orig, &decoded) as f32);
        }
    }

    /// Everything measured, in display order.
    pub fn finish(mut self) -> Result<ProbeStats> {
        let packets = self.enc.finish()?;
        self.take(packets)?;
        for d in self.dec.flush()? {
            self.compare(d);
        }
        Ok(self.stats)
    }
}

/// Luma PSNR in dB (capped at 100 for identical planes).
fn psnr_y(a: &Frame, b: &Frame) -> f64 {
    let (pa, pb) = (&a.planes[0], &b.planes[0]);
    let n = pa.samples.len().min(pb.samples.len()).max(1);
    let sse: u64 = pa
        .samples
        .iter()
        .zip(pb.samples.iter())
        .map(|(x, y)| {
            let d = x.abs_diff(y) as u64;
            d * d
        })
        .sum();
    let peak = ((1u64 << a.format.bit_depth) - 1) as f64;
    if sse == 0 {
        100.0
    } else {
        (10.0 * (peak * peak / (sse as f64 / n as f64)).log10()).min(100.0)
    }
}

/// A chunk of the sample and the share of the title it stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledChunk {
    /// Index into the title's chunks.
    pub chunk: usize,
    /// Title frames it stands for over its own frames (its stratum's frames / its frames).
    pub weight: f64,
    /// The chunks of its stratum: its keyframe stands for theirs (each chunk starts with one),
    /// its other frames for the rest of the stratum's frames.
    pub key_weight: f64,
    /// Its stratum (0 = least complex).
    pub stratum: usize,
    /// Probe bytes per frame.
    pub complexity: f64,
    /// Probe luma PSNR (mean over its frames).
    pub probe_quality: f64,
}

/// Which chunks represent the title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub chunks: Vec<SampledChunk>,
    /// Frames encoded per point, and their share of the title.
    pub frames: u64,
    pub fraction: f64,
    /// The probe's title total over the sample's weighted estimate of it: a point's sampled
    /// kbps times this is the ratio estimate of its title kbps (1 without a probe). The grid's
    /// bits follow the probe's bits from chunk to chunk far more closely than they follow a
    /// constant, so this removes most of what the sample's mix of easy and hard chunks gets
    /// wrong about the rate.
    pub rate_factor: f64,
    /// The probe's mean PSNR over the whole title (frame-weighted): the regression estimate of
    /// a point's quality corrects the sample's mean towards it ([`regression_shift`]).
    pub title_probe_quality: f64,
}

/// Mean probe bytes per frame of each chunk (one entry per title frame; a shorter series counts
/// what it has).
pub fn chunk_complexity(chunks: &[Chunk], probe: &ProbeStats) -> Vec<f64> {
    chunk_means(chunks, &probe.bytes)
}

/// Mean probe PSNR of each chunk.
pub fn chunk_probe_quality(chunks: &[Chunk], probe: &ProbeStats) -> Vec<f64> {
    chunk_means(chunks, &probe.psnr)
}

fn chunk_means<T: Copy + Into<f64>>(chunks: &[Chunk], v: &[T]) -> Vec<f64> {
    chunks
        .iter()
        .map(|c| {
            let s = (c.start as usize).min(v.len());
            let e = (c.end() as usize).min(v.len());
            if e > s {
                v[s..e].iter().map(|&b| b.into()).sum::<f64>() / (e - s) as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// A stratified sample of at most about `fraction` of the title's frames: strata of equal
/// duration in order of complexity, one chunk each — the shortest of the stratum's central
/// chunks (complexity within its duration-weighted interquartile range), so the budget buys as
/// many strata as it can — and as many strata as fit the budget (at least two when the title
/// has two chunks or more, so the error can be estimated).
///
/// `quality` is each chunk's probe PSNR (zeros without a probe).
pub fn choose(chunks: &[Chunk], complexity: &[f64], quality: &[f64], fraction: f64) -> Sample {
    let total: u64 = chunks.iter().map(|c| c.frames).sum();
    let budget = fraction * total as f64;
    let mut best: Option<Sample> = None;
    for k in 1..=chunks.len().max(1) {
        let s = stratify(chunks, complexity, quality, k);
        let fits = s.frames as f64 <= budget;
        if fits || best.is_none() || (k == 2 && chunks.len() >= 2) {
            best = Some(s);
        }
        if !fits && k >= 2 {
            break;
        }
    }
    let s = best.unwrap_or_else(|| stratify(chunks, complexity, quality, 1));
    let title_probe_quality = chunks
        .iter()
        .zip(quality)
        .map(|(c, q)| q * c.frames as f64)
        .sum::<f64>()
        / total.max(1) as f64;
    let probe_total: f64 = chunks
        .iter()
        .zip(complexity)
        .map(|(c, x)| x * c.frames as f64)
        .sum();
    let estimate: f64 = s
        .chunks
        .iter()
        .map(|p| p.weight * p.complexity * chunks[p.chunk].frames as f64)
        .sum();
    let rate_factor = if probe_total > 0.0 && estimate > 0.0 {
        probe_total / estimate
    } else {
        1.0
    };
    Sample {
        fraction: s.frames as f64 / total.max(1) as f64,
        rate_factor,
        title_probe_quality,
        ..s
    }
}

fn stratify(chunks: &[Chunk], complexity: &[f64], quality: &[f64], k: usize) -> Sample {
    let total: u64 = chunks.iter().map(|c| c.frames).sum();
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by(|&a, &b| complexity[a].total_cmp(&complexity[b]).then(a.cmp(&b)));
    // Strata: consecutive chunks in complexity order, each about total/k frames.
    let mut strata: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut acc = 0u64;
    for &i in &order {
        let mid = acc as f64 + chunks[i].frames as f64 / 2.0;
        let h = ((mid / total as f64 * k as f64) as usize).min(k - 1);
        strata[h].push(i);
        acc += chunks[i].frames;
    }
    let mut picked = Vec::new();
    for (h, members) in strata.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
        let frames: u64 = members.iter().map(|&i| chunks[i].frames).sum();
        // The stratum's duration-weighted quartiles of complexity (members are in order).
        let quantile = |q: f64| {
            let mut c = 0u64;
            members
                .iter()
                .find(|&&i| {
                    c += chunks[i].frames;
                    c as f64 >= q * frames as f64
                })
                .map_or(0.0, |&i| complexity[i])
        };
        let (lo, median, hi) = (quantile(0.25), quantile(0.5), quantile(0.75));
        let best = *members
            .iter()
            .filter(|&&i| complexity[i] >= lo && complexity[i] <= hi)
            .min_by(|&&a, &&b| {
                chunks[a]
                    .frames
                    .cmp(&chunks[b].frames)
                    .then(
                        (complexity[a] - median)
                            .abs()
                            .total_cmp(&(complexity[b] - median).abs()),
                    )
                    .then(a.cmp(&b))
            })
            .expect("the median member is central");
        picked.push(SampledChunk {
            chunk: best,
            weight: frames as f64 / chunks[best].frames as f64,
            key_weight: members.len() as f64,
            stratum: h,
            complexity: complexity[best],
            probe_quality: quality[best],
        });
    }
    // Display order, so the sample is encoded and assembled front to back.
    picked.sort_by_key(|s| s.chunk);
    let frames = picked.iter().map(|s| chunks[s.chunk].frames).sum();
    Sample {
        chunks: picked,
        frames,
        fraction: 0.0,
        rate_factor: 1.0,
        title_probe_quality: 0.0,
    }
}

/// The regression estimate's correction of a series' weighted sample mean: `y[i]` is sampled
/// chunk `i`'s mean (order of `sample.chunks`), `frames[i]` its frames. The slope of `y` on the
/// chunks' probe PSNR (weighted least squares, the weights being the frames each chunk stands
/// for) times how far the title's probe PSNR is from the sample's. 0 with fewer than three
/// chunks or no spread in the probe (a line through two points is no estimate).
pub fn regression_shift(sample: &Sample, frames: &[u64], y: &[f64]) -> f64 {
    regression_slope(sample, frames, y).map_or(0.0, |(slope, zbar)| {
        slope * (sample.title_probe_quality - zbar)
    })
}

/// The weighted least-squares slope of `y` on the sampled chunks' probe PSNR, and the sample's
/// weighted mean probe PSNR; `None` under the conditions [`regression_shift`] names.
fn regression_slope(sample: &Sample, frames: &[u64], y: &[f64]) -> Option<(f64, f64)> {
    let n = sample.chunks.len();
    if n < 3 || y.len() != n || frames.len() != n || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let big: Vec<f64> = (0..n)
        .map(|i| sample.chunks[i].weight * frames[i] as f64)
        .collect();
    let total: f64 = big.iter().sum();
    let z: Vec<f64> = sample.chunks.iter().map(|c| c.probe_quality).collect();
    let zbar = (0..n).map(|i| big[i] * z[i]).sum::<f64>() / total;
    let ybar = (0..n).map(|i| big[i] * y[i]).sum::<f64>() / total;
    let szz: f64 = (0..n).map(|i| big[i] * (z[i] - zbar).powi(2)).sum();
    let szy: f64 = (0..n).map(|i| big[i] * (z[i] - zbar) * (y[i] - ybar)).sum();
    if szz.is_nan() || szz <= 1e-9 * total {
        return None;
    }
    Some((szy / szz, zbar))
}

/// Moves every pooled statistic of each series of a sampled `point` by its
/// [`regression_shift`] (the sampled chunks' own results in `parts`, in sample order), and its
/// headline metrics with them: the sample's mix of content is corrected towards the title's, as
/// the probe measured it. The shift is that of the mean, applied to every statistic alike.
pub fn adjust_quality(
    point: &mut crate::points::Point,
    sample: &Sample,
    frames: &[u64],
    parts: &[crate::grid::TaskResult],
) {
    let series: Vec<crate::points::Series> = point.pooled.keys().copied().collect();
    for s in series {
        let y: Vec<f64> = parts
            .iter()
            .map(|r| r.point.pooled.get(&s).map_or(f64::NAN, |p| p.mean))
            .collect();
        let d = regression_shift(sample, frames, &y);
        if d == 0.0 {
            continue;
        }
        if let Some(p) = point.pooled.get_mut(&s) {
            for v in [
                &mut p.mean,
                &mut p.harmonic_mean,
                &mut p.min,
                &mut p.max,
                &mut p.median,
                &mut p.p1,
                &mut p.p5,
                &mut p.p10,
            ] {
                *v += d;
            }
        }
        match s {
            crate::points::Series::Vmaf => point.vmaf += d,
            crate::points::Series::PsnrY => point.psnr_y += d,
            crate::points::Series::Ssim => point.ssim += d,
            _ => {}
        }
    }
}

/// Standard errors of a sampled point's estimates (collapsed strata: adjacent strata paired).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorEstimate {
    /// Of kbps, relative (0.02 = 2 %).
    pub kbps_rel: f64,
    /// Of the mean quality, in its units.
    pub quality: f64,
}

/// The error estimate of a point measured on `sample`: `values[i]` is (kbps, mean quality) of
/// sampled chunk `i` alone (display order as in `sample.chunks`), `frames[i]` its frames. The
/// kbps error is that of the ratio estimate (residuals of each chunk's kbps from the probe's
/// prediction, see [`Sample::rate_factor`]) when the sample has probe complexities.
pub fn error_estimate(sample: &Sample, values: &[(f64, f64)], frames: &[u64]) -> ErrorEstimate {
    let n = sample.chunks.len();
    if n < 2 || values.len() != n || frames.len() != n {
        return ErrorEstimate {
            kbps_rel: f64::NAN,
            quality: f64::NAN,
        };
    }
    // Stratum totals (frames they stand for) and the weighted means.
    let big: Vec<f64> = (0..n)
        .map(|i| sample.chunks[i].weight * frames[i] as f64)
        .collect();
    let total: f64 = big.iter().sum();
    let mean = |f: &dyn Fn(usize) -> f64| (0..n).map(|i| big[i] * f(i)).sum::<f64>() / total;
    let kbps = mean(&|i| values[i].0);
    let q = mean(&|i| values[i].1);
    let x = |i: usize| sample.chunks[i].complexity;
    let ratio = kbps / mean(&x);
    let residual = |i: usize| {
        if ratio.is_finite() {
            values[i].0 - ratio * x(i)
        } else {
            values[i].0 - kbps
        }
    };
    // Linearised contributions of each stratum to the weighted mean, in stratum order.
    let mut by_stratum: Vec<usize> = (0..n).collect();
    by_stratum.sort_by_key(|&i| sample.chunks[i].stratum);
    let var = |f: &dyn Fn(usize) -> f64, m: f64| -> f64 {
        let z: Vec<f64> = by_stratum
            .iter()
            .map(|&i| big[i] * (f(i) - m) / total)
            .collect();
        let mut v = 0.0;
        for pair in z.chunks(2) {
            if let [a, b] = pair {
                v += (a - b) * (a - b);
            } else {
                // An odd stratum out: its own square (conservative).
                v += pair[0] * pair[0] * 2.0;
            }
        }
        v
    };
    // Quality: residuals from the regression on the probe PSNR when it is used.
    let z = |i: usize| sample.chunks[i].probe_quality;
    let (zbar, qs): (f64, Vec<f64>) = (mean(&z), values.iter().map(|v| v.1).collect());
    let slope = regression_slope(sample, frames, &qs).map_or(0.0, |(b, _)| b);
    ErrorEstimate {
        kbps_rel: var(&residual, 0.0).sqrt() / kbps,
        quality: var(&|i| values[i].1 - slope * (z(i) - zbar), q).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(lens: &[u64]) -> Vec<Chunk> {
        let mut at = 0;
        lens.iter()
            .map(|&frames| {
                let c = Chunk { start: at, frames };
                at += frames;
                c
            })
            .collect()
    }

    #[test]
    fn sample_is_stratified_and_weights_cover_the_title() {
        let c = chunks(&[100; 40]);
        let cx: Vec<f64> = (0..40).map(|i| ((i * 17) % 40) as f64).collect();
        let s = choose(&c, &cx, &[0.0; 40], 0.12);
        assert!(s.fraction <= 0.12 + 1e-9, "{s:?}");
        assert!(s.chunks.len() >= 2);
        let covered: f64 = s
            .chunks
            .iter()
            .map(|p| p.weight * c[p.chunk].frames as f64)
            .sum();
        assert!((covered - 4000.0).abs() < 1e-9);
        // One per stratum, from low to high complexity.
        let mut by: Vec<&SampledChunk> = s.chunks.iter().collect();
        by.sort_by_key(|p| p.stratum);
        assert!(by.windows(2).all(|w| w[0].complexity <= w[1].complexity));
    }

    #[test]
    fn error_estimate_is_zero_when_the_probe_predicts_and_grows_with_residuals() {
        let c = chunks(&[100; 20]);
        let cx: Vec<f64> = (0..20).map(|i| 1.0 + i as f64).collect();
        let s = choose(&c, &cx, &[0.0; 20], 0.2);
        let n = s.chunks.len();
        // kbps proportional to the probe: the ratio estimate is exact.
        let exact: Vec<(f64, f64)> = s
            .chunks
            .iter()
            .map(|p| (50.0 * p.complexity, 80.0))
            .collect();
        let e = error_estimate(&s, &exact, &vec![100; n]);
        assert!(e.kbps_rel.abs() < 1e-12 && e.quality == 0.0, "{e:?}");
        let off: Vec<(f64, f64)> = (0..n)
            .map(|i| (1000.0 + 300.0 * (i % 2) as f64, 80.0 + i as f64))
            .collect();
        let e = error_estimate(&s, &off, &vec![100; n]);
        assert!(e.kbps_rel > 0.0 && e.quality > 0.0, "{e:?}");
        // The sample's weighted probe total times the factor is the title's.
        let est: f64 = s
            .chunks
            .iter()
            .map(|p| p.weight * p.complexity * 100.0)
            .sum();
        let title: f64 = cx.iter().map(|x| x * 100.0).sum();
        assert!((est * s.rate_factor - title).abs() < 1e-6);
    }

    #[test]
    fn regression_estimate_is_exact_when_quality_is_linear_in_the_probe() {
        let c = chunks(&[100; 30]);
        let cx: Vec<f64> = (0..30).map(|i| 1.0 + i as f64).collect();
        // Probe PSNR unrelated to the strata's order, quality linear in it.
        let z: Vec<f64> = (0..30).map(|i| 30.0 + ((i * 7) % 11) as f64).collect();
        let s = choose(&c, &cx, &z, 0.2);
        assert!(s.chunks.len() >= 3, "{s:?}");
        let q = |z: f64| 20.0 + 1.5 * z;
        let title: f64 = z.iter().map(|&z| q(z)).sum::<f64>() / 30.0;
        let y: Vec<f64> = s.chunks.iter().map(|p| q(p.probe_quality)).collect();
        let frames = vec![100; s.chunks.len()];
        let sample_mean: f64 = s
            .chunks
            .iter()
            .zip(&y)
            .map(|(p, y)| p.weight * y)
            .sum::<f64>()
            / s.chunks.iter().map(|p| p.weight).sum::<f64>();
        let shifted = sample_mean + regression_shift(&s, &frames, &y);
        assert!((shifted - title).abs() < 1e-9, "{shifted} vs {title}");
        let e = error_estimate(
            &s,
            &y.iter().map(|&y| (1000.0, y)).collect::<Vec<_>>(),
            &frames,
        );
        assert!(e.quality.abs() < 1e-9, "{e:?}");
    }
}
