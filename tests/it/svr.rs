//! The ν-SVR trainer against scikit-learn's `NuSVR` (libsvm inside), run on the same problems
//! in the Python of `scripts/pyenv` (made by `scripts/test`; `PERTITLE_PYTHON` names another).

use crate::support::{run_python, Rng};
use pertitle::quality::svr::{self, NuSvrParams, Rbf};

/// A VMAF-like training set: `n` samples of `dim` features in [0, 1] (as VMAF scales them),
/// the target a smooth function of them plus a little noise, also in about [0, 1].
fn problem(seed: u64, n: usize, dim: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut rng = Rng::xorshift64_star(Rng::spread(seed));
    let x: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..dim).map(|_| rng.unit()).collect())
        .collect();
    let y = x
        .iter()
        .map(|r| {
            let s: f64 = r.iter().enumerate().map(|(k, v)| v * (k + 1) as f64).sum();
            let norm = (dim * (dim + 1) / 2) as f64;
            (s / norm).powf(1.5) + 0.05 * (rng.unit() - 0.5)
        })
        .collect();
    (x, y)
}

pub(crate) struct Sklearn {
    pub predict: Vec<f64>,
    pub intercept: f64,
    pub n_support: usize,
}

pub(crate) fn sklearn(
    x: &[Vec<f64>],
    y: &[f64],
    test: &[Vec<f64>],
    p: &NuSvrParams,
    shrinking: bool,
) -> Sklearn {
    let problem = serde_json::json!({
        "train_x": x, "train_y": y, "test_x": test,
        "nu": p.nu, "C": p.c, "gamma": p.kernel.gamma, "tol": p.tol, "shrinking": shrinking,
    });
    let v = run_python("nusvr.py", &problem);
    Sklearn {
        predict: v["predict"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect(),
        intercept: v["intercept"].as_f64().unwrap(),
        n_support: v["n_support"].as_u64().unwrap() as usize,
    }
}

/// Largest |ours − scikit-learn's| prediction over held-out samples, with the two models'
/// support counts and −ρ.
fn compare(seed: u64, n: usize, dim: usize, p: NuSvrParams, shrinking: bool) -> f64 {
    let (x, y) = problem(seed, n, dim);
    let (test, _) = problem(seed ^ 0xABCD, 50, dim);
    let ours = svr::train(&x, &y, &p).unwrap();
    assert!(
        ours.converged,
        "did not converge in {} steps",
        ours.iterations
    );
    let theirs = sklearn(&x, &y, &test, &p, shrinking);
    let worst = test
        .iter()
        .zip(&theirs.predict)
        .map(|(t, s)| (ours.predict(t) - s).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "n {n} dim {dim} nu {} C {} gamma {} tol {} shrinking {shrinking}: {} steps, {} SVs \
         (scikit-learn {}), -rho {:.9} ({:.9}), max |Δ prediction| {worst:.3e}",
        p.nu,
        p.c,
        p.kernel.gamma,
        p.tol,
        ours.iterations,
        ours.support.len(),
        theirs.n_support,
        -ours.rho,
        theirs.intercept,
    );
    worst
}

fn params(nu: f64, c: f64, gamma: f64, tol: f64) -> NuSvrParams {
    NuSvrParams {
        nu,
        c,
        kernel: Rbf { gamma },
        tol,
        max_iter: None,
    }
}

/// libsvm's steps taken exactly: scikit-learn without shrinking, at its default tolerance and
/// VMAF's parameters (ν 0.9, C 4, γ 0.04) and others, gives the same predictions within 1e-6.
#[test]
fn nu_svr_matches_scikit_learn() {
    let cases = [
        (1, 150, 6, params(0.9, 4.0, 0.04, 1e-3)),
        (2, 200, 4, params(0.5, 1.0, 1.0, 1e-3)),
        (3, 120, 3, params(0.3, 10.0, 5.0, 1e-3)),
        (4, 80, 6, params(0.9, 0.5, 0.2, 1e-3)),
    ];
    for (seed, n, dim, p) in cases {
        let worst = compare(seed, n, dim, p, false);
        assert!(worst < 1e-6, "max |Δ prediction| {worst:e}");
    }
}

/// With shrinking (scikit-learn's default) libsvm takes another path to a point meeting the same
/// tolerance; at a tight tolerance both reach the one optimum.
#[test]
fn nu_svr_meets_scikit_learn_with_shrinking_at_tight_tolerance() {
    let worst = compare(5, 150, 6, params(0.9, 4.0, 0.04, 1e-9), true);
    assert!(worst < 1e-6, "max |Δ prediction| {worst:e}");
}

/// Bad parameters and data are errors that say what is wrong.
#[test]
fn bad_training_input_is_a_clear_error() {
    let (x, y) = problem(6, 10, 2);
    let p = params(0.5, 1.0, 1.0, 1e-3);
    let e =
        |x: &[Vec<f64>], y: &[f64], p: &NuSvrParams| svr::train(x, y, p).unwrap_err().to_string();
    assert_eq!(e(&[], &[], &p), "no training samples");
    assert_eq!(
        e(&x, &y, &params(1.5, 1.0, 1.0, 1e-3)),
        "nu = 1.5: must be in (0, 1]"
    );
    assert_eq!(
        e(&x, &y, &params(0.5, 0.0, 1.0, 1e-3)),
        "C = 0: must be above 0"
    );
    let mut ragged = x.clone();
    ragged[3].push(1.0);
    assert_eq!(
        e(&ragged, &y, &p),
        "training sample 3 has 3 features, the first has 2"
    );
    let mut nan = y.clone();
    nan[7] = f64::NAN;
    assert_eq!(
        e(&x, &nan, &p),
        "training sample 7: the target is not a finite number"
    );
}
