//! A small safe wrapper over libvmaf (the `vmaf-head-sys` crate): the oracle in the tests and the
//! peer in the benchmarks, included with `#[path]` from both (it is dev-only). Frames go in as
//! `pertitle::Frame`s (the oracle: every sample narrowed or copied into libvmaf's picture) or as
//! packed 8-bit 4:2:0 bytes copied row by row, the way the `vmaf` CLI feeds libvmaf (the peer: no
//! conversion billed to libvmaf that the CLI never does).
#![allow(dead_code)]

use pertitle::{Chroma, Frame};
use std::ffi::{CStr, CString};
use std::ptr;
use vmaf_head_sys as sys;

/// One libvmaf context with its loaded models and features.
pub struct Libvmaf {
    ctx: *mut sys::VmafContext,
    models: Vec<*mut sys::VmafModel>,
    frames: u32,
    flushed: bool,
}

// SAFETY: a libvmaf context and its models may be used from any one thread at a time; `&mut self`
// on every call that changes them keeps it to one.
unsafe impl Send for Libvmaf {}

/// libvmaf's pooling methods.
#[derive(Clone, Copy, Debug)]
pub enum Pool {
    Min,
    Max,
    Mean,
    HarmonicMean,
}

impl Pool {
    fn raw(self) -> sys::VmafPoolingMethod {
        match self {
            Pool::Min => sys::VmafPoolingMethod_VMAF_POOL_METHOD_MIN,
            Pool::Max => sys::VmafPoolingMethod_VMAF_POOL_METHOD_MAX,
            Pool::Mean => sys::VmafPoolingMethod_VMAF_POOL_METHOD_MEAN,
            Pool::HarmonicMean => sys::VmafPoolingMethod_VMAF_POOL_METHOD_HARMONIC_MEAN,
        }
    }
}

pub fn version() -> String {
    // SAFETY: libvmaf returns a static NUL-terminated string.
    unsafe {
        CStr::from_ptr(sys::vmaf_version())
            .to_string_lossy()
            .into_owned()
    }
}

/// Bytes of one tightly packed 8-bit 4:2:0 frame (chroma rounded up, as FFmpeg writes it).
pub fn yuv420_bytes(w: usize, h: usize) -> usize {
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// libvmaf's x86 CPU flags (`src/x86/cpu.h`): AVX512 is bit 4, AVX512ICL bit 5.
pub const CPUMASK_NO_AVX512: u64 = (1 << 4) | (1 << 5);
/// Every x86 SIMD flag libvmaf knows (SSE2 … AVX512ICL): its C code only.
pub const CPUMASK_SCALAR: u64 = 0x3f;

impl Libvmaf {
    /// `threads` is libvmaf's `n_threads`: 0 computes in the caller's thread, N ≥ 1 uses a pool
    /// of N workers.
    pub fn new(threads: u32) -> Self {
        Libvmaf::with_cpumask(threads, 0)
    }

    /// As [`Libvmaf::new`], with libvmaf's `cpumask`: the x86 SIMD flags it must not use
    /// ([`CPUMASK_NO_AVX512`], [`CPUMASK_SCALAR`]), so both engines can be capped alike.
    pub fn with_cpumask(threads: u32, cpumask: u64) -> Self {
        let cfg = sys::VmafConfiguration {
            log_level: sys::VmafLogLevel_VMAF_LOG_LEVEL_NONE,
            n_threads: threads,
            n_subsample: 1,
            cpumask,
            gpumask: 0,
        };
        let mut ctx = ptr::null_mut();
        // SAFETY: `ctx` is a valid out-pointer; the return code is checked.
        let rc = unsafe { sys::vmaf_init(&mut ctx, cfg) };
        assert_eq!(rc, 0, "vmaf_init");
        Libvmaf {
            ctx,
            models: Vec::new(),
            frames: 0,
            flushed: false,
        }
    }

    /// Loads a built-in model by version (`vmaf_v0.6.1`, `vmaf_v0.6.1neg`, `vmaf_4k_v0.6.1`) and
    /// registers its features. `phone` enables the model's `score_transform`. Returns its handle.
    pub fn use_model(&mut self, version: &str, phone: bool) -> usize {
        let name = CString::new(version).unwrap();
        let mut cfg = sys::VmafModelConfig {
            name: name.as_ptr(),
            flags: if phone {
                sys::VmafModelFlags_VMAF_MODEL_FLAG_ENABLE_TRANSFORM as u64
            } else {
                sys::VmafModelFlags_VMAF_MODEL_FLAGS_DEFAULT as u64
            },
        };
        let mut model = ptr::null_mut();
        // SAFETY: valid out-pointer, config and NUL-terminated name that outlive the call.
        let rc = unsafe { sys::vmaf_model_load(&mut model, &mut cfg, name.as_ptr()) };
        assert_eq!(rc, 0, "vmaf_model_load {version}");
        self.add_model(model)
    }

    /// Loads a model JSON file by path.
    pub fn use_model_path(&mut self, path: &std::path::Path, phone: bool) -> usize {
        let name = CString::new("custom").unwrap();
        let p = CString::new(path.to_str().unwrap()).unwrap();
        let mut cfg = sys::VmafModelConfig {
            name: name.as_ptr(),
            flags: if phone {
                sys::VmafModelFlags_VMAF_MODEL_FLAG_ENABLE_TRANSFORM as u64
            } else {
                0
            },
        };
        let mut model = ptr::null_mut();
        // SAFETY: valid out-pointer, config and NUL-terminated strings that outlive the call.
        let rc = unsafe { sys::vmaf_model_load_from_path(&mut model, &mut cfg, p.as_ptr()) };
        assert_eq!(rc, 0, "vmaf_model_load_from_path {}", path.display());
        self.add_model(model)
    }

    fn add_model(&mut self, model: *mut sys::VmafModel) -> usize {
        // SAFETY: `ctx` and `model` are live (destroyed only in `drop`).
        let rc = unsafe { sys::vmaf_use_features_from_model(self.ctx, model) };
        assert_eq!(rc, 0, "vmaf_use_features_from_model");
        self.models.push(model);
        self.models.len() - 1
    }

    /// Registers a feature extractor by name (`psnr`, `float_ssim`, `adm`, `vif`, `motion`, ...)
    /// with options such as `[("enable_chroma", "true")]`.
    pub fn use_feature(&mut self, name: &str, opts: &[(&str, &str)]) {
        let mut dict = ptr::null_mut();
        for (k, v) in opts {
            let k = CString::new(*k).unwrap();
            let v = CString::new(*v).unwrap();
            // SAFETY: libvmaf copies both NUL-terminated strings into the dictionary it owns.
            let rc = unsafe { sys::vmaf_feature_dictionary_set(&mut dict, k.as_ptr(), v.as_ptr()) };
            assert_eq!(rc, 0, "vmaf_feature_dictionary_set");
        }
        let n = CString::new(name).unwrap();
        // SAFETY: live context; libvmaf takes the dictionary (null for no options).
        let rc = unsafe { sys::vmaf_use_feature(self.ctx, n.as_ptr(), dict) };
        assert_eq!(rc, 0, "vmaf_use_feature {name}");
    }

    /// A picture libvmaf allocated, to be filled by the caller and handed to `read`.
    fn alloc(fmt: sys::VmafPixelFormat, bpc: u32, w: usize, h: usize) -> sys::VmafPicture {
        // SAFETY: `VmafPicture` is plain data (pointers and integers): all-zero is a valid empty
        // picture, which `vmaf_picture_alloc` then fills; its return code is checked.
        unsafe {
            let mut pic: sys::VmafPicture = std::mem::zeroed();
            let rc = sys::vmaf_picture_alloc(&mut pic, fmt, bpc, w as u32, h as u32);
            assert_eq!(rc, 0, "vmaf_picture_alloc");
            pic
        }
    }

    fn picture(f: &Frame) -> sys::VmafPicture {
        let fmt = match f.format.chroma {
            Chroma::Gray => sys::VmafPixelFormat_VMAF_PIX_FMT_YUV400P,
            Chroma::Yuv420 => sys::VmafPixelFormat_VMAF_PIX_FMT_YUV420P,
            Chroma::Yuv422 => sys::VmafPixelFormat_VMAF_PIX_FMT_YUV422P,
            Chroma::Yuv444 => sys::VmafPixelFormat_VMAF_PIX_FMT_YUV444P,
        };
        let bpc = f.format.bit_depth as u32;
        let pic = Self::alloc(fmt, bpc, f.width(), f.height());
        for (i, plane) in f.planes.iter().enumerate() {
            // libvmaf rounds subsampled chroma sizes down (w >> 1) where FFmpeg and we round up:
            // copy libvmaf's (top-left) region.
            let stride = pic.stride[i] as usize;
            let (w, h) = (pic.w[i] as usize, pic.h[i] as usize);
            assert!(
                w <= plane.width && h <= plane.height,
                "plane {i} larger in libvmaf"
            );
            let mut wide = Vec::new();
            for y in 0..h {
                let row = &plane.row_wide(y, &mut wide)[..w];
                // SAFETY: plane `i` of `pic` has `h` rows of `stride` ≥ `w` samples of `bpc`
                // bits (one byte at 8 bits, two above), and `row` holds `w` samples.
                unsafe {
                    let dst = (pic.data[i] as *mut u8).add(y * stride);
                    if bpc == 8 {
                        for (x, &v) in row.iter().enumerate() {
                            *dst.add(x) = v as u8;
                        }
                    } else {
                        let dst = dst as *mut u16;
                        ptr::copy_nonoverlapping(row.as_ptr(), dst, row.len());
                    }
                }
            }
        }
        pic
    }

    /// A `w`×`h` picture from packed 8-bit 4:2:0 bytes (chroma rounded up, libvmaf's top-left
    /// region copied, as for frames).
    fn picture_yuv420(data: &[u8], w: usize, h: usize) -> sys::VmafPicture {
        assert_eq!(data.len(), yuv420_bytes(w, h), "frame size");
        let pic = Self::alloc(sys::VmafPixelFormat_VMAF_PIX_FMT_YUV420P, 8, w, h);
        let mut off = 0;
        for i in 0..3 {
            let (sw, sh) = if i == 0 {
                (w, h)
            } else {
                (w.div_ceil(2), h.div_ceil(2))
            };
            let stride = pic.stride[i] as usize;
            let (pw, ph) = (pic.w[i] as usize, pic.h[i] as usize);
            assert!(pw <= sw && ph <= sh, "plane {i} larger in libvmaf");
            for y in 0..ph {
                let src = &data[off + y * sw..][..pw];
                // SAFETY: plane `i` of `pic` has `ph` rows of `stride` ≥ `pw` bytes; `src` holds
                // `pw` bytes; the buffers are distinct.
                unsafe {
                    ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        (pic.data[i] as *mut u8).add(y * stride),
                        pw,
                    );
                }
            }
            off += sw * sh;
        }
        pic
    }

    /// Hands one picture pair to libvmaf as the next frame.
    fn read(&mut self, mut r: sys::VmafPicture, mut d: sys::VmafPicture) {
        // SAFETY: live context; libvmaf takes ownership of both pictures it allocated.
        let rc = unsafe { sys::vmaf_read_pictures(self.ctx, &mut r, &mut d, self.frames) };
        assert_eq!(rc, 0, "vmaf_read_pictures");
        self.frames += 1;
    }

    /// Feeds one reference/distorted pair (frames are numbered in the order pushed).
    pub fn push(&mut self, reference: &Frame, distorted: &Frame) {
        self.read(Self::picture(reference), Self::picture(distorted));
    }

    /// Feeds one `w`×`h` reference/distorted pair of packed 8-bit 4:2:0 bytes.
    pub fn push_yuv420(&mut self, w: usize, h: usize, reference: &[u8], distorted: &[u8]) {
        let r = Self::picture_yuv420(reference, w, h);
        let d = Self::picture_yuv420(distorted, w, h);
        self.read(r, d);
    }

    /// Signals the end of the stream (motion's last-frame rule) and waits for all scores.
    pub fn flush(&mut self) {
        if !self.flushed {
            // SAFETY: live context; null pictures are libvmaf's flush signal.
            let rc =
                unsafe { sys::vmaf_read_pictures(self.ctx, ptr::null_mut(), ptr::null_mut(), 0) };
            assert_eq!(rc, 0, "vmaf_read_pictures(flush)");
            self.flushed = true;
        }
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// A feature's per-frame value (`integer_adm2`, `integer_vif_scale0`, `integer_motion2`,
    /// `psnr_y`, `float_ssim`, ...). Call after `flush`.
    pub fn feature(&self, name: &str, index: u32) -> Option<f64> {
        let n = CString::new(name).unwrap();
        let mut s = 0.0;
        // SAFETY: live context; a missing feature or frame is a non-zero return code.
        let rc = unsafe { sys::vmaf_feature_score_at_index(self.ctx, n.as_ptr(), &mut s, index) };
        (rc == 0).then_some(s)
    }

    /// A feature's mean over all frames pushed, `None` where libvmaf has no such feature.
    /// Call after `flush`.
    pub fn feature_mean(&self, name: &str) -> Option<f64> {
        let n = CString::new(name).unwrap();
        let mut s = 0.0;
        // SAFETY: live context; a missing feature is a non-zero return code.
        let rc = unsafe {
            sys::vmaf_feature_score_pooled(
                self.ctx,
                n.as_ptr(),
                Pool::Mean.raw(),
                &mut s,
                0,
                self.frames - 1,
            )
        };
        (rc == 0).then_some(s)
    }

    /// The model's per-frame score. Call after `flush`.
    pub fn score(&self, model: usize, index: u32) -> f64 {
        let mut s = 0.0;
        // SAFETY: live context and model; the return code is checked.
        let rc = unsafe { sys::vmaf_score_at_index(self.ctx, self.models[model], &mut s, index) };
        assert_eq!(rc, 0, "vmaf_score_at_index");
        s
    }

    /// The model's score for every frame pushed. Call after `flush`.
    pub fn scores(&self, model: usize) -> Vec<f64> {
        (0..self.frames).map(|i| self.score(model, i)).collect()
    }

    /// The model's pooled score over all frames pushed. Call after `flush`.
    pub fn pooled(&self, model: usize, pool: Pool) -> f64 {
        let mut s = 0.0;
        // SAFETY: live context and model; the index range is the frames pushed.
        let rc = unsafe {
            sys::vmaf_score_pooled(
                self.ctx,
                self.models[model],
                pool.raw(),
                &mut s,
                0,
                self.frames - 1,
            )
        };
        assert_eq!(rc, 0, "vmaf_score_pooled");
        s
    }
}

impl Drop for Libvmaf {
    fn drop(&mut self) {
        // SAFETY: the context and models were created by this value and are destroyed once.
        unsafe {
            sys::vmaf_close(self.ctx);
            for m in self.models.drain(..) {
                sys::vmaf_model_destroy(m);
            }
        }
    }
}
