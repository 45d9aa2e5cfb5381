//! Planar video frames as every stage after the media layer sees them.
//!
//! An 8-bit frame stores a byte per sample and a deeper one two ([`Samples`]): 8-bit content is
//! what users bring, and at half the bytes every copy and every memory-bound kernel (PSNR, the
//! first filter pass of each feature) moves half the data. Planes are tightly packed (stride ==
//! width) so kernels can treat rows as plain slices.

/// Chroma subsampling of a planar YUV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chroma {
    /// Luma only.
    Gray,
    Yuv420,
    Yuv422,
    Yuv444,
}

impl Chroma {
    /// Horizontal and vertical log2 subsampling of the chroma planes.
    pub fn shift(self) -> (u32, u32) {
        match self {
            Chroma::Gray | Chroma::Yuv444 => (0, 0),
            Chroma::Yuv422 => (1, 0),
            Chroma::Yuv420 => (1, 1),
        }
    }

    /// Size of a chroma plane for a luma plane of `w`×`h` (rounded up, as FFmpeg does).
    pub fn chroma_size(self, w: usize, h: usize) -> (usize, usize) {
        let (sx, sy) = self.shift();
        ((w + (1 << sx) - 1) >> sx, (h + (1 << sy) - 1) >> sy)
    }

    pub fn planes(self) -> usize {
        if self == Chroma::Gray {
            1
        } else {
            3
        }
    }
}

/// The layout of a frame: size, subsampling and bit depth. Two frames can be compared sample by
/// sample only if their formats are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FrameFormat {
    pub width: usize,
    pub height: usize,
    pub chroma: Chroma,
    /// 8 or 10 (up to 16 is representable).
    pub bit_depth: u8,
}

impl FrameFormat {
    pub fn new(width: usize, height: usize, chroma: Chroma, bit_depth: u8) -> Self {
        FrameFormat {
            width,
            height,
            chroma,
            bit_depth,
        }
    }

    /// Width and height of plane `i` (0 = luma).
    pub fn plane_size(&self, i: usize) -> (usize, usize) {
        if i == 0 {
            (self.width, self.height)
        } else {
            self.chroma.chroma_size(self.width, self.height)
        }
    }

    /// Largest sample value, `2^bit_depth - 1`.
    pub fn max_value(&self) -> u16 {
        ((1u32 << self.bit_depth) - 1) as u16
    }
}

/// The samples of one plane, row-major: a byte each when they fit in 8 bits, two above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl Samples {
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` as u16.
    pub fn get(&self, i: usize) -> u16 {
        match self {
            Samples::U8(v) => u16::from(v[i]),
            Samples::U16(v) => v[i],
        }
    }

    /// Sets sample `i`; `v` must fit the storage (below 256 for bytes).
    pub fn set(&mut self, i: usize, v: u16) {
        match self {
            Samples::U8(s) => s[i] = v as u8,
            Samples::U16(s) => s[i] = v,
        }
    }

    /// The samples as u16: borrowed when they are stored so, widened otherwise.
    pub fn wide(&self) -> std::borrow::Cow<'_, [u16]> {
        match self {
            Samples::U8(v) => v.iter().map(|&s| u16::from(s)).collect::<Vec<_>>().into(),
            Samples::U16(v) => v.as_slice().into(),
        }
    }

    /// Sets every sample to `f(index, sample)`; the values must fit the storage (below 256 for
    /// bytes).
    pub fn update(&mut self, mut f: impl FnMut(usize, u16) -> u16) {
        match self {
            Samples::U8(v) => {
                for (i, s) in v.iter_mut().enumerate() {
                    *s = f(i, u16::from(*s)) as u8;
                }
            }
            Samples::U16(v) => {
                for (i, s) in v.iter_mut().enumerate() {
                    *s = f(i, *s);
                }
            }
        }
    }

    /// Every sample as u16, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        let (a, b) = match self {
            Samples::U8(v) => (Some(v.iter().map(|&s| u16::from(s))), None),
            Samples::U16(v) => (None, Some(v.iter().copied())),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }
}

/// A sample type a kernel can be instantiated for: the byte and word storage of [`Samples`].
pub(crate) trait Sample:
    Copy + Default + Into<u32> + Into<i32> + Send + Sync + 'static
{
    /// The x86 loads of this type's samples, zero-extended to 16-bit lanes.
    #[cfg(target_arch = "x86_64")]
    type Simd: crate::simd::Load<Sample = Self>;
}

impl Sample for u8 {
    #[cfg(target_arch = "x86_64")]
    type Simd = crate::simd::Bytes;
}

impl Sample for u16 {
    #[cfg(target_arch = "x86_64")]
    type Simd = crate::simd::Words;
}

/// A row or plane of samples of either width, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum SampleSlice<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

/// One plane of samples, row-major, stride == width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub samples: Samples,
}

impl Plane {
    /// A zero plane of u16 samples (any bit depth).
    pub fn new(width: usize, height: usize) -> Self {
        Plane::from_u16(width, height, vec![0; width * height])
    }

    /// A zero plane of samples of `bit_depth` bits, stored in bytes when they fit.
    pub fn zeroed(width: usize, height: usize, bit_depth: u8) -> Self {
        let samples = if bit_depth <= 8 {
            Samples::U8(vec![0; width * height])
        } else {
            Samples::U16(vec![0; width * height])
        };
        Plane {
            width,
            height,
            samples,
        }
    }

    pub fn from_u16(width: usize, height: usize, data: Vec<u16>) -> Self {
        Plane {
            width,
            height,
            samples: Samples::U16(data),
        }
    }

    pub fn from_u8(width: usize, height: usize, data: Vec<u8>) -> Self {
        Plane {
            width,
            height,
            samples: Samples::U8(data),
        }
    }

    /// The whole plane, borrowed as stored.
    pub fn slice(&self) -> SampleSlice<'_> {
        match &self.samples {
            Samples::U8(v) => SampleSlice::U8(v),
            Samples::U16(v) => SampleSlice::U16(v),
        }
    }

    /// Sample (x, y) as u16.
    pub fn get(&self, x: usize, y: usize) -> u16 {
        self.samples.get(y * self.width + x)
    }

    /// Sets sample (x, y); `v` must fit the storage (below 256 for byte samples).
    pub fn set(&mut self, x: usize, y: usize, v: u16) {
        self.samples.set(y * self.width + x, v);
    }

    /// Row `y` as u16, widened into `buf` when the plane stores bytes.
    pub fn row_wide<'a>(&'a self, y: usize, buf: &'a mut Vec<u16>) -> &'a [u16] {
        let r = y * self.width..(y + 1) * self.width;
        match &self.samples {
            Samples::U8(v) => {
                buf.clear();
                buf.extend(v[r].iter().map(|&s| u16::from(s)));
                buf
            }
            Samples::U16(v) => &v[r],
        }
    }

    /// The plane with u16 storage (a copy when it stores bytes).
    pub fn to_wide(&self) -> Plane {
        Plane::from_u16(self.width, self.height, self.samples.wide().into_owned())
    }
}

/// Two planes with one storage: as they are when they share it, both widened to u16 otherwise
/// (planes built by hand with mixed storage), so a kernel pair always sees like with like.
pub(crate) fn same_storage<'a>(
    a: &'a Plane,
    b: &'a Plane,
) -> (std::borrow::Cow<'a, Plane>, std::borrow::Cow<'a, Plane>) {
    use std::borrow::Cow;
    match (&a.samples, &b.samples) {
        (Samples::U8(_), Samples::U8(_)) | (Samples::U16(_), Samples::U16(_)) => {
            (Cow::Borrowed(a), Cow::Borrowed(b))
        }
        _ => (Cow::Owned(a.to_wide()), Cow::Owned(b.to_wide())),
    }
}

/// A decoded picture. `index` is its position in display order, counted from 0 in its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub format: FrameFormat,
    /// 1 plane for `Gray`, otherwise Y, Cb, Cr.
    pub planes: Vec<Plane>,
    pub index: u64,
}

impl Frame {
    /// A frame of the given format with every sample zero, in bytes for 8-bit formats.
    pub fn new(format: FrameFormat, index: u64) -> Self {
        let planes = (0..format.chroma.planes())
            .map(|i| {
                let (w, h) = format.plane_size(i);
                Plane::zeroed(w, h, format.bit_depth)
            })
            .collect();
        Frame {
            format,
            planes,
            index,
        }
    }

    pub fn width(&self) -> usize {
        self.format.width
    }

    pub fn height(&self) -> usize {
        self.format.height
    }

    pub fn luma(&self) -> &Plane {
        &self.planes[0]
    }
}
