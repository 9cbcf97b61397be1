//! `ferroprom test rules FILE...`: `promtool test rules`, with its output
//! and exit status (0 when every test of every file passed, 1 otherwise).
//! Per file `  SUCCESS`, or `  FAILED:` and each failure on stderr (each
//! followed by an empty line on stdout, as promtool splits them).

use std::io::{self, Write};

use regex::Regex;

use crate::flags::TestRulesArgs;
use crate::rules::rule_file::check::{EXIT_FAILURE, EXIT_SUCCESS};
use crate::rules::unittest::{run_file, RunOptions};

/// Runs the unit-test files of `args`; the exit status.
pub fn rules(args: &TestRulesArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<i32> {
    // Several `--run` patterns: a group runs when any of them matches.
    let run = if args.run.is_empty() {
        None
    } else {
        match Regex::new(&args.run.join("|")) {
            Ok(re) => Some(re),
            Err(e) => {
                writeln!(err, "invalid --run pattern: {e}")?;
                return Ok(EXIT_FAILURE);
            }
        }
    };
    let opts = RunOptions {
        run,
        debug: args.debug,
        diff: args.diff,
        ignore_unknown_fields: args.ignore_unknown_fields,
    };
    let mut status = EXIT_SUCCESS;
    for file in &args.files {
        let errors = run_file(file, &opts, err)?;
        if errors.is_empty() {
            writeln!(out, "  SUCCESS")?;
        } else {
            writeln!(err, "  FAILED:")?;
            for e in errors {
                writeln!(err, "{e}")?;
                writeln!(out)?;
            }
            status = EXIT_FAILURE;
        }
        writeln!(out)?;
    }
    Ok(status)
}
