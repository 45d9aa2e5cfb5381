//! Build a ladder from stored grid points with custom constraints, through the library only:
//! no encoding, no CLI.
//!
//!     cargo run --release --example custom_ladder -- [POINTS.json] [ladder.toml]
//!
//! Without arguments it uses `examples/data/points.json` (sample data, see its README) and prints
//! the hull and the rungs; with a second argument it also writes the ladder.toml there.

use std::path::PathBuf;

use pertitle::ladder::{self, read_points_json};
use pertitle::recipe::{Recipe, RecipeOverrides, RungRateControl};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/points.json")
    });
    let out = args.next().map(PathBuf::from);

    let file = read_points_json(&path)?;
    let codec = file.points[0].codec.clone();

    // Start from the codec's built-in recipe and tighten the ladder like a mobile-first service
    // would: at most 6 rungs, 200–4500 kbps, nothing below 360p, capped CRF.
    let mut recipe = Recipe::default_for(&codec)?;
    recipe.apply(&RecipeOverrides {
        max_rungs: Some(6),
        min_kbps: Some(200.0),
        max_kbps: Some(4500.0),
        min_height: Some(360),
        quality_cap: Some(94.0),
        rate_control: Some(RungRateControl::CappedCrf),
        ..Default::default()
    })?;

    // The hull of the points this ladder may use (its codec, at least 360 high), under its metric.
    let hull = ladder::hull_for(&file.points, &recipe)?;
    println!(
        "{} hull of {} points ({}):",
        hull.metric(),
        file.points.len(),
        path.display()
    );
    for p in hull.points(&file.points) {
        println!(
            "  {:>4}x{:<4} crf {:>4} {:>8.1} kbps  VMAF {:6.2}",
            p.width, p.height, p.crf, p.kbps, p.vmaf
        );
    }

    // No source is needed: with one (points.json from `pertitle ladder` has it) the rungs also
    // get their ffmpeg commands.
    let ladder = ladder::build(&file.points, &hull, &recipe, file.source.as_ref())?;
    println!("ladder ({} rungs):", ladder.rungs.len());
    for r in &ladder.rungs {
        println!(
            "  {:>4}x{:<4} {:>6} kbps (max {:>6})  crf {:>5.1}  VMAF {:6.2}  PSNR {:5.2}  {}",
            r.width,
            r.height,
            r.kbps,
            r.maxrate_kbps,
            r.crf,
            r.vmaf,
            r.psnr_y,
            if r.grid_point {
                "grid point"
            } else {
                "interpolated"
            }
        );
    }
    for w in &ladder.warnings {
        println!("warning: {w}");
    }
    if let Some(out) = out {
        std::fs::write(&out, ladder.to_toml()?)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
