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
        // --help and --version are not errors: printed as clap renders them.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            eprintln!("pertitle: {}", clap_one_line(&e.render().to_string()));
            return 2;
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
        // Already reported by the command (what was kept); 128 + SIGINT as shells expect.
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => 130,
        Err(e) => {
            eprintln!("pertitle: {}", one_line(&e));
            if is_usage(&e) {
                2
            } else {
                1
            }
        }
    }
}

/// Clap's misuse report (message, tips, then a usage section) as one line, like every other error:
/// the text before the usage section, its lines joined, then where to look.
fn clap_one_line(rendered: &str) -> String {
    let mut text = String::new();
    for l in rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
    {
        if !text.is_empty() {
            // A list (`<ARG>`, `--flag`) follows its "...:" heading; a tip is a sentence of its own.
            text.push_str(if text.ends_with(':') {
                " "
            } else if l.starts_with(['<', '-']) {
                ", "
            } else {
                "; "
            });
        }
        text.push_str(l);
    }
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text} (see --help)")
}

/// The user stopped the command (Ctrl-C) and it has said what was kept; exit code 130.
/// (reliability: returned instead of `process::exit` so the command's cleanup still runs.)
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// A command-line misuse detected after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Command-line misuse (exit 2): a [`UsageError`], or a library configuration error whose key is
/// a command-line flag (`--crf`, `--sizes`, `--size`, ...): the value the user typed is wrong, as
/// opposed to a file (recipe, model, media) that is wrong (exit 1). (reliability: raw input
/// without `--size` and out-of-range flag values used to exit 1.)
fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<UsageError>().is_some()
            || matches!(
                c.downcast_ref::<pertitle::Error>(),
                Some(pertitle::Error::Config { key, .. }) if key.starts_with("--")
            )
    })
}

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
