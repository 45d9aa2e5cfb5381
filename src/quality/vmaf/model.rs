//! VMAF models in libvmaf's JSON format (read_json_model.c, predict.c, svm.cpp): per-feature
//! linear rescaling, a libsvm nu-SVR with RBF kernel, de-normalisation, the optional
//! `score_transform` (the "phone" model) and score clipping.
//!
//! The built-in models are libvmaf's own JSON files, embedded with `include_str!` (see
//! `models/NOTICE`); any other libvmaf JSON model that uses the features we compute loads by path.

use crate::error::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// The models compiled into the binary: (name, JSON).
pub const BUILTIN: [(&str, &str); 3] = [
    ("vmaf_v0.6.1", include_str!("../models/vmaf_v0.6.1.json")),
    (
        "vmaf_v0.6.1neg",
        include_str!("../models/vmaf_v0.6.1neg.json"),
    ),
    (
        "vmaf_4k_v0.6.1",
        include_str!("../models/vmaf_4k_v0.6.1.json"),
    ),
];

/// The default model, as libvmaf's.
pub const DEFAULT_MODEL: &str = "vmaf_v0.6.1";

/// A feature the engine computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FeatureKind {
    /// `integer_adm2` with its enhancement gain limit.
    Adm2 { enhn_gain_limit: f64 },
    /// `integer_motion2`; `force_zero` is libvmaf's `motion_force_zero` option.
    Motion2 { force_zero: bool },
    /// `integer_vif_scale{scale}` with its enhancement gain limit.
    Vif { scale: usize, enhn_gain_limit: f64 },
}

/// One model input: what to compute and how to rescale it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFeature {
    /// The name as the model spells it.
    pub name: String,
    pub kind: FeatureKind,
    pub slope: f64,
    pub intercept: f64,
}

/// libvmaf's `score_transform`: polynomial, then piecewise-linear knots, then rectification.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreTransform {
    pub p0: Option<f64>,
    pub p1: Option<f64>,
    pub p2: Option<f64>,
    pub knots: Vec<(f64, f64)>,
    pub out_lte_in: bool,
    pub out_gte_in: bool,
    /// `enabled` in the JSON; the phone flag enables it regardless.
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Svm {
    gamma: f64,
    rho: f64,
    /// (coefficient, dense support vector).
    sv: Vec<(f64, Vec<f64>)>,
}

/// A loaded VMAF model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Built-in name or the path it was loaded from.
    pub name: String,
    pub features: Vec<ModelFeature>,
    linear_rescale: bool,
    slope: f64,
    intercept: f64,
    clip: Option<(f64, f64)>,
    pub transform: Option<ScoreTransform>,
    svm: Svm,
}

fn err(model: &str, msg: impl Into<String>) -> Error {
    Error::model(model, msg)
}

fn num(model: &str, key: &str, v: &Value) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| err(model, format!("{key}: expected a number, found {v}")))
}

fn num_list(model: &str, key: &str, v: Option<&Value>) -> Result<Vec<f64>> {
    let v = v.ok_or_else(|| err(model, format!("missing model_dict.{key}")))?;
    let a = v.as_array().ok_or_else(|| {
        err(
            model,
            format!("model_dict.{key}: expected a list of numbers"),
        )
    })?;
    a.iter().map(|x| num(model, key, x)).collect()
}

/// Maps a model's feature name (libvmaf's internal name or its alias) to what we compute.
fn feature_kind(model: &str, name: &str) -> Result<FeatureKind> {
    let short = name
        .strip_prefix("VMAF_integer_feature_")
        .and_then(|s| s.strip_suffix("_score"))
        .or_else(|| name.strip_prefix("integer_"));
    let kind = match short {
        Some("adm2") => Some(FeatureKind::Adm2 {
            enhn_gain_limit: ADM_DEFAULT_EGL,
        }),
        Some("motion2") => Some(FeatureKind::Motion2 { force_zero: false }),
        Some(s) => s
            .strip_prefix("vif_scale")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < 4)
            .map(|scale| FeatureKind::Vif {
                scale,
                enhn_gain_limit: super::vif::DEFAULT_ENHN_GAIN_LIMIT,
            }),
        None => None,
    };
    kind.ok_or_else(|| {
        err(
            model,
            format!(
                "feature {name} is not supported (pertitle computes integer_adm2, \
                 integer_motion2 and integer_vif_scale0..3)"
            ),
        )
    })
}

/// libvmaf's default `adm_enhn_gain_limit` (integer_adm.h DEFAULT_ADM_ENHN_GAIN_LIMIT).
pub const ADM_DEFAULT_EGL: f64 = 100.0;

fn apply_option(
    model: &str,
    fname: &str,
    kind: &mut FeatureKind,
    key: &str,
    v: &Value,
) -> Result<()> {
    let bad = || {
        err(
            model,
            format!("feature {fname}: option {key}={v} is not supported"),
        )
    };
    match (kind, key) {
        (
            FeatureKind::Vif {
                enhn_gain_limit, ..
            },
            "vif_enhn_gain_limit" | "egl",
        )
        | (FeatureKind::Adm2 { enhn_gain_limit }, "adm_enhn_gain_limit" | "egl") => {
            let x = num(model, key, v)?;
            if !(1.0..=100.0).contains(&x) {
                return Err(err(
                    model,
                    format!("feature {fname}: {key}={x} is outside libvmaf's range 1..100"),
                ));
            }
            *enhn_gain_limit = x;
            Ok(())
        }
        (FeatureKind::Motion2 { force_zero }, "motion_force_zero" | "force_0") => {
            *force_zero = v.as_bool().ok_or_else(bad)?;
            Ok(())
        }
        _ => Err(bad()),
    }
}

fn parse_svm(model: &str, text: &str, n_features: usize) -> Result<Svm> {
    let mut lines = text.lines();
    let (mut gamma, mut rho, mut total) = (None, None, None);
    for line in lines.by_ref() {
        let line = line.trim();
        if line == "SV" {
            break;
        }
        let mut it = line.split_whitespace();
        let key = it.next().unwrap_or("");
        let val = it.next().unwrap_or("");
        let bad = || {
            err(
                model,
                format!("model_dict.model: bad value for {key}: {val:?}"),
            )
        };
        match key {
            "svm_type" if val != "nu_svr" && val != "epsilon_svr" => {
                return Err(err(
                    model,
                    format!("svm_type {val} is not supported (nu_svr)"),
                ))
            }
            "kernel_type" if val != "rbf" => {
                return Err(err(
                    model,
                    format!("kernel_type {val} is not supported (rbf)"),
                ))
            }
            "gamma" => gamma = Some(val.parse::<f64>().map_err(|_| bad())?),
            "rho" => rho = Some(val.parse::<f64>().map_err(|_| bad())?),
            "total_sv" => total = Some(val.parse::<usize>().map_err(|_| bad())?),
            _ => {}
        }
    }
    let missing = |k: &str| err(model, format!("model_dict.model: missing {k}"));
    let gamma = gamma.ok_or_else(|| missing("gamma"))?;
    let rho = rho.ok_or_else(|| missing("rho"))?;
    let total = total.ok_or_else(|| missing("total_sv"))?;
    // Not `with_capacity(total)`: total_sv is the file's claim, and a huge one panicked with
    // "capacity overflow" (found with the model_json fuzz target); the count is checked below.
    let mut sv = Vec::new();
    for (n, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let bad = || {
            err(
                model,
                format!("model_dict.model: support vector {} malformed", n + 1),
            )
        };
        let mut it = line.split_whitespace();
        let coef: f64 = it.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let mut x = vec![0.0; n_features];
        for pair in it {
            let (i, v) = pair.split_once(':').ok_or_else(bad)?;
            let i: usize = i.parse().map_err(|_| bad())?;
            let v: f64 = v.parse().map_err(|_| bad())?;
            if i == 0 || i > n_features {
                return Err(err(
                    model,
                    format!(
                        "model_dict.model: support vector {} uses feature index {i} of {n_features}",
                        n + 1
                    ),
                ));
            }
            x[i - 1] = v;
        }
        sv.push((coef, x));
    }
    if sv.len() != total {
        return Err(err(
            model,
            format!(
                "model_dict.model: total_sv {total} but {} support vectors",
                sv.len()
            ),
        ));
    }
    Ok(Svm { gamma, rho, sv })
}

fn parse_transform(model: &str, v: &Value) -> Result<ScoreTransform> {
    let o = v
        .as_object()
        .ok_or_else(|| err(model, "model_dict.score_transform: expected an object"))?;
    let opt = |k: &str| -> Result<Option<f64>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => num(model, &format!("score_transform.{k}"), x).map(Some),
        }
    };
    let flag = |k: &str| {
        matches!(o.get(k), Some(Value::String(s)) if s == "true")
            || matches!(o.get(k), Some(Value::Bool(true)))
    };
    let mut knots = Vec::new();
    if let Some(Value::Array(a)) = o.get("knots") {
        for k in a {
            let p = k
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| err(model, "score_transform.knots: expected [[x, y], ...]"))?;
            knots.push((
                num(model, "score_transform.knots", &p[0])?,
                num(model, "score_transform.knots", &p[1])?,
            ));
        }
    }
    Ok(ScoreTransform {
        p0: opt("p0")?,
        p1: opt("p1")?,
        p2: opt("p2")?,
        knots,
        out_lte_in: flag("out_lte_in"),
        out_gte_in: flag("out_gte_in"),
        enabled: matches!(o.get("enabled"), Some(Value::Bool(true))),
    })
}

impl ScoreTransform {
    /// libvmaf predict.c `transform`.
    pub fn apply(&self, y_in: f64) -> f64 {
        let mut y = if self.p0.is_some() || self.p1.is_some() || self.p2.is_some() {
            self.p0.unwrap_or(0.0)
                + self.p1.map_or(0.0, |p| p * y_in)
                + self.p2.map_or(0.0, |p| p * y_in * y_in)
        } else {
            y_in
        };
        if self.knots.len() > 1 {
            y = piecewise_linear(y, &self.knots);
        }
        if self.out_lte_in && y > y_in {
            y = y_in;
        }
        if self.out_gte_in && y < y_in {
            y = y_in;
        }
        y
    }
}

/// libvmaf `piecewise_linear_mapping`: linear within the knots, extended by the end segments.
fn piecewise_linear(x: f64, k: &[(f64, f64)]) -> f64 {
    let n = k.len() - 1;
    let mut y = 0.0;
    for i in 0..n {
        let ((x0, y0), (x1, y1)) = (k[i], k[i + 1]);
        let inside = x0 <= x && x <= x1;
        let below = i == 0 && x < x0;
        let above = i == n - 1 && x > x1;
        if inside || below || above {
            y = if y0 == y1 {
                y0
            } else {
                let a = (y1 - y0) / (x1 - x0);
                if x0 == 0.0 {
                    a * x + y0
                } else {
                    a * x + (y0 - x0 * a)
                }
            };
        }
    }
    y
}

impl Model {
    /// A built-in model by name.
    pub fn builtin(name: &str) -> Result<Model> {
        let json = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, j)| *j)
            .ok_or_else(|| {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                err(
                    name,
                    format!("unknown model name (built-in: {})", names.join(", ")),
                )
            })?;
        Model::from_json(name, json)
    }

    /// Whether a libvmaf feature name is one the engine computes (a model may use it).
    pub fn knows_feature(name: &str) -> bool {
        feature_kind("", name).is_ok()
    }

    /// A libvmaf JSON model file.
    pub fn from_path(path: &Path) -> Result<Model> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Model::from_json(&path.display().to_string(), &text)
    }

    /// A built-in name, or else a path to a JSON model.
    pub fn load(name_or_path: &str) -> Result<Model> {
        if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
            return Model::builtin(name_or_path);
        }
        let p = Path::new(name_or_path);
        if p.exists() || name_or_path.ends_with(".json") || name_or_path.contains('/') {
            Model::from_path(p)
        } else {
            Model::builtin(name_or_path)
        }
    }

    /// Parses libvmaf's JSON model layout; `name` names the model in errors.
    pub fn from_json(name: &str, json: &str) -> Result<Model> {
        let root: Value = serde_json::from_str(json).map_err(|e| {
            err(
                name,
                format!("not a libvmaf JSON model (invalid JSON: {e})"),
            )
        })?;
        let md = root
            .get("model_dict")
            .and_then(Value::as_object)
            .ok_or_else(|| err(name, "not a libvmaf JSON model (no model_dict object)"))?;
        match md.get("model_type").and_then(Value::as_str) {
            Some("LIBSVMNUSVR") => {}
            Some(t) => {
                return Err(err(
                    name,
                    format!("model_type {t} is not supported (LIBSVMNUSVR)"),
                ))
            }
            None => return Err(err(name, "missing model_dict.model_type")),
        }
        let linear_rescale = match md.get("norm_type").and_then(Value::as_str) {
            Some("linear_rescale") => true,
            Some("none") | None => false,
            Some(t) => return Err(err(name, format!("norm_type {t} is not supported"))),
        };
        let fnames = md
            .get("feature_names")
            .and_then(Value::as_array)
            .ok_or_else(|| err(name, "missing model_dict.feature_names"))?;
        let n = fnames.len();
        let opts = md.get("feature_opts_dicts").and_then(Value::as_array);
        if let Some(o) = opts {
            if o.len() != n {
                return Err(err(
                    name,
                    format!(
                        "feature_opts_dicts has {} entries for {n} features",
                        o.len()
                    ),
                ));
            }
        }
        let (slopes, intercepts) = if linear_rescale {
            let s = num_list(name, "slopes", md.get("slopes"))?;
            let i = num_list(name, "intercepts", md.get("intercepts"))?;
            if s.len() != n + 1 || i.len() != n + 1 {
                return Err(err(
                    name,
                    format!("slopes/intercepts need {} entries (1 + features)", n + 1),
                ));
            }
            (s, i)
        } else {
            (vec![1.0; n + 1], vec![0.0; n + 1])
        };
        let mut features = Vec::with_capacity(n);
        for (i, f) in fnames.iter().enumerate() {
            let fname = f
                .as_str()
                .ok_or_else(|| err(name, "feature_names: expected strings"))?;
            let mut kind = feature_kind(name, fname)?;
            if let Some(Some(o)) = opts.map(|o| o[i].as_object()) {
                for (k, v) in o {
                    apply_option(name, fname, &mut kind, k, v)?;
                }
            }
            features.push(ModelFeature {
                name: fname.to_string(),
                kind,
                slope: slopes[i + 1],
                intercept: intercepts[i + 1],
            });
        }
        let clip = match md.get("score_clip") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let c = num_list(name, "score_clip", Some(v))?;
                if c.len() != 2 {
                    return Err(err(name, "score_clip: expected [min, max]"));
                }
                Some((c[0], c[1]))
            }
        };
        let transform = match md.get("score_transform") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_transform(name, v)?),
        };
        let svm_text = md
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| err(name, "missing model_dict.model (the libsvm model)"))?;
        let svm = parse_svm(name, svm_text, n)?;
        Ok(Model {
            name: name.to_string(),
            features,
            linear_rescale,
            slope: slopes[0],
            intercept: intercepts[0],
            clip,
            transform,
            svm,
        })
    }

    /// Whether a transform exists to enable with `--phone`.
    pub fn has_transform(&self) -> bool {
        self.transform.is_some()
    }

    /// The score for raw feature values given in the order of [`Model::features`]. `phone`
    /// enables the model's `score_transform` (libvmaf VMAF_MODEL_FLAG_ENABLE_TRANSFORM).
    pub fn predict(&self, raw: &[f64], phone: bool) -> f64 {
        debug_assert_eq!(raw.len(), self.features.len());
        let x: Vec<f64> = raw
            .iter()
            .zip(&self.features)
            .map(|(&v, f)| {
                if self.linear_rescale {
                    f.slope * v + f.intercept
                } else {
                    v
                }
            })
            .collect();
        let mut sum = 0.0;
        for (coef, sv) in &self.svm.sv {
            let mut d2 = 0.0;
            for (a, b) in x.iter().zip(sv) {
                let d = a - b;
                d2 += d * d;
            }
            sum += coef * (-self.svm.gamma * d2).exp();
        }
        let mut y = sum - self.svm.rho;
        if self.linear_rescale {
            y = (y - self.intercept) / self.slope;
        }
        if let Some(t) = &self.transform {
            if t.enabled || phone {
                y = t.apply(y);
            }
        }
        if let Some((lo, hi)) = self.clip {
            y = y.max(lo).min(hi);
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_with_their_options() {
        for (n, _) in BUILTIN {
            let m = Model::builtin(n).unwrap();
            assert_eq!(m.features.len(), 6, "{n}");
        }
        let neg = Model::builtin("vmaf_v0.6.1neg").unwrap();
        assert!(neg.features.iter().any(|f| f.kind
            == FeatureKind::Vif {
                scale: 0,
                enhn_gain_limit: 1.0
            }));
        assert!(neg.features.iter().any(|f| f.kind
            == FeatureKind::Adm2 {
                enhn_gain_limit: 1.0
            }));
    }

    #[test]
    fn bad_models_are_clear_errors() {
        let e = Model::from_json("x.json", "hello").unwrap_err().to_string();
        assert!(
            e.contains("x.json") && e.contains("not a libvmaf JSON model"),
            "{e}"
        );
        let e = Model::builtin("vmaf_nope").unwrap_err().to_string();
        assert!(
            e.contains("vmaf_nope") && e.contains("unknown model"),
            "{e}"
        );
        let float = BUILTIN[0]
            .1
            .replace("VMAF_integer_feature_adm2_score", "VMAF_feature_adm2_score");
        let e = Model::from_json("f.json", &float).unwrap_err().to_string();
        assert!(e.contains("VMAF_feature_adm2_score"), "{e}");
    }

    #[test]
    fn phone_transform_raises_mid_scores() {
        let t = Model::builtin("vmaf_v0.6.1").unwrap().transform.unwrap();
        // 1.70674692 + 1.72643844·50 − 0.00705305·2500
        let y = t.apply(50.0);
        assert!((y - (1.70674692 + 1.72643844 * 50.0 - 0.00705305 * 2500.0)).abs() < 1e-9);
        assert_eq!(t.apply(99.0).max(99.0), t.apply(99.0));
    }

    #[test]
    fn piecewise_linear_extends_end_segments() {
        let k = [(0.0, 0.0), (10.0, 20.0), (20.0, 25.0)];
        assert_eq!(piecewise_linear(5.0, &k), 10.0);
        assert_eq!(piecewise_linear(30.0, &k), 30.0);
        assert_eq!(piecewise_linear(-1.0, &k), -2.0);
    }

    /// Fuzz regression (fuzz/corpus/model_json/regress-huge-total-sv.json): a huge total_sv is
    /// a count mismatch error, not an allocation panic.
    #[test]
    fn huge_total_sv_is_an_error() {
        let j = BUILTIN[0]
            .1
            .replace("total_sv 211", "total_sv 999999999999999999");
        let e = Model::from_json("m.json", &j).unwrap_err().to_string();
        assert!(e.contains("m.json") && e.contains("total_sv"), "{e}");
    }
}
