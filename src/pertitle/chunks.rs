//! A title as chunks: shots merged or split into chunks within the recipe's limits
//! ([`plan`]), and a point's title result assembled from its chunks' tasks ([`assemble`]).
//!
//! Each chunk is encoded as its own stream (the encoder restarted, so it starts with a keyframe),
//! as chunked encoders do, and is a task of its own in the store. Assembly is exact: per-frame
//! bytes and scores are concatenated in display order and every pooled statistic is recomputed
//! on the whole vectors (never averaged chunk means); kbps is total bytes over the title's
//! duration. The runner scores a chunk's frames as within the whole title (see
//! `pipeline::Lane`), so the assembled scores equal those of the concatenated chunk streams
//! scored as one video.

use crate::error::{Error, Result};
use crate::grid::{sha256_hex, ChunkRef, GridTask, TaskResult, Timings};
use crate::points::{Point, Series};
use crate::quality::pooling::{self, Pooled};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Frames `start..start + frames` of a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Chunk {
    pub start: u64,
    pub frames: u64,
}

impl Chunk {
    pub fn end(&self) -> u64 {
        self.start + self.frames
    }
}

/// Chunk length limits in frames, and the multiple every chunk start is aligned to (the
/// frame-rate decimation of `grid.fps_cap`, so a chunk's kept frames are the title's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkLimits {
    pub min_frames: u64,
    pub max_frames: u64,
    pub align: u64,
}

/// Chunks of a `frames`-long title whose shots start at `cuts`: a shot longer than
/// `max_frames` is split into equal parts no longer than that; shots shorter than `min_frames`
/// are merged with the next ones while the chunk stays within `max_frames` (a last short chunk
/// joins the previous one if it fits). Chunks start at cuts wherever the limits allow. Cuts are
/// rounded down to `align`.
pub fn plan(frames: u64, cuts: &[u64], limits: ChunkLimits) -> Vec<Chunk> {
    if frames == 0 {
        return Vec::new();
    }
    let align = limits.align.max(1);
    let max = (limits.max_frames.max(1)).div_ceil(align) * align;
    let min = limits.min_frames.min(max);
    let mut bounds: Vec<u64> = cuts
        .iter()
        .map(|&c| c / align * align)
        .filter(|&c| c > 0 && c < frames)
        .collect();
    bounds.push(0);
    bounds.push(frames);
    bounds.sort_unstable();
    bounds.dedup();
    // Shots, long ones split evenly (in multiples of `align`).
    let mut pieces = Vec::new();
    for w in bounds.windows(2) {
        let (s, e) = (w[0], w[1]);
        let len = e - s;
        let parts = len.div_ceil(max);
        let units = len.div_ceil(align);
        let mut at = s;
        for k in 0..parts {
            let next = if k + 1 == parts {
                e
            } else {
                (s + (units * (k + 1) / parts) * align).min(e)
            };
            if next > at {
                pieces.push(Chunk {
                    start: at,
                    frames: next - at,
                });
            }
            at = next;
        }
    }
    // Short pieces merged forward while the chunk fits.
    let mut chunks: Vec<Chunk> = Vec::new();
    for p in pieces {
        match chunks.last_mut() {
            Some(c) if c.frames < min && c.frames + p.frames <= max => c.frames += p.frames,
            _ => chunks.push(p),
        }
    }
    if chunks.len() >= 2 {
        let n = chunks.len();
        let (last, prev) = (chunks[n - 1], chunks[n - 2]);
        if last.frames < min && prev.frames + last.frames <= max {
            chunks[n - 2].frames += last.frames;
            chunks.pop();
        }
    }
    chunks
}

/// How a chunk's task result enters a title result: its task and its weights (1 for every chunk
/// of a full title; a sampled chunk stands for more of the title, see `crate::sample`).
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub result: &'a TaskResult,
    /// Title frames each of its frames stands for.
    pub weight: f64,
    /// Chunks its first packet (the keyframe) stands for; its other packets stand for the rest
    /// of the `weight × frames` frames, so a short sampled chunk does not give its stratum one
    /// keyframe per `frames` frames.
    pub key_weight: f64,
}

impl<'a> Part<'a> {
    /// A chunk of a full title.
    pub fn whole(result: &'a TaskResult) -> Part<'a> {
        Part {
            result,
            weight: 1.0,
            key_weight: 1.0,
        }
    }
}

/// The title result of one point from its chunks' results (in display order): `whole` is the
/// point's task over the whole title (its size, rate, encoder), `title_frames` the title's length.
///
/// With every weight 1 this is exact assembly: the concatenated per-frame vectors, pooled anew,
/// bytes summed, kbps over the title's duration. A single part that is the whole title is
/// returned as it is. With other weights (a sample) every frame of a part counts `weight` times
/// and its keyframe `key_weight` times (its other packets make up the rest): kbps is the
/// weighted bytes over the weighted duration, and each statistic is [`pool_weighted`].
pub fn assemble(parts: &[Part], whole: &GridTask, title_frames: u64) -> Result<TaskResult> {
    let what = || {
        format!(
            "{} {}x{} {:?}",
            whole.encoder.codec, whole.filters.width, whole.filters.height, whole.rate
        )
    };
    let Some(first) = parts.first() else {
        return Err(Error::data(what(), "no chunk results to assemble"));
    };
    if parts.len() == 1
        && first.weight == 1.0
        && first.key_weight == 1.0
        && first.result.task == *whole
    {
        return Ok(first.result.clone());
    }
    let exact = parts.iter().all(|p| p.weight == 1.0 && p.key_weight == 1.0);
    let mut frame_bytes = Vec::new();
    let mut scored_frames = Vec::new();
    let mut scores: BTreeMap<Series, Vec<f64>> = BTreeMap::new();
    let mut weights = Vec::new();
    let mut timings = Timings::default();
    let (mut bytes, mut wbytes, mut wframes, mut covered) = (0u64, 0.0, 0.0, 0u64);
    let mut chunks = Vec::with_capacity(parts.len());
    let mut next_start = 0;
    for p in parts {
        let r = p.result;
        let sel = &r.task.filters.frames;
        let frames = sel.count.unwrap_or(title_frames.saturating_sub(sel.start));
        if exact && sel.start != next_start {
            return Err(Error::data(
                what(),
                format!(
                    "chunk at frame {} does not follow the previous one (ending at {next_start})",
                    sel.start
                ),
            ));
        }
        next_start = sel.start + frames;
        covered += frames;
        let b: u64 = r.frame_bytes.iter().sum();
        bytes += b;
        wbytes += match r.frame_bytes.split_first() {
            Some((&key, rest)) if !rest.is_empty() => {
                let rest_weight = (p.weight * frames as f64 - p.key_weight) / rest.len() as f64;
                p.key_weight * key as f64 + rest_weight * rest.iter().sum::<u64>() as f64
            }
            _ => p.weight * b as f64,
        };
        wframes += p.weight * frames as f64;
        frame_bytes.extend(&r.frame_bytes);
        scored_frames.extend(&r.scored_frames);
        weights.extend(std::iter::repeat_n(p.weight, r.scored_frames.len()));
        for (s, v) in &r.scores {
            scores.entry(*s).or_default().extend(v);
        }
        timings.encode_s += r.timings.encode_s;
        timings.decode_s += r.timings.decode_s;
        timings.score_s += r.timings.score_s;
        timings.total_s += r.timings.total_s;
        chunks.push(ChunkRef {
            start: sel.start,
            frames,
            weight: p.weight,
            key: r.key(),
        });
    }
    if exact && covered != title_frames {
        return Err(Error::data(
            what(),
            format!("chunks cover {covered} of the title's {title_frames} frames"),
        ));
    }
    for (s, v) in &scores {
        if v.len() != scored_frames.len() {
            return Err(Error::data(
                what(),
                format!(
                    "{s} has {} scores for {} frames",
                    v.len(),
                    scored_frames.len()
                ),
            ));
        }
    }
    let (num, den) = (whole.source.fps_num as f64, whole.source.fps_den as f64);
    let kbps = wbytes * 8.0 / (wframes * den / num) / 1000.0;
    let pooled: BTreeMap<Series, Pooled> = scores
        .iter()
        .map(|(k, v)| {
            let p = if exact {
                pooling::pool(v)
            } else {
                pool_weighted(v, &weights)
            };
            (*k, p)
        })
        .collect();
    let first_point = &first.result.point;
    let point = Point::from_pooled(
        first_point.codec.clone(),
        (first_point.width, first_point.height),
        first_point.crf,
        kbps,
        bytes,
        pooled,
        assembly_key(&chunks),
    );
    let r = TaskResult {
        task: whole.clone(),
        point,
        frame_bytes,
        scored_frames,
        scores,
        timings,
        chunks,
    };
    r.check()?;
    Ok(r)
}

/// The key of a title result assembled from chunk tasks: the hash of their keys and weights in
/// order, so the same chunks give the same key on any machine.
pub fn assembly_key(chunks: &[ChunkRef]) -> String {
    let mut s = String::from("pertitle-assembly/1");
    for c in chunks {
        s.push_str(&format!(":{}*{:?}", c.key, c.weight));
    }
    sha256_hex(s.as_bytes())
}

/// Pooled statistics of `scores` where score `i` counts `weights[i]` times: weighted mean and
/// harmonic mean (libvmaf's form), min and max of the scores present, and percentiles by the
/// rule [`pooling::percentile`] uses with every score repeated by its weight (rank
/// p/100 · (W − 1) into the weighted order, interpolated linearly). Equal weights of 1 give
/// [`pooling::pool`]'s values up to rounding.
pub fn pool_weighted(scores: &[f64], weights: &[f64]) -> Pooled {
    let w: f64 = weights.iter().sum();
    if scores.is_empty() || w.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return pooling::pool(&[]);
    }
    let mean = scores.iter().zip(weights).map(|(s, w)| s * w).sum::<f64>() / w;
    let inv: f64 = scores.iter().zip(weights).map(|(s, w)| w / (s + 1.0)).sum();
    let mut order: Vec<(f64, f64)> = scores
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let at = |p: f64| -> f64 {
        let rank = p.clamp(0.0, 100.0) / 100.0 * (w - 1.0).max(0.0);
        // The score at a (fractional) position of the weighted order: element k covers
        // positions [C(k-1), C(k)).
        let value_at = |pos: f64| -> f64 {
            let mut c = 0.0;
            for &(s, wt) in &order {
                c += wt;
                if pos < c {
                    return s;
                }
            }
            order[order.len() - 1].0
        };
        let lo = rank.floor();
        let t = rank - lo;
        let a = value_at(lo);
        if t == 0.0 {
            a
        } else {
            a + (value_at(lo + 1.0) - a) * t
        }
    };
    Pooled {
        mean,
        harmonic_mean: w / inv - 1.0,
        min: order[0].0,
        max: order[order.len() - 1].0,
        median: at(50.0),
        p1: at(1.0),
        p5: at(5.0),
        p10: at(10.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(min: u64, max: u64) -> ChunkLimits {
        ChunkLimits {
            min_frames: min,
            max_frames: max,
            align: 1,
        }
    }

    fn covers(chunks: &[Chunk], frames: u64) {
        let mut at = 0;
        for c in chunks {
            assert_eq!(c.start, at, "{chunks:?}");
            assert!(c.frames > 0);
            at = c.end();
        }
        assert_eq!(at, frames);
    }

    #[test]
    fn chunks_follow_cuts_within_limits() {
        // Shots of 100, 20, 30, 400 and 50 frames, limits 48..240.
        let c = plan(600, &[100, 120, 150, 550], lim(48, 240));
        covers(&c, 600);
        let starts: Vec<u64> = c.iter().map(|c| c.start).collect();
        // 100 alone; 20 + 30 merged (50 ≥ 48); 400 split in two of 200; 50 alone.
        assert_eq!(starts, vec![0, 100, 150, 350, 550]);
        assert!(c.iter().all(|c| c.frames <= 240));
    }

    #[test]
    fn short_title_is_one_chunk_and_tail_merges() {
        assert_eq!(
            plan(132, &[33, 66, 99], lim(240, 240)),
            vec![Chunk {
                start: 0,
                frames: 132
            }]
        );
        let c = plan(130, &[120], lim(48, 240));
        assert_eq!(c.len(), 1);
        covers(&c, 130);
        assert!(plan(0, &[], lim(1, 2)).is_empty());
    }

    #[test]
    fn long_shot_splits_evenly_and_aligned() {
        let c = plan(
            1000,
            &[],
            ChunkLimits {
                min_frames: 48,
                max_frames: 240,
                align: 2,
            },
        );
        covers(&c, 1000);
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.start % 2 == 0 && c.frames == 200));
    }

    #[test]
    fn weighted_pooling_matches_plain_with_unit_weights() {
        let s = [90.0, 80.5, 70.25, 99.0, 60.0, 85.0, 77.0];
        let a = pooling::pool(&s);
        let b = pool_weighted(&s, &[1.0; 7]);
        for (x, y) in [
            (a.mean, b.mean),
            (a.harmonic_mean, b.harmonic_mean),
            (a.min, b.min),
            (a.median, b.median),
            (a.p1, b.p1),
            (a.p5, b.p5),
            (a.p10, b.p10),
        ] {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
        // Weight 2 on a score is that score twice.
        let twice = pooling::pool(&[1.0, 2.0, 2.0, 5.0]);
        let w = pool_weighted(&[1.0, 2.0, 5.0], &[1.0, 2.0, 1.0]);
        assert!((twice.mean - w.mean).abs() < 1e-12);
        assert!((twice.p10 - w.p10).abs() < 1e-12);
        assert!((twice.median - w.median).abs() < 1e-12);
    }
}
