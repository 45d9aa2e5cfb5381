//! Run-time CPU feature level for SIMD kernels, in the manner of rav1e: an ordered enum, detected
//! once, that can be capped (never raised) with the environment variable `PERTITLE_CPU`
//! (`scalar`, `avx2`, `avx512`, `avx512vnni`). Each level is exactly the feature set some kernel
//! set is compiled for, so a kernel table built for a level may run any kernel at or below it.
//! The scalar kernels are always compiled and are the reference every SIMD kernel is tested
//! against.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    Scalar,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// AVX2 plus AVX-512 F/BW/VL/DQ.
    Avx512,
    /// AVX-512 plus CD and VNNI (`vpdpwssd`): what the VIF AVX-512 kernels are compiled for.
    Avx512Vnni,
}

impl CpuLevel {
    /// Every level, lowest first.
    pub const ALL: [CpuLevel; 4] = [
        CpuLevel::Scalar,
        CpuLevel::Avx2,
        CpuLevel::Avx512,
        CpuLevel::Avx512Vnni,
    ];

    /// What this machine supports, ignoring the environment cap (detected once).
    pub fn detect_hardware() -> CpuLevel {
        static HW: OnceLock<CpuLevel> = OnceLock::new();
        *HW.get_or_init(CpuLevel::detect)
    }

    fn detect() -> CpuLevel {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq");
            let vnni = avx512
                && is_x86_feature_detected!("avx512cd")
                && is_x86_feature_detected!("avx512vnni");
            if vnni {
                return CpuLevel::Avx512Vnni;
            }
            if avx512 {
                return CpuLevel::Avx512;
            }
            if avx2 {
                return CpuLevel::Avx2;
            }
        }
        CpuLevel::Scalar
    }

    pub fn parse(s: &str) -> Option<CpuLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" | "rust" => Some(CpuLevel::Scalar),
            "avx2" => Some(CpuLevel::Avx2),
            "avx512" | "avx-512" => Some(CpuLevel::Avx512),
            "avx512vnni" | "avx512-vnni" | "avx-512-vnni" => Some(CpuLevel::Avx512Vnni),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Scalar => "scalar",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
            CpuLevel::Avx512Vnni => "avx512vnni",
        }
    }

    /// The level kernels should use: the hardware level, capped by `PERTITLE_CPU` if set.
    /// An unparseable value is ignored (the hardware level is used).
    pub fn get() -> CpuLevel {
        static LEVEL: OnceLock<CpuLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let hw = CpuLevel::detect_hardware();
            match std::env::var("PERTITLE_CPU")
                .ok()
                .and_then(|v| CpuLevel::parse(&v))
            {
                Some(cap) => hw.min(cap),
                None => hw,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for l in CpuLevel::ALL {
            assert_eq!(CpuLevel::parse(l.name()), Some(l));
        }
        assert!(CpuLevel::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(CpuLevel::get() <= CpuLevel::detect_hardware());
    }
}
