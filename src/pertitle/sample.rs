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
use crate::media::{self, Encoder, EncoderConfig, RateControl, Scaler, ScalerKind};
use serde::{Deserialize, Serialize};

/// Probe encode width (height from the aspect, even).
const PROBE_WIDTH: usize = 320;
/// Probe encoder and quantiser: fast, fixed, and independent of the recipe.
const PROBE_CODEC: &str = "libx264";
const PROBE_QP: u32 = 30;

/// Per-frame complexity of a title: the bytes of a fixed-QP `ultrafast` encode of a
/// `PROBE_WIDTH`-wide copy, one entry per frame in display order (no B-frames, no look-ahead, so
/// packets come in frame order).
pub struct ComplexityProbe {
    down: Scaler,
    enc: Encoder,
    bytes: Vec<u32>,
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
        Ok(Some(ComplexityProbe {
            down,
            enc,
            bytes: Vec::new(),
        }))
    }

    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        let small = self.down.scale(frame)?;
        for p in self.enc.encode(&small)? {
            self.bytes.push(p.data.len() as u32);
        }
        Ok(())
    }

    /// Bytes per frame, in display order.
    pub fn finish(mut self) -> Result<Vec<u32>> {
        for p in self.enc.finish()? {
            self.bytes.push(p.data.len() as u32);
        }
        Ok(self.bytes)
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
}

/// Mean probe bytes per frame of each chunk (`probe` has one entry per title frame; a shorter
/// probe, e.g. when the encoder held frames back, counts what it has).
pub fn chunk_complexity(chunks: &[Chunk], probe: &[u32]) -> Vec<f64> {
    chunks
        .iter()
        .map(|c| {
            let s = (c.start as usize).min(probe.len());
            let e = (c.end() as usize).min(probe.len());
            if e > s {
                probe[s..e].iter().map(|&b| b as f64).sum::<f64>() / (e - s) as f64
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
pub fn choose(chunks: &[Chunk], complexity: &[f64], fraction: f64) -> Sample {
    let total: u64 = chunks.iter().map(|c| c.frames).sum();
    let budget = fraction * total as f64;
    let mut best: Option<Sample> = None;
    for k in 1..=chunks.len().max(1) {
        let s = stratify(chunks, complexity, k);
        let fits = s.frames as f64 <= budget;
        if fits || best.is_none() || (k == 2 && chunks.len() >= 2) {
            best = Some(s);
        }
        if !fits && k >= 2 {
            break;
        }
    }
    let s = best.unwrap_or_else(|| stratify(chunks, complexity, 1));
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
        ..s
    }
}

fn stratify(chunks: &[Chunk], complexity: &[f64], k: usize) -> Sample {
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
    ErrorEstimate {
        kbps_rel: var(&residual, 0.0).sqrt() / kbps,
        quality: var(&|i| values[i].1, q).sqrt(),
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
        let s = choose(&c, &cx, 0.12);
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
        let s = choose(&c, &cx, 0.2);
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
}
