//! The scalar SSIM kernels: twins of libvmaf's C, the reference every SIMD kernel is tested
//! against.

use super::{clamp0, constants, valid_size, Kernels, GAUSSIAN};
use crate::cpu::CpuLevel;

/// Scalar twin of the Gaussian (iqa/convolve.c `_iqa_convolve`, 1-D path): each output is the
/// double sum, in tap order, of float products, rounded to float after each pass.
pub(crate) fn gaussian(img: &[f32], w: usize, h: usize, tmp: &mut Vec<f32>, out: &mut Vec<f32>) {
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

/// Scalar twin of the per-pixel SSIM term (iqa/ssim_tools.c `_iqa_ssim`, default case), with
/// libvmaf's float/double mix: `rm`/`rs` are the reference's μ and clamped σ², `cm` the
/// distorted μ, `csq` and `cross` the Gaussian of dist² and of ref·dist. Writes l·c·s per pixel.
pub(crate) fn terms(
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

/// No vector interior: the driver's table loop decimates the whole row.
#[allow(clippy::too_many_arguments)]
fn decimate_row(
    _rows: &[u16],
    _w: usize,
    _f: usize,
    _c: usize,
    _div: f32,
    _kv: f32,
    x_lo: usize,
    _x_hi: usize,
    _taps: &mut Vec<f64>,
    _out: &mut [f32],
) -> usize {
    x_lo
}

pub(crate) const KERNELS: Kernels = Kernels {
    level: CpuLevel::Scalar,
    gaussian,
    terms,
    decimate_row,
};
