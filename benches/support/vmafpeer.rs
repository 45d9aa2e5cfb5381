//! libvmaf (through `vmaf-head-sys`) driven the way the `vmaf` CLI drives it: 8-bit planar 4:2:0
//! bytes copied straight into libvmaf's own pictures. The tests' `Libvmaf` wrapper takes
//! `pertitle::Frame`s (u16 samples) and narrows every sample, which is right for an oracle but
//! would bill libvmaf for a conversion the CLI never does; the benchmarks use this instead.
#![allow(dead_code)]

use std::ffi::{CStr, CString};
use std::ptr;
use vmaf_head_sys as sys;

pub fn version() -> String {
    // SAFETY: libvmaf returns a static NUL-terminated string.
    unsafe {
        CStr::from_ptr(sys::vmaf_version())
            .to_string_lossy()
            .into_owned()
    }
}

/// Bytes of one tightly packed 8-bit 4:2:0 frame.
pub fn frame_bytes(w: usize, h: usize) -> usize {
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// One libvmaf context scoring `vmaf_v0.6.1` (and optionally `psnr` + `float_ssim`) on 8-bit
/// 4:2:0 frames of one size.
pub struct Vmaf {
    ctx: *mut sys::VmafContext,
    model: *mut sys::VmafModel,
    w: usize,
    h: usize,
    frames: u32,
    flushed: bool,
}

// SAFETY: a libvmaf context may be used from any one thread at a time.
unsafe impl Send for Vmaf {}

impl Vmaf {
    /// `threads` is libvmaf's `n_threads`: 0 computes in the caller's thread, N ≥ 1 uses a pool of
    /// N workers.
    pub fn new(w: usize, h: usize, threads: u32, psnr_ssim: bool) -> Vmaf {
        let cfg = sys::VmafConfiguration {
            log_level: sys::VmafLogLevel_VMAF_LOG_LEVEL_NONE,
            n_threads: threads,
            n_subsample: 1,
            cpumask: 0,
            gpumask: 0,
        };
        let mut ctx = ptr::null_mut();
        // SAFETY: FFI calls with valid pointers; return codes checked.
        unsafe {
            assert_eq!(sys::vmaf_init(&mut ctx, cfg), 0, "vmaf_init");
            let name = CString::new("vmaf_v0.6.1").unwrap();
            let mut mcfg = sys::VmafModelConfig {
                name: name.as_ptr(),
                flags: sys::VmafModelFlags_VMAF_MODEL_FLAGS_DEFAULT as u64,
            };
            let mut model = ptr::null_mut();
            assert_eq!(
                sys::vmaf_model_load(&mut model, &mut mcfg, name.as_ptr()),
                0,
                "vmaf_model_load"
            );
            assert_eq!(sys::vmaf_use_features_from_model(ctx, model), 0);
            if psnr_ssim {
                for f in ["psnr", "float_ssim"] {
                    let n = CString::new(f).unwrap();
                    assert_eq!(
                        sys::vmaf_use_feature(ctx, n.as_ptr(), ptr::null_mut()),
                        0,
                        "vmaf_use_feature {f}"
                    );
                }
            }
            Vmaf {
                ctx,
                model,
                w,
                h,
                frames: 0,
                flushed: false,
            }
        }
    }

    fn picture(&self, data: &[u8]) -> sys::VmafPicture {
        assert_eq!(data.len(), frame_bytes(self.w, self.h), "frame size");
        // SAFETY: libvmaf allocates the planes; we copy each row within both buffers' bounds.
        unsafe {
            let mut pic: sys::VmafPicture = std::mem::zeroed();
            let rc = sys::vmaf_picture_alloc(
                &mut pic,
                sys::VmafPixelFormat_VMAF_PIX_FMT_YUV420P,
                8,
                self.w as u32,
                self.h as u32,
            );
            assert_eq!(rc, 0, "vmaf_picture_alloc");
            let mut off = 0;
            for i in 0..3 {
                let (pw, ph) = if i == 0 {
                    (self.w, self.h)
                } else {
                    (self.w.div_ceil(2), self.h.div_ceil(2))
                };
                let stride = pic.stride[i] as usize;
                for y in 0..ph {
                    ptr::copy_nonoverlapping(
                        data.as_ptr().add(off + y * pw),
                        (pic.data[i] as *mut u8).add(y * stride),
                        pw,
                    );
                }
                off += pw * ph;
            }
            pic
        }
    }

    /// Feeds the next reference/distorted pair (packed 8-bit 4:2:0 bytes).
    pub fn push(&mut self, reference: &[u8], distorted: &[u8]) {
        let mut r = self.picture(reference);
        let mut d = self.picture(distorted);
        // SAFETY: libvmaf takes ownership of both pictures.
        let rc = unsafe { sys::vmaf_read_pictures(self.ctx, &mut r, &mut d, self.frames) };
        assert_eq!(rc, 0, "vmaf_read_pictures");
        self.frames += 1;
    }

    /// Ends the stream (motion's last-frame rule) and waits for every score.
    pub fn flush(&mut self) {
        if !self.flushed {
            // SAFETY: null pictures are libvmaf's flush signal.
            let rc =
                unsafe { sys::vmaf_read_pictures(self.ctx, ptr::null_mut(), ptr::null_mut(), 0) };
            assert_eq!(rc, 0, "vmaf_read_pictures(flush)");
            self.flushed = true;
        }
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Mean VMAF over all frames (flushes first).
    pub fn mean_vmaf(&mut self) -> f64 {
        self.flush();
        let mut s = 0.0;
        // SAFETY: valid context and model; index range within the frames pushed.
        let rc = unsafe {
            sys::vmaf_score_pooled(
                self.ctx,
                self.model,
                sys::VmafPoolingMethod_VMAF_POOL_METHOD_MEAN,
                &mut s,
                0,
                self.frames - 1,
            )
        };
        assert_eq!(rc, 0, "vmaf_score_pooled");
        s
    }

    /// Per-frame VMAF (flushes first).
    pub fn vmaf_frames(&mut self) -> Vec<f64> {
        self.flush();
        (0..self.frames)
            .map(|i| {
                let mut s = 0.0;
                // SAFETY: valid context and model, index < frames.
                let rc = unsafe { sys::vmaf_score_at_index(self.ctx, self.model, &mut s, i) };
                assert_eq!(rc, 0, "vmaf_score_at_index");
                s
            })
            .collect()
    }

    /// Mean of a feature (`psnr_y`, `float_ssim`, ...) over all frames (flushes first).
    pub fn feature_mean(&mut self, name: &str) -> Option<f64> {
        self.flush();
        let n = CString::new(name).unwrap();
        let mut s = 0.0;
        // SAFETY: valid context; a missing feature is a non-zero return code.
        let rc = unsafe {
            sys::vmaf_feature_score_pooled(
                self.ctx,
                n.as_ptr(),
                sys::VmafPoolingMethod_VMAF_POOL_METHOD_MEAN,
                &mut s,
                0,
                self.frames - 1,
            )
        };
        (rc == 0).then_some(s)
    }
}

impl Drop for Vmaf {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once.
        unsafe {
            sys::vmaf_close(self.ctx);
            sys::vmaf_model_destroy(self.model);
        }
    }
}
