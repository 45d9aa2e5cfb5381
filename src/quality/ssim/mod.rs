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

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// One SSIM kernel set: the Gaussian, the per-pixel terms and the interior of a decimated row,
/// of one instruction set. The drivers call through it once per plane or row.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The level this set is compiled for (what actually runs, whatever level was asked for).
    pub level: CpuLevel,
    /// "Valid" separable Gaussian of a `w`×`h` image into `out`, `tmp` for the horizontal pass
    /// (both resized; reused buffers are not allocated again).
    pub gaussian: GaussianFn,
    /// Per-pixel l·c·s: (ref μ, ref σ², dist μ, Gaussian of dist², Gaussian of ref·dist) → terms.
    pub terms: TermsFn,
    /// Interior outputs `x_lo..x_hi` of one decimated row from the box's rows; returns where it
    /// stopped (the driver's table loop does the rest, all of it for a set without this kernel).
    pub decimate_row: DecimateRowFn,
}

/// (image, width, height, scratch, output).
pub(crate) type GaussianFn = fn(&[f32], usize, usize, &mut Vec<f32>, &mut Vec<f32>);
/// (ref μ, ref σ², dist μ, Gaussian of dist², Gaussian of ref·dist, terms out).
pub(crate) type TermsFn = fn(&[f32], &[f32], &[f32], &[f32], &[f32], &mut [f64]);
/// (box rows, width, factor, half box, sample divisor, box weight, x_lo, x_hi, tap scratch,
/// output row) → first output not written.
pub(crate) type DecimateRowFn =
    fn(&[u16], usize, usize, usize, f32, f32, usize, usize, &mut Vec<f64>, &mut [f32]) -> usize;

crate::kernels::kernel_sets!(Kernels, scalar: scalar::KERNELS, x86: [(Avx512, x86::avx512::KERNELS), (Avx2, x86::avx2::KERNELS)]);

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
        p.samples.iter().map(f32::from).collect()
    } else {
        let div = (1u32 << (bit_depth - 8)) as f32;
        p.samples.iter().map(|v| f32::from(v) / div).collect()
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
fn decimate(k: &Kernels, p: &Plane, bit_depth: u8, f: usize) -> (Vec<f32>, usize, usize) {
    let (w, h) = (p.width, p.height);
    // The kernels read u16 rows; a byte plane is widened once (SSIM is far from memory-bound).
    let data = p.samples.wide();
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
                    sum += tap(data[yy * w + xx]);
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
        let rows = &data[(py - c) * w..(py - c + span) * w];
        let mut x = (k.decimate_row)(rows, w, f, c, div, kv, x_lo, x_hi, &mut taps, orow);
        while x < x_hi {
            let lanes = (x_hi - x).min(4);
            let mut sums = [0.0f64; 4];
            for v in 0..span {
                let row = &data[(py + v - c) * w..(py + v - c + 1) * w];
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

/// Decimated float luma, ready for the Gaussian.
fn prepare(k: &Kernels, p: &Plane, bit_depth: u8) -> (Vec<f32>, usize, usize) {
    let f = scale_factor(p.width, p.height);
    if f > 1 {
        decimate(k, p, bit_depth, f)
    } else {
        (to_float(p, bit_depth), p.width, p.height)
    }
}

/// "Valid" separable Gaussian of a `w`×`h` image into `(w−10)×(h−10)`, on the kernels of
/// [`CpuLevel::get`] (every set gives bit-identical results).
pub fn gaussian(img: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = Vec::new();
    (Kernels::get().gaussian)(img, w, h, &mut Vec::new(), &mut out);
    out
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
        SsimRef::with_kernels(Kernels::get(), luma, bit_depth)
    }

    pub(crate) fn with_kernels(k: &Kernels, luma: &Plane, bit_depth: u8) -> SsimRef {
        let (img, dw, dh) = prepare(k, luma, bit_depth);
        let (mut tmp, mut mu, mut sigma_sq) = (Vec::new(), Vec::new(), Vec::new());
        (k.gaussian)(&img, dw, dh, &mut tmp, &mut mu);
        let sq: Vec<f32> = img.iter().map(|&v| v * v).collect();
        (k.gaussian)(&sq, dw, dh, &mut tmp, &mut sigma_sq);
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
    score_with_kernels(Kernels::get(), r, dist_luma, bit_depth)
}

/// [`score`] with a resolved kernel table (the engine's).
pub(crate) fn score_with_kernels(
    k: &Kernels,
    r: &SsimRef,
    dist_luma: &Plane,
    bit_depth: u8,
) -> f64 {
    if dist_luma.width != r.width
        || dist_luma.height != r.height
        || dist_luma.samples.len() != r.width * r.height
        || bit_depth != r.bit_depth
        || r.mu.is_empty()
    {
        return f64::NAN;
    }
    let (img, dw, dh) = prepare(k, dist_luma, bit_depth);
    debug_assert_eq!((dw, dh), (r.dw, r.dh));
    SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        (k.gaussian)(&img, dw, dh, &mut s.tmp, &mut s.mu);
        s.product.clear();
        s.product.extend(img.iter().map(|&v| v * v));
        (k.gaussian)(&s.product, dw, dh, &mut s.tmp, &mut s.sigma_sq);
        s.product.clear();
        s.product
            .extend(img.iter().zip(&r.img).map(|(&d, &s)| s * d));
        (k.gaussian)(&s.product, dw, dh, &mut s.tmp, &mut s.sigma_both);

        s.terms.resize(r.mu.len(), 0.0);
        (k.terms)(
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

/// Convenience: SSIM of two luma planes (prepares the reference and scores once).
pub fn ssim(r: &Plane, d: &Plane, bit_depth: u8) -> f64 {
    score(&SsimRef::new(r, bit_depth), d, bit_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::xorshift;

    /// The table a check needs at `level`, or `None` (reported as skipped).
    fn table(test: &str, level: CpuLevel) -> Option<Kernels> {
        crate::kernels::table_at(test, level, Kernels::for_level, |k| k.level)
    }

    /// The Gaussian of the set at `level` against scalar, bit for bit.
    fn gaussian_matches_scalar(test: &str, level: CpuLevel) {
        let Some(k) = table(test, level) else { return };
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
            scalar::gaussian(&img, w, h, &mut tmp, &mut a);
            (k.gaussian)(&img, w, h, &mut tmp, &mut b);
            assert_eq!(a.len(), (w - 10) * (h - 10));
            assert_eq!(b.len(), a.len());
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn scalar_decimation_matches_libvmafs_in_place_loop() {
        decimation_matches_in_place_loop(&scalar::KERNELS);
    }

    /// The decimation of the set at `level` against libvmaf's in-place loop (as scalar is).
    fn decimation_matches(test: &str, level: CpuLevel) {
        let Some(k) = table(test, level) else { return };
        if k.level == CpuLevel::Avx2 {
            eprintln!("skipped: {test}: the AVX2 set decimates with the scalar loop");
            return;
        }
        decimation_matches_in_place_loop(&k);
    }

    fn decimation_matches_in_place_loop(k: &Kernels) {
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
            let mut p = Plane::zeroed(w, h, bd);
            p.samples
                .update(|_, _| (xorshift(&mut s) % (1 << bd)) as u16);
            let mut want = to_float(&p, bd);
            let (sw, sh) = decimate_in_place(&mut want, w, h, f);
            {
                let (got, gw, gh) = decimate(k, &p, bd, f);
                assert_eq!((gw, gh), (sw, sh));
                assert!(
                    got.iter()
                        .zip(&want[..sw * sh])
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{w}x{h} f {f} {bd}-bit {:?}",
                    k.level
                );
            }
        }
    }

    /// The per-pixel terms of the set at `level` against scalar, bit for bit, flat pixels
    /// included.
    fn terms_match_scalar(test: &str, level: CpuLevel) {
        let Some(k) = table(test, level) else { return };
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
        scalar::terms(&rm, &rs, &cm, &csq, &cross, &mut a);
        (k.terms)(&rm, &rs, &cm, &csq, &cross, &mut b);
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

    crate::kernels::simd_tests!(
        gaussian_matches_scalar,
        decimation_matches,
        terms_match_scalar,
    );

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
        let mut p = Plane::zeroed(64, 48, 8);
        p.samples.update(|_, _| (xorshift(&mut s) % 256) as u16);
        assert_eq!(ssim(&p, &p, 8), 1.0);
        let flat = Plane::new(40, 40);
        assert_eq!(ssim(&flat, &flat, 8), 1.0);
        let mut d = p.clone();
        d.samples
            .update(|_, v| (v + (xorshift(&mut s) % 40) as u16).min(255));
        let v = ssim(&p, &d, 8);
        assert!(v < 0.99 && v > 0.0, "{v}");
        // Prepared once, scored twice: same answer.
        let r = SsimRef::new(&p, 8);
        assert_eq!(score(&r, &d, 8), v);
        assert!(score(&r, &Plane::new(10, 10), 8).is_nan());
    }
}
