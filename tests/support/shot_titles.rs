//! Generated titles with known cuts, and cut-free ones, for the shot detector's test and its
//! evaluation example (`examples/shots_eval.rs`): the same content for both, made in-process by
//! libavfilter sources with fixed seeds.
#![allow(dead_code)]

use pertitle::media::lavfi_source;
use pertitle::{Frame, Result};

/// A title: parts played one after another; each boundary between parts is a cut.
pub struct Title {
    pub name: &'static str,
    /// (filter chain making `w`×`h` frames at 24 fps, frames).
    pub parts: Vec<(String, u64)>,
}

impl Title {
    /// The frames where a shot starts (every part but the first).
    pub fn cuts(&self) -> Vec<u64> {
        let mut at = 0;
        let mut cuts = Vec::new();
        for (i, (_, n)) in self.parts.iter().enumerate() {
            if i > 0 {
                cuts.push(at);
            }
            at += n;
        }
        cuts
    }

    /// Its frames in `pix_fmt` (e.g. `yuv420p`, `yuv420p10le`), renumbered from 0.
    pub fn render(&self, w: usize, h: usize, pix_fmt: &str) -> Result<Vec<Frame>> {
        let mut out: Vec<Frame> = Vec::new();
        for (chain, n) in &self.parts {
            let mut src = lavfi_source(&format!("{chain},format={pix_fmt}"), w, h, (24, 1), *n)?;
            while let Some(mut f) = src.next_frame()? {
                f.index = out.len() as u64;
                out.push(f);
            }
        }
        Ok(out)
    }
}

fn mandel(s: &str, x: f64, y: f64, scale: f64) -> String {
    format!("mandelbrot=s={s}:r=24:maxiter=96:start_x={x}:start_y={y}:start_scale={scale}:end_scale={scale}:outer=normalized_iteration_count:inner=mincol")
}

/// Titles with cuts: different sources, and cuts between similar shots (the same source at
/// another offset, seed, colour or speed).
pub fn cut_titles(w: usize, h: usize) -> Vec<Title> {
    let s = format!("{w}x{h}");
    let n = 24;
    let seg = |c: String| (c, n);
    vec![
        Title {
            name: "mixed sources",
            parts: vec![
                seg(format!("testsrc2=s={s}:r=24")),
                seg(mandel(&s, -0.743643887, 0.131825904, 0.03)),
                seg(format!("gradients=s={s}:r=24:c0=0x1a3a6b:c1=0xd89a5c:speed=0.02:seed=7")),
                seg(format!("cellauto=s={s}:r=24:rule=110:seed=3:random_fill_ratio=0.5")),
                seg(format!("smptebars=s={s}:r=24")),
                seg(format!("life=s={s}:r=24:seed=5:ratio=0.2:mold=8:life_color=0x00ff80:death_color=0x202020:mold_color=0x404000,trim=start_frame=24")),
                seg(format!("color=c=0x3050a0:s={s}:r=24,noise=alls=30:allf=t+u:all_seed=9")),
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=0.01:vertical=0.005")),
            ],
        },
        Title {
            name: "moving sources",
            parts: vec![
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=0.02")),
                seg(format!("{},scroll=horizontal=0.004:vertical=0.002", mandel(&s, -0.75, 0.1, 0.05))),
                seg(format!("gradients=s={s}:r=24:c0=0x6b5a3a:c1=0x3a5a6b:speed=0.05:seed=11,noise=alls=25:allf=t+u:all_seed=3")),
                seg(format!("testsrc2=s={s}:r=24,zoompan=z='1+0.01*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s={s}:fps=24")),
                seg(format!("cellauto=s={s}:r=24:rule=30:seed=8:random_fill_ratio=0.3")),
                seg(format!("smptehdbars=s={s}:r=24,noise=alls=20:allf=t+u:all_seed=4")),
            ],
        },
        Title {
            name: "cuts between pans",
            parts: vec![
                seg(format!("{},scroll=horizontal=0.015", mandel(&s, -0.743643887, 0.131825904, 0.03))),
                seg(format!("{},scroll=horizontal=-0.015:vertical=0.01", mandel(&s, -0.7436, 0.1318, 0.02))),
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=0.02:vertical=0.01")),
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=-0.02:hpos=0.5")),
                seg(format!("{},scroll=vertical=0.02", mandel(&s, -0.75, 0.1, 0.05))),
            ],
        },
        Title {
            name: "similar shots",
            parts: vec![
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=0.01")),
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=0.01:hpos=0.35")),
                seg(format!("testsrc2=s={s}:r=24,scroll=horizontal=-0.01:vpos=0.4")),
                seg(mandel(&s, -0.743643887, 0.131825904, 0.03)),
                seg(mandel(&s, -0.743643887, 0.131825904, 0.06)),
                seg(mandel(&s, -0.7436, 0.1318, 0.01)),
                seg(format!("gradients=s={s}:r=24:c0=0x1a3a6b:c1=0xd89a5c:speed=0.02:seed=7")),
                seg(format!("gradients=s={s}:r=24:c0=0x1a3a6b:c1=0xd89a5c:speed=0.02:seed=8")),
                seg(format!("life=s={s}:r=24:seed=5:ratio=0.2:mold=8:life_color=0x00ff80:death_color=0x202020:mold_color=0x404000,trim=start_frame=24")),
                seg(format!("life=s={s}:r=24:seed=6:ratio=0.2:mold=8:life_color=0x00ff80:death_color=0x202020:mold_color=0x404000,trim=start_frame=24")),
                seg(format!("color=c=0x804020:s={s}:r=24")),
                seg(format!("color=c=0x905030:s={s}:r=24")),
                seg(format!("smptebars=s={s}:r=24")),
                seg(format!("smptehdbars=s={s}:r=24")),
                seg(format!("cellauto=s={s}:r=24:rule=110:seed=3:random_fill_ratio=0.5")),
                seg(format!("cellauto=s={s}:r=24:rule=110:seed=4:random_fill_ratio=0.5")),
            ],
        },
    ]
}

/// Cut-free titles (one part each): pans, zooms, fades, a dissolve, grain, flashes.
pub fn cut_free_titles(w: usize, h: usize) -> Vec<Title> {
    let s = format!("{w}x{h}");
    let wide = format!("{}x{h}", 2 * w);
    let n = 72;
    let one = |name, c: String| Title {
        name,
        parts: vec![(c, n)],
    };
    let m = mandel(&s, -0.743643887, 0.131825904, 0.03);
    vec![
        one("slow pan", format!("{m},scroll=horizontal=0.003:vertical=0.001")),
        one("fast pan", format!("testsrc2=s={s}:r=24,scroll=horizontal=0.02:vertical=0.01")),
        one("fast pan, detail", format!("{m},scroll=horizontal=0.015")),
        one("crop pan", format!("{},crop=w={w}:h={h}:x='n*{}':y=0", mandel(&wide, -0.75, 0.1, 0.05), w / 40)),
        one("zoom in", format!("testsrc2=s={s}:r=24,zoompan=z='1+0.01*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s={s}:fps=24")),
        one("mandelbrot zoom", format!("mandelbrot=s={s}:r=24:maxiter=96:start_x=-0.743643887:start_y=0.131825904:start_scale=0.5:end_scale=0.01:end_pts=3:outer=normalized_iteration_count:inner=mincol")),
        one("fade in and out", format!("{m},fade=t=in:st=0:d=1,fade=t=out:st=1.8:d=1")),
        one("fast fades", format!("testsrc2=s={s}:r=24,fade=t=out:st=0.5:d=0.5,fade=t=in:st=1.2:d=0.5:color=white")),
        one("dissolve", format!("testsrc2=s={s}:r=24[a];{m}[b];[a][b]xfade=transition=fade:duration=1:offset=1")),
        one("heavy grain", format!("gradients=s={s}:r=24:c0=0x6b5a3a:c1=0x3a5a6b:speed=0.01:seed=11,noise=alls=60:allf=t+u:all_seed=42")),
        one("grain on detail", format!("{m},noise=alls=40:allf=t+u:all_seed=43")),
        one("flashes", format!("testsrc2=s={s}:r=24,lutyuv=y=235:enable='eq(n,20)+eq(n,45)'")),
    ]
}

/// (true cuts found within ±1 frame, false cuts): each true cut matches at most one detection.
pub fn match_cuts(truth: &[u64], found: &[u64]) -> (usize, usize) {
    let mut used = vec![false; found.len()];
    let mut hits = 0;
    for &t in truth {
        if let Some(i) = (0..found.len()).find(|&i| !used[i] && found[i].abs_diff(t) <= 1) {
            used[i] = true;
            hits += 1;
        }
    }
    (hits, used.iter().filter(|u| !**u).count())
}
