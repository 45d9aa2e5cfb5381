//! pertitle: per-title encoding ladders.
//!
//! Stages, one flat module each: [`media`] (the only code touching FFmpeg) reads, scales, encodes
//! and decodes frames; [`quality`] scores them (VMAF, PSNR, SSIM as libvmaf defines them);
//! [`grid`] runs the resolution × CRF test encodes, each a content-addressed task kept by
//! [`store`]; [`hull`] and [`ladder`] turn points into rungs; [`recipe`] reads and writes the
//! TOML recipes; [`bdrate`] and [`report`] compare and draw. The CLI (`src/cli/`) is a thin layer
//! over this library.

pub mod bdrate;
pub mod codecs;
pub mod determinism;
pub mod error;
pub mod fsutil;
pub mod grid;
pub mod hull;
pub mod ladder;
pub mod media;
pub mod output;
pub mod pipeline;
pub mod points;
pub mod recipe;
pub mod report;
pub mod run;
pub mod search;
pub mod store;

pub use error::{Error, Result};
pub use frame::{Chroma, Frame, FrameFormat, Plane};
/// The quality engine (its own crate, `pertitle-quality`, with no FFmpeg dependency).
pub use pertitle_quality as quality;
pub use pertitle_quality::{cpu, frame};
pub use points::{Metric, Point, SourceIdentity};

/// The version written into every output and mixed into every store key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
