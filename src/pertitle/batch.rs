//! The batch contract: how a scheduler's array job computes a run's tasks on many machines.
//!
//! A driver plans a run's grid tasks ([`crate::run::LadderRun::tasks`]), leaves out those already
//! in the [`Store`], and groups the rest into [`Element`]s of about equal estimated cost, each
//! of one title, its tasks in chunk order (a chunk's tasks side by side share its decode; an
//! element may span neighbouring chunks, or hold part of one). It writes them into a run
//! directory ([`RunDir`], `<store>/runs/<id>/`) on the filesystem the workers share:
//!
//! ```text
//! manifest.jsonl   one Element per line; line i is array element i
//! run.json         what the run is: id, the command to collect it with, each element's tasks
//! submissions.json each submission to the scheduler: its job id, the elements, the attempt
//! status/<i>.json  how element i's last attempt ended (written by the worker)
//! logs/            the scheduler's output files, one per element and attempt
//! ```
//!
//! A worker runs `pertitle task run <manifest> --index <i>` ([`read_element`], [`run_element`]):
//! it computes the element's tasks with the local runner, which writes the results into the
//! store as each lane (the points of a chunk computed together) ends, so a killed element loses
//! only its lanes in progress. Its exit code says what to do next ([`TaskExit`]):
//! 0 done, 75 transient (run it again), 1 permanent (running it again gives the same error), 2
//! misuse. The results are the store entries, checksummed (a torn write is found and recomputed),
//! so a driver knows a run is complete by looking the keys up, whatever the scheduler says.
//! Any scheduler with array jobs can run the same command: Slurm ([`crate::slurm`]), a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`) or an AWS Batch array job
//! (`AWS_BATCH_JOB_ARRAY_INDEX`).

use crate::error::{Error, Result};
use crate::fsutil::{atomic_write, ensure_dir};
use crate::grid::GridTask;
use crate::pipeline::{Event, RunOptions, Runner};
use crate::recipe::ScoringSection;
use crate::run::{engine_for_scoring, Input};
use crate::store::{Lookup, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The `format` of `run.json`.
pub const RUN_FORMAT: &str = "pertitle-run/1";

/// Most task-frames (frames × tasks) in an element by default: about half an hour of one core at
/// 1080p with x264 medium, so a lost element costs little; beyond that, fewer and larger
/// elements start and decode less.
pub const ELEMENT_TASK_FRAMES: u64 = 20_000;

/// How a worker's attempt ended, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskExit {
    /// Every task of the element is in the store.
    Done,
    /// Running it again gives the same error (bad input, unknown codec, corrupt manifest).
    Permanent,
    /// Wrong command line or manifest index.
    Usage,
    /// Worth another attempt (I/O error, interrupted, out of a resource).
    Transient,
}

impl TaskExit {
    /// `sysexits.h`'s EX_TEMPFAIL: the code Slurm's `RequeueExit` is set to.
    pub const TRANSIENT_CODE: i32 = 75;

    pub fn code(self) -> i32 {
        match self {
            TaskExit::Done => 0,
            TaskExit::Permanent => 1,
            TaskExit::Usage => 2,
            TaskExit::Transient => Self::TRANSIENT_CODE,
        }
    }

    /// Whether an error is worth another attempt: what the machine or the filesystem did
    /// (I/O, resources, a stop request) may go away; what the data or the settings are does not.
    pub fn of(e: &Error) -> TaskExit {
        use std::io::ErrorKind::{NotFound, PermissionDenied, ReadOnlyFilesystem};
        match e {
            // A file that is not there or may not be read or written stays so.
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    NotFound | PermissionDenied | ReadOnlyFilesystem
                ) =>
            {
                TaskExit::Permanent
            }
            Error::Io { .. } | Error::Resource { .. } => TaskExit::Transient,
            e if e.is_cancelled() => TaskExit::Transient,
            _ => TaskExit::Permanent,
        }
    }
}

/// One array element: tasks of one title's frames that one worker computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Element {
    pub title: String,
    /// Absolute path (or the demo), as every worker sees it on the shared filesystem.
    pub input: Input,
    /// The engine the tasks' [`crate::grid::EngineSettings`] describe.
    pub scoring: ScoringSection,
    /// The shared store the results go to.
    pub store: PathBuf,
    pub tasks: Vec<GridTask>,
}

/// A title's tasks as a driver plans them.
#[derive(Debug, Clone)]
pub struct Job {
    pub title: String,
    pub input: Input,
    pub scoring: ScoringSection,
    pub tasks: Vec<GridTask>,
}

/// A task as `run.json` lists it: enough to name it in a report and find its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub key: String,
    pub start: u64,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub crf: Option<f64>,
}

impl TaskInfo {
    fn of(t: &GridTask) -> TaskInfo {
        TaskInfo {
            key: t.key(),
            start: t.filters.frames.start,
            frames: t.filters.frames.count.unwrap_or(t.source.frames),
            width: t.filters.width,
            height: t.filters.height,
            crf: t.rate.crf(),
        }
    }

    /// `640x360 crf 28`.
    pub fn point(&self) -> String {
        match self.crf {
            Some(c) => format!("{}x{} crf {c}", self.width, self.height),
            None => format!("{}x{}", self.width, self.height),
        }
    }
}

/// An element as `run.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementInfo {
    pub title: String,
    pub tasks: Vec<TaskInfo>,
}

impl ElementInfo {
    /// `demo frames 0-65`, or `demo frames 0-65, 66-131` for an element of two chunks.
    pub fn chunk(&self) -> String {
        let mut ranges: Vec<(u64, u64)> = self
            .tasks
            .iter()
            .map(|t| (t.start, t.start + t.frames.max(1) - 1))
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        let text: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        match text.is_empty() {
            true => self.title.clone(),
            false => format!("{} frames {}", self.title, text.join(", ")),
        }
    }

    /// Task-frames, the unit of work progress is counted in.
    pub fn task_frames(&self) -> u64 {
        self.tasks.iter().map(|t| t.frames).sum()
    }
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: String,
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// The command line (without the program) that collects the run's outputs, and where it ran.
    pub command: Vec<String>,
    pub cwd: PathBuf,
    pub elements: Vec<ElementInfo>,
}

/// One submission to the scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The scheduler's id for it (Slurm: the array job id).
    pub job: String,
    /// The manifest indices it runs, in its array order; its array index `k` runs
    /// `offset + k` where `offset` is the first manifest index of the window it was cut from.
    pub indices: Vec<usize>,
    pub offset: usize,
    /// 1 for the first attempt of these elements, 2 for their first retry, ...
    pub attempt: u32,
    pub submitted: u64,
}

/// `status/<i>.json`: how element `i`'s last attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementStatus {
    pub index: usize,
    pub exit: TaskExit,
    pub message: String,
    /// The scheduler's id of the attempt (Slurm: `<array job>_<index>`), when known.
    pub job: Option<String>,
    pub finished: u64,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYYmmdd-HHMMSS` (UTC) of `secs` since the epoch.
fn stamp(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A task's relative cost: its frames, encoded at its size and scored at the source's.
fn task_cost(t: &GridTask) -> u64 {
    let frames = t.filters.frames.count.unwrap_or(t.source.frames);
    let enc = t.filters.width as u64 * t.filters.height as u64;
    let src = t.source.width as u64 * t.source.height as u64;
    frames * (enc + src)
}

/// How to cut a run into array elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementPlan {
    /// Elements that can run at once (the cluster's CPUs / CPUs per element): at least this
    /// many elements, so every slot has work to the end.
    pub slots: usize,
    /// At most this many task-frames per element, so a lost element costs little.
    pub max_task_frames: u64,
}

/// Groups the tasks of `jobs` that `store` does not hold into elements of about equal estimated
/// cost (frames × (encoded + source pixels); content is not known, so chunks of busy content
/// cost more than estimated): a whole number of rounds over the slots, none above
/// `max_task_frames`, filled in chunk order (tasks of one chunk side by side share its decode)
/// and, within a chunk, largest first. A task two jobs share is computed once.
pub fn plan_elements(jobs: &[Job], store: &Store, plan: ElementPlan) -> Result<Vec<Element>> {
    let mut seen = HashSet::new();
    // (job index, input, tasks of one frame selection)
    let mut groups: Vec<(usize, Input, Vec<GridTask>)> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let input = match &job.input {
            Input::Demo => Input::Demo,
            Input::File { path, options } => Input::File {
                path: std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?,
                options: options.clone(),
            },
        };
        let first = groups.len();
        for t in &job.tasks {
            let key = t.key();
            if !seen.insert(key.clone()) || matches!(store.lookup(&key)?, Lookup::Hit(_)) {
                continue;
            }
            match groups[first..]
                .iter_mut()
                .find(|(_, _, v)| v[0].filters.frames == t.filters.frames)
            {
                Some((_, _, v)) => v.push(t.clone()),
                None => groups.push((j, input.clone(), vec![t.clone()])),
            }
        }
    }
    for (_, _, v) in &mut groups {
        v.sort_by_key(|t| std::cmp::Reverse(task_cost(t)));
    }
    let all: Vec<&GridTask> = groups.iter().flat_map(|(_, _, v)| v).collect();
    let total_cost: u64 = all.iter().map(|t| task_cost(t)).sum();
    let task_frames: u64 = all
        .iter()
        .map(|t| t.filters.frames.count.unwrap_or(t.source.frames))
        .sum();
    // A whole number of rounds over the slots (5 elements on 2 slots would leave one idle for
    // a whole element at the end), and none above the cap.
    let slots = plan.slots.max(1) as u64;
    let rounds = task_frames
        .div_ceil(plan.max_task_frames.max(1))
        .div_ceil(slots)
        .max(1);
    let n = (rounds * slots).min(all.len() as u64).max(1);
    let share = total_cost.div_ceil(n);
    let mut out: Vec<Element> = Vec::new();
    let mut cost = 0u64;
    for (j, input, tasks) in groups {
        for t in tasks {
            // Close the element when this task would take it further past its share than
            // leaving it out falls short (and never across titles).
            let open = out
                .last()
                .is_some_and(|e: &Element| e.title == jobs[j].title && e.input == input);
            let c = task_cost(&t);
            if open && cost + c / 2 <= share {
                cost += c;
                if let Some(e) = out.last_mut() {
                    e.tasks.push(t);
                }
                continue;
            }
            cost = c;
            out.push(Element {
                title: jobs[j].title.clone(),
                input: input.clone(),
                scoring: jobs[j].scoring.clone(),
                store: store.dir().to_path_buf(),
                tasks: vec![t],
            });
        }
    }
    Ok(out)
}

/// A run directory (see the module documentation).
#[derive(Debug, Clone)]
pub struct RunDir {
    dir: PathBuf,
}

impl RunDir {
    /// The runs of `store`.
    pub fn root(store: &Store) -> PathBuf {
        store.dir().join("runs")
    }

    /// Writes a new run: its manifest and `run.json`. `label` names it (the title, or the
    /// catalog); `command` is what `collect` runs, from `cwd`.
    pub fn create(
        store: &Store,
        label: &str,
        command: Vec<String>,
        cwd: PathBuf,
        elements: &[Element],
    ) -> Result<RunDir> {
        let created = now();
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let root = Self::root(store);
        ensure_dir(&root)?;
        // A new directory, never an existing one (two drivers started in the same second).
        let mut n = 0;
        let dir = loop {
            let id = match n {
                0 => format!("{label}-{}", stamp(created)),
                _ => format!("{label}-{}-{n}", stamp(created)),
            };
            let dir = root.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        };
        let run = RunDir { dir };
        for d in ["status", "logs"] {
            ensure_dir(run.dir.join(d))?;
        }
        let mut manifest = String::new();
        for e in elements {
            let line = serde_json::to_string(e)
                .map_err(|e| Error::data(run.manifest().display().to_string(), e.to_string()))?;
            manifest.push_str(&line);
            manifest.push('\n');
        }
        atomic_write(run.manifest(), manifest.as_bytes())?;
        let record = RunRecord {
            format: RUN_FORMAT.into(),
            id: run.id(),
            created,
            command,
            cwd,
            elements: elements
                .iter()
                .map(|e| ElementInfo {
                    title: e.title.clone(),
                    tasks: e.tasks.iter().map(TaskInfo::of).collect(),
                })
                .collect(),
        };
        run.write_json("run.json", &record)?;
        run.write_json("submissions.json", &Vec::<Submission>::new())?;
        Ok(run)
    }

    /// An existing run: a path to its directory, or its id in `store`'s runs.
    pub fn open(store: Option<&Store>, run: &str) -> Result<RunDir> {
        let as_path = PathBuf::from(run);
        let dir = if as_path.join("run.json").is_file() {
            as_path
        } else {
            match store {
                Some(s) => Self::root(s).join(run),
                None => as_path,
            }
        };
        if !dir.join("run.json").is_file() {
            let where_ = store.map_or("the current directory".into(), |s| {
                Self::root(s).display().to_string()
            });
            return Err(Error::data(
                format!("run {run}"),
                format!("no such run (neither a run directory nor a run id in {where_})"),
            ));
        }
        Ok(RunDir { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The driver's lock on the run, held while it waits and resubmits (released when the process
    /// ends, however it ends): `None` when another live driver holds it.
    pub fn lock_driver(&self) -> Result<Option<std::fs::File>> {
        let path = self.dir.join("driver.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Removes a run that was never submitted (its first submission failed), so it leaves
    /// nothing behind; a run with a submission is kept.
    pub fn discard_unsubmitted(&self) -> Result<()> {
        if self.submissions()?.is_empty() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(())
    }

    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn manifest(&self) -> PathBuf {
        self.dir.join("manifest.jsonl")
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    fn status_path(&self, index: usize) -> PathBuf {
        self.dir.join("status").join(format!("{index}.json"))
    }

    fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let path = self.dir.join(name);
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::data(path.display().to_string(), e.to_string()))?;
        atomic_write(&path, format!("{text}\n").as_bytes())
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::data(
                path.display().to_string(),
                format!("unreadable run file: {e}"),
            )
        })
    }

    pub fn record(&self) -> Result<RunRecord> {
        let r: RunRecord = self.read_json(&self.dir.join("run.json"))?;
        if r.format != RUN_FORMAT {
            return Err(Error::data(
                self.dir.join("run.json").display().to_string(),
                format!("format '{}', expected '{RUN_FORMAT}'", r.format),
            ));
        }
        Ok(r)
    }

    pub fn submissions(&self) -> Result<Vec<Submission>> {
        self.read_json(&self.dir.join("submissions.json"))
    }

    /// Appends a submission (the driver is the only writer).
    pub fn add_submission(&self, s: Submission) -> Result<()> {
        let mut all = self.submissions()?;
        all.push(s);
        self.write_json("submissions.json", &all)
    }

    /// Records how element `status.index`'s attempt ended (the worker's last act).
    pub fn write_status(&self, status: &ElementStatus) -> Result<()> {
        let text = serde_json::to_string_pretty(status)
            .map_err(|e| Error::data("element status", e.to_string()))?;
        atomic_write(self.status_path(status.index), text.as_bytes())
    }

    /// Element `index`'s last recorded ending, if any (an unreadable one counts as none: the
    /// worker died writing it).
    pub fn status(&self, index: usize) -> Option<ElementStatus> {
        self.read_json(&self.status_path(index)).ok()
    }

    /// Attempts so far per element, from the submissions.
    pub fn attempts(&self) -> Result<BTreeMap<usize, u32>> {
        let mut m = BTreeMap::new();
        for s in self.submissions()? {
            for &i in &s.indices {
                *m.entry(i).or_insert(0) += 1;
            }
        }
        Ok(m)
    }
}

/// The run directory a manifest belongs to (its parent).
pub fn run_of_manifest(manifest: &Path) -> RunDir {
    RunDir {
        dir: manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

/// Line `index` (from 0) of a manifest. Errors name the manifest and the line.
pub fn read_element(manifest: &Path, index: usize) -> Result<Element> {
    let text = std::fs::read_to_string(manifest).map_err(|e| Error::io(manifest, e))?;
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let line = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .nth(index)
        .ok_or_else(|| {
            Error::caller(
                crate::error::Field::Setting("index".into()),
                index.to_string(),
                format!(
                    "{} has {lines} element(s) (indices 0-{})",
                    manifest.display(),
                    lines.saturating_sub(1)
                ),
            )
        })?;
    serde_json::from_str(line).map_err(|e| {
        Error::data(
            format!("{} line {}", manifest.display(), index + 1),
            format!("not a pertitle task element: {e}"),
        )
    })
}

/// Computes an element's tasks into its store (those already there are reused). The engine is
/// rebuilt from the element's `[scoring]`; a model that differs from the driver's (another file
/// at the same path on this machine) is refused, since its results would be stored under keys
/// that describe another model.
pub fn run_element(
    el: &Element,
    opts: RunOptions,
    on_event: &(dyn Fn(Event) -> bool + Sync),
) -> Result<()> {
    let store = Store::open(&el.store)?;
    let (engine, settings) = engine_for_scoring(&el.scoring, 0)?;
    if let Some(t) = el.tasks.iter().find(|t| t.engine != settings) {
        return Err(Error::Mismatch(format!(
            "model {}: differs on this machine from the one the run was planned with (task {})",
            el.scoring.model,
            t.key()
        )));
    }
    let runner = Runner::new(opts)?;
    let input = el.input.clone();
    let open = move || input.open();
    runner.run(&el.tasks, &open, &engine, Some(&store), on_event)?;
    Ok(())
}

/// Which of a run's tasks the store holds, verified.
pub fn done_tasks(record: &RunRecord, store: &Store) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    for t in record.elements.iter().flat_map(|e| &e.tasks) {
        if let Lookup::Hit(_) = store.lookup(&t.key)? {
            done.insert(t.key.clone());
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(0), "19700101-000000");
        // 2026-12-05 07:30:15 UTC
        assert_eq!(stamp(1_796_455_815), "20261205-073015");
        // a leap day
        assert_eq!(stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(TaskExit::Done.code(), 0);
        assert_eq!(TaskExit::Permanent.code(), 1);
        assert_eq!(TaskExit::Usage.code(), 2);
        assert_eq!(TaskExit::Transient.code(), 75);
        let io = Error::io("/x", std::io::Error::other("stale NFS handle"));
        assert_eq!(TaskExit::of(&io), TaskExit::Transient);
        let gone = Error::io("/x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(TaskExit::of(&gone), TaskExit::Permanent);
        assert_eq!(TaskExit::of(&Error::Cancelled), TaskExit::Transient);
        assert_eq!(
            TaskExit::of(&Error::media("a.mp4", "no video stream")),
            TaskExit::Permanent
        );
    }
}
