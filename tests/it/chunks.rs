//! Chunked titles: chunk tasks assembled into a title result equal the concatenated chunk streams
//! scored as one video, bit for bit; sources jump to a chunk exactly.

use pertitle::chunks::{self, Chunk, Part};
use pertitle::media::{self, Decoder, Encoder, EncoderConfig, Scaler, ScalerKind, StreamWriter};
use pertitle::pipeline::{self, RunOptions};
use pertitle::points::Series;
use pertitle::quality::{Engine, EngineConfig, Metrics, VideoScorer};
use pertitle::recipe::{Recipe, RecipeOverrides, Size};
use pertitle::run::{self, TaskTemplate};
use pertitle::Frame;
use std::path::Path;

use crate::support;

/// Camera-like motion and temporal grain, so motion, VIF and ADM differ frame to frame.
const GRAPH: &str = "testsrc2=size=320x180:rate=24,scroll=horizontal=0.013:vertical=0.007,noise=alls=8:allf=t+u:all_seed=5";
const FRAMES: u64 = 72;

fn recipe() -> Recipe {
    let mut r = Recipe::default_for("libx264").expect("recipe");
    r.apply(&RecipeOverrides {
        preset: Some("veryfast".into()),
        sizes: Some(vec![Size::new(320, 180), Size::new(192, 108)]),
        crf: Some(vec![26.0, 38.0]),
        ..RecipeOverrides::default()
    })
    .expect("overrides");
    r
}

fn all_metrics_engine() -> Engine {
    Engine::new(EngineConfig {
        metrics: Metrics {
            vmaf: true,
            psnr: true,
            ssim: true,
        },
        ..Default::default()
    })
    .unwrap()
}

/// Encodes `frames` as one stream with `cfg` (downscaled to its size) and decodes it: the
/// packets' sizes and the decoded frames.
fn encode_decode(frames: &[Frame], cfg: &EncoderConfig) -> (Vec<u64>, Vec<Frame>) {
    let (w, h) = (cfg.format.width, cfg.format.height);
    let mut down = Scaler::new(frames[0].format, w, h, ScalerKind::Bicubic).unwrap();
    let mut enc = Encoder::new(cfg).unwrap();
    let mut packets = Vec::new();
    for f in frames {
        let s = if (w, h) == (f.width(), f.height()) {
            f.clone()
        } else {
            down.scale(f).unwrap()
        };
        packets.extend(enc.encode(&s).unwrap());
    }
    packets.extend(enc.finish().unwrap());
    let mut dec = Decoder::new(&enc.stream_params()).unwrap();
    let mut out = Vec::new();
    for p in &packets {
        out.extend(dec.decode(p).unwrap());
    }
    out.extend(dec.flush().unwrap());
    (packets.iter().map(|p| p.data.len() as u64).collect(), out)
}

#[test]
fn assembled_chunks_equal_the_concatenated_chunk_streams_scored_as_one_video() {
    let dir = support::tmpdir();
    let path = support::lavfi_y4m(dir.path(), "title.y4m", GRAPH, (320, 180), FRAMES);
    let input = support::file_input(&path);
    let recipe = recipe();
    let source = run::identify(&input, None).unwrap().identity;
    let (engine, settings) = run::engine_for(&recipe, 2).unwrap();
    let template = TaskTemplate::new(&recipe, &source, &settings);
    let cuts = [
        Chunk {
            start: 0,
            frames: 20,
        },
        Chunk {
            start: 20,
            frames: 27,
        },
        Chunk {
            start: 47,
            frames: 25,
        },
    ];
    let points: Vec<(Size, f64)> = [Size::new(320, 180), Size::new(192, 108)]
        .into_iter()
        .flat_map(|s| [26.0, 38.0].map(|c| (s, c)))
        .collect();
    let t = &template;
    let tasks: Vec<_> = points
        .iter()
        .flat_map(|&(s, c)| cuts.iter().map(move |&ch| t.chunk_task(s, c, ch)))
        .collect();
    // A small budget: a lane per task or two, several chunks side by side.
    let opts = RunOptions {
        threads: 2,
        memory_budget: 24 << 20,
        batch: 4,
    };
    let open = || input.open();
    let done = pipeline::run(&tasks, &open, &engine, None, &opts, &|_| true).unwrap();
    let frames = support::collect(media::open(&path, &Default::default()).unwrap());
    let whole_engine = all_metrics_engine();
    for (k, &(size, crf)) in points.iter().enumerate() {
        let rs = &done[k * cuts.len()..(k + 1) * cuts.len()];
        let parts: Vec<Part> = rs.iter().map(Part::whole).collect();
        let title = chunks::assemble(&parts, &template.task(size, crf), FRAMES).unwrap();
        let what = format!("{size} crf {crf}");
        // The same chunks encoded by hand, each as its own stream, decoded and concatenated.
        let mut fmt = frames[0].format;
        fmt.width = size.width as usize;
        fmt.height = size.height as usize;
        let mut cfg = EncoderConfig::crf("libx264", fmt, (24, 1), crf);
        cfg.preset = Some("veryfast".into());
        cfg.options = rs[0]
            .task
            .encoder
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        cfg.threads = Some(1);
        let mut bytes = Vec::new();
        let mut decoded = Vec::new();
        for ch in &cuts {
            let (b, d) = encode_decode(&frames[ch.start as usize..ch.end() as usize], &cfg);
            assert_eq!(d.len() as u64, ch.frames, "{what}");
            bytes.extend(b);
            decoded.extend(d);
        }
        assert_eq!(title.frame_bytes, bytes, "{what}: same bitstreams");
        // The concatenation scored as one video against the whole source.
        let mut up = Scaler::new(fmt, 320, 180, ScalerKind::Bicubic).unwrap();
        let mut scorer = VideoScorer::new(&whole_engine);
        for (r, d) in frames.iter().zip(decoded) {
            let mut d = if fmt.width == 320 {
                d
            } else {
                up.scale(&d).unwrap()
            };
            d.index = r.index;
            scorer.push(r.clone(), d).unwrap();
        }
        let whole = scorer.finish().unwrap();
        assert_eq!(title.scored_frames, (0..FRAMES).collect::<Vec<_>>());
        for series in [Series::Vmaf, Series::PsnrY, Series::Ssim] {
            let want: Vec<u64> = whole
                .frames
                .iter()
                .filter_map(|f| series.of(f))
                .map(f64::to_bits)
                .collect();
            let got: Vec<u64> = title.scores[&series].iter().map(|v| v.to_bits()).collect();
            assert_eq!(got.len() as u64, FRAMES, "{what} {series}");
            assert_eq!(got, want, "{what} {series}: bit-identical per frame");
        }
        // Pooled anew over the whole vector, kbps over the title's duration.
        let v = &title.scores[&Series::Vmaf];
        assert_eq!(
            title.point.pooled[&Series::Vmaf],
            pertitle::quality::pooling::pool(v)
        );
        let kbps = bytes.iter().sum::<u64>() as f64 * 8.0 / (FRAMES as f64 / 24.0) / 1000.0;
        assert!((title.point.kbps - kbps).abs() < 1e-9, "{what}");
        assert_eq!(title.chunks.len(), 3);
        assert_ne!(title.key(), template.task(size, crf).key());
    }
}

/// Every frame of `path` read in order, and read again after a jump to each of `starts`: the
/// same frames (content and index).
fn check_seek(path: &Path, starts: &[u64]) {
    let all = support::collect(media::open(path, &Default::default()).unwrap());
    for &s in starts {
        let mut src = media::open(path, &Default::default()).unwrap();
        let jumped = src.seek(s).unwrap();
        let mut f = src.next_frame().unwrap().unwrap();
        if !jumped {
            while f.index < s {
                f = src.next_frame().unwrap().unwrap();
            }
        }
        for want in &all[s as usize..] {
            assert_eq!(f.index, want.index, "{} from {s}", path.display());
            assert!(
                f.planes == want.planes,
                "{} frame {}",
                path.display(),
                f.index
            );
            match src.next_frame().unwrap() {
                Some(n) => f = n,
                None => break,
            }
        }
    }
}

#[test]
fn sources_jump_to_a_chunk_exactly() {
    let dir = support::tmpdir();
    let y4m = support::lavfi_y4m(dir.path(), "t.y4m", GRAPH, (320, 180), 150);
    check_seek(&y4m, &[0, 1, 70, 149]);
    // An H.264 file with B-frames and a keyframe every 30 frames, in mkv and mp4.
    let frames = support::collect(media::open(&y4m, &Default::default()).unwrap());
    let mut cfg = EncoderConfig::crf("libx264", frames[0].format, (24, 1), 20.0);
    cfg.preset = Some("veryfast".into());
    cfg.gop = Some(30);
    cfg.threads = Some(1);
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut packets = Vec::new();
    for f in &frames {
        packets.extend(enc.encode(f).unwrap());
    }
    packets.extend(enc.finish().unwrap());
    for name in ["t.mkv", "t.mp4"] {
        let p = dir.path().join(name);
        let mut w = StreamWriter::create(&p, &enc.stream_params()).unwrap();
        for pk in &packets {
            w.write(pk).unwrap();
        }
        w.finish().unwrap();
        check_seek(&p, &[0, 70, 95, 120, 149]);
        let mut src = media::open(&p, &Default::default()).unwrap();
        assert!(src.seek(95).unwrap(), "{name}: a constant-rate file jumps");
    }
}
