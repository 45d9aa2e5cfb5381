//! The `pertitle` command: a thin layer over the library (see `src/cli/`).
//!
//! Exit codes: 0 success, 1 failure (the error is printed as one line), 2 command-line misuse.

// Every unsafe block (signal handling) says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

mod cli;

fn main() {
    // SVT-AV1 logs its configuration straight to stderr (not through FFmpeg's log); keep it to
    // errors unless the user asked otherwise. Set before any thread exists.
    if std::env::var_os("SVT_LOG").is_none() {
        std::env::set_var("SVT_LOG", "1");
    }
    // The allocator's arena settings, before any thread exists (the heap perturbation that
    // encodes rely on is switched on by the first encoder).
    pertitle::determinism::memory();
    // A panic is a bug, but the user still gets one line and exit 1, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("pertitle: internal error: {msg}{at} (please report this)");
    }));
    let code = std::panic::catch_unwind(cli::main).unwrap_or(1);
    std::process::exit(code);
}
