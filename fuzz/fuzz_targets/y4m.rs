//! The `.y4m` reader on arbitrary bytes, through the public `media::open` (the same path a user's
//! file takes): opening gives a source or a `Media`/`Io` error, and reading every frame either
//! delivers exactly the announced frames in the announced format or stops with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pertitle::media::{self, InputOptions};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch file per fuzzing process (in RAM where /dev/shm exists), rewritten per input:
/// the reader opens files by path (it seeks to count frames).
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("pertitle-fuzz-{}.y4m", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let Ok(mut src) = media::open(path, &InputOptions::default()) else {
        return;
    };
    let info = src.info().clone();
    let mut n = 0u64;
    loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                assert_eq!(f.format, info.format, "frame {n} format");
                assert_eq!(f.index, n, "frame index");
                let depth_max = f.format.max_value();
                if f.format.bit_depth == 8 {
                    assert!(f
                        .planes
                        .iter()
                        .all(|p| p.data.iter().all(|&s| s <= depth_max)));
                }
                n += 1;
                assert!(
                    n <= info.frames,
                    "more frames than announced ({})",
                    info.frames
                );
            }
            Ok(None) => {
                assert_eq!(n, info.frames, "fewer frames than announced");
                break;
            }
            Err(_) => break,
        }
    }
});
