//! Command-line interface: argument parsing (clap), progress bars (indicatif) and printing. All the
//! work is done by the library; this layer only translates.

use clap::Parser;
use pertitle::error::{Field, Origin};

pub mod args;
mod batch;
mod bdrate;
mod common;
mod compare;
mod encode;
mod hull;
mod interrupt;
mod ladder;
mod model;
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
        Command::Encode(a) => encode::run(&cli, a),
        Command::Verify(a) => encode::verify(&cli, a),
        Command::Task(args::TaskCommand::Run(a)) => batch::task_run(&cli, a),
        Command::Status(a) => batch::status(&cli, a),
        Command::Collect(a) => batch::collect(&cli, a),
        Command::Features(a) => model::features(&cli, a),
        Command::Train(a) => model::train(&cli, a),
        Command::Eval(a) => model::eval(&cli, a),
    };
    match result {
        Ok(()) => 0,
        // Already reported by the command (what was kept); 128 + SIGINT as shells expect.
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => 130,
        Err(e) => {
            eprintln!("pertitle: {}", one_line(&e));
            exit_code(&e)
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

/// The user stopped the command (Ctrl-C) and it has said what was kept; exit code 130. Returned,
/// not `process::exit`ed, so the command's cleanup still runs.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// A failure with an exit code of its own (`task run`'s contract: 75 = transient).
#[derive(Debug)]
pub struct Exit(pub i32, pub String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Exit {}

/// A command-line misuse detected after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The flag that sets a library configuration field, if there is one.
fn flag_for(field: &Field) -> Option<&'static str> {
    Some(match field {
        Field::Frames => "--frames",
        Field::Threads => "--threads",
        Field::InputSize => "--size",
        Field::InputPixFmt => "--pix-fmt",
        Field::InputFps => "--fps",
        Field::Recipe(key) => match key.as_str() {
            "encoder.codec" => "--codec",
            "encoder.preset" => "--preset",
            "grid.sizes" => "--sizes",
            "grid.crf" => "--crf",
            "grid.fps_cap" => "--fps-cap",
            "scoring.model" => "--model",
            "ladder.metric" => "--metric",
            "ladder.step" => "--step",
            "ladder.quality_cap" => "--quality-cap",
            "ladder.min_quality" => "--min-quality",
            "ladder.min_kbps" => "--min-kbps",
            "ladder.max_kbps" => "--max-kbps",
            "ladder.max_rungs" => "--max-rungs",
            "ladder.min_ratio" => "--min-ratio",
            "ladder.max_ratio" => "--max-ratio",
            "ladder.min_height" => "--min-height",
            "ladder.required_heights" => "--required-heights",
            "ladder.rate_control" => "--rate-control",
            _ => return None,
        },
        _ => return None,
    })
}

/// The flag a library error is about, when the wrong value was typed on the command line: a
/// configuration error of [`Origin::Caller`] whose field has a flag.
fn misused_flag(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    match e.downcast_ref::<pertitle::Error>() {
        Some(pertitle::Error::Config {
            field,
            origin: Origin::Caller,
            ..
        }) => flag_for(field),
        _ => None,
    }
}

/// Exit code of a failed command: 2 for command-line misuse (a [`UsageError`], or a wrong value
/// of a flag), 1 for everything else, including a wrong value in a recipe file and failures of
/// the run itself (a thread pool that cannot be built).
fn exit_code(e: &anyhow::Error) -> i32 {
    if let Some(Exit(code, _)) = e.chain().find_map(|c| c.downcast_ref::<Exit>()) {
        return *code;
    }
    let misuse = e
        .chain()
        .any(|c| c.downcast_ref::<UsageError>().is_some() || misused_flag(c).is_some());
    if misuse {
        2
    } else {
        1
    }
}

/// One cause as the user reads it: a wrong flag value is named by its flag.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    match (misused_flag(e), e.downcast_ref::<pertitle::Error>()) {
        (Some(flag), Some(pertitle::Error::Config { reason, .. })) => format!("{flag}: {reason}"),
        (_, Some(pertitle::Error::Damaged { .. })) => {
            format!("{e}; pass --allow-decode-errors to accept")
        }
        _ => e.to_string(),
    }
}

/// The error and its causes on one line, without repeating a cause already in the message.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = describe(cause);
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

#[cfg(test)]
mod tests {
    use super::*;
    use pertitle::Error;

    #[test]
    fn misuse_is_only_a_flag_value_from_the_command_line() {
        let code = |e: Error| exit_code(&anyhow::Error::new(e));
        // A value typed on the command line: misuse, named by its flag.
        let crf = Error::invalid(
            Field::recipe("grid.crf"),
            Origin::Caller,
            "99",
            "CRF 99 ...",
        );
        assert_eq!(one_line(&anyhow::Error::new(crf)), "--crf: CRF 99 ...");
        assert_eq!(
            code(Error::invalid(Field::Threads, Origin::Caller, "0", "x")),
            2
        );
        assert_eq!(
            code(Error::invalid(Field::InputSize, Origin::Caller, "", "x")),
            2
        );
        // The same key in a recipe file: a failure, named by the key.
        let crf = Error::invalid(
            Field::recipe("grid.crf"),
            Origin::Recipe,
            "99",
            "CRF 99 ...",
        );
        assert_eq!(one_line(&anyhow::Error::new(crf)), "grid.crf: CRF 99 ...");
        assert_eq!(code(Error::config("grid.crf", "x")), 1);
        // A caller-given value with no flag, and runtime failures: not misuse.
        assert_eq!(
            code(Error::invalid(
                Field::recipe("scaling.up"),
                Origin::Caller,
                "",
                "x"
            )),
            1
        );
        assert_eq!(code(Error::resource("thread pool", "cannot spawn")), 1);
        assert_eq!(code(Error::media("a.mp4", "no video stream")), 1);
        // Misuse stays misuse under context.
        let e = anyhow::Error::new(Error::invalid(Field::Frames, Origin::Caller, "0", "x"))
            .context("reading a.mp4");
        assert_eq!(exit_code(&e), 2);
        assert_eq!(exit_code(&anyhow::Error::new(UsageError("--x".into()))), 2);
    }
}
