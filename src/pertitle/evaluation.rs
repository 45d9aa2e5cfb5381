//! What a metric or model predicts for each distorted video of a dataset, from the stored
//! features ([`crate::features`]): the mean over frames of its per-frame value, as libvmaf pools
//! a video's score.

use crate::features::PairFeatures;
use crate::quality::vmaf::model::ADM_DEFAULT_EGL;
use crate::quality::vmaf::{vif, FeatureKind, Model};
use crate::{Error, Result};

/// What `eval` scores the dataset with.
#[derive(Debug, Clone)]
pub enum Predictor {
    /// vmaf_v0.6.1 (libvmaf's default model).
    Vmaf,
    /// PSNR of luma.
    Psnr,
    /// SSIM (libvmaf `float_ssim`).
    Ssim,
    /// A libvmaf JSON model (one `train` wrote, or any whose features are the engine's with
    /// default options).
    Model(Box<Model>),
}

impl Predictor {
    /// `vmaf`, `psnr`, `ssim`, or a model (a built-in name or a JSON file).
    pub fn parse(s: &str) -> Result<Predictor> {
        let p = match s {
            "vmaf" => Predictor::Vmaf,
            "psnr" => Predictor::Psnr,
            "ssim" => Predictor::Ssim,
            _ => {
                let m = Model::load(s)?;
                for f in &m.features {
                    store_name(&f.kind).ok_or_else(|| {
                        Error::data(
                            format!("model {s}"),
                            format!(
                                "feature {} has options other than the defaults, which the \
                                 feature store does not keep",
                                f.name
                            ),
                        )
                    })?;
                }
                Predictor::Model(Box::new(m))
            }
        };
        Ok(p)
    }

    /// How reports name it.
    pub fn label(&self) -> String {
        match self {
            Predictor::Vmaf => "VMAF (vmaf_v0.6.1)".into(),
            Predictor::Psnr => "PSNR-Y (dB)".into(),
            Predictor::Ssim => "SSIM".into(),
            Predictor::Model(m) => format!("model {}", m.name),
        }
    }

    /// The prediction for one distorted video: the mean over its frames.
    pub fn predict(&self, p: &PairFeatures) -> Result<f64> {
        let stored = |name: &str| {
            p.mean(name)
                .ok_or_else(|| Error::data("feature store", format!("no {name} for a pair")))
        };
        match self {
            Predictor::Vmaf => stored("vmaf"),
            Predictor::Psnr => stored("psnr_y"),
            Predictor::Ssim => stored("float_ssim"),
            Predictor::Model(m) => {
                let cols: Vec<&Vec<f64>> = m
                    .features
                    .iter()
                    .map(|f| {
                        let name = store_name(&f.kind).expect("checked by parse");
                        p.per_frame.get(name).ok_or_else(|| {
                            Error::data("feature store", format!("no {name} for a pair"))
                        })
                    })
                    .collect::<Result<_>>()?;
                let n = p.frames as usize;
                if n == 0 || cols.iter().any(|c| c.len() != n) {
                    return Err(Error::data(
                        "feature store",
                        "a pair's features are incomplete",
                    ));
                }
                let sum: f64 = (0..n)
                    .map(|i| {
                        let raw: Vec<f64> = cols.iter().map(|c| c[i]).collect();
                        m.predict(&raw, false)
                    })
                    .sum();
                Ok(sum / n as f64)
            }
        }
    }
}

/// The stored feature a model feature reads, if its options are the defaults the store keeps.
fn store_name(kind: &FeatureKind) -> Option<&'static str> {
    const VIF: [&str; 4] = [
        "integer_vif_scale0",
        "integer_vif_scale1",
        "integer_vif_scale2",
        "integer_vif_scale3",
    ];
    match *kind {
        FeatureKind::Adm2 { enhn_gain_limit } if enhn_gain_limit == ADM_DEFAULT_EGL => {
            Some("integer_adm2")
        }
        FeatureKind::Motion2 { force_zero: false } => Some("integer_motion2"),
        FeatureKind::Vif {
            scale,
            enhn_gain_limit,
        } if enhn_gain_limit == vif::DEFAULT_ENHN_GAIN_LIMIT => VIF.get(scale).copied(),
        _ => None,
    }
}
