//! The batch contract without a scheduler (issue 16): `--executor manifest` writes a run, any
//! batch system runs `pertitle task run` per line (here: this test, with the index as Kubernetes
//! and AWS Batch pass it), `collect` writes outputs byte-identical to the local executor's; and
//! the misuse of the executor flags, the catalog and the run commands gets one clear line.
//! The Slurm executor itself is tested against a real cluster in `tests/slurm.rs`.

use crate::support::{stderr, stdout, tmpdir};
use std::path::Path;
use std::process::{Command, Output};

const GRID: [&str; 6] = [
    "--sizes",
    "640x360,416x234",
    "--crf",
    "30,38",
    "--preset",
    "veryfast",
];

/// The binary with no batch index in its environment (these tests may run inside a batch job).
fn bin() -> Command {
    let mut c = crate::support::bin();
    for v in [
        "PERTITLE_TASK_INDEX",
        "SLURM_ARRAY_TASK_ID",
        "PERTITLE_INDEX_OFFSET",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
        "SLURM_RESTART_COUNT",
        "PERTITLE_MAX_REQUEUES",
    ] {
        c.env_remove(v);
    }
    c
}

fn ladder(store: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("ladder")
        .args(GRID)
        .arg("--cache")
        .arg(store)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

fn exec(c: &mut Command) -> Output {
    c.output().expect("run pertitle")
}

#[track_caller]
fn one_line_failure(o: &Output, code: i32, words: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("pertitle: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in words {
        assert!(lines[0].contains(w), "{w:?} not in {}", lines[0]);
    }
}

#[test]
fn a_manifest_run_by_hand_collects_to_the_local_outputs() {
    let dir = tmpdir();
    let local = dir.path().join("local");
    let o = exec(&mut ladder(
        &dir.path().join("local-store"),
        &local,
        &["-q"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));

    let store = dir.path().join("store");
    let out = dir.path().join("out");
    let o = exec(&mut ladder(&store, &out, &["--executor", "manifest"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    assert!(id.starts_with("demo-"), "{id}");
    assert!(!out.join("ladder.toml").exists(), "nothing is computed yet");
    let run = store.join("runs").join(&id);
    let manifest = run.join("manifest.jsonl");
    let lines = std::fs::read_to_string(&manifest)
        .expect("manifest")
        .lines()
        .count();
    assert!(lines >= 1);

    // Not complete yet: collect says what is missing and where to look.
    let o = exec(bin().args(["collect", "--cache"]).arg(&store).arg(&id));
    one_line_failure(&o, 1, &["is not complete", "8 task(s)", "pertitle status"]);
    assert!(!out.join("ladder.toml").exists());

    // Each line as another batch system runs it: Kubernetes' index for the first, AWS Batch's for
    // the second, --index for the rest.
    for i in 0..lines {
        let mut c = bin();
        c.args(["task", "run"]).arg(&manifest).arg("-q");
        match i {
            0 => c.env("JOB_COMPLETION_INDEX", "0"),
            1 => c.env("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            _ => c.arg("--index").arg(i.to_string()),
        };
        let o = exec(&mut c);
        assert!(o.status.success(), "element {i}: {}", stderr(&o));
        let st: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join("status").join(format!("{i}.json"))).expect("status"),
        )
        .expect("json");
        assert_eq!(st["exit"], "done");
    }
    let o = exec(bin().args(["status", "--cache"]).arg(&store).arg(&id));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("complete: `pertitle collect"),
        "{}",
        stdout(&o)
    );

    let o = exec(
        bin()
            .args(["collect", "-q", "--cache"])
            .arg(&store)
            .arg(&id),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["points.json", "ladder.toml", "points.csv"] {
        assert_eq!(
            std::fs::read(local.join(f)).expect("local"),
            std::fs::read(out.join(f)).expect("collected"),
            "{f}"
        );
    }
}

#[test]
fn task_run_misuse_and_failures_follow_the_exit_code_contract() {
    let dir = tmpdir();
    let store = dir.path().join("store");
    let o = exec(&mut ladder(
        &store,
        &dir.path().join("out"),
        &["--executor", "manifest", "-q"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    let manifest = store.join("runs").join(&id).join("manifest.jsonl");
    // An index past the end: misuse (2), naming the manifest and its range.
    let o = exec(
        bin()
            .args(["task", "run"])
            .arg(&manifest)
            .args(["--index", "99"]),
    );
    one_line_failure(&o, 2, &["manifest.jsonl has", "element(s)"]);
    // No index at all.
    let o = exec(
        bin()
            .args(["task", "run"])
            .arg(&manifest)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("PERTITLE_TASK_INDEX")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("AWS_BATCH_JOB_ARRAY_INDEX"),
    );
    one_line_failure(&o, 2, &["--index", "SLURM_ARRAY_TASK_ID"]);
    // A line that is not an element: permanent (1), naming the file and line.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"title\": 3}\n").expect("write");
    let o = exec(bin().args(["task", "run"]).arg(&bad).args(["--index", "0"]));
    one_line_failure(&o, 1, &["bad.jsonl line 1", "not a pertitle task element"]);
    // A manifest that is not there: permanent (1), naming it.
    let o = exec(
        bin()
            .args(["task", "run"])
            .arg(dir.path().join("absent.jsonl"))
            .args(["--index", "0"]),
    );
    one_line_failure(&o, 1, &["absent.jsonl"]);
    // Interrupted (as Slurm's scancel or time limit does): transient (75), and its status says so.
    let marker = dir.path().join("paused");
    let child = bin()
        .args(["task", "run"])
        .arg(&manifest)
        .args(["--index", "0", "-q"])
        .env("PERTITLE_TEST_PAUSE_ELEMENT", "0")
        .env("PERTITLE_TEST_PAUSE_FILE", &marker)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = std::time::Instant::now();
    while !marker.exists() {
        assert!(t.elapsed().as_secs() < 120, "the task never paused");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: kill(2) with a live child's pid and a valid signal number.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().expect("wait");
    one_line_failure(&o, 75, &["task 0", "cancelled"]);
    let st = std::fs::read_to_string(store.join("runs").join(&id).join("status/0.json"))
        .expect("status");
    assert!(st.contains("\"exit\": \"transient\""), "{st}");
    // Past the requeue cap Slurm must not requeue it again: exit 1, the driver decides.
    std::fs::remove_file(&marker).expect("rm marker");
    let child = bin()
        .args(["task", "run"])
        .arg(&manifest)
        .args(["--index", "0", "-q"])
        .env("PERTITLE_TEST_PAUSE_ELEMENT", "0")
        .env("PERTITLE_TEST_PAUSE_FILE", &marker)
        .env("SLURM_RESTART_COUNT", "2")
        .env("PERTITLE_MAX_REQUEUES", "2")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    while !marker.exists() {
        assert!(t.elapsed().as_secs() < 240, "the task never paused");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().expect("wait");
    one_line_failure(&o, 1, &["task 0", "cancelled"]);
}

#[test]
fn executor_flags_misuse_is_one_line() {
    let dir = tmpdir();
    let out = dir.path().join("out");
    let store = dir.path().join("store");
    let o = exec(&mut ladder(&store, &out, &["--detach"]));
    one_line_failure(&o, 2, &["--detach", "--executor slurm"]);
    let o = exec(
        bin()
            .args(["ladder", "--no-cache", "--executor", "slurm"])
            .args(GRID),
    );
    one_line_failure(&o, 2, &["--no-cache", "--cache"]);
    let o = exec(&mut ladder(
        &store,
        &out,
        &["--executor", "slurm", "--search", "fast"],
    ));
    one_line_failure(&o, 2, &["--search fast", "--search full"]);
    let o = exec(bin().args(["status", "--cache"]).arg(&store).arg("nope"));
    one_line_failure(&o, 1, &["run nope", "no such run"]);
    let o = exec(bin().args(["collect", "--cache"]).arg(&store).arg("nope"));
    one_line_failure(&o, 1, &["run nope", "no such run"]);
    assert!(!out.exists(), "no output directory left behind");
}

#[test]
fn bad_catalogs_name_the_file_and_line() {
    let dir = tmpdir();
    let store = dir.path().join("store");
    let cat = dir.path().join("titles.txt");
    let run = |text: &str| {
        std::fs::write(&cat, text).expect("write");
        exec(
            bin()
                .arg("ladder")
                .arg("--catalog")
                .arg(&cat)
                .args(GRID)
                .arg("--cache")
                .arg(&store)
                .arg("--out")
                .arg(dir.path().join("out")),
        )
    };
    one_line_failure(&run("# nothing\n\n"), 1, &["titles.txt", "lists no titles"]);
    one_line_failure(
        &run("a.y4m\n"),
        1,
        &["titles.txt line 1", "a.y4m", "no such file"],
    );
    std::fs::create_dir(dir.path().join("x")).expect("mkdir");
    std::fs::write(dir.path().join("a.y4m"), b"").expect("touch");
    std::fs::write(dir.path().join("x").join("a.y4m"), b"").expect("touch");
    one_line_failure(
        &run("a.y4m\nx/a.y4m\n"),
        1,
        &["titles.txt line 2", "title 'a' again (line 1)"],
    );
    let o = exec(
        bin()
            .args(["ladder", "--catalog"])
            .arg(&cat)
            .arg(dir.path().join("a.y4m")),
    );
    one_line_failure(&o, 2, &["--catalog"]);
    assert!(!dir.path().join("out").exists());
}
