//! Unit tests of the conformance runner's script parser and result
//! comparison (the runner itself is a harness-less binary, so its `#[test]`
//! functions run from here).

#[allow(dead_code)]
#[path = "compare.rs"]
mod compare;
#[allow(dead_code)]
#[path = "script.rs"]
mod script;
