//! Planar video frames as every stage after the media layer sees them.
//!
//! Samples are always `u16` whatever the bit depth: one code path for 8- and 10-bit content in the
//! scaler glue, the quality kernels and their SIMD twins. Planes are tightly packed (stride ==
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

/// One plane of samples, row-major, stride == width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u16>,
}

impl Plane {
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            data: vec![0; width * height],
        }
    }

    pub fn row(&self, y: usize) -> &[u16] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    pub fn row_mut(&mut self, y: usize) -> &mut [u16] {
        &mut self.data[y * self.width..(y + 1) * self.width]
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
    /// A frame of the given format with every sample zero.
    pub fn new(format: FrameFormat, index: u64) -> Self {
        let planes = (0..format.chroma.planes())
            .map(|i| {
                let (w, h) = format.plane_size(i);
                Plane::new(w, h)
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
