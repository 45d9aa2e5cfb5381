//! Ctrl-C handling: the first SIGINT/SIGTERM sets a flag the long-running commands poll (through
//! the library's progress callbacks) so they stop cleanly and say what was kept; a second one
//! exits at once.

use std::sync::atomic::{AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_sig: libc::c_int) {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // Second signal: the user insists. Exit without unwinding.
        // SAFETY: _exit is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(130) };
    }
}

pub fn install() {
    // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only touches an atomic and calls
    // `_exit`, both async-signal-safe, so it is a valid handler for these signals.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// True once the user asked to stop.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
