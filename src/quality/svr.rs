//! ν-support vector regression with an RBF kernel, trained the way libsvm trains `nu_svr` (the
//! regressor behind VMAF's models and scikit-learn's `NuSVR`), so a model trained here predicts
//! what libsvm's would on the same data.
//!
//! The dual problem has 2·l variables (αᵢ⁺ for i < l, αᵢ⁻ for i ≥ l) and two equality
//! constraints, solved by libsvm's SMO with the second-order working-set choice of its ν solver
//! (a pair of the same sign each step), its start point, its clipping of a step to the box
//! [0, C], its stopping rule (largest violating pair below `tol`) and its ρ. Like libsvm the
//! kernel matrix is held in f32 and its diagonal in f64. Shrinking, libsvm's speed heuristic, is
//! not done: the solution meets the same stopping rule (scikit-learn with `shrinking=False`
//! takes the same steps).
//!
//! Training data is plain rows of numbers; scaling them (VMAF's models scale features and the
//! score to [0, 1]) is the caller's.

use std::fmt;

/// The kernel: exp(−γ·‖x − z‖²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rbf {
    pub gamma: f64,
}

/// What `train` is asked to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NuSvrParams {
    /// Upper bound on the fraction of training errors and lower bound on the fraction of
    /// support vectors, in (0, 1].
    pub nu: f64,
    /// The box bound of every dual variable (the cost of an error), > 0.
    pub c: f64,
    pub kernel: Rbf,
    /// Stopping tolerance on the largest violating pair (libsvm `eps`, scikit-learn `tol`).
    pub tol: f64,
    /// At most this many SMO steps; libsvm's bound is max(10⁷, 100·2l).
    pub max_iter: Option<u64>,
}

impl Default for NuSvrParams {
    /// libsvm's and scikit-learn's defaults but γ, which they take from the data (1 / features).
    fn default() -> Self {
        NuSvrParams {
            nu: 0.5,
            c: 1.0,
            kernel: Rbf { gamma: 1.0 },
            tol: 1e-3,
            max_iter: None,
        }
    }
}

/// Why a problem cannot be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SvrError {
    #[error("no training samples")]
    Empty,
    #[error("training sample {row} has {len} features, the first has {want}")]
    Ragged { row: usize, len: usize, want: usize },
    #[error("training sample {row}: {what} is not a finite number")]
    NotFinite { row: usize, what: &'static str },
    #[error("{name} = {value}: {reason}")]
    Param {
        name: &'static str,
        value: f64,
        reason: &'static str,
    },
}

/// A trained regressor: f(x) = Σ coefᵢ·K(svᵢ, x) − ρ.
#[derive(Clone, Debug, PartialEq)]
pub struct SvrModel {
    pub kernel: Rbf,
    pub rho: f64,
    /// (coefficient αᵢ⁺ − αᵢ⁻, support vector), in training order, coefficient ≠ 0.
    pub support: Vec<(f64, Vec<f64>)>,
    /// What the solver did: steps taken and whether it stopped on the tolerance.
    pub iterations: u64,
    pub converged: bool,
    /// libsvm's ε of the fitted tube (−r of the ν solver).
    pub epsilon: f64,
}

impl SvrModel {
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut sum = 0.0;
        for (coef, sv) in &self.support {
            let d2: f64 = sv.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
            sum += coef * (-self.kernel.gamma * d2).exp();
        }
        sum - self.rho
    }

    /// The model in libsvm's text format (what libsvm's `svm_save_model` writes for one
    /// `nu_svr`, at full precision), as VMAF's JSON models embed it.
    pub fn to_libsvm(&self) -> String {
        let mut s = String::new();
        let w = &mut s;
        use std::fmt::Write;
        let _ = writeln!(w, "svm_type nu_svr");
        let _ = writeln!(w, "kernel_type rbf");
        let _ = writeln!(w, "gamma {}", Real(self.kernel.gamma));
        let _ = writeln!(w, "nr_class 2");
        let _ = writeln!(w, "total_sv {}", self.support.len());
        let _ = writeln!(w, "rho {}", Real(self.rho));
        let _ = writeln!(w, "SV");
        for (coef, sv) in &self.support {
            let _ = write!(w, "{} ", Real(*coef));
            for (k, v) in sv.iter().enumerate() {
                if *v != 0.0 {
                    let _ = write!(w, "{}:{} ", k + 1, Real(*v));
                }
            }
            let _ = writeln!(w);
        }
        s
    }
}

/// A float printed so that parsing it gives the same bits (Rust's shortest round-trip form,
/// which C's strtod reads back exactly).
struct Real(f64);

impl fmt::Display for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:e}", self.0)
    }
}

/// Fits ν-SVR to rows `x` (all of one length) and targets `y`.
pub fn train(x: &[Vec<f64>], y: &[f64], p: &NuSvrParams) -> Result<SvrModel, SvrError> {
    check(x, y, p)?;
    let l = x.len();
    let kernel = KernelRows::new(x, p.kernel.gamma);
    // libsvm's start: C·ν·l/2 spread over the first samples, the same on both signs. The sum
    // is accumulated sample by sample as scikit-learn's libsvm does (it weights each sample's
    // C); libsvm's own C·ν·l/2 can differ in the last bit, which leaves a tiny free variable
    // on one side and not the other and so a different path.
    let n = 2 * l;
    let mut alpha = vec![0.0; n];
    let mut lin = vec![0.0; n];
    let mut sum = (0..l).map(|_| p.c * p.nu).fold(0.0, |a, b| a + b) / 2.0;
    for i in 0..l {
        let a = sum.min(p.c);
        alpha[i] = a;
        alpha[i + l] = a;
        sum -= a;
        lin[i] = -y[i];
        lin[i + l] = y[i];
    }
    let max_iter = p
        .max_iter
        .unwrap_or_else(|| 10_000_000u64.max(100 * n as u64));
    let mut s = Smo::new(&kernel, alpha, lin, p.c, p.tol);
    let (iterations, converged) = s.run(max_iter);
    let (rho, r) = s.rho_r();
    let support = (0..l)
        .filter_map(|i| {
            let coef = s.alpha[i] - s.alpha[i + l];
            (coef != 0.0).then(|| (coef, x[i].clone()))
        })
        .collect();
    Ok(SvrModel {
        kernel: p.kernel,
        rho,
        support,
        iterations,
        converged,
        epsilon: -r,
    })
}

impl NuSvrParams {
    /// Whether these parameters can be trained with: ν in (0, 1], C, γ and the tolerance
    /// above 0.
    pub fn validate(&self) -> Result<(), SvrError> {
        check_params(self)
    }
}

fn check(x: &[Vec<f64>], y: &[f64], p: &NuSvrParams) -> Result<(), SvrError> {
    check_params(p)?;
    check_data(x, y)
}

fn check_params(p: &NuSvrParams) -> Result<(), SvrError> {
    let param = |name, value: f64, ok: bool, reason| {
        if ok {
            Ok(())
        } else {
            Err(SvrError::Param {
                name,
                value,
                reason,
            })
        }
    };
    param("nu", p.nu, p.nu > 0.0 && p.nu <= 1.0, "must be in (0, 1]")?;
    param("C", p.c, p.c > 0.0 && p.c.is_finite(), "must be above 0")?;
    let g = p.kernel.gamma;
    param("gamma", g, g > 0.0 && g.is_finite(), "must be above 0")?;
    param(
        "tol",
        p.tol,
        p.tol > 0.0 && p.tol.is_finite(),
        "must be above 0",
    )
}

/// Rows that `train` can take: at least one, all of the first one's length, as many targets,
/// every value finite.
pub fn check_data(x: &[Vec<f64>], y: &[f64]) -> Result<(), SvrError> {
    if x.is_empty() {
        return Err(SvrError::Empty);
    }
    if x.len() != y.len() {
        return Err(SvrError::Ragged {
            row: x.len().min(y.len()),
            len: 0,
            want: x[0].len(),
        });
    }
    let want = x[0].len();
    for (row, (r, t)) in x.iter().zip(y).enumerate() {
        if r.len() != want {
            return Err(SvrError::Ragged {
                row,
                len: r.len(),
                want,
            });
        }
        if !r.iter().all(|v| v.is_finite()) {
            return Err(SvrError::NotFinite {
                row,
                what: "a feature",
            });
        }
        if !t.is_finite() {
            return Err(SvrError::NotFinite {
                row,
                what: "the target",
            });
        }
    }
    Ok(())
}

/// Rows of the l×l kernel matrix in f32, computed on first use as libsvm computes them
/// (exp(−γ·(‖a‖² + ‖b‖² − 2·a·b))) and kept: a VMAF training set has hundreds to a few
/// thousand samples (4·l² bytes in all).
struct KernelRows<'a> {
    x: &'a [Vec<f64>],
    sq: Vec<f64>,
    gamma: f64,
    rows: Vec<std::cell::OnceCell<Vec<f32>>>,
}

impl<'a> KernelRows<'a> {
    fn new(x: &'a [Vec<f64>], gamma: f64) -> Self {
        KernelRows {
            x,
            sq: x.iter().map(|r| dot(r, r)).collect(),
            gamma,
            rows: (0..x.len()).map(|_| std::cell::OnceCell::new()).collect(),
        }
    }

    fn k(&self, i: usize, j: usize) -> f64 {
        (-self.gamma * (self.sq[i] + self.sq[j] - 2.0 * dot(&self.x[i], &self.x[j]))).exp()
    }

    fn row(&self, i: usize) -> &[f32] {
        self.rows[i].get_or_init(|| (0..self.x.len()).map(|j| self.k(i, j) as f32).collect())
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// libsvm's `TAU`: the curvature used where a pair's is not positive.
const TAU: f64 = 1e-12;

/// Where a dual variable sits in its box.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

/// libsvm's SMO for the ν-SVR dual over 2l variables: variable t < l has sign +1 and sample t,
/// t ≥ l sign −1 and sample t − l; Q_ts = sign_t·sign_s·K(sample t, sample s).
struct Smo<'k, 'a> {
    kernel: &'k KernelRows<'a>,
    l: usize,
    alpha: Vec<f64>,
    grad: Vec<f64>,
    bound: Vec<Bound>,
    c: f64,
    tol: f64,
    /// Q's diagonal (K(i, i), 1 for the RBF kernel up to rounding), in f64 as libsvm keeps it.
    qd: Vec<f64>,
}

impl<'k, 'a> Smo<'k, 'a> {
    fn new(kernel: &'k KernelRows<'a>, alpha: Vec<f64>, lin: Vec<f64>, c: f64, tol: f64) -> Self {
        let l = kernel.x.len();
        let n = 2 * l;
        let qd: Vec<f64> = (0..n).map(|t| kernel.k(t % l, t % l)).collect();
        let mut s = Smo {
            kernel,
            l,
            bound: vec![Bound::Free; n],
            grad: lin,
            alpha,
            c,
            tol,
            qd,
        };
        for t in 0..n {
            s.bound[t] = s.bound_of(t);
        }
        // G = p + Qα over the non-zero start values.
        for t in 0..n {
            if s.bound[t] != Bound::Lower {
                let a = s.alpha[t];
                for u in 0..n {
                    s.grad[u] += a * s.q(t, u) as f64;
                }
            }
        }
        s
    }

    fn sign(&self, t: usize) -> f64 {
        if t < self.l {
            1.0
        } else {
            -1.0
        }
    }

    /// Q_tu in f32, as libsvm's `SVR_Q::get_Q` hands it out.
    fn q(&self, t: usize, u: usize) -> f32 {
        let k = self.kernel.row(t % self.l)[u % self.l];
        let s = (self.sign(t) * self.sign(u)) as f32;
        s * k
    }

    fn bound_of(&self, t: usize) -> Bound {
        if self.alpha[t] >= self.c {
            Bound::Upper
        } else if self.alpha[t] <= 0.0 {
            Bound::Lower
        } else {
            Bound::Free
        }
    }

    /// Steps until the stopping rule holds or `max_iter` steps; (steps, stopped on the rule).
    fn run(&mut self, max_iter: u64) -> (u64, bool) {
        let mut iter = 0;
        while iter < max_iter {
            let Some((i, j)) = self.select() else {
                return (iter, true);
            };
            iter += 1;
            self.step(i, j);
        }
        (iter, false)
    }

    /// libsvm's `Solver_NU::select_working_set`: i the most violating variable of one sign, j
    /// of the same sign the one whose step lowers the objective most (second-order), or `None`
    /// when the largest violation is below the tolerance.
    fn select(&self) -> Option<(usize, usize)> {
        let n = 2 * self.l;
        let (mut gmaxp, mut gmaxp_i) = (f64::NEG_INFINITY, None);
        let (mut gmaxn, mut gmaxn_i) = (f64::NEG_INFINITY, None);
        for t in 0..n {
            if t < self.l {
                if self.bound[t] != Bound::Upper && -self.grad[t] >= gmaxp {
                    gmaxp = -self.grad[t];
                    gmaxp_i = Some(t);
                }
            } else if self.bound[t] != Bound::Lower && self.grad[t] >= gmaxn {
                gmaxn = self.grad[t];
                gmaxn_i = Some(t);
            }
        }
        let (mut gmaxp2, mut gmaxn2) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let (mut best, mut best_j) = (f64::INFINITY, None);
        let mut consider = |gd: f64, top: usize, j: usize| {
            if gd > 0.0 {
                let quad = self.qd[top] + self.qd[j] - 2.0 * self.q(top, j) as f64;
                let obj = -(gd * gd) / if quad > 0.0 { quad } else { TAU };
                if obj <= best {
                    best = obj;
                    best_j = Some(j);
                }
            }
        };
        for j in 0..n {
            if j < self.l {
                if self.bound[j] != Bound::Lower {
                    if self.grad[j] >= gmaxp2 {
                        gmaxp2 = self.grad[j];
                    }
                    if let Some(ip) = gmaxp_i {
                        consider(gmaxp + self.grad[j], ip, j);
                    }
                }
            } else if self.bound[j] != Bound::Upper {
                if -self.grad[j] >= gmaxn2 {
                    gmaxn2 = -self.grad[j];
                }
                if let Some(inn) = gmaxn_i {
                    consider(gmaxn - self.grad[j], inn, j);
                }
            }
        }
        let j = best_j?;
        if (gmaxp + gmaxp2).max(gmaxn + gmaxn2) < self.tol {
            return None;
        }
        let i = if j < self.l { gmaxp_i? } else { gmaxn_i? };
        Some((i, j))
    }

    /// One SMO step on a same-sign pair (the ν solver only picks those): move along the
    /// constraint line to the pair's minimum, clipped to the box as libsvm clips it.
    fn step(&mut self, i: usize, j: usize) {
        let (ci, cj) = (self.c, self.c);
        let (old_i, old_j) = (self.alpha[i], self.alpha[j]);
        let quad = self.qd[i] + self.qd[j] - 2.0 * self.q(i, j) as f64;
        let quad = if quad <= 0.0 { TAU } else { quad };
        let delta = (self.grad[i] - self.grad[j]) / quad;
        let sum = old_i + old_j;
        let (mut ai, mut aj) = (old_i - delta, old_j + delta);
        if sum > ci {
            if ai > ci {
                ai = ci;
                aj = sum - ci;
            }
        } else if aj < 0.0 {
            aj = 0.0;
            ai = sum;
        }
        if sum > cj {
            if aj > cj {
                aj = cj;
                ai = sum - cj;
            }
        } else if ai < 0.0 {
            ai = 0.0;
            aj = sum;
        }
        self.alpha[i] = ai;
        self.alpha[j] = aj;
        let (di, dj) = (ai - old_i, aj - old_j);
        // Q_it = sign_i·sign_t·K: the row's two halves differ only in sign, exactly.
        let l = self.l;
        let (ki, kj) = (self.kernel.row(i % l), self.kernel.row(j % l));
        let (si, sj) = (self.sign(i) as f32, self.sign(j) as f32);
        let (lo, hi) = self.grad.split_at_mut(l);
        for t in 0..l {
            let g = (si * ki[t]) as f64 * di + (sj * kj[t]) as f64 * dj;
            lo[t] += g;
            hi[t] -= g;
        }
        self.bound[i] = self.bound_of(i);
        self.bound[j] = self.bound_of(j);
    }

    /// libsvm's `Solver_NU::calculate_rho`: (ρ, r), each side's threshold the mean gradient of
    /// its free variables, or the middle of its bounds when none is free.
    fn rho_r(&self) -> (f64, f64) {
        let side = |range: std::ops::Range<usize>| {
            let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
            let (mut free, mut sum) = (0usize, 0.0);
            for t in range {
                match self.bound[t] {
                    Bound::Upper => lb = lb.max(self.grad[t]),
                    Bound::Lower => ub = ub.min(self.grad[t]),
                    Bound::Free => {
                        free += 1;
                        sum += self.grad[t];
                    }
                }
            }
            if free > 0 {
                sum / free as f64
            } else {
                (ub + lb) / 2.0
            }
        };
        let r1 = side(0..self.l);
        let r2 = side(self.l..2 * self.l);
        ((r1 - r2) / 2.0, (r1 + r2) / 2.0)
    }
}
