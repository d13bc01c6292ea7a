//! ip-detect-run: runs the operator's ip-detect script under a timeout and
//! prints the one address it reports (see docs/ip-detect-run.md).

mod args;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tarmac_detect::{DetectOptions, Family};

use args::{Args, FamilyArg};

fn main() -> ExitCode {
    let args = Args::parse();
    let options = DetectOptions {
        script: args.script,
        timeout: Duration::from_secs(args.timeout),
        family: match args.family {
            FamilyArg::Four => Family::V4,
            FamilyArg::Six => Family::V6,
        },
        require_local: !args.no_require_local,
        pin: args.pin,
    };
    let json = args.json;
    let script = options.script.clone();
    let mut leftovers = |left: &[tarmac_detect::Leftover]| {
        let list: Vec<String> = left
            .iter()
            .map(|l| format!("{} ({})", l.pid, l.command))
            .collect();
        eprintln!(
            "ip-detect-run: warning: {}: the script exited but left {} process(es) in its process group; killed: {}",
            script.display(),
            left.len(),
            list.join(", ")
        );
    };
    let result = tarmac_detect::detect(&options, &mut leftovers).map(|detected| {
        if json {
            tarmac_cli::print_json(&detected);
        } else {
            tarmac_cli::print_lines([detected.address]);
        }
    });
    tarmac_cli::finish("ip-detect-run", result)
}
