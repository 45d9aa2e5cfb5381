//! `pertitle bdrate A B`: BD-rate of B against A.

use super::args::{BdrateArgs, Cli};
use super::UsageError;
use anyhow::Result;
use pertitle::bdrate::{self, Method};
use pertitle::Metric;

pub fn run(cli: &Cli, a: &BdrateArgs) -> Result<()> {
    let metric = Metric::parse(&a.metric).ok_or_else(|| {
        UsageError(format!(
            "--metric: expected vmaf, psnr or ssim, got {:?}",
            a.metric
        ))
    })?;
    let method = Method::parse(&a.method).ok_or_else(|| {
        UsageError(format!(
            "--method: expected pchip or cubic, got {:?}",
            a.method
        ))
    })?;
    let r = bdrate::bd_rate_files(&a.a, &a.b, metric, method)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if !cli.quiet {
        print!("{}", r.summary());
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
