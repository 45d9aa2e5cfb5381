//! Helpers shared by the commands: input options, number parsing.

use super::args::{ConstraintArgs, GridArgs, RawArgs};
use super::UsageError;
use anyhow::Result;
use pertitle::media::InputOptions;
use pertitle::pipeline::RunOptions;
use pertitle::recipe::{RateControl, Recipe, RecipeOverrides, Size};
use pertitle::store::Store;
use pertitle::Metric;
use std::path::Path;

/// Parses `WxH`.
pub fn parse_size(s: &str, what: &str) -> Result<(usize, usize)> {
    let bad = || UsageError(format!("{what}: expected WxH (e.g. 1280x720), got {s:?}"));
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let w: usize = w.trim().parse().map_err(|_| bad())?;
    let h: usize = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad().into());
    }
    Ok((w, h))
}

/// Parses a frame rate: `24`, `29.97`, `30000/1001`.
pub fn parse_fps(s: &str) -> Result<(u32, u32)> {
    let bad = || {
        UsageError(format!(
            "--fps: expected a rate like 24 or 30000/1001, got {s:?}"
        ))
    };
    if let Some((n, d)) = s.split_once('/') {
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let d: u32 = d.trim().parse().map_err(|_| bad())?;
        if n == 0 || d == 0 {
            return Err(bad().into());
        }
        return Ok((n, d));
    }
    let v: f64 = s.trim().parse().map_err(|_| bad())?;
    if !(v > 0.0 && v < 1000.0) {
        return Err(bad().into());
    }
    if v.fract() == 0.0 {
        Ok((v as u32, 1))
    } else {
        Ok(((v * 1000.0).round() as u32, 1000))
    }
}

/// The media layer's input options from the raw-input flags.
pub fn input_options(raw: &RawArgs, allow_decode_errors: bool) -> Result<InputOptions> {
    Ok(InputOptions {
        size: raw
            .size
            .as_deref()
            .map(|s| parse_size(s, "--size"))
            .transpose()?,
        pix_fmt: raw.pix_fmt.clone(),
        fps: raw.fps.as_deref().map(parse_fps).transpose()?,
        allow_decode_errors,
        decode_threads: None,
    })
}

/// Recipe overrides from the command line; values are validated by the recipe.
pub fn overrides(g: &GridArgs, c: &ConstraintArgs) -> Result<RecipeOverrides> {
    let mut o = constraint_overrides(c)?;
    o.codec = g.codec.clone();
    o.preset = g.preset.clone();
    o.sizes = match &g.sizes {
        Some(v) => Some(Size::parse_list(&v.join(","), "--sizes")?),
        None => None,
    };
    o.crf = g.crf.clone();
    o.fps_cap = g.fps_cap;
    Ok(o)
}

/// Ladder-constraint overrides (shared with `hull`).
pub fn constraint_overrides(c: &ConstraintArgs) -> Result<RecipeOverrides> {
    let metric = match &c.metric {
        Some(m) => Some(Metric::parse(m).ok_or_else(|| {
            UsageError(format!("--metric: expected vmaf, psnr or ssim, got {m:?}"))
        })?),
        None => None,
    };
    let rate_control = match &c.rate_control {
        Some(r) => Some(RateControl::parse(&r.replace('-', "_"), "--rate-control")?),
        None => None,
    };
    Ok(RecipeOverrides {
        metric,
        step: c.step,
        quality_cap: c.quality_cap,
        min_quality: c.min_quality,
        min_kbps: c.min_kbps,
        max_kbps: c.max_kbps,
        max_rungs: c.max_rungs,
        min_ratio: c.min_ratio,
        max_ratio: c.max_ratio,
        min_height: c.min_height,
        rate_control,
        ..RecipeOverrides::default()
    })
}

/// The recipe: a file, else the codec's built-in one (x264 by default), with overrides applied.
pub fn recipe_for(file: Option<&Path>, codec: Option<&str>, o: &RecipeOverrides) -> Result<Recipe> {
    let mut r = match file {
        Some(p) => Recipe::from_file(p)?,
        None => Recipe::default_for(codec.unwrap_or("libx264"))?,
    };
    r.apply(o)?;
    Ok(r)
}

/// The result store unless `--no-cache`.
pub fn store_for(dir: Option<&Path>, no_cache: bool) -> Result<Option<Store>> {
    if no_cache {
        return Ok(None);
    }
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => Store::default_dir()?,
    };
    let store = Store::open(&dir)?;
    // Temporaries of a run killed mid-write (an hour is far beyond any single write); best effort.
    let _ = store.sweep_temps(std::time::Duration::from_secs(3600));
    Ok(Some(store))
}

/// Runner options from `--threads`.
pub fn run_options(threads: Option<usize>) -> Result<RunOptions> {
    if threads == Some(0) {
        return Err(UsageError("--threads: must be at least 1".into()).into());
    }
    let mut o = RunOptions {
        threads: threads.unwrap_or(0),
        ..RunOptions::default()
    };
    // reliability: a hidden override of the per-wave encoder memory budget, in bytes. Tests use
    // a tiny budget to force one point per wave (points are stored at the end of each wave), so
    // an interrupted run has stored points to resume from; users with little RAM can lower it.
    if let Some(v) = std::env::var_os("PERTITLE_MEMORY_BUDGET") {
        let v = v.to_string_lossy();
        o.memory_budget = v.trim().parse().map_err(|_| {
            UsageError(format!(
                "PERTITLE_MEMORY_BUDGET: expected a number of bytes, got {v:?}"
            ))
        })?;
    }
    Ok(o)
}
