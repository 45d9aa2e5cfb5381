//! A catalog: many titles run with one recipe through one executor, a ladder each, and a table
//! that sums them up.
//!
//! The catalog file is text: one title per line, a path relative to the file (or absolute);
//! blank lines and `#` comments (at the start of a line, or after a blank) are skipped. Titles are named by their file stems, which must
//! differ (each gets `<out>/<stem>/`).

use crate::error::{Error, Result};
use crate::media::InputOptions;
use crate::output::Summary;
use crate::run::Input;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The titles of a catalog file, in its order. Errors name the file and line.
pub fn read(file: &Path, options: &InputOptions) -> Result<Vec<Input>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut titles: Vec<Input> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        // `#` starts a comment at the start of a line or after a blank (`ep#1.mp4` is a name).
        let line = match line.trim_start().starts_with('#') {
            true => "",
            false => line
                .find(" #")
                .or_else(|| line.find("\t#"))
                .map_or(line, |i| &line[..i])
                .trim(),
        };
        if line.is_empty() {
            continue;
        }
        let at = || format!("{} line {}", file.display(), n + 1);
        let path = base.join(line);
        if !path.is_file() {
            return Err(Error::data(
                at(),
                format!("{}: no such file", path.display()),
            ));
        }
        let input = Input::File {
            path,
            options: options.clone(),
        };
        if let Some(first) = names.insert(input.title(), n + 1) {
            return Err(Error::data(
                at(),
                format!(
                    "title '{}' again (line {first}): titles are named by their file stems, which must differ",
                    input.title()
                ),
            ));
        }
        titles.push(input);
    }
    if titles.is_empty() {
        return Err(Error::data(
            file.display().to_string(),
            "lists no titles (one path per line)",
        ));
    }
    Ok(titles)
}

/// Where a catalog's outputs go: `out`, else `out/<catalog stem>/`.
pub fn out_dir(file: &Path, out: Option<&Path>) -> PathBuf {
    match out {
        Some(o) => o.to_path_buf(),
        None => PathBuf::from("out").join(
            file.file_stem()
                .map_or("catalog".into(), |s| s.to_string_lossy().into_owned()),
        ),
    }
}

/// One title's line of the catalog table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CatalogRow {
    pub title: String,
    pub path: String,
    pub frames: u64,
    pub duration_s: f64,
    pub points: usize,
    pub encoded: usize,
    pub rungs: usize,
    pub bottom_kbps: Option<u32>,
    pub top_kbps: Option<u32>,
    pub top_height: Option<u32>,
    pub top_quality: Option<f64>,
    pub output_dir: String,
}

impl CatalogRow {
    pub fn of(s: &Summary) -> CatalogRow {
        let (frames, duration_s, path) = match &s.source {
            Some(id) => (
                id.frames,
                id.frames as f64 * id.fps_den as f64 / id.fps_num.max(1) as f64,
                id.path.clone(),
            ),
            None => (0, 0.0, String::new()),
        };
        let top = s.rungs.last();
        CatalogRow {
            title: s.title.clone().unwrap_or_default(),
            path,
            frames,
            duration_s,
            points: s.points,
            encoded: s.encoded.unwrap_or(0),
            rungs: s.rungs.len(),
            bottom_kbps: s.rungs.first().map(|r| r.kbps),
            top_kbps: top.map(|r| r.kbps),
            top_height: top.map(|r| r.height),
            top_quality: top.map(|r| match s.metric {
                crate::Metric::Vmaf => r.vmaf,
                crate::Metric::PsnrY => r.psnr_y,
                crate::Metric::Ssim => r.ssim,
            }),
            output_dir: s.output_dir.clone().unwrap_or_default(),
        }
    }
}

/// Writes `catalog.json` (the rows) and `catalog.csv` into `dir`; returns the table as text.
pub fn write(dir: &Path, summaries: &[Summary]) -> Result<String> {
    crate::fsutil::ensure_dir(dir)?;
    let rows: Vec<CatalogRow> = summaries.iter().map(CatalogRow::of).collect();
    let json = serde_json::to_string_pretty(&rows)
        .map_err(|e| Error::data("catalog.json", e.to_string()))?;
    crate::fsutil::atomic_write(dir.join("catalog.json"), format!("{json}\n").as_bytes())?;
    let opt = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
    let mut csv = String::from(
        "title,path,frames,duration_s,points,encoded,rungs,bottom_kbps,top_kbps,top_height,top_quality,output_dir\n",
    );
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{},{:.3},{},{},{},{},{},{},{},{}\n",
            quote(&r.title),
            quote(&r.path),
            r.frames,
            r.duration_s,
            r.points,
            r.encoded,
            r.rungs,
            opt(r.bottom_kbps),
            opt(r.top_kbps),
            opt(r.top_height),
            r.top_quality.map_or(String::new(), |q| format!("{q:.3}")),
            quote(&r.output_dir)
        ));
    }
    crate::fsutil::atomic_write(dir.join("catalog.csv"), csv.as_bytes())?;
    let mut t = format!(
        "{:<24} {:>9} {:>6} {:>5} {:>12} {:>10} {:>8}\n",
        "title", "duration", "points", "rungs", "bottom kbps", "top kbps", "top q"
    );
    for r in &rows {
        t.push_str(&format!(
            "{:<24} {:>8.1}s {:>6} {:>5} {:>12} {:>10} {:>8}\n",
            r.title,
            r.duration_s,
            r.points,
            r.rungs,
            opt(r.bottom_kbps),
            opt(r.top_kbps),
            r.top_quality.map_or("-".into(), |q| format!("{q:.2}"))
        ));
    }
    Ok(t)
}
