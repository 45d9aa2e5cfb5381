//! SRCC, PCC and RMSE after the logistic fit against scipy (`spearmanr`, `pearsonr`, and
//! `curve_fit`'s MINPACK Levenberg–Marquardt) on the same data, run in the Python of
//! `scripts/pyenv` (made by `scripts/test`; `PERTITLE_PYTHON` names another); and the
//! bootstrap's intervals.

use crate::support::{run_python, Rng};
use pertitle::agreement::{self, Agreement};

/// One named data set: a metric's scores and the opinion scores they should predict.
struct Set {
    name: &'static str,
    predicted: Vec<f64>,
    opinion: Vec<f64>,
}

/// The opinion as a function of the metric: `lo + (hi − lo) / (1 + exp(−(x − mid)/width))`
/// plus Gaussian-like noise of `noise` standard deviation.
struct Truth {
    lo: f64,
    hi: f64,
    mid: f64,
    width: f64,
    noise: f64,
}

/// `n` VMAF-like scores in [20, 100] and their opinion scores. `stratified` draws one score in
/// each of `n` equal slices of the range, so that a small set still spans the whole logistic
/// (else the fit may run off to an exponential with unbounded parameters, where MINPACK and we
/// stop at different arbitrary points).
fn noisy_logistic(name: &'static str, seed: u64, n: usize, stratified: bool, t: Truth) -> Set {
    let mut rng = Rng::xorshift64_star(Rng::spread(seed));
    let predicted: Vec<f64> = (0..n)
        .map(|i| match stratified {
            true => 20.0 + 80.0 * (i as f64 + rng.unit()) / n as f64,
            false => 20.0 + 80.0 * rng.unit(),
        })
        .collect();
    let opinion = predicted
        .iter()
        .map(|&x| {
            t.lo + (t.hi - t.lo) / (1.0 + (-(x - t.mid) / t.width).exp()) + t.noise * rng.gauss()
        })
        .collect();
    Set {
        name,
        predicted,
        opinion,
    }
}

fn sets() -> Vec<Set> {
    let mos = |mid, width, noise| Truth {
        lo: 1.0,
        hi: 5.0,
        mid,
        width,
        noise,
    };
    // Scores reported on coarse grids: whole multiples of 5 (VMAF as a dashboard shows it) and
    // opinion rounded to half points, so both sides have many ties.
    let mut ties = noisy_logistic("ties, 50 pairs", 3, 50, false, mos(58.0, 11.0, 0.3));
    ties.predicted
        .iter_mut()
        .for_each(|v| *v = (*v / 5.0).round() * 5.0);
    ties.opinion
        .iter_mut()
        .for_each(|v| *v = (*v * 2.0).round() / 2.0);
    let dmos = Truth {
        lo: 0.0,
        hi: 100.0,
        mid: 62.0,
        width: 9.0,
        noise: 7.0,
    };
    vec![
        noisy_logistic("mos 1-5, 60 pairs", 1, 60, false, mos(55.0, 12.0, 0.35)),
        noisy_logistic("dmos 0-100, 80 pairs", 2, 80, false, dmos),
        ties,
        noisy_logistic("small, 8 pairs", 6, 8, true, mos(60.0, 14.0, 0.3)),
    ]
}

/// scipy's (SRCC, PCC, RMSE) and fitted parameters for each set.
fn scipy(sets: &[Set]) -> Vec<([f64; 3], [f64; 4])> {
    let json: Vec<_> = sets
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name, "predicted": s.predicted, "opinion": s.opinion,
            })
        })
        .collect();
    let v = run_python("agreement.py", &serde_json::Value::from(json));
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), sets.len());
    results
        .iter()
        .zip(sets)
        .map(|(r, s)| {
            assert_eq!(r["name"].as_str().unwrap(), s.name);
            let f = |k: &str| r[k].as_f64().unwrap();
            let fit = r["fit"].as_array().unwrap();
            let b = |i: usize| fit[i].as_f64().unwrap();
            ([f("srcc"), f("pcc"), f("rmse")], [b(0), b(1), b(2), b(3)])
        })
        .collect()
}

/// Within 1e-6 of scipy on every set, for every statistic.
#[test]
fn matches_scipy() {
    let sets = sets();
    let theirs = scipy(&sets);
    let mut worst = [0.0f64; 3];
    for (s, (stats, fit)) in sets.iter().zip(&theirs) {
        let a: Agreement = agreement::agreement(&s.predicted, &s.opinion).unwrap();
        assert_eq!(a.n, s.predicted.len());
        assert_eq!(
            a.srcc,
            agreement::spearman(&s.predicted, &s.opinion).unwrap()
        );
        let ours = [a.srcc, a.pcc, a.rmse];
        let d: Vec<f64> = ours.iter().zip(stats).map(|(o, t)| (o - t).abs()).collect();
        let ob = [a.fit.b1, a.fit.b2, a.fit.b3, a.fit.b4];
        let db = ob
            .iter()
            .zip(fit)
            .map(|(o, t)| (o - t).abs() / t.abs().max(1.0))
            .fold(0.0, f64::max);
        eprintln!(
            "{}: srcc {:.9} pcc {:.9} rmse {:.9} (b1 {:.6} b2 {:.6} b3 {:.6} b4 {:.6}); \
             |Δ| vs scipy srcc {:.3e} pcc {:.3e} rmse {:.3e}, largest relative |Δ b| {db:.3e}",
            s.name, a.srcc, a.pcc, a.rmse, a.fit.b1, a.fit.b2, a.fit.b3, a.fit.b4, d[0], d[1], d[2],
        );
        for k in 0..3 {
            worst[k] = worst[k].max(d[k]);
        }
    }
    eprintln!(
        "max |Δ| vs scipy: srcc {:.3e} pcc {:.3e} rmse {:.3e}",
        worst[0], worst[1], worst[2]
    );
    for (what, w) in ["srcc", "pcc", "rmse"].iter().zip(worst) {
        assert!(w <= 1e-6, "{what}: max |Δ| vs scipy {w:e}");
    }
}

/// The intervals bracket the point estimates, depend only on the seed, and change with it.
#[test]
fn bootstrap_intervals() {
    let s = &sets()[0];
    let point = agreement::agreement(&s.predicted, &s.opinion).unwrap();
    let a = agreement::bootstrap(&s.predicted, &s.opinion, 400, 11).unwrap();
    eprintln!(
        "{}: srcc {:.4} [{:.4}, {:.4}] pcc {:.4} [{:.4}, {:.4}] rmse {:.4} [{:.4}, {:.4}], \
         {} skipped of {}",
        s.name,
        point.srcc,
        a.srcc.lo,
        a.srcc.hi,
        point.pcc,
        a.pcc.lo,
        a.pcc.hi,
        point.rmse,
        a.rmse.lo,
        a.rmse.hi,
        a.skipped,
        a.resamples
    );
    assert_eq!(a.resamples, 400);
    // 60 distinct pairs never resample to constant scores; a resample may still have no finite
    // logistic optimum (the fit runs off to an exponential and does not converge), rarely.
    assert!(a.skipped * 20 < a.resamples, "{} skipped", a.skipped);
    for (what, i, p) in [
        ("srcc", a.srcc, point.srcc),
        ("pcc", a.pcc, point.pcc),
        ("rmse", a.rmse, point.rmse),
    ] {
        assert!(i.lo <= i.hi, "{what}: {i:?}");
        assert!(i.lo < i.hi, "{what}: a 60-pair bootstrap has spread: {i:?}");
        assert!(i.lo <= p && p <= i.hi, "{what}: {p} outside {i:?}");
    }
    let again = agreement::bootstrap(&s.predicted, &s.opinion, 400, 11).unwrap();
    assert_eq!(a, again, "same seed, same intervals");
    let other = agreement::bootstrap(&s.predicted, &s.opinion, 400, 12).unwrap();
    assert_ne!(a, other, "another seed, other intervals");
    for (x, y) in [
        (a.srcc, other.srcc),
        (a.pcc, other.pcc),
        (a.rmse, other.rmse),
    ] {
        assert!(x.lo != y.lo || x.hi != y.hi, "{x:?} {y:?}");
    }
}
