//! pertitle: per-title encoding ladders.
//!
//! Stages, one flat module each: [`media`] (the only code touching FFmpeg) reads, scales, encodes
//! and decodes frames; [`quality`] (the `pertitle-quality` crate, re-exported) scores them (VMAF,
//! PSNR, SSIM as libvmaf defines them); [`grid`] defines the content-addressed test-encode tasks,
//! which [`pipeline`]'s `Runner` computes and [`store`] keeps; [`run`] is a ladder run as a typed
//! pipeline (`LadderRun`: identify, plan, compute, hull, ladder) and [`output`] writes what it
//! produced; [`search`] plans the fast search; [`hull`] and [`ladder`] turn points into rungs;
//! [`recipe`] reads and writes the TOML recipes; [`points`] and [`codecs`] hold the facts about
//! metrics and encoders; [`bdrate`] and [`report`] compare and draw; [`determinism`] holds the
//! process settings byte-identical outputs rely on. The `pertitle` command is a thin layer over
//! this library.

// Every unsafe block (FFmpeg FFI, libc) says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod agreement;
pub mod batch;
pub mod bdrate;
pub mod catalog;
pub mod chunks;
pub mod codecs;
pub mod dataset;
pub mod determinism;
pub mod encode;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod fsutil;
pub mod grid;
pub mod hull;
pub mod ladder;
pub mod media;
pub mod output;
pub mod package;
pub mod pipeline;
pub mod points;
pub mod recipe;
pub mod report;
pub mod run;
pub mod sample;
pub mod search;
pub mod shots;
pub mod slurm;
pub mod store;
pub mod training;
pub mod verify;

pub use error::{Error, Result};
pub use frame::{Chroma, Frame, FrameFormat, Plane};
/// The quality engine (its own crate, `pertitle-quality`, with no FFmpeg dependency).
pub use pertitle_quality as quality;
pub use pertitle_quality::{cpu, frame};
pub use points::{Metric, Point, SourceIdentity};

/// The version written into every output and mixed into every store key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
