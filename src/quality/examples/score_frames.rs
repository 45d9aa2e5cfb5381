//! The quality engine on its own, with no FFmpeg and no file I/O: frames come from the caller
//! (here, made in memory), the reference is prepared once and every distorted version is scored
//! against it. `cargo run --release -p pertitle-quality --example score_frames`.

use pertitle_quality::{Chroma, Engine, EngineConfig, Frame, FrameFormat, Metrics};

/// A textured 8-bit 4:2:0 frame: a diagonal ramp with a pseudo-random grain of amplitude `grain`.
fn frame(index: u64, grain: u32) -> Frame {
    let mut f = Frame::new(FrameFormat::new(320, 180, Chroma::Yuv420, 8), index);
    let mut seed = 0x9e37_79b9_u32 ^ (index as u32).wrapping_mul(7919);
    for plane in &mut f.planes {
        let w = plane.width;
        plane.samples.update(|i, _| {
            let (x, y) = (i % w, i / w);
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = if grain == 0 {
                0
            } else {
                seed % (2 * grain + 1)
            };
            ((x + y + index as usize) % 200 + 28) as u16 + noise as u16 - grain as u16
        });
    }
    f
}

fn main() -> Result<(), pertitle_quality::Error> {
    let engine = Engine::new(EngineConfig {
        metrics: Metrics {
            vmaf: true,
            psnr: true,
            ssim: true,
        },
        ..EngineConfig::default()
    })?;
    // Reference frames are prepared once (VIF/ADM reference parts, motion); each prepared frame
    // is then shared by every distorted version.
    let mut preparer = engine.ref_preparer();
    let mut prepared = Vec::new();
    for i in 0..3 {
        prepared.extend(preparer.push(frame(i, 0))?);
    }
    prepared.extend(preparer.finish());
    for grain in [2, 8, 24] {
        let mut vmaf = 0.0;
        for r in &prepared {
            let s = engine.score(r, &frame(r.index(), grain))?;
            vmaf += s.vmaf.unwrap_or(f64::NAN);
        }
        println!(
            "grain ±{grain:>2}: mean VMAF {:.3}",
            vmaf / prepared.len() as f64
        );
    }
    Ok(())
}
