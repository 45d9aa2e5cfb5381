//! `pertitle hull POINTS.json`: hull and ladder again from stored points, no encoding.

use super::args::{Cli, HullArgs};
use super::common::{constraint_overrides, recipe_for};
use anyhow::Result;
use pertitle::ladder::{self, read_points_json};
use pertitle::{fsutil, hull, Error};

pub fn run(cli: &Cli, a: &HullArgs) -> Result<()> {
    let file = read_points_json(&a.points)?;
    let what = a.points.display().to_string();
    let Some(source) = file.source.clone() else {
        return Err(Error::data(
            what,
            "has no \"source\" section (the ladder needs the source's size and frame rate); use a points.json written by pertitle ladder",
        )
        .into());
    };
    let codec = file.points[0].codec.clone();
    let recipe = recipe_for(
        a.recipe.as_deref(),
        Some(&codec),
        &constraint_overrides(&a.constraints),
    )?;
    let mut points = file.points;
    hull::mark_hull(&mut points, recipe.ladder.metric);
    let ladder = ladder::build(&points, &recipe, &source)?;
    if let Some(dir) = &a.out {
        fsutil::ensure_dir(dir)?;
        let json = pertitle::job::points_json(&source, &points)?;
        fsutil::atomic_write(dir.join("points.json"), json.as_bytes())?;
        let rungs = pertitle::job::rung_rows(&ladder);
        let title = std::path::Path::new(&source.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "title".into());
        let metrics = [recipe.ladder.metric];
        pertitle::report::render_run_plots(
            dir,
            &pertitle::report::RunPlots {
                clip: &title,
                codec: &codec,
                points: &points,
                rungs: &rungs,
                metrics: &metrics,
                frames: None,
            },
        )?;
        fsutil::atomic_write(dir.join("ladder.toml"), ladder.to_toml()?.as_bytes())?;
    }
    if a.json {
        let v = serde_json::json!({
            "hull": points.iter().filter(|p| p.on_hull).map(|p| serde_json::json!({
                "width": p.width, "height": p.height, "crf": p.crf, "kbps": p.kbps,
                "vmaf": p.vmaf, "psnr_y": p.psnr_y, "ssim": p.ssim })).collect::<Vec<_>>(),
            "rungs": ladder.rungs.iter().map(|r| serde_json::json!({
                "width": r.width, "height": r.height, "kbps": r.kbps, "crf": r.crf,
                "vmaf": r.vmaf, "psnr_y": r.psnr_y, "ssim": r.ssim })).collect::<Vec<_>>(),
            "warnings": ladder.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if !cli.quiet {
        let m = recipe.ladder.metric;
        println!("hull ({m}):");
        let mut h: Vec<_> = points.iter().filter(|p| p.on_hull).collect();
        h.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
        for p in h {
            println!(
                "  {:>9} crf {:>5} {:>10.1} kbps  {m} {:.3}",
                format!("{}x{}", p.width, p.height),
                p.crf,
                p.kbps,
                m.of(p)
            );
        }
        println!("ladder ({} rungs):", ladder.rungs.len());
        for r in &ladder.rungs {
            println!(
                "  {:>9} {:>6} kbps (max {:>6})  crf {:>5.1}  vmaf {:.2}",
                format!("{}x{}", r.width, r.height),
                r.kbps,
                r.maxrate_kbps,
                r.crf,
                r.vmaf
            );
        }
        for w in &ladder.warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}
