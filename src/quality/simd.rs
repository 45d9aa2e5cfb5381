//! Loads of either sample storage into 16-bit lanes, so one SIMD kernel body serves byte and
//! word planes: the byte loads read half the memory and zero-extend.

use std::arch::x86_64::*;

/// 16-bit-lane loads of one storage. Callers are SIMD kernels compiled with the features each
/// load needs (AVX2 for the 256-bit loads, AVX-512 BW for the 512-bit ones); the loads are
/// inlined into them.
pub trait Load {
    type Sample: Copy;
    /// 16 samples at `p` as 16 words.
    ///
    /// # Safety
    /// AVX2; 16 samples readable at `p`.
    unsafe fn load16(p: *const Self::Sample) -> __m256i;
    /// 32 samples at `p` as 32 words.
    ///
    /// # Safety
    /// AVX-512 BW; 32 samples readable at `p`.
    unsafe fn load32(p: *const Self::Sample) -> __m512i;
    /// The samples of mask `m` (of 32) at `p` as words, the others zero.
    ///
    /// # Safety
    /// AVX-512 BW; the masked samples readable at `p`.
    unsafe fn maskz_load32(m: __mmask32, p: *const Self::Sample) -> __m512i;
}

/// Byte samples.
pub struct Bytes;
/// Word samples.
pub struct Words;

impl Load for Bytes {
    type Sample = u8;
    #[inline(always)]
    unsafe fn load16(p: *const u8) -> __m256i {
        _mm256_cvtepu8_epi16(_mm_loadu_si128(p as *const __m128i))
    }
    #[inline(always)]
    unsafe fn load32(p: *const u8) -> __m512i {
        _mm512_cvtepu8_epi16(_mm256_loadu_si256(p as *const __m256i))
    }
    #[inline(always)]
    unsafe fn maskz_load32(m: __mmask32, p: *const u8) -> __m512i {
        _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, p as *const i8))
    }
}

impl Load for Words {
    type Sample = u16;
    #[inline(always)]
    unsafe fn load16(p: *const u16) -> __m256i {
        _mm256_loadu_si256(p as *const __m256i)
    }
    #[inline(always)]
    unsafe fn load32(p: *const u16) -> __m512i {
        _mm512_loadu_si512(p as *const _)
    }
    #[inline(always)]
    unsafe fn maskz_load32(m: __mmask32, p: *const u16) -> __m512i {
        _mm512_maskz_loadu_epi16(m, p as *const i16)
    }
}
