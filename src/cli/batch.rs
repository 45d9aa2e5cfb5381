//! The executor choice of `ladder` and `compare`, and the commands of the batch contract:
//! `task run` (what an array element runs), `status` and `collect`.

use super::args::{Cli, CollectArgs, Command, ExecutorArg, ExecutorArgs, StatusArgs, TaskRunArgs};
use super::{interrupt, Exit, UsageError};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pertitle::batch::{self, ElementPlan, Job, RunDir, TaskExit};
use pertitle::pipeline::{Event, RunOptions};
use pertitle::slurm::{self, SlurmEvent, SlurmOptions};
use pertitle::store::Store;
use std::collections::HashSet;
use std::io::IsTerminal;

/// Where a command's grid tasks are computed.
pub enum Exec {
    /// In this process (the runs compute what the store lacks).
    Local,
    /// As a Slurm job array; with `detach`, submitted and left running.
    Slurm {
        opts: SlurmOptions,
        detach: bool,
        element_frames: u64,
    },
    /// Write the run's manifest for another batch system; run nothing.
    Manifest,
    /// `collect`: everything must already be in the store.
    Collect { run: String },
}

/// This command line (without the program) for `run.json`, which `collect` parses again.
fn command_line() -> Result<Vec<String>> {
    std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string().map_err(|a| {
                UsageError(format!(
                    "{}: a batch run records its command line as text, and this argument is not UTF-8",
                    a.to_string_lossy()
                ))
                .into()
            })
        })
        .collect()
}

/// What the command does after [`ensure`].
pub enum Ready {
    /// The store holds every task (or the runs compute them locally): build the ladders.
    Go,
    /// Submitted and detached: nothing more to do now.
    Detached,
}

impl Exec {
    /// From the flags; `--detach` without Slurm and Slurm without a store are misuse.
    pub fn from_args(a: &ExecutorArgs, store: Option<&Store>) -> Result<Exec> {
        match a.executor {
            ExecutorArg::Local => {
                if a.detach {
                    return Err(UsageError(
                        "--detach: only with --executor slurm (a local run cannot outlive this process)".into(),
                    )
                    .into());
                }
                Ok(Exec::Local)
            }
            ExecutorArg::Slurm | ExecutorArg::Manifest if store.is_none() => Err(UsageError(
                "--no-cache: a batch executor's workers hand their results back through the result store; name one on a shared filesystem with --cache".into(),
            )
            .into()),
            ExecutorArg::Manifest => Ok(Exec::Manifest),
            ExecutorArg::Slurm => {
                let program = std::env::current_exe()
                    .context("finding the pertitle program for the workers")?;
                let mut opts = SlurmOptions::new(program);
                opts.partition = a.partition.clone();
                opts.max_parallel = a.max_parallel;
                opts.cpus_per_task = a.cpus_per_task;
                opts.time_limit = a.time_limit.clone();
                opts.mem = a.mem.clone();
                opts.sbatch_args = a.sbatch_arg.clone();
                opts.retries = a.retries;
                Ok(Exec::Slurm {
                    opts,
                    detach: a.detach,
                    element_frames: a.element_frames,
                })
            }
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Exec::Local)
    }
}

/// Makes sure the store holds every task of `jobs` before the command builds its outputs:
/// nothing to do locally; with Slurm, the missing tasks submitted as one job array and waited
/// for (or left running with `--detach`); for `collect`, an error naming what is missing.
pub fn ensure(
    cli: &Cli,
    exec: &Exec,
    jobs: &[Job],
    store: Option<&Store>,
    label: &str,
) -> Result<Ready> {
    let (Some(store), false) = (store, exec.is_local()) else {
        return Ok(Ready::Go);
    };
    let plan = match exec {
        Exec::Slurm {
            element_frames,
            opts,
            ..
        } => ElementPlan {
            slots: slurm::slots(opts)?,
            max_task_frames: *element_frames,
        },
        _ => ElementPlan {
            slots: 1,
            max_task_frames: batch::ELEMENT_TASK_FRAMES,
        },
    };
    let planning = std::time::Instant::now();
    let elements = batch::plan_elements(jobs, store, plan)?;
    let planned = planning.elapsed().as_secs_f64();
    let tasks: usize = jobs.iter().map(|j| j.tasks.len()).sum();
    let missing: usize = elements.iter().map(|e| e.tasks.len()).sum();
    match exec {
        Exec::Local => Ok(Ready::Go),
        Exec::Collect { run } => {
            if missing == 0 {
                return Ok(Ready::Go);
            }
            let first = &elements[0];
            let t = &first.tasks[0];
            Err(anyhow::anyhow!(
                "run {run} is not complete: {missing} of {tasks} task(s) are not in the store yet (the first: {} frames {}-{} at {}x{}); `pertitle status {run}` shows what runs and what failed",
                first.title,
                t.filters.frames.start,
                t.filters.frames.start + t.filters.frames.count.unwrap_or(t.source.frames) - 1,
                t.filters.width,
                t.filters.height,
            ))
        }
        Exec::Manifest => {
            if elements.is_empty() {
                if !cli.quiet {
                    eprintln!(
                        "all {tasks} task(s) are in the store {}; nothing to run",
                        store.dir().display()
                    );
                }
                return Ok(Ready::Go);
            }
            let cwd = std::env::current_dir().context("the current directory")?;
            let run = RunDir::create(store, label, command_line()?, cwd, &elements)?;
            println!("{}", run.id());
            if !cli.quiet {
                eprintln!(
                    "run {}: {missing} of {tasks} task(s) in {} element(s): run `pertitle task run {} --index I` for I in 0..{}, then `pertitle collect {}`",
                    run.id(),
                    elements.len(),
                    run.manifest().display(),
                    elements.len(),
                    run.id()
                );
            }
            Ok(Ready::Detached)
        }
        Exec::Slurm { opts, detach, .. } => {
            if elements.is_empty() {
                if !cli.quiet {
                    eprintln!(
                        "all {tasks} task(s) are in the store {}; nothing to submit",
                        store.dir().display()
                    );
                }
                return Ok(Ready::Go);
            }
            let cwd = std::env::current_dir().context("the current directory")?;
            let command = command_line()?;
            let keys: HashSet<String> = elements
                .iter()
                .flat_map(|e| e.tasks.iter().map(|t| t.key()))
                .collect();
            if let Some(run) = slurm::running_run(store, &command, &cwd, &keys)? {
                // This command's jobs are still queued (its driver was stopped, or it was
                // detached): wait for them, or say so, instead of submitting the tasks twice.
                let id = run.id();
                if *detach {
                    println!("{id}");
                    if !cli.quiet {
                        eprintln!("run {id} of the same command is still in Slurm's queue: nothing submitted; `pertitle status {id}`");
                    }
                    return Ok(Ready::Detached);
                }
                if !cli.quiet {
                    eprintln!(
                        "run {id} of the same command is still in Slurm's queue: waiting for it instead of submitting its tasks again"
                    );
                }
                wait_for(cli, &run, store, opts, planned)?;
                return complete(jobs, store, &id);
            }
            let run = RunDir::create(store, label, command, cwd, &elements)?;
            let id = run.id();
            if !cli.quiet {
                eprintln!(
                    "run {id}: {missing} of {tasks} task(s) to compute ({} reused from the store) in {} array element(s); run directory {}",
                    tasks - missing,
                    elements.len(),
                    run.dir().display()
                );
            }
            if *detach {
                let all: Vec<usize> = (0..elements.len()).collect();
                let subs = slurm::submit(&run, &all, 1, opts).inspect_err(|_| discard(&run))?;
                let jobs: Vec<&str> = subs.iter().map(|s| s.job.as_str()).collect();
                // The run id on stdout alone, for scripts; the rest on stderr.
                println!("{id}");
                if !cli.quiet {
                    eprintln!(
                        "submitted as Slurm job {}; follow it with `pertitle status {id}`, write the outputs with `pertitle collect {id}` when it is done",
                        jobs.join(", ")
                    );
                }
                return Ok(Ready::Detached);
            }
            wait_for(cli, &run, store, opts, planned)?;
            complete(jobs, store, &id)
        }
    }
}

/// After the waiting: every task must now be in the store (the ladders are built from it, and
/// nothing is computed on the driver behind the user's back). The wait verified its run's
/// entries; this only checks they exist, so a long title's store is not read once more.
fn complete(jobs: &[Job], store: &Store, id: &str) -> Result<Ready> {
    let n = jobs
        .iter()
        .flat_map(|j| &j.tasks)
        .filter(|t| !store.entry_path(&t.key()).is_file())
        .count();
    if n > 0 {
        return Err(anyhow::anyhow!(
            "run {id}: {n} task(s) are still not in the store after it ended (the run planned other tasks than this command does now?); run the command again to submit them"
        ));
    }
    Ok(Ready::Go)
}

/// Removes a run whose submission failed, after cancelling anything Slurm may have accepted
/// anyway (an sbatch that timed out can have submitted the job).
fn discard(run: &RunDir) {
    let _ = std::process::Command::new("scancel")
        .arg(format!("--name=pertitle-{}", run.id()))
        .output();
    let _ = run.discard_unsubmitted();
}

/// The waiting driver: [`slurm::run_to_completion`] with the progress shown, timings with -v.
fn wait_for(
    cli: &Cli,
    run: &RunDir,
    store: &Store,
    opts: &SlurmOptions,
    planned: f64,
) -> Result<Ready> {
    let id = run.id();
    let Some(_lock) = run.lock_driver()? else {
        return Err(anyhow::anyhow!(
            "run {id}: another pertitle is already waiting for it; follow it with `pertitle status {id}`"
        ));
    };
    let watch = Watch::new(cli.quiet);
    let waiting = std::time::Instant::now();
    let r = slurm::run_to_completion(run, store, opts, &|e| watch.event(e));
    watch.finish();
    if cli.verbose {
        let submitted = watch
            .submitted
            .lock()
            .ok()
            .and_then(|t| *t)
            .map_or(f64::NAN, |t| (t - waiting).as_secs_f64());
        eprintln!(
            "slurm timings: planned the elements in {planned:.2} s, submitted in {submitted:.2} s, all results in the store after {:.1} s",
            waiting.elapsed().as_secs_f64()
        );
    }
    if r.is_err() {
        discard(run);
    }
    match r {
        Err(e) if e.is_cancelled() && interrupt::requested() => {
            eprintln!(
                "pertitle: interrupted; the Slurm jobs of run {id} keep running: `pertitle status {id}`, then `pertitle collect {id}` (or `scancel --name=pertitle-{id}` to stop them)"
            );
            Err(super::Interrupted.into())
        }
        r => {
            r?;
            Ok(Ready::Go)
        }
    }
}

/// The driver's view while it waits: a bar on a terminal, a line per change otherwise (logs).
struct Watch {
    bar: Option<ProgressBar>,
    quiet: bool,
    last: std::sync::Mutex<(usize, usize, usize, std::time::Instant)>,
    /// When the first submission returned.
    submitted: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Watch {
    fn new(quiet: bool) -> Watch {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "   slurm [{bar:30}] {pos}/{len} task-frames {msg} {elapsed_precise} eta {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            b
        });
        Watch {
            bar,
            quiet,
            last: std::sync::Mutex::new((usize::MAX, 0, 0, std::time::Instant::now())),
            submitted: std::sync::Mutex::new(None),
        }
    }

    fn say(&self, line: String) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn event(&self, e: SlurmEvent) -> bool {
        match e {
            SlurmEvent::Submitted {
                job,
                elements,
                attempt,
            } => {
                if let Ok(mut t) = self.submitted.lock() {
                    t.get_or_insert_with(std::time::Instant::now);
                }
                self.say(match attempt {
                    1 => format!("submitted Slurm job {job} ({elements} element(s))"),
                    n => format!(
                        "resubmitted as Slurm job {job} ({elements} element(s), attempt {n})"
                    ),
                })
            }
            SlurmEvent::Retrying { elements, attempt } => {
                for el in elements {
                    self.say(format!("retrying (attempt {attempt}): {el}"));
                }
            }
            SlurmEvent::Progress {
                tasks_done,
                tasks,
                frames_done,
                frames,
                running,
                pending,
            } => {
                if let Some(b) = &self.bar {
                    b.set_length(frames);
                    b.set_position(frames_done);
                    b.set_message(format!(
                        "| {tasks_done}/{tasks} tasks, {running} running, {pending} pending"
                    ));
                } else if let Ok(mut last) = self.last.lock() {
                    // Plain lines: on change, at most every 10 s.
                    let now = (tasks_done, running, pending);
                    if (now.0, now.1, now.2) != (last.0, last.1, last.2)
                        && (last.0 == usize::MAX || last.3.elapsed().as_secs() >= 10)
                    {
                        *last = (now.0, now.1, now.2, std::time::Instant::now());
                        self.say(format!(
                            "slurm: {tasks_done}/{tasks} tasks ({:.0} % of frames), {running} running, {pending} pending",
                            100.0 * frames_done as f64 / frames.max(1) as f64
                        ));
                    }
                }
            }
        }
        !interrupt::requested()
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The manifest index this worker runs: `--index`, else what the scheduler set.
fn worker_index(a: &TaskRunArgs) -> Result<usize> {
    if let Some(i) = a.index {
        return Ok(i);
    }
    let var = |n: &str| -> Result<Option<usize>> {
        match std::env::var(n) {
            Ok(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| UsageError(format!("${n}: expected an index, got {v:?}")).into()),
            Err(_) => Ok(None),
        }
    };
    if let Some(i) = var("PERTITLE_TASK_INDEX")? {
        return Ok(i);
    }
    if let Some(i) = var("SLURM_ARRAY_TASK_ID")? {
        return Ok(i + var("PERTITLE_INDEX_OFFSET")?.unwrap_or(0));
    }
    for n in ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] {
        if let Some(i) = var(n)? {
            return Ok(i);
        }
    }
    Err(UsageError(
        "--index: not given, and none of $PERTITLE_TASK_INDEX, $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX, $AWS_BATCH_JOB_ARRAY_INDEX is set".into(),
    )
    .into())
}

/// Test-only: `PERTITLE_TEST_PAUSE_ELEMENT=i` and `PERTITLE_TEST_PAUSE_FILE=path` make element
/// `i` stop after its first stored task, create `path` and block until it is signalled (Slurm's
/// `scancel`), unless `path` already exists (so its retry runs through). The fault tests use it
/// to cancel an element at a known point instead of racing it.
fn test_pause_for(index: usize) -> Option<std::path::PathBuf> {
    let i: usize = std::env::var("PERTITLE_TEST_PAUSE_ELEMENT")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let marker = std::path::PathBuf::from(std::env::var_os("PERTITLE_TEST_PAUSE_FILE")?);
    (i == index && !marker.exists()).then_some(marker)
}

fn test_pause(marker: &std::path::Path) {
    // Best effort: a test that names an unwritable marker only waits for nothing.
    let _ = std::fs::write(marker, b"");
    while !interrupt::requested() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `pertitle task run`: one element, its ending recorded in the run directory for the driver,
/// the exit code as the contract says.
pub fn task_run(cli: &Cli, a: &TaskRunArgs) -> Result<()> {
    let index = worker_index(a)?;
    let run = batch::run_of_manifest(&a.manifest);
    let threads = match a.threads {
        Some(t) => t,
        None => std::env::var("SLURM_CPUS_PER_TASK")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    };
    let opts = RunOptions {
        threads,
        ..super::common::run_options(None)?
    };
    let started = std::time::Instant::now();
    let result = batch::read_element(&a.manifest, index).and_then(|el| {
        if !cli.quiet {
            eprintln!(
                "pertitle task {index}: {} task(s) of {} ({}), {} thread(s)",
                el.tasks.len(),
                el.title,
                el.store.display(),
                if threads == 0 { "all".into() } else { threads.to_string() }
            );
        }
        let total = el.tasks.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let pause = test_pause_for(index);
        batch::run_element(&el, opts, &|e| {
            if let Event::Reused {
                reused, to_compute, ..
            } = e
            {
                if !cli.quiet && reused > 0 {
                    eprintln!("  {reused} task(s) already in the store, {to_compute} to compute");
                }
                return !interrupt::requested();
            }
            if let Event::TaskDone {
                width,
                height,
                crf,
                start,
                frames,
                kbps,
                vmaf,
                ..
            } = e
            {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if !cli.quiet {
                    eprintln!(
                        "  {n}/{total} {width}x{height} crf {crf} frames {start}-{}: {kbps:.1} kbps, VMAF {vmaf:.3} ({:.1} s)",
                        start + frames.max(1) - 1,
                        started.elapsed().as_secs_f64()
                    );
                }
                if let Some(marker) = pause.as_ref().filter(|_| n == 1) {
                    test_pause(marker);
                }
            }
            !interrupt::requested()
        })
    });
    let (exit, message) = match &result {
        Ok(()) => (TaskExit::Done, "done".to_string()),
        Err(
            e @ pertitle::Error::Config {
                field: pertitle::error::Field::Setting(f),
                ..
            },
        ) if f == "index" => (TaskExit::Usage, e.to_string()),
        Err(e) => (TaskExit::of(e), e.to_string()),
    };
    // Best effort, and only in a run directory (a driver reads it): the driver treats an
    // element without a word as killed (and retries it).
    if run.dir().join("run.json").is_file() {
        if let Err(e) = run.write_status(&slurm::element_status(index, exit, message.clone())) {
            eprintln!("pertitle task {index}: could not record the status: {e}");
        }
    }
    // Slurm requeues exit 75 by itself (RequeueExit) with no limit of ours: past
    // $PERTITLE_MAX_REQUEUES restarts the worker exits 1 and leaves the decision to the driver.
    let restarts: u32 = std::env::var("SLURM_RESTART_COUNT")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let cap: Option<u32> = std::env::var("PERTITLE_MAX_REQUEUES")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    let code = match exit {
        TaskExit::Transient if cap.is_some_and(|c| restarts >= c) => TaskExit::Permanent.code(),
        e => e.code(),
    };
    match exit {
        TaskExit::Done => Ok(()),
        _ => Err(Exit(code, format!("task {index}: {message}")).into()),
    }
}

/// The store a run belongs to: `--cache`; else, for a run named by its directory
/// (`<store>/runs/<id>`), that store; else the default one.
fn store_from(cache: Option<&std::path::Path>, run: &str) -> Result<Store> {
    let dir = std::path::Path::new(run);
    let owner = dir
        .join("run.json")
        .is_file()
        .then(|| dir.parent().filter(|p| p.ends_with("runs"))?.parent())
        .flatten();
    match (cache, owner) {
        (None, Some(store)) => Ok(Store::open(store)?),
        _ => super::common::store_for(cache, false)?
            .ok_or_else(|| anyhow::anyhow!("no result store")),
    }
}

/// `pertitle status RUN`.
pub fn status(_cli: &Cli, a: &StatusArgs) -> Result<()> {
    let store = store_from(a.cache.as_deref(), &a.run)?;
    let run = RunDir::open(Some(&store), &a.run)?;
    let st = slurm::status(&run, &store)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    let hms = |s: u64| format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    println!("run {} ({})", st.id, st.dir.display());
    println!(
        "elements {}: {} done, {} running, {} pending, {} failed",
        st.elements,
        st.elements_done,
        st.running,
        st.pending,
        st.failed.len()
    );
    println!(
        "tasks {}: {} done ({:.0} % of the frames); elapsed {}, eta {}",
        st.tasks,
        st.tasks_done,
        100.0 * st.frames_done as f64 / st.frames.max(1) as f64,
        hms(st.elapsed_s),
        st.eta_s.map_or("unknown".into(), hms)
    );
    if !st.pending_reasons.is_empty() {
        let why: Vec<String> = st
            .pending_reasons
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        println!(
            "pending because (Slurm's reason): {}; held elements wait until `scontrol release`",
            why.join(", ")
        );
    }
    println!("Slurm jobs: {}", st.jobs.join(", "));
    for f in &st.failed {
        println!(
            "failed{}: {}",
            if f.permanent {
                ""
            } else {
                " (retried by the waiting driver or the next run)"
            },
            f.describe()
        );
    }
    if st.tasks_done == st.tasks {
        println!("complete: `pertitle collect {}` writes the outputs", st.id);
    }
    Ok(())
}

/// `pertitle collect RUN`: the submitting command again, from where it ran, with every task
/// taken from the store.
pub fn collect(cli: &Cli, a: &CollectArgs) -> Result<()> {
    let store = store_from(a.cache.as_deref(), &a.run)?;
    let run = RunDir::open(Some(&store), &a.run)?;
    let record = run.record()?;
    std::env::set_current_dir(&record.cwd)
        .with_context(|| format!("run {}: its directory {}", record.id, record.cwd.display()))?;
    let args = std::iter::once("pertitle".to_string()).chain(record.command.iter().cloned());
    let inner = <Cli as clap::Parser>::try_parse_from(args).map_err(|e| {
        anyhow::anyhow!(
            "run {}: its command no longer parses: {}",
            record.id,
            e.to_string().lines().next().unwrap_or("")
        )
    })?;
    let cli2 = Cli {
        quiet: cli.quiet || inner.quiet,
        verbose: cli.verbose || inner.verbose,
        command: inner.command,
    };
    let exec = Exec::Collect {
        run: record.id.clone(),
    };
    match &cli2.command {
        Command::Ladder(l) => super::ladder::run_with(&cli2, l, Some(exec)),
        Command::Compare(c) => super::compare::run_with(&cli2, c, Some(exec)),
        _ => Err(anyhow::anyhow!(
            "run {}: not a ladder or compare run",
            record.id
        )),
    }
}
