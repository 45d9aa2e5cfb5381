//! pertitle's HLS output in a real browser player: headless Chromium (Debian's, driven by
//! playwright-core) with hls.js, both from `scripts/setup`, plays every rendition of a small
//! ladder packaged by the CLI (`tests/browser/play.mjs`, `tests/browser/player.html`).
//!
//! libavformat reading our playlists back (`package::validate_hls`) shows the files are well
//! formed; only a player shows that the manifests, the CODECS strings and the fMP4 boxes are
//! what Media Source Extensions accept. Each level is locked in turn (no ABR) and played muted
//! to its end; the test asserts that every rendition of `master.m3u8` was fetched and played
//! alone, at its `RESOLUTION`, with Chromium's decoded-frame count
//! (`getVideoPlaybackQuality().totalVideoFrames`) equal to the clip's frame count, and without
//! a fatal hls.js or media error. The default codec, H.264, is used: Debian's Chromium plays it
//! (`MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001e"')` is true; HEVC is not).
//!
//! Missing Chromium or npm packages fail the test (run `scripts/setup`); `scripts/test` runs it
//! with `--features browser-tests`.

use pertitle::media::{self, Y4mWriter};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Two seconds at 24 fps: one HLS segment per rendition, so a run plays each in about 2 s.
const FRAMES: u64 = 48;
const GRAPH: &str =
    "testsrc2=size=320x180:rate=24,scroll=horizontal=0.01,noise=alls=10:allf=t+u:all_seed=5";
/// Beyond play.mjs's own 50-s limit: a hung node or browser fails the test instead of hanging it.
const NODE_TIMEOUT: Duration = Duration::from_secs(80);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What the test needs outside Cargo, or a failure that says how to get it.
fn require_setup() -> PathBuf {
    let dir = browser_dir();
    let chromium = std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    let missing = [
        (dir.join("node_modules/hls.js/dist/hls.min.js"), "hls.js"),
        (
            dir.join("node_modules/playwright-core/package.json"),
            "playwright-core",
        ),
        (PathBuf::from(&chromium), "chromium"),
    ]
    .into_iter()
    .filter(|(p, _)| !p.is_file())
    .map(|(p, what)| format!("{what} ({})", p.display()))
    .collect::<Vec<_>>();
    let node = Command::new("node").arg("--version").output();
    assert!(
        missing.is_empty() && node.is_ok_and(|o| o.status.success()),
        "the browser test needs node, Chromium and the npm packages of tests/browser \
         (missing: {missing:?}): run scripts/setup"
    );
    dir
}

fn run(args: &[&Path]) {
    let o = Command::new(env!("CARGO_BIN_EXE_pertitle"))
        .args(args)
        .output()
        .expect("run pertitle");
    assert!(
        o.status.success(),
        "pertitle {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A variant of the master playlist: its media playlist's URI and `RESOLUTION`.
struct Variant {
    uri: String,
    size: (u64, u64),
}

fn variants(master: &str) -> Vec<Variant> {
    let lines: Vec<&str> = master.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("#EXT-X-STREAM-INF:"))
        .map(|(i, l)| {
            let res = l.split("RESOLUTION=").nth(1).expect("RESOLUTION");
            let (w, h) = res.split(',').next().unwrap().split_once('x').unwrap();
            Variant {
                uri: lines[i + 1].to_string(),
                size: (w.parse().unwrap(), h.parse().unwrap()),
            }
        })
        .collect()
}

/// Serves `/player.html`, `/hls.min.js` and `/hls/…` (the HLS directory) on 127.0.0.1 for the
/// rest of the test process, and logs each request's path. One thread per connection, since the
/// browser may hold a connection open without a request while it uses another.
fn serve(hls: PathBuf, log: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().unwrap();
    let dir = browser_dir();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (hls, dir, log) = (hls.clone(), dir.clone(), log.clone());
            std::thread::spawn(move || respond(conn, &hls, &dir, &log));
        }
    });
    format!("http://{addr}")
}

fn respond(conn: TcpStream, hls: &Path, dir: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let target = request.split(' ').nth(1).unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    log.lock().unwrap().push(path.to_string());
    let file = match path {
        "/player.html" => Some(dir.join("player.html")),
        "/hls.min.js" => Some(dir.join("node_modules/hls.js/dist/hls.min.js")),
        _ => path
            .strip_prefix("/hls/")
            .filter(|p| !p.split('/').any(|c| c.is_empty() || c.starts_with('.')))
            .map(|p| hls.join(p)),
    };
    let kind = match path.rsplit('.').next() {
        Some("html") => "text/html",
        Some("js") => "text/javascript",
        Some("m3u8") => "application/vnd.apple.mpegurl",
        _ => "video/mp4",
    };
    let mut conn = conn;
    let _ = match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .and_then(|()| conn.write_all(&body)),
        None => conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
    };
}

/// `node play.mjs URL`, killed if it outlives [`NODE_TIMEOUT`]; its JSON report.
fn play(dir: &Path, url: &str) -> Value {
    let mut child = Command::new("node")
        .arg(dir.join("play.mjs"))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if start.elapsed() > NODE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("play.mjs did not finish in {NODE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (
        stdout.join().unwrap().unwrap(),
        stderr.join().unwrap().unwrap(),
    );
    assert!(status.success(), "play.mjs failed ({status}): {out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("play.mjs output: {e}: {out}\n{err}"))
}

#[test]
fn every_rendition_plays_in_chromium_with_hls_js() {
    let dir = require_setup();
    let t = tempfile::tempdir().unwrap();
    let clip = t.path().join("clip.y4m");
    let mut src = media::lavfi_source(GRAPH, 320, 180, (24, 1), FRAMES).unwrap();
    let mut y4m = None;
    while let Some(f) = src.next_frame().unwrap() {
        y4m.get_or_insert_with(|| Y4mWriter::create(&clip, f.format, (24, 1)).unwrap())
            .write(&f)
            .unwrap();
    }
    y4m.unwrap().finish().unwrap();

    let (out, hls) = (t.path().join("out"), t.path().join("hls"));
    let arg = |s: &'static str| Path::new(s);
    run(&[
        arg("ladder"),
        &clip,
        arg("--sizes"),
        arg("320x180,192x108"),
        arg("--crf"),
        arg("24,32,40"),
        arg("--preset"),
        arg("veryfast"),
        arg("--min-kbps"),
        arg("40"),
        arg("--no-cache"),
        arg("--out"),
        &out,
    ]);
    let ladder = out.join("ladder.toml");
    run(&[
        arg("encode"),
        &ladder,
        arg("--hls"),
        &hls,
        arg("--no-cache"),
    ]);
    let master = std::fs::read_to_string(hls.join("master.m3u8")).unwrap();
    let variants = variants(&master);
    assert!(variants.len() >= 2, "{master}");

    let log = Arc::new(Mutex::new(Vec::new()));
    let base = serve(hls.clone(), log.clone());
    let started = Instant::now();
    let report = play(&dir, &format!("{base}/player.html?src=hls/master.m3u8"));
    let json = serde_json::to_string_pretty(&report).unwrap();
    eprintln!(
        "Chromium {} with hls.js {} played {} renditions in {:.1} s",
        report["browser"].as_str().unwrap_or("?"),
        report["hlsVersion"].as_str().unwrap_or("?"),
        variants.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(report["error"].is_null(), "{json}");
    assert_eq!(
        report["pageErrors"].as_array().map(Vec::len),
        Some(0),
        "{json}"
    );

    let levels = report["levels"].as_array().unwrap();
    let plays = report["plays"].as_array().unwrap();
    assert_eq!(levels.len(), variants.len(), "{master}\n{json}");
    assert_eq!(plays.len(), variants.len(), "{json}");
    let requested = log.lock().unwrap().clone();
    for (i, (v, (level, p))) in variants.iter().zip(levels.iter().zip(plays)).enumerate() {
        let n = |val: &Value| val.as_u64().unwrap_or_else(|| panic!("{val}: {json}"));
        let codecs = &level["codecs"];
        eprintln!(
            "  level {i} {} {}x{} {codecs}: {} frames decoded, {} dropped, {} presented, ended {}, errors {}",
            v.uri,
            p["videoWidth"],
            p["videoHeight"],
            p["totalVideoFrames"],
            p["droppedVideoFrames"],
            p["presentedFrames"],
            p["ended"],
            p["errors"]
        );
        assert!(
            level["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/hls/{}", v.uri)),
            "level {i} is not variant {i} ({}): {json}",
            v.uri
        );
        assert_eq!(
            level["typeSupported"], true,
            "{codecs} not playable: {json}"
        );
        assert_eq!((n(&level["width"]), n(&level["height"])), v.size, "{json}");

        // Played alone, to the end, at the size the master playlist promises.
        assert_eq!(n(&p["level"]), i as u64, "{json}");
        let frags = p["fragLevels"].as_array().unwrap();
        assert!(
            !frags.is_empty() && frags.iter().all(|l| n(l) == i as u64),
            "level {i} was not played alone: {json}"
        );
        assert_eq!(
            p["ended"], true,
            "level {i} did not play to its end: {json}"
        );
        assert_eq!(
            (n(&p["videoWidth"]), n(&p["videoHeight"])),
            v.size,
            "level {i}: {json}"
        );
        let size = format!("{}x{}", v.size.0, v.size.1);
        assert_eq!(
            p["sizesSeen"],
            serde_json::json!([size]),
            "level {i}: {json}"
        );
        let fatal: Vec<&Value> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["fatal"] != false)
            .collect();
        assert!(
            fatal.is_empty(),
            "level {i}: fatal errors {fatal:?}: {json}"
        );
        // Every frame decoded: Chromium counts each frame of the stream once, the last included.
        assert_eq!(n(&p["totalVideoFrames"]), FRAMES, "level {i}: {json}");

        // ...from our server: the rendition's playlist, init segment and every media segment.
        let playlist = std::fs::read_to_string(hls.join(&v.uri)).unwrap();
        let prefix = v.uri.rfind('/').map_or("", |end| &v.uri[..=end]);
        let files = playlist.lines().filter_map(|l| {
            l.strip_prefix("#EXT-X-MAP:URI=\"")
                .map(|u| u.trim_end_matches('"'))
                .or((!l.starts_with('#') && !l.is_empty()).then_some(l))
        });
        for f in std::iter::once(v.uri.as_str().rsplit('/').next().unwrap()).chain(files) {
            let path = format!("/hls/{prefix}{f}");
            assert!(
                requested.contains(&path),
                "{path} never requested: {requested:?}"
            );
        }
    }
}
