//! Training a VMAF model from a subjective dataset and checking it on content it has not seen:
//! each distorted video is one sample (its features' mean over frames, as VDK pools them),
//! its opinion score the target; validation holds out whole contents (every distorted version
//! of a reference), so a model is never tested on a scene it was trained on.

use crate::agreement::{self, Agreement};
use crate::dataset::Dataset;
use crate::features::PairFeatures;
use crate::quality::svr::NuSvrParams;
use crate::quality::vmaf::{Model, TrainedModel};
use crate::{Error, Result};

/// The inputs of libvmaf's vmaf_v0.6.1, the default feature set.
pub const DEFAULT_FEATURES: [&str; 6] = [
    "adm2",
    "motion2",
    "vif_scale0",
    "vif_scale1",
    "vif_scale2",
    "vif_scale3",
];

/// VDK's parameters for vmaf_v0.6.1 (its `param_dict`): ν 0.9, C 4, γ 0.04.
pub fn default_params() -> NuSvrParams {
    NuSvrParams {
        nu: 0.9,
        c: 4.0,
        kernel: crate::quality::svr::Rbf { gamma: 0.04 },
        ..NuSvrParams::default()
    }
}

/// A feature a model can take, by the short name (`adm2`, `vif_scale0`) or libvmaf's
/// (`VMAF_integer_feature_adm2_score`, `integer_adm2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInput {
    short: String,
}

impl ModelInput {
    pub fn parse(name: &str) -> Result<ModelInput> {
        let short = name
            .strip_prefix("VMAF_integer_feature_")
            .and_then(|s| s.strip_suffix("_score"))
            .or_else(|| name.strip_prefix("integer_"))
            .unwrap_or(name);
        let m = ModelInput {
            short: short.to_string(),
        };
        if Model::knows_feature(&m.model_name()) {
            Ok(m)
        } else {
            Err(Error::data(
                format!("feature {name}"),
                format!(
                    "a model cannot take it (models take {})",
                    DEFAULT_FEATURES.join(", ")
                ),
            ))
        }
    }

    /// The name a libvmaf model uses.
    pub fn model_name(&self) -> String {
        format!("VMAF_integer_feature_{}_score", self.short)
    }

    /// The name the feature store uses ([`crate::features::FEATURES`]).
    pub fn store_name(&self) -> String {
        format!("integer_{}", self.short)
    }

    pub fn short(&self) -> &str {
        &self.short
    }
}

/// The samples: one row per distorted video (the mean of each input over its frames) and its
/// opinion score.
pub fn samples(
    ds: &Dataset,
    pairs: &[PairFeatures],
    inputs: &[ModelInput],
) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let mut rows = Vec::with_capacity(pairs.len());
    for (i, p) in pairs.iter().enumerate() {
        let row = inputs
            .iter()
            .map(|f| {
                p.mean(&f.store_name()).ok_or_else(|| {
                    Error::data(
                        ds.distorted[i].path.display().to_string(),
                        format!("no {} in its stored features", f.store_name()),
                    )
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push(row);
    }
    let scores = ds.distorted.iter().map(|d| d.opinion.score).collect();
    Ok((rows, scores))
}

/// How contents are held out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validation {
    /// One split: this fraction of the contents (at least one, and one left to train on) is
    /// held out.
    Split { test_fraction: f64 },
    /// k folds of contents; each is held out once.
    KFold { k: usize },
}

/// One held-out set: its contents and what the model trained without them predicted.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub contents: Vec<String>,
    /// (distorted video index, predicted score).
    pub predicted: Vec<(usize, f64)>,
    /// Its figures alone (a small fold may have too few videos, or a constant score).
    pub agreement: std::result::Result<Agreement, agreement::AgreementError>,
}

/// Cross-validation by content: every fold, and the agreement over all held-out predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub folds: Vec<Fold>,
    pub agreement: Agreement,
}

/// Trains a model on every sample.
pub fn train(
    inputs: &[ModelInput],
    rows: &[Vec<f64>],
    scores: &[f64],
    params: &NuSvrParams,
) -> Result<TrainedModel> {
    let names: Vec<String> = inputs.iter().map(ModelInput::model_name).collect();
    TrainedModel::train(&names, rows, scores, params, Some((0.0, 100.0)))
        .map_err(|e| Error::data("training", e.to_string()))
}

/// Whether `how` can hold out contents of `ds`: at least 2 contents, a split fraction in
/// (0, 1), 2 to (contents) folds. Checked before any scoring.
pub fn check_validation(ds: &Dataset, how: Validation) -> Result<()> {
    let contents = ds.contents();
    let nc = contents.len();
    if nc < 2 {
        return Err(Error::data(
            ds.file.display().to_string(),
            format!(
                "cross-validation by content needs at least 2 contents; the dataset has {nc} ({})",
                contents.join(", ")
            ),
        ));
    }
    match how {
        Validation::Split { test_fraction } if !(test_fraction > 0.0 && test_fraction < 1.0) => {
            Err(Error::data(
                "--test-fraction",
                format!("{test_fraction} is not between 0 and 1"),
            ))
        }
        Validation::KFold { k } if k < 2 || k > nc => Err(Error::data(
            "--folds",
            format!("{k} folds of {nc} contents: give 2 to {nc}"),
        )),
        _ => Ok(()),
    }
}

/// Holds out contents as `how` says (shuffled with `seed`), trains on the rest, predicts the
/// held-out videos.
pub fn cross_validate(
    ds: &Dataset,
    inputs: &[ModelInput],
    rows: &[Vec<f64>],
    scores: &[f64],
    params: &NuSvrParams,
    how: Validation,
    seed: u64,
) -> Result<Validated> {
    check_validation(ds, how)?;
    let contents = ds.contents();
    let nc = contents.len();
    let mut order: Vec<usize> = (0..nc).collect();
    shuffle(&mut order, seed);
    // fold_of[content index]
    let (folds, fold_of): (usize, Vec<usize>) = match how {
        Validation::Split { test_fraction } => {
            let held = ((nc as f64 * test_fraction).round() as usize).clamp(1, nc - 1);
            let mut f = vec![1; nc];
            for &c in &order[..held] {
                f[c] = 0;
            }
            (1, f)
        }
        Validation::KFold { k } => {
            let mut f = vec![0; nc];
            for (pos, &c) in order.iter().enumerate() {
                f[c] = pos % k;
            }
            (k, f)
        }
    };
    let mut out = Vec::new();
    let (mut all_pred, mut all_true) = (Vec::new(), Vec::new());
    for fold in 0..folds {
        let test: Vec<usize> = (0..ds.distorted.len())
            .filter(|&i| fold_of[ds.distorted[i].reference] == fold)
            .collect();
        let train_idx: Vec<usize> = (0..ds.distorted.len())
            .filter(|&i| fold_of[ds.distorted[i].reference] != fold)
            .collect();
        let pick_rows = |idx: &[usize]| idx.iter().map(|&i| rows[i].clone()).collect::<Vec<_>>();
        let pick_scores = |idx: &[usize]| idx.iter().map(|&i| scores[i]).collect::<Vec<_>>();
        let m = train(
            inputs,
            &pick_rows(&train_idx),
            &pick_scores(&train_idx),
            params,
        )?;
        let predicted: Vec<(usize, f64)> = test.iter().map(|&i| (i, m.predict(&rows[i]))).collect();
        let p: Vec<f64> = predicted.iter().map(|x| x.1).collect();
        let t = pick_scores(&test);
        all_pred.extend(&p);
        all_true.extend(&t);
        let mut held: Vec<String> = (0..nc)
            .filter(|&c| fold_of[c] == fold)
            .map(|c| contents[c].to_string())
            .collect();
        held.sort();
        out.push(Fold {
            contents: held,
            agreement: agreement::agreement(&p, &t),
            predicted,
        });
    }
    let agreement = agreement::agreement(&all_pred, &all_true).map_err(|e| {
        Error::data(
            "cross-validation",
            format!("held-out predictions cannot be compared with the scores: {e}"),
        )
    })?;
    Ok(Validated {
        folds: out,
        agreement,
    })
}

/// Fisher–Yates with splitmix64: the same order for the same seed on every machine.
fn shuffle(v: &mut [usize], seed: u64) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
