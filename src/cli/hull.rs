//! `pertitle hull POINTS.json`: hull and ladder again from stored points, no encoding.

use super::args::{Cli, HullArgs};
use super::common::{constraint_overrides, recipe_for};
use anyhow::Result;
use pertitle::ladder::{self, read_points_json};
use pertitle::{fsutil, output, Error};

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
    let hull = ladder::hull_for(&points, &recipe)?;
    hull.mark(&mut points);
    let ladder = ladder::build(&points, &hull, &recipe, Some(&source))?;
    if let Some(dir) = &a.out {
        fsutil::ensure_dir(dir)?;
        let json = output::points_json(&source, &points)?;
        fsutil::atomic_write(dir.join("points.json"), json.as_bytes())?;
        let rungs = output::rung_rows(&ladder);
        let title = std::path::Path::new(&source.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "title".into());
        let hulls = [hull.clone()];
        pertitle::report::render_run_plots(
            dir,
            &pertitle::report::RunPlots {
                clip: &title,
                codec: &codec,
                points: &points,
                hulls: &hulls,
                rungs: &rungs,
                frames: None,
            },
        )?;
        fsutil::atomic_write(dir.join("ladder.toml"), ladder.to_toml()?.as_bytes())?;
    }
    let summary = output::Summary::of_ladder(&points, &hull, &ladder);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !cli.quiet {
        print!("{}", output::summary_table(&summary));
    }
    Ok(())
}
