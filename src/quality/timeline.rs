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
        let Some(last) = frames.last() else {
            return Ok(());
        };
        for (k, f) in frames.iter().enumerate() {
            let prev = match k {
                0 => self.prev_luma.as_ref(),
                _ => Some(frames[k - 1].luma()),
            };
            let sad = match prev {
                Some(p) => self.engine.frame_motion(p, f.luma(), f.format.bit_depth)?,
                None => 0.0,
            };
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

    /// Drops every frame below `i`, raw or prepared: no distorted frame still to come needs it.
    pub fn release_below(&mut self, i: u64) {
        self.prepared.retain(|&k, _| k >= i);
        self.raw.retain(|&k, _| k >= i);
        self.motion.retain(|&k, _| k >= i);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Chroma, Engine, EngineConfig, Frame, FrameFormat};

    /// A gray frame whose content shifts with `idx` by an uneven step, so motion varies.
    fn frame(idx: u64) -> Frame {
        let mut f = Frame::new(FrameFormat::new(48, 32, Chroma::Gray, 8), idx);
        let shift = (idx * idx % 7) as usize;
        for (k, v) in f.planes[0].data.iter_mut().enumerate() {
            *v = (((k + shift) * 37 + (k / 48) * 11) % 251) as u16;
        }
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
        t.release_below(8);
        assert!(t.get(7).is_none() && !t.holds(7) && t.holds(8));
        assert!(t.prepare(&[7]).is_err());
    }
}
