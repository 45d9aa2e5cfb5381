//! Quality engine against the libvmaf oracle.

use crate::libvmaf;

#[test]
fn oracle_links_and_is_libvmaf_3() {
    assert!(
        libvmaf::version().starts_with('3'),
        "libvmaf {}",
        libvmaf::version()
    );
}
