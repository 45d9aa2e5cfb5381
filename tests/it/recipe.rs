//! Recipes: the embedded files load and round-trip; every bad value is an error naming its key.

use pertitle::error::{Field, Origin};
use pertitle::media::ScalerKind;
use pertitle::recipe::{
    default_sizes, parse_crf_list, Recipe, RecipeOverrides, RungRateControl, Size,
};
use pertitle::{Error, Metric};

/// The field, origin, value and reason of a config error (panics if it is another kind).
fn config_parts(r: pertitle::Result<impl std::fmt::Debug>) -> (Field, Origin, String, String) {
    match r {
        Err(Error::Config {
            field,
            origin,
            value,
            reason,
        }) => (field, origin, value, reason),
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// The field (as displayed) and reason of a config error about recipe text.
#[track_caller]
fn config_err(r: pertitle::Result<impl std::fmt::Debug>) -> (String, String) {
    let (field, origin, _, reason) = config_parts(r);
    assert_eq!(origin, Origin::Recipe, "{field}: {reason}");
    (field.to_string(), reason)
}

/// The recipe key of a config error about a value the caller passed.
#[track_caller]
fn caller_err(r: pertitle::Result<impl std::fmt::Debug>) -> String {
    let (field, origin, _, reason) = config_parts(r);
    assert_eq!(origin, Origin::Caller, "{field}: {reason}");
    assert!(
        !reason.contains("--"),
        "no flags in library errors: {reason}"
    );
    field.recipe_key().expect("a recipe key").to_string()
}

fn parse(text: &str) -> pertitle::Result<Recipe> {
    Recipe::from_toml_str(text, "test.toml")
}

const MINIMAL: &str = "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20, 30]\n";

#[test]
fn builtin_recipes_load_validate_and_round_trip() {
    for codec in [
        "libx264",
        "libx265",
        "libvpx-vp9",
        "libsvtav1",
        "libaom-av1",
    ] {
        let r = Recipe::default_for(codec).unwrap();
        assert_eq!(r.encoder.codec, codec);
        assert!(r.grid.crf.len() >= 4, "{codec}: a usable CRF range");
        let text = r.to_toml().unwrap();
        let back = Recipe::from_toml_str(&text, "round trip").unwrap();
        assert_eq!(back, r, "{codec} round trip:\n{text}");
        // Serialization is deterministic.
        assert_eq!(back.to_toml().unwrap(), text);
    }
    // Every optional field set survives the round trip too.
    let full = format!(
        "{MINIMAL}sizes = [\"1280x720\", \"640x360\"]\nfps_cap = 30.0\n\
         [scaling]\ndown = \"lanczos\"\nup = \"bilinear\"\n\
         [scoring]\nmodel = \"vmaf_4k_v0.6.1\"\nphone = true\nmetrics = [\"vmaf\"]\npooling = \"harmonic_mean\"\n\
         [ladder]\nstep = 5.0\nquality_cap = 93.0\nmin_quality = 30.0\nmin_kbps = 150.0\nmax_kbps = 9000.0\n\
         max_rungs = 7\nmin_ratio = 1.4\nmax_ratio = 2.2\nmin_height = 270\nrate_control = \"capped_crf\"\n\
         maxrate_factor = 1.5\nbufsize_factor = 3.0\nkeyint_seconds = 4.0\n"
    )
    .replace(
        "codec = \"libx264\"\n",
        "codec = \"libx264\"\ntune = \"film\"\nlevel = \"4.1\"\nparams = { \"x264-params\" = \"aq-mode=3\" }\n",
    );
    let r = parse(&full).unwrap();
    assert_eq!(r.encoder.params["x264-params"], "aq-mode=3");
    assert_eq!(r.ladder.max_rungs, 7);
    assert_eq!(parse(&r.to_toml().unwrap()).unwrap(), r);

    let x264 = Recipe::default_for("libx264").unwrap();
    assert_eq!(x264.grid.crf, vec![20.0, 24.0, 28.0, 32.0, 36.0, 40.0]);
    assert_eq!(x264.encoder.preset.as_deref(), Some("medium"));
    assert_eq!(x264.ladder.step(), 6.0);
    assert_eq!(x264.ladder.quality_cap(), 95.0);
    assert_eq!(x264.ladder.rate_control, RungRateControl::TwoPassVbr);
    assert_eq!(x264.scaling.up, ScalerKind::Bicubic);
    assert!(x264.grid.sizes.is_none());
}

#[test]
fn recipe_files_on_disk_match_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    for (file, codec) in [
        ("x264.toml", "libx264"),
        ("x265.toml", "libx265"),
        ("vp9.toml", "libvpx-vp9"),
        ("svtav1.toml", "libsvtav1"),
    ] {
        let r = Recipe::from_file(&dir.join(file)).unwrap();
        assert_eq!(r, Recipe::default_for(codec).unwrap());
    }
}

#[test]
fn minimal_recipe_gets_defaults() {
    let r = parse(MINIMAL).unwrap();
    assert_eq!(r.scoring.model, "vmaf_v0.6.1");
    assert_eq!(
        r.scoring.metrics,
        vec![Metric::Vmaf, Metric::PsnrY, Metric::Ssim]
    );
    assert_eq!(r.ladder.min_ratio, 1.5);
    assert_eq!(r.ladder.max_ratio, 2.0);
    assert_eq!(r.ladder.maxrate_factor, 2.0);
    assert_eq!(r.ladder.keyint_seconds, 2.0);
    // Metric-dependent defaults.
    let p = parse(&format!("{MINIMAL}[ladder]\nmetric = \"psnr_y\"\n")).unwrap();
    assert_eq!(p.ladder.step(), 1.5);
    assert_eq!(p.ladder.quality_cap(), 45.0);
}

#[test]
fn unknown_codec_has_no_default_recipe() {
    let (field, origin, value, msg) = config_parts(Recipe::default_for("libfoo"));
    assert_eq!(field, Field::recipe("encoder.codec"));
    assert_eq!(origin, Origin::Caller);
    assert_eq!(value, "libfoo");
    assert!(msg.contains("libfoo") && !msg.contains("--"), "{msg}");
}

#[test]
fn unknown_keys_are_named() {
    for (text, key, word) in [
        (format!("colour = 1\n{MINIMAL}"), "colour", "colour"),
        (format!("{MINIMAL}colour = 1\n"), "grid.colour", "colour"),
        (
            "[encoder]\ncodec = \"libx264\"\npresett = \"fast\"\n[grid]\ncrf = [20]\n".to_string(),
            "encoder.presett",
            "presett",
        ),
        (
            format!("{MINIMAL}[ladder]\nmax_rung = 3\n"),
            "ladder.max_rung",
            "max_rung",
        ),
        (
            format!("{MINIMAL}[scaling]\nsideways = \"bicubic\"\n"),
            "scaling.sideways",
            "sideways",
        ),
        (format!("{MINIMAL}[extra]\na = 1\n"), "extra", "extra"),
    ] {
        let (k, msg) = config_err(parse(&text));
        assert_eq!(k, key, "{text}: {msg}");
        assert!(msg.contains(word), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert!(msg.contains("test.toml"), "names the file: {msg}");
    }
}

#[test]
fn wrong_types_and_values_are_named() {
    let cases = [
        ("[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = \"abc\"\n", "grid.crf", "string"),
        ("[encoder]\ncodec = 264\n[grid]\ncrf = [20]\n", "encoder.codec", "integer"),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20]\n[scaling]\ndown = \"blurry\"\n",
            "scaling.down",
            "blurry",
        ),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20]\n[scoring]\npooling = \"average\"\n",
            "scoring.pooling",
            "average",
        ),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20]\n[scoring]\npooling = \"p7\"\n",
            "scoring.pooling",
            "p7",
        ),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20]\n[ladder]\nrate_control = \"cbr\"\n",
            "ladder.rate_control",
            "cbr",
        ),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20]\nsizes = [\"1280by720\"]\n",
            "grid.sizes",
            "1280by720",
        ),
        ("[grid]\ncrf = [20]\n", "encoder", "missing"),
        (
            "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [\n  20,\n  \"x\",\n]\n",
            "grid.crf",
            "string",
        ),
        ("[encoder]\ncodec = \"libx264\"\n[grid]\nsizes = [\"640x360\"]\n", "grid.crf", "missing"),
    ];
    for (text, key, word) in cases {
        let (k, msg) = config_err(parse(text));
        assert_eq!(k, key, "{text}: {msg}");
        assert!(msg.contains(word), "{text}: {msg}");
    }
    // Not TOML at all.
    let (_, msg) = config_err(parse("this is not = = toml"));
    assert!(msg.contains("test.toml"), "{msg}");
}

#[test]
fn empty_lists_are_errors() {
    let (k, msg) = config_err(parse("[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = []\n"));
    assert_eq!(k, "grid.crf");
    assert!(msg.contains("empty"), "{msg}");
    let (k, _) = config_err(parse(&format!("{MINIMAL}sizes = []\n")));
    assert_eq!(k, "grid.sizes");
    let (k, _) = config_err(parse(&format!("{MINIMAL}[scoring]\nmetrics = []\n")));
    assert_eq!(k, "scoring.metrics");
}

#[test]
fn crf_ranges_per_encoder() {
    for (codec, ok_lo, ok_hi, bad) in [
        ("libx264", 0.0, 51.0, [-1.0, 52.0]),
        ("libx265", 0.0, 51.0, [-0.5, 51.5]),
        ("libvpx-vp9", 0.0, 63.0, [-1.0, 64.0]),
        ("libsvtav1", 1.0, 63.0, [0.0, 64.0]),
        ("libaom-av1", 0.0, 63.0, [-1.0, 64.0]),
    ] {
        let text = |c: f64| format!("[encoder]\ncodec = \"{codec}\"\n[grid]\ncrf = [{c:?}]\n");
        parse(&text(ok_lo)).unwrap_or_else(|e| panic!("{codec} {ok_lo}: {e}"));
        parse(&text(ok_hi)).unwrap_or_else(|e| panic!("{codec} {ok_hi}: {e}"));
        for b in bad {
            let (k, msg) = config_err(parse(&text(b)));
            assert_eq!(k, "grid.crf");
            assert!(
                msg.contains(&format!("{b}")) && msg.contains(codec),
                "{msg}"
            );
        }
    }
    // Integer-only encoders reject fractional CRFs; duplicates are rejected.
    let (k, _) = config_err(parse(
        "[encoder]\ncodec = \"libvpx-vp9\"\n[grid]\ncrf = [30.5]\n",
    ));
    assert_eq!(k, "grid.crf");
    let (_, msg) = config_err(parse(
        "[encoder]\ncodec = \"libx264\"\n[grid]\ncrf = [20, 20]\n",
    ));
    assert!(msg.contains("twice"), "{msg}");
}

#[test]
fn sizes_zero_odd_and_above_source() {
    let with_sizes = |s: &str| format!("{MINIMAL}sizes = [{s}]\n");
    let (k, msg) = config_err(parse(&with_sizes("\"0x720\"")));
    assert_eq!(k, "grid.sizes");
    assert!(msg.contains("0x720"), "{msg}");
    let (k, msg) = config_err(parse(&with_sizes("\"641x360\"")));
    assert_eq!(k, "grid.sizes");
    assert!(msg.contains("641x360"), "{msg}");
    let r = parse(&with_sizes("\"640x360\", \"1280x720\", \"960x540\"")).unwrap();
    assert_eq!(
        r.resolve(1280, 720).unwrap(),
        vec![
            Size::new(1280, 720),
            Size::new(960, 540),
            Size::new(640, 360)
        ]
    );
    let (k, msg) = config_err(r.resolve(960, 540));
    assert_eq!(k, "grid.sizes");
    assert!(msg.contains("1280x720") && msg.contains("960x540"), "{msg}");
}

#[test]
fn default_sizes_follow_the_standard_ladder() {
    let s = default_sizes(1920, 1080);
    let want: Vec<Size> = [
        (1920, 1080),
        (1280, 720),
        (960, 540),
        (768, 432),
        (640, 360),
        (480, 270),
        (416, 234),
    ]
    .iter()
    .map(|&(w, h)| Size::new(w, h))
    .collect();
    assert_eq!(s, want);
    // 4:3 source: widths follow its aspect ratio, never above the source, all even.
    let s = default_sizes(640, 480);
    assert_eq!(s[0], Size::new(640, 480));
    assert_eq!(s[1], Size::new(576, 432));
    assert_eq!(s[2], Size::new(480, 360));
    assert!(s.iter().all(|z| z.width % 2 == 0 && z.height % 2 == 0));
    let r = parse(MINIMAL).unwrap();
    assert_eq!(r.resolve(1920, 1080).unwrap(), want);
}

#[test]
fn ladder_constraints_are_checked() {
    for (ladder, key) in [
        ("min_ratio = 0.9", "ladder.min_ratio"),
        ("min_ratio = 1.8\nmax_ratio = 1.6", "ladder.max_ratio"),
        ("max_rungs = 0", "ladder.max_rungs"),
        ("step = -6.0", "ladder.step"),
        ("quality_cap = 120.0", "ladder.quality_cap"),
        ("min_kbps = 5000.0\nmax_kbps = 1000.0", "ladder.min_kbps"),
        ("min_height = 0", "ladder.min_height"),
        ("keyint_seconds = 0.0", "ladder.keyint_seconds"),
        ("maxrate_factor = 0.5", "ladder.maxrate_factor"),
        (
            "metric = \"ssim\"\nquality_cap = 95.0",
            "ladder.quality_cap",
        ),
        ("min_quality = 96.0", "ladder.min_quality"),
    ] {
        let (k, msg) = config_err(parse(&format!("{MINIMAL}[ladder]\n{ladder}\n")));
        assert_eq!(k, key, "{ladder}: {msg}");
    }
}

#[test]
fn overrides_apply_and_are_validated_by_option_name() {
    let mut r = Recipe::default_for("libx264").unwrap();
    let o = RecipeOverrides {
        preset: Some("veryfast".into()),
        sizes: Some(Size::parse_list("1280x720,960x540", "--sizes").unwrap()),
        crf: Some(parse_crf_list("22,27,32", "--crf").unwrap()),
        max_rungs: Some(4),
        min_kbps: Some(300.0),
        rate_control: Some(RungRateControl::CappedCrf),
        ..Default::default()
    };
    r.apply(&o).unwrap();
    assert_eq!(r.encoder.preset.as_deref(), Some("veryfast"));
    assert_eq!(r.grid.crf, vec![22.0, 27.0, 32.0]);
    assert_eq!(r.grid.sizes.as_ref().unwrap().len(), 2);
    assert_eq!(r.ladder.max_rungs, 4);
    assert_eq!(r.ladder.min_kbps, Some(300.0));
    assert_eq!(r.ladder.rate_control, RungRateControl::CappedCrf);

    let base = Recipe::default_for("libx264").unwrap();
    let bad = |o: RecipeOverrides| caller_err(base.clone().apply(&o));
    assert_eq!(
        bad(RecipeOverrides {
            crf: Some(vec![20.0, 60.0]),
            ..Default::default()
        }),
        "grid.crf"
    );
    let (_, _, value, _) = config_parts(base.clone().apply(&RecipeOverrides {
        crf: Some(vec![20.0, 60.0]),
        ..Default::default()
    }));
    assert_eq!(value, "60");
    assert_eq!(
        bad(RecipeOverrides {
            crf: Some(vec![]),
            ..Default::default()
        }),
        "grid.crf"
    );
    assert_eq!(
        bad(RecipeOverrides {
            sizes: Some(vec![Size::new(0, 0)]),
            ..Default::default()
        }),
        "grid.sizes"
    );
    assert_eq!(
        bad(RecipeOverrides {
            min_ratio: Some(0.5),
            ..Default::default()
        }),
        "ladder.min_ratio"
    );
    assert_eq!(
        bad(RecipeOverrides {
            max_rungs: Some(0),
            ..Default::default()
        }),
        "ladder.max_rungs"
    );
    // A conflict the overrides create with a recipe value is still the caller's doing.
    assert_eq!(
        bad(RecipeOverrides {
            min_ratio: Some(2.5),
            ..Default::default()
        }),
        "ladder.max_ratio"
    );
    // New codec and CRFs: the CRFs are checked against the new codec's range.
    assert_eq!(
        bad(RecipeOverrides {
            codec: Some("libsvtav1".into()),
            crf: Some(vec![0.0]),
            ..Default::default()
        }),
        "grid.crf"
    );
    // A codec whose range excludes the recipe's CRFs: named by the codec.
    let mut vp9 = base.clone();
    vp9.grid.crf = vec![55.0];
    vp9.apply(&RecipeOverrides {
        codec: Some("libvpx-vp9".into()),
        ..Default::default()
    })
    .unwrap();
    let mut x = vp9.clone();
    let key = caller_err(x.apply(&RecipeOverrides {
        codec: Some("libx264".into()),
        ..Default::default()
    }));
    assert_eq!(key, "encoder.codec");
    assert!(RecipeOverrides {
        codec: Some("libx264".into()),
        ..Default::default()
    }
    .overrides("encoder.codec"));
    assert!(!RecipeOverrides::default().overrides("grid.crf"));

    // The list parsers name the key they are given and keep the value.
    let (field, _, value, msg) = config_parts(parse_crf_list("20,abc", "grid.crf"));
    assert_eq!((field, value.as_str()), (Field::recipe("grid.crf"), "abc"));
    assert!(msg.contains("abc"));
    let (k, msg) = config_err(Size::parse_list("1280x720,wide", "grid.sizes"));
    assert_eq!(k, "grid.sizes");
    assert!(msg.contains("wide"));
    assert!("1280x720".parse::<Size>().is_ok() && "12x".parse::<Size>().is_err());
}

#[test]
fn metric_override_resets_metric_defaults() {
    let mut r = Recipe::default_for("libx264").unwrap();
    r.apply(&RecipeOverrides {
        metric: Some(Metric::PsnrY),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.ladder.metric, Metric::PsnrY);
    assert_eq!(r.ladder.quality_cap(), 45.0);
    assert_eq!(r.ladder.step(), 1.5);
}

#[test]
fn encoder_params_take_scalars_as_text() {
    let with = |p: &str| {
        MINIMAL.replace(
            "codec = \"libx264\"\n",
            &format!("codec = \"libx264\"\nparams = {{ {p} }}\n"),
        )
    };
    let r = parse(&with(
        "\"threads\" = 2, \"x264-params\" = \"aq-mode=3\", \"fastfirstpass\" = true",
    ))
    .unwrap();
    assert_eq!(r.encoder.params["threads"], "2");
    assert_eq!(r.encoder.params["fastfirstpass"], "1");
    assert_eq!(r.encoder.params["x264-params"], "aq-mode=3");
    let (k, msg) = config_err(parse(&with("\"threads\" = [2]")));
    assert_eq!(k, "encoder.params");
    assert!(msg.contains("threads"), "{msg}");
    let (k, _) = config_err(parse(&with("\"-threads\" = 2")));
    assert_eq!(k, "encoder.params.-threads");
}

/// Mutated recipes (bytes dropped, duplicated, replaced, including multi-byte characters) never
/// panic: each is a recipe or a one-line config error. A cheap stand-in between fuzzing runs.
#[test]
fn mutated_recipes_never_panic() {
    let base = Recipe::default_for("libx264").unwrap().to_toml().unwrap();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let pieces = [
        "=",
        "[",
        "]",
        "\"",
        "\n",
        ",",
        "é",
        "\u{1F600}",
        "x",
        "0",
        "-1",
        "{",
        "}",
        "#",
    ];
    let mut ok = 0;
    for _ in 0..3000 {
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..1 + next(4) {
            let at = next(text.len().max(1));
            match next(3) {
                0 if !text.is_empty() => {
                    text.remove(at.min(text.len() - 1));
                }
                1 => {
                    let p: Vec<char> = pieces[next(pieces.len())].chars().collect();
                    for (i, c) in p.into_iter().enumerate() {
                        text.insert((at + i).min(text.len()), c);
                    }
                }
                _ if !text.is_empty() => {
                    let i = at.min(text.len() - 1);
                    text[i] = pieces[next(pieces.len())].chars().next().unwrap();
                }
                _ => {}
            }
        }
        let text: String = text.into_iter().collect();
        match Recipe::from_toml_str(&text, "mutated.toml") {
            Ok(_) => ok += 1,
            Err(e) => {
                let m = e.to_string();
                assert!(!m.contains('\n') && !m.is_empty(), "{m}");
            }
        }
    }
    // Some mutations hit comments or values that stay valid; most must be rejected.
    assert!(ok < 3000);
}
