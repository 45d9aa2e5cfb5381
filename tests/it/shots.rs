//! Shot detection: cuts found on generated titles with known cuts, none on cut-free material
//! (pans, zooms, fades, a dissolve, grain, flashes), 10-bit input, determinism, and the
//! `Shots` file formats.

#[path = "../support/shot_titles.rs"]
mod shot_titles;

use pertitle::shots::{Cut, ShotDetector, ShotSettings, Shots};
use pertitle::{Chroma, Frame, FrameFormat};
use shot_titles::{cut_free_titles, cut_titles, match_cuts};

const W: usize = 320;
const H: usize = 180;

fn detect(frames: &[Frame], settings: &ShotSettings) -> Shots {
    let mut d = ShotDetector::new(settings, frames[0].format).expect("detector");
    for f in frames {
        d.push(f).expect("push");
    }
    d.finish()
}

fn cut_frames(s: &Shots) -> Vec<u64> {
    s.cuts.iter().map(|c| c.frame).collect()
}

/// ≥ 95 % of the known cuts within ±1 frame, and ≤ 5 % false cuts: detections matching no cut
/// (in the cut titles) or in the cut-free titles (72 frames each), over the number of cut-free
/// stretches, i.e. every shot of the cut titles plus every cut-free title.
#[test]
fn finds_cuts_and_not_motion_fades_or_grain() {
    let s = ShotSettings::default();
    let (mut truth, mut hits, mut false_cuts, mut stretches) = (0, 0, 0, 0);
    for t in cut_titles(W, H) {
        let found = cut_frames(&detect(&t.render(W, H, "yuv420p").expect("render"), &s));
        let (h, f) = match_cuts(&t.cuts(), &found);
        eprintln!("{}: truth {:?} found {found:?}", t.name, t.cuts());
        truth += t.cuts().len();
        stretches += t.parts.len();
        hits += h;
        false_cuts += f;
    }
    let free = cut_free_titles(W, H);
    stretches += free.len();
    for t in &free {
        let found = cut_frames(&detect(&t.render(W, H, "yuv420p").expect("render"), &s));
        if !found.is_empty() {
            eprintln!("{}: false cuts {found:?}", t.name);
        }
        false_cuts += found.len();
    }
    eprintln!("recall {hits}/{truth}, false cuts {false_cuts} over {stretches} cut-free stretches");
    assert!(hits * 100 >= truth * 95, "recall {hits}/{truth} below 95 %");
    assert!(
        false_cuts * 100 <= stretches * 5,
        "{false_cuts} false cuts over {stretches} cut-free stretches"
    );
}

/// 10-bit frames give the same cuts as the same content in 8 bit, and a second run gives
/// bit-identical scores.
#[test]
fn ten_bit_and_deterministic() {
    let t = &cut_titles(W, H)[0];
    let s = ShotSettings::default();
    let eight = detect(&t.render(W, H, "yuv420p").expect("render"), &s);
    let ten_frames = t.render(W, H, "yuv420p10le").expect("render 10-bit");
    assert_eq!(ten_frames[0].format.bit_depth, 10);
    let ten = detect(&ten_frames, &s);
    assert_eq!(cut_frames(&ten), cut_frames(&eight));
    assert_eq!(cut_frames(&ten), t.cuts());
    let again = detect(&ten_frames, &s);
    let bits = |s: &Shots| s.cuts.iter().map(|c| c.score.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&again), bits(&ten));
    assert_eq!(again, ten);
}

fn sample() -> Shots {
    Shots {
        frames: 100,
        cuts: vec![
            Cut {
                frame: 10,
                score: 0.1 + 0.2,
            },
            Cut {
                frame: 42,
                score: std::f64::consts::PI * 1e7,
            },
        ],
        settings: ShotSettings::default(),
    }
}

#[test]
fn shots_csv_and_json() {
    let s = sample();
    let shots = s.shots();
    assert_eq!(shots.len(), 3);
    assert_eq!(
        (shots[0].start, shots[0].frames, shots[0].score),
        (0, 10, 0.0)
    );
    assert_eq!((shots[1].start, shots[1].frames), (10, 32));
    assert_eq!((shots[2].start, shots[2].frames), (42, 58));
    assert_eq!(shots[2].score.to_bits(), s.cuts[1].score.to_bits());
    assert_eq!(shots.iter().map(|x| x.frames).sum::<u64>(), 100);

    let csv = s.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "start,frames,score");
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1], "0,10,0");
    let score: f64 = lines[2].split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(score.to_bits(), (0.1f64 + 0.2).to_bits());

    let json = s.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["frames"], 100);
    assert_eq!(v["shots"][1]["start"], 10);
    assert!(v["settings"].is_object());
    let back = Shots::from_json(&json).expect("round trip");
    assert_eq!(back, s);
    for (a, b) in back.cuts.iter().zip(&s.cuts) {
        assert_eq!(a.score.to_bits(), b.score.to_bits());
    }

    // No cuts, and an empty title.
    let one = Shots {
        frames: 5,
        cuts: vec![],
        settings: ShotSettings::default(),
    };
    assert_eq!(one.shots().len(), 1);
    assert_eq!(Shots::from_json(&one.to_json()).unwrap(), one);
    let empty = Shots { frames: 0, ..one };
    assert!(empty.shots().is_empty());
    assert_eq!(empty.to_csv(), "start,frames,score\n");
    assert_eq!(Shots::from_json(&empty.to_json()).unwrap(), empty);
}

#[test]
fn bad_input_is_an_error() {
    // Shots that do not tile the title, unknown fields, broken settings.
    let json = sample().to_json();
    for bad in [
        json.replace("\"frames\": 100", "\"frames\": 101"),
        json.replace("\"start\": 10", "\"start\": 11"),
        json.replace("\"threshold\"", "\"treshold\""),
        json.replace("\"window\": 2", "\"window\": 0"),
        "{".to_string(),
    ] {
        assert!(Shots::from_json(&bad).is_err(), "accepted {bad}");
    }
    let fmt = FrameFormat::new(64, 36, Chroma::Yuv420, 8);
    let bad = ShotSettings {
        threshold: f64::NAN,
        ..ShotSettings::default()
    };
    assert!(ShotDetector::new(&bad, fmt).is_err());
    let mut d = ShotDetector::new(&ShotSettings::default(), fmt).unwrap();
    d.push(&Frame::new(fmt, 5)).unwrap();
    assert!(d.push(&Frame::new(fmt, 5)).is_err(), "frame order");
    let other = FrameFormat::new(64, 36, Chroma::Yuv420, 10);
    assert!(d.push(&Frame::new(other, 6)).is_err(), "format");
    d.push(&Frame::new(fmt, 6)).unwrap();
    let s = d.finish();
    assert_eq!(s.frames, 7);
    assert!(s.cuts.is_empty());
}
