//! The kernel tables of every metric, resolved once for a CPU level when the [`Engine`] is
//! built (rav1e's CPU level + function tables, libvmaf's per-extractor function pointers): the
//! drivers call through these tables once per row, plane or frame, never per pixel, and never
//! look at the CPU level themselves.
//!
//! [`Engine`]: super::Engine

#[cfg(test)]
use crate::cpu::CpuLevel;

/// For SIMD-vs-scalar tests: the table `build` gives for `want`, or `None` after saying on stderr
/// why the test is skipped: the CPU (capped by `PERTITLE_CPU`) lacks `want`, or the metric has no
/// set at `want` and the table fell back to a lower one (which its own level's test covers; a
/// comparison here would test nothing new, and a fallback to scalar would compare scalar with
/// itself).
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
