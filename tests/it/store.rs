//! The result store and the content-addressed grid task: round trips, key stability, torn and
//! corrupt entries, atomic writes, concurrent writers.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use pertitle::fsutil::atomic_write;
use pertitle::grid::{
    sha256_hex, EncoderSettings, EngineSettings, Filters, FrameSelection, GridTask, RateControl,
    TaskResult, Timings,
};
use pertitle::media::ScalerKind;
use pertitle::points::Series;
use pertitle::points::SourceIdentity;
use pertitle::quality::pooling::Pooled;
use pertitle::store::{decode_entry, EntryProblem, Lookup, Store, STORE_FORMAT, STORE_VERSION};
use pertitle::Point;

use crate::support::tmpdir;

fn task() -> GridTask {
    GridTask {
        source: SourceIdentity {
            path: "/titles/demo.mp4".into(),
            width: 1280,
            height: 720,
            fps_num: 30000,
            fps_den: 1001,
            frames: 132,
            fingerprint: sha256_hex(b"demo frames"),
        },
        filters: Filters {
            width: 960,
            height: 540,
            downscaler: ScalerKind::Bicubic,
            upscaler: ScalerKind::Bicubic,
            frames: FrameSelection::default(),
            fps: None,
        },
        encoder: EncoderSettings {
            codec: "libx264".into(),
            preset: Some("medium".into()),
            pix_fmt: Some("yuv420p".into()),
            options: [("threads", "1"), ("x264-params", "keyint=60:min-keyint=60")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            build: String::new(),
        },
        rate: RateControl::Crf { crf: 24.0 },
        engine: EngineSettings {
            version: "0.1.0".into(),
            model: "vmaf_v0.6.1".into(),
            model_sha256: sha256_hex(b"{\"model_dict\": {}}"),
            phone: false,
            metrics: vec!["vmaf".into(), "psnr".into(), "ssim".into()],
        },
    }
}

/// A result with scores that need exact float parsing to read back bit-identical
/// (98.56906946328695 reads back 1 ULP off with serde_json's default parser).
fn result(task: GridTask, frames: usize) -> TaskResult {
    let vmaf: Vec<f64> = (0..frames)
        .map(|i| 98.56906946328695 - i as f64 * 0.731_234_567_891_1)
        .collect();
    let psnr: Vec<f64> = (0..frames).map(|i| 41.0 + 1.0 / (i as f64 + 3.0)).collect();
    let ssim: Vec<f64> = (0..frames)
        .map(|i| 0.98 - 1e-3 / (i as f64 + 7.0))
        .collect();
    let frame_bytes: Vec<u64> = (0..frames as u64).map(|i| 1000 + i * 37).collect();
    let bytes: u64 = frame_bytes.iter().sum();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut pooled = BTreeMap::new();
    pooled.insert(
        Series::Vmaf,
        Pooled {
            mean: mean(&vmaf),
            harmonic_mean: mean(&vmaf) - 0.0123,
            min: vmaf[frames - 1],
            max: vmaf[0],
            median: vmaf[frames / 2],
            p1: vmaf[frames - 1],
            p5: vmaf[frames - 1],
            p10: vmaf[frames - 2],
        },
    );
    let key = task.key();
    let point = Point {
        codec: task.encoder.codec.clone(),
        width: task.filters.width,
        height: task.filters.height,
        crf: 24.0,
        kbps: bytes as f64 * 8.0 / (frames as f64 * 1001.0 / 30000.0) / 1000.0,
        bytes,
        vmaf: mean(&vmaf),
        psnr_y: mean(&psnr),
        ssim: mean(&ssim),
        pooled,
        on_hull: false,
        key,
    };
    let mut scores = BTreeMap::new();
    scores.insert(Series::Vmaf, vmaf);
    scores.insert(Series::PsnrY, psnr);
    scores.insert(Series::Ssim, ssim);
    TaskResult {
        task,
        point,
        frame_bytes,
        scored_frames: (0..frames as u64).collect(),
        scores,
        timings: Timings {
            encode_s: 1.25,
            decode_s: 0.1,
            score_s: 0.5,
            total_s: 1.9,
        },
        chunks: Vec::new(),
    }
}

/// [`task`] at another CRF.
fn task_at(crf: f64) -> GridTask {
    let mut t = task();
    t.rate = RateControl::Crf { crf };
    t
}

/// A store in a fresh directory holding [`result`] of [`task`] with `frames` frames, and the
/// entry's path.
fn stored(frames: usize) -> (tempfile::TempDir, Store, TaskResult, PathBuf) {
    let d = tmpdir();
    let store = Store::open(d.path()).unwrap();
    let r = result(task(), frames);
    store.put(&r).unwrap();
    let path = store.entry_path(&r.key());
    (d, store, r, path)
}

/// Regular files below `dir`, recursively, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The canonical form and key of [`task`]. If this test fails, the canonical form (or a field
/// of `GridTask`) changed: that invalidates every user's cache (every point is recomputed once,
/// entries under the old keys are never found again). Do it only on purpose, bump
/// `TASK_KEY_SCHEMA` if the form itself changed, and update both constants. The key was checked
/// independently: `printf '%s' "$EXPECTED_CANONICAL" | sha256sum`.
const EXPECTED_CANONICAL: &str = r#"{"encoder":{"build":"","codec":"libx264","options":{"threads":"1","x264-params":"keyint=60:min-keyint=60"},"pix_fmt":"yuv420p","preset":"medium"},"engine":{"metrics":["psnr","ssim","vmaf"],"model":"vmaf_v0.6.1","model_sha256":"97da44baa0630b8b0929b2b3c7aa8feba031d44561b141dec4a36f09a60d9f64","phone":false,"version":"0.1.0"},"filters":{"downscaler":"bicubic","fps":null,"frames":{"count":null,"start":0,"subsample":1},"height":540,"upscaler":"bicubic","width":960},"rate":{"crf":24,"mode":"crf"},"schema":1,"source":{"fingerprint":"03f9726116b77ed1783c83fe18dccbabe8b8add83f8abccb28d3bba4102906e7","fps_den":1001,"fps_num":30000,"frames":132,"height":720,"width":1280}}"#;
const EXPECTED_KEY: &str = "11f7d85ccf0dad57b49f36b2a4ad87827bd0350caa95292639c8f7b9cf8b4632";

#[test]
fn key_is_stable() {
    let t = task();
    let key = t.key();
    assert_eq!(key.len(), 64);
    assert!(key
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(key, t.clone().key(), "same task, same key");
    assert_eq!(t.canonical(), EXPECTED_CANONICAL);
    assert_eq!(key, EXPECTED_KEY);
    // A task that went through JSON (another machine, the store) keeps its key.
    let back: GridTask = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back.key(), key);
}

#[test]
fn key_ignores_path_but_sees_every_parameter() {
    let base = task();
    let mut renamed = base.clone();
    renamed.source.path = "/elsewhere/renamed.mkv".into();
    assert_eq!(
        renamed.key(),
        base.key(),
        "renaming the source keeps the key"
    );

    type Change = fn(&mut GridTask);
    let changes: Vec<(&str, Change)> = vec![
        ("fingerprint", |t| {
            t.source.fingerprint = sha256_hex(b"other")
        }),
        ("source width", |t| t.source.width = 1920),
        ("source fps", |t| t.source.fps_den = 1000),
        ("source frames", |t| t.source.frames = 131),
        ("width", |t| t.filters.width = 768),
        ("height", |t| t.filters.height = 432),
        ("downscaler", |t| t.filters.downscaler = ScalerKind::Lanczos),
        ("upscaler", |t| t.filters.upscaler = ScalerKind::Bilinear),
        ("start", |t| t.filters.frames.start = 1),
        ("count", |t| t.filters.frames.count = Some(100)),
        ("subsample", |t| t.filters.frames.subsample = 2),
        ("fps", |t| t.filters.fps = Some((25, 1))),
        ("codec", |t| t.encoder.codec = "libx265".into()),
        ("preset", |t| t.encoder.preset = Some("slow".into())),
        ("no preset", |t| t.encoder.preset = None),
        ("pix_fmt", |t| {
            t.encoder.pix_fmt = Some("yuv420p10le".into())
        }),
        ("option value", |t| {
            t.encoder
                .options
                .insert("x264-params".into(), "keyint=48".into());
        }),
        ("option added", |t| {
            t.encoder.options.insert("tune".into(), "film".into());
        }),
        ("option removed", |t| {
            t.encoder.options.remove("threads");
        }),
        ("encoder build", |t| {
            t.encoder.build = "x264 core 164".into()
        }),
        ("crf", |t| t.rate = RateControl::Crf { crf: 24.5 }),
        ("qp", |t| t.rate = RateControl::Qp { qp: 24 }),
        ("bitrate", |t| {
            t.rate = RateControl::Bitrate {
                kbps: 24,
                maxrate_kbps: None,
                bufsize_kbits: None,
            }
        }),
        ("version", |t| t.engine.version = "0.2.0".into()),
        ("model", |t| t.engine.model = "vmaf_v0.6.1neg".into()),
        ("model content", |t| {
            t.engine.model_sha256 = sha256_hex(b"edited")
        }),
        ("phone", |t| t.engine.phone = true),
        ("metrics", |t| t.engine.metrics.retain(|m| m != "ssim")),
    ];
    let mut seen = HashSet::new();
    seen.insert(base.key());
    for (what, change) in &changes {
        let mut t = base.clone();
        change(&mut t);
        assert!(seen.insert(t.key()), "changing {what} must change the key");
    }
    assert_eq!(seen.len(), changes.len() + 1);
}

#[test]
fn round_trip_is_exact_and_readable() {
    let d = tmpdir();
    let store = Store::open(d.path().join("cache")).unwrap();
    let r = result(task(), 12);
    let key = r.key();
    assert_eq!(store.get(&key).unwrap(), None);
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Miss);
    store.put(&r).unwrap();
    let back = store.get(&key).unwrap().expect("hit");
    assert_eq!(back, r);
    // Bit-identical floats, not merely close ones.
    for (m, v) in &r.scores {
        let bits: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
        let got: Vec<u64> = back.scores[m].iter().map(|x| x.to_bits()).collect();
        assert_eq!(bits, got, "{m}");
    }
    assert_eq!(back.point.vmaf.to_bits(), r.point.vmaf.to_bits());

    // Layout: <dir>/<key[0..2]>/<key>.json, nothing else.
    let path = d
        .path()
        .join("cache")
        .join(&key[..2])
        .join(format!("{key}.json"));
    assert_eq!(store.entry_path(&key), path);
    assert_eq!(files(&d.path().join("cache")), vec![path.clone()]);
    // Readable pretty JSON with the documented header.
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\n  \"format\""), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], STORE_FORMAT);
    assert_eq!(v["version"], STORE_VERSION);
    assert_eq!(v["key"], key.as_str());
    assert!(v["checksum"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["payload"]["point"]["width"], 960);
    assert_eq!(v["payload"]["task"]["encoder"]["codec"], "libx264");

    // Overwriting is fine and a second handle on the same directory sees the entry.
    store.put(&r).unwrap();
    let again = Store::open(d.path().join("cache")).unwrap();
    assert_eq!(again.get(&key).unwrap(), Some(r));
    assert_eq!(store.corrupt_count() + again.corrupt_count(), 0);
}

#[test]
fn torn_and_altered_entries_are_never_trusted() {
    let (_d, store, r, path) = stored(5);
    let key = r.key();
    let good = fs::read(&path).unwrap();

    let is_corrupt = |store: &Store| matches!(store.lookup(&key).unwrap(), Lookup::Corrupt { .. });
    // Torn writes, through the disk (a sample of lengths: each rewrite costs an fsync-like
    // flush here) and exhaustively in memory.
    for len in (0..good.len()).step_by(97).chain([good.len() - 1]) {
        fs::write(&path, &good[..len]).unwrap();
        assert!(is_corrupt(&store), "truncated to {len} bytes was trusted");
    }
    for len in 0..good.len() {
        match decode_entry(&key, &good[..len]) {
            Err(EntryProblem::Corrupt(_)) => {}
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
    // Every single-bit flip anywhere in the file: never trusted (a flip in the version digit
    // makes it another version's entry, also not trusted).
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 1;
        if decode_entry(&key, &bad).is_ok() {
            panic!("flip at byte {i} ({:?}) was trusted", good[i] as char);
        }
        if i % 101 == 0 {
            fs::write(&path, &bad).unwrap();
            assert!(
                !matches!(store.lookup(&key).unwrap(), Lookup::Hit(_) | Lookup::Miss),
                "flip at byte {i} through the disk"
            );
        }
    }
    assert!(decode_entry(&key, &good).is_ok());
    // A changed score digit with a recomputed-looking layout: caught by the checksum.
    let text = String::from_utf8(good.clone()).unwrap();
    let altered = text.replacen("98.56906946328695", "99.56906946328695", 1);
    assert_ne!(altered, text);
    fs::write(&path, &altered).unwrap();
    match store.lookup(&key).unwrap() {
        Lookup::Corrupt { path: p, reason } => {
            assert_eq!(p, path);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Another entry copied under this key.
    let other = result(task_at(30.0), 5);
    store.put(&other).unwrap();
    fs::copy(store.entry_path(&other.key()), &path).unwrap();
    assert!(is_corrupt(&store));
    // get reports a miss and the counter says how many to recompute.
    let before = store.corrupt_count();
    assert_eq!(store.get(&key).unwrap(), None);
    assert_eq!(store.corrupt_count(), before + 1);
    assert!(before + store.incompatible_count() >= (good.len() / 101) as u64);
    // Recomputing (put) repairs it.
    store.put(&r).unwrap();
    assert_eq!(store.get(&key).unwrap(), Some(r));
}

/// An entry that is intact on disk but whose task no longer hashes to its key (the canonical
/// form changed, or someone edited it and fixed the checksum) is not trusted either.
#[test]
fn entry_whose_task_rehashes_elsewhere_is_corrupt() {
    let (_d, store, r, path) = stored(3);
    let text = fs::read_to_string(&path).unwrap();
    let start = text.find("\n  \"payload\": ").unwrap() + "\n  \"payload\": ".len();
    let end = text.len() - "\n}\n".len();
    let payload =
        text[start..end].replacen("\"upscaler\": \"bicubic\"", "\"upscaler\": \"lanczos\"", 1);
    assert_ne!(payload, &text[start..end]);
    let old_sum = pertitle::store::payload_checksum(&text[start..end]);
    let forged = format!(
        "{}{}{}",
        &text[..start].replace(&old_sum, &pertitle::store::payload_checksum(&payload)),
        payload,
        &text[end..]
    );
    fs::write(&path, forged).unwrap();
    match store.lookup(&r.key()).unwrap() {
        Lookup::Corrupt { reason, .. } => assert!(reason.contains("hashes to"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_versions_are_ignored() {
    let (_d, store, r, path) = stored(3);
    let text = fs::read_to_string(&path).unwrap();
    let newer = text.replacen(
        &format!("\"version\": {STORE_VERSION},"),
        &format!("\"version\": {},", STORE_VERSION + 1),
        1,
    );
    fs::write(&path, newer).unwrap();
    assert_eq!(
        store.lookup(&r.key()).unwrap(),
        Lookup::Incompatible {
            path,
            version: STORE_VERSION + 1
        }
    );
    assert_eq!(store.get(&r.key()).unwrap(), None);
    assert_eq!(store.incompatible_count(), 2);
    assert_eq!(store.corrupt_count(), 0);
}

#[test]
fn bad_keys_and_bad_results_are_refused() {
    let d = tmpdir();
    let store = Store::open(d.path()).unwrap();
    for key in ["", "../../etc/passwd", &"A".repeat(64), &"a".repeat(63)] {
        let e = store.get(key).unwrap_err().to_string();
        assert!(e.contains("store key"), "{e}");
    }
    // NaN cannot be stored in JSON: refused, nothing written.
    let mut r = result(task(), 4);
    r.scores.get_mut(&Series::Vmaf).unwrap()[2] = f64::NAN;
    let e = store.put(&r).unwrap_err().to_string();
    assert!(e.contains(&r.key()), "{e}");
    // Inconsistent result: per-frame sizes that do not add up.
    let mut r = result(task(), 4);
    r.point.bytes += 1;
    let e = store.put(&r).unwrap_err().to_string();
    assert!(e.contains("frame sizes"), "{e}");
    let mut r = result(task(), 4);
    r.point.key = "f".repeat(64);
    assert!(store.put(&r).is_err());
    assert!(files(d.path()).is_empty(), "{:?}", files(d.path()));
}

#[test]
fn concurrent_puts_from_threads() {
    let d = tmpdir();
    let store = Store::open(d.path()).unwrap();
    let results: Vec<TaskResult> = (0..6)
        .map(|i| result(task_at(18.0 + 4.0 * i as f64), 8))
        .collect();
    std::thread::scope(|s| {
        for th in 0..8 {
            let store = &store;
            let results = &results;
            s.spawn(move || {
                for round in 0..10 {
                    for (i, r) in results.iter().enumerate() {
                        if (i + th + round) % 2 == 0 {
                            store.put(r).unwrap();
                        } else if let Some(got) = store.get(&r.key()).unwrap() {
                            // A reader racing the writers sees a whole entry or none.
                            assert_eq!(&got, r);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(store.corrupt_count(), 0);
    for r in &results {
        assert_eq!(store.get(&r.key()).unwrap().as_ref(), Some(r));
    }
    // Exactly one file per entry: no temporaries left behind.
    let mut expect: Vec<PathBuf> = results.iter().map(|r| store.entry_path(&r.key())).collect();
    expect.sort();
    assert_eq!(files(d.path()), expect);
}

#[test]
fn atomic_write_leaves_nothing_on_error() {
    let d = tmpdir();
    let file = d.path().join("plain.txt");
    fs::write(&file, b"keep").unwrap();
    // A path below a regular file (ENOTDIR; fails even as root).
    let target = file.join("out.json");
    let e = atomic_write(&target, b"data").unwrap_err().to_string();
    assert!(e.contains("plain.txt/out.json"), "{e}");
    // A directory that does not exist.
    let target = d.path().join("missing").join("out.json");
    let e = atomic_write(&target, b"data").unwrap_err().to_string();
    assert!(e.contains("missing/out.json"), "{e}");
    assert_eq!(files(d.path()), vec![file.clone()]);
    assert_eq!(fs::read(&file).unwrap(), b"keep");
    // The store reports an unusable directory by name.
    let e = Store::open(file.join("cache")).unwrap_err().to_string();
    assert!(e.contains("plain.txt/cache"), "{e}");
    let e = Store::open(&file).unwrap_err().to_string();
    assert!(
        e.contains("plain.txt") && e.contains("not a directory"),
        "{e}"
    );
}

#[test]
fn default_dir_follows_the_environment() {
    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }
    let all = [
        ("PERTITLE_CACHE", "/c/p"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(
        Store::default_dir_from(env(&all)).unwrap(),
        Path::new("/c/p")
    );
    let no_pc = [
        ("PERTITLE_CACHE", ""),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(
        Store::default_dir_from(env(&no_pc)).unwrap(),
        Path::new("/x/pertitle")
    );
    let rel_xdg = [("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
    assert_eq!(
        Store::default_dir_from(env(&rel_xdg)).unwrap(),
        Path::new("/h/.cache/pertitle")
    );
    let e = Store::default_dir_from(env(&[])).unwrap_err().to_string();
    assert!(e.contains("cache directory") && e.contains("HOME"), "{e}");
}
