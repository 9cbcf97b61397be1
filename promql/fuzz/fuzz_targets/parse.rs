//! `cargo +nightly fuzz run parse`: the parser must never panic, and every
//! query it accepts must print to a query that parses to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = promql::parse(query) {
        let printed = expr.to_string();
        let again = promql::parse(&printed)
            .unwrap_or_else(|e| panic!("{query:?} printed as {printed:?}, which fails: {e}"));
        // NaN literals are never equal to themselves; compare their Debug form.
        assert_eq!(
            format!("{again:?}"),
            format!("{expr:?}"),
            "{query:?} printed as {printed:?}"
        );
    }
});
