//! Run-time CPU feature level for SIMD kernels, in the manner of rav1e: an ordered enum, detected
//! once, that can be capped (never raised) with the environment variable `PERTITLE_CPU`
//! (`scalar`, `avx2`, `avx512`). The scalar kernels are always compiled and are the reference
//! every SIMD kernel is tested against.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    Scalar,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// AVX2 plus AVX-512 F/BW/VL/DQ.
    Avx512,
}

impl CpuLevel {
    /// What this machine supports, ignoring the environment cap.
    pub fn detect_hardware() -> CpuLevel {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq");
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
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Scalar => "scalar",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
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
