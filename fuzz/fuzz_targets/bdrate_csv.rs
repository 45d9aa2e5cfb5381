//! `pertitle bdrate A B` inputs: CSV and points.json text give a curve or a `Data` error, and two
//! curves that parse give a BD result or an error, never a panic or a non-finite number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pertitle::bdrate::{self, Method};
use pertitle::Metric;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // One input feeds both readers: the first half as CSV (curve A), the second half as JSON
    // (curve B), split at a char boundary; and the whole text through each reader too.
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (first, second) = text.split_at(mid);
    for metric in [Metric::Vmaf, Metric::PsnrY, Metric::Ssim] {
        let _ = bdrate::parse_csv(text, "whole.csv", metric);
        let _ = bdrate::parse_points_json(text, "whole.json", metric);
        let a = bdrate::parse_csv(first, "a.csv", metric);
        let b = bdrate::parse_points_json(second, "b.json", metric);
        let a2 = bdrate::parse_csv(second, "b.csv", metric);
        let curves: Vec<Vec<(f64, f64)>> = [a, b, a2].into_iter().filter_map(Result::ok).collect();
        for x in &curves {
            for y in &curves {
                for method in [Method::Pchip, Method::Cubic] {
                    if let Ok(r) = bdrate::bd_rate(x, y, metric, method) {
                        assert!(r.bd_rate_percent.is_finite(), "{r:?}");
                        assert!(r.bd_quality.map_or(true, f64::is_finite), "{r:?}");
                        let _ = r.summary();
                    }
                }
            }
        }
    }
});
