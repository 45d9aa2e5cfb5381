//! [`RefTimeline`]: a reference video whose motion is measured as frames arrive and whose heavy
//! preparation waits until a distorted frame needs it.

use crate::{Engine, Error, Frame, Plane, PreparedRef, RefFrame, Result};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// The reference side of many distorted streams that reach each reference frame at their own
/// pace (a ladder's encoders). Unlike [`crate::RefPreparer`], which prepares every frame as it
/// arrives, a frame waits raw until [`RefTimeline::prepare`] asks for it, and whatever the caller
/// [releases](RefTimeline::release_below) is dropped: the VIF/ADM/SSIM parts are tens of MB per
/// frame, so only the frames some stream is about to score are held prepared.
///
/// Frames are pushed in display order. A frame's motion is measured against the previous one
/// when it is pushed; its motion2 is known once the next frame is pushed or the stream ended
/// ([`RefTimeline::is_ready`]).
pub struct RefTimeline<'e> {
    engine: &'e Engine,
    /// Frames pushed and neither prepared nor released, by index.
    raw: BTreeMap<u64, Frame>,
    /// Each frame's motion (libvmaf `motion_sad`; 0 for the first) not released.
    motion: BTreeMap<u64, f64>,
    prepared: HashMap<u64, PreparedRef>,
    /// Luma of the last frame pushed: the next frame's motion is measured against it.
    prev_luma: Option<Plane>,
    first: Option<u64>,
    last: Option<u64>,
    ended: bool,
}

impl<'e> RefTimeline<'e> {
    pub fn new(engine: &'e Engine) -> Self {
        RefTimeline {
            engine,
            raw: BTreeMap::new(),
            motion: BTreeMap::new(),
            prepared: HashMap::new(),
            prev_luma: None,
            first: None,
            last: None,
            ended: false,
        }
    }

    /// Adds the next frames (moved, not copied) and measures their motion. Errors if a frame's
    /// size differs from the previous one's.
    pub fn push(&mut self, frames: Vec<Frame>) -> Result<()> {
        let motion = (0..frames.len())
            .map(|k| batch_motion(self.engine, self.last_luma(), &frames, k))
            .collect::<Result<Vec<_>>>()?;
        self.push_measured(frames, &motion)
    }

    /// The luma of the last frame pushed: what the next frame's motion is measured against
    /// ([`batch_motion`]).
    pub fn last_luma(&self) -> Option<&Plane> {
        self.prev_luma.as_ref()
    }

    /// Adds the next frames with their motion already measured by [`batch_motion`] (so a caller
    /// can measure a batch in its own parallel work while the timeline is busy). Errors if the
    /// counts differ.
    pub fn push_measured(&mut self, frames: Vec<Frame>, motion: &[f64]) -> Result<()> {
        if motion.len() != frames.len() {
            return Err(Error::Mismatch(format!(
                "{} motion values for {} reference frames",
                motion.len(),
                frames.len()
            )));
        }
        let Some(last) = frames.last() else {
            return Ok(());
        };
        for (f, &sad) in frames.iter().zip(motion) {
            self.motion.insert(f.index, sad);
            self.first.get_or_insert(f.index);
        }
        // The only luma kept beyond its frame: the frame itself may be prepared or released
        // before the next one arrives.
        self.prev_luma = Some(last.luma().clone());
        self.last = Some(last.index);
        for f in frames {
            self.raw.insert(f.index, f);
        }
        Ok(())
    }

    /// Marks the end of the stream: the last frame's motion2 is its own motion.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The index of the last frame pushed.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Whether frame `i`'s motion2 is known: the frame after it has been pushed, or the stream
    /// ended.
    pub fn is_ready(&self, i: u64) -> bool {
        self.ended || self.motion.contains_key(&(i + 1))
    }

    /// Whether frame `i` is held, raw or prepared.
    pub fn holds(&self, i: u64) -> bool {
        self.raw.contains_key(&i) || self.prepared.contains_key(&i)
    }

    /// Prepares the frames of `indices` not yet prepared, in parallel in the current rayon pool;
    /// each raw frame moves into its preparation. Errors if a frame is not held or not
    /// [ready](RefTimeline::is_ready).
    pub fn prepare(&mut self, indices: &[u64]) -> Result<()> {
        let mut need = Vec::new();
        for &i in indices {
            if self.prepared.contains_key(&i) {
                continue;
            }
            if !self.is_ready(i) {
                return Err(Error::Mismatch(format!(
                    "reference frame {i} asked for before the next frame or the end"
                )));
            }
            let f = self
                .raw
                .remove(&i)
                .ok_or_else(|| Error::Mismatch(format!("reference frame {i} is not held")))?;
            need.push(f);
        }
        let (engine, motion, first) = (self.engine, &self.motion, self.first);
        let prepared: Vec<Result<PreparedRef>> = need
            .into_par_iter()
            .map(|f| {
                let i = f.index;
                let r: RefFrame = engine.prepare(f)?;
                let sad = motion[&i];
                let m2 = crate::vmaf::motion::motion2(
                    first == Some(i),
                    sad,
                    motion.get(&(i + 1)).copied(),
                );
                Ok(PreparedRef::from_parts(r, sad, m2))
            })
            .collect();
        for p in prepared {
            let p = p?;
            self.prepared.insert(p.index(), p);
        }
        Ok(())
    }

    /// Frame `i` prepared by [`RefTimeline::prepare`] and not released.
    pub fn get(&self, i: u64) -> Option<&PreparedRef> {
        self.prepared.get(&i)
    }

    /// Lets go of every frame below `i`, raw or prepared: no distorted frame still to come
    /// needs it. They are freed when the returned value is dropped.
    pub fn release_below(&mut self, i: u64) -> Released {
        let keep = self.raw.split_off(&i);
        let raw = std::mem::replace(&mut self.raw, keep)
            .into_values()
            .collect();
        let (gone, keep) = self.prepared.drain().partition(|(k, _)| *k < i);
        self.prepared = keep;
        let keep = self.motion.split_off(&i);
        self.motion = keep;
        Released {
            raw,
            prepared: gone.into_values().collect(),
        }
    }
}

/// Frames a [`RefTimeline`] let go of. Dropping it frees them, tens of MB for each prepared
/// frame, so a caller may drop it where a core is idle rather than on its critical path.
pub struct Released {
    raw: Vec<Frame>,
    prepared: Vec<PreparedRef>,
}

impl Released {
    /// How many frames it holds.
    pub fn len(&self) -> usize {
        self.raw.len() + self.prepared.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The motion (libvmaf `motion_sad`) of frame `k` of `frames`, the next frames to push to a
/// timeline whose [`RefTimeline::last_luma`] is `last`: against the frame before it in the batch,
/// or against `last` for the first (0 for the stream's first frame). Errors if the sizes differ.
pub fn batch_motion(
    engine: &Engine,
    last: Option<&Plane>,
    frames: &[Frame],
    k: usize,
) -> Result<f64> {
    let prev = match k {
        0 => last,
        _ => Some(frames[k - 1].luma()),
    };
    let f = &frames[k];
    match prev {
        Some(p) => engine.frame_motion(p, f.luma(), f.format.bit_depth),
        None => Ok(0.0),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Chroma, Engine, EngineConfig, Frame, FrameFormat};

    /// A gray frame whose content shifts with `idx` by an uneven step, so motion varies.
    fn frame(idx: u64) -> Frame {
        let mut f = Frame::new(FrameFormat::new(48, 32, Chroma::Gray, 8), idx);
        let shift = (idx * idx % 7) as usize;
        f.planes[0]
            .samples
            .update(|k, _| (((k + shift) * 37 + (k / 48) * 11) % 251) as u16);
        f
    }

    #[test]
    fn prepares_lazily_what_ref_preparer_prepares() {
        let e = Engine::new(EngineConfig::default()).unwrap();
        let mut prep = e.ref_preparer();
        let mut want = Vec::new();
        for i in 3..10 {
            want.extend(prep.push(frame(i)).unwrap());
        }
        want.extend(prep.finish());

        let mut t = super::RefTimeline::new(&e);
        t.push((3..6).map(frame).collect()).unwrap();
        assert!(t.is_ready(4) && !t.is_ready(5));
        assert!(t.prepare(&[5]).is_err());
        t.prepare(&[3, 4]).unwrap();
        t.push((6..10).map(frame).collect()).unwrap();
        assert!(!t.is_ready(9));
        t.end();
        t.prepare(&[5, 6, 7, 8, 9]).unwrap();
        for w in &want {
            let g = t.get(w.index()).unwrap();
            assert_eq!(
                g.motion.to_bits(),
                w.motion.to_bits(),
                "frame {}",
                w.index()
            );
            assert_eq!(
                g.motion2.to_bits(),
                w.motion2.to_bits(),
                "frame {}",
                w.index()
            );
            let d = frame(w.index() + 1);
            assert_eq!(e.score(g, &d).unwrap(), e.score(w, &d).unwrap());
        }
        let gone = t.release_below(8);
        assert_eq!(gone.len(), 5, "frames 3 to 7, prepared");
        assert!(t.get(7).is_none() && !t.holds(7) && t.holds(8));
        assert!(t.prepare(&[7]).is_err());
    }

    /// Motion measured a frame at a time apart from the timeline (as the grid runner does in
    /// its parallel phase) and pushed with it gives the timeline's own motion; a count that does
    /// not match the frames is refused.
    #[test]
    fn measured_push_equals_push() {
        let e = Engine::new(EngineConfig::default()).unwrap();
        let mut own = super::RefTimeline::new(&e);
        let mut measured = super::RefTimeline::new(&e);
        for batch in [0..3u64, 3..4, 4..9] {
            let frames: Vec<Frame> = batch.map(frame).collect();
            let sads: Vec<f64> = (0..frames.len())
                .map(|k| super::batch_motion(&e, measured.last_luma(), &frames, k).unwrap())
                .collect();
            assert!(measured.push_measured(frames.clone(), &sads[1..]).is_err());
            measured.push_measured(frames.clone(), &sads).unwrap();
            own.push(frames).unwrap();
        }
        assert!(own.motion.values().any(|&m| m > 0.0));
        assert_eq!(own.motion, measured.motion);
    }
}
