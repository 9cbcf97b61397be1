//! Fuzz target for the PromQL parser: any text either fails to parse with
//! an error or parses to a tree whose canonical form (and indented form)
//! parses back to the same canonical form. Runs for `FERROPROM_FUZZ_SECONDS`
//! (see `docs/fuzzing.md`).

#[path = "../../storage/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{corpus_dir, fuzz};

/// The canonical form of `text`, or `None` when it does not parse.
fn canonical(text: &str) -> Option<String> {
    promql::parse(text).ok().map(|e| e.to_string())
}

fn check(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = promql::parse_metric_selector(&text);
    let Ok(expr) = promql::parse(&text) else {
        return;
    };
    let printed = expr.to_string();
    let again = promql::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} prints as {printed:?}, which does not parse: {e}"));
    assert_eq!(
        again.to_string(),
        printed,
        "printing {text:?} is not stable"
    );
    let pretty = promql::pretty(&expr);
    assert_eq!(
        canonical(&pretty).as_deref(),
        Some(printed.as_str()),
        "the indented form of {text:?} means something else:\n{pretty}"
    );
}

#[test]
fn fuzz_promql_parse() {
    // The expressions of the repository's PromQL test files are seeds too.
    let tests = corpus_dir("promql")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("promql");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(tests).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let line = line.trim_start();
            if let Some(rest) = line.strip_prefix("eval") {
                // `eval[_fail|_warn] instant at <time> <expr>` and range forms.
                if let Some(at) = rest.find(" at ") {
                    let tail = &rest[at + 4..];
                    let expr = tail.split_once(' ').map_or("", |(_, e)| e);
                    let expr = expr.rsplit_once(" step ").map_or(expr, |(e, _)| e);
                    seeds.push(expr.as_bytes().to_vec());
                }
            }
        }
    }
    fuzz("promql", seeds, check);
}
