//! `pertitle probe`: the stream facts of an input.

use super::args::{Cli, ProbeArgs};
use super::common::input_options;
use anyhow::Result;
use pertitle::media;

pub fn run(_cli: &Cli, a: &ProbeArgs) -> Result<()> {
    let info = media::probe(&a.input, &input_options(&a.raw, false))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("file        {}", info.path.display());
    println!("codec       {}", info.codec);
    println!("size        {}x{}", info.width, info.height);
    println!(
        "frame rate  {}/{} ({:.3} fps)",
        info.fps_num,
        info.fps_den,
        info.fps()
    );
    println!("frames      {}", info.frames);
    println!("duration    {:.3} s", info.duration_s);
    println!(
        "pix_fmt     {} ({}-bit {:?})",
        info.pix_fmt, info.format.bit_depth, info.format.chroma
    );
    Ok(())
}
