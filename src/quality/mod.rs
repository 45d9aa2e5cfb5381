//! Quality engine: VMAF (v0.6.1 family), PSNR and SSIM computed the way libvmaf computes them.

pub mod log;
pub mod pooling;
pub mod psnr;
pub mod ssim;
pub mod vmaf;
