//! Luma SSIM exactly as libvmaf's `float_ssim` computes it (libvmaf `feature/float_ssim.c`,
//! `feature/ssim.c`, `feature/iqa/{ssim_tools,convolve,decimate,math_utils}.c`):
//!
//! 1. samples become floats, divided by `2^(bpc−8)` for deeper input (`picture_copy.c`), so the
//!    constants below use L = 255 whatever the depth;
//! 2. frames are decimated by `scale = max(1, round(min(w, h) / 256))` with a box filter of
//!    `scale × scale` taps (value `1/scale²`) read at `(x·scale, y·scale)` with a symmetric
//!    boundary; the output is `w/scale + (w & 1)` by `h/scale + (h & 1)` and, as in libvmaf, the
//!    decimation runs in place in the same buffer (we reproduce that, reads included);
//! 3. an 11-tap separable Gaussian (σ = 1.5, libvmaf's rounded float taps) is applied only where
//!    it fits ("valid" convolution: the result is 10 samples narrower and shorter, no border
//!    extension), each 1-D pass summing float products in double;
//! 4. per pixel l·c·s with C1 = (0.01·255)², C2 = (0.03·255)², C3 = C2/2 in float, the variance
//!    clamps and the flat-region fix of libvmaf, summed in double in raster order; the mean is
//!    rounded to float as libvmaf returns it.
//!
//! The float/double mix of each step follows libvmaf's C so results are bit-identical on x86-64.
//! The reference-side work (decimation, μ and σ² of the reference) is kept in [`SsimRef`] so one
//! reference frame serves many distorted ones.

use crate::cpu::CpuLevel;
use crate::frame::Plane;

/// libvmaf's `g_gaussian_window_h` (iqa/ssim_tools.h): the 11-tap Gaussian, σ = 1.5.
pub const GAUSSIAN: [f32; 11] = [
    0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001,
    0.007599, 0.001028,
];
const TAPS: usize = GAUSSIAN.len();

/// iqa/math_utils.c `_round`: round half away from zero, computed on the float.
fn iqa_round(a: f32) -> i32 {
    let t = a as i32;
    if f64::from(a - t as f32) >= 0.5 {
        t + if a > 0.0 { 1 } else { -1 }
    } else {
        t
    }
}

/// The decimation factor libvmaf picks for a `w`×`h` luma plane (ssim.c `compute_ssim`).
pub fn scale_factor(w: usize, h: usize) -> usize {
    iqa_round(w.min(h) as f32 / 256.0f32).max(1) as usize
}

/// Samples as libvmaf's `picture_copy` hands them to SSIM: 8-bit as is, deeper ones divided by
/// `2^(bpc−8)` (4 for 10-bit, 16 for 12-bit, 256 for 16-bit).
fn to_float(p: &Plane, bit_depth: u8) -> Vec<f32> {
    if bit_depth <= 8 {
        p.data.iter().map(|&v| f32::from(v)).collect()
    } else {
        let div = (1u32 << (bit_depth - 8)) as f32;
        p.data.iter().map(|&v| f32::from(v) / div).collect()
    }
}

#[cfg(test)]
/// iqa/decimate.c with the box kernel of ssim.c, in place like libvmaf (the buffer is both read
/// and written; outputs land behind the reads except where libvmaf itself overwrites, which we
/// then reproduce). Returns the new size.
fn decimate_in_place(img: &mut [f32], w: usize, h: usize, f: usize) -> (usize, usize) {
    let sw = w / f + (w & 1);
    let sh = h / f + (h & 1);
    let kv = 1.0f32 / (f * f) as f32;
    let (w, h) = (w as isize, h as isize);
    let c = (f / 2) as isize;
    let even = if f & 1 == 1 { 0 } else { 1 };
    let sym = |x: isize, n: isize| -> isize {
        if x < 0 {
            -1 - x
        } else if x >= n {
            n - (x - n) - 1
        } else {
            x
        }
    };
    for y in 0..sh {
        for x in 0..sw {
            let (px, py) = ((x * f) as isize, (y * f) as isize);
            let edge = px < c || py < c || px >= w - c || py >= h - c;
            let mut sum = 0.0f64;
            for v in -c..=c - even {
                for u in -c..=c - even {
                    let s = if edge {
                        img[(sym(py + v, h) * w + sym(px + u, w)) as usize]
                    } else {
                        img[((py + v) * w + px + u) as usize]
                    };
                    sum += f64::from(s * kv);
                }
            }
            img[y * sw + x] = sum as f32;
        }
    }
    (sw, sh)
}

/// One box tap as libvmaf computes it: the sample as float (divided by `2^(bpc−8)` for deeper
/// input; `div` = 1 is exact for 8-bit) times the box weight `kv`, in float, then widened.
#[inline(always)]
fn tap_value(v: u16, div: f32, kv: f32) -> f64 {
    f64::from(f32::from(v) / div * kv)
}

/// The same decimation read straight from the integer samples into a new buffer: each tap's
/// float product `(sample / 2^(bpc−8)) · (1/f²)` comes from a per-value table, so the double sums
/// are bit-identical to [`decimate_in_place`] on the converted plane. Out of place equals
/// in place because libvmaf's writes (at `y·sw + x`) always trail the samples still to be read
/// (rows from `y·f − f/2` on); `decimation_matches_libvmafs_in_place_loop` checks this over
/// many sizes and factors.
fn decimate(p: &Plane, bit_depth: u8, f: usize) -> (Vec<f32>, usize, usize) {
    decimate_at(p, bit_depth, f, CpuLevel::get())
}

/// [`decimate`] with the interior on the kernels of `level` (the tests run every level).
fn decimate_at(p: &Plane, bit_depth: u8, f: usize, level: CpuLevel) -> (Vec<f32>, usize, usize) {
    let (w, h) = (p.width, p.height);
    let sw = w / f + (w & 1);
    let sh = h / f + (h & 1);
    let kv = 1.0f32 / (f * f) as f32;
    let div = if bit_depth <= 8 {
        1.0f32
    } else {
        (1u32 << (bit_depth - 8)) as f32
    };
    let levels = 1usize << bit_depth.clamp(8, 16);
    let lut: Vec<f64> = (0..levels).map(|v| tap_value(v as u16, div, kv)).collect();
    let tap = |v: u16| lut.get(usize::from(v)).copied().unwrap_or(f64::NAN);
    let c = f / 2;
    let even = 1 - (f & 1);
    let span = 2 * c + 1 - even; // taps per direction, from −c
    let sym = |x: isize, n: usize| -> usize {
        let n = n as isize;
        (if x < 0 {
            -1 - x
        } else if x >= n {
            n - (x - n) - 1
        } else {
            x
        })
        .clamp(0, n - 1) as usize
    };
    // Interior outputs (the whole box inside the plane) are summed four at a time: four
    // independent double chains, each still in libvmaf's tap order.
    let x_lo = c.div_ceil(f);
    let x_hi = if w > c {
        ((w - c - 1) / f + 1).min(sw)
    } else {
        0
    };
    let mut out = vec![0.0f32; sw * sh];
    // The box's rows as taps (doubles), for the AVX-512 interior.
    let mut taps = Vec::new();
    for y in 0..sh {
        let py = y * f;
        let y_edge = py < c || py + c >= h;
        let edge_sum = |x: usize| -> f32 {
            let px = x * f;
            let mut sum = 0.0f64;
            for v in 0..span {
                let yy = sym(py as isize + v as isize - c as isize, h);
                for u in 0..span {
                    let xx = sym(px as isize + u as isize - c as isize, w);
                    sum += tap(p.data[yy * w + xx]);
                }
            }
            sum as f32
        };
        let orow = &mut out[y * sw..(y + 1) * sw];
        if y_edge || x_lo >= x_hi {
            for (x, o) in orow.iter_mut().enumerate() {
                *o = edge_sum(x);
            }
            continue;
        }
        for (x, o) in orow.iter_mut().enumerate().take(x_lo) {
            *o = edge_sum(x);
        }
        for (x, o) in orow.iter_mut().enumerate().skip(x_hi) {
            *o = edge_sum(x);
        }
        let mut x = x_lo;
        #[cfg(target_arch = "x86_64")]
        if level >= CpuLevel::Avx512 && x_hi - x_lo >= 8 {
            let rows = &p.data[(py - c) * w..(py - c + span) * w];
            // SAFETY: the CPU level says AVX-512 is available; the box of every output in
            // x_lo..x_hi lies inside `rows` (that is what makes it interior).
            x = unsafe { decimate_row_avx512(rows, w, f, c, div, kv, x_lo, x_hi, &mut taps, orow) };
        }
        while x < x_hi {
            let lanes = (x_hi - x).min(4);
            let mut sums = [0.0f64; 4];
            for v in 0..span {
                let row = &p.data[(py + v - c) * w..(py + v - c + 1) * w];
                for u in 0..span {
                    for (k, sum) in sums.iter_mut().enumerate().take(lanes) {
                        *sum += tap(row[(x + k) * f + u - c]);
                    }
                }
            }
            for k in 0..lanes {
                orow[x + k] = sums[k] as f32;
            }
            x += lanes;
        }
    }
    (out, sw, sh)
}

/// The interior outputs `x_lo..` of one decimated row, 8 at a time: the box's `f` rows (`rows`,
/// `f·w` samples from the box's top) become taps once — `(sample / div) · kv` in float, widened,
/// the table's values — then each output's taps are gathered and added in double in libvmaf's
/// order (row by row, left to right), as the scalar loop does. Returns where it stopped (the
/// scalar loop does the last `< 8`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/DQ; every tap of outputs `x_lo..x_hi` (`x·f − c + u`,
/// `u < f`) must lie inside a row of `w` samples.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
#[allow(clippy::too_many_arguments)]
unsafe fn decimate_row_avx512(
    rows: &[u16],
    w: usize,
    f: usize,
    c: usize,
    div: f32,
    kv: f32,
    x_lo: usize,
    x_hi: usize,
    taps: &mut Vec<f64>,
    out: &mut [f32],
) -> usize {
    use std::arch::x86_64::*;
    assert!(rows.len() == f * w && out.len() >= x_hi && x_lo * f >= c && x_hi * f - c <= w);
    taps.resize(f * w, 0.0);
    let (vdiv, vkv) = (_mm512_set1_ps(div), _mm512_set1_ps(kv));
    let mut i = 0;
    while i + 16 <= rows.len() {
        let v = _mm256_loadu_si256(rows.as_ptr().add(i).cast());
        let s = _mm512_mul_ps(
            _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(v)), vdiv),
            vkv,
        );
        _mm512_storeu_pd(
            taps.as_mut_ptr().add(i),
            _mm512_cvtps_pd(_mm512_castps512_ps256(s)),
        );
        _mm512_storeu_pd(
            taps.as_mut_ptr().add(i + 8),
            _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(s)),
        );
        i += 16;
    }
    for (t, &v) in taps[i..].iter_mut().zip(&rows[i..]) {
        *t = tap_value(v, div, kv);
    }
    // Lane k of a block starting at x reads tap (x + k)·f − c + u of each row.
    let step = _mm256_mullo_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_set1_epi32(f as i32),
    );
    let mut x = x_lo;
    while x + 8 <= x_hi {
        let mut sum = _mm512_setzero_pd();
        for v in 0..f {
            let base = taps.as_ptr().add(v * w + x * f - c);
            for u in 0..f {
                let t = _mm512_i32gather_pd::<8>(step, base.add(u).cast());
                sum = _mm512_add_pd(sum, t);
            }
        }
        _mm256_storeu_ps(out.as_mut_ptr().add(x), _mm512_cvtpd_ps(sum));
        x += 8;
    }
    x
}

/// Decimated float luma, ready for the Gaussian.
fn prepare(p: &Plane, bit_depth: u8) -> (Vec<f32>, usize, usize) {
    let f = scale_factor(p.width, p.height);
    if f > 1 {
        decimate(p, bit_depth, f)
    } else {
        (to_float(p, bit_depth), p.width, p.height)
    }
}

/// "Valid" separable Gaussian of a `w`×`h` image into `(w−10)×(h−10)`, dispatched on the CPU
/// level. Both kernels give bit-identical results.
pub fn gaussian(img: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = Vec::new();
    gaussian_into(img, w, h, &mut Vec::new(), &mut out);
    out
}

/// [`gaussian`] into `out`, with `tmp` for the horizontal pass: both are resized, and reused
/// buffers are not allocated (nor zeroed) again.
fn gaussian_into(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    {
        let level = CpuLevel::get();
        if level >= CpuLevel::Avx512 {
            // SAFETY: the CPU level says AVX-512 F/BW/VL/DQ are available.
            return unsafe { gaussian_avx512(img, w, h, tmp, out) };
        }
        if level >= CpuLevel::Avx2 {
            // SAFETY: the CPU level says AVX2 is available.
            return unsafe { gaussian_avx2(img, w, h, tmp, out) };
        }
    }
    gaussian_scalar(img, w, h, tmp, out)
}

/// Output size of the "valid" Gaussian of a `w`×`h` image; `None` (and `out` emptied) when the
/// image is smaller than the window. Checks `img` holds the image (the SIMD kernels rely on it).
fn valid_size(img: &[f32], w: usize, h: usize, out: &mut Vec<f32>) -> Option<(usize, usize)> {
    if w < TAPS || h < TAPS {
        out.clear();
        return None;
    }
    assert!(img.len() >= w * h);
    Some((w - TAPS + 1, h - TAPS + 1))
}

/// Scalar twin of the Gaussian (iqa/convolve.c `_iqa_convolve`, 1-D path): each output is the
/// double sum, in tap order, of float products, rounded to float after each pass.
pub fn gaussian_scalar(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
    let Some((dw, dh)) = valid_size(img, w, h, out) else {
        return;
    };
    tmp.resize(dw * h, 0.0);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        for x in 0..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(row[x + k] * g);
            }
            tmp[y * dw + x] = sum as f32;
        }
    }
    out.resize(dw * dh, 0.0);
    for y in 0..dh {
        for x in 0..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(tmp[(y + k) * dw + x] * g);
            }
            out[y * dw + x] = sum as f32;
        }
    }
}

/// AVX2 Gaussian: 8 outputs at a time, float products (same rounding as the scalar code) widened
/// to two double vectors and summed in the same tap order, so results are bit-identical.
///
/// # Safety
/// The CPU must support AVX2; `img.len() >= w * h`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn gaussian_avx2(
    img: &[f32],
    w: usize,
    h: usize,
    tmp: &mut Vec<f32>,
    out: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;
    let Some((dw, dh)) = valid_size(img, w, h, out) else {
        return;
    };
    let blocks = dw / 8;

    /// 8 outputs: Σ_k src[k·step + i] · g[k], i = 0..8, in double.
    #[inline(always)]
    unsafe fn dot8(src: *const f32, step: usize) -> __m256 {
        let mut lo = _mm256_setzero_pd();
        let mut hi = _mm256_setzero_pd();
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let p = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step)), _mm256_set1_ps(g));
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
        }
        _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))
    }

    /// 16 outputs as two interleaved `dot8`s: four independent double chains hide the add
    /// latency; each output's sum keeps the same tap order.
    #[inline(always)]
    unsafe fn dot16(src: *const f32, step: usize) -> (__m256, __m256) {
        let mut a_lo = _mm256_setzero_pd();
        let mut a_hi = _mm256_setzero_pd();
        let mut b_lo = _mm256_setzero_pd();
        let mut b_hi = _mm256_setzero_pd();
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let g = _mm256_set1_ps(g);
            let pa = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step)), g);
            let pb = _mm256_mul_ps(_mm256_loadu_ps(src.add(k * step + 8)), g);
            a_lo = _mm256_add_pd(a_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(pa)));
            a_hi = _mm256_add_pd(a_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(pa, 1)));
            b_lo = _mm256_add_pd(b_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(pb)));
            b_hi = _mm256_add_pd(b_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(pb, 1)));
        }
        (
            _mm256_set_m128(_mm256_cvtpd_ps(a_hi), _mm256_cvtpd_ps(a_lo)),
            _mm256_set_m128(_mm256_cvtpd_ps(b_hi), _mm256_cvtpd_ps(b_lo)),
        )
    }

    tmp.resize(dw * h, 0.0);
    for y in 0..h {
        let row = img.as_ptr().add(y * w);
        let dst = tmp.as_mut_ptr().add(y * dw);
        for b in (0..blocks / 2).map(|b| b * 2) {
            let (p, q) = dot16(row.add(b * 8), 1);
            _mm256_storeu_ps(dst.add(b * 8), p);
            _mm256_storeu_ps(dst.add(b * 8 + 8), q);
        }
        if blocks % 2 == 1 {
            let b = blocks - 1;
            _mm256_storeu_ps(dst.add(b * 8), dot8(row.add(b * 8), 1));
        }
        for x in blocks * 8..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(*row.add(x + k) * g);
            }
            *dst.add(x) = sum as f32;
        }
    }
    out.resize(dw * dh, 0.0);
    for y in 0..dh {
        let src = tmp.as_ptr().add(y * dw);
        let dst = out.as_mut_ptr().add(y * dw);
        for b in (0..blocks / 2).map(|b| b * 2) {
            let (p, q) = dot16(src.add(b * 8), dw);
            _mm256_storeu_ps(dst.add(b * 8), p);
            _mm256_storeu_ps(dst.add(b * 8 + 8), q);
        }
        if blocks % 2 == 1 {
            let b = blocks - 1;
            _mm256_storeu_ps(dst.add(b * 8), dot8(src.add(b * 8), dw));
        }
        for x in blocks * 8..dw {
            let mut sum = 0.0f64;
            for (k, &g) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(*src.add(k * dw + x) * g);
            }
            *dst.add(x) = sum as f32;
        }
    }
}

/// AVX-512 Gaussian: [`gaussian_avx2`]'s arithmetic on 16 floats per vector, 32 outputs per step
/// (four double chains), and a masked step for the rest of a row instead of a scalar tail, so the
/// results stay bit-identical to [`gaussian_scalar`].
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/DQ; `img.len() >= w * h`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512dq,avx512bw")]
pub unsafe fn gaussian_avx512(
    img: &[f32],
    w: usize,
    h: usize,
    tmp: &mut Vec<f32>,
    out: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;
    let Some((dw, dh)) = valid_size(img, w, h, out) else {
        return;
    };

    /// Outputs `dst[i] = Σ_k src[k·step + i] · g[k]` for the lanes of `masks` (16 per mask), the
    /// products in float, their sum in double in tap order. Masked-off lanes are neither read
    /// nor written.
    #[inline(always)]
    unsafe fn dot<const N: usize>(
        src: *const f32,
        step: usize,
        dst: *mut f32,
        masks: [__mmask16; N],
    ) {
        let mut lo = [_mm512_setzero_pd(); N];
        let mut hi = [_mm512_setzero_pd(); N];
        for (k, &g) in GAUSSIAN.iter().enumerate() {
            let g = _mm512_set1_ps(g);
            for j in 0..N {
                let v = _mm512_maskz_loadu_ps(masks[j], src.add(k * step + 16 * j));
                let p = _mm512_mul_ps(v, g);
                lo[j] = _mm512_add_pd(lo[j], _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
                hi[j] = _mm512_add_pd(hi[j], _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(p)));
            }
        }
        for j in 0..N {
            let out = _mm512_insertf32x8::<1>(
                _mm512_castps256_ps512(_mm512_cvtpd_ps(lo[j])),
                _mm512_cvtpd_ps(hi[j]),
            );
            _mm512_mask_storeu_ps(dst.add(16 * j), masks[j], out);
        }
    }

    /// One pass over `rows` output rows of `dw` samples, tap `k` of output `i` of row `y` at
    /// `src[y·stride + k·step + i]`.
    #[inline(always)]
    unsafe fn pass(
        src: *const f32,
        stride: usize,
        step: usize,
        dst: *mut f32,
        dw: usize,
        rows: usize,
    ) {
        for y in 0..rows {
            let (s, d) = (src.add(y * stride), dst.add(y * dw));
            let mut x = 0;
            while x + 32 <= dw {
                dot(s.add(x), step, d.add(x), [u16::MAX; 2]);
                x += 32;
            }
            while x < dw {
                let n = (dw - x).min(16);
                dot(
                    s.add(x),
                    step,
                    d.add(x),
                    [(1u32 << n).wrapping_sub(1) as u16],
                );
                x += n;
            }
        }
    }

    tmp.resize(dw * h, 0.0);
    pass(img.as_ptr(), w, 1, tmp.as_mut_ptr(), dw, h);
    out.resize(dw * dh, 0.0);
    pass(tmp.as_ptr(), dw, dw, out.as_mut_ptr(), dw, dh);
}

/// libvmaf's constants (iqa/ssim_tools.c `_iqa_ssim`), computed in float as there.
fn constants() -> (f32, f32, f32) {
    let l = 255.0f32;
    let c1 = (0.01f32 * l) * (0.01f32 * l);
    let c2 = (0.03f32 * l) * (0.03f32 * l);
    (c1, c2, c2 / 2.0)
}

/// Everything SSIM needs from a reference luma plane, computed once: the decimated samples, their
/// local mean μ and local variance σ² (clamped at 0). Compare many distorted planes against it
/// with [`score`].
#[derive(Debug, Clone)]
pub struct SsimRef {
    /// Size of the original plane (distorted planes must match it).
    width: usize,
    height: usize,
    bit_depth: u8,
    /// Decimated size.
    dw: usize,
    dh: usize,
    img: Vec<f32>,
    mu: Vec<f32>,
    sigma_sq: Vec<f32>,
}

impl SsimRef {
    pub fn new(luma: &Plane, bit_depth: u8) -> SsimRef {
        let (img, dw, dh) = prepare(luma, bit_depth);
        let mu = gaussian(&img, dw, dh);
        let sq: Vec<f32> = img.iter().map(|&v| v * v).collect();
        let mut sigma_sq = gaussian(&sq, dw, dh);
        for (s, &m) in sigma_sq.iter_mut().zip(&mu) {
            *s = clamp0(*s - m * m);
        }
        SsimRef {
            width: luma.width,
            height: luma.height,
            bit_depth,
            dw,
            dh,
            img,
            mu,
            sigma_sq,
        }
    }

    /// Size of the plane this reference was made from.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
}

/// SSIM of `dist_luma` against a prepared reference. Returns NaN when the distorted plane's size
/// or bit depth differs from the reference's, or when the (decimated) plane is smaller than the
/// 11×11 window (libvmaf has no defined value there either).
pub fn score(r: &SsimRef, dist_luma: &Plane, bit_depth: u8) -> f64 {
    if dist_luma.width != r.width
        || dist_luma.height != r.height
        || dist_luma.data.len() != r.width * r.height
        || bit_depth != r.bit_depth
        || r.mu.is_empty()
    {
        return f64::NAN;
    }
    let (img, dw, dh) = prepare(dist_luma, bit_depth);
    debug_assert_eq!((dw, dh), (r.dw, r.dh));
    SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        gaussian_into(&img, dw, dh, &mut s.tmp, &mut s.mu);
        s.product.clear();
        s.product.extend(img.iter().map(|&v| v * v));
        gaussian_into(&s.product, dw, dh, &mut s.tmp, &mut s.sigma_sq);
        s.product.clear();
        s.product
            .extend(img.iter().zip(&r.img).map(|(&d, &s)| s * d));
        gaussian_into(&s.product, dw, dh, &mut s.tmp, &mut s.sigma_both);

        s.terms.resize(r.mu.len(), 0.0);
        ssim_terms(
            &r.mu,
            &r.sigma_sq,
            &s.mu,
            &s.sigma_sq,
            &s.sigma_both,
            &mut s.terms,
        );
        // One double accumulator in raster order, as libvmaf sums.
        let sum = s.terms.iter().fold(0.0f64, |a, &t| a + t);
        let n = s.terms.len() as f64;
        f64::from((sum / n) as f32)
    })
}

/// Buffers of [`score`], kept per thread: the distorted side's planes (hundreds of KB each)
/// would otherwise be allocated, zeroed and freed for every frame.
#[derive(Default)]
struct Scratch {
    tmp: Vec<f32>,
    product: Vec<f32>,
    mu: Vec<f32>,
    sigma_sq: Vec<f32>,
    sigma_both: Vec<f32>,
    terms: Vec<f64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// C's `MAX(0.0, x)` as libvmaf clamps variances: `0.0 > x ? 0.0 : x`.
fn clamp0(x: f32) -> f32 {
    if 0.0 > x {
        0.0
    } else {
        x
    }
}

/// Per-pixel l·c·s terms, dispatched on the CPU level (bit-identical kernels).
fn ssim_terms(rm: &[f32], rs: &[f32], cm: &[f32], csq: &[f32], cross: &[f32], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if CpuLevel::get() >= CpuLevel::Avx2 {
            // SAFETY: the CPU level says AVX2 is available.
            return unsafe { ssim_terms_avx2(rm, rs, cm, csq, cross, out) };
        }
    }
    ssim_terms_scalar(rm, rs, cm, csq, cross, out)
}

/// Scalar twin of the per-pixel SSIM term (iqa/ssim_tools.c `_iqa_ssim`, default case), with
/// libvmaf's float/double mix: `rm`/`rs` are the reference's μ and clamped σ², `cm` the
/// distorted μ, `csq` and `cross` the Gaussian of dist² and of ref·dist. Writes l·c·s per pixel.
pub fn ssim_terms_scalar(
    rm: &[f32],
    rs: &[f32],
    cm: &[f32],
    csq: &[f32],
    cross: &[f32],
    out: &mut [f64],
) {
    let (c1, c2, c3) = constants();
    for i in 0..out.len() {
        let (rm, cm, rs) = (rm[i], cm[i], rs[i]);
        let cs = clamp0(csq[i] - cm * cm);
        let both = cross[i] - rm * cm;
        let sigma_rc = (rs * cs).sqrt();
        let l = (2.0 * f64::from(rm) * f64::from(cm) + f64::from(c1))
            / f64::from(rm * rm + cm * cm + c1);
        let c = (2.0 * f64::from(sigma_rc) + f64::from(c2)) / f64::from(rs + cs + c2);
        // libvmaf's fix for flat identical regions where float error makes σ_xy slightly < 0.
        let both = if both < 0.0 && sigma_rc <= 0.0 {
            0.0
        } else {
            both
        };
        let s = (both + c3) / (sigma_rc + c3);
        out[i] = l * c * f64::from(s);
    }
}

/// AVX2 twin of [`ssim_terms_scalar`]: 4 pixels per step, the same IEEE operations in the same
/// precision and order (no FMA), so every term is bit-identical.
///
/// # Safety
/// The CPU must support AVX2; all slices at least `out.len()` long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn ssim_terms_avx2(
    rm: &[f32],
    rs: &[f32],
    cm: &[f32],
    csq: &[f32],
    cross: &[f32],
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    let n = out.len();
    assert!(rm.len() >= n && rs.len() >= n && cm.len() >= n && csq.len() >= n && cross.len() >= n);
    let (c1, c2, c3) = constants();
    let (c1s, c2s, c3s) = (_mm_set1_ps(c1), _mm_set1_ps(c2), _mm_set1_ps(c3));
    let (c1d, c2d) = (_mm256_set1_pd(f64::from(c1)), _mm256_set1_pd(f64::from(c2)));
    let two = _mm256_set1_pd(2.0);
    let zero = _mm_setzero_ps();
    let blocks = n / 4;
    for b in 0..blocks {
        let i = b * 4;
        let vrm = _mm_loadu_ps(rm.as_ptr().add(i));
        let vcm = _mm_loadu_ps(cm.as_ptr().add(i));
        let vrs = _mm_loadu_ps(rs.as_ptr().add(i));
        // maxps(0, x) = 0 > x ? 0 : x, C's MAX(0.0, x).
        let vcs = _mm_max_ps(
            zero,
            _mm_sub_ps(_mm_loadu_ps(csq.as_ptr().add(i)), _mm_mul_ps(vcm, vcm)),
        );
        let both = _mm_sub_ps(_mm_loadu_ps(cross.as_ptr().add(i)), _mm_mul_ps(vrm, vcm));
        let sigma_rc = _mm_sqrt_ps(_mm_mul_ps(vrs, vcs));
        let l_num = _mm256_add_pd(
            _mm256_mul_pd(
                _mm256_mul_pd(two, _mm256_cvtps_pd(vrm)),
                _mm256_cvtps_pd(vcm),
            ),
            c1d,
        );
        let l_den = _mm_add_ps(_mm_add_ps(_mm_mul_ps(vrm, vrm), _mm_mul_ps(vcm, vcm)), c1s);
        let l = _mm256_div_pd(l_num, _mm256_cvtps_pd(l_den));
        let c_num = _mm256_add_pd(_mm256_mul_pd(two, _mm256_cvtps_pd(sigma_rc)), c2d);
        let c_den = _mm_add_ps(_mm_add_ps(vrs, vcs), c2s);
        let c = _mm256_div_pd(c_num, _mm256_cvtps_pd(c_den));
        let flat = _mm_and_ps(_mm_cmplt_ps(both, zero), _mm_cmple_ps(sigma_rc, zero));
        let both = _mm_andnot_ps(flat, both);
        let s = _mm_div_ps(_mm_add_ps(both, c3s), _mm_add_ps(sigma_rc, c3s));
        let t = _mm256_mul_pd(_mm256_mul_pd(l, c), _mm256_cvtps_pd(s));
        _mm256_storeu_pd(out.as_mut_ptr().add(i), t);
    }
    let tail = blocks * 4;
    ssim_terms_scalar(
        &rm[tail..n],
        &rs[tail..n],
        &cm[tail..n],
        &csq[tail..n],
        &cross[tail..n],
        &mut out[tail..],
    );
}

/// Convenience: SSIM of two luma planes (prepares the reference and scores once).
pub fn ssim(r: &Plane, d: &Plane, bit_depth: u8) -> f64 {
    score(&SsimRef::new(r, bit_depth), d, bit_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn simd_gaussian_is_bit_identical_to_scalar() {
        if CpuLevel::get() < CpuLevel::Avx2 {
            return;
        }
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for &(w, h) in &[
            (11usize, 11usize),
            (19, 12),
            (26, 27),
            (34, 11),
            (64, 40),
            (427, 31),
            // AVX-512 row splits: one 32-block, 32 + a masked 16, 32 + masked 16 + masked 1.
            (42, 12),
            (58, 13),
            (59, 11),
        ] {
            let img: Vec<f32> = (0..w * h)
                .map(|_| (xorshift(&mut s) % 65536) as f32 / 64.0)
                .collect();
            let (mut a, mut b, mut tmp) = (Vec::new(), Vec::new(), Vec::new());
            gaussian_scalar(&img, w, h, &mut tmp, &mut a);
            // SAFETY: checked the CPU level above.
            unsafe { gaussian_avx2(&img, w, h, &mut tmp, &mut b) };
            assert_eq!(a.len(), (w - 10) * (h - 10));
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{w}x{h}"
            );
            if CpuLevel::get() >= CpuLevel::Avx512 {
                // SAFETY: checked the CPU level.
                let mut c = Vec::new();
                unsafe { gaussian_avx512(&img, w, h, &mut tmp, &mut c) };
                assert_eq!(c.len(), a.len());
                assert!(
                    a.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "avx512 {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn decimation_matches_libvmafs_in_place_loop() {
        let mut s = 99u64;
        for _ in 0..300 {
            // libvmaf only decimates planes far larger than the factor (min side ≥ 384).
            let f = 2 + (xorshift(&mut s) % 9) as usize;
            let w = 2 * f + (xorshift(&mut s) % 90) as usize;
            let h = 2 * f + (xorshift(&mut s) % 90) as usize;
            let bd = if xorshift(&mut s).is_multiple_of(2) {
                8
            } else {
                10
            };
            let mut p = Plane::new(w, h);
            for v in p.data.iter_mut() {
                *v = (xorshift(&mut s) % (1 << bd)) as u16;
            }
            let mut want = to_float(&p, bd);
            let (sw, sh) = decimate_in_place(&mut want, w, h, f);
            for level in [CpuLevel::Scalar, CpuLevel::Avx512] {
                if level > CpuLevel::get() {
                    continue;
                }
                let (got, gw, gh) = decimate_at(&p, bd, f, level);
                assert_eq!((gw, gh), (sw, sh));
                assert!(
                    got.iter()
                        .zip(&want[..sw * sh])
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{w}x{h} f {f} {bd}-bit {level:?}"
                );
            }
        }
    }

    #[test]
    fn simd_terms_are_bit_identical_to_scalar() {
        if CpuLevel::get() < CpuLevel::Avx2 {
            return;
        }
        let mut s = 0xDEAD_BEEFu64;
        let mut rnd = |scale: f32| (xorshift(&mut s) % 100_000) as f32 / 100_000.0 * scale;
        let n = 1003;
        let rm: Vec<f32> = (0..n).map(|_| rnd(255.0)).collect();
        let cm: Vec<f32> = rm.iter().map(|&m| m + rnd(8.0) - 4.0).collect();
        // Mix in exact-flat pixels (σ = 0) to exercise the clamps.
        let rs: Vec<f32> = (0..n)
            .map(|i| if i % 7 == 0 { 0.0 } else { rnd(900.0) })
            .collect();
        let csq: Vec<f32> = cm
            .iter()
            .enumerate()
            .map(|(i, &m)| m * m + if i % 5 == 0 { -rnd(0.01) } else { rnd(900.0) })
            .collect();
        let cross: Vec<f32> = rm
            .iter()
            .zip(&cm)
            .map(|(&a, &b)| a * b + rnd(600.0) - 300.0)
            .collect();
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        ssim_terms_scalar(&rm, &rs, &cm, &csq, &cross, &mut a);
        // SAFETY: checked the CPU level above.
        unsafe { ssim_terms_avx2(&rm, &rs, &cm, &csq, &cross, &mut b) };
        for i in 0..n {
            assert_eq!(
                a[i].to_bits(),
                b[i].to_bits(),
                "pixel {i}: {} vs {}",
                a[i],
                b[i]
            );
        }
    }

    #[test]
    fn prepared_reference_is_shareable_across_threads() {
        fn is<T: Send + Sync>() {}
        is::<SsimRef>();
    }

    #[test]
    fn scale_follows_libvmaf_rounding() {
        assert_eq!(scale_factor(176, 144), 1);
        assert_eq!(scale_factor(721, 405), 2);
        assert_eq!(scale_factor(1280, 720), 3);
        assert_eq!(scale_factor(1920, 1080), 4);
        assert_eq!(scale_factor(3840, 2160), 8);
        assert_eq!(scale_factor(1000, 383), 1);
        assert_eq!(scale_factor(1000, 384), 2);
    }

    #[test]
    fn identical_planes_score_one_and_noise_lowers_it() {
        let mut s = 7u64;
        let mut p = Plane::new(64, 48);
        for v in p.data.iter_mut() {
            *v = (xorshift(&mut s) % 256) as u16;
        }
        assert_eq!(ssim(&p, &p, 8), 1.0);
        let flat = Plane::new(40, 40);
        assert_eq!(ssim(&flat, &flat, 8), 1.0);
        let mut d = p.clone();
        for v in d.data.iter_mut() {
            *v = (*v + (xorshift(&mut s) % 40) as u16).min(255);
        }
        let v = ssim(&p, &d, 8);
        assert!(v < 0.99 && v > 0.0, "{v}");
        // Prepared once, scored twice: same answer.
        let r = SsimRef::new(&p, 8);
        assert_eq!(score(&r, &d, 8), v);
        assert!(score(&r, &Plane::new(10, 10), 8).is_nan());
    }
}
