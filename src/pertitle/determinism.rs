//! Process settings the byte-identical outputs rely on, applied by the library itself (by every
//! [`crate::pipeline::Runner`] and every [`crate::media::Encoder`]) so library users get them as
//! the command does.
//!
//! libx264's AVX-512 kernels read bytes of their own buffers that they never wrote: the same
//! encode gave 20972, 20975 or 21022 bytes at 192x108 depending on what the process had freed
//! before. glibc's `M_PERTURB` makes every `malloc`ed byte defined (`calloc` is exempt, as it
//! zeroes), so an encode's bytes no longer depend on the heap's history, and a resumed run
//! writes what an uninterrupted one writes. Elsewhere than glibc (musl, macOS) there is no such
//! switch: outputs are then reproducible run to run only as far as the encoders are. It costs a
//! `memset` of every block on `malloc` and on `free`, so it is switched on when the first encoder
//! is made ([`init`]), not by work that encodes nothing (`pertitle score` at 720p ran 5 % faster
//! without it).
//!
//! [`memory`] keeps one malloc arena whose frame-sized blocks are reused and not trimmed
//! eagerly: frames (MBs each) are allocated on one thread and freed on another, and with
//! glibc's per-thread arenas they piled up in arenas that are never given back (peak RSS 5 GB
//! for 1.9 GB alive). That is memory, not determinism; it is best set before any thread exists
//! (`main` does), as arenas are made as threads first allocate.

use std::sync::Once;

/// glibc's `M_PERTURB` (malloc.h); not exported by the libc crate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_PERTURB: libc::c_int = -6;

/// Applies [`memory`] and the heap perturbation encoders need (once per process; later calls do
/// nothing). Every allocation made after it is perturbed, which is what the encoders need.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        memory();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets an allocator parameter; glibc takes the arena lock for it,
        // so it is sound with other threads allocating. The value is a documented one.
        unsafe {
            libc::mallopt(M_PERTURB, 0xff);
        }
    });
}

/// The allocator's arena and thresholds (once per process; later calls do nothing).
pub fn memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets allocator parameters; glibc takes the arena lock for it, so
        // it is sound with other threads allocating. The values are documented ones.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        }
    });
}

/// Whether this platform has the switch (glibc): outputs are byte-reproducible only there.
pub const HEAP_PERTURBED: bool = cfg!(all(target_os = "linux", target_env = "gnu"));
