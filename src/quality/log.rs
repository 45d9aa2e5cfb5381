//! Score logs in libvmaf's layouts (libvmaf `output.c`, `vmaf_write_output_json` /
//! `vmaf_write_output_csv`), so scripts written for `vmaf --json` / `--csv` read ours unchanged:
//!
//! ```text
//! {
//!   "version": "...",
//!   "fps": 25.00,
//!   "frames": [
//!     {
//!       "frameNum": 0,
//!       "metrics": {
//!         "psnr_y": 34.123456,
//!         ...
//!       }
//!     }, ...
//!   ],
//!   "pooled_metrics": {
//!     "psnr_y": {
//!       "min": ..., "max": ..., "mean": ..., "harmonic_mean": ...
//!     }, ...
//!   },
//!   "aggregate_metrics": {
//!   }
//! }
//! ```
//!
//! Numbers are printed as libvmaf prints them: `%.6f`, or `%.16f` when the value has more than six
//! leading zeros after the decimal point; NaN and infinities become `null` (libvmaf forgets a
//! newline there; we keep the JSON valid). Metric names are whatever the caller uses (`vmaf`,
//! `psnr_y`, `psnr_cb`, `psnr_cr`, `float_ssim`, `integer_adm2`, ...). The writers take plain
//! per-frame maps, not engine types, and write through any `io::Write`.

use super::pooling;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// One frame's scores. `frame_num` is the frame's index in the distorted stream (frames skipped
/// by subsampling are simply absent from the list).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogFrame {
    pub frame_num: u64,
    pub metrics: BTreeMap<String, f64>,
}

impl LogFrame {
    pub fn new(frame_num: u64, metrics: BTreeMap<String, f64>) -> Self {
        LogFrame { frame_num, metrics }
    }
}

/// Numbers the frames 0, 1, 2, ... in order.
pub fn numbered(frames: Vec<BTreeMap<String, f64>>) -> Vec<LogFrame> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, m)| LogFrame::new(i as u64, m))
        .collect()
}

/// libvmaf's `count_leading_zeros_d`: zeros between the decimal point and the first non-zero
/// digit of the fractional part (0 when there is no fractional part).
fn leading_zeros(x: f64) -> u32 {
    let x = x.abs();
    let mut frac = x - x.trunc();
    let mut n = 0;
    while frac < 1.0 && frac != 0.0 {
        frac *= 10.0;
        n += 1;
    }
    n
}

/// A value as libvmaf prints it: `%.6f`, `%.16f` for values with more than 6 leading zeros,
/// `null` for NaN and infinities.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        "null".to_string()
    } else if leading_zeros(v) <= 6 {
        format!("{v:.6}")
    } else {
        format!("{v:.16}")
    }
}

/// Metric names in first-seen order over the frames.
fn metric_names(frames: &[LogFrame]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for f in frames {
        for k in f.metrics.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    names
}

/// Writes libvmaf's JSON log. Note libvmaf's `fps` is its scoring throughput (frames scored
/// per second of processing, `vmaf_write_output`), not the video's frame rate; pass the same.
/// `fps` None (or not finite) prints `null` as libvmaf does. `pooled_metrics` holds min, max, mean and harmonic_mean of each metric over the
/// frames that have it, pooled as libvmaf pools.
pub fn write_json<W: Write>(
    out: &mut W,
    version: &str,
    fps: Option<f64>,
    frames: &[LogFrame],
) -> io::Result<()> {
    let mut s = String::new();
    s.push_str("{\n");
    s.push_str(&format!(
        "  \"version\": {},\n",
        serde_json::to_string(version).map_err(io::Error::other)?
    ));
    match fps.filter(|f| f.is_finite()) {
        Some(f) => s.push_str(&format!("  \"fps\": {f:.2},\n")),
        None => s.push_str("  \"fps\": null,\n"),
    }
    s.push_str("  \"frames\": [");
    for (i, f) in frames.iter().enumerate() {
        s.push_str(if i > 0 { ",\n" } else { "\n" });
        s.push_str("    {\n");
        s.push_str(&format!("      \"frameNum\": {},\n", f.frame_num));
        s.push_str("      \"metrics\": {\n");
        let n = f.metrics.len();
        for (j, (k, v)) in f.metrics.iter().enumerate() {
            s.push_str(&format!(
                "        {}: {}{}\n",
                json_key(k)?,
                format_number(*v),
                if j + 1 < n { "," } else { "" }
            ));
        }
        s.push_str("      }\n");
        s.push_str("    }");
    }
    s.push_str("\n  ],\n");
    s.push_str("  \"pooled_metrics\": {");
    for (i, name) in metric_names(frames).into_iter().enumerate() {
        let scores: Vec<f64> = frames
            .iter()
            .filter_map(|f| f.metrics.get(name).copied())
            .collect();
        s.push_str(if i > 0 { ",\n" } else { "\n" });
        s.push_str(&format!("    {}: {{\n", json_key(name)?));
        let pooled = [
            ("min", pooling::min(&scores)),
            ("max", pooling::max(&scores)),
            ("mean", pooling::mean(&scores)),
            ("harmonic_mean", pooling::harmonic_mean(&scores)),
        ];
        for (j, (k, v)) in pooled.iter().enumerate() {
            s.push_str(&format!(
                "      \"{k}\": {}{}\n",
                format_number(*v),
                if j + 1 < pooled.len() { "," } else { "" }
            ));
        }
        s.push_str("    }");
    }
    s.push_str("\n  },\n");
    s.push_str("  \"aggregate_metrics\": {\n  }\n");
    s.push_str("}\n");
    out.write_all(s.as_bytes())
}

fn json_key(k: &str) -> io::Result<String> {
    serde_json::to_string(k).map_err(io::Error::other)
}

/// Writes libvmaf's CSV log: a header `Frame,<metric>,...,` then one row per frame, each value
/// followed by a comma as libvmaf writes it. Columns are the metrics in first-seen order; a frame
/// missing a metric gets an empty cell (libvmaf would shift the row; we keep columns aligned).
pub fn write_csv<W: Write>(out: &mut W, frames: &[LogFrame]) -> io::Result<()> {
    let names = metric_names(frames);
    let mut s = String::from("Frame,");
    for n in &names {
        s.push_str(n);
        s.push(',');
    }
    s.push('\n');
    for f in frames {
        s.push_str(&format!("{},", f.frame_num));
        for n in &names {
            if let Some(v) = f.metrics.get(*n) {
                s.push_str(&format_number(*v));
            }
            s.push(',');
        }
        s.push('\n');
    }
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<LogFrame> {
        let f = |v: f64, p: f64, s: f64| {
            BTreeMap::from([
                ("vmaf".to_string(), v),
                ("psnr_y".to_string(), p),
                ("float_ssim".to_string(), s),
            ])
        };
        numbered(vec![
            f(90.0, 40.0, 0.99),
            f(70.0, 35.5, 0.95),
            f(80.0, 60.0, 1.0),
        ])
    }

    #[test]
    fn number_format_follows_libvmaf() {
        assert_eq!(format_number(95.123_456_789), "95.123457");
        assert_eq!(format_number(0.0), "0.000000");
        assert_eq!(format_number(60.0), "60.000000");
        assert_eq!(format_number(0.000_001_5), "0.000002");
        assert_eq!(format_number(0.000_000_15), "0.0000001500000000");
        assert_eq!(format_number(-0.5), "-0.500000");
        assert_eq!(format_number(f64::NAN), "null");
        assert_eq!(format_number(f64::INFINITY), "null");
    }

    #[test]
    fn json_round_trips_through_serde() {
        let mut buf = Vec::new();
        write_json(&mut buf, "3.2.0", Some(25.0), &frames()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "3.2.0");
        assert_eq!(v["fps"], 25.0);
        assert!(text.contains("\"fps\": 25.00,"));
        let fr = v["frames"].as_array().unwrap();
        assert_eq!(fr.len(), 3);
        assert_eq!(fr[1]["frameNum"], 1);
        assert_eq!(fr[1]["metrics"]["psnr_y"], 35.5);
        assert_eq!(fr[2]["metrics"]["float_ssim"], 1.0);
        let p = &v["pooled_metrics"]["vmaf"];
        assert_eq!(p["min"], 70.0);
        assert_eq!(p["max"], 90.0);
        assert_eq!(p["mean"], 80.0);
        let hm = 3.0 / (1.0 / 91.0 + 1.0 / 71.0 + 1.0 / 81.0) - 1.0;
        let got = p["harmonic_mean"].as_f64().unwrap();
        assert!((got - hm).abs() < 1e-6, "{got} vs {hm}");
        assert!(v["aggregate_metrics"].as_object().unwrap().is_empty());
    }

    #[test]
    fn json_with_nan_and_no_fps_stays_valid() {
        let fr = numbered(vec![BTreeMap::from([("psnr_y".to_string(), f64::NAN)])]);
        let mut buf = Vec::new();
        write_json(&mut buf, "x", None, &fr).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert!(v["fps"].is_null());
        assert!(v["frames"][0]["metrics"]["psnr_y"].is_null());
        let mut buf = Vec::new();
        write_json(&mut buf, "x", Some(30.0), &[]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert!(v["frames"].as_array().unwrap().is_empty());
    }

    #[test]
    fn csv_layout() {
        let mut buf = Vec::new();
        write_csv(&mut buf, &frames()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Frame,float_ssim,psnr_y,vmaf,");
        assert_eq!(lines[1], "0,0.990000,40.000000,90.000000,");
        assert_eq!(lines.len(), 4);
    }
}
