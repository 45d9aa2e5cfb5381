//! The kernel tables of every metric, resolved once for a CPU level when the [`Engine`] is
//! built (rav1e's CPU level + function tables, libvmaf's per-extractor function pointers): the
//! drivers call through these tables once per row, plane or frame, never per pixel, and never
//! look at the CPU level themselves.
//!
//! [`Engine`]: super::Engine

/// Gives a metric's `Kernels` table type its two constructors: `for_level` picks the best set at
/// or below a level, and never above what the CPU has (the SIMD sets' safe entry points rely on
/// that); `get` is the table for [`CpuLevel::get`], resolved once. The x86 sets are listed best
/// first, each with the level it needs; the scalar set is the fallback everywhere.
macro_rules! kernel_sets {
    ($table:ty, scalar: $scalar:expr, x86: [$(($level:ident, $set:expr)),* $(,)?]) => {
        impl $table {
            pub(crate) fn for_level(level: $crate::cpu::CpuLevel) -> $table {
                let level = level.min($crate::cpu::CpuLevel::detect_hardware());
                #[cfg(target_arch = "x86_64")]
                {
                    $(
                        if level >= $crate::cpu::CpuLevel::$level {
                            return $set;
                        }
                    )*
                }
                let _ = level;
                $scalar
            }

            pub(crate) fn get() -> &'static $table {
                static K: std::sync::OnceLock<$table> = std::sync::OnceLock::new();
                K.get_or_init(|| <$table>::for_level($crate::cpu::CpuLevel::get()))
            }
        }
    };
}
pub(crate) use kernel_sets;

use super::vmaf::{adm, motion, vif};
use super::{psnr, ssim};
use crate::cpu::CpuLevel;

/// One table per metric, each the best set at or below one CPU level.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    pub vif: vif::Kernels,
    pub adm: adm::Kernels,
    pub motion: motion::Kernels,
    pub psnr: psnr::Kernels,
    pub ssim: ssim::Kernels,
}

/// Which kernel set each metric runs: a metric without a set at the engine's level runs its
/// best lower one (e.g. VIF's AVX-512 set needs [`CpuLevel::Avx512Vnni`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLevels {
    pub vif: CpuLevel,
    pub adm: CpuLevel,
    pub motion: CpuLevel,
    pub psnr: CpuLevel,
    pub ssim: CpuLevel,
}

impl Kernels {
    /// Every metric's best set at or below `level` (and never above what the CPU has).
    pub(crate) fn for_level(level: CpuLevel) -> Kernels {
        Kernels {
            vif: vif::Kernels::for_level(level),
            adm: adm::Kernels::for_level(level),
            motion: motion::Kernels::for_level(level),
            psnr: psnr::Kernels::for_level(level),
            ssim: ssim::Kernels::for_level(level),
        }
    }

    pub(crate) fn levels(&self) -> KernelLevels {
        KernelLevels {
            vif: self.vif.level,
            adm: self.adm.level,
            motion: self.motion.level,
            psnr: self.psnr.level,
            ssim: self.ssim.level,
        }
    }
}

/// For SIMD-vs-scalar tests: the table `build` gives for `want`, or `None` after saying on stderr
/// why the test is skipped: the CPU (capped by `PERTITLE_CPU`) lacks `want`, or the metric has no
/// set at `want` and the table fell back to a lower one (which its own level's test covers; a
/// comparison here would test nothing new, and a fallback to scalar would compare scalar with
/// itself).
/// The unit tests' random source (xorshift64, shifts 13/7/17): deterministic, so a failing
/// input can be replayed from its seed.
#[cfg(test)]
pub(crate) struct XorShift(pub u64);

#[cfg(test)]
impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// [`XorShift::next`] on a bare state, for tests that keep the state themselves.
#[cfg(test)]
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    let mut r = XorShift(*state);
    let v = r.next();
    *state = r.0;
    v
}

#[cfg(test)]
pub(crate) fn table_at<T>(
    test: &str,
    want: CpuLevel,
    build: impl Fn(CpuLevel) -> T,
    level_of: impl Fn(&T) -> CpuLevel,
) -> Option<T> {
    assert!(
        want > CpuLevel::Scalar,
        "{test}: a SIMD test needs a SIMD level"
    );
    let have = CpuLevel::get();
    if have < want {
        eprintln!(
            "skipped: {test} needs {}, CPU has {}",
            want.name(),
            have.name()
        );
        return None;
    }
    let t = build(want);
    let got = level_of(&t);
    assert!(
        got <= want,
        "{test}: asked for {want:?}, got the {got:?} set"
    );
    if got != want {
        eprintln!(
            "skipped: {test}: no {} set, the table for {} is the {} one",
            want.name(),
            want.name(),
            got.name()
        );
        return None;
    }
    Some(t)
}

/// For each check function `fn $check(test: &str, level: CpuLevel)`, a test module `$check`
/// with one `#[test]` per SIMD level (`avx2`, `avx512`, `avx512vnni`); the check resolves its
/// table with [`table_at`] and compares it against scalar.
#[cfg(test)]
macro_rules! simd_tests {
    ($($check:ident),+ $(,)?) => {
        $(
            mod $check {
                use $crate::cpu::CpuLevel;

                #[test]
                fn avx2() {
                    super::$check(concat!(stringify!($check), "::avx2"), CpuLevel::Avx2);
                }

                #[test]
                fn avx512() {
                    super::$check(concat!(stringify!($check), "::avx512"), CpuLevel::Avx512);
                }

                #[test]
                fn avx512vnni() {
                    let test = concat!(stringify!($check), "::avx512vnni");
                    super::$check(test, CpuLevel::Avx512Vnni);
                }
            }
        )+
    };
}
#[cfg(test)]
pub(crate) use simd_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Each metric takes its best set at or below the level, capped by the hardware: the sets
    /// that exist are VIF {scalar, AVX2, AVX-512+VNNI}, ADM, SSIM and motion {scalar, AVX2,
    /// AVX-512}, PSNR {scalar, AVX2}.
    #[test]
    fn every_level_resolves_to_the_expected_sets() {
        let best = |l: CpuLevel, sets: &[CpuLevel]| -> CpuLevel {
            let l = l.min(CpuLevel::detect_hardware());
            sets.iter().copied().filter(|&s| s <= l).max().unwrap()
        };
        use CpuLevel::*;
        for l in CpuLevel::ALL {
            let got = Kernels::for_level(l).levels();
            let want = KernelLevels {
                vif: best(l, &[Scalar, Avx2, Avx512Vnni]),
                adm: best(l, &[Scalar, Avx2, Avx512]),
                motion: best(l, &[Scalar, Avx2, Avx512]),
                psnr: best(l, &[Scalar, Avx2]),
                ssim: best(l, &[Scalar, Avx2, Avx512]),
            };
            assert_eq!(got, want, "{l:?}");
        }
    }
}
