//! A minimal reader for the 8-bit 4:2:0 y4m files the benchmarks generate themselves.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// All frames of an 8-bit 4:2:0 y4m file (at most `max` frames), as packed planar bytes.
pub fn read_all(path: &Path, max: usize) -> (usize, usize, Vec<Vec<u8>>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut header = String::new();
    r.read_line(&mut header).expect("y4m header");
    assert!(
        header.starts_with("YUV4MPEG2 "),
        "{}: not y4m",
        path.display()
    );
    let (mut w, mut h) = (0usize, 0usize);
    for tok in header.split_whitespace().skip(1) {
        match tok.as_bytes()[0] {
            b'W' => w = tok[1..].parse().expect("y4m W"),
            b'H' => h = tok[1..].parse().expect("y4m H"),
            b'C' => assert!(
                tok.starts_with("C420"),
                "{}: {tok} is not 8-bit 4:2:0",
                path.display()
            ),
            _ => {}
        }
    }
    let n = w * h + 2 * w.div_ceil(2) * h.div_ceil(2);
    let mut frames = Vec::new();
    let mut line = String::new();
    while frames.len() < max {
        line.clear();
        if r.read_line(&mut line).expect("y4m frame header") == 0 {
            break;
        }
        assert!(
            line.starts_with("FRAME"),
            "{}: bad frame header",
            path.display()
        );
        let mut buf = vec![0u8; n];
        r.read_exact(&mut buf).expect("y4m frame data");
        frames.push(buf);
    }
    (w, h, frames)
}

/// Packed 8-bit 4:2:0 bytes as a `pertitle::Frame` (byte samples).
pub fn to_frame(data: &[u8], w: usize, h: usize, index: u64) -> pertitle::Frame {
    use pertitle::{Chroma, Frame, FrameFormat};
    let mut f = Frame::new(FrameFormat::new(w, h, Chroma::Yuv420, 8), index);
    let mut off = 0;
    for p in f.planes.iter_mut() {
        let len = p.samples.len();
        p.samples.update(|i, _| u16::from(data[off + i]));
        off += len;
    }
    f
}
