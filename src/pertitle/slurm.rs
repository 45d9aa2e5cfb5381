//! The Slurm executor: a run's elements ([`crate::batch`]) as a job array, watched until the store
//! holds every task, failed elements retried.
//!
//! Submission: `sbatch --array=<indices>%<max parallel> --requeue` of a two-line script that
//! runs `pertitle task run <manifest>` (the element's index is `SLURM_ARRAY_TASK_ID` plus the
//! offset of the array's window, since Slurm caps array indices at `MaxArraySize`, 1001 by
//! default). Slurm requeues an element by itself when its node is lost and, on clusters with
//! `RequeueExit=75`, when the worker reports a transient failure.
//!
//! Watching: the driver polls the store (the results) and `squeue` (what is still queued or
//! running). When none of its jobs is left in the queue, every element whose tasks are not all
//! in the store has failed: permanently if its worker said so ([`TaskExit::Permanent`]), which is
//! reported; otherwise (killed, cancelled, out of time, node lost, exit 75) it is resubmitted
//! alone, up to `retries` times. Finished tasks stay in the store whatever happens, so a retry
//! or a rerun of the same command computes only what is missing.

use crate::batch::{self, ElementStatus, RunDir, RunRecord, Submission, TaskExit};
use crate::error::{Error, Result};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The slowest the driver polls the store and the queue.
const MAX_POLL: Duration = Duration::from_secs(10);

/// Largest array window submitted at once (Slurm's default `MaxArraySize` is 1001: indices 0-1000).
pub const ARRAY_WINDOW: usize = 1000;

/// How jobs are submitted.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// `--partition`; the cluster's default when `None`.
    pub partition: Option<String>,
    /// At most this many elements at once (`--array=...%N`).
    pub max_parallel: Option<u32>,
    /// CPUs per element (`--cpus-per-task`); the worker uses that many threads.
    pub cpus_per_task: u32,
    /// `--time`, in Slurm's syntax (`30`, `2:00:00`).
    pub time_limit: Option<String>,
    /// `--mem`, in Slurm's syntax (`4G`).
    pub mem: Option<String>,
    /// Further `sbatch` arguments, as given.
    pub sbatch_args: Vec<String>,
    /// Resubmissions of a failed element after its first attempt.
    pub retries: u32,
    /// The `pertitle` program the workers run (a path every node sees).
    pub program: PathBuf,
    /// How often the driver looks at the store and the queue.
    pub poll: Duration,
}

impl SlurmOptions {
    pub fn new(program: PathBuf) -> SlurmOptions {
        SlurmOptions {
            partition: None,
            max_parallel: None,
            cpus_per_task: 1,
            time_limit: None,
            mem: None,
            sbatch_args: Vec::new(),
            retries: 2,
            program,
            poll: Duration::from_millis(500),
        }
    }
}

/// What the driver tells its caller while it waits.
#[derive(Debug, Clone)]
pub enum SlurmEvent {
    /// Elements handed to Slurm as array job `job` (attempt 1: first submission).
    Submitted {
        job: String,
        elements: usize,
        attempt: u32,
    },
    /// Tasks in the store, of the run's; elements running and pending in the queue.
    Progress {
        tasks_done: usize,
        tasks: usize,
        frames_done: u64,
        frames: u64,
        running: usize,
        pending: usize,
    },
    /// Elements that ended without their results, resubmitted.
    Retrying { elements: Vec<String>, attempt: u32 },
}

/// A state Slurm reports for a job (`squeue %T`), grouped as the driver needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    Pending,
    Running,
    /// Completing, or any other state still in the queue.
    Other,
}

fn run_cmd(program: &str, args: &[String]) -> Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::resource(program, format!("cannot run it ({e}); is Slurm installed?")))
}

/// Elements that can run at once: the partition's CPUs (`sinfo %C`, its total; the default
/// partition's unless one is named) over the CPUs per element, capped by `max_parallel`.
pub fn slots(opts: &SlurmOptions) -> Result<usize> {
    let o = run_cmd(
        "sinfo",
        &["--noheader".to_string(), "--format=%P %C".to_string()],
    )?;
    if !o.status.success() {
        return Err(Error::resource(
            "sinfo",
            format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        ));
    }
    // "<partition> allocated/idle/other/total" per partition; the default one ends in `*`.
    let cpus: usize = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .filter(|(p, _)| match &opts.partition {
            Some(want) => p.trim_end_matches('*') == want,
            None => p.ends_with('*'),
        })
        .filter_map(|(_, c)| c.trim().rsplit('/').next()?.parse::<usize>().ok())
        .sum();
    let mut n = (cpus / opts.cpus_per_task.max(1) as usize).max(1);
    if let Some(m) = opts.max_parallel {
        n = n.min(m as usize);
    }
    Ok(n)
}

/// `0-3,5,7-9`: indices as Slurm's array syntax.
pub fn array_spec(indices: &[usize]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The script every array element runs: the worker, on the manifest line given by the window
/// offset (its first argument) plus its array index. `PERTITLE_MAX_REQUEUES` caps Slurm's own
/// requeues of a transient failure (exit 75): past it the worker exits 1 and the driver decides.
fn job_script(run: &RunDir, opts: &SlurmOptions) -> Result<PathBuf> {
    let path = run.dir().join("job.sh");
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let text = format!(
        "#!/bin/sh\n# pertitle run {id}: array element = manifest line (window offset $1 + array index)\nexport PERTITLE_MAX_REQUEUES={retries}\nexec {prog} task run {manifest} --index $(( $1 + SLURM_ARRAY_TASK_ID ))\n",
        id = run.id(),
        retries = opts.retries,
        prog = q(&opts.program),
        manifest = q(&run.manifest()),
    );
    crate::fsutil::atomic_write(&path, text.as_bytes())?;
    Ok(path)
}

/// Submits manifest `indices` (sorted, distinct) as array jobs, one per window of
/// [`ARRAY_WINDOW`] indices, and records them in the run.
pub fn submit(
    run: &RunDir,
    indices: &[usize],
    attempt: u32,
    opts: &SlurmOptions,
) -> Result<Vec<Submission>> {
    let script = job_script(run, opts)?;
    let mut windows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in indices {
        windows
            .entry(i / ARRAY_WINDOW * ARRAY_WINDOW)
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for (offset, idx) in windows {
        let local: Vec<usize> = idx.iter().map(|i| i - offset).collect();
        let mut array = array_spec(&local);
        if let Some(m) = opts.max_parallel {
            array.push_str(&format!("%{m}"));
        }
        let mut args: Vec<String> = vec![
            "--parsable".into(),
            format!("--array={array}"),
            format!("--job-name=pertitle-{}", run.id()),
            format!("--output={}/%A_%a.out", run.logs().display()),
            format!("--cpus-per-task={}", opts.cpus_per_task),
            "--requeue".into(),
        ];
        if let Some(p) = &opts.partition {
            args.push(format!("--partition={p}"));
        }
        if let Some(t) = &opts.time_limit {
            args.push(format!("--time={t}"));
        }
        if let Some(m) = &opts.mem {
            args.push(format!("--mem={m}"));
        }
        args.extend(opts.sbatch_args.iter().cloned());
        args.push(script.display().to_string());
        args.push(offset.to_string());
        let o = run_cmd("sbatch", &args)?;
        let stdout = String::from_utf8_lossy(&o.stdout);
        let job = stdout.trim().split(';').next().unwrap_or("").to_string();
        if !o.status.success() || job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::resource(
                "sbatch",
                format!(
                    "submission refused: {} (is a Slurm controller reachable? SLURM_CONF={})",
                    String::from_utf8_lossy(&o.stderr).trim().replace('\n', " "),
                    std::env::var("SLURM_CONF").unwrap_or_else(|_| "unset".into())
                ),
            ));
        }
        let s = Submission {
            job,
            indices: idx,
            offset,
            attempt,
            submitted: batch::now(),
        };
        run.add_submission(s.clone())?;
        out.push(s);
    }
    Ok(out)
}

/// What the queue holds of `jobs`: manifest index → state (array elements expanded).
pub fn queue(subs: &[Submission]) -> Result<BTreeMap<usize, QueueState>> {
    let mut out = BTreeMap::new();
    if subs.is_empty() {
        return Ok(out);
    }
    let offsets: BTreeMap<&str, usize> = subs.iter().map(|s| (s.job.as_str(), s.offset)).collect();
    let ids: Vec<&str> = offsets.keys().copied().collect();
    let o = run_cmd(
        "squeue",
        &[
            "--noheader".into(),
            "--array".into(),
            format!("--jobs={}", ids.join(",")),
            "--format=%F|%K|%T".into(),
        ],
    )?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        // Jobs finished long ago (beyond MinJobAge) are unknown to squeue: nothing queued.
        if stderr.contains("Invalid job id") {
            return Ok(out);
        }
        return Err(Error::resource(
            "squeue",
            format!("failed: {}", stderr.trim()),
        ));
    }
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let [job, task, state] = f[..] else { continue };
        let Some(&offset) = offsets.get(job) else {
            continue;
        };
        let state = match state {
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" => QueueState::Pending,
            "RUNNING" => QueueState::Running,
            _ => QueueState::Other,
        };
        // With --array one element per line; a pending remainder may still come as a range,
        // `0-4%2` or `[3,5]`.
        let spec = task
            .trim_matches(|c| c == '[' || c == ']')
            .split('%')
            .next()
            .unwrap_or("");
        let mut parsed = Vec::new();
        for part in spec.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
                None => (part.parse::<usize>(), part.parse::<usize>()),
            };
            match (a, b) {
                (Ok(a), Ok(b)) => parsed.extend((a..=b).map(|k| offset + k)),
                _ => {
                    // A form not understood: every element of that submission counts as
                    // queued (waiting longer is safe, resubmitting a queued one is not).
                    parsed.clear();
                    if let Some(sub) = subs.iter().find(|s| s.job == job) {
                        parsed.extend(sub.indices.iter().copied());
                    }
                    break;
                }
            }
        }
        for i in parsed {
            out.insert(i, state);
        }
    }
    Ok(out)
}

/// Why the run's queued elements wait, as Slurm says (`squeue %r`: `Resources`, `Priority`,
/// `JobHeldUser`, `PartitionTimeLimit`, ...), with how many wait for each reason.
pub fn pending_reasons(subs: &[Submission]) -> Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    if subs.is_empty() {
        return Ok(out);
    }
    let ids: BTreeSet<&str> = subs.iter().map(|s| s.job.as_str()).collect();
    let o = run_cmd(
        "squeue",
        &[
            "--noheader".into(),
            "--array".into(),
            "--states=PENDING".into(),
            format!("--jobs={}", ids.into_iter().collect::<Vec<_>>().join(",")),
            "--format=%r".into(),
        ],
    )?;
    if o.status.success() {
        for r in String::from_utf8_lossy(&o.stdout).lines() {
            *out.entry(r.trim().to_string()).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// Where element `index`'s latest attempt logs: `logs/<array job>_<array index>.out`.
pub fn log_path(run: &RunDir, subs: &[Submission], index: usize) -> Option<(String, PathBuf)> {
    subs.iter()
        .rev()
        .find(|s| s.indices.contains(&index))
        .map(|s| {
            let id = format!("{}_{}", s.job, index - s.offset);
            let log = run.logs().join(format!("{id}.out"));
            (id, log)
        })
}

/// A run's state as `pertitle status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunStatus {
    pub id: String,
    pub dir: PathBuf,
    pub elements: usize,
    pub elements_done: usize,
    pub running: usize,
    pub pending: usize,
    /// Why the pending ones wait (Slurm's reason → elements).
    pub pending_reasons: BTreeMap<String, usize>,
    /// Elements out of the queue without their results.
    pub failed: Vec<Failure>,
    pub tasks: usize,
    pub tasks_done: usize,
    pub frames: u64,
    pub frames_done: u64,
    /// Seconds since the first submission.
    pub elapsed_s: u64,
    /// Seconds to go at the rate so far (`None` before anything finished).
    pub eta_s: Option<u64>,
    pub jobs: Vec<String>,
}

/// An element that ended without its results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub index: usize,
    pub chunk: String,
    /// The points whose results are missing.
    pub points: Vec<String>,
    pub job: Option<String>,
    pub log: Option<PathBuf>,
    /// The worker's error, or what is known of its end.
    pub message: String,
    /// The worker said running it again would not help.
    pub permanent: bool,
    pub attempts: u32,
}

impl Failure {
    /// One line: the title and chunk, the point(s), the error, the job and its log.
    pub fn describe(&self) -> String {
        let points = match self.points.len() {
            0 => String::new(),
            1 => format!(" at {}", self.points[0]),
            n => format!(" at {} and {} more point(s)", self.points[0], n - 1),
        };
        let job = match (&self.job, &self.log) {
            (Some(j), Some(l)) => format!(" (Slurm job {j}, log {})", l.display()),
            _ => String::new(),
        };
        format!("{}{points}: {}{job}", self.chunk, self.message)
    }
}

/// Reads a run's state from its directory, the store and the queue.
pub fn status(run: &RunDir, store: &Store) -> Result<RunStatus> {
    let record = run.record()?;
    let subs = run.submissions()?;
    let queued = queue(&subs)?;
    let done = batch::done_tasks(&record, store)?;
    let mut st = summarize(run, &record, &subs, &queued, &done);
    if st.pending > 0 {
        st.pending_reasons = pending_reasons(&subs)?;
    }
    Ok(st)
}

fn summarize(
    run: &RunDir,
    record: &RunRecord,
    subs: &[Submission],
    queued: &BTreeMap<usize, QueueState>,
    done: &HashSet<String>,
) -> RunStatus {
    let attempts = run.attempts().unwrap_or_default();
    let mut st = RunStatus {
        id: run.id(),
        dir: run.dir().to_path_buf(),
        elements: record.elements.len(),
        elements_done: 0,
        running: 0,
        pending: 0,
        pending_reasons: BTreeMap::new(),
        failed: Vec::new(),
        tasks: 0,
        tasks_done: 0,
        frames: 0,
        frames_done: 0,
        elapsed_s: subs
            .first()
            .map_or(0, |s| batch::now().saturating_sub(s.submitted)),
        eta_s: None,
        jobs: subs.iter().map(|s| s.job.clone()).collect(),
    };
    for (i, e) in record.elements.iter().enumerate() {
        let missing: Vec<&batch::TaskInfo> =
            e.tasks.iter().filter(|t| !done.contains(&t.key)).collect();
        st.tasks += e.tasks.len();
        st.tasks_done += e.tasks.len() - missing.len();
        st.frames += e.task_frames();
        st.frames_done += e.task_frames() - missing.iter().map(|t| t.frames).sum::<u64>();
        match (missing.is_empty(), queued.get(&i)) {
            (true, _) => st.elements_done += 1,
            (false, Some(QueueState::Running)) => st.running += 1,
            (false, Some(_)) => st.pending += 1,
            (false, None) if attempts.contains_key(&i) => {
                let (id, log) = log_path(run, subs, i).unzip();
                // The worker's own word counts only for the latest attempt (its job id).
                let said = run
                    .status(i)
                    .filter(|s| id.is_some() && s.job.as_ref() == id.as_ref());
                st.failed.push(Failure {
                    index: i,
                    chunk: e.chunk(),
                    points: missing.iter().map(|t| t.point()).collect(),
                    job: said.as_ref().and_then(|s| s.job.clone()).or(id),
                    log,
                    message: match &said {
                        Some(s) if s.exit != TaskExit::Done => s.message.clone(),
                        Some(_) => "ended without all its results in the store".into(),
                        None => {
                            "ended without a word (killed, cancelled, out of time or its node lost)"
                                .into()
                        }
                    },
                    permanent: said
                        .as_ref()
                        .is_some_and(|s| matches!(s.exit, TaskExit::Permanent | TaskExit::Usage)),
                    attempts: attempts.get(&i).copied().unwrap_or(0),
                });
            }
            // Never submitted (a driver killed between writing the manifest and sbatch).
            (false, None) => st.pending += 1,
        }
    }
    if st.frames_done > 0 && st.frames_done < st.frames {
        let rate = st.frames_done as f64 / st.elapsed_s.max(1) as f64;
        st.eta_s = Some(((st.frames - st.frames_done) as f64 / rate).round() as u64);
    } else if st.frames_done == st.frames {
        st.eta_s = Some(0);
    }
    st
}

/// The newest earlier run of the same command (same arguments, same directory), planning every
/// task of `keys`, that still has elements in Slurm's queue: a driver that was killed left it running, and a new driver waits
/// for it instead of submitting its tasks a second time.
pub fn running_run(
    store: &Store,
    command: &[String],
    cwd: &Path,
    keys: &HashSet<String>,
) -> Result<Option<RunDir>> {
    let root = RunDir::root(store);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(None);
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    // Run ids start with the label and a UTC stamp; the newest is the one to join.
    dirs.sort_by_key(|d| {
        std::fs::metadata(d.join("run.json"))
            .and_then(|m| m.modified())
            .ok()
    });
    for dir in dirs.into_iter().rev() {
        let Ok(run) = RunDir::open(None, &dir.display().to_string()) else {
            continue;
        };
        let Ok(record) = run.record() else { continue };
        if record.command != command || record.cwd != cwd {
            continue;
        }
        // The same command may plan other tasks now (a recipe or input changed in place).
        let has: HashSet<&str> = record
            .elements
            .iter()
            .flat_map(|e| e.tasks.iter().map(|t| t.key.as_str()))
            .collect();
        if !keys.iter().all(|k| has.contains(k.as_str())) {
            continue;
        }
        let subs = run.submissions()?;
        if !queue(&subs)?.is_empty() {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// Submits every element of `run` that has not been submitted and waits until the store holds
/// all its tasks, resubmitting failed elements up to `opts.retries` times. Errors name each
/// element that failed for good; everything finished stays in the store.
/// `on_event` returning `false` stops the waiting (the jobs keep running; [`Error::Cancelled`]).
pub fn run_to_completion(
    run: &RunDir,
    store: &Store,
    opts: &SlurmOptions,
    on_event: &dyn Fn(SlurmEvent) -> bool,
) -> Result<()> {
    let record = run.record()?;
    let submitted: BTreeSet<usize> = run.attempts()?.keys().copied().collect();
    let fresh: Vec<usize> = (0..record.elements.len())
        .filter(|i| !submitted.contains(i))
        .collect();
    if !fresh.is_empty() {
        for s in submit(run, &fresh, 1, opts)? {
            on_event(SlurmEvent::Submitted {
                job: s.job,
                elements: s.indices.len(),
                attempt: 1,
            });
        }
    }
    wait(run, &record, store, opts, on_event)
}

fn wait(
    run: &RunDir,
    record: &RunRecord,
    store: &Store,
    opts: &SlurmOptions,
    on_event: &dyn Fn(SlurmEvent) -> bool,
) -> Result<()> {
    let all: Vec<&batch::TaskInfo> = record.elements.iter().flat_map(|e| &e.tasks).collect();
    // Tasks seen in the store (a file exists: cheap to poll); verified before the end.
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue_failures = 0u64;
    let mut unseen_rechecks = 0;
    let started = Instant::now();
    let mut last_poll = Instant::now() - opts.poll;
    loop {
        // Polling slows down as the run goes on (0.5 s, then + 1 s per minute waited, at most
        // 10 s): a short run is noticed finished at once, a long one does not load the
        // controller and the shared filesystem.
        let interval = (opts.poll + started.elapsed() / 60).min(MAX_POLL);
        std::thread::sleep(interval.saturating_sub(last_poll.elapsed()));
        last_poll = Instant::now();
        for t in &all {
            if !seen.contains(&t.key) && store.entry_path(&t.key).is_file() {
                seen.insert(t.key.clone());
            }
        }
        let subs = run.submissions()?;
        // A controller that restarts or times out is not the end of an hours-long wait.
        let queued = match queue(&subs) {
            Ok(q) => {
                queue_failures = 0;
                q
            }
            Err(e) => {
                queue_failures += 1;
                if queue_failures >= 10 {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_secs(queue_failures));
                continue;
            }
        };
        let frames: u64 = all.iter().map(|t| t.frames).sum();
        let frames_done: u64 = all
            .iter()
            .filter(|t| seen.contains(&t.key))
            .map(|t| t.frames)
            .sum();
        let keep_going = on_event(SlurmEvent::Progress {
            tasks_done: seen.len(),
            tasks: all.len(),
            frames_done,
            frames,
            running: queued
                .values()
                .filter(|s| **s == QueueState::Running)
                .count(),
            pending: queued
                .values()
                .filter(|s| **s != QueueState::Running)
                .count(),
        });
        if !keep_going {
            return Err(Error::Cancelled);
        }
        if !queued.is_empty() {
            continue;
        }
        // Nothing of ours in the queue: the store says what is done.
        let done = batch::done_tasks(record, store)?;
        seen = done.clone();
        let st = summarize(run, record, &subs, &queued, &done);
        // A worker that said it finished while its results are not visible here yet (a shared
        // filesystem's attribute cache): look again before counting it failed.
        let claims_done = st.failed.iter().any(|f| {
            run.status(f.index)
                .is_some_and(|s| s.exit == TaskExit::Done && s.job == f.job)
        });
        if claims_done && unseen_rechecks < 5 {
            unseen_rechecks += 1;
            std::thread::sleep(Duration::from_secs(2));
            continue;
        }
        unseen_rechecks = 0;
        if st.failed.is_empty() {
            if st.tasks_done == st.tasks {
                return Ok(());
            }
            // Elements never submitted (a window's sbatch failed after another's succeeded).
            let attempts = run.attempts()?;
            let fresh: Vec<usize> = (0..record.elements.len())
                .filter(|i| !attempts.contains_key(i))
                .collect();
            for s in submit(run, &fresh, 1, opts)? {
                on_event(SlurmEvent::Submitted {
                    job: s.job,
                    elements: s.indices.len(),
                    attempt: 1,
                });
            }
            continue;
        }
        let (retry, give_up): (Vec<&Failure>, Vec<&Failure>) = st
            .failed
            .iter()
            .partition(|f| !f.permanent && f.attempts <= opts.retries);
        if !retry.is_empty() {
            let attempt = retry.iter().map(|f| f.attempts).max().unwrap_or(1) + 1;
            on_event(SlurmEvent::Retrying {
                elements: retry
                    .iter()
                    .map(|f| format!("{} ({})", f.chunk, f.message))
                    .collect(),
                attempt,
            });
            let idx: Vec<usize> = retry.iter().map(|f| f.index).collect();
            for s in submit(run, &idx, attempt, opts)? {
                on_event(SlurmEvent::Submitted {
                    job: s.job,
                    elements: s.indices.len(),
                    attempt,
                });
            }
            continue;
        }
        return Err(failed_error(run, &st, &give_up));
    }
}

fn failed_error(run: &RunDir, st: &RunStatus, failed: &[&Failure]) -> Error {
    let lines: Vec<String> = failed
        .iter()
        .map(|f| {
            let tries = if f.permanent {
                String::new()
            } else {
                format!(" [gave up after {} attempt(s)]", f.attempts)
            };
            format!("{}{tries}", f.describe())
        })
        .collect();
    Error::resource(
        format!("run {}", run.id()),
        format!(
            "{} element(s) failed: {}; {} of {} task(s) are kept in the store, and running the same command again computes only the missing ones",
            failed.len(),
            lines.join("; "),
            st.tasks_done,
            st.tasks
        ),
    )
}

/// The worker's record of how its attempt ended, for the driver.
pub fn element_status(index: usize, exit: TaskExit, message: String) -> ElementStatus {
    let job = match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(j), Ok(t)) => Some(format!("{j}_{t}")),
        _ => std::env::var("SLURM_JOB_ID").ok(),
    };
    ElementStatus {
        index,
        exit,
        message,
        job,
        finished: batch::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_runs() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 5, 7, 8, 9]), "0-3,5,7-9");
        assert_eq!(array_spec(&[4]), "4");
        assert_eq!(array_spec(&[]), "");
    }
}
