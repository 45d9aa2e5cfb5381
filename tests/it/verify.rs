//! Verified rungs: two-pass and capped-CRF encodes as grid tasks (deterministic, near their
//! target, kept in the store), `LadderRun::verify` with refinement, the test encodes' keyframe
//! policy, and the CLI's `--verify/--refine` output and plain progress lines.

use pertitle::grid::GridTask;
use pertitle::media::RateControl;
use pertitle::pipeline::{self, RunOptions};
use pertitle::recipe::{Recipe, RecipeOverrides, Size};
use pertitle::run::{self, Input, LadderRun, TaskTemplate};
use pertitle::store::Store;
use pertitle::verify::VerifyOptions;
use std::path::Path;

use crate::support;

/// Camera motion, texture and grain (a scrolling test pattern with noise), 320x180, 24 fps.
const GRAPH: &str =
    "testsrc2=size=320x180:rate=24,scroll=horizontal=0.01,noise=alls=10:allf=t+u:all_seed=5";

/// `pertitle ladder CLIP` on a small grid (2 sizes × 3 CRFs, veryfast, a 40-kbps floor) with
/// `extra` flags.
fn small_ladder(clip: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ladder",
        clip.to_str().unwrap(),
        "--sizes",
        "320x180,192x108",
        "--crf",
        "24,32,40",
        "--preset",
        "veryfast",
        "--min-kbps",
        "40",
    ];
    args.extend(extra);
    support::run(&args)
}

fn clip(dir: &Path, frames: u64) -> Input {
    support::file_input(&support::lavfi_y4m(
        dir,
        "clip.y4m",
        GRAPH,
        (320, 180),
        frames,
    ))
}

fn recipe(codec: &str) -> Recipe {
    let mut r = Recipe::default_for(codec).expect("recipe");
    let preset = match codec {
        "libx264" | "libx265" => Some("veryfast".to_string()),
        _ => None,
    };
    r.apply(&RecipeOverrides {
        preset,
        sizes: Some(vec![Size::new(320, 180), Size::new(192, 108)]),
        crf: Some(match codec {
            "libvpx-vp9" => vec![28.0, 36.0, 44.0, 52.0],
            _ => vec![22.0, 28.0, 34.0, 40.0],
        }),
        ..RecipeOverrides::default()
    })
    .expect("overrides");
    r.chunking.enabled = false;
    r.ladder.min_kbps = Some(30.0);
    r
}

fn template(input: &Input, recipe: &Recipe) -> (TaskTemplate, pertitle::quality::Engine) {
    let source = run::identify(input, None).expect("identify").identity;
    let (engine, settings) = run::engine_for(recipe, 2).expect("engine");
    (TaskTemplate::new(recipe, &source, &settings), engine)
}

fn run_tasks(
    input: &Input,
    tasks: &[GridTask],
    engine: &pertitle::quality::Engine,
    store: Option<&Store>,
) -> Vec<pertitle::grid::TaskResult> {
    pipeline::run(
        tasks,
        &|| input.open(),
        engine,
        store,
        &RunOptions::default(),
        &|_| true,
    )
    .expect("run")
}

/// Two-pass encodes through each way an encoder keeps its first pass's statistics (x264's
/// file option, x265's params, libvpx's context): the bitrate lands near the target, the same
/// task twice gives the same bytes, and the peak over the VBV cap's window stays bounded.
#[test]
fn two_pass_tasks_hit_their_target_and_repeat_exactly() {
    let t = support::tmpdir();
    let input = clip(t.path(), 72);
    for codec in ["libx264", "libx265", "libvpx-vp9"] {
        let r = recipe(codec);
        let (tpl, engine) = template(&input, &r);
        let tasks: Vec<GridTask> = [150u32, 400]
            .iter()
            .map(|&kbps| {
                tpl.rate_task(
                    Size::new(320, 180),
                    RateControl::TwoPass {
                        kbps,
                        maxrate_kbps: 2 * kbps,
                        bufsize_kbits: 2 * kbps,
                    },
                )
            })
            .collect();
        let a = run_tasks(&input, &tasks, &engine, None);
        let b = run_tasks(&input, &tasks, &engine, None);
        for ((x, y), kbps) in a.iter().zip(&b).zip([150.0, 400.0]) {
            assert_eq!(x.frame_bytes, y.frame_bytes, "{codec} {kbps}: bytes differ");
            assert_eq!(x.point.vmaf, y.point.vmaf);
            let got = x.point.kbps;
            assert!(
                (got / kbps - 1.0).abs() < 0.2,
                "{codec}: {got:.1} kbps for a {kbps} kbps target"
            );
            assert!(x.point.crf.is_nan(), "a two-pass point has no CRF");
        }
        assert!(
            a[1].point.vmaf > a[0].point.vmaf,
            "{codec}: more bits, better quality"
        );
    }
}

/// The test encodes follow the ladder's keyframe policy: an IDR exactly every keyint frames
/// (scene-cut keyframes off), as the rungs' commands ask.
#[test]
fn test_encodes_use_the_rungs_keyframe_interval() {
    use pertitle::media::{Decoder, Encoder, EncoderConfig, Scaler, ScalerKind};
    let t = support::tmpdir();
    let input = clip(t.path(), 60);
    let mut r = recipe("libx264");
    r.ladder.keyint_seconds = 0.5; // 12 frames at 24 fps
    let (tpl, _) = template(&input, &r);
    let task = tpl.task(Size::new(192, 108), 28.0);
    assert_eq!(
        task.encoder.options.get("g").map(String::as_str),
        Some("12")
    );
    assert_eq!(
        task.encoder.options.get("sc_threshold").map(String::as_str),
        Some("0")
    );
    // Encode with those options and look at the keyframes.
    let frames = support::collect(input.open().unwrap());
    let mut down = Scaler::new(frames[0].format, 192, 108, ScalerKind::Bicubic).unwrap();
    let mut cfg = EncoderConfig::crf("libx264", down.dst_format(), (24, 1), 28.0);
    cfg.gop = Some(12);
    cfg.options = task
        .encoder
        .options
        .iter()
        .filter(|(k, _)| k.as_str() != "g")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut packets = Vec::new();
    for f in &frames {
        packets.extend(enc.encode(&down.scale(f).unwrap()).unwrap());
    }
    packets.extend(enc.finish().unwrap());
    let _ = Decoder::new(&enc.stream_params()).unwrap();
    let mut keys: Vec<i64> = packets
        .iter()
        .filter(|p| p.keyframe)
        .map(|p| p.pts)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![0, 12, 24, 36, 48],
        "keyframes every 12 frames only"
    );
}

/// `LadderRun::verify` with refinement: every rung gets its verified figures; each lands within
/// the tolerance of its predicted quality or is named in a warning; refined rungs' commands
/// carry the new bitrate; the verified encodes are store tasks (a second run encodes nothing
/// and writes the same ladder).
#[test]
fn verify_and_refine_a_ladder() {
    let t = support::tmpdir();
    let input = clip(t.path(), 48);
    let store = Store::open(t.path().join("store")).unwrap();
    let r = recipe("libx264");
    let opts = VerifyOptions {
        refine: true,
        ..VerifyOptions::default()
    };
    let out = LadderRun::new(&input, &r)
        .store(Some(&store))
        .verify(Some(opts.clone()))
        .run(&|_| true)
        .expect("run");
    let l = &out.ladder;
    assert!(l.rungs.len() >= 2, "{} rungs", l.rungs.len());
    for (i, rung) in l.rungs.iter().enumerate() {
        let v = rung.verified.as_ref().expect("every rung verified");
        assert!(v.encodes >= 1 && v.encodes <= opts.max_encodes);
        assert!(
            (v.vmaf - v.error - rung.vmaf).abs() < 1e-2,
            "error = achieved − predicted"
        );
        assert!(
            v.peak_kbps >= v.kbps * 0.99,
            "peak {} avg {}",
            v.peak_kbps,
            v.kbps
        );
        if v.error.abs() > opts.tolerance {
            assert!(
                l.warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("rung {} ", i + 1))),
                "rung {} misses by {} without a warning: {:?}",
                i + 1,
                v.error,
                l.warnings
            );
        }
        if v.predicted_setting.is_some() {
            assert!(rung.ffmpeg[1].contains(&format!("-b:v {}k", rung.kbps)));
            assert!(rung.output.contains(&format!("_{}k.", rung.kbps)));
        }
        assert!(rung.ffmpeg[0].contains("-threads 1"));
    }
    let within = l
        .rungs
        .iter()
        .filter(|r| r.verified.as_ref().unwrap().error.abs() <= opts.tolerance)
        .count();
    assert!(
        within * 2 >= l.rungs.len(),
        "most rungs refine into the tolerance: {:?}",
        l.rungs
            .iter()
            .map(|r| r.verified.clone())
            .collect::<Vec<_>>()
    );
    let again = LadderRun::new(&input, &r)
        .store(Some(&store))
        .verify(Some(opts))
        .run(&|_| true)
        .expect("rerun");
    assert_eq!(
        again.encoded, 0,
        "everything, verified encodes included, from the store"
    );
    assert_eq!(again.ladder.to_toml().unwrap(), l.to_toml().unwrap());
}

/// The command line: `--refine` prints the achieved columns and writes them into ladder.toml
/// and the report; with stderr not a terminal, progress comes as plain lines; `--refine` with a
/// batch executor and a bad `--tolerance` are usage errors.
#[test]
fn cli_verify_output_and_plain_progress() {
    let t = support::tmpdir();
    let path = support::lavfi_y4m(t.path(), "clip.y4m", GRAPH, (320, 180), 48);
    let out = t.path().join("out");
    let o = small_ladder(
        &path,
        &[
            "--refine",
            "--cache",
            t.path().join("store").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (so, se) = (support::stdout(&o), support::stderr(&o));
    assert!(o.status.success(), "{se}");
    assert!(so.contains("got kbps") && so.contains("error"), "{so}");
    assert!(
        se.contains("grid: ") && se.contains(" tasks"),
        "plain progress: {se}"
    );
    let toml = std::fs::read_to_string(out.join("ladder.toml")).unwrap();
    assert!(toml.contains("[rungs.verified]"), "{toml}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let ladder_at = md.find("## Ladder").expect("ladder section");
    let grid_at = md.find("## Grid results").expect("grid section");
    assert!(ladder_at < grid_at, "the ladder comes first in the report");
    assert!(md.contains("Verified: predicted vs achieved") && md.contains("```sh"));

    for (args, needle) in [
        (
            vec!["--refine", "--executor", "slurm", "--detach"],
            "--verify/--refine",
        ),
        (
            vec!["--verify", "--executor", "manifest"],
            "--verify/--refine",
        ),
        (vec!["--verify", "--tolerance", "0"], "--tolerance"),
        (vec!["--verify", "--tolerance", "x"], "--tolerance"),
    ] {
        let mut a = vec!["ladder", path.to_str().unwrap()];
        a.extend(args);
        let o = support::run(&a);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", support::stderr(&o));
        assert!(
            support::stderr(&o).contains(needle),
            "{}",
            support::stderr(&o)
        );
    }
}

/// `pertitle encode` and `pertitle verify` on a written ladder.toml: the rung files are the
/// verified encodes' bytes (same bitrates to the bit), HLS and DASH are written and read back,
/// `verify` reproduces the verified figures from the store and, without it, by encoding again;
/// a non-empty package directory, another source and a ladder without its recipe are errors
/// that name them.
#[test]
fn cli_encode_package_and_verify_a_ladder_file() {
    let t = support::tmpdir();
    let clip = support::lavfi_y4m(t.path(), "clip.y4m", GRAPH, (320, 180), 48);
    let store = t.path().join("store");
    let out = t.path().join("out");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = small_ladder(
        &clip,
        &["--verify", "--cache", &s(&store), "--out", &s(&out)],
    );
    assert!(o.status.success(), "{}", support::stderr(&o));
    let file = out.join("ladder.toml");
    let ladder = pertitle::ladder::Ladder::from_file(&file).unwrap();

    let (hls, dash, rend) = (
        t.path().join("hls"),
        t.path().join("dash"),
        t.path().join("r"),
    );
    let o = support::run(&[
        "encode",
        &s(&file),
        "--out",
        &s(&rend),
        "--hls",
        &s(&hls),
        "--dash",
        &s(&dash),
        "--cache",
        &s(&store),
    ]);
    let (so, se) = (support::stdout(&o), support::stderr(&o));
    assert!(o.status.success(), "{se}");
    for (i, r) in ladder.rungs.iter().enumerate() {
        assert!(rend.join(&r.output).is_file());
        let v = r.verified.as_ref().unwrap();
        let line = format!(
            "encoded rung {}: {} ({:.1} kbps",
            i + 1,
            rend.join(&r.output).display(),
            v.kbps
        );
        assert!(se.contains(&line), "{line} not in {se}");
    }
    assert!(so.contains("HLS: ") && so.contains("DASH: "), "{so}");
    let master = std::fs::read_to_string(hls.join("master.m3u8")).unwrap();
    let variants: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    assert_eq!(variants.len(), ladder.rungs.len(), "{master}");
    let attr = |l: &str, k: &str| -> u64 {
        let v = l.split(&format!("{k}=")).nth(1).unwrap();
        v.split(',').next().unwrap().parse().unwrap()
    };
    for v in &variants {
        assert!(attr(v, "BANDWIDTH") >= attr(v, "AVERAGE-BANDWIDTH"), "{v}");
        assert!(
            v.contains("CODECS=\"avc1.") && v.contains("FRAME-RATE=24.000"),
            "{v}"
        );
    }
    let checks = pertitle::package::validate_hls(&hls.join("master.m3u8")).unwrap();
    assert!(checks.iter().all(|c| c.frames == 48), "{checks:?}");
    assert!(dash.join("manifest.mpd").is_file());

    // verify from the store (nothing encoded again) and without it (encoded again): the same.
    for extra in [vec!["--cache", s(&store).leak()], vec!["--no-cache"]] {
        let again = t.path().join("again.toml");
        let mut a = vec!["verify", s(&file).leak(), "--out", s(&again).leak()];
        a.extend(extra);
        let o = support::run(&a);
        assert!(o.status.success(), "{}", support::stderr(&o));
        let l2 = pertitle::ladder::Ladder::from_file(&again).unwrap();
        let figures = |l: &pertitle::ladder::Ladder| {
            l.rungs
                .iter()
                .map(|r| r.verified.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(figures(&l2), figures(&ladder));
    }

    // Errors.
    let o = support::run(&[
        "encode",
        &s(&file),
        "--hls",
        &s(&hls),
        "--out",
        &s(&t.path().join("r2")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        support::stderr(&o).contains(&s(&hls)),
        "{}",
        support::stderr(&o)
    );
    assert!(!t.path().join("r2").exists(), "nothing encoded");
    let other = support::lavfi_y4m(
        t.path(),
        "other.y4m",
        "testsrc=size=320x180:rate=24",
        (320, 180),
        48,
    );
    let o = support::run(&["encode", &s(&file), "-i", &s(&other), "--no-cache"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        support::stderr(&o).contains("is not the source"),
        "{}",
        support::stderr(&o)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let bare = t.path().join("bare.toml");
    std::fs::write(&bare, &text[..text.find("[recipe").unwrap()]).unwrap();
    let o = support::run(&["verify", &s(&bare), "--no-cache"]);
    assert_eq!(o.status.code(), Some(1));
    let e = support::stderr(&o);
    assert!(e.contains("bare.toml") && e.contains("[recipe]"), "{e}");
}

/// The title as ffmpeg users give it (`-i FILE`), and from stdin (`-`, copied into the output
/// directory first): the same ladder as the positional path; an empty stdin is a clear error.
#[test]
fn cli_input_flag_and_stdin() {
    let t = support::tmpdir();
    let clip = support::lavfi_y4m(t.path(), "clip.y4m", GRAPH, (320, 180), 24);
    let common = [
        "--sizes",
        "320x180,192x108",
        "--crf",
        "28,40",
        "--preset",
        "veryfast",
        "--no-cache",
        "--min-kbps",
        "30",
    ];
    let ladder_of = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("ladder.toml")).unwrap();
        let l = pertitle::ladder::Ladder::from_toml(&text).unwrap();
        l.rungs
            .iter()
            .map(|r| (r.width, r.kbps, r.vmaf))
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    let mut args = vec![
        "ladder",
        clip.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ];
    args.extend(common);
    assert!(support::run(&args).status.success());
    let mut args = vec![
        "ladder",
        "-i",
        clip.to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
    ];
    args.extend(common);
    assert!(support::run(&args).status.success());
    assert_eq!(ladder_of(&a), ladder_of(&b));
    let mut cmd = support::bin();
    cmd.args(["ladder", "-", "--out", c.to_str().unwrap()])
        .args(common)
        .stdin(std::fs::File::open(&clip).unwrap());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(
        c.join("stdin.y4m").is_file(),
        "stdin kept next to the ladder"
    );
    assert_eq!(ladder_of(&a), ladder_of(&c));
    let mut cmd = support::bin();
    cmd.args(["ladder", "-", "--out", t.path().join("d").to_str().unwrap()])
        .args(common)
        .stdin(std::process::Stdio::null());
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        support::stderr(&o).contains("stdin"),
        "{}",
        support::stderr(&o)
    );
}
