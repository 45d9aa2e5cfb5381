//! The elementary quality features of every (reference, distorted) pair of a [`Dataset`], per
//! frame and pooled, as `train` and `eval` use them; kept in the result store under a key made
//! from the two files' bytes (and how raw ones are read), so a second run, or `train` after
//! `features`, reads them instead of scoring again, whatever the files are called.

use crate::dataset::{Dataset, RawLayout};
use crate::media::{self, InputOptions, ScalerKind};
use crate::quality::{Engine, FrameScores};
use crate::store::Store;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Every feature kept, by libvmaf's name: the VMAF model inputs (and the other ADM scales and
/// the plain motion), PSNR, SSIM and vmaf_v0.6.1's score.
pub const FEATURES: [&str; 16] = [
    "integer_adm2",
    "integer_adm_scale0",
    "integer_adm_scale1",
    "integer_adm_scale2",
    "integer_adm_scale3",
    "integer_motion",
    "integer_motion2",
    "integer_vif_scale0",
    "integer_vif_scale1",
    "integer_vif_scale2",
    "integer_vif_scale3",
    "psnr_y",
    "psnr_cb",
    "psnr_cr",
    "float_ssim",
    "vmaf",
];

/// Bumped when what is stored for a pair changes, so older entries are recomputed.
const LAYOUT: &str = "pertitle-features/1";

/// One pair's features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairFeatures {
    pub frames: u64,
    /// Per frame, by feature name ([`FEATURES`]).
    pub per_frame: BTreeMap<String, Vec<f64>>,
}

impl PairFeatures {
    fn from_scores(frames: &[FrameScores]) -> PairFeatures {
        let mut per_frame: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for f in frames {
            let mut put = |k: &str, v: Option<f64>| {
                if let Some(v) = v {
                    per_frame.entry(k.to_string()).or_default().push(v);
                }
            };
            for name in FEATURES {
                let v = match (name, &f.features) {
                    ("integer_motion", Some(x)) => Some(x.motion),
                    (n, Some(x)) if n.starts_with("integer_adm_scale") => {
                        n[17..].parse::<usize>().ok().map(|i| x.adm_scales[i])
                    }
                    (n, _) => f.get(n),
                };
                put(name, v);
            }
        }
        PairFeatures {
            frames: frames.len() as u64,
            per_frame,
        }
    }

    /// The mean over frames of a feature (how VDK pools a video's features for training).
    pub fn mean(&self, name: &str) -> Option<f64> {
        let v = self.per_frame.get(name)?;
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// What [`extract`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// In the order of [`Dataset::distorted`].
    pub pairs: Vec<PairFeatures>,
    /// Pairs scored now, and pairs read from the store.
    pub computed: usize,
    pub reused: usize,
}

/// SHA-256 of a file's bytes.
pub fn file_digest(p: &Path) -> Result<[u8; 32]> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The store key of a pair: SHA-256 over the layout version, both files' digests
/// ([`file_digest`]) and how raw ones are read.
pub fn pair_key(reference: (&[u8; 32], &RawLayout), distorted: (&[u8; 32], &RawLayout)) -> String {
    let mut h = Sha256::new();
    h.update(LAYOUT.as_bytes());
    for (digest, raw) in [reference, distorted] {
        h.update(digest);
        h.update(
            serde_json::to_string(raw)
                .expect("a raw layout serialises")
                .as_bytes(),
        );
    }
    format!("{:x}", h.finalize())
}

/// Every pair's store key. Each file is read once, however many pairs share it (a reference
/// has all its versions; a title's reference can be gigabytes).
fn pair_keys(ds: &Dataset) -> Result<Vec<String>> {
    let mut digests: HashMap<&Path, [u8; 32]> = HashMap::new();
    for p in ds
        .references
        .iter()
        .map(|r| r.path.as_path())
        .chain(ds.distorted.iter().map(|d| d.path.as_path()))
    {
        if !digests.contains_key(p) {
            digests.insert(p, file_digest(p)?);
        }
    }
    let digest = |p: &Path| digests[p];
    let keys = ds
        .distorted
        .iter()
        .map(|d| {
            let r = &ds.references[d.reference];
            pair_key((&digest(&r.path), &r.raw), (&digest(&d.path), &d.raw))
        })
        .collect::<Vec<_>>();
    Ok(keys)
}

fn options(raw: &RawLayout) -> InputOptions {
    InputOptions {
        size: raw.size,
        pix_fmt: raw.pix_fmt.clone(),
        fps: raw.fps,
        allow_decode_errors: false,
        decode_threads: None,
    }
}

/// Scores one pair with every feature (the engine must compute VMAF, PSNR and SSIM).
pub fn score_pair(ds: &Dataset, i: usize, engine: &Engine) -> Result<PairFeatures> {
    let d = &ds.distorted[i];
    let r = &ds.references[d.reference];
    let mut rs = media::open(&r.path, &options(&r.raw))?;
    let mut dsrc = media::open(&d.path, &options(&d.raw))?;
    let frames = media::check_pair(rs.info(), dsrc.info(), None)
        .map_err(|e| Error::Mismatch(e.to_string()))?;
    let mut scorer = crate::quality::VideoScorer::new(engine);
    media::pair_frames(
        &mut *rs,
        &mut *dsrc,
        frames,
        ScalerKind::Bicubic,
        |rf, df| {
            scorer.push(rf, df)?;
            Ok(true)
        },
    )?;
    Ok(PairFeatures::from_scores(&scorer.finish()?.frames))
}

/// The features of every pair: from the store where it has them, else scored (`jobs` pairs at
/// a time, each with the engine's threads) and stored as each finishes, so an interrupted run
/// keeps what it finished. `done(i, reused)` is called as pair `i` is ready (`reused`: read from
/// the store); returning `false` stops the run once the pairs under way finish, with an error
/// that says so.
pub fn extract(
    ds: &Dataset,
    engine: &Engine,
    store: Option<&Store>,
    jobs: usize,
    done: impl Fn(usize, bool) -> bool + Sync,
) -> Result<Extracted> {
    let n = ds.distorted.len();
    let keys = pair_keys(ds)?;
    let mut slots: Vec<Option<PairFeatures>> = vec![None; n];
    let mut reused = 0;
    if let Some(s) = store {
        for (i, k) in keys.iter().enumerate() {
            if let Some(p) = s.get_features::<PairFeatures>(k)? {
                slots[i] = Some(p);
                reused += 1;
                if !done(i, true) {
                    return Err(stopped());
                }
            }
        }
    }
    let todo: Vec<usize> = (0..n).filter(|&i| slots[i].is_none()).collect();
    let next = AtomicUsize::new(0);
    let out = Mutex::new(slots);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(todo.len()) {
            scope.spawn(|| loop {
                if first_error.lock().expect("no panic holds it").is_some() {
                    return;
                }
                let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                let r = score_pair(ds, i, engine).and_then(|p| {
                    if let Some(s) = store {
                        s.put_features(&keys[i], &p)?;
                    }
                    Ok(p)
                });
                match r {
                    Ok(p) => {
                        out.lock().expect("no panic holds it")[i] = Some(p);
                        if !done(i, false) {
                            first_error
                                .lock()
                                .expect("no panic holds it")
                                .get_or_insert_with(stopped);
                        }
                    }
                    Err(e) => {
                        let what = ds.distorted[i].path.display().to_string();
                        first_error
                            .lock()
                            .expect("no panic holds it")
                            .get_or_insert(Error::data(what, e.to_string()));
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no panic holds it") {
        return Err(e);
    }
    let pairs = out
        .into_inner()
        .expect("no panic holds it")
        .into_iter()
        .map(|p| p.expect("every pair scored or read"))
        .collect();
    Ok(Extracted {
        pairs,
        computed: todo.len(),
        reused,
    })
}

fn stopped() -> Error {
    Error::Mismatch("stopped before every pair was scored".into())
}
