//! Command-line interface: argument parsing (clap), progress bars (indicatif) and printing. All the
//! work is done by the library; this layer only translates.

use clap::Parser;

pub mod args;
mod bdrate;
mod common;
mod compare;
mod hull;
mod interrupt;
mod ladder;
mod probe;
mod progress;
mod score;

use args::{Cli, Command};

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    interrupt::install();
    let result = match &cli.command {
        Command::Probe(a) => probe::run(&cli, a),
        Command::Ladder(a) => ladder::run(&cli, a),
        Command::Score(a) => score::run(&cli, a),
        Command::Hull(a) => hull::run(&cli, a),
        Command::Bdrate(a) => bdrate::run(&cli, a),
        Command::Compare(a) => compare::run(&cli, a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pertitle: {}", one_line(&e));
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

/// A command-line misuse detected after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The error and its causes on one line, without repeating a cause already in the message.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if s.is_empty() || out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out.replace('\n', " ")
}

/// Peak resident memory of this process so far, in MiB (getrusage).
pub fn peak_rss_mib() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}
