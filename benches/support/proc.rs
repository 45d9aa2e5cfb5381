//! Process accounting for the benchmarks: wall clock, CPU of this process and of every reaped
//! child (getrusage), and per-child CPU and peak RSS through `wait4`, so a child's own cost can be
//! attributed (the x264 encode floor) without a `/usr/bin/time` wrapper.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

/// CPU seconds (user + system) and peak resident set size of one process or a group.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub user: f64,
    pub sys: f64,
    /// KiB, as Linux reports `ru_maxrss`.
    pub maxrss_kib: u64,
}

impl Usage {
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }

    fn from_raw(ru: &libc::rusage) -> Usage {
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
        Usage {
            user: t(ru.ru_utime),
            sys: t(ru.ru_stime),
            maxrss_kib: ru.ru_maxrss as u64,
        }
    }
}

fn rusage(who: libc::c_int) -> Usage {
    // SAFETY: getrusage fills a plain struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        Usage::from_raw(&ru)
    }
}

/// A point in time with the CPU consumed so far by this process and by its reaped children.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    wall: Instant,
    own: Usage,
    children: Usage,
}

/// Wall and CPU seconds between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub wall: f64,
    /// This process (e.g. libvmaf scoring in-process).
    pub own_cpu: f64,
    /// Children reaped in between (ffmpeg, pertitle).
    pub children_cpu: f64,
}

impl Span {
    pub fn cpu(&self) -> f64 {
        self.own_cpu + self.children_cpu
    }
}

impl Snapshot {
    pub fn now() -> Snapshot {
        Snapshot {
            wall: Instant::now(),
            own: rusage(libc::RUSAGE_SELF),
            children: rusage(libc::RUSAGE_CHILDREN),
        }
    }

    pub fn since(&self) -> Span {
        let now = Snapshot::now();
        Span {
            wall: now.wall.duration_since(self.wall).as_secs_f64(),
            own_cpu: now.own.cpu() - self.own.cpu(),
            children_cpu: now.children.cpu() - self.children.cpu(),
        }
    }
}

/// What a finished child did.
#[derive(Debug)]
pub struct Child {
    pub usage: Usage,
    pub wall: f64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion, reaping it with `wait4` to get its own rusage. Fails with the
/// command line and its stderr when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Child, String> {
    let line = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {line}: {e}"))?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        // SAFETY: wait4 on our own child's pid with out-pointers to owned structs.
        let (rc, status, ru) = unsafe {
            let mut status: libc::c_int = 0;
            let mut ru: libc::rusage = std::mem::zeroed();
            let rc = libc::wait4(pid, &mut status, 0, &mut ru);
            (rc, status, ru)
        };
        if rc == pid {
            break (status, Usage::from_raw(&ru));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 {line}: {e}"));
        }
    };
    // The child is reaped; std's handle must not wait on it again (dropping it does not).
    drop(child);
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    let wall = start.elapsed().as_secs_f64();
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        return Err(format!(
            "{line} failed (status {status:#x}): {}",
            stderr.trim()
        ));
    }
    Ok(Child {
        usage,
        wall,
        stdout,
        stderr,
    })
}

/// Logical CPUs available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The CPU's model name (from /proc/cpuinfo), so figures say which machine they are from.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The 1-, 5- and 15-minute load averages, to say how busy the shared machine was.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
