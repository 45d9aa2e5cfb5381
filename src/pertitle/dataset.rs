//! A subjective dataset: reference videos, distorted versions of them and the opinion scores
//! viewers gave those, as the VMAF Development Kit's dataset files describe them. `features`,
//! `train` and `eval` read one.
//!
//! The file is TOML (`.toml`) or JSON (`.json`) with the same fields; paths are relative to the
//! file's directory:
//!
//! ```toml
//! name = "lab-2026"                 # optional; names the set in reports
//! raw = { size = "1920x1080", pix_fmt = "yuv420p", fps = "24" }   # optional: how to read .yuv
//!
//! [[reference]]
//! content = "forest"                # content id: one per reference
//! path = "ref/forest.y4m"
//!
//! [[distorted]]
//! content = "forest"                # which reference it is a version of
//! path = "dis/forest_crf30.mp4"
//! mos = 71.2                        # or dmos = ...; or only observers = [...]
//! observers = [70, 75, 68, 72]      # optional per-viewer scores
//! std = 2.9                         # optional; from observers when they are given
//! ```
//!
//! Every video is any input the media layer reads; `raw` (on the dataset, or on one video to
//! override it) says the size, pixel format and rate of `.yuv` files. A distorted video of
//! another size than its reference is upscaled to it (bicubic, as VMAF is defined) when scored.

use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a raw `.yuv` file is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct RawLayout {
    pub size: Option<(usize, usize)>,
    pub pix_fmt: Option<String>,
    pub fps: Option<(u32, u32)>,
}

/// Which kind of opinion score the dataset gives (all its videos give the same kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// Mean opinion score: higher is better.
    Mos,
    /// Differential mean opinion score: lower is better.
    Dmos,
}

impl std::fmt::Display for ScoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreKind::Mos => "MOS",
            ScoreKind::Dmos => "DMOS",
        })
    }
}

/// What viewers said of one distorted video.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Opinion {
    /// The MOS or DMOS (the mean of `observers` when only they are given).
    pub score: f64,
    /// Per-viewer scores, when the dataset has them.
    pub observers: Vec<f64>,
    /// Their standard deviation (given, or the sample standard deviation of `observers`).
    pub std: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub content: String,
    pub path: PathBuf,
    pub raw: RawLayout,
}

/// One distorted video and its opinion.
#[derive(Debug, Clone, PartialEq)]
pub struct Distorted {
    /// Index into [`Dataset::references`].
    pub reference: usize,
    pub path: PathBuf,
    pub raw: RawLayout,
    pub opinion: Opinion,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    pub kind: ScoreKind,
    pub references: Vec<Reference>,
    pub distorted: Vec<Distorted>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaw {
    size: Option<String>,
    pix_fmt: Option<String>,
    fps: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRef {
    content: String,
    path: PathBuf,
    raw: Option<FileRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDis {
    content: String,
    path: PathBuf,
    mos: Option<f64>,
    dmos: Option<f64>,
    observers: Option<Vec<f64>>,
    std: Option<f64>,
    raw: Option<FileRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    raw: Option<FileRaw>,
    #[serde(default)]
    reference: Vec<FileRef>,
    #[serde(default)]
    distorted: Vec<FileDis>,
}

impl Dataset {
    /// Reads and checks a dataset file: every video exists, every distorted video names a
    /// reference and has one finite score of the dataset's kind.
    pub fn load(path: &Path) -> Result<Dataset> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let shown = path.display().to_string();
        let file: File = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text)
                .map_err(|e| Error::data(&shown, format!("not a dataset: {e}")))?,
            Some("toml") => toml::from_str(&text).map_err(|e| {
                Error::data(
                    &shown,
                    format!("not a dataset: {}", one_line(&e.to_string())),
                )
            })?,
            _ => {
                return Err(Error::data(
                    &shown,
                    "a dataset file is .toml or .json".to_string(),
                ))
            }
        };
        Dataset::from_file(path, file)
    }

    fn from_file(path: &Path, file: File) -> Result<Dataset> {
        let shown = path.display().to_string();
        let bad = |what: String, msg: String| Error::data(format!("{shown}: {what}"), msg);
        let dir = path.parent().unwrap_or(Path::new("."));
        let default_raw = match &file.raw {
            Some(r) => layout(r).map_err(|m| bad("raw".into(), m))?,
            None => RawLayout::default(),
        };
        let video = |what: &str, p: &Path| -> Result<PathBuf> {
            let full = dir.join(p);
            if !full.is_file() {
                return Err(bad(
                    what.to_string(),
                    format!("{} does not exist or is not a file", full.display()),
                ));
            }
            Ok(full)
        };
        if file.reference.is_empty() {
            return Err(bad("reference".into(), "no reference videos".into()));
        }
        if file.distorted.is_empty() {
            return Err(bad("distorted".into(), "no distorted videos".into()));
        }
        let mut by_content = BTreeMap::new();
        let mut references = Vec::new();
        for (i, r) in file.reference.iter().enumerate() {
            let what = format!("reference[{i}]");
            if r.content.trim().is_empty() {
                return Err(bad(what, "content is empty".into()));
            }
            if by_content.insert(r.content.clone(), i).is_some() {
                return Err(bad(
                    what,
                    format!("content {:?} has another reference already", r.content),
                ));
            }
            let raw = match &r.raw {
                Some(raw) => layout(raw).map_err(|m| bad(format!("{what}.raw"), m))?,
                None => default_raw.clone(),
            };
            references.push(Reference {
                content: r.content.clone(),
                path: video(&what, &r.path)?,
                raw,
            });
        }
        let mut kind = None;
        let mut distorted = Vec::new();
        for (i, d) in file.distorted.iter().enumerate() {
            let what = format!("distorted[{i}] ({})", d.path.display());
            let reference = *by_content.get(&d.content).ok_or_else(|| {
                bad(
                    what.clone(),
                    format!("content {:?} has no reference", d.content),
                )
            })?;
            let (k, given) = match (d.mos, d.dmos) {
                (Some(_), Some(_)) => {
                    return Err(bad(what, "give mos or dmos, not both".into()));
                }
                (Some(v), None) => (Some(ScoreKind::Mos), Some(v)),
                (None, Some(v)) => (Some(ScoreKind::Dmos), Some(v)),
                (None, None) => (None, None),
            };
            let observers = d.observers.clone().unwrap_or_default();
            if let Some(j) = observers.iter().position(|v| !v.is_finite()) {
                return Err(bad(what, format!("observers[{j}] is not a number")));
            }
            let score = match (given, observers.is_empty()) {
                (Some(v), _) if !v.is_finite() => {
                    return Err(bad(what, "its score is not a number".into()));
                }
                (Some(v), _) => v,
                (None, false) => observers.iter().sum::<f64>() / observers.len() as f64,
                (None, true) => {
                    return Err(bad(
                        what,
                        "no opinion score (mos, dmos or observers)".into(),
                    ))
                }
            };
            // Observers alone are raw opinion: their mean is a MOS.
            let k = k.unwrap_or(ScoreKind::Mos);
            match kind {
                None => kind = Some(k),
                Some(prev) if prev != k => {
                    return Err(bad(
                        what,
                        "mixes mos and dmos with the videos before it".into(),
                    ));
                }
                Some(_) => {}
            }
            let std = match d.std {
                Some(s) if !(s.is_finite() && s >= 0.0) => {
                    return Err(bad(what, format!("std {s} is not a standard deviation")));
                }
                Some(s) => Some(s),
                None if observers.len() >= 2 => Some(sample_std(&observers)),
                None => None,
            };
            let raw = match &d.raw {
                Some(raw) => layout(raw).map_err(|m| bad(format!("{what}.raw"), m))?,
                None => default_raw.clone(),
            };
            distorted.push(Distorted {
                reference,
                path: video(&what, &d.path)?,
                raw,
                opinion: Opinion {
                    score,
                    observers,
                    std,
                },
            });
        }
        Ok(Dataset {
            name: file.name.unwrap_or_else(|| {
                path.file_stem()
                    .map_or("dataset".into(), |s| s.to_string_lossy().into_owned())
            }),
            file: path.to_path_buf(),
            kind: kind.unwrap_or(ScoreKind::Mos),
            references,
            distorted,
        })
    }

    /// The content id of distorted video `i`.
    pub fn content(&self, i: usize) -> &str {
        &self.references[self.distorted[i].reference].content
    }

    /// The distinct content ids, in the order of the references.
    pub fn contents(&self) -> Vec<&str> {
        self.references.iter().map(|r| r.content.as_str()).collect()
    }
}

fn sample_std(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn layout(r: &FileRaw) -> std::result::Result<RawLayout, String> {
    let size = match &r.size {
        None => None,
        Some(s) => {
            let (w, h) = s
                .split_once(['x', 'X'])
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                .filter(|&(w, h): &(usize, usize)| w > 0 && h > 0)
                .ok_or_else(|| format!("size {s:?} is not WxH"))?;
            Some((w, h))
        }
    };
    let fps = match &r.fps {
        None => None,
        Some(s) => {
            let (n, d) = match s.split_once('/') {
                Some((n, d)) => (n.trim().parse().ok(), d.trim().parse().ok()),
                None => (s.trim().parse().ok(), Some(1)),
            };
            match (n, d) {
                (Some(n), Some(d)) if n > 0 && d > 0 => Some((n, d)),
                _ => return Err(format!("fps {s:?} is not a rate (24, 30000/1001)")),
            }
        }
    };
    Ok(RawLayout {
        size,
        pix_fmt: r.pix_fmt.clone(),
        fps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn dir_with_videos() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in ["a.y4m", "b.y4m", "a1.mp4", "a2.mp4", "b1.mp4"] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        d
    }

    const GOOD: &str = r#"
name = "t"
[[reference]]
content = "a"
path = "a.y4m"
[[reference]]
content = "b"
path = "b.y4m"
[[distorted]]
content = "a"
path = "a1.mp4"
mos = 70.0
[[distorted]]
content = "a"
path = "a2.mp4"
observers = [60.0, 64.0, 62.0]
[[distorted]]
content = "b"
path = "b1.mp4"
mos = 40.0
std = 3.0
"#;

    #[test]
    fn reads_toml_and_json_alike() {
        let d = dir_with_videos();
        let t = Dataset::load(&write(d.path(), "set.toml", GOOD)).unwrap();
        assert_eq!(t.kind, ScoreKind::Mos);
        assert_eq!(t.distorted.len(), 3);
        assert_eq!(t.content(2), "b");
        let o = &t.distorted[1].opinion;
        assert_eq!(o.score, 62.0);
        assert_eq!(o.std, Some(2.0));
        let json = r#"{"name": "t",
            "reference": [{"content": "a", "path": "a.y4m"}, {"content": "b", "path": "b.y4m"}],
            "distorted": [{"content": "a", "path": "a1.mp4", "mos": 70.0},
                          {"content": "a", "path": "a2.mp4", "observers": [60.0, 64.0, 62.0]},
                          {"content": "b", "path": "b1.mp4", "mos": 40.0, "std": 3.0}]}"#;
        let j = Dataset::load(&write(d.path(), "set.json", json)).unwrap();
        assert_eq!(
            (j.references, j.distorted, j.kind),
            (t.references, t.distorted, t.kind)
        );
    }

    #[test]
    fn bad_datasets_say_what_is_wrong() {
        let d = dir_with_videos();
        let err = |text: &str| {
            Dataset::load(&write(d.path(), "bad.toml", text))
                .unwrap_err()
                .to_string()
        };
        let e = err(&GOOD.replace("path = \"a1.mp4\"", "path = \"gone.mp4\""));
        assert!(
            e.contains("distorted[0] (gone.mp4)") && e.contains("does not exist"),
            "{e}"
        );
        let e = err(&GOOD.replace("mos = 70.0", ""));
        assert!(e.contains("no opinion score"), "{e}");
        let e = err(&GOOD.replace("mos = 70.0", "mos = nan"));
        assert!(
            e.contains("distorted[0]") && e.contains("not a number"),
            "{e}"
        );
        let e = err(&GOOD.replace("mos = 40.0", "dmos = 40.0"));
        assert!(e.contains("mixes mos and dmos"), "{e}");
        let e = err(&GOOD.replace(
            "content = \"b\"\npath = \"b1.mp4\"",
            "content = \"c\"\npath = \"b1.mp4\"",
        ));
        assert!(e.contains("content \"c\" has no reference"), "{e}");
        let e = err(&GOOD.replace("mos = 70.0", "mos = 70.0\nsize = 3"));
        assert!(e.contains("not a dataset") && e.contains("size"), "{e}");
        let e = err("name = \"x\"\n");
        assert!(e.contains("no reference videos"), "{e}");
        let e = err(&format!("raw = {{ size = \"10by3\" }}\n{GOOD}").replace("name = \"t\"", ""));
        assert!(e.contains("raw") && e.contains("not WxH"), "{e}");
        assert!(
            e.starts_with(&d.path().join("bad.toml").display().to_string()),
            "{e}"
        );
    }
}
