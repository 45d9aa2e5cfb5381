//! Keeping an encoded stream as a file (mp4/mov, mkv/webm, ivf, raw h264/hevc/obu), written to a
//! temporary name and renamed when complete, so no half-written file ever looks finished.

use super::codec::{Packet, StreamParams};
use super::conv::pixel_of;
use crate::error::{Error, Result};
use ff::ffi;
use ffmpeg_next as ff;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// FFmpeg muxer for a file extension.
fn muxer_for(path: &Path) -> Result<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "mp4" | "m4v" => "mp4",
        "mov" => "mov",
        "mkv" => "matroska",
        "webm" => "webm",
        "ivf" => "ivf",
        "h264" | "264" => "h264",
        "hevc" | "265" | "h265" => "hevc",
        "obu" => "obu",
        _ => {
            return Err(Error::config(
                "output",
                format!(
                    "{}: unknown stream file extension (mp4, mov, mkv, webm, ivf, h264, hevc, obu)",
                    path.display()
                ),
            ))
        }
    })
}

/// Writes packets of one video stream to a file.
pub struct StreamWriter {
    octx: ff::format::context::Output,
    params: StreamParams,
    path: PathBuf,
    tmp: PathBuf,
    muxer: &'static str,
    header: bool,
    done: bool,
}

// SAFETY: the format context is owned exclusively and used through `&mut self` only.
unsafe impl Send for StreamWriter {}

impl StreamWriter {
    /// Creates the file (under a temporary name until [`StreamWriter::finish`]).
    pub fn create(path: &Path, params: &StreamParams) -> Result<StreamWriter> {
        super::init();
        let what = path.display().to_string();
        let muxer = muxer_for(path)?;
        if path.to_str().is_none() {
            return Err(Error::media(what, "path is not valid UTF-8"));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stream".into());
        let tmp = path.with_file_name(format!(".{name}.partial"));
        let mut octx = ff::format::output_as(&tmp, muxer)
            .map_err(|e| Error::media(&what, format!("cannot create: {e}")))?;
        let cname = CString::new(params.codec.as_str())
            .map_err(|_| Error::codec(&params.codec, "codec name contains NUL"))?;
        // SAFETY: we fill a new stream's codec parameters of our own output context; extradata
        // is copied into an av_malloc'ed, padded buffer the context will free.
        unsafe {
            let desc = ffi::avcodec_descriptor_get_by_name(cname.as_ptr());
            if desc.is_null() {
                return Err(Error::codec(&params.codec, "unknown codec"));
            }
            let st = ffi::avformat_new_stream(octx.as_mut_ptr(), std::ptr::null());
            if st.is_null() {
                return Err(Error::media(&what, "cannot add a stream"));
            }
            let par = (*st).codecpar;
            (*par).codec_type = ffi::AVMediaType::AVMEDIA_TYPE_VIDEO;
            (*par).codec_id = (*desc).id;
            (*par).width = params.format.width as i32;
            (*par).height = params.format.height as i32;
            let pix: ffi::AVPixelFormat = pixel_of(&params.format)?.into();
            (*par).format = pix as i32;
            if !params.extradata.is_empty() {
                let n = params.extradata.len();
                let buf =
                    ffi::av_mallocz(n + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize) as *mut u8;
                if buf.is_null() {
                    return Err(Error::media(&what, "out of memory"));
                }
                std::ptr::copy_nonoverlapping(params.extradata.as_ptr(), buf, n);
                (*par).extradata = buf;
                (*par).extradata_size = n as i32;
            }
            (*st).time_base = ffi::AVRational {
                num: params.fps_den as i32,
                den: params.fps_num as i32,
            };
            (*st).avg_frame_rate = ffi::AVRational {
                num: params.fps_num as i32,
                den: params.fps_den as i32,
            };
            (*st).r_frame_rate = (*st).avg_frame_rate;
        }
        Ok(StreamWriter {
            octx,
            params: params.clone(),
            path: path.to_path_buf(),
            tmp,
            muxer,
            header: false,
            done: false,
        })
    }

    /// Writes the container header, first deriving H.264/HEVC extradata from the parameter sets
    /// of the first packet when the encoder kept them in-band (mp4 and mkv need them up front).
    fn write_header(&mut self, first: Option<&Packet>) -> Result<()> {
        let what = self.path.display().to_string();
        if self.params.extradata.is_empty() {
            if let Some(p) = first {
                let sets = parameter_sets(&self.params.codec, &p.data);
                if !sets.is_empty() {
                    // SAFETY: stream 0 exists (added in create); the buffer is av_malloc'ed
                    // with padding and handed to the codec parameters, which free it.
                    unsafe {
                        let st = *(*self.octx.as_mut_ptr()).streams;
                        let par = (*st).codecpar;
                        let buf = ffi::av_mallocz(
                            sets.len() + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize,
                        ) as *mut u8;
                        if buf.is_null() {
                            return Err(Error::media(&what, "out of memory"));
                        }
                        std::ptr::copy_nonoverlapping(sets.as_ptr(), buf, sets.len());
                        (*par).extradata = buf;
                        (*par).extradata_size = sets.len() as i32;
                    }
                }
            }
        }
        self.header = true;
        self.octx.write_header().map(|_| ()).map_err(|e| {
            Error::media(
                &what,
                format!(
                    "cannot write {} header for {}: {e}",
                    self.muxer, self.params.codec
                ),
            )
        })
    }

    pub fn write(&mut self, packet: &Packet) -> Result<()> {
        if !self.header {
            self.write_header(Some(packet))?;
        }
        let what = self.path.display().to_string();
        let mut p = ff::Packet::copy(&packet.data);
        p.set_pts(Some(packet.pts));
        p.set_dts(Some(packet.dts));
        p.set_duration(1);
        p.set_stream(0);
        if packet.keyframe {
            p.set_flags(ff::codec::packet::Flags::KEY);
        }
        let src_tb = ff::Rational::new(self.params.fps_den as i32, self.params.fps_num as i32);
        let dst_tb = self.octx.stream(0).map(|s| s.time_base()).unwrap_or(src_tb);
        p.rescale_ts(src_tb, dst_tb);
        p.write_interleaved(&mut self.octx).map_err(|e| {
            Error::media(
                &what,
                format!("cannot write packet pts {}: {e}", packet.pts),
            )
        })
    }

    /// Writes the trailer and moves the file to its final name.
    pub fn finish(mut self) -> Result<()> {
        let what = self.path.display().to_string();
        if !self.header {
            self.write_header(None)?;
        }
        self.octx
            .write_trailer()
            .map_err(|e| Error::media(&what, format!("cannot finish file: {e}")))?;
        self.done = true;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes a whole encoded stream to `path` (container from the extension).
pub fn write_stream(path: &Path, params: &StreamParams, packets: &[Packet]) -> Result<()> {
    let mut w = StreamWriter::create(path, params)?;
    for p in packets {
        w.write(p)?;
    }
    w.finish()
}

/// The Annex B parameter-set NAL units (H.264 SPS/PPS, HEVC VPS/SPS/PPS) at the start of an
/// in-band packet, with their start codes: FFmpeg's mp4/mkv muxers convert such extradata to
/// avcC/hvcC themselves.
fn parameter_sets(codec: &str, data: &[u8]) -> Vec<u8> {
    let is_set = |nal: &[u8]| match codec {
        "h264" => matches!(nal.first().map(|b| b & 0x1f), Some(7 | 8)),
        "hevc" => matches!(nal.first().map(|b| (b >> 1) & 0x3f), Some(32..=34)),
        _ => false,
    };
    // Start code positions (00 00 01, possibly preceded by another 00).
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map(|&n| n - 3).unwrap_or(data.len());
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        let nal = &data[s..end];
        if is_set(nal) {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parameter_sets;

    #[test]
    fn h264_parameter_sets_are_extracted() {
        // AUD, SPS, PPS, SEI, IDR slice.
        let pkt = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 1, 2, 3, 0, 0, 1, 0x68, 4, 5, 0, 0, 1, 0x06,
            9, 0, 0, 1, 0x65, 7, 7,
        ];
        assert_eq!(
            parameter_sets("h264", &pkt),
            vec![0, 0, 0, 1, 0x67, 1, 2, 3, 0, 0, 0, 1, 0x68, 4, 5]
        );
        assert!(parameter_sets("vp9", &pkt).is_empty());
    }
}
