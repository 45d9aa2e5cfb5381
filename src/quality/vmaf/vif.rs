//! VIF at four scales, as libvmaf's integer extractor (`vif`, integer_vif.c) computes it: the
//! same fixed-point filters, roundings, shifts, log2 table and float accumulation, so the
//! per-scale scores are bit-identical to `integer_vif_scale0..3`.
//!
//! Everything that depends only on the reference (its pyramid, its filtered mean and variance,
//! and the whole VIF denominator) is computed once in [`VifRef::new`]; [`score`] then does only
//! the distorted-side work. The linear filter passes are the hot loops: they are written so the
//! compiler vectorises them and are compiled twice, plain and with AVX2 enabled (dispatched on
//! [`CpuLevel`]); the scalar twins are public and the tests compare the two.

use crate::cpu::CpuLevel;
use crate::frame::Plane;
use std::sync::OnceLock;

/// The 1-D Gaussian filters per scale, Q16 (each sums to 65536); libvmaf integer_vif.h
/// `vif_filter1d_table`.
pub const FILTERS: [&[u16]; 4] = [
    &[
        489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640,
        935, 489,
    ],
    &[1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244],
    &[3571, 16004, 26386, 16004, 3571],
    &[10904, 43728, 10904],
];

/// The noise variance σ²ₙ = 2 in libvmaf's Q16 (`sigma_nsq = 65536 << 1`).
const SIGMA_NSQ: i32 = 65536 << 1;

/// libvmaf's default `vif_enhn_gain_limit` (no limit in practice); the neg model sets 1.0.
pub const DEFAULT_ENHN_GAIN_LIMIT: f64 = 100.0;

/// Smallest luma plane the four-scale pyramid supports: the 17-tap filter at scale 0 mirrors
/// up to 8 samples and the 3-tap filter at scale 3 (1/8 size) needs at least 2.
pub const MIN_SIZE: usize = 16;

/// `round(log2f(i) * 2048)` for i in 32767..65536 (libvmaf `log_generate`).
fn log2_table() -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u16; 65536];
        for (i, v) in t.iter_mut().enumerate().skip(32767) {
            *v = ((i as f32).log2() * 2048.0).round() as u16;
        }
        t
    })
}

/// log2(x)·2048 from the 16 leading bits of x (x ≥ 2^16).
#[inline(always)]
fn log2_32(table: &[u16], x: u32) -> i64 {
    let k = 16 - x.leading_zeros() as i32;
    table[(x >> k) as usize] as i64 + 2048 * k as i64
}

#[inline(always)]
fn log2_64(table: &[u16], x: u64) -> i64 {
    let k = 48 - x.leading_zeros() as i32;
    table[(x >> k) as usize] as i64 + 2048 * k as i64
}

/// Mirror an index into 0..n the way libvmaf pads its buffers (reflect without repeating the
/// edge sample: -1 → 1, n → n-2).
#[inline(always)]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    };
    m.clamp(0, n - 1) as usize
}

/// Rounding and shift of the vertical pass: at scale 0 it brings `bit_depth`-bit samples to
/// the Q8-ish working range libvmaf uses; above scale 0 samples are already 16-bit.
fn vertical_shifts(scale: usize, bit_depth: u8) -> (u32, u32, u64, u32) {
    if scale == 0 {
        let bd = bit_depth as u32;
        let sq_shift = 2 * (bd - 8);
        let sq_round = if sq_shift == 0 {
            0
        } else {
            1u64 << (sq_shift - 1)
        };
        (1 << (bd - 1), bd, sq_round, sq_shift)
    } else {
        (32768, 16, 32768, 16)
    }
}

/// The linear filter kernels. `Kernels::SCALAR` is the reference; `Kernels::get()` picks the
/// fastest one the CPU level allows.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// Vertical pass of one image: Σf·x and Σf·x² for one output row.
    pub vert_mu_sq: fn(&[&[u16]], &[u16], &mut [u32], &mut [u64]),
    /// Vertical pass of the distorted image: Σf·d, Σf·d², Σf·r·d.
    pub vert_dist: fn(&[&[u16]], &[&[u16]], &[u16], &mut [u32], &mut [u64], &mut [u64]),
    /// Vertical pass of the pyramid: Σf·x.
    pub vert_mu: fn(&[&[u16]], &[u16], &mut [u32]),
    /// Horizontal pass over a mirrored row: plain Σf·x (u32, as libvmaf keeps it).
    pub horiz_u32: fn(&[u32], &[u16], &mut [u32]),
    /// Horizontal pass with Q16 rounding: (Σf·x + 2^15) >> 16.
    pub horiz_q16: fn(&[u32], &[u16], &mut [u32]),
}

macro_rules! kernel_bodies {
    ($attr:meta, $vm:ident, $vd:ident, $vu:ident, $hu:ident, $hq:ident) => {
        #[$attr]
        fn $vm(rows: &[&[u16]], f: &[u16], mu: &mut [u32], sq: &mut [u64]) {
            let w = mu.len();
            mu.fill(0);
            sq[..w].fill(0);
            for (r, &c) in rows.iter().zip(f) {
                let r = &r[..w];
                let c = c as u32;
                for ((m, s), &x) in mu.iter_mut().zip(sq[..w].iter_mut()).zip(r) {
                    let cx = c * x as u32;
                    *m = m.wrapping_add(cx);
                    *s += cx as u64 * x as u64;
                }
            }
        }

        #[$attr]
        fn $vd(
            rrows: &[&[u16]],
            drows: &[&[u16]],
            f: &[u16],
            mu: &mut [u32],
            yy: &mut [u64],
            xy: &mut [u64],
        ) {
            let w = mu.len();
            mu.fill(0);
            yy[..w].fill(0);
            xy[..w].fill(0);
            for ((r, d), &c) in rrows.iter().zip(drows).zip(f) {
                let r = &r[..w];
                let d = &d[..w];
                let c = c as u32;
                for j in 0..w {
                    let cd = c * d[j] as u32;
                    mu[j] = mu[j].wrapping_add(cd);
                    yy[j] += cd as u64 * d[j] as u64;
                    xy[j] += cd as u64 * r[j] as u64;
                }
            }
        }

        #[$attr]
        fn $vu(rows: &[&[u16]], f: &[u16], mu: &mut [u32]) {
            let w = mu.len();
            mu.fill(0);
            for (r, &c) in rows.iter().zip(f) {
                let c = c as u32;
                for (m, &x) in mu.iter_mut().zip(&r[..w]) {
                    *m = m.wrapping_add(c * x as u32);
                }
            }
        }

        #[$attr]
        fn $hu(src: &[u32], f: &[u16], out: &mut [u32]) {
            let w = out.len();
            out.fill(0);
            for (k, &c) in f.iter().enumerate() {
                let c = c as u32;
                for (o, &x) in out.iter_mut().zip(&src[k..k + w]) {
                    *o = o.wrapping_add(c.wrapping_mul(x));
                }
            }
        }

        #[$attr]
        fn $hq(src: &[u32], f: &[u16], out: &mut [u32]) {
            let w = out.len();
            // Two u32 halves would not hold Σf·x for 32-bit x; accumulate in u64 per block.
            const B: usize = 64;
            let mut acc = [0u64; B];
            let mut j0 = 0;
            while j0 < w {
                let n = B.min(w - j0);
                acc[..n].fill(32768);
                for (k, &c) in f.iter().enumerate() {
                    let c = c as u64;
                    for (a, &x) in acc[..n].iter_mut().zip(&src[j0 + k..j0 + k + n]) {
                        *a += c * x as u64;
                    }
                }
                for (o, &a) in out[j0..j0 + n].iter_mut().zip(&acc[..n]) {
                    *o = (a >> 16) as u32;
                }
                j0 += n;
            }
        }
    };
}

kernel_bodies!(
    inline(never),
    vert_mu_sq_scalar,
    vert_dist_scalar,
    vert_mu_scalar,
    horiz_u32_scalar,
    horiz_q16_scalar
);

#[cfg(target_arch = "x86_64")]
mod avx2 {
    kernel_bodies!(
        target_feature(enable = "avx2,fma"),
        vert_mu_sq_t,
        vert_dist_t,
        vert_mu_t,
        horiz_u32_t,
        horiz_q16_t
    );

    // Safe entry points: only installed in `Kernels::AVX2`, which `Kernels::get` hands out only
    // when the CPU level (runtime detection) includes AVX2.
    pub fn vert_mu_sq(rows: &[&[u16]], f: &[u16], mu: &mut [u32], sq: &mut [u64]) {
        unsafe { vert_mu_sq_t(rows, f, mu, sq) }
    }
    pub fn vert_dist(
        r: &[&[u16]],
        d: &[&[u16]],
        f: &[u16],
        mu: &mut [u32],
        yy: &mut [u64],
        xy: &mut [u64],
    ) {
        unsafe { vert_dist_t(r, d, f, mu, yy, xy) }
    }
    pub fn vert_mu(rows: &[&[u16]], f: &[u16], mu: &mut [u32]) {
        unsafe { vert_mu_t(rows, f, mu) }
    }
    pub fn horiz_u32(src: &[u32], f: &[u16], out: &mut [u32]) {
        unsafe { horiz_u32_t(src, f, out) }
    }
    pub fn horiz_q16(src: &[u32], f: &[u16], out: &mut [u32]) {
        unsafe { horiz_q16_t(src, f, out) }
    }
}

impl Kernels {
    pub const SCALAR: Kernels = Kernels {
        vert_mu_sq: vert_mu_sq_scalar,
        vert_dist: vert_dist_scalar,
        vert_mu: vert_mu_scalar,
        horiz_u32: horiz_u32_scalar,
        horiz_q16: horiz_q16_scalar,
    };

    #[cfg(target_arch = "x86_64")]
    const AVX2: Kernels = Kernels {
        vert_mu_sq: avx2::vert_mu_sq,
        vert_dist: avx2::vert_dist,
        vert_mu: avx2::vert_mu,
        horiz_u32: avx2::horiz_u32,
        horiz_q16: avx2::horiz_q16,
    };

    /// The kernels for a CPU level (AVX-512 machines use the AVX2 set).
    pub fn for_level(level: CpuLevel) -> Kernels {
        #[cfg(target_arch = "x86_64")]
        if level >= CpuLevel::Avx2 {
            return Kernels::AVX2;
        }
        let _ = level;
        Kernels::SCALAR
    }

    pub fn get() -> Kernels {
        Kernels::for_level(CpuLevel::get())
    }
}

/// One image of the pyramid (row-major, stride == width).
#[derive(Clone, Debug)]
struct Img {
    w: usize,
    h: usize,
    data: Vec<u16>,
}

impl Img {
    fn row(&self, y: usize) -> &[u16] {
        &self.data[y * self.w..(y + 1) * self.w]
    }

    /// The `taps` rows centred on `y`, mirrored at the edges.
    fn rows(&self, y: usize, taps: usize) -> Vec<&[u16]> {
        let half = (taps / 2) as isize;
        (0..taps)
            .map(|k| self.row(mirror(y as isize - half + k as isize, self.h)))
            .collect()
    }
}

/// Copies a u32 row into `pad` with `half` mirrored samples on each side (libvmaf
/// PADDING_SQ_DATA).
fn pad_row(src: &[u32], half: usize, pad: &mut [u32]) {
    let w = src.len();
    pad[half..half + w].copy_from_slice(src);
    for f in 1..=half {
        pad[half - f] = src[mirror(f as isize, w)];
        pad[half + w - 1 + f] = src[mirror((w - 1 - f.min(w - 1)) as isize, w)];
    }
}

/// Next pyramid level: filter with scale `scale + 1`'s filter and keep even rows and columns
/// (libvmaf subsample_rd + decimate_and_pad; only the kept samples are computed).
fn downsample(k: &Kernels, img: &Img, scale: usize, bit_depth: u8) -> Img {
    let f = FILTERS[scale + 1];
    let half = f.len() / 2;
    let (round, shift, _, _) = vertical_shifts(scale, bit_depth);
    let (w2, h2) = (img.w / 2, img.h / 2);
    let mut out = Img {
        w: w2,
        h: h2,
        data: vec![0; w2 * h2],
    };
    let mut v = vec![0u32; img.w];
    let mut pad = vec![0u32; img.w + 2 * half];
    for i in 0..h2 {
        let rows = img.rows(2 * i, f.len());
        (k.vert_mu)(&rows, f, &mut v);
        for x in v.iter_mut() {
            *x = (x.wrapping_add(round) >> shift) as u16 as u32;
        }
        pad_row(&v, half, &mut pad);
        let orow = &mut out.data[i * w2..(i + 1) * w2];
        for (j, o) in orow.iter_mut().enumerate() {
            let base = 2 * j;
            let mut acc = 0u32;
            for (t, &c) in f.iter().enumerate() {
                acc = acc.wrapping_add(c as u32 * pad[base + t]);
            }
            *o = (acc.wrapping_add(32768) >> 16) as u16;
        }
    }
    out
}

/// Reference-side data of one scale.
#[derive(Clone, Debug)]
struct RefScale {
    img: Img,
    /// Σf·x after both passes (Q16 mean), per pixel.
    mu1: Vec<u32>,
    /// σ₁² per pixel (wrapping difference as libvmaf keeps it).
    sigma1_sq: Vec<i32>,
    /// Σ over pixels with σ₁² ≥ σ²ₙ of log2(1 + σ₁²/σ²ₙ)·2048: the log part of the denominator.
    den_log: i64,
    /// Number of pixels with σ₁² < σ²ₙ (each adds 1 to numerator and denominator).
    den_non_log: i64,
}

/// Everything VIF needs from a reference frame, computed once and shared (read-only) by every
/// distorted frame scored against it.
#[derive(Clone, Debug)]
pub struct VifRef {
    bit_depth: u8,
    scales: Vec<RefScale>,
}

/// VIF of one distorted frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VifScore {
    /// libvmaf's `integer_vif_scale0..3` (num/den in f32, as libvmaf reports them).
    pub scales: [f64; 4],
    /// Per-scale numerator and denominator (f32 values).
    pub num: [f64; 4],
    pub den: [f64; 4],
}

/// Vertical + horizontal filtering of the ref-side statistics for one scale.
fn ref_scale(k: &Kernels, img: Img, scale: usize, bit_depth: u8) -> RefScale {
    let f = FILTERS[scale];
    let half = f.len() / 2;
    let (round, shift, sq_round, sq_shift) = vertical_shifts(scale, bit_depth);
    let (w, h) = (img.w, img.h);
    let table = log2_table();
    let mut mu1 = vec![0u32; w * h];
    let mut sigma1_sq = vec![0i32; w * h];
    let mut vmu = vec![0u32; w];
    let mut vsq = vec![0u64; w];
    let mut vsq32 = vec![0u32; w];
    let mut pad = vec![0u32; w + 2 * half];
    let mut hsq = vec![0u32; w];
    let (mut den_log, mut den_non_log) = (0i64, 0i64);
    for i in 0..h {
        let rows = img.rows(i, f.len());
        (k.vert_mu_sq)(&rows, f, &mut vmu, &mut vsq);
        for x in vmu.iter_mut() {
            *x = x.wrapping_add(round) >> shift;
        }
        for (o, &s) in vsq32.iter_mut().zip(&vsq) {
            *o = ((s + sq_round) >> sq_shift) as u32;
        }
        let mrow = &mut mu1[i * w..(i + 1) * w];
        pad_row(&vmu, half, &mut pad);
        (k.horiz_u32)(&pad, f, mrow);
        pad_row(&vsq32, half, &mut pad);
        (k.horiz_q16)(&pad, f, &mut hsq);
        let srow = &mut sigma1_sq[i * w..(i + 1) * w];
        for ((s, &m), &xx) in srow.iter_mut().zip(mrow.iter()).zip(&hsq) {
            let mu_sq = ((m as u64 * m as u64 + (1 << 31)) >> 32) as u32;
            let s1 = xx.wrapping_sub(mu_sq) as i32;
            *s = s1;
            if s1 >= SIGMA_NSQ {
                den_log += log2_32(table, (SIGMA_NSQ + s1) as u32) - 2048 * 17;
            } else {
                den_non_log += 1;
            }
        }
    }
    RefScale {
        img,
        mu1,
        sigma1_sq,
        den_log,
        den_non_log,
    }
}

impl VifRef {
    /// Prepares a reference luma plane of `bit_depth` (8..=16) bits.
    pub fn new(luma: &Plane, bit_depth: u8) -> VifRef {
        VifRef::with_kernels(luma, bit_depth, &Kernels::get())
    }

    pub fn with_kernels(luma: &Plane, bit_depth: u8, k: &Kernels) -> VifRef {
        let mut img = Some(Img {
            w: luma.width,
            h: luma.height,
            data: luma.data.clone(),
        });
        let mut scales = Vec::with_capacity(4);
        for scale in 0..4 {
            let cur = img.take().expect("pyramid level");
            img = (scale < 3).then(|| downsample(k, &cur, scale, bit_depth));
            scales.push(ref_scale(k, cur, scale, bit_depth));
        }
        VifRef { bit_depth, scales }
    }

    pub fn width(&self) -> usize {
        self.scales[0].img.w
    }

    pub fn height(&self) -> usize {
        self.scales[0].img.h
    }

    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }
}

/// Distorted-side statistics of one scale: the numerator's integer accumulators.
fn dist_scale(k: &Kernels, r: &RefScale, dimg: &Img, scale: usize, bd: u8, egl: f64) -> (f32, f32) {
    let f = FILTERS[scale];
    let half = f.len() / 2;
    let (round, shift, sq_round, sq_shift) = vertical_shifts(scale, bd);
    let (w, h) = (dimg.w, dimg.h);
    let table = log2_table();
    let mut vmu = vec![0u32; w];
    let mut vyy = vec![0u64; w];
    let mut vxy = vec![0u64; w];
    let mut v32 = vec![0u32; w];
    let mut pad = vec![0u32; w + 2 * half];
    let mut mu2 = vec![0u32; w];
    let mut yy = vec![0u32; w];
    let mut xy = vec![0u32; w];
    let (mut num_log, mut num_non_log) = (0i64, 0i64);
    const EPS: f64 = 65536.0 * 1.0e-10;
    for i in 0..h {
        let rrows = r.img.rows(i, f.len());
        let drows = dimg.rows(i, f.len());
        (k.vert_dist)(&rrows, &drows, f, &mut vmu, &mut vyy, &mut vxy);
        for x in vmu.iter_mut() {
            *x = x.wrapping_add(round) >> shift;
        }
        pad_row(&vmu, half, &mut pad);
        (k.horiz_u32)(&pad, f, &mut mu2);
        for (o, &s) in v32.iter_mut().zip(&vyy) {
            *o = ((s + sq_round) >> sq_shift) as u32;
        }
        pad_row(&v32, half, &mut pad);
        (k.horiz_q16)(&pad, f, &mut yy);
        for (o, &s) in v32.iter_mut().zip(&vxy) {
            *o = ((s + sq_round) >> sq_shift) as u32;
        }
        pad_row(&v32, half, &mut pad);
        (k.horiz_q16)(&pad, f, &mut xy);

        let mu1 = &r.mu1[i * w..(i + 1) * w];
        let s1row = &r.sigma1_sq[i * w..(i + 1) * w];
        for j in 0..w {
            let (m1, m2) = (mu1[j] as u64, mu2[j] as u64);
            let mu2_sq = ((m2 * m2 + (1 << 31)) >> 32) as u32;
            let mu1_mu2 = ((m1 * m2 + (1 << 31)) >> 32) as u32;
            let sigma2_sq = (yy[j].wrapping_sub(mu2_sq) as i32).max(0);
            let sigma12 = xy[j].wrapping_sub(mu1_mu2) as i32;
            let s1 = s1row[j];
            if s1 >= SIGMA_NSQ {
                if sigma12 > 0 && sigma2_sq > 0 {
                    let g = sigma12 as f64 / (s1 as f64 + EPS);
                    let sv_sq = ((sigma2_sq as f64 - g * sigma12 as f64) as i32).max(0);
                    let g = if g < egl { g } else { egl };
                    let numer1 = (sv_sq + SIGMA_NSQ) as u32;
                    let numer1_tmp = (g * g * s1 as f64) as i64 + numer1 as i64;
                    num_log += log2_64(table, numer1_tmp as u64) - log2_64(table, numer1 as u64);
                }
            } else {
                num_non_log += sigma2_sq as i64;
            }
        }
    }
    // libvmaf stores num and den as float.
    let non = r.den_non_log as f64;
    let num = num_log as f64 / 2048.0 + (non - (num_non_log as f64 / 16384.0) / 65025.0);
    let den = r.den_log as f64 / 2048.0 + non;
    (num as f32, den as f32)
}

/// Scores a distorted luma plane against a prepared reference. `egl` is the enhancement gain
/// limit (`vif_enhn_gain_limit`, ≥ 1; [`DEFAULT_ENHN_GAIN_LIMIT`] unless the model says).
///
/// The plane must have the reference's size (the engine checks this before calling).
pub fn score(r: &VifRef, dist: &Plane, egl: f64) -> VifScore {
    score_with_kernels(r, dist, egl, &Kernels::get())
}

pub fn score_with_kernels(r: &VifRef, dist: &Plane, egl: f64, k: &Kernels) -> VifScore {
    assert_eq!((dist.width, dist.height), (r.width(), r.height()));
    let mut img = Img {
        w: dist.width,
        h: dist.height,
        data: dist.data.clone(),
    };
    let mut out = VifScore::default();
    for scale in 0..4 {
        let (num, den) = dist_scale(k, &r.scales[scale], &img, scale, r.bit_depth, egl);
        out.num[scale] = num as f64;
        out.den[scale] = den as f64;
        out.scales[scale] = (num / den) as f64;
        if scale < 3 {
            img = downsample(k, &img, scale, r.bit_depth);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn plane(w: usize, h: usize, bd: u8, seed: u64) -> Plane {
        let mut rng = XorShift(seed);
        let mut p = Plane::new(w, h);
        for (i, v) in p.data.iter_mut().enumerate() {
            let smooth = ((i % w) * 3 + (i / w) * 2) as u64;
            *v = ((smooth + rng.next() % 64) % (1 << bd)) as u16;
        }
        p
    }

    fn random_rows(rng: &mut XorShift, n: usize, w: usize, max: u64) -> Vec<Vec<u16>> {
        (0..n)
            .map(|_| (0..w).map(|_| (rng.next() % max) as u16).collect())
            .collect()
    }

    macro_rules! simd_matches_scalar {
        ($name:ident, $level:expr) => {
            #[test]
            fn $name() {
                if CpuLevel::get() < $level {
                    return;
                }
                let (s, v) = (Kernels::SCALAR, Kernels::for_level($level));
                let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
                for &w in &[1usize, 7, 16, 33, 100] {
                    for f in FILTERS {
                        let rows = random_rows(&mut rng, f.len(), w, 65536);
                        let drows = random_rows(&mut rng, f.len(), w, 65536);
                        let r: Vec<&[u16]> = rows.iter().map(|r| &r[..]).collect();
                        let d: Vec<&[u16]> = drows.iter().map(|r| &r[..]).collect();
                        let (mut a, mut b) = (vec![0u32; w], vec![0u32; w]);
                        let (mut a64, mut b64) = (vec![0u64; w], vec![0u64; w]);
                        let (mut c64, mut d64) = (vec![0u64; w], vec![0u64; w]);
                        (s.vert_mu_sq)(&r, f, &mut a, &mut a64);
                        (v.vert_mu_sq)(&r, f, &mut b, &mut b64);
                        assert_eq!((&a, &a64), (&b, &b64));
                        (s.vert_dist)(&r, &d, f, &mut a, &mut a64, &mut c64);
                        (v.vert_dist)(&r, &d, f, &mut b, &mut b64, &mut d64);
                        assert_eq!((&a, &a64, &c64), (&b, &b64, &d64));
                        (s.vert_mu)(&r, f, &mut a);
                        (v.vert_mu)(&r, f, &mut b);
                        assert_eq!(a, b);
                        let src: Vec<u32> = (0..w + f.len()).map(|_| rng.next() as u32).collect();
                        (s.horiz_u32)(&src, f, &mut a);
                        (v.horiz_u32)(&src, f, &mut b);
                        assert_eq!(a, b);
                        (s.horiz_q16)(&src, f, &mut a);
                        (v.horiz_q16)(&src, f, &mut b);
                        assert_eq!(a, b);
                    }
                }
            }
        };
    }

    simd_matches_scalar!(avx2_kernels_match_scalar, CpuLevel::Avx2);

    #[test]
    fn whole_vif_same_with_every_kernel_set() {
        for &(w, h, bd) in &[(64usize, 48usize, 8u8), (37, 29, 10)] {
            let r = plane(w, h, bd, 1);
            let d = plane(w, h, bd, 2);
            let s = Kernels::SCALAR;
            let v = Kernels::get();
            let a = score_with_kernels(&VifRef::with_kernels(&r, bd, &s), &d, 100.0, &s);
            let b = score_with_kernels(&VifRef::with_kernels(&r, bd, &v), &d, 100.0, &v);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn identical_frames_score_one() {
        let r = plane(64, 64, 8, 3);
        let s = score(&VifRef::new(&r, 8), &r, DEFAULT_ENHN_GAIN_LIMIT);
        for v in s.scales {
            assert!((v - 1.0).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn log2_table_matches_log2() {
        let t = log2_table();
        assert_eq!(t[32768], 15 * 2048);
        assert_eq!(t[65535], ((65535f64).log2() * 2048.0).round() as u16);
        assert_eq!(log2_32(t, 1 << 20), 20 * 2048);
    }

    #[test]
    fn mirror_reflects_without_repeating_edges() {
        assert_eq!(mirror(-1, 10), 1);
        assert_eq!(mirror(-8, 10), 8);
        assert_eq!(mirror(10, 10), 8);
        assert_eq!(mirror(11, 10), 7);
        assert_eq!(mirror(5, 10), 5);
    }
}
