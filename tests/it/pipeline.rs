//! The grid runner against an independent computation of the same points: the same bitstream
//! encoded, decoded, upscaled and scored one by one with the media layer and the VideoScorer.

use pertitle::grid::TaskResult;
use pertitle::media::{self, Decoder, Encoder, EncoderConfig, RateControl, Scaler, ScalerKind};
use pertitle::output;
use pertitle::pipeline::{self, RunOptions};
use pertitle::points::Series;
use pertitle::quality::{Engine, EngineConfig, Metrics, VideoScorer};
use pertitle::recipe::{Recipe, RecipeOverrides, Size};
use pertitle::run::{Input, LadderRun};
use pertitle::Frame;
use std::path::{Path, PathBuf};

use crate::support;

const GRAPH: &str = "testsrc2=size=320x180:rate=24,noise=alls=6:allf=t+u:all_seed=11";

/// The test clip in `dir`, and the same as a runner input.
fn clip_input(dir: &Path) -> (PathBuf, Input) {
    let path = support::lavfi_y4m(dir, "clip.y4m", GRAPH, (320, 180), 30);
    let input = support::file_input(&path);
    (path, input)
}

fn recipe() -> Recipe {
    let mut r = Recipe::default_for("libx264").expect("recipe");
    r.apply(&RecipeOverrides {
        preset: Some("veryfast".into()),
        sizes: Some(vec![Size::new(320, 180), Size::new(192, 108)]),
        crf: Some(vec![24.0, 36.0]),
        ..RecipeOverrides::default()
    })
    .expect("overrides");
    r
}

fn source_frames(path: &Path) -> Vec<Frame> {
    support::collect(media::open(path, &Default::default()).unwrap())
}

/// The engine the plain computation scores with (VMAF only; no store, no grid).
fn vmaf_engine() -> Engine {
    Engine::new(EngineConfig {
        metrics: Metrics {
            vmaf: true,
            psnr: false,
            ssim: false,
        },
        ..Default::default()
    })
    .unwrap()
}

/// One point computed the plain way: every frame through encoder, decoder, scaler and scorer.
/// With frame-rate decimation `n`, every n-th frame is encoded at 24/n fps and each decoded
/// frame is scored against the n source frames it is shown for.
fn by_hand(frames: &[Frame], r: &TaskResult, engine: &Engine, n: usize) -> (u64, Vec<f64>) {
    let t = &r.task;
    let (w, h) = (t.filters.width as usize, t.filters.height as usize);
    let mut fmt = frames[0].format;
    fmt.width = w;
    fmt.height = h;
    let mut cfg = EncoderConfig::crf("libx264", fmt, (24, n as u32), 0.0);
    assert!(matches!(t.rate, RateControl::Crf { .. }));
    cfg.rate = t.rate;
    cfg.preset = t.encoder.preset.clone();
    cfg.options = t
        .encoder
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    cfg.threads = Some(1);
    let mut down = Scaler::new(frames[0].format, w, h, ScalerKind::Bicubic).expect("down");
    let mut enc = Encoder::new(&cfg).expect("encoder");
    let mut packets = Vec::new();
    for f in frames.iter().step_by(n) {
        let s = if (w, h) == (320, 180) {
            f.clone()
        } else {
            down.scale(f).expect("scale")
        };
        packets.extend(enc.encode(&s).expect("encode"));
    }
    packets.extend(enc.finish().expect("finish"));
    let bytes = packets.iter().map(|p| p.data.len() as u64).sum();
    let mut dec = Decoder::new(&enc.stream_params()).expect("decoder");
    let mut decoded = Vec::new();
    for p in &packets {
        decoded.extend(dec.decode(p).expect("decode"));
    }
    decoded.extend(dec.flush().expect("flush"));
    let mut up = Scaler::new(fmt, 320, 180, ScalerKind::Bicubic).expect("up");
    assert_eq!(decoded.len(), frames.len().div_ceil(n));
    let mut scorer = VideoScorer::new(engine);
    for (shown, d) in frames.chunks(n).zip(decoded) {
        let d = if (w, h) == (320, 180) {
            d
        } else {
            up.scale(&d).expect("upscale")
        };
        for r in shown {
            let mut d = d.clone();
            d.index = r.index;
            scorer.push(r.clone(), d).expect("push");
        }
    }
    (bytes, scorer.finish().expect("scores").vmaf())
}

#[test]
fn grid_points_equal_the_same_encodes_scored_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let (path, input) = clip_input(dir.path());
    let (source, engine, tasks) = support::grid_tasks(&input, &recipe(), None);
    assert_eq!(source.frames, 30);
    assert_eq!(tasks.len(), 4);
    // A small budget forces several waves: each must give the same numbers.
    let opts = RunOptions {
        threads: 2,
        memory_budget: 12 << 20,
        batch: 4,
    };
    let open = || input.open();
    let results = pipeline::run(&tasks, &open, &engine, None, &opts, &|_| true).expect("grid");
    let frames = source_frames(&path);
    let plain = vmaf_engine();
    for res in &results {
        assert_eq!(res.scored_frames, (0..30).collect::<Vec<u64>>());
        let (bytes, vmaf) = by_hand(&frames, res, &plain, 1);
        assert_eq!(
            res.point.bytes, bytes,
            "{}x{} crf {}",
            res.point.width, res.point.height, res.point.crf
        );
        assert_eq!(
            res.scores[&Series::Vmaf],
            vmaf,
            "{}x{} crf {}",
            res.point.width,
            res.point.height,
            res.point.crf
        );
        let kbps = bytes as f64 * 8.0 / (30.0 / 24.0) / 1000.0;
        assert!((res.point.kbps - kbps).abs() < 1e-9);
    }
    // Lower CRF costs more bits at each size.
    let at = |w: u32, crf: f64| {
        results
            .iter()
            .find(|r| r.point.width == w && r.point.crf == crf)
            .unwrap()
    };
    assert!(at(320, 24.0).point.bytes > at(320, 36.0).point.bytes);
    assert!(at(192, 24.0).point.vmaf > at(192, 36.0).point.vmaf);
}

#[test]
fn store_makes_a_second_run_encode_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, input) = clip_input(dir.path());
    let store = pertitle::store::Store::open(dir.path().join("cache")).unwrap();
    let opts = RunOptions {
        threads: 2,
        ..RunOptions::default()
    };
    let a = LadderRun::new(&input, &recipe())
        .store(Some(&store))
        .options(opts.clone())
        .run(&|_| true)
        .expect("first run");
    assert_eq!(a.encoded, 4);
    let b = LadderRun::new(&input, &recipe())
        .store(Some(&store))
        .options(opts.clone())
        .run(&|_| true)
        .expect("second run");
    assert_eq!(b.encoded, 0, "second run must reuse every point");
    assert_eq!(
        output::points_json(&a.source, &a.points).unwrap(),
        output::points_json(&b.source, &b.points).unwrap()
    );
    // Changing only a ladder constraint encodes nothing either.
    let mut r = recipe();
    r.ladder.max_rungs = 2;
    let c = LadderRun::new(&input, &r)
        .store(Some(&store))
        .options(opts.clone())
        .run(&|_| true)
        .expect("third run");
    assert_eq!(c.encoded, 0);
    assert!(c.ladder.rungs.len() <= 2);
}

/// `grid.fps_cap`: every n-th frame encoded at the lower rate, each decoded frame scored against
/// every source frame it is shown for (n = 2, and n = 4 where the last frame stands for only two
/// source frames), through several waves and chunks that split a frame's source frames.
#[test]
fn fps_cap_encodes_every_nth_frame_and_scores_every_source_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (path, input) = clip_input(dir.path());
    let frames = source_frames(&path);
    let plain = vmaf_engine();
    for (cap, n) in [(12.0, 2usize), (6.0, 4)] {
        let mut r = recipe();
        r.grid.fps_cap = Some(cap);
        r.grid.crf = vec![30.0];
        let (_, engine, tasks) = support::grid_tasks(&input, &r, None);
        assert_eq!(tasks[0].filters.fps, Some((24, n as u32)));
        let opts = RunOptions {
            threads: 2,
            memory_budget: 12 << 20,
            batch: 3,
        };
        let open = || input.open();
        let results = pipeline::run(&tasks, &open, &engine, None, &opts, &|_| true).expect("grid");
        for res in &results {
            let what = format!("{}x{} fps_cap {cap}", res.point.width, res.point.height);
            assert_eq!(res.frame_bytes.len(), 30usize.div_ceil(n), "{what}");
            assert_eq!(res.scored_frames, (0..30).collect::<Vec<u64>>(), "{what}");
            let (bytes, vmaf) = by_hand(&frames, res, &plain, n);
            assert_eq!(res.point.bytes, bytes, "{what}");
            assert_eq!(res.scores[&Series::Vmaf], vmaf, "{what}");
            // The rate is over the title's duration, not the encoded frames'.
            let kbps = bytes as f64 * 8.0 / (30.0 / 24.0) / 1000.0;
            assert!((res.point.kbps - kbps).abs() < 1e-9, "{what}");
        }
    }
}

/// A cap the source rate is not a whole multiple of is refused by name, before any encode.
#[test]
fn fps_that_is_not_a_whole_decimation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, input) = clip_input(dir.path());
    let (_, engine, mut tasks) =
        support::grid_tasks(&input, &recipe(), Some(&[Size::new(192, 108)]));
    tasks.truncate(1);
    tasks[0].filters.fps = Some((10, 1));
    let open = || input.open();
    let e = pipeline::run(
        &tasks,
        &open,
        &engine,
        None,
        &RunOptions::default(),
        &|_| true,
    )
    .expect_err("24 fps cannot become 10 by keeping every n-th frame");
    let msg = e.to_string();
    assert!(
        msg.contains("grid.fps_cap") && msg.contains("10/1"),
        "{msg}"
    );
}
