//! libvmaf JSON models (`--model PATH`): loading any text gives a model or a `Model` error, and a
//! model that loads predicts on any feature vector without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pertitle::quality::vmaf::Model;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = Model::from_json("fuzz.json", text) else {
        return;
    };
    let n = model.features.len();
    // Typical raw features (adm2, motion2, vif0..3 ranges), the extremes, and non-finite values
    // a broken frame could give; `predict` takes one value per model feature.
    let mut vectors: Vec<Vec<f64>> = [
        0.0,
        1.0,
        -1.0,
        0.5,
        20.0,
        1e300,
        -1e300,
        f64::NAN,
        f64::INFINITY,
    ]
    .iter()
    .map(|&v| vec![v; n])
    .collect();
    vectors.push((0..n).map(|i| 0.9 - 0.1 * i as f64).collect());
    vectors.push(
        (0..n)
            .map(|i| if i % 2 == 0 { 0.0 } else { 30.0 })
            .collect(),
    );
    for raw in &vectors {
        let _ = model.predict(raw, false);
        let _ = model.predict(raw, true);
    }
});
