//! `pertitle bdrate A B`: BD-rate of B against A.

use super::args::{BdrateArgs, Cli};
use anyhow::Result;
use pertitle::bdrate;

pub fn run(cli: &Cli, a: &BdrateArgs) -> Result<()> {
    let r = bdrate::bd_rate_files(&a.a, &a.b, a.metric, a.method.into())?;
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
