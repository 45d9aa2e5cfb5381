//! The one integration-test binary; each topic is a module.

#[path = "../support/libvmaf.rs"]
mod libvmaf;
mod support;

mod adm;
mod agreement;
mod batch;
mod bdrate;
mod chunks;
mod cli;
mod grid;
mod hull_ladder;
mod media;
mod models;
mod package;
mod pipeline;
mod psnr_ssim;
mod quality;
mod recipe;
mod report;
mod shots;
mod store;
mod svr;
mod verify;
