//! Quality engine: VMAF (v0.6.1 family), PSNR and SSIM computed the way libvmaf computes them.

pub mod pooling;
pub mod vmaf;
