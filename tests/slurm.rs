//! The Slurm executor against a real cluster: `scripts/test` starts a single-node one
//! (`scripts/slurm-cluster`) and sets `SLURM_CONF`; these tests fail, not skip, without it.
//!
//! Each test runs the demo title (two chunks) on a small grid, so a run is a few seconds of
//! work: byte-identical outputs to the local executor; an array element cancelled mid-run
//! (`scancel`) and retried without recomputing what it had finished; a permanent failure
//! reported with its title, chunk, point, job and log; `--detach` + `status` + `collect`; a
//! corrupt store entry recomputed alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two sizes × two CRFs on the demo's two chunks: 8 tasks.
const GRID: [&str; 6] = [
    "--sizes",
    "640x360,416x234",
    "--crf",
    "30,38",
    "--preset",
    "veryfast",
];

fn cluster() {
    assert!(
        std::env::var_os("SLURM_CONF").is_some(),
        "SLURM_CONF is not set: these tests need a Slurm cluster; run scripts/test, or eval \"$(scripts/slurm-cluster start)\" first"
    );
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pertitle"));
    c.env_remove("PERTITLE_TEST_PAUSE_ELEMENT")
        .env_remove("PERTITLE_TEST_PAUSE_FILE")
        .env_remove("PERTITLE_MEMORY_BUDGET");
    c
}

fn exec(c: &mut Command) -> Output {
    c.output().expect("run pertitle")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ladder(cache: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("ladder")
        .args(GRID)
        .arg("--cache")
        .arg(cache)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

/// The local executor's outputs for the test grid (computed once per test that needs them).
fn local_reference(dir: &Path) -> PathBuf {
    let out = dir.join("local-out");
    let o = exec(&mut ladder(&dir.join("local-store"), &out, &["-q"]));
    assert!(o.status.success(), "local run: {}", text(&o.stderr));
    out
}

fn same_outputs(a: &Path, b: &Path) {
    for f in ["points.json", "ladder.toml", "points.csv"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap_or_else(|e| panic!("{}: {e}", a.join(f).display())),
            std::fs::read(b.join(f)).unwrap_or_else(|e| panic!("{}: {e}", b.join(f).display())),
        );
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// The one run directory in `store`.
fn run_dir(store: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(store.join("runs"))
        .expect("runs directory")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "runs: {runs:?}");
    runs.remove(0)
}

fn submissions(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("submissions.json")).expect("read"))
        .expect("json")
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Slurm job id of a run's first submission.
fn first_job(run: &Path) -> String {
    submissions(run)[0]["job"]
        .as_str()
        .expect("job")
        .to_string()
}

/// Releases a job submitted with `--hold`.
fn release(job: &str) {
    let s = Command::new("scontrol")
        .args(["release", job])
        .status()
        .expect("scontrol");
    assert!(s.success());
}

/// `pertitle status` of a run, which must succeed.
fn status_text(store: &Path, run: &Path) -> String {
    let o = exec(
        bin()
            .args(["status", "--cache"])
            .arg(store)
            .arg(run.file_name().expect("name")),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
}

/// Until the one run in `store` has its first submission recorded.
fn wait_for_submission(store: &Path) {
    wait_for("the submission", Duration::from_secs(120), || {
        std::fs::read_dir(store.join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .is_some_and(|e| {
                std::fs::read_to_string(e.path().join("submissions.json"))
                    .is_ok_and(|s| s.contains("\"job\""))
            })
    });
}

fn wait_child(mut c: Child, timeout: Duration) -> Output {
    let t = Instant::now();
    loop {
        if c.try_wait().expect("wait").is_some() {
            return c.wait_with_output().expect("output");
        }
        if t.elapsed() > timeout {
            let _ = c.kill();
            let o = c.wait_with_output().expect("output");
            panic!("driver did not finish in {timeout:?}: {}", text(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn squeue(args: &[&str]) -> String {
    let o = Command::new("squeue").args(args).output().expect("squeue");
    text(&o.stdout)
}

#[test]
fn demo_through_slurm_is_byte_identical_to_the_local_executor() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = local_reference(dir.path());
    let store = dir.path().join("store");
    let out = dir.path().join("slurm-out");
    let o = exec(&mut ladder(&store, &out, &["--executor", "slurm"]));
    assert!(o.status.success(), "slurm run: {}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("8 of 8 task(s) to compute"), "{err}");
    assert!(err.contains("submitted Slurm job"), "{err}");
    same_outputs(&reference, &out);
    // Every element ran on Slurm and said so in its log.
    let run = run_dir(&store);
    let logs: Vec<_> = std::fs::read_dir(run.join("logs")).expect("logs").collect();
    assert!(!logs.is_empty());
    // The same command again submits nothing: everything is in the store.
    let o = run_again(&store, &out);
    assert!(
        text(&o.stderr).contains("nothing to submit"),
        "{}",
        text(&o.stderr)
    );
    same_outputs(&reference, &out);
}

fn run_again(store: &Path, out: &Path) -> Output {
    let o = exec(&mut ladder(store, out, &["--executor", "slurm"]));
    assert!(o.status.success(), "rerun: {}", text(&o.stderr));
    o
}

#[test]
fn a_cancelled_element_is_retried_and_keeps_what_it_finished() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = local_reference(dir.path());
    let store = dir.path().join("store");
    let out = dir.path().join("slurm-out");
    let marker = dir.path().join("paused");
    // Elements of two tasks (the demo's chunks are 66 frames); element 1 pauses after its first
    // task is stored, and is cancelled there.
    let child = ladder(
        &store,
        &out,
        // Two slots whatever the machine, so element 1 holds two tasks.
        &[
            "--executor",
            "slurm",
            "--element-frames",
            "132",
            "--max-parallel",
            "2",
        ],
    )
    .env("PERTITLE_TEST_PAUSE_ELEMENT", "1")
    // One task per lane, so the pause comes after exactly one task is stored.
    .env("PERTITLE_MEMORY_BUDGET", "1")
    .env("PERTITLE_TEST_PAUSE_FILE", &marker)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn driver");
    wait_for("element 1 to pause", Duration::from_secs(240), || {
        marker.exists()
    });
    let run = run_dir(&store);
    let job = submissions(&run)[0]["job"]
        .as_str()
        .expect("job id")
        .to_string();
    let element = format!("{job}_1");
    assert!(
        squeue(&["-h", "-r", "-j", &job, "-o", "%i %T"]).contains(&format!("{element} RUNNING")),
        "element {element} should be running"
    );
    let s = Command::new("scancel")
        .arg(&element)
        .status()
        .expect("scancel");
    assert!(s.success());
    let o = wait_child(child, Duration::from_secs(300));
    let err = text(&o.stderr);
    assert!(o.status.success(), "driver: {err}");
    assert!(err.contains("retrying (attempt 2)"), "{err}");
    assert!(
        err.contains("resubmitted as Slurm job") && err.contains("(1 element(s), attempt 2)"),
        "{err}"
    );
    same_outputs(&reference, &out);
    // Element 1 was submitted twice, the others once; its second attempt reused the task its
    // first one had stored.
    let subs = submissions(&run);
    let subs = subs.as_array().expect("array");
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(subs[1]["indices"], serde_json::json!([1]));
    assert_eq!(subs[1]["attempt"], 2);
    let retry_log = run
        .join("logs")
        .join(format!("{}_1.out", subs[1]["job"].as_str().expect("job")));
    let log = std::fs::read_to_string(&retry_log).expect("retry log");
    assert!(
        log.contains("1 task(s) already in the store, 1 to compute"),
        "{log}"
    );
}

#[test]
fn a_permanent_failure_names_title_chunk_point_job_and_log_and_is_not_retried() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let out = dir.path().join("out");
    // A recipe whose VMAF model is a file; the file changes after the run is planned, so every
    // worker finds another model than the tasks were keyed with: a permanent failure.
    let model = dir.path().join("model.json");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/quality/models/vmaf_v0.6.1.json"
        ),
        &model,
    )
    .expect("copy model");
    let recipe = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/x264.toml"))
        .expect("recipe")
        .replace(
            "model = \"vmaf_v0.6.1\"",
            &format!("model = \"{}\"", model.display()),
        );
    let recipe_path = dir.path().join("recipe.toml");
    std::fs::write(&recipe_path, recipe).expect("write recipe");
    // Held at submission, so the model can be swapped before any worker starts.
    let child = ladder(
        &store,
        &out,
        &[
            "--recipe",
            recipe_path.to_str().expect("utf-8"),
            "--executor",
            "slurm",
            "--sbatch-arg=--hold",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn driver");
    wait_for_submission(&store);
    let run = run_dir(&store);
    let job = first_job(&run);
    // Held: `status` says why the elements wait.
    let so = status_text(&store, &run);
    assert!(
        so.contains("pending because (Slurm's reason): JobHeldUser"),
        "{so}"
    );
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/quality/models/vmaf_v0.6.1neg.json"
        ),
        &model,
    )
    .expect("swap model");
    release(&job);
    let o = wait_child(child, Duration::from_secs(240));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("pertitle: run "))
        .unwrap_or_else(|| panic!("no failure line: {err}"));
    for want in [
        "element(s) failed",
        "demo frames 0-65",
        "crf",
        "differs on this machine",
        &format!("Slurm job {job}_0"),
        &format!(
            "log {}",
            run.join("logs").join(format!("{job}_0.out")).display()
        ),
        "kept in the store",
    ] {
        assert!(line.contains(want), "missing {want:?} in: {line}");
    }
    // Permanent: not resubmitted.
    assert_eq!(submissions(&run).as_array().expect("array").len(), 1);
    assert!(!out.join("ladder.toml").exists());
    // `status` says the same.
    let so = status_text(&store, &run);
    assert!(so.contains("failed: demo frames"), "{so}");
}

#[test]
fn detach_then_status_then_collect() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = local_reference(dir.path());
    let store = dir.path().join("store");
    let out = dir.path().join("slurm-out");
    let o = exec(&mut ladder(
        &store,
        &out,
        &["--executor", "slurm", "--detach"],
    ));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let id = text(&o.stdout).trim().to_string();
    assert!(id.starts_with("demo-"), "run id on stdout: {id:?}");
    assert!(!out.join("ladder.toml").exists());
    // Collect before it is done: a clear error naming what is missing (unless the cluster was
    // faster than this process, which the wait below tolerates).
    let status = |json: bool| {
        let mut c = bin();
        c.args(["status", "--cache"]).arg(&store).arg(&id);
        if json {
            c.arg("--json");
        }
        exec(&mut c)
    };
    let o = status(false);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(&format!("run {id}")));
    let early = exec(bin().args(["collect", "--cache"]).arg(&store).arg(&id));
    if !early.status.success() {
        let e = text(&early.stderr);
        assert!(e.contains("is not complete"), "{e}");
        assert!(e.contains(&format!("pertitle status {id}")), "{e}");
        assert!(!out.join("ladder.toml").exists());
    }
    wait_for("the run to complete", Duration::from_secs(300), || {
        let o = status(true);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
        assert!(v["failed"].as_array().is_some_and(|f| f.is_empty()), "{v}");
        v["tasks_done"] == v["tasks"]
    });
    let o = exec(bin().args(["collect", "--cache"]).arg(&store).arg(&id));
    assert!(o.status.success(), "{}", text(&o.stderr));
    same_outputs(&reference, &out);
}

#[test]
fn a_corrupt_result_is_recomputed_alone() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let out = dir.path().join("out");
    let o = exec(&mut ladder(&store, &out, &["--executor", "slurm", "-q"]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let first = std::fs::read(out.join("points.json")).expect("points");
    // Flip one byte of one entry's payload, as a dying writer might have left it.
    let entry = std::fs::read_dir(&store)
        .expect("store")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.len() == 2))
        .flat_map(|d| {
            std::fs::read_dir(d)
                .expect("shard")
                .map(|e| e.expect("e").path())
        })
        .next()
        .expect("an entry");
    let mut bytes = std::fs::read(&entry).expect("read");
    let at = bytes.len() - 40;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&entry, bytes).expect("write");
    let o = exec(&mut ladder(&store, &out, &["--executor", "slurm"]));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("1 of 8 task(s) to compute"), "{err}");
    assert_eq!(
        std::fs::read(out.join("points.json")).expect("points"),
        first
    );
}

/// A small clip of its own content, written by the ffmpeg CLI (a test-only dependency).
fn clip(path: &Path, source: &str) {
    let o = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-frames:v",
            "48",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(path)
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "ffmpeg: {}", text(&o.stderr));
}

#[test]
fn a_catalog_runs_as_one_array_with_a_ladder_per_title() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let titles = dir.path().join("titles");
    std::fs::create_dir(&titles).expect("mkdir");
    clip(
        &titles.join("pan.y4m"),
        "testsrc2=s=320x180:r=24,scroll=horizontal=0.02",
    );
    clip(&titles.join("noise.y4m"), "mandelbrot=s=320x180:r=24");
    let catalog = titles.join("catalog.txt");
    std::fs::write(
        &catalog,
        "# two titles\npan.y4m\n\nnoise.y4m  # the second\n",
    )
    .expect("catalog");
    let grid = [
        "--sizes",
        "320x180,256x144",
        "--crf",
        "26,34",
        "--preset",
        "veryfast",
    ];
    // Each title alone, locally: the reference.
    for t in ["pan", "noise"] {
        let o = exec(
            bin()
                .arg("ladder")
                .arg(titles.join(format!("{t}.y4m")))
                .args(grid)
                .arg("--cache")
                .arg(dir.path().join("local-store"))
                .arg("--out")
                .arg(dir.path().join("local").join(t))
                .arg("-q"),
        );
        assert!(o.status.success(), "{t}: {}", text(&o.stderr));
    }
    let store = dir.path().join("store");
    let out = dir.path().join("catalog-out");
    let o = exec(
        bin()
            .arg("ladder")
            .arg("--catalog")
            .arg(&catalog)
            .args(grid)
            .args(["--executor", "slurm", "--cache"])
            .arg(&store)
            .arg("--out")
            .arg(&out),
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    // One submission holds both titles' tasks.
    let run = run_dir(&store);
    assert_eq!(submissions(&run).as_array().expect("array").len(), 1);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).expect("run.json"))
            .expect("json");
    let mut names: Vec<&str> = record["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| e["title"].as_str().expect("title"))
        .collect();
    names.dedup();
    assert_eq!(names, ["pan", "noise"]);
    for t in ["pan", "noise"] {
        same_outputs(&dir.path().join("local").join(t), &out.join(t));
    }
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("catalog.json")).expect("json"))
            .expect("catalog.json");
    assert_eq!(rows.as_array().expect("rows").len(), 2);
    assert_eq!(rows[0]["title"], "pan");
    assert!(rows[1]["rungs"].as_u64().expect("rungs") >= 1);
    let csv = std::fs::read_to_string(out.join("catalog.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(text(&o.stdout).contains("catalog of 2 title(s)"));
}

#[test]
fn a_killed_driver_is_rejoined_by_the_same_command_without_submitting_again() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = local_reference(dir.path());
    let store = dir.path().join("store");
    let out = dir.path().join("slurm-out");
    // The same command twice: held at submission, so its elements are still queued when the
    // first driver is killed.
    let args = ["--executor", "slurm", "--sbatch-arg=--hold"];
    let mut first = ladder(&store, &out, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn driver");
    wait_for_submission(&store);
    first.kill().expect("kill -9 the driver");
    let _ = first.wait();
    let run = run_dir(&store);
    let job = first_job(&run);
    let log = dir.path().join("second.log");
    let second = ladder(&store, &out, &args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn second driver");
    wait_for(
        "the second driver to join",
        Duration::from_secs(120),
        || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("still in Slurm's queue")),
    );
    release(&job);
    let o = wait_child(second, Duration::from_secs(300));
    let err = std::fs::read_to_string(&log).expect("log");
    assert!(o.status.success(), "{err}");
    // One run, one submission: nothing was submitted twice.
    assert_eq!(run_dir(&store), run);
    assert_eq!(submissions(&run).as_array().expect("array").len(), 1);
    same_outputs(&reference, &out);
}

/// `--refine` through Slurm: the grid is one job array, then each verification round's
/// two-pass encodes another, computed by the workers into the store; the verified ladder is
/// byte-identical to the local executor's.
#[test]
fn verified_rungs_are_encoded_on_slurm() {
    cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("local-out");
    let o = exec(&mut ladder(
        &dir.path().join("local-store"),
        &local,
        &["-q", "--refine", "--min-kbps", "60"],
    ));
    assert!(o.status.success(), "local run: {}", text(&o.stderr));
    let store = dir.path().join("store");
    let out = dir.path().join("slurm-out");
    let o = exec(&mut ladder(
        &store,
        &out,
        &["--refine", "--min-kbps", "60", "--executor", "slurm"],
    ));
    let err = text(&o.stderr);
    assert!(o.status.success(), "slurm run: {err}");
    assert!(
        err.matches("submitted Slurm job").count() >= 2,
        "the grid and the verification each submitted: {err}"
    );
    same_outputs(&local, &out);
    let toml = std::fs::read_to_string(out.join("ladder.toml")).expect("ladder.toml");
    assert!(toml.contains("[rungs.verified]"), "{toml}");
    let runs = std::fs::read_dir(store.join("runs")).expect("runs").count();
    assert!(runs >= 2, "{runs} run(s)");
}
