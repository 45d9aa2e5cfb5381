//! Scores a distorted video against a reference through the library API:
//! `cargo run --release --example score_pair -- REF DIST`.
//! (A distorted file of another size would need upscaling first: see `pertitle score`.)

use pertitle::media;
use pertitle::quality::{Engine, EngineConfig, Metrics, VideoScorer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, distorted] = args.as_slice() else {
        eprintln!("usage: score_pair REF DIST");
        std::process::exit(2);
    };
    let opts = media::InputOptions::default();
    let mut r = media::open(reference.as_ref(), &opts)?;
    let mut d = media::open(distorted.as_ref(), &opts)?;
    let engine = Engine::new(EngineConfig {
        metrics: Metrics {
            vmaf: true,
            psnr: true,
            ssim: true,
        },
        ..EngineConfig::default()
    })?;
    let mut scorer = VideoScorer::new(&engine);
    while let (Some(rf), Some(df)) = (r.next_frame()?, d.next_frame()?) {
        scorer.push(rf, df)?;
    }
    let scores = scorer.finish()?;
    for metric in ["vmaf", "psnr_y", "float_ssim"] {
        if let Some(p) = scores.pooled(metric) {
            println!(
                "{metric:>10}: mean {:.4}  harmonic {:.4}  min {:.4}",
                p.mean, p.harmonic_mean, p.min
            );
        }
    }
    Ok(())
}
