//! The `pertitle` command: a thin layer over the library (see `src/cli/`).
//!
//! Exit codes: 0 success, 1 failure (the error is printed as one line), 2 command-line misuse.

mod cli;

/// glibc's `M_PERTURB` (malloc.h); not exported by the libc crate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_PERTURB: libc::c_int = -6;

fn main() {
    // SVT-AV1 logs its configuration straight to stderr (not through FFmpeg's log); keep it to
    // errors unless the user asked otherwise. Set before any thread exists.
    if std::env::var_os("SVT_LOG").is_none() {
        std::env::set_var("SVT_LOG", "1");
    }
    // reliability: make every malloc'ed byte defined (zero: the complement of 0xff) before it is
    // used. libx264's AVX-512 kernels read uninitialised bytes of its own buffers (seen at
    // 192x108: the same encode gave 20972, 20975 or 21022 bytes depending on what the process
    // had freed before, e.g. in an earlier wave), which broke byte-identical outputs between an
    // interrupted-and-resumed run and a fresh one. Cost: a memset per malloc/free (calloc is
    // exempt), small next to encoding. Same effect as MALLOC_PERTURB_=255.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is called before any thread exists; it only sets an allocator parameter.
    unsafe {
        libc::mallopt(M_PERTURB, 0xff);
        // Frames (MBs each) come and go by the thousand, allocated on one thread and freed on
        // another. With glibc's per-thread arenas they piled up in arenas that are never given
        // back (peak RSS 5 GB for 1.9 GB alive); with each frame in its own mapping instead
        // (a 1 MiB mmap threshold) every frame cost ~450 page faults and a kernel-zeroed page
        // each (1.3 M faults for a 4-point grid). One arena, frame-sized blocks kept in it and
        // not trimmed eagerly: a freed frame is reused by the next one on any thread, and RSS
        // follows what is alive (4-point demo grid: 1.3 M -> 0.31 M faults, peak RSS 1.54 ->
        // 1.31 GB). Our threads allocate whole frames, not small objects, so the single
        // arena's lock is not contended.
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
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
