//! Recipe TOML (`--recipe FILE`, the embedded recipes): parsing and validation must turn any text
//! into a recipe or a `Config` error, never a panic; a recipe that validates must also survive
//! what the ladder does with it next (serialise for the store key, overrides, size resolution).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pertitle::recipe::{Recipe, RecipeOverrides};

fuzz_target!(|data: &[u8]| {
    // Recipe files are read with read_to_string: non-UTF-8 is an I/O error before the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut recipe) = Recipe::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    // Documented round trip: from_toml_str(to_toml()) gives the same recipe back. Compared as
    // TOML text so a NaN field (NaN != NaN) cannot make a false alarm.
    let toml = recipe.to_toml().expect("a validated recipe serialises");
    let back = Recipe::from_toml_str(&toml, "round trip").expect("its own TOML parses back");
    assert_eq!(toml, back.to_toml().expect("serialises again"));
    for (w, h) in [(1920, 1080), (1280, 720), (721, 405), (2, 2), (1080, 1920)] {
        let _ = recipe.resolve(w, h);
    }
    let _ = recipe.output_fps(30000, 1001);
    let _ = recipe.output_fps(u32::MAX, 1);
    let _ = recipe.apply(&RecipeOverrides::default());
});
