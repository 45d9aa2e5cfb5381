//! Training a VMAF model from feature values and opinion scores the way the VMAF Development
//! Kit does (`norm_type = clip_0to1`, `LIBSVMNUSVR`): every feature and the score are mapped
//! linearly so the training set's range becomes [0, 1], ν-SVR ([`crate::svr`]) is fitted on
//! that, and the result is written as a libvmaf JSON model, which libvmaf and [`Model`] load
//! alike (a prediction un-maps the score and clips it, `score_clip`).

use super::model::Model;
use crate::svr::{self, NuSvrParams, SvrError, SvrModel};

/// v ↦ slope·v + intercept, libvmaf's `linear_rescale` of one feature or of the score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Rescale {
    /// The map of [min, max] onto [0, 1] (VDK's `clip_0to1`).
    pub fn zero_to_one(min: f64, max: f64) -> Rescale {
        let slope = 1.0 / (max - min);
        Rescale {
            slope,
            intercept: -min * slope,
        }
    }

    pub fn apply(&self, v: f64) -> f64 {
        self.slope * v + self.intercept
    }
}

/// Why a model cannot be trained from the data given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("no features named")]
    NoFeatures,
    #[error("feature {0}: the engine does not compute it")]
    UnknownFeature(String),
    #[error("feature {0}: the same value for every training sample, so it cannot be scaled")]
    ConstantFeature(String),
    #[error("the opinion scores are all equal, so there is nothing to fit")]
    ConstantScore,
    #[error("sample {row} has {len} feature values for {want} features")]
    Ragged { row: usize, len: usize, want: usize },
    #[error("{scores} opinion scores for {rows} samples")]
    Counts { scores: usize, rows: usize },
    #[error("score_clip [{0}, {1}] is not a range")]
    Clip(f64, f64),
    #[error(transparent)]
    Svr(#[from] SvrError),
}

/// A trained model: the scaling learnt from the training set and the fitted regressor.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainedModel {
    /// libvmaf feature names, in the order of every row.
    pub features: Vec<String>,
    pub feature_scale: Vec<Rescale>,
    pub score_scale: Rescale,
    /// Predictions are clipped to this range (VMAF's models use [0, 100]).
    pub clip: Option<(f64, f64)>,
    pub params: NuSvrParams,
    pub svr: SvrModel,
}

impl TrainedModel {
    /// Fits a model: `rows[i]` are sample i's raw (unscaled) values of `features`, `scores[i]`
    /// its opinion score.
    pub fn train(
        features: &[String],
        rows: &[Vec<f64>],
        scores: &[f64],
        params: &NuSvrParams,
        clip: Option<(f64, f64)>,
    ) -> Result<TrainedModel, TrainError> {
        if features.is_empty() {
            return Err(TrainError::NoFeatures);
        }
        if let Some(f) = features.iter().find(|f| !Model::knows_feature(f)) {
            return Err(TrainError::UnknownFeature(f.clone()));
        }
        if rows.len() != scores.len() {
            return Err(TrainError::Counts {
                scores: scores.len(),
                rows: rows.len(),
            });
        }
        if let Some((row, r)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != features.len())
        {
            return Err(TrainError::Ragged {
                row,
                len: r.len(),
                want: features.len(),
            });
        }
        if let Some((lo, hi)) = clip {
            if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                return Err(TrainError::Clip(lo, hi));
            }
        }
        // Non-finite values are the solver's error, with their row.
        let (x, y) = (rows, scores);
        if let Err(e) = svr::check_data(x, y) {
            return Err(e.into());
        }
        let range = |vals: &mut dyn Iterator<Item = f64>| {
            vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
        };
        let mut feature_scale = Vec::with_capacity(features.len());
        for (k, name) in features.iter().enumerate() {
            let (lo, hi) = range(&mut rows.iter().map(|r| r[k]));
            if lo == hi {
                return Err(TrainError::ConstantFeature(name.clone()));
            }
            feature_scale.push(Rescale::zero_to_one(lo, hi));
        }
        let (lo, hi) = range(&mut scores.iter().copied());
        if lo == hi {
            return Err(TrainError::ConstantScore);
        }
        let score_scale = Rescale::zero_to_one(lo, hi);
        let xs: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&feature_scale)
                    .map(|(v, s)| s.apply(*v))
                    .collect()
            })
            .collect();
        let ys: Vec<f64> = scores.iter().map(|v| score_scale.apply(*v)).collect();
        let svr = svr::train(&xs, &ys, params)?;
        Ok(TrainedModel {
            features: features.to_vec(),
            feature_scale,
            score_scale,
            clip,
            params: *params,
            svr,
        })
    }

    /// The score of raw feature values, computed as libvmaf computes it from this model's JSON.
    pub fn predict(&self, raw: &[f64]) -> f64 {
        let x: Vec<f64> = raw
            .iter()
            .zip(&self.feature_scale)
            .map(|(v, s)| s.apply(*v))
            .collect();
        let y = (self.svr.predict(&x) - self.score_scale.intercept) / self.score_scale.slope;
        match self.clip {
            Some((lo, hi)) => y.max(lo).min(hi),
            None => y,
        }
    }

    /// The model as libvmaf's JSON: `model_dict` is what libvmaf and [`Model`] read,
    /// `param_dict` records how it was trained (as VDK's models do).
    pub fn to_json(&self) -> String {
        let slopes: Vec<f64> = std::iter::once(self.score_scale.slope)
            .chain(self.feature_scale.iter().map(|s| s.slope))
            .collect();
        let intercepts: Vec<f64> = std::iter::once(self.score_scale.intercept)
            .chain(self.feature_scale.iter().map(|s| s.intercept))
            .collect();
        let clip = self.clip.map(|(lo, hi)| vec![lo, hi]);
        let p = &self.params;
        let v = serde_json::json!({
            "param_dict": {
                "model_type": "LIBSVMNUSVR",
                "norm_type": "clip_0to1",
                "nu": p.nu,
                "C": p.c,
                "gamma": p.kernel.gamma,
                "tol": p.tol,
                "score_clip": clip,
            },
            "model_dict": {
                "model_type": "LIBSVMNUSVR",
                "norm_type": "linear_rescale",
                "feature_names": self.features,
                "slopes": slopes,
                "intercepts": intercepts,
                "score_clip": clip,
                "model": self.svr.to_libsvm(),
            },
        });
        serde_json::to_string_pretty(&v).expect("a JSON value serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svr::Rbf;

    fn names() -> Vec<String> {
        [
            "VMAF_integer_feature_adm2_score",
            "VMAF_integer_feature_motion2_score",
            "VMAF_integer_feature_vif_scale0_score",
        ]
        .map(String::from)
        .to_vec()
    }

    fn params() -> NuSvrParams {
        NuSvrParams {
            nu: 0.9,
            c: 4.0,
            kernel: Rbf { gamma: 0.04 },
            ..NuSvrParams::default()
        }
    }

    /// Rows whose score is a smooth function of the features.
    fn data(n: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64;
                vec![0.6 + 0.4 * t, 20.0 * ((i * 7) % 11) as f64 / 11.0, t * t]
            })
            .collect();
        let scores = rows
            .iter()
            .map(|r| 100.0 * (r[0] - 0.6) / 0.4 * 0.8 + r[2] * 10.0 - r[1] * 0.2)
            .collect();
        (rows, scores)
    }

    /// The JSON loads as a [`Model`] that predicts what the trained model predicts, bit for bit
    /// up to the rounding of the libsvm text (full precision).
    #[test]
    fn json_round_trips_through_model() {
        let (rows, scores) = data(60);
        let m =
            TrainedModel::train(&names(), &rows, &scores, &params(), Some((0.0, 100.0))).unwrap();
        let loaded = Model::from_json("trained", &m.to_json()).unwrap();
        for r in &rows {
            let (a, b) = (m.predict(r), loaded.predict(r, false));
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_training_data_is_named() {
        let (rows, scores) = data(20);
        let p = params();
        let e = |f: &[String], r: &[Vec<f64>], s: &[f64]| {
            TrainedModel::train(f, r, s, &p, None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(e(&[], &rows, &scores), "no features named");
        let mut odd = names();
        odd[1] = "VMAF_feature_nonsense_score".into();
        assert_eq!(
            e(&odd, &rows, &scores),
            "feature VMAF_feature_nonsense_score: the engine does not compute it"
        );
        let mut flat = rows.clone();
        for r in &mut flat {
            r[2] = 0.5;
        }
        assert_eq!(
            e(&names(), &flat, &scores),
            "feature VMAF_integer_feature_vif_scale0_score: the same value for every training \
             sample, so it cannot be scaled"
        );
        assert_eq!(
            e(&names(), &rows, &vec![50.0; rows.len()]),
            "the opinion scores are all equal, so there is nothing to fit"
        );
        assert_eq!(
            e(&names(), &rows, &scores[1..]),
            "19 opinion scores for 20 samples"
        );
        let mut nan = scores.clone();
        nan[4] = f64::NAN;
        assert_eq!(
            e(&names(), &rows, &nan),
            "training sample 4: the target is not a finite number"
        );
    }
}
