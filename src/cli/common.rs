//! Helpers shared by the commands: input options, recipe overrides, store and runner options.

use super::args::{ConstraintArgs, GridArgs, RawArgs};
use super::UsageError;
use anyhow::Result;
use pertitle::media::InputOptions;
use pertitle::pipeline::RunOptions;
use pertitle::recipe::{Recipe, RecipeOverrides, DEFAULT_CODEC};
use pertitle::store::Store;
use std::path::Path;

/// The media layer's input options from the raw-input flags.
pub fn input_options(raw: &RawArgs, allow_decode_errors: bool) -> InputOptions {
    InputOptions {
        size: raw.size,
        pix_fmt: raw.pix_fmt.clone(),
        fps: raw.fps,
        allow_decode_errors,
        decode_threads: None,
    }
}

/// Recipe overrides from the command line; values are validated by the recipe.
pub fn overrides(g: &GridArgs, c: &ConstraintArgs) -> RecipeOverrides {
    RecipeOverrides {
        codec: g.codec.clone(),
        preset: g.preset.clone(),
        sizes: g.sizes.clone(),
        crf: g.crf.clone(),
        fps_cap: g.fps_cap,
        chunking: g.no_chunks.then_some(false),
        sample: g.sample.then_some(true),
        ..constraint_overrides(c)
    }
}

/// Ladder-constraint overrides (shared with `hull`).
pub fn constraint_overrides(c: &ConstraintArgs) -> RecipeOverrides {
    RecipeOverrides {
        metric: c.metric,
        step: c.step,
        quality_cap: c.quality_cap,
        min_quality: c.min_quality,
        min_kbps: c.min_kbps,
        max_kbps: c.max_kbps,
        max_rungs: c.max_rungs,
        min_ratio: c.min_ratio,
        max_ratio: c.max_ratio,
        min_height: c.min_height,
        required_heights: c.required_heights.clone(),
        rate_control: c.rate_control.map(Into::into),
        ..RecipeOverrides::default()
    }
}

/// The recipe: a file, else the codec's built-in one (x264 by default), with overrides applied.
pub fn recipe_for(file: Option<&Path>, codec: Option<&str>, o: &RecipeOverrides) -> Result<Recipe> {
    let mut r = match file {
        Some(p) => Recipe::from_file(p)?,
        None => Recipe::default_for(codec.unwrap_or(DEFAULT_CODEC))?,
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

/// Runner options from `--threads` (at least 1, or absent: clap checks).
pub fn run_options(threads: Option<usize>) -> Result<RunOptions> {
    let mut o = RunOptions {
        threads: threads.unwrap_or(0),
        ..RunOptions::default()
    };
    // A hidden override of the per-wave encoder memory budget, in bytes. Tests use
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

/// The title a command reads: the demo when none is given; `-` is stdin, copied to
/// `<spool_dir>/stdin.y4m` (or `stdin.media` for anything else FFmpeg probes) first, because
/// a run reads its source several times (identify pass, lanes, two-pass encodes). The copy is
/// written under a temporary name and renamed when complete.
pub fn title_input(
    path: Option<&std::path::Path>,
    options: pertitle::media::InputOptions,
    spool_dir: &std::path::Path,
) -> Result<pertitle::run::Input> {
    use pertitle::run::Input;
    use std::io::{IsTerminal, Read, Write};
    let Some(p) = path else {
        return Ok(Input::Demo);
    };
    if p.as_os_str() != "-" {
        return Ok(Input::File {
            path: p.to_path_buf(),
            options,
        });
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(UsageError(
            "input `-` reads the title from stdin, but stdin is a terminal; pipe a file in".into(),
        )
        .into());
    }
    pertitle::fsutil::ensure_dir(spool_dir)?;
    let tmp = spool_dir.join(".stdin.partial");
    let mut head = [0u8; 9];
    let mut lock = stdin.lock();
    let mut n = 0;
    while n < head.len() {
        match lock.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(pertitle::Error::io("stdin", e).into()),
        }
    }
    let name = if head[..n].starts_with(b"YUV4MPEG2") {
        "stdin.y4m"
    } else {
        "stdin.media"
    };
    let copy = (|| -> std::io::Result<u64> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&head[..n])?;
        let rest = std::io::copy(&mut lock, &mut f)?;
        f.sync_all()?;
        Ok(rest + n as u64)
    })();
    match copy {
        Ok(0) => {
            let _ = std::fs::remove_file(&tmp);
            Err(pertitle::Error::data("stdin", "is empty: no title to read").into())
        }
        Ok(_) => {
            let path = spool_dir.join(name);
            std::fs::rename(&tmp, &path).map_err(|e| pertitle::Error::io(&path, e))?;
            Ok(Input::File { path, options })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(pertitle::Error::io(&tmp, e).into())
        }
    }
}
