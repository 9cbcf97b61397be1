//! What the config tests share: loading text that must fail, and checking
//! that the error names the key, the problem and the line.

use super::parse_str;

/// The error loading `text` gives; panics if it loads.
pub(super) fn err(text: &str) -> String {
    match parse_str(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The error names `key`, says `what` and points at `line`.
pub(super) fn assert_err(text: &str, key: &str, what: &str, line: usize) {
    let e = err(text);
    assert!(e.contains(key), "missing key {key:?} in: {e}");
    assert!(e.contains(what), "missing {what:?} in: {e}");
    assert!(
        e.contains(&format!("(line {line})")),
        "missing line {line} in: {e}"
    );
}
